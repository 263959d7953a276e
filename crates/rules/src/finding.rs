//! Findings: one root cause each, with its evidence from every source.
//!
//! This module knows nothing of compiled rules: the engine builds findings from what its rules
//! gathered, so the dependency goes from the engine to findings only.

use std::collections::BTreeMap;

use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use uctriage_evidence::time::serde_rfc3339_opt;
use uctriage_evidence::{Code, Evidence};

use crate::rule::Severity;

/// Rows of evidence a finding keeps (in every format that shows them all: JSON, Markdown, HTML).
/// Records that repeat a kept row fold into it (see [`EvidenceRef::count`]); records that neither
/// repeat a row nor find room are counted in the finding's `count` only. A finding that absorbs
/// another (a consequence) also takes up to [`EVIDENCE_FROM_CONSEQUENCE`] rows of it.
pub const EVIDENCE_KEPT: usize = 25;

/// Rows a finding takes from each consequence it absorbs, even when its own rows are full.
pub const EVIDENCE_FROM_CONSEQUENCE: usize = 3;

#[allow(clippy::trivially_copy_pass_by_ref)]
fn is_zero(n: &u64) -> bool {
    *n == 0
}

fn one() -> u64 {
    1
}

#[allow(clippy::trivially_copy_pass_by_ref)]
fn is_one(n: &u64) -> bool {
    *n == 1
}

/// A pointer to one piece of evidence behind a finding: one record, or a run of records that
/// repeat it (same file, kind and codes, and the same excerpt once times, sequence numbers and
/// identifiers are set aside), folded into one row with their count and first and last time.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EvidenceRef {
    pub path: String,
    /// Where the first record of the row is.
    pub location: String,
    /// The earliest time of the row's records.
    #[serde(with = "serde_rfc3339_opt")]
    pub time: Option<Timestamp>,
    pub excerpt: String,
    /// The kind and source, so that a reader of the report knows what the line is.
    pub kind: String,
    pub source: String,
    /// How many records the row stands for (absent in JSON when 1).
    #[serde(default = "one", skip_serializing_if = "is_one")]
    pub count: u64,
    /// The latest time of the row's records, when it stands for more than one.
    #[serde(with = "serde_rfc3339_opt", default, skip_serializing_if = "Option::is_none")]
    pub last_time: Option<Timestamp>,
    /// Why this row is shown, when it is more than one match among others ("the last OPTIONS
    /// before the 40-minute gap").
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub note: String,
}

impl EvidenceRef {
    pub fn of(e: &Evidence) -> Self {
        EvidenceRef {
            path: e.path.clone(),
            location: e.location.clone(),
            time: e.time,
            excerpt: heartbeat_signals(e).unwrap_or_else(|| e.excerpt.clone()),
            kind: e.kind.clone(),
            source: e.source.clone(),
            count: 1,
            last_time: None,
            note: String::new(),
        }
    }

    /// Make this row the record `e`, reusing its buffers (for a row rewritten at every record).
    pub(crate) fn refill(&mut self, e: &Evidence) {
        if e.kind == "heartbeat" {
            *self = EvidenceRef::of(e);
            return;
        }
        self.path.clone_from(&e.path);
        self.location.clone_from(&e.location);
        self.time = e.time;
        self.excerpt.clone_from(&e.excerpt);
        self.kind.clone_from(&e.kind);
        self.source.clone_from(&e.source);
        self.count = 1;
        self.last_time = None;
        self.note.clear();
    }

    /// Take in a repeat of this row's record (or another row of repeats).
    pub(crate) fn fold(&mut self, count: u64, first: Option<Timestamp>, last: Option<Timestamp>) {
        let was = self.last_time.or(self.time);
        self.count += count;
        self.time = match (self.time, first) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        self.last_time = match (was, last.or(first)) {
            (Some(a), Some(b)) => Some(a.max(b)),
            (a, b) => a.or(b),
        };
    }
}

