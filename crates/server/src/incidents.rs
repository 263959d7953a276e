//! Incidents, modelled on what admins know from the Teams Rooms Pro portal, judged on the
//! records' own times:
//!
//! - a signal that stays bad for its watch period (`data/signals.toml`) opens an incident for
//!   that room and signal; offline needs no watch beyond its own 20 minutes;
//! - it resolves by itself when the signal is good again;
//! - a relapse within [`REOPEN_MS`] (7 days) of resolving reopens the same incident; after that a
//!   new one opens (a resolved incident older than that reads as closed);
//! - each incident carries the root cause the rule engine gives for the room, and records every
//!   change of it;
//! - when several rooms turn bad with the same root cause (the same rule) close together, one
//!   fleet incident names the cause and every room; its room incidents link to it.
//!
//! [`evaluate_room`] is a pure function of one room's state: evaluation is incremental per room.

use std::collections::BTreeMap;

use serde_json::Value;
use uctriage_store::{Incident, IncidentChange, Room, SignalRow, Transition};

use crate::fleet::{self, Severity};

/// A relapse within this long after resolving reopens the incident.
pub const REOPEN_MS: i64 = 7 * 24 * 3600 * 1000;
/// Rooms turning bad with one root cause within this window are one fleet incident.
pub const FLEET_WINDOW_MS: i64 = 2 * 3600 * 1000;
/// By default, a room the server heard from less than this long ago may be catching up on a
/// backlog: its newest heartbeat being old then says nothing yet, so offline waits until it
/// settles.
pub const SETTLE_MS: i64 = 2 * 60 * 1000;
/// At least this many rooms (and at least a tenth of the fleet) make a fleet incident.
pub const FLEET_MIN_ROOMS: usize = 3;

/// The rule engine's severities in the portal's terms, in one place: critical → critical,
/// error → important, warning → warning, info → recommended.
pub fn portal_severity(rule_severity: &str) -> Severity {
    match rule_severity {
        "critical" => Severity::Critical,
        "error" => Severity::Important,
        "warning" => Severity::Warning,
        _ => Severity::Recommended,
    }
}

pub fn severity_word(s: Severity) -> &'static str {
    match s {
        Severity::Critical => "critical",
        Severity::Important => "important",
        Severity::Warning => "warning",
        Severity::Recommended => "recommended",
    }
}

/// The root cause the rule engine gives for a room: its top finding.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cause {
    pub rule: String,
    /// The title and its codes, one line.
    pub summary: String,
    /// The finding as JSON.
    pub finding: String,
}

impl Cause {
    /// The top finding of a stored diagnosis (a `ScanReport` as JSON).
    pub fn of_report(report: &str) -> Option<Cause> {
        let v: Value = serde_json::from_str(report).ok()?;
        let f = v.get("findings")?.get(0)?;
        let title = f.get("title")?.as_str()?.to_owned();
        let codes: Vec<&str> =
            f.get("codes").and_then(Value::as_array).into_iter().flatten().filter_map(Value::as_str).collect();
        let summary = if codes.is_empty() { title } else { format!("{title} ({})", codes.join(", ")) };
        Some(Cause { rule: f.get("rule")?.as_str()?.to_owned(), summary, finding: f.to_string() })
    }
}

/// A signal's present state for incident purposes.
#[derive(Debug, Clone)]
struct Now {
    signal: String,
    bad: bool,
    /// Since when it is in its present state.
    since_ms: i64,
    severity: Severity,
    watch_ms: i64,
    status: String,
    /// Judged on the server's clock (offline) rather than on the room's records.
    by_server_clock: bool,
}

fn signals_now(room: &Room, rows: &[SignalRow], now_ms: i64) -> Vec<Now> {
    let mut out = Vec::new();
    for r in rows {
        let Some(def) = fleet::signal(&r.signal).filter(|d| d.kind == "heartbeat" || d.kind == "hardware") else {
            continue;
        };
        out.push(Now {
            signal: r.signal.clone(),
            bad: r.state == "unhealthy",
            since_ms: r.since_ms,
            severity: def.severity,
            watch_ms: i64::from(def.watch) * 60_000,
            status: r.status.clone(),
            by_server_clock: false,
        });
    }
    if let (Some(def), Some(view)) =
        (fleet::signals().iter().find(|s| s.kind == "offline"), fleet::offline(room, now_ms))
    {
        let since = view
            .since
            .as_deref()
            .and_then(|s| s.parse::<jiff::Timestamp>().ok())
            .map_or(now_ms, jiff::Timestamp::as_millisecond);
        out.push(Now {
            signal: def.id.clone(),
            bad: view.state == "unhealthy",
            since_ms: since,
            severity: def.severity,
            watch_ms: i64::from(def.watch) * 60_000,
            status: view.status,
            by_server_clock: true,
        });
    }
    out
}

