//! Running a query on CloudWatch Logs Insights itself (`logq --log-group`), at the edge of
//! logq: the query engine (`skywatch-query`) stays free of the AWS SDK and of async, so the
//! dashboards can check widget queries with its parser without linking either.
//!
//! Design decision: the service runs the query; this module only starts it, waits for it and turns
//! its rows into our [`Value`] rows, so local and remote results print through the same code. The
//! query text is sent as written: it is not parsed here, because the service's language moves
//! faster than ours and its own compile errors (with their character offsets) are the ones to show.
//!
//! Waiting is polling `GetQueryResults` with a capped exponential backoff; the SDK's retry policy
//! handles throttling and transient failures of each call. Partial rows that come with `Running` are
//! ignored: only the final status decides. A cancelled run stops the query on the service, so it
//! does not keep counting against the account's concurrent-query quota.

use std::error::Error;
use std::fmt;
use std::future::Future;
use std::time::Duration;

use aws_sdk_cloudwatchlogs::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_cloudwatchlogs::operation::get_query_results::GetQueryResultsOutput;
use aws_sdk_cloudwatchlogs::operation::start_query::StartQueryError;
use aws_sdk_cloudwatchlogs::types::{QueryStatus, ResultField};
use aws_sdk_cloudwatchlogs::Client;
use skywatch_backoff::Backoff;

use skywatch_query::value::{format_timestamp, Value};

/// Log groups one StartQuery may name in `logGroupNames`.
/// <https://docs.aws.amazon.com/AmazonCloudWatchLogs/latest/APIReference/API_StartQuery.html>
pub const MAX_LOG_GROUPS: usize = 50;

/// The wait before the first GetQueryResults (250 ms); it doubles after every poll, to at most
/// 5 s between two polls.
const POLLS: Backoff = Backoff::new(Duration::from_millis(250), MAX_POLL_DELAY);
/// The longest wait between two polls.
const MAX_POLL_DELAY: Duration = Duration::from_secs(5);
/// After a cancel, how long to wait for StartQuery's answer (to learn which query to stop) and
/// then for StopQuery's. Cancelling is best effort; the user is not kept waiting for it.
const CANCEL_GRACE: Duration = Duration::from_secs(2);

/// A query to run on CloudWatch Logs Insights.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemoteQuery {
    /// The query text, sent as written.
    pub query: String,
    /// Log group names, at most [`MAX_LOG_GROUPS`]; may be empty only if the query starts with
    /// `SOURCE`.
    pub log_groups: Vec<String>,
    /// The start of the time range, epoch seconds, inclusive.
    pub start_s: i64,
    /// The end of the time range, epoch seconds, inclusive.
    pub end_s: i64,
    /// The most rows to return; `None` leaves the service's default (10,000).
    pub limit: Option<i32>,
}

/// What the service reports it scanned. Zeros when it reports nothing.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct RemoteStats {
    /// Events in the time range.
    pub records_scanned: f64,
    /// Events that matched the query, before `limit`.
    pub records_matched: f64,
    /// Bytes of the scanned events.
    pub bytes_scanned: f64,
}

/// The rows of a completed query.
#[derive(Debug, Clone, PartialEq)]
pub struct RemoteResult {
    /// Each row's fields in the service's order; `@ptr` dropped, absent fields omitted.
    pub rows: Vec<Vec<(String, Value)>>,
    /// What the service scanned.
    pub stats: RemoteStats,
}

/// Why a remote query produced no rows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RemoteError {
    /// No log group was given and the query does not choose its own with `SOURCE`.
    NoLogGroups,
    /// More log groups than one query may name; nothing was sent.
    TooManyLogGroups { count: usize },
    /// The time range ends before it starts; nothing was sent.
    EmptyTimeRange { start_s: i64, end_s: i64 },
    /// StartQuery failed: the service refused the query (`code` is its error code, such as
    /// `MalformedQueryException`) or could not be reached (`code` is `None`). `location` is the
    /// character range of a compile error, when the service gives one.
    Start {
        code: Option<String>,
        message: String,
        location: Option<(i32, i32)>,
    },
    /// GetQueryResults failed or answered something unusable.
    Poll { message: String },
    /// The query ended with a status other than `Complete` or `Timeout` (`Failed`, `Cancelled` by
    /// someone else, `Unknown`, or one newer than this code).
    Failed { status: String },
    /// The caller cancelled the run.
    Cancelled,
    /// The service gave up on the query (its time limit is 60 minutes).
    Timeout,
}

