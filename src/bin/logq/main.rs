//! `logq`: CloudWatch Logs Insights queries over local files, stdin, or CloudWatch itself.
//! This binary parses flags, reads the query, and hands over to `skywatch_query`.

use std::io::{self, IsTerminal, Write};
use std::process::ExitCode;

use clap::Parser;

mod cli;
mod progress;
use cli::Cli;
use skywatch_insights::RemoteQuery;
use skywatch_query::{Format, ResultSet, RunOptions, Source, Statistics, TimestampFormat, TimestampRule};

/// Exit statuses: 0 ok, 1 input/output or AWS failure, 2 the query or the arguments are wrong.
const EXIT_RUNTIME: u8 = 1;
const EXIT_QUERY: u8 = 2;

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(&cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure { code, message }) => {
            let _ = writeln!(io::stderr(), "{message}");
            ExitCode::from(code)
        }
    }
}

struct Failure {
    code: u8,
    message: String,
}

impl Failure {
    fn query(message: impl Into<String>) -> Failure {
        Failure {
            code: EXIT_QUERY,
            message: message.into(),
        }
    }

    fn runtime(message: impl Into<String>) -> Failure {
        Failure {
            code: EXIT_RUNTIME,
            message: message.into(),
        }
    }
}

fn run(cli: &Cli) -> Result<(), Failure> {
    let mut paths = cli.paths.clone();
    let query = match &cli.query_file {
        Some(file) => {
            // With --query-file every positional argument is a path.
            if let Some(first) = &cli.query {
                paths.insert(0, first.clone());
            }
            std::fs::read_to_string(file)
                .map_err(|e| Failure::runtime(format!("logq: cannot read query file {file}: {e}")))?
        }
        None => cli
            .query
            .clone()
            .ok_or_else(|| Failure::query("logq: a query is required (or --query-file FILE)"))?,
    };
    let format = Format::from_name(&cli.format).unwrap_or(Format::Table);
    let now_ms = chrono::Utc::now().timestamp_millis();
    let start_ms = match (&cli.start, &cli.since) {
        (Some(start), _) => Some(time_arg("--start", start, now_ms)?),
        (None, Some(since)) => Some(time_arg(
            "--since",
            &format!("-{}", since.trim_start_matches('-')),
            now_ms,
        )?),
        (None, None) => None,
    };
    let end_ms = cli
        .end
        .as_deref()
        .map(|e| time_arg("--end", e, now_ms))
        .transpose()?;

    // Validate locally first: a typo costs nothing, even in CloudWatch mode.
    let plan = skywatch_query::compile(&query).map_err(|e| Failure::query(e.render(&query)))?;
    let (start_ms, end_ms) = match &plan.source {
        Some(clause) => source_times(clause, (start_ms, end_ms), now_ms)?,
        None => (start_ms, end_ms),
    };

    let remote = cli.cloudwatch || (!cli.log_groups.is_empty() && cli.store.is_none());
    let (result, stats, unreadable) = if remote {
        if !paths.is_empty() {
            return Err(Failure::query(
                "logq: give either paths or --log-group/--cloudwatch, not both",
            ));
        }
        if cli.log_groups.is_empty() && plan.source.is_none() {
            return Err(Failure::query(
                "logq: --cloudwatch needs --log-group NAME or a query that starts with SOURCE",
            ));
        }
        // The service reads SOURCE itself.
        let (result, stats) = run_remote(cli, query, start_ms, end_ms, now_ms)?;
        (result, stats, 0)
    } else {
        if let Some(clause) = &plan.source {
            for note in skywatch_query::source_notes(clause) {
                let _ = writeln!(io::stderr(), "logq: {note}");
            }
        }
        // diff/logcompare read an earlier window too: the store's chunks of it are needed.
        let read_from = match (&plan.earlier_window, start_ms) {
            (Some(shift), Some(start)) => {
                skywatch_query::exec::patterns::earlier_window(shift, start, end_ms.unwrap_or(now_ms))
                    .map(|(from, _)| from)
                    .or(start_ms)
            }
            _ => start_ms,
        };
        let sources = local_sources(cli, &plan, &paths, read_from, end_ms)?;
        let inner = plan.inner_sources();
        let catalog = if inner.is_empty() {
            None
        } else {
            // A subquery with its own START/END reads outside the query's range: then the
            // store's groups offer every chunk (each run still keeps to its own range).
            let own_range = inner.iter().any(|c| c.start.is_some() || c.end.is_some());
            let (from, to) = if own_range {
                (None, None)
            } else {
                (read_from, end_ms)
            };
            Some(std::sync::Arc::new(catalog(cli, &paths, from, to)?))
        };
        run_local(cli, &plan, &sources, (start_ms, end_ms, now_ms), catalog)?
    };
    let stdout = io::stdout();
    let mut out = io::BufWriter::new(stdout.lock());
    let written = match (cli.format.as_str(), format, table_width(cli)) {
        ("chart", _, width) => {
            let groups = plan.group_columns();
            match skywatch_query::chart::write_chart(&result, &groups, width.unwrap_or(80), &mut out) {
                Ok(Err(why)) => return Err(Failure::query(format!("logq: {why}"))),
                other => other.map(|_| ()),
            }
        }
        (_, Format::Table, Some(width)) => skywatch_query::write_table_within(&result, Some(width), &mut out),
        _ => skywatch_query::write_results(&result, format, &mut out),
    };
    match written.and_then(|()| out.flush()) {
        Ok(()) => {}
        // `logq … | head` closing the pipe is not an error (damaged inputs still are, below).
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => {}
        Err(e) => return Err(Failure::runtime(format!("logq: cannot write results: {e}"))),
    }
    if cli.stats {
        print_stats(&stats);
    }
    if unreadable > 0 {
        return Err(Failure::runtime(format!(
            "logq: {unreadable} input(s) could not be read to the end (named above); the results are from the rest"
        )));
    }
    Ok(())
}

