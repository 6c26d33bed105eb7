//! Blobs and unfinished uploads in S3-compatible object storage.
//!
//! A finished photo is the object `blobs/<aa>/<sha256>`. An unfinished upload is a chain of
//! segment objects `uploads/<upload id>/<offset, 20 digits>`: each PATCH writes its bytes as
//! segments of at most [`SEGMENT`] bytes starting at the committed offset, and only the
//! database's offset (moved under the upload's lease, after the segments are stored) says how
//! far the chain counts. A writer that died mid-PATCH leaves segments past the committed offset;
//! the chain from 0 never reaches them except at the very keys the next writer overwrites first,
//! so they change nothing. (S3's own multipart upload needs parts of 5 MiB or more, and a phone
//! on a bad link sends smaller PATCHes; segments have no minimum.)
//!
//! At the last byte the chain is copied into the blob (one PUT for a photo of up to a segment,
//! else a streamed multipart upload), hashed on the way: bytes that are not the photo's never
//! become its blob. Then the segments are deleted.

use std::collections::BTreeMap;
use std::sync::Arc;

use async_trait::async_trait;
use bytes::Bytes;
use futures_util::{StreamExt, TryStreamExt};
use object_store::aws::{AmazonS3Builder, AmazonS3ConfigKey};
use object_store::azure::{AzureConfigKey, MicrosoftAzureBuilder};
use object_store::gcp::{GoogleCloudStorageBuilder, GoogleConfigKey};
use object_store::path::Path;
use object_store::prefix::PrefixStore;
use object_store::{ObjectStore, ObjectStoreExt, PutMode, PutPayload, WriteMultipart};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use super::{BlobError, BlobStore, PartialWriter, Promoted, Result, SNIFF_BYTES, Sniff};

/// Attempts after the first at storing a blob (see `ObjectBlobs::create`).
const CREATE_RETRIES: u32 = 3;

/// The largest segment a PATCH writes (and the memory one PATCH holds).
pub const SEGMENT: usize = 8 * 1024 * 1024;

#[derive(Debug, Clone)]
pub struct ObjectBlobs {
    store: Arc<dyn ObjectStore>,
}

impl ObjectBlobs {
    /// See [`open_store`].
    pub fn open(url: &str, options: &BTreeMap<String, String>) -> anyhow::Result<Self> {
        Ok(ObjectBlobs {
            store: open_store(url, options)?,
        })
    }

    /// Over any `object_store` implementation (tests).
    pub fn new(store: Arc<dyn ObjectStore>) -> Self {
        ObjectBlobs { store }
    }

    fn prefix(id: Uuid) -> Path {
        Path::from(format!("uploads/{id}"))
    }

    fn segment(id: Uuid, offset: u64) -> Path {
        Path::from(format!("uploads/{id}/{offset:020}"))
    }

    /// Every stored segment of the upload: offset → (object, size).
    async fn segments(&self, id: Uuid) -> Result<BTreeMap<u64, (Path, u64)>> {
        Ok(self
            .store
            .list(Some(&Self::prefix(id)))
            .map_ok(|meta| {
                let offset = meta.location.filename().and_then(|f| f.parse::<u64>().ok());
                (offset, meta)
            })
            .try_collect::<Vec<_>>()
            .await?
            .into_iter()
            .filter_map(|(offset, meta)| Some((offset?, (meta.location, meta.size))))
            .collect())
    }

    /// The pieces holding the upload's first `length` bytes, in order.
    fn chain(id: Uuid, segments: &BTreeMap<u64, (Path, u64)>, length: u64) -> Result<Vec<Piece>> {
        let mut out = Vec::new();
        let mut at = 0;
        while at < length {
            let Some((path, size)) = segments.get(&at).filter(|(_, size)| *size > 0) else {
                return Err(BlobError::Incomplete(id));
            };
            let take = (*size).min(length - at);
            out.push(Piece {
                path: path.clone(),
                range: 0..take,
            });
            at += take;
        }
        Ok(out)
    }

