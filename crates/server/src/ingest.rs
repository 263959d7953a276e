//! Ingest: event batches (PowerShell `Get-WinEvent | ConvertTo-Json`, Event Viewer XML, our own
//! evidence JSON lines) and bundle uploads. Records are read with the same readers as `scan`,
//! assigned to rooms, and stored with their signals in one transaction per room, so a 2xx
//! means the batch is committed. Each record is keyed so that a batch sent twice counts once.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

use axum::body::Body;
use axum::extract::{Multipart, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::Json;
use bytes::Bytes;
use futures_util::StreamExt;
use serde::{Deserialize, Serialize};
use tokio::io::AsyncWriteExt;
use uctriage_scan::{read_records, Evidence, InputReport, ReadOptions, Source};
use uctriage_store::{Batch, Ingested, NewEvent, Observation, ReportRow, Store, StoreError, StoredBody};

use crate::auth::{random_hex, sha256, Caller, Role};
use crate::fleet;
use crate::problem::{ApiResult, Problem};
use crate::App;

#[derive(Debug, Deserialize)]
pub struct IngestQuery {
    /// The room's id, or a computer name to file the records under.
    pub room: Option<String>,
    /// The file name of an upload.
    pub name: Option<String>,
}

impl IngestQuery {
    /// The limits the API document states: at most 200 characters each, and no control
    /// characters in a room (no computer name holds one, and PostgreSQL cannot store U+0000).
    fn check(&self) -> Result<(), Problem> {
        for (what, v) in [("room", &self.room), ("name", &self.name)] {
            if v.as_ref().is_some_and(|v| v.chars().count() > 200) {
                return Err(Problem::bad_request(format!("{what} is longer than 200 characters")));
            }
        }
        check_room(self.room.as_deref())
    }
}

fn check_room(room: Option<&str>) -> Result<(), Problem> {
    if room.is_some_and(|r| r.chars().any(|c| c.is_ascii_control())) {
        return Err(Problem::bad_request("room holds a control character"));
    }
    Ok(())
}

#[derive(Debug, Default, Serialize)]
pub struct IngestResponse {
    pub accepted: u64,
    pub duplicates: u64,
    pub transitions: u64,
    pub rooms: Vec<String>,
}

/// The reader for a batch's content type.
fn shape(headers: &HeaderMap) -> Result<&'static str, Problem> {
    let ct = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
    let mime = ct.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
    match mime.as_str() {
        "application/json" => Ok("event-json"),
        "application/xml" | "text/xml" => Ok("event-xml"),
        "application/x-ndjson" | "application/jsonl" | "application/x-uctriage-evidence" => Ok("evidence-jsonl"),
        "" => Err(Problem::new(StatusCode::UNSUPPORTED_MEDIA_TYPE, "say what the batch is with a Content-Type")),
        other => Err(Problem::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            format!(
                "{other} is not an event batch: send application/json (Get-WinEvent | ConvertTo-Json), \
                 application/xml (Event Viewer XML) or application/x-ndjson (uctriage evidence)"
            ),
        )),
    }
}

/// Largest batch body read on the request's own thread (about 30 heartbeats).
const INLINE_BATCH: usize = 64 * 1024;

/// Read a batch strictly: any warning rejects the whole batch, so nothing partial is stored.
fn read_batch(name: &str, bytes: &Bytes, format: &'static str) -> Result<Vec<Evidence>, Problem> {
    let source = Source::Bytes { name: name.to_owned(), bytes: Arc::from(bytes.as_ref()) };
    let opts = ReadOptions { format: Some(format.to_owned()), ..ReadOptions::default() };
    let mut records = Vec::new();
    let mut problems = Vec::new();
    let summary = read_records(&[source], &opts, &mut |report: InputReport, mut batch: Vec<Evidence>| {
        problems.extend(report.warnings.iter().map(ToString::to_string));
        if !report.is_read() && report.warnings.is_empty() {
            problems.push(format!("{}: not readable as {format}", report.path));
        }
        records.append(&mut batch);
    });
    problems.extend(summary.warnings.iter().map(ToString::to_string));
    if problems.is_empty() {
        Ok(records)
    } else {
        problems.truncate(10);
        Err(Problem::unprocessable(format!("the batch was refused, nothing was stored: {}", problems.join("; "))))
    }
}

