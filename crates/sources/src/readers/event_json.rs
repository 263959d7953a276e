//! Windows events as PowerShell JSON: `Get-WinEvent … | ConvertTo-Json` (an array, or a single
//! object for one event; Windows PowerShell writes it as UTF-16), `-Compress` output one event a
//! line, and the `{"value": […], "Count": n}` wrapper some pipelines produce. Times are
//! `/Date(ms)/` (Windows PowerShell, sometimes inside `{"value": …, "DateTime": …}`) or ISO 8601
//! (PowerShell 7). `Properties[].Value` are the event's data items, without names.
//!
//! A top-level array is streamed element by element through a serde visitor, so memory stays
//! bounded by one event ([`MAX_EVENT`]), not by the file.

use std::fmt;
use std::io::{BufReader, Read};

use serde::de::{DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};
use uctriage_evidence::time;

use super::windows_event::{bounded, has_ext, to_evidence, utf8_reader, Budget, WinEvent, TOO_LARGE};
use super::{Emitter, ReadError, Reader};
use crate::input::{Head, Input};

#[derive(Debug)]
pub struct EventJson;

/// How deep serde_json nests before it stops (its recursion limit).
pub(super) const JSON_DEPTH: usize = 128;

/// Largest single event, and largest top-level object that is not an event array.
const MAX_EVENT: u64 = 16 * 1024 * 1024;

/// Inputs up to this size are read into memory and parsed from there, which is several times
/// quicker than through a reader (the fleet server's batches are all this small).
const IN_MEMORY: u64 = 4 * 1024 * 1024;

/// The members of a `Get-WinEvent` object this reader looks at, lowercase (`value` is also the
/// member of a wrapper and of a wrapped property). Every other member is skipped without being
/// built: an event object carries three times as many.
const USED: &[&str] = &[
    "id",
    "level",
    "leveldisplayname",
    "logname",
    "machinename",
    "message",
    "properties",
    "providername",
    "recordid",
    "taskdisplayname",
    "timecreated",
    "value",
];

fn used(key: &str) -> bool {
    USED.iter().any(|u| u.eq_ignore_ascii_case(key))
}

/// A JSON value with the members of its objects (at every depth) cut to [`USED`].
struct Slim;

impl<'de> DeserializeSeed<'de> for Slim {
    type Value = Value;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Slim {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }

    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::from(v))
    }

    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::from(v))
    }

    fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
        Ok(Value::from(v))
    }

    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_owned()))
    }

    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }

    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_none<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        d.deserialize_any(self)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::new();
        while let Some(v) = seq.next_element_seed(Slim)? {
            items.push(v);
        }
        Ok(Value::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut m = Map::new();
        while let Some(key) = map.next_key_seed(UsedKey)? {
            match key {
                Some(k) => {
                    let v = map.next_value_seed(Slim)?;
                    m.insert(k, v);
                }
                None => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(Value::Object(m))
    }
}

/// An object's key, kept (as a string) only when it is one of [`USED`].
struct UsedKey;

impl<'de> DeserializeSeed<'de> for UsedKey {
    type Value = Option<String>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Option<String>, D::Error> {
        d.deserialize_str(self)
    }
}

impl Visitor<'_> for UsedKey {
    type Value = Option<String>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a member name")
    }

    fn visit_str<E>(self, v: &str) -> Result<Option<String>, E> {
        Ok(used(v).then(|| v.to_owned()))
    }
}

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
            Value::Object(mut m) => {
                let key =
                    m.keys().find(|k| *k == "value").or_else(|| m.keys().find(|k| k.eq_ignore_ascii_case("value")));
                match key.cloned().and_then(|k| m.remove(&k)) {
                    // A wrapper read whole (inside an array).
                    Some(Value::Array(items)) => {
                        for item in items {
                            self.take(item);
                        }
                    }
                    _ => self.skipped += 1,
                }
            }
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
        while let Some(v) = seq.next_element_seed(Slim)? {
            self.0.take(v);
        }
        Ok(())
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let sink = self.0;
        let mut m = Map::new();
        let mut wrapper = false;
        while let Some(key) = map.next_key_seed(UsedKey)? {
            let Some(k) = key else {
                map.next_value::<IgnoredAny>()?;
                continue;
            };
            if k.eq_ignore_ascii_case("value") && !wrapper {
                // `{"value": [events], "Count": n}`: stream the array like a top-level one.
                wrapper = true;
                map.next_value_seed(Top(&mut *sink))?;
                continue;
            }
            let v = map.next_value_seed(Slim)?;
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

    fn detect(&self, name: &str, head: &Head<'_>) -> u8 {
        let text = head.text();
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
        let mut sink = Sink { out, budget: &budget, seen: 0, skipped: 0 };
        if input.size.is_some_and(|n| n <= IN_MEMORY) {
            // Whole in memory: no event can outgrow the budget, and parsing a slice is quicker.
            let mut bytes = Vec::with_capacity(input.size.unwrap_or(0) as usize);
            let failed = utf8_reader(input).read_to_end(&mut bytes).err();
            values(&mut serde_json::Deserializer::from_slice(&bytes), &mut sink);
            if let Some(e) = failed {
                sink.out.warn("", format!("reading stopped early: {e}"));
            }
        } else {
            let src = BufReader::with_capacity(64 * 1024, budget.wrap(utf8_reader(input), MAX_EVENT));
            values(&mut serde_json::Deserializer::from_reader(src), &mut sink);
        }
        if sink.skipped > 0 {
            let n = sink.skipped;
            sink.out.warn("", format!("{n} JSON values that are not events were skipped"));
        }
        Ok(())
    }
}

