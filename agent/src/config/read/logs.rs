//! The `logs` section: the CloudWatch agent's `logs.logs_collected.files.collect_list` and our
//! TOML's `[[logs.files]]`, with the same keys, checked key by key. The daemon does not ship
//! logs yet, so a config with a `logs` section is refused at the section (with every problem
//! inside it reported too, so the section is ready when shipping lands).

use serde_json::{Map, Value};

use super::{join, kind, Reader};
use crate::config::Format;
use crate::logs::timestamp_format::{TimestampFormat, Zone};

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
];

impl Reader {
    /// Checks the `logs` section; always an error for now (shipping is not wired in yet).
    pub(super) fn logs(&mut self, value: &Value) {
        self.error(
            "logs",
            "log shipping is not wired into the agent yet (its pieces are being built); remove the section to run the metrics",
        );
        let Some(map) = self.object(value, "logs") else {
            return;
        };
        let ignored = [
            ("service.name", "entity metadata is not sent"),
            ("deployment.environment", "entity metadata is not sent"),
            ("concurrency", "skywatch sends each stream's batches in order"),
        ];
        match self.format {
            Format::CloudWatchJson => {
                self.check_keys(
                    map,
                    "logs",
                    &[
                        "logs_collected",
                        "log_stream_name",
                        "force_flush_interval",
                        "endpoint_override",
                    ],
                    &ignored,
                    &["metrics_collected", "credentials"],
                );
                let Some(collected) = map.get("logs_collected") else {
                    self.error("logs.logs_collected", "required: the files to collect");
                    return;
                };
                let Some(collected) = self.object(collected, "logs.logs_collected") else {
                    return;
                };
                self.check_keys(
                    collected,
                    "logs.logs_collected",
                    &["files"],
                    &[],
                    &["windows_events", "journald", "application_signals"],
                );
                if let Some(files) = collected.get("files") {
                    if let Some(files) = self.object(files, "logs.logs_collected.files") {
                        self.check_keys(files, "logs.logs_collected.files", &["collect_list"], &[], &[]);
                        if let Some(list) = files.get("collect_list") {
                            self.collect_list(list, "logs.logs_collected.files.collect_list");
                        }
                    }
                }
            }
            Format::Toml => {
                self.check_keys(
                    map,
                    "logs",
                    &[
                        "files",
                        "log_stream_name",
                        "force_flush_interval",
                        "endpoint_override",
                    ],
                    &[],
                    &[],
                );
                if let Some(list) = map.get("files") {
                    self.collect_list(list, "logs.files");
                }
            }
        }
        for (key, v) in map {
            let at = join("logs", key);
            match key.as_str() {
                "log_stream_name" => {
                    if let Some(name) = self.string(v, &at) {
                        self.stream_name(&name, &at);
                    }
                }
                "force_flush_interval" => {
                    let _ = self.interval(v, &at);
                }
                "endpoint_override" => {
                    let _ = self.string(v, &at);
                }
                _ => {}
            }
        }
    }

    fn collect_list(&mut self, value: &Value, path: &str) {
        let Some(items) = value.as_array() else {
            self.error(path, format!("expected a list of files, found {}", kind(value)));
            return;
        };
        for (i, item) in items.iter().enumerate() {
            let at = format!("{path}[{i}]");
            if let Some(entry) = self.object(item, &at) {
                self.collected_file(entry, &at);
            }
        }
    }

