//! Tokens → AST, by recursive descent. Precedence, loosest first: `or`, `and`, `not`/`!`,
//! comparisons (`= != < <= > >= like not like =~ in not in`), `+ -`, `* / %`, unary `-`, `^`
//! (right-associative), then calls, indexing and member access.

use std::fmt::Write as _;

use crate::diagnostic::did_you_mean;
use crate::syntax::ast::{
    BinaryOp, Command, CommandKind, Expr, ExprKind, Name, Parse, ParsePattern, Projection, Query, SortKey,
    Stats, UnaryOp,
};
use crate::syntax::lexer::{tokenize, Tok, Token};
use crate::syntax::span::Span;
use crate::syntax::SyntaxError;

mod lookup;
mod row_commands;
mod source;
mod subquery;
mod templates;

/// The commands logq runs that a message lists when it expects a command.
pub const SUPPORTED_COMMANDS: &[&str] = &[
    "fields", "display", "filter", "where", "stats", "sort", "limit", "parse", "dedup",
];

/// The other commands logq runs.
pub const MORE_COMMANDS: &[&str] = &[
    "SOURCE",
    "lookup",
    "cidrlookup",
    "join",
    "appendcols",
    "pattern",
    "anomaly",
    "diff",
    "logcompare",
    "relevantfields",
    "unnest",
    "expand",
    "filterIndex",
    "json",
    "accum",
    "autoregress",
    "filldown",
    "fillmissing",
    "addtotals",
    "outlier",
    "sessionize",
    "countFrequent",
    "count_frequent",
];

/// Commands of the language that logq recognises but does not run yet.
pub const NOT_YET_COMMANDS: &[&str] = &["search", "order"];

/// The longest query the service accepts, in characters.
pub const MAX_QUERY_CHARS: usize = 10_000;

/// Parses a whole query.
pub fn parse_query(src: &str) -> Result<Query, SyntaxError> {
    if src.chars().count() > MAX_QUERY_CHARS {
        return Err(SyntaxError::new(
            format!("the query is longer than {MAX_QUERY_CHARS} characters"),
            Span::new(0, src.len()),
        ));
    }
    let tokens = tokenize(src)?;
    let mut parser = Parser {
        tokens,
        pos: 0,
        depth: 0,
        src: src.to_string(),
    };
    let mut commands = Vec::new();
    loop {
        // Tolerate empty stages (a trailing or doubled `|`), as the service's console does.
        while parser.eat(&Tok::Pipe) {}
        if parser.at(&Tok::Eof) {
            break;
        }
        commands.push(parser.command()?);
        if !parser.eat(&Tok::Pipe) && !parser.at(&Tok::Eof) {
            let tok = parser.peek();
            return Err(SyntaxError::new(
                format!(
                    "expected '|' or the end of the query, found {}",
                    tok.tok.describe()
                ),
                tok.span,
            ));
        }
    }
    if commands.is_empty() {
        return Err(SyntaxError::new("the query is empty", Span::new(0, src.len())));
    }
    Ok(Query { commands })
}

struct Parser {
    tokens: Vec<Token>,
    pos: usize,
    /// Expressions open around the one being read: bounded, so a query of thousands of
    /// nested parentheses (within the 10,000-character limit) is an error, not a stack
    /// overflow.
    depth: usize,
    /// The query text, for values read as written (`START=2026-01-23T00:00:00Z`).
    src: String,
}

/// How deep expressions may nest (parentheses, `not`, unary minus, lists, calls).
pub const MAX_NESTING: usize = 64;

impl Parser {
    fn peek(&self) -> &Token {
        // The token list always ends with Eof and `pos` never passes it.
        &self.tokens[self.pos.min(self.tokens.len() - 1)]
    }

    fn peek_at(&self, ahead: usize) -> &Tok {
        &self.tokens[(self.pos + ahead).min(self.tokens.len() - 1)].tok
    }

    fn advance(&mut self) -> Token {
        let tok = self.peek().clone();
        if tok.tok != Tok::Eof {
            self.pos += 1;
        }
        tok
    }

