//! The dashboard's pages: the fleet, a room, incidents.

use std::collections::BTreeSet;
use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect};
use axum::{Form, Json};
use maud::{html, Markup};
use serde::Deserialize;
use serde_json::Value;

use super::{chip, csrf_field, drawn, encode, layout, page, svg, time, PageError, PageResult, User};
use crate::api::{self, IncidentQuery, IncidentView, ListQuery, RoomSummary};
use crate::App;

const HOUR_MS: i64 = 3_600_000;

/// Every room the API lists, all pages.
pub(super) async fn all_rooms(app: &Arc<App>, user: &User) -> Result<Vec<RoomSummary>, PageError> {
    let mut out = Vec::new();
    let mut cursor = None;
    loop {
        let q = ListQuery {
            limit: Some(1000),
            cursor: cursor.take(),
            state: None,
            signal: None,
            version: None,
            name: None,
            site: None,
        };
        let Json(p) = api::rooms(State(app.clone()), user.caller.clone(), Query(q)).await?;
        out.extend(p.items);
        match p.next_cursor {
            Some(c) => cursor = Some(c),
            None => return Ok(out),
        }
    }
}

async fn incident_list(app: &Arc<App>, user: &User, q: IncidentQuery) -> Result<Vec<IncidentView>, PageError> {
    let Json(p) = api::incidents(State(app.clone()), user.caller.clone(), Query(q)).await?;
    Ok(p.items)
}

fn incident_query(scope: Option<&str>, state: Option<&str>, room: Option<&str>, limit: u32) -> IncidentQuery {
    IncidentQuery {
        limit: Some(limit),
        cursor: None,
        scope: scope.map(str::to_owned),
        state: state.map(str::to_owned),
        room: room.map(str::to_owned),
    }
}

/// The fleet page's filters, all optional, all in the URL so a view can be shared.
#[derive(Debug, Default, Deserialize)]
pub struct FleetQuery {
    #[serde(default)]
    q: String,
    #[serde(default)]
    state: String,
    #[serde(default)]
    signal: String,
    #[serde(default)]
    version: String,
    #[serde(default)]
    sort: String,
}

fn matches(r: &RoomSummary, f: &FleetQuery) -> bool {
    let q = f.q.trim().to_lowercase();
    let text = |s: &str| s.to_lowercase().contains(&q);
    (q.is_empty()
        || text(&r.name)
        || text(&r.computer)
        || text(&r.alias)
        || text(&r.display_name)
        || text(&r.site)
        || r.top_finding.as_ref().is_some_and(|t| text(&t.summary)))
        && (f.state.is_empty() || (f.state == "suppressed" && r.suppressed) || r.state == f.state)
        && (f.signal.is_empty() || r.signals.iter().any(|s| s.id == f.signal && s.state == "unhealthy"))
        && (f.version.is_empty() || r.app_version == f.version)
}

fn state_rank(state: &str) -> u8 {
    match state {
        "unhealthy" => 0,
        "offline" => 1,
        "unknown" => 2,
        "healthy" => 3,
        _ => 4,
    }
}

fn select(name: &str, label: &str, current: &str, options: &[(String, String)]) -> Markup {
    html! {
        label for=(name) { (label) }
        select id=(name) name=(name) {
            option value="" selected[current.is_empty()] { "Any" }
            @for (value, text) in options {
                option value=(value) selected[current == value] { (text) }
            }
        }
    }
}

