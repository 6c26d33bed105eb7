//! Stopping a running sync from another thread.
//!
//! A sync blocks a background thread for as long as the network needs (retries included), and
//! the OS may want that thread back at any moment (iOS expiration handlers, WorkManager
//! stopping a worker, the technician pressing Cancel). Like application-services'
//! `SqlInterruptHandle`, an [`Interrupt`] counts interruptions: a sync notes the count when it
//! starts ([`Interrupt::scope`]) and stops at its next step once the count has moved. An
//! interruption therefore stops what is running or waiting now, and never a sync started after
//! it, so there is no flag to reset and no race between resetting it and a new interrupt.
//!
//! Steps are the points where stopping loses nothing: between push batches (each batch's
//! verdicts are stored before the next), between pull pages (a page and its cursor commit
//! together), between upload chunks (the server keeps the offset), and during every backoff
//! wait. A request already on the wire finishes or times out first.

use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use super::SyncError;

/// Shared by the sync and whoever may stop it; clones stop the same syncs.
#[derive(Debug, Clone, Default)]
pub struct Interrupt {
    inner: Arc<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    count: Mutex<u64>,
    moved: Condvar,
}

impl Interrupt {
    pub fn new() -> Self {
        Self::default()
    }

    /// Stop every sync running or waiting under a scope taken before this call.
    pub fn interrupt(&self) {
        let mut count = self.lock();
        *count = count.wrapping_add(1);
        self.inner.moved.notify_all();
    }

    /// The interruptions counted so far: a scope taken now is stopped by the next one.
    pub fn scope(&self) -> InterruptScope {
        InterruptScope {
            interrupt: self.clone(),
            start: *self.lock(),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, u64> {
        // The count is a plain integer: a panic elsewhere cannot leave it inconsistent.
        self.inner.count.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// One sync's view of an [`Interrupt`]: interrupted once the count moved past its start.
#[derive(Debug, Clone)]
pub struct InterruptScope {
    interrupt: Interrupt,
    start: u64,
}

impl InterruptScope {
    /// A scope no interrupt reaches (the CLI, tests).
    pub fn never() -> Self {
        Interrupt::new().scope()
    }

    pub fn is_interrupted(&self) -> bool {
        *self.interrupt.lock() != self.start
    }

    /// `Err(Cancelled)` once interrupted: the sync's checkpoint between steps.
    pub fn check(&self) -> Result<(), SyncError> {
        if self.is_interrupted() {
            Err(SyncError::Cancelled)
        } else {
            Ok(())
        }
    }

    /// Wait `duration` (a backoff), returning early with `Err(Cancelled)` if interrupted.
    pub fn sleep(&self, duration: Duration) -> Result<(), SyncError> {
        // A wait the clock cannot represent is a wait until interrupted.
        let now = Instant::now();
        let deadline = now
            .checked_add(duration)
            .unwrap_or(now + Duration::from_secs(86_400 * 365));
        let mut count = self.interrupt.lock();
        while *count == self.start {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Ok(());
            }
            count = self
                .interrupt
                .inner
                .moved
                .wait_timeout(count, left)
                .unwrap_or_else(|p| p.into_inner())
                .0;
        }
        Err(SyncError::Cancelled)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_interrupt_stops_the_scopes_taken_before_it_and_not_after() {
        let interrupt = Interrupt::new();
        let before = interrupt.scope();
        assert!(before.check().is_ok());
        interrupt.interrupt();
        assert!(matches!(before.check(), Err(SyncError::Cancelled)));
        let after = interrupt.scope();
        assert!(
            after.check().is_ok(),
            "a sync started after the interrupt runs"
        );
    }

    #[test]
    fn an_interrupt_cuts_a_backoff_wait_short() {
        let interrupt = Interrupt::new();
        let scope = interrupt.scope();
        let waker = interrupt.clone();
        let t = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(50));
            waker.interrupt();
        });
        let started = Instant::now();
        assert!(matches!(
            scope.sleep(Duration::from_secs(60)),
            Err(SyncError::Cancelled)
        ));
        assert!(started.elapsed() < Duration::from_secs(30));
        t.join().unwrap();
        assert!(InterruptScope::never().sleep(Duration::ZERO).is_ok());
    }
}
