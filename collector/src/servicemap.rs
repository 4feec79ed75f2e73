//! `skywatch servicemap`: the graph a running collector serves (GetServiceGraph), printed as a
//! table, JSON, Graphviz dot or a Mermaid flowchart. Node names come from trace data (anyone
//! who can send a datagram chooses them), so dot and Mermaid labels are escaped.

use std::fmt::Write as _;
use std::time::Duration;

use serde_json::{json, Value};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

/// How the graph is printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Table,
    Json,
    Dot,
    Mermaid,
}

impl std::str::FromStr for Format {
    type Err = String;
    fn from_str(s: &str) -> Result<Format, String> {
        match s {
            "table" => Ok(Format::Table),
            "json" => Ok(Format::Json),
            "dot" => Ok(Format::Dot),
            "mermaid" => Ok(Format::Mermaid),
            other => Err(format!("{other:?}: expected table, json, dot or mermaid")),
        }
    }
}

/// How long the collector may take to answer.
const ANSWER_TIMEOUT: Duration = Duration::from_secs(30);

/// Asks the collector at `address` (`host:port`) for its graph of `[start, end]` (epoch secs).
pub async fn fetch(address: &str, start: f64, end: f64) -> Result<Value, String> {
    let body = json!({"StartTime": start, "EndTime": end}).to_string();
    let exchange = async {
        let mut stream = tokio::net::TcpStream::connect(address).await.map_err(|e| {
            format!("cannot reach the collector at {address}: {e} (is `skywatch collector` running?)")
        })?;
        let request = format!(
            "POST /ServiceGraph HTTP/1.1\r\nHost: {address}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        );
        stream
            .write_all(request.as_bytes())
            .await
            .map_err(|e| format!("cannot send to the collector at {address}: {e}"))?;
        let mut answer = Vec::new();
        stream
            .read_to_end(&mut answer)
            .await
            .map_err(|e| format!("cannot read the collector's answer: {e}"))?;
        Ok::<_, String>(answer)
    };
    let answer = tokio::time::timeout(ANSWER_TIMEOUT, exchange)
        .await
        .map_err(|_| {
            format!(
                "the collector at {address} did not answer within {} s",
                ANSWER_TIMEOUT.as_secs()
            )
        })??;
    let split = answer
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or("the collector's answer is not HTTP")?;
    let head = String::from_utf8_lossy(&answer[..split]);
    let payload = &answer[split + 4..];
    if !head.starts_with("HTTP/1.1 200") {
        let status = head.lines().next().unwrap_or_default();
        return Err(format!(
            "the collector answered {status}: {}",
            String::from_utf8_lossy(payload).trim()
        ));
    }
    serde_json::from_slice(payload).map_err(|e| format!("the collector's answer is not JSON: {e}"))
}

struct Node<'a> {
    reference: i64,
    name: &'a str,
    kind: &'a str,
    service: &'a Value,
}

fn nodes(graph: &Value) -> Vec<Node<'_>> {
    graph
        .get("Services")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .map(|s| Node {
            reference: s.get("ReferenceId").and_then(Value::as_i64).unwrap_or(-1),
            name: s.get("Name").and_then(Value::as_str).unwrap_or_default(),
            kind: s.get("Type").and_then(Value::as_str).unwrap_or_default(),
            service: s,
        })
        .collect()
}

fn counts(stats: &Value) -> (u64, u64, u64, u64, f64) {
    let n = |p: &str| stats.pointer(p).and_then(Value::as_u64).unwrap_or(0);
    let total = n("/TotalCount");
    let time = stats
        .pointer("/TotalResponseTime")
        .and_then(Value::as_f64)
        .unwrap_or(0.0);
    (
        total,
        n("/ErrorStatistics/OtherCount"),
        n("/ErrorStatistics/ThrottleCount"),
        n("/FaultStatistics/TotalCount"),
        if total > 0 {
            time / total as f64 * 1000.0
        } else {
            0.0
        },
    )
}

/// The graph in `format`.
pub fn render(graph: &Value, format: Format) -> String {
    match format {
        Format::Json => format!("{graph:#}\n"),
        Format::Table => table(graph),
        Format::Dot => dot(graph),
        Format::Mermaid => mermaid(graph),
    }
}

/// Names come from trace data: control characters (escape sequences, newlines that would
/// forge table rows) are shown escaped.
fn printable(text: &str) -> String {
    text.chars()
        .map(|c| {
            if c.is_control() {
                c.escape_default().to_string()
            } else {
                c.to_string()
            }
        })
        .collect()
}

fn label(node: &Node<'_>) -> String {
    if node.kind.is_empty() {
        printable(node.name)
    } else {
        format!("{} ({})", printable(node.name), printable(node.kind))
    }
}

fn edges<'a>(all: &'a [Node<'a>]) -> impl Iterator<Item = (&'a Node<'a>, &'a Node<'a>, &'a Value)> {
    all.iter().flat_map(move |from| {
        from.service
            .get("Edges")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(move |e| {
                let to = e.get("ReferenceId").and_then(Value::as_i64)?;
                let to = all.iter().find(|n| n.reference == to)?;
                Some((from, to, e.get("SummaryStatistics").unwrap_or(&Value::Null)))
            })
    })
}

