//! One reader per log format, and the detection that picks one.
//!
//! To add a format: write a module with a type implementing [`Reader`], register it in
//! [`registry`], and add a fixture and a snapshot test (see docs/adding-a-log-format.md).

mod call_records_json;
#[cfg(test)]
mod detect_tests;
mod dr_csv;
mod dsregcmd;
mod entra_signins;
mod event_csv;
mod event_json;
mod event_xml;
mod evidence_jsonl;
mod evtx;
mod evtx_binxml;
mod generic;
mod mosdal;
mod pcap;
mod pexip;
mod pexip_install;
mod sbc_syslog;
mod sip;
mod sip_trace;
mod teams_log;
mod uccapilog;
mod windows_event;

use uctriage_evidence::{Evidence, Sink, Warning};
use uctriage_kb::{Code, KnowledgeBase};

use crate::input::{Head, Input};

/// A reader failure that stopped the reading of one input: where, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReadError {
    pub place: String,
    pub message: String,
}

impl ReadError {
    pub fn new(place: impl Into<String>, message: impl Into<String>) -> Self {
        ReadError { place: place.into(), message: message.into() }
    }
}

impl From<std::io::Error> for ReadError {
    fn from(e: std::io::Error) -> Self {
        ReadError::new("", format!("read error: {e}"))
    }
}

/// A log format.
pub trait Reader: Send + Sync {
    /// The format name written into every record (`evtx`, `teams-log`, `sip-trace`…).
    fn format(&self) -> &'static str;

    /// How sure the reader is that it can read this input: 0 = not at all, 100 = certain.
    /// `name` is the path inside the container, lower-cased, forward slashes; `head` the first
    /// bytes, with what every reader needs of them worked out once. Decide on content first and
    /// use the name to break ties.
    fn detect(&self, name: &str, head: &Head<'_>) -> u8;

    /// Whether `head` starts with this format's own signature (a file magic), which
    /// [`detect`](Self::detect) scores [`SIGNATURE`]. No reader of text scores that high, so
    /// [`choose`] takes such an input without asking the others: on an `.evtx` their detectors
    /// cost more than reading a small log.
    fn signature(&self, _head: &[u8]) -> bool {
        false
    }

    /// Read the input, emitting records and warnings. An `Err` ends this input only.
    fn read(&self, input: Input, out: &mut Emitter<'_>) -> Result<(), ReadError>;
}

/// Every reader, most specific first.
pub fn registry() -> Vec<Box<dyn Reader>> {
    vec![
        // Format readers register here, one line each.
        Box::new(teams_log::TeamsLog),
        Box::new(dsregcmd::Dsregcmd),
        Box::new(entra_signins::EntraSignins),
        Box::new(pcap::Pcap),
        Box::new(dr_csv::DrCsv),
        Box::new(call_records_json::CallRecordsJson),
        Box::new(pexip::PexipLog),
        Box::new(pexip_install::PexipInstall),
        Box::new(sbc_syslog::SbcSyslog),
        Box::new(uccapilog::Uccapilog),
        Box::new(mosdal::Mosdal),
        Box::new(sip_trace::SipTrace),
        Box::new(evtx::Evtx),
        // Our own records read back: before the generic readers, which would take them as events
        // or text.
        Box::new(evidence_jsonl::EvidenceJsonl),
        Box::new(event_xml::EventXml),
        Box::new(event_csv::EventCsv),
        Box::new(event_json::EventJson),
        Box::new(generic::GenericText),
    ]
}

/// The score of an input that starts with a format's signature ([`Reader::signature`]); readers
/// of text stay below it.
pub const SIGNATURE: u8 = 100;

/// The reader for `input`: the one named by `forced`, the one whose signature it starts with, or
/// the most confident one.
pub fn choose<'r>(registry: &'r [Box<dyn Reader>], input: &Input, forced: Option<&str>) -> Option<&'r dyn Reader> {
    if let Some(f) = forced {
        return registry.iter().find(|r| r.format() == f).map(AsRef::as_ref);
    }
    if let Some(r) = registry.iter().find(|r| r.signature(&input.head)) {
        return Some(r.as_ref());
    }
    most_confident(registry, input)
}

