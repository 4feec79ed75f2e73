//! The OTLP/HTTP traces receiver's decoding and conversion: an `ExportTraceServiceRequest` body
//! (`POST /v1/traces`, protobuf or OTLP/JSON, gzip or not) becomes X-Ray segment documents, one per
//! span, by the rules of the OpenTelemetry collector's `awsxrayexporter` — so that a service that
//! moved to OpenTelemetry shows up locally the way it would in X-Ray.
//!
//! Design decisions:
//! - Every span becomes its own document: a segment, or an independent subsegment (`type:
//!   "subsegment"` with `trace_id` and `parent_id`) for a non-SERVER span with a parent. Nothing is
//!   nested, so spans of one trace may arrive in any order and in any request.
//! - A span we cannot place (bad ids, end before start) is rejected and counted; the rest of the
//!   request is taken, and the response's `partial_success` tells the client how many and why.
//! - OTLP/JSON goes through the generated types' serde support; where that disagrees with the
//!   proto3 JSON rules OTLP builds on (nulls, omitted empty lists and keys, `"NaN"` doubles, enum
//!   names, quoted 32-bit integers) the body is rewritten to the form it accepts and decoded again.
//! - Documents are deterministic: the same request gives the same bytes (exception ids derive from
//!   the span id), whichever encoding it came in.

use std::borrow::Cow;
use std::fmt;
use std::io::Read;

use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTracePartialSuccess, ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use opentelemetry_proto::tonic::common::v1::any_value::Value as Attr;
use opentelemetry_proto::tonic::common::v1::KeyValue;
use opentelemetry_proto::tonic::trace::v1::span::{Event, SpanKind};
use opentelemetry_proto::tonic::trace::v1::status::StatusCode;
use opentelemetry_proto::tonic::trace::v1::Span;
use prost::Message;
use serde_json::{json, Map, Value};

use crate::segment::MAX_NAME_CHARS;

/// The largest body taken, measured after decompression (the OTLP specification's recommended
/// limit; the caller answers 413 above it).
pub const MAX_DECOMPRESSED_BYTES: usize = 20 << 20;

/// How a request body is encoded, from its `Content-Type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    /// `application/x-protobuf`.
    Protobuf,
    /// `application/json` (OTLP/JSON: hex ids, integer enums).
    Json,
}

impl Encoding {
    /// The encoding a `Content-Type` names, parameters such as `charset` ignored; `None` for any
    /// other media type (answer 415).
    pub fn from_content_type(content_type: &str) -> Option<Encoding> {
        let media = content_type.split(';').next().unwrap_or_default().trim();
        if media.eq_ignore_ascii_case("application/x-protobuf") {
            Some(Encoding::Protobuf)
        } else if media.eq_ignore_ascii_case("application/json") {
            Some(Encoding::Json)
        } else {
            None
        }
    }

    /// The `Content-Type` of responses in this encoding (the request's own).
    pub fn content_type(self) -> &'static str {
        match self {
            Encoding::Protobuf => "application/x-protobuf",
            Encoding::Json => "application/json",
        }
    }
}

/// What a request's spans became.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Converted {
    /// One compact JSON segment document per accepted span, ready for `crate::segment::parse`.
    pub documents: Vec<Vec<u8>>,
    /// Spans not converted (see `error_message`).
    pub rejected_spans: u64,
    /// Why spans were rejected, for the response's `partial_success`.
    pub error_message: Option<String>,
}

/// Why a whole request was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OtlpError {
    /// A `Content-Encoding` other than gzip or identity.
    UnsupportedContentEncoding(String),
    /// The body said gzip and was not.
    BadGzip(String),
    /// The body is bigger than `MAX_DECOMPRESSED_BYTES` once decompressed.
    TooLarge,
    /// Not an `ExportTraceServiceRequest` in protobuf (the decoder's message).
    Protobuf(String),
    /// Not an `ExportTraceServiceRequest` in OTLP/JSON (the decoder's message).
    Json(String),
}

impl OtlpError {
    /// The HTTP status to answer with: 415 for an encoding we do not speak, 413 for too large,
    /// 400 (not retryable) for a body that does not decode.
    pub fn http_status(&self) -> u16 {
        match self {
            OtlpError::UnsupportedContentEncoding(_) => 415,
            OtlpError::TooLarge => 413,
            OtlpError::BadGzip(_) | OtlpError::Protobuf(_) | OtlpError::Json(_) => 400,
        }
    }
}

impl fmt::Display for OtlpError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            OtlpError::UnsupportedContentEncoding(encoding) => write!(
                f,
                "Content-Encoding {encoding:?} is not supported (use gzip or none)"
            ),
            OtlpError::BadGzip(why) => write!(f, "the body is not valid gzip: {why}"),
            OtlpError::TooLarge => write!(
                f,
                "the body is larger than {MAX_DECOMPRESSED_BYTES} bytes after decompression"
            ),
            OtlpError::Protobuf(why) => {
                write!(f, "the body is not a protobuf ExportTraceServiceRequest: {why}")
            }
            OtlpError::Json(why) => {
                write!(f, "the body is not an OTLP/JSON ExportTraceServiceRequest: {why}")
            }
        }
    }
}

impl std::error::Error for OtlpError {}

/// Decodes a `POST /v1/traces` body and converts its spans. `content_encoding` is the header's
/// value: `gzip`, `identity` or none; anything else is an error, as are bad gzip, a body over
/// `MAX_DECOMPRESSED_BYTES` once decompressed (never allocating past it), and a body that does not
/// decode. Spans that cannot be converted are counted in `Converted::rejected_spans`.
pub fn decode(
    body: &[u8],
    encoding: Encoding,
    content_encoding: Option<&str>,
) -> Result<Converted, OtlpError> {
    let body = decompress(body, content_encoding)?;
    let request = match encoding {
        Encoding::Protobuf => ExportTraceServiceRequest::decode(body.as_ref())
            .map_err(|e| OtlpError::Protobuf(e.to_string()))?,
        Encoding::Json => request_from_json(&body)?,
    };
    Ok(convert(&request))
}

/// The body of a 200 answer: an `ExportTraceServiceResponse` in the request's encoding, with
/// `partial_success` when spans were rejected.
pub fn success_response(encoding: Encoding, converted: &Converted) -> Vec<u8> {
    let partial = converted.rejected_spans > 0 || converted.error_message.is_some();
    let message = converted.error_message.clone().unwrap_or_default();
    match encoding {
        Encoding::Protobuf => ExportTraceServiceResponse {
            partial_success: partial.then(|| ExportTracePartialSuccess {
                rejected_spans: i64::try_from(converted.rejected_spans).unwrap_or(i64::MAX),
                error_message: message,
            }),
        }
        .encode_to_vec(),
        Encoding::Json => {
            let body = if partial {
                // proto3 JSON writes int64 as a decimal string.
                json!({"partialSuccess": {
                    "rejectedSpans": converted.rejected_spans.to_string(),
                    "errorMessage": message,
                }})
            } else {
                json!({})
            };
            body.to_string().into_bytes()
        }
    }
}

/// The body of a 400 answer: a `google.rpc.Status` with code 3 (`INVALID_ARGUMENT`) and
/// `message`, in the request's encoding.
pub fn error_response(encoding: Encoding, message: &str) -> Vec<u8> {
    const INVALID_ARGUMENT: i32 = 3;
    match encoding {
        Encoding::Protobuf => RpcStatus {
            code: INVALID_ARGUMENT,
            message: message.to_string(),
            details: Vec::new(),
        }
        .encode_to_vec(),
        Encoding::Json => json!({"code": INVALID_ARGUMENT, "message": message})
            .to_string()
            .into_bytes(),
    }
}

/// `google.rpc.Status`, which the opentelemetry-proto crate does not carry.
#[derive(Clone, PartialEq, Message)]
struct RpcStatus {
    #[prost(int32, tag = "1")]
    code: i32,
    #[prost(string, tag = "2")]
    message: String,
    #[prost(message, repeated, tag = "3")]
    details: Vec<ProtoAny>,
}

/// `google.protobuf.Any`.
#[derive(Clone, PartialEq, Message)]
struct ProtoAny {
    #[prost(string, tag = "1")]
    type_url: String,
    #[prost(bytes = "vec", tag = "2")]
    value: Vec<u8>,
}

// ---------------------------------------------------------------------------------------------
// Bodies

fn decompress<'b>(body: &'b [u8], content_encoding: Option<&str>) -> Result<Cow<'b, [u8]>, OtlpError> {
    let encoding = content_encoding.unwrap_or_default().trim();
    if encoding.is_empty() || encoding.eq_ignore_ascii_case("identity") {
        if body.len() > MAX_DECOMPRESSED_BYTES {
            return Err(OtlpError::TooLarge);
        }
        Ok(Cow::Borrowed(body))
    } else if encoding.eq_ignore_ascii_case("gzip") || encoding.eq_ignore_ascii_case("x-gzip") {
        read_capped(flate2::read::MultiGzDecoder::new(body), MAX_DECOMPRESSED_BYTES).map(Cow::Owned)
    } else {
        Err(OtlpError::UnsupportedContentEncoding(encoding.to_string()))
    }
}

/// Reads `reader` to its end, failing as soon as it yields more than `limit` bytes; the buffer
/// never grows past `limit` (a gzip bomb costs at most that).
fn read_capped(mut reader: impl Read, limit: usize) -> Result<Vec<u8>, OtlpError> {
    let mut out = Vec::new();
    let mut chunk = vec![0u8; 64 << 10];
    loop {
        let n = match reader.read(&mut chunk) {
            Ok(0) => return Ok(out),
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(OtlpError::BadGzip(e.to_string())),
        };
        if out.len() + n > limit {
            return Err(OtlpError::TooLarge);
        }
        if out.capacity() - out.len() < n {
            let capacity = (out.capacity() * 2).max(out.len() + n).min(limit);
            out.reserve_exact(capacity - out.len());
        }
        out.extend_from_slice(&chunk[..n]);
    }
}

fn request_from_json(body: &[u8]) -> Result<ExportTraceServiceRequest, OtlpError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(ExportTraceServiceRequest::default());
    }
    match serde_json::from_slice(body) {
        Ok(request) => Ok(request),
        Err(direct) => {
            // Perhaps valid proto3 JSON the generated serde code refuses: rewrite and retry, but
            // report the first error (it has the line and column).
            let mut value: Value =
                serde_json::from_slice(body).map_err(|e| OtlpError::Json(e.to_string()))?;
            proto3_json_to_serde_form(&mut value, Context::Other);
            serde_json::from_value(value).map_err(|_| OtlpError::Json(direct.to_string()))
        }
    }
}

/// Where a JSON value sits, as far as `proto3_json_to_serde_form` needs to know.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Context {
    /// An `arrayValue` object.
    ArrayValue,
    /// A `kvlistValue` object.
    KvlistValue,
    /// The elements of a list of `KeyValue`s (`attributes`, a `kvlistValue`'s `values`).
    KeyValues,
    KeyValue,
    Other,
}

