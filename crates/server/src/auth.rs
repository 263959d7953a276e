//! Tokens with roles. A token reads `uct_<id>_<secret>`: the id finds the stored row, the
//! 256-bit secret is checked against its SHA-256 in constant time. Only the hash is stored.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{header, StatusCode};
use ring::rand::{SecureRandom, SystemRandom};
use serde::{Deserialize, Serialize};

use crate::problem::Problem;
use crate::App;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Ingest only, optionally for one room.
    Device,
    /// Read everything, change nothing.
    Viewer,
    /// Everything.
    Admin,
}

impl Role {
    pub fn parse(s: &str) -> Option<Role> {
        match s {
            "admin" => Some(Role::Admin),
            "viewer" => Some(Role::Viewer),
            "device" => Some(Role::Device),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Viewer => "viewer",
            Role::Device => "device",
        }
    }
}

pub fn random_hex(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    SystemRandom::new().fill(&mut buf).expect("the system random source works");
    hex(&buf)
}

pub fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    bytes.iter().fold(String::with_capacity(bytes.len() * 2), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

pub fn sha256(data: &[u8]) -> Vec<u8> {
    ring::digest::digest(&ring::digest::SHA256, data).as_ref().to_vec()
}

/// A new token: its id, the whole token to hand out once, and the hash to store.
pub fn new_token() -> (String, String, Vec<u8>) {
    let id = format!("tk{}", random_hex(6));
    let secret = random_hex(32);
    let whole = format!("uct_{id}_{secret}");
    (id, whole, sha256(secret.as_bytes()))
}

/// Split `uct_<id>_<secret>`.
pub fn parse_token(token: &str) -> Option<(&str, &str)> {
    let rest = token.trim().strip_prefix("uct_")?;
    let (id, secret) = rest.split_once('_')?;
    (!id.is_empty() && secret.len() == 64).then_some((id, secret))
}

/// Equal without an early exit.
pub fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Who is calling: the token's id, role and bound room.
#[derive(Debug, Clone)]
pub struct Caller {
    pub token_id: String,
    pub role: Role,
    pub room: Option<String>,
}

impl Caller {
    pub fn require(&self, role: Role) -> Result<(), Problem> {
        let allowed = match role {
            Role::Admin => self.role == Role::Admin,
            // Reading is for viewers and admins; devices only ingest.
            Role::Viewer => matches!(self.role, Role::Viewer | Role::Admin),
            Role::Device => matches!(self.role, Role::Device | Role::Admin),
        };
        if allowed {
            Ok(())
        } else {
            Err(Problem::forbidden(format!(
                "a {} token cannot do this; it needs a {} token",
                self.role.as_str(),
                match role {
                    Role::Admin => "admin",
                    Role::Viewer => "viewer or admin",
                    Role::Device => "device or admin",
                }
            )))
        }
    }
}

impl FromRequestParts<Arc<App>> for Caller {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, app: &Arc<App>) -> Result<Caller, Problem> {
        let value = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .ok_or_else(|| Problem::unauthorized("this route needs a token: send Authorization: Bearer <token>"))?;
        let token = value
            .strip_prefix("Bearer ")
            .or_else(|| value.strip_prefix("bearer "))
            .ok_or_else(|| Problem::unauthorized("the Authorization header must be Bearer <token>"))?;
        let bad = || Problem::unauthorized("the token is not valid (unknown, malformed or revoked)");
        let (id, secret) = parse_token(token).ok_or_else(bad)?;
        let row = app.store.token(id).await?.ok_or_else(bad)?;
        if row.revoked_ms.is_some() || !same(&row.hash, &sha256(secret.as_bytes())) {
            return Err(bad());
        }
        let role = Role::parse(&row.role).ok_or_else(bad)?;
        app.limiter.check(&row.id)?;
        Ok(Caller { token_id: row.id, role, room: row.room_id })
    }
}

/// Requests per second per token, with a burst of four seconds' worth. Zero turns it off.
#[derive(Debug)]
pub struct RateLimiter {
    per_second: f64,
    buckets: Mutex<HashMap<String, (f64, Instant)>>,
}

impl RateLimiter {
    pub fn new(per_second: u32) -> RateLimiter {
        RateLimiter { per_second: f64::from(per_second), buckets: Mutex::new(HashMap::new()) }
    }

    pub fn check(&self, token: &str) -> Result<(), Problem> {
        if self.per_second <= 0.0 {
            return Ok(());
        }
        let burst = self.per_second * 4.0;
        let now = Instant::now();
        let mut map = self.buckets.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let (level, at) = map.entry(token.to_owned()).or_insert((burst, now));
        *level = (*level + now.duration_since(*at).as_secs_f64() * self.per_second).min(burst);
        *at = now;
        if *level >= 1.0 {
            *level -= 1.0;
            Ok(())
        } else {
            let mut p = Problem::new(StatusCode::TOO_MANY_REQUESTS, "too many requests for this token; slow down");
            p.retry_after = Some(1);
            Err(p)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_parse_and_compare() {
        let (id, whole, hash) = new_token();
        let (pid, secret) = parse_token(&whole).unwrap();
        assert_eq!(pid, id);
        assert!(same(&hash, &sha256(secret.as_bytes())));
        assert!(!same(&hash, &sha256(b"other")));
        assert!(parse_token("uct_x_short").is_none());
        assert!(parse_token(&whole.replace("uct_", "xyz_")).is_none());
    }

    #[test]
    fn the_limiter_allows_a_burst_then_refuses() {
        let l = RateLimiter::new(2);
        for _ in 0..8 {
            l.check("a").unwrap();
        }
        assert_eq!(l.check("a").unwrap_err().status, 429);
        l.check("b").unwrap();
        assert!(RateLimiter::new(0).check("a").is_ok());
    }
}
