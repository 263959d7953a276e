//! The fleet store: what the server keeps about every Teams Rooms device.
//!
//! One [`Store`] trait, two backends behind it: SQLite (the default, one file in the data folder,
//! WAL mode) and PostgreSQL (for several server instances behind a load balancer). Migrations are
//! embedded and applied by [`open`]. Times are milliseconds since the Unix epoch, UTC.
//!
//! The store holds facts; judging them (which signal is bad, which room is offline) belongs to
//! the server. The one piece of judgement here is the timeline of a signal: an observation newer
//! than the signal's last one that changes its state records a transition, in the same
//! transaction as the events that carried it, so an acknowledged batch is complete or absent.

mod hot;
mod pack;
mod sql;
pub mod testing;

use std::fmt::Debug;
use std::path::Path;
use std::sync::Arc;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

pub use sql::SqlStore;

pub type Result<T> = std::result::Result<T, StoreError>;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database error: {0}")]
    Db(sqlx::Error),
    #[error("cannot apply the database migrations: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("{0}")]
    Invalid(String),
    #[error("{0} not found")]
    NotFound(String),
}

impl From<sqlx::Error> for StoreError {
    fn from(e: sqlx::Error) -> StoreError {
        // PostgreSQL text cannot hold U+0000 (SQLite's can): that is a refused value, not a
        // failed database.
        if let sqlx::Error::Database(d) = &e {
            if d.code().as_deref() == Some("22021") {
                return StoreError::Invalid(format!("a value cannot be stored: {}", d.message()));
            }
        }
        StoreError::Db(e)
    }
}

/// Which database a store runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    /// How many [`Store::ingest_many`] groups a server should have in flight at once.
    ///
    /// SQLite has one writer, so one. On PostgreSQL one group at a time kept a single backend
    /// process busy and capped a server at about 860 ten-record batches a second on two cores;
    /// four overlap one group's commit with the next groups' statements. Groups may hold the
    /// same room: each locks its rooms in id order, so they wait for each other and never
    /// deadlock. The pool has twice as many connections, leaving the rest for reads.
    pub fn write_groups(self) -> usize {
        match self {
            Backend::Sqlite => 1,
            Backend::Postgres => 4,
        }
    }
}

/// An API token. Only a hash of its secret is kept.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Token {
    pub id: String,
    pub name: String,
    /// `admin`, `viewer` or `device`.
    pub role: String,
    /// A device token bound to one room.
    pub room_id: Option<String>,
    #[serde(skip)]
    pub hash: Vec<u8>,
    pub created_ms: i64,
    pub revoked_ms: Option<i64>,
}

/// A room's "time zone" that is only the UTC offset seen in its records' times
/// (`offset:+02:00`): used when the room names no zone, replaced by any zone it names.
pub fn is_offset_zone(tz: &str) -> bool {
    tz.starts_with("offset:")
}

/// A dashboard session: a browser signed in with a token. Only a hash of its secret is kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    pub id: String,
    pub hash: Vec<u8>,
    /// The token the browser signed in with; revoking it ends the session.
    pub token_id: String,
    /// The value the session's forms carry.
    pub csrf: String,
    pub created_ms: i64,
    pub expires_ms: i64,
}

/// Who did what, when.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AuditEntry {
    pub seq: i64,
    pub at_ms: i64,
    /// The token id that acted, or `local` for the command line on the server's machine.
    pub actor: String,
    pub action: String,
    pub target: String,
    pub detail: String,
}

/// A room as stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Room {
    pub id: String,
    /// The admin's name for the room; empty until set (then the display name or computer is shown).
    pub name: String,
    pub computer: String,
    pub alias: String,
    pub display_name: String,
    pub site: String,
    pub tags: Vec<String>,
    pub model: String,
    pub peripherals: Vec<String>,
    pub app_version: String,
    pub os_version: String,
    pub ipv4: String,
    pub timezone: String,
    pub first_heard_ms: i64,
    /// When the server last received anything for the room (server clock).
    pub last_heard_ms: i64,
    /// The newest heartbeat's own time.
    pub last_heartbeat_ms: Option<i64>,
    /// The newest record's own time.
    pub last_event_ms: Option<i64>,
    pub retired: bool,
    pub merged_into: Option<String>,
    /// The rule engine's verdict on the room's recent records (a `ScanReport` as JSON).
    pub diagnosis: Option<String>,
    pub diagnosis_ms: Option<i64>,
    /// New records arrived since the last diagnosis.
    pub dirty: bool,
    /// The last signal transition judged for incidents.
    pub incidents_seq: i64,
    /// Bumped by every guarded write of the room's incidents (see [`RoomGuard`]).
    pub incidents_rev: i64,
}

