//! SIP messages in text traces: Wireshark "Follow stream" text, sngrep and ngrep exports, Teams
//! and SBC debug dumps. Messages are found by their start lines; the lines before one (time
//! stamps, `A -> B` markers, `Sent:`/`Received:` banners) give its time, direction and addresses.

use std::sync::LazyLock;

use aho_corasick::AhoCorasick;
use uctriage_evidence::Timestamp;

use super::generic::leading_time;
use super::sip::{self, Builder, Push};
use super::{codes_in, Emitter, ReadError, Reader};
use crate::input::{Head, Input};

#[derive(Debug)]
pub struct SipTrace;

/// What the lines before a message said about it.
#[derive(Debug, Default, Clone)]
pub(super) struct Context {
    pub time: Option<Timestamp>,
    pub direction: Option<&'static str>,
    pub src: Option<String>,
    pub dst: Option<String>,
    pub transport: Option<&'static str>,
}

impl Context {
    pub fn apply(&self, e: &mut uctriage_evidence::Evidence) {
        if e.time.is_none() {
            e.time = self.time;
        }
        if let Some(d) = self.direction {
            e.field("direction", d);
        }
        if let Some(s) = &self.src {
            e.field("src", s.as_str());
        }
        if let Some(d) = &self.dst {
            e.field("dst", d.as_str());
        }
        if let Some(t) = self.transport {
            e.field("transport", t);
        }
    }
}

/// The time at the start of a trace line, also in `2025/07/15 08:30:11.123456` form (sngrep,
/// ngrep) and after an ngrep protocol letter (`U 2025/07/15 …`).
pub(super) fn trace_time(line: &str) -> Option<Timestamp> {
    let l = line.trim_start();
    // Cheap test first: stamps start with a digit, a bracket or a capital (month, weekday).
    if !l.starts_with(|c: char| c.is_ascii_digit() || c.is_ascii_uppercase() || matches!(c, '[' | '<' | '"' | '#')) {
        return None;
    }
    let l = match l.as_bytes() {
        [b'U' | b'T' | b'#', b' ', ..] => &l[2..],
        _ => l,
    };
    let b = l.as_bytes();
    let digits = |r: std::ops::Range<usize>| b.get(r).is_some_and(|d| d.iter().all(u8::is_ascii_digit));
    if b.len() >= 10 && digits(0..4) && b[4] == b'/' && digits(5..7) && b[7] == b'/' && digits(8..10) {
        let fixed = format!("{}-{}-{}{}", &l[..4], &l[5..7], &l[8..10], &l[10..]);
        return leading_time(&fixed);
    }
    leading_time(l)
}

/// Direction, addresses and transport named on a marker line.
pub(super) fn read_marker(line: &str, ctx: &mut Context) {
    // The words (runs of ASCII letters and digits), case aside: which directions and transports
    // are named anywhere on the line.
    let (mut incoming, mut outgoing) = (false, false);
    let mut transports = [false; 3];
    // Bytes beyond ASCII are never letters or digits here, so the words can be cut byte by byte.
    let b = line.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if !b[i].is_ascii_alphanumeric() {
            i += 1;
            continue;
        }
        let start = i;
        while i < b.len() && b[i].is_ascii_alphanumeric() {
            i += 1;
        }
        let w = &b[start..i];
        if !(3..=8).contains(&w.len()) {
            continue;
        }
        // Lower-cased into a buffer of its own, the word is compared once with every name.
        let mut buf = [0u8; 8];
        let lower = &mut buf[..w.len()];
        lower.copy_from_slice(w);
        lower.make_ascii_lowercase();
        match &*lower {
            b"incoming" | b"received" | b"recv" | b"receive" | b"rcvd" | b"inbound" => incoming = true,
            b"outgoing" | b"sent" | b"send" | b"sending" | b"outbound" => outgoing = true,
            b"tls" => transports[0] = true,
            b"tcp" => transports[1] = true,
            b"udp" => transports[2] = true,
            _ => {}
        }
    }
    if incoming {
        ctx.direction = Some("incoming");
    } else if outgoing {
        ctx.direction = Some("outgoing");
    }
    if let Some(i) = transports.iter().position(|t| *t) {
        ctx.transport = Some(["TLS", "TCP", "UDP"][i]);
    }
    if line.trim_start().starts_with("U ") {
        ctx.transport = Some("UDP");
    } else if line.trim_start().starts_with("T ") {
        ctx.transport.get_or_insert("TCP");
    }
    let toks = tokens(line);
    for (i, t) in toks.iter().enumerate() {
        if matches!(*t, "->" | "-->" | "=>") && i > 0 && i + 1 < toks.len() {
            ctx.src = endpoint(toks[i - 1]);
            ctx.dst = endpoint(toks[i + 1]);
        }
    }
    for (i, t) in toks.iter().enumerate() {
        let (from, to) = (t.eq_ignore_ascii_case("from"), t.eq_ignore_ascii_case("to"));
        if i + 1 < toks.len() && (from || to) {
            if let Some(ep) = endpoint(toks[i + 1]) {
                if from {
                    ctx.src = Some(ep);
                } else {
                    ctx.dst = Some(ep);
                }
            }
        }
    }
}