/// The signals a Teams Rooms heartbeat reports, decoded from its payload: "Network: Healthy ·
/// Exchange: 80131500 : AADSTS50076 · Teams: Unhealthy · SfB: NotApplicable · IPv4: 192.0.2.53".
/// `None` for any other record, or a heartbeat that carries none of them.
fn heartbeat_signals(e: &Evidence) -> Option<String> {
    // The four signals, then the device's addresses (which device, when a bundle holds several).
    const SIGNALS: [(&str, &str); 6] = [
        ("network_status", "Network"),
        ("exchange_status", "Exchange"),
        ("teams_signin_status", "Teams"),
        ("signin_status", "SfB"),
        ("ipv4", "IPv4"),
        ("ipv6", "IPv6"),
    ];
    if e.kind != "heartbeat" {
        return None;
    }
    let parts: Vec<String> = SIGNALS
        .iter()
        .filter_map(|(field, label)| e.get_str(field).filter(|v| !v.is_empty()).map(|v| format!("{label}: {v}")))
        .collect();
    (!parts.is_empty()).then(|| parts.join(" · "))
}

/// What makes two records repeats of one evidence row: the file, kind and codes, and the excerpt
/// (the decoded signals of a heartbeat) with the parts that change from one repeat to the next
/// set aside: times of day, dates, and long numbers and identifiers (sequence numbers, Call-IDs,
/// GUIDs, record numbers: a run of 4 or more digits, or of 8 or more hex digits and dashes with a
/// digit among them). Short numbers (status codes, address octets) still tell rows apart.
pub(crate) fn fold_key(e: &Evidence) -> u64 {
    use std::hash::{BuildHasher, Hash, Hasher};
    let mut h = foldhash::fast::FixedState::with_seed(0x75_63_74).build_hasher();
    e.path.hash(&mut h);
    e.kind.hash(&mut h);
    for c in &e.codes {
        c.hash(&mut h);
    }
    match heartbeat_signals(e) {
        Some(signals) => signals.hash(&mut h),
        None => h.write(&mask_changing(&e.excerpt)),
    }
    h.finish()
}

/// `s` with times of day, dates and long numbers or identifiers replaced by `#` (see [`fold_key`]).
pub(crate) fn mask_changing(s: &str) -> Vec<u8> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let hexish = |c: u8| c.is_ascii_hexdigit() || c == b'-';
    let mut i = 0;
    while i < b.len() {
        // A time of day: 1-2 digits, then one or two `:dd`, then an optional fraction.
        if b[i].is_ascii_digit() && (i == 0 || !b[i - 1].is_ascii_alphanumeric() || b[i - 1] == b'T') {
            let mut j = i;
            while j < b.len() && j - i < 2 && b[j].is_ascii_digit() {
                j += 1;
            }
            let mut pairs = 0;
            while pairs < 2
                && b.get(j) == Some(&b':')
                && b.get(j + 1).is_some_and(u8::is_ascii_digit)
                && b.get(j + 2).is_some_and(u8::is_ascii_digit)
                && !b.get(j + 3).is_some_and(u8::is_ascii_digit)
            {
                j += 3;
                pairs += 1;
            }
            if pairs > 0 {
                if matches!(b.get(j), Some(b'.' | b',')) && b.get(j + 1).is_some_and(u8::is_ascii_digit) {
                    j += 1;
                    while j < b.len() && b[j].is_ascii_digit() {
                        j += 1;
                    }
                }
                out.push(b'#');
                i = j;
                continue;
            }
        }
        if !hexish(b[i]) {
            out.push(b[i]);
            i += 1;
            continue;
        }
        let start = i;
        while i < b.len() && hexish(b[i]) {
            i += 1;
        }
        let run = &b[start..i];
        if run.len() >= 8 && run.iter().any(u8::is_ascii_digit) {
            out.push(b'#');
            continue;
        }
        // Inside a shorter run, only digit runs of 4 or more are set aside.
        let mut k = 0;
        while k < run.len() {
            if run[k].is_ascii_digit() {
                let d = k;
                while k < run.len() && run[k].is_ascii_digit() {
                    k += 1;
                }
                if k - d >= 4 {
                    out.push(b'#');
                } else {
                    out.extend_from_slice(&run[d..k]);
                }
            } else {
                out.push(run[k]);
                k += 1;
            }
        }
    }
    out
}

