//! `--redact`: personal data out of every string of a report, consistently.
//!
//! User names and e-mail addresses, IP addresses, tokens and secrets, GUIDs (tenant, device,
//! correlation and request IDs) and phone numbers become placeholders such as `<user-1>`; the same
//! value always gets the same placeholder, in every format of the same run.
//!
//! Each part of a report says what of it is redacted, in its [`Redact`] implementation below; the
//! implementations take their struct apart field by field, so a field added to a struct does not
//! compile until it is redacted or named as kept. Kept are only the project's own words and
//! numbers: rule ids, families, layers, reference links (the token pattern would eat their
//! paths), codes, versions, severities, times and counts. Everything else — paths, texts,
//! excerpts, groups, rooms, statuses, and the names readers give — is redacted, also when a
//! report was read back from JSON.

use std::collections::{BTreeMap, HashMap};
use std::sync::OnceLock;

use regex::{Captures, Regex};
use uctriage_rules::timeline::{Change, Span, Turn};
use uctriage_rules::{EvidenceRef, Finding, RoomTimeline};

use crate::{InputEntry, ScanReport};

/// Replaces personal data with stable placeholders.
#[derive(Debug, Default)]
pub struct Redactor {
    seen: HashMap<String, String>,
    counts: HashMap<&'static str, usize>,
}

struct Pattern {
    re: Regex,
    label: &'static str,
    /// Capture group holding the value (the rest of the match is kept).
    group: usize,
}

fn patterns() -> &'static [Pattern] {
    static P: OnceLock<Vec<Pattern>> = OnceLock::new();
    P.get_or_init(|| {
        let p = |re: &str, label, group| Pattern { re: Regex::new(re).expect("redaction patterns are fixed"), label, group };
        vec![
            // Tokens first: a JWT contains dots and could look like other things.
            p(r"\beyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]*", "token", 0),
            p(r"(?i)\b(?:bearer|basic|negotiate|ntlm)\s+([A-Za-z0-9+/=._-]{8,})", "token", 1),
            p(r#"(?i)\b(?:password|passwd|pwd|secret|client_secret|sig|token|access_token|refresh_token|id_token|code|assertion|sas)=([^&\s"'<>]+)"#, "secret", 1),
            p(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}", "user", 0),
            p(r"\b[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\b", "id", 0),
            p(r"\b(?:(?:25[0-5]|2[0-4]\d|1?\d?\d)\.){3}(?:25[0-5]|2[0-4]\d|1?\d?\d)\b", "ip", 0),
            p(r"(?i)(?:\b(?:[0-9a-f]{1,4}:){4,7}[0-9a-f]{1,4}\b|\b(?:[0-9a-f]{1,4}:){1,6}:(?:[0-9a-f]{1,4}\b)?|::(?:[0-9a-f]{1,4}:){0,5}[0-9a-f]{1,4}\b)", "ip", 0),
            p(r"(?:\btel:)?\+\d{7,15}\b", "phone", 0),
            p(r"\b[A-Za-z0-9+/_-]{40,}={0,2}", "token", 0),
            // Windows user profile folders name the user.
            p(r"(?i)\\Users\\([^\\/\s]+)", "user", 1),
        ]
    })
}

impl Redactor {
    pub fn new() -> Self {
        Redactor::default()
    }

    fn placeholder(&mut self, label: &'static str, value: &str) -> String {
        if let Some(p) = self.seen.get(value) {
            return p.clone();
        }
        let n = self.counts.entry(label).or_default();
        *n += 1;
        let p = format!("<{label}-{n}>");
        self.seen.insert(value.to_owned(), p.clone());
        p
    }

    /// The text with every personal value replaced.
    pub fn text(&mut self, s: &str) -> String {
        let mut out = s.to_owned();
        for pat in patterns() {
            if !pat.re.is_match(&out) {
                continue;
            }
            let replaced = pat
                .re
                .replace_all(&out, |c: &Captures<'_>| {
                    let whole = c.get(0).map_or("", |m| m.as_str());
                    let Some(v) = c.get(pat.group) else { return whole.to_owned() };
                    // Placeholders themselves are never redacted again.
                    if v.as_str().starts_with('<') {
                        return whole.to_owned();
                    }
                    let ph = self.placeholder(pat.label, v.as_str());
                    let start = v.start() - c.get(0).map_or(0, |m| m.start());
                    format!("{}{}{}", &whole[..start], ph, &whole[start + v.len()..])
                })
                .into_owned();
            out = replaced;
        }
        out
    }

    /// Redact a string in place.
    pub fn apply(&mut self, s: &mut String) {
        let r = self.text(s);
        *s = r;
    }
}

/// Something that can have personal data replaced in place.
pub trait Redact {
    fn redact(&mut self, r: &mut Redactor);
}

