//! `dsregcmd /status` output: the device's join state, its Primary Refresh Token and the last
//! token attempt, which explain most `0xCAA9…` and broker failures.
//!
//! The output is a set of sections, each under a banner (`| Device State |` between `+----+`
//! lines), holding right-aligned `Key : Value` lines. One record is made per run (a file may hold
//! several, pasted one after the other): the well-known keys become top-level fields, every key
//! is kept under `sections.<Section>.<Key>`, and the codes of the attempt status, the server
//! error code and the error descriptions are collected.

use std::sync::LazyLock;

use aho_corasick::AhoCorasick;
use regex::Regex;
use serde_json::{Map, Value};
use uctriage_evidence::{time, Code, Evidence, Timestamp};
use uctriage_kb::Context;

use super::{codes_in, kb, Emitter, ReadError, Reader};
use crate::input::{Head, Input};

#[derive(Debug)]
pub struct Dsregcmd;

/// Most keys kept per run, and most sections.
const MAX_KEYS: usize = 2000;
const MAX_SECTIONS: usize = 100;
/// Longest value kept, in bytes.
const MAX_VALUE: usize = 4096;
/// Section name for keys that come before any banner (a partial paste).
const NO_SECTION: &str = "General";

static KEY_LINE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"(?i)\bAzureAdJoined\s*:\s*(?:YES|NO)\b").expect("fixed pattern"));

/// Well-known keys (lower case, letters and digits only) and the field each fills.
const FIELDS: &[(&str, &str, Kind)] = &[
    ("azureadjoined", "azure_ad_joined", Kind::Text),
    ("enterprisejoined", "enterprise_joined", Kind::Text),
    ("domainjoined", "domain_joined", Kind::Text),
    ("workplacejoined", "workplace_joined", Kind::Text),
    ("devicename", "device_name", Kind::Text),
    ("domainname", "domain_name", Kind::Text),
    ("deviceid", "device_id", Kind::Text),
    ("tpmprotected", "tpm_protected", Kind::Text),
    ("deviceauthstatus", "device_auth_status", Kind::Text),
    ("tenantname", "tenant_name", Kind::Text),
    ("tenantid", "tenant_id", Kind::Text),
    ("ngcset", "ngc_set", Kind::Text),
    ("wamdefaultset", "wam_default_set", Kind::Text),
    ("azureadprt", "azure_ad_prt", Kind::Text),
    ("azureadprtupdatetime", "azure_ad_prt_update_time", Kind::Time),
    ("azureadprtexpirytime", "azure_ad_prt_expiry_time", Kind::Time),
    ("azureadprtauthority", "azure_ad_prt_authority", Kind::Text),
    ("enterpriseprt", "enterprise_prt", Kind::Text),
    ("previousprtattempt", "previous_prt_attempt", Kind::Time),
    ("attemptstatus", "attempt_status", Kind::Hresult),
    ("useridentity", "user_identity", Kind::Text),
    ("credentialtype", "credential_type", Kind::Text),
    ("correlationid", "correlation_id", Kind::Text),
    ("endpointuri", "endpoint_uri", Kind::Text),
    ("httpmethod", "http_method", Kind::Text),
    ("httperror", "http_error", Kind::Hresult),
    ("httpstatus", "http_status", Kind::Number),
    ("servererrorcode", "server_error_code", Kind::ServerCode),
    ("servererrordescription", "server_error_description", Kind::FreeText),
    ("clienterrorcode", "client_error_code", Kind::Hresult),
    ("servermessage", "server_message", Kind::FreeText),
    ("executingaccountname", "executing_account", Kind::Text),
    ("useremail", "user_email", Kind::Text),
    ("clienttime", "current_time", Kind::Time),
    ("currenttime", "current_time", Kind::Time),
];

/// The keys whose lines make the excerpt, most telling first.
const EXCERPT_KEYS: &[&str] = &[
    "azureadjoined",
    "domainjoined",
    "azureadprt",
    "azureadprtupdatetime",
    "previousprtattempt",
    "attemptstatus",
    "servererrorcode",
    "servererrordescription",
    "clienterrorcode",
    "servermessage",
    "deviceauthstatus",
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Text,
    Time,
    Number,
    /// An HRESULT or NTSTATUS (`0xc000006d`); zero means no error.
    Hresult,
    /// The OAuth or service error word the server answered (`invalid_grant`).
    ServerCode,
    /// Text that may name codes (`AADSTS50126: Error validating credentials…`).
    FreeText,
}

