//! The journald entries of the `logs` section: the CloudWatch agent's
//! `logs.logs_collected.journald` (one object, or an object whose `collect_list` entries each
//! ship some units to a log group of their own, the object's other keys being their defaults)
//! and our TOML's `[[logs.journald]]` tables, with the same keys.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use super::{join, kind, Reader};
use crate::config::{JournaldConfig, DEFAULT_JOURNALD_GROUP, DEFAULT_JOURNALD_PRIORITY};

/// Keys of one journald entry.
const ENTRY_KEYS: &[&str] = &[
    "units",
    "unit",
    "identifiers",
    "matches",
    "priority",
    "grep",
    "dmesg",
    "all",
    "directory",
    "files",
    "namespace",
    "root_path",
    "start_at",
    "journalctl_path",
    "log_group_name",
    "log_stream_name",
    "filters",
    "retention_in_days",
    "log_group_class",
];

/// Keys the CloudWatch agent has that skywatch does not need, and why.
const IGNORED_KEYS: &[(&str, &str)] = &[
    (
        "storage",
        "skywatch always keeps the journal cursor, in its state directory",
    ),
    (
        "retry_on_failure",
        "skywatch restarts journalctl whenever it ends, and names why",
    ),
    ("service.name", "entity metadata is not sent"),
    ("deployment.environment", "entity metadata is not sent"),
];

/// Syslog priority names journalctl takes, most severe first.
const PRIORITIES: &[&str] = &[
    "emerg", "alert", "crit", "err", "warning", "notice", "info", "debug",
];

impl Reader {
    /// `journald` as written: a list of entries, one entry, or an object with `collect_list`.
    pub(super) fn journald(
        &mut self,
        value: &Value,
        path: &str,
        default_stream: &str,
    ) -> Vec<JournaldConfig> {
        let empty = Map::new();
        let (defaults, list, list_path) = match value {
            Value::Array(items) => (&empty, items.as_slice(), path.to_string()),
            Value::Object(map) => match map.get("collect_list") {
                Some(Value::Array(items)) => (map, items.as_slice(), join(path, "collect_list")),
                Some(other) => {
                    self.error(
                        &join(path, "collect_list"),
                        format!("expected a list of journald entries, found {}", kind(other)),
                    );
                    return Vec::new();
                }
                None => {
                    return self
                        .journald_entry(map, path, (&empty, path), default_stream)
                        .into_iter()
                        .collect();
                }
            },
            other => {
                self.error(
                    path,
                    format!("expected a list of journald entries, found {}", kind(other)),
                );
                return Vec::new();
            }
        };
        if !defaults.is_empty() {
            let mut known = ENTRY_KEYS.to_vec();
            known.push("collect_list");
            self.check_keys(defaults, path, &known, IGNORED_KEYS, &[]);
        }
        let mut entries = Vec::new();
        for (i, item) in list.iter().enumerate() {
            let at = format!("{list_path}[{i}]");
            if let Some(map) = self.object(item, &at) {
                entries.extend(self.journald_entry(map, &at, (defaults, path), default_stream));
            }
        }
        entries
    }

