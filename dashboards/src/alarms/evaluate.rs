//! The evaluator: CloudWatch's alarm semantics on local samples.
//!
//! Every alarm starts INSUFFICIENT_DATA. At each tick a due metric alarm reduces the samples of
//! its evaluation range (the newest complete periods) to one value per period, decides its state
//! with [`decide`] (research §1.5, which reproduces every cell of the documented missing-data
//! tables), and composites are re-evaluated after their children. A [`Transition`] is produced
//! only when a state value changes.

use std::collections::{BTreeMap, HashMap};

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::math::{self, Scope};
use super::model::{
    alarm_arn, Alarm, CompositeAlarm, LowSampleCount, MetricAlarm, MetricDataQuery, Rules, Stat, StateValue,
    TreatMissingData,
};
use super::reason::{self, Outcome, Point};
use super::rule::child_name;
use super::source::MetricSource;
use super::statistics::{self, Bucket};

/// The reason every alarm starts with.
pub const INITIAL_REASON: &str = "Unchecked: Initial alarm creation";

/// How the evaluator runs: identity for ARNs and messages, and the choices AWS leaves open.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Settings {
    pub region: String,
    pub account_id: String,
    /// Time between evaluations of an alarm. `None`: CloudWatch's — every 60 s, or every
    /// period when the period is shorter. Ticks fall on epoch multiples of the cadence.
    pub cadence_ms: Option<i64>,
    /// Periods in the evaluation range. `None`: N + max(N / 3, 2) (never fewer than N).
    pub range_periods: Option<u32>,
    /// A period is complete, and evaluated, once `now >= period end + completion_delay_ms`.
    pub completion_delay_ms: i64,
}

impl Default for Settings {
    fn default() -> Settings {
        Settings {
            region: "us-east-1".into(),
            account_id: "123456789012".into(),
            cadence_ms: None,
            range_periods: None,
            completion_delay_ms: 0,
        }
    }
}

impl Settings {
    /// The cadence of an alarm with this period.
    pub fn cadence_for(&self, period_secs: u32) -> i64 {
        self.cadence_ms.filter(|c| *c > 0).unwrap_or(if period_secs < 60 {
            i64::from(period_secs) * 1000
        } else {
            60_000
        })
    }

    /// The number of periods in the evaluation range for N evaluation periods.
    pub fn range_for(&self, n: u32) -> u32 {
        self.range_periods.unwrap_or(n + (n / 3).max(2)).max(n)
    }

    /// How far back the longest evaluation range of `rules` reaches, in milliseconds, with
    /// `extra_periods` more of each alarm's period (the one in progress, for a window that must
    /// hold every datapoint an evaluation may read).
    pub fn longest_range_ms(&self, rules: &Rules, extra_periods: u32) -> i64 {
        rules
            .alarms
            .iter()
            .filter_map(|a| match a {
                Alarm::Metric(m) => Some(
                    i64::from(self.range_for(m.evaluation_periods) + extra_periods)
                        * i64::from(m.period_secs())
                        * 1000,
                ),
                Alarm::Composite(_) => None,
            })
            .max()
            .unwrap_or(0)
    }
}

/// What the evaluator knows about one alarm; kept across restarts by [`Snapshot`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AlarmStatus {
    pub state: StateValue,
    pub reason: String,
    /// JSON text (`{}` until the first change).
    pub reason_data: String,
    /// When the state value last changed (`None`: never).
    pub state_updated_ms: Option<i64>,
    /// When the evaluator first saw this configuration.
    pub configuration_updated_ms: Option<i64>,
    /// The next tick at which the alarm is due (`None`: at once).
    pub next_evaluation_ms: Option<i64>,
}

impl AlarmStatus {
    fn initial() -> AlarmStatus {
        AlarmStatus {
            state: StateValue::InsufficientData,
            reason: INITIAL_REASON.into(),
            reason_data: "{}".into(),
            state_updated_ms: None,
            configuration_updated_ms: None,
            next_evaluation_ms: None,
        }
    }
}

/// The evaluator's state, to save and restore across restarts (serde; versioned).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Snapshot {
    pub version: u32,
    pub alarms: BTreeMap<String, AlarmStatus>,
}

