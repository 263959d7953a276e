//! Lync / Skype for Business client logs (`Communicator-uccapi-0.uccapilog`, `Lync-UccApi-0.UccApilog`).
//!
//! SIP traffic is written as framed records:
//!
//! ```text
//! TL_INFO(TF_PROTOCOL) [0]0A1C.0B2C::07/15/2025-08:30:11.123.0000000a (SIPStack,SIPAdminLog::TraceProtocolRecord:1224.idx(196))$$begin_record
//! Trace-Correlation-Id: 1234567890
//! Instance-Id: 0000000A
//! Direction: outgoing
//! Peer: sipdir.online.lync.com:443
//! Message-Type: request
//! Start-Line: REGISTER sip:contoso.com SIP/2.0
//! From: …
//! Message-Body: –
//! $$end_record
//! ```
//!
//! Each record becomes a `sip` record (REGISTER, the 401 with its ms-diagnostics…). Other lines
//! are kept when they hold a Lync client message (`lync-message`, with its LYNC code) or another
//! known code (`log-line`).

use uctriage_evidence::{time, Timestamp};
use uctriage_kb::Kind;

use super::pexip::message_codes;
use super::sip;
use super::{codes_in, Emitter, ReadError, Reader};
use crate::input::{Head, Input};

#[derive(Debug)]
pub struct Uccapilog;

/// Most lines kept from one framed record.
const MAX_RECORD_LINES: usize = 2000;

/// The record's own headers, written before the SIP headers.
const PSEUDO: &[&str] = &["trace-correlation-id", "instance-id", "direction", "peer", "message-type", "start-line"];

/// The time in a `TL_…` line: `::07/15/2025-08:30:11.123.0000000a`.
fn tl_time(line: &str) -> Option<Timestamp> {
    let at = line.find("::")?;
    let rest = &line[at + 2..];
    let stamp = rest.split_whitespace().next()?;
    let (date, clock) = stamp.split_once('-')?;
    // Drop the trailing `.0000000a` counter: keep hh:mm:ss.mmm.
    let mut parts = clock.splitn(3, '.');
    let hms = parts.next()?;
    let ms = parts.next().unwrap_or("0");
    time::parse(&format!("{date} {hms}.{ms}"))
}

/// `TL_ERROR(TF_COMPONENT)` → `ERROR`; the component in the first parentheses after the stamp.
fn tl_parts(line: &str) -> Option<(&str, &str, &str)> {
    let rest = line.strip_prefix("TL_")?;
    let level = rest.split('(').next()?;
    let after_stamp = line.find("::").map_or(line, |i| &line[i..]);
    let open = after_stamp.find(" (")?;
    let inner = &after_stamp[open + 2..];
    // The component's parentheses hold others (`idx(77)`): find the one that closes them.
    let mut depth = 1usize;
    let close = inner.char_indices().find_map(|(i, c)| {
        match c {
            '(' => depth += 1,
            ')' => depth -= 1,
            _ => {}
        }
        (depth == 0).then_some(i)
    })?;
    let component = inner[..close].split(',').next().unwrap_or("");
    let text = inner.get(close + 1..).unwrap_or("").trim();
    Some((level, component, text))
}

#[derive(Debug, Default)]
struct Record {
    line: u64,
    time: Option<Timestamp>,
    direction: Option<&'static str>,
    peer: Option<String>,
    start: Option<String>,
    headers: Vec<String>,
    body: Vec<String>,
    in_body: bool,
}

impl Record {
    fn push(&mut self, l: &str) {
        if self.headers.len() + self.body.len() >= MAX_RECORD_LINES {
            return;
        }
        if self.in_body {
            self.body.push(l.to_owned());
            return;
        }
        let Some((name, value)) = l.split_once(':') else {
            if l.starts_with([' ', '\t']) {
                self.headers.push(l.to_owned());
            }
            return;
        };
        let key = name.trim().to_ascii_lowercase();
        let value = value.trim();
        match key.as_str() {
            "direction" => {
                let v = value.to_ascii_lowercase();
                self.direction = if v.starts_with("outgoing") {
                    Some("outgoing")
                } else if v.starts_with("incoming") {
                    Some("incoming")
                } else {
                    None
                };
            }
            "peer" => self.peer = Some(value.to_owned()),
            "start-line" => self.start = Some(value.to_owned()),
            "message-body" => {
                self.in_body = true;
                if !value.is_empty() && value != "–" && value != "-" {
                    self.body.push(value.to_owned());
                }
            }
            k if PSEUDO.contains(&k) => {}
            _ => self.headers.push(l.to_owned()),
        }
    }
}

