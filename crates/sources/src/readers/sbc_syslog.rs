//! SIP messages in SBC syslogs.
//!
//! - AudioCodes: one syslog line per fragment, newlines escaped as `#012` (`#015` for CR), a
//!   `---- Incoming SIP Message from … ----` banner, `[S=n]` sequence and `[SID=…]` session tags.
//!   A long message is split over several lines of the same session and is put back together.
//! - Ribbon / Sonus and other SBCs that write a banner line and then the message over the
//!   following physical lines (up to the next syslog line, or a `, msgLen = N.` trailer).
//! - Generic syslog with a SIP message on the line.
//!
//! RFC 3164 stamps (`Jul 15 08:30:11`) and AudioCodes' `[Time:15-07@…]` have no year. It is taken
//! from something dated that comes with the log, never from the day it is read: a SIP `Date:`
//! header or an ISO date in the log itself, else the date the bytes were written (the zip entry's
//! date, the file's modification time). The first stamp gets the latest year that does not put it
//! after that date, and the year moves on when the stamps go back by months (December, then
//! January). With nothing dated at all, the stamps are put in the last year before now, with a
//! warning.

use std::collections::HashMap;
use std::sync::LazyLock;

use aho_corasick::{AhoCorasick, MatchKind};

use uctriage_evidence::{time, Timestamp};

use super::sip::{self, Frame};
use super::sip_trace::{read_marker, Context};
use super::{Emitter, ReadError, Reader};
use crate::input::{head_text, Head, Input};

#[derive(Debug)]
pub struct SbcSyslog;

/// Most sessions with a message in progress; the oldest is closed beyond this.
const MAX_OPEN: usize = 4096;

/// A syslog line's prefix: time, host, and where the message text starts.
#[derive(Debug, Default)]
struct Prefix<'a> {
    time: Option<Timestamp>,
    /// The time was written without a year (RFC 3164).
    yearless: bool,
    host: Option<&'a str>,
    rest: &'a str,
}

const MONTHS: [&str; 12] = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];

fn is_host(tok: &str) -> bool {
    !tok.is_empty()
        && !tok.ends_with(':')
        && tok.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_' | b':'))
        && tok.bytes().any(|b| b.is_ascii_alphanumeric())
        && !tok.starts_with("SIP/")
}

/// Read the syslog prefix of a line: `<PRI>`, then `Jul 15 08:30:11 host` (RFC 3164) or
/// `2025-07-15T08:30:11.123+00:00 host` (RFC 5424 / ISO), and a `facility.level` word. The
/// given year is the one RFC 3164 stamps get ([`Prefix::yearless`]).
fn prefix(line: &str, year: i16) -> Option<Prefix<'_>> {
    let mut s = line.trim_start();
    if s.starts_with('<') {
        let end = s.find('>')?;
        if end > 5 || !s[1..end].bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        s = &s[end + 1..];
        // RFC 5424 puts a version number after the priority.
        if s.starts_with("1 ") {
            s = &s[2..];
        }
    }
    let yearless = MONTHS.iter().any(|m| s.starts_with(m));
    let (t, rest) = if yearless {
        // The stamp is the first three words, split on any whitespace (`Jul  5` has two
        // spaces); the parser reads those three and no more.
        s.split_whitespace().nth(2)?;
        let t = time::parse_syslog(s, year)?;
        let after = skip_words(s, 3);
        (Some(t), after)
    } else if s.len() > 19 && s.as_bytes()[4] == b'-' && s.as_bytes().get(10).is_some_and(|b| *b == b'T' || *b == b' ')
    {
        let first = s.split_whitespace().next()?;
        if first.len() > 10 {
            (time::parse(first), skip_words(s, 1))
        } else {
            // `2025-07-15 08:30:11.123`
            let two: Vec<&str> = s.split_whitespace().take(2).collect();
            (time::parse(&two.join(" ")), skip_words(s, 2))
        }
    } else if clock_only(s) {
        // AudioCodes' own syslog viewer: `15:30:11.123 : 192.0.2.10 : NOTICE: [S=…]`, no date.
        (None, skip_words(s, 1))
    } else {
        return None;
    };
    if t.is_none() && !clock_only(s) {
        return None;
    }
    let mut rest = rest.trim_start().trim_start_matches([':', ' ']);
    let mut host = None;
    if let Some(tok) = rest.split_whitespace().next() {
        if is_host(tok) && !tok.starts_with('[') {
            host = Some(tok);
            rest = skip_words(rest, 1).trim_start().trim_start_matches([':', ' ']);
        }
    }
    // A `local0.notice` facility word, as some relays write it.
    if let Some(tok) = rest.split_whitespace().next() {
        if tok.contains('.') && tok.split('.').all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_alphanumeric())) {
            let fac = tok.split('.').next().unwrap_or("");
            if fac.starts_with("local") || matches!(fac, "user" | "daemon" | "syslog" | "kern") {
                rest = skip_words(rest, 1).trim_start();
            }
        }
    }
    Some(Prefix { time: t, yearless, host, rest })
}

/// AudioCodes' `[Time:15-07@08:30:11.123]` tag (day-month, no year).
fn tag_time(line: &str, year: i16) -> Option<Timestamp> {
    let v = tag(line, "Time")?;
    let (date, clock) = v.split_once('@')?;
    let (d, m) = date.split_once('-')?;
    let m: usize = m.trim().parse().ok()?;
    let mon = MONTHS.get(m.checked_sub(1)?)?;
    time::parse_syslog(&format!("{mon} {} {}", d.trim(), clock.trim()), year)
}

