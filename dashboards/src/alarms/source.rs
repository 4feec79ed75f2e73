//! Where the evaluator's samples come from: a [`MetricSource`], implemented for a replayed
//! datapoints file, for the agent's local metrics store, and for samples held in memory.

use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;

use serde_json::Value;

use super::statistics::{Sample, SampleKind};

/// Samples of one metric: `namespace`, `metric_name` and exactly this set of `dimensions`
/// (sorted by name), with `from_ms <= timestamp_ms < to_ms`, oldest first.
pub trait MetricSource {
    fn samples(
        &self,
        namespace: &str,
        metric_name: &str,
        dimensions: &[(String, String)],
        from_ms: i64,
        to_ms: i64,
    ) -> Vec<Sample>;
}

/// A metric: namespace, name and its dimensions sorted by name.
pub type SeriesKey = (String, String, Vec<(String, String)>);

/// Samples held in memory, indexed by metric.
#[derive(Debug, Clone, Default)]
pub struct MemorySource {
    series: BTreeMap<SeriesKey, Vec<Sample>>,
}

impl MemorySource {
    pub fn new() -> MemorySource {
        MemorySource::default()
    }

    /// Adds a sample; `dimensions` in any order.
    pub fn push(
        &mut self,
        namespace: &str,
        metric_name: &str,
        dimensions: &[(String, String)],
        sample: Sample,
    ) {
        let mut dims = dimensions.to_vec();
        dims.sort();
        let samples = self
            .series
            .entry((namespace.to_string(), metric_name.to_string(), dims))
            .or_default();
        // Kept in time order; a sample of an equal time goes after those already there.
        let at = samples.partition_point(|s| s.timestamp_ms <= sample.timestamp_ms);
        samples.insert(at, sample);
    }

    /// Bulk loading: appends without keeping order; [`MemorySource::sort`] must follow.
    fn push_unsorted(
        &mut self,
        namespace: &str,
        metric_name: &str,
        dimensions: &[(String, String)],
        sample: Sample,
    ) {
        let mut dims = dimensions.to_vec();
        dims.sort();
        self.series
            .entry((namespace.to_string(), metric_name.to_string(), dims))
            .or_default()
            .push(sample);
    }

    /// Puts each metric's samples in time order (stable: equal times keep their order).
    fn sort(&mut self) {
        for samples in self.series.values_mut() {
            samples.sort_by_key(|s| s.timestamp_ms);
        }
    }

    /// How many samples are held.
    pub fn len(&self) -> usize {
        self.series.values().map(Vec::len).sum()
    }

    /// The oldest and newest sample times, if any.
    pub fn time_range(&self) -> Option<(i64, i64)> {
        let first = self
            .series
            .values()
            .filter_map(|s| s.first())
            .map(|s| s.timestamp_ms)
            .min()?;
        let last = self
            .series
            .values()
            .filter_map(|s| s.last())
            .map(|s| s.timestamp_ms)
            .max()?;
        Some((first, last))
    }

    /// Every metric's samples: `((namespace, metric, sorted dimensions), samples)`.
    pub fn series(&self) -> impl Iterator<Item = (&SeriesKey, &Vec<Sample>)> {
        self.series.iter()
    }

    /// Whether samples of this metric (dimensions sorted) would be asked for.
    pub fn has_series(&self, key: &SeriesKey) -> bool {
        self.series.contains_key(key)
    }