impl Room {
    /// What to call the room: the admin's name, else the display name, the computer, the id.
    pub fn label(&self) -> &str {
        [&self.name, &self.display_name, &self.computer, &self.id]
            .into_iter()
            .find(|s| !s.is_empty())
            .map_or("", |s| s.as_str())
    }

    /// A room known by its id alone, nothing heard yet (tests and callers fill what they need).
    pub fn blank(id: &str) -> Room {
        Room {
            id: id.to_owned(),
            name: String::new(),
            computer: String::new(),
            alias: String::new(),
            display_name: String::new(),
            site: String::new(),
            tags: Vec::new(),
            model: String::new(),
            peripherals: Vec::new(),
            app_version: String::new(),
            os_version: String::new(),
            ipv4: String::new(),
            timezone: String::new(),
            first_heard_ms: 0,
            last_heard_ms: 0,
            last_heartbeat_ms: None,
            last_event_ms: None,
            retired: false,
            merged_into: None,
            diagnosis: None,
            diagnosis_ms: None,
            dirty: false,
            incidents_seq: 0,
            incidents_rev: 0,
        }
    }
}

/// Attributes a heartbeat reports about its room; empty strings leave the stored value alone.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RoomAttrs {
    pub computer: String,
    pub alias: String,
    pub display_name: String,
    pub model: String,
    pub peripherals: Vec<String>,
    pub app_version: String,
    pub os_version: String,
    pub ipv4: String,
    /// A site derived from the address; applied only to a room whose site is empty.
    pub site: String,
}

/// What an admin may change on a room.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct RoomPatch {
    pub name: Option<String>,
    pub site: Option<String>,
    pub tags: Option<Vec<String>>,
    pub retired: Option<bool>,
    /// The room's time zone (IANA or Windows id), when `push` does not send it.
    pub timezone: Option<String>,
}

/// The current state of one signal of one room.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SignalRow {
    pub signal: String,
    pub state: String,
    /// The status text the room reported (`80131500 : AADSTS50076`).
    pub status: String,
    pub since_ms: i64,
    pub updated_ms: i64,
}

/// A change of a signal's state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Transition {
    pub seq: i64,
    pub signal: String,
    pub from_state: String,
    pub to_state: String,
    pub status: String,
    pub at_ms: i64,
}

/// One record to keep. `key` identifies it across re-sends (see the server's ingest).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewEvent {
    pub key: Vec<u8>,
    pub time_ms: Option<i64>,
    pub kind: String,
    pub source: String,
    pub event_id: Option<i64>,
    pub record_id: Option<i64>,
    /// The evidence record as JSON, packed for storage (by the caller, off the writer's path).
    pub body: StoredBody,
}

/// An event's evidence JSON packed for storage: deflated against a dictionary of typical records
/// (see `pack.rs`), about 50 bytes for a heartbeat of about two kilobytes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StoredBody(Vec<u8>);

impl StoredBody {
    pub fn pack(json: &str) -> StoredBody {
        StoredBody(pack::pack(json))
    }

    /// The JSON back; `what` names the record in the error.
    pub fn unpack(&self, what: &str) -> Result<String> {
        pack::unpack(&self.0, what)
    }

    pub(crate) fn bytes(&self) -> &[u8] {
        &self.0
    }
}

/// A signal's state as one record saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Observation {
    /// Index into the batch's events: the observation counts only if that event is new.
    pub event: usize,
    pub signal: String,
    pub state: String,
    pub status: String,
    pub at_ms: i64,
}

/// Everything one ingest request adds to one room, written in one transaction.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Batch {
    pub room_id: String,
    pub received_ms: i64,
    pub events: Vec<NewEvent>,
    pub observations: Vec<Observation>,
    /// The newest heartbeat's attributes and its time (applied when newer than what is stored).
    pub attrs: Option<(i64, RoomAttrs)>,
    pub timezone: Option<String>,
    /// Find offline periods between the room's heartbeats, when set.
    pub silence: Option<Silence>,
}

/// How offline periods show in a room's heartbeats: a new heartbeat more than `after_ms` after
/// the one before it (the room's newest stored, or one earlier in the batch) means the room went
/// offline `after_ms` after that one and came back with it. The store records both turns on the
/// signal `signal`, so a week pushed at once keeps its outages in its history.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Silence {
    pub signal: String,
    pub after_ms: i64,
}