pub async fn events(
    State(app): State<Arc<App>>,
    caller: Caller,
    Query(q): Query<IngestQuery>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<Json<IngestResponse>> {
    caller.require(Role::Device)?;
    q.check()?;
    let started = Instant::now();
    let format = shape(&headers)?;
    // The zone the room names (push sends it); else the offset its records' times carry.
    let timezone = headers
        .get("x-uctriage-timezone")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
        .filter(|t| !t.trim().is_empty() && !uctriage_store::is_offset_zone(t))
        .or_else(|| crate::history::offset_in(&body));
    // A batch of a few dozen records reads in well under a millisecond: on this thread. Larger
    // ones go to the blocking pool so that they hold up no other request.
    let read = if body.len() <= INLINE_BATCH {
        read_batch("push", &body, format)
    } else {
        tokio::task::spawn_blocking(move || read_batch("push", &body, format)).await.map_err(Problem::internal)?
    };
    let records = match read {
        Ok(r) => r,
        Err(p) => {
            app.metrics.batches_rejected.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            return Err(p);
        }
    };
    let out = store_records(&app, &caller, q.room.as_deref(), timezone, records).await?;
    app.metrics.batches.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    app.metrics.observe_ingest(started.elapsed().as_secs_f64());
    Ok(Json(out))
}

/// A room's names: (kind, value) pairs.
type Names = Vec<(&'static str, String)>;

/// The names a record gives its room: the resource account, then the computer.
fn names_of(e: &Evidence) -> Names {
    let mut v = Vec::new();
    if let Some(a) = e.get_str("alias").filter(|a| a.contains('@')) {
        v.push(("alias", a.trim().to_lowercase()));
    }
    if let Some(c) = e.get_str("computer").filter(|c| !c.trim().is_empty()) {
        v.push(("computer", c.trim().to_lowercase()));
    }
    v
}

fn as_i64(e: &Evidence, field: &str) -> Option<i64> {
    let v = e.fields.get(field)?;
    v.as_i64().or_else(|| v.as_str().and_then(|s| s.trim().parse().ok()))
}

/// The key a record is counted once by. Windows events: room, channel, record id, time to the
/// nanosecond and event id (record ids restart when a log is cleared; the time tells the new
/// record from the old). Anything else: room and the whole record.
pub fn record_key(room: &str, e: &Evidence, body: &str) -> Vec<u8> {
    match (as_i64(e, "record_id"), e.time) {
        (Some(rid), Some(t)) => {
            let k = format!(
                "{room}\u{1f}{}\u{1f}{rid}\u{1f}{}\u{1f}{}",
                e.source,
                t.as_nanosecond(),
                as_i64(e, "event_id").unwrap_or(-1)
            );
            sha256(k.as_bytes())
        }
        _ => sha256(format!("{room}\u{1f}{body}").as_bytes()),
    }
}

/// File records under their rooms and store them, one transaction per room.
pub async fn store_records(
    app: &App,
    caller: &Caller,
    explicit: Option<&str>,
    timezone: Option<String>,
    records: Vec<Evidence>,
) -> ApiResult<IngestResponse> {
    let now = app.clock.now_ms();
    let mut by_room: HashMap<String, Vec<Evidence>> = HashMap::new();
    if let Some(bound) = &caller.room {
        if explicit.is_some_and(|r| r != bound) {
            return Err(Problem::forbidden("this token is bound to another room"));
        }
        for e in &records {
            let names = names_of(e);
            let pairs: Vec<(&str, &str)> = names.iter().map(|(k, v)| (*k, v.as_str())).collect();
            if let Some(other) = app.store.room_lookup(&pairs).await? {
                if &other != bound {
                    return Err(Problem::forbidden(format!(
                        "this token is bound to room {bound}; the batch holds events of room {other}"
                    )));
                }
            }
        }
        by_room.insert(bound.clone(), records);
    } else if let Some(r) = explicit.map(str::trim).filter(|r| !r.is_empty()) {
        let id = match app.store.room(r).await? {
            Some(room) => room.merged_into.unwrap_or(room.id),
            None => app.store.room_resolve(&[("computer", r)], &new_room_id(), now).await?,
        };
        by_room.insert(id, records);
    } else {
        // Each record by its own names; records naming none go with the batch's most common room.
        let mut keyed: Vec<(Option<Names>, Evidence)> = Vec::with_capacity(records.len());
        let mut counts: HashMap<Names, usize> = HashMap::new();
        for e in records {
            let n = names_of(&e);
            if n.is_empty() {
                keyed.push((None, e));
            } else {
                *counts.entry(n.clone()).or_default() += 1;
                keyed.push((Some(n), e));
            }
        }
        let common = counts.iter().max_by_key(|(k, n)| (**n, std::cmp::Reverse((*k).clone()))).map(|(k, _)| k.clone());
        let mut ids: HashMap<Names, String> = HashMap::new();
        for (names, e) in keyed {
            let Some(names) = names.or_else(|| common.clone()) else {
                return Err(Problem::unprocessable(
                    "cannot tell which room these records belong to: they name no computer or resource account; \
                     pass ?room=ID or use a token bound to the room",
                ));
            };
            let id = if let Some(id) = ids.get(&names) {
                id.clone()
            } else {
                let pairs: Vec<(&str, &str)> = names.iter().map(|(k, v)| (*k, v.as_str())).collect();
                let id = app.store.room_resolve(&pairs, &new_room_id(), now).await?;
                ids.insert(names, id.clone());
                id
            };
            by_room.entry(id).or_default().push(e);
        }
    }
    let mut out = IngestResponse::default();
    let mut rooms: Vec<_> = by_room.into_iter().collect();
    rooms.sort_by(|a, b| a.0.cmp(&b.0));
    for (room, mut records) in rooms {
        let batch = build_batch(&room, &mut records, now, timezone.clone(), &app.sites)?;
        let done = app.writes.ingest(&app.store, batch).await?;
        out.accepted += done.accepted;
        out.duplicates += done.duplicates;
        out.transitions += done.transitions;
        out.rooms.push(room);
    }
    app.metrics.records_accepted.fetch_add(out.accepted, std::sync::atomic::Ordering::Relaxed);
    app.metrics.records_duplicate.fetch_add(out.duplicates, std::sync::atomic::Ordering::Relaxed);
    if out.accepted > 0 {
        app.diagnose.notify_one();
    }
    Ok(out)
}

/// Stands for "the excerpt is the record's `message` field" in a stored record: most event
/// records carry their message twice, and storing it once makes every commit smaller.
const EXCERPT_IS_MESSAGE: &str = "\u{1}message";

/// A record as the store keeps it: its JSON, the excerpt left out when it repeats the message.
/// (The excerpt is swapped out and back rather than the record copied: this runs for every
/// record ingested.)
pub fn stored_body(e: &mut Evidence) -> serde_json::Result<String> {
    if !e.excerpt.is_empty() && e.get_str("message") == Some(e.excerpt.as_str()) {
        let excerpt = std::mem::replace(&mut e.excerpt, EXCERPT_IS_MESSAGE.to_owned());
        let body = serde_json::to_string(e);
        e.excerpt = excerpt;
        return body;
    }
    serde_json::to_string(e)
}

/// A stored record read back whole.
pub fn stored_record(body: &str) -> Option<Evidence> {
    let mut e: Evidence = serde_json::from_str(body).ok()?;
    if e.excerpt == EXCERPT_IS_MESSAGE {
        e.excerpt = e.get_str("message").unwrap_or_default().to_owned();
    }
    Some(e)
}

pub fn new_room_id() -> String {
    format!("rm{}", random_hex(6))
}

fn build_batch(
    room: &str,
    records: &mut [Evidence],
    now: i64,
    timezone: Option<String>,
    sites: &crate::sites::SiteMap,
) -> Result<Batch, Problem> {
    let mut batch =
        Batch { room_id: room.to_owned(), received_ms: now, timezone, silence: fleet::silence(), ..Batch::default() };
    let mut observations: Vec<Observation> = Vec::new();
    let mut newest: Option<(i64, usize)> = None;
    let mut peripherals: Option<(i64, Vec<String>)> = None;
    for (i, e) in records.iter_mut().enumerate() {
        let body = stored_body(e).map_err(Problem::internal)?;
        let time_ms = e.time.map(jiff::Timestamp::as_millisecond);
        if let Some(t) = time_ms {
            fleet::observations(i, e, t, &mut observations);
            if e.kind == "heartbeat" && newest.is_none_or(|(n, _)| t >= n) {
                newest = Some((t, i));
            }
            if e.kind == "hardware" && peripherals.as_ref().is_none_or(|(n, _)| t >= *n) {
                peripherals = Some((t, fleet::peripherals(e)));
            }
        }
        batch.events.push(NewEvent {
            key: record_key(room, e, &body),
            time_ms,
            kind: e.kind.clone(),
            source: e.source.clone(),
            event_id: as_i64(e, "event_id"),
            record_id: as_i64(e, "record_id"),
            body: StoredBody::pack(&body),
        });
    }
    batch.observations = observations;
    if let Some((t, i)) = newest {
        let mut a = fleet::attrs(&records[i]);
        a.site = sites.site_of(&a.ipv4).unwrap_or_default().to_owned();
        if let Some((_, p)) = peripherals {
            a.peripherals = p;
        }
        batch.attrs = Some((t, a));
    }
    Ok(batch)
}

/// Group commit. A commit costs more than a small batch (on SQLite its pages are written to the
/// WAL and checksummed; on PostgreSQL it is a round of statements and a WAL flush): batches that
/// arrive while the writers are busy wait together and are stored in one transaction, in the
/// order they came, each with its own result. SQLite has one writer task, PostgreSQL a few
/// ([`uctriage_store::Backend::write_groups`]). When a group fails, its batches are stored again one by one, so
/// a bad batch refuses only itself. A batch is answered only after the commit that holds it.
#[derive(Debug, Default)]
pub struct WriteGroups {
    queue: Arc<std::sync::Mutex<WriteQueue>>,
}

type Reply = tokio::sync::oneshot::Sender<Result<Ingested, StoreError>>;

#[derive(Debug, Default)]
struct WriteQueue {
    waiting: std::collections::VecDeque<(Batch, Reply)>,
    /// Writer tasks draining the queue.
    writing: usize,
}

/// Records in one group at most (a batch larger than this is a group of its own).
const GROUP_RECORDS: usize = 5_000;

impl WriteGroups {
    pub async fn ingest(&self, store: &Arc<dyn Store>, batch: Batch) -> Result<Ingested, StoreError> {
        let (reply, answer) = tokio::sync::oneshot::channel();
        let start = {
            let mut q = self.queue.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            q.waiting.push_back((batch, reply));
            let start = q.writing < store.backend().write_groups();
            q.writing += usize::from(start);
            start
        };
        if start {
            // A task of its own: a request that goes away must not take the group with it.
            tokio::spawn(write_groups(store.clone(), self.queue.clone()));
        }
        answer.await.unwrap_or_else(|_| Err(StoreError::Invalid("the batch writer stopped; send it again".into())))
    }
}

async fn write_groups(store: Arc<dyn Store>, queue: Arc<std::sync::Mutex<WriteQueue>>) {
    /// If this task ends by a panic, the next batch starts a new writer.
    struct Unwinding(Option<Arc<std::sync::Mutex<WriteQueue>>>);
    impl Drop for Unwinding {
        fn drop(&mut self) {
            if let Some(q) = self.0.take() {
                q.lock().unwrap_or_else(std::sync::PoisonError::into_inner).writing -= 1;
            }
        }
    }
    let mut unwinding = Unwinding(Some(queue.clone()));
    loop {
        let (batches, replies): (Vec<Batch>, Vec<Reply>) = {
            let mut q = queue.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            let mut records = 0;
            let mut group = Vec::new();
            while let Some((b, _)) = q.waiting.front() {
                if !group.is_empty() && records + b.events.len() > GROUP_RECORDS {
                    break;
                }
                records += b.events.len();
                group.extend(q.waiting.pop_front());
            }
            if group.is_empty() {
                q.writing -= 1;
                unwinding.0 = None;
                return;
            }
            group.into_iter().unzip()
        };
        match store.ingest_many(&batches).await {
            Ok(done) => {
                for (reply, d) in replies.into_iter().zip(done) {
                    let _ = reply.send(Ok(d));
                }
            }
            Err(e) if batches.len() == 1 => {
                let _ = replies.into_iter().next().map(|r| r.send(Err(e)));
            }
            Err(_) => {
                for (b, reply) in batches.iter().zip(replies) {
                    let _ = reply.send(store.ingest(b).await);
                }
            }
        }
    }
}

/// Upload limits.
#[derive(Debug, Clone, Copy)]
pub struct UploadLimits {
    pub max_bytes: u64,
    pub quota_bytes: u64,
}

/// `POST /api/v1/uploads`: a bundle as the raw body or as `multipart/form-data` (field `file`,
/// optional field `room`), streamed to disk and scanned in the background.
pub async fn upload(
    State(app): State<Arc<App>>,
    caller: Caller,
    Query(q): Query<IngestQuery>,
    headers: HeaderMap,
    request: axum::extract::Request,
) -> ApiResult<(StatusCode, Json<ReportRow>)> {
    caller.require(Role::Device)?;
    q.check()?;
    let id = format!("rp{}", random_hex(8));
    let dir = app.data_dir.join("uploads");
    tokio::fs::create_dir_all(&dir).await.map_err(Problem::internal)?;
    let path = dir.join(format!("{id}.upload"));
    let multipart = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|c| c.to_ascii_lowercase().starts_with("multipart/form-data"));
    let mut room = q.room.as_deref().map(str::trim).filter(|r| !r.is_empty()).map(str::to_owned);
    let mut name = q.name.clone().unwrap_or_else(|| "upload".into());
    let written = if multipart {
        let mut form = <Multipart as axum::extract::FromRequest<Arc<App>>>::from_request(request, &app)
            .await
            .map_err(|e| Problem::bad_request(format!("not a readable multipart form: {e}")))?;
        let mut size = None;
        while let Some(field) = form.next_field().await.map_err(|e| Problem::bad_request(format!("multipart: {e}")))? {
            match field.name() {
                Some("file") => {
                    if let Some(f) = field.file_name() {
                        name = f.to_owned();
                    }
                    let stream = field.map(|c| c.map_err(std::io::Error::other));
                    size = Some(save(stream, &path, app.limits.max_bytes).await?);
                }
                Some("room") => {
                    let v = field.text().await.map_err(|e| Problem::bad_request(format!("multipart: {e}")))?;
                    if v.chars().count() > 200 {
                        return Err(Problem::bad_request("room is longer than 200 characters"));
                    }
                    check_room(Some(&v))?;
                    if !v.trim().is_empty() {
                        room = Some(v.trim().to_owned());
                    }
                }
                _ => {}
            }
        }
        size.ok_or_else(|| Problem::bad_request("the form has no field named file"))?
    } else {
        let stream = Body::into_data_stream(request.into_body()).map(|c| c.map_err(std::io::Error::other));
        save(stream, &path, app.limits.max_bytes).await?
    };
    let name: String = name.chars().filter(|c| !c.is_control()).take(200).collect();
    let reject = |p: Problem| {
        let path = path.clone();
        async move {
            let _ = tokio::fs::remove_file(&path).await;
            Err(p)
        }
    };
    if written == 0 {
        return reject(Problem::bad_request("the upload is empty")).await;
    }
    if let Some(bound) = &caller.room {
        if room.as_ref().is_some_and(|r| r != bound) {
            return reject(Problem::forbidden("this token is bound to another room")).await;
        }
        room = Some(bound.clone());
    }
    if app.store.upload_bytes().await? + i64::try_from(written).unwrap_or(i64::MAX)
        > i64::try_from(app.limits.quota_bytes).unwrap_or(i64::MAX)
    {
        return reject(Problem::new(
            StatusCode::INSUFFICIENT_STORAGE,
            "the upload quota is full; older uploads are removed after the retention period",
        ))
        .await;
    }
    let check_path = path.clone();
    if let Err(p) = tokio::task::spawn_blocking(move || precheck_zip(&check_path)).await.map_err(Problem::internal)? {
        return reject(p).await;
    }
    let room_id = match room {
        Some(r) => Some(match app.store.room(&r).await? {
            Some(room) => room.id,
            None => app.store.room_resolve(&[("computer", &r)], &new_room_id(), app.clock.now_ms()).await?,
        }),
        None => None,
    };
    let row = ReportRow {
        id: id.clone(),
        room_id,
        name,
        status: "queued".into(),
        size: i64::try_from(written).unwrap_or(i64::MAX),
        created_ms: app.clock.now_ms(),
        finished_ms: None,
        file: Some(path.display().to_string()),
        report: None,
        error: None,
        report_redacted: None,
    };
    app.store.report_insert(&row).await?;
    app.store.audit(row.created_ms, &caller.token_id, "upload", &id, &row.name).await?;
    app.metrics.uploads.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    app.reports.notify_one();
    Ok((StatusCode::ACCEPTED, Json(row)))
}

/// Write a stream to `path`, at most `max` bytes; a partial file is removed.
async fn save<S>(mut stream: S, path: &std::path::Path, max: u64) -> Result<u64, Problem>
where
    S: futures_util::Stream<Item = Result<Bytes, std::io::Error>> + Unpin,
{
    let tmp = path.with_extension("part");
    let mut f = tokio::fs::File::create(&tmp).await.map_err(Problem::internal)?;
    let mut n = 0u64;
    let result = async {
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(|e| Problem::bad_request(format!("the upload broke off: {e}")))?;
            n += chunk.len() as u64;
            if n > max {
                return Err(Problem::new(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    format!("the upload is larger than the server's limit of {max} bytes"),
                ));
            }
            f.write_all(&chunk).await.map_err(Problem::internal)?;
        }
        f.sync_all().await.map_err(Problem::internal)?;
        Ok(n)
    }
    .await;
    match result {
        Ok(n) => {
            tokio::fs::rename(&tmp, path).await.map_err(Problem::internal)?;
            Ok(n)
        }
        Err(p) => {
            let _ = tokio::fs::remove_file(&tmp).await;
            Err(p)
        }
    }
}

