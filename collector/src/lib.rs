//! The skywatch collector: a drop-in for the AWS X-Ray daemon (UDP/TCP 2000) that also accepts OTLP,
//! forwards to X-Ray without silent loss, and assembles traces and service maps locally.
//!
//! Design decision: everything received is kept locally first, so the read API and web page work
//! with no AWS credentials; forwarding to X-Ray is an exporter on top of that store.
//!
//! Built so far: the daemon protocol's datagram and segment document decoders ([`datagram`],
//! [`segment`]) and the service graph ([`service_graph`]); the receiver, store, read API and
//! forwarding are the open issue's.

pub mod datagram;
pub mod segment;
pub mod service_graph;
