//! Load generator for the fleet server's ingest (`POST /api/v1/ingest/events`).
//!
//! It sends Teams Rooms heartbeats as `Get-WinEvent | ConvertTo-Json` batches (PowerShell 7,
//! UTF-8), the shape a room's collector pushes, from `--clients` threads, and prints one JSON
//! line with what it measured.
//!
//! The plan is fixed by the arguments, so two runs with the same arguments send the same records:
//! request `i` carries heartbeats `(i / rooms) * batch ..` of room `i % rooms`, five minutes apart
//! from `--start`, each with its own record id. No record repeats within a plan; sending a plan
//! again sends only records the server has already. Every tenth room has an hour-long Exchange
//! outage every four days, so signal transitions are written too.
//!
//! Each room's heartbeat is rendered once by `uctriage_fixtures` (both the healthy and the
//! unhealthy form) and split around its record id and time; a batch is those pieces with the
//! numbers filled in, checked at start against the fixtures' own rendering. Building a batch of
//! 500 heartbeats takes well under a millisecond, so the bodies are made as they are sent instead
//! of holding gigabytes of them in memory.
//!
//! ```text
//! cargo run --release -p uctriage-server --example loadgen -- --url http://127.0.0.1:8080 --token uct_… \
//!     [--clients 4] [--rate 0] [--duration 30] [--max-requests 1000] [--batch 500] [--rooms 100]
//!     [--start 2025-06-01T00:00:00Z] [--reverse] [--ack-log FILE] [--check-acked FILE]
//!     [--verify ADMIN_TOKEN] [--no-send] [--stop-on-error] [--timeline FILE] [--history DAYS]
//!     [--outage A-B]
//! ```
//!
//! - `--rate R`: requests per second over all clients on a fixed schedule (0: as fast as the
//!   server answers). Latencies are measured from each request's scheduled moment, so a server
//!   that falls behind shows it.
//! - `--ack-log FILE`: one JSON line per acknowledged request (`i`, `room`, `records`,
//!   `accepted`, `duplicates`), written as the answer arrives.
//! - `--check-acked FILE`: the requests listed in an earlier run's ack log must come back with
//!   every record a duplicate (they were committed), counted in `acked_missing`.
//! - `--verify ADMIN_TOKEN`: after sending, every room of the plan must exist once and hold
//!   exactly the plan's records (`records` of `GET /api/v1/rooms/{id}`).
//! - `--timeline FILE`: per second of the run, the requests answered and their p50, p99 and
//!   maximum latency, to tell steady slowness from stalls.
//! - `--outage A-B`: heartbeats `A` to `B - 1` of every room (counted from `--start`) report the
//!   network unhealthy: an incident per room, opened and resolved at known times, for alerts.
//! - `--history DAYS`: instead, each room's `DAYS` days of history from `--start` (a UTC midnight),
//!   one request per room: bad episodes on about three days a week (an MFA prompt that turns
//!   Exchange and Teams sign-in bad for 35 minutes to 4 hours, a network outage of 15 minutes to
//!   2 hours, or an Exchange blip of 5 to 20 minutes, shorter than its watch period), each sent as
//!   its heartbeats every five minutes and the healthy one that ends it, with a healthy heartbeat
//!   at the start and 35 minutes before the end. Offline is judged only at the server's present,
//!   never on gaps in old records, so the heartbeats of healthy stretches change no incident and
//!   are left out: 500 rooms and 90 days take about 370,000 records instead of 13 million. Each
//!   room sends the Windows time-zone id of one of eight zones (`X-Uctriage-Timezone`, as `push`
//!   does), so its days are local days across daylight-saving changes. The answer adds
//!   `history`: the server's clock to use (`server_now`, 30 minutes before the end of the last
//!   day), the episodes and, per the definition of the history API (per local day: availability
//!   per signal, and unhealthy when critical or important incidents took more than 20 minutes
//!   between 05:00 and 21:00), the unhealthy room-days and the mean availability per signal the
//!   plan should give at that moment.
//!
//! Exit status: 0 when every request was answered 2xx and every check held, 1 otherwise, 2 for bad
//! arguments.

use std::collections::{BTreeMap, HashSet};
use std::fmt::Write as _;
use std::io::{BufRead, Write};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use jiff::{SignedDuration, Timestamp};
use serde_json::{json, Value};
use uctriage_fixtures::evtx_writer::Event;
use uctriage_fixtures::fleet::get_winevent_json;
use uctriage_fixtures::rooms::{Heartbeat, Room};

