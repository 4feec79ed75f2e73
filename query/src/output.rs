//! Result rows to text: an aligned table for people, NDJSON / JSON / CSV for programs.

use std::io::{self, Write};

use crate::value::Value;

/// How results are printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Table,
    Ndjson,
    Json,
    Csv,
}

impl Format {
    pub fn from_name(name: &str) -> Option<Format> {
        match name {
            "table" => Some(Format::Table),
            "ndjson" => Some(Format::Ndjson),
            "json" => Some(Format::Json),
            "csv" => Some(Format::Csv),
            _ => None,
        }
    }
}

/// A query's answer: named columns and rows of optional values in column order.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ResultSet {
    pub columns: Vec<String>,
    pub rows: Vec<Vec<Option<Value>>>,
}

/// Writes `result` to `out` in `format`.
pub fn write(result: &ResultSet, format: Format, out: &mut dyn Write) -> io::Result<()> {
    match format {
        Format::Table => write_table(result, out),
        Format::Ndjson => {
            for row in &result.rows {
                writeln!(out, "{}", row_object(&result.columns, row))?;
            }
            Ok(())
        }
        Format::Json => {
            let rows: Vec<serde_json::Value> = result
                .rows
                .iter()
                .map(|r| row_object(&result.columns, r))
                .collect();
            let text = serde_json::to_string_pretty(&rows).map_err(io::Error::other)?;
            writeln!(out, "{text}")
        }
        Format::Csv => write_csv(result, out),
    }
}

/// One row as a JSON object: columns in order, absent values omitted, numbers as numbers and
/// times as their display text.
pub fn row_object(columns: &[String], row: &[Option<Value>]) -> serde_json::Value {
    let mut object = serde_json::Map::new();
    for (name, value) in columns.iter().zip(row) {
        if let Some(value) = value {
            object.insert(name.clone(), value.to_json());
        }
    }
    serde_json::Value::Object(object)
}

fn write_csv(result: &ResultSet, out: &mut dyn Write) -> io::Result<()> {
    let header: Vec<String> = result.columns.iter().map(|c| csv_field(c)).collect();
    writeln!(out, "{}", header.join(","))?;
    for row in &result.rows {
        let fields: Vec<String> = row
            .iter()
            .map(|v| v.as_ref().map_or(String::new(), |v| csv_field(&v.to_string())))
            .collect();
        writeln!(out, "{}", fields.join(","))?;
    }
    Ok(())
}

fn csv_field(text: &str) -> String {
    if text.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text.to_string()
    }
}

/// Widest a table cell gets before it is cut with `…` (the JSON formats never cut).
const MAX_CELL_CHARS: usize = 200;

fn write_table(result: &ResultSet, out: &mut dyn Write) -> io::Result<()> {
    write_table_within(result, None, out)
}

/// Between two columns of a table.
const COLUMN_GAP: &str = " │ ";

/// A column is not narrowed below this many characters (its cells then end in `…`).
const MIN_FITTED_COLUMN: usize = 6;

/// Writes `result` as an aligned table; with `width`, wide columns are narrowed (their long
/// cells cut with `…`) so that rows fit in that many characters where the column count allows.
pub fn write_table_within(result: &ResultSet, width: Option<usize>, out: &mut dyn Write) -> io::Result<()> {
    let cells: Vec<Vec<String>> = result
        .rows
        .iter()
        .map(|row| {
            row.iter()
                .map(|v| v.as_ref().map_or(String::new(), |v| table_cell(&v.to_string())))
                .collect()
        })
        .collect();
    let mut widths: Vec<usize> = result.columns.iter().map(|c| columns_of(c)).collect();
    for row in &cells {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(columns_of(cell));
        }
    }
    if let Some(width) = width {
        fit_widths(&mut widths, width);
    }
    let line = |out: &mut dyn Write, items: &[String]| -> io::Result<()> {
        let padded: Vec<String> = items
            .iter()
            .zip(&widths)
            .map(|(item, w)| {
                let item = cut_to(item, *w);
                let pad = w.saturating_sub(columns_of(&item));
                format!("{item}{}", " ".repeat(pad))
            })
            .collect();
        writeln!(out, "{}", padded.join(COLUMN_GAP).trim_end())
    };
    line(out, &result.columns)?;
    let rule: Vec<String> = widths.iter().map(|w| "─".repeat(*w)).collect();
    writeln!(out, "{}", rule.join("─┼─"))?;
    for row in &cells {
        line(out, row)?;
    }
    Ok(())
}

