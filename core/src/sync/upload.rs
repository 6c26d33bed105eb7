//! Photo upload by tus 1.0: create once, then PATCH chunks from the server's offset.
//!
//! Chunks start small and double while the network holds (up to `max_chunk_size`), falling
//! back to the first size after a failure. A cut connection costs only the bytes in flight: the
//! server keeps what arrived, the client asks it (`HEAD`) where to go on, and the upload URL is in
//! the store so even an app restart resumes rather than restarts.
//!
//! Chunks carry no per-chunk `Upload-Checksum`: the server verifies the SHA-256 of the whole
//! file against the `PhotoCaptured` record at the last byte (and TLS guards each record on the
//! way), while a checksummed chunk is all-or-nothing, so a cut would throw away what did arrive,
//! and hashing every chunk twice more cost a third of the upload's time (docs/benchmarks.md).

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;

use super::error::SyncError;
use super::http::Answer;
use super::{Progress, Session, SyncClient, SyncReport};
use crate::protocol::upload_metadata as meta;
use crate::store::{PendingPhoto, Store};

const TUS_VERSION: &str = "1.0.0";

impl SyncClient {
    /// Upload one photo's stored bytes, resuming where the server says it stands.
    pub(super) fn upload_photo(
        &self,
        session: &Session,
        photo: &PendingPhoto,
        chunk_size: &mut usize,
        report: &mut SyncReport,
    ) -> Result<(), SyncError> {
        let Session {
            store,
            token,
            progress,
            scope,
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
            match self.retrying(report, scope, |_| self.tus_offset(store, token, u)) {
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

        let mut failures = 0;
        let first_chunk = self.config.chunk_size.max(1);
        let max_chunk = self.config.max_chunk_size.max(first_chunk);
        while offset < length {
            scope.check()?;
            // A fresh buffer each time: it moves into the request body rather than be copied.
            let mut chunk = Vec::with_capacity((*chunk_size as u64).min(length - offset) as usize);
            file.seek(SeekFrom::Start(offset)).map_err(io)?;
            (&mut file)
                .take(*chunk_size as u64)
                .read_to_end(&mut chunk)
                .map_err(io)?;
            if chunk.is_empty() {
                return Err(SyncError::PhotoFile {
                    path: path.clone(),
                    source: std::io::Error::new(
                        std::io::ErrorKind::UnexpectedEof,
                        "the file shrank while uploading",
                    ),
                });
            }
            report.bytes_sent += chunk.len() as u64;
            match self.tus_patch(store, token, &url, offset, chunk) {
                Ok(new_offset) => {
                    failures = 0;
                    offset = new_offset;
                    *chunk_size = (*chunk_size * 2).min(max_chunk);
                    progress(Progress::Uploading {
                        photo_id: photo.photo_id,
                        sent: offset,
                        total: length,
                    });
                }
                // 409: our idea of the offset is stale (an earlier cut PATCH got further
                // than we knew). 460 (checksum mismatch) only answers a client that sends
                // checksums; kept so one added later is handled. Both: ask, then go on.
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
                    failures += 1;
                    report.retries += 1;
                    *chunk_size = first_chunk;
                    if failures >= self.config.backoff.attempts {
                        return Err(e);
                    }
                    scope.sleep(
                        e.retry_after()
                            .unwrap_or(self.config.backoff.delay(failures)),
                    )?;
                    offset =
                        self.retrying(report, scope, |_| self.tus_offset(store, token, &url))?;
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

    fn tus_offset(&self, store: &Store, token: &str, url: &str) -> Result<u64, SyncError> {
        let request = self
            .http
            .agent()
            .head(url)
            .header("Tus-Resumable", TUS_VERSION);
        let answer = self
            .http
            .send(request, store.clock().as_ref(), Some(token), |r| r.call())?;
        upload_offset(&answer)
    }

    fn tus_patch(
        &self,
        store: &Store,
        token: &str,
        url: &str,
        offset: u64,
        chunk: Vec<u8>,
    ) -> Result<u64, SyncError> {
        let request = self
            .http
            .agent()
            .patch(url)
            .header("Tus-Resumable", TUS_VERSION)
            .header("Upload-Offset", offset.to_string())
            .header("Content-Type", "application/offset+octet-stream");
        let answer = self
            .http
            .send(request, store.clock().as_ref(), Some(token), |r| {
                r.send(&chunk[..])
            })?;
        let new_offset = upload_offset(&answer)?;
        if new_offset <= offset {
            return Err(SyncError::Protocol(format!(
                "upload offset did not advance ({offset} -> {new_offset})"
            )));
        }
        Ok(new_offset)
    }
}

fn upload_offset(answer: &Answer) -> Result<u64, SyncError> {
    answer
        .header("upload-offset")
        .and_then(|v| v.parse().ok())
        .ok_or_else(|| SyncError::Protocol("no Upload-Offset in the answer".into()))
}
