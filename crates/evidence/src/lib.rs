//! Evidence: the one normalized record every reader produces and every rule consumes.
//!
//! A record says where it came from (`path`, `format`, `location`), when (`time`, UTC), which log
//! (`source`), what it is (`kind`), which codes it carries (canonical [`Code`]s), what the reader
//! extracted (`fields`) and a short `excerpt` of the original text.

pub mod time;

use std::collections::BTreeMap;

use serde::{Serialize, Serializer};
pub use uctriage_kb::Code;

pub use jiff::Timestamp;

/// Longest excerpt kept, in characters.
pub const EXCERPT_MAX: usize = 400;

/// One normalized piece of evidence.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Evidence {
    /// Input path; inside containers `bundle.zip!Windows/EventLog/x.evtx`.
    pub path: String,
    /// Reader that produced the record (`evtx`, `event-xml`, `teams-log`, `sip-trace`…).
    pub format: &'static str,
    /// Where in the input: `record 881`, `line 12`, `row 4`, `packet 7`.
    pub location: String,
    /// When the source says it happened, in UTC; `null` when the source has no time.
    #[serde(serialize_with = "ser_time")]
    pub time: Option<Timestamp>,
    /// Channel, provider or log name.
    pub source: String,
    /// What the record is: `heartbeat`, `aad-error`, `sign-in`, `sip`, `dsregcmd`, `event`, `log-line`…
    pub kind: String,
    /// Codes in canonical form, without duplicates, in order of appearance.
    pub codes: Vec<Code>,
    /// What the reader extracted, by field name.
    pub fields: BTreeMap<String, serde_json::Value>,
    /// The original text, shortened.
    pub excerpt: String,
}

fn ser_time<S: Serializer>(t: &Option<Timestamp>, s: S) -> Result<S::Ok, S::Error> {
    match t {
        Some(t) => s.collect_str(&time::rfc3339(*t)),
        None => s.serialize_none(),
    }
}

impl Evidence {
    /// A record with the place filled in and everything else empty.
    pub fn new(path: &str, format: &'static str, location: impl Into<String>) -> Self {
        Evidence {
            path: path.to_owned(),
            format,
            location: location.into(),
            time: None,
            source: String::new(),
            kind: String::new(),
            codes: Vec::new(),
            fields: BTreeMap::new(),
            excerpt: String::new(),
        }
    }

    /// Add a code unless it is already there.
    pub fn add_code(&mut self, code: Code) {
        if !self.codes.contains(&code) {
            self.codes.push(code);
        }
    }

    /// Add every code in the iterator, keeping order and dropping repeats.
    pub fn add_codes(&mut self, codes: impl IntoIterator<Item = Code>) {
        for c in codes {
            self.add_code(c);
        }
    }

    /// Set a field; empty strings are skipped so records stay readable.
    pub fn field(&mut self, name: &str, value: impl Into<serde_json::Value>) -> &mut Self {
        let v = value.into();
        if !matches!(&v, serde_json::Value::String(s) if s.is_empty()) && !v.is_null() {
            self.fields.insert(name.to_owned(), v);
        }
        self
    }

    /// A string field, if present.
    pub fn get_str(&self, name: &str) -> Option<&str> {
        self.fields.get(name).and_then(serde_json::Value::as_str)
    }

    /// Set the excerpt from original text: whitespace collapsed, cut at [`EXCERPT_MAX`] characters.
    pub fn set_excerpt(&mut self, text: &str) {
        self.excerpt = excerpt(text);
    }
}

/// Collapse whitespace and shorten to [`EXCERPT_MAX`] characters (on a character boundary).
pub fn excerpt(text: &str) -> String {
    let mut out = String::with_capacity(text.len().min(EXCERPT_MAX + 4));
    let mut n = 0;
    for word in text.split_whitespace() {
        if n > 0 {
            out.push(' ');
            n += 1;
        }
        let width = if word.is_ascii() { word.len() } else { word.chars().count() };
        if n + width <= EXCERPT_MAX {
            out.push_str(word);
            n += width;
            continue;
        }
        for ch in word.chars() {
            if n >= EXCERPT_MAX {
                out.push('…');
                return out;
            }
            out.push(ch);
            n += 1;
        }
    }
    out
}

/// A problem with one input that did not stop the rest: the file and the place, and what went wrong.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Warning {
    pub path: String,
    /// Where in the input (`byte 4096`, `line 12`, `chunk 3`), or empty for the whole input.
    pub place: String,
    pub message: String,
}

impl std::fmt::Display for Warning {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.place.is_empty() {
            write!(f, "{}: {}", self.path, self.message)
        } else {
            write!(f, "{}: {}: {}", self.path, self.place, self.message)
        }
    }
}

/// Where readers put what they find. Rules and the `evidence` printer implement it.
pub trait Sink {
    fn record(&mut self, evidence: Evidence);
}

impl Sink for Vec<Evidence> {
    fn record(&mut self, evidence: Evidence) {
        self.push(evidence);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn excerpt_collapses_and_cuts_on_char_boundaries() {
        assert_eq!(excerpt("  a \n\t b  "), "a b");
        let long = "é".repeat(EXCERPT_MAX + 10);
        let e = excerpt(&long);
        assert_eq!(e.chars().count(), EXCERPT_MAX + 1);
        assert!(e.ends_with('…'));
    }

    #[test]
    fn record_serializes_time_as_utc_and_null() {
        let mut e = Evidence::new("a.log", "generic-text", "line 1");
        let j = serde_json::to_value(&e).unwrap();
        assert!(j["time"].is_null());
        e.time = time::parse("2025-07-15T10:30:11+02:00");
        e.add_code(Code::Aadsts(50076));
        e.add_code(Code::Aadsts(50076));
        let j = serde_json::to_value(&e).unwrap();
        assert_eq!(j["time"], "2025-07-15T08:30:11Z");
        assert_eq!(j["codes"], serde_json::json!(["AADSTS50076"]));
    }
}