    /// Store a blob create-only, with no existence check first: found stored (by another
    /// upload of the same photo, or by an attempt of ours whose answer was lost) is the same
    /// hash, the same bytes. object_store retries only idempotent requests, and a create is
    /// not one, so a failed attempt is retried here: its retry finds the object or stores it.
    async fn create(&self, blob: &Path, payload: PutPayload) -> Result<()> {
        let mut attempt = 0u32;
        loop {
            match self
                .store
                .put_opts(blob, payload.clone(), PutMode::Create.into())
                .await
            {
                Ok(_) | Err(object_store::Error::AlreadyExists { .. }) => return Ok(()),
                Err(e) if attempt < CREATE_RETRIES => {
                    attempt += 1;
                    tracing::debug!(error = %e, attempt, "blob create retried");
                    tokio::time::sleep(std::time::Duration::from_millis(100 * u64::from(attempt)))
                        .await;
                }
                Err(e) => return Err(e.into()),
            }
        }
    }

    /// Delete these objects (gone already is fine), in one request where the store batches.
    async fn delete_all(&self, paths: Vec<Path>) -> Result<()> {
        let paths = futures_util::stream::iter(paths.into_iter().map(Ok)).boxed();
        self.store
            .delete_stream(paths)
            .try_for_each(|_| async { Ok(()) })
            .await
            .or_else(|e| match e {
                object_store::Error::NotFound { .. } => Ok(()),
                e => Err(e),
            })?;
        Ok(())
    }

    /// Copy the chain into the blob, hashing and keeping the first bytes on the way; the blob
    /// is written only if the bytes are the photo's and `sniff` knows them.
    async fn copy_checked(
        &self,
        id: Uuid,
        chain: &[Piece],
        length: u64,
        blob: &Path,
        sha256: &str,
        sniff: Sniff,
    ) -> Result<Promoted> {
        let mut hasher = Sha256::new();
        let mut head = Vec::with_capacity(SNIFF_BYTES);
        let mut take_head = |bytes: &[u8]| {
            let room = SNIFF_BYTES.saturating_sub(head.len());
            head.extend_from_slice(&bytes[..room.min(bytes.len())]);
        };
        if length <= SEGMENT as u64 {
            let mut bytes = Vec::with_capacity(usize::try_from(length).unwrap_or(0));
            for piece in chain {
                bytes.extend_from_slice(&self.read(piece).await?);
            }
            hasher.update(&bytes);
            take_head(&bytes);
            if hex::encode(hasher.finalize()) != sha256 {
                return Ok(Promoted::Changed);
            }
            let Some(content_type) = sniff(&head) else {
                return Ok(Promoted::NotAnImage);
            };
            self.create(blob, PutPayload::from(Bytes::from(bytes)))
                .await?;
            return Ok(Promoted::Stored(content_type));
        }
        let mut upload = WriteMultipart::new(self.store.put_multipart(blob).await?);
        for piece in chain {
            let bytes = match self.read(piece).await {
                Ok(b) => b,
                Err(e) => {
                    let _ = upload.abort().await;
                    return Err(e);
                }
            };
            hasher.update(&bytes);
            take_head(&bytes);
            upload.wait_for_capacity(2).await?;
            upload.put(bytes);
        }
        let verdict = if hex::encode(hasher.finalize()) != sha256 {
            Promoted::Changed
        } else {
            match sniff(&head) {
                Some(t) => Promoted::Stored(t),
                None => Promoted::NotAnImage,
            }
        };
        match verdict {
            Promoted::Stored(_) => {
                upload.finish().await?;
            }
            // Never completed: no blob appears under a hash its bytes do not have.
            _ => {
                let _ = upload.abort().await;
                tracing::warn!(upload = %id, "finished upload refused while copying");
            }
        }
        Ok(verdict)
    }

    async fn read(&self, piece: &Piece) -> Result<Bytes> {
        Ok(self
            .store
            .get_range(&piece.path, piece.range.clone())
            .await?)
    }
}

/// Part of an upload's bytes: `range` of the segment object `path`.
struct Piece {
    path: Path,
    range: std::ops::Range<u64>,
}

