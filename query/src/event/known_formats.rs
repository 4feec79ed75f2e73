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
/// where the request id must be a UUID followed by a tab or the end of the line.
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
    // Looks only at the line's first ~80 bytes: this runs on every text line.
    let b = line.as_bytes();
    let id_start = match b.first() {
        Some(b'0'..=b'9') => iso_then_tab(b, 0),
        Some(b'[') => b
            .get(..LEVEL_BRACKET_BYTES.min(b.len()))
            .and_then(|head| memchr::memchr(b']', head))
            .filter(|&close| close > 1 && b.get(close + 1) == Some(&b'\t'))
            .and_then(|close| iso_then_tab(b, close + 2)),
        _ => None,
    };
    let Some(start) = id_start else { return false };
    match line.get(start..start + UUID_LEN) {
        Some(id) if is_uuid(id) && matches!(b.get(start + UUID_LEN), None | Some(b'\t')) => {
            emit("@requestId", Value::str(id));
            true
        }
        _ => false,
    }
}

/// A line that wraps an event of its own: where that event's text starts, where a JSON object in
/// it starts (if one does), and the wrapper's time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Wrapped {
    pub message_start: usize,
    pub json_start: Option<usize>,
    pub time_ms: Option<i64>,
}

/// Lines whose fields are in an event they wrap:
/// * CloudWatch's export to S3 writes each event as `<ISO time> <message>` (`2024-03-01T00:00:01.000Z
///   {"level":"ERROR",…}`, `… REPORT RequestId: …`): the message is read as a line of its own
///   (JSON fields, Lambda fields, the other known formats), at the time before it;
/// * a Lambda runtime's application line with a JSON message (`<ISO time>\t<request id>\t<LEVEL>\t{…}`,
///   Python's `[LEVEL]\t<ISO time>\t<request id>\t{…}`): the JSON object's fields, as CloudWatch
///   discovers the first JSON fragment of a Lambda line.
///
/// `None` for every other line (a few byte comparisons: this runs on every text line).
pub fn unwrap_event(line: &str) -> Option<Wrapped> {
    let b = line.as_bytes();
    let mut wrapped = Wrapped {
        message_start: 0,
        json_start: None,
        time_ms: None,
    };
    if b.first().is_some_and(u8::is_ascii_digit) {
        if let Some(iso) = parse_iso(b, 0) {
            if iso.t_separator && iso.zoned && b.get(iso.end) == Some(&b' ') {
                wrapped.message_start = iso.end + 1;
                wrapped.time_ms = Some(iso.ms);
            }
        }
    }
    let m = wrapped.message_start;
    wrapped.json_start = match b.get(m) {
        Some(b'{') => Some(m),
        _ => lambda_json_start(b, m).map(|(start, ms)| {
            wrapped.time_ms.get_or_insert(ms);
            start
        }),
    };
    (wrapped.message_start > 0 || wrapped.json_start.is_some()).then_some(wrapped)
}

/// Where the JSON message of a Lambda application line starting at `i` begins, and the line's
/// time.
fn lambda_json_start(b: &[u8], i: usize) -> Option<(usize, i64)> {
    let (iso, id_start) = match *b.get(i)? {
        b'0'..=b'9' => {
            let iso = parse_iso(b, i)?;
            (iso, (b.get(iso.end) == Some(&b'\t')).then_some(iso.end + 1)?)
        }
        b'[' => {
            let head = b.get(i..(i + LEVEL_BRACKET_BYTES).min(b.len()))?;
            let close = i + memchr::memchr(b']', head)?;
            if close <= i + 1 || b.get(close + 1) != Some(&b'\t') {
                return None;
            }
            let iso = parse_iso(b, close + 2)?;
            (iso, (b.get(iso.end) == Some(&b'\t')).then_some(iso.end + 1)?)
        }
        _ => return None,
    };
    let id = std::str::from_utf8(b.get(id_start..id_start + UUID_LEN)?).ok()?;
    if !is_uuid(id) || b.get(id_start + UUID_LEN) != Some(&b'\t') {
        return None;
    }
    let mut message = id_start + UUID_LEN + 1;
    // Node.js writes the level between the request id and the message.
    if b.get(i) != Some(&b'[') {
        let level = b.get(message..)?.iter().take(8).position(|&c| c == b'\t')?;
        if level == 0 || !b[message..message + level].iter().all(u8::is_ascii_uppercase) {
            return None;
        }
        message += level + 1;
    }
    (b.get(message) == Some(&b'{')).then_some((message, iso.ms))
}

/// How far a Python runtime line's `[LEVEL]` may reach.
const LEVEL_BRACKET_BYTES: usize = 16;

const UUID_LEN: usize = 36;