impl fmt::Display for RemoteError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RemoteError::NoLogGroups => f.write_str(
                "no log group to query: name at least one log group, or start the query with SOURCE",
            ),
            RemoteError::TooManyLogGroups { count } => write!(
                f,
                "too many log groups: {count} given, but one query can search at most {MAX_LOG_GROUPS}"
            ),
            RemoteError::EmptyTimeRange { start_s, end_s } => write!(
                f,
                "the time range ends ({}) before it starts ({})",
                format_timestamp(end_s.saturating_mul(1000)),
                format_timestamp(start_s.saturating_mul(1000)),
            ),
            RemoteError::Start {
                code,
                message,
                location,
            } => {
                f.write_str("could not start the query: ")?;
                if let Some(code) = code {
                    write!(f, "{code}: ")?;
                }
                f.write_str(message)?;
                if let Some((start, end)) = location {
                    write!(f, " (at characters {start}-{end} of the query)")?;
                }
                Ok(())
            }
            RemoteError::Poll { message } => write!(f, "could not get the query's results: {message}"),
            RemoteError::Failed { status } => {
                write!(f, "CloudWatch Logs ended the query with status {status}")
            }
            RemoteError::Cancelled => f.write_str("the query was cancelled"),
            RemoteError::Timeout => {
                f.write_str("the query timed out on CloudWatch Logs; narrow the time range or the log groups")
            }
        }
    }
}

impl Error for RemoteError {}

/// Starts the query, polls GetQueryResults with backoff (250 ms doubling to 5 s max, plus small
/// jitter) until Complete / Failed / Cancelled / Timeout / Unknown, and returns the rows. If `cancel`
/// resolves first, sends StopQuery (best effort) and returns [`RemoteError::Cancelled`].
///
/// Fails before sending anything when the request is invalid ([`RemoteError::NoLogGroups`],
/// [`RemoteError::TooManyLogGroups`], [`RemoteError::EmptyTimeRange`]).
pub async fn run_remote(
    client: &Client,
    q: &RemoteQuery,
    cancel: impl Future<Output = ()>,
) -> Result<RemoteResult, RemoteError> {
    check_query(q)?;
    let mut cancel = std::pin::pin!(cancel);
    let mut start = std::pin::pin!(client
        .start_query()
        .query_string(&q.query)
        .set_log_group_names((!q.log_groups.is_empty()).then(|| q.log_groups.clone()))
        .start_time(q.start_s)
        .end_time(q.end_s)
        .set_limit(q.limit)
        .send());
    let started = tokio::select! {
        biased;
        () = &mut cancel => {
            // The request may already have started a query; learn its id if that is quick, and
            // stop it, rather than leave it running on the service.
            if let Ok(Ok(started)) = tokio::time::timeout(CANCEL_GRACE, start).await {
                if let Some(query_id) = started.query_id() {
                    stop_query(client, query_id).await;
                }
            }
            return Err(RemoteError::Cancelled);
        }
        started = &mut start => started.map_err(|e| start_error(&e))?,
    };
    let Some(query_id) = started.query_id() else {
        return Err(RemoteError::Start {
            code: None,
            message: "the service answered without a query id".to_string(),
            location: None,
        });
    };
    tokio::select! {
        biased;
        () = &mut cancel => {
            stop_query(client, query_id).await;
            Err(RemoteError::Cancelled)
        }
        result = wait_for_results(client, query_id) => result,
    }
}

/// The checks the service would make anyway, made before sending so the message is ours.
fn check_query(q: &RemoteQuery) -> Result<(), RemoteError> {
    if q.log_groups.is_empty() && !starts_with_source(&q.query) {
        return Err(RemoteError::NoLogGroups);
    }
    if q.log_groups.len() > MAX_LOG_GROUPS {
        return Err(RemoteError::TooManyLogGroups {
            count: q.log_groups.len(),
        });
    }
    if q.start_s > q.end_s {
        return Err(RemoteError::EmptyTimeRange {
            start_s: q.start_s,
            end_s: q.end_s,
        });
    }
    Ok(())
}

/// Whether the query picks its log groups itself (`SOURCE logGroups(...) | ...`).
fn starts_with_source(query: &str) -> bool {
    let query = query.trim_start();
    query
        .get(..6)
        .is_some_and(|word| word.eq_ignore_ascii_case("SOURCE"))
        && query[6..].starts_with(|c: char| c.is_whitespace())
}

