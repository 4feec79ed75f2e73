//! Where reading resumes: one versioned checkpoint file per agent, written atomically — the new
//! content goes to a temporary file, is synced, renamed over the old one, and the directory is
//! synced — so a crash at any moment leaves either the old or the new checkpoints, never a mix.
//! A torn temporary file from a crash is ignored and removed.
//!
//! Files are identified by fingerprint (a checksum of their first bytes), with device and inode
//! kept as the fallback for files too short to fingerprint yet.
//!
//! Format (`checkpoints.json`):
//!
//! ```text
//! {"version":1,"files":[{"fingerprint":"9f2c…","dev":64769,"inode":1234,
//!   "path":"/var/log/app.log","source":"/var/log/*.log","offset":81920,"tail":"5e0c…","updated_ms":1764291723004}]}
//! ```

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

/// The format this agent writes and reads.
pub const CHECKPOINT_VERSION: u64 = 1;
const FILE_NAME: &str = "checkpoints.json";

/// The position reached in one file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checkpoint {
    /// Checksum of the file's first bytes (hex), or empty while the file is too short.
    pub fingerprint: String,
    pub dev: u64,
    pub inode: u64,
    /// The path it was last seen at (for people; identity is the fingerprint).
    pub path: String,
    /// The glob that followed it (each collected-file entry resumes its own files).
    pub source: String,
    /// Bytes read and acknowledged.
    pub offset: u64,
    /// Checksum (hex) of the up to 256 bytes before `offset`: the file is only resumed at
    /// `offset` if it still holds them. Empty: not known (older checkpoints).
    pub tail: String,
    pub updated_ms: i64,
}

/// Why checkpoints could not be read.
#[derive(Debug)]
pub enum CheckpointError {
    Io {
        path: PathBuf,
        error: io::Error,
    },
    /// The file is not a checkpoint file this agent can read.
    Malformed {
        path: PathBuf,
        reason: String,
    },
    /// Written by a newer agent: not overwritten, so a downgrade loses nothing.
    NewerVersion {
        path: PathBuf,
        version: u64,
    },
}

impl std::fmt::Display for CheckpointError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CheckpointError::Io { path, error } => write!(f, "{}: {error}", path.display()),
            CheckpointError::Malformed { path, reason } => {
                write!(f, "{} is not a checkpoint file: {reason}", path.display())
            }
            CheckpointError::NewerVersion { path, version } => write!(
                f,
                "{} has checkpoint version {version}; this agent reads version {CHECKPOINT_VERSION} (upgrade the agent)",
                path.display()
            ),
        }
    }
}

impl std::error::Error for CheckpointError {}

/// The checkpoint file of a state directory.
#[derive(Debug, Clone)]
pub struct CheckpointStore {
    dir: PathBuf,
}

impl CheckpointStore {
    pub fn new(dir: &Path) -> CheckpointStore {
        CheckpointStore {
            dir: dir.to_path_buf(),
        }
    }

    pub fn path(&self) -> PathBuf {
        self.dir.join(FILE_NAME)
    }

    /// The saved checkpoints (none when there is no file yet). A leftover temporary file is
    /// a write that never completed: it is removed, and the last complete file counts.
    pub fn load(&self) -> Result<Vec<Checkpoint>, CheckpointError> {
        load_list(&self.path(), CHECKPOINT_VERSION, "files", read_entry)
    }

    /// Replaces the saved checkpoints with `checkpoints`, atomically.
    pub fn save(&self, checkpoints: &[Checkpoint]) -> Result<(), CheckpointError> {
        let files: Vec<serde_json::Value> = checkpoints
            .iter()
            .map(|c| {
                serde_json::json!({
                    "fingerprint": c.fingerprint,
                    "dev": c.dev,
                    "inode": c.inode,
                    "path": c.path,
                    "source": c.source,
                    "offset": c.offset,
                    "tail": c.tail,
                    "updated_ms": c.updated_ms,
                })
            })
            .collect();
        save_list(&self.dir, &self.path(), CHECKPOINT_VERSION, "files", files)
    }
}

/// The entries of the list `list` of a versioned state file (`{"version":N,"<list>":[…]}`),
/// each read by `entry` (none when there is no file yet). A leftover temporary file is a write
/// that never completed: it is removed, and the last complete file counts. A file of a newer
/// version is refused, not read, so a downgrade overwrites nothing.
pub fn load_list<T>(
    path: &Path,
    newest: u64,
    list: &str,
    entry: impl Fn(&serde_json::Value) -> Option<T>,
) -> Result<Vec<T>, CheckpointError> {
    let temp = skywatch_store::durable::temp_path(path);
    if temp.exists() {
        let _ = fs::remove_file(&temp);
    }
    let path = path.to_path_buf();
    let text = match fs::read_to_string(&path) {
        Ok(text) => text,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(error) => return Err(CheckpointError::Io { path, error }),
    };
    let malformed = |reason: String| CheckpointError::Malformed {
        path: path.clone(),
        reason,
    };
    let doc: serde_json::Value = serde_json::from_str(&text).map_err(|e| malformed(e.to_string()))?;
    let version = doc
        .get("version")
        .and_then(serde_json::Value::as_u64)
        .ok_or_else(|| malformed("no version".into()))?;
    if version > newest {
        return Err(CheckpointError::NewerVersion { path, version });
    }
    let entries = doc
        .get(list)
        .and_then(serde_json::Value::as_array)
        .ok_or_else(|| malformed(format!("no {list} list")))?;
    entries
        .iter()
        .enumerate()
        .map(|(i, e)| entry(e).ok_or_else(|| malformed(format!("{list}[{i}] is incomplete"))))
        .collect()
}

