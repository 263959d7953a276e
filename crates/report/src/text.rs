//! Text for the terminal and Markdown for a ticket.

use std::fmt::Write as _;

use uctriage_rules::Severity;

use crate::{omitted_sentence, redaction_sentence, row_time, ts, verdict_word, ScanReport, TEXT_EVIDENCE_ROWS};

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

pub(crate) use uctriage_evidence::counted;

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
        let _ = writeln!(s, "{}, most likely root cause first.", counted(n, "finding"));
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
        let _ = writeln!(s, "   seen {}, {} → {}", counted(f.count, "time"), ts(f.first_seen), ts(f.last_seen));
        let _ = writeln!(s, "   {} {}", p.w("1", "Cause:"), f.cause);
        let _ = writeln!(s, "   {}", p.w("1", "Fix, in order:"));
        for (k, step) in f.fix.iter().enumerate() {
            let _ = writeln!(s, "     {}. {step}", k + 1);
        }
        let _ = writeln!(s, "   {}", p.w("1", "Evidence:"));
        for e in f.evidence.iter().take(TEXT_EVIDENCE_ROWS) {
            let records = if e.count > 1 { format!(", {}", counted(e.count, "record")) } else { String::new() };
            let _ = writeln!(s, "     - {} ({}, {}{records})", e.path, e.location, row_time(e));
            if !e.note.is_empty() {
                let _ = writeln!(s, "       {}", p.w("1", &format!("↑ {}", e.note)));
            }
            let _ = writeln!(s, "       {}", p.w("2", &e.excerpt));
        }
        let more = f.evidence.len().saturating_sub(TEXT_EVIDENCE_ROWS);
        if more > 0 {
            let _ = writeln!(
                s,
                "     … {} more {} in the JSON, Markdown and HTML reports ({} in all)",
                more,
                if more == 1 { "row" } else { "rows" },
                f.evidence.len()
            );
        }
        if let Some(omitted) = omitted_sentence(f) {
            let _ = writeln!(s, "     … {omitted}");
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
            let _ = writeln!(s, "  {}  {}", uctriage_evidence::time::rfc3339(turn.time), turn_text(turn));
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
        let _ = writeln!(s, "{}:", counted(warnings.len(), "warning"));
        for w in warnings.iter().take(20) {
            let _ = writeln!(s, "  {}", p.w("33", w));
        }
        if warnings.len() > 20 {
            let _ = writeln!(s, "  … and {} more (see --format json)", warnings.len() - 20);
        }
    }
    s
}

/// "Teams sign-in turned unhealthy (Unhealthy); at that moment: app version 5.1 → 5.2".
pub(crate) fn turn_text(turn: &uctriage_rules::timeline::Turn) -> String {
    let changed: Vec<String> = turn.changed.iter().map(|c| format!("{} {} → {}", c.what, c.from, c.to)).collect();
    format!(
        "{} turned unhealthy ({}){}",
        turn.signal,
        turn.status,
        if changed.is_empty() { String::new() } else { format!("; at that moment: {}", changed.join(", ")) }
    )
}

/// Text made safe for Markdown, written for Markdown readers and plain-text readers alike: only
/// what Markdown would act on is escaped, with a backslash (never an HTML entity, which a ticket
/// that shows the source would print as `&gt;`). `<` before a letter, `/`, `!` or `?` (a tag or an
/// autolink), `*`, a backtick and `_` other than inside a word (emphasis, code), `[` and `]` (links), `\` before
/// punctuation, and at the start of a line `#`, `>`, `-`, `+` and `=` (headings, quotes, lists).
/// Newlines become spaces, so one value stays on its line.
pub(crate) fn md_text(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 8);
    let mut chars = s.chars().peekable();
    let mut line_start = true;
    let mut prev = ' ';
    while let Some(c) = chars.next() {
        let next = chars.peek().copied();
        let escape = match c {
            '*' | '`' | '[' | ']' => true,
            // Inside a word (`AAD_Operational`) an underscore never starts emphasis.
            '_' => !(prev.is_alphanumeric() && next.is_some_and(char::is_alphanumeric)),
            '<' => next.is_some_and(|n| n.is_ascii_alphabetic() || matches!(n, '/' | '!' | '?')),
            '\\' => next.is_some_and(|n| n.is_ascii_punctuation()),
            '#' | '>' | '-' | '+' | '=' => line_start,
            _ => false,
        };
        if escape {
            out.push('\\');
        }
        match c {
            '\n' | '\r' => {
                out.push(' ');
                line_start = false;
                continue;
            }
            _ => out.push(c),
        }
        prev = c;
        line_start = line_start && c.is_whitespace();
    }
    out
}

