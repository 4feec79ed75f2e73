//! `lookup` and `cidrlookup`: enrich rows from a CSV table.

use super::Parser;
use crate::syntax::ast::{Lookup, Name};
use crate::syntax::SyntaxError;

impl Parser {
    pub(super) fn lookup(&mut self, cidr: bool) -> Result<Lookup, SyntaxError> {
        let table = self.name("the lookup table's name")?;
        let mut matches = Vec::new();
        loop {
            if self.at_word("output") || self.at_word("outputnew") {
                break;
            }
            let first = self.name(if cidr {
                "the field holding an IP address"
            } else {
                "a column of the table to match on"
            })?;
            let second = if self.eat_word("as") {
                Some(self.name("a name after 'as'")?)
            } else {
                None
            };
            // lookup: `column [as field]`; cidrlookup: `field [as column]`.
            matches.push(match (cidr, second) {
                (false, field) => {
                    let field = field.unwrap_or_else(|| first.clone());
                    (first, field)
                }
                (true, column) => (
                    column.unwrap_or_else(|| Name {
                        name: String::new(),
                        span: first.span,
                    }),
                    first,
                ),
            });
            if cidr {
                break;
            }
            if !self.eat(&crate::syntax::lexer::Tok::Comma) {
                break;
            }
        }
        if matches.is_empty() {
            return Err(self.unexpected(if cidr {
                "the field holding an IP address, before OUTPUT"
            } else {
                "a column of the table to match on, before OUTPUT"
            }));
        }
        let new_only = if self.eat_word("outputnew") {
            true
        } else if self.eat_word("output") {
            false
        } else {
            return Err(self.unexpected("OUTPUT or OUTPUTNEW and the columns to copy"));
        };
        let outputs = self.comma_list(|p| {
            let column = p.name("a column of the table")?;
            let field = if p.eat_word("as") {
                p.name("a name after 'as'")?
            } else {
                column.clone()
            };
            Ok((column, field))
        })?;
        Ok(Lookup {
            table,
            cidr,
            matches,
            new_only,
            outputs,
        })
    }
}
