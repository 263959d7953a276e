//! Teams admin center usage exports as CSV: the Direct Routing tab of the PSTN usage report
//! (final SIP code, Microsoft subcode, SBC FQDN…) and the Calling Plans PSTN usage export. One
//! `call-record` per row.
//!
//! Headers are matched on their words, as exports really write them: case, spaces, punctuation
//! and a byte-order mark are ignored, a zone or a unit in brackets or at the end of the name is
//! set apart (`Start time (UTC)`, `Date (UTC)`, `Duration (seconds)`, `StartTimeUtc`), columns may
//! come in any order, and common German, French and Spanish names are known. The separator is
//! the header's most frequent of comma, semicolon and tab. A zone with an offset in a time
//! column's name (`Start time (UTC+02:00)`) applies to times written without one; a duration in
//! minutes or milliseconds, or as `hh:mm:ss`, is turned into seconds. A header without a time
//! column, and times that cannot be read, are warnings: the records then have no time.

use uctriage_evidence::time::{self, DateOrder};
use uctriage_evidence::{Code, Evidence};

use super::{Emitter, ReadError, Reader};
use crate::input::{Head, Input};

#[derive(Debug)]
pub struct DrCsv;

/// Longest logical row (quoted fields may span lines).
const MAX_ROW: usize = 256 * 1024;

/// Words that say a column's zone or unit rather than what it holds.
const QUALIFIERS: &[&str] = &[
    "utc",
    "gmt",
    "local",
    "localtime",
    "seconds",
    "second",
    "secs",
    "sec",
    "minutes",
    "minute",
    "mins",
    "min",
    "ms",
    "milliseconds",
    "hhmmss",
    "sekunden",
    "secondes",
    "segundos",
    "ortszeit",
];

/// A header name by its words: lower case, letters and digits of any script, split at spaces,
/// punctuation and camel-case humps, joined; what brackets hold (`(UTC)`, `[seconds]`) and
/// qualifier words at its end (`UTC`, `in seconds`) are set apart as the second value.
/// `Start time (UTC)` → (`starttime`, `utc`); `DurationInSeconds` → (`duration`, `seconds`).
pub(super) fn header_key(h: &str) -> (String, String) {
    let h = h.trim().trim_start_matches('\u{feff}').trim().trim_matches('"');
    let mut main = String::new();
    let mut note = String::new();
    let mut depth = 0usize;
    for c in h.chars() {
        match c {
            '(' | '[' | '{' => depth += 1,
            ')' | ']' | '}' => depth = depth.saturating_sub(1),
            c if depth > 0 => note.push(c),
            c => main.push(c),
        }
    }
    let mut words: Vec<String> = Vec::new();
    let mut cur = String::new();
    let mut prev_lower = false;
    for c in main.chars() {
        if !c.is_alphanumeric() {
            if !cur.is_empty() {
                words.push(std::mem::take(&mut cur));
            }
            prev_lower = false;
            continue;
        }
        if c.is_uppercase() && prev_lower && !cur.is_empty() {
            words.push(std::mem::take(&mut cur));
        }
        prev_lower = c.is_lowercase() || c.is_numeric();
        cur.extend(c.to_lowercase());
    }
    if !cur.is_empty() {
        words.push(cur);
    }
    let mut tail = Vec::new();
    while words.len() > 1 && words.last().is_some_and(|w| QUALIFIERS.contains(&w.as_str())) {
        tail.insert(0, words.pop().unwrap_or_default());
        if words.len() > 1 && words.last().is_some_and(|w| matches!(w.as_str(), "in" | "en" | "em")) {
            words.pop();
        }
    }
    let note = [note.trim().to_lowercase(), tail.join(" ")].into_iter().filter(|s| !s.is_empty()).collect::<Vec<_>>();
    (words.concat(), note.join(" "))
}

