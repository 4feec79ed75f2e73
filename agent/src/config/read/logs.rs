//! The `logs` section: the CloudWatch agent's `logs.logs_collected.files.collect_list` and our
//! TOML's `[[logs.files]]`, with the same keys, checked key by key and read into
//! [`LogsConfig`]. Our additions, accepted in both formats: `redact` (built-in rule names) and
//! `redact_patterns` (name → regex) on the section and on each file, `long_lines` ("split" or
//! "truncate") and `emf` on each file.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use crate::logs::path_problem::{is_pseudo_file, is_windows_path};

use super::{join, kind, Reader};
use crate::config::{
    FilterKind, Format, LogFileConfig, LogsConfig, LongLinesMode, DEFAULT_LOGS_BUFFER_BYTES,
    DEFAULT_LOGS_FLUSH_S, DEFAULT_LOGS_SPOOL_BYTES, DEFAULT_LOG_STREAM,
};
use crate::logs::filters::{builtin, BUILTIN_RULES};
use crate::logs::timestamp_format::{AgentTimestampFormat, Zone};

/// Values `retention_in_days` may take (PutRetentionPolicy), -1 meaning "leave as it is".
const RETENTION_DAYS: &[i64] = &[
    -1, 1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288,
    3653,
];

/// Keys of one collected file.
const FILE_KEYS: &[&str] = &[
    "file_path",
    "log_group_name",
    "log_stream_name",
    "timestamp_format",
    "timezone",
    "multi_line_start_pattern",
    "encoding",
    "filters",
    "retention_in_days",
    "auto_removal",
    "publish_multi_logs",
    "blacklist",
    "trim_timestamp",
    "log_group_class",
    "redact",
    "redact_patterns",
    "long_lines",
    "emf",
];

/// Section-wide settings every file inherits.
struct SectionDefaults {
    log_stream_name: String,
    redact: Vec<String>,
    redact_patterns: BTreeMap<String, String>,
}

impl Reader {
    /// Reads the `logs` section.
    pub(super) fn logs(&mut self, value: &Value) -> Option<LogsConfig> {
        let map = self.object(value, "logs")?;
        let ignored = [
            ("service.name", "entity metadata is not sent"),
            ("deployment.environment", "entity metadata is not sent"),
            ("concurrency", "skywatch sends each stream's batches in order"),
        ];
        let section_keys = [
            "log_stream_name",
            "force_flush_interval",
            "endpoint_override",
            "redact",
            "redact_patterns",
            "buffer_bytes",
            "spool_bytes",
        ];
        let toml_only = ["emf_listen", "credentials"];
        let mut logs = LogsConfig {
            force_flush_interval_s: DEFAULT_LOGS_FLUSH_S,
            buffer_bytes: DEFAULT_LOGS_BUFFER_BYTES,
            spool_bytes: DEFAULT_LOGS_SPOOL_BYTES,
            ..LogsConfig::default()
        };
        let mut defaults = SectionDefaults {
            log_stream_name: DEFAULT_LOG_STREAM.to_string(),
            redact: Vec::new(),
            redact_patterns: BTreeMap::new(),
        };
        for (key, v) in map {
            let at = join("logs", key);
            match key.as_str() {
                "log_stream_name" => {
                    if let Some(name) = self.string(v, &at) {
                        self.stream_name(&name, &at);
                        defaults.log_stream_name = name;
                    }
                }
                "force_flush_interval" => {
                    logs.force_flush_interval_s = self.interval(v, &at).unwrap_or(DEFAULT_LOGS_FLUSH_S);
                }
                "endpoint_override" => logs.endpoint_override = self.string(v, &at),
                "credentials" => logs.role_arn = self.credentials(v, &at),
                "buffer_bytes" => logs.buffer_bytes = self.byte_size(v, &at, DEFAULT_LOGS_BUFFER_BYTES),
                "spool_bytes" => logs.spool_bytes = self.byte_size(v, &at, DEFAULT_LOGS_SPOOL_BYTES),
                "emf_listen" if self.format == Format::Toml => logs.emf_listen = self.emf_listen(v, &at),
                "metrics_collected" if self.format == Format::CloudWatchJson => {
                    logs.emf_listen = self.emf_section(v, &at);
                }
                "redact" => defaults.redact = self.redact(v, &at),
                "redact_patterns" => defaults.redact_patterns = self.redact_patterns(v, &at),
                _ => {}
            }
        }
        let list = match self.format {
            Format::CloudWatchJson => {
                let mut known = vec!["logs_collected"];
                known.extend(section_keys);
                known.push("metrics_collected");
                known.push("credentials");
                self.check_keys(map, "logs", &known, &ignored, &[]);
                let Some(collected) = map.get("logs_collected") else {
                    // `metrics_collected` alone (the EMF listener, …) is a whole logs section too.
                    if !map.contains_key("metrics_collected") {
                        self.error("logs.logs_collected", "required: the files to collect");
                        return None;
                    }
                    return Some(logs);
                };
                let collected = self.object(collected, "logs.logs_collected")?;
                self.check_keys(
                    collected,
                    "logs.logs_collected",
                    &["files", "journald"],
                    &[(
                        "windows_events",
                        "Windows-only (Windows event logs): ignored on Linux",
                    )],
                    &["application_signals", "kubernetes", "prometheus"],
                );
                if let Some(journald) = collected.get("journald") {
                    logs.journald = self.journald(
                        journald,
                        "logs.logs_collected.journald",
                        &defaults.log_stream_name,
                    );
                }
                let Some(files) = collected.get("files") else {
                    return Some(logs);
                };
                let files = self.object(files, "logs.logs_collected.files")?;
                self.check_keys(files, "logs.logs_collected.files", &["collect_list"], &[], &[]);
                files
                    .get("collect_list")
                    .map(|list| (list, "logs.logs_collected.files.collect_list"))
            }
            Format::Toml => {
                let mut known = vec!["files", "journald"];
                known.extend(section_keys);
                known.extend(toml_only);
                self.check_keys(map, "logs", &known, &[], &[]);
                if let Some(journald) = map.get("journald") {
                    logs.journald = self.journald(journald, "logs.journald", &defaults.log_stream_name);
                }
                map.get("files").map(|list| (list, "logs.files"))
            }
        };
        if let Some((list, path)) = list {
            logs.files = self.collect_list(list, path, &defaults);
        }
        Some(logs)
    }

