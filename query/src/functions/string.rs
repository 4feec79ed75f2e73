//! String functions (section 4.6), including the URL, base64 and hex codecs. Arguments convert
//! with `Value::as_text`; a missing argument, a list or a map gives no value. Positions and
//! lengths count Unicode code points.

use std::cell::RefCell;
use std::collections::HashMap;
use std::fmt::Write as _;
use std::sync::Arc;

use regex::Regex;

use super::{arg, number, string, text, to_count, FnContext, ScalarFunction};
use crate::value::Value;

pub(super) const FUNCTIONS: &[ScalarFunction] = &[
    ScalarFunction {
        name: "concat",
        min_args: 1,
        max_args: None,
        call: concat,
    },
    ScalarFunction {
        name: "ltrim",
        min_args: 1,
        max_args: Some(2),
        call: ltrim,
    },
    ScalarFunction {
        name: "rtrim",
        min_args: 1,
        max_args: Some(2),
        call: rtrim,
    },
    ScalarFunction {
        name: "trim",
        min_args: 1,
        max_args: Some(2),
        call: trim,
    },
    fixed("strlen", 1, strlen),
    fixed("toupper", 1, to_upper),
    fixed("tolower", 1, to_lower),
    ScalarFunction {
        name: "substr",
        min_args: 2,
        max_args: Some(3),
        call: substr,
    },
    fixed("replace", 3, replace),
    fixed("regexReplace", 3, regex_replace),
    ScalarFunction {
        name: "strcontains",
        min_args: 2,
        max_args: Some(3),
        call: str_contains,
    },
    fixed("startsWith", 2, starts_with),
    fixed("endsWith", 2, ends_with),
    fixed("urlencode", 1, url_encode),
    fixed("urldecode", 1, url_decode),
    fixed("base64encode", 1, base64_encode),
    fixed("base64decode", 1, base64_decode),
    fixed("split", 2, split),
    fixed("hexToAscii", 1, hex_to_ascii),
    fixed("hexToDec", 1, hex_to_dec),
    fixed("decToHex", 1, dec_to_hex),
];

const fn fixed(name: &'static str, arity: usize, call: super::ScalarImpl) -> ScalarFunction {
    ScalarFunction {
        name,
        min_args: arity,
        max_args: Some(arity),
        call,
    }
}

// UNSURE: a missing argument makes the whole concat missing (SQL-style) rather than empty.
fn concat(_: &FnContext, args: &[Option<Value>]) -> Option<Value> {
    let mut out = String::new();
    for i in 0..args.len() {
        out.push_str(&text(args, i)?);
    }
    string(out)
}

/// Which ends `trim_ends` strips.
#[derive(Clone, Copy)]
enum Ends {
    Start,
    End,
    Both,
}

/// Strips whitespace, or with a second argument any of its characters, from the given ends.
fn trim_ends(args: &[Option<Value>], ends: Ends) -> Option<Value> {
    let s = text(args, 0)?;
    if args.len() < 2 {
        return string(match ends {
            Ends::Start => s.trim_start(),
            Ends::End => s.trim_end(),
            Ends::Both => s.trim(),
        });
    }
    let set: Vec<char> = text(args, 1)?.chars().collect();
    let set = set.as_slice();
    string(match ends {
        Ends::Start => s.trim_start_matches(set),
        Ends::End => s.trim_end_matches(set),
        Ends::Both => s.trim_matches(set),
    })
}

fn ltrim(_: &FnContext, args: &[Option<Value>]) -> Option<Value> {
    trim_ends(args, Ends::Start)
}

fn rtrim(_: &FnContext, args: &[Option<Value>]) -> Option<Value> {
    trim_ends(args, Ends::End)
}

fn trim(_: &FnContext, args: &[Option<Value>]) -> Option<Value> {
    trim_ends(args, Ends::Both)
}

fn strlen(_: &FnContext, args: &[Option<Value>]) -> Option<Value> {
    Value::num(text(args, 0)?.chars().count() as f64)
}

fn to_upper(_: &FnContext, args: &[Option<Value>]) -> Option<Value> {
    string(text(args, 0)?.to_uppercase())
}

fn to_lower(_: &FnContext, args: &[Option<Value>]) -> Option<Value> {
    string(text(args, 0)?.to_lowercase())
}

/// The byte offset of code point `n` of `s`, or `s.len()` when `s` is shorter.
fn char_offset(s: &str, n: usize) -> usize {
    s.char_indices().nth(n).map_or(s.len(), |(i, _)| i)
}

