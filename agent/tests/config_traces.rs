//! The `traces` section: our TOML's `[traces]` is the collector's own config, and the
//! CloudWatch agent's `traces` (X-Ray daemon endpoints, OTLP, sent to X-Ray) maps onto it; every
//! key without a counterpart named at its path; `config convert` keeps the meaning.

use std::path::Path;

use skywatch_agent::config::{parse, to_toml, AgentConfig, Loaded, TracesConfig};

fn lines(problems: &[skywatch_agent::config::Problem]) -> Vec<String> {
    problems.iter().map(ToString::to_string).collect()
}

/// The config, which must have been read without errors.
fn read(loaded: Loaded) -> AgentConfig {
    assert_eq!(lines(&loaded.errors), Vec::<String>::new());
    loaded.config.unwrap()
}

fn traces(config: &AgentConfig) -> &TracesConfig {
    config.traces.as_ref().unwrap()
}

/// `to_toml` reads back to the same model, with no problem.
fn converts_back(config: &AgentConfig) -> String {
    let text = to_toml(config);
    let back = parse(&text);
    assert_eq!(lines(&back.errors), Vec::<String>::new(), "{text}");
    assert_eq!(lines(&back.warnings), Vec::<String>::new(), "{text}");
    assert_eq!(back.config.as_ref(), Some(config), "{text}");
    text
}

#[test]
fn the_cloudwatch_agents_traces_section_maps_onto_the_collector_and_forwards_to_xray() {
    let loaded = parse(
        r#"{"agent": {"region": "eu-west-1"},
            "traces": {
              "traces_collected": {
                "xray": {"bind_address": "127.0.0.1:2100", "tcp_proxy": {"bind_address": "0.0.0.0:2101"}},
                "otlp": {"grpc_endpoint": "127.0.0.1:4317", "http_endpoint": "127.0.0.1:4418"}
              },
              "concurrency": 8, "local_mode": false, "region_override": "us-west-2",
              "credentials": {"role_arn": "arn:aws:iam::123456789012:role/xray"},
              "endpoint_override": "https://xray.example", "proxy_override": "https://proxy.example",
              "insecure": false, "buffer_size_mb": 3, "resource_arn": "arn:aws:ec2:us-west-2:123456789012:instance/i-1",
              "transit_spans_in_otlp_format": false}}"#,
    );
    let warnings = lines(&loaded.warnings);
    let config = read(loaded);
    let collector = &traces(&config).collector;
    assert_eq!(collector.udp.as_deref(), Some("127.0.0.1:2100"));
    assert_eq!(collector.http.as_deref(), Some("0.0.0.0:2101"));
    assert_eq!(collector.otlp_http.as_deref(), Some("127.0.0.1:4418"));
    let forward = collector.forward.as_ref().unwrap();
    assert_eq!(
        forward.region.as_deref(),
        Some("us-west-2"),
        "region_override wins"
    );
    assert_eq!(
        forward.role_arn.as_deref(),
        Some("arn:aws:iam::123456789012:role/xray")
    );
    assert_eq!(
        collector.store_max_mb, None,
        "kept in the local store too, by default"
    );
    assert_eq!(
        warnings,
        [
            "traces.concurrency: ignored: the collector sends up to 8 batches to X-Ray at once (fixed)",
            "traces.local_mode: ignored: the instance metadata is asked for the region only when none is configured, and briefly (AWS_EC2_METADATA_DISABLED=true turns it off)",
            "traces.endpoint_override: ignored: set AWS_ENDPOINT_URL_XRAY in the service's environment instead",
            "traces.proxy_override: ignored: X-Ray is called directly; there is no proxy setting",
            "traces.insecure: ignored: X-Ray's TLS certificate is always verified",
            "traces.buffer_size_mb: ignored: what waits for X-Ray is bounded by the collector's own limits ([traces.forward] in skywatch TOML), and what they drop is counted",
            "traces.resource_arn: ignored: telemetry records are sent without a resource ARN",
            "traces.transit_spans_in_otlp_format: ignored: documents are sent to X-Ray as segment documents (PutTraceSegments)",
            "traces.traces_collected.otlp.grpc_endpoint: OTLP/gRPC is not served: point the exporter at http_endpoint (OTLP/HTTP, the same data)",
        ]
    );
    // The store goes to the agent's state directory.
    let settings = traces(&config)
        .for_run(&config)
        .resolve(Path::new("/var/lib/skywatch"))
        .unwrap();
    assert_eq!(
        settings.store.dir.as_deref(),
        Some(Path::new("/var/lib/skywatch/traces"))
    );
    assert_eq!(settings.udp.unwrap().to_string(), "127.0.0.1:2100");
    let text = converts_back(&config);
    assert!(text.contains("[traces]"), "{text}");
    assert!(text.contains("[traces.forward]"), "{text}");
}

