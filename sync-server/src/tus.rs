//! Photo uploads over tus 1.0 (core, creation, checksum, termination, expiration), so an upload
//! cut at any byte resumes from the server's offset and any standard tus client works.
//!
//! A partial upload is a file `uploads/<id>` whose committed length is the offset in the
//! database; bytes past it (a crash between write and commit) are cut off by the next PATCH.
//! At the last byte the SHA-256 of the bytes received must equal the one the device recorded in
//! its `PhotoCaptured` event; then the file moves into `blobs/<aa>/<sha256>` (content-addressed,
//! never overwritten) and the photo is linked to it. The hash is computed as the bytes arrive,
//! its state committed with each offset (and tagged with it), so any process can take the
//! upload over and the last byte needs no second read of the file. That the file holds exactly
//! the bytes hashed rests on the lease: one writer at a time, a writer that lost its lease
//! stops writing at once, and an offset commits only under a lease still held.

use std::time::Duration;

use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use chrono::{DateTime, Utc};
use futures_util::StreamExt;
use sha1::Sha1;
use sha2::digest::common::hazmat::{SerializableState, SerializedState};
use sha2::{Digest, Sha256};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use crate::AppState;
use crate::auth::DeviceAuth;
use crate::blobs::Promoted;
use crate::error::{ApiError, ApiPath, ApiResult};
use crate::storage::{PhotoAccess, Upload};
use fieldcore::protocol::upload_metadata;

pub const TUS_VERSION: &str = "1.0.0";
pub const TUS_EXTENSIONS: &str = "creation,checksum,termination,expiration";
pub const TUS_CHECKSUMS: &str = "sha1,sha256";
/// tus checksum extension's status for a chunk whose checksum does not match.
pub fn checksum_mismatch() -> StatusCode {
    StatusCode::from_u16(460).unwrap_or(StatusCode::BAD_REQUEST)
}
const OFFSET_CONTENT_TYPE: &str = "application/offset+octet-stream";
/// A PATCH whose body stalls this long is treated like a cut connection.
const READ_STALL: Duration = Duration::from_secs(60);
/// The longest `Upload-Metadata` kept (it is returned on HEAD); ours is ~250 bytes.
pub const METADATA_MAX_BYTES: usize = 4096;

fn h(name: &'static str) -> HeaderName {
    HeaderName::from_static(name)
}

/// tus's routes, each with its OpenAPI operation.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(discover, create))
        .routes(routes!(discover_upload, status, append, terminate))
}

