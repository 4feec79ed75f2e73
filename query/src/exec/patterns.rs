//! `pattern`, `diff`, `logcompare`: log templates mined from text. Two steps, so the answer does
//! not depend on the order events arrive in (threads, pieces):
//!
//! 1. Each text becomes a *signature* (see [`signature`]): split into tokens at blanks and
//!    around punctuation, with tokens that are obviously variable (times, IP addresses,
//!    numbers, identifiers) replaced by their type, and a JSON object's members in key order.
//!    Signatures are counted like stats groups.
//! 2. The distinct signatures, in the stats' group order (by a hash each starts with: the same
//!    on every path), merge Drain-style as they come ([`Miner`]): same token count, same first token, at least half
//!    the tokens equal; the positions that differ become `<Token>` (or keep their type if both
//!    sides had it). Only the templates are held.
//!
//! A template shows its variable tokens as `<Type-N>`, numbered from 1 in each template.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::hash::Hasher as _;

use crate::fx_hash::FxHasher;

use crate::value::Value;

/// Marks a variable token in a signature (never in text a user would write).
const VARIABLE: char = '\u{1}';
/// A token that differs between signatures merged into one template.
const TOKEN: &str = "\u{1}Token";
/// Separates tokens: blank before the next token, or none.
const BLANK: char = '\u{2}';
const GLUED: char = '\u{3}';

/// Tokens: (glued to the one before, text or `VARIABLE` + type).
type Tokens = Vec<(bool, String)>;

/// Merged templates share at least this share of their tokens.
const SIMILARITY: f64 = 0.5;

/// Templates of one token count and first token at most: past it, a signature joins the most
/// similar one, so the miner's time and memory stay bounded on text that never repeats.
const TEMPLATES_PER_BUCKET: usize = 64;

/// The signature of `text` (see the module docs). A JSON object's members are put in key order
/// first (at every depth), so the same event written with its keys in another order has the
/// same signature.
pub fn signature(text: &str) -> String {
    let canonical;
    let trimmed = text.trim();
    let text = if trimmed.starts_with('{') && trimmed.ends_with('}') {
        canonical = sorted_members(trimmed);
        canonical.as_str()
    } else {
        text
    };
    let mut out = String::with_capacity(text.len() / 2 + 8 + HASH_LETTERS);
    // Room for the hash, written once the rest is known.
    out.push_str(&"a".repeat(HASH_LETTERS));
    for_each_token(text, |glued, token| {
        out.push(if glued { GLUED } else { BLANK });
        match kind_of(token) {
            Some(kind) => {
                out.push(VARIABLE);
                out.push_str(kind);
            }
            // The signature's own marks (bytes 1–3) cannot come from the text.
            None if token.bytes().any(|b| (1..=3).contains(&b)) => {
                out.extend(token.chars().map(|c| {
                    if ('\u{1}'..='\u{3}').contains(&c) {
                        '\u{fffd}'
                    } else {
                        c
                    }
                }));
            }
            None => out.push_str(token),
        }
    });
    let mut hasher = FxHasher::default();
    hasher.write(&out.as_bytes()[HASH_LETTERS..]);
    let letters = hash_letters(hasher.finish());
    out.replace_range(..HASH_LETTERS, &letters);
    out
}

/// A signature starts with its body's hash as this many letters (`a`–`p`, a nibble each), so
/// signatures sort by the hash first: a fixed order that does not depend on the input, and one
/// that compares a few bytes where the bodies share long beginnings (JSON lines do).
const HASH_LETTERS: usize = 16;

fn hash_letters(hash: u64) -> String {
    (0..HASH_LETTERS)
        .map(|i| char::from(b'a' + ((hash >> (60 - 4 * i)) & 0xf) as u8))
        .collect()
}

/// A signature without its hash.
fn body(signature: &str) -> &str {
    signature.get(HASH_LETTERS..).unwrap_or_default()
}

