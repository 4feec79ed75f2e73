//! Discovered fields of a JSON event: one JSON object per line, flattened the way CloudWatch
//! flattens at ingestion.
//!
//! A hand-written scanner instead of `serde_json`, because a query usually reads five fields of a
//! thirty-field line: the scanner validates every byte but unescapes and allocates only for the
//! fields that were asked for, and steps over subtrees no wanted key can lie under. Fields are
//! emitted once the line is read, to its end or to its first break.
//!
//! Rules (see the module docs of [`crate::event`] for the full list): nested keys join with `.`,
//! array elements get their index as a segment, only leaves (strings, numbers, booleans) are
//! fields, a top-level key starting with `@` gets one more `@`, `null` and empty containers give
//! no field, at most [`MAX_FIELDS_PER_EVENT`] leaves per event, nesting deeper than [`MAX_DEPTH`]
//! is a break. A line that breaks keeps the fields completed before the break.

use crate::fx_hash::{fx_hash, FxHasher};
use std::cell::RefCell;
use std::collections::HashSet;
use std::hash::BuildHasherDefault;

use super::special_bytes::SpecialBytes;
use crate::value::Value;

/// Leaves kept per JSON event: the first 200 in document order. Leaves are counted whether or not
/// they are wanted, and every occurrence of a repeated key counts, so the kept set does not depend
/// on the query. (CloudWatch documents the limit of 200 but not which ones it keeps.)
pub const MAX_FIELDS_PER_EVENT: usize = 200;

/// Deepest nesting of objects and arrays (the line's own object is depth 1). Deeper lines are not
/// JSON events; the limit keeps the recursive scanner's stack small.
pub const MAX_DEPTH: usize = 64;

/// Which flattened fields the caller wants (`http.userAgent`, `@@level`, `items.0.id`).
///
/// Built once per query: [`Wanted::only`] precomputes the key prefixes under which a wanted field
/// can lie, so the scanner can step over other subtrees without building their paths.
#[derive(Debug, Clone)]
pub struct Wanted {
    only: Option<KeySet>,
    /// Groups of keys: once every group has one key found, the rest of the line is not scanned
    /// (see [`Wanted::stop_when_found`]).
    enough: Vec<Vec<Box<str>>>,
    /// `"name"` for every name a wanted key's path is built from: if one occurs in the rest of
    /// the line, a wanted key may be repeated there, and the scan goes on to take its last value.
    repeat_needles: Vec<memchr::memmem::Finder<'static>>,
    /// Those names' characters, which a `\u` escape would have to spell.
    repeat_chars: String,
}

#[derive(Debug, Clone)]
struct KeySet {
    keys: Lookup,
    /// Every `k[..i]` where `k[i] == '.'`: the paths of containers a wanted key can lie under.
    prefixes: Lookup,
}

/// A set of keys. Most keys a line holds are not wanted; a bit per key length (lengths 63 and
/// up share a bit) rejects most of them before any comparison or hash.
#[derive(Debug, Clone)]
struct Lookup {
    lengths: u64,
    keys: Keys,
}

/// Few keys are faster to compare one by one than to hash.
#[derive(Debug, Clone)]
enum Keys {
    Few(Vec<Box<str>>),
    Many(HashSet<Box<str>, BuildHasherDefault<FxHasher>>),
}

fn length_bit(len: usize) -> u64 {
    1 << len.min(63)
}

const FEW_KEYS: usize = 8;

impl Lookup {
    fn new(mut keys: Vec<Box<str>>) -> Lookup {
        keys.sort_unstable();
        keys.dedup();
        let lengths = keys.iter().fold(0, |bits, k| bits | length_bit(k.len()));
        let keys = if keys.len() <= FEW_KEYS {
            Keys::Few(keys)
        } else {
            Keys::Many(keys.into_iter().collect())
        };
        Lookup { lengths, keys }
    }

    fn all(&self) -> Vec<&str> {
        match &self.keys {
            Keys::Few(keys) => keys.iter().map(|k| &**k).collect(),
            Keys::Many(keys) => keys.iter().map(|k| &**k).collect(),
        }
    }

    #[inline]
    fn contains(&self, key: &str) -> bool {
        if self.lengths & length_bit(key.len()) == 0 {
            return false;
        }
        match &self.keys {
            Keys::Few(keys) => keys.iter().any(|k| **k == *key),
            Keys::Many(keys) => keys.contains(key),
        }
    }
}

impl Wanted {
    /// Every field.
    pub fn all() -> Wanted {
        Wanted {
            only: None,
            enough: Vec::new(),
            repeat_needles: Vec::new(),
            repeat_chars: String::new(),
        }
    }

    /// Only these flattened field names (exact and case-sensitive, as emitted: `@@level`,
    /// `http.clientIp`). Naming a container (`http`) gives nothing: only leaves are fields.
    pub fn only<I, S>(keys: I) -> Wanted
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let mut all = Vec::new();
        let mut prefixes = Vec::new();
        for key in keys {
            let key = key.as_ref();
            for (dot, _) in key.match_indices('.') {
                prefixes.push(Box::from(&key[..dot]));
            }
            all.push(Box::from(key));
        }
        Wanted {
            enough: Vec::new(),
            repeat_needles: Vec::new(),
            repeat_chars: String::new(),
            only: Some(KeySet {
                keys: Lookup::new(all),
                prefixes: Lookup::new(prefixes),
            }),
        }
    }

    /// Stops scanning a line once, for every group, one of its keys has been found at the top
    /// level or below (up to 64 groups), unless the rest of the line could repeat a wanted key
    /// (it holds one of the key's names in quotes, or an escape of one of their characters): a
    /// repeated key keeps its last value on every path. The rest of the line is then not
    /// validated: only its closing `}` is checked. A query that needs few early keys of long
    /// lines reads only their start.
    #[must_use]
    pub fn stop_when_found(mut self, groups: Vec<Vec<String>>) -> Wanted {
        if groups.len() <= 64 && !groups.is_empty() && groups.iter().all(|g| !g.is_empty()) {
            let mut names: Vec<String> = Vec::new();
            let wanted_keys = self.only.as_ref().map(|set| set.keys.all()).unwrap_or_default();
            for key in groups.iter().flatten().map(String::as_str).chain(wanted_keys) {
                // A logged `@key` is emitted as `@@key`.
                let written = key
                    .strip_prefix('@')
                    .filter(|k| k.starts_with('@'))
                    .unwrap_or(key);
                // Every run of whole segments: `a.b.c.d` can be flattened from `"a.b"` and
                // `"c.d"`, or from `"a"`, `"b.c"` and `"d"`.
                let segments: Vec<&str> = written.split('.').collect();
                for from in 0..segments.len() {
                    for to in from + 1..=segments.len().min(from + 8) {
                        names.push(segments[from..to].join("."));
                    }
                }
                names.push(written.to_string());
            }
            names.sort();
            names.dedup();
            self.repeat_chars = names.concat();
            self.repeat_needles = names
                .iter()
                .map(|name| memchr::memmem::Finder::new(format!("\"{name}\"").as_bytes()).into_owned())
                .collect();
            self.enough = groups
                .into_iter()
                .map(|g| g.into_iter().map(String::into_boxed_str).collect())
                .collect();
        }
        self
    }

    /// Whether every field is wanted.
    pub fn is_all(&self) -> bool {
        self.only.is_none()
    }

    /// Whether the flattened field `key` is wanted.
    pub fn wants(&self, key: &str) -> bool {
        self.only.as_ref().is_none_or(|set| set.keys.contains(key))
    }
}

impl From<&HashSet<String>> for Wanted {
    fn from(keys: &HashSet<String>) -> Wanted {
        Wanted::only(keys)
    }
}

