//! Dashboards as code: our TOML (or a CloudWatch body as it is), presets, and dashboards
//! generated from a service graph, rendered to the body PutDashboard takes and checked against
//! its rules before anything is sent.
//!
//! Design decision: two representations with one job each. The typed [`model`] is how we
//! *build* bodies (from TOML, presets, a service graph), so what we emit is CloudWatch's JSON by
//! construction; the [`validate`] pass works on the body *as JSON*, so a body file someone wrote
//! by hand gets exactly the same checks as ours, located by the same JSON pointers PutDashboard
//! uses (and, for TOML, by the key path the user wrote too).

pub mod config;
pub mod generate;
pub mod limits;
pub mod log_query;
pub mod model;
pub mod placement;
pub mod presets;
pub mod problem;
pub mod push;
pub mod shorthand;
pub mod validate;
pub mod vars;

use serde_json::Value;

pub use model::Dashboard;
pub use problem::{Problem, Problems};

/// A body ready to print or push.
#[derive(Debug, Clone, PartialEq)]
pub struct Rendered {
    /// `[dashboard] name` from a TOML file, if set.
    pub name: Option<String>,
    pub body: Value,
    /// A body file's text, pushed unchanged.
    original: Option<String>,
}

impl Rendered {
    /// Two-space indented JSON with a final newline.
    pub fn pretty(&self) -> String {
        serde_json::to_string_pretty(&self.body).unwrap_or_default() + "\n"
    }

    /// One line, no final newline.
    pub fn compact(&self) -> String {
        self.body.to_string()
    }

    /// The `DashboardBody` to send: a body file's own text, else the compact rendering.
    pub fn body_for_push(&self) -> String {
        self.original.clone().unwrap_or_else(|| self.compact())
    }
}

/// What a dashboard file holds, recognised by content: a CloudWatch body is a JSON object
/// (TOML cannot start with `{`); anything else is read as our TOML.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileKind {
    Toml,
    Body,
}

impl FileKind {
    pub fn of(text: &str) -> FileKind {
        if text.trim_start().starts_with('{') {
            FileKind::Body
        } else {
            FileKind::Toml
        }
    }
}

/// Reads a dashboard file's `text` (our TOML, or a CloudWatch body) and renders it, with
/// `overrides` from `--var` (TOML only). Every problem found is returned at once.
pub fn load(text: &str, overrides: &[(String, String)]) -> Result<Rendered, Problems> {
    match FileKind::of(text) {
        FileKind::Body => {
            if let Some((name, _)) = overrides.first() {
                return Err(Problems(vec![Problem::at(
                    "",
                    format!("--var {name}=…: variables apply to our TOML files, and this is a CloudWatch body (JSON), used unchanged"),
                )]));
            }
            let body: Value = serde_json::from_str(text)
                .map_err(|e| Problems(vec![Problem::at("", format!("not valid JSON: {e}"))]))?;
            let problems = validate::check_body(&body);
            if problems.is_empty() {
                Ok(Rendered {
                    name: None,
                    body,
                    original: Some(text.to_string()),
                })
            } else {
                Err(Problems(problems))
            }
        }
        FileKind::Toml => {
            let read = config::read(text, overrides).map_err(Problems)?;
            finish(read.name, read.dashboard, read.problems, true)
        }
    }
}

/// Renders a preset by name (see [`presets::ALL`]).
pub fn load_preset(name: &str, overrides: &[(String, String)]) -> Result<Rendered, PresetError> {
    let preset = presets::find(name).map_err(PresetError::Unknown)?;
    load(preset.toml, overrides).map_err(PresetError::Problems)
}

/// An unknown preset, or a preset with problems (an unset variable, a bad `--var` value).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PresetError {
    Unknown(presets::UnknownPreset),
    Problems(Problems),
}

impl std::fmt::Display for PresetError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PresetError::Unknown(e) => e.fmt(f),
            PresetError::Problems(p) => p.fmt(f),
        }
    }
}

impl std::error::Error for PresetError {}

/// Places a model's widgets, renders it and checks the result.
pub fn render_model(dashboard: Dashboard) -> Result<Rendered, Problems> {
    finish(None, dashboard, Vec::new(), false)
}

/// `toml_keys`: the model came from our TOML, so problems also get the key path written there.
fn finish(
    name: Option<String>,
    mut dashboard: Dashboard,
    mut problems: Vec<Problem>,
    toml_keys: bool,
) -> Result<Rendered, Problems> {
    let slots: Vec<placement::Slot> = dashboard
        .widgets
        .iter()
        .map(|w| placement::Slot {
            x: w.x,
            y: w.y,
            width: w.width.unwrap_or(limits::DEFAULT_WIDTH),
            height: w.height.unwrap_or(limits::DEFAULT_HEIGHT),
        })
        .collect();
    for (widget, rect) in dashboard.widgets.iter_mut().zip(placement::place(&slots)) {
        widget.x = Some(rect.x);
        widget.y = Some(rect.y);
        // A size given out of range stays as given, for the check below to report (placement
        // only clamped it to find a spot).
        widget.width = Some(widget.width.unwrap_or(rect.width));
        widget.height = Some(widget.height.unwrap_or(rect.height));
    }
    if let Some(name) = &name {
        if let Some(message) = validate::check_name(name) {
            problems.push(Problem::at_key("dashboard.name", message));
        }
    }
    let body = dashboard.to_value();
    let found_before: Vec<String> = problems
        .iter()
        .map(|p| p.pointer.clone())
        .filter(|p| !p.is_empty())
        .collect();
    for mut p in validate::check_body(&body) {
        // A problem already reported while reading the TOML is not reported again.
        let seen = found_before
            .iter()
            .any(|b| p.pointer == *b || p.pointer.starts_with(&format!("{b}/")));
        if !seen {
            if toml_keys {
                p.key = config::key_for(&p.pointer);
            }
            problems.push(p);
        }
    }
    if problems.is_empty() {
        Ok(Rendered {
            name,
            body,
            original: None,
        })
    } else {
        Err(Problems(problems))
    }
}
