//! Timestamps as logs write them, to UTC.
//!
//! Sources write times in many ways: RFC 3339, ISO without a zone, PowerShell's `/Date(ms)/`,
//! Event Viewer's locale-dependent `7/15/2025 8:30:11 AM` or `15.07.2025 08:30:11`, the classic
//! Teams client's `Tue Jul 15 2025 08:30:11 GMT+0200 (…)`, syslog's `Jul 15 08:30:11`. Times
//! without a zone are taken as UTC: exports of this kind carry the exporting machine's local time
//! and no zone, so the caller cannot do better without being told the zone.

use jiff::civil::{Date, DateTime, Time};
use jiff::{Timestamp, ToSpan};

/// Day-month order for numeric dates such as `05/07/2025`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DateOrder {
    /// `7/15/2025` (United States).
    #[default]
    MonthFirst,
    /// `15/07/2025`, `15.07.2025` (most other locales).
    DayFirst,
}

/// RFC 3339 in UTC with whole seconds: `2025-07-15T08:30:11Z`.
pub fn rfc3339(t: Timestamp) -> String {
    t.strftime("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// Serde for a timestamp written as [`rfc3339`]: `#[serde(with = "uctriage_evidence::time::serde_rfc3339")]`.
/// Reading accepts every form [`parse`] knows.
pub mod serde_rfc3339 {
    use jiff::Timestamp;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(t: &Timestamp, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(&super::rfc3339(*t))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Timestamp, D::Error> {
        let text = std::borrow::Cow::<str>::deserialize(d)?;
        super::parse(&text).ok_or_else(|| serde::de::Error::custom(format!("{text:?} is not a time")))
    }
}

/// Serde for an optional timestamp: [`rfc3339`] or `null`.
pub mod serde_rfc3339_opt {
    use jiff::Timestamp;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(t: &Option<Timestamp>, s: S) -> Result<S::Ok, S::Error> {
        match t {
            Some(t) => s.collect_str(&super::rfc3339(*t)),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Timestamp>, D::Error> {
        match Option::<std::borrow::Cow<'de, str>>::deserialize(d)? {
            None => Ok(None),
            Some(text) => {
                super::parse(&text).map(Some).ok_or_else(|| serde::de::Error::custom(format!("{text:?} is not a time")))
            }
        }
    }
}

/// RFC 3339 in UTC with the fraction of a second the source gave (none when it is whole):
/// `2025-07-15T08:30:09.2231405Z`. Evidence records keep it, so a record read back keys the
/// same as when it was first read.
pub fn rfc3339_precise(t: Timestamp) -> String {
    t.strftime("%Y-%m-%dT%H:%M:%S%.fZ").to_string()
}

/// Serde for an optional timestamp at full precision: [`rfc3339_precise`] or `null`.
pub mod serde_rfc3339_precise_opt {
    use jiff::Timestamp;
    use serde::{Deserializer, Serializer};

    pub fn serialize<S: Serializer>(t: &Option<Timestamp>, s: S) -> Result<S::Ok, S::Error> {
        match t {
            Some(t) => s.collect_str(&super::rfc3339_precise(*t)),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Timestamp>, D::Error> {
        super::serde_rfc3339_opt::deserialize(d)
    }
}

/// Parse any supported form; numeric dates are read month first unless the day cannot be a month.
pub fn parse(s: &str) -> Option<Timestamp> {
    parse_with(s, DateOrder::MonthFirst)
}

/// Parse any supported form with a known day-month order for numeric dates.
pub fn parse_with(s: &str, order: DateOrder) -> Option<Timestamp> {
    let s = s.trim().trim_matches('"');
    if s.is_empty() || s.len() > 80 {
        return None;
    }
    if let Some(t) = ms_date(s) {
        return Some(t);
    }
    if let Ok(t) = s.parse::<Timestamp>() {
        return Some(t);
    }
    if let Some(t) = iso_like(s) {
        return Some(t);
    }
    if let Some(t) = numeric_date(s, order) {
        return Some(t);
    }
    js_date(s)
}

/// Seconds or milliseconds since the epoch, as written in JSON exports.
pub fn from_epoch(n: i64) -> Option<Timestamp> {
    if n.unsigned_abs() > 100_000_000_000 {
        Timestamp::from_millisecond(n).ok()
    } else {
        Timestamp::from_second(n).ok()
    }
}

/// `/Date(1752568211000)/` or `/Date(1752568211000+0200)/` (PowerShell ConvertTo-Json).
fn ms_date(s: &str) -> Option<Timestamp> {
    let inner = s.strip_prefix("/Date(")?.strip_suffix(")/")?;
    let end = inner.char_indices().skip(1).find(|(_, c)| *c == '+' || *c == '-').map_or(inner.len(), |(i, _)| i);
    Timestamp::from_millisecond(inner[..end].parse().ok()?).ok()
}

/// Windows FILETIME (100 ns ticks since 1601-01-01).
pub fn from_filetime(ticks: u64) -> Option<Timestamp> {
    const EPOCH_DIFF_SECS: i64 = 11_644_473_600;
    let secs = i64::try_from(ticks / 10_000_000).ok()? - EPOCH_DIFF_SECS;
    let nanos = i32::try_from((ticks % 10_000_000) * 100).ok()?;
    Timestamp::new(secs, nanos).ok()
}

fn time_of_day(s: &str) -> Option<(Time, &str)> {
    // hh:mm[:ss[.fffffff]] then the rest
    let s = s.trim_start();
    let end = s.find(|c: char| !(c.is_ascii_digit() || c == ':' || c == '.' || c == ',')).unwrap_or(s.len());
    let (clock, rest) = s.split_at(end);
    let (hms, frac) = match clock.find(['.', ',']) {
        Some(i) => (&clock[..i], &clock[i + 1..]),
        None => (clock, ""),
    };
    let mut parts = hms.split(':');
    let h: i8 = parts.next()?.parse().ok()?;
    let m: i8 = parts.next()?.parse().ok()?;
    let sec: i8 = parts.next().map_or(Some(0), |x| x.parse().ok())?;
    if parts.next().is_some() {
        return None;
    }
    let digits: String = frac.chars().take(9).collect();
    let nanos: i32 = if digits.is_empty() { 0 } else { format!("{digits:0<9}").parse().ok()? };
    Some((Time::new(h, m, sec.min(59), nanos).ok()?, rest))
}

/// Apply `AM`/`PM` and a trailing zone (`Z`, `UTC`, `GMT`, `+02:00`, `+0200`).
fn finish(date: Date, time: Time, rest: &str) -> Option<Timestamp> {
    let mut rest = rest.trim();
    let mut time = time;
    for (marker, pm) in [("AM", false), ("PM", true), ("am", false), ("pm", true)] {
        if let Some(r) = rest.strip_prefix(marker) {
            let h = time.hour() % 12 + if pm { 12 } else { 0 };
            time = Time::new(h, time.minute(), time.second(), time.subsec_nanosecond()).ok()?;
            rest = r.trim();
            break;
        }
    }
    let dt = DateTime::from_parts(date, time);
    let base = dt.to_zoned(jiff::tz::TimeZone::UTC).ok()?.timestamp();
    let zone = rest.trim_start_matches("UTC").trim_start_matches("GMT").trim_start_matches('Z').trim();
    if zone.is_empty() {
        return Some(base);
    }
    let (sign, digits) = match zone.as_bytes()[0] {
        b'+' => (1i64, &zone[1..]),
        b'-' => (-1i64, &zone[1..]),
        _ => return Some(base),
    };
    let digits: String =
        digits.chars().take_while(|c| c.is_ascii_digit() || *c == ':').filter(char::is_ascii_digit).collect();
    let (hh, mm) = match digits.len() {
        1 | 2 => (digits.parse::<i64>().ok()?, 0),
        4 => (digits[..2].parse::<i64>().ok()?, digits[2..].parse::<i64>().ok()?),
        _ => return Some(base),
    };
    base.checked_sub((sign * (hh * 60 + mm)).minutes()).ok()
}

/// `2025-07-15 08:30:11`, `2025-07-15T08:30:11.123`, `2025-07-15 08:30:11.000 UTC`.
fn iso_like(s: &str) -> Option<Timestamp> {
    if s.len() < 10 || s.as_bytes()[4] != b'-' {
        return None;
    }
    let date: Date = s.get(..10)?.parse().ok()?;
    let rest = s[10..].trim_start_matches(['T', ' ']);
    if rest.is_empty() {
        return finish(date, Time::midnight(), "");
    }
    let (time, rest) = time_of_day(rest)?;
    finish(date, time, rest)
}

/// `7/15/2025 8:30:11 AM`, `15.07.2025 08:30:11`, `15-07-2025 08:30`.
fn numeric_date(s: &str, order: DateOrder) -> Option<Timestamp> {
    let end = s.find(' ').unwrap_or(s.len());
    let (d, rest) = s.split_at(end);
    let sep = d.chars().find(|c| matches!(c, '/' | '.' | '-'))?;
    let nums: Vec<i16> = d.split(sep).map(|x| x.parse().ok()).collect::<Option<_>>()?;
    let [a, b, y] = nums[..] else { return None };
    let y = if y < 100 { 2000 + y } else { y };
    let (month, day) = match order {
        _ if a > 12 => (b, a),
        _ if b > 12 => (a, b),
        DateOrder::MonthFirst if sep == '/' => (a, b),
        _ => (b, a),
    };
    let date = Date::new(y, i8::try_from(month).ok()?, i8::try_from(day).ok()?).ok()?;
    let rest = rest.trim();
    if rest.is_empty() {
        return finish(date, Time::midnight(), "");
    }
    let (time, rest) = time_of_day(rest)?;
    finish(date, time, rest)
}

const MONTHS: [&str; 12] = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"];

fn month(s: &str) -> Option<i8> {
    let l = s.get(..3)?.to_ascii_lowercase();
    MONTHS.iter().position(|m| *m == l).map(|i| i as i8 + 1)
}

/// `Tue Jul 15 2025 08:30:11 GMT+0200 (Central European Summer Time)` (classic Teams logs).
fn js_date(s: &str) -> Option<Timestamp> {
    let s = s.split(" (").next()?;
    let mut words: Vec<&str> = s.split_whitespace().collect();
    if words.first().is_some_and(|w| month(w).is_none()) {
        words.remove(0);
    }
    let [mon, day, year, clock, rest @ ..] = &words[..] else { return None };
    let date = Date::new(year.parse().ok()?, month(mon)?, day.trim_end_matches(',').parse().ok()?).ok()?;
    let (time, _) = time_of_day(clock)?;
    finish(date, time, &rest.join(" "))
}

/// Syslog's `Jul 15 08:30:11` has no year: the caller supplies one.
pub fn parse_syslog(s: &str, year: i16) -> Option<Timestamp> {
    let mut w = s.split_whitespace();
    let m = month(w.next()?)?;
    let d: i8 = w.next()?.parse().ok()?;
    let (time, _) = time_of_day(w.next()?)?;
    finish(Date::new(year, m, d).ok()?, time, "")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> Option<String> {
        parse(s).map(rfc3339)
    }

    #[test]
    fn forms_seen_in_exports() {
        let want = Some("2025-07-15T08:30:11Z".to_owned());
        for s in [
            "2025-07-15T08:30:11Z",
            "2025-07-15T08:30:11.1234567Z",
            "2025-07-15T10:30:11+02:00",
            "2025-07-15 08:30:11",
            "2025-07-15T08:30:11.123",
            "2025-07-15 08:30:11.000 UTC",
            "/Date(1752568211000)/",
            "/Date(1752568211000+0200)/",
            "7/15/2025 8:30:11 AM",
            "07/15/2025 08:30:11",
            "15.07.2025 08:30:11",
            "Tue Jul 15 2025 10:30:11 GMT+0200 (Central European Summer Time)",
            "Jul 15 2025 08:30:11 GMT",
        ] {
            assert_eq!(p(s), want, "{s}");
        }
        assert_eq!(p("7/15/2025 8:30:11 PM"), Some("2025-07-15T20:30:11Z".into()));
        assert_eq!(p("12/1/2025 12:05:00 AM"), Some("2025-12-01T00:05:00Z".into()));
        assert_eq!(
            parse_with("05/07/2025 08:00:00", DateOrder::DayFirst).map(rfc3339),
            Some("2025-07-05T08:00:00Z".into())
        );
        assert_eq!(parse_syslog("Jul 15 08:30:11", 2025).map(rfc3339), want);
        assert_eq!(from_epoch(1_752_568_211).map(rfc3339), want);
        assert_eq!(from_epoch(1_752_568_211_000).map(rfc3339), want);
    }

    #[test]
    fn junk_is_none() {
        for s in ["", "yesterday", "99/99/9999 99:99", "2025-13-45", "/Date(x)/", "Foo Bar 1 2 3"] {
            assert_eq!(p(s), None, "{s}");
        }
    }
}

#[cfg(test)]
mod precise_tests {
    use super::*;

    #[test]
    fn the_fraction_survives_a_round_trip() {
        let t = parse("2025-07-15T08:30:09.2231405Z").unwrap();
        assert_eq!(rfc3339_precise(t), "2025-07-15T08:30:09.2231405Z");
        assert_eq!(parse(&rfc3339_precise(t)), Some(t));
        assert_eq!(rfc3339_precise(parse("2025-07-15T08:30:09Z").unwrap()), "2025-07-15T08:30:09Z");
    }
}
