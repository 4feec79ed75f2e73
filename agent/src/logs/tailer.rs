//! Following the files that match one glob, by identity rather than path:
//!
//! - a new file is read from its checkpoint, or from the beginning when it has none (the
//!   CloudWatch agent's behaviour);
//! - rename-and-create rotation: the renamed file is read to its end through the handle
//!   already open (and while its new name still matches, it stays followed), the new file at
//!   the old path is a new file;
//! - copytruncate and truncation: a file that became shorter than what was read is read again
//!   from the start; a copy that matches the glob carries the old file's fingerprint, so
//!   reading continues in the copy where it stopped;
//! - a file deleted while being read is drained through its open handle, then dropped;
//! - a file rotated while the agent was stopped: a checkpoint whose file no longer matches is
//!   looked for among the siblings of its last path by fingerprint, and the rest is read first;
//! - a file too short to fingerprint is followed by device and inode until it grows.
//!
//! Memory per file is bounded by the reader's line limit. The caller polls (after inotify
//! events or on a timer); nothing here sleeps.

use std::collections::HashMap;
use std::fs::File;
use std::io;
use std::path::{Path, PathBuf};

use super::checkpoint::Checkpoint;
use super::fingerprint::{fnv1a, identify, identify_path, read_head, FileId, FINGERPRINT_BYTES};
use super::reader::{FileReader, Line};

/// Lines read from one followed file.
#[derive(Debug)]
pub struct FileLines {
    /// The tailer's number for the file (for acknowledgements).
    pub file: u64,
    pub path: PathBuf,
    pub lines: Vec<Line>,
}

/// Something worth logging (and counting) that happened to a file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FileEvent {
    /// Followed from `offset` as file number `file`.
    Opened { file: u64, path: PathBuf, offset: u64 },
    /// The file became shorter than what was read (truncation or copytruncate).
    Truncated { path: PathBuf },
    /// Read to its end after it was renamed away or deleted; no longer followed.
    Finished { path: PathBuf },
    /// A checkpointed file found under another name after a restart.
    FoundRotated {
        file: u64,
        from: PathBuf,
        to: PathBuf,
        offset: u64,
    },
}

#[derive(Debug)]
struct Followed {
    id: FileId,
    path: PathBuf,
    reader: FileReader,
    /// Whether the glob still matched it at the last discovery.
    matched: bool,
    /// The first bytes read (up to the fingerprint's length): if the file's start no longer
    /// reads the same, it was truncated and written again between two looks.
    head: Vec<u8>,
}

/// Follows the files of one glob.
#[derive(Debug)]
pub struct Tailer {
    pattern: String,
    max_line_bytes: usize,
    files: HashMap<u64, Followed>,
    next_number: u64,
    /// Checkpoints not yet matched to a file, by fingerprint.
    saved: Vec<Checkpoint>,
    /// Files truncated by copytruncate, to follow anew from their start.
    truncated_originals: Vec<(File, FileId, PathBuf)>,
    /// Files read to their end and no longer followed, whose checkpoints stay until the caller
    /// releases them (their last events may still be in flight).
    retired: HashMap<u64, (FileId, PathBuf)>,
    /// Files whose base name matches are not followed (`blacklist`).
    skip_names: Option<regex::Regex>,
    /// The files' encoding (none: UTF-8).
    encoding: Option<&'static encoding_rs::Encoding>,
    /// Invalid lines counted in files no longer followed.
    finished_invalid_lines: u64,
}

/// Compressed files a glob may match (rotated logs): never followed, as the CloudWatch agent.
const COMPRESSED_SUFFIXES: &[&str] = &[".gz", ".zst", ".zip", ".bz2", ".xz", ".tar", ".rar"];

/// How long a checkpoint whose file is nowhere to be found is kept.
const UNMATCHED_CHECKPOINT_TTL_MS: i64 = 7 * 24 * 3600 * 1000;

impl Tailer {
    /// Follows `pattern`; `saved` are the checkpoints from the last run.
    pub fn new(pattern: &str, max_line_bytes: usize, saved: Vec<Checkpoint>) -> Tailer {
        Tailer {
            pattern: pattern.to_string(),
            max_line_bytes,
            files: HashMap::new(),
            next_number: 1,
            saved,
            truncated_originals: Vec::new(),
            retired: HashMap::new(),
            skip_names: None,
            encoding: None,
            finished_invalid_lines: 0,
        }
    }

