//! `logq` as a user runs it: every option, every exit status.

use std::io::Write;
use std::process::{Command, Output, Stdio};

fn logq() -> Command {
    Command::new(env!("CARGO_BIN_EXE_logq"))
}

fn run_with_stdin(args: &[&str], stdin: &[u8]) -> Output {
    let mut child = logq()
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(stdin).unwrap();
    child.wait_with_output().unwrap()
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

const EVENTS: &str = "\
{\"timestamp\":\"2024-03-01T00:00:01Z\",\"level\":\"INFO\",\"latency\":10}
{\"timestamp\":\"2024-03-01T00:06:00Z\",\"level\":\"ERROR\",\"latency\":30}
{\"timestamp\":\"2024-03-01T00:07:00Z\",\"level\":\"ERROR\",\"latency\":50}
";

fn write_log(dir: &std::path::Path, name: &str, text: &str) -> std::path::PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

#[test]
fn reads_stdin_when_no_path_is_given() {
    let out = run_with_stdin(
        &["--format", "ndjson", "stats count(*) as n by level"],
        EVENTS.as_bytes(),
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        stdout(&out),
        "{\"level\":\"ERROR\",\"n\":2}\n{\"level\":\"INFO\",\"n\":1}\n"
    );
}

#[test]
fn dash_is_stdin_too() {
    let out = run_with_stdin(
        &["--format", "csv", "stats count(*) as n", "-"],
        EVENTS.as_bytes(),
    );
    assert_eq!(stdout(&out), "n\n3\n");
}

#[test]
fn files_directories_and_globs_are_read() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("sub")).unwrap();
    write_log(dir.path(), "a.log", EVENTS);
    write_log(&dir.path().join("sub"), "b.log", EVENTS);
    let q = "stats count(*) as n";
    let by_dir = logq()
        .args(["--format", "csv", q, dir.path().to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(stdout(&by_dir), "n\n6\n");
    let glob = format!("{}/*.log", dir.path().display());
    let by_glob = logq().args(["--format", "csv", q, &glob]).output().unwrap();
    assert_eq!(stdout(&by_glob), "n\n3\n");
}

#[test]
fn gzip_and_zstd_inputs_are_decompressed() {
    let dir = tempfile::tempdir().unwrap();
    let plain = write_log(dir.path(), "events.log", EVENTS);
    for (tool, ext) in [("gzip", "gz"), ("zstd", "zst")] {
        let Ok(status) = Command::new(tool).arg("-kqf").arg(&plain).status() else {
            panic!("{tool} is needed for this test");
        };
        assert!(status.success());
        let packed = format!("{}.{ext}", plain.display());
        let out = logq()
            .args(["--format", "csv", "stats count(*) as n", &packed])
            .output()
            .unwrap();
        assert_eq!(stdout(&out), "n\n3\n", "{tool}: {}", stderr(&out));
    }
}

#[test]
fn query_file_reads_the_query_and_every_argument_is_a_path() {
    let dir = tempfile::tempdir().unwrap();
    let query = write_log(
        dir.path(),
        "q.insights",
        "# errors only\nfilter level = \"ERROR\"\n| stats count(*) as n\n",
    );
    let log = write_log(dir.path(), "a.log", EVENTS);
    let out = logq()
        .args([
            "-f",
            query.to_str().unwrap(),
            "--format",
            "csv",
            log.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert_eq!(stdout(&out), "n\n2\n", "{}", stderr(&out));
}

#[test]
fn formats_json_and_table() {
    let json = run_with_stdin(
        &[
            "--format",
            "json",
            "filter level = \"INFO\" | fields level, latency",
        ],
        EVENTS.as_bytes(),
    );
    assert_eq!(
        stdout(&json),
        "[\n  {\n    \"level\": \"INFO\",\n    \"latency\": 10\n  }\n]\n"
    );
    let table = run_with_stdin(
        &["filter level = \"INFO\" | fields level, latency"],
        EVENTS.as_bytes(),
    );
    assert_eq!(stdout(&table), "level │ latency\n──────┼────────\nINFO  │ 10\n");
}

#[test]
fn start_end_and_since_bound_the_time_range() {
    let q = "stats count(*) as n";
    let out = run_with_stdin(
        &["--format", "csv", "--start", "2024-03-01T00:05:00Z", q],
        EVENTS.as_bytes(),
    );
    assert_eq!(stdout(&out), "n\n2\n");
    let out = run_with_stdin(
        &[
            "--format",
            "csv",
            "--start",
            "2024-03-01T00:00:00Z",
            "--end",
            "2024-03-01T00:06:00Z",
            q,
        ],
        EVENTS.as_bytes(),
    );
    assert_eq!(stdout(&out), "n\n2\n");
    // The events are from 2024, far outside the last 15 minutes.
    let out = run_with_stdin(&["--format", "csv", "--since", "15m", q], EVENTS.as_bytes());
    assert_eq!(stdout(&out), "n\n0\n");
}

#[test]
fn timestamp_field_and_format_override_detection() {
    let input = "{\"when\":\"01/03/2024 10:00\",\"timestamp\":\"2020-01-01T00:00:00Z\"}\n";
    let out = run_with_stdin(
        &[
            "--format",
            "csv",
            "--timestamp-field",
            "when",
            "--timestamp-format",
            "%d/%m/%Y %H:%M",
            "fields @timestamp",
        ],
        input.as_bytes(),
    );
    assert_eq!(
        stdout(&out),
        "@timestamp\n2024-03-01 10:00:00.000\n",
        "{}",
        stderr(&out)
    );
}

#[test]
fn stats_flag_reports_scanned_matched_and_bytes() {
    let out = run_with_stdin(
        &[
            "--stats",
            "--format",
            "csv",
            "filter level = \"ERROR\" | stats count(*)",
        ],
        EVENTS.as_bytes(),
    );
    assert_eq!(
        stderr(&out),
        format!(
            "recordsScanned: 3\nrecordsMatched: 2\nbytesScanned: {}\n",
            EVENTS.len()
        )
    );
}

#[test]
fn bad_input_lines_are_still_events_and_counted() {
    let mut input = Vec::new();
    input.extend_from_slice(b"{\"timestamp\":\"2024-03-01T00:00:01Z\",\"broken\": \n");
    input.extend_from_slice(b"2024-03-01T00:00:02Z invalid \xff\xfe utf-8\n");
    input.extend_from_slice(&vec![b'x'; 3 << 20]);
    input.extend_from_slice(b"\n2024-03-01T00:00:03Z last line without newline");
    let out = run_with_stdin(&["--stats", "--format", "csv", "stats count(*) as n"], &input);
    assert_eq!(stdout(&out), "n\n4\n");
    let err = stderr(&out);
    assert!(err.contains("recordsScanned: 4\n"), "{err}");
    assert!(err.contains("invalidUtf8Lines: 1\n"), "{err}");
    assert!(err.contains("brokenJsonLines: 1\n"), "{err}");
}

#[test]
fn a_wrong_query_exits_2_with_a_caret() {
    let out = run_with_stdin(&["stats cout(*)"], b"");
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        stderr(&out),
        "query error at 1:7: unknown function 'cout'; did you mean 'count'?\n  stats cout(*)\n        ^^^^\n"
    );
}

#[test]
fn a_missing_file_exits_1() {
    let out = logq()
        .args(["stats count(*)", "/nonexistent/x.log"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        stderr(&out),
        "logq: /nonexistent/x.log: no such file or directory\n"
    );
}

#[test]
fn a_bad_time_argument_exits_2() {
    let out = logq()
        .args(["--start", "yesterday-ish", "stats count(*)", "-"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).starts_with("logq: --start yesterday-ish: "),
        "{}",
        stderr(&out)
    );
}

#[test]
fn a_time_argument_with_wide_characters_exits_2_instead_of_panicking() {
    // Regression: the RFC 3339 hint sliced the text at byte 4, inside the euro sign (exit 101).
    for value in ["ab€", "12€", "€€€€€"] {
        let out = logq()
            .args(["--start", value, "stats count(*)", "-"])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{value}: {}", stderr(&out));
        assert!(
            stderr(&out).starts_with(&format!("logq: --start {value}: invalid time")),
            "{}",
            stderr(&out)
        );
    }
}

#[test]
fn cloudwatch_mode_validates_the_query_before_any_request() {
    // No endpoint or credentials are configured: a wrong query must fail locally, with exit 2.
    let out = logq()
        .args(["--log-group", "/x", "stats cout(*)"])
        .env("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("unknown function 'cout'"));
}

#[test]
fn version_and_help() {
    let out = logq().arg("--version").output().unwrap();
    assert_eq!(stdout(&out).trim(), format!("logq {}", env!("CARGO_PKG_VERSION")));
    let out = logq().arg("--help").output().unwrap();
    let help = stdout(&out);
    for flag in [
        "--query-file",
        "--format",
        "--start",
        "--end",
        "--since",
        "--timestamp-field",
        "--timestamp-format",
        "--stats",
        "--log-group",
    ] {
        assert!(help.contains(flag), "{flag} missing from help");
    }
}

/// CloudWatch mode end to end: the real binary, its standard SDK chain pointed at moto by the
/// environment, a log group with known events, rows printed in the chosen format.
#[test]
fn cloudwatch_mode_runs_the_query_on_the_service_and_prints_its_rows() {
    use skywatch_tests::log_groups::create_with_events;

    let moto = skywatch_tests::moto::shared().unwrap_or_else(|e| panic!("{e}"));
    let group = skywatch_tests::names::unique_name("/it/logq-cli");
    let now_ms = skywatch_tests::log_groups::now_ms();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let config = skywatch_tests::aws::sdk_config(&moto.endpoint_url()).await;
        let client = skywatch_tests::logs::Client::new(&config);
        let events: Vec<(i64, String)> = (0..3)
            .map(|i| (now_ms - 60_000 + i, format!("event {i}")))
            .collect();
        create_with_events(&client, &group, "s", &events).await.unwrap();
    });
    let out = logq()
        .args([
            "--log-group",
            &group,
            "--since",
            "10m",
            "--format",
            "ndjson",
            "--stats",
        ])
        .arg("fields @message | sort @timestamp desc | limit 2")
        .envs(skywatch_tests::aws::env_vars(&moto.endpoint_url()))
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        stdout(&out),
        "{\"@message\":\"event 2\"}\n{\"@message\":\"event 1\"}\n"
    );
    assert!(stderr(&out).starts_with("recordsScanned: "), "{}", stderr(&out));
}

#[test]
fn cloudwatch_mode_reports_a_missing_log_group_with_exit_1() {
    let moto = skywatch_tests::moto::shared().unwrap_or_else(|e| panic!("{e}"));
    let out = logq()
        .args(["--log-group", "/it/does-not-exist", "fields @message"])
        .envs(skywatch_tests::aws::env_vars(&moto.endpoint_url()))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("ResourceNotFoundException"),
        "{}",
        stderr(&out)
    );
}

/// 2026-11-28T01:00:00Z.
const STORE_T0: i64 = 1_795_827_600_000;

/// An agent state directory whose store holds /ec2/app (two streams, two chunks of i-1 an hour
/// apart) and /ec2/other.
fn agent_store() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let store = skywatch_store::LocalLogStore::open(&dir.path().join("logs")).unwrap();
    let json = r#"{"level":"ERROR","timestamp":"1999-01-01T00:00:00Z","msg":"disk full"}"#;
    store
        .append(
            "/ec2/app",
            "i-1",
            &[
                (STORE_T0, "INFO started"),
                (STORE_T0 + 1_000, "ERROR boom\n    at a.b(C.java:1)"),
                (STORE_T0 + 2_000, json),
            ],
        )
        .unwrap();
    store
        .append("/ec2/app", "i-1", &[(STORE_T0 + 3_600_000, "INFO an hour later")])
        .unwrap();
    store
        .append("/ec2/app", "i-2", &[(STORE_T0 + 500, "ERROR other host")])
        .unwrap();
    store
        .append("/ec2/other", "i-1", &[(STORE_T0, "ERROR not this group")])
        .unwrap();
    dir
}

fn store_query(dir: &std::path::Path, extra: &[&str], query: &str) -> Output {
    logq()
        .args([
            "--store",
            dir.to_str().unwrap(),
            "--log-group",
            "/ec2/app",
            "--format",
            "csv",
        ])
        .args(extra)
        .arg(query)
        .output()
        .unwrap()
}

#[test]
fn the_agents_store_is_read_with_each_events_own_time_stream_and_whole_message() {
    let dir = agent_store();
    let out = store_query(
        dir.path(),
        &[],
        "fields @timestamp, @logStream, @log, @message | sort @timestamp asc | limit 3",
    );
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let csv = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        csv,
        "@timestamp,@logStream,@log,@message\n\
         2026-11-28 01:00:00.000,i-1,/ec2/app,INFO started\n\
         2026-11-28 01:00:00.500,i-2,/ec2/app,ERROR other host\n\
         2026-11-28 01:00:01.000,i-1,/ec2/app,\"ERROR boom\n    at a.b(C.java:1)\"\n"
    );
    // JSON messages have their fields; their own "timestamp" does not replace the event's time.
    let out = store_query(
        dir.path(),
        &[],
        "filter level = \"ERROR\" | fields @timestamp, msg",
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "@timestamp,msg\n2026-11-28 01:00:02.000,disk full\n"
    );
    let out = store_query(
        dir.path(),
        &[],
        "stats count(*) as n by @logStream | sort @logStream",
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "@logStream,n\ni-1,4\ni-2,1\n"
    );
}

