//! The history and inventory pages in a real browser, on a generated fleet pushed through the
//! API: the fleet chart, the unhealthy-days calendar, the least reliable rooms, the history CSV
//! with the session; the inventory, renaming, retiring and merging rooms through its forms, its
//! CSV; the audit log showing the change, and a viewer refused the audit log.

use std::time::{Duration, Instant};

use fantoccini::Locator;
use jiff::Timestamp;
use serde_json::json;

use crate::web::{click_and_wait, shots, start_driver};
use crate::{Db, Server, NOW};

/// GET a dashboard path with the browser's session cookie, not following redirects: status,
/// content type, content disposition (or location), body.
fn get_with_cookie(s: &Server, path: &str, cookie: &str) -> (u16, String, String, String) {
    let agent: ureq::Agent = ureq::Agent::config_builder().http_status_as_error(false).max_redirects(0).build().into();
    let mut res = agent.get(&s.url(path)).header("Cookie", &format!("uct_session={cookie}")).call().unwrap();
    let h = |k: &str| res.headers().get(k).and_then(|v| v.to_str().ok()).unwrap_or("").to_owned();
    let (ct, cd) = (h("content-type"), h("content-disposition") + &h("location"));
    let body = res.body_mut().read_to_string().unwrap();
    (res.status().as_u16(), ct, cd, body)
}

async fn sign_in(c: &fantoccini::Client, token: &str) {
    c.find(Locator::Css("#token")).await.unwrap().send_keys(token).await.unwrap();
    click_and_wait(c, "form[action='/signin'] button").await;
}

async fn texts(c: &fantoccini::Client, sel: &str) -> Vec<String> {
    let mut v = Vec::new();
    for e in c.find_all(Locator::Css(sel)).await.unwrap() {
        v.push(e.text().await.unwrap());
    }
    v
}

async fn attrs(c: &fantoccini::Client, sel: &str, attr: &str) -> Vec<String> {
    let mut v = Vec::new();
    for e in c.find_all(Locator::Css(sel)).await.unwrap() {
        v.push(e.attr(attr).await.unwrap().unwrap_or_default());
    }
    v
}

