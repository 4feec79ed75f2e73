//! A progress line on stderr for scans that take more than a second, shown only when stderr is
//! a terminal: bytes read, and the total with a bar when it is known (files; not stdin from a
//! pipe or compressed inputs, whose decoded size is not known until the end), and the rate.
//! Cleared when the scan ends.

use std::io::{IsTerminal, Write};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// The display starts after this long, so quick queries print nothing.
const DELAY: Duration = Duration::from_secs(1);
const REFRESH: Duration = Duration::from_millis(200);

pub struct Progress {
    counter: Arc<AtomicU64>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Progress {
    /// Starts the display thread if stderr is a terminal; `total_bytes` when known.
    pub fn start(total_bytes: Option<u64>) -> Option<Progress> {
        if total_bytes == Some(0) || !std::io::stderr().is_terminal() {
            return None;
        }
        let counter = Arc::new(AtomicU64::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let (c, s) = (Arc::clone(&counter), Arc::clone(&stop));
        let thread = std::thread::Builder::new()
            .name("progress".into())
            .spawn(move || show(&c, &s, total_bytes))
            .ok()?;
        Some(Progress {
            counter,
            stop,
            thread: Some(thread),
        })
    }

    /// The counter the readers add their bytes to.
    pub fn counter(&self) -> Arc<AtomicU64> {
        Arc::clone(&self.counter)
    }

    /// Stops the display and clears its line.
    pub fn stop(mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(handle) = self.thread.take() {
            handle.thread().unpark();
            let _ = handle.join();
        }
    }
}

fn show(counter: &AtomicU64, stop: &AtomicBool, total: Option<u64>) {
    let started = Instant::now();
    let mut shown = false;
    while !stop.load(Ordering::Relaxed) {
        std::thread::park_timeout(REFRESH);
        let elapsed = started.elapsed();
        if elapsed < DELAY || stop.load(Ordering::Relaxed) {
            continue;
        }
        let read = counter.load(Ordering::Relaxed);
        let rate = read as f64 / elapsed.as_secs_f64() / 1e6;
        let Some(total) = total else {
            let _ = write!(
                std::io::stderr(),
                "\r{:.1} MB read {rate:.0} MB/s ",
                read as f64 / 1e6
            );
            shown = true;
            continue;
        };
        let done = read.min(total);
        let width = 30usize;
        let filled = (done as f64 / total as f64 * width as f64) as usize;
        let bar = format!(
            "{}{}",
            "#".repeat(filled),
            "-".repeat(width.saturating_sub(filled))
        );
        let _ = write!(
            std::io::stderr(),
            "\r[{bar}] {:.0}% {:.1}/{:.1} MB {rate:.0} MB/s ",
            done as f64 / total as f64 * 100.0,
            done as f64 / 1e6,
            total as f64 / 1e6
        );
        shown = true;
    }
    if shown {
        let _ = write!(std::io::stderr(), "\r\x1b[2K");
    }
}
