//! The fault proxy, driven by raw sockets and by the real SDK through it to moto.

use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use aws_config::retry::RetryConfig;
use aws_config::SdkConfig;
use skywatch_tests::aws::sdk_config;
use skywatch_tests::fault_proxy::{Fault, FaultProxy};
use skywatch_tests::moto;
use skywatch_tests::names::unique_name;
use skywatch_tests::poll::poll_until;

/// A CloudWatch Logs client through `proxy` that tries each call once, so a fault shows as an error
/// instead of being retried away.
async fn logs_client_without_retries(proxy: &FaultProxy) -> skywatch_tests::logs::Client {
    let conf: SdkConfig = sdk_config(&proxy.endpoint_url()).await;
    let conf = conf.into_builder().retry_config(RetryConfig::disabled()).build();
    skywatch_tests::logs::Client::new(&conf)
}

/// Sends a minimal HTTP request and returns the status line, or the I/O error.
fn raw_request(addr: SocketAddr, read_timeout: Duration) -> std::io::Result<String> {
    let mut stream = TcpStream::connect(addr)?;
    stream.set_read_timeout(Some(read_timeout))?;
    stream.write_all(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello")?;
    let mut response = String::new();
    stream.read_to_string(&mut response)?;
    Ok(response.lines().next().unwrap_or_default().to_string())
}

#[tokio::test]
async fn passes_sdk_calls_through_to_moto() {
    let moto = moto::shared().unwrap_or_else(|e| panic!("{e}"));
    let proxy = FaultProxy::start(moto.addr()).unwrap();
    let client = logs_client_without_retries(&proxy).await;
    let group = unique_name("/it/proxy-pass");
    client
        .create_log_group()
        .log_group_name(&group)
        .send()
        .await
        .unwrap();
    let listed = client
        .describe_log_groups()
        .log_group_name_prefix(&group)
        .send()
        .await
        .unwrap();
    assert_eq!(listed.log_groups().len(), 1);
    assert!(proxy.stats().passed.load(Ordering::Relaxed) >= 1);
}

#[test]
fn refuse_closes_the_port_and_recover_opens_it_again() {
    let moto = moto::shared().unwrap_or_else(|e| panic!("{e}"));
    let proxy = FaultProxy::start(moto.addr()).unwrap();
    proxy.set(Fault::Refuse);
    let refused = poll_until(
        "connections to be refused",
        Duration::from_secs(5),
        Duration::from_millis(10),
        || match TcpStream::connect(proxy.addr()) {
            Err(e) if e.kind() == ErrorKind::ConnectionRefused => Some(()),
            _ => None,
        },
    );
    assert_eq!(refused, Ok(()));
    proxy.recover();
    let status = poll_until(
        "the port to answer again",
        Duration::from_secs(5),
        Duration::from_millis(10),
        || raw_request(proxy.addr(), Duration::from_secs(5)).ok(),
    )
    .unwrap();
    // moto answers a bare POST / itself; what matters is that it was reached.
    assert!(status.starts_with("HTTP/1."), "{status}");
}

#[test]
fn hang_accepts_but_never_answers() {
    let moto = moto::shared().unwrap_or_else(|e| panic!("{e}"));
    let proxy = FaultProxy::start(moto.addr()).unwrap();
    proxy.set(Fault::Hang);
    let err = raw_request(proxy.addr(), Duration::from_millis(300)).unwrap_err();
    assert!(
        matches!(err.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut),
        "{err:?}"
    );
    assert_eq!(proxy.stats().hung.load(Ordering::Relaxed), 1);
}

#[test]
fn http_status_faults_answer_with_that_status() {
    let moto = moto::shared().unwrap_or_else(|e| panic!("{e}"));
    let proxy = FaultProxy::start(moto.addr()).unwrap();
    proxy.set(Fault::HttpStatus(500));
    assert_eq!(
        raw_request(proxy.addr(), Duration::from_secs(5)).unwrap(),
        "HTTP/1.1 500 Internal Server Error"
    );
    proxy.set(Fault::HttpStatus(503));
    assert_eq!(
        raw_request(proxy.addr(), Duration::from_secs(5)).unwrap(),
        "HTTP/1.1 503 Service Unavailable"
    );
    assert_eq!(proxy.stats().errors_returned.load(Ordering::Relaxed), 2);
}

#[tokio::test]
async fn sdk_sees_service_unavailable_then_succeeds_after_recovery() {
    let moto = moto::shared().unwrap_or_else(|e| panic!("{e}"));
    let proxy = FaultProxy::start(moto.addr()).unwrap();
    let client = logs_client_without_retries(&proxy).await;
    let group = unique_name("/it/proxy-503");
    // Warm a pooled connection first: the fault must still reach the next call.
    client
        .create_log_group()
        .log_group_name(&group)
        .send()
        .await
        .unwrap();

    proxy.set(Fault::HttpStatus(503));
    let err = client
        .describe_log_groups()
        .log_group_name_prefix(&group)
        .send()
        .await
        .unwrap_err();
    let raw = err.raw_response().map(|r| r.status().as_u16());
    assert_eq!(raw, Some(503), "{err:?}");

    proxy.recover();
    let listed = client
        .describe_log_groups()
        .log_group_name_prefix(&group)
        .send()
        .await
        .unwrap();
    assert_eq!(listed.log_groups().len(), 1);
}

#[tokio::test]
async fn throttle_is_a_throttling_error_in_each_protocol() {
    let moto = moto::shared().unwrap_or_else(|e| panic!("{e}"));
    let proxy = FaultProxy::start(moto.addr()).unwrap();
    proxy.set(Fault::Throttle);

    // awsJson (CloudWatch Logs).
    let logs = logs_client_without_retries(&proxy).await;
    let err = logs.describe_log_groups().send().await.unwrap_err();
    let code = err
        .as_service_error()
        .and_then(|e| aws_sdk_cloudwatchlogs::error::ProvideErrorMetadata::code(e));
    assert_eq!(code, Some("ThrottlingException"), "{err:?}");

    // awsQuery (CloudWatch metrics, the pinned crate).
    let conf = sdk_config(&proxy.endpoint_url())
        .await
        .into_builder()
        .retry_config(RetryConfig::disabled())
        .build();
    let cloudwatch = skywatch_tests::cloudwatch::Client::new(&conf);
    let err = cloudwatch
        .list_metrics()
        .namespace("IT/none")
        .send()
        .await
        .unwrap_err();
    let code = err
        .as_service_error()
        .and_then(|e| aws_sdk_cloudwatch::error::ProvideErrorMetadata::code(e));
    assert_eq!(code, Some("Throttling"), "{err:?}");
}

#[tokio::test]
async fn sdk_retries_ride_out_a_short_throttle() {
    let moto = moto::shared().unwrap_or_else(|e| panic!("{e}"));
    let proxy = FaultProxy::start(moto.addr()).unwrap();
    let conf = sdk_config(&proxy.endpoint_url()).await;
    let conf = conf
        .into_builder()
        .retry_config(
            RetryConfig::standard()
                .with_max_attempts(20)
                .with_max_backoff(Duration::from_millis(200)),
        )
        .build();
    let client = skywatch_tests::logs::Client::new(&conf);
    let group = unique_name("/it/proxy-throttle");
    proxy.set_for(Fault::Throttle, Duration::from_millis(500));
    client
        .create_log_group()
        .log_group_name(&group)
        .send()
        .await
        .unwrap();
    assert!(proxy.stats().errors_returned.load(Ordering::Relaxed) >= 1);
    assert_eq!(proxy.fault(), Fault::None);
}

#[test]
fn delay_holds_each_request_for_at_least_the_delay() {
    let moto = moto::shared().unwrap_or_else(|e| panic!("{e}"));
    let proxy = FaultProxy::start(moto.addr()).unwrap();
    proxy.set(Fault::Delay(Duration::from_millis(400)));
    let started = Instant::now();
    let status = raw_request(proxy.addr(), Duration::from_secs(10)).unwrap();
    assert!(status.starts_with("HTTP/1."), "{status}");
    assert!(
        started.elapsed() >= Duration::from_millis(400),
        "{:?}",
        started.elapsed()
    );
}

#[test]
fn set_for_reverts_to_passing_after_the_duration() {
    let moto = moto::shared().unwrap_or_else(|e| panic!("{e}"));
    let proxy = FaultProxy::start(moto.addr()).unwrap();
    proxy.set_for(Fault::HttpStatus(500), Duration::from_millis(200));
    assert_eq!(proxy.fault(), Fault::HttpStatus(500));
    poll_until(
        "the fault to lapse",
        Duration::from_secs(5),
        Duration::from_millis(10),
        || (proxy.fault() == Fault::None).then_some(()),
    )
    .unwrap();
    // A later fault is not undone by an earlier timer.
    proxy.set_for(Fault::Hang, Duration::from_millis(50));
    proxy.set(Fault::HttpStatus(503));
    std::thread::sleep(Duration::from_millis(150)); // past the first timer: nothing to poll for
    assert_eq!(proxy.fault(), Fault::HttpStatus(503));
}
