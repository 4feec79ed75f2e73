//! Following the files that match one glob, by identity rather than path:
//!
//! - a new file is read from its checkpoint, or from the beginning when it has none (the
//!   CloudWatch agent's behaviour);
//! - rename-and-create rotation: the renamed file is read to its end through the handle
//!   already open (and while its new name still matches, it stays followed), the new file at
//!   the old path is a new file;
//! - copytruncate and truncation: a file that became shorter than what was read is read again
//!   from the start; a copy that matches the glob carries the old file's fingerprint (and the
//!   same bytes up to where reading stopped), so reading continues in the copy where it stopped;
//! - a file renamed away or deleted is drained through its open handle and dropped once it has
//!   been quiet for the rotate wait (a writer may still be finishing its last lines there);
//! - a file rotated while the agent was stopped: a checkpoint whose file no longer matches is
//!   looked for among the siblings of its last path by fingerprint, and the rest is read first;
//! - a file too short to fingerprint is followed by device and inode until it grows.
//!
//! A checkpoint also carries a checksum of the bytes just before its offset: a file is only
//! resumed there if it still holds those bytes (two files with the same first bytes — a CSV
//! header, a banner — are not taken for each other).
//!
//! A file that cannot be read is reported, skipped for the round (the others are read), and
//! given up after failing many rounds in a row. Memory per file is bounded by the reader's line
//! limit. The caller polls (after inotify events or on a timer); nothing here sleeps.

use std::collections::HashMap;
use std::fs::File;
use std::io;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use super::checkpoint::Checkpoint;
use super::fingerprint::{fnv1a, identify, identify_path, mark_at, read_head, FileId, FINGERPRINT_BYTES};
use super::path_problem::{self, PathProblem};
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
    /// Reading failed (reported at the first failure of a run of them).
    Unreadable { path: PathBuf, error: String },
    /// Failed too many rounds in a row: no longer followed (its checkpoint stays).
    GaveUp { path: PathBuf },
    /// Matched but cannot be followed (said once per path and problem; looked at again at every
    /// discovery).
    CannotFollow { path: PathBuf, problem: PathProblem },
    /// The glob matches nothing (said once until it matches again).
    NoMatch { pattern: String },
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
    /// The read position after the last read and the checksum of the bytes before it
    /// ([`mark_at`]): what a copy of this file must hold to be taken for it.
    mark: Option<(u64, u64)>,
    /// Since when it has been renamed away or deleted and read to its end.
    gone_since: Option<Instant>,
    /// Rounds in a row whose read failed.
    failures: u32,
}

/// A file no longer followed whose checkpoint is kept until released.
#[derive(Debug)]
struct Retired {
    id: FileId,
    path: PathBuf,
    file: File,
}

/// What reading one followed file came to.
enum Step {
    Lines(Vec<Line>),
    /// Read to its end, gone and quiet: no longer followed.
    Finished(Vec<Line>),
    /// Truncated in place: followed anew under a new number; this one only waits.
    Renumbered(Vec<Line>),
}

/// Follows the files of one glob.
#[derive(Debug)]
pub struct Tailer {
    pattern: String,
    /// The checkpoints' `source`: the pattern, or the pattern and the entry's number when an
    /// earlier entry names the same pattern.
    key: String,
    /// Matched paths that cannot be followed, as last reported.
    problems: HashMap<PathBuf, PathProblem>,
    /// The last discovery matched nothing and said so.
    no_match_said: bool,
    max_line_bytes: usize,
    files: HashMap<u64, Followed>,
    next_number: u64,
    /// Checkpoints not yet matched to a file.
    saved: Vec<Checkpoint>,
    /// Discoveries so far (checkpoints of files not found are looked for in the first ones).
    discoveries: u32,
    /// Files truncated in place, to follow anew from their start.
    truncated_originals: Vec<(File, FileId, PathBuf)>,
    /// Files read to their end and no longer followed, whose checkpoints stay until the caller
    /// releases them (their last events may still be in flight).
    retired: HashMap<u64, Retired>,
    /// Files whose base name matches are not followed (`blacklist`).
    skip_names: Option<regex::Regex>,
    /// The files' encoding (none: UTF-8).
    encoding: Option<&'static encoding_rs::Encoding>,
    /// How long a file renamed away or deleted is still read after it went quiet.
    rotate_wait: Duration,
    /// Invalid lines counted in files no longer followed.
    finished_invalid_lines: u64,
    /// The checksum before each file's last checkpointed offset: (offset, hex).
    marks: HashMap<u64, (u64, String)>,
}

