//! The fleet model: which signals a room has (data in `data/signals.toml`), what one record says
//! about them, and the state of a room at a given moment.

use std::sync::OnceLock;

use serde::{Deserialize, Serialize};
use uctriage_scan::Evidence;
use uctriage_store::{Observation, Room, RoomAttrs, SignalRow};

/// How bad an unhealthy signal is, in the Teams Rooms Pro portal's terms. Only `critical` and
/// `important` make a room unhealthy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Critical,
    Important,
    Warning,
    Recommended,
}

impl Severity {
    pub fn makes_unhealthy(self) -> bool {
        matches!(self, Severity::Critical | Severity::Important)
    }
}

/// One signal of the catalog.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SignalDef {
    pub id: String,
    pub name: String,
    /// `heartbeat`, `hardware`, `app-restart` or `offline`.
    pub kind: String,
    /// Heartbeat field holding the status.
    pub field: Option<String>,
    pub severity: Severity,
    /// Minutes bad before an incident opens.
    pub watch: u32,
    /// App restarts: the window in minutes and how many restarts in it are too many.
    pub window: Option<u32>,
    pub limit: Option<u32>,
    /// Offline: minutes without a heartbeat.
    pub after: Option<u32>,
}

#[derive(Debug, Deserialize)]
struct Catalog {
    signal: Vec<SignalDef>,
}

/// The signal catalog, compiled in.
pub fn signals() -> &'static [SignalDef] {
    static C: OnceLock<Vec<SignalDef>> = OnceLock::new();
    C.get_or_init(|| match toml::from_str::<Catalog>(include_str!("../data/signals.toml")) {
        Ok(c) => c.signal,
        Err(e) => panic!("data/signals.toml is invalid (the server tests catch this): {e}"),
    })
}

pub fn signal(id: &str) -> Option<&'static SignalDef> {
    let base = id.split_once(':').map_or(id, |(b, _)| b);
    signals().iter().find(|s| s.id == base)
}

/// Pseudo-signals that track an attribute; their "state" is the value.
pub const APP_VERSION: &str = "app-version";
pub const OS_VERSION: &str = "os-version";

/// `healthy`, `unhealthy`, `not-applicable` or `unknown` for a status the room reported.
pub fn state_of(status: &str) -> &'static str {
    let s = status.trim();
    let first = s.split(':').next().unwrap_or("").trim().to_ascii_lowercase();
    if s.is_empty() {
        "unknown"
    } else if matches!(first.as_str(), "healthy" | "connected" | "ok") && !s.contains(':') {
        "healthy"
    } else if matches!(first.as_str(), "notapplicable" | "not applicable") {
        "not-applicable"
    } else {
        "unhealthy"
    }
}

/// The heartbeat fields that are not peripherals.
fn heartbeat_field(name: &str) -> bool {
    signals().iter().any(|s| s.field.as_deref() == Some(name))
}

