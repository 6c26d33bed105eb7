//! The bundle for machines: one zip with the manifest, the photos as stored, and a note on how
//! to check it. The photos are stored uncompressed (JPEG and PNG are compressed already), the
//! manifest deflated.

use std::io::{Cursor, Write};

use zip::CompressionMethod;
use zip::write::{SimpleFileOptions, ZipWriter};

use super::Evidence;

const README: &str = "\
This is the evidence of one field-service job, as the fieldcore server holds it.

manifest.json  the job's events with their devices' signatures, each device's public key and
               the stretch of its signed chain around the job, and the photos' hashes
photos/        the photos, byte for byte as the technicians' phones sent them

Check it without trusting the server: `fieldtech verify <this file>`. It checks every
signature, that each device's chain runs unbroken through the job, and every photo's bytes
against the hash its signed event names. The server's times and flags, and the dispatchers'
events, are the server's statements: listed in the manifest, not signed.
";

/// The zip's bytes.
pub fn zip(e: &Evidence) -> Result<Vec<u8>, zip::result::ZipError> {
    let mut w = ZipWriter::new(Cursor::new(Vec::new()));
    // A fixed time for every entry: the same evidence makes the same bytes.
    let stamp = zip::DateTime::default();
    let deflated = SimpleFileOptions::default()
        .compression_method(CompressionMethod::Deflated)
        .last_modified_time(stamp);
    let stored = SimpleFileOptions::default()
        .compression_method(CompressionMethod::Stored)
        .last_modified_time(stamp);
    w.start_file("README.txt", deflated)?;
    w.write_all(README.as_bytes())?;
    w.start_file(fieldcore::evidence::MANIFEST, deflated)?;
    let manifest = serde_json::to_vec_pretty(&e.manifest).map_err(std::io::Error::other)?;
    w.write_all(&manifest)?;
    for (name, bytes) in &e.files {
        w.start_file(name.as_str(), stored)?;
        w.write_all(bytes)?;
    }
    Ok(w.finish()?.into_inner())
}