    /// One entry: its own keys over `defaults` (the keys beside a `collect_list`, at their
    /// path).
    fn journald_entry(
        &mut self,
        entry: &Map<String, Value>,
        path: &str,
        (defaults, defaults_path): (&Map<String, Value>, &str),
        default_stream: &str,
    ) -> Option<JournaldConfig> {
        self.check_keys(entry, path, ENTRY_KEYS, IGNORED_KEYS, &[]);
        let mut config = JournaldConfig {
            priority: DEFAULT_JOURNALD_PRIORITY.to_string(),
            journalctl_path: "journalctl".to_string(),
            log_group_name: DEFAULT_JOURNALD_GROUP.to_string(),
            log_stream_name: default_stream.to_string(),
            ..JournaldConfig::default()
        };
        let errors_before = self.errors.len();
        // An entry naming its units (`unit` or `units`) takes none from beside the list.
        let own_units = entry.contains_key("unit") || entry.contains_key("units");
        let keys: Vec<(&str, &Value, &str)> = ENTRY_KEYS
            .iter()
            .filter_map(|&k| match (entry.get(k), defaults.get(k)) {
                (Some(v), _) => Some((k, v, path)),
                (None, Some(_)) if own_units && (k == "unit" || k == "units") => None,
                (None, Some(v)) => Some((k, v, defaults_path)),
                _ => None,
            })
            .collect();
        for (key, v, owner) in keys {
            let at = join(owner, key);
            match key {
                "units" => config.units.extend(self.one_or_more(v, &at)),
                "unit" => config.units.extend(self.string(v, &at)),
                "identifiers" => config.identifiers = self.one_or_more(v, &at),
                "matches" => config.matches = self.matches(v, &at),
                "priority" => {
                    if let Some(p) = self.priority(v, &at) {
                        config.priority = p;
                    }
                }
                "grep" => {
                    if let Some(re) = self.string(v, &at) {
                        if let Err(e) = regex::Regex::new(&re) {
                            self.error(&at, format!("not a valid regular expression: {e}"));
                        }
                        config.grep = Some(re);
                    }
                }
                "dmesg" => config.dmesg = self.boolean(v, &at).unwrap_or(false),
                "all" => config.all = self.boolean(v, &at).unwrap_or(false),
                "directory" => config.directory = self.string(v, &at),
                "files" => config.files = self.one_or_more(v, &at),
                "namespace" => config.namespace = self.string(v, &at),
                "root_path" => config.root_path = self.string(v, &at),
                "start_at" => match v.as_str() {
                    Some("beginning") => config.start_at_beginning = true,
                    Some("end") => config.start_at_beginning = false,
                    _ => self.error(&at, format!("expected \"beginning\" or \"end\", found {v}")),
                },
                "journalctl_path" => {
                    if let Some(p) = self.string(v, &at) {
                        config.journalctl_path = p;
                    }
                }
                "log_group_name" => {
                    if let Some(name) = self.string(v, &at) {
                        self.group_name(&name, &at);
                        config.log_group_name = name;
                    }
                }
                "log_stream_name" => {
                    if let Some(name) = self.string(v, &at) {
                        self.stream_name(&name, &at);
                        config.log_stream_name = name;
                    }
                }
                "filters" => config.filters = self.filters(v, &at),
                "retention_in_days" => config.retention_in_days = self.retention(v, &at),
                "log_group_class" => config.log_group_class = self.group_class(v, &at),
                _ => {}
            }
        }
        let journals = [
            config.directory.is_some(),
            !config.files.is_empty(),
            config.root_path.is_some(),
        ];
        if journals.iter().filter(|&&given| given).count() > 1 {
            self.error(
                path,
                "directory, files and root_path each name which journal to read: give one (journalctl takes only one)",
            );
        }
        (self.errors.len() == errors_before).then_some(config)
    }

    /// A string or a list of strings.
    fn one_or_more(&mut self, value: &Value, path: &str) -> Vec<String> {
        match value {
            Value::String(s) => vec![s.clone()],
            other => self.strings(other, path),
        }
    }

    /// `matches`: a list of `{FIELD: VALUE}` objects (or one object).
    fn matches(&mut self, value: &Value, path: &str) -> Vec<BTreeMap<String, String>> {
        let items = match value {
            Value::Array(items) => items.clone(),
            Value::Object(_) => vec![value.clone()],
            other => {
                self.error(
                    path,
                    format!(
                        "expected a list of {{FIELD: VALUE}} objects, found {}",
                        kind(other)
                    ),
                );
                return Vec::new();
            }
        };
        let mut out = Vec::new();
        for (i, item) in items.iter().enumerate() {
            let at = format!("{path}[{i}]");
            let set = self.string_map(item, &at);
            for field in set.keys() {
                // journalctl's rule for match fields.
                let valid = !field.is_empty()
                    && field
                        .chars()
                        .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_');
                if !valid {
                    self.error(
                        &join(&at, field),
                        "a journal field name is upper-case letters, digits and _ (as _SYSTEMD_UNIT)",
                    );
                }
            }
            if !set.is_empty() {
                out.push(set);
            }
        }
        out
    }

    /// A priority name or number, or a range of them (`err..warning`).
    fn priority(&mut self, value: &Value, path: &str) -> Option<String> {
        let text = match value {
            Value::String(s) => s.clone(),
            Value::Number(n) => n.to_string(),
            other => {
                self.error(path, format!("expected a priority name, found {}", kind(other)));
                return None;
            }
        };
        let one = |p: &str| {
            let p = p.to_ascii_lowercase();
            PRIORITIES.contains(&p.as_str())
                || matches!(p.as_str(), "0" | "1" | "2" | "3" | "4" | "5" | "6" | "7")
        };
        let valid = match text.split_once("..") {
            Some((from, to)) => one(from) && one(to),
            None => one(&text),
        };
        if !valid {
            self.error(
                path,
                format!(
                    "expected a priority ({}, or 0 to 7, or a range such as err..warning), found {text:?}",
                    PRIORITIES.join(", ")
                ),
            );
            return None;
        }
        Some(text.to_ascii_lowercase())
    }
}

#[cfg(test)]
mod tests {
    use crate::config::{parse, JournaldConfig};

    fn journald(text: &str) -> (Vec<JournaldConfig>, Vec<String>, Vec<String>) {
        let loaded = parse(text);
        let show = |p: &crate::config::Problem| format!("{}: {}", p.path, p.message);
        let errors = loaded.errors.iter().map(show).collect();
        let warnings = loaded.warnings.iter().map(show).collect();
        let entries = loaded
            .config
            .and_then(|c| c.logs)
            .map(|l| l.journald)
            .unwrap_or_default();
        (entries, errors, warnings)
    }