/// Rewrites valid proto3 JSON into the form the generated serde code takes: nulls are dropped
/// (they mean the default), `arrayValue`/`kvlistValue` get their omitted empty `values`, a
/// `KeyValue` its omitted empty `key`, enum names and quoted 32-bit integers become numbers, and a
/// `"NaN"`/`"Infinity"` double (which JSON numbers cannot hold) becomes that text.
fn proto3_json_to_serde_form(value: &mut Value, context: Context) {
    match value {
        Value::Array(items) => {
            let inner = if context == Context::KeyValues {
                Context::KeyValue
            } else {
                Context::Other
            };
            for item in items {
                proto3_json_to_serde_form(item, inner);
            }
        }
        Value::Object(map) => {
            map.retain(|_, v| !v.is_null());
            let list_value = matches!(context, Context::ArrayValue | Context::KvlistValue);
            if list_value && !map.contains_key("values") {
                map.insert("values".into(), json!([]));
            }
            if context == Context::KeyValue && !map.contains_key("key") {
                map.insert("key".into(), json!(""));
            }
            if let Some(Value::String(text)) = map.get("doubleValue") {
                match text.parse::<f64>() {
                    Ok(d) if d.is_finite() => {
                        map.insert("doubleValue".into(), json!(d));
                    }
                    _ => {
                        let text = Value::String(text.clone());
                        map.remove("doubleValue");
                        map.insert("stringValue".into(), text);
                    }
                }
            }
            for key in [
                "kind",
                "code",
                "flags",
                "droppedAttributesCount",
                "droppedEventsCount",
                "droppedLinksCount",
            ] {
                if let Some(Value::String(text)) = map.get(key) {
                    let number = SpanKind::from_str_name(text)
                        .map(|k| k as i64)
                        .or_else(|| StatusCode::from_str_name(text).map(|c| c as i64))
                        .or_else(|| text.trim().parse::<i64>().ok());
                    if let Some(number) = number {
                        map.insert(key.into(), json!(number));
                    }
                }
            }
            for (key, child) in map.iter_mut() {
                let inner = match key.as_str() {
                    "arrayValue" => Context::ArrayValue,
                    "kvlistValue" => Context::KvlistValue,
                    "attributes" => Context::KeyValues,
                    "values" if context == Context::KvlistValue => Context::KeyValues,
                    _ => Context::Other,
                };
                proto3_json_to_serde_form(child, inner);
            }
        }
        _ => {}
    }
}

// ---------------------------------------------------------------------------------------------
// Spans → segment documents

/// Why a span was not converted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Rejection {
    TraceId,
    SpanId,
    ParentSpanId,
    NoStartTime,
    EndBeforeStart,
}

impl Rejection {
    const ALL: [Rejection; 5] = [
        Rejection::TraceId,
        Rejection::SpanId,
        Rejection::ParentSpanId,
        Rejection::NoStartTime,
        Rejection::EndBeforeStart,
    ];

    fn reason(self) -> &'static str {
        match self {
            Rejection::TraceId => "a trace id that is not 16 bytes or is all zeros",
            Rejection::SpanId => "a span id that is not 8 bytes or is all zeros",
            Rejection::ParentSpanId => "a parent span id that is neither empty nor 8 bytes",
            Rejection::NoStartTime => "no start time",
            Rejection::EndBeforeStart => "an end time before the start time",
        }
    }
}

fn convert(request: &ExportTraceServiceRequest) -> Converted {
    let mut converted = Converted::default();
    let mut rejected = [0u64; Rejection::ALL.len()];
    let mut spans = 0u64;
    for resource_spans in &request.resource_spans {
        let resource = ResourceInfo::new(
            resource_spans
                .resource
                .as_ref()
                .map_or(&[][..], |r| r.attributes.as_slice()),
        );
        for span in resource_spans.scope_spans.iter().flat_map(|s| &s.spans) {
            spans += 1;
            match document(span, &resource) {
                Ok(doc) => converted.documents.push(doc),
                Err(why) => rejected[why as usize] += 1,
            }
        }
    }
    converted.rejected_spans = rejected.iter().sum();
    if converted.rejected_spans > 0 {
        let reasons: Vec<String> = Rejection::ALL
            .iter()
            .zip(rejected)
            .filter(|(_, n)| *n > 0)
            .map(|(why, n)| format!("{n} with {}", why.reason()))
            .collect();
        converted.error_message = Some(format!(
            "{} of {spans} spans rejected: {}",
            converted.rejected_spans,
            reasons.join(", ")
        ));
    }
    converted
}

/// Attribute lookups over a span's (or resource's, or event's) attributes.
#[derive(Clone, Copy)]
struct Attributes<'a>(&'a [KeyValue]);

impl<'a> Attributes<'a> {
    fn get(self, key: &str) -> Option<&'a Attr> {
        self.0
            .iter()
            .find(|kv| kv.key == key)
            .and_then(|kv| kv.value.as_ref())
            .and_then(|v| v.value.as_ref())
    }

    fn has(self, key: &str) -> bool {
        self.get(key).is_some()
    }

    /// A non-empty string value.
    fn str(self, key: &str) -> Option<&'a str> {
        match self.get(key) {
            Some(Attr::StringValue(s)) if !s.is_empty() => Some(s),
            _ => None,
        }
    }

    fn first_str(self, keys: &[&str]) -> Option<&'a str> {
        keys.iter().find_map(|k| self.str(k))
    }

    /// An integer, also from a whole double or a decimal string.
    fn int(self, key: &str) -> Option<i64> {
        match self.get(key)? {
            Attr::IntValue(i) => Some(*i),
            Attr::DoubleValue(d) if d.is_finite() && d.fract() == 0.0 => Some(*d as i64),
            Attr::StringValue(s) => s.trim().parse().ok(),
            _ => None,
        }
    }

    fn first_int(self, keys: &[&str]) -> Option<i64> {
        keys.iter().find_map(|k| self.int(k))
    }

    /// Strings of an array value (a lone string counts as one).
    fn strings(self, key: &str) -> Vec<&'a str> {
        match self.get(key) {
            Some(Attr::ArrayValue(array)) => array
                .values
                .iter()
                .filter_map(|v| match &v.value {
                    Some(Attr::StringValue(s)) => Some(s.as_str()),
                    _ => None,
                })
                .collect(),
            Some(Attr::StringValue(s)) if !s.is_empty() => vec![s.as_str()],
            _ => Vec::new(),
        }
    }
}

/// What a resource contributes to its spans' segments, worked out once per resource.
struct ResourceInfo<'a> {
    attributes: Attributes<'a>,
    origin: Option<&'static str>,
    service_version: Option<&'a str>,
    /// The segment `aws` block's resource part: account, ec2, ecs, eks, elastic_beanstalk,
    /// xray, cloudwatch_logs.
    aws: Map<String, Value>,
    language: &'a str,
}

impl<'a> ResourceInfo<'a> {
    fn new(attributes: &'a [KeyValue]) -> ResourceInfo<'a> {
        let attributes = Attributes(attributes);
        let on_aws = attributes.str("cloud.provider").is_none_or(|p| p == "aws");
        ResourceInfo {
            attributes,
            origin: if on_aws { origin(attributes) } else { None },
            service_version: attributes.first_str(&["service.version", "container.image.tag"]),
            aws: if on_aws {
                resource_aws(attributes)
            } else {
                Map::new()
            },
            language: attributes.str("telemetry.sdk.language").unwrap_or_default(),
        }
    }
}

fn origin(resource: Attributes<'_>) -> Option<&'static str> {
    Some(match resource.str("cloud.platform")? {
        "aws_ec2" => "AWS::EC2::Instance",
        "aws_ecs" => match resource.str("aws.ecs.launchtype") {
            Some("ec2") => "AWS::ECS::EC2",
            Some("fargate") => "AWS::ECS::Fargate",
            _ => "AWS::ECS::Container",
        },
        "aws_eks" => "AWS::EKS::Container",
        "aws_elastic_beanstalk" => "AWS::ElasticBeanstalk::Environment",
        "aws_app_runner" => "AWS::AppRunner::Service",
        _ => return None,
    })
}

/// `fields` as a JSON object, absent ones left out; `None` when all are absent.
fn object(fields: &[(&str, Option<Value>)]) -> Option<Value> {
    let map: Map<String, Value> = fields
        .iter()
        .filter_map(|(k, v)| Some(((*k).to_string(), v.clone()?)))
        .collect();
    (!map.is_empty()).then_some(Value::Object(map))
}

fn text(s: Option<&str>) -> Option<Value> {
    s.map(|s| Value::String(s.to_string()))
}

fn resource_aws(resource: Attributes<'_>) -> Map<String, Value> {
    let platform = resource.str("cloud.platform").unwrap_or_default();
    let mut aws = Map::new();
    let mut put = |key: &str, value: Option<Value>| {
        if let Some(value) = value {
            aws.insert(key.to_string(), value);
        }
    };
    put("account_id", text(resource.str("cloud.account.id")));
    if platform == "aws_ec2" || resource.has("host.id") {
        put(
            "ec2",
            object(&[
                ("instance_id", text(resource.str("host.id"))),
                ("availability_zone", text(resource.str("cloud.availability_zone"))),
                ("instance_size", text(resource.str("host.type"))),
                ("ami_id", text(resource.str("host.image.id"))),
            ]),
        );
    }
    if platform == "aws_ecs" {
        put(
            "ecs",
            object(&[
                ("container", text(resource.str("container.name"))),
                ("container_id", text(resource.str("container.id"))),
                ("container_arn", text(resource.str("aws.ecs.container.arn"))),
                ("cluster_arn", text(resource.str("aws.ecs.cluster.arn"))),
                ("task_arn", text(resource.str("aws.ecs.task.arn"))),
                ("task_family", text(resource.str("aws.ecs.task.family"))),
                ("launch_type", text(resource.str("aws.ecs.launchtype"))),
                ("availability_zone", text(resource.str("cloud.availability_zone"))),
            ]),
        );
    }
    if platform == "aws_elastic_beanstalk" {
        if let Some(deployment) = resource.str("service.instance.id") {
            put(
                "elastic_beanstalk",
                object(&[
                    ("environment_name", text(resource.str("service.namespace"))),
                    ("version_label", text(resource.str("service.version"))),
                    (
                        "deployment_id",
                        Some(json!(deployment.parse::<i64>().unwrap_or(0))),
                    ),
                ]),
            );
        }
    }
    if platform == "aws_eks" || resource.has("k8s.cluster.name") {
        put(
            "eks",
            object(&[
                ("cluster_name", text(resource.str("k8s.cluster.name"))),
                ("pod", text(resource.str("k8s.pod.name"))),
                ("container_id", text(resource.str("container.id"))),
            ]),
        );
    }
    let sdk_name = resource.str("telemetry.sdk.name");
    let auto = resource.has("telemetry.auto.version") || resource.has("telemetry.distro.version");
    if sdk_name.is_some() || auto {
        let sdk = match (sdk_name, resource.str("telemetry.sdk.language")) {
            (Some(name), Some(language)) => Some(format!("{name} for {language}")),
            (name, _) => name.map(str::to_string),
        };
        put(
            "xray",
            object(&[
                ("sdk", sdk.map(Value::String)),
                ("sdk_version", text(resource.str("telemetry.sdk.version"))),
                ("auto_instrumentation", Some(json!(auto))),
            ]),
        );
    }
    let arns = log_groups(resource, "aws.log.group.arns");
    let groups: Vec<Value> = if arns.is_empty() {
        log_groups(resource, "aws.log.group.names")
            .into_iter()
            .map(|name| json!({"log_group": name}))
            .collect()
    } else {
        // arn:aws:logs:<region>:<account>:log-group:<name>[:*]
        arns.into_iter()
            .map(|arn| json!({"log_group": arn.split(':').nth(6).unwrap_or(arn), "arn": arn}))
            .collect()
    };
    if !groups.is_empty() {
        put("cloudwatch_logs", Some(Value::Array(groups)));
    }
    aws
}

/// Log group names or ARNs: an array, or one string with `&` between them (how
/// `OTEL_RESOURCE_ATTRIBUTES` carries several).
fn log_groups<'a>(resource: Attributes<'a>, key: &str) -> Vec<&'a str> {
    resource
        .strings(key)
        .into_iter()
        .flat_map(|s| s.split('&'))
        .filter(|s| !s.is_empty())
        .collect()
}

