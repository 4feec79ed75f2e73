//! A literal pre-filter derived from the query: text that every matching line must contain, so
//! most lines of a selective query are rejected with a SIMD substring search and never parsed.
//!
//! Only the filters at the very start of the query count (before anything computes or parses),
//! and only tests of event fields whose values are substrings of the raw line: `f = "text"`,
//! `f like "text"`, `f like /regex/` (a literal run the regex requires), `f in ["a", "b"]`,
//! combined with `and` / `or`. A needle must contain a letter (so it can never be the rendering
//! of a number) and only characters no JSON encoder escapes. A line that contains a `\u` escape
//! is never rejected, since an escaped letter would hide the needle.

use memchr::memmem;

use crate::plan::expr::{CExpr, Matcher};
use crate::plan::{Plan, Slot, Stage};
use crate::syntax::ast::BinaryOp;
use crate::value::Value;

/// What a line must contain to possibly match.
#[derive(Debug)]
pub enum Prefilter {
    Literal(Box<memmem::Finder<'static>>),
    All(Vec<Prefilter>),
    Any(Vec<Prefilter>),
}

impl Prefilter {
    /// The pre-filter for `plan`, if its leading filters give one.
    pub fn from_plan(plan: &Plan) -> Option<Prefilter> {
        let raw: Vec<Slot> = plan
            .input
            .message
            .into_iter()
            .chain(plan.input.discovered.iter().map(|(_, s)| *s))
            .collect();
        let mut needs = Vec::new();
        for stage in &plan.stages {
            match stage {
                Stage::Filter(cond) => needs.extend(need(cond, &raw)),
                _ => break,
            }
        }
        match needs.len() {
            0 => None,
            1 => needs.pop(),
            _ => Some(Prefilter::All(needs)),
        }
    }

    /// Whether `line` may match: false only if it cannot.
    pub fn may_match(&self, line: &[u8]) -> bool {
        self.holds(line) || memmem::find(line, b"\\u").is_some()
    }

    fn holds(&self, line: &[u8]) -> bool {
        match self {
            Prefilter::Literal(finder) => finder.find(line).is_some(),
            Prefilter::All(parts) => parts.iter().all(|p| p.holds(line)),
            Prefilter::Any(parts) => parts.iter().any(|p| p.holds(line)),
        }
    }
}

fn need(expr: &CExpr, raw: &[Slot]) -> Option<Prefilter> {
    let is_raw = |e: &CExpr| matches!(e, CExpr::Slot(s) if raw.contains(s));
    match expr {
        CExpr::Binary(BinaryOp::And, l, r) => match (need(l, raw), need(r, raw)) {
            (Some(a), Some(b)) => Some(Prefilter::All(vec![a, b])),
            (Some(a), None) | (None, Some(a)) => Some(a),
            (None, None) => None,
        },
        CExpr::Binary(BinaryOp::Or, l, r) => Some(Prefilter::Any(vec![need(l, raw)?, need(r, raw)?])),
        CExpr::Binary(BinaryOp::Eq, l, r) => {
            let literal = match (&**l, &**r) {
                (field, CExpr::Const(Some(Value::Str(text))))
                | (CExpr::Const(Some(Value::Str(text))), field)
                    if is_raw(field) =>
                {
                    text
                }
                _ => return None,
            };
            needle(literal)
        }
        CExpr::Like {
            expr,
            matcher,
            negated: false,
        } if is_raw(expr) => match matcher {
            Matcher::Substring(text) => needle(text),
            Matcher::Regex(re) => required_literal(re.as_str()).and_then(|text| needle(&text)),
            Matcher::Dynamic(_) => None,
        },
        CExpr::In {
            expr,
            list,
            negated: false,
        } if is_raw(expr) && !list.is_empty() => {
            let mut any = Vec::new();
            for item in list {
                let CExpr::Const(Some(value)) = item else {
                    return None;
                };
                let items: Vec<Value> = match value {
                    Value::List(values) => values.iter().cloned().collect(),
                    other => vec![other.clone()],
                };
                for v in items {
                    let Value::Str(text) = v else { return None };
                    any.push(needle(&text)?);
                }
            }
            Some(Prefilter::Any(any))
        }
        _ => None,
    }
}

/// Characters that no JSON encoder escapes and that appear as themselves in text lines.
fn is_safe(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, ' ' | '-' | '_' | '.' | ':' | ',' | '=' | '@' | '#' | '%' | '+')
}