/// The words of a line between whitespace, as `split_whitespace` gives them; an ASCII line (the
/// usual one) is cut byte by byte, without decoding characters.
fn tokens(line: &str) -> Vec<&str> {
    if !line.is_ascii() {
        return line.split_whitespace().collect();
    }
    // The ASCII characters `char::is_whitespace` names: tab to carriage return, and space.
    let space = |c: u8| c == b' ' || (b'\t'..=b'\r').contains(&c);
    let b = line.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        while i < b.len() && space(b[i]) {
            i += 1;
        }
        let start = i;
        while i < b.len() && !space(b[i]) {
            i += 1;
        }
        if i > start {
            out.push(&line[start..i]);
        }
    }
    out
}

/// An `address:port` token (v4, `[v6]:port`, or a name with a port).
fn endpoint(tok: &str) -> Option<String> {
    let t = tok.trim_matches(|c: char| matches!(c, ',' | ';' | '(' | ')' | '<' | '>' | '"'));
    let (host, port) = t.rsplit_once(':')?;
    if port.is_empty() || !port.bytes().all(|b| b.is_ascii_digit()) || host.is_empty() {
        return None;
    }
    let h = host.trim_start_matches('[').trim_end_matches(']');
    let ok = h.parse::<std::net::IpAddr>().is_ok() || sip::is_fqdn(h);
    ok.then(|| t.to_owned())
}

/// Whether a (trimmed) line starts with a SIP header that only SIP messages have.
fn header_line(l: &str) -> bool {
    let lower = l.get(..8).unwrap_or(l).to_ascii_lowercase();
    lower.starts_with("call-id:")
        || lower.starts_with("cseq:")
        || lower.starts_with("via: sip")
        || lower.starts_with("i: ")
        || lower.starts_with("v: sip/")
}

