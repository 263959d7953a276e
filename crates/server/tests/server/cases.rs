//! The cases, each run on every backend.

use std::sync::Arc;

use jiff::{SignedDuration, Timestamp};
use serde_json::{json, Value};
use uctriage_fixtures::fleet::{get_winevent_json, Expected};
use uctriage_fixtures::rooms::{Heartbeat, Room};

use crate::{backends, fixture, Server, NOW};

fn now() -> Timestamp {
    NOW.parse().unwrap()
}

fn json_batch(events: &[uctriage_fixtures::evtx_writer::Event]) -> (&'static str, Vec<u8>) {
    ("application/json", get_winevent_json(events))
}

#[test]
fn tokens_and_roles() {
    for db in backends() {
        let s = Server::start(&db);
        let ingest = "/api/v1/ingest/events";
        let room = Room::new("lobby", 20);
        let batch = || json_batch(&[Heartbeat::healthy(&room, now()).event(&room.computer)]);
        // No token, a wrong one, a malformed one.
        assert_eq!(s.call("GET", "/api/v1/rooms", None, None).0, 401);
        let forged = format!("uct_{}_{}", "tk000000000000", "0".repeat(64));
        assert_eq!(s.call("GET", "/api/v1/rooms", Some(&forged), None).0, 401);
        assert_eq!(s.call("GET", "/api/v1/rooms", Some("nonsense"), None).0, 401);
        // Health needs no token.
        assert_eq!(s.call("GET", "/healthz", None, None).0, 200);
        assert_eq!(s.call("GET", "/readyz", None, None).0, 200);
        let device = s.token("device", None);
        let viewer = s.token("viewer", None);
        assert_eq!(s.call("POST", ingest, Some(&device), Some(batch())).0, 200);
        assert_eq!(s.call("GET", "/api/v1/rooms", Some(&device), None).0, 403, "a device only ingests");
        assert_eq!(s.call("GET", "/api/v1/tokens", Some(&viewer), None).0, 403);
        assert_eq!(s.call("POST", ingest, Some(&viewer), Some(batch())).0, 403, "a viewer only reads");
        let (st, _) = s.post_json("/api/v1/tokens", &viewer, &json!({"role": "admin"}));
        assert_eq!(st, 403);
        assert_eq!(s.call("GET", "/api/v1/rooms", Some(&viewer), None).0, 200);
        assert_eq!(s.call("GET", "/metrics", Some(&viewer), None).0, 200);
        // Revoking works at once.
        let tokens = s.get("/api/v1/tokens", &s.admin);
        let viewer_id = tokens["items"].as_array().unwrap().iter().find(|t| t["role"] == "viewer").unwrap()["id"]
            .as_str()
            .unwrap()
            .to_owned();
        assert!(tokens.to_string().find(&viewer[20..]).is_none(), "secrets are never listed");
        assert_eq!(s.call("DELETE", &format!("/api/v1/tokens/{viewer_id}"), Some(&s.admin), None).0, 204);
        assert_eq!(s.call("GET", "/api/v1/rooms", Some(&viewer), None).0, 401);
        assert_eq!(s.call("DELETE", &format!("/api/v1/tokens/{viewer_id}"), Some(&s.admin), None).0, 404);
        // A token bound to a room cannot send another room's events.
        let rooms = s.get("/api/v1/rooms", &s.admin);
        let lobby = rooms["items"][0]["id"].as_str().unwrap().to_owned();
        let other = Room::new("annex", 21);
        let (_, v) = s.call(
            "POST",
            ingest,
            Some(&device),
            Some(json_batch(&[Heartbeat::healthy(&other, now()).event(&other.computer)])),
        );
        let annex = v["rooms"][0].as_str().unwrap().to_owned();
        assert_ne!(annex, lobby);
        let bound = s.token("device", Some(&lobby));
        assert_eq!(s.call("POST", ingest, Some(&bound), Some(batch())).0, 200);
        let (st, v) = s.call(
            "POST",
            ingest,
            Some(&bound),
            Some(json_batch(&[Heartbeat::healthy(&other, now()).event(&other.computer)])),
        );
        assert_eq!(st, 403, "{v}");
        assert_eq!(s.call("POST", &format!("{ingest}?room={annex}"), Some(&bound), Some(batch())).0, 403);
        let (st, _) = s.post_json("/api/v1/tokens", &s.admin, &json!({"role": "viewer", "room": lobby}));
        assert_eq!(st, 422, "only device tokens are bound to rooms");
        // The audit log says who did what.
        let audit = s.get("/api/v1/audit?limit=2", &s.admin);
        assert_eq!(audit["items"].as_array().unwrap().len(), 2);
        assert!(audit["next_cursor"].is_string());
        let all = s.get("/api/v1/audit", &s.admin).to_string();
        assert!(all.contains("token.revoke") && all.contains("token.create"), "{all}");
    }
}