#[test]
fn an_empty_xray_receiver_is_the_daemons_defaults_and_forwards_in_the_agents_region() {
    let config = read(parse(
        r#"{"agent": {"region": "eu-west-1", "credentials": {"role_arn": "arn:aws:iam::123456789012:role/agent"}},
            "traces": {"traces_collected": {"xray": {}}}}"#,
    ));
    let collector = &traces(&config).collector;
    assert_eq!(collector.udp.as_deref(), Some("127.0.0.1:2000"));
    assert_eq!(collector.http.as_deref(), Some("127.0.0.1:2000"));
    assert_eq!(collector.otlp_http, None);
    assert_eq!(collector.forward.as_ref().unwrap().region, None);
    // The run takes the agent's region and role.
    let run = traces(&config).for_run(&config);
    let forward = run.forward.unwrap();
    assert_eq!(forward.region.as_deref(), Some("eu-west-1"));
    assert_eq!(
        forward.role_arn.as_deref(),
        Some("arn:aws:iam::123456789012:role/agent")
    );
    converts_back(&config);
}

#[test]
fn an_otlp_receiver_alone_turns_the_daemon_endpoints_off() {
    let loaded = parse(r#"{"traces": {"traces_collected": {"otlp": {}}}}"#);
    assert_eq!(
        lines(&loaded.warnings),
        ["traces.traces_collected.otlp: OTLP/gRPC (the CloudWatch agent's 127.0.0.1:4317) is not served: point exporters at http_endpoint (OTLP/HTTP, the same data)"]
    );
    let config = read(loaded);
    let settings = traces(&config).collector.resolve(Path::new("/s")).unwrap();
    assert_eq!(settings.udp, None);
    assert_eq!(settings.http, None);
    assert_eq!(settings.otlp_http.unwrap().to_string(), "127.0.0.1:4318");
    // A list of one receiver is the same.
    let listed = read(parse(
        r#"{"traces": {"traces_collected": {"otlp": [{"http_endpoint": "127.0.0.1:4318"}]}}}"#,
    ));
    assert_eq!(
        traces(&listed).collector.otlp_http.as_deref(),
        Some("127.0.0.1:4318")
    );
    converts_back(&config);
}

#[test]
fn an_otlp_address_equal_to_the_tcp_proxy_is_served_by_the_one_listener() {
    let config = read(parse(
        r#"{"traces": {"traces_collected": {"xray": {"tcp_proxy": {"bind_address": ":4318"}}, "otlp": {"http_endpoint": ":4318"}}}}"#,
    ));
    let collector = &traces(&config).collector;
    assert_eq!(
        collector.http.as_deref(),
        Some("0.0.0.0:4318"),
        "`:port` is every interface"
    );
    assert_eq!(collector.otlp_http, None);
}

#[test]
fn every_problem_in_a_cloudwatch_traces_section_is_named_at_its_path() {
    let loaded = parse(
        r#"{"traces": {"traces_collected": {
              "xray": {"bind_address": "localhost:2000", "port": 2000, "tcp_proxy": {"bind_address": 2000}},
              "otlp": [{"http_endpoint": "127.0.0.1:4318", "tls": {"cert_file": "/c"}}, {"http_endpoint": "127.0.0.1:4319"}],
              "application_signals": {}},
            "region_override": 1, "role_arn": "arn:aws:iam::123456789012:role/xray"}}"#,
    );
    assert!(loaded.config.is_none());
    let mut errors = lines(&loaded.errors);
    errors.sort();
    assert_eq!(
        errors,
        [
            "traces.region_override: expected a string, found a number",
            "traces.role_arn: unknown key (expected one of: credentials, region_override, traces_collected)",
            "traces.traces_collected.application_signals: not supported by skywatch yet: Container Insights and Application Signals belong to the EKS/ECS agents; not planned for the instance agent",
            "traces.traces_collected.otlp[0].tls: not supported by skywatch yet: the OTLP listener speaks plain HTTP: keep it on loopback, or put a TLS-terminating proxy in front",
            "traces.traces_collected.otlp[1]: the collector takes OTLP/HTTP on one address: list one receiver",
            "traces.traces_collected.xray.bind_address: expected an IP address and port such as \"127.0.0.1:2000\", found \"localhost:2000\"",
            "traces.traces_collected.xray.port: unknown key (expected one of: bind_address, tcp_proxy)",
            "traces.traces_collected.xray.tcp_proxy.bind_address: expected a string, found a number",
        ]
    );
}