fn table(graph: &Value) -> String {
    let all = nodes(graph);
    if all.is_empty() {
        return "no traces in this window\n".into();
    }
    let mut out = String::new();
    let rows: Vec<[String; 7]> = edges(&all)
        .map(|(from, to, stats)| {
            let (total, errors, throttles, faults, avg_ms) = counts(stats);
            [
                label(from),
                label(to),
                total.to_string(),
                errors.to_string(),
                throttles.to_string(),
                faults.to_string(),
                format!("{avg_ms:.1}"),
            ]
        })
        .collect();
    let header = [
        "FROM",
        "TO",
        "REQUESTS",
        "ERRORS",
        "THROTTLES",
        "FAULTS",
        "AVG MS",
    ];
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let mut line = |cells: &[String]| {
        let padded: Vec<String> = cells
            .iter()
            .zip(&widths)
            .map(|(c, w)| format!("{c:<w$}"))
            .collect();
        let _ = writeln!(out, "{}", padded.join("  ").trim_end());
    };
    line(&header.map(str::to_string));
    for row in &rows {
        line(row);
    }
    out
}

/// A dot string literal's inside.
fn dot_escape(text: &str) -> String {
    text.chars()
        .flat_map(|c| match c {
            '"' | '\\' => vec!['\\', c],
            '\n' | '\r' => vec![' '],
            c => vec![c],
        })
        .collect()
}

fn dot(graph: &Value) -> String {
    let all = nodes(graph);
    let mut out = String::from("digraph services {\n  rankdir=LR;\n");
    for node in &all {
        let shape = if node.kind == "client" { "circle" } else { "box" };
        let _ = writeln!(
            out,
            "  n{} [label=\"{}\", shape={shape}];",
            node.reference,
            dot_escape(&label(node))
        );
    }
    for (from, to, stats) in edges(&all) {
        let (total, errors, throttles, faults, avg_ms) = counts(stats);
        let color = if faults > 0 {
            "red"
        } else if errors + throttles > 0 {
            "orange"
        } else {
            "black"
        };
        let _ = writeln!(
            out,
            "  n{} -> n{} [label=\"{total} req, {avg_ms:.0} ms, {} err, {faults} fault\", color={color}];",
            from.reference,
            to.reference,
            errors + throttles
        );
    }
    out.push_str("}\n");
    out
}

/// Mermaid labels go in double quotes, where only `#quot;`-style entities are safe.
fn mermaid_escape(text: &str) -> String {
    text.chars()
        .map(|c| match c {
            '"' => "#quot;".to_string(),
            '<' => "#lt;".to_string(),
            '>' => "#gt;".to_string(),
            '#' => "#35;".to_string(),
            '\n' | '\r' => " ".to_string(),
            c => c.to_string(),
        })
        .collect()
}

fn mermaid(graph: &Value) -> String {
    let all = nodes(graph);
    let mut out = String::from("flowchart LR\n");
    for node in &all {
        let text = mermaid_escape(&label(node));
        if node.kind == "client" {
            let _ = writeln!(out, "  n{}((\"{text}\"))", node.reference);
        } else {
            let _ = writeln!(out, "  n{}[\"{text}\"]", node.reference);
        }
    }
    for (from, to, stats) in edges(&all) {
        let (total, errors, throttles, faults, avg_ms) = counts(stats);
        let _ = writeln!(
            out,
            "  n{} -->|\"{total} req, {avg_ms:.0} ms, {} err, {faults} fault\"| n{}",
            from.reference,
            errors + throttles,
            to.reference
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::{render, Format};

    fn graph() -> serde_json::Value {
        json!({"Services": [
            {"ReferenceId": 0, "Name": "web\"]; evil", "Type": "client", "Edges": [
                {"ReferenceId": 1, "SummaryStatistics": {"TotalCount": 2, "TotalResponseTime": 0.3,
                 "ErrorStatistics": {"OtherCount": 0, "ThrottleCount": 0}, "FaultStatistics": {"TotalCount": 1}}}]},
            {"ReferenceId": 1, "Name": "web\"]; evil", "Type": "", "Edges": []}
        ]})
    }

    #[test]
    fn control_characters_in_names_cannot_drive_the_terminal_or_forge_rows() {
        let graph = json!({"Services": [
            {"ReferenceId": 0, "Name": "a\u{1b}[31m\nFAKE  ROW", "Type": "client", "Edges": [
                {"ReferenceId": 1, "SummaryStatistics": {"TotalCount": 1}}]},
            {"ReferenceId": 1, "Name": "b", "Type": "", "Edges": []}
        ]});
        for format in [Format::Table, Format::Dot, Format::Mermaid] {
            let out = render(&graph, format);
            assert!(!out.contains('\u{1b}'), "{out}");
            assert!(!out.lines().any(|l| l.starts_with("FAKE")), "{out}");
        }
    }

    #[test]
    fn every_format_shows_the_edge_and_escapes_names() {
        let table = render(&graph(), Format::Table);
        assert!(
            table
                .lines()
                .nth(1)
                .unwrap()
                .contains("2         0       0          1       150.0"),
            "{table}"
        );
        let dot = render(&graph(), Format::Dot);
        assert!(dot.contains(r#"label="web\"]; evil (client)""#), "{dot}");
        assert!(
            dot.contains("n0 -> n1 [label=\"2 req, 150 ms, 0 err, 1 fault\", color=red]"),
            "{dot}"
        );
        let mermaid = render(&graph(), Format::Mermaid);
        assert!(
            mermaid.contains("n0((\"web#quot;]; evil (client)\"))"),
            "{mermaid}"
        );
        assert!(!mermaid.contains("web\""), "{mermaid}");
    }
}