/// Writes `entries` as the list `list` of the versioned state file `path` in `dir`, atomically
/// (a private directory is made if missing).
pub fn save_list(
    dir: &Path,
    path: &Path,
    version: u64,
    list: &str,
    entries: Vec<serde_json::Value>,
) -> Result<(), CheckpointError> {
    let io_error = |path: &Path| {
        let path = path.to_path_buf();
        move |error| CheckpointError::Io { path, error }
    };
    skywatch_store::durable::create_private_dir_all(dir).map_err(io_error(dir))?;
    let mut doc = serde_json::Map::new();
    doc.insert("version".into(), version.into());
    doc.insert(list.into(), serde_json::Value::Array(entries));
    skywatch_store::durable::write_atomically(path, serde_json::Value::Object(doc).to_string().as_bytes())
        .map_err(io_error(path))
}

/// One entry of the `files` list, if it has every field.
fn read_entry(f: &serde_json::Value) -> Option<Checkpoint> {
    let text = |k: &str| f.get(k).and_then(serde_json::Value::as_str).map(str::to_string);
    let number = |k: &str| f.get(k).and_then(serde_json::Value::as_u64);
    Some(Checkpoint {
        fingerprint: text("fingerprint")?,
        dev: number("dev")?,
        inode: number("inode")?,
        path: text("path")?,
        source: text("source").unwrap_or_default(),
        offset: number("offset")?,
        tail: text("tail").unwrap_or_default(),
        updated_ms: f.get("updated_ms").and_then(serde_json::Value::as_i64)?,
    })
}

#[cfg(test)]
mod tests {
    use super::{Checkpoint, CheckpointError, CheckpointStore};

    fn checkpoint(path: &str, offset: u64) -> Checkpoint {
        Checkpoint {
            fingerprint: "9f2c".into(),
            dev: 64769,
            inode: 1234,
            path: path.into(),
            source: "/var/log/*.log".into(),
            offset,
            tail: "00ff".into(),
            updated_ms: 1_764_291_723_004,
        }
    }

    #[test]
    fn saved_checkpoints_load_back_and_no_file_means_none() {
        let dir = tempfile::tempdir().unwrap();
        let store = CheckpointStore::new(&dir.path().join("state"));
        assert!(store.load().unwrap().is_empty());
        let saved = vec![
            checkpoint("/var/log/a.log", 10),
            checkpoint("/var/log/\"b\".log", 20),
        ];
        store.save(&saved).unwrap();
        assert_eq!(store.load().unwrap(), saved);
        store.save(&saved[..1]).unwrap();
        assert_eq!(store.load().unwrap(), saved[..1]);
    }

    #[test]
    fn a_torn_temporary_file_is_ignored_and_the_last_complete_save_counts() {
        let dir = tempfile::tempdir().unwrap();
        let store = CheckpointStore::new(dir.path());
        store.save(&[checkpoint("/var/log/a.log", 10)]).unwrap();
        // A crash in the middle of the next save: half a temporary file, never renamed.
        std::fs::write(
            dir.path().join("checkpoints.json.tmp"),
            br#"{"version":1,"files":[{"finger"#,
        )
        .unwrap();
        assert_eq!(store.load().unwrap(), [checkpoint("/var/log/a.log", 10)]);
        assert!(
            !dir.path().join("checkpoints.json.tmp").exists(),
            "the torn file is removed"
        );
    }

    #[test]
    fn a_newer_version_is_refused_not_overwritten_and_garbage_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let store = CheckpointStore::new(dir.path());
        std::fs::write(store.path(), r#"{"version":2,"files":[]}"#).unwrap();
        let err = store.load().unwrap_err();
        assert!(
            matches!(err, CheckpointError::NewerVersion { version: 2, .. }),
            "{err}"
        );
        assert!(err.to_string().contains("upgrade the agent"), "{err}");
        std::fs::write(store.path(), "not json").unwrap();
        assert!(store
            .load()
            .unwrap_err()
            .to_string()
            .contains("is not a checkpoint file"));
        std::fs::write(store.path(), r#"{"version":1,"files":[{"path":"x"}]}"#).unwrap();
        assert!(store
            .load()
            .unwrap_err()
            .to_string()
            .contains("files[0] is incomplete"));
    }
}
