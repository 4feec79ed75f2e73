//! Handing work to the workers: pieces of plain files as they are, streams (stdin, compressed
//! files, small files) read and cut into chunks of whole lines on a thread of their own, so a
//! stream is decoded on one core while the query runs on the others.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc::{sync_channel, Receiver, SyncSender};
use std::sync::Mutex;

use crate::exec::work::{Item, Worker, LOOKBACK_BYTES};
use crate::exec::ExecError;
use crate::input::{self, Chunk, Chunker, InputError, Source, SourceKind};

/// Units waiting per worker: bounds the memory held in chunks.
const QUEUED_PER_WORKER: usize = 2;

enum Unit<'i> {
    Piece(&'i Item),
    Chunk(usize, Chunk),
}

/// Runs `workers` workers over `items` and returns them, in no particular order, once the
/// input is read (or a worker's query needs no more of it), with the streams that could not be
/// read to their end. A stream that fails (a truncated or corrupt compressed file, a pipe that
/// errs) does not stop the run: the events read before the damage count, the rest of the
/// inputs are read, and the failure is returned for the caller to name.
pub fn run_workers<'a>(
    items: &[Item],
    sources: &[Source],
    workers: usize,
    (timestamp_needed, chunk_bytes): (bool, Option<usize>),
    new_worker: &(dyn Fn() -> Worker<'a> + Sync),
) -> Result<(Vec<Worker<'a>>, Vec<InputError>), ExecError> {
    let workers = workers.max(1);
    let (tx, rx) = sync_channel::<(usize, Unit<'_>)>(workers * QUEUED_PER_WORKER);
    let queue = Mutex::new(Some(rx));
    let live = AtomicUsize::new(workers);
    let stop = AtomicBool::new(false);
    let lookback = if timestamp_needed {
        usize::try_from(LOOKBACK_BYTES).unwrap_or(0)
    } else {
        0
    };
    std::thread::scope(|scope| {
        // The feeder owns the sender: when it is done, the queue ends for the workers.
        let stop_flag = &stop;
        let feeder = scope.spawn(move || feed(items, sources, (lookback, chunk_bytes), &tx, stop_flag));
        let handles: Vec<_> = (0..workers)
            .map(|_| {
                scope.spawn(|| {
                    let mut worker = new_worker();
                    let result = work(&mut worker, &queue, &stop);
                    if result.is_err() {
                        stop.store(true, Ordering::Relaxed);
                    }
                    // The last worker out closes the queue, so the feeder stops reading.
                    if live.fetch_sub(1, Ordering::AcqRel) == 1 {
                        if let Ok(mut queue) = queue.lock() {
                            *queue = None;
                        }
                    }
                    result.map(|()| worker)
                })
            })
            .collect();
        let workers: Result<Vec<Worker<'a>>, ExecError> = handles
            .into_iter()
            .map(|h| h.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic)))
            .collect();
        let fed = feeder
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
        let workers = workers?;
        Ok((workers, fed))
    })
}

/// One worker's loop: take units until the queue closes, the query is done or a stop.
fn work(
    worker: &mut Worker<'_>,
    queue: &Mutex<Option<Receiver<(usize, Unit<'_>)>>>,
    stop: &AtomicBool,
) -> Result<(), ExecError> {
    loop {
        if stop.load(Ordering::Relaxed) || worker.is_done() {
            return Ok(());
        }
        let next = match queue.lock() {
            Ok(queue) => queue.as_ref().and_then(|rx| rx.recv().ok()),
            Err(_) => None,
        };
        match next {
            None => return Ok(()),
            Some((index, Unit::Piece(item))) => worker.process(index, item)?,
            Some((index, Unit::Chunk(source, chunk))) => worker.process_chunk(index, source, &chunk)?,
        }
    }
}

/// Sends every unit in input order, numbered; stops early when the workers are gone. Returns
/// the streams that failed, each after the chunks read from it before the failure.
fn feed<'i>(
    items: &'i [Item],
    sources: &[Source],
    (lookback, chunk_bytes): (usize, Option<usize>),
    tx: &SyncSender<(usize, Unit<'i>)>,
    stop: &AtomicBool,
) -> Vec<InputError> {
    let mut unreadable = Vec::new();
    let mut index = 0;
    for item in items {
        // Pieces of plain files, and the agent's stored chunks (small, whole events), go to a
        // worker as they are.
        if !item.is_whole_source() || sources[item.source].kind == SourceKind::StoredEvents {
            if tx.send((index, Unit::Piece(item))).is_err() {
                return unreadable;
            }
            index += 1;
            continue;
        }
        let source = &sources[item.source];
        let reader = match input::open(source) {
            Ok(reader) => reader,
            Err(e) => {
                unreadable.push(e);
                continue;
            }
        };
        let mut chunker = Chunker::new(reader, lookback);
        if let Some(bytes) = chunk_bytes {
            chunker = chunker.with_chunk_bytes(bytes);
        }
        loop {
            if stop.load(Ordering::Relaxed) {
                return unreadable;
            }
            let chunk = match chunker.next_chunk() {
                Ok(Some(chunk)) => chunk,
                Ok(None) => break,
                Err(e) => {
                    unreadable.push(InputError {
                        path: source.name(),
                        reason: e.to_string(),
                    });
                    break;
                }
            };
            if tx.send((index, Unit::Chunk(item.source, chunk))).is_err() {
                return unreadable;
            }
            index += 1;
        }
    }
    unreadable
}
