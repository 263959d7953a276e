//! `uctriage push PATH…`: the collector that runs on a room. It reads the exports with the same
//! readers as `scan`, sends as evidence JSON lines only the records it has not sent before, and
//! remembers per log (channel) the newest record sent. A log that was cleared or a re-imaged
//! device restarts its record ids; records are judged new by their time first, so those are
//! still sent.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use uctriage_evidence::counted;
use uctriage_scan::{read_records, Evidence, ReadOptions, Source};

use crate::args::PushArgs;
use crate::client::{answer_error, Client};
use crate::{CliError, Exit};

/// The newest record sent from one log.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
struct Mark {
    /// Milliseconds since the epoch of the newest record sent.
    time_ms: i64,
    /// Its record id.
    record_id: i64,
}

/// What was sent, per server and log.
#[derive(Debug, Default, Serialize, Deserialize)]
struct State {
    #[serde(default)]
    servers: BTreeMap<String, BTreeMap<String, Mark>>,
}

fn default_state_path() -> PathBuf {
    let base = std::env::var_os("ProgramData")
        .map(|p| PathBuf::from(p).join("uctriage"))
        .or_else(|| std::env::var_os("XDG_STATE_HOME").map(|p| PathBuf::from(p).join("uctriage")))
        .or_else(|| std::env::var_os("HOME").map(|p| PathBuf::from(p).join(".local/state/uctriage")))
        .unwrap_or_else(|| PathBuf::from("."));
    base.join("push-state.json")
}

fn load(path: &PathBuf) -> Result<State, CliError> {
    match std::fs::read_to_string(path) {
        Ok(t) => serde_json::from_str(&t).map_err(|e| {
            CliError::usage(format!("{}: not a push state file ({e}); move it away to start over", path.display()))
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(State::default()),
        Err(e) => Err(CliError::usage(format!("{}: {e}", path.display()))),
    }
}

/// Write the state through a temporary file, so a crash never leaves half of it.
fn save(path: &PathBuf, state: &State) -> Result<(), CliError> {
    let err = |e: std::io::Error| CliError::usage(format!("{}: {e}", path.display()));
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(err)?;
    }
    let tmp = path.with_extension("json.tmp");
    std::fs::write(&tmp, serde_json::to_vec_pretty(state).unwrap_or_default()).map_err(err)?;
    std::fs::rename(&tmp, path).map_err(err)
}

fn record_id(e: &Evidence) -> Option<i64> {
    let v = e.fields.get("record_id")?;
    v.as_i64().or_else(|| v.as_str().and_then(|s| s.trim().parse().ok()))
}

/// The machine's time-zone id: `tzutil /g` on Windows, `TZ` or `/etc/timezone` elsewhere.
fn local_timezone() -> Option<String> {
    if cfg!(windows) {
        let out = std::process::Command::new("tzutil").arg("/g").output().ok()?;
        return Some(String::from_utf8_lossy(&out.stdout).trim().to_owned()).filter(|s| !s.is_empty());
    }
    std::env::var("TZ")
        .ok()
        .or_else(|| std::fs::read_to_string("/etc/timezone").ok())
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty())
}