/// Raw bytes, for the document (a chunk, a photo).
#[derive(Debug, utoipa::ToSchema)]
#[schema(value_type = String, format = Binary)]
pub struct Binary(#[allow(dead_code)] Vec<u8>);

/// Where tus lives: every response under it carries `Tus-Resumable`, errors included.
pub const UPLOADS_PATH: &str = "/v1/uploads";

/// Whether a request path is part of the tus surface.
pub fn is_tus_path(path: &str) -> bool {
    path == UPLOADS_PATH
        || path
            .strip_prefix(UPLOADS_PATH)
            .is_some_and(|rest| rest.starts_with('/'))
}

/// Every response of the tus surface carries the protocol version (tus core: MUST, errors
/// included). Applied outside routing, so a 405 or a 413 from a layer carries it too.
pub fn tus_resumable(res: &mut Response) {
    res.headers_mut()
        .insert(h("tus-resumable"), HeaderValue::from_static(TUS_VERSION));
}

/// tus core: a client behind a proxy that knows only GET and POST sends POST with
/// `X-HTTP-Method-Override`, and the server MUST treat it as that method. Honoured for the tus
/// methods on the tus surface only: elsewhere a POST stays a POST.
pub fn method_override<B>(mut req: axum::http::Request<B>) -> axum::http::Request<B> {
    if req.method() != axum::http::Method::POST || !is_tus_path(req.uri().path()) {
        return req;
    }
    let wanted = req
        .headers()
        .get("x-http-method-override")
        .and_then(|v| v.to_str().ok())
        .map(|v| v.trim().to_ascii_uppercase());
    let method = match wanted.as_deref() {
        Some("PATCH") => axum::http::Method::PATCH,
        Some("DELETE") => axum::http::Method::DELETE,
        Some("HEAD") => axum::http::Method::HEAD,
        _ => return req,
    };
    *req.method_mut() = method;
    req
}

/// How long an upload stays locked by a PATCH that has stopped sending (default; see
/// `Config::upload_lease_secs`). A holder renews while bytes arrive, so only silence lets the
/// lease lapse; the next PATCH then takes the upload over.
fn lease_for(state: &AppState) -> chrono::Duration {
    chrono::Duration::seconds(i64::try_from(state.config.upload_lease_secs.max(1)).unwrap_or(8))
}

/// The right to write one upload's bytes: one PATCH (or DELETE) at a time, held in the database
/// so it binds every process sharing the upload directory. It lapses after
/// `upload_lease_secs` without bytes: a phone that lost its network mid-PATCH resumes from
/// another one within seconds, without waiting for the server to notice the dead connection.
struct Lease {
    state: AppState,
    id: Uuid,
    token: Uuid,
    renewed: std::time::Instant,
    released: bool,
}

impl Lease {
    async fn take(state: &AppState, id: Uuid) -> ApiResult<Lease> {
        let token = Uuid::now_v7();
        let now = state.config.clock.now();
        if !state
            .storage
            .leases()
            .take(id, token, now, now + lease_for(state))
            .await?
        {
            return Err(ApiError::new(
                StatusCode::LOCKED,
                "upload-locked",
                "Another request is writing this upload",
            )
            .detail(format!(
                "a request that stopped sending loses the upload after {} s; HEAD and retry",
                state.config.upload_lease_secs
            ))
            .header(header::RETRY_AFTER, value(state.config.upload_lease_secs)));
        }
        Ok(Lease {
            state: state.clone(),
            id,
            token,
            renewed: std::time::Instant::now(),
            released: false,
        })
    }

    /// Make sure the lease is still ours before touching the file or committing, extending it
    /// when a quarter of it has passed (so a steady upload costs a write every few seconds,
    /// not one per chunk). Lost (taken over after silence): stop, write nothing more.
    async fn keep(&mut self) -> ApiResult<()> {
        let quarter = lease_for(&self.state).to_std().unwrap_or_default() / 4;
        if self.renewed.elapsed() < quarter {
            return Ok(());
        }
        let until = self.state.config.clock.now() + lease_for(&self.state);
        if !self
            .state
            .storage
            .leases()
            .renew(self.id, self.token, until)
            .await?
        {
            // Another request holds the upload now and may be writing the file: touch
            // nothing more (no flush, no rollback) and commit nothing.
            return Err(lease_lost());
        }
        self.renewed = std::time::Instant::now();
        Ok(())
    }

    async fn release(mut self) {
        self.released = true;
        if let Err(e) = self
            .state
            .storage
            .leases()
            .release(self.id, self.token)
            .await
        {
            tracing::warn!(upload = %self.id, error = %e, "upload lease not released; it expires");
        }
    }
}

impl Drop for Lease {
    /// A request dropped mid-way (client gone) gives the lease back in the background rather
    /// than leave the upload blocked until expiry.
    fn drop(&mut self) {
        if self.released {
            return;
        }
        let (storage, id, token) = (self.state.storage.clone(), self.id, self.token);
        if let Ok(rt) = tokio::runtime::Handle::try_current() {
            rt.spawn(async move {
                let _ = storage.leases().release(id, token).await;
            });
        }
    }
}

/// RFC 7231 date, as `Upload-Expires` wants it.
pub fn http_date(t: DateTime<Utc>) -> String {
    t.format("%a, %d %b %Y %H:%M:%S GMT").to_string()
}

fn header_str<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

fn require_tus(headers: &HeaderMap) -> ApiResult<()> {
    if header_str(headers, "tus-resumable") == Some(TUS_VERSION) {
        Ok(())
    } else {
        Err(ApiError::new(
            StatusCode::PRECONDITION_FAILED,
            "tus-version",
            "This server speaks tus 1.0.0 only",
        )
        .header(h("tus-version"), HeaderValue::from_static(TUS_VERSION)))
    }
}

fn value(s: impl std::fmt::Display) -> HeaderValue {
    HeaderValue::from_str(&s.to_string()).unwrap_or_else(|_| HeaderValue::from_static(""))
}

#[utoipa::path(
    options,
    path = "/v1/uploads",
    operation_id = "tusDiscover",
    tag = "uploads",
    summary = "tus discovery: version, extensions, largest upload, checksums",
    responses((status = 204, description = "What this tus server supports", headers(
        ("Tus-Version" = String, description = "1.0.0"),
        ("Tus-Extension" = String, description = "creation,checksum,termination,expiration"),
        ("Tus-Max-Size" = u64, description = "The largest upload, in bytes"),
        ("Tus-Checksum-Algorithm" = String, description = "sha1,sha256"),
    )))
)]
async fn discover(state: State<AppState>) -> Response {
    discovery(state).await
}

#[utoipa::path(
    options,
    path = "/v1/uploads/{id}",
    operation_id = "tusDiscoverUpload",
    tag = "uploads",
    summary = "tus discovery, at an upload's address",
    params(("id" = String, Path, description = "Any upload's id: discovery does not look at it")),
    responses((status = 204, description = "What this tus server supports", headers(
        ("Tus-Version" = String, description = "1.0.0"),
        ("Tus-Extension" = String, description = "creation,checksum,termination,expiration"),
        ("Tus-Max-Size" = u64, description = "The largest upload, in bytes"),
        ("Tus-Checksum-Algorithm" = String, description = "sha1,sha256"),
    )))
)]
async fn discover_upload(state: State<AppState>) -> Response {
    discovery(state).await
}

