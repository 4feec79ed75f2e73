//! `skywatch dashboard` as a user runs it: a preset rendered with variables, a file with
//! mistakes (every problem at once, exit 2, the query's caret), a push to CloudWatch (moto, the
//! real SDK) that GetDashboard returns unchanged, and a dashboard generated from a service graph.

use serde_json::Value;
use skywatch_tests::aws::{env_vars, sdk_config};
use skywatch_tests::moto;
use skywatch_tests::names::unique_name;

use crate::skywatch::{run as skywatch, text};

#[test]
fn the_capstone_preset_renders_with_the_variables_given() {
    let out = skywatch(
        &[
            "dashboard",
            "render",
            "--preset",
            "capstone",
            "--var",
            "region=eu-west-1",
            "--var",
            "instance_id=i-0fedcba9876543210",
        ],
        &[],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let body: Value = serde_json::from_slice(&out.stdout).unwrap();
    let widgets = body["widgets"].as_array().unwrap();
    let log = widgets.iter().find(|w| w["type"] == "log").expect("a log widget");
    let query = log["properties"]["query"].as_str().unwrap();
    assert!(
        query.ends_with(
            r#"fields @timestamp, @message | filter level = "ERROR" | stats count(*) as errorCount by @message | sort errorCount desc | limit 5"#
        ),
        "{query}"
    );
    for widget in widgets
        .iter()
        .filter(|w| w["type"] == "metric" || w["type"] == "log")
    {
        assert_eq!(widget["properties"]["region"], "eu-west-1", "{widget}");
    }
    let rendered = text(&out.stdout);
    assert!(rendered.contains("mem_used_percent") && rendered.contains("i-0fedcba9876543210"));
    // A misspelt variable is refused, naming the ones there are.
    let out = skywatch(
        &[
            "dashboard",
            "render",
            "--preset",
            "capstone",
            "--var",
            "instance=i-1",
        ],
        &[],
    );
    assert_eq!(out.status.code(), Some(2));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("--var instance") && stderr.contains("instance_id"),
        "{stderr}"
    );
    // No two widgets share a cell of the grid.
    let mut cells = std::collections::HashSet::new();
    for w in widgets {
        let (x, y, width, height) = (
            w["x"].as_u64().unwrap(),
            w["y"].as_u64().unwrap(),
            w["width"].as_u64().unwrap(),
            w["height"].as_u64().unwrap(),
        );
        assert!(x + width <= 24, "{w}");
        for cx in x..x + width {
            for cy in y..y + height {
                assert!(cells.insert((cx, cy)), "overlap at {cx},{cy}");
            }
        }
    }
}

#[test]
fn a_file_with_mistakes_gets_every_problem_with_its_path_and_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("board.toml");
    std::fs::write(
        &file,
        r#"
[dashboard]
region = "us-east-1"

[[widget]]
type = "metric"
width = 30
metrics = [["AWS/EC2", "CPUUtilization", "InstanceId", "${instance}"]]

[[widget]]
type = "log"
log_groups = ["/app"]
query = "fields @message | stats cuont(*) by bin(5m)"
"#,
    )
    .unwrap();
    let out = skywatch(&["dashboard", "check", file.to_str().unwrap()], &[]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = text(&out.stderr);
    assert!(stderr.contains("instance"), "{stderr}");
    assert!(stderr.contains("widget[0].width"), "{stderr}");
    assert!(stderr.contains("widget[1].query"), "{stderr}");
    assert!(stderr.contains("unknown function 'cuont'"), "{stderr}");
    assert!(stderr.lines().any(|l| l.trim() == "^^^^^"), "{stderr}");
    // render refuses it the same way, and prints nothing on stdout.
    let out = skywatch(&["dashboard", "render", file.to_str().unwrap()], &[]);
    assert_eq!(out.status.code(), Some(2));
    assert!(out.stdout.is_empty());
}

#[test]
fn push_puts_the_rendered_body_and_get_dashboard_returns_it_unchanged() {
    let moto = moto::shared().unwrap();
    let env = env_vars(&moto.endpoint_url());
    let name = unique_name("board");
    let rendered = skywatch(&["dashboard", "render", "--compact", "--preset", "capstone"], &[]);
    assert!(rendered.status.success(), "{}", text(&rendered.stderr));
    let pushed = skywatch(
        &["dashboard", "push", "--preset", "capstone", "--name", &name],
        &env,
    );
    assert!(pushed.status.success(), "{}", text(&pushed.stderr));
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let body = runtime.block_on(async {
        let client = skywatch_tests::cloudwatch::Client::new(&sdk_config(&moto.endpoint_url()).await);
        let answer = client.get_dashboard().dashboard_name(&name).send().await.unwrap();
        answer.dashboard_body().unwrap_or_default().to_string()
    });
    assert_eq!(body, text(&rendered.stdout).trim_end());
    // A name CloudWatch would refuse is refused before anything is sent.
    let out = skywatch(
        &[
            "dashboard",
            "push",
            "--preset",
            "capstone",
            "--name",
            "no spaces allowed",
        ],
        &env,
    );
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
}

#[test]
fn generate_makes_a_row_per_service_from_a_service_graph() {
    let graph = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/collector/tests/graphs/root_calls_remote_and_dynamodb/graph.json"
    );
    let out = skywatch(
        &[
            "dashboard",
            "generate",
            "--graph",
            graph,
            "--var",
            "account=123456789012",
        ],
        &[],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let body: Value = serde_json::from_slice(&out.stdout).unwrap();
    let services: Vec<String> = serde_json::from_str::<Value>(&std::fs::read_to_string(graph).unwrap())
        .unwrap()["Services"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["Type"] != "client")
        .map(|s| s["Name"].as_str().unwrap().to_string())
        .collect();
    let rendered = text(&out.stdout);
    for service in &services {
        assert!(rendered.contains(service.as_str()), "{service} not in {rendered}");
    }
    assert!(
        body["widgets"]
            .as_array()
            .unwrap()
            .iter()
            .any(|w| w["type"] == "alarm"),
        "{rendered}"
    );
}

#[test]
fn generate_asks_a_running_collector_given_as_a_url() {
    let dir = tempfile::tempdir().unwrap();
    let collector = crate::collector::Collector::start(dir.path(), "", &[]);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64();
    let segment = serde_json::json!({
        "id": "00000000000000c1", "trace_id": format!("1-{:08x}-0000000000000000000000c1", now as u64),
        "name": "checkout-api", "start_time": now - 30.0, "end_time": now - 29.9,
        "http": {"request": {"method": "GET", "url": "http://shop.example/"}, "response": {"status": 200}}
    });
    collector.put_segments(&[segment]);
    let url = format!("http://{}/", collector.http);
    let out = skywatch(
        &[
            "dashboard",
            "generate",
            "--collector",
            &url,
            "--since",
            "15m",
            "--var",
            "account=123456789012",
        ],
        &[],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let rendered = text(&out.stdout);
    assert!(rendered.contains("checkout-api"), "{rendered}");
    collector.stop();
}
