//! The `skywatch` command line: help, version, and honest stubs.

use std::process::{Command, Output};

fn skywatch() -> Command {
    Command::new(env!("CARGO_BIN_EXE_skywatch"))
}

/// Runs `skywatch` with `args` and the environment variables `env` added; its exit status and
/// output.
pub(crate) fn run(args: &[&str], env: &[(&str, String)]) -> Output {
    skywatch()
        .args(args)
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
        .output()
        .unwrap()
}

/// Output bytes as text (invalid UTF-8 shown as replacement characters).
pub(crate) fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
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
    for sub in [
        "agent",
        "metrics",
        "collector",
        "dashboard",
        "alarms",
        "config",
        "up",
    ] {
        assert!(
            help.lines().any(|l| l.trim_start().starts_with(sub)),
            "{sub} missing from:\n{help}"
        );
    }
}

#[test]
fn a_bad_collector_setting_names_its_key_and_exits_2() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().to_str().unwrap();
    let out = skywatch()
        .args(["collector", "--udp", "localhost", "--state-dir", state])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr).trim(),
        "skywatch collector: udp: \"localhost\" is not host:port (an IP address and a port)"
    );
    let config = dir.path().join("collector.toml");
    std::fs::write(&config, "udpp = \"127.0.0.1:0\"\n").unwrap();
    let out = skywatch()
        .args([
            "collector",
            "--config",
            config.to_str().unwrap(),
            "--state-dir",
            state,
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("unknown field `udpp`"), "{stderr}");
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

const UNIT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/packaging/skywatch-agent.service");

#[test]
fn the_packaged_config_checks_clean_and_the_unit_is_hardened() {
    let config = concat!(env!("CARGO_MANIFEST_DIR"), "/packaging/agent.toml");
    let out = skywatch().args(["config", "check", config]).output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let unit = std::fs::read_to_string(UNIT).unwrap();
    for directive in [
        "Type=notify",
        "WatchdogSec=",
        "Restart=on-failure",
        "RestartPreventExitStatus=2",
        "User=skywatch",
        "NoNewPrivileges=yes",
        "ProtectSystem=strict",
        "ReadWritePaths=/var/lib/skywatch",
        "PrivateTmp=yes",
        "CapabilityBoundingSet=\n",
    ] {
        assert!(unit.contains(directive), "{directive} missing");
    }
}

/// `systemd-analyze verify` where the machine has it (with the binary path pointed at the one
/// just built, which verify checks exists).
#[test]
fn the_unit_passes_systemd_analyze_verify() {
    let Ok(probe) = std::process::Command::new("systemd-analyze")
        .arg("--version")
        .output()
    else {
        eprintln!("systemd-analyze is not installed: unit not verified");
        return;
    };
    assert!(probe.status.success());
    let dir = tempfile::tempdir().unwrap();
    let collector_unit = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/packaging/skywatch-collector.service"
    );
    for (name, path) in [
        ("skywatch-agent.service", UNIT),
        ("skywatch-collector.service", collector_unit),
    ] {
        let unit = dir.path().join(name);
        let text = std::fs::read_to_string(path)
            .unwrap()
            .replace("/usr/bin/skywatch", env!("CARGO_BIN_EXE_skywatch"));
        std::fs::write(&unit, text).unwrap();
        let out = std::process::Command::new("systemd-analyze")
            .arg("verify")
            .arg(&unit)
            .output()
            .unwrap();
        assert!(
            out.status.success() && out.stderr.is_empty(),
            "{name}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}
