//! SIP messages as every telephony reader meets them: start line, headers (full and compact
//! names, folded lines, lists), body by Content-Length, and the evidence they carry (status,
//! Reason with its Q.850 cause, ms-diagnostics, X-MS-* headers, the FQDNs of Contact,
//! Record-Route and Via).
//!
//! Readers frame messages their own way (text lines, syslog fragments, TCP streams) and hand
//! the text to [`parse`]; [`Builder`] frames line by line and [`frame`] frames a byte stream.

use uctriage_evidence::{time, Code, Evidence, Timestamp};

/// Largest message text kept; longer bodies are cut (headers come first, so nothing of value is lost).
pub const MAX_MESSAGE: usize = 64 * 1024;

/// Most headers kept from one message.
const MAX_HEADERS: usize = 200;

/// The first line of a SIP message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Start {
    Request { method: String, uri: String },
    Response { status: u16, reason: String },
}

/// One parsed SIP message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    pub start: Start,
    /// The start line as written.
    pub start_line: String,
    /// Headers in order: full lower-case name (compact forms expanded), value (folds joined).
    pub headers: Vec<(String, String)>,
    /// Header lines as written (folds joined), for the excerpt: those it shows, the ones
    /// [`leaves_out`] names left out, each after ` | ` (one text rather than a copy of each).
    raw_headers: String,
    pub body: String,
}

/// Full name of a compact header (RFC 3261 section 7.3.3 and the extensions that define one).
fn expand_compact(name: &str) -> Option<&'static str> {
    Some(match name {
        "i" => "call-id",
        "m" => "contact",
        "e" => "content-encoding",
        "l" => "content-length",
        "c" => "content-type",
        "f" => "from",
        "s" => "subject",
        "k" => "supported",
        "t" => "to",
        "v" => "via",
        "o" => "event",
        "r" => "refer-to",
        "u" => "allow-events",
        "x" => "session-expires",
        "b" => "referred-by",
        "a" => "accept-contact",
        "j" => "reject-contact",
        "d" => "request-disposition",
        "y" => "identity",
        "n" => "identity-info",
        _ => return None,
    })
}

fn is_method(word: &str) -> bool {
    (2..=24).contains(&word.len()) && word.bytes().all(|b| b.is_ascii_uppercase() || b == b'-' || b == b'_')
}

/// Read a start line (`INVITE sip:x SIP/2.0` or `SIP/2.0 403 Forbidden`); `None` for anything else.
pub fn start_line(line: &str) -> Option<Start> {
    start_parts(line).map(|p| match p {
        StartParts::Request { method, uri } => Start::Request { method: method.to_owned(), uri: uri.to_owned() },
        StartParts::Response { status, reason } => Start::Response { status, reason: reason.to_owned() },
    })
}

/// Whether a line is a start line ([`start_line`] without building one).
pub fn is_start_line(line: &str) -> bool {
    start_parts(line).is_some()
}

/// A start line's parts, borrowed from the line.
enum StartParts<'a> {
    Request { method: &'a str, uri: &'a str },
    Response { status: u16, reason: &'a str },
}

fn start_parts(line: &str) -> Option<StartParts<'_>> {
    let line = line.trim();
    if let Some(rest) = line.strip_prefix("SIP/2.0 ") {
        let rest = rest.trim_start();
        let code = rest.get(..3)?;
        if !code.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let after = &rest[3..];
        if !(after.is_empty() || after.starts_with([' ', '\t'])) {
            return None;
        }
        let status: u16 = code.parse().ok()?;
        if !(100..700).contains(&status) {
            return None;
        }
        return Some(StartParts::Response { status, reason: after.trim() });
    }
    let rest = line.strip_suffix("SIP/2.0")?;
    let mut words = rest.split_whitespace();
    let method = words.next()?;
    let uri = words.next()?;
    if words.next().is_some() || !is_method(method) || !rest.ends_with([' ', '\t']) {
        return None;
    }
    let scheme = uri.split(':').next().unwrap_or("");
    if !uri.contains(':') || scheme.is_empty() || !scheme.bytes().all(|b| b.is_ascii_alphabetic()) {
        return None;
    }
    Some(StartParts::Request { method, uri })
}

/// The SIP methods a one-line event may name (RFC 3261 and its extensions).
const METHODS: &[&str] = &[
    "INVITE",
    "ACK",
    "BYE",
    "CANCEL",
    "OPTIONS",
    "REGISTER",
    "INFO",
    "PRACK",
    "UPDATE",
    "SUBSCRIBE",
    "NOTIFY",
    "REFER",
    "MESSAGE",
    "PUBLISH",
];

/// A SIP message told in one line of prose, with no message to frame: what SBCs and monitoring
/// tools write as `Sending OPTIONS to sip.pstnhub.microsoft.com:5061`, `Received 200 OK from
/// sip.pstnhub.microsoft.com` or `Received SIP/2.0 503 Service Unavailable from …`. A start line
/// in such a line is not the start of a message: no headers follow it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LineEvent {
    /// Sent by the writer of the log (`Sending`, `Sent`), else received.
    pub sent: bool,
    /// The request's method and the peer as a URI (`sip:host:port`), or the response's status
    /// and reason phrase.
    pub start: Start,
    /// The peer's host (and port) as written, lower-cased: where it went, or where it came from.
    pub peer: String,
    /// The method a response answers, when the line names it (`200 OK for OPTIONS`).
    pub answers: Option<String>,
}

/// Read a line as a [`LineEvent`]: a verb (`Sending`, `Sent`, `Received`, `Receiving`, `Got`),
/// then a method (`OPTIONS`) or a status (`200 OK`, `SIP/2.0 503 Service Unavailable`), then the
/// peer after `to` or `from`. `None` for anything else, a line holding a message's line ends
/// (`#012` or a newline) included.
pub fn line_event(line: &str) -> Option<LineEvent> {
    // Every verb holds `sen`, `rec` or `got`, case aside: most lines hold none of them.
    static VERB_PIECES: std::sync::LazyLock<aho_corasick::AhoCorasick> = std::sync::LazyLock::new(|| {
        aho_corasick::AhoCorasick::builder()
            .ascii_case_insensitive(true)
            .build(["sen", "rec", "got"])
            .expect("fixed words")
    });
    if line.len() > 1024 || line.contains('\n') || line.contains("#012") {
        return None;
    }
    if !VERB_PIECES.is_match(line) {
        return None;
    }
    line_event_unfiltered(line)
}

/// [`line_event`] without the quick check for the verbs' pieces.
fn line_event_unfiltered(line: &str) -> Option<LineEvent> {
    let mut words = line.split_whitespace();
    let verb = words.find(|w| {
        let w = w.trim_end_matches(':');
        ["sending", "sent", "send", "received", "receiving", "recv", "got"].iter().any(|v| w.eq_ignore_ascii_case(v))
    })?;
    let sent = verb.get(..2).is_some_and(|v| v.eq_ignore_ascii_case("se"));
    let after: Vec<&str> = words.collect();
    let mut rest = &after[..];
    if rest.first().is_some_and(|w| w.eq_ignore_ascii_case("SIP/2.0")) {
        rest = &rest[1..];
    }
    let first = *rest.first()?;
    let status = first.parse::<u16>().ok().filter(|s| (100..700).contains(s) && first.len() == 3);
    // The peer: the first host named after `to` or `from` (a reason phrase may hold a `to`).
    let (peer_at, peer) = rest.windows(2).enumerate().skip(1).find_map(|(i, pair)| {
        let by = pair[0].eq_ignore_ascii_case("to") || pair[0].eq_ignore_ascii_case("from");
        by.then(|| peer_host(pair[1])).flatten().map(|p| (i, p))
    })?;
    let start = if let Some(status) = status {
        let reason = rest[1..peer_at].join(" ");
        let reason = reason.trim_end_matches([',', ';', ':']).to_owned();
        Start::Response { status, reason }
    } else {
        let method = first.trim_end_matches([',', ':']);
        if !METHODS.contains(&method) {
            return None;
        }
        Start::Request { method: method.to_owned(), uri: format!("sip:{peer}") }
    };
    let answers = match start {
        Start::Response { .. } => rest
            .iter()
            .skip(1)
            .map(|w| w.trim_matches(|c: char| !c.is_ascii_alphabetic()))
            .find_map(|w| METHODS.iter().find(|m| **m == w).map(|m| (*m).to_owned())),
        Start::Request { .. } => None,
    };
    Some(LineEvent { sent, start, peer, answers })
}

