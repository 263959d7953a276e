//! The dashboard: server-rendered pages for people, beside the API for scripts.
//!
//! - Pages are maud templates: checked when the server is compiled, every value escaped.
//! - A person signs in with an admin or viewer token and gets a session cookie (HttpOnly,
//!   SameSite=Strict, Secure when TLS is on). Only the secret's hash is stored; signing out
//!   deletes the session, revoking the token ends it.
//! - Every form that changes something carries the session's CSRF value, checked on POST.
//! - Pages work without JavaScript. The one script (`static/app.js`, embedded) adds live
//!   refresh and local times; a Content-Security-Policy forbids inline script everywhere.
//! - Pages call the same handlers as the API with the session's caller, so what a page shows
//!   is what the API answers.

use std::fmt::Write as _;
use std::sync::Arc;

use axum::extract::{FromRequestParts, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode, Uri};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use maud::{html, Markup, PreEscaped, DOCTYPE};
use serde::Deserialize;

use crate::auth::{self, Caller, Role};
use crate::problem::Problem;
use crate::App;

mod history;
mod inventory;
mod lookup;
mod pages;
mod settings;
mod svg;
mod triage;
mod upload;

const COOKIE: &str = "uct_session";
/// How long a session lasts from sign-in.
const SESSION_MS: i64 = 12 * 3600 * 1000;
const CSS: &str = include_str!("static/app.css");
const JS: &str = include_str!("static/app.js");

/// The dashboard's routes; everything but `/signin` and `/static/…` needs a session.
pub fn routes() -> Router<Arc<App>> {
    Router::new()
        .route("/", get(pages::overview))
        .route("/signin", get(signin_page).post(signin))
        .route("/signout", post(signout))
        .route("/rooms/{id}", get(pages::room))
        .route("/rooms/{id}/suppress", post(pages::suppress))
        .route("/rooms/{id}/unsuppress", post(pages::unsuppress))
        .route("/incidents", get(pages::incidents))
        .route("/incidents/{id}", get(pages::incident))
        .route("/incidents/{id}/ack", post(pages::acknowledge))
        .route("/lookup", get(lookup::lookup))
        .route("/static/app.css", get(|| async { asset("text/css; charset=utf-8", CSS) }))
        .route("/static/app.js", get(|| async { asset("text/javascript; charset=utf-8", JS) }))
        .merge(history::routes())
        .merge(inventory::routes())
        .merge(settings::routes())
        .merge(upload::routes())
        .merge(triage::routes())
}

fn asset(content_type: &'static str, body: &'static str) -> Response {
    let mut r = body.into_response();
    r.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    r.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("public, max-age=3600"));
    r
}

/// Headers every page gets: no inline script, no framing, no sniffing, no referrer leaks.
pub fn secure_headers(headers: &mut HeaderMap) {
    let set = |h: &mut HeaderMap, k: &'static str, v: &'static str| {
        h.insert(k, HeaderValue::from_static(v));
    };
    // A response with a policy of its own (the uploaded report's document) keeps it.
    if !headers.contains_key("content-security-policy") {
        set(
            headers,
            "content-security-policy",
            "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; \
         form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
        );
    }
    set(headers, "x-content-type-options", "nosniff");
    set(headers, "x-frame-options", "DENY");
    set(headers, "referrer-policy", "same-origin");
}

/// A signed-in person: who they are to the API, and the CSRF value of their forms.
#[derive(Debug, Clone)]
pub struct User {
    pub caller: Caller,
    pub csrf: String,
    pub token_name: String,
    pub session_id: String,
}

impl User {
    pub fn is_admin(&self) -> bool {
        self.caller.role == Role::Admin
    }

    /// Refuse a form that does not carry this session's CSRF value.
    pub fn check_csrf(&self, sent: &str) -> Result<(), PageError> {
        if auth::same(sent.as_bytes(), self.csrf.as_bytes()) {
            Ok(())
        } else {
            Err(PageError::new(
                StatusCode::FORBIDDEN,
                "This form is out of date or did not come from this dashboard. Reload the page and try again.",
            ))
        }
    }
}

fn cookie_value<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

async fn user_of(app: &App, headers: &HeaderMap) -> Option<User> {
    let (id, secret) = cookie_value(headers, COOKIE)?.split_once('.')?;
    let s = app.store.session(id).await.ok()??;
    if s.expires_ms <= app.clock.now_ms() || !auth::same(&s.hash, &auth::sha256(secret.as_bytes())) {
        return None;
    }
    let t = app.store.token(&s.token_id).await.ok()??;
    let role = Role::parse(&t.role).filter(|r| *r != Role::Device)?;
    if t.revoked_ms.is_some() {
        return None;
    }
    Some(User {
        caller: Caller { token_id: t.id, role, room: None },
        csrf: s.csrf,
        token_name: t.name,
        session_id: s.id,
    })
}

