//! Charts drawn on the server as inline SVG: a signal's states over a time span, percentages by
//! day, a room's days as a row of squares.

use std::fmt::Write as _;

/// Text made safe inside SVG markup.
fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c if c.is_control() => {}
            c => out.push(c),
        }
    }
    out
}

/// One stretch of a signal in one state.
#[derive(Debug, Clone, PartialEq)]
pub struct Span {
    pub from_ms: i64,
    pub to_ms: i64,
    pub state: String,
}

/// The stretches inside `[from_ms, to_ms)` given a signal's changes (time, new state), oldest
/// first. Before the first change the state is `unknown`.
pub fn spans(changes: &[(i64, String)], from_ms: i64, to_ms: i64) -> Vec<Span> {
    let mut out: Vec<Span> = Vec::new();
    let mut state = changes.iter().take_while(|(at, _)| *at <= from_ms).last().map_or("unknown", |(_, s)| s.as_str());
    let mut at = from_ms;
    for (t, s) in changes.iter().filter(|(t, _)| *t > from_ms && *t < to_ms) {
        if s != state {
            out.push(Span { from_ms: at, to_ms: *t, state: state.to_owned() });
            at = *t;
            state = s;
        }
    }
    out.push(Span { from_ms: at, to_ms, state: state.to_owned() });
    out.retain(|s| s.to_ms > s.from_ms);
    out
}

fn class_of(state: &str) -> &'static str {
    match state {
        "healthy" => "ok",
        "unhealthy" => "bad",
        "offline" => "off",
        "warning" => "warn",
        _ => "na",
    }
}

/// A bar of `spans` across `[from_ms, to_ms)`, with a `<title>` per stretch for the exact
/// times, and `marks` (time, label) drawn as ticks, e.g. version changes.
pub fn timeline(label: &str, spans: &[Span], from_ms: i64, to_ms: i64, marks: &[(i64, String)]) -> String {
    const W: f64 = 600.0;
    const H: f64 = 18.0;
    #[allow(clippy::cast_precision_loss)]
    let x = |t: i64| ((t - from_ms) as f64 / (to_ms - from_ms).max(1) as f64 * W).clamp(0.0, W);
    let mut svg = format!(
        "<svg class=\"timeline\" viewBox=\"0 0 {W} {}\" preserveAspectRatio=\"none\" role=\"img\" aria-label=\"{}\">",
        H + 6.0,
        esc(label)
    );
    for s in spans {
        let (a, b) = (x(s.from_ms), x(s.to_ms));
        let _ = write!(
            svg,
            "<rect class=\"{}\" x=\"{a:.2}\" y=\"0\" width=\"{:.2}\" height=\"{H}\"><title>{}: {} to {}</title></rect>",
            class_of(&s.state),
            (b - a).max(0.5),
            esc(&s.state),
            crate::fleet::rfc3339(s.from_ms),
            crate::fleet::rfc3339(s.to_ms),
        );
    }
    for (t, what) in marks.iter().filter(|(t, _)| *t >= from_ms && *t < to_ms) {
        let _ = write!(
            svg,
            "<line class=\"mark\" x1=\"{0:.2}\" x2=\"{0:.2}\" y1=\"0\" y2=\"{1}\"><title>{2} at {3}</title></line>",
            x(*t),
            H + 6.0,
            esc(what),
            crate::fleet::rfc3339(*t)
        );
    }
    svg.push_str("</svg>");
    svg
}

/// How each series of a line chart is told apart: a colour and a dash pattern, so the lines
/// differ without colour too.
const SERIES: [(&str, &str); 6] = [
    ("#0550ae", ""),
    ("#cf222e", "8 4"),
    ("#1a7f37", "2 3"),
    ("#8250df", "10 3 2 3"),
    ("#bc4c00", "4 4"),
    ("#57606a", "1 5"),
];

