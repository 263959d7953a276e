//! History by day, per room and for the fleet, from incidents:
//!
//! - a signal's availability for a day is the share of the day without an incident on it;
//! - a room is unhealthy for a day when critical or important incidents affected it for more
//!   than 20 minutes in total between 05:00 and 21:00 in the room's local time (overlapping
//!   incidents count once).
//!
//! A room's day is its local day, in its time zone, not an offset: offsets change with daylight
//! saving over 90 days. The zone is the one `push` sent (or an admin set), an IANA name or a
//! Windows time-zone id (`data/windows_zones.toml`); else the UTC offset its records' times
//! carry (PowerShell 7 writes `TimeCreated` with the machine's offset), fixed; else UTC. The
//! history says which (`zone_source`: room, room-windows, record-offset, utc).

use std::collections::BTreeMap;
use std::sync::OnceLock;

use jiff::tz::TimeZone;
use jiff::{civil, Timestamp};
use serde::{Deserialize, Serialize};
use uctriage_store::{IncidentSpan, Room};

/// Minutes of critical or important incidents in the working hours that make a day unhealthy.
pub const UNHEALTHY_MINUTES: i64 = 20;
/// The working hours, local time.
pub const DAY_FROM_HOUR: i8 = 5;
pub const DAY_TO_HOUR: i8 = 21;
/// The signals every room's history reports, with or without incidents, in name order.
const BASE_SIGNALS: [&str; 4] = ["exchange", "network", "offline", "teams-signin"];

#[derive(Debug, Deserialize)]
struct WindowsZones {
    zones: BTreeMap<String, String>,
}

fn windows_zones() -> &'static BTreeMap<String, String> {
    static Z: OnceLock<BTreeMap<String, String>> = OnceLock::new();
    Z.get_or_init(|| match toml::from_str::<WindowsZones>(include_str!("../data/windows_zones.toml")) {
        Ok(z) => z.zones,
        Err(e) => panic!("data/windows_zones.toml is invalid (the server tests catch this): {e}"),
    })
}

/// A room's time zone and where it came from: `room` (an IANA name), `room-windows` (a Windows
/// id, mapped), or `utc` (none known, or not one we can read).
#[derive(Debug, Clone)]
pub struct Zone {
    pub tz: TimeZone,
    pub name: String,
    pub source: &'static str,
}

pub fn zone_of(room: &Room) -> Zone {
    let given = room.timezone.trim();
    if !given.is_empty() {
        if let Ok(tz) = TimeZone::get(given) {
            return Zone { tz, name: given.to_owned(), source: "room" };
        }
        if let Some(iana) = windows_zones().get(given) {
            if let Ok(tz) = TimeZone::get(iana) {
                return Zone { tz, name: iana.clone(), source: "room-windows" };
            }
        }
    }
    if let Some(text) = given.strip_prefix("offset:") {
        if let Some(off) = parse_offset(text) {
            return Zone { tz: TimeZone::fixed(off), name: format!("UTC{text}"), source: "record-offset" };
        }
    }
    Zone { tz: TimeZone::UTC, name: "UTC".into(), source: "utc" }
}

/// `+02:00`, `-05:30`.
fn parse_offset(s: &str) -> Option<jiff::tz::Offset> {
    let (sign, rest) = match s.as_bytes().first()? {
        b'+' => (1, &s[1..]),
        b'-' => (-1, &s[1..]),
        _ => return None,
    };
    let (h, m) = rest.split_once(':')?;
    let (h, m): (i32, i32) = (h.parse().ok()?, m.parse().ok()?);
    if h > 14 || m > 59 {
        return None;
    }
    jiff::tz::Offset::from_seconds(sign * (h * 3600 + m * 60)).ok()
}

/// The UTC offset of the first record time in a batch that carries one (PowerShell 7 writes
/// `TimeCreated` in the machine's local time with its offset), as `offset:+02:00`; a room
/// without a zone of its own gets its local day from it.
pub fn offset_in(body: &[u8]) -> Option<String> {
    static RE: OnceLock<regex::bytes::Regex> = OnceLock::new();
    let re = RE.get_or_init(|| {
        regex::bytes::Regex::new(
            r#""TimeCreated"\s*:\s*"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?([+-]\d{2}:\d{2})""#,
        )
        .expect("a fixed pattern")
    });
    let off = std::str::from_utf8(re.captures(body.get(..body.len().min(1 << 20))?)?.get(1)?.as_bytes()).ok()?;
    parse_offset(off).map(|_| format!("offset:{off}"))
}

