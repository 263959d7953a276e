//! Microsoft Graph call records as JSON: the rows of `getDirectRoutingCalls` and `getPstnCalls`
//! (a `value` array; also a bare array), and `callRecord` objects with their sessions and
//! segments, where a failed leg carries `failureInfo`. The `value` array is read one element at
//! a time, so a large export is never held whole in memory.

use std::fmt;

use serde::de::{DeserializeSeed, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};
use uctriage_evidence::{time, Evidence};

use super::dr_csv::{fill_call_record, has_ext};
use super::{codes_in, Emitter, ReadError, Reader};
use crate::input::{Head, Input};

#[derive(Debug)]
pub struct CallRecordsJson;

/// Graph property → evidence field, for the Direct Routing and PSTN rows.
fn field_for(key: &str) -> Option<&'static str> {
    Some(match key {
        "id" => "id",
        "callId" => "call_id",
        "correlationId" => "correlation_id",
        "startDateTime" => "start",
        "endDateTime" => "end",
        "inviteDateTime" => "invite_time",
        "failureDateTime" => "failure_time",
        "successfulCall" => "success",
        "callType" => "call_type",
        "callerNumber" => "caller",
        "calleeNumber" => "callee",
        "trunkFullyQualifiedDomainName" => "sbc_fqdn",
        "finalSipCode" => "final_sip_code",
        "finalSipCodePhrase" => "final_sip_phrase",
        "callEndSubReason" => "call_end_sub_reason",
        "mediaPathLocation" => "media_path_location",
        "signalingLocation" => "signaling_location",
        "mediaBypassEnabled" => "media_bypass",
        "userPrincipalName" => "user",
        "userDisplayName" => "user_display_name",
        "userId" => "user_id",
        "duration" => "duration",
        "destinationName" => "destination",
        "conferenceId" => "conference_id",
        "charge" => "charge",
        "currency" => "currency",
        "licenseCapability" => "license_capability",
        "usageCountryCode" => "user_location",
        _ => return None,
    })
}

fn is_dr_row(m: &Map<String, Value>) -> bool {
    ["finalSipCode", "trunkFullyQualifiedDomainName", "callEndSubReason", "finalSipCodePhrase"]
        .iter()
        .any(|k| m.contains_key(*k))
}

fn is_pstn_row(m: &Map<String, Value>) -> bool {
    m.contains_key("callId")
        && ["charge", "destinationName", "licenseCapability", "calleeNumber"].iter().any(|k| m.contains_key(*k))
}

fn is_call_record(m: &Map<String, Value>) -> bool {
    m.contains_key("sessions")
        || m.get("@odata.type").and_then(Value::as_str).is_some_and(|t| t.ends_with("callRecord"))
        || (m.contains_key("modalities") && m.contains_key("organizer"))
}

fn is_session(m: &Map<String, Value>) -> bool {
    m.contains_key("segments") || (m.contains_key("failureInfo") && m.contains_key("caller"))
}

/// `finalSipCodePhrase` → `final_sip_code_phrase`.
fn camel_to_snake(k: &str) -> String {
    let mut s = String::new();
    for c in k.chars() {
        if c.is_ascii_uppercase() {
            if !s.is_empty() && !s.ends_with('_') {
                s.push('_');
            }
            s.push(c.to_ascii_lowercase());
        } else if c.is_ascii_alphanumeric() {
            s.push(c);
        } else if !s.is_empty() && !s.ends_with('_') {
            s.push('_');
        }
    }
    s
}