#[test]
#[allow(clippy::too_many_lines)] // one browser session, one story
fn history_inventory_and_audit_in_a_real_browser() {
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
    s.wait_for("/api/v1/incidents?scope=fleet&state=open", |v| v["items"].as_array().is_some_and(|a| !a.is_empty()));
    // Rooms whose history has an unhealthy day: the MFA wave has run long enough.
    let until = Instant::now() + Duration::from_secs(60);
    let history = loop {
        let h = s.get("/api/v1/history?days=7", &s.admin);
        if h["rooms"].as_array().unwrap().iter().any(|r| r["unhealthy_days"].as_u64() > Some(0)) {
            break h;
        }
        assert!(Instant::now() < until, "no room had an unhealthy day: {h}");
        std::thread::sleep(Duration::from_millis(200));
    };
    let unhealthy: Vec<String> = history["rooms"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["unhealthy_days"].as_u64() > Some(0))
        .map(|r| r["room_id"].as_str().unwrap().to_owned())
        .collect();
    let history_rooms = history["rooms"].as_array().unwrap().len();
    let rooms = s.get("/api/v1/rooms", &s.admin);
    let rooms: Vec<(String, String)> = rooms["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["id"].as_str().unwrap().to_owned(), r["name"].as_str().unwrap().to_owned()))
        .collect();
    assert_eq!(rooms.len(), fleet.rooms.len());
    let viewer = s.token("viewer", None);

    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    rt.block_on(async {
        let c = driver.browser(1400).await;
        let text_of = |sel: &'static str| {
            let c = c.clone();
            async move { c.find(Locator::Css(sel)).await.unwrap_or_else(|e| panic!("{sel}: {e}")).text().await.unwrap() }
        };

        // History: sign in on the way, back to the 7-day view.
        c.goto(&s.url("/history?days=7")).await.unwrap();
        assert!(c.current_url().await.unwrap().path().starts_with("/signin"));
        sign_in(&c, &s.admin).await;
        assert_eq!(c.current_url().await.unwrap().path(), "/history");
        assert_eq!(text_of("h1").await, "History");
        assert!(text_of("nav.tabs a[aria-current='page']").await.contains("7 days"));

        // The fleet chart: a line per signal, a point per day.
        let lines = c.find_all(Locator::Css("svg.chart polyline")).await.unwrap();
        assert!(lines.len() >= 4, "a line per signal (the four base ones at least)");
        let legend = texts(&c, "svg.chart text.legend").await;
        assert!(legend.iter().any(|l| l == "teams-signin"), "{legend:?}");
        assert!(c.find_all(Locator::Css("svg.chart circle")).await.unwrap().len() >= 4 * 7);
        assert_eq!(c.find_all(Locator::Css("table.fleet-days tbody tr")).await.unwrap().len(), 7);

        // The calendar: a row per room, a square per day, unhealthy days marked.
        assert_eq!(c.find_all(Locator::Css("table.heatmap tbody tr")).await.unwrap().len(), history_rooms);
        assert_eq!(c.find_all(Locator::Css("table.heatmap svg.heat")).await.unwrap().len(), history_rooms);
        assert_eq!(c.find_all(Locator::Css("table.heatmap svg.heat rect")).await.unwrap().len(), history_rooms * 7);
        assert!(!c.find_all(Locator::Css("svg.heat g.day.bad")).await.unwrap().is_empty());
        for id in &unhealthy {
            let label = attrs(&c, &format!("tr[data-room='{id}'] svg.heat"), "aria-label").await;
            assert!(label[0].contains("unhealthy days of 7") && !label[0].contains(" 0 unhealthy"), "{label:?}");
        }

        // Every room with an unhealthy day is among the least reliable, none among the most.
        let least = attrs(&c, "section.least li a", "href").await;
        let most = attrs(&c, "section.most li a", "href").await;
        for id in &unhealthy {
            let href = format!("/rooms/{id}");
            assert!(least.contains(&href), "{id} is not among the least reliable: {least:?}");
            assert!(!most.contains(&href), "{id} is among the most reliable: {most:?}");
        }
        assert!(!most.is_empty(), "some rooms were fine");
        let png = c.screenshot().await.unwrap();
        std::fs::write(shots().join("history.png"), png).unwrap();

        // The other periods are a click away.
        click_and_wait(&c, "nav.tabs a[href='/history?days=28']").await;
        assert!(text_of("nav.tabs a[aria-current='page']").await.contains("28 days"));
        assert_eq!(c.find_all(Locator::Css("table.fleet-days tbody tr")).await.unwrap().len(), 28);
        c.goto(&s.url("/history?days=90")).await.unwrap();
        assert_eq!(c.find_all(Locator::Css("table.heatmap svg.heat rect")).await.unwrap().len(), history_rooms * 90);
        c.goto(&s.url("/history?days=1000")).await.unwrap();
        assert!(text_of("main").await.contains("1 to 90"));

        // The CSV, with the session instead of a bearer token.
        let cookie = c.get_named_cookie("uct_session").await.unwrap().value().to_owned();
        let (st, ct, cd, body) = get_with_cookie(&s, "/history.csv?days=7", &cookie);
        assert_eq!(st, 200, "{body}");
        assert!(ct.starts_with("text/csv"), "{ct}");
        assert!(cd.contains("attachment") && cd.contains("uctriage-history-7d.csv"), "{cd}");
        let header = body.lines().next().unwrap();
        assert!(header.starts_with("date,room_id,room,zone,zone_source,unhealthy,working_minutes_affected"), "{header}");
        assert!(header.contains("availability_teams-signin"), "{header}");
        assert_eq!(body.lines().count(), 1 + history_rooms * 7);
        let (st, _, location, _) = get_with_cookie(&s, "/history.csv?days=7", "nope.nope");
        assert!(st == 303 && location.starts_with("/signin"), "no CSV without a session: {st} {location}");

        // Inventory: every room, with its facts.
        c.goto(&s.url("/inventory")).await.unwrap();
        assert_eq!(text_of("h1").await, "Inventory");
        assert_eq!(c.find_all(Locator::Css("table.inventory tbody tr")).await.unwrap().len(), rooms.len());
        let heads = texts(&c, "table.inventory thead th").await;
        for h in ["Site", "Tags", "Model", "Peripherals", "App version", "OS version", "Last heard", "Change"] {
            assert!(heads.iter().any(|x| x == h), "{h} in {heads:?}");
        }

        // Rename a room through its form.
        let (id, old) = rooms[0].clone();
        let row = format!("tr[data-room='{id}']");
        c.find(Locator::Css(&format!("{row} details.change summary"))).await.unwrap().click().await.unwrap();
        let field = c.find(Locator::Css(&format!("{row} input[name='name']"))).await.unwrap();
        let label = texts(&c, &format!("{row} label[for='name-{id}']")).await;
        assert_eq!(label, ["Name"], "the field is labelled");
        field.clear().await.unwrap();
        field.send_keys("Boardroom <b>4</b> renamed").await.unwrap();
        click_and_wait(&c, &format!("{row} form[action='/inventory/{id}/name'] button")).await;
        let cell = c.find(Locator::Css(&format!("{row} th a"))).await.unwrap().text().await.unwrap();
        assert_eq!(cell, "Boardroom <b>4</b> renamed", "the new name, as text");
        assert!(text_of("p.notice").await.contains("Boardroom"));
        let api_name = s.get(&format!("/api/v1/rooms/{id}"), &s.admin)["name"].as_str().unwrap().to_owned();
        assert_eq!(api_name, "Boardroom <b>4</b> renamed");

        // Set the site of another, retire a third, merge a fourth into the second.
        let (site_id, _) = rooms[1].clone();
        let row1 = format!("tr[data-room='{site_id}']");
        c.find(Locator::Css(&format!("{row1} details.change summary"))).await.unwrap().click().await.unwrap();
        let f = c.find(Locator::Css(&format!("{row1} input[name='site']"))).await.unwrap();
        f.clear().await.unwrap();
        f.send_keys("Oslo HQ").await.unwrap();
        click_and_wait(&c, &format!("{row1} form[action='/inventory/{site_id}/site'] button")).await;
        assert_eq!(c.find(Locator::Css(&format!("{row1} td.site"))).await.unwrap().text().await.unwrap(), "Oslo HQ");

        let (retire_id, _) = rooms[2].clone();
        let row2 = format!("tr[data-room='{retire_id}']");
        c.find(Locator::Css(&format!("{row2} details.change summary"))).await.unwrap().click().await.unwrap();
        click_and_wait(&c, &format!("{row2} form[action='/inventory/{retire_id}/retire'] button")).await;
        assert!(c.find(Locator::Css(&format!("{row2} th"))).await.unwrap().text().await.unwrap().contains("retired"));
        assert_eq!(s.get(&format!("/api/v1/rooms/{retire_id}"), &s.admin)["retired"], json!(true));

        let (merge_id, merge_name) = rooms[3].clone();
        let row3 = format!("tr[data-room='{merge_id}']");
        c.find(Locator::Css(&format!("{row3} details.change summary"))).await.unwrap().click().await.unwrap();
        c.find(Locator::Css(&format!("{row3} select[name='into']")))
            .await
            .unwrap()
            .select_by_value(&site_id)
            .await
            .unwrap();
        click_and_wait(&c, &format!("{row3} form[action='/inventory/{merge_id}/merge'] button")).await;
        assert!(c.find_all(Locator::Css(&row3)).await.unwrap().is_empty(), "{merge_name} was merged away");
        assert_eq!(c.find_all(Locator::Css("table.inventory tbody tr")).await.unwrap().len(), rooms.len() - 1);
        c.goto(&s.url("/inventory")).await.unwrap();
        let png = c.screenshot().await.unwrap();
        std::fs::write(shots().join("inventory.png"), png).unwrap();

        // The inventory CSV: a row per room, the new name in it.
        let (st, ct, cd, body) = get_with_cookie(&s, "/inventory.csv", &cookie);
        assert_eq!(st, 200, "{body}");
        assert!(ct.starts_with("text/csv") && cd.contains("uctriage-inventory.csv"), "{ct} {cd}");
        assert!(body.starts_with("room_id,name,computer,site,tags,model,peripherals,app_version,os_version,last_heard"));
        assert_eq!(body.lines().count(), 1 + rooms.len() - 1, "{body}");
        let line = body.lines().find(|l| l.starts_with(&format!("\"{id}\","))).unwrap();
        assert!(line.starts_with(&format!("\"{id}\",\"Boardroom <b>4</b> renamed\",")), "was {old}: {line}");
        assert!(body.contains("\"Oslo HQ\""));

        // The audit log shows the changes, with the token that made them.
        c.goto(&s.url("/audit")).await.unwrap();
        assert_eq!(text_of("h1").await, "Audit log");
        let log = text_of("table.audit").await;
        assert!(log.contains("room.update") && log.contains("Boardroom <b>4</b> renamed"), "{log}");
        assert!(log.contains("room.merge") && log.contains(&format!("into {site_id}")), "{log}");
        assert!(attrs(&c, "table.audit a", "href").await.contains(&format!("/rooms/{id}")));
        assert!(c.find_all(Locator::Css("table.audit b")).await.unwrap().is_empty(), "markup shows as text");

        // A change posted without the form's CSRF value is refused.
        let agent: ureq::Agent = ureq::Agent::config_builder().http_status_as_error(false).build().into();
        let res = agent
            .post(&s.url(&format!("/inventory/{id}/name")))
            .header("Cookie", &format!("uct_session={cookie}"))
            .header("Content-Type", "application/x-www-form-urlencoded")
            .send("name=forged")
            .unwrap();
        assert_eq!(res.status().as_u16(), 403);

        // A viewer sees the inventory without forms, and is refused the audit log.
        click_and_wait(&c, "form.signout button").await;
        c.goto(&s.url("/inventory")).await.unwrap();
        sign_in(&c, &viewer).await;
        assert_eq!(c.current_url().await.unwrap().path(), "/inventory");
        assert_eq!(c.find_all(Locator::Css("table.inventory tbody tr")).await.unwrap().len(), rooms.len() - 1);
        assert!(c.find_all(Locator::Css("details.change, form[action^='/inventory/']")).await.unwrap().is_empty());
        assert!(c.find_all(Locator::Css("header nav a[href='/audit']")).await.unwrap().is_empty());
        c.goto(&s.url("/audit")).await.unwrap();
        assert_eq!(text_of("h1").await, "Not allowed");
        let cookie = c.get_named_cookie("uct_session").await.unwrap().value().to_owned();
        let (st, _, _, _) = get_with_cookie(&s, "/audit", &cookie);
        assert_eq!(st, 403);
        c.close().await.unwrap();
    });
}
