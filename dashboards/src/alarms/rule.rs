//! The AlarmRule language of composite alarms, parsed with nom into a small tree.
//!
//! ```text
//! rule     := or
//! or       := and ("OR" and)*
//! and      := not ("AND" not)*
//! not      := "NOT" not | primary
//! primary  := "(" rule ")" | "TRUE" | "FALSE"
//!           | STATE "(" alarm ")"
//!           | "AT_LEAST" "(" count ["%"] "," STATE "," "(" alarm ("," alarm)* ")" ")"
//! STATE    := "ALARM" | "OK" | "INSUFFICIENT_DATA"
//! alarm    := "double-quoted" | characters up to ")" or "," (trimmed)
//! ```
//!
//! Keywords are upper-case. NOT binds tighter than AND, and AND tighter than OR (AWS does not
//! document precedence; parentheses make a rule unambiguous). An alarm is named by its name or
//! its ARN; [`child_name`] turns an ARN into the name.

use nom::bytes::complete::take_while1;
use nom::{IResult, Parser};

use super::limits::{MAX_ALARM_RULE_CHARS, MAX_ALARM_RULE_CHILDREN, MAX_ALARM_RULE_ELEMENTS, MAX_NESTING};
use super::model::StateValue;
use super::syntax::{describe_at, SyntaxError};

/// A parsed AlarmRule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RuleExpr {
    Const(bool),
    /// `ALARM(x)`, `OK(x)`, `INSUFFICIENT_DATA(x)`; `alarm` is as written (quotes removed).
    State {
        state: StateValue,
        alarm: String,
        offset: usize,
    },
    Not(Box<RuleExpr>),
    And(Vec<RuleExpr>),
    Or(Vec<RuleExpr>),
    /// `AT_LEAST(2, ALARM, (a, b, c))` or `AT_LEAST(51%, …)`.
    AtLeast {
        threshold: AtLeast,
        state: StateValue,
        alarms: Vec<(String, usize)>,
    },
}

/// AT_LEAST's first argument.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AtLeast {
    Count(u32),
    Percent(u32),
}

/// The alarm name a rule's reference means: the part after `:alarm:` of an ARN, else itself.
pub fn child_name(reference: &str) -> &str {
    if reference.starts_with("arn:") {
        if let Some(i) = reference.find(":alarm:") {
            return &reference[i + ":alarm:".len()..];
        }
    }
    reference
}

impl RuleExpr {
    /// Every alarm reference with its offset, in order of appearance.
    pub fn references(&self) -> Vec<(&str, usize)> {
        let mut out = Vec::new();
        self.collect(&mut out);
        out
    }

    fn collect<'a>(&'a self, out: &mut Vec<(&'a str, usize)>) {
        match self {
            RuleExpr::Const(_) => {}
            RuleExpr::State { alarm, offset, .. } => out.push((alarm, *offset)),
            RuleExpr::Not(e) => e.collect(out),
            RuleExpr::And(items) | RuleExpr::Or(items) => items.iter().for_each(|e| e.collect(out)),
            RuleExpr::AtLeast { alarms, .. } => out.extend(alarms.iter().map(|(a, o)| (a.as_str(), *o))),
        }
    }

    /// The rule's truth, given each child's state by name (`None`: unknown, in no state).
    pub fn evaluate(&self, state_of: &dyn Fn(&str) -> Option<StateValue>) -> bool {
        match self {
            RuleExpr::Const(b) => *b,
            RuleExpr::State { state, alarm, .. } => state_of(child_name(alarm)) == Some(*state),
            RuleExpr::Not(e) => !e.evaluate(state_of),
            RuleExpr::And(items) => items.iter().all(|e| e.evaluate(state_of)),
            RuleExpr::Or(items) => items.iter().any(|e| e.evaluate(state_of)),
            RuleExpr::AtLeast {
                threshold,
                state,
                alarms,
            } => {
                let count = alarms
                    .iter()
                    .filter(|(a, _)| state_of(child_name(a)) == Some(*state))
                    .count() as u64;
                match threshold {
                    AtLeast::Count(m) => count >= u64::from(*m),
                    AtLeast::Percent(p) => count * 100 >= u64::from(*p) * alarms.len() as u64,
                }
            }
        }
    }
}

struct RuleParser<'a> {
    text: &'a str,
    pos: usize,
    depth: usize,
    elements: usize,
}