impl FromRequestParts<Arc<App>> for User {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, app: &Arc<App>) -> Result<User, Response> {
        if let Some(u) = user_of(app, &parts.headers).await {
            return Ok(u);
        }
        // Back to the page asked for after signing in (a path on this server only).
        let next = parts.uri.path_and_query().map_or("/", axum::http::uri::PathAndQuery::as_str);
        let target = if parts.method == axum::http::Method::GET && safe_next(next) {
            format!("/signin?next={}", encode(next))
        } else {
            "/signin".to_owned()
        };
        Err(Redirect::to(&target).into_response())
    }
}

/// A `next` that stays on this server.
fn safe_next(next: &str) -> bool {
    next.starts_with('/') && !next.starts_with("//") && !next.starts_with("/\\") && !next.contains(['\r', '\n'])
}

/// Percent-encode a query value.
pub fn encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~/".contains(&b) {
            out.push(char::from(b));
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}

/// A page that could not be shown: its status and a sentence saying why.
#[derive(Debug)]
pub struct PageError {
    pub status: StatusCode,
    pub message: String,
}

impl PageError {
    pub fn new(status: StatusCode, message: impl Into<String>) -> PageError {
        PageError { status, message: message.into() }
    }
}

impl From<Problem> for PageError {
    fn from(p: Problem) -> Self {
        PageError {
            status: StatusCode::from_u16(p.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
            message: p.detail,
        }
    }
}

impl From<uctriage_store::StoreError> for PageError {
    fn from(e: uctriage_store::StoreError) -> Self {
        PageError::from(Problem::from(e))
    }
}

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        let title = match self.status {
            StatusCode::NOT_FOUND => "Not found",
            StatusCode::FORBIDDEN => "Not allowed",
            s if s.is_client_error() => "That did not work",
            _ => "Something went wrong on the server",
        };
        let body = html! {
            h1 { (title) }
            p { (self.message) }
            p { a href="/" { "Back to the fleet" } }
        };
        page_response(self.status, &layout(title, None, &body))
    }
}

pub type PageResult = Result<Response, PageError>;

pub fn page_response(status: StatusCode, markup: &Markup) -> Response {
    let mut r = (status, markup.0.clone()).into_response();
    r.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("text/html; charset=utf-8"));
    r.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r
}

pub fn page(markup: &Markup) -> PageResult {
    Ok(page_response(StatusCode::OK, markup))
}

/// The hidden field every state-changing form carries.
pub fn csrf_field(user: &User) -> Markup {
    html! { input type="hidden" name="csrf" value=(user.csrf); }
}

/// Every page's frame: header with navigation and sign-out, the main part, a footer.
pub fn layout(title: &str, user: Option<&User>, body: &Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " · uctriage" }
                link rel="stylesheet" href="/static/app.css";
                script src="/static/app.js" defer {}
            }
            body {
                a class="skip" href="#main" { "Skip to the content" }
                header class="top" {
                    a class="brand" href="/" { "uctriage" }
                    @if let Some(u) = user {
                        nav aria-label="Main" {
                            ul {
                                li { a href="/" { "Fleet" } }
                                li { a href="/incidents" { "Incidents" } }
                                li { a href="/history" { "History" } }
                                li { a href="/inventory" { "Inventory" } }
                                li { a href="/upload" { "Upload" } }
                                li { a href="/lookup" { "Code lookup" } }
                                li { a href="/triage" { "Guided triage" } }
                                @if u.is_admin() {
                                    li { a href="/settings" { "Settings" } }
                                    li { a href="/audit" { "Audit log" } }
                                }
                            }
                        }
                        form class="signout" method="post" action="/signout" {
                            (csrf_field(u))
                            span class="who" { (u.token_name) " (" (u.caller.role.as_str()) ")" }
                            button type="submit" { "Sign out" }
                        }
                    }
                }
                main id="main" { (body) }
                footer { p { "uctriage fleet dashboard. Times are UTC unless marked local." } }
            }
        }
    }
}

#[derive(Debug, Deserialize)]
pub struct NextQuery {
    next: Option<String>,
    error: Option<String>,
}

async fn signin_page(State(app): State<Arc<App>>, headers: HeaderMap, q: axum::extract::Query<NextQuery>) -> Response {
    if user_of(&app, &headers).await.is_some() {
        return Redirect::to("/").into_response();
    }
    signin_form(StatusCode::OK, q.next.as_deref().unwrap_or("/"), q.error.as_deref())
}

