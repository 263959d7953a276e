//! Scan reports in four formats from one [`ScanReport`]: the contract's JSON, text for the
//! terminal, Markdown for a ticket, and a single-file HTML page (no external assets) with an
//! inline SVG timeline of the Teams Rooms signals.

mod html;
pub mod redact;
mod text;

use std::borrow::Cow;
use std::fmt::Write as _;

use serde::{Deserialize, Serialize};
use uctriage_evidence::InputReport;
use uctriage_rules::{Diagnosis, Finding, RoomTimeline, Verdict};

pub use html::html;
pub use redact::{Redact, Redactor};
pub use text::{markdown, text};

/// One input as the contract lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InputEntry {
    pub path: String,
    pub format: String,
    pub records: u64,
    pub warnings: Vec<String>,
}

/// Totals of the run.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stats {
    pub files: u64,
    pub records: u64,
    pub bytes: u64,
    pub elapsed_ms: u64,
}

/// The whole scan result (`scan --format json`); a stored report reads back into an equal one.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScanReport {
    pub schema_version: u32,
    pub tool_version: String,
    pub verdict: Verdict,
    pub inputs: Vec<InputEntry>,
    pub findings: Vec<Finding>,
    pub stats: Stats,
    /// Teams Rooms signal timeline, one entry per room (empty without heartbeats).
    pub timeline: Vec<RoomTimeline>,
    /// What was read and why nothing was judged, when that is the case.
    pub notes: Vec<String>,
    /// Problems that belong to no single input.
    pub warnings: Vec<String>,
    /// With a healthy verdict, what the verdict rests on ("6 SIP OPTIONS … all answered 200 OK
    /// by sip.pstnhub.microsoft.com"); absent otherwise. Added to the v1 contract compatibly.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub checked: Vec<String>,
    /// Whether personal data was replaced (`--redact`); the HTML and Markdown reports say which.
    /// Absent in JSON when false. Added to the v1 contract compatibly.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub redacted: bool,
}

impl ScanReport {
    pub fn new(
        inputs: &[InputReport],
        run_warnings: &[uctriage_evidence::Warning],
        diagnosis: Diagnosis,
        stats: Stats,
    ) -> Self {
        ScanReport {
            schema_version: 1,
            tool_version: env!("CARGO_PKG_VERSION").to_owned(),
            verdict: diagnosis.verdict,
            inputs: inputs
                .iter()
                .map(|i| InputEntry {
                    path: i.path.clone(),
                    format: i.format.clone(),
                    records: i.records,
                    warnings: i
                        .warnings
                        .iter()
                        .map(
                            |w| {
                                if w.place.is_empty() {
                                    w.message.clone()
                                } else {
                                    format!("{}: {}", w.place, w.message)
                                }
                            },
                        )
                        .collect(),
                })
                .collect(),
            findings: diagnosis.findings,
            stats,
            timeline: diagnosis.timeline,
            notes: diagnosis.notes,
            warnings: run_warnings.iter().map(ToString::to_string).collect(),
            checked: diagnosis.checked,
            redacted: false,
        }
    }

    /// Replace personal data in every string of the report that comes from the inputs (see
    /// [`redact`] and its [`Redact`] implementations, one next to each part of the report).
    pub fn redact(&mut self, r: &mut Redactor) {
        Redact::redact(self, r);
    }

    /// The contract's JSON.
    pub fn json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"))
    }

    pub fn warning_count(&self) -> usize {
        self.warnings.len() + self.inputs.iter().map(|i| i.warnings.len()).sum::<usize>()
    }
}

/// `s` made safe to print to a terminal: control characters that a terminal acts on (ESC, BEL,
/// CSI and the other C1 controls, every C0 control but tab and newline, DEL) are shown as escapes
/// (`\x1b`, `\u{9b}`) instead. Every human-facing output (text, Markdown, warnings on stderr)
/// passes what came from the inputs through this; JSON escapes them by itself.
pub fn terminal_safe(s: &str) -> Cow<'_, str> {
    let unsafe_char = |c: char| c.is_control() && !matches!(c, '\n' | '\t');
    if !s.chars().any(unsafe_char) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 16);
    for c in s.chars() {
        if unsafe_char(c) {
            let n = u32::from(c);
            if n < 0x80 {
                let _ = write!(out, "\\x{n:02x}");
            } else {
                let _ = write!(out, "\\u{{{n:x}}}");
            }
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// The report with every string (and every map key) passed through [`terminal_safe`] (the report
/// itself when nothing needed it); `None` in the unexpected case that it does not read back.
pub(crate) fn terminal_safe_report(r: &ScanReport) -> Option<Cow<'_, ScanReport>> {
    fn walk(v: &mut serde_json::Value, changed: &mut bool) {
        match v {
            serde_json::Value::String(s) => {
                if let Cow::Owned(safe) = terminal_safe(s) {
                    *s = safe;
                    *changed = true;
                }
            }
            serde_json::Value::Array(a) => a.iter_mut().for_each(|v| walk(v, changed)),
            serde_json::Value::Object(o) => {
                let entries = std::mem::take(o);
                for (k, mut v) in entries {
                    walk(&mut v, changed);
                    let k = match terminal_safe(&k) {
                        Cow::Owned(safe) => {
                            *changed = true;
                            safe
                        }
                        Cow::Borrowed(_) => k,
                    };
                    o.insert(k, v);
                }
            }
            _ => {}
        }
    }
    let mut v = serde_json::to_value(r).ok()?;
    let mut changed = false;
    walk(&mut v, &mut changed);
    if changed {
        serde_json::from_value(v).ok().map(Cow::Owned)
    } else {
        Some(Cow::Borrowed(r))
    }
}

pub(crate) fn verdict_word(v: Verdict) -> &'static str {
    match v {
        Verdict::Healthy => "healthy",
        Verdict::Problems => "problems",
        Verdict::Inconclusive => "inconclusive",
    }
}

