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

/// SIP OPTIONS of one direction between SBCs and the Teams SIP proxies.
#[derive(Debug, Default, Clone)]
struct Pings {
    /// OPTIONS requests.
    options: u64,
    /// Final answers: (status, reason phrase) → proxy host → count.
    answers: BTreeMap<(u16, String), BTreeMap<String, u64>>,
    /// Proxy hosts the requests went to or came from.
    proxies: BTreeSet<String>,
    /// SBC names the messages carried.
    sbcs: BTreeSet<String>,
}

/// SIP OPTIONS seen between SBCs and the Teams SIP proxies: those the SBC sent to the proxies
/// (answered by a proxy) and those the proxies sent to the SBC (answered by the SBC).
#[derive(Debug, Default, Clone)]
pub(crate) struct Seen {
    to_proxies: Pings,
    from_proxies: Pings,
}

fn field<'a>(e: &'a Evidence, name: &str) -> Option<&'a str> {
    e.fields.get(name).and_then(serde_json::Value::as_str)
}

impl Seen {
    pub(crate) fn record(&mut self, e: &Evidence) {
        if e.kind != "sip" {
            return;
        }
        let is_options = field(e, "method").is_some_and(|m| m.eq_ignore_ascii_case("OPTIONS"));
        let answers_options = field(e, "cseq_method").is_some_and(|m| m.eq_ignore_ascii_case("OPTIONS"));
        if !is_options && !answers_options {
            return;
        }
        let proxies = SipProxies::builtin();
        let proxy_in =
            |names: &[&str]| names.iter().filter_map(|f| field(e, f).and_then(uri_host)).find(|h| proxies.is_proxy(h));
        // The request's target (request URI, To) names who answers; From names who asked.
        let (pings, proxy) = match (proxy_in(&["request_uri", "to"]), proxy_in(&["from"])) {
            (Some(p), _) => (&mut self.to_proxies, p),
            (None, Some(p)) => (&mut self.from_proxies, p),
            (None, None) => return,
        };
        if let Some(sbc) = field(e, "sbc_fqdn").filter(|s| !s.is_empty()) {
            pings.sbcs.insert(sbc.to_ascii_lowercase());
        }
        let status = e.fields.get("status").and_then(serde_json::Value::as_u64);
        if is_options && status.is_none() {
            pings.options += 1;
            pings.proxies.insert(proxy);
        } else if let Some(code) = status.and_then(|s| u16::try_from(s).ok()).filter(|s| *s >= 200) {
            let phrase = field(e, "reason_phrase").unwrap_or("").to_owned();
            *pings.answers.entry((code, phrase)).or_default().entry(proxy.clone()).or_default() += 1;
            pings.proxies.insert(proxy);
        }
    }

    pub(crate) fn merge(&mut self, other: Seen) {
        self.to_proxies.merge(other.to_proxies);
        self.from_proxies.merge(other.from_proxies);
    }

    /// A line per direction in which OPTIONS were seen: "12 SIP OPTIONS from sbc1.contoso.com to
    /// the Teams SIP proxies, all answered 200 OK by sip.pstnhub.microsoft.com".
    pub(crate) fn options_lines(&self) -> Vec<String> {
        let mut out = Vec::new();
        out.extend(self.to_proxies.line(true));
        out.extend(self.from_proxies.line(false));
        out
    }
}

fn names(set: &BTreeSet<String>, many: &str) -> String {
    if set.len() <= 3 {
        set.iter().cloned().collect::<Vec<_>>().join(", ")
    } else {
        format!("{} {many}", set.len())
    }
}

impl Pings {
    fn merge(&mut self, other: Pings) {
        self.options += other.options;
        for (k, hosts) in other.answers {
            let mine = self.answers.entry(k).or_default();
            for (h, n) in hosts {
                *mine.entry(h).or_default() += n;
            }
        }
        self.proxies.extend(other.proxies);
        self.sbcs.extend(other.sbcs);
    }

    /// The line of one direction, or `None` when nothing was seen. `to_proxies`: the SBC asked
    /// and the proxies answered; otherwise the proxies asked and the SBC answered.
    fn line(&self, to_proxies: bool) -> Option<String> {
        let answered: u64 = self.answers.values().flat_map(BTreeMap::values).sum();
        if self.options == 0 && answered == 0 {
            return None;
        }
        let sbc = if self.sbcs.is_empty() { "the SBC".to_owned() } else { names(&self.sbcs, "SBCs") };
        let proxies = names(&self.proxies, "proxy hosts");
        let status = |(code, phrase): &(u16, String)| {
            if phrase.is_empty() {
                code.to_string()
            } else {
                format!("{code} {phrase}")
            }
        };
        let by = |hosts: &BTreeMap<String, u64>| {
            if to_proxies {
                format!(" by {}", hosts.keys().cloned().collect::<Vec<_>>().join(", "))
            } else {
                String::new()
            }
        };
        let mut line = if to_proxies {
            format!("{} SIP OPTIONS from {sbc} to the Teams SIP proxies", self.options)
        } else {
            format!("{} SIP OPTIONS from the Teams SIP proxies ({proxies}) to {sbc}", self.options)
        };
        let all_ok = self.answers.keys().all(|(c, _)| *c == 200);
        if self.options > 0 && all_ok && answered == self.options {
            if let Some((k, hosts)) = self.answers.iter().next() {
                let _ = write!(line, ", all answered {}{}", status(k), by(hosts));
            }
            return Some(line);
        }
        let parts: Vec<String> = self
            .answers
            .iter()
            .map(|(k, hosts)| format!("{} answered {}{}", hosts.values().sum::<u64>(), status(k), by(hosts)))
            .collect();
        if !parts.is_empty() {
            let _ = write!(line, ": {}", parts.join(", "));
        }
        let unanswered = self.options.saturating_sub(answered);
        if unanswered > 0 {
            let _ = write!(line, "; {unanswered} without an answer in the inputs");
        }
        Some(line)
    }
}
