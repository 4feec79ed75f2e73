//! JSON functions (section 4.5): structures from JSON text and back.

use super::{arg, boolean, string, FnContext, ScalarFunction};
use crate::value::Value;

pub(super) const FUNCTIONS: &[ScalarFunction] = &[
    ScalarFunction {
        name: "jsonParse",
        min_args: 1,
        max_args: Some(1),
        call: json_parse,
    },
    ScalarFunction {
        name: "jsonStringify",
        min_args: 1,
        max_args: Some(1),
        call: json_stringify,
    },
    ScalarFunction {
        name: "jsonArraySize",
        min_args: 1,
        max_args: Some(1),
        call: json_array_size,
    },
    ScalarFunction {
        name: "jsonArrayContains",
        min_args: 2,
        max_args: Some(2),
        call: json_array_contains,
    },
];

/// An object or array string becomes a map or list; any other JSON, or invalid JSON, is no value.
/// A map or list argument is already parsed and comes back as it is.
fn json_parse(_: &FnContext, args: &[Option<Value>]) -> Option<Value> {
    match arg(args, 0)? {
        Value::Str(s) => {
            let json: serde_json::Value = serde_json::from_str(s).ok()?;
            if json.is_object() || json.is_array() {
                Value::from_json(&json)
            } else {
                None
            }
        }
        structure @ (Value::List(_) | Value::Map(_)) => Some(structure.clone()),
        Value::Num(_) | Value::Bool(_) | Value::Time(_) => None,
    }
}

/// Compact JSON text of a map or list.
// UNSURE: other values (plain strings, numbers) give no value rather than their JSON form.
fn json_stringify(_: &FnContext, args: &[Option<Value>]) -> Option<Value> {
    match arg(args, 0)? {
        structure @ (Value::List(_) | Value::Map(_)) => string(structure.to_json().to_string()),
        _ => None,
    }
}

/// The elements of a list, or of a string holding a JSON array.
fn array_elements(value: &Value) -> Option<Vec<serde_json::Value>> {
    match value {
        Value::List(items) => Some(items.iter().map(Value::to_json).collect()),
        Value::Str(s) => match serde_json::from_str(s).ok()? {
            serde_json::Value::Array(items) => Some(items),
            _ => None,
        },
        _ => None,
    }
}

fn json_array_size(_: &FnContext, args: &[Option<Value>]) -> Option<Value> {
    Value::num(array_elements(arg(args, 0)?)?.len() as f64)
}

/// Whether the array has an element equal to the value: strings compare case-sensitively, numbers
/// numerically, and a field's text matches a JSON number or boolean of the same value (fields are
/// strings). Invalid JSON, a non-array, or a missing argument gives false, as documented.
fn json_array_contains(_: &FnContext, args: &[Option<Value>]) -> Option<Value> {
    let (Some(array), Some(needle)) = (arg(args, 0), arg(args, 1)) else {
        return boolean(false);
    };
    let Some(items) = array_elements(array) else {
        return boolean(false);
    };
    boolean(items.iter().any(|item| element_matches(item, needle)))
}

