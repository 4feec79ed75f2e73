//! Keys of groups (stats) and of seen rows (dedup): hashing and comparing lists of values, and
//! the table of a stats stage's groups.

use std::hash::Hasher;

use crate::exec::aggregate_state::AggState;
use crate::exec::natural_order::{cmp_nulls_last, natural_cmp_known, sort_number};
use crate::exec::spill::{write_run, Run};
use crate::fx_hash::FxHasher;
use crate::plan::aggregate::{AggKind, StatsStage};
use crate::value::Value;

/// The order stats groups come out in: by their values, column by column (the sort order, nulls
/// last); groups that order cannot tell apart (`200` and `"200"`) by [`tie_order`], so the
/// order is the same whichever path (threads, spills) built the groups.
pub fn key_order(a: &[Option<Value>], b: &[Option<Value>]) -> std::cmp::Ordering {
    a.iter()
        .zip(b)
        .map(|(x, y)| cmp_nulls_last(x.as_ref(), y.as_ref(), false))
        .chain(a.iter().zip(b).map(|(x, y)| tie_order(x.as_ref(), y.as_ref())))
        .find(|o| o.is_ne())
        .unwrap_or(std::cmp::Ordering::Equal)
}

/// Sorts the group numbers `order` by their keys (`width` values each, back to back in
/// `keys`) in [`key_order`]. Groups are sorted first by a compact key of their first value (its
/// kind, and the first bytes of its natural-order form or its number), which decides almost
/// every comparison without reaching into the values; only groups whose compact keys tie are
/// compared in full.
pub fn sort_in_key_order(order: &mut [usize], keys: &[Option<Value>], width: usize) {
    if width == 0 {
        return;
    }
    let numbers: Vec<Option<f64>> = keys.iter().map(|k| k.as_ref().and_then(sort_number)).collect();
    let cell = |group: usize, i: usize| (keys[group * width + i].as_ref(), numbers[group * width + i]);
    let full = |a: usize, b: usize| {
        (0..width)
            .map(|i| match (cell(a, i), cell(b, i)) {
                ((Some(x), nx), (Some(y), ny)) => natural_cmp_known(x, nx, y, ny),
                ((Some(_), _), (None, _)) => std::cmp::Ordering::Less,
                ((None, _), (Some(_), _)) => std::cmp::Ordering::Greater,
                ((None, _), (None, _)) => std::cmp::Ordering::Equal,
            })
            .chain((0..width).map(|i| tie_order(cell(a, i).0, cell(b, i).0)))
            .find(|o| o.is_ne())
            .unwrap_or(std::cmp::Ordering::Equal)
    };
    let mut decorated: Vec<(u8, u128, usize)> = order
        .iter()
        .map(|&g| {
            let (value, number) = cell(g, 0);
            let (kind, prefix) = sort_prefix(value, number);
            (kind, prefix, g)
        })
        .collect();
    decorated.sort_unstable_by_key(|&(kind, prefix, _)| (kind, prefix));
    // Distinct groups are never equal in the full order, so unstable sorts give the one order.
    for tied in decorated.chunk_by_mut(|a, b| (a.0, a.1) == (b.0, b.1)) {
        if tied.len() > 1 {
            tied.sort_unstable_by(|a, b| full(a.2, b.2));
        }
    }
    for (slot, (_, _, g)) in order.iter_mut().zip(decorated) {
        *slot = g;
    }
}

/// A compact key that orders values as [`cmp_nulls_last`] does wherever the keys differ:
/// texts, then lists and maps, then numbers (by value), then nulls; texts by the first 16 bytes
/// of their natural-order form (see [`natural_form_prefix`]).
fn sort_prefix(value: Option<&Value>, number: Option<f64>) -> (u8, u128) {
    match (value, number) {
        (None, _) => (3, 0),
        (Some(_), Some(n)) => (2, u128::from(total_order_bits(n))),
        (Some(Value::List(_) | Value::Map(_)), None) => (1, 0),
        (Some(v), None) => (0, v.as_text().map_or(0, |t| natural_form_prefix(t.as_bytes()))),
    }
}

/// A double's bits, mapped so that unsigned order is numeric order (-0.0 as 0.0).
fn total_order_bits(x: f64) -> u64 {
    let bits = (if x == 0.0 { 0.0 } else { x }).to_bits();
    if bits >> 63 == 1 {
        !bits
    } else {
        bits | 1 << 63
    }
}