impl Redact for String {
    fn redact(&mut self, r: &mut Redactor) {
        r.apply(self);
    }
}

impl<T: Redact> Redact for Vec<T> {
    fn redact(&mut self, r: &mut Redactor) {
        for x in self {
            x.redact(r);
        }
    }
}

impl<T: Redact> Redact for Option<T> {
    fn redact(&mut self, r: &mut Redactor) {
        if let Some(x) = self {
            x.redact(r);
        }
    }
}

/// Keys and values; keys that become equal have their lists joined.
impl<T: Redact> Redact for BTreeMap<String, Vec<T>> {
    fn redact(&mut self, r: &mut Redactor) {
        for (mut key, mut values) in std::mem::take(self) {
            key.redact(r);
            values.redact(r);
            self.entry(key).or_default().append(&mut values);
        }
    }
}

impl Redact for ScanReport {
    fn redact(&mut self, r: &mut Redactor) {
        // The schema, the tool's version, the verdict and the counts are ours.
        let ScanReport {
            schema_version: _,
            tool_version: _,
            verdict: _,
            inputs,
            findings,
            stats: _,
            timeline,
            notes,
            warnings,
        } = self;
        inputs.redact(r);
        findings.redact(r);
        timeline.redact(r);
        notes.redact(r);
        warnings.redact(r);
    }
}

impl Redact for InputEntry {
    fn redact(&mut self, r: &mut Redactor) {
        let InputEntry { path, format, records: _, warnings } = self;
        path.redact(r);
        warnings.redact(r);
        format.redact(r);
    }
}

impl Redact for Finding {
    fn redact(&mut self, r: &mut Redactor) {
        // Kept: the rule's id, family, layer and links, the rules it absorbed, the codes, and the
        // severity, times, counts and score. The texts are filled from the records: redacted.
        let Finding {
            rule: _,
            severity: _,
            title,
            codes: _,
            family: _,
            layer: _,
            cause,
            fix,
            references: _,
            first_seen: _,
            last_seen: _,
            count: _,
            evidence,
            group,
            consequences: _,
            score: _,
        } = self;
        title.redact(r);
        cause.redact(r);
        group.redact(r);
        fix.redact(r);
        evidence.redact(r);
    }
}

impl Redact for EvidenceRef {
    fn redact(&mut self, r: &mut Redactor) {
        let EvidenceRef { path, location, time: _, excerpt, kind, source } = self;
        path.redact(r);
        location.redact(r);
        excerpt.redact(r);
        source.redact(r);
        kind.redact(r);
    }
}

impl Redact for RoomTimeline {
    fn redact(&mut self, r: &mut Redactor) {
        let RoomTimeline { room, signals, changes, turned_unhealthy } = self;
        room.redact(r);
        changes.redact(r);
        turned_unhealthy.redact(r);
        signals.redact(r);
    }
}

impl Redact for Change {
    fn redact(&mut self, r: &mut Redactor) {
        let Change { time: _, what, from, to } = self;
        from.redact(r);
        to.redact(r);
        what.redact(r);
    }
}

impl Redact for Turn {
    fn redact(&mut self, r: &mut Redactor) {
        let Turn { time: _, signal, status, changed } = self;
        status.redact(r);
        changed.redact(r);
        signal.redact(r);
    }
}

