//! `uctriage fleet …`: the fleet server's tokens, rooms, audit, a generated fleet, backups.

use std::fmt::Write as _;
use std::io::Write;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use uctriage_evidence::{counted, counted_as};

use crate::args::{FleetArgs, FleetCommand, TextOrJson, TokenCommand, WebhookCommand, WindowCommand};
use crate::client::{answer_error, Client};
use crate::{CliError, Exit};

pub fn run(args: &FleetArgs, out: &mut dyn Write) -> Result<Exit, CliError> {
    let mut err = std::io::stderr();
    match &args.command {
        FleetCommand::Token(t) => {
            let c = Client::from_args(&t.server, &mut err)?;
            match &t.command {
                TokenCommand::Create { role, room, name } => {
                    let body = json!({"role": role, "room": room, "name": name}).to_string();
                    let v = c.expect("POST", "/api/v1/tokens", Some(("application/json", body.as_bytes())))?.json();
                    writeln!(out, "{}", v["token"].as_str().unwrap_or_default())?;
                    let _ = writeln!(
                        err,
                        "created {} token {} (shown once; store it now)",
                        v["role"].as_str().unwrap_or_default(),
                        v["id"].as_str().unwrap_or_default()
                    );
                }
                TokenCommand::List => {
                    let v = c.expect("GET", "/api/v1/tokens", None)?.json();
                    writeln!(out, "{:<16} {:<8} {:<16} {:<22} NAME", "ID", "ROLE", "ROOM", "STATE")?;
                    for t in v["items"].as_array().into_iter().flatten() {
                        let state = if t["revoked_ms"].is_null() { "active".to_owned() } else { "revoked".to_owned() };
                        writeln!(
                            out,
                            "{:<16} {:<8} {:<16} {:<22} {}",
                            s(&t["id"]),
                            s(&t["role"]),
                            s(&t["room_id"]),
                            state,
                            s(&t["name"])
                        )?;
                    }
                }
                TokenCommand::Revoke { id } => {
                    c.expect("DELETE", &format!("/api/v1/tokens/{}", path_part(id)), None)?;
                    writeln!(out, "revoked {id}")?;
                }
            }
            Ok(Exit::Ok)
        }
        FleetCommand::Rooms(a) => {
            let c = Client::from_args(&a.server, &mut err)?;
            let mut query = String::new();
            for (k, v) in [("state", &a.state), ("signal", &a.signal), ("version", &a.app_version), ("name", &a.name)] {
                if let Some(v) = v {
                    let _ = write!(query, "&{k}={}", path_part(v));
                }
            }
            let rooms = all_rooms(&c, &query)?;
            if a.format == TextOrJson::Json {
                super::write_json(out, &rooms)?;
                return Ok(Exit::Ok);
            }
            writeln!(out, "{:<16} {:<28} {:<10} {:<11} TOP FINDING", "ID", "NAME", "STATE", "APP")?;
            for r in &rooms {
                let top = r["top_finding"]["summary"].as_str().unwrap_or("");
                writeln!(
                    out,
                    "{:<16} {:<28} {:<10} {:<11} {top}",
                    s(&r["id"]),
                    s(&r["name"]),
                    s(&r["state"]),
                    s(&r["app_version"])
                )?;
            }
            Ok(Exit::Ok)
        }
        FleetCommand::Room(a) => {
            let c = Client::from_args(&a.server, &mut err)?;
            let r = c.expect("GET", &format!("/api/v1/rooms/{}", path_part(&a.id)), None)?.json();
            if a.format == TextOrJson::Json {
                super::write_json(out, &r)?;
                return Ok(Exit::Ok);
            }
            room_text(&r, out)?;
            Ok(Exit::Ok)
        }
        FleetCommand::Set(a) => {
            let c = Client::from_args(&a.server, &mut err)?;
            let retired = if a.retire {
                Some(true)
            } else if a.unretire {
                Some(false)
            } else {
                None
            };
            let body = json!({"name": a.name, "site": a.site, "tags": a.tags, "retired": retired}).to_string();
            let r = c.expect(
                "PATCH",
                &format!("/api/v1/rooms/{}", path_part(&a.id)),
                Some(("application/json", body.as_bytes())),
            )?;
            room_text(&r.json(), out)?;
            Ok(Exit::Ok)
        }
        FleetCommand::Merge(a) => {
            let c = Client::from_args(&a.server, &mut err)?;
            let body = json!({"into": a.into}).to_string();
            let r = c.expect(
                "POST",
                &format!("/api/v1/rooms/{}/merge", path_part(&a.from)),
                Some(("application/json", body.as_bytes())),
            )?;
            writeln!(out, "merged {} into {}", a.from, a.into)?;
            room_text(&r.json(), out)?;
            Ok(Exit::Ok)
        }
        FleetCommand::Audit(a) => {
            let c = Client::from_args(&a.server, &mut err)?;
            let v = c.expect("GET", &format!("/api/v1/audit?limit={}", a.limit.clamp(1, 1000)), None)?.json();
            for e in v["items"].as_array().into_iter().flatten() {
                writeln!(
                    out,
                    "{}  {:<14} {:<18} {:<18} {}",
                    s(&e["at"]),
                    s(&e["actor"]),
                    s(&e["action"]),
                    s(&e["target"]),
                    s(&e["detail"])
                )?;
            }
            Ok(Exit::Ok)
        }
        FleetCommand::Incidents(a) => {
            let c = Client::from_args(&a.server, &mut err)?;
            let mut path = format!("/api/v1/incidents?limit={}", a.limit.clamp(1, 1000));
            if a.open {
                path.push_str("&state=open");
            }
            if a.fleet {
                path.push_str("&scope=fleet");
            }
            if let Some(r) = &a.room {
                let _ = write!(path, "&room={}", path_part(r));
            }
            let v = c.expect("GET", &path, None)?.json();
            if a.format == TextOrJson::Json {
                super::write_json(out, &v["items"])?;
                return Ok(Exit::Ok);
            }
            writeln!(
                out,
                "{:<20} {:<9} {:<10} {:<22} {:<20} SUMMARY",
                "ID", "STATE", "SEVERITY", "OPENED", "ROOM / SIGNAL"
            )?;
            for i in v["items"].as_array().into_iter().flatten() {
                let what = if i["scope"] == "fleet" {
                    format!("fleet: {}", counted(i["rooms"].as_u64().unwrap_or(0), "room"))
                } else {
                    format!("{} {}", s(&i["room_name"]), s(&i["signal"]))
                };
                writeln!(
                    out,
                    "{:<20} {:<9} {:<10} {:<22} {:<20} {}",
                    s(&i["id"]),
                    s(&i["state"]),
                    s(&i["severity"]),
                    s(&i["opened"]),
                    what,
                    s(&i["summary"])
                )?;
            }
            Ok(Exit::Ok)
        }
        FleetCommand::Incident(a) => {
            let c = Client::from_args(&a.server, &mut err)?;
            let v = c.expect("GET", &format!("/api/v1/incidents/{}", path_part(&a.id)), None)?.json();
            if a.format == TextOrJson::Json {
                super::write_json(out, &v)?;
            } else {
                incident_text(&v, out)?;
            }
            Ok(Exit::Ok)
        }
        FleetCommand::Ack(a) => {
            let c = Client::from_args(&a.server, &mut err)?;
            let body = json!({"note": a.note}).to_string();
            let v = c
                .expect(
                    "POST",
                    &format!("/api/v1/incidents/{}/ack", path_part(&a.id)),
                    Some(("application/json", body.as_bytes())),
                )?
                .json();
            incident_text(&v, out)?;
            Ok(Exit::Ok)
        }
        FleetCommand::Suppress(a) => {
            let c = Client::from_args(&a.server, &mut err)?;
            let body = json!({"signal": a.signal, "until": a.until, "reason": a.reason}).to_string();
            let v = c
                .expect(
                    "POST",
                    &format!("/api/v1/rooms/{}/suppressions", path_part(&a.room)),
                    Some(("application/json", body.as_bytes())),
                )?
                .json();
            let until = v["until_ms"]
                .as_i64()
                .and_then(|ms| jiff::Timestamp::from_millisecond(ms).ok())
                .map(|t| t.to_string())
                .unwrap_or_default();
            writeln!(
                out,
                "suppressed {} until {until} ({})",
                if a.signal.is_some() { s(&v["signal"]) } else { a.room.clone() },
                s(&v["id"])
            )?;
            Ok(Exit::Ok)
        }
        FleetCommand::Unsuppress(a) => {
            let c = Client::from_args(&a.server, &mut err)?;
            c.expect("DELETE", &format!("/api/v1/suppressions/{}", path_part(&a.id)), None)?;
            writeln!(out, "lifted {}", a.id)?;
            Ok(Exit::Ok)
        }
        FleetCommand::Window(w) => {
            let c = Client::from_args(&w.server, &mut err)?;
            match &w.command {
                WindowCommand::Add { start, end, days, room, site, reason } => {
                    let body =
                        json!({"start": start, "end": end, "days": days, "room": room, "site": site, "reason": reason})
                            .to_string();
                    let v = c.expect("POST", "/api/v1/windows", Some(("application/json", body.as_bytes())))?.json();
                    writeln!(out, "added window {}", s(&v["id"]))?;
                }
                WindowCommand::List => {
                    let v = c.expect("GET", "/api/v1/windows", None)?.json();
                    writeln!(
                        out,
                        "{:<16} {:<11} {:<28} {:<16} {:<12} REASON",
                        "ID", "LOCAL TIME", "DAYS", "ROOM", "SITE"
                    )?;
                    for x in v["items"].as_array().into_iter().flatten() {
                        let hm =
                            |m: &Value| m.as_i64().map(|m| format!("{:02}:{:02}", m / 60, m % 60)).unwrap_or_default();
                        let days = if s(&x["days"]).is_empty() { "every day".to_owned() } else { s(&x["days"]) };
                        writeln!(
                            out,
                            "{:<16} {:<11} {:<28} {:<16} {:<12} {}",
                            s(&x["id"]),
                            format!("{}-{}", hm(&x["start_min"]), hm(&x["end_min"])),
                            days,
                            s(&x["room_id"]),
                            s(&x["site"]),
                            s(&x["reason"])
                        )?;
                    }
                }
                WindowCommand::Remove { id } => {
                    c.expect("DELETE", &format!("/api/v1/windows/{}", path_part(id)), None)?;
                    writeln!(out, "removed {id}")?;
                }
            }
            Ok(Exit::Ok)
        }
        FleetCommand::Webhook(w) | FleetCommand::Alert(w) => {
            let c = Client::from_args(&w.server, &mut err)?;
            match &w.command {
                WebhookCommand::Add { kind, url, secret, password_env, name, site, min_severity } => {
                    let secret = match (secret, password_env) {
                        (Some(_), Some(_)) => return Err(CliError::usage("give --secret or --password-env, not both")),
                        (Some(s), None) => Some(s.clone()),
                        (None, Some(var)) => Some(std::env::var(var).map_err(|_| {
                            CliError::usage(format!("--password-env {var}: that environment variable is not set"))
                        })?),
                        (None, None) => None,
                    };
                    let body = json!({"kind": kind, "url": url, "secret": secret, "name": name, "site": site, "min_severity": min_severity}).to_string();
                    let v = c.expect("POST", "/api/v1/webhooks", Some(("application/json", body.as_bytes())))?.json();
                    writeln!(out, "added {} destination {} ({})", s(&v["kind"]), s(&v["id"]), s(&v["url_hint"]))?;
                    if let Some(secret) = v["secret"].as_str() {
                        writeln!(out, "signing secret (shown once; give it to the receiver):\n{secret}")?;
                    }
                }
                WebhookCommand::List => {
                    let v = c.expect("GET", "/api/v1/webhooks", None)?.json();
                    writeln!(out, "{:<16} {:<9} {:<12} {:<12} URL", "ID", "KIND", "SEVERITY", "SITE")?;
                    for h in v["items"].as_array().into_iter().flatten() {
                        writeln!(
                            out,
                            "{:<16} {:<9} {:<12} {:<12} {}",
                            s(&h["id"]),
                            s(&h["kind"]),
                            s(&h["min_severity"]),
                            s(&h["site"]),
                            s(&h["url_hint"])
                        )?;
                    }
                }
                WebhookCommand::Remove { id } => {
                    c.expect("DELETE", &format!("/api/v1/webhooks/{}", path_part(id)), None)?;
                    writeln!(out, "removed {id}")?;
                }
                WebhookCommand::Test { id } => {
                    let v = c.expect("POST", &format!("/api/v1/webhooks/{}/test", path_part(id)), None)?.json();
                    writeln!(
                        out,
                        "test alert {}: {} (status {}) {}",
                        s(&v["id"]),
                        s(&v["state"]),
                        s(&v["last_status"]),
                        s(&v["last_error"])
                    )?;
                    if v["state"] != "delivered" {
                        return Ok(Exit::Problems);
                    }
                }
            }
            Ok(Exit::Ok)
        }
        FleetCommand::Seed(a) => seed(a, out),
        FleetCommand::Backup(a) => {
            let mut c = uctriage_server::Config::new("127.0.0.1:0".parse().expect("a fixed address"), a.data.clone());
            c.db_url.clone_from(&a.db);
            let url = c.db_url();
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(|e| CliError::usage(e.to_string()))?;
            rt.block_on(async {
                let store = uctriage_store::open(&url).await.map_err(|e| CliError::usage(e.to_string()))?;
                store.backup(&a.file).await.map_err(|e| CliError::usage(e.to_string()))
            })?;
            writeln!(out, "wrote {}", a.file.display())?;
            Ok(Exit::Ok)
        }
    }
}

