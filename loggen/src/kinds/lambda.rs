//! One Lambda function's log stream in the text log format: per invocation
//! `START`, application lines (`<ISO ts>\t<requestId>\t<LEVEL>\t<message>`,
//! some with an embedded JSON fragment), `END` and `REPORT` (with
//! `Init Duration` on cold starts, which are preceded by `INIT_START`).
//! The platform lines carry no timestamp, as in CloudWatch. The function's
//! timeout is 3 s; a timed-out invocation logs `Task timed out after 3.00 seconds`.

use super::LineGen;
use crate::clock::{self, Clock};
use crate::emit;
use crate::rng::{Rng, Weighted};
use crate::vocab::{Messages, FIRST_NAMES, LEVELS};

const TIMEOUT_CENTI: u64 = 300_000;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    InitStart,
    Start,
    App,
    Timeout,
    End,
    Report,
}

pub struct Lambda {
    rng: Rng,
    clock: Clock,
    messages: Messages,
    app_levels: Weighted,
    app_counts: Weighted,
    memory_mb: u64,
    cold_per_mille: u64,
    /// Invocation number that times out, in fixtures; in bulk output a rare random event.
    timeout_at: Option<u64>,
    invocations: u64,
    phase: Phase,
    request_id: [u8; 36],
    start_ms: i64,
    duration_centi: u64,
    init_centi: Option<u64>,
    timed_out: bool,
    app_lines: u64,
    app_done: u64,
}

impl Lambda {
    pub fn new(seed: u64, start_ms: i64, mean_gap_ms: u64, fixture: bool) -> Self {
        let mut rng = Rng::new(seed);
        let mut setup = rng.fork();
        let memory_mb = setup.pick(&[128, 256, 512, 1024]);
        let mut g = Lambda {
            messages: Messages::requests(&mut setup),
            rng,
            clock: Clock::new(start_ms, mean_gap_ms),
            app_levels: Weighted::new([75, 10, 8, 7]),
            app_counts: Weighted::new([15, 35, 30, 15, 5]),
            memory_mb,
            cold_per_mille: if fixture { 80 } else { 30 },
            timeout_at: fixture.then_some(40),
            invocations: 0,
            phase: Phase::Start,
            request_id: [b'0'; 36],
            start_ms,
            duration_centi: 0,
            init_centi: None,
            timed_out: false,
            app_lines: 0,
            app_done: 0,
        };
        g.begin_invocation();
        g
    }

    fn begin_invocation(&mut self) {
        let rng = &mut self.rng;
        self.invocations += 1;
        let mut id = Vec::with_capacity(36);
        emit::uuid(&mut id, rng);
        self.request_id.copy_from_slice(&id);
        let cold = self.invocations == 1 || rng.per_mille(self.cold_per_mille);
        self.init_centi = cold.then(|| (rng.lognormal(250.0, 0.4) * 100.0) as u64);
        self.timed_out = match self.timeout_at {
            Some(n) => self.invocations == n,
            None => rng.below(3000) == 0,
        };
        self.duration_centi = if self.timed_out {
            TIMEOUT_CENTI
        } else {
            ((rng.lognormal(120.0, 0.9) * 100.0) as u64).clamp(80, TIMEOUT_CENTI - 1)
        };
        // The next invocation starts after this one ends.
        let init_ms = self.init_centi.unwrap_or(0) / 100;
        self.start_ms = self.clock.tick(rng) + init_ms as i64;
        self.clock
            .advance_to(self.start_ms + (self.duration_centi / 100) as i64);
        self.app_lines = self.app_counts.sample(rng) as u64 + u64::from(self.timed_out);
        self.app_done = 0;
        self.phase = if cold { Phase::InitStart } else { Phase::Start };
    }

    fn prefix(&self, buf: &mut Vec<u8>, ts: i64) {
        clock::iso_ms(buf, ts);
        buf.push(b'\t');
        buf.extend_from_slice(&self.request_id);
        buf.push(b'\t');
    }

    fn app_line(&mut self, buf: &mut Vec<u8>) {
        let span = (self.duration_centi / 100).max(1) * (self.app_done + 1) / (self.app_lines + 1);
        self.prefix(buf, self.start_ms + span as i64);
        let rng = &mut self.rng;
        let level = self.app_levels.sample(rng);
        buf.extend_from_slice(LEVELS[level].as_bytes());
        buf.push(b'\t');
        if level == 2 && rng.per_mille(400) {
            buf.extend_from_slice(
                b"Invoke Error \t{\"errorType\":\"TypeError\",\"errorMessage\":\"Cannot read properties of undefined (reading 'id')\",\"stack\":[\"TypeError: Cannot read properties of undefined (reading 'id')\",\"    at Runtime.handler (/var/task/index.js:",
            );
            emit::u64(buf, rng.range(5, 90));
            buf.extend_from_slice(b":21)\"]}");
        } else if level == 0 && rng.per_mille(300) {
            buf.extend_from_slice(b"Received event: {\"orderId\":\"o-");
            emit::u64(buf, rng.range(10_000, 99_999));
            buf.extend_from_slice(b"\",\"user\":{\"name\":\"");
            buf.extend_from_slice(rng.pick(&FIRST_NAMES).as_bytes());
            buf.extend_from_slice(b"\",\"id\":");
            emit::u64(buf, rng.range(1, 5000));
            buf.extend_from_slice(b"},\"items\":");
            emit::u64(buf, rng.range(1, 9));
            buf.extend_from_slice(b",\"total\":");
            emit::fixed(buf, rng.range(100, 99_999) as i64, 2);
            buf.push(b'}');
        } else {
            self.messages.pick(level, rng).render(buf, rng, false, "");
        }
        buf.push(b'\n');
    }
}