/// Heartbeat interval of the Teams Rooms app.
const HEARTBEAT_SECS: i64 = 300;
/// Record id of a room's first heartbeat in its Skype Room System log.
const FIRST_RECORD_ID: u64 = 1000;
/// Stand-ins that mark where a template's record id and time go.
const MARK_ID: u64 = 987_654_321_012;
const MARK_TIME: &str = "2001-02-03T04:05:06Z";

#[derive(Debug, Clone)]
struct Opts {
    url: String,
    token: String,
    clients: usize,
    rate: f64,
    duration: f64,
    max_requests: u64,
    batch: u64,
    rooms: u64,
    start: Timestamp,
    reverse: bool,
    ack_log: Option<PathBuf>,
    check_acked: Option<PathBuf>,
    verify: Option<String>,
    no_send: bool,
    stop_on_error: bool,
    timeline: Option<PathBuf>,
    history: Option<u64>,
    outage: Option<(u64, u64)>,
}

fn usage(msg: &str) -> ! {
    let _ = writeln!(
        std::io::stderr(),
        "loadgen: {msg}\nusage: loadgen --url URL --token TOKEN [--clients N] [--rate R] [--duration SECS] \
         [--max-requests N] [--batch RECORDS] [--rooms N] [--start TIME] [--reverse] [--ack-log FILE] \
         [--check-acked FILE] [--verify ADMIN_TOKEN] [--no-send] [--stop-on-error] [--timeline FILE] \
         [--history DAYS] [--outage A-B]"
    );
    std::process::exit(2)
}

fn num<T: std::str::FromStr>(flag: &str, v: &str) -> T {
    v.parse().unwrap_or_else(|_| usage(&format!("{flag}: {v:?} is not a number")))
}

fn parse_args() -> Opts {
    let mut o = Opts {
        url: String::new(),
        token: String::new(),
        clients: 4,
        rate: 0.0,
        duration: 30.0,
        max_requests: 1000,
        batch: 500,
        rooms: 100,
        start: "2025-06-01T00:00:00Z".parse().expect("a valid time"),
        reverse: false,
        ack_log: None,
        check_acked: None,
        verify: None,
        no_send: false,
        stop_on_error: false,
        timeline: None,
        history: None,
        outage: None,
    };
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let mut value = || args.next().unwrap_or_else(|| usage(&format!("{a} needs a value")));
        match a.as_str() {
            "--url" => o.url = value().trim_end_matches('/').to_owned(),
            "--token" => o.token = value(),
            "--clients" => o.clients = num(&a, &value()),
            "--rate" => o.rate = num(&a, &value()),
            "--duration" => o.duration = num(&a, &value()),
            "--max-requests" => o.max_requests = num(&a, &value()),
            "--batch" => o.batch = num(&a, &value()),
            "--rooms" => o.rooms = num(&a, &value()),
            "--start" => {
                let v = value();
                o.start = v.parse().unwrap_or_else(|e| usage(&format!("--start {v:?}: {e}")));
            }
            "--reverse" => o.reverse = true,
            "--ack-log" => o.ack_log = Some(value().into()),
            "--check-acked" => o.check_acked = Some(value().into()),
            "--verify" => o.verify = Some(value()),
            "--no-send" => o.no_send = true,
            "--stop-on-error" => o.stop_on_error = true,
            "--timeline" => o.timeline = Some(value().into()),
            "--history" => o.history = Some(num(&a, &value())),
            "--outage" => {
                let v = value();
                let (x, y) = v.split_once('-').unwrap_or_else(|| usage(&format!("--outage {v:?}: not A-B")));
                o.outage = Some((num(&a, x), num(&a, y)));
            }
            "-h" | "--help" => usage("load generator for the fleet server's ingest"),
            other => usage(&format!("unknown argument {other}")),
        }
    }
    if o.url.is_empty() {
        usage("--url is required");
    }
    if o.token.is_empty() && !o.no_send {
        usage("--token is required");
    }
    if o.clients == 0 || o.batch == 0 || o.rooms == 0 || o.rooms > 9999 {
        usage("--clients and --batch must be at least 1, --rooms 1 to 9999");
    }
    if let Some(days) = o.history {
        if !(1..=400).contains(&days) || o.start.as_second() % 86_400 != 0 {
            usage("--history takes 1 to 400 days from a --start at a UTC midnight");
        }
        // One request per room.
        o.max_requests = o.max_requests.min(o.rooms);
        if o.verify.is_some() {
            usage("--verify checks the heartbeat plan, not --history");
        }
    }
    o
}

/// One room's heartbeat split around its record id and time.
#[derive(Debug)]
struct Template {
    /// Text before the first hole, between the holes, after the last.
    parts: [String; 3],
    /// The record id comes before the time.
    id_first: bool,
}