/// The first 16 bytes (zero-padded) of a text's natural-order form, whose byte order is the
/// texts' natural order: each byte that is not a digit is written plus one (UTF-8 has no 0xFF),
/// so that a 0 byte can end a run of them before a run of digits (a run that ends is the
/// smaller); each run of digits is written as the byte `b'0' + 1` (to compare against other
/// bytes as any digit would), its length in one byte and its digits (runs of digits compare by
/// length, then value). A run of 255 digits or more is written with length 255 and the rest of
/// the prefix 0xFF: all such runs tie, above every shorter one. A text that ends pads with 0,
/// the smallest byte. So prefixes that differ order their texts, and prefixes that tie say
/// nothing.
fn natural_form_prefix(text: &[u8]) -> u128 {
    let mut out = [0u8; 16];
    let mut n = 0;
    let mut i = 0;
    let mut push = |byte: u8, n: &mut usize| {
        if let Some(slot) = out.get_mut(*n) {
            *slot = byte;
            *n += 1;
        }
    };
    while n < 16 && i < text.len() {
        if text[i].is_ascii_digit() {
            if i > 0 {
                push(0, &mut n);
            }
            let end = i + text[i..].iter().take_while(|c| c.is_ascii_digit()).count();
            push(b'0' + 1, &mut n);
            match u8::try_from(end - i) {
                Ok(len) if len < u8::MAX => {
                    push(len, &mut n);
                    for &digit in &text[i..end] {
                        push(digit, &mut n);
                    }
                }
                _ => {
                    while n < 16 {
                        push(u8::MAX, &mut n);
                    }
                }
            }
            i = end;
        } else {
            push(text[i].saturating_add(1), &mut n);
            i += 1;
        }
    }
    u128::from_be_bytes(out)
}

/// Values the sort order holds equal, ordered by kind (then content): equal exactly when
/// [`same_key`] says they are the same.
pub fn tie_order(a: Option<&Value>, b: Option<&Value>) -> std::cmp::Ordering {
    let rank = |v: Option<&Value>| match v {
        None => 0,
        Some(Value::Str(_)) => 1,
        Some(Value::Num(_)) => 2,
        Some(Value::Time(_)) => 3,
        Some(Value::Bool(_)) => 4,
        Some(Value::List(_) | Value::Map(_)) => 5,
    };
    rank(a).cmp(&rank(b)).then_with(|| match (a, b) {
        (Some(Value::Str(x)), Some(Value::Str(y))) => x.as_bytes().cmp(y.as_bytes()),
        (Some(Value::Num(x)), Some(Value::Num(y))) => x.partial_cmp(y).unwrap_or(std::cmp::Ordering::Equal),
        (Some(Value::Time(x)), Some(Value::Time(y))) => x.cmp(y),
        (Some(Value::Bool(x)), Some(Value::Bool(y))) => x.cmp(y),
        (Some(x @ (Value::List(_) | Value::Map(_))), Some(y @ (Value::List(_) | Value::Map(_)))) => {
            x.to_string().cmp(&y.to_string())
        }
        _ => std::cmp::Ordering::Equal,
    })
}

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

/// Longest one-string key kept inline in a slot.
const INLINE_KEY_BYTES: usize = 15;

/// One slot of a part's open-addressing table: the group's hash tag and number and, for a
/// short one-string key, its text — a probe usually reads this one half cache line and nothing
/// else. Rows counted in batches are counted here too.
#[derive(Clone, Copy)]
#[repr(C)]
struct Slot {
    /// The high half of the group's hash.
    tag: u32,
    /// The group's number in its part, or [`Slot::EMPTY`].
    group: u32,
    /// Rows counted by [`Groups::count_later`], not yet in the group's states.
    count: u64,
    /// Length of the inline text, or [`Slot::NOT_INLINE`].
    len: u8,
    text: [u8; INLINE_KEY_BYTES],
}

const _: () = assert!(std::mem::size_of::<Slot>() == 32);

impl Slot {
    const EMPTY: u32 = u32::MAX;
    const NOT_INLINE: u8 = u8::MAX;
    const VACANT: Slot = Slot {
        tag: 0,
        group: Slot::EMPTY,
        count: 0,
        len: Slot::NOT_INLINE,
        text: [0; INLINE_KEY_BYTES],
    };
}

/// The text of a one-string key short enough to keep inline.
fn short_text(values: &[Option<Value>]) -> Option<&[u8]> {
    match values {
        [Some(Value::Str(text))] if text.len() <= INLINE_KEY_BYTES => Some(text.as_bytes()),
        _ => None,
    }
}

fn tag_of(hash: u64) -> u32 {
    (hash >> 32) as u32
}

/// Rows counted per batch by [`Groups::count_later`].
const COUNT_BATCH: usize = 64;
/// Slots of a new table (a power of two).
const FIRST_SLOTS: usize = 16;

