//! Numeric functions (section 4.2). Arguments convert with `Value::as_number`, so a string field
//! holding a number value computes as that number; anything else gives no value.

use super::{number, to_i64, FnContext, ScalarFunction};
use crate::value::Value;

pub(super) const FUNCTIONS: &[ScalarFunction] = &[
    unary("abs", abs),
    unary("ceil", ceil),
    unary("floor", floor),
    ScalarFunction {
        name: "greatest",
        min_args: 1,
        max_args: None,
        call: greatest,
    },
    ScalarFunction {
        name: "least",
        min_args: 1,
        max_args: None,
        call: least,
    },
    unary("log", log),
    unary("sqrt", sqrt),
    ScalarFunction {
        name: "round",
        min_args: 1,
        max_args: Some(2),
        call: round,
    },
    ScalarFunction {
        name: "haversine",
        min_args: 4,
        max_args: Some(4),
        call: haversine,
    },
    unary("toNumber", to_double),
    unary("toInt", to_int),
    unary("toLong", to_long),
    unary("toDouble", to_double),
];

const fn unary(name: &'static str, call: super::ScalarImpl) -> ScalarFunction {
    ScalarFunction {
        name,
        min_args: 1,
        max_args: Some(1),
        call,
    }
}

/// Mean Earth radius used by `haversine`, km.
const EARTH_RADIUS_KM: f64 = 6371.0;

fn abs(_: &FnContext, args: &[Option<Value>]) -> Option<Value> {
    Value::num(number(args, 0)?.abs())
}

fn ceil(_: &FnContext, args: &[Option<Value>]) -> Option<Value> {
    Value::num(number(args, 0)?.ceil())
}

fn floor(_: &FnContext, args: &[Option<Value>]) -> Option<Value> {
    Value::num(number(args, 0)?.floor())
}

/// The numeric arguments, skipping missing and non-numeric ones.
fn numeric_args(args: &[Option<Value>]) -> impl Iterator<Item = f64> + '_ {
    args.iter().filter_map(|a| a.as_ref()?.as_number())
}

fn greatest(_: &FnContext, args: &[Option<Value>]) -> Option<Value> {
    Value::num(numeric_args(args).reduce(f64::max)?)
}

fn least(_: &FnContext, args: &[Option<Value>]) -> Option<Value> {
    Value::num(numeric_args(args).reduce(f64::min)?)
}

fn log(_: &FnContext, args: &[Option<Value>]) -> Option<Value> {
    let x = number(args, 0)?;
    // UNSURE: the service's result for log(0) / log(negative); no value is the safe reading.
    if x <= 0.0 {
        return None;
    }
    Value::num(x.ln())
}

fn sqrt(_: &FnContext, args: &[Option<Value>]) -> Option<Value> {
    let x = number(args, 0)?;
    if x < 0.0 {
        return None;
    }
    Value::num(x.sqrt())
}

fn round(_: &FnContext, args: &[Option<Value>]) -> Option<Value> {
    let x = number(args, 0)?;
    let digits = if args.len() > 1 {
        number(args, 1)?.trunc()
    } else {
        0.0
    };
    // Beyond ±400 digits every double is already exact or rounds to zero; the clamp keeps the
    // `as` cast below in range.
    Value::num(round_decimal(x, digits.clamp(-400.0, 400.0) as i32))
}

/// Rounds `x` to `digits` decimals, half away from zero, on the shortest decimal form of `x`
/// (so `round(1.005, 2)` is 1.01, as a reader of the log expects, not 1.0 as the binary value
/// 1.00499999… would give). Negative `digits` round to tens, hundreds, ….
// UNSURE: the service's rounding mode (half-up vs half-even); half away from zero is documented
// for Java's Math.round and BigDecimal HALF_UP, the likeliest implementations.
fn round_decimal(x: f64, digits: i32) -> f64 {
    if !x.is_finite() || x == 0.0 {
        return x;
    }
    // `{:e}` prints the shortest digits that read back to `x`: "1.005e0", "2.567e-3".
    let sci = format!("{:e}", x.abs());
    let Some((mantissa, exponent)) = sci.split_once('e') else {
        return x;
    };
    let Ok(exponent) = exponent.parse::<i32>() else {
        return x;
    };
    let mantissa_digits: Vec<u8> = mantissa.bytes().filter(u8::is_ascii_digit).collect();
    // Digit i has place value 10^(exponent - i); keep those with place ≥ 10^-digits.
    let kept = i64::from(exponent) + i64::from(digits) + 1;
    let Ok(kept) = usize::try_from(kept) else {
        // Every digit is below half a unit of the last kept place.
        return 0.0_f64.copysign(x);
    };
    let Some(&first_dropped) = mantissa_digits.get(kept) else {
        return x; // Nothing to drop.
    };
    let mut units: u64 = 0;
    for d in mantissa_digits.iter().take(kept) {
        // At most 17 significant digits: fits in u64.
        units = units * 10 + u64::from(d - b'0');
    }
    if first_dropped >= b'5' {
        units += 1;
    }
    // units × 10^-digits, parsed so the result is the double nearest the decimal.
    format!("{units}e{}", -digits)
        .parse::<f64>()
        .map_or(x, |r| r.copysign(x))
}