impl Template {
    fn new(event: &Event) -> Template {
        let mut e = event.clone();
        e.record_id = Some(MARK_ID);
        e.time = MARK_TIME.parse().expect("a valid time");
        let whole = String::from_utf8(get_winevent_json(&[e])).expect("the fixtures write UTF-8");
        let one = whole.strip_prefix("[\r\n").and_then(|s| s.strip_suffix("\r\n]")).expect("a one-element array");
        let id = MARK_ID.to_string();
        let time = win_time(MARK_TIME.parse().expect("a valid time"));
        assert_eq!(one.matches(&id).count(), 1, "the record id appears once in a heartbeat");
        assert_eq!(one.matches(&time).count(), 1, "the time appears once in a heartbeat");
        let (i, t) = (one.find(&id).unwrap_or(0), one.find(&time).unwrap_or(0));
        let (a, alen, b, blen) = if i < t { (i, id.len(), t, time.len()) } else { (t, time.len(), i, id.len()) };
        Template {
            parts: [one[..a].to_owned(), one[a + alen..b].to_owned(), one[b + blen..].to_owned()],
            id_first: i < t,
        }
    }

    fn write(&self, out: &mut String, record_id: u64, time: Timestamp) {
        let id = record_id.to_string();
        let t = win_time(time);
        let (x, y) = if self.id_first { (&id, &t) } else { (&t, &id) };
        out.push_str(&self.parts[0]);
        out.push_str(x);
        out.push_str(&self.parts[1]);
        out.push_str(y);
        out.push_str(&self.parts[2]);
    }
}

/// `TimeCreated` as PowerShell 7 prints it: seven fractional digits and the offset.
fn win_time(t: Timestamp) -> String {
    format!("{}.{:07}+00:00", t.strftime("%Y-%m-%dT%H:%M:%S"), t.subsec_nanosecond() / 100)
}

/// What the generator sends.
#[derive(Debug)]
struct Plan {
    rooms: Vec<Room>,
    healthy: Vec<Template>,
    /// Exchange asks for MFA (AADSTS50076) and Teams sign-in fails.
    unhealthy: Vec<Template>,
    /// Network unhealthy (`--history`).
    network: Vec<Template>,
    /// Exchange disconnected (`--history`).
    blip: Vec<Template>,
    batch: u64,
    start: Timestamp,
    /// `--history DAYS`.
    history: Option<u64>,
    /// `--outage A-B`.
    outage: Option<(u64, u64)>,
}

/// What a heartbeat of a `--history` plan says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Says {
    Healthy,
    Mfa,
    Network,
    Blip,
}

impl Says {
    fn shape(self, hb: Heartbeat) -> Heartbeat {
        match self {
            Says::Healthy => hb,
            Says::Mfa => hb.exchange("80131500 : AADSTS50076").teams_signin("Unhealthy"),
            Says::Network => hb.network("Unhealthy"),
            Says::Blip => hb.exchange("Disconnected"),
        }
    }
}

/// One bad episode of a `--history` room: heartbeat slots `from..to` are bad, slot `to` healthy.
#[derive(Debug, Clone, Copy)]
struct Episode {
    says: Says,
    from: u64,
    to: u64,
}

/// Heartbeat slots in a day.
const SLOTS_PER_DAY: u64 = 86_400 / HEARTBEAT_SECS as u64;
/// A history's last heartbeat is this many slots (35 minutes) before its end.
const HISTORY_TAIL: u64 = 7;
/// The history API's rule: more than this many minutes of critical or important incidents
/// between these hours, local time, make a day unhealthy.
const UNHEALTHY_MINUTES: i64 = 20;
const WORKING_HOURS: (i8, i8) = (5, 21);
/// The server's clock for a `--history` plan: this long before the end of its last day.
const HISTORY_NOW_BEFORE_END_MS: i64 = 30 * 60 * 1000;
/// A `--history` room's time zone, as `push` sends it (Windows id), and the IANA zone it maps to.
const HISTORY_ZONES: [(&str, &str); 8] = [
    ("W. Europe Standard Time", "Europe/Berlin"),
    ("Eastern Standard Time", "America/New_York"),
    ("GMT Standard Time", "Europe/London"),
    ("Pacific Standard Time", "America/Los_Angeles"),
    ("India Standard Time", "Asia/Calcutta"),
    ("Tokyo Standard Time", "Asia/Tokyo"),
    ("AUS Eastern Standard Time", "Australia/Sydney"),
    ("Central Standard Time", "America/Chicago"),
];

/// Local midnight (or `hour`) of `date` in `tz`, in milliseconds.
fn local_ms(date: jiff::civil::Date, hour: i8, tz: &jiff::tz::TimeZone) -> i64 {
    date.at(hour, 0, 0, 0).to_zoned(tz.clone()).map_or(0, |z| z.timestamp().as_millisecond())
}

