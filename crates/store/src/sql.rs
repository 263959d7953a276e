//! [`Store`] on SQLite and PostgreSQL through sqlx's `Any` driver. The SQL is written once with
//! `$n` parameters, which both databases accept; what differs (schema types, locking, backup)
//! is chosen by [`Backend`].

use std::path::Path;
use std::str::FromStr;

use async_trait::async_trait;
use sqlx::any::{AnyConnectOptions, AnyPoolOptions, AnyRow};
use sqlx::{AnyPool, Row};

use crate::{
    list_to_text, text_to_list, Alert, AuditEntry, Backend, Batch, Incident, IncidentChange, IncidentFilter,
    IncidentLog, IncidentSpan, Ingested, Page, ReportJson, ReportRow, Result, Room, RoomGuard, RoomPatch, Session,
    SignalRow, Store, StoreError, Suppression, Token, Transition, Webhook, Window,
};

static SQLITE_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("migrations/sqlite");
static POSTGRES_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("migrations/postgres");

/// Where the SQLite events index puts a record without a time (see [`SqlStore::event_time`]);
/// a window never reaches it.
const NO_TIME: i64 = -9_223_372_036_854_775_807;

/// Rows per multi-row insert (10 parameters each, well under both databases' limits).
const INSERT_CHUNK: usize = 200;

/// The SQLite writer's settings beside WAL. The statement journal of a multi-row insert stays
/// in memory. The page cache keeps SQLite's default size: a 64 MB one measured slower (every
/// commit spent longer putting the cache in order than the larger cache saved). The WAL is
/// copied back into the database mostly by [`checkpoints`], off the writer's path; the writer
/// checkpoints itself once the WAL holds 4,096 frames (16 MB with 4 KB pages, 64 MB in a
/// database made with 16 KB pages), which finishes what that left and lets the next commit
/// start the WAL over, cut back to 64 MB.
const WRITER_PRAGMAS: &[&str] =
    &["PRAGMA temp_store = MEMORY", "PRAGMA wal_autocheckpoint = 4096", "PRAGMA journal_size_limit = 67108864"];

/// Copy the WAL back into the database file on a connection of its own, so that the one writer
/// mostly does not: a checkpoint reads back and syncs what the commits before it wrote, and on
/// the writer it held up every batch behind it. Small and often is what kept the slowest
/// answers down (10-heartbeat batches at 1,000 a second: every 20 ms, p99 about 40 ms; every
/// 200 ms, about 80 ms; on the writer alone, over 100 ms), so every 20 ms while commits arrive
/// and every 250 ms once the WAL stops growing. A passive checkpoint never waits for the writer
/// nor makes it wait.
async fn checkpoints(pool: AnyPool) {
    let mut last = -1;
    loop {
        let frames = match sqlx::query("PRAGMA wal_checkpoint(PASSIVE)").fetch_one(&pool).await {
            Ok(row) => row.try_get::<i64, _>(1).unwrap_or(-1),
            Err(sqlx::Error::PoolClosed) => return,
            Err(_) => -1,
        };
        let idle = frames == last;
        last = frames;
        tokio::time::sleep(std::time::Duration::from_millis(if idle { 250 } else { 20 })).await;
    }
}

/// The channel on which PostgreSQL servers of one fleet announce changes to what they keep in
/// memory (see [`crate::hot`]); the payload names the map.
const CHANGES_CHANNEL: &str = "uctriage_kept";

/// Listen for the changes other servers on the database announce, and empty the matching map.
/// The maps are live only while listening: after the connection breaks they keep nothing until
/// it is back (notices sent meanwhile are lost), trying again every second. Ends when the store
/// is dropped (`stopped`).
async fn follow_changes(
    url: String,
    hot: std::sync::Weak<crate::hot::Hot>,
    mut stopped: tokio::sync::oneshot::Receiver<()>,
) {
    let set_live = |live: bool| hot.upgrade().map(|h| h.set_live(live)).is_some();
    loop {
        let listening = async {
            let mut l = sqlx::postgres::PgListener::connect(&url).await?;
            l.listen(CHANGES_CHANNEL).await?;
            Ok::<_, sqlx::Error>(l)
        };
        let listener = tokio::select! {
            _ = &mut stopped => return,
            l = listening => l,
        };
        match listener {
            Ok(mut l) => {
                if !set_live(true) {
                    return;
                }
                loop {
                    let notice = tokio::select! {
                        _ = &mut stopped => return,
                        n = l.try_recv() => n,
                    };
                    match (notice, hot.upgrade()) {
                        (_, None) => return,
                        (Ok(Some(n)), Some(h)) => h.announced(n.payload()),
                        (Ok(None), _) => {
                            tracing::warn!("lost the connection that hears other servers' changes; listening again");
                            break;
                        }
                        (Err(e), _) => {
                            tracing::warn!("hearing other servers' changes: {e}; listening again");
                            break;
                        }
                    }
                }
            }
            Err(e) => tracing::warn!("cannot listen for other servers' changes: {e}; trying again in 1 s"),
        }
        if !set_live(false) {
            return;
        }
        tokio::select! {
            _ = &mut stopped => return,
            () = tokio::time::sleep(std::time::Duration::from_secs(1)) => {}
        }
    }
}

/// The store on either database.
#[derive(Debug, Clone)]
pub struct SqlStore {
    backend: Backend,
    /// Writes. On SQLite one connection: SQLite has one writer, and queuing here is cheaper
    /// than its busy-wait; each transaction commits as one group.
    write: AnyPool,
    read: AnyPool,
    /// Device tokens and room names kept in memory (see [`crate::hot`]).
    hot: Option<std::sync::Arc<crate::hot::Hot>>,
}

const ROOM_COLUMNS: &str = "id, name, computer, alias, display_name, site, tags, model, peripherals, app_version, \
     os_version, ipv4, timezone, first_heard_ms, last_heard_ms, last_heartbeat_ms, last_event_ms, retired, \
     merged_into, diagnosis, diagnosis_ms, dirty, incidents_seq, incidents_rev";

const REPORT_COLUMNS: &str =
    "id, room_id, name, status, size, created_ms, finished_ms, file, report, error, report_redacted";

fn room_of(r: &AnyRow) -> Result<Room> {
    Ok(Room {
        id: r.try_get("id")?,
        name: r.try_get("name")?,
        computer: r.try_get("computer")?,
        alias: r.try_get("alias")?,
        display_name: r.try_get("display_name")?,
        site: r.try_get("site")?,
        tags: text_to_list(&r.try_get::<String, _>("tags")?),
        model: r.try_get("model")?,
        peripherals: text_to_list(&r.try_get::<String, _>("peripherals")?),
        app_version: r.try_get("app_version")?,
        os_version: r.try_get("os_version")?,
        ipv4: r.try_get("ipv4")?,
        timezone: r.try_get("timezone")?,
        first_heard_ms: r.try_get("first_heard_ms")?,
        last_heard_ms: r.try_get("last_heard_ms")?,
        last_heartbeat_ms: r.try_get("last_heartbeat_ms")?,
        last_event_ms: r.try_get("last_event_ms")?,
        retired: r.try_get::<i64, _>("retired")? != 0,
        merged_into: r.try_get("merged_into")?,
        diagnosis: r.try_get("diagnosis")?,
        diagnosis_ms: r.try_get("diagnosis_ms")?,
        dirty: r.try_get::<i64, _>("dirty")? != 0,
        incidents_seq: r.try_get("incidents_seq")?,
        incidents_rev: r.try_get("incidents_rev")?,
    })
}

const INCIDENT_COLUMNS: &str = "id, scope, room_id, signal, severity, state, started_ms, opened_ms, resolved_ms, \
     updated_ms, reopened, parent_id, rule, summary, finding, ack_ms, ack_by, ack_note";

fn incident_of(r: &AnyRow) -> Result<Incident> {
    Ok(Incident {
        id: r.try_get("id")?,
        scope: r.try_get("scope")?,
        room_id: r.try_get("room_id")?,
        signal: r.try_get("signal")?,
        severity: r.try_get("severity")?,
        state: r.try_get("state")?,
        started_ms: r.try_get("started_ms")?,
        opened_ms: r.try_get("opened_ms")?,
        resolved_ms: r.try_get("resolved_ms")?,
        updated_ms: r.try_get("updated_ms")?,
        reopened: r.try_get("reopened")?,
        parent_id: r.try_get("parent_id")?,
        rule: r.try_get("rule")?,
        summary: r.try_get("summary")?,
        finding: r.try_get("finding")?,
        ack_ms: r.try_get("ack_ms")?,
        ack_by: r.try_get("ack_by")?,
        ack_note: r.try_get("ack_note")?,
    })
}

/// One incident of [`SqlStore::incident_spans`]'s JSON: room, signal, severity, started,
/// resolved, and the reopened (negated) and resolved times.
type SpanItem = (Option<String>, String, String, i64, Option<i64>, Option<String>);

const ALERT_COLUMNS: &str = "id, webhook_id, incident_id, event, body, created_ms, state, attempts, next_attempt_ms, \
     lease_owner, lease_until_ms, last_status, last_error, delivered_ms";

fn alert_of(r: &AnyRow) -> Result<Alert> {
    Ok(Alert {
        id: r.try_get("id")?,
        webhook_id: r.try_get("webhook_id")?,
        incident_id: r.try_get("incident_id")?,
        event: r.try_get("event")?,
        body: r.try_get("body")?,
        created_ms: r.try_get("created_ms")?,
        state: r.try_get("state")?,
        attempts: r.try_get("attempts")?,
        next_attempt_ms: r.try_get("next_attempt_ms")?,
        lease_owner: r.try_get("lease_owner")?,
        lease_until_ms: r.try_get("lease_until_ms")?,
        last_status: r.try_get("last_status")?,
        last_error: r.try_get("last_error")?,
        delivered_ms: r.try_get("delivered_ms")?,
    })
}

