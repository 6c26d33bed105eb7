//! Keeping the phone's storage in bounds without ever deleting evidence the server lacks.
//!
//! Two kinds of files go: the full-size photo and thumbnail of a photo the server has held for
//! a while (the record and its hash stay, so the evidence is still named and the server has
//! the bytes), and leftovers nobody recorded: a temp file of a write that was killed, or a
//! stored file whose capture was killed between writing it and committing its event (that
//! action was never acknowledged, so nothing is lost). Leftovers must be older than
//! `leftover_age`, because a capture running right now writes its file before it takes the
//! store's lock to record it.

use std::collections::HashSet;
use std::fs;
use std::io::ErrorKind;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, SystemTime};

use chrono::{DateTime, Utc};
use rusqlite::{TransactionBehavior, params};
use serde::{Deserialize, Serialize};

use super::{Store, StoreError, ts};
use crate::domain::{ActionKind, Event, EventBody};
use crate::photo;

/// What housekeeping may delete.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HousekeepingPolicy {
    /// Delete the files of photos the server has held at least this long; `None` keeps them.
    pub prune_uploaded_after: Option<chrono::Duration>,
    /// Unrecorded files and temp files younger than this are a capture in progress: kept.
    pub leftover_age: Duration,
}

impl Default for HousekeepingPolicy {
    fn default() -> Self {
        HousekeepingPolicy {
            prune_uploaded_after: Some(chrono::Duration::days(30)),
            leftover_age: Duration::from_secs(3600),
        }
    }
}

/// What one run freed.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct HousekeepingReport {
    /// Distinct stored photos (one file may back several records) whose files were deleted.
    pub photos_pruned: u32,
    /// Temp files and unrecorded files deleted.
    pub leftovers_removed: u32,
    pub bytes_freed: u64,
    /// A capture was running, so nothing was touched; the next run does the work.
    pub deferred: bool,
}

/// A capture in flight, from its first file write to its record.
pub(crate) struct Capturing<'a>(&'a AtomicUsize);

impl Drop for Capturing<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

/// The suffixes of the files the photo pipeline names by hash.
const CONTENT_SUFFIXES: [&str; 4] = [".thumb.jpg", ".jpg", ".png", ".json"];

impl Store {
    /// Count a capture in, under the lock housekeeping holds for its whole run: either
    /// housekeeping sees the capture and stands aside, or it is done before the capture starts.
    pub(crate) fn capturing(&self) -> Capturing<'_> {
        let _conn = self.lock();
        self.captures.fetch_add(1, Ordering::SeqCst);
        Capturing(&self.captures)
    }

    /// Prune old uploaded photos and sweep leftovers, in one immediate transaction under the
    /// store's lock, so no event is recorded against a file it is removing, by this process or
    /// another. A capture that had picked such a file fails with a clear error when it records
    /// (recording checks every file it names) and can simply be retaken.
    pub fn housekeeping(
        &self,
        policy: &HousekeepingPolicy,
    ) -> Result<HousekeepingReport, StoreError> {
        let now = self.clock.now();
        let mut conn = self.lock();
        let mut report = HousekeepingReport::default();
        if self.captures.load(Ordering::SeqCst) > 0 {
            report.deferred = true;
            return Ok(report);
        }
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;

        if let Some(after) = policy.prune_uploaded_after {
            let cutoff = now - after;
            for (sha256, files) in prunable(&tx, cutoff)? {
                let mut freed = remove(&photo::thumb_path(&self.photo_dir, &sha256))?;
                for name in &files {
                    freed += remove(&self.photo_dir.join(name))?;
                }
                // The files first, then the mark: a crash in between leaves a record that
                // the next run prunes again (a no-op), never a mark over a file still there.
                tx.execute(
                    "UPDATE photos SET pruned_at = ?2 WHERE sha256 = ?1 AND pruned_at IS NULL",
                    params![sha256, ts(now)],
                )?;
                report.photos_pruned += 1;
                report.bytes_freed += freed;
            }
        }

        let kept = referenced(&tx, &self.photo_dir)?;
        let too_young = SystemTime::now()
            .checked_sub(policy.leftover_age)
            .unwrap_or(SystemTime::UNIX_EPOCH);
        let shards = match fs::read_dir(&self.photo_dir) {
            Ok(d) => d,
            Err(e) if e.kind() == ErrorKind::NotFound => {
                tx.commit()?;
                return Ok(report);
            }
            Err(e) => return Err(e.into()),
        };
        for shard in shards {
            let shard = shard?;
            if !is_shard(&shard.file_name().to_string_lossy()) || !shard.file_type()?.is_dir() {
                continue;
            }
            for entry in fs::read_dir(shard.path())? {
                let entry = entry?;
                let name = entry.file_name().to_string_lossy().into_owned();
                let leftover =
                    is_temp(&name) || (is_content(&name) && !kept.contains(&entry.path()));
                if !leftover || entry.metadata()?.modified()? > too_young {
                    continue;
                }
                report.bytes_freed += remove(&entry.path())?;
                report.leftovers_removed += 1;
            }
        }
        tx.commit()?;
        Ok(report)
    }
}