/// A stable id for a room's incident on a signal, first opened at `opened_ms`.
fn incident_id(parts: &[&str]) -> String {
    let h = crate::auth::sha256(parts.join("\u{1f}").as_bytes());
    format!("in{}", crate::auth::hex(&h[..8]))
}

/// The incidents of one signal while a room's history is replayed.
struct Track<'a> {
    room: &'a Room,
    signal: &'a str,
    severity: Severity,
    watch_ms: i64,
    /// The latest incident of this room and signal, as it stands so far.
    current: Option<Incident>,
    log: Vec<(i64, String, String, Option<String>)>,
    touched: bool,
    /// Earlier incidents of this signal finished during the replay.
    done: Vec<IncidentChange>,
}

impl Track<'_> {
    fn cause(&self, cause: Option<&Cause>, status: &str) -> (String, String, Option<String>) {
        // Heartbeat sign-in signals take the rule engine's root cause; others say what they saw.
        let own = fleet::signal(self.signal).is_some_and(|d| d.kind == "heartbeat");
        match cause.filter(|_| own) {
            Some(c) => (c.rule.clone(), c.summary.clone(), Some(c.finding.clone())),
            None => (String::new(), signal_summary(self.signal, status), None),
        }
    }

    /// Bad from `since`, still bad at `until`: open (or reopen) once the watch has passed.
    fn bad(&mut self, since: i64, until: i64, status: &str, cause: Option<&Cause>) {
        let opens_at = since + self.watch_ms;
        if until < opens_at {
            return;
        }
        let room = Some(self.room.id.clone());
        let (rule, summary, finding) = self.cause(cause, status);
        match &mut self.current {
            Some(i) if i.state == "open" => {
                if !rule.is_empty() && i.rule != rule {
                    // A first root cause for an incident opened without one is found, not changed.
                    let what = if i.rule.is_empty() { "cause-found" } else { "cause" };
                    self.log.push((until, what.into(), format!("{} → {summary}", i.summary), room));
                    i.rule = rule;
                    i.summary = summary;
                    i.finding = finding;
                    i.updated_ms = until;
                    self.touched = true;
                }
            }
            Some(i) if i.resolved_ms.is_some_and(|r| since - r <= REOPEN_MS) => {
                i.state = "open".into();
                i.resolved_ms = None;
                i.reopened += 1;
                i.updated_ms = opens_at;
                self.log.push((opens_at, "reopened".into(), status.to_owned(), room.clone()));
                if !rule.is_empty() && i.rule != rule {
                    self.log.push((opens_at, "cause".into(), summary.clone(), room));
                    i.rule = rule;
                    i.summary = summary;
                    i.finding = finding;
                }
                self.touched = true;
            }
            _ => {
                // A new incident starts its own timeline; an earlier one touched in this replay
                // is kept as it ended.
                if let (true, Some(prev)) = (self.touched, self.current.take()) {
                    self.done.push(IncidentChange::new(prev, std::mem::take(&mut self.log)));
                }
                self.log.clear();
                self.current = Some(Incident {
                    id: incident_id(&[&self.room.id, self.signal, &opens_at.to_string()]),
                    scope: "room".into(),
                    room_id: room.clone(),
                    signal: self.signal.to_owned(),
                    severity: severity_word(self.severity).into(),
                    state: "open".into(),
                    started_ms: since,
                    opened_ms: opens_at,
                    resolved_ms: None,
                    updated_ms: opens_at,
                    reopened: 0,
                    parent_id: None,
                    rule,
                    summary,
                    finding,
                    ack_ms: None,
                    ack_by: None,
                    ack_note: None,
                });
                self.log.push((opens_at, "opened".into(), format!("{}: {status}", self.signal), room));
                self.touched = true;
            }
        }
    }

    /// Good again at `at`: an open incident resolves.
    fn good(&mut self, at: i64, status: &str) {
        let room = Some(self.room.id.clone());
        if let Some(i) = self.current.as_mut().filter(|i| i.state == "open") {
            let end = at.max(i.opened_ms);
            i.state = "resolved".into();
            i.resolved_ms = Some(end);
            i.updated_ms = end;
            self.log.push((end, "resolved".into(), status.to_owned(), room));
            self.touched = true;
        }
    }

    fn changes(self) -> Vec<IncidentChange> {
        let mut out = self.done;
        if let (true, Some(incident)) = (self.touched, self.current) {
            out.push(IncidentChange::new(incident, self.log));
        }
        out
    }
}

