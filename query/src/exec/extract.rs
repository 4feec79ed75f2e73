//! One log line → the fields a query reads, in row slots. Only fields the plan names are
//! extracted; the JSON scanner skips the rest without building them.
//!
//! `@timestamp` comes from, in order: the `--timestamp-field` (with `--timestamp-format` if
//! given); the JSON keys `@timestamp`, `timestamp`, `time`, `ts`, `eventTime`, `requestTimeEpoch`; a timestamp at the start of a
//! text line (ISO 8601, CLF, syslog, epoch), or a `--timestamp-format` there; else the previous
//! event's timestamp in the same input, as the CloudWatch agent does; else none.
//! VPC flow log records use their `start` time and Route 53 records their `queryTimestamp`.

use std::collections::{HashMap, HashSet};
use std::hash::BuildHasherDefault;

use crate::fx_hash::FxHasher;

type FxMap<K, V> = HashMap<K, V, BuildHasherDefault<FxHasher>>;

use crate::event::{
    is_known_format_field, lambda_fields, leading_timestamp, parse_timestamp_text, parse_timestamp_value,
    route53_fields, unwrap_event, vpc_flow_fields, JsonFlattener, KeyFinder, KeyScratch, RawValue,
    TimestampFormat, Wanted, Wrapped, TIMESTAMP_KEYS,
};
use crate::exec::pipeline::Row;
use crate::plan::{InputFields, Slot};
use crate::value::Value;

/// Time keys of AWS's own JSON logs, tried after the generic ones: CloudTrail's `eventTime`,
/// API Gateway access logs' `requestTimeEpoch`.
const AWS_TIMESTAMP_KEYS: &[&str] = &["eventTime", "requestTimeEpoch"];

/// How `@timestamp` is found, from the command line.
#[derive(Debug, Default, Clone)]
pub struct TimestampRule {
    pub field: Option<String>,
    pub format: Option<TimestampFormat>,
}

/// Per-input context of the extractor.
#[derive(Clone, Copy)]
pub struct SourceContext<'a> {
    pub log_stream: &'a str,
    pub log: &'a str,
    pub ptr_prefix: &'a str,
    pub ingestion_ms: i64,
    /// The year of syslog timestamps, which carry none.
    pub year_hint: i32,
}

pub struct Extractor<'p> {
    input: &'p InputFields,
    /// The keys to read, stopping once all are found: for lines already known whole.
    wanted: Wanted,
    /// The same keys, reading (and so checking) every line to its end.
    wanted_whole: Wanted,
    json: JsonFlattener,
    slots: FxMap<String, Slot>,
    timestamp_keys: Vec<String>,
    known_formats: bool,
    rule: TimestampRule,
    /// Whether JSON lines need scanning at all (some field or the timestamp is wanted).
    reads_json: bool,
    timestamp_needed: bool,
    /// Key-directed reading: the fields (all must be found), then each timestamp key in rank
    /// order. `None` when the fast path cannot serve this query (see [`KeyFinder`]).
    fast: Option<(Option<KeyFinder>, Vec<KeyFinder>)>,
    /// The key finders' buffers.
    key_scratch: KeyScratch,
    /// The slot of each key of the fast path's field finder, in its key order.
    fast_slots: Vec<Slot>,
}

/// The outcome of the key-directed path.
enum Fast {
    Read(Option<i64>),
    Declined,
}

/// What extraction noticed about a line.
#[derive(Debug, Default, Clone, Copy)]
pub struct LineNotes {
    /// A JSON line that broke before its end (it keeps the fields before the break).
    pub broken_json: bool,
    /// Read by the key search.
    pub by_key_search: bool,
    /// Had no timestamp of its own.
    pub no_timestamp: bool,
}