fn scalar(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// What is being read, shared by the streaming visitors.
struct Ctx<'a, 'b> {
    out: &'a mut Emitter<'b>,
    record: u64,
    skipped: u64,
}

impl Ctx<'_, '_> {
    fn element(&mut self, v: Value) {
        self.record += 1;
        let n = self.record;
        let Value::Object(m) = v else {
            self.skipped += 1;
            return;
        };
        if is_dr_row(&m) || is_pstn_row(&m) {
            self.row(n, &m);
        } else if is_call_record(&m) {
            self.call_record(n, &m);
        } else if is_session(&m) {
            self.session(&format!("record {n}"), None, &m);
        } else {
            self.skipped += 1;
        }
    }

    fn row(&mut self, n: u64, m: &Map<String, Value>) {
        let mut values: Vec<(&'static str, String)> = Vec::new();
        let mut e = self.out.evidence(format!("record {n}"));
        e.source = if is_dr_row(m) { "Graph getDirectRoutingCalls" } else { "Graph getPstnCalls" }.into();
        let mut extra = Vec::new();
        for (k, v) in m {
            let Some(s) = scalar(v) else { continue };
            match field_for(k) {
                Some("id") => values.push((if m.contains_key("callId") { "record_id" } else { "call_id" }, s)),
                Some(f) => values.push((f, s)),
                None if !k.starts_with('@') => extra.push((camel_to_snake(k), s)),
                None => {}
            }
        }
        fill_call_record(&mut e, &values);
        for (k, v) in extra {
            if !e.fields.contains_key(&k) {
                e.field(k, v);
            }
        }
        e.set_excerpt(&serde_json::to_string(m).unwrap_or_default());
        self.out.emit(e);
    }

    fn call_record(&mut self, n: u64, m: &Map<String, Value>) {
        let place = format!("record {n}");
        let mut e = self.out.evidence(&place);
        e.kind = "call-record".into();
        e.source = "Graph callRecord".into();
        let id = m.get("id").and_then(Value::as_str);
        if let Some(id) = id {
            e.field("call_id", id);
        }
        for (k, f) in [("type", "call_type"), ("version", "version"), ("joinWebUrl", "join_web_url")] {
            if let Some(s) = m.get(k).and_then(scalar) {
                e.field(f, s);
            }
        }
        times(&mut e, m);
        if let Some(mods) = m.get("modalities").and_then(Value::as_array) {
            e.field("modalities", mods.iter().filter_map(Value::as_str).collect::<Vec<_>>());
        }
        if let Some(name) = m.get("organizer").and_then(|o| o.pointer("/user/displayName")).and_then(Value::as_str) {
            e.field("organizer", name);
        }
        let sessions = m.get("sessions").and_then(Value::as_array);
        if let Some(s) = sessions {
            e.field("sessions", s.len());
        }
        let mut summary = m.clone();
        summary.remove("sessions");
        summary.remove("participants");
        e.set_excerpt(&serde_json::to_string(&summary).unwrap_or_default());
        self.out.emit(e);
        for (i, s) in sessions.into_iter().flatten().enumerate() {
            if let Value::Object(s) = s {
                self.session(&format!("{place} session {}", i + 1), id, s);
            }
        }
    }

    /// A session, and its segments: a record for each one that failed.
    fn session(&mut self, place: &str, call_id: Option<&str>, s: &Map<String, Value>) {
        if s.get("failureInfo").is_some_and(|f| !f.is_null()) {
            self.leg(place, call_id, s, "session");
        }
        for (j, seg) in s.get("segments").and_then(Value::as_array).into_iter().flatten().enumerate() {
            if let Value::Object(seg) = seg {
                if seg.get("failureInfo").is_some_and(|f| !f.is_null()) {
                    self.leg(&format!("{place} segment {}", j + 1), call_id, seg, "segment");
                }
            }
        }
    }

    fn leg(&mut self, place: &str, call_id: Option<&str>, m: &Map<String, Value>, what: &str) {
        let mut e = self.out.evidence(place);
        e.kind = "call-record".into();
        e.source = "Graph callRecord".into();
        e.field("leg", what);
        if let Some(id) = call_id {
            e.field("call_id", id);
        }
        if let Some(id) = m.get("id").and_then(Value::as_str) {
            e.field(format!("{what}_id"), id);
        }
        times(&mut e, m);
        e.field("success", false);
        let stage = m.get("failureInfo").and_then(|f| f.get("stage")).and_then(Value::as_str).unwrap_or("");
        let reason = m.get("failureInfo").and_then(|f| f.get("reason")).and_then(Value::as_str).unwrap_or("");
        e.field("failure_stage", stage);
        e.field("failure_reason", reason);
        for side in ["caller", "callee"] {
            let name = ["/identity/user/displayName", "/identity/phone/id", "/identity/guest/displayName"]
                .iter()
                .find_map(|p| m.get(side).and_then(|c| c.pointer(p)).and_then(Value::as_str));
            if let Some(n) = name {
                e.field(side, n);
            }
            if let Some(ua) = m.get(side).and_then(|c| c.pointer("/userAgent/headerValue")).and_then(Value::as_str) {
                e.field(format!("{side}_user_agent"), ua);
            }
        }
        e.add_codes(codes_in(reason));
        let mut brief = m.clone();
        brief.remove("segments");
        brief.remove("media");
        e.set_excerpt(&serde_json::to_string(&brief).unwrap_or_default());
        self.out.emit(e);
    }
}

fn times(e: &mut Evidence, m: &Map<String, Value>) {
    for (k, f) in [("startDateTime", "start"), ("endDateTime", "end")] {
        if let Some(t) = m.get(k).and_then(Value::as_str).and_then(time::parse) {
            e.field(f, time::rfc3339(t));
            if e.time.is_none() {
                e.time = Some(t);
            }
        }
    }
}

/// The document: an object with a `value` array (streamed), a bare array, or one object.
struct Doc<'c, 'a, 'b>(&'c mut Ctx<'a, 'b>);

impl<'de> DeserializeSeed<'de> for Doc<'_, '_, '_> {
    type Value = ();
    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Doc<'_, '_, '_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a Graph response object or an array of call records")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<(), A::Error> {
        Rows(self.0).visit_seq(seq)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let mut top = Map::new();
        while let Some(key) = map.next_key::<String>()? {
            if key == "value" {
                map.next_value_seed(Rows(self.0))?;
            } else {
                let v: Value = map.next_value()?;
                top.insert(key, v);
            }
        }
        if is_dr_row(&top) || is_pstn_row(&top) || is_call_record(&top) || is_session(&top) {
            self.0.element(Value::Object(top));
        }
        Ok(())
    }
}