impl Reader for Uccapilog {
    fn format(&self) -> &'static str {
        "uccapilog"
    }

    fn detect(&self, name: &str, head: &Head<'_>) -> u8 {
        static TL: std::sync::LazyLock<aho_corasick::AhoCorasick> =
            std::sync::LazyLock::new(|| aho_corasick::AhoCorasick::new(["TL_"]).expect("fixed words"));
        let text = head.text();
        let by_name = std::path::Path::new(name).extension().is_some_and(|e| e.eq_ignore_ascii_case("uccapilog"));
        if text.contains("$$begin_record") {
            return 95;
        }
        // Two lines led by `TL_` among the first 2,000 settle it.
        let scope = &text[..super::lines_end(text, 2000)];
        let tl = super::count_lines_holding(scope, scope, &TL, 2, |l| l.starts_with("TL_") && l.contains("::"));
        if tl >= 2 {
            return 85;
        }
        u8::from(by_name) * 60
    }

    fn read(&self, input: Input, out: &mut Emitter<'_>) -> Result<(), ReadError> {
        let mut lines = input.into_lines();
        let mut line = String::new();
        let mut rec: Option<Record> = None;
        let mut prev = String::new();
        let mut prev_lync = Vec::new();
        let mut last_time: Option<Timestamp> = None;
        // The account signing in: the From address of the REGISTER requests seen so far.
        let mut user: Option<String> = None;
        while let Some(info) = lines.next_line(&mut line).map_err(|e| ReadError::new("", format!("read error: {e}")))? {
            let n = info.number;
            if info.truncated {
                out.warn(format!("line {n}"), "line longer than 1 MiB: the rest of it was skipped");
            }
            if line.contains("$$begin_record") {
                if let Some(r) = rec.take() {
                    out.warn(format!("line {}", r.line), "record without its $$end_record; read as far as it goes");
                    user = emit_record(out, &r).or(user);
                }
                let t = tl_time(&line);
                last_time = t.or(last_time);
                rec = Some(Record { line: n, time: t, ..Record::default() });
                continue;
            }
            if let Some(r) = rec.as_mut() {
                if line.trim_start().starts_with("$$end_record") {
                    if let Some(r) = rec.take() {
                        user = emit_record(out, &r).or(user);
                    }
                } else {
                    r.push(&line);
                }
                continue;
            }
            if line.starts_with("TL_") {
                last_time = tl_time(&line).or(last_time);
            }
            // A client message, possibly wrapped over two lines.
            let mut lync = message_codes(&line, Kind::Lync);
            // The second half of a wrapped message already found with the first.
            lync.retain(|c| !prev_lync.contains(c));
            if !prev.is_empty() {
                let joined = format!("{} {}", prev.trim_end(), line.trim_start());
                for c in message_codes(&joined, Kind::Lync) {
                    if !lync.contains(&c) && !prev_lync.contains(&c) {
                        lync.push(c);
                    }
                }
            }
            let mut codes = lync.clone();
            for c in codes_in(&line) {
                // Lync messages come from the matcher above, which knows about wrapped lines.
                if c.kind() != Kind::Lync && !codes.contains(&c) {
                    codes.push(c);
                }
            }
            if !codes.is_empty() {
                let mut e = out.evidence(format!("line {n}"));
                e.source = "uccapilog".into();
                e.time = tl_time(&line).or(last_time);
                e.kind = if lync.is_empty() { "log-line" } else { "lync-message" }.into();
                let (level, component, text) = tl_parts(&line).unwrap_or(("", "", line.trim()));
                e.field("level", level);
                e.field("component", component);
                e.field("message", text);
                if let Some(u) = &user {
                    e.field("user", u.as_str());
                }
                e.add_codes(codes);
                e.set_excerpt(&line);
                out.emit(e);
            }
            prev_lync = lync;
            prev.clear();
            prev.push_str(&line);
        }
        if let Some(r) = rec.take() {
            out.warn(format!("line {}", r.line), "record cut short at the end of the log; read as far as it goes");
            emit_record(out, &r);
        }
        Ok(())
    }
}

