//! The Debian package (`packaging/build-deb.sh`, cargo-deb): what `dpkg-deb --info` and
//! `--contents` say, and an install, removal and purge with dpkg into a scratch root (its
//! maintainer scripts run with DPKG_ROOT, so the host is left as it was). The test packages the
//! debug build the tests already have, rather than building a release. dpkg needs root, as CI
//! runs.

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;
use std::process::Command;

const REPO: &str = env!("CARGO_MANIFEST_DIR");

fn run(command: &mut Command) -> String {
    let out = command.output().unwrap();
    assert!(
        out.status.success(),
        "{command:?}\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// dpkg on the scratch root `root`, its scripts run outside a chroot with DPKG_ROOT set. The
/// root holds no libc6 or systemd package records, hence --force-depends. On a host where
/// systemd runs, cargo-deb's unit snippets would call the host's systemctl (daemon-reload, and
/// stopping skywatch's units at a removal): there dpkg runs in a mount namespace of its own
/// with an empty /run/systemd, so the snippets see no systemd.
fn dpkg(root: &Path, args: &[&str]) -> String {
    let dpkg_args = [
        format!("--root={}", root.display()),
        "--force-script-chrootless".into(),
        "--force-depends".into(),
        "--log=/dev/null".into(),
    ];
    if Path::new("/run/systemd/system").exists() {
        run(Command::new("unshare")
            .args(["--mount", "--propagation", "private", "sh", "-c"])
            .arg("mount -t tmpfs none /run/systemd && exec dpkg \"$@\"")
            .arg("dpkg")
            .args(&dpkg_args)
            .args(args))
    } else {
        run(Command::new("dpkg").args(&dpkg_args).args(args))
    }
}

#[test]
fn the_deb_holds_both_binaries_units_configs_user_and_installs_into_a_scratch_root() {
    let out_dir = tempfile::tempdir().unwrap();
    // The test build's own binaries: target/debug of whatever target directory cargo used.
    let target_dir = Path::new(env!("CARGO_BIN_EXE_skywatch"))
        .parent()
        .unwrap()
        .parent()
        .unwrap();
    let built = run(Command::new(Path::new(REPO).join("packaging/build-deb.sh"))
        .args(["--fast", "--output", out_dir.path().to_str().unwrap()])
        .env("PROFILE", "dev")
        .env("NO_BUILD", "1")
        .env("CARGO_TARGET_DIR", target_dir));
    let deb = built.lines().last().unwrap().trim().to_string();
    assert!(
        Path::new(&deb).extension().is_some_and(|e| e == "deb") && Path::new(&deb).is_file(),
        "{built}"
    );

    let info = run(Command::new("dpkg-deb").args(["--info", &deb]));
    for expected in [
        "Package: skywatch",
        "Version: 0.1.0-1",
        "Section: admin",
        "systemd | systemd-standalone-sysusers | systemd-sysusers",
        "conffiles",
        "postinst",
        "postrm",
    ] {
        assert!(info.contains(expected), "{expected:?} not in\n{info}");
    }
    let contents = run(Command::new("dpkg-deb").args(["--contents", &deb]));
    let files: Vec<&str> = contents
        .lines()
        .filter_map(|l| l.split_whitespace().last())
        .collect();
    for expected in [
        "./usr/bin/skywatch",
        "./usr/bin/logq",
        "./usr/lib/systemd/system/skywatch-agent.service",
        "./usr/lib/systemd/system/skywatch-collector.service",
        "./etc/skywatch/agent.toml",
        "./etc/skywatch/collector.toml",
        "./usr/lib/sysusers.d/skywatch.conf",
        "./usr/lib/tmpfiles.d/skywatch.conf",
        "./usr/share/bash-completion/completions/skywatch",
        "./usr/share/bash-completion/completions/logq",
        "./usr/share/zsh/vendor-completions/_skywatch",
        "./usr/share/fish/vendor_completions.d/logq.fish",
        "./usr/share/man/man1/skywatch.1.gz",
        "./usr/share/man/man1/skywatch-up.1.gz",
        "./usr/share/man/man1/logq.1.gz",
        "./usr/share/doc/skywatch/copyright",
        "./usr/share/doc/skywatch/README.md",
        "./usr/share/doc/skywatch/docs/config-reference.md",
    ] {
        assert!(files.contains(&expected), "{expected} not in\n{contents}");
    }
    assert!(
        contents
            .lines()
            .any(|l| l.starts_with("-rwxr-xr-x") && l.ends_with("./usr/bin/skywatch")),
        "{contents}"
    );

    // Install into a scratch root with an empty dpkg database.
    let scratch = tempfile::tempdir().unwrap();
    let root = scratch.path();
    for dir in [
        "var/lib/dpkg/info",
        "var/lib/dpkg/updates",
        "var/lib/dpkg/triggers",
    ] {
        std::fs::create_dir_all(root.join(dir)).unwrap();
    }
    std::fs::write(root.join("var/lib/dpkg/status"), "").unwrap();
    let host_passwd = std::fs::read_to_string("/etc/passwd").ok();
    let host_state = Path::new("/var/lib/skywatch").exists();
    dpkg(root, &["--install", &deb]);
    let version = run(Command::new(root.join("usr/bin/skywatch")).arg("--version"));
    assert_eq!(version.trim(), "skywatch 0.1.0");
    let logq = run(Command::new(root.join("usr/bin/logq"))
        .args(["--format", "csv", "stats count(*) as n"])
        .stdin(std::process::Stdio::null()));
    assert_eq!(logq.trim(), "n\n0");
    // The system user, in the scratch root's passwd only, and the state directory it owns.
    let passwd = std::fs::read_to_string(root.join("etc/passwd")).unwrap();
    let user = passwd
        .lines()
        .find(|l| l.starts_with("skywatch:"))
        .unwrap_or_else(|| panic!("{passwd}"));
    let fields: Vec<&str> = user.split(':').collect();
    assert_eq!(
        (fields[5], fields[6]),
        ("/var/lib/skywatch", "/usr/sbin/nologin"),
        "{user}"
    );
    let uid: u32 = fields[2].parse().unwrap();
    assert!(uid < 1000, "not a system user: {user}");
    let state = std::fs::metadata(root.join("var/lib/skywatch")).unwrap();
    assert_eq!((state.uid(), state.mode() & 0o7777), (uid, 0o750));
    let unit = std::fs::read_to_string(root.join("usr/lib/systemd/system/skywatch-agent.service")).unwrap();
    assert!(
        unit.contains("User=skywatch") && unit.contains("ExecStart=/usr/bin/skywatch agent"),
        "{unit}"
    );
    // Installed, not enabled: nothing starts before the user has looked at the config.
    assert!(!root
        .join("etc/systemd/system/multi-user.target.wants/skywatch-agent.service")
        .exists());
    let config = root.join("etc/skywatch/agent.toml");
    let checked =
        run(Command::new(root.join("usr/bin/skywatch")).args(["config", "check", config.to_str().unwrap()]));
    assert!(checked.contains("ok (skywatch TOML)"), "{checked}");
    assert_eq!(
        std::fs::metadata(&config).unwrap().permissions().mode() & 0o777,
        0o644
    );

    // Removal keeps the configs and the state; a purge removes both.
    std::fs::write(root.join("var/lib/skywatch/checkpoints.json"), "{}").unwrap();
    dpkg(root, &["--remove", "skywatch"]);
    assert!(!root.join("usr/bin/skywatch").exists());
    assert!(config.exists() && root.join("var/lib/skywatch/checkpoints.json").exists());
    dpkg(root, &["--purge", "skywatch"]);
    assert!(!config.exists() && !root.join("var/lib/skywatch").exists());
    assert_eq!(
        std::fs::read_to_string("/etc/passwd").ok(),
        host_passwd,
        "the host's users changed"
    );
    assert_eq!(
        Path::new("/var/lib/skywatch").exists(),
        host_state,
        "the host's /var/lib/skywatch changed"
    );
}