    fn at(&self, tok: &Tok) -> bool {
        &self.peek().tok == tok
    }

    fn eat(&mut self, tok: &Tok) -> bool {
        if self.at(tok) {
            self.advance();
            true
        } else {
            false
        }
    }

    fn at_word(&self, word: &str) -> bool {
        matches!(&self.peek().tok, Tok::Ident(w) if w.eq_ignore_ascii_case(word))
    }

    fn eat_word(&mut self, word: &str) -> bool {
        if self.at_word(word) {
            self.advance();
            true
        } else {
            false
        }
    }

    fn prev_end(&self) -> usize {
        self.tokens
            .get(self.pos.wrapping_sub(1))
            .map_or(0, |t| t.span.end)
    }

    fn expect(&mut self, tok: &Tok, what: &str) -> Result<Token, SyntaxError> {
        if self.at(tok) {
            Ok(self.advance())
        } else {
            Err(self.unexpected(what))
        }
    }

    fn unexpected(&self, what: &str) -> SyntaxError {
        let tok = self.peek();
        SyntaxError::new(format!("expected {what}, found {}", tok.tok.describe()), tok.span)
    }

    fn command(&mut self) -> Result<Command, SyntaxError> {
        let word_tok = self.advance();
        let word = match &word_tok.tok {
            Tok::Ident(w) => w.clone(),
            other => {
                return Err(SyntaxError::new(
                    format!(
                        "mismatched input {} expecting a command ({})",
                        other.describe(),
                        SUPPORTED_COMMANDS.join(", ")
                    ),
                    word_tok.span,
                ))
            }
        };
        let lower = word.to_ascii_lowercase();
        let kind = match lower.as_str() {
            "fields" => CommandKind::Fields(self.projections()?),
            "display" => CommandKind::Display(self.projections()?),
            "filter" | "where" => self.filter()?,
            "stats" => self.stats()?,
            "sort" => CommandKind::Sort(self.sort_keys()?),
            "limit" => self.limit()?,
            "parse" => self.parse()?,
            "dedup" => CommandKind::Dedup(self.comma_list(Parser::expr)?),
            "source" => CommandKind::Source(self.source()?),
            "lookup" => CommandKind::Lookup(self.lookup(false)?),
            "join" => CommandKind::Join(self.join()?),
            "pattern" => CommandKind::Pattern(self.postfix()?),
            "anomaly" => CommandKind::Anomaly,
            "diff" => self.diff()?,
            "logcompare" => self.logcompare()?,
            "relevantfields" => self.relevantfields()?,
            "appendcols" => self.appendcols()?,
            "cidrlookup" => CommandKind::Lookup(self.lookup(true)?),
            "unnest" => self.unnest()?,
            "expand" => CommandKind::Expand(self.postfix()?),
            "filterindex" => CommandKind::FilterIndex(self.expr()?),
            "json" => self.json()?,
            "accum" | "autoregress" | "filldown" | "fillmissing" | "addtotals" | "outlier" | "sessionize"
            | "countfrequent" | "count_frequent" => CommandKind::Rows(self.row_command(&lower)?),
            "head" | "tail" => {
                return Err(SyntaxError::new(
                    format!("'{word}' is a deprecated command that logq does not run; use 'limit'"),
                    word_tok.span,
                ))
            }
            _ => {
                if let Some(known) = NOT_YET_COMMANDS.iter().find(|c| c.eq_ignore_ascii_case(&word)) {
                    self.skip_command()?;
                    CommandKind::NotSupported((*known).to_string())
                } else {
                    let mut message = format!(
                        "mismatched input '{word}' expecting a command ({})",
                        SUPPORTED_COMMANDS.join(", ")
                    );
                    if let Some(s) =
                        did_you_mean(&word, SUPPORTED_COMMANDS.iter().chain(MORE_COMMANDS).copied())
                    {
                        let _ = write!(message, "; did you mean '{s}'?");
                    }
                    return Err(SyntaxError::new(message, word_tok.span));
                }
            }
        };
        Ok(Command {
            kind,
            span: Span::new(word_tok.span.start, self.prev_end()),
            word_span: word_tok.span,
        })
    }