fn key_id(key: &str) -> String {
    key.chars().filter(char::is_ascii_alphanumeric).map(|c| c.to_ascii_lowercase()).collect()
}

/// A banner line `| Device State |` gives its section name.
fn banner(line: &str) -> Option<&str> {
    let t = line.trim();
    let inner = t.strip_prefix('|')?.strip_suffix('|')?.trim();
    (!inner.is_empty() && inner.len() <= 120).then_some(inner)
}

/// `Key : Value` (dsregcmd puts a space on both sides of the colon; an empty value ends in ` :`).
fn key_value(line: &str) -> Option<(&str, &str)> {
    let (k, v) = match line.find(" : ") {
        Some(i) => (&line[..i], &line[i + 3..]),
        None => (line.strip_suffix(" :").or_else(|| line.trim_end().strip_suffix(" :"))?, ""),
    };
    let k = k.trim();
    (!k.is_empty() && k.len() <= 80 && !k.contains("://")).then_some((k, v.trim()))
}

/// One run of `dsregcmd /status` being collected.
#[derive(Debug, Default)]
struct Run {
    first_line: u64,
    sections: Map<String, Value>,
    section: String,
    keys: usize,
    /// The last key set, for wrapped values.
    last: Option<(String, String)>,
    /// Original lines of the keys shown in the excerpt, with their rank.
    excerpt: Vec<(usize, String)>,
    /// Values of the well-known keys, first occurrence.
    known: Vec<(&'static str, Kind, String)>,
}

impl Run {
    fn is_empty(&self) -> bool {
        self.keys == 0
    }

    fn set(&mut self, key: &str, value: &str, line: &str, out: &mut Emitter<'_>, number: u64) {
        if self.keys >= MAX_KEYS {
            if self.keys == MAX_KEYS {
                out.warn(
                    format!("line {number}"),
                    format!("more than {MAX_KEYS} keys in one run: the rest are skipped"),
                );
                self.keys += 1;
            }
            return;
        }
        let section = if self.section.is_empty() { NO_SECTION.to_owned() } else { self.section.clone() };
        if !self.sections.contains_key(&section) && self.sections.len() >= MAX_SECTIONS {
            return;
        }
        self.keys += 1;
        let value = bounded(value);
        let map = self.sections.entry(section.clone()).or_insert_with(|| Value::Object(Map::new()));
        if let Value::Object(m) = map {
            // A key repeated in one section keeps every value: `Key`, `Key (2)`, …
            let mut name = key.to_owned();
            let mut n = 1;
            while m.contains_key(&name) {
                n += 1;
                name = format!("{key} ({n})");
            }
            m.insert(name.clone(), Value::String(value.clone()));
            self.last = Some((section, name));
        }
        let id = key_id(key);
        if let Some((_, field, kind)) = FIELDS.iter().find(|(k, _, _)| *k == id) {
            if !self.known.iter().any(|(f, _, _)| f == field) {
                self.known.push((field, *kind, value));
                if let Some(rank) = EXCERPT_KEYS.iter().position(|k| *k == id) {
                    self.excerpt.push((rank, line.trim().to_owned()));
                }
            }
        }
    }

