//! The Teams Rooms signal timeline: when each heartbeat signal turned unhealthy, and what changed
//! on the device at that moment (app version, OS version, address).

use std::collections::BTreeMap;

use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use uctriage_evidence::time::serde_rfc3339;
use uctriage_evidence::Evidence;

/// The heartbeat signals, in display order, with their field names.
pub const SIGNALS: [(&str, &str); 4] = [
    ("Network", "network_status"),
    ("Exchange", "exchange_status"),
    ("Skype for Business sign-in", "signin_status"),
    ("Teams sign-in", "teams_signin_status"),
];

/// The device attributes watched for changes.
const WATCHED: [(&str, &str); 4] =
    [("app version", "app_version"), ("OS version", "os_version"), ("IPv4 address", "ipv4"), ("IPv6 address", "ipv6")];

/// Fields naming the room of a heartbeat, in order of preference (else the file's path).
pub(crate) const ROOM_FIELDS: [&str; 3] = ["computer", "display_name", "alias"];

/// How long before a turn a device change still counts as "at that moment".
const CHANGE_WINDOW_SECS: i64 = 3600;

/// One heartbeat, reduced to what the timeline needs; or a run of identical heartbeats of one
/// room from `time` to `until`, which is how a healthy room's months of heartbeats stay small.
#[derive(Debug, Clone)]
pub struct HeartbeatPoint {
    pub time: Timestamp,
    /// The last heartbeat of the run (`time` for a single one).
    pub until: Timestamp,
    pub room: String,
    /// The container (zip or folder) the heartbeat came from: two bundles of rooms that share a
    /// device name stay two rooms.
    pub bundle: String,
    pub signals: [String; 4],
    pub attrs: [String; 4],
}

/// The state of a signal: `Healthy`, `Unhealthy`, `NotApplicable`, or the status text (for
/// example `80131500 : AADSTS50076`, which is unhealthy).
pub fn state_of(status: &str) -> &'static str {
    let s = status.trim().to_ascii_lowercase();
    if s.is_empty() {
        "unknown"
    } else if s == "healthy" || s == "connected" {
        "healthy"
    } else if s == "notapplicable" || s == "not applicable" {
        "not-applicable"
    } else {
        "unhealthy"
    }
}

impl HeartbeatPoint {
    /// The room a heartbeat belongs to, when it names one.
    pub fn room_of(e: &Evidence) -> Option<&str> {
        ROOM_FIELDS.iter().filter_map(|f| e.get_str(f)).find(|v| !v.is_empty())
    }

    /// The key of a heartbeat's room, its container and its name (`container\u{1f}name`), written
    /// into `key` (cleared first) so that its buffer is reused.
    pub(crate) fn key_into(e: &Evidence, key: &mut String) {
        key.clear();
        key.push_str(crate::engine::scope_of(&e.path));
        key.push('\u{1f}');
        key.push_str(HeartbeatPoint::room_of(e).unwrap_or(&e.path));
    }

    /// Extend this run to `time` when `e` is the same room in the same state, no earlier than
    /// the run's end.
    pub fn extends_with(&mut self, e: &Evidence, time: Timestamp) -> bool {
        let same = |held: &[String; 4], fields: [&str; 4]| {
            held.iter().zip(fields).all(|(h, f)| h.as_str() == e.get_str(f).unwrap_or(""))
        };
        if time >= self.until
            && HeartbeatPoint::room_of(e).unwrap_or(&e.path) == self.room
            && crate::engine::scope_of(&e.path) == self.bundle
            && same(&self.signals, SIGNALS.map(|(_, f)| f))
            && same(&self.attrs, WATCHED.map(|(_, f)| f))
        {
            self.until = time;
            true
        } else {
            false
        }
    }

    pub fn of(e: &Evidence) -> Option<Self> {
        let t = e.time?;
        let get = |f: &str| e.get_str(f).unwrap_or("").to_owned();
        let room = HeartbeatPoint::room_of(e).unwrap_or(&e.path).to_owned();
        Some(HeartbeatPoint {
            time: t,
            until: t,
            room,
            bundle: crate::engine::scope_of(&e.path).to_owned(),
            signals: SIGNALS.map(|(_, f)| get(f)),
            attrs: WATCHED.map(|(_, f)| get(f)),
        })
    }
}

/// A run of one state of one signal.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Span {
    #[serde(with = "serde_rfc3339")]
    pub from: Timestamp,
    #[serde(with = "serde_rfc3339")]
    pub to: Timestamp,
    /// One of [`state_of`]'s words.
    pub state: String,
    /// The status text at the start of the span.
    pub status: String,
}

