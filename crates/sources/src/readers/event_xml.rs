//! Windows events as XML: Event Viewer's "Save as XML" (`<Events><Event xmlns=…>…</Events>`,
//! often one long line), `wevtutil qe /f:xml` (`<Event>` elements one after another, no root),
//! and PowerShell redirections of either (UTF-16). The message is taken from `RenderingInfo`
//! when the export has it. The `evtx` reader renders each record to XML and reads it here too,
//! so both paths see events the same way.
//!
//! Streamed with quick-xml; one event is held at a time, and an event larger than
//! [`MAX_EVENT`] stops the reading with a warning instead of filling memory.

use std::io::BufRead;

use quick_xml::events::{BytesStart, Event};
use quick_xml::Reader as XmlReader;
use uctriage_evidence::time;

use super::windows_event::{bounded, has_ext, to_evidence, utf8_reader, Budget, WinEvent, MAX_VALUE, TOO_LARGE};
use super::{Emitter, ReadError, Reader};
use crate::input::{Head, Input};

#[derive(Debug)]
pub struct EventXml;

/// Largest single event read.
const MAX_EVENT: u64 = 16 * 1024 * 1024;
/// Syntax errors tolerated in one file before giving up on it.
const MAX_ERRORS: usize = 50;

/// Builds a [`WinEvent`] from the elements inside one `<Event>`.
#[derive(Debug, Default)]
pub(super) struct EventBuilder {
    ev: WinEvent,
    /// The open elements below `<Event>`.
    path: Vec<Tag>,
    /// Whether each open element has a child element (leaves of `UserData` become data items).
    has_child: Vec<bool>,
    text: String,
    data_name: Option<String>,
    /// Elements opened below [`MAX_DEPTH`], not tracked (hostile nesting costs no memory).
    overflow: usize,
}

/// Deepest element path kept inside an event.
const MAX_DEPTH: usize = 32;

/// The elements that matter, without allocating a name for each (this runs for every record of
/// every `.evtx`). Other elements keep their name only inside `UserData`, where it names a value.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Tag {
    System,
    EventData,
    UserData,
    RenderingInfo,
    Provider,
    EventId,
    Level,
    TimeCreated,
    RecordId,
    Channel,
    Computer,
    Data,
    Message,
    Task,
    Other(Option<Box<str>>),
}

impl Tag {
    fn of(name: &[u8], keep_other: bool) -> Tag {
        match name {
            b"System" => Tag::System,
            b"EventData" => Tag::EventData,
            b"UserData" => Tag::UserData,
            b"RenderingInfo" => Tag::RenderingInfo,
            b"Provider" => Tag::Provider,
            b"EventID" => Tag::EventId,
            b"Level" => Tag::Level,
            b"TimeCreated" => Tag::TimeCreated,
            b"EventRecordID" => Tag::RecordId,
            b"Channel" => Tag::Channel,
            b"Computer" => Tag::Computer,
            b"Data" => Tag::Data,
            b"Message" => Tag::Message,
            b"Task" => Tag::Task,
            other => Tag::Other(keep_other.then(|| String::from_utf8_lossy(other).into())),
        }
    }

    /// The element's name, for `UserData` leaves.
    fn name(&self) -> String {
        match self {
            Tag::System => "System",
            Tag::EventData => "EventData",
            Tag::UserData => "UserData",
            Tag::RenderingInfo => "RenderingInfo",
            Tag::Provider => "Provider",
            Tag::EventId => "EventID",
            Tag::Level => "Level",
            Tag::TimeCreated => "TimeCreated",
            Tag::RecordId => "EventRecordID",
            Tag::Channel => "Channel",
            Tag::Computer => "Computer",
            Tag::Data => "Data",
            Tag::Message => "Message",
            Tag::Task => "Task",
            Tag::Other(n) => n.as_deref().unwrap_or(""),
        }
        .to_owned()
    }
}

fn attr(e: &BytesStart<'_>, name: &[u8]) -> Option<String> {
    e.attributes().flatten().find(|a| a.key.local_name().as_ref() == name).map(|a| {
        a.unescape_value().map_or_else(|_| String::from_utf8_lossy(&a.value).into_owned(), std::borrow::Cow::into_owned)
    })
}

/// The attributes of an element start, asked for by local name: the first one so called.
pub(super) trait Attrs {
    fn get(&self, local_name: &[u8]) -> Option<String>;
}

impl Attrs for BytesStart<'_> {
    fn get(&self, local_name: &[u8]) -> Option<String> {
        attr(self, local_name)
    }
}

impl EventBuilder {
    fn start(&mut self, e: &BytesStart<'_>) {
        self.open(e.local_name().as_ref(), e);
    }