/// Hashes whose every record is uploaded since before `cutoff` and not pruned yet, with the
/// files those records name. A hash that any record still has to upload is never pruned.
fn prunable(
    conn: &rusqlite::Connection,
    cutoff: DateTime<Utc>,
) -> Result<Vec<(String, Vec<String>)>, StoreError> {
    let mut stmt = conn.prepare(
        "SELECT sha256, group_concat(DISTINCT file_name) FROM photos
         GROUP BY sha256
         HAVING sum(pruned_at IS NULL) > 0
            AND sum(upload_state != 'uploaded' OR uploaded_at IS NULL OR uploaded_at > ?1) = 0",
    )?;
    let rows = stmt.query_map([ts(cutoff)], |r| {
        Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?))
    })?;
    let mut out = Vec::new();
    for row in rows {
        let (sha256, names) = row?;
        out.push((sha256, names.split(',').map(str::to_string).collect()));
    }
    Ok(out)
}

/// Every file a record still needs: the stored photos and thumbnails not pruned, and every
/// signature's strokes (kept for good: they are small, and they are the signature's data).
/// Paths as the photo pipeline names them, so the sweep compares like with like.
fn referenced(
    conn: &rusqlite::Connection,
    photo_dir: &Path,
) -> Result<HashSet<PathBuf>, StoreError> {
    let mut kept = HashSet::new();
    let mut stmt = conn.prepare("SELECT sha256, file_name FROM photos WHERE pruned_at IS NULL")?;
    let rows = stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))?;
    for row in rows {
        let (sha256, file_name) = row?;
        kept.insert(photo_dir.join(file_name));
        kept.insert(photo::thumb_path(photo_dir, &sha256));
    }
    let mut stmt = conn.prepare("SELECT body FROM events WHERE kind = ?1")?;
    let bodies = stmt.query_map([ActionKind::SignatureCaptured.as_str()], |r| {
        r.get::<_, String>(0)
    })?;
    for body in bodies {
        let event: Event = serde_json::from_str(&body?)?;
        if let EventBody::SignatureCaptured { signature } = event.body {
            kept.insert(photo::strokes_path(photo_dir, &signature.strokes_sha256));
        }
    }
    Ok(kept)
}

fn is_shard(name: &str) -> bool {
    name.len() == 2 && name.bytes().all(|b| b.is_ascii_hexdigit())
}

/// `.<pid>-<n>.tmp`, as the photo pipeline names its temp files.
fn is_temp(name: &str) -> bool {
    name.starts_with('.') && name.ends_with(".tmp")
}

/// `<sha256><suffix>`: a file the pipeline wrote. Anything else in the directory is not ours
/// to delete.
fn is_content(name: &str) -> bool {
    CONTENT_SUFFIXES.iter().any(|suffix| {
        name.strip_suffix(suffix)
            .is_some_and(|hash| photo::files::check_hash(hash).is_ok())
    })
}

