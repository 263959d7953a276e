//! The fleet server (`uctriage serve`): Teams Rooms devices and admins push events and bundles;
//! the server keeps each room's signals over time and judges each room with the same rules as
//! `scan`, through the same facade (`uctriage_scan`).
//!
//! Routes are listed in [`router`] and described in `openapi.json`, served at
//! `/api/v1/openapi.json`. Every error is an RFC 9457 problem document.

pub mod alerts;
pub mod api;
pub mod auth;
pub mod clock;
pub mod fleet;
pub mod history;
pub mod incidents;
pub mod ingest;
pub mod jobs;
pub mod metrics;
pub mod problem;
pub mod secrets;
pub mod sites;
pub mod smtp;
pub mod syslog;
pub mod web;
pub mod windows;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::DefaultBodyLimit;
use axum::http::{header, HeaderValue, Request};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use tokio::sync::Notify;
use uctriage_scan::RuleSet;
use uctriage_store::{Store, Token};

pub use clock::Clock;
pub use problem::Problem;

/// The API description, served as is.
pub const OPENAPI: &str = include_str!("../openapi.json");

/// Everything a request handler can reach.
#[derive(Debug)]
pub struct App {
    pub store: Arc<dyn Store>,
    pub rules: Arc<RuleSet>,
    pub clock: Clock,
    pub data_dir: PathBuf,
    pub limiter: auth::RateLimiter,
    pub metrics: metrics::Metrics,
    pub limits: ingest::UploadLimits,
    pub retention_days: u32,
    pub raw_retention_days: u32,
    pub sealer: secrets::Sealer,
    /// Sites for rooms whose site nobody set, by subnet.
    pub sites: sites::SiteMap,
    pub sweep_secs: u64,
    pub settle_ms: i64,
    /// The address people reach the server at, when given (`--public-url`).
    pub configured_url: Option<String>,
    /// The address the server listens on, once it does (see [`App::public_url`]).
    pub bound_url: std::sync::OnceLock<String>,
    pub alert_hold_ms: i64,
    /// This instance's name for leases on alerts.
    pub instance: String,
    /// Wakes the alert sender.
    pub alerts: Notify,
    /// Wakes the diagnosis worker.
    pub diagnose: Notify,
    /// Wakes the upload scanner.
    pub reports: Notify,
    /// Ingest batches waiting for the SQLite writer, committed in groups.
    pub writes: ingest::WriteGroups,
}

impl App {
    /// Where people reach the server, for links in alerts and the dashboard's command lines:
    /// `--public-url` when given, else the address it listens on, with the machine's name in
    /// place of an address that means "every interface". Without a trailing slash.
    pub fn public_url(&self) -> String {
        if let Some(u) = &self.configured_url {
            return u.clone();
        }
        self.bound_url.get().cloned().unwrap_or_else(|| "http://127.0.0.1:8080".to_owned())
    }

    fn set_bound(&self, tls: bool, addr: SocketAddr) {
        let scheme = if tls { "https" } else { "http" };
        let host = if addr.ip().is_unspecified() {
            hostname::get().ok().and_then(|h| h.into_string().ok()).unwrap_or_else(|| "localhost".to_owned())
        } else if addr.is_ipv6() {
            format!("[{}]", addr.ip())
        } else {
            addr.ip().to_string()
        };
        let _ = self.bound_url.set(format!("{scheme}://{host}:{}", addr.port()));
    }
}

/// How to run the server.
#[derive(Debug, Clone)]
pub struct Config {
    pub listen: SocketAddr,
    pub data_dir: PathBuf,
    /// `postgres://…` or `sqlite://…`; the SQLite file in the data folder when absent.
    pub db_url: Option<String>,
    pub tls_cert: Option<PathBuf>,
    pub tls_key: Option<PathBuf>,
    pub insecure_http: bool,
    /// Requests per second per token (0: no limit).
    pub rate_limit: u32,
    /// Largest event batch, in bytes.
    pub max_batch: usize,
    pub max_upload: u64,
    pub upload_quota: u64,
    pub retention_days: u32,
    pub clock: Clock,
    /// Rule files added to the built-in rules.
    pub extra_rules: Vec<(String, String)>,
    pub sites: sites::SiteMap,
    /// Seconds between sweeps that judge every room's incidents at the present time.
    pub sweep_secs: u64,
    /// How long after the last push a room's old newest heartbeat can mean offline.
    pub settle_ms: i64,
    /// The address people reach the server at, for links in alerts.
    pub public_url: Option<String>,
    /// How long a room incident's alert waits for a wave to take it over.
    pub alert_hold_ms: i64,
    /// Days raw records are kept (incidents and their history stay).
    pub raw_retention_days: u32,
}

