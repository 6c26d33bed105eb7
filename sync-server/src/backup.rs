//! Online backup and restore of the embedded default (SQLite + the photo directory), while the
//! server keeps serving. PostgreSQL and object storage have their own tools (`pg_dump` or
//! continuous archiving; bucket versioning and replication), so these commands refuse them.
//!
//! A backup is a directory: `fieldcore.sqlite`, a consistent snapshot taken with SQLite's
//! backup API in one step (one read transaction: WAL lets the writer go on meanwhile), then
//! `blobs/`, copied after the snapshot. Blobs are immutable and written before the photo that
//! names them is linked, so every blob the snapshot names is there (newer ones are harmless).
//! Unfinished uploads are not kept: their bytes change under the copy, so a restore forgets
//! them and phones start those uploads again (a resumable upload that is gone answers 404, and
//! the phone creates a new one; its photo is still on the phone).

use std::path::{Path, PathBuf};

use anyhow::{Context, bail, ensure};
use rusqlite::{Connection, OpenFlags};

use crate::config::Config;

const DATABASE: &str = "fieldcore.sqlite";
/// Written last by a backup: a backup without it was cut short (blobs may be missing) and is
/// never restored.
const COMPLETE: &str = "BACKUP-COMPLETE";

/// What a backup or restore copied.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Copied {
    pub database_bytes: u64,
    pub blobs: u64,
    /// Unfinished uploads forgotten (restore only).
    pub uploads_forgotten: u64,
}

fn embedded_only(config: &Config) -> anyhow::Result<()> {
    ensure!(
        config.database_url.is_none(),
        "backup/restore is for the embedded SQLite database; back PostgreSQL up with its own \
         tools (pg_dump, continuous archiving)"
    );
    ensure!(
        config.object_store_url.is_none(),
        "backup/restore is for photos in the data directory; object storage keeps its own \
         copies (bucket versioning, replication)"
    );
    Ok(())
}

/// Back the data directory of `config` up into `to`, which must not exist yet.
pub fn backup(config: &Config, to: &Path) -> anyhow::Result<Copied> {
    embedded_only(config)?;
    let source = config.data_dir.join(DATABASE);
    ensure!(source.exists(), "no database at {}", source.display());
    ensure!(
        !to.exists(),
        "{} exists already: back up into a new directory",
        to.display()
    );
    std::fs::create_dir_all(to).with_context(|| format!("creating {}", to.display()))?;
    let src = Connection::open_with_flags(&source, OpenFlags::SQLITE_OPEN_READ_ONLY)?;
    src.busy_timeout(std::time::Duration::from_secs(30))?;
    let target = to.join(DATABASE);
    {
        let mut dst = Connection::open(&target)?;
        copy_database(&src, &mut dst)?;
    }
    check(&target)?;
    let blobs = copy_blobs(&config.data_dir.join("blobs"), &to.join("blobs"))?;
    let marker = to.join(COMPLETE);
    std::fs::write(&marker, format!("blobs {blobs}\n"))?;
    std::fs::File::open(&marker)?.sync_all()?;
    sync_dir(to)?;
    Ok(Copied {
        database_bytes: std::fs::metadata(&target)?.len(),
        blobs,
        uploads_forgotten: 0,
    })
}

