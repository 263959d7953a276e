//! Evidence: the one normalized record every reader produces and every rule consumes.
//!
//! A record says where it came from (`path`, `format`, `location`), when (`time`, UTC), which log
//! (`source`), what it is (`kind`), which codes it carries (canonical [`Code`]s), what the reader
//! extracted (`fields`) and a short `excerpt` of the original text.
//!
//! Records, warnings and input reports serialize to JSON and read back (`uctriage evidence`
//! output, stored reports).

mod fields;
pub mod time;

pub use fields::{FieldName, Fields};

use std::borrow::Cow;
use std::collections::BTreeSet;
use std::sync::Mutex;

use serde::{Deserialize, Deserializer, Serialize};
pub use uctriage_kb::Code;

pub use jiff::Timestamp;

/// `n` and a noun, in the singular for exactly one: `counted(1, "record")` is "1 record",
/// `counted(3, "record")` "3 records". Every count a person reads goes through this or
/// [`counted_as`], so that no output says "1 findings".
pub fn counted<N: Copy + std::fmt::Display + PartialEq + From<u8>>(n: N, noun: &str) -> String {
    if n == N::from(1) {
        format!("1 {noun}")
    } else {
        format!("{n} {noun}s")
    }
}

/// [`counted`] for a noun whose plural is not made with `s`: `counted_as(2, "entry", "entries")`.
pub fn counted_as<N: Copy + std::fmt::Display + PartialEq + From<u8>>(n: N, one: &str, many: &str) -> String {
    if n == N::from(1) {
        format!("1 {one}")
    } else {
        format!("{n} {many}")
    }
}

/// Longest excerpt kept, in characters.
pub const EXCERPT_MAX: usize = 400;

/// One normalized piece of evidence.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Evidence {
    /// Input path; inside containers `bundle.zip!Windows/EventLog/x.evtx`.
    pub path: String,
    /// Reader that produced the record (`evtx`, `event-xml`, `teams-log`, `sip-trace`…). Read
    /// back from JSON through [`intern_format`].
    pub format: &'static str,
    /// Where in the input: `record 881`, `line 12`, `row 4`, `packet 7`.
    pub location: String,
    /// When the source says it happened, in UTC; `null` when the source has no time.
    #[serde(with = "time::serde_rfc3339_precise_opt")]
    pub time: Option<Timestamp>,
    /// Channel, provider or log name.
    pub source: String,
    /// What the record is: `heartbeat`, `aad-error`, `sign-in`, `sip`, `dsregcmd`, `event`, `log-line`…
    pub kind: String,
    /// Codes in canonical form, without duplicates, in order of appearance.
    pub codes: Vec<Code>,
    /// What the reader extracted, by field name.
    pub fields: Fields,
    /// The original text, shortened.
    pub excerpt: String,
}

/// [`Evidence`] as read from JSON: the same fields, with the format name borrowed until it is
/// interned (serde's derive would tie a `&'static str` field to `'static` input). `time`,
/// `source`, `fields` and `excerpt` may be left out.
#[derive(Deserialize)]
#[serde(rename = "Evidence")]
struct StoredEvidence<'a> {
    path: String,
    #[serde(borrow)]
    format: Cow<'a, str>,
    location: String,
    #[serde(with = "time::serde_rfc3339_opt", default)]
    time: Option<Timestamp>,
    #[serde(default)]
    source: String,
    kind: String,
    codes: Vec<Code>,
    #[serde(default)]
    fields: Fields,
    #[serde(default)]
    excerpt: String,
}

impl<'de> Deserialize<'de> for Evidence {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let StoredEvidence { path, format, location, time, source, kind, codes, fields, excerpt } =
            StoredEvidence::deserialize(d)?;
        Ok(Evidence { path, format: intern_format(&format), location, time, source, kind, codes, fields, excerpt })
    }
}

/// Different format names [`intern_format`] keeps; more names read back share [`FALLBACK_FORMAT`].
pub const FORMATS_INTERNED: usize = 256;

/// The format given to a read-back record whose format name cannot be kept (too many different
/// names, or a name longer than 64 bytes): the name of the reader of stored records.
pub const FALLBACK_FORMAT: &str = "evidence-jsonl";

/// The `&'static` copy of a format name read back from JSON.
///
/// Readers name their format with a string literal, so records carry a `&'static str` that costs
/// no allocation. Records read back from JSON get their name here: each different name is leaked
/// once and reused, at most [`FORMATS_INTERNED`] of them, so hostile input cannot grow memory;
/// past the cap (or for an overlong name) the record's format is [`FALLBACK_FORMAT`].
pub fn intern_format(name: &str) -> &'static str {
    static NAMES: Mutex<FormatNames> = Mutex::new(FormatNames(BTreeSet::new()));
    NAMES.lock().unwrap_or_else(std::sync::PoisonError::into_inner).intern(name)
}