/// A line chart of percentages by day: one line per series, the days along the bottom, a
/// legend under the plot, and a `<title>` on every point with its exact value. The y axis
/// starts at 0, or lower tens below the lowest value when every value is high.
pub fn percent_chart(label: &str, dates: &[String], series: &[(String, Vec<f64>)]) -> String {
    const W: f64 = 760.0;
    const LEFT: f64 = 44.0;
    const RIGHT: f64 = 12.0;
    const TOP: f64 = 10.0;
    const PLOT_H: f64 = 180.0;
    let lowest = series.iter().flat_map(|(_, v)| v.iter().copied()).fold(100.0_f64, f64::min);
    let y_min = ((lowest / 10.0).floor() * 10.0).clamp(0.0, 90.0);
    let rows = series.len().div_ceil(3);
    #[allow(clippy::cast_precision_loss)]
    let h = TOP + PLOT_H + 28.0 + rows as f64 * 18.0;
    #[allow(clippy::cast_precision_loss)]
    let x = |i: usize| {
        if dates.len() <= 1 {
            LEFT + (W - LEFT - RIGHT) / 2.0
        } else {
            LEFT + i as f64 / (dates.len() - 1) as f64 * (W - LEFT - RIGHT)
        }
    };
    let y = |v: f64| TOP + (100.0 - v.clamp(y_min, 100.0)) / (100.0 - y_min).max(1.0) * PLOT_H;
    let mut svg = format!(
        "<svg class=\"chart\" viewBox=\"0 0 {W} {h}\" width=\"{W}\" height=\"{h}\" role=\"img\" aria-label=\"{}\">",
        esc(label)
    );
    // Grid lines and their percentages.
    let mut g = 100.0;
    while g >= y_min {
        let _ = write!(
            svg,
            "<line x1=\"{LEFT}\" x2=\"{x2:.1}\" y1=\"{gy:.1}\" y2=\"{gy:.1}\" stroke=\"#d0d7de\" stroke-width=\"1\"/>\
             <text x=\"{tx:.1}\" y=\"{ty:.1}\" font-size=\"11\" text-anchor=\"end\" fill=\"#57606a\">{g}%</text>",
            x2 = W - RIGHT,
            gy = y(g),
            tx = LEFT - 6.0,
            ty = y(g) + 4.0,
        );
        g -= if 100.0 - y_min > 50.0 { 20.0 } else { 5.0 };
    }
    // The days: every one when few, else about seven of them.
    let step = dates.len().div_ceil(7).max(1);
    for (i, d) in dates.iter().enumerate() {
        if i % step == 0 || i + 1 == dates.len() {
            // The last label ends at its point, so it stays inside the picture.
            let anchor = if i + 1 == dates.len() && dates.len() > 1 { "end" } else { "middle" };
            let _ = write!(
                svg,
                "<text x=\"{:.1}\" y=\"{:.1}\" font-size=\"11\" text-anchor=\"{anchor}\" fill=\"#57606a\">{}</text>",
                x(i),
                TOP + PLOT_H + 16.0,
                esc(d.get(5..).unwrap_or(d)),
            );
        }
    }
    for (n, (name, values)) in series.iter().enumerate() {
        let (colour, dash) = SERIES[n % SERIES.len()];
        let dash = if dash.is_empty() { String::new() } else { format!(" stroke-dasharray=\"{dash}\"") };
        let points: Vec<String> = values.iter().enumerate().map(|(i, v)| format!("{:.1},{:.1}", x(i), y(*v))).collect();
        let _ = write!(
            svg,
            "<polyline class=\"series\" fill=\"none\" stroke=\"{colour}\" stroke-width=\"2\"{dash} points=\"{}\"><title>{}</title></polyline>",
            points.join(" "),
            esc(name)
        );
        for (i, v) in values.iter().enumerate() {
            let _ = write!(
                svg,
                "<circle cx=\"{:.1}\" cy=\"{:.1}\" r=\"3\" fill=\"{colour}\"><title>{}, {}: {v}%</title></circle>",
                x(i),
                y(*v),
                esc(name),
                esc(dates.get(i).map_or("", String::as_str)),
            );
        }
        #[allow(clippy::cast_precision_loss)]
        let (lx, ly) = (LEFT + (n % 3) as f64 * 240.0, TOP + PLOT_H + 40.0 + (n / 3) as f64 * 18.0);
        let _ = write!(
            svg,
            "<line x1=\"{lx:.1}\" x2=\"{:.1}\" y1=\"{ly:.1}\" y2=\"{ly:.1}\" stroke=\"{colour}\" stroke-width=\"2\"{dash}/>\
             <text class=\"legend\" x=\"{:.1}\" y=\"{:.1}\" font-size=\"12\" fill=\"#1b1f24\">{}</text>",
            lx + 30.0,
            lx + 36.0,
            ly + 4.0,
            esc(name)
        );
    }
    svg.push_str("</svg>");
    svg
}

/// One day of a room's calendar row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DayCell {
    pub date: String,
    pub unhealthy: bool,
    /// Minutes of serious incidents in the working hours.
    pub minutes: i64,
}