struct Rows<'c, 'a, 'b>(&'c mut Ctx<'a, 'b>);

impl<'de> DeserializeSeed<'de> for Rows<'_, '_, '_> {
    type Value = ();
    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Rows<'_, '_, '_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an array of call records")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while let Some(v) = seq.next_element::<Value>()? {
            self.0.element(v);
        }
        Ok(())
    }

    fn visit_unit<E>(self) -> Result<(), E> {
        Ok(())
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let mut m = Map::new();
        while let Some(k) = map.next_key::<String>()? {
            m.insert(k, map.next_value()?);
        }
        self.0.element(Value::Object(m));
        Ok(())
    }
}

impl Reader for CallRecordsJson {
    fn format(&self) -> &'static str {
        "call-records-json"
    }

    fn detect(&self, name: &str, head: &Head<'_>) -> u8 {
        let text = head.text();
        let t = text.trim_start();
        if !(t.starts_with('{') || t.starts_with('[')) {
            return 0;
        }
        let strong = [
            "\"finalSipCode\"",
            "\"trunkFullyQualifiedDomainName\"",
            "\"callEndSubReason\"",
            "microsoft.graph.callRecords",
            "getDirectRoutingCalls",
            "getPstnCalls",
        ];
        if strong.iter().any(|s| t.contains(s)) {
            return 90;
        }
        let pstn =
            t.contains("\"callId\"") && (t.contains("\"licenseCapability\"") || t.contains("\"destinationName\""));
        let record = t.contains("\"sessions\"") && t.contains("\"segments\"") && t.contains("\"modalities\"");
        if pstn || record || (t.contains("\"failureInfo\"") && t.contains("\"callee\"")) {
            return 85;
        }
        u8::from(name.contains("callrecord") && has_ext(name, "json")) * 10
    }

    fn read(&self, input: Input, out: &mut Emitter<'_>) -> Result<(), ReadError> {
        let stream = std::io::BufReader::new(input.into_text());
        let mut de = serde_json::Deserializer::from_reader(stream);
        let mut ctx = Ctx { out, record: 0, skipped: 0 };
        let result = Doc(&mut ctx).deserialize(&mut de);
        let (record, skipped) = (ctx.record, ctx.skipped);
        if let Err(e) = result {
            let place = format!("line {} column {}", e.line(), e.column());
            let what = if e.is_eof() {
                "JSON ends early (file cut short?)".to_owned()
            } else if e.to_string().starts_with("recursion limit exceeded") {
                format!(
                    "nested deeper than {} levels (the JSON depth limit): reading stopped here",
                    super::event_json::JSON_DEPTH
                )
            } else {
                format!("JSON not readable: {e}")
            };
            out.warn(place, format!("{what}; the {record} records before it were read"));
        }
        if skipped > 0 {
            out.warn("", format!("{skipped} elements that are not call records were skipped"));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert_eq!(camel_to_snake("otherPartyCountryCode"), "other_party_country_code");
        assert_eq!(camel_to_snake("@odata.type"), "odata_type");
    }
}
