//! The server's clock. Real time, plus a forward offset tests can set, so expiry (enrolment
//! codes, uploads, sessions) is tested without sleeping. It only ever moves forward.

use std::sync::{Arc, Mutex};

use chrono::{DateTime, Duration, Utc};

#[derive(Debug, Clone, Default)]
pub struct ServerClock {
    offset: Arc<Mutex<Duration>>,
}

impl ServerClock {
    pub fn now(&self) -> DateTime<Utc> {
        Utc::now() + *self.offset.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Jump the server's clock ahead (tests only make sense of it; production never calls it).
    pub fn advance(&self, by: Duration) {
        let mut o = self.offset.lock().unwrap_or_else(|p| p.into_inner());
        *o += by.max(Duration::zero());
    }
}