    /// An element starts: its local name (without prefix) and its attributes. The `evtx`
    /// reader's Binary XML walker calls this directly, the XML readers through [`Self::start`].
    pub(super) fn open(&mut self, local_name: &[u8], attrs: &dyn Attrs) {
        if self.overflow > 0 || self.path.len() >= MAX_DEPTH {
            self.overflow += 1;
            return;
        }
        if let Some(h) = self.has_child.last_mut() {
            *h = true;
        }
        let in_user_data = self.path.first() == Some(&Tag::UserData);
        let tag = Tag::of(local_name, in_user_data);
        match (self.path.as_slice(), &tag) {
            ([Tag::System], Tag::Provider) => {
                if let Some(n) = attrs.get(b"Name").or_else(|| attrs.get(b"EventSourceName")) {
                    self.ev.provider = n;
                }
            }
            ([Tag::System], Tag::TimeCreated) => {
                self.ev.time = attrs.get(b"SystemTime").and_then(|t| time::parse(&t));
            }
            ([Tag::EventData], Tag::Data) => self.data_name = attrs.get(b"Name"),
            _ => {}
        }
        self.path.push(tag);
        self.has_child.push(false);
        self.text.clear();
    }

    pub(super) fn text(&mut self, s: &str) {
        if !self.path.is_empty() && self.text.len() + s.len() <= MAX_VALUE {
            self.text.push_str(s);
        }
    }

    /// Whether the text of the element open now ends up in the event ([`Self::end`] keeps it):
    /// text given to others is dropped, so a caller may skip making it.
    pub(super) fn keeps_text(&self) -> bool {
        self.overflow == 0
            && matches!(
                self.path.as_slice(),
                [Tag::System, Tag::EventId | Tag::Level | Tag::RecordId | Tag::Channel | Tag::Computer]
                    | [Tag::EventData, Tag::Data]
                    | [Tag::UserData, _, ..]
                    | [Tag::RenderingInfo, Tag::Message | Tag::Level | Tag::Task]
            )
    }

    pub(super) fn end(&mut self) {
        if self.overflow > 0 {
            self.overflow -= 1;
            return;
        }
        let leaf = !self.has_child.last().copied().unwrap_or(false);
        let t = self.text.trim();
        match self.path.as_slice() {
            [Tag::System, Tag::EventId] => self.ev.event_id = t.parse().ok(),
            [Tag::System, Tag::Level] => self.ev.level = t.parse().ok(),
            [Tag::System, Tag::RecordId] => self.ev.record_id = t.parse().ok(),
            [Tag::System, Tag::Channel] => self.ev.channel = t.to_owned(),
            [Tag::System, Tag::Computer] => self.ev.computer = t.to_owned(),
            [Tag::EventData, Tag::Data] => {
                let name = self.data_name.take();
                let value = t.to_owned();
                self.ev.push_data(name, value);
            }
            [Tag::UserData, _, .., last] if leaf => {
                let (name, value) = (last.name(), t.to_owned());
                self.ev.push_data(Some(name), value);
            }
            [Tag::RenderingInfo, Tag::Message] => self.ev.message = Some(bounded(t.to_owned())),
            [Tag::RenderingInfo, Tag::Level] => self.ev.level_name = t.to_owned(),
            [Tag::RenderingInfo, Tag::Task] => self.ev.task = t.to_owned(),
            _ => {}
        }
        self.text.clear();
        self.path.pop();
        self.has_child.pop();
    }

    pub(super) fn finish(self) -> WinEvent {
        self.ev
    }
}

/// How the inside of an `<Event>` ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Filled {
    /// Its end tag.
    Closed,
    /// The end of the input.
    Eof,
    /// The start of another event: this one was never closed (events do not nest).
    NextEvent,
}

/// Read the inside of an `<Event>` whose start tag was just read, up to its end tag.
fn fill<R: BufRead>(r: &mut XmlReader<R>, buf: &mut Vec<u8>, b: &mut EventBuilder) -> Result<Filled, quick_xml::Error> {
    loop {
        buf.clear();
        match r.read_event_into(buf)? {
            Event::Start(e) if is_event(&e) => return Ok(Filled::NextEvent),
            Event::Start(e) => b.start(&e),
            Event::Empty(e) => {
                b.start(&e);
                b.end();
            }
            Event::End(_) => {
                if b.path.is_empty() && b.overflow == 0 {
                    return Ok(Filled::Closed);
                }
                b.end();
            }
            Event::Text(t) => b.text(&t.decode().unwrap_or_default()),
            Event::CData(t) => b.text(&String::from_utf8_lossy(&t)),
            Event::GeneralRef(g) => {
                if let Ok(Some(c)) = g.resolve_char_ref() {
                    b.text(c.encode_utf8(&mut [0; 4]));
                } else {
                    let name = g.decode().unwrap_or_default();
                    match quick_xml::escape::resolve_predefined_entity(&name) {
                        Some(s) => b.text(s),
                        None => b.text(&format!("&{name};")),
                    }
                }
            }
            Event::Eof => return Ok(Filled::Eof),
            _ => {}
        }
    }
}

