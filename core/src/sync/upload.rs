//! Photo upload by tus 1.0: create once, then PATCH chunks from the server's offset.
//!
//! Built for the basement (a few KB/s, loss, links that flap):
//! - Chunks are sized by time at the measured rate ([`super::link`]), so each request ends well
//!   inside its deadline and a cut costs seconds of work.
//! - A request fails when no byte moves for `stall_timeout` (per read and write), never for
//!   being long: a slow request that keeps moving is left to finish.
//! - After any failure the client asks the server (`HEAD`) where it stands and goes on from
//!   there: the server keeps what arrived. A busy upload (423, a cut request of ours still holds
//!   it) is tried again after its `Retry-After`, within the same sync.
//! - It gives up only after `backoff.attempts` failures in a row with no byte gained: while the
//!   server's offset moves, it keeps going.
//! - Progress counts bytes as they leave the device, not per confirmed chunk, and never goes
//!   back: bytes lost on a cut are sent again without moving it.
//!
//! The upload URL is in the store, so even an app restart resumes rather than restarts.
//!
//! Chunks carry no per-chunk `Upload-Checksum`: the server verifies the SHA-256 of the whole
//! file against the `PhotoCaptured` record at the last byte (and TLS guards each record on the
//! way), while a checksummed chunk is all-or-nothing, so a cut would throw away what did arrive,
//! and hashing every chunk twice more cost a third of the upload's time (docs/benchmarks.md).

use std::cell::Cell;
use std::collections::HashMap;
use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::time::Instant;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use ureq::SendBody;
use uuid::Uuid;

use super::error::SyncError;
use super::http::{Answer, CountingBody};
use super::link::Mark;
use super::{PhotoProgress, Progress, Session, SyncClient, SyncReport};
use crate::protocol::upload_metadata as meta;
use crate::store::{PendingPhoto, Store};

const TUS_VERSION: &str = "1.0.0";

/// The photos of one sync: the totals for "n of N", and what was shown of each so far.
pub(super) struct UploadRound {
    count: u32,
    sync_total: u64,
    /// Bytes shown over all photos: the sum of their high-water marks.
    sync_sent: Cell<u64>,
    /// Each photo's high-water mark, for a photo taken up again later in the sync (a busy one).
    shown: HashMap<Uuid, u64>,
}

impl UploadRound {
    pub fn new(photos: &[PendingPhoto]) -> UploadRound {
        UploadRound {
            count: u32::try_from(photos.len()).unwrap_or(u32::MAX),
            sync_total: photos.iter().map(|p| p.bytes).sum(),
            sync_sent: Cell::new(0),
            shown: HashMap::new(),
        }
    }
}

/// One photo's progress as shown: a high-water mark, so it only moves forward.
struct Shown<'a> {
    photo: &'a PendingPhoto,
    number: u32,
    length: u64,
    mark: Mark,
}

impl Shown<'_> {
    /// `position` bytes of the photo have left the device (or are on the server).
    fn reach(&self, position: u64, round: &UploadRound, progress: &dyn Fn(Progress)) {
        let before = self.mark.at();
        let due = self.mark.advance(position, self.length);
        let gained = self.mark.at() - before;
        round
            .sync_sent
            .set(round.sync_sent.get().saturating_add(gained));
        if let Some(at) = due {
            progress(Progress::Uploading(PhotoProgress {
                photo_id: self.photo.photo_id,
                job_id: self.photo.job_id,
                category: self.photo.category.clone(),
                number: self.number,
                count: round.count,
                sent: at,
                total: self.length,
                sync_sent: round.sync_sent.get().min(round.sync_total),
                sync_total: round.sync_total,
            }));
        }
    }
}

impl SyncClient {
    /// Upload one photo's stored bytes, resuming where the server says it stands. Photo
    /// `number` of the round. With `pass_busy`, an upload another request of ours still holds
    /// (423) is handed back at once, so the sync goes on with the other photos and comes back
    /// after its `Retry-After`; without it, the wait happens here.
    pub(super) fn upload_photo(
        &self,
        session: &Session,
        photo: &PendingPhoto,
        number: u32,
        round: &mut UploadRound,
        pass_busy: bool,
        report: &mut SyncReport,
    ) -> Result<(), SyncError> {
        let before = round.shown.get(&photo.photo_id).copied().unwrap_or(0);
        let shown = Shown {
            photo,
            number,
            length: photo.bytes,
            mark: Mark::from(before),
        };
        let result = self.upload_steps(session, photo, &shown, round, pass_busy, report);
        round.shown.insert(photo.photo_id, shown.mark.at());
        result
    }