/// One change of an alarm's state value.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Transition {
    pub alarm_name: String,
    pub alarm_arn: String,
    pub old_state: StateValue,
    pub new_state: StateValue,
    /// NewStateReason.
    pub reason: String,
    /// StateReasonData, a JSON text.
    pub reason_data: String,
    pub timestamp_ms: i64,
    pub old_reason: String,
    pub old_reason_data: String,
    /// When the old state began (`None`: at creation).
    pub old_timestamp_ms: Option<i64>,
    pub configuration_updated_ms: i64,
    /// The actions to run for the new state: none when ActionsEnabled is false.
    pub actions: Vec<String>,
}

/// One line of `skywatch alarms eval`'s timeline.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TimelineEntry {
    /// RFC 3339 (UTC, milliseconds).
    pub time: String,
    pub alarm: String,
    pub old_state: StateValue,
    pub new_state: StateValue,
    pub reason: String,
    pub reason_data: Value,
    pub actions: Vec<String>,
}

impl From<&Transition> for TimelineEntry {
    fn from(t: &Transition) -> TimelineEntry {
        TimelineEntry {
            time: skywatch_time::rfc3339_ms(t.timestamp_ms),
            alarm: t.alarm_name.clone(),
            old_state: t.old_state,
            new_state: t.new_state,
            reason: t.reason.clone(),
            reason_data: serde_json::from_str(&t.reason_data).unwrap_or(Value::Null),
            actions: t.actions.clone(),
        }
    }
}

/// Evaluates a set of rules over time.
#[derive(Debug, Clone)]
pub struct Evaluator {
    rules: Rules,
    settings: Settings,
    status: BTreeMap<String, AlarmStatus>,
    /// Indexes of composite alarms, children before parents.
    composite_order: Vec<usize>,
}

const SNAPSHOT_VERSION: u32 = 1;

impl Evaluator {
    pub fn new(rules: Rules, settings: Settings) -> Evaluator {
        let status = rules
            .alarms
            .iter()
            .map(|a| (a.name().to_string(), AlarmStatus::initial()))
            .collect();
        let composite_order = composite_order(&rules);
        Evaluator {
            rules,
            settings,
            status,
            composite_order,
        }
    }

    pub fn rules(&self) -> &Rules {
        &self.rules
    }

    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    /// Each alarm's current status, by name.
    pub fn states(&self) -> &BTreeMap<String, AlarmStatus> {
        &self.status
    }

    pub fn snapshot(&self) -> Snapshot {
        Snapshot {
            version: SNAPSHOT_VERSION,
            alarms: self.status.clone(),
        }
    }

    /// Takes the statuses of a snapshot for the alarms that still exist (an updated alarm keeps
    /// its state, as in CloudWatch); alarms not in the snapshot start afresh. A snapshot of
    /// another version is ignored (returns false).
    pub fn restore(&mut self, snapshot: &Snapshot) -> bool {
        if snapshot.version != SNAPSHOT_VERSION {
            return false;
        }
        for (name, status) in &snapshot.alarms {
            if let Some(current) = self.status.get_mut(name) {
                *current = status.clone();
            }
        }
        true
    }

    /// The earliest tick at which some metric alarm is due.
    pub fn next_evaluation_ms(&self) -> Option<i64> {
        self.status.values().filter_map(|s| s.next_evaluation_ms).min()
    }

