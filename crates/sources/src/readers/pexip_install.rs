//! Pexip Teams Connector installation transcripts (PowerShell `Start-Transcript` output of
//! `create_vmss_deployment.ps1` and the bot registration commands), and pasted console output.
//!
//! PowerShell prints an error as `Cmdlet : message`, wrapped at the console width, then
//! `At script:line char:n`, the offending code marked with `+`, and `CategoryInfo` /
//! `FullyQualifiedErrorId`. Each error becomes one `pexip-install` record, with the knowledge
//! base's PEXIP code when the message is one of the installer's known failures; other lines that
//! carry a known message (a `Write-Host` or `WARNING:` line) are kept too.

use uctriage_evidence::{time, Timestamp};
use uctriage_kb::{Code, Kind};

use super::pexip::{any_message_possible_in, message_codes};
use super::{codes_in, Emitter, ReadError, Reader};
use crate::input::{Head, Input};

#[derive(Debug)]
pub struct PexipInstall;

/// Longest error message kept, in bytes (wrapped lines are joined).
const MAX_ERROR: usize = 16 * 1024;

/// Words that say a transcript is about the Pexip Teams Connector.
const MARKERS: &[&str] = &[
    "create_vmss_deployment",
    "pexteamscvi",
    "register-pexteams",
    "pexip",
    "teamsconnector",
    "teams connector",
    "pxnodefqdns",
    "pxteamsconn",
];

/// `yyyyMMddHHmmss`, as transcripts write their start time.
fn compact_time(s: &str) -> Option<Timestamp> {
    let d = s.trim();
    if d.len() != 14 || !d.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    time::parse(&format!("{}-{}-{} {}:{}:{}", &d[..4], &d[4..6], &d[6..8], &d[8..10], &d[10..12], &d[12..14]))
}

/// `Cmdlet-Name : message` (PowerShell's error display), returning the cmdlet and the message.
fn error_start(line: &str) -> Option<(&str, &str)> {
    if let Some(rest) = line.strip_prefix("PS>TerminatingError(") {
        let (cmd, msg) = rest.split_once("): ")?;
        return Some((cmd, msg.trim().trim_matches('"')));
    }
    let (cmd, msg) = line.split_once(" : ")?;
    let cmd_ok = !cmd.is_empty()
        && cmd.len() < 80
        && cmd.contains('-')
        && cmd.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_'))
        && cmd.as_bytes()[0].is_ascii_uppercase();
    (cmd_ok && !msg.trim().is_empty()).then_some((cmd, msg.trim()))
}

/// An error being read: its message lines, then the lines PowerShell adds after it.
#[derive(Debug, Default)]
struct PsError {
    line: u64,
    cmdlet: String,
    message: String,
    /// The `At …` line has been seen: the message is complete.
    located: bool,
    location: String,
    category: String,
    error_id: String,
    /// Where wrapped lines were joined (with a space, which may have split a word in two).
    wrapped: Vec<usize>,
}

#[derive(Debug, Default)]
struct State {
    time: Option<Timestamp>,
    command: String,
    /// The last message emitted, so that a line repeating it is not a second record.
    last: String,
    /// A `PS>TerminatingError(…)` line waiting for the error display that usually follows.
    held: Option<PsError>,
}