/// A root cause, as the contract's `findings` entries.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Finding {
    pub rule: String,
    pub severity: Severity,
    pub title: String,
    pub codes: Vec<Code>,
    pub family: String,
    pub layer: String,
    pub cause: String,
    pub fix: Vec<String>,
    pub references: Vec<String>,
    #[serde(with = "serde_rfc3339_opt")]
    pub first_seen: Option<Timestamp>,
    #[serde(with = "serde_rfc3339_opt")]
    pub last_seen: Option<Timestamp>,
    pub count: u64,
    pub evidence: Vec<EvidenceRef>,
    /// Records counted in `count` that no evidence row holds: they came after the finding's
    /// [`EVIDENCE_KEPT`] rows were taken and repeated none of them. Absent in JSON when 0.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub evidence_omitted: u64,
    /// The group the finding is about (a room, a user, an SBC), when the rule groups.
    #[serde(skip_serializing_if = "String::is_empty", default)]
    pub group: String,
    /// Rules whose findings were folded into this one as consequences.
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub consequences: Vec<String>,
    /// Ranking score (priority plus corroboration); higher is more likely the root cause.
    pub score: i64,
}

/// The counted phrases rule texts put after `{count}`, in the plural.
const PLURALS: [&str; 7] =
    [" times", " calls", " call legs", " gateway calls", " inbound calls", " heartbeats", " sign-ins"];

/// After a value of 1: write the phrase that follows in the singular (`1 time`, not `1 times`)
/// and return what is left of the template.
fn singular_after_one<'a>(rest: &'a str, out: &mut String) -> &'a str {
    for p in PLURALS {
        if let Some(after) = rest.strip_prefix(p) {
            if !after.starts_with(|c: char| c.is_alphanumeric()) {
                out.push_str(&p[..p.len() - 1]);
                return after;
            }
        }
    }
    rest
}

