//! The public contract of `skywatch_loggen`: determinism, budgets, and the
//! shape of each kind.

use std::collections::HashMap;

use serde_json::Value;
use skywatch_loggen::{
    generate, parse_rfc3339_ms, write_fixtures, Kind, Options, APP_JSON_KEY_ORDER, DEFAULT_START_MS,
};

fn gen(kind: Kind, opts: &Options) -> (Vec<u8>, (u64, u64)) {
    let mut out = Vec::new();
    let counts = generate(kind, opts, &mut out).unwrap_or_else(|e| panic!("{kind}: {e}"));
    (out, counts)
}

fn lines(kind: Kind, seed: u64, n: u64) -> Vec<String> {
    let (out, _) = gen(
        kind,
        &Options {
            seed,
            lines: Some(n),
            ..Options::default()
        },
    );
    String::from_utf8(out)
        .unwrap_or_else(|e| panic!("{kind}: {e}"))
        .lines()
        .map(str::to_owned)
        .collect()
}

fn newlines(bytes: &[u8]) -> u64 {
    bytes.split(|&b| b == b'\n').count() as u64 - 1
}

/// FNV-1a, to pin output without storing it.
fn fnv(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

#[test]
fn same_seed_gives_identical_bytes_and_another_seed_differs() {
    for &kind in Kind::all() {
        let opts = Options {
            seed: 9,
            lines: Some(3000),
            ..Options::default()
        };
        let (a, _) = gen(kind, &opts);
        let (b, _) = gen(kind, &opts);
        assert_eq!(a, b, "{kind}");
        let (c, _) = gen(kind, &Options { seed: 10, ..opts });
        assert_ne!(a, c, "{kind}");
    }
}

/// Output depends on nothing but the seed: no libm, no hash order, no clock.
/// A failure on one platform only is a determinism bug. If the generator was
/// changed on purpose, print the new digests with `--nocapture` and update.
#[test]
fn output_is_pinned_per_kind() {
    let pinned = [
        (Kind::AppJson, 0x036f_ff07_daa7_1f82),
        (Kind::Access, 0xf0ae_ca67_9c8e_862f),
        (Kind::Lambda, 0x7a5b_3ecd_15a5_43ca),
        (Kind::VpcFlow, 0x3505_a613_3f38_c5be),
        (Kind::Route53, 0xeebc_9026_d5bf_d8b4),
        (Kind::CloudTrail, 0x0ea6_acd1_6a8b_7e2c),
        (Kind::ApiGateway, 0x3266_ff16_0970_72f2),
        (Kind::AppText, 0x2564_3102_0f87_c4c1),
    ];
    let mut actual = Vec::new();
    for &kind in Kind::all() {
        let (out, _) = gen(
            kind,
            &Options {
                seed: 1,
                lines: Some(500),
                ..Options::default()
            },
        );
        actual.push((kind, fnv(&out)));
    }
    println!("{actual:#x?}");
    for (kind, digest) in pinned {
        let got = actual.iter().find(|(k, _)| *k == kind).map(|(_, d)| *d);
        assert_eq!(got, Some(digest), "{kind} output changed");
    }
}

#[test]
fn byte_budget_is_respected_and_lines_are_never_cut() {
    for &kind in Kind::all() {
        for budget in [0u64, 1, 150, 4096, 100_003, 1 << 20] {
            let (out, (n, bytes)) = gen(
                kind,
                &Options {
                    bytes: Some(budget),
                    ..Options::default()
                },
            );
            assert!(bytes <= budget, "{kind} {budget}");
            assert_eq!(out.len() as u64, bytes);
            assert_eq!(newlines(&out), n);
            assert!(out.is_empty() || out.ends_with(b"\n"));
            // Stopped only because the next whole line would not fit.
            let (more, _) = gen(
                kind,
                &Options {
                    lines: Some(n + 1),
                    ..Options::default()
                },
            );
            assert!(
                more.starts_with(&out) && more.len() as u64 > budget,
                "{kind} {budget}"
            );
        }
    }
}

#[test]
fn line_budget_is_exact_and_the_smaller_limit_wins() {
    for &kind in Kind::all() {
        let (out, (n, bytes)) = gen(
            kind,
            &Options {
                lines: Some(777),
                ..Options::default()
            },
        );
        assert_eq!((n, out.len() as u64), (777, bytes));
        assert_eq!(newlines(&out), 777);
        let (_, (n2, b2)) = gen(
            kind,
            &Options {
                lines: Some(777),
                bytes: Some(bytes / 2),
                ..Options::default()
            },
        );
        assert!(n2 < 777 && b2 <= bytes / 2);
    }
}

#[test]
fn every_line_is_one_ascii_line() {
    for &kind in Kind::all() {
        let (out, _) = gen(
            kind,
            &Options {
                lines: Some(20_000),
                ..Options::default()
            },
        );
        assert!(out.is_ascii(), "{kind}");
        assert!(!out.contains(&b'\r'), "{kind}");
        assert!(!out.windows(2).any(|w| w == b"\n\n"), "{kind}: empty line");
    }
}

/// The bulk shape of the peer benchmark's app.jsonl.
const BULK_KEYS: [&str; 14] = [
    "timestamp",
    "level",
    "message",
    "requestId",
    "userId",
    "method",
    "path",
    "status",
    "latencyMs",
    "service",
    "host",
    "http",
    "error",
    "job",
];

/// Top-level keys in the order they appear in the text.
fn keys_in_order(line: &str) -> Vec<String> {
    struct Keys;
    impl<'de> serde::de::Visitor<'de> for Keys {
        type Value = Vec<String>;
        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str("an object")
        }
        fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Vec<String>, A::Error> {
            let mut keys = Vec::new();
            while let Some(k) = map.next_key::<String>()? {
                map.next_value::<serde::de::IgnoredAny>()?;
                keys.push(k);
            }
            Ok(keys)
        }
    }
    let mut de = serde_json::Deserializer::from_str(line);
    serde::Deserializer::deserialize_map(&mut de, Keys).unwrap_or_else(|e| panic!("{e}: {line}"))
}

