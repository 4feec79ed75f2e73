//! Key-directed reading of JSON lines: read the values of a few wanted top-level keys without
//! building the line's other fields.
//!
//! One walk from the start of the line reads it as the full scan does: the same grammar, the
//! same count of leaves (the first 200 are kept), a repeated key's last value, and a break that
//! ends the fields. Strings are skipped with per-line bit masks of their special bytes. Which
//! top-level keys are wanted comes from a SIMD substring search for each quoted name, kept one
//! occurrence ahead of the walk, so keys are not compared one by one. The walk stops as soon as
//! no wanted name occurs in the rest of the line (and no `\u` escape there could spell one): the
//! rest cannot change the answer, and it is not read. Lines that do not start with `{` and end
//! with `}` are declined, for the full scan to decide what they are, and so are values that are
//! not valid UTF-8 and finders of more than 16 keys.

use memchr::memmem::Finder;

use super::json_fields::{
    bool_value, escape_that_may_spell, number_value, scan_number, short_number, unescape_into, MAX_DEPTH,
    MAX_FIELDS_PER_EVENT,
};
use super::special_bytes::SpecialBytes;
use crate::value::Value;

/// A key's value as [`KeyFinder::read_raw`] finds it.
#[derive(Debug, PartialEq)]
pub enum RawValue<'l> {
    /// The line has no value for the key: not there at the top level, or only as null or a
    /// container, past the 200-leaf limit, or after a break.
    Absent,
    /// A string without escapes: its contents.
    Plain(&'l str),
    /// Any other value (a number, a boolean, an escaped string): read it with
    /// [`KeyFinder::read`].
    Other,
}

/// Buffers a [`KeyFinder`] reuses from line to line: one per reader.
#[derive(Debug, Default)]
pub struct KeyScratch {
    /// Unescaped string values.
    text: String,
    /// The line's special-byte masks.
    words: Vec<u64>,
}

/// The keys to look for, prepared once per query.
#[derive(Debug)]
pub struct KeyFinder {
    /// Field names as emitted.
    names: Vec<String>,
    /// Each key as the line writes it (`@@key` is written `@key`).
    written: Vec<String>,
    /// A finder for each key's `"<key as written>"`: where the walk may meet a wanted key.
    quoted: Vec<Finder<'static>>,
}