/// Compressed files a glob may match (rotated logs): never followed, as the CloudWatch agent.
const COMPRESSED_SUFFIXES: &[&str] = &[".gz", ".zst", ".zip", ".bz2", ".xz", ".tar", ".rar"];

/// How long a checkpoint whose file is nowhere to be found is kept.
const UNMATCHED_CHECKPOINT_TTL_MS: i64 = 7 * 24 * 3600 * 1000;
/// Discoveries during which checkpoints of files not found are looked for (about a minute).
const SEARCH_DISCOVERIES: u32 = 60;
/// Rounds in a row a file may fail before it is given up.
pub const MAX_FAILURES: u32 = 30;

impl Tailer {
    /// Follows `pattern`; `saved` are the checkpoints from the last run.
    pub fn new(pattern: &str, max_line_bytes: usize, saved: Vec<Checkpoint>) -> Tailer {
        Tailer {
            pattern: pattern.to_string(),
            key: pattern.to_string(),
            problems: HashMap::new(),
            no_match_said: false,
            max_line_bytes,
            files: HashMap::new(),
            next_number: 1,
            saved,
            discoveries: 0,
            truncated_originals: Vec::new(),
            retired: HashMap::new(),
            skip_names: None,
            encoding: None,
            rotate_wait: Duration::ZERO,
            finished_invalid_lines: 0,
            marks: HashMap::new(),
        }
    }

    /// Saves (and finds) checkpoints under `key` instead of the pattern.
    #[must_use]
    pub fn keyed(mut self, key: String) -> Tailer {
        self.key = key;
        self
    }

