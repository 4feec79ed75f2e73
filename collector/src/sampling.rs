//! The local answer to the two sampling calls X-Ray SDKs make on the daemon's TCP port when nothing
//! is forwarded to AWS: `POST /GetSamplingRules` (the rules) and `POST /SamplingTargets` (each
//! process's share of a rule's reservoir). Rest-json bodies, timestamps in epoch seconds.
//!
//! Design decision: the reservoir is accounted for as the service does it, not handed whole to
//! every caller. A rule's `ReservoirSize` per second is split among the clients (SDK processes,
//! told apart by `ClientID`) that reported for it recently, the earliest ones taking the remainder
//! of an uneven split. A grant is also never larger than what the other clients' unexpired grants
//! leave, so the quotas in force at any second add up to at most `ReservoirSize`; the price is
//! that a newcomer may get less than its share until the older grants expire (one interval). A
//! client that stops reporting stops counting after [`CLIENT_TTL_SECS`] and its share goes back to
//! the others. Time is passed in, so all of this is tested without sleeping.

use std::collections::BTreeMap;
use std::sync::{Mutex, PoisonError};
use std::time::{SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

/// The most statistics documents one GetSamplingTargets request may carry
/// (`SamplingStatisticsDocuments`, "Maximum number of 25 items";
/// <https://docs.aws.amazon.com/xray/latest/api/API_GetSamplingTargets.html>).
pub const MAX_STATISTICS_DOCUMENTS: usize = 25;

/// Seconds a client waits before reporting again: `Interval` in every target. 10 is the SDKs' own
/// default, so they keep polling as they would against AWS.
pub const TARGET_INTERVAL_SECS: u64 = 10;

/// How long a granted quota lasts: `ReservoirQuotaTTL` is the grant's time plus this.
pub const QUOTA_TTL_SECS: u64 = 10;

/// A client that has not reported for a rule for this long no longer shares its reservoir. Two
/// intervals, so the SDKs' poll jitter (up to 0.1 s past the 10 s) does not make shares flap, and
/// longer than [`QUOTA_TTL_SECS`], so a forgotten client's grant has always expired.
pub const CLIENT_TTL_SECS: u64 = 2 * TARGET_INTERVAL_SECS;

/// The most clients one rule keeps track of. A client past it is answered with `ReservoirQuota`
/// 0 (it samples at `FixedRate` only) and counted in [`RuleStatistics::clients_over_limit`].
pub const MAX_CLIENTS_PER_RULE: usize = 1024;

/// The fallback rule every account has; configuration may change its rate and reservoir.
pub const DEFAULT_RULE_NAME: &str = "Default";

/// The `Default` rule's priority, after every custom rule's (1–9999).
const DEFAULT_RULE_PRIORITY: u16 = 10_000;

/// Rules get ARNs as AWS would give them, in a region and account that say "local".
const RULE_ARN_PREFIX: &str = "arn:aws:xray:local:000000000000:sampling-rule/";

/// `SamplingRule` field limits (<https://docs.aws.amazon.com/xray/latest/api/API_SamplingRule.html>).
const MAX_RULE_NAME_CHARS: usize = 32;
const MAX_CUSTOM_PRIORITY: i64 = 9999;
const MAX_RESERVOIR_SIZE: i64 = i32::MAX as i64;
const MAX_ATTRIBUTES: usize = 5;
const MAX_ATTRIBUTE_CHARS: usize = 32;

/// A sampling rule as the user writes it: the X-Ray API's `SamplingRule`, with its field names, so
/// rules printed by `aws xray get-sampling-rules` can be pasted in. Matchers default to `*`.
/// `RuleName: "Default"` changes the built-in fallback rule, of which only `FixedRate` and
/// `ReservoirSize` may differ. Checked by [`validate_rules`].
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "PascalCase")]
pub struct SamplingRuleConfig {
    pub rule_name: String,
    /// 1–9999, lowest first; required except for `Default` (fixed at 10000).
    #[serde(default)]
    pub priority: Option<i64>,
    /// The share of matching requests sampled once the reservoir is used up (0–1).
    pub fixed_rate: f64,
    /// Matching requests per second sampled before `FixedRate` applies, shared by all clients.
    pub reservoir_size: i64,
    #[serde(default = "wildcard")]
    pub service_name: String,
    /// Matched against a segment's `origin`.
    #[serde(default = "wildcard")]
    pub service_type: String,
    #[serde(default = "wildcard")]
    pub host: String,
    #[serde(rename = "HTTPMethod", default = "wildcard")]
    pub http_method: String,
    #[serde(rename = "URLPath", default = "wildcard")]
    pub url_path: String,
    /// SDKs only use rules whose `ResourceARN` is `*`.
    #[serde(rename = "ResourceARN", default = "wildcard")]
    pub resource_arn: String,
    #[serde(default = "first_version")]
    pub version: i64,
    /// SDKs ignore rules that have attributes.
    #[serde(default)]
    pub attributes: BTreeMap<String, String>,
    /// Accepted so pasted rules load, and ignored: the local ARN is made from the name.
    #[serde(rename = "RuleARN", default)]
    pub rule_arn: Option<String>,
}

fn wildcard() -> String {
    "*".to_string()
}

fn first_version() -> i64 {
    1
}

