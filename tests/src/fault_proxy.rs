//! A fault-injecting TCP proxy, to put between a client (the SDK, our agent) and moto.
//!
//! It passes bytes through until told otherwise; then, until told to [`FaultProxy::recover`], it
//! refuses connections, hangs, delays, or answers every request itself with HTTP 500/503 or a
//! throttling error in the protocol the request spoke. Changing the fault closes every open
//! connection, so a client with a pooled keep-alive connection sees the new behaviour on its next
//! request instead of riding an old, healthy connection through the outage.
//!
//! The proxy runs on a thread and runtime of its own, so synchronous and async tests use it alike.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{oneshot, watch};

/// What the proxy does with traffic.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// Pass bytes through both ways.
    None,
    /// Stop listening: connection attempts fail with "connection refused".
    Refuse,
    /// Accept connections and read requests, but never answer.
    Hang,
    /// Pass through, but hold every chunk the client sends for this long first.
    Delay(Duration),
    /// Answer every request with this HTTP status (500, 503, …) and close.
    HttpStatus(u16),
    /// Answer every request with the throttling error of the request's AWS protocol and close.
    Throttle,
}

/// Counts of what the proxy has done, for assertions.
#[derive(Debug, Default)]
pub struct ProxyStats {
    /// Connections accepted (in any mode).
    pub connections: AtomicU64,
    /// Connections piped through to the upstream.
    pub passed: AtomicU64,
    /// Requests answered with an HTTP error or throttling response.
    pub errors_returned: AtomicU64,
    /// Connections held open without an answer.
    pub hung: AtomicU64,
}

impl ProxyStats {
    fn bump(counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::Relaxed);
    }
}

