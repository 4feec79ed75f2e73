//! The CloudWatch agent's `statsd` plugin: a UDP listener (loopback :8125 unless
//! `service_address` says otherwise) for StatsD lines with DogStatsD tags —
//! `name:value|type[|@rate][|#key:value,key2:value2]`, several per datagram, one a line — and
//! their aggregation between two collections, as Telegraf's statsd input (the agent's):
//!
//! - `c` counters: the sum over the interval, each value divided by its sample rate;
//! - `g` gauges: the last value (`+n` / `-n` change the last value instead);
//! - `ms`, `h`, `d` timers, histograms, distributions: every value, so the sender combines them
//!   into `Values`/`Counts` per period as the CloudWatch agent's distributions do (`ms` in
//!   Milliseconds);
//! - `s` sets: the number of distinct values.
//!
//! Names take `metric_separator` (default `_`) in place of `.`; tags become dimensions. A line
//! that is not StatsD is counted and named in the log (the first and each doubling); series
//! beyond [`MAX_SERIES`] in one interval are dropped and counted, so a client sending a new tag
//! value per packet cannot grow the agent without bound.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, PoisonError};

use super::collect::Sample;

/// Distinct series kept between two collections.
pub const MAX_SERIES: usize = 10_000;
/// Values kept per timer/histogram series, and members per set, in one interval.
pub const MAX_VALUES_PER_SERIES: usize = 10_000;
/// Intervals a gauge's last value is kept for `+n`/`-n` after it was last set.
const GAUGE_MEMORY: u64 = 10;
/// CloudWatch's limits on a metric name and a dimension value (PutMetricData).
const MAX_NAME_CHARS: usize = 255;
const MAX_TAG_VALUE_CHARS: usize = 1024;
/// The default address, the CloudWatch agent's port on loopback.
pub const DEFAULT_ADDRESS: &str = "127.0.0.1:8125";

/// One parsed value.
#[derive(Debug, Clone, PartialEq)]
pub struct Line {
    pub name: String,
    pub value: Value,
    pub tags: Vec<(String, String)>,
}

/// What a line says.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Counter(f64),
    Gauge { value: f64, relative: bool },
    Timing { value: f64, milliseconds: bool },
    Set(String),
}

/// Parses one StatsD line (`separator` replaces `.` in the name).
pub fn parse_line(line: &str, separator: &str) -> Result<Line, String> {
    let (name, rest) = line
        .split_once(':')
        .ok_or_else(|| "no ':' between the name and the value".to_string())?;
    if name.is_empty() || name.chars().count() > MAX_NAME_CHARS {
        return Err(format!("a name of 1 to {MAX_NAME_CHARS} characters"));
    }
    let mut parts = rest.split('|');
    let raw = parts.next().unwrap_or_default();
    let kind = parts
        .next()
        .ok_or_else(|| "no '|type' after the value".to_string())?;
    let mut rate = 1.0;
    let mut tags = Vec::new();
    for part in parts {
        if let Some(r) = part.strip_prefix('@') {
            rate = r
                .parse::<f64>()
                .ok()
                .filter(|r| *r > 0.0 && *r <= 1.0)
                .ok_or_else(|| format!("a bad sample rate {r:?}"))?;
        } else if let Some(list) = part.strip_prefix('#') {
            for tag in list.split(',').filter(|t| !t.is_empty()) {
                let (k, v) = tag.split_once(':').unwrap_or((tag, ""));
                if k.is_empty()
                    || k.chars().count() > MAX_NAME_CHARS
                    || v.chars().count() > MAX_TAG_VALUE_CHARS
                {
                    return Err(format!("a tag {tag:?} CloudWatch would refuse as a dimension"));
                }
                tags.push((k.to_string(), v.to_string()));
            }
        }
    }
    let number = || {
        raw.parse::<f64>()
            .ok()
            .filter(|v| v.is_finite())
            .ok_or_else(|| format!("{raw:?} is not a number"))
    };
    let value = match kind {
        "c" => {
            let count = number()? / rate;
            if !count.is_finite() {
                return Err(format!("a count too large ({raw} at rate {rate})"));
            }
            Value::Counter(count)
        }
        "g" => Value::Gauge {
            value: number()?,
            relative: raw.starts_with('+') || raw.starts_with('-'),
        },
        "ms" => Value::Timing {
            value: number()?,
            milliseconds: true,
        },
        "h" | "d" => Value::Timing {
            value: number()?,
            milliseconds: false,
        },
        "s" => Value::Set(raw.to_string()),
        other => return Err(format!("an unknown type {other:?} (c, g, ms, h, d or s)")),
    };
    tags.sort();
    Ok(Line {
        name: name.replace('.', separator),
        value,
        tags,
    })
}