/// The host (and port) in a word naming a peer: `sip.pstnhub.microsoft.com:5061`,
/// `<sip:sip.pstnhub.microsoft.com:5061;transport=tls>`, `52.114.14.70:5061,`.
fn peer_host(word: &str) -> Option<String> {
    let w = word.trim_matches(|c: char| matches!(c, '<' | '>' | '(' | ')' | '"' | '\'' | ',' | '.' | ';'));
    let w = w.strip_prefix("sips:").or_else(|| w.strip_prefix("sip:")).unwrap_or(w);
    let w = w.rsplit_once('@').map_or(w, |(_, h)| h);
    let w = w.split([';', '>', '?']).next().unwrap_or("");
    let host = w.split(':').next().unwrap_or("");
    let looks = host.len() >= 3
        && host.contains('.')
        && host.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-'))
        && w.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b':'));
    looks.then(|| w.to_ascii_lowercase())
}

/// Where a start line begins inside `line`: at its start, or after a prefix such as a time stamp
/// or `msg = ` (the start line then runs to the end of the line).
pub fn find_start(line: &str) -> Option<usize> {
    let trimmed = line.trim_start();
    if is_start_line(trimmed) {
        return Some(line.len() - trimmed.len());
    }
    let t = line.trim_end();
    if t.len() > 4096 {
        return None;
    }
    // A response: `SIP/2.0 NNN` after a separator.
    if let Some(i) = memchr::memmem::find(t.as_bytes(), b"SIP/2.0 ") {
        if i > 0 && is_separator(t.as_bytes()[i - 1]) && is_start_line(&t[i..]) {
            return Some(i);
        }
    }
    // A request: the line ends with ` SIP/2.0`; the method is two words back.
    if let Some(head) = t.strip_suffix(" SIP/2.0") {
        let uri_at = head.rfind([' ', '\t'])?;
        let before = head[..uri_at].trim_end();
        let method_at = before.rfind(|c: char| !(c.is_ascii_uppercase() || c == '-' || c == '_')).map_or(0, |i| i + 1);
        if method_at > 0 && !is_separator(before.as_bytes()[method_at - 1]) {
            return None;
        }
        if is_start_line(&t[method_at..]) {
            return Some(method_at);
        }
    }
    None
}

fn is_separator(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b':' | b']' | b'>' | b'=' | b'|' | b'"' | b')')
}

/// Whether the excerpt leaves out a header, by its name lower-cased (compact forms included):
/// bulky or routine ones that would crowd out the telling ones. A `match` rather than a search
/// of a list, as every header line of every message asks.
fn leaves_out(lower: &str) -> bool {
    matches!(
        lower,
        "via"
            | "v"
            | "record-route"
            | "route"
            | "authorization"
            | "www-authenticate"
            | "proxy-authenticate"
            | "proxy-authorization"
            | "authentication-info"
            | "supported"
            | "k"
            | "allow"
            | "allow-events"
            | "u"
            | "accept"
            | "content-type"
            | "c"
            | "content-length"
            | "l"
            | "max-forwards"
            | "p-asserted-identity"
            | "p-preferred-identity"
            | "privacy"
            | "session-expires"
            | "x"
            | "min-se"
            | "require"
            | "contact"
            | "m"
            | "from"
            | "f"
            | "to"
            | "t"
    )
}

/// The names [`leaves_out`] answers for, as a list (the tests compare the two).
#[cfg(test)]
const EXCERPT_LEAVES_OUT: &[&str] = &[
    "via",
    "v",
    "record-route",
    "route",
    "authorization",
    "www-authenticate",
    "proxy-authenticate",
    "proxy-authorization",
    "authentication-info",
    "supported",
    "k",
    "allow",
    "allow-events",
    "u",
    "accept",
    "content-type",
    "c",
    "content-length",
    "l",
    "max-forwards",
    "p-asserted-identity",
    "p-preferred-identity",
    "privacy",
    "session-expires",
    "x",
    "min-se",
    "require",
    "contact",
    "m",
    "from",
    "f",
    "to",
    "t",
];

/// `s.trim()`, answered at once when `s` starts and ends with an ASCII byte that is not
/// whitespace, as most header lines, names and values do.
fn trim(s: &str) -> &str {
    let b = s.as_bytes();
    match (b.first(), b.last()) {
        (Some(f), Some(l)) if f.is_ascii() && l.is_ascii() && !is_ascii_space(*f) && !is_ascii_space(*l) => s,
        _ => s.trim(),
    }
}

/// `s.trim_end()`, answered at once when `s` ends with an ASCII byte that is not whitespace.
fn trim_end(s: &str) -> &str {
    match s.as_bytes().last() {
        Some(l) if l.is_ascii() && !is_ascii_space(*l) => s,
        _ => s.trim_end(),
    }
}

/// Parse a message whose text starts with the start line (leading blank lines are skipped).
pub fn parse(text: &str) -> Option<Message> {
    // `text.split('\n')`, searched with memchr.
    let mut at = 0;
    let mut lines = std::iter::from_fn(|| {
        let from = at;
        let rest = text.get(from..)?;
        let end = memchr::memchr(b'\n', rest.as_bytes()).map_or(text.len(), |i| from + i);
        at = end + 1;
        Some(&text[from..end])
    })
    .map(|l| l.strip_suffix('\r').unwrap_or(l));
    let first = lines.by_ref().find(|l| !l.trim().is_empty())?;
    let start = start_line(first)?;
    let mut headers: Vec<(String, String)> = Vec::new();
    let mut raw_headers = String::new();
    let mut last_raw_kept = false;
    let mut body_lines: Vec<&str> = Vec::new();
    let mut in_body = false;
    for line in lines {
        if in_body {
            body_lines.push(line);
            continue;
        }
        if trim(line).is_empty() {
            in_body = true;
            continue;
        }
        if line.starts_with([' ', '\t']) {
            // A folded line continues the previous header.
            if let Some((_, v)) = headers.last_mut() {
                v.push(' ');
                v.push_str(line.trim());
                // The line last kept is at the end of the text.
                if last_raw_kept {
                    raw_headers.push(' ');
                    raw_headers.push_str(line.trim());
                }
            }
            continue;
        }
        let Some(colon) = memchr::memchr(b':', line.as_bytes()) else { continue };
        let (name, value) = (&line[..colon], &line[colon + 1..]);
        let name = trim(name);
        if name.is_empty() || name.len() > 64 || name.contains(' ') || headers.len() >= MAX_HEADERS {
            continue;
        }
        let lower = name.to_ascii_lowercase();
        // Only the lines the excerpt shows are kept as written.
        last_raw_kept = !leaves_out(&lower);
        let full = expand_compact(&lower).map_or(lower, str::to_owned);
        headers.push((full, trim(value).to_owned()));
        if last_raw_kept {
            raw_headers.push_str(" | ");
            raw_headers.push_str(trim_end(line));
        }
    }
    let mut body = body_lines.join("\n");
    truncate_at_char(&mut body, MAX_MESSAGE);
    Some(Message { start, start_line: first.trim().to_owned(), headers, raw_headers, body })
}

fn truncate_at_char(s: &mut String, max: usize) {
    if s.len() > max {
        let mut cut = max;
        while !s.is_char_boundary(cut) {
            cut -= 1;
        }
        s.truncate(cut);
    }
}

/// Split a header list on commas outside quotes and angle brackets (Via, Contact, Record-Route).
/// The readers take the pieces one at a time from [`list_items`].
#[cfg(test)]
pub fn split_list(value: &str) -> Vec<&str> {
    list_items(value).collect()
}

/// The pieces of [`split_list`] one after the other, with no list built (every message asks for
/// the hosts of its Contact, Record-Route and Via lists).
pub fn list_items(value: &str) -> impl Iterator<Item = &str> {
    ListItems { rest: value, done: false }.filter(|s| !s.is_empty())
}

/// The pieces of a header list, trimmed, empty ones included.
struct ListItems<'a> {
    rest: &'a str,
    done: bool,
}

impl<'a> Iterator for ListItems<'a> {
    type Item = &'a str;

