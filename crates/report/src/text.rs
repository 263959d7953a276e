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

/// The terminal report. `colour` only when stdout is a terminal.
pub fn text(r: &ScanReport, colour: bool) -> String {
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
        let _ = writeln!(s, "   References: {}", f.references.join(" "));
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

/// The Markdown report, for pasting into a ticket.
pub fn markdown(r: &ScanReport) -> String {
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
        let _ = writeln!(
            s,
            "\nReferences: {}\n",
            f.references.iter().map(|r| format!("<{r}>")).collect::<Vec<_>>().join(" ")
        );
    }
    for note in &r.notes {
        let _ = writeln!(s, "> {}\n", md_escape(note));
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
