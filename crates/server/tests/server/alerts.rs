//! Alerts: signed webhook delivery with retries, the backfill cut-off, the Teams card, and one
//! sender among two instances on PostgreSQL.

use base64::Engine as _;
use jiff::{SignedDuration, Timestamp};
use serde_json::{json, Value};
use uctriage_fixtures::fleet::get_winevent_json;
use uctriage_fixtures::rooms::{Heartbeat, Room};

use crate::receiver::Receiver;
use crate::{backends, Db, Server, NOW};

fn now() -> Timestamp {
    NOW.parse().unwrap()
}

/// Heartbeats every 5 minutes from `from` for `n`, Exchange failing with MFA from the `bad`-th.
fn episode(room: &Room, from: Timestamp, n: i64, bad: std::ops::Range<i64>) -> Vec<u8> {
    let events: Vec<_> = (0..n)
        .map(|i| {
            let hb = Heartbeat::healthy(room, from + SignedDuration::from_mins(5 * i));
            let hb =
                if bad.contains(&i) { hb.exchange("80131500 : AADSTS50076").teams_signin("Unhealthy") } else { hb };
            hb.event(&room.computer)
        })
        .collect();
    get_winevent_json(&events)
}

fn verify(secret: &str, r: &crate::receiver::Received) -> bool {
    let key = base64::engine::general_purpose::STANDARD.decode(secret.trim_start_matches("whsec_")).unwrap();
    let id = r.header("webhook-id").unwrap();
    let ts = r.header("webhook-timestamp").unwrap();
    let k = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, &key);
    let want = base64::engine::general_purpose::STANDARD
        .encode(ring::hmac::sign(&k, format!("{id}.{ts}.{}", r.body).as_bytes()).as_ref());
    r.header("webhook-signature").unwrap().split(' ').any(|s| s == format!("v1,{want}"))
}

