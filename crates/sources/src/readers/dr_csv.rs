//! Teams admin center usage exports as CSV: the Direct Routing tab of the PSTN usage report
//! (final SIP code, Microsoft subcode, SBC FQDN…) and the Calling Plans PSTN usage export. One
//! `call-record` per row. Headers are matched loosely (case, spaces and punctuation ignored)
//! because the column names drift between portal versions and locales' separators differ.

use uctriage_evidence::{time, Code, Evidence};

use super::{Emitter, ReadError, Reader};
use crate::input::{head_text, Input};

#[derive(Debug)]
pub struct DrCsv;

/// Longest logical row (quoted fields may span lines).
const MAX_ROW: usize = 256 * 1024;

/// A header name with everything but letters and digits removed, lower case.
pub(super) fn norm(h: &str) -> String {
    h.chars().filter(char::is_ascii_alphanumeric).map(|c| c.to_ascii_lowercase()).collect()
}

/// The evidence field a column fills (docs/evidence-fields.md, call-record).
fn field_for(h: &str) -> Option<&'static str> {
    Some(match h {
        "starttime" | "startdatetime" | "start" | "calldate" | "datetime" => "start",
        "endtime" | "enddatetime" | "end" => "end",
        "success" | "successfulcall" | "successful" | "callsuccess" => "success",
        "callernumber" | "caller" | "callerid" | "fromnumber" => "caller",
        "calleenumber" | "callee" | "destinationnumber" | "tonumber" => "callee",
        "calltype" => "call_type",
        "azureregion" | "azureregionformedia" | "mediapathlocation" | "mediaregion" | "mediapath" => {
            "media_path_location"
        }
        "azureregionforsignaling"
        | "azureregionforsignalling"
        | "signalinglocation"
        | "signallinglocation"
        | "signalingregion" => "signaling_location",
        "sbcfqdn" | "trunkfqdn" | "trunkfullyqualifieddomainname" | "fqdn" | "sbc" | "trunk" => "sbc_fqdn",
        "finalsipcode" | "sipcode" | "finalsipresponsecode" | "finalsipcodecode" => "final_sip_code",
        "finalmicrosoftsubcode"
        | "microsoftsubcode"
        | "callendsubreason"
        | "microsoftresponsecode"
        | "finalmicrosoftresponsecode"
        | "subcode" => "call_end_sub_reason",
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
        "duration" | "durationseconds" | "durationsec" | "durationinseconds" => "duration",
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
    let cols = split_row(header, delimiter(header));
    let fields: Vec<Option<&'static str>> = cols.iter().map(|c| field_for(&norm(c))).collect();
    let known = fields.iter().flatten().count();
    let dr = fields.iter().flatten().filter(|f| DR_ONLY.contains(f)).count();
    let pstn_markers = cols.iter().map(|c| norm(c)).filter(|c| {
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
            "start" | "end" | "invite_time" | "failure_time" => match time::parse(v) {
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
            "final_sip_code" | "call_end_sub_reason" | "duration" => match v.parse::<i64>() {
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
    e.time = ["start", "invite_time", "failure_time", "end"].iter().find_map(|k| e.get_str(k).and_then(time::parse));
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

    fn detect(&self, name: &str, head: &[u8]) -> u8 {
        let text = head_text(head);
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
                    (Some(f), _) if !values.iter().any(|(g, _)| *g == f) => values.push((f, cell.clone())),
                    (None, Some(n)) if !cell.is_empty() => extra.push((snake(n), cell.clone())),
                    _ => {}
                }
            }
            let mut e = out.evidence(format!("row {row}"));
            e.source = if *dr { "Direct Routing usage" } else { "PSTN usage" }.into();
            fill_call_record(&mut e, &values);
            for (k, v) in extra {
                if !k.is_empty() && !e.fields.contains_key(&k) {
                    e.field(&k, v);
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
}
