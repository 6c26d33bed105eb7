//! Housekeeping on a real photo directory: old uploaded photos lose their files but keep their
//! records; leftovers of killed captures go; nothing the server lacks is ever deleted.

mod photo_support;

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration as StdDuration, SystemTime};

use chrono::Duration;
use fieldcore::domain::{EventBody, PhotoCategory};
use fieldcore::fixtures::{Desk, ManualClock, job_on_site, pad_signature, t0};
use fieldcore::photo::{PhotoSource, PipelineConfig};
use fieldcore::store::{
    CapturedPhoto, HousekeepingPolicy, HousekeepingReport, Store, StoreOptions,
};
use uuid::Uuid;

struct Phone {
    _dir: tempfile::TempDir,
    clock: Arc<ManualClock>,
    store: Store,
    job: Uuid,
}

impl Phone {
    fn on_site() -> Phone {
        let dir = tempfile::tempdir().expect("tempdir");
        let clock = Arc::new(ManualClock::new(t0()));
        let mut options = StoreOptions::new(dir.path().join("d.db"));
        options.clock = clock.clone();
        let store = Store::open_with(options).expect("open");
        store.set_technician(Uuid::now_v7()).expect("enrol");
        let job = job_on_site(&store, &Desk::default());
        Phone {
            _dir: dir,
            clock,
            store,
            job,
        }
    }

    fn photo(&self, seed: u64) -> CapturedPhoto {
        let bytes = photo_support::jpeg(&photo_support::textured(640, 480, seed), 85);
        self.capture(&bytes)
    }

    fn capture(&self, bytes: &[u8]) -> CapturedPhoto {
        self.capture_on(self.job, bytes)
    }

    fn capture_on(&self, job: Uuid, bytes: &[u8]) -> CapturedPhoto {
        self.store
            .capture_photo(
                job,
                PhotoCategory::Completion,
                PhotoSource::Bytes(bytes),
                None,
                &PipelineConfig::default(),
            )
            .expect("captured")
    }

    /// A second job on site: the same picture may stand on two jobs, never twice on one.
    fn another_job(&self) -> Uuid {
        job_on_site(&self.store, &Desk::default())
    }

    fn photo_dir(&self) -> PathBuf {
        self.store.photo_dir().to_path_buf()
    }
}

fn size(p: &Path) -> u64 {
    fs::metadata(p).expect("file").len()
}

/// Make a file look as if it was written `ago`.
fn age(path: &Path, ago: StdDuration) {
    let f = fs::OpenOptions::new().write(true).open(path).expect("open");
    f.set_modified(SystemTime::now() - ago).expect("mtime");
}

const HOURS_2: StdDuration = StdDuration::from_secs(7200);

#[test]
fn uploaded_photos_lose_their_files_after_the_policy_s_days_and_keep_their_records() {
    let p = Phone::on_site();
    let sent = p.photo(1);
    let waiting = p.photo(2);
    p.store.mark_uploaded(sent.photo_id).expect("uploaded");
    let policy = HousekeepingPolicy::default();

    p.clock.advance(Duration::days(29));
    assert_eq!(
        p.store.housekeeping(&policy).expect("run"),
        HousekeepingReport::default(),
        "not old enough yet"
    );
    assert!(sent.path.exists());

    p.clock.advance(Duration::days(2));
    let freed = size(&sent.path) + size(&sent.thumb_path);
    let report = p.store.housekeeping(&policy).expect("run");
    assert_eq!(report.photos_pruned, 1);
    assert_eq!(report.bytes_freed, freed);
    assert!(!sent.path.exists() && !sent.thumb_path.exists());
    // Never the one the server does not have yet, however old.
    assert!(waiting.path.exists() && waiting.thumb_path.exists());
    let pending = p.store.photos_awaiting_upload().expect("pending");
    assert_eq!(pending.len(), 1);
    assert_eq!(pending[0].photo_id, waiting.photo_id);
    // The record and its hash stay: the job still lists both photos.
    let view = p.store.view(p.job).expect("view").expect("job");
    let hashes: Vec<_> = view.photos.iter().map(|x| x.sha256.clone()).collect();
    assert!(hashes.contains(&sent.sha256) && hashes.contains(&waiting.sha256));

    assert_eq!(
        p.store.housekeeping(&policy).expect("again"),
        HousekeepingReport::default(),
        "a second run finds nothing to do"
    );
}

#[test]
fn a_file_two_records_share_stays_until_both_are_uploaded() {
    let p = Phone::on_site();
    let bytes = photo_support::jpeg(&photo_support::textured(640, 480, 3), 85);
    let first = p.capture(&bytes);
    let second = p.capture_on(p.another_job(), &bytes);
    assert_eq!(first.path, second.path, "one stored file");
    p.store.mark_uploaded(first.photo_id).expect("uploaded");
    p.clock.advance(Duration::days(60));
    let policy = HousekeepingPolicy::default();
    assert_eq!(p.store.housekeeping(&policy).expect("run").photos_pruned, 0);
    assert!(first.path.exists());

    p.store.mark_uploaded(second.photo_id).expect("uploaded");
    p.clock.advance(Duration::days(31));
    assert_eq!(p.store.housekeeping(&policy).expect("run").photos_pruned, 1);
    assert!(!first.path.exists());
}

