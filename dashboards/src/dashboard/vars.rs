//! `${name}` substitution in a TOML file's strings: values from `[vars]`, overridden by
//! `--var NAME=VALUE`. `$${` writes a literal `${`. A variable with no value is an error that
//! names it.

use std::collections::BTreeMap;

/// Splits a `--var` argument `NAME=VALUE`.
pub fn parse_assignment(arg: &str) -> Result<(String, String), String> {
    match arg.split_once('=') {
        Some((name, value)) if is_name(name) => Ok((name.to_string(), value.to_string())),
        _ => Err(format!(
            "--var {arg:?}: expected NAME=VALUE, NAME made of letters, digits, _ and -"
        )),
    }
}

fn is_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

/// `text` with every `${name}` replaced; the error lists each unknown or malformed reference.
pub fn substitute(text: &str, vars: &BTreeMap<String, String>) -> Result<String, String> {
    let mut out = String::with_capacity(text.len());
    let mut errors = Vec::new();
    let mut rest = text;
    while let Some(at) = rest.find('$') {
        out.push_str(&rest[..at]);
        let tail = &rest[at..];
        if let Some(after) = tail.strip_prefix("$${") {
            out.push_str("${");
            rest = after;
        } else if let Some(after) = tail.strip_prefix("${") {
            match after.find('}') {
                Some(end) if is_name(&after[..end]) => {
                    let name = &after[..end];
                    match vars.get(name) {
                        Some(value) => out.push_str(value),
                        None => errors.push(format!(
                            "unknown variable ${{{name}}}: give it a value in [vars] or with --var {name}=VALUE"
                        )),
                    }
                    rest = &after[end + 1..];
                }
                _ => {
                    errors.push("\"${\" starts a variable reference that is not closed by a name and \"}\" (write $${ for a literal ${)".to_string());
                    out.push_str("${");
                    rest = after;
                }
            }
        } else {
            out.push('$');
            rest = &tail[1..];
        }
    }
    out.push_str(rest);
    if errors.is_empty() {
        Ok(out)
    } else {
        Err(errors.join("; "))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn vars() -> BTreeMap<String, String> {
        BTreeMap::from([("region".to_string(), "eu-west-1".to_string())])
    }

    #[test]
    fn references_are_replaced_and_dollars_kept() {
        assert_eq!(
            substitute("a ${region} $5 $${x}", &vars()).unwrap(),
            "a eu-west-1 $5 ${x}"
        );
    }

    #[test]
    fn an_unknown_variable_is_named() {
        assert_eq!(
            substitute("${nope}", &vars()).unwrap_err(),
            "unknown variable ${nope}: give it a value in [vars] or with --var nope=VALUE"
        );
    }

    #[test]
    fn assignments() {
        assert_eq!(parse_assignment("a=b=c").unwrap(), ("a".into(), "b=c".into()));
        assert!(parse_assignment("=x").is_err());
        assert!(parse_assignment("novalue").is_err());
    }
}
