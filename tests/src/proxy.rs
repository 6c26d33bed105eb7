//! A fault-injecting TCP proxy on loopback, between a device and the server.
//!
//! Each accepted connection gets a fate drawn from a seeded generator: pass through, be reset
//! after a random number of request bytes (an upload cut mid-chunk), stall before forwarding,
//! or lose the response (the server acted, the device never heard). It counts what it did, so
//! a test can prove the faults really happened.

use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Duration;

/// How often each fault strikes, in percent of connections.
#[derive(Debug, Clone, Copy)]
pub struct Faults {
    pub reset_request_pct: u64,
    pub drop_response_pct: u64,
    pub stall_pct: u64,
    pub stall: Duration,
    /// A reset request is cut after a random number of bytes below this.
    pub max_cut_bytes: u64,
}

impl Faults {
    pub fn none() -> Self {
        Faults {
            reset_request_pct: 0,
            drop_response_pct: 0,
            stall_pct: 0,
            stall: Duration::ZERO,
            max_cut_bytes: 1,
        }
    }
}

#[derive(Debug, Default)]
pub struct Counters {
    pub connections: AtomicU64,
    pub requests_cut: AtomicU64,
    pub responses_dropped: AtomicU64,
    pub stalls: AtomicU64,
}

#[derive(Debug)]
pub struct FaultProxy {
    addr: SocketAddr,
    faults: Arc<Mutex<Faults>>,
    pub counters: Arc<Counters>,
    stop: Arc<AtomicBool>,
}

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
        let faults = Arc::new(Mutex::new(faults));
        let counters = Arc::new(Counters::default());
        let stop = Arc::new(AtomicBool::new(false));
        let (f, c, s) = (faults.clone(), counters.clone(), stop.clone());
        thread::spawn(move || {
            let mut rng = Rng(seed | 1);
            while !s.load(Ordering::Relaxed) {
                match listener.accept() {
                    Ok((client, _)) => {
                        client.set_nonblocking(false).ok();
                        c.connections.fetch_add(1, Ordering::Relaxed);
                        let plan = *f.lock().expect("faults");
                        let fate = Fate::draw(&plan, &mut rng);
                        let counters = c.clone();
                        thread::spawn(move || serve(client, upstream, fate, plan, counters));
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
            faults,
            counters,
            stop,
        }
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn set_faults(&self, faults: Faults) {
        *self.faults.lock().expect("faults") = faults;
    }

    pub fn faults_seen(&self) -> u64 {
        self.counters.requests_cut.load(Ordering::Relaxed)
            + self.counters.responses_dropped.load(Ordering::Relaxed)
            + self.counters.stalls.load(Ordering::Relaxed)
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

#[derive(Debug, Clone, Copy)]
enum Fate {
    Pass,
    CutRequestAfter(u64),
    DropResponse,
    Stall,
}

impl Fate {
    fn draw(f: &Faults, rng: &mut Rng) -> Fate {
        let roll = rng.below(100);
        if roll < f.reset_request_pct {
            Fate::CutRequestAfter(1 + rng.below(f.max_cut_bytes))
        } else if roll < f.reset_request_pct + f.drop_response_pct {
            Fate::DropResponse
        } else if roll < f.reset_request_pct + f.drop_response_pct + f.stall_pct {
            Fate::Stall
        } else {
            Fate::Pass
        }
    }
}

fn serve(
    client: TcpStream,
    upstream: SocketAddr,
    fate: Fate,
    plan: Faults,
    counters: Arc<Counters>,
) {
    let Ok(server) = TcpStream::connect(upstream) else {
        let _ = client.shutdown(Shutdown::Both);
        return;
    };
    if let Fate::Stall = fate {
        counters.stalls.fetch_add(1, Ordering::Relaxed);
        thread::sleep(plan.stall);
    }
    let (c2, s2) = (
        client.try_clone().expect("clone"),
        server.try_clone().expect("clone"),
    );
    let up_counters = counters.clone();
    let up = thread::spawn(move || {
        let limit = match fate {
            Fate::CutRequestAfter(n) => Some(n),
            _ => None,
        };
        pump(c2, s2, limit, &up_counters)
    });
    // Server to client: dropping the response means reading it and never passing it on.
    let mut from = server;
    let mut to = client;
    let mut buf = [0u8; 16 * 1024];
    loop {
        match from.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                if let Fate::DropResponse = fate {
                    counters.responses_dropped.fetch_add(1, Ordering::Relaxed);
                    break;
                }
                if to.write_all(&buf[..n]).is_err() {
                    break;
                }
            }
        }
    }
    let _ = to.shutdown(Shutdown::Both);
    let _ = from.shutdown(Shutdown::Both);
    let _ = up.join();
}

/// Copy client bytes to the server; with a limit, forward that many and then cut both ends.
fn pump(mut from: TcpStream, mut to: TcpStream, limit: Option<u64>, counters: &Counters) {
    let mut sent = 0u64;
    let mut buf = [0u8; 16 * 1024];
    loop {
        let n = match from.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        let allowed = match limit {
            Some(l) => (l.saturating_sub(sent) as usize).min(n),
            None => n,
        };
        if to.write_all(&buf[..allowed]).is_err() {
            break;
        }
        sent += allowed as u64;
        if limit.is_some_and(|l| sent >= l) {
            counters.requests_cut.fetch_add(1, Ordering::Relaxed);
            // Give the server a moment to read what arrived, then cut both ways.
            thread::sleep(Duration::from_millis(20));
            let _ = to.shutdown(Shutdown::Both);
            let _ = from.shutdown(Shutdown::Both);
            return;
        }
    }
    let _ = to.shutdown(Shutdown::Write);
}
