//! A job's evidence report (ADR 0017): a PDF for people ([`pdf`]) and a bundle for machines
//! ([`bundle`]), both from one [`Evidence`] gathered here, so the two never disagree.

pub mod bundle;
pub mod pdf;

use std::collections::{BTreeMap, HashMap, HashSet};

use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use chrono::{DateTime, Utc};
use fieldcore::domain::{Actor, Lang};
use fieldcore::evidence::{
    BundledPhoto, DeviceChain, FORMAT, Manifest, Recorded, Refused, Verification,
};
use sha2::{Digest, Sha256};
use tokio::sync::Semaphore;
use uuid::Uuid;

use crate::AppState;
use crate::error::ApiError;
use crate::ingest::WRONG_DEVICE;
use crate::storage::{JobDetail, Organisation};

/// A job's photos, together, at most this in one report or bundle: hundreds of phone photos
/// fit many times over; a job made to hold gigabytes (a hostile phone uploading the largest
/// files it may) is refused rather than read into memory.
pub const MAX_EVIDENCE_BYTES: u64 = 512 << 20;

/// Reports and bundles made at once, across the process: each holds a job's photos in memory
/// and decodes or hashes them; others wait their turn (within the request's timeout).
static MAKING: Semaphore = Semaphore::const_new(2);

/// Everything a report shows, read once.
#[derive(Debug)]
pub struct Evidence {
    pub manifest: Manifest,
    pub detail: JobDetail,
    /// Each bundled photo's bytes, by the file name the manifest gives it.
    pub files: BTreeMap<String, Bytes>,
    /// The bundle checked as an ordering party would check it, when it was made.
    pub verification: Verification,
}

/// Read the job, its devices' chains around it and its photos; `None` if the organisation has
/// no such job. Checking the bundle hashes every photo: it runs off the async workers.
pub async fn gather(
    state: &AppState,
    org: &Organisation,
    job: Uuid,
    now: DateTime<Utc>,
) -> Result<Option<Evidence>, ApiError> {
    let Some(mut detail) = state.storage.job(org.id, job).await? else {
        return Ok(None);
    };
    // An event refused for naming another device is whoever the sender claimed, and one
    // refused as `unknown_job` came from a device never given the job: neither is the job's
    // evidence (and the second would show another technician's chain to this job's
    // customer). One refused and later accepted (sent again) is the stored one.
    let stored: HashSet<Uuid> = detail.timeline.iter().map(|t| t.event.id).collect();
    let unknown_job = fieldcore::domain::Rule::UnknownJob.code();
    let refused: Vec<&crate::storage::Rejection> = detail
        .rejections
        .iter()
        .filter(|r| r.rule != WRONG_DEVICE && r.rule != unknown_job)
        .filter(|r| !stored.contains(&r.event.id))
        .collect();
    let shown: HashSet<Uuid> = stored
        .iter()
        .copied()
        .chain(refused.iter().map(|r| r.event.id))
        .collect();
    // Each device's span of the job, in its own sequence.
    let mut spans: BTreeMap<Uuid, (i64, i64)> = BTreeMap::new();
    let field = detail
        .timeline
        .iter()
        .map(|t| &t.event)
        .chain(refused.iter().map(|r| &r.event));
    for e in field {
        if let (Actor::Technician { device_id, .. }, Some(seq)) = (e.actor, e.device_seq) {
            let span = spans.entry(device_id).or_insert((seq, seq));
            *span = (span.0.min(seq), span.1.max(seq));
        }
    }
    let mut chains = Vec::new();
    for (device, (lo, hi)) in spans {
        let (key, events) = state
            .storage
            .device_chain(org.id, device, lo.saturating_sub(1), hi.saturating_add(1))
            .await?;
        // A device that never sent its key has no chain to show: its events then fail the
        // bundle's check as not in any chain, which is what they are. The chain is read after
        // the job: an event recorded since is not in the record read, and the stretch stops
        // before it.
        if let Some(key) = key.and_then(|k| hex::decode(k).ok()) {
            chains.push(DeviceChain::around(job, device, &key, &events, &|id| {
                shown.contains(id)
            }));
        }
    }
    let mut files = BTreeMap::new();
    let mut photos = Vec::new();
    let mut total = 0u64;
    for p in &detail.photos {
        let bytes = match &p.blob_path {
            Some(rel) => state
                .blobs
                .read_blob(rel)
                .await
                .map_err(ApiError::internal)?,
            None => None,
        };
        let file = match bytes {
            Some(b) => {
                total = total.saturating_add(b.len() as u64);
                if total > MAX_EVIDENCE_BYTES {
                    return Err(ApiError::too_large(format!(
                        "this job's photos are more than {} MiB together: too large for one \
                         report or bundle",
                        MAX_EVIDENCE_BYTES >> 20
                    )));
                }
                let ext = match crate::tus::sniff_image(&b) {
                    Some("image/png") => "png",
                    Some(_) => "jpg",
                    None => "bin",
                };
                let name = format!("photos/{}.{ext}", p.photo_id);
                files.insert(name.clone(), b);
                Some(name)
            }
            None => None,
        };
        photos.push(BundledPhoto {
            photo_id: p.photo_id,
            category: p.category.clone(),
            sha256: p.sha256.clone(),
            file,
        });
    }
    let manifest = Manifest {
        format: FORMAT.to_string(),
        job_id: job,
        job_number: detail.view.number.map(|n| n.to_string()),
        generated_at: now,
        events: detail
            .timeline
            .iter()
            .map(|t| Recorded {
                event: t.event.clone(),
                server_received_at: t.server_received_at,
                corrected_at: t.corrected_at,
                flags: t.flags.clone(),
            })
            .collect(),
        refused: refused
            .iter()
            .map(|r| Refused {
                event: r.event.clone(),
                rule: r.rule.clone(),
                message: r.message.clone(),
                received_at: r.received_at,
            })
            .collect(),
        chains,
        photos,
    };
    // The report shows what was refused as the console does, forged actors included.
    detail.rejections.retain(|r| !stored.contains(&r.event.id));
    let (manifest, files, verification) = tokio::task::spawn_blocking(move || {
        let hashes: HashMap<&str, String> = files
            .iter()
            .map(|(name, b)| (name.as_str(), hex::encode(Sha256::digest(b))))
            .collect();
        let v = fieldcore::evidence::verify(&manifest, &|name| hashes.get(name).cloned());
        drop(hashes);
        (manifest, files, v)
    })
    .await
    .map_err(ApiError::internal)?;
    Ok(Some(Evidence {
        manifest,
        detail,
        files,
        verification,
    }))
}