impl Silence {
    /// The offline turns the batch's new heartbeats show, after `last` (the newest heartbeat
    /// before them, moved on to the newest of them). Heartbeats older than `last` say nothing:
    /// a backfill sent out of order keeps only the silences after the newest stored heartbeat.
    pub fn observations(&self, batch: &Batch, new: &[bool], last: &mut Option<i64>) -> Vec<Observation> {
        let mut beats: Vec<(i64, usize)> = batch
            .events
            .iter()
            .enumerate()
            .filter(|(i, e)| new.get(*i).copied().unwrap_or(false) && e.kind == "heartbeat")
            .filter_map(|(i, e)| Some((e.time_ms?, i)))
            .collect();
        beats.sort_unstable();
        let mut out = Vec::new();
        for (t, i) in beats {
            match *last {
                Some(p) if t <= p => continue,
                Some(p) if t - p > self.after_ms => {
                    out.push(Observation {
                        event: i,
                        signal: self.signal.clone(),
                        state: "unhealthy".into(),
                        status: format!("no heartbeat for {} minutes", (t - p) / 60_000),
                        at_ms: p + self.after_ms,
                    });
                    out.push(Observation {
                        event: i,
                        signal: self.signal.clone(),
                        state: "healthy".into(),
                        status: "heartbeats arriving".into(),
                        at_ms: t,
                    });
                }
                _ => {}
            }
            *last = Some(t);
        }
        out
    }
}

/// What an ingest wrote.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Ingested {
    pub accepted: u64,
    pub duplicates: u64,
    pub transitions: u64,
}

/// An uploaded bundle and its scan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ReportRow {
    pub id: String,
    pub room_id: Option<String>,
    pub name: String,
    /// `queued`, `running`, `done` or `failed`.
    pub status: String,
    pub size: i64,
    pub created_ms: i64,
    pub finished_ms: Option<i64>,
    /// Where the upload waits on disk until it is scanned and while it is kept.
    #[serde(skip)]
    pub file: Option<String>,
    /// The `ScanReport` as JSON.
    #[serde(skip)]
    pub report: Option<String>,
    pub error: Option<String>,
    /// The same report redacted at scan time (names learned while reading), as JSON.
    #[serde(skip)]
    pub report_redacted: Option<String>,
}

/// A finished scan's report as JSON, whole and redacted for sharing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReportJson<'a> {
    pub whole: &'a str,
    pub redacted: &'a str,
}

/// An incident: one room's signal that stayed bad for its watch period (scope `room`), or one
/// root cause across several rooms (scope `fleet`; `signal` holds the rule id).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Incident {
    pub id: String,
    pub scope: String,
    pub room_id: Option<String>,
    pub signal: String,
    /// critical, important, warning or recommended.
    pub severity: String,
    /// `open` or `resolved` (a resolved incident older than the reopen period reads as closed).
    pub state: String,
    /// When the signal turned bad.
    pub started_ms: i64,
    /// When the watch period had passed and the incident opened.
    pub opened_ms: i64,
    pub resolved_ms: Option<i64>,
    pub updated_ms: i64,
    pub reopened: i64,
    /// The fleet incident a room incident belongs to.
    pub parent_id: Option<String>,
    /// The rule of the root cause, or empty.
    pub rule: String,
    pub summary: String,
    /// The root cause finding as JSON.
    #[serde(skip)]
    pub finding: Option<String>,
    pub ack_ms: Option<i64>,
    pub ack_by: Option<String>,
    pub ack_note: Option<String>,
}

/// One entry of an incident's timeline.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct IncidentLog {
    pub seq: i64,
    pub at_ms: i64,
    /// opened, reopened, cause, joined, resolved, acknowledged.
    pub what: String,
    pub detail: String,
    pub room_id: Option<String>,
}

/// When a room incident was bad, for the history: its times without its finding. An incident
/// that reopened was bad only between each (re)opening and the resolution after it, so it also
/// carries its `reopened` and `resolved` entries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IncidentSpan {
    pub room_id: String,
    pub signal: String,
    pub severity: String,
    pub started_ms: i64,
    pub resolved_ms: Option<i64>,
    /// `(at_ms, what)`, `reopened` or `resolved`, in timeline order; empty when it never
    /// reopened.
    pub log: Vec<(i64, String)>,
}

