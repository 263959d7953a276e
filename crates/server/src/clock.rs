//! The server's notion of now. `UCTRIAGE_NOW` (RFC 3339) starts the clock at that moment and lets
//! it run from there, for tests and generated fleets; otherwise it is the system clock.

use std::time::Instant;

#[derive(Debug, Clone)]
pub struct Clock {
    start: Option<(i64, Instant)>,
}

impl Clock {
    pub fn system() -> Clock {
        Clock { start: None }
    }

    /// A clock that reads `ms` now and runs on from there.
    pub fn starting_at(ms: i64) -> Clock {
        Clock { start: Some((ms, Instant::now())) }
    }

    /// `UCTRIAGE_NOW` when set, else the system clock; an unreadable value is an error.
    pub fn from_env() -> Result<Clock, String> {
        match std::env::var("UCTRIAGE_NOW") {
            Ok(v) if !v.trim().is_empty() => v
                .trim()
                .parse::<jiff::Timestamp>()
                .map(|t| Clock::starting_at(t.as_millisecond()))
                .map_err(|e| format!("UCTRIAGE_NOW={v}: not an RFC 3339 time: {e}")),
            _ => Ok(Clock::system()),
        }
    }

    pub fn now_ms(&self) -> i64 {
        match self.start {
            Some((ms, at)) => ms + i64::try_from(at.elapsed().as_millis()).unwrap_or(i64::MAX / 2),
            None => jiff::Timestamp::now().as_millisecond(),
        }
    }
}
