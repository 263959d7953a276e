//! The real server on a free loopback port, on SQLite and (with `UCTRIAGE_TEST_PG`) on
//! PostgreSQL, driven over HTTP.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use uctriage_server::{Clock, Config};

mod alerts;
mod cases;
mod mail;
mod receiver;
mod web;
mod web_history;
mod web_lookup;
mod web_settings;
mod web_triage;
mod web_upload;

/// A running server; it stops when the test process ends, or at [`Server::restart_with`].
#[derive(Debug)]
pub struct Server {
    pub base: String,
    pub admin: String,
    pub dir: tempfile::TempDir,
    agent: ureq::Agent,
    stop: tokio::sync::oneshot::Sender<()>,
    thread: std::thread::JoinHandle<()>,
}

#[derive(Debug)]
pub enum Db {
    Sqlite,
    /// A database of its own, dropped with this value.
    Postgres(Option<uctriage_store::testing::Database>),
}

impl Drop for Db {
    fn drop(&mut self) {
        if let Db::Postgres(db) = self {
            if let Some(db) = db.take() {
                let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
                rt.block_on(db.drop());
            }
        }
    }
}

/// The backends to run each case on.
pub fn backends() -> Vec<Db> {
    let mut v = vec![Db::Sqlite];
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    if let Some(db) = rt.block_on(uctriage_store::testing::Database::create()) {
        v.push(Db::Postgres(Some(db)));
    }
    v
}

pub const NOW: &str = "2025-07-15T10:00:00Z";

impl Server {
    pub fn start(db: &Db) -> Server {
        Server::start_with(db, |_| {})
    }

