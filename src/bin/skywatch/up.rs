//! `skywatch up`: the whole stack in one process — the agent (host metrics and the logs the user
//! names, or the sample app's), the trace collector with its web page, and the alarm evaluator —
//! on the agent's runtime host. It writes an ordinary agent config (`<state dir>/up/agent.toml`,
//! which `skywatch agent --config` runs as it is) and runs it, so `up` adds no behaviour of its
//! own: it chooses where things go (the local store, or AWS when the SDK's chain finds a region
//! and credentials) and says where to look.

use std::fmt::Write as _;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use skywatch_agent::ReadyHook;
use skywatch_store::logs::shell_word;

use crate::EXIT_BAD_CONFIG;

/// The log group of the sample app's log when no `--logs` are given.
pub const SAMPLE_GROUP: &str = "/sample-app";
/// The sample app's log file, in the directory `up` is started from.
pub const SAMPLE_LOG: &str = "sample-app.log";

#[derive(Debug, clap::Args)]
pub struct UpArgs {
    /// A log file to follow (a glob is fine), as PATH or PATH=GROUP (default group: /skywatch/
    /// and the file's stem). Repeat for more. Default: sample-app.log in the current directory,
    /// as /sample-app — what the sample app (examples/sample-app) writes.
    #[arg(long = "logs", value_name = "PATH[=GROUP]")]
    logs: Vec<String>,
    /// Alarm rule files (our TOML or put-metric-alarm JSON). Default: the sample app's rules,
    /// written to <state dir>/up/alarms.toml.
    #[arg(long = "alarms", value_name = "FILE")]
    alarms: Vec<PathBuf>,
    /// The collector's HTTP listener: the web page, the X-Ray API, OTLP /v1/traces.
    #[arg(long, value_name = "HOST:PORT", default_value = "127.0.0.1:2000")]
    http: String,
    /// Where X-Ray daemon datagrams come in.
    #[arg(long, value_name = "HOST:PORT", default_value = "127.0.0.1:2000")]
    udp: String,
    /// The agent's health listener (/healthz, /metrics).
    #[arg(long, value_name = "HOST:PORT", default_value = "127.0.0.1:9468")]
    health: String,
    /// Keep everything local even when AWS is configured.
    #[arg(long)]
    local: bool,
    /// Say what would run and where each part would ship, print the config, start nothing.
    #[arg(long)]
    dry_run: bool,
    /// The state directory (default: /var/lib/skywatch as root, else $XDG_DATA_HOME/skywatch).
    #[arg(long, value_name = "DIR")]
    state_dir: Option<PathBuf>,
}

/// Where the data goes: decided once, at start.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Destination {
    /// The local store; the reason AWS is not used.
    Local(String),
    /// CloudWatch, CloudWatch Logs and X-Ray in this region.
    Aws { region: String },
}

/// One log file the agent follows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogFile {
    pub path: String,
    pub group: String,
}

/// Everything `up` decided, before anything runs.
#[derive(Debug)]
pub struct Plan {
    pub state_dir: PathBuf,
    pub destination: Destination,
    pub logs: Vec<LogFile>,
    /// The rule files, and whether they are the sample app's (written by `up`).
    pub alarm_rules: Vec<PathBuf>,
    pub sample_rules: bool,
    /// Whether the logs followed are the sample app's (no `--logs`).
    pub sample_logs: bool,
    pub http: String,
    pub udp: String,
    pub health: String,
    /// The host metrics' interval: 10 s locally (quick to see), 60 s to CloudWatch (its
    /// standard resolution, and its price).
    pub interval_s: u32,
}

impl Plan {
    fn up_dir(&self) -> PathBuf {
        self.state_dir.join("up")
    }

    pub fn config_path(&self) -> PathBuf {
        self.up_dir().join("agent.toml")
    }

    fn is_local(&self) -> bool {
        matches!(self.destination, Destination::Local(_))
    }