    /// A line without ` : ` right after a key line continues that key's value.
    fn continue_value(&mut self, line: &str) {
        let Some((section, key)) = &self.last else { return };
        let Some(Value::Object(m)) = self.sections.get_mut(section) else { return };
        let Some(Value::String(v)) = m.get_mut(key) else { return };
        if v.len() + line.len() >= MAX_VALUE {
            return;
        }
        if !v.is_empty() {
            v.push(' ');
        }
        v.push_str(line.trim());
        let id = key_id(base_key(key));
        if let Some((_, field, _)) = FIELDS.iter().find(|(k, _, _)| *k == id) {
            if let Some(slot) = self.known.iter_mut().find(|(f, _, _)| f == field) {
                slot.2.clone_from(v);
            }
        }
    }
}

/// `Key (2)` back to `Key`.
fn base_key(key: &str) -> &str {
    match key.rfind(" (") {
        Some(i) if key.ends_with(')') => &key[..i],
        _ => key,
    }
}

/// Keys whose values may name codes in free text.
fn may_hold_codes(key: &str) -> bool {
    let id = key_id(base_key(key));
    ["error", "status", "message", "description", "diagnostic"].iter().any(|w| id.contains(w))
}

fn bounded(v: &str) -> String {
    if v.len() <= MAX_VALUE {
        return v.to_owned();
    }
    let mut end = MAX_VALUE;
    while !v.is_char_boundary(end) {
        end -= 1;
    }
    v[..end].to_owned()
}

/// A non-zero HRESULT / NTSTATUS in canonical form.
fn hresult(raw: &str) -> Option<Code> {
    let t = raw.split_whitespace().next()?;
    let digits = t.trim_start_matches("0x").trim_start_matches("0X");
    if digits.chars().all(|c| c == '0') {
        return None;
    }
    match kb().normalize(t, Context::Hresult)? {
        c @ Code::Hresult(_) => Some(c),
        _ => None,
    }
}

/// The server's error word: an OAuth error in canonical form, or a known code.
fn server_code(raw: &str) -> Option<Code> {
    let t = raw.trim();
    if t.is_empty() || t.eq_ignore_ascii_case("n/a") || t.eq_ignore_ascii_case("none") {
        return None;
    }
    let oauth = Code::Oauth(t.to_ascii_lowercase().into());
    if let Some(e) = kb().get(&oauth) {
        return Some(e.code.clone());
    }
    if t.bytes().all(|b| b.is_ascii_lowercase() || b == b'_') && t.contains('_') {
        return Some(oauth);
    }
    kb().normalize(t, Context::SignIn).filter(|c| kb().get(c).is_some())
}

fn time_value(raw: &str) -> Option<Timestamp> {
    let t = raw.trim();
    if t.is_empty() || t.eq_ignore_ascii_case("unknown") || t.eq_ignore_ascii_case("none") {
        return None;
    }
    time::parse(t)
}

fn emit(run: Run, out: &mut Emitter<'_>) {
    if run.is_empty() {
        return;
    }
    let mut e: Evidence = out.evidence(format!("line {}", run.first_line));
    e.source = "dsregcmd".into();
    e.kind = "dsregcmd".into();
    let mut current = None;
    let mut prt_update = None;
    for (field, kind, value) in &run.known {
        match kind {
            Kind::Text | Kind::FreeText => {
                e.field(field, value.as_str());
            }
            Kind::Time => match time_value(value) {
                Some(t) => {
                    e.field(field, time::rfc3339(t));
                    if *field == "current_time" {
                        current = Some(t);
                    } else if *field == "azure_ad_prt_update_time" {
                        prt_update = Some(t);
                    }
                }
                None => {
                    e.field(field, value.as_str());
                }
            },
            Kind::Number => match value.trim().parse::<u64>() {
                Ok(n) => {
                    e.field(field, n);
                }
                Err(_) => {
                    e.field(field, value.as_str());
                }
            },
            Kind::Hresult => {
                let code = hresult(value);
                match &code {
                    Some(c) => e.field(field, c.to_string()),
                    None => e.field(field, value.as_str()),
                };
                if let Some(c) = code {
                    e.add_code(c);
                }
            }
            Kind::ServerCode => {
                e.field(field, value.as_str());
                if let Some(c) = server_code(value) {
                    e.add_code(c);
                }
            }
        }
    }
    for section in run.sections.values() {
        if let Value::Object(m) = section {
            for (k, v) in m {
                if let (true, Value::String(v)) = (may_hold_codes(k), v) {
                    e.add_codes(codes_in(v));
                }
            }
        }
    }
    // The account: the attempt's identity, else the UPN in the executing account.
    if e.get_str("user_email").is_none() {
        let candidate = e.get_str("user_identity").filter(|s| s.contains('@')).map(str::to_owned).or_else(|| {
            e.get_str("executing_account")
                .and_then(|s| s.split([',', ' ']).map(str::trim).find(|p| p.contains('@')).map(str::to_owned))
        });
        if let Some(u) = candidate {
            e.field("user_email", u);
        }
    }
    // How old the PRT was when the output was taken: more than about four hours means the
    // device has stopped refreshing it.
    if let (Some(now), Some(updated)) = (current, prt_update) {
        let hours = (now.as_second() - updated.as_second()) as f64 / 3600.0;
        e.field("prt_age_hours", (hours * 10.0).round() / 10.0);
    }
    e.time = current.or(prt_update);
    e.fields.insert("sections", Value::Object(run.sections));
    let mut shown = run.excerpt;
    shown.sort_by_key(|(rank, _)| *rank);
    e.set_excerpt(&shown.into_iter().map(|(_, l)| l).collect::<Vec<_>>().join(" | "));
    out.emit(e);
}

impl Reader for Dsregcmd {
    fn format(&self) -> &'static str {
        "dsregcmd"
    }

