//! How long storing one phone photo takes, against libjpeg-turbo doing the same work, and how much
//! memory it needs. A technician takes dozens of photos per job on mid-range phones: the pipeline
//! must not make them wait, nor get the app killed for memory.
//!
//! Run: `CARGO_TARGET_DIR=... cargo bench -p fieldcore --bench photo_pipeline -j 1`
//! Needs `djpeg`/`cjpeg` (Debian `libjpeg-turbo-progs`). One thread throughout.
//! Also printed: `ssim` of the 2048 px pixels the pipeline encodes (decoded at a reduced DCT scale,
//! then resized) against a full 12 MP decode resized to the same size with the same filter (what
//! the pipeline did before ADR 0002's DCT-domain decode), target >= 0.98; and of the stored JPEG
//! against the same reference, so the reduced decode's cost reads against the q82 encode's.
//! `ratio photo_colour` is a Display P3 photo's time over the untagged one's: what converting an
//! embedded ICC profile to sRGB costs. The last line is `ratio photo_pipeline <ours/libjpeg-turbo>`.

use std::fs::File;
use std::path::Path;
use std::process::{Command, ExitCode, Stdio};
use std::time::Instant;

use fast_image_resize::images::{Image, ImageRef};
use fast_image_resize::{FilterType, PixelType, ResizeAlg, ResizeOptions, Resizer};
use fieldcore::photo::{self, PhotoSource, PipelineConfig};
use image::{Rgb, RgbImage};

const RUNS: usize = 7;
const CHILD_ENV: &str = "PHOTO_BENCH_CHILD";
const CHILD_OUT_ENV: &str = "PHOTO_BENCH_CHILD_OUT";

fn main() -> ExitCode {
    if let (Ok(input), Ok(out)) = (std::env::var(CHILD_ENV), std::env::var(CHILD_OUT_ENV)) {
        return child(Path::new(&input), Path::new(&out));
    }
    for tool in ["djpeg", "cjpeg"] {
        if Command::new(tool).arg("-version").output().is_err() {
            eprintln!(
                "photo_pipeline: `{tool}` not found; install Debian package libjpeg-turbo-progs"
            );
            return ExitCode::from(2);
        }
    }
    let dir = tempfile::tempdir().expect("temp dir");
    let input = dir.path().join("camera.jpg");
    let camera = camera_photo(4032, 3024);
    std::fs::write(&input, &camera).expect("write input");
    println!("input 4032x3024 jpeg q92 bytes {}", camera.len());

    let config = PipelineConfig::default();
    let mut ours = Vec::new();
    let mut last = None;
    for run in 0..=RUNS {
        let photos = dir.path().join(format!("photos-{run}")); // fresh: no already_stored shortcut
        let start = Instant::now();
        let out = photo::process(PhotoSource::Path(&input), &config, &photos).expect("process");
        let ms = start.elapsed().as_secs_f64() * 1e3;
        if run > 0 {
            ours.push(ms); // run 0 warms the page cache and allocator
        }
        last = Some(out);
    }
    let out = last.expect("ran");
    let thumb_len = std::fs::metadata(&out.thumb_path)
        .map(|m| m.len())
        .unwrap_or(0);
    println!(
        "photo_pipeline output {}x{} bytes {} thumb_bytes {}",
        out.width, out.height, out.bytes, thumb_len
    );

    // The same photo tagged Display P3 (as recent phones tag theirs): the colour conversion to
    // sRGB is the only extra work.
    // Tagged sRGB (as many Android phones do): found to be the identity, no pass is made.
    let timed = |name: &str, icc: Vec<u8>| {
        let tagged = dir.path().join(format!("camera-{name}.jpg"));
        std::fs::write(&tagged, with_icc(&camera, &icc)).expect("write tagged");
        let mut runs = Vec::new();
        for run in 0..=RUNS {
            let photos = dir.path().join(format!("photos-{name}-{run}"));
            let start = Instant::now();
            photo::process(PhotoSource::Path(&tagged), &config, &photos).expect("process tagged");
            if run > 0 {
                runs.push(start.elapsed().as_secs_f64() * 1e3);
            }
        }
        runs
    };
    let mut p3 = timed("p3", profile(moxcms::ColorProfile::new_display_p3()));
    let mut srgb = timed("srgb", profile(moxcms::ColorProfile::new_srgb()));

    let (ssim_pixels, ssim_stored) = quality(&camera, &out.path);
    println!("ssim scaled_decode_vs_full_decode {ssim_pixels:.4} stored_jpeg {ssim_stored:.4}");

    let mut turbo = Vec::new();
    for run in 0..=RUNS {
        let full = dir.path().join("turbo.jpg");
        let thumb = dir.path().join("turbo.thumb.jpg");
        let start = Instant::now();
        // DCT-domain scaling: 1/2 gives 2016x1512 (the closest libjpeg-turbo gets to 2048 without
        // decoding more), 1/8 gives the 504x378 thumbnail source; cjpeg cannot resize further.
        djpeg_cjpeg(&input, "1/2", &full);
        djpeg_cjpeg(&input, "1/8", &thumb);
        let ms = start.elapsed().as_secs_f64() * 1e3;
        if run > 0 {
            turbo.push(ms);
        }
        if run == RUNS {
            let len = |p: &Path| std::fs::metadata(p).map(|m| m.len()).unwrap_or(0);
            println!(
                "libjpeg_turbo output 2016x1512 bytes {} thumb 504x378 bytes {}",
                len(&full),
                len(&thumb)
            );
        }
    }

    let a = median(&mut ours);
    let b = median(&mut turbo);
    println!("photo_pipeline runs_ms {}", fmt_runs(&ours));
    println!("libjpeg_turbo runs_ms {}", fmt_runs(&turbo));
    let c = median(&mut p3);
    let d = median(&mut srgb);
    println!("photo_pipeline median_ms {a:.1}");
    println!("libjpeg_turbo median_ms {b:.1}");
    println!("photo_pipeline_display_p3 median_ms {c:.1}");
    println!("photo_pipeline_srgb_tagged median_ms {d:.1}");
    println!("ratio photo_colour {:.2}", c / a);

    let child_out = dir.path().join("child");
    let exe = std::env::current_exe().expect("own path");
    let status = Command::new(exe)
        .env(CHILD_ENV, &input)
        .env(CHILD_OUT_ENV, &child_out)
        .stdout(Stdio::piped())
        .output()
        .expect("re-exec for peak RSS");
    let text = String::from_utf8_lossy(&status.stdout);
    let kb: f64 = text
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM_kB "))
        .and_then(|v| v.trim().parse().ok())
        .expect("child reports VmHWM");
    println!("peak_rss_mb {:.1}", kb / 1024.0);
    println!("ratio photo_pipeline {:.2}", a / b);
    ExitCode::SUCCESS
}