    /// The agent config that runs the plan.
    pub fn agent_config(&self) -> String {
        let mut text = String::new();
        let q = toml_string;
        let _ = writeln!(
            text,
            "# Written by `skywatch up`; `skywatch agent --config {}` runs the same.",
            self.config_path().display()
        );
        let _ = writeln!(
            text,
            "[agent]\nmetrics_collection_interval = {}\nstate_dir = {}",
            self.interval_s,
            q(&self.state_dir.display().to_string())
        );
        let output = match &self.destination {
            Destination::Local(_) => "local".to_string(),
            Destination::Aws { region } => {
                let _ = writeln!(text, "region = {}", q(region));
                "cloudwatch".to_string()
            }
        };
        let _ = writeln!(
            text,
            "\n[outputs]\nmetrics = {}\nlogs = {}",
            q(&output),
            q(&output)
        );
        let _ = writeln!(text, "\n[health]\nlisten = {}", q(&self.health));
        text.push_str(
            "\n[metrics.mem]\nmeasurement = [\"used_percent\"]\n\n[metrics.swap]\nmeasurement = [\"used_percent\"]\n\n\
             [metrics.cpu]\nmeasurement = [\"usage_active\"]\ntotalcpu = true\n\n\
             [metrics.disk]\nmeasurement = [\"used_percent\"]\nresources = [\"/\"]\n",
        );
        if !self.logs.is_empty() {
            text.push_str("\n[logs]\n");
            for file in &self.logs {
                let _ = writeln!(
                    text,
                    "\n[[logs.files]]\nfile_path = {}\nlog_group_name = {}\nlog_stream_name = \"{{hostname}}\"\nemf = true",
                    q(&file.path),
                    q(&file.group)
                );
            }
        }
        let _ = writeln!(
            text,
            "\n[traces]\nudp = {}\nhttp = {}",
            q(&self.udp),
            q(&self.http)
        );
        if let Destination::Aws { region } = &self.destination {
            let _ = writeln!(text, "\n[traces.forward]\nregion = {}", q(region));
        }
        if !self.alarm_rules.is_empty() {
            let rules: Vec<String> = self
                .alarm_rules
                .iter()
                .map(|p| q(&p.display().to_string()))
                .collect();
            let _ = writeln!(
                text,
                "\n[alarms]\nrules = [{}]\npublish = {}",
                rules.join(", "),
                !self.is_local()
            );
        }
        text
    }

    /// One line per part saying where to look.
    pub fn lines(&self) -> Vec<String> {
        let state = self.state_dir.display().to_string();
        let store = shell_word(&state);
        let mut lines = Vec::new();
        let (metrics_to, logs_to) = match &self.destination {
            Destination::Local(_) => (
                format!("the local store {state}/metrics: `skywatch metrics --state-dir {store} --since 5m`"),
                format!("the local store {state}/logs"),
            ),
            Destination::Aws { region } => (
                format!("CloudWatch in {region}, namespace CWAgent"),
                format!("CloudWatch Logs in {region}"),
            ),
        };
        lines.push(format!(
            "agent      host metrics (mem, swap, cpu, disk) every {} s -> {metrics_to}",
            self.interval_s
        ));
        for file in &self.logs {
            lines.push(format!("logs       {} -> {} in {logs_to}", file.path, file.group));
        }
        let forward = match &self.destination {
            Destination::Local(_) => String::new(),
            Destination::Aws { region } => format!(", forwarded to X-Ray in {region}"),
        };
        lines.push(format!(
            "collector  X-Ray daemon on udp {} and http {}, OTLP on http://{}/v1/traces -> {state}/traces{forward}",
            self.udp, self.http, self.http
        ));
        lines.push(format!(
            "page       http://{}/  (service map, traces, their log lines)",
            self.http
        ));
        let rules: Vec<String> = self.alarm_rules.iter().map(|p| p.display().to_string()).collect();
        let published = if self.is_local() {
            "changes logged here and kept in".to_string()
        } else {
            "changes published to the rules' SNS actions (if any) and kept in".to_string()
        };
        lines.push(format!(
            "alarms     {} -> {published} {state}/alarms/history.jsonl",
            rules.join(", ")
        ));
        if self.sample_rules && !self.is_local() {
            lines.push(format!(
                "           (EMF lines go to CloudWatch Logs, which makes the SampleApp metrics there: `skywatch alarms push {}` has CloudWatch evaluate that rule)",
                self.up_dir().join("alarms.toml").display()
            ));
        }
        lines.push(format!("health     http://{}/healthz and /metrics", self.health));
        if let Some(first) = self.logs.first() {
            let where_ = match &self.destination {
                Destination::Local(_) => format!("--store {store}"),
                Destination::Aws { .. } => "--since 1h".to_string(),
            };
            let group = shell_word(&first.group);
            for query in [
                "'filter level = \"ERROR\" | fields @timestamp, traceId, message | sort @timestamp desc | limit 20'",
                "'stats count(*) as events by bin(1m)'",
            ] {
                lines.push(format!("query      logq {where_} --log-group {group} {query}"));
            }
        }
        if self.sample_logs {
            lines.push(format!(
                "sample app python3 examples/sample-app/app.py  (from this directory: it writes {SAMPLE_LOG} here and sends traces to udp {})",
                self.udp
            ));
        }
        lines
    }
}