/// A room's days as squares: one row for up to 31 days, else a column a week (seven days, oldest
/// first) as on a calendar. Unhealthy days are red with a cross, days with some trouble amber
/// with a dot, others green; each square's `<title>` says the date and minutes.
pub fn heat_row(label: &str, days: &[DayCell]) -> String {
    const CELL: usize = 14;
    const STEP: usize = 16;
    let per_column = if days.len() > 31 { 7 } else { 1 };
    let (cols, rows) = if per_column == 1 { (days.len(), 1) } else { (days.len().div_ceil(7), 7) };
    let w = (cols * STEP).max(CELL);
    let h = rows * STEP - (STEP - CELL);
    let mut svg = format!(
        "<svg class=\"heat\" viewBox=\"0 0 {w} {h}\" width=\"{w}\" height=\"{h}\" role=\"img\" aria-label=\"{}\">",
        esc(label)
    );
    for (i, d) in days.iter().enumerate() {
        let (x0, y0) = if per_column == 1 { (i * STEP, 0) } else { (i / 7 * STEP, i % 7 * STEP) };
        let (fill, what, class) = if d.unhealthy {
            ("#cf222e", "unhealthy", "bad")
        } else if d.minutes > 0 {
            ("#d4a72c", "some trouble", "warn")
        } else {
            ("#4ac26b", "fine", "ok")
        };
        let _ = write!(
            svg,
            "<g class=\"day {class}\"><rect x=\"{x0}\" y=\"{y0}\" width=\"{CELL}\" height=\"{CELL}\" rx=\"2\" fill=\"{fill}\"/>"
        );
        if d.unhealthy {
            let _ = write!(
                svg,
                "<path d=\"M{a} {b} L{c} {e} M{c} {b} L{a} {e}\" stroke=\"#ffffff\" stroke-width=\"2\"/>",
                a = x0 + 3,
                b = y0 + 3,
                c = x0 + 11,
                e = y0 + 11
            );
        } else if d.minutes > 0 {
            let _ = write!(svg, "<circle cx=\"{}\" cy=\"{}\" r=\"2.5\" fill=\"#1b1f24\"/>", x0 + 7, y0 + 7);
        }
        let _ = write!(svg, "<title>{}: {what}, {} working minutes affected</title></g>", esc(&d.date), d.minutes);
    }
    svg.push_str("</svg>");
    svg
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spans_follow_the_changes_inside_the_window() {
        let changes = vec![(0, "healthy".to_owned()), (50, "unhealthy".to_owned()), (80, "healthy".to_owned())];
        let s = spans(&changes, 10, 100);
        assert_eq!(
            s.iter().map(|s| (s.from_ms, s.to_ms, s.state.as_str())).collect::<Vec<_>>(),
            [(10, 50, "healthy"), (50, 80, "unhealthy"), (80, 100, "healthy")]
        );
        assert_eq!(spans(&[], 0, 10)[0].state, "unknown");
    }

    #[test]
    fn log_text_in_a_chart_is_escaped() {
        let svg = timeline(
            "<script>",
            &[Span { from_ms: 0, to_ms: 10, state: "<img onerror=x>".into() }],
            0,
            10,
            &[(5, "app \"5.2\" <b>".into())],
        );
        assert!(!svg.contains("<script>") && !svg.contains("<img") && !svg.contains("<b>"), "{svg}");
    }

    #[test]
    fn charts_escape_their_labels_and_draw_every_point() {
        let svg = percent_chart(
            "<script>",
            &["2025-07-14".into(), "2025-07-15".into()],
            &[("<b>net</b>".into(), vec![99.5, 100.0]), ("exchange".into(), vec![100.0, 80.0])],
        );
        assert!(!svg.contains("<script>") && !svg.contains("<b>"), "{svg}");
        assert_eq!(svg.matches("<circle").count(), 4);
        assert_eq!(svg.matches("<polyline").count(), 2);
        let one = percent_chart("one day", &["2025-07-15".into()], &[("network".into(), vec![100.0])]);
        assert!(!one.contains("NaN"), "{one}");
        let heat = heat_row(
            "room <img>",
            &[
                DayCell { date: "2025-07-14".into(), unhealthy: true, minutes: 45 },
                DayCell { date: "<i>".into(), unhealthy: false, minutes: 0 },
            ],
        );
        assert!(!heat.contains("<img") && !heat.contains("<i>"), "{heat}");
        assert_eq!(heat.matches("<rect").count(), 2);
        assert!(heat.contains("unhealthy, 45 working minutes"));
        let days: Vec<DayCell> =
            (0..90).map(|i| DayCell { date: format!("d{i}"), unhealthy: false, minutes: 0 }).collect();
        let quarter = heat_row("90 days", &days);
        assert!(quarter.contains("width=\"208\" height=\"110\""), "13 weeks of 7 days: {quarter}");
    }
}