async fn wait_for_results(client: &Client, query_id: &str) -> Result<RemoteResult, RemoteError> {
    let mut polls: u32 = 0;
    loop {
        tokio::time::sleep(with_jitter(poll_delay(polls), polls)).await;
        polls = polls.saturating_add(1);
        let out = client
            .get_query_results()
            .query_id(query_id)
            .send()
            .await
            .map_err(|e| poll_error(&e))?;
        match out.status() {
            None => {
                return Err(RemoteError::Poll {
                    message: "the service answered without a query status".to_string(),
                })
            }
            Some(QueryStatus::Scheduled | QueryStatus::Running) => {}
            Some(QueryStatus::Complete) => return collect_pages(client, query_id, &out).await,
            Some(QueryStatus::Timeout) => return Err(RemoteError::Timeout),
            Some(other) => {
                return Err(RemoteError::Failed {
                    status: other.as_str().to_string(),
                })
            }
        }
    }
}

/// The rows of a complete query: the first page, then any further pages (`nextToken`).
async fn collect_pages(
    client: &Client,
    query_id: &str,
    first: &GetQueryResultsOutput,
) -> Result<RemoteResult, RemoteError> {
    let stats = first
        .statistics()
        .map_or_else(RemoteStats::default, |s| RemoteStats {
            records_scanned: s.records_scanned(),
            records_matched: s.records_matched(),
            bytes_scanned: s.bytes_scanned(),
        });
    let mut rows: Vec<_> = first.results().iter().map(|row| convert_row(row)).collect();
    let mut token = first.next_token().map(str::to_string);
    while let Some(current) = token {
        let page = client
            .get_query_results()
            .query_id(query_id)
            .next_token(&current)
            .send()
            .await
            .map_err(|e| poll_error(&e))?;
        rows.extend(page.results().iter().map(|row| convert_row(row)));
        // A service that hands back the token it was given would otherwise loop forever.
        token = page
            .next_token()
            .filter(|next| *next != current)
            .map(str::to_string);
    }
    Ok(RemoteResult { rows, stats })
}

/// Best effort: the run is over either way, so a failed or slow StopQuery is not reported.
async fn stop_query(client: &Client, query_id: &str) {
    let _ = tokio::time::timeout(CANCEL_GRACE, client.stop_query().query_id(query_id).send()).await;
}

/// The wait before poll number `polls` (0-based): 250 ms, doubling, at most 5 s.
fn poll_delay(polls: u32) -> Duration {
    POLLS.nominal(polls)
}

/// `delay` plus up to a tenth more, so many clients started together do not poll in step (a
/// poll never comes sooner than asked). `_poll` names the poll, for the log of a future reader.
fn with_jitter(delay: Duration, _poll: u32) -> Duration {
    skywatch_backoff::stretched(delay, skywatch_backoff::random_unit())
}

fn start_error<R: fmt::Debug + 'static>(err: &SdkError<StartQueryError, R>) -> RemoteError {
    let Some(service) = err.as_service_error() else {
        return RemoteError::Start {
            code: None,
            message: error_chain(err),
            location: None,
        };
    };
    let mut message = service.message().unwrap_or("no message").to_string();
    let mut location = None;
    if let StartQueryError::MalformedQueryException(malformed) = service {
        if let Some(compile) = malformed.query_compile_error() {
            if let Some(detail) = compile.message().filter(|d| !message.contains(d)) {
                message = format!("{message} ({detail})");
            }
            location = compile
                .location()
                .and_then(|l| Some((l.start_char_offset()?, l.end_char_offset()?)));
        }
    }
    RemoteError::Start {
        code: service.code().map(str::to_string),
        message,
        location,
    }
}

fn poll_error<E, R>(err: &SdkError<E, R>) -> RemoteError
where
    E: ProvideErrorMetadata + Error + 'static,
    R: fmt::Debug + 'static,
{
    let service = err.as_service_error();
    let message = match (
        service.and_then(ProvideErrorMetadata::code),
        service.and_then(ProvideErrorMetadata::message),
    ) {
        (Some(code), Some(message)) => format!("{code}: {message}"),
        (Some(code), None) => code.to_string(),
        _ => error_chain(err),
    };
    RemoteError::Poll { message }
}

