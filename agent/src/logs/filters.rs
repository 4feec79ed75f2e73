//! What leaves the machine: the CloudWatch agent's `filters` (every one must pass: `include`
//! must match, `exclude` must not) and our redaction rules, applied to each assembled event
//! before it is batched. Redaction replaces each match with `[REDACTED:<rule>]`; the built-in
//! rules cover AWS access key ids, AWS secret keys (after a `secret`-like word), bearer tokens,
//! e-mail addresses and payment card numbers (checked with the Luhn sum, so other long numbers
//! pass).

use regex::Regex;

/// One `filters` entry.
#[derive(Debug, Clone)]
pub enum Filter {
    Include(Regex),
    Exclude(Regex),
}

/// Whether `message` passes every filter.
pub fn passes(filters: &[Filter], message: &str) -> bool {
    filters.iter().all(|f| match f {
        Filter::Include(re) => re.is_match(message),
        Filter::Exclude(re) => !re.is_match(message),
    })
}

/// A redaction rule: matches are replaced with `[REDACTED:<name>]`.
#[derive(Debug, Clone)]
pub struct Redaction {
    pub name: String,
    pattern: Regex,
    /// Only matches that pass the Luhn check (card numbers).
    luhn: bool,
}

impl Redaction {
    pub fn new(name: &str, pattern: &str) -> Result<Redaction, regex::Error> {
        Ok(Redaction {
            name: name.to_string(),
            pattern: Regex::new(pattern)?,
            luhn: false,
        })
    }
}

/// The built-in rules, by name.
pub fn builtin(name: &str) -> Option<Redaction> {
    let (pattern, luhn) = match name {
        "aws_access_key" => (r"\b(?:AKIA|ASIA|AIDA|AROA)[A-Z0-9]{16}\b", false),
        "aws_secret_key" => (
            r#"(?i)(?:aws_secret_access_key|secret_access_key|secretaccesskey|aws_secret)["']?\s*[:=]\s*["']?[A-Za-z0-9/+=]{40}"#,
            false,
        ),
        "bearer_token" => (r"(?i)\bbearer\s+[A-Za-z0-9\-._~+/]+=*", false),
        "email" => (r"[A-Za-z0-9._%+\-]+@[A-Za-z0-9.\-]+\.[A-Za-z]{2,}", false),
        "card_number" => (r"\b(?:\d[ -]?){12,18}\d\b", true),
        _ => return None,
    };
    Regex::new(pattern).ok().map(|pattern| Redaction {
        name: name.to_string(),
        pattern,
        luhn,
    })
}

/// Every built-in rule's name.
pub const BUILTIN_RULES: &[&str] = &[
    "aws_access_key",
    "aws_secret_key",
    "bearer_token",
    "email",
    "card_number",
];

fn luhn_valid(candidate: &str) -> bool {
    let digits: Vec<u32> = candidate.chars().filter_map(|c| c.to_digit(10)).collect();
    if !(13..=19).contains(&digits.len()) {
        return false;
    }
    let sum: u32 = digits
        .iter()
        .rev()
        .enumerate()
        .map(|(i, &d)| {
            if i % 2 == 1 {
                if d * 2 > 9 {
                    d * 2 - 9
                } else {
                    d * 2
                }
            } else {
                d
            }
        })
        .sum();
    sum.is_multiple_of(10)
}

/// `message` with every rule applied; also how many replacements were made.
pub fn redact(rules: &[Redaction], message: &str) -> (String, usize) {
    let mut text = message.to_string();
    let mut count = 0;
    for rule in rules {
        if !rule.pattern.is_match(&text) {
            continue;
        }
        let replaced = rule.pattern.replace_all(&text, |caps: &regex::Captures<'_>| {
            let found = &caps[0];
            if rule.luhn && !luhn_valid(found) {
                return found.to_string();
            }
            count += 1;
            format!("[REDACTED:{}]", rule.name)
        });
        text = replaced.into_owned();
    }
    (text, count)
}

#[cfg(test)]
mod tests {
    use super::{builtin, passes, redact, Filter, Redaction, BUILTIN_RULES};
    use regex::Regex;

    #[test]
    fn every_filter_must_pass() {
        let filters = [
            Filter::Exclude(Regex::new("healthcheck").unwrap()),
            Filter::Include(Regex::new("ERROR|WARN").unwrap()),
        ];
        assert!(passes(&filters, "ERROR disk full"));
        assert!(!passes(&filters, "ERROR healthcheck failed"));
        assert!(!passes(&filters, "INFO started"));
        assert!(passes(&[], "anything"));
    }

    #[test]
    fn the_builtin_rules_redact_secrets_and_leave_the_rest() {
        let rules: Vec<Redaction> = BUILTIN_RULES.iter().map(|n| builtin(n).unwrap()).collect();
        let (text, n) = redact(
            &rules,
            "key=AKIAIOSFODNN7EXAMPLE aws_secret_access_key=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY \
             Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.e30.x user=jane.doe@example.com \
             card 4111 1111 1111 1111 order 1234567890123456 latency=12",
        );
        assert_eq!(n, 5, "{text}");
        assert!(text.contains("key=[REDACTED:aws_access_key]"), "{text}");
        assert!(
            text.contains("[REDACTED:aws_secret_key]") && !text.contains("wJalr"),
            "{text}"
        );
        assert!(text.contains("Authorization: [REDACTED:bearer_token]"), "{text}");
        assert!(text.contains("user=[REDACTED:email]"), "{text}");
        assert!(text.contains("card [REDACTED:card_number]"), "{text}");
        assert!(
            text.contains("order 1234567890123456"),
            "not a card number (Luhn): {text}"
        );
        assert!(text.ends_with("latency=12"));
        assert!(builtin("nope").is_none());
    }

    #[test]
    fn user_rules_apply_in_order() {
        let rules = [Redaction::new("ssn", r"\b\d{3}-\d{2}-\d{4}\b").unwrap()];
        assert_eq!(
            redact(&rules, "ssn 123-45-6789 ok"),
            ("ssn [REDACTED:ssn] ok".to_string(), 1)
        );
        assert!(Redaction::new("bad", "(").is_err());
    }
}