/// `hh:mm:ss` or `hh:mm:ss.mmm` and then a space: a time of day with no date.
fn clock_only(s: &str) -> bool {
    let w = s.split_whitespace().next().unwrap_or("");
    let b = w.as_bytes();
    b.len() >= 8
        && b[2] == b':'
        && b[5] == b':'
        && [0, 1, 3, 4, 6, 7].iter().all(|i| b[*i].is_ascii_digit())
        && b[8..].iter().all(|c| c.is_ascii_digit() || *c == b'.')
}

fn skip_words(s: &str, n: usize) -> &str {
    let mut rest = s;
    for _ in 0..n {
        rest = rest.trim_start();
        rest = rest.find(char::is_whitespace).map_or("", |i| &rest[i..]);
    }
    rest
}

/// `[S=123]` and `[SID=d5e2c1:76:3408]` (also `[SID:…]`): the first `[name=`, else the first
/// `[name:`, to the next `]`.
fn tag<'a>(s: &'a str, name: &str) -> Option<&'a str> {
    let b = s.as_bytes();
    for sep in [b'=', b':'] {
        let found = memchr::memmem::find_iter(b, name.as_bytes())
            .find(|i| *i > 0 && b[i - 1] == b'[' && b.get(i + name.len()) == Some(&sep));
        if let Some(i) = found {
            // The separator is ASCII: a character boundary follows it.
            let rest = &s[i + name.len() + 1..];
            let end = rest.find(']')?;
            return Some(rest[..end].trim());
        }
    }
    None
}

/// Undo syslog's octal escapes of control characters (`#012` line feed, `#015` carriage return,
/// `#011` tab).
#[cfg(test)]
fn unescape(s: &str) -> String {
    let mut out = String::new();
    unescape_into(s, &mut out);
    out
}

/// [`unescape`] into `out` (cleared first), so that one buffer serves every line.
fn unescape_into(s: &str, out: &mut String) {
    out.clear();
    let Some(first) = memchr::memchr(b'#', s.as_bytes()) else {
        out.push_str(s);
        return;
    };
    // One pass: a `#015` is dropped (so `#015#012` is one line feed), `#012` and `#011` are
    // replaced. A `#011` that only appears once a `#015` inside it is dropped is replaced too, as
    // the four replacements in turn did.
    out.reserve(s.len());
    out.push_str(&s[..first]);
    let mut rest = &s[first..];
    while let Some(i) = memchr::memchr(b'#', rest.as_bytes()) {
        out.push_str(&rest[..i]);
        let at = &rest[i..];
        match at.get(..4) {
            Some("#012") => out.push('\n'),
            Some("#015") => {}
            Some("#011") => out.push('\t'),
            _ => {
                out.push('#');
                rest = &at[1..];
                continue;
            }
        }
        rest = &at[4..];
    }
    out.push_str(rest);
    if out.contains("#011") {
        *out = out.replace("#011", "\t");
    }
}

/// The words of a banner (lower case).
const BANNER_WORDS: &[&str] = &[
    "incoming sip message",
    "outgoing sip message",
    "sip message received",
    "sip message sent",
    "received sip message",
    "sent sip message",
    "sending sip message",
    "recv sip message",
    "incoming message from",
    "outgoing message to",
    "sipfesocketrecvmsg",
    "sipfesocketsendmsg",
    "sip msg received",
    "sip msg sent",
];

/// A banner that announces a SIP message: AudioCodes `---- Incoming SIP Message from … ----`,
/// and the received/sent lines of other SBCs. Returns where the message text starts.
fn banner(s: &str) -> Option<usize> {
    // Where the first word starts: the leftmost match of any, case aside.
    static WORDS: LazyLock<AhoCorasick> = LazyLock::new(|| {
        AhoCorasick::builder()
            .ascii_case_insensitive(true)
            .match_kind(MatchKind::LeftmostFirst)
            .build(BANNER_WORDS)
            .expect("fixed words")
    });
    Some(text_start(s, WORDS.find(s)?.start()))
}

/// An escaped line end, as in `…#015#012Via: …`.
static ESCAPED_LINE_END: LazyLock<AhoCorasick> = LazyLock::new(|| AhoCorasick::new(["#012"]).expect("fixed words"));

/// Whether a line of `text` is a SIP start line or a one-line SIP event (`lower` is `text`
/// lower-cased). Every start line holds `SIP/2.0` and every event one of its verbs, so only the
/// lines that hold one of these pieces are tested.
fn any_sip_line(text: &str, lower: &str) -> bool {
    // `sending` holds `send`, `received` and `receiving` hold `receiv`. One search per piece:
    // memchr's search for one word is far quicker than an automaton for all of them, whose
    // quick check passes on too many places in ordinary text.
    static PIECES: LazyLock<Vec<AhoCorasick>> = LazyLock::new(|| {
        ["sip/2.0", "send", "sent", "receiv", "recv", "got"]
            .iter()
            .map(|p| AhoCorasick::new([p]).expect("fixed words"))
            .collect()
    });
    PIECES.iter().any(|piece| {
        super::any_line_holding(text, lower, piece, |line| {
            sip::find_start(line).is_some() || sip::line_event(line).is_some()
        })
    })
}