/// Parses an AlarmRule, with AWS's limits: 1 to 10,240 characters, at most 100 distinct child
/// alarms and 500 elements.
pub fn parse(text: &str) -> Result<RuleExpr, SyntaxError> {
    let chars = text.chars().count();
    if chars == 0 || text.trim().is_empty() {
        return Err(SyntaxError::new(0, "the rule is empty"));
    }
    if chars > MAX_ALARM_RULE_CHARS {
        return Err(SyntaxError::new(
            0,
            format!("the rule has {chars} characters; AWS allows at most {MAX_ALARM_RULE_CHARS}"),
        ));
    }
    let mut p = RuleParser {
        text,
        pos: 0,
        depth: 0,
        elements: 0,
    };
    let rule = p.or()?;
    p.skip_space();
    if p.pos < text.len() {
        return Err(p.error("expected AND, OR or the end of the rule"));
    }
    let mut names: Vec<&str> = rule.references().iter().map(|(a, _)| child_name(a)).collect();
    names.sort_unstable();
    names.dedup();
    if names.len() > MAX_ALARM_RULE_CHILDREN {
        return Err(SyntaxError::new(
            0,
            format!(
                "the rule names {} alarms; AWS allows at most {MAX_ALARM_RULE_CHILDREN}",
                names.len()
            ),
        ));
    }
    if p.elements > MAX_ALARM_RULE_ELEMENTS {
        return Err(SyntaxError::new(
            0,
            format!(
                "the rule has {} elements; AWS allows at most {MAX_ALARM_RULE_ELEMENTS}",
                p.elements
            ),
        ));
    }
    Ok(rule)
}

fn keyword(i: &str) -> IResult<&str, &str> {
    take_while1(|c: char| c.is_ascii_alphabetic() || c == '_').parse(i)
}

