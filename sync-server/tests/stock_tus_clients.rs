//! "Any standard tus client works unmodified": the stock `tus-js-client` (Node) and `tuspy`
//! (Python) upload photos to a real server: whole, with the PATCH method overridden (behind a
//! GET/POST-only proxy), resuming after the connection is cut mid-PATCH, and resuming from a
//! second process (the phone on another network) while the first connection hangs open and
//! silent. The cuts and the silence come from a TCP relay between client and server.
//!
//! The clients are installed on first use (`npm ci`, a Python venv under `target/`); a
//! machine without Node or Python skips that client with a note. CI has both.

mod common;

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use common::*;
use fieldcore::domain::{EventBody, PhotoCategory, PhotoRef};
use fieldcore::protocol::PushStatus;
use sha2::{Digest, Sha256};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::process::Command;
use uuid::Uuid;

#[derive(Clone, Copy, Debug)]
enum Client {
    Js,
    Py,
}

impl Client {
    /// The command that runs this client's upload script, installing the client first; `None`
    /// (with a note) where its runtime is missing.
    fn command(self) -> Option<Command> {
        let tests = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests");
        match self {
            Client::Js => {
                let dir = tests.join("tus-js");
                if std::process::Command::new("node")
                    .arg("--version")
                    .output()
                    .is_err()
                {
                    eprintln!("SKIPPED tus-js-client: node is not installed");
                    return None;
                }
                if !dir.join("node_modules/tus-js-client").exists() {
                    let ok = std::process::Command::new("npm")
                        .args(["ci", "--no-audit", "--no-fund"])
                        .current_dir(&dir)
                        .status()
                        .is_ok_and(|s| s.success());
                    assert!(ok, "npm ci in {} failed", dir.display());
                }
                let mut c = Command::new("node");
                c.arg(dir.join("upload.mjs"));
                Some(c)
            }
            Client::Py => {
                let venv = py_venv()?;
                let mut c = Command::new(venv.join("bin/python"));
                c.arg(tests.join("tus-py/upload.py"));
                Some(c)
            }
        }
    }
}

/// A venv with `tus-py/requirements.txt` installed, made once under the target directory.
fn py_venv() -> Option<PathBuf> {
    static VENV: std::sync::OnceLock<Option<PathBuf>> = std::sync::OnceLock::new();
    VENV.get_or_init(|| {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        let venv = root.join("target/tus-py-venv");
        let req = root.join("sync-server/tests/tus-py/requirements.txt");
        let stamp = venv.join("installed.txt");
        let wanted = std::fs::read_to_string(&req).unwrap();
        if std::fs::read_to_string(&stamp).ok().as_deref() == Some(wanted.as_str()) {
            return Some(venv);
        }
        if std::process::Command::new("python3")
            .args(["-m", "venv", &venv.display().to_string()])
            .status()
            .map_or(true, |s| !s.success())
        {
            eprintln!("SKIPPED tuspy: python3 -m venv is not available");
            return None;
        }
        let ok = std::process::Command::new(venv.join("bin/pip"))
            .args(["install", "--quiet", "--disable-pip-version-check", "-r"])
            .arg(&req)
            .status()
            .is_ok_and(|s| s.success());
        assert!(ok, "pip install -r {} failed", req.display());
        std::fs::write(&stamp, wanted).unwrap();
        Some(venv)
    })
    .clone()
}

/// What the relay does once it has carried `after` bytes from the client in all (to whichever
/// connection carries that byte; a client may open one per request); once only.
#[derive(Clone, Copy, Debug)]
enum Fault {
    /// Close both sides (the network dropped, with a reset the client sees).
    Cut { after: usize },
    /// Stop forwarding and hold both sides open (the network went away without a word).
    Silence { after: usize },
}

#[derive(Default)]
struct Carried {
    bytes: AtomicUsize,
    tripped: AtomicBool,
}

struct Relay {
    addr: std::net::SocketAddr,
    carried: Arc<Carried>,
}

