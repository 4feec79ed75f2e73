//! Config reading: the CloudWatch agent's JSON and our TOML into one model, every problem at
//! once with its key path, and conversion that reads back to the same model.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;

use skywatch_agent::config::{
    parse, to_toml, Destination, FilterKind, Format, Loaded, LongLinesMode, Plugin,
};

fn fixture(name: &str) -> String {
    std::fs::read_to_string(format!("{}/tests/configs/{name}", env!("CARGO_MANIFEST_DIR"))).unwrap()
}

/// The problems as `path: message` lines.
fn errors(loaded: &Loaded) -> Vec<String> {
    loaded.errors.iter().map(ToString::to_string).collect()
}

fn has_error(loaded: &Loaded, path: &str, words: &str) {
    assert!(
        loaded
            .errors
            .iter()
            .any(|e| e.path == path && e.message.contains(words)),
        "no error at {path} saying {words:?}; errors: {:#?}",
        errors(loaded)
    );
}

#[test]
fn the_cloudwatch_agent_example_reads_into_the_model() {
    let loaded = parse(&fixture("cloudwatch-full.json"));
    assert_eq!(loaded.format, Format::CloudWatchJson);
    assert!(loaded.errors.is_empty(), "{:#?}", errors(&loaded));
    let warned: Vec<&str> = loaded.warnings.iter().map(|w| w.path.as_str()).collect();
    assert_eq!(warned, ["agent.logfile", "agent.debug"]);
    let config = loaded.config.unwrap();
    assert_eq!(config.interval_s, 60);
    assert_eq!(config.region.as_deref(), Some("us-east-1"));
    assert_eq!(config.run_as_user.as_deref(), Some("cwagent"));
    assert_eq!(config.output, Destination::Auto);
    let metrics = config.metrics.unwrap();
    assert_eq!(metrics.namespace, "CWAgent");
    assert_eq!(metrics.append_dimensions.len(), 4);
    assert_eq!(
        metrics.aggregation_dimensions,
        vec![
            vec!["AutoScalingGroupName".to_string()],
            vec!["InstanceId".into(), "InstanceType".into()],
            vec![]
        ]
    );
    let plugins: Vec<Plugin> = metrics.plugins.iter().map(|p| p.plugin).collect();
    assert_eq!(
        plugins,
        [
            Plugin::Mem,
            Plugin::Swap,
            Plugin::Cpu,
            Plugin::Disk,
            Plugin::Diskio,
            Plugin::Net
        ]
    );
    let mem = &metrics.plugins[0];
    assert_eq!(mem.interval_s, Some(10));
    assert_eq!(
        mem.measurements[0].field, "used_percent",
        "the plugin prefix is optional"
    );
    assert_eq!(mem.measurements[0].metric_name(Plugin::Mem), "mem_used_percent");
    let cpu = &metrics.plugins[2];
    assert_eq!(cpu.measurements[0].metric_name(Plugin::Cpu), "CPU_USAGE_IDLE");
    assert_eq!(cpu.measurements[0].unit.as_deref(), Some("Percent"));
    assert_eq!(cpu.resources, ["*"]);
    let disk = &metrics.plugins[3];
    assert!(disk.drop_device);
    assert_eq!(disk.ignore_file_system_types, ["sysfs", "devtmpfs", "tmpfs"]);
    let net = &metrics.plugins[5];
    assert_eq!(
        net.append_dimensions,
        BTreeMap::from([("team".to_string(), "web".to_string())])
    );
}

#[test]
fn conversion_to_toml_reads_back_to_the_same_model() {
    let from_json = parse(&fixture("cloudwatch-full.json")).config.unwrap();
    let text = to_toml(&from_json);
    let back = parse(&text);
    assert_eq!(back.format, Format::Toml);
    assert!(
        back.errors.is_empty() && back.warnings.is_empty(),
        "{:#?}\n{text}",
        errors(&back)
    );
    assert_eq!(back.config.unwrap(), from_json, "{text}");
    assert!(text.contains("[metrics.mem]"), "{text}");
}

