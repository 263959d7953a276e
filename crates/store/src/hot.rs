//! What the ingest path asks the database on every request, kept in memory for a few seconds:
//! the device token a room presents, and the room each computer name or resource account
//! belongs to.
//!
//! Every change to those (a device token made or revoked, a room merged into another) empties
//! the matching map of the server that made it at once; the short lifetime is a second guard.
//! - **SQLite:** this process is the database's one server, so that is all.
//! - **PostgreSQL:** several servers share one database. The one that made a change announces it
//!   on the database after its commit (`NOTIFY`, see `sql.rs`), and every server listening
//!   empties its map when the notice arrives, a few milliseconds later. While a server is not
//!   listening (before it starts, or after its listening connection broke and until it is back)
//!   it keeps nothing and reads the database every time: notices sent meanwhile are lost.
//!
//! Admin and viewer tokens are not kept: `uctriage serve --reset-admin-token` replaces admin
//! tokens from another process while the server runs, and the old one must stop working at once.
//!
//! An answer read from the database is kept only if no change happened while it was read: each
//! map has a generation, taken before the read and checked when the answer is stored.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::Token;

/// How long a device token is trusted without reading it again.
const TOKEN_TTL: Duration = Duration::from_secs(5);
/// How long a room name is trusted without reading it again.
const NAME_TTL: Duration = Duration::from_secs(10);
/// Entries per map; past this a map is emptied and fills again from the database.
const MAX_ENTRIES: usize = 50_000;

/// Which map a change concerns, as announced between servers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kept {
    Tokens,
    Names,
}

impl Kept {
    pub fn as_str(self) -> &'static str {
        match self {
            Kept::Tokens => "tokens",
            Kept::Names => "names",
        }
    }
}

#[derive(Debug)]
pub(crate) struct Hot {
    pub devices: Recent<String, Token>,
    pub names: Recent<(String, String), String>,
    /// Whether changes made elsewhere reach this process; when not, nothing is kept.
    live: AtomicBool,
    /// Dropped with the store: ends the task that listens for other servers' changes.
    _stop: Option<tokio::sync::oneshot::Sender<()>>,
}

impl Hot {
    /// Maps for a database only this process changes: live from the start.
    pub fn alone() -> Hot {
        Hot::with(true, None)
    }

    /// Maps for a shared database: nothing is kept until [`set_live`](Self::set_live) says that
    /// changes from other servers arrive. `stop` is dropped with the maps.
    pub fn shared(stop: tokio::sync::oneshot::Sender<()>) -> Hot {
        Hot::with(false, Some(stop))
    }

    fn with(live: bool, stop: Option<tokio::sync::oneshot::Sender<()>>) -> Hot {
        Hot { devices: Recent::new(TOKEN_TTL), names: Recent::new(NAME_TTL), live: AtomicBool::new(live), _stop: stop }
    }

    pub fn is_live(&self) -> bool {
        self.live.load(Ordering::Acquire)
    }

    /// Changes from elsewhere arrive (`true`) or may be lost (`false`). Both empty the maps:
    /// what was kept before may have changed unannounced.
    pub fn set_live(&self, live: bool) {
        if !live {
            self.live.store(false, Ordering::Release);
        }
        self.forget_all();
        if live {
            self.live.store(true, Ordering::Release);
        }
    }

    fn forget_all(&self) {
        self.changed(Kept::Tokens);
        self.changed(Kept::Names);
    }

    pub fn changed(&self, what: Kept) {
        match what {
            Kept::Tokens => self.devices.changed(),
            Kept::Names => self.names.changed(),
        }
    }

    /// A change announced by another server (an unknown one empties both maps).
    pub fn announced(&self, payload: &str) {
        match payload {
            "tokens" => self.changed(Kept::Tokens),
            "names" => self.changed(Kept::Names),
            _ => self.forget_all(),
        }
    }
}

/// A generation number and the answers read in it, each with when it was read.
type Generation<K, V> = (u64, HashMap<K, (V, Instant)>);