/// `object` (`{…}`) with its members sorted by their text (so by key), and the objects inside
/// them too. Text that is not well-formed comes back as it is from where it goes wrong.
fn sorted_members(object: &str) -> String {
    let mut out = String::with_capacity(object.len());
    let mut at = 0;
    sort_object(object, &mut at, &mut out, 0);
    out.push_str(object.get(at..).unwrap_or_default());
    out
}

/// Objects nest at most this deep before the deeper ones are kept as written.
const MAX_SORT_DEPTH: usize = 16;

/// Writes the value starting at `*at` (an object sorted), moving `*at` past it.
fn sort_object(text: &str, at: &mut usize, out: &mut String, depth: usize) {
    let bytes = text.as_bytes();
    if bytes.get(*at) != Some(&b'{') || depth > MAX_SORT_DEPTH {
        // Too deep: the object as written, whole.
        let start = *at;
        skip_nested(text, at);
        out.push_str(text.get(start..*at).unwrap_or_default());
        return;
    }
    *at += 1;
    // Members as written (borrowed) unless they hold an object, which is sorted too.
    let mut members: Vec<std::borrow::Cow<'_, str>> = Vec::new();
    let mut start = *at;
    let mut nested: Option<String> = None;
    let finish = |start: usize, end: usize, nested: &mut Option<String>| -> std::borrow::Cow<'_, str> {
        match nested.take() {
            Some(mut owned) => {
                owned.push_str(text.get(start..end).unwrap_or_default());
                std::borrow::Cow::Owned(owned)
            }
            None => std::borrow::Cow::Borrowed(text.get(start..end).unwrap_or_default()),
        }
    };
    while *at < bytes.len() {
        match bytes[*at] {
            b'}' => {
                let member = finish(start, *at, &mut nested);
                *at += 1;
                // `{}` has no member; after a comma the last one counts even if empty.
                if !members.is_empty() || !member.is_empty() {
                    members.push(member);
                }
                members.sort_unstable();
                out.push('{');
                for (i, member) in members.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    out.push_str(member);
                }
                out.push('}');
                return;
            }
            b',' => {
                members.push(finish(start, *at, &mut nested));
                *at += 1;
                start = *at;
            }
            b'{' => {
                // The member so far, then the object sorted.
                let mut owned = nested.take().unwrap_or_default();
                owned.push_str(text.get(start..*at).unwrap_or_default());
                sort_object(text, at, &mut owned, depth + 1);
                nested = Some(owned);
                start = *at;
            }
            // An array is one value: its commas do not split members (its objects stay as
            // written).
            b'[' => skip_nested(text, at),
            _ => skip_value(text, at),
        }
    }
    // Unclosed: what was read, in order.
    let rest = finish(start, *at, &mut nested);
    out.push('{');
    for (i, member) in members.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(member);
    }
    if !members.is_empty() && !rest.is_empty() {
        out.push(',');
    }
    out.push_str(&rest);
}

/// Moves `*at` past the array or object that starts there (brackets balanced, strings skipped
/// whole), or past one value if none does; to the end if it never closes.
fn skip_nested(text: &str, at: &mut usize) {
    let bytes = text.as_bytes();
    if !matches!(bytes.get(*at), Some(b'[' | b'{')) {
        skip_value(text, at);
        return;
    }
    let mut depth = 0usize;
    while *at < bytes.len() {
        match bytes[*at] {
            b'[' | b'{' => {
                depth += 1;
                *at += 1;
            }
            b']' | b'}' => {
                depth = depth.saturating_sub(1);
                *at += 1;
                if depth == 0 {
                    return;
                }
            }
            b'"' => skip_value(text, at),
            _ => *at += 1,
        }
    }
}

