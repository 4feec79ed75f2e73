//! The commands that reshape rows: `unnest`, `json`, and the row-window commands (`accum`,
//! `autoregress`, `filldown`, `fillmissing`, `addtotals`, `outlier`, `sessionize`,
//! `countFrequent`). Their options are `key=value` words, as the language writes them.

use super::Parser;
use crate::syntax::ast::{Addtotals, CommandKind, Name, Outlier, RowCommand};
use crate::syntax::lexer::{Tok, Token};
use crate::syntax::span::Span;
use crate::syntax::SyntaxError;

impl Parser {
    /// `unnest field into alias`.
    pub(super) fn unnest(&mut self) -> Result<CommandKind, SyntaxError> {
        let source = self.postfix()?;
        if !self.eat_word("into") {
            return Err(self.unexpected("'into' and a name for each element"));
        }
        let alias = self.name("a name for each element")?;
        Ok(CommandKind::Unnest { source, alias })
    }

    /// `json field=source "a.b" as alias`.
    pub(super) fn json(&mut self) -> Result<CommandKind, SyntaxError> {
        if !(self.at_word("field") && matches!(self.peek_at(1), Tok::Eq)) {
            return Err(self.unexpected("field=<a field holding JSON>"));
        }
        self.advance();
        self.advance();
        let source = self.postfix()?;
        let tok = self.advance();
        let Tok::Str(path) = tok.tok else {
            return Err(SyntaxError::new(
                format!("expected a \"path.to.key\" string, found {}", tok.tok.describe()),
                tok.span,
            ));
        };
        if path.is_empty() {
            return Err(SyntaxError::new("the JSON path is empty", tok.span));
        }
        if !self.eat_word("as") {
            return Err(self.unexpected("'as' and a name for the value"));
        }
        let alias = self.name("a name for the value")?;
        Ok(CommandKind::Json { source, path, alias })
    }

    pub(super) fn row_command(&mut self, word: &str) -> Result<RowCommand, SyntaxError> {
        Ok(match word {
            "accum" => {
                let field = self.name("the field to sum")?;
                let alias = self.alias()?;
                RowCommand::Accum { field, alias }
            }
            "autoregress" => self.autoregress()?,
            "filldown" => RowCommand::Filldown(self.name_patterns()?),
            "fillmissing" => self.fillmissing()?,
            "addtotals" => self.addtotals()?,
            "outlier" => self.outlier()?,
            "sessionize" => {
                let fields = self.comma_list(Parser::postfix)?;
                let maxspan = if self.eat_word("maxspan") {
                    Some(self.period("maxspan", "30m")?)
                } else {
                    None
                };
                let alias = self.alias()?;
                RowCommand::Sessionize {
                    fields,
                    maxspan,
                    alias,
                }
            }
            _ => RowCommand::CountFrequent(self.comma_list(Parser::postfix)?),
        })
    }

    fn alias(&mut self) -> Result<Option<Name>, SyntaxError> {
        if self.eat_word("as") {
            Ok(Some(self.name("a name after 'as'")?))
        } else {
            Ok(None)
        }
    }

    /// `key=value` if the next tokens are one: the key (lower case, and where it is) and the
    /// value's token.
    pub(super) fn option(&mut self) -> Option<(String, Span, Token)> {
        let Tok::Ident(key) = &self.peek().tok else {
            return None;
        };
        if !matches!(self.peek_at(1), Tok::Eq) {
            return None;
        }
        let key = key.to_ascii_lowercase();
        let key_span = self.advance().span;
        self.advance();
        Some((key, key_span, self.advance()))
    }

    /// A time period (`30m`, `1h`, `'7d'`) after `word`.
    pub(super) fn period(&mut self, word: &str, example: &str) -> Result<(String, Span), SyntaxError> {
        let tok = self.advance();
        match tok.tok {
            Tok::Duration(text) | Tok::Str(text) => Ok((text, tok.span)),
            other => Err(SyntaxError::new(
                format!(
                    "{word} takes a time period such as {example}, found {}",
                    other.describe()
                ),
                tok.span,
            )),
        }
    }

    fn autoregress(&mut self) -> Result<RowCommand, SyntaxError> {
        let field = self.name("the field to copy from earlier rows")?;
        let alias = self.alias()?;
        let mut lags = (1, 1);
        if let Some((key, _, tok)) = self.option() {
            if key != "p" {
                return Err(SyntaxError::new(
                    format!("autoregress takes p=<n> or p=<n>-<m>, found '{key}='"),
                    tok.span,
                ));
            }
            let from = lag(&tok)?;
            let to = if self.eat(&Tok::Minus) {
                let tok = self.advance();
                lag(&tok)?
            } else {
                from
            };
            if to < from {
                return Err(SyntaxError::new(
                    format!("p={from}-{to}: the range must go up"),
                    tok.span,
                ));
            }
            lags = (from, to);
        }
        if alias.is_some() && lags.0 != lags.1 {
            return Err(SyntaxError::new(
                "'as' names one lag; a range p=n-m makes <field>_p<n> … <field>_p<m>",
                self.peek().span,
            ));
        }
        Ok(RowCommand::Autoregress { field, alias, lags })
    }