fn assert_ordered_subset(keys: &[String], order: &[&str], line: &str) {
    let mut last = None;
    for k in keys {
        let at = order
            .iter()
            .position(|o| o == k)
            .unwrap_or_else(|| panic!("unexpected key {k}: {line}"));
        assert!(last < Some(at), "key {k} out of order: {line}");
        last = Some(at);
    }
}

#[test]
fn app_json_lines_parse_and_keep_the_fixed_key_order() {
    assert_eq!(&APP_JSON_KEY_ORDER[..BULK_KEYS.len()], &BULK_KEYS);
    let mut max_ts = i64::MIN;
    for line in lines(Kind::AppJson, 42, 30_000) {
        let v: Value = serde_json::from_str(&line).unwrap_or_else(|e| panic!("{e}: {line}"));
        let keys = keys_in_order(&line);
        assert_ordered_subset(&keys, &BULK_KEYS, &line);
        for required in [
            "timestamp",
            "level",
            "message",
            "requestId",
            "latencyMs",
            "service",
            "host",
        ] {
            assert!(v.get(required).is_some(), "no {required}: {line}");
        }
        // HTTP fields come together, and never on background-worker lines.
        let http = ["method", "path", "status"].map(|k| v.get(k).is_some());
        assert!(http == [true; 3] || http == [false; 3], "{line}");
        assert_eq!(v.get("job").is_some(), !http[0], "{line}");
        let ts = parse_rfc3339_ms(v["timestamp"].as_str().unwrap()).unwrap();
        assert!(ts >= max_ts.saturating_sub(250), "more than 250 ms back: {line}");
        max_ts = max_ts.max(ts);
        assert!(line.as_bytes()[line.len() - 5..].contains(&b'}'));
    }
}

