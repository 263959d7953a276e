//! A single HTML file: inline CSS, inline SVG, no scripts, no external assets.

use std::fmt::Write as _;

use uctriage_rules::RoomTimeline;

use crate::text::counted;
use crate::{omitted_sentence, redaction_sentence, row_time, ts, verdict_word, ScanReport};

fn esc(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '&' => o.push_str("&amp;"),
            '"' => o.push_str("&quot;"),
            '\'' => o.push_str("&#39;"),
            _ => o.push(c),
        }
    }
    o
}

const CSS: &str = "body{font:14px/1.45 system-ui,sans-serif;margin:2em auto;max-width:1100px;color:#1d2330;padding:0 1em}\
h1{font-size:1.6em}.verdict{padding:.15em .6em;border-radius:4px;color:#fff}.v-problems{background:#b3261e}.v-healthy{background:#2e7d32}.v-inconclusive{background:#6d6d6d}\
.summary{border:1px solid #d5d9e0;border-radius:6px;padding:.2em 1em .6em;background:#f8f9fb}.summary dt{font-weight:600;margin-top:.4em}.summary dd{margin-left:0}\
.redaction{padding:.3em .6em;border-radius:4px;display:inline-block}.redacted{background:#e8f5e9}.not-redacted{background:#fff4e5}\
nav ol{margin:.2em 0}.finding{border:1px solid #d5d9e0;border-left:6px solid #999;border-radius:6px;padding:.6em 1em;margin:1em 0}\
.critical{border-left-color:#b3261e}.error{border-left-color:#e65100}.warning{border-left-color:#f9a825}.info{border-left-color:#0277bd}\
.meta{color:#555}code,.ex{font-family:ui-monospace,monospace;font-size:.92em}.ex{background:#f4f6f9;padding:.2em .4em;display:block;white-space:pre-wrap;word-break:break-all}\
.note{font-weight:600}summary{cursor:pointer;font-weight:600}\
table{border-collapse:collapse;width:100%}td,th{border-bottom:1px solid #e3e6eb;padding:.25em .5em;text-align:left;vertical-align:top}\
.legend span{display:inline-block;margin-right:1.2em}.sw{display:inline-block;width:1em;height:.8em;margin-right:.35em;vertical-align:middle;border-radius:2px}\
.sw-healthy{background:#2e7d32}.sw-unhealthy{background:#b3261e}.sw-not-applicable{background:#b0b7c3}.sw-unknown{background:#e0e0e0}.sw-change{border-left:2px dashed #1d2330;width:0;border-radius:0}\
svg text{font:11px system-ui,sans-serif}";

/// The HTML report: one self-contained page (inline CSS and SVG, no script, nothing fetched).
/// A summary on top (verdict, top finding, first fix, redaction), a table of contents, the
/// findings with their evidence folded away, the signal timeline with its legend, then what was
/// checked and read.
pub fn html(r: &ScanReport) -> String {
    let mut s = String::new();
    let v = verdict_word(r.verdict);
    let _ = write!(
        s,
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><title>uctriage scan: {v}</title><style>{CSS}</style></head><body>"
    );
    let _ = write!(s, "<header><h1>uctriage scan <span class=\"verdict v-{v}\">{v}</span></h1>");
    let _ = write!(
        s,
        "<p class=\"meta\">{}, {}, {}, {} ms · uctriage {}</p></header><main>",
        counted(r.stats.files, "file"),
        counted(r.stats.records, "record"),
        counted(r.stats.bytes, "byte"),
        r.stats.elapsed_ms,
        esc(&r.tool_version)
    );
    summary(r, &mut s);
    contents(r, &mut s);
    if !r.findings.is_empty() {
        s.push_str("<section id=\"findings\"><h2>Findings</h2>");
        for (i, f) in r.findings.iter().enumerate() {
            finding(i, f, &mut s);
        }
        s.push_str("</section>");
    }
    if has_timeline(r) {
        s.push_str("<section id=\"timeline\"><h2>Timeline</h2>");
        s.push_str(LEGEND);
        for t in &r.timeline {
            s.push_str(&timeline_svg(t));
            if !t.turned_unhealthy.is_empty() {
                s.push_str("<ul>");
                for turn in &t.turned_unhealthy {
                    let _ = write!(
                        s,
                        "<li>{} {}</li>",
                        uctriage_evidence::time::rfc3339(turn.time),
                        esc(&crate::text::turn_text(turn))
                    );
                }
                s.push_str("</ul>");
            }
        }
        s.push_str("</section>");
    }
    if !r.checked.is_empty() {
        s.push_str("<section id=\"checked\" class=\"checked\"><h2>Checked</h2><ul>");
        for c in &r.checked {
            let _ = write!(s, "<li>{}</li>", esc(c));
        }
        s.push_str("</ul></section>");
    }
    s.push_str("<section id=\"inputs\"><h2>Inputs</h2><table><thead><tr><th>Path</th><th>Format</th><th>Records</th><th>Warnings</th></tr></thead><tbody>");
    for i in &r.inputs {
        let _ = write!(
            s,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            esc(&i.path),
            esc(&i.format),
            i.records,
            esc(&i.warnings.join("; "))
        );
    }
    s.push_str("</tbody></table></section>");
    if !r.warnings.is_empty() {
        s.push_str("<section id=\"warnings\"><h2>Warnings</h2><ul>");
        for w in &r.warnings {
            let _ = write!(s, "<li>{}</li>", esc(w));
        }
        s.push_str("</ul></section>");
    }
    s.push_str("</main></body></html>\n");
    s
}