    /// Decodes the files from `encoding` (ASCII-compatible; none: UTF-8).
    #[must_use]
    pub fn decoding(mut self, encoding: Option<&'static encoding_rs::Encoding>) -> Tailer {
        self.encoding = encoding;
        self
    }

    fn reader(&self, file: File, offset: u64) -> FileReader {
        FileReader::new(file, offset, self.max_line_bytes).decoding(self.encoding)
    }

    /// Leaves out files whose base name matches `names`.
    #[must_use]
    pub fn skipping(mut self, names: regex::Regex) -> Tailer {
        self.skip_names = Some(names);
        self
    }

    /// Numbers this tailer's files from `first` on (several tailers feed one acknowledgement
    /// tracker, so their numbers must not meet).
    #[must_use]
    pub fn numbered_from(mut self, first: u64) -> Tailer {
        self.next_number = first;
        self
    }

    /// The glob followed.
    pub fn pattern(&self) -> &str {
        &self.pattern
    }

    /// The followed files: number, identity and path.
    pub fn files(&self) -> impl Iterator<Item = (u64, &FileId, &Path)> {
        self.files.iter().map(|(n, f)| (*n, &f.id, f.path.as_path()))
    }

    /// Finds new files and notices renames, deletions and truncations.
    pub fn discover(&mut self, events: &mut Vec<FileEvent>) -> io::Result<()> {
        let mut paths: Vec<PathBuf> = glob::glob(&self.pattern)
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e.to_string()))?
            .filter_map(Result::ok)
            .filter(|p| p.is_file() && !self.skipped(p))
            .collect();
        paths.sort();
        for f in self.files.values_mut() {
            f.matched = false;
        }
        for path in paths {
            let Ok(file) = File::open(&path) else { continue };
            let Ok(id) = identify(&file) else { continue };
            // A followed file is held open, so its inode cannot be reused: the inode says which
            // followed file a path is, whatever its content became.
            if let Some(f) = self.files.values_mut().find(|f| same_inode(&f.id, &id)) {
                f.matched = true;
                let still_at_old_path = identify_path(&f.path).is_ok_and(|now| same_inode(&now, &f.id));
                if f.path != path && !still_at_old_path {
                    // Renamed (and still matching): keep reading through the open handle.
                    f.path.clone_from(&path);
                }
                continue;
            }
            // A copy of a followed file (copytruncate): its reader moves there when the original
            // is truncated; read from the start, it would only repeat lines.
            if id.fingerprint.is_some() && self.files.values().any(|f| f.id.fingerprint == id.fingerprint) {
                continue;
            }
            // No checkpoint: from the start (the CloudWatch agent's behaviour).
            let offset = self.take_saved(&id).unwrap_or(0);
            let number = self.follow(file, id, path.clone(), offset);
            events.push(FileEvent::Opened {
                file: number,
                path,
                offset,
            });
        }
        self.find_rotated_while_stopped(events);
        Ok(())
    }

    fn skipped(&self, path: &Path) -> bool {
        let Some(name) = path.file_name().and_then(|n| n.to_str()) else {
            return false;
        };
        COMPRESSED_SUFFIXES.iter().any(|s| name.ends_with(s))
            || self.skip_names.as_ref().is_some_and(|re| re.is_match(name))
    }

    /// Followed files read to their end whose last change is older than the newest followed
    /// file's (what `auto_removal` deletes once everything read from them is acknowledged),
    /// with the position read to.
    pub fn superseded(&self) -> Vec<(u64, PathBuf, u64)> {
        let modified = |f: &Followed| f.reader.file().metadata().and_then(|m| m.modified()).ok();
        let Some(newest) = self.files.values().filter_map(modified).max() else {
            return Vec::new();
        };
        self.files
            .iter()
            .filter(|(_, f)| {
                f.matched
                    && f.reader.pending_bytes() == 0
                    && f.reader.file_len().is_ok_and(|len| len == f.reader.position())
                    && modified(f).is_some_and(|m| m < newest)
            })
            .map(|(n, f)| (*n, f.path.clone(), f.reader.position()))
            .collect()
    }

    fn follow(&mut self, file: File, id: FileId, path: PathBuf, offset: u64) -> u64 {
        let number = self.next_number;
        self.next_number += 1;
        self.files.insert(
            number,
            Followed {
                id,
                path,
                reader: self.reader(file, offset),
                matched: true,
                head: Vec::new(),
            },
        );
        number
    }

    /// The saved offset for `id`, taken (each checkpoint resumes one file).
    fn take_saved(&mut self, id: &FileId) -> Option<u64> {
        let i = self.saved.iter().position(|c| {
            let saved = FileId {
                fingerprint: (!c.fingerprint.is_empty()).then(|| c.fingerprint.clone()),
                dev: c.dev,
                inode: c.inode,
            };
            saved.same_file(id)
        })?;
        Some(self.saved.remove(i).offset)
    }

    /// Checkpoints whose file no longer matches the glob: look for it next to its last path
    /// (`app.log` rotated to `app.log.1` while the agent was stopped) and read the rest.
    fn find_rotated_while_stopped(&mut self, events: &mut Vec<FileEvent>) {
        let saved = std::mem::take(&mut self.saved);
        for checkpoint in saved {
            let last = PathBuf::from(&checkpoint.path);
            let found = (!checkpoint.fingerprint.is_empty())
                .then(|| file_with_fingerprint(&self.pattern, &last, &checkpoint.fingerprint))
                .flatten();
            match found {
                Some((path, file, id)) => {
                    let size = file.metadata().map_or(0, |m| m.len());
                    if checkpoint.offset < size {
                        let number = self.follow(file, id, path.clone(), checkpoint.offset);
                        events.push(FileEvent::FoundRotated {
                            file: number,
                            from: last,
                            to: path,
                            offset: checkpoint.offset,
                        });
                    }
                }
                // Not found yet (maybe still being created): keep it for the next discovery.
                None => self.saved.push(checkpoint),
            }
        }
    }

    /// Reads what every followed file has now (up to `budget` bytes each).
    pub fn read(&mut self, budget: usize, events: &mut Vec<FileEvent>) -> io::Result<Vec<FileLines>> {
        let mut out = self.read_files(None, budget, events)?;
        // A file truncated by copytruncate is followed anew from its start, in this same round.
        let fresh: Vec<(File, FileId, PathBuf)> = std::mem::take(&mut self.truncated_originals);
        if !fresh.is_empty() {
            let first_new = self.next_number;
            for (file, id, path) in fresh {
                // Already followed (discovered under its name): one reader per file.
                if self.files.values().any(|f| same_inode(&f.id, &id)) {
                    continue;
                }
                let number = self.follow(file, id, path.clone(), 0);
                events.push(FileEvent::Opened {
                    file: number,
                    path,
                    offset: 0,
                });
            }
            out.extend(self.read_files(Some(first_new), budget, events)?);
        }
        out.sort_by_key(|f| f.file);
        Ok(out)
    }

    /// Reads the followed files (numbered `from` on, if given).
    fn read_files(
        &mut self,
        from: Option<u64>,
        budget: usize,
        events: &mut Vec<FileEvent>,
    ) -> io::Result<Vec<FileLines>> {
        let mut out = Vec::new();
        let mut finished = Vec::new();
        for (&number, f) in &mut self.files {
            if from.is_some_and(|from| number < from) {
                continue;
            }
            let len = f.reader.file_len()?;
            let position = f.reader.position();
            // Truncated under us — shorter than what was read, or rewritten from the start since
            // (its first bytes are not the ones it was known by).
            let rewritten = read_head(f.reader.file(), f.head.len())? != f.head;
            if len < position || rewritten {
                // After copytruncate the unread rest is in the copy, which has the old
                // fingerprint: go on reading there. The truncated file is a new file to the
                // next discovery.
                let copy =
                    f.id.fingerprint
                        .as_deref()
                        .and_then(|fp| file_with_fingerprint(&self.pattern, &f.path, fp))
                        .filter(|(_, file, id)| {
                            !same_inode(id, &f.id) && file.metadata().is_ok_and(|m| m.len() >= position)
                        });
                let original = f.reader.file().try_clone()?;
                let original_id = identify(&original)?;
                self.truncated_originals
                    .push((original, original_id, f.path.clone()));
                events.push(FileEvent::Truncated { path: f.path.clone() });
                let Some((copy_path, copy_file, copy_id)) = copy else {
                    // Plain truncation: the file is followed anew under a new number (its
                    // offsets start over); this number only waits for its acknowledgements.
                    finished.push(number);
                    continue;
                };
                f.id = copy_id;
                f.path = copy_path;
                self.finished_invalid_lines += f.reader.invalid_utf8_lines();
                f.reader = FileReader::new(copy_file, position, self.max_line_bytes).decoding(self.encoding);
            }
            let mut lines = Vec::new();
            let read = f.reader.read_lines(&mut lines, budget)?;
            if f.head.len() < FINGERPRINT_BYTES {
                let known = usize::try_from(f.reader.position())
                    .unwrap_or(usize::MAX)
                    .min(FINGERPRINT_BYTES);
                f.head = read_head(f.reader.file(), known)?;
                // Grown long enough to fingerprint, from bytes actually read.
                if f.id.fingerprint.is_none() && f.head.len() == FINGERPRINT_BYTES {
                    f.id.fingerprint = Some(format!("{:016x}", fnv1a(&f.head)));
                }
            }
            let gone = !f.matched || identify_path(&f.path).map_or(true, |id| !same_inode(&id, &f.id));
            if read == 0 && gone {
                // Renamed away or deleted, and read to its end: what waits without a newline
                // will never get one.
                lines.extend(f.reader.take_unterminated());
                finished.push(number);
            }
            if !lines.is_empty() {
                out.push(FileLines {
                    file: number,
                    path: f.path.clone(),
                    lines,
                });
            }
        }
        for number in finished {
            if let Some(f) = self.files.remove(&number) {
                self.finished_invalid_lines += f.reader.invalid_utf8_lines();
                events.push(FileEvent::Finished { path: f.path.clone() });
                self.retired.insert(number, (f.id, f.path));
            }
        }
        Ok(out)
    }

    /// Where reading `file` stands (none once it is no longer followed).
    pub fn position(&self, file: u64) -> Option<u64> {
        self.files.get(&file).map(|f| f.reader.position())
    }

    /// Lines with invalid UTF-8 (or bytes invalid in the encoding) read so far.
    pub fn invalid_utf8_lines(&self) -> u64 {
        self.finished_invalid_lines
            + self
                .files
                .values()
                .map(|f| f.reader.invalid_utf8_lines())
                .sum::<u64>()
    }

    /// The unterminated last line of `file`, given up waiting for its newline.
    pub fn take_unterminated(&mut self, file: u64) -> Option<Line> {
        self.files
            .get_mut(&file)
            .and_then(|f| f.reader.take_unterminated())
    }

    /// Files finished (read to their end after a rename or deletion) whose checkpoints are
    /// still kept.
    pub fn retired(&self) -> impl Iterator<Item = u64> + '_ {
        self.retired.keys().copied()
    }

    /// Drops a finished file's checkpoint (everything read from it was acknowledged).
    pub fn release(&mut self, file: u64) {
        self.retired.remove(&file);
    }

    /// Checkpoints for the followed (and retired) files at the given acknowledged offsets.
    pub fn checkpoints(&self, acknowledged: impl Fn(u64) -> Option<u64>, now_ms: i64) -> Vec<Checkpoint> {
        let followed = self.files.iter().map(|(n, f)| (*n, &f.id, &f.path));
        let retired = self.retired.iter().map(|(n, (id, path))| (*n, id, path));
        let mut out: Vec<Checkpoint> = followed
            .chain(retired)
            .filter_map(|(number, id, path)| {
                Some(Checkpoint {
                    fingerprint: id.fingerprint.clone().unwrap_or_default(),
                    dev: id.dev,
                    inode: id.inode,
                    path: path.display().to_string(),
                    source: self.pattern.clone(),
                    offset: acknowledged(number)?,
                    updated_ms: now_ms,
                })
            })
            .collect();
        // Checkpoints of files not found this run are kept for the next (for a while).
        out.extend(
            self.saved
                .iter()
                .filter(|c| now_ms - c.updated_ms < UNMATCHED_CHECKPOINT_TTL_MS)
                .cloned(),
        );
        out
    }
}