impl KeyFinder {
    /// A finder for fields `names` (flattened names as the query writes them), or `None` if some
    /// name cannot be a plain top-level key (it has a dot, or a single leading `@`).
    pub fn new<'n>(names: impl IntoIterator<Item = &'n str>) -> Option<KeyFinder> {
        let mut finder = KeyFinder {
            names: Vec::new(),
            written: Vec::new(),
            quoted: Vec::new(),
        };
        for name in names {
            // A logged `@key` is read as `@@key`; a single `@` name never comes from JSON.
            let written = match name.strip_prefix("@@") {
                Some(rest) => format!("@{rest}"),
                None if name.starts_with('@') => return None,
                None => name.to_string(),
            };
            // `/` may be written `\/`, which the absence proof does not look for.
            // A control character would be escaped in the line, as `\t` or `\n`.
            if written.contains(['.', '"', '\\', '/'])
                || written.is_empty()
                || written.contains(char::is_control)
            {
                return None;
            }
            finder
                .quoted
                .push(Finder::new(format!("\"{written}\"").as_bytes()).into_owned());
            finder.names.push(name.to_string());
            finder.written.push(written);
        }
        Some(finder)
    }

    /// The field names, in key order.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.names.iter().map(String::as_str)
    }

    /// Emits every wanted key's value and returns true, or returns false (having emitted
    /// nothing) if the line is not one this fast path can answer for.
    /// `emit` gets each key's number (its place in [`KeyFinder::names`]), name and value.
    /// A value that is not valid UTF-8 declines too (the caller reads the line as text).
    pub fn read(
        &self,
        line: &[u8],
        scratch: &mut KeyScratch,
        emit: &mut dyn FnMut(usize, &str, Value),
    ) -> bool {
        self.read_each(line, scratch, |k, value| {
            if let Some(value) = value {
                emit(k, &self.names[k], value);
            }
        })
    }

    /// Like [`KeyFinder::read`], but `each` gets every key's number and value, `None` for an
    /// absent key (or one whose value is not a leaf: null, an object, an array).
    pub fn read_each(
        &self,
        line: &[u8],
        scratch: &mut KeyScratch,
        mut each: impl FnMut(usize, Option<Value>),
    ) -> bool {
        let mut found: [(usize, usize, u8); 16] = [(0, 0, 0); 16];
        if !self.locate(line, scratch, &mut found) {
            return false;
        }
        let text = &mut scratch.text;
        // Every value's text is checked before any is emitted (a string's contents, a
        // number's digits).
        let mut texts: [&str; 16] = [""; 16];
        for (k, &(start, end, kind)) in found[..self.names.len()].iter().enumerate() {
            // A number's bytes are ASCII by its grammar: read from the bytes below.
            if let KIND_STR | KIND_ESCAPED = kind {
                match line.get(start + 1..end - 1).map(std::str::from_utf8) {
                    Some(Ok(t)) => texts[k] = t,
                    _ => return false,
                }
            }
        }
        for k in 0..self.names.len() {
            let raw = texts[k];
            let (start, end, kind) = found[k];
            let value = match kind {
                KIND_ESCAPED => {
                    text.clear();
                    if unescape_into(raw, text).is_none() {
                        return false;
                    }
                    Some(Value::str(text.as_str()))
                }
                KIND_STR => Some(Value::str(raw)),
                KIND_NUM => {
                    let digits = line.get(start..end).unwrap_or_default();
                    match (short_number(digits), std::str::from_utf8(digits)) {
                        (Some(value), _) => Some(value),
                        (None, Ok(digits)) => Some(number_value(digits)),
                        (None, Err(_)) => None,
                    }
                }
                KIND_TRUE => Some(bool_value(true)),
                KIND_FALSE => Some(bool_value(false)),
                // null, objects and arrays are not leaf fields; absent keys have no value.
                _ => None,
            };
            each(k, value);
        }
        true
    }

    /// For a finder of one key: what the line holds under it, read in place. `None` if the
    /// fast path declines.
    pub fn read_raw<'l>(&self, line: &'l [u8], scratch: &mut KeyScratch) -> Option<RawValue<'l>> {
        let mut found: [(usize, usize, u8); 16] = [(0, 0, 0); 16];
        if self.names.len() != 1 || !self.locate(line, scratch, &mut found) {
            return None;
        }
        let (start, end, kind) = found[0];
        let text = |range: std::ops::Range<usize>| line.get(range).and_then(|t| std::str::from_utf8(t).ok());
        let plain = match kind {
            KIND_ABSENT => return Some(RawValue::Absent),
            KIND_STR => text(start + 1..end - 1),
            // A number is read as the full scan reads it (a double, or its text past 2^53), so
            // that times written as numbers round alike on every path.
            _ => None,
        };
        Some(plain.map_or(RawValue::Other, RawValue::Plain))
    }

    /// Finds every key's value span and kind; false if the fast path cannot vouch for them.
    ///
    /// One walk from the start of the line reads it as the full scan does (the same grammar,
    /// the same leaf count and cap, a repeated key's last value, a break ending the fields).
    /// Which top-level keys are wanted ones comes from a substring search for each quoted
    /// name, kept one occurrence ahead of the walk: a key is wanted when its opening quote is
    /// where an occurrence starts (keys with escapes are compared unescaped). The walk stops
    /// once no wanted name occurs in the rest of the line and no `\u` escape there could
    /// spell one.
    fn locate(&self, bytes: &[u8], scratch: &mut KeyScratch, found: &mut [(usize, usize, u8); 16]) -> bool {
        let n = self.names.len();
        // JSON's blanks only (not a form feed, which `is_ascii_whitespace` would skip).
        let blank = |b: &u8| matches!(b, b' ' | b'\t' | b'\n' | b'\r');
        let (Some(first), Some(last)) = (
            bytes.iter().position(|b| !blank(b)),
            bytes.iter().rposition(|b| !blank(b)),
        ) else {
            return false;
        };
        if bytes[first] != b'{' || bytes[last] != b'}' || last <= first || n > found.len() {
            return false;
        }
        found[..n].fill((0, 0, KIND_ABSENT));
        let b = bytes;
        let mut ahead = Occurrences::new(&self.quoted[..n], b, first + 1, last);
        // Set once the rest of the line may spell a wanted key with an escape: the walk then
        // goes to the end.
        let mut to_end = false;
        if ahead.none_left() {
            if !self.may_be_spelled(&b[first + 1..last]) {
                return true;
            }
            to_end = true;
        }
        let mut specials = SpecialBytes::new(bytes, &mut scratch.words);
        let text = &mut scratch.text;
        let mut i = first + 1;
        // Bit d-1 is set when the container at depth d is an array.
        let mut arrays: u64 = 0;
        let mut depth = 1usize;
        let mut leaves = 0usize;
        let mut just_opened = true;
        loop {
            i = skip_ws(b, i);
            let in_array = (arrays >> (depth - 1)) & 1 == 1;
            let empty = just_opened && b.get(i) == Some(if in_array { &b']' } else { &b'}' });
            just_opened = false;
            if !empty {
                let mut key = None;
                if !in_array {
                    if b.get(i) != Some(&b'"') {
                        return true;
                    }
                    let Some((key_end, escaped)) = specials.scan_string(i + 1) else {
                        return true;
                    };
                    if depth == 1 {
                        key = if escaped {
                            self.key_number(&b[i + 1..key_end], text)
                        } else {
                            ahead.key_at(i, key_end)
                        };
                    }
                    i = skip_ws(b, key_end + 1);
                    if b.get(i) != Some(&b':') {
                        return true;
                    }
                    i = skip_ws(b, i + 1);
                }
                let start = i;
                let kind = match b.get(i) {
                    Some(&open @ (b'{' | b'[')) => {
                        if depth >= MAX_DEPTH {
                            return true;
                        }
                        // A container is no value of its own: an earlier value of the key
                        // stays, and the walk goes on inside it.
                        depth += 1;
                        let bit = 1u64 << (depth - 1);
                        arrays = if open == b'[' { arrays | bit } else { arrays & !bit };
                        i += 1;
                        just_opened = true;
                        continue;
                    }
                    Some(b'"') => {
                        let Some((close, escaped)) = specials.scan_string(i + 1) else {
                            return true;
                        };
                        i = close + 1;
                        if escaped {
                            KIND_ESCAPED
                        } else {
                            KIND_STR
                        }
                    }
                    Some(b't') if b.get(i..i + 4) == Some(b"true") => {
                        i += 4;
                        KIND_TRUE
                    }
                    Some(b'f') if b.get(i..i + 5) == Some(b"false") => {
                        i += 5;
                        KIND_FALSE
                    }
                    Some(b'n') if b.get(i..i + 4) == Some(b"null") => {
                        i += 4;
                        KIND_NONE
                    }
                    Some(b'-' | b'0'..=b'9') => {
                        let Some(end) = scan_number(b, i) else {
                            return true;
                        };
                        i = end;
                        KIND_NUM
                    }
                    _ => return true,
                };
                // The full scan counts every non-null leaf and keeps the first 200; a null
                // leaves an earlier value of its key in place.
                if kind != KIND_NONE {
                    leaves += 1;
                    if let Some(k) = key.filter(|_| leaves <= MAX_FIELDS_PER_EVENT) {
                        found[k] = (start, i, kind);
                    }
                }
                if depth == 1 && !to_end && ahead.none_left() {
                    if !self.may_be_spelled(&b[i.min(last)..last]) {
                        return true;
                    }
                    to_end = true;
                }
            }
            // After a value (or an empty container): a comma, or the ends of containers.
            loop {
                i = skip_ws(b, i);
                let in_array = (arrays >> (depth - 1)) & 1 == 1;
                match b.get(i) {
                    Some(b',') => {
                        i += 1;
                        break;
                    }
                    Some(b']') if in_array => {}
                    Some(b'}') if !in_array => {}
                    _ => return true,
                }
                i += 1;
                depth -= 1;
                if depth == 0 {
                    return true;
                }
            }
        }
    }

    /// Which wanted key (its number) the escaped top-level key `raw` (the text between its
    /// quotes) is, once unescaped.
    fn key_number(&self, raw: &[u8], text: &mut String) -> Option<usize> {
        text.clear();
        unescape_into(std::str::from_utf8(raw).ok()?, text)?;
        self.written.iter().position(|w| w.as_bytes() == text.as_bytes())
    }

    /// Whether `rest` has a `\u` escape that could spell a letter of a wanted key.
    fn may_be_spelled(&self, rest: &[u8]) -> bool {
        has_unicode_escape(rest)
            && escape_that_may_spell(rest, |c| self.written.iter().any(|w| w.contains(c))).is_some()
    }
}

