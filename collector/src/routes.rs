//! The collector's routes on its one HTTP listener (the daemon's TCP port by default): the
//! sampling endpoints SDKs call, the X-Ray API (PutTraceSegments and the read operations),
//! OTLP/HTTP traces, and — from the shared router — `/healthz` and `/metrics`. Only these
//! paths exist: unlike the daemon's proxy, nothing else is passed on to AWS with our
//! credentials.

use std::sync::Arc;
use std::time::SystemTime;

use serde_json::{json, Value};
use skywatch_http::{respond, HeaderMap, Method, Request, Response, Router, StatusCode};

use crate::ingest::Ingest;
use crate::otlp::{self, Encoding};
use crate::sampling::Sampler;
use crate::sampling_proxy::SamplingProxy;
use crate::xray_api::{self, ApiError};

/// Request bodies up to this size (OTLP's recommended limit; X-Ray's own are far smaller).
pub const MAX_BODY_BYTES: usize = 20 << 20;

/// Where sampling answers come from.
#[derive(Debug)]
pub enum Sampling {
    /// Answered here from the configured rules.
    Local(Sampler),
    /// Sent on to X-Ray, signed with the collector's credentials.
    Proxied(SamplingProxy),
}

fn now() -> f64 {
    skywatch_runtime::clock::now_ms() as f64 / 1000.0
}

fn json_response(result: Result<Value, ApiError>) -> Response {
    match result {
        Ok(body) => respond(StatusCode::OK, "application/json", body.to_string()),
        Err(error) => api_error(StatusCode::BAD_REQUEST, &error),
    }
}

/// The rest-json error shape botocore and the SDKs read: the code in `x-amzn-ErrorType` and
/// `__type`, the message in `message`.
pub fn api_error(status: StatusCode, error: &ApiError) -> Response {
    let body = json!({"__type": error.code, "message": error.message, "Message": error.message});
    let mut response = respond(status, "application/json", body.to_string());
    if let Ok(value) = error.code.parse() {
        response.headers_mut().insert("x-amzn-ErrorType", value);
    }
    response
}

/// The read operations: trace data, which stays on this machine unless the user opts in.
pub const READ_PATHS: [&str; 7] = [
    "/ServiceGraph",
    "/TraceGraph",
    "/TraceSummaries",
    "/Traces",
    "/ui/api/traces",
    "/ui/api/node-series",
    "/ui/api/logs",
];

/// Who may read trace data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReadApi {
    /// Every listener is on loopback: requests must also name a local host (`Host:
    /// localhost`, `127.0.0.1`, `[::1]`…), so a web page elsewhere cannot read it through DNS
    /// rebinding.
    Loopback,
    /// The user asked for it on other addresses too (`read_api_public`).
    Public,
    /// A listener is not on loopback: the read paths answer 403 saying why.
    Withheld,
}

/// Whether `headers` name this machine as the host: `localhost`, a `.localhost` name, or an
/// IP address (with or without a port).
fn names_a_local_host(headers: &HeaderMap) -> bool {
    let Some(host) = header(headers, "host") else {
        return false;
    };
    let name = match host.strip_prefix('[') {
        Some(v6) => v6.split(']').next().unwrap_or_default(),
        None => host.rsplit_once(':').map_or(host, |(name, port)| {
            if port.chars().all(|c| c.is_ascii_digit()) {
                name
            } else {
                host
            }
        }),
    };
    let name = name.to_ascii_lowercase();
    name == "localhost" || name.ends_with(".localhost") || name.parse::<std::net::IpAddr>().is_ok()
}

