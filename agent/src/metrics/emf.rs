//! CloudWatch embedded metric format: a log event whose whole message is one JSON object with
//! an `_aws` member naming metrics that are other (top-level) members of the object. Each
//! metric directive gives a namespace, dimension sets (each set, possibly empty, makes its own
//! series; dimension values are top-level string members) and metric definitions (name, unit,
//! storage resolution). A value is a number or an array of at most 100 numbers; each number is
//! one datum (the metric buffer aggregates them into Values/Counts).
//!
//! A document that breaks the specification is refused whole, with the reason: CloudWatch
//! extracts nothing from it either.

use serde_json::{Map, Value};

use super::datum::Datum;
use crate::config::schema::UNITS;
use skywatch_aws::limits::{MAX_DIMENSIONS, MAX_DIMENSION_VALUE_CHARS, MAX_METRIC_NAME_CHARS};

/// The most metric definitions one directive may hold, and values one metric may have.
const MAX_METRICS_PER_DIRECTIVE: usize = 100;
const MAX_VALUES_PER_METRIC: usize = 100;

/// A datum and the namespace it goes to.
#[derive(Debug, Clone, PartialEq)]
pub struct EmfDatum {
    pub namespace: String,
    pub datum: Datum,
}

/// Why a line is not a valid EMF document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EmfError(pub String);

impl std::fmt::Display for EmfError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for EmfError {}

fn bad(message: impl Into<String>) -> EmfError {
    EmfError(message.into())
}

/// Whether `message` looks like an EMF document (as the CloudWatch agent decides: an object
/// mentioning `CloudWatchMetrics`).
pub fn looks_like_emf(message: &str) -> bool {
    let text = message.trim();
    text.starts_with('{') && text.ends_with('}') && text.contains("\"CloudWatchMetrics\"")
}

/// The datums of one EMF document; `event_ms` is the time when `_aws.Timestamp` is absent.
pub fn parse(message: &str, event_ms: i64) -> Result<Vec<EmfDatum>, EmfError> {
    let root: Value = serde_json::from_str(message.trim()).map_err(|e| bad(format!("not JSON: {e}")))?;
    let root = root.as_object().ok_or_else(|| bad("not a JSON object"))?;
    let aws = root
        .get("_aws")
        .and_then(Value::as_object)
        .ok_or_else(|| bad("no _aws object"))?;
    let timestamp_ms = match aws.get("Timestamp") {
        None => event_ms,
        Some(t) => t
            .as_i64()
            .or_else(|| t.as_f64().filter(|f| f.is_finite()).map(|f| f as i64))
            .ok_or_else(|| bad("_aws.Timestamp is not a number of milliseconds"))?,
    };
    let directives = aws
        .get("CloudWatchMetrics")
        .and_then(Value::as_array)
        .ok_or_else(|| bad("_aws.CloudWatchMetrics is not a list"))?;
    let mut out = Vec::new();
    for (i, directive) in directives.iter().enumerate() {
        let at = format!("_aws.CloudWatchMetrics[{i}]");
        let directive = directive
            .as_object()
            .ok_or_else(|| bad(format!("{at} is not an object")))?;
        read_directive(root, directive, &at, timestamp_ms, &mut out)?;
    }
    Ok(out)
}