async fn discovery(State(state): State<AppState>) -> Response {
    let mut res = StatusCode::NO_CONTENT.into_response();
    let hs = res.headers_mut();
    hs.insert(h("tus-version"), HeaderValue::from_static(TUS_VERSION));
    hs.insert(h("tus-extension"), HeaderValue::from_static(TUS_EXTENSIONS));
    hs.insert(h("tus-max-size"), value(state.config.max_upload_bytes));
    hs.insert(
        h("tus-checksum-algorithm"),
        HeaderValue::from_static(TUS_CHECKSUMS),
    );
    res
}

/// `Upload-Metadata`: comma-separated `key base64value` pairs (the value may be absent).
pub fn parse_metadata(raw: &str) -> ApiResult<Vec<(String, String)>> {
    let mut out = Vec::new();
    for pair in raw.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let (key, encoded) = pair.split_once(' ').unwrap_or((pair, ""));
        let bytes = STANDARD
            .decode(encoded.trim())
            .map_err(|_| ApiError::bad_request(format!("Upload-Metadata {key}: not base64")))?;
        let text = String::from_utf8(bytes)
            .map_err(|_| ApiError::bad_request(format!("Upload-Metadata {key}: not UTF-8")))?;
        out.push((key.to_string(), text));
    }
    Ok(out)
}

fn meta<'a>(m: &'a [(String, String)], key: &str) -> Option<&'a str> {
    m.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
}

fn is_sha256_hex(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|b| b.is_ascii_hexdigit())
}

/// Where a blob lives, relative to the data directory. Callers pass a checked SHA-256 (64 hex
/// digits); anything else still gets a path (no slicing panic), never one outside `blobs/`.
pub fn blob_rel_path(sha256: &str) -> String {
    let name: String = sha256.chars().filter(char::is_ascii_hexdigit).collect();
    let dir = name.get(..2).unwrap_or("00");
    format!("blobs/{dir}/{name}")
}

#[utoipa::path(
    post,
    path = "/v1/uploads",
    operation_id = "tusCreate",
    tag = "uploads",
    summary = "Start uploading a photo whose `PhotoCaptured` event was pushed (tus creation)",
    params(
        ("Tus-Resumable" = String, Header, pattern = r"^1\.0\.0$", description = "The protocol version: 1.0.0"),
        ("Upload-Length" = u64, Header, minimum = 1, description = "The photo's size in bytes, at most `Tus-Max-Size`"),
        ("Upload-Metadata" = String, Header, description = "`photo_id`, `job_id`, `sha256` (and optionally `filename`, `filetype`), each `key base64(value)`, comma-separated; at most 4 KiB"),
    ),
    responses(
        (status = 201, description = "Created", headers(
            ("Location" = String, description = "The upload's address, `/v1/uploads/{id}`"),
            ("Upload-Expires" = String, description = "RFC 7231 date after which an unfinished upload is gone"),
            ("Upload-Offset" = u64, description = "0"),
        )),
        (status = 400, description = "Upload-Length or Upload-Metadata missing or malformed"),
        (status = 412, description = "Tus-Resumable is not 1.0.0"),
        (status = 413, description = "Upload-Length exceeds Tus-Max-Size"),
        (status = 422, description = "No photo with this id, job and SHA-256 on a job of yours"),
    ),
    security(("deviceToken" = []))
)]
async fn create(
    State(state): State<AppState>,
    DeviceAuth(who): DeviceAuth,
    headers: HeaderMap,
) -> ApiResult<Response> {
    require_tus(&headers)?;
    if headers.contains_key("upload-defer-length") {
        return Err(ApiError::bad_request(
            "Upload-Defer-Length is not supported: send Upload-Length",
        ));
    }
    let length: u64 = header_str(&headers, "upload-length")
        .and_then(|v| v.trim().parse().ok())
        .ok_or_else(|| ApiError::bad_request("Upload-Length is required"))?;
    let max = state.config.max_upload_bytes;
    if length > max {
        return Err(ApiError::too_large(format!(
            "Upload-Length {length} exceeds Tus-Max-Size {max}"
        )));
    }
    if length == 0 {
        return Err(ApiError::bad_request("a photo has bytes: Upload-Length 0"));
    }
    let now = state.config.clock.now();
    let (open, open_bytes) = state
        .storage
        .open_uploads(Some(who.technician_id), now)
        .await?;
    let c = &state.config;
    if open >= c.max_open_uploads || open_bytes.saturating_add(length) > c.max_open_upload_bytes {
        return Err(ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "too-many-open-uploads",
            "Too many unfinished uploads",
        )
        .detail(format!(
            "at most {} open uploads of {} bytes in all; finish or DELETE one first",
            c.max_open_uploads, c.max_open_upload_bytes
        ))
        .header(header::RETRY_AFTER, HeaderValue::from_static("60")));
    }
    let raw_metadata = header_str(&headers, "upload-metadata").unwrap_or("");
    if raw_metadata.len() > METADATA_MAX_BYTES {
        return Err(ApiError::bad_request(format!(
            "Upload-Metadata is longer than {METADATA_MAX_BYTES} bytes"
        )));
    }
    let m = parse_metadata(raw_metadata)?;
    let missing = |k: &str| ApiError::bad_request(format!("Upload-Metadata needs {k}"));
    let photo_id = meta(&m, upload_metadata::PHOTO_ID)
        .and_then(|v| Uuid::parse_str(v).ok())
        .ok_or_else(|| missing(upload_metadata::PHOTO_ID))?;
    let job_id = meta(&m, upload_metadata::JOB_ID)
        .and_then(|v| Uuid::parse_str(v).ok())
        .ok_or_else(|| missing(upload_metadata::JOB_ID))?;
    let sha256 = meta(&m, upload_metadata::SHA256)
        .map(str::to_ascii_lowercase)
        .filter(|s| is_sha256_hex(s))
        .ok_or_else(|| missing(upload_metadata::SHA256))?;
    match state
        .storage
        .photo_access(who, photo_id, job_id, &sha256)
        .await?
    {
        PhotoAccess::Allowed => {}
        // Same answer either way: no hint about other technicians' photos.
        PhotoAccess::NoRecord | PhotoAccess::NotYours => {
            return Err(ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "no-such-photo",
                "No photo with this id, job and SHA-256 on a job of yours",
            )
            .detail("push the PhotoCaptured event before uploading its bytes"));
        }
    }
    let upload = Upload {
        id: Uuid::now_v7(),
        organisation_id: who.organisation_id,
        technician_id: who.technician_id,
        photo_id,
        job_id,
        sha256,
        length,
        offset: 0,
        metadata: Some(raw_metadata.to_string()).filter(|m| !m.is_empty()),
        expires_at: now + chrono::Duration::hours(state.config.upload_expiry_hours),
        hash_state: None,
        completed: false,
    };
    state
        .blobs
        .create_partial(upload.id)
        .await
        .map_err(ApiError::internal)?;
    state.storage.create_upload(&upload, now).await?;
    let mut res = StatusCode::CREATED.into_response();
    let hs = res.headers_mut();
    hs.insert(
        header::LOCATION,
        value(format!("/v1/uploads/{}", upload.id)),
    );
    hs.insert(h("upload-expires"), value(http_date(upload.expires_at)));
    hs.insert(h("upload-offset"), HeaderValue::from_static("0"));
    Ok(res)
}