    /// `logs.metrics_collected` of the CloudWatch agent: `emf` (`{}` listens on TCP and UDP
    /// 25888, loopback; `service_address` names one address).
    fn emf_section(&mut self, value: &Value, path: &str) -> Vec<String> {
        let Some(map) = self.object(value, path) else {
            return Vec::new();
        };
        self.check_keys(
            map,
            path,
            &["emf"],
            &[],
            &["kubernetes", "prometheus", "application_signals", "ecs", "otlp"],
        );
        let Some(emf) = map.get("emf") else {
            return Vec::new();
        };
        let at = join(path, "emf");
        let Some(emf) = self.object(emf, &at) else {
            return Vec::new();
        };
        self.check_keys(emf, &at, &["service_address"], &[], &[]);
        match emf.get("service_address") {
            Some(v) => self.emf_listen(&Value::Array(vec![v.clone()]), &join(&at, "service_address")),
            None => vec![
                format!("tcp://{}", crate::metrics::emf_listener::DEFAULT_ADDRESS),
                format!("udp://{}", crate::metrics::emf_listener::DEFAULT_ADDRESS),
            ],
        }
    }

    /// A list of `tcp://HOST:PORT` / `udp://HOST:PORT` addresses.
    fn emf_listen(&mut self, value: &Value, path: &str) -> Vec<String> {
        let Some(items) = value.as_array() else {
            self.error(
                path,
                format!("expected a list of addresses, found {}", kind(value)),
            );
            return Vec::new();
        };
        let mut out = Vec::new();
        for (i, item) in items.iter().enumerate() {
            let at = if items.len() == 1 && !path.ends_with("emf_listen") {
                path.to_string()
            } else {
                format!("{path}[{i}]")
            };
            match item
                .as_str()
                .and_then(crate::metrics::emf_listener::Listen::parse)
            {
                Some(_) => out.push(item.as_str().unwrap_or_default().to_string()),
                None => self.error(
                    &at,
                    format!("expected \"tcp://HOST:PORT\" or \"udp://HOST:PORT\", found {item}"),
                ),
            }
        }
        out
    }

