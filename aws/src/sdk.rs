//! The AWS SDK configuration every part shares: the SDK's standard chains for region and
//! credentials (with instance-metadata lookups kept short, so a part off EC2 starts at once),
//! `AWS_ENDPOINT_URL` honoured, attempt timeouts, and the SDK's own retries off for senders that
//! retry with their own backoff and count every failure by kind ([`Retries::Ours`]), or on for
//! one-off interactive calls ([`Retries::Standard`], logq's CloudWatch mode).

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

/// Who retries a failed call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Retries {
    /// The caller: the SDK makes one attempt and the caller retries with its own backoff,
    /// counting every failure (the agent's and the collector's senders).
    #[default]
    Ours,
    /// The SDK's standard retry policy (interactive one-off calls).
    Standard,
}

/// What a part knows before asking the SDK.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SdkSettings {
    /// The region the user configured, tried first.
    pub region: Option<String>,
    /// The instance's region from its metadata, tried after the environment and profile.
    pub instance_region: Option<String>,
    /// Without `instance_region`, ask the instance metadata for the region last (with the
    /// short client: about a second off EC2). For callers that did not look the instance up.
    pub region_from_imds: bool,
    /// Use the services' dual-stack (IPv4 and IPv6) endpoints.
    pub dual_stack: bool,
    /// A role to assume through STS with the chain's credentials; its credentials are
    /// refreshed before they expire.
    pub role_arn: Option<String>,
    pub retries: Retries,
}

/// The shared SDK configuration. The region: the configured one, else the SDK's chain
/// (environment, profile), else the instance's.
pub async fn sdk_config(settings: SdkSettings) -> SdkConfig {
    let SdkSettings {
        region,
        instance_region,
        region_from_imds,
        dual_stack,
        role_arn,
        retries,
    } = settings;
    let mut chain = RegionProviderChain::first_try(region.map(Region::new))
        .or_else(aws_config::environment::EnvironmentVariableRegionProvider::new())
        .or_else(aws_config::profile::ProfileFileRegionProvider::new());
    if instance_region.is_some() {
        chain = chain.or_else(instance_region.map(Region::new));
    } else if region_from_imds {
        chain = chain.or_else(
            aws_config::imds::region::ImdsRegionProvider::builder()
                .imds_client(imds_client())
                .build(),
        );
    }
    let retry_config = match retries {
        Retries::Ours => RetryConfig::disabled(),
        Retries::Standard => RetryConfig::standard(),
    };
    let credentials = aws_config::default_provider::credentials::DefaultCredentialsChain::builder()
        .imds_client(imds_client())
        .build()
        .await;
    let config = aws_config::defaults(BehaviorVersion::latest())
        .region(chain)
        .credentials_provider(credentials)
        .retry_config(retry_config)
        .use_dual_stack(dual_stack)
        .timeout_config(
            TimeoutConfig::builder()
                .connect_timeout(CONNECT_TIMEOUT)
                .operation_attempt_timeout(ATTEMPT_TIMEOUT)
                .build(),
        )
        .load()
        .await;
    let Some(role_arn) = role_arn else {
        return config;
    };
    let assumed = aws_config::sts::AssumeRoleProvider::builder(role_arn)
        .session_name("skywatch")
        .configure(&config)
        .build()
        .await;
    config
        .into_builder()
        .credentials_provider(aws_credential_types::provider::SharedCredentialsProvider::new(
            assumed,
        ))
        .build()
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
