//! PutDashboard → GetDashboard against moto: what we push comes back byte for byte, for a
//! rendered preset (compact JSON) and for a body file pushed unchanged. moto checks only that
//! the body is JSON (research §5), so CloudWatch's own validation is not exercised here.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use skywatch_dashboards::dashboard::{self, push};
use skywatch_tests::aws::sdk_config;
use skywatch_tests::moto;
use skywatch_tests::names::unique_name;

async fn round_trip(body: &str) {
    let moto = moto::shared().unwrap_or_else(|e| panic!("{e}"));
    let config = sdk_config(&moto.endpoint_url()).await;
    let name = unique_name("dash");
    let messages = push::put_dashboard(&config, &name, body).await.unwrap();
    assert!(messages.is_empty(), "{messages:?}");
    let client = aws_sdk_cloudwatch::Client::new(&config);
    let got = client.get_dashboard().dashboard_name(&name).send().await.unwrap();
    assert_eq!(got.dashboard_body().unwrap(), body);
    assert_eq!(got.dashboard_name(), Some(name.as_str()));
}

#[tokio::test]
async fn a_rendered_preset_round_trips_byte_for_byte() {
    let rendered = dashboard::load_preset("capstone", &[("region".into(), "eu-west-1".into())]).unwrap();
    round_trip(&rendered.body_for_push()).await;
}

#[tokio::test]
async fn a_body_file_is_pushed_unchanged() {
    // Odd spacing and a shorthand row: pushed as written, not re-serialized.
    let text = "{ \"widgets\" : [ {\"type\":\"metric\",\"properties\":{\"region\":\"us-east-1\",\n \"metrics\":[[\"AWS/EC2\",\"CPUUtilization\",\"InstanceId\",\"i-1\"],[\"...\",\"i-2\"]]}} ] }\n";
    let rendered = dashboard::load(text, &[]).unwrap();
    assert_eq!(rendered.body_for_push(), text);
    round_trip(&rendered.body_for_push()).await;
}

#[tokio::test]
async fn a_body_that_is_not_json_is_rejected_with_a_message() {
    let moto = moto::shared().unwrap_or_else(|e| panic!("{e}"));
    let config = sdk_config(&moto.endpoint_url()).await;
    let err = push::put_dashboard(&config, &unique_name("dash"), "{not json")
        .await
        .unwrap_err();
    assert!(matches!(err, push::PushError::Rejected { .. }), "{err}");
}