fn haversine(_: &FnContext, args: &[Option<Value>]) -> Option<Value> {
    let lat1 = number(args, 0)?.to_radians();
    let lon1 = number(args, 1)?.to_radians();
    let lat2 = number(args, 2)?.to_radians();
    let lon2 = number(args, 3)?.to_radians();
    let h =
        ((lat2 - lat1) / 2.0).sin().powi(2) + lat1.cos() * lat2.cos() * ((lon2 - lon1) / 2.0).sin().powi(2);
    // Rounding can push h a hair past 1 for antipodal points; asin would then be NaN.
    Value::num(2.0 * EARTH_RADIUS_KM * h.clamp(0.0, 1.0).sqrt().asin())
}

fn to_double(_: &FnContext, args: &[Option<Value>]) -> Option<Value> {
    Value::num(number(args, 0)?)
}

fn to_int(_: &FnContext, args: &[Option<Value>]) -> Option<Value> {
    // UNSURE: out-of-range toInt could wrap like a Java (int) cast; no value is the safer reading.
    let n = i32::try_from(to_i64(number(args, 0)?)?).ok()?;
    Some(Value::Num(f64::from(n)))
}

fn to_long(_: &FnContext, args: &[Option<Value>]) -> Option<Value> {
    // Whole numbers past 2^53 print as the nearest double; that is what a double-based engine shows.
    Value::num(to_i64(number(args, 0)?)? as f64)
}

#[cfg(test)]
mod tests {
    use super::super::tests::{b, call, n, s};
    use crate::value::Value;

    #[test]
    fn abs_ceil_floor_of_numbers_and_number_strings() {
        assert_eq!(call("abs", &[n(-5.0)]), n(5.0));
        assert_eq!(call("abs", &[s("-2.5")]), n(2.5));
        assert_eq!(call("ceil", &[n(1.2)]), n(2.0));
        assert_eq!(call("ceil", &[n(-1.2)]), n(-1.0));
        assert_eq!(call("floor", &[n(1.8)]), n(1.0));
        assert_eq!(call("floor", &[s("-1.2")]), n(-2.0));
    }

    #[test]
    fn numeric_functions_propagate_missing_and_non_numbers() {
        for name in [
            "abs", "ceil", "floor", "log", "sqrt", "round", "toNumber", "toInt", "toLong", "toDouble",
        ] {
            assert_eq!(call(name, &[None]), None, "{name}");
            assert_eq!(call(name, &[s("abc")]), None, "{name}");
            assert_eq!(
                call(name, &[Some(Value::List(std::sync::Arc::new(vec![])))]),
                None,
                "{name}"
            );
        }
        assert_eq!(call("haversine", &[n(1.0), None, n(1.0), n(1.0)]), None);
    }

    #[test]
    fn greatest_and_least_skip_missing_and_non_numeric_arguments() {
        assert_eq!(call("greatest", &[n(1.0), None, s("7"), s("x"), n(3.0)]), n(7.0));
        assert_eq!(call("least", &[n(1.0), None, s("-7"), s("x"), n(3.0)]), n(-7.0));
        assert_eq!(call("greatest", &[None, s("x")]), None);
        assert_eq!(call("least", &[None]), None);
        assert_eq!(call("greatest", &[n(4.0)]), n(4.0));
    }