/// Moves `*at` past one string (with its escapes), or the bytes up to the next `,{}[]"`.
fn skip_value(text: &str, at: &mut usize) {
    let bytes = text.as_bytes();
    if bytes.get(*at) == Some(&b'"') {
        *at += 1;
        while *at < bytes.len() {
            match bytes[*at] {
                b'\\' => *at += 2,
                b'"' => {
                    *at += 1;
                    break;
                }
                _ => *at += 1,
            }
        }
    } else {
        *at += 1;
        while *at < bytes.len() && !matches!(bytes[*at], b',' | b'{' | b'}' | b'[' | b']' | b'"') {
            *at += 1;
        }
    }
    *at = (*at).min(bytes.len());
    // An escape before a wide character skipped into it: on to the character's end.
    while !text.is_char_boundary(*at) {
        *at += 1;
    }
}

/// Calls `f` with each token of `text` and whether it follows the one before without a blank:
/// runs between blanks, with each of `=,;()[]{}"'` and `:` (but not one between digits, as in
/// a time) a token of its own.
fn for_each_token(text: &str, mut f: impl FnMut(bool, &str)) {
    let bytes = text.as_bytes();
    let mut glued = false;
    let mut first = true;
    let mut start: Option<usize> = None;
    let mut emit = |glued: bool, token: &str, first: &mut bool| {
        f(glued && !*first, token);
        *first = false;
    };
    for (i, &b) in bytes.iter().enumerate() {
        // Only ASCII bytes separate; the bytes of other characters are parts of tokens.
        let clock_colon = b == b':'
            && i > 0
            && bytes[i - 1].is_ascii_digit()
            && bytes.get(i + 1).is_some_and(u8::is_ascii_digit);
        let punct = matches!(
            b,
            b'=' | b',' | b';' | b'(' | b')' | b'[' | b']' | b'{' | b'}' | b'"' | b'\''
        ) || b == b':' && !clock_colon;
        if b.is_ascii_whitespace() || punct {
            if let Some(s) = start.take() {
                emit(glued, &text[s..i], &mut first);
                glued = true;
            }
            if punct {
                emit(glued, &text[i..=i], &mut first);
                glued = true;
            } else {
                glued = false;
            }
        } else if start.is_none() {
            start = Some(i);
        }
    }
    if let Some(s) = start {
        emit(glued, &text[s..], &mut first);
    }
}

/// The type of a variable token, or `None` for a token kept as text.
fn kind_of(token: &str) -> Option<&'static str> {
    let bytes = token.as_bytes();
    if !bytes.iter().any(u8::is_ascii_digit) {
        return None;
    }
    if is_time(token) {
        return Some("Time");
    }
    if is_ip(token) {
        return Some("IP");
    }
    if is_number(token) {
        return Some("Number");
    }
    Some("ID")
}

fn is_number(token: &str) -> bool {
    let t = token.strip_prefix(['-', '+']).unwrap_or(token);
    let digits_end = t
        .find(|c: char| !c.is_ascii_digit() && c != '.')
        .unwrap_or(t.len());
    let (number, unit) = t.split_at(digits_end);
    !number.is_empty()
        && number.bytes().next().is_some_and(|b| b.is_ascii_digit())
        && number.matches('.').count() <= 1
        && unit.len() <= 3
        && unit.bytes().all(|b| b.is_ascii_alphabetic() || b == b'%')
}

fn is_ip(token: &str) -> bool {
    let host = token
        .rsplit_once(':')
        .filter(|(h, p)| h.contains('.') && p.bytes().all(|b| b.is_ascii_digit()))
        .map_or(token, |(h, _)| h);
    host.parse::<std::net::IpAddr>().is_ok()
}

fn is_time(token: &str) -> bool {
    let b = token.as_bytes();
    let digit = |i: usize| b.get(i).is_some_and(u8::is_ascii_digit);
    // 2024-03-01, 2024-03-01T10:00:00Z, 10:00:00, 10:00:00.123
    let date = b.len() >= 10
        && (0..4).all(digit)
        && b[4] == b'-'
        && digit(5)
        && digit(6)
        && b[7] == b'-'
        && digit(8)
        && digit(9);
    let clock = b.len() >= 5 && digit(0) && digit(1) && b[2] == b':' && digit(3) && digit(4);
    date || clock
}