#[test]
fn signals_transitions_and_not_applicable() {
    for db in backends() {
        let s = Server::start(&db);
        let room = Room::new("boardroom", 30);
        let t0 = now() - SignedDuration::from_hours(2);
        let at = |m: i64| t0 + SignedDuration::from_mins(m);
        let events = vec![
            Heartbeat::healthy(&room, at(0)).event(&room.computer),
            Heartbeat::healthy(&room, at(5))
                .exchange("80131500 : AADSTS50076")
                .teams_signin("Unhealthy")
                .event(&room.computer),
            Heartbeat::healthy(&room, at(10))
                .exchange("80131500 : AADSTS50076")
                .teams_signin("Unhealthy")
                .event(&room.computer),
            // Only the Skype for Business sign-in is bad: Teams sign-in stays healthy.
            Heartbeat::healthy(&room, at(15)).signin("Unhealthy").event(&room.computer),
        ];
        let (st, v) = s.call("POST", "/api/v1/ingest/events", Some(&s.admin), Some(json_batch(&events)));
        assert_eq!(st, 200, "{v}");
        assert_eq!(v["accepted"], 4);
        let id = v["rooms"][0].as_str().unwrap();
        let r = s.get(&format!("/api/v1/rooms/{id}"), &s.admin);
        let sig = |name: &str| {
            r["signals"].as_array().unwrap().iter().find(|x| x["id"] == name).cloned().unwrap_or(Value::Null)
        };
        assert_eq!(sig("teams-signin")["state"], "healthy", "{r}");
        assert_eq!(sig("sfb-signin")["state"], "unhealthy");
        assert_eq!(sig("exchange")["state"], "healthy");
        assert_eq!(r["computer"], "MTR-BOARDROOM");
        assert_eq!(r["state"], "offline", "two hours without a heartbeat");
        let tr: Vec<(String, String, String)> = r["transitions"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|t| t["signal"] == "exchange")
            .map(|t| {
                (t["from"].as_str().unwrap().into(), t["to"].as_str().unwrap().into(), t["at"].as_str().unwrap().into())
            })
            .collect();
        assert_eq!(
            tr,
            [
                ("unhealthy".into(), "healthy".into(), at(15).to_string()),
                ("healthy".into(), "unhealthy".into(), at(5).to_string()),
                ("unknown".into(), "healthy".into(), at(0).to_string())
            ],
            "transitions on the records' own times, newest first"
        );
        // A Skype for Business-only room: NotApplicable Teams sign-in is not a fault.
        let sfb = Room::new("legacy", 31);
        let mut hb = Heartbeat::healthy(&sfb, now() - SignedDuration::from_mins(2));
        hb.teams_signin = "NotApplicable".into();
        hb.signin = "Healthy".into();
        let (_, v) =
            s.call("POST", "/api/v1/ingest/events", Some(&s.admin), Some(json_batch(&[hb.event(&sfb.computer)])));
        let r = s.get(&format!("/api/v1/rooms/{}", v["rooms"][0].as_str().unwrap()), &s.admin);
        assert_eq!(r["state"], "healthy", "{r}");
        let teams = r["signals"].as_array().unwrap().iter().find(|x| x["id"] == "teams-signin").unwrap().clone();
        assert_eq!(teams["state"], "not-applicable");
        let filtered = s.get("/api/v1/rooms?state=healthy", &s.admin);
        assert_eq!(filtered["items"].as_array().unwrap().len(), 1);
        assert_eq!(s.get("/api/v1/rooms?signal=sfb-signin", &s.admin)["items"].as_array().unwrap().len(), 1);
        assert_eq!(s.get("/api/v1/rooms?name=legacy", &s.admin)["items"][0]["computer"], "MTR-LEGACY");
        assert_eq!(s.call("GET", "/api/v1/rooms?state=bogus", Some(&s.admin), None).0, 400);
    }
}

