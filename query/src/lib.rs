//! logq: CloudWatch Logs Insights queries over local files, stdin and the agent's store.
//!
//! Three phases with three error types, as in query engines we admire: [`syntax`] turns text
//! into an AST ([`syntax::SyntaxError`]), [`plan`] resolves names and checks the language's rules
//! ([`plan::PlanError`]), [`exec`] streams events through the plan ([`exec::ExecError`]). Errors
//! carry byte spans until [`diagnostic`] renders them for people with a caret under the fault.
//!
//! Design decision: the plan knows every field the query can read, so the reader extracts only
//! those from each line (JSON values of other keys are skipped, not built), and only stats and
//! sort hold rows — memory follows the size of the result, not of the input.

pub mod chart;
pub mod diagnostic;
pub mod event;
pub mod exec;
pub mod functions;
mod fx_hash;
pub mod input;
pub mod output;
pub mod plan;
pub mod syntax;
#[cfg(test)]
mod test_rng;
pub mod value;

use std::fmt;

// The facade the binaries use.
pub use event::TimestampFormat;
pub use exec::extract::TimestampRule;
pub use exec::{run, Outcome, RunOptions, Statistics};
pub use input::{leave_out_binary, resolve as resolve_inputs, resolve_store, source_notes, Catalog, Source};
pub use output::{write as write_results, write_table_within, Format, ResultSet};
pub use plan::Plan;

/// A query that failed to compile, with the text it came from so it can be rendered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum QueryError {
    Syntax(syntax::SyntaxError),
    Plan(plan::PlanError),
}

impl QueryError {
    pub fn message(&self) -> &str {
        match self {
            QueryError::Syntax(e) => &e.message,
            QueryError::Plan(e) => &e.message,
        }
    }

    pub fn span(&self) -> syntax::span::Span {
        match self {
            QueryError::Syntax(e) => e.span,
            QueryError::Plan(e) => e.span,
        }
    }

    /// The message with `line:column`, the query line and a caret under the fault.
    pub fn render(&self, source: &str) -> String {
        diagnostic::render("query error", self.message(), self.span(), source)
    }
}

impl fmt::Display for QueryError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.message())
    }
}

impl std::error::Error for QueryError {}

/// Parses and plans `text`.
pub fn compile(text: &str) -> Result<plan::Plan, QueryError> {
    let ast = syntax::parse_query(text).map_err(QueryError::Syntax)?;
    plan::plan_query(&ast, text).map_err(QueryError::Plan)
}
