//! logq's command line: its flags and help. Its own file, so that `skywatch completions` and
//! `skywatch man` describe logq from the same definition.

use clap::Parser;

/// `logq --help`'s closing examples.
const EXAMPLES: &str = "Examples:
  logq 'filter level = \"ERROR\" | stats count(*) by bin(5m)' /var/log/app/*.log
  zcat old.log.gz | logq 'fields @timestamp, @message | sort @timestamp desc | limit 20'
  logq --since 1h 'stats count(*) by bin(5m)' app.log
  logq --format chart 'stats count(*) by bin(5m), level' app.log
  logq --format csv 'stats avg(latencyMs), pct(latencyMs, 99) by service' app.log > latency.csv
  logq --store ~/.local/share/skywatch --log-group /ec2/app 'filter @message like /ERROR/'
  logq --log-group /aws/lambda/api --since 2h 'filter @type = \"REPORT\" | stats avg(@duration) by bin(5m)'

The language: docs/query-language.md. A wrong query exits 2 with the line and a caret.";

/// logq's command line (its help is `about` and [`EXAMPLES`]).
#[derive(Debug, Parser)]
#[command(
    name = "logq",
    version,
    about = "Run CloudWatch Logs Insights queries over local log files, stdin, the agent's local store, or CloudWatch Logs itself.",
    after_help = EXAMPLES
)]
pub struct Cli {
    /// The query, in the Logs Insights language (omit it when using --query-file).
    pub query: Option<String>,
    /// Files, directories (read recursively) or glob patterns; none or "-" reads stdin.
    /// gzip and zstd input is decompressed transparently.
    pub paths: Vec<String>,
    /// Read the query from FILE instead of the first argument.
    #[arg(short = 'f', long = "query-file", value_name = "FILE")]
    pub query_file: Option<String>,
    /// Output format.
    /// `chart` draws a `stats … by bin()` result as lines, one panel per series.
    #[arg(long, default_value = "table", value_parser = ["table", "ndjson", "json", "csv", "chart"])]
    pub format: String,
    /// Fit the table in N characters, cutting long cells with "…" (default: the terminal's
    /// width when stdout is a terminal).
    #[arg(long, value_name = "N", conflicts_with = "full_width")]
    pub width: Option<usize>,
    /// Print table cells whole, however wide the terminal.
    #[arg(long)]
    pub full_width: bool,
    /// Only events at or after this time: RFC 3339, "now", or relative such as -2h.
    #[arg(long, value_name = "TIME", allow_hyphen_values = true)]
    pub start: Option<String>,
    /// Only events at or before this time: RFC 3339, "now", or relative such as -5m.
    #[arg(long, value_name = "TIME", allow_hyphen_values = true)]
    pub end: Option<String>,
    /// Only events from this long ago until now (15m, 2h, 7d, 1w); same as --start -DURATION.
    #[arg(
        long,
        value_name = "DURATION",
        conflicts_with = "start",
        allow_hyphen_values = true
    )]
    pub since: Option<String>,
    /// Take @timestamp from this field instead of detecting it.
    #[arg(long, value_name = "FIELD")]
    pub timestamp_field: Option<String>,
    /// Parse timestamps with this strftime format (e.g. "%d/%b/%Y:%H:%M:%S %z").
    #[arg(long, value_name = "FORMAT")]
    pub timestamp_format: Option<String>,
    /// Print recordsScanned, recordsMatched and bytesScanned on stderr.
    #[arg(long)]
    pub stats: bool,
    /// Worker threads for reading files (default: one per core).
    #[arg(long, value_name = "N", default_value_t = 0, hide_default_value = true)]
    pub threads: usize,
    /// About how much memory stats groups may take before they spill to disk (in TMPDIR):
    /// bytes, or with K, M, G (KiB, MiB, GiB).
    #[arg(long, value_name = "SIZE", default_value = "1G", value_parser = parse_size)]
    pub max_memory: u64,
    /// Run the query on CloudWatch Logs Insights over this log group (repeatable), or, with
    /// --store, over the group in the agent's local store.
    #[arg(long = "log-group", value_name = "NAME")]
    pub log_groups: Vec<String>,
    /// Read --log-group (or the groups the query's SOURCE names) from the skywatch agent's
    /// local store in DIR (the agent's state directory, or its logs/ directory) instead of
    /// CloudWatch.
    #[arg(long, value_name = "DIR")]
    pub store: Option<std::path::PathBuf>,
    /// Where lookup and cidrlookup find their CSV tables (<name>.csv). Default: lookups/ beside
    /// the store (the agent's state directory).
    #[arg(long, value_name = "DIR")]
    pub lookup_dir: Option<std::path::PathBuf>,
    /// Run the query on CloudWatch Logs Insights even without --log-group: its SOURCE command
    /// says which log groups.
    #[arg(long, conflicts_with = "store")]
    pub cloudwatch: bool,
}

/// `512M`, `2G`, `1GiB`, `65536`: a size in bytes (K, M, G are powers of 1024).
fn parse_size(text: &str) -> Result<u64, String> {
    let t = text.trim();
    let digits = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (number, unit) = t.split_at(digits);
    let n: u64 = number
        .parse()
        .map_err(|_| format!("expected a size such as 512M or 2G, found {text:?}"))?;
    let shift = match unit.trim().to_ascii_uppercase().as_str() {
        "" | "B" => 0,
        "K" | "KB" | "KIB" => 10,
        "M" | "MB" | "MIB" => 20,
        "G" | "GB" | "GIB" => 30,
        "T" | "TB" | "TIB" => 40,
        _ => return Err(format!("unknown unit {unit:?} in {text:?} (K, M, G or T)")),
    };
    n.checked_shl(shift)
        .filter(|bytes| bytes >> shift == n && *bytes > 0)
        .ok_or_else(|| format!("{text:?} is not a size logq can use"))
}
