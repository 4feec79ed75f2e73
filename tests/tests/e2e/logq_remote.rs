//! `logq --log-group`: queries run on CloudWatch Logs Insights (moto) through the real SDK.
//!
//! moto runs `fields`, `sort` and `limit` only, and completes every query when it starts, so these
//! tests check the plumbing (start, poll, rows, errors, cancel, retries), not query semantics.

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use aws_config::retry::RetryConfig;
use skywatch_insights::{run_remote, RemoteError, RemoteQuery};
use skywatch_query::value::Value;
use skywatch_tests::aws::sdk_config;
use skywatch_tests::fault_proxy::{Fault, FaultProxy};
use skywatch_tests::log_groups::{create_with_events, now_ms};
use skywatch_tests::logs::Client;
use skywatch_tests::moto;
use skywatch_tests::names::unique_name;

const NEWEST_TWO: &str = "fields @timestamp, @message | sort @timestamp desc | limit 2";

/// A new log group holding five events a second apart, ending a minute ago; returns the group and
/// the events' (timestamp ms, message), oldest first.
async fn group_with_five_events(
    client: &Client,
    test: &str,
) -> Result<(String, Vec<(i64, String)>), Box<dyn std::error::Error + Send + Sync>> {
    let group = unique_name(&format!("/it/logq-remote-{test}"));
    let first_ms = now_ms() - 65_000;
    // Odd milliseconds, so a timestamp truncated to seconds would show.
    let events: Vec<(i64, String)> = (0..5)
        .map(|i| (first_ms + i * 1_000 + 7 * i, format!("GET /item/{i} 200")))
        .collect();
    create_with_events(client, &group, "web-1", &events).await?;
    Ok((group, events))
}

/// The query over `group`, with a window from ten minutes ago to a minute ahead.
fn newest_two_in(group: &str) -> RemoteQuery {
    let now_s = now_ms() / 1000;
    RemoteQuery {
        query: NEWEST_TWO.to_string(),
        log_groups: vec![group.to_string()],
        start_s: now_s - 600,
        end_s: now_s + 60,
        limit: None,
    }
}

fn rows_for(events: &[(i64, String)]) -> Vec<Vec<(String, Value)>> {
    events
        .iter()
        .map(|(t, m)| {
            vec![
                ("@timestamp".to_string(), Value::Time(*t)),
                ("@message".to_string(), Value::str(m.as_str())),
            ]
        })
        .collect()
}

#[tokio::test]
async fn newest_two_events_come_back_newest_first_with_their_times() {
    let moto = moto::shared().unwrap_or_else(|e| panic!("{e}"));
    let client = Client::new(&sdk_config(&moto.endpoint_url()).await);
    let (group, events) = group_with_five_events(&client, "newest").await.unwrap();

    let result = run_remote(&client, &newest_two_in(&group), std::future::pending())
        .await
        .unwrap();

    let newest_first = [events[4].clone(), events[3].clone()];
    assert_eq!(result.rows, rows_for(&newest_first));
}

#[tokio::test]
async fn missing_log_group_is_a_start_error_naming_the_cause() {
    let moto = moto::shared().unwrap_or_else(|e| panic!("{e}"));
    let client = Client::new(&sdk_config(&moto.endpoint_url()).await);
    let group = unique_name("/it/logq-remote-never-created");

    let err = run_remote(&client, &newest_two_in(&group), std::future::pending())
        .await
        .unwrap_err();

    assert!(
        matches!(&err, RemoteError::Start { code: Some(code), .. } if code == "ResourceNotFoundException"),
        "{err:?}"
    );
    assert_eq!(
        err.to_string(),
        "could not start the query: ResourceNotFoundException: The specified log group does not exist."
    );
}

#[tokio::test]
async fn cancel_that_is_already_ready_returns_cancelled() {
    let moto = moto::shared().unwrap_or_else(|e| panic!("{e}"));
    let client = Client::new(&sdk_config(&moto.endpoint_url()).await);
    let (group, _) = group_with_five_events(&client, "cancel").await.unwrap();

    let started = Instant::now();
    let err = run_remote(&client, &newest_two_in(&group), std::future::ready(()))
        .await
        .unwrap_err();

    assert_eq!(err, RemoteError::Cancelled);
    // Cancelling waits for StartQuery and StopQuery a bounded time only.
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn query_rides_out_a_second_of_throttling() {
    let moto = moto::shared().unwrap_or_else(|e| panic!("{e}"));
    let direct = Client::new(&sdk_config(&moto.endpoint_url()).await);
    let (group, events) = group_with_five_events(&direct, "throttle").await.unwrap();

    let proxy = FaultProxy::start(moto.addr()).unwrap();
    let conf = sdk_config(&proxy.endpoint_url())
        .await
        .into_builder()
        .retry_config(
            RetryConfig::standard()
                .with_max_attempts(20)
                .with_max_backoff(Duration::from_millis(200)),
        )
        .build();
    let client = Client::new(&conf);
    proxy.set_for(Fault::Throttle, Duration::from_secs(1));

    let result = run_remote(&client, &newest_two_in(&group), std::future::pending())
        .await
        .unwrap();

    assert_eq!(result.rows, rows_for(&[events[4].clone(), events[3].clone()]));
    assert!(proxy.stats().errors_returned.load(Ordering::Relaxed) >= 1);
}