/// An incident as it should now be stored, and what to add to its timeline.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IncidentChange {
    pub incident: Incident,
    /// (time, what, detail, room).
    pub log: Vec<(i64, String, String, Option<String>)>,
    /// Write only the incident's `parent_id`: a room's incident joining a fleet incident. The
    /// rest of the row belongs to the room's own evaluation, which may have moved on since.
    pub link_only: bool,
}

impl IncidentChange {
    pub fn new(incident: Incident, log: Vec<(i64, String, String, Option<String>)>) -> Self {
        IncidentChange { incident, log, link_only: false }
    }
}

/// A write of one room's incidents made from what was read at `rev` (the room's
/// `incidents_rev`): it happens only when no other write of them came in between, and moves
/// the room's `incidents_seq` to `judged_seq` when given.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RoomGuard<'a> {
    pub room_id: &'a str,
    pub rev: i64,
    pub judged_seq: Option<i64>,
}

/// Which incidents to list.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IncidentFilter {
    pub scope: Option<String>,
    pub state: Option<String>,
    pub room_id: Option<String>,
    pub parent_id: Option<String>,
    pub rule: Option<String>,
}

/// Where alerts go. The URL (a Teams Workflows URL carries its credential in `sig=`) and the
/// signing secret are sealed by the server; only a hint of the URL is kept in clear.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Webhook {
    pub id: String,
    /// `teams` (a Workflows "post to a channel" URL) or `standard` (signed JSON).
    pub kind: String,
    pub name: String,
    #[serde(skip)]
    pub url_sealed: Vec<u8>,
    #[serde(skip)]
    pub secret_sealed: Option<Vec<u8>>,
    pub url_hint: String,
    /// Only incidents of rooms at this site (empty: every site).
    pub site: String,
    /// Only incidents at least this severe.
    pub min_severity: String,
    pub created_ms: i64,
}

/// One alert to one webhook. Its id is the `webhook-id` every attempt carries.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Alert {
    pub id: String,
    pub webhook_id: String,
    pub incident_id: String,
    /// opened, reopened, cause, resolved, test.
    pub event: String,
    #[serde(skip)]
    pub body: String,
    pub created_ms: i64,
    /// pending, delivered, failed.
    pub state: String,
    pub attempts: i64,
    pub next_attempt_ms: i64,
    #[serde(skip)]
    pub lease_owner: Option<String>,
    #[serde(skip)]
    pub lease_until_ms: Option<i64>,
    pub last_status: Option<i64>,
    pub last_error: Option<String>,
    pub delivered_ms: Option<i64>,
}

/// A room, or one of its signals, kept quiet until a time.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Suppression {
    pub id: String,
    pub room_id: String,
    /// The signal, or empty for the whole room.
    pub signal: String,
    pub reason: String,
    pub from_ms: i64,
    pub until_ms: i64,
    pub created_by: String,
    pub lifted_ms: Option<i64>,
}

impl Suppression {
    /// Does it cover `signal` of its room at `at_ms`?
    pub fn covers(&self, signal: &str, at_ms: i64) -> bool {
        (self.signal.is_empty() || self.signal == signal)
            && self.from_ms <= at_ms
            && at_ms < self.lifted_ms.unwrap_or(i64::MAX).min(self.until_ms)
    }
}

/// A recurring maintenance window, in the room's local time. Empty `room_id` and `site` cover
/// every room; `days` lists weekdays (`mon,tue,…`), empty for every day. `start_min` and
/// `end_min` are minutes after local midnight; a window may run past midnight (end < start).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Window {
    pub id: String,
    pub room_id: String,
    pub site: String,
    pub days: String,
    pub start_min: i64,
    pub end_min: i64,
    pub reason: String,
    pub created_ms: i64,
}

/// A page of a list: at most `limit` items after `after` (the last key of the previous page).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Page {
    pub limit: u32,
    pub after: Option<String>,
}

/// The fleet store. Both backends implement it with the same behaviour; the store tests run
/// against each.
#[async_trait]
pub trait Store: Send + Sync + Debug {
    fn backend(&self) -> Backend;