/// The format names kept so far.
struct FormatNames(BTreeSet<&'static str>);

impl FormatNames {
    fn intern(&mut self, name: &str) -> &'static str {
        if name == FALLBACK_FORMAT || name.len() > 64 {
            return FALLBACK_FORMAT;
        }
        if let Some(known) = self.0.get(name) {
            return known;
        }
        if self.0.len() >= FORMATS_INTERNED {
            return FALLBACK_FORMAT;
        }
        let kept: &'static str = Box::leak(name.to_owned().into_boxed_str());
        self.0.insert(kept);
        kept
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
            fields: Fields::new(),
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
    pub fn field(&mut self, name: impl Into<FieldName>, value: impl Into<serde_json::Value>) -> &mut Self {
        let v = value.into();
        if !matches!(&v, serde_json::Value::String(s) if s.is_empty()) && !v.is_null() {
            self.fields.insert(name, v);
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
    if collapsed(text) {
        return text.to_owned();
    }
    excerpt_ascii(text).unwrap_or_else(|| excerpt_chars(text))
}

/// Whether the excerpt of `text` is `text` itself: ASCII, no longer than [`EXCERPT_MAX`], its
/// words one space apart with none before or after (as readers mostly build their excerpts).
/// A test at a few instructions a byte, where collapsing copies word by word.
fn collapsed(text: &str) -> bool {
    let b = text.as_bytes();
    if b.len() > EXCERPT_MAX {
        return false;
    }
    // A space is allowed only after a word.
    let mut after_space = true;
    for &c in b {
        if c == b' ' {
            if after_space {
                return false;
            }
            after_space = true;
        } else if !c.is_ascii() || ascii_space(c) {
            return false;
        } else {
            after_space = false;
        }
    }
    b.is_empty() || !after_space
}

/// Whether a byte is whitespace to `char::is_whitespace` (tab, line feed, vertical tab, form
/// feed, carriage return, space). Only meaningful for ASCII bytes.
fn ascii_space(b: u8) -> bool {
    b == b' ' || (b'\t'..=b'\r').contains(&b)
}

/// [`excerpt`] byte by byte, for text whose part it reads is ASCII (one byte, one character);
/// `None` as soon as it meets any other byte, to leave the text to [`excerpt_chars`].
fn excerpt_ascii(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut out = String::with_capacity(text.len().min(EXCERPT_MAX + 4));
    let mut n = 0;
    let mut i = 0;
    loop {
        while i < bytes.len() && ascii_space(bytes[i]) {
            i += 1;
        }
        if i == bytes.len() {
            return Some(out);
        }
        let start = i;
        while i < bytes.len() && !ascii_space(bytes[i]) {
            if !bytes[i].is_ascii() {
                return None;
            }
            i += 1;
        }
        if n > 0 {
            out.push(' ');
            n += 1;
        }
        let word = &text[start..i];
        if n + word.len() <= EXCERPT_MAX {
            out.push_str(word);
            n += word.len();
        } else {
            // The word is cut: as many characters as still fit, then the ellipsis.
            out.push_str(&word[..EXCERPT_MAX.saturating_sub(n)]);
            out.push('…');
            return Some(out);
        }
    }
}

/// [`excerpt`] character by character, for any text.
fn excerpt_chars(text: &str) -> String {
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
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
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

/// Whether an input could be read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum InputStatus {
    /// A reader read it (possibly with warnings, possibly to no record).
    Read,
    /// It opened, but no reader knows its format (binary data, an empty file).
    Unsupported,
    /// It could not be opened or read at all.
    Unreadable,
}

/// What happened to one input (the contract's `inputs` entries are made from these).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InputReport {
    pub path: String,
    /// The reader used; `unsupported` / `unreadable` when none was (as the contract's JSON says).
    pub format: String,
    pub status: InputStatus,
    pub records: u64,
    pub bytes: u64,
    pub warnings: Vec<Warning>,
}

impl InputReport {
    /// True when a reader read the input.
    pub fn is_read(&self) -> bool {
        self.status == InputStatus::Read
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
    #[test]
    fn counts_take_the_singular_for_one_only() {
        assert_eq!(super::counted(1_u64, "record"), "1 record");
        assert_eq!(super::counted(0_usize, "finding"), "0 findings");
        assert_eq!(super::counted(2_u32, "file"), "2 files");
        assert_eq!(super::counted_as(1_usize, "entry", "entries"), "1 entry");
        assert_eq!(super::counted_as(5_usize, "entry", "entries"), "5 entries");
    }

    use super::*;

    /// The byte-by-byte excerpt gives what the character-by-character one does, and gives up on
    /// text beyond ASCII.
    #[test]
    fn ascii_excerpt_is_the_char_excerpt() {
        let mut texts: Vec<String> = vec![
            String::new(),
            " ".into(),
            "a".into(),
            " \t\n\x0b\x0c\r a \x0b b\x1f c\r\n".into(),
            "x".repeat(EXCERPT_MAX),
            "x".repeat(EXCERPT_MAX + 1),
            format!("{} {}", "x".repeat(EXCERPT_MAX), "y"),
            format!("{} {}", "x".repeat(EXCERPT_MAX - 1), "yz"),
            format!("{} {}", "x".repeat(EXCERPT_MAX - 2), "yz"),
            format!("{}   ", "x".repeat(EXCERPT_MAX)),
            // Text beyond ASCII after the cut is never read.
            format!("{} é", "x".repeat(EXCERPT_MAX + 5)),
        ];
        // Words of every length around the cut, with runs of whitespace between them.
        for len in 1..12 {
            let mut t = String::new();
            let mut k = 0;
            while t.len() < 3 * EXCERPT_MAX {
                t.push_str(&"w".repeat(len + k % 5));
                t.push_str(["  ", "\t", "\n \r", " "][k % 4]);
                k += 1;
            }
            texts.push(t);
        }
        for t in &texts {
            assert_eq!(excerpt_ascii(t).as_deref(), Some(excerpt_chars(t).as_str()), "{t:?}");
            assert_eq!(excerpt(t), excerpt_chars(t));
        }
        for t in ["é", "a\u{a0}b", "a\u{85}b", "ab cd é"] {
            assert_eq!(excerpt_ascii(t), None);
            assert_eq!(excerpt(t), excerpt_chars(t));
        }
    }

    proptest::proptest! {
        /// Texts around the longest excerpt, words one space apart or not, spaces at the ends
        /// or not: the text kept as it is when collapsed is the collapsed text.
        #[test]
        fn collapsed_text_is_its_own_excerpt(
            words in proptest::collection::vec("[a-z\u{e9}]{1,60}", 0..14),
            seps in proptest::collection::vec(0usize..5, 14),
            ends in 0usize..4,
        ) {
            let mut text = String::new();
            for (i, w) in words.iter().enumerate() {
                if i > 0 {
                    text.push_str([" ", " ", " ", "  ", "\t"][seps[i]]);
                }
                text.push_str(w);
            }
            let text = match ends {
                0 => text,
                1 => format!(" {text}"),
                2 => format!("{text} "),
                _ => format!("{text}\n"),
            };
            proptest::prop_assert_eq!(excerpt(&text), excerpt_chars(&text));
        }

        #[test]
        fn ascii_excerpt_is_the_char_excerpt_on_generated_text(words in proptest::collection::vec("[ -~]{0,90}[\t\n\r\x0b\x0c ]{0,3}", 0..12)) {
            let text = words.concat();
            proptest::prop_assert_eq!(excerpt(&text), excerpt_chars(&text));
        }
    }

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

    #[test]
    fn record_reads_back_equal() {
        let mut e = Evidence::new("a.zip!b.log", "teams-log", "line 7");
        e.time = time::parse("2025-07-15T08:30:11Z");
        e.source = "teams-new".into();
        e.kind = "teams-log".into();
        e.add_code(Code::Aadsts(50076));
        e.field("user", "room01@contoso.com").field("status", 403);
        e.set_excerpt("sign-in failed AADSTS50076");
        let text = serde_json::to_string(&e).unwrap();
        let back: Evidence = serde_json::from_str(&text).unwrap();
        assert_eq!(back, e);
        let w = Warning { path: "a".into(), place: "line 2".into(), message: "bad".into() };
        let text = serde_json::to_string(&w).unwrap();
        assert_eq!(serde_json::from_str::<Warning>(&text).unwrap(), w);
    }

    #[test]
    fn format_names_read_back_are_bounded() {
        assert_eq!(intern_format(&"x".repeat(65)), FALLBACK_FORMAT);
        assert!(std::ptr::eq(intern_format("teams-log"), intern_format("teams-log")));
        let mut names = FormatNames(BTreeSet::new());
        for i in 0..FORMATS_INTERNED {
            assert_eq!(names.intern(&format!("made-up-{i}")), format!("made-up-{i}"));
        }
        assert!(std::ptr::eq(names.intern("made-up-3"), names.intern("made-up-3")));
        assert_eq!(names.intern("one-too-many"), FALLBACK_FORMAT);
        assert_eq!(names.0.len(), FORMATS_INTERNED);
    }

    #[test]
    fn input_status_is_kebab_case() {
        assert_eq!(serde_json::to_value(InputStatus::Unsupported).unwrap(), "unsupported");
        assert_eq!(serde_json::from_str::<InputStatus>("\"read\"").unwrap(), InputStatus::Read);
    }
}
