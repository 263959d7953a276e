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

/// Evidence kept per finding; the rest is counted.
pub const EVIDENCE_KEPT: usize = 25;

/// A pointer to one piece of evidence behind a finding.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EvidenceRef {
    pub path: String,
    pub location: String,
    #[serde(with = "serde_rfc3339_opt")]
    pub time: Option<Timestamp>,
    pub excerpt: String,
    /// The kind and source, so that a reader of the report knows what the line is.
    pub kind: String,
    pub source: String,
}

impl EvidenceRef {
    pub fn of(e: &Evidence) -> Self {
        EvidenceRef {
            path: e.path.clone(),
            location: e.location.clone(),
            time: e.time,
            excerpt: e.excerpt.clone(),
            kind: e.kind.clone(),
            source: e.source.clone(),
        }
    }
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
        let room = EVIDENCE_KEPT.saturating_sub(self.evidence.len()).max(3);
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
