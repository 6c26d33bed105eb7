//! The evidence report (ADR 0017), end to end: a phone works two jobs, interleaved, and syncs;
//! the desk downloads one job's bundle and report. `fieldtech verify` (the binary an ordering
//! party runs) accepts the untouched bundle and refuses it with one byte of a photo changed,
//! one event changed, or one link of the chain removed or changed. The PDF reads, in both
//! languages, as a person would check it.

use std::io::{Cursor, Read, Write};
use std::path::Path;
use std::process::Command;

use chrono::{Duration, Utc};
use fieldcore::domain::{CallOutcome, EventBody, JobKind};
use fieldcore_e2e::cli::fieldtech;
use fieldcore_e2e::{Device, Server};
use serde_json::Value;
use uuid::Uuid;

/// A phone that worked `job` from start to finish, with another job's events before, between
/// and after its own (so the bundle's chain runs through them); the bundle's bytes.
fn worked_job(server: &Server) -> (fieldcore_e2e::desk::Desk, Uuid, Uuid, Vec<u8>) {
    let desk = server.desk("Evidence Install");
    let tech = desk.technician("Chen Jie");
    let tomorrow = Utc::now() + Duration::hours(20);
    let job = desk.job(JobKind::Install, tech, tomorrow);
    let other = desk.job(JobKind::Repair, tech, tomorrow + Duration::hours(4));
    let phone = Device::new(&server.url());
    phone.enroll(&desk.code(tech));
    phone.sync().expect("the jobs reach the phone");
    let call = |j: Uuid, note: &str| {
        phone.act(
            j,
            EventBody::CustomerCallLogged {
                outcome: CallOutcome::Reached,
                note: note.into(),
            },
        );
    };
    phone.act(other, EventBody::JobAccepted);
    call(other, "other customer: before");
    phone.act(job, EventBody::JobAccepted);
    call(other, "other customer: between");
    phone.clean_visit_after_acceptance(job, JobKind::Install, 40);
    call(other, "other customer: after");
    phone.sync().expect("sync");
    let (s, zip) = desk.get_bytes(&format!("/v1/jobs/{job}/evidence.zip"));
    assert_eq!(s, reqwest::StatusCode::OK);
    (desk, job, other, zip)
}

/// `fieldtech verify` on these bytes: its exit code and its JSON report.
fn verify(dir: &Path, name: &str, bundle: &[u8]) -> (i32, Value) {
    verify_with(dir, name, bundle, &[])
}

