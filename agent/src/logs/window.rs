//! Events CloudWatch Logs would refuse for their time (older than 14 days, more than 2 hours
//! ahead), per configured file: they are not sent (the service would refuse the whole batch's
//! part), their files' checkpoints move past them, and — since that is data a user asked to ship
//! — every such file is named in the log with its count and the likely cause, at the first event
//! and each doubling, and once more at shutdown. The local store has no window: nothing of this
//! applies to it.
//!
//! The likely cause: events a whole number of hours ahead are almost always local times read
//! as UTC (or the other way round), so the message says to check the file's `timezone`.

use std::collections::BTreeMap;

use super::batch::OutOfWindow;

const HOUR_MS: i64 = 3_600_000;
/// How close to a whole number of hours an event's lead must be to count as one.
const WHOLE_HOUR_SLACK_MS: i64 = 5 * 60_000;

/// Out-of-window counts of one file pattern.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
struct Tally {
    too_old: u64,
    too_new: u64,
    /// Of `too_new`: ahead by a whole number of hours (± 5 minutes).
    whole_hours_ahead: u64,
}

/// Out-of-window events by file pattern (the `file_path` as configured).
#[derive(Debug, Default)]
pub struct WindowReport {
    by_pattern: BTreeMap<String, Tally>,
}

impl WindowReport {
    /// Notes one event of `pattern` outside the window at `now_ms`; returns the warning to log
    /// when this is the pattern's first such event or its count just doubled.
    pub fn note(
        &mut self,
        pattern: &str,
        timestamp_ms: i64,
        now_ms: i64,
        why: OutOfWindow,
    ) -> Option<String> {
        let tally = self.by_pattern.entry(pattern.to_string()).or_default();
        let count = match why {
            OutOfWindow::TooOld => {
                tally.too_old += 1;
                tally.too_old
            }
            OutOfWindow::TooNew => {
                tally.too_new += 1;
                let lead = (timestamp_ms - now_ms).rem_euclid(HOUR_MS);
                if lead <= WHOLE_HOUR_SLACK_MS || lead >= HOUR_MS - WHOLE_HOUR_SLACK_MS {
                    tally.whole_hours_ahead += 1;
                }
                tally.too_new
            }
        };
        count.is_power_of_two().then(|| describe(pattern, tally))
    }

    /// One line per file with events left out, for the shutdown report.
    pub fn summary(&self) -> Vec<String> {
        self.by_pattern
            .iter()
            .filter(|(_, t)| t.too_old + t.too_new > 0)
            .map(|(pattern, tally)| describe(pattern, tally))
            .collect()
    }

    /// Events left out so far, all files.
    pub fn total(&self) -> u64 {
        self.by_pattern.values().map(|t| t.too_old + t.too_new).sum()
    }
}

fn describe(pattern: &str, tally: &Tally) -> String {
    let mut parts = Vec::new();
    if tally.too_new > 0 {
        let mut text = format!(
            "{} event(s) more than 2 h ahead of this machine's clock",
            tally.too_new
        );
        if tally.whole_hours_ahead * 2 > tally.too_new {
            text.push_str(
                " (most by a whole number of hours: check the file's timezone setting — \"UTC\" or \"Local\" — against how the file writes its times)",
            );
        }
        parts.push(text);
    }
    if tally.too_old > 0 {
        parts.push(format!("{} event(s) older than 14 days", tally.too_old));
    }
    format!(
        "{pattern}: {} not sent: CloudWatch Logs refuses them (the local store would keep them)",
        parts.join(" and ")
    )
}

#[cfg(test)]
mod tests {
    use super::{WindowReport, HOUR_MS};
    use crate::logs::batch::OutOfWindow;

    const NOW: i64 = 1_795_867_200_000;

    #[test]
    fn a_file_ahead_by_whole_hours_is_told_to_check_its_timezone_at_each_doubling() {
        let mut report = WindowReport::default();
        let mut warnings = Vec::new();
        for i in 0..5 {
            if let Some(w) = report.note(
                "/var/log/app.log",
                NOW + 5 * HOUR_MS + i * 1000,
                NOW,
                OutOfWindow::TooNew,
            ) {
                warnings.push(w);
            }
        }
        assert_eq!(warnings.len(), 3, "the 1st, 2nd and 4th: {warnings:?}");
        assert_eq!(
            warnings[2],
            "/var/log/app.log: 4 event(s) more than 2 h ahead of this machine's clock (most by a whole number of hours: check the file's timezone setting — \"UTC\" or \"Local\" — against how the file writes its times) not sent: CloudWatch Logs refuses them (the local store would keep them)"
        );
        report.note("/old/*.log", NOW - 15 * 24 * HOUR_MS, NOW, OutOfWindow::TooOld);
        report.note(
            "/var/log/app.log",
            NOW + 3 * HOUR_MS + 30 * 60_000,
            NOW,
            OutOfWindow::TooNew,
        );
        assert_eq!(report.total(), 7);
        let summary = report.summary();
        assert_eq!(summary.len(), 2);
        assert!(
            summary[0].starts_with("/old/*.log: 1 event(s) older than 14 days not sent"),
            "{summary:?}"
        );
        assert!(summary[1].contains("6 event(s) more than 2 h ahead") && summary[1].contains("timezone"));
    }

    #[test]
    fn events_ahead_by_odd_amounts_get_no_timezone_hint() {
        let mut report = WindowReport::default();
        let warning = report
            .note(
                "/a.log",
                NOW + 3 * HOUR_MS + 20 * 60_000,
                NOW,
                OutOfWindow::TooNew,
            )
            .unwrap();
        assert!(!warning.contains("timezone"), "{warning}");
    }
}