fn element_matches(item: &serde_json::Value, needle: &Value) -> bool {
    match item {
        serde_json::Value::Null => false,
        serde_json::Value::String(s) => needle.as_text().is_some_and(|t| t == s.as_str()),
        serde_json::Value::Number(n) => n.as_f64().is_some_and(|n| needle.as_number() == Some(n)),
        serde_json::Value::Bool(b) => match needle {
            Value::Bool(v) => v == b,
            Value::Str(s) => s.as_ref() == if *b { "true" } else { "false" },
            _ => false,
        },
        serde_json::Value::Array(_) | serde_json::Value::Object(_) => {
            matches!(needle, Value::List(_) | Value::Map(_)) && needle.to_json() == *item
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::{b, call, n, s};
    use crate::value::Value;
    use std::sync::Arc;

    #[allow(clippy::unnecessary_wraps)] // Arguments are Option<Value>.
    fn list(items: Vec<Value>) -> Option<Value> {
        Some(Value::List(Arc::new(items)))
    }

    #[allow(clippy::unnecessary_wraps)] // As `list`.
    fn map(entries: Vec<(&str, Value)>) -> Option<Value> {
        Some(Value::Map(Arc::new(
            entries.into_iter().map(|(k, v)| (k.to_string(), v)).collect(),
        )))
    }

    #[test]
    fn json_parse_builds_maps_and_lists() {
        assert_eq!(
            call("jsonParse", &[s(r#"{"a": 1, "b": ["x", null, true]}"#)]),
            map(vec![
                ("a", Value::Num(1.0)),
                (
                    "b",
                    Value::List(Arc::new(vec![Value::str("x"), Value::str("true")]))
                ),
            ])
        );
        assert_eq!(
            call("jsonParse", &[s("[1, 2]")]),
            list(vec![Value::Num(1.0), Value::Num(2.0)])
        );
    }

    #[test]
    fn json_parse_of_scalars_or_invalid_text_is_no_value() {
        for text in ["42", "\"str\"", "true", "null", "{oops", ""] {
            assert_eq!(call("jsonParse", &[s(text)]), None, "{text:?}");
        }
        assert_eq!(call("jsonParse", &[n(1.0)]), None);
        assert_eq!(call("jsonParse", &[None]), None);
    }

    #[test]
    fn json_parse_of_a_structure_returns_it() {
        let l = list(vec![Value::Num(1.0)]);
        assert_eq!(call("jsonParse", std::slice::from_ref(&l)), l);
    }

    #[test]
    fn json_stringify_writes_compact_json() {
        let m = map(vec![
            ("a", Value::Num(1.5)),
            ("b", Value::List(Arc::new(vec![Value::str("x"), Value::Num(2.0)]))),
        ]);
        assert_eq!(call("jsonStringify", &[m]), s(r#"{"a":1.5,"b":["x",2]}"#));
        let parsed = call("jsonParse", &[s(r#"{ "z" : [ 1 , 2 ] }"#)]);
        assert_eq!(call("jsonStringify", &[parsed]), s(r#"{"z":[1,2]}"#));
        assert_eq!(call("jsonStringify", &[s("plain")]), None);
        assert_eq!(call("jsonStringify", &[None]), None);
    }

    #[test]
    fn json_array_size_counts_elements_of_strings_and_lists() {
        assert_eq!(call("jsonArraySize", &[s(r#"[1, "a", null, {}]"#)]), n(4.0));
        assert_eq!(call("jsonArraySize", &[s("[]")]), n(0.0));
        assert_eq!(call("jsonArraySize", &[list(vec![Value::Num(1.0)])]), n(1.0));
        assert_eq!(call("jsonArraySize", &[s(r#"{"a": 1}"#)]), None);
        assert_eq!(call("jsonArraySize", &[s("[1,")]), None);
        assert_eq!(call("jsonArraySize", &[None]), None);
    }

    #[test]
    fn json_array_contains_is_case_sensitive() {
        let array = s(r#"["Alpha", "beta", 3, true]"#);
        assert_eq!(call("jsonArrayContains", &[array.clone(), s("Alpha")]), b(true));
        assert_eq!(call("jsonArrayContains", &[array.clone(), s("alpha")]), b(false));
        assert_eq!(call("jsonArrayContains", &[array.clone(), n(3.0)]), b(true));
        assert_eq!(call("jsonArrayContains", &[array.clone(), s("3")]), b(true));
        assert_eq!(call("jsonArrayContains", &[array.clone(), s("true")]), b(true));
        assert_eq!(call("jsonArrayContains", &[array, n(4.0)]), b(false));
    }

    #[test]
    fn json_array_contains_is_false_for_invalid_or_missing_input() {
        assert_eq!(call("jsonArrayContains", &[s("not json"), s("a")]), b(false));
        assert_eq!(call("jsonArrayContains", &[s(r#"{"a": "a"}"#), s("a")]), b(false));
        assert_eq!(call("jsonArrayContains", &[s("[]"), s("a")]), b(false));
        assert_eq!(call("jsonArrayContains", &[None, s("a")]), b(false));
        assert_eq!(call("jsonArrayContains", &[s(r#"["a"]"#), None]), b(false));
    }

    #[test]
    fn json_array_contains_searches_lists_and_nested_structures() {
        let l = list(vec![
            Value::str("x"),
            Value::List(Arc::new(vec![Value::Num(1.0)])),
        ]);
        assert_eq!(call("jsonArrayContains", &[l.clone(), s("x")]), b(true));
        assert_eq!(
            call("jsonArrayContains", &[l, list(vec![Value::Num(1.0)])]),
            b(true)
        );
    }
}
