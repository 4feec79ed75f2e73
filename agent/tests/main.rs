//! The agent's integration tests, in one test binary (one link of the AWS SDK instead of one per
//! file): config reading (the traces section too), datums, procfs counters, memory, diskio's NVMe
//! metrics, parser robustness, the portable source and the tailer's model test.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::float_cmp)]

mod config;
mod config_traces;
mod datums;
mod host_counters;
mod memory;
mod nvme;
mod parsers_never_panic;
mod portable;
mod tailer_model;
