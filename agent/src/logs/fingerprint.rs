//! File identity by content, not by path: a checksum of the file's first bytes. A file renamed
//! by rotation keeps its fingerprint; a new file at the old path gets a new one; a file
//! truncated and rewritten (copytruncate) gets a new one once its first bytes differ. Files
//! shorter than the fingerprinted prefix have none yet — they are followed by device and inode
//! until they grow.
//!
//! The checksum is 64-bit FNV-1a: stable across builds and platforms (it is stored in
//! checkpoints), fast, and plenty against accidental collisions of log file heads.

use std::fs::File;
use std::io;
use std::os::unix::fs::MetadataExt;

/// Bytes a fingerprint covers.
pub const FINGERPRINT_BYTES: usize = 256;

/// How a file is recognised.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct FileId {
    /// The checksum of the first [`FINGERPRINT_BYTES`], hex; `None` while the file is shorter.
    pub fingerprint: Option<String>,
    pub dev: u64,
    pub inode: u64,
}

impl FileId {
    /// Whether `other` can be the file this identity was taken from: the same fingerprint when
    /// this one has one (a file now too short for it is another file), else the same device
    /// and inode.
    pub fn same_file(&self, other: &FileId) -> bool {
        match &self.fingerprint {
            Some(a) => other.fingerprint.as_ref() == Some(a),
            None => self.dev == other.dev && self.inode == other.inode,
        }
    }
}

/// 64-bit FNV-1a of `bytes`.
pub fn fnv1a(bytes: &[u8]) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in bytes {
        hash ^= u64::from(b);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    hash
}

/// The first `len` bytes of `file` (fewer if it is shorter), read without moving its cursor.
pub fn read_head(file: &File, len: usize) -> io::Result<Vec<u8>> {
    use std::os::unix::fs::FileExt;
    let mut head = vec![0u8; len];
    let mut filled = 0;
    while filled < len {
        let n = file.read_at(&mut head[filled..], filled as u64)?;
        if n == 0 {
            break;
        }
        filled += n;
    }
    head.truncate(filled);
    Ok(head)
}

/// A checksum of the (up to) [`FINGERPRINT_BYTES`] bytes of `file` just before `offset`, which
/// says whether a file still holds what was read from it up to there; `None` when the file is
/// shorter than `offset`.
pub fn mark_at(file: &File, offset: u64) -> io::Result<Option<u64>> {
    use std::os::unix::fs::FileExt;
    let len = offset.min(FINGERPRINT_BYTES as u64) as usize;
    let mut bytes = vec![0u8; len];
    let mut filled = 0;
    while filled < len {
        let n = file.read_at(&mut bytes[filled..], offset - len as u64 + filled as u64)?;
        if n == 0 {
            return Ok(None);
        }
        filled += n;
    }
    Ok(Some(fnv1a(&bytes)))
}

/// The identity of an open file.
pub fn identify(file: &File) -> io::Result<FileId> {
    let meta = file.metadata()?;
    let head = read_head(file, FINGERPRINT_BYTES)?;
    Ok(FileId {
        fingerprint: (head.len() == FINGERPRINT_BYTES).then(|| format!("{:016x}", fnv1a(&head))),
        dev: meta.dev(),
        inode: meta.ino(),
    })
}

/// The identity of the file at `path`.
pub fn identify_path(path: &std::path::Path) -> io::Result<FileId> {
    identify(&File::open(path)?)
}

#[cfg(test)]
mod tests {
    use super::{fnv1a, identify_path, FINGERPRINT_BYTES};

    #[test]
    fn fnv1a_is_the_published_function() {
        assert_eq!(fnv1a(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a(b"a"), 0xaf63_dc4c_8601_ec8c);
        assert_eq!(fnv1a(b"foobar"), 0x8594_4171_f739_67e8);
    }

    #[test]
    fn renamed_files_keep_their_identity_and_new_content_gets_another() {
        let dir = tempfile::tempdir().unwrap();
        let a = dir.path().join("app.log");
        std::fs::write(&a, "short\n").unwrap();
        let short = identify_path(&a).unwrap();
        assert_eq!(short.fingerprint, None, "too short to fingerprint");
        let head = "x".repeat(FINGERPRINT_BYTES);
        std::fs::write(&a, format!("{head}\nmore\n")).unwrap();
        let first = identify_path(&a).unwrap();
        assert!(first.fingerprint.is_some());
        assert!(
            short.same_file(&first),
            "a file that grew is still followed by its inode"
        );
        assert!(
            !first.same_file(&short),
            "a file now too short for the fingerprint it had is another file"
        );
        let rotated = dir.path().join("app.log.1");
        std::fs::rename(&a, &rotated).unwrap();
        assert!(identify_path(&rotated).unwrap().same_file(&first));
        std::fs::write(&a, format!("{}\n", "y".repeat(FINGERPRINT_BYTES))).unwrap();
        assert!(
            !identify_path(&a).unwrap().same_file(&first),
            "a new file at the old path"
        );
        // copytruncate: same inode, rewritten from the start with other content.
        std::fs::write(&rotated, format!("{}\n", "z".repeat(FINGERPRINT_BYTES))).unwrap();
        assert!(!identify_path(&rotated).unwrap().same_file(&first));
    }
}
