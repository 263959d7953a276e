//! Finding codes in free text: a log line, a JSON string, a pasted error dialog.
//!
//! A cheap case-insensitive prefilter (one Aho-Corasick automaton over trigger words and alias
//! texts) skips the lines that hold nothing; only the rest go through the regular expressions.

use aho_corasick::{AhoCorasick, AhoCorasickBuilder, AhoCorasickKind, MatchKind};
use regex::Regex;

use crate::code::Code;
use crate::KnowledgeBase;

/// Shortest alias text matched anywhere in free text (shorter ones are too easy to hit by chance;
/// the readers of their own formats match those explicitly).
const MIN_ALIAS: usize = 20;

#[derive(Debug)]
pub(crate) struct Extractor {
    prefilter: AhoCorasick,
    /// For each prefilter pattern: the entry it names when it is an alias text.
    alias_entry: Vec<Option<usize>>,
    /// For each prefilter pattern: which of `patterns` can match where it is found (bit i for
    /// pattern i), so a line with only `error` in it is not searched for SIP or Q.850 codes.
    wants: Vec<u32>,
    patterns: Vec<(Regex, Kind)>,
}

/// Every pattern: for alias texts and Teams tokens, which may hide a trigger word inside them.
const ALL_PATTERNS: u32 = u32::MAX;

#[derive(Debug, Clone, Copy)]
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
}

/// Trigger words, and the patterns (by their index in `Extractor::new`) that need each one.
const TRIGGERS: &[(&str, &[usize])] = &[
    ("aadsts", &[0]),
    ("0x", &[1]),
    ("exchange status", &[2]),
    ("hresult", &[2]),
    ("sip/2.0", &[3]),
    ("diagnostics", &[4]),
    ("850", &[5]),
    ("error", &[6, 7]),
    ("code", &[6, 10]),
    ("http", &[8, 9]),
    ("subreason", &[10]),
    ("caa", &[11]),
    ("max_reload", &[12]),
];

fn re(p: &str) -> Regex {
    Regex::new(p).expect("extractor patterns are fixed and tested")
}

