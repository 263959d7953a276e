//! The fleet commands against a real `uctriage serve` process on a free loopback port.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use jiff::{SignedDuration, Timestamp};
use uctriage_fixtures::fleet::get_winevent_json;
use uctriage_fixtures::rooms::{Heartbeat, Room};

use crate::run;

/// A `uctriage serve` process; killed when dropped.
struct Served {
    child: Child,
    url: String,
    token_file: PathBuf,
    data: PathBuf,
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn serve(dir: &Path, listen: &str) -> Served {
    serve_limited(dir, listen, "0")
}

/// The server with a per-token rate limit of `rate` requests a second (0: none).
fn serve_limited(dir: &Path, listen: &str, rate: &str) -> Served {
    let data = dir.join("data");
    let token_file = dir.join("admin.token");
    let sites = dir.join("sites.toml");
    std::fs::write(&sites, "[[site]]\nname = \"Lab\"\nsubnets = [\"192.0.2.0/24\"]\n").unwrap();
    let mut child = Command::new(assert_cmd::cargo::cargo_bin("uctriage"))
        .args(["serve", "--listen", listen, "--rate-limit", rate, "--data"])
        .arg(&data)
        .arg("--sites")
        .arg(&sites)
        .arg("--admin-token-file")
        .arg(&token_file)
        .env("UCTRIAGE_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("the server starts");
    let stdout = child.stdout.take().unwrap();
    let mut lines = BufReader::new(stdout).lines();
    let url = loop {
        let line = lines.next().expect("the server says where it listens").unwrap();
        if let Some(rest) = line.strip_prefix("listening on ") {
            break rest.split_whitespace().next().unwrap().to_owned();
        }
    };
    // Keep draining stdout so the server never blocks on a full pipe.
    std::thread::spawn(move || for _ in lines {});
    Served { child, url, token_file, data }
}

fn heartbeats(room: &Room, from: Timestamp, n: i64) -> Vec<u8> {
    let events: Vec<_> = (0..n)
        .map(|i| Heartbeat::healthy(room, from + SignedDuration::from_mins(5 * i)).event(&room.computer))
        .collect();
    get_winevent_json(&events)
}

fn push(s: &Served, file: &Path, state: &Path, extra: &[&str]) -> (i32, String, String) {
    let mut args = vec![
        "push",
        file.to_str().unwrap(),
        "--server",
        &s.url,
        "--token-file",
        s.token_file.to_str().unwrap(),
        "--state",
        state.to_str().unwrap(),
        "--timezone",
        "W. Europe Standard Time",
    ];
    args.extend(extra);
    run(&args)
}

#[test]
fn push_sends_only_new_records_and_retries_until_the_server_is_back() {
    let dir = tempfile::tempdir().unwrap();
    let server = serve(dir.path(), "127.0.0.1:0");
    let room = Room::new("atrium", 60);
    let t0 = Timestamp::now() - SignedDuration::from_hours(1);
    let export = dir.path().join("srs.json");
    let state = dir.path().join("push-state.json");
    std::fs::write(&export, heartbeats(&room, t0, 3)).unwrap();
    let (code, out, err) = push(&server, &export, &state, &[]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("sent 3 of 3"), "{out}");
    let (code, out, _) = push(&server, &export, &state, &[]);
    assert_eq!((code, out.contains("sent 0 of 3")), (0, true), "{out}");
    // The export grows: only the two new heartbeats go.
    std::fs::write(&export, heartbeats(&room, t0, 5)).unwrap();
    let (_, out, _) = push(&server, &export, &state, &[]);
    assert!(out.contains("sent 2 of 5"), "{out}");
    // The state is lost: everything goes again and the server counts it once.
    std::fs::remove_file(&state).unwrap();
    let (_, out, _) = push(&server, &export, &state, &[]);
    assert!(out.contains("sent 5 of 5 records (5 the server had already)"), "{out}");

    let token = server.token_file.to_str().unwrap().to_owned();
    let (code, out, err) =
        run(&["fleet", "rooms", "--server", &server.url, "--token-file", &token, "--format", "json"]);
    assert_eq!(code, 0, "{err}");
    let rooms: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(rooms[0]["computer"], "MTR-ATRIUM");
    assert_eq!(rooms[0]["site"], "Lab", "the site from the subnet map");
    let id = rooms[0]["id"].as_str().unwrap().to_owned();
    let (_, out, _) = run(&["fleet", "room", &id, "--server", &server.url, "--token-file", &token, "--format", "json"]);
    let detail: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(detail["timezone"], "W. Europe Standard Time");

    // A wrong token is refused at once, with the reason.
    let bad = dir.path().join("bad.token");
    std::fs::write(&bad, format!("uct_tk000000000000_{}", "0".repeat(64))).unwrap();
    let (code, _, err) = run(&[
        "push",
        export.to_str().unwrap(),
        "--server",
        &server.url,
        "--token-file",
        bad.to_str().unwrap(),
        "--state",
        dir.path().join("other.json").to_str().unwrap(),
    ]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("401"), "{err}");

    // The server goes away; push keeps trying and delivers once it is back on the same data.
    let url = server.url.clone();
    let listen = url.trim_start_matches("http://").to_owned();
    let data = server.data.clone();
    drop(server);
    std::fs::write(&export, heartbeats(&room, t0, 8)).unwrap();
    let cmd = {
        let export = export.clone();
        let state = state.clone();
        let token = token.clone();
        let url = url.clone();
        std::thread::spawn(move || {
            run(&[
                "push",
                export.to_str().unwrap(),
                "--server",
                &url,
                "--token-file",
                &token,
                "--state",
                state.to_str().unwrap(),
                "--retries",
                "20",
                "--backoff",
                "0.3",
            ])
        })
    };
    std::thread::sleep(Duration::from_millis(1500));
    let again = serve(dir.path(), &listen);
    assert_eq!(again.data, data);
    let (code, out, err) = cmd.join().unwrap();
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("sent 3 of 8"), "{out}");
    assert!(err.contains("trying again"), "{err}");

    // Nothing at all to reach: exit 1 after the retries.
    drop(again);
    std::fs::write(&export, heartbeats(&room, t0, 9)).unwrap();
    let (code, _, err) = run(&[
        "push",
        export.to_str().unwrap(),
        "--server",
        &url,
        "--token-file",
        &token,
        "--state",
        state.to_str().unwrap(),
        "--retries",
        "2",
        "--backoff",
        "0.1",
    ]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("gave up after 2 attempts"), "{err}");
}

#[test]
fn seed_then_query_and_manage_tokens() {
    let dir = tempfile::tempdir().unwrap();
    // A rate limit the seed's 48 batches exceed (5 a second, bursts of 20): it waits on 429.
    let server = serve_limited(dir.path(), "127.0.0.1:0", "5");
    let token = server.token_file.to_str().unwrap();
    let conn = ["--server", server.url.as_str(), "--token-file", token];
    let (code, out, err) =
        run(&[&["fleet", "seed", "--rooms", "8", "--days", "1", "--batch-minutes", "240"][..], &conn].concat());
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("8 rooms:") && out.contains("multi-factor"), "{out}");
    assert!(
        out.contains("open incidents:\n  fleet  The room's resource account is being asked for multi-factor"),
        "{out}"
    );
    let (_, out, _) = run(&[&["fleet", "incidents", "--open", "--fleet", "--format", "json"][..], &conn].concat());
    let waves: serde_json::Value = serde_json::from_str(&out).unwrap();
    let wave = waves[0]["id"].as_str().unwrap().to_owned();
    let (code, out, err) = run(&[&["fleet", "ack", &wave, "--note", "policy rolled back"][..], &conn].concat());
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("acknowledged") && out.contains("policy rolled back") && out.contains("rooms:"), "{out}");
    let (_, out, _) = run(&[&["fleet", "rooms", "--state", "offline"][..], &conn].concat());
    assert_eq!(out.lines().count(), 2, "a header and the room that lost power: {out}");
    let (code, out, _) =
        run(&[&["fleet", "token", "create", "--role", "viewer", "--name", "help desk"][..], &conn].concat());
    assert_eq!(code, 0);
    let viewer = out.trim().to_owned();
    assert!(viewer.starts_with("uct_"));
    let (_, out, _) = run(&[&["fleet", "token", "list"][..], &conn].concat());
    assert!(out.contains("help desk") && !out.contains(&viewer[20..]), "{out}");
    let id = out.lines().find(|l| l.contains("help desk")).unwrap().split_whitespace().next().unwrap().to_owned();
    let (code, _, _) = run(&[&["fleet", "token", "revoke", &id][..], &conn].concat());
    assert_eq!(code, 0);
    let (code, _, err) = run(&["fleet", "rooms", "--server", &server.url, "--token", &viewer]);
    assert_eq!(code, 2, "a revoked token: {err}");
    assert!(err.contains("visible") && err.contains("401"), "{err}");
    let (_, out, _) = run(&[&["fleet", "audit"][..], &conn].concat());
    assert!(out.contains("token.revoke"), "{out}");
    // Webhooks: a standard one gets a secret, printed once; a test to nowhere fails.
    let (code, out, err) =
        run(&[&["fleet", "webhook", "add", "--kind", "standard", "http://127.0.0.1:9/hook"][..], &conn].concat());
    assert_eq!(code, 0, "{err}");
    let secret = out.lines().last().unwrap().to_owned();
    assert!(secret.starts_with("whsec_"), "{out}");
    let (_, out, _) = run(&[&["fleet", "webhook", "list"][..], &conn].concat());
    assert!(out.contains("standard") && !out.contains(&secret), "{out}");
    let hook = out.lines().nth(1).unwrap().split_whitespace().next().unwrap().to_owned();
    let (code, out, _) = run(&[&["fleet", "webhook", "test", &hook][..], &conn].concat());
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("cannot reach"), "{out}");
    let (code, _, _) = run(&[&["fleet", "webhook", "remove", &hook][..], &conn].concat());
    assert_eq!(code, 0);
    // E-mail and syslog destinations under `fleet alert`; the password comes from the
    // environment and is never printed back.
    let smtp = "smtp://alerts@relay.invalid?from=uct@corp.example&to=rooms@corp.example";
    let (code, _, err) =
        run(&[&["fleet", "alert", "add", "--kind", "smtp", smtp, "--password-env", "UCTRIAGE_NO_SUCH_VAR"][..], &conn]
            .concat());
    assert_eq!(code, 2, "an unset variable is a usage error: {err}");
    assert!(err.contains("UCTRIAGE_NO_SUCH_VAR"), "{err}");
    let (code, out, err) =
        run(&[&["fleet", "alert", "add", "--kind", "smtp", smtp, "--password-env", "NO_COLOR"][..], &conn].concat());
    assert_eq!(code, 0, "{err}");
    assert!(out.starts_with("added smtp destination"), "{out}");
    let (code, _, err) =
        run(&[&["fleet", "alert", "add", "--kind", "syslog", "tcp://127.0.0.1:6514"][..], &conn].concat());
    assert_eq!(code, 0, "{err}");
    let (_, out, _) = run(&[&["fleet", "alert", "list"][..], &conn].concat());
    assert!(out.contains("smtp") && out.contains("syslog") && out.contains("smtp://alerts@relay.invalid…"), "{out}");
    // Suppress a room for two hours, then lift it.
    let (_, out, _) = run(&[&["fleet", "rooms", "--format", "json"][..], &conn].concat());
    let first: serde_json::Value = serde_json::from_str(&out).unwrap();
    let room = first[0]["id"].as_str().unwrap().to_owned();
    let (code, out, err) =
        run(&[&["fleet", "suppress", &room, "--until", "2h", "--reason", "firmware"][..], &conn].concat());
    assert_eq!(code, 0, "{err}");
    let sid = out.trim().rsplit('(').next().unwrap().trim_end_matches(')').to_owned();
    let (code, out, _) = run(&[&["fleet", "unsuppress", &sid][..], &conn].concat());
    assert_eq!(code, 0, "{out}");
    // A nightly maintenance window.
    let (code, out, err) =
        run(&[
            &[
                "fleet", "window", "add", "--start", "23:30", "--end", "01:00", "--days", "mon,tue", "--reason",
                "updates",
            ][..],
            &conn,
        ]
        .concat());
    assert_eq!(code, 0, "{err}");
    let wid = out.trim().rsplit(' ').next().unwrap().to_owned();
    let (_, out, _) = run(&[&["fleet", "window", "list"][..], &conn].concat());
    assert!(out.contains("23:30-01:00") && out.contains("mon,tue"), "{out}");
    let (code, _, _) = run(&[&["fleet", "window", "remove", &wid][..], &conn].concat());
    assert_eq!(code, 0);
    // Rename, site and tags, retire; merge two ids that are one device.
    let (_, out, _) = run(&[&["fleet", "rooms", "--format", "json"][..], &conn].concat());
    let rooms: serde_json::Value = serde_json::from_str(&out).unwrap();
    let (a, b) = (rooms[0]["id"].as_str().unwrap(), rooms[1]["id"].as_str().unwrap());
    let (code, out, err) =
        run(&[&["fleet", "set", a, "--name", "Board room", "--site", "HQ", "--tag", "4k", "--tag", "vip"][..], &conn]
            .concat());
    assert_eq!(code, 0, "{err}");
    assert!(out.starts_with("Board room ("), "{out}");
    let (code, out, _) = run(&[&["fleet", "merge", b, a][..], &conn].concat());
    assert_eq!(code, 0);
    assert!(out.contains(&format!("merged {b} into {a}")), "{out}");
    let (code, _, err) = run(&[&["fleet", "set", "rm-none", "--retire"][..], &conn].concat());
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("404"), "{err}");
    // Backup of the SQLite store, then the admin token reset (the old one stops working).
    let backup = dir.path().join("backup.db");
    let data = server.data.to_str().unwrap().to_owned();
    let (code, _, err) = run(&["fleet", "backup", backup.to_str().unwrap(), "--data", &data]);
    assert_eq!(code, 0, "{err}");
    assert!(std::fs::metadata(&backup).unwrap().len() > 0);
    let (code, out, _) = run(&["serve", "--reset-admin-token", "--data", &data]);
    assert_eq!(code, 0);
    let fresh = out.lines().last().unwrap().to_owned();
    let (code, _, _) = run(&[&["fleet", "rooms"][..], &conn].concat());
    assert_eq!(code, 2, "the old admin token no longer works");
    let (code, _, err) = run(&["fleet", "rooms", "--server", &server.url, "--token", &fresh]);
    assert_eq!(code, 0, "{fresh}: {err}");
    // Usage errors name what is missing.
    let (code, _, err) = run(&["fleet", "rooms", "--token-file", token]);
    assert_eq!(code, 2);
    assert!(err.contains("UCTRIAGE_SERVER"), "{err}");
    let (code, _, err) = run(&["serve", "--listen", "0.0.0.0:0", "--data", &data]);
    assert_eq!(code, 2);
    assert!(err.contains("--insecure-http"), "{err}");
}
