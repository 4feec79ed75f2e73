//! `xray-load`: real X-Ray daemon-protocol datagrams on UDP at a steady rate, for the collector's
//! benchmark (benches/collector.sh). Each datagram is a header and one segment document; the
//! documents vary in shape (a bare segment, a segment with HTTP/AWS/SQL subsegments and
//! annotations, an independent subsegment, an in-progress segment then its completion) and in
//! size (about 250 bytes to 6 KiB), and every id is fresh.
//!
//!   xray-load --to 127.0.0.1:2000 --rate 50000 --seconds 5
//!
//! Prints `sent N in S s (R/s)` on stdout when done.

use std::net::UdpSocket;
use std::process::ExitCode;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use clap::Parser;

#[derive(Debug, Parser)]
#[command(about = "Send X-Ray segment datagrams at a steady rate")]
struct Cli {
    /// The collector's UDP address.
    #[arg(long, default_value = "127.0.0.1:2000")]
    to: String,
    /// Datagrams per second.
    #[arg(long, default_value_t = 10_000)]
    rate: u64,
    /// How long to send.
    #[arg(long, default_value_t = 5)]
    seconds: u64,
}

const HEADER: &str = "{\"format\":\"json\",\"version\":1}\n";

fn shape(n: u64, trace: &str, id: &str, parent: &str, now: f64) -> String {
    let start = now - 0.050;
    match n % 5 {
        0 => format!(
            r#"{{"name":"api","id":"{id}","trace_id":"{trace}","start_time":{start:.6},"end_time":{now:.6},"http":{{"request":{{"method":"GET","url":"https://api.example.com/items/{n}"}},"response":{{"status":200}}}}}}"#
        ),
        1 => {
            let subs: Vec<String> = (0..12)
                .map(|i| {
                    format!(
                        r#"{{"id":"{id:.12}{i:04x}","name":"dynamodb","namespace":"aws","start_time":{start:.6},"end_time":{now:.6},"aws":{{"operation":"GetItem","table_name":"orders","request_id":"R{n}{i}"}},"http":{{"response":{{"status":200}}}}}}"#
                    )
                })
                .collect();
            format!(
                r#"{{"name":"checkout","id":"{id}","trace_id":"{trace}","start_time":{start:.6},"end_time":{now:.6},"annotations":{{"tier":"gold","cart":{n}}},"metadata":{{"default":{{"note":"{pad}"}}}},"http":{{"request":{{"method":"POST","url":"https://shop.example.com/checkout"}},"response":{{"status":500}}}},"fault":true,"subsegments":[{}]}}"#,
                subs.join(","),
                pad = "x".repeat(2000)
            )
        }
        2 => format!(
            r#"{{"type":"subsegment","id":"{id}","trace_id":"{trace}","parent_id":"{parent}","name":"db.example.com","namespace":"remote","start_time":{start:.6},"end_time":{now:.6},"sql":{{"url":"postgresql://db.example.com:5432/app","database_type":"PostgreSQL","sanitized_query":"SELECT * FROM items WHERE id = ?"}}}}"#
        ),
        3 => format!(
            r#"{{"name":"worker","id":"{id}","trace_id":"{trace}","start_time":{start:.6},"in_progress":true,"origin":"AWS::EC2::Instance","aws":{{"ec2":{{"instance_id":"i-0123456789abcdef0"}}}}}}"#
        ),
        _ => format!(
            r#"{{"name":"api","id":"{id}","trace_id":"{trace}","start_time":{start:.6},"end_time":{now:.6},"user":"u-{n}","http":{{"request":{{"method":"GET","url":"https://api.example.com/search?q={pad}"}},"response":{{"status":404}}}},"error":true}}"#,
            pad = "y".repeat(6000)
        ),
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let socket = match UdpSocket::bind("127.0.0.1:0").and_then(|s| s.connect(&cli.to).map(|()| s)) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("xray-load: cannot send to {}: {e}", cli.to);
            return ExitCode::from(1);
        }
    };
    let epoch = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let total = cli.rate * cli.seconds;
    let started = Instant::now();
    let mut sent = 0u64;
    let mut failed = 0u64;
    let mut datagram = String::with_capacity(8 << 10);
    while sent < total {
        // Pace per millisecond: send what is due, then wait for the next tick.
        let due = (started.elapsed().as_secs_f64() * cli.rate as f64) as u64;
        if sent >= due.min(total) {
            std::thread::sleep(Duration::from_micros(200));
            continue;
        }
        while sent < due.min(total) {
            let trace = format!("1-{epoch:08x}-{:024x}", sent / 10);
            let id = format!("{:016x}", sent + 1);
            let parent = format!("{:016x}", (sent / 10) * 10 + 1);
            let now = epoch as f64 + started.elapsed().as_secs_f64();
            datagram.clear();
            datagram.push_str(HEADER);
            datagram.push_str(&shape(sent, &trace, &id, &parent, now));
            if socket.send(datagram.as_bytes()).is_err() {
                failed += 1;
            }
            sent += 1;
        }
    }
    let secs = started.elapsed().as_secs_f64();
    println!(
        "sent {sent} in {secs:.2} s ({:.0}/s), {failed} send errors",
        sent as f64 / secs
    );
    ExitCode::SUCCESS
}
