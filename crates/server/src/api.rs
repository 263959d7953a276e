//! The read and admin routes: rooms, reports, tokens, audit, health and metrics.

use std::fmt::Write as _;
use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::{Deserialize, Serialize};
use uctriage_scan::ScanReport;
use uctriage_store::{Page, ReportRow, Room, RoomPatch, Token, Transition};

use crate::auth::{new_token, Caller, Role};
use crate::fleet::{self, rfc3339, RoomState};
use crate::problem::{ApiResult, Problem};
use crate::App;

const DEFAULT_LIMIT: u32 = 100;
const MAX_LIMIT: u32 = 1000;

#[derive(Debug, Deserialize)]
pub struct ListQuery {
    pub limit: Option<u32>,
    #[serde(default, deserialize_with = "empty_as_none")]
    pub cursor: Option<String>,
    pub state: Option<String>,
    pub signal: Option<String>,
    pub version: Option<String>,
    pub name: Option<String>,
    pub site: Option<String>,
}

/// An empty query value (`?cursor=`) is the same as none.
fn empty_as_none<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    Ok(Option::<String>::deserialize(d)?.filter(|s| !s.is_empty()))
}

fn limit(q: Option<u32>) -> Result<u32, Problem> {
    match q {
        None => Ok(DEFAULT_LIMIT),
        Some(n) if (1..=MAX_LIMIT).contains(&n) => Ok(n),
        Some(n) => Err(Problem::bad_request(format!("limit {n} is out of range (1 to {MAX_LIMIT})"))),
    }
}

/// A page of items and the cursor of the next page (absent on the last).
#[derive(Debug, Serialize)]
pub struct Paged<T> {
    pub items: Vec<T>,
    pub next_cursor: Option<String>,
}

/// The rule engine's top answer for a room.
#[derive(Debug, Clone, Serialize)]
pub struct TopFinding {
    pub rule: String,
    pub severity: String,
    pub title: String,
    pub codes: Vec<String>,
    pub layer: String,
    pub cause: String,
    pub fix: Vec<String>,
    /// One line: the title and its codes.
    pub summary: String,
}

#[derive(Debug, Serialize)]
pub struct RoomSummary {
    pub id: String,
    pub name: String,
    pub computer: String,
    pub alias: String,
    pub display_name: String,
    pub site: String,
    pub tags: Vec<String>,
    pub state: &'static str,
    pub app_version: String,
    pub os_version: String,
    pub last_heard: String,
    pub last_heartbeat: Option<String>,
    pub signals: Vec<fleet::SignalView>,
    pub top_finding: Option<TopFinding>,
    /// The whole room is suppressed now: its incidents are recorded but not alerted.
    pub suppressed: bool,
}

#[derive(Debug, Serialize)]
pub struct RoomDetail {
    #[serde(flatten)]
    pub summary: RoomSummary,
    pub model: String,
    pub peripherals: Vec<String>,
    pub ipv4: String,
    pub timezone: String,
    pub retired: bool,
    pub merged_into: Option<String>,
    pub transitions: Vec<TransitionView>,
    /// Records stored for the room (each counted once, however often it was sent).
    pub records: i64,
    /// The full diagnosis of the room's recent records, as `scan --format json` gives it.
    pub diagnosis: Option<ScanReport>,
    pub diagnosed: Option<String>,
    /// Records arrived after the diagnosis; it is being renewed.
    pub diagnosis_pending: bool,
    pub reports: Vec<ReportRow>,
}

#[derive(Debug, Serialize)]
pub struct TransitionView {
    pub signal: String,
    pub from: String,
    pub to: String,
    pub status: String,
    pub at: String,
}

impl From<Transition> for TransitionView {
    fn from(t: Transition) -> Self {
        TransitionView { signal: t.signal, from: t.from_state, to: t.to_state, status: t.status, at: rfc3339(t.at_ms) }
    }
}

fn top_finding(report: &ScanReport) -> Option<TopFinding> {
    let f = report.findings.first()?;
    let codes: Vec<String> = f.codes.iter().map(ToString::to_string).collect();
    let severity =
        serde_json::to_value(f.severity).ok().and_then(|v| v.as_str().map(str::to_owned)).unwrap_or_default();
    let summary = if codes.is_empty() { f.title.clone() } else { format!("{} ({})", f.title, codes.join(", ")) };
    Some(TopFinding {
        rule: f.rule.clone(),
        severity,
        title: f.title.clone(),
        codes,
        layer: f.layer.clone(),
        cause: f.cause.clone(),
        fix: f.fix.clone(),
        summary,
    })
}

async fn judge(app: &App, room: &Room) -> ApiResult<RoomState> {
    let now = app.clock.now_ms();
    let rows = app.store.signals(&room.id).await?;
    let window = fleet::signals().iter().find(|s| s.kind == "app-restart").and_then(|s| s.window).unwrap_or(1440);
    let restarts = app.store.event_count_kind(&room.id, "app-restart", now - i64::from(window) * 60_000, now).await?;
    Ok(fleet::judge(room, &rows, now, u64::try_from(restarts).unwrap_or(0)))
}

fn summary(room: &Room, state: RoomState, report: Option<&ScanReport>) -> RoomSummary {
    let name = room.label().to_owned();
    RoomSummary {
        id: room.id.clone(),
        name,
        computer: room.computer.clone(),
        alias: room.alias.clone(),
        display_name: room.display_name.clone(),
        site: room.site.clone(),
        tags: room.tags.clone(),
        state: state.state,
        app_version: state.app_version,
        os_version: state.os_version,
        last_heard: rfc3339(room.last_heard_ms),
        last_heartbeat: room.last_heartbeat_ms.map(rfc3339),
        signals: state.signals,
        top_finding: report.and_then(top_finding),
        suppressed: false,
    }
}