/// `substr(s, start [, len])`: 0-based start, in code points.
// UNSURE: a negative start counts from 0 (not from the end), a negative length gives "".
fn substr(_: &FnContext, args: &[Option<Value>]) -> Option<Value> {
    let s = text(args, 0)?;
    let start = to_count(number(args, 1)?);
    let rest = s.get(char_offset(&s, start)..).unwrap_or_default();
    let rest = if args.len() > 2 {
        let len = to_count(number(args, 2)?);
        rest.get(..char_offset(rest, len)).unwrap_or_default()
    } else {
        rest
    };
    string(rest)
}

/// Replaces every literal occurrence.
// UNSURE: an empty search string leaves the text as it is (rather than inserting everywhere).
fn replace(_: &FnContext, args: &[Option<Value>]) -> Option<Value> {
    let s = text(args, 0)?;
    let search = text(args, 1)?;
    let replacement = text(args, 2)?;
    if search.is_empty() {
        return string(s);
    }
    string(s.replace(search.as_ref(), &replacement))
}

/// Compiled patterns kept per thread; a full cache is emptied rather than tracked as an LRU.
const REGEX_CACHE_CAP: usize = 64;

thread_local! {
    /// Pattern → compiled regex, or `None` for a pattern that does not compile.
    static REGEX_CACHE: RefCell<HashMap<Box<str>, Option<Regex>>> = RefCell::new(HashMap::new());
}

/// The compiled pattern, from the cache when it has been seen on this thread.
fn cached_regex(pattern: &str) -> Option<Regex> {
    REGEX_CACHE.with(|cache| {
        let Ok(mut cache) = cache.try_borrow_mut() else {
            return Regex::new(pattern).ok();
        };
        if let Some(compiled) = cache.get(pattern) {
            return compiled.clone();
        }
        if cache.len() >= REGEX_CACHE_CAP {
            cache.clear();
        }
        let compiled = Regex::new(pattern).ok();
        cache.insert(pattern.into(), compiled.clone());
        compiled
    })
}

/// Replaces every match of the pattern; an invalid pattern gives no value.
// UNSURE: `$1` / `${name}` in the replacement expand to groups and `$$` is a literal `$` (the
// regex crate's syntax, same as Java's replaceAll for the common forms).
fn regex_replace(_: &FnContext, args: &[Option<Value>]) -> Option<Value> {
    let s = text(args, 0)?;
    let regex = cached_regex(&text(args, 1)?)?;
    let replacement = text(args, 2)?;
    string(regex.replace_all(&s, replacement.as_ref()))
}

/// Substring test; a truthy third argument makes it case-insensitive.
fn str_contains(_: &FnContext, args: &[Option<Value>]) -> Option<Value> {
    let s = text(args, 0)?;
    let sub = text(args, 1)?;
    let ignore_case = arg(args, 2).is_some_and(Value::is_truthy);
    let found = if ignore_case {
        s.to_lowercase().contains(&sub.to_lowercase())
    } else {
        s.contains(sub.as_ref())
    };
    Some(Value::Bool(found))
}

// UNSURE (strcontains, startsWith, endsWith): a missing text gives no value, not false.
fn starts_with(_: &FnContext, args: &[Option<Value>]) -> Option<Value> {
    Some(Value::Bool(text(args, 0)?.starts_with(text(args, 1)?.as_ref())))
}

fn ends_with(_: &FnContext, args: &[Option<Value>]) -> Option<Value> {
    Some(Value::Bool(text(args, 0)?.ends_with(text(args, 1)?.as_ref())))
}

/// Percent-encodes every UTF-8 byte except the unreserved `A-Z a-z 0-9 - _ . ~`.
fn url_encode(_: &FnContext, args: &[Option<Value>]) -> Option<Value> {
    let s = text(args, 0)?;
    let mut out = String::with_capacity(s.len());
    for byte in s.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(byte));
        } else {
            // Writing to a String cannot fail.
            let _ = write!(out, "%{byte:02X}");
        }
    }
    string(out)
}

/// Decodes `%XX` escapes; an invalid escape or a result that is not UTF-8 gives no value.
// UNSURE: `+` decodes to a space, as Java's URLDecoder does.
fn url_decode(_: &FnContext, args: &[Option<Value>]) -> Option<Value> {
    let s = text(args, 0)?;
    let mut bytes = Vec::with_capacity(s.len());
    let mut input = s.bytes();
    while let Some(byte) = input.next() {
        bytes.push(match byte {
            b'%' => (hex_digit(input.next()?)? << 4) | hex_digit(input.next()?)?,
            b'+' => b' ',
            other => other,
        });
    }
    string(String::from_utf8(bytes).ok()?)
}

