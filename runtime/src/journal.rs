//! A part's own words: one line per happening on stderr (systemd sends it to the journal), each
//! naming its part (`skywatch agent: …`, `skywatch collector: …`), so the lines of parts that
//! share a process can be told apart and grepped.

/// Where a part writes its log lines.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Journal {
    part: &'static str,
}

impl Journal {
    pub const fn new(part: &'static str) -> Journal {
        Journal { part }
    }

    /// The part's name, as it appears in each line.
    pub fn part(&self) -> &'static str {
        self.part
    }

    /// Writes one log line.
    pub fn log(&self, message: impl std::fmt::Display) {
        eprintln!("skywatch {}: {message}", self.part);
    }
}
