//! Workspace end-to-end tests: one test binary (each extra binary links the AWS SDK again), one
//! module per area.

// Test code: a failed unwrap is a failed test, with its message.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod agent_logs_sink;
mod fault_proxy;
mod logq_remote;
mod logs_smoke;
mod moto_harness;
