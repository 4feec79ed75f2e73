//! The console's metrics-array shorthands, expanded before rows are checked or rendered.
//!
//! AWS documents them thinly, so the semantics are ours (docs/dashboards.md):
//! - `"."` stands for the token at the same position in the previous row;
//! - `"..."` stands for as many of the previous row's tokens as make the row as long as the
//!   previous one: tokens written before it keep their positions, tokens after it line up at the
//!   end (`["...", "i-2"]` after `["AWS/EC2","CPUUtilization","InstanceId","i-1"]` is
//!   `["AWS/EC2","CPUUtilization","InstanceId","i-2"]`); at most one per row;
//! - "the previous row" is the nearest earlier row with string tokens (math rows are skipped),
//!   after its own shorthands were expanded (a row whose shorthands fail is passed over); its
//!   trailing options object is never copied.

use serde_json::Value;

pub const SAME: &str = ".";
pub const REST: &str = "...";

/// A shorthand that cannot be expanded: the row, the token (position as written) and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShorthandError {
    pub row: usize,
    pub token: usize,
    pub message: String,
}

/// Expands every row; rows that are not arrays are passed through for the validator to report.
/// A row with an error is passed through unexpanded.
pub fn expand(rows: &[Value]) -> (Vec<Value>, Vec<ShorthandError>) {
    let mut out = Vec::with_capacity(rows.len());
    let mut errors = Vec::new();
    let mut previous: Option<Vec<String>> = None;
    for (row_index, row) in rows.iter().enumerate() {
        let Some(items) = row.as_array() else {
            out.push(row.clone());
            continue;
        };
        let split = items.iter().take_while(|v| v.is_string()).count();
        let tokens: Vec<&str> = items[..split].iter().filter_map(Value::as_str).collect();
        if tokens.is_empty() {
            out.push(row.clone());
            continue;
        }
        match expand_tokens(&tokens, previous.as_deref()) {
            Ok(expanded) => {
                let mut new_row: Vec<Value> = expanded.iter().cloned().map(Value::String).collect();
                new_row.extend(items[split..].iter().cloned());
                out.push(Value::Array(new_row));
                previous = Some(expanded);
            }
            Err((token, message)) => {
                errors.push(ShorthandError {
                    row: row_index,
                    token,
                    message,
                });
                // Later rows keep referring to the last row that expanded.
                out.push(row.clone());
            }
        }
    }
    (out, errors)
}

