//! Charts drawn on the server as inline SVG: a signal's states over a time span.

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
}
