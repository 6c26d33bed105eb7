//! A fault-injecting TCP proxy on loopback, between a device and the server.
//!
//! HTTP clients keep connections alive, so faults strike per read, not per connection: any
//! chunk of request bytes may be the one where the connection is reset (cutting an upload at a
//! random byte), any chunk of response bytes may be lost (the server acted, the device never
//! heard), and any request may stall. The fault rates can change while connections are open.
//! It counts what it did, so a test can prove the faults really happened.
//!
//! It can also be a slow link (the kernel here has no `netem`, so the link is built here): a
//! bandwidth cap per connection and direction, stalls standing for lost packets' retransmission
//! delays, and flaps, where every connection goes silent for a while as when a phone's radio
//! loses the cell (TCP waits; nothing is reset).

use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

/// How often each fault strikes, in percent of reads in that direction, and the link's speed.
#[derive(Debug, Clone, Copy)]
pub struct Faults {
    pub reset_request_pct: u64,
    pub drop_response_pct: u64,
    pub stall_pct: u64,
    pub stall: Duration,
    /// Bytes per second each connection carries in each direction; 0: as fast as loopback.
    pub rate_bytes_per_sec: u64,
}

impl Faults {
    pub fn none() -> Self {
        Faults {
            reset_request_pct: 0,
            drop_response_pct: 0,
            stall_pct: 0,
            stall: Duration::ZERO,
            rate_bytes_per_sec: 0,
        }
    }

    /// Bytes to take per read: about 50 ms of a capped link, so its pace is smooth.
    fn read_size(&self, buf_len: usize) -> usize {
        if self.rate_bytes_per_sec == 0 {
            buf_len
        } else {
            ((self.rate_bytes_per_sec / 20).max(256) as usize).min(buf_len)
        }
    }

    /// How long `n` bytes take on the capped link.
    fn transfer_time(&self, n: usize) -> Duration {
        if self.rate_bytes_per_sec == 0 {
            Duration::ZERO
        } else {
            Duration::from_secs_f64(n as f64 / self.rate_bytes_per_sec as f64)
        }
    }
}

#[derive(Debug, Default)]
pub struct Counters {
    pub connections: AtomicU64,
    pub requests_cut: AtomicU64,
    pub responses_dropped: AtomicU64,
    pub stalls: AtomicU64,
    pub flaps: AtomicU64,
    /// Request bytes that reached the server.
    pub bytes_up: AtomicU64,
}

/// What every connection's pumps share.
#[derive(Debug)]
struct Shared {
    faults: Mutex<Faults>,
    counters: Arc<Counters>,
    silent_until: Mutex<Option<Instant>>,
}

impl Shared {
    fn faults(&self) -> Faults {
        *self.faults.lock().expect("faults")
    }

    /// Hold the bytes while the link is down.
    fn wait_while_silent(&self) {
        loop {
            let until = *self.silent_until.lock().expect("silence");
            match until {
                Some(t) if t > Instant::now() => thread::sleep(Duration::from_millis(20)),
                _ => return,
            }
        }
    }
}

#[derive(Debug)]
pub struct FaultProxy {
    addr: SocketAddr,
    shared: Arc<Shared>,
    pub counters: Arc<Counters>,
    stop: Arc<AtomicBool>,
}

#[derive(Debug, Clone)]
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n.max(1)
    }
}