#[derive(Debug, Clone, Serialize)]
pub struct RoomDay {
    /// The room's local date.
    pub date: String,
    pub unhealthy: bool,
    /// Minutes of critical or important incidents between 05:00 and 21:00 local.
    pub working_minutes_affected: i64,
    /// Percent of the day without an incident, per signal.
    pub availability: Availability,
}

/// Percent of a day without an incident, per signal: the base signals always, others on days
/// they had an incident. A JSON object in name order. (Not a map: 500 rooms of 90 days are
/// 45,000 of them, and a map each made the history a third slower.)
#[derive(Debug, Clone, PartialEq)]
pub struct Availability {
    /// In the order of [`BASE_SIGNALS`].
    base: [f64; 4],
    /// In name order.
    other: Vec<(String, f64)>,
}

impl Default for Availability {
    fn default() -> Availability {
        Availability { base: [100.0; 4], other: Vec::new() }
    }
}

impl Availability {
    pub fn get(&self, signal: &str) -> Option<f64> {
        match BASE_SIGNALS.iter().position(|b| *b == signal) {
            Some(n) => Some(self.base[n]),
            None => self.other.iter().find(|(s, _)| s == signal).map(|(_, v)| *v),
        }
    }

    fn set(&mut self, signal: &str, value: f64) {
        if let Some(n) = BASE_SIGNALS.iter().position(|b| *b == signal) {
            self.base[n] = value;
            return;
        }
        match self.other.binary_search_by(|(s, _)| s.as_str().cmp(signal)) {
            Ok(n) => self.other[n].1 = value,
            Err(n) => self.other.insert(n, (signal.to_owned(), value)),
        }
    }

    /// Every signal and its value, in name order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, f64)> {
        let mut base = BASE_SIGNALS.iter().copied().zip(self.base).peekable();
        let mut other = self.other.iter().map(|(s, v)| (s.as_str(), *v)).peekable();
        std::iter::from_fn(move || match (base.peek(), other.peek()) {
            (Some(b), Some(o)) if o.0 < b.0 => other.next(),
            (Some(_), _) => base.next(),
            (None, _) => other.next(),
        })
    }

    pub fn keys(&self) -> impl Iterator<Item = &str> {
        self.iter().map(|(s, _)| s)
    }
}

impl std::ops::Index<&str> for Availability {
    type Output = f64;

    fn index(&self, signal: &str) -> &f64 {
        match BASE_SIGNALS.iter().position(|b| *b == signal) {
            Some(n) => &self.base[n],
            None => self.other.iter().find(|(s, _)| s == signal).map(|(_, v)| v).expect("a signal of the day"),
        }
    }
}