/// `1-` + the first 4 bytes in hex + `-` + the other 12 in hex; `None` unless 16 bytes, not all zero.
fn xray_trace_id(bytes: &[u8]) -> Option<String> {
    if bytes.len() != 16 || bytes.iter().all(|b| *b == 0) {
        return None;
    }
    Some(format!("1-{}-{}", hex(&bytes[..4]), hex(&bytes[4..])))
}

/// 16 hex digits; `None` unless 8 bytes, not all zero.
fn span_id(bytes: &[u8]) -> Option<String> {
    (bytes.len() == 8 && bytes.iter().any(|b| *b != 0)).then(|| hex(bytes))
}

fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    bytes
        .iter()
        .fold(String::with_capacity(bytes.len() * 2), |mut s, b| {
            let _ = write!(s, "{b:02x}");
            s
        })
}

/// Unix nanoseconds as float seconds, the whole seconds converted apart (no double rounding).
fn seconds(unix_nanos: u64) -> f64 {
    (unix_nanos / 1_000_000_000) as f64 + (unix_nanos % 1_000_000_000) as f64 / 1e9
}

/// The segment document for one span.
fn document(span: &Span, resource: &ResourceInfo<'_>) -> Result<Vec<u8>, Rejection> {
    let trace_id = xray_trace_id(&span.trace_id).ok_or(Rejection::TraceId)?;
    let id = span_id(&span.span_id).ok_or(Rejection::SpanId)?;
    let parent_id = match span.parent_span_id.len() {
        0 => None,
        // An all-zero parent is how some SDKs say "none".
        8 => span_id(&span.parent_span_id),
        _ => return Err(Rejection::ParentSpanId),
    };
    if span.start_time_unix_nano == 0 {
        return Err(Rejection::NoStartTime);
    }
    if span.end_time_unix_nano < span.start_time_unix_nano {
        return Err(Rejection::EndBeforeStart);
    }
    let kind = SpanKind::try_from(span.kind).unwrap_or(SpanKind::Unspecified);
    let attrs = Attributes(&span.attributes);
    let subsegment = kind != SpanKind::Server && parent_id.is_some();
    let aws_sdk = attrs.str("rpc.system") == Some("aws-api");
    // Attributes that went into a block, left out of the metadata.
    let mut consumed: Vec<&str> = Vec::new();

    let (name, namespace) = name_and_namespace(span, kind, attrs, resource, aws_sdk, subsegment);
    let mut doc = Map::new();
    doc.insert("name".into(), json!(name));
    doc.insert("id".into(), json!(id));
    doc.insert("trace_id".into(), json!(trace_id));
    doc.insert("start_time".into(), json!(seconds(span.start_time_unix_nano)));
    doc.insert("end_time".into(), json!(seconds(span.end_time_unix_nano)));
    if subsegment {
        doc.insert("type".into(), json!("subsegment"));
    }
    if let Some(parent_id) = parent_id {
        doc.insert("parent_id".into(), json!(parent_id));
    }
    if let Some(namespace) = namespace {
        doc.insert("namespace".into(), json!(namespace));
    }
    if !subsegment {
        if let Some(origin) = resource.origin {
            doc.insert("origin".into(), json!(origin));
        }
        if let Some(user) = attrs.str("enduser.id") {
            doc.insert("user".into(), json!(user));
            consumed.push("enduser.id");
        }
        if let Some(version) = resource.service_version {
            doc.insert("service".into(), json!({"version": version}));
        }
    }
    if let Some(http) = http_block(span, kind, attrs, &mut consumed) {
        doc.insert("http".into(), http);
    }
    let mut aws = span_aws(attrs, aws_sdk, &mut consumed);
    if !subsegment {
        for (key, value) in &resource.aws {
            if !aws.contains_key(key) {
                aws.insert(key.clone(), value.clone());
            }
        }
    }
    if !aws.is_empty() {
        doc.insert("aws".into(), Value::Object(aws));
    }
    if let Some(sql) = sql_block(span, attrs, &mut consumed) {
        doc.insert("sql".into(), sql);
    }
    let (flags, cause) = errors(span, kind, attrs, resource, aws_sdk, &mut consumed);
    for (flag, set) in [
        ("error", flags.error),
        ("throttle", flags.throttle),
        ("fault", flags.fault),
    ] {
        if set {
            doc.insert(flag.into(), json!(true));
        }
    }
    if let Some(cause) = cause {
        doc.insert("cause".into(), cause);
    }
    let (annotations, metadata) = annotations_and_metadata(attrs, resource, subsegment, &consumed);
    if !annotations.is_empty() {
        doc.insert("annotations".into(), Value::Object(annotations));
    }
    if !metadata.is_empty() {
        doc.insert("metadata".into(), Value::Object(metadata));
    }
    let links: Vec<Value> = span
        .links
        .iter()
        .filter_map(|link| {
            let mut out = Map::new();
            out.insert("trace_id".into(), json!(xray_trace_id(&link.trace_id)?));
            out.insert("id".into(), json!(span_id(&link.span_id)?));
            let attributes = attributes_json(&link.attributes);
            if !attributes.is_empty() {
                out.insert("attributes".into(), Value::Object(attributes));
            }
            Some(Value::Object(out))
        })
        .collect();
    if !links.is_empty() {
        doc.insert("links".into(), Value::Array(links));
    }
    // Serialising a `Value` cannot fail (its keys are strings); the fallback is unreachable.
    Ok(serde_json::to_vec(&Value::Object(doc)).unwrap_or_default())
}

/// The segment name (§6.3 of the research notes, first match wins) and the namespace.
fn name_and_namespace(
    span: &Span,
    kind: SpanKind,
    attrs: Attributes<'_>,
    resource: &ResourceInfo<'_>,
    aws_sdk: bool,
    subsegment: bool,
) -> (String, Option<&'static str>) {
    let local_root = attrs.str("aws.span.kind") == Some("LOCAL_ROOT");
    let remote_kind = matches!(kind, SpanKind::Client | SpanKind::Producer | SpanKind::Consumer);
    let mut name: Option<String> = match kind {
        SpanKind::Server => attrs.str("aws.local.service").map(str::to_string),
        SpanKind::Internal if local_root => attrs.str("aws.local.service").map(str::to_string),
        _ if remote_kind => attrs.str("aws.remote.service").map(|s| {
            let trimmed = if aws_sdk {
                s.strip_prefix("AWS.SDK.")
                    .or_else(|| s.strip_prefix("AWS::"))
                    .unwrap_or(s)
            } else {
                s
            };
            trimmed.to_string()
        }),
        _ => None,
    };
    let mut namespace = aws_sdk.then_some("aws");
    name = name.or_else(|| attrs.str("peer.service").map(str::to_string));
    if name.is_none() {
        if let Some(service) = attrs.str("aws.service") {
            name = Some(service.to_string());
            namespace.get_or_insert("aws");
        }
    }
    name = name.or_else(|| {
        let db = attrs.first_str(&["db.name", "db.namespace"])?;
        let host = attrs.str("db.connection_string").and_then(connection_host);
        Some(match host {
            Some(host) => format!("{db}@{host}"),
            None => db.to_string(),
        })
    });
    if kind == SpanKind::Server {
        name = name.or_else(|| resource.attributes.str("service.name").map(str::to_string));
    }
    name = name.or_else(|| {
        attrs
            .first_str(&["rpc.service", "http.host", "net.peer.name"])
            .map(str::to_string)
    });
    if matches!(kind, SpanKind::Client | SpanKind::Producer) {
        // The stable semantic conventions' name for net.peer.name.
        name = name.or_else(|| attrs.str("server.address").map(str::to_string));
    }
    if namespace.is_none()
        && (kind == SpanKind::Client || (subsegment && remote_kind && attrs.has("aws.remote.service")))
    {
        namespace = Some("remote");
    }
    let name = name.map_or_else(|| xray_name(&span.name), |n| xray_name(&n));
    (name, namespace)
}

/// The host of a database connection string (`jdbc:` trimmed): `mysql://db.example.com:3306/x`
/// → `db.example.com`; `None` when it has no `scheme://` authority.
fn connection_host(connection_string: &str) -> Option<&str> {
    let url = connection_string
        .strip_prefix("jdbc:")
        .unwrap_or(connection_string);
    let (_, rest) = url.split_once("://")?;
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let host_port = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let host = if let Some(v6) = host_port.strip_prefix('[') {
        v6.split(']').next().unwrap_or_default()
    } else {
        host_port.split(':').next().unwrap_or_default()
    };
    (!host.is_empty()).then_some(host)
}

/// A name X-Ray takes: characters outside its set dropped, at most `MAX_NAME_CHARS`, `span` when
/// nothing is left.
fn xray_name(name: &str) -> String {
    let name: String = name
        .chars()
        .filter(|c| c.is_alphanumeric() || c.is_whitespace() || "_.:/%&#=+\\-@".contains(*c))
        .take(MAX_NAME_CHARS)
        .collect();
    if name.trim().is_empty() {
        "span".to_string()
    } else {
        name
    }
}