/// Why a read of trace data is refused, if it is: on loopback, a Host that does not name this
/// machine (DNS rebinding); anywhere, a request a browser sent for a page of another origin
/// (its `Origin` is not the `Host`, or `Sec-Fetch-Site` says cross-site or same-site). Such a
/// page cannot read the answer, but it could make the collector do the work; the SDKs, the aws
/// CLI and the collector's own page pass.
fn refuse_read(headers: &HeaderMap, check_host: bool) -> Option<Response> {
    if check_host && !names_a_local_host(headers) {
        return Some(foreign_host());
    }
    let fetched_from_elsewhere = matches!(
        header(headers, "sec-fetch-site"),
        Some("cross-site" | "same-site")
    );
    let origin_elsewhere = header(headers, "origin").is_some_and(|origin| {
        let authority = origin.split_once("://").map_or(origin, |(_, rest)| rest);
        Some(authority) != header(headers, "host")
    });
    (fetched_from_elsewhere || origin_elsewhere).then(|| {
        api_error(
            StatusCode::FORBIDDEN,
            &ApiError {
                code: "AccessDeniedException",
                message: "trace data is not served to pages of other origins".into(),
            },
        )
    })
}

fn foreign_host() -> Response {
    api_error(
        StatusCode::FORBIDDEN,
        &ApiError {
            code: "AccessDeniedException",
            message:
                "trace data is served to requests for this machine only (Host: localhost or an IP address)"
                    .into(),
        },
    )
}

/// Adds the collector's routes to `router`: the read API as `read_api` says.
pub fn add(
    router: Router,
    ingest: Arc<Ingest>,
    sampling: Arc<Sampling>,
    read_api: ReadApi,
    logs_dir: std::path::PathBuf,
) -> Router {
    let check_host = read_api == ReadApi::Loopback;
    let post = |router: Router,
                path: &str,
                op: fn(&Ingest, &[u8]) -> Result<Value, ApiError>,
                ingest: &Arc<Ingest>| {
        let ingest = Arc::clone(ingest);
        let reads = READ_PATHS.contains(&path);
        router.route(Method::POST, path, move |request: Request| {
            let ingest = Arc::clone(&ingest);
            async move {
                if let Some(refusal) = reads.then(|| refuse_read(&request.headers, check_host)).flatten() {
                    return refusal;
                }
                // The store's reads parse documents: off the async workers.
                let answer = tokio::task::spawn_blocking(move || op(&ingest, &request.body)).await;
                match answer {
                    Ok(result) => json_response(result),
                    Err(e) => api_error(
                        StatusCode::INTERNAL_SERVER_ERROR,
                        &ApiError {
                            code: "InternalFailure",
                            message: e.to_string(),
                        },
                    ),
                }
            }
        })
    };
    let mut router = router.max_body_bytes(MAX_BODY_BYTES);
    router = post(
        router,
        "/TraceSegments",
        |i, b| xray_api::put_trace_segments(i, b, now()),
        &ingest,
    );
    if read_api == ReadApi::Withheld {
        for path in READ_PATHS {
            router = router.route(Method::POST, path, |_| async {
                api_error(
                    StatusCode::FORBIDDEN,
                    &ApiError {
                        code: "AccessDeniedException",
                        message: "the X-Ray read API is served on loopback only: bind http to 127.0.0.1, or set read_api_public = true".into(),
                    },
                )
            });
        }
    } else {
        router = post(
            router,
            "/ServiceGraph",
            |i, b| xray_api::get_service_graph(&i.store, b),
            &ingest,
        );
        router = post(
            router,
            "/TraceGraph",
            |i, b| xray_api::get_trace_graph(&i.store, b),
            &ingest,
        );
        router = post(
            router,
            "/TraceSummaries",
            |i, b| xray_api::get_trace_summaries(&i.store, b, now()),
            &ingest,
        );
        router = post(
            router,
            "/Traces",
            |i, b| xray_api::batch_get_traces(&i.store, b),
            &ingest,
        );
        let logs_dir = Arc::new(logs_dir);
        router = post(
            router,
            "/ui/api/traces",
            |i, b| crate::web_api::traces(&i.store, b),
            &ingest,
        );
        router = post(
            router,
            "/ui/api/node-series",
            |i, b| crate::web_api::node_series(&i.store, b),
            &ingest,
        );
        let logs_ingest = Arc::clone(&ingest);
        router = router.route(Method::POST, "/ui/api/logs", move |request: Request| {
            let ingest = Arc::clone(&logs_ingest);
            let logs_dir = Arc::clone(&logs_dir);
            async move {
                if let Some(refusal) = refuse_read(&request.headers, check_host) {
                    return refusal;
                }
                let answer = tokio::task::spawn_blocking(move || {
                    crate::web_api::logs(&ingest.store, &logs_dir, &request.body)
                })
                .await;
                match answer {
                    Ok(result) => json_response(result),
                    Err(e) => api_error(
                        StatusCode::INTERNAL_SERVER_ERROR,
                        &ApiError {
                            code: "InternalFailure",
                            message: e.to_string(),
                        },
                    ),
                }
            }
        });
    }
    let rules = Arc::clone(&sampling);
    router = router.route(Method::POST, "/GetSamplingRules", move |request: Request| {
        let sampling = Arc::clone(&rules);
        async move {
            match &*sampling {
                Sampling::Local(sampler) => json_response(Ok(sampler.rules_response())),
                Sampling::Proxied(proxy) => proxy.rules(&request.body).await,
            }
        }
    });
    router = router.route(Method::POST, "/SamplingTargets", move |request: Request| {
        let sampling = Arc::clone(&sampling);
        async move {
            match &*sampling {
                Sampling::Local(sampler) => json_response(
                    sampler
                        .targets_response(&request.body, SystemTime::now())
                        .map_err(|e| ApiError {
                            code: "InvalidRequestException",
                            message: e.to_string(),
                        }),
                ),
                Sampling::Proxied(proxy) => proxy.targets(&request.body).await,
            }
        }
    });
    router = crate::web::add(router);
    router.route(Method::POST, "/v1/traces", move |request: Request| {
        let ingest = Arc::clone(&ingest);
        async move { otlp_traces(&ingest, request).await }
    })
}