/// Every top-level value of the input (`-Compress` output has one event a line), then what
/// stopped the reading, if anything but the end.
fn values<'de, R: serde_json::de::Read<'de>>(de: &mut serde_json::Deserializer<R>, sink: &mut Sink<'_, '_>) {
    loop {
        let before = sink.seen + sink.skipped;
        match Top(&mut *sink).deserialize(&mut *de) {
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
                    sink.out
                        .warn(place, format!("an event larger than {} MiB: the rest was not read", MAX_EVENT >> 20));
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
}

#[cfg(test)]
mod tests {
    use super::*;
    use uctriage_evidence::Evidence;

    /// What the reader makes of `bytes`, read whole in memory or streamed (size unknown, as
    /// standard input is).
    fn read(bytes: &[u8], in_memory: bool) -> (Vec<Evidence>, Vec<String>) {
        let input = if in_memory {
            Input::from_bytes("t.json", "t.json", bytes.to_vec())
        } else {
            Input::new("t.json".into(), "t.json".into(), Box::new(std::io::Cursor::new(bytes.to_vec())), None).unwrap()
        };
        let mut records: Vec<Evidence> = Vec::new();
        let mut out = Emitter::new("t.json", "event-json", &mut records);
        EventJson.read(input, &mut out).unwrap();
        let warnings = out.finish().1.iter().map(|w| format!("{} | {}", w.place, w.message)).collect();
        (records, warnings)
    }

    #[test]
    fn in_memory_and_streamed_reads_agree() {
        let fixtures = [
            include_str!("../../tests/fixtures/event-json/get-winevent.json"),
            include_str!("../../tests/fixtures/event-json/single-ps7.json"),
            include_str!("../../tests/fixtures/event-json/compressed-lines.json"),
        ];
        let whole = fixtures[0];
        let one = r#"{"Id": 2000, "LogName": "Skype Room System", "ProviderName": "SRS_App", "RecordId": 7,
            "TimeCreated": {"value": "/Date(1752568211000)/", "DateTime": "x"}, "Message": "m",
            "Properties": [{"Value": "a"}, {"Value": {"Value": "S-1-5-18"}}, 3, true, null],
            "Bookmark": {"deep": [[[{"x": 1}]]]}, "KeywordsDisplayNames": ["Classic"]}"#;
        let mut cases: Vec<String> = fixtures.iter().map(|f| (*f).to_owned()).collect();
        cases.extend([
            format!(r#"{{"value": [{one}, {one}], "Count": 2}}"#),
            format!(r#"[{{"value": [{one}]}}, [{one}], 1, "x", null, {{"other": 1}}]"#),
            one.replace("\"Id\"", "\"id\"").replace("ProviderName", "PROVIDERNAME"),
            format!("[{}, {}]", one, one.replace("\"RecordId\": 7", "\"RecordId\": 7, \"recordid\": 8")),
            whole[..whole.len() / 2].to_owned(),
            format!("[{one}, }}"),
            format!("{one}\n{one}\n\n"),
            format!("[{}{one}{}]", "[".repeat(200), "]".repeat(200)),
        ]);
        for (i, case) in cases.iter().enumerate() {
            let memory = read(case.as_bytes(), true);
            assert_eq!(memory, read(case.as_bytes(), false), "case {i}");
            if i < fixtures.len() {
                assert!(!memory.0.is_empty() && memory.1.is_empty(), "case {i}: {memory:?}");
            }
        }
        // The same event through both: every member the reader uses is kept.
        let (records, warnings) = read(one.as_bytes(), true);
        assert!(warnings.is_empty(), "{warnings:?}");
        let e = &records[0];
        assert_eq!((e.kind.as_str(), e.location.as_str()), ("heartbeat", "record 7"));
        assert_eq!(e.fields["data"]["Data2"], "S-1-5-18");
        assert_eq!(e.fields["data"]["Data3"], "3");
        assert!(e.time.is_some());
        // UTF-16 with a byte-order mark, in memory and streamed.
        let utf16: Vec<u8> = [0xFF, 0xFE].into_iter().chain(whole.encode_utf16().flat_map(u16::to_le_bytes)).collect();
        let memory = read(&utf16, true);
        assert_eq!(memory, read(&utf16, false));
        assert_eq!(memory.0.len(), read(whole.as_bytes(), true).0.len());
    }
}