    fn collect_list(&mut self, value: &Value, path: &str, defaults: &SectionDefaults) -> Vec<LogFileConfig> {
        let Some(items) = value.as_array() else {
            self.error(path, format!("expected a list of files, found {}", kind(value)));
            return Vec::new();
        };
        let files: Vec<(String, LogFileConfig)> = items
            .iter()
            .enumerate()
            .filter_map(|(i, item)| {
                let at = format!("{path}[{i}]");
                let entry = self.object(item, &at)?;
                self.collected_file(entry, &at, defaults).map(|file| (at, file))
            })
            .collect();
        for (i, (at, file)) in files.iter().enumerate() {
            let at = join(at, "file_path");
            if is_windows_path(&file.file_path) {
                self.warn(
                    &at,
                    "a Windows path (a Windows-only entry of a shared config?): this agent runs on Linux and follows nothing there",
                );
            } else if is_pseudo_file(std::path::Path::new(&file.file_path)) {
                self.warn(
                    &at,
                    "names a kernel pseudo-file (/proc, /sys): its size is not what it holds, so it cannot be tailed (it would look truncated at every read); not followed",
                );
            }
            let pattern = normalize_glob(&file.file_path);
            if let Some((first, _)) = files[..i]
                .iter()
                .find(|(_, f)| normalize_glob(&f.file_path) == pattern)
            {
                self.warn(
                    &at,
                    format!(
                        "the same files as {first}: each entry follows them (with checkpoints of its own) and ships them to its own log group and stream"
                    ),
                );
            }
        }
        files.into_iter().map(|(_, file)| file).collect()
    }

