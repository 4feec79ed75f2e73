//! The alarms core, end to end in-process: rule files → evaluator → transitions → messages.
//! One test binary; the cases and golden files live in tests/alarms/. `BLESS=1` rewrites the
//! golden files from what the code gives now (review the diff).

#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "alarms/check.rs"]
mod check;
#[path = "alarms/common.rs"]
mod common;
#[path = "alarms/evaluation.rs"]
mod evaluation;
#[path = "alarms/fuzz.rs"]
mod fuzz;
#[path = "alarms/messages.rs"]
mod messages;
#[path = "alarms/replay.rs"]
mod replay;
#[path = "alarms/tables.rs"]
mod tables;
