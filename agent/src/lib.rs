//! The skywatch agent: a daemon that collects host metrics CloudWatch cannot see from outside
//! (memory, swap, cpu, disk, net) and tails log files, shipping both to CloudWatch or to the local
//! store.
//!
//! Design decision: delivery is acknowledgement-driven. Sources hand out positions with each event,
//! sinks acknowledge only what the backend accepted, and checkpoints advance over acknowledged data
//! only, so a crash duplicates at most what was in flight and never loses a line.
//!
//! Parts: the configuration ([`config`]: our TOML and the CloudWatch agent's JSON), the host
//! metrics sources and EMF ([`metrics`]), the log pipeline ([`logs`]: tailer → events → batches →
//! outbox/spool → delivery, acknowledgements back to checkpoints), the sinks ([`sinks`]:
//! PutMetricData, PutLogEvents, the local stores) and the daemon that runs them ([`daemon`]).

pub mod config;
pub mod daemon;
pub mod journal;
pub mod logs;
pub mod metrics;
pub mod placeholders;
pub mod request_split;
pub mod sinks;
pub mod telemetry;

// The facade the `skywatch` binary uses.
pub use config::{load as load_config, to_toml, Format as ConfigFormat, Loaded};
pub use daemon::{hostname, run, AgentError, Options, Outcome, ReadyHook};
