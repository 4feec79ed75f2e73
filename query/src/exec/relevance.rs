//! `relevantfields`: for each field, how differently its values are spread in the rows where
//! the condition holds than in the others (the baseline). A numeric field (at least four in
//! five of its values are numbers) scores the Kolmogorov–Smirnov distance between the two
//! samples and shows both medians; any other field scores the total variation distance
//! between the two value frequencies and names the values most over-represented where the
//! condition holds. Scores run from 0 (same spread) to 1 (nothing shared).

use std::collections::HashMap;

use crate::plan::rows::RelevantFields;
use crate::value::Value;

/// One field's answer: name, score, top contributors, conditional and baseline medians.
type Scored = (String, Option<f64>, Option<String>, Option<f64>, Option<f64>);

/// Values named in @topRelevanceContributors at most.
const TOP_CONTRIBUTORS: usize = 3;

/// Fields compared at most when the query names none (the first ones met in the events).
const MAX_EVERY_FIELD: usize = 100;

pub fn apply(stage: &RelevantFields, rows: &[Vec<Option<Value>>]) -> Vec<Vec<Option<Value>>> {
    let Some(width) = rows.first().map(Vec::len) else {
        return Vec::new();
    };
    let holds: Vec<bool> = rows
        .iter()
        .map(|row| row[stage.condition].as_ref().is_some_and(Value::is_truthy))
        .collect();
    // (field, each row's value): the named slots, or every leaf of each event's JSON.
    let columns: Vec<(String, Vec<Option<Value>>)> = match stage.every_field {
        Some(message) => json_columns(rows, message),
        None => stage
            .fields
            .iter()
            .map(|(name, slot)| (name.clone(), rows.iter().map(|r| r[*slot].clone()).collect()))
            .collect(),
    };
    let mut scored: Vec<Scored> = Vec::new();
    for (name, values) in &columns {
        let (mut inside, mut outside): (Vec<&Value>, Vec<&Value>) = (Vec::new(), Vec::new());
        for (value, holds) in values.iter().zip(&holds) {
            let Some(value) = value.as_ref() else {
                continue;
            };
            if *holds {
                inside.push(value);
            } else {
                outside.push(value);
            }
        }
        let all = inside.len() + outside.len();
        let numbers = inside
            .iter()
            .chain(&outside)
            .filter(|v| v.as_number().is_some())
            .count();
        if all > 0 && numbers * 5 >= all * 4 {
            let mut a: Vec<f64> = inside.iter().filter_map(|v| v.as_number()).collect();
            let mut b: Vec<f64> = outside.iter().filter_map(|v| v.as_number()).collect();
            a.sort_by(f64::total_cmp);
            b.sort_by(f64::total_cmp);
            let score = (!a.is_empty() && !b.is_empty()).then(|| ks_distance(&a, &b));
            scored.push((name.clone(), score, None, median(&a), median(&b)));
        } else {
            let (score, top) = categorical(&inside, &outside);
            scored.push((name.clone(), score, top, None, None));
        }
    }
    scored.sort_by(|x, y| {
        let (a, b) = (x.1.unwrap_or(-1.0), y.1.unwrap_or(-1.0));
        b.total_cmp(&a).then_with(|| x.0.cmp(&y.0))
    });
    scored
        .into_iter()
        .map(|(name, score, top, conditional, baseline)| {
            let mut row = vec![None; width];
            let [field, relevance, contributors, conditional_median, baseline_median] = stage.outputs;
            row[field] = Some(Value::str(name));
            row[relevance] = score.and_then(|s| Value::num((s * 10_000.0).round() / 10_000.0));
            row[contributors] = top.map(Value::str);
            row[conditional_median] = conditional.and_then(Value::num);
            row[baseline_median] = baseline.and_then(Value::num);
            row
        })
        .collect()
}

/// Each JSON leaf of the events' text in `slot` (dotted names, array items by index) as a
/// column, in the order the names are first met, at most [`MAX_EVERY_FIELD`] of them.
fn json_columns(rows: &[Vec<Option<Value>>], slot: usize) -> Vec<(String, Vec<Option<Value>>)> {
    let mut columns: Vec<(String, Vec<Option<Value>>)> = Vec::new();
    let mut index: HashMap<String, usize> = HashMap::new();
    for (r, row) in rows.iter().enumerate() {
        let Some(text) = row[slot].as_ref().and_then(Value::as_text) else {
            continue;
        };
        let Ok(json) = serde_json::from_str::<serde_json::Value>(&text) else {
            continue;
        };
        let mut leaves = Vec::new();
        flatten(&json, String::new(), &mut leaves);
        for (name, value) in leaves {
            let column = match index.get(&name) {
                Some(&c) => c,
                None if columns.len() < MAX_EVERY_FIELD => {
                    index.insert(name.clone(), columns.len());
                    columns.push((name, vec![None; rows.len()]));
                    columns.len() - 1
                }
                None => continue,
            };
            columns[column].1[r] = Some(value);
        }
    }
    columns
}