/// Where each wanted key's quoted name next occurs in a line, at or past the walk.
struct Occurrences<'f, 'l> {
    quoted: &'f [Finder<'static>],
    line: &'l [u8],
    /// The search ends here (the line's closing brace).
    end: usize,
    /// Each key's next occurrence (its opening quote), `usize::MAX` for none.
    next: [usize; 16],
    /// The nearest of them.
    nearest: usize,
}

impl<'f, 'l> Occurrences<'f, 'l> {
    fn new(quoted: &'f [Finder<'static>], line: &'l [u8], from: usize, end: usize) -> Occurrences<'f, 'l> {
        let mut ahead = Occurrences {
            quoted,
            line,
            end,
            next: [usize::MAX; 16],
            nearest: usize::MAX,
        };
        for k in 0..quoted.len() {
            ahead.next[k] = ahead.search(k, from);
        }
        ahead.nearest = ahead.next[..quoted.len()]
            .iter()
            .copied()
            .min()
            .unwrap_or(usize::MAX);
        ahead
    }

    fn search(&self, k: usize, from: usize) -> usize {
        self.line
            .get(from..self.end)
            .and_then(|rest| self.quoted[k].find(rest))
            .map_or(usize::MAX, |at| from + at)
    }

    fn none_left(&self) -> bool {
        self.nearest == usize::MAX
    }

    /// The wanted key whose name is the unescaped key string from `at` (its opening quote)
    /// to `close` (its closing quote), if any; the occurrences move past it.
    #[inline]
    fn key_at(&mut self, at: usize, close: usize) -> Option<usize> {
        if at < self.nearest {
            return None;
        }
        let mut key = None;
        for k in 0..self.quoted.len() {
            // Occurrences the walk passed (inside values or nested objects) were no keys.
            if self.next[k] < at {
                self.next[k] = self.search(k, at);
            }
            // `"name"` starting at a key's opening quote is that whole key: a name has no quote.
            if self.next[k] == at {
                key = Some(k);
                self.next[k] = self.search(k, close + 1);
            }
        }
        self.nearest = self.next[..self.quoted.len()]
            .iter()
            .copied()
            .min()
            .unwrap_or(usize::MAX);
        key
    }
}

