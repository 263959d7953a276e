//! The inventory: every room with its site, tags, model, peripherals, versions and when it was
//! last heard, as a page and as CSV; for admins, forms to rename a room, set its site and tags,
//! retire it (or bring it back) and merge it into another. And the audit log, for admins.
//!
//! Rooms come from `api::rooms` (with model and peripherals from the store's room list), changes go through `api::room_patch` and
//! `api::room_merge`, the log from `api::audit`, all with the session's caller.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Redirect};
use axum::routing::{get, post};
use axum::{Form, Json, Router};
use maud::{html, Markup};
use serde::Deserialize;
use uctriage_store::RoomPatch;

use super::{chip, csrf_field, encode, layout, page, time, PageError, PageResult, User};
use crate::api::{self, ListQuery, RoomSummary};
use crate::App;

/// Audit entries on one page.
const AUDIT_PAGE: u32 = 100;

pub fn routes() -> Router<Arc<App>> {
    Router::new()
        .route("/inventory", get(inventory))
        .route("/inventory.csv", get(inventory_csv))
        .route("/inventory/{id}/{change}", post(change))
        .route("/audit", get(audit))
}

/// A room as the inventory shows it: the API's summary, and what the room reports of itself.
struct Row {
    summary: RoomSummary,
    model: String,
    peripherals: Vec<String>,
    retired: bool,
}

/// Every room the API lists (merged rooms are not), with its model and peripherals from one read
/// of the rooms (not a full room lookup per room: records counted, transitions, diagnosis).
async fn all_rooms(app: &Arc<App>, user: &User) -> Result<Vec<Row>, PageError> {
    let summaries = super::pages::all_rooms(app, user).await?;
    let mut stored: std::collections::HashMap<String, uctriage_store::Room> =
        app.store.rooms_brief().await?.into_iter().map(|r| (r.id.clone(), r)).collect();
    let mut out: Vec<Row> = summaries
        .into_iter()
        .filter_map(|summary| {
            // Merged or gone between the two reads.
            let room = stored.remove(&summary.id)?;
            Some(Row { summary, model: room.model, peripherals: room.peripherals, retired: room.retired })
        })
        .collect();
    out.sort_by(|a, b| {
        (a.summary.site.to_lowercase(), a.summary.name.to_lowercase())
            .cmp(&(b.summary.site.to_lowercase(), b.summary.name.to_lowercase()))
    });
    Ok(out)
}

#[derive(Debug, Default, Deserialize)]
pub struct InventoryQuery {
    /// The room just changed, to say so.
    #[serde(default)]
    changed: String,
}

fn admin_forms(user: &User, r: &Row, others: &[(&str, &str)]) -> Markup {
    let s = &r.summary;
    let id = &s.id;
    let action = |what: &str| format!("/inventory/{}/{what}", encode(id));
    html! {
        details class="change" {
            summary { "Change" span class="visually-hidden" { " " (s.name) } }
            form class="stack" method="post" action=(action("name")) {
                (csrf_field(user))
                label for=(format!("name-{id}")) { "Name" }
                input id=(format!("name-{id}")) name="name" value=(s.name) maxlength="200";
                button type="submit" { "Rename" }
            }
            form class="stack" method="post" action=(action("site")) {
                (csrf_field(user))
                label for=(format!("site-{id}")) { "Site" }
                input id=(format!("site-{id}")) name="site" value=(s.site) maxlength="200";
                button type="submit" { "Set site" }
            }
            form class="stack" method="post" action=(action("tags")) {
                (csrf_field(user))
                label for=(format!("tags-{id}")) { "Tags (separated by commas)" }
                input id=(format!("tags-{id}")) name="tags" value=(s.tags.join(", "));
                button type="submit" { "Set tags" }
            }
            form class="stack" method="post" action=(action("retire")) {
                (csrf_field(user))
                @if r.retired {
                    input type="hidden" name="retired" value="false";
                    button type="submit" { "Bring back into service" }
                } @else {
                    input type="hidden" name="retired" value="true";
                    button type="submit" { "Retire (no longer watched or alerted)" }
                }
            }
            @if !others.is_empty() {
                form class="stack" method="post" action=(action("merge")) {
                    (csrf_field(user))
                    label for=(format!("into-{id}")) { "Merge into (its names, history and records move there; this room goes)" }
                    select id=(format!("into-{id}")) name="into" required {
                        option value="" { "Choose a room" }
                        @for (oid, oname) in others {
                            @if *oid != id.as_str() { option value=(oid) { (oname) } }
                        }
                    }
                    button type="submit" { "Merge" }
                }
            }
        }
    }
}