    /// Forgets the samples older than `before_ms` (a window kept in memory), and metrics left
    /// with none.
    pub fn prune(&mut self, before_ms: i64) {
        self.series.retain(|_, samples| {
            let old = samples.partition_point(|s| s.timestamp_ms < before_ms);
            samples.drain(..old);
            !samples.is_empty()
        });
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl MetricSource for MemorySource {
    fn samples(
        &self,
        namespace: &str,
        metric_name: &str,
        dimensions: &[(String, String)],
        from_ms: i64,
        to_ms: i64,
    ) -> Vec<Sample> {
        let key = (
            namespace.to_string(),
            metric_name.to_string(),
            dimensions.to_vec(),
        );
        let Some(samples) = self.series.get(&key) else {
            return Vec::new();
        };
        let start = samples.partition_point(|s| s.timestamp_ms < from_ms);
        let end = samples.partition_point(|s| s.timestamp_ms < to_ms);
        samples
            .get(start..end.max(start))
            .map(<[Sample]>::to_vec)
            .unwrap_or_default()
    }
}

/// A malformed line of a datapoints file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DatapointsError {
    /// 1-based.
    pub line: usize,
    pub message: String,
}

impl fmt::Display for DatapointsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}: {}", self.line, self.message)
    }
}

impl std::error::Error for DatapointsError {}

/// A datapoints file for replays: JSON lines, each a PutMetricData `MetricDatum` plus
/// `Namespace`. A replay must not quietly skip data, so the first malformed line is an error.
#[derive(Debug, Clone, Default)]
pub struct DatapointsFile {
    source: MemorySource,
}

impl DatapointsFile {
    /// Parses the whole text; blank lines are skipped.
    pub fn parse(text: &str) -> Result<DatapointsFile, DatapointsError> {
        let mut source = MemorySource::new();
        for (i, line) in text.lines().enumerate() {
            if line.trim().is_empty() {
                continue;
            }
            let (namespace, metric, dims, sample) =
                parse_datum(line).map_err(|message| DatapointsError { line: i + 1, message })?;
            source.push_unsorted(&namespace, &metric, &dims, sample);
        }
        source.sort();
        Ok(DatapointsFile { source })
    }

    /// How many datums were read.
    pub fn len(&self) -> usize {
        self.source.len()
    }

    /// The oldest and newest datum times, if any.
    pub fn time_range(&self) -> Option<(i64, i64)> {
        self.source.time_range()
    }

    pub fn is_empty(&self) -> bool {
        self.source.is_empty()
    }
}

impl MetricSource for DatapointsFile {
    fn samples(&self, n: &str, m: &str, d: &[(String, String)], from_ms: i64, to_ms: i64) -> Vec<Sample> {
        self.source.samples(n, m, d, from_ms, to_ms)
    }
}

const DATUM_KEYS: [&str; 10] = [
    "Namespace",
    "MetricName",
    "Dimensions",
    "Timestamp",
    "Value",
    "Values",
    "Counts",
    "StatisticValues",
    "Unit",
    "StorageResolution",
];

/// A datum's namespace, metric name, dimensions and sample.
type ParsedDatum = (String, String, Vec<(String, String)>, Sample);

