//! Segment documents as X-Ray takes them: a segment (with its subsegments embedded), an
//! independent subsegment (`type: "subsegment"`, with the `trace_id` and `parent_id` that place
//! it), or a JSON array of subsegments. Checked the way the service checks what matters for a
//! trace — a name, a 16-hex-digit id, a `1-xxxxxxxx-…` trace id, a start time, an end time or
//! `in_progress` — and lenient about everything real SDKs send that the documentation does not
//! mention: `namespace: "local"`, embedded subsegments repeating `trace_id` and `type`, nulls,
//! `traced` at the top level, unknown fields (all kept as sent).

use serde_json::{Map, Value};

/// The longest name the service takes (characters).
pub const MAX_NAME_CHARS: usize = 200;

/// One document's pieces that X-Ray keeps separately: a segment or an independent subsegment.
#[derive(Debug, Clone, PartialEq)]
pub struct Document {
    pub id: String,
    pub trace_id: String,
    pub name: String,
    /// The caller's segment (segments) or the parent (independent subsegments).
    pub parent_id: Option<String>,
    pub start_time: f64,
    /// `None` while in progress.
    pub end_time: Option<f64>,
    pub independent_subsegment: bool,
    /// Subsegments in the document, nested ones included.
    pub subsegments: usize,
    /// The document as sent.
    pub json: Value,
}

/// Why a document was not taken (the service's error codes where it has one).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invalid {
    /// `MissingName`, `InvalidName`, `MissingId`, `InvalidId`, `MissingTraceId`,
    /// `InvalidTraceId`, `MissingStartTime`, `MissingEndTime`, `MissingParentId`,
    /// `NotJson`.
    pub code: &'static str,
    /// Where in the document (`subsegments[2].id`) and what was wrong.
    pub detail: String,
}

impl std::fmt::Display for Invalid {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.code, self.detail)
    }
}

fn invalid(code: &'static str, detail: impl Into<String>) -> Invalid {
    Invalid {
        code,
        detail: detail.into(),
    }
}

/// The segments and independent subsegments of a document.
pub fn parse(document: &[u8]) -> Result<Vec<Document>, Invalid> {
    let value: Value = serde_json::from_slice(document)
        .map_err(|e| invalid("NotJson", format!("not one JSON document ({e})")))?;
    match value {
        // "an array of subsegments" (PutTraceSegments): each must place itself.
        Value::Array(items) => items
            .into_iter()
            .enumerate()
            .map(|(i, item)| top_level(item, &format!("[{i}]")))
            .collect(),
        other => Ok(vec![top_level(other, "")?]),
    }
}

fn top_level(value: Value, at: &str) -> Result<Document, Invalid> {
    let Value::Object(map) = &value else {
        return Err(invalid("MissingId", format!("{at}: not a JSON object")));
    };
    let independent = map.get("type").and_then(Value::as_str) == Some("subsegment");
    let (id, name, start_time, end_time) = common(map, at)?;
    let trace_id = match map.get("trace_id") {
        Some(Value::String(t)) if is_trace_id(t) => t.clone(),
        Some(Value::Null) | None => return Err(invalid("MissingTraceId", format!("{at}trace_id"))),
        Some(other) => return Err(invalid("InvalidTraceId", format!("{at}trace_id: {other}"))),
    };
    let parent_id = match map.get("parent_id") {
        Some(Value::String(p)) if is_id(p) => Some(p.clone()),
        Some(Value::Null) | None if !independent => None,
        Some(Value::Null) | None => {
            return Err(invalid(
                "MissingParentId",
                format!("{at}parent_id: an independent subsegment names its parent"),
            ))
        }
        Some(other) => return Err(invalid("InvalidId", format!("{at}parent_id: {other}"))),
    };
    let subsegments = count_subsegments(map, &join(at, "subsegments"))?;
    Ok(Document {
        id,
        trace_id,
        name,
        parent_id,
        start_time,
        end_time,
        independent_subsegment: independent,
        subsegments,
        json: value,
    })
}