/// The caller's upload, refusing expired unfinished ones with 410.
async fn own_upload(state: &AppState, who: &DeviceAuth, id: Uuid) -> ApiResult<Upload> {
    let u = state
        .storage
        .upload(who.0.technician_id, id)
        .await?
        .ok_or_else(|| ApiError::not_found("upload"))?;
    if u.offset < u.length && u.expires_at <= state.config.clock.now() {
        return Err(ApiError::new(
            StatusCode::GONE,
            "upload-expired",
            "This upload expired; start a new one",
        ));
    }
    Ok(u)
}

#[utoipa::path(
    head,
    path = "/v1/uploads/{id}",
    operation_id = "tusOffset",
    tag = "uploads",
    summary = "How many bytes the server has (where to resume)",
    params(
        ("id" = Uuid, Path, description = "Upload id"),
        ("Tus-Resumable" = String, Header, pattern = r"^1\.0\.0$", description = "The protocol version: 1.0.0"),
    ),
    responses(
        (status = 200, description = "The upload's state", headers(
            ("Upload-Offset" = u64, description = "Bytes stored"),
            ("Upload-Length" = u64, description = "The photo's size"),
            ("Upload-Expires" = String, description = "RFC 7231 date"),
            ("Upload-Metadata" = String, description = "As given at creation"),
        )),
        (status = 404, description = "No such upload of yours"),
        (status = 410, description = "The upload expired"),
        (status = 412, description = "Tus-Resumable is not 1.0.0"),
        (status = 415, description = "The finished bytes are not a JPEG or PNG; discarded"),
        (status = 422, description = "The finished bytes do not have the recorded SHA-256; discarded"),
        (status = 423, description = "Another request is writing this upload (`Retry-After`)"),
    ),
    security(("deviceToken" = []))
)]
async fn status(
    State(state): State<AppState>,
    who: DeviceAuth,
    ApiPath(id): ApiPath<Uuid>,
    headers: HeaderMap,
) -> ApiResult<Response> {
    require_tus(&headers)?;
    let u = own_upload(&state, &who, id).await?;
    if u.offset == u.length && !u.completed {
        let lease = Lease::take(&state, id).await?;
        let out = recover_complete(&state, &u).await;
        lease.release().await;
        out?;
    }
    let mut res = StatusCode::OK.into_response();
    let hs = res.headers_mut();
    hs.insert(h("upload-offset"), value(u.offset));
    hs.insert(h("upload-length"), value(u.length));
    hs.insert(h("upload-expires"), value(http_date(u.expires_at)));
    if let Some(m) = u
        .metadata
        .as_deref()
        .and_then(|m| HeaderValue::from_str(m).ok())
    {
        hs.insert(h("upload-metadata"), m);
    }
    hs.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(res)
}