    /// Paths matched but not followed, by reason, as of the last discovery.
    pub fn problem_counts(&self) -> Vec<(&'static str, u64)> {
        let mut counts: Vec<(&'static str, u64)> = Vec::new();
        for problem in self.problems.values() {
            match counts.iter_mut().find(|(r, _)| *r == problem.reason()) {
                Some((_, n)) => *n += 1,
                None => counts.push((problem.reason(), 1)),
            }
        }
        if self.no_match_said {
            counts.push(("no_match", 1));
        }
        counts
    }

    /// Decodes the files from `encoding` (ASCII-compatible; none: UTF-8).
    #[must_use]
    pub fn decoding(mut self, encoding: Option<&'static encoding_rs::Encoding>) -> Tailer {
        self.encoding = encoding;
        self
    }

    /// Keeps reading a file renamed away or deleted until it has been quiet for `wait`.
    #[must_use]
    pub fn rotate_wait(mut self, wait: Duration) -> Tailer {
        self.rotate_wait = wait;
        self
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
        let matches: Vec<PathBuf> = glob::glob(&self.pattern)
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e.to_string()))?
            .filter_map(Result::ok)
            .collect();
        if matches.is_empty() {
            if !self.no_match_said {
                self.no_match_said = true;
                events.push(FileEvent::NoMatch {
                    pattern: self.pattern.clone(),
                });
            }
        } else {
            self.no_match_said = false;
        }
        let mut problems = HashMap::new();
        let mut paths = Vec::new();
        let literal = !self.pattern.contains(['*', '?', '[']);
        for path in matches {
            if self.skipped(&path) {
                continue;
            }
            match path_problem::before_opening(&path) {
                // A wildcard also matches directories beside the files: only a path named
                // literally is worth a word.
                Some(PathProblem::Directory) if !literal => {}
                Some(problem) => {
                    problems.insert(path, problem);
                }
                None => paths.push(path),
            }
        }
        paths.sort();
        for f in self.files.values_mut() {
            f.matched = false;
        }
        for path in paths {
            let file = match File::open(&path) {
                Ok(file) => file,
                // Gone between the listing and the open (a rotation): looked at next time.
                Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
                Err(e) => {
                    problems.insert(path, path_problem::open_failed(&e));
                    continue;
                }
            };
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
            // is truncated; read from the start, it would only repeat lines. A copy holds what
            // was read from the original; a new file that only shares its first bytes does not.
            if id.fingerprint.is_some()
                && self
                    .files
                    .values()
                    .any(|f| f.id.fingerprint == id.fingerprint && holds_mark(&file, f.mark))
            {
                continue;
            }
            let offset = self.take_saved(&id, &file).unwrap_or(0);
            let number = self.follow(file, id, path.clone(), offset);
            events.push(FileEvent::Opened {
                file: number,
                path,
                offset,
            });
        }
        for (path, problem) in &problems {
            if self.problems.get(path) != Some(problem) {
                events.push(FileEvent::CannotFollow {
                    path: path.clone(),
                    problem: problem.clone(),
                });
            }
        }
        self.problems = problems;
        if self.discoveries < SEARCH_DISCOVERIES {
            self.find_rotated_while_stopped(events);
        }
        self.discoveries = self.discoveries.saturating_add(1);
        Ok(())
    }

    fn skipped(&self, path: &Path) -> bool {
        let Some(name) = path.file_name().and_then(|n| n.to_str()) else {
            return false;
        };
        COMPRESSED_SUFFIXES.iter().any(|s| name.ends_with(s))
            || self.skip_names.as_ref().is_some_and(|re| re.is_match(name))
    }

    fn reader(&self, file: File, offset: u64) -> FileReader {
        FileReader::new(file, offset, self.max_line_bytes).decoding(self.encoding)
    }

    fn follow(&mut self, file: File, id: FileId, path: PathBuf, offset: u64) -> u64 {
        let number = self.next_number;
        self.next_number += 1;
        let reader = self.reader(file, offset);
        self.files.insert(
            number,
            Followed {
                id,
                path,
                reader,
                matched: true,
                head: Vec::new(),
                mark: None,
                gone_since: None,
                failures: 0,
            },
        );
        number
    }

    /// The saved offset for the file `file` identified as `id`, taken (each checkpoint resumes
    /// one file): same fingerprint (or inode, for a file that was too short), and the same
    /// bytes before the offset.
    fn take_saved(&mut self, id: &FileId, file: &File) -> Option<u64> {
        let i = self.saved.iter().position(|c| {
            let saved = FileId {
                fingerprint: (!c.fingerprint.is_empty()).then(|| c.fingerprint.clone()),
                dev: c.dev,
                inode: c.inode,
            };
            saved.same_file(id) && holds_checkpoint(file, c)
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
                .then(|| {
                    file_with_fingerprint(&self.pattern, &last, &checkpoint.fingerprint, |file| {
                        holds_checkpoint(file, &checkpoint)
                    })
                })
                .flatten()
                // Already followed (matched by the glob meanwhile): nothing to add.
                .filter(|(_, _, id)| !self.files.values().any(|f| same_inode(&f.id, id)));
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
        let now = Instant::now();
        let mut out = self.read_files(None, budget, now, events);
        // A file truncated in place is followed anew from its start, in this same round.
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
            out.extend(self.read_files(Some(first_new), budget, now, events));
        }
        out.sort_by_key(|f| f.file);
        Ok(out)
    }

    /// Reads the followed files (numbered `from` on, if given); a file that fails is reported
    /// and skipped, the others are read.
    fn read_files(
        &mut self,
        from: Option<u64>,
        budget: usize,
        now: Instant,
        events: &mut Vec<FileEvent>,
    ) -> Vec<FileLines> {
        let mut out = Vec::new();
        let mut done = Vec::new();
        let context = ReadContext {
            pattern: &self.pattern,
            max_line_bytes: self.max_line_bytes,
            encoding: self.encoding,
            rotate_wait: self.rotate_wait,
            budget,
            now,
        };
        for (&number, f) in &mut self.files {
            if from.is_some_and(|from| number < from) {
                continue;
            }
            let step = read_followed(f, &context, &mut self.truncated_originals, events);
            let lines = match step {
                Ok(Step::Lines(lines)) => {
                    f.failures = 0;
                    lines
                }
                Ok(Step::Finished(lines)) => {
                    events.push(FileEvent::Finished { path: f.path.clone() });
                    done.push(number);
                    lines
                }
                Ok(Step::Renumbered(lines)) => {
                    done.push(number);
                    lines
                }
                Err(e) => {
                    f.failures += 1;
                    if f.failures == 1 {
                        events.push(FileEvent::Unreadable {
                            path: f.path.clone(),
                            error: e.to_string(),
                        });
                    }
                    if f.failures >= MAX_FAILURES {
                        events.push(FileEvent::GaveUp { path: f.path.clone() });
                        done.push(number);
                    }
                    Vec::new()
                }
            };
            if !lines.is_empty() {
                out.push(FileLines {
                    file: number,
                    path: f.path.clone(),
                    lines,
                });
            }
        }
        for number in done {
            if let Some(f) = self.files.remove(&number) {
                self.finished_invalid_lines += f.reader.invalid_utf8_lines();
                let file = f.reader.into_file();
                self.retired.insert(
                    number,
                    Retired {
                        id: f.id,
                        path: f.path,
                        file,
                    },
                );
            }
        }
        out
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

    /// Deletes followed file `file` if its path still names it and nothing was added to it
    /// since it was read to `position`; true if deleted.
    pub fn remove_file(&self, file: u64, position: u64) -> bool {
        let Some(f) = self.files.get(&file) else {
            return false;
        };
        let unchanged = f.reader.file_len().is_ok_and(|len| len == position);
        let same = identify_path(&f.path).is_ok_and(|now| same_inode(&now, &f.id));
        unchanged && same && std::fs::remove_file(&f.path).is_ok()
    }

    /// Files finished (read to their end after a rename or deletion) whose checkpoints are
    /// still kept.
    pub fn retired(&self) -> impl Iterator<Item = u64> + '_ {
        self.retired.keys().copied()
    }

    /// Drops a finished file's checkpoint (everything read from it was acknowledged).
    pub fn release(&mut self, file: u64) {
        self.retired.remove(&file);
        self.marks.remove(&file);
    }

    /// Checkpoints for the followed (and retired) files at the given acknowledged offsets.
    pub fn checkpoints(&mut self, acknowledged: impl Fn(u64) -> Option<u64>, now_ms: i64) -> Vec<Checkpoint> {
        let followed = self
            .files
            .iter()
            .map(|(n, f)| (*n, &f.id, &f.path, f.reader.file()));
        let retired = self.retired.iter().map(|(n, r)| (*n, &r.id, &r.path, &r.file));
        let marks = &mut self.marks;
        let mut out: Vec<Checkpoint> = followed
            .chain(retired)
            .filter_map(|(number, id, path, file)| {
                let offset = acknowledged(number)?;
                let tail = match marks.get(&number) {
                    Some((at, mark)) if *at == offset => mark.clone(),
                    _ => {
                        let mark = mark_at(file, offset)
                            .ok()
                            .flatten()
                            .map(|m| format!("{m:016x}"))
                            .unwrap_or_default();
                        marks.insert(number, (offset, mark.clone()));
                        mark
                    }
                };
                Some(Checkpoint {
                    fingerprint: id.fingerprint.clone().unwrap_or_default(),
                    dev: id.dev,
                    inode: id.inode,
                    path: path.display().to_string(),
                    source: self.key.clone(),
                    offset,
                    tail,
                    updated_ms: now_ms,
                })
            })
            .collect();
        // Checkpoints of files not found this run are kept for the next (for a while).
        out.extend(
            self.saved
                .iter()
                .filter(|c| now_ms.saturating_sub(c.updated_ms) < UNMATCHED_CHECKPOINT_TTL_MS)
                .cloned(),
        );
        out
    }
}

