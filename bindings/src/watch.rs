//! Live queries: the app watches its job list and the open job, and hears the new value after
//! every change the core makes (a local action, a photo, a signature, an applied pull page,
//! an enrolment), so screens never poll and never show a stale job after the desk changed it.
//!
//! Watchers are told on one notifier thread of their own, never on the thread that committed:
//! an action returns as soon as it is durable, a watcher that calls back into the core cannot
//! deadlock it, and values reach each watcher in commit order. Changes that arrive while the
//! notifier is busy are folded into one round; a watcher hears a value only when it differs
//! from the last one it heard.

use std::collections::BTreeMap;
use std::sync::mpsc::{Receiver, Sender, channel};
use std::sync::{Arc, Mutex, Weak};

use fieldcore::domain::Lang;
use fieldcore::store::{JobFilter, Store};
use uuid::Uuid;

use crate::types::{JobDetail, JobSummary, job_detail};

/// Told the job list's new value. Called on the core's notifier thread: hand it to the UI
/// thread and return quickly.
#[uniffi::export(with_foreign)]
pub trait JobsWatcher: Send + Sync {
    fn on_jobs(&self, jobs: Vec<JobSummary>);
}

/// Told one job's new value; `None` when this device does not (or no longer) know it.
#[uniffi::export(with_foreign)]
pub trait JobWatcher: Send + Sync {
    fn on_job(&self, job: Option<JobDetail>);
}

/// Keeps a watch alive; `cancel` (or dropping the handle) ends it.
#[derive(Debug, uniffi::Object)]
pub struct WatchHandle {
    registry: Weak<Registry>,
    id: u64,
}

#[uniffi::export]
impl WatchHandle {
    /// Stop telling this watcher. Safe to call twice, and after the core is closed.
    pub fn cancel(&self) {
        if let Some(registry) = self.registry.upgrade() {
            registry.lock().remove(&self.id);
        }
    }
}

impl Drop for WatchHandle {
    fn drop(&mut self) {
        self.cancel();
    }
}

enum Query {
    Jobs {
        filter: JobFilter,
        watcher: Arc<dyn JobsWatcher>,
        last: Option<Vec<JobSummary>>,
    },
    Job {
        id: Uuid,
        watcher: Arc<dyn JobWatcher>,
        /// Boxed: a job's detail is large beside a list's vector.
        last: Option<Option<Box<JobDetail>>>,
    },
}

#[derive(Default)]
struct Entries {
    next_id: u64,
    queries: BTreeMap<u64, Arc<Mutex<Query>>>,
}

#[derive(Default)]
struct Registry(Mutex<Entries>);

impl std::fmt::Debug for Registry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Registry")
    }
}

impl Registry {
    fn lock(&self) -> std::sync::MutexGuard<'_, Entries> {
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl Entries {
    fn remove(&mut self, id: &u64) {
        self.queries.remove(id);
    }
}

/// The core's side: registers watches and is told of changes.
#[derive(Debug)]
pub(crate) struct Watches {
    registry: Arc<Registry>,
    changed: Mutex<Sender<()>>,
}

impl Watches {
    /// Starts the notifier thread; it ends when these `Watches` are dropped.
    pub(crate) fn start(store: Arc<Store>, lang: Lang) -> std::io::Result<Watches> {
        let registry = Arc::new(Registry::default());
        let (changed, rx) = channel();
        let weak = Arc::downgrade(&registry);
        std::thread::Builder::new()
            .name("fieldcore-watch".into())
            .spawn(move || notify_loop(&rx, &weak, &store, lang))?;
        Ok(Watches {
            registry,
            changed: Mutex::new(changed),
        })
    }

    /// Something the watched queries may depend on changed (committed): re-run them soon.
    pub(crate) fn changed(&self) {
        // The notifier only stops when `self` is dropped, so a send cannot fail before that.
        let _ = self
            .changed
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .send(());
    }

    pub(crate) fn watch_jobs(
        &self,
        filter: JobFilter,
        watcher: Arc<dyn JobsWatcher>,
    ) -> Arc<WatchHandle> {
        self.add(Query::Jobs {
            filter,
            watcher,
            last: None,
        })
    }

    pub(crate) fn watch_job(&self, id: Uuid, watcher: Arc<dyn JobWatcher>) -> Arc<WatchHandle> {
        self.add(Query::Job {
            id,
            watcher,
            last: None,
        })
    }

    /// Registers the query; the notifier tells it the current value first.
    fn add(&self, query: Query) -> Arc<WatchHandle> {
        let id = {
            let mut entries = self.registry.lock();
            entries.next_id += 1;
            let id = entries.next_id;
            entries.queries.insert(id, Arc::new(Mutex::new(query)));
            id
        };
        self.changed();
        Arc::new(WatchHandle {
            registry: Arc::downgrade(&self.registry),
            id,
        })
    }
}

fn notify_loop(changed: &Receiver<()>, registry: &Weak<Registry>, store: &Store, lang: Lang) {
    while changed.recv().is_ok() {
        // Fold the changes that queued up while the last round ran into this one.
        while changed.try_recv().is_ok() {}
        let Some(registry) = registry.upgrade() else {
            return;
        };
        let queries: Vec<_> = registry.lock().queries.values().cloned().collect();
        drop(registry);
        for query in queries {
            let mut query = query.lock().unwrap_or_else(|p| p.into_inner());
            run(&mut query, store, lang);
        }
    }
}

/// Re-runs one query and tells its watcher if the answer differs from the last one told. A
/// query the store cannot answer now (disk error) is skipped: the next change retries it.
fn run(query: &mut Query, store: &Store, lang: Lang) {
    match query {
        Query::Jobs {
            filter,
            watcher,
            last,
        } => {
            let Ok(jobs) = store.jobs(filter) else { return };
            let jobs: Vec<JobSummary> = jobs.into_iter().map(JobSummary::from).collect();
            if last.as_ref() != Some(&jobs) {
                *last = Some(jobs.clone());
                watcher.on_jobs(jobs);
            }
        }
        Query::Job { id, watcher, last } => {
            let Ok(detail) = store.job(*id) else { return };
            let detail = detail.map(|d| Box::new(job_detail(d, &store.rulebook(), lang)));
            if last.as_ref() != Some(&detail) {
                *last = Some(detail.clone());
                watcher.on_job(detail.map(|d| *d));
            }
        }
    }
}
