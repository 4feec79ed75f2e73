//! One line of `journalctl --output=json` as an event: the entry's fields as a JSON object in
//! journalctl's order, without journald's `__` address fields; its cursor and its own time.

use serde_json::{Map, Value};
use skywatch_aws::limits::MAX_LOG_EVENT_BYTES;

/// One journal entry as read from journalctl's JSON output.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub cursor: String,
    pub timestamp_ms: i64,
    /// The text filters apply to (`MESSAGE`).
    pub text: String,
    /// What is sent: the entry's fields as a JSON object.
    pub message: String,
}

/// Parses one line of `journalctl --output=json`.
pub fn parse_entry(line: &[u8], now_ms: i64) -> Result<Entry, String> {
    let fields: Map<String, Value> = match serde_json::from_slice(line) {
        Ok(Value::Object(map)) => map,
        Ok(_) => return Err("not a JSON object".into()),
        Err(e) => return Err(format!("not JSON ({e})")),
    };
    let cursor = fields
        .get("__CURSOR")
        .and_then(Value::as_str)
        .ok_or("no __CURSOR")?
        .to_string();
    let timestamp_ms = fields
        .get("__REALTIME_TIMESTAMP")
        .and_then(|v| match v {
            Value::String(s) => s.parse::<i64>().ok(),
            Value::Number(n) => n.as_i64(),
            _ => None,
        })
        .map_or(now_ms, |us| us / 1000);
    let mut kept = Map::new();
    for (name, value) in fields {
        if name.starts_with("__") {
            continue;
        }
        kept.insert(name, field_text(value));
    }
    let message_field = kept.get("MESSAGE");
    if message_field.is_some_and(Value::is_null) {
        // journalctl prints fields it will not show as null (without --all: over 4 KiB).
        return Err("the message was left out by journalctl (null)".into());
    }
    let text = message_field
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    let mut message = Value::Object(kept).to_string();
    if message.len() > MAX_LOG_EVENT_BYTES {
        // Too long for one event (journalctl --all can print huge fields): the message field
        // alone, cut at a character boundary.
        let mut cut = MAX_LOG_EVENT_BYTES.min(text.len());
        while !text.is_char_boundary(cut) {
            cut -= 1;
        }
        message = text[..cut].to_string();
    }
    Ok(Entry {
        cursor,
        timestamp_ms,
        text,
        message,
    })
}

/// A field as text: journalctl prints fields that are not valid UTF-8 as arrays of bytes,
/// and a field given more than once as an array of its values.
fn field_text(value: Value) -> Value {
    match value {
        Value::Array(items) if items.iter().all(|v| v.as_u64().is_some_and(|n| n <= 255)) => {
            let bytes: Vec<u8> = items
                .iter()
                .filter_map(Value::as_u64)
                .filter_map(|n| u8::try_from(n).ok())
                .collect();
            Value::String(String::from_utf8_lossy(&bytes).into_owned())
        }
        Value::Array(items) => Value::Array(items.into_iter().map(field_text).collect()),
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::parse_entry;

    #[test]
    fn an_entry_keeps_its_fields_its_time_and_cursor() {
        let line = br#"{"__CURSOR":"s=ab;i=1","__REALTIME_TIMESTAMP":"1764291723004123","__MONOTONIC_TIMESTAMP":"1","MESSAGE":"Accepted publickey for ec2-user","PRIORITY":"6","_SYSTEMD_UNIT":"sshd.service","_PID":"812"}"#;
        let e = parse_entry(line, 0).unwrap();
        assert_eq!(e.cursor, "s=ab;i=1");
        assert_eq!(e.timestamp_ms, 1_764_291_723_004);
        assert_eq!(e.text, "Accepted publickey for ec2-user");
        assert_eq!(
            e.message,
            r#"{"MESSAGE":"Accepted publickey for ec2-user","PRIORITY":"6","_SYSTEMD_UNIT":"sshd.service","_PID":"812"}"#
        );
    }

    #[test]
    fn binary_and_repeated_fields_become_text_and_bad_lines_are_named() {
        // "caf\xe9" is not UTF-8: journalctl prints the bytes.
        let line = br#"{"__CURSOR":"c","MESSAGE":[99,97,102,233],"TAG":["a","b"]}"#;
        let e = parse_entry(line, 42).unwrap();
        assert_eq!(e.text, "caf\u{fffd}");
        assert_eq!(e.timestamp_ms, 42, "no time: the time it was read");
        assert!(e.message.contains(r#""TAG":["a","b"]"#), "{}", e.message);
        assert!(parse_entry(b"{\"MESSAGE\":\"x\"}", 0)
            .unwrap_err()
            .contains("__CURSOR"));
        assert!(parse_entry(b"-- No entries --", 0)
            .unwrap_err()
            .contains("not JSON"));
        assert!(parse_entry(b"[1]", 0).unwrap_err().contains("not a JSON object"));
    }

    #[test]
    fn a_huge_entry_is_sent_as_its_message_cut_to_the_event_limit() {
        let big = "é".repeat(600_000);
        let line = format!(r#"{{"__CURSOR":"c","MESSAGE":"{big}"}}"#);
        let e = parse_entry(line.as_bytes(), 0).unwrap();
        assert!(e.message.len() <= skywatch_aws::limits::MAX_LOG_EVENT_BYTES);
        assert!(e.message.starts_with('é'));
    }

    #[test]
    fn a_message_journalctl_left_out_is_named_not_sent_empty() {
        let e = parse_entry(br#"{"__CURSOR":"c","MESSAGE":null}"#, 0).unwrap_err();
        assert!(e.contains("left out by journalctl"), "{e}");
    }
}