/// What every read of one round shares.
struct ReadContext<'a> {
    pattern: &'a str,
    max_line_bytes: usize,
    encoding: Option<&'static encoding_rs::Encoding>,
    rotate_wait: Duration,
    budget: usize,
    now: Instant,
}

/// Reads one followed file: notices truncation (moving to the copy after copytruncate), reads
/// its new lines, and says whether it is done (gone and quiet).
fn read_followed(
    f: &mut Followed,
    context: &ReadContext<'_>,
    truncated_originals: &mut Vec<(File, FileId, PathBuf)>,
    events: &mut Vec<FileEvent>,
) -> io::Result<Step> {
    let len = f.reader.file_len()?;
    let read_to = f.reader.read_offset();
    let position = f.reader.position();
    // Truncated under us — shorter than what was read, or rewritten from the start since (its
    // first bytes are not the ones it was known by).
    let rewritten = read_head(f.reader.file(), f.head.len())? != f.head;
    if len < read_to || rewritten {
        // After copytruncate the unread rest is in the copy, which has the old fingerprint and
        // the bytes read so far: go on reading there. The truncated file is a new file.
        let mark = f.mark;
        let copy =
            f.id.fingerprint
                .as_deref()
                .and_then(|fp| {
                    file_with_fingerprint(context.pattern, &f.path, fp, |file| {
                        holds_mark(file, mark) && file.metadata().is_ok_and(|m| m.len() >= position)
                    })
                })
                .filter(|(_, _, id)| !same_inode(id, &f.id));
        let original = f.reader.file().try_clone()?;
        let original_id = identify(&original)?;
        truncated_originals.push((original, original_id, f.path.clone()));
        events.push(FileEvent::Truncated { path: f.path.clone() });
        let Some((copy_path, copy_file, copy_id)) = copy else {
            // Truncated in place: a line it was writing is as complete as it will get.
            return Ok(Step::Renumbered(
                f.reader.take_unterminated().into_iter().collect(),
            ));
        };
        f.id = copy_id;
        f.path = copy_path;
        f.reader = FileReader::new(copy_file, position, context.max_line_bytes).decoding(context.encoding);
    }
    let mut lines = Vec::new();
    let read = f.reader.read_lines(&mut lines, context.budget)?;
    if read > 0 {
        // Bookkeeping after a read never loses the lines read: failures only skip it.
        let read_to = f.reader.read_offset();
        if f.head.len() < FINGERPRINT_BYTES {
            if let Ok(head) = read_head(f.reader.file(), read_to.min(FINGERPRINT_BYTES as u64) as usize) {
                f.head = head;
            }
            // Grown long enough to fingerprint, from bytes actually read.
            if f.id.fingerprint.is_none() && f.head.len() == FINGERPRINT_BYTES {
                f.id.fingerprint = Some(format!("{:016x}", fnv1a(&f.head)));
            }
        }
        let position = f.reader.position();
        f.mark = mark_at(f.reader.file(), position)
            .ok()
            .flatten()
            .map(|m| (position, m));
        f.gone_since = None;
    }
    // Renamed away or deleted (a path that cannot be looked at for another reason is not gone).
    let gone = !f.matched
        || match identify_path(&f.path) {
            Ok(now) => !same_inode(&now, &f.id),
            Err(e) => e.kind() == io::ErrorKind::NotFound,
        };
    if read == 0 && gone {
        let since = *f.gone_since.get_or_insert(context.now);
        if context.now.duration_since(since) >= context.rotate_wait {
            // Quiet since it went: what waits without a newline will never get one.
            lines.extend(f.reader.take_unterminated());
            return Ok(Step::Finished(lines));
        }
    }
    Ok(Step::Lines(lines))
}

