//! Key-directed reading of JSON lines: find each wanted top-level key with a SIMD substring
//! search and read its value in place, instead of scanning the whole line.
//!
//! It answers only when it can prove its answer is the full scan's: the line starts with `{`
//! and ends with `}`, and every wanted key is either found as `"key":` (with no backslash before
//! the quote, so the quote is a real delimiter and the string it opens is a key) with no `{` or
//! `[` byte before it (so it is at the top level), or provably absent: `"key"` occurs nowhere and
//! the line has no `\u` escape that could spell it; and the line up to the last value read
//! reads as JSON within the first 200 fields (the full scan's fields are the ones before a
//! break). Otherwise it declines and the caller runs the full scanner. The rest of the line is
//! not read. A key that may occur again after
//! its value (its quoted name, or a `\u` escape of one of its letters, follows) declines, so a repeated key keeps its last
//! value as in the full scan.

use memchr::memmem::Finder;

use super::json_fields::{
    bool_value, escape_that_may_spell, number_value, scan_number, unescape_into, valid_through_with_keys,
    MAX_FIELDS_PER_EVENT,
};
use super::special_bytes::SpecialBytes;
use crate::value::Value;

/// A key's value as [`KeyFinder::read_raw`] finds it.
#[derive(Debug, PartialEq)]
pub enum RawValue<'l> {
    /// The key is not in the line.
    Absent,
    /// A string without escapes: its contents.
    Plain(&'l str),
    /// Anything else (a number, null, a boolean, an escaped string...): read it with
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
    /// Field name as emitted, and a finder for `"<key as written>":`.
    keys: Vec<(String, Finder<'static>)>,
    /// A finder for each key's `"<key as written>"` alone, to prove a key absent.
    quoted: Vec<Finder<'static>>,
}

impl KeyFinder {
    /// A finder for fields `names` (flattened names as the query writes them), or `None` if some
    /// name cannot be a plain top-level key (it has a dot, or a single leading `@`).
    pub fn new<'n>(names: impl IntoIterator<Item = &'n str>) -> Option<KeyFinder> {
        let mut keys = Vec::new();
        let mut quoted = Vec::new();
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
            let needle = format!("\"{written}\":");
            keys.push((name.to_string(), Finder::new(needle.as_bytes()).into_owned()));
            quoted.push(Finder::new(&needle.as_bytes()[..needle.len() - 1]).into_owned());
        }
        Some(KeyFinder { keys, quoted })
    }

    /// The field names, in key order.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.keys.iter().map(|(name, _)| name.as_str())
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
                emit(k, &self.keys[k].0, value);
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
        let text = &mut scratch.text;
        if self.keys.len() > found.len() || !self.locate(line, &mut scratch.words, &mut found) {
            return false;
        }
        // Every value's text is checked before any is emitted (a string's contents, a
        // number's digits).
        let mut texts: [&str; 16] = [""; 16];
        for (k, &(start, end, kind)) in found[..self.keys.len()].iter().enumerate() {
            let range = match kind {
                KIND_STR | KIND_ESCAPED => start + 1..end - 1,
                KIND_NUM => start..end,
                _ => continue,
            };
            match line.get(range).map(std::str::from_utf8) {
                Some(Ok(t)) => texts[k] = t,
                _ => return false,
            }
        }
        for k in 0..self.keys.len() {
            let raw = texts[k];
            let value = match found[k].2 {
                KIND_ESCAPED => {
                    text.clear();
                    if unescape_into(raw, text).is_none() {
                        return false;
                    }
                    Some(Value::str(text.as_str()))
                }
                KIND_STR => Some(Value::str(raw)),
                KIND_NUM => Some(number_value(raw)),
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
        if self.keys.len() != 1 || !self.locate(line, &mut scratch.words, &mut found) {
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
    fn locate(&self, bytes: &[u8], words: &mut Vec<u64>, found: &mut [(usize, usize, u8); 16]) -> bool {
        let (Some(first), Some(last)) = (
            bytes.iter().position(|b| !b.is_ascii_whitespace()),
            bytes.iter().rposition(|b| !b.is_ascii_whitespace()),
        ) else {
            return false;
        };
        if bytes[first] != b'{' || bytes[last] != b'}' || last <= first {
            return false;
        }
        let body = &bytes[first + 1..last];
        let mut specials = SpecialBytes::new(bytes, words);
        let mut furthest = first + 1;
        let mut unicode_escapes: Option<bool> = None;
        for (k, (_, finder)) in self.keys.iter().enumerate() {
            // `"key"` first: one scan finds the usual `"key":`, and its absence proves more.
            let quoted = &self.quoted[k];
            let at = match quoted.find(body) {
                None => {
                    let escapes = *unicode_escapes.get_or_insert_with(|| has_unicode_escape(body));
                    if escapes {
                        return false;
                    }
                    found[k] = (0, 0, KIND_ABSENT);
                    continue;
                }
                Some(i) if body.get(i + quoted.needle().len()) == Some(&b':') => first + 1 + i,
                // The name as a value, or spaced from its colon: look for the key itself.
                Some(_) => match finder.find(body) {
                    Some(i) => first + 1 + i,
                    None => return false,
                },
            };
            if bytes[at - 1] == b'\\' {
                return false;
            }
            furthest = furthest.max(at);
            let value_start = skip_ws(bytes, at + finder.needle().len());
            let Some((end, kind)) = value_end(&mut specials, value_start) else {
                return false;
            };
            // A repeated key keeps its last value: the full scan reads one that may repeat.
            let rest = &bytes[end.min(last)..last];
            if quoted.find(rest).is_some() {
                return false;
            }
            // Most lines have no `\u` escape at all: one look per line settles it for every key.
            let escapes = *unicode_escapes.get_or_insert_with(|| has_unicode_escape(body));
            let in_key = |c: char| std::str::from_utf8(quoted.needle()).map_or(true, |n| n.contains(c));
            if escapes && escape_that_may_spell(rest, in_key).is_some() {
                return false;
            }
            // The full scan skips a null, so an earlier value of the key (spaced from its colon,
            // or spelled with `\u`, which the search above passes over) would stay: decline
            // unless this is the key's first mention.
            if kind == KIND_NONE {
                let before = &bytes[first + 1..at];
                if quoted.find(before).is_some() || escapes && escape_that_may_spell(before, in_key).is_some()
                {
                    return false;
                }
            }
            found[k] = (value_start, end, kind);
        }
        // Keys before any `{` or `[` byte are at the top level. Past one (a nested object or an
        // array before a key, as when keys come in any order), the structural check below
        // proves each key found is a member of the top-level object.
        let nested_before = memchr::memchr2(b'{', b'[', &bytes[first + 1..furthest]).is_some();
        let mut keys_at = [0usize; 16];
        let mut n_keys = 0;
        if nested_before {
            for (k, (_, finder)) in self.keys.iter().enumerate() {
                let (value_start, _, kind) = found[k];
                if kind == KIND_ABSENT {
                    continue;
                }
                // The key's opening quote: its needle `"key":` ends where the value (after
                // optional blanks) starts.
                let Some(quote) = key_quote_before(bytes, value_start, finder.needle().len()) else {
                    return false;
                };
                keys_at[n_keys] = quote;
                n_keys += 1;
            }
        }
        // The line up to the last value read must read as JSON, within the field limit: the
        // full scan's fields are the ones before a break, the first 200.
        let last_value = found[..self.keys.len()]
            .iter()
            .filter(|&&(_, _, kind)| kind != KIND_ABSENT)
            .map(|&(_, end, _)| end)
            .max();
        last_value.is_none_or(|end| {
            valid_through_with_keys(&mut specials, end, &keys_at[..n_keys])
                .is_some_and(|leaves| leaves <= MAX_FIELDS_PER_EVENT)
        })
    }
}

/// Where the `"key":` needle of `len` bytes that precedes the value at `value_start` (blanks
/// allowed between its colon and the value) begins.
fn key_quote_before(bytes: &[u8], value_start: usize, len: usize) -> Option<usize> {
    let mut colon_end = value_start;
    while colon_end > 0 && matches!(bytes[colon_end - 1], b' ' | b'\t' | b'\n' | b'\r') {
        colon_end -= 1;
    }
    colon_end.checked_sub(len)
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

/// The end of the scalar value at `i`, and its kind; `None` for anything not a well-formed
/// scalar (objects and arrays cannot occur before the first `{`/`[` past the opening brace).
fn value_end(specials: &mut SpecialBytes<'_>, i: usize) -> Option<(usize, u8)> {
    let b = specials.bytes();
    match *b.get(i)? {
        b'"' => {
            let (close, escaped) = specials.scan_string(i + 1)?;
            Some((close + 1, if escaped { KIND_ESCAPED } else { KIND_STR }))
        }
        b't' if b.get(i..i + 4)? == b"true" => Some((i + 4, KIND_TRUE)),
        b'f' if b.get(i..i + 5)? == b"false" => Some((i + 5, KIND_FALSE)),
        b'n' if b.get(i..i + 4)? == b"null" => Some((i + 4, KIND_NONE)),
        b'-' | b'0'..=b'9' => {
            // JSON's number grammar, and nothing number-like straight after it (`1.5.3`).
            let end = scan_number(b, i)?;
            if b.get(end)
                .is_some_and(|c| matches!(c, b'0'..=b'9' | b'-' | b'+' | b'.' | b'e' | b'E'))
            {
                return None;
            }
            Some((end, KIND_NUM))
        }
        _ => None,
    }
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
    fn declines_what_it_cannot_prove() {
        // A null after an earlier value the search passed over: the full scan keeps the earlier.
        for line in [
            r#"{"a" :1,"a":null}"#,
            r#"{"\u0061":1,"a":null}"#,
            r#"{"a" :1,"n":{},"a":null}"#,
        ] {
            assert_eq!(fast(&["a"], line), None, "{line}");
        }
        // A key only found after a nested object may itself be nested.
        assert!(fast(&["status"], r#"{"http":{"status":1},"status":2}"#).is_none());
        // A key whose name occurs again after its value may be repeated (the last value counts).
        assert!(fast(&["status"], r#"{"status":2,"status":3}"#).is_none());
        assert!(fast(&["status"], r#"{"status":2,"http":{"status":1}}"#).is_none());
        assert!(fast(&["a"], r#"{"a":2,"\u0061":1}"#).is_none());
        // A key that may be written with an escape: the full scan decides.
        assert!(fast(&["level"], r#"{"lvl":"x","m":"\u0041"}"#).is_none());
        assert!(fast(&["level"], r#"{"le\u0076el":"x"}"#).is_none());
        // A key with space before the colon, or only nested.
        assert!(fast(&["level"], r#"{"level" : "x"}"#).is_none());
        assert!(fast(&["level"], r#"{"a":{"level":1}}"#).is_none());
        // Not closed.
        assert!(fast(&["level"], r#"{"level":"x""#).is_none());
        // Dotted names may be nested fields.
        assert!(KeyFinder::new(["http.status"]).is_none());
        // A key text inside a string value is escaped, so never matches: the key is absent.
        let line = r#"{"a":"x \"b\": 1","c":2}"#;
        assert_eq!(fast(&["b"], line), Some(full(&["b"], line)));
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
        // The quoted name as a value is not a key, but the fast path leaves it to the full scan.
        assert!(fast(&["userId"], r#"{"a":"userId"}"#).is_none());
    }

    /// Random lines built from JSON pieces (nested objects, escapes, keys as values, spaces):
    /// wherever the fast path answers, it answers as the full scan does.
    #[test]
    fn fast_path_agrees_with_the_full_scan_on_random_lines() {
        // (key, member): valid members only (the fast path does not validate the rest of a
        // line: documented); a key now and then repeated.
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
        ];
        let mut state = 0x9e37_79b9_7f4a_7c15_u64;
        let mut next = |n: usize| {
            state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
            let mut z = state;
            z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
            ((z ^ (z >> 31)) % n as u64) as usize
        };
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
        assert!(answered > 10_000, "the fast path answered only {answered} times");
    }
}
