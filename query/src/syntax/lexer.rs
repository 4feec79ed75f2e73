//! Query text → tokens. The lexer knows just enough context to tell a regex literal from a
//! division: `/` begins a regex where an operand is expected (after an operator, a keyword, `(`,
//! `,`, or right after `parse` and its optional source field).

use crate::syntax::span::Span;
use crate::syntax::SyntaxError;

#[derive(Debug, Clone, PartialEq)]
pub enum Tok {
    /// A plain name: letters, digits, `_`, `.`, `@`; also every keyword and command word.
    Ident(String),
    /// A backtick-quoted name (with an `@` written outside the backticks kept in front).
    Quoted(String),
    /// A string literal, escapes resolved.
    Str(String),
    /// A regex literal's pattern, between the slashes.
    Regex(String),
    /// A number literal.
    Num(f64),
    /// A number with a unit, as `bin(5m)` takes: the whole text.
    Duration(String),
    Pipe,
    Comma,
    LParen,
    RParen,
    LBracket,
    RBracket,
    Dot,
    Colon,
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    Match,
    Plus,
    Minus,
    Star,
    Slash,
    Percent,
    Caret,
    Bang,
    Eof,
}

impl Tok {
    /// How the token is named in "expected …, found …" messages.
    pub fn describe(&self) -> String {
        match self {
            Tok::Ident(s) | Tok::Duration(s) => format!("'{s}'"),
            Tok::Quoted(s) => format!("`{s}`"),
            Tok::Str(s) => format!("string \"{s}\""),
            Tok::Regex(s) => format!("regex /{s}/"),
            Tok::Num(n) => format!("number {n}"),
            Tok::Eof => "the end of the query".to_string(),
            other => format!("'{}'", other.symbol()),
        }
    }

    fn symbol(&self) -> &'static str {
        match self {
            Tok::Pipe => "|",
            Tok::Comma => ",",
            Tok::LParen => "(",
            Tok::RParen => ")",
            Tok::LBracket => "[",
            Tok::RBracket => "]",
            Tok::Dot => ".",
            Tok::Colon => ":",
            Tok::Eq => "=",
            Tok::Ne => "!=",
            Tok::Lt => "<",
            Tok::Le => "<=",
            Tok::Gt => ">",
            Tok::Ge => ">=",
            Tok::Match => "=~",
            Tok::Plus => "+",
            Tok::Minus => "-",
            Tok::Star => "*",
            Tok::Slash => "/",
            Tok::Percent => "%",
            Tok::Caret => "^",
            Tok::Bang => "!",
            _ => "",
        }
    }

    /// Whether a `/` after this token is a division (the token ends an operand).
    fn ends_operand(&self) -> bool {
        match self {
            Tok::Ident(word) => !is_operator_word(word),
            Tok::Quoted(_) | Tok::Str(_) | Tok::Num(_) | Tok::Duration(_) | Tok::RParen | Tok::RBracket => {
                true
            }
            _ => false,
        }
    }
}

/// Words after which an operand (and so a regex) is expected.
fn is_operator_word(word: &str) -> bool {
    [
        "like", "and", "or", "not", "in", "by", "as", "filter", "where", "parse", "fields", "display",
        "stats", "sort",
    ]
    .iter()
    .any(|w| w.eq_ignore_ascii_case(word))
}

#[derive(Debug, Clone, PartialEq)]
pub struct Token {
    pub tok: Tok,
    pub span: Span,
}

/// Splits `src` into tokens, ending with [`Tok::Eof`].
pub fn tokenize(src: &str) -> Result<Vec<Token>, SyntaxError> {
    Lexer {
        src,
        bytes: src.as_bytes(),
        pos: 0,
        out: Vec::new(),
        command_tokens: 0,
        command_is_parse: false,
    }
    .run()
}

struct Lexer<'a> {
    src: &'a str,
    bytes: &'a [u8],
    pos: usize,
    out: Vec<Token>,
    /// Tokens since the last `|` (or the start), to know where `parse` expects its pattern.
    command_tokens: usize,
    command_is_parse: bool,
}

