//! The event model: what fields one log line has, and when it happened.
//!
//! A line is an event. Its fields are the system fields (`@message`, `@timestamp`, `@logStream`,
//! `@log`, …, set by the reader) plus the fields CloudWatch would discover at ingestion:
//!
//! 1. **JSON events** ([`flatten_json`]): a line that is one JSON object gives its leaves as
//!    fields. Nested keys join with `.` (`http.userAgent`), array elements get their index
//!    (`items.0.instanceId`); objects and arrays themselves are not fields, nor are `null` and
//!    empty containers. A top-level key starting with `@` gets another `@` (`@level` →
//!    `@@level`); nested keys are left as they are (`a.@b`). Strings are unescaped; numbers are
//!    numbers; `true`/`false` are the strings `"true"`/`"false"`. At most 200 leaves per event,
//!    the first 200 in document order; a repeated key keeps its last value. A line that is not
//!    valid JSON (or nests deeper than 64) is a text event.
//! 2. **Known text formats** ([`lambda_fields`], [`vpc_flow_fields`], [`route53_fields`]):
//!    strict detectors for Lambda platform and application lines, VPC flow log records and
//!    Route 53 query logs, each giving its documented fields.
//! 3. Anything else has only the system fields; `parse` extracts more at query time.
//!
//! Everything here works on the borrowed line and allocates only for the values it emits:
//! these functions run once per line and decide the engine's throughput.
//!
//! # Which timestamp an event gets
//!
//! `@timestamp` is the first of:
//! 1. the JSON fields [`TIMESTAMP_KEYS`] (`@@timestamp`, `timestamp`, `time`, `ts`, in that
//!    order; the first whose value [`parse_timestamp_value`] accepts), or the field the user
//!    names with `--timestamp-field`, read with [`parse_timestamp_value`] or, with
//!    `--timestamp-format`, a [`TimestampFormat`];
//! 2. a timestamp at the start of a text line ([`leading_timestamp`]: ISO 8601, epoch seconds
//!    or milliseconds, syslog, or a CLF `[…]` near the start), or the `--timestamp-format` match;
//! 3. the previous event's timestamp in the same file, so continuation lines (stack traces) and
//!    untimed lines stay in place in time order.
//!
//! Times without a zone are UTC.

mod json_fields;
mod json_keys;
mod known_formats;
mod special_bytes;
mod timestamp;

pub use json_fields::{flatten_json, JsonFlattener, Wanted, MAX_DEPTH, MAX_FIELDS_PER_EVENT};
pub use json_keys::{KeyFinder, KeyScratch, RawValue};
pub use known_formats::{
    is_known_format_field, lambda_fields, route53_fields, unwrap_event, vpc_flow_fields, Wrapped,
};
pub use timestamp::{
    leading_timestamp, parse_timestamp_text, parse_timestamp_value, TimestampFormat, TIMESTAMP_KEYS,
};
