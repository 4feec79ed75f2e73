//! Facts about the EC2 instance the agent runs on, from the instance metadata service (IMDSv2
//! through the SDK's client): `meta-data/instance-id`, `ami-id`, `instance-type` and
//! `placement/region` for `${aws:InstanceId}`, `${aws:ImageId}`, `${aws:InstanceType}` and the
//! region, and the instance's `aws:autoscaling:groupName` tag for `${aws:AutoScalingGroupName}`
//! when instance metadata tags are enabled.
//!
//! Off EC2 the lookup fails within about a second and the caller goes on without (the agent with
//! the `host` dimension), saying why. (The CloudWatch agent reads the Auto Scaling group through EC2
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
    let client = crate::sdk::imds_client();
    let get = |path: &'static str| {
        let client = client.clone();
        async move {
            client
                .get(format!("/latest/meta-data/{path}"))
                .await
                .map(|v| v.as_ref().trim().to_string())
        }
    };
    let instance_id = get("instance-id")
        .await
        .map_err(|e| format!("instance metadata unavailable (not on EC2?): {e}"))?;
    if instance_id.is_empty() {
        return Err("the instance metadata has an empty instance-id".into());
    }
    let read = |r: Result<String, _>, what: &str| r.map_err(|e| format!("instance metadata {what}: {e}"));
    Ok(InstanceFacts {
        instance_id,
        image_id: read(get("ami-id").await, "ami-id")?,
        instance_type: read(get("instance-type").await, "instance-type")?,
        region: read(get("placement/region").await, "placement/region")?,
        private_ip: get("local-ipv4").await.unwrap_or_default(),
        // Only when instance metadata tags are enabled for the instance.
        auto_scaling_group: get("tags/instance/aws:autoscaling:groupName")
            .await
            .ok()
            .filter(|name| !name.is_empty() && !name.contains('<')),
    })
}
