//! The bounded queue between the dispatcher and one sink worker, with the shutdown deadline
//! that cuts batching waits and retry sleeps short.

use std::collections::VecDeque;
use std::sync::{Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use gw_model::Finding;

/// Why a finding could not be queued.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Rejected {
    /// Still full after the caller's timeout.
    Full,
    /// The dispatcher is closing.
    Closed,
}

pub(crate) struct Queue {
    capacity: usize,
    state: Mutex<State>,
    /// Signalled on push and on close (the worker waits here, also for retry sleeps).
    changed: Condvar,
    /// Signalled when items are taken (callers wait here for room).
    room: Condvar,
}

struct State {
    items: VecDeque<Finding>,
    closed: bool,
    deadline: Option<Instant>,
}

impl Queue {
    pub(crate) fn new(capacity: usize) -> Queue {
        Queue {
            capacity,
            state: Mutex::new(State {
                items: VecDeque::new(),
                closed: false,
                deadline: None,
            }),
            changed: Condvar::new(),
            room: Condvar::new(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A worker that panicked while holding the lock leaves consistent data (a VecDeque and
        // two flags), so the queue stays usable.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Queues a copy of `finding`, waiting up to `timeout` for room.
    pub(crate) fn push(&self, finding: &Finding, timeout: Duration) -> Result<(), Rejected> {
        let until = Instant::now() + timeout;
        let mut state = self.lock();
        loop {
            if state.closed {
                return Err(Rejected::Closed);
            }
            if state.items.len() < self.capacity {
                state.items.push_back(finding.clone());
                self.changed.notify_all();
                return Ok(());
            }
            let now = Instant::now();
            if now >= until {
                return Err(Rejected::Full);
            }
            state = self
                .room
                .wait_timeout(state, until - now)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
    }

    /// The next batch of at most `max` findings: waits for a first one, then up to `linger` for
    /// more (not while closing). `None` once the queue is closed and empty.
    pub(crate) fn next_batch(&self, max: usize, linger: Duration) -> Option<Vec<Finding>> {
        let mut state = self.lock();
        while state.items.is_empty() {
            if state.closed {
                return None;
            }
            state = self.changed.wait(state).unwrap_or_else(|e| e.into_inner());
        }
        let until = Instant::now() + linger;
        while state.items.len() < max && !state.closed {
            let now = Instant::now();
            if now >= until {
                break;
            }
            state = self
                .changed
                .wait_timeout(state, until - now)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
        let take = state.items.len().min(max);
        let batch: Vec<Finding> = state.items.drain(..take).collect();
        self.room.notify_all();
        Some(batch)
    }

    /// Sleeps `duration` unless the shutdown deadline passes first; false when it has.
    pub(crate) fn sleep(&self, duration: Duration) -> bool {
        let until = Instant::now() + duration;
        let mut state = self.lock();
        loop {
            if state.deadline.is_some_and(|d| Instant::now() >= d) {
                return false;
            }
            let now = Instant::now();
            if now >= until {
                return true;
            }
            let wake = match state.deadline {
                Some(d) => until.min(d),
                None => until,
            };
            state = self
                .changed
                .wait_timeout(state, wake.saturating_duration_since(now))
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
    }

    /// Whether the shutdown deadline has passed.
    pub(crate) fn past_deadline(&self) -> bool {
        self.lock().deadline.is_some_and(|d| Instant::now() >= d)
    }

    /// Refuses new findings; the worker drains what is queued until `deadline`.
    pub(crate) fn close(&self, deadline: Instant) {
        let mut state = self.lock();
        state.closed = true;
        state.deadline = Some(deadline);
        self.changed.notify_all();
        self.room.notify_all();
    }

    /// Takes everything still queued.
    pub(crate) fn drain(&self) -> Vec<Finding> {
        let mut state = self.lock();
        let items = state.items.drain(..).collect();
        self.room.notify_all();
        items
    }

    pub(crate) fn len(&self) -> usize {
        self.lock().items.len()
    }

    pub(crate) fn capacity(&self) -> usize {
        self.capacity
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::sqli;

    #[test]
    fn full_queue_rejects_after_the_timeout_and_closed_queue_rejects_at_once() {
        let q = Queue::new(1);
        q.push(&sqli(), Duration::ZERO).unwrap();
        let start = Instant::now();
        let why = q.push(&sqli(), Duration::from_millis(30)).unwrap_err();
        assert_eq!(why, Rejected::Full);
        assert!(start.elapsed() >= Duration::from_millis(30));
        assert_eq!(q.len(), 1);
        q.close(Instant::now());
        assert_eq!(
            q.push(&sqli(), Duration::ZERO).unwrap_err(),
            Rejected::Closed
        );
        assert_eq!(q.next_batch(10, Duration::ZERO).unwrap().len(), 1);
        assert!(q.next_batch(10, Duration::ZERO).is_none());
    }

    #[test]
    fn batches_are_capped_and_sleep_stops_at_the_deadline() {
        let q = Queue::new(10);
        for _ in 0..5 {
            q.push(&sqli(), Duration::ZERO).unwrap();
        }
        assert_eq!(q.next_batch(3, Duration::ZERO).unwrap().len(), 3);
        assert_eq!(q.next_batch(3, Duration::ZERO).unwrap().len(), 2);
        assert!(q.sleep(Duration::from_millis(1)));
        q.close(Instant::now() + Duration::from_millis(20));
        let start = Instant::now();
        assert!(!q.sleep(Duration::from_secs(30)));
        assert!(start.elapsed() < Duration::from_secs(5));
        assert!(q.past_deadline());
    }
}