fn hex_digit(byte: u8) -> Option<u8> {
    char::from(byte).to_digit(16).and_then(|d| u8::try_from(d).ok())
}

const BASE64_ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// Base64 of the text's UTF-8 bytes, standard alphabet, with padding.
fn base64_encode(_: &FnContext, args: &[Option<Value>]) -> Option<Value> {
    let s = text(args, 0)?;
    let mut out = String::with_capacity(s.len().div_ceil(3) * 4);
    for chunk in s.as_bytes().chunks(3) {
        let mut group = [0u8; 3];
        for (slot, byte) in group.iter_mut().zip(chunk) {
            *slot = *byte;
        }
        let bits = (u32::from(group[0]) << 16) | (u32::from(group[1]) << 8) | u32::from(group[2]);
        // One input byte makes two output characters, two make three, three make four.
        for i in 0..4 {
            if i <= chunk.len() {
                // Masked to six bits: always a valid index into the 64-letter alphabet.
                let index = ((bits >> (18 - 6 * i)) & 0x3f) as usize;
                out.push(char::from(BASE64_ALPHABET[index]));
            } else {
                out.push('=');
            }
        }
    }
    string(out)
}

/// Decodes standard base64. Padding may be omitted; characters outside the alphabet, misplaced
/// padding, a length that no encoding produces, or bytes that are not UTF-8 give no value.
fn base64_decode(_: &FnContext, args: &[Option<Value>]) -> Option<Value> {
    let s = text(args, 0)?;
    let data = s.trim_end_matches('=');
    let padding = s.len() - data.len();
    if padding > 2 || (padding > 0 && s.len() % 4 != 0) || data.len() % 4 == 1 {
        return None;
    }
    let mut bytes = Vec::with_capacity(data.len() / 4 * 3 + 2);
    for chunk in data.as_bytes().chunks(4) {
        let mut bits: u32 = 0;
        for &c in chunk {
            let value = BASE64_ALPHABET.iter().position(|&a| a == c)?;
            bits = (bits << 6) | u32::try_from(value).ok()?;
        }
        // A short final chunk of n characters carries n - 1 whole bytes.
        bits <<= 6 * (4 - chunk.len());
        let decoded = bits.to_be_bytes();
        bytes.extend(decoded.iter().skip(1).take(chunk.len() - 1));
    }
    string(String::from_utf8(bytes).ok()?)
}

/// Splits on every occurrence of the delimiter, keeping empty pieces.
// UNSURE: an empty delimiter splits into code points (Java's String.split("") does).
fn split(_: &FnContext, args: &[Option<Value>]) -> Option<Value> {
    let s = text(args, 0)?;
    let delimiter = text(args, 1)?;
    let pieces: Vec<Value> = if delimiter.is_empty() {
        s.chars().map(|c| Value::str(c.to_string())).collect()
    } else {
        s.split(delimiter.as_ref()).map(Value::str).collect()
    };
    Some(Value::List(Arc::new(pieces)))
}

/// The text without an optional `0x`/`0X` prefix.
fn strip_hex_prefix(s: &str) -> &str {
    s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")).unwrap_or(s)
}

/// Decodes pairs of hex digits (optional `0x`) into bytes read as UTF-8.
fn hex_to_ascii(_: &FnContext, args: &[Option<Value>]) -> Option<Value> {
    let s = text(args, 0)?;
    let digits = strip_hex_prefix(s.trim()).as_bytes();
    if !digits.len().is_multiple_of(2) {
        return None;
    }
    let bytes = digits
        .chunks_exact(2)
        .map(|pair| match pair {
            [high, low] => Some((hex_digit(*high)? << 4) | hex_digit(*low)?),
            _ => None,
        })
        .collect::<Option<Vec<u8>>>()?;
    string(String::from_utf8(bytes).ok()?)
}

/// Hex text (optional `-`, optional `0x`) to a number.
fn hex_to_dec(_: &FnContext, args: &[Option<Value>]) -> Option<Value> {
    let s = text(args, 0)?;
    let s = s.trim();
    let (negative, magnitude) = match s.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, s),
    };
    let digits = strip_hex_prefix(magnitude);
    // from_str_radix would also take a `+`; only hex digits are hex.
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    // Past 2^53 the number is the nearest double, as every number in the engine is.
    let value = u128::from_str_radix(digits, 16).ok()? as f64;
    Value::num(if negative { -value } else { value })
}

