//! What `parse` extracts from one text, in each of its modes, and the elements `unnest` and
//! `expand` make rows of.

use std::sync::Arc;

use crate::exec::record_formats::{csv_values, logfmt_pairs};
use crate::plan::{ParseMatcher, ParseStage, Slot};
use crate::value::Value;

/// The fields of the first match of `parse` in `text`, pushed as (slot, value); nothing when it
/// does not match.
pub fn first_match(parse: &ParseStage, text: &str, out: &mut Vec<(Slot, Option<Value>)>) {
    match &parse.matcher {
        ParseMatcher::Glob(glob) => {
            let mut parts = Vec::with_capacity(glob.stars());
            if glob.captures(text, &mut parts) {
                out.extend(
                    parse
                        .captures
                        .iter()
                        .map(|(group, slot)| (*slot, parts.get(*group - 1).map(|p| Value::str(*p)))),
                );
            }
        }
        ParseMatcher::Regex(regex) => {
            if let Some(caps) = regex.captures(text) {
                out.extend(
                    parse
                        .captures
                        .iter()
                        .map(|(group, slot)| (*slot, caps.get(*group).map(|m| Value::str(m.as_str())))),
                );
            }
        }
        ParseMatcher::Logfmt => {
            let mut pairs = logfmt_pairs(text);
            // A repeated key keeps its last value, once, where it was last written.
            let mut later = std::collections::HashSet::new();
            let keep: Vec<bool> = pairs.iter().rev().map(|(k, _)| later.insert(k.clone())).collect();
            let mut keep = keep.into_iter().rev();
            pairs.retain(|_| keep.next().unwrap_or(true));
            if !pairs.is_empty() {
                out.extend(
                    parse
                        .captures
                        .iter()
                        .map(|(_, slot)| (*slot, Some(Value::Map(Arc::new(pairs.clone()))))),
                );
            }
        }
        ParseMatcher::Csv => {
            let values = csv_values(text);
            out.extend(
                parse
                    .captures
                    .iter()
                    .map(|(n, slot)| (*slot, values.get(*n - 1).map(|v| Value::str(v.as_str())))),
            );
        }
    }
}

/// The fields of every match of a `multi` regex parse, one list per match (the planner allows
/// `multi` only with a regex).
pub fn every_match(parse: &ParseStage, text: &str) -> Vec<Vec<(Slot, Option<Value>)>> {
    let ParseMatcher::Regex(regex) = &parse.matcher else {
        let mut one = Vec::new();
        first_match(parse, text, &mut one);
        return if one.is_empty() { Vec::new() } else { vec![one] };
    };
    regex
        .captures_iter(text)
        .map(|caps| {
            parse
                .captures
                .iter()
                .map(|(group, slot)| (*slot, caps.get(*group).map(|m| Value::str(m.as_str()))))
                .collect()
        })
        .collect()
}

/// The elements a value expands to: a list's items; a text that is a JSON array, its items;
/// anything else is a list of one.
pub fn elements(value: Value) -> Vec<Value> {
    match value {
        Value::List(items) => Arc::unwrap_or_clone(items),
        Value::Str(text) if text.as_str().trim_start().starts_with('[') => {
            let parsed = serde_json::from_str::<serde_json::Value>(text.as_str())
                .ok()
                .filter(serde_json::Value::is_array)
                .and_then(|json| Value::from_json(&json));
            match parsed {
                Some(Value::List(items)) => Arc::unwrap_or_clone(items),
                _ => vec![Value::Str(text)],
            }
        }
        other => vec![other],
    }
}