enum Checksum {
    Sha1(Sha1, Vec<u8>),
    Sha256(Sha256, Vec<u8>),
}

impl Checksum {
    fn parse(raw: &str) -> ApiResult<Checksum> {
        let (algo, b64) = raw
            .trim()
            .split_once(' ')
            .ok_or_else(|| ApiError::bad_request("Upload-Checksum: <algorithm> <base64>"))?;
        let want = STANDARD
            .decode(b64.trim())
            .map_err(|_| ApiError::bad_request("Upload-Checksum: not base64"))?;
        match algo {
            "sha1" => Ok(Checksum::Sha1(Sha1::new(), want)),
            "sha256" => Ok(Checksum::Sha256(Sha256::new(), want)),
            other => Err(ApiError::bad_request(format!(
                "Upload-Checksum algorithm {other:?} is not supported ({TUS_CHECKSUMS})"
            ))),
        }
    }

    fn update(&mut self, data: &[u8]) {
        match self {
            Checksum::Sha1(h, _) => h.update(data),
            Checksum::Sha256(h, _) => h.update(data),
        }
    }

    fn matches(self) -> bool {
        match self {
            Checksum::Sha1(h, want) => h.finalize().as_slice() == want.as_slice(),
            Checksum::Sha256(h, want) => h.finalize().as_slice() == want.as_slice(),
        }
    }
}

/// How a PATCH body ended.
enum BodyEnd {
    Complete,
    /// The client went away (or stalled); what arrived is kept.
    Cut,
    TooLarge,
}

#[utoipa::path(
    patch,
    path = "/v1/uploads/{id}",
    operation_id = "tusAppend",
    tag = "uploads",
    summary = "Append bytes at the server's offset; a cut PATCH keeps what arrived",
    params(
        ("id" = Uuid, Path, description = "Upload id"),
        ("Tus-Resumable" = String, Header, pattern = r"^1\.0\.0$", description = "The protocol version: 1.0.0"),
        ("Upload-Offset" = u64, Header, description = "Where these bytes start: the server's offset"),
        ("Upload-Checksum" = Option<String>, Header, nullable = false, pattern = r"^(sha1 [A-Za-z0-9+/]{26}|sha256 [A-Za-z0-9+/]{42})[AEIMQUYcgkosw048]=$", description = "`sha1` or `sha256` and the base64 digest of this chunk"),
        ("X-HTTP-Method-Override" = Option<String>, Header, nullable = false, description = "Sent with POST by clients behind proxies that allow only GET and POST"),
    ),
    request_body(content = Binary, content_type = "application/offset+octet-stream", description = "The bytes"),
    responses(
        (status = 204, description = "Stored", headers(
            ("Upload-Offset" = u64, description = "The new offset"),
            ("Upload-Expires" = String, description = "RFC 7231 date"),
        )),
        (status = 400, description = "Upload-Offset or Upload-Checksum missing or malformed; or a checksummed chunk was cut"),
        (status = 404, description = "No such upload of yours"),
        (status = 409, description = "Upload-Offset is not the server's offset (the answer carries it)"),
        (status = 410, description = "The upload expired"),
        (status = 412, description = "Tus-Resumable is not 1.0.0"),
        (status = 413, description = "More bytes than the upload has left"),
        (status = 415, description = "Not `application/offset+octet-stream`; or the finished bytes are not a JPEG or PNG"),
        (status = 422, description = "The finished bytes do not have the recorded SHA-256; discarded"),
        (status = 423, description = "Another request is writing this upload (`Retry-After`)"),
        (status = 460, description = "Checksum Mismatch: the chunk was discarded"),
    ),
    security(("deviceToken" = []))
)]
async fn append(
    State(state): State<AppState>,
    who: DeviceAuth,
    ApiPath(id): ApiPath<Uuid>,
    headers: HeaderMap,
    body: Body,
) -> ApiResult<Response> {
    require_tus(&headers)?;
    if header_str(&headers, "content-type").map(|t| t.split(';').next().unwrap_or("").trim())
        != Some(OFFSET_CONTENT_TYPE)
    {
        return Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported-media-type",
            "PATCH needs Content-Type: application/offset+octet-stream",
        ));
    }
    let offset: u64 = header_str(&headers, "upload-offset")
        .and_then(|v| v.trim().parse().ok())
        .ok_or_else(|| ApiError::bad_request("Upload-Offset is required"))?;
    let checksum = header_str(&headers, "upload-checksum")
        .map(Checksum::parse)
        .transpose()?;
    own_upload(&state, &who, id).await?;
    let mut lease = Lease::take(&state, id).await?;
    let out = append_leased(&state, &who, id, offset, checksum, body, &mut lease).await;
    lease.release().await;
    out
}