    fn collected_file(
        &mut self,
        entry: &Map<String, Value>,
        path: &str,
        defaults: &SectionDefaults,
    ) -> Option<LogFileConfig> {
        self.check_keys(
            entry,
            path,
            FILE_KEYS,
            &[
                ("service.name", "entity metadata is not sent"),
                ("deployment.environment", "entity metadata is not sent"),
                (
                    "backpressure_mode",
                    "skywatch never drops lines under backpressure: reading waits (a bounded spool takes what the memory buffer cannot), and a deleted file's descriptor is released once it has been read to its end",
                ),
            ],
            &[],
        );
        let mut file = LogFileConfig {
            log_stream_name: defaults.log_stream_name.clone(),
            redact: defaults.redact.clone(),
            redact_patterns: defaults.redact_patterns.clone(),
            ..LogFileConfig::default()
        };
        if !entry.contains_key("file_path") {
            self.error(
                &join(path, "file_path"),
                "required: the file (or glob) to collect",
            );
        }
        let mut zone = Zone::Local;
        if let Some(v) = entry.get("timezone") {
            let at = join(path, "timezone");
            match v.as_str() {
                Some("UTC") => zone = Zone::Utc,
                Some("Local" | "LOCAL") => {}
                _ => self.error(&at, format!("expected \"UTC\" or \"Local\", found {v}")),
            }
        }
        file.timezone_utc = zone == Zone::Utc;
        let mut group_given = false;
        for (key, v) in entry {
            let at = join(path, key);
            match key.as_str() {
                "file_path" => {
                    if let Some(p) = self.string(v, &at) {
                        if p.is_empty() || p.len() > 4096 {
                            self.error(&at, "a path is 1 to 4096 characters");
                        } else if let Err(e) = glob::Pattern::new(&normalize_glob(&p)) {
                            self.error(&at, format!("not a valid glob: {e}"));
                        }
                        file.file_path = p;
                    }
                }
                "log_group_name" => {
                    if let Some(name) = self.string(v, &at) {
                        self.group_name(&name, &at);
                        file.log_group_name = name;
                        group_given = true;
                    }
                }
                "log_stream_name" => {
                    if let Some(name) = self.string(v, &at) {
                        self.stream_name(&name, &at);
                        file.log_stream_name = name;
                    }
                }
                "timestamp_format" => {
                    if let Some(text) = self.string(v, &at) {
                        if let Err(e) = AgentTimestampFormat::new(&text, zone) {
                            self.error(&at, e.to_string());
                        }
                        file.timestamp_format = Some(text);
                    }
                }
                "encoding" => {
                    if let Some(label) = self.string(v, &at) {
                        match encoding_rs::Encoding::for_label(label.as_bytes()) {
                            None => self.error(&at, format!("unknown encoding {label:?} (WHATWG labels: utf-8, windows-1252, shift_jis, gbk, …)")),
                            Some(e) if !e.is_ascii_compatible() => self.error(
                                &at,
                                format!("encoding {label:?} ({}) is not supported by skywatch yet (ASCII-compatible ones are)", e.name()),
                            ),
                            Some(_) => {}
                        }
                        file.encoding = Some(label);
                    }
                }
                "filters" => file.filters = self.filters(v, &at),
                "retention_in_days" => file.retention_in_days = self.retention(v, &at),
                "auto_removal" => file.auto_removal = self.boolean(v, &at).unwrap_or(false),
                "publish_multi_logs" => file.publish_multi_logs = self.boolean(v, &at).unwrap_or(false),
                "trim_timestamp" => file.trim_timestamp = self.boolean(v, &at).unwrap_or(false),
                "emf" => file.emf = self.boolean(v, &at).unwrap_or(false),
                "blacklist" => {
                    if let Some(re) = self.string(v, &at) {
                        if let Err(e) = regex::Regex::new(&re) {
                            self.error(&at, format!("not a valid regular expression: {e}"));
                        }
                        file.blacklist = Some(re);
                    }
                }
                "log_group_class" => file.log_group_class = self.group_class(v, &at),
                "long_lines" => match v.as_str() {
                    Some("split") => file.long_lines = LongLinesMode::Split,
                    Some("truncate") => file.long_lines = LongLinesMode::Truncate,
                    _ => self.error(&at, format!("expected \"split\" or \"truncate\", found {v}")),
                },
                "redact" => {
                    for name in self.redact(v, &at) {
                        if !file.redact.contains(&name) {
                            file.redact.push(name);
                        }
                    }
                }
                "redact_patterns" => file.redact_patterns.extend(self.redact_patterns(v, &at)),
                _ => {}
            }
        }
        if let Some(v) = entry.get("multi_line_start_pattern") {
            let at = join(path, "multi_line_start_pattern");
            if let Some(pattern) = self.string(v, &at) {
                if pattern == "{timestamp_format}" {
                    if !entry.contains_key("timestamp_format") {
                        self.error(&at, "{timestamp_format} needs a timestamp_format");
                    }
                } else if let Err(e) = regex::Regex::new(&pattern) {
                    self.error(&at, format!("not a valid regular expression: {e}"));
                }
                file.multi_line_start_pattern = Some(pattern);
            }
        }
        if file.auto_removal && file.publish_multi_logs {
            self.error(
                &join(path, "auto_removal"),
                "auto_removal cannot be combined with publish_multi_logs (as in the CloudWatch agent)",
            );
        }
        if !group_given {
            file.log_group_name = default_group_name(&file.file_path);
        }
        (!file.file_path.is_empty()).then_some(file)
    }

    /// A size in bytes, at least 64 KiB (smaller would only make every batch wait).
    fn byte_size(&mut self, value: &Value, path: &str, default: u64) -> u64 {
        match value.as_u64() {
            Some(n) if n >= 64 << 10 => n,
            _ => {
                self.error(
                    path,
                    format!("expected a number of bytes, at least 65536, found {value}"),
                );
                default
            }
        }
    }

    /// Built-in redaction rule names.
    fn redact(&mut self, value: &Value, path: &str) -> Vec<String> {
        let names = self.strings(value, path);
        for (i, name) in names.iter().enumerate() {
            if builtin(name).is_none() {
                self.error(
                    &format!("{path}[{i}]"),
                    format!(
                        "no built-in redaction rule {name:?} (there are {})",
                        BUILTIN_RULES.join(", ")
                    ),
                );
            }
        }
        names
    }

    /// User redaction rules: name → regex.
    fn redact_patterns(&mut self, value: &Value, path: &str) -> BTreeMap<String, String> {
        let rules = self.string_map(value, path);
        for (name, pattern) in &rules {
            if let Err(e) = regex::Regex::new(pattern) {
                self.error(&join(path, name), format!("not a valid regular expression: {e}"));
            }
        }
        rules
    }