fn read_directive(
    root: &Map<String, Value>,
    directive: &Map<String, Value>,
    at: &str,
    timestamp_ms: i64,
    out: &mut Vec<EmfDatum>,
) -> Result<(), EmfError> {
    let namespace = directive
        .get("Namespace")
        .and_then(Value::as_str)
        .filter(|n| !n.is_empty() && n.len() <= 255)
        .ok_or_else(|| bad(format!("{at}.Namespace is not a name of 1 to 255 characters")))?;
    if namespace.starts_with("AWS/") {
        return Err(bad(format!("{at}.Namespace: AWS/ namespaces are reserved")));
    }
    let sets = directive
        .get("Dimensions")
        .and_then(Value::as_array)
        .ok_or_else(|| bad(format!("{at}.Dimensions is not a list of dimension sets")))?;
    let mut dimension_sets = Vec::new();
    for (j, set) in sets.iter().enumerate() {
        let keys = set
            .as_array()
            .ok_or_else(|| bad(format!("{at}.Dimensions[{j}] is not a list of keys")))?;
        if keys.len() > MAX_DIMENSIONS {
            return Err(bad(format!(
                "{at}.Dimensions[{j}] has more than {MAX_DIMENSIONS} keys"
            )));
        }
        let mut dims = Vec::new();
        for key in keys {
            let key = key
                .as_str()
                .ok_or_else(|| bad(format!("{at}.Dimensions[{j}] holds a key that is not a string")))?;
            let value = root
                .get(key)
                .and_then(Value::as_str)
                .filter(|v| !v.is_empty() && v.chars().count() <= MAX_DIMENSION_VALUE_CHARS)
                .ok_or_else(|| {
                    bad(format!(
                        "dimension {key:?} has no string value of 1 to 1024 characters"
                    ))
                })?;
            dims.push((key.to_string(), value.to_string()));
        }
        dims.sort();
        dims.dedup_by(|a, b| a.0 == b.0);
        dimension_sets.push(dims);
    }
    // No sets at all: the metrics go without dimensions.
    if dimension_sets.is_empty() {
        dimension_sets.push(Vec::new());
    }
    let metrics = directive
        .get("Metrics")
        .and_then(Value::as_array)
        .ok_or_else(|| bad(format!("{at}.Metrics is not a list")))?;
    if metrics.len() > MAX_METRICS_PER_DIRECTIVE {
        return Err(bad(format!(
            "{at}.Metrics has more than {MAX_METRICS_PER_DIRECTIVE} definitions"
        )));
    }
    for (k, metric) in metrics.iter().enumerate() {
        let mat = format!("{at}.Metrics[{k}]");
        let metric = metric
            .as_object()
            .ok_or_else(|| bad(format!("{mat} is not an object")))?;
        let name = metric
            .get("Name")
            .and_then(Value::as_str)
            .filter(|n| !n.is_empty() && n.chars().count() <= MAX_METRIC_NAME_CHARS)
            .ok_or_else(|| bad(format!("{mat}.Name is not a name of 1 to 255 characters")))?;
        let unit = match metric.get("Unit") {
            None => "None",
            Some(u) => u
                .as_str()
                .filter(|u| UNITS.contains(u))
                .ok_or_else(|| bad(format!("{mat}.Unit {u} is not a CloudWatch unit")))?,
        };
        let storage_resolution = match metric.get("StorageResolution") {
            None => 60,
            Some(r) => match r.as_i64() {
                Some(1) => 1,
                Some(60) => 60,
                _ => return Err(bad(format!("{mat}.StorageResolution is neither 1 nor 60"))),
            },
        };
        let values = match root.get(name) {
            Some(Value::Number(n)) => vec![number(n, name)?],
            Some(Value::Array(items)) if items.len() <= MAX_VALUES_PER_METRIC => items
                .iter()
                .map(|v| match v {
                    Value::Number(n) => number(n, name),
                    _ => Err(bad(format!("metric {name:?} holds a value that is not a number"))),
                })
                .collect::<Result<Vec<f64>, EmfError>>()?,
            Some(Value::Array(_)) => {
                return Err(bad(format!(
                    "metric {name:?} has more than {MAX_VALUES_PER_METRIC} values"
                )))
            }
            _ => return Err(bad(format!("metric {name:?} has no numeric value"))),
        };
        for dimensions in &dimension_sets {
            for value in &values {
                out.push(EmfDatum {
                    namespace: namespace.to_string(),
                    datum: Datum {
                        name: name.to_string(),
                        unit: unit.to_string(),
                        dimensions: dimensions.clone(),
                        value: *value,
                        timestamp_ms,
                        storage_resolution,
                    },
                });
            }
        }
    }
    Ok(())
}

