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
use http::{header, HeaderValue};
use http_body_util::{BodyExt as _, Full, Limited};
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use skywatch_runtime::ShutdownSignal;
use skywatch_telemetry::Registry;
use tokio::net::TcpListener;

pub use http::{HeaderMap, Method, StatusCode};

/// Request bodies larger than this are refused with 413 unless the router says otherwise.
pub const DEFAULT_MAX_BODY_BYTES: usize = 4 << 20;
/// How long a client may take to send a request head.
const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a client may take to send a request body.
const BODY_READ_TIMEOUT: Duration = Duration::from_secs(10);
/// The longest one connection is kept, however busy (clients reconnect).
const CONNECTION_LIFETIME: Duration = Duration::from_secs(300);
/// Connections served at once; more wait to be accepted.
pub const MAX_CONNECTIONS: usize = 512;

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

    /// The handler for `method` and `path`, or the methods the path has (none: no such path).
    fn find(&self, method: &Method, path: &str) -> Result<&Handler, Vec<String>> {
        let mut allowed = Vec::new();
        for (m, p, handler) in &self.routes {
            if p == path {
                if m == method {
                    return Ok(handler);
                }
                allowed.push(m.as_str().to_string());
            }
        }
        Err(allowed)
    }

    /// Answers one request whose body is already read.
    pub async fn handle(&self, request: Request) -> Response {
        match self.find(&request.method, &request.path) {
            Ok(handler) => handler(request).await,
            Err(allowed) => refusal(&allowed),
        }
    }

    /// Answers a request off the wire: routed first (a refused request's body is never read),
    /// then its body read within the limits.
    async fn answer(&self, request: http::Request<Incoming>) -> Response {
        let (parts, body) = request.into_parts();
        let handler = match self.find(&parts.method, parts.uri.path()) {
            Ok(handler) => Arc::clone(handler),
            Err(allowed) => return refusal(&allowed),
        };
        let read = tokio::time::timeout(
            BODY_READ_TIMEOUT,
            Limited::new(body, self.max_body_bytes).collect(),
        );
        let body = match read.await {
            Ok(Ok(collected)) => collected.to_bytes(),
            Ok(Err(e)) if e.is::<http_body_util::LengthLimitError>() => {
                return text(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    format!("the body is larger than {} bytes\n", self.max_body_bytes),
                );
            }
            Ok(Err(e)) => return text(StatusCode::BAD_REQUEST, format!("cannot read the body: {e}\n")),
            Err(_) => return text(StatusCode::REQUEST_TIMEOUT, "the body did not arrive in time\n"),
        };
        handler(Request {
            method: parts.method,
            path: parts.uri.path().to_string(),
            query: parts.uri.query().map(str::to_string),
            headers: parts.headers,
            body,
        })
        .await
    }
}