/// One photo in a fresh process, then its high-water mark of resident memory.
fn child(input: &Path, out: &Path) -> ExitCode {
    photo::process(PhotoSource::Path(input), &PipelineConfig::default(), out).expect("process");
    let status = std::fs::read_to_string("/proc/self/status").expect("/proc/self/status");
    let hwm = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .expect("VmHWM");
    println!("VmHWM_kB {}", hwm.trim().trim_end_matches("kB").trim());
    ExitCode::SUCCESS
}

fn djpeg_cjpeg(input: &Path, scale: &str, output: &Path) {
    let mut djpeg = Command::new("djpeg")
        .args(["-scale", scale])
        .arg(input)
        .stdout(Stdio::piped())
        .spawn()
        .expect("djpeg");
    let pixels = djpeg.stdout.take().expect("djpeg stdout");
    let status = Command::new("cjpeg")
        .args(["-quality", "82"])
        .stdin(pixels)
        .stdout(File::create(output).expect("output"))
        .status()
        .expect("cjpeg");
    assert!(status.success() && djpeg.wait().expect("djpeg").success());
}

fn profile(p: moxcms::ColorProfile) -> Vec<u8> {
    p.encode().expect("ICC profile")
}

/// `jpeg` with `icc` in one APP2 segment right after SOI, as a camera writes it.
fn with_icc(jpeg: &[u8], icc: &[u8]) -> Vec<u8> {
    let mut segment = b"ICC_PROFILE\0\x01\x01".to_vec();
    segment.extend_from_slice(icc);
    let len = u16::try_from(segment.len() + 2).expect("one segment");
    let mut out = jpeg[..2].to_vec();
    out.extend([0xFF, 0xE2]);
    out.extend(len.to_be_bytes());
    out.extend(segment);
    out.extend_from_slice(&jpeg[2..]);
    out
}

