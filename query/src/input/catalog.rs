//! The log groups a query can name with `SOURCE`: the agent's store's groups, or, for paths on
//! the command line, directories playing the part of groups. A directory given on the command
//! line holds groups named by their paths below it (`root/aws/lambda/api/*.log` is the group
//! `aws/lambda/api`, which `SOURCE '/aws/lambda/api'` names); files right in it are the group
//! named as the directory; a file given by itself is in the group of its directory; stdin is
//! the group `stdin`.

use std::path::{Path, PathBuf};

use crate::input::{resolve, resolve_store, InputError, Source};
use crate::syntax::ast::SourceClause;

/// Log groups and their inputs, in the order they were found.
#[derive(Debug, Default)]
pub struct Catalog {
    groups: Vec<(String, Vec<Source>)>,
}

impl Catalog {
    /// The groups of the command line's paths.
    pub fn from_paths(paths: &[String]) -> Result<Catalog, InputError> {
        let mut catalog = Catalog::default();
        if paths.is_empty() {
            catalog.add("stdin", Source::stdin());
            return Ok(catalog);
        }
        for arg in paths {
            let root = Path::new(arg);
            let is_dir = arg != "-" && root.is_dir();
            for source in resolve(std::slice::from_ref(arg))? {
                let group = match (&source.path, is_dir) {
                    (None, _) => "stdin".to_string(),
                    (Some(path), true) => group_below(root, path),
                    (Some(_), false) => source.log.clone(),
                };
                catalog.add(&group, source);
            }
        }
        Ok(catalog)
    }

    /// The groups of the agent's store in `store`, with their chunks that may hold events in
    /// the time range.
    pub fn from_store(
        store: &Path,
        start_ms: Option<i64>,
        end_ms: Option<i64>,
    ) -> Result<Catalog, InputError> {
        let names = skywatch_store::logs::groups(store).map_err(|e| InputError {
            path: store.display().to_string(),
            reason: e.to_string(),
        })?;
        let mut catalog = Catalog::default();
        for name in names {
            let sources = resolve_store(store, &name, start_ms, end_ms)?;
            catalog.groups.push((name, sources));
        }
        Ok(catalog)
    }

    fn add(&mut self, group: &str, source: Source) {
        match self.groups.iter_mut().find(|(name, _)| name == group) {
            Some((_, sources)) => sources.push(source),
            None => self.groups.push((group.to_string(), vec![source])),
        }
    }

    /// The group names, in order.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.groups.iter().map(|(name, _)| name.as_str())
    }

    /// Every input of every group.
    pub fn all(&self) -> Vec<Source> {
        self.groups.iter().flat_map(|(_, s)| s.iter().cloned()).collect()
    }

    /// The inputs of the groups `clause` selects: named groups, groups whose names start with a
    /// prefix, or every group (`logGroups()`, or only account, class or data-source filters,
    /// which local groups do not have). Leading `/` do not count in names. Selecting nothing
    /// is an error that lists the groups there are.
    pub fn select(&self, clause: &SourceClause) -> Result<Vec<Source>, InputError> {
        if let Some(_tags) = clause.tags {
            return Err(InputError {
                path: "SOURCE logGroupTags(...)".to_string(),
                reason: "local log groups have no tags; name the groups or their prefixes".to_string(),
            });
        }
        let named = !clause.groups.is_empty() || !clause.name_prefixes.is_empty();
        let every = !named;
        let mut sources = Vec::new();
        for (name, group) in &self.groups {
            let bare = name.trim_start_matches('/');
            let chosen = every
                || clause.groups.iter().any(|g| g.trim_start_matches('/') == bare)
                || clause
                    .name_prefixes
                    .iter()
                    .any(|p| bare.starts_with(p.trim_start_matches('/')));
            if chosen {
                sources.extend(group.iter().cloned());
            }
        }
        if sources.is_empty() {
            let there: Vec<&str> = self.names().take(20).collect();
            return Err(InputError {
                path: "SOURCE".to_string(),
                reason: if there.is_empty() {
                    "there are no log groups to read".to_string()
                } else {
                    format!("no log group here matches; the groups are: {}", there.join(", "))
                },
            });
        }
        Ok(sources)
    }
}

/// What `SOURCE` asks that local groups cannot honour, one line each, for the user to read.
pub fn source_notes(clause: &SourceClause) -> Vec<String> {
    let mut notes = Vec::new();
    if !clause.accounts.is_empty() {
        notes.push(format!(
            "SOURCE accountIdentifiers {:?}: local log groups belong to no account; read as if the account matched",
            clause.accounts
        ));
    }
    if !clause.classes.is_empty() {
        notes.push(format!(
            "SOURCE class {:?}: local log groups have no log class; every selected group is read",
            clause.classes
        ));
    }
    if !clause.data_sources.is_empty() {
        notes.push(format!(
            "SOURCE dataSource {:?}: there are no data sources locally; only the log groups are read",
            clause.data_sources
        ));
    }
    notes
}

/// The group of `file` found under the directory `root`: its directory's path below `root`, or
/// `root`'s own name for files right in it.
fn group_below(root: &Path, file: &Path) -> String {
    let parent = file.parent().unwrap_or(root);
    let below: PathBuf = parent
        .strip_prefix(root)
        .map(Path::to_path_buf)
        .unwrap_or_default();
    let parts: Vec<String> = below
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    if parts.is_empty() {
        let own = root
            .canonicalize()
            .ok()
            .and_then(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()));
        own.unwrap_or_else(|| root.display().to_string())
    } else {
        parts.join("/")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn clause(groups: &[&str], prefixes: &[&str]) -> SourceClause {
        SourceClause {
            groups: groups.iter().map(|s| (*s).to_string()).collect(),
            name_prefixes: prefixes.iter().map(|s| (*s).to_string()).collect(),
            ..SourceClause::default()
        }
    }

    #[test]
    fn directories_below_a_path_are_groups() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("logs");
        for (sub, file) in [
            ("aws/lambda/api", "a.log"),
            ("aws/lambda/db", "b.log"),
            ("web", "c.log"),
            ("", "top.log"),
        ] {
            std::fs::create_dir_all(root.join(sub)).unwrap();
            std::fs::write(root.join(sub).join(file), "x\n").unwrap();
        }
        let catalog = Catalog::from_paths(&[root.display().to_string()]).unwrap();
        let mut names: Vec<&str> = catalog.names().collect();
        names.sort_unstable();
        assert_eq!(names, vec!["aws/lambda/api", "aws/lambda/db", "logs", "web"]);
        let file_names =
            |sources: Vec<Source>| -> Vec<String> { sources.into_iter().map(|s| s.log_stream).collect() };
        assert_eq!(
            file_names(catalog.select(&clause(&[], &["/aws/lambda"])).unwrap()),
            vec!["a.log", "b.log"]
        );
        assert_eq!(
            file_names(catalog.select(&clause(&["/web"], &[])).unwrap()),
            vec!["c.log"]
        );
        assert_eq!(
            file_names(catalog.select(&clause(&["logs"], &["aws/lambda/d"])).unwrap()),
            vec!["b.log", "top.log"]
        );
        assert_eq!(catalog.select(&clause(&[], &[])).unwrap().len(), 4);
        let none = catalog.select(&clause(&["/nope"], &[])).unwrap_err();
        assert!(none.reason.contains("the groups are: "), "{none}");
        let tags = SourceClause {
            tags: Some(crate::syntax::span::Span::new(0, 1)),
            ..SourceClause::default()
        };
        assert!(catalog.select(&tags).is_err());
    }
}