    pub fn start_with(db: &Db, tweak: impl FnOnce(&mut Config)) -> Server {
        let dir = tempfile::tempdir().unwrap();
        let mut config = Config::new("127.0.0.1:0".parse().unwrap(), dir.path().join("data"));
        if let Db::Postgres(Some(pg)) = db {
            config.db_url = Some(pg.url.clone());
        }
        config.clock = Clock::starting_at(NOW.parse::<jiff::Timestamp>().unwrap().as_millisecond());
        config.rate_limit = 0;
        config.sweep_secs = 1;
        config.settle_ms = 3_000;
        config.alert_hold_ms = 0;
        tweak(&mut config);
        let (tx, rx) = std::sync::mpsc::channel::<(SocketAddr, String)>();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let thread = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
            rt.block_on(async move {
                let opened = uctriage_server::open(&config).await.unwrap();
                // A second instance on the same database finds the admin token made already.
                let admin = opened.admin_token.clone().unwrap_or_default();
                tokio::spawn(async move {
                    uctriage_server::serve(config, opened, |addr| {
                        tx.send((addr, admin)).unwrap();
                    })
                    .await
                    .unwrap();
                });
                // Dropped unsent, it runs until the process ends, as before.
                if stopped.await.is_err() {
                    std::future::pending::<()>().await;
                }
            });
            // Dropping the runtime ends the server and its background jobs.
        });
        let (addr, admin) = rx.recv_timeout(Duration::from_secs(60)).expect("the server starts");
        let agent: ureq::Agent =
            ureq::Agent::config_builder().http_status_as_error(false).max_idle_connections(0).build().into();
        Server { base: format!("http://{addr}"), admin, dir, agent, stop, thread }
    }

    /// Stop this server and start another on the same data folder and database, as after a
    /// restart; `tweak` as in [`Server::start_with`] (the clock can start later, for one).
    #[must_use]
    pub fn restart_with(self, db: &Db, tweak: impl FnOnce(&mut Config)) -> Server {
        let Server { admin, dir, stop, thread, .. } = self;
        stop.send(()).unwrap();
        thread.join().expect("the server stops");
        let data = dir.path().join("data");
        let next = Server::start_with(db, |c| {
            c.data_dir = data;
            tweak(c);
        });
        // The admin token was made on the first start; the data folder stays with the server.
        Server { admin, dir, ..next }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// A request with an optional token; the status and the body (JSON when it is JSON).
    pub fn call(&self, method: &str, path: &str, token: Option<&str>, body: Option<(&str, Vec<u8>)>) -> (u16, Value) {
        let url = self.url(path);
        let auth = token.map(|t| format!("Bearer {t}"));
        let res = match (method, body) {
            ("GET", _) => {
                let mut r = self.agent.get(&url);
                if let Some(a) = &auth {
                    r = r.header("Authorization", a);
                }
                r.call()
            }
            ("DELETE", _) => {
                let mut r = self.agent.delete(&url);
                if let Some(a) = &auth {
                    r = r.header("Authorization", a);
                }
                r.call()
            }
            (m, body) => {
                let mut r = match m {
                    "POST" => self.agent.post(&url),
                    "PATCH" => self.agent.patch(&url),
                    other => panic!("{other}"),
                };
                if let Some(a) = &auth {
                    r = r.header("Authorization", a);
                }
                let (ct, bytes) = body.unwrap_or(("application/json", Vec::new()));
                r.header("Content-Type", ct).send(&bytes[..])
            }
        };
        let mut res = res.unwrap_or_else(|e| panic!("{method} {path}: {e}"));
        let status = res.status().as_u16();
        let ct = res.headers().get("content-type").and_then(|v| v.to_str().ok()).unwrap_or("").to_owned();
        let text = res.body_mut().with_config().limit(64 << 20).read_to_string().unwrap_or_default();
        if status >= 400 {
            assert!(ct.starts_with("application/problem+json"), "{method} {path}: {status} with {ct}: {text}");
        }
        let v = serde_json::from_str(&text).unwrap_or(Value::String(text));
        (status, v)
    }

    pub fn get(&self, path: &str, token: &str) -> Value {
        let (s, v) = self.call("GET", path, Some(token), None);
        assert_eq!(s, 200, "GET {path}: {v}");
        v
    }

    pub fn post_json(&self, path: &str, token: &str, body: &Value) -> (u16, Value) {
        self.call("POST", path, Some(token), Some(("application/json", serde_json::to_vec(body).unwrap())))
    }

    pub fn token(&self, role: &str, room: Option<&str>) -> String {
        let (s, v) =
            self.post_json("/api/v1/tokens", &self.admin, &json!({"role": role, "room": room, "name": "test"}));
        assert_eq!(s, 201, "{v}");
        v["token"].as_str().unwrap().to_owned()
    }

    /// Wait until the room's diagnosis is up to date.
    pub fn diagnosed(&self, room: &str) -> Value {
        let until = Instant::now() + Duration::from_secs(60);
        loop {
            let v = self.get(&format!("/api/v1/rooms/{room}"), &self.admin);
            if !v["diagnosis"].is_null() && v["diagnosis_pending"] == json!(false) {
                return v;
            }
            assert!(Instant::now() < until, "room {room} was not diagnosed: {v}");
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// GET `path` until `done` says yes.
    pub fn wait_for(&self, path: &str, done: impl Fn(&Value) -> bool) -> Value {
        let until = Instant::now() + Duration::from_secs(60);
        loop {
            let v = self.get(path, &self.admin);
            if done(&v) {
                return v;
            }
            assert!(Instant::now() < until, "{path} never became ready: {v}");
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Wait until an upload is scanned.
    pub fn report(&self, id: &str) -> Value {
        let until = Instant::now() + Duration::from_secs(120);
        loop {
            let v = self.get(&format!("/api/v1/reports/{id}"), &self.admin);
            if v["status"] == "done" || v["status"] == "failed" {
                return v;
            }
            assert!(Instant::now() < until, "report {id} was not scanned: {v}");
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    pub fn data(&self) -> PathBuf {
        self.dir.path().join("data")
    }
}

/// A file of the project's own reader fixtures.
pub fn fixture(rel: &str) -> Vec<u8> {
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("../sources/tests/fixtures").join(rel);
    std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}