/// The reader that scores `input` highest (the first of equals).
fn most_confident<'r>(registry: &'r [Box<dyn Reader>], input: &Input) -> Option<&'r dyn Reader> {
    let name = input.name.to_ascii_lowercase().replace('\\', "/");
    let head = Head::new(&input.head);
    let mut best: Option<(u8, &dyn Reader)> = None;
    for r in registry {
        let score = r.detect(&name, &head);
        if score > 0 && best.is_none_or(|(b, _)| score > b) {
            best = Some((score, r.as_ref()));
        }
    }
    best.map(|(_, r)| r)
}

/// Where the first `n` lines of `text` end (as [`str::lines`] counts them), their last line end
/// included: the whole text when it has fewer.
pub(crate) fn lines_end(text: &str, n: usize) -> usize {
    match n.checked_sub(1) {
        None => 0,
        Some(last) => memchr::memchr_iter(b'\n', text.as_bytes()).nth(last).map_or(text.len(), |i| i + 1),
    }
}

/// The line of `text` that holds byte `at`, as [`str::lines`] gives it (without its line end),
/// and where the next line starts.
pub(crate) fn line_at(text: &str, at: usize) -> (&str, usize) {
    let b = text.as_bytes();
    let start = memchr::memrchr(b'\n', &b[..at]).map_or(0, |i| i + 1);
    match memchr::memchr(b'\n', &b[at..]) {
        Some(i) => {
            let line = &text[start..at + i];
            (line.strip_suffix('\r').unwrap_or(line), at + i + 1)
        }
        None => (&text[start..], text.len()),
    }
}

/// How many lines of `text` that hold one of `pieces` pass `test`, counted up to `limit`. The
/// pieces are searched for in `search`, which is `text` itself or a copy of the same length
/// (lower-cased), and must hold no line end, so that each match lies within one line; each line
/// is tested once at most.
pub(crate) fn count_lines_holding(
    text: &str,
    search: &str,
    pieces: &aho_corasick::AhoCorasick,
    limit: usize,
    mut test: impl FnMut(&str) -> bool,
) -> usize {
    debug_assert_eq!(text.len(), search.len());
    let mut count = 0;
    let mut from = 0;
    while count < limit {
        let Some(m) = pieces.find(aho_corasick::Input::new(search).span(from..search.len())) else { break };
        let (line, next) = line_at(text, m.start());
        count += usize::from(test(line));
        from = next;
    }
    count
}

/// Whether a line of `text` that holds one of `pieces` passes `test` (see
/// [`count_lines_holding`]).
pub(crate) fn any_line_holding(
    text: &str,
    search: &str,
    pieces: &aho_corasick::AhoCorasick,
    test: impl FnMut(&str) -> bool,
) -> bool {
    count_lines_holding(text, search, pieces, 1, test) > 0
}

/// Hands a reader's records to the sink, counting them and collecting warnings.
pub struct Emitter<'a> {
    path: &'a str,
    format: &'static str,
    sink: &'a mut dyn Sink,
    records: u64,
    warnings: Vec<Warning>,
}

impl std::fmt::Debug for Emitter<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Emitter").field("path", &self.path).field("records", &self.records).finish()
    }
}

/// More warnings than this for one input are counted, not listed.
const MAX_WARNINGS: usize = 50;

impl<'a> Emitter<'a> {
    pub fn new(path: &'a str, format: &'static str, sink: &'a mut dyn Sink) -> Self {
        Emitter { path, format, sink, records: 0, warnings: Vec::new() }
    }

    /// A new record for this input at `location`, to fill and [`emit`](Self::emit). Its `path`
    /// and `format` are this input's.
    pub fn evidence(&self, location: impl Into<String>) -> Evidence {
        Evidence::new(self.path, self.format, location)
    }

    /// Hand a record on, as it is: `path` and `format` are not overwritten, so a reader of stored
    /// records (`evidence-jsonl`) keeps where each record first came from. Readers of logs build
    /// their records with [`evidence`](Self::evidence).
    pub fn emit(&mut self, e: Evidence) {
        self.records += 1;
        self.sink.record(e);
    }