    #[test]
    fn a_collect_list_takes_the_keys_beside_it_as_defaults_and_unit_as_one_unit() {
        let (entries, errors, warnings) = journald(
            r#"{"logs": {"log_stream_name": "{hostname}", "logs_collected": {"journald": {
                "priority": "warning", "storage": "file_storage",
                "collect_list": [
                  {"unit": "backup.service", "log_group_name": "/app/backup"},
                  {"units": ["nginx", "php-fpm"], "priority": "err", "log_group_name": "/app/web",
                   "log_stream_name": "{instance_id}/web", "retention_in_days": 30,
                   "filters": [{"type": "exclude", "expression": "healthcheck"}]}]}}}}"#,
        );
        assert!(errors.is_empty(), "{errors:?}");
        assert_eq!(
            warnings,
            ["logs.logs_collected.journald.storage: ignored: skywatch always keeps the journal cursor, in its state directory"]
        );
        assert_eq!(entries.len(), 2);
        assert_eq!(entries[0].units, ["backup.service"]);
        assert_eq!(entries[0].priority, "warning");
        assert_eq!(entries[0].log_stream_name, "{hostname}", "the section's stream");
        assert_eq!(entries[1].units, ["nginx", "php-fpm"]);
        assert_eq!(entries[1].priority, "err");
        assert_eq!(entries[1].retention_in_days, Some(30));
        assert_eq!(entries[1].filters.len(), 1);
    }

    #[test]
    fn a_unit_beside_the_list_is_every_entrys_that_names_none_and_one_journal_is_named() {
        let (entries, errors, _) = journald(
            r#"{"logs": {"logs_collected": {"journald": {"unit": "sshd", "collect_list": [
                {"log_group_name": "/a"}, {"log_group_name": "/b", "units": ["nginx"]}]}}}}"#,
        );
        assert!(errors.is_empty(), "{errors:?}");
        assert_eq!(entries[0].units, ["sshd"]);
        assert_eq!(entries[1].units, ["nginx"], "its own units only");
        let (_, errors, _) = journald(
            r#"{"logs": {"logs_collected": {"journald": {"directory": "/j", "files": ["/j/a.journal"]}}}}"#,
        );
        assert!(errors.iter().any(|e| e.contains("give one")), "{errors:?}");
    }

    #[test]
    fn one_object_is_one_entry_with_the_documented_defaults() {
        let (entries, errors, _) = journald(
            r#"{"logs": {"logs_collected": {"journald": {"units": ["ssh", "kubelet"], "start_at": "beginning",
                "matches": [{"_SYSTEMD_UNIT": "ssh.service", "PRIORITY": "6"}], "dmesg": false}}}}"#,
        );
        assert!(errors.is_empty(), "{errors:?}");
        let e = &entries[0];
        assert_eq!(
            (e.priority.as_str(), e.log_group_name.as_str()),
            ("info", "journald")
        );
        assert!(e.start_at_beginning);
        assert_eq!(e.matches[0].get("PRIORITY").map(String::as_str), Some("6"));
        assert_eq!(e.journalctl_path, "journalctl");
    }

    #[test]
    fn mistakes_name_their_key_path() {
        let (_, errors, _) = journald(
            r#"[logs]
[[logs.journald]]
priority = "loud"
start_at = "middle"
matches = [{unit = "x"}]
grep = "("
colour = "red"
"#,
        );
        for expected in [
            "logs.journald[0].priority: expected a priority",
            "logs.journald[0].start_at: expected \"beginning\" or \"end\"",
            "logs.journald[0].matches[0].unit: a journal field name",
            "logs.journald[0].grep: not a valid regular expression",
            "logs.journald[0].colour: unknown key",
        ] {
            assert!(
                errors.iter().any(|e| e.starts_with(expected)),
                "{expected} in {errors:?}"
            );
        }
    }

    #[test]
    fn a_journald_entry_alone_is_something_to_do_and_round_trips_through_toml() {
        let loaded = parse(
            r#"{"logs": {"logs_collected": {"journald": {"collect_list": [{"units": ["app"], "log_group_name": "/j", "priority": "debug"}]}}}}"#,
        );
        assert!(loaded.errors.is_empty(), "{:?}", loaded.errors);
        let config = loaded.config.unwrap();
        let toml = crate::config::toml_out::to_toml(&config);
        let again = parse(&toml);
        assert!(again.errors.is_empty(), "{toml}\n{:?}", again.errors);
        assert_eq!(
            again.config.unwrap().logs.unwrap().journald,
            config.logs.unwrap().journald
        );
    }
}
