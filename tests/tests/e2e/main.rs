//! Workspace end-to-end tests: one test binary (each extra binary links the AWS SDK again), one
//! module per area.

mod fault_proxy;
mod logq_remote;
mod logs_smoke;
mod moto_harness;