impl Config {
    pub fn new(listen: SocketAddr, data_dir: PathBuf) -> Config {
        Config {
            listen,
            data_dir,
            db_url: None,
            tls_cert: None,
            tls_key: None,
            insecure_http: false,
            rate_limit: 200,
            max_batch: 32 * 1024 * 1024,
            max_upload: 2 * 1024 * 1024 * 1024,
            upload_quota: 20 * 1024 * 1024 * 1024,
            retention_days: 30,
            clock: Clock::system(),
            extra_rules: Vec::new(),
            sites: sites::SiteMap::default(),
            sweep_secs: 60,
            settle_ms: incidents::SETTLE_MS,
            public_url: None,
            alert_hold_ms: alerts::HOLD_MS,
            raw_retention_days: 30,
        }
    }

    pub fn db_url(&self) -> String {
        self.db_url.clone().unwrap_or_else(|| format!("sqlite://{}", self.data_dir.join("fleet.db").display()))
    }
}

/// The opened server, before it listens.
#[derive(Debug)]
pub struct Opened {
    pub app: Arc<App>,
    /// The admin token created on this first start, to show once.
    pub admin_token: Option<String>,
}

/// Open the data folder and the database (migrating it), and create the admin token on a first
/// start.
pub async fn open(config: &Config) -> Result<Opened, String> {
    std::fs::create_dir_all(&config.data_dir).map_err(|e| format!("{}: {e}", config.data_dir.display()))?;
    let store =
        uctriage_store::open(&config.db_url()).await.map_err(|e| format!("{}: {e}", redact_url(&config.db_url())))?;
    let rules = RuleSet::load(&config.extra_rules).map_err(|errors| {
        format!("invalid rules:\n{}", errors.iter().map(ToString::to_string).collect::<Vec<_>>().join("\n"))
    })?;
    let key = config.data_dir.join("secret.key");
    let sealer = secrets::Sealer::open(&key).map_err(|e| format!("{}: {e}", key.display()))?;
    let app = Arc::new(App {
        store,
        rules: Arc::new(rules),
        clock: config.clock.clone(),
        data_dir: config.data_dir.clone(),
        limiter: auth::RateLimiter::new(config.rate_limit),
        metrics: metrics::Metrics::default(),
        limits: ingest::UploadLimits { max_bytes: config.max_upload, quota_bytes: config.upload_quota },
        retention_days: config.retention_days,
        raw_retention_days: config.raw_retention_days.max(2),
        sealer,
        sites: config.sites.clone(),
        sweep_secs: config.sweep_secs.max(1),
        settle_ms: config.settle_ms,
        configured_url: config.public_url.clone().map(|u| u.trim_end_matches('/').to_owned()),
        bound_url: std::sync::OnceLock::new(),
        alert_hold_ms: config.alert_hold_ms,
        instance: format!("{}-{}", std::process::id(), auth::random_hex(4)),
        alerts: Notify::new(),
        diagnose: Notify::new(),
        reports: Notify::new(),
        writes: ingest::WriteGroups::default(),
    });
    let tokens = app.store.tokens().await.map_err(|e| e.to_string())?;
    let admin_token = if tokens.iter().any(|t| t.role == "admin") {
        None
    } else {
        Some(api::create_token(&app, auth::Role::Admin, None, "admin", "local").await.map_err(|p| p.detail)?.token)
    };
    Ok(Opened { app, admin_token })
}

/// Replace the admin token (the old one stops working) and return the new one. Needs the data
/// folder or database, not the running server.
pub async fn reset_admin_token(config: &Config) -> Result<String, String> {
    let opened = open(config).await?;
    let (id, whole, hash) = auth::new_token();
    let t = Token {
        id,
        name: "admin".into(),
        role: "admin".into(),
        room_id: None,
        hash,
        created_ms: opened.app.clock.now_ms(),
        revoked_ms: None,
    };
    opened.app.store.token_replace(&t).await.map_err(|e| e.to_string())?;
    opened.app.store.audit(t.created_ms, "local", "token.reset-admin", &t.id, "").await.map_err(|e| e.to_string())?;
    Ok(whole)
}

/// A database URL without its password, for messages.
pub fn redact_url(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(s), Some(at)) if at > s => {
            let creds = &url[s + 3..at];
            match creds.split_once(':') {
                Some((user, _)) => format!("{}{user}:***{}", &url[..s + 3], &url[at..]),
                None => url.to_owned(),
            }
        }
        _ => url.to_owned(),
    }
}

