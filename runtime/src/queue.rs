//! A bounded queue between a producer that must not block on what is downstream (a UDP socket
//! read, a file reader) and an async consumer, with what happens when it is full said out loud:
//! [`WhenFull::DropNewest`] refuses the item, [`WhenFull::DropOldest`] makes room by dropping the
//! oldest, and either way the drop is counted ([`BoundedQueue::dropped`]) for the caller's
//! telemetry and shutdown report. A producer that may wait instead (a file reader — the file
//! keeps the data) uses [`BoundedQueue::push_waiting`], which never drops.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Condvar, Mutex};
use std::time::Duration;

use tokio::sync::Notify;

/// What a full queue does with a new item.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WhenFull {
    /// The new item is dropped (the queue keeps what came first).
    DropNewest,
    /// The oldest item is dropped to make room (the queue keeps what is freshest).
    DropOldest,
}

/// What became of a pushed item.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pushed {
    Queued,
    /// The queue was full: an item (this one or the oldest) was dropped and counted.
    Dropped,
    /// The queue is closed: the item was dropped and counted.
    Closed,
}

#[derive(Debug)]
struct State<T> {
    items: VecDeque<T>,
    closed: bool,
}

/// A bounded multi-producer queue with one async consumer.
#[derive(Debug)]
pub struct BoundedQueue<T> {
    state: Mutex<State<T>>,
    capacity: usize,
    when_full: WhenFull,
    dropped: AtomicU64,
    /// Wakes the consumer.
    queued: Notify,
    /// Wakes waiting producers.
    room: Condvar,
}

impl<T> BoundedQueue<T> {
    /// A queue of at most `capacity` items (at least one).
    pub fn new(capacity: usize, when_full: WhenFull) -> BoundedQueue<T> {
        BoundedQueue {
            state: Mutex::new(State {
                items: VecDeque::new(),
                closed: false,
            }),
            capacity: capacity.max(1),
            when_full,
            dropped: AtomicU64::new(0),
            queued: Notify::new(),
            room: Condvar::new(),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State<T>> {
        // A producer that panicked mid-push leaves a consistent VecDeque: keep going.
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Queues `item` without waiting, applying the full-queue policy.
    pub fn push(&self, item: T) -> Pushed {
        let mut state = self.lock();
        if state.closed {
            self.dropped.fetch_add(1, Ordering::Relaxed);
            return Pushed::Closed;
        }
        let outcome = if state.items.len() < self.capacity {
            state.items.push_back(item);
            Pushed::Queued
        } else {
            self.dropped.fetch_add(1, Ordering::Relaxed);
            if self.when_full == WhenFull::DropOldest {
                state.items.pop_front();
                state.items.push_back(item);
            }
            Pushed::Dropped
        };
        drop(state);
        self.queued.notify_one();
        outcome
    }

    /// Queues `item`, waiting (blocking this thread) for room as long as it takes; gives the
    /// item back if the queue is closed first. For producers on their own thread that can wait.
    pub fn push_waiting(&self, item: T) -> Result<(), T> {
        let mut state = self.lock();
        loop {
            if state.closed {
                return Err(item);
            }
            if state.items.len() < self.capacity {
                state.items.push_back(item);
                drop(state);
                self.queued.notify_one();
                return Ok(());
            }
            // Woken by a pop or a close; the timeout only guards against a lost wake-up.
            state = self
                .room
                .wait_timeout(state, Duration::from_millis(100))
                .map_or_else(|e| e.into_inner().0, |(guard, _)| guard);
        }
    }

    /// The oldest item, if any.
    pub fn try_pop(&self) -> Option<T> {
        let item = self.lock().items.pop_front();
        if item.is_some() {
            self.room.notify_one();
        }
        item
    }

    /// The oldest item, waiting for one; `None` once the queue is closed and empty.
    pub async fn pop(&self) -> Option<T> {
        loop {
            let notified = self.queued.notified();
            {
                let mut state = self.lock();
                if let Some(item) = state.items.pop_front() {
                    drop(state);
                    self.room.notify_one();
                    return Some(item);
                }
                if state.closed {
                    return None;
                }
            }
            notified.await;
        }
    }

    /// Refuses further items; what is queued can still be popped.
    pub fn close(&self) {
        self.lock().closed = true;
        self.queued.notify_waiters();
        self.queued.notify_one();
        self.room.notify_all();
    }

    pub fn len(&self) -> usize {
        self.lock().items.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Items dropped so far (full or closed).
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::time::Duration;

    use super::{BoundedQueue, Pushed, WhenFull};

    #[test]
    fn a_full_queue_drops_by_its_policy_and_counts() {
        let newest = BoundedQueue::new(2, WhenFull::DropNewest);
        assert_eq!(newest.push(1), Pushed::Queued);
        assert_eq!(newest.push(2), Pushed::Queued);
        assert_eq!(newest.push(3), Pushed::Dropped);
        assert_eq!(
            (newest.try_pop(), newest.try_pop(), newest.dropped()),
            (Some(1), Some(2), 1)
        );
        let oldest = BoundedQueue::new(2, WhenFull::DropOldest);
        for i in 1..=3 {
            oldest.push(i);
        }
        assert_eq!(
            (oldest.try_pop(), oldest.try_pop(), oldest.dropped()),
            (Some(2), Some(3), 1)
        );
        oldest.close();
        assert_eq!(oldest.push(4), Pushed::Closed);
        assert_eq!(oldest.dropped(), 2);
    }

    #[tokio::test]
    async fn a_waiting_producer_loses_nothing_and_the_consumer_sees_the_close() {
        let queue = Arc::new(BoundedQueue::new(1, WhenFull::DropNewest));
        let producer = {
            let queue = Arc::clone(&queue);
            std::thread::spawn(move || {
                for i in 0..100 {
                    queue.push_waiting(i).unwrap();
                }
                queue.close();
            })
        };
        let mut got = Vec::new();
        while let Some(i) = tokio::time::timeout(Duration::from_secs(10), queue.pop())
            .await
            .expect("the producer goes on")
        {
            got.push(i);
        }
        producer.join().unwrap();
        assert_eq!(got, (0..100).collect::<Vec<_>>());
        assert_eq!(queue.dropped(), 0);
        assert_eq!(queue.push_waiting(7), Err(7));
    }
}
