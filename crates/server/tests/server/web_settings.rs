//! The settings page in a real browser: a device token made through the form and shown once
//! with its push command line, used to ingest, revoked and refused; an alert destination added
//! (its made signing secret shown once) and tested against a local receiver; a maintenance
//! window added, refused when wrong, and removed; a viewer refused the page.

use fantoccini::Locator;
use jiff::{SignedDuration, Timestamp};
use uctriage_fixtures::fleet::get_winevent_json;
use uctriage_fixtures::rooms::{Heartbeat, Room};

use crate::receiver::Receiver;
use crate::web::{click_and_wait, shots, sign_in, start_driver};
use crate::{Db, Server, NOW};

const PUBLIC: &str = "http://fleet.contoso.test:8080";

/// A healthy room's last 15 minutes of heartbeats.
fn healthy_batch(at: Timestamp) -> Vec<u8> {
    let room = Room::new("board", 7);
    let events: Vec<_> = (0..3)
        .map(|i| Heartbeat::healthy(&room, at + SignedDuration::from_mins(5 * i)).event(&room.computer))
        .collect();
    get_winevent_json(&events)
}

fn ureq_agent() -> ureq::Agent {
    ureq::Agent::config_builder().http_status_as_error(false).build().into()
}

#[test]
fn the_settings_in_a_real_browser() {
    let Some(driver) = start_driver() else { return };
    let s = Server::start_with(&Db::Sqlite, |c| c.public_url = Some(PUBLIC.into()));
    let now: Timestamp = NOW.parse().unwrap();
    let rx = Receiver::start(vec![200]);
    let viewer = s.token("viewer", None);
    let batch = healthy_batch(now - SignedDuration::from_mins(20));
    let ingest =
        |token: &str| s.call("POST", "/api/v1/ingest/events", Some(token), Some(("application/json", batch.clone())));

    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    rt.block_on(async {
        let c = driver.browser(2400).await;
        let text_of = |sel: &'static str| {
            let c = c.clone();
            async move { c.find(Locator::Css(sel)).await.unwrap_or_else(|e| panic!("{sel}: {e}")).text().await.unwrap() }
        };
        let fill = |sel: &'static str, value: String| {
            let c = c.clone();
            async move {
                let f = c.find(Locator::Css(sel)).await.unwrap_or_else(|e| panic!("{sel}: {e}"));
                f.clear().await.unwrap();
                f.send_keys(&value).await.unwrap();
            }
        };
        let secret_shown = || {
            let c = c.clone();
            async move { c.find(Locator::Css("input#secret")).await.unwrap().prop("value").await.unwrap().unwrap() }
        };

        // Sign in as admin, back to the settings; the nav leads there.
        c.goto(&s.url("/settings")).await.unwrap();
        assert!(c.current_url().await.unwrap().path().starts_with("/signin"));
        sign_in(&c, &s.admin).await;
        assert_eq!(c.current_url().await.unwrap().path(), "/settings");
        assert!(c.find(Locator::Css("header nav a[href='/settings']")).await.is_ok());
        assert_eq!(text_of("h1").await, "Settings");
        // Every field of every form has its label.
        for input in c.find_all(Locator::Css("main form input:not([type=hidden]), main form select")).await.unwrap() {
            let id = input.attr("id").await.unwrap().expect("a field with an id");
            assert!(c.find(Locator::Css(&format!("label[for='{id}']"))).await.is_ok(), "no label for #{id}");
        }
        // The signal catalog, read-only.
        let catalog = text_of("table.catalog").await;
        assert!(catalog.contains("exchange") && catalog.contains("Watch"), "{catalog}");

        // A device token through the form: shown once, with the push command line.
        c.find(Locator::Css("#tk-role")).await.unwrap().select_by_value("device").await.unwrap();
        fill("#tk-name", "Board room".into()).await;
        click_and_wait(&c, "#token-form button[type=submit]").await;
        assert_eq!(text_of("h1").await, "Token made");
        let token = secret_shown().await;
        assert!(token.starts_with("uct_"), "{token}");
        let command = text_of("#push-command").await;
        assert!(command.contains(&format!("push events.json --server {PUBLIC} --token-file device.token")), "{command}");
        assert!(text_of("main").await.contains("Register-ScheduledTask"));
        assert!(c.find(Locator::Css("button.copy[data-copy]")).await.unwrap().is_displayed().await.unwrap(), "the script shows the copy button");

        // It ingests.
        let (st, v) = ingest(&token);
        assert_eq!(st, 200, "{v}");

        // Revoke it through the form; the same batch is refused.
        c.goto(&s.url("/settings")).await.unwrap();
        let id = token.split('_').nth(1).unwrap().to_owned();
        let row = format!("tr[data-token='{id}']");
        assert!(c.find(Locator::Css(&row)).await.unwrap().text().await.unwrap().contains("Board room"));
        click_and_wait(&c, &format!("{row} form[action$='/revoke'] button")).await;
        assert!(text_of("p.done").await.contains("revoked"));
        assert!(c.find(Locator::Css(&row)).await.unwrap().text().await.unwrap().contains("revoked"));
        let (st, v) = ingest(&token);
        assert_eq!(st, 401, "a revoked token is refused: {v}");

        // A standard webhook to the local receiver: its made secret shown once, then a test.
        c.find(Locator::Css("#wh-kind")).await.unwrap().select_by_value("standard").await.unwrap();
        fill("#wh-url", rx.url.clone()).await;
        fill("#wh-name", "ops on-call".into()).await;
        click_and_wait(&c, "#alert-form button[type=submit]").await;
        let secret = secret_shown().await;
        assert!(secret.starts_with("whsec_"), "{secret}");
        c.goto(&s.url("/settings")).await.unwrap();
        let hooks = text_of("table.webhooks").await;
        assert!(hooks.contains("ops on-call") && hooks.contains("standard"), "{hooks}");
        assert!(!c.source().await.unwrap().contains(&secret), "the secret is not shown again");
        click_and_wait(&c, "table.webhooks form[action$='/test'] button").await;
        let outcome = text_of("#test-outcome").await;
        assert!(outcome.contains("delivered"), "{outcome}");
        let got = rx.wait_for(1);
        assert!(got[0].header("webhook-signature").is_some_and(|h| h.starts_with("v1,")));

        // A window the API refuses says why, on the page.
        c.goto(&s.url("/settings")).await.unwrap();
        fill("#mw-start", "02:00".into()).await;
        fill("#mw-end", "02:00".into()).await;
        fill("#mw-reason", "updates".into()).await;
        click_and_wait(&c, "#window-form button[type=submit]").await;
        let err = text_of("p.error").await;
        assert!(err.contains("the same time"), "{err}");
        // A nightly window on weekdays.
        fill("#mw-start", "02:00".into()).await;
        fill("#mw-end", "04:00".into()).await;
        fill("#mw-reason", "Nightly updates".into()).await;
        for d in ["#mw-mon", "#mw-tue"] {
            c.find(Locator::Css(d)).await.unwrap().click().await.unwrap();
        }
        click_and_wait(&c, "#window-form button[type=submit]").await;
        let windows = text_of("table.windows").await;
        assert!(windows.contains("02:00–04:00") && windows.contains("mon, tue") && windows.contains("Nightly updates"), "{windows}");
        assert_eq!(s.get("/api/v1/windows", &s.admin)["items"].as_array().unwrap().len(), 1);
        c.goto(&s.url("/settings")).await.unwrap();
        let png = c.screenshot().await.unwrap();
        std::fs::write(shots().join("settings.png"), png).unwrap();
        click_and_wait(&c, "table.windows form[action$='/remove'] button").await;
        assert!(text_of("p.done").await.contains("removed"));
        assert!(c.find_all(Locator::Css("table.windows")).await.unwrap().is_empty());
        assert!(s.get("/api/v1/windows", &s.admin)["items"].as_array().unwrap().is_empty());

        // Its deliveries: the test, delivered at the first attempt.
        c.goto(&s.url("/settings")).await.unwrap();
        click_and_wait(&c, "table.webhooks a[href^='/settings/alerts/']").await;
        let sent = text_of("table.deliveries").await;
        assert!(sent.contains("a test") && sent.contains("delivered"), "{sent}");
        c.goto(&s.url("/settings")).await.unwrap();

        // Remove the destination.
        click_and_wait(&c, "table.webhooks form[action$='/remove'] button").await;
        assert!(c.find_all(Locator::Css("table.webhooks")).await.unwrap().is_empty());

        // A form without this session's CSRF value is refused.
        let cookie = c.get_named_cookie("uct_session").await.unwrap();
        let res = ureq_agent()
            .post(&s.url("/settings/tokens"))
            .header("Cookie", &format!("uct_session={}", cookie.value()))
            .header("Content-Type", "application/x-www-form-urlencoded")
            .send("role=viewer&name=forged&csrf=0000")
            .unwrap();
        assert_eq!(res.status().as_u16(), 403);

        // A viewer is offered no settings and refused the page.
        click_and_wait(&c, "form.signout button").await;
        c.goto(&s.url("/signin")).await.unwrap();
        sign_in(&c, &viewer).await;
        assert!(c.find_all(Locator::Css("header nav a[href='/settings']")).await.unwrap().is_empty());
        c.goto(&s.url("/settings")).await.unwrap();
        assert_eq!(text_of("h1").await, "Not allowed");
        let cookie = c.get_named_cookie("uct_session").await.unwrap();
        let res = ureq_agent()
            .get(&s.url("/settings"))
            .header("Cookie", &format!("uct_session={}", cookie.value()))
            .call()
            .unwrap();
        assert_eq!(res.status().as_u16(), 403);
        c.close().await.unwrap();
    });
}