/// Where the message text starts in a line whose banner starts at `at`: after the closing
/// `----`, after `msg = `, or at a start line.
fn text_start(s: &str, at: usize) -> usize {
    let after = &s[at..];
    // Searched as bytes with memchr's vector search (both marks are ASCII, so the positions
    // are character boundaries).
    if let Some(i) = memchr::memmem::find(after.as_bytes(), b"msg = ") {
        return at + i + 6;
    }
    // AudioCodes closes its banner with `----`.
    if let Some(i) = memchr::memmem::find(after.as_bytes(), b"----") {
        return at + i + 4;
    }
    if let Some(i) = sip::find_start(after).filter(|i| *i > 0) {
        return at + i;
    }
    s.len()
}

/// Drop trailers that follow the message on the same line.
fn strip_trailers(s: &str) -> &str {
    let mut s = s;
    if let Some(i) = memchr::memmem::rfind(s.as_bytes(), b"[Time:") {
        if s[i..].trim_end().ends_with(']') {
            // AudioCodes writes one space before the tag.
            s = &s[..i];
            s = s.strip_suffix(' ').unwrap_or(s);
        }
    }
    if let Some(i) = memchr::memmem::rfind(s.as_bytes(), b", msgLen = ") {
        s = &s[..i];
    }
    s
}

#[derive(Debug)]
struct Pending {
    text: String,
    line: u64,
    ctx: Context,
    host: Option<String>,
    session: Option<String>,
    interface: Option<String>,
    /// Fed by physical lines without a syslog prefix (Ribbon style): ends at the next record.
    multiline: bool,
    /// Stamped when opened, to close the oldest first.
    order: u64,
    /// [`sip::frame_logged`] of `text` when it was this long. The text only grows, so its
    /// length tells whether it changed since.
    framed: Option<(usize, Frame)>,
}

impl Pending {
    fn push(&mut self, s: &str) {
        if self.text.len() + s.len() < sip::MAX_MESSAGE {
            self.text.push_str(s);
        }
    }

    /// The text framed, once for each length it reaches.
    fn framed(&mut self) -> Frame {
        match self.framed {
            Some((len, f)) if len == self.text.len() => f,
            _ => {
                let f = sip::frame_logged(self.text.as_bytes());
                self.framed = Some((self.text.len(), f));
                f
            }
        }
    }

    /// The message is whole: headers ended and the body is as long as Content-Length says.
    fn complete(&mut self) -> bool {
        matches!(self.framed(), Frame::Complete { .. })
    }
}

/// The framing of `text` without its leading line ends and spaces, from the framing of the whole
/// when `cached` holds it (`frame_logged` passes over leading line ends itself, so the two differ
/// only by their offsets when no space is among them).
fn frame_trimmed(text: &str, cached: Option<(usize, Frame)>) -> Frame {
    let trimmed = text.trim_start_matches(['\r', '\n', ' ']);
    let cut = text.len() - trimmed.len();
    let shift = |skip: usize| skip.checked_sub(cut);
    let from_cache = match cached {
        Some((len, f)) if len == text.len() && !text.as_bytes()[..cut].contains(&b' ') => match f {
            Frame::Complete { skip, len } => shift(skip).map(|skip| Frame::Complete { skip, len }),
            Frame::Incomplete { skip } => shift(skip).map(|skip| Frame::Incomplete { skip }),
            Frame::Junk { skip } => shift(skip).map(|skip| Frame::Junk { skip }),
            Frame::Empty => None,
        },
        _ => None,
    };
    from_cache.unwrap_or_else(|| sip::frame_logged(trimmed.as_bytes()))
}

/// A dated moment in the log itself that year-less stamps can be placed against: the first SIP
/// `Date:` header, else the first ISO date (`2025-07-15`, taken as the end of that day).
fn dated_in(head: &str) -> Option<Timestamp> {
    for line in head.lines().take(50_000) {
        let l = line.replace("#012", "\n");
        for part in l.split('\n') {
            let p = part.trim();
            if p.get(..5).is_some_and(|h| h.eq_ignore_ascii_case("date:")) {
                if let Some(t) = p.get(5..).and_then(sip::http_date) {
                    return Some(t);
                }
            }
        }
    }
    let b = head.as_bytes();
    for i in 0..b.len().saturating_sub(10) {
        if b[i..i + 2] == *b"20"
            && b[i + 2..i + 4].iter().all(u8::is_ascii_digit)
            && b[i + 4] == b'-'
            && b[i + 7] == b'-'
            && (i == 0 || !b[i - 1].is_ascii_alphanumeric())
        {
            let date = head.get(i..i + 10).and_then(|d| d.parse::<jiff::civil::Date>().ok());
            if let Some(t) = date.and_then(|d| d.at(23, 59, 59, 0).to_zoned(jiff::tz::TimeZone::UTC).ok()) {
                return Some(t.timestamp());
            }
        }
    }
    None
}

/// The years of year-less stamps, placed against a dated moment and carried over New Year.
#[derive(Debug)]
struct Years {
    /// The year stamps are read in now.
    year: i16,
    /// The moment the first stamp may not be after (by more than a day or two of zone).
    anchor: Timestamp,
    /// The last stamp placed.
    last: Option<Timestamp>,
}

/// Slack for zones: a zip entry's date has none, a syslog stamp is in the SBC's zone.
const ZONE_SLACK: jiff::SignedDuration = jiff::SignedDuration::from_hours(48);
/// A step back larger than this between stamps is a new year (December, then January).
const NEW_YEAR: jiff::SignedDuration = jiff::SignedDuration::from_hours(24 * 180);

impl Years {
    fn new(anchor: Timestamp) -> Self {
        Years { year: anchor.to_zoned(jiff::tz::TimeZone::UTC).year(), anchor, last: None }
    }