/// Parts a table is split into once it holds [`SPLIT_AT`] groups, by the top bits of the hash.
const PARTS: usize = 64;
const _: () = assert!(PARTS < u8::MAX as usize);
const PART_SHIFT: u32 = 64 - PARTS.trailing_zeros();
/// Groups at which a table splits into parts.
const SPLIT_AT: usize = 1 << 15;

/// One part's groups: their key values (`width` per group) and states (one per aggregate), in
/// the order they came.
pub struct GroupsPart {
    pub keys: Vec<Option<Value>>,
    pub states: Vec<AggState>,
}

/// A group's number: its part in the high half, its number in the part in the low half.
const _: () = assert!(usize::BITS == 64, "group numbers hold a part and a u32");
fn group_id(part: usize, group: u32) -> usize {
    (part << 32) | group as usize
}

/// Some of the groups of a table: those whose hashes share their top bits, once the table is
/// [split](Groups). An open-addressing table (linear probing, at most half full) holds 32-byte
/// slots; keys and aggregate states live in flat arrays by group number (a group's key is
/// `width` values at `number × width`), and short one-string keys are compared in the slot, so
/// a probe reads one cache line where a table of indexes would read three.
struct Part {
    slots: Vec<Slot>,
    /// Each group's full hash, by number (to place it again when the table grows).
    hashes: Vec<u64>,
    /// Each group's place in the order groups first came to the whole table (rising).
    arrivals: Vec<u64>,
    keys: Vec<Option<Value>>,
    states: Vec<AggState>,
    /// Heap bytes of the keys' texts.
    key_heap: usize,
}

impl Part {
    fn new() -> Part {
        Part {
            slots: vec![Slot::VACANT; FIRST_SLOTS],
            hashes: Vec::new(),
            arrivals: Vec::new(),
            keys: Vec::new(),
            states: Vec::new(),
            key_heap: 0,
        }
    }

    fn bytes(&self) -> usize {
        self.slots.len() * std::mem::size_of::<Slot>()
            + self.hashes.capacity() * 8
            + self.arrivals.capacity() * 8
            + self.keys.capacity() * std::mem::size_of::<Option<Value>>()
            + self.states.capacity() * std::mem::size_of::<AggState>()
            + self.key_heap
    }

    /// The slot of the group with key `values` (hashing to `hash`), the group created with
    /// `fresh` states and arrival number `arrival` if new (the values moved in, leaving
    /// `None`s in `values`). The table must have room for one more group.
    fn slot_of(
        &mut self,
        hash: u64,
        values: &mut [Option<Value>],
        fresh: &[AggState],
        arrival: u64,
    ) -> usize {
        let width = values.len();
        let mask = self.slots.len() - 1;
        let tag = tag_of(hash);
        let short = short_text(values);
        let short_len = short.map(<[u8]>::len);
        // Inline texts are zero-padded: a short key compares as one fixed-size array.
        let mut padded = [0u8; INLINE_KEY_BYTES];
        if let Some(text) = short {
            padded[..text.len()].copy_from_slice(text);
        }
        let mut i = hash as usize & mask;
        loop {
            let slot = &self.slots[i];
            if slot.group == Slot::EMPTY {
                break;
            }
            if slot.tag == tag {
                let same = if let Some(len) = short_len {
                    usize::from(slot.len) == len && slot.text == padded
                } else {
                    let at = slot.group as usize * width;
                    slot.len == Slot::NOT_INLINE
                        && self
                            .keys
                            .get(at..at + width)
                            .is_some_and(|key| same_key(key, values))
                };
                if same {
                    return i;
                }
            }
            i = (i + 1) & mask;
        }
        // More than 2^32 groups cannot be held in memory anyway.
        let group = self.hashes.len() as u32;
        let mut slot = Slot {
            tag,
            group,
            ..Slot::VACANT
        };
        if let Some(len) = short_len {
            slot.len = len as u8;
            slot.text = padded;
        }
        self.slots[i] = slot;
        self.hashes.push(hash);
        self.arrivals.push(arrival);
        self.key_heap += values
            .iter()
            .map(|v| match v {
                Some(Value::Str(s)) if s.len() > 22 => s.len() + 16,
                Some(other @ (Value::List(_) | Value::Map(_))) => other.to_string().len() * 2,
                _ => 0,
            })
            .sum::<usize>();
        self.keys.extend(values.iter_mut().map(Option::take));
        self.states.extend_from_slice(fresh);
        i
    }

