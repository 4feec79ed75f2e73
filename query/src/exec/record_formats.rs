//! The two record formats `parse` reads besides globs and regexes: logfmt (`k=v k2="v 2"`) and
//! one CSV record (RFC 4180 quoting).

use crate::value::Value;

/// The `key=value` pairs of a logfmt line, in order. Values may be double-quoted with `\"`,
/// `\\`, `\n` and `\t` escapes; a key without `=` is a flag and gets `true`; a repeated key
/// keeps every pair (a lookup finds the last). Text that is neither is skipped.
pub fn logfmt_pairs(text: &str) -> Vec<(String, Value)> {
    let bytes = text.as_bytes();
    let mut pairs = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        while i < bytes.len() && bytes[i].is_ascii_whitespace() {
            i += 1;
        }
        let key_start = i;
        while i < bytes.len() && !bytes[i].is_ascii_whitespace() && bytes[i] != b'=' && bytes[i] != b'"' {
            i += 1;
        }
        let key = &text[key_start..i];
        if i < bytes.len() && bytes[i] == b'"' {
            // A quote where a key should be: not logfmt; skip the quoted run.
            let (_, end) = quoted(text, i);
            i = end;
            continue;
        }
        if key.is_empty() {
            // A stray `=`.
            i += 1;
            continue;
        }
        if i >= bytes.len() || bytes[i] != b'=' {
            pairs.push((key.to_string(), Value::Bool(true)));
            continue;
        }
        i += 1;
        if i < bytes.len() && bytes[i] == b'"' {
            let (value, end) = quoted(text, i);
            pairs.push((key.to_string(), Value::str(value)));
            i = end;
        } else {
            let value_start = i;
            while i < bytes.len() && !bytes[i].is_ascii_whitespace() {
                i += 1;
            }
            pairs.push((key.to_string(), Value::str(&text[value_start..i])));
        }
    }
    pairs
}

/// The unescaped text of the quoted value whose `"` is at `open`, and the index after its
/// closing quote (or the end, if it has none).
fn quoted(text: &str, open: usize) -> (String, usize) {
    let mut value = String::new();
    let mut chars = text[open + 1..].char_indices();
    while let Some((offset, c)) = chars.next() {
        match c {
            '"' => return (value, open + 1 + offset + 1),
            '\\' => match chars.next() {
                Some((_, 'n')) => value.push('\n'),
                Some((_, 't')) => value.push('\t'),
                Some((_, 'r')) => value.push('\r'),
                Some((_, other)) => value.push(other),
                None => value.push('\\'),
            },
            c => value.push(c),
        }
    }
    (value, text.len())
}