/// Every problem with `rules`, each naming the rule (`rules[2] "checkout"`) and the field, in
/// order; empty when the rules can be used.
pub fn validate_rules(rules: &[SamplingRuleConfig]) -> Vec<String> {
    let mut problems = Vec::new();
    for (index, rule) in rules.iter().enumerate() {
        let at = format!("rules[{index}] {:?}", rule.rule_name);
        let mut problem = |field: &str, what: String| problems.push(format!("{at}: {field} {what}"));

        let name_chars = rule.rule_name.chars().count();
        if !(1..=MAX_RULE_NAME_CHARS).contains(&name_chars) {
            problem(
                "RuleName",
                format!("must be 1 to {MAX_RULE_NAME_CHARS} characters, got {name_chars}"),
            );
        }
        if let Some(first) = rules[..index].iter().position(|r| r.rule_name == rule.rule_name) {
            problem("RuleName", format!("is already the name of rules[{first}]"));
        }
        let default = rule.rule_name == DEFAULT_RULE_NAME;
        match rule.priority {
            Some(p) if default && p != i64::from(DEFAULT_RULE_PRIORITY) => problem(
                "Priority",
                format!("is fixed at {DEFAULT_RULE_PRIORITY} for the Default rule, got {p}"),
            ),
            None if !default => problem("Priority", format!("is required (1 to {MAX_CUSTOM_PRIORITY})")),
            Some(p) if !default && !(1..=MAX_CUSTOM_PRIORITY).contains(&p) => {
                problem(
                    "Priority",
                    format!("must be between 1 and {MAX_CUSTOM_PRIORITY}, got {p}"),
                );
            }
            _ => {}
        }
        if !(0.0..=1.0).contains(&rule.fixed_rate) {
            problem(
                "FixedRate",
                format!("must be between 0 and 1, got {}", rule.fixed_rate),
            );
        }
        if !(0..=MAX_RESERVOIR_SIZE).contains(&rule.reservoir_size) {
            problem(
                "ReservoirSize",
                format!(
                    "must be between 0 and {MAX_RESERVOIR_SIZE}, got {}",
                    rule.reservoir_size
                ),
            );
        }

        let matchers = [
            ("ResourceARN", &rule.resource_arn, 500),
            ("ServiceName", &rule.service_name, 64),
            ("ServiceType", &rule.service_type, 64),
            ("Host", &rule.host, 64),
            ("HTTPMethod", &rule.http_method, 10),
            ("URLPath", &rule.url_path, 128),
        ];
        for (field, value, max_chars) in matchers {
            let chars = value.chars().count();
            if default && value != "*" {
                problem(
                    field,
                    format!("is fixed at \"*\" for the Default rule, got {value:?}"),
                );
            } else if chars > max_chars {
                problem(
                    field,
                    format!("must be at most {max_chars} characters, got {chars}"),
                );
            }
        }
        if default && rule.version != 1 {
            problem(
                "Version",
                format!("is fixed at 1 for the Default rule, got {}", rule.version),
            );
        } else if rule.version < 1 {
            problem("Version", format!("must be 1 or more, got {}", rule.version));
        }
        if default && !rule.attributes.is_empty() {
            problem("Attributes", "must be empty for the Default rule".to_string());
        } else {
            if rule.attributes.len() > MAX_ATTRIBUTES {
                problem(
                    "Attributes",
                    format!(
                        "must have at most {MAX_ATTRIBUTES} entries, got {}",
                        rule.attributes.len()
                    ),
                );
            }
            for (key, value) in &rule.attributes {
                let (key_chars, value_chars) = (key.chars().count(), value.chars().count());
                if !(1..=MAX_ATTRIBUTE_CHARS).contains(&key_chars) {
                    problem(
                        "Attributes",
                        format!("key {key:?} must be 1 to {MAX_ATTRIBUTE_CHARS} characters"),
                    );
                }
                if !(1..=MAX_ATTRIBUTE_CHARS).contains(&value_chars) {
                    problem(
                        &format!("Attributes[{key:?}]"),
                        format!("must be 1 to {MAX_ATTRIBUTE_CHARS} characters, got {value_chars}"),
                    );
                }
            }
        }
    }
    problems
}

/// Why a SamplingTargets request body was not taken (answered 400 `InvalidRequestException`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SamplingError {
    /// The body is not JSON (the parser's reason).
    NotJson(String),
    /// JSON, but not an object (what it is).
    NotAnObject(String),
    /// A field missing or of the wrong type: where (`SamplingStatisticsDocuments[2].ClientID`)
    /// and what is wrong with it.
    InvalidField { field: String, problem: String },
    /// More statistics documents than one request may carry (how many).
    TooManyDocuments(usize),
}

impl SamplingError {
    /// The reason's name, as `/metrics` labels it.
    pub fn reason(&self) -> &'static str {
        match self {
            SamplingError::NotJson(_) => "not_json",
            SamplingError::NotAnObject(_) => "not_an_object",
            SamplingError::InvalidField { .. } => "invalid_field",
            SamplingError::TooManyDocuments(_) => "too_many_documents",
        }
    }
}

impl std::fmt::Display for SamplingError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SamplingError::NotJson(why) => write!(f, "the request body is not JSON: {why}"),
            SamplingError::NotAnObject(what) => {
                write!(f, "the request body must be a JSON object, got {what}")
            }
            SamplingError::InvalidField { field, problem } => write!(f, "{field} {problem}"),
            SamplingError::TooManyDocuments(n) => write!(
                f,
                "{n} SamplingStatisticsDocuments, more than the {MAX_STATISTICS_DOCUMENTS} one request may carry"
            ),
        }
    }
}

impl std::error::Error for SamplingError {}

/// One rule's counters, for the read API and `/metrics`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RuleStatistics {
    pub rule_name: String,
    pub priority: u16,
    pub fixed_rate: f64,
    pub reservoir_size: u32,
    /// Totals of what clients reported since the sampler was built (saturating).
    pub request_count: u64,
    pub sampled_count: u64,
    pub borrow_count: u64,
    /// Clients sharing the reservoir as of the latest SamplingTargets call.
    pub active_clients: usize,
    /// Reports answered with no reservoir because [`MAX_CLIENTS_PER_RULE`] clients were tracked.
    pub clients_over_limit: u64,
}

/// Statistics documents answered in `UnprocessedStatistics` instead of with a target, by reason.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct RejectedStatistics {
    /// A `RuleName` no rule has.
    pub unknown_rule: u64,
    /// A `ClientID` that is not 24 hex digits.
    pub invalid_client_id: u64,
}

/// The configured rules and the reservoir accounting behind both sampling calls. Safe to share
/// between connections: the accounting sits behind a mutex.
#[derive(Debug)]
pub struct Sampler {
    /// By priority, then name, as SDKs order them; `Default` last.
    rules: Vec<Rule>,
    /// `CreatedAt`, `ModifiedAt` and `LastRuleModification` (epoch seconds).
    built_at_secs: u64,
    state: Mutex<State>,
}

#[derive(Debug, Clone, PartialEq)]
struct Rule {
    name: String,
    priority: u16,
    fixed_rate: f64,
    reservoir_size: u32,
    service_name: String,
    service_type: String,
    host: String,
    http_method: String,
    url_path: String,
    resource_arn: String,
    version: i64,
    attributes: BTreeMap<String, String>,
}

