//! Blobs and unfinished uploads as files under the data directory: `blobs/<aa>/<sha256>` and
//! `uploads/<upload id>`. Every write is fsynced before it is acknowledged; a finished upload
//! becomes its blob by a rename (atomic on one file system) and a directory fsync.

use std::io::Read;
use std::path::{Path, PathBuf};

use async_trait::async_trait;
use sha2::{Digest, Sha256};
use tokio::io::{AsyncSeekExt, AsyncWriteExt};
use uuid::Uuid;

use super::{BlobError, BlobStore, PartialWriter, Promoted, Result, SNIFF_BYTES, Sniff};

/// Body frames are small (~16 KiB); each `tokio::fs` write is a hop to the blocking pool, so
/// they are gathered into writes of this size.
const WRITE_BUFFER: usize = 1024 * 1024;

#[derive(Debug, Clone)]
pub struct LocalBlobs {
    data_dir: PathBuf,
}

impl LocalBlobs {
    /// The directories are created if needed.
    pub async fn open(data_dir: &Path) -> Result<Self> {
        let blobs = LocalBlobs {
            data_dir: data_dir.to_path_buf(),
        };
        for dir in [blobs.data_dir.join("blobs"), blobs.upload_dir()] {
            tokio::fs::create_dir_all(&dir).await?;
        }
        Ok(blobs)
    }

    fn upload_dir(&self) -> PathBuf {
        self.data_dir.join("uploads")
    }

    fn partial(&self, id: Uuid) -> PathBuf {
        self.upload_dir().join(id.to_string())
    }

    /// `key` is a [`crate::tus::blob_rel_path`]: `blobs/<two hex>/<hex>`, never `..`.
    fn blob(&self, key: &str) -> PathBuf {
        self.data_dir.join(key)
    }
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> std::io::Result<T> + Send + 'static,
) -> Result<T> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| BlobError::Join(e.to_string()))?
        .map_err(Into::into)
}

struct FileWriter {
    file: tokio::fs::File,
    offset: u64,
    pending: Vec<u8>,
}

#[async_trait]
impl PartialWriter for FileWriter {
    async fn write(&mut self, bytes: &[u8]) -> Result<()> {
        self.pending.extend_from_slice(bytes);
        if self.pending.len() >= WRITE_BUFFER {
            self.file.write_all(&self.pending).await?;
            self.pending.clear();
        }
        Ok(())
    }

    async fn commit(&mut self) -> Result<()> {
        self.file.write_all(&self.pending).await?;
        self.pending.clear();
        self.file.flush().await?;
        // The data and the length, all an offset needs: fdatasync, not fsync.
        self.file.sync_data().await?;
        Ok(())
    }

    async fn rollback(&mut self) -> Result<()> {
        self.pending.clear();
        self.file.flush().await?;
        self.file.set_len(self.offset).await?;
        self.file.sync_all().await?;
        Ok(())
    }
}

#[async_trait]
impl BlobStore for LocalBlobs {
    async fn health(&self) -> Result<()> {
        tokio::fs::metadata(self.upload_dir()).await?;
        Ok(())
    }

    async fn create_partial(&self, id: Uuid) -> Result<()> {
        let file = tokio::fs::File::create(self.partial(id)).await?;
        file.sync_all().await?;
        Ok(())
    }

    async fn append_partial(&self, id: Uuid, offset: u64) -> Result<Box<dyn PartialWriter>> {
        let mut file = tokio::fs::OpenOptions::new()
            .write(true)
            .open(self.partial(id))
            .await?;
        // Bytes past the committed offset were never acknowledged: drop them.
        file.set_len(offset).await?;
        file.seek(std::io::SeekFrom::Start(offset)).await?;
        Ok(Box::new(FileWriter {
            file,
            offset,
            pending: Vec::with_capacity(WRITE_BUFFER),
        }))
    }

    async fn partial_exists(&self, id: Uuid) -> Result<bool> {
        Ok(tokio::fs::try_exists(self.partial(id)).await?)
    }

    async fn partial_sha256(&self, id: Uuid, length: u64) -> Result<String> {
        let path = self.partial(id);
        blocking(move || {
            let mut f = std::fs::File::open(path)?.take(length);
            let mut hasher = Sha256::new();
            let mut buf = vec![0u8; 64 * 1024];
            loop {
                let n = f.read(&mut buf)?;
                if n == 0 {
                    break;
                }
                hasher.update(&buf[..n]);
            }
            Ok(hex::encode(hasher.finalize()))
        })
        .await
    }

    /// The file holds what the PATCHes hashed (one writer at a time, truncated to the committed
    /// offset before each PATCH), so only its first bytes are read again.
    async fn promote(
        &self,
        id: Uuid,
        _length: u64,
        key: &str,
        _sha256: &str,
        sniff: Sniff,
    ) -> Result<Promoted> {
        let (partial, blob) = (self.partial(id), self.blob(key));
        let data_dir = self.data_dir.clone();
        blocking(move || {
            let mut head = Vec::with_capacity(SNIFF_BYTES);
            std::fs::File::open(&partial)?
                .take(SNIFF_BYTES as u64)
                .read_to_end(&mut head)?;
            let Some(content_type) = sniff(&head) else {
                std::fs::remove_file(&partial)?;
                return Ok(Promoted::NotAnImage);
            };
            let dir = blob.parent().unwrap_or(&data_dir).to_path_buf();
            std::fs::create_dir_all(&dir)?;
            if blob.exists() {
                // Same hash, same bytes: evidence is never overwritten.
                std::fs::remove_file(&partial)?;
            } else {
                std::fs::rename(&partial, &blob)?;
                std::fs::File::open(&dir)?.sync_all()?;
            }
            Ok(Promoted::Stored(content_type))
        })
        .await
    }

    async fn delete_partial(&self, id: Uuid) -> Result<()> {
        match tokio::fs::remove_file(self.partial(id)).await {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    async fn blob_exists(&self, key: &str) -> Result<bool> {
        Ok(tokio::fs::try_exists(self.blob(key)).await?)
    }

    async fn read_blob(&self, key: &str) -> Result<Option<bytes::Bytes>> {
        match tokio::fs::read(self.blob(key)).await {
            Ok(b) => Ok(Some(b.into())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e.into()),
        }
    }
}