#[test]
fn our_toml_has_outputs_health_and_state_dir() {
    let loaded = parse(
        r#"
[agent]
metrics_collection_interval = 10
state_dir = "/var/lib/skywatch"

[outputs]
metrics = "local"

[health]
listen = "127.0.0.1:9468"

[metrics.mem]
measurement = ["used_percent"]

[metrics.swap]
measurement = ["swap_used_percent"]
"#,
    );
    assert!(loaded.errors.is_empty(), "{:#?}", errors(&loaded));
    let config = loaded.config.unwrap();
    assert_eq!(config.interval_s, 10);
    assert_eq!(config.output, Destination::Local);
    assert_eq!(config.health_listen.as_deref(), Some("127.0.0.1:9468"));
    assert_eq!(config.state_dir.unwrap().to_str(), Some("/var/lib/skywatch"));
    assert_eq!(config.metrics.unwrap().plugins.len(), 2);
}

#[test]
fn every_json_problem_is_reported_at_once_with_its_path() {
    let loaded = parse(
        r#"{
  "agent": { "metrics_collection_interval": 0, "omit_hostname": "yes", "credentials": {"role_arn": "x"}, "colour": 1 },
  "metrics": {
    "namespace": "AWS/EC2",
    "append_dimensions": { "InstanceId": "${aws:InstanceId}", "Team": "web" },
    "aggregation_dimensions": [["InstanceId"], "InstanceType"],
    "force_flush_interval": 200000,
    "metrics_collected": {
      "mem": { "measurement": ["mem_used_percent", "mem_usd", {"name": "free", "unit": "Furlongs"}, {"rename": "x"}, "used_percent"] },
      "swap": { "measurements": ["swap_free"] },
      "cpu": { "measurement": [], "totalcpu": "yes" },
      "disk": { "measurement": "used_percent", "drop_device": 1 },
      "jmx": { "endpoint": "localhost:1314" },
      "gpu": {}
    }
  },
  "logs": { "logs_collected": {} },
  "tracing": true
}"#,
    );
    assert!(loaded.config.is_none());
    has_error(&loaded, "agent.metrics_collection_interval", "from 1 to 172800");
    has_error(&loaded, "agent.omit_hostname", "expected true or false");
    assert!(
        loaded
            .warnings
            .iter()
            .any(|w| w.path == "agent.credentials.role_arn"
                && w.message.contains("does not look like a role ARN")),
        "{:?}",
        loaded.warnings
    );
    has_error(&loaded, "agent.colour", "unknown key");
    has_error(&loaded, "metrics.namespace", "reserved");
    has_error(
        &loaded,
        "metrics.aggregation_dimensions[1]",
        "expected a list of strings",
    );
    has_error(&loaded, "metrics.force_flush_interval", "from 1 to 172800");
    has_error(
        &loaded,
        "metrics.metrics_collected.mem.measurement[1]",
        "mem has no metric \"mem_usd\"",
    );
    has_error(
        &loaded,
        "metrics.metrics_collected.mem.measurement[2].unit",
        "unknown unit \"Furlongs\"",
    );
    has_error(
        &loaded,
        "metrics.metrics_collected.mem.measurement[3].name",
        "required",
    );
    has_error(
        &loaded,
        "metrics.metrics_collected.mem.measurement[4]",
        "listed twice",
    );
    has_error(
        &loaded,
        "metrics.metrics_collected.swap.measurements",
        "unknown key",
    );
    has_error(&loaded, "metrics.metrics_collected.swap.measurement", "required");
    has_error(&loaded, "metrics.metrics_collected.cpu.measurement", "empty list");
    has_error(
        &loaded,
        "metrics.metrics_collected.cpu.totalcpu",
        "expected true or false",
    );
    has_error(
        &loaded,
        "metrics.metrics_collected.disk.measurement",
        "expected a list",
    );
    has_error(
        &loaded,
        "metrics.metrics_collected.disk.drop_device",
        "expected true or false",
    );
    has_error(
        &loaded,
        "metrics.metrics_collected.jmx",
        "not supported by skywatch yet",
    );
    has_error(&loaded, "metrics.metrics_collected.gpu", "unknown plugin");
    has_error(&loaded, "tracing", "unknown key");
    // (A role ARN that does not look like one is a warning: STS says the rest.)
    assert_eq!(loaded.errors.len(), 19, "{:#?}", errors(&loaded));
    let mut warned: Vec<&str> = loaded.warnings.iter().map(|w| w.path.as_str()).collect();
    warned.sort_unstable();
    assert_eq!(
        warned,
        ["agent.credentials.role_arn", "metrics.append_dimensions.Team"]
    );
}