/// The offset could not be committed: the upload moved on, or this request's lease ran out and
/// another request holds it.
fn lease_lost() -> ApiError {
    ApiError::new(
        StatusCode::CONFLICT,
        "offset-mismatch",
        "The upload moved meanwhile; HEAD and retry",
    )
}

/// The hash state as stored: the offset it covers (8 bytes, little-endian), then the state.
fn save_hash(h: &Sha256, offset: u64) -> Vec<u8> {
    let mut out = offset.to_le_bytes().to_vec();
    out.extend_from_slice(&h.serialize());
    out
}

/// The SHA-256 over the upload's committed bytes, taken up where the last PATCH left it; `None`
/// when that state is not known or covers another offset than the committed one (a row moved
/// by a build that did not keep it): the last byte then hashes the file.
fn resume_hash(u: &Upload) -> Option<Sha256> {
    if u.offset == 0 {
        return Some(Sha256::new());
    }
    let (covered, state) = u.hash_state.as_deref()?.split_first_chunk::<8>()?;
    if u64::from_le_bytes(*covered) != u.offset {
        return None;
    }
    let saved = SerializedState::<Sha256>::try_from(state).ok()?;
    Sha256::deserialize(&saved).ok()
}

/// The PATCH proper, with the upload's lease held.
async fn append_leased(
    state: &AppState,
    who: &DeviceAuth,
    id: Uuid,
    offset: u64,
    mut checksum: Option<Checksum>,
    body: Body,
    lease: &mut Lease,
) -> ApiResult<Response> {
    // Read again under the lease: the offset another process committed before we got it.
    let u = own_upload(state, who, id).await?;
    if u.offset == u.length && offset == u.offset {
        if !u.completed {
            recover_complete(state, &u).await?;
        }
        let mut res = StatusCode::NO_CONTENT.into_response();
        res.headers_mut()
            .insert(h("upload-offset"), value(u.offset));
        return Ok(res);
    }
    if offset != u.offset {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "offset-mismatch",
            "Upload-Offset differs from the server's offset",
        )
        .detail(format!("the server has {} bytes; HEAD to resume", u.offset))
        .header(h("upload-offset"), value(u.offset)));
    }
    let room = u.length - u.offset;
    let mut writer = state
        .blobs
        .append_partial(id, u.offset)
        .await
        .map_err(ApiError::internal)?;
    let mut stream = body.into_data_stream();
    let mut written: u64 = 0;
    let mut whole = resume_hash(&u);
    let end = loop {
        match tokio::time::timeout(READ_STALL, stream.next()).await {
            Ok(None) => break BodyEnd::Complete,
            Ok(Some(Ok(chunk))) => {
                if written + chunk.len() as u64 > room {
                    break BodyEnd::TooLarge;
                }
                // Bytes are moving: the lease stays ours (renewed every quarter of it).
                lease.keep().await?;
                writer.write(&chunk).await.map_err(ApiError::internal)?;
                if let Some(c) = checksum.as_mut() {
                    c.update(&chunk);
                }
                if let Some(h) = whole.as_mut() {
                    h.update(&chunk);
                }
                written += chunk.len() as u64;
            }
            Ok(Some(Err(_))) | Err(_) => break BodyEnd::Cut,
        }
    };
    // What arrived is kept (a cut without a checksum keeps its bytes for resumption), if the
    // upload is still ours: after a silence the next PATCH may have taken it over.
    lease.keep().await?;
    let refused = match end {
        BodyEnd::TooLarge => Some(ApiError::too_large(format!(
            "at most {room} bytes fit in this PATCH (upload length and per-request limit)"
        ))),
        // A chunk with a checksum is all or nothing: a cut one cannot be verified.
        BodyEnd::Cut if checksum.is_some() => {
            Some(ApiError::bad_request("the chunk was cut; it was discarded"))
        }
        BodyEnd::Complete if checksum.take().is_some_and(|c| !c.matches()) => Some(ApiError::new(
            checksum_mismatch(),
            "checksum-mismatch",
            "Upload-Checksum does not match the chunk; it was discarded",
        )),
        _ => None,
    };
    if let Some(refused) = refused {
        writer.rollback().await.map_err(ApiError::internal)?;
        return Err(refused);
    }
    writer.commit().await.map_err(ApiError::internal)?;
    drop(writer);
    let new_offset = u.offset + written;
    let hash_state = whole.as_ref().map(|h| save_hash(h, new_offset));
    lease.keep().await?;
    if written > 0
        && !state
            .storage
            .advance_upload(
                id,
                u.offset,
                new_offset,
                hash_state,
                lease.token,
                state.config.clock.now(),
            )
            .await?
    {
        return Err(lease_lost());
    }
    crate::metrics::count_upload_bytes(written);
    if let BodyEnd::Cut = end {
        tracing::info!(upload = %id, kept = written, "upload cut; bytes kept for resumption");
    }
    if new_offset == u.length {
        finish(state, &u, whole.map(|h| hex::encode(h.finalize()))).await?;
    }
    let mut res = StatusCode::NO_CONTENT.into_response();
    let hs = res.headers_mut();
    hs.insert(h("upload-offset"), value(new_offset));
    hs.insert(h("upload-expires"), value(http_date(u.expires_at)));
    Ok(res)
}

