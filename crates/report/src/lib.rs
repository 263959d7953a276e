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