fn webhook_of(r: &AnyRow) -> Result<Webhook> {
    Ok(Webhook {
        id: r.try_get("id")?,
        kind: r.try_get("kind")?,
        name: r.try_get("name")?,
        url_sealed: r.try_get("url_sealed")?,
        secret_sealed: r.try_get("secret_sealed")?,
        url_hint: r.try_get("url_hint")?,
        site: r.try_get("site")?,
        min_severity: r.try_get("min_severity")?,
        created_ms: r.try_get("created_ms")?,
    })
}

fn token_of(r: &AnyRow) -> Result<Token> {
    Ok(Token {
        id: r.try_get("id")?,
        name: r.try_get("name")?,
        role: r.try_get("role")?,
        room_id: r.try_get("room_id")?,
        hash: r.try_get("hash")?,
        created_ms: r.try_get("created_ms")?,
        revoked_ms: r.try_get("revoked_ms")?,
    })
}

fn session_of(r: &AnyRow) -> Result<Session> {
    Ok(Session {
        id: r.try_get("id")?,
        hash: r.try_get("hash")?,
        token_id: r.try_get("token_id")?,
        csrf: r.try_get("csrf")?,
        created_ms: r.try_get("created_ms")?,
        expires_ms: r.try_get("expires_ms")?,
    })
}

fn report_of(r: &AnyRow) -> Result<ReportRow> {
    Ok(ReportRow {
        id: r.try_get("id")?,
        room_id: r.try_get("room_id")?,
        name: r.try_get("name")?,
        status: r.try_get("status")?,
        size: r.try_get("size")?,
        created_ms: r.try_get("created_ms")?,
        finished_ms: r.try_get("finished_ms")?,
        file: r.try_get("file")?,
        report: r.try_get("report")?,
        error: r.try_get("error")?,
        report_redacted: r.try_get("report_redacted")?,
    })
}

/// `($1, $2, …), ($k+1, …)` for `rows` rows of `cols` parameters; on SQLite `(?, ?, …)`, the
/// same parameters in the same order. SQLite finds the number of a `$n` parameter by walking
/// the list of every name in the statement, once per parameter bound, which for a 1,800-value
/// insert cost more than the insert itself; anonymous parameters are bound by position.
fn values_list(backend: Backend, rows: usize, cols: usize) -> String {
    let mut s = String::with_capacity(rows * cols * 6);
    for r in 0..rows {
        if r > 0 {
            s.push_str(", ");
        }
        s.push('(');
        for c in 0..cols {
            if c > 0 {
                s.push_str(", ");
            }
            match backend {
                Backend::Sqlite => s.push('?'),
                Backend::Postgres => {
                    s.push('$');
                    s.push_str(&(r * cols + c + 1).to_string());
                }
            }
        }
        s.push(')');
    }
    s
}

/// `$1, $2, …` for `n` parameters (`?, ?, …` would do on SQLite too; a list this short costs
/// nothing to number).
fn params(n: usize) -> String {
    (1..=n).map(|i| format!("${i}")).collect::<Vec<_>>().join(", ")
}

/// What a group of batches changes on one room.
#[derive(Debug, Default)]
struct RoomUpdate {
    heard: i64,
    event: Option<i64>,
    dirty: bool,
    timezone: String,
    /// The newest heartbeat applied, and the attributes it left (empty: unchanged).
    heartbeat: Option<i64>,
    attrs: crate::RoomAttrs,
    peripherals: String,
}