fn flatten(json: &serde_json::Value, path: String, out: &mut Vec<(String, Value)>) {
    let join = |key: &str| {
        if path.is_empty() {
            key.to_string()
        } else {
            format!("{path}.{key}")
        }
    };
    match json {
        serde_json::Value::Object(members) => {
            for (key, value) in members {
                flatten(value, join(key), out);
            }
        }
        serde_json::Value::Array(items) => {
            for (i, value) in items.iter().enumerate() {
                flatten(value, join(&i.to_string()), out);
            }
        }
        serde_json::Value::Null => {}
        leaf => {
            if let Some(value) = Value::from_json(leaf) {
                out.push((path, value));
            }
        }
    }
}

/// The largest gap between the two samples' cumulative distributions (both sorted).
fn ks_distance(left: &[f64], right: &[f64]) -> f64 {
    let (mut in_left, mut in_right, mut gap) = (0, 0, 0.0f64);
    while in_left < left.len() && in_right < right.len() {
        let at = left[in_left].min(right[in_right]);
        while in_left < left.len() && left[in_left] <= at {
            in_left += 1;
        }
        while in_right < right.len() && right[in_right] <= at {
            in_right += 1;
        }
        let share = |seen: usize, all: &[f64]| seen as f64 / all.len() as f64;
        gap = gap.max((share(in_left, left) - share(in_right, right)).abs());
    }
    gap
}

/// The middle value (the mean of the two middle ones for an even count).
fn median(sorted: &[f64]) -> Option<f64> {
    let n = sorted.len();
    match n {
        0 => None,
        _ if n % 2 == 1 => Some(sorted[n / 2]),
        _ => Some(f64::midpoint(sorted[n / 2 - 1], sorted[n / 2])),
    }
}

/// Total variation distance between the value frequencies, and the values most
/// over-represented inside (`value (x% vs y%)`).
fn categorical(inside: &[&Value], outside: &[&Value]) -> (Option<f64>, Option<String>) {
    if inside.is_empty() || outside.is_empty() {
        return (None, None);
    }
    let share = |values: &[&Value]| -> HashMap<String, f64> {
        let mut counts: HashMap<String, f64> = HashMap::new();
        for v in values {
            *counts
                .entry(v.as_text().unwrap_or_default().into_owned())
                .or_default() += 1.0;
        }
        let n = values.len() as f64;
        for count in counts.values_mut() {
            *count /= n;
        }
        counts
    };
    let (a, b) = (share(inside), share(outside));
    let mut keys: Vec<&String> = a.keys().chain(b.keys()).collect();
    keys.sort();
    keys.dedup();
    let distance = keys
        .iter()
        .map(|k| (a.get(*k).unwrap_or(&0.0) - b.get(*k).unwrap_or(&0.0)).abs())
        .sum::<f64>()
        / 2.0;
    let mut over: Vec<(&String, f64, f64)> = keys
        .iter()
        .map(|k| (*k, *a.get(*k).unwrap_or(&0.0), *b.get(*k).unwrap_or(&0.0)))
        .filter(|(_, x, y)| x > y)
        .collect();
    over.sort_by(|x, y| (y.1 - y.2).total_cmp(&(x.1 - x.2)).then_with(|| x.0.cmp(y.0)));
    let top: Vec<String> = over
        .iter()
        .take(TOP_CONTRIBUTORS)
        .map(|(k, x, y)| format!("{k} ({:.0}% vs {:.0}%)", x * 100.0, y * 100.0))
        .collect();
    (Some(distance), (!top.is_empty()).then(|| top.join(", ")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ks_distance_of_equal_and_disjoint_samples() {
        assert!(ks_distance(&[1.0, 2.0, 3.0], &[1.0, 2.0, 3.0]).abs() < 1e-12);
        assert!((ks_distance(&[1.0, 2.0], &[5.0, 6.0]) - 1.0).abs() < 1e-12);
        assert!((ks_distance(&[1.0, 2.0, 3.0, 4.0], &[3.0, 4.0, 5.0, 6.0]) - 0.5).abs() < 1e-12);
    }

    #[test]
    fn categorical_names_the_over_represented_values() {
        let v = |s: &str| Value::str(s);
        let (a, b) = ([v("x"), v("x"), v("y")], [v("y"), v("y"), v("y"), v("x")]);
        let inside: Vec<&Value> = a.iter().collect();
        let outside: Vec<&Value> = b.iter().collect();
        let (score, top) = categorical(&inside, &outside);
        assert!((score.unwrap() - (2.0 / 3.0 - 0.25)).abs() < 1e-9);
        assert_eq!(top.as_deref(), Some("x (67% vs 25%)"));
    }
}