pub(crate) fn ts(t: Option<jiff::Timestamp>) -> String {
    t.map_or_else(|| "no time".to_owned(), uctriage_evidence::time::rfc3339)
}

/// Evidence rows the text report shows per finding; the JSON, Markdown and HTML reports show
/// every row a finding keeps (up to [`EVIDENCE_KEPT`]).
pub const TEXT_EVIDENCE_ROWS: usize = 5;

pub use uctriage_rules::{EVIDENCE_FROM_CONSEQUENCE, EVIDENCE_KEPT};

/// When an evidence row's records happened: one time, or the first and last of a folded run.
pub(crate) fn row_time(e: &uctriage_rules::EvidenceRef) -> String {
    match e.last_time {
        Some(last) if e.count > 1 && Some(last) != e.time => format!("{} → {}", ts(e.time), ts(Some(last))),
        _ => ts(e.time),
    }
}

/// The sentence on records a finding counted but keeps no row for (`None` when it keeps all).
pub(crate) fn omitted_sentence(f: &Finding) -> Option<String> {
    (f.evidence_omitted > 0).then(|| {
        format!(
            "{} more matching {} counted but not listed: a finding keeps up to {EVIDENCE_KEPT} rows of evidence, repeats folded into their row.",
            f.evidence_omitted,
            if f.evidence_omitted == 1 { "record was" } else { "records were" }
        )
    })
}

/// What the report says about redaction.
pub(crate) fn redaction_sentence(r: &ScanReport) -> &'static str {
    if r.redacted {
        "Redacted: user names, addresses, host and room names, IDs, secrets and phone numbers were replaced with placeholders (uctriage scan --redact)."
    } else {
        "Not redacted: this report quotes the inputs as they are, personal data included. Run uctriage scan --redact for a copy to share."
    }
}

#[cfg(test)]
mod format_tests {
    use std::collections::BTreeMap;

    use uctriage_rules::timeline::{Change, Span, Turn};
    use uctriage_rules::{EvidenceRef, Finding, RoomTimeline, Severity, Verdict};

    use crate::{InputEntry, ScanReport, Stats, TEXT_EVIDENCE_ROWS};

    fn t(s: &str) -> jiff::Timestamp {
        format!("2025-07-15T{s}Z").parse().unwrap()
    }

    fn row(i: usize, count: u64) -> EvidenceRef {
        EvidenceRef {
            path: "bundle.zip!Skype Room System.evtx".into(),
            location: format!("record {}", i + 1),
            time: Some(t("08:10:00")),
            excerpt: format!("Network: Healthy · Exchange: 80131500 : AADSTS50076 · row {i}"),
            kind: "heartbeat".into(),
            source: "Skype Room System".into(),
            count,
            last_time: (count > 1).then(|| t("09:55:00")),
            note: if i == 1 { "the first OPTIONS after the widest gap (41 min)".into() } else { String::new() },
        }
    }