fn mix(a: u64, b: u64) -> u64 {
    let mut h = (a << 32 ^ b ^ 0x5bd1_e995).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    h ^= h >> 29;
    h = h.wrapping_mul(0xBF58_476D_1CE4_E5B9);
    h ^ (h >> 32)
}

/// The total length of the union of `spans` clipped to `[from, to)`.
fn union_ms(spans: &[(i64, i64)], from: i64, to: i64) -> i64 {
    let mut clipped: Vec<(i64, i64)> =
        spans.iter().map(|&(a, b)| (a.max(from), b.min(to))).filter(|(a, b)| b > a).collect();
    clipped.sort_unstable();
    let (mut total, mut cur) = (0, None::<(i64, i64)>);
    for (a, b) in clipped {
        cur = match cur {
            Some((s, e)) if a <= e => Some((s, e.max(b))),
            Some((s, e)) => {
                total += e - s;
                Some((a, b))
            }
            None => Some((a, b)),
        };
    }
    total + cur.map_or(0, |(s, e)| e - s)
}

fn room(r: u64) -> Room {
    let short = format!("load-{r:04}");
    Room {
        computer: format!("MTR-LOAD-{r:04}"),
        account: format!("mtr-{short}@contoso.example"),
        display_name: format!("Load Room {r:04}"),
        ipv4: format!("10.{}.{}.{}", 20 + r / 65_536 % 200, r / 256 % 256, r % 256),
        os: "Windows 11".to_owned(),
        os_version: ["10.0.22631.4317", "10.0.22631.4460"][(r % 2) as usize].to_owned(),
        app_version: ["5.1.111.0", "5.2.136.0"][(r / 2 % 2) as usize].to_owned(),
    }
}

impl Plan {
    fn new(rooms: u64, batch: u64, start: Timestamp, history: Option<u64>, outage: Option<(u64, u64)>) -> Plan {
        let rooms: Vec<Room> = (0..rooms).map(room).collect();
        let at = MARK_TIME.parse().expect("a valid time");
        let templates = |says: Says| -> Vec<Template> {
            rooms.iter().map(|r| Template::new(&says.shape(Heartbeat::healthy(r, at)).event(&r.computer))).collect()
        };
        let (healthy, unhealthy) = (templates(Says::Healthy), templates(Says::Mfa));
        let network = if history.is_some() || outage.is_some() { templates(Says::Network) } else { Vec::new() };
        let blip = if history.is_some() { templates(Says::Blip) } else { Vec::new() };
        Plan { rooms, healthy, unhealthy, network, blip, batch, start, history, outage }
    }

    /// A `--history` room's bad episodes: on about three days in seven, at any time of day.
    fn episodes(r: u64, days: u64) -> Vec<Episode> {
        let end = days * SLOTS_PER_DAY - HISTORY_TAIL;
        let mut out = Vec::new();
        // Slot 0 is the first healthy heartbeat.
        let mut free = 1;
        for d in 0..days {
            let h = mix(r, d);
            if h % 7 >= 3 {
                continue;
            }
            let (says, slots) = match (h >> 8) % 10 {
                0..=4 => (Says::Mfa, 7 + (h >> 16) % 42),
                5..=7 => (Says::Network, 3 + (h >> 16) % 22),
                _ => (Says::Blip, 1 + (h >> 16) % 4),
            };
            let from = d * SLOTS_PER_DAY + (h >> 32) % SLOTS_PER_DAY;
            if from < free || from + slots >= end {
                continue;
            }
            out.push(Episode { says, from, to: from + slots });
            free = from + slots + 1;
        }
        out
    }

    /// A `--history` room's heartbeats: (slot, what it says).
    fn history_slots(r: u64, days: u64) -> Vec<(u64, Says)> {
        let mut out = vec![(0, Says::Healthy)];
        for e in Plan::episodes(r, days) {
            out.extend((e.from..e.to).map(|k| (k, e.says)));
            out.push((e.to, Says::Healthy));
        }
        out.push((days * SLOTS_PER_DAY - HISTORY_TAIL, Says::Healthy));
        out
    }

    fn template(&self, r: u64, says: Says) -> &Template {
        let set = match says {
            Says::Healthy => &self.healthy,
            Says::Mfa => &self.unhealthy,
            Says::Network => &self.network,
            Says::Blip => &self.blip,
        };
        &set[r as usize]
    }

    /// What the history API should say of the plan's rooms: episodes by kind, records, unhealthy
    /// room-days and the mean availability per signal over every room-day (the last day counted
    /// whole).
    /// The server's clock for a `--history` plan of `days`.
    fn history_now(&self, days: u64) -> i64 {
        self.start.as_millisecond() + days as i64 * 86_400_000 - HISTORY_NOW_BEFORE_END_MS
    }

