//! Atomic, content-addressed, never-overwritten files.
//!
//! Evidence must never be half-written or silently replaced, and the app can be killed at any
//! instant. So every file is written to a uniquely named temp file in its final directory,
//! fsynced, then published with `link(2)`, which fails instead of replacing if the name exists
//! (the no-clobber form of the usual rename trick), and the directory is fsynced so the name
//! survives a power cut. The name is the SHA-256 of the bytes, so "exists" means "same bytes".

use std::fs::{self, File, OpenOptions};
use std::io::{ErrorKind, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use sha2::{Digest, Sha256};

use super::error::PhotoError;

/// Lowercase hex SHA-256: the name of the bytes everywhere (file name, record, upload checksum).
pub(crate) fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// Refuse anything that is not a hash before it becomes part of a path (`../` and friends).
pub(crate) fn check_hash(sha256: &str) -> Result<(), PhotoError> {
    let ok = sha256.len() == 64
        && sha256
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
    if ok {
        Ok(())
    } else {
        Err(PhotoError::InvalidHash(sha256.to_owned()))
    }
}

/// `<dir>/<first two hex>/<sha256><suffix>`: 256 shards keep directories small on phones
/// that hold thousands of photos.
pub(crate) fn content_path(dir: &Path, sha256: &str, suffix: &str) -> PathBuf {
    let shard = sha256.get(..2).unwrap_or("xx");
    dir.join(shard).join(format!("{sha256}{suffix}"))
}

/// Write `bytes` at `target` unless it exists. Returns `true` if it already existed (and so was
/// not touched). On error no temp file is left behind and nothing existing is changed.
pub(crate) fn write_once(target: &Path, bytes: &[u8]) -> Result<bool, PhotoError> {
    if target.try_exists()? {
        // Fresh again: housekeeping takes an old file nobody recorded for a leftover, and this
        // one is about to be recorded. Gone meanwhile (housekeeping of another process): write
        // it after all.
        match OpenOptions::new().write(true).open(target) {
            Ok(f) => {
                let _ = f.set_modified(std::time::SystemTime::now());
                return Ok(true);
            }
            Err(e) if e.kind() == ErrorKind::NotFound => {}
            Err(_) => return Ok(true),
        }
    }
    let shard = target
        .parent()
        .ok_or_else(|| PhotoError::NotFound(target.to_path_buf()))?;
    let created_shard = ensure_dir(shard)?;
    let temp = TempFile::create(shard)?;
    temp.write_synced(bytes)?;
    let existed = match fs::hard_link(&temp.path, target) {
        Ok(()) => false,
        Err(e) if e.kind() == ErrorKind::AlreadyExists => true,
        // A filesystem without hard links (some FUSE mounts): rename is still atomic, only not
        // no-clobber, and the content is identical by construction if someone raced us.
        Err(e)
            if matches!(
                e.kind(),
                ErrorKind::Unsupported | ErrorKind::PermissionDenied
            ) =>
        {
            fs::rename(&temp.path, target)?;
            false
        }
        Err(e) => return Err(e.into()),
    };
    drop(temp);
    sync_dir(shard)?;
    if created_shard && let Some(parent) = shard.parent() {
        sync_dir(parent)?;
    }
    Ok(existed)
}

/// Remove a file we published in this call, when a later step of the same call failed.
pub(crate) fn remove_if_exists(path: &Path) -> Result<bool, PhotoError> {
    match fs::remove_file(path) {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == ErrorKind::NotFound => Ok(false),
        Err(e) => Err(e.into()),
    }
}

fn ensure_dir(dir: &Path) -> Result<bool, PhotoError> {
    if dir.is_dir() {
        return Ok(false);
    }
    fs::create_dir_all(dir)?;
    Ok(true)
}

pub(crate) fn sync_dir(dir: &Path) -> Result<(), PhotoError> {
    File::open(dir)?.sync_all()?;
    Ok(())
}

/// A temp file that deletes itself unless it was published; the drop is what guarantees
/// "no partial file" on every error path, including a panic.
struct TempFile {
    path: PathBuf,
    file: File,
}

static TEMP_COUNTER: AtomicU64 = AtomicU64::new(0);

impl TempFile {
    /// Dot-prefixed and `.tmp`-suffixed, so listings and a future sweep can tell leftovers of a
    /// killed process from evidence; pid + counter + `create_new` keep concurrent writers apart.
    fn create(dir: &Path) -> Result<Self, PhotoError> {
        loop {
            let n = TEMP_COUNTER.fetch_add(1, Ordering::Relaxed);
            let path = dir.join(format!(".{}-{n}.tmp", std::process::id()));
            match OpenOptions::new().write(true).create_new(true).open(&path) {
                Ok(file) => return Ok(Self { path, file }),
                Err(e) if e.kind() == ErrorKind::AlreadyExists => continue,
                Err(e) => return Err(e.into()),
            }
        }
    }

    fn write_synced(&self, bytes: &[u8]) -> Result<(), PhotoError> {
        (&self.file).write_all(bytes)?;
        self.file.sync_all()?;
        Ok(())
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = fs::remove_file(&self.path);
    }
}