/// The index after `<ISO timestamp>\t` at `i`.
fn iso_then_tab(b: &[u8], i: usize) -> Option<usize> {
    let iso = parse_iso(b, i)?;
    (b.get(iso.end) == Some(&b'\t')).then_some(iso.end + 1)
}

fn is_iso_timestamp(s: &str) -> bool {
    parse_iso(s.as_bytes(), 0).is_some_and(|iso| iso.end == s.len())
}

/// `8-4-4-4-12` hex digits.
fn is_uuid(s: &str) -> bool {
    s.len() == UUID_LEN
        && s.bytes().enumerate().all(|(i, c)| match i {
            8 | 13 | 18 | 23 => c == b'-',
            _ => c.is_ascii_hexdigit(),
        })
}

/// The fields Lambda platform lines give.
const LAMBDA_FIELDS: [&str; 9] = [
    "@type",
    "@requestId",
    "@duration",
    "@billedDuration",
    "@memorySize",
    "@maxMemoryUsed",
    "@initDuration",
    "@xrayTraceId",
    "@xraySegmentId",
];

/// Whether `name` is a field that only the known text formats (Lambda, VPC flow, Route 53) give.
pub fn is_known_format_field(name: &str) -> bool {
    LAMBDA_FIELDS.contains(&name) || VPC_FIELDS.contains(&name) || ROUTE53_FIELDS.contains(&name)
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
mod tests {
    use super::{lambda_fields, route53_fields, vpc_flow_fields};
    use crate::value::Value;

    type Detector = fn(&str, &mut dyn FnMut(&'static str, Value)) -> bool;

    fn run(detector: Detector, line: &str) -> Option<Vec<(&'static str, Value)>> {
        let mut out = Vec::new();
        let ok = detector(line, &mut |k, v| out.push((k, v)));
        if !ok {
            assert!(out.is_empty(), "emitted fields for a line it rejected: {line:?}");
        }
        ok.then_some(out)
    }

    fn s(k: &'static str, v: &str) -> (&'static str, Value) {
        (k, Value::str(v))
    }

    fn n(k: &'static str, v: f64) -> (&'static str, Value) {
        (k, Value::Num(v))
    }

    const ID: &str = "8f14e45f-ceea-467f-a8b3-1c2d3e4f5a6b";

    #[test]
    fn lambda_start_and_end_lines() {
        assert_eq!(
            run(lambda_fields, &format!("START RequestId: {ID} Version: $LATEST")).unwrap(),
            vec![s("@type", "START"), s("@requestId", ID)]
        );
        assert_eq!(
            run(lambda_fields, &format!("END RequestId: {ID}")).unwrap(),
            vec![s("@type", "END"), s("@requestId", ID)]
        );
    }

    #[test]
    fn lambda_report_lines_give_durations_in_ms_and_memory_in_bytes() {
        let line = format!(
            "REPORT RequestId: {ID}\tDuration: 102.25 ms\tBilled Duration: 103 ms\tMemory Size: 128 MB\tMax Memory Used: 72 MB\tInit Duration: 200.15 ms\t"
        );
        assert_eq!(
            run(lambda_fields, &line).unwrap(),
            vec![
                s("@type", "REPORT"),
                s("@requestId", ID),
                n("@duration", 102.25),
                n("@billedDuration", 103.0),
                n("@memorySize", 128_000_000.0),
                n("@maxMemoryUsed", 72_000_000.0),
                n("@initDuration", 200.15),
            ]
        );
    }

    #[test]
    fn lambda_report_lines_with_xray_and_snapstart_fields() {
        let line = format!(
            "REPORT RequestId: {ID}\tDuration: 2.35 ms\tBilled Duration: 3 ms\tMemory Size: 1024 MB\tMax Memory Used: 67 MB\tRestore Duration: 300.12 ms\tBilled Restore Duration: 100 ms\t\nXRAY TraceId: 1-5e1b4151-5ac6c58f5b4f5c4a1e3f0f3f\tSegmentId: 6b1e2ad53a4b6f2e\tSampled: true\t"
        );
        assert_eq!(
            run(lambda_fields, &line).unwrap(),
            vec![
                s("@type", "REPORT"),
                s("@requestId", ID),
                n("@duration", 2.35),
                n("@billedDuration", 3.0),
                n("@memorySize", 1_024_000_000.0),
                n("@maxMemoryUsed", 67_000_000.0),
                s("@xrayTraceId", "1-5e1b4151-5ac6c58f5b4f5c4a1e3f0f3f"),
                s("@xraySegmentId", "6b1e2ad53a4b6f2e"),
            ]
        );
    }

    #[test]
    fn lambda_report_lines_separated_by_spaces_parse_the_same() {
        let line = format!(
            "REPORT RequestId: {ID} Duration: 1.5 ms Billed Duration: 2 ms Memory Size: 128 MB Max Memory Used: 70 MB"
        );
        assert_eq!(
            run(lambda_fields, &line).unwrap(),
            vec![
                s("@type", "REPORT"),
                s("@requestId", ID),
                n("@duration", 1.5),
                n("@billedDuration", 2.0),
                n("@memorySize", 128_000_000.0),
                n("@maxMemoryUsed", 70_000_000.0),
            ]
        );
    }

    #[test]
    fn lambda_xray_line_on_its_own() {
        assert_eq!(
            run(
                lambda_fields,
                "XRAY TraceId: 1-abc\tSegmentId: def\tSampled: true"
            )
            .unwrap(),
            vec![s("@xrayTraceId", "1-abc"), s("@xraySegmentId", "def")]
        );
        assert_eq!(run(lambda_fields, "XRAY is on"), None);
    }

    #[test]
    fn lambda_report_values_that_are_not_numbers_are_left_out() {
        assert_eq!(
            run(
                lambda_fields,
                &format!("REPORT RequestId: {ID}\tDuration: fast ms\tBilled Duration: 3 ms")
            )
            .unwrap(),
            vec![
                s("@type", "REPORT"),
                s("@requestId", ID),
                n("@billedDuration", 3.0)
            ]
        );
    }

    #[test]
    fn lambda_application_lines_give_the_request_id() {
        assert_eq!(
            run(
                lambda_fields,
                &format!("2024-03-01T00:00:01.234Z\t{ID}\tINFO\tUser logged in")
            )
            .unwrap(),
            vec![s("@requestId", ID)]
        );
        assert_eq!(
            run(
                lambda_fields,
                &format!("[ERROR]\t2024-03-01T00:00:01.234Z\t{ID}\tboom")
            )
            .unwrap(),
            vec![s("@requestId", ID)]
        );
    }

    #[test]
    fn lines_that_only_look_like_lambda_are_not_lambda() {
        for line in [
            String::new(),
            "START the engine".to_string(),
            "START RequestId:".to_string(),
            "STARTRequestId: x".to_string(),
            "ENDING RequestId: x".to_string(),
            "REPORT generated for Q3".to_string(),
            "start RequestId: x".to_string(),
            "2024-03-01T00:00:01.234Z\tnot-a-uuid\tINFO\tx".to_string(),
            format!("2024-03-01T00:00:01.234Z {ID} INFO x"),
            format!("2024-03-01\t{ID}\tINFO\tx"),
            format!("[]\t2024-03-01T00:00:01.234Z\t{ID}\tx"),
            format!("{ID}\t2024-03-01T00:00:01.234Z\tINFO\tx"),
        ] {
            assert_eq!(run(lambda_fields, &line), None, "{line:?}");
        }
    }

    #[test]
    fn vpc_flow_log_records() {
        assert_eq!(
            run(
                vpc_flow_fields,
                "2 123456789010 eni-1235b8ca123456789 172.31.16.139 172.31.16.21 20641 22 6 20 4249 1418530010 1418530070 ACCEPT OK"
            )
            .unwrap(),
            vec![
                n("version", 2.0),
                s("accountId", "123456789010"),
                s("interfaceId", "eni-1235b8ca123456789"),
                s("srcAddr", "172.31.16.139"),
                s("dstAddr", "172.31.16.21"),
                n("srcPort", 20641.0),
                n("dstPort", 22.0),
                n("protocol", 6.0),
                n("packets", 20.0),
                n("bytes", 4249.0),
                n("startTime", 1_418_530_010.0),
                n("endTime", 1_418_530_070.0),
                s("action", "ACCEPT"),
                s("logStatus", "OK"),
            ]
        );
    }

    #[test]
    fn vpc_flow_log_dashes_give_no_field_and_account_ids_keep_leading_zeros() {
        assert_eq!(
            run(
                vpc_flow_fields,
                "2 012345678901 eni-1a2b3c4d - - - - - - - 1431280876 1431280934 - NODATA"
            )
            .unwrap(),
            vec![
                n("version", 2.0),
                s("accountId", "012345678901"),
                s("interfaceId", "eni-1a2b3c4d"),
                n("startTime", 1_431_280_876.0),
                n("endTime", 1_431_280_934.0),
                s("logStatus", "NODATA"),
            ]
        );
        assert_eq!(
            run(
                vpc_flow_fields,
                "2 123456789010 - - - - - - - - 1431280876 1431280934 - SKIPDATA"
            )
            .unwrap()
            .len(),
            5
        );
    }

    #[test]
    fn lines_that_are_not_vpc_flow_records() {
        let good = "2 123456789010 eni-1235b8ca 172.31.16.139 172.31.16.21 20641 22 6 20 4249 1418530010 1418530070 ACCEPT OK";
        assert!(run(vpc_flow_fields, good).is_some());
        for line in [
            "2 123456789010 eni-1235b8ca 172.31.16.139 172.31.16.21 20641 22 6 20 4249 1418530010 1418530070 ACCEPT",
            "2 123456789010 eni-1235b8ca 172.31.16.139 172.31.16.21 20641 22 6 20 4249 1418530010 1418530070 ACCEPT OK x",
            "3 123456789010 eni-1235b8ca 172.31.16.139 172.31.16.21 20641 22 6 20 4249 1418530010 1418530070 ACCEPT OK",
            "2 123456789010 vif-1235b8ca 172.31.16.139 172.31.16.21 20641 22 6 20 4249 1418530010 1418530070 ACCEPT OK",
            "2 123456789010 eni-1235b8ca 172.31.16.139 172.31.16.21 20641 22 6 20 4249 1418530010 1418530070 ACCEPT FINE",
            "2 123456789010 eni-1235b8ca 172.31.16.139 172.31.16.21 20641 ssh 6 20 4249 1418530010 1418530070 ACCEPT OK",
            "",
        ] {
            assert_eq!(run(vpc_flow_fields, line), None, "{line}");
        }
    }

    #[test]
    fn route53_query_log_lines() {
        assert_eq!(
            run(
                route53_fields,
                "1.0 2017-12-13T08:16:02.130Z Z123412341234 example.com A NOERROR UDP FRA6 192.168.1.1 -"
            )
            .unwrap(),
            vec![
                s("version", "1.0"),
                s("queryTimestamp", "2017-12-13T08:16:02.130Z"),
                s("hostZoneId", "Z123412341234"),
                s("queryName", "example.com"),
                s("queryType", "A"),
                s("responseCode", "NOERROR"),
                s("protocol", "UDP"),
                s("edgeLocation", "FRA6"),
                s("resolverIp", "192.168.1.1"),
            ]
        );
        let with_subnet = run(
            route53_fields,
            "1.0 2017-12-13T08:15:50.235Z Z123412341234 example.com AAAA NOERROR TCP IAD12 192.168.3.1 192.168.222.0/24",
        )
        .unwrap();
        assert_eq!(
            with_subnet.last(),
            Some(&s("ednsClientSubnet", "192.168.222.0/24"))
        );
    }

    #[test]
    fn lines_that_are_not_route53_query_logs() {
        for line in [
            "2.0 2017-12-13T08:16:02.130Z Z123412341234 example.com A NOERROR UDP FRA6 192.168.1.1 -",
            "1.0 yesterday Z123412341234 example.com A NOERROR UDP FRA6 192.168.1.1 -",
            "1.0 2017-12-13T08:16:02.130Z Z123412341234 example.com A NOERROR UDP FRA6 192.168.1.1",
            "1.0 2017-12-13T08:16:02.130Z Z123412341234 example.com A NOERROR UDP FRA6 192.168.1.1 - x",
            "1.0",
        ] {
            assert_eq!(run(route53_fields, line), None, "{line}");
        }
    }

    #[test]
    fn arbitrary_text_never_panics() {
        const PIECES: &[&str] = &[
            "START",
            "END",
            "REPORT",
            "XRAY",
            "RequestId:",
            "TraceId:",
            "Duration:",
            "Billed",
            "Memory",
            "Size:",
            "Max",
            "Used:",
            "ms",
            "MB",
            "1.5",
            " ",
            "\t",
            "\n",
            "2",
            "eni-1",
            "-",
            "OK",
            "1.0",
            "2024-03-01T00:00:00Z",
            "[INFO]",
            ID,
            "é",
            "[",
            "]",
        ];
        let mut state = 3u64;
        for _ in 0..50_000 {
            let mut line = String::new();
            state = state
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            for _ in 0..(state >> 60) {
                state = state
                    .wrapping_mul(6_364_136_223_846_793_005)
                    .wrapping_add(1_442_695_040_888_963_407);
                line.push_str(PIECES[(state >> 33) as usize % PIECES.len()]);
            }
            for detector in [lambda_fields as Detector, vpc_flow_fields, route53_fields] {
                let _ = run(detector, &line);
            }
        }
    }

    #[test]
    fn each_detector_rejects_the_others_lines() {
        let lambda = format!("END RequestId: {ID}");
        let vpc = "2 123456789010 eni-1235b8ca 172.31.16.139 172.31.16.21 20641 22 6 20 4249 1418530010 1418530070 ACCEPT OK";
        let route53 =
            "1.0 2017-12-13T08:16:02.130Z Z123412341234 example.com A NOERROR UDP FRA6 192.168.1.1 -";
        assert_eq!(run(lambda_fields, vpc), None);
        assert_eq!(run(lambda_fields, route53), None);
        assert_eq!(run(vpc_flow_fields, &lambda), None);
        assert_eq!(run(vpc_flow_fields, route53), None);
        assert_eq!(run(route53_fields, &lambda), None);
        assert_eq!(run(route53_fields, vpc), None);
    }
}