/// A number as lowercase hex with `0x` (`-0x…` for negatives), fraction truncated.
fn dec_to_hex(_: &FnContext, args: &[Option<Value>]) -> Option<Value> {
    let n = number(args, 0)?.trunc();
    let magnitude = n.abs();
    // 2^128: the first magnitude a u128 cannot hold. Below it the `as` cast is exact.
    if magnitude.is_nan() || magnitude >= 340_282_366_920_938_463_463_374_607_431_768_211_456.0 {
        return None;
    }
    let sign = if n < 0.0 { "-" } else { "" };
    string(format!("{sign}0x{:x}", magnitude as u128))
}

#[cfg(test)]
mod tests {
    use super::super::tests::{b, call, n, s};
    use crate::value::Value;
    use std::sync::Arc;

    #[allow(clippy::unnecessary_wraps)] // Arguments are Option<Value>.
    fn list(items: &[&str]) -> Option<Value> {
        Some(Value::List(Arc::new(
            items.iter().map(|i| Value::str(*i)).collect(),
        )))
    }

    #[test]
    fn string_functions_propagate_missing_lists_and_maps() {
        let structure = Some(Value::Map(Arc::new(vec![])));
        for name in [
            "strlen",
            "toupper",
            "tolower",
            "ltrim",
            "rtrim",
            "trim",
            "urlencode",
            "urldecode",
            "base64encode",
            "base64decode",
            "hexToAscii",
            "hexToDec",
            "decToHex",
        ] {
            assert_eq!(call(name, &[None]), None, "{name}");
            assert_eq!(call(name, std::slice::from_ref(&structure)), None, "{name}");
        }
        for name in ["strcontains", "startsWith", "endsWith", "split"] {
            assert_eq!(call(name, &[None, s("a")]), None, "{name}");
            assert_eq!(call(name, &[s("a"), None]), None, "{name}");
        }
        assert_eq!(call("replace", &[s("a"), s("a"), None]), None);
        assert_eq!(call("substr", &[s("abc"), None]), None);
    }

    #[test]
    fn concat_joins_text_and_is_missing_when_an_argument_is() {
        assert_eq!(call("concat", &[s("GET"), s("-"), n(200.0)]), s("GET-200"));
        assert_eq!(call("concat", &[s("a"), b(true)]), s("a1"));
        assert_eq!(call("concat", &[s("a"), None]), None);
    }

    #[test]
    fn trim_family_strips_whitespace_by_default() {
        assert_eq!(call("ltrim", &[s(" \t a b \n")]), s("a b \n"));
        assert_eq!(call("rtrim", &[s(" \t a b \n")]), s(" \t a b"));
        assert_eq!(call("trim", &[s(" \t a b \n")]), s("a b"));
    }

    #[test]
    fn trim_family_strips_any_of_the_given_characters() {
        assert_eq!(call("ltrim", &[s("xyZxyfooxyZ"), s("xyZ")]), s("fooxyZ"));
        assert_eq!(call("rtrim", &[s("xyZfooxyxyZ"), s("xyZ")]), s("xyZfoo"));
        assert_eq!(call("trim", &[s("xyZxyfooxyxyZ"), s("xyZ")]), s("foo"));
        assert_eq!(call("trim", &[s("  foo  "), s("")]), s("  foo  "));
        assert_eq!(call("trim", &[s("ééaéé"), s("é")]), s("a"));
        assert_eq!(call("trim", &[s("foo"), None]), None);
    }

    #[test]
    fn strlen_counts_code_points() {
        assert_eq!(call("strlen", &[s("héllo")]), n(5.0));
        assert_eq!(call("strlen", &[s("\u{1F600}")]), n(1.0));
        assert_eq!(call("strlen", &[s("")]), n(0.0));
        assert_eq!(call("strlen", &[n(12.5)]), n(4.0));
    }

    #[test]
    fn toupper_and_tolower_are_unicode_aware() {
        assert_eq!(call("toupper", &[s("héllo")]), s("HÉLLO"));
        assert_eq!(call("tolower", &[s("ÀB")]), s("àb"));
    }