    /// Skips a command logq does not run, to the next `|` outside parentheses, checking only that
    /// brackets balance and subqueries are not nested.
    fn skip_command(&mut self) -> Result<(), SyntaxError> {
        let mut depth = 0usize;
        loop {
            match &self.peek().tok {
                Tok::Eof => return Ok(()),
                Tok::Pipe if depth == 0 => return Ok(()),
                Tok::LParen | Tok::LBracket => depth += 1,
                Tok::RParen | Tok::RBracket => {
                    if depth == 0 {
                        return Err(self.unexpected("a command"));
                    }
                    depth -= 1;
                }
                _ => {}
            }
            self.advance();
        }
    }

    fn projections(&mut self) -> Result<Vec<Projection>, SyntaxError> {
        self.comma_list(Parser::projection)
    }

    fn projection(&mut self) -> Result<Projection, SyntaxError> {
        let expr = self.expr()?;
        let alias = if self.eat_word("as") {
            Some(self.name("a name after 'as'")?)
        } else {
            None
        };
        Ok(Projection { expr, alias })
    }

    fn name(&mut self, what: &str) -> Result<Name, SyntaxError> {
        let tok = self.peek().clone();
        match tok.tok {
            Tok::Ident(name) | Tok::Quoted(name) => {
                self.advance();
                Ok(Name { name, span: tok.span })
            }
            _ => Err(self.unexpected(what)),
        }
    }

    fn comma_list<T>(
        &mut self,
        mut item: impl FnMut(&mut Parser) -> Result<T, SyntaxError>,
    ) -> Result<Vec<T>, SyntaxError> {
        let mut items = vec![item(self)?];
        while self.eat(&Tok::Comma) {
            items.push(item(self)?);
        }
        Ok(items)
    }

    fn filter(&mut self) -> Result<CommandKind, SyntaxError> {
        if let Some(subquery_at) = self.find_subquery() {
            self.check_subquery_not_nested(subquery_at)?;
        }
        Ok(CommandKind::Filter(self.expr()?))
    }

    /// The position of a `( command …` that opens a subquery in this command, if any.
    fn find_subquery(&self) -> Option<usize> {
        let mut i = self.pos;
        let mut depth = 0usize;
        while let Some(token) = self.tokens.get(i) {
            match &token.tok {
                Tok::Eof => return None,
                Tok::Pipe if depth == 0 => return None,
                Tok::LParen => {
                    if let Some(Token {
                        tok: Tok::Ident(w), ..
                    }) = self.tokens.get(i + 1)
                    {
                        if is_command_word(w) {
                            return Some(i);
                        }
                    }
                    depth += 1;
                }
                Tok::RParen => depth = depth.saturating_sub(1),
                _ => {}
            }
            i += 1;
        }
        None
    }

    fn check_subquery_not_nested(&self, open: usize) -> Result<(), SyntaxError> {
        let mut depth = 0usize;
        for (i, token) in self.tokens.iter().enumerate().skip(open) {
            match &token.tok {
                Tok::LParen => {
                    if depth >= 1 {
                        if let Some(Token {
                            tok: Tok::Ident(w), ..
                        }) = self.tokens.get(i + 1)
                        {
                            if is_command_word(w) {
                                return Err(SyntaxError::new(
                                    "subqueries cannot be nested",
                                    token.span.to(self.tokens[i + 1].span),
                                ));
                            }
                        }
                    }
                    depth += 1;
                }
                Tok::RParen => {
                    depth = depth.saturating_sub(1);
                    if depth == 0 {
                        return Ok(());
                    }
                }
                Tok::Eof => break,
                _ => {}
            }
        }
        Ok(())
    }