/// Push a generated fleet as its rooms would, then check each room's state and root cause
/// against `scan` on the same batches.
#[test]
fn a_fleet_is_judged_like_scan() {
    let fleet = uctriage_fixtures::fleet(now(), 6, 1, 120);
    let rules = uctriage_scan::RuleSet::builtin();
    for db in backends() {
        // A settle time well past any pause between one room's batches on a loaded machine: with
        // the harness's 3 s, a room pushed slowly got an offline incident between its batches.
        let s = Server::start_with(&db, |c| c.settle_ms = 10_000);
        let device = s.token("device", None);
        let mut ids = Vec::new();
        for room in &fleet.rooms {
            let mut id = None;
            for b in &room.batches {
                let (st, v) =
                    s.call("POST", "/api/v1/ingest/events", Some(&device), Some(("application/json", b.body.clone())));
                assert_eq!(st, 200, "{v}");
                id = v["rooms"][0].as_str().map(str::to_owned).or(id);
            }
            ids.push(id.unwrap());
        }
        // A batch sent again counts once.
        let again = &fleet.rooms[0].batches[0];
        let (_, v) =
            s.call("POST", "/api/v1/ingest/events", Some(&device), Some(("application/json", again.body.clone())));
        assert_eq!(v["accepted"], 0);
        assert!(v["duplicates"].as_u64().unwrap() > 0);
        for (room, id) in fleet.rooms.iter().zip(&ids) {
            let r = s.diagnosed(id);
            let top = r["top_finding"]["rule"].as_str();
            // What scan says on the same batches, within the same window.
            let sources: Vec<uctriage_scan::Source> = room
                .batches
                .iter()
                .enumerate()
                .map(|(i, b)| uctriage_scan::Source::Bytes {
                    name: format!("{}/batch{i}.json", room.computer),
                    bytes: Arc::from(b.body.as_slice()),
                })
                .collect();
            let report =
                uctriage_scan::scan(&sources, &rules, &uctriage_scan::ScanOptions::default(), &mut |_, _| {}).unwrap();
            let scan_top = report.findings.first().map(|f| f.rule.as_str());
            assert_eq!(top, scan_top, "{}: server and scan disagree", room.computer);
            assert_eq!(top, uctriage_fixtures::fleet_expected_rule(&room.expected), "{}", room.computer);
            let want = match room.expected {
                Expected::Healthy => "healthy",
                Expected::Offline => "offline",
                Expected::MfaRequired | Expected::LicenceRegression => "unhealthy",
            };
            assert_eq!(r["state"], want, "{}: {}", room.computer, r["signals"]);
            if room.expected == Expected::MfaRequired {
                assert!(r["top_finding"]["summary"].as_str().unwrap().contains("AADSTS50076"), "{}", r["top_finding"]);
                assert_eq!(r["computer"], room.computer);
            }
        }
        // Incidents: one fleet incident for the MFA wave naming every MFA room, a room incident
        // for the room that lost power and for the licence regression, nothing for healthy rooms.
        let mfa_rooms: Vec<&String> = fleet
            .rooms
            .iter()
            .zip(&ids)
            .filter(|(r, _)| r.expected == Expected::MfaRequired)
            .map(|(_, id)| id)
            .collect();
        let waves =
            s.wait_for("/api/v1/incidents?scope=fleet", |v| v["items"].as_array().is_some_and(|a| !a.is_empty()));
        assert_eq!(waves["items"].as_array().unwrap().len(), 1, "{waves}");
        let wave = &waves["items"][0];
        assert_eq!(
            (wave["state"].as_str(), wave["rooms"].as_u64()),
            (Some("open"), Some(mfa_rooms.len() as u64)),
            "{wave}"
        );
        assert!(wave["summary"].as_str().unwrap().contains("AADSTS50076"), "{wave}");
        let detail = s.get(&format!("/api/v1/incidents/{}", wave["id"].as_str().unwrap()), &s.admin);
        let members: std::collections::BTreeSet<&str> =
            detail["members"].as_array().unwrap().iter().filter_map(|m| m["room_id"].as_str()).collect();
        assert_eq!(members, mfa_rooms.iter().map(|s| s.as_str()).collect(), "{detail}");
        assert!(detail["finding"]["fix"].as_array().is_some_and(|f| !f.is_empty()));
        for (room, id) in fleet.rooms.iter().zip(&ids) {
            let path = format!("/api/v1/incidents?scope=room&room={id}");
            // Offline waits until the room has stopped pushing (the settle time), then a sweep.
            let mine = if room.expected == Expected::Offline {
                s.wait_for(&path, |v| v["items"].as_array().is_some_and(|a| !a.is_empty()))
            } else {
                s.get(&path, &s.admin)
            };
            let items = mine["items"].as_array().unwrap();
            match room.expected {
                Expected::Healthy => assert!(items.is_empty(), "{}: {mine}", room.computer),
                Expected::Offline => {
                    assert_eq!(items.len(), 1, "{mine}");
                    assert_eq!(
                        (items[0]["signal"].as_str(), items[0]["state"].as_str()),
                        (Some("offline"), Some("open"))
                    );
                }
                Expected::LicenceRegression => {
                    let i = items.iter().find(|i| i["signal"] == "teams-signin").expect("a Teams sign-in incident");
                    assert!(i["summary"].as_str().unwrap().contains("5.2.115.0"), "{i}");
                    let d = s.get(&format!("/api/v1/incidents/{}", i["id"].as_str().unwrap()), &s.admin);
                    assert!(d["finding"].to_string().contains("5.2.136"), "the fixed version: {d}");
                }
                Expected::MfaRequired => {
                    assert!(items.iter().all(|i| i["fleet_incident"] == wave["id"]), "{mine}");
                }
            }
        }
        // Acknowledge with a note; a viewer cannot.
        let viewer = s.token("viewer", None);
        let ack = format!("/api/v1/incidents/{}/ack", wave["id"].as_str().unwrap());
        let note = serde_json::to_vec(&json!({"note": "CA policy rolled back"})).unwrap();
        assert_eq!(s.call("POST", &ack, Some(&viewer), Some(("application/json", note.clone()))).0, 403);
        let (st, v) = s.call("POST", &ack, Some(&s.admin), Some(("application/json", note)));
        assert_eq!(st, 200, "{v}");
        assert_eq!(v["ack_note"], "CA policy rolled back");
        assert!(v["timeline"].as_array().unwrap().iter().any(|t| t["what"] == "acknowledged"));
        let metrics = s.call("GET", "/metrics", Some(&s.admin), None).1;
        assert!(
            metrics.as_str().unwrap().contains("uctriage_incidents_open{scope=\"fleet\",severity=\"critical\"} 1"),
            "{metrics}"
        );
        let unhealthy = s.get("/api/v1/rooms?state=unhealthy&limit=1", &s.admin);
        assert_eq!(unhealthy["items"].as_array().unwrap().len(), 1);
        let next = unhealthy["next_cursor"].as_str().unwrap();
        let page2 = s.get(&format!("/api/v1/rooms?state=unhealthy&limit=1&cursor={next}"), &s.admin);
        assert_ne!(page2["items"][0]["id"], unhealthy["items"][0]["id"]);
        let metrics = s.call("GET", "/metrics", Some(&s.admin), None).1;
        assert!(metrics.as_str().unwrap().contains("uctriage_rooms{state=\"offline\"} 1"), "{metrics}");
    }
}

