//! PutLogEvents to one log stream: the group and stream are created when the service says they
//! are missing (as the CloudWatch agent does), `rejectedLogEventsInfo` is returned to the caller
//! to count by reason, and errors are sorted into retry and rejected like every other call.
//! Retention is set once per group per run.

use std::collections::{HashMap, HashSet};

use aws_sdk_cloudwatchlogs::error::ProvideErrorMetadata;
use aws_sdk_cloudwatchlogs::types::LogGroupClass;
use aws_sdk_cloudwatchlogs::Client;
use aws_smithy_types::body::SdkBody;

use crate::logs::rejection::RejectedInfo;
use crate::logs::LogEvent;
use skywatch_aws::{classify, SendError};

/// Sends log events.
#[derive(Debug, Clone)]
pub struct CloudWatchLogsSink {
    client: Client,
    retention_set: HashSet<String>,
    /// `log_group_class` of groups the agent creates.
    group_classes: HashMap<String, String>,
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
            group_classes: HashMap::new(),
        }
    }

    /// Creates `group` with `class` (`STANDARD` or `INFREQUENT_ACCESS`) if the agent has to
    /// create it.
    pub fn set_group_class(&mut self, group: &str, class: &str) {
        self.group_classes.insert(group.to_string(), class.to_string());
    }

    async fn create_group(&self, group: &str) -> Result<(), SendError> {
        let class = self
            .group_classes
            .get(group)
            .map(|c| LogGroupClass::from(c.as_str()));
        match self
            .client
            .create_log_group()
            .log_group_name(group)
            .set_log_group_class(class)
            .send()
            .await
        {
            Ok(_) => Ok(()),
            Err(e) if e.code() == Some("ResourceAlreadyExistsException") => Ok(()),
            Err(e) => Err(classify(&e)),
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
        // The body is written here rather than by the SDK: its JSON string escaping goes byte
        // by byte and took a third of the agent's CPU on JSON log lines. The request is the
        // same PutLogEvents document; it replaces the (empty) serialized one before signing.
        let body = put_log_events_body(group, stream, events);
        let out = self
            .client
            .put_log_events()
            .log_group_name(group)
            .log_stream_name(stream)
            .set_log_events(Some(Vec::new()))
            .customize()
            .mutate_request(move |request| {
                request
                    .headers_mut()
                    .insert("content-length", body.len().to_string());
                *request.body_mut() = SdkBody::from(body.clone());
            })
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
        self.create_group(group).await?;
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
                self.create_group(group).await?;
                put().await.map_err(|e| classify(&e))?;
            }
            Err(e) => return Err(classify(&e)),
        }
        self.retention_set.insert(group.to_string());
        Ok(())
    }
}

/// The PutLogEvents request document for `events` (sorted, within the limits).
fn put_log_events_body(group: &str, stream: &str, events: &[LogEvent]) -> Vec<u8> {
    let mut body = Vec::with_capacity(events.iter().map(|e| e.message.len() + 48).sum::<usize>() + 256);
    body.extend_from_slice(b"{\"logGroupName\":");
    write_json_string(&mut body, group);
    body.extend_from_slice(b",\"logStreamName\":");
    write_json_string(&mut body, stream);
    body.extend_from_slice(b",\"logEvents\":[");
    for (i, e) in events.iter().enumerate() {
        if i > 0 {
            body.push(b',');
        }
        body.extend_from_slice(b"{\"timestamp\":");
        body.extend_from_slice(e.timestamp_ms.to_string().as_bytes());
        body.extend_from_slice(b",\"message\":");
        write_json_string(&mut body, &e.message);
        body.push(b'}');
    }
    body.extend_from_slice(b"]}");
    body
}

fn write_json_string(out: &mut Vec<u8>, text: &str) {
    // Writing into a Vec cannot fail.
    let _ = serde_json::to_writer(&mut *out, text);
}

#[cfg(test)]
mod tests {
    use super::put_log_events_body;
    use crate::logs::{AckToken, LogEvent};

    #[test]
    fn the_request_body_is_the_put_log_events_document() {
        let events = [
            LogEvent {
                timestamp_ms: 1_795_867_200_000,
                message: "{\"level\":\"ERROR\",\"msg\":\"tab\\there\"}\nsecond line \u{e9} \u{1}".into(),
                token: AckToken {
                    file: 1,
                    end_offset: 10,
                },
            },
            LogEvent {
                timestamp_ms: 1_795_867_200_001,
                message: "plain".into(),
                token: AckToken {
                    file: 1,
                    end_offset: 20,
                },
            },
        ];
        let body = put_log_events_body("/ec2/app", "i-1 \"x\"", &events);
        let doc: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(doc["logGroupName"], "/ec2/app");
        assert_eq!(doc["logStreamName"], "i-1 \"x\"");
        assert_eq!(doc["logEvents"][0]["timestamp"], 1_795_867_200_000_i64);
        assert_eq!(doc["logEvents"][0]["message"], events[0].message.as_str());
        assert_eq!(doc["logEvents"][1]["message"], "plain");
        assert_eq!(doc["logEvents"].as_array().unwrap().len(), 2);
    }
}
