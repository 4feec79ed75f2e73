//! Datums waiting to be sent: aggregated, bounded, cut into requests.
//!
//! Datums of one series (name, unit, dimensions, resolution) that fall in the same storage
//! period (a second at high resolution, a minute otherwise) are sent as one datum with
//! `Values`/`Counts` — as the CloudWatch agent does within its flush interval — so roll-ups
//! over many disks or cores cost one datum, not one each.
//!
//! When full, the oldest series is dropped whole and counted: during a long outage the agent
//! keeps the most recent data, and memory stays bounded.

use std::collections::HashMap;

use crate::metrics::datum::Datum;
use crate::request_split::RequestLimits;
use skywatch_aws::limits::{MAX_DATUMS_PER_PUT, MAX_PUT_BYTES, MAX_VALUES_PER_DATUM, MAX_VALUE_MAGNITUDE};

/// What identifies one aggregated datum.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct SeriesKey {
    namespace: String,
    name: String,
    unit: String,
    dimensions: Vec<(String, String)>,
    storage_resolution: i32,
    period: i64,
}

#[derive(Debug)]
struct Pending {
    timestamp_ms: i64,
    /// Distinct values and how often each was seen.
    values: Vec<(f64, f64)>,
    /// Order of arrival, for dropping the oldest.
    seq: u64,
    count: usize,
}

/// One datum as sent: a value, or several with their counts.
#[derive(Debug, Clone, PartialEq)]
pub struct OutDatum {
    pub namespace: String,
    pub name: String,
    pub unit: String,
    pub dimensions: Vec<(String, String)>,
    pub timestamp_ms: i64,
    pub storage_resolution: i32,
    /// (value, count); at most [`MAX_VALUES_PER_DATUM`].
    pub values: Vec<(f64, f64)>,
}

impl OutDatum {
    /// How many collected datums this stands for.
    pub fn sample_count(&self) -> u64 {
        self.values.iter().map(|(_, n)| *n as u64).sum()
    }

    /// A generous estimate of this datum's share of a form-encoded PutMetricData body.
    fn estimated_bytes(&self) -> usize {
        let dims: usize = self
            .dimensions
            .iter()
            .map(|(k, v)| 80 + 3 * (k.len() + v.len()))
            .sum();
        160 + 3 * (self.name.len() + self.unit.len()) + dims + 80 * self.values.len()
    }
}

/// Datums waiting to be sent, at most `capacity` collected datums.
#[derive(Debug)]
pub struct MetricBuffer {
    /// Where datums go unless pushed with a namespace of their own.
    namespace: String,
    pending: HashMap<SeriesKey, Pending>,
    capacity: usize,
    len: usize,
    next_seq: u64,
    dropped: u64,
    rejected_values: u64,
}

impl MetricBuffer {
    pub fn new(capacity: usize, namespace: &str) -> MetricBuffer {
        MetricBuffer {
            namespace: namespace.to_string(),
            pending: HashMap::new(),
            capacity: capacity.max(1),
            len: 0,
            next_seq: 0,
            dropped: 0,
            rejected_values: 0,
        }
    }

    /// Collected datums waiting.
    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Datums dropped because the buffer was full.
    pub fn dropped(&self) -> u64 {
        self.dropped
    }

    /// Datums left out because CloudWatch would reject their value (NaN, ±∞, beyond ±2^360).
    pub fn rejected_values(&self) -> u64 {
        self.rejected_values
    }

    /// Adds a datum for the buffer's namespace.
    pub fn push(&mut self, datum: Datum) {
        let namespace = self.namespace.clone();
        self.push_in(&namespace, datum);
    }

