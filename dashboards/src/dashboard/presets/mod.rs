//! Ready-made dashboards, kept as our own TOML (so each is also an example of the format).

use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Preset {
    pub name: &'static str,
    /// One line for `skywatch dashboard presets`.
    pub description: &'static str,
    pub toml: &'static str,
}

pub const ALL: &[Preset] = &[Preset {
    name: "capstone",
    description: "the course's CloudGram app: EC2 memory (agent), ALB requests/5xx/latency, thumbnail Lambda errors and p99, DynamoDB throttles, top 5 errors",
    toml: include_str!("capstone.toml"),
}];

/// A name that is not a preset; its message lists the presets there are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownPreset(pub String);

impl fmt::Display for UnknownPreset {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<&str> = ALL.iter().map(|p| p.name).collect();
        write!(
            f,
            "no preset named {:?}; the presets are: {}",
            self.0,
            names.join(", ")
        )
    }
}

impl std::error::Error for UnknownPreset {}

pub fn find(name: &str) -> Result<&'static Preset, UnknownPreset> {
    ALL.iter()
        .find(|p| p.name == name)
        .ok_or_else(|| UnknownPreset(name.to_string()))
}