/// `conference_microphone_status` → `Conference Microphone`.
fn peripheral_name(field: &str) -> String {
    field
        .trim_end_matches("_status")
        .split('_')
        .filter(|w| !w.is_empty())
        .map(|w| {
            let mut c = w.chars();
            c.next().map(|f| f.to_uppercase().chain(c).collect::<String>()).unwrap_or_default()
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// The signal id of a peripheral: `hardware:conference-microphone`.
fn peripheral_signal(field: &str) -> String {
    format!("hardware:{}", field.trim_end_matches("_status").replace('_', "-"))
}

/// What record `index` of a batch says about the room's signals.
pub fn observations(index: usize, e: &Evidence, at_ms: i64, out: &mut Vec<Observation>) {
    let mut push = |signal: String, state: &str, status: &str| {
        out.push(Observation { event: index, signal, state: state.to_owned(), status: status.to_owned(), at_ms });
    };
    match e.kind.as_str() {
        "heartbeat" => {
            for s in signals().iter().filter(|s| s.kind == "heartbeat") {
                if let Some(status) = s.field.as_deref().and_then(|f| e.get_str(f)) {
                    push(s.id.clone(), state_of(status), status);
                }
            }
            for (signal, field) in [(APP_VERSION, "app_version"), (OS_VERSION, "os_version")] {
                if let Some(v) = e.get_str(field).filter(|v| !v.is_empty()) {
                    push(signal.to_owned(), v, v);
                }
            }
        }
        "hardware" => {
            for (field, value) in &e.fields {
                if field.ends_with("_status") && !heartbeat_field(field) {
                    if let Some(status) = value.as_str() {
                        push(peripheral_signal(field), state_of(status), status);
                    }
                }
            }
        }
        _ => {}
    }
}

/// The peripherals a hardware record names.
pub fn peripherals(e: &Evidence) -> Vec<String> {
    e.fields.keys().filter(|f| f.ends_with("_status") && !heartbeat_field(f)).map(|f| peripheral_name(f)).collect()
}

/// The room attributes a heartbeat or hardware record reports.
pub fn attrs(e: &Evidence) -> RoomAttrs {
    let get = |f: &str| e.get_str(f).unwrap_or("").trim().to_owned();
    RoomAttrs {
        computer: get("computer"),
        alias: get("alias"),
        display_name: get("display_name"),
        model: get("model"),
        peripherals: if e.kind == "hardware" { peripherals(e) } else { Vec::new() },
        app_version: get("app_version"),
        os_version: get("os_version"),
        ipv4: get("ipv4"),
        site: String::new(),
    }
}

/// One signal of a room as the API shows it.
#[derive(Debug, Clone, Serialize)]
pub struct SignalView {
    pub id: String,
    pub name: String,
    pub severity: Severity,
    pub state: String,
    pub status: String,
    pub since: Option<String>,
    pub updated: Option<String>,
}

/// A room's overall state: `offline`, `unhealthy`, `healthy`, `unknown` (never heard a
/// heartbeat) or `retired`.
#[derive(Debug, Clone, Serialize)]
pub struct RoomState {
    pub state: &'static str,
    pub signals: Vec<SignalView>,
    pub app_version: String,
    pub os_version: String,
}

pub fn rfc3339(ms: i64) -> String {
    jiff::Timestamp::from_millisecond(ms).map(|t| t.to_string()).unwrap_or_default()
}

/// The offline signal at `now_ms`: judged on the newest heartbeat's own time, never later than
/// when the server received it (a room clock running ahead cannot keep a silent room online).
pub fn offline(room: &Room, now_ms: i64) -> Option<SignalView> {
    let def = signals().iter().find(|s| s.kind == "offline")?;
    let after_ms = offline_after_ms(def);
    let last = room.last_heartbeat_ms.map(|h| h.min(room.last_heard_ms))?;
    let silent = now_ms - last > after_ms;
    Some(SignalView {
        id: def.id.clone(),
        name: def.name.clone(),
        severity: def.severity,
        state: if silent { "unhealthy" } else { "healthy" }.into(),
        status: if silent {
            format!("no heartbeat for {} minutes", (now_ms - last) / 60_000)
        } else {
            "heartbeats arriving".into()
        },
        since: Some(rfc3339(if silent { last + after_ms } else { last })),
        updated: Some(rfc3339(now_ms)),
    })
}

/// How long a room may stay silent before it counts as offline.
pub fn offline_after_ms(def: &SignalDef) -> i64 {
    i64::from(def.after.unwrap_or(20)) * 60_000
}

/// The offline periods the store finds between a room's heartbeats (what a backfill shows).
pub fn silence() -> Option<uctriage_store::Silence> {
    let def = signals().iter().find(|s| s.kind == "offline")?;
    Some(uctriage_store::Silence { signal: def.id.clone(), after_ms: offline_after_ms(def) })
}

/// Judge a room from its stored signals at `now_ms`. Stored rows of the offline signal (the
/// silences a backfill showed) are history: offline now is judged on the clock alone.
pub fn judge(room: &Room, rows: &[SignalRow], now_ms: i64, restarts_in_window: u64) -> RoomState {
    let mut views = Vec::new();
    let mut app_version = room.app_version.clone();
    let mut os_version = room.os_version.clone();
    for r in rows {
        if r.signal == APP_VERSION {
            app_version.clone_from(&r.state);
            continue;
        }
        if r.signal == OS_VERSION {
            os_version.clone_from(&r.state);
            continue;
        }
        let Some(def) = signal(&r.signal).filter(|d| d.kind == "heartbeat" || d.kind == "hardware") else { continue };
        let name = match r.signal.split_once(':') {
            Some((_, p)) => peripheral_name(&p.replace('-', "_")),
            None => def.name.clone(),
        };
        views.push(SignalView {
            id: r.signal.clone(),
            name,
            severity: def.severity,
            state: r.state.clone(),
            status: r.status.clone(),
            since: Some(rfc3339(r.since_ms)),
            updated: Some(rfc3339(r.updated_ms)),
        });
    }
    if let Some(def) = signals().iter().find(|s| s.kind == "app-restart") {
        let limit = u64::from(def.limit.unwrap_or(3));
        views.push(SignalView {
            id: def.id.clone(),
            name: def.name.clone(),
            severity: def.severity,
            state: if restarts_in_window >= limit { "unhealthy" } else { "healthy" }.into(),
            status: format!("{restarts_in_window} restarts in {} minutes", def.window.unwrap_or(1440)),
            since: None,
            updated: Some(rfc3339(now_ms)),
        });
    }
    let off = offline(room, now_ms);
    let is_offline = off.as_ref().is_some_and(|o| o.state == "unhealthy");
    views.extend(off);
    // Catalog order: the heartbeat signals, peripherals, restarts, offline.
    let rank = |id: &str| {
        signals().iter().position(|s| id == s.id || id.starts_with(&format!("{}:", s.id))).unwrap_or(usize::MAX)
    };
    views.sort_by(|a, b| rank(&a.id).cmp(&rank(&b.id)).then_with(|| a.id.cmp(&b.id)));
    let unhealthy = views.iter().any(|v| v.state == "unhealthy" && v.severity.makes_unhealthy());
    let state = if room.retired {
        "retired"
    } else if is_offline {
        "offline"
    } else if room.last_heartbeat_ms.is_none() {
        "unknown"
    } else if unhealthy {
        "unhealthy"
    } else {
        "healthy"
    };
    RoomState { state, signals: views, app_version, os_version }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn heartbeat(fields: &[(&'static str, &str)]) -> Evidence {
        let mut e = Evidence::new("push", "event-json", "record 1");
        e.kind = "heartbeat".into();
        for (k, v) in fields {
            e.field(k, *v);
        }
        e
    }

    #[test]
    fn the_catalog_loads_and_names_every_kind() {
        let kinds: Vec<&str> = signals().iter().map(|s| s.kind.as_str()).collect();
        for k in ["heartbeat", "hardware", "app-restart", "offline"] {
            assert!(kinds.contains(&k), "{k}");
        }
        assert!(signal("hardware:camera").is_some());
    }

    #[test]
    fn states_of_reported_statuses() {
        assert_eq!(state_of("Healthy"), "healthy");
        assert_eq!(state_of("80131500 : AADSTS50076"), "unhealthy");
        assert_eq!(state_of("NotApplicable"), "not-applicable");
        assert_eq!(state_of("Unhealthy : IncorrectLicense"), "unhealthy");
        assert_eq!(state_of(""), "unknown");
    }

    #[test]
    fn skype_sign_in_never_marks_teams_sign_in() {
        let e = heartbeat(&[
            ("network_status", "Healthy"),
            ("exchange_status", "Healthy"),
            ("signin_status", "Unhealthy"),
            ("teams_signin_status", "Healthy"),
        ]);
        let mut out = Vec::new();
        observations(0, &e, 5, &mut out);
        let get = |s: &str| out.iter().find(|o| o.signal == s).map(|o| o.state.as_str());
        assert_eq!(get("teams-signin"), Some("healthy"));
        assert_eq!(get("sfb-signin"), Some("unhealthy"));
    }

    #[test]
    fn hardware_names_each_peripheral() {
        let mut e =
            heartbeat(&[("conference_microphone_status", "Unhealthy"), ("front_of_room_display_status", "Healthy")]);
        e.kind = "hardware".into();
        let mut out = Vec::new();
        observations(3, &e, 5, &mut out);
        assert_eq!(out.len(), 2);
        assert!(out.iter().any(|o| o.signal == "hardware:conference-microphone" && o.state == "unhealthy"));
        assert_eq!(peripherals(&e), ["Conference Microphone", "Front Of Room Display"]);
    }

    #[test]
    fn a_room_goes_offline_after_twenty_silent_minutes() {
        let mut room = Room::blank("rm");
        assert_eq!(judge(&room, &[], 0, 0).state, "unknown");
        room.last_heartbeat_ms = Some(1_000_000);
        room.last_heard_ms = 1_000_000;
        assert_eq!(judge(&room, &[], 1_000_000 + 19 * 60_000, 0).state, "healthy");
        assert_eq!(judge(&room, &[], 1_000_000 + 21 * 60_000, 0).state, "offline");
        // A heartbeat stamped in the future counts from when it arrived.
        room.last_heartbeat_ms = Some(9_000_000);
        assert_eq!(judge(&room, &[], 1_000_000 + 21 * 60_000, 0).state, "offline");
        room.last_heartbeat_ms = Some(1_000_000);
        let rows = [SignalRow {
            signal: "exchange".into(),
            state: "unhealthy".into(),
            status: "80131500 : AADSTS50076".into(),
            since_ms: 1,
            updated_ms: 2,
        }];
        assert_eq!(judge(&room, &rows, 1_000_000, 0).state, "unhealthy");
        let restarts = judge(&room, &[], 1_000_000, 5);
        assert_eq!(restarts.state, "healthy", "a warning signal keeps a room healthy");
        assert!(restarts.signals.iter().any(|s| s.id == "app-restarts" && s.state == "unhealthy"));
    }
}