impl Serialize for Availability {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut map = serializer.serialize_map(Some(BASE_SIGNALS.len() + self.other.len()))?;
        for (s, v) in self.iter() {
            map.serialize_entry(s, &v)?;
        }
        map.end()
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct RoomHistory {
    pub room_id: String,
    pub name: String,
    pub zone: String,
    pub zone_source: &'static str,
    pub unhealthy_days: usize,
    pub days: Vec<RoomDay>,
}

#[derive(Debug, Clone, Serialize)]
pub struct FleetDay {
    pub date: String,
    pub rooms: usize,
    pub unhealthy_rooms: usize,
    /// Mean over the rooms, per signal.
    pub availability: BTreeMap<String, f64>,
}

/// Milliseconds of `[a, b)` inside `[from, to)`.
fn overlap(a: i64, b: i64, from: i64, to: i64) -> i64 {
    (b.min(to) - a.max(from)).max(0)
}

/// The total length of the union of intervals clipped to `[from, to)`.
fn union_ms(mut spans: Vec<(i64, i64)>, from: i64, to: i64) -> i64 {
    spans.retain(|(a, b)| b > a);
    spans.sort_unstable();
    let mut total = 0;
    let mut cur: Option<(i64, i64)> = None;
    for (a, b) in spans {
        match &mut cur {
            Some((_, e)) if a <= *e => *e = (*e).max(b),
            _ => {
                if let Some((s, e)) = cur {
                    total += overlap(s, e, from, to);
                }
                cur = Some((a, b));
            }
        }
    }
    if let Some((s, e)) = cur {
        total += overlap(s, e, from, to);
    }
    total
}

fn local_ms(date: civil::Date, hour: i8, tz: &TimeZone) -> i64 {
    tz.to_ambiguous_timestamp(date.at(hour, 0, 0, 0)).compatible().map_or(0, Timestamp::as_millisecond)
}

/// `2025-07-15`, as `civil::Date` prints it, without the formatting machinery (45,000 dates in
/// the fleet's 90-day history).
fn date_text(d: civil::Date) -> String {
    let (y, m, day) = (d.year(), d.month(), d.day());
    if !(0..=9999).contains(&y) {
        return d.to_string();
    }
    let mut out = String::with_capacity(10);
    for (n, width) in [(i32::from(y), 4), (i32::from(m), 2), (i32::from(day), 2)] {
        if width == 2 {
            out.push('-');
        }
        let digits = [n / 1000 % 10, n / 100 % 10, n / 10 % 10, n % 10];
        for digit in &digits[4 - width..] {
            out.push(char::from(b'0' + *digit as u8));
        }
    }
    out
}

/// Intervals `[from, to)` in milliseconds.
type Spans = Vec<(i64, i64)>;

/// When an incident was bad, up to `now_ms`: from its start to its resolution, or, when it
/// reopened, from each (re)opening to the resolution after it. Between a resolution and a relapse
/// the signal was fine. A reopening is logged when the relapse's watch period had passed, so the
/// relapse began one watch period earlier.
pub fn bad_spans(i: &IncidentSpan, now_ms: i64) -> Spans {
    let until = i.resolved_ms.unwrap_or(now_ms);
    if i.log.is_empty() {
        return vec![(i.started_ms, until)];
    }
    let watch = crate::fleet::signal(&i.signal).map_or(0, |d| i64::from(d.watch) * 60_000);
    let mut out = Vec::new();
    let mut from = Some(i.started_ms);
    for (at, what) in &i.log {
        match what.as_str() {
            "resolved" => {
                if let Some(f) = from.take() {
                    out.push((f, *at));
                }
            }
            "reopened" => {
                from.get_or_insert(at - watch);
            }
            _ => {}
        }
    }
    if let Some(f) = from {
        out.push((f, until));
    }
    out
}

/// One room's last `days` local days up to `now_ms`, from its incidents (any state).
pub fn room_history(room: &Room, name: &str, incidents: &[&IncidentSpan], days: u32, now_ms: i64) -> RoomHistory {
    let zone = zone_of(room);
    let today = Timestamp::from_millisecond(now_ms)
        .map_or_else(|_| civil::date(1970, 1, 1), |t| t.to_zoned(zone.tz.clone()).date());
    // (signal, critical or important, when it was bad)
    let mine: Vec<(&str, bool, Spans)> = incidents
        .iter()
        .filter(|i| i.room_id == room.id)
        .map(|i| (i.signal.as_str(), matches!(i.severity.as_str(), "critical" | "important"), bad_spans(i, now_ms)))
        .collect();
    let mut out = Vec::with_capacity(days as usize);
    // Day by day from the first: each local midnight is computed once, the end of one day and
    // the start of the next (500 rooms of 90 days are 45,000 days).
    let mut date = today.checked_sub(jiff::Span::new().days(i64::from(days.max(1)) - 1)).unwrap_or(today);
    let mut start = local_ms(date, 0, &zone.tz);
    while date <= today {
        let next = date.tomorrow().ok();
        let next_start = next.map_or(start + 86_400_000, |d| local_ms(d, 0, &zone.tz));
        let end = next_start.min(now_ms.max(start));
        let len = (end - start).max(1);
        let mut availability = Availability::default();
        let mut by_signal: BTreeMap<&str, Vec<(i64, i64)>> = BTreeMap::new();
        let mut serious = Vec::new();
        for (signal, is_serious, spans) in &mine {
            for &(from, until) in spans {
                if overlap(from, until, start, end) == 0 {
                    continue;
                }
                by_signal.entry(*signal).or_default().push((from, until));
                if *is_serious {
                    serious.push((from, until));
                }
            }
        }
        for (signal, spans) in by_signal {
            let bad = union_ms(spans, start, end);
            let pct = 100.0 * (1.0 - bad as f64 / len as f64);
            availability.set(signal, (pct * 100.0).round() / 100.0);
        }
        // Working hours matter only on days with a critical or important incident.
        let working = if serious.is_empty() {
            0
        } else {
            union_ms(serious, local_ms(date, DAY_FROM_HOUR, &zone.tz), local_ms(date, DAY_TO_HOUR, &zone.tz)) / 60_000
        };
        out.push(RoomDay {
            date: date_text(date),
            unhealthy: working > UNHEALTHY_MINUTES,
            working_minutes_affected: working,
            availability,
        });
        match next {
            Some(n) => (date, start) = (n, next_start),
            None => break,
        }
    }
    RoomHistory {
        room_id: room.id.clone(),
        name: name.to_owned(),
        zone: zone.name,
        zone_source: zone.source,
        unhealthy_days: out.iter().filter(|d| d.unhealthy).count(),
        days: out,
    }
}

/// Every room's history from the incidents of every room; on up to four threads for a large
/// fleet (500 rooms of 90 days took 15 ms on one).
pub fn histories(rooms: &[Room], incidents: &[IncidentSpan], days: u32, now_ms: i64) -> Vec<RoomHistory> {
    let mut by_room: std::collections::HashMap<&str, Vec<&IncidentSpan>> = std::collections::HashMap::new();
    for i in incidents {
        by_room.entry(i.room_id.as_str()).or_default().push(i);
    }
    let one = |r: &Room| {
        let mine = by_room.get(r.id.as_str()).map_or(&[][..], Vec::as_slice);
        room_history(r, r.label(), mine, days, now_ms)
    };
    let threads = std::thread::available_parallelism().map_or(1, std::num::NonZero::get).min(4);
    if threads < 2 || rooms.len() < 100 {
        return rooms.iter().map(one).collect();
    }
    std::thread::scope(|s| {
        let parts: Vec<_> = rooms
            .chunks(rooms.len().div_ceil(threads))
            .map(|c| s.spawn(|| c.iter().map(one).collect::<Vec<_>>()))
            .collect();
        parts.into_iter().flat_map(|p| p.join().unwrap_or_else(|e| std::panic::resume_unwind(e))).collect()
    })
}

/// The fleet by date: rooms counted on their own local dates.
pub fn fleet_days(rooms: &[RoomHistory]) -> Vec<FleetDay> {
    /// One date's rooms, unhealthy rooms, and per signal the sum of availabilities and how many
    /// rooms had it (every room has the base signals).
    struct Sums<'a> {
        rooms: usize,
        unhealthy: usize,
        base: [f64; 4],
        other: Vec<(&'a str, f64, usize)>,
    }
    let mut index: std::collections::HashMap<&str, usize> = std::collections::HashMap::new();
    let mut dates: Vec<(&str, Sums)> = Vec::new();
    for r in rooms {
        for d in &r.days {
            let n = *index.entry(d.date.as_str()).or_insert_with(|| {
                dates.push((d.date.as_str(), Sums { rooms: 0, unhealthy: 0, base: [0.0; 4], other: Vec::new() }));
                dates.len() - 1
            });
            let sums = &mut dates[n].1;
            sums.rooms += 1;
            sums.unhealthy += usize::from(d.unhealthy);
            for (b, v) in sums.base.iter_mut().zip(d.availability.base) {
                *b += v;
            }
            for (s, v) in &d.availability.other {
                match sums.other.iter_mut().find(|e| e.0 == s) {
                    Some(e) => {
                        e.1 += v;
                        e.2 += 1;
                    }
                    None => sums.other.push((s, *v, 1)),
                }
            }
        }
    }
    dates.sort_unstable_by_key(|(date, _)| *date);
    let mean = |t: f64, n: usize| (t / n as f64 * 100.0).round() / 100.0;
    dates
        .into_iter()
        .map(|(date, sums)| {
            let mut availability: BTreeMap<String, f64> =
                BASE_SIGNALS.iter().zip(sums.base).map(|(s, t)| ((*s).to_owned(), mean(t, sums.rooms))).collect();
            availability.extend(sums.other.into_iter().map(|(s, t, n)| (s.to_owned(), mean(t, n))));
            FleetDay { date: date.to_owned(), rooms: sums.rooms, unhealthy_rooms: sums.unhealthy, availability }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIN: i64 = 60_000;

    fn room(tz: &str) -> Room {
        Room { timezone: tz.into(), ..Room::blank("rm") }
    }

    fn at(t: &str) -> i64 {
        t.parse::<Timestamp>().unwrap().as_millisecond()
    }

    fn incident(signal: &str, severity: &str, from: &str, minutes: i64) -> IncidentSpan {
        let start = at(from);
        IncidentSpan {
            room_id: "rm".into(),
            signal: signal.into(),
            severity: severity.into(),
            started_ms: start,
            resolved_ms: Some(start + minutes * MIN),
            log: Vec::new(),
        }
    }

    fn refs(v: &[IncidentSpan]) -> Vec<&IncidentSpan> {
        v.iter().collect()
    }

    #[test]
    fn zones_from_iana_windows_or_utc() {
        assert_eq!(zone_of(&room("Europe/Berlin")).source, "room");
        let w = zone_of(&room("W. Europe Standard Time"));
        assert_eq!((w.name.as_str(), w.source), ("Europe/Berlin", "room-windows"));
        assert_eq!(zone_of(&room("Mars Standard Time")).source, "utc");
        let o = zone_of(&room("offset:+05:30"));
        assert_eq!((o.name.as_str(), o.source), ("UTC+05:30", "record-offset"));
        assert_eq!(zone_of(&room("offset:+99:00")).source, "utc");
        let ps7 = br#"[{"Id":2000,"TimeCreated":"2025-07-15T12:00:00.1234567-04:00","Message":"x"}]"#;
        assert_eq!(offset_in(ps7).as_deref(), Some("offset:-04:00"));
        assert_eq!(offset_in(br#"[{"TimeCreated":"\/Date(1752573600000)\/"}]"#), None);
        assert_eq!(zone_of(&room("")).source, "utc");
    }

    #[test]
    fn the_unhealthy_day_rule_counts_working_hours_in_local_time() {
        let now = "2025-07-16T23:00:00Z".parse::<Timestamp>().unwrap().as_millisecond();
        // Berlin is UTC+2 in July. 03:30–03:55 UTC is 05:30–05:55 local: 25 minutes inside the
        // working hours; two incidents overlapping count once.
        let berlin = room("Europe/Berlin");
        let inc = [
            incident("exchange", "critical", "2025-07-15T03:30:00Z", 25),
            incident("teams-signin", "critical", "2025-07-15T03:30:00Z", 25),
        ];
        let h = room_history(&berlin, "Boardroom", &refs(&inc), 3, now);
        let d = h.days.iter().find(|d| d.date == "2025-07-15").unwrap();
        assert_eq!((d.unhealthy, d.working_minutes_affected), (true, 25));
        assert!((d.availability["exchange"] - (100.0 - 25.0 / 14.4)).abs() < 0.01, "{:?}", d.availability);
        assert!((d.availability["network"] - 100.0).abs() < f64::EPSILON);
        // The same incident in a UTC room falls before 05:00: not an unhealthy day.
        let utc = room("");
        let h = room_history(&utc, "x", &refs(&inc), 3, now);
        let d = h.days.iter().find(|d| d.date == "2025-07-15").unwrap();
        assert_eq!((d.unhealthy, d.working_minutes_affected, h.zone_source), (false, 0, "utc"));
        // Warnings never make a day unhealthy; 20 minutes exactly is not more than 20.
        let mild = [
            incident("app-restarts", "warning", "2025-07-15T10:00:00Z", 120),
            incident("network", "critical", "2025-07-15T12:00:00Z", 20),
        ];
        let h = room_history(&utc, "x", &refs(&mild), 3, now);
        assert_eq!(h.unhealthy_days, 0);
        let fleet = fleet_days(&[room_history(&berlin, "a", &refs(&inc), 3, now), h]);
        let day = fleet.iter().find(|d| d.date == "2025-07-15").unwrap();
        assert_eq!((day.rooms, day.unhealthy_rooms), (2, 1));
    }

    #[test]
    fn a_large_fleet_computed_on_several_threads_is_the_same_in_the_same_order() {
        let now = at("2025-07-18T12:00:00Z");
        let rooms: Vec<Room> = (0..250)
            .map(|n| Room {
                timezone: ["Europe/Berlin", "", "Tokyo Standard Time"][n % 3].into(),
                ..Room::blank(&format!("rm{n:03}"))
            })
            .collect();
        let incidents: Vec<IncidentSpan> = rooms
            .iter()
            .enumerate()
            .map(|(n, r)| IncidentSpan {
                room_id: r.id.clone(),
                ..incident("network", "critical", "2025-07-15T08:00:00Z", 10 * (n as i64 % 7))
            })
            .collect();
        let all = histories(&rooms, &incidents, 7, now);
        assert_eq!(all.len(), rooms.len());
        for (r, h) in rooms.iter().zip(&all) {
            let mine: Vec<&IncidentSpan> = incidents.iter().filter(|i| i.room_id == r.id).collect();
            let one = room_history(r, r.label(), &mine, 7, now);
            assert_eq!((h.room_id.as_str(), h.unhealthy_days), (r.id.as_str(), one.unhealthy_days));
            assert_eq!(serde_json::to_string(h).unwrap(), serde_json::to_string(&one).unwrap());
        }
    }

    #[test]
    fn dates_print_as_jiff_prints_them() {
        for d in [civil::date(2025, 7, 5), civil::date(0, 1, 1), civil::date(9999, 12, 31), civil::date(-3, 2, 1)] {
            assert_eq!(date_text(d), d.to_string());
        }
    }

    #[test]
    fn a_reopened_incident_is_bad_only_while_it_was_open() {
        // Exchange bad for an hour on Monday, fine until a relapse of an hour on Thursday (the
        // same incident, reopened when the relapse's 30-minute watch had passed), still bad now.
        let now = at("2025-07-18T12:00:00Z");
        let mut i = incident("exchange", "critical", "2025-07-14T10:00:00Z", 60);
        i.log = vec![
            (at("2025-07-14T11:00:00Z"), "resolved".into()),
            (at("2025-07-17T10:30:00Z"), "reopened".into()),
            (at("2025-07-17T11:00:00Z"), "resolved".into()),
            (at("2025-07-18T09:30:00Z"), "reopened".into()),
        ];
        i.resolved_ms = None;
        assert_eq!(
            bad_spans(&i, now),
            [
                (at("2025-07-14T10:00:00Z"), at("2025-07-14T11:00:00Z")),
                (at("2025-07-17T10:00:00Z"), at("2025-07-17T11:00:00Z")),
                (at("2025-07-18T09:00:00Z"), now),
            ]
        );
        let h = room_history(&room(""), "x", &[&i], 5, now);
        let by_date: BTreeMap<&str, &RoomDay> = h.days.iter().map(|d| (d.date.as_str(), d)).collect();
        assert_eq!(by_date["2025-07-14"].working_minutes_affected, 60);
        for quiet in ["2025-07-15", "2025-07-16"] {
            assert!((by_date[quiet].availability["exchange"] - 100.0).abs() < f64::EPSILON, "{quiet}");
            assert!(!by_date[quiet].unhealthy, "{quiet}");
        }
        assert_eq!(by_date["2025-07-17"].working_minutes_affected, 60);
        assert_eq!(by_date["2025-07-18"].working_minutes_affected, 180);
        assert_eq!(h.unhealthy_days, 3);
    }
}