pub async fn overview(State(app): State<Arc<App>>, user: User, Query(f): Query<FleetQuery>) -> PageResult {
    let rooms = all_rooms(&app, &user).await?;
    let count = |s: &str| rooms.iter().filter(|r| r.state == s).count();
    let suppressed = rooms.iter().filter(|r| r.suppressed).count();
    let waves = incident_list(&app, &user, incident_query(Some("fleet"), Some("open"), None, 50)).await?;
    let mut shown: Vec<&RoomSummary> = rooms.iter().filter(|r| matches(r, &f)).collect();
    match f.sort.as_str() {
        "name" => shown.sort_by_key(|r| r.name.to_lowercase()),
        "version" => shown.sort_by(|a, b| a.app_version.cmp(&b.app_version).then(a.name.cmp(&b.name))),
        "heard" => shown.sort_by(|a, b| b.last_heard.cmp(&a.last_heard)),
        _ => shown.sort_by(|a, b| state_rank(a.state).cmp(&state_rank(b.state)).then(a.name.cmp(&b.name))),
    }
    let versions: BTreeSet<&str> = rooms.iter().map(|r| r.app_version.as_str()).filter(|v| !v.is_empty()).collect();
    let signals: BTreeSet<(String, String)> =
        rooms.iter().flat_map(|r| r.signals.iter().map(|s| (s.id.clone(), s.name.clone()))).collect();
    let sort_link = |key: &str| {
        format!(
            "/?q={}&state={}&signal={}&version={}&sort={key}",
            encode(&f.q),
            encode(&f.state),
            encode(&f.signal),
            encode(&f.version)
        )
    };
    let body = html! {
        h1 { "Fleet" }
        div id="live" data-refresh="30" {
            section aria-labelledby="counts-title" {
                h2 id="counts-title" class="visually-hidden" { "Rooms by state" }
                ul class="counts" {
                    li { a href="/?state=healthy" { span class="n" { (count("healthy")) } " healthy" } }
                    li class="bad" { a href="/?state=unhealthy" { span class="n" { (count("unhealthy")) } " unhealthy" } }
                    li class="off" { a href="/?state=offline" { span class="n" { (count("offline")) } " offline" } }
                    li class="warn" { a href="/?state=suppressed" { span class="n" { (suppressed) } " suppressed" } }
                }
            }
            @if !waves.is_empty() {
                section class="waves" aria-labelledby="waves-title" {
                    h2 id="waves-title" { "Fleet-wide incidents" }
                    ul {
                        @for w in &waves {
                            li class="wave" {
                                (chip(&w.severity, &w.severity)) " "
                                a href=(format!("/incidents/{}", w.id)) { (w.summary) }
                                " · first room " (time(&w.started))
                            }
                        }
                    }
                }
            }
            @if rooms.is_empty() {
                section class="empty" {
                    h2 { "No rooms yet" }
                    p { "Create a device token (" code { "uctriage fleet token create --role device" }
                        ") and run " code { "uctriage push" } " on a room, or try a generated fleet with "
                        code { "uctriage fleet seed" } "." }
                }
            } @else {
                section aria-labelledby="rooms-title" {
                    h2 id="rooms-title" { "Rooms" }
                    form class="filters" method="get" action="/" role="search" {
                        label for="q" { "Search" }
                        input id="q" name="q" type="search" value=(f.q) placeholder="name, site or cause";
                        (select("state", "State", &f.state, &["healthy", "unhealthy", "offline", "unknown", "retired", "suppressed"].map(|s| (s.to_owned(), s.to_owned()))))
                        (select("signal", "Unhealthy signal", &f.signal, &signals.iter().cloned().collect::<Vec<_>>()))
                        (select("version", "App version", &f.version, &versions.iter().map(|v| ((*v).to_owned(), (*v).to_owned())).collect::<Vec<_>>()))
                        input type="hidden" name="sort" value=(f.sort);
                        button type="submit" { "Filter" }
                        a href="/" { "Clear" }
                    }
                    p class="shown" { (shown.len()) " of " (rooms.len()) " rooms" }
                    table class="rooms" {
                        thead { tr {
                            th scope="col" { a href=(sort_link("name")) { "Room" } }
                            th scope="col" { a href=(sort_link("state")) { "State" } }
                            th scope="col" { "Signals" }
                            th scope="col" { "Root cause" }
                            th scope="col" { a href=(sort_link("version")) { "App version" } }
                            th scope="col" { a href=(sort_link("heard")) { "Last heard" } }
                        } }
                        tbody {
                            @for r in &shown {
                                tr data-state=(r.state) {
                                    th scope="row" {
                                        a href=(format!("/rooms/{}", r.id)) { (r.name) }
                                        @if !r.site.is_empty() { br; span class="muted" { (r.site) } }
                                    }
                                    td { (chip(r.state, r.state)) @if r.suppressed { " " (chip("suppressed", "suppressed")) } }
                                    td class="signals" {
                                        @for s in &r.signals {
                                            @if s.state != "not-applicable" {
                                                (chip(&s.state, &format!("{}: {}", s.name, s.state)))
                                            }
                                        }
                                    }
                                    td { @if let Some(t) = &r.top_finding { (t.summary) } @else { span class="muted" { "none" } } }
                                    td { (r.app_version) }
                                    td { (time(&r.last_heard)) }
                                }
                            }
                        }
                    }
                }
            }
        }
    };
    page(&layout("Fleet", Some(&user), &body))
}

