//! `--redact`: personal data out of every string of a report, consistently.
//!
//! User names and e-mail addresses, IP addresses, tokens and secrets, GUIDs (tenant, device,
//! correlation and request IDs) and phone numbers become placeholders such as `<user-1>`; the same
//! value always gets the same placeholder, in every format of the same run.

use std::collections::HashMap;
use std::sync::OnceLock;

use regex::{Captures, Regex};

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
}
