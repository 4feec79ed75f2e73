//! Processes by state, from each `/proc/<pid>/stat`, in the CloudWatch agent's `processes`
//! fields (Telegraf's processes input on Linux: the state letter of each process, and its
//! thread count for `total_threads`). `wait` is a BSD state: 0 on Linux, as in Telegraf.

/// Counts by state of the processes whose `stat` lines are given.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ProcessCounts {
    pub blocked: u64,
    pub dead: u64,
    pub idle: u64,
    pub paging: u64,
    pub running: u64,
    pub sleeping: u64,
    pub stopped: u64,
    pub zombies: u64,
    pub unknown: u64,
    pub total: u64,
    pub total_threads: u64,
}

impl ProcessCounts {
    /// Adds one process from its `stat` line; false (and nothing counted) if the line is not in
    /// the kernel's shape (the process may have exited mid-read).
    pub fn add(&mut self, stat: &str) -> bool {
        // `pid (comm) state …`: comm may hold spaces and parentheses, so read after the last ')'.
        let Some(rest) = stat.rfind(')').and_then(|i| stat.get(i + 1..)) else {
            return false;
        };
        let mut fields = rest.split_ascii_whitespace();
        let Some(state) = fields.next().and_then(|s| s.chars().next()) else {
            return false;
        };
        // num_threads is the 20th field of the line, the 17th after the state.
        let threads = fields.nth(16).and_then(|t| t.parse::<u64>().ok()).unwrap_or(0);
        match state {
            'R' => self.running += 1,
            'S' => self.sleeping += 1,
            'D' => self.blocked += 1,
            'Z' => self.zombies += 1,
            'X' | 'x' => self.dead += 1,
            'T' | 't' => self.stopped += 1,
            'W' => self.paging += 1,
            'I' => self.idle += 1,
            _ => self.unknown += 1,
        }
        self.total += 1;
        self.total_threads += threads;
        true
    }

    pub fn fields(&self) -> Vec<(&'static str, f64)> {
        vec![
            ("blocked", self.blocked as f64),
            ("dead", self.dead as f64),
            ("idle", self.idle as f64),
            ("paging", self.paging as f64),
            ("running", self.running as f64),
            ("sleeping", self.sleeping as f64),
            ("stopped", self.stopped as f64),
            ("total", self.total as f64),
            ("total_threads", self.total_threads as f64),
            ("wait", 0.0),
            ("zombies", self.zombies as f64),
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::ProcessCounts;

    #[test]
    fn states_and_threads_are_counted_and_odd_names_read_right() {
        let mut c = ProcessCounts::default();
        assert!(
            c.add("1 (systemd) S 0 1 1 0 -1 4194560 1 2 3 4 5 6 7 8 20 0 1 0 10 100 5 18446744073709551615")
        );
        assert!(c.add("42 (my (odd) name) R 1 42 42 0 -1 0 0 0 0 0 0 0 0 0 20 0 7 0 10 100 5 1"));
        assert!(c.add("43 (z) Z 1 43 43 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 10 0 0 1"));
        assert!(c.add("44 (kworker/0:1) I 2 0 0 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 10 0 0 1"));
        assert!(!c.add("garbage"));
        assert_eq!(
            (c.sleeping, c.running, c.zombies, c.idle, c.total),
            (1, 1, 1, 1, 4)
        );
        assert_eq!(c.total_threads, 10);
    }
}