/// The `http` block, from the stable or the pre-1.20 semantic-convention names; `None` for a
/// span with no HTTP attributes.
fn http_block<'a>(
    span: &Span,
    kind: SpanKind,
    attrs: Attributes<'a>,
    consumed: &mut Vec<&'a str>,
) -> Option<Value> {
    const KEYS: [&str; 30] = [
        "http.request.method",
        "http.method",
        "user_agent.original",
        "http.user_agent",
        "http.response.status_code",
        "http.status_code",
        "url.full",
        "http.url",
        "url.scheme",
        "http.scheme",
        "url.path",
        "url.query",
        "http.target",
        "http.host",
        "http.server_name",
        "server.address",
        "server.port",
        "host.name",
        "net.host.name",
        "net.host.port",
        "net.peer.name",
        "net.peer.port",
        "net.peer.ip",
        "network.peer.address",
        "network.peer.port",
        "client.address",
        "http.client_ip",
        "http.response.body.size",
        "http.response_content_length",
        "http.status_text",
    ];
    let method = attrs.first_str(&["http.request.method", "http.method"]);
    let user_agent = attrs.first_str(&["user_agent.original", "http.user_agent"]);
    let status = attrs.first_int(&["http.response.status_code", "http.status_code"]);
    let full_url = attrs.first_str(&["url.full", "http.url"]);
    let has_http = method.is_some()
        || user_agent.is_some()
        || status.is_some()
        || full_url.is_some()
        || [
            "url.scheme",
            "http.scheme",
            "url.path",
            "url.query",
            "http.target",
            "http.host",
            "http.server_name",
            "http.client_ip",
        ]
        .iter()
        .any(|k| attrs.has(k));
    if !has_http {
        return None;
    }
    // The status text may still become the cause's message.
    consumed.extend(KEYS.iter().filter(|k| **k != "http.status_text"));

    let is_ip = |s: &&str| s.parse::<std::net::IpAddr>().is_ok();
    let peer_ip = attrs
        .str("net.peer.ip")
        .or_else(|| attrs.str("network.peer.address").filter(is_ip));
    let client_ip = attrs
        .str("client.address")
        .filter(is_ip)
        .or_else(|| attrs.str("http.client_ip"))
        .or(peer_ip);
    let url = full_url.map(str::to_string).or_else(|| built_url(kind, attrs));

    let request = object(&[
        ("method", text(method)),
        ("url", url.map(Value::String)),
        ("user_agent", text(user_agent)),
        ("client_ip", text(client_ip)),
        (
            "x_forwarded_for",
            (client_ip.is_some() && peer_ip.is_none()).then(|| json!(true)),
        ),
    ]);
    let content_length = attrs
        .first_int(&["http.response.body.size", "http.response_content_length"])
        .or_else(|| span.events.iter().find_map(received_size));
    let response = object(&[
        ("status", status.map(|s| json!(s))),
        ("content_length", content_length.map(|n| json!(n))),
    ]);
    object(&[("request", request), ("response", response)])
}

/// The response size a `message.type = RECEIVED` event carries.
fn received_size(event: &Event) -> Option<i64> {
    let attrs = Attributes(&event.attributes);
    if attrs.str("message.type") != Some("RECEIVED") {
        return None;
    }
    attrs.first_int(&[
        "messaging.message.body.size",
        "messaging.message_payload_size_bytes",
    ])
}

/// The request URL from its parts when there is no full URL: scheme, host, port (not the
/// scheme's default), target or path and query. `None` without a host.
fn built_url(kind: SpanKind, attrs: Attributes<'_>) -> Option<String> {
    let scheme = attrs.first_str(&["url.scheme", "http.scheme"]).unwrap_or("http");
    let port_of = |keys: &[&str]| {
        keys.iter().find_map(|k| {
            attrs
                .str(k)
                .map(str::to_string)
                .or_else(|| attrs.int(k).map(|p| p.to_string()))
        })
    };
    // http.host carries its port already.
    let (host, port) = if let Some(host) = attrs.str("http.host") {
        (host, None)
    } else if kind == SpanKind::Server {
        (
            attrs.first_str(&["http.server_name", "net.host.name", "host.name", "server.address"])?,
            port_of(&["net.host.port", "server.port"]),
        )
    } else {
        let ip = attrs
            .str("network.peer.address")
            .filter(|a| a.parse::<std::net::IpAddr>().is_ok());
        (
            attrs
                .first_str(&["net.peer.name", "net.peer.ip", "server.address"])
                .or(ip)?,
            port_of(&["net.peer.port", "server.port", "network.peer.port"]),
        )
    };
    let mut url = format!("{scheme}://{host}");
    if let Some(port) = port {
        if !matches!((scheme, port.as_str()), ("http", "80") | ("https", "443")) {
            url.push(':');
            url.push_str(&port);
        }
    }
    if let Some(target) = attrs.str("http.target") {
        url.push_str(target);
    } else {
        url.push_str(attrs.str("url.path").unwrap_or("/"));
        if let Some(query) = attrs.str("url.query") {
            if !query.starts_with('?') {
                url.push('?');
            }
            url.push_str(query);
        }
    }
    Some(url)
}

/// The span's part of the `aws` block: operation, account, region, request id, queue, tables.
fn span_aws<'a>(attrs: Attributes<'a>, aws_sdk: bool, consumed: &mut Vec<&'a str>) -> Map<String, Value> {
    let mut aws = Map::new();
    // The first of `keys` present fills `field`, unless an earlier call did.
    let mut take = |field: &str, keys: &[&'a str]| {
        if aws.contains_key(field) {
            return;
        }
        if let Some((key, value)) = keys.iter().find_map(|k| Some((*k, attrs.str(k)?))) {
            aws.insert(field.to_string(), json!(value));
            consumed.push(key);
        }
    };
    take("operation", &["aws.operation"]);
    if aws_sdk {
        // rpc.method names the operation of AWS SDK calls only (elsewhere it is gRPC's).
        take("operation", &["rpc.method"]);
        take("queue_url", &["messaging.url"]);
    }
    take("account_id", &["aws.account_id"]);
    take("region", &["aws.region"]);
    take("request_id", &["aws.request_id", "aws.requestId"]);
    take("queue_url", &["aws.queue_url", "aws.queue.url"]);
    let tables = attrs.strings("aws.dynamodb.table_names");
    match tables.as_slice() {
        [] => take("table_name", &["aws.table_name", "aws.table.name"]),
        [one] => {
            aws.insert("table_name".into(), json!(one));
            consumed.push("aws.dynamodb.table_names");
        }
        many => {
            aws.insert("table_names".into(), json!(many));
            consumed.push("aws.dynamodb.table_names");
        }
    }
    aws
}

/// The `sql` block, for SQL databases only.
fn sql_block<'a>(span: &Span, attrs: Attributes<'a>, consumed: &mut Vec<&'a str>) -> Option<Value> {
    const SQL_SYSTEMS: [&str; 15] = [
        "db2",
        "derby",
        "hive",
        "mariadb",
        "mssql",
        "mysql",
        "oracle",
        "postgresql",
        "sqlite",
        "teradata",
        "other_sql",
        // The stable conventions' names.
        "ibm.db2",
        "microsoft.sql_server",
        "oracle.db",
        "hsqldb",
    ];
    let system = attrs.first_str(&["db.system", "db.system.name"])?;
    if !SQL_SYSTEMS.contains(&system) {
        return None;
    }
    consumed.extend([
        "db.system",
        "db.system.name",
        "db.connection_string",
        "db.name",
        "db.namespace",
        "db.user",
        "db.statement",
        "db.query.text",
    ]);
    let connection = attrs.str("db.connection_string").unwrap_or("localhost");
    let database = attrs.first_str(&["db.name", "db.namespace"]).unwrap_or_default();
    object(&[
        // Deliberately the span name, not the connection string (as the exporter does).
        ("url", Some(json!(span.name))),
        (
            "connection_string",
            Some(json!(format!("{connection}/{database}"))),
        ),
        ("database_type", text(Some(system))),
        ("user", text(attrs.str("db.user"))),
        (
            "sanitized_query",
            text(attrs.first_str(&["db.statement", "db.query.text"])),
        ),
    ])
}

#[derive(Default)]
struct Flags {
    error: bool,
    throttle: bool,
    fault: bool,
}

/// `error`/`throttle`/`fault` from the HTTP status (4xx, 429, 5xx), else `fault` for status
/// ERROR; `cause` from `exception` events, else from the status message.
fn errors<'a>(
    span: &Span,
    kind: SpanKind,
    attrs: Attributes<'a>,
    resource: &ResourceInfo<'_>,
    aws_sdk: bool,
    consumed: &mut Vec<&'a str>,
) -> (Flags, Option<Value>) {
    let status_error = span.status.as_ref().map(|s| s.code) == Some(StatusCode::Error as i32);
    let mut flags = Flags::default();
    match attrs.first_int(&["http.status_code", "http.response.status_code"]) {
        Some(code @ 400..=499) => {
            flags.error = true;
            flags.throttle = code == 429;
        }
        Some(500..=599) => flags.fault = true,
        _ => flags.fault = status_error,
    }

    let mut ids = ExceptionIds::new(&span.span_id);
    let remote = matches!(kind, SpanKind::Client | SpanKind::Producer);
    let mut exceptions = Vec::new();
    for event in &span.events {
        let event_attrs = Attributes(&event.attributes);
        if event.name == "exception" {
            let first = Exception {
                id: ids.next(),
                kind: event_attrs.str("exception.type").unwrap_or_default().to_string(),
                message: event_attrs
                    .str("exception.message")
                    .unwrap_or_default()
                    .to_string(),
                remote,
                ..Exception::default()
            };
            let stack = event_attrs.str("exception.stacktrace").unwrap_or_default();
            exceptions.extend(with_stack(first, stack, resource.language, &mut ids));
        } else if aws_sdk && event.name == "HTTP request failure" {
            let code = event_attrs.int("http.response.status_code");
            let message = event_attrs.str("aws.http.error_message");
            if let (Some(code), Some(message)) = (code, message) {
                let at = (event.time_unix_nano / 1000) as f64 / 1e6;
                exceptions.push(Exception {
                    id: ids.next(),
                    kind: "aws.http.error.event".into(),
                    message: format!("{code}@{at:.6}@{message}"),
                    remote: true,
                    ..Exception::default()
                });
            }
        }
    }
    if exceptions.is_empty() && status_error {
        let status_message = span
            .status
            .as_ref()
            .map(|s| s.message.as_str())
            .unwrap_or_default();
        let message = if status_message.is_empty() {
            let text = attrs.str("http.status_text").unwrap_or_default();
            if !text.is_empty() {
                consumed.push("http.status_text");
            }
            text
        } else {
            status_message
        };
        if !message.is_empty() {
            exceptions.push(Exception {
                id: ids.next(),
                message: message.to_string(),
                ..Exception::default()
            });
        }
    }
    let cause = (!exceptions.is_empty())
        .then(|| json!({"exceptions": exceptions.iter().map(Exception::to_json).collect::<Vec<_>>()}));
    (flags, cause)
}

#[derive(Debug, Default, Clone, PartialEq)]
struct Exception {
    id: String,
    kind: String,
    message: String,
    remote: bool,
    stack: Vec<Frame>,
    /// The id of the exception that caused this one.
    cause: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
struct Frame {
    path: String,
    line: i64,
    label: String,
}

impl Exception {
    fn to_json(&self) -> Value {
        let mut out = Map::new();
        out.insert("id".into(), json!(self.id));
        if !self.kind.is_empty() {
            out.insert("type".into(), json!(self.kind));
        }
        if !self.message.is_empty() {
            out.insert("message".into(), json!(self.message));
        }
        if self.remote {
            out.insert("remote".into(), json!(true));
        }
        if !self.stack.is_empty() {
            let frames: Vec<Value> = self
                .stack
                .iter()
                .map(|f| json!({"path": f.path, "line": f.line, "label": f.label}))
                .collect();
            out.insert("stack".into(), Value::Array(frames));
        }
        if let Some(cause) = &self.cause {
            out.insert("cause".into(), json!(cause));
        }
        Value::Object(out)
    }
}

/// Exception ids (16 hex digits) derived from the span id, so that a span converts to the same
/// bytes every time.
struct ExceptionIds {
    seed: u64,
    n: u64,
}

impl ExceptionIds {
    fn new(span_id: &[u8]) -> ExceptionIds {
        let seed = span_id.iter().fold(0u64, |acc, b| (acc << 8) | u64::from(*b));
        ExceptionIds { seed, n: 0 }
    }