/// An upload whose last byte is stored may still lack its last step: the request that wrote it
/// can be cut off (client gone, process killed) between committing the offset and linking the
/// photo. Before anyone is told "complete", finish what is missing: verify and move a partial
/// file that is still there, or link a blob that was moved but not recorded. Idempotent.
async fn recover_complete(state: &AppState, u: &Upload) -> ApiResult<()> {
    let blobs = &state.blobs;
    let rel = blob_rel_path(&u.sha256);
    // The blob first: stored already (by this upload before the crash, or by another with the
    // same bytes), what is left of the upload's bytes is only to be cleared away.
    if let Some(bytes) = blobs.read_blob(&rel).await.map_err(ApiError::internal)? {
        if let Err(e) = blobs.delete_partial(u.id).await {
            tracing::warn!(upload = %u.id, error = %e, "leftover upload bytes not removed");
        }
        // A blob is stored only once its bytes were sniffed as an image.
        let content_type = sniff_image(&bytes).unwrap_or(OCTET_STREAM);
        return state
            .storage
            .complete_upload(
                u.id,
                u.photo_id,
                &rel,
                content_type,
                state.config.clock.now(),
            )
            .await
            .map_err(Into::into);
    }
    if blobs
        .partial_exists(u.id)
        .await
        .map_err(ApiError::internal)?
    {
        let digest = resume_hash(u).map(|h| hex::encode(h.finalize()));
        return finish(state, u, digest).await;
    }
    // Neither: the bytes were refused and removed, and the process died before the row went.
    // Saying "complete" now would have the device mark a photo uploaded that never was.
    state.storage.delete_upload(u.id).await?;
    Err(ApiError::not_found("upload"))
}

/// What the bytes of a finished upload turned out to be.
enum Verdict {
    /// Stored content-addressed; served as this type.
    Stored(&'static str),
    HashMismatch,
    NotAnImage,
}

/// The type to serve bytes as, decided from the bytes alone: JPEG or PNG, nothing else. What a
/// client declares (`filetype`) is never believed: an SVG or HTML declared as a photo would run
/// as script in the dispatcher's browser.
pub fn sniff_image(head: &[u8]) -> Option<&'static str> {
    if head.starts_with(&[0xFF, 0xD8, 0xFF]) {
        Some("image/jpeg")
    } else if head.starts_with(b"\x89PNG\r\n\x1a\n") {
        Some("image/png")
    } else {
        None
    }
}

/// What bytes that are not a photo are served as (never rendered by a browser).
pub const OCTET_STREAM: &str = "application/octet-stream";

/// Verify the upload's bytes against the photo record and check they are an image, then
/// store them content-addressed. `digest` is the SHA-256 computed as the bytes arrived, if
/// known; otherwise the bytes are read again.
async fn finish(state: &AppState, u: &Upload, digest: Option<String>) -> ApiResult<()> {
    let blobs = &state.blobs;
    let rel = blob_rel_path(&u.sha256);
    let verdict = async {
        let got = match digest {
            Some(d) => d,
            None => blobs.partial_sha256(u.id, u.length).await?,
        };
        if got != u.sha256 {
            blobs.delete_partial(u.id).await?;
            return Ok(Verdict::HashMismatch);
        }
        Ok::<_, crate::blobs::BlobError>(
            match blobs
                .promote(u.id, u.length, &rel, &u.sha256, sniff_image)
                .await?
            {
                Promoted::Stored(content_type) => Verdict::Stored(content_type),
                Promoted::NotAnImage => Verdict::NotAnImage,
                Promoted::Changed => Verdict::HashMismatch,
            },
        )
    }
    .await
    .map_err(ApiError::internal)?;
    let content_type = match verdict {
        Verdict::Stored(t) => t,
        Verdict::HashMismatch => {
            state.storage.delete_upload(u.id).await?;
            return Err(ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "photo-hash-mismatch",
                "The uploaded bytes do not have the SHA-256 the photo was recorded with",
            )
            .detail("the upload was discarded; upload the original file again"));
        }
        Verdict::NotAnImage => {
            state.storage.delete_upload(u.id).await?;
            return Err(ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "not-a-photo",
                "The uploaded bytes are not a JPEG or PNG image",
            )
            .detail("the upload was discarded; photos are stored as JPEG or PNG only"));
        }
    };
    state
        .storage
        .complete_upload(
            u.id,
            u.photo_id,
            &rel,
            content_type,
            state.config.clock.now(),
        )
        .await?;
    state.notifier.notify(u.organisation_id, u.job_id);
    tracing::info!(photo = %u.photo_id, sha256 = %u.sha256, "photo stored");
    Ok(())
}