    #[test]
    fn substr_is_zero_based_on_code_points() {
        assert_eq!(call("substr", &[s("xyZfooxyZ"), n(3.0), n(3.0)]), s("foo"));
        assert_eq!(call("substr", &[s("xyZfooxyZ"), n(3.0)]), s("fooxyZ"));
        assert_eq!(call("substr", &[s("héllo wörld"), n(1.0), n(4.0)]), s("éllo"));
        assert_eq!(call("substr", &[s("\u{1F600}ab"), s("1")]), s("ab"));
    }

    #[test]
    fn substr_clamps_out_of_range_positions() {
        assert_eq!(call("substr", &[s("abc"), n(10.0)]), s(""));
        assert_eq!(call("substr", &[s("abc"), n(1.0), n(100.0)]), s("bc"));
        assert_eq!(call("substr", &[s("abc"), n(-2.0), n(2.0)]), s("ab"));
        assert_eq!(call("substr", &[s("abc"), n(0.0), n(-1.0)]), s(""));
        assert_eq!(call("substr", &[s("abc"), n(1.9), n(1.9)]), s("b"));
    }

    #[test]
    fn replace_swaps_every_literal_occurrence() {
        assert_eq!(call("replace", &[s("a.b.c"), s("."), s("::")]), s("a::b::c"));
        assert_eq!(call("replace", &[s("aaa"), s("aa"), s("b")]), s("ba"));
        assert_eq!(call("replace", &[s("abc"), s(""), s("x")]), s("abc"));
        assert_eq!(call("replace", &[s("abc"), s("z"), s("x")]), s("abc"));
    }

    #[test]
    fn regex_replace_replaces_every_match() {
        assert_eq!(
            call("regexReplace", &[s("card 1234-5678"), s("[0-9]"), s("*")]),
            s("card ****-****")
        );
        assert_eq!(call("regexReplace", &[s("a1b22"), s("\\d+"), s("#")]), s("a#b#"));
        assert_eq!(
            call("regexReplace", &[s("user=bob"), s("user=(\\w+)"), s("name=$1")]),
            s("name=bob")
        );
        assert_eq!(call("regexReplace", &[s("price"), s("p"), s("$$")]), s("$rice"));
        assert_eq!(call("regexReplace", &[s("none"), s("\\d"), s("x")]), s("none"));
    }

    #[test]
    fn regex_replace_with_an_invalid_pattern_is_no_value() {
        assert_eq!(call("regexReplace", &[s("abc"), s("(unclosed"), s("x")]), None);
        // Cached as invalid, still no value the second time.
        assert_eq!(call("regexReplace", &[s("abc"), s("(unclosed"), s("x")]), None);
    }

    #[test]
    fn regex_cache_keeps_working_past_its_cap() {
        for i in 0..(super::REGEX_CACHE_CAP * 2 + 3) {
            let pattern = format!("x{{{i}}}");
            let input = "x".repeat(i);
            assert_eq!(
                call("regexReplace", &[s(&input), s(&pattern), s("y")]),
                s("y"),
                "{pattern}"
            );
        }
    }

    #[test]
    fn strcontains_is_case_sensitive_unless_asked() {
        assert_eq!(call("strcontains", &[s("Hello World"), s("World")]), b(true));
        assert_eq!(call("strcontains", &[s("Hello World"), s("world")]), b(false));
        assert_eq!(
            call("strcontains", &[s("Hello World"), s("world"), b(true)]),
            b(true)
        );
        assert_eq!(
            call("strcontains", &[s("Hello World"), s("world"), s("true")]),
            b(true)
        );
        assert_eq!(
            call("strcontains", &[s("Hello World"), s("world"), b(false)]),
            b(false)
        );
        assert_eq!(
            call("strcontains", &[s("Hello World"), s("world"), None]),
            b(false)
        );
        assert_eq!(call("strcontains", &[s("abc"), s("")]), b(true));
    }

    #[test]
    fn starts_with_and_ends_with_compare_prefixes_and_suffixes() {
        assert_eq!(call("startsWith", &[s("/api/users"), s("/api")]), b(true));
        assert_eq!(call("startsWith", &[s("/api/users"), s("/API")]), b(false));
        assert_eq!(call("endsWith", &[s("index.html"), s(".html")]), b(true));
        assert_eq!(call("endsWith", &[s("index.html"), s(".htm")]), b(false));
        assert_eq!(call("startsWith", &[n(404.0), s("4")]), b(true));
    }

    #[test]
    fn urlencode_keeps_only_unreserved_characters() {
        assert_eq!(
            call("urlencode", &[s("a b&c=d/é~_.-")]),
            s("a%20b%26c%3Dd%2F%C3%A9~_.-")
        );
        assert_eq!(call("urlencode", &[s("")]), s(""));
    }