/// An error and its sources, `outer: inner: innermost`, skipping a source whose text its parent
/// already shows.
fn error_chain(err: &(dyn Error + 'static)) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.ends_with(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}

/// The GetQueryResults rows → our rows: drop `@ptr`; values stay strings (Value::Str) except
/// `@timestamp`, which the service formats "YYYY-MM-DD HH:MM:SS.mmm" (or epoch ms, as moto does) →
/// Value::Time(ms). A field without a name or value is left out; a `@timestamp` in neither form
/// stays a string.
pub fn convert_row(fields: &[ResultField]) -> Vec<(String, Value)> {
    fields
        .iter()
        .filter_map(|field| {
            let name = field.field()?;
            let text = field.value()?;
            let value = match name {
                "@ptr" => return None,
                "@timestamp" => parse_result_time(text).map_or_else(|| Value::str(text), Value::Time),
                _ => Value::str(text),
            };
            Some((name.to_string(), value))
        })
        .collect()
}

/// `2024-06-01 10:30:00.000` (UTC) or epoch milliseconds.
fn parse_result_time(text: &str) -> Option<i64> {
    if !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()) {
        return text.parse().ok();
    }
    chrono::NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M:%S%.f")
        .ok()
        .map(|t| t.and_utc().timestamp_millis())
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_cloudwatchlogs::operation::get_query_results::GetQueryResultsError;
    use aws_sdk_cloudwatchlogs::types::error::{MalformedQueryException, ResourceNotFoundException};
    use aws_sdk_cloudwatchlogs::types::{QueryCompileError, QueryCompileErrorLocation};

    fn field(name: &str, value: &str) -> ResultField {
        ResultField::builder().field(name).value(value).build()
    }

    fn query(log_groups: usize) -> RemoteQuery {
        RemoteQuery {
            query: "fields @message".to_string(),
            log_groups: (0..log_groups).map(|i| format!("/app/{i}")).collect(),
            start_s: 1_700_000_000,
            end_s: 1_700_003_600,
            limit: None,
        }
    }

    #[test]
    fn service_timestamps_become_times_and_ptr_is_dropped() {
        let row = [
            field("@ptr", "Cm4KMQodNDcx"),
            field("@timestamp", "2024-06-01 10:30:00.123"),
            field("@message", "GET /health 200"),
        ];
        assert_eq!(
            convert_row(&row),
            vec![
                ("@timestamp".to_string(), Value::Time(1_717_237_800_123)),
                ("@message".to_string(), Value::str("GET /health 200")),
            ]
        );
    }

    #[test]
    fn epoch_millisecond_timestamps_become_times() {
        let row = [field("@timestamp", "1717237800123"), field("@ptr", "1")];
        assert_eq!(
            convert_row(&row),
            vec![("@timestamp".to_string(), Value::Time(1_717_237_800_123))]
        );
    }

    #[test]
    fn other_fields_stay_strings_even_when_numeric() {
        let row = [
            field("duration", "12.5"),
            field("@timestamp", "yesterday"),
            ResultField::builder().field("no_value").build(),
        ];
        assert_eq!(
            convert_row(&row),
            vec![
                ("duration".to_string(), Value::str("12.5")),
                ("@timestamp".to_string(), Value::str("yesterday")),
            ]
        );
    }

    #[test]
    fn requests_are_checked_before_sending() {
        assert_eq!(check_query(&query(1)), Ok(()));
        assert_eq!(check_query(&query(MAX_LOG_GROUPS)), Ok(()));
        assert_eq!(
            check_query(&query(51)),
            Err(RemoteError::TooManyLogGroups { count: 51 })
        );
        assert_eq!(check_query(&query(0)), Err(RemoteError::NoLogGroups));
        let source = RemoteQuery {
            query: "  source logGroups(namePrefix: ['/app']) | fields @message".to_string(),
            ..query(0)
        };
        assert_eq!(check_query(&source), Ok(()));
        let backwards = RemoteQuery {
            start_s: 1_700_003_600,
            end_s: 1_700_000_000,
            ..query(1)
        };
        assert_eq!(
            check_query(&backwards),
            Err(RemoteError::EmptyTimeRange {
                start_s: 1_700_003_600,
                end_s: 1_700_000_000
            })
        );
    }

    #[test]
    fn polls_back_off_from_250ms_doubling_to_5s() {
        let delays: Vec<u128> = (0..8).map(|n| poll_delay(n).as_millis()).collect();
        assert_eq!(delays, [250, 500, 1000, 2000, 4000, 5000, 5000, 5000]);
        assert_eq!(poll_delay(u32::MAX), MAX_POLL_DELAY);
        for n in 0..100 {
            let jittered = with_jitter(Duration::from_secs(1), n);
            assert!((1000..=1100).contains(&jittered.as_millis()), "{jittered:?}");
        }
    }

    #[test]
    fn error_texts_read_for_humans() {
        let texts = [
            (
                RemoteError::NoLogGroups,
                "no log group to query: name at least one log group, or start the query with SOURCE",
            ),
            (
                RemoteError::TooManyLogGroups { count: 51 },
                "too many log groups: 51 given, but one query can search at most 50",
            ),
            (
                RemoteError::EmptyTimeRange {
                    start_s: 1_717_237_800,
                    end_s: 1_717_234_200,
                },
                "the time range ends (2024-06-01 09:30:00.000) before it starts (2024-06-01 10:30:00.000)",
            ),
            (
                RemoteError::Start {
                    code: Some("MalformedQueryException".to_string()),
                    message: "mismatched input 'count' expecting {K_PARSE, K_FIELDS}".to_string(),
                    location: Some((18, 23)),
                },
                "could not start the query: MalformedQueryException: mismatched input 'count' \
                 expecting {K_PARSE, K_FIELDS} (at characters 18-23 of the query)",
            ),
            (
                RemoteError::Start {
                    code: None,
                    message: "dispatch failure: connection refused".to_string(),
                    location: None,
                },
                "could not start the query: dispatch failure: connection refused",
            ),
            (
                RemoteError::Poll {
                    message: "ThrottlingException: Rate exceeded".to_string(),
                },
                "could not get the query's results: ThrottlingException: Rate exceeded",
            ),
            (
                RemoteError::Failed {
                    status: "Failed".to_string(),
                },
                "CloudWatch Logs ended the query with status Failed",
            ),
            (RemoteError::Cancelled, "the query was cancelled"),
            (
                RemoteError::Timeout,
                "the query timed out on CloudWatch Logs; narrow the time range or the log groups",
            ),
        ];
        for (err, text) in texts {
            assert_eq!(err.to_string(), text);
        }
    }

    #[test]
    fn malformed_query_keeps_the_message_and_the_compile_error_location() {
        let malformed = MalformedQueryException::builder()
            .message("mismatched input 'count' expecting {K_PARSE, K_FIELDS}")
            .query_compile_error(
                QueryCompileError::builder()
                    .message("unexpected symbol")
                    .location(
                        QueryCompileErrorLocation::builder()
                            .start_char_offset(18)
                            .end_char_offset(23)
                            .build(),
                    )
                    .build(),
            )
            .meta(
                aws_sdk_cloudwatchlogs::error::ErrorMetadata::builder()
                    .code("MalformedQueryException")
                    .message("mismatched input 'count' expecting {K_PARSE, K_FIELDS}")
                    .build(),
            )
            .build();
        let err = SdkError::service_error(StartQueryError::MalformedQueryException(malformed), ());
        assert_eq!(
            start_error(&err),
            RemoteError::Start {
                code: Some("MalformedQueryException".to_string()),
                message: "mismatched input 'count' expecting {K_PARSE, K_FIELDS} (unexpected symbol)"
                    .to_string(),
                location: Some((18, 23)),
            }
        );
    }

    #[test]
    fn other_start_failures_keep_code_and_message() {
        let missing = ResourceNotFoundException::builder()
            .message("The specified log group does not exist.")
            .meta(
                aws_sdk_cloudwatchlogs::error::ErrorMetadata::builder()
                    .code("ResourceNotFoundException")
                    .message("The specified log group does not exist.")
                    .build(),
            )
            .build();
        let err = SdkError::service_error(StartQueryError::ResourceNotFoundException(missing), ());
        assert_eq!(
            start_error(&err).to_string(),
            "could not start the query: ResourceNotFoundException: The specified log group does not exist."
        );
        let timeout = SdkError::<StartQueryError, ()>::timeout_error("no answer in 3.1s");
        assert_eq!(
            start_error(&timeout).to_string(),
            "could not start the query: request has timed out: no answer in 3.1s"
        );
        let poll = SdkError::<GetQueryResultsError, ()>::timeout_error("no answer in 3.1s");
        assert_eq!(
            poll_error(&poll).to_string(),
            "could not get the query's results: request has timed out: no answer in 3.1s"
        );
    }
}