/// Whether `body` has a `\u` escape (which could spell a key's letters).
fn has_unicode_escape(body: &[u8]) -> bool {
    // One SIMD search for the pair (stack traces have many other escapes), with a searcher
    // built once.
    static UNICODE_ESCAPE: std::sync::LazyLock<Finder<'static>> =
        std::sync::LazyLock::new(|| Finder::new(b"\\u").into_owned());
    UNICODE_ESCAPE.find(body).is_some()
}

const KIND_STR: u8 = 1;
/// A string with escapes.
const KIND_ESCAPED: u8 = 7;
const KIND_NUM: u8 = 2;
const KIND_TRUE: u8 = 3;
const KIND_FALSE: u8 = 4;
const KIND_NONE: u8 = 5;
const KIND_ABSENT: u8 = 6;

fn skip_ws(b: &[u8], mut i: usize) -> usize {
    while let Some(b' ' | b'\t' | b'\n' | b'\r') = b.get(i) {
        i += 1;
    }
    i
}

#[cfg(test)]
mod tests {
    use super::KeyFinder;
    use crate::event::json_fields::{flatten_json, Wanted};
    use crate::value::Value;

    fn fast(names: &[&str], line: &str) -> Option<Vec<(String, Value)>> {
        let finder = KeyFinder::new(names.iter().copied())?;
        let mut out = Vec::new();
        let mut scratch = super::KeyScratch::default();
        finder
            .read(line.as_bytes(), &mut scratch, &mut |_, k, v| {
                out.push((k.to_string(), v));
            })
            .then_some(out)
    }

    fn full(names: &[&str], line: &str) -> Vec<(String, Value)> {
        let mut out = Vec::new();
        flatten_json(line, &Wanted::only(names.iter().copied()), &mut |k, v| {
            out.push((k.to_string(), v));
        });
        out.sort_by(|a, b| a.0.cmp(&b.0));
        out
    }

    #[test]
    fn reads_top_level_scalars_like_the_full_scan() {
        let line = r#"{"timestamp":"2024-03-01T00:00:00Z","level":"ERROR","status":503,"ok":true,"msg":"a \"quoted\" {x}","http":{"code":1}}"#;
        let names = ["level", "status", "ok", "msg", "timestamp"];
        let mut got = fast(&names, line).unwrap();
        got.sort_by(|a, b| a.0.cmp(&b.0));
        assert_eq!(got, full(&names, line));
    }

