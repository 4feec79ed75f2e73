//! Writing a file so that it is either wholly there or not at all, across a crash: the bytes go
//! to `<name>.tmp` beside it, are synced, the temporary file is renamed over the name, and the
//! directory is synced so the rename itself survives. Checkpoints, store chunks and anything
//! else a part acknowledges against are written this way, and only this way.

use std::fs::{self, File};
use std::io::{self, Write as _};
use std::path::{Path, PathBuf};

/// The temporary name `path` is written under first. Readers skip such names; a crash leaves
/// at most one behind, which the next write replaces.
pub fn temp_path(path: &Path) -> PathBuf {
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(".tmp");
    path.with_file_name(name)
}

/// Writes `bytes` to `path` atomically and durably. On error `path` still holds what it held
/// before (the error names the step's file).
pub fn write_atomically(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let temp = temp_path(path);
    let named = |what: &Path| {
        let what = what.to_path_buf();
        move |e: io::Error| io::Error::new(e.kind(), format!("{}: {e}", what.display()))
    };
    let mut file = File::create(&temp).map_err(named(&temp))?;
    file.write_all(bytes)
        .and_then(|()| file.sync_all())
        .map_err(named(&temp))?;
    drop(file);
    fs::rename(&temp, path).map_err(named(path))?;
    let dir = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    };
    File::open(dir).and_then(|d| d.sync_all()).map_err(named(dir))
}

#[cfg(test)]
mod tests {
    use super::{temp_path, write_atomically};

    #[test]
    fn replaces_the_file_whole_and_leaves_no_temporary() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.json");
        write_atomically(&path, b"one").unwrap();
        write_atomically(&path, b"two").unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"two");
        assert!(!temp_path(&path).exists());
        assert_eq!(temp_path(&path), dir.path().join("state.json.tmp"));
    }

    #[test]
    fn a_failed_write_keeps_what_was_there() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.json");
        write_atomically(&path, b"kept").unwrap();
        // The temporary name is taken by a directory: the write fails before the rename.
        std::fs::create_dir(temp_path(&path)).unwrap();
        let err = write_atomically(&path, b"lost").unwrap_err();
        assert!(err.to_string().contains("state.json.tmp"), "{err}");
        assert_eq!(std::fs::read(&path).unwrap(), b"kept");
    }
}
