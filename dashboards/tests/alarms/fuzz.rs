//! Arbitrary input never panics either parser, and every error points inside its input.

use skywatch_dashboards::alarms::{math, rule};

const MATH_PIECES: &[&str] = &[
    "m1", "e2", "SUM", "AVG", "MIN", "MAX", "METRICS", "FILL", "IF", "ABS", "REPEAT", "RATE", "foo", "(",
    ")", "[", "]", ",", "+", "-", "*", "/", "^", "<", "<=", "==", "!=", ">", ">=", "&&", "||", "AND", "OR",
    "NOT", "!", "1", "2.5", ".5", "1e3", "1e999", "\"m\"", "\"", " ", "é", "\t", "\n", "=", "LINEAR",
];
const RULE_PIECES: &[&str] = &[
    "ALARM",
    "OK",
    "INSUFFICIENT_DATA",
    "AT_LEAST",
    "TRUE",
    "FALSE",
    "AND",
    "OR",
    "NOT",
    "and",
    "(",
    ")",
    ",",
    "\"",
    "\\",
    "a",
    "b c",
    "arn:aws:cloudwatch:us-east-1:1:alarm:x",
    "50%",
    "2",
    "0",
    "99999999999",
    " ",
    "é",
    "\n",
    "%",
];

fn random_text(rng: &mut fastrand::Rng, pieces: &[&str]) -> String {
    let len = rng.usize(0..24);
    (0..len).map(|_| pieces[rng.usize(0..pieces.len())]).collect()
}

fn random_bytes(rng: &mut fastrand::Rng) -> String {
    let len = rng.usize(0..16);
    (0..len)
        .map(|_| char::from_u32(rng.u32(0..0x300)).unwrap_or('x'))
        .collect()
}

#[test]
fn math_parser_never_panics_and_errors_point_inside_the_input() {
    let mut rng = fastrand::Rng::with_seed(19);
    let mut accepted = 0;
    for i in 0..20_000 {
        let text = if i % 4 == 0 {
            random_bytes(&mut rng)
        } else {
            random_text(&mut rng, MATH_PIECES)
        };
        match math::parse(&text) {
            Ok(_) => accepted += 1,
            Err(e) => {
                assert!(
                    e.offset <= text.len() && text.is_char_boundary(e.offset),
                    "{text:?}: {e:?}"
                );
                let rendered = e.render(&text);
                assert!(rendered.contains('^'), "{rendered}");
            }
        }
    }
    assert!(
        accepted > 100,
        "the generator reaches valid expressions too ({accepted})"
    );
}

#[test]
fn rule_parser_never_panics_and_errors_point_inside_the_input() {
    let mut rng = fastrand::Rng::with_seed(1919);
    let mut accepted = 0;
    for i in 0..20_000 {
        let text = if i % 4 == 0 {
            random_bytes(&mut rng)
        } else {
            random_text(&mut rng, RULE_PIECES)
        };
        match rule::parse(&text) {
            Ok(_) => accepted += 1,
            Err(e) => {
                assert!(
                    e.offset <= text.len() && text.is_char_boundary(e.offset),
                    "{text:?}: {e:?}"
                );
                assert!(e.render(&text).contains('^'));
            }
        }
    }
    assert!(
        accepted > 20,
        "the generator reaches valid rules too ({accepted})"
    );
}