/// The address in a From or To value: `"Joe" <sip:Joe@Contoso.com>;tag=1` → `joe@contoso.com`.
fn sip_address(v: &str) -> Option<String> {
    let at = v.to_ascii_lowercase().find("sip:")? + 4;
    let addr: String = v[at..].chars().take_while(|c| !matches!(c, '>' | ';' | ' ' | ',' | '?')).collect();
    addr.contains('@').then(|| addr.to_ascii_lowercase())
}

/// Emit one framed SIP record; for a REGISTER exchange, returns the account signing in.
fn emit_record(out: &mut Emitter<'_>, r: &Record) -> Option<String> {
    let start = r.start.as_deref()?;
    let mut text = String::with_capacity(1024);
    text.push_str(start);
    text.push('\n');
    for h in &r.headers {
        text.push_str(h);
        text.push('\n');
    }
    text.push('\n');
    for b in &r.body {
        if text.len() > sip::MAX_MESSAGE {
            break;
        }
        text.push_str(b);
        text.push('\n');
    }
    let Some(msg) = sip::parse(&text) else {
        out.warn(format!("line {}", r.line), "record whose Start-Line is not a SIP start line; skipped");
        return None;
    };
    let mut e = out.evidence(format!("line {}", r.line));
    e.source = "uccapilog".into();
    e.time = r.time;
    if let Some(d) = r.direction {
        e.field("direction", d);
    }
    if let Some(p) = &r.peer {
        e.field("peer", p.as_str());
        e.field(if r.direction == Some("incoming") { "src" } else { "dst" }, p.as_str());
    }
    msg.fill(&mut e);
    // Lync messages quoted in a reason or diagnostic header.
    let quoted: Vec<_> = [e.get_str("ms_client_diagnostics"), e.get_str("ms_diagnostics")]
        .into_iter()
        .flatten()
        .flat_map(|v| message_codes(v, Kind::Lync))
        .collect();
    e.add_codes(quoted);
    let user =
        (e.get_str("cseq_method") == Some("REGISTER")).then(|| e.get_str("from").and_then(sip_address)).flatten();
    if let Some(u) = &user {
        e.field("user", u.as_str());
    }
    out.emit(e);
    user
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// Detection as it was before it looked only at the lines holding `TL_`, kept to check the
    /// new one against.
    pub(crate) fn detect_before(name: &str, head: &[u8]) -> u8 {
        let text = crate::input::head_text(head);
        let by_name = std::path::Path::new(name).extension().is_some_and(|e| e.eq_ignore_ascii_case("uccapilog"));
        if text.contains("$$begin_record") {
            return 95;
        }
        let tl = text.lines().take(2000).filter(|l| l.starts_with("TL_") && l.contains("::")).count();
        if tl >= 2 {
            return 85;
        }
        u8::from(by_name) * 60
    }

    #[test]
    fn addresses_of_from_values() {
        assert_eq!(sip_address(r#""Joe" <sip:Joe@Contoso.com>;tag=1a2b"#).as_deref(), Some("joe@contoso.com"));
        assert_eq!(sip_address("<sip:joe@contoso.com;transport=tls>").as_deref(), Some("joe@contoso.com"));
        assert_eq!(sip_address("<sip:contoso.com>"), None);
        assert_eq!(sip_address("no address"), None);
    }

    #[test]
    fn tl_lines() {
        let l = "TL_ERROR(TF_COMPONENT) [0]0A1C.0B2C::07/15/2025-08:30:12.456.00000010 (UccApi,CUccSession::Fail:123.idx(45)) hr = 0x80ee0058";
        assert_eq!(tl_time(l).map(time::rfc3339).as_deref(), Some("2025-07-15T08:30:12Z"));
        assert_eq!(tl_parts(l), Some(("ERROR", "UccApi", "hr = 0x80ee0058")));
    }
}