/// What the timeline's colours and lines mean.
const LEGEND: &str = "<p class=\"legend\" id=\"legend\"><span><i class=\"sw sw-healthy\"></i>healthy</span><span><i class=\"sw sw-unhealthy\"></i>unhealthy</span><span><i class=\"sw sw-not-applicable\"></i>not applicable</span><span><i class=\"sw sw-unknown\"></i>no status</span><span><i class=\"sw sw-change\"></i>a device change (app or OS version, address)</span><span>blank: no heartbeat read</span> · hover a bar or line for its times and status</p>";

fn has_timeline(r: &ScanReport) -> bool {
    r.timeline.iter().any(|t| !t.signals.is_empty())
}

/// The verdict, the top finding and its first fix, the notes, and whether personal data was
/// replaced.
fn summary(r: &ScanReport, s: &mut String) {
    s.push_str("<section id=\"summary\" class=\"summary\"><h2>Summary</h2><dl>");
    let verdict = match r.findings.len() {
        0 => verdict_word(r.verdict).to_owned(),
        n => format!("{}: {}", verdict_word(r.verdict), counted(n, "finding")),
    };
    let _ = write!(s, "<dt>Verdict</dt><dd>{}</dd>", esc(&verdict));
    if let Some(f) = r.findings.first() {
        let _ = write!(
            s,
            "<dt>Top finding</dt><dd><a href=\"#finding-1\">{}</a> ({}, layer {})</dd>",
            esc(&f.title),
            f.severity.as_str(),
            esc(&f.layer)
        );
        if let Some(fix) = f.fix.first() {
            let _ = write!(s, "<dt>First fix</dt><dd>{}</dd>", esc(fix));
        }
    }
    for note in &r.notes {
        let _ = write!(s, "<dt>Note</dt><dd>{}</dd>", esc(note));
    }
    let class = if r.redacted { "redacted" } else { "not-redacted" };
    let _ = write!(
        s,
        "<dt>Redaction</dt><dd><span class=\"redaction {class}\">{}</span></dd></dl></section>",
        esc(redaction_sentence(r))
    );
}

/// The table of contents: every section of the page, every finding.
fn contents(r: &ScanReport, s: &mut String) {
    s.push_str(
        "<nav id=\"contents\" aria-label=\"Contents\"><h2>Contents</h2><ol><li><a href=\"#summary\">Summary</a></li>",
    );
    if !r.findings.is_empty() {
        s.push_str("<li><a href=\"#findings\">Findings</a><ol>");
        for (i, f) in r.findings.iter().enumerate() {
            let _ = write!(s, "<li><a href=\"#finding-{}\">{}</a></li>", i + 1, esc(&f.title));
        }
        s.push_str("</ol></li>");
    }
    if has_timeline(r) {
        s.push_str("<li><a href=\"#timeline\">Timeline</a></li>");
    }
    if !r.checked.is_empty() {
        s.push_str("<li><a href=\"#checked\">Checked</a></li>");
    }
    s.push_str("<li><a href=\"#inputs\">Inputs</a></li>");
    if !r.warnings.is_empty() {
        s.push_str("<li><a href=\"#warnings\">Warnings</a></li>");
    }
    s.push_str("</ol></nav>");
}