    #[test]
    fn urldecode_reverses_percent_escapes() {
        assert_eq!(call("urldecode", &[s("a%20b%26c%3dd%2F%C3%A9")]), s("a b&c=d/é"));
        assert_eq!(call("urldecode", &[s("a+b")]), s("a b"));
        assert_eq!(call("urldecode", &[s("100%")]), None);
        assert_eq!(call("urldecode", &[s("%zz")]), None);
        assert_eq!(call("urldecode", &[s("%FF")]), None);
    }

    #[test]
    fn base64_encodes_with_padding() {
        assert_eq!(call("base64encode", &[s("hello")]), s("aGVsbG8="));
        assert_eq!(call("base64encode", &[s("hi")]), s("aGk="));
        assert_eq!(call("base64encode", &[s("abc")]), s("YWJj"));
        assert_eq!(call("base64encode", &[s("")]), s(""));
        assert_eq!(call("base64encode", &[s("é?>")]), s("w6k/Pg=="));
    }

    #[test]
    fn base64_decodes_standard_input() {
        assert_eq!(call("base64decode", &[s("aGVsbG8=")]), s("hello"));
        assert_eq!(call("base64decode", &[s("aGVsbG8")]), s("hello"));
        assert_eq!(call("base64decode", &[s("aGk=")]), s("hi"));
        assert_eq!(call("base64decode", &[s("YWJj")]), s("abc"));
        assert_eq!(call("base64decode", &[s("w6k/Pg==")]), s("é?>"));
        assert_eq!(call("base64decode", &[s("")]), s(""));
    }

    #[test]
    fn base64_decode_rejects_invalid_input() {
        for bad in ["a", "aGk===", "aG=k", "aGk*", "a GVs", "aGVsbG8==", "/w=="] {
            assert_eq!(call("base64decode", &[s(bad)]), None, "{bad:?}");
        }
    }

    #[test]
    fn split_returns_a_list_of_strings() {
        assert_eq!(call("split", &[s("a,b,,c"), s(",")]), list(&["a", "b", "", "c"]));
        assert_eq!(call("split", &[s("a::b"), s("::")]), list(&["a", "b"]));
        assert_eq!(call("split", &[s("abc"), s(";")]), list(&["abc"]));
        assert_eq!(call("split", &[s("hé"), s("")]), list(&["h", "é"]));
    }

    #[test]
    fn hex_to_ascii_decodes_byte_pairs() {
        assert_eq!(call("hexToAscii", &[s("48656c6c6f")]), s("Hello"));
        assert_eq!(call("hexToAscii", &[s("0x48656C6C6F")]), s("Hello"));
        assert_eq!(call("hexToAscii", &[s("486")]), None);
        assert_eq!(call("hexToAscii", &[s("zz")]), None);
        assert_eq!(call("hexToAscii", &[s("ff")]), None);
        assert_eq!(call("hexToAscii", &[s("+1")]), None);
    }

    #[test]
    fn hex_to_dec_accepts_an_optional_prefix() {
        assert_eq!(call("hexToDec", &[s("0xff")]), n(255.0));
        assert_eq!(call("hexToDec", &[s("FF")]), n(255.0));
        assert_eq!(call("hexToDec", &[s("0X10")]), n(16.0));
        assert_eq!(call("hexToDec", &[s("-0x10")]), n(-16.0));
        assert_eq!(call("hexToDec", &[n(10.0)]), n(16.0));
        for bad in ["", "0x", "xyz", "+ff", "0x-1", "1 2"] {
            assert_eq!(call("hexToDec", &[s(bad)]), None, "{bad:?}");
        }
        assert_eq!(call("hexToDec", &[s(&"f".repeat(33))]), None);
    }

    #[test]
    fn dec_to_hex_is_lowercase_with_prefix_and_truncates() {
        assert_eq!(call("decToHex", &[n(255.0)]), s("0xff"));
        assert_eq!(call("decToHex", &[n(-255.0)]), s("-0xff"));
        assert_eq!(call("decToHex", &[n(255.9)]), s("0xff"));
        assert_eq!(call("decToHex", &[n(-0.5)]), s("0x0"));
        assert_eq!(call("decToHex", &[n(0.0)]), s("0x0"));
        assert_eq!(call("decToHex", &[s("4096")]), s("0x1000"));
        assert_eq!(call("decToHex", &[n(1e40)]), None);
        assert_eq!(call("decToHex", &[s("ff")]), None);
    }
}
