//! The row-window commands (`accum`, `autoregress`, `filldown`, `fillmissing`, `addtotals`,
//! `outlier`, `sessionize`): each takes every row that reached it, in order, and returns them
//! changed. They follow Splunk's commands of the same names where CloudWatch's documentation is
//! silent (docs/query-language.md says where).

use std::collections::HashMap;

use crate::exec::eval::{eval, time_ms, Scope};
use crate::exec::pipeline::Row;
use crate::functions::{ceil_to_period, floor_to_period, FnContext};
use crate::plan::rows::{Addtotals, Appendcols, Fillmissing, Outlier, RowStage, Sessionize};
use crate::value::Value;

/// Rows `fillmissing` may add before it gives up with an error.
pub const MAX_FILLED_ROWS: usize = 1_000_000;

/// Runs `stage` over `rows`.
pub fn apply(stage: &RowStage, mut rows: Vec<Row>, functions: &FnContext) -> std::io::Result<Vec<Row>> {
    match stage {
        RowStage::Accum { source, out } => {
            let mut total = 0.0;
            let mut seen = false;
            for row in &mut rows {
                if let Some(n) = row[*source].as_ref().and_then(Value::as_number) {
                    total += n;
                    seen = true;
                }
                // A row without a number shows the sum so far.
                row[*out] = if seen { Value::num(total) } else { None };
            }
        }
        RowStage::Autoregress { source, outs } => {
            let values: Vec<Option<Value>> = rows.iter().map(|r| r[*source].clone()).collect();
            for (i, row) in rows.iter_mut().enumerate() {
                for (lag, slot) in outs {
                    row[*slot] = i.checked_sub(*lag).and_then(|j| values[j].clone());
                }
            }
        }
        RowStage::Filldown(slots) => {
            let mut last: Vec<Option<Value>> = vec![None; slots.len()];
            for row in &mut rows {
                for (k, slot) in slots.iter().enumerate() {
                    match &row[*slot] {
                        Some(v) => last[k] = Some(v.clone()),
                        None => row[*slot].clone_from(&last[k]),
                    }
                }
            }
        }
        RowStage::Fillmissing(fill) => return fillmissing(fill, rows),
        RowStage::Addtotals(totals) => addtotals(totals, &mut rows),
        RowStage::Outlier(outlier) => return Ok(outliers(outlier, rows)),
        RowStage::Sessionize(sessions) => sessionize(sessions, &mut rows, functions),
        RowStage::Appendcols(append) => appendcols(append, &mut rows),
        RowStage::RelevantFields(relevance) => return Ok(crate::exec::relevance::apply(relevance, &rows)),
    }
    Ok(rows)
}

/// A hashable form of a group's values (the series key of `fillmissing`, the identity of
/// `sessionize`).
fn identity(values: &[Option<Value>]) -> String {
    let mut key = String::new();
    for v in values {
        match v {
            Some(v) => {
                let kind = match v {
                    Value::Str(_) => 's',
                    Value::Num(_) => 'n',
                    Value::Bool(_) => 'b',
                    Value::Time(_) => 't',
                    Value::List(_) => 'l',
                    Value::Map(_) => 'm',
                };
                key.push(kind);
                key.push_str(&v.as_text().unwrap_or_default());
            }
            None => key.push('-'),
        }
        key.push('\u{0}');
    }
    key
}