/// What every segment and subsegment has: id, name, start time, end time (or in progress).
fn common(map: &Map<String, Value>, at: &str) -> Result<(String, String, f64, Option<f64>), Invalid> {
    let id = match map.get("id") {
        Some(Value::String(id)) if is_id(id) => id.clone(),
        Some(Value::Null) | None => return Err(invalid("MissingId", join(at, "id"))),
        Some(other) => {
            return Err(invalid(
                "InvalidId",
                format!("{}: {other} is not 16 hex digits", join(at, "id")),
            ))
        }
    };
    let name = match map.get("name") {
        Some(Value::String(name)) => {
            check_name(name).map_err(|why| invalid("InvalidName", format!("{}: {why}", join(at, "name"))))?;
            name.clone()
        }
        // A name that is an object (a pickling bug in one SDK) is no name at all.
        _ => return Err(invalid("MissingName", join(at, "name"))),
    };
    let start_time = map
        .get("start_time")
        .and_then(Value::as_f64)
        .ok_or_else(|| invalid("MissingStartTime", join(at, "start_time")))?;
    let in_progress = map.get("in_progress").and_then(Value::as_bool) == Some(true);
    let end_time = map.get("end_time").and_then(Value::as_f64);
    if end_time.is_none() && !in_progress {
        return Err(invalid(
            "MissingEndTime",
            format!(
                "{}: neither an end_time nor in_progress: true",
                join(at, "end_time")
            ),
        ));
    }
    Ok((id, name, start_time, end_time.filter(|_| !in_progress)))
}

/// Subsegments under `map` (nested ones too), each checked for what it must have.
fn count_subsegments(map: &Map<String, Value>, at: &str) -> Result<usize, Invalid> {
    let Some(list) = map.get("subsegments") else {
        return Ok(0);
    };
    let Value::Array(items) = list else {
        return Ok(0);
    };
    let mut count = 0;
    for (i, item) in items.iter().enumerate() {
        let here = format!("{at}[{i}]");
        let Value::Object(sub) = item else {
            return Err(invalid("MissingId", format!("{here}: not a JSON object")));
        };
        common(sub, &here)?;
        count += 1 + count_subsegments(sub, &join(&here, "subsegments"))?;
    }
    Ok(count)
}

fn join(at: &str, key: &str) -> String {
    if at.is_empty() {
        key.to_string()
    } else {
        format!("{at}.{key}")
    }
}

/// 16 lower- or upper-case hex digits.
pub fn is_id(id: &str) -> bool {
    id.len() == 16 && id.bytes().all(|b| b.is_ascii_hexdigit())
}

/// `1-` + 8 hex digits (the epoch second) + `-` + 24 hex digits.
pub fn is_trace_id(id: &str) -> bool {
    let b = id.as_bytes();
    b.len() == 35
        && b.starts_with(b"1-")
        && b[10] == b'-'
        && b[2..10].iter().all(u8::is_ascii_hexdigit)
        && b[11..].iter().all(u8::is_ascii_hexdigit)
}