    #[test]
    fn answers_lines_a_key_search_alone_could_not_as_the_full_scan_does() {
        for (names, line) in [
            // A null after an earlier value (spaced from its colon, or escaped): the earlier stays.
            (&["a"][..], r#"{"a" :1,"a":null}"#),
            (&["a"], r#"{"\u0061":1,"a":null}"#),
            (&["a"], r#"{"a" :1,"n":{},"a":null}"#),
            // A key after a nested object with the same key inside it.
            (&["status"], r#"{"http":{"status":1},"status":2}"#),
            (&["status"], r#"{"status":2,"http":{"status":1}}"#),
            // Repeated keys: the last value counts, however each is written.
            (&["status"], r#"{"status":2,"status":3}"#),
            (&["a"], r#"{"a":2,"\u0061":1}"#),
            (&["level"], r#"{"le\u0076el":"x"}"#),
            (&["level"], r#"{"lvl":"x","m":"\u0041"}"#),
            // Spaces around the colon; a key only nested; a key name as a value.
            (&["level"], r#"{"level" : "x"}"#),
            (&["level"], r#"{"a":{"level":1}}"#),
            (&["userId"], r#"{"a":"userId"}"#),
            (&["b"], r#"{"a":"x \"b\": 1","c":2}"#),
            // A container under a wanted key is no value of its own.
            (&["a"], r#"{"a":1,"a":{"b":2}}"#),
            (&["a"], r#"{"a":[1],"b":2}"#),
            // Breaks: the fields before them count, the ones after do not.
            (&["a", "b"], r#"{"a":1,"b":2 3,"c":4}"#),
            (&["a", "b"], r#"{"a":1,"x":tru,"b":2}"#),
            (&["a", "b"], "{\"a\":1,\"x\":\"\t\",\"b\":2}"),
            (&["a", "b"], r#"{"a":1.5.3,"b":2}"#),
            (&["a", "b"], r#"{"a":1} {"b":2}"#),
        ] {
            assert_eq!(fast(names, line), Some(full(names, line)), "{line} {names:?}");
        }
        // Not closed, or past JSON's blanks (a form feed is none): left to the full scan,
        // which decides what the line is.
        assert!(fast(&["level"], r#"{"level":"x""#).is_none());
        assert!(fast(&["a"], "\u{c}{\"a\":1}").is_none());
        assert!(fast(&["a"], "{\"a\":1}\u{c}").is_none());
        assert_eq!(
            fast(&["a"], " \t{\"a\":1}\r\n"),
            Some(full(&["a"], " \t{\"a\":1}\r\n"))
        );
        // Dotted names may be nested fields.
        assert!(KeyFinder::new(["http.status"]).is_none());
    }

    #[test]
    fn keeps_the_first_200_leaves_as_the_full_scan_does() {
        let ones = vec!["1"; 199].join(",");
        for line in [
            format!(r#"{{"l":[{ones}],"a":1,"b":2}}"#),
            format!(r#"{{"a":0,"l":[{ones}],"a":1,"b":2}}"#),
            format!(r#"{{"l":[{ones},null],"a":1,"b":2}}"#),
        ] {
            assert_eq!(fast(&["a", "b"], &line), Some(full(&["a", "b"], &line)), "{line}");
        }
    }

    #[test]
    fn at_keys_are_read_with_one_more_at_and_null_is_absent() {
        assert_eq!(
            fast(&["@@level"], r#"{"@level":"WARN"}"#),
            Some(vec![("@@level".to_string(), Value::str("WARN"))])
        );
        assert_eq!(fast(&["x"], r#"{"x":null}"#), Some(vec![]));
    }

    #[test]
    fn a_key_that_occurs_nowhere_is_absent() {
        let line = r#"{"level":"ERROR","msg":"a\nb \"c\"","http":{"status":1}}"#;
        assert_eq!(
            fast(&["userId", "level"], line),
            Some(vec![("level".to_string(), Value::str("ERROR"))])
        );
        assert_eq!(
            full(&["userId", "level"], line),
            vec![("level".to_string(), Value::str("ERROR"))]
        );
    }

    /// Random lines built from JSON pieces (nested objects, escapes, keys as values, spaces):
    /// wherever the fast path answers, it answers as the full scan does.
    #[test]
    fn fast_path_agrees_with_the_full_scan_on_random_lines() {
        // (key, member): a key now and then repeated; some members break the line.
        const PIECES: &[(&str, &str)] = &[
            ("a", r#""a":1"#),
            ("b", r#""b":"x""#),
            ("a", r#""a" : 2"#),
            ("c", r#""c":"a""#),
            ("m", r#""m":"\"a\": 3""#),
            ("m", r#""m":"\u0061""#),
            ("a", r#""\u0061":4"#),
            ("n", r#""n":{"a":5}"#),
            ("l", r#""l":[1,{"b":"y"}]"#),
            ("b", r#""b":null"#),
            ("b", r#""b":true"#),
            ("s", r#""s":"a\\""#),
            ("a", r#""a":-0.5e3"#),
            ("a", r#""a":null"#),
            ("b", r#""b":"\ud83d\ude00""#),
            ("x", r#""x":1 2"#),
            ("x", r#""x":tru"#),
            ("x", "\"x\":\"\t\""),
            ("x", r#""x":01"#),
            ("x", r#""x":"\q""#),
            ("x", r#""x":{"a":1"#),
            ("a", r#""a":{"a":[]}"#),
        ];
        let many = format!(r#""l":[{}]"#, vec!["1"; 199].join(","));
        let mut rng = crate::test_rng::Rng(0x9e37_79b9_7f4a_7c15);
        let mut next = |n: usize| rng.below(n);
        let mut answered = 0;
        for _ in 0..20_000 {
            let mut keys = Vec::new();
            let mut parts = Vec::new();
            for _ in 0..next(6) {
                let (key, member) = PIECES[next(PIECES.len())];
                // One line in eight may repeat a key: the last value counts on both paths.
                if !keys.contains(&key) || next(8) == 0 {
                    keys.push(key);
                    parts.push(member);
                }
                // Now and then the leaf limit falls in the middle of the line.
                if next(40) == 0 {
                    parts.push(&many);
                }
            }
            let line = format!("{{{}}}", parts.join(","));
            for names in [&["a"][..], &["b"], &["a", "b"], &["c", "a"]] {
                if let Some(mut got) = fast(names, &line) {
                    answered += 1;
                    got.sort_by(|a, b| a.0.cmp(&b.0));
                    assert_eq!(got, full(names, &line), "{line} {names:?}");
                }
            }
        }
        // Every line is an object, so the fast path answers all of them.
        assert_eq!(answered, 80_000);
    }

    /// Real-looking lines with bytes changed, cut or doubled at random (most of them break
    /// somewhere): whenever the fast path answers, it answers as the full scan does, and it
    /// never panics.
    #[test]
    fn damaged_lines_are_read_as_the_full_scan_reads_them() {
        let lines = [
            r#"{"timestamp":"2024-03-01T00:00:00.039Z","level":"INFO","msg":"a \"b\" \u00e9","latencyMs":11.9,"http":{"status":200,"ua":"x"},"service":"orders","tags":[1,"a",{"b":null}]}"#,
            r#"{"service":"api","latencyMs":-0.5e3,"level":"WARN","x":{"y":{"z":[true,false,null]}},"level":"ERROR"}"#,
        ];
        let noise = [
            b'"', b'\\', b'{', b'}', b'[', b']', b':', b',', b' ', b'\t', b'0', b'-', b'.', b'e', b'u', 0xff,
            0x0c, b'a',
        ];
        let mut rng = crate::test_rng::Rng(0xdead_beef);
        let mut answered = 0;
        for _ in 0..20_000 {
            let mut line = rng.pick(&lines).as_bytes().to_vec();
            for _ in 0..=rng.below(3) {
                let at = rng.below(line.len());
                match rng.below(4) {
                    0 => line[at] = rng.pick(&noise),
                    1 => line.truncate(at.max(1)),
                    2 => line.insert(at, rng.pick(&noise)),
                    _ => {
                        let piece = line[at..(at + 8).min(line.len())].to_vec();
                        line.splice(at..at, piece);
                    }
                }
            }
            let Ok(text) = std::str::from_utf8(&line) else {
                continue;
            };
            for names in [
                &["level"][..],
                &["latencyMs", "service"],
                &["timestamp"],
                &["y", "tags"],
            ] {
                if let Some(mut got) = fast(names, text) {
                    answered += 1;
                    got.sort_by(|a, b| a.0.cmp(&b.0));
                    assert_eq!(got, full(names, text), "{text} {names:?}");
                }
            }
        }
        assert!(answered > 10_000, "the fast path answered only {answered} times");
    }
}
