//! Log widgets' queries: `SOURCE 'group' | SOURCE 'other' | <Logs Insights query>`. The part
//! after the `SOURCE`s is checked with logq's parser and planner, so a typo fails when the
//! dashboard is rendered, with the caret under it, instead of on the dashboard page.

use skywatch_query::syntax::span::Span;

/// The query CloudWatch stores for `query` over `log_groups`.
pub fn with_sources(log_groups: &[String], query: &str) -> String {
    let mut out = String::new();
    for group in log_groups {
        out.push_str("SOURCE '");
        out.push_str(group);
        out.push_str("' | ");
    }
    out.push_str(query.trim());
    out
}

/// The log groups named by the leading `SOURCE` parts and the byte offset where the Logs
/// Insights query starts.
pub fn split_sources(full: &str) -> Result<(Vec<String>, usize), String> {
    let mut groups = Vec::new();
    let mut at = 0;
    loop {
        let rest = &full[at..];
        let trimmed = rest.trim_start();
        let skipped = rest.len() - trimmed.len();
        let Some(after) = trimmed.strip_prefix("SOURCE") else {
            return Ok((groups, at + skipped));
        };
        let after_ws = after.trim_start();
        let Some(quote @ ('\'' | '"')) = after_ws.chars().next() else {
            return Err("SOURCE must be followed by a quoted log group name".to_string());
        };
        let Some(close) = after_ws[1..].find(quote) else {
            return Err("the log group name after SOURCE has no closing quote".to_string());
        };
        groups.push(after_ws[1..=close].to_string());
        let after_name = after_ws[close + 2..].trim_start();
        let Some(after_pipe) = after_name.strip_prefix('|') else {
            return Err("SOURCE 'group' must be followed by |".to_string());
        };
        at = full.len() - after_pipe.len();
    }
}

/// Checks the Logs Insights part of `full`; the error is the query crate's message with the
/// line, column and a caret, located in `full` as written.
pub fn check(full: &str) -> Result<(), String> {
    let (_, start) = split_sources(full).map_err(|message| format!("query error: {message}"))?;
    let query = &full[start..];
    if query.trim().is_empty() {
        return Err("query error: the query is empty after its SOURCE parts".to_string());
    }
    match skywatch_query::compile(query) {
        Ok(_) => Ok(()),
        Err(e) => {
            let span = e.span();
            let shifted = Span::new(span.start + start, span.end + start);
            Err(skywatch_query::diagnostic::render(
                "query error",
                e.message(),
                shifted,
                full,
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn sources_are_split_off() {
        let q = "SOURCE '/a' | SOURCE \"/b\" |fields @message";
        let (groups, start) = split_sources(q).unwrap();
        assert_eq!(groups, vec!["/a", "/b"]);
        assert_eq!(&q[start..], "fields @message");
    }

    #[test]
    fn a_typo_is_pointed_at_in_the_text_as_written() {
        let err = check("SOURCE '/app' | fields @message | sort @timestamp dsc").unwrap_err();
        assert!(err.starts_with("query error at 1:"), "{err}");
        assert!(err.contains("SOURCE '/app' | fields"), "{err}");
    }

    #[test]
    fn the_capstone_query_is_accepted() {
        check("SOURCE '/cloudgram/app' | fields @timestamp, @message | filter level = \"ERROR\" | stats count(*) as errorCount by @message | sort errorCount desc | limit 5").unwrap();
    }
}
