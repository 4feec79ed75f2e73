//! Where each journald entry resumes: the journal cursor of the last entry the backend took,
//! or, before any was taken, the time collection started (so a restart before the first
//! delivery does not skip what came in between). One file per agent, written atomically as the
//! file checkpoints are.
//!
//! Format (`journald-cursors.json`):
//!
//! ```text
//! {"version":1,"entries":[{"source":"journald:units=ssh#/var/log/ssh/{instance_id}",
//!   "cursor":"s=8c1…;i=2a4;b=…","since_s":1764291723,"updated_ms":1764291723004}]}
//! ```

use std::path::{Path, PathBuf};

use super::checkpoint::{load_list, save_list, CheckpointError};

/// The format this agent writes and reads.
const VERSION: u64 = 1;
const FILE_NAME: &str = "journald-cursors.json";

/// Where one journald entry resumes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JournalCursor {
    /// Which entry (see [`super::journald::JournalSource::key`]).
    pub source: String,
    /// Past the last delivered journal entry.
    pub cursor: Option<String>,
    /// Without a cursor: entries from this time on (seconds since the epoch).
    pub since_s: Option<i64>,
    pub updated_ms: i64,
}

/// The cursor file of a state directory.
#[derive(Debug, Clone)]
pub struct CursorStore {
    dir: PathBuf,
}

impl CursorStore {
    pub fn new(dir: &Path) -> CursorStore {
        CursorStore {
            dir: dir.to_path_buf(),
        }
    }

    pub fn path(&self) -> PathBuf {
        self.dir.join(FILE_NAME)
    }

    /// The saved cursors (none when there is no file yet).
    pub fn load(&self) -> Result<Vec<JournalCursor>, CheckpointError> {
        load_list(&self.path(), VERSION, "entries", read_entry)
    }

    /// Replaces the saved cursors with `cursors`, atomically.
    pub fn save(&self, cursors: &[JournalCursor]) -> Result<(), CheckpointError> {
        let entries: Vec<serde_json::Value> = cursors
            .iter()
            .map(|c| {
                serde_json::json!({
                    "source": c.source,
                    "cursor": c.cursor,
                    "since_s": c.since_s,
                    "updated_ms": c.updated_ms,
                })
            })
            .collect();
        save_list(&self.dir, &self.path(), VERSION, "entries", entries)
    }
}

fn read_entry(e: &serde_json::Value) -> Option<JournalCursor> {
    Some(JournalCursor {
        source: e.get("source")?.as_str()?.to_string(),
        cursor: e
            .get("cursor")
            .and_then(serde_json::Value::as_str)
            .map(str::to_string),
        since_s: e.get("since_s").and_then(serde_json::Value::as_i64),
        updated_ms: e.get("updated_ms").and_then(serde_json::Value::as_i64)?,
    })
}

#[cfg(test)]
mod tests {
    use super::{CursorStore, JournalCursor};
    use crate::logs::checkpoint::CheckpointError;

    #[test]
    fn saved_cursors_load_back_and_a_newer_version_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let store = CursorStore::new(&dir.path().join("state"));
        assert!(store.load().unwrap().is_empty());
        let saved = vec![
            JournalCursor {
                source: "journald:units=ssh".into(),
                cursor: Some("s=1;i=2".into()),
                since_s: None,
                updated_ms: 5,
            },
            JournalCursor {
                source: "journald:all".into(),
                cursor: None,
                since_s: Some(1_764_291_723),
                updated_ms: 6,
            },
        ];
        store.save(&saved).unwrap();
        assert_eq!(store.load().unwrap(), saved);
        std::fs::write(store.path(), r#"{"version":2,"entries":[]}"#).unwrap();
        assert!(matches!(
            store.load().unwrap_err(),
            CheckpointError::NewerVersion { version: 2, .. }
        ));
        std::fs::write(store.path(), r#"{"version":1,"entries":[{"cursor":"x"}]}"#).unwrap();
        assert!(store
            .load()
            .unwrap_err()
            .to_string()
            .contains("entries[0] is incomplete"));
    }
}