#[test]
fn a_time_range_skips_the_stores_other_chunks_unopened_and_a_missing_group_says_so() {
    let dir = agent_store();
    let out = store_query(
        dir.path(),
        &["--start", "2026-11-28T01:30:00Z", "--stats"],
        "stats count(*) as n",
    );
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(String::from_utf8_lossy(&out.stdout), "n\n1\n");
    let stats = String::from_utf8_lossy(&out.stderr);
    assert!(
        stats.contains("recordsScanned: 1"),
        "only the later chunk is read: {stats}"
    );
    let missing = logq()
        .args([
            "--store",
            dir.path().to_str().unwrap(),
            "--log-group",
            "/nope",
            "stats count(*)",
        ])
        .output()
        .unwrap();
    assert_eq!(missing.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&missing.stderr).contains("no such log group"),
        "{}",
        String::from_utf8_lossy(&missing.stderr)
    );
}

/// Stdin redirected from a file (`logq … < app.log`) is read like the file (in pieces, by
/// both threads); one whose start a caller already read is read from where it stands.
#[test]
fn stdin_from_a_file_answers_as_the_file() {
    use std::fmt::Write as _;
    use std::io::Read;
    let dir = tempfile::tempdir().unwrap();
    let mut text = String::new();
    let mut i = 0u64;
    // Over 16 MiB, so the file is cut into pieces.
    while text.len() < 18 << 20 {
        let level = if i.is_multiple_of(3) { "ERROR" } else { "INFO" };
        writeln!(text, "{{\"n\":{i},\"level\":\"{level}\"}}").unwrap();
        i += 1;
    }
    let path = write_log(dir.path(), "big.log", &text);
    let query = "stats count(*) as c, sum(n) as total by level";
    let args = ["--threads", "2", "--format", "csv", query];
    let from_path = logq().args(args).arg(&path).output().unwrap();
    assert!(from_path.status.success(), "{}", stderr(&from_path));
    let redirected = logq()
        .args(args)
        .stdin(std::fs::File::open(&path).unwrap())
        .output()
        .unwrap();
    assert!(redirected.status.success(), "{}", stderr(&redirected));
    assert_eq!(stdout(&redirected), stdout(&from_path));
    assert_eq!(
        stdout(&from_path).lines().nth(1).unwrap(),
        format!("ERROR,{},{}", i.div_ceil(3), (0..i).step_by(3).sum::<u64>())
    );

    // The first line already read by someone else: the rest is what stdin holds.
    let mut file = std::fs::File::open(&path).unwrap();
    let first = text.find('\n').unwrap() + 1;
    file.read_exact(&mut vec![0; first]).unwrap();
    let rest = logq().args(args).stdin(file).output().unwrap();
    assert!(rest.status.success(), "{}", stderr(&rest));
    assert_eq!(
        stdout(&rest).lines().nth(1).unwrap(),
        format!("ERROR,{},{}", i.div_ceil(3) - 1, (0..i).step_by(3).sum::<u64>())
    );

    // Stdin named twice is read once.
    let twice = logq()
        .args(["--format", "csv", "stats count(*) as c", "-", "-"])
        .stdin(std::fs::File::open(&path).unwrap())
        .output()
        .unwrap();
    assert_eq!(stdout(&twice), format!("c\n{i}\n"));
}