pub async fn inventory(State(app): State<Arc<App>>, user: User, Query(q): Query<InventoryQuery>) -> PageResult {
    let rooms = all_rooms(&app, &user).await?;
    let others: Vec<(&str, &str)> = rooms.iter().map(|r| (r.summary.id.as_str(), r.summary.name.as_str())).collect();
    let changed = rooms.iter().find(|r| r.summary.id == q.changed);
    let body = html! {
        h1 { "Inventory" }
        @if let Some(r) = changed {
            p class="notice" role="status" { "Saved the change to " a href=(format!("#room-{}", r.summary.id)) { (r.summary.name) } "." }
        }
        @if rooms.is_empty() {
            section class="empty" {
                h2 { "No rooms yet" }
                p { "A room appears here the first time it reports. Create a device token ("
                    code { "uctriage fleet token create --role device" } ") and run " code { "uctriage push" }
                    " on the room, or try a generated fleet with " code { "uctriage fleet seed" } "." }
            }
        } @else {
            p {
                (rooms.len()) " rooms. "
                a href="/inventory.csv" download { "Download as CSV" }
            }
            table class="inventory" {
                thead { tr {
                    th scope="col" { "Room" } th scope="col" { "Site" } th scope="col" { "Tags" }
                    th scope="col" { "Model" } th scope="col" { "Peripherals" } th scope="col" { "App version" }
                    th scope="col" { "OS version" } th scope="col" { "Last heard" }
                    @if user.is_admin() { th scope="col" { "Change" } }
                } }
                tbody {
                    @for r in &rooms {
                        @let s = &r.summary;
                        tr id=(format!("room-{}", s.id)) data-room=(s.id) {
                            th scope="row" {
                                a href=(format!("/rooms/{}", s.id)) { (s.name) }
                                @if s.computer != s.name && !s.computer.is_empty() { br; span class="muted" { (s.computer) } }
                                br; (chip(s.state, s.state))
                            }
                            td class="site" { @if s.site.is_empty() { span class="muted" { "none" } } @else { (s.site) } }
                            td { @for t in &s.tags { span class="chip na" { (t) } " " } }
                            td { @if r.model.is_empty() { span class="muted" { "not reported" } } @else { (r.model) } }
                            td { @if r.peripherals.is_empty() { span class="muted" { "none reported" } }
                                 @else { (r.peripherals.join(", ")) } }
                            td { (s.app_version) }
                            td { (s.os_version) }
                            td { (time(&s.last_heard)) }
                            @if user.is_admin() { td { (admin_forms(&user, r, &others)) } }
                        }
                    }
                }
            }
        }
    };
    page(&layout("Inventory", Some(&user), &body))
}

/// A CSV field: quoted, and kept from being read as a formula by a spreadsheet.
fn field(s: &str) -> String {
    let s = if s.starts_with(['=', '+', '-', '@']) { format!("'{s}") } else { s.to_owned() };
    format!("\"{}\"", s.replace('"', "\"\""))
}

fn csv(rooms: &[Row]) -> String {
    let mut out = String::from(
        "room_id,name,computer,site,tags,model,peripherals,app_version,os_version,last_heard,state,retired\n",
    );
    for r in rooms {
        let s = &r.summary;
        let _ = writeln!(
            out,
            "{},{},{},{},{},{},{},{},{},{},{},{}",
            field(&s.id),
            field(&s.name),
            field(&s.computer),
            field(&s.site),
            field(&s.tags.join("; ")),
            field(&r.model),
            field(&r.peripherals.join("; ")),
            field(&s.app_version),
            field(&s.os_version),
            s.last_heard,
            s.state,
            r.retired
        );
    }
    out
}

/// `GET /inventory.csv`: a row per room.
pub async fn inventory_csv(State(app): State<Arc<App>>, user: User) -> PageResult {
    let rooms = all_rooms(&app, &user).await?;
    let mut r = csv(&rooms).into_response();
    let h = r.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/csv; charset=utf-8"));
    h.insert(header::CONTENT_DISPOSITION, HeaderValue::from_static("attachment; filename=\"uctriage-inventory.csv\""));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(r)
}

#[derive(Debug, Deserialize)]
pub struct ChangeForm {
    #[serde(default)]
    csrf: String,
    name: Option<String>,
    site: Option<String>,
    tags: Option<String>,
    retired: Option<String>,
    into: Option<String>,
}