    // Tokens and audit.
    async fn token_insert(&self, t: &Token) -> Result<()>;
    async fn token(&self, id: &str) -> Result<Option<Token>>;
    async fn tokens(&self) -> Result<Vec<Token>>;
    /// Revoke; false when there is no such token or it was revoked already.
    async fn token_revoke(&self, id: &str, at_ms: i64) -> Result<bool>;
    /// Replace the hash of the admin token called `name` (creating it), revoking no other token.
    async fn token_replace(&self, t: &Token) -> Result<()>;
    /// Dashboard sessions: created at sign-in, read on every page, deleted at sign-out;
    /// `session_purge` drops those expired before `before_ms`.
    async fn session_insert(&self, s: &Session) -> Result<()>;
    async fn session(&self, id: &str) -> Result<Option<Session>>;
    async fn session_delete(&self, id: &str) -> Result<bool>;
    async fn session_purge(&self, before_ms: i64) -> Result<u64>;
    async fn audit(&self, at_ms: i64, actor: &str, action: &str, target: &str, detail: &str) -> Result<()>;
    /// Newest first; `page.after` is the `seq` of the last entry seen.
    async fn audit_list(&self, page: &Page) -> Result<Vec<AuditEntry>>;

    // Rooms.
    /// The room known by the first of `names` (kind, value) that is known, or a new room with
    /// `new_id`. Every name given then points at the room unless it points elsewhere already.
    async fn room_resolve(&self, names: &[(&str, &str)], new_id: &str, now_ms: i64) -> Result<String>;
    /// The room known by the first of `names` that is known, without creating one.
    async fn room_lookup(&self, names: &[(&str, &str)]) -> Result<Option<String>>;
    async fn room(&self, id: &str) -> Result<Option<Room>>;
    async fn rooms(&self) -> Result<Vec<Room>>;
    /// Every room without its diagnosis (`diagnosis` is None), for lists that do not show it:
    /// the diagnoses of 500 rooms are megabytes.
    async fn rooms_brief(&self) -> Result<Vec<Room>>;
    async fn room_patch(&self, id: &str, patch: &RoomPatch) -> Result<Option<Room>>;
    /// Move `from`'s names, signals' history, events and reports to `into`; `from` is retired
    /// and points at `into`.
    async fn room_merge(&self, from: &str, into: &str) -> Result<()>;
    async fn signals(&self, room_id: &str) -> Result<Vec<SignalRow>>;
    /// Newest first, at most `limit`.
    async fn transitions(&self, room_id: &str, limit: u32) -> Result<Vec<Transition>>;
    async fn set_diagnosis(&self, room_id: &str, report: &str, at_ms: i64, newest_seen_ms: i64) -> Result<()>;
    /// Rooms with records newer than their diagnosis.
    async fn dirty_rooms(&self) -> Result<Vec<String>>;

    // Events.
    async fn ingest(&self, batch: &Batch) -> Result<Ingested>;
    /// Batches in one transaction, in order, as if ingested one after the other: each batch's
    /// result, or an error and nothing of them stored.
    async fn ingest_many(&self, batches: &[Batch]) -> Result<Vec<Ingested>>;
    /// The bodies of a room's records with a time in `[from_ms, to_ms]`, oldest first, at most `limit`.
    async fn events(&self, room_id: &str, from_ms: i64, to_ms: i64, limit: u32) -> Result<Vec<String>>;
    async fn event_count(&self) -> Result<i64>;
    /// Delete records received before `before_ms` (by when they arrived, so a backfill of old
    /// records is kept as long as a fresh one); how many went.
    async fn events_purge(&self, before_ms: i64) -> Result<u64>;
    /// Every record a room holds, whatever its time.
    async fn room_event_count(&self, room_id: &str) -> Result<i64>;
    /// A room's records of one kind with a time in `[from_ms, to_ms]`.
    async fn event_count_kind(&self, room_id: &str, kind: &str, from_ms: i64, to_ms: i64) -> Result<i64>;

    // Reports.
    async fn report_insert(&self, r: &ReportRow) -> Result<()>;
    async fn report(&self, id: &str) -> Result<Option<ReportRow>>;
    async fn reports(&self, room_id: &str) -> Result<Vec<ReportRow>>;
    /// Move a report to `running`, `done` or `failed`, with its report when done.
    async fn report_finish(
        &self,
        id: &str,
        status: &str,
        report: Option<ReportJson<'_>>,
        error: Option<&str>,
        at_ms: i64,
    ) -> Result<()>;
    async fn reports_queued(&self) -> Result<Vec<ReportRow>>;
    /// Reports created before `before_ms`: their files are deleted by the caller, their rows kept.
    async fn reports_expired(&self, before_ms: i64) -> Result<Vec<ReportRow>>;
    async fn report_drop_file(&self, id: &str) -> Result<()>;
    /// Total bytes of uploads still on disk.
    async fn upload_bytes(&self) -> Result<i64>;