/// The offset of a zone written in a header (`UTC+02:00`, `GMT-5`, `UTC+0530`), in seconds east.
fn zone_offset(note: &str) -> Option<i32> {
    let n = note.to_ascii_lowercase();
    let at = n.find("utc").or_else(|| n.find("gmt"))?;
    let rest = n[at + 3..].trim();
    if rest.is_empty() {
        return Some(0);
    }
    let sign = match rest.as_bytes()[0] {
        b'+' => 1,
        b'-' => -1,
        _ => return Some(0),
    };
    let digits: String = rest[1..].chars().take_while(|c| c.is_ascii_digit() || *c == ':').collect();
    let (h, m) = match digits.split_once(':') {
        Some((h, m)) => (h.parse::<i32>().ok()?, m.parse::<i32>().ok()?),
        None if digits.len() > 2 => {
            (digits[..digits.len() - 2].parse().ok()?, digits[digits.len() - 2..].parse().ok()?)
        }
        None => (digits.parse().ok()?, 0),
    };
    (h <= 14 && m < 60).then_some(sign * (h * 3600 + m * 60))
}

/// True when a time value carries its own zone (`Z`, `+02:00`, `UTC`).
fn has_zone(v: &str) -> bool {
    let v = v.trim();
    let b = v.as_bytes();
    if v.ends_with(['Z', 'z']) || v.to_ascii_uppercase().contains("UTC") || v.to_ascii_uppercase().contains("GMT") {
        return true;
    }
    // `+hh:mm`, `-hhmm` or `+hh` after the clock.
    let tail = &b[b.len().saturating_sub(6)..];
    tail.iter().rposition(|c| *c == b'+' || *c == b'-').is_some_and(|i| {
        let after = &tail[i + 1..];
        !after.is_empty() && after.iter().all(|c| c.is_ascii_digit() || *c == b':') && v.contains(':')
    }) && v.len() > 10
}

/// A duration in seconds from a value and the unit its header names: plain seconds, minutes,
/// milliseconds, or `hh:mm:ss` whatever the header says.
#[allow(clippy::cast_possible_truncation)] // the value is bounded before the cast
fn duration_seconds(v: &str, unit: &str) -> Option<i64> {
    let v = v.trim();
    if v.contains(':') {
        let parts: Vec<f64> = v.split(':').map(|p| p.trim().parse::<f64>()).collect::<Result<_, _>>().ok()?;
        let secs = parts.iter().fold(0.0, |acc, p| acc * 60.0 + p);
        return (parts.len() <= 3 && secs.is_finite()).then(|| secs.round() as i64);
    }
    let n: f64 = v.replace(',', ".").parse().ok()?;
    let factor = if unit.split_whitespace().any(|u| matches!(u, "minutes" | "minute" | "mins" | "min")) {
        60.0
    } else if unit.split_whitespace().any(|u| matches!(u, "ms" | "milliseconds")) {
        0.001
    } else {
        1.0
    };
    let secs = n * factor;
    (secs.is_finite() && secs.abs() < 1e12).then(|| secs.round() as i64)
}

/// A time as exports write it: any form `time::parse` knows, numeric dates day first when month
/// first cannot be (`15/07/2025`).
fn parse_time(v: &str) -> Option<jiff::Timestamp> {
    time::parse(v).or_else(|| time::parse_with(v, DateOrder::DayFirst))
}

