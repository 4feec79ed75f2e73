//! Rendering errors for people: `line:column`, the query line, a caret under the span, and a
//! "did you mean" suggestion for misspelt names. Errors are data with spans until here.

use std::fmt::Write as _;

use crate::syntax::span::Span;

/// Renders `message` about `span` of `source`:
///
/// ```text
/// query error at 1:17: unknown function 'cout'; did you mean 'count'?
///   filter x | stats cout(*)
///                    ^^^^
/// ```
pub fn render(kind: &str, message: &str, span: Span, source: &str) -> String {
    let (line_no, col, line) = locate(source, span.start);
    let mut out = format!("{kind} at {line_no}:{col}: {message}\n  {line}\n  ");
    let prefix = line.get(..col - 1).unwrap_or("");
    // Keep tabs so the caret lines up under tab-indented queries.
    for ch in prefix.chars() {
        out.push(if ch == '\t' { '\t' } else { ' ' });
    }
    let line_end_offset = line_start(source, span.start) + line.len();
    let end = span.end.min(line_end_offset).max(span.start);
    let width = source
        .get(span.start..end)
        .map_or(1, |s| s.chars().count())
        .max(1);
    let _ = write!(out, "{}", "^".repeat(width));
    out
}

/// (1-based line, 1-based column in bytes+1 of the line prefix, the line's text) of `offset`.
fn locate(source: &str, offset: usize) -> (usize, usize, &str) {
    let offset = offset.min(source.len());
    let start = line_start(source, offset);
    let end = source[start..].find('\n').map_or(source.len(), |i| start + i);
    let line_no = source[..start].matches('\n').count() + 1;
    let line = source[start..end].trim_end_matches('\r');
    let col = source[start..offset].chars().count() + 1;
    (line_no, col.min(line.chars().count() + 1), line)
}

fn line_start(source: &str, offset: usize) -> usize {
    let offset = offset.min(source.len());
    // `offset` may sit inside a multi-byte character only if a span was built wrongly; step back.
    let mut at = offset;
    while !source.is_char_boundary(at) {
        at -= 1;
    }
    source[..at].rfind('\n').map_or(0, |i| i + 1)
}

/// The closest of `candidates` to `word` (case-insensitive), if it is close enough to be a typo.
pub fn did_you_mean<'a>(word: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let word = word.to_ascii_lowercase();
    let limit = match word.chars().count() {
        0..=3 => 1,
        4..=7 => 2,
        _ => 3,
    };
    candidates
        .into_iter()
        .map(|c| (edit_distance(&word, &c.to_ascii_lowercase()), c))
        .filter(|(d, _)| *d <= limit)
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

/// Levenshtein distance over chars.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    let mut cur = vec![0; b.len() + 1];
    for (i, ca) in a.chars().enumerate() {
        cur[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(ca != *cb);
            cur[j + 1] = (prev[j] + cost).min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        std::mem::swap(&mut prev, &mut cur);
    }
    prev[b.len()]
}

#[cfg(test)]
mod tests {
    use super::{did_you_mean, render};
    use crate::syntax::span::Span;

    #[test]
    fn caret_sits_under_the_span_on_its_own_line() {
        let q = "fields a\n| stats cout(*)";
        let text = render("query error", "unknown function 'cout'", Span::new(17, 21), q);
        assert_eq!(
            text,
            "query error at 2:9: unknown function 'cout'\n  | stats cout(*)\n          ^^^^"
        );
    }

    #[test]
    fn a_span_at_the_end_gets_one_caret() {
        let q = "filter x =";
        let text = render("query error", "expected an expression", Span::new(10, 10), q);
        assert_eq!(
            text,
            "query error at 1:11: expected an expression\n  filter x =\n            ^"
        );
    }

    #[test]
    fn suggestions_are_close_matches_only() {
        assert_eq!(did_you_mean("cout", ["count", "concat", "ceil"]), Some("count"));
        assert_eq!(did_you_mean("STATS", ["stats", "sort"]), Some("stats"));
        assert_eq!(did_you_mean("frobnicate", ["stats", "sort"]), None);
    }
}
