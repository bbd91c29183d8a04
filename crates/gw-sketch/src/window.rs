//! Event-time windows: a watermark with a bounded out-of-order allowance, tumbling window
//! indices, a compact per-key tumbling counter and a sliding counter made of sub-buckets.
//!
//! Time is whatever the records say (Unix seconds of `observed_at`); nothing here reads the
//! wall clock, so replaying a log file yields exactly what watching it live would.

use serde::{Deserialize, Serialize};

use crate::error::{SketchError, bad_param};

/// How a record's timestamp relates to the watermark.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Admission {
    /// At or after the newest timestamp seen so far.
    InOrder,
    /// Older than the newest timestamp but within the allowed lateness: still counted.
    Late,
    /// Older than the watermark: windows it belongs to may already be closed.
    TooLate,
}

/// The event-time clock of one stream: the newest timestamp seen and a watermark that trails
/// it by the allowed lateness. The watermark never moves backwards.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventClock {
    allowed_lateness_secs: i64,
    max_seen: Option<i64>,
}

impl EventClock {
    pub fn new(allowed_lateness_secs: i64) -> Result<Self, SketchError> {
        if allowed_lateness_secs < 0 {
            return Err(bad_param(
                "event clock",
                "allowed_lateness_secs",
                allowed_lateness_secs,
                "must be zero or positive",
            ));
        }
        Ok(EventClock {
            allowed_lateness_secs,
            max_seen: None,
        })
    }

    /// Files a record timestamp and says whether it is in order, late-but-accepted or too late.
    pub fn observe(&mut self, at_secs: i64) -> Admission {
        match self.max_seen {
            None => {
                self.max_seen = Some(at_secs);
                Admission::InOrder
            }
            Some(m) if at_secs >= m => {
                self.max_seen = Some(at_secs);
                Admission::InOrder
            }
            Some(m) if at_secs >= m - self.allowed_lateness_secs => Admission::Late,
            Some(_) => Admission::TooLate,
        }
    }

    /// Newest timestamp seen minus the allowed lateness; `None` before the first record.
    pub fn watermark(&self) -> Option<i64> {
        self.max_seen.map(|m| m - self.allowed_lateness_secs)
    }

    pub fn max_seen(&self) -> Option<i64> {
        self.max_seen
    }

    pub fn allowed_lateness_secs(&self) -> i64 {
        self.allowed_lateness_secs
    }
}

/// Tumbling windows of a fixed size aligned to the Unix epoch.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tumbling {
    size_secs: i64,
}

impl Tumbling {
    pub fn new(size_secs: i64) -> Result<Self, SketchError> {
        if size_secs <= 0 {
            return Err(bad_param(
                "tumbling window",
                "size_secs",
                size_secs,
                "must be positive",
            ));
        }
        Ok(Tumbling { size_secs })
    }

    pub fn size_secs(self) -> i64 {
        self.size_secs
    }

    /// The index of the window holding `at_secs`.
    #[inline]
    pub fn index(self, at_secs: i64) -> i64 {
        at_secs.div_euclid(self.size_secs)
    }

    /// First second of window `index`.
    #[inline]
    pub fn start(self, index: i64) -> i64 {
        index.saturating_mul(self.size_secs)
    }

    /// True when every record of window `index` is older than `watermark`.
    #[inline]
    pub fn is_closed(self, index: i64, watermark: i64) -> bool {
        self.start(index.saturating_add(1)) <= watermark
    }

    /// A short label such as `20m`, `1h` or `90s`.
    pub fn label(self) -> String {
        let s = self.size_secs;
        if s % 3600 == 0 {
            format!("{}h", s / 3600)
        } else if s % 60 == 0 {
            format!("{}m", s / 60)
        } else {
            format!("{s}s")
        }
    }
}

/// A count of one key in its current tumbling window (12 bytes). Adding to a newer window
/// hands back the closed one so the caller can feed it to a baseline.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct WindowCount {
    /// Window index (see [`Tumbling::index`]).
    pub window: i64,
    pub count: u32,
}

/// A window that ended, as handed back by [`WindowCount::add`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ClosedWindow {
    pub window: i64,
    pub count: u32,
}

impl WindowCount {
    pub fn new(window: i64) -> Self {
        WindowCount { window, count: 0 }
    }

    /// Adds `n` to window `window`. A newer window closes the current one (returned); an older
    /// window (a late record) is counted into the current one, so late records never reopen a
    /// closed window.
    pub fn add(&mut self, window: i64, n: u32) -> Option<ClosedWindow> {
        if window > self.window {
            let closed = ClosedWindow {
                window: self.window,
                count: self.count,
            };
            self.window = window;
            self.count = n;
            (closed.count > 0).then_some(closed)
        } else {
            self.count = self.count.saturating_add(n);
            None
        }
    }
}

/// A sliding-window sum over the last `buckets × bucket_secs` seconds of event time, kept as a
/// ring of sub-bucket counts. Memory is `4 × buckets` bytes whatever the record count.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SlidingCounter {
    bucket_secs: i64,
    /// Index (in bucket units) of the newest bucket.
    head: i64,
    ring: Vec<u32>,
}

impl SlidingCounter {
    pub fn new(bucket_secs: i64, buckets: usize) -> Result<Self, SketchError> {
        if bucket_secs <= 0 {
            return Err(bad_param(
                "sliding counter",
                "bucket_secs",
                bucket_secs,
                "must be positive",
            ));
        }
        if buckets == 0 || buckets > 1 << 16 {
            return Err(bad_param(
                "sliding counter",
                "buckets",
                buckets,
                "must be between 1 and 65536",
            ));
        }
        Ok(SlidingCounter {
            bucket_secs,
            head: i64::MIN,
            ring: vec![0; buckets],
        })
    }

