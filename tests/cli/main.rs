//! The two binaries driven as a user drives them: arguments in, exit status and output out.
//! One test binary, one module per binary.

// Test code: a failed unwrap is a failed test, with its message.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod agent;
mod agent_alarms;
mod agent_journald;
mod agent_logs;
mod agent_silent_paths;
mod agent_traces;
mod alarms;
mod collector;
mod dashboard;
mod logq;
mod package;
mod running_agent;
mod skywatch;
mod systemd_protocol;
mod up;
mod walkthrough;
mod web_page;
