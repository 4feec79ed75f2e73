//! PutMetricData: one request per call, errors sorted into "retry" (throttling, 5xx, network,
//! timeouts) and "rejected" (the service refused the data itself: retrying cannot help).

use aws_sdk_cloudwatch::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_cloudwatch::primitives::DateTime;
use aws_sdk_cloudwatch::types::{Dimension, MetricDatum, StandardUnit};
use aws_sdk_cloudwatch::Client;

use super::buffer::OutDatum;

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

/// Sends datums to one namespace.
#[derive(Debug, Clone)]
pub struct CloudWatchSink {
    client: Client,
    namespace: String,
}

impl CloudWatchSink {
    pub fn new(
        config: &aws_config::SdkConfig,
        namespace: &str,
        endpoint_override: Option<&str>,
    ) -> CloudWatchSink {
        let mut builder = aws_sdk_cloudwatch::config::Builder::from(config);
        if let Some(url) = endpoint_override {
            builder = builder.endpoint_url(url);
        }
        CloudWatchSink {
            client: Client::from_conf(builder.build()),
            namespace: namespace.to_string(),
        }
    }

    pub fn namespace(&self) -> &str {
        &self.namespace
    }

    /// Sends one request's datums.
    pub async fn put(&self, datums: &[OutDatum]) -> Result<(), SendError> {
        let data: Vec<MetricDatum> = datums.iter().map(metric_datum).collect();
        match self
            .client
            .put_metric_data()
            .namespace(&self.namespace)
            .set_metric_data(Some(data))
            .send()
            .await
        {
            Ok(_) => Ok(()),
            Err(e) => Err(classify(&e)),
        }
    }
}

fn metric_datum(d: &OutDatum) -> MetricDatum {
    let dimensions = d
        .dimensions
        .iter()
        .map(|(name, value)| Dimension::builder().name(name).value(value).build())
        .collect();
    let builder = MetricDatum::builder()
        .metric_name(&d.name)
        .set_dimensions(Some(dimensions))
        .timestamp(DateTime::from_millis(d.timestamp_ms))
        .unit(StandardUnit::from(d.unit.as_str()))
        .storage_resolution(d.storage_resolution);
    match d.values.as_slice() {
        [(value, count)] if (*count - 1.0).abs() < f64::EPSILON => builder.value(*value).build(),
        values => builder
            .set_values(Some(values.iter().map(|(v, _)| *v).collect()))
            .set_counts(Some(values.iter().map(|(_, n)| *n).collect()))
            .build(),
    }
}

fn classify<E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static>(
    error: &SdkError<E, aws_sdk_cloudwatch::config::http::HttpResponse>,
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