    /// The Windows time-zone id room `r` of a `--history` plan sends.
    fn zone(&self, r: u64) -> Option<&'static str> {
        self.history.map(|_| HISTORY_ZONES[(r % HISTORY_ZONES.len() as u64) as usize].0)
    }

    fn history_expected(&self, days: u64, requests: u64) -> Value {
        let (mut mfa, mut network, mut blip, mut records, mut unhealthy) = (0u64, 0u64, 0u64, 0u64, 0u64);
        let mut avail: BTreeMap<&str, f64> = BTreeMap::new();
        let rooms = requests.min(self.rooms.len() as u64);
        let now = self.history_now(days);
        for r in 0..rooms {
            let tz = jiff::tz::TimeZone::get(HISTORY_ZONES[(r % HISTORY_ZONES.len() as u64) as usize].1)
                .expect("the time-zone database is compiled in");
            let today = Timestamp::from_millisecond(now).expect("a valid time").to_zoned(tz.clone()).date();
            records += Plan::history_slots(r, days).len() as u64;
            let mut by_signal: BTreeMap<&str, Vec<(i64, i64)>> = BTreeMap::new();
            for e in Plan::episodes(r, days) {
                let span = (self.heartbeat(r, e.from).0.as_millisecond(), self.heartbeat(r, e.to).0.as_millisecond());
                let signals: &[&str] = match e.says {
                    Says::Mfa => {
                        mfa += 1;
                        &["exchange", "teams-signin"]
                    }
                    Says::Network => {
                        network += 1;
                        &["network"]
                    }
                    // Shorter than Exchange's 30-minute watch: no incident.
                    _ => {
                        blip += 1;
                        &[]
                    }
                };
                for s in signals {
                    by_signal.entry(s).or_default().push(span);
                }
            }
            let all: Vec<(i64, i64)> = by_signal.values().flatten().copied().collect();
            // The room's last `days` local days up to now, as the API counts them.
            for back in 0..days as i64 {
                let date = today.checked_sub(jiff::Span::new().days(back)).expect("a valid date");
                let (from, to) = (local_ms(date, 0, &tz), local_ms(date.tomorrow().expect("a valid date"), 0, &tz));
                let to = to.min(now);
                let working =
                    union_ms(&all, local_ms(date, WORKING_HOURS.0, &tz), local_ms(date, WORKING_HOURS.1, &tz));
                unhealthy += u64::from(working / 60_000 > UNHEALTHY_MINUTES);
                for s in ["network", "exchange", "teams-signin"] {
                    let bad = by_signal.get(s).map_or(0, |v| union_ms(v, from, to));
                    *avail.entry(s).or_default() += 100.0 * (1.0 - bad as f64 / (to - from) as f64);
                }
            }
        }
        let room_days = (rooms * days).max(1) as f64;
        json!({
            "days": days,
            "rooms": rooms,
            "server_now": Timestamp::from_millisecond(now).expect("a valid time").to_string(),
            "records": records,
            "episodes": {"mfa": mfa, "network": network, "blip": blip},
            "incident_episodes": mfa * 2 + network,
            "expected_unhealthy_room_days": unhealthy,
            "expected_availability": avail
                .into_iter()
                .map(|(s, v)| (s.to_owned(), json!((v / room_days * 1000.0).round() / 1000.0)))
                .collect::<serde_json::Map<_, _>>(),
        })
    }

    fn room_of(&self, i: u64) -> u64 {
        i % self.rooms.len() as u64
    }

    /// Heartbeat `k` of room `r`: its time (within two seconds of the five-minute mark, to the
    /// 100 ns tick) and whether it is one of the unhealthy ones.
    fn heartbeat(&self, r: u64, k: u64) -> (Timestamp, bool) {
        let mut h = (r << 32 ^ k).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        h ^= h >> 29;
        let jitter = SignedDuration::from_nanos((h % 20_000_000) as i64 * 100);
        let t = self.start + SignedDuration::from_secs(HEARTBEAT_SECS * k as i64) + jitter;
        (t, r % 10 == 3 && (k / 12) % 96 == 5)
    }

    /// The heartbeats of request `i`: (slot, what it says), and its room index.
    fn slots(&self, i: u64) -> (Vec<(u64, Says)>, u64) {
        let r = self.room_of(i);
        if let Some(days) = self.history {
            return (Plan::history_slots(r, days), r);
        }
        let first = i / self.rooms.len() as u64 * self.batch;
        let down = |k: u64| self.outage.is_some_and(|(a, b)| (a..b).contains(&k));
        let slots = (first..first + self.batch)
            .map(|k| {
                let says = if down(k) {
                    Says::Network
                } else if self.heartbeat(r, k).1 {
                    Says::Mfa
                } else {
                    Says::Healthy
                };
                (k, says)
            })
            .collect();
        (slots, r)
    }

    /// The body of request `i`; its room index and how many records it holds.
    fn body(&self, i: u64, out: &mut String) -> (u64, u64) {
        let (slots, r) = self.slots(i);
        out.clear();
        out.push('[');
        for (j, &(k, says)) in slots.iter().enumerate() {
            out.push_str(if j == 0 { "\r\n" } else { ",\r\n" });
            self.template(r, says).write(out, FIRST_RECORD_ID + k, self.heartbeat(r, k).0);
        }
        out.push_str("\r\n]");
        (r, slots.len() as u64)
    }

    /// The same request rendered event by event by the fixtures, to check the templates.
    fn body_from_fixtures(&self, i: u64) -> String {
        let (slots, r) = self.slots(i);
        let room = &self.rooms[r as usize];
        let events: Vec<Event> = slots
            .into_iter()
            .map(|(k, says)| {
                let hb = says.shape(Heartbeat::healthy(room, self.heartbeat(r, k).0));
                let mut e = hb.event(&room.computer);
                e.record_id = Some(FIRST_RECORD_ID + k);
                e
            })
            .collect();
        String::from_utf8(get_winevent_json(&events)).expect("UTF-8")
    }
}