#[derive(Debug, Default)]
struct State {
    /// One per rule, in the same order as `Sampler::rules`.
    reservoirs: Vec<Reservoir>,
    rejected: RejectedStatistics,
}

/// One rule's clients and counters.
#[derive(Debug, Default)]
struct Reservoir {
    /// In order of first report, which decides who takes the remainder of an uneven split.
    clients: Vec<Client>,
    request_count: u64,
    sampled_count: u64,
    borrow_count: u64,
    clients_over_limit: u64,
}

#[derive(Debug)]
struct Client {
    id: String,
    last_report_secs: u64,
    /// The latest grant, in force up to and including `quota_ttl_secs` (the SDKs compare
    /// `TTL >= now` in whole seconds).
    quota: u32,
    quota_ttl_secs: u64,
}

/// One `SamplingStatisticsDocument`, its types checked.
#[derive(Debug)]
struct StatisticsDocument {
    rule_name: String,
    client_id: String,
    request_count: u64,
    sampled_count: u64,
    borrow_count: u64,
}

impl Sampler {
    /// The `Default` rule (changed by a `RuleName: "Default"` entry) plus `rules`, built at `now`;
    /// fails with every problem [`validate_rules`] finds.
    pub fn new(rules: &[SamplingRuleConfig], now: SystemTime) -> Result<Sampler, Vec<String>> {
        let problems = validate_rules(rules);
        if !problems.is_empty() {
            return Err(problems);
        }
        let mut resolved = vec![Rule::default_rule()];
        for config in rules {
            if config.rule_name == DEFAULT_RULE_NAME {
                resolved[0].fixed_rate = config.fixed_rate;
                resolved[0].reservoir_size = config.reservoir_size as u32; // validated: 0..=i32::MAX
            } else {
                resolved.push(Rule::from_config(config));
            }
        }
        resolved.sort_by(|a, b| a.priority.cmp(&b.priority).then_with(|| a.name.cmp(&b.name)));
        let state = State {
            reservoirs: resolved.iter().map(|_| Reservoir::default()).collect(),
            rejected: RejectedStatistics::default(),
        };
        Ok(Sampler {
            rules: resolved,
            built_at_secs: epoch_secs(now),
            state: Mutex::new(state),
        })
    }

    /// The GetSamplingRules response body: every rule, in one page (no `NextToken`).
    pub fn rules_response(&self) -> Value {
        let records: Vec<Value> = self
            .rules
            .iter()
            .map(|rule| {
                json!({
                    "SamplingRule": {
                        "RuleName": rule.name,
                        "RuleARN": format!("{RULE_ARN_PREFIX}{}", rule.name),
                        "ResourceARN": rule.resource_arn,
                        "Priority": rule.priority,
                        "FixedRate": rule.fixed_rate,
                        "ReservoirSize": rule.reservoir_size,
                        "ServiceName": rule.service_name,
                        "ServiceType": rule.service_type,
                        "Host": rule.host,
                        "HTTPMethod": rule.http_method,
                        "URLPath": rule.url_path,
                        "Version": rule.version,
                        "Attributes": rule.attributes,
                    },
                    "CreatedAt": self.built_at_secs,
                    "ModifiedAt": self.built_at_secs,
                })
            })
            .collect();
        json!({ "SamplingRuleRecords": records })
    }

    /// The SamplingTargets response body for the request `request`, received at `now`: a target
    /// for each statistics document of a known rule from a well-formed `ClientID`, and an
    /// `UnprocessedStatistics` entry (ErrorCode "400") for each other one. Fails, changing nothing,
    /// when the body is not a GetSamplingTargets request (fields missing or of the wrong type, more
    /// than [`MAX_STATISTICS_DOCUMENTS`] documents). Unknown fields, such as newer SDKs'
    /// `SamplingBoostStatisticsDocuments`, are ignored.
    pub fn targets_response(&self, request: &[u8], now: SystemTime) -> Result<Value, SamplingError> {
        let documents = parse_targets_request(request)?;
        let now_secs = epoch_secs(now);
        let mut guard = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        let state = &mut *guard;
        for reservoir in &mut state.reservoirs {
            reservoir.forget_silent_clients(now_secs);
        }

        let mut targets = Vec::new();
        let mut unprocessed = Vec::new();
        for document in documents {
            let rule_index = self.rules.iter().position(|rule| rule.name == document.rule_name);
            let refusal = if !is_client_id(&document.client_id) {
                state.rejected.invalid_client_id += 1;
                "ClientID must be 24 hexadecimal digits"
            } else if let Some(index) = rule_index {
                let rule = &self.rules[index];
                let reservoir = &mut state.reservoirs[index];
                reservoir.count(&document);
                let quota = reservoir.grant(&document.client_id, rule.reservoir_size, now_secs);
                targets.push(json!({
                    "RuleName": rule.name,
                    "FixedRate": rule.fixed_rate,
                    "ReservoirQuota": quota,
                    "ReservoirQuotaTTL": now_secs.saturating_add(QUOTA_TTL_SECS),
                    "Interval": TARGET_INTERVAL_SECS,
                }));
                continue;
            } else {
                state.rejected.unknown_rule += 1;
                "no sampling rule has this name"
            };
            unprocessed.push(json!({
                "RuleName": document.rule_name,
                "ErrorCode": "400",
                "Message": refusal,
            }));
        }
        Ok(json!({
            "SamplingTargetDocuments": targets,
            "LastRuleModification": self.built_at_secs,
            "UnprocessedStatistics": unprocessed,
        }))
    }

    /// Every rule's counters, in rule order.
    pub fn statistics(&self) -> Vec<RuleStatistics> {
        let state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        self.rules
            .iter()
            .zip(&state.reservoirs)
            .map(|(rule, reservoir)| RuleStatistics {
                rule_name: rule.name.clone(),
                priority: rule.priority,
                fixed_rate: rule.fixed_rate,
                reservoir_size: rule.reservoir_size,
                request_count: reservoir.request_count,
                sampled_count: reservoir.sampled_count,
                borrow_count: reservoir.borrow_count,
                active_clients: reservoir.clients.len(),
                clients_over_limit: reservoir.clients_over_limit,
            })
            .collect()
    }