    /// Grows the table until `additional` more groups keep it at most half full.
    fn reserve(&mut self, additional: usize) {
        let needed = (self.hashes.len() + additional) * 2;
        if needed <= self.slots.len() {
            return;
        }
        let capacity = needed.next_power_of_two();
        let mask = capacity - 1;
        let old = std::mem::replace(&mut self.slots, vec![Slot::VACANT; capacity]);
        for slot in old.into_iter().filter(|s| s.group != Slot::EMPTY) {
            let mut i = self.hashes[slot.group as usize] as usize & mask;
            while self.slots[i].group != Slot::EMPTY {
                i = (i + 1) & mask;
            }
            self.slots[i] = slot;
        }
    }

    /// The rows counted in each group's slot (by [`Groups::count_later`]), by group number.
    fn counts_by_group(&self) -> Vec<u64> {
        let mut counts = vec![0; self.hashes.len()];
        for slot in self.slots.iter().filter(|s| s.group != Slot::EMPTY) {
            counts[slot.group as usize] = slot.count;
        }
        counts
    }

    /// The rows counted in slots folded into the groups' states (`per_group` each).
    fn fold_counts(&mut self, per_group: usize) {
        for (group, count) in self.counts_by_group().into_iter().enumerate() {
            if count > 0 {
                for state in &mut self.states[group * per_group..(group + 1) * per_group] {
                    state.merge(AggState::Count(count));
                }
            }
        }
        for slot in &mut self.slots {
            slot.count = 0;
        }
    }

    /// Folds another table's groups (`width` values of key, `per_group` states each) into
    /// these: each placed by the hash the other computed, its key and states moved; new ones
    /// arrive after every group of this table (their arrival numbers raised by `later`).
    fn absorb(&mut self, mut other: Part, width: usize, per_group: usize, fresh: &[AggState], later: u64) {
        let counts = other.counts_by_group();
        let mut states = other.states.into_iter();
        // Keys are moved in, not copied: a copy would touch each text's memory twice.
        let mut keys = std::mem::take(&mut other.keys);
        for (group, &hash) in other.hashes.iter().enumerate() {
            let key = &mut keys[group * width..(group + 1) * width];
            // Room for one more at a time: most keys are usually in both tables.
            self.reserve(1);
            let slot = self.slot_of(hash, key, fresh, later + other.arrivals[group]);
            self.slots[slot].count += counts[group];
            let at = self.slots[slot].group as usize * per_group;
            for mine in &mut self.states[at..at + per_group] {
                if let Some(theirs) = states.next() {
                    mine.merge(theirs);
                }
            }
        }
    }
}

/// The groups of a stats stage, looked up by hash without building a key per row.
///
/// A table with many groups is split into [`PARTS`] parts by the top bits of the groups'
/// hashes (as two-level aggregation tables are): each part is small enough that growing it
/// stays in cache, and two workers' tables merge part by part, on several threads.
///
/// With many groups, a probe waits on memory. A stage that only counts rows hands its keys
/// over in batches ([`Groups::count_later`]): the batch's probes do not depend on each other,
/// so the processor overlaps their cache misses.
pub struct Groups {
    /// One part, or [`PARTS`] once split.
    parts: Vec<Part>,
    /// Groups in all parts.
    total: usize,
    /// Arrival numbers given out (see [`Part::arrivals`]).
    arrived: u64,
    /// Values per key.
    width: usize,
    /// Aggregate states per group.
    per_group: usize,
    /// A new group's states.
    fresh: Vec<AggState>,
    /// Keys of rows waiting to be counted (`width` values each) and their hashes.
    pending_keys: Vec<Option<Value>>,
    pending_hashes: Vec<u64>,
    /// The pending rows' parts and slots, found before any is counted.
    pending_found: Vec<(usize, usize)>,
    /// The aggregates' kinds (to read spilled states back).
    kinds: Vec<AggKind>,
    /// Bytes the table may take before it spills (none: no limit).
    budget: Option<usize>,
    /// The budget the workers' tables share, if they do, and what this one last reported.
    pool: Option<(std::sync::Arc<TablePool>, usize)>,
    /// The table's size is looked at again once it has this many groups.
    next_check: usize,
    /// Groups spilled to disk, each run sorted.
    runs: Vec<Run>,
    /// A spill that failed (the run ends with it).
    spill_error: Option<std::io::Error>,
    /// Times the table was written to disk.
    spills: u64,
    /// Rows added since the size was last looked at (states grow without new groups too).
    adds: usize,
}

/// The bytes the workers' stats tables may take together, and what they last said they take.
#[derive(Debug)]
pub struct TablePool {
    limit: usize,
    taken: std::sync::atomic::AtomicUsize,
}

impl TablePool {
    pub fn new(limit: usize) -> TablePool {
        TablePool {
            limit,
            taken: std::sync::atomic::AtomicUsize::new(0),
        }
    }