/// What one client saw.
#[derive(Debug, Default)]
struct Tally {
    ok: u64,
    errors: u64,
    records: u64,
    accepted: u64,
    duplicates: u64,
    /// Batches stored in part: a batch of one room is committed whole or not at all.
    partial: u64,
    /// Requests acknowledged by an earlier run that came back with records not yet stored.
    acked_missing: u64,
    latencies_ms: Vec<f64>,
    /// Seconds from the start at which each answered request was due, with its latency.
    timeline: Vec<(f64, f64)>,
    build_ms: f64,
    bytes: u64,
    first_error: Option<String>,
    /// Room index to the ids the server filed it under.
    rooms: BTreeMap<u64, HashSet<String>>,
}

impl Tally {
    fn merge(&mut self, o: Tally) {
        self.ok += o.ok;
        self.errors += o.errors;
        self.records += o.records;
        self.accepted += o.accepted;
        self.duplicates += o.duplicates;
        self.partial += o.partial;
        self.acked_missing += o.acked_missing;
        self.latencies_ms.extend(o.latencies_ms);
        self.timeline.extend(o.timeline);
        self.build_ms += o.build_ms;
        self.bytes += o.bytes;
        if self.first_error.is_none() {
            self.first_error = o.first_error;
        }
        for (r, ids) in o.rooms {
            self.rooms.entry(r).or_default().extend(ids);
        }
    }

    fn error(&mut self, e: String) {
        self.errors += 1;
        if self.first_error.is_none() {
            self.first_error = Some(e);
        }
    }
}

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(120)))
        .build()
        .into()
}