    fn next(&mut self) -> Option<&'a str> {
        if self.done {
            return None;
        }
        // A piece ends only outside quotes and brackets, so each one starts outside them.
        let (mut quoted, mut angle) = (false, false);
        // The marks are ASCII, so byte positions are character boundaries.
        for (i, c) in self.rest.bytes().enumerate() {
            match c {
                b'"' => quoted = !quoted,
                b'<' if !quoted => angle = true,
                b'>' if !quoted => angle = false,
                b',' if !quoted && !angle => {
                    let piece = &self.rest[..i];
                    self.rest = &self.rest[i + 1..];
                    return Some(piece.trim());
                }
                _ => {}
            }
        }
        self.done = true;
        Some(self.rest.trim())
    }
}

/// The host of a name-addr or URI: `"Bob" <sip:+1555@sbc1.contoso.com:5061;transport=tls>` →
/// `sbc1.contoso.com`.
pub fn uri_host(value: &str) -> Option<&str> {
    let v = value.trim();
    let b = v.as_bytes();
    // The first `<` and the first `>`, in one pass.
    let (mut open, mut close) = (None, None);
    for (i, &c) in b.iter().enumerate() {
        if c == b'<' && open.is_none() {
            open = Some(i);
        } else if c == b'>' && close.is_none() {
            close = Some(i);
        }
        if open.is_some() && close.is_some() {
            break;
        }
    }
    let uri = match (open, close) {
        (Some(a), Some(z)) if z > a => &v[a + 1..z],
        _ => v,
    };
    let rest = match memchr::memchr(b':', uri.as_bytes()) {
        Some(i) if uri.as_bytes()[..i].iter().all(u8::is_ascii_alphabetic) => &uri[i + 1..],
        _ => uri,
    };
    let rest = rest.as_bytes().iter().position(|b| matches!(b, b';' | b'?' | b'>')).map_or(rest, |end| &rest[..end]);
    let rest = memchr::memrchr(b'@', rest.as_bytes()).map_or(rest, |at| &rest[at + 1..]);
    host_of(rest)
}

/// `host[:port]` or `[v6]:port` to the host.
fn host_of(s: &str) -> Option<&str> {
    let s = s.trim();
    let host = match s.strip_prefix('[') {
        Some(r) => &r[..memchr::memchr(b']', r.as_bytes()).unwrap_or(r.len())],
        None => &s[..memchr::memchr(b':', s.as_bytes()).unwrap_or(s.len())],
    };
    (!host.is_empty()).then_some(host)
}

/// The sent-by host of a Via value (`SIP/2.0/TLS sbc1.contoso.com:5061;branch=…`).
pub fn via_host(value: &str) -> Option<&str> {
    let mut w = value.split_whitespace();
    let proto = w.next()?;
    if !proto.as_bytes().get(..4).is_some_and(|p| p.eq_ignore_ascii_case(b"SIP/")) {
        return None;
    }
    let sent_by = w.next()?.split(';').next()?;
    host_of(sent_by)
}

/// A DNS name rather than an address: has a dot and a letter, and is made of name characters.
/// (No address is written so: IPv4 has no letters, IPv6 has colons.)
pub fn is_fqdn(host: &str) -> bool {
    host.contains('.')
        && host.bytes().any(|b| b.is_ascii_alphabetic())
        && host.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-' || b == b'_')
}

/// The domains whose hosts (the name itself or any name under it) are Microsoft's side.
const MICROSOFT_DOMAINS: [&str; 8] = [
    "pstnhub.microsoft.com",
    "teams.microsoft.com",
    "teams.microsoft.us",
    "microsoft.com",
    "lync.com",
    "skype.com",
    "microsoftonline.com",
    "office365.us",
];

/// Microsoft's side of a Direct Routing or Skype for Business conversation.
pub fn is_microsoft_host(host: &str) -> bool {
    let h = host.as_bytes();
    MICROSOFT_DOMAINS.iter().any(|d| {
        // The name itself or a subdomain of it, case aside.
        let d = d.as_bytes();
        h.len() >= d.len()
            && h[h.len() - d.len()..].eq_ignore_ascii_case(d)
            && (h.len() == d.len() || h[h.len() - d.len() - 1] == b'.')
    })
}

/// Headers whose values a record keeps as they are (joined by `, ` when written more than once),
/// by the field they fill.
const SIMPLE_FIELDS: [(&str, &str); 10] = [
    ("call-id", "call_id"),
    ("cseq", "cseq"),
    ("from", "from"),
    ("to", "to"),
    ("user-agent", "user_agent"),
    ("server", "server"),
    ("warning", "warning"),
    ("ms-diagnostics", "ms_diagnostics"),
    ("ms-client-diagnostics", "ms_client_diagnostics"),
    ("ms-diagnostics-public", "ms_diagnostics_public"),
];

