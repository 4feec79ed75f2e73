//! skywatch dashboards and alarms as code: CloudWatch dashboard bodies and alarm rules rendered,
//! pushed, generated from a service map, and evaluated locally with CloudWatch's semantics.
//!
//! Design decision: the model is ours and renders to CloudWatch's JSON, so the same definition can
//! be pushed to AWS or evaluated against the agent's local metrics store.
//!
//! Not built yet: see the open issues.
pub mod dashboard;

pub mod alarms;