/// Refuse at once a zip whose directory is hostile: too many entries, sizes or ratios of a bomb,
/// or nothing but encrypted entries. What lies about its sizes is stopped while it is scanned.
fn precheck_zip(path: &std::path::Path) -> Result<(), Problem> {
    let mut head = [0u8; 4];
    let Ok(mut f) = std::fs::File::open(path) else { return Err(Problem::internal("upload vanished")) };
    if std::io::Read::read_exact(&mut f, &mut head).is_err() || &head != b"PK\x03\x04" {
        return Ok(());
    }
    let bad = |m: String| Problem::unprocessable(format!("the zip was refused: {m}"));
    let mut zip = zip::ZipArchive::new(f).map_err(|e| bad(format!("not a readable zip ({e})")))?;
    let defaults = ReadOptions::default();
    if zip.len() > defaults.max_zip_entries {
        return Err(bad(format!("{} entries (the limit is {})", zip.len(), defaults.max_zip_entries)));
    }
    let mut total = 0u64;
    let mut readable = 0usize;
    for i in 0..zip.len() {
        let Ok(entry) = zip.by_index_raw(i) else { return Err(bad(format!("entry {i} is damaged"))) };
        total = total.saturating_add(entry.size());
        if entry.size() > 1 << 20 && entry.size() / entry.compressed_size().max(1) > defaults.max_ratio {
            return Err(bad(format!(
                "{} expands {}-fold (a zip bomb?)",
                entry.name().unwrap_or_default(),
                entry.size() / entry.compressed_size().max(1)
            )));
        }
        if !entry.encrypted() {
            readable += 1;
        }
    }
    if total > defaults.max_total_bytes {
        return Err(bad(format!("it claims {total} bytes uncompressed (the limit is {})", defaults.max_total_bytes)));
    }
    if readable == 0 && !zip.is_empty() {
        return Err(bad("every entry is encrypted".into()));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_room_in_the_query_is_checked_as_the_api_document_says() {
        let q = |room: &str| IngestQuery { room: Some(room.to_owned()), name: None }.check().map_err(|p| p.status);
        assert!(q("MTR-BOARDROOM").is_ok());
        assert!(q("Salle de réunion \u{85}").is_ok(), "only ASCII control characters are refused");
        assert_eq!(q(&"x".repeat(201)), Err(400));
        assert_eq!(q("MTR-\u{0}"), Err(400));
        assert_eq!(q("MTR-\u{1b}[31m"), Err(400));
        let long_name = IngestQuery { room: None, name: Some("é".repeat(201)) };
        assert_eq!(long_name.check().map_err(|p| p.status), Err(400));
    }

    #[test]
    fn a_stored_record_reads_back_the_same_and_keeps_its_message_once() {
        let batch: &[u8] = include_bytes!("../../sources/tests/fixtures/event-json/get-winevent.json");
        let mut records = read_batch("push", &Bytes::from_static(batch), "event-json").unwrap();
        assert!(!records.is_empty());
        let mut shortened = 0;
        for e in &mut records {
            let body = stored_body(e).unwrap();
            assert_eq!(stored_record(&body).as_ref(), Some(&*e), "{body}");
            if e.get_str("message") == Some(e.excerpt.as_str()) {
                shortened += 1;
                assert!(body.len() + e.excerpt.len() / 2 < serde_json::to_string(e).unwrap().len(), "{body}");
            }
        }
        assert!(shortened > 0, "the fixture has records whose excerpt is their message");
        // A record whose excerpt is not its message is stored as it is.
        let mut other = records[0].clone();
        other.excerpt = "something else".into();
        assert_eq!(stored_record(&stored_body(&mut other.clone()).unwrap()), Some(other));
    }
}
