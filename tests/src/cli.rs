//! The `fieldtech` binary, run as a technician runs it: a separate process on a device store.

use std::path::{Path, PathBuf};
use std::process::Command;

/// The `fieldtech` binary of this workspace (built by `cargo build --workspace --bins`).
pub fn fieldtech() -> PathBuf {
    let exe = std::env::current_exe().expect("test binary");
    let dir = exe
        .parent()
        .and_then(Path::parent)
        .expect("target/<profile>");
    let bin = dir.join("fieldtech");
    assert!(
        bin.exists(),
        "{} is missing: run `cargo build --workspace --bins` first (scripts/test does)",
        bin.display()
    );
    bin
}

/// Run `fieldtech --db DB ARGS`, which must succeed; its standard output.
pub fn run(db: &Path, args: &[&str]) -> String {
    let out = Command::new(fieldtech())
        .arg("--db")
        .arg(db)
        .args(args)
        .output()
        .expect("run fieldtech");
    assert!(
        out.status.success(),
        "fieldtech {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}