impl Message {
    /// The first value of a header (full lower-case name).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
    }

    /// Every value of a header, in order.
    pub fn headers_named<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.headers.iter().filter(move |(n, _)| n == name).map(|(_, v)| v.as_str())
    }

    pub fn status(&self) -> Option<u16> {
        match self.start {
            Start::Response { status, .. } => Some(status),
            Start::Request { .. } => None,
        }
    }

    /// The method of the transaction: the request's, or the one named in a response's CSeq.
    pub fn cseq_method(&self) -> Option<&str> {
        self.header("cseq").and_then(|c| c.split_whitespace().nth(1))
    }

    /// Hosts of the Record-Route entries, in order.
    pub fn record_route_hosts(&self) -> Vec<String> {
        self.headers_named("record-route").flat_map(list_items).filter_map(uri_host).map(str::to_owned).collect()
    }

    /// The Session Border Controller's FQDN when one side of the message is Microsoft's
    /// (Direct Routing): the first non-Microsoft name among Contact, Record-Route, Via,
    /// Request-URI, To and From.
    pub fn sbc_fqdn(&self) -> Option<String> {
        let request_uri = match &self.start {
            Start::Request { uri, .. } => uri_host(uri),
            Start::Response { .. } => None,
        };
        // The hosts in order, one at a time: no list of them is built.
        let hosts = (self.headers_named("contact").flat_map(list_items).filter_map(uri_host))
            .chain(self.headers_named("record-route").flat_map(list_items).filter_map(uri_host))
            .chain(self.headers_named("via").flat_map(list_items).filter_map(via_host))
            .chain(request_uri)
            .chain(self.header("to").and_then(uri_host))
            .chain(self.header("from").and_then(uri_host));
        let mut microsoft = false;
        let mut first = None;
        for h in hosts {
            if is_microsoft_host(h) {
                microsoft = true;
            } else if first.is_none() && is_fqdn(h) {
                first = Some(h);
            }
            if microsoft && first.is_some() {
                break;
            }
        }
        first.filter(|_| microsoft).map(str::to_ascii_lowercase)
    }

    /// [`sbc_fqdn`](Self::sbc_fqdn) with the hosts gathered in a list first, as it was written;
    /// the tests compare the two.
    #[cfg(test)]
    fn sbc_fqdn_listed(&self) -> Option<String> {
        let mut hosts: Vec<&str> = Vec::new();
        hosts.extend(self.headers_named("contact").flat_map(split_list).filter_map(uri_host));
        hosts.extend(self.headers_named("record-route").flat_map(split_list).filter_map(uri_host));
        hosts.extend(self.headers_named("via").flat_map(split_list).filter_map(via_host));
        if let Start::Request { uri, .. } = &self.start {
            hosts.extend(uri_host(uri));
        }
        hosts.extend(self.header("to").and_then(uri_host));
        hosts.extend(self.header("from").and_then(uri_host));
        if !hosts.iter().any(|h| is_microsoft_host(h)) {
            return None;
        }
        hosts.into_iter().find(|h| is_fqdn(h) && !is_microsoft_host(h)).map(str::to_ascii_lowercase)
    }

    /// The codes the message carries, canonical: the response status (4xx and up), Reason
    /// causes (Q.850, SIP), ms-diagnostics numbers, and codes in the X-MS-* and Warning headers.
    pub fn codes(&self) -> Vec<Code> {
        let mut out: Vec<Code> = Vec::new();
        let mut push = |c: Code| {
            if !out.contains(&c) {
                out.push(c);
            }
        };
        if let Some(s) = self.status().filter(|s| *s >= 400) {
            push(Code::Sip(s));
        }
        for reason in self.headers_named("reason").flat_map(list_items) {
            let mut parts = reason.split(';');
            let proto = parts.next().unwrap_or("").trim().to_ascii_uppercase();
            let cause = parts
                .filter_map(|p| p.split_once('='))
                .find(|(k, _)| k.trim().eq_ignore_ascii_case("cause"))
                .and_then(|(_, v)| v.trim().trim_matches('"').parse::<u16>().ok());
            match (proto.as_str(), cause) {
                ("Q.850" | "Q850", Some(c)) if c < 128 => push(Code::Q850(c)),
                ("SIP", Some(c)) if (400..700).contains(&c) => push(Code::Sip(c)),
                _ => {}
            }
        }
        for name in ["ms-diagnostics", "ms-client-diagnostics", "ms-diagnostics-public"] {
            for v in self.headers_named(name) {
                for item in list_items(v) {
                    let digits: String = item.chars().take_while(char::is_ascii_digit).collect();
                    if let Ok(n) = digits.parse::<u32>() {
                        push(Code::MsDiag(n));
                    }
                }
            }
        }
        for (name, v) in &self.headers {
            if name.starts_with("x-ms-") || name == "warning" {
                for c in super::codes_in(v) {
                    push(c);
                }
            }
        }
        out
    }

    /// Fill a record: kind `sip`, the fields of docs/evidence-fields.md, the codes, and an
    /// excerpt made of the start line and the headers that tell what happened. `time` is set
    /// from the Date header when the record has none.
    pub fn fill(mut self, e: &mut Evidence) {
        self.fill_derived(e);
        // Last, as they move out of the message: a header written once gives the record its
        // value without a copy (nothing after this reads the headers).
        for (h, f) in SIMPLE_FIELDS {
            let (first, second) = {
                let mut at = self.headers.iter().enumerate().filter(|(_, (n, _))| n == h).map(|(i, _)| i);
                (at.next(), at.next())
            };
            let Some(first) = first else { continue };
            if second.is_none() {
                e.field(f, std::mem::take(&mut self.headers[first].1));
                continue;
            }
            // The values joined by `, `.
            let mut joined = String::new();
            for (i, v) in self.headers_named(h).enumerate() {
                if i > 0 {
                    joined.push_str(", ");
                }
                joined.push_str(v);
            }
            e.field(f, joined);
        }
    }

    /// What [`fill`](Self::fill) and its test twin share: the kind, the start line's fields,
    /// the fields read from several headers, the codes, the time and the excerpt (none of it
    /// reads a field the header values moved into the record set).
    fn fill_derived(&self, e: &mut Evidence) {
        e.kind = "sip".into();
        match &self.start {
            Start::Request { method, uri } => {
                e.field("method", method.as_str());
                e.field("request_uri", uri.as_str());
            }
            Start::Response { status, reason } => {
                e.field("status", *status);
                e.field("reason_phrase", reason.as_str());
            }
        }
        if let Some(v) = self.header("via") {
            let top = list_items(v).next().unwrap_or(v);
            e.field("via", top);
            // The top Via names the transport of the hop the message travelled.
            if !e.fields.contains_key("transport") {
                let proto = top.split_whitespace().next().unwrap_or("");
                if let Some(t) = proto.rsplit('/').next().filter(|t| {
                    matches!(t.to_ascii_uppercase().as_str(), "UDP" | "TCP" | "TLS" | "WS" | "WSS" | "SCTP")
                }) {
                    e.field("transport", t.to_ascii_uppercase());
                }
            }
        }
        let reasons: Vec<&str> = self.headers_named("reason").collect();
        if !reasons.is_empty() {
            e.field("reason", reasons.join(", "));
        }
        if let Some(m) = self.cseq_method() {
            e.field("cseq_method", m);
        }
        if let Some(host) = self.header("contact").and_then(|c| list_items(c).next()).and_then(uri_host) {
            e.field(if is_fqdn(host) { "contact_fqdn" } else { "contact_host" }, host.to_ascii_lowercase());
        }
        let mut rr = self.record_route_hosts();
        rr.retain(|h| is_fqdn(h));
        if !rr.is_empty() {
            e.field("record_route_fqdns", rr.into_iter().map(|h| h.to_ascii_lowercase()).collect::<Vec<_>>());
        }
        for (name, v) in &self.headers {
            if name.starts_with("x-ms-") {
                let key = name.replace('-', "_");
                if !e.fields.contains_key(&key) {
                    e.field(key, v.as_str());
                }
            }
        }
        if let Some(s) = self.sbc_fqdn() {
            e.field("sbc_fqdn", s);
        }
        e.add_codes(self.codes());
        if e.time.is_none() {
            e.time = self.header("date").and_then(http_date);
        }
        e.set_excerpt(&self.excerpt_text());
    }

    /// [`fill`](Self::fill) copying every header value, as it was written first; the tests
    /// compare the two.
    #[cfg(test)]
    fn fill_plain(&self, e: &mut Evidence) {
        for (h, f) in SIMPLE_FIELDS {
            // The values joined by `, ` (most headers are written once).
            let mut values = self.headers_named(h);
            let Some(first) = values.next() else { continue };
            match values.next() {
                None => e.field(f, first),
                Some(second) => {
                    let mut joined = [first, second].join(", ");
                    for v in values {
                        joined.push_str(", ");
                        joined.push_str(v);
                    }
                    e.field(f, joined)
                }
            };
        }
        self.fill_derived(e);
    }

    /// The start line and the telling headers, as written, one after the other.
    pub fn excerpt_text(&self) -> String {
        // The raw lines kept are those of the telling headers.
        let mut s = String::with_capacity(self.start_line.len() + self.raw_headers.len());
        s.push_str(&self.start_line);
        s.push_str(&self.raw_headers);
        s
    }
}

/// `Tue, 15 Jul 2025 08:30:11 GMT` (the SIP and HTTP Date header).
pub fn http_date(s: &str) -> Option<Timestamp> {
    let s = s.trim();
    let s = s.split_once(',').map_or(s, |(_, r)| r).trim();
    let mut w = s.split_whitespace();
    let (day, mon, year, clock) = (w.next()?, w.next()?, w.next()?, w.next()?);
    let zone = w.next().unwrap_or("GMT");
    time::parse(&format!("{mon} {day} {year} {clock} {zone}"))
}

/// How far a byte stream holds a SIP message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Frame {
    /// A whole message of this many bytes starts at `skip` (after keep-alive line ends).
    Complete { skip: usize, len: usize },
    /// A message starts at `skip` but the rest has not arrived yet.
    Incomplete { skip: usize },
    /// The data does not start with a SIP message: skip this many bytes to the next line that
    /// starts one (or all of it when none does).
    Junk { skip: usize },
    /// Nothing but keep-alive line ends, or nothing at all.
    Empty,
}

/// Frame the next message of a byte stream (TCP payload, reassembled).
pub fn frame(buf: &[u8]) -> Frame {
    frame_head(buf).0
}

/// The header block of a framed message: where it ends, the length of its separator, and its
/// Content-Length.
#[derive(Debug, Clone, Copy)]
struct Head {
    end: usize,
    sep: usize,
    content_length: usize,
}

/// [`frame`], with the header block it found (when the data starts with a message whose header
/// block has ended).
fn frame_head(buf: &[u8]) -> (Frame, Option<Head>) {
    let skip = buf.iter().take_while(|b| matches!(b, b'\r' | b'\n')).count();
    let data = &buf[skip..];
    if data.is_empty() {
        return (Frame::Empty, None);
    }
    let line_end = memchr::memchr(b'\n', data);
    let first = &data[..line_end.unwrap_or(data.len()).min(4096)];
    let first_ok = std::str::from_utf8(first).ok().is_some_and(|l| is_start_line(l.trim_end()));
    if !first_ok {
        if line_end.is_none() && data.len() < 4096 && could_start(data) {
            return (Frame::Incomplete { skip }, None);
        }
        // Find the next line that starts a message.
        let mut at = 0;
        while let Some(nl) = memchr::memchr(b'\n', &data[at..]) {
            at += nl + 1;
            let rest = &data[at..];
            let end = memchr::memchr(b'\n', rest).unwrap_or(rest.len()).min(4096);
            if std::str::from_utf8(&rest[..end]).ok().is_some_and(|l| is_start_line(l.trim_end())) {
                return (Frame::Junk { skip: skip + at }, None);
            }
        }
        return (Frame::Junk { skip: buf.len() }, None);
    }
    let Some((end, sep)) = header_end(data) else { return (Frame::Incomplete { skip }, None) };
    let head = Head { end, sep, content_length: content_length(&data[..end]) };
    let total = end + sep + head.content_length;
    let framed = if data.len() >= total { Frame::Complete { skip, len: total } } else { Frame::Incomplete { skip } };
    (framed, Some(head))
}