/// Narrows the widest columns, all to one cap, until the row fits in `width` characters (or
/// every narrowed column is at [`MIN_FITTED_COLUMN`]); the characters left under the cap go to
/// the leftmost narrowed columns.
fn fit_widths(widths: &mut [usize], width: usize) {
    let gaps = COLUMN_GAP.chars().count() * widths.len().saturating_sub(1);
    let budget = width.saturating_sub(gaps);
    if widths.iter().sum::<usize>() <= budget {
        return;
    }
    let natural = widths.to_vec();
    let used = |cap: usize| natural.iter().map(|w| (*w).min(cap)).sum::<usize>();
    // The largest cap that fits (binary search: `used` grows with the cap).
    let (mut low, mut high) = (MIN_FITTED_COLUMN, natural.iter().copied().max().unwrap_or(0));
    while low < high {
        let mid = (low + high).div_ceil(2);
        if used(mid) <= budget {
            low = mid;
        } else {
            high = mid - 1;
        }
    }
    let cap = low;
    let mut spare = budget.saturating_sub(used(cap));
    for (w, natural) in widths.iter_mut().zip(&natural) {
        *w = (*natural).min(cap);
        if *natural > cap && spare > 0 {
            *w += 1;
            spare -= 1;
        }
    }
}

/// The screen columns `text` takes (wide CJK and emoji characters take two, combining marks
/// none).
fn columns_of(text: &str) -> usize {
    unicode_width::UnicodeWidthStr::width(text)
}

/// `text` in at most `width` screen columns: cut with `…` when wider.
fn cut_to(text: &str, width: usize) -> std::borrow::Cow<'_, str> {
    if columns_of(text) <= width {
        return std::borrow::Cow::Borrowed(text);
    }
    let room = width.saturating_sub(1);
    let mut used = 0;
    let mut cut = String::new();
    for ch in text.chars() {
        let w = unicode_width::UnicodeWidthChar::width(ch).unwrap_or(0);
        if used + w > room {
            break;
        }
        used += w;
        cut.push(ch);
    }
    cut.push('…');
    std::borrow::Cow::Owned(cut)
}

/// A cell's text on one line: control characters shown as escapes, long text cut.
fn table_cell(text: &str) -> String {
    let mut cell = String::with_capacity(text.len().min(MAX_CELL_CHARS + 4));
    for (count, ch) in text.chars().enumerate() {
        if count == MAX_CELL_CHARS {
            cell.push('…');
            break;
        }
        match ch {
            '\n' => cell.push_str("\\n"),
            '\t' => cell.push_str("\\t"),
            '\r' => cell.push_str("\\r"),
            c if c.is_control() => cell.push_str(&c.escape_unicode().to_string()),
            c => cell.push(c),
        }
    }
    cell
}

#[cfg(test)]
mod tests {
    use super::{write, Format, ResultSet};
    use crate::value::Value;

    fn sample() -> ResultSet {
        ResultSet {
            columns: vec!["@timestamp".into(), "status".into(), "msg".into()],
            rows: vec![
                vec![
                    Some(Value::Time(1_709_251_200_000)),
                    Some(Value::Num(200.0)),
                    Some(Value::str("ok, \"fine\"")),
                ],
                vec![Some(Value::Time(1_709_251_201_500)), None, Some(Value::str("x"))],
            ],
        }
    }

