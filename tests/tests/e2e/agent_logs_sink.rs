//! The agent's PutLogEvents sink against moto through the real SDK: groups and streams made on
//! demand, the service's rejections read back per event, retention set, errors sorted.

use skywatch_agent::logs::rejection::RejectedInfo;
use skywatch_agent::logs::{AckToken, LogEvent};
use skywatch_agent::sinks::cloudwatch_logs::CloudWatchLogsSink;
use skywatch_aws::SendError;
use skywatch_tests::aws::sdk_config;
use skywatch_tests::fault_proxy::{Fault, FaultProxy};
use skywatch_tests::log_groups::now_ms;
use skywatch_tests::logs::Client;
use skywatch_tests::moto;
use skywatch_tests::names::unique_name;

fn events(at: &[i64]) -> Vec<LogEvent> {
    at.iter()
        .enumerate()
        .map(|(i, t)| LogEvent {
            timestamp_ms: *t,
            message: format!("line {i}"),
            token: AckToken {
                file: 1,
                end_offset: i as u64,
            },
        })
        .collect()
}

#[tokio::test]
async fn a_missing_group_and_stream_are_created_and_events_arrive_in_order() {
    let moto = moto::shared().unwrap_or_else(|e| panic!("{e}"));
    let config = sdk_config(&moto.endpoint_url()).await;
    let sink = CloudWatchLogsSink::new(&config, None);
    let group = unique_name("/it/agent-logs-sink");
    let now = now_ms();
    let rejected = sink
        .put(&group, "web-1", &events(&[now - 3000, now - 2000, now - 1000]))
        .await
        .unwrap();
    assert_eq!(rejected, RejectedInfo::default());
    // Again, now that both exist.
    sink.put(&group, "web-1", &events(&[now])).await.unwrap();
    let client = Client::new(&config);
    let got = client
        .get_log_events()
        .log_group_name(&group)
        .log_stream_name("web-1")
        .start_from_head(true)
        .send()
        .await
        .unwrap();
    let messages: Vec<&str> = got.events().iter().filter_map(|e| e.message()).collect();
    assert_eq!(messages, ["line 0", "line 1", "line 2", "line 0"]);
}

#[tokio::test]
async fn events_outside_the_window_come_back_as_rejected_by_index() {
    let moto = moto::shared().unwrap_or_else(|e| panic!("{e}"));
    let config = sdk_config(&moto.endpoint_url()).await;
    let sink = CloudWatchLogsSink::new(&config, None);
    let group = unique_name("/it/agent-logs-rejected");
    let now = now_ms();
    let day = 86_400_000;
    let batch = events(&[now - 15 * day, now - 1000, now, now + 3 * 3_600_000]);
    let info = sink.put(&group, "s", &batch).await.unwrap();
    assert_eq!(info.too_new_start, Some(3), "{info:?}");
    // The API documents tooOldLogEventEndIndex as exclusive (1 here); moto answers with the
    // index of the last old event (0). Either way the old event is reported, not lost.
    assert!(matches!(info.too_old_end, Some(0 | 1)), "{info:?}");
    assert_eq!(info.outcome(batch.len()).too_new, 1);
}

#[tokio::test]
async fn retention_is_set_once_and_throttling_is_a_retry() {
    let moto = moto::shared().unwrap_or_else(|e| panic!("{e}"));
    let config = sdk_config(&moto.endpoint_url()).await;
    let mut sink = CloudWatchLogsSink::new(&config, None);
    let group = unique_name("/it/agent-logs-retention");
    sink.ensure_retention(&group, 30).await.unwrap();
    sink.ensure_retention(&group, 30).await.unwrap();
    let client = Client::new(&config);
    let described = client
        .describe_log_groups()
        .log_group_name_prefix(&group)
        .send()
        .await
        .unwrap();
    assert_eq!(described.log_groups()[0].retention_in_days(), Some(30));

    let proxy = FaultProxy::start(moto.addr()).unwrap();
    let through_proxy = sdk_config(&proxy.endpoint_url()).await;
    let sink = CloudWatchLogsSink::new(&through_proxy, None);
    proxy.set(Fault::Throttle);
    let err = sink.put(&group, "s", &events(&[now_ms()])).await.unwrap_err();
    assert!(
        matches!(&err, SendError::Retry { kind, .. } if kind == "ThrottlingException"),
        "{err}"
    );
    proxy.set(Fault::HttpStatus(503));
    let err = sink.put(&group, "s", &events(&[now_ms()])).await.unwrap_err();
    assert!(matches!(err, SendError::Retry { .. }), "{err}");
    proxy.recover();
    sink.put(&group, "s", &events(&[now_ms()])).await.unwrap();
}