/// Files that say they are empty but are not (/proc) are read to their end, named or as stdin.
#[test]
fn files_that_report_size_zero_are_read_to_the_end() {
    let lines = std::fs::read_to_string("/proc/cpuinfo").unwrap().lines().count();
    assert!(lines > 0);
    let named = logq()
        .args(["--format", "csv", "stats count(*) as c", "/proc/cpuinfo"])
        .output()
        .unwrap();
    assert_eq!(stdout(&named), format!("c\n{lines}\n"), "{}", stderr(&named));
    let redirected = logq()
        .args(["--format", "csv", "stats count(*) as c"])
        .stdin(std::fs::File::open("/proc/cpuinfo").unwrap())
        .output()
        .unwrap();
    assert_eq!(
        stdout(&redirected),
        format!("c\n{lines}\n"),
        "{}",
        stderr(&redirected)
    );
}

#[test]
fn deeply_nested_queries_are_refused_with_a_caret_not_a_stack_overflow() {
    // Regression: ~4,000 nested parentheses (within the 10,000-character limit) aborted logq.
    for query in [
        format!("filter {}1{} = 1", "(".repeat(4000), ")".repeat(4000)),
        format!("filter {}x", "not ".repeat(2400)),
        format!("fields {}1", "-".repeat(9000)),
        format!("fields 2{}", "^2".repeat(4500)),
    ] {
        let out = logq().args([query.as_str(), "-"]).output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
        assert!(
            stderr(&out).contains("the expression nests more than 64 levels deep"),
            "{}",
            stderr(&out)
        );
    }
    // 64 levels are fine.
    let ok = format!(
        "filter {}1{} = 1 | stats count(*)",
        "(".repeat(60),
        ")".repeat(60)
    );
    let out = logq().args([ok.as_str(), "-"]).output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
}

#[test]
fn relative_times_start_with_a_minus_as_help_shows_them() {
    for args in [["--start", "-2h"], ["--end", "-5m"], ["--since", "1w"]] {
        let out = logq().args(args).args(["stats count(*)", "-"]).output().unwrap();
        assert_eq!(out.status.code(), Some(0), "{args:?}: {}", stderr(&out));
    }
}

#[test]
fn help_is_logqs_own_with_examples() {
    let out = logq().arg("--help").output().unwrap();
    let help = String::from_utf8_lossy(&out.stdout);
    assert!(help.starts_with("Run CloudWatch Logs Insights queries"), "{help}");
    assert!(help.contains("Examples:\n  logq 'filter level"), "{help}");
    assert!(!help.contains("Observability toolkit"), "{help}");
}