#[test]
fn every_ingest_shape() {
    for db in backends() {
        let s = Server::start(&db);
        let ingest = "/api/v1/ingest/events";
        // Windows PowerShell 5.1: UTF-16 with a BOM and /Date(ms)/ times.
        let text = String::from_utf8(fixture("event-json/get-winevent.json")).unwrap();
        let mut utf16 = vec![0xFF, 0xFE];
        utf16.extend(text.encode_utf16().flat_map(u16::to_le_bytes));
        let (st, v) = s.call("POST", ingest, Some(&s.admin), Some(("application/json; charset=utf-16", utf16)));
        assert_eq!(st, 200, "{v}");
        let first = v["accepted"].as_u64().unwrap();
        assert!(first > 0);
        // The same records as evidence lines (what push sends) are the same records.
        let (_, records) = uctriage_sources_read(text.as_bytes());
        let (st, v) = s.call("POST", ingest, Some(&s.admin), Some(("application/x-ndjson", lines_of(&records))));
        assert_eq!((st, v["accepted"].as_u64(), v["duplicates"].as_u64()), (200, Some(0), Some(first)), "{v}");
        // A cleared log starts its record ids again: same ids, later times, new records.
        let later = text.replace("\\/Date(1752", "\\/Date(1753");
        assert_ne!(later, text);
        let (_, v) = s.call("POST", ingest, Some(&s.admin), Some(("application/json", later.into_bytes())));
        assert_eq!(v["accepted"].as_u64(), Some(first), "{v}");
        // PowerShell 7, Event Viewer XML.
        for (ct, file) in
            [("application/json", "event-json/single-ps7.json"), ("application/xml", "event-xml/skype-room-system.xml")]
        {
            let (st, v) = s.call("POST", ingest, Some(&s.admin), Some((ct, fixture(file))));
            assert_eq!(st, 200, "{file}: {v}");
            assert!(v["accepted"].as_u64().unwrap() > 0, "{file}: {v}");
        }
        // Our own evidence lines.
        let room = Room::new("huddle", 40);
        let batch = get_winevent_json(&[Heartbeat::healthy(&room, now())
            .exchange("80131500 : AADSTS50126")
            .event(&room.computer)]);
        let (_, records) = uctriage_sources_read(&batch);
        let (st, v) = s.call("POST", ingest, Some(&s.admin), Some(("application/x-ndjson", lines_of(&records))));
        assert_eq!(st, 200, "{v}");
        assert_eq!(v["accepted"], 1);
        let r = s.get(&format!("/api/v1/rooms/{}", v["rooms"][0].as_str().unwrap()), &s.admin);
        assert_eq!(r["computer"], "MTR-HUDDLE");
        // A bundle, raw and as a form.
        let zip = uctriage_fixtures::scenario("rooms-mfa").unwrap().build().to_zip_bytes().unwrap();
        let (st, v) =
            s.call("POST", "/api/v1/uploads?name=MTR-Logs.zip", Some(&s.admin), Some(("application/zip", zip.clone())));
        assert_eq!(st, 202, "{v}");
        let raw = s.report(v["id"].as_str().unwrap());
        assert_eq!(raw["status"], "done", "{raw}");
        let scanned = uctriage_scan::scan(
            &[uctriage_scan::Source::Bytes { name: "MTR-Logs.zip".into(), bytes: Arc::from(zip.as_slice()) }],
            &uctriage_scan::RuleSet::builtin(),
            &uctriage_scan::ScanOptions::default(),
            &mut |_, _| {},
        )
        .unwrap();
        assert_eq!(raw["report"]["findings"][0]["rule"].as_str(), Some(scanned.findings[0].rule.as_str()));
        let boundary = "uctriageboundary";
        let mut form = format!("--{boundary}\r\nContent-Disposition: form-data; name=\"room\"\r\n\r\nMTR-UPLOADED\r\n--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"logs.zip\"\r\nContent-Type: application/zip\r\n\r\n").into_bytes();
        form.extend(&zip);
        form.extend(format!("\r\n--{boundary}--\r\n").as_bytes());
        let ct = format!("multipart/form-data; boundary={boundary}");
        let (st, v) = s.call("POST", "/api/v1/uploads", Some(&s.admin), Some((ct.as_str(), form)));
        assert_eq!(st, 202, "{v}");
        assert_eq!(v["name"], "logs.zip");
        let room_id = v["room_id"].as_str().unwrap().to_owned();
        let done = s.report(v["id"].as_str().unwrap());
        assert_eq!(done["status"], "done");
        let r = s.get(&format!("/api/v1/rooms/{room_id}"), &s.admin);
        assert_eq!(r["reports"].as_array().unwrap().len(), 1, "{r}");
        // Its heartbeats fed the room's history.
        assert!(
            !r["signals"].as_array().unwrap().iter().filter(|x| x["id"] == "exchange").collect::<Vec<_>>().is_empty(),
            "{r}"
        );
    }
}