    /// How many statistics documents were answered in `UnprocessedStatistics`, by reason.
    pub fn rejected(&self) -> RejectedStatistics {
        self.state.lock().unwrap_or_else(PoisonError::into_inner).rejected
    }
}

impl Rule {
    fn default_rule() -> Rule {
        Rule {
            name: DEFAULT_RULE_NAME.to_string(),
            priority: DEFAULT_RULE_PRIORITY,
            fixed_rate: 0.05,
            reservoir_size: 1,
            service_name: wildcard(),
            service_type: wildcard(),
            host: wildcard(),
            http_method: wildcard(),
            url_path: wildcard(),
            resource_arn: wildcard(),
            version: 1,
            attributes: BTreeMap::new(),
        }
    }

    /// `config` after [`validate_rules`] passed it.
    fn from_config(config: &SamplingRuleConfig) -> Rule {
        Rule {
            name: config.rule_name.clone(),
            priority: config.priority.map_or(DEFAULT_RULE_PRIORITY, |p| p as u16),
            fixed_rate: config.fixed_rate,
            reservoir_size: config.reservoir_size as u32,
            service_name: config.service_name.clone(),
            service_type: config.service_type.clone(),
            host: config.host.clone(),
            http_method: config.http_method.clone(),
            url_path: config.url_path.clone(),
            resource_arn: config.resource_arn.clone(),
            version: config.version,
            attributes: config.attributes.clone(),
        }
    }
}

impl Reservoir {
    /// Drops clients that have not reported for [`CLIENT_TTL_SECS`]; their grants have expired.
    fn forget_silent_clients(&mut self, now_secs: u64) {
        self.clients
            .retain(|client| now_secs < client.last_report_secs.saturating_add(CLIENT_TTL_SECS));
    }

    fn count(&mut self, document: &StatisticsDocument) {
        self.request_count = self.request_count.saturating_add(document.request_count);
        self.sampled_count = self.sampled_count.saturating_add(document.sampled_count);
        self.borrow_count = self.borrow_count.saturating_add(document.borrow_count);
    }

    /// `client_id`'s new quota of a `size` reservoir: its share (`size / clients`, plus one for
    /// the first `size % clients` clients), but no more than the others' grants in force leave.
    /// Replaces its previous grant, as the SDK does when it loads the target.
    fn grant(&mut self, client_id: &str, size: u32, now_secs: u64) -> u32 {
        let index = if let Some(index) = self.clients.iter().position(|c| c.id == client_id) {
            index
        } else {
            if self.clients.len() >= MAX_CLIENTS_PER_RULE {
                self.clients_over_limit += 1;
                return 0;
            }
            self.clients.push(Client {
                id: client_id.to_string(),
                last_report_secs: now_secs,
                quota: 0,
                quota_ttl_secs: 0,
            });
            self.clients.len() - 1
        };
        // At most MAX_CLIENTS_PER_RULE, so these fit.
        let (clients, position) = (self.clients.len() as u32, index as u32);
        let share = size / clients + u32::from(position < size % clients);
        let held_by_others: u64 = self
            .clients
            .iter()
            .enumerate()
            .filter(|&(i, c)| i != index && c.quota_ttl_secs >= now_secs)
            .map(|(_, c)| u64::from(c.quota))
            .sum();
        let left = u64::from(size).saturating_sub(held_by_others);
        let quota = share.min(u32::try_from(left).unwrap_or(u32::MAX));

        let client = &mut self.clients[index];
        client.last_report_secs = now_secs;
        client.quota = quota;
        client.quota_ttl_secs = now_secs.saturating_add(QUOTA_TTL_SECS);
        quota
    }
}

/// The SDKs make a ClientID from 12 random bytes in hex.
fn is_client_id(id: &str) -> bool {
    id.len() == 24 && id.bytes().all(|b| b.is_ascii_hexdigit())
}

fn epoch_secs(time: SystemTime) -> u64 {
    time.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

const DOCUMENTS_FIELD: &str = "SamplingStatisticsDocuments";

/// Every document of a GetSamplingTargets request, or the first thing wrong with it.
fn parse_targets_request(body: &[u8]) -> Result<Vec<StatisticsDocument>, SamplingError> {
    let root: Value = serde_json::from_slice(body).map_err(|e| SamplingError::NotJson(e.to_string()))?;
    let Value::Object(root) = root else {
        return Err(SamplingError::NotAnObject(describe(&root)));
    };
    let documents = match present(&root, DOCUMENTS_FIELD) {
        Some(Value::Array(documents)) => documents,
        Some(other) => {
            return Err(invalid(
                DOCUMENTS_FIELD,
                format!("must be an array, got {}", describe(other)),
            ))
        }
        None => return Err(invalid(DOCUMENTS_FIELD, "is required".to_string())),
    };
    if documents.len() > MAX_STATISTICS_DOCUMENTS {
        return Err(SamplingError::TooManyDocuments(documents.len()));
    }
    documents
        .iter()
        .enumerate()
        .map(|(index, document)| parse_statistics_document(index, document))
        .collect()
}

fn parse_statistics_document(index: usize, document: &Value) -> Result<StatisticsDocument, SamplingError> {
    let at = format!("{DOCUMENTS_FIELD}[{index}]");
    let Value::Object(document) = document else {
        return Err(invalid(
            &at,
            format!("must be an object, got {}", describe(document)),
        ));
    };
    let text = |name: &str| match present(document, name) {
        Some(Value::String(s)) => Ok(s.clone()),
        Some(other) => Err(invalid(
            &format!("{at}.{name}"),
            format!("must be a string, got {}", describe(other)),
        )),
        None => Err(invalid(&format!("{at}.{name}"), "is required".to_string())),
    };
    let count = |name: &str, required: bool| match present(document, name) {
        Some(value) => value.as_u64().ok_or_else(|| {
            invalid(
                &format!("{at}.{name}"),
                format!("must be a whole number of 0 or more, got {}", describe(value)),
            )
        }),
        None if required => Err(invalid(&format!("{at}.{name}"), "is required".to_string())),
        None => Ok(0),
    };
    match present(document, "Timestamp") {
        Some(Value::Number(_)) => {}
        Some(other) => {
            return Err(invalid(
                &format!("{at}.Timestamp"),
                format!("must be a number (epoch seconds), got {}", describe(other)),
            ))
        }
        None => return Err(invalid(&format!("{at}.Timestamp"), "is required".to_string())),
    }
    Ok(StatisticsDocument {
        rule_name: text("RuleName")?,
        client_id: text("ClientID")?,
        request_count: count("RequestCount", true)?,
        sampled_count: count("SampledCount", true)?,
        borrow_count: count("BorrowCount", false)?,
    })
}

/// The field's value, a JSON `null` counting as absent.
fn present<'a>(object: &'a Map<String, Value>, name: &str) -> Option<&'a Value> {
    object.get(name).filter(|value| !value.is_null())
}