#[test]
fn a_named_pipe_is_read_as_a_stream() {
    // Regression: the pipe was opened once to size it and again to read it; the writer met
    // the first open and logq waited forever on the second.
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("events.fifo");
    assert!(std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap()
        .success());
    let writer = {
        let fifo = fifo.clone();
        std::thread::spawn(move || std::fs::write(&fifo, "{\"a\":1}\n{\"a\":2}\n{\"a\":3}\n").unwrap())
    };
    let mut child = logq()
        .args(["--format", "csv", "stats count(*) as n"])
        .arg(&fifo)
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    writer.join().unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while child.try_wait().unwrap().is_none() {
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            panic!("logq did not finish reading the pipe");
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let out = child.wait_with_output().unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout), "n\n3\n");
}

#[test]
fn a_byte_order_mark_before_the_first_line_is_not_part_of_it_on_any_path() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("bom.jsonl");
    std::fs::write(
        &file,
        "\u{feff}{\"level\":\"ERROR\"}\n{\"level\":\"ERROR\"}\n{\"level\":\"INFO\"}\n",
    )
    .unwrap();
    // The direct stats path, the row path (`filter 1 = 1`), and stdin.
    for query in [
        "stats count(*) as n by level | sort level",
        "filter 1 = 1 | stats count(*) as n by level | sort level",
    ] {
        let out = logq()
            .args(["--format", "csv", query])
            .arg(&file)
            .output()
            .unwrap();
        assert_eq!(
            String::from_utf8_lossy(&out.stdout),
            "level,n\nERROR,2\nINFO,1\n",
            "{query}"
        );
        let out = logq()
            .args(["--format", "csv", query, "-"])
            .stdin(std::fs::File::open(&file).unwrap())
            .output()
            .unwrap();
        assert_eq!(
            String::from_utf8_lossy(&out.stdout),
            "level,n\nERROR,2\nINFO,1\n",
            "stdin: {query}"
        );
    }
}

