//! Photo records on the device: which bytes still have to reach the server, and how far their
//! upload got (the tus upload URL survives an app restart, so an upload resumes, never restarts).

use std::path::PathBuf;

use rusqlite::params;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::{Store, StoreError, parse_uuid, ts};

/// A photo whose bytes are still to be uploaded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PendingPhoto {
    pub photo_id: Uuid,
    pub job_id: Uuid,
    pub category: String,
    pub sha256: String,
    pub bytes: u64,
    /// Where the upload was created on the server, if it was.
    pub upload_url: Option<String>,
    /// The stored file.
    pub path: PathBuf,
}

impl Store {
    /// Photos recorded on this device whose bytes have not reached the server yet, oldest first.
    pub fn photos_awaiting_upload(&self) -> Result<Vec<PendingPhoto>, StoreError> {
        let conn = self.lock();
        let mut stmt = conn.prepare_cached(
            "SELECT id, job_id, category, sha256, bytes, upload_url, file_name FROM photos
             WHERE upload_state != 'uploaded' ORDER BY captured_at, id",
        )?;
        let rows = stmt.query_map([], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, String>(3)?,
                r.get::<_, i64>(4)?,
                r.get::<_, Option<String>>(5)?,
                r.get::<_, String>(6)?,
            ))
        })?;
        let mut out = Vec::new();
        for row in rows {
            let (id, job, category, sha256, bytes, upload_url, file_name) = row?;
            out.push(PendingPhoto {
                photo_id: parse_uuid(&id)?,
                job_id: parse_uuid(&job)?,
                category,
                sha256,
                bytes: bytes as u64,
                upload_url,
                path: self.photo_dir.join(file_name),
            });
        }
        Ok(out)
    }

    /// Remember (or forget, with `None`) where this photo's upload lives on the server.
    pub fn set_upload_url(&self, photo_id: Uuid, url: Option<&str>) -> Result<(), StoreError> {
        self.lock().execute(
            "UPDATE photos SET upload_url = ?2,
                    upload_state = CASE WHEN ?2 IS NULL THEN 'pending' ELSE 'uploading' END
             WHERE id = ?1 AND upload_state != 'uploaded'",
            params![photo_id.to_string(), url],
        )?;
        Ok(())
    }

    pub fn mark_uploaded(&self, photo_id: Uuid) -> Result<(), StoreError> {
        self.lock().execute(
            "UPDATE photos SET upload_state = 'uploaded', uploaded_at = ?2 WHERE id = ?1",
            params![photo_id.to_string(), ts(self.clock.now())],
        )?;
        Ok(())
    }
}