fn ms(rfc3339: &str) -> Option<i64> {
    rfc3339.parse::<jiff::Timestamp>().ok().map(jiff::Timestamp::as_millisecond)
}

pub(super) fn finding_block(f: &Value) -> Markup {
    let list = |k: &str| -> Vec<String> {
        f[k].as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|v| v.as_str().map(str::to_owned).or_else(|| v["code"].as_str().map(str::to_owned)))
                    .collect()
            })
            .unwrap_or_default()
    };
    let s = |k: &str| f[k].as_str().unwrap_or("").to_owned();
    html! {
        div class="finding" {
            h3 { (s("title")) }
            dl {
                @let codes = list("codes");
                @if !codes.is_empty() { dt { "Codes" } dd { @for c in &codes { code { (c) } " " } } }
                dt { "Layer" } dd { (s("layer")) }
                dt { "Cause" } dd { (s("cause")) }
            }
            @let fixes = list("fix");
            @if !fixes.is_empty() {
                h4 { "Fix, in order" }
                ol { @for x in &fixes { li { (x) } } }
            }
            @if let Some(ev) = f["evidence"].as_array().filter(|a| !a.is_empty()) {
                h4 { "Evidence" }
                ul class="evidence" {
                    @for e in ev.iter().take(5) {
                        li {
                            span class="muted" { (e["path"].as_str().unwrap_or("")) " " (e["location"].as_str().unwrap_or("")) }
                            pre { (e["excerpt"].as_str().unwrap_or("")) }
                        }
                    }
                }
            }
        }
    }
}

fn incidents_table(items: &[IncidentView]) -> Markup {
    html! {
        table class="incidents" {
            thead { tr {
                th scope="col" { "Incident" } th scope="col" { "Severity" } th scope="col" { "State" }
                th scope="col" { "Rooms" } th scope="col" { "Started" } th scope="col" { "Resolved" }
            } }
            tbody {
                @for i in items {
                    tr {
                        th scope="row" {
                            a href=(format!("/incidents/{}", i.id)) { (i.summary) }
                            br; span class="muted" {
                                (i.scope) " · " (i.signal)
                                @if let Some(n) = &i.room_name { " · " (n) }
                                @if i.acknowledged.is_some() { " · acknowledged" }
                            }
                        }
                        td { (chip(&i.severity, &i.severity)) }
                        td { (chip(i.state, i.state)) }
                        td { (i.rooms) }
                        td { (time(&i.started)) }
                        td { @if let Some(r) = &i.resolved { (time(r)) } @else { "—" } }
                    }
                }
            }
        }
    }
}