fn finding(i: usize, f: &uctriage_rules::Finding, s: &mut String) {
    let codes: Vec<String> = f.codes.iter().map(|c| format!("<code>{}</code>", esc(&c.to_string()))).collect();
    let _ = write!(
        s,
        "<section class=\"finding {}\" id=\"finding-{}\"><h3>{}. {}</h3>",
        f.severity.as_str(),
        i + 1,
        i + 1,
        esc(&f.title)
    );
    let _ = write!(
        s,
        "<p class=\"meta\">{} · layer <b>{}</b> · family {} {} · seen {}, {} → {}</p>",
        f.severity.as_str(),
        esc(&f.layer),
        esc(&f.family),
        codes.join(" "),
        counted(f.count, "time"),
        ts(f.first_seen),
        ts(f.last_seen)
    );
    let _ = write!(s, "<p><b>Cause.</b> {}</p><p><b>Fix, in order:</b></p><ol>", esc(&f.cause));
    for step in &f.fix {
        let _ = write!(s, "<li>{}</li>", esc(step));
    }
    let records: u64 = f.evidence.iter().map(|e| e.count).sum();
    let _ = write!(
        s,
        "</ol><details><summary>Evidence: {}, {}</summary><table><thead><tr><th>Where</th><th>Time</th><th>Records</th><th>Excerpt</th></tr></thead><tbody>",
        counted(f.evidence.len(), "row"),
        counted(records, "record")
    );
    for e in &f.evidence {
        let note =
            if e.note.is_empty() { String::new() } else { format!("<br><span class=\"note\">{}</span>", esc(&e.note)) };
        let _ = write!(
            s,
            "<tr><td>{}<br><span class=\"meta\">{} · {}</span>{note}</td><td>{}</td><td>{}</td><td><span class=\"ex\">{}</span></td></tr>",
            esc(&e.path),
            esc(&e.location),
            esc(&e.kind),
            esc(&row_time(e)),
            e.count,
            esc(&e.excerpt)
        );
    }
    s.push_str("</tbody></table>");
    if let Some(omitted) = omitted_sentence(f) {
        let _ = write!(s, "<p class=\"meta\">{}</p>", esc(&omitted));
    }
    s.push_str("</details>");
    if !f.consequences.is_empty() {
        let _ = write!(s, "<p class=\"meta\">Also explains: {}</p>", esc(&f.consequences.join(", ")));
    }
    let refs: Vec<String> = f.references.iter().map(|u| format!("<a href=\"{0}\">{0}</a>", esc(u))).collect();
    if !refs.is_empty() {
        let _ = write!(s, "<p class=\"meta\">References: {}</p>", refs.join(" "));
    }
    s.push_str("</section>");
}

fn colour(state: &str) -> &'static str {
    match state {
        "healthy" => "#2e7d32",
        "unhealthy" => "#b3261e",
        "not-applicable" => "#b0b7c3",
        _ => "#e0e0e0",
    }
}

/// One row per signal, coloured spans along a shared time axis, markers where device attributes changed.
fn timeline_svg(t: &RoomTimeline) -> String {
    let spans = t.signals.values().flatten();
    let (Some(start), Some(end)) = (spans.clone().map(|s| s.from).min(), spans.map(|s| s.to).max()) else {
        return String::new();
    };
    let (w, left, row) = (1000.0_f64, 190.0_f64, 26.0_f64);
    let total = (end.as_second() - start.as_second()).max(1) as f64;
    let x = |t: jiff::Timestamp| left + (t.as_second() - start.as_second()) as f64 / total * (w - left - 10.0);
    let rows = t.signals.len() as f64;
    let h = rows * row + 40.0;
    let mut s = format!(
        "<h3>Signals of {}</h3><svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{w}\" height=\"{h}\" viewBox=\"0 0 {w} {h}\" role=\"img\" aria-label=\"heartbeat signal timeline\">",
        esc(&t.room)
    );
    for (i, (name, spans)) in t.signals.iter().enumerate() {
        let y = 10.0 + i as f64 * row;
        let _ = write!(s, "<text x=\"4\" y=\"{:.1}\">{}</text>", y + 14.0, esc(name));
        for sp in spans {
            let x0 = x(sp.from);
            let x1 = x(sp.to).max(x0 + 3.0);
            let _ = write!(
                s,
                "<rect x=\"{x0:.1}\" y=\"{y:.1}\" width=\"{:.1}\" height=\"{:.1}\" fill=\"{}\"><title>{} {} → {}: {}</title></rect>",
                x1 - x0,
                row - 6.0,
                colour(&sp.state),
                esc(name),
                ts(Some(sp.from)),
                ts(Some(sp.to)),
                esc(&sp.status)
            );
        }
    }
    for c in &t.changes {
        let cx = x(c.time);
        let _ = write!(
            s,
            "<line x1=\"{cx:.1}\" y1=\"4\" x2=\"{cx:.1}\" y2=\"{:.1}\" stroke=\"#1d2330\" stroke-dasharray=\"3,3\"><title>{}: {} → {} at {}</title></line>",
            rows * row + 10.0,
            esc(&c.what),
            esc(&c.from),
            esc(&c.to),
            ts(Some(c.time))
        );
    }
    let _ = write!(
        s,
        "<text x=\"{left}\" y=\"{:.1}\">{}</text><text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\">{}</text></svg>",
        h - 6.0,
        ts(Some(start)),
        w - 10.0,
        h - 6.0,
        ts(Some(end))
    );
    s
}
