//! One sync at a time, and no sync asked for in vain.
//!
//! The app asks for a sync from many places (a tap, an action, a periodic task, a push
//! notification). Two at once would only race for the same outbox, and queueing every request
//! would sync five times after a burst of taps. So: a request while nothing runs starts a
//! sync; requests while one runs wait for exactly one more sync that starts after the current
//! one ends (their changes may have missed the running one) and all share its outcome.

use std::sync::{Condvar, Mutex, MutexGuard};

use fieldcore::sync::SyncReport;

use crate::error::CoreError;
use crate::sync_observer::SyncFailure;

/// What a sync ended with, shared by every caller it served.
/// Boxed: the failure carries the report of what got through.
pub(crate) type Outcome = Result<SyncReport, Box<(CoreError, SyncFailure)>>;

#[derive(Debug, Default)]
pub(crate) struct SyncGate {
    state: Mutex<State>,
    ended: Condvar,
}

#[derive(Debug, Default)]
struct State {
    running: bool,
    /// Syncs started and ended so far, numbered from 1.
    started: u64,
    ended: u64,
    last: Option<Outcome>,
}

impl SyncGate {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Runs `sync` now if none runs, or waits for the one sync that starts after the running
    /// one and returns its outcome (`ran` false: another caller ran it).
    pub(crate) fn run(&self, sync: impl FnOnce() -> Outcome) -> (Outcome, bool) {
        let mut state = self.lock();
        // The first sync to start after this request serves it.
        let serving = state.started + 1;
        loop {
            if state.ended >= serving
                && let Some(outcome) = &state.last
            {
                return (outcome.clone(), false);
            }
            if !state.running {
                state.running = true;
                state.started += 1;
                let number = state.started;
                drop(state);
                let mut guard = Running {
                    gate: self,
                    number,
                    outcome: None,
                };
                let outcome = sync();
                guard.outcome = Some(outcome.clone());
                drop(guard);
                return (outcome, true);
            }
            state = self.ended.wait(state).unwrap_or_else(|p| p.into_inner());
        }
    }
}

/// Ends a run even if the sync panicked (uniffi turns the panic into an error for the app),
/// so the gate never stays shut.
struct Running<'a> {
    gate: &'a SyncGate,
    number: u64,
    outcome: Option<Outcome>,
}

impl Drop for Running<'_> {
    fn drop(&mut self) {
        let mut state = self.gate.lock();
        state.running = false;
        state.ended = self.number;
        state.last = Some(self.outcome.take().unwrap_or_else(|| {
            let detail = "the sync stopped unexpectedly; it will run again".to_string();
            Err(Box::new((
                CoreError::Storage {
                    detail: detail.clone(),
                },
                SyncFailure {
                    kind: crate::sync_observer::FailureKind::Storage,
                    http_status: None,
                    retry_after_secs: None,
                    transient: false,
                    detail,
                    report: fieldcore::sync::SyncReport::default(),
                },
            )))
        }));
        self.gate.ended.notify_all();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicU32, Ordering};
    use std::time::Duration;

    #[test]
    fn requests_during_a_sync_share_one_sync_after_it() {
        let gate = Arc::new(SyncGate::default());
        let runs = Arc::new(AtomicU32::new(0));
        let (entered_tx, entered_rx) = std::sync::mpsc::channel();
        let (release_tx, release_rx) = std::sync::mpsc::channel::<()>();
        let first = {
            let (gate, runs) = (gate.clone(), runs.clone());
            std::thread::spawn(move || {
                gate.run(|| {
                    runs.fetch_add(1, Ordering::SeqCst);
                    entered_tx.send(()).unwrap();
                    release_rx.recv().unwrap();
                    Ok(SyncReport::default())
                })
            })
        };
        entered_rx.recv().unwrap();
        let waiters: Vec<_> = (0..4)
            .map(|_| {
                let (gate, runs) = (gate.clone(), runs.clone());
                std::thread::spawn(move || {
                    gate.run(|| {
                        runs.fetch_add(1, Ordering::SeqCst);
                        Ok(SyncReport {
                            events_sent: 7,
                            ..SyncReport::default()
                        })
                    })
                })
            })
            .collect();
        std::thread::sleep(Duration::from_millis(100));
        assert_eq!(
            runs.load(Ordering::SeqCst),
            1,
            "the waiters do not run alongside"
        );
        release_tx.send(()).unwrap();
        assert!(first.join().unwrap().1);
        let outcomes: Vec<_> = waiters.into_iter().map(|w| w.join().unwrap()).collect();
        assert_eq!(
            runs.load(Ordering::SeqCst),
            2,
            "four requests, one more sync"
        );
        assert_eq!(outcomes.iter().filter(|(_, ran)| *ran).count(), 1);
        for (outcome, _) in outcomes {
            assert_eq!(
                outcome.unwrap().events_sent,
                7,
                "each shares the follow-up's outcome"
            );
        }
    }

    #[test]
    fn a_panicking_sync_does_not_shut_the_gate() {
        let gate = SyncGate::default();
        let caught =
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| gate.run(|| panic!("boom"))));
        assert!(caught.is_err());
        let (outcome, ran) = gate.run(|| Ok(SyncReport::default()));
        assert!(ran && outcome.is_ok());
    }
}