fn parse_datum(line: &str) -> Result<ParsedDatum, String> {
    let v: Value = serde_json::from_str(line).map_err(|e| format!("not JSON: {e}"))?;
    let obj = v
        .as_object()
        .ok_or("expected a JSON object (a MetricDatum plus Namespace)")?;
    if let Some(k) = obj.keys().find(|k| !DATUM_KEYS.contains(&k.as_str())) {
        return Err(format!("unknown key {k:?}; expected {}", DATUM_KEYS.join(", ")));
    }
    let text = |k: &str| -> Result<String, String> {
        obj.get(k)
            .ok_or_else(|| format!("{k} is required"))?
            .as_str()
            .map(str::to_string)
            .ok_or_else(|| format!("{k} must be a string"))
    };
    let namespace = text("Namespace")?;
    let metric = text("MetricName")?;
    let mut dims = Vec::new();
    if let Some(d) = obj.get("Dimensions") {
        for item in d
            .as_array()
            .ok_or("Dimensions must be a list of {\"Name\", \"Value\"}")?
        {
            let name = item.get("Name").and_then(Value::as_str);
            let value = item.get("Value").and_then(Value::as_str);
            match (name, value) {
                (Some(n), Some(v)) => dims.push((n.to_string(), v.to_string())),
                _ => return Err("each dimension needs string Name and Value".into()),
            }
        }
    }
    let timestamp_ms = match obj.get("Timestamp") {
        Some(Value::String(s)) => {
            skywatch_time::parse_rfc3339(s).ok_or_else(|| format!("Timestamp {s:?} is not RFC 3339"))?
        }
        Some(Value::Number(n)) => {
            let secs = n
                .as_f64()
                .filter(|s| s.is_finite() && s.abs() < 1e13)
                .ok_or("Timestamp is out of range")?;
            (secs * 1000.0).round() as i64
        }
        Some(_) => return Err("Timestamp must be RFC 3339 text or epoch seconds".into()),
        None => return Err("Timestamp is required in a replayed datapoints file".into()),
    };
    let unit = match obj.get("Unit") {
        None => None,
        Some(Value::String(s)) => Some(s.clone()),
        Some(_) => return Err("Unit must be a string".into()),
    };
    let number = |v: &Value, what: &str| {
        v.as_f64()
            .filter(|x| x.is_finite())
            .ok_or_else(|| format!("{what} must be a finite number"))
    };
    let kinds = ["Value", "Values", "StatisticValues"]
        .iter()
        .filter(|k| obj.contains_key(**k))
        .count();
    if kinds != 1 {
        return Err("give exactly one of Value, Values (+ Counts) and StatisticValues".into());
    }
    let kind = if let Some(v) = obj.get("Value") {
        SampleKind::Value(number(v, "Value")?)
    } else if let Some(values) = obj.get("Values") {
        let values = values.as_array().ok_or("Values must be a list")?;
        let counts: Vec<f64> = match obj.get("Counts") {
            None => vec![1.0; values.len()],
            Some(c) => c
                .as_array()
                .ok_or("Counts must be a list")?
                .iter()
                .map(|c| number(c, "each count"))
                .collect::<Result<_, _>>()?,
        };
        if counts.len() != values.len() {
            return Err(format!("{} Values but {} Counts", values.len(), counts.len()));
        }
        let values: Vec<f64> = values
            .iter()
            .map(|v| number(v, "each value"))
            .collect::<Result<_, _>>()?;
        SampleKind::Distribution(values.into_iter().zip(counts).collect())
    } else {
        let s = obj
            .get("StatisticValues")
            .and_then(Value::as_object)
            .ok_or("StatisticValues must be an object")?;
        let field = |k: &str| {
            s.get(k)
                .ok_or_else(|| format!("StatisticValues.{k} is required"))
                .and_then(|v| number(v, k))
        };
        SampleKind::Stats {
            count: field("SampleCount")?,
            sum: field("Sum")?,
            min: field("Minimum")?,
            max: field("Maximum")?,
        }
    };
    if obj.contains_key("Counts") && !obj.contains_key("Values") {
        return Err("Counts goes with Values".into());
    }
    Ok((
        namespace,
        metric,
        dims,
        Sample {
            timestamp_ms,
            unit,
            kind,
        },
    ))
}

/// The agent's local metrics store (`state_dir/metrics`), read into memory from `since_ms`.
/// Lines that cannot be read (torn by a crash) are skipped and counted, as every store reader
/// does. Read again to see newer data.
#[derive(Debug, Clone, Default)]
pub struct StoreSource {
    source: MemorySource,
    malformed_lines: u64,
}

impl StoreSource {
    pub fn read(dir: &Path, since_ms: i64) -> std::io::Result<StoreSource> {
        let read = skywatch_store::read_metrics_since(dir, since_ms)?;
        let mut source = MemorySource::new();
        for stored in read.datums {
            let d = stored.datum;
            let unit = (!d.unit.is_empty()).then_some(d.unit);
            source.push_unsorted(
                &stored.namespace,
                &d.name,
                &d.dimensions,
                Sample {
                    timestamp_ms: d.timestamp_ms,
                    unit,
                    kind: SampleKind::Value(d.value),
                },
            );
        }
        source.sort();
        Ok(StoreSource {
            source,
            malformed_lines: read.malformed_lines,
        })
    }

