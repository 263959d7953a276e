//! What a scan looked at, so that a healthy verdict says what it rests on.
//!
//! The collector tallies, besides the rules' matches, the SIP OPTIONS exchanged between an SBC
//! and the Teams Direct Routing SIP proxies (whose host names are listed in
//! `data/checked/sip_proxies.toml`). [`crate::diagnose`] turns the tally into the lines of
//! [`crate::Diagnosis::checked`].

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::sync::OnceLock;

use serde::Deserialize;
use uctriage_evidence::Evidence;

const PROXIES_TOML: &str = include_str!("../data/checked/sip_proxies.toml");

/// The list of Teams SIP proxy host suffixes, with the hosts that must and must not match.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SipProxies {
    pub suffixes: Vec<String>,
    #[serde(default)]
    pub samples: Vec<String>,
    #[serde(default)]
    pub counter_samples: Vec<String>,
}

impl SipProxies {
    /// The built-in list (`data/checked/sip_proxies.toml`).
    ///
    /// # Panics
    /// When the built-in file does not parse (the rules tests catch this).
    pub fn builtin() -> &'static SipProxies {
        static LIST: OnceLock<SipProxies> = OnceLock::new();
        LIST.get_or_init(|| match toml::from_str(PROXIES_TOML) {
            Ok(l) => l,
            Err(e) => panic!("data/checked/sip_proxies.toml is invalid: {e}"),
        })
    }

    /// Whether `host` is a Teams SIP proxy: equal to a suffix or ending in `.` and a suffix.
    pub fn is_proxy(&self, host: &str) -> bool {
        let h = host.trim_end_matches('.').to_ascii_lowercase();
        self.suffixes.iter().any(|s| {
            h == *s || (h.len() > s.len() && h.ends_with(s.as_str()) && h.as_bytes()[h.len() - s.len() - 1] == b'.')
        })
    }
}

/// The host of a SIP URI inside a header value or request URI (`<sip:user@host:5061;…>;tag=…`).
pub(crate) fn uri_host(value: &str) -> Option<String> {
    let lower = value.to_ascii_lowercase();
    let start = lower.find("sips:").map(|i| i + 5).or_else(|| lower.find("sip:").map(|i| i + 4))?;
    let rest = &lower[start..];
    let end = rest.find(|c: char| matches!(c, ';' | '>' | '?' | ',') || c.is_whitespace()).unwrap_or(rest.len());
    let addr = &rest[..end];
    let host_port = addr.rsplit_once('@').map_or(addr, |(_, h)| h);
    let host = host_port.split(':').next().unwrap_or("");
    (!host.is_empty()).then(|| host.to_owned())
}

/// SIP OPTIONS seen between SBCs and the Teams SIP proxies.
#[derive(Debug, Default, Clone)]
pub(crate) struct Seen {
    /// OPTIONS requests whose target or sender is a proxy.
    options: u64,
    /// Final answers to OPTIONS from or to a proxy: (status, reason phrase) → proxy hosts → count.
    answers: BTreeMap<(u16, String), BTreeMap<String, u64>>,
    /// SBC names the OPTIONS carried.
    sbcs: BTreeSet<String>,
}

fn field<'a>(e: &'a Evidence, name: &str) -> Option<&'a str> {
    e.fields.get(name).and_then(serde_json::Value::as_str)
}

impl Seen {
    pub(crate) fn record(&mut self, e: &Evidence) {
        if e.kind != "sip" {
            return;
        }
        let proxies = SipProxies::builtin();
        let is_options = field(e, "method").is_some_and(|m| m.eq_ignore_ascii_case("OPTIONS"));
        let answers_options = field(e, "cseq_method").is_some_and(|m| m.eq_ignore_ascii_case("OPTIONS"));
        let status = e.fields.get("status").and_then(serde_json::Value::as_u64);
        let proxy = ["request_uri", "to", "from"]
            .iter()
            .filter_map(|f| field(e, f).and_then(uri_host))
            .find(|h| proxies.is_proxy(h));
        let Some(proxy) = proxy else { return };
        if let Some(sbc) = field(e, "sbc_fqdn").filter(|s| !s.is_empty()) {
            self.sbcs.insert(sbc.to_ascii_lowercase());
        }
        if is_options && status.is_none() {
            self.options += 1;
        } else if answers_options {
            if let Some(code) = status.and_then(|s| u16::try_from(s).ok()).filter(|s| *s >= 200) {
                let phrase = field(e, "reason_phrase").unwrap_or("").to_owned();
                *self.answers.entry((code, phrase)).or_default().entry(proxy).or_default() += 1;
            }
        }
    }

    pub(crate) fn merge(&mut self, other: Seen) {
        self.options += other.options;
        for (k, hosts) in other.answers {
            let mine = self.answers.entry(k).or_default();
            for (h, n) in hosts {
                *mine.entry(h).or_default() += n;
            }
        }
        self.sbcs.extend(other.sbcs);
    }

    /// One line on the OPTIONS, or `None` when none was seen:
    /// "12 SIP OPTIONS from sbc1.contoso.com to the Teams SIP proxies, all answered 200 OK by
    /// sip.pstnhub.microsoft.com".
    pub(crate) fn options_line(&self) -> Option<String> {
        let answered: u64 = self.answers.values().flat_map(BTreeMap::values).sum();
        if self.options == 0 && answered == 0 {
            return None;
        }
        let from = match self.sbcs.len() {
            0 => String::new(),
            1..=3 => format!(" from {}", self.sbcs.iter().cloned().collect::<Vec<_>>().join(", ")),
            n => format!(" from {n} SBCs"),
        };
        let describe = |(code, phrase): &(u16, String), hosts: &BTreeMap<String, u64>| {
            let status = if phrase.is_empty() { code.to_string() } else { format!("{code} {phrase}") };
            let by: Vec<&str> = hosts.keys().map(String::as_str).collect();
            (status, by.join(", "), hosts.values().sum::<u64>())
        };
        let all_ok = self.answers.keys().all(|(c, _)| *c == 200);
        let line = if self.options == 0 {
            let parts: Vec<String> = self
                .answers
                .iter()
                .map(|(k, h)| {
                    let (status, by, n) = describe(k, h);
                    format!("{n} {status} by {by}")
                })
                .collect();
            format!("answers to SIP OPTIONS{from} from the Teams SIP proxies: {}", parts.join("; "))
        } else if all_ok && answered == self.options {
            let (status, by, _) = self.answers.iter().next().map(|(k, h)| describe(k, h)).unwrap_or_default();
            format!("{} SIP OPTIONS{from} to the Teams SIP proxies, all answered {status} by {by}", self.options)
        } else {
            let parts: Vec<String> = self
                .answers
                .iter()
                .map(|(k, h)| {
                    let (status, by, n) = describe(k, h);
                    format!("{n} answered {status} by {by}")
                })
                .collect();
            let unanswered = self.options.saturating_sub(answered);
            let mut line = format!("{} SIP OPTIONS{from} to the Teams SIP proxies", self.options);
            if !parts.is_empty() {
                line.push_str(": ");
                line.push_str(&parts.join(", "));
            }
            if unanswered > 0 {
                let _ = write!(line, "; {unanswered} without an answer in the inputs");
            }
            line
        };
        Some(line)
    }
}