    /// One finding seen once with 7 evidence rows (the first folding 25 records) and 3 records
    /// not kept; a room timeline; one file of one record.
    fn report() -> ScanReport {
        let finding = Finding {
            rule: "rooms.resource-account.mfa-required".into(),
            severity: Severity::Critical,
            title: "The room's resource account is asked for <b>MFA</b>".into(),
            codes: vec!["AADSTS50076".parse().unwrap()],
            family: "rooms-resource-account".into(),
            layer: "policy".into(),
            cause: "Entra ID asks for MFA.".into(),
            fix: vec![
                "Exclude the account from MFA".into(),
                "Sign in again on the device (Settings > Accounts)".into(),
            ],
            references: vec!["https://learn.microsoft.com/microsoftteams/rooms/".into()],
            first_seen: Some(t("08:10:00")),
            last_seen: Some(t("09:55:00")),
            count: 1,
            evidence: (0..7).map(|i| row(i, if i == 0 { 25 } else { 1 })).collect(),
            evidence_omitted: 3,
            group: "MTR-01".into(),
            consequences: Vec::new(),
            score: 90,
        };
        let span = |from: &str, to: &str, state: &str, status: &str| Span {
            from: t(from),
            to: t(to),
            state: state.into(),
            status: status.into(),
        };
        let change = Change { time: t("08:10:00"), what: "app version".into(), from: "5.1".into(), to: "5.2".into() };
        ScanReport {
            schema_version: 1,
            tool_version: "0.1.0".into(),
            verdict: Verdict::Problems,
            inputs: vec![InputEntry { path: "bundle.zip".into(), format: "zip".into(), records: 1, warnings: vec![] }],
            findings: vec![finding],
            stats: Stats { files: 1, records: 1, bytes: 1, elapsed_ms: 3 },
            timeline: vec![RoomTimeline {
                room: "MTR-01".into(),
                signals: BTreeMap::from([(
                    "Exchange".into(),
                    vec![
                        span("08:00:00", "08:05:00", "healthy", "Connected"),
                        span("08:10:00", "09:55:00", "unhealthy", "80131500 : AADSTS50076"),
                    ],
                )]),
                changes: vec![change.clone()],
                turned_unhealthy: vec![Turn {
                    time: t("08:10:00"),
                    signal: "Exchange".into(),
                    status: "80131500 : AADSTS50076".into(),
                    changed: vec![change],
                }],
            }],
            notes: vec![],
            warnings: vec!["one warning".into()],
            checked: vec![],
            redacted: false,
        }
    }

    #[test]
    fn the_text_says_where_the_other_rows_are_and_they_are_there() {
        let r = report();
        let text = crate::text(&r, false);
        let more = r.findings[0].evidence.len() - TEXT_EVIDENCE_ROWS;
        assert!(
            text.contains(&format!("… {more} more rows in the JSON, Markdown and HTML reports (7 in all)")),
            "{text}"
        );
        assert!(text.contains("3 more matching records were counted but not listed"), "{text}");
        assert_eq!(text.matches("\n     - ").count(), TEXT_EVIDENCE_ROWS, "{text}");
        // Every other format holds every row.
        let json: serde_json::Value = serde_json::from_str(&r.json()).unwrap();
        assert_eq!(json["findings"][0]["evidence"].as_array().unwrap().len(), 7);
        assert_eq!(json["findings"][0]["evidence_omitted"], 3);
        let md = crate::markdown(&r);
        let html = crate::html(&r);
        for i in 0..7 {
            let excerpt = format!("row {i}");
            assert!(md.contains(&excerpt) && html.contains(&excerpt), "row {i} missing");
        }
        assert!(md.contains("3 more matching records were counted but not listed"), "{md}");
        assert!(html.contains("3 more matching records were counted but not listed"), "{html}");
        // No claim of more rows when there are none.
        let mut few = report();
        few.findings[0].evidence.truncate(2);
        few.findings[0].evidence_omitted = 0;
        let text = crate::text(&few, false);
        assert!(!text.contains("more rows") && !text.contains("not listed"), "{text}");
    }

    #[test]
    fn a_folded_row_shows_its_count_and_first_and_last_time_in_every_format() {
        let r = report();
        let text = crate::text(&r, false);
        assert!(text.contains("(record 1, 2025-07-15T08:10:00Z → 2025-07-15T09:55:00Z, 25 records)"), "{text}");
        assert!(text.contains("↑ the first OPTIONS after the widest gap (41 min)"), "{text}");
        let md = crate::markdown(&r);
        assert!(md.contains("| record 1 | 2025-07-15T08:10:00Z → 2025-07-15T09:55:00Z | 25 |"), "{md}");
        assert!(md.contains("record 2 (_the first OPTIONS after the widest gap (41 min)_)"), "{md}");
        let html = crate::html(&r);
        assert!(html.contains("<td>2025-07-15T08:10:00Z → 2025-07-15T09:55:00Z</td><td>25</td>"), "{html}");
        let json: serde_json::Value = serde_json::from_str(&r.json()).unwrap();
        let first = &json["findings"][0]["evidence"][0];
        assert_eq!((first["count"].as_u64(), first["last_time"].as_str()), (Some(25), Some("2025-07-15T09:55:00Z")));
        // A single record's row carries neither.
        let second = &json["findings"][0]["evidence"][1];
        assert!(second.get("count").is_none() && second.get("last_time").is_none(), "{second}");
    }

