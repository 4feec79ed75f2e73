//! The logq engine: CloudWatch Logs Insights queries over local files.

pub mod value;