/// Every route.
pub fn router(app: Arc<App>, max_batch: usize) -> Router {
    let api = Router::new()
        .route("/openapi.json", get(api::openapi))
        .route("/ingest/events", post(ingest::events).layer(DefaultBodyLimit::max(max_batch)))
        .route("/uploads", post(ingest::upload).layer(DefaultBodyLimit::disable()))
        .route("/rooms", get(api::rooms))
        .route("/rooms/{id}", get(api::room).patch(api::room_patch))
        .route("/rooms/{id}/merge", post(api::room_merge))
        .route("/rooms/{id}/suppressions", get(api::suppressions).post(api::suppress))
        .route("/suppressions/{id}", axum::routing::delete(api::unsuppress))
        .route("/reports/{id}", get(api::report))
        .route("/incidents", get(api::incidents))
        .route("/incidents/{id}", get(api::incident))
        .route("/incidents/{id}/ack", post(api::incident_ack))
        .route("/webhooks", get(api::webhooks).post(api::webhook_create))
        .route("/webhooks/{id}", axum::routing::delete(api::webhook_delete))
        .route("/webhooks/{id}/test", post(api::webhook_test))
        .route("/webhooks/{id}/deliveries", get(api::webhook_deliveries))
        .route("/tokens", get(api::tokens).post(api::token_create))
        .route("/tokens/{id}", axum::routing::delete(api::token_revoke))
        .route("/audit", get(api::audit))
        .route("/history", get(api::history))
        .route("/windows", get(api::windows).post(api::window_create))
        .route("/windows/{id}", axum::routing::delete(api::window_delete));
    Router::new()
        .route("/healthz", get(api::healthz))
        .route("/readyz", get(api::readyz))
        .route("/metrics", get(api::metrics))
        .nest("/api/v1", api)
        .merge(web::routes())
        .fallback(fallback)
        .layer(DefaultBodyLimit::max(1024 * 1024))
        .layer(middleware::from_fn(problems))
        .with_state(app)
}

/// A path nobody serves: a problem document under the API, a page elsewhere.
async fn fallback(uri: axum::http::Uri) -> Response {
    let p = uri.path();
    if p.starts_with("/api/") || ["/healthz", "/readyz", "/metrics"].contains(&p) {
        api::not_found().into_response()
    } else {
        web::not_found(&uri)
    }
}

/// Errors that axum answers itself (a body that is not JSON, a missing query value, a method
/// not allowed, a body over the limit) become problem documents like every other error.
async fn problems(req: Request<Body>, next: Next) -> Response {
    let api = req.uri().path().starts_with("/api/") || req.uri().path().starts_with("/healthz");
    let mut res = next.run(req).await;
    let is_html = res.headers().get(header::CONTENT_TYPE).is_some_and(|v| v.as_bytes().starts_with(b"text/html"));
    if is_html {
        web::secure_headers(res.headers_mut());
        return res;
    }
    let status = res.status();
    if !api
        && (status.is_client_error() || status.is_server_error())
        && res.headers().get(header::CONTENT_TYPE).is_none()
    {
        // A form the dashboard could not read (a missing field): a page, not JSON.
        let body = axum::body::to_bytes(res.into_body(), 64 * 1024).await.unwrap_or_default();
        return web::PageError::new(status, String::from_utf8_lossy(&body).trim().to_owned()).into_response();
    }
    if !(status.is_client_error() || status.is_server_error()) {
        return res;
    }
    let is_problem =
        res.headers().get(header::CONTENT_TYPE).is_some_and(|v| v.as_bytes().starts_with(b"application/problem+json"));
    if is_problem {
        return res;
    }
    let allow = res.headers().get(header::ALLOW).cloned();
    let body = axum::body::to_bytes(res.into_body(), 64 * 1024).await.unwrap_or_default();
    let text = String::from_utf8_lossy(&body).trim().to_owned();
    let detail = if text.is_empty() { status.canonical_reason().unwrap_or("error").to_owned() } else { text };
    let mut out = Problem::new(status, detail).into_response();
    if let Some(a) = allow {
        out.headers_mut().insert(header::ALLOW, a);
    }
    out.headers_mut().insert("cache-control", HeaderValue::from_static("no-store"));
    out
}

/// Refuse plain HTTP on an address other machines can reach, unless asked for.
pub fn check_listen(config: &Config) -> Result<(), String> {
    let tls = config.tls_cert.is_some() || config.tls_key.is_some();
    if config.tls_cert.is_some() != config.tls_key.is_some() {
        return Err("TLS needs both --tls-cert and --tls-key".into());
    }
    if !tls && !config.listen.ip().is_loopback() && !config.insecure_http {
        return Err(format!(
            "{} is reachable from other machines and TLS is off: give --tls-cert and --tls-key, \
             or --insecure-http to accept plain HTTP there",
            config.listen
        ));
    }
    Ok(())
}