fn same_inode(a: &FileId, b: &FileId) -> bool {
    a.dev == b.dev && a.inode == b.inode
}

/// A file with `fingerprint`: among the glob's matches, or next to `last` (same directory, name
/// starting with its name — a rotated copy outside the glob).
fn file_with_fingerprint(pattern: &str, last: &Path, fingerprint: &str) -> Option<(PathBuf, File, FileId)> {
    let mut candidates: Vec<PathBuf> = glob::glob(pattern)
        .map(|paths| paths.filter_map(Result::ok).collect())
        .unwrap_or_default();
    if let (Some(dir), Some(stem)) = (last.parent(), last.file_name().and_then(|n| n.to_str())) {
        if let Ok(entries) = std::fs::read_dir(dir) {
            candidates.extend(entries.filter_map(Result::ok).map(|e| e.path()).filter(|p| {
                p.file_name()
                    .and_then(|n| n.to_str())
                    .is_some_and(|n| n.starts_with(stem))
            }));
        }
    }
    candidates.sort();
    candidates.dedup();
    candidates.into_iter().find_map(|path| {
        let file = File::open(&path).ok()?;
        let id = identify(&file).ok()?;
        (id.fingerprint.as_deref() == Some(fingerprint)).then_some((path, file, id))
    })
}

