//! What the two small grammars (metric math, AlarmRule) share: an error that points at a byte of
//! its input, rendered with a caret only at the edge.

use std::fmt;

/// A parse error in a metric-math expression or an alarm rule.
///
/// `offset` is a byte offset into the parsed text, always at a character boundary and at most
/// the text's length (the length itself means "at the end").
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyntaxError {
    pub offset: usize,
    pub message: String,
}

impl SyntaxError {
    pub(crate) fn new(offset: usize, message: impl Into<String>) -> SyntaxError {
        SyntaxError {
            offset,
            message: message.into(),
        }
    }

    /// The line of `source` holding the error, indented by two spaces, then a caret under the
    /// offending character and the message:
    ///
    /// ```text
    ///   SUM(m1, foo(m2))
    ///           ^ unknown function foo; supported: ...
    /// ```
    pub fn render(&self, source: &str) -> String {
        let offset = floor_char_boundary(source, self.offset);
        let line_start = source[..offset].rfind('\n').map_or(0, |i| i + 1);
        let line_end = source[offset..].find('\n').map_or(source.len(), |i| offset + i);
        let line = &source[line_start..line_end];
        // Columns count characters, and a tab is shown as one space so the caret lines up.
        let column = source[line_start..offset].chars().count();
        let shown: String = line.chars().map(|c| if c == '\t' { ' ' } else { c }).collect();
        format!("  {shown}\n  {}^ {}", " ".repeat(column), self.message)
    }
}

impl fmt::Display for SyntaxError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "at byte {}: {}", self.offset, self.message)
    }
}

impl std::error::Error for SyntaxError {}

fn floor_char_boundary(s: &str, mut i: usize) -> usize {
    i = i.min(s.len());
    while !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

/// What a character looks like in a message: `'x'`, or "the end".
pub(crate) fn describe_at(source: &str, offset: usize) -> String {
    match source.get(offset..).and_then(|rest| rest.chars().next()) {
        Some(c) => format!("{c:?}"),
        None => "the end".to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::SyntaxError;

    #[test]
    fn caret_points_at_the_character_on_its_line() {
        let e = SyntaxError::new(8, "unknown function foo");
        assert_eq!(
            e.render("SUM(m1, foo(m2))"),
            "  SUM(m1, foo(m2))\n          ^ unknown function foo"
        );
        let e = SyntaxError::new(6, "here");
        assert_eq!(e.render("a\nbé\ncd"), "  cd\n  ^ here");
        let e = SyntaxError::new(3, "after é");
        assert_eq!(e.render("é x"), "  é x\n    ^ after é");
        let e = SyntaxError::new(99, "end");
        assert_eq!(e.render("ab"), "  ab\n    ^ end");
    }
}
