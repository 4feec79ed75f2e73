//! The daemon protocol's UDP receiver: a thread of its own that reads datagrams, checks their
//! header, and hands each document to a queue bounded in documents and in bytes — never
//! waiting on anything downstream. When the queue is full the new document is dropped and
//! counted as `dropped{reason="queue_full"}`; a malformed datagram is counted by its reason.

use std::net::UdpSocket;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use skywatch_runtime::queue::{BoundedQueue, Pushed};

use crate::datagram::{self, MAX_DATAGRAM_BYTES};
use crate::ingest::{ByteBudget, Ingest};

/// A received document and when it came (epoch seconds).
pub type Received = (Vec<u8>, f64);

/// How often the reading thread looks at its stop flag when no datagram comes.
const STOP_CHECK: Duration = Duration::from_millis(100);

/// The socket's receive buffer asked of the kernel: bursts wait there while the reader is busy.
const RECEIVE_BUFFER_BYTES: usize = 8 << 20;

/// Binds `address` with a large receive buffer.
pub fn bind(address: std::net::SocketAddr) -> std::io::Result<UdpSocket> {
    let domain = socket2::Domain::for_address(address);
    let socket = socket2::Socket::new(domain, socket2::Type::DGRAM, Some(socket2::Protocol::UDP))?;
    // Best effort: the kernel caps it at net.core.rmem_max.
    let _ = socket.set_recv_buffer_size(RECEIVE_BUFFER_BYTES);
    socket.bind(&address.into())?;
    Ok(socket.into())
}

/// Where the reader hands documents.
#[derive(Debug, Clone)]
pub struct Handoff {
    pub queue: Arc<BoundedQueue<Received>>,
    /// The queue's bytes (the ingest loop gives back what it takes off).
    pub budget: Arc<ByteBudget>,
    pub ingest: Arc<Ingest>,
}

/// Reads `socket` on a thread until `stop` is set.
pub fn spawn(
    socket: UdpSocket,
    handoff: Handoff,
    stop: Arc<AtomicBool>,
) -> std::io::Result<std::thread::JoinHandle<()>> {
    socket.set_read_timeout(Some(STOP_CHECK))?;
    std::thread::Builder::new()
        .name("collector-udp".into())
        .spawn(move || read(&socket, &handoff, &stop))
}

fn read(socket: &UdpSocket, handoff: &Handoff, stop: &AtomicBool) {
    let Handoff {
        queue,
        budget,
        ingest,
    } = handoff;
    // One byte more than a datagram can hold, so an oversize one (loopback allows up to 64 KiB
    // on some systems) shows as such instead of as a truncated document.
    let mut buffer = vec![0u8; MAX_DATAGRAM_BYTES + 1];
    let full = || {
        ingest.counters.dropped.add(&"queue_full", 1);
        ingest.once(
            "queue_full",
            "the receive queue is full (ingest too slow): dropping new documents",
        );
    };
    let mut draining = false;
    loop {
        if !draining && stop.load(Ordering::Relaxed) {
            // Read what the socket still holds, without waiting, then stop.
            if socket.set_nonblocking(true).is_err() {
                break;
            }
            draining = true;
        }
        let n = match socket.recv(&mut buffer) {
            Ok(n) => n,
            Err(e) if draining && e.kind() == std::io::ErrorKind::WouldBlock => break,
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock
                        | std::io::ErrorKind::TimedOut
                        | std::io::ErrorKind::Interrupted
                ) =>
            {
                continue
            }
            Err(e) => {
                ingest.once("udp_read", format_args!("reading the UDP socket failed: {e}"));
                if draining {
                    break;
                }
                std::thread::sleep(STOP_CHECK);
                continue;
            }
        };
        ingest.counters.received.add(&"udp", 1);
        match datagram::document(&buffer[..n]) {
            Ok(document) => {
                if !budget.take(document.len()) {
                    full();
                    continue;
                }
                let received = skywatch_runtime::clock::now_ms() as f64 / 1000.0;
                match queue.push((document.to_vec(), received)) {
                    Pushed::Queued => {}
                    Pushed::Dropped => {
                        budget.give(document.len());
                        full();
                    }
                    Pushed::Closed => {
                        budget.give(document.len());
                        ingest.counters.dropped.add(&"shutdown", 1);
                    }
                }
            }
            Err(rejected) => ingest.reject(rejected.reason(), &rejected),
        }
    }
}