    fn stats(&mut self) -> Result<CommandKind, SyntaxError> {
        let aggregates = self.projections()?;
        let by = if self.eat_word("by") {
            self.projections()?
        } else {
            Vec::new()
        };
        let offset = if self.eat_word("offset") {
            Some(self.period("offset", "1h or 1d")?)
        } else {
            None
        };
        Ok(CommandKind::Stats(Stats {
            aggregates,
            by,
            offset,
        }))
    }

    fn sort_keys(&mut self) -> Result<Vec<SortKey>, SyntaxError> {
        self.comma_list(|p| {
            let expr = p.expr()?;
            let descending = if p.eat_word("desc") {
                true
            } else if p.eat_word("asc") {
                false
            } else {
                // A misspelt order (`sort x dsc`) is named as one, with the word meant.
                if let Tok::Ident(word) = &p.peek().tok {
                    if let Some(meant) = did_you_mean(word, ["desc", "asc"]) {
                        return Err(SyntaxError::new(
                            format!("unknown sort order '{word}'; did you mean '{meant}'?"),
                            p.peek().span,
                        ));
                    }
                }
                false
            };
            Ok(SortKey { expr, descending })
        })
    }

    fn limit(&mut self) -> Result<CommandKind, SyntaxError> {
        let any = self.eat_word("any");
        let tok = self.advance();
        match tok.tok {
            #[allow(clippy::float_cmp)]
            Tok::Num(n) if n.fract() == 0.0 && (1.0..=1e15).contains(&n) => Ok(if any {
                CommandKind::LimitAny(n as u64)
            } else {
                CommandKind::Limit(n as u64)
            }),
            _ => Err(SyntaxError::new(
                format!("limit takes a whole number of rows, found {}", tok.tok.describe()),
                tok.span,
            )),
        }
    }

    fn parse(&mut self) -> Result<CommandKind, SyntaxError> {
        let word_end = self.prev_end();
        let message = Expr {
            kind: ExprKind::Field("@message".to_string()),
            span: Span::new(word_end, word_end),
        };
        // `parse logfmt as …` / `parse csv as …` read @message; `parse csv "…"` reads a field.
        let mode_word = |p: &Parser| {
            (p.at_word("logfmt") || p.at_word("csv"))
                && matches!(p.peek_at(1), Tok::Ident(w) if w.eq_ignore_ascii_case("as"))
        };
        let source = match &self.peek().tok {
            Tok::Str(_) | Tok::Regex(_) => message,
            Tok::Ident(_) if mode_word(self) => message,
            Tok::Ident(_) | Tok::Quoted(_) => self.postfix()?,
            _ => {
                return Err(
                    self.unexpected("a field, a \"glob pattern\", a /regex/, logfmt or csv after 'parse'")
                )
            }
        };
        if self.eat_word("logfmt") {
            if !self.eat_word("as") {
                return Err(self.unexpected("'as' and the name of the map logfmt makes"));
            }
            let alias = self.name("a name for the map")?;
            return self.parse_end(Parse {
                source,
                pattern: ParsePattern::Logfmt { alias },
                multi: false,
            });
        }
        if self.eat_word("csv") {
            if !self.eat_word("as") {
                return Err(self.unexpected("'as' and one name per comma-separated value"));
            }
            let aliases = self.comma_list(|p| p.name("a field name"))?;
            return self.parse_end(Parse {
                source,
                pattern: ParsePattern::Csv { aliases },
                multi: false,
            });
        }
        let tok = self.advance();
        let pattern = match tok.tok {
            Tok::Str(pattern) => {
                if !self.eat_word("as") {
                    return Err(self.unexpected("'as' and one name per '*' of the pattern"));
                }
                let aliases = self.comma_list(|p| p.name("a field name"))?;
                ParsePattern::Glob {
                    pattern,
                    span: tok.span,
                    aliases,
                }
            }
            Tok::Regex(pattern) => {
                let aliases = if self.eat_word("as") {
                    self.comma_list(|p| p.name("a field name"))?
                } else {
                    Vec::new()
                };
                ParsePattern::Regex {
                    pattern,
                    span: tok.span,
                    aliases,
                }
            }
            other => {
                return Err(SyntaxError::new(
                    format!(
                        "expected a \"glob pattern\" or a /regex/, found {}",
                        other.describe()
                    ),
                    tok.span,
                ))
            }
        };
        let multi_span = self.peek().span;
        let multi = self.eat_word("multi");
        if multi && !matches!(pattern, ParsePattern::Regex { .. }) {
            return Err(SyntaxError::new(
                "multi works with a /regex/ pattern (one row per match)",
                multi_span,
            ));
        }
        Ok(CommandKind::Parse(Parse {
            source,
            pattern,
            multi,
        }))
    }

