//! The dashboard in a real headless Chromium, driven through chromedriver (WebDriver), against
//! the real server on a free port with a generated fleet pushed through the API.
//!
//! Without chromedriver the test says how to get it and passes, unless
//! `UCTRIAGE_REQUIRE_BROWSER=1` (CI sets it), when a browser that cannot start is a failure.
//! Screenshots of the main pages land in `target/screenshots/`.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::{ClientBuilder, Locator};
use jiff::{SignedDuration, Timestamp};
use serde_json::{json, Value};
use uctriage_fixtures::fleet::get_winevent_json;
use uctriage_fixtures::rooms::{Heartbeat, Room};

use crate::{Db, Server, NOW};

pub(crate) const HOW: &str = "the dashboard tests need Chromium and chromedriver: on Debian or Ubuntu, \
                   `apt-get install chromium chromium-driver` (or set CHROMEDRIVER to its path)";

/// chromedriver on a free loopback port, killed on drop.
pub(crate) struct Driver {
    child: Child,
    pub(crate) url: String,
}

impl Driver {
    /// A headless Chromium session, 1280 pixels wide and `height` high.
    pub(crate) async fn browser(&self, height: u32) -> fantoccini::Client {
        let caps: serde_json::Map<String, Value> = serde_json::from_value(json!({
            "goog:chromeOptions": {
                "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                         format!("--window-size=1280,{height}"), "--lang=en-US"],
                "binary": std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into()),
            }
        }))
        .unwrap();
        ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
            .capabilities(caps)
            .connect(&self.url)
            .await
            .unwrap_or_else(|e| panic!("Chromium did not start through chromedriver: {e}; {HOW}"))
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[allow(clippy::print_stderr)] // the one way to tell a user without a browser what was skipped
pub(crate) fn start_driver() -> Option<Driver> {
    let required = std::env::var("UCTRIAGE_REQUIRE_BROWSER").is_ok_and(|v| v == "1");
    let bin = std::env::var("CHROMEDRIVER").unwrap_or_else(|_| "chromedriver".into());
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let child = Command::new(&bin)
        .arg(format!("--port={port}"))
        .arg("--allowed-ips=127.0.0.1")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn();
    let child = match child {
        Ok(c) => c,
        Err(e) => {
            assert!(!required, "{bin}: {e}; {HOW}");
            eprintln!("skipping the dashboard browser tests: {bin}: {e}; {HOW}");
            return None;
        }
    };
    let driver = Driver { child, url: format!("http://127.0.0.1:{port}") };
    let until = Instant::now() + Duration::from_secs(20);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < until, "chromedriver did not start on port {port}; {HOW}");
        std::thread::sleep(Duration::from_millis(50));
    }
    Some(driver)
}

pub(crate) fn shots() -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target/screenshots");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// A room whose names and statuses are hostile markup, as an attacker on a room could send.
fn hostile_batch(at: Timestamp) -> Vec<u8> {
    let mut room = Room::new("evil", 99);
    room.computer = "MTR-<script>window.__pwned=1</script>".into();
    let events: Vec<_> = (0..3)
        .map(|i| {
            Heartbeat::healthy(&room, at + SignedDuration::from_mins(5 * i))
                .network("<img src=x onerror=\"window.__pwned=2\">")
                .app_version("<b onmouseover=alert(1)>5.1</b>")
                .event(&room.computer)
        })
        .collect();
    get_winevent_json(&events)
}

/// Sign in through the sign-in form on the page the browser is at.
pub(crate) async fn sign_in(c: &fantoccini::Client, token: &str) {
    c.find(Locator::Css("#token")).await.unwrap().send_keys(token).await.unwrap();
    click_and_wait(c, "form[action='/signin'] button").await;
}