fn signin_form(status: StatusCode, next: &str, error: Option<&str>) -> Response {
    let next = if safe_next(next) { next } else { "/" };
    let body = html! {
        section class="signin" aria-labelledby="signin-title" {
            h1 id="signin-title" { "Sign in" }
            p { "Sign in with an admin or viewer token. A viewer sees everything and changes nothing." }
            @if let Some(e) = error {
                p class="error" role="alert" { (e) }
            }
            form method="post" action="/signin" {
                input type="hidden" name="next" value=(next);
                label for="token" { "Token" }
                input id="token" name="token" type="password" autocomplete="off" required spellcheck="false";
                button type="submit" { "Sign in" }
            }
            p class="hint" {
                "The first start of " code { "uctriage serve" } " prints the admin token. Make a viewer token for the help desk with "
                code { "uctriage fleet token create --role viewer" } "."
            }
        }
    };
    page_response(status, &layout("Sign in", None, &body))
}

#[derive(Debug, Deserialize)]
pub struct SigninForm {
    token: String,
    next: Option<String>,
}

async fn signin(State(app): State<Arc<App>>, Form(f): Form<SigninForm>) -> Response {
    let next = f.next.as_deref().filter(|n| safe_next(n)).unwrap_or("/");
    let refuse = |why: &str| signin_form(StatusCode::UNAUTHORIZED, next, Some(why));
    if app.limiter.check("dashboard-signin").is_err() {
        return signin_form(StatusCode::TOO_MANY_REQUESTS, next, Some("Too many attempts; wait a second."));
    }
    let Some((id, secret)) = auth::parse_token(&f.token) else {
        return refuse("That is not a uctriage token (they start with uct_).");
    };
    let row = match app.store.token(id).await {
        Ok(Some(t)) if t.revoked_ms.is_none() && auth::same(&t.hash, &auth::sha256(secret.as_bytes())) => t,
        Ok(_) => return refuse("That token is not valid (unknown, revoked or mistyped)."),
        Err(e) => return PageError::from(e).into_response(),
    };
    if row.role == "device" {
        return refuse("A device token only sends a room's events; sign in with an admin or viewer token.");
    }
    let now = app.clock.now_ms();
    let session_secret = auth::random_hex(32);
    let session = uctriage_store::Session {
        id: format!("se{}", auth::random_hex(8)),
        hash: auth::sha256(session_secret.as_bytes()),
        token_id: row.id.clone(),
        csrf: auth::random_hex(16),
        created_ms: now,
        expires_ms: now + SESSION_MS,
    };
    if let Err(e) = app.store.session_insert(&session).await {
        return PageError::from(e).into_response();
    }
    let _ = app.store.session_purge(now).await;
    let _ = app.store.audit(now, &row.id, "dashboard.signin", &session.id, "").await;
    let secure = if app.public_url().starts_with("https://") { "; Secure" } else { "" };
    let cookie = format!(
        "{COOKIE}={}.{session_secret}; Path=/; HttpOnly; SameSite=Strict; Max-Age={}{secure}",
        session.id,
        SESSION_MS / 1000
    );
    let mut r = Redirect::to(next).into_response();
    if let Ok(v) = HeaderValue::from_str(&cookie) {
        r.headers_mut().insert(header::SET_COOKIE, v);
    }
    r
}

#[derive(Debug, Deserialize)]
pub struct CsrfForm {
    #[serde(default)]
    csrf: String,
}

async fn signout(State(app): State<Arc<App>>, user: User, Form(f): Form<CsrfForm>) -> PageResult {
    user.check_csrf(&f.csrf)?;
    app.store.session_delete(&user.session_id).await?;
    let _ = app.store.audit(app.clock.now_ms(), &user.caller.token_id, "dashboard.signout", &user.session_id, "").await;
    let mut r = Redirect::to("/signin").into_response();
    r.headers_mut().insert(
        header::SET_COOKIE,
        HeaderValue::from_static("uct_session=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0"),
    );
    Ok(r)
}

/// The page for a path nobody serves (outside the API, which answers problem documents).
pub fn not_found(uri: &Uri) -> Response {
    PageError::new(StatusCode::NOT_FOUND, format!("There is no page at {}.", uri.path())).into_response()
}

/// Text in a `<time>` element: UTC, and the viewer's own zone added by the script.
pub fn time(rfc3339: &str) -> Markup {
    let shown = rfc3339.get(..16).unwrap_or(rfc3339).replace('T', " ");
    html! { time datetime=(rfc3339) { (shown) " UTC" } }
}

/// A state as a chip: a colour and the word, so it reads without colour too.
pub fn chip(state: &str, label: &str) -> Markup {
    let class = match state {
        "healthy" => "ok",
        "unhealthy" | "open" | "critical" | "important" => "bad",
        "offline" => "off",
        "warning" | "suppressed" => "warn",
        _ => "na",
    };
    html! { span class=(format!("chip {class}")) { (label) } }
}

/// Raw markup that the server itself drew (the SVG charts), never log text.
pub fn drawn(svg: String) -> PreEscaped<String> {
    PreEscaped(svg)
}
