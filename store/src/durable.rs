//! Writing a file so that it is either wholly there or not at all, across a crash: the bytes go
//! to `<name>.tmp` beside it, are synced, the temporary file is renamed over the name, and the
//! directory is synced so the rename itself survives. Checkpoints, store chunks and anything
//! else a part acknowledges against are written this way, and only this way.
//!
//! Everything skywatch keeps is private, whatever the umask: directories 0750, files 0640 (what
//! root shipped from a 0600 log is not for other users to read).

use std::fs::{self, File};
use std::io::{self, Write as _};
use std::os::unix::fs::{DirBuilderExt as _, OpenOptionsExt as _, PermissionsExt as _};
use std::path::{Path, PathBuf};

/// Mode of every directory skywatch creates for its state.
pub const PRIVATE_DIR_MODE: u32 = 0o750;
/// Mode of every file skywatch writes in its state.
pub const PRIVATE_FILE_MODE: u32 = 0o640;

/// Creates `dir` and its missing parents, each private (existing ones are left as they are).
pub fn create_private_dir_all(dir: &Path) -> io::Result<()> {
    if dir.is_dir() {
        return Ok(());
    }
    if let Some(parent) = dir.parent().filter(|p| !p.as_os_str().is_empty()) {
        create_private_dir_all(parent)?;
    }
    match fs::DirBuilder::new().mode(PRIVATE_DIR_MODE).create(dir) {
        Ok(()) => fs::set_permissions(dir, fs::Permissions::from_mode(PRIVATE_DIR_MODE)),
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists && dir.is_dir() => Ok(()),
        Err(e) => Err(e),
    }
}

/// Opens `path` for appending, creating it private.
pub fn open_private_append(path: &Path) -> io::Result<File> {
    let file = fs::OpenOptions::new()
        .create(true)
        .append(true)
        .read(true)
        .mode(PRIVATE_FILE_MODE)
        .open(path)?;
    // The umask may have taken bits off: say exactly what it is.
    file.set_permissions(fs::Permissions::from_mode(PRIVATE_FILE_MODE))?;
    Ok(file)
}

/// Creates (or truncates) `path`, private.
pub fn create_private(path: &Path) -> io::Result<File> {
    let file = fs::OpenOptions::new()
        .create(true)
        .write(true)
        .truncate(true)
        .mode(PRIVATE_FILE_MODE)
        .open(path)?;
    file.set_permissions(fs::Permissions::from_mode(PRIVATE_FILE_MODE))?;
    Ok(file)
}

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
    let mut file = create_private(&temp).map_err(named(&temp))?;
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
    fn state_is_private_whatever_the_umask() {
        use std::os::unix::fs::PermissionsExt as _;
        let dir = tempfile::tempdir().unwrap();
        let deep = dir.path().join("a/b");
        super::create_private_dir_all(&deep).unwrap();
        write_atomically(&deep.join("f"), b"x").unwrap();
        drop(super::open_private_append(&deep.join("g")).unwrap());
        let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&dir.path().join("a")), 0o750);
        assert_eq!(mode(&deep), 0o750);
        assert_eq!(mode(&deep.join("f")), 0o640);
        assert_eq!(mode(&deep.join("g")), 0o640);
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