    fn detect(&self, name: &str, head: &Head<'_>) -> u8 {
        static DEVICE_STATE: LazyLock<AhoCorasick> =
            LazyLock::new(|| AhoCorasick::new(["device state"]).expect("fixed words"));
        if !head.textual() {
            return 0;
        }
        let text = head.text();
        // A `Device State` banner among the first 400 lines: only the lines holding the words are
        // read.
        let end = super::lines_end(text, 400);
        let banner = super::any_line_holding(&text[..end], &head.lower()[..end], &DEVICE_STATE, |l| {
            banner(l).is_some_and(|b| b.eq_ignore_ascii_case("Device State"))
        });
        let keys = KEY_LINE.is_match(text);
        match (banner, keys) {
            (true, true) => 97,
            (false, true) => 90,
            (true, false) if text.contains(" : ") => 80,
            _ if name.contains("dsregcmd") && text.contains(" : ") => 40,
            _ => 0,
        }
    }

    fn read(&self, input: Input, out: &mut Emitter<'_>) -> Result<(), ReadError> {
        let mut lines = input.into_lines();
        let mut buf = String::new();
        let mut run = Run::default();
        let mut previous_was_key = false;
        let mut number = 0;
        loop {
            let info = match lines.next_line(&mut buf) {
                Ok(Some(i)) => i,
                Ok(None) => break,
                Err(e) => {
                    emit(run, out);
                    return Err(ReadError::new(format!("line {}", number + 1), format!("read error: {e}")));
                }
            };
            number = info.number;
            if info.truncated {
                out.warn(format!("line {number}"), "line longer than 1 MiB: the rest of it was skipped");
            }
            let line = buf.trim_start_matches('\u{feff}');
            if let Some(name) = banner(line) {
                // A second `Device State` banner starts another run.
                if name.eq_ignore_ascii_case("Device State") && !run.is_empty() {
                    emit(std::mem::take(&mut run), out);
                }
                if run.first_line == 0 {
                    run.first_line = number;
                }
                run.section = name.to_owned();
                run.last = None;
                previous_was_key = false;
                continue;
            }
            let t = line.trim();
            if t.is_empty() || t.starts_with("+--") {
                previous_was_key = false;
                continue;
            }
            if let Some((k, v)) = key_value(line) {
                if run.first_line == 0 {
                    run.first_line = number;
                }
                run.set(k, v, line, out, number);
                previous_was_key = true;
            } else if previous_was_key {
                run.continue_value(line);
            }
        }
        emit(run, out);
        Ok(())
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// Detection as it was before it read only the lines holding `device state`, kept to check
    /// the new one against.
    pub(crate) fn detect_before(name: &str, head: &[u8]) -> u8 {
        if !crate::input::looks_textual(head) {
            return 0;
        }
        let text = crate::input::head_text(head);
        let banner = text.lines().take(400).any(|l| banner(l).is_some_and(|b| b.eq_ignore_ascii_case("Device State")));
        let keys = KEY_LINE.is_match(&text);
        match (banner, keys) {
            (true, true) => 97,
            (false, true) => 90,
            (true, false) if text.contains(" : ") => 80,
            _ if name.contains("dsregcmd") && text.contains(" : ") => 40,
            _ => 0,
        }
    }

    #[test]
    fn lines() {
        assert_eq!(banner("| Device State                      |"), Some("Device State"));
        assert_eq!(banner("+------+"), None);
        assert_eq!(key_value("             AzureAdJoined : YES"), Some(("AzureAdJoined", "YES")));
        assert_eq!(key_value("  EnterprisePrtAuthority :"), Some(("EnterprisePrtAuthority", "")));
        assert_eq!(
            key_value("  Server Error Description : AADSTS50126: Error validating"),
            Some(("Server Error Description", "AADSTS50126: Error validating"))
        );
        assert_eq!(key_value("For more information, see https://x"), None);
    }

    #[test]
    fn codes() {
        assert_eq!(hresult("0xc000006d").map(|c| c.to_string()).as_deref(), Some("0xC000006D"));
        assert_eq!(hresult("0x0"), None);
        assert_eq!(server_code("invalid_grant").map(|c| c.to_string()).as_deref(), Some("OAUTH invalid_grant"));
    }
}
