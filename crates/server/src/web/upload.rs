//! Upload a bundle, `.evtx` or log from the browser, and read its report.
//!
//! The form works without JavaScript (a multipart POST); with it, a file dropped on the page is
//! sent as the raw body with its progress shown. Either way the upload goes through the API's
//! own upload handler (streamed to disk, hostile zips refused, scanned in the background), and
//! the browser lands on the report's page, which refreshes until the scan is done. The report
//! is the same one `scan --format html` writes, shown whole or redacted.

use std::sync::Arc;

use axum::extract::{Path, Query, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Redirect};
use axum::routing::get;
use axum::{Json, Router};
use maud::html;
use serde::Deserialize;
use serde_json::Value;

use super::{chip, layout, page, time, PageError, PageResult, User};
use crate::api;
use crate::App;

pub fn routes() -> Router<Arc<App>> {
    Router::new()
        .route("/upload", get(form).post(receive))
        .route("/reports/{id}", get(report_page))
        .route("/reports/{id}/report.html", get(report_html))
}

async fn rooms_for_select(app: &Arc<App>) -> Result<Vec<(String, String)>, PageError> {
    let mut rooms: Vec<(String, String)> = app
        .store
        .rooms()
        .await?
        .into_iter()
        .filter(|r| !r.retired && r.merged_into.is_none())
        .map(|r| (r.id.clone(), r.label().to_owned()))
        .collect();
    rooms.sort_by_key(|r| r.1.to_lowercase());
    Ok(rooms)
}

async fn form(State(app): State<Arc<App>>, user: User) -> PageResult {
    let rooms = rooms_for_select(&app).await?;
    let body = html! {
        h1 { "Upload a bundle or log" }
        @if user.is_admin() {
            p { "A Teams Rooms diagnostic .zip, a folder zipped, an .evtx, an Event Viewer export, a Teams or Lync client log, an SBC trace: the server scans it like "
                code { "uctriage scan" } " does and keeps the report, linked from the room you pick." }
            form id="upload" class="stack drop" method="post" action=(format!("/upload?csrf={}", user.csrf))
                enctype="multipart/form-data" data-upload="" {
                label for="file" { "File" }
                input id="file" name="file" type="file" required;
                label for="room" { "Room (optional)" }
                select id="room" name="room" {
                    option value="" { "No room" }
                    @for (id, name) in &rooms { option value=(id) { (name) } }
                }
                p class="muted" { "Or drop a file anywhere on this box." }
                progress id="progress" max="100" value="0" hidden {}
                p id="status" role="status" {}
                button type="submit" { "Upload and scan" }
            }
        } @else {
            p { "Uploads are for admins: a viewer token looks and changes nothing. Ask an admin, or run "
                code { "uctriage scan FILE" } " on your own machine." }
        }
    };
    page(&layout("Upload", Some(&user), &body))
}

#[derive(Debug, Deserialize)]
pub struct UploadQuery {
    #[serde(default)]
    csrf: String,
    room: Option<String>,
    name: Option<String>,
}

/// The form's POST (multipart) or the script's (raw body, `x-csrf-token`): the CSRF value is
/// checked before a byte is read, then the API's upload handler takes the body as it streams.
async fn receive(
    State(app): State<Arc<App>>,
    user: User,
    Query(q): Query<UploadQuery>,
    headers: HeaderMap,
    request: Request,
) -> PageResult {
    let sent = headers.get("x-csrf-token").and_then(|v| v.to_str().ok()).unwrap_or(&q.csrf).to_owned();
    user.check_csrf(&sent)?;
    let query = crate::ingest::IngestQuery { room: q.room.filter(|r| !r.is_empty()), name: q.name };
    let (_, Json(row)) = crate::ingest::upload(State(app), user.caller.clone(), Query(query), headers, request).await?;
    Ok(Redirect::to(&format!("/reports/{}", row.id)).into_response())
}

#[derive(Debug, Deserialize)]
pub struct ReportQuery {
    #[serde(default)]
    redact: Option<String>,
}

impl ReportQuery {
    fn redacted(&self) -> bool {
        self.redact.as_deref().is_some_and(|v| v == "1" || v == "on" || v == "true")
    }
}

async fn report_page(
    State(app): State<Arc<App>>,
    user: User,
    Path(id): Path<String>,
    Query(q): Query<ReportQuery>,
) -> PageResult {
    let Json(view) = api::report(State(app.clone()), user.caller.clone(), Path(id.clone())).await?;
    let redacted = q.redacted();
    let report = if redacted { view.redacted() } else { view.report.clone() };
    let row = &view.row;
    let pending = row.status == "queued" || row.status == "running";
    let room_name = match &row.room_id {
        Some(r) => app.store.room(r).await?.map(|r| (r.id.clone(), r.label().to_owned())),
        None => None,
    };
    let suffix = if redacted { "?redact=1" } else { "" };
    let body = html! {
        p class="crumbs" { a href="/upload" { "Upload" } " › " (row.name) }
        h1 { "Report: " (row.name) }
        div id="live" data-refresh=[pending.then_some("2")] {
            p { (chip(if row.status == "done" { "healthy" } else if row.status == "failed" { "unhealthy" } else { "warning" }, &row.status))
                " " (row.size) " bytes, uploaded " (time(&crate::fleet::rfc3339(row.created_ms)))
                @if let Some((rid, name)) = &room_name { " for " a href=(format!("/rooms/{rid}")) { (name) } } }
            @if pending { p { "Scanning… this page refreshes by itself." } }
            @if let Some(e) = &row.error { p class="error" role="alert" { (e) } }
            @if let Some(r) = &report {
                nav class="tabs" aria-label="Report view" {
                    a href=(format!("/reports/{id}")) aria-current=[(!redacted).then_some("page")] { "Whole" }
                    a href=(format!("/reports/{id}?redact=1")) aria-current=[redacted.then_some("page")] { "Redacted, for sharing" }
                    a href=(format!("/reports/{id}/report.html{suffix}")) { "The full HTML report" }
                }
                h2 { "Findings, most likely root cause first" }
                @if r.findings.is_empty() {
                    p { "No problem found in what was read." }
                }
                @for f in &r.findings {
                    section class="cause" {
                        (super::pages::finding_block(&serde_json::to_value(f).unwrap_or(Value::Null)))
                    }
                }
            }
        }
    };
    page(&layout(&format!("Report {}", row.name), Some(&user), &body))
}

/// The report as `scan --format html` writes it: a document of its own, whose inline style is
/// allowed by this response's policy (and nothing else is).
async fn report_html(
    State(app): State<Arc<App>>,
    user: User,
    Path(id): Path<String>,
    Query(q): Query<ReportQuery>,
) -> PageResult {
    let Json(view) = api::report(State(app), user.caller.clone(), Path(id.clone())).await?;
    let Some(report) = (if q.redacted() { view.redacted() } else { view.report }) else {
        return Err(PageError::new(StatusCode::NOT_FOUND, format!("report {id} has no result yet")));
    };
    let mut r = uctriage_report::html(&report).into_response();
    r.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("text/html; charset=utf-8"));
    r.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    // Marked so the page-wide policy is not laid over this one.
    r.headers_mut().insert(
        "content-security-policy",
        HeaderValue::from_static(
            "default-src 'none'; style-src 'unsafe-inline'; img-src data:; form-action 'none'; frame-ancestors 'self'; base-uri 'none'",
        ),
    );
    Ok(r)
}