    /// A logfmt or csv parse, which takes no `multi`.
    fn parse_end(&mut self, parse: Parse) -> Result<CommandKind, SyntaxError> {
        if self.at_word("multi") {
            return Err(SyntaxError::new(
                "multi works with a /regex/ pattern (one row per match)",
                self.peek().span,
            ));
        }
        Ok(CommandKind::Parse(parse))
    }

    // ---- expressions ----

    fn expr(&mut self) -> Result<Expr, SyntaxError> {
        self.nested(Parser::or)
    }

    /// Reads with `read` one level deeper, refusing to go past [`MAX_NESTING`].
    fn nested(&mut self, read: fn(&mut Parser) -> Result<Expr, SyntaxError>) -> Result<Expr, SyntaxError> {
        if self.depth >= MAX_NESTING {
            return Err(SyntaxError::new(
                format!("the expression nests more than {MAX_NESTING} levels deep"),
                self.peek().span,
            ));
        }
        self.depth += 1;
        let result = read(self);
        self.depth -= 1;
        result
    }

    fn or(&mut self) -> Result<Expr, SyntaxError> {
        let mut left = self.and()?;
        while self.eat_word("or") {
            let right = self.and()?;
            left = binary(BinaryOp::Or, left, right);
        }
        Ok(left)
    }

    fn and(&mut self) -> Result<Expr, SyntaxError> {
        let mut left = self.not()?;
        while self.eat_word("and") {
            let right = self.not()?;
            left = binary(BinaryOp::And, left, right);
        }
        Ok(left)
    }

    fn not(&mut self) -> Result<Expr, SyntaxError> {
        let start = self.peek().span;
        if self.eat_word("not") || self.eat(&Tok::Bang) {
            let inner = self.nested(Parser::not)?;
            let span = start.to(inner.span);
            return Ok(Expr {
                kind: ExprKind::Unary(UnaryOp::Not, Box::new(inner)),
                span,
            });
        }
        self.comparison()
    }

    fn comparison(&mut self) -> Result<Expr, SyntaxError> {
        let left = self.additive()?;
        let op = match &self.peek().tok {
            Tok::Eq => Some(BinaryOp::Eq),
            Tok::Ne => Some(BinaryOp::Ne),
            Tok::Lt => Some(BinaryOp::Lt),
            Tok::Le => Some(BinaryOp::Le),
            Tok::Gt => Some(BinaryOp::Gt),
            Tok::Ge => Some(BinaryOp::Ge),
            _ => None,
        };
        if let Some(op) = op {
            self.advance();
            let right = self.additive()?;
            return Ok(binary(op, left, right));
        }
        if self.eat(&Tok::Match) || self.eat_word("like") {
            return self.like(left, false);
        }
        if self.at_word("not") && matches!(self.peek_at(1), Tok::Ident(w) if w.eq_ignore_ascii_case("like")) {
            self.advance();
            self.advance();
            return self.like(left, true);
        }
        if self.at_word("not") && matches!(self.peek_at(1), Tok::Ident(w) if w.eq_ignore_ascii_case("in")) {
            self.advance();
            self.advance();
            return self.in_list(left, true);
        }
        if self.eat_word("in") {
            return self.in_list(left, false);
        }
        Ok(left)
    }

