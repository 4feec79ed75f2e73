//! A problem found in a dashboard, located the way PutDashboard locates its own (an AJV-style
//! JSON pointer into the body) and, for our TOML files, by the key path the user wrote.

use std::fmt;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// JSON pointer into the rendered body (`/widgets/0/properties/metrics/1`); empty when the
    /// problem is in the TOML file only (an unknown variable, a key that is not ours).
    pub pointer: String,
    /// The TOML key path (`widget[0].metrics[1]`), for problems in a TOML file.
    pub key: Option<String>,
    pub message: String,
}

impl Problem {
    pub fn at(pointer: impl Into<String>, message: impl Into<String>) -> Problem {
        Problem {
            pointer: pointer.into(),
            key: None,
            message: message.into(),
        }
    }

    /// A problem located only by its TOML key path.
    pub fn at_key(key: impl Into<String>, message: impl Into<String>) -> Problem {
        Problem {
            pointer: String::new(),
            key: Some(key.into()),
            message: message.into(),
        }
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (&self.key, self.pointer.is_empty()) {
            (Some(key), false) => write!(f, "{key} ({}): {}", self.pointer, self.message),
            (Some(key), true) => write!(f, "{key}: {}", self.message),
            (None, false) => write!(f, "{}: {}", self.pointer, self.message),
            (None, true) => f.write_str(&self.message),
        }
    }
}

/// Every problem of one input, in the order found.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Problems(pub Vec<Problem>);

impl fmt::Display for Problems {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.0.len();
        writeln!(f, "{n} problem{}:", if n == 1 { "" } else { "s" })?;
        for p in &self.0 {
            writeln!(f, "{p}")?;
        }
        Ok(())
    }
}

impl std::error::Error for Problems {}
