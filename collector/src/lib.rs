//! The skywatch collector: a drop-in for the AWS X-Ray daemon (UDP/TCP 2000) that also accepts OTLP,
//! forwards to X-Ray without silent loss, and assembles traces and service maps locally.
//!
//! Design decision: everything received is kept locally first, so the read API and web page work
//! with no AWS credentials; forwarding to X-Ray is an exporter on top of that store.

pub mod config;
pub mod datagram;
pub mod filter;
pub mod forward;
pub mod ingest;
pub mod otlp;
pub mod part;
pub mod quick_check;
pub mod routes;
pub mod sampling;
pub mod sampling_proxy;
pub mod segment;
pub mod service_graph;
pub mod servicemap;
pub mod store;
pub mod telemetry;
pub mod trace;
pub mod trace_metrics;
pub mod udp;
pub mod web;
pub mod web_api;
pub mod xray_api;
