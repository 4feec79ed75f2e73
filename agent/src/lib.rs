//! The skywatch agent: a daemon that collects host metrics CloudWatch cannot see from outside
//! (memory, swap, cpu, disk, net) and tails log files, shipping both to CloudWatch or to the local
//! store.
//!
//! Design decision: delivery is acknowledgement-driven. Sources hand out positions with each event,
//! sinks acknowledge only what the backend accepted, and checkpoints advance over acknowledged data
//! only, so a crash duplicates at most what was in flight and never loses a line.
//!
//! Built so far: the memory and swap source ([`metrics::read_memory`]). Not built yet: the rest
//! of the metrics pipeline and the log pipeline (see the open issues).

pub mod metrics;
