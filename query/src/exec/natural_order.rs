//! The service's sort order ("updated natural sort"): every non-number sorts before every number;
//! numbers compare numerically; other strings compare run by run, digit runs by length then value,
//! other runs by code point. Nulls sort after everything, in both directions (our choice; the
//! service's is undocumented).

use std::cmp::Ordering;

use crate::value::Value;

/// Compares two values in ascending order.
pub fn natural_cmp(left: &Value, right: &Value) -> Ordering {
    match (number_of(left), number_of(right)) {
        (Some(x), Some(y)) => crate::value::cmp_numbers(left, x, right, y).then_with(|| {
            match (left.as_text(), right.as_text()) {
                (Some(p), Some(q)) => p.cmp(&q),
                _ => Ordering::Equal,
            }
        }),
        (Some(_), None) => Ordering::Greater,
        (None, Some(_)) => Ordering::Less,
        (None, None) => match (left.as_text(), right.as_text()) {
            (Some(x), Some(y)) => natural_str_cmp(&x, &y),
            (Some(_), None) => Ordering::Less,
            (None, Some(_)) => Ordering::Greater,
            (None, None) => Ordering::Equal,
        },
    }
}

fn number_of(v: &Value) -> Option<f64> {
    match v {
        Value::List(_) | Value::Map(_) => None,
        other => other.as_number(),
    }
}

/// Compares optional values ascending, nulls last; `descending` reverses only the non-null order.
pub fn cmp_nulls_last(left: Option<&Value>, right: Option<&Value>, descending: bool) -> Ordering {
    match (left, right) {
        (Some(x), Some(y)) => {
            let o = natural_cmp(x, y);
            if descending {
                o.reverse()
            } else {
                o
            }
        }
        (Some(_), None) => Ordering::Less,
        (None, Some(_)) => Ordering::Greater,
        (None, None) => Ordering::Equal,
    }
}

fn natural_str_cmp(left: &str, right: &str) -> Ordering {
    let mut a_runs = Runs { rest: left };
    let mut b_runs = Runs { rest: right };
    loop {
        match (a_runs.next(), b_runs.next()) {
            (None, None) => return Ordering::Equal,
            (None, Some(_)) => return Ordering::Less,
            (Some(_), None) => return Ordering::Greater,
            (Some(x), Some(y)) => {
                let x_digits = x.as_bytes()[0].is_ascii_digit();
                let y_digits = y.as_bytes()[0].is_ascii_digit();
                let o = if x_digits && y_digits {
                    x.len().cmp(&y.len()).then_with(|| x.cmp(y))
                } else {
                    x.cmp(y)
                };
                if o != Ordering::Equal {
                    return o;
                }
            }
        }
    }
}

/// Alternating runs of ASCII digits and of other characters.
struct Runs<'a> {
    rest: &'a str,
}

impl<'a> Iterator for Runs<'a> {
    type Item = &'a str;
    fn next(&mut self) -> Option<&'a str> {
        let first = *self.rest.as_bytes().first()?;
        let digits = first.is_ascii_digit();
        let end = self
            .rest
            .bytes()
            .position(|b| b.is_ascii_digit() != digits)
            .unwrap_or(self.rest.len());
        let (run, rest) = self.rest.split_at(end);
        self.rest = rest;
        Some(run)
    }
}

#[cfg(test)]
mod tests {
    use super::natural_cmp;
    use crate::value::Value;

    #[test]
    fn documented_example_order_holds() {
        let expected = [
            "!:",
            "#",
            "*%04",
            "0#",
            "5A",
            "111A",
            "2345_",
            "@",
            "@_",
            "A",
            "A9876fghj",
            "a12345hfh",
            "0",
            "01",
            "1",
            "2",
            "3",
        ];
        let mut values: Vec<Value> = expected.iter().rev().map(|s| Value::str(*s)).collect();
        values.sort_by(natural_cmp);
        let got: Vec<String> = values.iter().map(ToString::to_string).collect();
        assert_eq!(got, expected);
    }

    #[test]
    fn numbers_compare_numerically_after_text() {
        let mut values = [
            Value::Num(10.0),
            Value::str("9"),
            Value::str("b"),
            Value::Num(2.5),
        ];
        values.sort_by(natural_cmp);
        let got: Vec<String> = values.iter().map(ToString::to_string).collect();
        assert_eq!(got, ["b", "2.5", "9", "10"]);
    }
}
