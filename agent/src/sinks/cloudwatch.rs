//! PutMetricData: one request per call, errors sorted into "retry" (throttling, 5xx, network,
//! timeouts) and "rejected" (the service refused the data itself: retrying cannot help).

use aws_sdk_cloudwatch::primitives::DateTime;
use aws_sdk_cloudwatch::types::{Dimension, MetricDatum, StandardUnit};
use aws_sdk_cloudwatch::Client;

use super::buffer::OutDatum;
use skywatch_aws::{classify, SendError};

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

    /// Sends one request's datums (all of one namespace: the first datum's, else the sink's).
    pub async fn put(&self, datums: &[OutDatum]) -> Result<(), SendError> {
        let data: Vec<MetricDatum> = datums.iter().map(metric_datum).collect();
        let namespace = datums
            .first()
            .map_or(self.namespace.as_str(), |d| d.namespace.as_str());
        match self
            .client
            .put_metric_data()
            .namespace(namespace)
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