    /// Adds a datum for `namespace`.
    pub fn push_in(&mut self, namespace: &str, datum: Datum) {
        if !datum.value.is_finite() || datum.value.abs() > MAX_VALUE_MAGNITUDE {
            self.rejected_values += 1;
            return;
        }
        let period_ms = i64::from(datum.storage_resolution.max(1)) * 1000;
        let key = SeriesKey {
            namespace: namespace.to_string(),
            name: datum.name,
            unit: datum.unit,
            dimensions: datum.dimensions,
            storage_resolution: datum.storage_resolution,
            period: datum.timestamp_ms.div_euclid(period_ms),
        };
        let seq = self.next_seq;
        let pending = self.pending.entry(key).or_insert_with(|| Pending {
            timestamp_ms: datum.timestamp_ms,
            values: Vec::new(),
            seq,
            count: 0,
        });
        if pending.count == 0 {
            self.next_seq += 1;
        }
        #[allow(clippy::float_cmp)]
        match pending.values.iter_mut().find(|(v, _)| *v == datum.value) {
            Some((_, n)) => *n += 1.0,
            None => pending.values.push((datum.value, 1.0)),
        }
        pending.count += 1;
        self.len += 1;
        while self.len > self.capacity {
            self.drop_oldest();
        }
    }

    fn drop_oldest(&mut self) {
        let Some(key) = self
            .pending
            .iter()
            .min_by_key(|(_, p)| p.seq)
            .map(|(k, _)| k.clone())
        else {
            return;
        };
        if let Some(p) = self.pending.remove(&key) {
            self.len -= p.count;
            self.dropped += p.count as u64;
        }
    }

    /// Everything waiting, as requests within PutMetricData's limits (one namespace each),
    /// oldest first.
    pub fn take_requests(&mut self) -> Vec<Vec<OutDatum>> {
        let mut series: Vec<(SeriesKey, Pending)> = self.pending.drain().collect();
        self.len = 0;
        series.sort_by_key(|(_, p)| p.seq);
        let mut datums = Vec::new();
        for (key, pending) in series {
            for values in pending.values.chunks(MAX_VALUES_PER_DATUM) {
                datums.push(OutDatum {
                    namespace: key.namespace.clone(),
                    name: key.name.clone(),
                    unit: key.unit.clone(),
                    dimensions: key.dimensions.clone(),
                    timestamp_ms: pending.timestamp_ms,
                    storage_resolution: key.storage_resolution,
                    values: values.to_vec(),
                });
            }
        }
        // One request per namespace, namespaces in order of their oldest series.
        let mut by_namespace: Vec<(String, Vec<OutDatum>)> = Vec::new();
        for d in datums {
            match by_namespace.iter_mut().find(|(ns, _)| *ns == d.namespace) {
                Some((_, list)) => list.push(d),
                None => by_namespace.push((d.namespace.clone(), vec![d])),
            }
        }
        by_namespace
            .into_iter()
            .flat_map(|(_, datums)| split_requests(datums))
            .collect()
    }
}

/// Cuts datums into requests of at most [`MAX_DATUMS_PER_PUT`] datums and [`MAX_PUT_BYTES`].
pub fn split_requests(datums: Vec<OutDatum>) -> Vec<Vec<OutDatum>> {
    let limits = RequestLimits {
        max_items: MAX_DATUMS_PER_PUT,
        max_bytes: MAX_PUT_BYTES,
    };
    crate::request_split::split_requests(datums, limits, OutDatum::estimated_bytes, |_, _| false)
}

#[cfg(test)]
mod tests {
    use super::MetricBuffer;
    use crate::metrics::datum::Datum;
    use skywatch_aws::limits::{MAX_DATUMS_PER_PUT, MAX_VALUES_PER_DATUM};

    fn datum(name: &str, dim: &str, value: f64, timestamp_ms: i64) -> Datum {
        Datum {
            name: name.into(),
            unit: "Percent".into(),
            dimensions: vec![("path".into(), dim.into())],
            value,
            timestamp_ms,
            storage_resolution: 60,
        }
    }

