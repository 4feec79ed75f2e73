//! `--format chart`: a `stats … by bin()` result drawn at the terminal instead of listed. One
//! panel per series — each combination of the other `by` values, for each number column — with
//! braille dots (2 × 4 per character) joined into a line, the panel's range on its left and the
//! time range under the last panel. Bins a series has no row for are gaps, not zeros. Panels
//! share the time axis, so series line up.

use std::io::{self, Write};

use crate::output::ResultSet;
use crate::value::{format_timestamp, Value};

/// Character rows of a panel when it is the only one, and when there are several.
const ROWS_ALONE: usize = 10;
const ROWS_EACH: usize = 4;
/// Panels drawn at most (the series with the largest totals); the rest are named.
const MAX_PANELS: usize = 12;

/// Why a result cannot be drawn.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotASeries(pub String);

impl std::fmt::Display for NotASeries {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// One line to draw: its name and its points (time, value).
struct Series {
    name: String,
    points: Vec<(i64, f64)>,
}

/// Draws `result` in `width` characters, or says why it is not a time series. `groups`: the
/// columns that are `by` terms (they name series; the other number columns are drawn).
pub fn write_chart(
    result: &ResultSet,
    groups: &[String],
    width: usize,
    out: &mut dyn Write,
) -> io::Result<Result<(), NotASeries>> {
    let series = match series_of(result, groups) {
        Ok(series) => series,
        Err(e) => return Ok(Err(e)),
    };
    let times: Vec<i64> = {
        let mut t: Vec<i64> = series.iter().flat_map(|s| s.points.iter().map(|p| p.0)).collect();
        t.sort_unstable();
        t.dedup();
        t
    };
    let (Some(&first), Some(&last)) = (times.first(), times.last()) else {
        writeln!(out, "(no rows to draw)")?;
        return Ok(Ok(()));
    };
    // The bin width: the smallest step between times.
    let step = times
        .windows(2)
        .map(|w| w[1] - w[0])
        .filter(|d| *d > 0)
        .min()
        .unwrap_or(1);
    let bins = usize::try_from((last - first) / step).unwrap_or(0) + 1;
    let mut ranked: Vec<&Series> = series.iter().collect();
    ranked.sort_by(|a, b| total(b).total_cmp(&total(a)).then_with(|| a.name.cmp(&b.name)));
    let shown = &ranked[..ranked.len().min(MAX_PANELS)];
    let rows = if shown.len() == 1 { ROWS_ALONE } else { ROWS_EACH };
    let labels: Vec<(String, String)> = shown
        .iter()
        .map(|s| {
            let (lo, hi) = range(s);
            (number(hi), number(lo))
        })
        .collect();
    let margin = labels
        .iter()
        .map(|(hi, lo)| hi.chars().count().max(lo.chars().count()))
        .max()
        .unwrap_or(1);
    let cells = width.saturating_sub(margin + 2).max(8);
    for (s, (hi_label, lo_label)) in shown.iter().zip(&labels) {
        writeln!(out, "{}", s.name)?;
        let grid = plot(s, (first, step, bins), cells, rows);
        for (r, line) in grid.iter().enumerate() {
            let label = match r {
                0 => hi_label.as_str(),
                _ if r + 1 == rows => lo_label.as_str(),
                _ => "",
            };
            writeln!(out, "{label:>margin$} ┤{line}")?;
        }
    }
    writeln!(out, "{:>margin$} └{}", "", "─".repeat(cells))?;
    let (start, end) = time_labels(first, last, step);
    let span = cells
        .saturating_sub(start.chars().count())
        .max(end.chars().count() + 1);
    writeln!(out, "{:>margin$}  {start}{end:>span$}", "")?;
    writeln!(out, "{:>margin$}  {bins} bins of {}", "", duration(step))?;
    if ranked.len() > shown.len() {
        let rest: Vec<&str> = ranked[shown.len()..].iter().map(|s| s.name.as_str()).collect();
        writeln!(out, "{} more series not drawn: {}", rest.len(), rest.join(", "))?;
    }
    Ok(Ok(()))
}

/// The series of a result: its time column, the other `by` columns as the series' names, each
/// number column a series of its own.
fn series_of(result: &ResultSet, groups: &[String]) -> Result<Vec<Series>, NotASeries> {
    let column_is = |c: usize, test: &dyn Fn(&Value) -> bool| {
        let mut any = false;
        for row in &result.rows {
            match row.get(c).and_then(Option::as_ref) {
                Some(v) if test(v) => any = true,
                Some(_) => return false,
                None => {}
            }
        }
        any
    };
    let Some(time) = (0..result.columns.len()).find(|&c| column_is(c, &|v| time_of(v).is_some())) else {
        return Err(NotASeries(
            "--format chart draws a time series: a result with a time column, as `stats count(*) by bin(5m)` gives"
                .into(),
        ));
    };
    let is_group = |c: usize| groups.contains(&result.columns[c]);
    let numbers: Vec<usize> = (0..result.columns.len())
        .filter(|&c| {
            c != time && !is_group(c) && column_is(c, &|v| time_of(v).is_none() && v.as_number().is_some())
        })
        .collect();
    // `by` columns other than time name the series; aggregates (numbers) are what is drawn.
    let names: Vec<usize> = (0..result.columns.len())
        .filter(|c| *c != time && !numbers.contains(c))
        .collect();
    if numbers.is_empty() {
        return Err(NotASeries(
            "--format chart draws numbers over time: this result has no number column besides its time"
                .into(),
        ));
    }
    let mut series: Vec<Series> = Vec::new();
    for row in &result.rows {
        let Some(t) = row.get(time).and_then(Option::as_ref).and_then(time_of) else {
            continue;
        };
        let group: Vec<String> = names
            .iter()
            .map(|&c| {
                row.get(c)
                    .and_then(Option::as_ref)
                    .map_or_else(|| "(none)".to_string(), ToString::to_string)
            })
            .collect();
        for &c in &numbers {
            let Some(y) = row.get(c).and_then(Option::as_ref).and_then(Value::as_number) else {
                continue;
            };
            let mut name = group.join(" · ");
            if numbers.len() > 1 || name.is_empty() {
                if !name.is_empty() {
                    name.push_str(" · ");
                }
                name.push_str(&result.columns[c]);
            }
            match series.iter_mut().find(|s| s.name == name) {
                Some(s) => s.points.push((t, y)),
                None => series.push(Series {
                    name,
                    points: vec![(t, y)],
                }),
            }
        }
    }
    for s in &mut series {
        s.points.sort_by_key(|p| p.0);
    }
    Ok(series)
}

/// A time: a time value, or a text in the display form (`2024-03-01 00:05:00.000`, as
/// CloudWatch returns `bin()` values).
fn time_of(v: &Value) -> Option<i64> {
    match v {
        Value::Time(ms) => Some(*ms),
        Value::Str(s) if s.len() == 23 && s.as_bytes().get(10) == Some(&b' ') => {
            crate::event::parse_timestamp_text(s)
        }
        _ => None,
    }
}

fn total(s: &Series) -> f64 {
    s.points.iter().map(|p| p.1.abs()).sum()
}

/// The panel's value range: from 0 (or the lowest value, if below 0) to the highest.
fn range(s: &Series) -> (f64, f64) {
    let lo = s.points.iter().map(|p| p.1).fold(0.0_f64, f64::min);
    let hi = s.points.iter().map(|p| p.1).fold(lo, f64::max);
    (lo, hi)
}

/// The braille rows of one panel `cells` wide and `rows` high.
fn plot(s: &Series, (first, step, bins): (i64, i64, usize), cells: usize, rows: usize) -> Vec<String> {
    let (dots_x, dots_y) = (cells * 2, rows * 4);
    let mut grid = vec![vec![0u8; cells]; rows];
    let (lo, hi) = range(s);
    let span = if hi > lo { hi - lo } else { 1.0 };
    let x_of = |t: i64| {
        let bin = usize::try_from((t - first) / step).unwrap_or(0);
        if bins <= 1 {
            0
        } else {
            bin * (dots_x - 1) / (bins - 1)
        }
    };
    let y_of = |v: f64| {
        let from_bottom = ((v - lo) / span * (dots_y - 1) as f64).round() as usize;
        (dots_y - 1).saturating_sub(from_bottom.min(dots_y - 1))
    };
    let mut set = |x: usize, y: usize| {
        let (cx, cy) = (x / 2, y / 4);
        let bit = match (x % 2, y % 4) {
            (0, 0) => 0x01,
            (0, 1) => 0x02,
            (0, 2) => 0x04,
            (0, _) => 0x40,
            (_, 0) => 0x08,
            (_, 1) => 0x10,
            (_, 2) => 0x20,
            _ => 0x80,
        };
        if let Some(cell) = grid.get_mut(cy).and_then(|r| r.get_mut(cx)) {
            *cell |= bit;
        }
    };
    let mut previous: Option<(usize, usize, i64)> = None;
    for &(t, v) in &s.points {
        let (x, y) = (x_of(t), y_of(v));
        set(x, y);
        // Joined to the point before when it is the bin before (a gap stays a gap).
        if let Some((px, py, pt)) = previous {
            if t - pt == step {
                for (lx, ly) in line_between((px, py), (x, y)) {
                    set(lx, ly);
                }
            }
        }
        previous = Some((x, y, t));
    }
    grid.into_iter()
        .map(|row| {
            row.into_iter()
                .map(|bits| char::from_u32(0x2800 + u32::from(bits)).unwrap_or(' '))
                .collect()
        })
        .collect()
}

/// The dots of a straight line from `a` to `b` (Bresenham's).
fn line_between(a: (usize, usize), b: (usize, usize)) -> Vec<(usize, usize)> {
    let (mut x, mut y) = (a.0 as i64, a.1 as i64);
    let (x1, y1) = (b.0 as i64, b.1 as i64);
    let (dx, dy) = ((x1 - x).abs(), -(y1 - y).abs());
    let (sx, sy) = (if x < x1 { 1 } else { -1 }, if y < y1 { 1 } else { -1 });
    let mut err = dx + dy;
    let mut dots = Vec::new();
    loop {
        dots.push((x.max(0) as usize, y.max(0) as usize));
        if x == x1 && y == y1 {
            return dots;
        }
        let e2 = 2 * err;
        if e2 >= dy {
            err += dy;
            x += sx;
        }
        if e2 <= dx {
            err += dx;
            y += sy;
        }
    }
}

/// The time axis' two ends: the date once, then times (seconds only when bins are shorter than
/// a minute).
fn time_labels(first: i64, last: i64, step: i64) -> (String, String) {
    let full = |ms: i64| format_timestamp(ms);
    let (a, b) = (full(first), full(last));
    let time_len = if step % 60_000 == 0 { 16 } else { 19 };
    let start = a.get(..time_len).unwrap_or(&a).to_string();
    let end = if a.get(..10) == b.get(..10) {
        b.get(11..time_len).unwrap_or(&b).to_string()
    } else {
        b.get(..time_len).unwrap_or(&b).to_string()
    };
    (start, end)
}

/// A value label: whole numbers as they are, others with up to 3 significant decimals.
fn number(v: f64) -> String {
    if v.fract() == 0.0 && v.abs() < 1e15 {
        format!("{}", v as i64)
    } else {
        let text = format!("{v:.3}");
        text.trim_end_matches('0').trim_end_matches('.').to_string()
    }
}

/// `300000` ms as `5m`.
fn duration(ms: i64) -> String {
    for (unit, size) in [("d", 86_400_000), ("h", 3_600_000), ("m", 60_000), ("s", 1000)] {
        if ms >= size && ms % size == 0 {
            return format!("{}{unit}", ms / size);
        }
    }
    format!("{ms}ms")
}

#[cfg(test)]
mod tests {
    use super::write_chart;
    use crate::output::ResultSet;
    use crate::value::Value;