    fn like(&mut self, left: Expr, negated: bool) -> Result<Expr, SyntaxError> {
        let pattern = self.additive()?;
        let span = left.span.to(pattern.span);
        Ok(Expr {
            kind: ExprKind::Like {
                expr: Box::new(left),
                pattern: Box::new(pattern),
                negated,
            },
            span,
        })
    }

    fn in_list(&mut self, left: Expr, negated: bool) -> Result<Expr, SyntaxError> {
        if self.at(&Tok::LParen) && matches!(self.peek_at(1), Tok::Ident(w) if is_command_word(w)) {
            let open = self.peek().span;
            let query = self.subquery()?;
            let span = left.span.to(Span::new(open.start, self.prev_end()));
            return Ok(Expr {
                kind: ExprKind::InQuery {
                    expr: Box::new(left),
                    query: Box::new(query),
                    negated,
                },
                span,
            });
        }
        self.expect(&Tok::LBracket, "'[' starting a list after 'in'")?;
        let mut list = Vec::new();
        if !self.at(&Tok::RBracket) {
            list = self.comma_list(Parser::additive)?;
        }
        let close = self.expect(&Tok::RBracket, "',' or ']'")?;
        let span = left.span.to(close.span);
        Ok(Expr {
            kind: ExprKind::In {
                expr: Box::new(left),
                list,
                negated,
            },
            span,
        })
    }

    fn additive(&mut self) -> Result<Expr, SyntaxError> {
        let mut left = self.multiplicative()?;
        loop {
            let op = match self.peek().tok {
                Tok::Plus => BinaryOp::Add,
                Tok::Minus => BinaryOp::Sub,
                _ => return Ok(left),
            };
            self.advance();
            let right = self.multiplicative()?;
            left = binary(op, left, right);
        }
    }

    fn multiplicative(&mut self) -> Result<Expr, SyntaxError> {
        let mut left = self.unary()?;
        loop {
            let op = match self.peek().tok {
                Tok::Star => BinaryOp::Mul,
                Tok::Slash => BinaryOp::Div,
                Tok::Percent => BinaryOp::Rem,
                _ => return Ok(left),
            };
            self.advance();
            let right = self.unary()?;
            left = binary(op, left, right);
        }
    }

    fn unary(&mut self) -> Result<Expr, SyntaxError> {
        let start = self.peek().span;
        if self.eat(&Tok::Minus) {
            let inner = self.nested(Parser::unary)?;
            let span = start.to(inner.span);
            // Fold literal negatives so `-5` is a number, as it reads.
            if let ExprKind::Num(n) = inner.kind {
                return Ok(Expr {
                    kind: ExprKind::Num(-n),
                    span,
                });
            }
            // An integer literal past 2^53 is kept as written (see the lexer): its sign too.
            if let ExprKind::Str(digits) = &inner.kind {
                // Unquoted: the token spans exactly its digits (a quoted string spans its quotes).
                let literal_integer = !digits.is_empty()
                    && digits.bytes().all(|b| b.is_ascii_digit())
                    && inner.span.end - inner.span.start == digits.len();
                if literal_integer {
                    return Ok(Expr {
                        kind: ExprKind::Str(format!("-{digits}")),
                        span,
                    });
                }
            }
            return Ok(Expr {
                kind: ExprKind::Unary(UnaryOp::Neg, Box::new(inner)),
                span,
            });
        }
        if self.eat(&Tok::Bang) {
            let inner = self.nested(Parser::unary)?;
            let span = start.to(inner.span);
            return Ok(Expr {
                kind: ExprKind::Unary(UnaryOp::Not, Box::new(inner)),
                span,
            });
        }
        self.power()
    }

    fn power(&mut self) -> Result<Expr, SyntaxError> {
        let base = self.postfix()?;
        if self.eat(&Tok::Caret) {
            let exponent = self.nested(Parser::unary)?;
            return Ok(binary(BinaryOp::Pow, base, exponent));
        }
        Ok(base)
    }

