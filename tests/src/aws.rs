//! SDK configuration for tests: an endpoint (moto, or a fault proxy in front of it), a fixed region
//! and dummy static credentials. moto routes requests by the SigV4 credential scope, so requests must
//! be signed, but the keys themselves are never checked.

pub use aws_config::SdkConfig;
use aws_config::{BehaviorVersion, Region};
use aws_credential_types::Credentials;

/// The region every test uses.
pub const REGION: &str = "us-east-1";
/// moto's default account id, which appears in the ARNs it returns.
pub const ACCOUNT_ID: &str = "123456789012";

/// An SDK configuration whose every service client sends to `endpoint_url`.
pub async fn sdk_config(endpoint_url: &str) -> SdkConfig {
    aws_config::defaults(BehaviorVersion::latest())
        .endpoint_url(endpoint_url)
        .region(Region::new(REGION))
        .credentials_provider(Credentials::new("test", "test", None, None, "skywatch-tests"))
        .load()
        .await
}

/// The environment a child process (our binaries, the aws CLI, boto3) needs to reach `endpoint_url`
/// through its standard credential and endpoint chain, with IMDS turned off so nothing waits for an
/// instance metadata service that is not there.
pub fn env_vars(endpoint_url: &str) -> Vec<(&'static str, String)> {
    vec![
        ("AWS_ENDPOINT_URL", endpoint_url.to_string()),
        ("AWS_REGION", REGION.to_string()),
        ("AWS_DEFAULT_REGION", REGION.to_string()),
        ("AWS_ACCESS_KEY_ID", "test".to_string()),
        ("AWS_SECRET_ACCESS_KEY", "test".to_string()),
        ("AWS_EC2_METADATA_DISABLED", "true".to_string()),
    ]
}
