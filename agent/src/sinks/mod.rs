//! Where datums and log events go: CloudWatch (PutMetricData), CloudWatch Logs
//! (PutLogEvents), or the local store on disk.

pub mod buffer;
pub mod cloudwatch;
pub mod cloudwatch_logs;