impl Reader for SipTrace {
    fn format(&self) -> &'static str {
        "sip-trace"
    }

    fn detect(&self, name: &str, head: &Head<'_>) -> u8 {
        // Start lines and header lines among the first 20,000 lines, up to the ten that count.
        // Every start line holds `SIP/2.0` and every header line its header's name, so only the
        // lines holding one are read; the headers are not counted where there is no start line.
        static START: LazyLock<AhoCorasick> = LazyLock::new(|| AhoCorasick::new(["SIP/2.0"]).expect("fixed words"));
        static HEADER: LazyLock<AhoCorasick> = LazyLock::new(|| {
            AhoCorasick::new(["call-id:", "cseq:", "via: sip", "i: ", "v: sip/"]).expect("fixed words")
        });
        let text = head.text();
        let end = super::lines_end(text, 20_000);
        let (scope, lower) = (&text[..end], &head.lower()[..end]);
        let starts = super::count_lines_holding(scope, scope, &START, 10, |l| sip::find_start(l.trim()).is_some());
        if starts == 0 {
            return 0;
        }
        let headers = super::count_lines_holding(scope, lower, &HEADER, 10, |l| header_line(l.trim()));
        if headers == 0 {
            return 0;
        }
        let by_name = [".sip", "sip", "trace", "sngrep", ".txt", ".log"].iter().any(|s| name.contains(s));
        (55 + starts.min(10) as u8 + headers.min(10) as u8 + u8::from(by_name) * 5).min(85)
    }

    fn read(&self, input: Input, out: &mut Emitter<'_>) -> Result<(), ReadError> {
        let mut lines = input.into_lines();
        let mut line = String::new();
        let mut ctx = Context::default();
        let mut cur: Option<(Builder, u64, Context)> = None;
        loop {
            let info = lines.next_line(&mut line).map_err(|e| ReadError::new("", format!("read error: {e}")))?;
            let Some(info) = info else { break };
            if info.truncated {
                out.warn(format!("line {}", info.number), "line longer than 1 MiB: the rest of it was skipped");
            }
            if let Some((b, _, _)) = cur.as_mut() {
                match b.push(&line) {
                    Push::More => continue,
                    Push::Done => {
                        if let Some((b, n, c)) = cur.take() {
                            emit(out, &b, n, &c);
                        }
                        continue;
                    }
                    Push::Ended => {
                        if let Some((b, n, c)) = cur.take() {
                            emit(out, &b, n, &c);
                        }
                    }
                }
            }
            if let Some(at) = sip::find_start(&line) {
                let prefix = &line[..at];
                let mut c = std::mem::take(&mut ctx);
                if !prefix.trim().is_empty() {
                    if let Some(t) = trace_time(prefix) {
                        c.time = Some(t);
                    }
                    read_marker(prefix, &mut c);
                }
                cur = Some((Builder::new(&line[at..]), info.number, c));
            } else if !line.trim().is_empty() {
                if let Some(t) = trace_time(&line) {
                    ctx.time = Some(t);
                }
                read_marker(&line, &mut ctx);
                // A line outside any message still counts: a header a pasted trace set apart
                // with an empty line, or a sentence naming a code.
                let codes = codes_in(&line);
                if !codes.is_empty() {
                    let mut e = out.evidence(format!("line {}", info.number));
                    e.time = ctx.time;
                    e.kind = "log-line".into();
                    e.source = "sip-trace".into();
                    e.add_codes(codes);
                    e.set_excerpt(&line);
                    out.emit(e);
                }
            }
        }
        if let Some((b, n, c)) = cur.take() {
            if !b.looks_whole() {
                out.warn(format!("line {n}"), "SIP message cut short at the end of the input");
            }
            emit(out, &b, n, &c);
        }
        Ok(())
    }
}