fn lines_of(records: &[uctriage_scan::Evidence]) -> Vec<u8> {
    records
        .iter()
        .flat_map(|e| {
            let mut l = serde_json::to_vec(e).unwrap();
            l.push(b'\n');
            l
        })
        .collect()
}

fn uctriage_sources_read(bytes: &[u8]) -> (u64, Vec<uctriage_scan::Evidence>) {
    let mut out = Vec::new();
    let summary = uctriage_scan::read_records(
        &[uctriage_scan::Source::Bytes { name: "room.json".into(), bytes: Arc::from(bytes) }],
        &uctriage_scan::ReadOptions::default(),
        &mut |_, mut r| out.append(&mut r),
    );
    (summary.records, out)
}

#[test]
fn bad_input_is_refused_whole() {
    for db in backends() {
        let s = Server::start_with(&db, |c| c.max_batch = 64 * 1024);
        let ingest = "/api/v1/ingest/events";
        let a = Some(s.admin.as_str());
        let cases: Vec<(&str, Vec<u8>, u16)> = vec![
            ("application/json", b"[{\"Id\": 2000, \"LogName\": \"Skype Room System\"".to_vec(), 422),
            ("application/json", b"not json at all".to_vec(), 422),
            ("application/xml", b"<Events><Event><System>".to_vec(), 422),
            ("application/x-ndjson", b"{\"path\":1}\n".to_vec(), 422),
            ("text/plain", b"hello".to_vec(), 415),
            ("application/json", vec![b' '; 200 * 1024], 413),
        ];
        for (ct, body, want) in cases {
            let (st, v) = s.call("POST", ingest, a, Some((ct, body)));
            assert_eq!(st, want, "{ct}: {v}");
            assert!(v["detail"].as_str().is_some_and(|d| !d.is_empty()), "{v}");
        }
        assert_eq!(
            s.get("/api/v1/rooms", &s.admin)["items"].as_array().unwrap().len(),
            0,
            "nothing partial was stored"
        );
        // A hostile zip: every entry encrypted.
        let mut zip = Vec::new();
        {
            let mut w = zip::ZipWriter::new(std::io::Cursor::new(&mut zip));
            let opts = zip::write::SimpleFileOptions::default();
            w.start_file("Logs/a.txt", opts).unwrap();
            std::io::Write::write_all(&mut w, b"hello").unwrap();
            w.finish().unwrap();
        }
        // Set the encryption bit in the local and central headers.
        for sig in [&b"PK\x03\x04"[..], &b"PK\x01\x02"[..]] {
            let at = zip.windows(4).position(|w| w == sig).unwrap();
            let flag = at + if sig[2] == 3 { 6 } else { 8 };
            zip[flag] |= 1;
        }
        let (st, v) = s.call("POST", "/api/v1/uploads", a, Some(("application/zip", zip)));
        assert_eq!(st, 422, "{v}");
        assert!(v["detail"].as_str().unwrap().contains("encrypted"), "{v}");
        assert_eq!(s.call("POST", "/api/v1/uploads", a, Some(("application/zip", Vec::new()))).0, 400);
        // Text from a log is data, never markup: it comes back as it was, inside JSON.
        let room = Room::new("lab", 50);
        let mut hb = Heartbeat::healthy(&room, now());
        hb.display_name = "<script>alert(1)</script>".into();
        let (st, v) = s.call("POST", ingest, a, Some(json_batch(&[hb.event(&room.computer)])));
        assert_eq!(st, 200, "{v}");
        let r = s.get(&format!("/api/v1/rooms/{}", v["rooms"][0].as_str().unwrap()), &s.admin);
        assert_eq!(r["display_name"], "<script>alert(1)</script>");
        // Axum's own refusals are problem documents too.
        let (st, _) = s.call(
            "PATCH",
            &format!("/api/v1/rooms/{}", v["rooms"][0].as_str().unwrap()),
            a,
            Some(("application/json", b"{".to_vec())),
        );
        assert_eq!(st, 400);
        assert_eq!(s.call("GET", "/api/v1/nowhere", a, None).0, 404);
        assert_eq!(s.call("DELETE", "/api/v1/rooms", a, None).0, 405);
    }
}