/// A line on stdout; a closed stdout (`skywatch up | head -1`) is no reason to stop the stack.
fn say(line: &str) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{line}");
    let _ = out.flush();
}

/// Text on stdout as it is, like [`say`].
fn say_raw(text: &str) {
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(text.as_bytes());
    let _ = out.flush();
}

/// A TOML basic string (JSON's escapes are TOML's).
fn toml_string(s: &str) -> String {
    serde_json::Value::String(s.to_string()).to_string()
}

/// The log files to follow: `--logs` as given, else the sample app's log in `cwd`.
pub fn log_files(given: &[String], cwd: &Path) -> Result<Vec<LogFile>, String> {
    if given.is_empty() {
        return Ok(vec![LogFile {
            path: cwd.join(SAMPLE_LOG).display().to_string(),
            group: SAMPLE_GROUP.to_string(),
        }]);
    }
    given
        .iter()
        .map(|spec| {
            let (path, group) = match spec.split_once('=') {
                Some((path, group)) => (path, Some(group)),
                None => (spec.as_str(), None),
            };
            if path.is_empty() {
                return Err(format!("--logs {spec:?}: no path"));
            }
            let path = if Path::new(path).is_absolute() {
                PathBuf::from(path)
            } else {
                cwd.join(path)
            };
            let group = match group {
                Some("") => return Err(format!("--logs {spec:?}: an empty group name")),
                Some(group) => group.to_string(),
                None => {
                    let stem = path
                        .file_stem()
                        .map(|s| s.to_string_lossy().replace(['*', '?', '[', ']'], ""))
                        .filter(|s| !s.is_empty())
                        .unwrap_or_else(|| "logs".to_string());
                    format!("/skywatch/{stem}")
                }
            };
            Ok(LogFile {
                path: path.display().to_string(),
                group,
            })
        })
        .collect()
}

/// The sample app's alarm rules: a fault in the last 10 seconds (from the EMF in its log
/// lines), and memory above 90 % in 2 of 3 minutes (from the agent).
pub fn sample_rules(hostname: &str) -> String {
    format!(
        r#"# The sample app's alarms, written by `skywatch up` (give --alarms FILE for your own).

# Its request lines carry EMF metrics (SampleApp/Faults, high resolution): a fault in a 10-second
# period sets it off. It clears once its evaluation range (3 periods) holds no fault: about 30
# quiet seconds, as CloudWatch looks back over the range for the latest datapoint.
[[alarm]]
name = "sample-app faults"
description = "The sample app answered with a 5xx in the last 10 seconds"
namespace = "SampleApp"
metric = "Faults"
dimensions = {{ Service = "sample-app" }}
statistic = "Sum"
period = "10s"
evaluation_periods = 1
comparison = ">="
threshold = 1
treat_missing_data = "notBreaching"

# What EC2 cannot see from outside: this host's memory, from the agent.
[[alarm]]
name = "memory high"
description = "Memory above 90 % in 2 of the last 3 minutes"
namespace = "CWAgent"
metric = "mem_used_percent"
dimensions = {{ host = {host} }}
statistic = "Average"
period = "1m"
evaluation_periods = 3
datapoints_to_alarm = 2
comparison = ">"
threshold = 90
"#,
        host = toml_string(hostname)
    )
}

