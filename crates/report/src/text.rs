//! Text for the terminal and Markdown for a ticket.

use std::fmt::Write as _;

use uctriage_rules::Severity;

use crate::{ts, verdict_word, ScanReport};

/// Colours for the terminal; `plain` when not writing to one.
#[derive(Debug, Clone, Copy)]
pub struct Paint {
    pub on: bool,
}

impl Paint {
    fn w(self, code: &str, s: &str) -> String {
        if self.on {
            format!("\x1b[{code}m{s}\x1b[0m")
        } else {
            s.to_owned()
        }
    }
}

fn severity_code(s: Severity) -> &'static str {
    match s {
        Severity::Critical => "1;31",
        Severity::Error => "31",
        Severity::Warning => "33",
        Severity::Info => "36",
    }
}

/// `n` followed by `word`, in the plural unless `n` is 1: `1 record`, `2 records`.
pub(crate) fn counted(n: impl Into<u64>, word: &str) -> String {
    let n = n.into();
    if n == 1 {
        format!("1 {word}")
    } else {
        format!("{n} {word}s")
    }
}

/// The terminal report. `colour` only when stdout is a terminal. Control characters from the
/// inputs are escaped (see [`terminal_safe`](crate::terminal_safe)): the only escape sequences
/// in it are its own colours.
pub fn text(r: &ScanReport, colour: bool) -> String {
    match crate::terminal_safe_report(r) {
        Some(safe) => text_of(&safe, colour),
        None => crate::terminal_safe(&text_of(r, false)).into_owned(),
    }
}

fn text_of(r: &ScanReport, colour: bool) -> String {
    let p = Paint { on: colour };
    let mut s = String::new();
    let n = r.findings.len();
    let _ = writeln!(
        s,
        "{} {}",
        p.w("1", "Verdict:"),
        p.w(if n > 0 { "1;31" } else { "1;32" }, &verdict_word(r.verdict).to_uppercase())
    );
    if n > 0 {
        let _ = writeln!(s, "{} finding{}, most likely root cause first.", n, if n == 1 { "" } else { "s" });
    }
    for (i, f) in r.findings.iter().enumerate() {
        let _ = writeln!(
            s,
            "\n{}. {} {}",
            i + 1,
            p.w(severity_code(f.severity), &format!("[{}]", f.severity.as_str().to_uppercase())),
            p.w("1", &f.title)
        );
        let codes: Vec<String> = f.codes.iter().map(ToString::to_string).collect();
        let _ = writeln!(
            s,
            "   layer {} · family {}{}",
            f.layer,
            f.family,
            if codes.is_empty() { String::new() } else { format!(" · codes {}", codes.join(", ")) }
        );
        let _ = writeln!(
            s,
            "   seen {} time{}, {} → {}",
            f.count,
            if f.count == 1 { "" } else { "s" },
            ts(f.first_seen),
            ts(f.last_seen)
        );
        let _ = writeln!(s, "   {} {}", p.w("1", "Cause:"), f.cause);
        let _ = writeln!(s, "   {}", p.w("1", "Fix, in order:"));
        for (k, step) in f.fix.iter().enumerate() {
            let _ = writeln!(s, "     {}. {step}", k + 1);
        }
        let _ = writeln!(s, "   {}", p.w("1", "Evidence:"));
        for e in f.evidence.iter().take(5) {
            let _ = writeln!(s, "     - {} ({}, {})", e.path, e.location, ts(e.time));
            let _ = writeln!(s, "       {}", p.w("2", &e.excerpt));
        }
        if f.evidence.len() > 5 || f.count as usize > f.evidence.len() {
            let _ = writeln!(s, "     … {} more in the JSON or HTML report", f.count.saturating_sub(5));
        }
        if !f.consequences.is_empty() {
            let _ = writeln!(s, "   Also explains: {}", f.consequences.join(", "));
        }
        if !f.references.is_empty() {
            let _ = writeln!(s, "   References: {}", f.references.join(" "));
        }
    }
    for t in &r.timeline {
        if t.turned_unhealthy.is_empty() {
            continue;
        }
        let _ = writeln!(s, "\n{} {}", p.w("1", "Timeline of"), t.room);
        for turn in &t.turned_unhealthy {
            let changed: Vec<String> =
                turn.changed.iter().map(|c| format!("{} {} → {}", c.what, c.from, c.to)).collect();
            let _ = writeln!(
                s,
                "  {}  {} turned unhealthy ({}){}",
                uctriage_evidence::time::rfc3339(turn.time),
                turn.signal,
                turn.status,
                if changed.is_empty() { String::new() } else { format!("; at that moment: {}", changed.join(", ")) }
            );
        }
    }
    for note in &r.notes {
        let _ = writeln!(s, "\n{note}");
    }
    if !r.checked.is_empty() {
        let _ = writeln!(s, "\n{}", p.w("1", "Checked:"));
        for c in &r.checked {
            let _ = writeln!(s, "  - {c}");
        }
    }
    let _ = writeln!(
        s,
        "\nRead {}, {}, {} in {} ms.",
        counted(r.stats.files, "file"),
        counted(r.stats.records, "record"),
        counted(r.stats.bytes, "byte"),
        r.stats.elapsed_ms
    );
    let warnings: Vec<String> = r
        .warnings
        .iter()
        .cloned()
        .chain(r.inputs.iter().flat_map(|i| i.warnings.iter().map(move |w| format!("{}: {w}", i.path))))
        .collect();
    if !warnings.is_empty() {
        let _ = writeln!(s, "{} warning{}:", warnings.len(), if warnings.len() == 1 { "" } else { "s" });
        for w in warnings.iter().take(20) {
            let _ = writeln!(s, "  {}", p.w("33", w));
        }
        if warnings.len() > 20 {
            let _ = writeln!(s, "  … and {} more (see --format json)", warnings.len() - 20);
        }
    }
    s
}