/// The width to fit a table in: --width, else the terminal's when stdout is one.
fn table_width(cli: &Cli) -> Option<usize> {
    if cli.full_width {
        return None;
    }
    cli.width.or_else(|| {
        let stdout = io::stdout();
        if !stdout.is_terminal() {
            return None;
        }
        terminal_size::terminal_size_of(&stdout).map(|(terminal_size::Width(w), _)| usize::from(w))
    })
}

/// The log groups a subquery's or join's SOURCE may name: the store's, or the paths'.
fn catalog(
    cli: &Cli,
    paths: &[String],
    start_ms: Option<i64>,
    end_ms: Option<i64>,
) -> Result<skywatch_query::Catalog, Failure> {
    let found = match &cli.store {
        Some(store) => {
            let logs = store.join("logs");
            let dir = if logs.is_dir() { logs } else { store.clone() };
            skywatch_query::Catalog::from_store(&dir, start_ms, end_ms)
        }
        None => skywatch_query::Catalog::from_paths(paths),
    };
    found.map_err(|e| Failure::runtime(format!("logq: {e}")))
}

/// `--lookup-dir`, or lookups/ in the agent's state directory (the one --store names, or the
/// default one).
fn lookup_dir(cli: &Cli) -> std::path::PathBuf {
    if let Some(dir) = &cli.lookup_dir {
        return dir.clone();
    }
    let state = match &cli.store {
        // --store names the state directory or its logs/ directory.
        Some(store) if store.ends_with("logs") && !store.join("logs").is_dir() => store
            .parent()
            .map_or_else(|| store.clone(), std::path::Path::to_path_buf),
        Some(store) => store.clone(),
        None => skywatch_runtime::state_dir::resolve(None, None),
    };
    state.join("lookups")
}