#[test]
fn tls_serves_the_api_and_plain_http_is_refused_on_it() {
    let certs = tempfile::tempdir().unwrap();
    let ck = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
    let (cert, key) = (certs.path().join("server.pem"), certs.path().join("server.key"));
    std::fs::write(&cert, ck.cert.pem()).unwrap();
    std::fs::write(&key, ck.signing_key.serialize_pem()).unwrap();
    let s = Server::start_with(&crate::Db::Sqlite, |c| {
        c.tls_cert = Some(cert.clone());
        c.tls_key = Some(key.clone());
    });
    let port = s.base.rsplit(':').next().unwrap().to_owned();
    let roots = ureq::tls::RootCerts::new_with_certs(&[ureq::tls::Certificate::from_der(ck.cert.der()).to_owned()]);
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .max_redirects(0)
        .tls_config(ureq::tls::TlsConfig::builder().root_certs(roots).build())
        .build()
        .into();
    let url = format!("https://localhost:{port}");
    let mut res = agent
        .get(&format!("{url}/api/v1/rooms"))
        .header("Authorization", &format!("Bearer {}", s.admin))
        .call()
        .unwrap();
    assert_eq!(res.status().as_u16(), 200);
    assert!(res.body_mut().read_to_string().unwrap().contains("\"items\""));
    // The dashboard's cookie is Secure under TLS.
    let res = agent
        .post(&format!("{url}/signin"))
        .header("Content-Type", "application/x-www-form-urlencoded")
        .send(format!("token={}", s.admin))
        .unwrap();
    let cookie = res.headers().get("set-cookie").map(|v| v.to_str().unwrap().to_owned()).unwrap_or_default();
    assert!(cookie.contains("; Secure") && cookie.contains("HttpOnly"), "{cookie}");
    // A client that does not trust the certificate is refused, and plain HTTP gets no answer.
    let strict: ureq::Agent = ureq::Agent::config_builder().http_status_as_error(false).build().into();
    assert!(strict.get(&format!("{url}/healthz")).call().is_err());
    let plain: ureq::Agent =
        ureq::Agent::config_builder().timeout_global(Some(std::time::Duration::from_secs(5))).build().into();
    assert!(plain.get(&format!("http://127.0.0.1:{port}/healthz")).call().is_err());
}

