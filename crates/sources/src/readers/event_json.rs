//! Windows events as PowerShell JSON: `Get-WinEvent … | ConvertTo-Json` (an array, or a single
//! object for one event; Windows PowerShell writes it as UTF-16), `-Compress` output one event a
//! line, and the `{"value": […], "Count": n}` wrapper some pipelines produce. Times are
//! `/Date(ms)/` (Windows PowerShell, sometimes inside `{"value": …, "DateTime": …}`) or ISO 8601
//! (PowerShell 7). `Properties[].Value` are the event's data items, without names.
//!
//! A top-level array is streamed element by element through a serde visitor, so memory stays
//! bounded by one event ([`MAX_EVENT`]), not by the file.

use std::fmt;
use std::io::BufReader;

use serde::de::{DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};
use uctriage_evidence::time;

use super::windows_event::{bounded, has_ext, to_evidence, utf8_reader, Budget, WinEvent, TOO_LARGE};
use super::{Emitter, ReadError, Reader};
use crate::input::{head_text, Input};

#[derive(Debug)]
pub struct EventJson;

/// How deep serde_json nests before it stops (its recursion limit).
pub(super) const JSON_DEPTH: usize = 128;

/// Largest single event, and largest top-level object that is not an event array.
const MAX_EVENT: u64 = 16 * 1024 * 1024;

/// A key of an object, case-insensitively.
fn member<'a>(m: &'a Map<String, Value>, key: &str) -> Option<&'a Value> {
    m.get(key).or_else(|| m.iter().find(|(k, _)| k.eq_ignore_ascii_case(key)).map(|(_, v)| v))
}

fn text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        // A SecurityIdentifier or a PSObject-wrapped value: its `Value`.
        Value::Object(m) => member(m, "Value").and_then(text),
        _ => None,
    }
}

fn s(m: &Map<String, Value>, key: &str) -> String {
    member(m, key).and_then(text).map(|t| t.trim().to_owned()).unwrap_or_default()
}

/// One `Get-WinEvent` object to the shared event.
fn event(m: &Map<String, Value>) -> WinEvent {
    let mut ev = WinEvent {
        channel: s(m, "LogName"),
        provider: s(m, "ProviderName"),
        event_id: s(m, "Id").parse().ok(),
        level: s(m, "Level").parse().ok(),
        level_name: s(m, "LevelDisplayName"),
        time: time::parse(&s(m, "TimeCreated")),
        computer: s(m, "MachineName"),
        record_id: s(m, "RecordId").parse().ok(),
        task: s(m, "TaskDisplayName"),
        ..WinEvent::default()
    };
    let msg = s(m, "Message");
    if !msg.is_empty() {
        ev.message = Some(bounded(msg));
    }
    if let Some(Value::Array(props)) = member(m, "Properties") {
        for p in props {
            let v = match p {
                Value::Object(o) => member(o, "Value").and_then(text),
                other => text(other),
            };
            ev.push_data(None, v.unwrap_or_default());
        }
    }
    ev.infer_channel();
    ev
}

fn looks_like_event(m: &Map<String, Value>) -> bool {
    member(m, "Id").is_some() && (member(m, "ProviderName").is_some() || member(m, "LogName").is_some())
}

/// Hands each event object to the callback; counts what it saw.
struct Sink<'a, 'e> {
    out: &'a mut Emitter<'e>,
    budget: &'a Budget,
    seen: u64,
    skipped: u64,
}

impl Sink<'_, '_> {
    fn take(&mut self, v: Value) {
        self.budget.reset();
        self.seen += 1;
        match v {
            Value::Object(m) if looks_like_event(&m) => {
                let ev = event(&m);
                let location = match ev.record_id {
                    Some(r) => format!("record {r}"),
                    None => format!("event {}", self.seen),
                };
                let e = self.out.evidence(location);
                self.out.emit(to_evidence(&ev, e));
            }
            Value::Object(m) => match member(&m, "value") {
                // A wrapper read whole (inside an array).
                Some(Value::Array(items)) => {
                    for item in items.clone() {
                        self.take(item);
                    }
                }
                _ => self.skipped += 1,
            },
            Value::Array(items) => {
                for item in items {
                    self.take(item);
                }
            }
            _ => self.skipped += 1,
        }
    }
}

/// Deserializes one top-level value: an array is walked element by element.
struct Top<'s, 'a, 'e>(&'s mut Sink<'a, 'e>);