fn invalid(field: &str, problem: String) -> SamplingError {
    SamplingError::InvalidField {
        field: field.to_string(),
        problem,
    }
}

/// What a value is, for an error message; never the text of a string, which could be anything.
fn describe(value: &Value) -> String {
    match value {
        Value::Null => "null".to_string(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::String(_) => "a string".to_string(),
        Value::Array(_) => "an array".to_string(),
        Value::Object(_) => "an object".to_string(),
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;
    use std::time::{Duration, SystemTime, UNIX_EPOCH};

    use serde_json::{json, Value};

    use super::{
        validate_rules, RejectedStatistics, RuleStatistics, Sampler, SamplingError, SamplingRuleConfig,
        CLIENT_TTL_SECS, MAX_CLIENTS_PER_RULE,
    };

    const T0: u64 = 1_700_000_000;

    fn at(secs: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(secs)
    }

    fn rule(config: Value) -> SamplingRuleConfig {
        serde_json::from_value(config).unwrap()
    }

    fn sampler_with_reservoir(size: u32) -> Sampler {
        let rules = [rule(
            json!({"RuleName": "r", "Priority": 1, "FixedRate": 0.1, "ReservoirSize": size}),
        )];
        Sampler::new(&rules, at(T0)).unwrap()
    }

    fn client(n: usize) -> String {
        format!("{n:024x}")
    }

    fn report(rule_name: &str, client_id: &str) -> Vec<u8> {
        json!({"SamplingStatisticsDocuments": [{
            "RuleName": rule_name, "ClientID": client_id, "Timestamp": T0,
            "RequestCount": 10, "SampledCount": 2, "BorrowCount": 1,
        }]})
        .to_string()
        .into_bytes()
    }

    /// The quota `client_id` is granted for rule "r" at `secs`.
    fn quota(sampler: &Sampler, client_id: &str, secs: u64) -> u32 {
        let response = sampler
            .targets_response(&report("r", client_id), at(secs))
            .unwrap();
        let target = &response["SamplingTargetDocuments"][0];
        assert_eq!(target["ReservoirQuotaTTL"], json!(secs + 10));
        target["ReservoirQuota"].as_u64().unwrap() as u32
    }

    fn statistics_of(sampler: &Sampler, name: &str) -> RuleStatistics {
        sampler
            .statistics()
            .into_iter()
            .find(|s| s.rule_name == name)
            .unwrap()
    }

    #[test]
    fn with_no_rules_configured_the_default_rule_is_served_as_aws_shapes_it() {
        let sampler = Sampler::new(&[], at(T0)).unwrap();
        assert_eq!(
            sampler.rules_response(),
            json!({"SamplingRuleRecords": [{
                "SamplingRule": {
                    "RuleName": "Default",
                    "RuleARN": "arn:aws:xray:local:000000000000:sampling-rule/Default",
                    "ResourceARN": "*",
                    "Priority": 10000,
                    "FixedRate": 0.05,
                    "ReservoirSize": 1,
                    "ServiceName": "*",
                    "ServiceType": "*",
                    "Host": "*",
                    "HTTPMethod": "*",
                    "URLPath": "*",
                    "Version": 1,
                    "Attributes": {},
                },
                "CreatedAt": T0,
                "ModifiedAt": T0,
            }]})
        );
    }

    #[test]
    fn rules_are_listed_by_priority_then_name_with_default_last() {
        let rules = [
            rule(json!({"RuleName": "slow", "Priority": 50, "FixedRate": 0.5, "ReservoirSize": 2})),
            rule(
                json!({"RuleName": "b-health", "Priority": 5, "FixedRate": 0.0, "ReservoirSize": 0,
                        "URLPath": "/health", "HTTPMethod": "GET"}),
            ),
            rule(json!({"RuleName": "a-health", "Priority": 5, "FixedRate": 0.0, "ReservoirSize": 0})),
        ];
        let response = Sampler::new(&rules, at(T0)).unwrap().rules_response();
        let records = response["SamplingRuleRecords"].as_array().unwrap();
        let listed: Vec<(&str, u64)> = records
            .iter()
            .map(|r| {
                let rule = &r["SamplingRule"];
                (
                    rule["RuleName"].as_str().unwrap(),
                    rule["Priority"].as_u64().unwrap(),
                )
            })
            .collect();
        assert_eq!(
            listed,
            [("a-health", 5), ("b-health", 5), ("slow", 50), ("Default", 10000)]
        );
        let health = &records[1]["SamplingRule"];
        assert_eq!(health["URLPath"], "/health");
        assert_eq!(health["HTTPMethod"], "GET");
        assert_eq!(health["Host"], "*");
        assert_eq!(
            health["RuleARN"],
            "arn:aws:xray:local:000000000000:sampling-rule/b-health"
        );
    }

    #[test]
    fn the_default_rule_takes_its_rate_and_reservoir_from_config() {
        let rules = [rule(
            json!({"RuleName": "Default", "FixedRate": 0.01, "ReservoirSize": 0}),
        )];
        let response = Sampler::new(&rules, at(T0)).unwrap().rules_response();
        let records = response["SamplingRuleRecords"].as_array().unwrap();
        assert_eq!(records.len(), 1);
        assert_eq!(records[0]["SamplingRule"]["FixedRate"], json!(0.01));
        assert_eq!(records[0]["SamplingRule"]["ReservoirSize"], json!(0));
        assert_eq!(records[0]["SamplingRule"]["Priority"], json!(10000));
    }

    #[test]
    fn rules_pasted_from_get_sampling_rules_load_and_unknown_fields_do_not() {
        // One SamplingRule as `aws xray get-sampling-rules` prints it, RuleARN and all.
        let pasted = rule(json!({
            "RuleName": "checkout", "RuleARN": "arn:aws:xray:us-east-1:123456789012:sampling-rule/checkout",
            "ResourceARN": "*", "Priority": 100, "FixedRate": 0.2, "ReservoirSize": 3,
            "ServiceName": "shop", "ServiceType": "AWS::EC2::Instance", "Host": "*",
            "HTTPMethod": "POST", "URLPath": "/checkout*", "Version": 1, "Attributes": {},
        }));
        let minimal = rule(
            json!({"RuleName": "checkout", "Priority": 100, "FixedRate": 0.2, "ReservoirSize": 3,
                                  "ServiceName": "shop", "ServiceType": "AWS::EC2::Instance",
                                  "HTTPMethod": "POST", "URLPath": "/checkout*"}),
        );
        assert_eq!(
            SamplingRuleConfig {
                rule_arn: None,
                ..pasted.clone()
            },
            minimal
        );
        let response = Sampler::new(&[pasted], at(T0)).unwrap().rules_response();
        assert_eq!(
            response["SamplingRuleRecords"][0]["SamplingRule"]["RuleARN"],
            "arn:aws:xray:local:000000000000:sampling-rule/checkout"
        );

        let typo = serde_json::from_value::<SamplingRuleConfig>(
            json!({"RuleName": "x", "Priority": 1, "FixedRate": 0.1, "ReservoirSize": 1, "UrlPath": "/"}),
        );
        assert!(typo
            .unwrap_err()
            .to_string()
            .starts_with("unknown field `UrlPath`"));
    }

    #[test]
    fn validation_reports_every_problem_with_its_rule_and_field() {
        let rules = [
            rule(json!({"RuleName": "", "Priority": 0, "FixedRate": 1.5, "ReservoirSize": -1})),
            rule(
                json!({"RuleName": "api", "Priority": 10, "FixedRate": 0.1, "ReservoirSize": 1,
                        "HTTPMethod": "PROPPATCHES", "Version": 0}),
            ),
            rule(json!({"RuleName": "api", "FixedRate": 0.1, "ReservoirSize": 1})),
            rule(
                json!({"RuleName": "Default", "Priority": 5, "FixedRate": 0.2, "ReservoirSize": 2,
                        "Host": "example.com", "Attributes": {"k": "v"}}),
            ),
            rule(
                json!({"RuleName": "a".repeat(33), "Priority": 1, "FixedRate": 0.0, "ReservoirSize": 0,
                        "Attributes": {"k": ""}}),
            ),
        ];
        let long = format!("{:?}", "a".repeat(33));
        assert_eq!(
            validate_rules(&rules),
            [
                "rules[0] \"\": RuleName must be 1 to 32 characters, got 0".to_string(),
                "rules[0] \"\": Priority must be between 1 and 9999, got 0".to_string(),
                "rules[0] \"\": FixedRate must be between 0 and 1, got 1.5".to_string(),
                "rules[0] \"\": ReservoirSize must be between 0 and 2147483647, got -1".to_string(),
                "rules[1] \"api\": HTTPMethod must be at most 10 characters, got 11".to_string(),
                "rules[1] \"api\": Version must be 1 or more, got 0".to_string(),
                "rules[2] \"api\": RuleName is already the name of rules[1]".to_string(),
                "rules[2] \"api\": Priority is required (1 to 9999)".to_string(),
                "rules[3] \"Default\": Priority is fixed at 10000 for the Default rule, got 5".to_string(),
                "rules[3] \"Default\": Host is fixed at \"*\" for the Default rule, got \"example.com\""
                    .to_string(),
                "rules[3] \"Default\": Attributes must be empty for the Default rule".to_string(),
                format!("rules[4] {long}: RuleName must be 1 to 32 characters, got 33"),
                format!("rules[4] {long}: Attributes[\"k\"] must be 1 to 32 characters, got 0"),
            ]
        );
        assert_eq!(Sampler::new(&rules, at(T0)).unwrap_err().len(), 13);
    }

    #[test]
    fn a_target_carries_the_rule_rate_a_ttl_ten_seconds_on_and_interval_ten() {
        let sampler = sampler_with_reservoir(3);
        let response = sampler
            .targets_response(&report("r", &client(1)), at(T0 + 100))
            .unwrap();
        assert_eq!(
            response,
            json!({
                "SamplingTargetDocuments": [{
                    "RuleName": "r", "FixedRate": 0.1, "ReservoirQuota": 3,
                    "ReservoirQuotaTTL": T0 + 110, "Interval": 10,
                }],
                "LastRuleModification": T0,
                "UnprocessedStatistics": [],
            })
        );
    }

    #[test]
    fn the_reservoir_is_split_among_one_two_and_three_clients_and_the_total_never_exceeds_it() {
        for size in 0..=10 {
            for clients in 1..=3 {
                let sampler = sampler_with_reservoir(size);
                let mut last_round = Vec::new();
                // Each client polls every 10 s, a second after the one before it.
                for round in 0..3 {
                    last_round.clear();
                    for k in 0..clients {
                        last_round.push(quota(&sampler, &client(k), T0 + 10 * round + k as u64));
                    }
                }
                // The first `size % clients` clients take one more than the rest.
                let expected: Vec<u32> = (0..clients)
                    .map(|k| size / clients as u32 + u32::from((k as u32) < size % clients as u32))
                    .collect();
                assert_eq!(last_round, expected, "ReservoirSize {size}, {clients} clients");
                assert_eq!(last_round.iter().sum::<u32>(), size);
                assert_eq!(statistics_of(&sampler, "r").active_clients, clients);
            }
        }
    }

    #[test]
    fn a_newcomer_waits_for_earlier_grants_to_expire_before_taking_its_share() {
        let sampler = sampler_with_reservoir(5);
        assert_eq!(quota(&sampler, &client(1), T0), 5);
        // The first client holds all 5 until T0 + 10.
        assert_eq!(quota(&sampler, &client(2), T0 + 1), 0);
        assert_eq!(quota(&sampler, &client(1), T0 + 10), 3);
        assert_eq!(quota(&sampler, &client(2), T0 + 11), 2);
        assert_eq!(quota(&sampler, &client(1), T0 + 20), 3);
    }

    #[test]
    fn grants_in_force_never_exceed_the_reservoir_under_random_polling() {
        let mut rng = fastrand::Rng::with_seed(17);
        for _ in 0..40 {
            let size = rng.u32(0..8);
            let sampler = sampler_with_reservoir(size);
            let mut grants: HashMap<String, (u32, u64)> = HashMap::new();
            let mut now = T0;
            for _ in 0..150 {
                now += rng.u64(0..5);
                let id = client(rng.usize(0..5));
                let granted = quota(&sampler, &id, now);
                grants.insert(id, (granted, now + 10));
                for second in now..=now + 10 {
                    let in_force: u32 = grants
                        .values()
                        .filter(|(_, ttl)| *ttl >= second)
                        .map(|(q, _)| q)
                        .sum();
                    assert!(
                        in_force <= size,
                        "{in_force} in force at {second}, reservoir {size}"
                    );
                }
            }
        }
    }

    #[test]
    fn a_client_that_stops_reporting_ages_out_and_its_share_returns() {
        let sampler = sampler_with_reservoir(4);
        let (a, b) = (client(1), client(2));
        assert_eq!(quota(&sampler, &a, T0), 4);
        assert_eq!(quota(&sampler, &b, T0 + 1), 0);
        assert_eq!(quota(&sampler, &a, T0 + 10), 2);
        assert_eq!(quota(&sampler, &b, T0 + 11), 2);
        // b stops reporting. Its grant is in force until T0 + 21 and it still counts until T0 + 31.
        assert_eq!(quota(&sampler, &a, T0 + 20), 2);
        assert_eq!(quota(&sampler, &a, T0 + 30), 2);
        assert_eq!(statistics_of(&sampler, "r").active_clients, 2);
        assert_eq!(T0 + 11 + CLIENT_TTL_SECS, T0 + 31);
        assert_eq!(quota(&sampler, &a, T0 + 40), 4);
        assert_eq!(statistics_of(&sampler, "r").active_clients, 1);
    }

    #[test]
    fn clients_past_the_limit_get_no_reservoir_and_are_counted() {
        let sampler = sampler_with_reservoir(2000);
        for k in 0..MAX_CLIENTS_PER_RULE {
            quota(&sampler, &client(k), T0);
        }
        assert_eq!(quota(&sampler, &client(MAX_CLIENTS_PER_RULE), T0), 0);
        let statistics = statistics_of(&sampler, "r");
        assert_eq!(statistics.active_clients, MAX_CLIENTS_PER_RULE);
        assert_eq!(statistics.clients_over_limit, 1);
    }

    #[test]
    fn unknown_rules_and_bad_client_ids_are_unprocessed_with_error_code_400() {
        let sampler = sampler_with_reservoir(1);
        let body = json!({"SamplingStatisticsDocuments": [
            {"RuleName": "nope", "ClientID": client(1), "Timestamp": T0, "RequestCount": 1, "SampledCount": 1},
            {"RuleName": "r", "ClientID": "not-a-client-id", "Timestamp": T0, "RequestCount": 1, "SampledCount": 1},
            {"RuleName": "r", "ClientID": "zz0000000000000000000000", "Timestamp": T0, "RequestCount": 1,
             "SampledCount": 1},
            {"RuleName": "r", "ClientID": client(1), "Timestamp": T0, "RequestCount": 4, "SampledCount": 1},
        ]});
        let response = sampler
            .targets_response(body.to_string().as_bytes(), at(T0))
            .unwrap();
        assert_eq!(
            response["UnprocessedStatistics"],
            json!([
                {"RuleName": "nope", "ErrorCode": "400", "Message": "no sampling rule has this name"},
                {"RuleName": "r", "ErrorCode": "400", "Message": "ClientID must be 24 hexadecimal digits"},
                {"RuleName": "r", "ErrorCode": "400", "Message": "ClientID must be 24 hexadecimal digits"},
            ])
        );
        let targets = response["SamplingTargetDocuments"].as_array().unwrap();
        assert_eq!(targets.len(), 1);
        assert_eq!(targets[0]["RuleName"], "r");
        assert_eq!(
            sampler.rejected(),
            RejectedStatistics {
                unknown_rule: 1,
                invalid_client_id: 2
            }
        );
        // Only the processed document counts.
        assert_eq!(statistics_of(&sampler, "r").request_count, 4);
    }

    #[test]
    fn reported_counts_add_up_per_rule_and_saturate() {
        let rules = [rule(
            json!({"RuleName": "r", "Priority": 1, "FixedRate": 0.1, "ReservoirSize": 1}),
        )];
        let sampler = Sampler::new(&rules, at(T0)).unwrap();
        sampler
            .targets_response(&report("r", &client(1)), at(T0))
            .unwrap();
        sampler
            .targets_response(&report("r", &client(2)), at(T0 + 1))
            .unwrap();
        sampler
            .targets_response(&report("Default", &client(1)), at(T0 + 2))
            .unwrap();
        assert_eq!(
            sampler.statistics(),
            [
                RuleStatistics {
                    rule_name: "r".to_string(),
                    priority: 1,
                    fixed_rate: 0.1,
                    reservoir_size: 1,
                    request_count: 20,
                    sampled_count: 4,
                    borrow_count: 2,
                    active_clients: 2,
                    clients_over_limit: 0,
                },
                RuleStatistics {
                    rule_name: "Default".to_string(),
                    priority: 10000,
                    fixed_rate: 0.05,
                    reservoir_size: 1,
                    request_count: 10,
                    sampled_count: 2,
                    borrow_count: 1,
                    active_clients: 1,
                    clients_over_limit: 0,
                },
            ]
        );

        let huge = json!({"SamplingStatisticsDocuments": [
            {"RuleName": "r", "ClientID": client(1), "Timestamp": T0, "RequestCount": u64::MAX, "SampledCount": 0},
        ]})
        .to_string();
        sampler.targets_response(huge.as_bytes(), at(T0 + 3)).unwrap();
        assert_eq!(statistics_of(&sampler, "r").request_count, u64::MAX);
    }

    #[test]
    fn malformed_requests_are_errors_with_a_message_naming_the_field() {
        let sampler = sampler_with_reservoir(1);
        let document = |field: &str, value: Value| {
            let mut document = json!({"RuleName": "r", "ClientID": client(1), "Timestamp": T0,
                                      "RequestCount": 1, "SampledCount": 1, "BorrowCount": 0});
            if value.is_null() {
                document.as_object_mut().unwrap().remove(field);
            } else {
                document[field] = value;
            }
            json!({"SamplingStatisticsDocuments": [document]}).to_string()
        };
        let cases: Vec<(String, &str, &str)> = vec![
            (
                String::new(),
                "not_json",
                "the request body is not JSON: EOF while parsing a value at line 1 column 0",
            ),
            (
                "{\"Sampling".into(),
                "not_json",
                "the request body is not JSON: EOF while parsing a string at line 1 column 10",
            ),
            (
                "[1]".into(),
                "not_an_object",
                "the request body must be a JSON object, got an array",
            ),
            (
                "{}".into(),
                "invalid_field",
                "SamplingStatisticsDocuments is required",
            ),
            (
                "{\"SamplingStatisticsDocuments\": null}".into(),
                "invalid_field",
                "SamplingStatisticsDocuments is required",
            ),
            (
                "{\"SamplingStatisticsDocuments\": {}}".into(),
                "invalid_field",
                "SamplingStatisticsDocuments must be an array, got an object",
            ),
            (
                "{\"SamplingStatisticsDocuments\": [7]}".into(),
                "invalid_field",
                "SamplingStatisticsDocuments[0] must be an object, got 7",
            ),
            (
                document("RuleName", Value::Null),
                "invalid_field",
                "SamplingStatisticsDocuments[0].RuleName is required",
            ),
            (
                document("ClientID", json!(12)),
                "invalid_field",
                "SamplingStatisticsDocuments[0].ClientID must be a string, got 12",
            ),
            (
                document("Timestamp", json!("2024-01-01")),
                "invalid_field",
                "SamplingStatisticsDocuments[0].Timestamp must be a number (epoch seconds), got a string",
            ),
            (
                document("Timestamp", Value::Null),
                "invalid_field",
                "SamplingStatisticsDocuments[0].Timestamp is required",
            ),
            (
                document("RequestCount", json!(-1)),
                "invalid_field",
                "SamplingStatisticsDocuments[0].RequestCount must be a whole number of 0 or more, got -1",
            ),
            (
                document("SampledCount", json!(1.5)),
                "invalid_field",
                "SamplingStatisticsDocuments[0].SampledCount must be a whole number of 0 or more, got 1.5",
            ),
            (
                document("BorrowCount", json!(true)),
                "invalid_field",
                "SamplingStatisticsDocuments[0].BorrowCount must be a whole number of 0 or more, got true",
            ),
        ];
        for (body, reason, message) in cases {
            let error = sampler.targets_response(body.as_bytes(), at(T0)).unwrap_err();
            assert_eq!(
                (error.reason(), error.to_string().as_str()),
                (reason, message),
                "body {body}"
            );
        }
        // BorrowCount is optional; unknown fields (newer SDKs' boost statistics) are ignored.
        let mut lenient: Value = serde_json::from_str(&document("BorrowCount", Value::Null)).unwrap();
        lenient["SamplingBoostStatisticsDocuments"] = json!([]);
        assert!(sampler
            .targets_response(lenient.to_string().as_bytes(), at(T0))
            .is_ok());
    }

    #[test]
    fn more_than_25_documents_is_an_error() {
        let sampler = sampler_with_reservoir(1);
        let document = json!({"RuleName": "r", "ClientID": client(1), "Timestamp": T0,
                              "RequestCount": 1, "SampledCount": 1});
        let body = |n: usize| json!({"SamplingStatisticsDocuments": vec![document.clone(); n]}).to_string();
        assert!(sampler.targets_response(body(25).as_bytes(), at(T0)).is_ok());
        let error = sampler.targets_response(body(26).as_bytes(), at(T0)).unwrap_err();
        assert_eq!(error, SamplingError::TooManyDocuments(26));
        assert_eq!(
            error.to_string(),
            "26 SamplingStatisticsDocuments, more than the 25 one request may carry"
        );
    }

    #[test]
    fn a_rejected_request_changes_nothing() {
        let sampler = sampler_with_reservoir(1);
        let body = json!({"SamplingStatisticsDocuments": [
            {"RuleName": "r", "ClientID": client(1), "Timestamp": T0, "RequestCount": 5, "SampledCount": 1},
            {"RuleName": "r", "ClientID": client(2), "Timestamp": T0, "RequestCount": "5", "SampledCount": 1},
        ]});
        assert!(sampler
            .targets_response(body.to_string().as_bytes(), at(T0))
            .is_err());
        let statistics = statistics_of(&sampler, "r");
        assert_eq!((statistics.request_count, statistics.active_clients), (0, 0));
    }

    #[test]
    fn random_and_mutated_bodies_never_panic() {
        let sampler = sampler_with_reservoir(3);
        let valid = json!({"SamplingStatisticsDocuments": [
            {"RuleName": "r", "ClientID": client(1), "Timestamp": T0, "RequestCount": 5, "SampledCount": 1,
             "BorrowCount": 0},
            {"RuleName": "Default", "ClientID": client(2), "Timestamp": 1.7e9, "RequestCount": 0,
             "SampledCount": 0},
        ]})
        .to_string()
        .into_bytes();
        let interesting = b"{}[]\":,.-+0123456789eEnulltrfasRC \\\xff";
        let mut rng = fastrand::Rng::with_seed(5);
        for i in 0..5000u64 {
            let body: Vec<u8> = if i % 5 == 0 {
                (0..rng.usize(0..64)).map(|_| rng.u8(..)).collect()
            } else {
                let mut body = valid.clone();
                for _ in 0..rng.usize(1..4) {
                    let at = rng.usize(0..body.len());
                    match rng.u8(0..3) {
                        0 => body[at] = interesting[rng.usize(0..interesting.len())],
                        1 => body.insert(at, interesting[rng.usize(0..interesting.len())]),
                        _ if body.len() > 1 => {
                            body.remove(at);
                        }
                        _ => {}
                    }
                }
                body
            };
            if let Ok(response) = sampler.targets_response(&body, at(T0 + i / 10)) {
                let answered = response["SamplingTargetDocuments"].as_array().unwrap().len()
                    + response["UnprocessedStatistics"].as_array().unwrap().len();
                assert!(answered <= 25);
            }
        }
        assert!(sampler
            .statistics()
            .iter()
            .all(|s| s.active_clients <= MAX_CLIENTS_PER_RULE));
    }
}
