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
    let cells: Vec<Vec<String>> = result
        .rows
        .iter()
        .map(|row| {
            row.iter()
                .map(|v| v.as_ref().map_or(String::new(), |v| table_cell(&v.to_string())))
                .collect()
        })
        .collect();
    let mut widths: Vec<usize> = result.columns.iter().map(|c| c.chars().count()).collect();
    for row in &cells {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let line = |out: &mut dyn Write, items: &[String]| -> io::Result<()> {
        let padded: Vec<String> = items
            .iter()
            .zip(&widths)
            .map(|(item, w)| format!("{item}{}", " ".repeat(w.saturating_sub(item.chars().count()))))
            .collect();
        writeln!(out, "{}", padded.join(" │ ").trim_end())
    };
    line(out, &result.columns)?;
    let rule: Vec<String> = widths.iter().map(|w| "─".repeat(*w)).collect();
    writeln!(out, "{}", rule.join("─┼─"))?;
    for row in &cells {
        line(out, row)?;
    }
    Ok(())
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
}
