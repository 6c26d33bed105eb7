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
    #[error("background task failed: {0}")]
    Join(String),
}

pub type Result<T> = std::result::Result<T, BlobError>;

/// How many first bytes tell what a photo is.
pub const SNIFF_BYTES: usize = 8;

/// What the first bytes are, to serve them as (`crate::tus::sniff_image`); `None`: not a photo.
pub type Sniff = fn(&[u8]) -> Option<&'static str>;

/// What became of a finished upload's bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Promoted {
    /// The blob holds them (or held the same bytes already); served as this type.
    Stored(&'static str),
    /// Not a photo: refused, and gone.
    NotAnImage,
    /// They are not the bytes the PATCHes hashed (a writer whose lease lapsed stored a segment
    /// late): refused, and gone. Only a store that cannot vouch for its bytes says so.
    Changed,
}

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
    /// A cheap request that proves the store answers (for `/healthz`).
    async fn health(&self) -> Result<()>;
    /// Ready an empty upload.
    async fn create_partial(&self, id: Uuid) -> Result<()>;
    /// A writer for the bytes from `offset` (the committed offset) on; whatever is stored past
    /// it was never acknowledged and is dropped or overwritten.
    async fn append_partial(&self, id: Uuid, offset: u64) -> Result<Box<dyn PartialWriter>>;
    /// Whether the upload's bytes are still here (not yet made a blob, not discarded).
    async fn partial_exists(&self, id: Uuid) -> Result<bool>;
    /// SHA-256 (lower-case hex) of the upload's first `length` bytes.
    async fn partial_sha256(&self, id: Uuid, length: u64) -> Result<String>;
    /// Make the upload's first `length` bytes the blob at `key` if `sniff` knows their first
    /// bytes, unless a blob is there already (same SHA-256, same bytes: evidence is never
    /// overwritten); then drop the upload's bytes, refused or not. The caller checked the
    /// SHA-256 the PATCHes computed; a store that cannot vouch for its bytes checks them again.
    async fn promote(
        &self,
        id: Uuid,
        length: u64,
        key: &str,
        sha256: &str,
        sniff: Sniff,
    ) -> Result<Promoted>;
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