/// Expands one row's string tokens against the previous row's (already expanded) tokens.
pub fn expand_tokens(tokens: &[&str], previous: Option<&[String]>) -> Result<Vec<String>, (usize, String)> {
    let rests: Vec<usize> = tokens
        .iter()
        .enumerate()
        .filter(|(_, t)| **t == REST)
        .map(|(i, _)| i)
        .collect();
    if rests.len() > 1 {
        return Err((rests[1], "\"...\" may appear only once in a row".to_string()));
    }
    let needs_previous = !rests.is_empty() || tokens.contains(&SAME);
    let previous = match previous {
        Some(p) => p,
        None if needs_previous => {
            let at = tokens.iter().position(|t| *t == SAME || *t == REST).unwrap_or(0);
            return Err((
                at,
                format!("{:?} refers to the previous row, and there is none", tokens[at]),
            ));
        }
        None => return Ok(tokens.iter().map(ToString::to_string).collect()),
    };
    // First "...", giving each written token its final position.
    let mut placed: Vec<(Option<usize>, String)> = Vec::with_capacity(previous.len().max(tokens.len()));
    if let Some(&at) = rests.first() {
        let before = &tokens[..at];
        let after = &tokens[at + 1..];
        let Some(copied_end) = previous.len().checked_sub(after.len()) else {
            return Err((
                at,
                format!(
                    "\"...\" cannot line up {} tokens after it with the previous row's {}",
                    after.len(),
                    previous.len()
                ),
            ));
        };
        if copied_end < before.len() {
            return Err((
                at,
                format!(
                    "\"...\" has {} tokens around it, more than the previous row's {}",
                    before.len() + after.len(),
                    previous.len()
                ),
            ));
        }
        placed.extend(
            before
                .iter()
                .enumerate()
                .map(|(i, t)| (Some(i), (*t).to_string())),
        );
        placed.extend(
            previous[before.len()..copied_end]
                .iter()
                .map(|t| (None, t.clone())),
        );
        placed.extend(
            after
                .iter()
                .enumerate()
                .map(|(i, t)| (Some(at + 1 + i), (*t).to_string())),
        );
    } else {
        placed.extend(
            tokens
                .iter()
                .enumerate()
                .map(|(i, t)| (Some(i), (*t).to_string())),
        );
    }
    // Then ".", by final position.
    let mut out = Vec::with_capacity(placed.len());
    for (position, (written_at, token)) in placed.into_iter().enumerate() {
        if written_at.is_some() && token == SAME {
            match previous.get(position) {
                Some(same) => out.push(same.clone()),
                None => {
                    return Err((
                        written_at.unwrap_or(position),
                        format!(
                            "\".\" at position {position} has no token to copy: the previous row has {}",
                            previous.len()
                        ),
                    ))
                }
            }
        } else {
            out.push(token);
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use serde_json::json;

    fn prev(tokens: &[&str]) -> Vec<String> {
        tokens.iter().map(ToString::to_string).collect()
    }

    #[test]
    fn rest_lines_up_the_tokens_after_it_at_the_end() {
        let p = prev(&["AWS/EC2", "CPUUtilization", "InstanceId", "i-1"]);
        assert_eq!(
            expand_tokens(&["...", "i-2"], Some(&p)).unwrap(),
            prev(&["AWS/EC2", "CPUUtilization", "InstanceId", "i-2"])
        );
    }

    #[test]
    fn rest_keeps_tokens_written_before_it() {
        let p = prev(&["AWS/EC2", "CPUUtilization", "InstanceId", "i-1"]);
        assert_eq!(
            expand_tokens(&["AWS/EC2", "NetworkIn", "..."], Some(&p)).unwrap(),
            prev(&["AWS/EC2", "NetworkIn", "InstanceId", "i-1"])
        );
    }

    #[test]
    fn same_copies_the_token_at_its_position() {
        let p = prev(&["AWS/EC2", "CPUUtilization", "InstanceId", "i-1"]);
        assert_eq!(
            expand_tokens(&[".", "NetworkIn", ".", "."], Some(&p)).unwrap(),
            prev(&["AWS/EC2", "NetworkIn", "InstanceId", "i-1"])
        );
    }

    #[test]
    fn same_after_rest_uses_the_final_position() {
        let p = prev(&[
            "AWS/ApplicationELB",
            "RequestCount",
            "LoadBalancer",
            "app/a/1",
            "TargetGroup",
            "tg",
        ]);
        assert_eq!(
            expand_tokens(&["...", "LoadBalancer", ".", "TargetGroup", "tg-2"], Some(&p)).unwrap(),
            prev(&[
                "AWS/ApplicationELB",
                "RequestCount",
                "LoadBalancer",
                "app/a/1",
                "TargetGroup",
                "tg-2"
            ])
        );
    }

    #[test]
    fn shorthand_in_the_first_row_is_an_error() {
        let err = expand_tokens(&[".", "x"], None).unwrap_err();
        assert_eq!(
            err,
            (
                0,
                "\".\" refers to the previous row, and there is none".to_string()
            )
        );
    }

    #[test]
    fn rest_with_too_many_tokens_after_it_is_an_error() {
        let p = prev(&["A", "B"]);
        let err = expand_tokens(&["...", "x", "y", "z"], Some(&p)).unwrap_err();
        assert_eq!(err.0, 0);
        assert!(err.1.contains("cannot line up 3 tokens"), "{}", err.1);
    }

    #[test]
    fn math_rows_are_skipped_and_options_are_not_copied() {
        let rows = vec![
            json!(["AWS/EC2", "CPUUtilization", "InstanceId", "i-1", {"stat": "p99"}]),
            json!([{"expression": "SUM(METRICS())", "id": "e1"}]),
            json!(["...", "i-2"]),
        ];
        let (out, errors) = expand(&rows);
        assert!(errors.is_empty());
        assert_eq!(out[2], json!(["AWS/EC2", "CPUUtilization", "InstanceId", "i-2"]));
        assert_eq!(out[1], rows[1]);
    }

    #[test]
    fn expansion_never_changes_rows_without_shorthands_and_always_keeps_the_row_count() {
        // A property over random rows: plain rows are unchanged, every row stays a row, and an
        // expanded row has no shorthand left in it.
        let mut rng = fastrand::Rng::with_seed(19);
        let vocabulary = ["AWS/EC2", "CPUUtilization", "InstanceId", "i-1", ".", "...", "x"];
        for _ in 0..2_000 {
            let rows: Vec<Value> = (0..rng.usize(1..6))
                .map(|_| {
                    let n = rng.usize(1..7);
                    Value::Array(
                        (0..n)
                            .map(|_| json!(vocabulary[rng.usize(..vocabulary.len())]))
                            .collect(),
                    )
                })
                .collect();
            let (out, errors) = expand(&rows);
            assert_eq!(out.len(), rows.len());
            for (i, (row, expanded)) in rows.iter().zip(&out).enumerate() {
                let has_shorthand = row.as_array().unwrap().iter().any(|t| t == "." || t == "...");
                if !has_shorthand {
                    assert_eq!(row, expanded);
                } else if !errors.iter().any(|e| e.row == i) {
                    assert!(
                        !expanded
                            .as_array()
                            .unwrap()
                            .iter()
                            .any(|t| t == "." || t == "..."),
                        "{rows:?}"
                    );
                }
            }
        }
    }
}