#[test]
fn a_room_without_a_zone_takes_its_days_from_the_offset_of_its_records() {
    for db in backends() {
        let s = Server::start(&db);
        let room = Room::new("annex", 61);
        // PowerShell 7 on a machine two hours east of UTC: 09:50Z written as 11:50+02:00.
        let at = now() - SignedDuration::from_mins(10);
        let utc = get_winevent_json(&[Heartbeat::healthy(&room, at).event(&room.computer)]);
        let local = String::from_utf8(utc)
            .unwrap()
            .replace("2025-07-15T09:50:00.0000000+00:00", "2025-07-15T11:50:00.0000000+02:00");
        assert!(local.contains("+02:00"), "{local}");
        let (st, v) = s.call(
            "POST",
            "/api/v1/ingest/events",
            Some(&s.admin),
            Some(("application/json", local.clone().into_bytes())),
        );
        assert_eq!(st, 200, "{v}");
        let id = v["rooms"][0].as_str().unwrap().to_owned();
        let r = s.get(&format!("/api/v1/rooms/{id}"), &s.admin);
        assert_eq!(r["last_heartbeat"], "2025-07-15T09:50:00Z", "the offset is read, not dropped: {r}");
        let zone = |s: &Server| {
            let h = s.get(&format!("/api/v1/history?days=1&room={id}"), &s.admin);
            (
                h["rooms"][0]["zone"].as_str().unwrap().to_owned(),
                h["rooms"][0]["zone_source"].as_str().unwrap().to_owned(),
            )
        };
        assert_eq!(zone(&s), ("UTC+02:00".to_owned(), "record-offset".to_owned()));
        // A zone an admin (or push) names wins, and a later offset does not replace it.
        let (st, _) = s.call(
            "PATCH",
            &format!("/api/v1/rooms/{id}"),
            Some(&s.admin),
            Some(("application/json", br#"{"timezone": "Europe/Berlin"}"#.to_vec())),
        );
        assert_eq!(st, 200);
        let later = local.replace("11:50:00.0000000+02:00", "11:55:00.0000000+02:00");
        let (st, _) =
            s.call("POST", "/api/v1/ingest/events", Some(&s.admin), Some(("application/json", later.into_bytes())));
        assert_eq!(st, 200);
        assert_eq!(zone(&s), ("Europe/Berlin".to_owned(), "room".to_owned()));
    }
}