    fn render(format: Format) -> String {
        let mut out = Vec::new();
        write(&sample(), format, &mut out).unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn ndjson_keeps_column_order_numbers_and_omits_absent_values() {
        assert_eq!(
            render(Format::Ndjson),
            "{\"@timestamp\":\"2024-03-01 00:00:00.000\",\"status\":200,\"msg\":\"ok, \\\"fine\\\"\"}\n{\"@timestamp\":\"2024-03-01 00:00:01.500\",\"msg\":\"x\"}\n"
        );
    }

    #[test]
    fn csv_quotes_what_needs_quoting() {
        assert_eq!(
            render(Format::Csv),
            "@timestamp,status,msg\n2024-03-01 00:00:00.000,200,\"ok, \"\"fine\"\"\"\n2024-03-01 00:00:01.500,,x\n"
        );
    }

    #[test]
    fn table_aligns_columns() {
        assert_eq!(
            render(Format::Table),
            "@timestamp              │ status │ msg\n────────────────────────┼────────┼───────────\n2024-03-01 00:00:00.000 │ 200    │ ok, \"fine\"\n2024-03-01 00:00:01.500 │        │ x\n"
        );
    }

    #[test]
    fn wide_characters_count_as_the_two_screen_columns_they_take() {
        let result = ResultSet {
            columns: vec!["who".into(), "msg".into()],
            rows: vec![
                vec![
                    Some(Value::str("山田")),
                    Some(Value::str("注文を受け付けました🎉".repeat(3))),
                ],
                vec![Some(Value::str("ann")), Some(Value::str("ok"))],
            ],
        };
        let mut out = Vec::new();
        super::write_table_within(&result, Some(30), &mut out).unwrap();
        let text = String::from_utf8(out).unwrap();
        for line in text.lines() {
            assert!(
                super::columns_of(line) <= 30,
                "{line:?} takes {}",
                super::columns_of(line)
            );
        }
        let lines: Vec<&str> = text.lines().collect();
        // Columns line up on screen: the separator sits at the same screen column on each row.
        let bar_at = |l: &str| super::columns_of(&l[..l.find('│').unwrap_or(l.len())]);
        assert_eq!(bar_at(lines[2]), bar_at(lines[3]), "{text}");
        assert!(lines[2].ends_with('…'), "{text}");
    }

    #[test]
    fn a_table_wider_than_the_terminal_is_fitted_with_ellipses() {
        let result = ResultSet {
            columns: vec!["level".into(), "message".into(), "n".into()],
            rows: vec![
                vec![
                    Some(Value::str("ERROR")),
                    Some(Value::str("x".repeat(100))),
                    Some(Value::str("1")),
                ],
                vec![
                    Some(Value::str("INFO")),
                    Some(Value::str("short")),
                    Some(Value::str("22")),
                ],
            ],
        };
        let mut out = Vec::new();
        super::write_table_within(&result, Some(40), &mut out).unwrap();
        let text = String::from_utf8(out).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert!(lines.iter().all(|l| l.chars().count() <= 40), "{text}");
        assert!(lines.iter().all(|l| super::columns_of(l) <= 40), "{text}");
        assert_eq!(
            lines[3].chars().count(),
            40,
            "the widest column takes what is left: {text}"
        );
        assert_eq!(lines[2], format!("ERROR │ {}… │ 1", "x".repeat(26)));
        assert_eq!(lines[3], format!("INFO  │ short{} │ 22", " ".repeat(22)));
        // Wide enough, or no width: the table as it is.
        let mut wide = Vec::new();
        super::write_table_within(&result, Some(500), &mut wide).unwrap();
        let mut plain = Vec::new();
        write(&result, Format::Table, &mut plain).unwrap();
        assert_eq!(wide, plain);
        assert!(String::from_utf8(plain).unwrap().contains(&"x".repeat(100)));
    }

    #[test]
    fn too_many_columns_for_the_width_keep_a_minimum_each() {
        let columns: Vec<String> = (0..20).map(|i| format!("column{i}")).collect();
        let row = columns.iter().map(|_| Some(Value::str("abcdefghij"))).collect();
        let result = ResultSet {
            columns,
            rows: vec![row],
        };
        let mut out = Vec::new();
        super::write_table_within(&result, Some(30), &mut out).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert!(
            text.lines().nth(2).unwrap().starts_with("abcde… │ abcde… │"),
            "{text}"
        );
    }
}
