//! Where datums and log events go: CloudWatch (PutMetricData), CloudWatch Logs
//! (PutLogEvents), or the local store on disk.

pub mod buffer;
pub mod cloudwatch;
pub mod cloudwatch_logs;
pub mod local_store;

use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_runtime_api::http::Response as HttpResponse;
use aws_smithy_types::error::display::DisplayErrorContext;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;

/// Why a request did not go through.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SendError {
    /// Worth retrying: throttled, a server error, a network failure or a timeout.
    Retry { kind: String, message: String },
    /// The service refused the request; retrying the same data cannot succeed.
    Rejected { kind: String, message: String },
}

impl SendError {
    /// A short name for counting errors by kind (`Throttling`, `http_503`, `network`…).
    pub fn kind(&self) -> &str {
        match self {
            SendError::Retry { kind, .. } | SendError::Rejected { kind, .. } => kind,
        }
    }
}

impl std::fmt::Display for SendError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SendError::Retry { kind, message } => write!(f, "{kind} (will retry): {message}"),
            SendError::Rejected { kind, message } => write!(f, "{kind} (rejected): {message}"),
        }
    }
}

/// Sorts an SDK error into retry or rejected (same rules for every AWS API the agent calls).
pub(crate) fn classify<E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static>(
    error: &SdkError<E, HttpResponse>,
) -> SendError {
    let retry = |kind: &str, message: String| SendError::Retry {
        kind: kind.to_string(),
        message,
    };
    match error {
        SdkError::TimeoutError(_) => retry("timeout", "the request timed out".into()),
        SdkError::DispatchFailure(_) => retry("network", DisplayErrorContext(error).to_string()),
        SdkError::ResponseError(_) => retry("bad_response", DisplayErrorContext(error).to_string()),
        SdkError::ServiceError(context) => {
            let status = context.raw().status().as_u16();
            let code = context.err().code().unwrap_or("").to_string();
            let message = context.err().message().unwrap_or("").to_string();
            let throttled = status == 429
                || code.contains("Throttl")
                || code.contains("LimitExceeded")
                || code == "RequestLimitExceeded";
            if throttled || status >= 500 || code == "InternalServiceFault" || code == "ServiceUnavailable" {
                let kind = if code.is_empty() {
                    format!("http_{status}")
                } else {
                    code
                };
                SendError::Retry { kind, message }
            } else {
                let kind = if code.is_empty() {
                    format!("http_{status}")
                } else {
                    code
                };
                SendError::Rejected { kind, message }
            }
        }
        // Building the request failed (no credentials, no region...): the next attempt may
        // succeed once the environment is fixed, so the data waits.
        _ => retry("request", DisplayErrorContext(error).to_string()),
    }
}
