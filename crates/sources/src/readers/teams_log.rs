//! Teams client logs: classic Teams `logs.txt`, new Teams `MSTeams_*.log`, and the Teams Rooms
//! app's `Logs.txt` (App/Microsoft/Teams in the room's log bundle).
//!
//! A log entry is a line that starts with a time (classic `Tue Jul 15 2025 10:30:11 GMT+0200 (…)
//! <pid> -- level --`, new Teams `2025-07-15T08:30:11.123456+00:00 0x00001234 <INFO>`, or any line
//! led by a time) plus the lines after it that do not (stack traces, JSON dumps), up to a bound.
//!
//! These logs hold tens of thousands of routine lines, so not every entry becomes a record. An
//! entry is emitted when it
//! - carries a code the knowledge base reads (`0xCAA…`, `AADSTS…`, `max_reload_exceeded`, the
//!   licence line, `1001` / `4c7` after an error word, decimal HRESULTs such as `2147942402`), or
//! - is at error or warning level and speaks of sign-in, tokens, authentication or licences, or
//! - states an app version not stated before (the version is also carried on later records).

use std::collections::HashSet;
use std::sync::LazyLock;

#[cfg(test)]
use aho_corasick::AhoCorasick;
use regex::Regex;
use uctriage_evidence::{time, Code, Timestamp};

use super::generic::leading_time;
use super::{codes_in, kb, Emitter, ReadError, Reader};
use crate::input::{Head, Input};

#[derive(Debug)]
pub struct TeamsLog;

/// An entry longer than this (bytes) is split: the rest is read as further entries.
const MAX_ENTRY_BYTES: usize = 64 * 1024;
/// Most continuation lines folded into one entry.
const MAX_ENTRY_LINES: u64 = 400;
/// Longest `message` field kept, in characters.
const MAX_MESSAGE: usize = 2000;
/// Distinct app versions remembered.
const MAX_VERSIONS: usize = 64;

fn re(p: &str) -> Regex {
    Regex::new(p).expect("fixed pattern")
}

/// `Tue Jul 15 2025 10:30:11 GMT+0200 (Central European Summer Time) <21560> -- warning -- msg`
static CLASSIC: LazyLock<Regex> = LazyLock::new(|| {
    re(
        r"^[ \t]*(?:(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun) +)?((?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) +[0-9]{1,2} +[0-9]{4} +[0-9]{1,2}:[0-9]{2}:[0-9]{2}(?: +GMT[+-][0-9]{4})?)(?: +\([^)]*\))? +<([0-9]+)> +-- +([A-Za-z]+) +-- ?",
    )
});

/// Whether [`CLASSIC`] matches `line`, without running it: every line of a log is asked, and
/// the regex cost about 800 instructions a line to say so. Each part of the pattern is followed
/// by a byte that no earlier part can take (a space after digits, `<` or `(` after spaces), so
/// one pass without going back finds what the regex finds; a test compares the two.
fn classic_shape(line: &str) -> bool {
    let b = line.as_bytes();
    let Some(mut i) = canonical_date(b).or_else(|| classic_date(b)) else { return false };
    let at = |i: usize, s: &[u8]| b.get(i..i + s.len()) == Some(s);
    let space = |c: u8| c == b' ';
    if at(i, b"(") {
        let Some(close) = memchr::memchr(b')', &b[i..]) else { return false };
        i += close + 1;
        if run(b, &mut i, space) == 0 {
            return false;
        }
    }
    at(i, b"<")
        && {
            i += 1;
            run(b, &mut i, |c| c.is_ascii_digit()) > 0
        }
        && at(i, b">")
        && {
            i += 1;
            run(b, &mut i, space) > 0
        }
        && at(i, b"--")
        && {
            i += 2;
            run(b, &mut i, space) > 0
        }
        && run(b, &mut i, |c| c.is_ascii_alphabetic()) > 0
        && run(b, &mut i, space) > 0
        && at(i, b"--")
}

fn weekday(w: &[u8]) -> bool {
    matches!(w, b"Mon" | b"Tue" | b"Wed" | b"Thu" | b"Fri" | b"Sat" | b"Sun")
}

fn month(w: &[u8]) -> bool {
    matches!(
        w,
        b"Jan" | b"Feb" | b"Mar" | b"Apr" | b"May" | b"Jun" | b"Jul" | b"Aug" | b"Sep" | b"Oct" | b"Nov" | b"Dec"
    )
}

/// The date of a classic header as the Teams client writes it, `Wed Jun 04 2025 01:02:03
/// GMT+0000 (`: every part at its place, checked without a loop. Where [`classic_date`] would
/// stop (at the `(`), or `None` for any other layout, which that one reads.
fn canonical_date(b: &[u8]) -> Option<usize> {
    let d = b.get(..35)?;
    let digits = |r: std::ops::Range<usize>| d[r].iter().all(u8::is_ascii_digit);
    let places = d[3] == b' '
        && d[7] == b' '
        && d[10] == b' '
        && d[15] == b' '
        && d[18] == b':'
        && d[21] == b':'
        && d[24] == b' '
        && &d[25..28] == b"GMT"
        && matches!(d[28], b'+' | b'-')
        && d[33] == b' '
        && d[34] == b'(';
    (places
        && weekday(&d[..3])
        && month(&d[4..7])
        && digits(8..10)
        && digits(11..15)
        && digits(16..18)
        && digits(19..21)
        && digits(22..24)
        && digits(29..33))
    .then_some(34)
}

/// The date of a classic header and the spaces after it, in any of the layouts [`CLASSIC`]
/// takes: where the zone name or the thread number may start, or `None`.
fn classic_date(b: &[u8]) -> Option<usize> {
    let mut i = 0;
    let at = |i: usize, s: &[u8]| b.get(i..i + s.len()) == Some(s);
    let three = |i: usize| b.get(i..i + 3);
    let space = |c: u8| c == b' ';
    let digit = |c: u8| c.is_ascii_digit();
    run(b, &mut i, |c| matches!(c, b' ' | b'\t'));
    if three(i).is_some_and(weekday) {
        i += 3;
        if run(b, &mut i, space) == 0 {
            return None;
        }
    }
    if !three(i).is_some_and(month) {
        return None;
    }
    i += 3;
    let day_and_year = run(b, &mut i, space) > 0
        && (1..=2).contains(&run(b, &mut i, digit))
        && run(b, &mut i, space) > 0
        && run(b, &mut i, digit) == 4
        && run(b, &mut i, space) > 0;
    let clock = day_and_year
        && (1..=2).contains(&run(b, &mut i, digit))
        && at(i, b":")
        && {
            i += 1;
            run(b, &mut i, digit) == 2
        }
        && at(i, b":")
        && {
            i += 1;
            run(b, &mut i, digit) == 2
        };
    if !clock || run(b, &mut i, space) == 0 {
        return None;
    }
    if at(i, b"GMT") && matches!(b.get(i + 3), Some(b'+' | b'-')) {
        i += 4;
        if run(b, &mut i, digit) != 4 || run(b, &mut i, space) == 0 {
            return None;
        }
    }
    Some(i)
}

/// How many bytes of `b` from `i` on `take` accepts, `i` moved past them.
fn run(b: &[u8], i: &mut usize, take: impl Fn(u8) -> bool) -> usize {
    let start = *i;
    while b.get(*i).is_some_and(|&c| take(c)) {
        *i += 1;
    }
    *i - start
}

/// `2025-07-15T08:30:11.123456+00:00 0x00001234 <INFO> component: msg`
static NEW: LazyLock<Regex> = LazyLock::new(|| {
    re(
        r"^[ \t]*([0-9]{4}-[0-9]{2}-[0-9]{2}[T ][0-9]{2}:[0-9]{2}:[0-9]{2}(?:[.,][0-9]+)?(?:Z|[+-][0-9]{2}:?[0-9]{2})?) +(?:(0x[0-9a-fA-F]+) +)?<([A-Za-z]+)> ?",
    )
});