    // Incidents.
    /// Write incidents (insert or replace), their timeline entries and the alerts they cause in
    /// one transaction. With a `guard`, nothing is written and the answer is false when the
    /// room's incidents were written by another evaluation since the guard's `rev` was read
    /// (read them again and judge again).
    async fn incidents_write(
        &self,
        changes: &[IncidentChange],
        alerts: &[Alert],
        guard: Option<RoomGuard<'_>>,
    ) -> Result<bool>;
    /// The room's signal transitions after `since_seq`, oldest first, together with each
    /// signal's last transition at or before it (where each signal stood).
    async fn transitions_since(&self, room_id: &str, since_seq: i64) -> Result<Vec<Transition>>;
    async fn incident(&self, id: &str) -> Result<Option<Incident>>;
    /// Newest opened first; `page.after` is the `opened_ms:id` of the last one seen.
    async fn incidents(&self, filter: &IncidentFilter, page: &Page) -> Result<Vec<Incident>>;
    async fn incident_log(&self, id: &str) -> Result<Vec<IncidentLog>>;
    /// Room incidents (of one room, or every room) not resolved before `from_ms`, as spans.
    async fn incident_spans(&self, room_id: Option<&str>, from_ms: i64) -> Result<Vec<IncidentSpan>>;
    /// Acknowledge; false when there is no such incident.
    async fn incident_ack(&self, id: &str, at_ms: i64, by: &str, note: &str) -> Result<bool>;

    // Alerts.
    async fn webhook_insert(&self, w: &Webhook) -> Result<()>;
    async fn webhooks(&self) -> Result<Vec<Webhook>>;
    async fn webhook_delete(&self, id: &str) -> Result<bool>;
    /// Take up to `limit` alerts that are due and not leased, leasing them to `owner` until
    /// `lease_until_ms`. With several instances on PostgreSQL each alert goes to one of them
    /// (`FOR UPDATE SKIP LOCKED`); a lease that runs out (an instance that died) frees it again.
    async fn alerts_claim(&self, owner: &str, now_ms: i64, lease_until_ms: i64, limit: u32) -> Result<Vec<Alert>>;
    /// Record an attempt: the alert's new state, attempts, next attempt, answer; the lease ends.
    async fn alert_attempted(&self, a: &Alert) -> Result<()>;
    async fn alerts_of_incident(&self, incident_id: &str) -> Result<Vec<Alert>>;
    /// The newest `limit` alerts planned for one destination, newest first.
    async fn alerts_of_webhook(&self, webhook_id: &str, limit: u32) -> Result<Vec<Alert>>;
    async fn alert(&self, id: &str) -> Result<Option<Alert>>;
    /// Alerts by state, for metrics.
    async fn alert_counts(&self) -> Result<Vec<(String, i64)>>;

    // Suppressions.
    async fn suppression_insert(&self, s: &Suppression) -> Result<()>;
    /// A room's suppressions (or every room's), newest first.
    async fn suppressions(&self, room_id: Option<&str>) -> Result<Vec<Suppression>>;
    /// Lift a suppression now; false when there is no such active one.
    async fn suppression_lift(&self, id: &str, at_ms: i64) -> Result<bool>;

    // Maintenance windows.
    async fn window_insert(&self, w: &Window) -> Result<()>;
    async fn windows(&self) -> Result<Vec<Window>>;
    async fn window_delete(&self, id: &str) -> Result<bool>;

    // Secrets sealed by the server (webhook secrets, Workflows URLs).
    async fn secret_put(&self, name: &str, sealed: &[u8], at_ms: i64) -> Result<()>;
    async fn secret_get(&self, name: &str) -> Result<Option<Vec<u8>>>;

    /// A consistent copy of the database in `path` (SQLite `VACUUM INTO`); PostgreSQL answers
    /// with an error pointing at `pg_dump`.
    async fn backup(&self, path: &Path) -> Result<()>;
    /// Is the database answering?
    async fn ping(&self) -> Result<()>;
}

/// Open the store at `url` and apply the migrations: `sqlite://PATH` (created when missing),
/// `postgres://…`, or a bare path (SQLite).
pub async fn open(url: &str) -> Result<Arc<dyn Store>> {
    Ok(Arc::new(SqlStore::connect(url).await?))
}

/// A JSON list stored in a text column.
pub(crate) fn list_to_text(v: &[String]) -> String {
    serde_json::to_string(v).unwrap_or_else(|_| "[]".into())
}

pub(crate) fn text_to_list(s: &str) -> Vec<String> {
    serde_json::from_str(s).unwrap_or_default()
}