type Key = (String, Vec<(String, String)>);

/// What arrived since the last collection.
#[derive(Debug, Default)]
pub struct Aggregates {
    counters: HashMap<Key, f64>,
    gauges: HashMap<Key, f64>,
    timings: HashMap<Key, (Vec<f64>, bool)>,
    sets: HashMap<Key, HashSet<String>>,
    /// Gauges keep their last value across intervals for `+n`/`-n`.
    last_gauges: HashMap<Key, (f64, u64)>,
    /// Collections so far; a gauge not set for [`GAUGE_MEMORY`] of them is forgotten.
    interval: u64,
    /// Lines that were not StatsD, and series dropped over [`MAX_SERIES`], so far.
    pub malformed: u64,
    pub dropped_series: u64,
}

impl Aggregates {
    fn series(&self) -> usize {
        self.counters.len() + self.gauges.len() + self.timings.len() + self.sets.len()
    }

    /// Adds one line; false if it was dropped (too many series).
    pub fn add(&mut self, line: Line) -> bool {
        let key = (line.name, line.tags);
        let known = self.counters.contains_key(&key)
            || self.gauges.contains_key(&key)
            || self.timings.contains_key(&key)
            || self.sets.contains_key(&key)
            || self.last_gauges.contains_key(&key);
        if !known && (self.series() >= MAX_SERIES || self.last_gauges.len() >= MAX_SERIES) {
            self.dropped_series += 1;
            return false;
        }
        match line.value {
            Value::Counter(v) => {
                let sum = self.counters.entry(key).or_insert(0.0);
                // A sum that overflows stays at the largest value rather than becoming ∞.
                *sum = (*sum + v).clamp(-f64::MAX, f64::MAX);
            }
            Value::Gauge { value, relative } => {
                let base = if relative {
                    self.last_gauges.get(&key).map_or(0.0, |(v, _)| *v)
                } else {
                    0.0
                };
                self.last_gauges
                    .insert(key.clone(), (base + value, self.interval));
                self.gauges.insert(key, base + value);
            }
            Value::Timing { value, milliseconds } => {
                let entry = self.timings.entry(key).or_insert((Vec::new(), milliseconds));
                if entry.0.len() >= MAX_VALUES_PER_SERIES {
                    self.dropped_series += 1;
                    return false;
                }
                entry.0.push(value);
            }
            Value::Set(member) => {
                let members = self.sets.entry(key).or_default();
                if members.len() >= MAX_VALUES_PER_SERIES && !members.contains(&member) {
                    self.dropped_series += 1;
                    return false;
                }
                members.insert(member);
            }
        }
        true
    }

    /// Everything since the last call, as samples (named, with their units), and resets.
    /// Relative gauges remember a series' last value for a few intervals, then forget it.
    pub fn take(&mut self) -> Vec<Sample> {
        self.interval += 1;
        let oldest = self.interval.saturating_sub(GAUGE_MEMORY);
        self.last_gauges.retain(|_, (_, set)| *set >= oldest);
        let sample = |(name, tags): Key, value: f64, unit: &'static str| Sample {
            field: "value",
            value,
            tags,
            named: Some((name, unit)),
        };
        let mut out = Vec::new();
        out.extend(self.counters.drain().map(|(k, v)| sample(k, v, "Count")));
        out.extend(self.gauges.drain().map(|(k, v)| sample(k, v, "None")));
        for (key, (values, ms)) in self.timings.drain() {
            let unit = if ms { "Milliseconds" } else { "None" };
            out.extend(values.into_iter().map(|v| sample(key.clone(), v, unit)));
        }
        out.extend(
            self.sets
                .drain()
                .map(|(k, members)| sample(k, members.len() as f64, "Count")),
        );
        out
    }
}

