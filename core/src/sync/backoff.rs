//! Retry with exponential backoff and full jitter.
//!
//! Full jitter (a random wait between zero and the exponential cap) spreads a thousand phones
//! that lost the network at the same moment, so they do not return to the server in lockstep.

use std::time::Duration;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    pub base: Duration,
    pub max: Duration,
    /// Tries per operation, the first included.
    pub attempts: u32,
}

impl Default for Backoff {
    fn default() -> Self {
        Backoff {
            base: Duration::from_millis(250),
            max: Duration::from_secs(30),
            attempts: 6,
        }
    }
}

impl Backoff {
    /// How long to wait before retry number `retry` (1 = the first retry).
    pub fn delay(&self, retry: u32) -> Duration {
        let cap = self
            .base
            .saturating_mul(1u32.checked_shl(retry.min(20)).unwrap_or(u32::MAX))
            .min(self.max);
        let ms = cap.as_millis().min(u128::from(u64::MAX)) as u64;
        Duration::from_millis(fastrand::u64(0..=ms))
    }
}

/// When the app's background scheduler (WorkManager, BGTaskScheduler) should try a failed
/// sync again, the one rule both platforms use: `None` when waiting cannot help (the
/// technician must act: enrol, free space, or the app has a bug); else 30 s doubling per
/// attempt up to an hour, or the server's `Retry-After` when longer (capped at six hours: the
/// header comes from the network).
pub fn next_sync_delay(
    transient: bool,
    retry_after: Option<Duration>,
    attempt: u32,
) -> Option<Duration> {
    if !transient {
        return None;
    }
    let doubled = 1u32
        .checked_shl(attempt.saturating_sub(1).min(16))
        .unwrap_or(u32::MAX);
    let schedule = Duration::from_secs(30)
        .saturating_mul(doubled)
        .min(Duration::from_secs(3600));
    let asked = retry_after
        .unwrap_or_default()
        .min(Duration::from_secs(6 * 3600));
    Some(schedule.max(asked))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn background_retries_wait_longer_each_time_and_heed_the_server() {
        let secs = |t, after: Option<u64>, n| {
            next_sync_delay(t, after.map(Duration::from_secs), n).map(|d| d.as_secs())
        };
        assert_eq!(
            secs(false, Some(5), 1),
            None,
            "a permanent failure is not retried"
        );
        assert_eq!(secs(true, None, 0), Some(30));
        assert_eq!(secs(true, None, 1), Some(30));
        assert_eq!(secs(true, None, 2), Some(60));
        assert_eq!(secs(true, None, 8), Some(3600));
        assert_eq!(secs(true, None, u32::MAX), Some(3600));
        assert_eq!(secs(true, Some(600), 1), Some(600));
        assert_eq!(secs(true, Some(u64::MAX), 1), Some(6 * 3600));
    }

    #[test]
    fn delays_grow_but_stay_under_the_cap() {
        let b = Backoff {
            base: Duration::from_millis(100),
            max: Duration::from_secs(2),
            attempts: 5,
        };
        for _ in 0..200 {
            assert!(b.delay(1) <= Duration::from_millis(200));
            assert!(b.delay(3) <= Duration::from_millis(800));
            assert!(b.delay(30) <= Duration::from_secs(2));
        }
        let spread: std::collections::HashSet<_> = (0..50).map(|_| b.delay(4)).collect();
        assert!(spread.len() > 10, "jittered, not fixed");
    }
}