/// The evidence field a column fills (docs/evidence-fields.md, call-record).
fn field_for(h: &str) -> Option<&'static str> {
    Some(match h {
        "starttime" | "startdatetime" | "start" | "calldate" | "datetime" | "date" | "time" | "timestamp"
        | "calltime" | "callstarttime" | "startzeit" | "beginn" | "datum" | "heurededébut" | "datedébut"
        | "débutdelappel" | "horadeinicio" | "fechadeinicio" | "fecha" => "start",
        "endtime"
        | "enddatetime"
        | "end"
        | "callendtime"
        | "endzeit"
        | "ende"
        | "heuredefin"
        | "horadefinalización"
        | "horadefin" => "end",
        "success" | "successfulcall" | "successful" | "callsuccess" | "erfolgreich" | "réussi" | "réussite"
        | "correcto" => "success",
        "callernumber"
        | "caller"
        | "callerid"
        | "fromnumber"
        | "anrufernummer"
        | "anrufer"
        | "numérodelappelant"
        | "appelant"
        | "númerodelautordelallamada"
        | "llamante" => "caller",
        "calleenumber"
        | "callee"
        | "destinationnumber"
        | "tonumber"
        | "angerufenenummer"
        | "angerufener"
        | "zielnummer"
        | "numérodelappelé"
        | "appelé"
        | "númerodeldestinatario"
        | "destinatario" => "callee",
        "calltype" => "call_type",
        "azureregion" | "azureregionformedia" | "mediapathlocation" | "mediaregion" | "mediapath" => {
            "media_path_location"
        }
        "azureregionforsignaling"
        | "azureregionforsignalling"
        | "signalinglocation"
        | "signallinglocation"
        | "signalingregion" => "signaling_location",
        "sbcfqdn"
        | "trunkfqdn"
        | "trunkfullyqualifieddomainname"
        | "fqdn"
        | "sbc"
        | "trunk"
        | "fqdndusbc"
        | "fqdndelsbc" => "sbc_fqdn",
        "finalsipcode"
        | "sipcode"
        | "finalsipresponsecode"
        | "finalsipcodecode"
        | "endgültigersipcode"
        | "sipendcode"
        | "codesipfinal"
        | "códigosipfinal" => "final_sip_code",
        "finalmicrosoftsubcode"
        | "microsoftsubcode"
        | "callendsubreason"
        | "microsoftresponsecode"
        | "finalmicrosoftresponsecode"
        | "subcode"
        | "endgültigermicrosoftsubcode"
        | "souscodemicrosoftfinal"
        | "subcódigofinaldemicrosoft" => "call_end_sub_reason",
        "finalsipphrase" | "finalsipcodephrase" | "sipphrase" | "finalsipresponsephrase" => "final_sip_phrase",
        "correlationid" => "correlation_id",
        "sharedcorrelationid" => "shared_correlation_id",
        "callid" | "id" => "call_id",
        "usageid" => "usage_id",
        "invitetime" | "invitedatetime" => "invite_time",
        "failuretime" | "failuredatetime" => "failure_time",
        "mediabypass" | "mediabypassenabled" => "media_bypass",
        "displayname" | "userdisplayname" => "user_display_name",
        "username" | "upn" | "userprincipalname" | "sipaddress" | "user" => "user",
        "duration" | "durationseconds" | "durationsec" | "durationinseconds" | "dauer" | "durée" | "duración" => {
            "duration"
        }
        "direction" | "calldirection" => "direction",
        "conferenceid" => "conference_id",
        "destinationdialed" | "destinationname" | "destination" => "destination",
        "numbertype" => "number_type",
        "domesticinternational" => "domestic_international",
        "charge" | "chargeinusd" => "charge",
        "currency" => "currency",
        "capability" | "licensecapability" => "license_capability",
        "userlocation" | "usercountry" | "usagecountrycode" => "user_location",
        _ => return None,
    })
}

/// A header row: Direct Routing or not, the field of each column, the names, the delimiter.
type Header = (bool, Vec<Option<&'static str>>, Vec<String>, char);

/// True when the (lower-case) name ends with `.ext`.
pub(super) fn has_ext(name: &str, ext: &str) -> bool {
    std::path::Path::new(name).extension().is_some_and(|e| e.eq_ignore_ascii_case(ext))
}

/// The fields that give a record its time, best first.
const TIME_FIELDS: [&str; 4] = ["start", "invite_time", "failure_time", "end"];

/// Columns only the Direct Routing export has.
const DR_ONLY: &[&str] = &["final_sip_code", "call_end_sub_reason", "final_sip_phrase", "sbc_fqdn", "media_bypass"];

/// Split one CSV row: quoted fields, doubled quotes, the given delimiter.
pub(super) fn split_row(line: &str, delim: char) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut quoted = false;
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '"' if quoted && chars.peek() == Some(&'"') => {
                cur.push('"');
                chars.next();
            }
            '"' if quoted => quoted = false,
            '"' if cur.trim().is_empty() => {
                cur.clear();
                quoted = true;
            }
            c if c == delim && !quoted => out.push(std::mem::take(&mut cur)),
            c => cur.push(c),
        }
    }
    out.push(cur);
    out.iter().map(|s| s.trim().to_owned()).collect()
}

/// The delimiter of a header line: the most frequent of comma, semicolon and tab.
pub(super) fn delimiter(header: &str) -> char {
    let count = |c: char| header.matches(c).count();
    [',', ';', '\t'].into_iter().max_by_key(|c| count(*c)).unwrap_or(',')
}

/// Quotes still open at the end of the text (a field that continues on the next line).
fn open_quote(s: &str) -> bool {
    s.matches('"').count() % 2 == 1
}

