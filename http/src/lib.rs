//! The one HTTP listener of a skywatch process, on hyper (already in the AWS SDK's tree).
//!
//! Design decision: a [`Router`] maps exact (method, path) pairs to handlers; it starts with
//! `GET /healthz` and `GET /metrics` (the process's [`Registry`] as Prometheus text), and each
//! part adds its own routes — the collector its X-Ray API, OTLP receiver and web page — so a
//! process has one port, one server and one set of limits. A request body is read whole up to
//! the router's limit (413 beyond it) before the handler sees it; a path with no route is 404, a
//! route asked with another method 405 with `Allow`. Listeners bind loopback unless told
//! otherwise (the caller chooses the address).

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use http_body_util::{BodyExt as _, Full, Limited};
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use skywatch_runtime::ShutdownSignal;
use skywatch_telemetry::Registry;
use tokio::net::TcpListener;

/// Request bodies larger than this are refused with 413 unless the router says otherwise.
pub const DEFAULT_MAX_BODY_BYTES: usize = 4 << 20;
/// How long a client may take to send a request head.
const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);

/// A request as a handler sees it: the body already read.
#[derive(Debug, Clone)]
pub struct Request {
    pub method: Method,
    pub path: String,
    /// The query string, without `?`.
    pub query: Option<String>,
    pub headers: HeaderMap,
    pub body: Bytes,
}

/// What a handler answers.
pub type Response = http::Response<Full<Bytes>>;

type BoxedFuture = Pin<Box<dyn Future<Output = Response> + Send>>;
type Handler = Arc<dyn Fn(Request) -> BoxedFuture + Send + Sync>;

/// A response with `status`, `content_type` and `body`.
pub fn respond(status: StatusCode, content_type: &'static str, body: impl Into<Bytes>) -> Response {
    let mut response = http::Response::new(Full::new(body.into()));
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    response
}

/// A plain-text response.
pub fn text(status: StatusCode, body: impl Into<Bytes>) -> Response {
    respond(status, "text/plain; charset=utf-8", body)
}

/// Routes and limits.
#[derive(Clone)]
pub struct Router {
    routes: Vec<(Method, String, Handler)>,
    max_body_bytes: usize,
}

impl std::fmt::Debug for Router {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let routes: Vec<String> = self.routes.iter().map(|(m, p, _)| format!("{m} {p}")).collect();
        f.debug_struct("Router")
            .field("routes", &routes)
            .finish_non_exhaustive()
    }
}

impl Router {
    /// A router with `/healthz` and `/metrics` (from `registry`).
    pub fn new(registry: Registry) -> Router {
        Router {
            routes: Vec::new(),
            max_body_bytes: DEFAULT_MAX_BODY_BYTES,
        }
        .route(Method::GET, "/healthz", |_| async {
            text(StatusCode::OK, "ok\n")
        })
        .route(Method::GET, "/metrics", move |_| {
            let body = registry.prometheus();
            async move { respond(StatusCode::OK, "text/plain; version=0.0.4", body) }
        })
    }

    /// Adds a route. A later route for the same method and path replaces the earlier one.
    #[must_use]
    pub fn route<F, Fut>(mut self, method: Method, path: &str, handler: F) -> Router
    where
        F: Fn(Request) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Response> + Send + 'static,
    {
        self.routes.retain(|(m, p, _)| !(*m == method && p == path));
        let handler: Handler = Arc::new(move |request| Box::pin(handler(request)));
        self.routes.push((method, path.to_string(), handler));
        self
    }

    /// Sets the largest request body accepted.
    #[must_use]
    pub fn max_body_bytes(mut self, bytes: usize) -> Router {
        self.max_body_bytes = bytes;
        self
    }

    /// Answers one request.
    pub async fn handle(&self, request: Request) -> Response {
        let mut allowed = Vec::new();
        for (method, path, handler) in &self.routes {
            if *path == request.path {
                if *method == request.method {
                    return handler(request).await;
                }
                allowed.push(method.as_str());
            }
        }
        if allowed.is_empty() {
            return text(StatusCode::NOT_FOUND, "not found\n");
        }
        let mut response = text(
            StatusCode::METHOD_NOT_ALLOWED,
            format!("only {}\n", allowed.join(", ")),
        );
        if let Ok(allow) = HeaderValue::from_str(&allowed.join(", ")) {
            response.headers_mut().insert(header::ALLOW, allow);
        }
        response
    }

    async fn answer(&self, request: http::Request<Incoming>) -> Response {
        let (parts, body) = request.into_parts();
        let body = match Limited::new(body, self.max_body_bytes).collect().await {
            Ok(collected) => collected.to_bytes(),
            Err(e) if e.is::<http_body_util::LengthLimitError>() => {
                return text(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    format!("the body is larger than {} bytes\n", self.max_body_bytes),
                );
            }
            Err(e) => return text(StatusCode::BAD_REQUEST, format!("cannot read the body: {e}\n")),
        };
        self.handle(Request {
            method: parts.method,
            path: parts.uri.path().to_string(),
            query: parts.uri.query().map(str::to_string),
            headers: parts.headers,
            body,
        })
        .await
    }
}

/// Serves `listener` until `shutdown` asks to stop; connections in progress finish on their
/// own. A connection that fails (a client gone, a malformed request) affects only itself.
pub async fn serve(listener: TcpListener, router: Router, mut shutdown: ShutdownSignal) {
    let router = Arc::new(router);
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            () = shutdown.stopping() => return,
        };
        let Ok((stream, _)) = accepted else {
            // Out of descriptors or the like: pause instead of spinning.
            tokio::time::sleep(Duration::from_millis(50)).await;
            continue;
        };
        let router = Arc::clone(&router);
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |request| {
                let router = Arc::clone(&router);
                async move { Ok::<_, std::convert::Infallible>(router.answer(request).await) }
            });
            let _ = hyper::server::conn::http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(HEADER_READ_TIMEOUT)
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;
    use http::{HeaderMap, Method, StatusCode};
    use http_body_util::BodyExt as _;
    use skywatch_telemetry::{Desc, Registry};

    use super::{text, Request, Router};

    fn request(method: Method, path: &str) -> Request {
        Request {
            method,
            path: path.into(),
            query: None,
            headers: HeaderMap::new(),
            body: Bytes::new(),
        }
    }

    async fn body(response: super::Response) -> String {
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        String::from_utf8(bytes.to_vec()).unwrap()
    }

    #[tokio::test]
    async fn health_metrics_added_routes_404_and_405() {
        let registry = Registry::new();
        registry.counter(Desc::counter("x_total", "X.")).add(5);
        let router = Router::new(registry).route(Method::POST, "/echo", |r: Request| async move {
            text(StatusCode::OK, r.body)
        });
        let ok = router.handle(request(Method::GET, "/healthz")).await;
        assert_eq!(ok.status(), StatusCode::OK);
        assert_eq!(body(ok).await, "ok\n");
        let metrics = router.handle(request(Method::GET, "/metrics")).await;
        assert!(body(metrics).await.contains("x_total 5\n"));
        let mut echo = request(Method::POST, "/echo");
        echo.body = Bytes::from_static(b"hi");
        assert_eq!(body(router.handle(echo).await).await, "hi");
        assert_eq!(
            router.handle(request(Method::GET, "/nope")).await.status(),
            StatusCode::NOT_FOUND
        );
        let wrong = router.handle(request(Method::GET, "/echo")).await;
        assert_eq!(wrong.status(), StatusCode::METHOD_NOT_ALLOWED);
        assert_eq!(wrong.headers()["allow"], "POST");
    }
}
