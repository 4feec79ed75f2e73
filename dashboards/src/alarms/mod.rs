//! Alarms as code: rule files (our TOML, or PutMetricAlarm CLI-input JSON) checked all at once,
//! and a local evaluator that reproduces CloudWatch's alarm semantics on the agent's metrics or
//! on a replayed datapoints file, producing the state changes and the messages CloudWatch would
//! publish.
//!
//! Design decision: everything here is synchronous and free of AWS calls. Pushing rules,
//! publishing to SNS (with its durable outbox) and the daemon's clock live at the edge, on top
//! of [`evaluate::Evaluator`], [`notify::sns_notification`] and [`put_json`]. The evaluation
//! follows the research notes' decision procedure (research §1.5), which reproduces all 44
//! cells of the two documented missing-data tables; where AWS's documentation is silent, the
//! choice is written down in docs/alarms.md.

pub mod daemon;
pub mod evaluate;
pub mod limits;
pub mod load;
pub mod math;
pub mod model;
pub mod notify;
pub mod publish;
pub mod push;
pub mod put_json;
pub mod reason;
pub mod rule;
pub mod source;
pub mod statistics;
pub mod syntax;

pub use evaluate::{replay, replay_transitions, Evaluator, Settings, Snapshot, TimelineEntry, Transition};
pub use load::{parse_json, parse_rules, parse_toml, CheckError, Problem};
pub use model::{Alarm, CompositeAlarm, MetricAlarm, Rules, StateValue};
pub use notify::{eventbridge_event, sns_notification, Notification};
pub use put_json::{to_put_composite_alarm_json, to_put_metric_alarm_json};
pub use source::{DatapointsFile, MetricSource, StoreSource};
pub use statistics::{Sample, SampleKind};