    /// Replaces a table's last report (`reported`) by `bytes`; whether the tables now take
    /// more than the pool holds.
    fn report(&self, reported: &mut usize, bytes: usize) -> bool {
        use std::sync::atomic::Ordering;
        let now = if bytes >= *reported {
            self.taken.fetch_add(bytes - *reported, Ordering::Relaxed) + (bytes - *reported)
        } else {
            self.taken
                .fetch_sub(*reported - bytes, Ordering::Relaxed)
                .saturating_sub(*reported - bytes)
        };
        *reported = bytes;
        now > self.limit
    }
}

/// Rows added between looks at a table's size when no new group comes.
const ADDS_CHECK_EVERY: usize = 1 << 16;

/// How many new groups pass between looks at a table's size, at most.
const CHECK_EVERY: usize = 4096;

/// New groups between looks at the size: fewer for a small budget (a look costs about
/// [`STATE_SAMPLE`] states), so a budget of a few KiB is kept too.
fn check_interval(budget: Option<usize>) -> usize {
    budget.map_or(CHECK_EVERY, |b| (b / 4096).clamp(1, CHECK_EVERY))
}
/// Groups whose states are measured to estimate all the states' heap bytes.
const STATE_SAMPLE: usize = 64;

impl Groups {
    pub fn new(stats: &StatsStage) -> Groups {
        Groups {
            parts: vec![Part::new()],
            total: 0,
            arrived: 0,
            width: stats.groups.len(),
            per_group: stats.aggregates.len(),
            fresh: stats.aggregates.iter().map(|a| AggState::new(a.kind)).collect(),
            pending_keys: Vec::new(),
            pending_hashes: Vec::new(),
            pending_found: Vec::new(),
            kinds: stats.aggregates.iter().map(|a| a.kind).collect(),
            budget: None,
            pool: None,
            next_check: CHECK_EVERY,
            runs: Vec::new(),
            spill_error: None,
            spills: 0,
            adds: 0,
        }
    }

    /// Spill to disk beyond `bytes` (none: never), whatever other tables take.
    pub fn set_budget(&mut self, bytes: Option<usize>) {
        self.budget = bytes;
        self.pool = None;
        self.next_check = self.total + check_interval(bytes);
    }

    /// Spill past the budget only while the tables sharing `pool` take more than it holds
    /// (so a worker that read more of the input than the others does not spill on their
    /// behalf).
    pub fn share_budget(&mut self, pool: std::sync::Arc<TablePool>) {
        self.pool = Some((pool, 0));
    }

    /// About how many bytes the table takes: slots, keys, states and what they hold.
    pub fn estimated_bytes(&self) -> usize {
        let sample = STATE_SAMPLE.min(self.total);
        let per_group = self.per_group;
        // Spread over all the groups, the parts laid end to end: old groups and new in each.
        let (mut sampled, mut measured) = (0, 0);
        let mut next = (0..sample).map(|j| j * self.total / sample).peekable();
        let mut start = 0;
        for part in &self.parts {
            let end = start + part.hashes.len();
            while let Some(g) = next.next_if(|&g| g < end) {
                let at = (g - start) * per_group;
                sampled += part
                    .states
                    .get(at..at + per_group)
                    .map_or(0, |states| states.iter().map(AggState::heap_bytes).sum());
                measured += 1;
            }
            start = end;
        }
        let states_heap = sampled * self.total / measured.max(1);
        self.parts.iter().map(Part::bytes).sum::<usize>() + states_heap
    }

    /// Spills the table to a run if it has grown past its budget (looked at every few
    /// thousand new groups).
    pub fn maybe_spill(&mut self) {
        let Some(budget) = self.budget else { return };
        self.adds += 1;
        if (self.total < self.next_check && self.adds < ADDS_CHECK_EVERY) || self.spill_error.is_some() {
            return;
        }
        self.adds = 0;
        let estimate = self.estimated_bytes();
        let over = estimate > budget
            && self
                .pool
                .as_mut()
                .is_none_or(|(pool, reported)| pool.report(reported, estimate));
        if over {
            if let Err(e) = self.spill() {
                self.spill_error = Some(e);
            }
            let left = self.estimated_bytes();
            if let Some((pool, reported)) = &mut self.pool {
                pool.report(reported, left);
            }
            self.next_check = check_interval(self.budget);
        } else {
            self.next_check = self.total + check_interval(self.budget);
        }
    }

