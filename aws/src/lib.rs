//! How every skywatch part reaches AWS: the agent's senders, logq's CloudWatch mode, the
//! collector's X-Ray exporter and the alarm evaluator's SNS notifier.
//!
//! Design decision: one place decides how the SDK is configured (region chain including the
//! instance's own region, a metadata client that gives up fast off EC2, attempt timeouts,
//! `AWS_ENDPOINT_URL`), what the instance is ([`instance`]), how a failed call is classed
//! ([`error`]: throttled, server, network, auth or final — the one rule every sender retries by)
//! and which service limits we keep to ([`limits`], each citing its API page). A part that talks
//! to AWS depends on this crate, never on another part.

pub mod error;
pub mod instance;
pub mod limits;
pub mod sdk;

pub use error::{classify, ErrorClass, SendError};
pub use instance::InstanceFacts;
pub use sdk::{can_reach_aws, imds_client, sdk_config, Retries, SdkSettings};