#[test]
fn app_json_distributions_are_within_tolerance_on_100k_lines() {
    let lines = lines(Kind::AppJson, 42, 100_000);
    let n = lines.len() as f64;
    let mut levels: HashMap<String, f64> = HashMap::new();
    let (mut no_user, mut http, mut jobs, mut errors, mut with_error, mut late) =
        (0.0, 0.0, 0.0, 0.0, 0.0, 0.0);
    let mut bytes = 0.0;
    let mut prev = i64::MIN;
    let mut first_ts = None;
    let mut last_ts = 0;
    for line in &lines {
        bytes += line.len() as f64 + 1.0;
        let v: Value = serde_json::from_str(line).unwrap();
        let level = v["level"].as_str().unwrap();
        *levels.entry(level.to_owned()).or_default() += 1.0;
        no_user += f64::from(u8::from(v.get("userId").is_none()));
        http += f64::from(u8::from(v.get("http").is_some()));
        jobs += f64::from(u8::from(v.get("job").is_some()));
        if level == "ERROR" {
            errors += 1.0;
            with_error += f64::from(u8::from(v.get("error").is_some()));
            if let Some(status) = v.get("status") {
                assert!(status.as_u64().unwrap() >= 500, "{line}");
            }
        }
        let ts = parse_rfc3339_ms(v["timestamp"].as_str().unwrap()).unwrap();
        late += f64::from(u8::from(ts < prev));
        prev = ts;
        first_ts.get_or_insert(ts);
        last_ts = ts;
    }
    let share = |l: &str| levels.get(l).copied().unwrap_or(0.0) / n;
    for (level, want, tol) in [
        ("INFO", 0.80, 0.01),
        ("WARN", 0.10, 0.006),
        ("ERROR", 0.03, 0.003),
        ("DEBUG", 0.07, 0.005),
    ] {
        assert!((share(level) - want).abs() < tol, "{level}: {}", share(level));
    }
    assert!(
        (no_user / n - 0.10).abs() < 0.01,
        "userId missing on {}",
        no_user / n
    );
    assert!((http / n - 0.55).abs() < 0.015, "http on {}", http / n);
    assert!((jobs / n - 0.04).abs() < 0.005, "job on {}", jobs / n);
    assert!(
        (with_error / errors - 0.70).abs() < 0.05,
        "error on {} of ERROR",
        with_error / errors
    );
    // 30 % jittered lines show up as roughly 15-25 % of lines earlier than their predecessor.
    assert!((0.1..0.3).contains(&(late / n)), "late {}", late / n);
    let rate = n / ((last_ts - first_ts.unwrap()) as f64 / 1000.0);
    assert!((32.0..40.0).contains(&rate), "{rate} lines/s");
    let avg = bytes / n;
    assert!((300.0..480.0).contains(&avg), "{avg} bytes per line");
}

#[test]
fn access_lines_have_the_nginx_combined_shape() {
    let combined = regex::Regex::new(
        r#"^\d{1,3}(\.\d{1,3}){3} - - \[\d{2}/[A-Z][a-z]{2}/\d{4}:\d{2}:\d{2}:\d{2} \+0000\] "(GET|POST|PUT|PATCH|DELETE) /\S* HTTP/(1\.1|2\.0)" \d{3} \d+ "[^"]*" "[^"]*"$"#,
    )
    .unwrap();
    let malformed = regex::Regex::new(r#"^\d{1,3}(\.\d{1,3}){3} - - \[[^\]]+\] "-" 400 0 "-" "-"$"#).unwrap();
    let mut bad = 0;
    for line in lines(Kind::Access, 42, 100_000) {
        if malformed.is_match(&line) {
            bad += 1;
        } else {
            assert!(combined.is_match(&line), "{line}");
        }
    }
    assert!(
        (5..=50).contains(&bad),
        "{bad} malformed lines in 100k (want ~0.02 %)"
    );
}

#[test]
fn json_kinds_write_valid_json_objects() {
    for kind in [Kind::CloudTrail, Kind::ApiGateway] {
        for line in lines(kind, 3, 5000) {
            let v: Value = serde_json::from_str(&line).unwrap_or_else(|e| panic!("{kind}: {e}: {line}"));
            assert!(v.is_object());
        }
    }
}

// ---- fixtures ----------------------------------------------------------------

/// Epoch ms of a fixture line, where the line carries its own time.
fn line_time(kind: Kind, line: &str) -> Option<i64> {
    let json = |key: &str| -> Option<i64> {
        let v: Value = serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}"));
        match &v[key] {
            Value::String(s) => parse_rfc3339_ms(s),
            n => n.as_i64(),
        }
    };
    match kind {
        Kind::AppJson => json("timestamp"),
        Kind::CloudTrail => json("eventTime"),
        Kind::ApiGateway => json("requestTimeEpoch"),
        Kind::Route53 => parse_rfc3339_ms(line.split(' ').nth(1)?),
        Kind::VpcFlow => line.split(' ').nth(10)?.parse::<i64>().ok().map(|s| s * 1000),
        Kind::Lambda | Kind::AppText => {
            let t = line.strip_prefix("ts=").unwrap_or(line);
            t.get(..24).and_then(parse_rfc3339_ms)
        }
        Kind::Access => {
            let t = &line[line.find('[')? + 1..line.find(']')?];
            let month = [
                "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
            ]
            .iter()
            .position(|m| *m == &t[3..6])?;
            let iso = format!("{}-{:02}-{}T{}Z", &t[7..11], month + 1, &t[..2], &t[12..20]);
            parse_rfc3339_ms(&iso)
        }
    }
}

