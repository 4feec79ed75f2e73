//! What the configured log files look like on this machine, as this user sees them: globs
//! that match nothing yet, paths that cannot be followed (directories, pipes, files this user may
//! not read — run `config check` as the service's user, as the systemd unit's ExecStartPre
//! does), and files two entries both match (shipped twice). Warnings only: files come and go,
//! and the agent looks again every second; it says the same at run time.

use std::collections::BTreeMap;
use std::path::PathBuf;

use super::{AgentConfig, Format, Problem};
use crate::logs::path_problem::{self, is_windows_path};

/// Warnings about the log files of `config` (read as `format`), as of now.
pub fn check(config: &AgentConfig, format: Format) -> Vec<Problem> {
    let Some(logs) = &config.logs else {
        return Vec::new();
    };
    let list = match format {
        Format::CloudWatchJson => "logs.logs_collected.files.collect_list",
        Format::Toml => "logs.files",
    };
    let mut warnings = Vec::new();
    let mut matched_by: BTreeMap<PathBuf, Vec<usize>> = BTreeMap::new();
    for (i, file) in logs.files.iter().enumerate() {
        let at = format!("{list}[{i}].file_path");
        if is_windows_path(&file.file_path)
            || path_problem::is_pseudo_file(std::path::Path::new(&file.file_path))
        {
            // Said by the reader already.
            continue;
        }
        let Ok(paths) = glob::glob(&super::glob_pattern(&file.file_path)) else {
            continue;
        };
        let paths: Vec<PathBuf> = paths.filter_map(Result::ok).collect();
        if paths.is_empty() {
            warnings.push(Problem {
                path: at.clone(),
                message: format!("{} matches no file now (the agent waits for one)", file.file_path),
            });
        }
        let literal = !file.file_path.contains(['*', '?', '[']);
        for path in paths {
            let problem = match path_problem::before_opening(&path) {
                // A wildcard also matches directories beside the files.
                Some(path_problem::PathProblem::Directory) if !literal => continue,
                Some(problem) => Some(problem),
                None => std::fs::File::open(&path)
                    .err()
                    .map(|e| path_problem::open_failed(&e)),
            };
            match problem {
                Some(problem) => warnings.push(Problem {
                    path: at.clone(),
                    message: format!("{} {}", path.display(), problem.describe()),
                }),
                None => matched_by.entry(path).or_default().push(i),
            }
        }
    }
    for (path, entries) in matched_by {
        let distinct: Vec<usize> = entries
            .iter()
            .copied()
            .filter(|&i| {
                let pattern = super::glob_pattern(&logs.files[i].file_path);
                entries
                    .iter()
                    .all(|&j| j >= i || super::glob_pattern(&logs.files[j].file_path) != pattern)
            })
            .collect();
        if distinct.len() > 1 {
            let names: Vec<String> = distinct.iter().map(|i| format!("{list}[{i}]")).collect();
            warnings.push(Problem {
                path: format!("{list}[{}].file_path", distinct[distinct.len() - 1]),
                message: format!(
                    "{} is matched by {}: it is shipped once for each",
                    path.display(),
                    names.join(" and ")
                ),
            });
        }
    }
    warnings.extend(journald_problems(&logs.journald, format));
    warnings
}

/// journald entries whose journalctl cannot be found, or whose journal this user cannot read.
fn journald_problems(entries: &[super::JournaldConfig], format: Format) -> Vec<Problem> {
    let mut warnings = Vec::new();
    for (i, entry) in entries.iter().enumerate() {
        let at = match format {
            Format::CloudWatchJson => "logs.logs_collected.journald".to_string(),
            Format::Toml => format!("logs.journald[{i}]"),
        };
        if find_program(&entry.journalctl_path).is_none() {
            warnings.push(Problem {
                path: format!("{at}.journalctl_path"),
                message: format!(
                    "{} is not found on this machine: the journal cannot be read (install systemd's journalctl or set journalctl_path)",
                    entry.journalctl_path
                ),
            });
        }
        let dirs: Vec<&str> = match &entry.directory {
            Some(dir) => vec![dir.as_str()],
            None if entry.files.is_empty() => vec!["/var/log/journal", "/run/log/journal"],
            None => Vec::new(),
        };
        for dir in dirs {
            if let Err(e) = std::fs::read_dir(dir) {
                let message = if e.kind() == std::io::ErrorKind::PermissionDenied {
                    format!("{dir}: {e}: this user sees only its own journal entries (add the service's user to the systemd-journal group)")
                } else if entry.directory.is_some() {
                    format!("{dir}: {e}: the journal cannot be read")
                } else {
                    continue;
                };
                warnings.push(Problem {
                    path: at.clone(),
                    message,
                });
            }
        }
    }
    warnings
}

/// Where `program` is: itself when it names a path, else the first match in `PATH`.
fn find_program(program: &str) -> Option<PathBuf> {
    let runnable = |p: &std::path::Path| p.is_file();
    if program.contains('/') {
        let path = PathBuf::from(program);
        return runnable(&path).then_some(path);
    }
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|dir| dir.join(program))
            .find(|p| runnable(p))
    })
}
