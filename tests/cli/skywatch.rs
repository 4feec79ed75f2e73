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
    for sub in ["agent", "collector", "dashboard", "alarms", "config", "up"] {
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