/// The values of one CSV record: comma-separated; a value that starts with `"` is quoted, `""`
/// in it is one `"`, and commas inside it are text. Text after a closing quote, up to the next
/// comma, is kept; an unclosed quote runs to the end. Spaces are kept as written.
pub fn csv_values(text: &str) -> Vec<String> {
    let mut values = Vec::new();
    let mut current = String::new();
    let mut chars = text.chars().peekable();
    let mut at_start = true;
    let mut in_quotes = false;
    while let Some(c) = chars.next() {
        if in_quotes {
            if c == '"' {
                if chars.peek() == Some(&'"') {
                    chars.next();
                    current.push('"');
                } else {
                    in_quotes = false;
                }
            } else {
                current.push(c);
            }
            continue;
        }
        match c {
            '"' if at_start => {
                in_quotes = true;
                at_start = false;
            }
            ',' => {
                values.push(std::mem::take(&mut current));
                at_start = true;
            }
            c => {
                current.push(c);
                at_start = false;
            }
        }
    }
    values.push(current);
    values
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texts(pairs: &[(String, Value)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| {
                (
                    k.clone(),
                    v.as_text().map(std::borrow::Cow::into_owned).unwrap_or_default(),
                )
            })
            .collect()
    }

    fn owned(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_string(), (*v).to_string()))
            .collect()
    }

    #[test]
    fn logfmt_reads_plain_quoted_and_flag_pairs() {
        let pairs =
            logfmt_pairs(r#"level=error msg="disk \"full\" now" took=12ms  retry dup=1 dup=2 path= end"#);
        assert_eq!(
            texts(&pairs),
            owned(&[
                ("level", "error"),
                ("msg", "disk \"full\" now"),
                ("took", "12ms"),
                ("retry", "1"),
                ("dup", "1"),
                ("dup", "2"),
                ("path", ""),
                ("end", "1"),
            ])
        );
        assert!(logfmt_pairs("").is_empty());
        assert!(logfmt_pairs("   ").is_empty());
    }

    #[test]
    fn logfmt_survives_broken_text() {
        assert_eq!(
            texts(&logfmt_pairs(r#"a="unclosed"#)),
            owned(&[("a", "unclosed")])
        );
        assert_eq!(
            texts(&logfmt_pairs(r#"=x "q" b=2"#)),
            owned(&[("x", "1"), ("b", "2")])
        );
        assert_eq!(
            texts(&logfmt_pairs("k=é v=\\")),
            owned(&[("k", "é"), ("v", "\\")])
        );
    }

    /// Random text from pieces that matter to the two formats.
    fn random_text(rng: &mut crate::test_rng::Rng) -> String {
        let pieces = [
            "a", "é", "=", "\"", "\\", ",", " ", "\t", "x=1", "\"\"", "k", "9", "\n", "🙂",
        ];
        (0..rng.below(24)).map(|_| rng.pick(&pieces)).collect()
    }

    #[test]
    fn random_text_never_panics_and_keeps_csv_values_whole() {
        let mut rng = crate::test_rng::Rng(21);
        for _ in 0..20_000 {
            let text = random_text(&mut rng);
            let _ = logfmt_pairs(&text);
            let values = csv_values(&text);
            assert!(!values.is_empty(), "{text:?}");
        }
    }

    #[test]
    fn csv_reads_back_what_rfc_4180_quoting_writes() {
        let mut rng = crate::test_rng::Rng(4180);
        for _ in 0..20_000 {
            let fields: Vec<String> = (0..=rng.below(6))
                .map(|_| random_text(&mut rng).replace('\n', ""))
                .collect();
            let line: Vec<String> = fields
                .iter()
                .map(|f| {
                    if f.contains([',', '"']) || f.starts_with(' ') {
                        format!("\"{}\"", f.replace('"', "\"\""))
                    } else {
                        f.clone()
                    }
                })
                .collect();
            assert_eq!(csv_values(&line.join(",")), fields, "{line:?}");
        }
    }

    #[test]
    fn logfmt_reads_back_quoted_values() {
        let mut rng = crate::test_rng::Rng(7);
        for _ in 0..20_000 {
            let pairs: Vec<(String, String)> = (0..rng.below(5))
                .map(|i| (format!("k{i}"), random_text(&mut rng).replace(['\n', '\t'], " ")))
                .collect();
            let line: Vec<String> = pairs
                .iter()
                .map(|(k, v)| format!("{k}=\"{}\"", v.replace('\\', "\\\\").replace('"', "\\\"")))
                .collect();
            let back: Vec<(String, String)> = texts(&logfmt_pairs(&line.join(" ")));
            assert_eq!(back, pairs, "{line:?}");
        }
    }

    #[test]
    fn csv_follows_rfc_4180_quoting() {
        assert_eq!(csv_values("a,b,,c"), vec!["a", "b", "", "c"]);
        assert_eq!(
            csv_values(r#""x, y","say ""hi""",z"#),
            vec!["x, y", r#"say "hi""#, "z"]
        );
        assert_eq!(
            csv_values(r#" a ,"b"c,"unclosed, d"#),
            vec![" a ", "bc", "unclosed, d"]
        );
        assert_eq!(csv_values(""), vec![""]);
        assert_eq!(csv_values(r#"a"b,c"#), vec![r#"a"b"#, "c"]);
    }
}