    #[test]
    fn log_is_natural_and_undefined_at_or_below_zero() {
        assert_eq!(call("log", &[n(1.0)]), n(0.0));
        assert_eq!(call("log", &[n(std::f64::consts::E)]), n(1.0));
        assert_eq!(call("log", &[n(0.0)]), None);
        assert_eq!(call("log", &[n(-3.0)]), None);
    }

    #[test]
    fn sqrt_of_negative_is_no_value() {
        assert_eq!(call("sqrt", &[n(16.0)]), n(4.0));
        assert_eq!(call("sqrt", &[s("2.25")]), n(1.5));
        assert_eq!(call("sqrt", &[n(-1.0)]), None);
    }

    #[test]
    fn round_to_digits_matches_the_documented_example() {
        assert_eq!(call("round", &[n(2.567), n(2.0)]), n(2.57));
        assert_eq!(call("round", &[n(2.567)]), n(3.0));
        assert_eq!(call("round", &[n(1234.5678), n(-2.0)]), n(1200.0));
        assert_eq!(call("round", &[n(1.005), n(2.0)]), n(1.01));
        assert_eq!(call("round", &[n(0.004), n(2.0)]), n(0.0));
        assert_eq!(call("round", &[n(0.3), n(5.0)]), n(0.3));
        assert_eq!(call("round", &[n(99.96), n(1.0)]), n(100.0));
        assert_eq!(call("round", &[n(1.5), None]), None);
    }

    #[test]
    fn round_halves_go_away_from_zero() {
        assert_eq!(call("round", &[n(2.5)]), n(3.0));
        assert_eq!(call("round", &[n(-2.5)]), n(-3.0));
        assert_eq!(call("round", &[n(0.5)]), n(1.0));
        assert_eq!(call("round", &[n(-0.125), n(2.0)]), n(-0.13));
        assert_eq!(call("round", &[n(0.499_999_999_999_999_94)]), n(0.0));
    }

    /// The haversine distance of the arguments, in whole metres.
    fn distance_m(args: &[Option<Value>]) -> i64 {
        let Some(Value::Num(km)) = call("haversine", args) else {
            panic!("no distance for {args:?}");
        };
        (km * 1000.0).round() as i64
    }

    #[test]
    fn haversine_is_great_circle_km() {
        // A quarter and a half of the equator: 6371 × π/2 and 6371 × π.
        assert_eq!(distance_m(&[n(0.0), n(0.0), n(0.0), n(90.0)]), 10_007_543);
        assert_eq!(distance_m(&[n(0.0), n(0.0), n(0.0), n(180.0)]), 20_015_087);
        assert_eq!(distance_m(&[n(90.0), n(0.0), n(-90.0), n(0.0)]), 20_015_087);
        assert_eq!(call("haversine", &[n(10.0), n(20.0), n(10.0), n(20.0)]), n(0.0));
        // Paris to London, with a number string.
        assert_eq!(
            distance_m(&[n(48.8566), n(2.3522), n(51.5074), s("-0.1278")]),
            343_556
        );
    }

    #[test]
    fn to_number_and_to_double_convert_number_strings() {
        assert_eq!(call("toNumber", &[s(" 42.5 ")]), n(42.5));
        assert_eq!(call("toDouble", &[s("1e3")]), n(1000.0));
        assert_eq!(call("toNumber", &[b(true)]), n(1.0));
        assert_eq!(call("toNumber", &[Some(Value::Time(1_000))]), n(1000.0));
        assert_eq!(call("toNumber", &[s("12ms")]), None);
    }

    #[test]
    fn to_int_truncates_within_32_bits() {
        assert_eq!(call("toInt", &[n(3.9)]), n(3.0));
        assert_eq!(call("toInt", &[s("-3.9")]), n(-3.0));
        assert_eq!(call("toInt", &[n(2_147_483_647.0)]), n(2_147_483_647.0));
        assert_eq!(call("toInt", &[n(-2_147_483_648.0)]), n(-2_147_483_648.0));
        assert_eq!(call("toInt", &[n(2_147_483_648.0)]), None);
    }

    #[test]
    fn to_long_truncates_within_64_bits() {
        assert_eq!(call("toLong", &[n(-7.5)]), n(-7.0));
        assert_eq!(call("toLong", &[s("3000000000.9")]), n(3_000_000_000.0));
        assert_eq!(call("toLong", &[n(1e19)]), None);
    }
}
