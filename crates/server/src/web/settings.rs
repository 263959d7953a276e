//! The settings page, for admins: device and viewer tokens, alert destinations, maintenance
//! windows, and the signal catalog (read-only). Every change goes through the API's own
//! handlers with the session's caller; a token or a made signing secret is shown once, on the
//! page that answers the form.

use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect};
use axum::routing::{get, post};
use axum::{Form, Json, Router};
use maud::{html, Markup};
use serde::Deserialize;

use super::{chip, csrf_field, encode, layout, page, page_response, time, PageError, PageResult, User};
use crate::api::{self, ListQuery, RoomSummary};
use crate::problem::Problem;
use crate::App;

const DAYS: [(&str, &str); 7] = [
    ("mon", "Monday"),
    ("tue", "Tuesday"),
    ("wed", "Wednesday"),
    ("thu", "Thursday"),
    ("fri", "Friday"),
    ("sat", "Saturday"),
    ("sun", "Sunday"),
];
const SEVERITIES: [&str; 4] = ["critical", "important", "warning", "recommended"];

pub fn routes() -> Router<Arc<App>> {
    Router::new()
        .route("/settings", get(overview))
        .route("/settings/tokens", post(token_create))
        .route("/settings/tokens/{id}/revoke", post(token_revoke))
        .route("/settings/alerts", post(webhook_create))
        .route("/settings/alerts/{id}", get(deliveries))
        .route("/settings/alerts/{id}/test", post(webhook_test))
        .route("/settings/alerts/{id}/remove", post(webhook_remove))
        .route("/settings/windows", post(window_create))
        .route("/settings/windows/{id}/remove", post(window_remove))
}

/// Settings are for admins; a viewer gets the 403 page before anything is read.
fn admin_only(user: &User) -> Result<(), PageError> {
    if user.is_admin() {
        Ok(())
    } else {
        Err(PageError::new(
            StatusCode::FORBIDDEN,
            "Settings are for admins. Sign in with an admin token to manage tokens, alerts and windows.",
        ))
    }
}

/// Admin, and the form came from this session.
fn allowed(user: &User, csrf: &str) -> Result<(), PageError> {
    admin_only(user)?;
    user.check_csrf(csrf)
}

fn ms_time(ms: i64) -> Markup {
    time(&crate::fleet::rfc3339(ms))
}

fn hhmm(min: i64) -> String {
    format!("{:02}:{:02}", min / 60, min % 60)
}

/// Every room, for the room choices, by name.
async fn all_rooms(app: &Arc<App>, user: &User) -> Result<Vec<RoomSummary>, PageError> {
    let mut out = super::pages::all_rooms(app, user).await?;
    out.sort_by_key(|r| r.name.to_lowercase());
    Ok(out)
}

#[derive(Debug, Default, Deserialize)]
pub struct Done {
    #[serde(default)]
    done: String,
}

/// What the last form did, said at the top of the page after its redirect.
fn done_message(done: &str) -> Option<&'static str> {
    Some(match done {
        "token-revoked" => "The token is revoked: it stopped working at once.",
        "alert-added" => "The alert destination is added.",
        "alert-removed" => "The alert destination is removed.",
        "window-added" => "The maintenance window is added.",
        "window-removed" => "The maintenance window is removed.",
        _ => return None,
    })
}

/// GET /settings
pub async fn overview(State(app): State<Arc<App>>, user: User, Query(q): Query<Done>) -> PageResult {
    settings_page(&app, &user, StatusCode::OK, done_message(&q.done), None).await
}