    fn next(&mut self) -> String {
        self.n += 1;
        // splitmix64 of (span id, counter).
        let mut z = self.seed.wrapping_add(self.n.wrapping_mul(0x9E37_79B9_7F4A_7C15));
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^= z >> 31;
        format!("{:016x}", z.max(1))
    }
}

/// The exception with its stack frames, and the exceptions that caused it, parsed from the
/// `exception.stacktrace` text in the format of the SDK's language (Python, Java and PHP,
/// JavaScript); other languages keep type and message only.
fn with_stack(first: Exception, stack: &str, language: &str, ids: &mut ExceptionIds) -> Vec<Exception> {
    if stack.is_empty() {
        return vec![first];
    }
    match language {
        "python" => python_stack(first, stack, ids),
        "java" | "php" => java_stack(first, stack, ids),
        "javascript" | "nodejs" | "webjs" => vec![javascript_stack(first, stack)],
        _ => vec![first],
    }
}

/// A Python traceback, read bottom up (X-Ray lists the innermost frame first); "During handling
/// of the above exception" starts the exception that caused it.
fn python_stack(first: Exception, stack: &str, ids: &mut ExceptionIds) -> Vec<Exception> {
    let lines: Vec<&str> = stack.split('\n').collect();
    let mut exceptions = vec![first];
    // The last line (after the final newline) and the "Type: message" line hold no frame.
    let Some(mut at) = lines.len().checked_sub(2) else {
        return exceptions;
    };
    loop {
        let line = lines[at];
        if let Some(rest) = line.strip_prefix("  File \"") {
            let parts: Vec<&str> = rest.split(',').collect();
            if let [file, line_number, label] = parts.as_slice() {
                let current = exceptions.len() - 1;
                exceptions[current].stack.push(Frame {
                    path: file.strip_suffix('"').unwrap_or(file).to_string(),
                    line: line_number
                        .strip_prefix(" line ")
                        .and_then(|n| n.trim().parse().ok())
                        .unwrap_or(0),
                    label: label.strip_prefix(" in ").unwrap_or_default().to_string(),
                });
            }
        } else if line.starts_with("During handling of the above exception, another exception occurred:") {
            // The cause's innermost frame is the nearest "  File" line above; its message runs
            // from two lines below that to the blank line before this one.
            let Some(file_at) = (0..at).rev().find(|i| lines[*i].starts_with("  File ")) else {
                return exceptions;
            };
            let message = lines
                .get(file_at + 2..at.saturating_sub(1))
                .map(|m| m.join("\n"))
                .unwrap_or_default();
            let Some((kind, message)) = message.split_once(':') else {
                return exceptions;
            };
            let id = ids.next();
            let current = exceptions.len() - 1;
            exceptions[current].cause = Some(id.clone());
            let remote = exceptions[current].remote;
            exceptions.push(Exception {
                id,
                kind: kind.to_string(),
                message: message.strip_prefix(' ').unwrap_or(message).to_string(),
                remote,
                ..Exception::default()
            });
            at = file_at;
            continue;
        }
        if at == 0 {
            return exceptions;
        }
        at -= 1;
    }
}

/// A Java stack trace: `\tat label(path:line)` frames, `Caused by: Type: message` chains.
fn java_stack(first: Exception, stack: &str, ids: &mut ExceptionIds) -> Vec<Exception> {
    let remote = first.remote;
    let mut exceptions = vec![first];
    // The first line is the top-level "Type: message".
    for line in stack.lines().skip(1) {
        if let Some(frame) = line.strip_prefix("\tat ").and_then(|f| f.strip_suffix(')')) {
            let Some((label, path)) = frame.split_once('(') else {
                continue;
            };
            // A class loader or module prefix ("app//com.x.Y.z").
            let label = label.rsplit_once('/').map_or(label, |(_, l)| l);
            let (path, line) = match path.split_once(':') {
                Some((path, n)) => (path, n.parse().unwrap_or(0)),
                None => (path, 0),
            };
            let current = exceptions.len() - 1;
            exceptions[current].stack.push(Frame {
                path: path.to_string(),
                line,
                label: label.to_string(),
            });
        } else if let Some(cause) = line.strip_prefix("Caused by: ") {
            let (kind, message) = cause.split_once(':').unwrap_or((cause, ""));
            let id = ids.next();
            let current = exceptions.len() - 1;
            exceptions[current].cause = Some(id.clone());
            exceptions.push(Exception {
                id,
                kind: kind.to_string(),
                message: message.trim_start().to_string(),
                remote,
                ..Exception::default()
            });
        }
    }
    exceptions
}

/// A JavaScript stack: `    at label (path:line:column)` or `    at path:line:column`.
fn javascript_stack(mut first: Exception, stack: &str) -> Exception {
    for line in stack.lines().skip(1) {
        let Some(frame) = line.trim_start().strip_prefix("at ") else {
            continue;
        };
        let (label, location) = match frame.strip_suffix(')').and_then(|f| f.split_once(" (")) {
            Some((label, location)) => (label, location),
            None => ("", frame),
        };
        let mut parts = location.rsplitn(3, ':');
        let (_column, line, path) = (parts.next(), parts.next(), parts.next());
        let (path, line) = match (path, line.and_then(|l| l.parse().ok())) {
            (Some(path), Some(line)) => (path, line),
            _ => (location, 0),
        };
        first.stack.push(Frame {
            path: path.to_string(),
            line,
            label: label.to_string(),
        });
    }
    first
}

/// Annotations (the attributes the span lists in `aws.xray.annotations`) and metadata
/// (`default.<key>` for every other attribute, `otel.resource.<key>` on segments,
/// `aws.xray.metadata.<namespace>` JSON as that namespace).
fn annotations_and_metadata(
    attrs: Attributes<'_>,
    resource: &ResourceInfo<'_>,
    subsegment: bool,
    consumed: &[&str],
) -> (Map<String, Value>, Map<String, Value>) {
    let annotated = attrs.strings("aws.xray.annotations");
    let mut annotations = Map::new();
    let mut defaults = Map::new();
    let mut namespaces = Map::new();
    for kv in attrs.0 {
        let Some(value) = kv.value.as_ref().and_then(|v| v.value.as_ref()) else {
            continue;
        };
        let key = kv.key.as_str();
        if key == "aws.xray.annotations" || consumed.contains(&key) {
            continue;
        }
        if annotated.contains(&key) {
            if let Some(annotation) = annotation_value(value) {
                annotations.insert(annotation_key(key), annotation);
                continue;
            }
        }
        if let (Some(namespace), Attr::StringValue(text)) = (key.strip_prefix("aws.xray.metadata."), value) {
            match serde_json::from_str::<Map<String, Value>>(text) {
                Ok(object) if namespace.eq_ignore_ascii_case("default") => defaults.extend(object),
                Ok(object) => {
                    namespaces.insert(namespace.to_string(), Value::Object(object));
                }
                Err(_) => {
                    defaults.insert(key.to_string(), json!(text));
                }
            }
            continue;
        }
        defaults.insert(key.to_string(), attribute_json(value));
    }
    if !subsegment {
        for kv in resource.attributes.0 {
            let Some(value) = kv.value.as_ref().and_then(|v| v.value.as_ref()) else {
                continue;
            };
            let key = format!("otel.resource.{}", kv.key);
            match annotation_value(value).filter(|_| annotated.contains(&key.as_str())) {
                Some(annotation) => {
                    annotations.insert(annotation_key(&key), annotation);
                }
                None => {
                    defaults.insert(key, attribute_json(value));
                }
            }
        }
    }
    let mut metadata = Map::new();
    if !defaults.is_empty() {
        metadata.insert("default".into(), Value::Object(defaults));
    }
    metadata.extend(namespaces);
    (annotations, metadata)
}

/// An annotation key X-Ray's filter expressions can name: `[A-Za-z0-9_]`, others as `_`.
fn annotation_key(key: &str) -> String {
    key.chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect()
}

/// Annotations hold a string, a number or a bool, nothing else.
fn annotation_value(value: &Attr) -> Option<Value> {
    match value {
        Attr::StringValue(s) => Some(json!(s)),
        Attr::BoolValue(b) => Some(json!(b)),
        Attr::IntValue(i) => Some(json!(i)),
        Attr::DoubleValue(d) if d.is_finite() => Some(json!(d)),
        _ => None,
    }
}

fn attributes_json(attributes: &[KeyValue]) -> Map<String, Value> {
    attributes
        .iter()
        .filter_map(|kv| Some((kv.key.clone(), attribute_json(kv.value.as_ref()?.value.as_ref()?))))
        .collect()
}

/// An attribute value as JSON: bytes as base64, a NaN or infinite double as its name.
fn attribute_json(value: &Attr) -> Value {
    match value {
        Attr::StringValue(s) => json!(s),
        Attr::BoolValue(b) => json!(b),
        Attr::IntValue(i) => json!(i),
        Attr::DoubleValue(d) if d.is_finite() => json!(d),
        Attr::DoubleValue(d) => json!(d.to_string()),
        Attr::ArrayValue(array) => Value::Array(
            array
                .values
                .iter()
                .map(|v| v.value.as_ref().map_or(Value::Null, attribute_json))
                .collect(),
        ),
        Attr::KvlistValue(list) => Value::Object(attributes_json(&list.values)),
        Attr::BytesValue(bytes) => json!(base64(bytes)),
        // Profiles only.
        Attr::StringValueStrindex(_) => Value::Null,
    }
}

fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, b)| n | u32::from(*b) << (16 - 8 * i));
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(ALPHABET[(n >> (18 - 6 * i) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use opentelemetry_proto::tonic::collector::trace::v1::{
        ExportTraceServiceRequest, ExportTraceServiceResponse,
    };
    use opentelemetry_proto::tonic::common::v1::{AnyValue, ArrayValue, KeyValue};
    use opentelemetry_proto::tonic::resource::v1::Resource;
    use opentelemetry_proto::tonic::trace::v1::span::{Event, SpanKind};
    use opentelemetry_proto::tonic::trace::v1::status::StatusCode;
    use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span, Status};
    use prost::Message;
    use serde_json::{json, Value};

    use super::{
        decode, error_response, success_response, Attr, Converted, Encoding, OtlpError, RpcStatus,
        MAX_DECOMPRESSED_BYTES,
    };

    const TRACE: [u8; 16] = [
        0x6b, 0x16, 0x7c, 0xb7, 0x42, 0xb5, 0x67, 0x6d, 0xae, 0x8f, 0xc2, 0x4a, 0x2b, 0x52, 0xf2, 0x5e,
    ];
    const TRACE_ID: &str = "1-6b167cb7-42b5676dae8fc24a2b52f25e";
    const ID: [u8; 8] = [0x5b, 0x05, 0x22, 0xa4, 0xdf, 0x5f, 0x36, 0xc8];
    const PARENT: [u8; 8] = [0xb2, 0x45, 0x03, 0x3d, 0x61, 0xf7, 0xad, 0xe3];
    const START_NANOS: u64 = 1_796_635_831_750_000_000;

    const PYTHON_PROTOBUF: &[u8] = include_bytes!("../tests/fixtures/otlp-python-traces.bin");
    const PYTHON_GZIP: &[u8] = include_bytes!("../tests/fixtures/otlp-python-traces-gzip.bin");
    const PYTHON_JSON: &[u8] = include_bytes!("../tests/fixtures/otlp-python-traces.json");

    fn kv(key: &str, value: Attr) -> KeyValue {
        KeyValue {
            key: key.to_string(),
            value: Some(AnyValue { value: Some(value) }),
            ..KeyValue::default()
        }
    }

    fn s(key: &str, value: &str) -> KeyValue {
        kv(key, Attr::StringValue(value.to_string()))
    }

    fn i(key: &str, value: i64) -> KeyValue {
        kv(key, Attr::IntValue(value))
    }

    fn list(key: &str, values: &[&str]) -> KeyValue {
        kv(
            key,
            Attr::ArrayValue(ArrayValue {
                values: values
                    .iter()
                    .map(|v| AnyValue {
                        value: Some(Attr::StringValue((*v).to_string())),
                    })
                    .collect(),
            }),
        )
    }

    fn span(kind: SpanKind, with_parent: bool, attributes: Vec<KeyValue>) -> Span {
        Span {
            trace_id: TRACE.to_vec(),
            span_id: ID.to_vec(),
            parent_span_id: if with_parent { PARENT.to_vec() } else { Vec::new() },
            name: "GET /orders/{id}".into(),
            kind: kind as i32,
            start_time_unix_nano: START_NANOS,
            end_time_unix_nano: START_NANOS + 250_000_000,
            attributes,
            ..Span::default()
        }
    }

    fn request(resource: Vec<KeyValue>, spans: Vec<Span>) -> ExportTraceServiceRequest {
        ExportTraceServiceRequest {
            resource_spans: vec![ResourceSpans {
                resource: Some(Resource {
                    attributes: resource,
                    ..Resource::default()
                }),
                scope_spans: vec![ScopeSpans {
                    spans,
                    ..ScopeSpans::default()
                }],
                ..ResourceSpans::default()
            }],
        }
    }

    fn service_resource() -> Vec<KeyValue> {
        vec![
            s("service.name", "checkout-api"),
            s("cloud.provider", "aws"),
            s("cloud.platform", "aws_ec2"),
            s("host.id", "i-0abc"),
        ]
    }

    /// The documents, each checked by `segment::parse`, as JSON.
    fn documents(converted: &Converted) -> Vec<Value> {
        converted
            .documents
            .iter()
            .map(|doc| {
                let parsed = crate::segment::parse(doc)
                    .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(doc)));
                assert_eq!(parsed.len(), 1);
                serde_json::from_slice(doc).unwrap()
            })
            .collect()
    }

    /// The one document `span` converts to (through protobuf), checked by `segment::parse`.
    fn convert_one(resource: Vec<KeyValue>, span: Span) -> Value {
        let body = request(resource, vec![span]).encode_to_vec();
        let converted = decode(&body, Encoding::Protobuf, None).unwrap();
        assert_eq!(converted.rejected_spans, 0, "{:?}", converted.error_message);
        documents(&converted).remove(0)
    }

    fn gzip(bytes: &[u8]) -> Vec<u8> {
        let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        encoder.write_all(bytes).unwrap();
        encoder.finish().unwrap()
    }

    #[test]
    fn a_server_span_is_a_segment_with_an_http_block_from_the_stable_names() {
        let doc = convert_one(
            service_resource(),
            span(
                SpanKind::Server,
                false,
                vec![
                    s("http.request.method", "GET"),
                    s("url.scheme", "https"),
                    s("server.address", "shop.example.com"),
                    i("server.port", 8443),
                    s("url.path", "/orders/42"),
                    s("url.query", "expand=items"),
                    s("user_agent.original", "curl/8.5"),
                    s("client.address", "203.0.113.9"),
                    i("http.response.status_code", 200),
                    s("http.route", "/orders/{id}"),
                ],
            ),
        );
        assert_eq!(doc["name"], "checkout-api");
        assert_eq!(doc["id"], "5b0522a4df5f36c8");
        assert_eq!(doc["trace_id"], TRACE_ID);
        assert_eq!(doc["start_time"], json!(1_796_635_831.75));
        assert_eq!(doc["end_time"], json!(1_796_635_832.0));
        assert_eq!(doc["origin"], "AWS::EC2::Instance");
        assert_eq!(
            doc["http"],
            json!({
                "request": {
                    "method": "GET",
                    "url": "https://shop.example.com:8443/orders/42?expand=items",
                    "user_agent": "curl/8.5",
                    "client_ip": "203.0.113.9",
                    "x_forwarded_for": true,
                },
                "response": {"status": 200},
            })
        );
        for absent in [
            "type",
            "parent_id",
            "namespace",
            "in_progress",
            "error",
            "fault",
            "throttle",
            "cause",
        ] {
            assert!(doc.get(absent).is_none(), "{absent} in {doc}");
        }
        assert_eq!(
            doc["metadata"]["default"],
            json!({
                "http.route": "/orders/{id}",
                "otel.resource.service.name": "checkout-api",
                "otel.resource.cloud.provider": "aws",
                "otel.resource.cloud.platform": "aws_ec2",
                "otel.resource.host.id": "i-0abc",
            })
        );
        assert_eq!(doc["aws"], json!({"ec2": {"instance_id": "i-0abc"}}));
    }

    #[test]
    fn a_server_span_with_the_pre_1_20_names_gets_the_same_http_block() {
        let doc = convert_one(
            service_resource(),
            span(
                SpanKind::Server,
                true,
                vec![
                    s("http.method", "GET"),
                    s("http.scheme", "http"),
                    s("http.host", "shop.example.com:8080"),
                    s("http.target", "/orders/42?expand=items"),
                    s("http.user_agent", "curl/8.5"),
                    s("http.client_ip", "198.51.100.7"),
                    s("net.peer.ip", "10.0.0.5"),
                    i("http.status_code", 200),
                ],
            ),
        );
        assert_eq!(
            doc["http"],
            json!({
                "request": {
                    "method": "GET",
                    "url": "http://shop.example.com:8080/orders/42?expand=items",
                    "user_agent": "curl/8.5",
                    "client_ip": "198.51.100.7",
                },
                "response": {"status": 200},
            })
        );
        // A SERVER span with a parent is still a segment, placed under its caller.
        assert!(doc.get("type").is_none());
        assert_eq!(doc["parent_id"], "b245033d61f7ade3");
        assert!(doc["metadata"]["default"].get("http.method").is_none());
    }

    #[test]
    fn http_5xx_is_a_fault_429_an_error_and_throttle_and_status_error_without_http_a_fault() {
        let with_status = |code: i64| {
            convert_one(
                service_resource(),
                span(
                    SpanKind::Server,
                    false,
                    vec![
                        s("http.request.method", "GET"),
                        i("http.response.status_code", code),
                    ],
                ),
            )
        };
        let flags = |doc: &Value| {
            (
                doc.get("error").cloned(),
                doc.get("throttle").cloned(),
                doc.get("fault").cloned(),
            )
        };
        let yes = Some(json!(true));
        assert_eq!(flags(&with_status(503)), (None, None, yes.clone()));
        assert_eq!(flags(&with_status(429)), (yes.clone(), yes.clone(), None));
        assert_eq!(flags(&with_status(404)), (yes.clone(), None, None));
        assert_eq!(flags(&with_status(200)), (None, None, None));

        let mut failed = span(SpanKind::Internal, false, vec![]);
        failed.status = Some(Status {
            message: "inventory service unavailable".into(),
            code: StatusCode::Error as i32,
        });
        let doc = convert_one(service_resource(), failed.clone());
        assert_eq!(flags(&doc), (None, None, yes.clone()));
        let exceptions = doc["cause"]["exceptions"].as_array().unwrap();
        assert_eq!(exceptions.len(), 1);
        assert_eq!(exceptions[0]["message"], "inventory service unavailable");
        assert!(crate::segment::is_id(exceptions[0]["id"].as_str().unwrap()));

        // An HTTP status decides over the span status: a 404 marked ERROR is an error, not a fault.
        failed.attributes = vec![s("http.method", "GET"), i("http.status_code", 404)];
        assert_eq!(flags(&convert_one(service_resource(), failed)), (yes, None, None));
    }

    #[test]
    fn a_client_span_calling_dynamodb_is_an_aws_subsegment_named_dynamodb() {
        let doc = convert_one(
            service_resource(),
            span(
                SpanKind::Client,
                true,
                vec![
                    s("rpc.system", "aws-api"),
                    s("rpc.service", "DynamoDB"),
                    s("rpc.method", "GetItem"),
                    s("aws.region", "eu-west-1"),
                    s("aws.request_id", "R1"),
                    list("aws.dynamodb.table_names", &["orders"]),
                ],
            ),
        );
        assert_eq!(doc["name"], "DynamoDB");
        assert_eq!(doc["namespace"], "aws");
        assert_eq!(doc["type"], "subsegment");
        assert_eq!(doc["trace_id"], TRACE_ID);
        assert_eq!(doc["parent_id"], "b245033d61f7ade3");
        assert_eq!(
            doc["aws"],
            json!({"operation": "GetItem", "region": "eu-west-1", "request_id": "R1", "table_name": "orders"})
        );
        // Resource information is for segments only.
        assert!(doc.get("origin").is_none());
        assert_eq!(
            doc["metadata"]["default"],
            json!({"rpc.system": "aws-api", "rpc.service": "DynamoDB"})
        );

        let legacy = convert_one(
            vec![],
            span(
                SpanKind::Client,
                true,
                vec![
                    s("rpc.system", "aws-api"),
                    s("aws.service", "DynamoDB"),
                    s("aws.table_name", "orders"),
                    s("rpc.method", "GetItem"),
                    s("aws.operation", "Query"),
                ],
            ),
        );
        assert_eq!(
            legacy["aws"]["operation"], "Query",
            "aws.operation wins over rpc.method"
        );
        assert_eq!(
            (&legacy["name"], &legacy["namespace"]),
            (&json!("DynamoDB"), &json!("aws"))
        );
        assert_eq!(legacy["aws"]["table_name"], "orders");
        let two_tables = convert_one(
            vec![],
            span(
                SpanKind::Client,
                true,
                vec![
                    s("rpc.system", "aws-api"),
                    s("rpc.service", "DynamoDB"),
                    list("aws.dynamodb.table_names", &["a", "b"]),
                ],
            ),
        );
        assert_eq!(two_tables["aws"], json!({"table_names": ["a", "b"]}));
    }

    #[test]
    fn a_client_http_span_is_a_remote_subsegment_named_after_the_host() {
        let doc = convert_one(
            service_resource(),
            span(
                SpanKind::Client,
                true,
                vec![
                    s("http.request.method", "POST"),
                    s("url.full", "https://payments.example.com/v1/charges"),
                    s("server.address", "payments.example.com"),
                    i("http.response.status_code", 201),
                ],
            ),
        );
        assert_eq!(doc["name"], "payments.example.com");
        assert_eq!(doc["namespace"], "remote");
        assert_eq!(doc["type"], "subsegment");
        assert_eq!(
            doc["http"],
            json!({"request": {"method": "POST", "url": "https://payments.example.com/v1/charges"}, "response": {"status": 201}})
        );
        let old = convert_one(
            vec![],
            span(
                SpanKind::Client,
                true,
                vec![
                    s("http.method", "GET"),
                    s("net.peer.name", "inventory"),
                    i("net.peer.port", 8080),
                    s("http.target", "/stock"),
                ],
            ),
        );
        assert_eq!(
            (&old["name"], &old["namespace"]),
            (&json!("inventory"), &json!("remote"))
        );
        assert_eq!(old["http"]["request"]["url"], "http://inventory:8080/stock");
    }

    #[test]
    fn a_postgresql_span_has_an_sql_block_and_is_named_db_at_host() {
        let doc = convert_one(
            vec![],
            span(
                SpanKind::Client,
                true,
                vec![
                    s("db.system", "postgresql"),
                    s("db.name", "shop"),
                    s("db.user", "app"),
                    s("db.statement", "SELECT * FROM orders WHERE id = %s"),
                    s("db.connection_string", "jdbc:postgresql://db.internal:5432"),
                ],
            ),
        );
        assert_eq!(doc["name"], "shop@db.internal");
        assert_eq!(doc["namespace"], "remote");
        assert_eq!(
            doc["sql"],
            json!({
                "url": "GET /orders/{id}",
                "connection_string": "jdbc:postgresql://db.internal:5432/shop",
                "database_type": "postgresql",
                "user": "app",
                "sanitized_query": "SELECT * FROM orders WHERE id = %s",
            })
        );
        assert!(doc.get("metadata").is_none(), "{doc}");
        let mongo = convert_one(
            vec![],
            span(
                SpanKind::Client,
                true,
                vec![s("db.system", "mongodb"), s("db.name", "shop")],
            ),
        );
        assert!(mongo.get("sql").is_none());
        assert_eq!(mongo["name"], "shop");
    }

    #[test]
    fn only_attributes_listed_in_aws_xray_annotations_become_annotations() {
        let doc = convert_one(
            service_resource(),
            span(
                SpanKind::Server,
                false,
                vec![
                    s("customer_tier", "gold"),
                    s("order.id", "o-1"),
                    i("retries", 3),
                    kv("sampled", Attr::BoolValue(true)),
                    list("items", &["a", "b"]),
                    s("aws.xray.metadata.checkout", r#"{"cart":{"size":2}}"#),
                    list(
                        "aws.xray.annotations",
                        &["customer_tier", "order.id", "items", "otel.resource.service.name"],
                    ),
                ],
            ),
        );
        assert_eq!(
            doc["annotations"],
            json!({"customer_tier": "gold", "order_id": "o-1", "otel_resource_service_name": "checkout-api"})
        );
        let defaults = &doc["metadata"]["default"];
        assert_eq!(
            (&defaults["retries"], &defaults["sampled"]),
            (&json!(3), &json!(true))
        );
        // Not an annotation value: an array stays metadata.
        assert_eq!(defaults["items"], json!(["a", "b"]));
        for gone in [
            "customer_tier",
            "order.id",
            "aws.xray.annotations",
            "otel.resource.service.name",
        ] {
            assert!(defaults.get(gone).is_none(), "{gone} in {defaults}");
        }
        assert_eq!(doc["metadata"]["checkout"], json!({"cart": {"size": 2}}));
        // On a subsegment, resource attributes are not there to annotate.
        let sub = convert_one(
            service_resource(),
            span(
                SpanKind::Internal,
                true,
                vec![list("aws.xray.annotations", &["otel.resource.service.name"])],
            ),
        );
        assert!(
            sub.get("annotations").is_none() && sub.get("metadata").is_none(),
            "{sub}"
        );
    }

    #[test]
    fn the_name_falls_back_through_the_exporters_list_and_is_kept_within_xrays_rules() {
        let name = |kind, attributes: Vec<KeyValue>, span_name: &str| {
            let mut s = span(kind, true, attributes);
            s.name = span_name.to_string();
            convert_one(service_resource(), s)["name"]
                .as_str()
                .unwrap()
                .to_string()
        };
        assert_eq!(
            name(
                SpanKind::Client,
                vec![s("rpc.system", "aws-api"), s("aws.remote.service", "AWS::S3")],
                "x"
            ),
            "S3"
        );
        assert_eq!(
            name(
                SpanKind::Server,
                vec![s("aws.local.service", "orders"), s("peer.service", "p")],
                "x"
            ),
            "orders"
        );
        assert_eq!(
            name(SpanKind::Client, vec![s("peer.service", "billing")], "x"),
            "billing"
        );
        assert_eq!(name(SpanKind::Server, vec![], "x"), "checkout-api");
        assert_eq!(
            name(SpanKind::Internal, vec![], "compute <total>!"),
            "compute total"
        );
        assert_eq!(name(SpanKind::Internal, vec![], "<>?"), "span");
        assert_eq!(
            name(SpanKind::Internal, vec![], &"é".repeat(300)),
            "é".repeat(200)
        );
    }

    #[test]
    fn the_real_python_sdk_export_converts_span_by_span() {
        let converted = decode(PYTHON_PROTOBUF, Encoding::Protobuf, None).unwrap();
        assert_eq!(
            (converted.rejected_spans, converted.error_message.as_deref()),
            (0, None)
        );
        let docs = documents(&converted);
        let names: Vec<&str> = docs.iter().map(|d| d["name"].as_str().unwrap()).collect();
        assert_eq!(names, ["DynamoDB", "shop", "compute-total", "checkout-api"]);
        let [dynamo, db, internal, server] = &docs[..] else {
            panic!("{docs:?}")
        };
        assert_eq!(server["trace_id"], TRACE_ID);
        assert_eq!(server["id"], "5b0522a4df5f3601");
        assert_eq!(server["origin"], "AWS::EC2::Instance");
        assert_eq!(server["user"], "alice");
        assert_eq!(server["fault"], true);
        assert_eq!(
            server["http"],
            json!({
                "request": {
                    "method": "GET",
                    "url": "https://shop.example.com/orders/42",
                    "user_agent": "curl/8.5",
                    "client_ip": "203.0.113.9",
                    "x_forwarded_for": true,
                },
                "response": {"status": 500},
            })
        );
        assert_eq!(server["annotations"], json!({"customer_tier": "gold"}));
        assert_eq!(
            server["aws"]["xray"],
            json!({"sdk": "opentelemetry for python", "sdk_version": "1.45.2", "auto_instrumentation": false})
        );
        assert_eq!(
            server["metadata"]["default"]["otel.resource.service.instance.id"],
            "i1"
        );

        assert_eq!(
            (&dynamo["namespace"], &dynamo["type"]),
            (&json!("aws"), &json!("subsegment"))
        );
        assert_eq!(dynamo["parent_id"], "5b0522a4df5f3601");
        assert_eq!(
            dynamo["aws"],
            json!({"operation": "GetItem", "region": "eu-west-1", "request_id": "R1", "table_name": "orders"})
        );

        assert_eq!(db["namespace"], "remote");
        assert_eq!(db["sql"]["connection_string"], "localhost/shop");
        assert_eq!(db["sql"]["database_type"], "postgresql");

        assert!(internal.get("namespace").is_none());
        assert_eq!(internal["fault"], true);
        let exception = &internal["cause"]["exceptions"][0];
        assert_eq!(
            (&exception["type"], &exception["message"]),
            (&json!("ValueError"), &json!("bad total"))
        );
        assert_eq!(
            exception["stack"],
            json!([{"path": "/work/main/collector/tests/fixtures/otlp-python-capture.py", "line": 82, "label": "<module>"}])
        );
        for doc in &docs {
            assert!(doc["end_time"].as_f64() >= doc["start_time"].as_f64());
        }
    }

    #[test]
    fn json_and_protobuf_encodings_of_the_same_request_give_identical_documents() {
        let from_protobuf = decode(PYTHON_PROTOBUF, Encoding::Protobuf, None).unwrap();
        let from_json = decode(PYTHON_JSON, Encoding::Json, None).unwrap();
        assert_eq!(from_protobuf.documents.len(), 4);
        assert_eq!(from_json, from_protobuf);

        // Every OTLP/JSON liberty at once: int64 as numbers and strings, upper-case hex, unknown
        // fields, nulls, omitted empty lists and keys, enum names, quoted integers, "NaN".
        let json_body = br#"{"resourceSpans":[{"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"checkout-api"}}],"droppedAttributesCount":null},
            "futureField":{"x":[1,2]},
            "scopeSpans":[{"scope":{"name":"s"},"spans":[{
              "traceId":"6B167CB742B5676DAE8FC24A2B52F25E","spanId":"5b0522a4df5f36c8","parentSpanId":"",
              "name":"GET /orders/{id}","kind":"SPAN_KIND_SERVER","flags":"1",
              "startTimeUnixNano":1796635831750000000,"endTimeUnixNano":"1796635832000000000",
              "attributes":[
                {"key":"http.request.method","value":{"stringValue":"GET"}},
                {"key":"http.response.status_code","value":{"intValue":"503"}},
                {"key":"empty","value":{"arrayValue":{}}},
                {"key":"nothing","value":{"kvlistValue":{"values":[{"value":{"intValue":1}}]}}},
                {"key":"ratio","value":{"doubleValue":"NaN"}},
                {"key":"half","value":{"doubleValue":0.5}},
                {"key":"nil","value":null}],
              "events":null,"status":{"code":"STATUS_CODE_ERROR","message":null},"someNewField":true}]}]}]}"#;
        let mut expected = span(
            SpanKind::Server,
            false,
            vec![
                s("http.request.method", "GET"),
                i("http.response.status_code", 503),
                kv("empty", Attr::ArrayValue(ArrayValue::default())),
                kv(
                    "nothing",
                    Attr::KvlistValue(opentelemetry_proto::tonic::common::v1::KeyValueList {
                        values: vec![i("", 1)],
                    }),
                ),
                s("ratio", "NaN"),
                kv("half", Attr::DoubleValue(0.5)),
                KeyValue {
                    key: "nil".into(),
                    ..KeyValue::default()
                },
            ],
        );
        expected.flags = 1;
        expected.status = Some(Status {
            message: String::new(),
            code: StatusCode::Error as i32,
        });
        let protobuf_body = request(vec![s("service.name", "checkout-api")], vec![expected]).encode_to_vec();
        let from_json = decode(json_body, Encoding::Json, None).unwrap();
        let from_protobuf = decode(&protobuf_body, Encoding::Protobuf, None).unwrap();
        assert_eq!(from_json, from_protobuf);
        let doc = &documents(&from_json)[0];
        assert_eq!(
            (&doc["fault"], &doc["http"]["response"]["status"]),
            (&json!(true), &json!(503))
        );
        assert_eq!(
            doc["metadata"]["default"],
            json!({"empty": [], "nothing": {"": 1}, "ratio": "NaN", "half": 0.5, "otel.resource.service.name": "checkout-api"})
        );
    }

    #[test]
    fn gzip_bodies_decode_like_plain_ones() {
        let plain = decode(PYTHON_PROTOBUF, Encoding::Protobuf, None).unwrap();
        assert_eq!(
            decode(PYTHON_GZIP, Encoding::Protobuf, Some("gzip")).unwrap(),
            plain
        );
        assert_eq!(
            decode(&gzip(PYTHON_PROTOBUF), Encoding::Protobuf, Some("GZIP")).unwrap(),
            plain
        );
        assert_eq!(
            decode(PYTHON_PROTOBUF, Encoding::Protobuf, Some("identity")).unwrap(),
            plain
        );
        assert_eq!(
            decode(&gzip(PYTHON_JSON), Encoding::Json, Some("gzip")).unwrap(),
            plain,
            "JSON gzipped too"
        );
        // Two gzip members back to back are one body.
        let half = PYTHON_JSON.len() / 2;
        let mut members = gzip(&PYTHON_JSON[..half]);
        members.extend(gzip(&PYTHON_JSON[half..]));
        assert_eq!(decode(&members, Encoding::Json, Some("gzip")).unwrap(), plain);
        // An empty request is a success with nothing in it.
        assert_eq!(
            decode(b"", Encoding::Protobuf, None).unwrap(),
            Converted::default()
        );
        assert_eq!(decode(b"{}", Encoding::Json, None).unwrap(), Converted::default());
    }

    #[test]
    fn bad_gzip_undecodable_and_oversize_bodies_are_errors_that_say_why() {
        let e = decode(b"not gzip at all", Encoding::Protobuf, Some("gzip")).unwrap_err();
        assert!(matches!(e, OtlpError::BadGzip(_)), "{e:?}");
        assert!(e.to_string().starts_with("the body is not valid gzip: "), "{e}");
        let truncated = &gzip(PYTHON_PROTOBUF)[..200];
        assert!(matches!(
            decode(truncated, Encoding::Protobuf, Some("gzip")),
            Err(OtlpError::BadGzip(_))
        ));

        let e = decode(PYTHON_PROTOBUF, Encoding::Protobuf, Some("br")).unwrap_err();
        assert_eq!(
            e.to_string(),
            "Content-Encoding \"br\" is not supported (use gzip or none)"
        );
        assert_eq!(e.http_status(), 415);

        let e = decode(b"\x0a\x05\x0a\x03", Encoding::Protobuf, None).unwrap_err();
        assert!(
            e.to_string().starts_with(
                "the body is not a protobuf ExportTraceServiceRequest: failed to decode Protobuf message"
            ),
            "{e}"
        );
        assert_eq!(e.http_status(), 400);
        let e = decode(br#"{"resourceSpans": [{"scopeSpans": 7}]}"#, Encoding::Json, None).unwrap_err();
        assert_eq!(
            e.to_string(),
            "the body is not an OTLP/JSON ExportTraceServiceRequest: invalid type: integer `7`, expected a sequence at line 1 column 35"
        );
        let e = decode(br#"{"resourceSpans": [{"#, Encoding::Json, None).unwrap_err();
        assert_eq!(
            e.to_string(),
            "the body is not an OTLP/JSON ExportTraceServiceRequest: EOF while parsing an object at line 1 column 20"
        );
        let e = decode(PYTHON_PROTOBUF, Encoding::Json, None).unwrap_err();
        assert!(matches!(e, OtlpError::Json(_)), "{e:?}");

        // A gzip bomb: 21 MiB of zeros in about 20 KiB.
        let bomb = gzip(&vec![0u8; MAX_DECOMPRESSED_BYTES + (1 << 20)]);
        assert!(bomb.len() < 100 << 10);
        let e = decode(&bomb, Encoding::Protobuf, Some("gzip")).unwrap_err();
        assert_eq!(e, OtlpError::TooLarge);
        assert_eq!(
            e.to_string(),
            "the body is larger than 20971520 bytes after decompression"
        );
        assert_eq!(e.http_status(), 413);
        let too_big = vec![b' '; MAX_DECOMPRESSED_BYTES + 1];
        assert_eq!(decode(&too_big, Encoding::Json, None), Err(OtlpError::TooLarge));
        let just_fits = vec![b' '; MAX_DECOMPRESSED_BYTES];
        assert_eq!(
            decode(&gzip(&just_fits), Encoding::Json, Some("gzip")),
            Ok(Converted::default())
        );
    }

    #[test]
    fn read_capped_never_grows_its_buffer_past_the_limit() {
        let limit = 1_000_000;
        let out = super::read_capped(&vec![7u8; limit][..], limit).unwrap();
        assert_eq!(out.len(), limit);
        assert!(out.capacity() <= limit, "{}", out.capacity());
        assert_eq!(
            super::read_capped(&vec![7u8; limit + 1][..], limit),
            Err(OtlpError::TooLarge)
        );
    }

    #[test]
    fn rejected_spans_are_counted_and_explained_in_the_success_response() {
        let good = span(SpanKind::Server, false, vec![]);
        let mut zero_trace = good.clone();
        zero_trace.trace_id = vec![0; 16];
        let mut short_span_id = good.clone();
        short_span_id.span_id = vec![1; 7];
        let mut backwards = good.clone();
        backwards.end_time_unix_nano = backwards.start_time_unix_nano - 1;
        let mut no_trace = good.clone();
        no_trace.trace_id = Vec::new();
        let body =
            request(vec![], vec![good, zero_trace, short_span_id, backwards, no_trace]).encode_to_vec();
        let converted = decode(&body, Encoding::Protobuf, None).unwrap();
        assert_eq!(documents(&converted).len(), 1);
        assert_eq!(converted.rejected_spans, 4);
        let message = "4 of 5 spans rejected: 2 with a trace id that is not 16 bytes or is all zeros, \
                       1 with a span id that is not 8 bytes or is all zeros, 1 with an end time before the start time";
        assert_eq!(converted.error_message.as_deref(), Some(message));

        let response =
            ExportTraceServiceResponse::decode(&success_response(Encoding::Protobuf, &converted)[..])
                .unwrap();
        let partial = response.partial_success.unwrap();
        assert_eq!(
            (partial.rejected_spans, partial.error_message.as_str()),
            (4, message)
        );
        let response: Value = serde_json::from_slice(&success_response(Encoding::Json, &converted)).unwrap();
        assert_eq!(
            response,
            json!({"partialSuccess": {"rejectedSpans": "4", "errorMessage": message}})
        );

        let all_good = decode(PYTHON_PROTOBUF, Encoding::Protobuf, None).unwrap();
        assert_eq!(success_response(Encoding::Protobuf, &all_good), Vec::<u8>::new());
        assert_eq!(success_response(Encoding::Json, &all_good), b"{}");
    }

    #[test]
    fn an_error_response_is_an_invalid_argument_status_in_the_requests_encoding() {
        let status = RpcStatus::decode(&error_response(Encoding::Protobuf, "bad body")[..]).unwrap();
        assert_eq!(
            (status.code, status.message.as_str(), status.details.len()),
            (3, "bad body", 0)
        );
        assert_eq!(
            error_response(Encoding::Json, "bad \"body\""),
            br#"{"code":3,"message":"bad \"body\""}"#
        );
    }

    #[test]
    fn the_content_type_picks_the_encoding() {
        assert_eq!(
            Encoding::from_content_type("application/x-protobuf"),
            Some(Encoding::Protobuf)
        );
        assert_eq!(
            Encoding::from_content_type("Application/JSON; charset=utf-8"),
            Some(Encoding::Json)
        );
        assert_eq!(
            Encoding::from_content_type(" application/json "),
            Some(Encoding::Json)
        );
        assert_eq!(Encoding::from_content_type("text/plain"), None);
        assert_eq!(Encoding::from_content_type(""), None);
        assert_eq!(Encoding::Json.content_type(), "application/json");
    }

    #[test]
    fn chained_python_and_java_exceptions_are_linked_by_cause() {
        let python = "Traceback (most recent call last):\n  File \"/app/db.py\", line 10, in get\n    conn.execute(q)\n\
                      KeyError: 'orders'\n\nDuring handling of the above exception, another exception occurred:\n\n\
                      Traceback (most recent call last):\n  File \"/app/main.py\", line 3, in <module>\n    handle()\n  \
                      File \"/app/main.py\", line 7, in handle\n    get()\nValueError: not found\n";
        let java = "java.lang.RuntimeException: outer\n\tat com.shop.Orders.get(Orders.java:42)\n\tat \
                    app//com.shop.Main.main(Main.java:7)\nCaused by: java.io.IOException: disk\n\tat com.shop.Disk.read(Disk.java:9)\n";
        for (language, kind, message, stack, expected) in [
            (
                "python",
                "ValueError",
                "not found",
                python,
                json!([
                    {"type": "ValueError", "message": "not found", "stack": [
                        {"path": "/app/main.py", "line": 7, "label": "handle"},
                        {"path": "/app/main.py", "line": 3, "label": "<module>"}]},
                    {"type": "KeyError", "message": "'orders'", "stack": [{"path": "/app/db.py", "line": 10, "label": "get"}]},
                ]),
            ),
            (
                "java",
                "java.lang.RuntimeException",
                "outer",
                java,
                json!([
                    {"type": "java.lang.RuntimeException", "message": "outer", "stack": [
                        {"path": "Orders.java", "line": 42, "label": "com.shop.Orders.get"},
                        {"path": "Main.java", "line": 7, "label": "com.shop.Main.main"}]},
                    {"type": "java.io.IOException", "message": "disk", "stack": [
                        {"path": "Disk.java", "line": 9, "label": "com.shop.Disk.read"}]},
                ]),
            ),
        ] {
            let mut failing = span(SpanKind::Internal, false, vec![]);
            failing.events = vec![Event {
                name: "exception".into(),
                attributes: vec![
                    s("exception.type", kind),
                    s("exception.message", message),
                    s("exception.stacktrace", stack),
                ],
                ..Event::default()
            }];
            let doc = convert_one(vec![s("telemetry.sdk.language", language)], failing);
            let mut exceptions = doc["cause"]["exceptions"].as_array().unwrap().clone();
            assert_eq!(exceptions[0]["cause"], exceptions[1]["id"], "{language}");
            assert_ne!(exceptions[0]["id"], exceptions[1]["id"]);
            for e in &mut exceptions {
                let e = e.as_object_mut().unwrap();
                e.remove("id");
                e.remove("cause");
            }
            assert_eq!(Value::Array(exceptions), expected, "{language}");
            // Exceptions alone do not make a fault: the span status does.
            assert!(doc.get("fault").is_none());
        }
    }

    #[test]
    fn random_and_mutated_bodies_never_panic_and_what_converts_is_valid() {
        let mut rng = fastrand::Rng::with_seed(4318);
        let seeds = [
            PYTHON_PROTOBUF.to_vec(),
            PYTHON_JSON.to_vec(),
            gzip(PYTHON_PROTOBUF),
        ];
        for round in 0..6_000 {
            let bytes = if round % 10 == 0 {
                (0..rng.usize(0..300)).map(|_| rng.u8(..)).collect()
            } else {
                let mut bytes = seeds[round % seeds.len()].clone();
                for _ in 0..rng.usize(1..8) {
                    let at = rng.usize(0..bytes.len());
                    match rng.u8(0..4) {
                        0 => bytes[at] = rng.u8(..),
                        1 => {
                            bytes.remove(at);
                        }
                        2 => bytes.insert(at, b"{}[]\",:0-9ne\\"[rng.usize(0..13)]),
                        _ => bytes[at] ^= 1 << rng.u8(0..8),
                    }
                }
                bytes
            };
            for encoding in [Encoding::Protobuf, Encoding::Json] {
                for content_encoding in [None, Some("gzip")] {
                    if let Ok(converted) = decode(&bytes, encoding, content_encoding) {
                        documents(&converted);
                        let _ = success_response(encoding, &converted);
                    }
                }
            }
        }
    }
}