    /// Lines of the store that could not be read.
    /// The oldest and newest datum times, if any.
    pub fn time_range(&self) -> Option<(i64, i64)> {
        self.source.time_range()
    }

    pub fn malformed_lines(&self) -> u64 {
        self.malformed_lines
    }
}

impl MetricSource for StoreSource {
    fn samples(&self, n: &str, m: &str, d: &[(String, String)], from_ms: i64, to_ms: i64) -> Vec<Sample> {
        self.source.samples(n, m, d, from_ms, to_ms)
    }
}

#[cfg(test)]
mod tests {
    use super::{DatapointsFile, MetricSource};
    use crate::alarms::statistics::SampleKind;

    #[test]
    fn datapoints_lines_in_each_shape() {
        let text = r#"{"Namespace":"App","MetricName":"Latency","Dimensions":[{"Name":"b","Value":"2"},{"Name":"a","Value":"1"}],"Timestamp":"2024-03-05T20:25:00Z","Value":3.5,"Unit":"Milliseconds"}

{"Namespace":"App","MetricName":"Latency","Dimensions":[{"Name":"a","Value":"1"},{"Name":"b","Value":"2"}],"Timestamp":1709670300,"Values":[1,2],"Counts":[3,4]}
{"Namespace":"App","MetricName":"Latency","Dimensions":[{"Name":"a","Value":"1"},{"Name":"b","Value":"2"}],"Timestamp":1709670300.5,"StatisticValues":{"SampleCount":2,"Sum":3,"Minimum":1,"Maximum":2}}
"#;
        let file = DatapointsFile::parse(text).unwrap();
        let dims = vec![
            ("a".to_string(), "1".to_string()),
            ("b".to_string(), "2".to_string()),
        ];
        let got = file.samples("App", "Latency", &dims, 0, i64::MAX);
        assert_eq!(got.len(), 3);
        assert_eq!(got[0].timestamp_ms, 1_709_670_300_000);
        assert_eq!(got[0].unit.as_deref(), Some("Milliseconds"));
        assert_eq!(
            got[1].kind,
            SampleKind::Distribution(vec![(1.0, 3.0), (2.0, 4.0)])
        );
        assert_eq!(got[2].timestamp_ms, 1_709_670_300_500);
        assert!(
            file.samples("App", "Latency", &dims[..1], 0, i64::MAX).is_empty(),
            "dimension sets match exactly"
        );
        assert_eq!(
            file.samples("App", "Latency", &dims, 0, 1_709_670_300_001).len(),
            2
        );
    }

    #[test]
    fn a_malformed_line_is_an_error_naming_it() {
        let good = r#"{"Namespace":"A","MetricName":"m","Timestamp":0,"Value":1}"#;
        for (bad, message) in [
            ("{", "not JSON"),
            (
                r#"{"Namespace":"A","MetricName":"m","Timestamp":0}"#,
                "exactly one of Value",
            ),
            (
                r#"{"Namespace":"A","MetricName":"m","Value":1}"#,
                "Timestamp is required",
            ),
            (
                r#"{"Namespace":"A","MetricName":"m","Timestamp":"yesterday","Value":1}"#,
                "not RFC 3339",
            ),
            (
                r#"{"Namespace":"A","MetricName":"m","Timestamp":0,"Value":1,"Extra":1}"#,
                "unknown key \"Extra\"",
            ),
            (
                r#"{"Namespace":"A","MetricName":"m","Timestamp":0,"Values":[1],"Counts":[1,2]}"#,
                "1 Values but 2 Counts",
            ),
        ] {
            let err = DatapointsFile::parse(&format!("{good}\n{bad}\n")).unwrap_err();
            assert_eq!(err.line, 2, "{bad}");
            assert!(err.to_string().starts_with("line 2: "), "{err}");
            assert!(err.message.contains(message), "{bad}: {err}");
        }
    }
}