fn s(v: &Value) -> String {
    match v {
        Value::String(s) => s.chars().filter(|c| !c.is_control()).collect(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

/// Percent-encode what goes into a path or query value.
fn path_part(v: &str) -> String {
    v.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// Every page of `/api/v1/rooms`.
fn all_rooms(c: &Client, query: &str) -> Result<Vec<Value>, CliError> {
    let mut out = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let mut path = format!("/api/v1/rooms?limit=500{query}");
        if let Some(cur) = &cursor {
            let _ = write!(path, "&cursor={}", path_part(cur));
        }
        let v = c.expect("GET", &path, None)?.json();
        out.extend(v["items"].as_array().cloned().unwrap_or_default());
        match v["next_cursor"].as_str() {
            Some(n) => cursor = Some(n.to_owned()),
            None => return Ok(out),
        }
    }
}

fn room_text(r: &Value, out: &mut dyn Write) -> Result<(), CliError> {
    writeln!(out, "{} ({}), {}", s(&r["name"]), s(&r["id"]), s(&r["state"]))?;
    writeln!(
        out,
        "computer {}  account {}  app {}  OS {}",
        s(&r["computer"]),
        s(&r["alias"]),
        s(&r["app_version"]),
        s(&r["os_version"])
    )?;
    writeln!(out, "last heard {}  last heartbeat {}", s(&r["last_heard"]), s(&r["last_heartbeat"]))?;
    writeln!(out, "\nsignals:")?;
    for sig in r["signals"].as_array().into_iter().flatten() {
        writeln!(
            out,
            "  {:<30} {:<15} {:<11} {}",
            s(&sig["name"]),
            s(&sig["state"]),
            s(&sig["severity"]),
            s(&sig["status"])
        )?;
    }
    if let Some(t) = r["top_finding"].as_object() {
        writeln!(out, "\nroot cause: {}", s(&t["summary"]))?;
        writeln!(out, "  layer {}  rule {}", s(&t["layer"]), s(&t["rule"]))?;
        writeln!(out, "  {}", s(&t["cause"]))?;
        for (i, f) in t["fix"].as_array().into_iter().flatten().enumerate() {
            writeln!(out, "  {}. {}", i + 1, s(f))?;
        }
    }
    let transitions = r["transitions"].as_array().cloned().unwrap_or_default();
    if !transitions.is_empty() {
        writeln!(out, "\nrecent changes:")?;
        for t in transitions.iter().take(15) {
            writeln!(
                out,
                "  {}  {:<28} {} → {}  {}",
                s(&t["at"]),
                s(&t["signal"]),
                s(&t["from"]),
                s(&t["to"]),
                s(&t["status"])
            )?;
        }
    }
    Ok(())
}

fn incident_text(v: &Value, out: &mut dyn Write) -> Result<(), CliError> {
    writeln!(out, "{} ({} incident {}), {}", s(&v["summary"]), s(&v["scope"]), s(&v["id"]), s(&v["state"]))?;
    writeln!(
        out,
        "severity {}  started {}  opened {}  resolved {}",
        s(&v["severity"]),
        s(&v["started"]),
        s(&v["opened"]),
        s(&v["resolved"])
    )?;
    if !v["acknowledged"].is_null() {
        writeln!(out, "acknowledged {} by {}: {}", s(&v["acknowledged"]), s(&v["acknowledged_by"]), s(&v["ack_note"]))?;
    }
    if let Some(f) = v["finding"].as_object() {
        writeln!(out, "\nroot cause ({}, layer {}): {}", s(&f["rule"]), s(&f["layer"]), s(&f["cause"]))?;
        for (i, fix) in f["fix"].as_array().into_iter().flatten().enumerate() {
            writeln!(out, "  {}. {}", i + 1, s(fix))?;
        }
    }
    if let Some(shared) = v["shared"].as_object().filter(|m| !m.is_empty()) {
        let parts: Vec<String> = shared.iter().map(|(k, x)| format!("{k} {}", s(x))).collect();
        writeln!(out, "\nshared by every room: {}", parts.join(", "))?;
    }
    let members = v["members"].as_array().cloned().unwrap_or_default();
    if !members.is_empty() {
        writeln!(out, "\nrooms:")?;
        for m in &members {
            writeln!(
                out,
                "  {:<28} {:<14} since {}  {}",
                s(&m["room_name"]),
                s(&m["signal"]),
                s(&m["started"]),
                s(&m["state"])
            )?;
        }
    }
    writeln!(out, "\ntimeline:")?;
    for t in v["timeline"].as_array().into_iter().flatten() {
        writeln!(out, "  {}  {:<12} {} {}", s(&t["at"]), s(&t["what"]), s(&t["room_id"]), s(&t["detail"]))?;
    }
    Ok(())
}

/// Push the generated fleet: every room's batches in order, four rooms at a time, then wait
/// for the diagnoses and print what the server concluded.
fn seed(a: &crate::args::SeedArgs, out: &mut dyn Write) -> Result<Exit, CliError> {
    let mut err = std::io::stderr();
    let c = Client::from_args(&a.server, &mut err)?;
    let health = c
        .request("GET", "/healthz", None, &[])
        .map_err(|u| CliError { exit: Exit::Problems, message: format!("cannot reach the server: {}", u.0) })?;
    let now: jiff::Timestamp =
        health.header("x-uctriage-now").and_then(|v| v.parse().ok()).unwrap_or_else(jiff::Timestamp::now);
    let fleet = uctriage_fixtures::fleet(now, a.rooms.max(1), a.days.max(1), a.batch_minutes.max(5));
    let total: usize = fleet.rooms.iter().map(|r| r.batches.len()).sum();
    let _ = writeln!(
        err,
        "pushing {}, {}, up to {now}",
        counted(fleet.rooms.len(), "room"),
        counted_as(total, "batch", "batches")
    );
    let started = Instant::now();
    let next = AtomicUsize::new(0);
    let sent = AtomicUsize::new(0);
    let failure = std::sync::Mutex::new(None::<CliError>);
    std::thread::scope(|scope| {
        for _ in 0..4 {
            scope.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(room) = fleet.rooms.get(i) else { return };
                for b in &room.batches {
                    if failure.lock().map_or(true, |f| f.is_some()) {
                        return;
                    }
                    match c.request("POST", "/api/v1/ingest/events", Some(("application/json", &b.body)), &[]) {
                        Ok(r) if (200..300).contains(&r.status) => {
                            sent.fetch_add(1, Ordering::Relaxed);
                        }
                        Ok(r) => {
                            *failure.lock().unwrap_or_else(std::sync::PoisonError::into_inner) = Some(answer_error(&r));
                        }
                        Err(u) => {
                            *failure.lock().unwrap_or_else(std::sync::PoisonError::into_inner) = Some(CliError {
                                exit: Exit::Problems,
                                message: format!("cannot reach the server: {}", u.0),
                            });
                        }
                    }
                }
            });
        }
    });
    if let Some(e) = failure.into_inner().unwrap_or_else(std::sync::PoisonError::into_inner) {
        return Err(e);
    }
    let _ = writeln!(
        err,
        "pushed {} in {:.1} s; waiting for the diagnoses",
        counted_as(sent.into_inner(), "batch", "batches"),
        started.elapsed().as_secs_f64()
    );
    // The server diagnoses rooms in the background; wait until none is pending.
    let until = Instant::now() + Duration::from_secs(300);
    loop {
        let rooms = all_rooms(&c, "")?;
        let pending = rooms
            .iter()
            .filter(|r| {
                let id = r["id"].as_str().unwrap_or_default();
                c.expect("GET", &format!("/api/v1/rooms/{}", path_part(id)), None)
                    .map_or(true, |d| d.json()["diagnosis_pending"] == json!(true) || d.json()["diagnosis"].is_null())
            })
            .count();
        if pending == 0 || Instant::now() > until {
            let mut counts = std::collections::BTreeMap::<String, usize>::new();
            for r in &rooms {
                *counts.entry(s(&r["state"])).or_default() += 1;
            }
            let summary: Vec<String> = counts.iter().map(|(k, v)| format!("{v} {k}")).collect();
            writeln!(out, "{}: {}", counted(rooms.len(), "room"), summary.join(", "))?;
            // One line per root cause (rule), however its codes happened to be ordered.
            let mut causes = std::collections::BTreeMap::<String, (usize, String)>::new();
            for r in &rooms {
                if let (Some(rule), Some(t)) = (r["top_finding"]["rule"].as_str(), r["top_finding"]["summary"].as_str())
                {
                    causes.entry(rule.to_owned()).or_insert((0, t.to_owned())).0 += 1;
                }
            }
            for (n, cause) in causes.values() {
                writeln!(out, "  {n:>3} × {cause}")?;
            }
            if pending > 0 {
                let _ = writeln!(err, "warning: {} still being diagnosed", counted(pending, "room"));
            }
            let open = c.expect("GET", "/api/v1/incidents?state=open&limit=1000", None)?.json();
            let items = open["items"].as_array().cloned().unwrap_or_default();
            writeln!(out, "open incidents:")?;
            for i in items.iter().filter(|i| i["scope"] == "fleet") {
                writeln!(out, "  fleet  {}", s(&i["summary"]))?;
            }
            for i in items.iter().filter(|i| i["scope"] == "room" && i["fleet_incident"].is_null()) {
                writeln!(out, "  room   {} ({}): {}", s(&i["room_name"]), s(&i["signal"]), s(&i["summary"]))?;
            }
            let _ = writeln!(err, "(a room that went silent shows as an incident once the server has stopped hearing from it for a couple of minutes: `uctriage fleet incidents --open`)");
            return Ok(Exit::Ok);
        }
        std::thread::sleep(Duration::from_millis(500));
    }
}