/// 404 when the path has no route, else 405 with `Allow`.
fn refusal(allowed: &[String]) -> Response {
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

/// Serves `listener` until `shutdown` asks to stop, then lets each open connection finish the
/// request it is answering (no new ones) and returns when they have — within the shutdown's
/// deadline — so a caller that flushes after `serve` returns has seen every request it
/// answered. A connection that fails (a client gone, a malformed request) affects only itself.
pub async fn serve(listener: TcpListener, router: Router, mut shutdown: ShutdownSignal) {
    let router = Arc::new(router);
    let slots = Arc::new(tokio::sync::Semaphore::new(MAX_CONNECTIONS));
    let mut connections = tokio::task::JoinSet::new();
    loop {
        while connections.try_join_next().is_some() {}
        let accepted = tokio::select! {
            accepted = async {
                // At the cap, wait for a connection to end before accepting another.
                let slot = Arc::clone(&slots).acquire_owned().await;
                (listener.accept().await, slot)
            } => accepted,
            () = shutdown.stopping() => break,
        };
        let (accepted, Ok(slot)) = accepted else {
            break;
        };
        let Ok((stream, _)) = accepted else {
            // Out of descriptors or the like: pause instead of spinning.
            tokio::time::sleep(Duration::from_millis(50)).await;
            continue;
        };
        let router = Arc::clone(&router);
        let mut stop = shutdown.clone();
        connections.spawn(async move {
            let _slot = slot;
            let service = hyper::service::service_fn(move |request| {
                let router = Arc::clone(&router);
                async move { Ok::<_, std::convert::Infallible>(router.answer(request).await) }
            });
            let connection = hyper::server::conn::http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(HEADER_READ_TIMEOUT)
                .serve_connection(TokioIo::new(stream), service);
            let mut connection = std::pin::pin!(connection);
            let served = async {
                tokio::select! {
                    _ = connection.as_mut() => {}
                    () = stop.stopping() => {
                        // Finish the request in hand, take no new one.
                        connection.as_mut().graceful_shutdown();
                        let _ = connection.as_mut().await;
                    }
                }
            };
            let _ = tokio::time::timeout(CONNECTION_LIFETIME, served).await;
        });
    }
    let drain = async { while connections.join_next().await.is_some() {} };
    match shutdown.time_left() {
        Some(left) => {
            if tokio::time::timeout(left, drain).await.is_err() {
                connections.abort_all();
            }
        }
        None => drain.await,
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

    /// One raw HTTP/1.1 exchange on a fresh connection.
    async fn exchange(addr: std::net::SocketAddr, request: &[u8]) -> String {
        use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
        let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
        stream.write_all(request).await.unwrap();
        let mut response = Vec::new();
        tokio::time::timeout(
            std::time::Duration::from_secs(10),
            stream.read_to_end(&mut response),
        )
        .await
        .expect("the server answers and closes")
        .unwrap();
        String::from_utf8(response).unwrap()
    }

    #[tokio::test]
    async fn a_real_connection_is_served_oversize_bodies_refused_and_a_stop_ends_the_listener() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let router = Router::new(Registry::new())
            .route(Method::POST, "/echo", |r: Request| async move {
                text(StatusCode::OK, r.body)
            })
            .max_body_bytes(8);
        let (stop, signal) = skywatch_runtime::shutdown_pair();
        let server = tokio::spawn(super::serve(listener, router, signal));
        let ok = exchange(
            addr,
            b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        )
        .await;
        assert!(ok.starts_with("HTTP/1.1 200 OK") && ok.ends_with("ok\n"), "{ok}");
        let echo = exchange(
            addr,
            b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello",
        )
        .await;
        assert!(echo.ends_with("\r\n\r\nhello"), "{echo}");
        let big = exchange(
            addr,
            b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 9\r\nConnection: close\r\n\r\n123456789",
        )
        .await;
        assert!(big.starts_with("HTTP/1.1 413"), "{big}");
        let garbage = exchange(addr, b"\x00\x01 not http\r\n\r\n").await;
        assert!(
            garbage.is_empty() || garbage.starts_with("HTTP/1.1 400"),
            "{garbage}"
        );
        stop.stop(std::time::Duration::ZERO);
        tokio::time::timeout(std::time::Duration::from_secs(5), server)
            .await
            .expect("the listener ends at a stop")
            .unwrap();
    }

    #[tokio::test]
    async fn a_request_in_flight_at_the_stop_is_answered_before_serve_returns() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (started_tx, started_rx) = tokio::sync::oneshot::channel::<()>();
        let started_tx = std::sync::Mutex::new(Some(started_tx));
        let answered = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let answered_in_handler = std::sync::Arc::clone(&answered);
        let router = Router::new(Registry::new()).route(Method::POST, "/slow", move |_| {
            let started = started_tx.lock().unwrap().take();
            let answered = std::sync::Arc::clone(&answered_in_handler);
            async move {
                if let Some(tx) = started {
                    let _ = tx.send(());
                }
                tokio::time::sleep(std::time::Duration::from_millis(300)).await;
                answered.store(true, std::sync::atomic::Ordering::SeqCst);
                text(StatusCode::OK, "done")
            }
        });
        let (stop, signal) = skywatch_runtime::shutdown_pair();
        let server = tokio::spawn(super::serve(listener, router, signal));
        let client = tokio::spawn(exchange(
            addr,
            b"POST /slow HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n",
        ));
        started_rx.await.unwrap();
        stop.stop(std::time::Duration::from_secs(5));
        tokio::time::timeout(std::time::Duration::from_secs(5), server)
            .await
            .expect("the listener ends once the request is answered")
            .unwrap();
        assert!(
            answered.load(std::sync::atomic::Ordering::SeqCst),
            "serve returned before the answer"
        );
        let answer = client.await.unwrap();
        assert!(
            answer.starts_with("HTTP/1.1 200") && answer.ends_with("done"),
            "{answer}"
        );
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
