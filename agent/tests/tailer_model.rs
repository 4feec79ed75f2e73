//! The tailer against a model of what was written: random appends, rename rotations,
//! copytruncate rotations, truncations and deletions of old files, with reads at random moments
//! in between. Whatever happens, every line written is read (duplicates are allowed: a short
//! file copied by copytruncate cannot be told from a new one), and nothing else is.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::path::Path;

use skywatch_agent::logs::tailer::Tailer;

struct Writer<'d> {
    dir: &'d Path,
    next: u64,
    written: BTreeSet<String>,
}

impl Writer<'_> {
    fn path(&self, n: u32) -> std::path::PathBuf {
        if n == 0 {
            self.dir.join("app.log")
        } else {
            self.dir.join(format!("app.log.{n}"))
        }
    }

    fn append(&mut self, lines: usize) {
        let mut f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.path(0))
            .unwrap();
        for _ in 0..lines {
            let line = format!("line {:06} {}", self.next, "x".repeat((self.next % 37) as usize));
            writeln!(f, "{line}").unwrap();
            self.written.insert(line);
            self.next += 1;
        }
    }

    /// app.log.2 → .3, .1 → .2: room for a new .1.
    fn shift(&self) {
        for n in (1..=2).rev() {
            if self.path(n).exists() {
                std::fs::rename(self.path(n), self.path(n + 1)).unwrap();
            }
        }
    }

    fn rotate(&self) {
        if self.path(0).exists() {
            self.shift();
            std::fs::rename(self.path(0), self.path(1)).unwrap();
            std::fs::File::create(self.path(0)).unwrap();
        }
    }

    fn copytruncate(&self) {
        if self.path(0).exists() {
            self.shift();
            std::fs::copy(self.path(0), self.path(1)).unwrap();
            std::fs::OpenOptions::new()
                .write(true)
                .open(self.path(0))
                .unwrap()
                .set_len(0)
                .unwrap();
        }
    }
}

fn poll(tailer: &mut Tailer, read: &mut BTreeMap<String, usize>) {
    let mut events = Vec::new();
    tailer.discover(&mut events).unwrap();
    for _ in 0..3 {
        for file in tailer.read(usize::MAX, &mut events).unwrap() {
            for line in file.lines {
                assert!(!line.piece);
                *read.entry(line.text).or_insert(0) += 1;
            }
        }
    }
}

#[test]
fn random_file_actions_lose_no_line() {
    for seed in 0..100 {
        let dir = tempfile::tempdir().unwrap();
        let mut rng = fastrand::Rng::with_seed(seed);
        let mut writer = Writer {
            dir: dir.path(),
            next: 0,
            written: BTreeSet::new(),
        };
        let pattern = format!("{}/app.log*", dir.path().display());
        let mut tailer = Tailer::new(&pattern, 1 << 20, Vec::new());
        let mut read: BTreeMap<String, usize> = BTreeMap::new();
        let mut actions = Vec::new();
        for _ in 0..60 {
            let action = rng.u8(0..10);
            actions.push(action);
            match action {
                0..=4 => writer.append(rng.usize(1..20)),
                5 | 6 => {
                    // A full rotation pushes the oldest file out (logrotate's `rotate 3`):
                    // like a deletion, that happens long after it was written — read first.
                    if writer.path(3).exists() && writer.path(2).exists() {
                        poll(&mut tailer, &mut read);
                    }
                    if action == 5 {
                        writer.rotate();
                    } else {
                        writer.copytruncate();
                    }
                }
                7 => {
                    // Truncating an unread file loses its lines for anyone: read first.
                    poll(&mut tailer, &mut read);
                    if writer.path(0).exists() {
                        std::fs::OpenOptions::new()
                            .write(true)
                            .open(writer.path(0))
                            .unwrap()
                            .set_len(0)
                            .unwrap();
                    }
                }
                8 => {
                    // Old rotated files are deleted long after rotation: read first.
                    poll(&mut tailer, &mut read);
                    let _ = std::fs::remove_file(writer.path(3));
                }
                _ => poll(&mut tailer, &mut read),
            }
        }
        poll(&mut tailer, &mut read);
        poll(&mut tailer, &mut read);
        let missing: Vec<&String> = writer.written.iter().filter(|l| !read.contains_key(*l)).collect();
        assert!(
            missing.is_empty(),
            "seed {seed}: {} lines lost, first {:?}; actions {actions:?}",
            missing.len(),
            missing.first()
        );
        let invented: Vec<&String> = read.keys().filter(|l| !writer.written.contains(*l)).collect();
        assert!(
            invented.is_empty(),
            "seed {seed}: read lines never written: {invented:?}"
        );
    }
}