    /// The year to read a stamp in, given the stamp read in the current year: the first stamp is
    /// moved a year back when it would come after the anchor, a later one a year on when it goes
    /// back by months.
    fn year_for(&mut self, t: Timestamp) -> i16 {
        match self.last {
            None if t.checked_sub(ZONE_SLACK).is_ok_and(|t| t > self.anchor) => self.year -= 1,
            Some(last) if t.checked_add(NEW_YEAR).is_ok_and(|t| t < last) => self.year += 1,
            _ => {}
        }
        self.year
    }

    fn placed(&mut self, t: Option<Timestamp>) {
        if t.is_some() {
            self.last = t;
        }
    }
}

impl Reader for SbcSyslog {
    fn format(&self) -> &'static str {
        "sbc-syslog"
    }

    fn detect(&self, name: &str, head: &Head<'_>) -> u8 {
        static BANNER_LOWER: LazyLock<AhoCorasick> =
            LazyLock::new(|| AhoCorasick::new(BANNER_WORDS).expect("fixed words"));
        let text = head.text();
        // The lines looked at: the first 20,000. Each test below searches them whole for what a
        // line needs to pass it, and runs the test itself only on the lines found, which are few:
        // most heads hold no escaped message and no banner at all.
        let scope = &text[..super::lines_end(text, 20_000)];
        let escaped = super::any_line_holding(scope, scope, &ESCAPED_LINE_END, |line| {
            line.contains("SIP/2.0") || line.contains("#012Call-ID:")
        });
        if escaped {
            // One escaped SIP message settles it, whatever the other lines hold.
            return 92;
        }
        // The banner words hold no line end, so one found in the lines is one found in a line;
        // they are in lower case, so searching the lower-cased lines is searching case aside.
        // Each holds `message` or `msg`, which two quick searches rule out in most heads.
        let lower = &head.lower()[..scope.len()];
        let maybe = memchr::memmem::find(lower.as_bytes(), b"message").is_some()
            || memchr::memmem::find(lower.as_bytes(), b"msg").is_some();
        if maybe && BANNER_LOWER.is_match(lower) {
            let prefixed = text.contains("[SID") || scope.lines().any(|l| prefix(l, 2000).is_some());
            // Without a prefixed line, the score below cannot be reached either.
            return if prefixed { 92 } else { 0 };
        }
        if scope.lines().filter(|l| prefix(l, 2000).is_some()).nth(1).is_some() && any_sip_line(scope, lower) {
            let syslogish = name.contains("syslog") || name.contains("sbc");
            return if syslogish { 90 } else { 88 };
        }
        0
    }

    fn read(&self, input: Input, out: &mut Emitter<'_>) -> Result<(), ReadError> {
        let dated = dated_in(&head_text(&input.head));
        let anchor = dated.or(input.modified);
        let mut years = Years::new(anchor.unwrap_or_else(Timestamp::now));
        let mut warned_year = anchor.is_some();
        let mut lines = input.into_lines();
        let mut line = String::new();
        let mut open: HashMap<String, Pending> = HashMap::new();
        let mut last_key: Option<String> = None;
        let mut last_time: Option<Timestamp> = None;
        let mut order = 0u64;
        let mut asked = Asked::default();
        // The text of the line with its escapes undone, reused from line to line.
        let mut unescaped = String::new();
        while let Some(info) = lines.next_line(&mut line).map_err(|e| ReadError::new("", format!("read error: {e}")))? {
            let n = info.number;
            if info.truncated {
                out.warn(format!("line {n}"), "line longer than 1 MiB: the rest of it was skipped");
            }
            let Some(mut p) = prefix(&line, years.year) else {
                if let Some(ev) = sip::line_event(&line) {
                    if let Some(k) = last_key.take() {
                        flush(out, &mut open, &k);
                    }
                    emit_line_event(out, &ev, n, last_time, None, line.trim(), &mut asked);
                    continue;
                }
                // A physical line of its own: the next line of a multi-line message.
                if let Some(k) = &last_key {
                    if let Some(pending) = open.get_mut(k) {
                        if !pending.complete() || pending.multiline {
                            unescape_into(strip_trailers(&line), &mut unescaped);
                            pending.push(&unescaped);
                            pending.push("\n");
                            pending.multiline = true;
                            continue;
                        }
                    }
                }
                if let Some(at) = sip::find_start(&line) {
                    let key = String::new();
                    flush(out, &mut open, &key);
                    order += 1;
                    let mut ctx = Context { time: last_time, ..Context::default() };
                    read_marker(&line[..at], &mut ctx);
                    let mut pending = new_pending(n, ctx, None, None, None, order);
                    pending.push(&line[at..]);
                    pending.push("\n");
                    pending.multiline = true;
                    open.insert(key.clone(), pending);
                    last_key = Some(key);
                }
                continue;
            };
            if p.yearless {
                if let Some(t) = p.time {
                    let read_in = years.year;
                    let year = years.year_for(t);
                    // Read again only when the year moved (the stamp was read in `read_in`).
                    if year != read_in {
                        p.time = prefix(&line, year).and_then(|q| q.time);
                    }
                }
            }
            let mut stamp = p.time;
            if stamp.is_none() {
                if let Some(t) = tag_time(p.rest, years.year) {
                    stamp = tag_time(p.rest, years.year_for(t));
                }
            }
            if p.yearless || (p.time.is_none() && stamp.is_some()) {
                years.placed(stamp);
                if !warned_year && stamp.is_some() {
                    warned_year = true;
                    out.warn(
                        format!("line {n}"),
                        "times without a year, and nothing dated in the log or the bundle to take it from: \
                         they were put in the last year before now (check the year)",
                    );
                }
            }
            last_time = stamp.or(last_time);
            // A new record ends the multi-line message of the previous one.
            if let Some(k) = last_key.take() {
                if open.get(&k).is_some_and(|pd| pd.multiline) {
                    flush(out, &mut open, &k);
                }
            }
            let session = tag(p.rest, "SID").map(str::to_owned);
            let key = session.clone().unwrap_or_default();
            unescape_into(strip_trailers(p.rest), &mut unescaped);
            let body = unescaped.as_str();
            if let Some(at) = banner(body) {
                flush(out, &mut open, &key);
                let mut ctx = Context { time: stamp, ..Context::default() };
                let head = &body[..at.min(body.len())];
                read_marker(head, &mut ctx);
                // AudioCodes names the interface: `SIPInterface #0 (SIP-Teams)`.
                let interface = head.find("SIPInterface").and_then(|i| {
                    let r = &head[i..];
                    let open = r.find('(')?;
                    let close = r[open..].find(')')?;
                    Some(r[open + 1..open + close].trim().to_owned())
                });
                let interface = interface.filter(|s| !s.is_empty());
                order += 1;
                let mut pending = new_pending(n, ctx, p.host, session, interface, order);
                let text = body.get(at..).unwrap_or("").trim_start_matches([' ', '\t']);
                pending.push(text);
                if !text.is_empty() && !text.contains('\n') {
                    pending.push("\n");
                }
                open.insert(key.clone(), pending);
                limit(out, &mut open);
                finish_if_complete(out, &mut open, &key);
                last_key = Some(key);
                continue;
            }
            // A message told in one line of prose ("Sending OPTIONS to …"): an event of its own,
            // not the start of a message to frame (unless it continues a session's message).
            if session.is_none() || !open.contains_key(&key) {
                if let Some(ev) = sip::line_event(body) {
                    emit_line_event(out, &ev, n, stamp, p.host, body.trim(), &mut asked);
                    continue;
                }
            }
            if let Some(pending) = open.get_mut(&key) {
                // The next fragment of a message split over several syslog lines: its text
                // follows the tags.
                let text = after_tags(body);
                pending.push(text);
                finish_if_complete(out, &mut open, &key);
                last_key = Some(key);
                continue;
            }
            if let Some(at) =
                body.find("\nSIP/2.0 ").map(|i| i + 1).or_else(|| body.split('\n').next().and_then(sip::find_start))
            {
                let mut ctx = Context { time: stamp, ..Context::default() };
                read_marker(&body[..at], &mut ctx);
                order += 1;
                let mut pending = new_pending(n, ctx, p.host, session, None, order);
                pending.push(&body[at..]);
                pending.push("\n");
                open.insert(key.clone(), pending);
                limit(out, &mut open);
                finish_if_complete(out, &mut open, &key);
                last_key = Some(key);
            } else if let Some(at) = request_after_escape(body) {
                let mut ctx = Context { time: stamp, ..Context::default() };
                read_marker(&body[..at], &mut ctx);
                order += 1;
                let mut pending = new_pending(n, ctx, p.host, session, None, order);
                pending.push(&body[at..]);
                open.insert(key.clone(), pending);
                limit(out, &mut open);
                finish_if_complete(out, &mut open, &key);
                last_key = Some(key);
            }
        }
        let mut rest: Vec<(u64, String)> = open.iter().map(|(k, p)| (p.order, k.clone())).collect();
        rest.sort();
        for (_, k) in rest {
            flush(out, &mut open, &k);
        }
        Ok(())
    }
}

