//! A fault-injecting TCP proxy on loopback, between a device and the server.
//!
//! HTTP clients keep connections alive, so faults strike per read, not per connection: any
//! chunk of request bytes may be the one where the connection is reset (cutting an upload at a
//! random byte), any chunk of response bytes may be lost (the server acted, the device never
//! heard), and any request may stall. The fault rates can change while connections are open.
//! It counts what it did, so a test can prove the faults really happened.

use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Duration;

/// How often each fault strikes, in percent of reads in that direction.
#[derive(Debug, Clone, Copy)]
pub struct Faults {
    pub reset_request_pct: u64,
    pub drop_response_pct: u64,
    pub stall_pct: u64,
    pub stall: Duration,
}

impl Faults {
    pub fn none() -> Self {
        Faults {
            reset_request_pct: 0,
            drop_response_pct: 0,
            stall_pct: 0,
            stall: Duration::ZERO,
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
                        let conn_rng = Rng(rng.below(u64::MAX) | 1);
                        let (f, c) = (f.clone(), c.clone());
                        thread::spawn(move || serve(client, upstream, f, c, conn_rng));
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
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

fn serve(
    client: TcpStream,
    upstream: SocketAddr,
    faults: Arc<Mutex<Faults>>,
    counters: Arc<Counters>,
    mut rng: Rng,
) {
    let Ok(server) = TcpStream::connect(upstream) else {
        let _ = client.shutdown(Shutdown::Both);
        return;
    };
    let (c2, s2) = (
        client.try_clone().expect("clone"),
        server.try_clone().expect("clone"),
    );
    let (up_faults, up_counters, mut up_rng) = (faults.clone(), counters.clone(), rng.clone());
    up_rng.below(7);
    let up = thread::spawn(move || requests(c2, s2, &up_faults, &up_counters, &mut up_rng));
    responses(server, client, &faults, &counters, &mut rng);
    let _ = up.join();
}

fn close(a: &TcpStream, b: &TcpStream) {
    let _ = a.shutdown(Shutdown::Both);
    let _ = b.shutdown(Shutdown::Both);
}

/// Client to server: maybe stall, maybe forward part of a read and reset.
fn requests(
    mut from: TcpStream,
    mut to: TcpStream,
    faults: &Mutex<Faults>,
    counters: &Counters,
    rng: &mut Rng,
) {
    let mut buf = [0u8; 16 * 1024];
    loop {
        let n = match from.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        let f = *faults.lock().expect("faults");
        if rng.below(100) < f.stall_pct {
            counters.stalls.fetch_add(1, Ordering::Relaxed);
            thread::sleep(f.stall);
        }
        if rng.below(100) < f.reset_request_pct {
            let keep = rng.below(n as u64) as usize;
            let _ = to.write_all(&buf[..keep]);
            counters.requests_cut.fetch_add(1, Ordering::Relaxed);
            // Let the server read what arrived before the reset.
            thread::sleep(Duration::from_millis(20));
            close(&from, &to);
            return;
        }
        if to.write_all(&buf[..n]).is_err() {
            break;
        }
    }
    let _ = to.shutdown(Shutdown::Write);
}

/// Server to client: maybe swallow the response and close.
fn responses(
    mut from: TcpStream,
    mut to: TcpStream,
    faults: &Mutex<Faults>,
    counters: &Counters,
    rng: &mut Rng,
) {
    let mut buf = [0u8; 16 * 1024];
    loop {
        let n = match from.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        let f = *faults.lock().expect("faults");
        if rng.below(100) < f.drop_response_pct {
            counters.responses_dropped.fetch_add(1, Ordering::Relaxed);
            break;
        }
        if to.write_all(&buf[..n]).is_err() {
            break;
        }
    }
    close(&from, &to);
}