#[test]
fn every_toml_problem_is_reported_with_its_path() {
    let loaded = parse(
        r#"
[agent]
logfile = "/tmp/x"
[outputs]
metrics = "s3"
[health]
listen = "localhost"
[metrics]
endpoint = "x"
[metrics.jmx]
endpoint = "localhost:1314"
[metrics.mem]
measurement = [1]
[metrics.net]
measurement = ["bytes_sent"]
resources = "eth0"
[metrics.mem.extra]
"#,
    );
    has_error(&loaded, "agent.logfile", "unknown key");
    has_error(
        &loaded,
        "outputs.metrics",
        "\"auto\", \"cloudwatch\" or \"local\"",
    );
    has_error(&loaded, "health.listen", "127.0.0.1:9468");
    has_error(&loaded, "metrics.endpoint", "unknown key");
    has_error(&loaded, "metrics.jmx", "not supported by skywatch yet");
    has_error(
        &loaded,
        "metrics.mem.measurement[0]",
        "expected a metric name or a table",
    );
    has_error(&loaded, "metrics.mem.extra", "unknown key");
    has_error(&loaded, "metrics.net.resources", "expected a list of strings");
    assert_eq!(loaded.errors.len(), 8, "{:#?}", errors(&loaded));
}

#[test]
fn unreadable_text_says_where() {
    let json = parse("{ \"agent\": { \"region\": } }");
    assert_eq!(json.format, Format::CloudWatchJson);
    assert!(
        errors(&json)[0].contains("not valid JSON") && errors(&json)[0].contains("line 1"),
        "{:?}",
        errors(&json)
    );
    let toml = parse("[agent]\nregion = \n");
    assert_eq!(toml.format, Format::Toml);
    assert!(
        errors(&toml)[0].contains("not valid TOML") && errors(&toml)[0].contains("line 2"),
        "{:?}",
        errors(&toml)
    );
    let not_object = parse("[1, 2]");
    assert_eq!(
        not_object.format,
        Format::Toml,
        "only an object is recognised as JSON"
    );
}

#[test]
fn an_empty_health_table_listens_on_loopback() {
    let config = parse("[health]\n").config.unwrap();
    assert_eq!(config.health_listen.as_deref(), Some("127.0.0.1:9468"));
    assert_eq!(parse("").config.unwrap().health_listen, None);
}