#[cfg(test)]
mod tests {
    use super::{FileEvent, Tailer};
    use std::io::Write;

    /// The texts of the lines `t` reads now.
    fn read_texts(t: &mut Tailer, events: &mut Vec<FileEvent>) -> Vec<String> {
        t.read(usize::MAX, events)
            .unwrap()
            .into_iter()
            .flat_map(|f| f.lines)
            .map(|l| l.text)
            .collect()
    }

    #[test]
    fn a_short_file_truncated_and_refilled_between_reads_is_read_from_its_start() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("app.log");
        std::fs::write(&path, "line 1\nline 2\n").unwrap();
        let mut t = Tailer::new(&format!("{}/app.log*", dir.path().display()), 1 << 20, Vec::new());
        let mut events = Vec::new();
        t.discover(&mut events).unwrap();
        let first: Vec<String> = read_texts(&mut t, &mut events);
        assert_eq!(first, ["line 1", "line 2"]);
        std::fs::OpenOptions::new()
            .write(true)
            .open(&path)
            .unwrap()
            .set_len(0)
            .unwrap();
        let mut f = std::fs::OpenOptions::new().append(true).open(&path).unwrap();
        for i in 3..40 {
            writeln!(f, "line {i}").unwrap();
        }
        events.clear();
        t.discover(&mut events).unwrap();
        let second: Vec<String> = read_texts(&mut t, &mut events);
        assert_eq!(
            second.first().map(String::as_str),
            Some("line 3"),
            "{second:?} {events:?}"
        );
        assert!(
            events.iter().any(|e| matches!(e, FileEvent::Truncated { .. })),
            "{events:?}"
        );
    }

    /// Sets `path`'s modification time `secs_ago` seconds into the past.
    fn age(path: &std::path::Path, secs_ago: u64) {
        let when = std::time::SystemTime::now() - std::time::Duration::from_secs(secs_ago);
        std::fs::File::options()
            .write(true)
            .open(path)
            .unwrap()
            .set_modified(when)
            .unwrap();
    }

    #[test]
    fn compressed_and_blacklisted_files_are_left_out() {
        let dir = tempfile::tempdir().unwrap();
        let p = |name: &str| dir.path().join(name);
        std::fs::write(p("app.log.1"), "old 1\n").unwrap();
        std::fs::write(p("app.log"), "new 1\n").unwrap();
        std::fs::write(p("app.log.2.gz"), b"\x1f\x8b\x08garbage\n").unwrap();
        std::fs::write(p("app.log.debug"), "debug 1\n").unwrap();
        let mut t = Tailer::new(&format!("{}/app.log*", dir.path().display()), 1 << 20, Vec::new())
            .skipping(regex::Regex::new(r"\.debug$").unwrap());
        let mut events = Vec::new();
        t.discover(&mut events).unwrap();
        assert_eq!(read_texts(&mut t, &mut events), ["new 1", "old 1"], "{events:?}");
    }

    #[test]
    fn files_read_to_their_end_and_older_than_the_newest_are_superseded() {
        let dir = tempfile::tempdir().unwrap();
        let p = |name: &str| dir.path().join(name);
        std::fs::write(p("a.log"), "a 1\n").unwrap();
        std::fs::write(p("b.log"), "b 1\n").unwrap();
        age(&p("a.log"), 60);
        let mut t = Tailer::new(&format!("{}/*.log", dir.path().display()), 1 << 20, Vec::new());
        let mut events = Vec::new();
        t.discover(&mut events).unwrap();
        assert_eq!(read_texts(&mut t, &mut events), ["a 1", "b 1"]);
        let superseded: Vec<std::path::PathBuf> =
            t.superseded().into_iter().map(|(_, path, _)| path).collect();
        assert_eq!(superseded, [p("a.log")], "read to its end and older than b.log");
    }
}
