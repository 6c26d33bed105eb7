//! Where photo bytes live: finished photos by SHA-256 (`blobs/<aa>/<sha256>`), and the bytes of
//! unfinished tus uploads. One seam, two places (ADR 0012):
//! - [`local::LocalBlobs`], the embedded default: files under the data directory, each write
//!   fsynced before it is acknowledged. Several processes need a shared volume.
//! - [`object::ObjectBlobs`]: S3-compatible object storage through the `object_store` crate.
//!   Nothing of an upload lives on one process's disk, so any process on any machine can take
//!   an upload over.
//!
//! The database says how far an upload got (its committed offset, under its lease); the bytes
//! past that offset are never trusted, so a writer that dies mid-PATCH leaves nothing that
//! matters.

pub mod local;
pub mod object;

use std::sync::Arc;

use async_trait::async_trait;
use uuid::Uuid;

use crate::config::Config;

#[derive(Debug, thiserror::Error)]
pub enum BlobError {
    #[error("i/o: {0}")]
    Io(#[from] std::io::Error),
    #[error("object storage: {0}")]
    Store(#[from] object_store::Error),
    /// The stored pieces of an upload do not add up to its committed bytes.
    #[error("upload {0}: stored bytes do not cover the committed offset")]
    Incomplete(Uuid),
    /// The upload's stored bytes are not the ones its PATCHes hashed (a writer whose lease
    /// lapsed stored a segment late): they never become the blob.
    #[error("upload {0}: the stored bytes are not the photo's")]
    Changed(Uuid),
    #[error("background task failed: {0}")]
    Join(String),
}

pub type Result<T> = std::result::Result<T, BlobError>;

/// Appends one PATCH's bytes to an upload at its committed offset. Nothing it writes counts
/// until [`PartialWriter::commit`] returned and the database moved the offset.
#[async_trait]
pub trait PartialWriter: Send {
    async fn write(&mut self, bytes: &[u8]) -> Result<()>;
    /// Everything written is durable.
    async fn commit(&mut self) -> Result<()>;
    /// Forget everything this writer wrote.
    async fn rollback(&mut self) -> Result<()>;
}

#[async_trait]
pub trait BlobStore: Send + Sync + std::fmt::Debug {
    /// Ready an empty upload.
    async fn create_partial(&self, id: Uuid) -> Result<()>;
    /// A writer for the bytes from `offset` (the committed offset) on; whatever is stored past
    /// it was never acknowledged and is dropped or overwritten.
    async fn append_partial(&self, id: Uuid, offset: u64) -> Result<Box<dyn PartialWriter>>;
    /// Whether the upload's bytes are still here (not yet made a blob, not discarded).
    async fn partial_exists(&self, id: Uuid) -> Result<bool>;
    /// SHA-256 (lower-case hex) of the upload's first `length` bytes.
    async fn partial_sha256(&self, id: Uuid, length: u64) -> Result<String>;
    /// Up to `n` of the upload's first bytes (to sniff what they are).
    async fn partial_head(&self, id: Uuid, length: u64, n: usize) -> Result<Vec<u8>>;
    /// Make the upload's first `length` bytes the blob at `key`, unless a blob is there
    /// already (same SHA-256, same bytes: evidence is never overwritten), then drop the upload.
    /// [`BlobError::Changed`] if a store that cannot vouch for its bytes finds they do not
    /// hash to `sha256`.
    async fn promote(&self, id: Uuid, length: u64, key: &str, sha256: &str) -> Result<()>;
    /// Drop the upload's bytes (gone already is fine).
    async fn delete_partial(&self, id: Uuid) -> Result<()>;
    async fn blob_exists(&self, key: &str) -> Result<bool>;
    /// The blob's bytes; `None` if there is no such blob.
    async fn read_blob(&self, key: &str) -> Result<Option<bytes::Bytes>>;
}

/// The store the configuration names: object storage if `object_store_url` is set, else the
/// data directory.
pub async fn open(config: &Config) -> anyhow::Result<Arc<dyn BlobStore>> {
    match &config.object_store_url {
        Some(url) => Ok(Arc::new(object::ObjectBlobs::open(
            url,
            &config.object_store_options,
        )?)),
        None => Ok(Arc::new(local::LocalBlobs::open(&config.data_dir).await?)),
    }
}
