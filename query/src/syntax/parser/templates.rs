//! `diff`, `logcompare` and `relevantfields` (`pattern` takes one field, `anomaly` nothing).

use super::Parser;
use crate::syntax::ast::CommandKind;
use crate::syntax::lexer::Tok;
use crate::syntax::SyntaxError;

impl Parser {
    /// `diff`, `diff previousDay`, `diff previousWeek`, `diff previousMonth`.
    pub(super) fn diff(&mut self) -> Result<CommandKind, SyntaxError> {
        let tok = self.peek().clone();
        let shift = match &tok.tok {
            Tok::Ident(w) => {
                let period = match w.to_ascii_lowercase().as_str() {
                    "previousday" => "1d",
                    "previousweek" => "1w",
                    "previousmonth" => "1mo",
                    _ => {
                        return Err(SyntaxError::new(
                            format!(
                                "diff compares with previousDay, previousWeek or previousMonth, found '{w}'"
                            ),
                            tok.span,
                        ))
                    }
                };
                self.advance();
                Some((period.to_string(), tok.span))
            }
            _ => None,
        };
        Ok(CommandKind::Diff(shift))
    }

    /// `logcompare timeshift <period>`.
    pub(super) fn logcompare(&mut self) -> Result<CommandKind, SyntaxError> {
        if !self.eat_word("timeshift") {
            return Err(self.unexpected("timeshift <period>, such as timeshift 7d"));
        }
        Ok(CommandKind::Diff(Some(self.period("timeshift", "1d or 7d")?)))
    }

    /// `relevantfields [f, …] where <condition>`.
    pub(super) fn relevantfields(&mut self) -> Result<CommandKind, SyntaxError> {
        let mut fields = Vec::new();
        while !self.at_word("where") {
            fields.push(self.name("a field name, or 'where' and the condition")?);
            if !self.eat(&Tok::Comma) && !self.at_word("where") {
                return Err(self.unexpected("',' or 'where' and the condition"));
            }
        }
        self.advance();
        let condition = self.expr()?;
        Ok(CommandKind::RelevantFields { fields, condition })
    }
}