/// Whether `line` starts as [`NEW`] needs it to: four digits and a `-` after any blanks. Most
/// lines of other logs fail this at once, for less than the regex costs to say so.
fn may_start_new(line: &str) -> bool {
    let t = line.trim_start_matches([' ', '\t']).as_bytes();
    t.len() > 4 && t[..4].iter().all(u8::is_ascii_digit) && t[4] == b'-'
}

/// A level word near the start of a line led by a time: `[Error]`, `ERROR`, `<WARN>`, `| info |`.
static LEVEL: LazyLock<Regex> = LazyLock::new(|| {
    re(
        r"(?i)(?:^|[\s\[<|(])(error|err|warning|warn|information|info|debug|dbg|diag|verbose|trace|fatal|critical)(?:$|[\s\]>|):-])",
    )
});

/// `component: message` at the start of a message (one token, no spaces).
static CALL_END: LazyLock<Regex> = LazyLock::new(|| {
    re(r#"(?i)callEndReason"?\s*[:=]\s*\{[^}]*?"code"\s*:\s*([0-9]{3})[^}]*?"subCode"\s*:\s*([0-9]+)"#)
});
static COMPONENT: LazyLock<Regex> = LazyLock::new(|| re(r"^[ \t]*\[?([A-Za-z_][A-Za-z0-9_.:/\-]*?)\]?: +\S"));

/// The Teams Rooms licence line.
static LICENSE: LazyLock<Regex> = LazyLock::new(|| {
    re(
        r"(?i)errorCode *[:=] *([A-Za-z0-9_.-]+) *, *errorStep *[:=] *([A-Za-z0-9_.-]+) *, *errorState *[:=] *([A-Za-z0-9_.-]+)",
    )
});

/// App version statements: `app version: 5.2.115.0`, `"AppVersion":"5.2.115.0"`,
/// `Teams Rooms app version 5.2.115.0`, `Starting app Teams, version 1.6.00.4472`.
static VERSION: LazyLock<Regex> = LazyLock::new(|| {
    re(
        r#"(?i)(?:\b(?:app|application|client|rigel|teams(?: +rooms)?(?: +app)?)[ _-]?version|starting app [A-Za-z]+,? +version)["']? *(?:[:=]|is)? *["']?v?([0-9]{1,5}(?:\.[0-9]{1,6}){2,3})\b"#,
    )
});

/// Decimal HRESULTs after an error word: `errorCode: 2147942402`, `hr=-895025148`.
static DECIMAL_HR: LazyLock<Regex> = LazyLock::new(|| {
    re(r#"(?i)\b(?:error|err|code|hr|hresult|status)(?:[ _]?code)?["']? *[:=] *["']?(-?[0-9]{9,10})\b"#)
});

/// Teams named numeric codes after an error word: `error 1001`, `errorCode: 4c7`.
static TEAMS_NUMBER: LazyLock<Regex> =
    LazyLock::new(|| re(r#"(?i)\b(?:error|err|code)(?:[ _]?code)?["']? *[:=]? *["']?(1001|(?:0x)?4c7)\b"#));

/// Words that make an error or warning line worth keeping.
static AUTH_WORDS: LazyLock<Regex> = LazyLock::new(|| {
    re(
        r"(?i)sign[\s-]?in|sign[\s-]?out|log[\s-]?in|logon|auth|token|credential|licen[cs]e|adal|msal|\bwam\b|\baad\b|\bentra\b|\bmfa\b|password|conditional access|\bprt\b|broker|account",
    )
});

/// Which flavour of Teams log a file is; written into `source`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Flavour {
    Classic,
    New,
    Rooms,
    Other,
}

impl Flavour {
    fn source(self) -> &'static str {
        match self {
            Flavour::Classic => "teams-classic",
            Flavour::New => "teams-new",
            Flavour::Rooms => "teams-rooms",
            Flavour::Other => "teams",
        }
    }

    /// From the path inside the container: the Teams Rooms bundle keeps the app's log under
    /// App/Microsoft/Teams.
    fn from_name(name: &str) -> Option<Self> {
        let name = name.to_ascii_lowercase().replace('\\', "/");
        let file = name.rsplit('/').next().unwrap_or(&name);
        if name.contains("app/microsoft/teams/") || name.contains("skypeappdata") {
            Some(Flavour::Rooms)
        } else if file.starts_with("msteams") && has_ext(file, "log") {
            Some(Flavour::New)
        } else if file == "logs.txt" || (file.starts_with("old_logs_") && has_ext(file, "txt")) {
            Some(Flavour::Classic)
        } else {
            None
        }
    }
}

fn has_ext(file: &str, ext: &str) -> bool {
    std::path::Path::new(file).extension().is_some_and(|e| e.eq_ignore_ascii_case(ext))
}

/// One parsed entry header.
#[derive(Debug, Default, Clone)]
struct Header {
    time: Option<Timestamp>,
    level: Option<String>,
    /// `pid` (classic) or `thread` (new Teams).
    process: Option<(&'static str, String)>,
    message: String,
}

fn normalize_level(raw: &str) -> String {
    match raw.to_ascii_lowercase().as_str() {
        "error" | "err" | "fatal" | "critical" | "crit" => "error".into(),
        "warning" | "warn" | "war" => "warning".into(),
        "info" | "inf" | "information" | "event" => "info".into(),
        "debug" | "dbg" | "diag" => "debug".into(),
        "verbose" | "ver" | "trace" => "verbose".into(),
        other => other.to_owned(),
    }
}

/// Parse a line as the start of an entry, with the flavour its form shows.
/// The message: the rest of the line after a header match. (Matching the message inside the
/// pattern would run the slow capturing engine over every byte of every line.)
fn rest_after(line: &str, c: &regex::Captures<'_>) -> String {
    line[c.get(0).map_or(0, |m| m.end())..].to_owned()
}

/// Whether [`NEW`] may match: it starts with a year after blanks.
fn may_be_new(line: &str) -> bool {
    line.trim_start_matches([' ', '\t']).as_bytes().first().is_some_and(u8::is_ascii_digit)
}

/// Whether a line starts an entry, and the flavour its form shows: what [`header`] would say,
/// without building the header (most entries never become records).
fn header_kind(line: &str) -> Option<Flavour> {
    if classic_shape(line) {
        return Some(Flavour::Classic);
    }
    if may_be_new(line) && NEW.is_match(line) {
        return Some(Flavour::New);
    }
    let first = line.trim_start().as_bytes().first().copied()?;
    if !first.is_ascii_digit() && !matches!(first, b'[' | b'<') && !first.is_ascii_uppercase() {
        return None;
    }
    leading_time(line).map(|_| Flavour::Other)
}

fn header(line: &str) -> Option<(Header, Flavour)> {
    if let Some(c) = CLASSIC.captures(line) {
        return Some((
            Header {
                time: time::parse(&c[1]),
                level: Some(normalize_level(&c[3])),
                process: Some(("pid", c[2].to_owned())),
                message: rest_after(line, &c),
            },
            Flavour::Classic,
        ));
    }
    if let Some(c) = NEW.captures(line) {
        return Some((
            Header {
                time: time::parse(&c[1]),
                level: Some(normalize_level(&c[3])),
                process: c.get(2).map(|m| ("thread", m.as_str().to_owned())),
                message: rest_after(line, &c),
            },
            Flavour::New,
        ));
    }
    // Any other line led by a time (the Rooms app and older builds write several forms).
    let first = line.trim_start().as_bytes().first().copied()?;
    if !first.is_ascii_digit() && !matches!(first, b'[' | b'<') && !first.is_ascii_uppercase() {
        return None;
    }
    let t = leading_time(line)?;
    let head: String = line.chars().take(100).collect();
    let (level, message) = match LEVEL.captures(&head) {
        Some(c) => {
            let m = c.get(1).map_or(0..0, |m| m.range());
            let rest = line.get(c.get(0).map_or(m.end, |g| g.end())..).unwrap_or("");
            (Some(normalize_level(&head[m])), rest.trim_start_matches([' ', ']', '>', '|', ':', '-']).to_owned())
        }
        None => (None, line.to_owned()),
    };
    Some((Header { time: Some(t), level, process: None, message }, Flavour::Other))
}

fn cut(s: &str, max: usize) -> String {
    match s.char_indices().nth(max) {
        Some((i, _)) => format!("{}…", &s[..i]),
        None => s.to_owned(),
    }
}

/// Words that can make an entry a record beyond what the code extractor looks for: the level
/// words of errors and warnings (`err`, `war`, `fatal`, `crit`: an error or warning about
/// sign-in is kept), the error words of the Teams patterns, the licence line's `errorCode`,
/// `callEndReason`, the version statements, and the two characters whose case folds onto an
/// ASCII letter of those words in the patterns (`ſ` onto `s`, the Kelvin sign onto `k`).
const KEEP_WORDS: &[&str] = &[
    "err",
    "war",
    "fatal",
    "crit",
    "code",
    "hr",
    "status",
    "callendreason",
    "version",
    "1001",
    "4c7",
    "\u{17f}",
    "\u{212a}",
];

/// The level words among them: an entry without one is neither an error nor a warning.
static LEVEL_WORDS: LazyLock<ByteDfa> = LazyLock::new(|| ByteDfa::new(&KEEP_WORDS[..4]));

/// The level words searched in the crate's own way: the tests' reference for [`LEVEL_WORDS`].
#[cfg(test)]
static LEVEL_AC: LazyLock<AhoCorasick> =
    LazyLock::new(|| AhoCorasick::builder().ascii_case_insensitive(true).build(&KEEP_WORDS[..4]).expect("fixed words"));

/// The keep words as an automaton searched in the crate's own way: the tests' reference for
/// [`KEEP`].
#[cfg(test)]
static KEEP_AC: LazyLock<AhoCorasick> =
    LazyLock::new(|| AhoCorasick::builder().ascii_case_insensitive(true).build(KEEP_WORDS).expect("fixed words"));

/// The keep words as a table of byte transitions: every line is tested, and a lookup a byte
/// costs a fraction of a general search.
static KEEP: LazyLock<ByteDfa> = LazyLock::new(|| ByteDfa::new(KEEP_WORDS));

/// An unanchored automaton over a few words (ASCII case aside) as one row of 256 next states
/// per state, at most 256 states. The match states come after every other one and lead only to
/// themselves: once a word is seen the walk stays in a match state, so the bytes are walked
/// without a test each and the state is looked at once a stretch.
struct ByteDfa {
    rows: Box<[[u8; 256]; 256]>,
    start: u8,
    first_match: u8,
}

impl ByteDfa {
    /// The rows are read off the `aho-corasick` crate's DFA for the words (standard semantics:
    /// a match state is reached at the end of every occurrence), walking every state it can
    /// reach from the start.
    fn new(words: &[&str]) -> ByteDfa {
        use aho_corasick::automaton::{Automaton, StateID};
        use aho_corasick::{dfa, Anchored, MatchKind};

        let dfa = dfa::Builder::new()
            .ascii_case_insensitive(true)
            .match_kind(MatchKind::Standard)
            .build(words)
            .expect("fixed words");
        let start = dfa.start_state(Anchored::No).expect("an unanchored start");
        // Each state reached, and by the crate's number of a state, its place in `reached`.
        let mut reached = vec![start];
        let mut place: Vec<Option<usize>> = Vec::new();
        let note = |s: StateID, place: &mut Vec<Option<usize>>, at: usize| {
            if place.len() <= s.as_usize() {
                place.resize(s.as_usize() + 1, None);
            }
            place[s.as_usize()].get_or_insert(at) == &at
        };
        note(start, &mut place, 0);
        let mut i = 0;
        while let Some(&s) = reached.get(i) {
            i += 1;
            // Where a match state leads does not matter: it leads to itself below.
            if dfa.is_match(s) {
                continue;
            }
            for b in 0..=255u8 {
                let n = dfa.next_state(Anchored::No, s, b);
                if note(n, &mut place, reached.len()) {
                    reached.push(n);
                }
            }
        }
        // The new numbers: the other states in the order reached, then the match states.
        let mut number = vec![0u8; reached.len()];
        let mut next = 0u8;
        for matching in [false, true] {
            for (k, &s) in reached.iter().enumerate() {
                if dfa.is_match(s) == matching {
                    number[k] = next;
                    next = next.checked_add(1).expect("few words");
                }
            }
        }
        let first_match = u8::try_from(reached.iter().filter(|&&s| !dfa.is_match(s)).count()).expect("few words");
        let of = |s: StateID| place[s.as_usize()].map(|k| number[k]).expect("a state reached");
        let mut rows: Box<[[u8; 256]; 256]> = vec![[0u8; 256]; 256].into_boxed_slice().try_into().expect("256 rows");
        for (k, &s) in reached.iter().enumerate() {
            let here = number[k];
            let row = &mut rows[usize::from(here)];
            for (b, to) in (0..=255u8).zip(row.iter_mut()) {
                *to = if here >= first_match { here } else { of(dfa.next_state(Anchored::No, s, b)) };
            }
        }
        ByteDfa { rows, start: of(start), first_match }
    }

    /// Whether any of the words is in `text`.
    fn is_match(&self, text: &[u8]) -> bool {
        let mut state = self.start;
        let mut stretches = text.chunks_exact(16);
        for stretch in &mut stretches {
            for &b in stretch {
                state = self.rows[usize::from(state)][usize::from(b)];
            }
            if state >= self.first_match {
                return true;
            }
        }
        for &b in stretches.remainder() {
            state = self.rows[usize::from(state)][usize::from(b)];
        }
        state >= self.first_match
    }
}

/// What the knowledge base's prefilter said of an entry's lines: no line may hold a code it
/// reads (`No`), the first line that matters was kept by a keep word without asking
/// (`Unasked`), or it may hold one (`Maybe`). Once a line matters the later ones are not looked
/// at: an `Unasked` entry is asked as a whole when it is finished.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
enum Asked {
    #[default]
    No,
    Unasked,
    Maybe,
}

/// `No` only when a line can neither make its entry a record nor change what later records
/// carry (the app version): no code, no keep word. Lines are split at line ends and no word
/// holds one, so an entry may be a record only when one of its lines may.
///
/// The keep words are looked for first (the cheaper table), and the knowledge base is asked
/// only when none is there.
fn look(line: &str) -> Asked {
    if KEEP.is_match(line.as_bytes()) {
        Asked::Unasked
    } else if kb().may_hold_code(line) {
        Asked::Maybe
    } else {
        Asked::No
    }
}

/// An entry being assembled: its first line and the lines that follow it. Its header is read
/// only when the entry may become a record.
#[derive(Debug, Default)]
struct Entry {
    first: u64,
    last: u64,
    /// The header of an entry that continues one that was full (or comes before any header):
    /// the time and level of the entry it continues. `None` for an entry led by a header line,
    /// whose header is read from its first line.
    inherited: Option<Header>,
    /// The original lines, joined by newlines (bounded by [`MAX_ENTRY_BYTES`]).
    text: String,
    /// The first line's length in `text`.
    first_len: usize,
    lines: u64,
    /// One of its lines may matter ([`look`]), or it inherits an error or warning level.
    keep: bool,
    /// What the knowledge base said of its lines: with `No`, the code extractor is not run on
    /// the entry, as it would find nothing. Ungated, always `Maybe`.
    asked: Asked,
}

impl Entry {
    fn first_line(&self) -> &str {
        &self.text[..self.first_len]
    }

    /// The entry's header: read from its first line, or the one it inherited.
    fn header(&self) -> Header {
        match &self.inherited {
            Some(h) => h.clone(),
            None => header(self.first_line()).map(|(h, _)| h).unwrap_or_default(),
        }
    }

    /// Start again with `line`, reusing the text's buffer. Ungated (`gated` false, for the
    /// tests that compare the two), every entry is read whole.
    fn restart(&mut self, number: u64, line: &str, inherited: Option<Header>, gated: bool) {
        let alert = inherited.as_ref().is_some_and(|h| matches!(h.level.as_deref(), Some("error" | "warning")));
        self.first = number;
        self.last = number;
        self.text.clear();
        self.text.push_str(line);
        self.first_len = line.len();
        self.lines = 1;
        self.asked = if gated { look(line) } else { Asked::Maybe };
        self.keep = !gated || alert || self.asked != Asked::No;
        self.inherited = inherited;
    }

    /// Add a line that continues the entry.
    fn push(&mut self, number: u64, line: &str, gated: bool) {
        self.text.push('\n');
        self.text.push_str(line);
        self.last = number;
        self.lines += 1;
        if gated && self.asked == Asked::No {
            self.asked = look(line);
        }
        self.keep = self.keep || self.asked != Asked::No;
    }

    /// Whether the code extractor may find something in the entry: asked now for the lines a
    /// keep word kept unasked (the text holds a trigger only where one of its lines does).
    fn may_hold_code(&self) -> bool {
        match self.asked {
            Asked::No => false,
            Asked::Unasked => kb().may_hold_code(&self.text),
            Asked::Maybe => true,
        }
    }
}

/// Whether `text` holds nine ASCII digits in a row: one walk that counts the current run.
fn nine_digits(text: &str) -> bool {
    let mut run = 0u32;
    for &b in text.as_bytes() {
        if b.is_ascii_digit() {
            run += 1;
            if run == 9 {
                return true;
            }
        } else {
            run = 0;
        }
    }
    false
}

/// Whether `text` holds `word`, ASCII case aside: candidates are found by their first byte (in
/// either case) with `memchr`, and only those are compared. The tests' form of [`Holds`].
#[cfg(test)]
fn has_word(text: &str, word: &[u8]) -> bool {
    let (hay, Some(&first)) = (text.as_bytes(), word.first()) else { return true };
    let fits = |i: usize| hay.get(i..i + word.len()).is_some_and(|w| w.eq_ignore_ascii_case(word));
    let (lower, upper) = (first.to_ascii_lowercase(), first.to_ascii_uppercase());
    if lower == upper {
        memchr::memchr_iter(first, hay).any(fits)
    } else {
        memchr::memchr2_iter(lower, upper, hay).any(fits)
    }
}

/// Whether a pattern compiled case-insensitively can match `text` only where `word` is written
/// (ASCII case aside): true when `text` holds the word, or holds any byte beyond ASCII (where
/// Unicode case folding may spell a letter of the word otherwise: `ſ` for `s`). The tests' form
/// of what [`Holds`] says.
#[cfg(test)]
fn may_spell(text: &str, word: &[u8]) -> bool {
    has_word(text, word) || !text.is_ascii()
}

/// The words a kept entry's patterns cannot match without (ASCII case aside), looked for in one
/// lower-cased copy of its text, each with `memmem`: one pass a word at memchr speed, where
/// looking for each word's first letter stopped at every `e` of the text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Holds {
    call_end: bool,
    teams_number: bool,
    /// `errorcode`, or a byte beyond ASCII: [`LICENSE`] may match.
    license: bool,
    /// `version`, or a byte beyond ASCII: [`VERSION`] may match.
    version: bool,
    /// Where `version` is first written, in ASCII text (else `None`): see [`version_stated`].
    version_at: Option<usize>,
}

/// What [`Holds`] looks for, lower case.
static HOLD_WORDS: LazyLock<[memchr::memmem::Finder<'static>; 5]> = LazyLock::new(|| {
    ["callendrea", "1001", "4c7", "errorcode", "version"].map(|w| memchr::memmem::Finder::new(w.as_bytes()))
});

impl Holds {
    /// `lower` is scratch space, kept between calls.
    fn of(text: &str, lower: &mut Vec<u8>) -> Holds {
        lower.clear();
        lower.extend_from_slice(text.as_bytes());
        lower.make_ascii_lowercase();
        let [call_end, n1001, n4c7, error_code, version] = &*HOLD_WORDS;
        let has = |f: &memchr::memmem::Finder<'_>| f.find(lower).is_some();
        let beyond = !text.is_ascii();
        let version_at = version.find(lower);
        Holds {
            call_end: has(call_end),
            teams_number: has(n1001) || has(n4c7),
            license: beyond || has(error_code),
            version: beyond || version_at.is_some(),
            version_at: version_at.filter(|_| !beyond),
        }
    }
}

/// Codes in an entry's text, with the Teams-specific spellings free text extraction leaves out.
fn entry_codes(text: &str) -> Vec<Code> {
    entry_codes_holding(text, Holds::of(text, &mut Vec::new()), true)
}

/// [`entry_codes`] with what the text holds already known.
/// `kb_codes`: the code extractor may find something (else it is not run).
fn entry_codes_holding(text: &str, holds: Holds, kb_codes: bool) -> Vec<Code> {
    let mut codes = if kb_codes { codes_in(text) } else { Vec::new() };
    let mut push = |c: Code| {
        if !codes.contains(&c) {
            codes.push(c);
        }
    };
    // Each pattern runs only on text holding what it cannot match without: nine digits in a
    // row, `callEndRea…` (no letter of it folds to a non-ASCII one), `1001` or `4c7`.
    let decimal = if nine_digits(text) { DECIMAL_HR.captures_iter(text).collect() } else { Vec::new() };
    for c in decimal {
        let raw = &c[1];
        let value = raw.parse::<i64>().ok().and_then(|n| {
            if n < 0 {
                i32::try_from(n).ok().map(|v| v as u32)
            } else {
                u32::try_from(n).ok()
            }
        });
        if value.is_some_and(|v| v >= 0x8000_0000) {
            if let Some(code) = kb().normalize(raw, uctriage_kb::Context::Hresult) {
                push(code);
            }
        }
    }
    // New Teams writes a call's end as `callEndReason: {"code":484,"subCode":560484,…}`: the SIP
    // answer and the Direct Routing Microsoft response code.
    let call_end = if holds.call_end { CALL_END.captures_iter(text).collect() } else { Vec::new() };
    for c in call_end {
        if let Some(sip) = c.get(1).and_then(|m| m.as_str().parse::<u16>().ok()).filter(|n| *n >= 400 && *n < 700) {
            push(Code::Sip(sip));
        }
        if let Some(sub) = c.get(2).and_then(|m| m.as_str().parse::<u32>().ok()).filter(|n| *n >= 100) {
            push(Code::Msrc(sub));
        }
    }
    let teams = if holds.teams_number { TEAMS_NUMBER.captures_iter(text).collect() } else { Vec::new() };
    for c in teams {
        let token = c[1].to_ascii_lowercase();
        let token = token.trim_start_matches("0x");
        let code = Code::Teams(token.into());
        if let Some(e) = kb().get(&code) {
            push(e.code.clone());
        }
    }
    codes
}

/// The line of the entry that shows the first code, for the excerpt.
fn excerpt_of(entry: &Entry, codes: &[Code]) -> String {
    let first_line = entry.first_line();
    if codes.is_empty() || entry.lines <= 1 {
        return first_line.to_owned();
    }
    let first_codes = entry_codes(first_line);
    if codes.iter().all(|c| first_codes.contains(c)) {
        return first_line.to_owned();
    }
    for line in entry.text.lines().skip(1) {
        let here = entry_codes(line);
        if here.iter().any(|c| !first_codes.contains(c)) {
            return format!("{first_line} … {}", line.trim());
        }
    }
    first_line.to_owned()
}

struct State {
    flavour: Option<Flavour>,
    versions: HashSet<String>,
    version: Option<String>,
    /// Scratch space for [`Holds::of`].
    lower: Vec<u8>,
    /// The last text [`version_stated`] searched, and what it found.
    last_statement: Statement,
}

/// A stretch of text that may state a version, from one byte before where a [`VERSION`] match
/// may start (or from the text's start), and the version the pattern finds in it.
#[derive(Debug, Default)]
struct Statement {
    text: String,
    start: usize,
    version: Option<String>,
}

/// Whether a byte may be inside a [`VERSION`] match before its `version`: the letters of the
/// words before it, the spaces, `_` and `-` between them, and the comma of `starting app X,`.
fn before_version(b: u8) -> bool {
    b.is_ascii_alphabetic() || matches!(b, b' ' | b',' | b'_' | b'-')
}

/// The version [`VERSION`] finds in ASCII `text`, whose first `version` (ASCII case aside) is at
/// `at`. Every match holds a `version` at `at` or later, and only bytes of [`before_version`]
/// come before it in the match, so no match starts before the run of those bytes that ends at
/// `at`: the pattern is run from there, with the byte before as the context its `\b` looks at.
/// What it finds depends only on that stretch, so a log that states the same version again in
/// the same words (most of its statements) is not searched again.
fn version_stated(text: &str, at: usize, last: &mut Statement) -> Option<String> {
    let floor = text.as_bytes()[..at].iter().rposition(|&b| !before_version(b)).map_or(0, |i| i + 1);
    let from = floor.saturating_sub(1);
    let (stretch, start) = (&text[from..], floor - from);
    if last.text != stretch || last.start != start {
        last.text.clear();
        last.text.push_str(stretch);
        last.start = start;
        last.version = VERSION.captures_at(stretch, start).map(|c| c[1].to_owned());
    }
    last.version.clone()
}

fn finish(entry: &Entry, state: &mut State, out: &mut Emitter<'_>) {
    if entry.text.is_empty() || !entry.keep {
        return;
    }
    let text = &entry.text;
    let holds = Holds::of(text, &mut state.lower);
    let codes = entry_codes_holding(text, holds, entry.may_hold_code());
    // Each pattern runs only on text that holds the word it cannot match without.
    let license = if holds.license { LICENSE.captures(text) } else { None };
    let mut new_version = None;
    let version = match holds.version_at {
        Some(at) => version_stated(text, at, &mut state.last_statement),
        None if holds.version => VERSION.captures(text).map(|c| c[1].to_owned()),
        None => None,
    };
    if let Some(v) = version {
        // The version the log just stated again (most statements) changes nothing.
        if state.version.as_deref() != Some(&v) || !state.versions.contains(&v) {
            if state.versions.len() < MAX_VERSIONS && state.versions.insert(v.clone()) {
                new_version = Some(v.clone());
            }
            state.version = Some(v);
        }
    }
    // The header is read only now, and only when the entry may be a record: by what it holds,
    // or by its level (whose word is in its text, or in the header it inherited).
    let may_alert = entry.inherited.as_ref().map_or_else(
        || LEVEL_WORDS.is_match(text.as_bytes()),
        |h| matches!(h.level.as_deref(), Some("error" | "warning")),
    );
    if codes.is_empty() && license.is_none() && new_version.is_none() && !may_alert {
        return;
    }
    let header = entry.header();
    let level = header.level.as_deref();
    // The words are looked for in the message, not in the time and process prefix (whose zone
    // names hold "entra" in "Central").
    let auth_problem = matches!(level, Some("error" | "warning"))
        && (AUTH_WORDS.is_match(&header.message)
            || entry.text.split_once('\n').is_some_and(|(_, rest)| AUTH_WORDS.is_match(rest)));
    if codes.is_empty() && license.is_none() && new_version.is_none() && !auth_problem {
        return;
    }
    let location = if entry.last > entry.first {
        format!("lines {}-{}", entry.first, entry.last)
    } else {
        format!("line {}", entry.first)
    };
    let mut e = out.evidence(location);
    e.time = header.time;
    e.source = state.flavour.unwrap_or(Flavour::Other).source().into();
    e.kind = "teams-log".into();
    if let Some(l) = level {
        e.field("level", l);
    }
    if let Some(c) = COMPONENT.captures(&header.message) {
        let comp = &c[1];
        if !comp.eq_ignore_ascii_case("errorCode") {
            e.field("component", comp);
        }
    }
    let message = header.message.trim();
    e.field("message", cut(if message.is_empty() { entry.first_line().trim() } else { message }, MAX_MESSAGE));
    if let Some((name, value)) = &header.process {
        e.field(name, value.as_str());
    }
    if let Some(v) = &state.version {
        e.field("app_version", v.as_str());
    }
    if let Some(c) = &license {
        e.kind = "teams-license".into();
        e.field("error_code", &c[1]);
        e.field("error_step", &c[2]);
        e.field("error_state", &c[3]);
        if let Some(entry) = kb().get(&Code::Teams(c[3].into())) {
            e.add_code(entry.code.clone());
        }
    }
    e.add_codes(codes.iter().cloned());
    e.set_excerpt(&excerpt_of(entry, &codes));
    out.emit(e);
}

impl Reader for TeamsLog {
    fn format(&self) -> &'static str {
        "teams-log"
    }

    fn detect(&self, name: &str, head: &Head<'_>) -> u8 {
        if !head.textual() {
            return 0;
        }
        let text = head.text();
        let mut classic = 0u32;
        let mut new = 0u32;
        let mut lines = 0u32;
        for line in text.lines().take(200) {
            lines += 1;
            if classic_shape(line) {
                classic += 1;
            } else if line.contains('<') && may_start_new(line) && NEW.is_match(line) {
                new += 1;
            }
            if classic >= 2 || new >= 2 {
                // Settled: the lines after cannot change the score.
                break;
            }
        }
        let by_name = Flavour::from_name(name);
        if classic >= 2 || new >= 2 || (lines > 0 && (classic + new) * 2 >= lines) && classic + new > 0 {
            return if by_name.is_some() { 95 } else { 90 };
        }
        if classic + new == 1 {
            return 70;
        }
        match by_name {
            Some(Flavour::Rooms | Flavour::New) => 60,
            // Searched only here, where it counts, and only where the lower-cased head holds
            // `errorcode`: no letter of it has a case-insensitive match outside ASCII.
            _ if memchr::memmem::find(head.lower().as_bytes(), b"errorcode").is_some() && LICENSE.is_match(text) => 60,
            // `logs.txt` alone is too common a name to claim without Teams content.
            Some(Flavour::Classic) if head.lower().contains("teams") => 40,
            _ => 0,
        }
    }

    fn read(&self, input: Input, out: &mut Emitter<'_>) -> Result<(), ReadError> {
        read_entries(input, out, true)
    }
}