fn header<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// OTLP/HTTP: spans decoded, converted to segment documents and taken in like any other;
/// spans that could not be converted or taken are reported back as `partial_success`.
async fn otlp_traces(ingest: &Arc<Ingest>, request: Request) -> Response {
    let content_type = header(&request.headers, "content-type").unwrap_or_default();
    let Some(encoding) = Encoding::from_content_type(content_type) else {
        return skywatch_http::text(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "OTLP/HTTP takes application/x-protobuf or application/json\n",
        );
    };
    let content_type = match encoding {
        Encoding::Protobuf => "application/x-protobuf",
        Encoding::Json => "application/json",
    };
    let content_encoding = header(&request.headers, "content-encoding").map(str::to_string);
    let ingest = Arc::clone(ingest);
    let answer = tokio::task::spawn_blocking(move || {
        let mut converted = match otlp::decode(&request.body, encoding, content_encoding.as_deref()) {
            Ok(converted) => converted,
            Err(e) => {
                ingest.reject("otlp_request", &e);
                let status = StatusCode::from_u16(e.http_status()).unwrap_or(StatusCode::BAD_REQUEST);
                return (status, otlp::error_response(encoding, &e.to_string()));
            }
        };
        let spans = converted.documents.len() as u64 + converted.rejected_spans;
        ingest.counters.received.add(&"otlp", spans);
        if converted.rejected_spans > 0 {
            let why = converted.error_message.clone().unwrap_or_default();
            ingest.reject_many(
                "otlp_span",
                converted.rejected_spans,
                &format_args!("{} span(s): {why}", converted.rejected_spans),
            );
        }
        let received = now();
        for doc in std::mem::take(&mut converted.documents) {
            if let Err(invalid) = ingest.accept(&doc, received) {
                converted.rejected_spans += 1;
                converted.error_message.get_or_insert_with(|| invalid.to_string());
            }
        }
        (StatusCode::OK, otlp::success_response(encoding, &converted))
    })
    .await;
    match answer {
        Ok((status, body)) => respond(status, content_type, body),
        Err(e) => skywatch_http::text(StatusCode::INTERNAL_SERVER_ERROR, format!("{e}\n")),
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::time::{Duration, SystemTime};

    use bytes::Bytes;
    use http_body_util::BodyExt as _;
    use skywatch_http::{HeaderMap, Method, Request, Router, StatusCode};

    use super::{add, Sampling};
    use crate::ingest::{ByteBudget, Ingest};
    use crate::sampling::Sampler;
    use crate::store::{Store, StoreSettings};
    use crate::telemetry::Counters;

    fn router(read_api: super::ReadApi) -> (Router, Arc<Ingest>) {
        let settings = StoreSettings::in_memory(Duration::from_secs(3600));
        let registry = skywatch_telemetry::Registry::new();
        let ingest = Arc::new(Ingest::new(
            Arc::new(Store::open(settings, 0.0).unwrap().0),
            None,
            Arc::new(ByteBudget::new(0)),
            Counters::register(&registry),
            skywatch_runtime::Journal::new("test"),
        ));
        let sampling = Arc::new(Sampling::Local(Sampler::new(&[], SystemTime::now()).unwrap()));
        (
            add(
                Router::new(registry),
                Arc::clone(&ingest),
                sampling,
                read_api,
                std::path::PathBuf::from("/nonexistent"),
            ),
            ingest,
        )
    }

    fn post(path: &str, headers: &[(&'static str, &'static str)], body: impl Into<Bytes>) -> Request {
        let mut map = HeaderMap::new();
        for (k, v) in headers {
            map.insert(*k, v.parse().unwrap());
        }
        Request {
            method: Method::POST,
            path: path.into(),
            query: None,
            headers: map,
            body: body.into(),
        }
    }

    async fn text(response: skywatch_http::Response) -> String {
        String::from_utf8(response.into_body().collect().await.unwrap().to_bytes().to_vec()).unwrap()
    }

    #[tokio::test]
    async fn errors_have_the_rest_json_shape_and_the_read_api_can_be_withheld() {
        let (open, _) = router(super::ReadApi::Public);
        let bad = open.handle(post("/TraceSummaries", &[], "not json")).await;
        assert_eq!(bad.status(), StatusCode::BAD_REQUEST);
        assert_eq!(bad.headers()["x-amzn-ErrorType"], "InvalidRequestException");
        assert!(text(bad).await.contains(r#""__type":"InvalidRequestException""#));
        let (closed, _) = router(super::ReadApi::Withheld);
        for path in super::READ_PATHS {
            let refused = closed.handle(post(path, &[], "{}")).await;
            assert_eq!(refused.status(), StatusCode::FORBIDDEN, "{path}");
            assert!(text(refused).await.contains("read_api_public"));
        }
        // Ingest and sampling stay open.
        let put = closed
            .handle(post("/TraceSegments", &[], r#"{"TraceSegmentDocuments":[]}"#))
            .await;
        assert_eq!(put.status(), StatusCode::OK);
        assert_eq!(
            closed.handle(post("/GetSamplingRules", &[], "{}")).await.status(),
            StatusCode::OK
        );
        // Paths the daemon's proxy would have signed and sent on do not exist here.
        let other = closed.handle(post("/CreateSamplingRule", &[], "{}")).await;
        assert_eq!(other.status(), StatusCode::NOT_FOUND);
    }

    #[tokio::test]
    async fn on_loopback_trace_data_goes_only_to_requests_naming_this_machine() {
        let (router, _) = router(super::ReadApi::Loopback);
        for (host, status) in [
            ("127.0.0.1:2000", StatusCode::OK),
            ("localhost:2000", StatusCode::OK),
            ("[::1]:2000", StatusCode::OK),
            ("app.localhost", StatusCode::OK),
            ("attacker.example:2000", StatusCode::FORBIDDEN),
            ("127.0.0.1.attacker.example", StatusCode::FORBIDDEN),
        ] {
            let mut request = post("/TraceSummaries", &[], r#"{"StartTime":0,"EndTime":1}"#);
            request.headers.insert("host", host.parse().unwrap());
            assert_eq!(router.handle(request).await.status(), status, "{host}");
        }
        // No Host at all: refused too.
        let bare = router.handle(post("/Traces", &[], r#"{"TraceIds":[]}"#)).await;
        assert_eq!(bare.status(), StatusCode::FORBIDDEN);
        // Ingest does not depend on it (SDKs name whatever address they were given).
        let put = router
            .handle(post("/TraceSegments", &[], r#"{"TraceSegmentDocuments":[]}"#))
            .await;
        assert_eq!(put.status(), StatusCode::OK);
    }

    #[tokio::test]
    async fn every_read_path_refuses_foreign_hosts_and_pages_of_other_origins() {
        let bodies = [
            ("/ServiceGraph", r#"{"StartTime":0,"EndTime":1}"#),
            ("/TraceGraph", r#"{"TraceIds":[]}"#),
            ("/TraceSummaries", r#"{"StartTime":0,"EndTime":1}"#),
            ("/Traces", r#"{"TraceIds":[]}"#),
            ("/ui/api/traces", r#"{"StartTime":0,"EndTime":1}"#),
            (
                "/ui/api/node-series",
                r#"{"StartTime":0,"EndTime":60,"Name":"web"}"#,
            ),
            (
                "/ui/api/logs",
                r#"{"TraceId":"1-5759e988-bd862e3fe1be46a994272793","StartTime":0,"EndTime":1}"#,
            ),
        ];
        assert_eq!(bodies.len(), super::READ_PATHS.len());
        for read_api in [super::ReadApi::Loopback, super::ReadApi::Public] {
            let (router, _) = router(read_api);
            for (path, body) in bodies {
                let ask = |headers: &[(&'static str, &str)]| {
                    let mut request = post(path, &[], body);
                    for (name, value) in headers {
                        request.headers.insert(*name, value.parse().unwrap());
                    }
                    router.handle(request)
                };
                let host = ("host", "127.0.0.1:2000");
                assert_eq!(ask(&[host]).await.status(), StatusCode::OK, "{path}");
                // The collector's own page.
                let own = [
                    host,
                    ("origin", "http://127.0.0.1:2000"),
                    ("sec-fetch-site", "same-origin"),
                ];
                assert_eq!(ask(&own).await.status(), StatusCode::OK, "{path}");
                for foreign in [
                    [
                        host,
                        ("origin", "https://attacker.example"),
                        ("sec-fetch-site", "cross-site"),
                    ],
                    [
                        host,
                        ("origin", "http://localhost:3000"),
                        ("sec-fetch-site", "cross-site"),
                    ],
                    [host, ("origin", "http://127.0.0.1:3000"), ("x-other", "1")],
                    [host, ("sec-fetch-site", "same-site"), ("x-other", "1")],
                ] {
                    assert_eq!(
                        ask(&foreign).await.status(),
                        StatusCode::FORBIDDEN,
                        "{path} {foreign:?}"
                    );
                }
                let rebound = ask(&[("host", "attacker.example:2000")]).await.status();
                let expected = if read_api == super::ReadApi::Loopback {
                    StatusCode::FORBIDDEN
                } else {
                    StatusCode::OK
                };
                assert_eq!(rebound, expected, "{path}");
            }
        }
    }

    #[tokio::test]
    async fn otlp_takes_the_python_sdks_export_and_refuses_what_it_cannot_read() {
        let (router, ingest) = router(super::ReadApi::Public);
        let fixture = std::fs::read(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/otlp-python-traces.bin"
        ))
        .unwrap();
        let ok = router
            .handle(post(
                "/v1/traces",
                &[("content-type", "application/x-protobuf")],
                fixture,
            ))
            .await;
        assert_eq!(ok.status(), StatusCode::OK);
        assert_eq!(ingest.counters.received.get(&"otlp"), 4);
        assert_eq!(ingest.counters.stored.get(), 4);
        let unsupported = router
            .handle(post("/v1/traces", &[("content-type", "text/plain")], "x"))
            .await;
        assert_eq!(unsupported.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
        let broken = router
            .handle(post(
                "/v1/traces",
                &[("content-type", "application/json")],
                "{\"resourceSpans\": 7}",
            ))
            .await;
        assert_eq!(broken.status(), StatusCode::BAD_REQUEST);
        assert_eq!(ingest.counters.rejected.get(&"otlp_request".to_string()), 1);
    }
}