fn number(n: &serde_json::Number, name: &str) -> Result<f64, EmfError> {
    n.as_f64().filter(|v| v.is_finite()).ok_or_else(|| {
        bad(format!(
            "metric {name:?} holds a value that is not a finite number"
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::{looks_like_emf, parse};

    #[test]
    fn the_specifications_example_gives_one_datum_per_value_and_dimension_set() {
        let doc = r#"{"_aws":{"Timestamp":1700000000000,"CloudWatchMetrics":[{"Namespace":"MyApp",
 "Dimensions":[["Service"],[]],"Metrics":[{"Name":"Latency","Unit":"Milliseconds","StorageResolution":60}]}]},
 "Service":"api","Latency":[12,15,30],"requestId":"abc"}"#;
        assert!(looks_like_emf(doc));
        let datums = parse(doc, 0).unwrap();
        assert_eq!(datums.len(), 6);
        let with_service: Vec<f64> = datums
            .iter()
            .filter(|d| d.datum.dimensions == [("Service".to_string(), "api".to_string())])
            .map(|d| d.datum.value)
            .collect();
        assert_eq!(with_service, [12.0, 15.0, 30.0]);
        let first = &datums[0];
        assert_eq!(first.namespace, "MyApp");
        assert_eq!(first.datum.unit, "Milliseconds");
        assert_eq!(first.datum.timestamp_ms, 1_700_000_000_000);
        assert_eq!(first.datum.storage_resolution, 60);
        assert!(datums.iter().filter(|d| d.datum.dimensions.is_empty()).count() == 3);
    }

    #[test]
    fn defaults_are_unit_none_resolution_60_and_the_event_time() {
        let doc = r#"{"_aws":{"CloudWatchMetrics":[{"Namespace":"N","Dimensions":[],"Metrics":[{"Name":"hits"}]}]},"hits":2}"#;
        let datums = parse(doc, 42).unwrap();
        assert_eq!(datums.len(), 1);
        assert_eq!(
            (
                datums[0].datum.unit.as_str(),
                datums[0].datum.storage_resolution,
                datums[0].datum.timestamp_ms
            ),
            ("None", 60, 42)
        );
    }

    #[test]
    fn documents_that_break_the_specification_are_refused_with_the_reason() {
        for (doc, words) in [
            ("not json", "not JSON"),
            ("[1]", "not a JSON object"),
            (r#"{"a":1}"#, "no _aws"),
            (r#"{"_aws":{"CloudWatchMetrics":{}}}"#, "not a list"),
            (
                r#"{"_aws":{"CloudWatchMetrics":[{"Namespace":"AWS/EC2","Dimensions":[],"Metrics":[]}]}}"#,
                "reserved",
            ),
            (
                r#"{"_aws":{"CloudWatchMetrics":[{"Namespace":"N","Dimensions":[["svc"]],"Metrics":[{"Name":"x"}]}]},"x":1,"svc":3}"#,
                "dimension \"svc\"",
            ),
            (
                r#"{"_aws":{"CloudWatchMetrics":[{"Namespace":"N","Dimensions":[],"Metrics":[{"Name":"x","Unit":"Furlongs"}]}]},"x":1}"#,
                "not a CloudWatch unit",
            ),
            (
                r#"{"_aws":{"CloudWatchMetrics":[{"Namespace":"N","Dimensions":[],"Metrics":[{"Name":"x","StorageResolution":5}]}]},"x":1}"#,
                "neither 1 nor 60",
            ),
            (
                r#"{"_aws":{"CloudWatchMetrics":[{"Namespace":"N","Dimensions":[],"Metrics":[{"Name":"x"}]}]},"x":"1"}"#,
                "no numeric value",
            ),
        ] {
            let e = parse(doc, 0).unwrap_err();
            assert!(e.0.contains(words), "{doc}: {e}");
        }
    }

    #[test]
    fn mangled_documents_never_panic() {
        let doc = r#"{"_aws":{"Timestamp":1,"CloudWatchMetrics":[{"Namespace":"N","Dimensions":[["a"]],"Metrics":[{"Name":"x","Unit":"Count"}]}]},"a":"v","x":[1,2.5]}"#;
        let mut state = 0x9e37_79b9_7f4a_7c15_u64;
        for _ in 0..20_000 {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            let mut bytes = doc.as_bytes().to_vec();
            let i = (state % bytes.len() as u64) as usize;
            bytes[i] = (state >> 32) as u8;
            if let Ok(text) = std::str::from_utf8(&bytes) {
                let _ = parse(text, 0);
            }
        }
    }
}
