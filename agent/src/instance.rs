//! Facts about the EC2 instance the agent runs on, from the instance metadata service (IMDSv2
//! through the SDK's client): the identity document for `${aws:InstanceId}`, `${aws:ImageId}`,
//! `${aws:InstanceType}` and the region, and the instance's `aws:autoscaling:groupName` tag for
//! `${aws:AutoScalingGroupName}` when instance metadata tags are enabled.
//!
//! Off EC2 the lookup fails within about a second and the agent goes on with the `host`
//! dimension, saying why. (The CloudWatch agent reads the Auto Scaling group through EC2
//! DescribeTags and drops metrics until it has it; we read the metadata tag and never drop.)

use std::time::Duration;

/// What the metadata service says about this instance.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct InstanceFacts {
    pub instance_id: String,
    pub image_id: String,
    pub instance_type: String,
    pub region: String,
    pub private_ip: String,
    pub account_id: String,
    pub auto_scaling_group: Option<String>,
}

/// The longest the whole lookup may take.
const DISCOVERY_TIMEOUT: Duration = Duration::from_millis(1500);

impl InstanceFacts {
    /// The value of a `${aws:…}` placeholder.
    pub fn placeholder(&self, text: &str) -> Option<String> {
        match text {
            "${aws:InstanceId}" => Some(self.instance_id.clone()),
            "${aws:ImageId}" => Some(self.image_id.clone()),
            "${aws:InstanceType}" => Some(self.instance_type.clone()),
            "${aws:AutoScalingGroupName}" => self.auto_scaling_group.clone(),
            _ => None,
        }
    }
}

/// Reads the instance's facts, or says why it could not.
pub async fn discover() -> Result<InstanceFacts, String> {
    if std::env::var("AWS_EC2_METADATA_DISABLED").is_ok_and(|v| v.eq_ignore_ascii_case("true")) {
        return Err("instance metadata is disabled (AWS_EC2_METADATA_DISABLED)".into());
    }
    match tokio::time::timeout(DISCOVERY_TIMEOUT, read_facts()).await {
        Ok(result) => result,
        Err(_) => Err("no answer from the instance metadata service (not on EC2?)".into()),
    }
}

async fn read_facts() -> Result<InstanceFacts, String> {
    let client = crate::aws::imds_client();
    let document = client
        .get("/latest/dynamic/instance-identity/document")
        .await
        .map_err(|e| format!("instance metadata unavailable (not on EC2?): {e}"))?;
    let mut facts = parse_identity_document(document.as_ref())?;
    facts.auto_scaling_group = client
        .get("/latest/meta-data/tags/instance/aws:autoscaling:groupName")
        .await
        .ok()
        .map(|name| name.as_ref().trim().to_string())
        .filter(|name| !name.is_empty());
    Ok(facts)
}

/// The fields of an instance identity document.
pub fn parse_identity_document(text: &str) -> Result<InstanceFacts, String> {
    let doc: serde_json::Value =
        serde_json::from_str(text).map_err(|e| format!("the instance identity document is not JSON: {e}"))?;
    let field = |name: &str| {
        doc.get(name)
            .and_then(|v| v.as_str())
            .unwrap_or_default()
            .to_string()
    };
    let facts = InstanceFacts {
        instance_id: field("instanceId"),
        image_id: field("imageId"),
        instance_type: field("instanceType"),
        region: field("region"),
        private_ip: field("privateIp"),
        account_id: field("accountId"),
        auto_scaling_group: None,
    };
    if facts.instance_id.is_empty() {
        return Err("the instance identity document has no instanceId".into());
    }
    Ok(facts)
}
