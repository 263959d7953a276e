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

    /// Whether `host` is a Teams SIP proxy: equal to a suffix or ending in `.` and a suffix, case
    /// aside (compared byte by byte: every SIP OPTIONS asks).
    pub fn is_proxy(&self, host: &str) -> bool {
        let h = host.trim_end_matches('.').as_bytes();
        self.suffixes.iter().any(|s| {
            let s = s.as_bytes();
            // A suffix is compared with the host lower-cased, as the list is written.
            h.len() >= s.len()
                && h[h.len() - s.len()..].iter().zip(s).all(|(a, b)| a.to_ascii_lowercase() == *b)
                && (h.len() == s.len() || h[h.len() - s.len() - 1] == b'.')
        })
    }

    /// [`is_proxy`](Self::is_proxy) on a lower-cased copy, as it was written first.
    #[cfg(test)]
    fn is_proxy_plain(&self, host: &str) -> bool {
        let h = host.trim_end_matches('.').to_ascii_lowercase();
        self.suffixes.iter().any(|s| {
            h == *s || (h.len() > s.len() && h.ends_with(s.as_str()) && h.as_bytes()[h.len() - s.len() - 1] == b'.')
        })
    }
}

/// [`uri_host`] as written in `value` (not lower-cased): a slice, no copy.
fn uri_host_in(value: &str) -> Option<&str> {
    let b = value.as_bytes();
    // Lower-casing changes no byte position, so the search can be made on the text as it is:
    // one pass over the `s`s, noting the first `sips:` and the first `sip:`.
    let (mut sips, mut sip) = (None, None);
    for (i, _) in b.iter().enumerate().filter(|(_, c)| matches!(c, b's' | b'S')) {
        let at = |pat: &[u8]| b.get(i..i + pat.len()).is_some_and(|w| w.eq_ignore_ascii_case(pat));
        if at(b"sips:") {
            sips = Some(i + 5);
            break;
        }
        if sip.is_none() && at(b"sip:") {
            sip = Some(i + 4);
        }
    }
    let start = sips.or(sip)?;
    let rest = &value[start..];
    let end = rest.find(|c: char| matches!(c, ';' | '>' | '?' | ',') || c.is_whitespace()).unwrap_or(rest.len());
    let addr = &rest[..end];
    let host_port = addr.rsplit_once('@').map_or(addr, |(_, h)| h);
    let host = host_port.split(':').next().unwrap_or("");
    (!host.is_empty()).then_some(host)
}

/// Add `name` lower-cased to `set`, copying it only when it is new (`scratch` holds the
/// lower-cased text).
fn insert_lower(set: &mut BTreeSet<String>, name: &str, scratch: &mut String) {
    lower_into(name, scratch);
    if !set.contains(scratch.as_str()) {
        set.insert(scratch.clone());
    }
}

fn lower_into(name: &str, out: &mut String) {
    out.clear();
    out.push_str(name);
    out.make_ascii_lowercase();
}

/// The host of a SIP URI inside a header value or request URI (`<sip:user@host:5061;…>;tag=…`).
#[cfg(test)]
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
#[derive(Debug, Default, Clone, PartialEq)]
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
    /// A lower-cased host or SBC name, its buffer reused.
    scratch: String,
}

fn field<'a>(e: &'a Evidence, name: &str) -> Option<&'a str> {
    e.fields.get(name).and_then(serde_json::Value::as_str)
}