impl Lexer<'_> {
    fn run(mut self) -> Result<Vec<Token>, SyntaxError> {
        loop {
            self.skip_space_and_comments();
            let start = self.pos;
            let Some(&b) = self.bytes.get(self.pos) else {
                self.out.push(Token {
                    tok: Tok::Eof,
                    span: Span::new(start, start),
                });
                return Ok(self.out);
            };
            let tok = match b {
                b'|' => self.single(Tok::Pipe),
                b',' => self.single(Tok::Comma),
                b'(' => self.single(Tok::LParen),
                b')' => self.single(Tok::RParen),
                b'[' => self.single(Tok::LBracket),
                b']' => self.single(Tok::RBracket),
                b':' => self.single(Tok::Colon),
                b'+' => self.single(Tok::Plus),
                b'-' => self.single(Tok::Minus),
                b'*' => self.single(Tok::Star),
                b'%' => self.single(Tok::Percent),
                b'^' => self.single(Tok::Caret),
                b'=' => match self.bytes.get(self.pos + 1) {
                    Some(b'~') => self.double(Tok::Match),
                    // `==` is not documented; accept it as `=` rather than fail on a common habit.
                    Some(b'=') => self.double(Tok::Eq),
                    _ => self.single(Tok::Eq),
                },
                b'!' => match self.bytes.get(self.pos + 1) {
                    Some(b'=') => self.double(Tok::Ne),
                    _ => self.single(Tok::Bang),
                },
                b'<' => match self.bytes.get(self.pos + 1) {
                    Some(b'=') => self.double(Tok::Le),
                    Some(b'>') => self.double(Tok::Ne),
                    _ => self.single(Tok::Lt),
                },
                b'>' => match self.bytes.get(self.pos + 1) {
                    Some(b'=') => self.double(Tok::Ge),
                    _ => self.single(Tok::Gt),
                },
                b'/' => {
                    if self.regex_expected() {
                        self.regex()?
                    } else {
                        self.single(Tok::Slash)
                    }
                }
                b'"' | b'\'' => self.string(b)?,
                b'`' => self.backtick(String::new(), start)?,
                b'.' if self.bytes.get(self.pos + 1).is_some_and(u8::is_ascii_digit)
                    && !self.out.last().is_some_and(|t| t.tok.ends_operand()) =>
                {
                    self.number()?
                }
                b'.' => self.single(Tok::Dot),
                b'0'..=b'9' => self.number()?,
                b if is_name_start(b) => self.ident(start)?,
                _ => {
                    let ch = self.src[start..].chars().next().unwrap_or('?');
                    return Err(SyntaxError::new(
                        format!("unexpected character '{ch}'"),
                        Span::new(start, start + ch.len_utf8()),
                    ));
                }
            };
            let span = Span::new(start, self.pos);
            if tok == Tok::Pipe {
                self.command_tokens = 0;
                self.command_is_parse = false;
            } else {
                if self.command_tokens == 0 {
                    self.command_is_parse = matches!(&tok, Tok::Ident(w) if w.eq_ignore_ascii_case("parse"));
                }
                self.command_tokens += 1;
            }
            self.out.push(Token { tok, span });
        }
    }

    fn regex_expected(&self) -> bool {
        // `parse /re/` and `parse @message /re/`.
        if self.command_is_parse && self.command_tokens <= 2 {
            return true;
        }
        !self.out.last().is_some_and(|t| t.tok.ends_operand())
    }

    fn single(&mut self, tok: Tok) -> Tok {
        self.pos += 1;
        tok
    }

    fn double(&mut self, tok: Tok) -> Tok {
        self.pos += 2;
        tok
    }

    /// Whitespace, and `#` comments to the end of the line.
    fn skip_space_and_comments(&mut self) {
        while let Some(&b) = self.bytes.get(self.pos) {
            if b.is_ascii_whitespace() {
                self.pos += 1;
            } else if b == b'#' {
                while self.bytes.get(self.pos).is_some_and(|&c| c != b'\n') {
                    self.pos += 1;
                }
            } else {
                break;
            }
        }
    }

    fn string(&mut self, quote: u8) -> Result<Tok, SyntaxError> {
        let start = self.pos;
        self.pos += 1;
        let mut text = String::new();
        let mut chars = self.src[self.pos..].char_indices();
        while let Some((i, ch)) = chars.next() {
            if ch as u32 == u32::from(quote) {
                self.pos += i + 1;
                return Ok(Tok::Str(text));
            }
            if ch == '\\' {
                match chars.next() {
                    Some((_, 'n')) => text.push('\n'),
                    Some((_, 't')) => text.push('\t'),
                    Some((_, 'r')) => text.push('\r'),
                    Some((_, c @ ('"' | '\'' | '\\'))) => text.push(c),
                    // Unknown escapes stay as written, so regex strings such as "\d+" survive.
                    Some((_, c)) => {
                        text.push('\\');
                        text.push(c);
                    }
                    None => break,
                }
            } else {
                text.push(ch);
            }
        }
        Err(SyntaxError::new(
            "unterminated string",
            Span::new(start, self.src.len()),
        ))
    }

    fn regex(&mut self) -> Result<Tok, SyntaxError> {
        let start = self.pos;
        self.pos += 1;
        let mut pattern = String::new();
        let mut in_class = false;
        let mut chars = self.src[self.pos..].char_indices();
        while let Some((i, ch)) = chars.next() {
            match ch {
                '/' if !in_class => {
                    self.pos += i + 1;
                    return Ok(Tok::Regex(pattern));
                }
                '\\' => match chars.next() {
                    Some((_, '/')) => pattern.push('/'),
                    Some((_, c)) => {
                        pattern.push('\\');
                        pattern.push(c);
                    }
                    None => break,
                },
                '[' => {
                    in_class = true;
                    pattern.push(ch);
                }
                ']' => {
                    in_class = false;
                    pattern.push(ch);
                }
                '\n' => break,
                _ => pattern.push(ch),
            }
        }
        Err(SyntaxError::new(
            "unterminated regex: a regex ends with '/' on the same line",
            Span::new(start, start + 1),
        ))
    }

    fn backtick(&mut self, mut name: String, start: usize) -> Result<Tok, SyntaxError> {
        self.pos += 1;
        let Some(len) = self.src[self.pos..].find('`') else {
            return Err(SyntaxError::new(
                "unterminated `quoted name`",
                Span::new(start, self.src.len()),
            ));
        };
        let inner = &self.src[self.pos..self.pos + len];
        if name.ends_with('.') {
            // A quoted segment of a dotted path keeps its backticks, so `js.`user.id`` stays
            // two segments; the planner splits on the dots outside backticks.
            name.push('`');
            name.push_str(inner);
            name.push('`');
        } else {
            name.push_str(inner);
        }
        self.pos += len + 1;
        // A quoted part may continue a dotted path: json.`user.id`.more
        if self.bytes.get(self.pos) == Some(&b'.')
            && self
                .bytes
                .get(self.pos + 1)
                .is_some_and(|&b| is_name_start(b) || b == b'`')
        {
            self.pos += 1;
            name.push('.');
            return self.continue_name(name, start);
        }
        Ok(Tok::Quoted(name))
    }

    fn continue_name(&mut self, name: String, start: usize) -> Result<Tok, SyntaxError> {
        if self.bytes.get(self.pos) == Some(&b'`') {
            return self.backtick(name, start);
        }
        match self.ident(start)? {
            Tok::Ident(rest) | Tok::Quoted(rest) => Ok(Tok::Quoted(format!("{name}{rest}"))),
            other => Ok(other),
        }
    }

    fn ident(&mut self, start: usize) -> Result<Tok, SyntaxError> {
        let name_start = self.pos;
        while self.bytes.get(self.pos).is_some_and(|&b| is_name_char(b)) {
            self.pos += 1;
        }
        let name = self.src[name_start..self.pos].to_string();
        // @`quoted name` and a.b.`quoted part`
        if self.bytes.get(self.pos) == Some(&b'`') && (name.ends_with('@') || name.ends_with('.')) {
            return self.backtick(name, start);
        }
        Ok(Tok::Ident(name))
    }

    fn number(&mut self) -> Result<Tok, SyntaxError> {
        let start = self.pos;
        while self.bytes.get(self.pos).is_some_and(u8::is_ascii_digit) {
            self.pos += 1;
        }
        if self.bytes.get(self.pos) == Some(&b'.')
            && self.bytes.get(self.pos + 1).is_some_and(u8::is_ascii_digit)
        {
            self.pos += 1;
            while self.bytes.get(self.pos).is_some_and(u8::is_ascii_digit) {
                self.pos += 1;
            }
        }
        if self.bytes.get(self.pos).is_some_and(u8::is_ascii_alphabetic) {
            while self.bytes.get(self.pos).is_some_and(u8::is_ascii_alphanumeric) {
                self.pos += 1;
            }
            return Ok(Tok::Duration(self.src[start..self.pos].to_string()));
        }
        let text = &self.src[start..self.pos];
        // An integer a double cannot hold exactly stays as written: a literal that compares
        // exactly with the integers it is meant to find.
        if let Some(n) = crate::value::parse_integer(text) {
            if n.unsigned_abs() > crate::value::MAX_EXACT_DOUBLE as u128 {
                return Ok(Tok::Str(text.to_string()));
            }
        }
        text.parse::<f64>()
            .map(Tok::Num)
            .map_err(|_| SyntaxError::new(format!("bad number '{text}'"), Span::new(start, self.pos)))
    }
}

