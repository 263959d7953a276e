//! What the ingest path asks the database on every request, kept in memory for a few seconds:
//! the device token a room presents, and the room each computer name or resource account
//! belongs to. Only on SQLite, where this process is the database's one server: every change to
//! those (a device token made or revoked, a room merged into another) goes through it and
//! empties the matching map at once; the short lifetime is a second guard. PostgreSQL sites run
//! several servers on one database, where one server cannot see another's changes, so there
//! every request reads the database.
//!
//! Admin and viewer tokens are not kept: `uctriage serve --reset-admin-token` replaces admin
//! tokens from another process while the server runs, and the old one must stop working at once.
//!
//! An answer read from the database is kept only if no change happened while it was read: each
//! map has a generation, taken before the read and checked when the answer is stored.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::Token;

/// How long a device token is trusted without reading it again.
const TOKEN_TTL: Duration = Duration::from_secs(5);
/// How long a room name is trusted without reading it again.
const NAME_TTL: Duration = Duration::from_secs(10);
/// Entries per map; past this a map is emptied and fills again from the database.
const MAX_ENTRIES: usize = 50_000;

#[derive(Debug)]
pub(crate) struct Hot {
    pub devices: Recent<String, Token>,
    pub names: Recent<(String, String), String>,
}

impl Hot {
    pub fn new() -> Hot {
        Hot { devices: Recent::new(TOKEN_TTL), names: Recent::new(NAME_TTL) }
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