#[test]
fn fixtures_are_written_for_every_kind_reproducibly() {
    let dir = tempfile::tempdir().unwrap();
    let paths = write_fixtures(dir.path()).unwrap();
    assert_eq!(paths.len(), Kind::all().len());
    let again = tempfile::tempdir().unwrap();
    write_fixtures(again.path()).unwrap();

    for (&kind, path) in Kind::all().iter().zip(&paths) {
        assert_eq!(
            path.file_name().unwrap().to_str().unwrap(),
            format!("{}.log", kind.name())
        );
        let bytes = std::fs::read(path).unwrap();
        assert_eq!(
            bytes,
            std::fs::read(again.path().join(path.file_name().unwrap())).unwrap(),
            "{kind}"
        );
        assert!(bytes.is_ascii() && bytes.ends_with(b"\n"));
        let text = String::from_utf8(bytes).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert!(
            (300..=2000).contains(&lines.len()),
            "{kind}: {} lines",
            lines.len()
        );
        if kind == Kind::Lambda {
            assert!(
                lines.len() as u64 > kind.fixture_lines() - 10
                    && lines.last().unwrap().starts_with("REPORT ")
            );
        } else {
            assert_eq!(lines.len() as u64, kind.fixture_lines());
        }

        let times: Vec<i64> = lines.iter().filter_map(|l| line_time(kind, l)).collect();
        assert!(
            times.len() * 2 > lines.len() || kind == Kind::Lambda,
            "{kind}: few timestamps"
        );
        let first = times[0];
        let last = *times.last().unwrap();
        assert!(
            (DEFAULT_START_MS..DEFAULT_START_MS + 300_000).contains(&first),
            "{kind} starts at {first}"
        );
        let hours = (last - first) as f64 / 3_600_000.0;
        assert!((2.0..4.5).contains(&hours), "{kind} spans {hours} h");
        // Increasing; app-json alone has its ≤ 250 ms jitter, and VPC records and
        // CloudTrail events have whole-second times.
        let slack = if kind == Kind::AppJson { 250 } else { 0 };
        let mut max = i64::MIN;
        for t in &times {
            assert!(*t >= max.saturating_sub(slack), "{kind}: time goes back");
            max = max.max(*t);
        }
    }
}