/// The method of the last request told in one line to or from each peer host (`Sending OPTIONS
/// to …`), so that the answer told in the next line (`Received 200 OK from …`) says what it
/// answers. Bounded: it is cleared when it grows past [`MAX_OPEN`] hosts.
#[derive(Debug, Default)]
struct Asked {
    /// (peer host, sent by the SBC) → method.
    last: HashMap<(String, bool), String>,
}

impl Asked {
    fn host(peer: &str) -> String {
        peer.split(':').next().unwrap_or(peer).to_owned()
    }

    fn ask(&mut self, peer: &str, sent: bool, method: &str) {
        if self.last.len() >= MAX_OPEN {
            self.last.clear();
        }
        self.last.insert((Self::host(peer), sent), method.to_owned());
    }

    /// The method of the request a response answers: one the other side sent to this peer.
    fn answered(&self, peer: &str, response_sent: bool) -> Option<&str> {
        self.last.get(&(Self::host(peer), !response_sent)).map(String::as_str)
    }
}

/// Emit a message told in one line of prose as a SIP record: a request with its method and its
/// target (`request_uri` and `to`, or `from` when it came from the peer), a response with its
/// status and the method it answers (named on the line, or that of the last request told to or
/// from the same host). The fields are those of a framed message, so the rules read both alike.
fn emit_line_event(
    out: &mut Emitter<'_>,
    ev: &sip::LineEvent,
    n: u64,
    time: Option<Timestamp>,
    host: Option<&str>,
    text: &str,
    asked: &mut Asked,
) {
    let mut e = out.evidence(format!("line {n}"));
    e.source = "sbc-syslog".into();
    e.kind = "sip".into();
    e.time = time;
    e.field("direction", if ev.sent { "outgoing" } else { "incoming" });
    if let Some(h) = host {
        e.field("sbc_host", h);
    }
    let peer = format!("<sip:{}>", ev.peer);
    match &ev.start {
        sip::Start::Request { method, uri } => {
            e.field("method", method.as_str());
            e.field("cseq_method", method.as_str());
            if ev.sent {
                e.field("request_uri", uri.as_str());
                e.field("to", peer);
            } else {
                e.field("from", peer);
            }
            asked.ask(&ev.peer, ev.sent, method);
        }
        sip::Start::Response { status, reason } => {
            e.field("status", *status);
            e.field("reason_phrase", reason.as_str());
            // The peer answered a request sent to it (it is the To), or was answered (the From).
            e.field(if ev.sent { "from" } else { "to" }, peer);
            if let Some(m) = ev.answers.as_deref().or_else(|| asked.answered(&ev.peer, ev.sent)) {
                e.field("cseq_method", m);
            }
            if *status >= 400 {
                e.add_code(uctriage_evidence::Code::Sip(*status));
            }
        }
    }
    e.set_excerpt(text);
    out.emit(e);
}