impl<'p> Extractor<'p> {
    /// `validate_json`: check JSON lines even when no field of theirs is needed, to count the
    /// broken ones (for `--stats`; it costs a scan of every line).
    /// `timestamp_needed`: whether `@timestamp` must be found (the plan reads it, or a time range
    /// applies); if not, lines are not searched for one.
    pub fn new(
        input: &'p InputFields,
        rule: TimestampRule,
        validate_json: bool,
        timestamp_needed: bool,
    ) -> Extractor<'p> {
        let timestamp_keys: Vec<String> = match &rule.field {
            _ if !timestamp_needed => Vec::new(),
            Some(field) => vec![field.clone()],
            None => TIMESTAMP_KEYS
                .iter()
                .chain(AWS_TIMESTAMP_KEYS)
                .map(|k| (*k).to_string())
                .collect(),
        };
        let slots: FxMap<String, Slot> = input.discovered.iter().cloned().collect();
        let mut keys: HashSet<String> = slots.keys().cloned().collect();
        keys.extend(timestamp_keys.iter().cloned());
        // Stop reading a JSON line once every field the query reads and a timestamp are found.
        let mut groups: Vec<Vec<String>> = slots.keys().map(|k| vec![k.clone()]).collect();
        if !timestamp_keys.is_empty() {
            groups.push(timestamp_keys.clone());
        }
        let wanted_whole = Wanted::only(&keys);
        let wanted = if validate_json {
            Wanted::only(&keys)
        } else {
            Wanted::only(&keys).stop_when_found(groups)
        };
        let reads_json = !keys.is_empty() || validate_json;
        let fast = if validate_json {
            None
        } else {
            let fields = if slots.is_empty() {
                Some(None)
            } else {
                KeyFinder::new(slots.keys().map(String::as_str)).map(Some)
            };
            let stamps: Option<Vec<KeyFinder>> = timestamp_keys
                .iter()
                .map(|k| KeyFinder::new([k.as_str()]))
                .collect();
            match (fields, stamps) {
                (Some(fields), Some(stamps)) => Some((fields, stamps)),
                _ => None,
            }
        };
        let known_formats = slots.keys().any(|k| is_known_format_field(k))
            || rule.field.as_deref().is_some_and(is_known_format_field);
        let fast_slots = match &fast {
            Some((Some(fields), _)) => fields.names().filter_map(|n| slots.get(n).copied()).collect(),
            _ => Vec::new(),
        };
        Extractor {
            input,
            wanted,
            wanted_whole,
            json: JsonFlattener::new(),
            slots,
            timestamp_keys,
            known_formats,
            rule,
            reads_json,
            timestamp_needed,
            fast_slots,
            fast,
            key_scratch: KeyScratch::default(),
        }
    }

    /// Without the shortcuts `shortcuts` turns off: the key search, stopping a scan early.
    #[must_use]
    pub fn with_shortcuts(mut self, shortcuts: crate::exec::Shortcuts) -> Extractor<'p> {
        if !shortcuts.key_search {
            self.fast = None;
            self.fast_slots.clear();
        }
        if !shortcuts.stop_early {
            self.wanted = self.wanted_whole.clone();
        }
        self
    }

    /// The key-directed path: [`Fast::Read`] with the line's own timestamp if it could read the
    /// line (fields into `row`), [`Fast::Declined`] to fall back to the full scan.
    fn read_fast(&mut self, line: &str, row: &mut Row) -> Fast {
        match self.read_fast_inner(line, row) {
            Some(timestamp) => Fast::Read(timestamp),
            None => Fast::Declined,
        }
    }

    #[allow(clippy::option_option)]
    fn read_fast_inner(&mut self, line: &str, row: &mut Row) -> Option<Option<i64>> {
        let (fields, stamps) = self.fast.as_ref()?;
        if let Some(fields) = fields {
            let fast_slots = &self.fast_slots;
            let read = fields.read(line.as_bytes(), &mut self.key_scratch, &mut |k, _, value| {
                if let Some(&slot) = fast_slots.get(k) {
                    row[slot] = Some(value);
                }
            });
            if !read {
                return None;
            }
        }
        if stamps.is_empty() {
            return Some(None);
        }
        self.timestamp_by_key(line.as_bytes())
    }

    /// The time of a JSON line read by key: `Some(Some(ms))`, `Some(None)` when the line has
    /// no timestamp key at all, `None` when the key-directed path declines (the full scan
    /// decides).
    #[allow(clippy::option_option)]
    pub fn timestamp_by_key(&mut self, line: &[u8]) -> Option<Option<i64>> {
        let (_, stamps) = self.fast.as_ref()?;
        for finder in stamps {
            match finder.read_raw(line, &mut self.key_scratch) {
                None => return None,
                // An absent key: the next one in rank order.
                Some(RawValue::Absent) => continue,
                Some(RawValue::Other) => {}
                // Read in place, without building a value: the common case of a plain time.
                Some(RawValue::Plain(raw)) => {
                    // A string, as the full scan reads a string (numbers come as `Other`).
                    let parsed = match &self.rule.format {
                        Some(format) => format.parse(raw),
                        None => parse_timestamp_text(raw),
                    };
                    return parsed.map(Some);
                }
            }
            let mut stamp = None;
            if !finder.read(line, &mut self.key_scratch, &mut |_, _, value| {
                stamp = Some(value);
            }) {
                return None;
            }
            // An absent or null key: the next one in rank order.
            let Some(value) = stamp else { continue };
            let parsed = match &self.rule.format {
                Some(format) => value.as_text().and_then(|t| format.parse(&t)),
                None => parse_timestamp_value(&value),
            };
            // A key that is present but not a time: the full scan looks further.
            return parsed.map(Some);
        }
        // No timestamp key at all.
        Some(None)
    }

    /// The timestamp `line` carries itself, if any.
    pub fn timestamp_of(&mut self, line: &str, source: &SourceContext<'_>, year_hint: i32) -> Option<i64> {
        let mut row: Row =
            vec![None; self.input.timestamp + 1 + self.slots.values().copied().max().unwrap_or(0)];
        for slot in [
            self.input.log_stream,
            self.input.log,
            self.input.ingestion_time,
            self.input.ptr,
        ]
        .into_iter()
        .flatten()
        {
            if slot >= row.len() {
                row.resize(slot + 1, None);
            }
        }
        let context = SourceContext { year_hint, ..*source };
        let mut last = None;
        let notes = self.fill(line, 0, &context, &mut row, &mut last);
        if notes.no_timestamp {
            return None;
        }
        last
    }

    /// Fills `row` (all slots empty) from `line`; `last_timestamp` carries the previous event's
    /// time in this input and is updated.
    pub fn fill(
        &mut self,
        line: &str,
        line_offset: u64,
        source: &SourceContext<'_>,
        row: &mut Row,
        last_timestamp: &mut Option<i64>,
    ) -> LineNotes {
        let mut notes = LineNotes::default();
        let mut own_timestamp: Option<i64> = None;
        let mut timestamp_rank = usize::MAX;
        let trimmed = line.trim_start();
        let mut is_json = false;
        let timestamp_needed = self.timestamp_needed;
        // A line starting with `{` is a JSON event on every path: its fields are the ones before
        // a break, if it breaks, and its time comes from them only.
        if trimmed.starts_with('{') && self.reads_json {
            if let Fast::Read(timestamp) = self.read_fast(line, row) {
                is_json = true;
                own_timestamp = timestamp;
                notes.by_key_search = true;
            } else {
                // Whatever the key-directed path put down before it declined.
                for &slot in &self.fast_slots {
                    row[slot] = None;
                }
            }
        }
        if is_json {
            // Read by the key-directed path.
        } else if trimmed.starts_with('{') && self.reads_json {
            let (timestamp_keys, rule, slots) = (&self.timestamp_keys, &self.rule, &self.slots);
            let whole = self.json.flatten(line, &self.wanted, &mut |key, value| {
                if let Some(rank) = timestamp_keys.iter().position(|k| k == key) {
                    if rank < timestamp_rank {
                        let parsed = match &rule.format {
                            Some(format) => value.as_text().and_then(|t| format.parse(&t)),
                            None => parse_timestamp_value(&value),
                        };
                        if let Some(ms) = parsed {
                            own_timestamp = Some(ms);
                            timestamp_rank = rank;
                        }
                    }
                }
                if let Some(&slot) = slots.get(key) {
                    row[slot] = Some(value);
                }
            });
            is_json = true;
            notes.broken_json = !whole;
        } else if trimmed.starts_with('{') {
            // Nothing of the JSON is needed: count it as JSON without reading it.
            is_json = true;
        }
        // A line wrapping an event of its own (an export to S3, a Lambda line with JSON): the
        // wrapped event's fields, at the wrapper's time.
        let wrapped = if is_json || trimmed.starts_with('{') {
            None
        } else if self.reads_json || self.known_formats || timestamp_needed {
            unwrap_event(line)
        } else {
            None
        };
        let body = wrapped.map_or(line, |w| line.get(w.message_start..).unwrap_or(line));
        if let Some(Wrapped {
            json_start: Some(start),
            time_ms,
            ..
        }) = wrapped
        {
            if self.reads_json {
                if let Some(json) = line.get(start..) {
                    let (slots, rule) = (&self.slots, &self.rule);
                    // `--timestamp-field` names a field of the wrapped event; without it the
                    // wrapper's time is the event's.
                    let field = rule.field.as_deref();
                    let read = self.json.flatten(json, &self.wanted_whole, &mut |key, value| {
                        if field == Some(key) && own_timestamp.is_none() {
                            own_timestamp = match &rule.format {
                                Some(format) => value.as_text().and_then(|t| format.parse(&t)),
                                None => parse_timestamp_value(&value),
                            };
                        }
                        if let Some(&slot) = slots.get(key) {
                            row[slot] = Some(value);
                        }
                    });
                    notes.broken_json = !read;
                }
            }
            if self.rule.field.is_none() {
                own_timestamp = time_ms;
            }
        }
        if !is_json {
            if timestamp_needed && own_timestamp.is_none() && self.rule.field.is_none() {
                own_timestamp = match &self.rule.format {
                    Some(format) => format.parse(line),
                    None => leading_timestamp(line, source.year_hint),
                };
            }
            // Known formats give fields, and a time for lines that do not start with one
            // (VPC flow logs: `start`; Route 53: `queryTimestamp`).
            if self.known_formats || (timestamp_needed && own_timestamp.is_none()) {
                let field = self.rule.field.as_deref();
                let slots = &self.slots;
                let mut record_time: Option<i64> = None;
                let mut emit = |key: &'static str, value: Value| {
                    let is_time = match field {
                        Some(f) => f == key,
                        None => key == "startTime" || key == "queryTimestamp",
                    };
                    if is_time && record_time.is_none() {
                        record_time = match (key, &value) {
                            ("startTime", Value::Num(seconds)) if field.is_none() => {
                                Some((seconds * 1000.0) as i64)
                            }
                            _ => parse_timestamp_value(&value),
                        };
                    }
                    if let Some(&slot) = slots.get(key) {
                        row[slot] = Some(value);
                    }
                };
                let _ = lambda_fields(body, &mut emit)
                    || vpc_flow_fields(body, &mut emit)
                    || route53_fields(body, &mut emit);
                if own_timestamp.is_none() {
                    own_timestamp = record_time;
                }
            }
        }
        let timestamp = if let Some(ms) = own_timestamp {
            *last_timestamp = Some(ms);
            Some(ms)
        } else {
            notes.no_timestamp = timestamp_needed;
            *last_timestamp
        };
        row[self.input.timestamp] = timestamp.map(Value::Time);
        if let Some(slot) = self.input.log_stream {
            row[slot] = Some(Value::str(source.log_stream));
        }
        if let Some(slot) = self.input.log {
            row[slot] = Some(Value::str(source.log));
        }
        if let Some(slot) = self.input.ingestion_time {
            row[slot] = Some(Value::Time(source.ingestion_ms));
        }
        if let Some(slot) = self.input.ptr {
            row[slot] = Some(Value::str(format!("{}:{line_offset}", source.ptr_prefix)));
        }
        notes
    }
}
