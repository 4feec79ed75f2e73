//! `SOURCE`: the log groups a query reads (`logGroups(namePrefix: [...])`, `'/group'`, a bare
//! name, `dataSource([...])`, `logGroupTags(...)`) and a time range (`START=… END=…`).

use super::Parser;
use crate::syntax::ast::SourceClause;
use crate::syntax::lexer::Tok;
use crate::syntax::span::Span;
use crate::syntax::SyntaxError;

impl Parser {
    pub(super) fn source(&mut self) -> Result<SourceClause, SyntaxError> {
        let mut clause = SourceClause::default();
        let mut selected = false;
        loop {
            let tok = self.peek().clone();
            match &tok.tok {
                Tok::Pipe | Tok::Eof | Tok::RParen => break,
                Tok::Ident(w) if matches!(self.peek_at(1), Tok::Eq) && is_time_word(w) => {
                    let start = w.eq_ignore_ascii_case("start");
                    self.advance();
                    self.advance();
                    let value = self.written_value()?;
                    let slot = if start { &mut clause.start } else { &mut clause.end };
                    if slot.is_some() {
                        return Err(SyntaxError::new(
                            format!("{} is given twice", if start { "START" } else { "END" }),
                            tok.span,
                        ));
                    }
                    *slot = Some(value);
                }
                Tok::Ident(w)
                    if w.eq_ignore_ascii_case("logGroups") && matches!(self.peek_at(1), Tok::LParen) =>
                {
                    self.advance();
                    self.log_groups(&mut clause)?;
                    selected = true;
                }
                Tok::Ident(w)
                    if w.eq_ignore_ascii_case("dataSource") && matches!(self.peek_at(1), Tok::LParen) =>
                {
                    self.advance();
                    self.advance();
                    clause.data_sources.extend(self.text_list()?);
                    self.expect(&Tok::RParen, "')'")?;
                    selected = true;
                }
                Tok::Ident(w)
                    if w.eq_ignore_ascii_case("logGroupTags") && matches!(self.peek_at(1), Tok::LParen) =>
                {
                    self.advance();
                    let open = self.pos;
                    self.skip_parenthesised()?;
                    clause.tags = Some(self.tokens[open].span.to(self.tokens[self.pos - 1].span));
                    selected = true;
                }
                Tok::Str(name) | Tok::Quoted(name) | Tok::Ident(name) => {
                    clause.groups.push(name.clone());
                    self.advance();
                    selected = true;
                }
                _ => {
                    return Err(
                        self.unexpected("logGroups(...), dataSource(...), a log group name, START= or END=")
                    )
                }
            }
        }
        if !selected {
            return Err(self.unexpected("logGroups(...), dataSource(...) or a log group name after SOURCE"));
        }
        Ok(clause)
    }

    /// `( key: [values], … )` after `logGroups`.
    fn log_groups(&mut self, clause: &mut SourceClause) -> Result<(), SyntaxError> {
        self.expect(&Tok::LParen, "'('")?;
        let mut named = false;
        while !self.eat(&Tok::RParen) {
            let key = self.name("namePrefix, accountIdentifiers or class")?;
            self.expect(&Tok::Colon, "':' after the key")?;
            let values = self.text_list()?;
            match key.name.to_ascii_lowercase().as_str() {
                "nameprefix" => {
                    named = true;
                    clause.name_prefixes.extend(values);
                }
                "accountidentifiers" | "accountidentifier" => clause.accounts.extend(values),
                "class" => clause.classes.extend(values),
                other => {
                    return Err(SyntaxError::new(
                        format!("unknown logGroups key '{other}' (namePrefix, accountIdentifiers, class)"),
                        key.span,
                    ))
                }
            }
            if !self.eat(&Tok::Comma) {
                self.expect(&Tok::RParen, "',' or ')'")?;
                break;
            }
        }
        if !named {
            clause.every_group = true;
        }
        Ok(())
    }

    /// `['a', 'b']` or one `'a'`.
    fn text_list(&mut self) -> Result<Vec<String>, SyntaxError> {
        if !self.eat(&Tok::LBracket) {
            let tok = self.advance();
            return match tok.tok {
                Tok::Str(s) => Ok(vec![s]),
                other => Err(SyntaxError::new(
                    format!("expected ['…', …] or '…', found {}", other.describe()),
                    tok.span,
                )),
            };
        }
        let mut values = Vec::new();
        while !self.eat(&Tok::RBracket) {
            let tok = self.advance();
            match tok.tok {
                Tok::Str(s) => values.push(s),
                other => {
                    return Err(SyntaxError::new(
                        format!("expected a quoted name, found {}", other.describe()),
                        tok.span,
                    ))
                }
            }
            if !self.eat(&Tok::Comma) {
                self.expect(&Tok::RBracket, "',' or ']'")?;
                break;
            }
        }
        Ok(values)
    }

    /// The text of the tokens that follow without a space between them, as written.
    fn written_value(&mut self) -> Result<(String, Span), SyntaxError> {
        let first = self.peek().span;
        if matches!(self.peek().tok, Tok::Eof | Tok::Pipe | Tok::RParen) {
            return Err(self.unexpected("a time such as -1h, now or 2024-06-01T10:30:00Z"));
        }
        let mut span = self.advance().span;
        while !matches!(self.peek().tok, Tok::Eof | Tok::Pipe | Tok::RParen)
            && self.peek().span.start == span.end
        {
            span = first.to(self.advance().span);
        }
        let text = self.src.get(span.start..span.end).unwrap_or_default();
        let text = text.trim_matches(|c| c == '\'' || c == '"').to_string();
        Ok((text, span))
    }

    /// Skips `( … )`, nested brackets and all.
    fn skip_parenthesised(&mut self) -> Result<(), SyntaxError> {
        self.expect(&Tok::LParen, "'('")?;
        let mut depth = 1usize;
        while depth > 0 {
            match self.advance().tok {
                Tok::LParen | Tok::LBracket => depth += 1,
                Tok::RParen | Tok::RBracket => depth -= 1,
                Tok::Eof => return Err(self.unexpected("')'")),
                _ => {}
            }
        }
        Ok(())
    }
}

fn is_time_word(word: &str) -> bool {
    word.eq_ignore_ascii_case("start") || word.eq_ignore_ascii_case("end")
}
