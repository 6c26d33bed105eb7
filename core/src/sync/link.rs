//! What a sync knows of the link: how fast the last upload requests went, and so how large the
//! next chunk may be for its request to finish well inside its time.
//!
//! Chunks are sized by time, not by count of successes: a basement link at 3 KB/s gets chunks
//! that end in seconds (so each one is confirmed, and a cut costs seconds of work), a fibre link
//! gets the largest chunk (so the server's fsync per chunk does not hold it back).

use std::time::Duration;

use super::SyncConfig;

#[derive(Debug, Clone, Default)]
pub(super) struct Link {
    /// Smoothed bytes per second over the last requests; `None` until one is measured.
    bytes_per_sec: Option<f64>,
}

impl Link {
    /// Bytes for the next PATCH: `chunk_seconds` at the measured rate, within the floor and
    /// `max_chunk_size`; `chunk_size` before anything is measured.
    pub fn chunk(&self, c: &SyncConfig) -> u64 {
        let floor = c.min_chunk_size.max(1) as u64;
        let cap = (c.max_chunk_size as u64).max(floor);
        match self.bytes_per_sec {
            None => (c.chunk_size as u64).clamp(floor, cap),
            Some(rate) => ((rate * c.chunk_seconds.as_secs_f64()) as u64).clamp(floor, cap),
        }
    }

    /// `bytes` reached the server in `took` (a whole chunk, or what a cut request left there).
    pub fn observe(&mut self, bytes: u64, took: Duration) {
        let rate = bytes as f64 / took.as_secs_f64().max(0.001);
        self.bytes_per_sec = Some(match self.bytes_per_sec {
            Some(old) => (old + rate) / 2.0,
            None => rate,
        });
    }

    /// A request failed with nothing gained: the link is worse than thought, so the next chunk
    /// is half the size this one was.
    pub fn stalled(&mut self, c: &SyncConfig) {
        let secs = c.chunk_seconds.as_secs_f64().max(0.001);
        self.bytes_per_sec = Some(self.chunk(c) as f64 / secs / 2.0);
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
        let mut link = Link::default();
        assert_eq!(link.chunk(&c), 256 * 1024, "nothing measured yet");
        // A basement: 4 KB/s. The chunk is 8 s of it, above the floor.
        link.observe(40_000, Duration::from_secs(10));
        assert_eq!(link.chunk(&c), 32_000);
        // Slower still: never below the floor.
        for _ in 0..10 {
            link.observe(1_000, Duration::from_secs(10));
        }
        assert_eq!(link.chunk(&c), 16 * 1024);
        // A stall halves what the next request carries.
        let mut fresh = Link::default();
        fresh.stalled(&c);
        assert_eq!(fresh.chunk(&c), 128 * 1024);
        // Fibre: the largest chunk.
        link.observe(100_000_000, Duration::from_secs(1));
        assert_eq!(link.chunk(&c), 8 * 1024 * 1024);
    }
}
