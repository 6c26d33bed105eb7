//! A full disk while storing: a typed `DiskFull`, no partial or temp file, existing files intact.
//!
//! Needs a genuinely small filesystem. We are root in CI and on dev machines, so a 1 MiB tmpfs
//! is mounted; if mounting is not allowed, a loop-mounted ext2 image is tried; if that fails too,
//! the test re-runs itself in a child process under `RLIMIT_FSIZE` (via `prlimit`, with SIGXFSZ
//! ignored so the write fails with EFBIG instead of killing the process). It never skips.

mod photo_support;

use std::fs::{self, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;

use fieldcore::photo::{self, PhotoError, PhotoSource, PipelineConfig};
use photo_support::*;

const CHILD_ENV: &str = "FIELDCORE_PHOTO_FSIZE_CHILD";
/// Set to force the RLIMIT_FSIZE fallback (to test the fallback itself).
const NO_MOUNT_ENV: &str = "FIELDCORE_TEST_NO_MOUNT";

/// A mounted small filesystem, unmounted on drop.
struct SmallFs {
    _base: tempfile::TempDir,
    mount: PathBuf,
}

impl SmallFs {
    fn mount() -> Option<Self> {
        if std::env::var_os(NO_MOUNT_ENV).is_some() {
            return None;
        }
        let base = tempfile::tempdir().unwrap();
        let mount = base.path().join("m");
        fs::create_dir(&mount).unwrap();
        let tmpfs = Command::new("mount")
            .args(["-t", "tmpfs", "-o", "size=1m", "tmpfs"])
            .arg(&mount)
            .output();
        if tmpfs.is_ok_and(|o| o.status.success()) {
            return Some(Self { _base: base, mount });
        }
        let image = base.path().join("small.img");
        fs::File::create(&image).unwrap().set_len(2 << 20).unwrap();
        let made = Command::new("mkfs.ext2")
            .args(["-q", "-F"])
            .arg(&image)
            .output();
        let looped = made.is_ok_and(|o| o.status.success())
            && Command::new("mount")
                .args(["-o", "loop"])
                .arg(&image)
                .arg(&mount)
                .output()
                .is_ok_and(|o| o.status.success());
        looped.then_some(Self { _base: base, mount })
    }
}

impl Drop for SmallFs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.mount).status();
    }
}

/// Fill the filesystem holding `dir` until ENOSPC, then give back `leave` bytes.
fn fill(dir: &Path, leave: u64) {
    let path = dir.join("filler");
    let mut f = OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)
        .unwrap();
    let chunk = vec![0xA5u8; 4096];
    loop {
        match f.write_all(&chunk).and_then(|()| f.sync_all()) {
            Ok(()) => {}
            Err(e) if e.raw_os_error() == Some(libc::ENOSPC) => break,
            Err(e) => panic!("filling: {e}"),
        }
    }
    let len = f.metadata().unwrap().len();
    f.set_len(len.saturating_sub(leave)).unwrap();
    f.sync_all().unwrap();
}

/// A photo whose stored JPEG is far bigger than the space left, while its thumbnail is not.
fn big_photo() -> Vec<u8> {
    jpeg(&textured(1600, 1200, 31), 95)
}

fn assert_nothing_written(photos: &Path, before: &std::collections::BTreeMap<PathBuf, String>) {
    let after = snapshot(photos);
    assert!(
        after.keys().all(|p| !p.to_string_lossy().ends_with(".tmp")),
        "temp left: {:?}",
        after.keys()
    );
    assert_eq!(&after, before, "the photo dir changed");
}

#[test]
fn a_full_disk_is_disk_full_and_leaves_nothing_behind() {
    if let Ok(dir) = std::env::var(CHILD_ENV) {
        return child_under_rlimit(Path::new(&dir));
    }
    let Some(fs) = SmallFs::mount() else {
        return rlimit_fallback();
    };
    let photos = fs.mount.join("photos");
    let existing = jpeg(&textured(120, 90, 30), 85);
    photo::process(
        PhotoSource::Bytes(&existing),
        &PipelineConfig::default(),
        &photos,
    )
    .unwrap();
    let before = snapshot(&photos);

    // Room for the thumbnail but not the photo: the published thumbnail must be rolled back.
    let leave = 48 * 1024;
    let scratch = tempfile::tempdir().unwrap();
    let sizes = photo::process(
        PhotoSource::Bytes(&big_photo()),
        &PipelineConfig::default(),
        scratch.path(),
    )
    .unwrap();
    let thumb_len = fs::metadata(&sizes.thumb_path).unwrap().len();
    assert!(
        thumb_len + 8192 < leave && sizes.bytes > 2 * leave,
        "thumb {thumb_len} B, photo {} B",
        sizes.bytes
    );
    fill(&fs.mount, leave);
    let err = photo::process(
        PhotoSource::Bytes(&big_photo()),
        &PipelineConfig::default(),
        &photos,
    )
    .unwrap_err();
    assert!(matches!(err, PhotoError::DiskFull), "{err:?}");
    assert_nothing_written(&photos, &before);

    // No room at all.
    fill(&fs.mount, 0);
    let small = jpeg(&textured(300, 200, 32), 85);
    let err = photo::process(
        PhotoSource::Bytes(&small),
        &PipelineConfig::default(),
        &photos,
    )
    .unwrap_err();
    assert!(matches!(err, PhotoError::DiskFull), "{err:?}");
    assert_nothing_written(&photos, &before);

    // Space freed: the same photo now stores fine, and the old one is still there.
    fs::remove_file(fs.mount.join("filler")).unwrap();
    let ok = photo::process(
        PhotoSource::Bytes(&big_photo()),
        &PipelineConfig::default(),
        &photos,
    )
    .unwrap();
    assert!(ok.path.exists());
    assert!(
        before
            .iter()
            .all(|(path, hash)| snapshot(&photos).get(path) == Some(hash))
    );
}

/// Re-run this test in a child limited to 64 KiB files.
fn rlimit_fallback() {
    let dir = tempfile::tempdir().unwrap();
    let exe = std::env::current_exe().unwrap();
    let script = "trap '' XFSZ; exec prlimit --fsize=65536 -- \"$0\" \"$@\"";
    let out = Command::new("sh")
        .args(["-c", script])
        .arg(&exe)
        .args([
            "--exact",
            "a_full_disk_is_disk_full_and_leaves_nothing_behind",
            "--nocapture",
        ])
        .env(CHILD_ENV, dir.path())
        .env_remove(NO_MOUNT_ENV)
        .output()
        .expect("run the RLIMIT_FSIZE child (needs sh and prlimit)");
    assert!(
        out.status.success(),
        "child under RLIMIT_FSIZE failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("1 passed"));
}

fn child_under_rlimit(dir: &Path) {
    let photos = dir.join("photos");
    let existing = jpeg(&textured(120, 90, 30), 85);
    photo::process(
        PhotoSource::Bytes(&existing),
        &PipelineConfig::default(),
        &photos,
    )
    .unwrap();
    let before = snapshot(&photos);
    let err = photo::process(
        PhotoSource::Bytes(&big_photo()),
        &PipelineConfig::default(),
        &photos,
    )
    .unwrap_err();
    // EFBIG, not ENOSPC: a clear I/O error is what this fallback can promise.
    assert!(
        matches!(err, PhotoError::DiskFull | PhotoError::Io(_)),
        "{err:?}"
    );
    assert_nothing_written(&photos, &before);
}
