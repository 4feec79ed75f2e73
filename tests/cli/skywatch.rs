//! The `skywatch` command line: help, version, and honest stubs.

use std::process::Command;

fn skywatch() -> Command {
    Command::new(env!("CARGO_BIN_EXE_skywatch"))
}

#[test]
fn version_prints_the_package_version() {
    let out = skywatch().arg("--version").output().unwrap();
    assert!(out.status.success());
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        format!("skywatch {}", env!("CARGO_PKG_VERSION"))
    );
}

#[test]
fn help_lists_every_subcommand() {
    let out = skywatch().arg("--help").output().unwrap();
    assert!(out.status.success());
    let help = String::from_utf8_lossy(&out.stdout);
    for sub in ["agent", "collector", "dashboard", "alarms", "config", "up"] {
        assert!(
            help.lines().any(|l| l.trim_start().starts_with(sub)),
            "{sub} missing from:\n{help}"
        );
    }
}

#[test]
fn unbuilt_subcommands_say_so_and_fail() {
    for sub in ["collector", "dashboard", "alarms", "up"] {
        let out = skywatch().arg(sub).output().unwrap();
        assert_eq!(out.status.code(), Some(1), "{sub}");
        assert_eq!(
            String::from_utf8_lossy(&out.stderr).trim(),
            format!("skywatch {sub}: not implemented yet")
        );
    }
}

#[test]
fn unknown_subcommand_is_a_usage_error() {
    let out = skywatch().arg("frobnicate").output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("unrecognized subcommand 'frobnicate'"));
}

const CLOUDWATCH_CONFIG: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/agent/tests/configs/cloudwatch-full.json"
);

#[test]
fn config_check_accepts_the_cloudwatch_agents_json_and_notes_what_it_ignores() {
    let out = skywatch()
        .args(["config", "check", CLOUDWATCH_CONFIG])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&out.stdout).contains("ok (CloudWatch agent JSON)"));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("warning: agent.logfile: ignored"), "{stderr}");
}

#[test]
fn config_check_lists_every_error_with_its_path_and_exits_2() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("bad.toml");
    std::fs::write(
        &file,
        "[metrics.mem]\nmeasurement = [\"mem_usd\"]\n[metrics.swap]\nmeasurement = [\"free\"]\ncolour = 1\n",
    )
    .unwrap();
    let out = skywatch()
        .args(["config", "check", file.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("error: metrics.mem.measurement[0]: mem has no metric \"mem_usd\""),
        "{stderr}"
    );
    assert!(
        stderr.contains("error: metrics.swap.colour: unknown key"),
        "{stderr}"
    );
    assert!(stderr.contains("2 errors"), "{stderr}");
}

#[test]
fn config_convert_prints_toml_that_checks_clean() {
    let out = skywatch()
        .args(["config", "convert", CLOUDWATCH_CONFIG])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let toml = String::from_utf8_lossy(&out.stdout);
    assert!(toml.contains("# dropped agent.logfile: ignored"), "{toml}");
    assert!(toml.contains("[metrics.cpu]"), "{toml}");
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("skywatch.toml");
    std::fs::write(&file, toml.as_bytes()).unwrap();
    let check = skywatch()
        .args(["config", "check", file.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(
        check.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&check.stderr)
    );
    assert!(String::from_utf8_lossy(&check.stdout).contains("ok (skywatch TOML)"));
    assert!(
        check.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&check.stderr)
    );
}
