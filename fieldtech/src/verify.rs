//! `fieldtech verify`: check an evidence bundle offline (ADR 0017). Needs no device store and
//! no network: an ordering party runs it on a bundle it was given.

use std::cell::RefCell;
use std::fs::File;
use std::io::Read;
use std::path::Path;

use std::collections::HashMap;

use anyhow::{Context, Result, anyhow};
use fieldcore::evidence::{MANIFEST, Manifest, Verification, pinned, verify};
use uuid::Uuid;

/// No part of a bundle is read past this (a zip can claim any size): far above a job's
/// manifest or one photo.
const MAX_PART: u64 = 256 << 20;

/// The bundle's manifest and what checking it found, its device keys against `keys` (each
/// `DEVICE_ID=HEX_KEY`).
pub fn check(path: &Path, keys: &[String]) -> Result<(Manifest, Verification)> {
    let pins = keys
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
    let file = File::open(path).with_context(|| format!("opening {}", path.display()))?;
    let zip = RefCell::new(
        zip::ZipArchive::new(file).with_context(|| format!("{} is not a zip", path.display()))?,
    );
    let manifest: Manifest = {
        let bytes = part(&mut zip.borrow_mut(), MANIFEST)?.ok_or_else(|| {
            anyhow!(
                "{} has no {MANIFEST}: not an evidence bundle",
                path.display()
            )
        })?;
        serde_json::from_slice(&bytes).with_context(|| format!("reading {MANIFEST}"))?
    };
    let mut verification = verify(&manifest, &|name| {
        part(&mut zip.borrow_mut(), name).ok().flatten()
    });
    verification.problems.extend(pinned(&manifest, &pins));
    Ok((manifest, verification))
}

/// One file of the bundle; `None` if it has no such file.
fn part(zip: &mut zip::ZipArchive<File>, name: &str) -> Result<Option<Vec<u8>>> {
    let entry = match zip.by_name(name) {
        Ok(e) => e,
        Err(zip::result::ZipError::FileNotFound) => return Ok(None),
        Err(e) => return Err(e).with_context(|| format!("reading {name}")),
    };
    let mut bytes = Vec::new();
    entry
        .take(MAX_PART + 1)
        .read_to_end(&mut bytes)
        .with_context(|| format!("reading {name}"))?;
    if bytes.len() as u64 > MAX_PART {
        return Err(anyhow!("{name} is larger than {MAX_PART} bytes"));
    }
    Ok(Some(bytes))
}