impl Seen {
    /// Tally a record: SIP OPTIONS and their answers, between an SBC and the Teams SIP proxies.
    /// Names are lower-cased into a reused buffer and copied only the first time they are met.
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
        let proxy_in = |names: &[&str]| {
            names.iter().filter_map(|f| field(e, f).and_then(uri_host_in)).find(|h| proxies.is_proxy(h))
        };
        // The request's target (request URI, To) names who answers; From names who asked (read
        // only when the target is not a proxy).
        let (pings, proxy) = match proxy_in(&["request_uri", "to"]) {
            Some(p) => (&mut self.to_proxies, p),
            None => match proxy_in(&["from"]) {
                Some(p) => (&mut self.from_proxies, p),
                None => return,
            },
        };
        let scratch = &mut self.scratch;
        if let Some(sbc) = field(e, "sbc_fqdn").filter(|s| !s.is_empty()) {
            insert_lower(&mut pings.sbcs, sbc, scratch);
        }
        let status = e.fields.get("status").and_then(serde_json::Value::as_u64);
        if is_options && status.is_none() {
            pings.options += 1;
            insert_lower(&mut pings.proxies, proxy, scratch);
        } else if let Some(code) = status.and_then(|s| u16::try_from(s).ok()).filter(|s| *s >= 200) {
            let phrase = field(e, "reason_phrase").unwrap_or("");
            let hosts = match pings.answers.iter_mut().find(|((c, p), _)| *c == code && p == phrase) {
                Some((_, hosts)) => hosts,
                None => pings.answers.entry((code, phrase.to_owned())).or_default(),
            };
            lower_into(proxy, scratch);
            match hosts.get_mut(scratch.as_str()) {
                Some(n) => *n += 1,
                None => {
                    hosts.insert(scratch.clone(), 1);
                }
            }
            insert_lower(&mut pings.proxies, proxy, scratch);
        }
    }

    /// [`record`](Self::record) as it was written first, with copies; the tests compare the two.
    #[cfg(test)]
    fn record_plain(&mut self, e: &Evidence) {
        if e.kind != "sip" {
            return;
        }
        let is_options = field(e, "method").is_some_and(|m| m.eq_ignore_ascii_case("OPTIONS"));
        let answers_options = field(e, "cseq_method").is_some_and(|m| m.eq_ignore_ascii_case("OPTIONS"));
        if !is_options && !answers_options {
            return;
        }
        let proxies = SipProxies::builtin();
        let proxy_in = |names: &[&str]| {
            names.iter().filter_map(|f| field(e, f).and_then(uri_host)).find(|h| proxies.is_proxy_plain(h))
        };
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

#[cfg(test)]
mod tests {
    use super::*;

    /// Texts made of the pieces, every sequence of up to `n` of them (the pieces are those that
    /// steer the host search: schemes in any case, the marks that end a host, non-ASCII letters).
    fn texts(pieces: &[&str], n: usize) -> Vec<String> {
        let mut out = vec![String::new()];
        let mut last = vec![String::new()];
        for _ in 0..n {
            let next: Vec<String> = last.iter().flat_map(|t| pieces.iter().map(move |p| format!("{t}{p}"))).collect();
            out.extend(next.iter().cloned());
            last = next;
        }
        out
    }

    #[test]
    fn hosts_are_found_as_before() {
        let pieces = ["sip:", "SIPS:", "Sip:", "@", ":5061", ";", ">", "<", "?", ",", " ", "\u{a0}", "é", "Ab.Ex", "x"];
        let mut found = 0;
        for v in texts(&pieces, 4) {
            let host = uri_host_in(&v);
            assert_eq!(host.map(str::to_ascii_lowercase), uri_host(&v), "{v:?}");
            found += usize::from(host.is_some());
        }
        assert!(found > 1000, "{found}");
    }

    #[test]
    fn proxies_are_told_as_before() {
        let list = SipProxies::builtin();
        let pieces = ["sip", ".", "PSTNHUB", "pstnhub", ".microsoft.com", ".Microsoft.COM", "x", "é", "gov.teams", "."];
        let mut hosts = texts(&pieces, 4);
        hosts.extend(list.samples.iter().chain(&list.counter_samples).cloned());
        hosts.extend(list.suffixes.iter().map(|s| format!("SIP.{}..", s.to_ascii_uppercase())));
        let mut proxies = 0;
        for h in &hosts {
            assert_eq!(list.is_proxy(h), list.is_proxy_plain(h), "{h:?}");
            proxies += usize::from(list.is_proxy(h));
        }
        assert!(proxies > 20, "{proxies}");
    }

    /// The tally without copies is the tally with them, over OPTIONS both ways, their answers,
    /// and other SIP messages, names written in mixed case.
    #[test]
    fn the_tally_is_the_plain_tally() {
        let uris = [
            None,
            Some("sip:sip.pstnhub.microsoft.com:5061;transport=tls"),
            Some("<sip:+1555@SIP2.PSTNHUB.microsoft.com>;tag=1"),
            Some("sip:sbc1.contoso.com"),
            Some("<sips:x@sip-du-a-eu.pstnhub.microsoft.com.>"),
        ];
        let mut records = Vec::new();
        let mut n = 0u32;
        for kind in ["sip", "log-line"] {
            for method in [None, Some("OPTIONS"), Some("options"), Some("INVITE")] {
                for status in [None, Some(200), Some(200), Some(180), Some(503), Some(70000)] {
                    for (i, to) in uris.iter().enumerate() {
                        let from = uris[(i + 2) % uris.len()];
                        let mut e = Evidence::new("p", "sbc-syslog", "line 1");
                        e.kind = kind.to_owned();
                        if let Some(m) = method {
                            if status.is_none() {
                                e.field("method", m);
                            }
                            e.field("cseq_method", m);
                        }
                        if let Some(s) = status {
                            e.field("status", s);
                            e.field("reason_phrase", if n.is_multiple_of(3) { "OK" } else { "" });
                        }
                        if let Some(t) = to {
                            e.field(if n.is_multiple_of(2) { "request_uri" } else { "to" }, *t);
                        }
                        if let Some(f) = from {
                            e.field("from", f);
                        }
                        e.field("sbc_fqdn", ["", "SBC1.contoso.com", "sbc2.contoso.com"][n as usize % 3]);
                        records.push(e);
                        n += 1;
                    }
                }
            }
        }
        let (mut new, mut plain) = (Seen::default(), Seen::default());
        for e in records.iter().chain(records.iter().rev()) {
            new.record(e);
            plain.record_plain(e);
        }
        assert_eq!(new.to_proxies, plain.to_proxies);
        assert_eq!(new.from_proxies, plain.from_proxies);
        assert!(new.to_proxies.options > 0 && !new.to_proxies.answers.is_empty());
        assert!(new.from_proxies.options > 0 && !new.from_proxies.answers.is_empty());
        assert_eq!(new.options_lines(), plain.options_lines());
    }
}