/// `POST /inventory/{id}/{name|site|tags|retire|merge}`.
pub async fn change(
    State(app): State<Arc<App>>,
    user: User,
    Path((id, what)): Path<(String, String)>,
    Form(f): Form<ChangeForm>,
) -> PageResult {
    user.check_csrf(&f.csrf)?;
    let missing = |field: &str| PageError::new(StatusCode::UNPROCESSABLE_ENTITY, format!("The form has no {field}."));
    let patch = |p: RoomPatch| api::room_patch(State(app.clone()), user.caller.clone(), Path(id.clone()), Json(p));
    let shown = match what.as_str() {
        "name" => {
            let name = f.name.ok_or_else(|| missing("name"))?.trim().to_owned();
            patch(RoomPatch { name: Some(name), ..RoomPatch::default() }).await?.0.summary.id
        }
        "site" => {
            let site = f.site.ok_or_else(|| missing("site"))?.trim().to_owned();
            patch(RoomPatch { site: Some(site), ..RoomPatch::default() }).await?.0.summary.id
        }
        "tags" => {
            let tags = f.tags.ok_or_else(|| missing("tags"))?;
            let mut list: Vec<String> = Vec::new();
            for t in tags.split(',').map(str::trim).filter(|t| !t.is_empty()) {
                if !list.iter().any(|x| x == t) {
                    list.push(t.to_owned());
                }
            }
            patch(RoomPatch { tags: Some(list), ..RoomPatch::default() }).await?.0.summary.id
        }
        "retire" => {
            let retired = match f.retired.as_deref() {
                Some("true") => true,
                Some("false") => false,
                _ => return Err(missing("choice to retire or bring back")),
            };
            patch(RoomPatch { retired: Some(retired), ..RoomPatch::default() }).await?.0.summary.id
        }
        "merge" => {
            let into = f.into.filter(|i| !i.is_empty()).ok_or_else(|| missing("room to merge into"))?;
            if into == id {
                return Err(PageError::new(StatusCode::UNPROCESSABLE_ENTITY, "A room cannot be merged into itself."));
            }
            let body = api::MergeBody { into };
            api::room_merge(State(app.clone()), user.caller.clone(), Path(id.clone()), Json(body)).await?.0.summary.id
        }
        _ => return Err(PageError::new(StatusCode::NOT_FOUND, format!("There is no change called {what:?}."))),
    };
    Ok(Redirect::to(&format!("/inventory?changed={}#room-{}", encode(&shown), encode(&shown))).into_response())
}

#[derive(Debug, Default, Deserialize)]
pub struct AuditQuery {
    #[serde(default)]
    cursor: String,
}

/// `GET /audit`: who changed what, newest first, a page at a time (admins only).
pub async fn audit(State(app): State<Arc<App>>, user: User, Query(q): Query<AuditQuery>) -> PageResult {
    let cursor = Some(q.cursor.clone()).filter(|c| !c.is_empty());
    let lq = ListQuery {
        limit: Some(AUDIT_PAGE),
        cursor: cursor.clone(),
        state: None,
        signal: None,
        version: None,
        name: None,
        site: None,
    };
    let Json(p) = api::audit(State(app.clone()), user.caller.clone(), Query(lq)).await?;
    let Json(tokens) = api::tokens(State(app.clone()), user.caller.clone()).await?;
    let names: BTreeMap<&str, &str> = tokens.items.iter().map(|t| (t.id.as_str(), t.name.as_str())).collect();
    let body = html! {
        h1 { "Audit log" }
        p class="muted" { "Every change made through the API or this dashboard, newest first, with the token that made it." }
        @if p.items.is_empty() {
            p class="empty" {
                @if cursor.is_some() { "No older entries. " a href="/audit" { "Back to the newest" } }
                @else { "Nothing recorded yet. Creating tokens, changing rooms, suppressions, webhooks and signing in are recorded here." }
            }
        } @else {
            table class="audit" {
                thead { tr {
                    th scope="col" { "When" } th scope="col" { "Who" } th scope="col" { "Action" }
                    th scope="col" { "Target" } th scope="col" { "Detail" }
                } }
                tbody {
                    @for a in &p.items {
                        tr {
                            td { (time(&a.at)) }
                            td {
                                @match names.get(a.actor.as_str()).filter(|n| !n.is_empty()) {
                                    Some(n) => { (n) br; span class="muted" { code { (a.actor) } } }
                                    None => { code { (a.actor) } }
                                }
                            }
                            td { code { (a.action) } }
                            td {
                                @if a.action.starts_with("room.") { a href=(format!("/rooms/{}", encode(&a.target))) { (a.target) } }
                                @else { (a.target) }
                            }
                            td { (a.detail) }
                        }
                    }
                }
            }
            nav class="tabs" aria-label="Audit pages" {
                @if cursor.is_some() { a href="/audit" { "Newest" } }
                @if let Some(n) = &p.next_cursor { a href=(format!("/audit?cursor={}", encode(n))) rel="next" { "Older entries" } }
            }
        }
    };
    page(&layout("Audit log", Some(&user), &body))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_fields_are_quoted_and_never_formulas() {
        assert_eq!(field("Room \"A\""), "\"Room \"\"A\"\"\"");
        assert_eq!(field("=HYPERLINK(1)"), "\"'=HYPERLINK(1)\"");
        assert_eq!(field("plain"), "\"plain\"");
    }
}