impl<'de> DeserializeSeed<'de> for Top<'_, '_, '_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Top<'_, '_, '_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an array of events or an event object")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while let Some(v) = seq.next_element::<Value>()? {
            self.0.take(v);
        }
        Ok(())
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let sink = self.0;
        let mut m = Map::new();
        let mut wrapper = false;
        while let Some(k) = map.next_key::<String>()? {
            if k.eq_ignore_ascii_case("value") && !wrapper {
                // `{"value": [events], "Count": n}`: stream the array like a top-level one.
                wrapper = true;
                map.next_value_seed(Top(&mut *sink))?;
                continue;
            }
            let v: Value = map.next_value()?;
            m.insert(k, v);
        }
        if !wrapper || looks_like_event(&m) {
            sink.take(Value::Object(m));
        }
        Ok(())
    }

    fn visit_str<E: serde::de::Error>(self, _: &str) -> Result<(), E> {
        self.0.skipped += 1;
        Ok(())
    }

    fn visit_bool<E: serde::de::Error>(self, _: bool) -> Result<(), E> {
        self.0.skipped += 1;
        Ok(())
    }

    fn visit_i64<E: serde::de::Error>(self, _: i64) -> Result<(), E> {
        self.0.skipped += 1;
        Ok(())
    }

    fn visit_u64<E: serde::de::Error>(self, _: u64) -> Result<(), E> {
        self.0.skipped += 1;
        Ok(())
    }

    fn visit_f64<E: serde::de::Error>(self, _: f64) -> Result<(), E> {
        self.0.skipped += 1;
        Ok(())
    }

    fn visit_unit<E: serde::de::Error>(self) -> Result<(), E> {
        self.0.skipped += 1;
        Ok(())
    }
}

impl Reader for EventJson {
    fn format(&self) -> &'static str {
        "event-json"
    }

    fn detect(&self, name: &str, head: &[u8]) -> u8 {
        let text = head_text(head);
        let t = text.trim_start_matches('\u{feff}').trim_start();
        if !(t.starts_with('[') || t.starts_with('{')) {
            return 0;
        }
        let has = |k: &str| t.contains(&format!("\"{k}\""));
        if has("ProviderName") && (has("TimeCreated") || has("LogName")) && has("Id") {
            90 + u8::from(has_ext(name, "json"))
        } else {
            0
        }
    }

    fn read(&self, input: Input, out: &mut Emitter<'_>) -> Result<(), ReadError> {
        let budget = Budget::new();
        let src = BufReader::with_capacity(64 * 1024, budget.wrap(utf8_reader(input), MAX_EVENT));
        let mut de = serde_json::Deserializer::from_reader(src);
        let mut sink = Sink { out, budget: &budget, seen: 0, skipped: 0 };
        // One or more top-level values (`-Compress` output has one event a line).
        loop {
            let before = sink.seen + sink.skipped;
            match Top(&mut sink).deserialize(&mut de) {
                Ok(()) => {}
                // Only whitespace after the last value: the end. An end inside a value (a
                // truncated array or object) is reported below even when nothing was read.
                Err(e)
                    if e.is_eof()
                        && sink.seen + sink.skipped == before
                        && e.to_string().starts_with("EOF while parsing a value") =>
                {
                    break
                }
                Err(e) => {
                    let place = format!("line {} column {}", e.line(), e.column());
                    let msg = e.to_string();
                    if msg.contains(TOO_LARGE) {
                        sink.out.warn(
                            place,
                            format!("an event larger than {} MiB: the rest was not read", MAX_EVENT >> 20),
                        );
                    } else if msg.starts_with("recursion limit exceeded") {
                        sink.out.warn(
                            place,
                            format!(
                                "nested deeper than {JSON_DEPTH} levels (the JSON depth limit): reading stopped \
                                 here; the {} events before were read",
                                sink.seen
                            ),
                        );
                    } else if e.is_eof() {
                        sink.out.warn(place, "the JSON ends early (truncated?): the events before were read");
                    } else {
                        sink.out.warn(place, format!("JSON error, the rest was not read: {msg}"));
                    }
                    break;
                }
            }
        }
        if sink.skipped > 0 {
            let n = sink.skipped;
            sink.out.warn("", format!("{n} JSON values that are not events were skipped"));
        }
        Ok(())
    }
}
