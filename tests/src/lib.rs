//! The shared test harness, and (under `tests/`) the workspace's end-to-end tests.
//!
//! Design decision: tests talk to real parts. AWS is `moto_server`, started on a free loopback port
//! and reached through the real Rust SDK; failures are injected by a TCP proxy between the client and
//! moto rather than by mocking the client. Every crate can use this library from its own tests.
//!
//! - [`moto`]: start `moto_server`, wait for it with a deadline, stop it on drop, show its log when a
//!   test fails.
//! - [`fault_proxy`]: a TCP proxy that refuses, hangs, delays or answers with HTTP errors on command.
//! - [`imds`]: a stand-in for the EC2 instance metadata service (IMDSv2).
//! - [`aws`]: SDK configuration and environment pointed at an endpoint, with dummy credentials.
//! - [`log_groups`]: log groups holding known events.
//! - [`names`]: unique resource names, so tests can share one server.
//! - [`poll`]: wait for a condition with a deadline instead of sleeping and hoping.

pub mod aws;
pub mod fault_proxy;
pub mod imds;
pub mod log_groups;
pub mod moto;
pub mod names;
pub mod poll;

pub use aws_sdk_cloudwatch as cloudwatch;
pub use aws_sdk_cloudwatchlogs as logs;
pub use aws_sdk_sns as sns;
pub use aws_sdk_sqs as sqs;
pub use aws_sdk_xray as xray;