impl RuleParser<'_> {
    fn rest(&self) -> &str {
        &self.text[self.pos..]
    }

    fn skip_space(&mut self) {
        let rest = self.rest();
        self.pos += rest.len() - rest.trim_start().len();
    }

    fn error(&self, what: &str) -> SyntaxError {
        let found = match keyword(self.rest()) {
            Ok((_, w)) => format!("{w:?}"),
            Err(_) => describe_at(self.text, self.pos),
        };
        SyntaxError::new(self.pos, format!("{what}, found {found}"))
    }

    /// The keyword at the cursor, without consuming it.
    fn peek_keyword(&mut self) -> Option<&str> {
        self.skip_space();
        keyword(self.rest()).ok().map(|(_, w)| w)
    }

    fn eat_keyword(&mut self, expected: &str) -> bool {
        if self.peek_keyword() == Some(expected) {
            self.pos += expected.len();
            true
        } else {
            false
        }
    }

    fn eat_char(&mut self, c: char) -> bool {
        self.skip_space();
        if self.rest().starts_with(c) {
            self.pos += c.len_utf8();
            true
        } else {
            false
        }
    }

    fn expect_char(&mut self, c: char) -> Result<(), SyntaxError> {
        if self.eat_char(c) {
            Ok(())
        } else {
            Err(self.error(&format!("expected {c:?}")))
        }
    }

    fn or(&mut self) -> Result<RuleExpr, SyntaxError> {
        let mut items = vec![self.and()?];
        while self.eat_keyword("OR") {
            items.push(self.and()?);
        }
        Ok(if items.len() == 1 {
            items.remove(0)
        } else {
            RuleExpr::Or(items)
        })
    }

    fn and(&mut self) -> Result<RuleExpr, SyntaxError> {
        let mut items = vec![self.not()?];
        while self.eat_keyword("AND") {
            items.push(self.not()?);
        }
        Ok(if items.len() == 1 {
            items.remove(0)
        } else {
            RuleExpr::And(items)
        })
    }

    fn deeper(&mut self) -> Result<(), SyntaxError> {
        self.depth += 1;
        if self.depth > MAX_NESTING {
            return Err(SyntaxError::new(
                self.pos,
                format!("the rule nests more than {MAX_NESTING} levels deep"),
            ));
        }
        Ok(())
    }

    fn not(&mut self) -> Result<RuleExpr, SyntaxError> {
        if self.eat_keyword("NOT") {
            self.deeper()?;
            let inner = self.not()?;
            self.depth -= 1;
            return Ok(RuleExpr::Not(Box::new(inner)));
        }
        self.primary()
    }

    fn primary(&mut self) -> Result<RuleExpr, SyntaxError> {
        self.skip_space();
        let start = self.pos;
        if self.eat_char('(') {
            self.deeper()?;
            self.elements += 2;
            let inner = self.or()?;
            self.expect_char(')')?;
            self.depth -= 1;
            return Ok(inner);
        }
        let Some(word) = self.peek_keyword().map(str::to_string) else {
            return Err(if self.pos >= self.text.len() {
                SyntaxError::new(self.pos, "the rule ends too early")
            } else {
                self.error("expected ALARM(…), OK(…), INSUFFICIENT_DATA(…), TRUE, FALSE, NOT or \"(\"")
            });
        };
        match word.as_str() {
            "TRUE" | "FALSE" => {
                self.pos += word.len();
                self.elements += 1;
                Ok(RuleExpr::Const(word == "TRUE"))
            }
            "AT_LEAST" => {
                self.pos += word.len();
                self.at_least()
            }
            _ => {
                let Some(state) = state_keyword(&word) else {
                    let upper = word.to_ascii_uppercase();
                    let message = if upper != word
                        && (state_keyword(&upper).is_some()
                            || matches!(
                                upper.as_str(),
                                "TRUE" | "FALSE" | "AND" | "OR" | "NOT" | "AT_LEAST"
                            )) {
                        format!("write {upper} in capitals")
                    } else {
                        format!(
                            "unknown function {word}; expected ALARM, OK, INSUFFICIENT_DATA, AT_LEAST, TRUE, FALSE or NOT"
                        )
                    };
                    return Err(SyntaxError::new(start, message));
                };
                self.pos += word.len();
                self.expect_char('(')?;
                let (alarm, offset) = self.alarm_name(&[')'])?;
                self.expect_char(')')?;
                self.elements += 1;
                Ok(RuleExpr::State { state, alarm, offset })
            }
        }
    }

    fn at_least(&mut self) -> Result<RuleExpr, SyntaxError> {
        self.expect_char('(')?;
        self.skip_space();
        let digits_len = self.rest().bytes().take_while(u8::is_ascii_digit).count();
        if digits_len == 0 {
            return Err(self.error("expected a count or a percentage such as 2 or 51%"));
        }
        let number_at = self.pos;
        let digits = &self.rest()[..digits_len];
        let n: u32 = digits
            .parse()
            .map_err(|_| SyntaxError::new(number_at, "this count is too large"))?;
        self.pos += digits_len;
        let threshold = if self.rest().starts_with('%') {
            self.pos += 1;
            if n > 100 {
                return Err(SyntaxError::new(number_at, "a percentage is at most 100"));
            }
            AtLeast::Percent(n)
        } else {
            AtLeast::Count(n)
        };
        if n == 0 {
            return Err(SyntaxError::new(number_at, "AT_LEAST needs at least 1"));
        }
        self.expect_char(',')?;
        self.skip_space();
        let state_at = self.pos;
        let state = self
            .peek_keyword()
            .and_then(state_keyword)
            .ok_or_else(|| SyntaxError::new(state_at, "expected ALARM, OK or INSUFFICIENT_DATA"))?;
        self.pos += state.as_str().len();
        self.expect_char(',')?;
        self.expect_char('(')?;
        let mut alarms = vec![self.alarm_name(&[',', ')'])?];
        while self.eat_char(',') {
            alarms.push(self.alarm_name(&[',', ')'])?);
        }
        self.expect_char(')')?;
        self.expect_char(')')?;
        if let AtLeast::Count(m) = threshold {
            if m as usize > alarms.len() {
                return Err(SyntaxError::new(
                    number_at,
                    format!("AT_LEAST({m}, …) over {} alarms can never be true", alarms.len()),
                ));
            }
        }
        self.elements += alarms.len() + 2;
        Ok(RuleExpr::AtLeast {
            threshold,
            state,
            alarms,
        })
    }

    /// A quoted or bare alarm name or ARN, ending before one of `stops`.
    fn alarm_name(&mut self, stops: &[char]) -> Result<(String, usize), SyntaxError> {
        self.skip_space();
        let start = self.pos;
        if let Some(body) = self.rest().strip_prefix('"') {
            let mut name = String::new();
            let mut chars = body.char_indices();
            while let Some((i, c)) = chars.next() {
                match c {
                    '"' => {
                        self.pos = start + 1 + i + 1;
                        if name.is_empty() {
                            return Err(SyntaxError::new(start, "the alarm name is empty"));
                        }
                        return Ok((name, start));
                    }
                    '\\' => match chars.next() {
                        Some((_, c)) => name.push(c),
                        None => break,
                    },
                    c => name.push(c),
                }
            }
            return Err(SyntaxError::new(start, "this name is not closed with \""));
        }
        let len = self
            .rest()
            .find(|c: char| stops.contains(&c) || c == '(' || c == '"')
            .unwrap_or(self.rest().len());
        let name = self.rest()[..len].trim_end();
        if name.is_empty() {
            return Err(self.error("expected an alarm name or ARN"));
        }
        let name = name.to_string();
        self.pos += len;
        if self.rest().starts_with(['(', '"']) {
            return Err(self.error("an alarm name with parentheses or quotes must be double-quoted"));
        }
        Ok((name, start))
    }
}