/// Whether AWS is configured (a region and credentials the SDK's chain resolves).
async fn destination(local: bool) -> Destination {
    if local {
        return Destination::Local("--local".to_string());
    }
    let sdk = skywatch_aws::sdk_config(skywatch_aws::SdkSettings::default()).await;
    match skywatch_aws::can_reach_aws(&sdk).await {
        Ok(()) => Destination::Aws {
            region: sdk.region().map(ToString::to_string).unwrap_or_default(),
        },
        Err(why) => Destination::Local(why),
    }
}

pub fn run(args: UpArgs) -> ExitCode {
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("skywatch up: cannot start: {e}");
            return ExitCode::from(1);
        }
    };
    let cwd = match std::env::current_dir() {
        Ok(cwd) => cwd,
        Err(e) => {
            eprintln!("skywatch up: cannot read the current directory: {e}");
            return ExitCode::from(1);
        }
    };
    let logs = match log_files(&args.logs, &cwd) {
        Ok(logs) => logs,
        Err(e) => {
            eprintln!("skywatch up: {e}");
            return ExitCode::from(EXIT_BAD_CONFIG);
        }
    };
    // Absolute: the config names paths under it, and relative ones would be read from the
    // config's own directory.
    let state_dir = cwd.join(skywatch_runtime::resolve_state_dir(args.state_dir.clone(), None));
    let destination = runtime.block_on(destination(args.local));
    let uses_sample_rules = args.alarms.is_empty();
    let sample_logs = args.logs.is_empty();
    let alarm_rules = if uses_sample_rules {
        vec![state_dir.join("up").join("alarms.toml")]
    } else {
        args.alarms
            .iter()
            .map(|p| if p.is_absolute() { p.clone() } else { cwd.join(p) })
            .collect()
    };
    let interval_s = if matches!(destination, Destination::Local(_)) {
        10
    } else {
        60
    };
    let plan = Plan {
        state_dir,
        destination,
        logs,
        alarm_rules,
        sample_rules: uses_sample_rules,
        sample_logs,
        http: args.http,
        udp: args.udp,
        health: args.health,
        interval_s,
    };
    let headline = match &plan.destination {
        Destination::Local(why) => format!("everything stays local ({why})"),
        Destination::Aws { region } => {
            format!("shipping to AWS in {region} (metrics, logs, traces); --local keeps everything here")
        }
    };
    if args.dry_run {
        say(&format!("skywatch up --dry-run: {headline}"));
        for line in plan.lines() {
            say(&format!("  {line}"));
        }
        say(&format!("\n# {} (not written)", plan.config_path().display()));
        say_raw(&plan.agent_config());
        if plan.sample_rules {
            say(&format!(
                "\n# {} (not written)",
                plan.up_dir().join("alarms.toml").display()
            ));
            say_raw(&sample_rules(&skywatch_agent::hostname()));
        }
        return ExitCode::SUCCESS;
    }
    // The state directory's lock before its files are written: a second `up` on the same
    // directory is refused without touching the running one's config.
    let lock = match skywatch_runtime::StateLock::acquire(&plan.state_dir) {
        Ok(lock) => Arc::new(lock),
        Err(e) => {
            eprintln!("skywatch up: {e}");
            return ExitCode::from(1);
        }
    };
    if let Err(e) = write_files(&plan) {
        eprintln!("skywatch up: {e}");
        return ExitCode::from(1);
    }
    // The agent says the warnings itself (a log file that does not exist yet); errors stop here.
    let loaded = skywatch_agent::load_config(&plan.config_path());
    if !loaded.errors.is_empty() {
        for e in &loaded.errors {
            eprintln!("skywatch up: {}: error: {e}", plan.config_path().display());
        }
        return ExitCode::from(EXIT_BAD_CONFIG);
    }
    let lines = plan.lines();
    let ready = ReadyHook(Arc::new(move |outputs: &str| {
        say(&format!("skywatch up: {headline}"));
        for line in &lines {
            say(&format!("  {line}"));
        }
        for line in outputs.lines() {
            say(&format!("  (agent output) {line}"));
        }
        say("  Ctrl-C stops everything: what was read is delivered first.");
    }));
    let options = skywatch_agent::Options {
        config_path: plan.config_path(),
        once: false,
        once_timeout: skywatch_agent::daemon::ONCE_FLUSH_TIMEOUT,
        state_dir: Some(plan.state_dir.clone()),
        proc_root: crate::proc_root(),
        on_ready: Some(ready),
        held_lock: Some(lock),
    };
    match runtime.block_on(skywatch_agent::run(options)) {
        Ok(outcome) if outcome.dropped > 0 => {
            eprintln!(
                "skywatch up: stopped; {} datums were dropped (the agent's stop line says why)",
                outcome.dropped
            );
            ExitCode::from(1)
        }
        Ok(_) => {
            say("skywatch up: stopped; each part's stop line is on stderr");
            ExitCode::SUCCESS
        }
        Err(e @ skywatch_agent::AgentError::Config(_)) => {
            eprintln!("skywatch up: {e}");
            ExitCode::from(EXIT_BAD_CONFIG)
        }
        Err(e) => {
            eprintln!("skywatch up: {e}");
            if e.to_string().contains("Address already in use") {
                eprintln!(
                    "skywatch up: something else has that address (an X-Ray daemon, a skywatch collector or agent?): --http, --udp and --health take others"
                );
            }
            ExitCode::from(1)
        }
    }
}

