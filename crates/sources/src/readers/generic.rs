//! Any text: a pasted snippet, an unknown log. Finds every code the knowledge base knows, in JSON
//! strings, URL-encoded redirect URLs and messages wrapped over two lines.

use uctriage_evidence::time;
use uctriage_kb::Code;

use super::{codes_in, Emitter, ReadError, Reader};
use crate::input::{Head, Input};

#[derive(Debug)]
pub struct GenericText;

/// The time at the start of a line, if the line starts with one (up to six words long).
pub fn leading_time(line: &str) -> Option<jiff::Timestamp> {
    let line = line.trim_start_matches(['[', '<', '"', ' ']);
    let words: Vec<&str> = line.splitn(7, ' ').take(6).collect();
    (1..=words.len()).rev().find_map(|n| {
        let candidate = words[..n].join(" ");
        let candidate = candidate.trim_end_matches([']', '>', ',', '|', ':', '"']);
        if candidate.len() < 8 {
            return None;
        }
        time::parse(candidate)
    })
}

/// Undo the escapes of a JSON string value that hide codes (`\"`, `\/`, `\u0027`).
fn unescape_json(line: &str) -> std::borrow::Cow<'_, str> {
    if line.contains('\\') {
        std::borrow::Cow::Owned(
            line.replace("\\\"", "\"").replace("\\/", "/").replace("\\u0027", "'").replace("\\n", " "),
        )
    } else {
        std::borrow::Cow::Borrowed(line)
    }
}

/// The first http(s) URL in a line, without the punctuation around it.
pub(super) fn first_url(line: &str) -> Option<&str> {
    let find = |p: &[u8]| memchr::memmem::find(line.as_bytes(), p);
    let at = match (find(b"http://"), find(b"https://")) {
        (Some(a), Some(b)) => a.min(b),
        (a, b) => a.or(b)?,
    };
    let rest = &line[at..];
    let end = rest
        .find(|c: char| c.is_whitespace() || matches!(c, '"' | '\'' | '<' | '>' | ')' | ']' | ','))
        .unwrap_or(rest.len());
    Some(rest[..end].trim_end_matches(['.', ';', ':']))
}

impl Reader for GenericText {
    fn format(&self) -> &'static str {
        "generic-text"
    }

    fn detect(&self, _name: &str, head: &Head<'_>) -> u8 {
        u8::from(head.textual())
    }

    fn read(&self, input: Input, out: &mut Emitter<'_>) -> Result<(), ReadError> {
        // A long line (a JSON document on one line) is read in pieces, not cut.
        let mut lines = input.into_lines().in_pieces();
        let mut line = String::new();
        let mut prev = String::new();
        let mut prev_codes = Vec::new();
        while let Some(info) =
            lines.next_line(&mut line).map_err(|e| ReadError::new(format!("line {}", 1), e.to_string()))?
        {
            let text = unescape_json(&line);
            let mut codes = codes_in(&text);
            // A message wrapped over two lines: look at the pair for what neither line holds alone.
            if !prev.is_empty() {
                let joined = format!("{} {}", prev.trim_end(), text.trim_start());
                for c in codes_in(&joined) {
                    if !codes.contains(&c) && !prev_codes.contains(&c) {
                        codes.push(c);
                    }
                }
            }
            if !codes.is_empty() {
                let mut e = out.evidence(format!("line {}", info.number));
                e.time = leading_time(&line);
                e.kind = "log-line".into();
                e.source = "text".into();
                e.add_codes(codes.iter().cloned());
                // An HTTP status belongs to the call the line names.
                if codes.iter().any(|c| matches!(c, Code::Http(_))) {
                    if let Some(url) = first_url(&line) {
                        e.field("url", url);
                    }
                }
                e.set_excerpt(&line);
                out.emit(e);
            }
            prev_codes = codes;
            prev.clear();
            prev.push_str(&text);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls() {
        assert_eq!(
            first_url("GET https://graph.microsoft.com/v1.0/me, status=403"),
            Some("https://graph.microsoft.com/v1.0/me")
        );
        assert_eq!(first_url("(\"http://x.test/a\")."), Some("http://x.test/a"));
        assert_eq!(first_url("no address here"), None);
    }

    #[test]
    fn leading_times() {
        let t = |s: &str| leading_time(s).map(time::rfc3339);
        assert_eq!(t("2025-07-15 08:30:11.123 ERROR x"), Some("2025-07-15T08:30:11Z".into()));
        assert_eq!(t("[2025-07-15T08:30:11Z] x"), Some("2025-07-15T08:30:11Z".into()));
        assert_eq!(t("Tue Jul 15 2025 10:30:11 GMT+0200 (CEST) <1234> -- error"), Some("2025-07-15T08:30:11Z".into()));
        assert_eq!(t("no time here AADSTS50076"), None);
    }
}