/// Emits the flattened leaf fields of `line`, a JSON object (JSON whitespace around it allowed),
/// and returns whether it read as one whole object. A line that breaks (a bad value, a cut-off
/// line, something after the object) gives the fields completed before the break, and false.
///
/// Values: strings unescaped as [`Value::Str`], numbers as [`Value::Num`] (a number beyond the
/// range of `f64` keeps its text as a string), `true`/`false` as the strings `"true"`/`"false"`,
/// `null` no field. A key that occurs more than once (also through flattening: `{"a.b":1,"a":{"b":2}}`)
/// is emitted once, with its last value, at the position of its first occurrence.
///
/// Uses a per-thread scratch space, so a loop calling it allocates only for the values it emits.
pub fn flatten_json(line: &str, wanted: &Wanted, emit: &mut dyn FnMut(&str, Value)) -> bool {
    thread_local! {
        static SCRATCH: RefCell<JsonFlattener> = RefCell::new(JsonFlattener::new());
    }
    SCRATCH.with(|scratch| match scratch.try_borrow_mut() {
        Ok(mut flattener) => flattener.flatten(line, wanted, emit),
        // Called again from inside `emit`: use a scratch space of its own.
        Err(_) => JsonFlattener::new().flatten(line, wanted, emit),
    })
}

/// [`flatten_json`] with scratch buffers the caller keeps (one per worker thread).
#[derive(Debug, Default)]
pub struct JsonFlattener {
    scratch: Scratch,
    /// Unescaped string values, reused.
    text: String,
    /// The line's special-byte masks, reused.
    words: Vec<u64>,
}

#[derive(Debug, Default)]
struct Scratch {
    /// Flattened path of the value being scanned.
    path: String,
    /// Keys of `pending`, back to back.
    keys: String,
    /// Wanted leaves, as positions in the line: materialised only after the line validated.
    pending: Vec<Pending>,
    /// 256-bit filter over the keys in `pending`: most lines have no repeated key, and the
    /// filter proves it without comparing keys.
    seen: [u64; 4],
}

#[derive(Debug, Clone, Copy)]
struct Pending {
    key: KeyRef,
    value: RawValue,
}

/// Where a pending field's name is: `scratch.keys[start..end]`, or the line itself for plain
/// top-level keys.
#[derive(Debug, Clone, Copy)]
enum KeyRef {
    Keys(usize, usize),
    Line(usize, usize),
}

impl KeyRef {
    fn resolve<'a>(self, keys: &'a str, line: &'a str) -> Option<&'a str> {
        match self {
            KeyRef::Keys(start, end) => keys.get(start..end),
            KeyRef::Line(start, end) => line.get(start..end),
        }
    }
}

/// A leaf as it appears in the line (`start..end` is the text between the quotes for strings).
#[derive(Debug, Clone, Copy)]
enum RawValue {
    Str { start: usize, end: usize, escaped: bool },
    Num { start: usize, end: usize },
    Bool(bool),
}

/// Scratch text longer than this is freed after the line, so one huge line does not pin memory.
const KEEP_SCRATCH_BYTES: usize = 1 << 20;

impl JsonFlattener {
    /// An empty flattener.
    pub fn new() -> JsonFlattener {
        JsonFlattener::default()
    }

    /// Same as [`flatten_json`].
    pub fn flatten(&mut self, line: &str, wanted: &Wanted, emit: &mut dyn FnMut(&str, Value)) -> bool {
        let scratch = &mut self.scratch;
        scratch.path.clear();
        scratch.keys.clear();
        scratch.pending.clear();
        scratch.seen = [0; 4];

        let bytes = line.as_bytes();
        let start = skip_ws(bytes, 0);
        if bytes.get(start) != Some(&b'{') {
            return false;
        }
        let mut scan = Scan {
            line,
            bytes,
            only: wanted.only.as_ref(),
            scratch,
            leaves: 0,
            enough: &wanted.enough,
            repeat_needles: &wanted.repeat_needles,
            repeat_chars: &wanted.repeat_chars,
            specials: SpecialBytes::new(bytes, &mut self.words),
            possible_repeat: None,
            satisfied: 0,
        };
        let parsed = scan
            .object(start + 1, 1, true)
            .is_some_and(|end| skip_ws(bytes, end) == bytes.len());

        // A line that breaks keeps the fields read before the break.
        {
            for pending in &self.scratch.pending {
                let Some(key) = pending.key.resolve(&self.scratch.keys, line) else {
                    continue;
                };
                if let Some(value) = materialise(line, pending.value, &mut self.text) {
                    emit(key, value);
                }
            }
        }
        for buf in [&mut self.scratch.path, &mut self.scratch.keys, &mut self.text] {
            if buf.capacity() > KEEP_SCRATCH_BYTES {
                *buf = String::new();
            }
        }
        parsed
    }
}

fn materialise(line: &str, raw: RawValue, text: &mut String) -> Option<Value> {
    match raw {
        RawValue::Str { start, end, escaped } => {
            let raw = line.get(start..end)?;
            if escaped {
                text.clear();
                unescape_into(raw, text)?;
                Some(Value::str(text.as_str()))
            } else {
                Some(Value::str(raw))
            }
        }
        RawValue::Num { start, end } => Some(number_value(line.get(start..end)?)),
        RawValue::Bool(b) => Some(bool_value(b)),
    }
}

/// `true`/`false` as strings (short: kept inline, no allocation).
pub(super) fn bool_value(b: bool) -> Value {
    Value::str(if b { "true" } else { "false" })
}

/// 10^0 … 10^15, each exact in an f64.
const EXACT_POWERS_OF_TEN: [f64; 16] = [
    1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
];

/// [`number_value`] for the common numbers, read from their bytes: integers of up to 15
/// digits and decimals of up to 15 digits without an exponent. `None` for the others.
pub(super) fn short_number(text: &[u8]) -> Option<Value> {
    let digits = text.strip_prefix(b"-").unwrap_or(text);
    let sign = if digits.len() == text.len() { 1.0 } else { -1.0 };
    // Up to 15 digits an integer is exact in an f64; skip the general parser.
    if digits.len() <= 15 && digits.iter().all(u8::is_ascii_digit) {
        let magnitude = digits.iter().fold(0u64, |n, d| n * 10 + u64::from(d - b'0')) as f64;
        return Some(Value::Num(sign * magnitude));
    }
    // A decimal of at most 15 digits and no exponent (`11.9`, `240.125`): its digits as an
    // integer and a power of ten are both exact in an f64, so one division is correctly rounded
    // — the same double the general parser gives, for much less.
    let dot = digits.iter().position(|&b| b == b'.')?;
    let (whole, fraction) = (&digits[..dot], &digits[dot + 1..]);
    let count = whole.len() + fraction.len();
    if count <= 15 && !fraction.is_empty() && whole.iter().chain(fraction).all(u8::is_ascii_digit) {
        let mantissa = whole
            .iter()
            .chain(fraction)
            .fold(0u64, |n, d| n * 10 + u64::from(d - b'0')) as f64;
        return Some(Value::Num(
            sign * (mantissa / EXACT_POWERS_OF_TEN[fraction.len()]),
        ));
    }
    None
}

/// A JSON number (already validated) as a value.
pub(super) fn number_value(text: &str) -> Value {
    if let Some(value) = short_number(text.as_bytes()) {
        return value;
    }
    let digits = text.strip_prefix('-').unwrap_or(text);
    // An integer a double cannot hold exactly is kept as written (it still compares and
    // computes as a number; exactly where both sides are integers).
    if digits.bytes().all(|b| b.is_ascii_digit()) {
        match crate::value::parse_integer(text) {
            Some(n) if n.unsigned_abs() <= crate::value::MAX_EXACT_DOUBLE as u128 => {}
            _ => return Value::str(text),
        }
    }
    match text.parse::<f64>() {
        Ok(n) if n.is_finite() => Value::Num(n),
        _ => Value::str(text),
    }
}

struct Scan<'a> {
    line: &'a str,
    bytes: &'a [u8],
    only: Option<&'a KeySet>,
    scratch: &'a mut Scratch,
    /// Non-null leaves seen so far, wanted or not.
    leaves: usize,
    /// Key groups that end the scan once each has a key found (bit per group).
    enough: &'a [Vec<Box<str>>],
    repeat_needles: &'a [memchr::memmem::Finder<'static>],
    repeat_chars: &'a str,
    /// Where strings end.
    specials: SpecialBytes<'a>,
    /// Where the next possible repeat of a wanted key starts (`None`: not looked for yet).
    possible_repeat: Option<usize>,
    satisfied: u64,
}

