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
