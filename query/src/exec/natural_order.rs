//! The service's sort order ("updated natural sort"): every non-number sorts before every number;
//! numbers compare numerically; other strings compare run by run, digit runs by length then value,
//! other runs by code point. Nulls sort after everything, in both directions (our choice; the
//! service's is undocumented).

use std::cmp::Ordering;

use crate::value::Value;

/// Compares two values in ascending order.
pub fn natural_cmp(left: &Value, right: &Value) -> Ordering {
    natural_cmp_known(left, sort_number(left), right, sort_number(right))
}

/// [`natural_cmp`] with each side's [`sort_number`] already worked out (a sort of many values
/// works each out once, not once per comparison).
pub fn natural_cmp_known(
    left: &Value,
    left_number: Option<f64>,
    right: &Value,
    right_number: Option<f64>,
) -> Ordering {
    match (left_number, right_number) {
        (Some(x), Some(y)) => crate::value::cmp_numbers(left, x, right, y).then_with(|| {
            // One number, or one time, is one text: no need to write both out.
            let same_value = match (left, right) {
                (Value::Num(p), Value::Num(q)) => p.to_bits() == q.to_bits(),
                (Value::Time(p), Value::Time(q)) => p == q,
                _ => false,
            };
            if same_value {
                return Ordering::Equal;
            }
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

/// The number a value sorts as, if it sorts among the numbers.
pub fn sort_number(v: &Value) -> Option<f64> {
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

/// Strings compared run by run (alternating runs of ASCII digits and of other bytes): two digit
/// runs by length, then value; other runs byte by byte. Runs before the first byte that differs
/// are equal, so only the runs there are looked at.
fn natural_str_cmp(left: &str, right: &str) -> Ordering {
    let (a, b) = (left.as_bytes(), right.as_bytes());
    let Some(p) = a.iter().zip(b).position(|(l, r)| l != r).or_else(|| {
        // One is a prefix of the other (or they are equal).
        (a.len() != b.len()).then_some(a.len().min(b.len()))
    }) else {
        return Ordering::Equal;
    };
    let digit = |s: &[u8], i: usize| s.get(i).is_some_and(u8::is_ascii_digit);
    let run_end = |s: &[u8], from: usize, digits: bool| {
        from + s[from..]
            .iter()
            .take_while(|c| c.is_ascii_digit() == digits)
            .count()
    };
    if p > 0 {
        // The run holding byte p-1 starts at the same place on both sides.
        let digits = a[p - 1].is_ascii_digit();
        let start = a[..p]
            .iter()
            .rposition(|c| c.is_ascii_digit() != digits)
            .map_or(0, |i| i + 1);
        let (a_end, b_end) = (run_end(a, p, digits), run_end(b, p, digits));
        if digits {
            let by_length = (a_end - start).cmp(&(b_end - start));
            if by_length.is_ne() {
                return by_length;
            }
            if a_end > p {
                // Digit runs of one length: the first digit that differs decides.
                return a[p].cmp(&b[p]);
            }
        } else {
            match (a_end > p, b_end > p) {
                (true, true) => return a[p].cmp(&b[p]),
                (false, true) => return Ordering::Less,
                (true, false) => return Ordering::Greater,
                (false, false) => {}
            }
        }
        // The runs are equal and both end at p: the next runs start there.
    }
    match (a.get(p), b.get(p)) {
        (None, _) => Ordering::Less,
        (_, None) => Ordering::Greater,
        (Some(left_byte), Some(right_byte)) => {
            if digit(a, p) && digit(b, p) {
                (run_end(a, p, true) - p)
                    .cmp(&(run_end(b, p, true) - p))
                    .then(left_byte.cmp(right_byte))
            } else {
                left_byte.cmp(right_byte)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::natural_cmp;
    use crate::value::Value;
    use std::cmp::Ordering;

    /// The definition, run by run: what the shortcut above is tested against.
    fn natural_str_cmp_by_runs(left: &str, right: &str) -> Ordering {
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

    #[test]
    fn comparing_at_the_first_difference_matches_comparing_run_by_run() {
        let alphabet = [b'0', b'1', b'9', b'a', b'b', b'-', b'.', b'!', b'~', b' '];
        let mut rng = crate::test_rng::Rng(0x2545_f491_4f6c_dd1d);
        let mut next = |n: usize| rng.below(n);
        let mut strings: Vec<String> = (0..400)
            .map(|_| {
                (0..next(7))
                    .map(|_| char::from(alphabet[next(alphabet.len())]))
                    .collect()
            })
            .collect();
        // Pairs sharing prefixes, where runs end at the first difference.
        for i in 0..200 {
            let mut s = strings[i].clone();
            s.push(char::from(alphabet[next(alphabet.len())]));
            strings.push(s);
        }
        for x in &strings {
            for y in &strings {
                assert_eq!(
                    super::natural_str_cmp(x, y),
                    natural_str_cmp_by_runs(x, y),
                    "{x:?} {y:?}"
                );
            }
        }
    }

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