/// A finder for the longest safe run of `text`, if it is long enough and has a letter.
fn needle(text: &str) -> Option<Prefilter> {
    if crate::value::parse_number(text).is_some() {
        return None;
    }
    let best = text.split(|c: char| !is_safe(c)).max_by_key(|run| run.len())?;
    if best.len() < 3 || !best.chars().any(|c| c.is_ascii_alphabetic()) {
        return None;
    }
    Some(Prefilter::Literal(Box::new(
        memmem::Finder::new(best.as_bytes()).into_owned(),
    )))
}

/// The longest run of literal text that every match of `pattern` contains: text outside groups,
/// classes and alternations, not followed by an optional quantifier. `None` for case-insensitive
/// patterns and top-level alternation.
pub fn required_literal(pattern: &str) -> Option<String> {
    if pattern.contains("(?i") || pattern.contains("(?x") {
        return None;
    }
    let chars: Vec<char> = pattern.chars().collect();
    let mut runs: Vec<String> = Vec::new();
    let mut run = String::new();
    let mut i = 0;
    let mut depth = 0usize;
    while i < chars.len() {
        let c = chars[i];
        let next = chars.get(i + 1).copied();
        match c {
            '|' if depth == 0 => return None,
            '(' => {
                depth += 1;
                runs.push(std::mem::take(&mut run));
            }
            ')' => {
                depth = depth.saturating_sub(1);
                // A quantifier after a group applies to the group, which we skipped.
            }
            '[' => {
                runs.push(std::mem::take(&mut run));
                // Skip the class.
                i += 1;
                if chars.get(i) == Some(&']') {
                    i += 1;
                }
                while i < chars.len() && chars[i] != ']' {
                    if chars[i] == '\\' {
                        i += 1;
                    }
                    i += 1;
                }
            }
            '?' | '*' | '{' => {
                // The previous atom is optional (or repeated from zero): drop it.
                run.pop();
                runs.push(std::mem::take(&mut run));
                if c == '{' {
                    while i < chars.len() && chars[i] != '}' {
                        i += 1;
                    }
                }
            }
            '+' | '.' | '^' | '$' => runs.push(std::mem::take(&mut run)),
            '\\' => {
                match next {
                    Some(e) if e.is_ascii_punctuation() && depth == 0 => {
                        if matches!(chars.get(i + 2), Some('?' | '*' | '{')) {
                            runs.push(std::mem::take(&mut run));
                        } else {
                            run.push(e);
                        }
                    }
                    _ => runs.push(std::mem::take(&mut run)),
                }
                i += 1;
            }
            _ if depth == 0 => run.push(c),
            _ => {}
        }
        i += 1;
    }
    runs.push(run);
    runs.into_iter().max_by_key(String::len).filter(|r| !r.is_empty())
}

#[cfg(test)]
mod tests {
    use super::{needle, required_literal, Prefilter};

    #[test]
    fn regex_literals_are_the_required_runs_only() {
        assert_eq!(
            required_literal(r"\/api\/orders\/\d+").as_deref(),
            Some("/api/orders/")
        );
        assert_eq!(required_literal("Exception").as_deref(), Some("Exception"));
        assert_eq!(required_literal("colou?r").as_deref(), Some("colo"));
        assert_eq!(required_literal("abc(cdef)?gh").as_deref(), Some("abc"));
        assert_eq!(required_literal("time[a-z]+out").as_deref(), Some("time"));
        assert_eq!(required_literal("(?i)error"), None);
        assert_eq!(required_literal("error|fail"), None);
        assert_eq!(required_literal(r"\d+ms"), Some("ms".to_string()));
    }

    #[test]
    fn needles_need_a_letter_and_safe_characters() {
        assert!(needle("ERROR").is_some());
        assert!(needle("500").is_none());
        assert!(needle("ab").is_none());
        let Some(Prefilter::Literal(f)) = needle("/api/orders/") else {
            panic!()
        };
        assert_eq!(f.needle(), b"orders");
    }

    #[test]
    fn escaped_lines_are_never_rejected() {
        let Some(p) = needle("ERROR") else { panic!() };
        assert!(!p.may_match(br#"{"level":"INFO"}"#));
        assert!(p.may_match(br#"{"level":"ERROR"}"#));
        assert!(p.may_match(br#"{"level":"\u0045RROR"}"#));
    }
}
