//! Which part of a file may be checkpointed: events are registered in file order as they are
//! read, and acknowledged in any order as batches are accepted (several batches may be in
//! flight, and a retried one may finish after later ones). A file's checkpoint advances to the
//! end of the longest prefix of its events that are all acknowledged — never past an event the
//! backend has not taken, so a crash re-reads (duplicates) at most what was in flight and never
//! skips a line.

use std::collections::{HashMap, VecDeque};

use super::AckToken;

/// Outstanding events per file.
#[derive(Debug, Default)]
pub struct Acks {
    files: HashMap<u64, FileAcks>,
}

#[derive(Debug, Default)]
struct FileAcks {
    /// End offsets of registered events in increasing order (as they are read), and whether
    /// each is acknowledged.
    pending: VecDeque<(u64, bool)>,
    /// How far the checkpoint may go.
    done: u64,
}

impl Acks {
    /// Notes that the event ending at `token` was read. Events without a position (pieces of a
    /// split line before its last) are not tracked: the line's last piece stands for it.
    pub fn register(&mut self, token: AckToken) {
        if token.end_offset == 0 {
            return;
        }
        let pending = &mut self.files.entry(token.file).or_default().pending;
        match pending.back() {
            None => pending.push_back((token.end_offset, false)),
            Some(&(last, _)) if token.end_offset > last => pending.push_back((token.end_offset, false)),
            // Out of order (not how files are read, but kept right if it happens).
            Some(_) => {
                if let Err(i) = pending.binary_search_by_key(&token.end_offset, |(end, _)| *end) {
                    pending.insert(i, (token.end_offset, false));
                }
            }
        }
    }

    /// Starts a file's account at `offset` (where reading resumed).
    pub fn start(&mut self, file: u64, offset: u64) {
        let acks = self.files.entry(file).or_default();
        acks.done = acks.done.max(offset);
    }

    /// Notes that the backend took (or finally refused) the event ending at `token`.
    pub fn acknowledge(&mut self, token: AckToken) {
        let Some(acks) = self.files.get_mut(&token.file) else {
            return;
        };
        if let Ok(i) = acks
            .pending
            .binary_search_by_key(&token.end_offset, |(end, _)| *end)
        {
            acks.pending[i].1 = true;
        }
        while let Some(&(end, true)) = acks.pending.front() {
            acks.done = acks.done.max(end);
            acks.pending.pop_front();
        }
    }

    /// The offset file `file`'s checkpoint may advance to.
    pub fn checkpoint(&self, file: u64) -> Option<u64> {
        self.files.get(&file).map(|a| a.done)
    }

    /// Events of `file` not yet acknowledged.
    pub fn outstanding(&self, file: u64) -> usize {
        self.files.get(&file).map_or(0, |a| a.pending.len())
    }

    /// Events of every file not yet acknowledged (those acknowledged behind an older one that
    /// is not are not counted).
    pub fn unacknowledged_total(&self) -> usize {
        self.files
            .values()
            .map(|a| a.pending.iter().filter(|(_, acked)| !acked).count())
            .sum()
    }

    /// Forgets a file (deleted, and everything of it acknowledged).
    pub fn forget(&mut self, file: u64) {
        self.files.remove(&file);
    }
}

#[cfg(test)]
mod tests {
    use super::Acks;
    use crate::logs::AckToken;

    fn token(end_offset: u64) -> AckToken {
        AckToken { file: 7, end_offset }
    }

    #[test]
    fn the_checkpoint_waits_for_the_oldest_unacknowledged_event() {
        let mut acks = Acks::default();
        acks.start(7, 100);
        for end in [110, 120, 130] {
            acks.register(token(end));
        }
        assert_eq!(acks.checkpoint(7), Some(100));
        acks.acknowledge(token(120));
        assert_eq!(acks.checkpoint(7), Some(100), "110 is still in flight");
        acks.acknowledge(token(110));
        assert_eq!(acks.checkpoint(7), Some(120));
        acks.acknowledge(token(130));
        assert_eq!((acks.checkpoint(7), acks.outstanding(7)), (Some(130), 0));
        acks.acknowledge(token(999));
        assert_eq!(
            acks.checkpoint(7),
            Some(130),
            "an unknown position changes nothing"
        );
        acks.register(AckToken {
            file: 7,
            end_offset: 0,
        });
        assert_eq!(
            acks.outstanding(7),
            0,
            "pieces without a position are not tracked"
        );
    }

    #[test]
    fn any_acknowledgement_order_never_passes_an_unacknowledged_event() {
        let mut rng = fastrand::Rng::with_seed(11);
        for _ in 0..200 {
            let n = rng.usize(1..60);
            let ends: Vec<u64> = (1..=n as u64).map(|i| i * 10).collect();
            let mut acks = Acks::default();
            for &e in &ends {
                acks.register(token(e));
            }
            let mut order = ends.clone();
            rng.shuffle(&mut order);
            let mut acked = std::collections::BTreeSet::new();
            for e in order {
                acks.acknowledge(token(e));
                acked.insert(e);
                // The model: the end of the longest fully acknowledged prefix.
                let model = ends
                    .iter()
                    .take_while(|x| acked.contains(x))
                    .last()
                    .copied()
                    .unwrap_or(0);
                assert_eq!(acks.checkpoint(7), Some(model));
            }
            assert_eq!(acks.checkpoint(7), ends.last().copied());
        }
    }
}