/// The store `url` names, with an optional prefix inside its bucket (environments can share
/// one): `s3://<bucket>[/<prefix>]` (S3 and S3-compatible servers), `gs://<bucket>[/<prefix>]`
/// (Google Cloud Storage), `az://<container>[/<prefix>]` (Azure Blob Storage). `options` are
/// object_store's keys for that store (S3: `endpoint`, `region`, `allow_http`,
/// `access_key_id`, ...; GCS: `service_account_path`, ...; Azure: `account_name`, ...), over
/// its environment variables (`AWS_*`, `GOOGLE_*`, `AZURE_*`), where secrets belong. An
/// unknown key is an error, not ignored.
pub fn open_store(
    url: &str,
    options: &BTreeMap<String, String>,
) -> anyhow::Result<Arc<dyn ObjectStore>> {
    let (scheme, rest) = url
        .split_once("://")
        .ok_or_else(|| anyhow::anyhow!("object_store_url {url:?}: not a URL"))?;
    let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
    anyhow::ensure!(
        !bucket.is_empty(),
        "object_store_url {url:?} names no bucket"
    );
    fn configure<B, K: std::str::FromStr>(
        mut builder: B,
        options: &BTreeMap<String, String>,
        set: impl Fn(B, K, &str) -> B,
    ) -> anyhow::Result<B>
    where
        K::Err: std::fmt::Display,
    {
        for (key, value) in options {
            let k: K = key
                .parse()
                .map_err(|e| anyhow::anyhow!("object_store_options.{key}: {e}"))?;
            builder = set(builder, k, value);
        }
        Ok(builder)
    }
    let store: Arc<dyn ObjectStore> = match scheme {
        "s3" => Arc::new(
            configure(
                AmazonS3Builder::from_env().with_bucket_name(bucket),
                options,
                |b, k: AmazonS3ConfigKey, v| b.with_config(k, v),
            )?
            .build()?,
        ),
        "gs" => Arc::new(
            configure(
                GoogleCloudStorageBuilder::from_env().with_bucket_name(bucket),
                options,
                |b, k: GoogleConfigKey, v| b.with_config(k, v),
            )?
            .build()?,
        ),
        "az" => Arc::new(
            configure(
                MicrosoftAzureBuilder::from_env().with_container_name(bucket),
                options,
                |b, k: AzureConfigKey, v| b.with_config(k, v),
            )?
            .build()?,
        ),
        other => anyhow::bail!(
            "object_store_url {url:?}: {other}:// is not built in (s3://, gs://, az://)"
        ),
    };
    let prefix = prefix.trim_matches('/');
    Ok(if prefix.is_empty() {
        store
    } else {
        Arc::new(PrefixStore::new(store, prefix))
    })
}

struct SegmentWriter {
    store: Arc<dyn ObjectStore>,
    id: Uuid,
    /// Where the next segment starts.
    next: u64,
    buffer: Vec<u8>,
}

impl SegmentWriter {
    async fn flush(&mut self) -> Result<()> {
        if self.buffer.is_empty() {
            return Ok(());
        }
        let bytes = Bytes::from(std::mem::take(&mut self.buffer));
        let len = bytes.len() as u64;
        let path = ObjectBlobs::segment(self.id, self.next);
        self.store.put(&path, PutPayload::from(bytes)).await?;
        self.next += len;
        Ok(())
    }
}

#[async_trait]
impl PartialWriter for SegmentWriter {
    async fn write(&mut self, bytes: &[u8]) -> Result<()> {
        let mut rest = bytes;
        while !rest.is_empty() {
            let room = SEGMENT - self.buffer.len();
            let (now, later) = rest.split_at(room.min(rest.len()));
            self.buffer.extend_from_slice(now);
            rest = later;
            if self.buffer.len() == SEGMENT {
                self.flush().await?;
            }
        }
        Ok(())
    }

    async fn commit(&mut self) -> Result<()> {
        // A stored object is durable: S3 answers a PUT only once it is.
        self.flush().await
    }

    async fn rollback(&mut self) -> Result<()> {
        // The segments already stored stay: they lie past the committed offset, so the chain
        // never reads them, and the next writer overwrites the first of them. Deleting them
        // here could delete what a newer writer stored at the same keys (this writer's lease
        // may have lapsed in the meantime).
        self.buffer.clear();
        Ok(())
    }
}

fn not_found<T>(r: object_store::Result<T>) -> Result<Option<T>> {
    match r {
        Ok(t) => Ok(Some(t)),
        Err(object_store::Error::NotFound { .. }) => Ok(None),
        Err(e) => Err(e.into()),
    }
}