/// Restore the backup in `from` into the data directory of `config`, which must hold no
/// database yet. The restored database is migrated when the server opens it.
pub fn restore(from: &Path, config: &Config) -> anyhow::Result<Copied> {
    embedded_only(config)?;
    let source = from.join(DATABASE);
    ensure!(source.exists(), "{} holds no backup", from.display());
    ensure!(
        from.join(COMPLETE).exists(),
        "{} is a backup that was cut short (no {COMPLETE}): take another",
        from.display()
    );
    let target = config.data_dir.join(DATABASE);
    // A leftover log of another database would be replayed onto the restored one.
    for name in [
        DATABASE,
        "fieldcore.sqlite-wal",
        "fieldcore.sqlite-shm",
        "fieldcore.sqlite-journal",
    ] {
        let path = config.data_dir.join(name);
        if path.exists() {
            bail!(
                "{} exists: restore into an empty data directory (never over a live one)",
                path.display()
            );
        }
    }
    check(&source)?;
    std::fs::create_dir_all(&config.data_dir)?;
    let blobs = copy_blobs(&from.join("blobs"), &config.data_dir.join("blobs"))?;
    // The database last, through a temporary name: a restore cut short leaves no database
    // that a server would start on with blobs missing.
    let partial = config.data_dir.join(format!("{DATABASE}.restoring"));
    let _ = std::fs::remove_file(&partial);
    let forgotten = {
        let src = Connection::open_with_flags(&source, OpenFlags::SQLITE_OPEN_READ_ONLY)?;
        let mut dst = Connection::open(&partial)?;
        copy_database(&src, &mut dst)?;
        // Unfinished uploads: their bytes are not in a backup.
        let forgotten = dst.execute("DELETE FROM uploads WHERE completed_at IS NULL", [])?;
        // No -wal file beside the renamed database: the server switches WAL on again.
        dst.pragma_update(None, "journal_mode", "DELETE")?;
        forgotten
    };
    std::fs::File::open(&partial)?.sync_all()?;
    std::fs::rename(&partial, &target)?;
    sync_dir(&config.data_dir)?;
    Ok(Copied {
        database_bytes: std::fs::metadata(&target)?.len(),
        blobs,
        uploads_forgotten: forgotten as u64,
    })
}

/// SQLite's backup API, all pages in one step: one read transaction, so one consistent moment
/// (WAL lets the server's writer go on). Retried while the source is locked.
fn copy_database(src: &Connection, dst: &mut Connection) -> anyhow::Result<()> {
    use rusqlite::backup::{Backup, StepResult};
    let backup = Backup::new(src, dst)?;
    for _ in 0..600 {
        match backup.step(-1)? {
            StepResult::Done => return Ok(()),
            StepResult::More | StepResult::Busy | StepResult::Locked => {
                std::thread::sleep(std::time::Duration::from_millis(50));
            }
            _ => std::thread::sleep(std::time::Duration::from_millis(50)),
        }
    }
    bail!("the database stayed locked for 30 s; nothing was backed up")
}

/// SQLite's own check of the copy.
fn check(db: &Path) -> anyhow::Result<()> {
    let c = Connection::open_with_flags(db, OpenFlags::SQLITE_OPEN_READ_ONLY)?;
    let verdict: String = c.query_row("PRAGMA integrity_check", [], |r| r.get(0))?;
    ensure!(
        verdict == "ok",
        "{}: integrity check: {verdict}",
        db.display()
    );
    Ok(())
}

/// Copy `blobs/<aa>/<sha256>` files that are not in `to` yet, each fsynced; returns how many
/// blobs `to` holds.
fn copy_blobs(from: &Path, to: &Path) -> anyhow::Result<u64> {
    let mut n = 0;
    let Ok(dirs) = std::fs::read_dir(from) else {
        return Ok(0);
    };
    for dir in dirs {
        let dir = dir?;
        if !dir.file_type()?.is_dir() {
            continue;
        }
        let target_dir: PathBuf = to.join(dir.file_name());
        std::fs::create_dir_all(&target_dir)?;
        for file in std::fs::read_dir(dir.path())? {
            let file = file?;
            // A copy cut short by a killed backup is not a blob.
            if file.path().extension().is_some_and(|e| e == "copying") {
                continue;
            }
            let target = target_dir.join(file.file_name());
            if !target.exists() {
                let tmp = target.with_extension("copying");
                std::fs::copy(file.path(), &tmp)?;
                std::fs::File::open(&tmp)?.sync_all()?;
                std::fs::rename(&tmp, &target)?;
            }
            n += 1;
        }
        sync_dir(&target_dir)?;
    }
    sync_dir(to)?;
    Ok(n)
}

fn sync_dir(dir: &Path) -> anyhow::Result<()> {
    std::fs::File::open(dir)
        .and_then(|d| d.sync_all())
        .with_context(|| format!("syncing {}", dir.display()))
}
