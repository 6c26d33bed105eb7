//! What a sync knows of the link: how fast its last requests went, and so how much the next
//! one may carry to finish well inside its time.
//!
//! Requests are sized by time, not by count: a basement link at 3 KB/s gets photo chunks, push
//! batches and pull pages that end in seconds (so each is confirmed, and a cut costs seconds of
//! work), a fibre link gets the largest (so the server's fsync per request does not hold it
//! back). The rate is kept in the store, so the next sync starts from it.

use std::cell::Cell;
use std::time::Duration;

use super::SyncConfig;

#[derive(Debug, Default)]
pub(super) struct Link {
    /// Smoothed bytes per second over the last requests; `None` until one is measured.
    bytes_per_sec: Cell<Option<f64>>,
}

impl Link {
    /// A link last measured at `bytes_per_sec` (by an earlier sync), or unknown.
    pub fn at(bytes_per_sec: Option<f64>) -> Link {
        Link {
            bytes_per_sec: Cell::new(bytes_per_sec.filter(|r| r.is_finite() && *r > 0.0)),
        }
    }

    pub fn bytes_per_sec(&self) -> Option<f64> {
        self.bytes_per_sec.get()
    }

    /// Bytes one request may carry: `chunk_seconds` at the measured rate; `None` before
    /// anything is measured.
    pub fn budget(&self, c: &SyncConfig) -> Option<u64> {
        self.bytes_per_sec
            .get()
            .map(|rate| (rate * c.chunk_seconds.as_secs_f64()) as u64)
    }

    /// Bytes for the next PATCH: the budget within the floor and `max_chunk_size`;
    /// `chunk_size` before anything is measured.
    pub fn chunk(&self, c: &SyncConfig) -> u64 {
        let floor = c.min_chunk_size.max(1) as u64;
        let cap = (c.max_chunk_size as u64).max(floor);
        self.budget(c)
            .unwrap_or(c.chunk_size as u64)
            .clamp(floor, cap)
    }

    /// `bytes` crossed the link in `took` (a whole request, or what a cut one left there).
    pub fn observe(&self, bytes: u64, took: Duration) {
        let rate = bytes as f64 / took.as_secs_f64().max(0.001);
        self.bytes_per_sec.set(Some(match self.bytes_per_sec.get() {
            Some(old) => (old + rate) / 2.0,
            None => rate,
        }));
    }

    /// A request failed with nothing gained: the link is worse than thought, so the rate (and
    /// with it the next request) is halved; unmeasured, it is taken as half a first chunk's.
    pub fn stalled(&self, c: &SyncConfig) {
        let secs = c.chunk_seconds.as_secs_f64().max(0.001);
        let rate = self
            .bytes_per_sec
            .get()
            .unwrap_or(c.chunk_size as f64 / secs);
        self.bytes_per_sec.set(Some(rate / 2.0));
    }
}

/// Progress is reported at least this often, in bytes, while a request sends.
pub(super) const PROGRESS_STEP: u64 = 8 * 1024;

/// A count of bytes shown to the technician: it only moves forward, and says when it moved
/// far enough to be worth showing (a [`PROGRESS_STEP`] further, or at the end).
#[derive(Debug, Default)]
pub(super) struct Mark {
    at: Cell<u64>,
    emitted: Cell<u64>,
}

impl Mark {
    /// A mark already at `at` (shown before).
    pub fn from(at: u64) -> Mark {
        Mark {
            at: Cell::new(at),
            emitted: Cell::new(at),
        }
    }

    pub fn at(&self) -> u64 {
        self.at.get()
    }

    /// Move to `position` (within `end`, never back); the value to show, when it is due.
    pub fn advance(&self, position: u64, end: u64) -> Option<u64> {
        self.at.set(self.at.get().max(position.min(end)));
        let at = self.at.get();
        let due = at >= self.emitted.get().saturating_add(PROGRESS_STEP) || at == end;
        (due && at != self.emitted.get()).then(|| {
            self.emitted.set(at);
            at
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunks_follow_the_measured_rate_within_their_bounds() {
        let mut c = SyncConfig::new("http://x");
        c.chunk_size = 256 * 1024;
        c.min_chunk_size = 16 * 1024;
        c.max_chunk_size = 8 * 1024 * 1024;
        c.chunk_seconds = Duration::from_secs(8);
        let link = Link::default();
        assert_eq!(link.chunk(&c), 256 * 1024, "nothing measured yet");
        assert_eq!(link.budget(&c), None);
        // A basement: 4 KB/s. The chunk is 8 s of it, above the floor.
        link.observe(40_000, Duration::from_secs(10));
        assert_eq!(link.chunk(&c), 32_000);
        assert_eq!(link.budget(&c), Some(32_000));
        // Slower still: never below the floor.
        for _ in 0..10 {
            link.observe(1_000, Duration::from_secs(10));
        }
        assert_eq!(link.chunk(&c), 16 * 1024);
        // A stall halves what the next request carries; below the floor, the rate still halves
        // (push batches and pull pages follow it), while a chunk stays at the floor.
        let fresh = Link::default();
        fresh.stalled(&c);
        assert_eq!(fresh.chunk(&c), 128 * 1024);
        let slow = Link::at(Some(1_000.0));
        slow.stalled(&c);
        assert_eq!(slow.bytes_per_sec(), Some(500.0));
        assert_eq!(slow.chunk(&c), 16 * 1024);
        // Fibre: the largest chunk. A rate kept from a broken store is not believed.
        link.observe(100_000_000, Duration::from_secs(1));
        assert_eq!(link.chunk(&c), 8 * 1024 * 1024);
        assert_eq!(Link::at(Some(f64::NAN)).bytes_per_sec(), None);
        assert_eq!(Link::at(Some(-3.0)).bytes_per_sec(), None);
    }

    #[test]
    fn a_mark_moves_forward_in_steps_and_shows_its_end() {
        let m = Mark::default();
        assert_eq!(m.advance(100, 20_000), None, "less than a step");
        assert_eq!(m.advance(9_000, 20_000), Some(9_000));
        assert_eq!(m.advance(4_000, 20_000), None, "never back");
        assert_eq!(m.at(), 9_000);
        assert_eq!(
            m.advance(30_000, 20_000),
            Some(20_000),
            "the end, within bounds"
        );
        assert_eq!(m.advance(20_000, 20_000), None, "shown once");
        assert_eq!(Mark::from(500).advance(500, 500), None);
    }
}