fn is_name_start(b: u8) -> bool {
    b.is_ascii_alphabetic() || b == b'_' || b == b'@' || b >= 0x80
}

fn is_name_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_' || b == b'@' || b == b'.' || b >= 0x80
}

#[cfg(test)]
mod tests {
    use super::{tokenize, Tok};

    fn toks(src: &str) -> Vec<Tok> {
        tokenize(src).unwrap().into_iter().map(|t| t.tok).collect()
    }

    #[test]
    fn slash_after_an_operand_divides_and_elsewhere_starts_a_regex() {
        assert_eq!(
            toks("a / 2"),
            vec![Tok::Ident("a".into()), Tok::Slash, Tok::Num(2.0), Tok::Eof]
        );
        assert_eq!(
            toks("filter @message like /Ex\\/c/"),
            vec![
                Tok::Ident("filter".into()),
                Tok::Ident("@message".into()),
                Tok::Ident("like".into()),
                Tok::Regex("Ex/c".into()),
                Tok::Eof
            ]
        );
        assert_eq!(
            toks("parse @message /(?<x>\\d+)/")[2],
            Tok::Regex("(?<x>\\d+)".into())
        );
        assert_eq!(toks("parse /a[/]b/")[1], Tok::Regex("a[/]b".into()));
    }

