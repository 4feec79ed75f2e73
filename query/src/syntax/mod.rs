//! The first phase: query text → [`ast::Query`], or a [`SyntaxError`] with the span at fault.

pub mod ast;
pub mod lexer;
pub mod parser;
pub mod span;

use std::fmt;

use span::Span;

/// The query text is not a well-formed query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyntaxError {
    pub message: String,
    pub span: Span,
}

impl SyntaxError {
    pub fn new(message: impl Into<String>, span: Span) -> SyntaxError {
        SyntaxError {
            message: message.into(),
            span,
        }
    }
}

impl fmt::Display for SyntaxError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for SyntaxError {}

pub use parser::parse_query;