    /// A problem at `place` that did not stop the reading.
    pub fn warn(&mut self, place: impl Into<String>, message: impl Into<String>) {
        if self.warnings.len() < MAX_WARNINGS {
            self.warnings.push(Warning { path: self.path.to_owned(), place: place.into(), message: message.into() });
        } else if self.warnings.len() == MAX_WARNINGS {
            self.warnings.push(Warning {
                path: self.path.to_owned(),
                place: String::new(),
                message: "more warnings for this input were not listed".into(),
            });
        }
    }

    pub fn path(&self) -> &str {
        self.path
    }

    pub(crate) fn finish(self) -> (u64, Vec<Warning>) {
        (self.records, self.warnings)
    }
}

/// The built-in knowledge base, for readers that extract codes.
pub fn kb() -> &'static KnowledgeBase {
    KnowledgeBase::builtin()
}

/// Codes in a piece of free text (see [`KnowledgeBase::extract`]).
pub fn codes_in(text: &str) -> Vec<Code> {
    kb().extract(text)
}

/// Every file under the crate's test fixtures, for tests that check a fast path against the slow
/// one on real inputs.
#[cfg(test)]
pub(crate) fn fixture_files() -> Vec<std::path::PathBuf> {
    let mut files = Vec::new();
    let mut dirs = vec![std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")];
    while let Some(dir) = dirs.pop() {
        for f in std::fs::read_dir(&dir).unwrap() {
            let path = f.unwrap().path();
            if path.is_dir() {
                dirs.push(path);
            } else {
                files.push(path);
            }
        }
    }
    files
}

/// Every line of every file of [`fixture_files`].
#[cfg(test)]
pub(crate) fn fixture_lines() -> Vec<String> {
    fixture_files()
        .iter()
        .flat_map(|path| {
            String::from_utf8_lossy(&std::fs::read(path).unwrap()).lines().map(str::to_owned).collect::<Vec<_>>()
        })
        .collect()
}

#[cfg(test)]
mod choose_tests {
    use super::*;

    /// Heads with a file signature, made here, and every fixture file as it is.
    fn heads() -> Vec<(String, Vec<u8>)> {
        let mut pcapng = vec![0x0A, 0x0D, 0x0D, 0x0A, 28, 0, 0, 0, 0x4D, 0x3C, 0x2B, 0x1A];
        pcapng.resize(64, 0);
        let mut out = vec![
            ("room/Skype Room System.evtx".to_owned(), [&b"ElfFile\0"[..], &[0; 120]].concat()),
            ("trace.pcap".to_owned(), [&[0xD4, 0xC3, 0xB2, 0xA1][..], &[0; 40]].concat()),
            ("trace.cap".to_owned(), [&[0xA1, 0xB2, 0xC3, 0xD4][..], &[0; 40]].concat()),
            ("trace.pcapng".to_owned(), pcapng.clone()),
            // Near misses that must still be scored by every reader.
            ("broken.pcapng".to_owned(), pcapng[..8].to_vec()),
            ("broken.evtx".to_owned(), b"ElfFil".to_vec()),
            ("notes.txt".to_owned(), b"ElfFile is how an event log starts\n".to_vec()),
        ];
        for path in fixture_files() {
            out.push((path.display().to_string(), std::fs::read(&path).unwrap()));
        }
        out
    }

    #[test]
    fn a_signature_chooses_what_scoring_every_reader_would() {
        let registry = registry();
        let mut signed = 0;
        for (name, bytes) in heads() {
            let input = Input::from_bytes(&name, &name, bytes);
            let quick = choose(&registry, &input, None).map(Reader::format);
            let full = most_confident(&registry, &input).map(Reader::format);
            assert_eq!(quick, full, "{name}");
            let lower = name.to_ascii_lowercase();
            for r in &registry {
                let score = r.detect(&lower, &Head::new(&input.head));
                if r.signature(&input.head) {
                    signed += 1;
                    assert_eq!(score, SIGNATURE, "{}: {name}", r.format());
                } else {
                    assert!(score < SIGNATURE, "{} scores {score} without a signature: {name}", r.format());
                }
            }
        }
        assert_eq!(signed, 4, "the evtx and the three capture heads");
    }
}