/// The inputs of a local run: the paths (or stdin), or the store's groups; with a SOURCE in the
/// query, the groups it selects from them.
fn local_sources(
    cli: &Cli,
    plan: &skywatch_query::Plan,
    paths: &[String],
    start_ms: Option<i64>,
    end_ms: Option<i64>,
) -> Result<Vec<Source>, Failure> {
    let failed = |e: skywatch_query::input::InputError| Failure::runtime(format!("logq: {e}"));
    let Some(store) = &cli.store else {
        let sources = match &plan.source {
            Some(clause) => skywatch_query::Catalog::from_paths(paths)
                .and_then(|catalog| catalog.select(clause))
                .map_err(failed)?,
            None => skywatch_query::resolve_inputs(paths).map_err(failed)?,
        };
        let (sources, binary) = skywatch_query::leave_out_binary(sources);
        for (name, why) in &binary {
            let _ = writeln!(io::stderr(), "logq: {name}: {why}");
        }
        return Ok(sources);
    };
    if !paths.is_empty() {
        return Err(Failure::query("logq: give either paths or --store, not both"));
    }
    // The agent's state directory holds the store in logs/.
    let logs = store.join("logs");
    let dir = if logs.is_dir() { logs } else { store.clone() };
    match (&plan.source, cli.log_groups.is_empty()) {
        (Some(_), false) => Err(Failure::query(
            "logq: the query's SOURCE names the log groups; leave out --log-group",
        )),
        (Some(clause), true) => skywatch_query::Catalog::from_store(&dir, start_ms, end_ms)
            .and_then(|catalog| catalog.select(clause))
            .map_err(failed),
        (None, true) => Err(Failure::query(
            "logq: --store needs --log-group NAME or a query that starts with SOURCE",
        )),
        (None, false) => {
            let mut sources = Vec::new();
            for group in &cli.log_groups {
                sources.extend(skywatch_query::resolve_store(&dir, group, start_ms, end_ms).map_err(failed)?);
            }
            Ok(sources)
        }
    }
}

/// The time range with the query's `START=`/`END=` in place of the command line's (which a note
/// says were overridden).
fn source_times(
    clause: &skywatch_query::syntax::ast::SourceClause,
    (start_ms, end_ms): (Option<i64>, Option<i64>),
    now_ms: i64,
) -> Result<(Option<i64>, Option<i64>), Failure> {
    let mut range = (start_ms, end_ms);
    for (written, given, flag) in [(&clause.start, start_ms, "START"), (&clause.end, end_ms, "END")] {
        let Some((text, _)) = written else { continue };
        let at = time_arg(flag, text, now_ms)?;
        if given.is_some() {
            let _ = writeln!(
                io::stderr(),
                "logq: the query's {flag}={text} is used instead of the command line's time"
            );
        }
        if flag == "START" {
            range.0 = Some(at);
        } else {
            range.1 = Some(at);
        }
    }
    Ok(range)
}

fn time_arg(flag: &str, value: &str, now_ms: i64) -> Result<i64, Failure> {
    skywatch_time::parse_time_arg(value, now_ms)
        .map_err(|e| Failure::query(format!("logq: {flag} {value}: {e}")))
}

fn run_local(
    cli: &Cli,
    plan: &skywatch_query::Plan,
    sources: &[Source],
    (start_ms, end_ms, now_ms): (Option<i64>, Option<i64>, i64),
    catalog: Option<std::sync::Arc<skywatch_query::Catalog>>,
) -> Result<(ResultSet, Statistics, usize), Failure> {
    let format = cli
        .timestamp_format
        .as_deref()
        .map(TimestampFormat::new)
        .transpose()
        .map_err(|e| Failure::query(format!("logq: --timestamp-format: {e}")))?;
    if sources.iter().any(|s| s.path.is_none()) && io::stdin().is_terminal() {
        let _ = writeln!(
            io::stderr(),
            "logq: reading events from the terminal (stdin); give a path to read files"
        );
    }
    // Unknown for stdin from a pipe and for compressed inputs: then bytes and rate only.
    let total_bytes: Option<u64> = sources.iter().map(Source::plain_size).sum();
    let progress = progress::Progress::start(total_bytes);
    let options = RunOptions {
        timestamp: TimestampRule {
            field: cli.timestamp_field.clone(),
            format,
        },
        start_ms,
        end_ms,
        now_ms,
        threads: cli.threads,
        validate_json: cli.stats,
        progress: progress.as_ref().map(progress::Progress::counter),
        max_memory: Some(cli.max_memory),
        shortcuts: skywatch_query::exec::Shortcuts::default(),
        lookup_dir: Some(lookup_dir(cli)),
        catalog,
    };
    let result = skywatch_query::run(plan, sources, &options);
    if let Some(progress) = progress {
        progress.stop();
    }
    let outcome = result.map_err(|e| Failure::runtime(format!("logq: {e}")))?;
    let (rows, stats) = (outcome.result, outcome.stats);
    for bad in &outcome.unreadable {
        let _ = writeln!(
            io::stderr(),
            "logq: cannot read {bad}; the results leave out what follows the damage"
        );
    }
    // A field that never (or not always) reads as a time is said, not silently dropped.
    if let Some(field) = &cli.timestamp_field {
        if stats.without_timestamp > 0 {
            let _ = writeln!(
                io::stderr(),
                "logq: --timestamp-field {field}: {} of {} event(s) had no {field} that reads as a time{}; they took the previous event's time (none before the first)",
                stats.without_timestamp,
                stats.records_scanned,
                if cli.timestamp_format.is_some() {
                    " in --timestamp-format"
                } else {
                    " (RFC 3339, epoch seconds or milliseconds, or give --timestamp-format)"
                }
            );
        }
    }
    Ok((rows, stats, outcome.unreadable.len()))
}

