//! CPU time from procfs `stat`, and usage percentages from the change between two readings, as
//! the CloudWatch agent (Telegraf's cpu plugin on gopsutil) computes them:
//!
//! - total = user + nice + system + idle + iowait + irq + softirq + steal (guest time is already
//!   inside user and nice, so it is not added again);
//! - `usage_<state>` = 100 × Δstate / Δtotal, with `usage_user` and `usage_nice` excluding
//!   the guest share (Δuser − Δguest, Δnice − Δguest_nice);
//! - `usage_active` = 100 − `usage_idle` share: everything but idle (iowait counts as active);
//! - `time_<state>` = cumulative seconds (jiffies ÷ 100, the kernel's `USER_HZ`).
//!
//! The first reading yields no usage, and neither does an interval in which the counters did
//! not move or went backwards (a CPU taken offline and back).

use super::LineError;

/// Clock ticks per second of `stat` counters (`USER_HZ`, 100 on every Linux architecture the
/// agent runs on).
const TICKS_PER_SECOND: f64 = 100.0;

/// Cumulative ticks of one CPU line (`cpu` is the total, `cpuN` one core).
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct CpuTimes {
    pub user: u64,
    pub nice: u64,
    pub system: u64,
    pub idle: u64,
    pub iowait: u64,
    pub irq: u64,
    pub softirq: u64,
    pub steal: u64,
    pub guest: u64,
    pub guest_nice: u64,
}

/// The CPU lines of `stat`: (`cpu-total` or `cpuN`, ticks), the total first when present.
pub fn parse_stat(text: &str) -> Result<Vec<(String, CpuTimes)>, LineError> {
    let mut cpus = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let mut words = line.split_ascii_whitespace();
        let Some(name) = words.next().filter(|w| w.starts_with("cpu")) else {
            continue;
        };
        let bad = || LineError {
            file: "stat",
            line: n + 1,
            text: line.to_string(),
            expected: "a cpu line of counters",
        };
        let counters: Vec<u64> = words
            .map(str::parse)
            .collect::<Result<_, _>>()
            .map_err(|_| bad())?;
        // Kernels before 2.6.11 have no steal, before 2.6.24 no guest, before 2.6.33 no
        // guest_nice; the first four are always there.
        if counters.len() < 4 {
            return Err(bad());
        }
        let at = |i: usize| counters.get(i).copied().unwrap_or(0);
        let times = CpuTimes {
            user: at(0),
            nice: at(1),
            system: at(2),
            idle: at(3),
            iowait: at(4),
            irq: at(5),
            softirq: at(6),
            steal: at(7),
            guest: at(8),
            guest_nice: at(9),
        };
        let label = if name == "cpu" {
            "cpu-total".to_string()
        } else {
            name.to_string()
        };
        cpus.push((label, times));
    }
    Ok(cpus)
}

impl CpuTimes {
    fn total(&self) -> u64 {
        self.user
            .saturating_add(self.nice)
            .saturating_add(self.system)
            .saturating_add(self.idle)
            .saturating_add(self.iowait)
            .saturating_add(self.irq)
            .saturating_add(self.softirq)
            .saturating_add(self.steal)
    }

    /// The `time_*` fields: cumulative seconds, in the schema's field names.
    pub fn seconds(&self) -> Vec<(&'static str, f64)> {
        let s = |ticks: u64| ticks as f64 / TICKS_PER_SECOND;
        vec![
            ("time_active", s(self.total().saturating_sub(self.idle))),
            ("time_guest", s(self.guest)),
            ("time_guest_nice", s(self.guest_nice)),
            ("time_idle", s(self.idle)),
            ("time_iowait", s(self.iowait)),
            ("time_irq", s(self.irq)),
            ("time_nice", s(self.nice)),
            ("time_softirq", s(self.softirq)),
            ("time_steal", s(self.steal)),
            ("time_system", s(self.system)),
            ("time_user", s(self.user)),
        ]
    }

    /// The `usage_*` fields over the interval from `earlier` to `self`, in percent; `None`
    /// when the counters did not advance (or went back).
    pub fn usage_since(&self, earlier: &CpuTimes) -> Option<Vec<(&'static str, f64)>> {
        let before = earlier.total();
        let now = self.total();
        if now <= before || self.idle < earlier.idle {
            return None;
        }
        let span = (now - before) as f64;
        let pct = |now: u64, before: u64| 100.0 * now.saturating_sub(before) as f64 / span;
        let guest = self.guest.saturating_sub(earlier.guest);
        let guest_nice = self.guest_nice.saturating_sub(earlier.guest_nice);
        let idle = pct(self.idle, earlier.idle);
        Some(vec![
            ("usage_active", 100.0 - idle),
            ("usage_guest", pct(self.guest, earlier.guest)),
            ("usage_guest_nice", pct(self.guest_nice, earlier.guest_nice)),
            ("usage_idle", idle),
            ("usage_iowait", pct(self.iowait, earlier.iowait)),
            ("usage_irq", pct(self.irq, earlier.irq)),
            (
                "usage_nice",
                pct(self.nice.saturating_sub(guest_nice), earlier.nice),
            ),
            ("usage_softirq", pct(self.softirq, earlier.softirq)),
            ("usage_steal", pct(self.steal, earlier.steal)),
            ("usage_system", pct(self.system, earlier.system)),
            ("usage_user", pct(self.user.saturating_sub(guest), earlier.user)),
        ])
    }
}