    fn upload_steps(
        &self,
        session: &Session,
        photo: &PendingPhoto,
        shown: &Shown,
        round: &UploadRound,
        pass_busy: bool,
        report: &mut SyncReport,
    ) -> Result<(), SyncError> {
        let Session {
            store,
            token,
            progress,
            scope,
            ..
        } = *session;
        let path = photo.path.clone();
        let io = |source| SyncError::PhotoFile {
            path: path.clone(),
            source,
        };
        let mut file = File::open(&path).map_err(io)?;
        let length = file.metadata().map_err(io)?.len();

        let mut url = photo.upload_url.clone();
        let mut offset = 0;
        if let Some(u) = &url {
            match self.retrying(report, scope, |_| self.tus_offset(store, token, u, length)) {
                Ok(o) => offset = o,
                // Expired or swept on the server: start a new upload.
                Err(SyncError::Server { status, .. }) if status == 404 || status == 410 => {
                    url = None;
                    store.set_upload_url(photo.photo_id, None)?;
                }
                Err(e) => return Err(e),
            }
        }
        let url = match url {
            Some(u) => u,
            None => {
                let u = self.retrying(report, scope, |_| {
                    self.tus_create(store, token, photo, length)
                })?;
                store.set_upload_url(photo.photo_id, Some(&u))?;
                u
            }
        };
        shown.reach(offset, round, progress);

        // Failures in a row with no byte gained, and when a byte last was.
        let mut fruitless = 0;
        let mut last_gain = Instant::now();
        while offset < length {
            scope.check()?;
            let size = session.link.chunk(&self.config).min(length - offset);
            // A fresh buffer each time: the chunk is read once from the file.
            let mut chunk = Vec::with_capacity(usize::try_from(size).unwrap_or(usize::MAX));
            file.seek(SeekFrom::Start(offset)).map_err(io)?;
            (&mut file).take(size).read_to_end(&mut chunk).map_err(io)?;
            if chunk.is_empty() {
                return Err(SyncError::PhotoFile {
                    path: path.clone(),
                    source: std::io::Error::new(
                        std::io::ErrorKind::UnexpectedEof,
                        "the file shrank while uploading",
                    ),
                });
            }
            let started = Instant::now();
            let on_taken = |taken: usize| shown.reach(offset + taken as u64, round, progress);
            let mut body = CountingBody::new(&chunk, &on_taken);
            let sent = self.tus_patch(store, token, &url, offset, &mut body);
            report.bytes_sent += body.taken() as u64;
            match sent {
                Ok(new_offset) => {
                    session.link.observe(new_offset - offset, started.elapsed());
                    fruitless = 0;
                    last_gain = Instant::now();
                    offset = new_offset;
                    shown.reach(offset, round, progress);
                }
                // A cut or stalled request, a busy upload (423: a cut request of ours still
                // holds it), a stale offset (409: an earlier cut request got further than we
                // knew), a checksum refusal (460, for a client that sends them): ask the server
                // where it stands and go on from there.
                Err(e)
                    if e.is_transient()
                        || matches!(
                            e,
                            SyncError::Server {
                                status: 409 | 460,
                                ..
                            }
                        ) =>
                {
                    // The request's own time, before any wait: what the link did.
                    let took = started.elapsed();
                    report.retries += 1;
                    if pass_busy && is_busy(&e) {
                        return Err(e);
                    }
                    let wait = e
                        .retry_after()
                        .unwrap_or(self.config.backoff.delay(fruitless + 1));
                    scope.sleep(wait)?;
                    let patience_ends = last_gain + self.config.upload_patience;
                    let now_at = self.retrying_until(report, scope, Some(patience_ends), |_| {
                        self.tus_offset(store, token, &url, length)
                    })?;
                    if now_at > offset {
                        // The server kept part of it: the link moves, if slowly.
                        session.link.observe(now_at - offset, took);
                        fruitless = 0;
                        last_gain = Instant::now();
                    } else {
                        // A busy upload says nothing of the link.
                        if !is_busy(&e) {
                            session.link.stalled(&self.config);
                        }
                        fruitless += 1;
                        if fruitless >= self.config.backoff.attempts
                            && Instant::now() >= patience_ends
                        {
                            return Err(e);
                        }
                    }
                    offset = now_at;
                    shown.reach(offset, round, progress);
                }
                Err(e) => return Err(e),
            }
        }
        store.mark_uploaded(photo.photo_id)?;
        report.photos_uploaded += 1;
        report.bytes_uploaded += length;
        Ok(())
    }