/// Deterministic stand-in for a 12 MP phone photo that does not compress trivially: smooth
/// gradients, seeded noise (sensor grain) and hard-edged shapes, at quality 92.
fn camera_photo(width: u32, height: u32) -> Vec<u8> {
    let mut s: u64 = 0x9E37_79B9_7F4A_7C15;
    let img = RgbImage::from_fn(width, height, |x, y| {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        let n = (s & 31) as i32 - 16;
        let r = (x * 255 / width) as i32 + n;
        let g = (y * 255 / height) as i32 + n;
        let b = ((x / 7 + y / 5) % 256) as i32 + n;
        let (dx, dy) = (x as i32 - 2000, y as i32 - 1500);
        let (r, g, b) = if dx * dx + dy * dy < 800 * 800 {
            (255 - r, b, g)
        } else if (x / 300 + y / 300) % 5 == 0 {
            (g, 40 + n, 200 - r / 2)
        } else {
            (r, g, b)
        };
        Rgb([
            r.clamp(0, 255) as u8,
            g.clamp(0, 255) as u8,
            b.clamp(0, 255) as u8,
        ])
    });
    let mut out = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, 92)
        .encode_image(&img)
        .expect("encode");
    out
}

/// SSIM against the reference (full 12 MP decode, Catmull-Rom resize to the stored size): of the
/// pixels the pipeline encodes (reduced-scale decode, same resize: the quality cost of decoding
/// in the DCT domain), and of the stored photo itself (that cost plus the q82 encode's).
fn quality(camera: &[u8], stored: &Path) -> (f64, f64) {
    let stored = image::open(stored).expect("stored photo").into_rgb8();
    let (w, h) = stored.dimensions();
    let full = image::load_from_memory(camera)
        .expect("full decode")
        .into_rgb8();
    let reference = resize(&full, w, h);
    let mut decompress = mozjpeg::Decompress::new_mem(camera).expect("header");
    decompress.scale(5); // what the pipeline picks for 4032 px and a 2048 px target
    let mut started = decompress.rgb().expect("start");
    let (sw, sh) = (started.width() as u32, started.height() as u32);
    let pixels: Vec<u8> = started.read_scanlines().expect("decode");
    let scaled = resize(&RgbImage::from_raw(sw, sh, pixels).expect("scaled"), w, h);
    (ssim(&scaled, &reference), ssim(&stored, &reference))
}

fn resize(image: &RgbImage, w: u32, h: u32) -> RgbImage {
    let src = ImageRef::new(
        image.width(),
        image.height(),
        image.as_raw(),
        PixelType::U8x3,
    )
    .expect("source");
    let mut dst = Image::new(w, h, PixelType::U8x3);
    let options = ResizeOptions::new().resize_alg(ResizeAlg::Convolution(FilterType::CatmullRom));
    Resizer::new()
        .resize(&src, &mut dst, &options)
        .expect("resize");
    RgbImage::from_raw(w, h, dst.into_vec()).expect("resized")
}

/// Mean SSIM over 8x8 luma windows (step 4), the usual constants for 8-bit data.
fn ssim(a: &RgbImage, b: &RgbImage) -> f64 {
    assert_eq!(a.dimensions(), b.dimensions());
    let luma = |img: &RgbImage| -> Vec<f64> {
        img.pixels()
            .map(|p| 0.299 * f64::from(p[0]) + 0.587 * f64::from(p[1]) + 0.114 * f64::from(p[2]))
            .collect()
    };
    let (la, lb) = (luma(a), luma(b));
    let (w, h) = (a.width() as usize, a.height() as usize);
    let (c1, c2) = ((0.01f64 * 255.0).powi(2), (0.03f64 * 255.0).powi(2));
    let (mut total, mut windows) = (0.0, 0usize);
    for y in (0..h.saturating_sub(8)).step_by(4) {
        for x in (0..w.saturating_sub(8)).step_by(4) {
            let (mut sa, mut sb, mut saa, mut sbb, mut sab) = (0.0, 0.0, 0.0, 0.0, 0.0);
            for dy in 0..8 {
                for dx in 0..8 {
                    let i = (y + dy) * w + x + dx;
                    let (va, vb) = (la[i], lb[i]);
                    sa += va;
                    sb += vb;
                    saa += va * va;
                    sbb += vb * vb;
                    sab += va * vb;
                }
            }
            let n = 64.0;
            let (ma, mb) = (sa / n, sb / n);
            let (va, vb, cov) = (saa / n - ma * ma, sbb / n - mb * mb, sab / n - ma * mb);
            total += ((2.0 * ma * mb + c1) * (2.0 * cov + c2))
                / ((ma * ma + mb * mb + c1) * (va + vb + c2));
            windows += 1;
        }
    }
    total / windows as f64
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn fmt_runs(v: &[f64]) -> String {
    v.iter()
        .map(|x| format!("{x:.1}"))
        .collect::<Vec<_>>()
        .join(" ")
}