#[async_trait]
impl BlobStore for ObjectBlobs {
    /// A HEAD of a key nobody writes: "not found" is an answer. Bounded, because the client
    /// retries a refused connection for minutes and a load balancer waits seconds.
    async fn health(&self) -> Result<()> {
        let key = Path::from("healthz");
        let head = self.store.head(&key);
        match tokio::time::timeout(std::time::Duration::from_secs(2), head).await {
            Ok(Ok(_)) | Ok(Err(object_store::Error::NotFound { .. })) => Ok(()),
            Ok(Err(e)) => Err(e.into()),
            Err(_) => Err(BlobError::Io(std::io::Error::new(
                std::io::ErrorKind::TimedOut,
                "the object store did not answer within 2 s",
            ))),
        }
    }

    async fn create_partial(&self, _id: Uuid) -> Result<()> {
        // An upload with no segment is an empty one.
        Ok(())
    }

    async fn append_partial(&self, id: Uuid, offset: u64) -> Result<Box<dyn PartialWriter>> {
        Ok(Box::new(SegmentWriter {
            store: self.store.clone(),
            id,
            next: offset,
            buffer: Vec::new(),
        }))
    }

    async fn partial_exists(&self, id: Uuid) -> Result<bool> {
        let first = self.store.list(Some(&Self::prefix(id))).try_next().await?;
        Ok(first.is_some())
    }

    async fn partial_sha256(&self, id: Uuid, length: u64) -> Result<String> {
        let segments = self.segments(id).await?;
        let mut hasher = Sha256::new();
        for piece in Self::chain(id, &segments, length)? {
            hasher.update(&self.read(&piece).await?);
        }
        Ok(hex::encode(hasher.finalize()))
    }

    /// One listing, the reads, one write and one delete: the chain is hashed and sniffed while
    /// it is copied, because what the chain holds now is what counts, whatever the PATCHes saw
    /// (a writer whose lease lapsed could still have stored a segment).
    async fn promote(
        &self,
        id: Uuid,
        length: u64,
        key: &str,
        sha256: &str,
        sniff: Sniff,
    ) -> Result<Promoted> {
        let blob = Path::from(key);
        let segments = self.segments(id).await?;
        let chain = Self::chain(id, &segments, length)?;
        // A large photo already stored (the same photo uploaded twice) is not copied again.
        let verdict = if length > SEGMENT as u64 && self.blob_exists(key).await? {
            let first = match chain.first() {
                Some(p) => {
                    let end = p.range.end.min(SNIFF_BYTES as u64);
                    self.store.get_range(&p.path, 0..end).await?
                }
                None => Bytes::new(),
            };
            match sniff(&first) {
                Some(t) => Promoted::Stored(t),
                None => Promoted::NotAnImage,
            }
        } else {
            self.copy_checked(id, &chain, length, &blob, sha256, sniff)
                .await?
        };
        self.delete_all(segments.into_values().map(|(path, _)| path).collect())
            .await?;
        Ok(verdict)
    }

    async fn delete_partial(&self, id: Uuid) -> Result<()> {
        let segments = self.segments(id).await?;
        self.delete_all(segments.into_values().map(|(path, _)| path).collect())
            .await
    }

    async fn blob_exists(&self, key: &str) -> Result<bool> {
        Ok(not_found(self.store.head(&Path::from(key)).await)?.is_some())
    }

    async fn read_blob(&self, key: &str) -> Result<Option<Bytes>> {
        match not_found(self.store.get(&Path::from(key)).await)? {
            Some(got) => Ok(Some(got.bytes().await?)),
            None => Ok(None),
        }
    }
}

#[cfg(test)]
mod tests {
    use object_store::memory::InMemory;

    use super::*;

    fn blobs() -> ObjectBlobs {
        ObjectBlobs::new(Arc::new(InMemory::new()))
    }

    async fn write(b: &ObjectBlobs, id: Uuid, offset: u64, bytes: &[u8]) -> Box<dyn PartialWriter> {
        let mut w = b.append_partial(id, offset).await.unwrap();
        w.write(bytes).await.unwrap();
        w
    }