/// A name the service takes: 1 to 200 characters of letters, digits, spaces and
/// `_ . : / % & # = + \ - @` (no other white space: a newline in a name would forge lines
/// wherever it is shown).
pub(crate) fn check_name(name: &str) -> Result<(), String> {
    let chars = name.chars().count();
    if chars == 0 || chars > MAX_NAME_CHARS {
        return Err(format!("{chars} characters (1 to {MAX_NAME_CHARS})"));
    }
    match name
        .chars()
        .find(|c| !(c.is_alphanumeric() || *c == ' ' || "_.:/%&#=+\\-@".contains(*c)))
    {
        Some(c) => Err(format!("{c:?} is not allowed in a name")),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::{is_trace_id, parse};

    const TRACE: &str = "1-6b167cb7-42b5676dae8fc24a2b52f25e";

    fn doc(fields: &str) -> Vec<u8> {
        format!("{{\"trace_id\":\"{TRACE}\",\"start_time\":1796635831.75,{fields}}}").into_bytes()
    }

    #[test]
    fn a_segment_with_the_quirks_real_sdks_send_is_taken_as_sent() {
        let text = doc(
            r#""id":"5b0522a4df5f36c8","name":"checkout-api","end_time":1796635832.0,"in_progress":false,
               "aws":{"request_id":null},"traced":true,
               "subsegments":[{"id":"b245033d61f7ade3","name":"compute-total","start_time":1.0,"end_time":2.0,
                 "namespace":"local","trace_id":"1-6b167cb7-42b5676dae8fc24a2b52f25e","type":"subsegment",
                 "subsegments":[{"id":"c245033d61f7ade3","name":"db@host","start_time":1.0,"in_progress":true}]}]"#,
        );
        let docs = parse(&text).unwrap();
        assert_eq!(docs.len(), 1);
        let d = &docs[0];
        assert_eq!(
            (d.id.as_str(), d.name.as_str(), d.subsegments),
            ("5b0522a4df5f36c8", "checkout-api", 2)
        );
        assert_eq!(d.end_time, Some(1_796_635_832.0));
        assert!(!d.independent_subsegment);
        assert_eq!(
            d.json["aws"]["request_id"],
            serde_json::Value::Null,
            "kept as sent"
        );
    }

    #[test]
    fn an_in_progress_segment_has_no_end_and_an_independent_subsegment_names_its_parent() {
        let d = &parse(&doc(r#""id":"5b0522a4df5f36c8","name":"a","in_progress":true"#)).unwrap()[0];
        assert_eq!(d.end_time, None);
        let sub = &parse(&doc(
            r#""id":"b245033d61f7ade3","name":"x","end_time":2.0,"type":"subsegment","parent_id":"5b0522a4df5f36c8""#,
        ))
        .unwrap()[0];
        assert!(sub.independent_subsegment);
        assert_eq!(sub.parent_id.as_deref(), Some("5b0522a4df5f36c8"));
        let orphan = parse(&doc(
            r#""id":"b245033d61f7ade3","name":"x","end_time":2.0,"type":"subsegment""#,
        ))
        .unwrap_err();
        assert_eq!(orphan.code, "MissingParentId");
    }

    #[test]
    fn each_missing_or_wrong_field_has_the_services_code_and_its_place() {
        let cases = [
            (r#""name":"a","end_time":2.0"#, "MissingId"),
            (r#""id":"xyz","name":"a","end_time":2.0"#, "InvalidId"),
            (r#""id":"5b0522a4df5f36c8","end_time":2.0"#, "MissingName"),
            (
                r#""id":"5b0522a4df5f36c8","name":{"n":1},"end_time":2.0"#,
                "MissingName",
            ),
            (
                r#""id":"5b0522a4df5f36c8","name":"a<b>","end_time":2.0"#,
                "InvalidName",
            ),
            (r#""id":"5b0522a4df5f36c8","name":"a""#, "MissingEndTime"),
            (
                r#""id":"5b0522a4df5f36c8","name":"a","end_time":2.0,"subsegments":[{"id":"b245033d61f7ade3","start_time":1,"end_time":2}]"#,
                "MissingName",
            ),
        ];
        for (fields, code) in cases {
            let e = parse(&doc(fields)).unwrap_err();
            assert_eq!(e.code, code, "{fields}: {e}");
        }
        let e = parse(br#"{"id":"5b0522a4df5f36c8","name":"a","start_time":1,"end_time":2}"#).unwrap_err();
        assert_eq!(e.code, "MissingTraceId");
        let e =
            parse(br#"{"id":"5b0522a4df5f36c8","name":"a","start_time":1,"end_time":2,"trace_id":"1-xyz"}"#)
                .unwrap_err();
        assert_eq!(e.code, "InvalidTraceId");
        assert_eq!(parse(b"{\"id\": ").unwrap_err().code, "NotJson");
        assert_eq!(parse(b"[]").unwrap(), vec![], "an empty array of subsegments");
        assert!(parse(&doc(&format!(
            r#""id":"5b0522a4df5f36c8","name":"{}","end_time":2.0"#,
            "n".repeat(201)
        )))
        .is_err());
        assert!(is_trace_id(TRACE));
    }

    #[test]
    fn any_document_gives_segments_or_a_reason_never_a_panic() {
        let mut rng = fastrand::Rng::with_seed(17);
        let seed = doc(
            r#""id":"5b0522a4df5f36c8","name":"a","end_time":2.0,"subsegments":[{"id":"b245033d61f7ade3","name":"b","start_time":1,"end_time":2}]"#,
        );
        for _ in 0..20_000 {
            let mut bytes = seed.clone();
            for _ in 0..rng.usize(1..6) {
                let at = rng.usize(0..bytes.len());
                match rng.u8(0..3) {
                    0 => bytes[at] = rng.u8(..),
                    1 => {
                        bytes.remove(at);
                    }
                    _ => bytes.insert(at, b"{}[]\",:0n\\"[rng.usize(0..10)]),
                }
            }
            let _ = parse(&bytes);
        }
    }
}