/// Replace `{name}` with the value of that field (or `count`, `group`, `first_seen`, `last_seen`).
///
/// A value the records did not carry reads `(unknown)`, except in an optional placeholder
/// `{name?}`: that one is left out with the space before it, and with the parentheses around it
/// when it stood alone in them ("The SBC {sbc_fqdn?} answered" → "The SBC answered").
pub(crate) fn fill(template: &str, vars: &BTreeMap<String, String>) -> String {
    let mut out = String::with_capacity(template.len());
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        match after.find('}') {
            Some(close)
                if after[..close]
                    .trim_end_matches('?')
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.') =>
            {
                let optional = after[..close].ends_with('?');
                let name = after[..close].trim_end_matches('?');
                rest = &after[close + 1..];
                match vars.get(name).filter(|v| !v.is_empty()) {
                    Some(v) => out.push_str(v),
                    None if optional => {
                        if out.ends_with('(') && rest.starts_with(')') {
                            out.pop();
                            rest = &rest[1..];
                        }
                        while out.ends_with(' ') {
                            out.pop();
                        }
                        let joins = rest.starts_with(|c: char| c == ' ' || c.is_ascii_punctuation());
                        if !joins && !out.is_empty() && !rest.is_empty() {
                            out.push(' ');
                        }
                        if out.is_empty() {
                            rest = rest.trim_start();
                        }
                    }
                    None => out.push_str("(unknown)"),
                }
                if vars.get(name).is_some_and(|v| v == "1") {
                    rest = singular_after_one(rest, &mut out);
                }
            }
            _ => {
                out.push('{');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

impl Finding {
    /// A finding for a known code that no rule covers: the knowledge base supplies the text.
    pub(crate) fn from_kb(
        entry: &uctriage_kb::Entry,
        count: u64,
        first: Option<Timestamp>,
        last: Option<Timestamp>,
        evidence: Vec<EvidenceRef>,
    ) -> Finding {
        let mut cause = entry.meaning.clone();
        if let Some(c) = entry.causes.first() {
            cause.push_str(" Most likely: ");
            cause.push_str(c.trim_end_matches('.'));
            cause.push('.');
        }
        let mut fix: Vec<String> = entry.first_checks.iter().map(|c| format!("Check: {c}")).collect();
        fix.extend(entry.fixes.iter().cloned());
        Finding {
            rule: format!(
                "kb.{}",
                serde_json::to_value(entry.code.kind())
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_owned))
                    .unwrap_or_default()
            ),
            severity: Severity::Error,
            title: format!("{}: {}", entry.code, entry.title),
            codes: vec![entry.code.clone()],
            family: entry.family.clone(),
            layer: entry.layer.as_str().to_owned(),
            cause,
            fix,
            references: entry.references.clone(),
            first_seen: first,
            last_seen: last,
            count,
            evidence_omitted: count.saturating_sub(evidence.iter().map(|e| e.count).sum()),
            evidence,
            group: String::new(),
            consequences: Vec::new(),
            score: 20,
        }
    }

    /// Fold a consequence into this finding.
    pub(crate) fn absorb(&mut self, other: Finding) {
        // `count` stays the number of records behind the cause itself: consequences often are the
        // very same records (a heartbeat carrying the code), so adding would count them twice.
        self.first_seen = match (self.first_seen, other.first_seen) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        self.last_seen = match (self.last_seen, other.last_seen) {
            (Some(a), Some(b)) => Some(a.max(b)),
            (a, b) => a.or(b),
        };
        let room = EVIDENCE_KEPT.saturating_sub(self.evidence.len()).max(EVIDENCE_FROM_CONSEQUENCE);
        let fresh: Vec<EvidenceRef> = other
            .evidence
            .into_iter()
            .filter(|e| !self.evidence.iter().any(|x| x.path == e.path && x.location == e.location))
            .take(room)
            .collect();
        self.evidence.extend(fresh);
        // The consequence's codes are part of the story (a 401 under its certificate cause).
        for c in other.codes {
            if !self.codes.contains(&c) {
                self.codes.push(c);
            }
        }
        self.consequences.push(other.rule);
        self.consequences.extend(other.consequences);
        // Corroboration from another source makes this cause more likely.
        self.score += 5;
    }
}

#[cfg(test)]
mod fold_tests {
    use super::mask_changing;

    fn m(s: &str) -> String {
        String::from_utf8(mask_changing(s)).unwrap()
    }

    #[test]
    fn what_changes_between_repeats_is_set_aside() {
        assert_eq!(
            m("OPTIONS sip:a.example:5061 | Call-ID: opt0000001000@192.0.2.11 | CSeq: 1000 OPTIONS"),
            m("OPTIONS sip:a.example:5061 | Call-ID: opt0000001001@192.0.2.11 | CSeq: 1001 OPTIONS")
        );
        assert_eq!(m("Jul 15 08:10:00.123 sbc: x"), "Jul 15 # sbc: x");
        assert_eq!(m("2025-07-15T08:10:00Z id 550e8400-e29b-41d4-a716-446655440000"), "#T#Z id #");
        assert_eq!(m("record 12345"), "record #");
        // What tells rows apart stays.
        assert_ne!(m("SIP/2.0 503 from 192.0.2.11"), m("SIP/2.0 480 from 192.0.2.11"));
        assert_ne!(m("from 192.0.2.11"), m("from 192.0.2.12"));
        assert_eq!(m("Network: Healthy · Teams: Unhealthy"), "Network: Healthy · Teams: Unhealthy");
        // Bad input does not panic.
        for s in ["", "1", "1:", "12:3", "12:34:", "-", "ffffffff", "9:99:99.", "\u{0}:00"] {
            let _ = m(s);
        }
    }
}

#[cfg(test)]
mod fill_tests {
    use std::collections::BTreeMap;

    use super::fill;

    #[test]
    fn a_count_of_one_takes_the_singular() {
        let vars = |n: &str| BTreeMap::from([("count".to_owned(), n.to_owned())]);
        let t = "seen {count} times; {count} gateway calls failed, {count} timeshare";
        assert_eq!(fill(t, &vars("1")), "seen 1 time; 1 gateway call failed, 1 timeshare");
        assert_eq!(fill(t, &vars("2")), "seen 2 times; 2 gateway calls failed, 2 timeshare");
        assert_eq!(fill("{count} sign-ins.", &vars("1")), "1 sign-in.");
    }

    #[test]
    fn an_optional_placeholder_without_a_value_is_left_out() {
        let none = BTreeMap::new();
        let sbc = BTreeMap::from([("sbc_fqdn".to_owned(), "sbc1.contoso.com".to_owned())]);
        for (t, with, without) in [
            ("The SBC {sbc_fqdn?} answered 503", "The SBC sbc1.contoso.com answered 503", "The SBC answered 503"),
            ("The SBC {sbc_fqdn?}'s certificate", "The SBC sbc1.contoso.com's certificate", "The SBC's certificate"),
            ("Teams connects to ({sbc_fqdn?})", "Teams connects to (sbc1.contoso.com)", "Teams connects to"),
            ("({sbc_fqdn?}) is down", "(sbc1.contoso.com) is down", "is down"),
            ("The SBC {sbc_fqdn?}", "The SBC sbc1.contoso.com", "The SBC"),
        ] {
            assert_eq!(fill(t, &sbc), with);
            assert_eq!(fill(t, &none), without);
        }
        assert_eq!(fill("The SBC {sbc_fqdn}", &none), "The SBC (unknown)");
    }
}