    /// A writer that died after storing a full segment (past the committed offset) changes
    /// nothing: the next writer from the committed offset overwrites the key the chain reaches
    /// first, and the chain never reaches the rest.
    #[tokio::test]
    async fn segments_of_a_writer_that_died_are_never_read() {
        let b = blobs();
        let id = Uuid::now_v7();
        let mut good: Vec<u8> = (0..SEGMENT + 500).map(|i| (i % 251) as u8).collect();
        good[..3].copy_from_slice(b"\xFF\xD8\xFF");
        // The dead writer: a whole segment stored, then nothing (no commit, no offset moved).
        let dead = write(&b, id, 0, &vec![0xEE; SEGMENT + 10]).await;
        drop(dead);
        assert!(b.partial_exists(id).await.unwrap());
        // The next writer starts at the committed offset 0 and sends 300 bytes.
        let mut w = write(&b, id, 0, &good[..300]).await;
        w.commit().await.unwrap();
        let first = hex::encode(Sha256::digest(&good[..300]));
        assert_eq!(b.partial_sha256(id, 300).await.unwrap(), first);
        // Then the rest, in a PATCH that fills a segment and more.
        let mut w = write(&b, id, 300, &good[300..]).await;
        w.commit().await.unwrap();
        let len = good.len() as u64;
        let want = hex::encode(Sha256::digest(&good));
        assert_eq!(b.partial_sha256(id, len).await.unwrap(), want);
        let got = b
            .promote(id, len, "blobs/aa/x", &want, crate::tus::sniff_image)
            .await
            .unwrap();
        assert_eq!(got, Promoted::Stored("image/jpeg"));
        assert_eq!(b.read_blob("blobs/aa/x").await.unwrap().unwrap(), good);
        assert!(!b.partial_exists(id).await.unwrap(), "segments dropped");
    }

    /// What the chain holds is checked as it becomes the blob: bytes that do not hash to the
    /// photo's SHA-256, or are not a photo, never become a blob, and are dropped.
    #[tokio::test]
    async fn only_the_photos_own_bytes_become_its_blob() {
        let b = blobs();
        let photo = b"\xFF\xD8\xFFabc";
        let sha = hex::encode(Sha256::digest(photo));
        let upload = |bytes: &'static [u8]| {
            let b = b.clone();
            async move {
                let id = Uuid::now_v7();
                let mut w = write(&b, id, 0, bytes).await;
                w.commit().await.unwrap();
                // A refused PATCH after it stores nothing that counts.
                let mut refused = write(&b, id, bytes.len() as u64, b"refused").await;
                refused.rollback().await.unwrap();
                id
            }
        };
        let sniff = crate::tus::sniff_image;
        let id = upload(photo).await;
        assert!(matches!(
            b.partial_sha256(id, 13).await,
            Err(BlobError::Incomplete(_))
        ));
        let wrong = "0".repeat(64);
        let got = b.promote(id, 6, "blobs/ff/y", &wrong, sniff).await.unwrap();
        assert_eq!(got, Promoted::Changed);
        assert!(!b.blob_exists("blobs/ff/y").await.unwrap());
        assert!(!b.partial_exists(id).await.unwrap());

        let id = upload(b"abcdef").await;
        let not_photo = hex::encode(Sha256::digest(b"abcdef"));
        let got = b
            .promote(id, 6, "blobs/ab/z", &not_photo, sniff)
            .await
            .unwrap();
        assert_eq!(got, Promoted::NotAnImage);
        assert!(!b.blob_exists("blobs/ab/z").await.unwrap());

        let id = upload(photo).await;
        let got = b.promote(id, 6, "blobs/ff/y", &sha, sniff).await.unwrap();
        assert_eq!(got, Promoted::Stored("image/jpeg"));
        assert_eq!(
            b.read_blob("blobs/ff/y").await.unwrap().unwrap(),
            &photo[..]
        );
        assert_eq!(b.read_blob("blobs/ff/none").await.unwrap(), None);
    }

    #[test]
    fn a_store_url_names_a_bucket_of_a_known_kind_and_options_are_checked() {
        let none = BTreeMap::new();
        let opts = |k: &str| BTreeMap::from([(k.to_string(), "x".to_string())]);
        assert!(open_store("s3://photos/prod", &opts("region")).is_ok());
        assert!(open_store("gs://photos", &none).is_ok());
        assert!(open_store("ftp://photos", &none).is_err());
        assert!(open_store("s3://", &none).is_err());
        assert!(open_store("photos", &none).is_err());
        let err = open_store("s3://photos", &opts("regoin")).unwrap_err();
        assert!(err.to_string().contains("regoin"), "{err}");
    }
}