/// A request start line right after an escaped line end (`…#012INVITE sip:… SIP/2.0#012…`).
fn request_after_escape(body: &str) -> Option<usize> {
    let mut at = 0;
    for part in body.split('\n') {
        if at > 0 && sip::is_start_line(part) {
            return Some(at);
        }
        at += part.len() + 1;
    }
    None
}

/// The text of a continuation fragment: what follows the `[S=…]`, `[SID=…]` and `(module)(n)` tags.
fn after_tags(body: &str) -> &str {
    let mut s = body.trim_start();
    loop {
        if s.starts_with('[') {
            if let Some(end) = s.find(']') {
                let inner = &s[1..end];
                if inner.starts_with("S=") || inner.starts_with("SID") || inner.starts_with("BID") {
                    s = s[end + 1..].trim_start();
                    continue;
                }
            }
        }
        if s.starts_with('(') {
            if let Some(end) = s.find(')') {
                if end < 40 {
                    s = s[end + 1..].trim_start();
                    continue;
                }
            }
        }
        return s;
    }
}

fn new_pending(
    line: u64,
    ctx: Context,
    host: Option<&str>,
    session: Option<String>,
    interface: Option<String>,
    order: u64,
) -> Pending {
    Pending {
        text: String::new(),
        line,
        ctx,
        host: host.map(str::to_owned),
        session,
        interface,
        multiline: false,
        order,
        framed: None,
    }
}

fn finish_if_complete(out: &mut Emitter<'_>, open: &mut HashMap<String, Pending>, key: &str) {
    if open.get_mut(key).is_some_and(Pending::complete) {
        flush(out, open, key);
    }
}

/// Keep the number of sessions in progress bounded: close the oldest.
fn limit(out: &mut Emitter<'_>, open: &mut HashMap<String, Pending>) {
    if open.len() > MAX_OPEN {
        if let Some(k) = open.iter().min_by_key(|(_, p)| p.order).map(|(k, _)| k.clone()) {
            flush(out, open, &k);
        }
    }
}

