//! The AWS SDK configuration the agent's sinks share: the SDK's standard chains for region and
//! credentials (with instance-metadata lookups kept short, so an agent off EC2 starts at once),
//! `AWS_ENDPOINT_URL` honoured, and the SDK's own retries off — the sinks retry with their own
//! backoff, and count every failure by kind.

use std::time::Duration;

use aws_config::meta::region::RegionProviderChain;
use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_credential_types::provider::ProvideCredentials as _;

/// How long one API attempt may take before it counts as a network failure.
const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(10);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);

/// A client for the instance metadata service that gives up fast off EC2.
pub fn imds_client() -> aws_config::imds::Client {
    aws_config::imds::Client::builder()
        .max_attempts(1)
        .connect_timeout(Duration::from_millis(500))
        .read_timeout(Duration::from_secs(1))
        .build()
}

/// The shared SDK configuration. `region`: from the agent's config, else the instance's, else
/// the SDK's chain (environment, profile).
pub async fn sdk_config(region: Option<String>, instance_region: Option<String>) -> SdkConfig {
    let chain = RegionProviderChain::first_try(region.map(Region::new))
        .or_else(aws_config::environment::EnvironmentVariableRegionProvider::new())
        .or_else(aws_config::profile::ProfileFileRegionProvider::new())
        .or_else(instance_region.map(Region::new));
    let credentials = aws_config::default_provider::credentials::DefaultCredentialsChain::builder()
        .imds_client(imds_client())
        .build()
        .await;
    aws_config::defaults(BehaviorVersion::latest())
        .region(chain)
        .credentials_provider(credentials)
        .retry_config(RetryConfig::disabled())
        .timeout_config(
            TimeoutConfig::builder()
                .connect_timeout(CONNECT_TIMEOUT)
                .operation_attempt_timeout(ATTEMPT_TIMEOUT)
                .build(),
        )
        .load()
        .await
}

/// Whether the configuration can reach AWS: a region and credentials that resolve.
pub async fn can_reach_aws(config: &SdkConfig) -> Result<(), String> {
    if config.region().is_none() {
        return Err("no AWS region (set agent.region, AWS_REGION or a profile)".into());
    }
    let Some(provider) = config.credentials_provider() else {
        return Err("no AWS credentials provider".into());
    };
    match tokio::time::timeout(Duration::from_secs(3), provider.provide_credentials()).await {
        Ok(Ok(_)) => Ok(()),
        Ok(Err(e)) => Err(format!("no AWS credentials: {e}")),
        Err(_) => Err("no AWS credentials (the lookup timed out)".into()),
    }
}