/// The aggregates a listener fills and a collection drains.
pub type Shared = Arc<Mutex<Aggregates>>;

/// Takes a datagram's lines into `aggregates`; malformed lines are counted (and the first of
/// each power of two returned for the log).
pub fn take_datagram(aggregates: &Shared, datagram: &[u8], separator: &str) -> Option<String> {
    let text = String::from_utf8_lossy(datagram);
    let mut a = aggregates.lock().unwrap_or_else(PoisonError::into_inner);
    let mut note = None;
    for line in text.lines().map(str::trim).filter(|l| !l.is_empty()) {
        match parse_line(line, separator) {
            Ok(parsed) => {
                if !a.add(parsed) && a.dropped_series.is_power_of_two() {
                    note = Some(format!(
                        "statsd: more than {MAX_SERIES} series in one interval; {} value(s) dropped so far",
                        a.dropped_series
                    ));
                }
            }
            Err(why) => {
                a.malformed += 1;
                if a.malformed.is_power_of_two() {
                    note = Some(format!(
                        "statsd: not a StatsD line ({why}): {:?}; {} so far",
                        line.chars().take(200).collect::<String>(),
                        a.malformed
                    ));
                }
            }
        }
    }
    note
}

#[cfg(test)]
mod tests {
    use super::{parse_line, Aggregates, Value};

    #[test]
    fn lines_of_every_type_parse_with_rates_and_tags() {
        let l = parse_line("api.requests:2|c|@0.5|#route:/users,status:200", "_").unwrap();
        assert_eq!(l.name, "api_requests");
        assert_eq!(l.value, Value::Counter(4.0));
        assert_eq!(
            l.tags,
            [("route".into(), "/users".into()), ("status".into(), "200".into())]
        );
        assert_eq!(
            parse_line("q:-3|g", "_").unwrap().value,
            Value::Gauge {
                value: -3.0,
                relative: true
            }
        );
        assert_eq!(
            parse_line("t:12.5|ms", "_").unwrap().value,
            Value::Timing {
                value: 12.5,
                milliseconds: true
            }
        );
        assert_eq!(
            parse_line("u:alice|s", "_").unwrap().value,
            Value::Set("alice".into())
        );
        let long = "n".repeat(256);
        for bad in [
            "nocolon",
            ":1|c",
            "a:1",
            "a:x|c",
            "a:1|q",
            "a:1|c|@2",
            "a:NaN|g",
            "a:1|c|#:v",
            "a:1e308|c|@1e-10",
            &format!("{long}:1|c"),
        ] {
            assert!(parse_line(bad, "_").is_err(), "{bad}");
        }
    }

    #[test]
    #[allow(clippy::float_cmp)] // sums of small whole numbers
    fn an_interval_aggregates_by_type_and_starts_over() {
        let mut a = Aggregates::default();
        for line in [
            "hits:1|c",
            "hits:2|c",
            "temp:20|g",
            "temp:+3|g",
            "lat:5|ms",
            "lat:7|ms",
            "who:a|s",
            "who:a|s",
            "who:b|s",
        ] {
            assert!(a.add(parse_line(line, "_").unwrap()));
        }
        let mut got: Vec<(String, f64)> = a
            .take()
            .into_iter()
            .map(|s| (s.named.unwrap().0, s.value))
            .collect();
        got.sort_by(|x, y| x.partial_cmp(y).unwrap());
        assert_eq!(
            got,
            [
                ("hits".into(), 3.0),
                ("lat".into(), 5.0),
                ("lat".into(), 7.0),
                ("temp".into(), 23.0),
                ("who".into(), 2.0)
            ]
        );
        assert!(a.take().is_empty());
        a.add(parse_line("temp:-1|g", "_").unwrap());
        assert_eq!(
            a.take()[0].value,
            22.0,
            "a relative gauge starts from the last value"
        );
    }
}