pub fn run(args: &PushArgs, out: &mut dyn Write) -> Result<Exit, CliError> {
    let mut err = std::io::stderr();
    let client = Client::from_args(&args.server, &mut err)?;
    let state_path = args.state.clone().unwrap_or_else(default_state_path);
    let mut state = load(&state_path)?;
    let mut marks = state.servers.get(&client.base).cloned().unwrap_or_default();

    let sources: Vec<Source> = args.paths.iter().map(|p| Source::from_arg(p)).collect();
    let mut records = Vec::new();
    let mut read_any = false;
    let summary = read_records(&sources, &ReadOptions::default(), &mut |report, mut batch| {
        read_any |= report.is_read();
        for w in &report.warnings {
            let _ = writeln!(std::io::stderr(), "warning: {}", uctriage_report::terminal_safe(&w.to_string()));
        }
        records.append(&mut batch);
    });
    for w in &summary.warnings {
        let _ = writeln!(err, "warning: {}", uctriage_report::terminal_safe(&w.to_string()));
    }
    if !read_any {
        return Err(CliError::usage("nothing could be read from the given paths"));
    }

    // New records: newer than the log's mark, or as new with a higher record id.
    let total = records.len();
    let mut fresh: Vec<Evidence> = records
        .into_iter()
        .filter(|e| {
            let Some(t) = e.time.map(jiff::Timestamp::as_millisecond) else { return true };
            match marks.get(&e.source) {
                Some(m) => t > m.time_ms || (t == m.time_ms && record_id(e).unwrap_or(i64::MAX) > m.record_id),
                None => true,
            }
        })
        .collect();
    fresh.sort_by_key(|e| (e.time.map(jiff::Timestamp::as_millisecond), record_id(e)));
    for (source, m) in &marks {
        let newest_id = fresh.iter().filter(|e| &e.source == source).filter_map(record_id).max();
        if newest_id.is_some_and(|id| id < m.record_id) {
            let _ = writeln!(
                err,
                "note: {source}: record ids start again (the log was cleared or the device re-imaged); sending by time"
            );
        }
    }

    let timezone = args.timezone.clone().or_else(local_timezone);
    let room_q = args
        .room
        .as_deref()
        .map(|r| format!("?room={}", r.replace(|c: char| !c.is_ascii_alphanumeric() && c != '-' && c != '.', "")))
        .unwrap_or_default();
    let path = format!("/api/v1/ingest/events{room_q}");
    let mut sent = 0usize;
    let mut duplicates = 0u64;
    for chunk in fresh.chunks(args.batch.max(1)) {
        let mut body = Vec::with_capacity(chunk.len() * 600);
        for e in chunk {
            serde_json::to_writer(&mut body, e).map_err(|e| CliError::usage(e.to_string()))?;
            body.push(b'\n');
        }
        let mut headers = Vec::new();
        if let Some(tz) = &timezone {
            headers.push(("X-Uctriage-Timezone", tz.as_str()));
        }
        let reply = send_with_retries(&client, &path, &body, &headers, args, &mut err)?;
        duplicates += reply.json()["duplicates"].as_u64().unwrap_or(0);
        sent += chunk.len();
        // The batch is committed on the server: remember it before the next one.
        for e in chunk {
            if let Some(t) = e.time.map(jiff::Timestamp::as_millisecond) {
                let m = marks.entry(e.source.clone()).or_default();
                let id = record_id(e).unwrap_or(0);
                if t > m.time_ms || (t == m.time_ms && id > m.record_id) {
                    *m = Mark { time_ms: t, record_id: id };
                }
            }
        }
        state.servers.insert(client.base.clone(), marks.clone());
        save(&state_path, &state)?;
    }
    writeln!(out, "sent {sent} of {} ({duplicates} the server had already)", counted(total, "record"))?;
    Ok(Exit::Ok)
}

/// POST one batch, retrying with backoff while the server cannot be reached, is overloaded or
/// fails; a refusal (bad token, bad batch) ends at once.
fn send_with_retries(
    client: &Client,
    path: &str,
    body: &[u8],
    headers: &[(&str, &str)],
    args: &PushArgs,
    err: &mut dyn Write,
) -> Result<crate::client::Reply, CliError> {
    let mut wait = args.backoff.max(0.0);
    let attempts = args.retries.max(1);
    let mut last = String::new();
    for attempt in 1..=attempts {
        match client.request("POST", path, Some(("application/x-ndjson", body)), headers) {
            Ok(r) if (200..300).contains(&r.status) => return Ok(r),
            Ok(r) if r.status == 429 || r.status >= 500 => {
                last = format!("the server answered {}: {}", r.status, r.detail());
            }
            Ok(r) => return Err(answer_error(&r)),
            Err(u) => last = format!("cannot reach the server: {}", u.0),
        }
        if attempt < attempts {
            let _ = writeln!(err, "{last}; trying again in {wait:.1} s ({attempt}/{attempts})");
            std::thread::sleep(Duration::from_secs_f64(wait));
            wait = (wait * 2.0).min(300.0);
        }
    }
    Err(CliError { exit: Exit::Problems, message: format!("{last} (gave up after {attempts} attempts)") })
}