    /// Evaluates every alarm that is due at `now_ms`, then every composite; returns the changes
    /// of state, metric alarms first in file order, then composites children first.
    pub fn evaluate(&mut self, now_ms: i64, source: &dyn MetricSource) -> Vec<Transition> {
        let mut transitions = Vec::new();
        let mut changed_now: HashMap<String, StateValue> = HashMap::new();
        for i in 0..self.rules.alarms.len() {
            let Alarm::Metric(alarm) = &self.rules.alarms[i] else {
                continue;
            };
            let Some(status) = self.status.get(&alarm.alarm_name) else {
                continue;
            };
            if status.next_evaluation_ms.is_some_and(|due| due > now_ms) {
                continue;
            }
            let cadence = self.settings.cadence_for(alarm.period_secs());
            let next = (now_ms.div_euclid(cadence) + 1) * cadence;
            let current = status.state;
            let evaluation = evaluate_metric_alarm(alarm, &self.settings, now_ms, source, current);
            let alarm = alarm.clone();
            let status = self
                .status
                .entry(alarm.alarm_name.clone())
                .or_insert_with(AlarmStatus::initial);
            status.next_evaluation_ms = Some(next);
            status.configuration_updated_ms.get_or_insert(now_ms);
            if let Some((new, reason, data)) = evaluation {
                if new != current {
                    let t = self.change(&Alarm::Metric(alarm), new, reason, data, now_ms);
                    changed_now.insert(t.alarm_name.clone(), new);
                    transitions.push(t);
                }
            }
        }
        for i in self.composite_order.clone() {
            let Alarm::Composite(c) = &self.rules.alarms[i] else {
                continue;
            };
            let c = c.clone();
            let (new, reason, data) = self.evaluate_composite(&c, &changed_now, now_ms);
            let status = self
                .status
                .entry(c.alarm_name.clone())
                .or_insert_with(AlarmStatus::initial);
            status.configuration_updated_ms.get_or_insert(now_ms);
            if new != status.state {
                let t = self.change(&Alarm::Composite(c), new, reason, data, now_ms);
                changed_now.insert(t.alarm_name.clone(), new);
                transitions.push(t);
            }
        }
        transitions
    }

    fn change(
        &mut self,
        alarm: &Alarm,
        new: StateValue,
        reason: String,
        data: String,
        now_ms: i64,
    ) -> Transition {
        let name = alarm.name().to_string();
        let status = self
            .status
            .entry(name.clone())
            .or_insert_with(AlarmStatus::initial);
        let transition = Transition {
            alarm_arn: alarm_arn(&self.settings.region, &self.settings.account_id, &name),
            alarm_name: name,
            old_state: status.state,
            new_state: new,
            reason: reason.clone(),
            reason_data: data.clone(),
            timestamp_ms: now_ms,
            old_reason: std::mem::replace(&mut status.reason, reason),
            old_reason_data: std::mem::replace(&mut status.reason_data, data),
            old_timestamp_ms: status.state_updated_ms,
            configuration_updated_ms: status.configuration_updated_ms.unwrap_or(now_ms),
            actions: if alarm.actions_enabled() {
                alarm.actions(new).to_vec()
            } else {
                Vec::new()
            },
        };
        status.state = new;
        status.state_updated_ms = Some(now_ms);
        transition
    }

    /// ALARM when the rule is true; otherwise OK — except INSUFFICIENT_DATA when every child
    /// the rule names is INSUFFICIENT_DATA (our choice; AWS does not document it).
    fn evaluate_composite(
        &self,
        c: &CompositeAlarm,
        changed_now: &HashMap<String, StateValue>,
        now_ms: i64,
    ) -> (StateValue, String, String) {
        let state_of = |name: &str| self.status.get(name).map(|s| s.state);
        let mut children: Vec<&str> = c
            .rule
            .references()
            .into_iter()
            .map(|(r, _)| child_name(r))
            .collect();
        children.dedup();
        let truth = c.rule.evaluate(&state_of);
        let all_insufficient = !children.is_empty()
            && children
                .iter()
                .all(|n| state_of(n).is_none_or(|s| s == StateValue::InsufficientData));
        let new = if all_insufficient && !truth {
            StateValue::InsufficientData
        } else if truth {
            StateValue::Alarm
        } else {
            StateValue::Ok
        };
        let arn = |n: &str| alarm_arn(&self.settings.region, &self.settings.account_id, n);
        let reason = match children.iter().find(|n| changed_now.contains_key(**n)) {
            Some(n) => format!(
                "{} transitioned to {} at {}",
                arn(n),
                changed_now[*n].as_str(),
                reason::aws_time(now_ms)
            ),
            None => format!(
                "The alarm rule evaluated to {}",
                if truth { "TRUE" } else { "FALSE" }
            ),
        };
        let triggering: Vec<Value> = children
            .iter()
            .filter_map(|n| {
                let s = self.status.get(*n)?;
                Some(json!({
                    "arn": arn(n),
                    "state": {
                        "value": s.state.as_str(),
                        "timestamp": s.state_updated_ms.map(reason::aws_time),
                    }
                }))
            })
            .collect();
        let data = json!({"triggeringAlarms": triggering}).to_string();
        (new, reason, data)
    }
}