#[utoipa::path(
    delete,
    path = "/v1/uploads/{id}",
    operation_id = "tusTerminate",
    tag = "uploads",
    summary = "Give up an upload and free its bytes (tus termination)",
    params(
        ("id" = Uuid, Path, description = "Upload id"),
        ("Tus-Resumable" = String, Header, pattern = r"^1\.0\.0$", description = "The protocol version: 1.0.0"),
    ),
    responses(
        (status = 204, description = "Gone"),
        (status = 404, description = "No such upload of yours"),
        (status = 412, description = "Tus-Resumable is not 1.0.0"),
        (status = 423, description = "Another request is writing this upload (`Retry-After`)"),
    ),
    security(("deviceToken" = []))
)]
async fn terminate(
    State(state): State<AppState>,
    who: DeviceAuth,
    ApiPath(id): ApiPath<Uuid>,
    headers: HeaderMap,
) -> ApiResult<StatusCode> {
    require_tus(&headers)?;
    state
        .storage
        .upload(who.0.technician_id, id)
        .await?
        .ok_or_else(|| ApiError::not_found("upload"))?;
    let lease = Lease::take(&state, id).await?;
    let removed = state
        .blobs
        .delete_partial(id)
        .await
        .map_err(ApiError::internal);
    if let Err(e) = removed {
        lease.release().await;
        return Err(e);
    }
    // The row goes, and the lease with it.
    let deleted = state.storage.delete_upload(id).await;
    lease.release().await;
    deleted?;
    Ok(StatusCode::NO_CONTENT)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metadata_pairs_decode_and_keys_without_values_are_empty() {
        let m = parse_metadata("photo_id YWJj, filename, x ZGVm").unwrap();
        assert_eq!(meta(&m, "photo_id"), Some("abc"));
        assert_eq!(meta(&m, "filename"), Some(""));
        assert_eq!(meta(&m, "x"), Some("def"));
        assert!(parse_metadata("a !!!").is_err());
    }

    fn upload(offset: u64, hash_state: Option<Vec<u8>>) -> Upload {
        Upload {
            id: Uuid::now_v7(),
            organisation_id: Uuid::now_v7(),
            technician_id: Uuid::now_v7(),
            photo_id: Uuid::now_v7(),
            job_id: Uuid::now_v7(),
            sha256: String::new(),
            length: 1000,
            offset,
            metadata: None,
            expires_at: Utc::now(),
            hash_state,
            completed: false,
        }
    }

    #[test]
    fn the_hash_goes_on_from_the_saved_state_and_an_unknown_state_means_read_the_file() {
        let data: Vec<u8> = (0..1000u32).map(|i| (i * 7 % 251) as u8).collect();
        // 333 bytes: the saved state holds a part-filled block.
        let mut first = Sha256::new();
        first.update(&data[..333]);
        let saved = save_hash(&first, 333);
        let mut resumed = resume_hash(&upload(333, Some(saved.clone()))).expect("state");
        resumed.update(&data[333..]);
        assert_eq!(
            hex::encode(resumed.finalize()),
            hex::encode(Sha256::digest(&data))
        );

        assert!(resume_hash(&upload(0, None)).is_some(), "a new upload");
        assert!(resume_hash(&upload(333, None)).is_none(), "begun before v2");
        assert!(
            resume_hash(&upload(400, Some(saved.clone()))).is_none(),
            "the state of another offset (the row moved without it)"
        );
        assert!(
            resume_hash(&upload(333, Some(saved[..10].to_vec()))).is_none(),
            "a damaged state is not trusted"
        );
    }

    #[test]
    fn a_blob_path_stays_under_blobs_whatever_it_is_given() {
        let sha = "ab".repeat(32);
        assert_eq!(blob_rel_path(&sha), format!("blobs/ab/{sha}"));
        for odd in ["", "a", "../../etc/passwd", "é"] {
            let p = blob_rel_path(odd);
            assert!(p.starts_with("blobs/") && !p.contains(".."), "{odd:?}: {p}");
        }
    }

    #[test]
    fn upload_expires_is_an_rfc_7231_date() {
        let t = DateTime::parse_from_rfc3339("1994-11-06T08:49:37Z")
            .unwrap()
            .with_timezone(&Utc);
        assert_eq!(http_date(t), "Sun, 06 Nov 1994 08:49:37 GMT");
    }
}