/// One mined template.
#[derive(Debug, Clone)]
pub struct Template {
    tokens: Tokens,
    pub count: u64,
}

impl Template {
    /// The template as shown: variable tokens as `<Type-N>`.
    pub fn text(&self) -> String {
        let mut out = String::new();
        let mut n = 0;
        for (i, (glued, token)) in self.tokens.iter().enumerate() {
            if i > 0 && !glued {
                out.push(' ');
            }
            match token.strip_prefix(VARIABLE) {
                Some(kind) => {
                    n += 1;
                    let _ = write!(out, "<{kind}-{n}>");
                }
                None => out.push_str(token),
            }
        }
        out
    }

    /// `Error`, `Warning`, `Debug` or `Info`, from the words the template keeps (whole words:
    /// `traceId` is not `trace`, `failover` not `fail`).
    pub fn severity(&self) -> &'static str {
        let words: Vec<String> = self
            .tokens
            .iter()
            .filter(|(_, t)| !t.starts_with(VARIABLE))
            .flat_map(|(_, t)| {
                t.split(|c: char| !c.is_alphanumeric())
                    .map(str::to_ascii_lowercase)
                    .collect::<Vec<_>>()
            })
            .filter(|w| !w.is_empty())
            .collect();
        let any = |keys: &[&str]| words.iter().any(|w| keys.contains(&w.as_str()));
        // `TypeError`, `ERROR`, `NullPointerException`; DNS's `NOERROR` is no error.
        let error_word = words.iter().any(|w| {
            (w.ends_with("error") || w.ends_with("errors")) && w != "noerror" || w.ends_with("exception")
        });
        if error_word
            || any(&[
                "err", "fatal", "fail", "failed", "failure", "panic", "critical", "crit", "severe",
            ])
        {
            "Error"
        } else if any(&["warn", "warning", "warnings"]) {
            "Warning"
        } else if any(&["debug", "trace"]) {
            "Debug"
        } else {
            "Info"
        }
    }
}

fn parse_signature(signature: &str) -> Vec<(bool, &str)> {
    let mut tokens = Vec::new();
    // Every token starts with its separator (one byte, both are ASCII control characters).
    let mut start: Option<(bool, usize)> = None;
    for (i, b) in signature.bytes().enumerate() {
        let separator = b == BLANK as u8 || b == GLUED as u8;
        if separator {
            if let Some((glued, from)) = start {
                tokens.push((glued, &signature[from..i]));
            }
            start = Some((b == GLUED as u8, i + 1));
        }
    }
    if let Some((glued, from)) = start {
        tokens.push((glued, &signature[from..]));
    }
    tokens
}

/// Mines templates from signatures one at a time, in the order given (the engine gives them in
/// the stats' group order, which is the same on every path). Memory is the templates, not the
/// signatures.
#[derive(Debug, Default)]
pub struct Miner {
    templates: Vec<Template>,
    /// (token count, first token) → templates there.
    buckets: HashMap<(usize, String), Vec<usize>>,
    /// Per template: events in the query's window, in the earlier window, and per minute.
    current: Vec<u64>,
    previous: Vec<u64>,
    minutes: Vec<HashMap<i64, u64>>,
    /// The last signature and its template (a signature comes once per window and minute).
    last: Option<(String, usize)>,
    width: usize,
}

