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

    /// Writes one log line. Control characters (a newline, an escape sequence — messages
    /// quote data from outside) are written escaped, so a line stays one line and cannot drive
    /// the terminal.
    pub fn log(&self, message: impl std::fmt::Display) {
        let text = message.to_string();
        if text.chars().any(char::is_control) {
            let escaped: String = text
                .chars()
                .map(|c| {
                    if c.is_control() {
                        c.escape_default().to_string()
                    } else {
                        c.to_string()
                    }
                })
                .collect();
            eprintln!("skywatch {}: {escaped}", self.part);
        } else {
            eprintln!("skywatch {}: {text}", self.part);
        }
    }
}