pub async fn room(State(app): State<Arc<App>>, user: User, Path(id): Path<String>) -> PageResult {
    let Json(r) = api::room(State(app.clone()), user.caller.clone(), Path(id.clone())).await?;
    let incidents = incident_list(&app, &user, incident_query(None, None, Some(&r.summary.id), 100)).await?;
    let Json(sups) = api::suppressions(State(app.clone()), user.caller.clone(), Path(id.clone())).await?;
    let now = app.clock.now_ms();
    let zone = crate::history::zone_of(
        &app.store.room(&r.summary.id).await?.unwrap_or_else(|| uctriage_store::Room::blank(&id)),
    );
    let local = |rfc: &str| -> String {
        ms(rfc)
            .and_then(|m| jiff::Timestamp::from_millisecond(m).ok())
            .map(|t| t.to_zoned(zone.tz.clone()).strftime("%Y-%m-%d %H:%M").to_string())
            .unwrap_or_default()
    };
    let mut changes: std::collections::BTreeMap<&str, Vec<(i64, String)>> = std::collections::BTreeMap::new();
    for t in &r.transitions {
        if let Some(at) = ms(&t.at) {
            changes.entry(t.signal.as_str()).or_default().push((at, t.to.clone()));
        }
    }
    for v in changes.values_mut() {
        v.sort();
    }
    let marks: Vec<(i64, String)> = r
        .transitions
        .iter()
        .filter(|t| t.signal == crate::fleet::APP_VERSION || t.signal == crate::fleet::OS_VERSION)
        .filter_map(|t| Some((ms(&t.at)?, format!("{} {}", t.signal, t.to))))
        .collect();
    let chart = |signal: &str, name: &str, hours: i64| {
        let from = now - hours * HOUR_MS;
        let empty = Vec::new();
        let c = changes.get(signal).unwrap_or(&empty);
        drawn(svg::timeline(&format!("{name}, last {hours} hours"), &svg::spans(c, from, now), from, now, &marks))
    };
    let s = &r.summary;
    let body = html! {
        p class="crumbs" { a href="/" { "Fleet" } " › " (s.name) }
        h1 { (s.name) " " (chip(s.state, s.state)) @if s.suppressed { " " (chip("suppressed", "suppressed")) } }
        dl class="facts" {
            dt { "Computer" } dd { (s.computer) }
            dt { "Site" } dd { @if s.site.is_empty() { "—" } @else { (s.site) } }
            dt { "Model" } dd { (r.model) }
            dt { "App version" } dd { (s.app_version) }
            dt { "OS version" } dd { (s.os_version) }
            dt { "Time zone" } dd { (zone.name) " (" (zone.source) ")" }
            dt { "Last heard" } dd { (time(&s.last_heard)) " · " (local(&s.last_heard)) " local" }
        }
        @if let Some(d) = &r.diagnosis {
            @if let Some(f) = d.findings.first() {
                section class="cause" aria-labelledby="cause-title" {
                    h2 id="cause-title" { "Root cause now" }
                    (finding_block(&serde_json::to_value(f).unwrap_or(Value::Null)))
                }
            }
        }
        section aria-labelledby="signals-title" {
            h2 id="signals-title" { "Signals" }
            table class="signals" {
                thead { tr { th scope="col" { "Signal" } th scope="col" { "State" } th scope="col" { "Last 24 hours" } th scope="col" { "Last 7 days" } } }
                tbody {
                    @for sig in &s.signals {
                        tr {
                            th scope="row" { (sig.name) br; span class="muted" { (sig.status) } }
                            td { (chip(&sig.state, &sig.state)) }
                            td { (chart(&sig.id, &sig.name, 24)) }
                            td { (chart(&sig.id, &sig.name, 24 * 7)) }
                        }
                    }
                }
            }
            @if !marks.is_empty() {
                h3 { "Version changes" }
                ul { @for (at, what) in &marks { li { (time(&crate::fleet::rfc3339(*at))) " " (what) } } }
            }
        }
        section aria-labelledby="incidents-title" {
            h2 id="incidents-title" { "Incidents" }
            @if incidents.is_empty() { p { "No incidents for this room." } } @else { (incidents_table(&incidents)) }
        }
        section aria-labelledby="uploads-title" {
            h2 id="uploads-title" { "Uploaded bundles" }
            @if r.reports.is_empty() { p { "Nothing uploaded for this room yet." } }
            @else {
                ul { @for rep in &r.reports { li { a href=(format!("/reports/{}", rep.id)) { (rep.name) } " · " (rep.status) " · " (time(&crate::fleet::rfc3339(rep.created_ms))) } } }
            }
        }
        section aria-labelledby="supp-title" {
            h2 id="supp-title" { "Suppressions" }
            @let active: Vec<_> = sups.items.iter().filter(|x| x.lifted_ms.is_none() && x.until_ms > now).collect();
            @if active.is_empty() { p { "Nothing suppressed." } }
            @for x in &active {
                form method="post" action=(format!("/rooms/{}/unsuppress", s.id)) class="inline" {
                    (csrf_field(&user))
                    input type="hidden" name="id" value=(x.id);
                    (if x.signal.is_empty() { "The whole room" } else { x.signal.as_str() })
                    " until " (time(&crate::fleet::rfc3339(x.until_ms))) ": " (x.reason) " "
                    @if user.is_admin() { button type="submit" { "Lift" } }
                }
            }
            @if user.is_admin() {
                form method="post" action=(format!("/rooms/{}/suppress", s.id)) class="stack" {
                    (csrf_field(&user))
                    label for="sup-signal" { "Signal" }
                    select id="sup-signal" name="signal" {
                        option value="" { "The whole room" }
                        @for sig in &s.signals { option value=(sig.id) { (sig.name) } }
                    }
                    label for="sup-until" { "Until (a time or a duration: 2h, 3d)" }
                    input id="sup-until" name="until" required value="2h";
                    label for="sup-reason" { "Reason" }
                    input id="sup-reason" name="reason" required maxlength="500";
                    button type="submit" { "Suppress" }
                }
            }
        }
    };
    page(&layout(&s.name, Some(&user), &body))
}