    #[test]
    fn one_series_in_one_minute_becomes_values_and_counts() {
        let mut b = MetricBuffer::new(100, "CWAgent");
        b.push(datum("disk_used_percent", "", 10.0, 60_000));
        b.push(datum("disk_used_percent", "", 10.0, 70_000));
        b.push(datum("disk_used_percent", "", 30.0, 119_999));
        b.push(datum("disk_used_percent", "", 30.0, 120_000));
        let requests = b.take_requests();
        assert_eq!(requests.len(), 1);
        let datums = &requests[0];
        assert_eq!(datums.len(), 2, "two minutes");
        assert_eq!(datums[0].values, [(10.0, 2.0), (30.0, 1.0)]);
        assert_eq!(datums[0].timestamp_ms, 60_000);
        assert_eq!(datums[1].values, [(30.0, 1.0)]);
        assert!(b.is_empty());
    }

    #[test]
    fn when_full_the_oldest_series_goes_and_is_counted() {
        let mut b = MetricBuffer::new(3, "CWAgent");
        b.push(datum("a", "x", 1.0, 0));
        b.push(datum("a", "x", 2.0, 1_000));
        b.push(datum("b", "x", 1.0, 0));
        b.push(datum("c", "x", 1.0, 0));
        assert_eq!((b.len(), b.dropped()), (2, 2), "series a (two datums) dropped");
        let names: Vec<String> = b.take_requests().concat().into_iter().map(|d| d.name).collect();
        assert_eq!(names, ["b", "c"]);
    }

    #[test]
    fn values_cloudwatch_rejects_are_counted_not_sent() {
        let mut b = MetricBuffer::new(10, "CWAgent");
        b.push(datum("a", "x", f64::NAN, 0));
        b.push(datum("a", "x", f64::INFINITY, 0));
        b.push(datum("a", "x", 1e200, 0));
        assert_eq!((b.len(), b.rejected_values()), (0, 3));
    }

    #[test]
    fn requests_keep_to_the_datum_and_value_limits() {
        let mut b = MetricBuffer::new(10_000, "CWAgent");
        for i in 0..2_500 {
            b.push(datum("a", &format!("d{i}"), 1.0, 0));
        }
        for v in 0..400 {
            b.push(datum("many", "x", f64::from(v), 0));
        }
        let requests = b.take_requests();
        assert!(requests.iter().all(|r| r.len() <= MAX_DATUMS_PER_PUT));
        assert!(requests
            .iter()
            .flatten()
            .all(|d| d.values.len() <= MAX_VALUES_PER_DATUM));
        let datums: usize = requests.iter().map(Vec::len).sum();
        assert_eq!(
            datums,
            2_500 + 3,
            "400 distinct values in three datums of at most 150"
        );
        let samples: u64 = requests.iter().flatten().map(super::OutDatum::sample_count).sum();
        assert_eq!(samples, 2_900);
    }

    #[test]
    fn each_request_holds_one_namespace() {
        let mut b = MetricBuffer::new(100, "CWAgent");
        b.push(datum("a", "x", 1.0, 0));
        b.push_in("MyApp", datum("latency", "x", 12.0, 0));
        b.push_in("MyApp", datum("latency", "x", 15.0, 0));
        b.push(datum("b", "x", 1.0, 0));
        let requests = b.take_requests();
        let shape: Vec<(String, Vec<String>)> = requests
            .iter()
            .map(|r| (r[0].namespace.clone(), r.iter().map(|d| d.name.clone()).collect()))
            .collect();
        assert_eq!(
            shape,
            [
                ("CWAgent".to_string(), vec!["a".to_string(), "b".to_string()]),
                ("MyApp".to_string(), vec!["latency".to_string()])
            ]
        );
        assert!(requests
            .iter()
            .all(|r| r.iter().all(|d| d.namespace == r[0].namespace)));
        assert_eq!(requests[1][0].values, [(12.0, 1.0), (15.0, 1.0)]);
    }
}
