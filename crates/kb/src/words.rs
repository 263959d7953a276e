//! The words of the code extractor's prefilter, and which of its patterns each one wakes.
//!
//! The build script reads this file too (`build.rs` includes it by path): it computes the same
//! list from the same data files and builds the prefilter's automaton for the built-in knowledge
//! base ahead of time, so the two can only differ if the data differs (a kb test compares them).

use std::collections::HashMap;

use serde::Deserialize;

use crate::code::Code;
use crate::entry::Entry;

/// Shortest alias text matched anywhere in free text (shorter ones are too easy to hit by chance;
/// the readers of their own formats match those explicitly).
pub(crate) const MIN_ALIAS: usize = 20;

/// Shortest reason phrase (`Busy Here`, `Not Found`) looked for after a status number.
pub(crate) const MIN_PHRASE: usize = 6;

// The extractor's patterns by index (bit i of a `wants` mask is pattern i).
pub(crate) const P_AADSTS: usize = 0;
pub(crate) const P_HEX: usize = 1;
pub(crate) const P_HEX_KEYED: usize = 2;
pub(crate) const P_SIP_LINE: usize = 3;
pub(crate) const P_MSDIAG: usize = 4;
pub(crate) const P_Q850: usize = 5;
pub(crate) const P_OAUTH_WORD: usize = 6;
pub(crate) const P_HTTP_PEXIP: usize = 7;
pub(crate) const P_HTTP_WORD: usize = 8;
pub(crate) const P_HTTP_LINE: usize = 9;
pub(crate) const P_MSRC: usize = 10;
pub(crate) const P_CAA: usize = 11;
pub(crate) const P_TEAMS: usize = 12;
pub(crate) const P_SIP_CAUSE: usize = 13;
pub(crate) const P_FAMILY_NUMBER: usize = 14;
pub(crate) const P_DECIMAL: usize = 15;
pub(crate) const P_ERROR_CODES: usize = 16;
pub(crate) const P_OAUTH_TOKEN: usize = 17;
pub(crate) const P_HTTP_KEYED: usize = 18;
pub(crate) const P_HTTP_CONTEXT: usize = 19;
pub(crate) const P_PHRASE: usize = 20;
pub(crate) const P_MSDIAG_REASON: usize = 21;
pub(crate) const P_WINSOCK: usize = 22;
pub(crate) const PATTERNS: usize = 23;

/// Every pattern: for alias texts and named tokens, which may hide a trigger word inside them.
pub(crate) const ALL_PATTERNS: u32 = u32::MAX;

/// Trigger words, and the patterns that need each one. A pattern can only match where one of
/// its triggers is (the tests check this on random text).
pub(crate) const TRIGGERS: &[(&str, &[usize])] = &[
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

pub(crate) fn mask(patterns: &[usize]) -> u32 {
    patterns.iter().fold(0, |m, i| m | 1 << i)
}

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

/// What the extractor takes from the entries themselves: named tokens, reason phrases, and the
/// prefilter words they add, in the order the entries give them.
#[derive(Debug, Default)]
pub(crate) struct Tokens {
    /// Distinctive Teams tokens (`max_reload_exceeded`, `licenseError`), as written.
    pub teams: Vec<String>,
    /// OAuth errors with an underscore (`invalid_client`).
    pub oauth: Vec<String>,
    /// Lower-case reason phrases of SIP and HTTP statuses from 400 up, without repeats.
    pub phrases: Vec<String>,
    /// Lower-case reason phrase of each SIP and HTTP status the knowledge base names.
    pub sip_phrase: HashMap<u16, String>,
    pub http_phrase: HashMap<u16, String>,
    /// Prefilter words these add, with the patterns each wakes, in entry order.
    pub adds: Vec<(String, u32)>,
}

pub(crate) fn tokens(entries: &[Entry]) -> Tokens {
    let mut t = Tokens::default();
    for e in entries {
        match &e.code {
            // Distinctive tokens only: `max_reload_exceeded`, `licenseError`, `GeneralError`.
            Code::Teams(w)
                if w.len() >= 8 && (w.contains('_') || w.chars().skip(1).any(|c| c.is_ascii_uppercase())) =>
            {
                t.teams.push(w.to_string());
                t.adds.push((w.to_string(), ALL_PATTERNS));
            }
            // OAuth errors with an underscore (`invalid_client`) are never ordinary words.
            Code::Oauth(w) if w.contains('_') => {
                t.oauth.push(w.to_string());
                t.adds.push((w.to_string(), ALL_PATTERNS));
            }
            Code::Sip(n) | Code::Http(n) if *n >= 400 => {
                let Some(name) = e.name.as_deref().filter(|p| p.len() >= MIN_PHRASE) else { continue };
                let lower = name.to_ascii_lowercase();
                if matches!(e.code, Code::Sip(_)) {
                    t.sip_phrase.insert(*n, lower.clone());
                } else {
                    t.http_phrase.insert(*n, lower.clone());
                }
                if !t.phrases.contains(&lower) {
                    t.phrases.push(lower.clone());
                    t.adds.push((lower, mask(&[P_PHRASE])));
                }
            }
            _ => {}
        }
    }
    t
}

/// The prefilter's words, in pattern order, with what each stands for.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct WordList {
    /// Lower case; matched ASCII case-insensitively, leftmost-longest.
    pub words: Vec<String>,
    /// For each word: the entry it names when it is an alias text.
    pub alias_entry: Vec<Option<usize>>,
    /// For each word: which patterns can match where it is found (bit i for pattern i).
    pub wants: Vec<u32>,
}

impl WordList {
    /// A fingerprint of the list (FNV-1a over every word, mask and alias entry), which the build
    /// script writes beside the automaton it builds so a test can tell that the two lists agree.
    #[allow(dead_code)] // Read by the build script and the tests.
    pub(crate) fn fingerprint(&self) -> u64 {
        let mut h: u64 = 0xcbf2_9ce4_8422_2325;
        let mut eat = |bytes: &[u8]| {
            for &b in bytes {
                h ^= u64::from(b);
                h = h.wrapping_mul(0x0100_0000_01b3);
            }
        };
        for ((w, a), m) in self.words.iter().zip(&self.alias_entry).zip(&self.wants) {
            eat(w.as_bytes());
            eat(&[0xff]);
            eat(&a.map_or(u64::MAX, |a| a as u64).to_le_bytes());
            eat(&m.to_le_bytes());
        }
        h
    }
}

/// The prefilter's words for a knowledge base: trigger words, context words, named tokens,
/// reason phrases, and the alias texts that are long and unambiguous enough for free text.
pub(crate) fn prefilter_words(entries: &[Entry], context: &ContextWords, tokens: &Tokens) -> WordList {
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
    for (w, m) in &tokens.adds {
        add(w, *m);
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
    let mut out = WordList::default();
    for (w, m) in triggers {
        out.words.push(w);
        out.alias_entry.push(None);
        out.wants.push(m);
    }
    // An alias that is part of another entry's alias is ambiguous in free text (the 401 and
    // 500 answers of one API share their opening words): leave it to exact lookups.
    let all_aliases: Vec<(usize, String)> = entries
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
    for (i, e) in entries.iter().enumerate() {
        for a in &e.aliases {
            if a.len() < MIN_ALIAS || a.contains('<') {
                continue;
            }
            let lower = a.to_ascii_lowercase();
            if !ambiguous(i, &lower) {
                out.words.push(lower);
                out.alias_entry.push(Some(i));
                out.wants.push(ALL_PATTERNS);
            }
        }
    }
    out
}