/// What this room's incidents should now be, replaying the signal transitions not judged yet
/// (`transitions`: oldest first, with each signal's last judged transition before them), so a
/// backfill opens and resolves the incidents its history holds. `incidents` are the room's
/// incidents (any state). Offline is judged at the server's `now_ms`.
pub fn evaluate_room(
    room: &Room,
    rows: &[SignalRow],
    transitions: &[Transition],
    incidents: &[Incident],
    cause: Option<&Cause>,
    now_ms: i64,
    settle_ms: i64,
) -> Vec<IncidentChange> {
    let mut changes = Vec::new();
    if room.retired || room.merged_into.is_some() {
        return changes;
    }
    // The room's own clock: its newest record, for signals judged on records.
    let room_now = room.last_event_ms.unwrap_or(room.last_heard_ms);
    let mut latest: BTreeMap<&str, &Incident> = BTreeMap::new();
    for i in incidents.iter().filter(|i| i.scope == "room") {
        let slot = latest.entry(i.signal.as_str()).or_insert(i);
        if (i.opened_ms, &i.id) > (slot.opened_ms, &slot.id) {
            *slot = i;
        }
    }
    for s in signals_now(room, rows, now_ms) {
        let mut t = Track {
            room,
            signal: &s.signal,
            severity: s.severity,
            watch_ms: s.watch_ms,
            current: latest.get(s.signal.as_str()).map(|i| (*i).clone()),
            log: Vec::new(),
            touched: false,
            done: Vec::new(),
        };
        // Replay: where the signal stood before the new transitions, then each of them. For
        // offline these are the silences the store found between heartbeats (a backfill's
        // outages); offline now is judged on the server's clock after them.
        let mine: Vec<&Transition> = transitions.iter().filter(|x| x.signal == s.signal).collect();
        let first_new = mine.iter().position(|x| x.seq > room.incidents_seq).unwrap_or(mine.len());
        let mut bad_since = match mine[..first_new].last() {
            Some(base) if base.to_state == "unhealthy" => Some(base.at_ms),
            Some(_) => None,
            // Nothing judged before: the open incident (if any) says since when.
            None => t.current.as_ref().filter(|i| i.state == "open").map(|i| i.started_ms),
        };
        for x in &mine[first_new..] {
            if x.to_state == "unhealthy" {
                bad_since.get_or_insert(x.at_ms);
            } else {
                if let Some(since) = bad_since.take() {
                    t.bad(since, x.at_ms, &x.status, cause);
                }
                t.good(x.at_ms, &x.status);
            }
        }
        if !s.bad {
            t.good(s.since_ms, &s.status);
        } else if !s.by_server_clock {
            let since = bad_since.unwrap_or(s.since_ms);
            t.bad(since, room_now.max(since), &s.status, cause);
        } else if now_ms - room.last_heard_ms >= settle_ms {
            // Offline and not receiving (a room still pushing may have a backlog on its way).
            t.bad(s.since_ms, now_ms, &s.status, cause);
        }
        changes.extend(t.changes());
    }
    changes
}

fn signal_summary(signal: &str, status: &str) -> String {
    let name = fleet::signal(signal).map_or(signal, |d| d.name.as_str());
    if signal == "offline" {
        "The room sends no heartbeat: it is switched off, has lost its network, or the Teams Rooms app is not running"
            .into()
    } else {
        format!("{name}: {status}")
    }
}

/// How many rooms make a fleet incident in a fleet of `rooms`.
pub fn fleet_threshold(rooms: usize) -> usize {
    FLEET_MIN_ROOMS.max(rooms.div_ceil(10))
}