/// Where the flattened path of the value being scanned is.
#[derive(Clone, Copy)]
enum Path {
    /// Not tracked: no wanted field lies under this value.
    Skip,
    /// In `scratch.path`.
    Buf,
    /// A top-level key with no escapes and no `@`: the path is `line[start..end]` as it stands,
    /// so the common case copies nothing.
    TopKey(usize, usize),
}

impl Scan<'_> {
    /// Scans an object whose `{` is just before `i`; returns the index after its `}`.
    /// `depth` is the object's own depth; with `collect`, `scratch.path` holds its path.
    fn object(&mut self, i: usize, depth: usize, collect: bool) -> Option<usize> {
        let b = self.bytes;
        let mut i = skip_ws(b, i);
        if b.get(i) == Some(&b'}') {
            return Some(i + 1);
        }
        loop {
            if b.get(i) != Some(&b'"') {
                return None;
            }
            let (key_end, escaped) = self.specials.scan_string(i + 1)?;
            let base = self.scratch.path.len();
            let path = if !collect {
                Path::Skip
            } else if depth == 1 && !escaped && b.get(i + 1) != Some(&b'@') {
                Path::TopKey(i + 1, key_end)
            } else {
                let path = &mut self.scratch.path;
                if depth > 1 {
                    path.push('.');
                }
                let key = self.line.get(i + 1..key_end)?;
                if escaped {
                    unescape_into(key, path)?;
                } else {
                    path.push_str(key);
                }
                // Only the field name's start is marked: `{"a":{"@b":1}}` gives `a.@b`.
                if depth == 1 && path.starts_with('@') {
                    path.insert(0, '@');
                }
                Path::Buf
            };
            i = skip_ws(b, key_end + 1);
            if b.get(i) != Some(&b':') {
                return None;
            }
            i = self.value(skip_ws(b, i + 1), depth, path)?;
            if let Path::Buf = path {
                self.scratch.path.truncate(base);
            }
            if depth == 1
                && !self.enough.is_empty()
                && self.satisfied.count_ones() as usize == self.enough.len()
                && !self.may_repeat_a_key(i)
            {
                // Everything asked for is here: accept the line if it closes like an object.
                let end = b
                    .iter()
                    .rposition(|c| !matches!(c, b' ' | b'\t' | b'\n' | b'\r'))?;
                return (b[end] == b'}').then_some(end + 1);
            }
            i = skip_ws(b, i);
            match b.get(i) {
                Some(b',') => i = skip_ws(b, i + 1),
                Some(b'}') => return Some(i + 1),
                _ => return None,
            }
        }
    }

    /// Whether the line from `i` on could hold a wanted key again. The place found is kept, so
    /// a line is searched again only past it.
    fn may_repeat_a_key(&mut self, i: usize) -> bool {
        if let Some(at) = self.possible_repeat {
            if at >= i {
                return at != usize::MAX;
            }
        }
        let rest = self.bytes.get(i..).unwrap_or_default();
        let escape = escape_that_may_spell(rest, |c| self.repeat_chars.contains(c));
        let at = self
            .repeat_needles
            .iter()
            .filter_map(|needle| needle.find(rest))
            .chain(escape)
            .min()
            .map_or(usize::MAX, |j| i + j);
        self.possible_repeat = Some(at);
        at != usize::MAX
    }

    /// Scans an array whose `[` is just before `i` (see [`Scan::object`]).
    fn array(&mut self, i: usize, depth: usize, collect: bool) -> Option<usize> {
        let b = self.bytes;
        let mut i = skip_ws(b, i);
        if b.get(i) == Some(&b']') {
            return Some(i + 1);
        }
        let mut index = 0usize;
        loop {
            let base = self.scratch.path.len();
            let path = if collect {
                // An array is never the line itself, so it always has a path to extend.
                self.scratch.path.push('.');
                push_decimal(&mut self.scratch.path, index);
                Path::Buf
            } else {
                Path::Skip
            };
            i = self.value(i, depth, path)?;
            self.scratch.path.truncate(base);
            index += 1;
            i = skip_ws(b, i);
            match b.get(i) {
                Some(b',') => i = skip_ws(b, i + 1),
                Some(b']') => return Some(i + 1),
                _ => return None,
            }
        }
    }

    /// Scans the value starting at `i` inside a container of depth `depth`; returns the index
    /// after it.
    fn value(&mut self, i: usize, depth: usize, path: Path) -> Option<usize> {
        let b = self.bytes;
        match *b.get(i)? {
            open @ (b'{' | b'[') => {
                if depth >= MAX_DEPTH {
                    return None;
                }
                let descend = match path {
                    Path::Skip => false,
                    Path::Buf => self
                        .only
                        .is_none_or(|set| set.prefixes.contains(&self.scratch.path)),
                    Path::TopKey(start, end) => {
                        let key = self.line.get(start..end)?;
                        let descend = self.only.is_none_or(|set| set.prefixes.contains(key));
                        if descend {
                            self.scratch.path.push_str(key);
                        }
                        descend
                    }
                };
                let end = if open == b'{' {
                    self.object(i + 1, depth + 1, descend)
                } else {
                    self.array(i + 1, depth + 1, descend)
                };
                if descend && matches!(path, Path::TopKey(..)) {
                    self.scratch.path.clear();
                }
                end
            }
            b'"' => {
                let (end, escaped) = self.specials.scan_string(i + 1)?;
                self.leaf(
                    path,
                    RawValue::Str {
                        start: i + 1,
                        end,
                        escaped,
                    },
                );
                Some(end + 1)
            }
            b't' => {
                literal(b, i, b"true")?;
                self.leaf(path, RawValue::Bool(true));
                Some(i + 4)
            }
            b'f' => {
                literal(b, i, b"false")?;
                self.leaf(path, RawValue::Bool(false));
                Some(i + 5)
            }
            b'n' => {
                literal(b, i, b"null")?;
                Some(i + 4)
            }
            b'-' | b'0'..=b'9' => {
                let end = scan_number(b, i)?;
                self.leaf(path, RawValue::Num { start: i, end });
                Some(end)
            }
            _ => None,
        }
    }

    fn leaf(&mut self, path: Path, value: RawValue) {
        self.leaves += 1;
        if self.leaves > MAX_FIELDS_PER_EVENT {
            return;
        }
        let Scratch {
            path: buf,
            keys,
            pending,
            seen,
        } = &mut *self.scratch;
        let (key, key_ref) = match path {
            Path::Skip => return,
            Path::Buf => (buf.as_str(), None),
            Path::TopKey(start, end) => match self.line.get(start..end) {
                Some(key) => (key, Some(KeyRef::Line(start, end))),
                None => return,
            },
        };
        if self.only.is_some_and(|set| !set.keys.contains(key)) {
            return;
        }
        let bit = (fx_hash(key.as_bytes()) >> 56) as usize;
        let (word, mask) = (bit / 64, 1u64 << (bit % 64));
        if seen[word] & mask != 0 {
            if let Some(earlier) = pending
                .iter_mut()
                .find(|p| p.key.resolve(keys, self.line) == Some(key))
            {
                earlier.value = value;
                return;
            }
        }
        seen[word] |= mask;
        for (group, keys_in_group) in self.enough.iter().enumerate() {
            if keys_in_group.iter().any(|k| **k == *key) {
                self.satisfied |= 1 << group;
            }
        }
        let key = key_ref.unwrap_or_else(|| {
            let start = keys.len();
            keys.push_str(key);
            KeyRef::Keys(start, keys.len())
        });
        pending.push(Pending { key, value });
    }
}

fn skip_ws(b: &[u8], mut i: usize) -> usize {
    while let Some(b' ' | b'\t' | b'\n' | b'\r') = b.get(i) {
        i += 1;
    }
    i
}

fn literal(b: &[u8], i: usize, word: &[u8]) -> Option<()> {
    (b.get(i..i + word.len())? == word).then_some(())
}

