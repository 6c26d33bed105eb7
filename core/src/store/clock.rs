//! The device's two clocks: the wall clock (which the user can change) and a monotonic clock
//! counting since boot (which they cannot). Events carry both so a jumped clock shows.

use std::fmt::Debug;

use chrono::{DateTime, Utc};

pub trait Clock: Send + Sync + Debug {
    fn now(&self) -> DateTime<Utc>;
    /// Milliseconds since boot, including time asleep.
    fn monotonic_ms(&self) -> i64;
}

#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }

    fn monotonic_ms(&self) -> i64 {
        boot_time_ms()
    }
}

/// CLOCK_BOOTTIME keeps counting while the phone sleeps (Android's `elapsedRealtime`); other
/// Unix systems get CLOCK_MONOTONIC.
#[allow(unsafe_code)]
#[cfg(unix)]
fn boot_time_ms() -> i64 {
    #[cfg(any(target_os = "linux", target_os = "android"))]
    let id = libc::CLOCK_BOOTTIME;
    #[cfg(not(any(target_os = "linux", target_os = "android")))]
    let id = libc::CLOCK_MONOTONIC;
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec and `id` a clock every supported OS has.
    let rc = unsafe { libc::clock_gettime(id, &mut ts) };
    if rc != 0 {
        return 0;
    }
    // time_t and c_long are 32 bits on 32-bit Android: the casts are needed there.
    #[allow(clippy::unnecessary_cast)]
    let ms = ts.tv_sec as i64 * 1000 + ts.tv_nsec as i64 / 1_000_000;
    ms
}

#[cfg(not(unix))]
fn boot_time_ms() -> i64 {
    use std::sync::OnceLock;
    use std::time::Instant;
    static START: OnceLock<Instant> = OnceLock::new();
    START.get_or_init(Instant::now).elapsed().as_millis() as i64
}