/// Fleet correlation for one rule: `open` are the open room incidents with that rule, `fleet`
/// the open fleet incident for it, if any. Returns the changes: a new fleet incident when enough
/// rooms turned bad within the window, rooms joining an open one, or its resolution.
pub fn correlate(
    rule: &str,
    open: &[Incident],
    fleet_open: Option<&Incident>,
    children: &[Incident],
    fleet_rooms: usize,
    now_ms: i64,
) -> Vec<IncidentChange> {
    let mut changes = Vec::new();
    let join = |parent: &str,
                members: &[&Incident],
                changes: &mut Vec<IncidentChange>,
                log: &mut Vec<(i64, String, String, Option<String>)>| {
        let mut seen = std::collections::BTreeSet::new();
        for m in members {
            if m.parent_id.as_deref() == Some(parent) {
                continue;
            }
            let mut i = (*m).clone();
            i.parent_id = Some(parent.to_owned());
            changes.push(IncidentChange { incident: i, log: Vec::new(), link_only: true });
            if let Some(r) = &m.room_id {
                if seen.insert(r.clone()) {
                    log.push((
                        m.opened_ms,
                        "joined".into(),
                        format!("since {}", fleet::rfc3339(m.started_ms)),
                        Some(r.clone()),
                    ));
                }
            }
        }
    };
    if let Some(f) = fleet_open {
        let members: Vec<&Incident> = open.iter().collect();
        let mut log = Vec::new();
        join(&f.id, &members, &mut changes, &mut log);
        let still_open =
            children.iter().chain(open).any(|c| c.state == "open" && c.parent_id.as_deref().is_none_or(|p| p == f.id));
        let mut i = f.clone();
        if !still_open {
            let end = children.iter().filter_map(|c| c.resolved_ms).max().unwrap_or(now_ms);
            i.state = "resolved".into();
            i.resolved_ms = Some(end);
            i.updated_ms = end;
            log.push((end, "resolved".into(), "every room recovered".into(), None));
        }
        if !log.is_empty() {
            i.summary = fleet_summary(&f.summary, children.iter().chain(open));
            changes.push(IncidentChange::new(i, log));
        }
        return changes;
    }
    // A new wave: the rooms whose incidents started within the window of the latest one.
    let Some(latest) = open.iter().map(|i| i.started_ms).max() else { return changes };
    let members: Vec<&Incident> = open.iter().filter(|i| latest - i.started_ms <= FLEET_WINDOW_MS).collect();
    let rooms: std::collections::BTreeSet<&str> = members.iter().filter_map(|i| i.room_id.as_deref()).collect();
    if rooms.len() < fleet_threshold(fleet_rooms) {
        return changes;
    }
    let started = members.iter().map(|i| i.started_ms).min().unwrap_or(latest);
    // It opens when the threshold's room opened.
    let mut opened: Vec<i64> = members.iter().map(|i| i.opened_ms).collect();
    opened.sort_unstable();
    let opened_ms = opened[fleet_threshold(fleet_rooms).min(opened.len()) - 1];
    let severity = members
        .iter()
        .map(|i| i.severity.as_str())
        .min_by_key(|s| ["critical", "important", "warning", "recommended"].iter().position(|x| x == s).unwrap_or(4))
        .unwrap_or("critical");
    let base = members.first().map(|i| i.summary.clone()).unwrap_or_default();
    let id = incident_id(&["fleet", rule, &started.to_string()]);
    let mut log = vec![(opened_ms, "opened".into(), format!("{} rooms with the same root cause", rooms.len()), None)];
    join(&id, &members, &mut changes, &mut log);
    let f = Incident {
        id,
        scope: "fleet".into(),
        room_id: None,
        signal: rule.to_owned(),
        severity: severity.to_owned(),
        state: "open".into(),
        started_ms: started,
        opened_ms,
        resolved_ms: None,
        updated_ms: opened_ms,
        reopened: 0,
        parent_id: None,
        rule: rule.to_owned(),
        summary: fleet_summary(&base, members.iter().copied()),
        finding: members.first().and_then(|i| i.finding.clone()),
        ack_ms: None,
        ack_by: None,
        ack_note: None,
    };
    changes.push(IncidentChange::new(f, log));
    changes
}