#[test]
fn signed_alerts_retry_with_the_same_id_and_backfills_stay_quiet() {
    for db in backends() {
        let s = Server::start(&db);
        let rx = Receiver::start(vec![500, 204]);
        let (st, hook) =
            s.post_json("/api/v1/webhooks", &s.admin, &json!({"kind": "standard", "url": rx.url, "name": "ops"}));
        assert_eq!(st, 201, "{hook}");
        let secret = hook["secret"].as_str().unwrap().to_owned();
        assert!(secret.starts_with("whsec_"));
        let listed = s.get("/api/v1/webhooks", &s.admin).to_string();
        assert!(!listed.contains(&secret[6..]) && !listed.contains("url_sealed"), "{listed}");

        // A week ago: an episode that opened and resolved. History, no alert.
        let old = Room::new("archive", 70);
        let (st, v) = s.call(
            "POST",
            "/api/v1/ingest/events",
            Some(&s.admin),
            Some(("application/json", episode(&old, now() - SignedDuration::from_hours(7 * 24), 30, 5..20))),
        );
        assert_eq!(st, 200, "{v}");
        let old_id = v["rooms"][0].as_str().unwrap().to_owned();
        let past = s.wait_for(&format!("/api/v1/incidents?room={old_id}"), |v| {
            v["items"].as_array().is_some_and(|a| a.len() == 2)
        });
        assert!(past["items"].as_array().unwrap().iter().all(|i| i["state"] == "resolved"), "{past}");

        // Now: Exchange fails for 45 minutes up to a minute ago. The incident opens (30 minutes
        // in), and the alert goes out: a 500 first, then accepted, with one webhook-id.
        let room = Room::new("boardroom", 71);
        let (st, v) = s.call(
            "POST",
            "/api/v1/ingest/events",
            Some(&s.admin),
            Some(("application/json", episode(&room, now() - SignedDuration::from_mins(61), 13, 3..13))),
        );
        assert_eq!(st, 200, "{v}");
        // Two incidents (Exchange and Teams sign-in), two alerts; the first answer is a 500, so
        // one of them comes again, with the same webhook-id.
        let got = rx.wait_for(3);
        let first = got[0].header("webhook-id").unwrap();
        assert_eq!(
            got.iter().filter(|r| r.header("webhook-id") == Some(first)).count(),
            2,
            "a retry keeps its webhook-id"
        );
        for r in &got {
            assert!(verify(&secret, r), "the signature verifies: {:?}", r.headers);
        }
        let body: Value = serde_json::from_str(&got[2].body).unwrap();
        assert_eq!(body["type"], "incident.opened");
        assert!(body["data"]["summary"].as_str().unwrap().contains("AADSTS50076"), "{body}");
        assert!(body["data"]["first_fix"].is_string());
        std::thread::sleep(std::time::Duration::from_secs(2));
        assert_eq!(rx.count(), 3, "the backfilled week alerted nobody");
        let id = s.get(&format!("/api/v1/incidents?state=open&room={}", v["rooms"][0].as_str().unwrap()), &s.admin)
            ["items"][0]["id"]
            .as_str()
            .unwrap()
            .to_owned();
        let detail = s.get(&format!("/api/v1/incidents/{id}"), &s.admin);
        let d = &detail["deliveries"][0];
        assert_eq!(d["state"].as_str(), Some("delivered"), "{detail}");
        // The destination's own list: both alerts, newest first, one of them tried twice.
        let hook_id = hook["id"].as_str().unwrap();
        let sent = s.get(&format!("/api/v1/webhooks/{hook_id}/deliveries"), &s.admin);
        let items = sent["items"].as_array().unwrap();
        assert_eq!(items.len(), 2, "{sent}");
        assert!(items.iter().all(|a| a["state"] == "delivered" && a["webhook_id"] == hook_id), "{sent}");
        assert_eq!(items.iter().map(|a| a["attempts"].as_i64().unwrap()).sum::<i64>(), 3, "{sent}");
        assert_eq!(
            s.get(&format!("/api/v1/webhooks/{hook_id}/deliveries?limit=1"), &s.admin)["items"]
                .as_array()
                .unwrap()
                .len(),
            1
        );
        assert_eq!(s.call("GET", "/api/v1/webhooks/nope/deliveries", Some(&s.admin), None).0, 404);

        // A Teams Workflows webhook gets an Adaptive Card; the test alert goes at once.
        let teams = Receiver::start(vec![202]);
        let (_, hook) = s.post_json(
            "/api/v1/webhooks",
            &s.admin,
            &json!({"kind": "teams", "url": format!("{}?sig=SECRETSIG", teams.url)}),
        );
        assert!(hook["secret"].is_null());
        assert!(!hook.to_string().contains("SECRETSIG"), "{hook}");
        let (st, a) =
            s.call("POST", &format!("/api/v1/webhooks/{}/test", hook["id"].as_str().unwrap()), Some(&s.admin), None);
        assert_eq!((st, a["state"].as_str()), (200, Some("delivered")), "{a}");
        let card: Value = serde_json::from_str(&teams.wait_for(1)[0].body).unwrap();
        assert_eq!(card["attachments"][0]["contentType"], "application/vnd.microsoft.card.adaptive");
        assert_eq!(card["attachments"][0]["content"]["type"], "AdaptiveCard");
        let (st, _) = s.post_json(
            "/api/v1/webhooks",
            &s.admin,
            &json!({"kind": "standard", "url": rx.url, "secret": "whsec_c2hvcnQ="}),
        );
        assert_eq!(st, 422, "a secret of too few bytes");
        let metrics = s.call("GET", "/metrics", Some(&s.admin), None).1;
        assert!(metrics.as_str().unwrap().contains("uctriage_alert_attempts_total{outcome=\"retry\"} 1"), "{metrics}");
        assert!(metrics.as_str().unwrap().contains("uctriage_alerts{state=\"delivered\"} 3"), "{metrics}");
        drop(db);
    }
}