impl Miner {
    /// The template `signature` belongs to, made or widened for it.
    fn template_for(&mut self, signature: &str) -> usize {
        if let Some((last, t)) = &self.last {
            if last == signature {
                return *t;
            }
        }
        let tokens = parse_signature(body(signature));
        let first = tokens
            .first()
            .map(|(_, t)| if t.starts_with(VARIABLE) { "" } else { *t })
            .unwrap_or_default();
        let bucket = self.buckets.entry((tokens.len(), first.to_string())).or_default();
        let templates = &mut self.templates;
        let best = bucket
            .iter()
            .map(|&i| (i, similarity(&templates[i].tokens, &tokens)))
            .fold(None, |best: Option<(usize, f64)>, (i, s)| match best {
                Some((_, b)) if b >= s => best,
                _ => Some((i, s)),
            })
            .filter(|(_, s)| *s >= SIMILARITY || bucket.len() >= TEMPLATES_PER_BUCKET);
        let t = if let Some((i, _)) = best {
            for (kept, new) in templates[i].tokens.iter_mut().zip(&tokens) {
                if kept.1 != new.1 {
                    kept.1 = TOKEN.to_string();
                }
            }
            i
        } else {
            bucket.push(templates.len());
            templates.push(Template {
                tokens: tokens.iter().map(|(g, t)| (*g, (*t).to_string())).collect(),
                count: 0,
            });
            self.current.push(0);
            self.previous.push(0);
            self.minutes.push(HashMap::new());
            templates.len() - 1
        };
        self.last = Some((signature.to_string(), t));
        t
    }

    /// Counts `count` events of `signature` (in the query's window or the earlier one, in
    /// `minute` if known).
    pub fn add(&mut self, signature: &str, current: bool, minute: Option<i64>, count: u64) {
        let t = self.template_for(signature);
        self.templates[t].count += count;
        if current {
            self.current[t] += count;
        } else {
            self.previous[t] += count;
        }
        if let Some(m) = minute {
            *self.minutes[t].entry(m).or_default() += count;
        }
    }

    /// Counts one row of the hidden stats before `stage`.
    pub fn add_row(&mut self, stage: &crate::plan::rows::Patterns, row: &[Option<Value>]) {
        self.width = self.width.max(row.len());
        let Some(signature) = row.get(stage.signature).and_then(|v| v.as_ref()?.as_text()) else {
            return;
        };
        let current = match stage.window {
            Some(slot) => match row[slot]
                .as_ref()
                .and_then(|v| v.as_text().map(|t| t == "current"))
            {
                Some(current) => current,
                // In neither window.
                None => return,
            },
            None => true,
        };
        let minute = stage
            .minute
            .and_then(|slot| row[slot].as_ref().and_then(crate::exec::eval::time_ms));
        let count = row[stage.count]
            .as_ref()
            .and_then(Value::as_number)
            .unwrap_or(0.0) as u64;
        self.add(&signature, current, minute, count);
    }

    /// The templates, most events first (ties by text).
    pub fn templates(&self) -> Vec<usize> {
        let texts: Vec<String> = self.templates.iter().map(Template::text).collect();
        let mut order: Vec<usize> = (0..self.templates.len()).collect();
        order.sort_by(|&a, &b| {
            self.templates[b]
                .count
                .cmp(&self.templates[a].count)
                .then_with(|| texts[a].cmp(&texts[b]))
        });
        order
    }
}

/// Mines `signatures` in byte order: templates, most frequent first (for the tests).
#[cfg(test)]
pub fn mine(signatures: &[(String, u64)]) -> Vec<Template> {
    let mut sorted: Vec<&(String, u64)> = signatures.iter().collect();
    sorted.sort();
    let mut miner = Miner::default();
    for (signature, count) in sorted {
        miner.add(signature, true, None, *count);
    }
    miner
        .templates()
        .into_iter()
        .map(|t| miner.templates[t].clone())
        .collect()
}

fn similarity(a: &Tokens, b: &[(bool, &str)]) -> f64 {
    if a.is_empty() {
        return 1.0;
    }
    let same = a.iter().zip(b).filter(|(x, y)| x.1 == y.1).count();
    same as f64 / a.len() as f64
}

/// `n / total`, to 4 decimal places.
pub fn ratio(n: u64, total: u64) -> Option<Value> {
    if total == 0 {
        return None;
    }
    Value::num((n as f64 / total as f64 * 10_000.0).round() / 10_000.0)
}

/// The hidden function `pattern` groups by: the signature of its text argument.
pub static SIGNATURE: crate::functions::ScalarFunction = crate::functions::ScalarFunction {
    name: "\u{0}patternSignature",
    min_args: 1,
    max_args: Some(1),
    call: signature_of,
};

