//! Finding codes in free text: a log line, a JSON string, a pasted error dialog or trace.
//!
//! A cheap case-insensitive prefilter (one Aho-Corasick automaton over trigger words, context
//! words, reason phrases and alias texts) skips the lines that hold nothing, and says which
//! regular expressions can match in the rest; only those run.
//!
//! Some readings need the words around the code (`data/extract/context.toml`): a bare 5- to
//! 7-digit number is an AADSTS code only on a line that names sign-in or Entra, a status after
//! "returned" is an HTTP status only on a line that names HTTP traffic, and `404 Not Found` is a
//! SIP response only on a line that names SIP signalling.

use std::collections::HashMap;
use std::sync::OnceLock;

use aho_corasick::{AhoCorasick, AhoCorasickBuilder, AhoCorasickKind, MatchKind};
use regex::Regex;
use serde::Deserialize;

use crate::code::Code;
use crate::KnowledgeBase;

/// Shortest alias text matched anywhere in free text (shorter ones are too easy to hit by chance;
/// the readers of their own formats match those explicitly).
const MIN_ALIAS: usize = 20;

/// Shortest reason phrase (`Busy Here`, `Not Found`) looked for after a status number.
const MIN_PHRASE: usize = 6;

/// The context words of `data/extract/context.toml`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ContextWords {
    pub aadsts: Vec<String>,
    pub http: Vec<String>,
    pub sip: Vec<String>,
}

/// The context words compiled into the binary.
pub(crate) fn context_words() -> ContextWords {
    toml::from_str(include_str!("../data/extract/context.toml")).expect("context.toml is valid (tested)")
}

#[derive(Debug)]
pub(crate) struct Extractor {
    prefilter: AhoCorasick,
    /// For each prefilter pattern: the entry it names when it is an alias text.
    alias_entry: Vec<Option<usize>>,
    /// For each prefilter pattern: which of `patterns` can match where it is found (bit i for
    /// pattern i), so a line with only `error` in it is not searched for SIP or Q.850 codes.
    wants: Vec<u32>,
    patterns: Vec<Pattern>,
    aadsts_words: Words,
    http_words: Words,
    sip_words: Words,
    /// Lower-case reason phrase of each SIP and HTTP status the knowledge base names.
    sip_phrase: HashMap<u16, String>,
    http_phrase: HashMap<u16, String>,
}

/// Every pattern: for alias texts and named tokens, which may hide a trigger word inside them.
const ALL_PATTERNS: u32 = u32::MAX;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Aadsts,
    Hex,
    Sip,
    MsDiag,
    Q850,
    OauthWord,
    Http,
    Msrc,
    CaaBare,
    TeamsToken,
    SipCause,
    FamilyNumber,
    Decimal,
    OauthToken,
    HttpKeyed,
    HttpInContext,
    Phrase,
    MsDiagReason,
    Winsock,
}

// The patterns by index (bit i of a `wants` mask is pattern i).
const P_AADSTS: usize = 0;
const P_HEX: usize = 1;
const P_HEX_KEYED: usize = 2;
const P_SIP_LINE: usize = 3;
const P_MSDIAG: usize = 4;
const P_Q850: usize = 5;
const P_OAUTH_WORD: usize = 6;
const P_HTTP_PEXIP: usize = 7;
const P_HTTP_WORD: usize = 8;
const P_HTTP_LINE: usize = 9;
const P_MSRC: usize = 10;
const P_CAA: usize = 11;
const P_TEAMS: usize = 12;
const P_SIP_CAUSE: usize = 13;
const P_FAMILY_NUMBER: usize = 14;
const P_DECIMAL: usize = 15;
const P_ERROR_CODES: usize = 16;
const P_OAUTH_TOKEN: usize = 17;
const P_HTTP_KEYED: usize = 18;
const P_HTTP_CONTEXT: usize = 19;
const P_PHRASE: usize = 20;
const P_MSDIAG_REASON: usize = 21;
const P_WINSOCK: usize = 22;
const PATTERNS: usize = 23;

/// Patterns that only read a failure status (400 to 699) bounded by non-digits: a line without
/// such a run of three digits is not searched with them. Exact, too.
const ERROR_STATUS_ONLY: u32 = 1 << P_SIP_CAUSE | 1 << P_HTTP_KEYED | 1 << P_HTTP_CONTEXT | 1 << P_PHRASE;