#[test]
fn a_cloudwatch_traces_section_without_a_receiver_is_an_error_at_traces_collected() {
    for json in [
        r#"{"traces": {"traces_collected": {}}}"#,
        r#"{"traces": {"traces_collected": {"application_signals": {}}}}"#,
    ] {
        let loaded = parse(json);
        assert!(
            loaded.errors.iter().any(|e| e.to_string()
                == "traces.traces_collected: no receiver: add xray (the X-Ray daemon's UDP and TCP endpoints) or otlp (OTLP/HTTP)"),
            "{json}: {:?}",
            lines(&loaded.errors)
        );
    }
    let missing = parse(r#"{"traces": {"region_override": "us-east-1"}}"#);
    assert_eq!(
        lines(&missing.errors),
        ["traces.traces_collected: required: the receivers to run (xray, otlp)"]
    );
}

#[test]
fn an_empty_traces_table_runs_the_collector_with_its_local_defaults() {
    let config = read(parse("[traces]\n"));
    let collector = &traces(&config).collector;
    assert!(collector.forward.is_none(), "local only");
    let settings = collector.resolve(Path::new("/s")).unwrap();
    assert_eq!(settings.udp.unwrap().to_string(), "127.0.0.1:2000");
    assert_eq!(settings.http.unwrap().to_string(), "127.0.0.1:2000");
    assert_eq!(settings.store.dir.as_deref(), Some(Path::new("/s/traces")));
    // Not forwarding, the agent's region does not turn it on.
    let with_region = read(parse("[agent]\nregion = \"eu-west-1\"\n[traces]\n"));
    assert!(traces(&with_region).for_run(&with_region).forward.is_none());
    let text = converts_back(&config);
    assert!(text.contains("[traces]"), "{text}");
}

#[test]
fn our_traces_table_is_read_with_the_collectors_keys_and_converts_back() {
    let config = read(parse(
        r#"
[agent]
region = "eu-west-1"

[traces]
udp = "127.0.0.1:2200"
http = ""
otlp_http = "127.0.0.1:4318"
store_dir = "/var/lib/traces"
store_max_mb = 64
store_max_age_hours = 6
queue_documents = 1000

[traces.forward]
spool_documents = 500

[[traces.sampling_rules]]
RuleName = "checkout"
Priority = 1
FixedRate = 0.05
ReservoirSize = 2
ServiceName = "checkout-api"
"#,
    ));
    let collector = &traces(&config).collector;
    assert_eq!(collector.udp.as_deref(), Some("127.0.0.1:2200"));
    assert_eq!(collector.http.as_deref(), Some(""));
    assert_eq!(collector.store_max_mb, Some(64));
    assert_eq!(collector.queue_documents, Some(1000));
    assert_eq!(collector.sampling_rules[0].rule_name, "checkout");
    assert_eq!(collector.sampling_rules[0].fixed_rate, 0.05);
    let forward = traces(&config).for_run(&config).forward.unwrap();
    assert_eq!(
        forward.region.as_deref(),
        Some("eu-west-1"),
        "forward.region unset: the agent's"
    );
    assert_eq!(forward.spool_documents, Some(500));
    let text = converts_back(&config);
    assert!(text.contains("[[traces.sampling_rules]]"), "{text}");
}

#[test]
fn every_problem_in_our_traces_table_names_its_key_path() {
    for (toml, expected) in [
        (
            "[traces]\nudpp = \"127.0.0.1:2000\"\n",
            "traces.udpp: unknown field `udpp`",
        ),
        (
            "[traces.forward]\nregion = 5\n",
            "traces.forward.region: invalid type: integer `5`, expected a string",
        ),
        (
            "[traces]\nudp = \"localhost\"\n",
            "traces.udp: \"localhost\" is not host:port (an IP address and a port)",
        ),
        (
            "[[traces.sampling_rules]]\nRuleName = \"r\"\nPriority = 1\nFixedRate = \"all\"\nReservoirSize = 1\n",
            "traces.sampling_rules[0].FixedRate: invalid type: string \"all\", expected f64",
        ),
        (
            "[traces]\nstore_max_mb = 0\n",
            "traces.store_max_mb: 0 keeps nothing, and with no [forward] every trace would be lost",
        ),
    ] {
        let loaded = parse(toml);
        assert!(loaded.config.is_none(), "{toml}");
        let errors = lines(&loaded.errors);
        assert!(
            errors.len() == 1 && errors[0].starts_with(expected),
            "{toml}\nexpected {expected:?}\ngot {errors:#?}"
        );
    }
}

#[test]
fn a_config_with_only_traces_has_something_to_do() {
    let dir = tempfile::tempdir().unwrap();
    for (name, text) in [
        ("only.toml", "[traces]\n"),
        ("only.json", r#"{"traces": {"traces_collected": {"xray": {}}}}"#),
    ] {
        let path = dir.path().join(name);
        std::fs::write(&path, text).unwrap();
        let loaded = skywatch_agent::config::load(&path);
        assert_eq!(lines(&loaded.errors), Vec::<String>::new(), "{name}");
        assert!(loaded.config.unwrap().traces.is_some(), "{name}");
    }
}
