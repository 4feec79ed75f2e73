//! Helpers the alarm tests share.

use skywatch_dashboards::alarms::evaluate::{Evaluator, Settings};
use skywatch_dashboards::alarms::source::MemorySource;
use skywatch_dashboards::alarms::{parse_rules, Rules, Sample, SampleKind, StateValue};

pub const MINUTE_MS: i64 = 60_000;

pub fn rules(text: &str) -> Rules {
    parse_rules(text).unwrap_or_else(|e| panic!("{e}"))
}

pub fn value(timestamp_ms: i64, v: f64) -> Sample {
    Sample {
        timestamp_ms,
        unit: None,
        kind: SampleKind::Value(v),
    }
}

/// A source with one metric `Test/m` (no dimensions) holding `points`.
pub fn source(points: &[(i64, f64)]) -> MemorySource {
    let mut s = MemorySource::new();
    for (t, v) in points {
        s.push("Test", "m", &[], value(*t, *v));
    }
    s
}

/// Sets an alarm's state (and optionally its configuration time) through a snapshot, as a
/// daemon restart would.
pub fn set_state(ev: &mut Evaluator, name: &str, state: StateValue, configured_ms: Option<i64>) {
    let mut snap = ev.snapshot();
    let status = snap.alarms.get_mut(name).unwrap();
    status.state = state;
    status.configuration_updated_ms = configured_ms;
    assert!(ev.restore(&snap));
}

pub fn settings(region: &str, account: &str) -> Settings {
    Settings {
        region: region.into(),
        account_id: account.into(),
        ..Settings::default()
    }
}