fn fillmissing(fill: &Fillmissing, rows: Vec<Row>) -> std::io::Result<Vec<Row>> {
    let unshift = |t: i64| t.saturating_sub(fill.shift_ms);
    let reshift = |t: i64| t.saturating_add(fill.shift_ms);
    let bins: Vec<i64> = rows
        .iter()
        .filter_map(|r| r[fill.bin].as_ref().and_then(time_ms))
        .collect();
    let (Some(&first), Some(&last)) = (bins.iter().min(), bins.iter().max()) else {
        return Ok(rows);
    };
    // Each series (one per combination of the other `by` values) gets every bin from the
    // first to the last of the whole result.
    let mut series: Vec<(Vec<Option<Value>>, Vec<i64>)> = Vec::new();
    let mut index: HashMap<String, usize> = HashMap::new();
    for row in &rows {
        let others: Vec<Option<Value>> = fill.others.iter().map(|s| row[*s].clone()).collect();
        let key = identity(&others);
        let at = *index.entry(key).or_insert_with(|| {
            series.push((others, Vec::new()));
            series.len() - 1
        });
        if let Some(t) = row[fill.bin].as_ref().and_then(time_ms) {
            series[at].1.push(t);
        }
    }
    let width = rows.first().map_or(0, Vec::len);
    let mut added: Vec<(i64, Row)> = Vec::new();
    for (others, present) in &series {
        let present: std::collections::HashSet<i64> = present.iter().copied().collect();
        let mut t = reshift(floor_to_period(unshift(first), &fill.period));
        while t <= last {
            if !present.contains(&t) {
                if added.len() >= MAX_FILLED_ROWS {
                    return Err(std::io::Error::other(format!(
                        "fillmissing would add more than {MAX_FILLED_ROWS} rows; use a longer bin() period"
                    )));
                }
                let mut row: Row = vec![None; width];
                row[fill.bin] = Some(Value::Time(t));
                for (slot, value) in fill.others.iter().zip(others) {
                    row[*slot].clone_from(value);
                }
                for (slot, value) in &fill.fills {
                    row[*slot] = Some(value.clone());
                }
                added.push((t, row));
            }
            let next = reshift(ceil_to_period(unshift(t).saturating_add(1), &fill.period));
            if next <= t {
                break;
            }
            t = next;
        }
    }
    // Rows by bin, the stats' own rows first within a bin (a stable sort keeps their order).
    let mut all: Vec<(i64, Row)> = rows
        .into_iter()
        .map(|r| (r[fill.bin].as_ref().and_then(time_ms).unwrap_or(i64::MAX), r))
        .collect();
    all.extend(added);
    all.sort_by_key(|(t, _)| *t);
    Ok(all.into_iter().map(|(_, r)| r).collect())
}

/// A number `addtotals` sums: numbers and numeric text, not times or booleans.
fn summable(value: Option<&Value>) -> Option<f64> {
    match value? {
        Value::Time(_) | Value::Bool(_) => None,
        other => other.as_number(),
    }
}

fn addtotals(totals: &Addtotals, rows: &mut Vec<Row>) {
    if let Some(total) = totals.total {
        for row in rows.iter_mut() {
            let sum: Option<f64> = totals
                .fields
                .iter()
                .filter_map(|s| summable(row[*s].as_ref()))
                .fold(None, |acc, n| Some(acc.unwrap_or(0.0) + n));
            row[total] = sum.and_then(Value::num);
        }
    }
    if totals.col {
        let width = rows.first().map_or(0, Vec::len);
        if width == 0 {
            return;
        }
        let mut summary: Row = vec![None; width];
        for slot in totals.fields.iter().chain(totals.total.iter()) {
            let sum: Option<f64> = rows
                .iter()
                .filter_map(|r| summable(r[*slot].as_ref()))
                .fold(None, |acc, n| Some(acc.unwrap_or(0.0) + n));
            summary[*slot] = sum.and_then(Value::num);
        }
        if let Some((slot, label)) = &totals.label {
            summary[*slot] = Some(Value::str(label.as_str()));
        }
        rows.push(summary);
    }
}