#[derive(Debug, Deserialize)]
pub struct SuppressForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    signal: String,
    until: String,
    reason: String,
}

pub async fn suppress(
    State(app): State<Arc<App>>,
    user: User,
    Path(id): Path<String>,
    Form(f): Form<SuppressForm>,
) -> PageResult {
    user.check_csrf(&f.csrf)?;
    let body =
        api::NewSuppression { signal: Some(f.signal).filter(|s| !s.is_empty()), until: f.until, reason: f.reason };
    let _ = api::suppress(State(app), user.caller.clone(), Path(id.clone()), Json(body)).await?;
    Ok(Redirect::to(&format!("/rooms/{}", encode(&id))).into_response())
}

#[derive(Debug, Deserialize)]
pub struct IdForm {
    #[serde(default)]
    csrf: String,
    id: String,
}

pub async fn unsuppress(
    State(app): State<Arc<App>>,
    user: User,
    Path(room): Path<String>,
    Form(f): Form<IdForm>,
) -> PageResult {
    user.check_csrf(&f.csrf)?;
    api::unsuppress(State(app), user.caller.clone(), Path(f.id)).await?;
    Ok(Redirect::to(&format!("/rooms/{}", encode(&room))).into_response())
}

#[derive(Debug, Default, Deserialize)]
pub struct IncidentsQuery {
    #[serde(default)]
    state: String,
    #[serde(default)]
    scope: String,
}

pub async fn incidents(State(app): State<Arc<App>>, user: User, Query(q): Query<IncidentsQuery>) -> PageResult {
    let state = Some(q.state.as_str()).filter(|s| ["open", "resolved", "closed"].contains(s));
    let scope = Some(q.scope.as_str()).filter(|s| ["room", "fleet"].contains(s));
    let items = incident_list(&app, &user, incident_query(scope, state, None, 500)).await?;
    let body = html! {
        h1 { "Incidents" }
        nav class="tabs" aria-label="Incident filters" {
            a href="/incidents" aria-current=[state.is_none().then_some("page")] { "All" }
            a href="/incidents?state=open" aria-current=[(state == Some("open")).then_some("page")] { "Open" }
            a href="/incidents?state=resolved" aria-current=[(state == Some("resolved")).then_some("page")] { "Resolved" }
            a href="/incidents?scope=fleet" aria-current=[(scope == Some("fleet")).then_some("page")] { "Fleet-wide" }
        }
        div id="live" data-refresh="30" {
            @if items.is_empty() { p class="empty" { "No incidents here. Incidents open when a room's signal stays bad for its watch period." } }
            @else { (incidents_table(&items)) }
        }
    };
    page(&layout("Incidents", Some(&user), &body))
}