/// Which export a header row belongs to, and its column fields; `None` when it is neither.
fn classify(header: &str) -> Option<(bool, Vec<Option<&'static str>>)> {
    let keys: Vec<String> = split_row(header, delimiter(header)).iter().map(|c| header_key(c).0).collect();
    let fields: Vec<Option<&'static str>> = keys.iter().map(|k| field_for(k)).collect();
    let known = fields.iter().flatten().count();
    let dr = fields.iter().flatten().filter(|f| DR_ONLY.contains(f)).count();
    let pstn_markers = keys.iter().filter(|c| {
        matches!(
            c.as_str(),
            "destinationdialed" | "numbertype" | "domesticinternational" | "charge" | "currency" | "conferenceid"
        )
    });
    if dr >= 2 || (dr >= 1 && known >= 4) {
        Some((true, fields))
    } else if pstn_markers.count() >= 2 && known >= 4 {
        Some((false, fields))
    } else {
        None
    }
}

fn parse_bool(v: &str) -> Option<bool> {
    match v.trim().to_ascii_lowercase().as_str() {
        "true" | "yes" | "1" | "success" | "succeeded" | "successful" => Some(true),
        "false" | "no" | "0" | "failure" | "failed" | "fail" | "attempt" => Some(false),
        _ => None,
    }
}

/// Inbound or outbound from a call type such as `dr_in`, `dr_out_user_conf`, `user_in`.
pub(super) fn direction_of(call_type: &str) -> Option<&'static str> {
    let l = call_type.to_ascii_lowercase();
    let words: Vec<&str> = l.split(|c: char| !c.is_ascii_alphanumeric()).collect();
    if words.iter().any(|w| matches!(*w, "in" | "inbound" | "incoming")) {
        Some("inbound")
    } else if words.iter().any(|w| matches!(*w, "out" | "outbound" | "outgoing")) {
        Some("outbound")
    } else if l.starts_with("byotout") {
        // Graph spells the Direct Routing call types `ByotIn`, `ByotOut`, `ByotOutUserForwarding`.
        Some("outbound")
    } else if l.starts_with("byotin") {
        Some("inbound")
    } else {
        None
    }
}