    #[test]
    fn the_html_report_opens_with_a_summary_and_contents_and_folds_the_evidence() {
        let r = report();
        let html = crate::html(&r);
        let at = |needle: &str| html.find(needle).unwrap_or_else(|| panic!("{needle} missing:\n{html}"));
        // Summary first: verdict, top finding, first fix, redaction.
        assert!(at("id=\"summary\"") < at("id=\"contents\"") && at("id=\"contents\"") < at("id=\"findings\""));
        assert!(html.contains("<dt>Verdict</dt><dd>problems: 1 finding</dd>"), "{html}");
        assert!(html.contains("<dt>Top finding</dt><dd><a href=\"#finding-1\">The room&#39;s resource account is asked for &lt;b&gt;MFA&lt;/b&gt;</a>"));
        assert!(html.contains("<dt>First fix</dt><dd>Exclude the account from MFA</dd>"));
        assert!(html.contains("Not redacted"), "{html}");
        // Contents link to every section there is.
        for id in ["summary", "findings", "finding-1", "timeline", "inputs", "warnings"] {
            assert!(html.contains(&format!("<a href=\"#{id}\">")), "no link to {id}");
            assert!(html.contains(&format!("id=\"{id}\"")), "no section {id}");
        }
        // Evidence folded away, a legend on the timeline.
        assert!(html.contains("<details><summary>Evidence: 7 rows, 31 records</summary>"), "{html}");
        assert!(!html.contains("<details open"));
        assert!(at("id=\"legend\"") > at("id=\"timeline\"") && at("id=\"legend\"") < at("<svg"));
        for word in ["healthy", "unhealthy", "not applicable", "a device change"] {
            assert!(html[at("id=\"legend\"")..].contains(word), "legend lacks {word}");
        }
        // One file: nothing loaded from elsewhere, no script.
        for outside in ["<script", "<link", "<img", "src=", "@import", "url("] {
            assert!(!html.contains(outside), "{outside} in the page");
        }
        let mut redacted = report();
        redacted.redacted = true;
        let html = crate::html(&redacted);
        assert!(html.contains("class=\"redaction redacted\">Redacted:"), "{html}");
    }

    #[test]
    fn markdown_escapes_for_markdown_and_has_a_timeline() {
        let md = crate::markdown(&report());
        assert!(md.contains("Sign in again on the device (Settings > Accounts)"), "{md}");
        assert!(!md.contains("&gt;") && !md.contains("&lt;"), "{md}");
        // A tag in a title is shown, not read as HTML.
        assert!(md.contains(r"asked for \<b>MFA\</b>"), "{md}");
        assert!(md.contains("## Timeline\n\n### MTR-01\n\n| Time | Signal or change |"), "{md}");
        assert!(md.contains("| 2025-07-15T08:10:00Z | **Exchange: unhealthy (80131500 : AADSTS50076) until 2025-07-15T09:55:00Z** |"), "{md}");
        assert!(md.contains("| 2025-07-15T08:10:00Z | app version 5.1 → 5.2 |"), "{md}");
        assert!(md.contains("Not redacted"), "{md}");
    }

    #[test]
    fn markdown_text_is_escaped_only_where_markdown_would_act() {
        use crate::text::md_text;
        assert_eq!(md_text("Settings > Accounts"), "Settings > Accounts");
        assert_eq!(md_text("a <script> b < c"), r"a \<script> b < c");
        assert_eq!(md_text("# not a heading"), r"\# not a heading");
        assert_eq!(md_text("> not a quote"), r"\> not a quote");
        assert_eq!(md_text("*x* _y_ `z` [l](u)"), r"\*x\* \_y\_ \`z\` \[l\](u)");
        assert_eq!(md_text(r"C:\Users\x \*"), r"C:\Users\x \\\*");
        assert_eq!(md_text("two\nlines"), "two lines");
        assert_eq!(md_text("Microsoft-Windows-AAD_Operational.evtx _x"), r"Microsoft-Windows-AAD_Operational.evtx \_x");
    }

    #[test]
    fn no_output_says_1_with_a_plural() {
        let r = report();
        let plural =
            regex::Regex::new(r"\b1 (findings|records|files|bytes|times|rows|warnings|rules|inputs)\b").unwrap();
        for (name, out) in
            [("text", crate::text(&r, false)), ("markdown", crate::markdown(&r)), ("html", crate::html(&r))]
        {
            assert!(!plural.is_match(&out), "{name}: {:?}", plural.find(&out));
        }
        let text = crate::text(&r, false);
        assert!(text.contains("1 finding, most likely") && text.contains("seen 1 time,"), "{text}");
        assert!(text.contains("Read 1 file, 1 record, 1 byte") && text.contains("1 warning:"), "{text}");
    }
}