/// A change of a device attribute seen between two heartbeats.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Change {
    #[serde(with = "serde_rfc3339")]
    pub time: Timestamp,
    /// The attribute (`app version`, `OS version`, `IPv4 address`, `IPv6 address`).
    pub what: String,
    pub from: String,
    pub to: String,
}

/// The moment a signal turned unhealthy, with the changes seen at the same heartbeat.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Turn {
    #[serde(with = "serde_rfc3339")]
    pub time: Timestamp,
    /// The signal's display name (see [`SIGNALS`]).
    pub signal: String,
    pub status: String,
    pub changed: Vec<Change>,
}

/// One room's signals over time, the device changes seen, and the turns to unhealthy.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RoomTimeline {
    pub room: String,
    /// Spans per signal display name (see [`SIGNALS`]).
    pub signals: BTreeMap<String, Vec<Span>>,
    pub changes: Vec<Change>,
    pub turned_unhealthy: Vec<Turn>,
}

/// Build one timeline per room from heartbeat points (any order).
///
/// A room is a device name within a bundle: when bundles share a name, each timeline's room
/// reads `name (bundle)`.
pub fn build(mut points: Vec<HeartbeatPoint>) -> Vec<RoomTimeline> {
    points.sort_by(|a, b| (&a.room, &a.bundle, a.time).cmp(&(&b.room, &b.bundle, b.time)));
    let mut bundles: BTreeMap<&str, std::collections::BTreeSet<&str>> = BTreeMap::new();
    for p in &points {
        bundles.entry(p.room.as_str()).or_default().insert(p.bundle.as_str());
    }
    let mut out: Vec<RoomTimeline> = Vec::new();
    for chunk in points.chunk_by(|a, b| a.room == b.room && a.bundle == b.bundle) {
        let shared = bundles.get(chunk[0].room.as_str()).is_some_and(|b| b.len() > 1);
        let mut tl = RoomTimeline {
            room: if shared { format!("{} ({})", chunk[0].room, chunk[0].bundle) } else { chunk[0].room.clone() },
            signals: BTreeMap::new(),
            changes: Vec::new(),
            turned_unhealthy: Vec::new(),
        };
        for (i, (name, _)) in SIGNALS.iter().enumerate() {
            let mut spans: Vec<Span> = Vec::new();
            for p in chunk {
                let state = state_of(&p.signals[i]);
                match spans.last_mut() {
                    Some(s) if s.state == state => s.to = s.to.max(p.until),
                    _ => spans.push(Span {
                        from: p.time,
                        to: p.until,
                        state: state.to_owned(),
                        status: p.signals[i].clone(),
                    }),
                }
            }
            tl.signals.insert((*name).to_owned(), spans);
        }
        let mut turns: Vec<(Timestamp, &'static str, String)> = Vec::new();
        for pair in chunk.windows(2) {
            let (a, b) = (&pair[0], &pair[1]);
            for (i, (what, _)) in WATCHED.iter().enumerate() {
                if !a.attrs[i].is_empty() && !b.attrs[i].is_empty() && a.attrs[i] != b.attrs[i] {
                    tl.changes.push(Change {
                        time: b.time,
                        what: (*what).to_owned(),
                        from: a.attrs[i].clone(),
                        to: b.attrs[i].clone(),
                    });
                }
            }
            for (i, (name, _)) in SIGNALS.iter().enumerate() {
                if state_of(&a.signals[i]) != "unhealthy" && state_of(&b.signals[i]) == "unhealthy" {
                    turns.push((b.time, name, b.signals[i].clone()));
                }
            }
        }
        // What changed "at that moment": any change in the hour up to the turn (an update is often
        // installed one heartbeat before the sign-in starts to fail).
        for (t, signal, status) in turns {
            let changed = tl
                .changes
                .iter()
                .filter(|c| c.time <= t && t.as_second() - c.time.as_second() <= CHANGE_WINDOW_SECS)
                .cloned()
                .collect();
            tl.turned_unhealthy.push(Turn { time: t, signal: signal.to_owned(), status, changed });
        }
        if let Some(first) = chunk.first() {
            for (i, (name, _)) in SIGNALS.iter().enumerate() {
                if state_of(&first.signals[i]) == "unhealthy" {
                    tl.turned_unhealthy.insert(
                        0,
                        Turn {
                            time: first.time,
                            signal: (*name).to_owned(),
                            status: first.signals[i].clone(),
                            changed: Vec::new(),
                        },
                    );
                }
            }
        }
        tl.turned_unhealthy.sort_by_key(|t| t.time);
        out.push(tl);
    }
    out
}