    #[test]
    fn comments_run_to_the_end_of_the_line() {
        assert_eq!(
            toks("fields a # | filter b\n| limit 1"),
            vec![
                Tok::Ident("fields".into()),
                Tok::Ident("a".into()),
                Tok::Pipe,
                Tok::Ident("limit".into()),
                Tok::Num(1.0),
                Tok::Eof
            ]
        );
    }

    #[test]
    fn names_strings_and_durations() {
        assert_eq!(
            toks("`detail-type` @`aws.tag.a:b` 'it' \"q\\\"x\" 5m 2hrs @@level"),
            vec![
                Tok::Quoted("detail-type".into()),
                Tok::Quoted("@aws.tag.a:b".into()),
                Tok::Str("it".into()),
                Tok::Str("q\"x".into()),
                Tok::Duration("5m".into()),
                Tok::Duration("2hrs".into()),
                Tok::Ident("@@level".into()),
                Tok::Eof
            ]
        );
        assert_eq!(toks("json.`user.id`")[0], Tok::Quoted("json.`user.id`".into()));
    }

    #[test]
    fn unterminated_literals_point_at_their_start() {
        let err = tokenize("filter a = \"abc").unwrap_err();
        assert_eq!(err.message, "unterminated string");
        assert_eq!(err.span.start, 11);
        let err = tokenize("filter a like /abc").unwrap_err();
        assert_eq!(err.span.start, 14);
    }
}
