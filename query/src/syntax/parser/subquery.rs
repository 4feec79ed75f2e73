//! Queries inside a query: `filter f in ( … )`, `join … ( SOURCE … )`, `appendcols ( … )`.

use super::row_commands::{boolean, word};
use super::Parser;
use crate::syntax::ast::{CommandKind, Join, Name, Query};
use crate::syntax::lexer::Tok;
use crate::syntax::span::Span;
use crate::syntax::SyntaxError;

impl Parser {
    /// `( command | command … )`.
    pub(super) fn subquery(&mut self) -> Result<Query, SyntaxError> {
        let open = self.expect(&Tok::LParen, "'(' starting a subquery")?;
        let mut commands = Vec::new();
        loop {
            while self.eat(&Tok::Pipe) {}
            if self.at(&Tok::RParen) {
                break;
            }
            if self.at(&Tok::LParen) {
                return Err(SyntaxError::new("subqueries cannot be nested", self.peek().span));
            }
            commands.push(self.command()?);
            if !self.eat(&Tok::Pipe) && !self.at(&Tok::RParen) {
                return Err(self.unexpected("'|' or ')' closing the subquery"));
            }
        }
        self.expect(&Tok::RParen, "')'")?;
        if commands.is_empty() {
            return Err(SyntaxError::new("the subquery is empty", open.span));
        }
        Ok(Query { commands })
    }

    pub(super) fn join(&mut self) -> Result<Join, SyntaxError> {
        let mut left_join = false;
        let (mut left, mut right) = (None, None);
        while let Some((key, key_span, value)) = self.option() {
            if !matches!(key.as_str(), "type" | "left" | "right") {
                return Err(SyntaxError::new(
                    format!("unknown join option '{key}' (type, left, right)"),
                    key_span,
                ));
            }
            let name = Name {
                name: word(&value)?,
                span: value.span,
            };
            match key.as_str() {
                "type" => {
                    left_join = match name.name.to_ascii_lowercase().as_str() {
                        "inner" => false,
                        "left" => true,
                        other => {
                            return Err(SyntaxError::new(
                                format!("join type is inner or left, found '{other}'"),
                                name.span,
                            ))
                        }
                    };
                }
                "left" => left = Some(name),
                "right" => right = Some(name),
                other => {
                    return Err(SyntaxError::new(
                        format!("unknown join option '{other}' (type, left, right)"),
                        key_span,
                    ))
                }
            }
        }
        let (Some(left), Some(right)) = (left, right) else {
            return Err(self.unexpected("left=<name> and right=<name>"));
        };
        if !self.eat_word("where") {
            return Err(self.unexpected("where <left>.<field> = <right>.<field>"));
        }
        let first = self.name("<left>.<field>")?;
        self.expect(&Tok::Eq, "'=': a join matches on equality only")?;
        let second = self.name("<right>.<field>")?;
        let side = |n: &Name, alias: &Name| -> Option<Name> {
            let rest = n.name.strip_prefix(&alias.name)?.strip_prefix('.')?;
            (!rest.is_empty()).then(|| Name {
                name: rest.to_string(),
                span: n.span,
            })
        };
        let ((Some(left_key), Some(right_key), _, _) | (_, _, Some(right_key), Some(left_key))) = (
            side(&first, &left),
            side(&second, &right),
            side(&first, &right),
            side(&second, &left),
        ) else {
            return Err(SyntaxError::new(
                format!(
                    "the join key compares {}.<field> with {}.<field>",
                    left.name, right.name
                ),
                first.span.to(second.span),
            ));
        };
        let open = self.peek().span;
        if !(self.at(&Tok::LParen)
            && matches!(self.peek_at(1), Tok::Ident(w) if w.eq_ignore_ascii_case("SOURCE")))
        {
            return Err(self.unexpected("the right side: (SOURCE <log group>)"));
        }
        let right_query = self.subquery()?;
        let right_span = Span::new(open.start, self.prev_end());
        if right_query.commands.len() > 1 {
            return Err(SyntaxError::new(
                "the right side of a join is (SOURCE <log group>) only: filter after the join instead",
                right_span,
            ));
        }
        Ok(Join {
            left_join,
            left,
            right,
            left_key,
            right_key,
            right_query: Box::new(right_query),
            right_span,
        })
    }

    pub(super) fn appendcols(&mut self) -> Result<CommandKind, SyntaxError> {
        let mut overwrite = false;
        let mut max = 10_000;
        while let Some((key, key_span, value)) = self.option() {
            match (key.as_str(), &value.tok) {
                ("override", _) => overwrite = boolean(&value)?,
                #[allow(clippy::float_cmp)] // exactly whole
                ("max", Tok::Num(n)) if n.fract() == 0.0 && (1.0..=100_000.0).contains(n) => max = *n as u64,
                ("max", other) => {
                    return Err(SyntaxError::new(
                        format!(
                            "max takes a whole number from 1 to 100000, found {}",
                            other.describe()
                        ),
                        value.span,
                    ))
                }
                _ => {
                    return Err(SyntaxError::new(
                        format!("unknown appendcols option '{key}' (override, max)"),
                        key_span,
                    ))
                }
            }
        }
        if !(self.at(&Tok::LParen)) {
            return Err(self.unexpected("a subquery in parentheses"));
        }
        let query = self.subquery()?;
        Ok(CommandKind::Appendcols {
            overwrite,
            max,
            query: Box::new(query),
        })
    }
}