    fn tus_create(
        &self,
        store: &Store,
        token: &str,
        photo: &PendingPhoto,
        length: u64,
    ) -> Result<String, SyncError> {
        let file_name = photo
            .path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or("photo.jpg");
        let content_type = if file_name.ends_with(".png") {
            "image/png"
        } else {
            "image/jpeg"
        };
        let metadata = [
            (meta::PHOTO_ID, photo.photo_id.to_string()),
            (meta::JOB_ID, photo.job_id.to_string()),
            (meta::SHA256, photo.sha256.clone()),
            (meta::FILENAME, file_name.to_string()),
            (meta::CONTENT_TYPE, content_type.to_string()),
        ]
        .iter()
        .map(|(k, v)| format!("{k} {}", B64.encode(v)))
        .collect::<Vec<_>>()
        .join(",");
        let request = self
            .http
            .agent()
            .post(self.http.url("/v1/uploads"))
            .header("Tus-Resumable", TUS_VERSION)
            .header("Upload-Length", length.to_string())
            .header("Upload-Metadata", metadata);
        let answer = self
            .http
            .send(request, store.clock().as_ref(), Some(token), |r| {
                r.send_empty()
            })?;
        answer
            .header("location")
            .map(|l| self.http.url(l))
            .ok_or_else(|| SyncError::Protocol("upload created without a Location".into()))
    }

    /// Where the server stands on `url`: an offset past the photo's `length` is not believed.
    fn tus_offset(
        &self,
        store: &Store,
        token: &str,
        url: &str,
        length: u64,
    ) -> Result<u64, SyncError> {
        let request = self
            .http
            .agent()
            .head(url)
            .header("Tus-Resumable", TUS_VERSION);
        let answer = self
            .http
            .send(request, store.clock().as_ref(), Some(token), |r| r.call())?;
        let offset = upload_offset(&answer)?;
        if offset > length {
            return Err(SyncError::Protocol(format!(
                "the server holds {offset} bytes of a {length}-byte photo"
            )));
        }
        Ok(offset)
    }

    /// One PATCH whose body is `body`; the server's new offset. Without a total deadline: a
    /// slow request that keeps moving is left to finish (the stall deadline still applies).
    fn tus_patch(
        &self,
        store: &Store,
        token: &str,
        url: &str,
        offset: u64,
        body: &mut CountingBody,
    ) -> Result<u64, SyncError> {
        let request = self
            .http
            .agent()
            .patch(url)
            .config()
            .timeout_global(None)
            .build()
            .header("Tus-Resumable", TUS_VERSION)
            .header("Upload-Offset", offset.to_string())
            .header("Content-Length", body.len().to_string())
            .header("Content-Type", "application/offset+octet-stream");
        let answer = self
            .http
            .send(request, store.clock().as_ref(), Some(token), |r| {
                r.send(SendBody::from_reader(body))
            })?;
        let new_offset = upload_offset(&answer)?;
        let most = offset.saturating_add(body.len() as u64);
        if new_offset <= offset || new_offset > most {
            return Err(SyncError::Protocol(format!(
                "the upload offset moved from {offset} to {new_offset} on a {}-byte chunk",
                body.len()
            )));
        }
        Ok(new_offset)
    }
}

/// A tus upload a request of ours still holds (a cut PATCH whose lease has not lapsed).
pub(super) fn is_busy(e: &SyncError) -> bool {
    matches!(e, SyncError::Server { status: 423, .. })
}

fn upload_offset(answer: &Answer) -> Result<u64, SyncError> {
    answer
        .header("upload-offset")
        .and_then(|v| v.parse().ok())
        .ok_or_else(|| SyncError::Protocol("no Upload-Offset in the answer".into()))
}