/// Read the entries of a log. `gated`: entries none of whose lines may matter
/// ([`look`]) are passed over unread; the tests compare this with the full reading.
fn read_entries(input: Input, out: &mut Emitter<'_>, gated: bool) -> Result<(), ReadError> {
    // The display path holds the folders (App/Microsoft/Teams) that the bare file name lacks.
    let flavour = Flavour::from_name(&input.path).or_else(|| Flavour::from_name(&input.name));
    let mut state = State {
        flavour,
        versions: HashSet::new(),
        version: None,
        lower: Vec::new(),
        last_statement: Statement::default(),
    };
    let mut lines = input.into_lines();
    let mut line = String::new();
    let mut entry = Entry::default();
    let mut last_line = 0;
    loop {
        let info = match lines.next_line(&mut line) {
            Ok(Some(info)) => info,
            Ok(None) => break,
            Err(e) => {
                finish(&entry, &mut state, out);
                return Err(ReadError::new(format!("line {}", last_line + 1), format!("read error: {e}")));
            }
        };
        last_line = info.number;
        if info.truncated {
            out.warn(format!("line {}", info.number), "line longer than 1 MiB: the rest of it was skipped");
        }
        let line = line.trim_start_matches('\u{feff}');
        if let Some(flavour) = header_kind(line) {
            finish(&entry, &mut state, out);
            if state.flavour.is_none() && flavour != Flavour::Other {
                state.flavour = Some(flavour);
            }
            entry.restart(info.number, line, None, gated);
            continue;
        }
        if line.trim().is_empty() {
            continue;
        }
        let fits =
            !entry.text.is_empty() && entry.lines < MAX_ENTRY_LINES && entry.text.len() + line.len() < MAX_ENTRY_BYTES;
        if fits {
            entry.push(info.number, line, gated);
        } else {
            // No header yet, or the entry is full: this line starts an entry of its own that
            // keeps the time and level of the entry it continues.
            finish(&entry, &mut state, out);
            let before =
                if entry.text.is_empty() && entry.inherited.is_none() { Header::default() } else { entry.header() };
            let inherited = Header { message: line.to_owned(), ..before };
            entry.restart(info.number, line, Some(inherited), gated);
        }
    }
    finish(&entry, &mut state, out);
    Ok(())
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    #[test]
    fn only_ascii_letters_match_the_letters_of_errorcode_case_aside() {
        // Detection looks for `errorcode` in the lower-cased head before it runs LICENSE, whose
        // `(?i)` would also take any other character that folds to one of these letters.
        let letters = Regex::new("(?i)^[errorcod]$").unwrap();
        for c in (0..=u32::from(char::MAX)).filter_map(char::from_u32) {
            if letters.is_match(c.encode_utf8(&mut [0; 4])) {
                assert!("errorcod".contains(c.to_ascii_lowercase()), "{c:?}");
            }
        }
    }

    /// The classic header check answers as the regex does: on every fixture line, on headers
    /// of every shape, and on those headers with a byte removed, doubled or replaced anywhere.
    #[test]
    fn classic_headers_are_found_as_the_regex_finds_them() {
        let mut lines: Vec<String> = crate::readers::fixture_lines();
        let headers = [
            "Tue Jul 15 2025 10:30:11 GMT+0200 (Central European Summer Time) <21560> -- warning -- Auth: x",
            "Jul 5 2025 9:30:11 <1> -- info --",
            " \tWed  Jun 04  2025  01:02:03  GMT-0700  <22> --  error  -- x",
            "Sat Dec 31 1999 23:59:59 (no zone) <7> -- Info --x",
            "Mon Jan 1 2025 1:02:03 GMT+0000 () <0> -- a --",
            "Thu Jun 05 2025 07:08:09 GMT-0130 (Coordinated Universal Time) <4242> -- info -- token refreshed",
        ];
        let alphabet = [b' ', b'\t', b'0', b'9', b'-', b'+', b':', b'<', b'>', b'(', b')', b'G', b'a', b'J', b'\n'];
        for h in headers {
            let b = h.as_bytes();
            lines.push(h.to_owned());
            for i in 0..b.len() {
                let mut cut = b.to_vec();
                cut.remove(i);
                let mut doubled = b.to_vec();
                doubled.insert(i, b[i]);
                lines.extend([cut, doubled].into_iter().filter_map(|v| String::from_utf8(v).ok()));
                for c in alphabet {
                    let mut changed = b.to_vec();
                    changed[i] = c;
                    lines.extend(String::from_utf8(changed).ok());
                }
            }
        }
        let mut matched = 0;
        for line in &lines {
            assert_eq!(classic_shape(line), CLASSIC.is_match(line), "{line:?}");
            if let Some(at) = canonical_date(line.as_bytes()) {
                assert_eq!(Some(at), classic_date(line.as_bytes()), "{line:?}");
            }
            matched += usize::from(CLASSIC.is_match(line));
        }
        assert!(matched > 200, "{matched} of {} lines are headers", lines.len());
    }

    #[test]
    fn new_entries_start_as_the_quick_check_says() {
        // Whatever the regex takes passes the check first.
        for line in crate::readers::fixture_lines() {
            if NEW.is_match(&line) {
                assert!(may_start_new(&line), "{line}");
            }
        }
        for line in ["2025-07-15T08:30:11Z <INFO> x", " \t2025-07-15 08:30:11 <WARN> x"] {
            assert!(NEW.is_match(line) && may_start_new(line), "{line}");
        }
        for line in ["<134>Jul 15 08:30:11 x", "202-07-15 <x>", "2025_07-15 <x>", "", "2025"] {
            assert!(!may_start_new(line), "{line}");
        }
    }

    /// Detection as it was before it stopped at two entries, kept to check the new one against.
    pub(crate) fn detect_before(name: &str, head: &[u8]) -> u8 {
        if !crate::input::looks_textual(head) {
            return 0;
        }
        let text = crate::input::head_text(head);
        let mut classic = 0u32;
        let mut new = 0u32;
        let mut lines = 0u32;
        for line in text.lines().take(200) {
            lines += 1;
            if line.contains(" -- ") && CLASSIC.is_match(line) {
                classic += 1;
            } else if line.contains('<') && NEW.is_match(line) {
                new += 1;
            }
        }
        let licence = LICENSE.is_match(&text);
        let by_name = Flavour::from_name(name);
        if classic >= 2 || new >= 2 || (lines > 0 && (classic + new) * 2 >= lines) && classic + new > 0 {
            return if by_name.is_some() { 95 } else { 90 };
        }
        if classic + new == 1 {
            return 70;
        }
        match by_name {
            Some(Flavour::Rooms | Flavour::New) => 60,
            _ if licence => 60,
            // `logs.txt` alone is too common a name to claim without Teams content.
            Some(Flavour::Classic) if text.to_ascii_lowercase().contains("teams") => 40,
            _ => 0,
        }
    }

    #[test]
    fn patterns_compile() {
        for r in [&CLASSIC, &NEW, &LEVEL, &COMPONENT, &LICENSE, &VERSION, &DECIMAL_HR, &TEAMS_NUMBER, &AUTH_WORDS] {
            assert!(!r.is_match("\u{0}"));
        }
    }

    #[test]
    fn headers_of_each_flavour() {
        let (h, f) =
            header("Tue Jul 15 2025 10:30:11 GMT+0200 (Central European Summer Time) <21560> -- warning -- Auth: x")
                .unwrap();
        assert_eq!(f, Flavour::Classic);
        assert_eq!(h.time.map(time::rfc3339).as_deref(), Some("2025-07-15T08:30:11Z"));
        assert_eq!(h.level.as_deref(), Some("warning"));
        let (h, f) = header("2025-07-15T08:30:11.123456+02:00 0x00001234 <ERR> TokenBroker: failed").unwrap();
        assert_eq!(f, Flavour::New);
        assert_eq!(h.time.map(time::rfc3339).as_deref(), Some("2025-07-15T06:30:11Z"));
        assert_eq!((h.level.as_deref(), h.message.as_str()), (Some("error"), "TokenBroker: failed"));
        let (h, f) = header("2025-07-15 08:30:11.123 [Warning] Licence check").unwrap();
        assert_eq!(f, Flavour::Other);
        assert_eq!((h.level.as_deref(), h.message.as_str()), (Some("warning"), "Licence check"));
        assert!(header("    at Object.foo (file.js:1:2)").is_none());
    }

    /// The records and warnings of a log read with and without the gate.
    fn gated_and_full(name: &str, bytes: &[u8]) -> [(Vec<uctriage_evidence::Evidence>, Vec<String>); 2] {
        [true, false].map(|gated| {
            let mut sink = Vec::new();
            let mut em = Emitter::new(name, "teams-log", &mut sink);
            let end = read_entries(Input::from_bytes(name, name, bytes.to_vec()), &mut em, gated);
            let (_, warnings) = em.finish();
            let mut said: Vec<String> = warnings.into_iter().map(|w| format!("{}: {}", w.place, w.message)).collect();
            said.extend(end.err().map(|e| format!("{}: {}", e.place, e.message)));
            (sink, said)
        })
    }

    fn assert_gate_loses_nothing(name: &str, bytes: &[u8]) -> usize {
        let [gated, full] = gated_and_full(name, bytes);
        assert_eq!(gated.1, full.1, "warnings of {name}");
        assert_eq!(gated.0.len(), full.0.len(), "records of {name}");
        for (g, f) in gated.0.iter().zip(&full.0) {
            assert_eq!(g, f, "{name}");
        }
        full.0.len()
    }

    /// Every fixture of the project (each read as a Teams log, whatever its format: varied lines)
    /// gives the same records whether or not entries that cannot matter are passed over.
    #[test]
    fn the_gate_loses_nothing_on_the_fixtures() {
        let mut records = 0;
        let mut files = 0;
        for path in crate::readers::fixture_files() {
            records += assert_gate_loses_nothing(&path.to_string_lossy(), &std::fs::read(&path).unwrap());
            files += 1;
        }
        assert!(files > 20 && records > 20, "{files} files, {records} records");
    }

    /// What the Teams patterns are skipped without is in every text they match.
    #[test]
    fn the_patterns_skipped_cannot_match() {
        let mut lines: Vec<String> = [
            "failed with errorCode: 2147942402",
            "hr=-895025148",
            "sign in error code 1001",
            "error: 4C7 while signing in",
            "error: 0x4c7",
            "CallEndReason = {\"code\":484,\"subCode\":560484}",
        ]
        .map(str::to_owned)
        .to_vec();
        lines.extend(crate::readers::fixture_lines());
        let mut matched = 0;
        for line in &lines {
            if DECIMAL_HR.is_match(line) {
                assert!(nine_digits(line), "{line}");
                matched += 1;
            }
            if CALL_END.is_match(line) {
                assert!(has_word(line, b"callendrea"), "{line}");
                matched += 1;
            }
            if TEAMS_NUMBER.is_match(line) {
                assert!(has_word(line, b"1001") || has_word(line, b"4c7"), "{line}");
                matched += 1;
            }
            if LICENSE.is_match(line) {
                assert!(may_spell(line, b"errorcode"), "{line}");
                matched += 1;
            }
            if VERSION.is_match(line) {
                assert!(may_spell(line, b"version"), "{line}");
                matched += 1;
            }
        }
        assert!(matched >= 8, "{matched}");
        // Case folding beyond ASCII: the long s spells the `s` of `version`.
        assert!(VERSION.is_match("app verſion: 5.2.115.0") && may_spell("app verſion: 5.2.115.0", b"version"));
    }

    /// The keep table finds a keep word where the crate's automaton does: on every fixture line
    /// and on every line of the random logs' parts.
    #[test]
    fn the_keep_table_agrees_with_the_automaton() {
        let mut found = 0;
        for line in crate::readers::fixture_lines() {
            let want = KEEP_AC.is_match(&line);
            assert_eq!(KEEP.is_match(line.as_bytes()), want, "{line}");
            assert_eq!(LEVEL_WORDS.is_match(line.as_bytes()), LEVEL_AC.is_match(&line), "{line}");
            found += usize::from(want);
        }
        for w in KEEP_WORDS {
            let upper = w.to_ascii_uppercase();
            for text in [w.to_string(), format!("x{w}"), format!("{w}y"), format!("a b{upper}c")] {
                assert!(KEEP.is_match(text.as_bytes()), "{text}");
            }
        }
        assert!(found > 100, "{found}");
    }

    /// The pre-check of the new header form lets every line through that the pattern matches.
    #[test]
    fn the_new_form_is_checked_first_by_its_digit() {
        let mut new = 0;
        let mut lines = crate::readers::fixture_lines();
        lines.extend(["\t 2025-07-15T08:30:12.5Z <ERR> x", " 2025-07-15 08:30:11 0x1 <Warn> y"].map(str::to_owned));
        for line in &lines {
            let line = line.trim_start_matches('\u{feff}');
            assert!(may_be_new(line) || !NEW.is_match(line), "{line}");
            new += usize::from(NEW.is_match(line));
        }
        assert!(new > 5, "{new}");
    }

    /// What [`Holds`] finds in the lower-cased copy is what the word tests find in the text.
    fn holds_as_the_word_tests(text: &str) -> Holds {
        Holds {
            call_end: has_word(text, b"callendrea"),
            teams_number: has_word(text, b"1001") || has_word(text, b"4c7"),
            license: may_spell(text, b"errorcode"),
            version: may_spell(text, b"version"),
            version_at: if text.is_ascii() { text.to_ascii_lowercase().find("version") } else { None },
        }
    }

    /// The version found from the floor, fresh and with the last statement remembered, is the
    /// one the pattern finds in the whole text.
    fn assert_version_as_the_pattern(texts: &[String]) -> usize {
        let mut last = Statement::default();
        let mut found = 0;
        for text in texts {
            let Some(at) = Holds::of(text, &mut Vec::new()).version_at else { continue };
            let want = VERSION.captures(text).map(|c| c[1].to_owned());
            assert_eq!(version_stated(text, at, &mut Statement::default()), want, "{text}");
            assert_eq!(version_stated(text, at, &mut last), want, "{text}");
            found += usize::from(want.is_some());
        }
        found
    }

    #[test]
    fn versions_found_from_the_floor_on_the_fixtures() {
        let mut lines = crate::readers::fixture_lines();
        lines.extend(
            [
                "Tue Jul 15 2025 10:30:11 GMT+0200 (x) <2> -- info -- Teams Rooms app version: 5.2.115.0",
                "Tue Jul 15 2025 10:30:11 GMT+0200 (x) <2> -- info -- Teams Rooms app version: 5.2.115.0",
                "Tue Jul 15 2025 10:30:12 GMT+0200 (x) <2> -- info -- Teams Rooms app version: 5.2.116.0",
                "x5Teams version 1.2.3.4",
                "Teams version 1.2.3.4",
                "the version of Starting app Teams, version 1.6.00.4472",
                "\"AppVersion\":\"5.3.1.0\"",
            ]
            .map(str::to_owned),
        );
        assert!(assert_version_as_the_pattern(&lines) >= 5);
    }

    #[test]
    fn holds_agrees_with_the_word_tests_on_the_fixtures() {
        let mut lower = Vec::new();
        let mut held = 0;
        for line in crate::readers::fixture_lines() {
            let holds = Holds::of(&line, &mut lower);
            assert_eq!(holds, holds_as_the_word_tests(&line), "{line}");
            held += usize::from(holds.version || holds.license || holds.call_end || holds.teams_number);
        }
        assert!(held > 10, "{held}");
    }

    proptest::proptest! {
        /// Versions found from the floor on text made of the pattern's pieces and others.
        #[test]
        fn versions_found_from_the_floor(picks in proptest::collection::vec(0usize..26, 1..14)) {
            let pieces = [
                "app", "application", "Teams", " rooms", " Rooms app", "starting app Teams,", "Starting App x ",
                "version", "VERSION", " ", "_", "-", ":", "=", "\"", "5.2.115.0", "1.6.00.4472", "v", "x", ">",
                " is ", ",", "9", "client", "rigel", "'",
            ];
            let text: String = picks.iter().map(|&k| pieces[k]).collect();
            let texts = [text.clone(), text.clone(), format!("a{text}"), text];
            assert_version_as_the_pattern(&texts);
        }

        /// [`Holds`] agrees with the word tests on text made of pieces of its words.
        #[test]
        fn holds_agrees_on_pieces(parts in proptest::collection::vec((0usize..6, 0usize..11, 0usize..11, proptest::bool::ANY), 0..8)) {
            let words = ["callEndReason", "1001", "4C7", "errorCode", "VERSION", "verſion"];
            let mut text = String::new();
            for (w, a, b, upper) in parts {
                let word = words[w];
                let piece = word.get(a.min(b).min(word.len())..a.max(b).min(word.len())).unwrap_or(word);
                text.push_str(&if upper { piece.to_ascii_uppercase() } else { piece.to_ascii_lowercase() });
                if a % 4 == 0 {
                    text.push(' ');
                }
            }
            proptest::prop_assert_eq!(Holds::of(&text, &mut Vec::new()), holds_as_the_word_tests(&text), "{}", text);
        }

        /// The keep table and the crate's automaton agree on text made of pieces of the words.
        #[test]
        fn the_keep_table_agrees_on_pieces(parts in proptest::collection::vec((0usize..13, 0usize..14, 0usize..14, proptest::bool::ANY), 0..8)) {
            let mut text = String::new();
            for (w, a, b, upper) in parts {
                let word = KEEP_WORDS[w];
                let (a, b) = (a.min(word.len()), b.min(word.len()));
                let piece = word.get(a.min(b)..a.max(b)).unwrap_or(word);
                text.push_str(&if upper { piece.to_uppercase() } else { piece.to_owned() });
                text.push(if a % 3 == 0 { ' ' } else { 'x' });
            }
            proptest::prop_assert_eq!(KEEP.is_match(text.as_bytes()), KEEP_AC.is_match(&text), "{}", text);
            proptest::prop_assert_eq!(LEVEL_WORDS.is_match(text.as_bytes()), LEVEL_AC.is_match(&text), "{}", text);
            // Every length around the stretch of 16 bytes, and a word at its very end.
            for cut in 0..text.len().min(40) {
                if let Some(head) = text.get(..cut) {
                    proptest::prop_assert_eq!(KEEP.is_match(head.as_bytes()), KEEP_AC.is_match(head), "{}", head);
                }
            }
        }

        /// The byte walks answer as the slice walks they replaced.
        #[test]
        fn digit_runs_and_words_as_before(text in "([0-9]{1,10}|[a-eA-E]{1,3}|4c7|ſ| |-){0,8}", word in "[a-eA-E0-9]{1,4}") {
            let old_nine = text.as_bytes().split(|c| !c.is_ascii_digit()).any(|run| run.len() >= 9);
            proptest::prop_assert_eq!(nine_digits(&text), old_nine);
            let old_word = text.as_bytes().windows(word.len()).any(|w| w.eq_ignore_ascii_case(word.as_bytes()));
            proptest::prop_assert_eq!(has_word(&text, word.as_bytes()), old_word);
        }
    }

    /// An entry kept for its level and sign-in word alone: the level word lets it through.
    #[test]
    fn a_warning_about_sign_in_is_kept_for_its_level() {
        for line in
            ["2025-07-15 08:30:14.123 [Warning] password expired", "2025-07-15T08:30:12.5Z <ERR> broker: no account"]
        {
            assert!(!kb().may_hold_code(line), "{line}");
            assert_eq!(assert_gate_loses_nothing("x.log", line.as_bytes()), 1, "{line}");
        }
        let long = format!("2025-07-15 08:30:14.123 [Warning] x\n{}  password expired\n", "  at frame\n".repeat(450));
        assert_eq!(assert_gate_loses_nothing("x.log", long.as_bytes()), 1);
    }

    /// Random logs of every header form, level, code, version statement, sign-in word,
    /// continuation and entry longer than its bound.
    #[test]
    fn the_gate_loses_nothing_on_random_logs() {
        let heads = [
            "Tue Jul 15 2025 10:30:11 GMT+0200 (Central European Summer Time) <21560> -- info -- ",
            "Tue Jul 15 2025 10:30:12 GMT+0000 (Coordinated Universal Time) <6124> -- warning -- ",
            "Jul 15 2025 10:30:13 <6124> -- error -- ",
            "2025-07-15T08:30:11.123456+00:00 0x00001234 <INFO> ",
            "2025-07-15T08:30:12.5Z <ERR> ",
            "2025-07-15T08:30:13+02:00 0x1 <Warn> ",
            "2025-07-15 08:30:14.123 [Error] ",
            "2025-07-15 08:30:15 INFO ",
            "[2025-07-15 08:30:16] | warning | ",
            "",
            "    ",
        ];
        let bodies = [
            "calendarService: calendar refreshed, 6 meetings",
            "authService: token refreshed silently for https://api.spaces.skype.com",
            "telemetry: heartbeat sent",
            "Teams Rooms app version: 5.2.115.0",
            "Starting app Teams, version 1.6.00.4472",
            "\"AppVersion\":\"5.3.1.0\"",
            "TokenBroker: sign-in failed AADSTS50076",
            "error=0xCAA70004 while acquiring a token",
            "failed with errorCode: 2147942402",
            "hr=-895025148",
            "sign in error code 1001",
            "error: 4c7 while signing in",
            "errorCode: FailedAuthentication, errorStep: get_skype_license, errorState: licenseError",
            "callEndReason: {\"code\":484,\"subCode\":560484,\"phrase\":\"x\"}",
            "password expired for the account",
            "conditional access blocked the broker",
            "Login: 50% done",
            "took 1001 ms",
            "at Object.foo (file.js:1:2)",
            "{\"status\": 403}",
            "SIP/2.0 486 Busy Here",
            "ms-diagnostics: 1034;reason=\"Previous hop\"",
            "plain words of no interest",
            "\u{feff}",
            "ſtatus=2147942402",
        ];
        let mut seed = 0x2545_f491_4f6c_dd1d_u64;
        let mut next = |n: usize| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            (seed % n as u64) as usize
        };
        let mut records = 0;
        for round in 0..400 {
            let mut log = String::new();
            for _ in 0..next(40) {
                let head = heads[next(heads.len())];
                log.push_str(head);
                log.push_str(bodies[next(bodies.len())]);
                log.push_str(if next(7) == 0 { "\r\n" } else { "\n" });
                // An entry beyond its line bound now and then.
                if next(60) == 0 {
                    for k in 0..next(900) {
                        log.push_str(if k % 97 == 5 { bodies[next(bodies.len())] } else { "  at frame" });
                        log.push('\n');
                    }
                }
            }
            let name = if round % 2 == 0 { "App/Microsoft/Teams/Logs.txt" } else { "x/notes.log" };
            records += assert_gate_loses_nothing(name, log.as_bytes());
        }
        assert!(records > 1000, "{records}");
    }

    #[test]
    fn teams_codes_beyond_free_text() {
        let s = |t: &str| entry_codes(t).iter().map(ToString::to_string).collect::<Vec<_>>();
        assert_eq!(s("failed with errorCode: 2147942402"), ["0x80070002"]);
        assert_eq!(s("sign in error code 1001"), ["TEAMS 1001"]);
        assert_eq!(s("error: 4c7 while signing in"), ["TEAMS 4c7"]);
        assert_eq!(s("took 1001 ms"), Vec::<String>::new());
    }
}