fn signature_of(_: &crate::functions::FnContext, args: &[Option<Value>]) -> Option<Value> {
    let text = args.first()?.as_ref()?.as_text()?;
    Some(Value::str(signature(&text)))
}

/// The hidden function `diff` groups by: `current` for a time in the query's window,
/// `previous` for one in the earlier window (shifted back by the second argument: `1d`, `1w`,
/// `1mo`, a period, or empty for the window's own length), nothing otherwise.
pub static WINDOW_SIDE: crate::functions::ScalarFunction = crate::functions::ScalarFunction {
    name: "\u{0}windowSide",
    min_args: 2,
    max_args: Some(2),
    call: window_side,
};

fn window_side(ctx: &crate::functions::FnContext, args: &[Option<Value>]) -> Option<Value> {
    let t = crate::exec::eval::time_ms(args.first()?.as_ref()?)?;
    let shift = args.get(1)?.as_ref()?.as_text()?;
    let (start, end) = (ctx.query_start_ms, ctx.query_end_ms);
    if start == crate::functions::NO_START {
        return None;
    }
    if (start..=end).contains(&t) {
        return Some(Value::str("current"));
    }
    let (earlier_start, earlier_end) = earlier_window(&shift, start, end)?;
    (earlier_start..=earlier_end)
        .contains(&t)
        .then(|| Value::str("previous"))
}

/// The earlier window `diff` compares with: `shift` back (`1mo`: a calendar month), or for an
/// empty shift the window of the same length just before.
pub fn earlier_window(shift: &str, start: i64, end: i64) -> Option<(i64, i64)> {
    if shift.is_empty() {
        let length = end.checked_sub(start)?;
        return Some((start.checked_sub(length)?.checked_sub(1)?, start.checked_sub(1)?));
    }
    if shift == "1mo" {
        let back = |ms: i64| -> Option<i64> {
            let t = chrono::DateTime::from_timestamp_millis(ms)?;
            Some(t.checked_sub_months(chrono::Months::new(1))?.timestamp_millis())
        };
        return Some((back(start)?, back(end)?));
    }
    let ms = crate::functions::parse_period(shift)?.fixed_ms()?;
    Some((start.checked_sub(ms)?, end.checked_sub(ms)?))
}

/// The rows `stage` makes from what `miner` has counted.
pub fn finish(stage: &crate::plan::rows::Patterns, miner: &Miner) -> Vec<Vec<Option<Value>>> {
    use crate::plan::rows::PatternColumn as C;
    let (current, previous) = (&miner.current, &miner.previous);
    let total: u64 = current.iter().sum();
    let span = miner
        .minutes
        .iter()
        .flat_map(|m| m.keys().copied())
        .fold(None, |acc: Option<(i64, i64)>, m| {
            Some(acc.map_or((m, m), |(a, b)| (a.min(m), b.max(m))))
        });
    let mut order = miner.templates();
    if stage.window.is_some() {
        order.retain(|&t| current[t] + previous[t] > 0);
        order.sort_by_key(|&t| std::cmp::Reverse(current[t].abs_diff(previous[t])));
    }
    let mut out = Vec::with_capacity(order.len());
    for t in order {
        let template = &miner.templates[t];
        let found = anomaly(&miner.minutes[t], span);
        let mut row = vec![None; miner.width];
        for (column, slot) in &stage.outputs {
            row[*slot] = match column {
                C::Pattern => Some(Value::str(template.text())),
                C::Ratio => ratio(current[t], total),
                C::SampleCount => Some(Value::Num(current[t] as f64)),
                C::Severity => Some(Value::str(template.severity())),
                C::PreviousCount => Some(Value::Num(previous[t] as f64)),
                C::DiffCount => Some(Value::Num(current[t] as f64 - previous[t] as f64)),
                C::Description => Some(Value::str(describe(current[t], previous[t]))),
                C::IsAnomaly => Some(Value::Bool(found.is_some())),
                C::AnomalyType => found.map(|a| Value::str(a.kind)),
                C::AnomalyScore => found
                    .and_then(|a| a.score)
                    .and_then(|z| Value::num((z * 100.0).round() / 100.0)),
                C::AnomalyTime => found.map(|a| Value::Time(a.at)),
            };
        }
        out.push(row);
    }
    out
}

