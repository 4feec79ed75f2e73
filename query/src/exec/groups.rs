//! Keys of groups (stats) and of seen rows (dedup): hashing and comparing lists of values, and
//! the table of a stats stage's groups.

use std::hash::Hasher;

use crate::exec::aggregate_state::AggState;
use crate::fx_hash::FxHasher;
use crate::plan::aggregate::{AggKind, StatsStage};
use crate::value::Value;

/// Hashes values the way [`same_key`] compares them.
pub fn hash_values(values: &[Option<Value>]) -> u64 {
    let mut h = FxHasher::default();
    for value in values {
        match value {
            None => h.write_u8(0),
            Some(Value::Str(s)) => {
                h.write_u8(1);
                h.write(s.as_bytes());
                h.write_u8(0xff);
            }
            Some(Value::Num(n)) => {
                h.write_u8(2);
                h.write_u64(if *n == 0.0 { 0 } else { n.to_bits() });
            }
            Some(Value::Time(ms)) => {
                h.write_u8(3);
                h.write_u64(*ms as u64);
            }
            Some(Value::Bool(b)) => {
                h.write_u8(4);
                h.write_u8(u8::from(*b));
            }
            Some(other) => {
                h.write_u8(5);
                h.write(other.to_string().as_bytes());
                h.write_u8(0xff);
            }
        }
    }
    h.finish()
}

/// Whether two group or dedup keys are the same: same kind and same content.
pub fn same_key(a: &[Option<Value>], b: &[Option<Value>]) -> bool {
    a.len() == b.len()
        && a.iter().zip(b).all(|(x, y)| match (x, y) {
            (None, None) => true,
            // Interned strings are often the very same allocation: no need to read them.
            (Some(Value::Str(p)), Some(Value::Str(q))) => p == q,
            #[allow(clippy::float_cmp)]
            (Some(Value::Num(p)), Some(Value::Num(q))) => p == q,
            (Some(Value::Time(p)), Some(Value::Time(q))) => p == q,
            (Some(Value::Bool(p)), Some(Value::Bool(q))) => p == q,
            (Some(p @ (Value::List(_) | Value::Map(_))), Some(q @ (Value::List(_) | Value::Map(_)))) => {
                p.to_string() == q.to_string()
            }
            _ => false,
        })
}

/// Longest one-string key kept inline in a group's entry.
const INLINE_KEY_BYTES: usize = 15;

/// What a probe reads first: the group's hash and, for a short one-string key, its text, in
/// one 32-byte entry; other keys are compared through `keys`. Rows counted in batches are
/// counted here too, in the cache line the probe just read.
#[derive(Clone, Copy)]
struct Entry {
    hash: u64,
    /// Rows counted by [`Groups::count_later`], not yet in the group's states.
    count: u64,
    /// Length of the inline text, or [`Entry::NOT_INLINE`].
    len: u8,
    text: [u8; INLINE_KEY_BYTES],
}

impl Entry {
    const NOT_INLINE: u8 = u8::MAX;

    fn new(hash: u64, values: &[Option<Value>]) -> Entry {
        let mut entry = Entry {
            hash,
            count: 0,
            len: Entry::NOT_INLINE,
            text: [0; INLINE_KEY_BYTES],
        };
        if let Some(text) = short_text(values) {
            entry.len = text.len() as u8;
            entry.text[..text.len()].copy_from_slice(text);
        }
        entry
    }
}

/// The text of a one-string key short enough to keep inline.
fn short_text(values: &[Option<Value>]) -> Option<&[u8]> {
    match values {
        [Some(Value::Str(text))] if text.len() <= INLINE_KEY_BYTES => Some(text.as_bytes()),
        _ => None,
    }
}

/// Rows counted per batch by [`Groups::count_later`].
const COUNT_BATCH: usize = 64;

/// The groups of a stats stage, looked up by hash without building a key per row. The table
/// holds group numbers; entries, keys and aggregate states live in flat arrays (a group's key is
/// `width` values at `number × width`), and short one-string keys are compared in the entry,
/// so a probe reads few cache lines.
///
/// With many groups, a probe waits on memory. A stage that only counts rows hands its keys
/// over in batches ([`Groups::count_later`]): the batch's probes do not depend on each other,
/// so the processor overlaps their cache misses.
pub struct Groups {
    index: hashbrown::HashTable<u32>,
    entries: Vec<Entry>,
    /// Values per key; set by the first group.
    width: usize,
    keys: Vec<Option<Value>>,
    /// Aggregate states per group.
    per_group: usize,
    states: Vec<AggState>,
    /// A new group's states.
    fresh: Vec<AggState>,
    /// Keys of rows waiting to be counted (`width` values each) and their hashes.
    pending_keys: Vec<Option<Value>>,
    pending_hashes: Vec<u64>,
    /// The pending rows' group numbers, found before any is counted.
    pending_found: Vec<usize>,
}

