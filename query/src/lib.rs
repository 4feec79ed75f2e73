//! The logq engine: CloudWatch Logs Insights queries over local files.

pub mod diagnostic;
pub mod syntax;
pub mod value;