#[test]
fn fixtures_carry_what_the_conformance_corpus_queries() {
    let all = {
        let dir = tempfile::tempdir().unwrap();
        let paths = write_fixtures(dir.path()).unwrap();
        Kind::all()
            .iter()
            .zip(paths)
            .map(|(&k, p)| (k, std::fs::read_to_string(p).unwrap()))
            .collect::<HashMap<_, _>>()
    };
    let has = |kind: Kind, needle: &str| {
        assert!(all[&kind].contains(needle), "{kind} fixture has no {needle:?}");
    };

    let lambda = &all[&Kind::Lambda];
    assert_eq!(lambda.matches("Task timed out after 3.00 seconds").count(), 1);
    assert!(lambda
        .lines()
        .any(|l| l.starts_with("REPORT ") && l.contains("\tInit Duration: ")));
    assert!(lambda
        .lines()
        .any(|l| l.starts_with("REPORT ") && !l.contains("Init Duration")));
    assert!(lambda.lines().any(|l| l.starts_with("REPORT ") && {
        let d = l.split("Duration: ").nth(1).unwrap();
        d[..d.find(' ').unwrap()].parse::<f64>().unwrap() > 1000.0
    }));
    has(Kind::Lambda, "\tINFO\tReceived event: {\"orderId\":");
    has(Kind::Lambda, "START RequestId: ");
    has(Kind::Lambda, "END RequestId: ");

    for needle in [
        " SKIPDATA",
        " NODATA",
        " 17 ",
        " 6 ",
        " 192.0.2.",
        " 10.0.",
        "eni-0123456789abcdef0 ",
        " REJECT ",
    ] {
        has(Kind::VpcFlow, needle);
    }
    has(Kind::VpcFlow, " 203.0.113.5 ");

    for needle in [" SERVFAIL ", " NOERROR ", " NXDOMAIN ", " AAAA ", " MX "] {
        has(Kind::Route53, needle);
    }
    assert!(all[&Kind::Route53]
        .lines()
        .all(|l| l.split(' ').count() == 10 && l.starts_with("1.0 ")));

    let events: Vec<Value> = all[&Kind::CloudTrail]
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let any = |f: &dyn Fn(&Value) -> bool| events.iter().any(f);
    assert!(any(
        &|e| e["eventName"] == "StartInstances" && e["awsRegion"] == "us-east-2"
    ));
    assert!(any(
        &|e| e["eventName"] == "StopInstances" && e["awsRegion"] == "us-east-2"
    ));
    assert!(any(
        &|e| e["eventName"] == "CreateUser" && e["responseElements"]["user"]["arn"].is_string()
    ));
    assert!(any(
        &|e| e["eventName"] == "UpdateTrail" && e["errorCode"].is_string()
    ));
    assert!(any(&|e| e["tlsDetails"]["tlsVersion"] == "TLSv1.1"));
    assert!(any(&|e| e["tlsDetails"]["tlsVersion"] == "TLSv1"));
    assert!(any(&|e| e["errorCode"].is_null() && e["userAgent"].is_string()));
    assert!(any(&|e| e
        .pointer("/requestParameters/instancesSet/items/0/instanceId")
        == Some(&Value::from("i-abcde123"))));

    let apigw: Vec<Value> = all[&Kind::ApiGateway]
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert!(apigw
        .iter()
        .any(|e| (400..500).contains(&e["status"].as_u64().unwrap())));
    assert!(apigw
        .iter()
        .any(|e| e["status"] == 200 && e["integrationLatency"].is_u64()));
    for key in [
        "status",
        "ip",
        "path",
        "httpMethod",
        "responseLatency",
        "integrationLatency",
        "requestId",
    ] {
        assert!(apigw.iter().all(|e| e.get(key).is_some()), "apigw without {key}");
    }

    let mut seen: HashMap<String, usize> = HashMap::new();
    for line in all[&Kind::AppJson].lines() {
        let keys = keys_in_order(line);
        assert_ordered_subset(&keys, APP_JSON_KEY_ORDER, line);
        for k in keys {
            *seen.entry(k).or_default() += 1;
        }
    }
    let missing: Vec<_> = APP_JSON_KEY_ORDER
        .iter()
        .filter(|k| !seen.contains_key(**k))
        .collect();
    assert!(missing.is_empty(), "app-json fixture never has {missing:?}");
    has(Kind::AppJson, r#""clientIp":"2001:db8:"#);
    has(Kind::AppJson, r#""roles":"[\""#);
    has(Kind::AppJson, r#""latencyStr":"n/a""#);
    has(Kind::AppJson, "resuming normal operations");
    has(Kind::AppJson, "Failed to do: ");
    has(Kind::AppJson, "Exception");

    for needle in [
        "Z [ERROR] {foo=",
        "} The error was: DataIntegrityException",
        ", latency := ",
        "level=error msg=\"",
        "Status Code: 404;",
        "eni-0123456789abcdef0 ",
        " url=/api/v2/users/",
        " payload={\"user\":{\"name\":",
    ] {
        has(Kind::AppText, needle);
    }
    let csv = regex::Regex::new(r"(?m)^web-\d,[A-Z]+,/\S+,\d{3},\d+$").unwrap();
    assert!(csv.is_match(&all[&Kind::AppText]));
    let user = regex::Regex::new(r"(?m)^user=[a-z]+, method:[A-Z]+, latency := \d+$").unwrap();
    assert!(user.is_match(&all[&Kind::AppText]));
    has(Kind::Access, "\"-\" 400 0 \"-\" \"-\"");
}

#[test]
fn the_binary_writes_a_byte_budget_to_a_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("x.jsonl");
    let status = std::process::Command::new(env!("CARGO_BIN_EXE_loggen"))
        .args(["app-json", "--bytes", "64K", "--seed", "5", "-o"])
        .arg(&path)
        .output()
        .unwrap();
    assert!(
        status.status.success(),
        "{}",
        String::from_utf8_lossy(&status.stderr)
    );
    let written = std::fs::read(&path).unwrap();
    assert!(written.len() <= 64 * 1024 && written.len() > 60 * 1024);
    let (expected, _) = gen(
        Kind::AppJson,
        &Options {
            seed: 5,
            bytes: Some(64 * 1024),
            ..Options::default()
        },
    );
    assert_eq!(written, expected);

    let out = std::process::Command::new(env!("CARGO_BIN_EXE_loggen"))
        .args(["vpc-flow", "-n", "3"])
        .output()
        .unwrap();
    assert_eq!(String::from_utf8(out.stdout).unwrap().lines().count(), 3);
}
