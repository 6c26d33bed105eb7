//! Image makers and helpers shared by the `photo_*` tests: every input is generated here, nothing
//! binary is committed.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use image::{Rgb, RgbImage, Rgba, RgbaImage};
use sha2::Digest;

/// A non-uniform picture (gradients and seeded noise), so the encoder cannot cheat.
pub fn textured(width: u32, height: u32, seed: u64) -> RgbImage {
    let mut s = seed | 1;
    RgbImage::from_fn(width, height, |x, y| {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        let n = (s & 15) as u32;
        Rgb([
            (20 + n) as u8,
            (40 + x * 150 / width + n) as u8,
            (60 + y * 150 / height + n) as u8,
        ])
    })
}

/// `textured` with a bright red block in the top-left corner (the marker for orientation tests).
pub fn marked(width: u32, height: u32) -> RgbImage {
    let mut img = textured(width, height, 7);
    for y in 0..height / 4 {
        for x in 0..width / 4 {
            img.put_pixel(x, y, Rgb([250, 10, 10]));
        }
    }
    img
}

pub fn jpeg(img: &RgbImage, quality: u8) -> Vec<u8> {
    let mut out = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, quality)
        .encode_image(img)
        .unwrap();
    out
}

pub fn png_rgba(img: &RgbaImage) -> Vec<u8> {
    let mut out = Vec::new();
    img.write_to(&mut std::io::Cursor::new(&mut out), image::ImageFormat::Png)
        .unwrap();
    out
}

pub fn rgba(width: u32, height: u32, f: impl Fn(u32, u32) -> [u8; 4]) -> RgbaImage {
    RgbaImage::from_fn(width, height, |x, y| Rgba(f(x, y)))
}

/// Insert an EXIF APP1 segment right after SOI: a little-endian TIFF header and one IFD with the
/// Orientation tag (0x0112) and, to check it is stripped, a GPS IFD pointer (0x8825) to a GPS IFD
/// holding GPSLatitudeRef = "N".
pub fn with_exif(jpeg: &[u8], orientation: u16) -> Vec<u8> {
    let mut tiff = Vec::new();
    tiff.extend_from_slice(b"II*\0");
    tiff.extend_from_slice(&8u32.to_le_bytes()); // IFD0 at 8
    tiff.extend_from_slice(&2u16.to_le_bytes()); // 2 entries
    // Orientation, SHORT, count 1, value inline.
    tiff.extend_from_slice(&0x0112u16.to_le_bytes());
    tiff.extend_from_slice(&3u16.to_le_bytes());
    tiff.extend_from_slice(&1u32.to_le_bytes());
    tiff.extend_from_slice(&orientation.to_le_bytes());
    tiff.extend_from_slice(&[0, 0]);
    // GPS IFD pointer, LONG, count 1, offset of the GPS IFD.
    let gps_at = 8 + 2 + 2 * 12 + 4;
    tiff.extend_from_slice(&0x8825u16.to_le_bytes());
    tiff.extend_from_slice(&4u16.to_le_bytes());
    tiff.extend_from_slice(&1u32.to_le_bytes());
    tiff.extend_from_slice(&(gps_at as u32).to_le_bytes());
    tiff.extend_from_slice(&0u32.to_le_bytes()); // no IFD1
    assert_eq!(tiff.len(), gps_at);
    tiff.extend_from_slice(&1u16.to_le_bytes());
    // GPSLatitudeRef, ASCII, count 2, "N\0" inline.
    tiff.extend_from_slice(&1u16.to_le_bytes());
    tiff.extend_from_slice(&2u16.to_le_bytes());
    tiff.extend_from_slice(&2u32.to_le_bytes());
    tiff.extend_from_slice(b"N\0\0\0");
    tiff.extend_from_slice(&0u32.to_le_bytes());

    let mut app1 = b"Exif\0\0".to_vec();
    app1.extend_from_slice(&tiff);
    let mut out = jpeg[..2].to_vec();
    out.extend_from_slice(&[0xFF, 0xE1]);
    out.extend_from_slice(&((app1.len() + 2) as u16).to_be_bytes());
    out.extend_from_slice(&app1);
    out.extend_from_slice(&jpeg[2..]);
    out
}

/// A JPEG whose SOF claims `width`x`height`, made by patching a real small JPEG's frame header.
pub fn jpeg_claiming(width: u16, height: u16) -> Vec<u8> {
    let mut bytes = jpeg(&textured(16, 16, 1), 80);
    let sof = bytes
        .windows(2)
        .position(|w| w == [0xFF, 0xC0])
        .expect("baseline SOF0");
    bytes[sof + 5..sof + 7].copy_from_slice(&height.to_be_bytes());
    bytes[sof + 7..sof + 9].copy_from_slice(&width.to_be_bytes());
    bytes
}

/// A PNG claiming `width`x`height` (RGB8) with a correct IHDR, the start of an IDAT (what a
/// decompression bomb looks like up to its first pixel row) and IEND.
pub fn png_claiming(width: u32, height: u32) -> Vec<u8> {
    png_claiming_as(width, height, 8, 2)
}

/// [`png_claiming`] with another bit depth and colour type (0 grey, 2 RGB, 6 RGBA).
pub fn png_claiming_as(width: u32, height: u32, depth: u8, colour: u8) -> Vec<u8> {
    let mut ihdr = Vec::new();
    ihdr.extend_from_slice(&width.to_be_bytes());
    ihdr.extend_from_slice(&height.to_be_bytes());
    ihdr.extend_from_slice(&[depth, colour, 0, 0, 0]);
    let mut out = b"\x89PNG\r\n\x1a\n".to_vec();
    png_chunk(&mut out, b"IHDR", &ihdr);
    png_chunk(&mut out, b"IDAT", &[0x78, 0x9C, 0x63, 0x00, 0x00]);
    png_chunk(&mut out, b"IEND", &[]);
    out
}

fn png_chunk(out: &mut Vec<u8>, kind: &[u8; 4], data: &[u8]) {
    out.extend_from_slice(&(data.len() as u32).to_be_bytes());
    let mut body = kind.to_vec();
    body.extend_from_slice(data);
    out.extend_from_slice(&body);
    out.extend_from_slice(&crc32(&body).to_be_bytes());
}

fn crc32(data: &[u8]) -> u32 {
    let mut crc = 0xFFFF_FFFFu32;
    for &b in data {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 != 0 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

/// Every file under `dir` with the SHA-256 of its bytes: "nothing written, nothing touched" is
/// equality of two of these (and a failure prints readable paths and hashes, not bytes).
pub fn snapshot(dir: &Path) -> BTreeMap<PathBuf, String> {
    let mut out = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else {
                let digest = sha2::Sha256::digest(std::fs::read(&path).unwrap());
                out.insert(path, hex::encode(digest));
            }
        }
    }
    out
}

/// Mean colour of a `size`x`size` patch whose corner is at (x, y).
pub fn patch_mean(img: &RgbImage, x: u32, y: u32, size: u32) -> [u32; 3] {
    let mut sum = [0u32; 3];
    for yy in y..y + size {
        for xx in x..x + size {
            let p = img.get_pixel(xx, yy).0;
            for c in 0..3 {
                sum[c] += u32::from(p[c]);
            }
        }
    }
    sum.map(|s| s / (size * size))
}

pub fn is_red(c: [u32; 3]) -> bool {
    c[0] > 180 && c[1] < 90 && c[2] < 90
}