    fn draw(result: &ResultSet, width: usize) -> String {
        let mut out = Vec::new();
        let groups = vec!["bin(5m)".to_string(), "level".to_string()];
        write_chart(result, &groups, width, &mut out).unwrap().unwrap();
        String::from_utf8(out).unwrap()
    }

    const T0: i64 = 1_709_251_200_000;
    const STEP: i64 = 300_000;

    #[test]
    fn one_series_is_one_tall_panel_with_its_range_and_time_axis() {
        let rows = (0..6)
            .map(|i| {
                vec![
                    Some(Value::Time(T0 + i * STEP)),
                    Some(Value::Num((i * 10) as f64)),
                ]
            })
            .collect();
        let result = ResultSet {
            columns: vec!["bin(5m)".into(), "count(*)".into()],
            rows,
        };
        let text = draw(&result, 40);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], "count(*)");
        assert!(lines[1].starts_with("50 ┤"), "{text}");
        assert!(lines[10].starts_with(" 0 ┤"), "{text}");
        assert!(
            text.contains("2024-03-01 00:00") && text.contains(" 00:25\n"),
            "{text}"
        );
        assert!(text.contains("6 bins of 5m"), "{text}");
        // A rising line: the first column's dot is at the bottom, the last column's at the top.
        assert!(
            lines[10].chars().nth(4).is_some_and(|c| c != '\u{2800}'),
            "{text}"
        );
        assert!(lines[1].trim_end().ends_with(|c: char| c != '\u{2800}'), "{text}");
        assert!(text.lines().all(|l| l.chars().count() <= 40), "{text}");
    }

    #[test]
    fn each_group_gets_a_panel_and_missing_bins_are_gaps() {
        let mut rows = Vec::new();
        for i in 0..8 {
            rows.push(vec![
                Some(Value::Time(T0 + i * STEP)),
                Some(Value::str("INFO")),
                Some(Value::Num(100.0)),
            ]);
            if i % 2 == 0 {
                rows.push(vec![
                    Some(Value::Time(T0 + i * STEP)),
                    Some(Value::str("ERROR")),
                    Some(Value::Num(3.0)),
                ]);
            }
        }
        let result = ResultSet {
            columns: vec!["bin(5m)".into(), "level".into(), "n".into()],
            rows,
        };
        let text = draw(&result, 60);
        let info = text.find("INFO").unwrap();
        let error = text.find("ERROR").unwrap();
        assert!(info < error, "the larger series first:\n{text}");
        assert_eq!(text.matches('┤').count(), 8, "two panels of four rows:\n{text}");
    }

    #[test]
    fn a_result_without_a_time_column_is_named_not_drawn() {
        let result = ResultSet {
            columns: vec!["svc".into(), "n".into()],
            rows: vec![vec![Some(Value::str("api")), Some(Value::Num(3.0))]],
        };
        let mut out = Vec::new();
        let why = write_chart(&result, &["svc".to_string()], 80, &mut out)
            .unwrap()
            .unwrap_err();
        assert!(why.0.contains("by bin(5m)"), "{why}");
        assert!(out.is_empty());
    }
}