    pub(super) fn group_name(&mut self, name: &str, path: &str) {
        let plain = strip_placeholders(name);
        if name.is_empty()
            || name.len() > 512
            || !plain
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "._-/#".contains(c))
        {
            self.error(
                path,
                "a log group name is 1 to 512 characters of A-Z a-z 0-9 . _ - / # (and {placeholders})",
            );
        }
    }

    pub(super) fn retention(&mut self, value: &Value, path: &str) -> Option<i64> {
        match value.as_i64() {
            Some(days) if RETENTION_DAYS.contains(&days) => Some(days),
            _ => {
                self.error(path, format!("expected one of {RETENTION_DAYS:?}, found {value}"));
                None
            }
        }
    }

    pub(super) fn group_class(&mut self, value: &Value, path: &str) -> Option<String> {
        if let Some(class @ ("STANDARD" | "INFREQUENT_ACCESS")) = value.as_str() {
            return Some(class.to_string());
        }
        self.error(
            path,
            format!("expected \"STANDARD\" or \"INFREQUENT_ACCESS\", found {value}"),
        );
        None
    }

    pub(super) fn stream_name(&mut self, name: &str, path: &str) {
        if name.is_empty() || name.len() > 512 || name.contains([':', '*']) {
            self.error(
                path,
                "a log stream name is 1 to 512 characters without ':' or '*'",
            );
        }
    }

    pub(super) fn filters(&mut self, value: &Value, path: &str) -> Vec<(FilterKind, String)> {
        let Some(items) = value.as_array() else {
            self.error(path, format!("expected a list of filters, found {}", kind(value)));
            return Vec::new();
        };
        let mut out = Vec::new();
        for (i, item) in items.iter().enumerate() {
            let at = format!("{path}[{i}]");
            let Some(filter) = self.object(item, &at) else {
                continue;
            };
            self.check_keys(filter, &at, &["type", "expression"], &[], &[]);
            let filter_kind = match filter.get("type").and_then(Value::as_str) {
                Some("include") => Some(FilterKind::Include),
                Some("exclude") => Some(FilterKind::Exclude),
                _ => {
                    self.error(&join(&at, "type"), "required: \"include\" or \"exclude\"");
                    None
                }
            };
            match filter.get("expression").and_then(Value::as_str) {
                Some(re) => {
                    if let Err(e) = regex::Regex::new(re) {
                        self.error(
                            &join(&at, "expression"),
                            format!("not a valid regular expression: {e}"),
                        );
                    }
                    if let Some(k) = filter_kind {
                        out.push((k, re.to_string()));
                    }
                }
                None => self.error(&join(&at, "expression"), "required: a regular expression"),
            }
        }
        out
    }
}

/// The CloudWatch agent's default group: the file path up to its last dot
/// (`/var/log/app.log.2017-07-11-14` → `/var/log/app.log`), without glob characters.
pub(crate) fn default_group_name(file_path: &str) -> String {
    let base = match file_path.rfind('.') {
        Some(dot) if dot > file_path.rfind('/').map_or(0, |s| s + 1) => &file_path[..dot],
        _ => file_path,
    };
    let name: String = base
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "._-/#".contains(c) {
                c
            } else {
                '_'
            }
        })
        .take(512)
        .collect();
    if name.is_empty() {
        "skywatch".to_string()
    } else {
        name
    }
}

/// The CloudWatch agent's "super asterisk" (`/var/log/**.log`: any depth) in the form the glob
/// crate reads (`/var/log/**/*.log`).
pub(crate) fn normalize_glob(pattern: &str) -> String {
    pattern
        .split('/')
        .map(|part| {
            if part != "**" && part.contains("**") {
                format!("**/{}", part.replace("**", "*"))
            } else {
                part.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join("/")
}

/// `name` without its `{placeholder}` parts.
fn strip_placeholders(name: &str) -> String {
    let mut out = String::new();
    let mut depth = 0;
    for c in name.chars() {
        match c {
            '{' => depth += 1,
            '}' if depth > 0 => depth -= 1,
            _ if depth == 0 => out.push(c),
            _ => {}
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::normalize_glob;

    #[test]
    fn super_asterisks_become_recursive_globs() {
        assert_eq!(normalize_glob("/var/log/nginx/**.log"), "/var/log/nginx/**/*.log");
        assert_eq!(normalize_glob("/var/log/**/app.log"), "/var/log/**/app.log");
        assert_eq!(normalize_glob("/var/log/app.log*"), "/var/log/app.log*");
    }
}
