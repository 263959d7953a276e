//! A single HTML file: inline CSS, inline SVG, no scripts, no external assets.

use std::fmt::Write as _;

use uctriage_rules::RoomTimeline;

use crate::text::counted;
use crate::{ts, verdict_word, ScanReport};

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
.finding{border:1px solid #d5d9e0;border-left:6px solid #999;border-radius:6px;padding:.6em 1em;margin:1em 0}\
.critical{border-left-color:#b3261e}.error{border-left-color:#e65100}.warning{border-left-color:#f9a825}.info{border-left-color:#0277bd}\
.meta{color:#555}code,.ex{font-family:ui-monospace,monospace;font-size:.92em}.ex{background:#f4f6f9;padding:.2em .4em;display:block;white-space:pre-wrap;word-break:break-all}\
table{border-collapse:collapse;width:100%}td,th{border-bottom:1px solid #e3e6eb;padding:.25em .5em;text-align:left;vertical-align:top}\
svg text{font:11px system-ui,sans-serif}";

/// The HTML report.
pub fn html(r: &ScanReport) -> String {
    let mut s = String::new();
    let v = verdict_word(r.verdict);
    let _ = write!(
        s,
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>uctriage scan: {v}</title><style>{CSS}</style></head><body>"
    );
    let _ = write!(s, "<h1>uctriage scan <span class=\"verdict v-{v}\">{v}</span></h1>");
    let _ = write!(
        s,
        "<p class=\"meta\">{}, {}, {}, {} ms · uctriage {}</p>",
        counted(r.stats.files, "file"),
        counted(r.stats.records, "record"),
        counted(r.stats.bytes, "byte"),
        r.stats.elapsed_ms,
        esc(&r.tool_version)
    );
    for note in &r.notes {
        let _ = write!(s, "<p>{}</p>", esc(note));
    }
    if !r.checked.is_empty() {
        let _ = write!(s, "<section class=\"checked\"><h2>Checked</h2><ul>");
        for c in &r.checked {
            let _ = write!(s, "<li>{}</li>", esc(c));
        }
        let _ = write!(s, "</ul></section>");
    }
    for (i, f) in r.findings.iter().enumerate() {
        let codes: Vec<String> = f.codes.iter().map(|c| format!("<code>{}</code>", esc(&c.to_string()))).collect();
        let _ = write!(s, "<section class=\"finding {}\"><h2>{}. {}</h2>", f.severity.as_str(), i + 1, esc(&f.title));
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
        let _ = write!(s, "<p><b>Cause.</b> {}</p><ol>", esc(&f.cause));
        for step in &f.fix {
            let _ = write!(s, "<li>{}</li>", esc(step));
        }
        s.push_str(
            "</ol><details open><summary>Evidence</summary><table><tr><th>Where</th><th>Time</th><th>Excerpt</th></tr>",
        );
        for e in &f.evidence {
            let _ = write!(
                s,
                "<tr><td>{}<br><span class=\"meta\">{} · {}</span></td><td>{}</td><td><span class=\"ex\">{}</span></td></tr>",
                esc(&e.path),
                esc(&e.location),
                esc(&e.kind),
                ts(e.time),
                esc(&e.excerpt)
            );
        }
        s.push_str("</table></details>");
        if !f.consequences.is_empty() {
            let _ = write!(s, "<p class=\"meta\">Also explains: {}</p>", esc(&f.consequences.join(", ")));
        }
        let refs: Vec<String> = f.references.iter().map(|u| format!("<a href=\"{0}\">{0}</a>", esc(u))).collect();
        if !refs.is_empty() {
            let _ = write!(s, "<p class=\"meta\">References: {}</p>", refs.join(" "));
        }
        s.push_str("</section>");
    }
    for t in &r.timeline {
        s.push_str(&timeline_svg(t));
    }
    s.push_str("<h2>Inputs</h2><table><tr><th>Path</th><th>Format</th><th>Records</th><th>Warnings</th></tr>");
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
    s.push_str("</table>");
    if !r.warnings.is_empty() {
        s.push_str("<h2>Warnings</h2><ul>");
        for w in &r.warnings {
            let _ = write!(s, "<li>{}</li>", esc(w));
        }
        s.push_str("</ul>");
    }
    s.push_str("</body></html>\n");
    s
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
        "<h2>Signals of {}</h2><svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{w}\" height=\"{h}\" viewBox=\"0 0 {w} {h}\" role=\"img\" aria-label=\"heartbeat signal timeline\">",
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
            c.what,
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