/// Composite alarms, each after the composites it names (cycles, which checking refuses, are
/// broken arbitrarily).
fn composite_order(rules: &Rules) -> Vec<usize> {
    fn visit(
        i: usize,
        rules: &Rules,
        index: &HashMap<&str, usize>,
        state: &mut Vec<u8>,
        order: &mut Vec<usize>,
    ) {
        if state[i] != 0 {
            return;
        }
        state[i] = 1;
        if let Alarm::Composite(c) = &rules.alarms[i] {
            for (r, _) in c.rule.references() {
                if let Some(&j) = index.get(child_name(r)) {
                    visit(j, rules, index, state, order);
                }
            }
            order.push(i);
        }
        state[i] = 2;
    }
    let index: HashMap<&str, usize> = rules
        .alarms
        .iter()
        .enumerate()
        .map(|(i, a)| (a.name(), i))
        .collect();
    let mut order = Vec::new();
    let mut state = vec![0u8; rules.alarms.len()]; // 0 new, 1 visiting, 2 done
    for i in 0..rules.alarms.len() {
        visit(i, rules, &index, &mut state, &mut order);
    }
    order
}

/// What [`decide`] concluded.
#[derive(Debug, Clone, PartialEq)]
pub struct Decision {
    /// The new state; `None` keeps the current one.
    pub state: Option<StateValue>,
    /// The real points evaluated, newest first.
    pub evaluated: Vec<Point>,
    /// Slots filled by TreatMissingData.
    pub filled: u32,
}

/// The decision procedure of research §1.5. `slots` is the evaluation range, oldest first (a
/// `None` is a period without a datapoint); `n` EvaluationPeriods, `m` DatapointsToAlarm.
pub fn decide(slots: &[Option<Point>], n: u32, m: u32, treat: TreatMissingData) -> Decision {
    let real: Vec<(usize, Point)> = slots
        .iter()
        .enumerate()
        .filter_map(|(i, p)| p.map(|p| (i, p)))
        .collect();
    let n_usize = n as usize;
    let alarm_if = |breaching: usize| {
        if breaching >= m as usize {
            StateValue::Alarm
        } else {
            StateValue::Ok
        }
    };
    if real.is_empty() {
        let state = match treat {
            TreatMissingData::Missing => Some(StateValue::InsufficientData),
            TreatMissingData::Ignore => None,
            TreatMissingData::Breaching => Some(StateValue::Alarm),
            TreatMissingData::NotBreaching => Some(StateValue::Ok),
        };
        let filled = if matches!(
            treat,
            TreatMissingData::Breaching | TreatMissingData::NotBreaching
        ) {
            n
        } else {
            0
        };
        return Decision {
            state,
            evaluated: Vec::new(),
            filled,
        };
    }
    if real.len() >= n_usize {
        let evaluated: Vec<Point> = real.iter().rev().take(n_usize).map(|(_, p)| *p).collect();
        let breaching = evaluated.iter().filter(|p| p.breaching).count();
        return Decision {
            state: Some(alarm_if(breaching)),
            evaluated,
            filled: 0,
        };
    }
    let evaluated: Vec<Point> = real.iter().rev().map(|(_, p)| *p).collect();
    let breaching = evaluated.iter().filter(|p| p.breaching).count();
    let to_fill = n_usize - real.len();
    match treat {
        TreatMissingData::Breaching => Decision {
            state: Some(alarm_if(breaching + to_fill)),
            evaluated,
            filled: to_fill as u32,
        },
        TreatMissingData::NotBreaching => Decision {
            state: Some(alarm_if(breaching)),
            evaluated,
            filled: to_fill as u32,
        },
        TreatMissingData::Missing | TreatMissingData::Ignore => {
            let keep_or = |s: StateValue| {
                if treat == TreatMissingData::Missing {
                    Some(s)
                } else {
                    None
                }
            };
            let state = if breaching >= m as usize {
                Some(StateValue::Alarm)
            } else if evaluated.iter().any(|p| !p.breaching) {
                Some(StateValue::Ok)
            } else {
                // Only breaching points: the premature-transition rule. Age counts the newest
                // slot as 1.
                let oldest = real.iter().find(|(_, p)| p.breaching).map_or(0, |(i, _)| *i);
                let age = slots.len() - oldest;
                if age >= m as usize {
                    keep_or(StateValue::Alarm)
                } else {
                    keep_or(StateValue::InsufficientData)
                }
            };
            Decision {
                state,
                evaluated,
                filled: 0,
            }
        }
    }
}