impl Extractor {
    pub(crate) fn new(kb: &KnowledgeBase) -> Self {
        let mut words: Vec<String> = TRIGGERS.iter().map(|(w, _)| (*w).to_owned()).collect();
        let mut alias_entry: Vec<Option<usize>> = vec![None; words.len()];
        let mut wants: Vec<u32> = TRIGGERS.iter().map(|(_, p)| p.iter().fold(0, |m, i| m | 1 << i)).collect();
        let mut teams_tokens = Vec::new();
        // An alias that is part of another entry's alias is ambiguous in free text (the 401 and
        // 500 answers of one API share their opening words): leave it to exact lookups.
        let all_aliases: Vec<(usize, String)> = kb
            .entries
            .iter()
            .enumerate()
            .flat_map(|(i, e)| e.aliases.iter().map(move |a| (i, a.to_ascii_lowercase())))
            .collect();
        let ambiguous =
            |i: usize, a: &str| all_aliases.iter().any(|(j, b)| *j != i && b.len() > a.len() && b.contains(a));
        for (i, e) in kb.entries.iter().enumerate() {
            for a in &e.aliases {
                if a.len() >= MIN_ALIAS && !a.contains('<') && !ambiguous(i, &a.to_ascii_lowercase()) {
                    words.push(a.to_ascii_lowercase());
                    alias_entry.push(Some(i));
                    wants.push(ALL_PATTERNS);
                }
            }
            if let Code::Teams(t) = &e.code {
                // Distinctive tokens only: `max_reload_exceeded`, `licenseError`, `GeneralError`.
                let distinctive = t.contains('_') || t.chars().skip(1).any(|c| c.is_ascii_uppercase());
                if distinctive && t.len() >= 8 {
                    teams_tokens.push(regex::escape(t));
                    words.push(t.to_ascii_lowercase());
                    alias_entry.push(None);
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
        let mut patterns = vec![
            (re(r"(?i)\bAADSTS(?:%3a|:)?(\d{4,8})"), Kind::Aadsts),
            (re(r"(?i)\b0x([0-9a-f]{8})\b"), Kind::Hex),
            (re(r"(?i)(?:exchange status|hresult)\s*[:=]\s*(?:0x)?([0-9a-f]{8})\b"), Kind::Hex),
            (re(r"\bSIP/2\.0 ([1-6]\d\d) [A-Za-z]"), Kind::Sip),
            (re(r"(?i)\b(?:x-)?ms-(?:client-)?diagnostics(?:-public)?\s*:\s*(\d{1,7})"), Kind::MsDiag),
            (re(r"(?i)\bQ\.?850\s*;\s*cause\s*=\s*(\d{1,3})"), Kind::Q850),
            (
                re(r#"(?i)\b(?:error|error_?code|suberror|code)["']?\s*[=:]\s*["']?([a-z][a-z_]{4,40})\b"#),
                Kind::OauthWord,
            ),
            (re(r#"(?i)\bError="(\d{3})""#), Kind::Http),
            (re(r"(?i)\bHTTP status\s*:?\s*(\d{3})\b"), Kind::Http),
            (re(r"(?i)\bHTTP/[12](?:\.[01])? (\d{3})\b"), Kind::Http),
            (
                re(
                    r#"(?i)(?:microsoft response code|callEndSubReason|final microsoft subcode)["']?\s*[:=]?\s*["']?(\d{1,6})\b"#,
                ),
                Kind::Msrc,
            ),
            (re(r"(?i)\b(caa[0-9a-f]{5})\b"), Kind::CaaBare),
        ];
        if !teams_tokens.is_empty() {
            patterns.push((re(&format!(r"\b({})\b", teams_tokens.join("|"))), Kind::TeamsToken));
        }
        debug_assert_eq!(patterns.len(), 13, "TRIGGERS names the patterns by index");
        Extractor { prefilter, alias_entry, wants, patterns }
    }

    pub(crate) fn extract(&self, kb: &KnowledgeBase, text: &str, out: &mut Vec<Code>) {
        self.extract_with(kb, text, out, false);
    }

    /// `every_pattern` runs all patterns once any trigger is found (the tests compare the two).
    fn extract_with(&self, kb: &KnowledgeBase, text: &str, out: &mut Vec<Code>, every_pattern: bool) {
        let mut wanted = 0u32;
        let mut aliases: Vec<usize> = Vec::new();
        for m in self.prefilter.find_iter(text) {
            wanted |= self.wants[m.pattern().as_usize()];
            if let Some(i) = self.alias_entry[m.pattern().as_usize()] {
                aliases.push(i);
            }
        }
        if wanted == 0 {
            return;
        }
        if every_pattern {
            wanted = ALL_PATTERNS;
        }
        let mut push = |c: Code| {
            if !out.contains(&c) {
                out.push(c);
            }
        };
        for (n, (re, kind)) in self.patterns.iter().enumerate() {
            if wanted & (1 << n) == 0 {
                continue;
            }
            for caps in re.captures_iter(text) {
                let g = &caps[1];
                // Eight hex digits inside a GUID (`caaaaf3a-…`) are not a code.
                if matches!(kind, Kind::Hex | Kind::CaaBare) {
                    let m = caps.get(1).map_or(0..0, |m| m.range());
                    let before = text[..m.start].bytes().next_back();
                    let after = text[m.end..].bytes().next();
                    if before == Some(b'-') || after == Some(b'-') {
                        continue;
                    }
                }
                let code = match kind {
                    Kind::Aadsts => g.parse().ok().map(Code::Aadsts),
                    Kind::Hex | Kind::CaaBare => {
                        let v = u32::from_str_radix(g, 16).ok();
                        // Small or positive values are flags and addresses, not error codes.
                        v.filter(|v| *v >= 0x8000_0000 || kb.get(&Code::Hresult(*v)).is_some()).map(Code::Hresult)
                    }
                    Kind::Sip => g.parse().ok().map(Code::Sip),
                    Kind::MsDiag => g.parse().ok().map(Code::MsDiag),
                    Kind::Q850 => g.parse().ok().map(Code::Q850),
                    Kind::OauthWord => {
                        let c = Code::Oauth(g.to_ascii_lowercase().into());
                        kb.get(&c).is_some().then_some(c)
                    }
                    Kind::Http => g.parse().ok().filter(|n| (100..600).contains(n)).map(Code::Http),
                    Kind::Msrc => g.parse().ok().filter(|n| *n != 0).map(Code::Msrc),
                    Kind::TeamsToken => kb.get(&Code::Teams(g.into())).map(|e| e.code.clone()),
                };
                if let Some(c) = code {
                    push(c);
                }
            }
        }
        for i in aliases {
            push(kb.entries[i].code.clone());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
            "nothing to see here",
        ];
        for line in lines {
            let (mut fast, mut full) = (Vec::new(), Vec::new());
            ex.extract_with(kb, line, &mut fast, false);
            ex.extract_with(kb, line, &mut full, true);
            assert_eq!(fast, full, "{line}");
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
            proptest::prop_assert_eq!(fast, full, "{}", line);
        }
    }
}
