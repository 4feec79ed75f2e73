//! A sort's rows beyond its memory budget, on disk: a sort that must hold every row (nothing
//! after it limits how many it hands on) writes its rows, sorted, to a run (see
//! [`super::spill`]) once they take more than its share, and merges the runs at the end — the
//! rows come out in the order the in-memory sort gives (sort keys, then arrival).
//!
//! A record is the sort keys, the arrival number and the row's values.

use std::cmp::Ordering;
use std::io;

use crate::exec::encoding::{put_u64, put_value, Reader};
use crate::exec::natural_order::cmp_nulls_last;
use crate::exec::spill::{damaged, Run, RunReader, RunWriter, MAX_RUNS};
use crate::value::Value;

/// A held row: sort keys, arrival number, values.
pub type HeldRow = (Vec<Option<Value>>, u64, Vec<Option<Value>>);

/// About the bytes a held row takes.
pub fn held_bytes(keys: &[Option<Value>], row: &[Option<Value>]) -> usize {
    let heap = |v: &Option<Value>| match v {
        Some(Value::Str(s)) if s.len() > 22 => s.len() + 16,
        Some(other @ (Value::List(_) | Value::Map(_))) => other.to_string().len() * 2,
        _ => 0,
    };
    64 + (keys.len() + row.len()) * std::mem::size_of::<Option<Value>>()
        + keys.iter().map(heap).sum::<usize>()
        + row.iter().map(heap).sum::<usize>()
}

/// The order of held rows: their sort keys (each ascending or descending), then arrival.
pub fn held_order(a: &HeldRow, b: &HeldRow, descending: &[bool]) -> Ordering {
    for (i, desc) in descending.iter().enumerate() {
        let o = cmp_nulls_last(a.0[i].as_ref(), b.0[i].as_ref(), *desc);
        if o.is_ne() {
            return o;
        }
    }
    a.1.cmp(&b.1)
}

/// Sorts `rows` and writes them to a new run, leaving `rows` empty.
pub fn spill_rows(rows: &mut Vec<HeldRow>, descending: &[bool]) -> io::Result<Run> {
    rows.sort_by(|a, b| held_order(a, b, descending));
    let mut writer = RunWriter::create()?;
    let mut record = Vec::new();
    for (keys, seq, row) in rows.drain(..) {
        record.clear();
        encode(&mut record, &keys, seq, &row);
        writer.push_record(&record)?;
    }
    *rows = Vec::new();
    writer.finish()
}

fn encode(out: &mut Vec<u8>, keys: &[Option<Value>], seq: u64, row: &[Option<Value>]) {
    for k in keys {
        put_value(out, k.as_ref());
    }
    put_u64(out, seq);
    put_u64(out, row.len() as u64);
    for v in row {
        put_value(out, v.as_ref());
    }
}

fn decode(record: &[u8], width: usize) -> io::Result<HeldRow> {
    let mut reader = Reader::new(record);
    let mut keys = Vec::with_capacity(width);
    for _ in 0..width {
        keys.push(reader.value().ok_or_else(damaged)?);
    }
    let seq = reader.u64().ok_or_else(damaged)?;
    let n = reader.u64().ok_or_else(damaged)?;
    let mut row = Vec::new();
    for _ in 0..n {
        row.push(reader.value().ok_or_else(damaged)?);
    }
    Ok((keys, seq, row))
}

/// `runs` merged into one (to keep few files open).
pub fn compact(runs: Vec<Run>, descending: &[bool]) -> io::Result<Run> {
    let mut writer = RunWriter::create()?;
    let mut record = Vec::new();
    let mut failed = None;
    merge(runs, descending, &mut |(keys, seq, row)| {
        if failed.is_none() {
            record.clear();
            encode(&mut record, &keys, seq, &row);
            if let Err(e) = writer.push_record(&record) {
                failed = Some(e);
            }
        }
    })?;
    match failed {
        Some(e) => Err(e),
        None => writer.finish(),
    }
}

/// Adds `run` to `runs`; when there are too many, the newest half (the smaller runs) are
/// merged into one, so each row is rewritten a few times at most, not at every compaction.
pub fn keep_run(runs: &mut Vec<Run>, run: Run, descending: &[bool]) -> io::Result<()> {
    runs.push(run);
    if runs.len() >= MAX_RUNS {
        let newest = runs.split_off(runs.len() - MAX_RUNS / 2);
        runs.push(compact(newest, descending)?);
    }
    Ok(())
}

/// The rows of `runs` in order, one at a time.
pub fn merge(runs: Vec<Run>, descending: &[bool], each: &mut dyn FnMut(HeldRow)) -> io::Result<()> {
    let width = descending.len();
    let mut readers: Vec<RunReader> = runs.into_iter().map(RunReader::open).collect();
    let mut heads: Vec<Option<HeldRow>> = Vec::with_capacity(readers.len());
    for reader in &mut readers {
        heads.push(reader.next_record()?.map(|r| decode(&r, width)).transpose()?);
    }
    loop {
        let mut best: Option<usize> = None;
        for (i, head) in heads.iter().enumerate() {
            let Some(row) = head else { continue };
            let better = match best.and_then(|b| heads[b].as_ref()) {
                None => true,
                Some(current) => held_order(row, current, descending) == Ordering::Less,
            };
            if better {
                best = Some(i);
            }
        }
        let Some(i) = best else { return Ok(()) };
        let Some(row) = heads[i].take() else { return Ok(()) };
        heads[i] = readers[i].next_record()?.map(|r| decode(&r, width)).transpose()?;
        each(row);
    }
}

#[cfg(test)]
mod tests {
    use super::{held_order, keep_run, merge, spill_rows, HeldRow};
    use crate::value::Value;

    #[test]
    fn rows_spilled_in_several_runs_come_back_in_the_sorts_order() {
        let descending = [true];
        let mut all: Vec<HeldRow> = (0..5000u64)
            .map(|i| {
                let key = Some(Value::Num(((i * 7919) % 613) as f64));
                (vec![key], i, vec![Some(Value::str(format!("row {i}"))), None])
            })
            .collect();
        let mut runs = Vec::new();
        for chunk in all.chunks(137) {
            let mut rows = chunk.to_vec();
            let run = spill_rows(&mut rows, &descending).unwrap();
            keep_run(&mut runs, run, &descending).unwrap();
            assert!(rows.is_empty());
        }
        assert!(runs.len() < super::MAX_RUNS, "compacted: {}", runs.len());
        let mut merged = Vec::new();
        merge(runs, &descending, &mut |row| merged.push(row)).unwrap();
        all.sort_by(|a, b| held_order(a, b, &descending));
        assert_eq!(merged, all);
    }
}