/// Whitespace as `str::trim` sees it, among ASCII bytes.
fn is_ascii_space(b: u8) -> bool {
    matches!(b, b'\t' | b'\n' | b'\x0b' | b'\x0c' | b'\r' | b' ')
}

/// A piece of a header line trimmed as `str::trim` trims it, or `None` when it holds bytes
/// beyond ASCII (then the caller trims the decoded text).
fn ascii_trimmed(b: &[u8]) -> Option<&[u8]> {
    if !b.is_ascii() {
        return None;
    }
    let start = b.iter().position(|c| !is_ascii_space(*c)).unwrap_or(b.len());
    let end = b.iter().rposition(|c| !is_ascii_space(*c)).map_or(start, |i| i + 1);
    Some(&b[start..end.max(start)])
}

/// The Content-Length (or compact `l`) of a header block; 0 when it has none. The first line
/// whose name (before its first colon, trimmed) is one of the two gives the value, read as a
/// number after trimming; a value that is not one gives 0. Bytes that are not UTF-8 count as
/// replacement characters.
fn content_length(head: &[u8]) -> usize {
    for line in head.split(|b| *b == b'\n') {
        let Some(colon) = memchr::memchr(b':', line) else { continue };
        let (name, value) = (&line[..colon], &line[colon + 1..]);
        let is_length = |n: &[u8]| n.eq_ignore_ascii_case(b"content-length") || n.eq_ignore_ascii_case(b"l");
        let named = match ascii_trimmed(name) {
            Some(n) => is_length(n),
            None => is_length(String::from_utf8_lossy(name).trim().as_bytes()),
        };
        if !named {
            continue;
        }
        let parsed = match ascii_trimmed(value) {
            // ASCII is UTF-8.
            Some(v) => std::str::from_utf8(v).ok().and_then(|v| v.parse::<usize>().ok()),
            None => String::from_utf8_lossy(value).trim().parse::<usize>().ok(),
        };
        return parsed.unwrap_or(0);
    }
    0
}

/// [`frame`] for a message copied into a log. Logs often rewrite the wire's CRLF line ends as
/// bare LF (an SBC syslog's `#012`) while Content-Length still counts two bytes for each; when
/// the header block ends in bare LFs, a body that reaches Content-Length with each bare LF
/// counted twice is whole. Text after it (a syslog's `[Time:…]` trailer) is not part of it.
pub fn frame_logged(buf: &[u8]) -> Frame {
    let (framed, head) = frame_head(buf);
    let (Frame::Incomplete { skip } | Frame::Complete { skip, .. }) = framed else { return framed };
    let Some(Head { end: head_end, sep: 2, content_length: want }) = head else { return framed };
    if want == 0 {
        return framed;
    }
    let data = &buf[skip..];
    let body = &data[head_end + 2..];
    let mut counted = 0;
    for (i, b) in body.iter().enumerate() {
        counted += if *b == b'\n' && (i == 0 || body[i - 1] != b'\r') { 2 } else { 1 };
        if counted >= want {
            return Frame::Complete { skip, len: head_end + 2 + i + 1 };
        }
    }
    Frame::Incomplete { skip }
}

/// A short piece of data that may grow into a start line.
fn could_start(data: &[u8]) -> bool {
    let t = String::from_utf8_lossy(data);
    "SIP/2.0 ".starts_with(t.as_ref())
        || t.starts_with("SIP/2.0 ")
        || t.split(' ')
            .next()
            .is_some_and(|w| is_method(w) || (!w.is_empty() && w.bytes().all(|b| b.is_ascii_uppercase())))
}

/// End of the header block: the offset of the empty line and the length of the separator.
fn header_end(data: &[u8]) -> Option<(usize, usize)> {
    let crlf = memchr::memmem::find(data, b"\r\n\r\n").map(|i| (i, 4));
    let lf = memchr::memmem::find(data, b"\n\n").map(|i| (i, 2));
    match (crlf, lf) {
        (Some(a), Some(b)) => Some(if a.0 <= b.0 { a } else { b }),
        (a, b) => a.or(b),
    }
}

/// What [`Builder::push`] did with a line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Push {
    /// Taken; the message goes on.
    More,
    /// Taken; the message is complete.
    Done,
    /// Not taken: the line starts another message, so this one ended before it.
    Ended,
}

/// Frames a message from text lines: headers to the empty line, then Content-Length bytes of body.
#[derive(Debug, Clone)]
pub struct Builder {
    text: String,
    headers_done: bool,
    content_length: Option<usize>,
    body_seen: usize,
}

impl Builder {
    /// Start a message with its start line.
    pub fn new(start_line: &str) -> Self {
        let mut text = String::with_capacity(1024);
        text.push_str(start_line.trim());
        text.push('\n');
        Builder { text, headers_done: false, content_length: None, body_seen: 0 }
    }

    /// Offer the next line of the input.
    pub fn push(&mut self, line: &str) -> Push {
        let trimmed = line.trim_end();
        if !self.headers_done {
            if trimmed.trim_start().is_empty() {
                self.headers_done = true;
                self.append("");
                return if self.content_length.unwrap_or(0) == 0 { Push::Done } else { Push::More };
            }
            if !trimmed.starts_with([' ', '\t']) && find_start(trimmed) == Some(0) {
                return Push::Ended;
            }
            if let Some((n, v)) = trimmed.split_once(':') {
                let n = n.trim();
                if n.eq_ignore_ascii_case("content-length") || n == "l" {
                    self.content_length = v.trim().parse().ok();
                }
            }
            self.append(trimmed);
            return Push::More;
        }
        if trimmed.is_empty() || find_start(trimmed) == Some(0) {
            return Push::Ended;
        }
        self.append(trimmed);
        // Text traces drop the line ends' exact bytes: count CRLF, so a body is never over-read.
        self.body_seen += trimmed.len() + 2;
        if self.body_seen >= self.content_length.unwrap_or(0) {
            Push::Done
        } else {
            Push::More
        }
    }

    fn append(&mut self, line: &str) {
        if self.text.len() + line.len() < MAX_MESSAGE {
            self.text.push_str(line);
            self.text.push('\n');
        }
    }

    /// True once the header block has ended, or reached Content-Length (the last header most
    /// tools write), so that a message at the very end of a trace without its empty line counts
    /// as whole.
    pub fn looks_whole(&self) -> bool {
        self.headers_done || self.content_length.is_some()
    }