async fn room_suppressed(app: &App, id: &str) -> ApiResult<bool> {
    let now = app.clock.now_ms();
    Ok(app.store.suppressions(Some(id)).await?.iter().any(|s| s.signal.is_empty() && s.covers("", now)))
}

fn parse_report(room: &Room) -> Option<ScanReport> {
    room.diagnosis.as_deref().and_then(|d| serde_json::from_str(d).ok())
}

pub async fn rooms(
    State(app): State<Arc<App>>,
    caller: Caller,
    Query(q): Query<ListQuery>,
) -> ApiResult<Json<Paged<RoomSummary>>> {
    caller.require(Role::Viewer)?;
    let limit = limit(q.limit)?;
    if let Some(s) = &q.state {
        if !["healthy", "unhealthy", "offline", "unknown", "retired"].contains(&s.as_str()) {
            return Err(Problem::bad_request(format!(
                "state {s:?} is none of healthy, unhealthy, offline, unknown, retired"
            )));
        }
    }
    let mut items = Vec::new();
    let mut next = None;
    for room in app.store.rooms().await? {
        if room.merged_into.is_some() || q.cursor.as_deref().is_some_and(|c| room.id.as_str() <= c) {
            continue;
        }
        let state = judge(&app, &room).await?;
        let contains = |hay: &str, needle: &str| hay.to_lowercase().contains(&needle.to_lowercase());
        let keep = q.state.as_deref().is_none_or(|s| s == state.state)
            && q.signal.as_deref().is_none_or(|s| {
                state
                    .signals
                    .iter()
                    .any(|v| (v.id == s || v.id.starts_with(&format!("{s}:"))) && v.state == "unhealthy")
            })
            && q.version.as_deref().is_none_or(|v| state.app_version == v)
            && q.site.as_deref().is_none_or(|v| room.site.eq_ignore_ascii_case(v))
            && q.name.as_deref().is_none_or(|n| {
                [&room.name, &room.display_name, &room.computer, &room.alias].iter().any(|h| contains(h, n))
            });
        if !keep {
            continue;
        }
        if items.len() == limit as usize {
            next = items.last().map(|r: &RoomSummary| r.id.clone());
            break;
        }
        let report = parse_report(&room);
        let mut s = summary(&room, state, report.as_ref());
        s.suppressed = room_suppressed(&app, &room.id).await?;
        items.push(s);
    }
    Ok(Json(Paged { items, next_cursor: next }))
}

pub async fn room(State(app): State<Arc<App>>, caller: Caller, Path(id): Path<String>) -> ApiResult<Json<RoomDetail>> {
    caller.require(Role::Viewer)?;
    let room = app.store.room(&id).await?.ok_or_else(|| Problem::not_found(format!("room {id}")))?;
    let state = judge(&app, &room).await?;
    let report = parse_report(&room);
    let transitions = app.store.transitions(&id, 200).await?.into_iter().map(TransitionView::from).collect();
    let reports = app.store.reports(&id).await?;
    let records = app.store.room_event_count(&id).await?;
    Ok(Json(RoomDetail {
        model: room.model.clone(),
        peripherals: room.peripherals.clone(),
        ipv4: room.ipv4.clone(),
        timezone: room.timezone.clone(),
        retired: room.retired,
        merged_into: room.merged_into.clone(),
        transitions,
        records,
        diagnosed: room.diagnosis_ms.map(rfc3339),
        diagnosis_pending: room.dirty,
        reports,
        summary: RoomSummary {
            suppressed: room_suppressed(&app, &room.id).await?,
            ..summary(&room, state, report.as_ref())
        },
        diagnosis: report,
    }))
}

pub async fn room_patch(
    State(app): State<Arc<App>>,
    caller: Caller,
    Path(id): Path<String>,
    Json(patch): Json<RoomPatch>,
) -> ApiResult<Json<RoomDetail>> {
    caller.require(Role::Admin)?;
    for (what, v) in [("name", &patch.name), ("site", &patch.site)] {
        if v.as_ref().is_some_and(|s| s.chars().count() > 200) {
            return Err(Problem::unprocessable(format!("{what} is longer than 200 characters")));
        }
    }
    if patch.timezone.as_ref().is_some_and(|t| t.chars().count() > 100) {
        return Err(Problem::unprocessable("timezone is longer than 100 characters"));
    }
    if patch.tags.as_ref().is_some_and(|t| t.len() > 50 || t.iter().any(|s| s.chars().count() > 64)) {
        return Err(Problem::unprocessable("at most 50 tags of at most 64 characters"));
    }
    app.store.room_patch(&id, &patch).await?.ok_or_else(|| Problem::not_found(format!("room {id}")))?;
    let detail = serde_json::to_string(&serde_json::json!({
        "name": patch.name, "site": patch.site, "tags": patch.tags, "retired": patch.retired
    }))
    .unwrap_or_default();
    app.store.audit(app.clock.now_ms(), &caller.token_id, "room.update", &id, &detail).await?;
    room(State(app), caller, Path(id)).await
}

#[derive(Debug, Deserialize)]
pub struct MergeBody {
    pub into: String,
}

pub async fn room_merge(
    State(app): State<Arc<App>>,
    caller: Caller,
    Path(id): Path<String>,
    Json(body): Json<MergeBody>,
) -> ApiResult<Json<RoomDetail>> {
    caller.require(Role::Admin)?;
    app.store.room_merge(&id, &body.into).await?;
    app.store.audit(app.clock.now_ms(), &caller.token_id, "room.merge", &id, &format!("into {}", body.into)).await?;
    app.diagnose.notify_one();
    room(State(app), caller, Path(body.into)).await
}