impl Relay {
    async fn start(server: std::net::SocketAddr, fault: Fault) -> Relay {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let carried = Arc::new(Carried::default());
        let shared = carried.clone();
        tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                tokio::spawn(relay(client, server, fault, shared.clone()));
            }
        });
        Relay { addr, carried }
    }

    fn tripped(&self) -> bool {
        self.carried.tripped.load(Ordering::SeqCst)
    }

    async fn wait_tripped(&self) {
        for _ in 0..200 {
            if self.tripped() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("the relay's fault never happened");
    }
}

async fn relay(client: TcpStream, server: std::net::SocketAddr, fault: Fault, c: Arc<Carried>) {
    let Ok(upstream) = TcpStream::connect(server).await else {
        return;
    };
    let (mut cr, mut cw) = client.into_split();
    let (mut sr, mut sw) = upstream.into_split();
    let back = tokio::spawn(async move {
        let _ = tokio::io::copy(&mut sr, &mut cw).await;
        cw
    });
    let (Fault::Cut { after: limit } | Fault::Silence { after: limit }) = fault;
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        let n = match cr.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        let mut pass = n;
        let mut trip = false;
        if !c.tripped.load(Ordering::SeqCst) {
            let before = c.bytes.fetch_add(n, Ordering::SeqCst);
            if before + n >= limit && !c.tripped.swap(true, Ordering::SeqCst) {
                pass = limit.saturating_sub(before);
                trip = true;
            }
        }
        if sw.write_all(&buf[..pass]).await.is_err() {
            break;
        }
        if trip {
            back.abort();
            if let Fault::Silence { .. } = fault {
                // Hold the server's side open and say nothing, long past the test.
                tokio::time::sleep(Duration::from_secs(600)).await;
                drop((cr, sw));
            }
            return; // a cut: both halves dropped, the client sees the connection reset
        }
    }
    let _ = sw.shutdown().await;
    let _ = back.await;
}

struct Scene {
    w: World,
    desk: Desk,
    phone: DeviceClient,
    job: Uuid,
}

impl Scene {
    async fn start() -> Scene {
        // A silent PATCH loses its upload after 2 s (8 s by default).
        let w = World::start_with(|c| c.upload_lease_secs = 2).await;
        let desk = w.desk("Acme").await;
        let tech = desk.technician("Li Wei").await;
        let phone = w.device(&desk, tech).await;
        let job = desk.job_for(tech).await;
        let r = phone
            .push(&[phone.event(job, EventBody::JobAccepted)])
            .await;
        assert_eq!(r.results[0].status, PushStatus::Accepted);
        Scene {
            w,
            desk,
            phone,
            job,
        }
    }

    /// A photo of `len` bytes recorded on the job (pushed), and its file.
    async fn photo(&self, len: usize, seed: u32) -> (PhotoRef, PathBuf) {
        let mut bytes: Vec<u8> = (0..len as u32).map(|i| (i * 7 + seed) as u8).collect();
        bytes[..3].copy_from_slice(&[0xFF, 0xD8, 0xFF]);
        let photo = PhotoRef {
            photo_id: Uuid::now_v7(),
            category: PhotoCategory::Exception,
            sha256: hex::encode(Sha256::digest(&bytes)),
            location: None,
        };
        let r = self
            .phone
            .push(&[self.phone.event(
                self.job,
                EventBody::PhotoCaptured {
                    photo: photo.clone(),
                },
            )])
            .await;
        assert_eq!(r.results[0].status, PushStatus::Accepted);
        let file = self.w.dir.path().join(format!("{}.jpg", photo.photo_id));
        std::fs::write(&file, &bytes).unwrap();
        (photo, file)
    }

    fn client(&self, c: Client, base: &str, photo: &PhotoRef, file: &Path) -> Option<Command> {
        let mut cmd = c.command()?;
        // The token as `--token=...`: a base64url token may start with '-', which a positional
        // argument would have parsed as an option (a flaky failure, one token in 64).
        cmd.args([
            base,
            &format!("--token={}", self.phone.token),
            &file.display().to_string(),
            &photo.photo_id.to_string(),
            &self.job.to_string(),
            &photo.sha256,
        ]);
        cmd.stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        Some(cmd)
    }

    async fn uploaded(&self, photo: &PhotoRef) -> bool {
        let detail = self.desk.job(self.job).await;
        detail["photos"]
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p["photo_id"] == photo.photo_id.to_string() && p["uploaded"] == true)
    }
}

