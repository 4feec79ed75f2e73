//! PutDashboard. The body has passed our own checks before it gets here; CloudWatch may still
//! answer with validation messages (warnings on success, errors on rejection), which we hand back
//! as they came.

use aws_sdk_cloudwatch::error::{DisplayErrorContext, ProvideErrorMetadata as _};
use aws_sdk_cloudwatch::operation::put_dashboard::PutDashboardError;
use aws_types::SdkConfig;

/// One of PutDashboard's `DashboardValidationMessages`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValidationMessage {
    pub data_path: String,
    pub message: String,
}

impl std::fmt::Display for ValidationMessage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.data_path, self.message)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PushError {
    /// CloudWatch refused the body (`DashboardInvalidInputError`), with its messages.
    Rejected {
        message: String,
        messages: Vec<ValidationMessage>,
    },
    /// The call failed: network, credentials, throttling, a service fault.
    Failed(String),
}

impl std::fmt::Display for PushError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PushError::Rejected { message, messages } => {
                write!(f, "CloudWatch rejected the dashboard: {message}")?;
                for m in messages {
                    write!(f, "\n{m}")?;
                }
                Ok(())
            }
            PushError::Failed(message) => write!(f, "PutDashboard failed: {message}"),
        }
    }
}

impl std::error::Error for PushError {}

fn messages(list: &[aws_sdk_cloudwatch::types::DashboardValidationMessage]) -> Vec<ValidationMessage> {
    list.iter()
        .map(|m| ValidationMessage {
            data_path: m.data_path().unwrap_or_default().to_string(),
            message: m.message().unwrap_or_default().to_string(),
        })
        .collect()
}

/// Creates or replaces dashboard `name` with `body`; the validation messages (warnings) of a
/// successful call.
pub async fn put_dashboard(
    config: &SdkConfig,
    name: &str,
    body: &str,
) -> Result<Vec<ValidationMessage>, PushError> {
    let client = aws_sdk_cloudwatch::Client::new(config);
    match client
        .put_dashboard()
        .dashboard_name(name)
        .dashboard_body(body)
        .send()
        .await
    {
        Ok(out) => Ok(messages(out.dashboard_validation_messages())),
        Err(e) => match e.as_service_error() {
            Some(PutDashboardError::DashboardInvalidInputError(invalid)) => Err(PushError::Rejected {
                message: invalid.message().unwrap_or("invalid dashboard body").to_string(),
                messages: messages(invalid.dashboard_validation_messages()),
            }),
            Some(other) => Err(PushError::Failed(format!(
                "{}: {}",
                other.code().unwrap_or("error"),
                other.message().unwrap_or_default()
            ))),
            None => Err(PushError::Failed(DisplayErrorContext(&e).to_string())),
        },
    }
}