    /// Writes every group, in key order, to a new run and empties the table.
    pub fn spill(&mut self) -> std::io::Result<()> {
        let width = self.width;
        let per_group = self.per_group;
        // Taking the groups empties the table and gives its memory back (before any
        // compaction reads the runs).
        let (keys, states) = self.take_flat();
        let mut order: Vec<usize> = (0..states.len().checked_div(per_group).unwrap_or(0)).collect();
        sort_in_key_order(&mut order, &keys, width);
        let run = write_run(order.iter().map(|&g| {
            (
                &keys[g * width..(g + 1) * width],
                &states[g * per_group..(g + 1) * per_group],
            )
        }))?;
        self.runs.push(run);
        self.spills += 1;
        if self.runs.len() >= crate::exec::spill::MAX_RUNS {
            let runs = std::mem::take(&mut self.runs);
            self.runs
                .push(crate::exec::spill::compact(runs, width, &self.kinds)?);
        }
        Ok(())
    }

    /// Times the table was written to disk (its own and those of tables merged into it).
    pub fn spills(&self) -> u64 {
        self.spills
    }

    /// Whether groups were spilled to disk.
    pub fn has_runs(&self) -> bool {
        !self.runs.is_empty()
    }

    /// Whether a spill failed (reading may stop: the run ends with the error).
    pub fn spill_failed(&self) -> bool {
        self.spill_error.is_some()
    }

    /// A spill that failed, if one did.
    pub fn take_spill_error(&mut self) -> Option<std::io::Error> {
        self.spill_error.take()
    }

    /// Every group, the spilled ones and the rest, merged in key order (see
    /// [`crate::exec::spill::merge_runs`]).
    pub fn merge_spilled(
        mut self,
        each: &mut dyn FnMut(crate::exec::spill::SpilledGroup),
    ) -> std::io::Result<()> {
        if let Some(e) = self.spill_error.take() {
            return Err(e);
        }
        // Rows still waiting in a counting batch are groups too.
        self.count_pending();
        if self.total > 0 {
            self.spill()?;
        }
        let runs = std::mem::take(&mut self.runs);
        crate::exec::spill::merge_runs(runs, self.width, &self.kinds, each)
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
        let mut keys = std::mem::take(&mut self.pending_keys);
        let mut found = std::mem::take(&mut self.pending_found);
        found.clear();
        self.split_when_big(hashes.len());
        // Room for every new group of the batch first, so no slot moves while it is counted.
        if self.parts.len() == 1 {
            self.parts[0].reserve(hashes.len());
        } else {
            let mut in_part = [0usize; PARTS];
            for &hash in &hashes {
                in_part[(hash >> PART_SHIFT) as usize] += 1;
            }
            for (part, &n) in self.parts.iter_mut().zip(&in_part) {
                part.reserve(n);
            }
        }
        // Touch every first slot before probing: the loads do not wait on each other, so their
        // cache misses overlap; the probes then find the slots in cache.
        let touched = hashes.iter().fold(0u32, |acc, &hash| {
            let part = &self.parts[self.part_of(hash)];
            acc ^ part.slots[hash as usize & (part.slots.len() - 1)].tag
        });
        std::hint::black_box(touched);
        let width = self.width;
        for (n, &hash) in hashes.iter().enumerate() {
            let key = &mut keys[n * width..(n + 1) * width];
            let p = self.part_of(hash);
            let part = &mut self.parts[p];
            let before = part.hashes.len();
            found.push((p, part.slot_of(hash, key, &self.fresh, self.arrived)));
            let new = part.hashes.len() - before;
            self.total += new;
            self.arrived += new as u64;
        }
        for &(part, slot) in &found {
            self.parts[part].slots[slot].count += 1;
        }
        self.pending_hashes = hashes;
        self.pending_hashes.clear();
        self.pending_keys = keys;
        self.pending_keys.clear();
        self.pending_found = found;
    }

    pub fn len(&self) -> usize {
        self.total
    }

    pub fn is_empty(&self) -> bool {
        self.total == 0
    }

    /// Whether the table is split into parts (see [`Groups::into_parts`]).
    pub fn is_split(&self) -> bool {
        self.parts.len() > 1
    }

    /// The number of the group with key `values`, created (with fresh states) if new — the
    /// values are then moved into the table, leaving `None`s in `values`.
    pub fn find_or_insert(&mut self, values: &mut [Option<Value>]) -> usize {
        self.split_when_big(1);
        let hash = hash_values(values);
        let p = self.part_of(hash);
        let part = &mut self.parts[p];
        part.reserve(1);
        let before = part.hashes.len();
        let slot = part.slot_of(hash, values, &self.fresh, self.arrived);
        let new = part.hashes.len() - before;
        self.total += new;
        self.arrived += new as u64;
        group_id(p, part.slots[slot].group)
    }