fn emit(out: &mut Emitter<'_>, b: &Builder, line: u64, ctx: &Context) {
    let Some(msg) = b.finish() else { return };
    let mut e = out.evidence(format!("line {line}"));
    e.source = "sip-trace".into();
    ctx.apply(&mut e);
    msg.fill(&mut e);
    out.emit(e);
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// SIP start lines and header lines as they were counted: every line of the first 20,000.
    fn sip_evidence_before(text: &str) -> (usize, usize) {
        let mut starts = 0;
        let mut headers = 0;
        for line in text.lines().take(20_000) {
            let l = line.trim();
            if sip::find_start(l).is_some() {
                starts += 1;
            }
            let lower = l.get(..8).unwrap_or(l).to_ascii_lowercase();
            if lower.starts_with("call-id:")
                || lower.starts_with("cseq:")
                || lower.starts_with("via: sip")
                || lower.starts_with("i: ")
                || lower.starts_with("v: sip/")
            {
                headers += 1;
            }
        }
        (starts, headers)
    }

    /// Detection as it was before it read only the lines that may count, kept to check the new
    /// one against.
    pub(crate) fn detect_before(name: &str, head: &[u8]) -> u8 {
        let text = crate::input::head_text(head);
        let (starts, headers) = sip_evidence_before(&text);
        if starts == 0 || headers == 0 {
            return 0;
        }
        let by_name = [".sip", "sip", "trace", "sngrep", ".txt", ".log"].iter().any(|s| name.contains(s));
        (55 + starts.min(10) as u8 + headers.min(10) as u8 + u8::from(by_name) * 5).min(85)
    }

    /// The marker reading as it was, with a lower-cased copy of the line and of each word.
    fn read_marker_before(line: &str, ctx: &mut Context) {
        let lower = line.to_ascii_lowercase();
        let words: Vec<&str> = lower.split(|c: char| !c.is_ascii_alphanumeric()).collect();
        if words.iter().any(|w| matches!(*w, "incoming" | "received" | "recv" | "receive" | "rcvd" | "inbound")) {
            ctx.direction = Some("incoming");
        } else if words.iter().any(|w| matches!(*w, "outgoing" | "sent" | "send" | "sending" | "outbound")) {
            ctx.direction = Some("outgoing");
        }
        for (w, t) in [("tls", "TLS"), ("tcp", "TCP"), ("udp", "UDP")] {
            if words.contains(&w) {
                ctx.transport = Some(t);
                break;
            }
        }
        if line.trim_start().starts_with("U ") {
            ctx.transport = Some("UDP");
        } else if line.trim_start().starts_with("T ") {
            ctx.transport.get_or_insert("TCP");
        }
        let toks: Vec<&str> = line.split_whitespace().collect();
        for (i, t) in toks.iter().enumerate() {
            if matches!(*t, "->" | "-->" | "=>") && i > 0 && i + 1 < toks.len() {
                ctx.src = endpoint(toks[i - 1]);
                ctx.dst = endpoint(toks[i + 1]);
            }
        }
        for (i, t) in toks.iter().enumerate() {
            let t = t.to_ascii_lowercase();
            if i + 1 < toks.len() && (t == "from" || t == "to") {
                if let Some(ep) = endpoint(toks[i + 1]) {
                    if t == "from" {
                        ctx.src = Some(ep);
                    } else {
                        ctx.dst = Some(ep);
                    }
                }
            }
        }
    }

    type Read = (Option<&'static str>, Option<String>, Option<String>, Option<&'static str>);

    fn both(line: &str, start: &Context) -> (Read, Read) {
        let (mut a, mut b) = (start.clone(), start.clone());
        read_marker(line, &mut a);
        read_marker_before(line, &mut b);
        ((a.direction, a.src, a.dst, a.transport), (b.direction, b.src, b.dst, b.transport))
    }

    #[test]
    fn markers_read_as_before() {
        let start = Context { transport: Some("TCP"), ..Context::default() };
        for line in [
            "---- Incoming SIP Message from 198.51.100.21:5061 to SIPInterface #1 (Teams) TLS TO(#14) ----",
            "Outgoing SIP message TO 10.0.0.1:5060 FROM sbc.contoso.com:5061 udp",
            "U 192.0.2.1:5060 -> 192.0.2.2:5060",
            "T 192.0.2.1:5060 --> [2001:db8::1]:5061",
            "SENT\u{e9}Recv tcp-tls",
            "",
            "to",
            "from x.contoso.com:1 To y.contoso.com:2",
        ] {
            let (a, b) = both(line, &start);
            assert_eq!(a, b, "{line}");
            let (a, b) = both(line, &Context::default());
            assert_eq!(a, b, "{line}");
        }
    }

    proptest::proptest! {
        /// Words cut byte by byte are the words `split_whitespace` cuts, on ASCII lines and not.
        #[test]
        fn tokens_are_the_whitespace_split(s in "[ \t\u{b}\u{c}\r\n\u{1c}\u{a0}\u{85}\u{2003}ax>:-]{0,40}") {
            proptest::prop_assert_eq!(tokens(&s), s.split_whitespace().collect::<Vec<_>>());
        }

        /// Lines made of the words, arrows and endpoints a marker reacts to, in any case.
        #[test]
        fn markers_read_as_before_on_random_lines(
            parts in proptest::collection::vec(0usize..20, 0..14),
            seps in proptest::collection::vec(0usize..8, 14),
            upper in proptest::collection::vec(proptest::bool::ANY, 14),
        ) {
            const WORDS: [&str; 20] = [
                "incoming", "Received", "RECV", "sending", "outbound", "sent", "tls", "TCP", "udp", "U", "T",
                "from", "TO", "->", "=>", "192.0.2.1:5060", "[2001:db8::1]:5061", "sbc.contoso.com:5061", "x:y",
                "r\u{e9}cv",
            ];
            const SEPS: [&str; 8] = [" ", "  ", "(", ":", "\t", "\u{b}", "\u{a0}", "\r\n"];
            let mut line = String::new();
            for (i, p) in parts.iter().enumerate() {
                let w = WORDS[*p];
                line.push_str(&if upper[i] { w.to_ascii_uppercase() } else { w.to_owned() });
                line.push_str(SEPS[seps[i]]);
            }
            let (a, b) = both(&line, &Context::default());
            proptest::prop_assert_eq!(a, b);
        }
    }
}