#[test]
fn the_logs_section_is_read_key_by_key() {
    let good = parse(
        r#"{
  "logs": {
    "log_stream_name": "{instance_id}",
    "force_flush_interval": 5,
    "logs_collected": { "files": { "collect_list": [
      { "file_path": "/var/log/app/app.log*", "log_group_name": "/ec2/app", "log_stream_name": "{instance_id}/app",
        "timestamp_format": "%Y-%m-%d %H:%M:%S.%f", "timezone": "UTC", "multi_line_start_pattern": "{timestamp_format}",
        "encoding": "utf-8", "retention_in_days": 30,
        "filters": [ { "type": "exclude", "expression": "healthcheck" }, { "type": "include", "expression": "(ERROR|WARN)" } ] },
      { "file_path": "/var/log/nginx/**.log", "log_group_name": "/ec2/nginx", "publish_multi_logs": true,
        "blacklist": "error\\.log", "log_group_class": "STANDARD" }
    ] } }
  }
}"#,
    );
    assert_eq!(errors(&good), Vec::<String>::new());
    let logs = good.config.unwrap().logs.unwrap();
    assert_eq!(logs.force_flush_interval_s, 5);
    assert_eq!(logs.files.len(), 2);
    let app = &logs.files[0];
    assert_eq!(app.file_path, "/var/log/app/app.log*");
    assert_eq!(app.log_group_name, "/ec2/app");
    assert_eq!(app.log_stream_name, "{instance_id}/app");
    assert_eq!(app.timestamp_format.as_deref(), Some("%Y-%m-%d %H:%M:%S.%f"));
    assert!(app.timezone_utc);
    assert_eq!(
        app.multi_line_start_pattern.as_deref(),
        Some("{timestamp_format}")
    );
    assert_eq!(app.retention_in_days, Some(30));
    assert_eq!(
        app.filters,
        [
            (FilterKind::Exclude, "healthcheck".to_string()),
            (FilterKind::Include, "(ERROR|WARN)".to_string())
        ]
    );
    let nginx = &logs.files[1];
    assert_eq!(
        nginx.log_stream_name, "{instance_id}",
        "the section's stream name"
    );
    assert!(nginx.publish_multi_logs);
    assert_eq!(nginx.blacklist.as_deref(), Some("error\\.log"));
    let bad = parse(
        r#"{
  "logs": {
    "log_stream_name": "a:b",
    "logs_collected": { "files": { "collect_list": [
      { "log_group_name": "bad group!", "timestamp_format": "%Y-%Q", "timezone": "Mars",
        "multi_line_start_pattern": "(", "encoding": "utf-16", "retention_in_days": 31,
        "filters": [ { "type": "maybe", "expression": "[" } ], "from_beginning": true }
    ] }, "journald": { "priority": "loud" } }
  }
}"#,
    );
    for (path, words) in [
        ("logs.log_stream_name", "without ':' or '*'"),
        ("logs.logs_collected.journald.priority", "expected a priority"),
        ("logs.logs_collected.files.collect_list[0].file_path", "required"),
        (
            "logs.logs_collected.files.collect_list[0].log_group_name",
            "1 to 512 characters",
        ),
        (
            "logs.logs_collected.files.collect_list[0].timestamp_format",
            "%Q is not a token",
        ),
        (
            "logs.logs_collected.files.collect_list[0].timezone",
            "\"UTC\" or \"Local\"",
        ),
        (
            "logs.logs_collected.files.collect_list[0].multi_line_start_pattern",
            "not a valid regular expression",
        ),
        (
            "logs.logs_collected.files.collect_list[0].encoding",
            "not supported by skywatch yet",
        ),
        (
            "logs.logs_collected.files.collect_list[0].retention_in_days",
            "expected one of",
        ),
        (
            "logs.logs_collected.files.collect_list[0].filters[0].type",
            "\"include\" or \"exclude\"",
        ),
        (
            "logs.logs_collected.files.collect_list[0].filters[0].expression",
            "not a valid regular expression",
        ),
        (
            "logs.logs_collected.files.collect_list[0].from_beginning",
            "unknown key",
        ),
    ] {
        has_error(&bad, path, words);
    }
    let toml = parse("[[logs.files]]\nfile_path = \"/var/log/app.log\"\nlog_group_name = \"/ec2/app\"\nretention_in_days = 7\n");
    assert_eq!(errors(&toml), Vec::<String>::new());
}