/// Click and wait for the next page: the old page's root goes stale, the new one loads.
pub(crate) async fn click_and_wait(c: &fantoccini::Client, sel: &str) {
    let old = c.find(Locator::Css("html")).await.unwrap();
    c.find(Locator::Css(sel)).await.unwrap_or_else(|e| panic!("{sel}: {e}")).click().await.unwrap();
    let until = Instant::now() + Duration::from_secs(20);
    while old.tag_name().await.is_ok() {
        assert!(Instant::now() < until, "clicking {sel} led nowhere");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    while c.execute("return document.readyState;", vec![]).await.unwrap() != json!("complete") {
        assert!(Instant::now() < until, "the page after {sel} did not load");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[test]
fn the_dashboard_in_a_real_browser() {
    let Some(driver) = start_driver() else { return };
    let s = Server::start(&Db::Sqlite);
    let now: Timestamp = NOW.parse().unwrap();
    let fleet = uctriage_fixtures::fleet(now, 8, 1, 120);
    let device = s.token("device", None);
    for room in &fleet.rooms {
        for b in &room.batches {
            let (st, v) =
                s.call("POST", "/api/v1/ingest/events", Some(&device), Some(("application/json", b.body.clone())));
            assert_eq!(st, 200, "{v}");
        }
    }
    // The MFA wave is one open fleet incident.
    let waves = s
        .wait_for("/api/v1/incidents?scope=fleet&state=open", |v| v["items"].as_array().is_some_and(|a| !a.is_empty()));
    let wave = waves["items"][0]["id"].as_str().unwrap().to_owned();
    let viewer = s.token("viewer", None);

    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    rt.block_on(async {
        let c = driver.browser(1000).await;
        let shot = |name: &'static str| {
            let c = c.clone();
            async move {
                let png = c.screenshot().await.unwrap();
                std::fs::write(shots().join(format!("{name}.png")), png).unwrap();
            }
        };
        let text_of = |sel: &'static str| {
            let c = c.clone();
            async move { c.find(Locator::Css(sel)).await.unwrap().text().await.unwrap() }
        };

        // Every page but sign-in needs a session.
        c.goto(&s.url("/incidents")).await.unwrap();
        assert!(
            c.current_url().await.unwrap().path().starts_with("/signin"),
            "a page without a session signs in first"
        );
        shot("signin").await;
        c.find(Locator::Css("#token")).await.unwrap().send_keys("uct_nope_x").await.unwrap();
        click_and_wait(&c, "form[action='/signin'] button").await;
        assert!(text_of(".error").await.contains("not a uctriage token"));
        sign_in(&c, &s.admin).await;
        assert_eq!(c.current_url().await.unwrap().path(), "/incidents", "back to the page asked for");

        // The fleet: every room listed, the MFA wave on top.
        c.goto(&s.base).await.unwrap();
        let rows = c.find_all(Locator::Css("table.rooms tbody tr")).await.unwrap();
        assert_eq!(rows.len(), fleet.rooms.len(), "every seeded room");
        let first_wave = text_of(".waves .wave").await;
        assert!(first_wave.contains("AADSTS50076"), "{first_wave}");
        assert!(text_of("ul.counts").await.contains("unhealthy"));
        shot("fleet").await;
        // On a phone's width the page fits: nothing wider than the screen.
        c.set_window_size(390, 844).await.unwrap();
        c.refresh().await.unwrap();
        let overflow = c
            .execute("return document.documentElement.scrollWidth - document.documentElement.clientWidth;", vec![])
            .await
            .unwrap();
        shot("fleet-phone").await;
        assert!(overflow.as_i64().unwrap() <= 0, "the fleet page is wider than a phone by {overflow}px");
        c.set_window_size(1280, 1000).await.unwrap();
        // A room whose events carry markup joins.
        let (st, v) = s.call(
            "POST",
            "/api/v1/ingest/events",
            Some(&device),
            Some(("application/json", hostile_batch(now - SignedDuration::from_mins(20)))),
        );
        assert_eq!(st, 200, "{v}");
        let evil = v["rooms"][0].as_str().unwrap().to_owned();

        // Filtering and sorting change what is shown.
        c.find(Locator::Css("#state")).await.unwrap().select_by_value("offline").await.unwrap();
        click_and_wait(&c, "form.filters button").await;
        let rows = c.find_all(Locator::Css("table.rooms tbody tr")).await.unwrap();
        assert_eq!(rows.len(), 1, "one room lost power");
        assert_eq!(rows[0].attr("data-state").await.unwrap().as_deref(), Some("offline"));
        c.goto(&s.url("/?q=MTR-&sort=name")).await.unwrap();
        let names: Vec<String> = {
            let mut v = Vec::new();
            for r in c.find_all(Locator::Css("table.rooms tbody th a")).await.unwrap() {
                v.push(r.text().await.unwrap().to_lowercase());
            }
            v
        };
        let mut sorted = names.clone();
        sorted.sort();
        assert_eq!(names, sorted, "sorted by name");
        assert!(names.len() > 1);

        // Hostile text shows as text; no script of it ran.
        c.goto(&s.url(&format!("/rooms/{evil}"))).await.unwrap();
        let body = text_of("main").await;
        assert!(body.contains("MTR-<script>window.__pwned=1</script>"), "the computer shows as text: {body}");
        assert!(body.contains("<img src=x onerror="), "the status shows as text: {body}");
        let pwned = c.execute("return typeof window.__pwned;", vec![]).await.unwrap();
        assert_eq!(pwned, json!("undefined"), "no script from a log ran");
        assert!(c.find_all(Locator::Css("main img, main b, main script")).await.unwrap().is_empty());

        // A room page: its signals' timelines and its incident.
        c.goto(&s.url(&format!("/incidents/{wave}"))).await.unwrap();
        assert!(text_of("main").await.contains("affected rooms"));
        shot("incident").await;
        click_and_wait(&c, "table.incidents tbody th a").await;
        click_and_wait(&c, "a[href^='/rooms/']").await;
        assert!(c.current_url().await.unwrap().path().starts_with("/rooms/"));
        assert!(c.find_all(Locator::Css("svg.timeline rect")).await.unwrap().len() >= 2);
        assert!(text_of("main").await.contains("AADSTS50076"));
        assert!(!c.find_all(Locator::Css("table.incidents tbody tr")).await.unwrap().is_empty());
        shot("room").await;

        // Acknowledge the wave with a note, through the form.
        c.goto(&s.url(&format!("/incidents/{wave}"))).await.unwrap();
        c.find(Locator::Css("#note")).await.unwrap().send_keys("CA policy rolled back").await.unwrap();
        click_and_wait(&c, "form[action$='/ack'] button").await;
        assert!(text_of("dl.facts").await.contains("CA policy rolled back"));

        // A form posted without its CSRF value, with the browser's own session, is refused.
        let cookie = c.get_named_cookie("uct_session").await.unwrap();
        let agent: ureq::Agent = ureq::Agent::config_builder().http_status_as_error(false).build().into();
        for form in ["note=forged", "note=forged&csrf=0000"] {
            let res = agent
                .post(&s.url(&format!("/incidents/{wave}/ack")))
                .header("Cookie", &format!("uct_session={}", cookie.value()))
                .header("Content-Type", "application/x-www-form-urlencoded")
                .send(form)
                .unwrap();
            assert_eq!(res.status().as_u16(), 403, "{form}");
        }

        // Pages are plain HTML with a policy against inline script, and a page for nowhere.
        c.goto(&s.url("/no/such/page")).await.unwrap();
        assert!(text_of("h1").await.contains("Not found"));

        // Sign out: the session is gone.
        c.goto(&s.url("/incidents")).await.unwrap();
        click_and_wait(&c, "form.signout button").await;
        c.goto(&s.base).await.unwrap();
        assert!(c.current_url().await.unwrap().path().starts_with("/signin"));

        // A viewer sees everything and is offered no change.
        sign_in(&c, &viewer).await;
        c.goto(&s.url(&format!("/incidents/{wave}"))).await.unwrap();
        assert!(c.find_all(Locator::Css("form[action$='/ack']")).await.unwrap().is_empty());
        c.close().await.unwrap();
    });

    // The headers every page carries.
    let agent: ureq::Agent = ureq::Agent::config_builder().http_status_as_error(false).build().into();
    let res = agent.get(&s.url("/signin")).call().unwrap();
    let csp = res.headers().get("content-security-policy").unwrap().to_str().unwrap().to_owned();
    assert!(csp.contains("script-src 'self'") && !csp.contains("unsafe-inline"), "{csp}");
    let res = agent.get(&s.base).call().unwrap();
    assert_eq!(res.status().as_u16(), 200, "redirected to sign-in");
    let res = agent.get(&s.url("/api/v1/nothing")).call().unwrap();
    assert_eq!(res.status().as_u16(), 404);
    assert!(res.headers().get("content-type").unwrap().to_str().unwrap().starts_with("application/problem+json"));
}