impl Redact for Span {
    fn redact(&mut self, r: &mut Redactor) {
        let Span { from: _, to: _, state, status } = self;
        status.redact(r);
        state.redact(r);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_value_same_placeholder_and_codes_survive() {
        let mut r = Redactor::new();
        let a = r.text("room01@contoso.com failed from 192.0.2.53 with AADSTS50076 and 0xCAA2000C at 08:30:11");
        assert_eq!(a, "<user-1> failed from <ip-1> with AADSTS50076 and 0xCAA2000C at 08:30:11");
        let b = r.text("again room01@contoso.com, correlation 6f2d6c1e-3a4b-4c5d-8e9f-0a1b2c3d4e5f");
        assert_eq!(b, "again <user-1>, correlation <id-1>");
        let c = r.text("Authorization: Bearer abcdefghijklmnop.qrs and https://x/cb?code=SECRETVALUE&state=1 +14255550100 fe80::1c2:3ff:fe4:5");
        assert!(
            !c.contains("abcdefghijklmnop")
                && !c.contains("SECRETVALUE")
                && !c.contains("14255550100")
                && !c.contains("fe80"),
            "{c}"
        );
        assert!(r.text(r"C:\Users\jdoe\AppData").contains("<user-2>"));
        assert_eq!(r.text("SIP/2.0 403 Forbidden 2025-07-15T08:30:11Z"), "SIP/2.0 403 Forbidden 2025-07-15T08:30:11Z");
    }

    /// Personal data of a different kind each time, every value new, remembered for the check.
    struct Plant(Vec<String>);

    impl Plant {
        fn pii(&mut self, label: &str) -> String {
            let n = self.0.len() + 10;
            let value = match n % 5 {
                0 => format!("user{n}@contoso.com"),
                1 => format!("198.51.100.{n}"),
                2 => format!("6f2d6c1e-3a4b-4c5d-8e9f-0a1b2c3d4e{n:02}"),
                3 => format!("+1425555{n:04}"),
                _ => format!(r"C:\Users\person{n}\AppData"),
            };
            self.0.push(value.clone());
            format!("{label} {value}")
        }
    }

    fn time() -> jiff::Timestamp {
        "2025-07-15T08:30:11Z".parse().unwrap()
    }

    /// A report with personal data in every string field of every part of it, except the
    /// project's own words (rule ids, families, layers, links, version), which hold those.
    fn planted() -> (ScanReport, Plant) {
        let mut p = Plant(Vec::new());
        let change = |p: &mut Plant| Change { time: time(), what: p.pii("what"), from: p.pii("from"), to: p.pii("to") };
        let evidence = EvidenceRef {
            path: p.pii("path"),
            location: p.pii("location"),
            time: Some(time()),
            excerpt: p.pii("excerpt"),
            kind: p.pii("kind"),
            source: p.pii("source"),
        };
        let finding = Finding {
            rule: "rooms.resource-account.mfa-required".into(),
            severity: uctriage_rules::Severity::Critical,
            title: p.pii("title"),
            codes: vec!["AADSTS50076".parse().unwrap()],
            family: "rooms-resource-account".into(),
            layer: "policy".into(),
            cause: p.pii("cause"),
            fix: vec![p.pii("fix"), p.pii("fix")],
            references: vec!["https://learn.microsoft.com/microsoftteams/rooms/".into()],
            first_seen: Some(time()),
            last_seen: None,
            count: 3,
            evidence: vec![evidence],
            group: p.pii("group"),
            consequences: vec!["rooms.heartbeat.teams-signin-unhealthy".into()],
            score: 10,
        };
        let span = Span { from: time(), to: time(), state: p.pii("state"), status: p.pii("status") };
        let turn =
            Turn { time: time(), signal: p.pii("signal"), status: p.pii("status"), changed: vec![change(&mut p)] };
        let timeline = RoomTimeline {
            room: p.pii("room"),
            signals: BTreeMap::from([(p.pii("signal"), vec![span])]),
            changes: vec![change(&mut p)],
            turned_unhealthy: vec![turn],
        };
        let input =
            InputEntry { path: p.pii("path"), format: p.pii("format"), records: 1, warnings: vec![p.pii("warning")] };
        let report = ScanReport {
            schema_version: 1,
            tool_version: env!("CARGO_PKG_VERSION").into(),
            verdict: uctriage_rules::Verdict::Problems,
            inputs: vec![input],
            findings: vec![finding],
            stats: crate::Stats::default(),
            timeline: vec![timeline],
            notes: vec![p.pii("note")],
            warnings: vec![p.pii("warning")],
        };
        (report, p)
    }

    #[test]
    fn every_string_of_every_part_is_redacted() {
        let (mut report, planted) = planted();
        let before = report.json();
        assert!(planted.0.iter().all(|v| before.contains(&v.replace('\\', "\\\\"))), "{before}");
        report.redact(&mut Redactor::new());
        let outputs = [report.json(), crate::text(&report, false), crate::markdown(&report), crate::html(&report)];
        for out in &outputs {
            for v in &planted.0 {
                let user = v.split('\\').nth(2).unwrap_or(v);
                assert!(!out.contains(v.as_str()) && !out.contains(user), "{v} survived in:\n{out}");
            }
        }
        // The project's own words are kept.
        let f = &report.findings[0];
        assert_eq!(
            (f.rule.as_str(), f.family.as_str(), f.layer.as_str(), f.consequences[0].as_str()),
            (
                "rooms.resource-account.mfa-required",
                "rooms-resource-account",
                "policy",
                "rooms.heartbeat.teams-signin-unhealthy"
            )
        );
        assert_eq!(f.references[0], "https://learn.microsoft.com/microsoftteams/rooms/");
        assert_eq!(f.codes[0].to_string(), "AADSTS50076");
        // Labels around the values survive, with placeholders in place of the values.
        assert!(report.findings[0].title.starts_with("title <"), "{}", report.findings[0].title);
    }

    #[test]
    fn the_same_value_gets_the_same_placeholder_across_the_report() {
        let (mut report, _) = planted();
        report.notes.push(report.inputs[0].path.clone());
        report.redact(&mut Redactor::new());
        assert_eq!(report.notes.last(), Some(&report.inputs[0].path));
    }
}
