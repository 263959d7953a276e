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
///
/// The words (runs of ASCII letters and digits, case aside) say which directions and transports
/// are named anywhere on the line; the tokens between whitespace give the endpoints (`A -> B`,
/// `from A`, `to B`). An ASCII line (the usual one) is walked once, byte by byte, for both.
pub(super) fn read_marker(line: &str, ctx: &mut Context) {
    let mut named = Named::default();
    let mut ends = Ends::default();
    let b = line.as_bytes();
    if line.is_ascii() {
        let mut i = 0;
        while i < b.len() {
            while i < b.len() && CLASS[usize::from(b[i])] == SPACE {
                i += 1;
            }
            let token = i;
            while i < b.len() && CLASS[usize::from(b[i])] != SPACE {
                if CLASS[usize::from(b[i])] == ALNUM {
                    let word = i;
                    while i < b.len() && CLASS[usize::from(b[i])] == ALNUM {
                        i += 1;
                    }
                    named.word(&b[word..i]);
                } else {
                    i += 1;
                }
            }
            if i > token {
                ends.token(&line[token..i]);
            }
        }
    } else {
        // Bytes beyond ASCII are never letters or digits here, so the words are still cut byte
        // by byte; the tokens are cut at any whitespace.
        for w in b.split(|c| !c.is_ascii_alphanumeric()) {
            named.word(w);
        }
        line.split_whitespace().for_each(|t| ends.token(t));
    }
    if named.incoming {
        ctx.direction = Some("incoming");
    } else if named.outgoing {
        ctx.direction = Some("outgoing");
    }
    if let Some(i) = named.transports.iter().position(|t| *t) {
        ctx.transport = Some(["TLS", "TCP", "UDP"][i]);
    }
    if line.trim_start().starts_with("U ") {
        ctx.transport = Some("UDP");
    } else if line.trim_start().starts_with("T ") {
        ctx.transport.get_or_insert("TCP");
    }
    if let Some((a, b)) = ends.arrow {
        ctx.src = endpoint(a);
        ctx.dst = endpoint(b);
    }
    if let Some(f) = ends.from {
        ctx.src = Some(f.to_owned());
    }
    if let Some(t) = ends.to {
        ctx.dst = Some(t.to_owned());
    }
}

/// What a byte is to [`read_marker`]: whitespace as `char::is_whitespace` sees it among ASCII
/// bytes (tab to carriage return, and space), an ASCII letter or digit, or neither.
const SPACE: u8 = 1;
const ALNUM: u8 = 2;
static CLASS: [u8; 256] = {
    let mut t = [0u8; 256];
    let mut c = 0;
    while c < 256 {
        let b = c as u8;
        t[c] = if b == b' ' || (b >= b'\t' && b <= b'\r') {
            SPACE
        } else if b.is_ascii_alphanumeric() {
            ALNUM
        } else {
            0
        };
        c += 1;
    }
    t
};

/// The directions and transports a marker line names.
#[derive(Default)]
struct Named {
    incoming: bool,
    outgoing: bool,
    /// TLS, TCP, UDP.
    transports: [bool; 3],
}

impl Named {
    fn word(&mut self, w: &[u8]) {
        // Every name is 3 to 8 letters long and starts with one of these (case aside: a letter
        // with 0x20 set is its lower case, and a digit keeps its value).
        if !(3..=8).contains(&w.len()) || !matches!(w[0] | 0x20, b'i' | b'o' | b'r' | b's' | b't' | b'u') {
            return;
        }
        match packed_lower(w) {
            INCOMING | RECEIVED | RECV | RECEIVE | RCVD | INBOUND => self.incoming = true,
            OUTGOING | SENT | SEND | SENDING | OUTBOUND => self.outgoing = true,
            TLS => self.transports[0] = true,
            TCP => self.transports[1] = true,
            UDP => self.transports[2] = true,
            _ => {}
        }
    }
}

/// The endpoints a marker line's tokens name: `A -> B` names both (the last arrow wins), then
/// `from A` and `to B` one each where A or B is an endpoint (the last of each wins; kept as the
/// endpoint, without its wrapping). Each token is looked at with the one before it when the one
/// after it comes.
#[derive(Default)]
struct Ends<'a> {
    before: Option<&'a str>,
    here: Option<&'a str>,
    arrow: Option<(&'a str, &'a str)>,
    from: Option<&'a str>,
    to: Option<&'a str>,
}

impl<'a> Ends<'a> {
    fn token(&mut self, next: &'a str) {
        if let Some(h) = self.here {
            if let Some(prev) = self.before.filter(|_| matches!(h, "->" | "-->" | "=>")) {
                self.arrow = Some((prev, next));
            }
            if h.eq_ignore_ascii_case("from") {
                self.from = endpoint_in(next).or(self.from);
            } else if h.eq_ignore_ascii_case("to") {
                self.to = endpoint_in(next).or(self.to);
            }
        }
        self.before = self.here;
        self.here = Some(next);
    }
}

/// A word of at most eight ASCII letters and digits, lower-cased, as one number (its first byte
/// lowest): compared with each name in one step.
const fn packed_lower(w: &[u8]) -> u64 {
    let mut v = 0u64;
    let mut i = 0;
    while i < w.len() && i < 8 {
        v |= (w[i].to_ascii_lowercase() as u64) << (8 * i);
        i += 1;
    }
    v
}

const INCOMING: u64 = packed_lower(b"incoming");
const RECEIVED: u64 = packed_lower(b"received");
const RECV: u64 = packed_lower(b"recv");
const RECEIVE: u64 = packed_lower(b"receive");
const RCVD: u64 = packed_lower(b"rcvd");
const INBOUND: u64 = packed_lower(b"inbound");
const OUTGOING: u64 = packed_lower(b"outgoing");
const SENT: u64 = packed_lower(b"sent");
const SEND: u64 = packed_lower(b"send");
const SENDING: u64 = packed_lower(b"sending");
const OUTBOUND: u64 = packed_lower(b"outbound");
const TLS: u64 = packed_lower(b"tls");
const TCP: u64 = packed_lower(b"tcp");
const UDP: u64 = packed_lower(b"udp");

/// An `address:port` token (v4, `[v6]:port`, or a name with a port).
fn endpoint(tok: &str) -> Option<String> {
    endpoint_in(tok).map(str::to_owned)
}

/// The endpoint [`endpoint`] reads in `tok`, as a piece of it.
fn endpoint_in(tok: &str) -> Option<&str> {
    let t = tok.trim_matches(|c: char| matches!(c, ',' | ';' | '(' | ')' | '<' | '>' | '"'));
    let (host, port) = t.rsplit_once(':')?;
    if port.is_empty() || !port.bytes().all(|b| b.is_ascii_digit()) || host.is_empty() {
        return None;
    }
    let h = host.trim_start_matches('[').trim_end_matches(']');
    let ok = h.parse::<std::net::IpAddr>().is_ok() || sip::is_fqdn(h);
    ok.then_some(t)
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

    /// The byte classes the marker walk cuts words and tokens by are those of the standard
    /// library: ASCII letters and digits, and the ASCII whitespace `char::is_whitespace` names.
    #[test]
    fn byte_classes_are_the_standard_ones() {
        for b in 0..=255u8 {
            let space = b.is_ascii() && char::from(b).is_whitespace();
            assert_eq!(CLASS[usize::from(b)] == SPACE, space, "{b:#x}");
            assert_eq!(CLASS[usize::from(b)] == ALNUM, b.is_ascii_alphanumeric(), "{b:#x}");
        }
    }

    proptest::proptest! {
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