/// [`md_text`] inside a table cell: a `|` would end the cell.
pub(crate) fn md_cell(s: &str) -> String {
    md_text(s).replace('|', "\\|")
}

/// An excerpt as inline code in a table cell: backticks cannot be escaped inside code, so they
/// become `'`; a `|` is escaped for the table (GFM reads `\|` inside code in a cell as `|`).
fn md_code_cell(s: &str) -> String {
    let t = s.replace('`', "'").replace(['\n', '\r'], " ").replace('|', "\\|");
    if t.trim().is_empty() {
        String::new()
    } else {
        format!("`{t}`")
    }
}

/// The Markdown report, for pasting into a ticket. Control characters from the inputs are
/// escaped (see [`terminal_safe`](crate::terminal_safe)).
pub fn markdown(r: &ScanReport) -> String {
    crate::terminal_safe(&markdown_of(r)).into_owned()
}

fn markdown_of(r: &ScanReport) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "# uctriage scan: {}\n", verdict_word(r.verdict));
    let _ = writeln!(s, "_{}_\n", md_text(redaction_sentence(r)));
    if r.findings.is_empty() {
        let _ = writeln!(s, "No findings.\n");
    }
    for (i, f) in r.findings.iter().enumerate() {
        let codes: Vec<String> = f.codes.iter().map(|c| format!("`{c}`")).collect();
        let _ = writeln!(s, "## {}. {} ({})\n", i + 1, md_text(&f.title), f.severity.as_str());
        let _ = writeln!(s, "- **Layer:** {} · **Family:** {}", md_text(&f.layer), md_text(&f.family));
        if !codes.is_empty() {
            let _ = writeln!(s, "- **Codes:** {}", codes.join(", "));
        }
        let _ = writeln!(s, "- **Seen:** {}, {} → {}", counted(f.count, "time"), ts(f.first_seen), ts(f.last_seen));
        let _ = writeln!(s, "\n**Cause.** {}\n\n**Fix, in order:**\n", md_text(&f.cause));
        for (k, step) in f.fix.iter().enumerate() {
            let _ = writeln!(s, "{}. {}", k + 1, md_text(step));
        }
        let _ = writeln!(s, "\n| Evidence | Where | Time | Records | Excerpt |\n|---|---|---|---|---|");
        for e in &f.evidence {
            let place = if e.note.is_empty() {
                md_cell(&e.location)
            } else {
                format!("{} (_{}_)", md_cell(&e.location), md_cell(&e.note))
            };
            let _ = writeln!(
                s,
                "| {} | {} | {} | {} | {} |",
                md_cell(&e.path),
                place,
                row_time(e),
                e.count,
                md_code_cell(&e.excerpt)
            );
        }
        if let Some(omitted) = omitted_sentence(f) {
            let _ = writeln!(s, "\n{}", md_text(&omitted));
        }
        if !f.consequences.is_empty() {
            let _ = writeln!(s, "\nAlso explains: {}", md_text(&f.consequences.join(", ")));
        }
        if !f.references.is_empty() {
            let _ = writeln!(
                s,
                "\nReferences: {}",
                f.references
                    .iter()
                    .map(|r| format!("<{}>", r.replace(['<', '>', ' '], "")))
                    .collect::<Vec<_>>()
                    .join(" ")
            );
        }
        let _ = writeln!(s);
    }
    markdown_timeline(r, &mut s);
    for note in &r.notes {
        let _ = writeln!(s, "> {}\n", md_text(note));
    }
    if !r.checked.is_empty() {
        let _ = writeln!(s, "## Checked\n");
        for c in &r.checked {
            let _ = writeln!(s, "- {}", md_text(c));
        }
        let _ = writeln!(s);
    }
    let _ = writeln!(s, "## Inputs\n\n| Path | Format | Records | Warnings |\n|---|---|---|---|");
    for i in &r.inputs {
        let _ = writeln!(
            s,
            "| {} | {} | {} | {} |",
            md_cell(&i.path),
            md_cell(&i.format),
            i.records,
            md_cell(&i.warnings.join("; "))
        );
    }
    // Problems that belong to no single input (a path that cannot be opened, a special file
    // skipped, an archive refused): every format carries them.
    if !r.warnings.is_empty() {
        let _ = writeln!(s, "\n## Warnings\n");
        for w in &r.warnings {
            let _ = writeln!(s, "- {}", md_text(w));
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

/// Timeline rows shown per room in Markdown; the HTML report draws them all.
const MD_TIMELINE_ROWS: usize = 200;

/// The signal timeline in Markdown: per room, every change of a signal's state and every change
/// on the device, in time order; a turn to unhealthy in bold.
fn markdown_timeline(r: &ScanReport, s: &mut String) {
    if r.timeline.iter().all(|t| t.signals.is_empty() && t.changes.is_empty()) {
        return;
    }
    let _ = writeln!(s, "## Timeline\n");
    for t in &r.timeline {
        let mut rows: Vec<(jiff::Timestamp, String)> = Vec::new();
        for (signal, spans) in &t.signals {
            for sp in spans {
                let line = format!(
                    "{}: {} ({}) until {}",
                    md_cell(signal),
                    md_cell(&sp.state),
                    md_cell(&sp.status),
                    uctriage_evidence::time::rfc3339(sp.to)
                );
                rows.push((sp.from, if sp.state == "unhealthy" { format!("**{line}**") } else { line }));
            }
        }
        for c in &t.changes {
            rows.push((c.time, format!("{} {} → {}", md_cell(&c.what), md_cell(&c.from), md_cell(&c.to))));
        }
        rows.sort_by_key(|a| a.0);
        let _ = writeln!(s, "### {}\n\n| Time | Signal or change |\n|---|---|", md_text(&t.room));
        for (time, what) in rows.iter().take(MD_TIMELINE_ROWS) {
            let _ = writeln!(s, "| {} | {what} |", uctriage_evidence::time::rfc3339(*time));
        }
        if rows.len() > MD_TIMELINE_ROWS {
            let _ =
                writeln!(s, "\n{} more in the HTML and JSON reports.", counted(rows.len() - MD_TIMELINE_ROWS, "row"));
        }
        let _ = writeln!(s);
    }
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
            count: 1,
            last_time: None,
            note: evil("note"),
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
            evidence_omitted: 0,
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
            redacted: false,
        }
    }

    #[test]
    fn no_terminal_control_from_the_inputs_survives_in_text_or_markdown() {
        let r = hostile();
        // Markdown escapes its own brackets and keeps a value on one line before the controls
        // are shown as escapes.
        for (name, out, title) in [
            ("text", super::text(&r, false), r"title \x1b]0;pwned\x07\x1b[2J\u{9b}31m\x0d\x08\x7f"),
            ("markdown", super::markdown(&r), r"title \x1b\]0;pwned\x07\x1b\[2J\u{9b}31m \x08\x7f"),
        ] {
            let bad: Vec<char> = out.chars().filter(|c| c.is_control() && !matches!(c, '\n' | '\t')).collect();
            assert!(bad.is_empty(), "{name} holds {bad:?}:\n{out}");
            assert!(out.contains(title), "{name}:\n{out}");
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