fn describe(current: u64, previous: u64) -> String {
    match (current, previous) {
        (0, 0) => "unchanged".to_string(),
        (_, 0) => "new pattern".to_string(),
        (0, _) => "pattern no longer seen".to_string(),
        (c, p) if c == p => "unchanged".to_string(),
        (c, p) => {
            let change = (c as f64 - p as f64) / p as f64 * 100.0;
            format!(
                "count {} {:.0}% ({p} to {c})",
                if c > p { "up" } else { "down" },
                change.abs()
            )
        }
    }
}

/// A template's anomaly: when, what, and how far out (a spike's z-score).
#[derive(Debug, Clone, Copy)]
struct Anomaly {
    kind: &'static str,
    at: i64,
    score: Option<f64>,
}

/// Spans shorter than this many minutes have too little history to call anything unusual.
const ANOMALY_MIN_MINUTES: i64 = 5;

/// Over the minutes of the whole input (`span`): a template first seen in its last fifth is
/// `new pattern`; a minute whose count is at least 3 and 3 standard deviations above the
/// template's mean per minute is a `frequency spike` (the highest such minute).
fn anomaly(minutes: &HashMap<i64, u64>, span: Option<(i64, i64)>) -> Option<Anomaly> {
    let (first, last) = span?;
    let length = (last - first) / 60_000 + 1;
    if length < ANOMALY_MIN_MINUTES || minutes.is_empty() {
        return None;
    }
    let seen_first = *minutes.keys().min()?;
    if (seen_first - first) / 60_000 >= length * 4 / 5 {
        return Some(Anomaly {
            kind: "new pattern",
            at: seen_first,
            score: None,
        });
    }
    let total: u64 = minutes.values().sum();
    let mean = total as f64 / length as f64;
    let squares: f64 = minutes.values().map(|&n| (n as f64 - mean).powi(2)).sum::<f64>()
        + (length as f64 - minutes.len() as f64) * mean * mean;
    let sd = (squares / length as f64).sqrt();
    let (&at, &peak) = minutes.iter().max_by(|a, b| a.1.cmp(b.1).then(b.0.cmp(a.0)))?;
    let z = if sd > 0.0 { (peak as f64 - mean) / sd } else { 0.0 };
    (peak >= 3 && z >= 3.0).then_some(Anomaly {
        kind: "frequency spike",
        at,
        score: Some(z),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mined(lines: &[&str]) -> Vec<(String, u64)> {
        let mut counts: HashMap<String, u64> = HashMap::new();
        for line in lines {
            *counts.entry(signature(line)).or_default() += 1;
        }
        let counts: Vec<(String, u64)> = counts.into_iter().collect();
        mine(&counts).iter().map(|t| (t.text(), t.count)).collect()
    }

    #[test]
    fn variables_are_typed_and_words_merge() {
        let got = mined(&[
            "2024-03-01T10:00:00Z user=alice logged in from 10.0.0.1 in 12ms",
            "2024-03-01T10:00:01Z user=bob logged in from 10.0.0.2 in 7ms",
            "2024-03-01T10:00:02Z user=carol logged in from 10.0.0.3 in 30ms",
            "ERROR disk /dev/sda1 full (req 9f8e7d6c5b4a)",
            "ERROR disk /dev/sdb1 full (req 1a2b3c4d5e6f)",
        ]);
        assert_eq!(
            got,
            vec![
                (
                    "<Time-1> user=<Token-2> logged in from <IP-3> in <Number-4>".to_string(),
                    3
                ),
                ("ERROR disk <ID-1> full (req <ID-2>)".to_string(), 2),
            ]
        );
    }

    #[test]
    fn severity_comes_from_the_kept_words() {
        let t = |line: &str| mine(&[(signature(line), 1)])[0].severity();
        assert_eq!(t("ERROR boom"), "Error");
        assert_eq!(t("request failed"), "Error");
        assert_eq!(t("WARN slow"), "Warning");
        assert_eq!(t("debug: x"), "Debug");
        assert_eq!(t("all good"), "Info");
        assert_eq!(t("status NOERROR"), "Info");
        assert_eq!(t("TypeError: x"), "Error");
        assert_eq!(t("traceId=abc request ok"), "Info");
        assert_eq!(t("failover done"), "Info");
        assert_eq!(t("request failed"), "Error");
        assert_eq!(t("java.lang.NullPointerException"), "Error");
    }

    #[test]
    fn json_members_are_put_in_key_order() {
        assert_eq!(
            signature(r#"{"b":1,"a":{"y":"q,}","x":2},"c":[3,4]}"#),
            signature(r#"{"c":[3,4],"a":{"x":2,"y":"q,}"},"b":1}"#)
        );
        assert_eq!(sorted_members(r#"{"b":"\"}","a":1}"#), r#"{"a":1,"b":"\"}"}"#);
        // An array's commas do not split members; objects nested too deep stay as written.
        assert_eq!(
            sorted_members(r#"{"y":3,"x":[1,{"b":2,"a":1}]}"#),
            r#"{"x":[1,{"b":2,"a":1}],"y":3}"#
        );
        let deep = format!("{}{{\"b\":1,\"a\":2}}{}", "{\"k\":".repeat(20), "}".repeat(20));
        assert!(
            sorted_members(&deep).contains(r#"{"b":1,"a":2}"#),
            "{}",
            sorted_members(&deep)
        );
        // Broken text keeps every byte.
        for broken in [
            r#"{"b":1,"a""#,
            "{",
            r#"{"a":"x"#,
            r#"{"a":{"b":1}"#,
            r#"{"a":"\é","b":1}"#,
        ] {
            let mut bytes: Vec<char> = sorted_members(broken).chars().collect();
            let mut want: Vec<char> = broken.chars().collect();
            bytes.sort_unstable();
            want.sort_unstable();
            assert_eq!(bytes, want, "{broken}");
        }
    }

    #[test]
    fn damaged_json_never_panics_and_keeps_its_bytes() {
        let mut rng = crate::test_rng::Rng(99);
        let pieces = [
            "{",
            "}",
            "\"",
            "\\",
            ",",
            ":",
            "\"k\"",
            "1",
            "é",
            "[",
            "]",
            " ",
            "\"v\\\"x\"",
        ];
        for _ in 0..20_000 {
            let mut text: String = "{".to_string();
            text.extend((0..rng.below(30)).map(|_| rng.pick(&pieces)));
            text.push('}');
            let mut got: Vec<char> = sorted_members(&text).chars().collect();
            let mut want: Vec<char> = text.chars().collect();
            got.sort_unstable();
            want.sort_unstable();
            assert_eq!(got, want, "{text}");
            let _ = signature(&text);
        }
    }

    #[test]
    fn a_full_bucket_merges_into_its_closest_template() {
        let signatures: Vec<(String, u64)> = (0..200)
            .map(|i| {
                (
                    signature(&format!("w{} q{}", "x".repeat(i % 7 + 1), "y".repeat(i))),
                    1,
                )
            })
            .collect();
        let templates = mine(&signatures);
        assert!(templates.len() <= TEMPLATES_PER_BUCKET, "{}", templates.len());
        assert_eq!(templates.iter().map(|t| t.count).sum::<u64>(), 200);
    }

    #[test]
    fn tokens_keep_their_glue() {
        assert_eq!(mine(&[(signature("a=(b, c)"), 1)])[0].text(), "a=(b, c)");
        assert_eq!(mine(&[(signature(""), 1)])[0].text(), "");
    }
}
