//! CloudWatch API limits the agent keeps to, each with where it is documented.

/// Dimensions per metric. PutMetricData API reference, `MetricDatum.Dimensions`: "Array
/// Members: Maximum number of 30 items." (It was 10 before 2022.)
pub const MAX_DIMENSIONS: usize = 30;

/// Datums per PutMetricData request. PutMetricData API reference: "Each PutMetricData request
/// is limited to 1 MB in size for HTTP POST requests. You can send a payload compressed by
/// gzip. Each request is also limited to no more than 1000 different metrics."
pub const MAX_DATUMS_PER_PUT: usize = 1000;

/// Request body bytes of a PutMetricData call (same passage as above: 1 MB). We stay under it
/// with an estimate of the form-encoded size of each datum.
pub const MAX_PUT_BYTES: usize = 1_000_000;

/// Distinct values per datum in `Values`/`Counts`. `MetricDatum.Values`: "You can use up to
/// 150 values per MetricDatum object."
pub const MAX_VALUES_PER_DATUM: usize = 150;

/// Largest magnitude of a value. `MetricDatum.Value`: "Although the parameter accepts numbers
/// of type Double, CloudWatch rejects values that are either too small or too large. Values
/// must be in the range of -2^360 to 2^360. In addition, special values (for example, NaN,
/// +Infinity, -Infinity) are not supported."
pub const MAX_VALUE_MAGNITUDE: f64 = 2.348_542_582_773_833_2e108;

/// Dimension value length. `Dimension.Value`: "Length Constraints: Minimum length of 1.
/// Maximum length of 1024."
pub const MAX_DIMENSION_VALUE_CHARS: usize = 1024;

/// Metric name length. `MetricDatum.MetricName`: "Minimum length of 1. Maximum length of 255."
pub const MAX_METRIC_NAME_CHARS: usize = 255;

/// Bytes of one PutLogEvents batch. PutLogEvents API reference: "The maximum batch size is
/// 1,048,576 bytes. This size is calculated as the sum of all event messages in UTF-8, plus 26
/// bytes for each log event."
pub const MAX_LOG_BATCH_BYTES: usize = 1_048_576;

/// What each event adds to a batch besides its message (same passage).
pub const LOG_EVENT_OVERHEAD_BYTES: usize = 26;

/// Events in one PutLogEvents batch. API reference: "The maximum number of log events in a
/// batch is 10,000."
pub const MAX_LOG_EVENTS_PER_BATCH: usize = 10_000;

/// Bytes of one event's message, so that an event always fits a batch with its overhead. API
/// reference: "Each log event can be no larger than 1 MB." (It was 256 KB before 2025.)
pub const MAX_LOG_EVENT_BYTES: usize = MAX_LOG_BATCH_BYTES - LOG_EVENT_OVERHEAD_BYTES;

/// Longest time span of one batch. API reference: "A batch of log events in a single request
/// cannot span more than 24 hours. Otherwise, the operation fails."
pub const MAX_LOG_BATCH_SPAN_MS: i64 = 24 * 3_600_000;

/// How old an event may be. API reference: "None of the log events in the batch can be more
/// than 14 days in the past."
pub const MAX_LOG_EVENT_AGE_MS: i64 = 14 * 24 * 3_600_000;

/// How far ahead an event may be. API reference: "None of the log events in the batch can be
/// more than 2 hours in the future."
pub const MAX_LOG_EVENT_AHEAD_MS: i64 = 2 * 3_600_000;

/// CloudWatch's standard units (`StandardUnit` in the CloudWatch API), as PutMetricData,
/// EMF and alarm rules name them.
pub const STANDARD_UNITS: [&str; 27] = [
    "Seconds",
    "Microseconds",
    "Milliseconds",
    "Bytes",
    "Kilobytes",
    "Megabytes",
    "Gigabytes",
    "Terabytes",
    "Bits",
    "Kilobits",
    "Megabits",
    "Gigabits",
    "Terabits",
    "Percent",
    "Count",
    "Bytes/Second",
    "Kilobytes/Second",
    "Megabytes/Second",
    "Gigabytes/Second",
    "Terabytes/Second",
    "Bits/Second",
    "Kilobits/Second",
    "Megabits/Second",
    "Gigabits/Second",
    "Terabits/Second",
    "Count/Second",
    "None",
];