impl SqlStore {
    /// Connect and migrate. `url` is `sqlite://PATH`, `postgres://…` / `postgresql://…`, or a path.
    pub async fn connect(url: &str) -> Result<SqlStore> {
        sqlx::any::install_default_drivers();
        let (backend, url) = if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            (Backend::Postgres, url.to_owned())
        } else {
            let path = url.strip_prefix("sqlite://").unwrap_or(url);
            (Backend::Sqlite, format!("sqlite://{path}?mode=rwc"))
        };
        let opts = AnyConnectOptions::from_str(&url)?;
        let store = match backend {
            Backend::Sqlite => {
                let pool = |n: u32, extra: &'static [&'static str]| {
                    AnyPoolOptions::new().max_connections(n).after_connect(move |conn, _| {
                        Box::pin(async move {
                            // WAL with synchronous=NORMAL: a commit survives a killed process.
                            // A new database gets 4 KB pages (the page size is fixed by the
                            // first write, so it comes before WAL). Event bodies are packed to
                            // a few hundred bytes (`pack.rs`), so the pages a small batch
                            // dirties (its room's leaf in each events index, its room row, its
                            // signals) are what a commit writes, and smaller pages write less:
                            // 16 KB pages wrote 2.8 times the bytes per record. An existing
                            // database keeps its page size.
                            for pragma in [
                                "PRAGMA page_size = 4096",
                                "PRAGMA journal_mode = WAL",
                                "PRAGMA synchronous = NORMAL",
                                "PRAGMA busy_timeout = 10000",
                                "PRAGMA foreign_keys = ON",
                            ]
                            .iter()
                            .chain(extra)
                            {
                                sqlx::query(pragma).execute(&mut *conn).await?;
                            }
                            Ok(())
                        })
                    })
                };
                let write = pool(1, WRITER_PRAGMAS).connect_with(opts.clone()).await?;
                SQLITE_MIGRATIONS.run(&write).await?;
                let read = pool(4, &[]).connect_with(opts.clone()).await?;
                tokio::spawn(checkpoints(pool(1, &[]).connect_with(opts).await?));
                SqlStore { backend, write, read, hot: Some(std::sync::Arc::new(crate::hot::Hot::alone())) }
            }
            Backend::Postgres => {
                let pool = AnyPoolOptions::new().max_connections(8).connect_with(opts).await?;
                POSTGRES_MIGRATIONS.run(&pool).await?;
                let (stop, stopped) = tokio::sync::oneshot::channel();
                let hot = std::sync::Arc::new(crate::hot::Hot::shared(stop));
                tokio::spawn(follow_changes(url.clone(), std::sync::Arc::downgrade(&hot), stopped));
                SqlStore { backend, write: pool.clone(), read: pool, hot: Some(hot) }
            }
        };
        Ok(store)
    }

    /// An event's time as the events index orders it. On SQLite one index serves both the time
    /// windows and the uniqueness of a room's keys (migration 0014): it orders by the time with
    /// [`NO_TIME`] for records that have none, so a window must be asked in that expression for
    /// the index to serve it. PostgreSQL keeps its index on the time column.
    fn event_time(&self) -> &'static str {
        Self::event_time_for(self.backend)
    }

    fn event_time_for(backend: Backend) -> &'static str {
        match backend {
            Backend::Sqlite => "ifnull(time_ms, -9223372036854775807)",
            Backend::Postgres => "time_ms",
        }
    }

    /// After a change to what [`crate::hot`] keeps has committed: empty this server's map at
    /// once, and on PostgreSQL tell the other servers on the database. A notice that cannot be
    /// sent is logged; the others then trust their copy until it expires (5 s for tokens, 10 s
    /// for names).
    async fn changed(&self, what: crate::hot::Kept) {
        if let Some(h) = &self.hot {
            h.changed(what);
        }
        if self.backend == Backend::Postgres {
            if let Err(e) = sqlx::query("SELECT pg_notify($1, $2)")
                .bind(CHANGES_CHANNEL)
                .bind(what.as_str())
                .execute(&self.write)
                .await
            {
                tracing::warn!("could not tell other servers that {} changed: {e}", what.as_str());
            }
        }
    }

    /// The kept maps, when they may be used.
    fn kept(&self) -> Option<&crate::hot::Hot> {
        self.hot.as_deref().filter(|h| h.is_live())
    }

    /// The room a name (already trimmed and lowercase) belongs to, if any.
    async fn name_room(&self, kind: &str, value: &str) -> Result<Option<String>> {
        let key = (kind.to_owned(), value.to_owned());
        let hot = match self.kept().map(|h| (h, h.names.lookup(&key))) {
            Some((_, Ok(room))) => return Ok(Some(room)),
            Some((h, Err(gen))) => Some((h, gen)),
            None => None,
        };
        let row = sqlx::query("SELECT room_id FROM room_names WHERE kind = $1 AND value = $2")
            .bind(kind)
            .bind(value)
            .fetch_optional(&self.read)
            .await?;
        let room = row.map(|r| r.try_get::<String, _>("room_id")).transpose()?;
        // A name's room changes only by a merge; a name not yet known is not kept (the next
        // batch may bring it).
        if let (Some((h, gen)), Some(room)) = (hot, &room) {
            h.names.put(gen, key, room.clone());
        }
        Ok(room)
    }

    async fn lock_room(&self, tx: &mut sqlx::Transaction<'_, sqlx::Any>, room_id: &str) -> Result<bool> {
        let sql = match self.backend {
            Backend::Postgres => "SELECT id FROM rooms WHERE id = $1 FOR UPDATE",
            Backend::Sqlite => "SELECT id FROM rooms WHERE id = $1",
        };
        Ok(sqlx::query(sql).bind(room_id).fetch_optional(&mut **tx).await?.is_some())
    }

    /// Batches within one transaction, each as if ingested after the one before: its records,
    /// the signals its new records observe, their transitions, its room. Each step is one
    /// statement for the whole group (one insert of every record, one read and one write of the
    /// signals, one update per room), so a group costs the writer about the statements one
    /// batch did.
    async fn ingest_group(
        &self,
        tx: &mut sqlx::Transaction<'_, sqlx::Any>,
        batches: &[Batch],
    ) -> Result<Vec<Ingested>> {
        use std::collections::hash_map::Entry;
        use std::collections::{BTreeSet, HashMap};

        let mut out = vec![Ingested::default(); batches.len()];
        // The rooms, locked on PostgreSQL (one at a time, in id order), and the time of each
        // one's newest heartbeat, which decides whether a batch's attributes are newer.
        let mut rooms: Vec<&str> = batches.iter().map(|b| b.room_id.as_str()).collect();
        rooms.sort_unstable();
        rooms.dedup();
        let mut heartbeat: HashMap<String, Option<i64>> = HashMap::with_capacity(rooms.len());
        let found = {
            let lock = match self.backend {
                Backend::Postgres => " ORDER BY id FOR UPDATE",
                Backend::Sqlite => "",
            };
            let sql = format!("SELECT id, last_heartbeat_ms FROM rooms WHERE id IN ({}){lock}", params(rooms.len()));
            let mut q = sqlx::query(&sql);
            for r in &rooms {
                q = q.bind(*r);
            }
            q.fetch_all(&mut **tx).await?
        };
        for row in &found {
            heartbeat.insert(row.try_get("id")?, row.try_get("last_heartbeat_ms")?);
        }
        if let Some(missing) = rooms.iter().find(|r| !heartbeat.contains_key(**r)) {
            return Err(StoreError::NotFound(format!("room {missing}")));
        }

        // Records: each key of a room once, where the group first holds it (a record repeated
        // in a batch, or sent again by a later batch, is a duplicate there).
        let mut first: HashMap<(&str, &[u8]), (usize, usize)> = HashMap::new();
        let mut order: Vec<(usize, usize)> = Vec::new();
        for (j, b) in batches.iter().enumerate() {
            for (i, e) in b.events.iter().enumerate() {
                if let Entry::Vacant(v) = first.entry((b.room_id.as_str(), e.key.as_slice())) {
                    v.insert((j, i));
                    order.push((j, i));
                }
            }
        }
        let mut new: Vec<Vec<bool>> = batches.iter().map(|b| vec![false; b.events.len()]).collect();
        // On SQLite `OR IGNORE` rather than `ON CONFLICT DO NOTHING`: the same for the key, and
        // since no other constraint of the statement can then abort it half done, SQLite keeps
        // no statement journal of the pages it changes (a tenth of the writer's time).
        let (verb, conflict) = match self.backend {
            Backend::Sqlite => ("INSERT OR IGNORE", ""),
            Backend::Postgres => ("INSERT", " ON CONFLICT (key) DO NOTHING"),
        };
        for chunk in order.chunks(INSERT_CHUNK) {
            let sql = format!(
                "{verb} INTO events (key, room_id, time_ms, received_ms, kind, source, event_id, record_id, body, \
                 body_packed) VALUES {}{conflict} RETURNING room_id, key",
                values_list(self.backend, chunk.len(), 10)
            );
            let mut q = sqlx::query(&sql);
            for &(j, i) in chunk {
                let (b, e) = (&batches[j], &batches[j].events[i]);
                q = q
                    .bind(&e.key)
                    .bind(&b.room_id)
                    .bind(e.time_ms)
                    .bind(b.received_ms)
                    .bind(&e.kind)
                    .bind(&e.source)
                    .bind(e.event_id)
                    .bind(e.record_id)
                    .bind("")
                    .bind(e.body.bytes());
            }
            for row in q.fetch_all(&mut **tx).await? {
                let room: String = row.try_get("room_id")?;
                let key: Vec<u8> = row.try_get("key")?;
                if let Some(&(j, i)) = first.get(&(room.as_str(), key.as_slice())) {
                    new[j][i] = true;
                }
            }
        }
        for ((o, b), n) in out.iter_mut().zip(batches).zip(&new) {
            o.accepted = n.iter().filter(|n| **n).count() as u64;
            o.duplicates = b.events.len() as u64 - o.accepted;
        }

        // Signals: the observations of new records, each batch's oldest first, against the
        // state the batches before it left.
        let mut current: HashMap<(String, String), SignalRow> = HashMap::new();
        let sql = format!(
            "SELECT room_id, signal, state, status, since_ms, updated_ms FROM signals WHERE room_id IN ({})",
            params(rooms.len())
        );
        let mut q = sqlx::query(&sql);
        for r in &rooms {
            q = q.bind(*r);
        }
        for r in q.fetch_all(&mut **tx).await? {
            let s = SignalRow {
                signal: r.try_get("signal")?,
                state: r.try_get("state")?,
                status: r.try_get("status")?,
                since_ms: r.try_get("since_ms")?,
                updated_ms: r.try_get("updated_ms")?,
            };
            current.insert((r.try_get("room_id")?, s.signal.clone()), s);
        }
        let mut changed: BTreeSet<(String, String)> = BTreeSet::new();
        let mut transitions: Vec<(&str, String, String, String, String, i64)> = Vec::new();
        // Each room's newest heartbeat so far, for the offline periods between heartbeats.
        let mut last_heartbeat = heartbeat.clone();
        for (j, b) in batches.iter().enumerate() {
            let silent = match (&b.silence, last_heartbeat.get_mut(&b.room_id)) {
                (Some(s), Some(last)) => s.observations(b, &new[j], last),
                _ => Vec::new(),
            };
            let mut obs: Vec<_> =
                b.observations.iter().filter(|o| new[j].get(o.event).copied().unwrap_or(false)).collect();
            obs.extend(&silent);
            obs.sort_by_key(|o| o.at_ms);
            let before = transitions.len();
            for o in obs {
                let id = (b.room_id.clone(), o.signal.clone());
                match current.get_mut(&id) {
                    Some(s) if o.at_ms < s.updated_ms => {}
                    Some(s) => {
                        if s.state != o.state {
                            transitions.push((
                                &b.room_id,
                                o.signal.clone(),
                                s.state.clone(),
                                o.state.clone(),
                                o.status.clone(),
                                o.at_ms,
                            ));
                            s.state.clone_from(&o.state);
                            s.since_ms = o.at_ms;
                        }
                        s.status.clone_from(&o.status);
                        s.updated_ms = o.at_ms;
                        changed.insert(id);
                    }
                    None => {
                        transitions.push((
                            &b.room_id,
                            o.signal.clone(),
                            "unknown".into(),
                            o.state.clone(),
                            o.status.clone(),
                            o.at_ms,
                        ));
                        current.insert(
                            id.clone(),
                            SignalRow {
                                signal: o.signal.clone(),
                                state: o.state.clone(),
                                status: o.status.clone(),
                                since_ms: o.at_ms,
                                updated_ms: o.at_ms,
                            },
                        );
                        changed.insert(id);
                    }
                }
            }
            out[j].transitions = (transitions.len() - before) as u64;
        }
        let changed: Vec<(&str, &SignalRow)> = changed.iter().map(|id| (id.0.as_str(), &current[id])).collect();
        for chunk in changed.chunks(INSERT_CHUNK) {
            let sql = format!(
                "INSERT INTO signals (room_id, signal, state, status, since_ms, updated_ms) VALUES {} \
                 ON CONFLICT (room_id, signal) DO UPDATE SET state = excluded.state, status = excluded.status, \
                 since_ms = excluded.since_ms, updated_ms = excluded.updated_ms",
                values_list(self.backend, chunk.len(), 6)
            );
            let mut q = sqlx::query(&sql);
            for (room, s) in chunk {
                q = q.bind(*room).bind(&s.signal).bind(&s.state).bind(&s.status).bind(s.since_ms).bind(s.updated_ms);
            }
            q.execute(&mut **tx).await?;
        }
        for chunk in transitions.chunks(INSERT_CHUNK) {
            let sql = format!(
                "INSERT INTO transitions (room_id, signal, from_state, to_state, status, at_ms) VALUES {}",
                values_list(self.backend, chunk.len(), 6)
            );
            let mut q = sqlx::query(&sql);
            for (room, signal, from, to, status, at) in chunk {
                q = q.bind(*room).bind(signal).bind(from).bind(to).bind(status).bind(*at);
            }
            q.execute(&mut **tx).await?;
        }

        // Rooms: what the batches say, folded in order into one update per room. Attributes
        // count when their heartbeat is at least as new as the room's newest; an empty value
        // leaves the stored one; a derived site fills only an empty one.
        let mut updates: Vec<(&str, RoomUpdate)> = Vec::new();
        for ((j, b), o) in batches.iter().enumerate().zip(&out) {
            let at = updates.iter().position(|(r, _)| *r == b.room_id).unwrap_or_else(|| {
                updates.push((&b.room_id, RoomUpdate::default()));
                updates.len() - 1
            });
            let u = &mut updates[at].1;
            u.heard = u.heard.max(b.received_ms);
            let newest = b.events.iter().zip(&new[j]).filter(|(_, n)| **n).filter_map(|(e, _)| e.time_ms).max();
            u.event = u.event.max(newest);
            u.dirty |= o.accepted > 0;
            // A zone named by the room wins over an offset read from its records' times.
            if let Some(tz) = b.timezone.as_deref().filter(|t| !t.is_empty()) {
                if !(crate::is_offset_zone(tz) && !u.timezone.is_empty() && !crate::is_offset_zone(&u.timezone)) {
                    tz.clone_into(&mut u.timezone);
                }
            }
            if let Some((hb_at, a)) = &b.attrs {
                let stored = heartbeat.get_mut(b.room_id.as_str()).expect("every room was found");
                if stored.is_none_or(|h| h <= *hb_at) {
                    *stored = Some(*hb_at);
                    u.heartbeat = Some(*hb_at);
                    for (to, from) in [
                        (&mut u.attrs.computer, &a.computer),
                        (&mut u.attrs.alias, &a.alias),
                        (&mut u.attrs.display_name, &a.display_name),
                        (&mut u.attrs.model, &a.model),
                        (&mut u.attrs.app_version, &a.app_version),
                        (&mut u.attrs.os_version, &a.os_version),
                        (&mut u.attrs.ipv4, &a.ipv4),
                    ] {
                        if !from.is_empty() {
                            to.clone_from(from);
                        }
                    }
                    if !a.peripherals.is_empty() {
                        u.peripherals = list_to_text(&a.peripherals);
                    }
                    if u.attrs.site.is_empty() {
                        u.attrs.site.clone_from(&a.site);
                    }
                }
            }
        }
        for (room, u) in &updates {
            sqlx::query(
                "UPDATE rooms SET last_heard_ms = CASE WHEN last_heard_ms > $1 THEN last_heard_ms ELSE $1 END, \
                 last_event_ms = CASE WHEN last_event_ms IS NULL OR last_event_ms < $2 THEN $2 ELSE last_event_ms END, \
                 dirty = CASE WHEN $3 > 0 THEN 1 ELSE dirty END, \
                 timezone = CASE WHEN $4 = '' THEN timezone \
                   WHEN $4 LIKE 'offset:%' AND timezone <> '' AND timezone NOT LIKE 'offset:%' THEN timezone \
                   ELSE $4 END, \
                 computer = CASE WHEN $5 = '' THEN computer ELSE $5 END, \
                 alias = CASE WHEN $6 = '' THEN alias ELSE $6 END, \
                 display_name = CASE WHEN $7 = '' THEN display_name ELSE $7 END, \
                 model = CASE WHEN $8 = '' THEN model ELSE $8 END, \
                 peripherals = CASE WHEN $9 = '' THEN peripherals ELSE $9 END, \
                 app_version = CASE WHEN $10 = '' THEN app_version ELSE $10 END, \
                 os_version = CASE WHEN $11 = '' THEN os_version ELSE $11 END, \
                 ipv4 = CASE WHEN $12 = '' THEN ipv4 ELSE $12 END, \
                 last_heartbeat_ms = COALESCE($13, last_heartbeat_ms), \
                 site = CASE WHEN site = '' THEN $14 ELSE site END \
                 WHERE id = $15",
            )
            .bind(u.heard)
            .bind(u.event)
            .bind(i64::from(u.dirty))
            .bind(&u.timezone)
            .bind(&u.attrs.computer)
            .bind(&u.attrs.alias)
            .bind(&u.attrs.display_name)
            .bind(&u.attrs.model)
            .bind(&u.peripherals)
            .bind(&u.attrs.app_version)
            .bind(&u.attrs.os_version)
            .bind(&u.attrs.ipv4)
            .bind(u.heartbeat)
            .bind(&u.attrs.site)
            .bind(*room)
            .execute(&mut **tx)
            .await?;
        }
        Ok(out)
    }
}