/// Which of the two a download is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// The zip for machines.
    Bundle,
    /// The PDF for people.
    Report,
}

/// The report or the bundle of one job of `org`, as a download; `None` if the organisation has
/// no such job. Shared by the API and the console.
pub async fn download(
    state: &AppState,
    org: &Organisation,
    job: Uuid,
    format: Format,
    lang: Lang,
) -> Result<Option<Response>, ApiError> {
    let _turn = MAKING.acquire().await.map_err(ApiError::internal)?;
    let now = state.config.clock.now();
    let Some(evidence) = gather(state, org, job, now).await? else {
        return Ok(None);
    };
    let technicians: HashMap<Uuid, String> = state
        .storage
        .technicians(org.id)
        .await?
        .into_iter()
        .map(|t| (t.id, t.name))
        .collect();
    let number = evidence
        .detail
        .view
        .number
        .map(|n| n.to_string())
        .unwrap_or_else(|| job.to_string());
    let org = org.clone();
    // Zipping and decoding photos are CPU work: off the async workers.
    let (bytes, content_type, ext) = tokio::task::spawn_blocking(move || match format {
        Format::Bundle => bundle::zip(&evidence)
            .map(|b| (b, "application/zip", "zip"))
            .map_err(ApiError::internal),
        Format::Report => {
            let cx = pdf::Context {
                org: &org,
                technicians: &technicians,
                ui: crate::console::html::Ui {
                    lang,
                    offset: org.policy.calendar.offset(),
                },
                now,
            };
            Ok((pdf::render(&evidence, &cx), "application/pdf", "pdf"))
        }
    })
    .await
    .map_err(ApiError::internal)??;
    let mut res = bytes.into_response();
    let h = res.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    // The number is the organisation's (digits and a prefix), the id a UUID: nothing to escape,
    // and kept to safe characters all the same.
    let file: String = format!("{number}-evidence.{ext}")
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || "-_.".contains(*c))
        .collect();
    if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"{file}\"")) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("private, no-store"),
    );
    Ok(Some(res))
}