    /// Names, each perhaps ending in `*`, separated by spaces or commas.
    fn name_patterns(&mut self) -> Result<Vec<Name>, SyntaxError> {
        let mut names = Vec::new();
        loop {
            self.eat(&Tok::Comma);
            match &self.peek().tok {
                Tok::Pipe | Tok::Eof => return Ok(names),
                Tok::Ident(_) | Tok::Quoted(_) => {
                    let mut name = self.name("a field name")?;
                    if self.at(&Tok::Star) && self.peek().span.start == name.span.end {
                        let star = self.advance();
                        name.name.push('*');
                        name.span = name.span.to(star.span);
                    }
                    names.push(name);
                }
                Tok::Star => {
                    let star = self.advance();
                    names.push(Name {
                        name: "*".to_string(),
                        span: star.span,
                    });
                }
                _ => return Err(self.unexpected("a field name")),
            }
        }
    }

    fn fillmissing(&mut self) -> Result<RowCommand, SyntaxError> {
        let mut fills = Vec::new();
        if self.eat_word("with") {
            fills = self.comma_list(|p| {
                let value = p.unary()?;
                if !p.eat_word("for") {
                    return Err(p.unexpected("'for' and the field to fill"));
                }
                Ok((value, p.name("the field to fill")?))
            })?;
        }
        Ok(RowCommand::Fillmissing(fills))
    }

    fn addtotals(&mut self) -> Result<RowCommand, SyntaxError> {
        let mut totals = Addtotals {
            fieldname: "Total".to_string(),
            row: true,
            col: false,
            labelfield: None,
            label: "Total".to_string(),
            fields: Vec::new(),
        };
        while let Some((key, _, tok)) = self.option() {
            match key.as_str() {
                "fieldname" => totals.fieldname = word(&tok)?,
                "row" => totals.row = boolean(&tok)?,
                "col" => totals.col = boolean(&tok)?,
                "labelfield" => totals.labelfield = Some(word(&tok)?),
                "label" => totals.label = word(&tok)?,
                _ => {
                    return Err(SyntaxError::new(
                        format!("unknown addtotals option '{key}' (fieldname, row, col, labelfield, label)"),
                        tok.span,
                    ))
                }
            }
        }
        totals.fields = self.name_patterns()?;
        Ok(RowCommand::Addtotals(totals))
    }

    fn outlier(&mut self) -> Result<RowCommand, SyntaxError> {
        let mut outlier = Outlier {
            remove: false,
            param: 2.5,
            uselower: false,
            mark: false,
            fields: Vec::new(),
        };
        while let Some((key, _, tok)) = self.option() {
            match key.as_str() {
                "action" => {
                    outlier.remove = match word(&tok)?.to_ascii_lowercase().as_str() {
                        "remove" | "rm" => true,
                        "transform" | "tf" => false,
                        other => {
                            return Err(SyntaxError::new(
                                format!("action is remove or transform, found '{other}'"),
                                tok.span,
                            ))
                        }
                    }
                }
                "param" => match tok.tok {
                    Tok::Num(n) if n > 0.0 => outlier.param = n,
                    _ => {
                        return Err(SyntaxError::new(
                            format!("param takes a positive number, found {}", tok.tok.describe()),
                            tok.span,
                        ))
                    }
                },
                "uselower" => outlier.uselower = boolean(&tok)?,
                "mark" => outlier.mark = boolean(&tok)?,
                _ => {
                    return Err(SyntaxError::new(
                        format!("unknown outlier option '{key}' (action, param, uselower, mark)"),
                        tok.span,
                    ))
                }
            }
        }
        outlier.fields = self.name_patterns()?;
        Ok(RowCommand::Outlier(outlier))
    }
}

fn lag(tok: &Token) -> Result<u32, SyntaxError> {
    match tok.tok {
        #[allow(clippy::float_cmp)]
        Tok::Num(n) if n.fract() == 0.0 && (1.0..=10_000.0).contains(&n) => Ok(n as u32),
        _ => Err(SyntaxError::new(
            format!(
                "p takes a whole number from 1 to 10000, found {}",
                tok.tok.describe()
            ),
            tok.span,
        )),
    }
}

pub(super) fn word(tok: &Token) -> Result<String, SyntaxError> {
    match &tok.tok {
        Tok::Ident(w) | Tok::Quoted(w) | Tok::Str(w) => Ok(w.clone()),
        other => Err(SyntaxError::new(
            format!("expected a name, found {}", other.describe()),
            tok.span,
        )),
    }
}

pub(super) fn boolean(tok: &Token) -> Result<bool, SyntaxError> {
    match &tok.tok {
        Tok::Ident(w) if w.eq_ignore_ascii_case("true") => Ok(true),
        Tok::Ident(w) if w.eq_ignore_ascii_case("false") => Ok(false),
        other => Err(SyntaxError::new(
            format!("expected true or false, found {}", other.describe()),
            tok.span,
        )),
    }
}
