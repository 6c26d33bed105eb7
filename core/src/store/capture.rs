//! Capturing evidence: a photo or the customer's signature becomes a stored file and an event,
//! recorded together.
//!
//! The heavy part (decode, resize, encode, hash, write) runs outside the store's lock, so other
//! actions and a running sync are not held up by a 12 MP photo. The rulebook is asked twice:
//! first with a provisional record, so a refused photo (say, a completion photo before
//! check-in) costs no processing, then for real inside the transaction that records it. A file
//! written for an action that is then refused stays on disk unreferenced (content-addressed, so
//! harmless), never the other way round: an event never points at a file that is not there.

use uuid::Uuid;

use super::{ActionError, FileRow, Store};
use crate::domain::{
    Event, EventBody, GeoPoint, PhotoCategory, PhotoRef, Refusal, Rule, SignatureRef,
};
use crate::photo::{self, PhotoSource, PipelineConfig, Signature};

/// What was recorded for a captured photo.
#[derive(Debug, Clone, PartialEq)]
pub struct CapturedPhoto {
    pub event: Event,
    pub photo_id: Uuid,
    pub sha256: String,
    pub width: u32,
    pub height: u32,
    pub bytes: u64,
    pub path: std::path::PathBuf,
    pub thumb_path: std::path::PathBuf,
}

/// What was recorded for the customer's signature: its event and the rendered image's photo.
#[derive(Debug, Clone, PartialEq)]
pub struct CapturedSignature {
    pub signature_event: Event,
    pub photo_event: Event,
    pub strokes_sha256: String,
    pub png_sha256: String,
}

impl Store {
    /// Process a camera photo and record it on the job, in one go.
    pub fn capture_photo(
        &self,
        job_id: Uuid,
        category: PhotoCategory,
        source: PhotoSource<'_>,
        location: Option<GeoPoint>,
        config: &PipelineConfig,
    ) -> Result<CapturedPhoto, ActionError> {
        let _capturing = self.capturing();
        let provisional = |photo_id| EventBody::PhotoCaptured {
            photo: PhotoRef {
                photo_id,
                category,
                sha256: "0".repeat(64),
                location,
            },
        };
        self.precheck(job_id, provisional(Uuid::nil()))?;
        let processed = photo::process(source, config, &self.photo_dir)?;
        let photo_id = Uuid::now_v7();
        let body = EventBody::PhotoCaptured {
            photo: PhotoRef {
                photo_id,
                category,
                sha256: processed.sha256.clone(),
                location,
            },
        };
        let row = FileRow {
            photo_id,
            category,
            sha256: &processed.sha256,
            width: processed.width,
            height: processed.height,
            bytes: processed.bytes,
            path: &processed.path,
            companions: vec![&processed.thumb_path],
            location,
        };
        let mut events = self.record(job_id, vec![(body, Some(row))])?;
        Ok(CapturedPhoto {
            event: events.remove(0),
            photo_id,
            sha256: processed.sha256,
            width: processed.width,
            height: processed.height,
            bytes: processed.bytes,
            path: processed.path,
            thumb_path: processed.thumb_path,
        })
    }

    /// Store the customer's strokes and their rendering, and record the signature (plus the
    /// rendered image as a `signature` photo, so it reaches the desk like any evidence).
    pub fn capture_signature(
        &self,
        job_id: Uuid,
        signature: &Signature,
    ) -> Result<CapturedSignature, ActionError> {
        let _capturing = self.capturing();
        let stroke_count = signature.strokes.len() as u32;
        let signature_body = |strokes_sha256: String| EventBody::SignatureCaptured {
            signature: SignatureRef {
                signature_id: Uuid::now_v7(),
                strokes_sha256,
                stroke_count,
            },
        };
        self.precheck(job_id, signature_body("0".repeat(64)))?;
        let stored = photo::store_signature(signature, &self.photo_dir)?;
        let png_bytes = std::fs::metadata(&stored.png_path)
            .map_err(|e| ActionError::Photo(e.into()))?
            .len();
        let photo_id = Uuid::now_v7();
        let photo_body = EventBody::PhotoCaptured {
            photo: PhotoRef {
                photo_id,
                category: PhotoCategory::Signature,
                sha256: stored.png_sha256.clone(),
                location: None,
            },
        };
        let row = FileRow {
            photo_id,
            category: PhotoCategory::Signature,
            sha256: &stored.png_sha256,
            width: signature.width,
            height: signature.height,
            bytes: png_bytes,
            path: &stored.png_path,
            companions: vec![&stored.strokes_path],
            location: None,
        };
        let mut events = self.record(
            job_id,
            vec![
                (signature_body(stored.strokes_sha256.clone()), None),
                (photo_body, Some(row)),
            ],
        )?;
        let photo_event = events.remove(1);
        Ok(CapturedSignature {
            signature_event: events.remove(0),
            photo_event,
            strokes_sha256: stored.strokes_sha256,
            png_sha256: stored.png_sha256,
        })
    }

    /// Would the rulebook take this action now? Saves processing a photo it would refuse.
    fn precheck(&self, job_id: Uuid, body: EventBody) -> Result<(), ActionError> {
        let technician = self.technician_id()?.ok_or(ActionError::NotEnrolled)?;
        let kind = body.kind();
        let view = self
            .view(job_id)?
            .ok_or_else(|| Refusal::new(Rule::UnknownJob, kind))?;
        let probe = self.field_event(technician, job_id, body, None, None);
        self.rulebook().check(Some(&view), &probe)?;
        Ok(())
    }
}
