//! A stats stage's groups beyond its memory budget, on disk: each spill writes the table's
//! groups, sorted in the order stats results come out in, to a run file of its own (an unnamed
//! file in the temporary directory, `TMPDIR`: gone however the process ends), and empties the
//! table. At the end the
//! runs and what is still in memory are merged in that order, groups with the same key folded
//! together — so the rows, and everything after them, are the ones the in-memory path gives,
//! while memory holds a record per run.
//!
//! A record is its length, then the key's values and the aggregates' states
//! ([`super::encoding`], [`AggState::encode`]).

use std::cmp::Ordering;
use std::fs::File;
use std::io::{self, BufReader, BufWriter, Read, Seek, Write};

use crate::exec::aggregate_state::AggState;
use crate::exec::encoding::{put_value, Reader};
use crate::exec::groups::{key_order, same_key};
use crate::plan::aggregate::AggKind;
use crate::value::Value;

/// One group as spilled: its key and its aggregates' states.
pub type SpilledGroup = (Vec<Option<Value>>, Vec<AggState>);

/// A run file: sorted groups, in an unnamed file (closing it frees its space).
#[derive(Debug)]
pub struct Run {
    file: File,
}

/// The most a record may say it holds (a larger length is damage, not a record).
const MAX_RECORD_BYTES: usize = 1 << 30;

/// Runs kept at most: past it they are merged into one (so a small budget over a large input
/// neither holds thousands of files open nor compares thousands of heads per group).
pub const MAX_RUNS: usize = 32;

/// A run being written, group by group in key order.
pub struct RunWriter {
    out: BufWriter<File>,
    record: Vec<u8>,
}

impl RunWriter {
    pub fn create() -> io::Result<RunWriter> {
        Ok(RunWriter {
            out: BufWriter::with_capacity(1 << 16, tempfile::tempfile()?),
            record: Vec::new(),
        })
    }

    /// Writes one record as it is.
    pub fn push_record(&mut self, record: &[u8]) -> io::Result<()> {
        self.out.write_all(&(record.len() as u64).to_le_bytes())?;
        self.out.write_all(record)
    }

    pub fn push(&mut self, key: &[Option<Value>], states: &[AggState]) -> io::Result<()> {
        self.record.clear();
        for value in key {
            put_value(&mut self.record, value.as_ref());
        }
        for state in states {
            state.encode(&mut self.record);
        }
        self.out.write_all(&(self.record.len() as u64).to_le_bytes())?;
        self.out.write_all(&self.record)
    }

    pub fn finish(self) -> io::Result<Run> {
        let mut file = self.out.into_inner().map_err(io::IntoInnerError::into_error)?;
        file.rewind()?;
        Ok(Run { file })
    }
}

/// Writes `groups` (already in key order) to a new run file.
pub fn write_run<'g>(groups: impl Iterator<Item = (&'g [Option<Value>], &'g [AggState])>) -> io::Result<Run> {
    let mut writer = RunWriter::create()?;
    for (key, states) in groups {
        writer.push(key, states)?;
    }
    writer.finish()
}

/// `runs` merged into one.
pub fn compact(runs: Vec<Run>, width: usize, kinds: &[AggKind]) -> io::Result<Run> {
    let mut writer = RunWriter::create()?;
    let mut failed = None;
    merge_runs(runs, width, kinds, &mut |(key, states)| {
        if failed.is_none() {
            if let Err(e) = writer.push(&key, &states) {
                failed = Some(e);
            }
        }
    })?;
    match failed {
        Some(e) => Err(e),
        None => writer.finish(),
    }
}

/// A record read but not decoded past its key: the key, and its states' bytes.
type Head = (Vec<Option<Value>>, Vec<u8>);

/// Reads a run's records in order.
pub struct RunReader {
    input: BufReader<File>,
}

impl RunReader {
    pub fn open(run: Run) -> RunReader {
        RunReader {
            input: BufReader::with_capacity(1 << 16, run.file),
        }
    }

    /// The next record's key and state bytes.
    fn next(&mut self, width: usize) -> io::Result<Option<Head>> {
        let Some(record) = self.next_record()? else {
            return Ok(None);
        };
        let mut reader = Reader::new(&record);
        let mut key = Vec::with_capacity(width);
        for _ in 0..width {
            key.push(reader.value().ok_or_else(damaged)?);
        }
        let states = reader.remaining().to_vec();
        Ok(Some((key, states)))
    }

    /// The next record's bytes, or `None` at the end of the run.
    pub fn next_record(&mut self) -> io::Result<Option<Vec<u8>>> {
        let mut len = [0u8; 8];
        let mut got = 0;
        while got < len.len() {
            match self.input.read(&mut len[got..]) {
                Ok(0) if got == 0 => return Ok(None),
                // A length cut short: the file is damaged, not at its end.
                Ok(0) => return Err(damaged()),
                Ok(n) => got += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        let len = usize::try_from(u64::from_le_bytes(len))
            .ok()
            .filter(|&len| len <= MAX_RECORD_BYTES)
            .ok_or_else(damaged)?;
        let mut record = vec![0u8; len];
        self.input.read_exact(&mut record)?;
        Ok(Some(record))
    }
}

pub fn damaged() -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, "a spill file of this run is damaged")
}

fn decode_states(bytes: &[u8], kinds: &[AggKind]) -> io::Result<Vec<AggState>> {
    let mut reader = Reader::new(bytes);
    kinds
        .iter()
        .map(|kind| AggState::decode(*kind, &mut reader).ok_or_else(damaged))
        .collect()
}

/// The groups of `runs`, merged in key order (groups with the same key in several runs folded
/// into one), handed to `each` one at a time.
pub fn merge_runs(
    runs: Vec<Run>,
    width: usize,
    kinds: &[AggKind],
    each: &mut dyn FnMut(SpilledGroup),
) -> io::Result<()> {
    let mut readers: Vec<RunReader> = runs.into_iter().map(RunReader::open).collect();
    let mut heads = Vec::with_capacity(readers.len());
    for reader in &mut readers {
        heads.push(reader.next(width)?);
    }
    loop {
        // The smallest key among the heads (few runs: a scan is enough).
        let mut best: Option<usize> = None;
        for (i, head) in heads.iter().enumerate() {
            let Some((key, _)) = head else { continue };
            let better = match best.and_then(|b| heads[b].as_ref()) {
                None => true,
                Some((best_key, _)) => key_order(key, best_key) == Ordering::Less,
            };
            if better {
                best = Some(i);
            }
        }
        let Some(first) = best else { return Ok(()) };
        let Some((key, bytes)) = heads[first].take() else {
            return Ok(());
        };
        let mut states = decode_states(&bytes, kinds)?;
        heads[first] = readers[first].next(width)?;
        for i in 0..heads.len() {
            // A run holds each key once; others may hold it too.
            while let Some((other, more)) = &heads[i] {
                if !same_key(other, &key) {
                    break;
                }
                for (mine, theirs) in states.iter_mut().zip(decode_states(more, kinds)?) {
                    mine.merge(theirs);
                }
                heads[i] = readers[i].next(width)?;
            }
        }
        each((key, states));
    }
}