#[test]
fn our_logs_additions_are_read_and_survive_convert() {
    let good = r#"
[outputs]
logs = "local"

[logs]
force_flush_interval = 2
redact = ["aws_access_key", "email"]

[[logs.files]]
file_path = "/var/log/app/app.log.2024-01-01"
long_lines = "truncate"
emf = true
redact = ["card_number"]
redact_patterns = { order_token = "tok_[0-9a-f]{8}" }
filters = [{ type = "include", expression = "ERROR" }]
encoding = "windows-1252"
"#;
    let bad = format!(
        "{good}\n[[logs.files]]\nfile_path = \"/srv/**.log\"\nredact = [\"no_such_rule\"]\nencoding = \"klingon\"\n"
    );
    assert_eq!(
        errors(&parse(&bad)),
        [
            "logs.files[1].encoding: unknown encoding \"klingon\" (WHATWG labels: utf-8, windows-1252, shift_jis, gbk, …)",
            "logs.files[1].redact[0]: no built-in redaction rule \"no_such_rule\" (there are aws_access_key, aws_secret_key, bearer_token, email, card_number)"
        ]
    );
    let loaded = parse(good);
    assert_eq!(errors(&loaded), Vec::<String>::new());
    let config = loaded.config.unwrap();
    assert_eq!(config.logs_output, Destination::Local);
    let logs = config.logs.clone().unwrap();
    assert_eq!(logs.force_flush_interval_s, 2);
    let file = &logs.files[0];
    assert_eq!(
        file.log_group_name, "/var/log/app/app.log",
        "the path up to its last dot"
    );
    assert_eq!(file.log_stream_name, "{instance_id}");
    assert_eq!(file.long_lines, LongLinesMode::Truncate);
    assert!(file.emf);
    assert_eq!(file.redact, ["aws_access_key", "email", "card_number"]);
    assert_eq!(
        file.redact_patterns,
        BTreeMap::from([("order_token".to_string(), "tok_[0-9a-f]{8}".to_string())])
    );
    let text = to_toml(&config);
    let again = parse(&text);
    assert_eq!(errors(&again), Vec::<String>::new(), "{text}");
    assert_eq!(again.config.unwrap(), config, "{text}");
}

#[test]
fn a_cloudwatch_agent_logs_section_converts_to_toml_with_the_same_meaning() {
    let loaded = parse(
        r#"{"logs": {"logs_collected": {"files": {"collect_list": [
            {"file_path": "/var/log/messages", "log_group_name": "messages", "retention_in_days": 7,
             "timestamp_format": "%b %d %H:%M:%S", "multi_line_start_pattern": "{timestamp_format}",
             "filters": [{"type": "exclude", "expression": "DEBUG"}]}]}}}}"#,
    );
    assert_eq!(errors(&loaded), Vec::<String>::new());
    let config = loaded.config.unwrap();
    let text = to_toml(&config);
    assert!(text.contains("[[logs.files]]"), "{text}");
    assert_eq!(parse(&text).config.unwrap(), config, "{text}");
}

#[test]
fn real_cloudwatch_agent_keys_and_windows_sections_are_named_for_what_they_are() {
    let loaded = parse(
        "\u{feff}{\"agent\": {\"use_dualstack_endpoint\": true, \"debug\": true},
         \"metrics\": {\"metrics_collected\": {\"mem\": {\"measurement\": [\"used_percent\"]},
                                              \"LogicalDisk\": {\"measurement\": [\"% Free Space\"]}}},
         \"logs\": {\"logs_collected\": {\"windows_events\": {\"collect_list\": []},
                    \"files\": {\"collect_list\": [{\"file_path\": \"/var/log/a.log\", \"backpressure_mode\": \"fd_release\"}]}}}}",
    );
    assert!(loaded.errors.is_empty(), "{:?}", loaded.errors);
    let config = loaded.config.unwrap();
    assert!(config.use_dualstack_endpoint);
    let warnings: Vec<String> = loaded.warnings.iter().map(ToString::to_string).collect();
    for expected in [
        "metrics.metrics_collected.LogicalDisk: a Windows performance counter object: Windows-only, ignored on Linux",
        "logs.logs_collected.windows_events: ignored: Windows-only (Windows event logs): ignored on Linux",
        "agent.debug: ignored: skywatch has no debug mode",
        "backpressure_mode: ignored: skywatch never drops lines under backpressure",
    ] {
        assert!(warnings.iter().any(|w| w.contains(expected)), "{expected}\n{warnings:#?}");
    }
    assert!(!warnings.iter().any(|w| w.contains("RUST_LOG")), "{warnings:#?}");
}