/// The metrics an alarm reads, with the statistic and unit of each: for a single-metric alarm
/// one, for metric math every MetricStat query (by id).
struct RangeGrid {
    first_start_ms: i64,
    period_ms: i64,
    slots: usize,
}

fn series_for(
    grid: &RangeGrid,
    source: &dyn MetricSource,
    namespace: &str,
    metric: &str,
    dimensions: &[super::model::Dimension],
    unit: Option<&str>,
) -> Vec<Option<Bucket>> {
    let mut dims: Vec<(String, String)> = dimensions
        .iter()
        .map(|d| (d.name.clone(), d.value.clone()))
        .collect();
    dims.sort();
    let end = grid.first_start_ms + grid.period_ms * grid.slots as i64;
    let samples = source.samples(namespace, metric, &dims, grid.first_start_ms, end);
    statistics::buckets(&samples, unit, grid.period_ms, grid.first_start_ms, grid.slots)
}

struct MathScope<'a> {
    queries: &'a [MetricDataQuery],
    metric_series: HashMap<&'a str, Vec<Option<f64>>>,
    slots: usize,
    depth: std::cell::Cell<usize>,
}

impl Scope for MathScope<'_> {
    fn series(&self, id: &str) -> Option<Vec<Option<f64>>> {
        if let Some(s) = self.metric_series.get(id) {
            return Some(s.clone());
        }
        let q = self.queries.iter().find(|q| q.id == id)?;
        let expr = q.parsed.as_ref()?;
        // Checking refuses cycles; the depth guard keeps a hand-built rule from recursing forever.
        if self.depth.get() > self.queries.len() {
            return None;
        }
        self.depth.set(self.depth.get() + 1);
        let value = math::evaluate(expr, self);
        self.depth.set(self.depth.get() - 1);
        Some(match value {
            math::Value::Series(s) => s,
            math::Value::Scalar(x) => vec![x.is_finite().then_some(x); self.slots],
            math::Value::Array(_) => vec![None; self.slots],
        })
    }

    fn metrics(&self, prefix: &str) -> Vec<Vec<Option<f64>>> {
        self.queries
            .iter()
            .filter(|q| q.metric_stat.is_some() && q.id.starts_with(prefix))
            .filter_map(|q| self.metric_series.get(q.id.as_str()).cloned())
            .collect()
    }

    fn slots(&self) -> usize {
        self.slots
    }
}