#[test]
fn silences_inside_a_backfill_are_offline_incidents() {
    for db in backends() {
        let s = Server::start(&db);
        let room = Room::new("quiet", 72);
        let beats = |from: Timestamp, n: i64| -> Vec<_> {
            (0..n)
                .map(|i| Heartbeat::healthy(&room, from + SignedDuration::from_mins(5 * i)).event(&room.computer))
                .collect()
        };
        let push = |events: &[_]| {
            let (st, v) = s.call(
                "POST",
                "/api/v1/ingest/events",
                Some(&s.admin),
                Some(("application/json", get_winevent_json(events))),
            );
            assert_eq!(st, 200, "{v}");
            v["rooms"][0].as_str().unwrap().to_owned()
        };
        // One batch: two hours of heartbeats, three silent hours, two hours more. Then a batch
        // of its own after an hour's silence, its last heartbeat two minutes ago.
        let start = now() - SignedDuration::from_mins(8 * 60 + 57);
        let mut week = beats(start, 24);
        week.extend(beats(start + SignedDuration::from_hours(5), 24));
        let id = push(&week);
        push(&beats(start + SignedDuration::from_hours(8), 12));
        let list = s.wait_for(&format!("/api/v1/incidents?room={id}"), |v| {
            v["items"].as_array().is_some_and(|a| a.iter().any(|i| i["signal"] == "offline" && i["reopened"] == 1))
        });
        let items = list["items"].as_array().unwrap();
        assert_eq!(items.len(), 1, "one offline incident, reopened by the second silence: {list}");
        let i = &items[0];
        let at = |mins: i64| (start + SignedDuration::from_mins(mins)).to_string();
        assert_eq!(
            (i["state"].as_str(), i["started"].as_str(), i["resolved"].as_str()),
            (Some("resolved"), Some(at(115 + 20).as_str()), Some(at(8 * 60).as_str())),
            "{i}"
        );
        let detail = s.get(&format!("/api/v1/incidents/{}", i["id"].as_str().unwrap()), &s.admin);
        let whats: Vec<&str> =
            detail["timeline"].as_array().unwrap().iter().filter_map(|l| l["what"].as_str()).collect();
        assert_eq!(whats, ["opened", "resolved", "reopened", "resolved"], "{detail}");
        // A room back online is not offline because of the silences it once had.
        assert_eq!(s.get(&format!("/api/v1/rooms/{id}"), &s.admin)["state"], "healthy");
        drop(db);
    }
}

#[test]
fn two_instances_on_one_postgres_send_each_alert_once() {
    let Some(db) = backends().into_iter().find(|d| matches!(d, Db::Postgres(_))) else { return };
    let a = Server::start(&db);
    let data = a.data();
    let b = Server::start_with(&db, |c| c.data_dir = data.clone());
    let rx = Receiver::start(vec![200]);
    let (st, _) = a.post_json("/api/v1/webhooks", &a.admin, &json!({"kind": "standard", "url": rx.url}));
    assert_eq!(st, 201);
    // Both instances evaluate the room (each diagnoses what it sees as dirty), both plan the
    // alert; it is stored once and sent once.
    let room = Room::new("twin", 72);
    let batch = episode(&room, now() - SignedDuration::from_mins(61), 13, 3..13);
    let (st, _) = a.call("POST", "/api/v1/ingest/events", Some(&a.admin), Some(("application/json", batch.clone())));
    assert_eq!(st, 200);
    let (st, v) = b.call("POST", "/api/v1/ingest/events", Some(&a.admin), Some(("application/json", batch)));
    assert_eq!((st, v["accepted"].as_u64()), (200, Some(0)));
    // Two incidents (Exchange and Teams sign-in): two alerts, each sent once.
    rx.wait_for(2);
    std::thread::sleep(std::time::Duration::from_secs(3));
    let got = rx.got.lock().unwrap().clone();
    let ids: std::collections::BTreeSet<&str> = got.iter().filter_map(|r| r.header("webhook-id")).collect();
    assert_eq!((got.len(), ids.len()), (2, 2), "each alert sent by one instance only");
}

