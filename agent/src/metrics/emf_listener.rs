//! The CloudWatch agent's EMF listener (`logs.metrics_collected.emf`): applications and
//! libraries (aws-embedded-metrics, Powertools) send embedded-metric-format documents to
//! TCP or UDP port 25888 — newline-delimited over TCP, one per datagram over UDP — and they
//! become metrics through the same path as EMF lines of log files. Loopback by default.
//!
//! The socket reads never wait on the metrics side: a full queue drops the new documents, and
//! says so (counted as `emf_dropped`, logged at the first and each doubling).

use std::sync::Arc;

use skywatch_runtime::clock::now_ms;
use skywatch_runtime::queue::Pushed;
use tokio::io::{AsyncBufReadExt as _, AsyncReadExt as _};
use tokio::net::{TcpListener, UdpSocket};

use crate::daemon::{EmfQueue, JOURNAL};
use crate::telemetry::{LogOutcome, Telemetry};

/// The default address, as the CloudWatch agent's port, on loopback.
pub const DEFAULT_ADDRESS: &str = "127.0.0.1:25888";
/// The longest document read from a TCP connection; a longer line closes the connection.
pub const MAX_DOCUMENT_BYTES: usize = 1 << 20;

/// Where the listener listens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Listen {
    Tcp(String),
    Udp(String),
}

impl Listen {
    /// `tcp://HOST:PORT` or `udp://HOST:PORT`.
    pub fn parse(text: &str) -> Option<Listen> {
        if let Some(addr) = text.strip_prefix("tcp://") {
            Some(Listen::Tcp(addr.to_string()))
        } else {
            text.strip_prefix("udp://")
                .map(|addr| Listen::Udp(addr.to_string()))
        }
    }
}

/// Queues one document; false once the queue is closed (the agent is stopping).
fn hand_over(queue: &EmfQueue, telemetry: &Telemetry, document: String) -> bool {
    if document.trim().is_empty() {
        return true;
    }
    let pushed = queue.push(vec![(now_ms(), document)]);
    if pushed == Pushed::Closed {
        return false;
    }
    if pushed == Pushed::Dropped {
        telemetry.log_events(LogOutcome::EmfDropped, 1);
        let n = telemetry.log_event_count(LogOutcome::EmfDropped);
        if n.is_power_of_two() {
            JOURNAL.log(format_args!(
                "EMF listener: the metrics side is behind; {n} document(s) dropped so far"
            ));
        }
    }
    true
}

/// Binds every address (a failure names it), then serves them on tasks of their own.
pub async fn start(
    addresses: &[Listen],
    queue: Arc<EmfQueue>,
    telemetry: Arc<Telemetry>,
) -> Result<Vec<tokio::task::JoinHandle<()>>, String> {
    let mut tasks = Vec::new();
    for address in addresses {
        match address {
            Listen::Udp(addr) => {
                let socket = UdpSocket::bind(addr)
                    .await
                    .map_err(|e| format!("EMF listener: cannot listen on udp://{addr}: {e}"))?;
                JOURNAL.log(format_args!("EMF listener on udp://{addr} (documents become metrics; the log records themselves are not kept — the CloudWatch agent sends them to CloudWatch Logs)"));
                let (queue, telemetry) = (Arc::clone(&queue), Arc::clone(&telemetry));
                tasks.push(tokio::spawn(async move {
                    let mut buf = vec![0u8; 65_536];
                    loop {
                        let Ok((n, _)) = socket.recv_from(&mut buf).await else {
                            // The socket's error, not a datagram's: pause instead of spinning.
                            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                            continue;
                        };
                        // A datagram may carry several documents, one a line.
                        for line in String::from_utf8_lossy(&buf[..n]).lines() {
                            if !hand_over(&queue, &telemetry, line.to_string()) {
                                return;
                            }
                        }
                    }
                }));
            }
            Listen::Tcp(addr) => {
                let listener = TcpListener::bind(addr)
                    .await
                    .map_err(|e| format!("EMF listener: cannot listen on tcp://{addr}: {e}"))?;
                JOURNAL.log(format_args!("EMF listener on tcp://{addr} (documents become metrics; the log records themselves are not kept — the CloudWatch agent sends them to CloudWatch Logs)"));
                let (queue, telemetry) = (Arc::clone(&queue), Arc::clone(&telemetry));
                tasks.push(tokio::spawn(async move {
                    loop {
                        let Ok((stream, _)) = listener.accept().await else {
                            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                            continue;
                        };
                        let (queue, telemetry) = (Arc::clone(&queue), Arc::clone(&telemetry));
                        tokio::spawn(async move {
                            let mut lines = tokio::io::BufReader::new(stream);
                            let mut line = Vec::new();
                            loop {
                                line.clear();
                                match (&mut lines)
                                    .take(MAX_DOCUMENT_BYTES as u64 + 1)
                                    .read_until(b'\n', &mut line)
                                    .await
                                {
                                    Ok(0) | Err(_) => return,
                                    Ok(n) if n > MAX_DOCUMENT_BYTES => {
                                        JOURNAL.log(
                                            "EMF listener: a document over 1 MiB; closing that connection",
                                        );
                                        telemetry.log_events(LogOutcome::EmfInvalid, 1);
                                        return;
                                    }
                                    Ok(_) => {
                                        let document = String::from_utf8_lossy(&line).into_owned();
                                        if !hand_over(&queue, &telemetry, document) {
                                            return;
                                        }
                                    }
                                }
                            }
                        });
                    }
                }));
            }
        }
    }
    Ok(tasks)
}

#[cfg(test)]
mod tests {
    use super::Listen;

    #[test]
    fn addresses_name_their_protocol() {
        assert_eq!(
            Listen::parse("udp://127.0.0.1:25888"),
            Some(Listen::Udp("127.0.0.1:25888".into()))
        );
        assert_eq!(
            Listen::parse("tcp://0.0.0.0:25888"),
            Some(Listen::Tcp("0.0.0.0:25888".into()))
        );
        assert_eq!(Listen::parse("127.0.0.1:25888"), None);
    }
}
