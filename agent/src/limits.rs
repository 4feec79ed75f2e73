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