#[test]
fn a_suppressed_room_records_its_incidents_marked_and_alerts_nobody() {
    for db in backends() {
        let s = Server::start(&db);
        let rx = Receiver::start(vec![200]);
        let (st, _) = s.post_json("/api/v1/webhooks", &s.admin, &json!({"kind": "standard", "url": rx.url}));
        assert_eq!(st, 201);
        let room = Room::new("quiet", 73);
        // The room exists (a healthy heartbeat), then an admin suppresses it for two hours.
        let (_, v) = s.call(
            "POST",
            "/api/v1/ingest/events",
            Some(&s.admin),
            Some(("application/json", episode(&room, now() - SignedDuration::from_mins(120), 1, 0..0))),
        );
        let id = v["rooms"][0].as_str().unwrap().to_owned();
        let path = format!("/api/v1/rooms/{id}/suppressions");
        let (st, v) = s.post_json(&path, &s.admin, &json!({"until": "2h", "reason": "firmware update"}));
        assert_eq!(st, 201, "{v}");
        let sid = v["id"].as_str().unwrap().to_owned();
        for (body, want) in [
            (json!({"until": "yesterday", "reason": "x"}), 422),
            (json!({"until": "2h", "reason": ""}), 422),
            (json!({"until": "2h", "reason": "x", "signal": "nope"}), 422),
        ] {
            assert_eq!(s.post_json(&path, &s.admin, &body).0, want, "{body}");
        }
        let viewer = s.token("viewer", None);
        assert_eq!(s.post_json(&path, &viewer, &json!({"until": "2h", "reason": "x"})).0, 403);
        assert_eq!(s.get(&format!("/api/v1/rooms/{id}"), &s.admin)["suppressed"], true);
        let (st, _) = s.call(
            "POST",
            "/api/v1/ingest/events",
            Some(&s.admin),
            Some(("application/json", episode(&room, now() - SignedDuration::from_mins(61), 13, 3..13))),
        );
        assert_eq!(st, 200);
        let open = s.wait_for(&format!("/api/v1/incidents?room={id}&state=open"), |v| {
            v["items"].as_array().is_some_and(|a| a.len() == 2)
        });
        let detail = s.get(&format!("/api/v1/incidents/{}", open["items"][0]["id"].as_str().unwrap()), &s.admin);
        assert!(
            detail["timeline"]
                .as_array()
                .unwrap()
                .iter()
                .any(|t| t["what"] == "suppressed" && t["detail"] == "firmware update"),
            "{detail}"
        );
        std::thread::sleep(std::time::Duration::from_secs(2));
        assert_eq!(rx.count(), 0, "nothing alerted while suppressed");
        // Lifted: the audit log has both.
        assert_eq!(s.call("DELETE", &format!("/api/v1/suppressions/{sid}"), Some(&s.admin), None).0, 204);
        assert_eq!(s.call("DELETE", &format!("/api/v1/suppressions/{sid}"), Some(&s.admin), None).0, 404);
        assert_eq!(s.get(&format!("/api/v1/rooms/{id}"), &s.admin)["suppressed"], false);
        let audit = s.get("/api/v1/audit", &s.admin).to_string();
        assert!(audit.contains("room.suppress") && audit.contains("room.unsuppress"), "{audit}");

        // History: the room's day in its own zone, set through the API (a Windows id).
        let (st, _) = s.call(
            "PATCH",
            &format!("/api/v1/rooms/{id}"),
            Some(&s.admin),
            Some(("application/json", br#"{"timezone": "W. Europe Standard Time"}"#.to_vec())),
        );
        assert_eq!(st, 200);
        let h = s.get(&format!("/api/v1/history?days=2&room={id}"), &s.admin);
        let r = &h["rooms"][0];
        assert_eq!(
            (r["zone"].as_str(), r["zone_source"].as_str()),
            (Some("Europe/Berlin"), Some("room-windows")),
            "{h}"
        );
        // 09:14 UTC onwards is 11:14 local: inside the working hours, more than 20 minutes.
        let today = r["days"].as_array().unwrap().last().unwrap();
        assert_eq!((today["date"].as_str(), today["unhealthy"].as_bool()), (Some("2025-07-15"), Some(true)), "{h}");
        assert!(today["availability"]["exchange"].as_f64().unwrap() < 100.0);
        assert_eq!(h["fleet"].as_array().unwrap().last().unwrap()["unhealthy_rooms"], 1);
        let (st, csv) = s.call("GET", &format!("/api/v1/history?days=2&room={id}&format=csv"), Some(&s.admin), None);
        let csv = csv.as_str().unwrap().to_owned();
        assert_eq!(st, 200);
        assert!(csv.starts_with("date,room_id,room,zone,zone_source,unhealthy"), "{csv}");
        assert_eq!(csv.lines().count(), 3, "{csv}");
        assert_eq!(s.call("GET", "/api/v1/history?days=91", Some(&s.admin), None).0, 400);

        // A maintenance window in the room's local time (12:00 in Berlin now): marked, not alerted.
        let other = Room::new("hall", 74);
        let (_, v) = s.call(
            "POST",
            "/api/v1/ingest/events",
            Some(&s.admin),
            Some(("application/json", episode(&other, now() - SignedDuration::from_mins(200), 1, 0..0))),
        );
        let hall = v["rooms"][0].as_str().unwrap().to_owned();
        let (st, _) = s.call(
            "PATCH",
            &format!("/api/v1/rooms/{hall}"),
            Some(&s.admin),
            Some(("application/json", br#"{"timezone": "Europe/Berlin"}"#.to_vec())),
        );
        assert_eq!(st, 200);
        let (st, w) = s.post_json(
            "/api/v1/windows",
            &s.admin,
            &json!({"room": hall, "start": "11:30", "end": "12:30", "reason": "patching"}),
        );
        assert_eq!(st, 201, "{w}");
        assert_eq!(
            s.post_json("/api/v1/windows", &s.admin, &json!({"start": "25:00", "end": "01:00", "reason": "x"})).0,
            422
        );
        let (st, _) = s.call(
            "POST",
            "/api/v1/ingest/events",
            Some(&s.admin),
            Some(("application/json", episode(&other, now() - SignedDuration::from_mins(61), 13, 3..13))),
        );
        assert_eq!(st, 200);
        let open = s.wait_for(&format!("/api/v1/incidents?room={hall}&state=open"), |v| {
            v["items"].as_array().is_some_and(|a| !a.is_empty())
        });
        let detail = s.get(&format!("/api/v1/incidents/{}", open["items"][0]["id"].as_str().unwrap()), &s.admin);
        assert!(
            detail["timeline"]
                .as_array()
                .unwrap()
                .iter()
                .any(|t| t["what"] == "maintenance" && t["detail"] == "patching"),
            "{detail}"
        );
        std::thread::sleep(std::time::Duration::from_secs(2));
        assert_eq!(rx.count(), 0, "nothing alerted inside the window");
        assert_eq!(
            s.call("DELETE", &format!("/api/v1/windows/{}", w["id"].as_str().unwrap()), Some(&s.admin), None).0,
            204
        );
    }
}

#[test]
fn syslog_alerts_reach_a_local_collector() {
    for db in backends() {
        let s = Server::start(&db);
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let got = std::thread::spawn(move || {
            let (mut c, _) = listener.accept().unwrap();
            let mut buf = String::new();
            std::io::Read::read_to_string(&mut c, &mut buf).unwrap();
            buf
        });
        let (st, hook) =
            s.post_json("/api/v1/webhooks", &s.admin, &json!({"kind": "syslog", "url": format!("tcp://{addr}")}));
        assert_eq!(st, 201, "{hook}");
        assert_eq!(s.post_json("/api/v1/webhooks", &s.admin, &json!({"kind": "syslog", "url": "http://x"})).0, 422);
        let (st, a) =
            s.call("POST", &format!("/api/v1/webhooks/{}/test", hook["id"].as_str().unwrap()), Some(&s.admin), None);
        assert_eq!((st, a["state"].as_str()), (200, Some("delivered")), "{a}");
        let msg = got.join().unwrap();
        let (len, rest) = msg.split_once(' ').unwrap();
        assert_eq!(len.parse::<usize>().unwrap(), rest.len(), "octet counting: {msg}");
        assert!(
            rest.starts_with("<134>1 ") && rest.contains("uctriage - incident") && rest.contains("incident.test"),
            "{msg}"
        );
    }
}

#[test]
fn raw_records_past_their_retention_are_purged_and_the_90_day_history_survives() {
    for db in backends() {
        let s = Server::start(&db);
        // 45 days ago, Exchange and Teams sign-in fail from 10:25 to 11:40 UTC; the room has sent
        // a healthy heartbeat just now, so it is not offline. The records arrive today. Their
        // incidents resolved more than a week ago, so they read as closed.
        let room = Room::new("ledger", 75);
        let hb = |at: Timestamp, bad: bool| {
            let hb = Heartbeat::healthy(&room, at);
            let hb = if bad { hb.exchange("80131500 : AADSTS50076").teams_signin("Unhealthy") } else { hb };
            hb.event(&room.computer)
        };
        let from = now() - SignedDuration::from_hours(45 * 24);
        let mut events: Vec<_> =
            (0..30).map(|i| hb(from + SignedDuration::from_mins(5 * i), (5..20).contains(&i))).collect();
        events.push(hb(now() - SignedDuration::from_mins(1), false));
        let (st, v) = s.call(
            "POST",
            "/api/v1/ingest/events",
            Some(&s.admin),
            Some(("application/json", get_winevent_json(&events))),
        );
        assert_eq!(st, 200, "{v}");
        let id = v["rooms"][0].as_str().unwrap().to_owned();
        let incidents = format!("/api/v1/incidents?room={id}");
        // Nothing came between the episode's last heartbeat (12:25) and the one of now: the room
        // was offline from 12:45 until now, an incident of its own, resolved a minute ago.
        s.wait_for(&incidents, |v| {
            v["items"].as_array().is_some_and(|a| {
                a.len() == 3
                    && a.iter().filter(|i| i["state"] == "closed").count() == 2
                    && a.iter().any(|i| i["signal"] == "offline" && i["state"] == "resolved")
            })
        });
        assert_eq!(s.diagnosed(&id)["records"], 31);
        let history = format!("/api/v1/history?days=90&room={id}");
        let day_of = |h: &Value| {
            // The records' times carry +00:00 (PowerShell 7's local time on a UTC machine).
            assert_eq!(
                (h["rooms"][0]["zone"].as_str(), h["rooms"][0]["zone_source"].as_str()),
                (Some("UTC+00:00"), Some("record-offset"))
            );
            h["rooms"][0]["days"].as_array().unwrap().iter().find(|d| d["date"] == "2025-05-31").cloned()
        };
        let before = day_of(&s.get(&history, &s.admin)).expect("the day is in the last 90");
        // 75 minutes of the episode, and offline from 12:45 to the end of the working day (21:00).
        assert_eq!(
            (before["unhealthy"].as_bool(), before["working_minutes_affected"].as_i64()),
            (Some(true), Some(75 + 495))
        );
        assert!(before["availability"]["exchange"].as_f64().unwrap() < 100.0, "{before}");

        // The same server 40 days later, past the 30 days raw records are kept: on starting, it
        // deletes the records; the incidents, and so the history, stay.
        let later = now() + SignedDuration::from_hours(40 * 24);
        let s = s.restart_with(&db, |c| {
            c.clock = uctriage_server::Clock::starting_at(later.as_millisecond());
            assert_eq!(c.raw_retention_days, 30);
        });
        s.wait_for(&format!("/api/v1/rooms/{id}"), |v| v["records"] == 0);
        let after = day_of(&s.get(&history, &s.admin)).expect("85 days ago is in the last 90");
        assert_eq!(after, before, "the day's history is unchanged");
        let closed = s.get(&format!("{incidents}&state=closed"), &s.admin);
        assert_eq!(closed["items"].as_array().map(Vec::len), Some(3), "{closed}");
        // Silent for 40 days, the room is offline now: that starts on the day of its last
        // heartbeat, not on the day of the episode.
        s.wait_for(&format!("{incidents}&state=open"), |v| {
            v["items"].as_array().is_some_and(|a| a.iter().any(|i| i["signal"] == "offline"))
        });
        let after = day_of(&s.get(&history, &s.admin)).unwrap();
        assert_eq!(after, before, "the day's history is unchanged");
        drop(db);
    }
}