    /// The aggregate states of group `id` (as [`Groups::find_or_insert`] numbers it).
    pub fn states_mut(&mut self, id: usize) -> &mut [AggState] {
        let at = (id & u32::MAX as usize) * self.per_group;
        &mut self.parts[id >> 32].states[at..at + self.per_group]
    }

    /// The part a hash belongs in.
    fn part_of(&self, hash: u64) -> usize {
        if self.parts.len() == 1 {
            0
        } else {
            (hash >> PART_SHIFT) as usize
        }
    }

    /// Splits the table into parts when `more` groups could take it to [`SPLIT_AT`].
    fn split_when_big(&mut self, more: usize) {
        if self.parts.len() == 1 && self.total + more >= SPLIT_AT {
            self.split();
        }
    }

    /// Moves every group into the part its hash's top bits name.
    fn split(&mut self) {
        let (width, per_group) = (self.width, self.per_group);
        let Some(mut whole) = self.parts.pop() else {
            return;
        };
        whole.fold_counts(per_group);
        self.parts = (0..PARTS).map(|_| Part::new()).collect();
        let mut states = whole.states.into_iter();
        for (group, &hash) in whole.hashes.iter().enumerate() {
            let part = &mut self.parts[(hash >> PART_SHIFT) as usize];
            part.reserve(1);
            let key = &mut whole.keys[group * width..(group + 1) * width];
            let slot = part.slot_of(hash, key, &[], whole.arrivals[group]);
            debug_assert_eq!(part.slots[slot].group as usize, part.hashes.len() - 1);
            part.states.extend(states.by_ref().take(per_group));
        }
    }

    /// Folds another worker's groups into these, part by part on up to `threads` threads.
    /// Each group is placed by the hash the other worker computed; keys and states are moved.
    pub fn merge(&mut self, mut other: Groups, threads: usize) {
        self.runs.append(&mut other.runs);
        self.spills += other.spills;
        if self.runs.len() > crate::exec::spill::MAX_RUNS {
            let runs = std::mem::take(&mut self.runs);
            match crate::exec::spill::compact(runs, self.width, &self.kinds) {
                Ok(run) => self.runs.push(run),
                Err(e) => self.spill_error = self.spill_error.take().or(Some(e)),
            }
        }
        if self.spill_error.is_none() {
            self.spill_error = other.spill_error.take();
        }
        other.count_pending();
        if other.total == 0 {
            return;
        }
        // Both split, or neither.
        if self.parts.len() > 1 || other.parts.len() > 1 || self.total + other.total >= SPLIT_AT {
            for table in [&mut *self, &mut other] {
                if table.parts.len() == 1 {
                    table.split();
                }
            }
        }
        let (width, per_group) = (self.width, self.per_group);
        let fresh = &self.fresh;
        let later = self.arrived;
        let pairs: Vec<(&mut Part, Part)> = self.parts.iter_mut().zip(other.parts).collect();
        crate::exec::shared_work::on_threads(
            pairs,
            threads,
            || (),
            |(), (mine, theirs)| mine.absorb(theirs, width, per_group, fresh, later),
        );
        self.total = self.parts.iter().map(|p| p.hashes.len()).sum();
        self.arrived += other.arrived;
    }

    /// Every group's key values and states, in two flat lists in the order the groups first
    /// came (so their keys are read in about the order they were allocated in, not scattered
    /// by hash), the counts in slots folded in; the table is left empty.
    fn take_flat(&mut self) -> (Vec<Option<Value>>, Vec<AggState>) {
        self.count_pending();
        let (width, per_group) = (self.width, self.per_group);
        let mut parts = std::mem::replace(&mut self.parts, vec![Part::new()]);
        self.total = 0;
        if let [only] = parts.as_mut_slice() {
            self.arrived = 0;
            only.fold_counts(per_group);
            return (std::mem::take(&mut only.keys), std::mem::take(&mut only.states));
        }
        let mut keys = Vec::with_capacity(parts.iter().map(|p| p.keys.len()).sum());
        let mut states = Vec::with_capacity(parts.iter().map(|p| p.states.len()).sum());
        // Arrival numbers are distinct and below `arrived`: each names the part that holds
        // the group that came then (each part's groups are in arrival order already).
        let arrived = usize::try_from(std::mem::take(&mut self.arrived)).unwrap_or(usize::MAX);
        let mut part_at = vec![u8::MAX; arrived];
        for (n, part) in parts.iter_mut().enumerate() {
            part.fold_counts(per_group);
            for &arrival in &part.arrivals {
                if let Some(at) = usize::try_from(arrival).ok().and_then(|a| part_at.get_mut(a)) {
                    *at = n as u8;
                }
            }
        }
        let mut cursors: Vec<_> = parts
            .into_iter()
            .map(|part| (part.keys.into_iter(), part.states.into_iter()))
            .collect();
        for &n in part_at.iter().filter(|&&n| n != u8::MAX) {
            let (part_keys, part_states) = &mut cursors[usize::from(n)];
            keys.extend(part_keys.by_ref().take(width));
            states.extend(part_states.by_ref().take(per_group));
        }
        // Arrival numbers are distinct and below `arrived` (see `merge`), so nothing is left;
        // were one repeated, its groups would still come, last.
        debug_assert!(cursors.iter().all(|(k, s)| k.len() == 0 && s.len() == 0));
        for (part_keys, part_states) in cursors {
            keys.extend(part_keys);
            states.extend(part_states);
        }
        (keys, states)
    }