    fn postfix(&mut self) -> Result<Expr, SyntaxError> {
        let mut expr = self.primary()?;
        loop {
            if self.eat(&Tok::LBracket) {
                let index = self.expr()?;
                let close = self.expect(&Tok::RBracket, "']'")?;
                let span = expr.span.to(close.span);
                expr = Expr {
                    kind: ExprKind::Index(Box::new(expr), Box::new(index)),
                    span,
                };
            } else if self.at(&Tok::Dot) {
                self.advance();
                let name = self.name("a key after '.'")?;
                let span = expr.span.to(name.span);
                expr = Expr {
                    kind: ExprKind::Member(Box::new(expr), name.name),
                    span,
                };
            } else if let (Tok::Ident(rest), ExprKind::Index(..) | ExprKind::Call { .. }) =
                (&self.peek().tok, &expr.kind)
            {
                // `list[0].name` lexes the `.name` into the identifier.
                let Some(key) = rest.strip_prefix('.') else {
                    return Ok(expr);
                };
                let key = key.to_string();
                let tok = self.advance();
                let span = expr.span.to(tok.span);
                expr = Expr {
                    kind: ExprKind::Member(Box::new(expr), key),
                    span,
                };
            } else {
                return Ok(expr);
            }
        }
    }

    fn primary(&mut self) -> Result<Expr, SyntaxError> {
        let tok = self.peek().clone();
        let kind = match tok.tok {
            Tok::Num(n) => ExprKind::Num(n),
            Tok::Str(s) => ExprKind::Str(s),
            Tok::Regex(r) => ExprKind::Regex(r),
            Tok::Duration(d) => ExprKind::Duration(d),
            Tok::Star => ExprKind::Star,
            Tok::Quoted(name) => ExprKind::Field(name),
            Tok::LParen => {
                self.advance();
                let inner = self.expr()?;
                let close = self.expect(&Tok::RParen, "')'")?;
                return Ok(Expr {
                    kind: inner.kind,
                    span: tok.span.to(close.span),
                });
            }
            Tok::LBracket => {
                self.advance();
                let mut items = Vec::new();
                if !self.at(&Tok::RBracket) {
                    items = self.comma_list(Parser::expr)?;
                }
                let close = self.expect(&Tok::RBracket, "',' or ']'")?;
                return Ok(Expr {
                    kind: ExprKind::List(items),
                    span: tok.span.to(close.span),
                });
            }
            Tok::Ident(name) => {
                self.advance();
                if self.at(&Tok::LParen) {
                    return self.call(name, tok.span);
                }
                if name.eq_ignore_ascii_case("true") || name.eq_ignore_ascii_case("false") {
                    return Ok(Expr {
                        kind: ExprKind::Bool(name.eq_ignore_ascii_case("true")),
                        span: tok.span,
                    });
                }
                return Ok(Expr {
                    kind: ExprKind::Field(name),
                    span: tok.span,
                });
            }
            _ => return Err(self.unexpected("an expression")),
        };
        self.advance();
        Ok(Expr { kind, span: tok.span })
    }

    fn call(&mut self, name: String, name_span: Span) -> Result<Expr, SyntaxError> {
        self.expect(&Tok::LParen, "'('")?;
        let mut args = Vec::new();
        if !self.at(&Tok::RParen) {
            args = self.comma_list(Parser::expr)?;
        }
        let close = self.expect(&Tok::RParen, "',' or ')'")?;
        Ok(Expr {
            kind: ExprKind::Call {
                name,
                name_span,
                args,
            },
            span: name_span.to(close.span),
        })
    }
}

fn binary(op: BinaryOp, left: Expr, right: Expr) -> Expr {
    let span = left.span.to(right.span);
    Expr {
        kind: ExprKind::Binary(op, Box::new(left), Box::new(right)),
        span,
    }
}

fn is_command_word(word: &str) -> bool {
    SUPPORTED_COMMANDS
        .iter()
        .chain(MORE_COMMANDS)
        .chain(NOT_YET_COMMANDS)
        .any(|c| c.eq_ignore_ascii_case(word))
}
