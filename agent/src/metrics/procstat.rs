//! The CloudWatch agent's `procstat`: per-process metrics of the processes an entry selects
//! (`pid_file`, else `exe`, else `pattern`), read from `/proc/<pid>/{stat,status,io,fd}` as
//! Telegraf's procstat (the agent's fork) reads them, and `procstat_lookup_pid_count` — how many
//! processes matched, sent every interval, 0 included, so an alarm sees a process die.
//!
//! - `exe` is a regex found ("contains") in the process name (`/proc/<pid>/comm`) or in its
//!   executable's path; `pattern` in the command line (arguments joined by spaces); `pid_file`
//!   names a file holding one pid.
//! - Dimensions: `exe`/`pattern`/`pidfile` with the configured value and `process_name` on the
//!   process metrics; the selection and `pid_finder = native` on the pid count. An unreadable
//!   pid file sends a count of 0 with `pid_finder` only, as the CloudWatch agent does.
//! - `cpu_usage`: percent of one CPU over the interval (user + system ticks), so the first
//!   reading of a process sends none; `cpu_time_*`: seconds (ticks / 100); `memory_*`: bytes
//!   (from `status`: VmRSS, VmSize, VmData, VmStk, VmLck, VmSwap); I/O from `io` (syscr, syscw,
//!   read_bytes, write_bytes) when this user may read it; `num_fds` likewise from `fd/`.
//!   `cpu_time_{guest,idle,…}` are 0 on Linux, as in Telegraf.

use std::collections::HashMap;
use std::path::Path;
use std::time::Instant;

use regex::Regex;

use super::collect::Sample;
use crate::config::ProcessSelector;

/// Clock ticks per second of `/proc/<pid>/stat` times (USER_HZ, 100 on Linux).
const TICKS_PER_SECOND: f64 = 100.0;

