//! Log groups with known events, for tests that read them back.

use aws_sdk_cloudwatchlogs::types::InputLogEvent;
use aws_sdk_cloudwatchlogs::Client;

/// Milliseconds since the epoch, now.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or_default()
}

/// Creates `group` and `stream` and puts `events` (timestamp ms, message) into it, in order.
/// Fails if the service rejects any event.
pub async fn create_with_events(
    client: &Client,
    group: &str,
    stream: &str,
    events: &[(i64, String)],
) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    client.create_log_group().log_group_name(group).send().await?;
    client
        .create_log_stream()
        .log_group_name(group)
        .log_stream_name(stream)
        .send()
        .await?;
    let input = events
        .iter()
        .map(|(t, m)| InputLogEvent::builder().timestamp(*t).message(m).build())
        .collect::<Result<Vec<_>, _>>()?;
    let put = client
        .put_log_events()
        .log_group_name(group)
        .log_stream_name(stream)
        .set_log_events(Some(input))
        .send()
        .await?;
    if let Some(rejected) = put.rejected_log_events_info() {
        return Err(format!("events rejected: {rejected:?}").into());
    }
    Ok(())
}

/// Every message of `group`/`stream`, oldest first, through GetLogEvents pages; empty when the
/// stream does not exist yet.
pub async fn all_messages(
    client: &Client,
    group: &str,
    stream: &str,
) -> Result<Vec<String>, Box<dyn std::error::Error + Send + Sync>> {
    let mut messages = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let page = client
            .get_log_events()
            .log_group_name(group)
            .log_stream_name(stream)
            .start_from_head(true)
            .set_next_token(token.clone())
            .send()
            .await;
        let page = match page {
            Ok(page) => page,
            Err(e)
                if e.as_service_error()
                    .is_some_and(aws_sdk_cloudwatchlogs::operation::get_log_events::GetLogEventsError::is_resource_not_found_exception) =>
            {
                return Ok(Vec::new());
            }
            Err(e) => return Err(e.into()),
        };
        let before = messages.len();
        messages.extend(
            page.events()
                .iter()
                .filter_map(|e| e.message().map(str::to_string)),
        );
        let next = page.next_forward_token().map(str::to_string);
        // The last page gives back the token it was asked with (or nothing new).
        if messages.len() == before || next.is_none() || next == token {
            return Ok(messages);
        }
        token = next;
    }
}