/// Writes the agent config and, when they are used, the sample app's rules: private, as the
/// rest of the state directory, and whole (a crash leaves the old file or the new one).
fn write_files(plan: &Plan) -> Result<(), String> {
    use skywatch_store::durable::{create_private_dir_all, write_atomically};
    let dir = plan.up_dir();
    create_private_dir_all(&dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    let write = |path: &Path, text: &str| {
        write_atomically(path, text.as_bytes()).map_err(|e| format!("cannot write {}: {e}", path.display()))
    };
    if plan.sample_rules {
        write(
            &dir.join("alarms.toml"),
            &sample_rules(&skywatch_agent::hostname()),
        )?;
    }
    write(&plan.config_path(), &plan.agent_config())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_specs_take_a_group_or_get_one_from_the_stem() {
        let cwd = Path::new("/work");
        let files = log_files(
            &[
                "app.log".into(),
                "/var/log/nginx/*.log=/ec2/nginx".into(),
                "/x/api.log*".into(),
            ],
            cwd,
        )
        .unwrap();
        assert_eq!(
            files[0],
            LogFile {
                path: "/work/app.log".into(),
                group: "/skywatch/app".into()
            }
        );
        assert_eq!(files[1].group, "/ec2/nginx");
        assert_eq!(files[2].group, "/skywatch/api");
        assert!(log_files(&["=/g".into()], cwd).is_err());
        assert!(log_files(&["a.log=".into()], cwd).is_err());
        let default = log_files(&[], cwd).unwrap();
        assert_eq!(
            default,
            vec![LogFile {
                path: "/work/sample-app.log".into(),
                group: SAMPLE_GROUP.into()
            }]
        );
    }
}