/// The settings page, with a note of what was done or an error of the last form.
async fn settings_page(
    app: &Arc<App>,
    user: &User,
    status: StatusCode,
    done: Option<&str>,
    error: Option<&str>,
) -> PageResult {
    admin_only(user)?;
    let Json(tokens) = api::tokens(State(app.clone()), user.caller.clone()).await?;
    let Json(hooks) = api::webhooks(State(app.clone()), user.caller.clone()).await?;
    let Json(windows) = api::windows(State(app.clone()), user.caller.clone()).await?;
    let rooms = all_rooms(app, user).await?;
    let room_name = |id: &str| rooms.iter().find(|r| r.id == id).map_or_else(|| id.to_owned(), |r| r.name.clone());
    let mut tokens = tokens.items;
    // Active first, newest first.
    tokens.sort_by(|a, b| a.revoked_ms.is_some().cmp(&b.revoked_ms.is_some()).then(b.created_ms.cmp(&a.created_ms)));
    let body = html! {
        h1 { "Settings" }
        nav class="tabs" aria-label="Settings sections" {
            a href="#tokens" { "Tokens" }
            a href="#alerts" { "Alert destinations" }
            a href="#windows" { "Maintenance windows" }
            a href="#signals" { "Signal thresholds" }
        }
        @if let Some(e) = error {
            p class="error" role="alert" { (e) }
        }
        @if let Some(d) = done {
            p class="done" role="status" { (d) }
        }

        section id="tokens" aria-labelledby="tokens-title" {
            h2 id="tokens-title" { "Device and viewer tokens" }
            p { "A " strong { "device" } " token lets " code { "uctriage push" } " on a room send its events; bound to a room, it can send only that room's. "
                "A " strong { "viewer" } " token signs the help desk in to see everything and change nothing. "
                "A token is shown once, when it is made; only its hash is kept. Revoking one stops it at once." }
            table class="tokens" {
                thead { tr {
                    th scope="col" { "Token" } th scope="col" { "Role" } th scope="col" { "Room" }
                    th scope="col" { "Created" } th scope="col" { "State" } th scope="col" { span class="visually-hidden" { "Actions" } }
                } }
                tbody {
                    @for t in &tokens {
                        tr data-token=(t.id) {
                            th scope="row" {
                                @if t.name.is_empty() { span class="muted" { "(no name)" } } @else { (t.name) }
                                br; code class="muted" { (t.id) }
                            }
                            td { (t.role) }
                            td { @if let Some(r) = &t.room_id { a href=(format!("/rooms/{}", encode(r))) { (room_name(r)) } } @else { "—" } }
                            td { (ms_time(t.created_ms)) }
                            td {
                                @if let Some(r) = t.revoked_ms { (chip("off", "revoked")) " " (ms_time(r)) }
                                @else { (chip("healthy", "active")) }
                            }
                            td {
                                @if t.revoked_ms.is_none() {
                                    @if t.id == user.caller.token_id {
                                        span class="muted" { "you are signed in with it" }
                                    } @else {
                                        form method="post" action=(format!("/settings/tokens/{}/revoke", encode(&t.id))) class="inline" {
                                            (csrf_field(user))
                                            button type="submit" aria-label=(format!("Revoke {} ({})", t.name, t.id)) { "Revoke" }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
            h3 { "Make a token" }
            form method="post" action="/settings/tokens" class="stack" id="token-form" {
                (csrf_field(user))
                label for="tk-role" { "Role" }
                select id="tk-role" name="role" {
                    option value="device" selected { "device: sends a room's events" }
                    option value="viewer" { "viewer: signs in to read" }
                }
                label for="tk-name" { "Name" }
                input id="tk-name" name="name" maxlength="100" placeholder="Board room, help desk";
                label for="tk-room" { "Bound to room (device tokens only)" }
                select id="tk-room" name="room" {
                    option value="" { "No room: any room" }
                    @for r in &rooms { option value=(r.id) { (r.name) @if !r.site.is_empty() { " · " (r.site) } } }
                }
                button type="submit" { "Make the token" }
            }
        }

        section id="alerts" aria-labelledby="alerts-title" {
            h2 id="alerts-title" { "Alert destinations" }
            p { "Incidents that open, reopen, change cause or resolve are sent to each destination whose minimum severity and site they meet. "
                "URLs are kept sealed; only their part before the query is shown, and secrets never again." }
            @if hooks.items.is_empty() {
                p class="empty" { "No alert destinations: incidents are recorded but nobody is told." }
            } @else {
                table class="webhooks" {
                    thead { tr {
                        th scope="col" { "Destination" } th scope="col" { "Kind" } th scope="col" { "Site" }
                        th scope="col" { "Min severity" } th scope="col" { "Created" } th scope="col" { span class="visually-hidden" { "Actions" } }
                    } }
                    tbody {
                        @for w in &hooks.items {
                            tr data-webhook=(w.id) {
                                th scope="row" {
                                    @if w.name.is_empty() { span class="muted" { "(no name)" } } @else { (w.name) }
                                    br; code class="muted" { (w.url_hint) }
                                }
                                td { (w.kind) }
                                td { @if w.site.is_empty() { "every site" } @else { (w.site) } }
                                td { (chip(&w.min_severity, &w.min_severity)) }
                                td { (ms_time(w.created_ms)) }
                                td {
                                    a href=(format!("/settings/alerts/{}", encode(&w.id))) { "Deliveries" }
                                    " "
                                    form method="post" action=(format!("/settings/alerts/{}/test", encode(&w.id))) class="inline" {
                                        (csrf_field(user))
                                        button type="submit" aria-label=(format!("Send a test to {}", w.id)) { "Send a test" }
                                    }
                                    " "
                                    form method="post" action=(format!("/settings/alerts/{}/remove", encode(&w.id))) class="inline" {
                                        (csrf_field(user))
                                        button type="submit" aria-label=(format!("Remove {}", w.id)) { "Remove" }
                                    }
                                }
                            }
                        }
                    }
                }
                p class="muted" { "Deliveries lists what was sent to a destination, newest first; each incident's page lists its own." }
            }
            h3 { "Add a destination" }
            form method="post" action="/settings/alerts" class="stack" id="alert-form" {
                (csrf_field(user))
                label for="wh-kind" { "Kind" }
                select id="wh-kind" name="kind" {
                    option value="teams" { "teams: a Teams Workflows “post to a channel” URL" }
                    option value="standard" { "standard: signed JSON (Standard Webhooks)" }
                    option value="smtp" { "smtp: e-mail through a relay" }
                    option value="syslog" { "syslog: RFC 5424 over TCP or TLS" }
                }
                label for="wh-url" { "Destination (https://…, smtp://user@relay?from=…&to=…, tls://host:6514)" }
                input id="wh-url" name="url" required maxlength="4096" spellcheck="false" autocomplete="off";
                label for="wh-secret" { "Secret (standard: a whsec_… secret, made for you when empty; smtp: the relay's password)" }
                input id="wh-secret" name="secret" type="password" autocomplete="new-password" spellcheck="false";
                label for="wh-name" { "Name" }
                input id="wh-name" name="name" maxlength="100" placeholder="Rooms on-call";
                label for="wh-site" { "Only rooms of site (empty: every site)" }
                input id="wh-site" name="site" maxlength="200";
                label for="wh-min" { "Minimum severity" }
                select id="wh-min" name="min_severity" {
                    @for s in SEVERITIES { option value=(s) selected[s == "important"] { (s) } }
                }
                button type="submit" { "Add the destination" }
            }
        }

        section id="windows" aria-labelledby="windows-title" {
            h2 id="windows-title" { "Maintenance windows" }
            p { "During a window, incidents are still recorded but not alerted: the nightly update, a weekly reboot. "
                "Times are each room's local time (its time zone), and a window that ends before it starts runs past midnight." }
            @if windows.items.is_empty() {
                p class="empty" { "No maintenance windows." }
            } @else {
                table class="windows" {
                    thead { tr {
                        th scope="col" { "When" } th scope="col" { "Rooms" } th scope="col" { "Reason" }
                        th scope="col" { "Created" } th scope="col" { span class="visually-hidden" { "Actions" } }
                    } }
                    tbody {
                        @for w in &windows.items {
                            tr data-window=(w.id) {
                                th scope="row" {
                                    (hhmm(w.start_min)) "–" (hhmm(w.end_min)) " "
                                    span class="muted" { @if w.days.is_empty() { "every day" } @else { (w.days.replace(',', ", ")) } }
                                }
                                td {
                                    @if !w.room_id.is_empty() { a href=(format!("/rooms/{}", encode(&w.room_id))) { (room_name(&w.room_id)) } }
                                    @else if !w.site.is_empty() { "every room of " (w.site) }
                                    @else { "every room" }
                                }
                                td { (w.reason) }
                                td { (ms_time(w.created_ms)) }
                                td {
                                    form method="post" action=(format!("/settings/windows/{}/remove", encode(&w.id))) class="inline" {
                                        (csrf_field(user))
                                        button type="submit" aria-label=(format!("Remove window {}", w.id)) { "Remove" }
                                    }
                                }
                            }
                        }
                    }
                }
            }
            h3 { "Add a window" }
            form method="post" action="/settings/windows" class="stack" id="window-form" {
                (csrf_field(user))
                label for="mw-room" { "Room" }
                select id="mw-room" name="room" {
                    option value="" { "Every room (or every room of the site below)" }
                    @for r in &rooms { option value=(r.id) { (r.name) @if !r.site.is_empty() { " · " (r.site) } } }
                }
                label for="mw-site" { "Site (empty: every site)" }
                input id="mw-site" name="site" maxlength="200";
                label for="mw-start" { "Start (HH:MM, room's local time)" }
                input id="mw-start" name="start" required placeholder="02:00" pattern="[0-9]{1,2}:[0-9]{2}";
                label for="mw-end" { "End (HH:MM)" }
                input id="mw-end" name="end" required placeholder="04:00" pattern="[0-9]{1,2}:[0-9]{2}";
                fieldset {
                    legend { "Weekdays (none ticked: every day)" }
                    @for (d, name) in DAYS {
                        label for=(format!("mw-{d}")) class="check" {
                            input type="checkbox" id=(format!("mw-{d}")) name=(d) value="on";
                            " " (name)
                        }
                    }
                }
                label for="mw-reason" { "Reason" }
                input id="mw-reason" name="reason" required maxlength="500" placeholder="Nightly Windows and Teams updates";
                button type="submit" { "Add the window" }
            }
        }

        section id="signals" aria-labelledby="signals-title" {
            h2 id="signals-title" { "Signal thresholds" }
            p { "The signals each room is judged on, how severe a bad one is, and how many minutes it must stay bad before an incident opens. "
                "They are set in data, not here: " code { "crates/server/data/signals.toml" } " (compiled into the server; "
                "change it and rebuild). Only critical and important signals make a room unhealthy." }
            table class="catalog" {
                thead { tr {
                    th scope="col" { "Signal" } th scope="col" { "Id" } th scope="col" { "Kind" }
                    th scope="col" { "Severity" } th scope="col" { "Watch (minutes)" } th scope="col" { "Also" }
                } }
                tbody {
                    @for s in crate::fleet::signals() {
                        @let sev = crate::alerts::severity_name(s.severity);
                        tr {
                            th scope="row" { (s.name) }
                            td { code { (s.id) } }
                            td { (s.kind) }
                            td { (chip(sev, sev)) }
                            td { (s.watch) }
                            td {
                                @if let (Some(w), Some(l)) = (s.window, s.limit) { "more than " (l) " in " (w) " minutes" }
                                @if let Some(a) = s.after { "no heartbeat for " (a) " minutes" }
                                @if let Some(f) = &s.field { "heartbeat field " code { (f) } }
                            }
                        }
                    }
                }
            }
        }
    };
    Ok(page_response(status, &layout("Settings", Some(user), &body)))
}

/// A form the API refused: the settings page again with its reason on top.
async fn refused(app: &Arc<App>, user: &User, p: Problem) -> PageResult {
    if p.status == 403 || p.status >= 500 {
        return Err(PageError::from(p));
    }
    let status = StatusCode::from_u16(p.status).unwrap_or(StatusCode::UNPROCESSABLE_ENTITY);
    settings_page(app, user, status, None, Some(&format!("That did not work: {}", p.detail))).await
}

fn back(done: &str, section: &str) -> axum::response::Response {
    Redirect::to(&format!("/settings?done={done}#{section}")).into_response()
}

/// A page that shows a secret once, with a copy button and a field to select it without script.
fn once_page(user: &User, title: &str, intro: &Markup, label: &str, secret: &str, after: &Markup) -> PageResult {
    let body = html! {
        p class="crumbs" { a href="/settings" { "Settings" } " › " (title) }
        h1 { (title) }
        (intro)
        div class="secret" {
            label for="secret" { (label) }
            input id="secret" class="secret" type="text" size="90" readonly value=(secret) spellcheck="false" autocomplete="off";
            button type="button" class="copy" data-copy=(secret) hidden { "Copy" }
        }
        p { strong { "This is the only time it is shown. Copy it now: it cannot be read again, only replaced." } }
        (after)
        p { a href="/settings" { "Back to the settings" } }
    };
    page(&layout(title, Some(user), &body))
}

#[derive(Debug, Deserialize)]
pub struct TokenForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    role: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    room: String,
}

/// POST /settings/tokens: make a device or viewer token and show it once.
pub async fn token_create(State(app): State<Arc<App>>, user: User, Form(f): Form<TokenForm>) -> PageResult {
    allowed(&user, &f.csrf)?;
    if !["device", "viewer"].contains(&f.role.as_str()) {
        return refused(
            &app,
            &user,
            Problem::unprocessable("make a device or a viewer token here (admin tokens: the CLI)"),
        )
        .await;
    }
    let body = api::NewToken {
        role: f.role.clone(),
        room: Some(f.room.clone()).filter(|r| !r.is_empty()),
        name: Some(f.name.trim().to_owned()),
    };
    let created = match api::token_create(State(app.clone()), user.caller.clone(), Json(body)).await {
        Ok((_, Json(c))) => c,
        Err(p) => return refused(&app, &user, p).await,
    };
    let server = app.public_url();
    let token = &created.token;
    let device = created.info.role == "device";
    let intro = html! {
        p { "A " strong { (created.info.role) } " token "
            @if !created.info.name.is_empty() { "named “" (created.info.name) "” " }
            "(id " code { (created.info.id) } ")"
            @if let Some(r) = &created.info.room_id { ", bound to room " a href=(format!("/rooms/{}", encode(r))) { code { (r) } } }
            ", is made." }
    };
    let command = format!("uctriage push events.json --server {server} --token-file device.token");
    let ps_line = format!(
        "& (Join-Path $dir 'uctriage.exe') push $export --server {server} `\n    --token-file (Join-Path $dir 'device.token')"
    );
    let register =
        "icacls C:\\ProgramData\\uctriage\\device.token /inheritance:r /grant:r 'SYSTEM:R' 'Administrators:F'\n\
$action  = New-ScheduledTaskAction -Execute 'powershell.exe' `\n           \
-Argument '-NoProfile -ExecutionPolicy Bypass -File C:\\ProgramData\\uctriage\\push.ps1'\n\
$trigger = New-ScheduledTaskTrigger -Once -At (Get-Date) -RepetitionInterval (New-TimeSpan -Minutes 5)\n\
Register-ScheduledTask -TaskName 'uctriage push' -Action $action -Trigger $trigger -User 'SYSTEM' -RunLevel Highest";
    let after = html! {
        @if device {
            section aria-labelledby="push-title" {
                h2 id="push-title" { "Send a room's events with it" }
                ol {
                    li { "Save the token, alone on one line, as " code { "C:\\ProgramData\\uctriage\\device.token" } " on the room." }
                    li {
                        "Export the room's event logs and push them (the server's public address is filled in):"
                        pre id="push-command" class="command" { (command) }
                        button type="button" class="copy" data-copy=(command) hidden { "Copy the command" }
                    }
                    li {
                        "Or run it every 5 minutes as a scheduled task: the script " code { "push.ps1" }
                        " in the fleet guide (docs/fleet.md, “uctriage push on a room”) ends with"
                        pre class="command" { (ps_line) }
                        "and is registered once, as an administrator, with"
                        pre class="command" { (register) }
                    }
                }
            }
        } @else {
            p { "Give it to the person who will sign in; they paste it on the sign-in page at " code { (server) "/signin" } "." }
        }
    };
    once_page(&user, "Token made", &intro, "The token", token, &after)
}

#[derive(Debug, Deserialize)]
pub struct CsrfOnly {
    #[serde(default)]
    csrf: String,
}

/// POST /settings/tokens/{id}/revoke
pub async fn token_revoke(
    State(app): State<Arc<App>>,
    user: User,
    Path(id): Path<String>,
    Form(f): Form<CsrfOnly>,
) -> PageResult {
    allowed(&user, &f.csrf)?;
    if let Err(p) = api::token_revoke(State(app.clone()), user.caller.clone(), Path(id)).await {
        return refused(&app, &user, p).await;
    }
    Ok(back("token-revoked", "tokens"))
}

#[derive(Debug, Deserialize)]
pub struct WebhookForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    kind: String,
    #[serde(default)]
    url: String,
    #[serde(default)]
    secret: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    site: String,
    #[serde(default)]
    min_severity: String,
}

/// POST /settings/alerts: add a destination; a signing secret the server made is shown once.
pub async fn webhook_create(State(app): State<Arc<App>>, user: User, Form(f): Form<WebhookForm>) -> PageResult {
    allowed(&user, &f.csrf)?;
    let opt = |s: String| Some(s.trim().to_owned()).filter(|s| !s.is_empty());
    let body = api::NewWebhook {
        kind: f.kind,
        url: f.url,
        secret: Some(f.secret).filter(|s| !s.is_empty()),
        name: opt(f.name),
        site: opt(f.site),
        min_severity: opt(f.min_severity),
    };
    let created = match api::webhook_create(State(app.clone()), user.caller.clone(), Json(body)).await {
        Ok((_, Json(c))) => c,
        Err(p) => return refused(&app, &user, p).await,
    };
    let Some(secret) = created.secret else { return Ok(back("alert-added", "alerts")) };
    let w = &created.webhook;
    let intro = html! {
        p { "The " (w.kind) " destination " code { (w.url_hint) } " (id " code { (w.id) } ") is added. "
            "It signs every alert with this secret: give it to the receiver, which checks the "
            code { "webhook-signature" } " header with it (see docs/fleet.md, Alerts)." }
    };
    once_page(&user, "Alert destination added", &intro, "The signing secret", &secret, &html! {})
}

/// POST /settings/alerts/{id}/test: send a test alert now and say how it went.
pub async fn webhook_test(
    State(app): State<Arc<App>>,
    user: User,
    Path(id): Path<String>,
    Form(f): Form<CsrfOnly>,
) -> PageResult {
    allowed(&user, &f.csrf)?;
    let a = match api::webhook_test(State(app.clone()), user.caller.clone(), Path(id.clone())).await {
        Ok(Json(a)) => a,
        Err(p) => return refused(&app, &user, p).await,
    };
    let ok = a.state == "delivered";
    let body = html! {
        p class="crumbs" { a href="/settings#alerts" { "Settings" } " › Test alert" }
        h1 { "Test alert to " code { (id) } }
        p class=(if ok { "done" } else { "error" }) role="status" id="test-outcome" {
            (chip(if ok { "healthy" } else { "unhealthy" }, &a.state)) " "
            @if ok { "The destination accepted the test alert." }
            @else if a.state == "pending" { "The destination did not accept it yet; it will be retried with backoff." }
            @else { "The destination refused the test alert." }
        }
        dl class="facts" {
            dt { "Alert" } dd { code { (a.id) } }
            dt { "Attempts" } dd { (a.attempts) }
            dt { "Answer" } dd { @if let Some(s) = a.last_status { "HTTP " (s) } @else { "—" } }
            dt { "Last error" } dd { (a.last_error.as_deref().unwrap_or("none")) }
            @if let Some(d) = a.delivered_ms { dt { "Delivered" } dd { (ms_time(d)) } }
        }
        p class="muted" { "A Teams Workflows URL answers 202 before its flow runs: look in the channel to be sure." }
        p { a href="/settings#alerts" { "Back to the settings" } }
    };
    page(&layout("Test alert", Some(&user), &body))
}

/// POST /settings/alerts/{id}/remove
pub async fn webhook_remove(
    State(app): State<Arc<App>>,
    user: User,
    Path(id): Path<String>,
    Form(f): Form<CsrfOnly>,
) -> PageResult {
    allowed(&user, &f.csrf)?;
    if let Err(p) = api::webhook_delete(State(app.clone()), user.caller.clone(), Path(id)).await {
        return refused(&app, &user, p).await;
    }
    Ok(back("alert-removed", "alerts"))
}

#[derive(Debug, Deserialize)]
#[allow(clippy::struct_excessive_bools)] // one per weekday checkbox
pub struct WindowForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    room: String,
    #[serde(default)]
    site: String,
    #[serde(default)]
    start: String,
    #[serde(default)]
    end: String,
    #[serde(default)]
    reason: String,
    #[serde(default, deserialize_with = "ticked")]
    mon: bool,
    #[serde(default, deserialize_with = "ticked")]
    tue: bool,
    #[serde(default, deserialize_with = "ticked")]
    wed: bool,
    #[serde(default, deserialize_with = "ticked")]
    thu: bool,
    #[serde(default, deserialize_with = "ticked")]
    fri: bool,
    #[serde(default, deserialize_with = "ticked")]
    sat: bool,
    #[serde(default, deserialize_with = "ticked")]
    sun: bool,
}

/// A checkbox is sent (`on`) when ticked and absent otherwise.
fn ticked<'de, D: serde::Deserializer<'de>>(d: D) -> Result<bool, D::Error> {
    let s = String::deserialize(d)?;
    Ok(!s.is_empty())
}

/// POST /settings/windows
pub async fn window_create(State(app): State<Arc<App>>, user: User, Form(f): Form<WindowForm>) -> PageResult {
    allowed(&user, &f.csrf)?;
    let ticks = [f.mon, f.tue, f.wed, f.thu, f.fri, f.sat, f.sun];
    let days: Vec<&str> = DAYS.iter().zip(ticks).filter(|(_, t)| *t).map(|((d, _), _)| *d).collect();
    let opt = |s: String| Some(s.trim().to_owned()).filter(|s| !s.is_empty());
    let body = api::NewWindow {
        room: opt(f.room),
        site: opt(f.site),
        days: Some(days.join(",")).filter(|d| !d.is_empty()),
        start: f.start,
        end: f.end,
        reason: f.reason,
    };
    if let Err(p) = api::window_create(State(app.clone()), user.caller.clone(), Json(body)).await {
        return refused(&app, &user, p).await;
    }
    Ok(back("window-added", "windows"))
}

/// POST /settings/windows/{id}/remove
pub async fn window_remove(
    State(app): State<Arc<App>>,
    user: User,
    Path(id): Path<String>,
    Form(f): Form<CsrfOnly>,
) -> PageResult {
    allowed(&user, &f.csrf)?;
    if let Err(p) = api::window_delete(State(app.clone()), user.caller.clone(), Path(id)).await {
        return refused(&app, &user, p).await;
    }
    Ok(back("window-removed", "windows"))
}

/// One destination's newest deliveries: what was sent, how often it was tried, how it ended.
async fn deliveries(State(app): State<Arc<App>>, user: User, Path(id): Path<String>) -> PageResult {
    admin_only(&user)?;
    let q =
        ListQuery { limit: Some(100), cursor: None, state: None, signal: None, version: None, name: None, site: None };
    let Json(list) =
        api::webhook_deliveries(State(app.clone()), user.caller.clone(), Path(id.clone()), Query(q)).await?;
    let Json(hooks) = api::webhooks(State(app), user.caller.clone()).await?;
    let hook = hooks.items.iter().find(|w| w.id == id);
    let title =
        hook.map_or_else(|| id.clone(), |w| if w.name.is_empty() { w.url_hint.clone() } else { w.name.clone() });
    let body = html! {
        p class="crumbs" { a href="/settings#alerts" { "Settings" } " › " (title) }
        h1 { "Deliveries to " (title) }
        @if let Some(w) = hook { p { (w.kind) " · " code { (w.url_hint) } } }
        @if list.items.is_empty() {
            p class="empty" { "Nothing was sent here yet. Send a test from the settings page to try it." }
        } @else {
            table class="deliveries" {
                thead { tr {
                    th scope="col" { "Alert" } th scope="col" { "Incident" } th scope="col" { "Event" } th scope="col" { "State" }
                    th scope="col" { "Attempts" } th scope="col" { "Last answer" } th scope="col" { "Planned" } th scope="col" { "Delivered" }
                } }
                tbody {
                    @for a in &list.items {
                        tr {
                            th scope="row" { code { (a.id) } }
                            td { @if a.incident_id == "test" { "a test" } @else { a href=(format!("/incidents/{}", encode(&a.incident_id))) { (a.incident_id) } } }
                            td { (a.event) }
                            td { (chip(if a.state == "delivered" { "healthy" } else if a.state == "failed" { "unhealthy" } else { "warning" }, &a.state)) }
                            td { (a.attempts) }
                            td { @if let Some(st) = a.last_status { (st) " " } (a.last_error.as_deref().unwrap_or("")) }
                            td { (ms_time(a.created_ms)) }
                            td { @if let Some(d) = a.delivered_ms { (ms_time(d)) } @else { "—" } }
                        }
                    }
                }
            }
        }
    };
    page(&layout(&format!("Deliveries to {title}"), Some(&user), &body))
}
