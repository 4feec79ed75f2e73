//! The smallest round trip through the real SDK and moto: it proves the harness, the SDK
//! configuration and the emulator fit together.

use skywatch_tests::aws::sdk_config;
use skywatch_tests::logs::types::InputLogEvent;
use skywatch_tests::moto;
use skywatch_tests::names::unique_name;

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or_default()
}

#[tokio::test]
async fn three_events_put_are_read_back_in_order() {
    let moto = moto::shared().unwrap_or_else(|e| panic!("{e}"));
    let client = skywatch_tests::logs::Client::new(&sdk_config(&moto.endpoint_url()).await);
    let group = unique_name("/it/smoke");
    let stream = "instance-1";

    client
        .create_log_group()
        .log_group_name(&group)
        .send()
        .await
        .unwrap();
    client
        .create_log_stream()
        .log_group_name(&group)
        .log_stream_name(stream)
        .send()
        .await
        .unwrap();
    let t0 = now_ms();
    let messages = ["first line", "second line with \"quotes\"", "third line ✓"];
    let events: Vec<InputLogEvent> = messages
        .iter()
        .enumerate()
        .map(|(i, m)| {
            InputLogEvent::builder()
                .timestamp(t0 + i as i64)
                .message(*m)
                .build()
                .unwrap()
        })
        .collect();
    let put = client
        .put_log_events()
        .log_group_name(&group)
        .log_stream_name(stream)
        .set_log_events(Some(events))
        .send()
        .await
        .unwrap();
    assert!(put.rejected_log_events_info().is_none());

    let got = client
        .get_log_events()
        .log_group_name(&group)
        .log_stream_name(stream)
        .start_from_head(true)
        .send()
        .await
        .unwrap();
    let read: Vec<(i64, &str)> = got
        .events()
        .iter()
        .map(|e| (e.timestamp().unwrap_or(0), e.message().unwrap_or("")))
        .collect();
    assert_eq!(
        read,
        vec![(t0, messages[0]), (t0 + 1, messages[1]), (t0 + 2, messages[2])]
    );
}