/// Fill a call record's shared fields and codes from named values (CSV columns or JSON keys
/// already mapped to field names).
pub(super) fn fill_call_record(e: &mut Evidence, values: &[(&'static str, String)]) {
    e.kind = "call-record".into();
    for (f, v) in values {
        let v = v.trim();
        if v.is_empty() {
            continue;
        }
        match *f {
            "start" | "end" | "invite_time" | "failure_time" => match parse_time(v) {
                Some(t) => {
                    e.field(f, time::rfc3339(t));
                }
                None => {
                    e.field(f, v);
                }
            },
            "success" | "media_bypass" => match parse_bool(v) {
                Some(b) => {
                    e.field(f, b);
                }
                None => {
                    e.field(f, v);
                }
            },
            "duration" => match duration_seconds(v, "") {
                Some(n) => {
                    e.field(f, n);
                }
                None => {
                    e.field(f, v);
                }
            },
            "final_sip_code" | "call_end_sub_reason" => match v.parse::<i64>() {
                Ok(n) => {
                    e.field(f, n);
                }
                Err(_) => {
                    e.field(f, v);
                }
            },
            "direction" => {
                e.field(f, direction_of(v).unwrap_or(v));
            }
            "sbc_fqdn" => {
                e.field(f, v.to_ascii_lowercase());
            }
            _ => {
                e.field(f, v);
            }
        }
    }
    if !e.fields.contains_key("direction") {
        if let Some(d) = e.get_str("call_type").and_then(direction_of) {
            e.field("direction", d);
        }
    }
    e.time = TIME_FIELDS.iter().find_map(|k| e.get_str(k).and_then(time::parse));
    let failed = e.fields.get("final_sip_code").and_then(serde_json::Value::as_i64).filter(|n| (400..700).contains(n));
    if let Some(n) = failed {
        e.add_code(Code::Sip(n as u16));
    }
    // A successful call's subcode only says how it ended normally; subcode 0 means something only
    // beside a failing SIP code (a timeout with no better reason).
    let unsuccessful = failed.is_some() || e.fields.get("success") == Some(&serde_json::Value::Bool(false));
    if let Some(n) = e.fields.get("call_end_sub_reason").and_then(serde_json::Value::as_i64) {
        if let Ok(n) = u32::try_from(n) {
            if unsuccessful && (n != 0 || failed.is_some()) {
                e.add_code(Code::Msrc(n));
            }
        }
    }
}

impl Reader for DrCsv {
    fn format(&self) -> &'static str {
        "dr-csv"
    }

    fn detect(&self, name: &str, head: &Head<'_>) -> u8 {
        let text = head.text();
        for line in text.lines().take(10) {
            if let Some((dr, _)) = classify(line) {
                let by_name = has_ext(name, "csv") || has_ext(name, "tsv");
                return if dr { 90 } else { 80 } + u8::from(by_name) * 5;
            }
        }
        0
    }

    fn read(&self, input: Input, out: &mut Emitter<'_>) -> Result<(), ReadError> {
        let mut lines = input.into_lines();
        let mut line = String::new();
        let mut header: Option<Header> = None;
        let mut row = 0u64;
        let mut pending = String::new();
        let mut pending_line = 0u64;
        // What each column's name says of its zone or unit.
        let mut units: Vec<String> = Vec::new();
        let mut unreadable_time = false;
        while let Some(info) = lines.next_line(&mut line).map_err(|e| ReadError::new("", format!("read error: {e}")))? {
            if info.truncated {
                out.warn(format!("line {}", info.number), "line longer than 1 MiB: the rest of it was skipped");
            }
            let Some((dr, fields, names, delim)) = &header else {
                if info.number > 10 {
                    return Err(ReadError::new(
                        "line 10",
                        "no Direct Routing or PSTN usage header in the first 10 lines",
                    ));
                }
                if let Some((dr, fields)) = classify(&line) {
                    let delim = delimiter(&line);
                    let names = split_row(&line, delim);
                    let place = format!("line {}", info.number);
                    if !fields.iter().flatten().any(|f| TIME_FIELDS.contains(f)) {
                        out.warn(
                            place.clone(),
                            format!(
                                "no time column among the headers ({}): the records have no time",
                                names.iter().map(|n| n.trim_start_matches('\u{feff}')).collect::<Vec<_>>().join(", ")
                            ),
                        );
                    }
                    for (name, f) in names.iter().zip(&fields) {
                        let note = header_key(name).1;
                        if f.is_some_and(|f| TIME_FIELDS.contains(&f))
                            && note.split_whitespace().any(|w| matches!(w, "local" | "localtime" | "ortszeit"))
                        {
                            out.warn(
                                place.clone(),
                                format!("column \"{name}\" holds local times of a zone it does not name: read as UTC"),
                            );
                        }
                    }
                    units = names.iter().map(|n| header_key(n).1).collect();
                    header = Some((dr, fields, names, delim));
                }
                continue;
            };
            if pending.is_empty() {
                pending_line = info.number;
            } else {
                pending.push('\n');
            }
            pending.push_str(&line);
            if open_quote(&pending) && pending.len() < MAX_ROW {
                continue;
            }
            let logical = std::mem::take(&mut pending);
            if logical.trim().is_empty() {
                continue;
            }
            row += 1;
            let cells = split_row(&logical, *delim);
            if cells.len() != names.len() {
                out.warn(
                    format!("row {row}"),
                    format!("{} columns where the header has {}; read as far as they match", cells.len(), names.len()),
                );
            }
            let mut values: Vec<(&'static str, String)> = Vec::new();
            let mut extra: Vec<(String, String)> = Vec::new();
            for (i, cell) in cells.iter().enumerate() {
                match (fields.get(i).copied().flatten(), names.get(i)) {
                    (Some(f), _) if !values.iter().any(|(g, _)| *g == f) => {
                        values.push((f, qualified(f, cell, units.get(i).map_or("", String::as_str))));
                    }
                    (None, Some(n)) if !cell.is_empty() => extra.push((snake(n), cell.clone())),
                    _ => {}
                }
            }
            let mut e = out.evidence(format!("row {row}"));
            e.source = if *dr { "Direct Routing usage" } else { "PSTN usage" }.into();
            fill_call_record(&mut e, &values);
            if e.time.is_none() && !unreadable_time {
                if let Some((f, v)) = values.iter().find(|(f, v)| TIME_FIELDS.contains(f) && !v.trim().is_empty()) {
                    unreadable_time = true;
                    out.warn(
                        format!("row {row} (line {pending_line})"),
                        format!("the {f} time \"{v}\" could not be read: this row and any like it have no time"),
                    );
                }
            }
            for (k, v) in extra {
                if !k.is_empty() && !e.fields.contains_key(&k) {
                    e.field(k, v);
                }
            }
            e.set_excerpt(&logical);
            out.emit(e);
        }
        if !pending.is_empty() {
            out.warn(
                format!("line {pending_line}"),
                "row with an unterminated quoted field at the end of the file; skipped",
            );
        }
        if header.is_none() {
            return Err(ReadError::new("line 1", "no Direct Routing or PSTN usage header found"));
        }
        Ok(())
    }
}

/// A cell's value with what its column's name says applied: a time moved from the named zone's
/// offset to UTC (when the value names no zone of its own), a duration turned into seconds.
fn qualified(field: &str, cell: &str, unit: &str) -> String {
    if TIME_FIELDS.contains(&field) {
        if let Some(off) = zone_offset(unit).filter(|o| *o != 0) {
            if !has_zone(cell) {
                if let Some(t) =
                    parse_time(cell).and_then(|t| t.checked_sub(jiff::SignedDuration::from_secs(off.into())).ok())
                {
                    return time::rfc3339(t);
                }
            }
        }
    } else if field == "duration" {
        if let Some(n) = duration_seconds(cell, unit) {
            return n.to_string();
        }
    }
    cell.to_owned()
}

/// `Azure region for Media` → `azure_region_for_media`.
pub(super) fn snake(h: &str) -> String {
    let mut s = String::new();
    for c in h.chars() {
        if c.is_ascii_alphanumeric() {
            s.push(c.to_ascii_lowercase());
        } else if !s.ends_with('_') && !s.is_empty() {
            s.push('_');
        }
    }
    s.trim_end_matches('_').to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_and_headers() {
        assert_eq!(split_row("a,\"b, \"\"c\"\"\",d", ','), ["a", "b, \"c\"", "d"]);
        assert_eq!(split_row("a;b", ';'), ["a", "b"]);
        assert_eq!(delimiter("a;b;c,d"), ';');
        assert!(classify("Start time,SBC FQDN,Final SIP code,Final Microsoft subcode").is_some_and(|(dr, _)| dr));
        assert!(classify("Name,Value").is_none());
        assert_eq!(direction_of("dr_out_user_conf"), Some("outbound"));
        assert_eq!(direction_of("dr_in"), Some("inbound"));
        assert_eq!(direction_of("ByotOutUserForwarding"), Some("outbound"));
        assert_eq!(direction_of("ByotIn"), Some("inbound"));
        assert_eq!(snake("Azure region for Media "), "azure_region_for_media");
    }

    #[test]
    fn header_words_zones_and_units() {
        let k = |h: &str| header_key(h);
        assert_eq!(k("Start time (UTC)"), ("starttime".into(), "utc".into()));
        assert_eq!(k("\u{feff}\"Date (UTC)\""), ("date".into(), "utc".into()));
        assert_eq!(k("Duration (seconds)"), ("duration".into(), "seconds".into()));
        assert_eq!(k("DurationInSeconds"), ("duration".into(), "seconds".into()));
        assert_eq!(k("StartTimeUtc"), ("starttime".into(), "utc".into()));
        assert_eq!(k("Final SIP code"), ("finalsipcode".into(), String::new()));
        assert_eq!(k("Heure de début [UTC+01:00]"), ("heurededébut".into(), "utc+01:00".into()));
        assert_eq!(zone_offset("utc+01:00"), Some(3600));
        assert_eq!(zone_offset("gmt-5"), Some(-5 * 3600));
        assert_eq!(zone_offset("utc+0530"), Some(5 * 3600 + 1800));
        assert_eq!(zone_offset("seconds"), None);
        assert!(has_zone("2025-07-15T08:30:11+02:00") && has_zone("2025-07-15 08:30:11Z"));
        assert!(!has_zone("2025-07-15 08:30:11") && !has_zone("15/07/2025 08:30"));
        assert_eq!(duration_seconds("00:05:12", ""), Some(312));
        assert_eq!(duration_seconds("2,5", "minutes"), Some(150));
        assert_eq!(duration_seconds("1500", "ms"), Some(2));
        assert_eq!(qualified("start", "2025-07-15 10:30:11", "utc+02:00"), "2025-07-15T08:30:11Z");
        assert!(classify("\u{feff}Start time (UTC);SBC FQDN;Final SIP code;Final Microsoft subcode").is_some());
    }
}