    fn collected_file(&mut self, entry: &Map<String, Value>, path: &str) {
        self.check_keys(
            entry,
            path,
            FILE_KEYS,
            &[
                ("service.name", "entity metadata is not sent"),
                ("deployment.environment", "entity metadata is not sent"),
            ],
            &["backpressure_mode"],
        );
        if !entry.contains_key("file_path") {
            self.error(
                &join(path, "file_path"),
                "required: the file (or glob) to collect",
            );
        }
        let mut format = None;
        let mut zone = Zone::Local;
        if let Some(v) = entry.get("timezone") {
            let at = join(path, "timezone");
            match v.as_str() {
                Some("UTC") => zone = Zone::Utc,
                Some("Local" | "LOCAL") => {}
                _ => self.error(&at, format!("expected \"UTC\" or \"Local\", found {v}")),
            }
        }
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
                    }
                }
                "log_group_name" => {
                    if let Some(name) = self.string(v, &at) {
                        let plain = strip_placeholders(&name);
                        if name.is_empty()
                            || name.len() > 512
                            || !plain
                                .chars()
                                .all(|c| c.is_ascii_alphanumeric() || "._-/#".contains(c))
                        {
                            self.error(
                                &at,
                                "a log group name is 1 to 512 characters of A-Z a-z 0-9 . _ - / # (and {placeholders})",
                            );
                        }
                    }
                }
                "log_stream_name" => {
                    if let Some(name) = self.string(v, &at) {
                        self.stream_name(&name, &at);
                    }
                }
                "timestamp_format" => {
                    if let Some(text) = self.string(v, &at) {
                        match TimestampFormat::new(&text, zone) {
                            Ok(f) => format = Some(f),
                            Err(e) => self.error(&at, e.to_string()),
                        }
                    }
                }
                "encoding" => {
                    if let Some(enc) = self.string(v, &at) {
                        if !matches!(enc.to_ascii_lowercase().as_str(), "utf-8" | "utf8" | "ascii") {
                            self.error(
                                &at,
                                format!(
                                    "encoding {enc:?} is not supported by skywatch yet (utf-8 and ascii are)"
                                ),
                            );
                        }
                    }
                }
                "filters" => self.filters(v, &at),
                "retention_in_days" => match v.as_i64() {
                    Some(days) if RETENTION_DAYS.contains(&days) => {}
                    _ => self.error(&at, format!("expected one of {RETENTION_DAYS:?}, found {v}")),
                },
                "auto_removal" | "publish_multi_logs" | "trim_timestamp" => {
                    let _ = self.boolean(v, &at);
                }
                "blacklist" => {
                    if let Some(re) = self.string(v, &at) {
                        if let Err(e) = regex::Regex::new(&re) {
                            self.error(&at, format!("not a valid regular expression: {e}"));
                        }
                    }
                }
                "log_group_class" => match v.as_str() {
                    Some("STANDARD" | "INFREQUENT_ACCESS") => {}
                    _ => self.error(
                        &at,
                        format!("expected \"STANDARD\" or \"INFREQUENT_ACCESS\", found {v}"),
                    ),
                },
                _ => {}
            }
        }
        if let Some(v) = entry.get("multi_line_start_pattern") {
            let at = join(path, "multi_line_start_pattern");
            if let Some(pattern) = self.string(v, &at) {
                if pattern == "{timestamp_format}" {
                    if format.is_none() && !entry.contains_key("timestamp_format") {
                        self.error(&at, "{timestamp_format} needs a timestamp_format");
                    }
                } else if let Err(e) = regex::Regex::new(&pattern) {
                    self.error(&at, format!("not a valid regular expression: {e}"));
                }
            }
        }
    }

    fn stream_name(&mut self, name: &str, path: &str) {
        if name.is_empty() || name.len() > 512 || name.contains([':', '*']) {
            self.error(
                path,
                "a log stream name is 1 to 512 characters without ':' or '*'",
            );
        }
    }

    fn filters(&mut self, value: &Value, path: &str) {
        let Some(items) = value.as_array() else {
            self.error(path, format!("expected a list of filters, found {}", kind(value)));
            return;
        };
        for (i, item) in items.iter().enumerate() {
            let at = format!("{path}[{i}]");
            let Some(filter) = self.object(item, &at) else {
                continue;
            };
            self.check_keys(filter, &at, &["type", "expression"], &[], &[]);
            match filter.get("type").and_then(Value::as_str) {
                Some("include" | "exclude") => {}
                _ => self.error(&join(&at, "type"), "required: \"include\" or \"exclude\""),
            }
            match filter.get("expression").and_then(Value::as_str) {
                Some(re) => {
                    if let Err(e) = regex::Regex::new(re) {
                        self.error(
                            &join(&at, "expression"),
                            format!("not a valid regular expression: {e}"),
                        );
                    }
                }
                None => self.error(&join(&at, "expression"), "required: a regular expression"),
            }
        }
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
