//! Our own `uctriage evidence` output read back: JSON Lines, one evidence record a line.
//!
//! This lets a stored or forwarded set of records be scanned again (written with
//! `uctriage evidence bundle.zip`, scanned later with `uctriage scan records.jsonl`), and lets
//! records be cut with `jq` first.
//!
//! Records keep what they were. Their `path`, `format`, `location`, `time`, `source`, `kind`,
//! `codes`, `fields` and `excerpt` are those written, not this file's path and `evidence-jsonl`:
//! [`Emitter::emit`] passes a record on as it is given, and only [`Emitter::evidence`] fills in
//! the input being read, so this reader builds each record from the line instead of from the
//! emitter. Findings then point at the original files, and rules that look within a container
//! (`requires`, `unless`, `boost`) see the original containers. This file itself is named in the
//! input list (format `evidence-jsonl`) and in the warnings.
//!
//! A line that is not a record is a warning naming the line, and reading goes on. Lines are cut
//! at [`MAX_LINE`](crate::input::MAX_LINE) (1 MiB); a longer line is skipped with a warning, so a
//! hostile file cannot make one line fill memory. Format names read back are interned by
//! [`uctriage_evidence::intern_format`].

use uctriage_evidence::Evidence;

use super::{Emitter, ReadError, Reader};
use crate::input::{Head, Input};

#[derive(Debug)]
pub struct EvidenceJsonl;

/// Keys every record of `uctriage evidence` has; the first line must have them all.
const KEYS: [&str; 5] = ["path", "format", "location", "kind", "codes"];

impl Reader for EvidenceJsonl {
    fn format(&self) -> &'static str {
        "evidence-jsonl"
    }

    fn detect(&self, _name: &str, head: &Head<'_>) -> u8 {
        let text = head.text();
        // The first non-empty line (a first line longer than the head is not detected).
        let Some(first) = text.trim_start_matches('\u{feff}').lines().map(str::trim).find(|l| !l.is_empty()) else {
            return 0;
        };
        if !first.starts_with('{') {
            return 0;
        }
        match serde_json::from_str::<serde_json::Map<String, serde_json::Value>>(first) {
            Ok(map) if KEYS.iter().all(|k| map.contains_key(*k)) => 99,
            _ => 0,
        }
    }

    fn read(&self, input: Input, out: &mut Emitter<'_>) -> Result<(), ReadError> {
        let mut lines = input.into_lines();
        let mut line = String::new();
        let mut number = 0;
        while let Some(info) =
            lines.next_line(&mut line).map_err(|e| ReadError::new(format!("line {}", number + 1), e.to_string()))?
        {
            number = info.number;
            let place = format!("line {number}");
            if info.truncated {
                out.warn(place, "line longer than 1 MiB: skipped");
                continue;
            }
            let text = line.trim();
            if text.is_empty() {
                continue;
            }
            match serde_json::from_str::<Evidence>(text) {
                Ok(e) => out.emit(e),
                Err(e) => out.warn(place, format!("not an evidence record: {e}")),
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detected_by_the_keys_of_the_first_line() {
        let line = br#"{"path":"a.log","format":"generic-text","location":"line 1","time":null,"source":"text","kind":"log-line","codes":["AADSTS50076"],"fields":{},"excerpt":"x"}"#;
        assert_eq!(EvidenceJsonl.detect("records.jsonl", &Head::new(line)), 99);
        let mut padded = b"\n  \n".to_vec();
        padded.extend_from_slice(line);
        assert_eq!(EvidenceJsonl.detect("x.txt", &Head::new(&padded)), 99);
        assert_eq!(
            EvidenceJsonl.detect("x.json", &Head::new(br#"{"path":"a","format":"b","location":"c","kind":"d"}"#)),
            0
        );
        assert_eq!(EvidenceJsonl.detect("x.json", &Head::new(br#"[{"path":"a"}]"#)), 0);
        assert_eq!(EvidenceJsonl.detect("x.json", &Head::new(b"{not json")), 0);
        assert_eq!(EvidenceJsonl.detect("x.json", &Head::new(b"")), 0);
    }
}
