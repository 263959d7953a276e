//! Recurring maintenance windows, judged in each room's local time (its zone, see
//! [`crate::history::zone_of`]): the nightly update window is 02:00–04:00 where the room is.

use jiff::Timestamp;
use uctriage_store::{Room, Window};

const DAYS: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];

/// `HH:MM` to minutes after midnight.
pub fn parse_hhmm(s: &str) -> Option<i64> {
    let (h, m) = s.trim().split_once(':')?;
    let (h, m): (i64, i64) = (h.parse().ok()?, m.parse().ok()?);
    ((0..24).contains(&h) && (0..60).contains(&m)).then_some(h * 60 + m)
}

/// A normalized day list (`mon,wed`), or why it is not one.
pub fn parse_days(s: &str) -> Result<String, String> {
    let mut out = Vec::new();
    for d in s.split(',').map(|d| d.trim().to_ascii_lowercase()).filter(|d| !d.is_empty()) {
        let d: String = d.chars().take(3).collect();
        if !DAYS.contains(&d.as_str()) {
            return Err(format!("{d:?} is not a weekday (mon … sun)"));
        }
        if !out.contains(&d) {
            out.push(d);
        }
    }
    Ok(out.join(","))
}

fn day_listed(days: &str, index: usize) -> bool {
    days.is_empty() || days.split(',').any(|d| d == DAYS[index % 7])
}

/// Does `w` cover `room` at `now_ms`?
pub fn covers(w: &Window, room: &Room, now_ms: i64) -> bool {
    if (!w.room_id.is_empty() && w.room_id != room.id)
        || (!w.site.is_empty() && !w.site.eq_ignore_ascii_case(&room.site))
    {
        return false;
    }
    let zone = crate::history::zone_of(room);
    let Ok(t) = Timestamp::from_millisecond(now_ms) else { return false };
    let local = t.to_zoned(zone.tz);
    let minute = i64::from(local.hour()) * 60 + i64::from(local.minute());
    let today = local.weekday().to_monday_zero_offset() as usize;
    if w.start_min <= w.end_min {
        day_listed(&w.days, today) && (w.start_min..w.end_min).contains(&minute)
    } else if minute >= w.start_min {
        day_listed(&w.days, today)
    } else {
        // Past midnight: the window began yesterday.
        minute < w.end_min && day_listed(&w.days, today + 6)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn room(tz: &str) -> Room {
        Room { timezone: tz.into(), site: "HQ".into(), ..Room::blank("rm") }
    }

    fn at(s: &str) -> i64 {
        s.parse::<Timestamp>().unwrap().as_millisecond()
    }

    #[test]
    fn windows_follow_local_time_weekdays_and_midnight() {
        let nightly = Window {
            id: "w".into(),
            room_id: String::new(),
            site: String::new(),
            days: parse_days("Mon,Tue,wed,thu,fri").unwrap(),
            start_min: parse_hhmm("23:30").unwrap(),
            end_min: parse_hhmm("02:00").unwrap(),
            reason: "updates".into(),
            created_ms: 0,
        };
        let berlin = room("Europe/Berlin");
        // Tuesday 2025-07-15 22:00 UTC is 00:00 Wednesday in Berlin: inside Tuesday's window.
        assert!(covers(&nightly, &berlin, at("2025-07-15T22:00:00Z")));
        // 00:30 UTC is 02:30 local: after it.
        assert!(!covers(&nightly, &berlin, at("2025-07-16T00:30:00Z")));
        // Saturday 23:45 local: not a listed day.
        assert!(!covers(&nightly, &berlin, at("2025-07-19T21:45:00Z")));
        // The same UTC moment in a UTC room is 22:00: outside.
        assert!(!covers(&nightly, &room(""), at("2025-07-15T22:00:00Z")));
        let other_site = Window { site: "Annex".into(), ..nightly.clone() };
        assert!(!covers(&other_site, &berlin, at("2025-07-15T22:00:00Z")));
        assert!(parse_days("mon,funday").is_err());
        assert_eq!(parse_hhmm("24:00"), None);
    }
}