/// A running proxy. Dropping it stops it and closes all its connections.
#[derive(Debug)]
pub struct FaultProxy {
    addr: SocketAddr,
    fault: watch::Sender<Fault>,
    stats: Arc<ProxyStats>,
    shutdown: Option<oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl FaultProxy {
    /// Starts a proxy on a free 127.0.0.1 port that forwards to `upstream`.
    pub fn start(upstream: SocketAddr) -> std::io::Result<FaultProxy> {
        let std_listener = std::net::TcpListener::bind(("127.0.0.1", 0))?;
        std_listener.set_nonblocking(true)?;
        let addr = std_listener.local_addr()?;
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        let (fault_tx, fault_rx) = watch::channel(Fault::None);
        let (shutdown_tx, shutdown_rx) = oneshot::channel();
        let stats = Arc::new(ProxyStats::default());
        let task_stats = Arc::clone(&stats);
        let thread = std::thread::Builder::new()
            .name(format!("fault-proxy-{}", addr.port()))
            .spawn(move || {
                runtime.block_on(async move {
                    let listener = match TcpListener::from_std(std_listener) {
                        Ok(listener) => listener,
                        Err(e) => {
                            eprintln!("fault proxy on {addr}: {e}");
                            return;
                        }
                    };
                    tokio::select! {
                        () = accept_loop(listener, addr, upstream, fault_rx, task_stats) => {}
                        _ = shutdown_rx => {}
                    }
                });
            })?;
        Ok(FaultProxy {
            addr,
            fault: fault_tx,
            stats,
            shutdown: Some(shutdown_tx),
            thread: Some(thread),
        })
    }

    /// Where clients connect.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://127.0.0.1:<port>`, for an SDK `endpoint_url`.
    pub fn endpoint_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Switches to `fault` now; open connections are closed.
    pub fn set(&self, fault: Fault) {
        self.fault.send_replace(fault);
    }

    /// Switches to `fault` now and back to [`Fault::None`] after `duration`, unless another fault
    /// has been set in between.
    pub fn set_for(&self, fault: Fault, duration: Duration) {
        self.set(fault);
        let sender = self.fault.clone();
        let mut seen = self.fault.subscribe();
        seen.mark_unchanged();
        std::thread::spawn(move || {
            std::thread::sleep(duration);
            // Only undo our own fault.
            if !seen.has_changed().unwrap_or(true) {
                sender.send_replace(Fault::None);
            }
        });
    }

    /// Back to passing everything through.
    pub fn recover(&self) {
        self.set(Fault::None);
    }

    /// The fault in force.
    pub fn fault(&self) -> Fault {
        *self.fault.borrow()
    }

    /// What the proxy has done so far.
    pub fn stats(&self) -> &ProxyStats {
        &self.stats
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

async fn accept_loop(
    mut listener: TcpListener,
    addr: SocketAddr,
    upstream: SocketAddr,
    mut fault_rx: watch::Receiver<Fault>,
    stats: Arc<ProxyStats>,
) {
    loop {
        let fault = *fault_rx.borrow_and_update();
        if fault == Fault::Refuse {
            // Closing the listening socket is what makes connects fail with ECONNREFUSED.
            drop(listener);
            loop {
                if fault_rx.changed().await.is_err() {
                    return;
                }
                if *fault_rx.borrow_and_update() != Fault::Refuse {
                    break;
                }
            }
            listener = match rebind(addr).await {
                Some(listener) => listener,
                None => return,
            };
            continue;
        }
        tokio::select! {
            accepted = listener.accept() => {
                let Ok((client, _)) = accepted else { continue };
                // The fault may have changed while this connection waited in the backlog.
                let fault = *fault_rx.borrow_and_update();
                ProxyStats::bump(&stats.connections);
                let conn_rx = fault_rx.clone();
                let conn_stats = Arc::clone(&stats);
                tokio::spawn(async move {
                    serve_connection(client, upstream, fault, conn_rx, conn_stats).await;
                });
            }
            changed = fault_rx.changed() => {
                if changed.is_err() {
                    return;
                }
            }
        }
    }
}

/// Binds `addr` again after a refusal period. The port was ours a moment ago; retry briefly in case
/// the kernel has not released it yet.
async fn rebind(addr: SocketAddr) -> Option<TcpListener> {
    for _ in 0..100 {
        if let Ok(listener) = TcpListener::bind(addr).await {
            return Some(listener);
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    eprintln!("fault proxy: could not listen on {addr} again");
    None
}

/// Serves one client connection under `fault`, until it ends or the fault changes.
async fn serve_connection(
    client: TcpStream,
    upstream: SocketAddr,
    fault: Fault,
    mut fault_rx: watch::Receiver<Fault>,
    stats: Arc<ProxyStats>,
) {
    let work = async {
        match fault {
            Fault::None => {
                ProxyStats::bump(&stats.passed);
                pipe(client, upstream, Duration::ZERO).await;
            }
            Fault::Delay(delay) => {
                ProxyStats::bump(&stats.passed);
                pipe(client, upstream, delay).await;
            }
            Fault::Hang => {
                ProxyStats::bump(&stats.hung);
                swallow(client).await;
            }
            Fault::HttpStatus(_) | Fault::Throttle => answer_with_error(client, fault, &stats).await,
            // A connection accepted just before the listener closed: drop it, the client sees a reset.
            Fault::Refuse => drop(client),
        }
    };
    tokio::select! {
        () = work => {}
        _ = fault_rx.changed() => {}
    }
}

async fn pipe(client: TcpStream, upstream: SocketAddr, delay: Duration) {
    let Ok(server) = TcpStream::connect(upstream).await else {
        return;
    };
    let (mut client_read, mut client_write) = client.into_split();
    let (mut server_read, mut server_write) = server.into_split();
    let to_server = async {
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            let n = match client_read.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => n,
            };
            if !delay.is_zero() {
                tokio::time::sleep(delay).await;
            }
            if server_write.write_all(&buf[..n]).await.is_err() {
                break;
            }
        }
        let _ = server_write.shutdown().await;
    };
    let to_client = async {
        let _ = tokio::io::copy(&mut server_read, &mut client_write).await;
        let _ = client_write.shutdown().await;
    };
    tokio::join!(to_server, to_client);
}

async fn swallow(mut client: TcpStream) {
    let mut buf = vec![0u8; 16 * 1024];
    while matches!(client.read(&mut buf).await, Ok(n) if n > 0) {}
}

/// Reads one HTTP request (head and `Content-Length` body), then answers it with the fault's error.
async fn answer_with_error(mut client: TcpStream, fault: Fault, stats: &ProxyStats) {
    let Some(head) = read_request(&mut client).await else {
        return;
    };
    let response = error_response(fault, &head);
    ProxyStats::bump(&stats.errors_returned);
    let _ = client.write_all(response.as_bytes()).await;
    let _ = client.shutdown().await;
}

/// Reads a request's head and drains its body, returning the head in lower case.
async fn read_request(client: &mut TcpStream) -> Option<String> {
    const MAX_HEAD_BYTES: usize = 64 * 1024;
    let mut data = Vec::new();
    let mut buf = [0u8; 8192];
    let head_end = loop {
        let n = client.read(&mut buf).await.ok()?;
        if n == 0 {
            return None;
        }
        data.extend_from_slice(&buf[..n]);
        if let Some(pos) = data.windows(4).position(|w| w == b"\r\n\r\n") {
            break pos + 4;
        }
        if data.len() > MAX_HEAD_BYTES {
            return None;
        }
    };
    let head = String::from_utf8_lossy(&data[..head_end]).to_ascii_lowercase();
    let body_len: usize = head
        .lines()
        .find_map(|line| line.strip_prefix("content-length:"))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0);
    let mut remaining = body_len.saturating_sub(data.len() - head_end);
    while remaining > 0 {
        let n = client.read(&mut buf).await.ok()?;
        if n == 0 {
            break;
        }
        remaining = remaining.saturating_sub(n);
    }
    Some(head)
}

/// The HTTP response for `fault`, shaped like the AWS protocol of the request in `head` (lower
/// case): awsJson (CloudWatch Logs, SQS) carries `__type`, awsQuery (CloudWatch, SNS) an XML
/// `ErrorResponse`, and restJson (X-Ray) the `x-amzn-ErrorType` header.
fn error_response(fault: Fault, head: &str) -> String {
    let is_json_rpc = head.contains("x-amz-target:") || head.contains("application/x-amz-json");
    let is_query = head.contains("application/x-www-form-urlencoded");
    let (status, reason, code, message) = match fault {
        Fault::Throttle if is_query => (400, "Bad Request", "Throttling", "Rate exceeded"),
        Fault::Throttle if is_json_rpc => (400, "Bad Request", "ThrottlingException", "Rate exceeded"),
        Fault::Throttle => (429, "Too Many Requests", "ThrottledException", "Rate exceeded"),
        Fault::HttpStatus(503) => (
            503,
            "Service Unavailable",
            "ServiceUnavailable",
            "Service unavailable",
        ),
        Fault::HttpStatus(500) => (
            500,
            "Internal Server Error",
            "InternalFailure",
            "Injected failure",
        ),
        Fault::HttpStatus(code) => (code, "Injected Error", "InternalFailure", "Injected failure"),
        _ => (
            500,
            "Internal Server Error",
            "InternalFailure",
            "Injected failure",
        ),
    };
    let (content_type, body) = if is_query {
        (
            "text/xml",
            format!(
                "<ErrorResponse><Error><Type>{}</Type><Code>{code}</Code><Message>{message}</Message></Error><RequestId>fault-proxy</RequestId></ErrorResponse>",
                if status < 500 { "Sender" } else { "Receiver" }
            ),
        )
    } else {
        (
            "application/x-amz-json-1.1",
            format!(r#"{{"__type":"{code}","message":"{message}"}}"#),
        )
    };
    format!(
        "HTTP/1.1 {status} {reason}\r\ncontent-type: {content_type}\r\nx-amzn-errortype: {code}\r\nx-amzn-requestid: fault-proxy\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    )
}

#[cfg(test)]
mod tests {
    use super::{error_response, Fault};

    #[test]
    fn throttle_speaks_the_protocol_of_the_request() {
        let json = error_response(
            Fault::Throttle,
            "post / http/1.1\r\nx-amz-target: logs_20140328.putlogevents\r\n",
        );
        assert!(json.starts_with("HTTP/1.1 400 "));
        assert!(json.contains(r#"{"__type":"ThrottlingException","message":"Rate exceeded"}"#));

        let query = error_response(
            Fault::Throttle,
            "content-type: application/x-www-form-urlencoded\r\n",
        );
        assert!(query.contains("<Code>Throttling</Code>"));
        assert!(query.contains("<Type>Sender</Type>"));

        let rest = error_response(Fault::Throttle, "content-type: application/json\r\n");
        assert!(rest.starts_with("HTTP/1.1 429 "));
    }

    #[test]
    fn http_status_faults_carry_their_status() {
        assert!(
            error_response(Fault::HttpStatus(503), "").starts_with("HTTP/1.1 503 Service Unavailable\r\n")
        );
        assert!(error_response(Fault::HttpStatus(500), "").starts_with("HTTP/1.1 500 "));
    }
}