/// Delete a file, returning its size; a file already gone frees nothing.
fn remove(path: &Path) -> Result<u64, StoreError> {
    let size = match fs::metadata(path) {
        Ok(m) => m.len(),
        Err(e) if e.kind() == ErrorKind::NotFound => return Ok(0),
        Err(e) => return Err(e.into()),
    };
    match fs::remove_file(path) {
        Ok(()) => Ok(size),
        Err(e) if e.kind() == ErrorKind::NotFound => Ok(0),
        Err(e) => Err(e.into()),
    }
}

#[cfg(test)]
mod tests {
    use super::super::FileRow;
    use super::*;
    use crate::domain::{JobKind, PhotoCategory, PhotoRef};
    use crate::fixtures::{Desk, t0};
    use crate::store::{ActionError, Store, StoreOptions};
    use uuid::Uuid;

    /// The last line of defence against housekeeping racing a capture: the file must still be
    /// there when its event is recorded, under the lock housekeeping holds.
    #[test]
    fn evidence_whose_files_are_gone_at_recording_is_refused_and_nothing_is_recorded() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open_with(StoreOptions::new(dir.path().join("d.db"))).unwrap();
        let tech = Uuid::now_v7();
        store.set_technician(tech).unwrap();
        let (job, events) = Desk::default().new_job(JobKind::Install, tech, t0());
        store.apply_remote(&events).unwrap();
        store.act(job, EventBody::JobAccepted).unwrap();
        let before = store.outbox_len().unwrap();

        let sha256 = "ab".repeat(32);
        let gone = store.photo_dir().join("ab").join(format!("{sha256}.jpg"));
        let thumb = store
            .photo_dir()
            .join("ab")
            .join(format!("{sha256}.thumb.jpg"));
        let photo_id = Uuid::now_v7();
        let body = EventBody::PhotoCaptured {
            photo: PhotoRef {
                photo_id,
                category: PhotoCategory::Exception,
                sha256: sha256.clone(),
                location: None,
            },
        };
        let row = FileRow {
            photo_id,
            category: PhotoCategory::Exception,
            sha256: &sha256,
            width: 10,
            height: 10,
            bytes: 10,
            path: &gone,
            companions: vec![&thumb],
            location: None,
        };
        let refused = |row: FileRow<'_>| {
            let err = store
                .record(job, vec![(body.clone(), Some(row))])
                .unwrap_err();
            assert!(
                matches!(&err, ActionError::Store(e) if e.to_string().contains("take it again")),
                "{err:?}"
            );
            assert_eq!(store.outbox_len().unwrap(), before);
            assert!(store.photos_awaiting_upload().unwrap().is_empty());
        };
        refused(row.clone());

        // The photo is there, its thumbnail is not: refused just the same.
        std::fs::create_dir_all(gone.parent().unwrap()).unwrap();
        std::fs::write(&gone, b"photo").unwrap();
        refused(row.clone());

        std::fs::write(&thumb, b"thumb").unwrap();
        store.record(job, vec![(body.clone(), Some(row))]).unwrap();
        assert_eq!(store.photos_awaiting_upload().unwrap().len(), 1);
    }

    #[test]
    fn housekeeping_stands_aside_while_a_capture_runs() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open_with(StoreOptions::new(dir.path().join("d.db"))).unwrap();
        let stale = store.photo_dir().join("ab").join(".1-1.tmp");
        std::fs::create_dir_all(stale.parent().unwrap()).unwrap();
        std::fs::write(&stale, b"half").unwrap();
        let policy = HousekeepingPolicy {
            leftover_age: Duration::ZERO,
            ..HousekeepingPolicy::default()
        };
        let capture = store.capturing();
        let report = store.housekeeping(&policy).unwrap();
        assert!(report.deferred && stale.exists(), "{report:?}");
        drop(capture);
        let report = store.housekeeping(&policy).unwrap();
        assert!(!report.deferred && !stale.exists(), "{report:?}");
    }
}
