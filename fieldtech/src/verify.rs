//! `fieldtech verify`: check an evidence bundle offline (ADR 0017). Needs no device store and
//! no network: an ordering party runs it on a bundle it was given.

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::fs::File;
use std::io::Read;
use std::path::Path;

use anyhow::{Context, Result, anyhow};
use fieldcore::evidence::{
    MANIFEST, Manifest, Problem, Verification, listed_files, pinned, received, verify,
};
use sha2::{Digest, Sha256};
use uuid::Uuid;

/// The manifest is read to at most this (a zip can claim any size): far above a job's.
const MAX_MANIFEST: u64 = 64 << 20;
/// All photo files together are hashed to at most this, however the bundle is made.
const MAX_READ: u64 = 8 << 30;

/// What `fieldtech verify` was asked.
#[derive(Debug)]
pub struct Ask<'a> {
    pub bundle: &'a Path,
    /// Keys the checker holds already, each `DEVICE_ID=HEX_KEY`.
    pub keys: &'a [String],
    /// The job the bundle must be of.
    pub job: Option<Uuid>,
    /// Events the checker received as they happened: each must be in the bundle, verified.
    pub events: &'a [Uuid],
}

/// The bundle's manifest and what checking it found.
pub fn check(ask: &Ask<'_>) -> Result<(Manifest, Verification)> {
    let pins = ask
        .keys
        .iter()
        .map(|k| {
            let (device, key) = k
                .split_once('=')
                .ok_or_else(|| anyhow!("--key {k:?}: expected DEVICE_ID=KEY"))?;
            let device: Uuid = device
                .parse()
                .with_context(|| format!("--key {k:?}: not a device id"))?;
            Ok((device, key.to_string()))
        })
        .collect::<Result<HashMap<_, _>>>()?;
    let path = ask.bundle;
    let file = File::open(path).with_context(|| format!("opening {}", path.display()))?;
    let zip = RefCell::new(
        zip::ZipArchive::new(file).with_context(|| format!("{} is not a zip", path.display()))?,
    );
    let manifest: Manifest = {
        let mut zip = zip.borrow_mut();
        let entry = zip.by_name(MANIFEST).map_err(|_| {
            anyhow!(
                "{} has no {MANIFEST}: not an evidence bundle",
                path.display()
            )
        })?;
        let mut bytes = Vec::new();
        entry.take(MAX_MANIFEST + 1).read_to_end(&mut bytes)?;
        if bytes.len() as u64 > MAX_MANIFEST {
            return Err(anyhow!("{MANIFEST} is larger than {MAX_MANIFEST} bytes"));
        }
        serde_json::from_slice(&bytes).with_context(|| format!("reading {MANIFEST}"))?
    };
    let budget = Cell::new(MAX_READ);
    let mut v = verify(&manifest, &|name| {
        sha256(&mut zip.borrow_mut(), name, &budget)
    });
    if budget.get() == 0 {
        return Err(anyhow!(
            "the photos are larger than {MAX_READ} bytes together"
        ));
    }
    if let Some(job) = ask.job.filter(|j| *j != manifest.job_id) {
        v.add([Problem::NotTheJob {
            expected: job,
            found: manifest.job_id,
        }]);
    }
    v.add(pinned(&manifest, &pins));
    v.add(received(&v, ask.events));
    // A file the manifest does not account for is one nobody checked.
    let listed = listed_files(&manifest);
    let names: Vec<String> = zip
        .borrow()
        .file_names()
        .map(|n| {
            n.map(|n| n.into_owned())
                .unwrap_or_else(|e| format!("(a name not UTF-8: {e})"))
        })
        .collect();
    v.add(
        names
            .into_iter()
            .filter(|n| !listed.contains(n))
            .map(|name| Problem::Unexpected { name }),
    );
    Ok((manifest, v))
}

/// The hex SHA-256 of one file of the bundle, read as a stream; `None` if it has no such file
/// or the read budget is spent (then `budget` is 0).
fn sha256(zip: &mut zip::ZipArchive<File>, name: &str, budget: &Cell<u64>) -> Option<String> {
    let mut entry = zip.by_name(name).ok()?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 64 << 10];
    loop {
        let n = entry.read(&mut buf).ok()?;
        if n == 0 {
            return Some(hex::encode(hasher.finalize()));
        }
        let left = budget.get().saturating_sub(n as u64);
        budget.set(left);
        if left == 0 {
            return None;
        }
        hasher.update(&buf[..n]);
    }
}
