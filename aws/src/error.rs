//! How a failed AWS call is classed, the same way for every API and every part: throttled,
//! a server error, a network failure (timeouts included), an authentication or permission
//! problem, or final (the service refused this request and would refuse it again).
//!
//! [`SendError`] carries the class with the service's error code (`kind`, for counting) and its
//! message. `Retry` holds what is worth retrying as it is; `Rejected` what retrying the same
//! request cannot fix by itself — a sender that must not lose data (the log shipper) may still
//! wait out an auth problem, since credentials get fixed.

use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_runtime_api::http::Response as HttpResponse;
use aws_smithy_types::error::display::DisplayErrorContext;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;

/// What kind of failure a call met.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ErrorClass {
    /// The service asked us to slow down (HTTP 429, `Throttling*`, `*LimitExceeded`).
    Throttled,
    /// A 5xx, or the service saying it is unavailable.
    Server,
    /// No answer: connection refused or reset, a timeout, an unreadable response.
    Network,
    /// Credentials missing, expired or not allowed (also: the request could not be built, as
    /// without credentials or a region).
    Auth,
    /// The service refused the request itself; the same request fails again.
    Final,
}

impl ErrorClass {
    /// Whether the same request may succeed later without anyone changing anything.
    pub fn is_transient(self) -> bool {
        matches!(
            self,
            ErrorClass::Throttled | ErrorClass::Server | ErrorClass::Network
        )
    }

    pub fn name(self) -> &'static str {
        match self {
            ErrorClass::Throttled => "throttled",
            ErrorClass::Server => "server",
            ErrorClass::Network => "network",
            ErrorClass::Auth => "auth",
            ErrorClass::Final => "final",
        }
    }
}

/// Why a request did not go through.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SendError {
    /// Worth retrying: throttled, a server error, a network failure or a timeout (or a request
    /// that could not be built yet, class [`ErrorClass::Auth`]).
    Retry {
        class: ErrorClass,
        kind: String,
        message: String,
    },
    /// The service refused the request; retrying the same data cannot succeed by itself.
    Rejected {
        class: ErrorClass,
        kind: String,
        message: String,
    },
}

impl SendError {
    /// A failure worth retrying, of a kind our own code names (`store_error`, …).
    pub fn retry(class: ErrorClass, kind: impl Into<String>, message: impl Into<String>) -> SendError {
        SendError::Retry {
            class,
            kind: kind.into(),
            message: message.into(),
        }
    }

    /// A short name for counting errors by kind (`Throttling`, `http_503`, `network`…).
    pub fn kind(&self) -> &str {
        match self {
            SendError::Retry { kind, .. } | SendError::Rejected { kind, .. } => kind,
        }
    }

    pub fn class(&self) -> ErrorClass {
        match self {
            SendError::Retry { class, .. } | SendError::Rejected { class, .. } => *class,
        }
    }

    pub fn message(&self) -> &str {
        match self {
            SendError::Retry { message, .. } | SendError::Rejected { message, .. } => message,
        }
    }
}

impl std::fmt::Display for SendError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SendError::Retry { kind, message, .. } => write!(f, "{kind} (will retry): {message}"),
            SendError::Rejected { kind, message, .. } => write!(f, "{kind} (rejected): {message}"),
        }
    }
}

impl std::error::Error for SendError {}

/// Error codes that mean the caller's credentials or permissions are wrong.
const AUTH_CODES: &[&str] = &[
    "AccessDenied",
    "AccessDeniedException",
    "UnrecognizedClientException",
    "InvalidClientTokenId",
    "ExpiredToken",
    "ExpiredTokenException",
    "MissingAuthenticationToken",
    "IncompleteSignature",
    "InvalidSignatureException",
    "SignatureDoesNotMatch",
    "NotAuthorized",
    "UnauthorizedOperation",
];

/// The class of a service's answer, from its HTTP status and error code.
pub fn class_of(status: u16, code: &str) -> ErrorClass {
    let throttled = status == 429
        || code.contains("Throttl")
        || code.contains("LimitExceeded")
        || code == "RequestLimitExceeded";
    if throttled {
        ErrorClass::Throttled
    } else if status >= 500 || code == "InternalServiceFault" || code == "ServiceUnavailable" {
        ErrorClass::Server
    } else if status == 401 || status == 403 || AUTH_CODES.contains(&code) {
        ErrorClass::Auth
    } else {
        ErrorClass::Final
    }
}

/// Sorts an SDK error into retry or rejected (same rules for every AWS API skywatch calls).
pub fn classify<E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static>(
    error: &SdkError<E, HttpResponse>,
) -> SendError {
    let retry = |class: ErrorClass, kind: &str, message: String| SendError::Retry {
        class,
        kind: kind.to_string(),
        message,
    };
    match error {
        SdkError::TimeoutError(_) => retry(ErrorClass::Network, "timeout", "the request timed out".into()),
        SdkError::DispatchFailure(_) => retry(
            ErrorClass::Network,
            "network",
            DisplayErrorContext(error).to_string(),
        ),
        SdkError::ResponseError(_) => retry(
            ErrorClass::Network,
            "bad_response",
            DisplayErrorContext(error).to_string(),
        ),
        SdkError::ServiceError(context) => {
            let status = context.raw().status().as_u16();
            let code = context.err().code().unwrap_or("").to_string();
            let message = context.err().message().unwrap_or("").to_string();
            let class = class_of(status, &code);
            let kind = if code.is_empty() {
                format!("http_{status}")
            } else {
                code
            };
            if class.is_transient() {
                SendError::Retry { class, kind, message }
            } else {
                SendError::Rejected { class, kind, message }
            }
        }
        // Building the request failed (no credentials, no region...): the next attempt may
        // succeed once the environment is fixed, so the data waits.
        _ => retry(
            ErrorClass::Auth,
            "request",
            DisplayErrorContext(error).to_string(),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::{class_of, ErrorClass};

    #[test]
    fn answers_are_classed_by_status_and_code() {
        assert_eq!(class_of(400, "ThrottlingException"), ErrorClass::Throttled);
        assert_eq!(class_of(400, "RequestLimitExceeded"), ErrorClass::Throttled);
        assert_eq!(class_of(429, ""), ErrorClass::Throttled);
        assert_eq!(class_of(503, "ServiceUnavailable"), ErrorClass::Server);
        assert_eq!(class_of(500, ""), ErrorClass::Server);
        assert_eq!(class_of(400, "UnrecognizedClientException"), ErrorClass::Auth);
        assert_eq!(class_of(403, ""), ErrorClass::Auth);
        assert_eq!(class_of(400, "InvalidParameterException"), ErrorClass::Final);
        assert_eq!(class_of(404, "ResourceNotFoundException"), ErrorClass::Final);
    }
}