#[async_trait]
impl Store for SqlStore {
    fn backend(&self) -> Backend {
        self.backend
    }

    async fn token_insert(&self, t: &Token) -> Result<()> {
        sqlx::query(
            "INSERT INTO tokens (id, name, role, room_id, hash, created_ms, revoked_ms) VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(&t.id)
        .bind(&t.name)
        .bind(&t.role)
        .bind(&t.room_id)
        .bind(&t.hash)
        .bind(t.created_ms)
        .bind(t.revoked_ms)
        .execute(&self.write)
        .await?;
        self.changed(crate::hot::Kept::Tokens).await;
        Ok(())
    }

    async fn token(&self, id: &str) -> Result<Option<Token>> {
        let hot = match self.kept().map(|h| (h, h.devices.lookup(&id.to_owned()))) {
            Some((_, Ok(t))) => return Ok(Some(t)),
            Some((h, Err(gen))) => Some((h, gen)),
            None => None,
        };
        let row = sqlx::query("SELECT * FROM tokens WHERE id = $1").bind(id).fetch_optional(&self.read).await?;
        let token = row.as_ref().map(token_of).transpose()?;
        if let (Some((h, gen)), Some(t)) = (hot, &token) {
            if t.role == "device" {
                h.devices.put(gen, id.to_owned(), t.clone());
            }
        }
        Ok(token)
    }

    async fn tokens(&self) -> Result<Vec<Token>> {
        let rows = sqlx::query("SELECT * FROM tokens ORDER BY created_ms, id").fetch_all(&self.read).await?;
        rows.iter().map(token_of).collect()
    }

    async fn token_revoke(&self, id: &str, at_ms: i64) -> Result<bool> {
        let done = sqlx::query("UPDATE tokens SET revoked_ms = $1 WHERE id = $2 AND revoked_ms IS NULL")
            .bind(at_ms)
            .bind(id)
            .execute(&self.write)
            .await?;
        self.changed(crate::hot::Kept::Tokens).await;
        Ok(done.rows_affected() > 0)
    }

    async fn session_insert(&self, s: &Session) -> Result<()> {
        sqlx::query(
            "INSERT INTO sessions (id, hash, token_id, csrf, created_ms, expires_ms) VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(&s.id)
        .bind(&s.hash)
        .bind(&s.token_id)
        .bind(&s.csrf)
        .bind(s.created_ms)
        .bind(s.expires_ms)
        .execute(&self.write)
        .await?;
        Ok(())
    }

    async fn session(&self, id: &str) -> Result<Option<Session>> {
        let row = sqlx::query("SELECT * FROM sessions WHERE id = $1").bind(id).fetch_optional(&self.read).await?;
        row.as_ref().map(session_of).transpose()
    }

    async fn session_delete(&self, id: &str) -> Result<bool> {
        let done = sqlx::query("DELETE FROM sessions WHERE id = $1").bind(id).execute(&self.write).await?;
        Ok(done.rows_affected() > 0)
    }

    async fn session_purge(&self, before_ms: i64) -> Result<u64> {
        let done =
            sqlx::query("DELETE FROM sessions WHERE expires_ms < $1").bind(before_ms).execute(&self.write).await?;
        Ok(done.rows_affected())
    }

    async fn token_replace(&self, t: &Token) -> Result<()> {
        let mut tx = self.write.begin().await?;
        sqlx::query("UPDATE tokens SET revoked_ms = $1 WHERE role = 'admin' AND name = $2 AND revoked_ms IS NULL")
            .bind(t.created_ms)
            .bind(&t.name)
            .execute(&mut *tx)
            .await?;
        sqlx::query(
            "INSERT INTO tokens (id, name, role, room_id, hash, created_ms, revoked_ms) VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(&t.id)
        .bind(&t.name)
        .bind(&t.role)
        .bind(&t.room_id)
        .bind(&t.hash)
        .bind(t.created_ms)
        .bind(t.revoked_ms)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        self.changed(crate::hot::Kept::Tokens).await;
        Ok(())
    }

    async fn audit(&self, at_ms: i64, actor: &str, action: &str, target: &str, detail: &str) -> Result<()> {
        sqlx::query("INSERT INTO audit (at_ms, actor, action, target, detail) VALUES ($1, $2, $3, $4, $5)")
            .bind(at_ms)
            .bind(actor)
            .bind(action)
            .bind(target)
            .bind(detail)
            .execute(&self.write)
            .await?;
        Ok(())
    }

    async fn audit_list(&self, page: &Page) -> Result<Vec<AuditEntry>> {
        let after = page.after.as_deref().and_then(|a| a.parse::<i64>().ok()).unwrap_or(i64::MAX);
        let rows = sqlx::query("SELECT * FROM audit WHERE seq < $1 ORDER BY seq DESC LIMIT $2")
            .bind(after)
            .bind(i64::from(page.limit))
            .fetch_all(&self.read)
            .await?;
        rows.iter()
            .map(|r| {
                Ok(AuditEntry {
                    seq: r.try_get("seq")?,
                    at_ms: r.try_get("at_ms")?,
                    actor: r.try_get("actor")?,
                    action: r.try_get("action")?,
                    target: r.try_get("target")?,
                    detail: r.try_get("detail")?,
                })
            })
            .collect()
    }

    async fn room_resolve(&self, names: &[(&str, &str)], new_id: &str, now_ms: i64) -> Result<String> {
        let names: Vec<(&str, String)> =
            names.iter().filter(|(_, v)| !v.trim().is_empty()).map(|(k, v)| (*k, v.trim().to_lowercase())).collect();
        if names.is_empty() {
            return Err(StoreError::Invalid("a room needs a computer name, an alias or an id".into()));
        }
        // A room whose every name is known already needs no write: it is the first name's room.
        // This is every batch of a known room, so it stays off the one SQLite writer.
        let mut known = Vec::with_capacity(names.len());
        for (kind, value) in &names {
            match self.name_room(kind, value).await? {
                Some(r) => known.push(r),
                None => break,
            }
        }
        if known.len() == names.len() {
            return Ok(known.swap_remove(0));
        }
        let mut tx = self.write.begin().await?;
        let mut found = None;
        for (kind, value) in &names {
            let row = sqlx::query("SELECT room_id FROM room_names WHERE kind = $1 AND value = $2")
                .bind(*kind)
                .bind(value)
                .fetch_optional(&mut *tx)
                .await?;
            if let Some(r) = row {
                found = Some(r.try_get::<String, _>("room_id")?);
                break;
            }
        }
        let id = if let Some(id) = found {
            id
        } else {
            sqlx::query(&format!(
                "INSERT INTO rooms ({ROOM_COLUMNS}) VALUES ($1, '', '', '', '', '', '[]', '', '[]', '', '', '', '', \
                 $2, $2, NULL, NULL, 0, NULL, NULL, NULL, 0, 0, 0)"
            ))
            .bind(new_id)
            .bind(now_ms)
            .execute(&mut *tx)
            .await?;
            new_id.to_owned()
        };
        for (kind, value) in &names {
            sqlx::query("INSERT INTO room_names (kind, value, room_id) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING")
                .bind(*kind)
                .bind(value)
                .bind(&id)
                .execute(&mut *tx)
                .await?;
        }
        // Two servers may have created the same room at once; the first name decides.
        let (kind, value) = &names[0];
        let owner: String = sqlx::query("SELECT room_id FROM room_names WHERE kind = $1 AND value = $2")
            .bind(*kind)
            .bind(value)
            .fetch_one(&mut *tx)
            .await?
            .try_get("room_id")?;
        if owner != id {
            tx.rollback().await?;
            return Ok(owner);
        }
        tx.commit().await?;
        Ok(id)
    }

    async fn room_lookup(&self, names: &[(&str, &str)]) -> Result<Option<String>> {
        for (kind, value) in names {
            let value = value.trim().to_lowercase();
            if value.is_empty() {
                continue;
            }
            if let Some(r) = self.name_room(kind, &value).await? {
                return Ok(Some(r));
            }
        }
        Ok(None)
    }

    async fn room(&self, id: &str) -> Result<Option<Room>> {
        let row = sqlx::query(&format!("SELECT {ROOM_COLUMNS} FROM rooms WHERE id = $1"))
            .bind(id)
            .fetch_optional(&self.read)
            .await?;
        row.as_ref().map(room_of).transpose()
    }

    async fn rooms(&self) -> Result<Vec<Room>> {
        let rows = sqlx::query(&format!("SELECT {ROOM_COLUMNS} FROM rooms ORDER BY id")).fetch_all(&self.read).await?;
        rows.iter().map(room_of).collect()
    }

    async fn rooms_brief(&self) -> Result<Vec<Room>> {
        let columns = ROOM_COLUMNS.replacen(" diagnosis,", " NULL AS diagnosis,", 1);
        let rows = sqlx::query(&format!("SELECT {columns} FROM rooms ORDER BY id")).fetch_all(&self.read).await?;
        rows.iter().map(room_of).collect()
    }

    async fn room_patch(&self, id: &str, patch: &RoomPatch) -> Result<Option<Room>> {
        let Some(mut room) = self.room(id).await? else { return Ok(None) };
        if let Some(n) = &patch.name {
            room.name.clone_from(n);
        }
        if let Some(s) = &patch.site {
            room.site.clone_from(s);
        }
        if let Some(t) = &patch.tags {
            room.tags.clone_from(t);
        }
        if let Some(r) = patch.retired {
            room.retired = r;
        }
        if let Some(t) = &patch.timezone {
            room.timezone.clone_from(t);
        }
        sqlx::query("UPDATE rooms SET name = $1, site = $2, tags = $3, retired = $4, timezone = $5 WHERE id = $6")
            .bind(&room.name)
            .bind(&room.site)
            .bind(list_to_text(&room.tags))
            .bind(i64::from(room.retired))
            .bind(&room.timezone)
            .bind(id)
            .execute(&self.write)
            .await?;
        Ok(Some(room))
    }

    async fn room_merge(&self, from: &str, into: &str) -> Result<()> {
        if from == into {
            return Err(StoreError::Invalid("a room cannot be merged into itself".into()));
        }
        let mut tx = self.write.begin().await?;
        for id in [from, into] {
            if !self.lock_room(&mut tx, id).await? {
                return Err(StoreError::NotFound(format!("room {id}")));
            }
        }
        for sql in [
            "UPDATE room_names SET room_id = $1 WHERE room_id = $2",
            "UPDATE transitions SET room_id = $1 WHERE room_id = $2",
            "UPDATE events SET room_id = $1 WHERE room_id = $2",
            "UPDATE reports SET room_id = $1 WHERE room_id = $2",
            "UPDATE rooms SET merged_into = $1, retired = 1 WHERE id = $2",
        ] {
            sqlx::query(sql).bind(into).bind(from).execute(&mut *tx).await?;
        }
        // The merged room's signals are kept where the target has none.
        sqlx::query(
            "INSERT INTO signals (room_id, signal, state, status, since_ms, updated_ms) \
             SELECT $1, signal, state, status, since_ms, updated_ms FROM signals WHERE room_id = $2 \
             ON CONFLICT (room_id, signal) DO NOTHING",
        )
        .bind(into)
        .bind(from)
        .execute(&mut *tx)
        .await?;
        sqlx::query("DELETE FROM signals WHERE room_id = $1").bind(from).execute(&mut *tx).await?;
        sqlx::query("UPDATE rooms SET dirty = 1 WHERE id = $1").bind(into).execute(&mut *tx).await?;
        tx.commit().await?;
        self.changed(crate::hot::Kept::Names).await;
        Ok(())
    }

    async fn signals(&self, room_id: &str) -> Result<Vec<SignalRow>> {
        let rows = sqlx::query("SELECT * FROM signals WHERE room_id = $1 ORDER BY signal")
            .bind(room_id)
            .fetch_all(&self.read)
            .await?;
        rows.iter()
            .map(|r| {
                Ok(SignalRow {
                    signal: r.try_get("signal")?,
                    state: r.try_get("state")?,
                    status: r.try_get("status")?,
                    since_ms: r.try_get("since_ms")?,
                    updated_ms: r.try_get("updated_ms")?,
                })
            })
            .collect()
    }

    async fn transitions(&self, room_id: &str, limit: u32) -> Result<Vec<Transition>> {
        let rows = sqlx::query("SELECT * FROM transitions WHERE room_id = $1 ORDER BY at_ms DESC, seq DESC LIMIT $2")
            .bind(room_id)
            .bind(i64::from(limit))
            .fetch_all(&self.read)
            .await?;
        rows.iter()
            .map(|r| {
                Ok(Transition {
                    seq: r.try_get("seq")?,
                    signal: r.try_get("signal")?,
                    from_state: r.try_get("from_state")?,
                    to_state: r.try_get("to_state")?,
                    status: r.try_get("status")?,
                    at_ms: r.try_get("at_ms")?,
                })
            })
            .collect()
    }

    async fn set_diagnosis(&self, room_id: &str, report: &str, at_ms: i64, newest_seen_ms: i64) -> Result<()> {
        // Still dirty when records arrived while the diagnosis ran.
        sqlx::query(
            "UPDATE rooms SET diagnosis = $1, diagnosis_ms = $2, \
             dirty = CASE WHEN last_heard_ms > $3 THEN 1 ELSE 0 END WHERE id = $4",
        )
        .bind(report)
        .bind(at_ms)
        .bind(newest_seen_ms)
        .bind(room_id)
        .execute(&self.write)
        .await?;
        Ok(())
    }

    async fn dirty_rooms(&self) -> Result<Vec<String>> {
        let rows = sqlx::query("SELECT id FROM rooms WHERE dirty = 1 ORDER BY id").fetch_all(&self.read).await?;
        rows.iter().map(|r| Ok(r.try_get("id")?)).collect()
    }

    async fn ingest(&self, batch: &Batch) -> Result<Ingested> {
        let mut tx = self.write.begin().await?;
        let out = self.ingest_group(&mut tx, std::slice::from_ref(batch)).await?;
        tx.commit().await?;
        Ok(out.into_iter().next().unwrap_or_default())
    }

    async fn ingest_many(&self, batches: &[Batch]) -> Result<Vec<Ingested>> {
        let mut tx = self.write.begin().await?;
        let out = self.ingest_group(&mut tx, batches).await?;
        tx.commit().await?;
        Ok(out)
    }

    async fn events(&self, room_id: &str, from_ms: i64, to_ms: i64, limit: u32) -> Result<Vec<String>> {
        // The newest `limit` of the window, returned oldest first. Rows stored before bodies were
        // packed hold their JSON in `body` and no packed copy.
        let t = self.event_time();
        let sql = format!(
            "SELECT body, body_packed FROM events WHERE room_id = $1 AND {t} >= $2 AND {t} <= $3 \
             ORDER BY {t} DESC LIMIT $4"
        );
        let rows = sqlx::query(&sql)
            .bind(room_id)
            .bind(from_ms.max(NO_TIME + 1))
            .bind(to_ms)
            .bind(i64::from(limit))
            .fetch_all(&self.read)
            .await?;
        let what = format!("an event of room {room_id}");
        let mut out = Vec::with_capacity(rows.len());
        for r in rows.iter().rev() {
            match r.try_get::<Option<Vec<u8>>, _>("body_packed")? {
                Some(packed) => out.push(crate::pack::unpack(&packed, &what)?),
                None => out.push(r.try_get("body")?),
            }
        }
        Ok(out)
    }

    async fn event_count(&self) -> Result<i64> {
        Ok(sqlx::query("SELECT COUNT(*) AS n FROM events").fetch_one(&self.read).await?.try_get("n")?)
    }

    async fn room_event_count(&self, room_id: &str) -> Result<i64> {
        let row = sqlx::query("SELECT COUNT(*) AS n FROM events WHERE room_id = $1")
            .bind(room_id)
            .fetch_one(&self.read)
            .await?;
        Ok(row.try_get("n")?)
    }

    async fn events_purge(&self, before_ms: i64) -> Result<u64> {
        let done =
            sqlx::query("DELETE FROM events WHERE received_ms < $1").bind(before_ms).execute(&self.write).await?;
        Ok(done.rows_affected())
    }

    async fn event_count_kind(&self, room_id: &str, kind: &str, from_ms: i64, to_ms: i64) -> Result<i64> {
        let t = self.event_time();
        let sql =
            format!("SELECT COUNT(*) AS n FROM events WHERE room_id = $1 AND kind = $2 AND {t} >= $3 AND {t} <= $4");
        let row = sqlx::query(&sql)
            .bind(room_id)
            .bind(kind)
            .bind(from_ms.max(NO_TIME + 1))
            .bind(to_ms)
            .fetch_one(&self.read)
            .await?;
        Ok(row.try_get("n")?)
    }

    async fn report_insert(&self, r: &ReportRow) -> Result<()> {
        sqlx::query(&format!(
            "INSERT INTO reports ({REPORT_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)"
        ))
        .bind(&r.id)
        .bind(&r.room_id)
        .bind(&r.name)
        .bind(&r.status)
        .bind(r.size)
        .bind(r.created_ms)
        .bind(r.finished_ms)
        .bind(&r.file)
        .bind(&r.report)
        .bind(&r.error)
        .bind(&r.report_redacted)
        .execute(&self.write)
        .await?;
        Ok(())
    }

    async fn report(&self, id: &str) -> Result<Option<ReportRow>> {
        let row = sqlx::query(&format!("SELECT {REPORT_COLUMNS} FROM reports WHERE id = $1"))
            .bind(id)
            .fetch_optional(&self.read)
            .await?;
        row.as_ref().map(report_of).transpose()
    }

    async fn reports(&self, room_id: &str) -> Result<Vec<ReportRow>> {
        let rows =
            sqlx::query(&format!("SELECT {REPORT_COLUMNS} FROM reports WHERE room_id = $1 ORDER BY created_ms DESC"))
                .bind(room_id)
                .fetch_all(&self.read)
                .await?;
        rows.iter().map(report_of).collect()
    }

    async fn report_finish(
        &self,
        id: &str,
        status: &str,
        report: Option<ReportJson<'_>>,
        error: Option<&str>,
        at_ms: i64,
    ) -> Result<()> {
        sqlx::query(
            "UPDATE reports SET status = $1, report = $2, report_redacted = $3, error = $4, finished_ms = $5 WHERE id = $6",
        )
        .bind(status)
        .bind(report.map(|r| r.whole))
        .bind(report.map(|r| r.redacted))
        .bind(error)
        .bind(at_ms)
        .bind(id)
            .execute(&self.write)
            .await?;
        Ok(())
    }

    async fn reports_queued(&self) -> Result<Vec<ReportRow>> {
        let rows = sqlx::query(&format!(
            "SELECT {REPORT_COLUMNS} FROM reports WHERE status IN ('queued', 'running') ORDER BY created_ms"
        ))
        .fetch_all(&self.read)
        .await?;
        rows.iter().map(report_of).collect()
    }

    async fn reports_expired(&self, before_ms: i64) -> Result<Vec<ReportRow>> {
        let rows = sqlx::query(&format!(
            "SELECT {REPORT_COLUMNS} FROM reports WHERE file IS NOT NULL AND created_ms < $1 \
             AND status IN ('done', 'failed') ORDER BY created_ms"
        ))
        .bind(before_ms)
        .fetch_all(&self.read)
        .await?;
        rows.iter().map(report_of).collect()
    }

    async fn report_drop_file(&self, id: &str) -> Result<()> {
        sqlx::query("UPDATE reports SET file = NULL WHERE id = $1").bind(id).execute(&self.write).await?;
        Ok(())
    }

    async fn upload_bytes(&self) -> Result<i64> {
        let row = sqlx::query("SELECT CAST(COALESCE(SUM(size), 0) AS BIGINT) AS n FROM reports WHERE file IS NOT NULL")
            .fetch_one(&self.read)
            .await?;
        Ok(row.try_get("n")?)
    }

    async fn incidents_write(
        &self,
        changes: &[IncidentChange],
        alerts: &[Alert],
        guard: Option<RoomGuard<'_>>,
    ) -> Result<bool> {
        if changes.is_empty() && alerts.is_empty() && guard.is_none_or(|g| g.judged_seq.is_none()) {
            return Ok(true);
        }
        let mut tx = self.write.begin().await?;
        if let Some(g) = guard {
            // First, so that on PostgreSQL the room's row is locked before anything is written.
            let done = sqlx::query(
                "UPDATE rooms SET incidents_rev = incidents_rev + 1, \
                 incidents_seq = CASE WHEN $1 > incidents_seq THEN $1 ELSE incidents_seq END \
                 WHERE id = $2 AND incidents_rev = $3",
            )
            .bind(g.judged_seq.unwrap_or(-1))
            .bind(g.room_id)
            .bind(g.rev)
            .execute(&mut *tx)
            .await?;
            if done.rows_affected() == 0 {
                tx.rollback().await?;
                return Ok(false);
            }
        }
        for c in changes {
            let i = &c.incident;
            if c.link_only {
                sqlx::query("UPDATE incidents SET parent_id = $1 WHERE id = $2")
                    .bind(&i.parent_id)
                    .bind(&i.id)
                    .execute(&mut *tx)
                    .await?;
                continue;
            }
            sqlx::query(&format!(
                "INSERT INTO incidents ({INCIDENT_COLUMNS}) VALUES ({}) ON CONFLICT (id) DO UPDATE SET \
                 severity = excluded.severity, state = excluded.state, started_ms = excluded.started_ms, \
                 opened_ms = excluded.opened_ms, resolved_ms = excluded.resolved_ms, updated_ms = excluded.updated_ms, \
                 reopened = excluded.reopened, parent_id = excluded.parent_id, rule = excluded.rule, \
                 summary = excluded.summary, finding = excluded.finding",
                (1..=18).map(|n| format!("${n}")).collect::<Vec<_>>().join(", ")
            ))
            .bind(&i.id)
            .bind(&i.scope)
            .bind(&i.room_id)
            .bind(&i.signal)
            .bind(&i.severity)
            .bind(&i.state)
            .bind(i.started_ms)
            .bind(i.opened_ms)
            .bind(i.resolved_ms)
            .bind(i.updated_ms)
            .bind(i.reopened)
            .bind(&i.parent_id)
            .bind(&i.rule)
            .bind(&i.summary)
            .bind(&i.finding)
            .bind(i.ack_ms)
            .bind(&i.ack_by)
            .bind(&i.ack_note)
            .execute(&mut *tx)
            .await?;
            for (at, what, detail, room) in &c.log {
                sqlx::query(
                    "INSERT INTO incident_log (incident_id, at_ms, what, detail, room_id) VALUES ($1, $2, $3, $4, $5)",
                )
                .bind(&i.id)
                .bind(*at)
                .bind(what)
                .bind(detail)
                .bind(room)
                .execute(&mut *tx)
                .await?;
            }
        }
        for a in alerts {
            sqlx::query(&format!(
                "INSERT INTO alerts ({ALERT_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14) \
                 ON CONFLICT (id) DO NOTHING"
            ))
            .bind(&a.id)
            .bind(&a.webhook_id)
            .bind(&a.incident_id)
            .bind(&a.event)
            .bind(&a.body)
            .bind(a.created_ms)
            .bind(&a.state)
            .bind(a.attempts)
            .bind(a.next_attempt_ms)
            .bind(&a.lease_owner)
            .bind(a.lease_until_ms)
            .bind(a.last_status)
            .bind(&a.last_error)
            .bind(a.delivered_ms)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(true)
    }

    async fn transitions_since(&self, room_id: &str, since_seq: i64) -> Result<Vec<Transition>> {
        let rows = sqlx::query(
            "SELECT * FROM transitions t WHERE t.room_id = $1 AND (t.seq > $2 OR t.seq = (SELECT MAX(u.seq) FROM \
             transitions u WHERE u.room_id = $1 AND u.signal = t.signal AND u.seq <= $2)) ORDER BY t.at_ms, t.seq",
        )
        .bind(room_id)
        .bind(since_seq)
        .fetch_all(&self.read)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(Transition {
                    seq: r.try_get("seq")?,
                    signal: r.try_get("signal")?,
                    from_state: r.try_get("from_state")?,
                    to_state: r.try_get("to_state")?,
                    status: r.try_get("status")?,
                    at_ms: r.try_get("at_ms")?,
                })
            })
            .collect()
    }

    async fn webhook_insert(&self, w: &Webhook) -> Result<()> {
        sqlx::query(
            "INSERT INTO webhooks (id, kind, name, url_sealed, secret_sealed, url_hint, site, min_severity, created_ms) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        )
        .bind(&w.id)
        .bind(&w.kind)
        .bind(&w.name)
        .bind(&w.url_sealed)
        .bind(&w.secret_sealed)
        .bind(&w.url_hint)
        .bind(&w.site)
        .bind(&w.min_severity)
        .bind(w.created_ms)
        .execute(&self.write)
        .await?;
        Ok(())
    }

    async fn webhooks(&self) -> Result<Vec<Webhook>> {
        let rows = sqlx::query("SELECT * FROM webhooks ORDER BY created_ms, id").fetch_all(&self.read).await?;
        rows.iter().map(webhook_of).collect()
    }

    async fn webhook_delete(&self, id: &str) -> Result<bool> {
        let done = sqlx::query("DELETE FROM webhooks WHERE id = $1").bind(id).execute(&self.write).await?;
        Ok(done.rows_affected() > 0)
    }

    async fn alerts_claim(&self, owner: &str, now_ms: i64, lease_until_ms: i64, limit: u32) -> Result<Vec<Alert>> {
        let lock = match self.backend {
            Backend::Postgres => "FOR UPDATE SKIP LOCKED",
            Backend::Sqlite => "",
        };
        let rows = sqlx::query(&format!(
            "UPDATE alerts SET lease_owner = $1, lease_until_ms = $2 WHERE id IN (\
             SELECT id FROM alerts WHERE state = 'pending' AND next_attempt_ms <= $3 \
             AND (lease_until_ms IS NULL OR lease_until_ms < $3) ORDER BY next_attempt_ms, id LIMIT $4 {lock}) \
             RETURNING {ALERT_COLUMNS}"
        ))
        .bind(owner)
        .bind(lease_until_ms)
        .bind(now_ms)
        .bind(i64::from(limit))
        .fetch_all(&self.write)
        .await?;
        rows.iter().map(alert_of).collect()
    }

    async fn alert_attempted(&self, a: &Alert) -> Result<()> {
        sqlx::query(
            "UPDATE alerts SET state = $1, attempts = $2, next_attempt_ms = $3, last_status = $4, last_error = $5, \
             delivered_ms = $6, lease_owner = NULL, lease_until_ms = NULL WHERE id = $7",
        )
        .bind(&a.state)
        .bind(a.attempts)
        .bind(a.next_attempt_ms)
        .bind(a.last_status)
        .bind(&a.last_error)
        .bind(a.delivered_ms)
        .bind(&a.id)
        .execute(&self.write)
        .await?;
        Ok(())
    }

    async fn alerts_of_webhook(&self, webhook_id: &str, limit: u32) -> Result<Vec<Alert>> {
        let rows = sqlx::query(&format!(
            "SELECT {ALERT_COLUMNS} FROM alerts WHERE webhook_id = $1 ORDER BY created_ms DESC, id DESC LIMIT $2"
        ))
        .bind(webhook_id)
        .bind(i64::from(limit))
        .fetch_all(&self.read)
        .await?;
        rows.iter().map(alert_of).collect()
    }

    async fn alerts_of_incident(&self, incident_id: &str) -> Result<Vec<Alert>> {
        let rows =
            sqlx::query(&format!("SELECT {ALERT_COLUMNS} FROM alerts WHERE incident_id = $1 ORDER BY created_ms, id"))
                .bind(incident_id)
                .fetch_all(&self.read)
                .await?;
        rows.iter().map(alert_of).collect()
    }

    async fn alert(&self, id: &str) -> Result<Option<Alert>> {
        let row = sqlx::query(&format!("SELECT {ALERT_COLUMNS} FROM alerts WHERE id = $1"))
            .bind(id)
            .fetch_optional(&self.read)
            .await?;
        row.as_ref().map(alert_of).transpose()
    }

    async fn alert_counts(&self) -> Result<Vec<(String, i64)>> {
        let rows = sqlx::query("SELECT state, COUNT(*) AS n FROM alerts GROUP BY state ORDER BY state")
            .fetch_all(&self.read)
            .await?;
        rows.iter().map(|r| Ok((r.try_get("state")?, r.try_get("n")?))).collect()
    }

    async fn incident(&self, id: &str) -> Result<Option<Incident>> {
        let row = sqlx::query(&format!("SELECT {INCIDENT_COLUMNS} FROM incidents WHERE id = $1"))
            .bind(id)
            .fetch_optional(&self.read)
            .await?;
        row.as_ref().map(incident_of).transpose()
    }

    async fn incidents(&self, f: &IncidentFilter, page: &Page) -> Result<Vec<Incident>> {
        let (after_ms, after_id) = match page.after.as_deref().and_then(|a| a.split_once(':')) {
            Some((ms, id)) => (ms.parse::<i64>().unwrap_or(i64::MAX), id.to_owned()),
            None => (i64::MAX, String::new()),
        };
        // Only the filters given, as plain equalities: written as `($n = '' OR column = $n)`
        // no index could serve them, and judging one room's incidents read every incident
        // (7 ms each with 7,000 of them on SQLite, for each of 500 rooms every minute).
        let mut conditions = vec![
            "opened_ms <= $1".to_owned(),
            "(opened_ms < $1 OR (opened_ms = $1 AND id < $2) OR $2 = '')".to_owned(),
        ];
        let mut values: Vec<&str> = Vec::new();
        for (column, value) in [
            ("scope", &f.scope),
            ("state", &f.state),
            ("room_id", &f.room_id),
            ("parent_id", &f.parent_id),
            ("rule", &f.rule),
        ] {
            if let Some(v) = value.as_deref().filter(|v| !v.is_empty()) {
                values.push(v);
                conditions.push(format!("{column} = ${}", values.len() + 2));
            }
        }
        let sql = format!(
            "SELECT {INCIDENT_COLUMNS} FROM incidents WHERE {} ORDER BY opened_ms DESC, id DESC LIMIT ${}",
            conditions.join(" AND "),
            values.len() + 3
        );
        let mut query = sqlx::query(&sql).bind(after_ms).bind(after_id);
        for v in values {
            query = query.bind(v);
        }
        let rows = query.bind(i64::from(page.limit)).fetch_all(&self.read).await?;
        rows.iter().map(incident_of).collect()
    }

    async fn incident_log(&self, id: &str) -> Result<Vec<IncidentLog>> {
        let rows = sqlx::query("SELECT * FROM incident_log WHERE incident_id = $1 ORDER BY at_ms, seq")
            .bind(id)
            .fetch_all(&self.read)
            .await?;
        rows.iter()
            .map(|r| {
                Ok(IncidentLog {
                    seq: r.try_get("seq")?,
                    at_ms: r.try_get("at_ms")?,
                    what: r.try_get("what")?,
                    detail: r.try_get("detail")?,
                    room_id: r.try_get("room_id")?,
                })
            })
            .collect()
    }

    async fn incident_spans(&self, room_id: Option<&str>, from_ms: i64) -> Result<Vec<IncidentSpan>> {
        // Only what the indexes `incidents_spans` and `incident_log_spans` hold: the incidents'
        // rows carry the root cause's finding (often 10 KB), which the history does not need, and
        // reading them made the 90-day history of 500 rooms take 400 ms on SQLite. An incident
        // that reopened brings the times of its reopened (negated) and resolved entries,
        // comma-separated. All of it comes as one JSON array: on SQLite each row of a result
        // crosses from the connection's thread to the caller's on its own, and 7,000 rows took
        // 50 ms that way.
        let (agg, array, list) = match self.backend {
            Backend::Postgres => ("json_agg", "json_build_array", "string_agg(CAST("),
            Backend::Sqlite => ("json_group_array", "json_array", "group_concat(("),
        };
        let end = match self.backend {
            Backend::Postgres => " AS TEXT), ',')",
            Backend::Sqlite => "), ',')",
        };
        let row = sqlx::query(&format!(
            "SELECT CAST({agg}({array}(room_id, signal, severity, started_ms, resolved_ms, \
             CASE WHEN reopened > 0 THEN (SELECT {list}CASE WHEN l.what = 'reopened' THEN -l.at_ms ELSE l.at_ms END{end} \
             FROM incident_log l WHERE l.incident_id = i.id AND l.what IN ('reopened', 'resolved')) END)) AS TEXT) \
             AS spans FROM incidents i \
             WHERE scope = 'room' AND ($1 = '' OR room_id = $1) AND (resolved_ms IS NULL OR resolved_ms >= $2)"
        ))
        .bind(room_id.unwrap_or(""))
        .bind(from_ms)
        .fetch_one(&self.read)
        .await?;
        let Some(text) = row.try_get::<Option<String>, _>("spans")? else { return Ok(Vec::new()) };
        let items: Vec<SpanItem> =
            serde_json::from_str(&text).map_err(|e| StoreError::Invalid(format!("incident spans: {e}")))?;
        Ok(items
            .into_iter()
            .map(|(room_id, signal, severity, started_ms, resolved_ms, times)| {
                let mut log: Vec<(i64, String)> = times
                    .unwrap_or_default()
                    .split(',')
                    .filter_map(|t| t.parse::<i64>().ok())
                    .map(|t| if t < 0 { (-t, "reopened".to_owned()) } else { (t, "resolved".to_owned()) })
                    .collect();
                // In time order; a relapse reopened and resolved in the same millisecond was
                // reopened first ("reopened" sorts before "resolved").
                log.sort_unstable();
                IncidentSpan { room_id: room_id.unwrap_or_default(), signal, severity, started_ms, resolved_ms, log }
            })
            .collect())
    }

    async fn incident_ack(&self, id: &str, at_ms: i64, by: &str, note: &str) -> Result<bool> {
        let mut tx = self.write.begin().await?;
        let done = sqlx::query("UPDATE incidents SET ack_ms = $1, ack_by = $2, ack_note = $3 WHERE id = $4")
            .bind(at_ms)
            .bind(by)
            .bind(note)
            .bind(id)
            .execute(&mut *tx)
            .await?;
        if done.rows_affected() == 0 {
            return Ok(false);
        }
        sqlx::query("INSERT INTO incident_log (incident_id, at_ms, what, detail, room_id) VALUES ($1, $2, 'acknowledged', $3, NULL)")
            .bind(id)
            .bind(at_ms)
            .bind(note)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(true)
    }

    async fn suppression_insert(&self, x: &Suppression) -> Result<()> {
        sqlx::query(
            "INSERT INTO suppressions (id, room_id, signal, reason, from_ms, until_ms, created_by, lifted_ms) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(&x.id)
        .bind(&x.room_id)
        .bind(&x.signal)
        .bind(&x.reason)
        .bind(x.from_ms)
        .bind(x.until_ms)
        .bind(&x.created_by)
        .bind(x.lifted_ms)
        .execute(&self.write)
        .await?;
        Ok(())
    }

    async fn suppressions(&self, room_id: Option<&str>) -> Result<Vec<Suppression>> {
        let rows = sqlx::query("SELECT * FROM suppressions WHERE ($1 = '' OR room_id = $1) ORDER BY from_ms DESC, id")
            .bind(room_id.unwrap_or(""))
            .fetch_all(&self.read)
            .await?;
        rows.iter()
            .map(|r| {
                Ok(Suppression {
                    id: r.try_get("id")?,
                    room_id: r.try_get("room_id")?,
                    signal: r.try_get("signal")?,
                    reason: r.try_get("reason")?,
                    from_ms: r.try_get("from_ms")?,
                    until_ms: r.try_get("until_ms")?,
                    created_by: r.try_get("created_by")?,
                    lifted_ms: r.try_get("lifted_ms")?,
                })
            })
            .collect()
    }

    async fn suppression_lift(&self, id: &str, at_ms: i64) -> Result<bool> {
        let done =
            sqlx::query("UPDATE suppressions SET lifted_ms = $1 WHERE id = $2 AND lifted_ms IS NULL AND until_ms > $1")
                .bind(at_ms)
                .bind(id)
                .execute(&self.write)
                .await?;
        Ok(done.rows_affected() > 0)
    }

    async fn window_insert(&self, w: &Window) -> Result<()> {
        sqlx::query(
            "INSERT INTO windows (id, room_id, site, days, start_min, end_min, reason, created_ms) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(&w.id)
        .bind(&w.room_id)
        .bind(&w.site)
        .bind(&w.days)
        .bind(w.start_min)
        .bind(w.end_min)
        .bind(&w.reason)
        .bind(w.created_ms)
        .execute(&self.write)
        .await?;
        Ok(())
    }

    async fn windows(&self) -> Result<Vec<Window>> {
        let rows = sqlx::query("SELECT * FROM windows ORDER BY created_ms, id").fetch_all(&self.read).await?;
        rows.iter()
            .map(|r| {
                Ok(Window {
                    id: r.try_get("id")?,
                    room_id: r.try_get("room_id")?,
                    site: r.try_get("site")?,
                    days: r.try_get("days")?,
                    start_min: r.try_get("start_min")?,
                    end_min: r.try_get("end_min")?,
                    reason: r.try_get("reason")?,
                    created_ms: r.try_get("created_ms")?,
                })
            })
            .collect()
    }

    async fn window_delete(&self, id: &str) -> Result<bool> {
        let done = sqlx::query("DELETE FROM windows WHERE id = $1").bind(id).execute(&self.write).await?;
        Ok(done.rows_affected() > 0)
    }

    async fn secret_put(&self, name: &str, sealed: &[u8], at_ms: i64) -> Result<()> {
        sqlx::query(
            "INSERT INTO secrets (name, sealed, created_ms) VALUES ($1, $2, $3) \
             ON CONFLICT (name) DO UPDATE SET sealed = excluded.sealed, created_ms = excluded.created_ms",
        )
        .bind(name)
        .bind(sealed)
        .bind(at_ms)
        .execute(&self.write)
        .await?;
        Ok(())
    }

    async fn secret_get(&self, name: &str) -> Result<Option<Vec<u8>>> {
        let row =
            sqlx::query("SELECT sealed FROM secrets WHERE name = $1").bind(name).fetch_optional(&self.read).await?;
        Ok(row.map(|r| r.try_get("sealed")).transpose()?)
    }

    async fn backup(&self, path: &Path) -> Result<()> {
        match self.backend {
            Backend::Sqlite => {
                if path.exists() {
                    return Err(StoreError::Invalid(format!("{} exists already; choose a new file", path.display())));
                }
                let target = path.to_str().ok_or_else(|| StoreError::Invalid("the backup path is not UTF-8".into()))?;
                sqlx::query("VACUUM INTO $1").bind(target).execute(&self.write).await?;
                Ok(())
            }
            Backend::Postgres => Err(StoreError::Invalid(
                "a PostgreSQL store is backed up with pg_dump (see docs/fleet.md), not by uctriage".into(),
            )),
        }
    }

    async fn ping(&self) -> Result<()> {
        sqlx::query("SELECT 1").execute(&self.read).await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, Instant};

    use super::*;

    /// Wait up to `within` for `done`, checking every 10 ms.
    async fn until<F: std::future::Future<Output = bool>>(within: Duration, mut done: impl FnMut() -> F) -> bool {
        let start = Instant::now();
        while start.elapsed() < within {
            if done().await {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        false
    }

    /// The time a record without one sorts at is written three times: the constant the queries
    /// bind, the expression they filter on, and the index migration 0014 built. They must agree,
    /// or the windows stop using the index (and a changed constant would split old rows from new).
    #[test]
    fn no_time_is_the_same_in_the_constant_the_queries_and_the_index() {
        let expr = format!("ifnull(time_ms, {NO_TIME})");
        let sqlite = SqlStore::event_time_for(Backend::Sqlite);
        assert_eq!(sqlite, expr);
        let index = include_str!("../migrations/sqlite/0014_events_one_index.sql");
        assert!(index.contains(&format!("ON events (room_id, {expr}, key)")), "{index}");
        assert_eq!(SqlStore::event_time_for(Backend::Postgres), "time_ms");
    }

    /// Two servers on one PostgreSQL database: what one changes, the other stops trusting in
    /// its memory well before the kept answer would expire (5 s for tokens, 10 s for names).
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn postgres_servers_hear_each_others_changes() {
        let Some(db) = crate::testing::Database::create().await else { return };
        let a = SqlStore::connect(&db.url).await.unwrap();
        let b = SqlStore::connect(&db.url).await.unwrap();
        let second = Duration::from_secs(1);
        assert!(until(10 * second, || async { a.kept().is_some() && b.kept().is_some() }).await, "never listening");

        let device = Token {
            id: "tk_dev".into(),
            name: "room".into(),
            role: "device".into(),
            room_id: None,
            hash: vec![1; 32],
            created_ms: 1,
            revoked_ms: None,
        };
        a.token_insert(&device).await.unwrap();
        assert_eq!(b.token("tk_dev").await.unwrap(), Some(device.clone()));
        // (The notice of the insert may empty b's map after that read: read until b keeps it.)
        let keeps = until(2 * second, || async {
            b.token("tk_dev").await.unwrap();
            b.kept().is_some_and(|h| h.devices.lookup(&"tk_dev".to_owned()).is_ok())
        });
        assert!(keeps.await, "b never kept the device token");
        // A change nobody announces is not seen while the answer is kept: b does keep it.
        sqlx::query("UPDATE tokens SET name = 'renamed' WHERE id = 'tk_dev'").execute(&a.write).await.unwrap();
        assert_eq!(b.token("tk_dev").await.unwrap().unwrap().name, "room");
        // A revoke through a reaches b in well under the 5 s b would keep its copy.
        a.token_revoke("tk_dev", 2).await.unwrap();
        let heard = until(2 * second, || async { b.token("tk_dev").await.unwrap().unwrap().revoked_ms == Some(2) });
        assert!(heard.await, "b still trusts the revoked token");

        // Room names: b keeps the room a name belongs to until a merges that room away.
        let from = a.room_resolve(&[("computer", "MTR-1")], "rm_from", 1).await.unwrap();
        let into = a.room_resolve(&[("computer", "MTR-2")], "rm_into", 1).await.unwrap();
        assert_eq!(b.room_lookup(&[("computer", "mtr-1")]).await.unwrap(), Some(from.clone()));
        let key = ("computer".to_owned(), "mtr-1".to_owned());
        assert!(b.kept().is_some_and(|h| h.names.lookup(&key).is_ok()), "b did not keep the name");
        a.room_merge(&from, &into).await.unwrap();
        let heard = until(2 * second, || async {
            b.room_lookup(&[("computer", "mtr-1")]).await.unwrap().as_deref() == Some(into.as_str())
        });
        assert!(heard.await, "b still sends mtr-1 to the merged room");

        // b's listening connection dies: b keeps nothing until it listens again, then keeps again.
        sqlx::query(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
             WHERE datname = current_database() AND query ILIKE 'listen%'",
        )
        .execute(&a.write)
        .await
        .unwrap();
        assert!(until(5 * second, || async { b.kept().is_none() || a.kept().is_none() }).await, "loss unnoticed");
        assert!(until(10 * second, || async { a.kept().is_some() && b.kept().is_some() }).await, "never back");
        drop((a, b));
        db.drop().await;
    }
}