#[test]
fn a_key_repeated_in_the_cloudwatch_agents_json_is_named_and_the_last_counts() {
    let loaded = parse(
        r#"{"metrics": {"metrics_collected": {"mem": {"measurement": ["used_percent"], "measurement": ["total"]}}}}"#,
    );
    assert!(loaded.errors.is_empty(), "{:?}", loaded.errors);
    let warnings: Vec<String> = loaded.warnings.iter().map(ToString::to_string).collect();
    assert_eq!(
        warnings,
        ["metrics.metrics_collected.mem.measurement: this key appears twice in the same object: the last one counts (as in the CloudWatch agent); remove the other"]
    );
    let plugin = &loaded.config.unwrap().metrics.unwrap().plugins[0];
    assert_eq!(plugin.measurements[0].field, "total");
}

#[test]
fn windows_counter_objects_with_dots_colons_and_dollars_are_windows_only() {
    let loaded = parse(
        r#"{"metrics": {"metrics_collected": {"mem": {"measurement": ["used_percent"]},
            "ASP.NET Applications": {"measurement": ["Requests/Sec"]},
            "SQLServer:Buffer Manager": {"measurement": ["Page life expectancy"]},
            "MSSQL$SQL1:Locks": {"measurement": ["Lock Waits/sec"]}}}}"#,
    );
    assert!(loaded.errors.is_empty(), "{:?}", loaded.errors);
    assert_eq!(
        loaded
            .warnings
            .iter()
            .filter(|w| w.message.contains("Windows-only"))
            .count(),
        3,
        "{:?}",
        loaded.warnings
    );
}

/// Why a public config may be refused: a part skywatch does not have yet, named as such, or a
/// unit CloudWatch would refuse (PutMetricData takes only its standard units).
const NAMED_REFUSALS: &[&str] = &["not supported by skywatch yet", "unknown unit"];

#[test]
fn every_public_linux_config_is_read_or_refused_only_for_a_reason_it_names() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/configs/public");
    let mut read = 0;
    let mut refused = Vec::new();
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|e| e != "json") {
            continue;
        }
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let loaded = parse(&std::fs::read_to_string(&path).unwrap());
        if name == "invalid_input_linux.json" {
            // The CloudWatch agent's own test of a wrong plugin name.
            has_error(&loaded, "metrics.metrics_collected.system", "unknown plugin");
            continue;
        }
        for e in &loaded.errors {
            assert!(
                NAMED_REFUSALS.iter().any(|why| e.message.contains(why)),
                "{name}: refused for a reason that is not named: {e}"
            );
            assert!(
                !e.message.contains("not supported by skywatch yet")
                    || (e.message.contains("yet: ") && !e.message.contains("no plan yet")),
                "{name}: an unsupported part without its plan: {e}"
            );
        }
        if loaded.errors.is_empty() {
            read += 1;
        } else {
            refused.push(name);
        }
    }
    // Counts as of this fixture set (see tests/configs/public/SOURCES.md): what a new plugin
    // moves from one side to the other (the traces section moved basic_trace_config.json).
    assert!(read >= 28, "{read} read; refused: {refused:?}");
    assert!(
        !refused.iter().any(|name| name == "basic_trace_config.json"),
        "{refused:?}"
    );
}
