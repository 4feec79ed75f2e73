//! The sampling endpoints passed on to X-Ray when the collector forwards: the SDK's request
//! body is read, sent as GetSamplingRules / GetSamplingTargets with the collector's own
//! credentials (signed by the AWS SDK), and the answer written back in the service's JSON.
//! Only these two operations are passed on.

use aws_sdk_xray::primitives::DateTime;
use aws_sdk_xray::types::SamplingStatisticsDocument;
use serde_json::{json, Map, Value};
use skywatch_aws::{classify, SendError};
use skywatch_http::{respond, Response, StatusCode};

use crate::routes::api_error;
use crate::xray_api::ApiError;

#[derive(Debug, Clone)]
pub struct SamplingProxy {
    client: aws_sdk_xray::Client,
}

fn seconds(t: Option<&DateTime>) -> Value {
    t.map_or(Value::Null, |t| json!(t.as_secs_f64()))
}

fn failed(error: &SendError) -> Response {
    let status = if error.class().is_transient() {
        StatusCode::BAD_GATEWAY
    } else {
        StatusCode::BAD_REQUEST
    };
    let code: &'static str = if error.class().is_transient() {
        "ServiceUnavailable"
    } else {
        "InvalidRequestException"
    };
    api_error(
        status,
        &ApiError {
            code,
            message: format!("X-Ray: {}: {}", error.kind(), error.message()),
        },
    )
}

fn ok(body: &Value) -> Response {
    respond(StatusCode::OK, "application/json", body.to_string())
}

fn invalid(message: String) -> Response {
    api_error(
        StatusCode::BAD_REQUEST,
        &ApiError {
            code: "InvalidRequestException",
            message,
        },
    )
}

impl SamplingProxy {
    pub fn new(client: aws_sdk_xray::Client) -> SamplingProxy {
        SamplingProxy { client }
    }

    /// GetSamplingRules, every page.
    pub async fn rules(&self, request: &[u8]) -> Response {
        let token = serde_json::from_slice::<Value>(request)
            .ok()
            .and_then(|v| v.get("NextToken").and_then(Value::as_str).map(str::to_string));
        let output = match self
            .client
            .get_sampling_rules()
            .set_next_token(token)
            .send()
            .await
        {
            Ok(output) => output,
            Err(e) => return failed(&classify(&e)),
        };
        let records: Vec<Value> = output
            .sampling_rule_records()
            .iter()
            .map(|record| {
                let rule = record.sampling_rule().map_or(Value::Null, |r| {
                    json!({
                        "RuleName": r.rule_name(),
                        "RuleARN": r.rule_arn(),
                        "ResourceARN": r.resource_arn(),
                        "Priority": r.priority(),
                        "FixedRate": r.fixed_rate(),
                        "ReservoirSize": r.reservoir_size(),
                        "ServiceName": r.service_name(),
                        "ServiceType": r.service_type(),
                        "Host": r.host(),
                        "HTTPMethod": r.http_method(),
                        "URLPath": r.url_path(),
                        "Version": r.version(),
                        "Attributes": r.attributes().cloned().unwrap_or_default(),
                    })
                });
                json!({
                    "SamplingRule": rule,
                    "CreatedAt": seconds(record.created_at()),
                    "ModifiedAt": seconds(record.modified_at()),
                })
            })
            .collect();
        let mut body = json!({ "SamplingRuleRecords": records });
        if let (Some(token), Value::Object(m)) = (output.next_token(), &mut body) {
            m.insert("NextToken".into(), json!(token));
        }
        ok(&body)
    }

    /// GetSamplingTargets with the SDK's statistics.
    pub async fn targets(&self, request: &[u8]) -> Response {
        let documents = match statistics(request) {
            Ok(documents) => documents,
            Err(message) => return invalid(message),
        };
        let output = match self
            .client
            .get_sampling_targets()
            .set_sampling_statistics_documents(Some(documents))
            .send()
            .await
        {
            Ok(output) => output,
            Err(e) => return failed(&classify(&e)),
        };
        let targets: Vec<Value> = output
            .sampling_target_documents()
            .iter()
            .map(|t| {
                json!({
                    "RuleName": t.rule_name(),
                    "FixedRate": t.fixed_rate(),
                    "ReservoirQuota": t.reservoir_quota(),
                    "ReservoirQuotaTTL": seconds(t.reservoir_quota_ttl()),
                    "Interval": t.interval(),
                })
            })
            .collect();
        let unprocessed: Vec<Value> = output
            .unprocessed_statistics()
            .iter()
            .map(|u| json!({"RuleName": u.rule_name(), "ErrorCode": u.error_code(), "Message": u.message()}))
            .collect();
        ok(&json!({
            "SamplingTargetDocuments": targets,
            "LastRuleModification": seconds(output.last_rule_modification()),
            "UnprocessedStatistics": unprocessed,
        }))
    }
}

/// The SDK's `SamplingStatisticsDocuments`, checked.
fn statistics(request: &[u8]) -> Result<Vec<SamplingStatisticsDocument>, String> {
    let value: Value =
        serde_json::from_slice(request).map_err(|e| format!("the request body is not JSON: {e}"))?;
    let Some(Value::Array(items)) = value.get("SamplingStatisticsDocuments") else {
        return Err("SamplingStatisticsDocuments is required".into());
    };
    items
        .iter()
        .enumerate()
        .map(|(i, item)| {
            let empty = Map::new();
            let map = item.as_object().unwrap_or(&empty);
            let text = |key: &str| map.get(key).and_then(Value::as_str).map(str::to_string);
            let count = |key: &str| {
                map.get(key)
                    .and_then(Value::as_i64)
                    .and_then(|n| i32::try_from(n).ok())
            };
            let timestamp = map
                .get("Timestamp")
                .and_then(Value::as_f64)
                .ok_or_else(|| format!("SamplingStatisticsDocuments[{i}].Timestamp must be epoch seconds"))?;
            SamplingStatisticsDocument::builder()
                .set_rule_name(text("RuleName"))
                .set_client_id(text("ClientID"))
                .timestamp(DateTime::from_secs_f64(timestamp))
                .set_request_count(count("RequestCount"))
                .set_sampled_count(count("SampledCount"))
                .set_borrow_count(count("BorrowCount"))
                .build()
                .map_err(|e| format!("SamplingStatisticsDocuments[{i}]: {e}"))
        })
        .collect()
}