fn verify_with(dir: &Path, name: &str, bundle: &[u8], args: &[&str]) -> (i32, Value) {
    let path = dir.join(name);
    std::fs::write(&path, bundle).unwrap();
    let out = Command::new(fieldtech())
        .args(["verify", "--json"])
        .args(args)
        .arg(&path)
        .output()
        .expect("run fieldtech verify");
    let report = serde_json::from_slice(&out.stdout).unwrap_or_else(|_| {
        panic!(
            "no JSON report: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    });
    (out.status.code().expect("exit code"), report)
}

/// The bundle with each file passed through `change`.
fn rewrite(bundle: &[u8], change: impl Fn(&str, Vec<u8>) -> Vec<u8>) -> Vec<u8> {
    let mut zip = zip::ZipArchive::new(Cursor::new(bundle)).unwrap();
    let mut out = zip::ZipWriter::new(Cursor::new(Vec::new()));
    for i in 0..zip.len() {
        let mut f = zip.by_index(i).unwrap();
        let name = f.name().unwrap().to_string();
        let mut bytes = Vec::new();
        f.read_to_end(&mut bytes).unwrap();
        out.start_file(name.as_str(), zip::write::SimpleFileOptions::default())
            .unwrap();
        out.write_all(&change(&name, bytes)).unwrap();
    }
    out.finish().unwrap().into_inner()
}

fn with_manifest(bundle: &[u8], change: impl Fn(&mut Value)) -> Vec<u8> {
    rewrite(bundle, |name, bytes| {
        if name != "manifest.json" {
            return bytes;
        }
        let mut m: Value = serde_json::from_slice(&bytes).unwrap();
        change(&mut m);
        serde_json::to_vec(&m).unwrap()
    })
}

fn problems(report: &Value) -> String {
    report["problems"].to_string()
}

#[test]
fn verify_accepts_the_untouched_bundle_and_refuses_one_changed_photo_event_or_link() {
    let server = Server::start();
    let (_desk, job, other, bundle) = worked_job(&server);
    let dir = tempfile::tempdir().unwrap();

    let (code, report) = verify(dir.path(), "untouched.zip", &bundle);
    assert_eq!(code, 0, "{report}");
    assert_eq!(report["verified"], true);
    assert_eq!(report["job_id"], job.to_string());
    // Accepted, a call, check-in, 3 checklist answers... every field event of the job.
    assert!(report["signed_events"].as_u64().unwrap() >= 10, "{report}");
    assert_eq!(
        report["photos"], 4,
        "two completion photos, the signature, the receipt"
    );
    assert_eq!(report["devices"], 1);
    // How far the evidence reaches: to the technician's last event on the job.
    let through = report["shown_through"].as_array().unwrap();
    assert_eq!(through.len(), 1, "{report}");

    // The key it was checked with, and the same key pinned; another key pinned is refused (a
    // server could re-sign a whole chain with a key of its own).
    let key = &report["keys"][0];
    let pin = format!(
        "{}={}",
        key["device_id"].as_str().unwrap(),
        key["public_key"].as_str().unwrap()
    );
    let (code, _) = verify_with(dir.path(), "pinned.zip", &bundle, &["--key", &pin]);
    assert_eq!(code, 0);
    let wrong = format!("{}={}", key["device_id"].as_str().unwrap(), "ab".repeat(32));
    let (code, report) = verify_with(dir.path(), "repinned.zip", &bundle, &["--key", &wrong]);
    assert_eq!(code, 1, "{report}");
    assert!(
        problems(&report).contains("not the one you pinned"),
        "{report}"
    );

    // The chain runs through the other job by its signed headers, never its contents.
    let mut zip = zip::ZipArchive::new(Cursor::new(&bundle[..])).unwrap();
    let mut manifest = String::new();
    zip.by_name("manifest.json")
        .unwrap()
        .read_to_string(&mut manifest)
        .unwrap();
    assert!(manifest.contains(&other.to_string()));
    assert!(
        !manifest.contains("other customer"),
        "another job's notes leaked"
    );

    // One byte of one photo.
    let photo = rewrite(&bundle, |name, mut bytes| {
        if name.starts_with("photos/") && name.ends_with(".jpg") {
            let mid = bytes.len() / 2;
            bytes[mid] ^= 0x01;
        }
        bytes
    });
    let (code, report) = verify(dir.path(), "photo.zip", &photo);
    assert_eq!(code, 1, "{report}");
    assert!(
        problems(&report).contains("the photo was altered"),
        "{report}"
    );

    // One event: the call's note, one letter.
    let event = with_manifest(&bundle, |m| {
        let call = m["events"]
            .as_array_mut()
            .unwrap()
            .iter_mut()
            .find(|e| e["event"]["body"]["type"] == "customer_call_logged")
            .expect("the job's call");
        call["event"]["body"]["note"] = "confirmeD".into();
    });
    let (code, report) = verify(dir.path(), "event.zip", &event);
    assert_eq!(code, 1, "{report}");
    assert!(
        problems(&report).contains("the event was altered"),
        "{report}"
    );

    // One link removed: the other job's call between this job's events.
    let removed = with_manifest(&bundle, |m| {
        let links = m["chains"][0]["links"].as_array_mut().unwrap();
        let between = links
            .iter()
            .enumerate()
            .skip(1)
            .find(|(_, l)| l["kind"] == "other")
            .map(|(i, _)| i)
            .expect("another job's event inside the stretch");
        links.remove(between);
    });
    let (code, report) = verify(dir.path(), "removed.zip", &removed);
    assert_eq!(code, 1, "{report}");
    assert!(problems(&report).contains("was removed"), "{report}");

    // One link changed: the hash one event names as its predecessor.
    let changed = with_manifest(&bundle, |m| {
        let e = &mut m["events"].as_array_mut().unwrap()[3]["event"]["seal"]["prev"];
        let mut prev = e.as_str().unwrap().to_string();
        let first = if prev.starts_with('0') { "1" } else { "0" };
        prev.replace_range(0..1, first);
        *e = prev.into();
    });
    let (code, report) = verify(dir.path(), "link.zip", &changed);
    assert_eq!(code, 1, "{report}");
    assert!(!problems(&report).is_empty(), "{report}");

    // The events received as they happened (a webhook receiver's record) are all in it; one
    // that is not, is said.
    let m: Value = serde_json::from_str(&manifest).unwrap();
    let first = m["events"][0]["event"]["id"].as_str().unwrap().to_string();
    let last = m["events"].as_array().unwrap().last().unwrap()["event"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let (code, report) = verify_with(
        dir.path(),
        "received.zip",
        &bundle,
        &["--event", &first, "--event", &last],
    );
    assert_eq!(code, 0, "{report}");
    let unseen = Uuid::now_v7().to_string();
    let (code, report) = verify_with(dir.path(), "unseen.zip", &bundle, &["--event", &unseen]);
    assert_eq!(code, 1, "{report}");
    assert!(problems(&report).contains("which you received"), "{report}");

    // Another job's bundle, when this job's was asked for; a file nobody listed.
    let (code, report) = verify_with(
        dir.path(),
        "which.zip",
        &bundle,
        &["--job", &other.to_string()],
    );
    assert_eq!(code, 1, "{report}");
    assert!(problems(&report).contains("not job"), "{report}");
    let mut zip = zip::ZipWriter::new_append(Cursor::new(bundle.clone())).unwrap();
    zip.start_file("photos/extra.jpg", zip::write::SimpleFileOptions::default())
        .unwrap();
    zip.write_all(b"\xff\xd8\xff unlisted").unwrap();
    let extra = zip.finish().unwrap().into_inner();
    let (code, report) = verify(dir.path(), "extra.zip", &extra);
    assert_eq!(code, 1, "{report}");
    assert!(problems(&report).contains("does not list"), "{report}");

    // Not a bundle at all: said, with its own exit code.
    std::fs::write(dir.path().join("junk.zip"), b"not a zip").unwrap();
    let out = Command::new(fieldtech())
        .arg("verify")
        .arg(dir.path().join("junk.zip"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("not a zip"));
}

/// The PDF as its reader sees it: text through `pdftotext`, pictures through `pdfimages`.
fn pdf_text(dir: &Path, pdf: &[u8]) -> (String, usize) {
    let path = dir.join("report.pdf");
    std::fs::write(&path, pdf).unwrap();
    let text = Command::new("pdftotext")
        .args(["-layout", "-enc", "UTF-8"])
        .arg(&path)
        .arg("-")
        .output()
        .expect("pdftotext (poppler-utils; scripts/install-deps installs it)");
    assert!(
        text.status.success(),
        "{}",
        String::from_utf8_lossy(&text.stderr)
    );
    let images = Command::new("pdfimages")
        .arg("-list")
        .arg(&path)
        .output()
        .expect("pdfimages");
    assert!(images.status.success());
    // Two header lines, then one per picture.
    let pictures = String::from_utf8_lossy(&images.stdout).lines().count() - 2;
    (String::from_utf8(text.stdout).unwrap(), pictures)
}

#[test]
fn the_report_reads_as_a_person_checks_it_in_english_and_chinese() {
    let server = Server::start();
    let (desk, job, _, _) = worked_job(&server);
    let dir = tempfile::tempdir().unwrap();
    let get = |lang: &str| {
        let res = reqwest::blocking::Client::new()
            .get(format!("{}/v1/jobs/{job}/evidence.pdf", desk.base))
            .bearer_auth(&desk.token)
            .header("Accept-Language", lang)
            .send()
            .unwrap();
        assert_eq!(res.status(), reqwest::StatusCode::OK);
        assert_eq!(res.headers()["content-type"], "application/pdf");
        assert!(
            res.headers()["content-disposition"]
                .to_str()
                .unwrap()
                .starts_with("attachment; filename=\"")
        );
        res.bytes().unwrap().to_vec()
    };
    let number = desk.job_detail(job)["view"]["number"].to_string();

    let (en, pictures) = pdf_text(dir.path(), &get("en"));
    for expected in [
        format!("Job J-{number}"),
        "VERIFIED".into(),
        "Evidence check".into(),
        "Chen Jie".into(),
        "Conduct checklist".into(),
        "confirmed".into(),
        "matches its signed hash".into(),
        "Received by server".into(),
        // The order as the desk wrote it, Chinese text inside an English report.
        "王女士".into(),
        "上海市浦东新区".into(),
    ] {
        assert!(
            en.contains(&expected),
            "{expected:?} not in the report:\n{en}"
        );
    }
    assert!(!en.contains("NOT VERIFIED"), "{en}");
    // Four photos in the grid and the signature beside its line.
    assert_eq!(pictures, 5, "{en}");

    if let Ok(keep) = std::env::var("KEEP_REPORT") {
        std::fs::write(format!("{keep}-en.pdf"), get("en")).unwrap();
        std::fs::write(format!("{keep}-zh.pdf"), get("zh-CN")).unwrap();
    }
    let (zh, _) = pdf_text(dir.path(), &get("zh-CN"));
    for expected in ["服务证据报告", "已验证", "服务规范检查", "时间线", "签名"]
    {
        assert!(
            zh.contains(expected),
            "{expected:?} not in the report:\n{zh}"
        );
    }
}