fn xml_reader<R: BufRead>(src: R) -> XmlReader<R> {
    let mut r = XmlReader::from_reader(src);
    let c = r.config_mut();
    c.check_end_names = false;
    c.allow_unmatched_ends = true;
    c.allow_dangling_amp = true;
    r
}

fn is_event(e: &BytesStart<'_>) -> bool {
    e.local_name().as_ref() == b"Event"
}

/// One event from the XML of one record (the `evtx` reader's path).
pub(super) fn parse_one(xml: &[u8]) -> Result<WinEvent, String> {
    let mut r = xml_reader(xml);
    let mut buf = Vec::new();
    loop {
        buf.clear();
        match r.read_event_into(&mut buf).map_err(|e| e.to_string())? {
            Event::Start(e) if is_event(&e) => break,
            Event::Eof => return Err("no <Event> element".into()),
            _ => {}
        }
    }
    let mut b = EventBuilder::default();
    match fill(&mut r, &mut buf, &mut b) {
        Ok(Filled::Closed) => Ok(b.finish()),
        Ok(_) => Err("the event XML is not closed".into()),
        Err(e) => Err(e.to_string()),
    }
}

/// Where an event is: its record number when it has one, else its order in the file.
pub(super) fn location(ev: &WinEvent, ordinal: u64) -> String {
    match ev.record_id {
        Some(r) => format!("record {r}"),
        None => format!("event {ordinal}"),
    }
}

impl Reader for EventXml {
    fn format(&self) -> &'static str {
        "event-xml"
    }

    fn detect(&self, name: &str, head: &Head<'_>) -> u8 {
        let text = head.text();
        let start = text.get(..text.len().min(8192)).unwrap_or(text);
        let has_event = start.contains("<Event ") || start.contains("<Event>");
        if !has_event {
            return 0;
        }
        if start.contains("schemas.microsoft.com/win/2004/08/events/event") {
            95
        } else if start.contains("<Events>") || start.contains("<System>") {
            80 + u8::from(has_ext(name, "xml"))
        } else {
            0
        }
    }

    fn read(&self, input: Input, out: &mut Emitter<'_>) -> Result<(), ReadError> {
        let budget = Budget::new();
        let src = std::io::BufReader::with_capacity(64 * 1024, budget.wrap(utf8_reader(input), MAX_EVENT));
        let mut r = xml_reader(src);
        let mut buf = Vec::new();
        let mut ordinal = 0u64;
        let mut errors = 0usize;
        // Set when an unclosed event ran into the start of the next one.
        let mut pending_start = false;
        loop {
            buf.clear();
            let at = r.buffer_position();
            let starts_event = if pending_start {
                pending_start = false;
                Ok(true)
            } else {
                match r.read_event_into(&mut buf) {
                    Ok(Event::Start(e)) => Ok(is_event(&e)),
                    Ok(Event::Eof) => return Ok(()),
                    Ok(_) => Ok(false),
                    Err(e) => Err(e),
                }
            };
            let outcome = match starts_event {
                Ok(true) => {
                    ordinal += 1;
                    let mut b = EventBuilder::default();
                    let filled = fill(&mut r, &mut buf, &mut b);
                    budget.reset();
                    match filled {
                        Ok(Filled::Closed) => {
                            let ev = b.finish();
                            let e = out.evidence(location(&ev, ordinal));
                            out.emit(to_evidence(&ev, e));
                            Ok(())
                        }
                        Ok(Filled::NextEvent) => {
                            out.warn(
                                format!("event {ordinal} (byte {at})"),
                                "this event is not closed before the next one starts; it was skipped",
                            );
                            pending_start = true;
                            Ok(())
                        }
                        Ok(Filled::Eof) => {
                            out.warn(
                                format!("event {ordinal} (byte {at})"),
                                "the file ends inside this event (truncated?); it was skipped",
                            );
                            return Ok(());
                        }
                        Err(e) => Err(e),
                    }
                }
                Ok(false) => Ok(()),
                Err(e) => Err(e),
            };
            if let Err(e) = outcome {
                let msg = e.to_string();
                if msg.contains(TOO_LARGE) {
                    out.warn(
                        format!("event {ordinal} (byte {at})"),
                        format!("an event larger than {} MiB: the rest of the file was not read", MAX_EVENT >> 20),
                    );
                    return Ok(());
                }
                errors += 1;
                out.warn(format!("byte {}", r.error_position()), format!("XML error: {msg}"));
                if errors >= MAX_ERRORS || r.buffer_position() <= at {
                    return Err(ReadError::new(
                        format!("byte {}", r.buffer_position()),
                        "too many XML errors: stopped",
                    ));
                }
            }
        }
    }
}