impl LineGen for Lambda {
    fn line(&mut self, buf: &mut Vec<u8>) {
        match self.phase {
            Phase::InitStart => {
                buf.extend_from_slice(
                    b"INIT_START Runtime Version: nodejs:20.v13\tRuntime Version ARN: arn:aws:lambda:us-east-1::runtime:0b6a7f5c1b1f4c3a9a8e5d2c7b4f1e0d9c8b7a6f5e4d3c2b1a0f9e8d7c6b5a4f\n",
                );
                self.phase = Phase::Start;
            }
            Phase::Start => {
                buf.extend_from_slice(b"START RequestId: ");
                buf.extend_from_slice(&self.request_id);
                buf.extend_from_slice(b" Version: $LATEST\n");
                self.phase = if self.app_lines > 0 {
                    Phase::App
                } else {
                    Phase::End
                };
            }
            Phase::App => {
                if self.timed_out && self.app_done + 1 == self.app_lines {
                    self.phase = Phase::Timeout;
                    return self.line(buf);
                }
                self.app_line(buf);
                self.app_done += 1;
                if self.app_done == self.app_lines {
                    self.phase = Phase::End;
                }
            }
            Phase::Timeout => {
                clock::iso_ms(buf, self.start_ms + (TIMEOUT_CENTI / 100) as i64);
                buf.push(b' ');
                buf.extend_from_slice(&self.request_id);
                buf.extend_from_slice(b" Task timed out after 3.00 seconds\n");
                self.phase = Phase::End;
            }
            Phase::End => {
                buf.extend_from_slice(b"END RequestId: ");
                buf.extend_from_slice(&self.request_id);
                buf.push(b'\n');
                self.phase = Phase::Report;
            }
            Phase::Report => {
                let rng = &mut self.rng;
                buf.extend_from_slice(b"REPORT RequestId: ");
                buf.extend_from_slice(&self.request_id);
                buf.extend_from_slice(b"\tDuration: ");
                emit::fixed(buf, self.duration_centi as i64, 2);
                buf.extend_from_slice(b" ms\tBilled Duration: ");
                emit::u64(buf, self.duration_centi.div_ceil(100));
                buf.extend_from_slice(b" ms\tMemory Size: ");
                emit::u64(buf, self.memory_mb);
                buf.extend_from_slice(b" MB\tMax Memory Used: ");
                let low = (self.memory_mb * 3 / 10).min(70);
                emit::u64(buf, rng.range(low, self.memory_mb * 9 / 10));
                buf.extend_from_slice(b" MB\t");
                if let Some(init) = self.init_centi {
                    buf.extend_from_slice(b"Init Duration: ");
                    emit::fixed(buf, init as i64, 2);
                    buf.extend_from_slice(b" ms\t");
                }
                if rng.per_mille(300) {
                    buf.extend_from_slice(b"XRAY TraceId: 1-");
                    emit::hex(buf, (self.start_ms / 1000) as u64, 8);
                    buf.push(b'-');
                    emit::hex(buf, rng.next_u64(), 16);
                    emit::hex(buf, rng.next_u64(), 8);
                    buf.extend_from_slice(b"\tSegmentId: ");
                    emit::hex(buf, rng.next_u64(), 16);
                    buf.extend_from_slice(b"\tSampled: true\t");
                }
                buf.push(b'\n');
                self.begin_invocation();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kinds::collect_lines;

    #[test]
    fn invocations_are_well_formed_and_the_fixture_times_out_once() {
        let mut g = Lambda::new(5, clock::DEFAULT_START_MS, 30_000, true);
        let lines = collect_lines(&mut g, 2000);
        let starts = lines
            .iter()
            .filter(|l| l.starts_with("START RequestId: "))
            .count();
        let reports = lines
            .iter()
            .filter(|l| l.starts_with("REPORT RequestId: "))
            .count();
        assert!(starts.abs_diff(reports) <= 1);
        assert_eq!(
            lines
                .iter()
                .filter(|l| l.ends_with("Task timed out after 3.00 seconds"))
                .count(),
            1
        );
        assert!(lines
            .iter()
            .any(|l| l.starts_with("REPORT") && l.contains("Init Duration: ")));
        assert!(lines
            .iter()
            .any(|l| l.starts_with("REPORT") && !l.contains("Init Duration")));
        assert!(lines
            .iter()
            .any(|l| l.contains("\tINFO\tReceived event: {\"orderId\"")));
        // Application-line timestamps never go backwards.
        let ts: Vec<&str> = lines
            .iter()
            .filter(|l| l.starts_with("2024-"))
            .map(|l| &l[..24])
            .collect();
        assert!(ts.windows(2).all(|w| w[0] <= w[1]));
    }
}