/// Run a client to the end; panics with its output if it failed or took over a minute.
async fn finish(mut cmd: Command, what: &str) {
    let out = tokio::time::timeout(Duration::from_secs(60), cmd.output())
        .await
        .unwrap_or_else(|_| panic!("{what}: no answer in 60 s"))
        .unwrap();
    assert!(
        out.status.success(),
        "{what}: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

async fn whole_and_override(c: Client) {
    let s = Scene::start().await;
    let base = s.w.server.base_url();
    let (photo, file) = s.photo(300_000, 1).await;
    let Some(cmd) = s.client(c, &base, &photo, &file) else {
        return;
    };
    finish(cmd, &format!("{c:?} whole")).await;
    assert!(s.uploaded(&photo).await, "{c:?}: whole upload");

    if let Client::Js = c {
        // tuspy has no method override; tus-js-client's overridePatchMethod is the stock one.
        let (photo, file) = s.photo(200_000, 2).await;
        let mut cmd = s.client(c, &base, &photo, &file).unwrap();
        cmd.arg("--override");
        finish(cmd, "js override").await;
        assert!(s.uploaded(&photo).await, "js: PATCH as POST + override");
    }
    s.w.server.shutdown().await;
}

async fn resume_after_cut(c: Client) {
    let s = Scene::start().await;
    let relay = Relay::start(s.w.server.addr(), Fault::Cut { after: 150_000 }).await;
    let (photo, file) = s.photo(400_000, 3).await;
    let Some(cmd) = s.client(c, &format!("http://{}", relay.addr), &photo, &file) else {
        return;
    };
    finish(cmd, &format!("{c:?} cut")).await;
    assert!(relay.tripped(), "the cut happened");
    assert!(s.uploaded(&photo).await, "{c:?}: resumed after the cut");
    s.w.server.shutdown().await;
}

async fn resume_after_silence(c: Client) {
    let s = Scene::start().await;
    let relay = Relay::start(s.w.server.addr(), Fault::Silence { after: 150_000 }).await;
    let (photo, file) = s.photo(400_000, 4).await;
    let Some(mut first) = s.client(c, &format!("http://{}", relay.addr), &photo, &file) else {
        return;
    };
    // One chunk large enough that the silence falls inside a PATCH the server is reading.
    first.args(["--chunk", "1000000"]);
    let mut first = first.spawn().unwrap();
    let mut lines = BufReader::new(first.stdout.take().unwrap()).lines();
    let url = loop {
        let line = tokio::time::timeout(Duration::from_secs(30), lines.next_line())
            .await
            .expect("the first client created its upload")
            .unwrap()
            .expect("the first client printed its upload url");
        if let Some(u) = line.strip_prefix("url ") {
            break u.to_string();
        }
    };
    relay.wait_tripped().await;
    // The phone changed networks: the old app process is gone, its connection hangs open.
    first.kill().await.unwrap();
    let url = url.replace(&relay.addr.to_string(), &s.w.server.addr().to_string());
    let mut second = s.client(c, &s.w.server.base_url(), &photo, &file).unwrap();
    second.args(["--url", &url]);
    let started = std::time::Instant::now();
    finish(second, &format!("{c:?} after silence")).await;
    assert!(
        s.uploaded(&photo).await,
        "{c:?}: resumed from another connection"
    );
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "took {:?}",
        started.elapsed()
    );
    s.w.server.shutdown().await;
}

#[tokio::test]
async fn tus_js_client_uploads_whole_and_with_method_override() {
    whole_and_override(Client::Js).await;
}

#[tokio::test]
async fn tus_js_client_resumes_after_a_cut() {
    resume_after_cut(Client::Js).await;
}

#[tokio::test]
async fn tus_js_client_resumes_while_the_old_connection_hangs_silent() {
    resume_after_silence(Client::Js).await;
}

#[tokio::test]
async fn tuspy_uploads_whole() {
    whole_and_override(Client::Py).await;
}

#[tokio::test]
async fn tuspy_resumes_after_a_cut() {
    resume_after_cut(Client::Py).await;
}

#[tokio::test]
async fn tuspy_resumes_while_the_old_connection_hangs_silent() {
    resume_after_silence(Client::Py).await;
}
