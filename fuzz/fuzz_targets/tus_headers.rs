//! The public pieces of the tus upload endpoint that read what a client sends: the
//! `Upload-Metadata` parser (`sync_server::tus::parse_metadata`), the content sniff that decides
//! what a finished upload is served as (`sniff_image`), plus the `Upload-Expires` date the server
//! writes (`http_date`) and the blob path a verified upload is stored under (`blob_rel_path`).
//! `Upload-Offset`, `Upload-Length` and `Upload-Checksum` are parsed inside the (private)
//! handlers, so they are not reached from here.
//!
//! Asserted: no panic on any header text; every parsed key is a tus key (non-empty, no space or
//! comma) and the parsed pairs, re-encoded the way our client encodes them, parse back the same;
//! metadata our client could send (printable ASCII keys, any UTF-8 values) parses to exactly what
//! was sent; a JPEG or PNG signature and nothing else is served as an image; an expiry date
//! reads back as an RFC 7231 date of the same second; a blob path stays under `blobs/`.
#![no_main]

use arbitrary::{Result, Unstructured};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use chrono::{DateTime, Utc};
use fieldcore::protocol::upload_metadata;
use libfuzzer_sys::fuzz_target;
use sync_server::tus::{blob_rel_path, http_date, parse_metadata, sniff_image};

fuzz_target!(|data: &[u8]| {
    raw_metadata(&String::from_utf8_lossy(data));
    let _ = client_metadata(&mut Unstructured::new(data));
    sniff(data);
    let _ = expiry(&mut Unstructured::new(data));
});

/// Any header text. What parses must be well-formed and survive a round through the client's
/// encoding.
fn raw_metadata(header: &str) {
    let Ok(pairs) = parse_metadata(header) else {
        return;
    };
    for (key, value) in &pairs {
        assert!(
            !key.is_empty() && !key.contains([' ', ',']),
            "not a tus key: {key:?}"
        );
        if key == upload_metadata::SHA256 {
            stored_under(value);
        }
    }
    let again = parse_metadata(&encode(&pairs))
        .unwrap_or_else(|_| panic!("{pairs:?} re-encoded is refused"));
    assert_eq!(again, pairs, "parsed metadata does not survive re-encoding");
}

/// Metadata as our client (core's `sync::upload`) could build it: printable ASCII keys without
/// commas, any UTF-8 values. The server must read back exactly what was sent.
fn client_metadata(u: &mut Unstructured<'_>) -> Result<()> {
    let count = u.int_in_range(0..=6)?;
    let mut pairs = Vec::with_capacity(count);
    for _ in 0..count {
        let len = u.int_in_range(1..=16)?;
        let key: String = (0..len)
            .map(|_| {
                u.int_in_range(0x21u8..=0x7e)
                    .map(|b| if b == b',' { '_' } else { char::from(b) })
            })
            .collect::<Result<_>>()?;
        let value: String = u.arbitrary()?;
        pairs.push((key, value));
    }
    let parsed = parse_metadata(&encode(&pairs))
        .unwrap_or_else(|_| panic!("the client's metadata {pairs:?} is refused"));
    assert_eq!(
        parsed, pairs,
        "the server reads other metadata than was sent"
    );
    Ok(())
}

/// `key base64(value)` pairs joined by commas, as `core::sync::upload` writes the header.
fn encode(pairs: &[(String, String)]) -> String {
    pairs
        .iter()
        .map(|(k, v)| format!("{k} {}", STANDARD.encode(v)))
        .collect::<Vec<_>>()
        .join(",")
}

/// The checks `tus::create` makes on the `sha256` value before it becomes part of a path, then
/// the path: under `blobs/`, never climbing out.
fn stored_under(sha256: &str) {
    let sha256 = sha256.to_ascii_lowercase();
    if sha256.len() != 64 || !sha256.bytes().all(|b| b.is_ascii_hexdigit()) {
        return;
    }
    let path = blob_rel_path(&sha256);
    assert_eq!(path, format!("blobs/{}/{sha256}", &sha256[..2]));
}

/// Served as an image exactly when the bytes start with a JPEG or PNG signature.
fn sniff(data: &[u8]) {
    let expected = if data.starts_with(&[0xFF, 0xD8, 0xFF]) {
        Some("image/jpeg")
    } else if data.starts_with(b"\x89PNG\r\n\x1a\n") {
        Some("image/png")
    } else {
        None
    };
    assert_eq!(sniff_image(data), expected, "sniffed {:?}", data.get(..8));
}

/// `Upload-Expires` for any time in years 1970 to 9999 (an expiry is now plus hours) is a valid
/// HTTP date naming the same second.
fn expiry(u: &mut Unstructured<'_>) -> Result<()> {
    let max = DateTime::parse_from_rfc3339("9999-12-31T23:59:59Z")
        .map(|t| t.timestamp())
        .unwrap_or(0);
    let secs = u.int_in_range(0..=max)?;
    let Some(t) = DateTime::<Utc>::from_timestamp(secs, 0) else {
        return Ok(());
    };
    let header = http_date(t);
    let read = DateTime::parse_from_rfc2822(&header)
        .unwrap_or_else(|e| panic!("Upload-Expires {header:?} is not a date: {e}"));
    assert_eq!(read, t, "Upload-Expires {header:?} names another time");
    Ok(())
}