impl Reader for PexipInstall {
    fn format(&self) -> &'static str {
        "pexip-install"
    }

    fn detect(&self, name: &str, head: &Head<'_>) -> u8 {
        // Searched with memchr's vector search, which costs a fraction of `str::contains` on a
        // whole head.
        let lower = head.lower().as_bytes();
        let has = |word: &str| memchr::memmem::find(lower, word.as_bytes()).is_some();
        let transcript = has("powershell transcript start");
        let marked = MARKERS.iter().any(|m| has(m)) || name.contains("pexip");
        if transcript && marked {
            // Whether a known message is there too no longer counts.
            return 90;
        }
        // One search of the whole head first: most inputs hold no Pexip message at all.
        let known = any_message_possible_in(head, Kind::Pexip)
            && head.text().lines().take(5000).any(|l| {
                message_codes(l, Kind::Pexip)
                    .iter()
                    .any(|c| crate::readers::kb().get(c).is_some_and(|e| e.family == "pexip-install"))
            });
        match (transcript, marked || known) {
            (true, true) => 90,
            (false, _) if known => 70,
            _ => 0,
        }
    }

    fn read(&self, input: Input, out: &mut Emitter<'_>) -> Result<(), ReadError> {
        let mut lines = input.into_lines();
        let mut line = String::new();
        let mut st = State::default();
        let mut err: Option<PsError> = None;
        while let Some(info) = lines.next_line(&mut line).map_err(|e| ReadError::new("", format!("read error: {e}")))? {
            let n = info.number;
            if info.truncated {
                out.warn(format!("line {n}"), "line longer than 1 MiB: the rest of it was skipped");
            }
            let l = line.trim_end();
            // Transcript header and per-command headers carry the time.
            for key in ["Start time:", "Command start time:"] {
                if let Some(v) = l.strip_prefix(key) {
                    if let Some(t) = compact_time(v) {
                        st.time = Some(t);
                    }
                }
            }
            if let Some(e) = err.as_mut() {
                let t = l.trim_start();
                if t.starts_with("At ") || t.starts_with("At line:") {
                    e.located = true;
                    e.location = t.trim_start_matches("At ").to_owned();
                    continue;
                }
                if t.starts_with("+ CategoryInfo") {
                    e.category = t.split_once(':').map_or("", |(_, v)| v.trim()).to_owned();
                    e.located = true;
                    continue;
                }
                if t.starts_with("+ FullyQualifiedErrorId") {
                    e.error_id = t.split_once(':').map_or("", |(_, v)| v.trim()).to_owned();
                    e.located = true;
                    continue;
                }
                if t.starts_with('+') && e.located {
                    continue;
                }
                if !e.located && !t.is_empty() && error_start(l).is_none() && !t.starts_with("PS ") {
                    // The message wrapped at the console width.
                    if e.message.len() < MAX_ERROR {
                        e.wrapped.push(e.message.len());
                        e.message.push(' ');
                        e.message.push_str(t);
                    }
                    continue;
                }
                if let Some(e) = err.take() {
                    emit_error(out, &mut st, &e);
                }
            }
            // A `PS>TerminatingError(…)` line is followed by the display of the same error,
            // which says more (where, which category): keep only that one when it comes.
            if let Some(te) = st.held.take() {
                let same = error_start(l).is_some_and(|(_, m)| m.trim() == te.message.trim());
                if !same {
                    emit_error(out, &mut st, &te);
                }
            }
            if let Some(cmd) = prompt(l) {
                st.command = cmd.to_owned();
                continue;
            }
            // A parser error in a script shows no `Cmdlet : message` line: it starts at `At`.
            let t = l.trim_start();
            if t.starts_with("At ") && t.contains(".ps1:") && t.contains(" char:") {
                err = Some(PsError {
                    line: n,
                    cmdlet: "PowerShell".to_owned(),
                    location: t[3..].to_owned(),
                    ..PsError::default()
                });
                continue;
            }
            if let Some((cmdlet, msg)) = error_start(l) {
                let e = PsError { line: n, cmdlet: cmdlet.to_owned(), message: msg.to_owned(), ..PsError::default() };
                if l.starts_with("PS>TerminatingError(") {
                    st.held = Some(e);
                } else {
                    err = Some(e);
                }
                continue;
            }
            let codes = message_codes(l, Kind::Pexip);
            if !codes.is_empty() && l.trim() != st.last {
                let mut e = out.evidence(format!("line {n}"));
                e.kind = "pexip-install".into();
                e.source = "Teams Connector installation".into();
                e.time = st.time;
                e.field("message", l.trim());
                e.field("command", st.command.as_str());
                e.add_codes(codes);
                e.set_excerpt(l);
                st.last = l.trim().to_owned();
                out.emit(e);
            }
        }
        if let Some(e) = err.take() {
            emit_error(out, &mut st, &e);
        }
        if let Some(te) = st.held.take() {
            emit_error(out, &mut st, &te);
        }
        Ok(())
    }
}