/// Tukey's fences: a value below Q1 − param·IQR (with `uselower`) or above Q3 + param·IQR is an
/// outlier; quartiles interpolate linearly between the sorted values of each field.
fn outliers(outlier: &Outlier, mut rows: Vec<Row>) -> Vec<Row> {
    let fences: Vec<Option<(f64, f64)>> = outlier
        .fields
        .iter()
        .map(|slot| {
            let mut values: Vec<f64> = rows
                .iter()
                .filter_map(|r| r[*slot].as_ref().and_then(Value::as_number))
                .collect();
            if values.is_empty() {
                return None;
            }
            values.sort_by(f64::total_cmp);
            let (q1, q3) = (quantile(&values, 0.25), quantile(&values, 0.75));
            let iqr = q3 - q1;
            let low = if outlier.uselower {
                q1 - outlier.param * iqr
            } else {
                f64::NEG_INFINITY
            };
            Some((low, q3 + outlier.param * iqr))
        })
        .collect();
    let outlying = |row: &Row, k: usize, slot: usize| -> Option<f64> {
        let (low, high) = fences[k]?;
        let n = row[slot].as_ref().and_then(Value::as_number)?;
        if n < low {
            Some(low)
        } else if n > high {
            Some(high)
        } else {
            None
        }
    };
    if outlier.remove {
        rows.retain(|row| {
            outlier
                .fields
                .iter()
                .enumerate()
                .all(|(k, slot)| outlying(row, k, *slot).is_none())
        });
        return rows;
    }
    for row in &mut rows {
        let mut marked = false;
        for (k, slot) in outlier.fields.iter().enumerate() {
            if let Some(fence) = outlying(row, k, *slot) {
                row[*slot] = Value::num(fence);
                marked = true;
            }
        }
        if let Some(mark) = outlier.mark {
            row[mark] = Some(Value::Bool(marked));
        }
    }
    rows
}

fn quantile(sorted: &[f64], q: f64) -> f64 {
    let at = q * (sorted.len() - 1) as f64;
    let (low, high) = (at.floor() as usize, at.ceil() as usize);
    let (a, b) = (sorted[low], sorted[high.min(sorted.len() - 1)]);
    a + (b - a) * (at - at.floor())
}

/// Session numbers: per identity (the key values), events in time order; a gap longer than
/// `maxspan` starts a new session. Sessions are numbered 1, 2, … by their first event's time
/// (then by where that event is in the rows). Rows without a time or with an empty key get none.
fn sessionize(sessions: &Sessionize, rows: &mut [Row], functions: &FnContext) {
    // (identity, time, row index) of every row that can be in a session.
    let mut events: Vec<(String, i64, usize)> = Vec::new();
    for (i, row) in rows.iter().enumerate() {
        let scope = Scope {
            row,
            aggregates: &[],
            functions,
            message: None,
        };
        let keys: Vec<Option<Value>> = sessions.keys.iter().map(|k| eval(k, &scope)).collect();
        let Some(time) = row[sessions.time].as_ref().and_then(time_ms) else {
            continue;
        };
        if keys.iter().any(Option::is_none) {
            continue;
        }
        events.push((identity(&keys), time, i));
    }
    events.sort();
    // Each session: (first time, first row index), and its events' rows.
    let mut found: Vec<((i64, usize), Vec<usize>)> = Vec::new();
    let mut previous: Option<(&str, i64)> = None;
    for (id, time, i) in &events {
        let continues = previous.is_some_and(|(p, t)| p == id && time - t <= sessions.maxspan_ms);
        match found.last_mut() {
            Some((_, members)) if continues => members.push(*i),
            _ => found.push(((*time, *i), vec![*i])),
        }
        previous = Some((id, *time));
    }
    found.sort_by_key(|(start, _)| *start);
    for (n, (_, members)) in found.iter().enumerate() {
        for &i in members {
            rows[i][sessions.out] = Value::num((n + 1) as f64);
        }
    }
}

/// Row n takes the subquery's row n's columns (an empty field, or any with `override=true`);
/// subquery rows past the last row become rows of their own.
fn appendcols(append: &Appendcols, rows: &mut Vec<Row>) {
    let Some(extra) = append.query.rows.get() else {
        return;
    };
    let width = rows
        .first()
        .map_or(0, Vec::len)
        .max(append.slots.iter().map(|(_, s)| s + 1).max().unwrap_or(0));
    for (n, values) in extra.iter().take(append.max).enumerate() {
        if n == rows.len() {
            rows.push(vec![None; width]);
        }
        let row = &mut rows[n];
        if row.len() < width {
            row.resize(width, None);
        }
        for (column, slot) in &append.slots {
            let value = values.get(*column).cloned().flatten();
            if value.is_some() && (append.overwrite || row[*slot].is_none()) {
                row[*slot] = value;
            }
        }
    }
}
