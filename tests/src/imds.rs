//! A stand-in for the EC2 instance metadata service (IMDSv2), for tests of code that reads it
//! through the SDK's IMDS client. There is no real one off EC2, and moto's answers the token
//! request without the TTL header the SDK requires. It speaks the documented protocol and
//! enforces its rules: `PUT /latest/api/token` must carry `X-aws-ec2-metadata-token-ttl-seconds`
//! (the answer carries it back), and every `GET` must carry the token (401 otherwise).
//! Point a client at it with `AWS_EC2_METADATA_SERVICE_ENDPOINT`.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

const TOKEN: &str = "skywatch-test-imds-token";

/// A running metadata service; stops when dropped.
#[derive(Debug)]
pub struct FakeImds {
    addr: SocketAddr,
    /// GET requests refused for lack of a token.
    pub unauthorized: Arc<AtomicU64>,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl FakeImds {
    /// Serves `meta_data` (paths under `/latest/meta-data/`, such as `instance-id`).
    pub fn start(meta_data: &[(&str, &str)]) -> std::io::Result<FakeImds> {
        let listener = std::net::TcpListener::bind(("127.0.0.1", 0))?;
        listener.set_nonblocking(true)?;
        let addr = listener.local_addr()?;
        let paths: Arc<HashMap<String, String>> = Arc::new(
            meta_data
                .iter()
                .map(|(k, v)| (format!("/latest/meta-data/{k}"), (*v).to_string()))
                .collect(),
        );
        let unauthorized = Arc::new(AtomicU64::new(0));
        let counter = Arc::clone(&unauthorized);
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        let (shutdown_tx, shutdown_rx) = tokio::sync::oneshot::channel::<()>();
        let thread = std::thread::spawn(move || {
            runtime.block_on(async move {
                let Ok(listener) = TcpListener::from_std(listener) else { return };
                let serve = async {
                    loop {
                        let Ok((mut stream, _)) = listener.accept().await else { continue };
                        let (paths, counter) = (Arc::clone(&paths), Arc::clone(&counter));
                        tokio::spawn(async move {
                            let mut head = Vec::new();
                            let mut buf = [0u8; 1024];
                            while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                                match stream.read(&mut buf).await {
                                    Ok(0) | Err(_) => return,
                                    Ok(n) => head.extend_from_slice(&buf[..n]),
                                }
                            }
                            let text = String::from_utf8_lossy(&head).to_ascii_lowercase();
                            let first = text.lines().next().unwrap_or_default().to_string();
                            let mut words = first.split(' ');
                            let (method, path) = (words.next().unwrap_or(""), words.next().unwrap_or(""));
                            let header = |name: &str| {
                                text.lines()
                                    .find_map(|l| l.strip_prefix(&format!("{name}:")).map(|v| v.trim().to_string()))
                            };
                            let original_path = String::from_utf8_lossy(&head)
                                .lines()
                                .next()
                                .and_then(|l| l.split(' ').nth(1).map(str::to_string))
                                .unwrap_or_default();
                            let response = match (method, path) {
                                ("put", "/latest/api/token") => match header("x-aws-ec2-metadata-token-ttl-seconds") {
                                    Some(ttl) => format!(
                                        "HTTP/1.1 200 OK\r\nx-aws-ec2-metadata-token-ttl-seconds: {ttl}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{TOKEN}",
                                        TOKEN.len()
                                    ),
                                    None => "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n".to_string(),
                                },
                                ("get", _) if header("x-aws-ec2-metadata-token").as_deref() != Some(&TOKEN.to_ascii_lowercase()) => {
                                    counter.fetch_add(1, Ordering::Relaxed);
                                    "HTTP/1.1 401 Unauthorized\r\nContent-Length: 0\r\nConnection: close\r\n\r\n".to_string()
                                }
                                ("get", _) => match paths.get(&original_path) {
                                    Some(body) => format!(
                                        "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                                        body.len()
                                    ),
                                    None => "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n".to_string(),
                                },
                                _ => "HTTP/1.1 405 Method Not Allowed\r\nContent-Length: 0\r\nConnection: close\r\n\r\n".to_string(),
                            };
                            let _ = stream.write_all(response.as_bytes()).await;
                            let _ = stream.shutdown().await;
                        });
                    }
                };
                tokio::select! {
                    () = serve => {}
                    _ = shutdown_rx => {}
                }
            });
        });
        Ok(FakeImds {
            addr,
            unauthorized,
            shutdown: Some(shutdown_tx),
            thread: Some(thread),
        })
    }

    /// For `AWS_EC2_METADATA_SERVICE_ENDPOINT`.
    pub fn endpoint_url(&self) -> String {
        format!("http://{}", self.addr)
    }
}

impl Drop for FakeImds {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}
