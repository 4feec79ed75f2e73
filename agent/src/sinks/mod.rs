//! Where datums go: CloudWatch (PutMetricData) or the local store on disk.

pub mod buffer;
pub mod cloudwatch;
pub mod local_store;