/// The longest run of decimal digits each pattern needs to match (`\d{9,10}` needs nine): a line
/// without such a run is not searched with it. Exact, so it changes no result.
const MIN_DIGITS: [usize; PATTERNS] = [4, 0, 0, 3, 1, 3, 0, 3, 3, 3, 1, 0, 0, 3, 5, 9, 4, 0, 3, 3, 3, 0, 4];

/// Trigger words, and the patterns that need each one. A pattern can only match where one of
/// its triggers is (the tests check this on random text).
const TRIGGERS: &[(&str, &[usize])] = &[
    ("aadsts", &[P_AADSTS, P_FAMILY_NUMBER]),
    ("0x", &[P_HEX]),
    ("exchange status", &[P_HEX_KEYED]),
    ("hresult", &[P_HEX_KEYED, P_DECIMAL]),
    ("sip/2.0", &[P_SIP_LINE]),
    ("diagnostics", &[P_MSDIAG, P_MSDIAG_REASON]),
    ("850", &[P_Q850]),
    ("cause", &[P_SIP_CAUSE]),
    ("error", &[P_OAUTH_WORD, P_HTTP_PEXIP, P_DECIMAL, P_ERROR_CODES]),
    ("code", &[P_OAUTH_WORD, P_MSRC, P_DECIMAL, P_HTTP_KEYED]),
    ("http", &[P_HTTP_WORD, P_HTTP_LINE, P_HTTP_CONTEXT]),
    ("subreason", &[P_MSRC]),
    ("caa", &[P_CAA]),
    ("max_reload", &[P_TEAMS]),
    ("result", &[P_DECIMAL]),
    ("status", &[P_DECIMAL, P_HTTP_KEYED]),
    ("hr", &[P_DECIMAL]),
    ("winsock", &[P_WINSOCK]),
];

/// One regular expression of the extractor, compiled the first time a text needs it: compiling
/// all of them costs more than reading a small log, and most inputs wake only a few.
#[derive(Debug)]
struct Pattern {
    source: String,
    regex: OnceLock<Regex>,
    kind: Kind,
}

impl Pattern {
    fn new(source: &str, kind: Kind) -> Self {
        Pattern { source: source.to_owned(), regex: OnceLock::new(), kind }
    }

    fn regex(&self) -> &Regex {
        self.regex.get_or_init(|| Regex::new(&self.source).expect("extractor patterns are fixed and tested"))
    }
}

fn mask(patterns: &[usize]) -> u32 {
    patterns.iter().fold(0, |m, i| m | 1 << i)
}

/// Whole-word matching of a list of words (a word may hold spaces and dashes).
#[derive(Debug)]
struct Words(AhoCorasick);

impl Words {
    fn new(words: &[String]) -> Self {
        Words(
            AhoCorasickBuilder::new()
                .ascii_case_insensitive(true)
                .match_kind(MatchKind::Standard)
                .build(words)
                .expect("context words build"),
        )
    }

    /// True when one of the words is in `text` with no letter or digit touching it.
    fn in_text(&self, text: &str) -> bool {
        let b = text.as_bytes();
        self.0.find_overlapping_iter(text).any(|m| {
            let before = m.start().checked_sub(1).map(|i| b[i]);
            let after = b.get(m.end()).copied();
            !before.is_some_and(|c| c.is_ascii_alphanumeric()) && !after.is_some_and(|c| c.is_ascii_alphanumeric())
        })
    }
}

/// HTTP statuses a client log may name: the registered ones, from 400 up.
fn http_error(n: u16) -> bool {
    matches!(n, 400..=418 | 421..=426 | 428 | 429 | 431 | 451 | 500..=508 | 510 | 511)
}