#[test]
fn leftovers_of_killed_captures_go_and_everything_recorded_stays() {
    let p = Phone::on_site();
    p.store
        .act(
            p.job,
            EventBody::WorkMarkedDone {
                note: String::new(),
            },
        )
        .expect("done");
    let kept = p.photo(4);
    let signed = p
        .store
        .capture_signature(p.job, &pad_signature())
        .expect("signed");

    let dir = p.photo_dir();
    let shard = dir.join(&kept.sha256[..2]);
    // A capture killed after publishing its file, before recording it: an old unrecorded file.
    let orphan = shard.join(format!("{}.jpg", "ab".repeat(32)));
    fs::write(&orphan, b"unrecorded").expect("orphan");
    // A capture running right now: its file is written, its event not yet.
    let fresh = shard.join(format!("{}.jpg", "cd".repeat(32)));
    fs::write(&fresh, b"in progress").expect("fresh");
    // Temp files: one of a write killed long ago, one of a write going on.
    let stale_temp = shard.join(".4242-7.tmp");
    fs::write(&stale_temp, b"half").expect("temp");
    let live_temp = shard.join(".4243-8.tmp");
    fs::write(&live_temp, b"half").expect("temp");
    // Not ours: never touched.
    let foreign = shard.join("notes.txt");
    fs::write(&foreign, b"someone else's").expect("foreign");

    let strokes = dir
        .join(&signed.strokes_sha256[..2])
        .join(format!("{}.json", signed.strokes_sha256));
    let signature_png = dir
        .join(&signed.png_sha256[..2])
        .join(format!("{}.png", signed.png_sha256));
    for path in [
        &orphan,
        &stale_temp,
        &foreign,
        &kept.path,
        &kept.thumb_path,
        &strokes,
        &signature_png,
    ] {
        age(path, HOURS_2);
    }

    let report = p
        .store
        .housekeeping(&HousekeepingPolicy::default())
        .expect("run");
    assert_eq!(report.leftovers_removed, 2, "{report:?}");
    assert_eq!(
        report.bytes_freed,
        ("unrecorded".len() + "half".len()) as u64
    );
    assert!(!orphan.exists() && !stale_temp.exists());
    for path in [
        &fresh,
        &live_temp,
        &foreign,
        &kept.path,
        &kept.thumb_path,
        &strokes,
        &signature_png,
    ] {
        assert!(path.exists(), "{} was deleted", path.display());
    }
}

#[test]
fn a_photo_whose_file_vanished_before_recording_is_refused_and_can_be_retaken() {
    let p = Phone::on_site();
    let bytes = photo_support::jpeg(&photo_support::textured(640, 480, 5), 85);
    let first = p.capture(&bytes);
    p.store.mark_uploaded(first.photo_id).expect("uploaded");
    p.clock.advance(Duration::days(31));
    p.store
        .housekeeping(&HousekeepingPolicy::default())
        .expect("prune");
    assert!(!first.path.exists());

    // The same picture again after its file was pruned: written anew, recorded, pending.
    let again = p.capture_on(p.another_job(), &bytes);
    assert_eq!(again.sha256, first.sha256);
    assert!(again.path.exists());
    let pending = p.store.photos_awaiting_upload().expect("pending");
    assert_eq!(pending.len(), 1);
    assert_eq!(pending[0].photo_id, again.photo_id);
    // The file is referenced again, so housekeeping leaves it.
    age(&again.path, HOURS_2);
    p.store
        .housekeeping(&HousekeepingPolicy::default())
        .expect("run");
    assert!(again.path.exists());
}

#[test]
fn no_photo_directory_yet_is_nothing_to_do() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Store::open_with(StoreOptions::new(dir.path().join("d.db"))).expect("open");
    assert_eq!(
        store
            .housekeeping(&HousekeepingPolicy::default())
            .expect("run"),
        HousekeepingReport::default()
    );
}

/// A capture that finds its bytes already stored makes the file fresh again: an old unrecorded
/// file it is about to record must not look like a leftover to housekeeping meanwhile.
#[test]
fn a_stored_file_a_capture_reuses_is_fresh_again() {
    let p = Phone::on_site();
    let bytes = photo_support::jpeg(&photo_support::textured(640, 480, 6), 85);
    let first = p.capture(&bytes);
    age(&first.path, HOURS_2);
    age(&first.thumb_path, HOURS_2);
    let again = p.capture_on(p.another_job(), &bytes);
    let recent = SystemTime::now() - StdDuration::from_secs(600);
    for path in [&again.path, &again.thumb_path] {
        let modified = fs::metadata(path).expect("file").modified().expect("mtime");
        assert!(modified > recent, "{} still looks old", path.display());
    }
}