fn same_inode(a: &FileId, b: &FileId) -> bool {
    a.dev == b.dev && a.inode == b.inode
}

/// Whether `file` holds the bytes `mark` (position, checksum) was taken over; no mark (nothing
/// read yet) says nothing against it.
fn holds_mark(file: &File, mark: Option<(u64, u64)>) -> bool {
    mark.is_none_or(|(at, sum)| mark_at(file, at).ok().flatten() == Some(sum))
}

/// Whether `file` holds the bytes before `checkpoint`'s offset (checkpoints written before the
/// checksum was kept say nothing against it).
fn holds_checkpoint(file: &File, checkpoint: &Checkpoint) -> bool {
    checkpoint.tail.is_empty()
        || mark_at(file, checkpoint.offset)
            .ok()
            .flatten()
            .is_some_and(|m| format!("{m:016x}") == checkpoint.tail)
}

/// A file with `fingerprint` that `accept`s: among the glob's matches, or next to `last` (same
/// directory, name starting with its name — a rotated copy outside the glob).
fn file_with_fingerprint(
    pattern: &str,
    last: &Path,
    fingerprint: &str,
    accept: impl Fn(&File) -> bool,
) -> Option<(PathBuf, File, FileId)> {
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
        (id.fingerprint.as_deref() == Some(fingerprint) && accept(&file)).then_some((path, file, id))
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

    /// 300 bytes every file of a kind starts with (a CSV header, a banner).
    fn header() -> String {
        format!("timestamp,level,message,{}\n", "x".repeat(275))
    }

    #[test]
    fn a_new_file_with_the_same_first_bytes_is_not_taken_for_a_copy() {
        let dir = tempfile::tempdir().unwrap();
        let p = |name: &str| dir.path().join(name);
        std::fs::write(p("app.log"), format!("{}row 1\nrow 2\n", header())).unwrap();
        let mut t = Tailer::new(&format!("{}/app.log*", dir.path().display()), 1 << 20, Vec::new());
        let mut events = Vec::new();
        t.discover(&mut events).unwrap();
        assert_eq!(read_texts(&mut t, &mut events).len(), 3);
        // Rename rotation; the new file starts with the same header.
        std::fs::rename(p("app.log"), p("app.log.1")).unwrap();
        std::fs::write(p("app.log"), format!("{}row 3\n", header())).unwrap();
        t.discover(&mut events).unwrap();
        let texts = read_texts(&mut t, &mut events);
        assert_eq!(texts.last().map(String::as_str), Some("row 3"), "{events:?}");
        // A restart with only app.log.1's checkpoint (app.log came after the last save): the
        // new file, with the same first bytes but not the bytes before that offset, does not
        // take it.
        let positions: std::collections::HashMap<u64, u64> =
            t.files().map(|(n, _, _)| (n, t.position(n).unwrap())).collect();
        let rotated: Vec<_> = t
            .checkpoints(|n| positions.get(&n).copied(), 0)
            .into_iter()
            .filter(|c| c.path.ends_with("app.log.1"))
            .collect();
        assert_eq!(rotated.len(), 1);
        assert!(!rotated[0].tail.is_empty());
        let mut restarted = Tailer::new(&format!("{}/app.log*", dir.path().display()), 1 << 20, rotated);
        let mut events = Vec::new();
        restarted.discover(&mut events).unwrap();
        let texts = read_texts(&mut restarted, &mut events);
        let rows: Vec<&String> = texts.iter().filter(|t| t.starts_with("row")).collect();
        assert_eq!(
            rows,
            ["row 3"],
            "app.log from its start, app.log.1 from its end: {events:?}"
        );
    }

    #[test]
    fn lines_written_into_a_renamed_file_within_the_rotate_wait_are_read() {
        let dir = tempfile::tempdir().unwrap();
        let p = |name: &str| dir.path().join(name);
        std::fs::write(p("app.log"), "a\n").unwrap();
        let mut t = Tailer::new(&format!("{}/app.log", dir.path().display()), 1 << 20, Vec::new())
            .rotate_wait(std::time::Duration::from_secs(600));
        let mut events = Vec::new();
        t.discover(&mut events).unwrap();
        assert_eq!(read_texts(&mut t, &mut events), ["a"]);
        // Renamed out of the glob; the writer has not reopened yet.
        let mut writer = std::fs::OpenOptions::new()
            .append(true)
            .open(p("app.log"))
            .unwrap();
        std::fs::rename(p("app.log"), p("app.log.1")).unwrap();
        t.discover(&mut events).unwrap();
        assert!(read_texts(&mut t, &mut events).is_empty());
        writer.write_all(b"b, late\n").unwrap();
        assert_eq!(read_texts(&mut t, &mut events), ["b, late"]);
        assert!(
            !events.iter().any(|e| matches!(e, FileEvent::Finished { .. })),
            "{events:?}"
        );
        assert_eq!(t.files().count(), 1, "still followed while the wait lasts");
    }
}