impl Extractor {
    pub(crate) fn new(kb: &KnowledgeBase) -> Self {
        let context = context_words();
        // Non-alias triggers, merged by word: (word, wants).
        let mut triggers: Vec<(String, u32)> = Vec::new();
        let mut add = |word: &str, m: u32| {
            let w = word.to_ascii_lowercase();
            match triggers.iter_mut().find(|(t, _)| *t == w) {
                Some((_, have)) => *have |= m,
                None => triggers.push((w, m)),
            }
        };
        for (w, p) in TRIGGERS {
            add(w, mask(p));
        }
        for w in &context.aadsts {
            add(w, mask(&[P_FAMILY_NUMBER]));
        }
        for w in &context.http {
            add(w, mask(&[P_HTTP_CONTEXT]));
        }
        let mut teams_tokens = Vec::new();
        let mut oauth_tokens = Vec::new();
        let mut phrases: Vec<String> = Vec::new();
        let mut sip_phrase = HashMap::new();
        let mut http_phrase = HashMap::new();
        for e in &kb.entries {
            match &e.code {
                // Distinctive tokens only: `max_reload_exceeded`, `licenseError`, `GeneralError`.
                Code::Teams(t)
                    if t.len() >= 8 && (t.contains('_') || t.chars().skip(1).any(|c| c.is_ascii_uppercase())) =>
                {
                    teams_tokens.push(regex::escape(t));
                    add(t, ALL_PATTERNS);
                }
                // OAuth errors with an underscore (`invalid_client`) are never ordinary words.
                Code::Oauth(t) if t.contains('_') => {
                    oauth_tokens.push(regex::escape(t));
                    add(t, ALL_PATTERNS);
                }
                Code::Sip(n) | Code::Http(n) if *n >= 400 => {
                    let Some(name) = e.name.as_deref().filter(|p| p.len() >= MIN_PHRASE) else { continue };
                    let lower = name.to_ascii_lowercase();
                    if matches!(e.code, Code::Sip(_)) {
                        sip_phrase.insert(*n, lower.clone());
                    } else {
                        http_phrase.insert(*n, lower.clone());
                    }
                    if !phrases.contains(&lower) {
                        phrases.push(lower.clone());
                        add(&lower, mask(&[P_PHRASE]));
                    }
                }
                _ => {}
            }
        }
        // A trigger inside a longer one (`http` in `https`, `error` in `internal server error`)
        // is hidden by it, since the automaton reports the leftmost, longest match: the longer
        // one wants its patterns too.
        let snapshot = triggers.clone();
        for (w, m) in &mut triggers {
            for (v, vm) in &snapshot {
                if v.len() < w.len() && w.contains(v.as_str()) {
                    *m |= vm;
                }
            }
        }
        let mut words: Vec<String> = Vec::new();
        let mut alias_entry: Vec<Option<usize>> = Vec::new();
        let mut wants: Vec<u32> = Vec::new();
        for (w, m) in triggers {
            words.push(w);
            alias_entry.push(None);
            wants.push(m);
        }
        // An alias that is part of another entry's alias is ambiguous in free text (the 401 and
        // 500 answers of one API share their opening words): leave it to exact lookups.
        let all_aliases: Vec<(usize, String)> = kb
            .entries
            .iter()
            .enumerate()
            .flat_map(|(i, e)| e.aliases.iter().map(move |a| (i, a.to_ascii_lowercase())))
            .collect();
        // One searcher per candidate, run over the longer aliases (a searcher set up per pair of
        // aliases cost more than the rest of the extractor's set-up together).
        let ambiguous = |i: usize, a: &str| {
            let finder = memchr::memmem::Finder::new(a);
            all_aliases.iter().any(|(j, b)| *j != i && b.len() > a.len() && finder.find(b.as_bytes()).is_some())
        };
        for (i, e) in kb.entries.iter().enumerate() {
            for a in &e.aliases {
                if a.len() < MIN_ALIAS || a.contains('<') {
                    continue;
                }
                let lower = a.to_ascii_lowercase();
                if !ambiguous(i, &lower) {
                    words.push(lower);
                    alias_entry.push(Some(i));
                    wants.push(ALL_PATTERNS);
                }
            }
        }
        let prefilter = AhoCorasickBuilder::new()
            .ascii_case_insensitive(true)
            .match_kind(MatchKind::LeftmostLongest)
            // Every line of every log goes through it: a full DFA is the fastest to search.
            .kind(Some(AhoCorasickKind::DFA))
            .build(&words)
            .expect("prefilter builds");
        let alternatives = |tokens: &[String]| {
            if tokens.is_empty() {
                // Matches nothing: a word boundary that is not one.
                r"\b\B".to_owned()
            } else {
                tokens.join("|")
            }
        };
        let phrase_alts: Vec<String> = phrases.iter().map(|p| regex::escape(p)).collect();
        let patterns = vec![
            Pattern::new(r"(?i)\bAADSTS(?:%3a|:)?(\d{4,8})", Kind::Aadsts),
            // 64-bit spellings (sign-extended or zero-extended) and C suffixes: the low 32 bits.
            Pattern::new(r"(?i)\b0x(?:ffffffff|00000000)?([0-9a-f]{8})(?:u?l)?\b", Kind::Hex),
            Pattern::new(r"(?i)(?:exchange status|hresult)\s*[:=]?\s*(?:0x)?([0-9a-f]{8})\b", Kind::Hex),
            Pattern::new(r"\bSIP/2\.0 ([1-6]\d\d) [A-Za-z]", Kind::Sip),
            Pattern::new(r"(?i)\b(?:x-)?ms-(?:client-)?diagnostics(?:-public)?\s*:\s*(\d{1,7})", Kind::MsDiag),
            Pattern::new(r"(?i)\bQ\.?850\s*(?:;\s*)?cause\s*[=:]?\s*(\d{1,3})\b", Kind::Q850),
            Pattern::new(
                r#"(?i)\b(?:error|error_?code|suberror|code)["']?\s*[=:]\s*["']?([a-z][a-z_]{4,40})\b"#,
                Kind::OauthWord,
            ),
            Pattern::new(r#"(?i)\bError="(\d{3})""#, Kind::Http),
            Pattern::new(r"(?i)\bHTTP(?:[ _-]?status(?:[ _-]?code)?)?\s*[:=]?\s*(\d{3})\b", Kind::Http),
            Pattern::new(r"(?i)\bHTTP/[12](?:\.[01])? (\d{3})\b", Kind::Http),
            Pattern::new(
                r#"(?i)(?:microsoft response code|callEndSubReason|final microsoft subcode)["']?\s*[:=]?\s*["']?(\d{1,6})\b"#,
                Kind::Msrc,
            ),
            Pattern::new(r"(?i)\b(caa[0-9a-f]{5})\b", Kind::CaaBare),
            Pattern::new(&format!(r"\b({})\b", alternatives(&teams_tokens)), Kind::TeamsToken),
            Pattern::new(r#"(?i)\bSIP\s*;\s*cause\s*=\s*"?(\d{3})\b"#, Kind::SipCause),
            Pattern::new(
                r#"(?i)\b(?:error|code|reason|failure|status)(?:\s+(?:code|number|reason|is|was|of|no\.?))*\s*[:=#-]?\s*["']?(\d{5,7})\b"#,
                Kind::FamilyNumber,
            ),
            Pattern::new(
                r#"(?i)\b(?:hr|hresult|error_?code|errorcode|error|code|result|status)["']?\s*[:=]?\s*["']?(-?\d{9,10})\b"#,
                Kind::Decimal,
            ),
            Pattern::new(r#"(?i)\berror_codes["']?\s*[:=]\s*\[\s*(\d{4,7})\b"#, Kind::Aadsts),
            Pattern::new(&format!(r"(?i)\b({})\b", alternatives(&oauth_tokens)), Kind::OauthToken),
            Pattern::new(
                r#"(?i)\b(?:(?:http[ _]?)?status[ _]?code|statuscode|status|http[ _]?code|response[ _]?code|responsecode)(?:["']?\s*[:=]\s*["']?|\s+(?:is\s+|was\s+|of\s+)?)(\d{3})\b"#,
                Kind::HttpKeyed,
            ),
            Pattern::new(
                r"(?i)\b(?:returned(?:\s+an\s+error)?|failed\s+with(?:\s+(?:code|status|error))?|with\s+code|got|answered|responded(?:\s+with)?|success|error\s+code|code)\s*[:=]?\s*\(?(\d{3})\)?(?:[\s.,;)]|$)",
                Kind::HttpInContext,
            ),
            Pattern::new(&format!(r"(?i)\b([1-6]\d\d)\s+({})\b", alternatives(&phrase_alts)), Kind::Phrase),
            Pattern::new(
                r#"(?i)\bms-(?:client-)?diagnostics(?:-public)?\s*:\s*reason\s*=\s*"([^"]{3,300})""#,
                Kind::MsDiagReason,
            ),
            Pattern::new(r#"(?i)\bWinsockFailureCode\s*[=:]\s*"?(\d{4,5})\b"#, Kind::Winsock),
        ];
        debug_assert_eq!(patterns.len(), PATTERNS, "the P_ constants name the patterns by index");
        debug_assert!(patterns[P_OAUTH_TOKEN].kind == Kind::OauthToken && patterns[P_WINSOCK].kind == Kind::Winsock);
        Extractor {
            prefilter,
            alias_entry,
            wants,
            patterns,
            aadsts_words: Words::new(&context.aadsts),
            http_words: Words::new(&context.http),
            sip_words: Words::new(&context.sip),
            sip_phrase,
            http_phrase,
        }
    }

    /// Each pattern's source, in order.
    pub(crate) fn pattern_sources(&self) -> Vec<String> {
        self.patterns.iter().map(|p| p.source.clone()).collect()
    }

    /// Whether [`extract`](Self::extract) can find anything in `text` (see
    /// `KnowledgeBase::may_hold_code`).
    pub(crate) fn may_match(&self, text: &str) -> bool {
        let b = text.as_bytes();
        memchr::memchr(b'%', b).is_some()
            || memchr::memchr_iter(b'-', b).any(|i| b.len() - i > 9 && b[i + 1..i + 10].iter().all(u8::is_ascii_digit))
            || self.prefilter.is_match(text)
    }

    pub(crate) fn extract(&self, kb: &KnowledgeBase, text: &str, out: &mut Vec<Code>) {
        self.extract_with(kb, text, out, false);
    }

    /// `every_pattern` runs all patterns once any trigger is found, whatever digits the text
    /// holds (the tests compare the two).
    fn extract_with(&self, kb: &KnowledgeBase, text: &str, out: &mut Vec<Code>, every_pattern: bool) {
        let mut wanted = 0u32;
        let mut aliases: Vec<usize> = Vec::new();
        for m in self.prefilter.find_iter(text) {
            wanted |= self.wants[m.pattern().as_usize()];
            if let Some(i) = self.alias_entry[m.pattern().as_usize()] {
                aliases.push(i);
            }
        }
        let mut push = |c: Code| {
            if !out.contains(&c) {
                out.push(c);
            }
        };
        if wanted != 0 {
            if every_pattern {
                wanted = ALL_PATTERNS;
            }
            let mut context = Context::default();
            // The full run (tests) skips nothing, so comparing the two checks the skips too.
            let (digits, error_status) = if every_pattern { (usize::MAX, true) } else { digit_runs(text.as_bytes()) };
            if !error_status {
                wanted &= !ERROR_STATUS_ONLY;
            }
            for (n, p) in self.patterns.iter().enumerate() {
                if wanted & (1 << n) == 0 || digits < MIN_DIGITS[n] {
                    continue;
                }
                for caps in p.regex().captures_iter(text) {
                    let Some(m) = caps.get(1) else { continue };
                    for c in self.reading(kb, text, p.kind, &caps, m, &mut context) {
                        push(c);
                    }
                }
            }
        }
        for i in aliases {
            push(kb.entries[i].code.clone());
        }
        // Negative HRESULTs (`-2147024891`) need no trigger word: any `-` with nine or ten
        // digits after it is looked at, and kept when the value is a code we can name.
        for c in signed_hresults(kb, text) {
            push(c);
        }
    }

    /// The codes one match stands for (none, one, or two for a nested reading).
    fn reading(
        &self,
        kb: &KnowledgeBase,
        text: &str,
        kind: Kind,
        caps: &regex::Captures<'_>,
        m: regex::Match<'_>,
        context: &mut Context,
    ) -> Vec<Code> {
        let g = m.as_str();
        let before = text[..m.start()].bytes().next_back();
        let after = text[m.end()..].bytes().next();
        let code = match kind {
            Kind::Aadsts => g.parse().ok().map(Code::Aadsts),
            Kind::Hex | Kind::CaaBare => {
                // Eight hex digits inside a GUID (`caaaaf3a-…`) are not a code.
                if before == Some(b'-') || after == Some(b'-') {
                    return Vec::new();
                }
                let v = u32::from_str_radix(g, 16).ok();
                // Small or positive values are flags and addresses, not error codes.
                v.filter(|v| *v >= 0x8000_0000 || kb.get(&Code::Hresult(*v)).is_some()).map(Code::Hresult)
            }
            Kind::Sip => g.parse().ok().map(Code::Sip),
            Kind::MsDiag => g.parse().ok().map(Code::MsDiag),
            Kind::Q850 => g.parse().ok().filter(|n| *n < 128).map(Code::Q850),
            Kind::OauthWord | Kind::OauthToken => {
                let c = Code::Oauth(g.to_ascii_lowercase().into());
                kb.get(&c).is_some().then_some(c)
            }
            Kind::Http => g.parse().ok().filter(|n| (100..600).contains(n)).map(Code::Http),
            Kind::Msrc => g.parse().ok().filter(|n| *n != 0).map(Code::Msrc),
            Kind::TeamsToken => kb.get(&Code::Teams(g.into())).map(|e| e.code.clone()),
            Kind::SipCause => g.parse().ok().filter(|n| (400..700).contains(n)).map(Code::Sip),
            Kind::FamilyNumber => {
                // Part of a version, a time, an address or an id: not a code.
                if matches!(after, Some(b'.' | b':' | b'-' | b'/' | b'_'))
                    && text[m.end() + 1..].starts_with(char::is_alphanumeric)
                    || !context.aadsts(self, text)
                {
                    return Vec::new();
                }
                g.parse().ok().map(Code::Aadsts)
            }
            Kind::Decimal => {
                if after == Some(b'.') {
                    return Vec::new();
                }
                decimal_hresult(g).map(Code::Hresult)
            }
            Kind::HttpKeyed => {
                let n: u16 = g.parse().unwrap_or(0);
                (http_error(n) && (!context.sip(self, text) || context.http(self, text))).then_some(Code::Http(n))
            }
            Kind::HttpInContext => {
                let n: u16 = g.parse().unwrap_or(0);
                (http_error(n) && context.http(self, text)).then_some(Code::Http(n))
            }
            Kind::Phrase => {
                let n: u16 = g.parse().unwrap_or(0);
                let phrase = caps.get(2).map_or(String::new(), |p| p.as_str().to_ascii_lowercase());
                let sip = self.sip_phrase.get(&n) == Some(&phrase);
                let http = self.http_phrase.get(&n) == Some(&phrase);
                match (sip, http) {
                    (true, false) => Some(Code::Sip(n)),
                    (false, true) => Some(Code::Http(n)),
                    (true, true) => match (context.sip(self, text), context.http(self, text)) {
                        (true, false) => Some(Code::Sip(n)),
                        (false, true) => Some(Code::Http(n)),
                        _ => None,
                    },
                    (false, false) => None,
                }
            }
            Kind::MsDiagReason => {
                // A header that gives only its reason text: the knowledge base knows the texts.
                let key = crate::alias_key(g);
                let hits = kb.by_alias.get(&key).map_or(&[][..], Vec::as_slice);
                return hits
                    .iter()
                    .map(|&i| &kb.entries[i].code)
                    .filter(|c| matches!(c, Code::MsDiag(_)))
                    .cloned()
                    .collect();
            }
            Kind::Winsock => {
                // A Windows Sockets error (10061 WSAECONNREFUSED) is a Win32 error.
                let n: u32 = g.parse().unwrap_or(0);
                (10_000..12_000).contains(&n).then_some(Code::Hresult(0x8007_0000 | n))
            }
        };
        code.into_iter().collect()
    }
}

/// Which context words a text holds, each looked up once, when first needed.
#[derive(Debug, Default)]
struct Context {
    aadsts: Option<bool>,
    http: Option<bool>,
    sip: Option<bool>,
}

impl Context {
    fn aadsts(&mut self, ex: &Extractor, text: &str) -> bool {
        *self.aadsts.get_or_insert_with(|| ex.aadsts_words.in_text(text))
    }

    fn http(&mut self, ex: &Extractor, text: &str) -> bool {
        *self.http.get_or_insert_with(|| ex.http_words.in_text(text))
    }

    fn sip(&mut self, ex: &Extractor, text: &str) -> bool {
        *self.sip.get_or_insert_with(|| ex.sip_words.in_text(text))
    }
}

/// The length of the longest run of ASCII digits in `b`, and whether a run of exactly three
/// digits starts with 4, 5 or 6 (a failure status).
fn digit_runs(b: &[u8]) -> (usize, bool) {
    let (mut best, mut run, mut status) = (0, 0, false);
    for (i, &c) in b.iter().enumerate() {
        if c.is_ascii_digit() {
            run += 1;
            best = best.max(run);
        } else {
            status |= run == 3 && matches!(b[i - 3], b'4'..=b'6');
            run = 0;
        }
    }
    status |= run == 3 && matches!(b[b.len() - 3], b'4'..=b'6');
    (best, status)
}

/// An HRESULT written in decimal: signed (`-2147024891`) or unsigned (`2147942405`), with its
/// error bit set. `None` for other numbers.
pub(crate) fn decimal_hresult(digits: &str) -> Option<u32> {
    let n: i64 = digits.parse().ok()?;
    let v = if n < 0 { u32::try_from(n + (1 << 32)).ok()? } else { u32::try_from(n).ok()? };
    (v >= 0x8000_0000).then_some(v)
}

/// Negative numbers of nine or ten digits whose HRESULT reading names something: an entry of the
/// knowledge base, a symbolic name of the imported tables, or a Web Account Manager code.
fn signed_hresults(kb: &KnowledgeBase, text: &str) -> Vec<Code> {
    let b = text.as_bytes();
    let mut out = Vec::new();
    for i in memchr::memchr_iter(b'-', b) {
        let digits = b[i + 1..].iter().take_while(|c| c.is_ascii_digit()).count();
        if !(9..=10).contains(&digits) {
            continue;
        }
        let prev = i.checked_sub(1).map(|j| b[j]);
        let next = b.get(i + 1 + digits).copied();
        if prev.is_some_and(|c| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'.' | b'_'))
            || next.is_some_and(|c| c.is_ascii_alphanumeric() || c == b'.')
        {
            continue;
        }
        let Some(v) = decimal_hresult(&text[i..=i + digits]) else { continue };
        let code = Code::Hresult(v);
        let named = kb.get(&code).is_some()
            || crate::decode::hresult_name(v).is_some()
            || (v >> 20) & 0xFF == 0xAA
            || crate::decode::idcrl(v);
        if named && !out.contains(&code) {
            out.push(code);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The patterns are compiled on first use: a broken one must still fail a test, not a scan.
    #[test]
    fn every_pattern_compiles() {
        let ex = Extractor::new(KnowledgeBase::builtin());
        for p in &ex.patterns {
            assert!(Regex::new(&p.source).is_ok(), "{}", p.source);
            assert_eq!(p.regex().as_str(), p.source);
        }
    }

    #[test]
    fn trigger_words_run_every_pattern_that_can_match() {
        let kb = KnowledgeBase::builtin();
        let ex = Extractor::new(kb);
        let lines = [
            "AADSTS50076: Due to a configuration change",
            "authority=https://login.microsoftonline.com error=0xCAA70004 status",
            "Exchange status : 80131500 : AADSTS50076",
            "hresult = 80070005 while writing",
            "SIP/2.0 403 Forbidden",
            "ms-diagnostics: 1034;reason=\"Previous hop\"",
            "Reason: Q.850;cause=34;text=\"no circuit\"",
            "error_code=invalid_grant suberror: consent_required",
            "error: interaction_required, code: invalid_resource",
            "<Error=\"401\">",
            "HTTP status: 407 from the proxy; HTTP/1.1 503 Service Unavailable",
            "Microsoft response code: 560403; callEndSubReason=560487; final microsoft subcode 560484",
            "code caa20003 and GeneralError and max_reload_exceeded with licenseError",
            "errorCode: FailedAuthentication, errorStep: get_skype_license, errorState: licenseError",
            "sign-in error code 50158 and errorCode: 3399614476 and hr: -2147186655",
            "Reason: SIP;cause=480 ; ms-diagnostics: reason=\"User does not exist\"",
            "received 488 Not Acceptable Here for INVITE; https://x failed with code 503",
            "['invalid_client'] WinsockFailureCode=\"10061(WSAECONNREFUSED)\" status=403 url=https://graph",
            "nothing to see here",
        ];
        for line in lines {
            assert_eq!(ex.may_match(line), line != "nothing to see here", "{line}");
            let (mut fast, mut full) = (Vec::new(), Vec::new());
            ex.extract_with(kb, line, &mut fast, false);
            ex.extract_with(kb, line, &mut full, true);
            assert_eq!(fast, full, "{line}");
        }
    }

    /// Readers ask `may_match` line by line: that is exact only while no word of the prefilter
    /// holds a line end.
    #[test]
    fn no_trigger_holds_a_line_end() {
        let kb = KnowledgeBase::builtin();
        let w = context_words();
        assert!(kb
            .entries
            .iter()
            .flat_map(|e| e.aliases.iter().chain(e.name.iter()))
            .all(|a| !a.contains(['\n', '\r'])));
        assert!(w.aadsts.iter().chain(&w.http).all(|a| !a.contains(['\n', '\r'])));
        let ex = Extractor::new(kb);
        for (line, holds) in [("x -2147024891 y", true), ("50% done", true), ("a-12345678 b", false), ("", false)] {
            assert_eq!(ex.may_match(line), holds, "{line}");
        }
    }

    #[test]
    fn decimal_hresults() {
        assert_eq!(decimal_hresult("-2147024891"), Some(0x8007_0005));
        assert_eq!(decimal_hresult("3399942148"), Some(0xCAA7_0004));
        assert_eq!(decimal_hresult("-895025148"), Some(0xCAA7_0004));
        assert_eq!(decimal_hresult("1717000000"), None);
        assert_eq!(decimal_hresult("-99999999999"), None);
        assert_eq!(decimal_hresult("9999999999"), None);
    }

    #[test]
    fn context_words_are_lower_case_and_whole() {
        let w = context_words();
        for word in w.aadsts.iter().chain(&w.http).chain(&w.sip) {
            assert!(!word.is_empty() && *word == word.to_ascii_lowercase() && word.trim() == word, "{word:?}");
        }
    }

    proptest::proptest! {
        /// Pieces of codes and trigger words glued in any order and case: skipping patterns
        /// whose trigger is absent never loses a code.
        #[test]
        fn skipping_patterns_loses_nothing(
            parts in proptest::collection::vec(proptest::sample::select(vec![
                "AADSTS", "50076", "0x", "caa", "70004", "80070005", "error", "_code", "code", "=", ": ",
                "\"", "sip/2.0 ", "SIP/2.0 ", "403 Forbidden", "ms-", "client-", "diagnostics", "Q.", "850",
                ";cause=", "34", "http", "HTTP/1.1 ", "status", "Error=\"", "401", "subreason", "callEnd",
                "Sub", "Reason", "microsoft response code", "560403", "hresult", "exchange status",
                "invalid_grant", "GeneralError", "max_reload", "_exceeded", " ", "-", "\n",
                "sign-in", "entra", "-2147024891", "3399942148", "hr", "SIP;", "cause", "487",
                "Busy Here", "Not Found", "returned", "https://x", "reason=\"", "User does not exist",
                "winsock", "FailureCode=", "10061", "ffffffff", "L", "failure", "is",
                "4", "5", "6", "0", "(", ")", "status code ", "returned ", "Service Unavailable",
            ]), 0..16),
            upper in proptest::bool::ANY,
        ) {
            static EX: std::sync::OnceLock<Extractor> = std::sync::OnceLock::new();
            let kb = KnowledgeBase::builtin();
            let ex = EX.get_or_init(|| Extractor::new(kb));
            let mut line: String = parts.concat();
            if upper {
                line = line.to_ascii_uppercase();
            }
            let (mut fast, mut full) = (Vec::new(), Vec::new());
            ex.extract_with(kb, &line, &mut fast, false);
            ex.extract_with(kb, &line, &mut full, true);
            proptest::prop_assert!(ex.may_match(&line) || full.is_empty(), "skipped but holds {:?}: {}", full, line);
            // Per line, as readers ask: a line without a code-bearing part is skipped.
            for part in line.split('\n') {
                let mut codes = Vec::new();
                ex.extract_with(kb, part, &mut codes, true);
                proptest::prop_assert!(ex.may_match(part) || codes.is_empty(), "{}", part);
            }
            proptest::prop_assert_eq!(fast, full, "{}", line);
        }
    }
}