#[derive(Debug, Serialize)]
pub struct ReportView {
    #[serde(flatten)]
    pub row: ReportRow,
    pub report: Option<ScanReport>,
}

impl ReportView {
    /// The report redacted for sharing: as redacted at scan time (with the names read from the
    /// bundle), or, for a report stored before that was kept, redacted by pattern now.
    pub fn redacted(&self) -> Option<ScanReport> {
        if let Some(r) = self.row.report_redacted.as_deref().and_then(|r| serde_json::from_str(r).ok()) {
            return Some(r);
        }
        let mut r = self.report.clone()?;
        r.redact(&mut uctriage_report::Redactor::new());
        Some(r)
    }
}

pub async fn report(
    State(app): State<Arc<App>>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<ReportView>> {
    caller.require(Role::Viewer)?;
    let row = app.store.report(&id).await?.ok_or_else(|| Problem::not_found(format!("report {id}")))?;
    let report = row.report.as_deref().and_then(|r| serde_json::from_str(r).ok());
    Ok(Json(ReportView { row, report }))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewToken {
    pub role: String,
    pub room: Option<String>,
    pub name: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct CreatedToken {
    #[serde(flatten)]
    pub info: Token,
    /// The whole token, shown this once.
    pub token: String,
}

pub async fn token_create(
    State(app): State<Arc<App>>,
    caller: Caller,
    Json(body): Json<NewToken>,
) -> ApiResult<(StatusCode, Json<CreatedToken>)> {
    caller.require(Role::Admin)?;
    let role = Role::parse(&body.role)
        .ok_or_else(|| Problem::unprocessable(format!("role {:?} is none of admin, viewer, device", body.role)))?;
    // An empty room binds the token to none, as null does.
    let room = body.room.filter(|r| !r.is_empty());
    if room.is_some() && role != Role::Device {
        return Err(Problem::unprocessable("only a device token can be bound to a room"));
    }
    if let Some(r) = &room {
        app.store.room(r).await?.ok_or_else(|| Problem::unprocessable(format!("room {r} does not exist")))?;
    }
    let name = body.name.unwrap_or_default();
    if name.chars().count() > 100 {
        return Err(Problem::unprocessable("the name is longer than 100 characters"));
    }
    let created = create_token(&app, role, room, &name, &caller.token_id).await?;
    Ok((StatusCode::CREATED, Json(created)))
}

/// Create and store a token, audited under `actor`.
pub async fn create_token(
    app: &App,
    role: Role,
    room: Option<String>,
    name: &str,
    actor: &str,
) -> ApiResult<CreatedToken> {
    let (id, whole, hash) = new_token();
    let info = Token {
        id,
        name: name.to_owned(),
        role: role.as_str().into(),
        room_id: room,
        hash,
        created_ms: app.clock.now_ms(),
        revoked_ms: None,
    };
    app.store.token_insert(&info).await?;
    let detail =
        format!("role {}{}", info.role, info.room_id.as_deref().map(|r| format!(", room {r}")).unwrap_or_default());
    app.store.audit(info.created_ms, actor, "token.create", &info.id, &detail).await?;
    Ok(CreatedToken { info, token: whole })
}

pub async fn tokens(State(app): State<Arc<App>>, caller: Caller) -> ApiResult<Json<Paged<Token>>> {
    caller.require(Role::Admin)?;
    Ok(Json(Paged { items: app.store.tokens().await?, next_cursor: None }))
}

pub async fn token_revoke(
    State(app): State<Arc<App>>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    caller.require(Role::Admin)?;
    if !app.store.token_revoke(&id, app.clock.now_ms()).await? {
        return Err(Problem::not_found(format!("active token {id}")));
    }
    app.store.audit(app.clock.now_ms(), &caller.token_id, "token.revoke", &id, "").await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Serialize)]
pub struct AuditView {
    pub seq: i64,
    pub at: String,
    pub actor: String,
    pub action: String,
    pub target: String,
    pub detail: String,
}

pub async fn audit(
    State(app): State<Arc<App>>,
    caller: Caller,
    Query(q): Query<ListQuery>,
) -> ApiResult<Json<Paged<AuditView>>> {
    caller.require(Role::Admin)?;
    let limit = limit(q.limit)?;
    if q.cursor.as_deref().is_some_and(|c| c.parse::<i64>().is_err()) {
        return Err(Problem::bad_request("the cursor is not one this server gave"));
    }
    let rows = app.store.audit_list(&Page { limit, after: q.cursor.clone() }).await?;
    let next = (rows.len() == limit as usize).then(|| rows.last().map(|r| r.seq.to_string())).flatten();
    let items = rows
        .into_iter()
        .map(|a| AuditView {
            seq: a.seq,
            at: rfc3339(a.at_ms),
            actor: a.actor,
            action: a.action,
            target: a.target,
            detail: a.detail,
        })
        .collect();
    Ok(Json(Paged { items, next_cursor: next }))
}

/// Alive. `X-Uctriage-Now` tells clients the server's clock (the fleet seed builds its rooms'
/// history up to that moment).
pub async fn healthz(State(app): State<Arc<App>>) -> Response {
    ([("x-uctriage-now", rfc3339(app.clock.now_ms()))], "ok\n").into_response()
}

pub async fn readyz(State(app): State<Arc<App>>) -> Response {
    match app.store.ping().await {
        Ok(()) => "ready\n".into_response(),
        Err(e) => {
            Problem::new(StatusCode::SERVICE_UNAVAILABLE, format!("the database does not answer: {e}")).into_response()
        }
    }
}

pub async fn metrics(State(app): State<Arc<App>>, caller: Caller) -> ApiResult<Response> {
    caller.require(Role::Viewer)?;
    let mut counts: Vec<(&str, u64)> =
        ["healthy", "unhealthy", "offline", "unknown", "retired"].iter().map(|s| (*s, 0)).collect();
    for room in app.store.rooms_brief().await? {
        if room.merged_into.is_some() {
            continue;
        }
        let s = judge(&app, &room).await?.state;
        if let Some(c) = counts.iter_mut().find(|(k, _)| *k == s) {
            c.1 += 1;
        }
    }
    let mut body = app.metrics.render(&counts);
    let open = app
        .store
        .incidents(
            &uctriage_store::IncidentFilter { state: Some("open".into()), ..Default::default() },
            &Page { limit: 100_000, after: None },
        )
        .await?;
    body.push_str("# HELP uctriage_alerts Alerts by delivery state.\n# TYPE uctriage_alerts gauge\n");
    for (state, n) in app.store.alert_counts().await? {
        let _ = writeln!(body, "uctriage_alerts{{state=\"{state}\"}} {n}");
    }
    body.push_str(
        "# HELP uctriage_incidents_open Open incidents by scope and severity.\n# TYPE uctriage_incidents_open gauge\n",
    );
    for scope in ["room", "fleet"] {
        for sev in ["critical", "important", "warning", "recommended"] {
            let n = open.iter().filter(|i| i.scope == scope && i.severity == sev).count();
            let _ = writeln!(body, "uctriage_incidents_open{{scope=\"{scope}\",severity=\"{sev}\"}} {n}");
        }
    }
    Ok(([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], body).into_response())
}

pub async fn openapi(caller: Caller) -> ApiResult<Response> {
    caller.require(Role::Device).or_else(|_| caller.require(Role::Viewer))?;
    Ok(([(header::CONTENT_TYPE, "application/json")], crate::OPENAPI).into_response())
}

pub fn not_found() -> Problem {
    Problem::not_found("this route")
}

#[derive(Debug, Deserialize)]
pub struct IncidentQuery {
    pub limit: Option<u32>,
    pub cursor: Option<String>,
    /// `room` or `fleet`.
    pub scope: Option<String>,
    /// `open`, `resolved` (within the reopen period) or `closed`.
    pub state: Option<String>,
    pub room: Option<String>,
}

/// An incident as the API shows it.
#[derive(Debug, Serialize)]
pub struct IncidentView {
    pub id: String,
    pub scope: String,
    pub room_id: Option<String>,
    pub room_name: Option<String>,
    pub signal: String,
    pub severity: String,
    /// `open`, `resolved`, or `closed` (resolved more than 7 days ago: a relapse opens a new one).
    pub state: &'static str,
    pub started: String,
    pub opened: String,
    pub resolved: Option<String>,
    pub reopened: i64,
    pub fleet_incident: Option<String>,
    pub rule: String,
    pub summary: String,
    /// Rooms affected (fleet incidents).
    pub rooms: usize,
    pub acknowledged: Option<String>,
    pub acknowledged_by: Option<String>,
    pub ack_note: Option<String>,
}

fn incident_state(i: &uctriage_store::Incident, now: i64) -> &'static str {
    match (i.state.as_str(), i.resolved_ms) {
        ("open", _) => "open",
        (_, Some(r)) if now - r > crate::incidents::REOPEN_MS => "closed",
        _ => "resolved",
    }
}

async fn incident_view(
    app: &App,
    i: uctriage_store::Incident,
    names: &std::collections::HashMap<String, String>,
) -> ApiResult<IncidentView> {
    let rooms = if i.scope == "fleet" {
        let kids = app
            .store
            .incidents(
                &uctriage_store::IncidentFilter { parent_id: Some(i.id.clone()), ..Default::default() },
                &Page { limit: 10_000, after: None },
            )
            .await?;
        kids.iter().filter_map(|k| k.room_id.as_deref()).collect::<std::collections::BTreeSet<_>>().len()
    } else {
        1
    };
    Ok(IncidentView {
        state: incident_state(&i, app.clock.now_ms()),
        room_name: i.room_id.as_ref().and_then(|r| names.get(r).cloned()),
        started: rfc3339(i.started_ms),
        opened: rfc3339(i.opened_ms),
        resolved: i.resolved_ms.map(rfc3339),
        acknowledged: i.ack_ms.map(rfc3339),
        rooms,
        id: i.id,
        scope: i.scope,
        room_id: i.room_id,
        signal: i.signal,
        severity: i.severity,
        reopened: i.reopened,
        fleet_incident: i.parent_id,
        rule: i.rule,
        summary: i.summary,
        acknowledged_by: i.ack_by,
        ack_note: i.ack_note,
    })
}

async fn room_names(app: &App) -> ApiResult<std::collections::HashMap<String, String>> {
    Ok(app.store.rooms_brief().await?.into_iter().map(|r| (r.id.clone(), r.label().to_owned())).collect())
}

pub async fn incidents(
    State(app): State<Arc<App>>,
    caller: Caller,
    Query(q): Query<IncidentQuery>,
) -> ApiResult<Json<Paged<IncidentView>>> {
    caller.require(Role::Viewer)?;
    let limit = limit(q.limit)?;
    if q.scope.as_deref().is_some_and(|s| s != "room" && s != "fleet") {
        return Err(Problem::bad_request("scope is room or fleet"));
    }
    let wanted = q.state.clone();
    if wanted.as_deref().is_some_and(|s| !["open", "resolved", "closed"].contains(&s)) {
        return Err(Problem::bad_request("state is open, resolved or closed"));
    }
    if q.cursor.as_deref().is_some_and(|c| c.split_once(':').is_none_or(|(ms, _)| ms.parse::<i64>().is_err())) {
        return Err(Problem::bad_request("the cursor is not one this server gave"));
    }
    let filter = uctriage_store::IncidentFilter {
        scope: q.scope.clone(),
        state: wanted.as_deref().map(|s| if s == "open" { "open" } else { "resolved" }.to_owned()),
        room_id: q.room.clone(),
        ..Default::default()
    };
    let names = room_names(&app).await?;
    let now = app.clock.now_ms();
    let mut items = Vec::new();
    let mut after = q.cursor.clone();
    // Closed and resolved share a stored state; page until the page is full or the list ends.
    'pages: loop {
        let rows = app.store.incidents(&filter, &Page { limit, after: after.clone() }).await?;
        let last = rows.len() < limit as usize;
        for i in rows {
            after = Some(format!("{}:{}", i.opened_ms, i.id));
            if wanted.as_deref().is_some_and(|w| w != incident_state(&i, now)) {
                continue;
            }
            items.push(incident_view(&app, i, &names).await?);
            if items.len() == limit as usize {
                break 'pages;
            }
        }
        if last {
            after = None;
            break;
        }
    }
    let next = if items.len() == limit as usize { after } else { None };
    Ok(Json(Paged { items, next_cursor: next }))
}