fn push_decimal(out: &mut String, mut n: usize) {
    let mut digits = [0u8; 20];
    let mut at = digits.len();
    loop {
        at -= 1;
        digits[at] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    for &d in &digits[at..] {
        out.push(char::from(d));
    }
}

/// Validates a JSON number starting at `i`; returns the index after it.
pub(super) fn scan_number(b: &[u8], i: usize) -> Option<usize> {
    let digits = |mut j: usize| {
        while b.get(j).is_some_and(u8::is_ascii_digit) {
            j += 1;
        }
        j
    };
    let mut j = i + usize::from(b.get(i) == Some(&b'-'));
    match b.get(j)? {
        b'0' => j += 1,
        b'1'..=b'9' => j = digits(j + 1),
        _ => return None,
    }
    if b.get(j) == Some(&b'.') {
        let end = digits(j + 1);
        if end == j + 1 {
            return None;
        }
        j = end;
    }
    if let Some(b'e' | b'E') = b.get(j) {
        j += 1;
        if let Some(b'+' | b'-') = b.get(j) {
            j += 1;
        }
        let end = digits(j);
        if end == j {
            return None;
        }
        j = end;
    }
    Some(j)
}

/// Validates the escape whose backslash is just before `i`; returns the index after it.
pub(super) fn scan_escape(b: &[u8], i: usize) -> Option<usize> {
    match *b.get(i)? {
        b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't' => Some(i + 1),
        b'u' => {
            let unit = hex4(b, i + 1)?;
            match unit {
                0xD800..=0xDBFF => {
                    if b.get(i + 5..i + 7)? != b"\\u" {
                        return None;
                    }
                    matches!(hex4(b, i + 7)?, 0xDC00..=0xDFFF).then_some(i + 11)
                }
                0xDC00..=0xDFFF => None,
                _ => Some(i + 5),
            }
        }
        _ => None,
    }
}

/// The first escape in `rest` whose character `in_names` accepts: `\u` escapes (a surrogate,
/// which could spell any character beyond the BMP, or a malformed escape always counts) and the
/// short ones (`\/`, `\"`, `\\`, `\n`, ...) alike.
pub(super) fn escape_that_may_spell(rest: &[u8], in_names: impl Fn(char) -> bool) -> Option<usize> {
    memchr::memchr_iter(b'\\', rest).find(|&j| match rest.get(j + 1) {
        Some(b'u') => hex4(rest, j + 2).is_none_or(|unit| char::from_u32(unit).is_none_or(&in_names)),
        Some(b'n') => in_names('\n'),
        Some(b't') => in_names('\t'),
        Some(b'r') => in_names('\r'),
        Some(b'b') => in_names('\u{8}'),
        Some(b'f') => in_names('\u{c}'),
        Some(&c) => in_names(char::from(c)),
        None => false,
    })
}

fn hex4(b: &[u8], i: usize) -> Option<u32> {
    b.get(i..i + 4)?
        .iter()
        .try_fold(0u32, |n, &d| Some(n * 16 + char::from(d).to_digit(16)?))
}

/// Appends the unescaped text of a string body; `None` on an invalid escape.
pub(super) fn unescape_into(raw: &str, out: &mut String) -> Option<()> {
    let b = raw.as_bytes();
    let mut i = 0;
    while let Some(offset) = memchr::memchr(b'\\', b.get(i..)?) {
        let slash = i + offset;
        out.push_str(raw.get(i..slash)?);
        let (c, next) = match *b.get(slash + 1)? {
            b'"' => ('"', slash + 2),
            b'\\' => ('\\', slash + 2),
            b'/' => ('/', slash + 2),
            b'b' => ('\u{8}', slash + 2),
            b'f' => ('\u{c}', slash + 2),
            b'n' => ('\n', slash + 2),
            b'r' => ('\r', slash + 2),
            b't' => ('\t', slash + 2),
            b'u' => {
                let unit = hex4(b, slash + 2)?;
                if (0xD800..0xDC00).contains(&unit) {
                    if b.get(slash + 6..slash + 8)? != b"\\u" {
                        return None;
                    }
                    let low = hex4(b, slash + 8)?;
                    if !(0xDC00..0xE000).contains(&low) {
                        return None;
                    }
                    let code = 0x10000 + ((unit - 0xD800) << 10) + (low - 0xDC00);
                    (char::from_u32(code)?, slash + 12)
                } else {
                    (char::from_u32(unit)?, slash + 6)
                }
            }
            _ => return None,
        };
        out.push(c);
        i = next;
    }
    out.push_str(raw.get(i..)?);
    Some(())
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use std::fmt::Write as _;

    use super::{flatten_json, number_value, JsonFlattener, Wanted, MAX_DEPTH, MAX_FIELDS_PER_EVENT};
    use crate::value::Value;

    #[test]
    fn short_decimals_read_as_the_general_parser_reads_them() {
        // Every form the shortcut takes, against str::parse, bit for bit.
        let mut rng = 0x2545_f491_4f6c_dd1d_u64;
        let mut next = || {
            rng ^= rng << 13;
            rng ^= rng >> 7;
            rng ^= rng << 17;
            rng
        };
        for _ in 0..200_000 {
            let whole_len = (next() % 9) as usize;
            let frac_len = 1 + (next() % 8) as usize;
            let digits: String = (0..whole_len + frac_len)
                .map(|_| char::from(b'0' + (next() % 10) as u8))
                .collect();
            let whole = if whole_len == 0 { "0" } else { &digits[..whole_len] };
            let sign = if next() % 4 == 0 { "-" } else { "" };
            let text = format!("{sign}{whole}.{}", &digits[whole_len..]);
            let expected: f64 = text.parse().unwrap();
            match number_value(&text) {
                Value::Num(n) => assert_eq!(n.to_bits(), expected.to_bits(), "{text}"),
                other => panic!("{text}: {other:?}"),
            }
        }
        for text in [
            "0.1",
            "-0.0",
            "123456789012345.0",
            "0.000000000000001",
            "99999999999999.9",
        ] {
            let expected: f64 = text.parse().unwrap();
            match number_value(text) {
                Value::Num(n) => assert_eq!(n.to_bits(), expected.to_bits(), "{text}"),
                other => panic!("{text}: {other:?}"),
            }
        }
    }

    fn fields(line: &str, wanted: &Wanted) -> Option<Vec<(String, Value)>> {
        let mut out = Vec::new();
        let ok = flatten_json(line, wanted, &mut |k, v| out.push((k.to_string(), v)));
        ok.then_some(out)
    }

    /// The fields a line gives whether or not it reads whole.
    fn before_any_break(line: &str) -> Vec<(String, Value)> {
        let mut out = Vec::new();
        flatten_json(line, &Wanted::all(), &mut |k, v| out.push((k.to_string(), v)));
        out
    }

    #[test]
    fn a_line_that_breaks_keeps_the_fields_completed_before_the_break() {
        assert_eq!(before_any_break(r#"{"a":1,"b":tru,"c":2}"#), vec![n("a", 1.0)]);
        assert_eq!(before_any_break(r#"{"a":1}{"b":2}"#), vec![n("a", 1.0)]);
        assert_eq!(before_any_break(r#"{"a":{"b":1,"c":"#), vec![n("a.b", 1.0)]);
        assert_eq!(before_any_break(r#"{"a":12x}"#), vec![n("a", 12.0)]);
        assert_eq!(before_any_break(r#"{"a":"x","a":"y",}"#), vec![s("a", "y")]);
        assert_eq!(before_any_break(r#"{"a":"cut off"#), vec![]);
        assert_eq!(before_any_break("{not json}"), vec![]);
        for line in [r#"{"a":1,"b":tru,"c":2}"#, r#"{"a":1} trailing"#] {
            assert_eq!(all(line), None, "not whole: {line:?}");
        }
    }

    fn all(line: &str) -> Option<Vec<(String, Value)>> {
        fields(line, &Wanted::all())
    }

    fn only(line: &str, keys: &[&str]) -> Option<Vec<(String, Value)>> {
        fields(line, &Wanted::only(keys))
    }

    fn s(k: &str, v: &str) -> (String, Value) {
        (k.to_string(), Value::str(v))
    }

    fn n(k: &str, v: f64) -> (String, Value) {
        (k.to_string(), Value::Num(v))
    }

    #[test]
    fn nested_objects_flatten_with_dots() {
        assert_eq!(
            all(r#"{"a":1,"http":{"userAgent":"curl","tls":{"version":"1.3"}},"b":"x"}"#).unwrap(),
            vec![
                n("a", 1.0),
                s("http.userAgent", "curl"),
                s("http.tls.version", "1.3"),
                s("b", "x")
            ]
        );
    }

    #[test]
    fn arrays_flatten_with_index_segments() {
        assert_eq!(
            all(r#"{"items":[{"instanceId":"i-1"},{"instanceId":"i-2"}],"m":[[1,2],[3]],"e":[]}"#).unwrap(),
            vec![
                s("items.0.instanceId", "i-1"),
                s("items.1.instanceId", "i-2"),
                n("m.0.0", 1.0),
                n("m.0.1", 2.0),
                n("m.1.0", 3.0),
            ]
        );
    }

    #[test]
    fn top_level_at_keys_get_a_second_at_and_nested_ones_do_not() {
        assert_eq!(
            all(r#"{"@level":"WARN","@timestamp":5,"a":{"@b":true},"\u0040c":1}"#).unwrap(),
            vec![
                s("@@level", "WARN"),
                n("@@timestamp", 5.0),
                s("a.@b", "true"),
                n("@@c", 1.0)
            ]
        );
        assert_eq!(
            only(r#"{"@level":"WARN"}"#, &["@@level"]).unwrap(),
            vec![s("@@level", "WARN")]
        );
        assert_eq!(only(r#"{"@level":"WARN"}"#, &["@level"]).unwrap(), vec![]);
    }

    #[test]
    fn strings_are_unescaped_including_surrogate_pairs() {
        assert_eq!(
            all(r#"{"m":"q\"b\\s\/n\nt\tr\rb\bf\f é\u00e9\u20ac\ud83d\ude00 😀"}"#).unwrap(),
            vec![s("m", "q\"b\\s/n\nt\tr\rb\u{8}f\u{c} éé€😀 😀")]
        );
        assert_eq!(all(r#"{"k\"ey":"v"}"#).unwrap(), vec![s("k\"ey", "v")]);
    }

    #[test]
    fn invalid_escapes_are_not_json() {
        for line in [
            r#"{"m":"\x"}"#,
            r#"{"m":"\u12"}"#,
            r#"{"m":"\u12g4"}"#,
            r#"{"m":"\ud800"}"#,
            r#"{"m":"\ud800x"}"#,
            r#"{"m":"\ud800\u0041"}"#,
            r#"{"m":"\udc00"}"#,
            r#"{"m":"\"}"#,
            r#"{"k\q":1}"#,
        ] {
            assert_eq!(all(line), None, "{line}");
            assert_eq!(only(line, &["x"]), None, "{line}");
        }
    }

    #[test]
    fn raw_control_characters_in_strings_are_not_json() {
        assert_eq!(all("{\"m\":\"a\tb\"}"), None);
        assert_eq!(all("{\"m\":\"a\u{1}b\"}"), None);
        assert_eq!(only("{\"m\":\"a\u{1f}b\"}", &["x"]), None);
        assert_eq!(all("{\"m\":\"a\u{7f}b\"}").unwrap(), vec![s("m", "a\u{7f}b")]);
    }

    #[test]
    fn long_strings_are_checked_past_the_word_at_a_time_prefix() {
        let long = "x".repeat(40);
        assert_eq!(all(&format!(r#"{{"m":"{long}"}}"#)).unwrap(), vec![s("m", &long)]);
        assert_eq!(
            all(&format!(r#"{{"m":"{long}\n{long}\"{long}","n":1}}"#)).unwrap(),
            vec![s("m", &format!("{long}\n{long}\"{long}")), n("n", 1.0)]
        );
        for bad in [
            format!("{{\"m\":\"{long}\u{1}{long}\"}}"),
            format!("{{\"m\":\"{long}\t\"}}"),
            format!("{{\"m\":\"{long}\\q\"}}"),
            format!("{{\"m\":\"{long}"),
        ] {
            assert_eq!(all(&bad), None, "{bad:?}");
            assert_eq!(only(&bad, &["x"]), None, "{bad:?}");
        }
    }

    #[test]
    fn numbers_become_numbers() {
        assert_eq!(
            all(r#"{"a":0,"b":-12,"c":2.5,"d":1e3,"e":-1.5E-2,"f":123456789012345678,"g":-0}"#).unwrap(),
            vec![
                n("a", 0.0),
                n("b", -12.0),
                n("c", 2.5),
                n("d", 1000.0),
                n("e", -0.015),
                // Past 2^53 an integer is kept as written (a double would round it).
                s("f", "123456789012345678"),
                n("g", -0.0),
            ]
        );
    }

    #[test]
    fn numbers_beyond_f64_keep_their_text() {
        assert_eq!(all(r#"{"big":1e400}"#).unwrap(), vec![s("big", "1e400")]);
    }

    #[test]
    fn malformed_numbers_are_not_json() {
        for line in [
            r#"{"a":01}"#,
            r#"{"a":1.}"#,
            r#"{"a":.5}"#,
            r#"{"a":+1}"#,
            r#"{"a":-}"#,
            r#"{"a":1e}"#,
            r#"{"a":1e+}"#,
            r#"{"a":0x10}"#,
            r#"{"a":NaN}"#,
            r#"{"a":Infinity}"#,
        ] {
            assert_eq!(all(line), None, "{line}");
        }
    }

    #[test]
    fn booleans_are_strings_and_null_and_empty_containers_are_no_field() {
        assert_eq!(
            all(r#"{"t":true,"f":false,"n":null,"o":{},"l":[],"ln":[null,true]}"#).unwrap(),
            vec![s("t", "true"), s("f", "false"), s("ln.1", "true")]
        );
        assert_eq!(all(r#"{"t":tru}"#), None);
        assert_eq!(all(r#"{"t":nul}"#), None);
    }

    #[test]
    fn whitespace_around_and_inside_is_allowed() {
        assert_eq!(
            all(" \t{ \"a\" : [ 1 , { \"b\" : \"c\" } ] ,\n\"d\":null }\r\n").unwrap(),
            vec![n("a.0", 1.0), s("a.1.b", "c")]
        );
        assert_eq!(all("{}").unwrap(), vec![]);
    }

    #[test]
    fn lines_that_are_not_one_object_are_not_json() {
        for line in [
            "",
            "   ",
            "plain text",
            "[1,2]",
            "\"str\"",
            "42",
            "null",
            "{",
            "{\"a\":1",
            "{\"a\":1}}",
            "{\"a\":1} trailing",
            "{\"a\":1}{\"b\":2}",
            "{\"a\" 1}",
            "{\"a\":1,}",
            "{,}",
            "{\"a\":[1,]}",
            "{\"a\":[1 2]}",
            "{a:1}",
            "{'a':1}",
            "\u{feff}{\"a\":1}",
        ] {
            assert_eq!(all(line), None, "{line:?}");
            assert_eq!(only(line, &["a"]), None, "{line:?}");
        }
    }

    #[test]
    fn repeated_keys_keep_the_last_value_at_the_first_position() {
        assert_eq!(
            all(r#"{"a":1,"b":2,"a":3,"c.d":4,"c":{"d":5}}"#).unwrap(),
            vec![n("a", 3.0), n("b", 2.0), n("c.d", 5.0)]
        );
        assert_eq!(
            only(r#"{"a":1,"b":2,"a":"x"}"#, &["a"]).unwrap(),
            vec![s("a", "x")]
        );
        // Stopping early once the wanted keys are found does not stop before a repeat.
        let early = |line: &str, keys: &[&str]| {
            let wanted =
                Wanted::only(keys).stop_when_found(keys.iter().map(|k| vec![k.to_string()]).collect());
            let mut got = Vec::new();
            let parsed = flatten_json(line, &wanted, &mut |k, v| got.push((k.to_string(), v)));
            parsed.then_some(got)
        };
        for (line, key, value) in [
            (r#"{"a":1,"b":2,"a":"x"}"#, "a", "x"),
            (r#"{"a":1,"b":2,"\u0061":"y"}"#, "a", "y"),
            (r#"{"c":{"d":1},"z":0,"c":{"d":"w"}}"#, "c.d", "w"),
            (r#"{"a":"first","m":"\u003c\u003e","b":2}"#, "a", "first"),
            (
                r#"{"t":0,"a":{"b":{"c":{"d":1}}},"a.b":{"c.d":"2"}}"#,
                "a.b.c.d",
                "2",
            ),
            (r#"{"t":0,"a/b":1,"a\/b":"3"}"#, "a/b", "3"),
        ] {
            assert_eq!(early(line, &[key]), Some(vec![s(key, value)]), "{line}");
        }
    }

    #[test]
    fn at_most_200_leaves_are_kept_in_document_order() {
        let body: Vec<String> = (0..250).map(|i| format!("\"k{i}\":{i}")).collect();
        let line = format!("{{{}}}", body.join(","));
        let got = all(&line).unwrap();
        assert_eq!(got.len(), MAX_FIELDS_PER_EVENT);
        assert_eq!(got[0], n("k0", 0.0));
        assert_eq!(got[199], n("k199", 199.0));
        assert_eq!(only(&line, &["k199", "k200"]).unwrap(), vec![n("k199", 199.0)]);
    }

    #[test]
    fn skipped_subtrees_count_toward_the_200_leaves() {
        let skipped: Vec<String> = (0..199).map(|i| i.to_string()).collect();
        let line = format!(r#"{{"big":[{}],"a":1,"b":2,"n":null}}"#, skipped.join(","));
        assert_eq!(only(&line, &["a", "b"]).unwrap(), vec![n("a", 1.0)]);
        assert_eq!(all(&line).unwrap().last(), Some(&n("a", 1.0)));
    }

    #[test]
    fn nesting_deeper_than_64_is_not_json() {
        let nested = |depth: usize| format!("{}1{}", "{\"a\":".repeat(depth), "}".repeat(depth));
        let key = vec!["a"; MAX_DEPTH].join(".");
        assert_eq!(all(&nested(MAX_DEPTH)).unwrap(), vec![n(&key, 1.0)]);
        assert_eq!(all(&nested(MAX_DEPTH + 1)), None);
        assert_eq!(only(&nested(MAX_DEPTH + 1), &["x"]), None);
        let arrays = format!(
            "{{\"a\":{}{}}}",
            "[".repeat(MAX_DEPTH - 1),
            "]".repeat(MAX_DEPTH - 1)
        );
        assert_eq!(all(&arrays).unwrap(), vec![]);
        let too_deep = format!("{{\"a\":{}{}}}", "[".repeat(MAX_DEPTH), "]".repeat(MAX_DEPTH));
        assert_eq!(all(&too_deep), None);
        // No stack overflow however deep the input goes.
        assert_eq!(all(&format!("{{\"a\":{}", "[".repeat(1_000_000))), None);
        assert_eq!(all(&"{\"a\":".repeat(100_000)), None);
    }

    #[test]
    fn only_emits_wanted_fields() {
        let line = r#"{"level":"INFO","message":"hi \"there\"","status":200,"http":{"userAgent":"curl","clientIp":"1.2.3.4"},"items":[{"id":"x"},{"id":"y"}]}"#;
        assert_eq!(
            only(
                line,
                &["status", "http.clientIp", "items.1.id", "missing", "http"]
            )
            .unwrap(),
            vec![
                n("status", 200.0),
                s("http.clientIp", "1.2.3.4"),
                s("items.1.id", "y")
            ]
        );
        assert_eq!(only(line, &[]).unwrap(), vec![]);
    }

    #[test]
    fn only_still_validates_the_whole_line_before_emitting() {
        // Wanted field first, broken JSON after it.
        assert_eq!(only(r#"{"a":1,"b":"x\q"}"#, &["a"]), None);
        // Broken JSON inside a subtree that is skipped.
        assert_eq!(only(r#"{"a":1,"skip":{"x":[1,2,}]}}"#, &["a"]), None);
        assert_eq!(only(r#"{"a":1,"skip":{"x":"\ud800"}}"#, &["a"]), None);
        assert_eq!(only(r#"{"a":1,"skip":{"x":01}}"#, &["a"]), None);
        assert_eq!(only(r#"{"a":1,"skip":{"x":1}} x"#, &["a"]), None);
    }

    #[test]
    fn only_matches_escaped_keys_by_their_unescaped_name() {
        assert_eq!(
            only(r#"{"a\u002eb":1,"c\"d":2}"#, &["a.b", "c\"d"]).unwrap(),
            vec![n("a.b", 1.0), n("c\"d", 2.0)]
        );
        assert_eq!(
            only(r#"{"a":{"b\/c":1}}"#, &["a.b/c"]).unwrap(),
            vec![n("a.b/c", 1.0)]
        );
    }

    #[test]
    fn only_with_many_keys_uses_the_hashed_lookup() {
        let keys: Vec<String> = (0..50).map(|i| format!("k{i}")).collect();
        let wanted = Wanted::only(&keys);
        let got = fields(r#"{"k3":1,"x":2,"k49":{"y":3},"k10":"z"}"#, &wanted).unwrap();
        assert_eq!(got, vec![n("k3", 1.0), s("k10", "z")]);
        let set: HashSet<String> = keys.into_iter().chain(["k49.y".to_string()]).collect();
        let got = fields(r#"{"k3":1,"x":2,"k49":{"y":3}}"#, &Wanted::from(&set)).unwrap();
        assert_eq!(got, vec![n("k3", 1.0), n("k49.y", 3.0)]);
    }

    #[test]
    fn wanted_reports_what_it_wants() {
        assert!(Wanted::all().is_all());
        assert!(Wanted::all().wants("anything"));
        let w = Wanted::only(["a.b", "c"]);
        assert!(!w.is_all());
        assert!(w.wants("a.b") && w.wants("c"));
        assert!(!w.wants("a"));
    }

    #[test]
    fn flatten_json_may_be_called_from_inside_emit() {
        let mut inner = Vec::new();
        let ok = flatten_json(r#"{"json":"{\"x\":1}"}"#, &Wanted::all(), &mut |_, v| {
            let text = v.to_string();
            assert!(flatten_json(&text, &Wanted::all(), &mut |k, v| inner.push((k.to_string(), v))));
        });
        assert!(ok);
        assert_eq!(inner, vec![n("x", 1.0)]);
    }

    #[test]
    fn a_kept_flattener_gives_the_same_fields_line_after_line() {
        let mut flattener = JsonFlattener::new();
        let wanted = Wanted::only(["a", "b.c"]);
        for _ in 0..3 {
            let mut out = Vec::new();
            assert!(
                flattener.flatten(r#"{"a":"x\ty","b":{"c":[1]},"b.c":2}"#, &wanted, &mut |k, v| {
                    out.push((k.to_string(), v));
                })
            );
            assert_eq!(out, vec![s("a", "x\ty"), n("b.c", 2.0)]);
            let mut cut = Vec::new();
            assert!(!flattener.flatten(r#"{"a":1"#, &wanted, &mut |k, v| cut.push((k.to_string(), v))));
            assert_eq!(cut, vec![n("a", 1.0)], "the field before the break");
        }
    }

    #[test]
    fn long_lines_scan_in_linear_time() {
        // Quadratic behaviour in any of these would take minutes, not milliseconds.
        let long_string = format!(
            r#"{{"m":"{}","e":"{}"}}"#,
            "x".repeat(8 << 20),
            "\\n".repeat(1 << 20)
        );
        let got = all(&long_string).unwrap();
        assert_eq!(got[0].1.to_string().len(), 8 << 20);
        assert_eq!(got[1].1.to_string().len(), 1 << 20);
        let many_keys: Vec<String> = (0..200_000).map(|i| format!("\"k{}\":{i}", i % 7)).collect();
        let line = format!("{{{}}}", many_keys.join(","));
        assert_eq!(all(&line).unwrap().len(), 7);
        let long_array = format!("{{\"a\":[{}1]}}", "1,".repeat(1 << 20));
        assert_eq!(all(&long_array).unwrap().len(), MAX_FIELDS_PER_EVENT);
        assert_eq!(only(&long_array, &["a.1048576"]).unwrap(), vec![]);
        let long_key = format!("{{\"{}\":{{\"b\":1}}}}", "k".repeat(4 << 20));
        assert_eq!(all(&long_key).unwrap().len(), 1);
    }

    use crate::test_rng::Rng;

    const CHARS: &[char] = &[
        'a',
        'b',
        'z',
        'Z',
        '0',
        '.',
        '@',
        '"',
        '\\',
        '/',
        ' ',
        '\n',
        '\t',
        '\u{1}',
        '\u{1f}',
        '\u{7f}',
        'é',
        '€',
        '\u{2028}',
        '\u{ffff}',
        '😀',
        '\u{10ffff}',
    ];

    fn gen_string(rng: &mut Rng, max_len: usize) -> String {
        // Now and then a long one, past the word-at-a-time prefix of the string scanner.
        let max_len = if rng.below(10) == 0 { max_len * 10 } else { max_len };
        let len = rng.below(max_len + 1);
        (0..len).map(|_| rng.pick(CHARS)).collect()
    }

    fn gen_key(rng: &mut Rng) -> String {
        match rng.below(8) {
            0 => format!("@{}", gen_string(rng, 3)),
            1 => gen_string(rng, 4),
            _ => ["a", "b", "c", "id", "http", "user", "x.y"][rng.below(7)].to_string(),
        }
    }

    fn gen_number(rng: &mut Rng) -> serde_json::Value {
        match rng.below(5) {
            0 => serde_json::Value::from(rng.below(1000) as i64 - 500),
            1 => serde_json::Value::from(rng.next() as i64),
            2 => serde_json::Value::from(rng.next()),
            3 => serde_json::Value::from((rng.below(100_000) as f64 - 50_000.0) / 64.0),
            _ => {
                let f = f64::from_bits(rng.next());
                if f.is_finite() {
                    serde_json::Value::from(f)
                } else {
                    serde_json::Value::from(0.5)
                }
            }
        }
    }

    fn gen_value(rng: &mut Rng, depth: usize) -> serde_json::Value {
        use serde_json::Value as J;
        let kinds = if depth >= 5 { 5 } else { 8 };
        match rng.below(kinds) {
            0 => J::Null,
            1 => J::Bool(rng.below(2) == 0),
            2 => gen_number(rng),
            3 | 4 => J::String(gen_string(rng, 8)),
            5 => J::Array((0..rng.below(5)).map(|_| gen_value(rng, depth + 1)).collect()),
            _ => gen_object(rng, depth + 1, 6),
        }
    }

    fn gen_object(rng: &mut Rng, depth: usize, max_keys: usize) -> serde_json::Value {
        let mut map = serde_json::Map::new();
        for _ in 0..rng.below(max_keys + 1) {
            map.insert(gen_key(rng), gen_value(rng, depth));
        }
        serde_json::Value::Object(map)
    }

    fn gen_line(rng: &mut Rng) -> serde_json::Value {
        if rng.below(20) == 0 {
            // Wide objects exercise the 200-leaf cap.
            let mut map = serde_json::Map::new();
            for i in 0..150 + rng.below(150) {
                map.insert(format!("k{i}"), gen_value(rng, 4));
            }
            serde_json::Value::Object(map)
        } else {
            gen_object(rng, 1, 8)
        }
    }

    /// JSON text of `v` with random whitespace and random (valid) escapes.
    fn write_json(v: &serde_json::Value, rng: &mut Rng, out: &mut String) {
        use serde_json::Value as J;
        let ws = |rng: &mut Rng, out: &mut String| {
            if rng.below(6) == 0 {
                out.push_str([" ", "\n", "\t ", "\r\n  "][rng.below(4)]);
            }
        };
        ws(rng, out);
        match v {
            J::Null | J::Bool(_) | J::Number(_) => out.push_str(&v.to_string()),
            J::String(text) => write_string(text, rng, out),
            J::Array(items) => {
                out.push('[');
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    write_json(item, rng, out);
                }
                ws(rng, out);
                out.push(']');
            }
            J::Object(map) => {
                out.push('{');
                for (i, (k, item)) in map.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    ws(rng, out);
                    write_string(k, rng, out);
                    ws(rng, out);
                    out.push(':');
                    write_json(item, rng, out);
                }
                ws(rng, out);
                out.push('}');
            }
        }
        ws(rng, out);
    }

    fn write_string(text: &str, rng: &mut Rng, out: &mut String) {
        out.push('"');
        for c in text.chars() {
            let short = match c {
                '"' => Some("\\\""),
                '\\' => Some("\\\\"),
                '\n' => Some("\\n"),
                '\t' => Some("\\t"),
                '/' if rng.below(2) == 0 => Some("\\/"),
                _ => None,
            };
            let must_escape = c < ' ' || c == '"' || c == '\\';
            if let Some(escape) = short.filter(|_| must_escape || rng.below(2) == 0) {
                out.push_str(escape);
            } else if must_escape || rng.below(4) == 0 {
                let mut units = [0u16; 2];
                for unit in c.encode_utf16(&mut units) {
                    if rng.below(2) == 0 {
                        write!(out, "\\u{unit:04x}").unwrap();
                    } else {
                        write!(out, "\\u{unit:04X}").unwrap();
                    }
                }
            } else {
                out.push(c);
            }
        }
        out.push('"');
    }

    /// The flattening rules, written the obvious way over serde_json's tree.
    fn reference(v: &serde_json::Value) -> Vec<(String, Value)> {
        fn walk(
            v: &serde_json::Value,
            path: &str,
            top: bool,
            leaves: &mut usize,
            out: &mut Vec<(String, Value)>,
        ) {
            use serde_json::Value as J;
            let value = match v {
                J::Null => return,
                J::Object(map) => {
                    for (k, child) in map {
                        let child_path = match (top, k.starts_with('@')) {
                            (true, true) => format!("@{k}"),
                            (true, false) => k.clone(),
                            (false, _) => format!("{path}.{k}"),
                        };
                        walk(child, &child_path, false, leaves, out);
                    }
                    return;
                }
                J::Array(items) => {
                    for (i, child) in items.iter().enumerate() {
                        walk(child, &format!("{path}.{i}"), false, leaves, out);
                    }
                    return;
                }
                J::Bool(b) => Value::str(b.to_string()),
                J::Number(num) if crate::value::beyond_exact_double(num) => Value::str(num.to_string()),
                J::Number(num) => Value::Num(num.as_f64().unwrap()),
                J::String(text) => Value::str(text.as_str()),
            };
            *leaves += 1;
            if *leaves > super::MAX_FIELDS_PER_EVENT {
                return;
            }
            match out.iter_mut().find(|(k, _)| k == path) {
                Some(earlier) => earlier.1 = value,
                None => out.push((path.to_string(), value)),
            }
        }
        let mut out = Vec::new();
        walk(v, "", true, &mut 0, &mut out);
        out
    }

    #[test]
    fn random_json_flattens_like_the_reference() {
        let mut rng = Rng(0x5eed);
        for case in 0..3000 {
            let doc = gen_line(&mut rng);
            let mut line = String::new();
            write_json(&doc, &mut rng, &mut line);
            // (Not compared with serde_json's own parse: without `float_roundtrip` it may be
            // off by an ulp; the reference reads the generated tree instead.)
            let expected = reference(&doc);
            assert_eq!(all(&line).as_ref(), Some(&expected), "case {case}: {line}");

            // A random wanted set: some present keys, some container paths, some strangers.
            let mut keys: Vec<String> = expected
                .iter()
                .filter(|_| rng.below(3) == 0)
                .map(|(k, _)| k.clone())
                .collect();
            if let Some((k, _)) = expected.first() {
                if let Some(dot) = k.rfind('.') {
                    keys.push(k[..dot].to_string());
                }
            }
            keys.push(gen_key(&mut rng));
            let wanted: HashSet<String> = keys.into_iter().collect();
            let expected_only: Vec<_> = expected
                .iter()
                .filter(|(k, _)| wanted.contains(k))
                .cloned()
                .collect();
            assert_eq!(
                fields(&line, &Wanted::from(&wanted)),
                Some(expected_only),
                "case {case}: {line} wanted {wanted:?}"
            );
        }
    }

    #[test]
    fn random_mutations_never_panic_and_agree_with_serde_on_validity() {
        const NOISE: &[char] = &[
            '{', '}', '[', ']', '"', '\\', ',', ':', '0', '1', '-', '+', 'e', '.', 'u', 'd', '8', 'n', 't',
            ' ', '\u{1}', 'é', '😀',
        ];
        let mut rng = Rng(0xbad_5eed);
        let wanted = Wanted::only(["a", "b.c", "@@a", "x.y", "id"]);
        let cases = 20_000;
        let mut valid = 0;
        for case in 0..cases {
            let doc = gen_object(&mut rng, 1, 6);
            let mut line = String::new();
            write_json(&doc, &mut rng, &mut line);
            let mut chars: Vec<char> = line.chars().collect();
            for _ in 0..=rng.below(3) {
                let at = rng.below(chars.len() + 1);
                match rng.below(4) {
                    0 if at < chars.len() => {
                        chars.remove(at);
                    }
                    1 => chars.insert(at, rng.pick(NOISE)),
                    2 if at < chars.len() => chars[at] = rng.pick(NOISE),
                    _ => chars.truncate(at),
                }
            }
            let line: String = chars.into_iter().collect();
            let ours = all(&line).is_some();
            valid += usize::from(ours);
            assert_eq!(fields(&line, &wanted).is_some(), ours, "case {case}: {line}");
            match serde_json::from_str::<serde_json::Value>(&line) {
                Ok(v) => assert_eq!(ours, v.is_object(), "case {case}: {line}"),
                // serde_json rejects numbers beyond f64; we keep their text.
                Err(e) if e.to_string().contains("out of range") => {}
                Err(e) => assert!(!ours, "case {case}: serde says {e}: {line}"),
            }
        }
        // Both outcomes must be common, or the test proves little.
        assert!(
            valid > cases / 20 && valid < cases - cases / 20,
            "{valid} of {cases} valid"
        );
    }

    /// Lines shaped like the benchmark data (bench/RESULTS.md "Data"): compact JSON, fixed key
    /// order, ~380 bytes on average, `http` on about half, `error` with an escaped multi-line
    /// stack on some ERROR lines, `job` lines without HTTP fields, some escaped quotes.
    fn bench_lines(count: usize) -> Vec<String> {
        const STACK: &str = r"TimeoutError: upstream timed out\n    at Client.request (client.js:120:15)\n    at async Handler.run (handler.js:42:9)";
        let mut rng = Rng(42);
        let levels = [
            "INFO", "INFO", "INFO", "INFO", "INFO", "INFO", "INFO", "INFO", "WARN", "DEBUG", "ERROR",
        ];
        let services = [
            "orders", "payments", "users", "search", "cart", "auth", "catalog", "shipping", "email",
            "gateway",
        ];
        let messages = [
            "request completed",
            r#"order {} shipped to \"warehouse-3\""#,
            "cache miss for key user:{}:profile",
            "payment {} authorised after 3 retries",
            "slow query on table orders (took {} ms)",
            "user {} logged in from new device",
        ];
        let mut lines = Vec::with_capacity(count);
        for i in 0..count {
            let level = rng.pick(&levels);
            let service = rng.pick(&services);
            let id = rng.below(100_000);
            let message = rng.pick(&messages).replace("{}", &id.to_string());
            let (minute, second, ms) = ((i / 60) % 60, i % 60, (i * 27) % 1000);
            let mut line = String::new();
            write!(
                line,
                r#"{{"timestamp":"2024-03-01T00:{minute:02}:{second:02}.{ms:03}Z""#
            )
            .unwrap();
            write!(line, r#","level":"{level}","message":"{message}""#).unwrap();
            let (a, b) = (rng.next() as u32, rng.next() & 0xffff_ffff_ffff);
            write!(line, r#","requestId":"{a:08x}-ceea-467f-a8b3-{b:012x}""#).unwrap();
            if rng.below(10) > 0 {
                write!(line, r#","userId":"user-{}""#, rng.below(100_000)).unwrap();
            }
            let host = rng.next() & 0xfffff;
            if rng.below(25) == 0 {
                write!(line, r#","job":"reindex-{id}","service":"{service}""#).unwrap();
                write!(line, r#","host":"{service}-worker-{host:05x}"}}"#).unwrap();
                lines.push(line);
                continue;
            }
            let status = match level {
                "ERROR" => 500,
                "WARN" => 404,
                _ => 200,
            };
            let method = rng.pick(&["GET", "GET", "POST", "PUT", "DELETE"]);
            let latency = rng.below(2000);
            write!(line, r#","method":"{method}","path":"/api/v1/{service}/{id}""#).unwrap();
            write!(
                line,
                r#","status":{status},"latencyMs":{latency},"service":"{service}""#
            )
            .unwrap();
            write!(line, r#","host":"{service}-7d9f8c6b5-{host:05x}""#).unwrap();
            if rng.below(100) < 55 {
                let (chrome, c, d) = (100 + rng.below(25), rng.below(256), rng.below(256));
                write!(
                    line,
                    r#","http":{{"userAgent":"Mozilla/5.0 (X11; Linux x86_64) Chrome/{chrome}.0""#
                )
                .unwrap();
                write!(line, r#","clientIp":"203.0.{c}.{d}"}}"#).unwrap();
            }
            if level == "ERROR" && rng.below(10) < 7 {
                write!(line, r#","error":{{"type":"TimeoutError","stack":"{STACK}"}}"#).unwrap();
            }
            line.push('}');
            lines.push(line);
        }
        lines
    }

    /// `cargo test -p skywatch-query --release -- --ignored --nocapture flatten_throughput`
    /// (`FLATTEN_CASE=<part of a case name>` runs one case, `FLATTEN_ROUNDS=<n>` sets the rounds).
    /// Reports the best of several rounds, which filters out the noise of a shared machine.
    #[test]
    #[ignore = "timing; run in release"]
    fn flatten_throughput() {
        let lines = bench_lines(10_000);
        let bytes: usize = lines.iter().map(String::len).sum();
        println!(
            "{} lines, {} bytes/line on average",
            lines.len(),
            bytes / lines.len()
        );
        let cases = [
            (
                "only 5 top-level keys",
                Wanted::only(["timestamp", "level", "status", "latencyMs", "service"]),
            ),
            (
                "only 5 keys incl. http.clientIp",
                Wanted::only(["timestamp", "level", "status", "latencyMs", "http.clientIp"]),
            ),
            ("all", Wanted::all()),
            ("validate only", Wanted::only([""; 0])),
        ];
        let rounds: usize = std::env::var("FLATTEN_ROUNDS").map_or(40, |n| n.parse().unwrap());
        let pick = std::env::var("FLATTEN_CASE").ok();
        for (name, wanted) in cases
            .iter()
            .filter(|(name, _)| pick.as_deref().is_none_or(|p| name.contains(p)))
        {
            let mut flattener = JsonFlattener::new();
            let mut emitted = 0usize;
            let mut best = f64::MAX;
            for _ in 0..rounds {
                let start = std::time::Instant::now();
                for line in &lines {
                    assert!(
                        flattener.flatten(std::hint::black_box(line), wanted, &mut |_, v| {
                            emitted += usize::from(!matches!(v, Value::List(_)));
                        })
                    );
                }
                best = best.min(start.elapsed().as_secs_f64());
            }
            println!(
                "{name}: {:.0} MB/s ({:.0} ns/line), {:.1} fields/line",
                bytes as f64 / 1e6 / best,
                best * 1e9 / lines.len() as f64,
                emitted as f64 / (rounds * lines.len()) as f64
            );
        }
        if std::env::var_os("FLATTEN_SERDE").is_some() {
            let start = std::time::Instant::now();
            for line in &lines {
                let v: serde_json::Value = serde_json::from_str(std::hint::black_box(line)).unwrap();
                std::hint::black_box(v);
            }
            println!(
                "serde_json::Value for comparison: {:.0} ns/line",
                start.elapsed().as_secs_f64() * 1e9 / lines.len() as f64
            );
        }
    }
}