/// The command after a PowerShell prompt (`PS C:\pexip> .\create_vmss_deployment.ps1`).
fn prompt(l: &str) -> Option<&str> {
    let rest = l.strip_prefix("PS ")?;
    let (_, cmd) = rest.split_once("> ")?;
    let cmd = cmd.trim();
    (!cmd.is_empty()).then_some(cmd)
}

fn emit_error(out: &mut Emitter<'_>, st: &mut State, p: &PsError) {
    let message = p.message.trim().to_owned();
    let full = format!("{} : {}", p.cmdlet, message);
    let mut codes: Vec<Code> = message_codes(&full, Kind::Pexip);
    if !p.wrapped.is_empty() {
        // The console may have wrapped inside a word: read it joined without the spaces too.
        let mut tight = p.message.clone();
        for at in p.wrapped.iter().rev() {
            if tight.is_char_boundary(*at) && tight[*at..].starts_with(' ') {
                tight.remove(*at);
            }
        }
        for c in message_codes(&format!("{} : {tight}", p.cmdlet), Kind::Pexip) {
            if !codes.contains(&c) {
                codes.push(c);
            }
        }
    }
    for c in codes_in(&full) {
        if !codes.contains(&c) {
            codes.push(c);
        }
    }
    // A PowerShell parser error while the variables script runs is a typo in that script
    // (a missing quote around an address, a stray bracket).
    if full.contains("ParserError") || p.category.contains("ParserError") || p.category.contains("ParseException") {
        if let Some(e) = crate::readers::kb().get(&Code::Pexip("variables-script-typo".into())) {
            if !codes.contains(&e.code) {
                codes.push(e.code.clone());
            }
        }
    }
    let mut e = out.evidence(format!("line {}", p.line));
    e.kind = "pexip-install".into();
    e.source = "Teams Connector installation".into();
    e.time = st.time;
    e.field("message", message.as_str());
    e.field("cmdlet", p.cmdlet.as_str());
    e.field("command", st.command.as_str());
    e.field("script_location", p.location.as_str());
    e.field("category", p.category.as_str());
    e.field("error_id", p.error_id.as_str());
    e.add_codes(codes);
    e.set_excerpt(&full);
    st.last = message;
    out.emit(e);
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// Detection as it was before the shared head and the search for each message's longest
    /// word, kept to check the new one against.
    pub(crate) fn detect_before(name: &str, head: &[u8]) -> u8 {
        let text = crate::input::head_text(head);
        let lower = text.to_ascii_lowercase();
        let transcript = lower.contains("powershell transcript start");
        let marked = MARKERS.iter().any(|m| lower.contains(m)) || name.contains("pexip");
        // One pass over the whole head first: most inputs hold no Pexip message at all.
        let known = super::super::pexip::any_message_possible(&text, Kind::Pexip)
            && text.lines().take(5000).any(|l| {
                message_codes(l, Kind::Pexip)
                    .iter()
                    .any(|c| crate::readers::kb().get(c).is_some_and(|e| e.family == "pexip-install"))
            });
        match (transcript, marked || known) {
            (true, true) => 90,
            (false, _) if known => 70,
            _ => 0,
        }
    }

    #[test]
    fn pieces() {
        assert_eq!(
            error_start("New-AzResourceGroup : Web space with name x already exists"),
            Some(("New-AzResourceGroup", "Web space with name x already exists"))
        );
        assert_eq!(
            error_start("PS>TerminatingError(Get-AzADServicePrincipal): \"Insufficient\""),
            Some(("Get-AzADServicePrincipal", "Insufficient"))
        );
        assert!(error_start("Name : Value").is_none());
        assert_eq!(prompt("PS C:\\pexip> .\\create_vmss_deployment.ps1"), Some(".\\create_vmss_deployment.ps1"));
        assert_eq!(compact_time("20250715083011").map(time::rfc3339).as_deref(), Some("2025-07-15T08:30:11Z"));
    }
}