impl Groups {
    pub fn new(stats: &StatsStage) -> Groups {
        Groups {
            index: hashbrown::HashTable::new(),
            entries: Vec::new(),
            width: stats.groups.len(),
            keys: Vec::new(),
            per_group: stats.aggregates.len(),
            states: Vec::new(),
            fresh: stats.aggregates.iter().map(|a| AggState::new(a.kind)).collect(),
            pending_keys: Vec::new(),
            pending_hashes: Vec::new(),
            pending_found: Vec::new(),
        }
    }

    /// Whether every aggregate of `stats` counts rows and nothing else (`count(*)`), so rows
    /// can be counted in batches.
    pub fn counts_only(stats: &StatsStage) -> bool {
        stats
            .aggregates
            .iter()
            .all(|a| a.kind == AggKind::Count && a.arg.is_none())
    }

    /// Counts a row with key `values` in every aggregate, now or with the next batch. Only for
    /// stages that [count only](Groups::counts_only).
    /// The key's values are moved out of `values`, which is left empty.
    pub fn count_later(&mut self, values: &mut Vec<Option<Value>>) {
        self.pending_hashes.push(hash_values(values));
        self.pending_keys.append(values);
        if self.pending_hashes.len() >= COUNT_BATCH {
            self.count_pending();
        }
    }

    /// Counts the rows waiting in the batch.
    pub fn count_pending(&mut self) {
        let hashes = std::mem::take(&mut self.pending_hashes);
        let keys = std::mem::take(&mut self.pending_keys);
        let mut found = std::mem::take(&mut self.pending_found);
        found.clear();
        // First every probe, then every count: the probes overlap.
        let width = self.width;
        for (n, &hash) in hashes.iter().enumerate() {
            let key = &keys[n * width..(n + 1) * width];
            found.push(self.find_or_insert_hashed(hash, key));
        }
        for &i in &found {
            self.entries[i].count += 1;
        }
        self.pending_hashes = hashes;
        self.pending_hashes.clear();
        self.pending_keys = keys;
        self.pending_keys.clear();
        self.pending_found = found;
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The number of the group with key `values`, created (with fresh states) if new.
    pub fn find_or_insert(&mut self, values: &[Option<Value>]) -> usize {
        self.find_or_insert_hashed(hash_values(values), values)
    }

    /// [`Groups::find_or_insert`] with the key's hash already computed.
    fn find_or_insert_hashed(&mut self, hash: u64, values: &[Option<Value>]) -> usize {
        let (entries, keys, width) = (&self.entries, &self.keys, self.width);
        let found = match short_text(values) {
            Some(text) => self.index.find(hash, |&i| {
                let entry = &entries[i as usize];
                entry.hash == hash && entry.text.get(..usize::from(entry.len)) == Some(text)
            }),
            None => self.index.find(hash, |&i| {
                let at = i as usize * width;
                entries[i as usize].hash == hash
                    && keys.get(at..at + width).is_some_and(|key| same_key(key, values))
            }),
        };
        if let Some(&i) = found {
            return i as usize;
        }
        let i = self.entries.len();
        self.entries.push(Entry::new(hash, values));
        self.keys.extend_from_slice(values);
        self.states.extend_from_slice(&self.fresh);
        let entries = &self.entries;
        // More than 2^32 groups cannot be held in memory anyway.
        self.index
            .insert_unique(hash, i as u32, |&j| entries[j as usize].hash);
        i
    }

    /// The aggregate states of group `i`.
    pub fn states_mut(&mut self, i: usize) -> &mut [AggState] {
        let at = i * self.per_group;
        &mut self.states[at..at + self.per_group]
    }

    /// Folds another worker's groups into these.
    pub fn merge(&mut self, other: Groups) {
        for (values, states) in other.into_groups() {
            let i = self.find_or_insert(&values);
            for (mine, theirs) in self.states_mut(i).iter_mut().zip(states) {
                mine.merge(theirs);
            }
        }
    }

    /// Each group's key values and states, in order of first appearance.
    pub fn into_groups(mut self) -> Vec<(Vec<Option<Value>>, Vec<AggState>)> {
        self.count_pending();
        // Fold the counts kept in the entries into the states.
        for i in 0..self.entries.len() {
            let counted = self.entries[i].count;
            if counted > 0 {
                for state in self.states_mut(i) {
                    state.merge(AggState::Count(counted));
                }
            }
        }
        let count = self.entries.len();
        let mut keys = self.keys.into_iter();
        let mut states = self.states.into_iter();
        (0..count)
            .map(|_| {
                (
                    keys.by_ref().take(self.width).collect(),
                    states.by_ref().take(self.per_group).collect(),
                )
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::{hash_values, same_key};
    use crate::value::Value;

    #[test]
    fn equal_keys_hash_alike_and_kinds_differ() {
        let a = [Some(Value::str("x")), Some(Value::Num(0.0)), None];
        let b = [Some(Value::str("x")), Some(Value::Num(-0.0)), None];
        assert!(same_key(&a, &b));
        assert_eq!(hash_values(&a), hash_values(&b));
        assert!(!same_key(&[Some(Value::str("1"))], &[Some(Value::Num(1.0))]));
        assert!(!same_key(
            &[Some(Value::str("ab")), Some(Value::str("c"))],
            &[Some(Value::str("a")), Some(Value::str("bc"))]
        ));
    }
}