fn md_escape(s: &str) -> String {
    s.replace('|', "\\|").replace('<', "&lt;").replace('>', "&gt;")
}

/// The Markdown report, for pasting into a ticket. Control characters from the inputs are
/// escaped (see [`terminal_safe`](crate::terminal_safe)).
pub fn markdown(r: &ScanReport) -> String {
    crate::terminal_safe(&markdown_of(r)).into_owned()
}

fn markdown_of(r: &ScanReport) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "# uctriage scan: {}\n", verdict_word(r.verdict));
    if r.findings.is_empty() {
        let _ = writeln!(s, "No findings.\n");
    }
    for (i, f) in r.findings.iter().enumerate() {
        let codes: Vec<String> = f.codes.iter().map(|c| format!("`{c}`")).collect();
        let _ = writeln!(s, "## {}. {} ({})\n", i + 1, md_escape(&f.title), f.severity.as_str());
        let _ = writeln!(s, "- **Layer:** {} · **Family:** {}", f.layer, f.family);
        if !codes.is_empty() {
            let _ = writeln!(s, "- **Codes:** {}", codes.join(", "));
        }
        let _ = writeln!(s, "- **Seen:** {}, {} → {}", counted(f.count, "time"), ts(f.first_seen), ts(f.last_seen));
        let _ = writeln!(s, "\n**Cause.** {}\n\n**Fix, in order:**\n", md_escape(&f.cause));
        for (k, step) in f.fix.iter().enumerate() {
            let _ = writeln!(s, "{}. {}", k + 1, md_escape(step));
        }
        let _ = writeln!(s, "\n| Evidence | Where | Time | Excerpt |\n|---|---|---|---|");
        for e in &f.evidence {
            let _ = writeln!(
                s,
                "| {} | {} | {} | `{}` |",
                md_escape(&e.path),
                md_escape(&e.location),
                ts(e.time),
                e.excerpt.replace('`', "'").replace('|', "\\|")
            );
        }
        if !f.consequences.is_empty() {
            let _ = writeln!(s, "\nAlso explains: {}", f.consequences.join(", "));
        }
        if !f.references.is_empty() {
            let _ = writeln!(
                s,
                "\nReferences: {}",
                f.references.iter().map(|r| format!("<{r}>")).collect::<Vec<_>>().join(" ")
            );
        }
        let _ = writeln!(s);
    }
    for note in &r.notes {
        let _ = writeln!(s, "> {}\n", md_escape(note));
    }
    if !r.checked.is_empty() {
        let _ = writeln!(s, "## Checked\n");
        for c in &r.checked {
            let _ = writeln!(s, "- {}", md_escape(c));
        }
        let _ = writeln!(s);
    }
    let _ = writeln!(s, "## Inputs\n\n| Path | Format | Records | Warnings |\n|---|---|---|---|");
    for i in &r.inputs {
        let _ = writeln!(
            s,
            "| {} | {} | {} | {} |",
            md_escape(&i.path),
            i.format,
            i.records,
            md_escape(&i.warnings.join("; "))
        );
    }
    // Problems that belong to no single input (a path that cannot be opened, a special file
    // skipped, an archive refused): every format carries them.
    if !r.warnings.is_empty() {
        let _ = writeln!(s, "\n## Warnings\n");
        for w in &r.warnings {
            let _ = writeln!(s, "- {}", md_escape(w));
        }
    }
    let _ = writeln!(
        s,
        "\n{}, {}, {}, {} ms.",
        counted(r.stats.files, "file"),
        counted(r.stats.records, "record"),
        counted(r.stats.bytes, "byte"),
        r.stats.elapsed_ms
    );
    s
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use uctriage_rules::timeline::{Change, Span, Turn};
    use uctriage_rules::{EvidenceRef, Finding, RoomTimeline};

    use crate::{InputEntry, ScanReport};

    /// A report with terminal escapes in every string that comes from the inputs.
    fn hostile() -> ScanReport {
        let evil = |label: &str| format!("{label} \x1b]0;pwned\x07\x1b[2J\u{9b}31m\r\x08\x7f");
        let time: jiff::Timestamp = "2025-07-15T08:30:11Z".parse().unwrap();
        let change = Change { time, what: evil("what"), from: evil("from"), to: evil("to") };
        let evidence = EvidenceRef {
            path: evil("path"),
            location: evil("location"),
            time: Some(time),
            excerpt: evil("excerpt"),
            kind: evil("kind"),
            source: evil("source"),
        };
        let finding = Finding {
            rule: "rooms.resource-account.mfa-required".into(),
            severity: uctriage_rules::Severity::Critical,
            title: evil("title"),
            codes: vec!["AADSTS50076".parse().unwrap()],
            family: evil("family"),
            layer: evil("layer"),
            cause: evil("cause"),
            fix: vec![evil("fix")],
            references: vec![evil("reference")],
            first_seen: Some(time),
            last_seen: None,
            count: 3,
            evidence: vec![evidence],
            group: evil("group"),
            consequences: vec![evil("consequence")],
            score: 10,
        };
        let span = Span { from: time, to: time, state: evil("state"), status: evil("status") };
        let turn = Turn { time, signal: evil("signal"), status: evil("status"), changed: vec![change.clone()] };
        ScanReport {
            schema_version: 1,
            tool_version: "0".into(),
            verdict: uctriage_rules::Verdict::Problems,
            inputs: vec![InputEntry {
                path: evil("path"),
                format: evil("format"),
                records: 1,
                warnings: vec![evil("warning")],
            }],
            findings: vec![finding],
            stats: crate::Stats::default(),
            timeline: vec![RoomTimeline {
                room: evil("room"),
                signals: BTreeMap::from([(evil("signal"), vec![span])]),
                changes: vec![change],
                turned_unhealthy: vec![turn],
            }],
            notes: vec![evil("note")],
            warnings: vec![evil("warning")],
            checked: vec![evil("checked")],
        }
    }

    #[test]
    fn no_terminal_control_from_the_inputs_survives_in_text_or_markdown() {
        let r = hostile();
        for (name, out) in [("text", super::text(&r, false)), ("markdown", super::markdown(&r))] {
            let bad: Vec<char> = out.chars().filter(|c| c.is_control() && !matches!(c, '\n' | '\t')).collect();
            assert!(bad.is_empty(), "{name} holds {bad:?}:\n{out}");
            assert!(out.contains(r"title \x1b]0;pwned\x07\x1b[2J\u{9b}31m\x0d\x08\x7f"), "{name}:\n{out}");
        }
        // In colour, the only escape sequences are the report's own colours.
        let coloured = super::text(&r, true);
        let own = regex::Regex::new(r"\x1b\[[0-9;]*m").unwrap();
        let rest = own.replace_all(&coloured, "");
        let bad: Vec<char> = rest.chars().filter(|c| c.is_control() && !matches!(c, '\n' | '\t')).collect();
        assert!(bad.is_empty(), "coloured text holds {bad:?}:\n{coloured}");
        assert!(own.is_match(&coloured));
    }
}