/// Emit the message in progress for `key`, whole or not.
fn flush(out: &mut Emitter<'_>, open: &mut HashMap<String, Pending>, key: &str) {
    let Some(p) = open.remove(key) else { return };
    let text = p.text.trim_start_matches(['\r', '\n', ' ']);
    if text.trim().is_empty() {
        return;
    }
    let mut framed = frame_trimmed(&p.text, p.framed);
    let mut owned = String::new();
    if p.multiline && matches!(framed, Frame::Incomplete { .. }) {
        // Written over physical lines, a message may end at the next record without its empty
        // line: the header block ends where the text does.
        owned = format!("{}\n\n", text.trim_end());
        framed = sip::frame_logged(owned.as_bytes());
    }
    let text = if owned.is_empty() { text } else { owned.as_str() };
    let msg_text = match framed {
        Frame::Complete { skip, len } => text.get(skip..skip + len).unwrap_or(text),
        Frame::Junk { skip } if skip < text.len() => text.get(skip..).unwrap_or(text),
        _ => text,
    };
    let Some(msg) = sip::parse(msg_text) else {
        out.warn(format!("line {}", p.line), "SIP message banner without a readable message");
        return;
    };
    if matches!(framed, Frame::Incomplete { .. }) {
        out.warn(format!("line {}", p.line), "SIP message incomplete: its remaining fragments are missing");
    }
    let mut e = out.evidence(format!("line {}", p.line));
    e.source = "sbc-syslog".into();
    p.ctx.apply(&mut e);
    if let Some(h) = &p.host {
        e.field("sbc_host", h.as_str());
    }
    if let Some(s) = &p.session {
        e.field("session_id", s.as_str());
    }
    if let Some(i) = &p.interface {
        e.field("sip_interface", i.as_str());
    }
    msg.fill(&mut e);
    out.emit(e);
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// Detection as it was before it searched the head whole, kept to check the new one against.
    pub(crate) fn detect_before(name: &str, head: &[u8]) -> u8 {
        let text = head_text(head);
        let mut prefixed = 0;
        let mut banners = 0;
        let mut sip_lines = 0;
        for line in text.lines().take(20_000) {
            if line.contains("#012") && (line.contains("SIP/2.0") || line.contains("#012Call-ID:")) {
                // One escaped SIP message settles it, whatever the other lines hold.
                return 92;
            }
            // Only whether there are banners and SIP lines counts, and whether there are none,
            // one or two prefixed lines: each test stops once its count can no longer change
            // the score.
            if prefixed < 2 && prefix(line, 2000).is_some() {
                prefixed += 1;
            }
            if banners == 0 && banner(line).is_some() {
                banners += 1;
            }
            if sip_lines == 0 && (sip::find_start(line).is_some() || sip::line_event(line).is_some()) {
                sip_lines += 1;
            }
            if banners > 0 && prefixed > 0 {
                break;
            }
        }
        let syslogish = name.contains("syslog") || name.contains("sbc");
        if banners > 0 && (prefixed > 0 || text.contains("[SID")) {
            return 92;
        }
        if prefixed >= 2 && sip_lines > 0 {
            return if syslogish { 90 } else { 88 };
        }
        0
    }

    /// Detection as it was: every line counted, nothing cut short.
    fn detect_counting_all(name: &str, head: &[u8]) -> u8 {
        let text = head_text(head);
        let (mut prefixed, mut escaped_sip, mut banners, mut sip_lines) = (0, 0, 0, 0);
        for line in text.lines().take(20_000) {
            if prefix(line, 2000).is_some() {
                prefixed += 1;
            }
            if line.contains("#012") && (line.contains("SIP/2.0") || line.contains("#012Call-ID:")) {
                escaped_sip += 1;
            }
            if banner(line).is_some() {
                banners += 1;
            }
            if sip::find_start(line).is_some() || sip::line_event(line).is_some() {
                sip_lines += 1;
            }
        }
        let syslogish = name.contains("syslog") || name.contains("sbc");
        if escaped_sip > 0 || (banners > 0 && (prefixed > 0 || text.contains("[SID"))) {
            return 92;
        }
        if prefixed >= 2 && sip_lines > 0 {
            return if syslogish { 90 } else { 88 };
        }
        0
    }

    /// Every fixture, whole and cut to its first lines, scores as when every line was counted.
    #[test]
    fn detection_cut_short_scores_as_before() {
        let mut scored = 0;
        for path in crate::readers::fixture_files() {
            let bytes = std::fs::read(&path).unwrap();
            let name = path.to_string_lossy();
            let head = &bytes[..bytes.len().min(64 * 1024)];
            let lines: Vec<&[u8]> = head.split_inclusive(|b| *b == b'\n').collect();
            for n in [1, 2, 3, 5, lines.len()] {
                let part = lines[..n.min(lines.len())].concat();
                let now = SbcSyslog.detect(&name, &Head::new(&part));
                assert_eq!(now, detect_counting_all(&name, &part), "{name}, {n} lines");
                scored += usize::from(now > 0);
            }
        }
        assert!(scored >= 5, "{scored}");
    }

    fn in_turn(s: &str) -> String {
        s.replace("#015#012", "\n").replace("#012", "\n").replace("#015", "").replace("#011", "\t")
    }

    #[test]
    fn unescape_in_one_pass_is_the_replacements_in_turn_on_tricky_runs() {
        for s in ["", "plain", "a#015#012b", "#0#01511", "#01#0152", "x#011y#012z#015", "##012012"] {
            assert_eq!(unescape(s), in_turn(s), "{s:?}");
        }
    }

    /// The tag search as it was: the first `[name=`, else the first `[name:`.
    fn tag_before<'a>(s: &'a str, name: &str) -> Option<&'a str> {
        for sep in ['=', ':'] {
            let open = format!("[{name}{sep}");
            if let Some(i) = s.find(&open) {
                let rest = &s[i + open.len()..];
                let end = rest.find(']')?;
                return Some(rest[..end].trim());
            }
        }
        None
    }

    #[test]
    fn tags_are_found_as_before() {
        for s in [
            "[S=1] [SID=a:1:2] x",
            "[SID:a] [SID=b]",
            "SID=x [SID",
            "[SID=unclosed [SID:b]",
            "[[SID==]]",
            "\u{e9}[SID=\u{e9}]",
            "[Time:15-07@08:30:11.123]",
            "",
        ] {
            for name in ["SID", "Time", "S"] {
                assert_eq!(tag(s, name), tag_before(s, name), "{s:?} {name}");
            }
        }
    }

    /// A pending message's framing, reused from the last `complete` test, is the framing of
    /// its trimmed text.
    fn check_frame_trimmed(text: &str) {
        let direct = sip::frame_logged(text.trim_start_matches(['\r', '\n', ' ']).as_bytes());
        let cached = Some((text.len(), sip::frame_logged(text.as_bytes())));
        assert_eq!(frame_trimmed(text, cached), direct, "{text:?}");
        assert_eq!(frame_trimmed(text, None), direct, "{text:?}");
        // A framing of a shorter text is not used.
        let stale = Some((text.len() + 1, Frame::Complete { skip: 0, len: 0 }));
        assert_eq!(frame_trimmed(text, stale), direct, "{text:?}");
    }

    #[test]
    fn reused_framing_is_the_framing_of_the_trimmed_text() {
        for t in [
            "INVITE sip:a@b SIP/2.0\nContent-Length: 4\n\nv=0\n",
            "\r\n\nSIP/2.0 200 OK\nl: 0\n\n",
            " \nSIP/2.0 200 OK\n\n",
            "\n \nSIP/2.0 200 OK\n\n",
            "junk\nSIP/2.0 200 OK\n\n",
            "\n\njunk",
            "\n\nSIP/2.",
            "  INVITE sip:a@b SIP/2.0\n\n",
        ] {
            check_frame_trimmed(t);
        }
    }

    proptest::proptest! {
        /// The one-pass unescape gives what the four replacements in turn gave, over random
        /// strings of the escapes' characters.
        #[test]
        fn unescape_in_one_pass_is_the_replacements_in_turn(s in "[#01258x\u{e9}]{0,24}") {
            proptest::prop_assert_eq!(unescape(&s), in_turn(&s));
        }

        /// Reusing one buffer gives what a fresh string gives, whatever the buffer held.
        #[test]
        fn unescape_into_a_used_buffer(a in "[#01258x\u{e9}]{0,24}", b in "[#01258x\u{e9}]{0,24}") {
            let mut buf = String::new();
            unescape_into(&a, &mut buf);
            unescape_into(&b, &mut buf);
            proptest::prop_assert_eq!(buf, in_turn(&b));
        }

        /// Trailers found from the end byte by byte are those `str::rfind` found.
        #[test]
        fn trailers_are_stripped_as_before(s in "(\\[Time:|, msgLen = |\\]| |x|\u{e9}|#012){0,8}") {
            fn before(s: &str) -> &str {
                let mut s = s;
                if let Some(i) = s.rfind("[Time:") {
                    if s[i..].trim_end().ends_with(']') {
                        s = &s[..i];
                        s = s.strip_suffix(' ').unwrap_or(s);
                    }
                }
                if let Some(i) = s.rfind(", msgLen = ") {
                    s = &s[..i];
                }
                s
            }
            proptest::prop_assert_eq!(strip_trailers(&s), before(&s));
        }

        /// Tags among brackets, separators and names.
        #[test]
        fn tags_are_found_as_before_on_random_lines(s in "[\\[\\]=: SIDTme\u{e9}]{0,24}") {
            for name in ["SID", "Time"] {
                proptest::prop_assert_eq!(tag(&s, name), tag_before(&s, name));
            }
        }

        /// Leading line ends and spaces before messages, junk and pieces of messages.
        #[test]
        fn reused_framing_on_random_texts(
            lead in "[\r\n ]{0,4}",
            body in "(INVITE sip:a@b SIP/2.0\n|SIP/2.0 180 Ringing\r\n|l: 3\n|Content-Length: 1\r\n|\n|\r\n|x|SIP/2| ){0,8}",
        ) {
            check_frame_trimmed(&format!("{lead}{body}"));
        }
    }

    /// Every line of every fixture, and the banner words in other cases and places: the banner is
    /// found where the leftmost word of the lower-cased line starts.
    #[test]
    fn banners_are_found_where_the_first_word_starts() {
        let mut lines: Vec<String> = BANNER_WORDS
            .iter()
            .enumerate()
            .map(|(i, w)| format!("x {} y {} ---- msg = INVITE", w.to_uppercase(), BANNER_WORDS[(i + 3) % 14]))
            .collect();
        lines.extend(crate::readers::fixture_lines());
        let mut found = 0;
        for line in &lines {
            let lower = line.to_ascii_lowercase();
            let first = BANNER_WORDS.iter().filter_map(|w| lower.find(w)).min();
            assert_eq!(banner(line), first.map(|at| text_start(line, at)), "{line}");
            found += usize::from(first.is_some());
        }
        assert!(found > BANNER_WORDS.len(), "{found}");
    }

    #[test]
    fn every_banner_word_holds_message_or_msg() {
        // Detection rules banners out by these two pieces first.
        for w in BANNER_WORDS {
            assert!(w.contains("message") || w.contains("msg"), "{w}");
            assert_eq!(*w, w.to_ascii_lowercase(), "{w}");
        }
    }

    #[test]
    fn prefixes() {
        let p = prefix("<134>Jul 15 08:30:11 192.0.2.10 local0.notice [S=1] x", 2025).unwrap();
        assert_eq!(p.host, Some("192.0.2.10"));
        assert_eq!(p.rest, "[S=1] x");
        assert_eq!(p.time.map(time::rfc3339).as_deref(), Some("2025-07-15T08:30:11Z"));
        let p = prefix("2025-07-15T10:30:11.123+02:00 sbc2 SIPMsg", 2025).unwrap();
        assert_eq!((p.host, p.rest), (Some("sbc2"), "SIPMsg"));
        assert_eq!(p.time.map(time::rfc3339).as_deref(), Some("2025-07-15T08:30:11Z"));
        assert!(prefix("Via: SIP/2.0/TLS x", 2025).is_none());
        assert!(prefix("July is warm", 2025).is_none());
        let p = prefix("15:30:11.123 : 192.0.2.10 : NOTICE: [S=1] x", 2025).unwrap();
        assert_eq!((p.time, p.host, p.rest), (None, Some("192.0.2.10"), "NOTICE: [S=1] x"));
    }

    #[test]
    fn banners_and_tags() {
        let l = "[S=1] [SID=a:1:2] ( sip_stack)( 1) ---- Incoming SIP Message from 52.114.148.0:5061 to SIPInterface #0 (SIP-Teams) TLS TO(#1) SOCKET(#1) ---- \nSIP/2.0 200 OK";
        let at = banner(l).unwrap();
        assert!(l[at..].trim_start().starts_with("SIP/2.0"));
        assert_eq!(tag(l, "SID"), Some("a:1:2"));
        assert_eq!(strip_trailers("x#012 [Time:15-07@08:30:11.123]"), "x#012");
        assert_eq!(after_tags("[S=2] [SID=a:1:2] rest of: it"), "rest of: it");
    }
}