fn state_keyword(word: &str) -> Option<StateValue> {
    match word {
        "ALARM" => Some(StateValue::Alarm),
        "OK" => Some(StateValue::Ok),
        "INSUFFICIENT_DATA" => Some(StateValue::InsufficientData),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::{child_name, parse, AtLeast, RuleExpr};
    use crate::alarms::model::StateValue;

    fn err(text: &str) -> String {
        parse(text).unwrap_err().render(text)
    }

    fn truth(text: &str, states: &[(&str, StateValue)]) -> bool {
        parse(text)
            .unwrap()
            .evaluate(&|name| states.iter().find(|(n, _)| *n == name).map(|(_, s)| *s))
    }

    #[test]
    fn documented_examples_parse_and_evaluate() {
        use StateValue::{Alarm, Ok};
        let rule = "ALARM(CPUUtilizationTooHigh) AND NOT ALARM(DeploymentInProgress)";
        assert!(truth(
            rule,
            &[("CPUUtilizationTooHigh", Alarm), ("DeploymentInProgress", Ok)]
        ));
        assert!(!truth(
            rule,
            &[("CPUUtilizationTooHigh", Alarm), ("DeploymentInProgress", Alarm)]
        ));
        assert!(truth(
            "(ALARM(a) OR ALARM(b)) AND OK(c)",
            &[("b", Alarm), ("c", Ok)]
        ));
        assert!(!truth("(ALARM(a) OR ALARM(b)) AND OK(c)", &[("b", Alarm)]));
        assert!(
            truth("ALARM(a) OR ALARM(b) AND FALSE", &[("a", Alarm)]),
            "AND binds tighter"
        );
        assert!(truth("NOT NOT TRUE", &[]));
        assert!(truth(
            "ALARM(\"arn:aws:cloudwatch:us-east-1:123456789012:alarm:my alarm\")",
            &[("my alarm", Alarm)]
        ));
        assert!(truth("ALARM( spaced name )", &[("spaced name", Alarm)]));
        assert!(truth(
            "AT_LEAST(2, ALARM, (a, b, \"c\"))",
            &[("a", Alarm), ("c", Alarm)]
        ));
        assert!(!truth(
            "AT_LEAST(67%, ALARM, (a, b, c))",
            &[("a", Alarm), ("c", Alarm)]
        ));
        assert!(truth(
            "AT_LEAST(66%, ALARM, (a, b, c))",
            &[("a", Alarm), ("c", Alarm)]
        ));
        assert_eq!(child_name("arn:aws:cloudwatch:eu-west-1:1:alarm:x:y"), "x:y");
        assert!(matches!(
            parse("AT_LEAST(1, OK, (a))").unwrap(),
            RuleExpr::AtLeast {
                threshold: AtLeast::Count(1),
                ..
            }
        ));
    }

    #[test]
    fn errors_point_at_the_offending_character() {
        assert_eq!(
            err("ALARM(a) AND WARN(b)"),
            "  ALARM(a) AND WARN(b)\n               ^ unknown function WARN; expected ALARM, OK, INSUFFICIENT_DATA, AT_LEAST, TRUE, FALSE or NOT"
        );
        assert_eq!(
            err("ALARM(a) and OK(b)"),
            "  ALARM(a) and OK(b)\n           ^ expected AND, OR or the end of the rule, found \"and\""
        );
        assert_eq!(err("alarm(a)"), "  alarm(a)\n  ^ write ALARM in capitals");
        assert_eq!(
            err("ALARM(a"),
            "  ALARM(a\n         ^ expected ')', found the end"
        );
        assert_eq!(
            err("ALARM()"),
            "  ALARM()\n        ^ expected an alarm name or ARN, found ')'"
        );
        assert_eq!(
            err("ALARM(a) AND"),
            "  ALARM(a) AND\n              ^ the rule ends too early"
        );
        assert_eq!(
            err("ALARM(\"a)"),
            "  ALARM(\"a)\n        ^ this name is not closed with \""
        );
        assert_eq!(
            err("AT_LEAST(4, ALARM, (a, b))"),
            "  AT_LEAST(4, ALARM, (a, b))\n           ^ AT_LEAST(4, …) over 2 alarms can never be true"
        );
        assert_eq!(err(""), "  \n  ^ the rule is empty");
    }

    #[test]
    fn limits_are_checked() {
        let many: Vec<String> = (0..101).map(|i| format!("ALARM(a{i})")).collect();
        assert!(parse(&many.join(" OR "))
            .unwrap_err()
            .message
            .contains("at most 100"));
        let long = format!("ALARM({})", "x".repeat(10_240));
        assert!(parse(&long).unwrap_err().message.contains("at most 10240"));
        let deep = "(".repeat(5_000) + "TRUE" + &")".repeat(5_000);
        assert!(parse(&deep).is_err());
        let nots = "NOT ".repeat(5_000) + "TRUE";
        assert!(parse(&nots).is_err());
    }
}