/// Listen and serve until the process ends; `ready` is called with the bound address.
pub async fn serve(config: Config, opened: Opened, ready: impl FnOnce(SocketAddr)) -> Result<(), String> {
    check_listen(&config)?;
    let app = opened.app;
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .map_err(|e| format!("cannot listen on {}: {e}", config.listen))?;
    let addr = listener.local_addr().map_err(|e| e.to_string())?;
    app.set_bound(config.tls_cert.is_some(), addr);
    jobs::spawn(&app);
    let router = router(app, config.max_batch);
    if let (Some(cert), Some(key)) = (&config.tls_cert, &config.tls_key) {
        let tls = tls_config(cert, key)?;
        ready(addr);
        serve_tls(listener, router, tls).await
    } else {
        ready(addr);
        axum::serve(listener, router).await.map_err(|e| e.to_string())
    }
}

fn tls_config(cert: &std::path::Path, key: &std::path::Path) -> Result<Arc<rustls::ServerConfig>, String> {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(cert)
        .map_err(|e| format!("{}: {e}", cert.display()))?
        .collect::<Result<_, _>>()
        .map_err(|e| format!("{}: {e}", cert.display()))?;
    if certs.is_empty() {
        return Err(format!("{}: no certificate in it", cert.display()));
    }
    let key = PrivateKeyDer::from_pem_file(key).map_err(|e| format!("{}: {e}", key.display()))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let cfg = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|e| format!("the TLS certificate and key do not work together: {e}"))?;
    Ok(Arc::new(cfg))
}

async fn serve_tls(
    listener: tokio::net::TcpListener,
    router: Router,
    tls: Arc<rustls::ServerConfig>,
) -> Result<(), String> {
    let acceptor = tokio_rustls::TlsAcceptor::from(tls);
    loop {
        let Ok((stream, _)) = listener.accept().await else { continue };
        let acceptor = acceptor.clone();
        let router = router.clone();
        tokio::spawn(async move {
            let Ok(Ok(tls)) = tokio::time::timeout(std::time::Duration::from_secs(10), acceptor.accept(stream)).await
            else {
                return;
            };
            let service = hyper_util::service::TowerToHyperService::new(router);
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(hyper_util::rt::TokioIo::new(tls), service)
                .await;
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_stay_out_of_messages() {
        assert_eq!(redact_url("postgres://u:pw@h:5432/db"), "postgres://u:***@h:5432/db");
        assert_eq!(redact_url("postgres://u@h/db"), "postgres://u@h/db");
        assert_eq!(redact_url("sqlite:///x/fleet.db"), "sqlite:///x/fleet.db");
    }

    #[test]
    fn plain_http_only_on_loopback_unless_asked() {
        let mut c = Config::new("0.0.0.0:8080".parse().unwrap(), PathBuf::from("d"));
        assert!(check_listen(&c).is_err());
        c.insecure_http = true;
        assert!(check_listen(&c).is_ok());
        let c = Config::new("127.0.0.1:8080".parse().unwrap(), PathBuf::from("d"));
        assert!(check_listen(&c).is_ok());
    }

    #[test]
    fn the_openapi_document_is_json_and_names_every_route() {
        let doc: serde_json::Value = serde_json::from_str(OPENAPI).unwrap();
        let paths = doc["paths"].as_object().unwrap();
        for p in [
            "/healthz",
            "/readyz",
            "/metrics",
            "/api/v1/openapi.json",
            "/api/v1/ingest/events",
            "/api/v1/uploads",
            "/api/v1/rooms",
            "/api/v1/rooms/{id}",
            "/api/v1/rooms/{id}/merge",
            "/api/v1/reports/{id}",
            "/api/v1/tokens",
            "/api/v1/tokens/{id}",
            "/api/v1/audit",
            "/api/v1/incidents",
            "/api/v1/incidents/{id}",
            "/api/v1/incidents/{id}/ack",
            "/api/v1/webhooks",
            "/api/v1/webhooks/{id}",
            "/api/v1/webhooks/{id}/test",
            "/api/v1/webhooks/{id}/deliveries",
            "/api/v1/rooms/{id}/suppressions",
            "/api/v1/suppressions/{id}",
            "/api/v1/history",
            "/api/v1/windows",
            "/api/v1/windows/{id}",
        ] {
            assert!(paths.contains_key(p), "{p} is not in openapi.json");
        }
    }
}
