//! PutLogEvents to one log stream: the group and stream are created when the service says they
//! are missing (as the CloudWatch agent does), `rejectedLogEventsInfo` is returned to the caller
//! to count by reason, and errors are sorted into retry and rejected like every other call.
//! Retention is set once per group per run.

use std::collections::HashSet;

use aws_sdk_cloudwatchlogs::error::ProvideErrorMetadata;
use aws_sdk_cloudwatchlogs::types::InputLogEvent;
use aws_sdk_cloudwatchlogs::Client;

use super::{classify, SendError};
use crate::logs::rejection::RejectedInfo;
use crate::logs::LogEvent;

/// Sends log events.
#[derive(Debug, Clone)]
pub struct CloudWatchLogsSink {
    client: Client,
    retention_set: HashSet<String>,
}

impl CloudWatchLogsSink {
    pub fn new(config: &aws_config::SdkConfig, endpoint_override: Option<&str>) -> CloudWatchLogsSink {
        let mut builder = aws_sdk_cloudwatchlogs::config::Builder::from(config);
        if let Some(url) = endpoint_override {
            builder = builder.endpoint_url(url);
        }
        CloudWatchLogsSink {
            client: Client::from_conf(builder.build()),
            retention_set: HashSet::new(),
        }
    }

    /// Sends one batch (sorted, within the limits) to `group`/`stream`, creating them if
    /// missing. What the service refused is in the returned info.
    pub async fn put(
        &self,
        group: &str,
        stream: &str,
        events: &[LogEvent],
    ) -> Result<RejectedInfo, SendError> {
        match self.put_once(group, stream, events).await {
            Err(e) if e.kind() == "ResourceNotFoundException" => {
                self.create_target(group, stream).await?;
                self.put_once(group, stream, events).await
            }
            other => other,
        }
    }

    async fn put_once(
        &self,
        group: &str,
        stream: &str,
        events: &[LogEvent],
    ) -> Result<RejectedInfo, SendError> {
        let input: Vec<InputLogEvent> = events
            .iter()
            .filter_map(|e| {
                InputLogEvent::builder()
                    .timestamp(e.timestamp_ms)
                    .message(&e.message)
                    .build()
                    .ok()
            })
            .collect();
        let out = self
            .client
            .put_log_events()
            .log_group_name(group)
            .log_stream_name(stream)
            .set_log_events(Some(input))
            .send()
            .await
            .map_err(|e| classify(&e))?;
        Ok(out
            .rejected_log_events_info()
            .map_or_else(RejectedInfo::default, |r| RejectedInfo {
                too_new_start: r.too_new_log_event_start_index(),
                too_old_end: r.too_old_log_event_end_index(),
                expired_end: r.expired_log_event_end_index(),
            }))
    }

    /// CreateLogStream, and CreateLogGroup first when the group is missing too; "already
    /// exists" counts as done.
    async fn create_target(&self, group: &str, stream: &str) -> Result<(), SendError> {
        let exists = |code: Option<&str>| code == Some("ResourceAlreadyExistsException");
        let create_stream = || {
            self.client
                .create_log_stream()
                .log_group_name(group)
                .log_stream_name(stream)
                .send()
        };
        match create_stream().await {
            Ok(_) => return Ok(()),
            Err(e) if exists(e.code()) => return Ok(()),
            Err(e) if e.code() != Some("ResourceNotFoundException") => return Err(classify(&e)),
            Err(_) => {}
        }
        match self.client.create_log_group().log_group_name(group).send().await {
            Ok(_) => {}
            Err(e) if exists(e.code()) => {}
            Err(e) => return Err(classify(&e)),
        }
        match create_stream().await {
            Ok(_) => Ok(()),
            Err(e) if exists(e.code()) => Ok(()),
            Err(e) => Err(classify(&e)),
        }
    }

    /// PutRetentionPolicy for `group`, once per run (creating the group if needed).
    pub async fn ensure_retention(&mut self, group: &str, days: i32) -> Result<(), SendError> {
        if self.retention_set.contains(group) {
            return Ok(());
        }
        let put = || {
            self.client
                .put_retention_policy()
                .log_group_name(group)
                .retention_in_days(days)
                .send()
        };
        match put().await {
            Ok(_) => {}
            Err(e) if e.code() == Some("ResourceNotFoundException") => {
                match self.client.create_log_group().log_group_name(group).send().await {
                    Ok(_) => {}
                    Err(e) if e.code() == Some("ResourceAlreadyExistsException") => {}
                    Err(e) => return Err(classify(&e)),
                }
                put().await.map_err(|e| classify(&e))?;
            }
            Err(e) => return Err(classify(&e)),
        }
        self.retention_set.insert(group.to_string());
        Ok(())
    }
}