    pub fn finish(&self) -> Option<Message> {
        parse(&self.text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sip_told_in_one_line() {
        let ev = line_event("2025-07-15 08:30:11 Sending OPTIONS to sip.pstnhub.microsoft.com:5061").unwrap();
        assert!(ev.sent);
        assert_eq!(ev.peer, "sip.pstnhub.microsoft.com:5061");
        assert_eq!(
            ev.start,
            Start::Request { method: "OPTIONS".into(), uri: "sip:sip.pstnhub.microsoft.com:5061".into() }
        );
        let ev = line_event("Received: SIP/2.0 500 Unable to route to sip2.pstnhub.microsoft.com for INVITE").unwrap();
        assert!(!ev.sent);
        assert_eq!(ev.start, Start::Response { status: 500, reason: "Unable to route".into() });
        assert_eq!((ev.peer.as_str(), ev.answers.as_deref()), ("sip2.pstnhub.microsoft.com", Some("INVITE")));
        let ev = line_event("got 200 OK from <sip:proxy@52.114.14.70:5061;transport=tls>").unwrap();
        assert_eq!(ev.peer, "52.114.14.70:5061");
        for not in [
            // No peer, no method, a message's line ends, or a word that is not a method.
            "Received SIP/2.0 200 OK",
            "Sending keep-alive to sip.pstnhub.microsoft.com",
            "Received SIP/2.0 200 OK from sip.pstnhub.microsoft.com#012Via: SIP/2.0/TLS x",
            "Sent EMAIL to admin.contoso.com",
            "Received 200 OK from localhost",
            "INVITE sip:+15550100@sbc1.contoso.com SIP/2.0",
        ] {
            assert_eq!(line_event(not), None, "{not}");
        }
    }

    const INVITE_403: &str = "SIP/2.0 403 Forbidden\r\n\
v: SIP/2.0/TLS sip-du-a-eu.pstnhub.microsoft.com:5061;branch=z9hG4bKabc\r\n\
f: <sip:+15550100@sip-du-a-eu.pstnhub.microsoft.com>;tag=1\r\n\
t: <sip:+15550199@sbc1.contoso.com>;tag=2\r\n\
i: 5a1c2d3e@192.0.2.10\r\n\
CSeq: 1 INVITE\r\n\
Reason: Q.850;cause=21;text=\"Call rejected\"\r\n\
ms-diagnostics: 1034;reason=\"Previous hop shared address space peer did not report diagnostic information\";\r\n  Domain=\"contoso.com\"\r\n\
X-MS-SBC: Contoso/SBC1\r\n\
l: 0\r\n\r\n";

    #[test]
    fn start_lines() {
        assert!(matches!(start_line("SIP/2.0 487 Request Terminated"), Some(Start::Response { status: 487, .. })));
        assert!(matches!(start_line("INVITE sip:+1555@sbc.contoso.com SIP/2.0"), Some(Start::Request { .. })));
        assert!(start_line("SIP/2.0 40 Bad").is_none());
        assert!(start_line("Via: SIP/2.0/UDP x").is_none());
        assert!(start_line("hello world SIP/2.0").is_none());
        assert_eq!(find_start("08:30:11.123 Recv: INVITE sip:a@b.c SIP/2.0"), Some(19));
        assert_eq!(find_start("[12] SIP/2.0 200 OK"), Some(5));
        assert_eq!(find_start("xINVITE sip:a@b SIP/2.0"), None);
    }

    #[test]
    fn parses_compact_folded_and_fills_codes() {
        let m = parse(INVITE_403).unwrap();
        assert_eq!(m.header("call-id"), Some("5a1c2d3e@192.0.2.10"));
        assert!(m.header("ms-diagnostics").unwrap().ends_with("Domain=\"contoso.com\""));
        assert_eq!(m.sbc_fqdn().as_deref(), Some("sbc1.contoso.com"));
        let codes: Vec<String> = m.codes().iter().map(ToString::to_string).collect();
        assert_eq!(codes, ["SIP 403", "Q850 21", "MS-DIAG 1034"]);
        let mut e = Evidence::new("p", "sip-trace", "line 1");
        m.fill(&mut e);
        assert_eq!(e.get_str("x_ms_sbc"), Some("Contoso/SBC1"));
        assert!(e.excerpt.starts_with("SIP/2.0 403 Forbidden | i: 5a1c"), "{}", e.excerpt);
    }

    proptest::proptest! {
        /// The quick check never turns away a line that tells a message.
        #[test]
        fn verb_pieces_turn_away_no_event(
            words in proptest::collection::vec(
                proptest::prop_oneof![
                    proptest::strategy::Strategy::prop_map(
                        proptest::sample::select(vec![
                            "SENT", "Received:", "recv", "GOT", "sending", "to", "from", "OPTIONS", "INVITE", "200",
                            "OK", "SIP/2.0", "sip.pstnhub.microsoft.com:5061", "52.114.14.70:5061,", "Reçu", "\u{17f}ent",
                        ]),
                        str::to_owned,
                    ),
                    "[a-zA-Z0-9:.]{1,8}",
                ],
                0..10,
            )
        ) {
            let line = words.join(" ");
            proptest::prop_assert_eq!(line_event(&line), line_event_unfiltered(&line), "{}", line);
        }
    }

    /// [`uri_host`] and [`host_of`] as they were first written, with the string searches of the
    /// standard library; the tests compare the two.
    fn uri_host_before(value: &str) -> Option<&str> {
        let v = value.trim();
        let uri = match (v.find('<'), v.find('>')) {
            (Some(a), Some(b)) if b > a => &v[a + 1..b],
            _ => v,
        };
        let rest =
            uri.split_once(':')
                .map_or(uri, |(scheme, r)| if scheme.bytes().all(|b| b.is_ascii_alphabetic()) { r } else { uri });
        let rest =
            rest.as_bytes().iter().position(|b| matches!(b, b';' | b'?' | b'>')).map_or(rest, |end| &rest[..end]);
        let rest = rest.rsplit_once('@').map_or(rest, |(_, h)| h);
        let s = rest.trim();
        let host = if let Some(r) = s.strip_prefix('[') { r.split(']').next()? } else { s.split(':').next()? };
        (!host.is_empty()).then_some(host)
    }

    proptest::proptest! {
        /// Addresses glued from the pieces SIP headers are made of, in any order.
        #[test]
        fn uri_hosts_are_found_as_before(
            parts in proptest::collection::vec(proptest::sample::select(vec![
                "<", ">", "sip:", "sips:", "tel:", "+1555", "@", "sbc1.contoso.com", ":5061", ";lr", "?x=y", "[", "]",
                "2001:db8::1", " ", "\t", "\"A, B\" ", "user", ";user=phone", "é", "\u{a0}", ":", "1:2",
            ]), 0..10),
        ) {
            let value = parts.concat();
            proptest::prop_assert_eq!(uri_host(&value), uri_host_before(&value), "{:?}", value);
        }
    }

    #[test]
    fn hosts_and_lists() {
        assert_eq!(uri_host("\"A, B\" <sip:+1@[2001:db8::1]:5061;transport=tls>"), Some("2001:db8::1"));
        assert_eq!(uri_host("sip:sbc1.contoso.com:5061;lr"), Some("sbc1.contoso.com"));
        assert_eq!(split_list("<sip:a.b;lr>, \"x,y\" <sip:c.d>").len(), 2);
        assert_eq!(via_host("SIP/2.0/TLS 192.0.2.1:5061;branch=z"), Some("192.0.2.1"));
        assert!(!is_fqdn("192.0.2.1") && is_fqdn("sbc1.contoso.com"));
        assert_eq!(
            http_date("Tue, 15 Jul 2025 08:30:11 GMT").map(time::rfc3339).as_deref(),
            Some("2025-07-15T08:30:11Z")
        );
    }

    #[test]
    fn frames_byte_streams() {
        let two = format!("\r\n{INVITE_403}OPTIONS sip:x.contoso.com SIP/2.0\r\nl: 4\r\n\r\nab");
        let Frame::Complete { skip, len } = frame(two.as_bytes()) else { panic!() };
        assert_eq!(skip, 2);
        let rest = &two.as_bytes()[skip + len..];
        assert_eq!(frame(rest), Frame::Incomplete { skip: 0 });
        assert_eq!(frame(b"junk\r\nSIP/2.0 200 OK\r\n\r\n"), Frame::Junk { skip: 6 });
        assert_eq!(frame(b"\r\n\r\n"), Frame::Empty);
        // Copied into a log with bare LFs: the body's two lines are 10 bytes on the wire, and
        // counting bytes as they are would take in part of the trailer.
        let logged = b"INVITE sip:a@b SIP/2.0\nContent-Length: 10\n\nv=0\na=x\n [Time:01-06@00:00:10.000]";
        assert!(matches!(frame(logged), Frame::Complete { len: 53, .. }));
        let Frame::Complete { len, .. } = frame_logged(logged) else { panic!("not framed") };
        assert!(std::str::from_utf8(&logged[..len]).unwrap().ends_with("a=x\n"));
        assert_eq!(frame_logged(b"INVITE sip:a@b SIP/2.0\nContent-Length: 9\n\nv=0\n"), Frame::Incomplete { skip: 0 });
        assert_eq!(frame(b"SIP/2."), Frame::Incomplete { skip: 0 });
    }

    #[test]
    fn builder_frames_lines() {
        let mut b = Builder::new("INVITE sip:a@b.c SIP/2.0");
        assert_eq!(b.push("Content-Length: 10"), Push::More);
        assert_eq!(b.push(""), Push::More);
        assert_eq!(b.push("v=0"), Push::More);
        assert_eq!(b.push("o=abcd"), Push::Done);
        let mut b = Builder::new("SIP/2.0 200 OK");
        assert_eq!(b.push("SIP/2.0 180 Ringing"), Push::Ended);
    }

    /// The framing as it was before it read Content-Length byte by byte: the header block
    /// decoded lossily and split into lines, and [`frame_logged`] framing twice.
    mod before {
        use super::super::{could_start, header_end, start_line, Frame, EXCERPT_LEAVES_OUT, MAX_HEADERS};

        /// The excerpt text of a message as `parse` gathered it: a copy of each header line kept.
        pub fn excerpt_text(text: &str) -> Option<String> {
            let mut lines = text.split('\n').map(|l| l.strip_suffix('\r').unwrap_or(l));
            let first = lines.by_ref().find(|l| !l.trim().is_empty())?;
            start_line(first)?;
            let mut headers = 0;
            let mut raw_headers: Vec<String> = Vec::new();
            let mut last_raw_kept = false;
            for line in lines {
                if line.trim().is_empty() {
                    break;
                }
                if line.starts_with([' ', '\t']) {
                    if headers > 0 && last_raw_kept {
                        if let Some(raw) = raw_headers.last_mut() {
                            raw.push(' ');
                            raw.push_str(line.trim());
                        }
                    }
                    continue;
                }
                let Some((name, _)) = line.split_once(':') else { continue };
                let name = name.trim();
                if name.is_empty() || name.len() > 64 || name.contains(' ') || headers >= MAX_HEADERS {
                    continue;
                }
                headers += 1;
                last_raw_kept = !EXCERPT_LEAVES_OUT.iter().any(|b| b.eq_ignore_ascii_case(name));
                if last_raw_kept {
                    raw_headers.push(line.trim_end().to_owned());
                }
            }
            let mut s = first.trim().to_owned();
            for raw in &raw_headers {
                s.push_str(" | ");
                s.push_str(raw);
            }
            Some(s)
        }

        pub fn split_list(value: &str) -> Vec<&str> {
            let mut out = Vec::new();
            let (mut quoted, mut angle, mut from) = (false, false, 0);
            for (i, c) in value.bytes().enumerate() {
                match c {
                    b'"' => quoted = !quoted,
                    b'<' if !quoted => angle = true,
                    b'>' if !quoted => angle = false,
                    b',' if !quoted && !angle => {
                        out.push(value[from..i].trim());
                        from = i + 1;
                    }
                    _ => {}
                }
            }
            out.push(value[from..].trim());
            out.retain(|s| !s.is_empty());
            out
        }

        pub fn is_fqdn(host: &str) -> bool {
            host.contains('.')
                && host.bytes().any(|b| b.is_ascii_alphabetic())
                && host.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-' || b == b'_')
                && host.parse::<std::net::IpAddr>().is_err()
        }

        pub fn via_host(value: &str) -> Option<&str> {
            let mut w = value.split_whitespace();
            let proto = w.next()?;
            if !proto.to_ascii_uppercase().starts_with("SIP/") {
                return None;
            }
            let sent_by = w.next()?.split(';').next()?;
            super::super::host_of(sent_by)
        }

        pub fn content_length(head: &[u8]) -> usize {
            String::from_utf8_lossy(head)
                .split('\n')
                .filter_map(|l| l.split_once(':'))
                .find(|(n, _)| {
                    let n = n.trim();
                    n.eq_ignore_ascii_case("content-length") || n.eq_ignore_ascii_case("l")
                })
                .and_then(|(_, v)| v.trim().parse::<usize>().ok())
                .unwrap_or(0)
        }

        pub fn frame(buf: &[u8]) -> Frame {
            let skip = buf.iter().take_while(|b| matches!(b, b'\r' | b'\n')).count();
            let data = &buf[skip..];
            if data.is_empty() {
                return Frame::Empty;
            }
            let line_end = memchr::memchr(b'\n', data);
            let first = &data[..line_end.unwrap_or(data.len()).min(4096)];
            let first_ok = std::str::from_utf8(first).ok().is_some_and(|l| start_line(l.trim_end()).is_some());
            if !first_ok {
                if line_end.is_none() && data.len() < 4096 && could_start(data) {
                    return Frame::Incomplete { skip };
                }
                let mut at = 0;
                while let Some(nl) = memchr::memchr(b'\n', &data[at..]) {
                    at += nl + 1;
                    let rest = &data[at..];
                    let end = memchr::memchr(b'\n', rest).unwrap_or(rest.len()).min(4096);
                    if std::str::from_utf8(&rest[..end]).ok().is_some_and(|l| start_line(l.trim_end()).is_some()) {
                        return Frame::Junk { skip: skip + at };
                    }
                }
                return Frame::Junk { skip: buf.len() };
            }
            let Some((head_end, sep)) = header_end(data) else { return Frame::Incomplete { skip } };
            let total = head_end + sep + content_length(&data[..head_end]);
            if data.len() >= total {
                Frame::Complete { skip, len: total }
            } else {
                Frame::Incomplete { skip }
            }
        }

        pub fn frame_logged(buf: &[u8]) -> Frame {
            let framed = frame(buf);
            let (Frame::Incomplete { skip } | Frame::Complete { skip, .. }) = framed else { return framed };
            let data = &buf[skip..];
            let Some((head_end, 2)) = header_end(data) else { return framed };
            let want = content_length(&data[..head_end]);
            if want == 0 {
                return framed;
            }
            let body = &data[head_end + 2..];
            let mut counted = 0;
            for (i, b) in body.iter().enumerate() {
                counted += if *b == b'\n' && (i == 0 || body[i - 1] != b'\r') { 2 } else { 1 };
                if counted >= want {
                    return Frame::Complete { skip, len: head_end + 2 + i + 1 };
                }
            }
            Frame::Incomplete { skip }
        }

        pub fn is_microsoft_host(host: &str) -> bool {
            let h = host.to_ascii_lowercase();
            crate::readers::sip::MICROSOFT_DOMAINS.iter().any(|d| h == *d || h.ends_with(&format!(".{d}")))
        }
    }

    /// Pieces that header blocks and framing react to: names of the length in several cases
    /// and spacings, colons, line ends of both kinds, whitespace beyond ASCII, bytes that are
    /// not UTF-8, digits and signs, and start lines.
    const PIECES: &[&[u8]] = &[
        b"Content-Length",
        b"content-LENGTH",
        b"l",
        b"L",
        b"Content-Lengt",
        b":",
        b": ",
        b"\n",
        b"\r\n",
        b"\n\n",
        b"\r\n\r\n",
        b" ",
        b"\t",
        b"\x0b",
        b"\x0c",
        "\u{a0}".as_bytes(),
        "\u{3000}".as_bytes(),
        "\u{e9}".as_bytes(),
        b"\xff",
        b"\xc2",
        b"0",
        b"4",
        b"12",
        b"+",
        b"-",
        b"99999999999999999999999",
        b"x",
        b"INVITE sip:a@b.c SIP/2.0\n",
        b"SIP/2.0 200 OK\r\n",
        b"SIP/2.0 ",
        b"INV",
        b"Call-ID: a@b\n",
    ];

    fn assemble(parts: &[usize]) -> Vec<u8> {
        parts.iter().flat_map(|i| PIECES[*i % PIECES.len()].iter().copied()).collect()
    }

    #[test]
    fn content_length_and_framing_edge_cases() {
        let cases: &[&[u8]] = &[
            b"",
            b"Content-Length: 5",
            b"l:7",
            b" \x0bl\x0c : \t 3 \r",
            "\u{a0}Content-Length:\u{a0}4\u{3000}".as_bytes(),
            b"Content-Length: +6",
            b"Content-Length: x\nl: 4",
            b"Via: a\nContent-Length : 8\nl: 2",
            b"\xffl: 3",
            b"C\xffontent-Length: 3",
            b"Content-Length: 3\xff",
        ];
        for c in cases {
            assert_eq!(content_length(c), before::content_length(c), "{:?}", String::from_utf8_lossy(c));
            assert_eq!(frame_logged(c), before::frame_logged(c));
            assert_eq!(frame(c), before::frame(c));
        }
        assert_eq!(content_length("\u{a0}Content-Length:\u{a0}4\u{3000}".as_bytes()), 4);
        assert_eq!(content_length(b"Content-Length: x\nl: 4"), 0);
    }

    #[test]
    fn microsoft_hosts_without_copies() {
        for h in [
            "microsoft.com",
            "MICROSOFT.COM",
            "sip.pstnhub.microsoft.com",
            "xmicrosoft.com",
            "a.lync.com",
            "lync.co",
            "sbc1.contoso.com",
            "a.teams.microsoft.com",
            "\u{e9}.lync.com",
            "\u{e9}lync.com",
            "",
            ".",
        ] {
            assert_eq!(is_microsoft_host(h), before::is_microsoft_host(h), "{h}");
        }
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(2000))]

        /// Content-Length read byte by byte is the lossy reading, on header blocks made of the
        /// pieces it reacts to.
        #[test]
        fn content_length_is_the_lossy_reading(parts in proptest::collection::vec(0usize..64, 0..24)) {
            let b = assemble(&parts);
            proptest::prop_assert_eq!(content_length(&b), before::content_length(&b));
        }

        /// Framing with the header block read once frames as before, on messages made of the
        /// pieces, logged with bare LFs or not.
        #[test]
        fn framing_is_unchanged(parts in proptest::collection::vec(0usize..64, 0..32), start in 0usize..3) {
            let mut b = match start {
                0 => b"INVITE sip:a@b.c SIP/2.0\n".to_vec(),
                1 => b"\r\nSIP/2.0 180 Ringing\r\n".to_vec(),
                _ => Vec::new(),
            };
            b.extend(assemble(&parts));
            proptest::prop_assert_eq!(frame(&b), before::frame(&b));
            proptest::prop_assert_eq!(frame_logged(&b), before::frame_logged(&b));
        }

        /// The excerpt's header lines gathered in one text are the lines kept one by one: messages
        /// of kept and left-out headers, compact names, folded lines, lines without a colon.
        #[test]
        fn excerpts_are_gathered_as_before(
            picks in proptest::collection::vec(0usize..12, 0..12),
            request in proptest::bool::ANY,
        ) {
            const LINES: [&str; 12] = [
                "Call-ID: a@b", "VIA: SIP/2.0/UDP x", "v: SIP/2.0/TLS y", "  folded more ", "\tfolded tab",
                "no colon here", "User-Agent: SBC \u{e9}", "f: <sip:a@b>;tag=1", "Reason: Q.850;cause=16",
                "Bad Name: x", "CSeq: 1 INVITE\r", ": empty name",
            ];
            let mut text = if request { "INVITE sip:a@b SIP/2.0".to_owned() } else { "SIP/2.0 486 Busy Here".to_owned() };
            for p in &picks {
                text.push('\n');
                text.push_str(LINES[*p]);
            }
            text.push_str("\n\nbody: x\n");
            proptest::prop_assert_eq!(parse(&text).map(|m| m.excerpt_text()), before::excerpt_text(&text));
        }

        /// Trimming answered at once for ASCII edges is `str`'s trimming, whitespace beyond ASCII
        /// and control characters that are not whitespace included.
        #[test]
        fn trimming_is_strs_trimming(s in "[ \t\u{b}\u{c}\r\n\u{1c}\u{1f}\u{85}\u{a0}\u{2003}a:\u{e9}]{0,8}") {
            proptest::prop_assert_eq!(trim(&s), s.trim());
            proptest::prop_assert_eq!(trim_end(&s), s.trim_end());
        }

        /// A record filled with the header values moved out of the message is the record filled
        /// with copies: headers written once, twice, empty, compact, X-MS-*, Reason, Date, Via.
        #[test]
        fn records_are_filled_as_before(
            picks in proptest::collection::vec(0usize..16, 0..14),
            request in proptest::bool::ANY,
            transport in proptest::bool::ANY,
        ) {
            const LINES: [&str; 16] = [
                "Call-ID: a@b", "i: c@d", "CSeq: 1 INVITE", "From: <sip:+1@sip.pstnhub.microsoft.com>;tag=1",
                "To: <sip:+2@sbc1.contoso.com>", "t: <sip:x@y>", "User-Agent: SBC", "Server: Proxy",
                "Warning: 399 x \"AADSTS50076\"", "Warning:", "ms-diagnostics: 1034;reason=\"x\"",
                "Reason: Q.850;cause=16", "X-MS-SBC: Contoso/SBC1", "Date: Tue, 15 Jul 2025 08:30:11 GMT",
                "Via: SIP/2.0/TLS sbc1.contoso.com:5061;branch=z9", "Contact: <sip:sbc1.contoso.com:5061>",
            ];
            let mut text = if request { "OPTIONS sip:sip.pstnhub.microsoft.com SIP/2.0".to_owned() } else { "SIP/2.0 503 Busy".to_owned() };
            for p in &picks {
                text.push_str("\r\n");
                text.push_str(LINES[*p]);
            }
            text.push_str("\r\n\r\n");
            let m = parse(&text).expect("a message");
            let mut plain = Evidence::new("p", "sbc-syslog", "line 1");
            if transport {
                plain.field("transport", "UDP");
            }
            let mut moved = plain.clone();
            m.fill_plain(&mut plain);
            m.fill(&mut moved);
            proptest::prop_assert_eq!(moved, plain);
        }

        /// Header lists split piece by piece are the lists split at once.
        #[test]
        fn lists_are_split_as_before(v in "[,\"<> a\u{e9}]{0,30}") {
            proptest::prop_assert_eq!(split_list(&v), before::split_list(&v));
        }

        #[test]
        fn names_are_told_from_addresses_as_before(h in "[0-9af.:_x\u{e9}\\[\\]-]{0,16}") {
            proptest::prop_assert_eq!(is_fqdn(&h), before::is_fqdn(&h));
        }

        #[test]
        fn via_hosts_are_found_as_before(proto in "(sip|SIP|Sip|si|s\u{e9}p|x)(/2.0/TLS|/|)", host in "[a-z0-9.:]{0,12}") {
            let v = format!("{proto} {host};branch=z9");
            proptest::prop_assert_eq!(via_host(&v), before::via_host(&v));
        }

        /// The SBC's name found host by host is the name found in the list of every host:
        /// messages built from Contact, Record-Route, Via, To and From lines whose hosts are
        /// Microsoft's, an SBC's, addresses, or nothing.
        #[test]
        fn sbc_names_are_found_as_before(
            picks in proptest::collection::vec((0usize..6, 0usize..8), 0..7),
            request in proptest::bool::ANY,
            uri in 0usize..8,
        ) {
            const HEADERS: [&str; 6] = ["Contact", "Record-Route", "Via", "To", "From", "m"];
            const HOSTS: [&str; 8] = [
                "sip.pstnhub.microsoft.com", "SBC1.contoso.com", "192.0.2.1", "sbc2.contoso.com",
                "sip2.PSTNHUB.microsoft.com", "[2001:db8::1]", "x", "a.b",
            ];
            let start = if request {
                format!("INVITE sip:+1555@{}:5061 SIP/2.0", HOSTS[uri])
            } else {
                "SIP/2.0 200 OK".to_owned()
            };
            let mut text = start;
            for (h, host) in &picks {
                let host = HOSTS[*host];
                let value = match HEADERS[*h] {
                    "Via" => format!("SIP/2.0/TLS {host}:5061;branch=z9, SIP/2.0/UDP {host}"),
                    _ => format!("<sip:{host}:5061;lr>, \"a, b\" <sip:u@{host}>"),
                };
                text.push_str("\r\n");
                text.push_str(HEADERS[*h]);
                text.push_str(": ");
                text.push_str(&value);
            }
            text.push_str("\r\n\r\n");
            let m = parse(&text).expect("a message");
            proptest::prop_assert_eq!(m.sbc_fqdn(), m.sbc_fqdn_listed());
        }

        /// The excerpt leaves out the headers of its list, by their names in any case.
        #[test]
        fn headers_left_out_are_the_listed_ones(i in 0usize..40, upper in proptest::bool::ANY, extra in "[a-z-]{0,3}") {
            let name = format!("{}{extra}", EXCERPT_LEAVES_OUT.get(i).copied().unwrap_or("user-agent"));
            let written = if upper { name.to_ascii_uppercase() } else { name.clone() };
            proptest::prop_assert_eq!(
                leaves_out(&written.to_ascii_lowercase()),
                EXCERPT_LEAVES_OUT.iter().any(|b| b.eq_ignore_ascii_case(&written))
            );
        }

        /// Subdomains and look-alikes of Microsoft's names, in any case.
        #[test]
        fn microsoft_hosts_are_found_as_before(
            pre in "[a-zA-Z.\u{e9}]{0,6}",
            d in 0usize..6,
            upper in proptest::bool::ANY,
        ) {
            let names = ["pstnhub.microsoft.com", "teams.microsoft.us", "microsoft.com", "lync.com", "skype.com", "office365.us"];
            let h = format!("{pre}{}", names[d]);
            let h = if upper { h.to_ascii_uppercase() } else { h };
            proptest::prop_assert_eq!(is_microsoft_host(&h), before::is_microsoft_host(&h));
        }
    }
}