pub async fn incident(State(app): State<Arc<App>>, user: User, Path(id): Path<String>) -> PageResult {
    let Json(d) = api::incident(State(app.clone()), user.caller.clone(), Path(id)).await?;
    let i = &d.incident;
    let body = html! {
        p class="crumbs" { a href="/incidents" { "Incidents" } " › " (i.id) }
        h1 { (i.summary) }
        p { (chip(&i.severity, &i.severity)) " " (chip(i.state, i.state)) " "
            (i.scope) " incident on " (i.signal)
            @if let (Some(rid), Some(n)) = (&i.room_id, &i.room_name) { " in " a href=(format!("/rooms/{rid}")) { (n) } }
            @if let Some(p) = &i.fleet_incident { " · part of " a href=(format!("/incidents/{p}")) { "a fleet incident" } }
        }
        dl class="facts" {
            dt { "Started" } dd { (time(&i.started)) }
            dt { "Opened" } dd { (time(&i.opened)) }
            dt { "Resolved" } dd { @if let Some(r) = &i.resolved { (time(r)) } @else { "not yet" } }
            dt { "Reopened" } dd { (i.reopened) " times" }
            @if let Some(a) = &i.acknowledged {
                dt { "Acknowledged" } dd { (time(a)) " by " (i.acknowledged_by.as_deref().unwrap_or("")) ": " (i.ack_note.as_deref().unwrap_or("")) }
            }
        }
        @if let Some(f) = &d.finding {
            section aria-labelledby="rc-title" { h2 id="rc-title" { "Root cause" } (finding_block(f)) }
        }
        @if !d.members.is_empty() {
            section aria-labelledby="rooms-title" {
                h2 id="rooms-title" { (d.members.len()) " affected rooms" }
                @if !d.shared.is_empty() {
                    p { "They share: " @for (k, v) in &d.shared { code { (k) "=" (v) } " " } }
                }
                (incidents_table(&d.members))
            }
        }
        section aria-labelledby="tl-title" {
            h2 id="tl-title" { "Timeline" }
            ol class="timeline-log" {
                @for l in &d.timeline { li { (time(&l.at)) " " strong { (l.what) } " " (l.detail) } }
            }
        }
        section aria-labelledby="dl-title" {
            h2 id="dl-title" { "Alert deliveries" }
            @if d.deliveries.is_empty() { p { "No alerts were sent about this incident." } }
            @else {
                table { thead { tr { th scope="col" { "Alert" } th scope="col" { "Event" } th scope="col" { "State" } th scope="col" { "Attempts" } th scope="col" { "Last error" } } }
                    tbody { @for a in &d.deliveries { tr {
                        td { code { (a.id) } } td { (a.event) } td { (a.state) } td { (a.attempts) } td { (a.last_error.as_deref().unwrap_or("")) }
                    } } } }
            }
        }
        @if user.is_admin() && i.acknowledged.is_none() {
            section aria-labelledby="ack-title" {
                h2 id="ack-title" { "Acknowledge" }
                form method="post" action=(format!("/incidents/{}/ack", i.id)) class="stack" {
                    (csrf_field(&user))
                    label for="note" { "Note" }
                    textarea id="note" name="note" required maxlength="2000" rows="3" {}
                    button type="submit" { "Acknowledge" }
                }
            }
        }
    };
    page(&layout(&i.summary, Some(&user), &body))
}

#[derive(Debug, Deserialize)]
pub struct AckForm {
    #[serde(default)]
    csrf: String,
    note: String,
}

pub async fn acknowledge(
    State(app): State<Arc<App>>,
    user: User,
    Path(id): Path<String>,
    Form(f): Form<AckForm>,
) -> PageResult {
    user.check_csrf(&f.csrf)?;
    if f.note.trim().is_empty() {
        return Err(PageError::new(StatusCode::UNPROCESSABLE_ENTITY, "Write a note saying what is being done."));
    }
    let _ = api::incident_ack(State(app), user.caller.clone(), Path(id.clone()), Json(api::AckBody { note: f.note }))
        .await?;
    Ok(Redirect::to(&format!("/incidents/{}", encode(&id))).into_response())
}