fn run_remote(
    cli: &Cli,
    query: String,
    start_ms: Option<i64>,
    end_ms: Option<i64>,
    now_ms: i64,
) -> Result<(ResultSet, Statistics), Failure> {
    let end_s = end_ms.unwrap_or(now_ms) / 1000;
    let start_s = start_ms.map_or(end_s - 3600, |ms| ms / 1000);
    let request = RemoteQuery {
        query,
        log_groups: cli.log_groups.clone(),
        start_s,
        end_s,
        limit: None,
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| Failure::runtime(format!("logq: cannot start the async runtime: {e}")))?;
    let result = runtime.block_on(async {
        let config = skywatch_aws::sdk_config(skywatch_aws::SdkSettings {
            retries: skywatch_aws::Retries::Standard,
            // As the SDK's default chain: on an instance with only a role, its own region.
            region_from_imds: true,
            ..skywatch_aws::SdkSettings::default()
        })
        .await;
        let client = aws_sdk_cloudwatchlogs::Client::new(&config);
        let cancel = async {
            // Ctrl-C stops the query on the service too.
            if tokio::signal::ctrl_c().await.is_err() {
                std::future::pending::<()>().await;
            }
        };
        skywatch_insights::run_remote(&client, &request, cancel).await
    });
    let result = result.map_err(|e| Failure::runtime(format!("logq: {e}")))?;
    let mut columns: Vec<String> = Vec::new();
    for row in &result.rows {
        for (name, _) in row {
            if !columns.contains(name) {
                columns.push(name.clone());
            }
        }
    }
    let rows = result
        .rows
        .into_iter()
        .map(|row| {
            columns
                .iter()
                .map(|c| row.iter().find(|(n, _)| n == c).map(|(_, v)| v.clone()))
                .collect()
        })
        .collect();
    let stats = Statistics {
        records_scanned: result.stats.records_scanned as u64,
        records_matched: result.stats.records_matched as u64,
        bytes_scanned: result.stats.bytes_scanned as u64,
        ..Statistics::default()
    };
    Ok((ResultSet { columns, rows }, stats))
}

fn print_stats(stats: &Statistics) {
    let mut err = io::stderr().lock();
    let _ = writeln!(
        err,
        "recordsScanned: {}\nrecordsMatched: {}\nbytesScanned: {}",
        stats.records_scanned, stats.records_matched, stats.bytes_scanned
    );
    if stats.spills > 0 {
        let _ = writeln!(err, "spilledToDisk: {} time(s)", stats.spills);
    }
    if stats.invalid_utf8 > 0 || stats.broken_json > 0 || stats.without_timestamp > 0 {
        let _ = writeln!(
            err,
            "invalidUtf8Lines: {}\nbrokenJsonLines: {}\nlinesWithoutTimestamp: {}",
            stats.invalid_utf8, stats.broken_json, stats.without_timestamp
        );
    }
}
