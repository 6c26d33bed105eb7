//! A job's evidence report (ADR 0017): a PDF for people ([`pdf`]) and a bundle for machines
//! ([`bundle`]), both from one [`Evidence`] gathered here, so the two never disagree.

pub mod bundle;
pub mod pdf;

use std::collections::BTreeMap;

use bytes::Bytes;
use chrono::{DateTime, Utc};
use fieldcore::domain::{Actor, Event};
use fieldcore::evidence::{
    BundledPhoto, DeviceChain, FORMAT, Manifest, Recorded, Refused, Verification,
};
use uuid::Uuid;

use crate::AppState;
use crate::error::ApiError;
use crate::storage::{JobDetail, Organisation};

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
/// no such job.
pub async fn gather(
    state: &AppState,
    org: &Organisation,
    job: Uuid,
    now: DateTime<Utc>,
) -> Result<Option<Evidence>, ApiError> {
    let Some(detail) = state.storage.job(org.id, job).await? else {
        return Ok(None);
    };
    // Each device's span of the job, in its own sequence.
    let mut spans: BTreeMap<Uuid, (i64, i64)> = BTreeMap::new();
    let field = detail
        .timeline
        .iter()
        .map(|t| &t.event)
        .chain(detail.rejections.iter().map(|r| &r.event));
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
        // bundle's check as not in any chain, which is what they are.
        if let Some(key) = key.and_then(|k| hex::decode(k).ok()) {
            chains.push(DeviceChain::around(job, device, &key, &events));
        }
    }
    let mut files = BTreeMap::new();
    let mut photos = Vec::new();
    for p in &detail.photos {
        let bytes = match &p.blob_path {
            Some(rel) => state
                .blobs
                .read_blob(rel)
                .await
                .map_err(ApiError::internal)?,
            None => None,
        };
        let file = bytes.map(|b| {
            let ext = match crate::tus::sniff_image(&b) {
                Some("image/png") => "png",
                Some(_) => "jpg",
                None => "bin",
            };
            let name = format!("photos/{}.{ext}", p.photo_id);
            files.insert(name.clone(), b);
            name
        });
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
        refused: detail
            .rejections
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
    let verification =
        fieldcore::evidence::verify(&manifest, &|name| files.get(name).map(|b| b.to_vec()));
    Ok(Some(Evidence {
        manifest,
        detail,
        files,
        verification,
    }))
}

/// The device that recorded `e`, if a device did.
pub fn device_of(e: &Event) -> Option<Uuid> {
    match e.actor {
        Actor::Technician { device_id, .. } => Some(device_id),
        Actor::Dispatcher { .. } => None,
    }
}

/// Which of the two a download is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// The zip for machines.
    Bundle,
    /// The PDF for people.
    Report,
}

/// The report or the bundle of one job of `org`, as a download; shared by the API and the
/// console.
pub async fn download(
    state: &AppState,
    org: &Organisation,
    job: Uuid,
    format: Format,
    lang: fieldcore::domain::Lang,
) -> Result<axum::response::Response, ApiError> {
    use axum::http::{HeaderValue, header};
    use axum::response::IntoResponse;

    let now = state.config.clock.now();
    let evidence = gather(state, org, job, now)
        .await?
        .ok_or_else(|| ApiError::not_found("job"))?;
    let technicians: std::collections::HashMap<Uuid, String> = state
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
    Ok(res)
}
