//! Discovered fields of the known text log types: Lambda, VPC flow logs, Route 53 query logs.
//!
//! Each detector is strict, because it runs on every text line of every file: a line is taken as
//! its type only when its shape leaves no doubt, and a detector that says no costs a few byte
//! comparisons. Nothing is emitted unless the detector says yes.

use crate::value::Value;

use super::timestamp::parse_iso;

/// Lambda lines.
///
/// Platform lines, told apart by their first word and `RequestId:` after it:
/// * `START RequestId: <id> Version: $LATEST` → `@type` = `START`, `@requestId`;
/// * `END RequestId: <id>` → `@type` = `END`, `@requestId`;
/// * `REPORT RequestId: <id>\tDuration: 102.25 ms\tBilled Duration: 103 ms\tMemory Size: 128 MB\t`
///   `Max Memory Used: 72 MB\tInit Duration: 200.15 ms` → `@type` = `REPORT`, `@requestId`,
///   `@duration`, `@billedDuration`, `@initDuration` (ms), `@memorySize`, `@maxMemoryUsed`
///   (bytes, 1 MB = 1,000,000 bytes: AWS's sample queries divide by `1000 / 1000` to get MB);
/// * `XRAY TraceId: <id>\tSegmentId: <id>\tSampled: true`, on the REPORT line or as a line of
///   its own → `@xrayTraceId`, `@xraySegmentId`.
///
/// Labels may be separated by tabs or spaces; unknown labels (`Restore Duration`, …) are skipped.
///
/// Application lines the runtimes write (our choice; CloudWatch's behaviour here is undocumented)
/// give `@requestId` only:
/// * Node.js: `<ISO timestamp>\t<request id>\t<LEVEL>\t<message>`;
/// * Python: `[<LEVEL>]\t<ISO timestamp>\t<request id>\t<message>`;
///
/// where the request id must be a UUID.
pub fn lambda_fields(line: &str, emit: &mut dyn FnMut(&'static str, Value)) -> bool {
    let mut tokens = line.split_ascii_whitespace();
    let first = tokens.next().unwrap_or_default();
    match first {
        "START" | "END" | "REPORT" => {
            let mut rest = tokens.clone();
            if rest.next() != Some("RequestId:") || rest.next().is_none() {
                return app_line_request_id(line, emit);
            }
            emit("@type", Value::str(first));
            labelled_values(tokens, emit);
            true
        }
        "XRAY" => {
            if tokens.clone().next() != Some("TraceId:") {
                return false;
            }
            labelled_values(tokens, emit);
            true
        }
        _ => app_line_request_id(line, emit),
    }
}

/// Walks `Label words: value [unit]` groups and emits the ones Lambda defines.
fn labelled_values<'a>(tokens: impl Iterator<Item = &'a str>, emit: &mut dyn FnMut(&'static str, Value)) {
    let mut tokens = tokens.peekable();
    // The label words before the one ending in `:` (at most three matter).
    let mut words: [&str; 3] = [""; 3];
    let mut count = 0usize;
    while let Some(token) = tokens.next() {
        let Some(last) = token.strip_suffix(':') else {
            if count < words.len() {
                words[count] = token;
            }
            count += 1;
            continue;
        };
        let label = (count, words, last);
        count = 0;
        words = [""; 3];
        let field = match label {
            (0, _, "RequestId") => Some(("@requestId", Kind::Text)),
            (0, _, "Duration") => Some(("@duration", Kind::Millis)),
            (1, ["Billed", ..], "Duration") => Some(("@billedDuration", Kind::Millis)),
            (1, ["Init", ..], "Duration") => Some(("@initDuration", Kind::Millis)),
            (1, ["Memory", ..], "Size") => Some(("@memorySize", Kind::Megabytes)),
            (2, ["Max", "Memory", ..], "Used") => Some(("@maxMemoryUsed", Kind::Megabytes)),
            (0, _, "TraceId") | (1, ["XRAY", ..], "TraceId") => Some(("@xrayTraceId", Kind::Text)),
            (0, _, "SegmentId") => Some(("@xraySegmentId", Kind::Text)),
            _ => None,
        };
        let Some((name, kind)) = field else {
            // Step over the value (and its unit) so its words do not join the next label.
            tokens.next();
            let _ = tokens.next_if(|t| matches!(*t, "ms" | "MB"));
            continue;
        };
        let Some(value) = tokens.next() else { break };
        let parsed = match kind {
            Kind::Text => Some(Value::str(value)),
            Kind::Millis => {
                tokens.next_if_eq(&"ms");
                number(value)
            }
            Kind::Megabytes => {
                tokens.next_if_eq(&"MB");
                number(value)
                    .and_then(|mb| mb.as_number())
                    .and_then(|mb| Value::num(mb * 1e6))
            }
        };
        if let Some(parsed) = parsed {
            emit(name, parsed);
        }
    }
}

#[derive(Clone, Copy)]
enum Kind {
    Text,
    Millis,
    Megabytes,
}

fn app_line_request_id(line: &str, emit: &mut dyn FnMut(&'static str, Value)) -> bool {
    let mut parts = line.splitn(4, '\t');
    let (Some(a), Some(b), Some(c)) = (parts.next(), parts.next(), parts.next()) else {
        return false;
    };
    let request_id = if is_iso_timestamp(a) && is_uuid(b) {
        b
    } else if a.len() > 2 && a.starts_with('[') && a.ends_with(']') && is_iso_timestamp(b) && is_uuid(c) {
        c
    } else {
        return false;
    };
    emit("@requestId", Value::str(request_id));
    true
}

fn is_iso_timestamp(s: &str) -> bool {
    parse_iso(s.as_bytes(), 0).is_some_and(|iso| iso.end == s.len())
}

/// `8-4-4-4-12` hex digits.
fn is_uuid(s: &str) -> bool {
    s.len() == 36
        && s.bytes().enumerate().all(|(i, c)| match i {
            8 | 13 | 18 | 23 => c == b'-',
            _ => c.is_ascii_hexdigit(),
        })
}

const VPC_FIELDS: [&str; 14] = [
    "version",
    "accountId",
    "interfaceId",
    "srcAddr",
    "dstAddr",
    "srcPort",
    "dstPort",
    "protocol",
    "packets",
    "bytes",
    "startTime",
    "endTime",
    "action",
    "logStatus",
];

/// VPC flow log records in the default (version 2) format: 14 space-separated fields
/// `version account-id interface-id srcaddr dstaddr srcport dstport protocol packets bytes start
/// end action log-status` → `version`, `accountId`, `interfaceId`, `srcAddr`, `dstAddr`,
/// `srcPort`, `dstPort`, `protocol`, `packets`, `bytes`, `startTime`, `endTime`, `action`,
/// `logStatus`.
///
/// Detected when there are exactly 14 fields, the version is `2`, the interface id starts with
/// `eni-` or is `-`, the log status is `OK`, `NODATA` or `SKIPDATA`, and the numeric fields
/// (version, ports, protocol, packets, bytes, start, end) are digits or `-`. Those numeric
/// fields are emitted as numbers, the rest as text (the account id keeps its leading zeros);
/// `-` gives no field.
pub fn vpc_flow_fields(line: &str, emit: &mut dyn FnMut(&'static str, Value)) -> bool {
    const NUMERIC: [bool; 14] = [
        true, false, false, false, false, true, true, true, true, true, true, true, false, false,
    ];
    let Some(fields) = exact_fields::<14>(line) else {
        return false;
    };
    let interface = fields[2];
    if fields[0] != "2"
        || !(interface == "-" || interface.starts_with("eni-"))
        || !matches!(fields[13], "OK" | "NODATA" | "SKIPDATA")
        || fields
            .iter()
            .zip(NUMERIC)
            .any(|(f, numeric)| numeric && *f != "-" && !f.bytes().all(|c| c.is_ascii_digit()))
    {
        return false;
    }
    for ((name, field), numeric) in VPC_FIELDS.into_iter().zip(fields).zip(NUMERIC) {
        if field == "-" {
            continue;
        }
        let value = if numeric {
            number(field)
        } else {
            Some(Value::str(field))
        };
        if let Some(value) = value {
            emit(name, value);
        }
    }
    true
}

const ROUTE53_FIELDS: [&str; 10] = [
    "version",
    "queryTimestamp",
    "hostZoneId",
    "queryName",
    "queryType",
    "responseCode",
    "protocol",
    "edgeLocation",
    "resolverIp",
    "ednsClientSubnet",
];

/// Route 53 public DNS query logs: 10 space-separated fields `version queryTimestamp hostZoneId
/// queryName queryType responseCode protocol edgeLocation resolverIp ednsClientSubnet` → the
/// fields of those names, all as text (`version` stays `1.0`, the timestamp as written); `-`
/// gives no field.
///
/// Detected when there are exactly 10 fields, the first is `1.0` and the second an ISO 8601
/// timestamp. (Resolver query logs are JSON and need no detector.)
pub fn route53_fields(line: &str, emit: &mut dyn FnMut(&'static str, Value)) -> bool {
    let Some(fields) = exact_fields::<10>(line) else {
        return false;
    };
    if fields[0] != "1.0" || !is_iso_timestamp(fields[1]) {
        return false;
    }
    for (name, field) in ROUTE53_FIELDS.into_iter().zip(fields) {
        if field != "-" {
            emit(name, Value::str(field));
        }
    }
    true
}

/// The whitespace-separated fields of `line` if there are exactly `N`.
fn exact_fields<const N: usize>(line: &str) -> Option<[&str; N]> {
    let mut fields = [""; N];
    let mut tokens = line.split_ascii_whitespace();
    for field in &mut fields {
        *field = tokens.next()?;
    }
    tokens.next().is_none().then_some(fields)
}

/// A decimal number as [`Value::Num`].
fn number(text: &str) -> Option<Value> {
    if !text.bytes().next().is_some_and(|c| c.is_ascii_digit()) {
        return None;
    }
    Value::num(text.parse().ok()?)
}

#[cfg(test)]
mod tests {}