fn read_acked(path: &PathBuf) -> HashSet<u64> {
    let f = std::fs::File::open(path).unwrap_or_else(|e| usage(&format!("{}: {e}", path.display())));
    std::io::BufReader::new(f)
        .lines()
        .map_while(Result::ok)
        .filter_map(|l| serde_json::from_str::<Value>(&l).ok())
        .filter_map(|v| v["i"].as_u64())
        .collect()
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// `second requests p50 p99 max` for each second of the run.
fn write_timeline(path: &PathBuf, timeline: &[(f64, f64)]) {
    let mut by_second: BTreeMap<u64, Vec<f64>> = BTreeMap::new();
    for &(at, ms) in timeline {
        by_second.entry(at as u64).or_default().push(ms);
    }
    let mut text = String::from("# second requests p50_ms p99_ms max_ms\n");
    for (sec, mut l) in by_second {
        l.sort_by(f64::total_cmp);
        let _ = writeln!(
            text,
            "{sec} {} {:.1} {:.1} {:.1}",
            l.len(),
            percentile(&l, 50.0),
            percentile(&l, 99.0),
            l.last().copied().unwrap_or(0.0)
        );
    }
    if let Err(e) = std::fs::write(path, text) {
        let _ = writeln!(std::io::stderr(), "loadgen: {}: {e}", path.display());
    }
}

fn round(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

/// Send the plan; the tally of every client and the wall time.
fn send(o: &Opts, plan: &Plan) -> (Tally, f64) {
    let acked = o.check_acked.as_ref().map(read_acked).unwrap_or_default();
    let ack_log = o
        .ack_log
        .as_ref()
        .map(|p| Mutex::new(std::fs::File::create(p).unwrap_or_else(|e| usage(&format!("{}: {e}", p.display())))));
    let next = AtomicU64::new(0);
    let stop = AtomicBool::new(false);
    let url = format!("{}/api/v1/ingest/events", o.url);
    let auth = format!("Bearer {}", o.token);
    let started = Instant::now();
    let deadline = started + Duration::from_secs_f64(o.duration);
    let mut total = Tally::default();
    std::thread::scope(|s| {
        let handles: Vec<_> = (0..o.clients)
            .map(|_| {
                s.spawn(|| {
                    let agent = agent();
                    let mut t = Tally::default();
                    let mut body = String::new();
                    loop {
                        let n = next.fetch_add(1, Ordering::Relaxed);
                        if n >= o.max_requests || stop.load(Ordering::Relaxed) {
                            break;
                        }
                        let i = if o.reverse { o.max_requests - 1 - n } else { n };
                        // On a schedule, the request's own moment; otherwise now.
                        let due = if o.rate > 0.0 {
                            let at = started + Duration::from_secs_f64(n as f64 / o.rate);
                            if at > deadline {
                                break;
                            }
                            std::thread::sleep(at.saturating_duration_since(Instant::now()));
                            at
                        } else {
                            Instant::now()
                        };
                        if Instant::now() > deadline {
                            break;
                        }
                        let b = Instant::now();
                        let (r, n) = plan.body(i, &mut body);
                        t.build_ms += b.elapsed().as_secs_f64() * 1e3;
                        t.bytes += body.len() as u64;
                        let mut req =
                            agent.post(&url).header("Authorization", &auth).header("Content-Type", "application/json");
                        if let Some(zone) = plan.zone(r) {
                            req = req.header("X-Uctriage-Timezone", zone);
                        }
                        let res = req.send(body.as_bytes());
                        let answer = res.map_err(|e| e.to_string()).and_then(|mut res| {
                            let status = res.status().as_u16();
                            let text = res.body_mut().read_to_string().map_err(|e| e.to_string())?;
                            Ok((status, text))
                        });
                        let ms = due.elapsed().as_secs_f64() * 1e3;
                        match answer {
                            Ok((status, text)) if (200..300).contains(&status) => {
                                t.latencies_ms.push(ms);
                                t.timeline.push((due.duration_since(started).as_secs_f64(), ms));
                                let v: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
                                let (acc, dup) =
                                    (v["accepted"].as_u64().unwrap_or(0), v["duplicates"].as_u64().unwrap_or(0));
                                t.ok += 1;
                                t.records += n;
                                t.accepted += acc;
                                t.duplicates += dup;
                                if acc != 0 && acc != n {
                                    t.partial += 1;
                                }
                                if acked.contains(&i) && dup != n {
                                    t.acked_missing += 1;
                                }
                                let room_id = v["rooms"][0].as_str().unwrap_or_default().to_owned();
                                if let Some(log) = &ack_log {
                                    let line = json!({"i": i, "room": room_id, "records": n,
                                        "accepted": acc, "duplicates": dup});
                                    let mut f = log.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
                                    let _ = writeln!(f, "{line}");
                                }
                                t.rooms.entry(r).or_default().insert(room_id);
                            }
                            Ok((status, text)) => {
                                t.error(format!(
                                    "request {i}: HTTP {status}: {}",
                                    text.chars().take(300).collect::<String>()
                                ));
                                if o.stop_on_error {
                                    stop.store(true, Ordering::Relaxed);
                                }
                            }
                            Err(e) => {
                                t.error(format!("request {i}: {e}"));
                                if o.stop_on_error {
                                    stop.store(true, Ordering::Relaxed);
                                }
                            }
                        }
                    }
                    t
                })
            })
            .collect();
        for h in handles {
            total.merge(h.join().expect("a client thread"));
        }
    });
    if let Some(log) = ack_log {
        let _ = log.into_inner().map(|f| f.sync_all());
    }
    (total, started.elapsed().as_secs_f64())
}

/// Check that every room of the plan exists once and holds exactly its records.
fn verify(o: &Opts, plan: &Plan, admin: &str) -> Value {
    let agent = agent();
    let auth = format!("Bearer {admin}");
    let get = |path: &str| -> Result<Value, String> {
        let mut res =
            agent.get(format!("{}{path}", o.url)).header("Authorization", &auth).call().map_err(|e| e.to_string())?;
        let status = res.status().as_u16();
        let text = res.body_mut().with_config().limit(64 << 20).read_to_string().map_err(|e| e.to_string())?;
        if status == 200 {
            serde_json::from_str(&text).map_err(|e| e.to_string())
        } else {
            Err(format!("GET {path}: HTTP {status}: {text}"))
        }
    };
    // Every room the server knows, by computer name.
    let mut by_computer: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut cursor: Option<String> = None;
    loop {
        let mut path = "/api/v1/rooms?limit=1000".to_owned();
        if let Some(c) = &cursor {
            let _ = write!(path, "&cursor={c}");
        }
        let page = match get(&path) {
            Ok(v) => v,
            Err(e) => return json!({"ok": false, "error": e}),
        };
        for r in page["items"].as_array().into_iter().flatten() {
            let computer = r["computer"].as_str().unwrap_or_default().to_lowercase();
            by_computer.entry(computer).or_default().push(r["id"].as_str().unwrap_or_default().to_owned());
        }
        match page["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => break,
        }
    }
    let n = plan.rooms.len() as u64;
    let (mut expected_total, mut found_total, mut wrong, mut missing, mut twice) = (0u64, 0u64, 0u64, 0u64, 0u64);
    let mut examples = Vec::new();
    for (r, room) in plan.rooms.iter().enumerate() {
        let r = r as u64;
        let requests = o.max_requests / n + u64::from(r < o.max_requests % n);
        let expected = requests * plan.batch;
        expected_total += expected;
        let ids = by_computer.get(&room.computer.to_lowercase()).cloned().unwrap_or_default();
        if expected == 0 {
            continue;
        }
        match ids.as_slice() {
            [] => {
                missing += 1;
                examples.push(format!("{}: no such room", room.computer));
            }
            [id] => {
                let found = get(&format!("/api/v1/rooms/{id}")).ok().and_then(|v| v["records"].as_u64()).unwrap_or(0);
                found_total += found;
                if found != expected {
                    wrong += 1;
                    examples.push(format!("{} ({id}): {found} records, expected {expected}", room.computer));
                }
            }
            more => {
                twice += 1;
                examples.push(format!("{}: filed under {} rooms {more:?}", room.computer, more.len()));
            }
        }
    }
    examples.truncate(10);
    let ok = wrong == 0 && missing == 0 && twice == 0 && found_total == expected_total;
    json!({"ok": ok, "rooms": n, "records_expected": expected_total, "records_found": found_total,
        "rooms_wrong": wrong, "rooms_missing": missing, "rooms_twice": twice, "examples": examples})
}

fn main() {
    let o = parse_args();
    let plan = Plan::new(o.rooms, o.batch, o.start, o.history, o.outage);
    // The templates must give exactly what the fixtures write.
    let checks = if o.history.is_some() { vec![0, 3.min(o.rooms - 1)] } else { vec![0, 3, o.rooms * 2 + 3] };
    for i in checks {
        let mut b = String::new();
        plan.body(i, &mut b);
        assert!(b == plan.body_from_fixtures(i), "request {i}: the stamped batch differs from the fixtures' rendering");
    }
    let mut out = json!({});
    let mut failed = false;
    if !o.no_send {
        let (mut t, wall) = send(&o, &plan);
        if let Some(path) = &o.timeline {
            write_timeline(path, &t.timeline);
        }
        t.latencies_ms.sort_by(f64::total_cmp);
        let l = &t.latencies_ms;
        let rooms_twice = t.rooms.values().filter(|ids| ids.len() > 1).count();
        failed |= t.errors > 0 || t.partial > 0 || t.acked_missing > 0 || rooms_twice > 0;
        out = json!({
            "requests": t.ok + t.errors,
            "errors": t.errors,
            "records": t.records,
            "accepted": t.accepted,
            "duplicates": t.duplicates,
            "partial_batches": t.partial,
            "acked_missing": t.acked_missing,
            "rooms_twice": rooms_twice,
            "wall_s": round(wall),
            "records_per_s": round(t.records as f64 / wall),
            "requests_per_s": round((t.ok + t.errors) as f64 / wall),
            "mb_per_s": round(t.bytes as f64 / wall / 1e6),
            "latency_ms": {
                "p50": round(percentile(l, 50.0)),
                "p90": round(percentile(l, 90.0)),
                "p99": round(percentile(l, 99.0)),
                "max": round(l.last().copied().unwrap_or(0.0)),
            },
            "build_ms_per_request": round(t.build_ms / (t.ok + t.errors).max(1) as f64),
            "clients": o.clients,
            "rate": o.rate,
            "batch": o.batch,
            "first_error": t.first_error,
        });
    }
    if let Some(admin) = &o.verify {
        let v = verify(&o, &plan, admin);
        failed |= v["ok"] != json!(true);
        out["verify"] = v;
    }
    if let Some(days) = o.history {
        out["history"] = plan.history_expected(days, o.max_requests);
    }
    let _ = writeln!(std::io::stdout(), "{out}");
    std::process::exit(i32::from(failed));
}