    pub fn span_secs(&self) -> i64 {
        self.bucket_secs * self.ring.len() as i64
    }

    fn slot(&self, idx: i64) -> usize {
        idx.rem_euclid(self.ring.len() as i64) as usize
    }

    /// Moves the head to the bucket of `at_secs`, clearing buckets that fell out of the span.
    fn advance(&mut self, idx: i64) {
        if self.head == i64::MIN || idx - self.head >= self.ring.len() as i64 {
            self.ring.iter_mut().for_each(|c| *c = 0);
        } else {
            for i in self.head + 1..=idx {
                let s = self.slot(i);
                self.ring[s] = 0;
            }
        }
        self.head = idx;
    }

    /// Adds `n` at `at_secs`. Returns false (and counts nothing) when `at_secs` is older than
    /// the span ending at the newest bucket.
    pub fn add(&mut self, at_secs: i64, n: u32) -> bool {
        let idx = at_secs.div_euclid(self.bucket_secs);
        if self.head == i64::MIN || idx > self.head {
            self.advance(idx);
        } else if self.head - idx >= self.ring.len() as i64 {
            return false;
        }
        let s = self.slot(idx);
        self.ring[s] = self.ring[s].saturating_add(n);
        true
    }

    /// Sum over the span ending at the bucket of `at_secs` (buckets newer than `at_secs` are
    /// not counted). Does not modify the counter.
    pub fn sum_at(&self, at_secs: i64) -> u64 {
        if self.head == i64::MIN {
            return 0;
        }
        let idx = at_secs.div_euclid(self.bucket_secs);
        let len = self.ring.len() as i64;
        let lo = (idx - len + 1).max(self.head - len + 1);
        let hi = idx.min(self.head);
        (lo..=hi).map(|i| u64::from(self.ring[self.slot(i)])).sum()
    }

    /// Sum over the span ending at the newest bucket.
    pub fn sum(&self) -> u64 {
        self.ring.iter().map(|&c| u64::from(c)).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn the_watermark_trails_by_the_allowed_lateness_and_never_goes_back() {
        let mut c = EventClock::new(60).unwrap();
        assert_eq!(c.watermark(), None);
        assert_eq!(c.observe(1000), Admission::InOrder);
        assert_eq!(c.observe(970), Admission::Late);
        assert_eq!(c.observe(939), Admission::TooLate);
        assert_eq!(c.watermark(), Some(940));
        c.observe(500);
        assert_eq!(c.watermark(), Some(940));
        assert!(EventClock::new(-1).is_err());
    }

    #[test]
    fn tumbling_windows_align_to_the_epoch_including_negative_times() {
        let w = Tumbling::new(1200).unwrap();
        assert_eq!(w.index(0), 0);
        assert_eq!(w.index(1199), 0);
        assert_eq!(w.index(1200), 1);
        assert_eq!(w.index(-1), -1);
        assert!(w.is_closed(0, 1200));
        assert!(!w.is_closed(0, 1199));
        assert_eq!(w.label(), "20m");
        assert_eq!(Tumbling::new(7200).unwrap().label(), "2h");
        assert_eq!(Tumbling::new(90).unwrap().label(), "90s");
        assert!(Tumbling::new(0).is_err());
    }

    #[test]
    fn a_window_count_hands_back_the_closed_window_and_absorbs_late_records() {
        let mut c = WindowCount::new(5);
        assert_eq!(c.add(5, 2), None);
        assert_eq!(c.add(4, 1), None, "late record goes into the open window");
        assert_eq!(
            c.add(7, 1),
            Some(ClosedWindow {
                window: 5,
                count: 3
            })
        );
        assert_eq!(c.count, 1);
    }

    #[test]
    fn a_sliding_counter_forgets_what_left_the_span() {
        let mut s = SlidingCounter::new(60, 20).unwrap();
        assert_eq!(s.span_secs(), 1200);
        for t in (0..1200).step_by(10) {
            assert!(s.add(t, 1));
        }
        assert_eq!(s.sum(), 120);
        assert!(s.add(1200, 1));
        assert_eq!(s.sum(), 115, "bucket [0,60) dropped");
        assert!(!s.add(0, 1), "too old");
        assert!(s.add(100, 1), "late but inside the span");
        assert_eq!(s.sum_at(1200), 116);
        s.add(100_000, 3);
        assert_eq!(s.sum(), 3);
    }

    proptest! {
        #[test]
        fn sliding_sum_equals_exact_count_for_in_order_streams(mut ts in proptest::collection::vec(0i64..20_000, 1..300)) {
            ts.sort_unstable();
            let mut s = SlidingCounter::new(30, 10).unwrap();
            for &t in &ts {
                prop_assert!(s.add(t, 1));
            }
            let last = *ts.last().unwrap();
            let head = last.div_euclid(30);
            let exact = ts.iter().filter(|&&t| t.div_euclid(30) > head - 10).count() as u64;
            prop_assert_eq!(s.sum(), exact);
            prop_assert_eq!(s.sum_at(last), exact);
        }

        #[test]
        fn the_watermark_is_monotone(ts in proptest::collection::vec(-10_000i64..10_000, 1..200)) {
            let mut c = EventClock::new(30).unwrap();
            let mut prev = i64::MIN;
            for t in ts {
                let adm = c.observe(t);
                let wm = c.watermark().unwrap();
                prop_assert!(wm >= prev);
                if adm == Admission::TooLate { prop_assert!(t < wm); }
                prev = wm;
            }
        }
    }
}
