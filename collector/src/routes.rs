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
pub const READ_PATHS: [&str; 4] = ["/ServiceGraph", "/TraceGraph", "/TraceSummaries", "/Traces"];

/// Adds the collector's routes to `router`; the read API only when `read_api` (else its paths
/// answer 403 saying why).
pub fn add(router: Router, ingest: Arc<Ingest>, sampling: Arc<Sampling>, read_api: bool) -> Router {
    let post = |router: Router,
                path: &str,
                op: fn(&Ingest, &[u8]) -> Result<Value, ApiError>,
                ingest: &Arc<Ingest>| {
        let ingest = Arc::clone(ingest);
        router.route(Method::POST, path, move |request: Request| {
            let ingest = Arc::clone(&ingest);
            async move {
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
    if read_api {
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
    } else {
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