impl FaultProxy {
    pub fn start(upstream: SocketAddr, faults: Faults, seed: u64) -> FaultProxy {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind proxy");
        let addr = listener.local_addr().expect("addr");
        listener.set_nonblocking(true).expect("nonblocking");
        let counters = Arc::new(Counters::default());
        let shared = Arc::new(Shared {
            faults: Mutex::new(faults),
            counters: counters.clone(),
            silent_until: Mutex::new(None),
        });
        let stop = Arc::new(AtomicBool::new(false));
        let (sh, s) = (shared.clone(), stop.clone());
        thread::spawn(move || {
            let mut rng = Rng(seed | 1);
            while !s.load(Ordering::Relaxed) {
                match listener.accept() {
                    Ok((client, _)) => {
                        client.set_nonblocking(false).ok();
                        sh.counters.connections.fetch_add(1, Ordering::Relaxed);
                        let conn_rng = Rng(rng.below(u64::MAX) | 1);
                        let sh = sh.clone();
                        thread::spawn(move || serve(client, upstream, sh, conn_rng));
                    }
                    Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                        thread::sleep(Duration::from_millis(2));
                    }
                    Err(_) => thread::sleep(Duration::from_millis(10)),
                }
            }
        });
        FaultProxy {
            addr,
            shared,
            counters,
            stop,
        }
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn set_faults(&self, faults: Faults) {
        *self.shared.faults.lock().expect("faults") = faults;
    }

    /// The link goes down for `down`: every byte in either direction, on open connections and
    /// new ones, waits until it is back.
    pub fn flap(&self, down: Duration) {
        self.counters.flaps.fetch_add(1, Ordering::Relaxed);
        *self.shared.silent_until.lock().expect("silence") = Some(Instant::now() + down);
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

fn serve(client: TcpStream, upstream: SocketAddr, shared: Arc<Shared>, mut rng: Rng) {
    let Ok(server) = TcpStream::connect(upstream) else {
        let _ = client.shutdown(Shutdown::Both);
        return;
    };
    let (c2, s2) = (
        client.try_clone().expect("clone"),
        server.try_clone().expect("clone"),
    );
    let (up_shared, mut up_rng) = (shared.clone(), rng.clone());
    up_rng.below(7);
    let up = thread::spawn(move || requests(c2, s2, &up_shared, &mut up_rng));
    responses(server, client, &shared, &mut rng);
    let _ = up.join();
}

fn close(a: &TcpStream, b: &TcpStream) {
    let _ = a.shutdown(Shutdown::Both);
    let _ = b.shutdown(Shutdown::Both);
}

/// Client to server: maybe stall, maybe forward part of a read and reset; at the link's pace.
fn requests(mut from: TcpStream, mut to: TcpStream, shared: &Shared, rng: &mut Rng) {
    let counters = &shared.counters;
    let mut buf = [0u8; 16 * 1024];
    loop {
        let size = shared.faults().read_size(buf.len());
        let n = match from.read(&mut buf[..size]) {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        let f = shared.faults();
        shared.wait_while_silent();
        thread::sleep(f.transfer_time(n));
        if rng.below(100) < f.stall_pct {
            counters.stalls.fetch_add(1, Ordering::Relaxed);
            thread::sleep(f.stall);
        }
        if rng.below(100) < f.reset_request_pct {
            let keep = rng.below(n as u64) as usize;
            let _ = to.write_all(&buf[..keep]);
            counters.bytes_up.fetch_add(keep as u64, Ordering::Relaxed);
            counters.requests_cut.fetch_add(1, Ordering::Relaxed);
            // Let the server read what arrived before the reset.
            thread::sleep(Duration::from_millis(20));
            close(&from, &to);
            return;
        }
        if to.write_all(&buf[..n]).is_err() {
            break;
        }
        counters.bytes_up.fetch_add(n as u64, Ordering::Relaxed);
    }
    let _ = to.shutdown(Shutdown::Write);
}

/// Server to client: maybe swallow the response and close; at the link's pace.
fn responses(mut from: TcpStream, mut to: TcpStream, shared: &Shared, rng: &mut Rng) {
    let mut buf = [0u8; 16 * 1024];
    loop {
        let size = shared.faults().read_size(buf.len());
        let n = match from.read(&mut buf[..size]) {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        let f = shared.faults();
        shared.wait_while_silent();
        thread::sleep(f.transfer_time(n));
        if rng.below(100) < f.drop_response_pct {
            shared
                .counters
                .responses_dropped
                .fetch_add(1, Ordering::Relaxed);
            break;
        }
        if to.write_all(&buf[..n]).is_err() {
            break;
        }
    }
    close(&from, &to);
}