/// A map of answers, each good for `ttl` and while the generation it was read in lasts.
#[derive(Debug)]
pub(crate) struct Recent<K, V> {
    ttl: Duration,
    inner: Mutex<Generation<K, V>>,
}

impl<K: Eq + Hash, V: Clone> Recent<K, V> {
    fn new(ttl: Duration) -> Self {
        Recent { ttl, inner: Mutex::new((0, HashMap::new())) }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Generation<K, V>> {
        self.inner.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The kept answer for `key` if it is still fresh; else the generation to pass to
    /// [`put`](Self::put) after reading the database.
    pub fn lookup(&self, key: &K) -> Result<V, u64> {
        let map = self.lock();
        map.1.get(key).filter(|(_, at)| at.elapsed() < self.ttl).map(|(v, _)| v.clone()).ok_or(map.0)
    }

    /// Keep an answer read in generation `gen`; dropped if something changed since.
    pub fn put(&self, gen: u64, key: K, value: V) {
        let mut map = self.lock();
        if map.0 != gen {
            return;
        }
        if map.1.len() >= MAX_ENTRIES {
            map.1.clear();
        }
        map.1.insert(key, (value, Instant::now()));
    }

    /// Forget everything: call after a change to what the map answers has committed.
    pub fn changed(&self) {
        let mut map = self.lock();
        map.0 += 1;
        map.1.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_last_their_lifetime_and_no_change() {
        let r: Recent<&str, u32> = Recent::new(Duration::from_millis(200));
        let g = r.lookup(&"a").unwrap_err();
        r.put(g, "a", 1);
        assert_eq!(r.lookup(&"a"), Ok(1));
        // A change empties the map, and an answer read before the change is not kept.
        r.changed();
        assert_eq!(r.lookup(&"a"), Err(g + 1));
        r.put(g, "a", 1);
        assert_eq!(r.lookup(&"a"), Err(g + 1));
        r.put(g + 1, "a", 2);
        assert_eq!(r.lookup(&"a"), Ok(2));
        std::thread::sleep(Duration::from_millis(250));
        assert_eq!(r.lookup(&"a"), Err(g + 1), "past its lifetime");
    }

    #[test]
    fn a_shared_store_keeps_nothing_until_live_and_forgets_on_every_notice() {
        let (stop, _) = tokio::sync::oneshot::channel();
        let h = Hot::shared(stop);
        assert!(!h.is_live());
        let g = h.names.lookup(&("computer".into(), "mtr-1".into())).unwrap_err();
        h.set_live(true);
        // An answer read before the maps went live belongs to an older generation.
        h.names.put(g, ("computer".into(), "mtr-1".into()), "rm1".into());
        assert!(h.names.lookup(&("computer".into(), "mtr-1".into())).is_err());
        let g = h.names.lookup(&("computer".into(), "mtr-1".into())).unwrap_err();
        h.names.put(g, ("computer".into(), "mtr-1".into()), "rm1".into());
        assert_eq!(h.names.lookup(&("computer".into(), "mtr-1".into())), Ok("rm1".into()));
        // A notice about tokens leaves names alone; one about names, or an unknown one, does not.
        h.announced("tokens");
        assert!(h.names.lookup(&("computer".into(), "mtr-1".into())).is_ok());
        for notice in ["names", "what"] {
            let g = h.names.lookup(&("computer".into(), "mtr-1".into())).err();
            if let Some(g) = g {
                h.names.put(g, ("computer".into(), "mtr-1".into()), "rm1".into());
            }
            h.announced(notice);
            assert!(h.names.lookup(&("computer".into(), "mtr-1".into())).is_err(), "{notice}");
        }
        assert!(h.is_live());
        h.set_live(false);
        assert!(!h.is_live());
    }

    #[test]
    fn a_full_map_starts_over() {
        let r: Recent<usize, usize> = Recent::new(Duration::from_secs(60));
        let g = r.lookup(&0).unwrap_err();
        for i in 0..=MAX_ENTRIES {
            r.put(g, i, i);
        }
        assert_eq!(r.lookup(&MAX_ENTRIES), Ok(MAX_ENTRIES));
        assert_eq!(r.lookup(&0), Err(g));
    }
}