    /// Every group's key values and states, part by part, the counts in slots folded in.
    pub fn into_parts(mut self) -> Vec<GroupsPart> {
        self.count_pending();
        let per_group = self.per_group;
        self.parts
            .into_iter()
            .map(|mut part| {
                part.fold_counts(per_group);
                GroupsPart {
                    keys: part.keys,
                    states: part.states,
                }
            })
            .collect()
    }

    /// Every group's key values (`width` per group) and states (one per aggregate), in two
    /// flat lists.
    pub fn into_flat(mut self) -> (Vec<Option<Value>>, Vec<AggState>) {
        self.take_flat()
    }
}

#[cfg(test)]
mod tests {
    use super::{hash_values, key_order, same_key, sort_in_key_order};
    use crate::value::Value;
    use std::sync::Arc;

    #[test]
    fn the_compact_sort_gives_the_key_order() {
        let mut rng = crate::test_rng::Rng(0x2545_f491_4f6c_dd1d);
        let mut next = |n: usize| rng.below(n);
        let pieces = [
            "0",
            "00",
            "1",
            "9",
            "10",
            "123456789",
            "a",
            "b",
            "-",
            ".",
            " ",
            "\u{0}",
            "é",
            "x1",
        ];
        // Digit runs around the length a prefix can hold (254, 255, 256 and more digits).
        let long_runs: Vec<String> = [253, 254, 255, 256, 300]
            .iter()
            .flat_map(|&n| ["1".repeat(n), "9".repeat(n), format!("a{}", "5".repeat(n))])
            .collect();
        let pieces: Vec<&str> = pieces
            .iter()
            .copied()
            .chain(long_runs.iter().map(String::as_str))
            .collect();
        for width in [1, 2] {
            let mut keys = Vec::new();
            for _ in 0..3000 * width {
                keys.push(match next(9) {
                    0 => None,
                    1 => Some(Value::Num(next(50) as f64 - 25.0)),
                    2 => Some(Value::Num(0.5 * next(10) as f64)),
                    3 => Some(Value::str(
                        ["9007199254740993", "9007199254740992", "-0", "1e3"][next(4)],
                    )),
                    4 => Some(Value::List(Arc::new(vec![Value::Num(1.0)]))),
                    5 => Some(Value::Bool(next(2) == 0)),
                    _ => Some(Value::str(
                        (0..next(6))
                            .map(|_| pieces[next(pieces.len())])
                            .collect::<String>(),
                    )),
                });
            }
            let groups = keys.len() / width;
            let mut expected: Vec<usize> = (0..groups).collect();
            expected.sort_by(|&a, &b| {
                key_order(
                    &keys[a * width..(a + 1) * width],
                    &keys[b * width..(b + 1) * width],
                )
            });
            let mut got: Vec<usize> = (0..groups).collect();
            sort_in_key_order(&mut got, &keys, width);
            // Equal keys may come in either order; their keys may not.
            let at = |order: &[usize], i: usize| keys[order[i] * width..(order[i] + 1) * width].to_vec();
            for i in 0..groups {
                assert!(
                    same_key(&at(&got, i), &at(&expected, i)),
                    "{:?} {:?}",
                    at(&got, i),
                    at(&expected, i)
                );
            }
        }
    }

    #[test]
    fn a_pool_says_when_its_tables_take_more_than_it_holds() {
        let pool = super::TablePool::new(100);
        let (mut a, mut b) = (0, 0);
        // One table may take most of the pool while the other takes little.
        assert!(!pool.report(&mut a, 90));
        assert!(!pool.report(&mut b, 10));
        assert!(pool.report(&mut b, 11));
        // A table that spilled reports what it kept: the pool has room again.
        assert!(!pool.report(&mut a, 5));
        assert_eq!((a, b), (5, 11));
        assert!(!pool.report(&mut b, 95));
        assert!(pool.report(&mut a, 6));
    }

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