#[test]
fn a_timestamp_field_that_does_not_read_as_a_time_is_said() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("ts.jsonl");
    std::fs::write(
        &file,
        "{\"ts\":\"garbage\",\"a\":1}\n{\"ts\":\"2024-03-01T00:00:00Z\",\"a\":2}\n",
    )
    .unwrap();
    let out = logq()
        .args([
            "--timestamp-field",
            "ts",
            "--format",
            "csv",
            "fields @timestamp, a",
        ])
        .arg(&file)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    assert!(
        stderr(&out).contains("logq: --timestamp-field ts: 1 of 2 event(s) had no ts that reads as a time"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn binary_files_are_skipped_with_a_word() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("app.log"), "one\ntwo\n").unwrap();
    std::fs::write(dir.path().join("wtmp"), b"\x07\x00\x00\x00login\x00\x00tty1\n").unwrap();
    let out = logq()
        .args(["--format", "csv", "stats count(*) as n"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout), "n\n2\n");
    assert!(
        stderr(&out).contains("wtmp: a binary file (a NUL byte in its first 8 KiB): skipped"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn a_truncated_compressed_file_is_named_and_the_good_files_still_answer() {
    let dir = tempfile::tempdir().unwrap();
    write_log(dir.path(), "a.log", EVENTS);
    write_log(dir.path(), "c.log", EVENTS);
    // Big enough that the first half of its gzip holds whole lines.
    let inner = write_log(dir.path(), "b.log", &EVENTS.repeat(20_000));
    let status = Command::new("gzip").arg("-qf").arg(&inner).status().unwrap();
    assert!(status.success());
    let packed = dir.path().join("b.log.gz");
    let bytes = std::fs::read(&packed).unwrap();
    std::fs::write(&packed, &bytes[..bytes.len() / 2]).unwrap();
    let mut answers = Vec::new();
    for threads in ["1", "2"] {
        let out = logq()
            .args(["--threads", threads, "--format", "csv", "stats count(*) as n"])
            .arg(dir.path())
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(1), "threads {threads}");
        // The good files' 6 events, and the truncated file's whole lines before the damage.
        let n: u64 = stdout(&out).trim_start_matches("n\n").trim().parse().unwrap();
        assert!(n > 6 && n < 6 + 60_000, "threads {threads}: {n}");
        answers.push(n);
        let err = stderr(&out);
        assert!(
            err.contains("logq: cannot read ") && err.contains("b.log.gz: "),
            "{err}"
        );
        assert!(err.contains("1 input(s) could not be read to the end"), "{err}");
    }
    assert_eq!(answers[0], answers[1], "one answer whatever the thread count");
}

#[test]
fn the_table_fits_the_width_unless_full_width_is_asked() {
    let dir = tempfile::tempdir().unwrap();
    let long = "y".repeat(300);
    let log = write_log(
        dir.path(),
        "a.log",
        &format!("{{\"level\":\"ERROR\",\"msg\":\"{long}\"}}\n"),
    );
    let fitted = logq()
        .args(["--width", "60", "fields level, msg"])
        .arg(&log)
        .output()
        .unwrap();
    let text = stdout(&fitted);
    assert!(text.lines().all(|l| l.chars().count() <= 60), "{text}");
    assert!(text.contains("y…"), "{text}");
    // Not a terminal and no --width: whole cells (up to the table's 200-character cap).
    let whole = logq().args(["fields level, msg"]).arg(&log).output().unwrap();
    assert!(stdout(&whole).contains(&"y".repeat(200)), "{}", stdout(&whole));
    let full = logq()
        .args(["--full-width", "fields level, msg"])
        .arg(&log)
        .output()
        .unwrap();
    assert_eq!(stdout(&full), stdout(&whole));
}

#[test]
fn at_a_terminal_the_table_fits_its_width() {
    // A real pseudo-terminal, 50 columns wide, from util-linux's `script`.
    let dir = tempfile::tempdir().unwrap();
    let log = write_log(
        dir.path(),
        "a.log",
        &format!("{{\"level\":\"ERROR\",\"msg\":\"{}\"}}\n", "z".repeat(300)),
    );
    let inner = format!(
        "stty rows 20 cols 50; {} 'fields level, msg' {}",
        env!("CARGO_BIN_EXE_logq"),
        log.display()
    );
    let Ok(out) = Command::new("script")
        .args(["-qec", &inner, "/dev/null"])
        .output()
    else {
        panic!("`script` (util-linux) is needed for this test");
    };
    let text = stdout(&out).replace('\r', "");
    let rows: Vec<&str> = text.lines().filter(|l| !l.is_empty()).collect();
    assert_eq!(rows.len(), 3, "{text}");
    assert!(rows.iter().all(|l| l.chars().count() <= 50), "{text}");
    assert_eq!(rows[2], format!("ERROR │ {}…", "z".repeat(41)));
}

#[test]
fn a_repeated_key_keeps_its_last_value_on_every_path() {
    let dir = tempfile::tempdir().unwrap();
    let log = write_log(
        dir.path(),
        "d.jsonl",
        "{\"svc\":\"a\",\"svc\":\"b\"}\n{\"svc\":\"a\",\"x\":1,\"\\u0073vc\":\"c\"}\n{\"a.b\":1,\"a\":{\"b\":2}}\n",
    );
    for (flags, query, expected) in [
        (
            &[][..],
            "stats count(*) as n by svc | sort svc",
            "svc,n\nb,1\nc,1\n,1\n",
        ),
        (
            &["--stats"][..],
            "stats count(*) as n by svc | sort svc",
            "svc,n\nb,1\nc,1\n,1\n",
        ),
        (&["--threads", "1"][..], "fields svc", "svc\nb\nc\n\n"),
        (&[][..], "filter svc = \"a\" | stats count(*) as n", "n\n0\n"),
        (&[][..], "filter ispresent(a.b) | fields a.b", "a.b\n2\n"),
        (
            &[][..],
            "filter ispresent(a.b) | fields a.b, nosuch",
            "a.b,nosuch\n2,\n",
        ),
    ] {
        let out = logq()
            .args(flags)
            .args(["--format", "csv", query])
            .arg(&log)
            .output()
            .unwrap();
        assert_eq!(stdout(&out), expected, "{flags:?} {query}: {}", stderr(&out));
    }
}

#[test]
fn the_issues_repro_gives_one_answer_with_and_without_stats() {
    let dir = tempfile::tempdir().unwrap();
    let path = write_log(
        dir.path(),
        "d.jsonl",
        "{\"svc\":\"a\",\"svc\":\"b\"}\n{\"level\":\"ERROR\",\"x\":tru}\n{\"id\":9007199254740993}\n",
    );
    let path = path.to_str().unwrap();
    for query in [
        "stats count(*) as n by svc",
        "filter level = \"ERROR\" | stats count(*) as n",
        "filter id = 9007199254740993 | fields id",
        "filter id = 9007199254740992 | stats count(*) as n",
    ] {
        let plain = logq().args(["--format", "csv", query, path]).output().unwrap();
        let with_stats = logq()
            .args(["--format", "csv", "--stats", query, path])
            .output()
            .unwrap();
        assert_eq!(stdout(&plain), stdout(&with_stats), "{query}");
    }
    let out = logq()
        .args(["--format", "csv", "stats count(*) as n by svc", path])
        .output()
        .unwrap();
    assert_eq!(
        stdout(&out),
        "svc,n\nb,1\n,2\n",
        "the last value; two events without svc"
    );
    let out = logq()
        .args([
            "--format",
            "csv",
            "filter level = \"ERROR\" | stats count(*) as n",
            path,
        ])
        .output()
        .unwrap();
    assert_eq!(
        stdout(&out),
        "n\n1\n",
        "a line that breaks keeps the fields before the break"
    );
    let out = logq()
        .args([
            "--format",
            "csv",
            "filter id = 9007199254740993 | fields id",
            path,
        ])
        .output()
        .unwrap();
    assert_eq!(stdout(&out), "id\n9007199254740993\n");
    let out = logq()
        .args([
            "--format",
            "csv",
            "filter id = 9007199254740992 | stats count(*) as n",
            path,
        ])
        .output()
        .unwrap();
    assert_eq!(stdout(&out), "n\n0\n", "no rounding to a neighbour");
}

#[test]
fn at_a_terminal_a_scan_of_stdin_from_a_pipe_shows_bytes_read_and_rate() {
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("in");
    assert!(Command::new("mkfifo").arg(&fifo).status().unwrap().success());
    let typescript = dir.path().join("typescript");
    let inner = format!(
        "{} --format csv 'stats count(*) as n' < {}",
        env!("CARGO_BIN_EXE_logq"),
        fifo.display()
    );
    let mut script = Command::new("script")
        .args(["-qfec", &inner])
        .arg(&typescript)
        .stdout(Stdio::null())
        .spawn()
        .expect("`script` (util-linux) is needed for this test");
    // The reader opens the pipe when the shell redirects: this open waits for it.
    let mut writer = std::fs::OpenOptions::new().write(true).open(&fifo).unwrap();
    let chunk = "2024-03-01T00:00:00Z a line of a slow stream\n".repeat(1000);
    let mut lines = 0u64;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    loop {
        writer.write_all(chunk.as_bytes()).unwrap();
        lines += 1000;
        let shown = std::fs::read_to_string(&typescript).unwrap_or_default();
        // A count that moves: more than 0.0 MB read.
        let moving = shown
            .split('\r')
            .any(|l| l.contains(" MB read ") && !l.trim_start().starts_with("0.0 MB"));
        if moving && shown.contains("MB/s") {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "no progress line:\n{shown}");
        // A stream that trickles, as a pipe from a slow producer does.
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    drop(writer);
    assert!(script.wait().unwrap().success());
    let shown = std::fs::read_to_string(&typescript).unwrap();
    assert!(shown.contains(&format!("n\r\n{lines}")), "{shown}");
    assert!(
        !shown.contains('%'),
        "no percentage for a stream of unknown size: {shown}"
    );
}

#[test]
fn format_chart_draws_a_bin_series_per_group_and_names_a_result_it_cannot_draw() {
    let dir = tempfile::tempdir().unwrap();
    let mut text = String::new();
    for minute in 0..30 {
        for (level, n) in [("INFO", 5 + minute % 7), ("ERROR", minute % 3)] {
            for _ in 0..n {
                text.push_str(
                    &[
                        "{\"timestamp\":\"2024-03-01T00:",
                        &format!("{minute:02}"),
                        ":10Z\",\"level\":\"",
                        level,
                        "\"}\n",
                    ]
                    .concat(),
                );
            }
        }
    }
    let log = write_log(dir.path(), "app.log", &text);
    let out = logq()
        .args(["--format", "chart", "--width", "60"])
        .args(["stats count(*) as n by bin(1m), level", log.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let chart = stdout(&out);
    let lines: Vec<&str> = chart.lines().collect();
    assert_eq!(lines[0], "INFO", "the larger series first:\n{chart}");
    assert!(lines.contains(&"ERROR"), "{chart}");
    assert!(
        chart.chars().any(|c| ('\u{2801}'..='\u{28ff}').contains(&c)),
        "{chart}"
    );
    assert!(
        chart.contains("2024-03-01 00:00") && chart.contains("30 bins of 1m"),
        "{chart}"
    );
    assert!(lines.iter().all(|l| l.chars().count() <= 60), "{chart}");
    let out = logq()
        .args([
            "--format",
            "chart",
            "stats count(*) by level",
            log.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("by bin(5m)"), "{}", stderr(&out));
}

#[test]
fn timestamp_field_reads_the_wrapped_events_own_field() {
    let dir = tempfile::tempdir().unwrap();
    let log = write_log(
        dir.path(),
        "export.log",
        "2024-03-01T00:00:01.000Z {\"level\":\"ERROR\",\"ts\":\"2020-01-01T00:00:00Z\"}\n",
    );
    let out = logq()
        .args([
            "--format",
            "csv",
            "--timestamp-field",
            "ts",
            "fields @timestamp, level",
        ])
        .arg(&log)
        .output()
        .unwrap();
    assert_eq!(
        stdout(&out),
        "@timestamp,level\n2020-01-01 00:00:00.000,ERROR\n",
        "{}",
        stderr(&out)
    );
}

#[test]
fn stats_groups_past_max_memory_spill_to_disk_and_give_the_same_answer() {
    let dir = tempfile::tempdir().unwrap();
    let mut text = String::new();
    for i in 0..60_000u32 {
        text.push_str(
            &[
                "{\"timestamp\":\"2024-03-01T00:00:00Z\",\"user\":\"user-",
                &(i % 20_000).to_string(),
                "\",\"ms\":",
                &(i % 997).to_string(),
                "}\n",
            ]
            .concat(),
        );
    }
    let log = write_log(dir.path(), "users.log", &text);
    let query = "stats count(*) as n, avg(ms) as a, pct(ms, 90) as p, count_distinct(ms) as d by user | sort user asc | limit 20000";
    let whole = logq()
        .args(["--format", "csv", query])
        .arg(&log)
        .output()
        .unwrap();
    assert!(whole.status.success(), "{}", stderr(&whole));
    let spilled = logq()
        .args(["--format", "csv", "--stats", "--max-memory", "256K", query])
        .arg(&log)
        .env("TMPDIR", dir.path())
        .output()
        .unwrap();
    assert!(spilled.status.success(), "{}", stderr(&spilled));
    assert_eq!(stdout(&spilled), stdout(&whole));
    assert_eq!(stdout(&whole).lines().count(), 20_001);
    assert!(
        stderr(&spilled).contains("spilledToDisk:"),
        "{}",
        stderr(&spilled)
    );
    // The run files are gone once the query is done.
    let left: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .filter_map(Result::ok)
        .filter(|e| e.file_name().to_string_lossy().starts_with("logq-spill-"))
        .collect();
    assert!(left.is_empty(), "{left:?}");
    // A bad size is named.
    let out = logq()
        .args(["--max-memory", "lots", "stats count(*)"])
        .arg(&log)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("512M"), "{}", stderr(&out));
}

#[test]
fn a_spill_that_cannot_be_written_is_an_error_naming_the_directory() {
    let dir = tempfile::tempdir().unwrap();
    let text: String = (0..30_000)
        .map(|i| ["{\"u\":\"user-", &i.to_string(), "\"}\n"].concat())
        .collect();
    let log = write_log(dir.path(), "users.log", &text);
    let nowhere = dir.path().join("no-such-dir");
    let out = logq()
        .args(["--format", "csv", "--max-memory", "64K", "stats count(*) by u"])
        .arg(&log)
        .env("TMPDIR", &nowhere)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(stderr(&out).contains("no-such-dir"), "{}", stderr(&out));
    assert!(stderr(&out).contains("--max-memory"), "{}", stderr(&out));
}

#[test]
fn spilled_groups_keep_one_group_per_key_and_the_same_top_rows() {
    let dir = tempfile::tempdir().unwrap();
    // -0 and 0 are one group, "0" another; spills land between them.
    let mut text = String::from("{\"v\":-0,\"ms\":1}\n");
    for i in 0..63 {
        text.push_str(&["{\"v\":\"a", &i.to_string(), "\",\"ms\":2}\n"].concat());
    }
    text.push_str(
        "{\"v\":\"0\",\"ms\":3}\n{\"v\":0,\"ms\":4}\n{\"v\":200,\"ms\":1}\n{\"v\":\"200\",\"ms\":5}\n",
    );
    let log = write_log(dir.path(), "v.log", &text);
    for query in [
        "stats count(*) as n, sum(ms) as t by v",
        "stats count(*) as n, sum(ms) as t by v | sort n asc | limit 3",
        "stats count(*) as c, sum(ms) as t by v | sort c desc | limit 1",
    ] {
        let whole = logq()
            .args(["--format", "csv", "--threads", "1", query])
            .arg(&log)
            .output()
            .unwrap();
        for (threads, memory) in [("1", "1K"), ("2", "1K"), ("1", "4K")] {
            let spilled = logq()
                .args([
                    "--format",
                    "csv",
                    "--stats",
                    "--threads",
                    threads,
                    "--max-memory",
                    memory,
                ])
                .arg(query)
                .arg(&log)
                .output()
                .unwrap();
            assert_eq!(
                stdout(&spilled),
                stdout(&whole),
                "{query} ({threads} threads, {memory})"
            );
            assert!(stderr(&spilled).contains("spilledToDisk"), "{}", stderr(&spilled));
        }
    }
    let whole = logq()
        .args(["--format", "csv", "stats count(*) as n by v | filter n > 1"])
        .arg(&log)
        .output()
        .unwrap();
    assert_eq!(stdout(&whole), "v,n\n0,2\n", "-0 and 0 are one group");
}

#[test]
fn a_sort_that_holds_every_row_spills_past_max_memory_and_keeps_its_order() {
    let dir = tempfile::tempdir().unwrap();
    let mut text = String::new();
    for i in 0..40_000u32 {
        text.push_str(
            &[
                "{\"timestamp\":\"2024-03-01T00:00:00Z\",\"svc\":\"s",
                &(i % 7).to_string(),
                "\",\"ms\":",
                &((i * 7919) % 1000).to_string(),
                "}\n",
            ]
            .concat(),
        );
    }
    let log = write_log(dir.path(), "rows.log", &text);
    // A filter after the sort: it cannot keep only the first rows, it holds them all.
    let query = "fields svc, ms | sort ms desc, svc asc | filter ms % 3 = 0 | dedup ms | limit 50";
    let whole = logq()
        .args(["--format", "csv", query])
        .arg(&log)
        .output()
        .unwrap();
    let spilled = logq()
        .args(["--format", "csv", "--stats", "--max-memory", "64K", query])
        .arg(&log)
        .output()
        .unwrap();
    assert!(spilled.status.success(), "{}", stderr(&spilled));
    assert_eq!(stdout(&spilled), stdout(&whole));
    assert_eq!(stdout(&whole).lines().count(), 51);
    assert!(stderr(&spilled).contains("spilledToDisk"), "{}", stderr(&spilled));
}

#[test]
fn a_dedup_past_max_memory_is_a_clear_error_not_an_out_of_memory_death() {
    let dir = tempfile::tempdir().unwrap();
    let text: String = (0..50_000)
        .map(|i| ["{\"u\":\"user-", &i.to_string(), "\"}\n"].concat())
        .collect();
    let log = write_log(dir.path(), "users.log", &text);
    // A dedup keeps the keys of the rows its limit lets through: 20,000 of them here, more than
    // the budget holds.
    let out = logq()
        .args(["--format", "csv", "--max-memory", "256K"])
        .arg("fields u | dedup u | limit 20000")
        .arg(&log)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(stderr(&out).contains("dedup had seen"), "{}", stderr(&out));
    assert!(stderr(&out).contains("--max-memory"), "{}", stderr(&out));
    // One that stops once its limit is full takes only the keys it needs, within the budget.
    let fine = logq()
        .args([
            "--format",
            "csv",
            "--max-memory",
            "256K",
            "fields u | dedup u | limit 5",
        ])
        .arg(&log)
        .output()
        .unwrap();
    assert!(fine.status.success(), "{}", stderr(&fine));
    assert_eq!(stdout(&fine).lines().count(), 6, "{}", stderr(&fine));
}

/// A tree of directories that play log groups: `aws/lambda/api`, `aws/lambda/db`, `web`, and
/// the root's own files (the group named as the root).
fn group_tree() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("logs");
    for (sub, name, level) in [
        ("aws/lambda/api", "a.log", "ERROR"),
        ("aws/lambda/api", "b.log", "INFO"),
        ("aws/lambda/db", "c.log", "ERROR"),
        ("web", "d.log", "ERROR"),
        ("", "e.log", "INFO"),
    ] {
        std::fs::create_dir_all(root.join(sub)).unwrap();
        let line = format!(
            "{{\"timestamp\":\"2024-03-01T00:00:0{}Z\",\"level\":\"{level}\",\"file\":\"{name}\"}}\n",
            name.len()
        );
        std::fs::write(root.join(sub).join(name), line).unwrap();
    }
    dir
}

#[test]
fn source_selects_directories_below_a_path_as_log_groups() {
    let dir = group_tree();
    let root = dir.path().join("logs");
    let root = root.to_str().unwrap();
    let run = |query: &str| logq().args(["--format", "csv", query, root]).output().unwrap();

    let out =
        run("SOURCE logGroups(namePrefix: ['/aws/lambda']) | stats count(*) as n by level | sort level asc");
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stdout(&out), "level,n\nERROR,2\nINFO,1\n");

    let out = run("SOURCE '/web' | fields file");
    assert_eq!(stdout(&out), "file\nd.log\n", "{}", stderr(&out));
    // The root's own files are the group named as the root directory.
    let out = run("SOURCE logs | fields file");
    assert_eq!(stdout(&out), "file\ne.log\n", "{}", stderr(&out));

    // What local groups cannot honour is said, and the groups are read.
    let out = run("SOURCE logGroups(class: ['INFREQUENT_ACCESS'], accountIdentifiers: ['111122223333']) | stats count(*) as n");
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stdout(&out), "n\n5\n");
    assert!(stderr(&out).contains("no log class"), "{}", stderr(&out));
    assert!(stderr(&out).contains("belong to no account"), "{}", stderr(&out));

    // A SOURCE that selects nothing names the groups there are.
    let out = run("SOURCE logGroups(namePrefix: ['/nope']) | fields file");
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("the groups are: aws/lambda/api, aws/lambda/db, logs, web"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn source_start_and_end_bound_the_time_range_over_the_command_lines() {
    let dir = group_tree();
    let root = dir.path().join("logs");
    let out = logq()
        .args([
            "--format",
            "csv",
            "--since",
            "1h",
            "SOURCE logGroups() START=2024-03-01T00:00:05Z END=2024-03-01T00:00:05Z | fields file | sort file asc",
            root.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stdout(&out), "file\na.log\nb.log\nc.log\nd.log\ne.log\n");
    assert!(
        stderr(&out).contains("START=2024-03-01T00:00:05Z is used instead"),
        "{}",
        stderr(&out)
    );

    let out = logq()
        .args([
            "SOURCE logGroups() START=yesterday | fields file",
            root.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("^^^^^^^^^"), "{}", stderr(&out));
}

#[test]
fn source_selects_the_stores_groups() {
    let dir = agent_store();
    let store = dir.path().to_str().unwrap();
    let run = |extra: &[&str], query: &str| {
        logq()
            .args(["--store", store, "--format", "csv"])
            .args(extra)
            .arg(query)
            .output()
            .unwrap()
    };
    let out = run(
        &[],
        "SOURCE logGroups(namePrefix: ['/ec2']) | stats count(*) as n by @log | sort @log asc",
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stdout(&out), "@log,n\n/ec2/app,5\n/ec2/other,1\n");
    let out = run(&[], "SOURCE '/ec2/other' | fields @message");
    assert_eq!(
        stdout(&out),
        "@message\nERROR not this group\n",
        "{}",
        stderr(&out)
    );

    let out = run(
        &["--log-group", "/ec2/app"],
        "SOURCE '/ec2/other' | fields @message",
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("leave out --log-group"), "{}", stderr(&out));
    let out = run(&[], "fields @message");
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("--store needs --log-group"),
        "{}",
        stderr(&out)
    );
}

/// In CloudWatch mode the query goes to the service as written: SOURCE picks the groups there,
/// and no log group names are sent.
#[test]
fn cloudwatch_mode_sends_a_source_query_without_log_group_names() {
    let moto = skywatch_tests::moto::shared().unwrap_or_else(|e| panic!("{e}"));
    let out = logq()
        .args([
            "--cloudwatch",
            "SOURCE logGroups(namePrefix: ['/it/none']) | fields @message",
        ])
        .envs(skywatch_tests::aws::env_vars(&moto.endpoint_url()))
        .output()
        .unwrap();
    // logq's own check ("no log group to query") passed: whatever happened, the service decided.
    assert!(
        !stderr(&out).contains("no log group to query"),
        "{}",
        stderr(&out)
    );
    let out = logq().args(["--cloudwatch", "fields @message"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("--cloudwatch needs --log-group"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn lookup_tables_come_from_lookup_dir_or_beside_the_store() {
    let dir = tempfile::tempdir().unwrap();
    let tables = dir.path().join("tables");
    std::fs::create_dir_all(&tables).unwrap();
    std::fs::write(tables.join("hosts.csv"), "ip,name\n10.0.0.1,web-1\n").unwrap();
    let log = write_log(
        dir.path(),
        "a.log",
        "{\"ip\":\"10.0.0.1\"}\n{\"ip\":\"10.0.0.2\"}\n",
    );
    let out = logq()
        .args(["--format", "csv", "--lookup-dir", tables.to_str().unwrap()])
        .arg("fields ip | lookup hosts ip OUTPUT name | sort ip asc")
        .arg(&log)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stdout(&out), "ip,name\n10.0.0.1,web-1\n10.0.0.2,\n");

    // Beside the store: <state dir>/lookups.
    let state = agent_store();
    std::fs::create_dir_all(state.path().join("lookups")).unwrap();
    std::fs::write(
        state.path().join("lookups/streams.csv"),
        "stream,owner\ni-1,team-a\n",
    )
    .unwrap();
    let out = store_query(
        state.path(),
        &[],
        "fields @logStream as stream | lookup streams stream OUTPUT owner | stats count(*) as n by owner",
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains("team-a,4"), "{}", stdout(&out));

    // A table that is not there is named, exit 1.
    let out = logq()
        .args([
            "--lookup-dir",
            tables.to_str().unwrap(),
            "lookup nope ip OUTPUT name",
        ])
        .arg(&log)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("no lookup table 'nope'"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn join_and_subqueries_name_other_directories_as_groups() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("logs");
    for (group, lines) in [
        ("api", "{\"timestamp\":\"2024-03-01T00:00:01Z\",\"requestId\":\"r1\",\"status\":500}\n{\"timestamp\":\"2024-03-01T00:00:02Z\",\"requestId\":\"r2\",\"status\":200}\n"),
        ("aws/lambda/fn", "{\"timestamp\":\"2024-03-01T00:00:01Z\",\"requestId\":\"r1\",\"duration\":12}\n"),
    ] {
        std::fs::create_dir_all(root.join(group)).unwrap();
        std::fs::write(root.join(group).join("events.log"), lines).unwrap();
    }
    let root = root.to_str().unwrap();
    let out = logq()
        .args(["--format", "csv"])
        .arg("SOURCE api | join type=left left=a right=f where a.requestId = f.requestId (SOURCE '/aws/lambda/fn') | fields a.requestId, f.duration | sort a.requestId asc")
        .arg(root)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stdout(&out), "a.requestId,f.duration\nr1,12\nr2,\n");
    let out = logq()
        .args(["--format", "csv"])
        .arg("SOURCE api | filter requestId in (SOURCE '/aws/lambda/fn' | fields requestId) | fields status")
        .arg(root)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stdout(&out), "status\n500\n");
}

/// diff over the store reads the store's chunks of the earlier window too.
#[test]
fn diff_over_the_store_reads_the_earlier_window() {
    let dir = tempfile::tempdir().unwrap();
    let store = skywatch_store::LocalLogStore::open(&dir.path().join("logs")).unwrap();
    store
        .append(
            "/app",
            "s",
            &[
                (STORE_T0 - 3_000_000, "job done in 5ms"),
                (STORE_T0 - 2_000_000, "cache miss"),
            ],
        )
        .unwrap();
    store
        .append(
            "/app",
            "s",
            &[
                (STORE_T0 + 1_000, "job done in 6ms"),
                (STORE_T0 + 2_000, "job done in 7ms"),
            ],
        )
        .unwrap();
    let start = chrono::DateTime::from_timestamp_millis(STORE_T0)
        .unwrap()
        .to_rfc3339();
    let end = chrono::DateTime::from_timestamp_millis(STORE_T0 + 3_600_000)
        .unwrap()
        .to_rfc3339();
    let out = logq()
        .args([
            "--store",
            dir.path().to_str().unwrap(),
            "--log-group",
            "/app",
            "--format",
            "csv",
        ])
        .args(["--start", &start, "--end", &end])
        .arg("diff | display @pattern, @sampleCount, @previousSampleCount")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        stdout(&out),
        "@pattern,@sampleCount,@previousSampleCount\njob done in <Number-1>,2,1\ncache miss,0,1\n"
    );
}

/// A subquery's own START/END reach the store's chunks outside the query's range.
#[test]
fn a_subquerys_own_range_reads_the_stores_other_chunks() {
    let dir = agent_store();
    let start = chrono::DateTime::from_timestamp_millis(STORE_T0 + 3_000_000)
        .unwrap()
        .to_rfc3339();
    let sub_start = chrono::DateTime::from_timestamp_millis(STORE_T0 - 1_000)
        .unwrap()
        .to_rfc3339();
    let sub_end = chrono::DateTime::from_timestamp_millis(STORE_T0 + 10_000)
        .unwrap()
        .to_rfc3339();
    let query = format!(
        "SOURCE '/ec2/app' | filter @logStream in (SOURCE '/ec2/other' START={sub_start} END={sub_end} | fields @logStream) | fields @message"
    );
    let out = logq()
        .args([
            "--store",
            dir.path().to_str().unwrap(),
            "--format",
            "csv",
            "--start",
            &start,
        ])
        .arg(&query)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    // /ec2/other's only event (stream i-1) is an hour before --start; /ec2/app's i-1 event after
    // --start is the one the filter keeps.
    assert_eq!(stdout(&out), "@message\nINFO an hour later\n");
}