/// What one process's files say.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ProcessReading {
    pub pid: u32,
    pub name: String,
    pub user_ticks: u64,
    pub system_ticks: u64,
    pub iowait_ticks: u64,
    pub nice: i64,
    pub priority: i64,
    /// From `status`, bytes.
    pub memory: Vec<(&'static str, u64)>,
    pub threads: u64,
    pub voluntary_switches: u64,
    pub involuntary_switches: u64,
    pub signals_pending: u64,
    /// syscr, syscw, read_bytes, write_bytes (none when `io` cannot be read).
    pub io: Option<[u64; 4]>,
    pub fds: Option<u64>,
    /// `rlimit_*_soft` / `rlimit_*_hard` from `limits` (unlimited as u64::MAX, as Telegraf).
    pub limits: Vec<(&'static str, f64)>,
}

/// `/proc/<pid>/limits` rows and the fields they give: (row name, soft field, hard field).
const LIMITS: &[(&str, &str, &str)] = &[
    ("Max cpu time", "rlimit_cpu_time_soft", "rlimit_cpu_time_hard"),
    (
        "Max file locks",
        "rlimit_file_locks_soft",
        "rlimit_file_locks_hard",
    ),
    (
        "Max data size",
        "rlimit_memory_data_soft",
        "rlimit_memory_data_hard",
    ),
    (
        "Max locked memory",
        "rlimit_memory_locked_soft",
        "rlimit_memory_locked_hard",
    ),
    (
        "Max resident set",
        "rlimit_memory_rss_soft",
        "rlimit_memory_rss_hard",
    ),
    (
        "Max stack size",
        "rlimit_memory_stack_soft",
        "rlimit_memory_stack_hard",
    ),
    (
        "Max address space",
        "rlimit_memory_vms_soft",
        "rlimit_memory_vms_hard",
    ),
    (
        "Max nice priority",
        "rlimit_nice_priority_soft",
        "rlimit_nice_priority_hard",
    ),
    ("Max open files", "rlimit_num_fds_soft", "rlimit_num_fds_hard"),
    (
        "Max realtime priority",
        "rlimit_realtime_priority_soft",
        "rlimit_realtime_priority_hard",
    ),
    (
        "Max pending signals",
        "rlimit_signals_pending_soft",
        "rlimit_signals_pending_hard",
    ),
];

/// The limits of a `limits` file, as fields.
pub fn parse_limits(text: &str) -> Vec<(&'static str, f64)> {
    let value = |v: &str| {
        if v == "unlimited" {
            Some(u64::MAX as f64)
        } else {
            v.parse::<u64>().ok().map(|n| n as f64)
        }
    };
    let mut out = Vec::new();
    for line in text.lines() {
        for (row, soft, hard) in LIMITS {
            if let Some(rest) = line.strip_prefix(row) {
                let mut cells = rest.split_ascii_whitespace();
                if let (Some(s), Some(h)) = (cells.next().and_then(value), cells.next().and_then(value)) {
                    out.push((*soft, s));
                    out.push((*hard, h));
                }
            }
        }
    }
    out
}

/// The pids an entry selects, or why the selection itself failed (an unreadable pid file).
pub fn find_pids(proc_root: &Path, selector: &ProcessSelector) -> Result<Vec<u32>, String> {
    if let ProcessSelector::PidFile(file) = selector {
        let text = std::fs::read_to_string(file).map_err(|e| format!("cannot read {file}: {e}"))?;
        let pid = text
            .trim()
            .parse::<u32>()
            .map_err(|_| format!("{file} does not hold a pid"))?;
        return Ok(vec![pid]);
    }
    let (regex, on_cmdline) = match selector {
        ProcessSelector::Exe(re) => (re, false),
        ProcessSelector::Pattern(re) => (re, true),
        ProcessSelector::PidFile(_) => return Ok(Vec::new()),
    };
    let regex = Regex::new(regex).map_err(|e| e.to_string())?;
    let mut pids = Vec::new();
    let entries = std::fs::read_dir(proc_root).map_err(|e| format!("{}: {e}", proc_root.display()))?;
    for entry in entries.flatten() {
        let Some(pid) = entry.file_name().to_str().and_then(|n| n.parse::<u32>().ok()) else {
            continue;
        };
        let dir = entry.path();
        let matched = if on_cmdline {
            std::fs::read(dir.join("cmdline")).is_ok_and(|raw| {
                let line: String = String::from_utf8_lossy(&raw)
                    .split('\0')
                    .filter(|a| !a.is_empty())
                    .collect::<Vec<_>>()
                    .join(" ");
                regex.is_match(&line)
            })
        } else {
            std::fs::read_to_string(dir.join("comm")).is_ok_and(|name| regex.is_match(name.trim()))
                || std::fs::read_link(dir.join("exe")).is_ok_and(|exe| regex.is_match(&exe.to_string_lossy()))
        };
        if matched {
            pids.push(pid);
        }
    }
    pids.sort_unstable();
    Ok(pids)
}

/// Reads one process; `None` if it exited (or its `stat` is not in the kernel's shape).
pub fn read_process(proc_root: &Path, pid: u32) -> Option<ProcessReading> {
    let dir = proc_root.join(pid.to_string());
    let stat = std::fs::read_to_string(dir.join("stat")).ok()?;
    let (name_part, rest) = stat.rsplit_once(')')?;
    let name = name_part.split_once('(').map_or("", |(_, n)| n).to_string();
    // Fields after the name, from the state (field 3) on.
    let fields: Vec<&str> = rest.split_ascii_whitespace().collect();
    let field = |n: usize| fields.get(n - 3).and_then(|v| v.parse::<i64>().ok()).unwrap_or(0);
    let mut reading = ProcessReading {
        pid,
        name,
        user_ticks: u64::try_from(field(14)).unwrap_or(0),
        system_ticks: u64::try_from(field(15)).unwrap_or(0),
        priority: field(18),
        nice: field(19),
        iowait_ticks: u64::try_from(field(42)).unwrap_or(0),
        ..ProcessReading::default()
    };
    if let Ok(status) = std::fs::read_to_string(dir.join("status")) {
        for line in status.lines() {
            let Some((key, value)) = line.split_once(':') else {
                continue;
            };
            let number = || {
                value
                    .split_ascii_whitespace()
                    .next()
                    .and_then(|v| v.parse::<u64>().ok())
            };
            let memory = match key {
                "VmRSS" => Some("memory_rss"),
                "VmSize" => Some("memory_vms"),
                "VmData" => Some("memory_data"),
                "VmStk" => Some("memory_stack"),
                "VmLck" => Some("memory_locked"),
                "VmSwap" => Some("memory_swap"),
                _ => None,
            };
            if let (Some(field), Some(kb)) = (memory, number()) {
                reading.memory.push((field, kb * 1024));
            }
            match key {
                "Threads" => reading.threads = number().unwrap_or(0),
                "voluntary_ctxt_switches" => reading.voluntary_switches = number().unwrap_or(0),
                "nonvoluntary_ctxt_switches" => reading.involuntary_switches = number().unwrap_or(0),
                "ShdPnd" => reading.signals_pending = u64::from_str_radix(value.trim(), 16).unwrap_or(0),
                _ => {}
            }
        }
    }
    if let Ok(io) = std::fs::read_to_string(dir.join("io")) {
        let get = |key: &str| {
            io.lines()
                .find_map(|l| l.strip_prefix(key)?.strip_prefix(':'))
                .and_then(|v| v.trim().parse::<u64>().ok())
                .unwrap_or(0)
        };
        reading.io = Some([get("syscr"), get("syscw"), get("read_bytes"), get("write_bytes")]);
    }
    reading.fds = std::fs::read_dir(dir.join("fd")).ok().map(|d| d.count() as u64);
    if let Ok(limits) = std::fs::read_to_string(dir.join("limits")) {
        reading.limits = parse_limits(&limits);
    }
    Some(reading)
}

/// The CPU ticks of each process at its last reading, for `cpu_usage`.
#[derive(Debug, Default)]
pub struct CpuHistory {
    last: HashMap<(String, u32), (u64, Instant)>,
}

impl CpuHistory {
    /// Percent of one CPU since the last reading of `pid` under `key` (none the first time).
    pub fn usage(&mut self, key: &str, pid: u32, ticks: u64, now: Instant) -> Option<f64> {
        let previous = self.last.insert((key.to_string(), pid), (ticks, now));
        let (before, at) = previous?;
        let seconds = now.duration_since(at).as_secs_f64();
        (seconds > 0.0 && ticks >= before)
            .then(|| (ticks - before) as f64 / TICKS_PER_SECOND / seconds * 100.0)
    }

    /// Forgets the processes of `key` that are gone.
    pub fn retain(&mut self, key: &str, pids: &[u32]) {
        self.last.retain(|(k, pid), _| k != key || pids.contains(pid));
    }
}

/// The samples of one entry: the pid count, then each process's fields.
pub fn samples(
    entry: &str,
    selector: &ProcessSelector,
    pids: Result<Vec<u32>, String>,
    proc_root: &Path,
    history: &mut CpuHistory,
    now: Instant,
) -> Vec<Sample> {
    let (dimension, value) = selector.dimension();
    let selection = (dimension.to_string(), value.to_string());
    let finder = ("pid_finder".to_string(), "native".to_string());
    let mut out = Vec::new();
    let Ok(pids) = pids else {
        // As the CloudWatch agent: a failed lookup still counts, without the selection.
        out.push(Sample {
            field: "pid_count",
            value: 0.0,
            tags: vec![finder],
            named: None,
        });
        return out;
    };
    out.push(Sample {
        field: "pid_count",
        value: pids.len() as f64,
        tags: vec![selection.clone(), finder],
        named: None,
    });
    let key = format!("{entry}|{dimension}={value}");
    history.retain(&key, &pids);
    for pid in pids {
        let Some(p) = read_process(proc_root, pid) else {
            continue;
        };
        let tags = vec![selection.clone(), ("process_name".to_string(), p.name.clone())];
        let mut fields: Vec<(&'static str, f64)> = vec![
            ("pid", f64::from(p.pid)),
            ("cpu_time", ((p.user_ticks + p.system_ticks) / 100) as f64),
            ("cpu_time_user", p.user_ticks as f64 / TICKS_PER_SECOND),
            ("cpu_time_system", p.system_ticks as f64 / TICKS_PER_SECOND),
            ("cpu_time_iowait", p.iowait_ticks as f64 / TICKS_PER_SECOND),
            ("num_threads", p.threads as f64),
            ("voluntary_context_switches", p.voluntary_switches as f64),
            ("involuntary_context_switches", p.involuntary_switches as f64),
            ("nice_priority", (20 - p.nice) as f64),
            (
                "realtime_priority",
                if p.priority < 0 {
                    (-p.priority - 1) as f64
                } else {
                    0.0
                },
            ),
            ("signals_pending", p.signals_pending as f64),
        ];
        for zero in [
            "cpu_time_guest",
            "cpu_time_guest_nice",
            "cpu_time_idle",
            "cpu_time_irq",
            "cpu_time_nice",
            "cpu_time_soft_irq",
            "cpu_time_steal",
            "cpu_time_stolen",
        ] {
            fields.push((zero, 0.0));
        }
        if let Some(usage) = history.usage(&key, pid, p.user_ticks + p.system_ticks, now) {
            fields.push(("cpu_usage", usage));
        }
        fields.extend(p.memory.iter().map(|(f, v)| (*f, *v as f64)));
        if let Some([reads, writes, read_bytes, write_bytes]) = p.io {
            fields.extend([
                ("read_count", reads as f64),
                ("write_count", writes as f64),
                ("read_bytes", read_bytes as f64),
                ("write_bytes", write_bytes as f64),
            ]);
        }
        if let Some(fds) = p.fds {
            fields.push(("num_fds", fds as f64));
        }
        fields.extend(p.limits.iter().copied());
        out.extend(fields.into_iter().map(|(field, value)| Sample {
            field,
            value,
            tags: tags.clone(),
            named: None,
        }));
    }
    out
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, Instant};

    use super::{find_pids, parse_limits, read_process, samples, CpuHistory};

    #[test]
    fn limits_read_soft_and_hard_with_unlimited_as_the_largest() {
        let text = "Limit                     Soft Limit           Hard Limit           Units\nMax cpu time              unlimited            unlimited            seconds\nMax open files            1024                 524288               files\nMax nice priority         0                    0\n";
        let limits = parse_limits(text);
        let get = |f: &str| limits.iter().find(|(n, _)| *n == f).map(|(_, v)| *v);
        assert_eq!(get("rlimit_num_fds_soft"), Some(1024.0));
        assert_eq!(get("rlimit_num_fds_hard"), Some(524_288.0));
        assert_eq!(get("rlimit_cpu_time_soft"), Some(u64::MAX as f64));
        assert_eq!(get("rlimit_nice_priority_hard"), Some(0.0));
        assert_eq!(limits.len(), 6);
    }
    use crate::config::ProcessSelector;

    #[test]
    #[allow(clippy::float_cmp)] // counts are whole numbers
    fn this_process_is_found_by_name_by_command_line_and_by_pid_file() {
        let proc_root = std::path::Path::new("/proc");
        let me = std::process::id();
        let comm = std::fs::read_to_string("/proc/self/comm").unwrap();
        let by_name = find_pids(proc_root, &ProcessSelector::Exe(regex::escape(comm.trim()))).unwrap();
        assert!(by_name.contains(&me), "{by_name:?}");
        let dir = tempfile::tempdir().unwrap();
        let pid_file = dir.path().join("app.pid");
        std::fs::write(&pid_file, format!("{me}\n")).unwrap();
        let selector = ProcessSelector::PidFile(pid_file.display().to_string());
        assert_eq!(find_pids(proc_root, &selector).unwrap(), [me]);
        let me_read = read_process(proc_root, me).unwrap();
        assert!(me_read.memory.iter().any(|(f, v)| *f == "memory_rss" && *v > 0));
        assert!(me_read.threads >= 1 && me_read.fds.is_some_and(|n| n > 0));
        let mut history = CpuHistory::default();
        let now = Instant::now();
        let first = samples("test", &selector, Ok(vec![me]), proc_root, &mut history, now);
        assert!(
            !first.iter().any(|s| s.field == "cpu_usage"),
            "none at the first reading"
        );
        let count = first.iter().find(|s| s.field == "pid_count").unwrap();
        assert_eq!(count.value, 1.0);
        assert_eq!(
            count.tags,
            [
                ("pidfile".to_string(), pid_file.display().to_string()),
                ("pid_finder".to_string(), "native".to_string())
            ]
        );
        let later = samples(
            "test",
            &selector,
            Ok(vec![me]),
            proc_root,
            &mut history,
            now + Duration::from_secs(1),
        );
        assert!(later.iter().any(|s| s.field == "cpu_usage" && s.value >= 0.0));
        let missing = ProcessSelector::PidFile(dir.path().join("nope.pid").display().to_string());
        let lost = samples(
            "test",
            &missing,
            find_pids(proc_root, &missing),
            proc_root,
            &mut history,
            now,
        );
        assert_eq!(lost.len(), 1);
        assert_eq!(lost[0].value, 0.0);
        assert_eq!(lost[0].tags, [("pid_finder".to_string(), "native".to_string())]);
        let none = ProcessSelector::Pattern("no-such-process-[0-9]{40}".into());
        let zero = samples(
            "test",
            &none,
            find_pids(proc_root, &none),
            proc_root,
            &mut history,
            now,
        );
        assert_eq!((zero.len(), zero[0].value), (1, 0.0));
    }
}
