//! Work shared out to a few threads at the end of a query (merging tables part by part,
//! picking top rows): each thread takes the next item as it finishes one, so a slow item does
//! not hold the others back, and this thread works too. A thread that cannot be started
//! leaves its items to the others: nothing is lost and nothing panics.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, PoisonError};

/// Runs `each` over every item of `items` on up to `threads` threads, this one among them.
/// Each thread starts from `start()` and folds its items into it; the threads' states come
/// back, this thread's first.
pub fn on_threads<T: Send, S: Send>(
    items: Vec<T>,
    threads: usize,
    start: impl Fn() -> S + Sync,
    each: impl Fn(&mut S, T) + Sync,
) -> Vec<S> {
    let helpers = threads.clamp(1, items.len().max(1)) - 1;
    let items: Vec<Mutex<Option<T>>> = items.into_iter().map(|item| Mutex::new(Some(item))).collect();
    let next = AtomicUsize::new(0);
    let work = || {
        let mut state = start();
        loop {
            let i = next.fetch_add(1, Ordering::Relaxed);
            let Some(slot) = items.get(i) else {
                break;
            };
            // A thread that panicked holding an item's lock has taken it already.
            let item = slot.lock().unwrap_or_else(PoisonError::into_inner).take();
            if let Some(item) = item {
                each(&mut state, item);
            }
        }
        state
    };
    std::thread::scope(|scope| {
        let handles: Vec<_> = (0..helpers)
            .filter_map(|_| std::thread::Builder::new().spawn_scoped(scope, work).ok())
            .collect();
        let mut states = vec![work()];
        states.extend(
            handles
                .into_iter()
                .map(|h| h.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic))),
        );
        states
    })
}

#[cfg(test)]
mod tests {
    use super::on_threads;

    #[test]
    fn every_item_is_taken_once_whatever_the_thread_count() {
        for threads in [0, 1, 2, 3, 64] {
            for n in [0, 1, 5, 100] {
                let items: Vec<u64> = (1..=n).collect();
                let states = on_threads(items, threads, Vec::new, |seen: &mut Vec<u64>, item| {
                    seen.push(item);
                });
                assert!(states.len() <= threads.max(1));
                let mut all: Vec<u64> = states.into_iter().flatten().collect();
                all.sort_unstable();
                assert_eq!(all, (1..=n).collect::<Vec<_>>(), "{threads} threads, {n} items");
            }
        }
    }
}