#[derive(Debug, Serialize)]
pub struct IncidentDetail {
    #[serde(flatten)]
    pub incident: IncidentView,
    /// The root cause as `scan` reports it: codes, layer, cause, fixes in order, evidence.
    pub finding: Option<serde_json::Value>,
    pub timeline: Vec<IncidentLogView>,
    /// Fleet incidents: each room, when it started, and its own incidents.
    pub members: Vec<IncidentView>,
    /// Fleet incidents: what every affected room has in common.
    pub shared: std::collections::BTreeMap<String, String>,
    /// Alerts sent (or being sent) about it.
    pub deliveries: Vec<uctriage_store::Alert>,
}

#[derive(Debug, Serialize)]
pub struct IncidentLogView {
    pub at: String,
    pub what: String,
    pub detail: String,
    pub room_id: Option<String>,
}

pub async fn incident(
    State(app): State<Arc<App>>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<IncidentDetail>> {
    caller.require(Role::Viewer)?;
    let i = app.store.incident(&id).await?.ok_or_else(|| Problem::not_found(format!("incident {id}")))?;
    let finding = i.finding.as_deref().and_then(|f| serde_json::from_str(f).ok());
    let timeline = app
        .store
        .incident_log(&id)
        .await?
        .into_iter()
        .map(|l| IncidentLogView { at: rfc3339(l.at_ms), what: l.what, detail: l.detail, room_id: l.room_id })
        .collect();
    let names = room_names(&app).await?;
    let mut members = Vec::new();
    let mut shared = std::collections::BTreeMap::new();
    if i.scope == "fleet" {
        let kids = app
            .store
            .incidents(
                &uctriage_store::IncidentFilter { parent_id: Some(id.clone()), ..Default::default() },
                &Page { limit: 10_000, after: None },
            )
            .await?;
        let mut rooms = Vec::new();
        for k in kids {
            if let Some(r) = k.room_id.as_deref() {
                if !rooms.iter().any(|x: &Room| x.id == r) {
                    if let Some(room) = app.store.room(r).await? {
                        rooms.push(room);
                    }
                }
            }
            members.push(incident_view(&app, k, &names).await?);
        }
        members.sort_by(|a, b| a.started.cmp(&b.started));
        let subnet = |ip: &str| ip.rsplit_once('.').map(|(net, _)| format!("{net}.0/24")).unwrap_or_default();
        for (what, get) in [
            ("app_version", Box::new(|r: &Room| r.app_version.clone()) as Box<dyn Fn(&Room) -> String>),
            ("os_version", Box::new(|r: &Room| r.os_version.clone())),
            ("site", Box::new(|r: &Room| r.site.clone())),
            ("subnet", Box::new(move |r: &Room| subnet(&r.ipv4))),
        ] {
            let values: std::collections::BTreeSet<String> = rooms.iter().map(&get).collect();
            if values.len() == 1 && rooms.len() > 1 {
                if let Some(v) = values.into_iter().next().filter(|v| !v.is_empty()) {
                    shared.insert(what.to_owned(), v);
                }
            }
        }
    }
    let deliveries = app.store.alerts_of_incident(&id).await?;
    Ok(Json(IncidentDetail {
        incident: incident_view(&app, i, &names).await?,
        finding,
        timeline,
        members,
        shared,
        deliveries,
    }))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AckBody {
    pub note: String,
}

pub async fn incident_ack(
    State(app): State<Arc<App>>,
    caller: Caller,
    Path(id): Path<String>,
    Json(body): Json<AckBody>,
) -> ApiResult<Json<IncidentDetail>> {
    caller.require(Role::Admin)?;
    if body.note.chars().count() > 2000 {
        return Err(Problem::unprocessable("the note is longer than 2000 characters"));
    }
    let now = app.clock.now_ms();
    if !app.store.incident_ack(&id, now, &caller.token_id, &body.note).await? {
        return Err(Problem::not_found(format!("incident {id}")));
    }
    app.store.audit(now, &caller.token_id, "incident.acknowledge", &id, &body.note).await?;
    incident(State(app), caller, Path(id)).await
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewWebhook {
    /// `teams`, `standard`, `syslog` or `smtp`.
    pub kind: String,
    pub url: String,
    /// For `standard`: a `whsec_…` secret; one is made when absent. For `smtp`: the relay's
    /// password for the URL's user.
    pub secret: Option<String>,
    pub name: Option<String>,
    pub site: Option<String>,
    pub min_severity: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct CreatedWebhook {
    #[serde(flatten)]
    pub webhook: uctriage_store::Webhook,
    /// The signing secret, shown this once (standard webhooks).
    pub secret: Option<String>,
}

pub async fn webhook_create(
    State(app): State<Arc<App>>,
    caller: Caller,
    Json(body): Json<NewWebhook>,
) -> ApiResult<(StatusCode, Json<CreatedWebhook>)> {
    caller.require(Role::Admin)?;
    if !["teams", "standard", "syslog", "smtp"].contains(&body.kind.as_str()) {
        return Err(Problem::unprocessable(format!("kind {:?} is none of teams, standard, syslog, smtp", body.kind)));
    }
    let url = body.url.trim().to_owned();
    let schemes: &[&str] = match body.kind.as_str() {
        "syslog" => &["tcp://", "tls://"],
        "smtp" => &crate::smtp::SCHEMES,
        _ => &["https://", "http://"],
    };
    if !schemes.iter().any(|s| url.starts_with(s)) || url.len() > 4096 || url.chars().any(char::is_whitespace) {
        return Err(Problem::unprocessable(format!("the destination must start with {}", schemes.join(" or "))));
    }
    if body.kind == "smtp" {
        crate::smtp::Destination::parse(&url).map_err(Problem::unprocessable)?;
    }
    let min = body.min_severity.clone().unwrap_or_else(|| "important".into());
    if !crate::alerts::valid_severity(&min) {
        return Err(Problem::unprocessable("min_severity is critical, important, warning or recommended"));
    }
    let secret = match (&*body.kind, body.secret.clone()) {
        ("standard", Some(s)) => {
            crate::alerts::secret_key(&s).map_err(Problem::unprocessable)?;
            Some(s)
        }
        ("standard", None) => Some(crate::alerts::new_secret()),
        // An e-mail relay's password, kept sealed like a signing secret.
        ("smtp", Some(s)) if !s.is_empty() && s.len() <= 1024 => Some(s),
        (_, Some(_)) => {
            return Err(Problem::unprocessable(
                "only a standard webhook (its signing secret) or smtp (the relay password) takes a secret",
            ))
        }
        (_, None) => None,
    };
    let id = format!("wh{}", crate::auth::random_hex(6));
    let webhook = uctriage_store::Webhook {
        url_sealed: app.sealer.seal(&format!("webhook:{id}"), url.as_bytes()),
        secret_sealed: secret.as_deref().map(|s| app.sealer.seal(&format!("webhook-secret:{id}"), s.as_bytes())),
        url_hint: crate::alerts::url_hint(&url),
        id,
        kind: body.kind,
        name: body.name.unwrap_or_default().chars().take(100).collect(),
        site: body.site.unwrap_or_default(),
        min_severity: min,
        created_ms: app.clock.now_ms(),
    };
    app.store.webhook_insert(&webhook).await?;
    app.store.audit(webhook.created_ms, &caller.token_id, "webhook.create", &webhook.id, &webhook.url_hint).await?;
    // Only a secret the server made is shown; one the admin gave they have already.
    let shown = if body.secret.is_none() { secret } else { None };
    Ok((StatusCode::CREATED, Json(CreatedWebhook { webhook, secret: shown })))
}

pub async fn webhooks(State(app): State<Arc<App>>, caller: Caller) -> ApiResult<Json<Paged<uctriage_store::Webhook>>> {
    caller.require(Role::Admin)?;
    Ok(Json(Paged { items: app.store.webhooks().await?, next_cursor: None }))
}

pub async fn webhook_delete(
    State(app): State<Arc<App>>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    caller.require(Role::Admin)?;
    if !app.store.webhook_delete(&id).await? {
        return Err(Problem::not_found(format!("webhook {id}")));
    }
    app.store.audit(app.clock.now_ms(), &caller.token_id, "webhook.remove", &id, "").await?;
    Ok(StatusCode::NO_CONTENT)
}

/// A destination's newest alerts (at most `limit`, 50 by default), newest first: what was
/// sent, how many attempts, the last answer or error.
pub async fn webhook_deliveries(
    State(app): State<Arc<App>>,
    caller: Caller,
    Path(id): Path<String>,
    Query(q): Query<ListQuery>,
) -> ApiResult<Json<Paged<uctriage_store::Alert>>> {
    caller.require(Role::Admin)?;
    let limit = limit(q.limit.or(Some(50)))?;
    if !app.store.webhooks().await?.iter().any(|w| w.id == id) {
        return Err(Problem::not_found(format!("webhook {id}")));
    }
    Ok(Json(Paged { items: app.store.alerts_of_webhook(&id, limit).await?, next_cursor: None }))
}

/// Send a test alert through a webhook now and say how it went.
pub async fn webhook_test(
    State(app): State<Arc<App>>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<uctriage_store::Alert>> {
    caller.require(Role::Admin)?;
    let hooks = app.store.webhooks().await?;
    let hook = hooks.iter().find(|w| w.id == id).ok_or_else(|| Problem::not_found(format!("webhook {id}")))?;
    let now = app.clock.now_ms();
    let alert_id = format!("msg_{}", crate::auth::random_hex(12));
    let msg = crate::alerts::Message {
        event: "test".into(),
        incident_id: "test".into(),
        scope: "room".into(),
        severity: "recommended".into(),
        summary: "A test alert from uctriage: this webhook works".into(),
        signal: "test".into(),
        rooms: vec!["(none)".into()],
        first_fix: None,
        at_ms: now,
        link: format!("{}/api/v1/incidents", app.public_url()),
    };
    let alert = uctriage_store::Alert {
        body: if hook.kind == "teams" { msg.teams_body() } else { msg.standard_body(&alert_id) },
        id: alert_id.clone(),
        webhook_id: hook.id.clone(),
        incident_id: "test".into(),
        event: "test".into(),
        created_ms: now,
        state: "pending".into(),
        attempts: 0,
        next_attempt_ms: now,
        lease_owner: None,
        lease_until_ms: None,
        last_status: None,
        last_error: None,
        delivered_ms: None,
    };
    app.store.incidents_write(&[], std::slice::from_ref(&alert), None).await?;
    crate::alerts::deliver_due(&app).await.map_err(Problem::internal)?;
    let done = app.store.alert(&alert_id).await?.ok_or_else(|| Problem::internal("the test alert vanished"))?;
    Ok(Json(done))
}

/// A time given as RFC 3339 or as a duration from now (`90m`, `2h`, `3d`).
pub fn parse_until(s: &str, now_ms: i64) -> Option<i64> {
    let s = s.trim();
    if let Ok(t) = s.parse::<jiff::Timestamp>() {
        return Some(t.as_millisecond());
    }
    let (n, unit) = s.split_at(s.find(|c: char| !c.is_ascii_digit())?);
    let n: i64 = n.parse().ok()?;
    let ms = match unit {
        "s" => 1_000,
        "m" | "min" => 60_000,
        "h" => 3_600_000,
        "d" => 86_400_000,
        _ => return None,
    };
    n.checked_mul(ms).and_then(|d| now_ms.checked_add(d))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewSuppression {
    /// A signal (`exchange`, `hardware:camera`…); absent for the whole room.
    pub signal: Option<String>,
    /// RFC 3339, or a duration from now (`2h`).
    pub until: String,
    pub reason: String,
}

pub async fn suppress(
    State(app): State<Arc<App>>,
    caller: Caller,
    Path(id): Path<String>,
    Json(body): Json<NewSuppression>,
) -> ApiResult<(StatusCode, Json<uctriage_store::Suppression>)> {
    caller.require(Role::Admin)?;
    app.store.room(&id).await?.ok_or_else(|| Problem::not_found(format!("room {id}")))?;
    let now = app.clock.now_ms();
    let until = parse_until(&body.until, now)
        .ok_or_else(|| Problem::unprocessable("until is an RFC 3339 time or a duration such as 90m, 2h or 3d"))?;
    if until <= now {
        return Err(Problem::unprocessable("until is in the past"));
    }
    let signal = body.signal.unwrap_or_default();
    if !signal.is_empty() && crate::fleet::signal(&signal).is_none() {
        return Err(Problem::unprocessable(format!("{signal:?} is not a signal")));
    }
    if body.reason.trim().is_empty() || body.reason.chars().count() > 500 {
        return Err(Problem::unprocessable("give a reason of at most 500 characters"));
    }
    let s = uctriage_store::Suppression {
        id: format!("sp{}", crate::auth::random_hex(6)),
        room_id: id.clone(),
        signal,
        reason: body.reason,
        from_ms: now,
        until_ms: until,
        created_by: caller.token_id.clone(),
        lifted_ms: None,
    };
    app.store.suppression_insert(&s).await?;
    let what = if s.signal.is_empty() { "the room".to_owned() } else { s.signal.clone() };
    app.store
        .audit(now, &caller.token_id, "room.suppress", &id, &format!("{what} until {}: {}", rfc3339(until), s.reason))
        .await?;
    Ok((StatusCode::CREATED, Json(s)))
}

pub async fn suppressions(
    State(app): State<Arc<App>>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<Paged<uctriage_store::Suppression>>> {
    caller.require(Role::Viewer)?;
    app.store.room(&id).await?.ok_or_else(|| Problem::not_found(format!("room {id}")))?;
    Ok(Json(Paged { items: app.store.suppressions(Some(&id)).await?, next_cursor: None }))
}

pub async fn unsuppress(State(app): State<Arc<App>>, caller: Caller, Path(id): Path<String>) -> ApiResult<StatusCode> {
    caller.require(Role::Admin)?;
    let now = app.clock.now_ms();
    if !app.store.suppression_lift(&id, now).await? {
        return Err(Problem::not_found(format!("active suppression {id}")));
    }
    app.store.audit(now, &caller.token_id, "room.unsuppress", &id, "").await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Deserialize)]
pub struct HistoryQuery {
    /// 1 to 90 (the dashboard uses 7, 28 and 90).
    pub days: Option<u32>,
    pub room: Option<String>,
    /// `json` (default) or `csv` (a row per room and day).
    pub format: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct History {
    pub days: u32,
    pub fleet: Vec<crate::history::FleetDay>,
    pub rooms: Vec<crate::history::RoomHistory>,
}

/// `GET /api/v1/history`: availability per signal and unhealthy days, per room and fleet.
pub async fn history(
    State(app): State<Arc<App>>,
    caller: Caller,
    Query(q): Query<HistoryQuery>,
) -> ApiResult<Response> {
    caller.require(Role::Viewer)?;
    let days = q.days.unwrap_or(7);
    if !(1..=90).contains(&days) {
        return Err(Problem::bad_request("days is 1 to 90"));
    }
    let csv = match q.format.as_deref() {
        None | Some("json") => false,
        Some("csv") => true,
        Some(other) => return Err(Problem::bad_request(format!("format {other:?} is neither json nor csv"))),
    };
    let now = app.clock.now_ms();
    // Incidents still bad within the period: its first local day starts less than `days` + 1
    // days before now, wherever the room is.
    let from = now - (i64::from(days) + 2) * 86_400_000;
    let (rooms, spans) = tokio::try_join!(app.store.rooms_brief(), app.store.incident_spans(q.room.as_deref(), from))?;
    let rooms: Vec<Room> = rooms
        .into_iter()
        .filter(|r| r.merged_into.is_none() && !r.retired && q.room.as_deref().is_none_or(|id| id == r.id))
        .collect();
    if let Some(id) = &q.room {
        if rooms.is_empty() {
            return Err(Problem::not_found(format!("room {id}")));
        }
    }
    // Tens of milliseconds of computing for a large fleet: off the request threads.
    let answer = tokio::task::spawn_blocking(move || -> Result<(&'static str, Vec<u8>), Problem> {
        let per_room = crate::history::histories(&rooms, &spans, days, now);
        if csv {
            return Ok(("text/csv; charset=utf-8", history_csv(&per_room).into_bytes()));
        }
        let fleet = crate::history::fleet_days(&per_room);
        // Serialized into a buffer of about the right size at once: the answer for 500 rooms
        // and 90 days is 7 MB, and growing a buffer to that size copied it over and over.
        let mut body = Vec::with_capacity(per_room.len() * days as usize * 170 + 4096);
        serde_json::to_writer(&mut body, &History { days, fleet, rooms: per_room })
            .map_err(|e| Problem::internal(format!("writing the history: {e}")))?;
        Ok(("application/json", body))
    })
    .await
    .map_err(|e| Problem::internal(format!("computing the history: {e}")))?;
    let (content_type, body) = answer?;
    Ok(([(header::CONTENT_TYPE, content_type)], body).into_response())
}

/// The history as CSV: a row per room and day.
fn history_csv(per_room: &[crate::history::RoomHistory]) -> String {
    let mut signals: std::collections::BTreeSet<&str> = std::collections::BTreeSet::new();
    for r in per_room {
        for d in &r.days {
            signals.extend(d.availability.keys());
        }
    }
    let mut out = String::from("date,room_id,room,zone,zone_source,unhealthy,working_minutes_affected");
    for s in &signals {
        let _ = write!(out, ",availability_{s}");
    }
    out.push('\n');
    let field = |s: &str| {
        // Names come from logs: quote them, and keep spreadsheets from reading formulas.
        let s = if s.starts_with(['=', '+', '-', '@']) { format!("'{s}") } else { s.to_owned() };
        format!("\"{}\"", s.replace('"', "\"\""))
    };
    for r in per_room {
        for d in &r.days {
            let _ = write!(
                out,
                "{},{},{},{},{},{},{}",
                d.date,
                r.room_id,
                field(&r.name),
                r.zone,
                r.zone_source,
                d.unhealthy,
                d.working_minutes_affected
            );
            for s in &signals {
                let _ = write!(out, ",{}", d.availability.get(s).unwrap_or(100.0));
            }
            out.push('\n');
        }
    }
    out
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewWindow {
    /// One room; absent for every room (or every room of `site`).
    pub room: Option<String>,
    pub site: Option<String>,
    /// Weekdays, `mon,tue,…`; absent for every day.
    pub days: Option<String>,
    /// `HH:MM`, the room's local time.
    pub start: String,
    pub end: String,
    pub reason: String,
}

pub async fn window_create(
    State(app): State<Arc<App>>,
    caller: Caller,
    Json(body): Json<NewWindow>,
) -> ApiResult<(StatusCode, Json<uctriage_store::Window>)> {
    caller.require(Role::Admin)?;
    let (Some(start), Some(end)) = (crate::windows::parse_hhmm(&body.start), crate::windows::parse_hhmm(&body.end))
    else {
        return Err(Problem::unprocessable("start and end are HH:MM, the room's local time"));
    };
    if start == end {
        return Err(Problem::unprocessable("start and end are the same time"));
    }
    let days = crate::windows::parse_days(body.days.as_deref().unwrap_or("")).map_err(Problem::unprocessable)?;
    if body.reason.trim().is_empty() || body.reason.chars().count() > 500 {
        return Err(Problem::unprocessable("give a reason of at most 500 characters"));
    }
    if let Some(r) = &body.room {
        app.store.room(r).await?.ok_or_else(|| Problem::unprocessable(format!("room {r} does not exist")))?;
    }
    let w = uctriage_store::Window {
        id: format!("mw{}", crate::auth::random_hex(6)),
        room_id: body.room.unwrap_or_default(),
        site: body.site.unwrap_or_default().chars().take(200).collect(),
        days,
        start_min: start,
        end_min: end,
        reason: body.reason,
        created_ms: app.clock.now_ms(),
    };
    app.store.window_insert(&w).await?;
    let detail = format!("{}–{} {} {}", body.start, body.end, w.days, w.reason);
    app.store.audit(w.created_ms, &caller.token_id, "window.add", &w.id, &detail).await?;
    Ok((StatusCode::CREATED, Json(w)))
}

pub async fn windows(State(app): State<Arc<App>>, caller: Caller) -> ApiResult<Json<Paged<uctriage_store::Window>>> {
    caller.require(Role::Viewer)?;
    Ok(Json(Paged { items: app.store.windows().await?, next_cursor: None }))
}

pub async fn window_delete(
    State(app): State<Arc<App>>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    caller.require(Role::Admin)?;
    if !app.store.window_delete(&id).await? {
        return Err(Problem::not_found(format!("window {id}")));
    }
    app.store.audit(app.clock.now_ms(), &caller.token_id, "window.remove", &id, "").await?;
    Ok(StatusCode::NO_CONTENT)
}