/// "<cause> on N rooms since <time>".
fn fleet_summary<'a>(base: &str, members: impl Iterator<Item = &'a Incident>) -> String {
    let cause = base.split(" on ").next().unwrap_or(base);
    let mut rooms = std::collections::BTreeSet::new();
    let mut since = i64::MAX;
    for m in members {
        if let Some(r) = &m.room_id {
            rooms.insert(r.clone());
        }
        since = since.min(m.started_ms);
    }
    format!("{cause} on {} rooms since {}", rooms.len(), fleet::rfc3339(since))
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIN: i64 = 60_000;

    fn room() -> Room {
        Room { computer: "MTR-1".into(), last_heartbeat_ms: Some(0), last_event_ms: Some(0), ..Room::blank("rm1") }
    }

    fn row(state: &str, since: i64) -> SignalRow {
        SignalRow {
            signal: "exchange".into(),
            state: state.into(),
            status: state.into(),
            since_ms: since,
            updated_ms: since,
        }
    }

    fn transition(signal: &str, seq: i64, from: &str, to: &str, at_ms: i64) -> Transition {
        Transition {
            seq,
            signal: signal.into(),
            from_state: from.into(),
            to_state: to.into(),
            status: to.into(),
            at_ms,
        }
    }

    /// Apply changes to a list of incidents, as the store would.
    fn apply(all: &mut Vec<Incident>, changes: Vec<IncidentChange>) {
        for c in changes {
            match all.iter_mut().find(|i| i.id == c.incident.id) {
                Some(i) => *i = c.incident,
                None => all.push(c.incident),
            }
        }
    }

    fn at(room: &mut Room, ms: i64) {
        room.last_event_ms = Some(ms);
        room.last_heartbeat_ms = Some(ms);
        room.last_heard_ms = ms;
    }

    #[test]
    fn opens_after_the_watch_resolves_reopens_and_renews() {
        let mfa = Cause {
            rule: "rooms.resource-account.mfa-required".into(),
            summary: "MFA (AADSTS50076)".into(),
            finding: "{}".into(),
        };
        let mut r = room();
        let mut all = Vec::new();
        at(&mut r, 29 * MIN);
        assert!(
            evaluate_room(&r, &[row("unhealthy", 0)], &[], &all, Some(&mfa), 29 * MIN, SETTLE_MS).is_empty(),
            "not before 30 minutes"
        );
        at(&mut r, 30 * MIN);
        let c = evaluate_room(&r, &[row("unhealthy", 0)], &[], &all, Some(&mfa), 30 * MIN, SETTLE_MS);
        assert_eq!(c.len(), 1);
        assert_eq!(
            (c[0].incident.opened_ms, c[0].incident.started_ms, c[0].incident.rule.as_str()),
            (30 * MIN, 0, mfa.rule.as_str())
        );
        apply(&mut all, c);
        let id = all[0].id.clone();
        // The cause changes while open: recorded.
        let pw = Cause {
            rule: "rooms.resource-account.password-expired".into(),
            summary: "expired (AADSTS50055)".into(),
            finding: "{}".into(),
        };
        at(&mut r, 60 * MIN);
        let c = evaluate_room(&r, &[row("unhealthy", 0)], &[], &all, Some(&pw), 60 * MIN, SETTLE_MS);
        assert_eq!(c[0].log[0].1, "cause");
        assert!(c[0].log[0].2.contains("MFA") && c[0].log[0].2.contains("AADSTS50055"));
        apply(&mut all, c);
        // Healthy again: resolved at the time it turned.
        at(&mut r, 90 * MIN);
        let c = evaluate_room(&r, &[row("healthy", 80 * MIN)], &[], &all, None, 90 * MIN, SETTLE_MS);
        assert_eq!(c[0].incident.resolved_ms, Some(80 * MIN));
        apply(&mut all, c);
        // A relapse within 7 days reopens the same incident.
        let day = 24 * 60 * MIN;
        at(&mut r, 2 * day);
        let c = evaluate_room(&r, &[row("unhealthy", 2 * day - 40 * MIN)], &[], &all, Some(&pw), 2 * day, SETTLE_MS);
        assert_eq!(
            (c[0].incident.id.as_str(), c[0].incident.reopened, c[0].log[0].1.as_str()),
            (id.as_str(), 1, "reopened")
        );
        apply(&mut all, c);
        let c = evaluate_room(&r, &[row("healthy", 2 * day + MIN)], &[], &all, None, 2 * day + MIN, SETTLE_MS);
        apply(&mut all, c);
        // After 7 healthy days, a new one.
        at(&mut r, 10 * day);
        let c = evaluate_room(&r, &[row("unhealthy", 10 * day - 30 * MIN)], &[], &all, Some(&pw), 10 * day, SETTLE_MS);
        assert_ne!(c[0].incident.id, id);
        assert_eq!(c[0].log[0].1, "opened");
    }

    #[test]
    fn a_backfill_replays_its_history() {
        let tr = |seq, from, to, at| transition("exchange", seq, from, to, at);
        let mut r = room();
        at(&mut r, 300 * MIN);
        // Bad for 90 minutes, healthy, a 10-minute blip, healthy: one incident, opened and resolved.
        let history = [
            tr(1, "unknown", "healthy", 0),
            tr(2, "healthy", "unhealthy", 10 * MIN),
            tr(3, "unhealthy", "healthy", 100 * MIN),
            tr(4, "healthy", "unhealthy", 150 * MIN),
            tr(5, "unhealthy", "healthy", 160 * MIN),
        ];
        let c = evaluate_room(&r, &[row("healthy", 160 * MIN)], &history, &[], None, 300 * MIN, SETTLE_MS);
        assert_eq!(c.len(), 1, "{c:?}");
        let i = &c[0].incident;
        assert_eq!(
            (i.started_ms, i.opened_ms, i.resolved_ms, i.state.as_str()),
            (10 * MIN, 40 * MIN, Some(100 * MIN), "resolved")
        );
        assert_eq!(c[0].log.iter().map(|l| l.1.as_str()).collect::<Vec<_>>(), ["opened", "resolved"]);
        // Judged already: nothing new happens on the next pass.
        r.incidents_seq = 5;
        let mut all = Vec::new();
        apply(&mut all, c);
        assert!(
            evaluate_room(&r, &[row("healthy", 160 * MIN)], &history[4..], &all, None, 301 * MIN, SETTLE_MS).is_empty()
        );
        // Still bad across two passes: the second pass knows since when from the judged base.
        r.incidents_seq = 6;
        let later = [tr(6, "healthy", "unhealthy", 290 * MIN)];
        assert!(evaluate_room(&r, &[row("unhealthy", 290 * MIN)], &later, &all, None, 300 * MIN, SETTLE_MS).is_empty());
        at(&mut r, 330 * MIN);
        let c = evaluate_room(&r, &[row("unhealthy", 290 * MIN)], &later, &all, None, 330 * MIN, SETTLE_MS);
        assert_eq!((c[0].incident.state.as_str(), c[0].incident.reopened), ("open", 1), "within 7 days: reopened");
    }

    #[test]
    fn offline_is_judged_on_the_server_clock_and_takes_no_rule() {
        let mut r = room();
        at(&mut r, 0);
        let mfa = Cause { rule: "x".into(), summary: "y".into(), finding: "{}".into() };
        assert!(evaluate_room(&r, &[], &[], &[], Some(&mfa), 19 * MIN, SETTLE_MS).is_empty());
        r.last_heard_ms = 24 * MIN;
        assert!(
            evaluate_room(&r, &[], &[], &[], Some(&mfa), 25 * MIN, SETTLE_MS).is_empty(),
            "still pushing: a backlog may follow"
        );
        r.last_heard_ms = 0;
        let c = evaluate_room(&r, &[], &[], &[], Some(&mfa), 25 * MIN, SETTLE_MS);
        assert_eq!(
            (c[0].incident.signal.as_str(), c[0].incident.opened_ms, c[0].incident.rule.as_str()),
            ("offline", 20 * MIN, "")
        );
        assert!(c[0].incident.summary.contains("no heartbeat"));
    }

    #[test]
    fn a_silence_in_a_backfill_is_an_offline_incident_of_its_history() {
        let off = |seq, from, to, at| transition("offline", seq, from, to, at);
        let mut r = room();
        at(&mut r, 600 * MIN);
        // The store found three silent hours in the week pushed at once; the room is back now.
        let history = [off(1, "unknown", "unhealthy", 200 * MIN), off(2, "unhealthy", "healthy", 380 * MIN)];
        let c = evaluate_room(&r, &[], &history, &[], None, 601 * MIN, SETTLE_MS);
        assert_eq!(c.len(), 1, "{c:?}");
        let i = &c[0].incident;
        assert_eq!(
            (i.signal.as_str(), i.started_ms, i.opened_ms, i.resolved_ms, i.state.as_str()),
            ("offline", 200 * MIN, 200 * MIN, Some(380 * MIN), "resolved")
        );
        // A room that the live sweep already saw go silent: its open incident ends when the
        // heartbeats resume, and no second one opens.
        let mut live = i.clone();
        live.state = "open".into();
        live.resolved_ms = None;
        let c = evaluate_room(&r, &[], &history, &[live.clone()], None, 601 * MIN, SETTLE_MS);
        assert_eq!(c.len(), 1);
        assert_eq!((c[0].incident.id.as_str(), c[0].incident.resolved_ms), (live.id.as_str(), Some(380 * MIN)));
    }

    #[test]
    fn a_wave_of_rooms_with_one_cause_is_one_fleet_incident() {
        let mk = |room: &str, started: i64| Incident {
            id: format!("in-{room}"),
            scope: "room".into(),
            room_id: Some(room.into()),
            signal: "exchange".into(),
            severity: "critical".into(),
            state: "open".into(),
            started_ms: started,
            opened_ms: started + 30 * MIN,
            resolved_ms: None,
            updated_ms: started,
            reopened: 0,
            parent_id: None,
            rule: "r".into(),
            summary: "MFA (AADSTS50076)".into(),
            finding: None,
            ack_ms: None,
            ack_by: None,
            ack_note: None,
        };
        assert_eq!(fleet_threshold(40), 4);
        assert_eq!(fleet_threshold(10), 3);
        let two = [mk("a", 0), mk("b", 10 * MIN)];
        assert!(correlate("r", &two, None, &[], 10, 0).is_empty(), "two rooms are not a wave");
        // One far away in time does not count.
        let far = [mk("a", 0), mk("b", 10 * MIN), mk("z", 10 * 60 * MIN)];
        assert!(correlate("r", &far, None, &[], 10, 0).is_empty());
        let three = [mk("a", 0), mk("b", 10 * MIN), mk("c", 40 * MIN)];
        let c = correlate("r", &three, None, &[], 10, 0);
        let fleet = c.iter().find(|x| x.incident.scope == "fleet").unwrap();
        assert_eq!(fleet.incident.opened_ms, 70 * MIN, "opens when the third room's incident opened");
        assert!(fleet.incident.summary.contains("on 3 rooms"), "{}", fleet.incident.summary);
        assert_eq!(c.iter().filter(|x| x.incident.parent_id.as_deref() == Some(fleet.incident.id.as_str())).count(), 3);
        // A fourth room joins; when all recover, it resolves.
        let mut children: Vec<Incident> =
            c.iter().filter(|x| x.incident.scope == "room").map(|x| x.incident.clone()).collect();
        let f = fleet.incident.clone();
        let late = [mk("d", 5 * 60 * MIN)];
        let c = correlate("r", &late, Some(&f), &children, 10, 0);
        assert!(c.iter().any(|x| x.log.iter().any(|l| l.1 == "joined" && l.3.as_deref() == Some("d"))));
        for ch in &mut children {
            ch.state = "resolved".into();
            ch.resolved_ms = Some(9 * 60 * MIN);
        }
        let c = correlate("r", &[], Some(&f), &children, 10, 0);
        let done = c.iter().find(|x| x.incident.scope == "fleet").unwrap();
        assert_eq!((done.incident.state.as_str(), done.incident.resolved_ms), ("resolved", Some(9 * 60 * MIN)));
    }

    #[test]
    fn severities_map_in_one_place() {
        assert_eq!(portal_severity("error"), Severity::Important);
        assert_eq!(portal_severity("info"), Severity::Recommended);
        assert_eq!(
            Cause::of_report(r#"{"findings":[{"rule":"r","title":"T","codes":["AADSTS50076"]}]}"#).unwrap().summary,
            "T (AADSTS50076)"
        );
    }
}