/// One evaluation of a metric alarm: `Some((state, reason, reason data))` when the procedure
/// decides a state, `None` when it keeps the current one.
fn evaluate_metric_alarm(
    alarm: &MetricAlarm,
    settings: &Settings,
    now_ms: i64,
    source: &dyn MetricSource,
    current: StateValue,
) -> Option<(StateValue, String, String)> {
    let period_ms = i64::from(alarm.period_secs()) * 1000;
    let n = alarm.evaluation_periods;
    let range = settings.range_for(n) as usize;
    let end = now_ms - settings.completion_delay_ms;
    let last_start = end.div_euclid(period_ms) * period_ms - period_ms;
    let grid = RangeGrid {
        first_start_ms: last_start - period_ms * (range as i64 - 1),
        period_ms,
        slots: range,
    };
    let dynamodb = alarm.namespace.as_deref() == Some("AWS/DynamoDB")
        || alarm.metrics.iter().any(|q| {
            q.metric_stat
                .as_ref()
                .is_some_and(|s| s.namespace == "AWS/DynamoDB")
        });
    // Alarms on AWS/DynamoDB metrics always behave as `ignore` (research §1.2).
    let treat = if dynamodb {
        TreatMissingData::Ignore
    } else {
        alarm.treat_missing_data_or_default()
    };
    let mut low_sample = vec![false; range];
    let values: Vec<Option<(f64, Option<f64>)>> = if alarm.metrics.is_empty() {
        let stat = alarm.stat()?;
        let buckets = series_for(
            &grid,
            source,
            alarm.namespace.as_deref().unwrap_or_default(),
            alarm.metric_name.as_deref().unwrap_or_default(),
            &alarm.dimensions,
            alarm.unit.as_deref(),
        );
        buckets
            .iter()
            .enumerate()
            .map(|(i, b)| {
                let b = b.as_ref()?;
                if let Stat::Percentile(p) = stat {
                    low_sample[i] = statistics::low_sample_count(p, b.sample_count);
                }
                Some((b.value(stat)?, Some(b.sample_count)))
            })
            .collect()
    } else {
        let mut metric_series = HashMap::new();
        for q in &alarm.metrics {
            let Some(s) = &q.metric_stat else { continue };
            let Some(stat) = Stat::parse(&s.stat) else {
                continue;
            };
            let buckets = series_for(
                &grid,
                source,
                &s.namespace,
                &s.metric_name,
                &s.dimensions,
                s.unit.as_deref(),
            );
            metric_series.insert(
                q.id.as_str(),
                buckets
                    .iter()
                    .map(|b| b.as_ref().and_then(|b| b.value(stat)))
                    .collect::<Vec<_>>(),
            );
        }
        let scope = MathScope {
            queries: &alarm.metrics,
            metric_series,
            slots: range,
            depth: std::cell::Cell::new(0),
        };
        let returned = alarm.returned_query()?;
        let series = scope.series(&returned.id).unwrap_or_else(|| vec![None; range]);
        series.into_iter().map(|v| v.map(|v| (v, None))).collect()
    };
    let slots: Vec<Option<Point>> = values
        .iter()
        .enumerate()
        .map(|(i, v)| {
            v.map(|(value, sample_count)| Point {
                timestamp_ms: grid.first_start_ms + period_ms * i as i64,
                value,
                breaching: alarm.comparison_operator.breaches(value, alarm.threshold),
                sample_count,
            })
        })
        .collect();
    let decision = decide(&slots, n, alarm.datapoints_to_alarm_or_default(), treat);
    let mut new = decision.state?;
    // EvaluateLowSampleCountPercentile=ignore: no change while a period evaluated has too few
    // samples for its percentile.
    if alarm.evaluate_low_sample_count_percentile == Some(LowSampleCount::Ignore) {
        let low = decision.evaluated.iter().any(|p| {
            let i = ((p.timestamp_ms - grid.first_start_ms) / period_ms) as usize;
            low_sample.get(i).copied().unwrap_or(false)
        });
        if low {
            new = current;
        }
    }
    let outcome = Outcome {
        evaluated: decision.evaluated,
        range_points: slots.iter().flatten().copied().collect(),
        range_start_ms: grid.first_start_ms,
        filled: decision.filled,
    };
    let reason = reason::state_reason(alarm, treat, &outcome, current, new);
    let data = reason::state_reason_data(alarm, &outcome, now_ms);
    Some((new, reason, data))
}

/// Replays `source` from `from_ms` to `to_ms` (inclusive): a fresh evaluator ticks at each
/// due time; returns every change of state in order.
pub fn replay(
    rules: &Rules,
    source: &dyn MetricSource,
    from_ms: i64,
    to_ms: i64,
    settings: &Settings,
) -> Vec<TimelineEntry> {
    replay_transitions(rules, source, from_ms, to_ms, settings)
        .iter()
        .map(TimelineEntry::from)
        .collect()
}

/// The state changes of a replay, as the evaluator produces them (for their notifications).
pub fn replay_transitions(
    rules: &Rules,
    source: &dyn MetricSource,
    from_ms: i64,
    to_ms: i64,
    settings: &Settings,
) -> Vec<Transition> {
    let mut evaluator = Evaluator::new(rules.clone(), settings.clone());
    let mut transitions = Vec::new();
    let mut now = from_ms;
    while now <= to_ms {
        transitions.extend(evaluator.evaluate(now, source));
        let next = evaluator.next_evaluation_ms().unwrap_or(now + 60_000);
        now = next.max(now + 1);
    }
    transitions
}
