//! Windows events, whatever export they came from, to evidence.
//!
//! The `evtx`, `event-xml`, `event-csv` and `event-json` readers each fill a [`WinEvent`]; this
//! module turns it into a record. The channels that matter for Teams Rooms get their own reading:
//! - Skype Room System: the heartbeat (2000 healthy / 2001 unhealthy) carries a JSON payload whose
//!   `Description` lists `Network status : …. Exchange status : …. Signin status: …. Teams Signin
//!   status: ….`; each status becomes a field and the codes inside it (`80131500 : AADSTS50076`,
//!   `GeneralError`) become canonical codes. 3000/3001 are hardware checks, 4000 app restarts.
//! - Microsoft-Windows-AAD/Operational: the WAM error code, its message, the AADSTS and OAuth codes
//!   of the server answer, the resource, client, trace and correlation IDs.
//! - Microsoft-Windows-User Device Registration/Admin: the failing HRESULT.
//! - System: Kernel-Power 41 and EventLog 6008 (the machine stopped without shutting down).
//!
//! Every other event is kept as kind `event` with the codes found in its message and data.

use std::fmt::Write as _;
use std::io::Read;
use std::sync::LazyLock;

use regex::Regex;
use serde_json::{Map, Value};
use uctriage_evidence::{Evidence, Timestamp};
use uctriage_kb::{Code, Context};

use super::{codes_in, kb};

/// Longest single value (message, data item) kept, in bytes.
pub const MAX_VALUE: usize = 256 * 1024;
/// Most data items kept for one event.
pub const MAX_ITEMS: usize = 512;
/// Longest JSON payload parsed out of a Skype Room System event.
const MAX_PAYLOAD: usize = 64 * 1024;

/// One event, as any export describes it. Empty strings mean "not in this export".
#[derive(Debug, Clone, Default, PartialEq)]
pub struct WinEvent {
    pub channel: String,
    pub provider: String,
    pub event_id: Option<u32>,
    /// The numeric level (1 critical … 5 verbose; 0 is shown as information).
    pub level: Option<u8>,
    /// The level as the export wrote it in words (`Error`, `Fehler`), when there is no number.
    pub level_name: String,
    pub time: Option<Timestamp>,
    pub computer: String,
    pub record_id: Option<u64>,
    /// Task category in words (`AadTokenBrokerPlugin Operation`), when the export has it.
    pub task: String,
    /// Event data items in order; `None` names are unnamed `<Data>` items or `Properties`.
    pub data: Vec<(Option<String>, String)>,
    /// The rendered message, when the export has one.
    pub message: Option<String>,
    /// Carved from unallocated space of an `.evtx` chunk.
    pub recovered: bool,
    /// The channel was not in the export and was inferred from the provider.
    pub channel_inferred: bool,
}

/// Whether a (lower-cased) name ends with `.ext`.
pub fn has_ext(name: &str, ext: &str) -> bool {
    std::path::Path::new(name).extension().is_some_and(|e| e.eq_ignore_ascii_case(ext))
}

/// A value shortened to [`MAX_VALUE`] bytes on a character boundary.
pub fn bounded(mut s: String) -> String {
    if s.len() > MAX_VALUE {
        let mut end = MAX_VALUE;
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        s.truncate(end);
    }
    s
}

impl WinEvent {
    /// Add a data item unless the event already holds [`MAX_ITEMS`].
    pub fn push_data(&mut self, name: Option<String>, value: String) {
        if self.data.len() < MAX_ITEMS {
            self.data.push((name.filter(|n| !n.is_empty()), bounded(value)));
        }
    }

    /// The first data item called `name` (case-insensitive).
    pub fn data_item(&self, name: &str) -> Option<&str> {
        self.data
            .iter()
            .find(|(n, _)| n.as_deref().is_some_and(|n| n.eq_ignore_ascii_case(name)))
            .map(|(_, v)| v.as_str())
    }

    /// Fill the channel from the provider when the export has none (CSV and some JSON exports).
    pub fn infer_channel(&mut self) {
        if !self.channel.is_empty() {
            return;
        }
        let p = self.provider.to_ascii_lowercase();
        let channel = match p.as_str() {
            "microsoft-windows-aad" => "Microsoft-Windows-AAD/Operational",
            "microsoft-windows-user device registration" => "Microsoft-Windows-User Device Registration/Admin",
            "microsoft-windows-kernel-power" | "eventlog" | "microsoft-windows-kernel-general" | "user32" => "System",
            _ => return,
        };
        self.channel = channel.to_owned();
        self.channel_inferred = true;
    }
}

/// The level number in words, as Event Viewer shows it.
pub fn level_word(n: u8) -> &'static str {
    match n {
        1 => "Critical",
        2 => "Error",
        3 => "Warning",
        5 => "Verbose",
        _ => "Information",
    }
}

/// A level written in words, in the languages Event Viewer exports come in, to the English word.
pub fn level_from_word(w: &str) -> Option<&'static str> {
    let w = w.trim().to_lowercase();
    Some(match w.as_str() {
        "critical" | "kritisch" | "critique" | "crítico" | "critico" | "kritiek" | "krytyczny" => "Critical",
        "error" | "fehler" | "erreur" | "errore" | "fout" | "erro" | "błąd" => "Error",
        "warning" | "warnung" | "avertissement" | "advertencia" | "avviso" | "waarschuwing" | "aviso"
        | "ostrzeżenie" => "Warning",
        "information"
        | "informationen"
        | "informations"
        | "información"
        | "informazioni"
        | "informatie"
        | "informações"
        | "informacje"
        | "audit success"
        | "audit failure"
        | "überwachung erfolgreich"
        | "überwachung gescheitert"
        | "succès de l'audit"
        | "échec de l'audit" => "Information",
        "verbose" | "ausführlich" | "détaillé" | "commentaires" | "detallado" | "dettagliato" | "uitgebreid"
        | "detalhado" | "pełne" => "Verbose",
        _ => return None,
    })
}

/// The input as UTF-8 bytes: byte-order marks are honoured and dropped (csv and serde_json stop at
/// one) and UTF-16 without one is recognized by its zero bytes, so exports written by Windows
/// PowerShell (UTF-16LE) read like the others.
pub fn utf8_reader(input: crate::input::Input) -> Box<dyn Read + Send> {
    input.into_text()
}

/// A reader that fails once more than `limit` bytes were read since the last [`Budget::reset`]:
/// it bounds what one record may make a parser buffer (an unclosed quote, a giant string).
#[derive(Debug, Clone)]
pub struct Budget(std::sync::Arc<std::sync::atomic::AtomicU64>);

impl Budget {
    pub fn new() -> Self {
        Budget(std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0)))
    }

    /// Start counting again (call after each record).
    pub fn reset(&self) {
        self.0.store(0, std::sync::atomic::Ordering::Relaxed);
    }

    /// Wrap `inner` so that it fails past `limit` bytes without a reset.
    pub fn wrap<R: Read>(&self, inner: R, limit: u64) -> Metered<R> {
        Metered { inner, used: self.clone(), limit }
    }
}

impl Default for Budget {
    fn default() -> Self {
        Budget::new()
    }
}

/// See [`Budget`].
#[derive(Debug)]
pub struct Metered<R> {
    inner: R,
    used: Budget,
    limit: u64,
}

/// The message of the error [`Metered`] raises; readers match on it to word their warning.
pub const TOO_LARGE: &str = "record larger than the limit";

impl<R: Read> Read for Metered<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        let total = self.used.0.fetch_add(n as u64, std::sync::atomic::Ordering::Relaxed) + n as u64;
        if total > self.limit {
            return Err(std::io::Error::other(TOO_LARGE));
        }
        Ok(n)
    }
}

fn re(p: &str) -> Regex {
    Regex::new(p).expect("fixed pattern")
}

/// The fixed patterns of the event readers, each compiled the first time an event needs it: a
/// log of one channel wakes only a few, and compiling all twelve cost more than reading a small
/// `.evtx`.
struct Patterns {
    status: LazyLock<Regex>,
    error_line: LazyLock<Regex>,
    oauth: LazyLock<Regex>,
    resource: LazyLock<Regex>,
    access: LazyLock<Regex>,
    client: LazyLock<Regex>,
    trace: LazyLock<Regex>,
    correlation: LazyLock<Regex>,
    account: LazyLock<Regex>,
    hex: LazyLock<Regex>,
    guid: LazyLock<Regex>,
    http: LazyLock<Regex>,
}

static PATTERNS: Patterns = Patterns {
    // `Network status : Healthy`, `Teams Signin status: Unhealthy`: the name cannot cross a
    // sentence end, so each match starts a new component.
    status: LazyLock::new(|| re(r"([A-Za-z][A-Za-z0-9 ]{0,60}?)\s+status\s*:\s*")),
    error_line: LazyLock::new(|| re(r"(?mi)\bError:\s*(?:0x)?[0-9a-f]{8}\b[ \t]*([^\r\n]*?)[ \t]*(?:\bCode:|\r?$)")),
    oauth: LazyLock::new(|| re(r"\bCode:\s*([A-Za-z][A-Za-z_]{2,60})\b")),
    resource: LazyLock::new(|| re(r"(?i)\bresource(?:\s+id)?\s*:\s*'?([^\s,']+)")),
    // At most 300 characters between the quotes, checked after the match (see `ACCESS_CHARS`).
    access: LazyLock::new(|| re(r"(?i)\bto access '([^']+)'")),
    client: LazyLock::new(|| {
        re(r"(?i)\bclient(?:\s*id)?\s*:\s*'?([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})")
    }),
    trace: LazyLock::new(|| {
        re(r"(?i)\btrace\s*id\s*:\s*\{?([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})")
    }),
    correlation: LazyLock::new(|| {
        re(
            r"(?i)\bcorrelation\s*id(?:\s*\(request\))?\s*:\s*\{?([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})",
        )
    }),
    account: LazyLock::new(|| {
        re(r"(?i)\b(?:upn|account|user(?:name)?|login hint)\s*[:=]?\s*'?([^\s',;@:=]+@[^\s',;]+[A-Za-z])")
    }),
    hex: LazyLock::new(|| re(r"(?i)\b0x[0-9a-f]{8}\b")),
    // AAD 1025: `Http request status: 407. Method: POST Endpoint Uri: …`.
    http: LazyLock::new(|| re(r"(?i)\bhttp (?:request |response )?status\s*:?\s*([1-5][0-9][0-9])\b")),
    guid: LazyLock::new(|| re(r"(?i)\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b")),
};

/// How long the resource named in `to access '…'` may be: the bound is checked after the match,
/// because written in the pattern (`[^']{1,300}`) it made the pattern ten times as slow to compile.
const ACCESS_CHARS: std::ops::RangeInclusive<usize> = 1..=300;

fn patterns() -> &'static Patterns {
    &PATTERNS
}

/// Codes in event text. GUIDs (device, tenant, activity IDs) are blanked first: their first group
/// often reads like an error code (`caaaaf3a-…`).
fn event_codes(text: &str) -> Vec<Code> {
    match blank_guids(text) {
        Guids::None => codes_in(text),
        Guids::Blanked(t) => codes_in(&t),
        Guids::Unsure => {
            let guid = &patterns().guid;
            if guid.is_match(text) {
                codes_in(&guid.replace_all(text, " "))
            } else {
                codes_in(text)
            }
        }
    }
}

/// What [`blank_guids`] made of a text.
#[derive(Debug, PartialEq)]
enum Guids {
    /// No GUID in it.
    None,
    /// Each GUID replaced by one space.
    Blanked(String),
    /// A GUID-shaped run touches a character beyond ASCII: only the `guid` pattern, whose word
    /// boundaries are Unicode's, can say whether it is one.
    Unsure,
}

/// Whether `b` starts with the shape of a GUID: 8-4-4-4-12 hex digits of either case.
fn guid_shape(b: &[u8]) -> bool {
    b.len() >= 36
        && b[..36].iter().enumerate().all(|(i, c)| {
            if matches!(i, 8 | 13 | 18 | 23) {
                *c == b'-'
            } else {
                c.is_ascii_hexdigit()
            }
        })
}

/// The GUIDs of `text` blanked as `patterns().guid.replace_all(text, " ")` blanks them, without
/// running the pattern. A GUID begins 8 bytes before a `-`, so each `-` is a place to look; they
/// come in order, and one inside a GUID already blanked starts none (matches do not overlap).
fn blank_guids(text: &str) -> Guids {
    let b = text.as_bytes();
    let mut out: Option<String> = None;
    // Bytes of `text` already copied to `out` or blanked.
    let mut done = 0;
    for dash in memchr::memchr_iter(b'-', b) {
        let Some(start) = dash.checked_sub(8) else { continue };
        if start < done || !guid_shape(&b[start..]) {
            continue;
        }
        let end = start + 36;
        let before = start.checked_sub(1).map(|i| b[i]);
        let after = b.get(end).copied();
        if before.is_some_and(|c| !c.is_ascii()) || after.is_some_and(|c| !c.is_ascii()) {
            return Guids::Unsure;
        }
        // `\b` on both sides: an ASCII neighbour must not be a word character.
        let word = |c: u8| c.is_ascii_alphanumeric() || c == b'_';
        if before.is_some_and(word) || after.is_some_and(word) {
            continue;
        }
        let s = out.get_or_insert_with(|| String::with_capacity(text.len()));
        s.push_str(&text[done..start]);
        s.push(' ');
        done = end;
    }
    match out {
        Some(mut s) => {
            s.push_str(&text[done..]);
            Guids::Blanked(s)
        }
        None => Guids::None,
    }
}

/// An HRESULT-shaped value that names a failure (high bit set) or a code the base knows.
fn failure_hresult(raw: &str) -> Option<Code> {
    let raw = raw.trim();
    if raw.is_empty() || raw.len() > 24 {
        return None;
    }
    match kb().normalize(raw, Context::Hresult)? {
        Code::Hresult(v) if v >= 0x8000_0000 || (v != 0 && kb().get(&Code::Hresult(v)).is_some()) => {
            Some(Code::Hresult(v))
        }
        _ => None,
    }
}

/// Status words that only say how a component is: fields, not codes.
fn is_state_word(w: &str) -> bool {
    ["healthy", "unhealthy", "notapplicable", "connected", "pass", "fail", ""]
        .contains(&w.trim().to_ascii_lowercase().as_str())
}

/// A component name as a field name: `Teams Signin` → `teams_signin_status`.
fn status_field(name: &str) -> String {
    let mut s = String::new();
    for w in name.split_whitespace() {
        if !s.is_empty() {
            s.push('_');
        }
        s.push_str(&w.to_ascii_lowercase());
    }
    s.push_str("_status");
    s
}

/// The `X status : value` parts of a Teams Rooms description, in order.
fn statuses(description: &str) -> Vec<(String, String)> {
    let p = &patterns().status;
    let matches: Vec<_> = p.captures_iter(description).collect();
    let mut out = Vec::new();
    for (i, c) in matches.iter().enumerate() {
        let (Some(whole), Some(name)) = (c.get(0), c.get(1)) else { continue };
        let end = matches.get(i + 1).and_then(|n| n.get(0)).map_or(description.len(), |m| m.start());
        let value = description.get(whole.end()..end).unwrap_or("").trim();
        // The status is the first sentence; what follows (`Configured display count is 2.`)
        // stays in the description.
        let value = value.split_once(". ").map_or(value, |(first, _)| first).trim_end_matches('.').trim();
        out.push((status_field(name.as_str().trim()), value.to_owned()));
    }
    out
}

/// Codes inside one status value: `80131500 : AADSTS50076` → `0x80131500`, `AADSTS50076`;
/// `GeneralError` → `TEAMS GeneralError` (when the base knows it).
fn status_codes(value: &str, e: &mut Evidence) {
    for token in value.split(':').map(str::trim) {
        if is_state_word(token) || token.len() > 80 {
            continue;
        }
        let hex8 = token.len() == 8 && token.bytes().all(|b| b.is_ascii_hexdigit());
        if hex8 {
            if let Some(c) = failure_hresult(token) {
                e.add_code(c);
            }
            continue;
        }
        let mut found = codes_in(token);
        if found.is_empty() {
            if let Some(c) = kb().normalize(token, Context::Any) {
                if kb().get(&c).is_some() && !matches!(&c, Code::Teams(t) if is_state_word(t)) {
                    found.push(c);
                }
            }
        }
        e.add_codes(found);
    }
}

/// The Teams Rooms JSON payload (`{"Description": …, "ResourceState": …}`) of an event, if any.
fn payload(ev: &WinEvent) -> Option<(String, Map<String, Value>)> {
    let candidates = ev.message.iter().map(String::as_str).chain(ev.data.iter().map(|(_, v)| v.as_str()));
    for text in candidates.take(4) {
        let t = text.trim();
        if t.len() > MAX_PAYLOAD || !t.starts_with('{') || !t.ends_with('}') {
            continue;
        }
        if let Ok(Value::Object(m)) = serde_json::from_str::<Value>(t) {
            let known = ["Description", "ResourceState", "OperationName"];
            if m.keys().any(|k| known.iter().any(|n| n.eq_ignore_ascii_case(k))) {
                return Some((t.to_owned(), m));
            }
        }
    }
    None
}

/// Payload keys to field names; the rest are snake-cased.
fn payload_field(key: &str) -> String {
    match key {
        "ResourceState" => "resource_state".into(),
        "OperationName" => "operation_name".into(),
        "OperationResult" => "operation_result".into(),
        "OS" => "os".into(),
        "OSVersion" => "os_version".into(),
        "Alias" => "alias".into(),
        "DisplayName" => "display_name".into(),
        "AppVersion" => "app_version".into(),
        "IPv4Address" => "ipv4".into(),
        "IPv6Address" => "ipv6".into(),
        "Description" => "description".into(),
        other => snake(other),
    }
}

fn snake(s: &str) -> String {
    let mut out = String::new();
    let mut prev_lower = false;
    for ch in s.chars() {
        if ch.is_ascii_uppercase() {
            if prev_lower {
                out.push('_');
            }
            out.push(ch.to_ascii_lowercase());
            prev_lower = false;
        } else if ch.is_ascii_alphanumeric() {
            out.push(ch);
            prev_lower = true;
        } else if !out.ends_with('_') && !out.is_empty() {
            out.push('_');
            prev_lower = false;
        }
    }
    out.trim_end_matches('_').to_owned()
}

fn is_srs_channel(ev: &WinEvent) -> bool {
    ev.channel.eq_ignore_ascii_case("Skype Room System")
}

/// All the text of an event: message and data values, for code extraction.
fn all_text(ev: &WinEvent) -> String {
    let mut s = String::new();
    if let Some(m) = &ev.message {
        s.push_str(m);
    }
    for (_, v) in &ev.data {
        if !s.is_empty() {
            s.push('\n');
        }
        s.push_str(v);
    }
    s
}

/// The excerpt: the message, or the data as `Name: value` pairs. A message or a lone data item is
/// borrowed as it is.
fn excerpt_text(ev: &WinEvent) -> std::borrow::Cow<'_, str> {
    if let Some(m) = ev.message.as_deref().filter(|m| !m.trim().is_empty()) {
        return std::borrow::Cow::Borrowed(m);
    }
    if let [(_, v)] = ev.data.as_slice() {
        return std::borrow::Cow::Borrowed(v);
    }
    let mut s = String::new();
    let mut unnamed = 0;
    for (n, v) in &ev.data {
        if v.is_empty() {
            continue;
        }
        if !s.is_empty() {
            s.push_str("; ");
        }
        if let Some(n) = n {
            s.push_str(n);
        } else {
            unnamed += 1;
            let _ = write!(s, "Data{unnamed}");
        }
        s.push_str(": ");
        s.push_str(v);
        if s.len() > 2 * uctriage_evidence::EXCERPT_MAX {
            break;
        }
    }
    std::borrow::Cow::Owned(s)
}

/// Whether `s` starts with `prefix`, ignoring ASCII case (`prefix` is written in lower case):
/// what `s.to_ascii_lowercase().starts_with(prefix)` says, without the copy.
fn starts_with_lower(s: &str, prefix: &str) -> bool {
    s.len() >= prefix.len() && s.as_bytes()[..prefix.len()].eq_ignore_ascii_case(prefix.as_bytes())
}

/// The name of the `n`th unnamed data item: `Data1`, `Data2`, … (one allocation, no `format!`
/// argument parsing).
fn unnamed_key(n: usize) -> String {
    let mut key = String::with_capacity(8);
    key.push_str("Data");
    let _ = write!(key, "{n}");
    key
}

/// The record for one event. `e` comes from the emitter with the place filled in.
pub fn to_evidence(ev: &WinEvent, mut e: Evidence) -> Evidence {
    let (made, repeated) = made_of(ev, &mut e);
    remember(made, repeated, None, &e);
    e
}

/// [`to_evidence`] for a reader done with the event: the event is kept, without a copy, so
/// that the events repeating it are answered with a copy of their record (see [`LastRecord`]).
pub fn to_evidence_owned(ev: WinEvent, mut e: Evidence) -> Evidence {
    let (made, repeated) = made_of(&ev, &mut e);
    remember(made, repeated, Some(ev), &e);
    e
}

/// What [`made_of`] did with an event, for [`remember`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Made {
    /// Copied from the remembered record: nothing to remember.
    Copied,
    /// Read afresh. `pure` when the record is a copy-able function of the event: `e` held only
    /// its place and `record_id`, if any, is the event's own.
    Read { pure: bool },
}

/// Fill `e` with the record of `ev`, from the remembered record when `ev` repeats its event.
/// With a record read afresh comes the remembered event, taken out while `ev` was read, when
/// `ev` repeats it (its record was not kept yet).
fn made_of(ev: &WinEvent, e: &mut Evidence) -> (Made, Option<LastRecord>) {
    // Nothing but the place in `e` yet: the record of a repeated event can be a copy.
    let fresh = e.fields.is_empty() && e.codes.is_empty() && e.kind.is_empty() && e.excerpt.is_empty();
    // Taken out, so that an event whose reading panics leaves nothing behind.
    let last = LAST_RECORD.take();
    let repeated = last.filter(|l| fresh && l.repeats(ev));
    if let Some(l) = &repeated {
        if l.fill(ev, e) {
            LAST_RECORD.set(repeated);
            return (Made::Copied, None);
        }
    }
    let own_id = read_event(ev, e);
    (Made::Read { pure: fresh && own_id }, repeated)
}

/// Fill `e` with the record of `ev`, read afresh. False when the Teams Rooms fields set
/// `record_id` (the record is then no copy of another with its own ID put in).
fn read_event(ev: &WinEvent, e: &mut Evidence) -> bool {
    e.time = ev.time;
    e.source = if ev.channel.is_empty() { ev.provider.clone() } else { ev.channel.clone() };
    if let Some(id) = ev.event_id {
        e.field("event_id", id);
    }
    if let Some(l) = ev.level {
        e.field("level", level_word(l));
    } else if !ev.level_name.is_empty() {
        match level_from_word(&ev.level_name) {
            Some(l) => e.field("level", l),
            None => e.field("level", ev.level_name.as_str()),
        };
    }
    e.field("provider", ev.provider.as_str());
    e.field("channel", ev.channel.as_str());
    if ev.channel_inferred {
        e.field("channel_inferred", true);
    }
    e.field("computer", ev.computer.as_str());
    if let Some(r) = ev.record_id {
        e.field("record_id", r);
    }
    e.field("task", ev.task.as_str());
    if let Some(m) = &ev.message {
        e.field("message", m.trim());
    }
    if ev.recovered {
        e.field("recovered", true);
    }
    let mut data = Map::new();
    let mut unnamed = 0;
    for (n, v) in &ev.data {
        if n.is_none() {
            unnamed += 1;
        }
        if v.is_empty() {
            continue;
        }
        let key = match n {
            Some(n) => n.clone(),
            None => unnamed_key(unnamed),
        };
        data.entry(key).or_insert_with(|| Value::String(v.clone()));
    }
    if !data.is_empty() {
        e.fields.insert("data", Value::Object(data));
    }
    e.set_excerpt(&excerpt_text(ev));

    let provider = ev.provider.as_str();
    let channel = ev.channel.as_str();
    // The fields Teams Rooms events add come from the memo [`LAST_ROOMS`] holds after these.
    let rooms_own_id = || LAST_ROOMS.with_borrow(|m| m.as_ref().is_some_and(|m| !m.fields.contains_key("record_id")));
    if rooms_repeat(ev, e) {
        return rooms_own_id();
    }
    if let Some((_, p)) = payload(ev) {
        rooms_remembered(ev, Some(&p), e);
        return rooms_own_id();
    } else if is_srs_channel(ev) {
        rooms_remembered(ev, None, e);
        return rooms_own_id();
    } else if starts_with_lower(channel, "microsoft-windows-aad/")
        || provider.eq_ignore_ascii_case("microsoft-windows-aad")
    {
        aad(ev, e);
    } else if starts_with_lower(channel, "microsoft-windows-user device registration")
        || provider.eq_ignore_ascii_case("microsoft-windows-user device registration")
    {
        device_registration(ev, e);
    } else if is_power(ev, provider) {
        e.kind = "power".into();
        e.field("power_event", "unexpected-shutdown");
        e.add_codes(event_codes(&all_text(ev)));
    } else {
        e.kind = "event".into();
        e.add_codes(event_codes(&all_text(ev)));
    }
    true
}

/// The last event read on this thread and, once an event repeated it, the record made of it
/// (without `record_id`). A room writes the same heartbeat, and the same token notice, every few
/// minutes, equal but for the time and record ID, so the record of a repeat is a copy of the last
/// one with its own time and ID put in.
///
/// What a record is made of is the event alone, and the Teams Rooms memo ([`LAST_ROOMS`]), which
/// changes only in [`read_event`]; every event read afresh replaces or clears this one, so when
/// an event repeats the one held here, reading it afresh would meet the memo as that one did.
struct LastRecord {
    ev: WinEvent,
    record: Option<Kept>,
}

/// The parts of a record that [`LastRecord`] copies.
struct Kept {
    source: String,
    kind: String,
    codes: Vec<Code>,
    fields: uctriage_evidence::Fields,
    excerpt: String,
}

thread_local! {
    static LAST_RECORD: std::cell::RefCell<Option<LastRecord>> = const { std::cell::RefCell::new(None) };
}

impl LastRecord {
    /// Whether `ev` is the remembered event but for its time and record ID.
    fn repeats(&self, ev: &WinEvent) -> bool {
        // Every field is named, so that a field added to `WinEvent` has to be placed here.
        let WinEvent {
            channel,
            provider,
            event_id,
            level,
            level_name,
            time: _,
            computer,
            record_id: _,
            task,
            data,
            message,
            recovered,
            channel_inferred,
        } = &self.ev;
        *event_id == ev.event_id
            && *channel == ev.channel
            && *provider == ev.provider
            && *level == ev.level
            && *level_name == ev.level_name
            && *computer == ev.computer
            && *task == ev.task
            && *recovered == ev.recovered
            && *channel_inferred == ev.channel_inferred
            && *message == ev.message
            && *data == ev.data
    }

    /// Make `e` (holding only its place) the record of `ev`, a repeat of the remembered event,
    /// when that event's record is kept.
    fn fill(&self, ev: &WinEvent, e: &mut Evidence) -> bool {
        let Some(r) = &self.record else { return false };
        e.time = ev.time;
        e.source.clone_from(&r.source);
        e.kind.clone_from(&r.kind);
        e.codes.clone_from(&r.codes);
        e.fields = r.fields.clone();
        if let Some(id) = ev.record_id {
            e.fields.insert("record_id", id.into());
        }
        e.excerpt.clone_from(&r.excerpt);
        true
    }
}

/// Keep what [`made_of`] read for the events that repeat it: the event (`owned`: a reader that
/// only lends its event keeps nothing) and, for a repeat (`repeated`), its record `e` too.
fn remember(made: Made, repeated: Option<LastRecord>, owned: Option<WinEvent>, e: &Evidence) {
    let Made::Read { pure } = made else { return };
    if !pure {
        return;
    }
    if let Some(mut last) = repeated {
        // The event was held already: its second reading is kept for the next ones.
        let mut fields = e.fields.clone();
        fields.remove("record_id");
        last.record = Some(Kept {
            source: e.source.clone(),
            kind: e.kind.clone(),
            codes: e.codes.clone(),
            fields,
            excerpt: e.excerpt.clone(),
        });
        LAST_RECORD.set(Some(last));
        return;
    }
    LAST_RECORD.set(owned.map(|ev| LastRecord { ev, record: None }));
}

/// What [`rooms`] made of the last Teams Rooms event read on this thread. A room writes the same
/// heartbeat every few minutes, identical but for its time and record ID, so most events are
/// answered from here without parsing the payload again.
struct RoomsMemo {
    event_id: Option<u32>,
    channel: String,
    text: String,
    kind: String,
    fields: uctriage_evidence::Fields,
    codes: Vec<Code>,
}

thread_local! {
    static LAST_ROOMS: std::cell::RefCell<Option<RoomsMemo>> = const { std::cell::RefCell::new(None) };
}

impl RoomsMemo {
    fn matches(&self, ev: &WinEvent) -> bool {
        self.event_id == ev.event_id && self.channel == ev.channel && self.text == all_text(ev)
    }

    fn apply(&self, e: &mut Evidence) {
        e.kind.clone_from(&self.kind);
        for (k, v) in &self.fields {
            e.fields.insert(k.clone(), v.clone());
        }
        e.add_codes(self.codes.iter().cloned());
    }
}

/// Fill `e` from the memo when `ev` repeats the last Teams Rooms event of this thread.
fn rooms_repeat(ev: &WinEvent, e: &mut Evidence) -> bool {
    LAST_ROOMS.with_borrow(|m| match m {
        Some(m) if m.matches(ev) => {
            m.apply(e);
            true
        }
        _ => false,
    })
}

/// [`rooms`], remembering what it added for the events that repeat this one.
fn rooms_remembered(ev: &WinEvent, payload: Option<&Map<String, Value>>, e: &mut Evidence) {
    let mut added = Evidence::new("", "", "");
    rooms(ev, payload, &mut added);
    let memo = RoomsMemo {
        event_id: ev.event_id,
        channel: ev.channel.clone(),
        text: all_text(ev),
        kind: added.kind,
        fields: added.fields,
        codes: added.codes,
    };
    memo.apply(e);
    LAST_ROOMS.set(Some(memo));
}

/// Kernel-Power 41 and EventLog 6008: the machine stopped without a clean shutdown.
fn is_power(ev: &WinEvent, provider: &str) -> bool {
    match ev.event_id {
        Some(41) => provider.eq_ignore_ascii_case("microsoft-windows-kernel-power"),
        Some(6008) => provider.eq_ignore_ascii_case("eventlog"),
        _ => false,
    }
}

/// Skype Room System events (or any event carrying the Teams Rooms payload).
fn rooms(ev: &WinEvent, payload: Option<&Map<String, Value>>, e: &mut Evidence) {
    let srs = is_srs_channel(ev);
    let mut description = None;
    let mut operation = String::new();
    if let Some(map) = payload {
        for (k, v) in map {
            let text = match v {
                Value::String(s) => s.clone(),
                Value::Null => continue,
                other => other.to_string(),
            };
            if k.eq_ignore_ascii_case("Description") {
                description = Some(text.clone());
            }
            if k.eq_ignore_ascii_case("OperationName") {
                operation = text.clone();
            }
            e.field(payload_field(k), bounded(text));
        }
    }
    let description = description.or_else(|| ev.message.clone()).or_else(|| ev.data.first().map(|(_, v)| v.clone()));
    let id = ev.event_id;
    let heartbeat = operation.eq_ignore_ascii_case("heartbeat") || (srs && matches!(id, Some(2000 | 2001)));
    e.kind = if heartbeat {
        "heartbeat"
    } else if matches!(id, Some(3000 | 3001)) {
        "hardware"
    } else if id == Some(4000) {
        "app-restart"
    } else {
        "event"
    }
    .into();
    let parts = description.as_deref().map(statuses).unwrap_or_default();
    if parts.is_empty() {
        // No component statuses: an ordinary message, searched like any other.
        e.add_codes(event_codes(&all_text(ev)));
        return;
    }
    if e.kind != "heartbeat" {
        if let Some(d) = &description {
            e.field("description", d.as_str());
        }
    }
    for (field, value) in parts {
        status_codes(&value, e);
        if !e.fields.contains_key(&field) {
            e.field(field, value);
        }
    }
}

/// Microsoft-Windows-AAD/Operational: the WAM error and the server's answer inside it.
fn aad(ev: &WinEvent, e: &mut Evidence) {
    let p = patterns();
    let text = all_text(ev);
    let error_code = ["Error", "ErrorCode", "Result", "Status", "HResult"]
        .iter()
        .find_map(|n| ev.data_item(n).and_then(failure_hresult))
        .or_else(|| p.hex.find_iter(&text).find_map(|m| failure_hresult(m.as_str())));
    if let Some(c) = &error_code {
        e.field("error_code", c.to_string());
        e.add_code(c.clone());
    }
    let message = ev
        .data_item("ErrorMessage")
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty())
        .or_else(|| p.error_line.captures(&text).and_then(|c| c.get(1)).map(|m| m.as_str().trim().to_owned()));
    if let Some(m) = message {
        e.field("error_message", bounded(m));
    }
    let codes = event_codes(&text);
    let aadsts = codes.iter().find(|c| matches!(c, Code::Aadsts(_))).cloned();
    if let Some(c) = &aadsts {
        e.field("aadsts", c.to_string());
        e.add_code(c.clone());
    }
    if let Some(word) = p.oauth.captures(&text).and_then(|c| c.get(1)) {
        let w = word.as_str().to_ascii_lowercase();
        e.field("oauth_error", w.as_str());
        let code = Code::Oauth(w.as_str().into());
        if kb().get(&code).is_some() || (w.contains('_') && w.chars().all(|c| c.is_ascii_lowercase() || c == '_')) {
            e.add_code(code);
        }
    }
    let resource = ev
        .data_item("Resource")
        .map(str::to_owned)
        .or_else(|| p.resource.captures(&text).and_then(|c| c.get(1)).map(|m| m.as_str().to_owned()))
        .or_else(|| {
            uctriage_kb::bounded_captures(&p.access, &text, 0, &ACCESS_CHARS)
                .and_then(|c| c.get(1))
                .map(|m| m.as_str().to_owned())
        });
    if let Some(r) = resource {
        e.field("resource", r.trim_end_matches(['.', ',']));
    }
    let grab = |re: &Regex| re.captures(&text).and_then(|c| c.get(1)).map(|m| m.as_str().to_owned());
    if let Some(v) = ev.data_item("ClientId").map(str::to_owned).or_else(|| grab(&p.client)) {
        e.field("client_id", v);
    }
    if let Some(v) = grab(&p.trace) {
        e.field("trace_id", v);
    }
    if let Some(v) = ev.data_item("CorrelationId").map(str::to_owned).or_else(|| grab(&p.correlation)) {
        e.field("correlation_id", v.trim_matches(['{', '}']));
    }
    // The account pattern needs an `@`: text without one is not searched.
    if let Some(v) = ev.data_item("UPN").or_else(|| ev.data_item("Account")).map(str::to_owned).or_else(|| {
        if text.contains('@') {
            grab(&p.account)
        } else {
            None
        }
    }) {
        e.field("account", v);
    }
    if let Some(status) = grab(&p.http).and_then(|s| s.parse::<u16>().ok()) {
        e.field("http_status", status);
        if status >= 400 {
            e.add_code(Code::Http(status));
        }
    }
    e.add_codes(codes);
    // The level decides; without one (some exports), the events the plug-in logs on failure do.
    let level = ev.level.map(level_word).or_else(|| level_from_word(&ev.level_name));
    let failing = match level {
        Some(l) => matches!(l, "Critical" | "Error"),
        None => matches!(ev.event_id, Some(1097 | 1098 | 1104)),
    } || aadsts.is_some()
        || matches!(error_code, Some(Code::Hresult(v)) if v >= 0x8000_0000);
    e.kind = if failing { "aad-error" } else { "aad-event" }.into();
}

/// Microsoft-Windows-User Device Registration/Admin: the HRESULT of a failed join or registration.
fn device_registration(ev: &WinEvent, e: &mut Evidence) {
    e.kind = "device-registration".into();
    let text = all_text(ev);
    let named = ev.data.iter().find_map(|(n, v)| {
        let n = n.as_deref()?.to_ascii_lowercase();
        (n.contains("error") || n.contains("code") || n.contains("hresult") || n.contains("status"))
            .then(|| failure_hresult(v))
            .flatten()
    });
    let code = named.or_else(|| patterns().hex.find_iter(&text).find_map(|m| failure_hresult(m.as_str())));
    if let Some(c) = code {
        e.field("error_code", c.to_string());
        e.add_code(c);
    }
    e.add_codes(event_codes(&text));
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The patterns are compiled on first use: every one must compile, so a broken one fails here.
    #[test]
    fn every_pattern_compiles() {
        let p = patterns();
        for r in [
            &p.status,
            &p.error_line,
            &p.oauth,
            &p.resource,
            &p.access,
            &p.client,
            &p.trace,
            &p.correlation,
            &p.account,
            &p.hex,
            &p.guid,
            &p.http,
        ] {
            assert!(!LazyLock::force(r).as_str().is_empty());
        }
    }

    /// The resource of `to access '…'` is what the pattern with the bound written in it found,
    /// for resources of every length around the bound, and when a long quoted text holds the
    /// start of a short one.
    #[test]
    fn access_resources_are_bounded_as_before() {
        let before = Regex::new(r"(?i)\bto access '([^']{1,300})'").unwrap();
        let now = |text: &str| {
            uctriage_kb::bounded_captures(&patterns().access, text, 0, &ACCESS_CHARS)
                .and_then(|c| c.get(1))
                .map(|m| (m.start(), m.end()))
        };
        let mut found = 0;
        for n in 0..=310 {
            for letter in ["r", "é"] {
                let name = letter.repeat(n);
                for text in [
                    format!("you must use MFA to access '{name}'. Trace ID: x"),
                    format!("to access '{name} to access 'ab{name}' and to access 'c'"),
                    format!("to access '{name}"),
                ] {
                    let was = before.captures(&text).and_then(|c| c.get(1)).map(|m| (m.start(), m.end()));
                    assert_eq!(was, now(&text), "{n} {letter}: {text}");
                    found += usize::from(was.is_some());
                }
            }
        }
        assert!(found > 1000, "{found}");
    }

    fn ev(channel: &str, provider: &str, id: u32, data: &[(&str, &str)]) -> WinEvent {
        let mut e = WinEvent {
            channel: channel.into(),
            provider: provider.into(),
            event_id: Some(id),
            level: Some(2),
            ..WinEvent::default()
        };
        for (n, v) in data {
            e.push_data((!n.is_empty()).then(|| (*n).to_owned()), (*v).to_owned());
        }
        e
    }

    fn codes(e: &Evidence) -> Vec<String> {
        e.codes.iter().map(ToString::to_string).collect()
    }

    #[test]
    fn heartbeat_statuses_and_codes() {
        let payload = r#"{"Description":"Network status : Healthy. Exchange status : 80131500 : AADSTS50076. Signin status: NotApplicable. Teams Signin status: Unhealthy.","ResourceState":"Unhealthy","OperationName":"Heartbeat","OperationResult":"Fail","OS":"Windows 10","OSVersion":"10.0.19044.1889","Alias":"","DisplayName":"","AppVersion":"4.13.132.0","IPv4Address":"192.0.2.53","IPv6Address":""}"#;
        let w = ev("Skype Room System", "SRS_App", 2001, &[("", payload)]);
        let e = to_evidence(&w, Evidence::new("p", "evtx", "record 1"));
        assert_eq!(e.kind, "heartbeat");
        assert_eq!(codes(&e), ["0x80131500", "AADSTS50076"]);
        assert_eq!(e.get_str("network_status"), Some("Healthy"));
        assert_eq!(e.get_str("exchange_status"), Some("80131500 : AADSTS50076"));
        assert_eq!(e.get_str("signin_status"), Some("NotApplicable"));
        assert_eq!(e.get_str("teams_signin_status"), Some("Unhealthy"));
        assert_eq!(e.get_str("app_version"), Some("4.13.132.0"));
        assert_eq!(e.get_str("ipv4"), Some("192.0.2.53"));
        assert_eq!(e.get_str("alias"), None);
    }

    #[test]
    fn repeated_heartbeats_read_the_same_as_the_first() {
        let healthy = r#"{"Description":"Network status : Healthy. Exchange status : Connected. Signin status: NotApplicable. Teams Signin status: Healthy.","OperationName":"Heartbeat","AppVersion":"5.1.111.0"}"#;
        let failing = healthy.replace("Exchange status : Connected", "Exchange status : 80131500 : AADSTS50076");
        let read = |payload: &str, id: u32, record: u64| {
            let mut w = ev("Skype Room System", "SRS-App", id, &[("", payload)]);
            w.record_id = Some(record);
            to_evidence(&w, Evidence::new("p", "evtx", format!("record {record}")))
        };
        let first = read(healthy, 2000, 1);
        let again = read(healthy, 2000, 2);
        assert_eq!((again.kind.as_str(), again.get_str("app_version")), ("heartbeat", Some("5.1.111.0")));
        assert_eq!(again.fields.get("record_id"), Some(&2.into()));
        let mut same = again.clone();
        same.fields.insert("record_id", 1.into());
        same.location = first.location.clone();
        assert_eq!(same, first);
        // A change of text, of event ID or of channel is read afresh.
        let failed = read(&failing, 2001, 3);
        assert_eq!(codes(&failed), ["0x80131500", "AADSTS50076"]);
        assert_eq!(failed.get_str("exchange_status"), Some("80131500 : AADSTS50076"));
        assert!(read(healthy, 2000, 4).codes.is_empty());
        let other = to_evidence(&ev("Application", "Other", 2000, &[("", healthy)]), Evidence::new("p", "evtx", "r"));
        assert_eq!(other.source, "Application");
    }

    #[test]
    fn exchange_named_status_is_a_teams_code() {
        let payload = r#"{"Description":"Network status : Healthy. Exchange status : GeneralError. Signin status: NotApplicable. Teams Signin status: Healthy.","OperationName":"Heartbeat"}"#;
        let w = ev("", "", 2001, &[("", payload)]);
        let e = to_evidence(&w, Evidence::new("p", "event-csv", "row 1"));
        assert_eq!(e.kind, "heartbeat");
        assert_eq!(codes(&e), ["TEAMS GeneralError"]);
        let healthy = payload.replace("GeneralError", "Connected");
        let e = to_evidence(&ev("", "", 2000, &[("", &healthy)]), Evidence::new("p", "x", "l"));
        assert!(e.codes.is_empty(), "{:?}", e.codes);
    }

    #[test]
    fn aad_1098() {
        let w = ev(
            "Microsoft-Windows-AAD/Operational",
            "Microsoft-Windows-AAD",
            1098,
            &[
                ("Error", "3399614476"),
                ("ErrorMessage", "The request requires user interaction."),
                ("AdditionalInformation", "Code: interaction_required Description: AADSTS50076: Due to a configuration change made by your administrator, or because you moved to a new location, you must use multi-factor authentication to access '00000002-0000-0ff1-ce00-000000000000'. Trace ID: 0b1c2d3e-0000-4000-8000-000000000001 Correlation ID: 0b1c2d3e-0000-4000-8000-000000000002 Timestamp: 2025-07-15 08:30:11Z"),
            ],
        );
        let e = to_evidence(&w, Evidence::new("p", "evtx", "record 1"));
        assert_eq!(e.kind, "aad-error");
        assert_eq!(codes(&e)[..3], ["0xCAA2000C", "AADSTS50076", "OAUTH interaction_required"]);
        assert_eq!(e.get_str("error_message"), Some("The request requires user interaction."));
        assert_eq!(e.get_str("resource"), Some("00000002-0000-0ff1-ce00-000000000000"));
        assert_eq!(e.get_str("trace_id"), Some("0b1c2d3e-0000-4000-8000-000000000001"));
        assert_eq!(e.get_str("correlation_id"), Some("0b1c2d3e-0000-4000-8000-000000000002"));
    }

    #[test]
    fn aad_message_only() {
        let mut w = ev("", "Microsoft-Windows-AAD", 1098, &[]);
        w.message = Some("Error: 0xCAA2000C The request requires user interaction.\nCode: interaction_required\nDescription: AADSTS50076: MFA.\nRequest: authority: https://login.microsoftonline.com/common, client: 1fec8e78-bce4-4aaf-ab1b-5451cc387264, redirect URI: ms-appx-web://x, resource: https://api.spaces.skype.com, correlation ID (request): 0b1c2d3e-0000-4000-8000-000000000003".into());
        w.infer_channel();
        let e = to_evidence(&w, Evidence::new("p", "event-csv", "row 1"));
        assert_eq!(e.source, "Microsoft-Windows-AAD/Operational");
        assert_eq!(e.get_str("error_code"), Some("0xCAA2000C"));
        assert_eq!(e.get_str("error_message"), Some("The request requires user interaction."));
        assert_eq!(e.get_str("client_id"), Some("1fec8e78-bce4-4aaf-ab1b-5451cc387264"));
        assert_eq!(e.get_str("resource"), Some("https://api.spaces.skype.com"));
        assert_eq!(e.get_str("correlation_id"), Some("0b1c2d3e-0000-4000-8000-000000000003"));
    }

    /// GUIDs blanked by hand are what the `guid` pattern blanks.
    #[test]
    fn guids_blank_as_the_pattern_blanks_them() {
        let guid = &patterns().guid;
        // The pattern's hex digits are ASCII only, case folding included.
        let hex = Regex::new(r"(?i)^[0-9a-f]$").unwrap();
        for c in (0..=u32::from(char::MAX)).filter_map(char::from_u32) {
            assert_eq!(hex.is_match(c.encode_utf8(&mut [0; 4])), c.is_ascii_hexdigit(), "{c:?}");
        }
        let g = "0b1c2d3e-0000-4000-8000-000000000001";
        let mut texts: Vec<String> = vec![
            String::new(),
            "-".into(),
            "no guid - here".into(),
            g.into(),
            g.to_uppercase(),
            format!("{g}{g}"),
            format!("{g}-{g}"),
            format!("x{g}"),
            format!("{g}x"),
            format!("_{g}"),
            format!("{g}_"),
            format!("({g}) and {{{g}}}"),
            format!("é{g}"),
            format!("{g}é"),
            format!("€ {g} ü"),
            g[..35].to_owned(),
            format!("{}g", &g[..35]),
            format!("1{g}1 {g}"),
            format!("Trace ID: {g} Correlation ID: {g}\nTimestamp: 2025-07-15 08:30:11Z"),
            "caaaaf3a-1234-5678-9abc-def012345678 Error: 0xCAA2000C".into(),
            "12345678-1234-1234-1234-1234567890123".into(),
        ];
        texts.extend(crate::readers::fixture_lines().into_iter().filter(|l| l.contains('-')).take(20_000));
        for t in &texts {
            let want = guid.is_match(t).then(|| guid.replace_all(t, " ").into_owned());
            match blank_guids(t) {
                Guids::None => assert_eq!(want, None, "{t:?}"),
                Guids::Blanked(s) => assert_eq!(want.as_deref(), Some(s.as_str()), "{t:?}"),
                Guids::Unsure => assert!(!t.is_ascii(), "{t:?}"),
            }
        }
    }

    #[test]
    fn unnamed_keys_and_prefixes_read_as_the_plain_versions() {
        for n in [0, 1, 2, 9, 10, 11, 99, 100, 511, 512, 1000, usize::MAX] {
            assert_eq!(unnamed_key(n), format!("Data{n}"));
        }
        for s in [
            "",
            "m",
            "Microsoft-Windows-AAD/Operational",
            "MICROSOFT-WINDOWS-AAD/",
            "microsoft-windows-aad",
            "Ünicode/x",
        ] {
            for prefix in ["", "microsoft-windows-aad/", "microsoft-windows-user device registration", "m"] {
                assert_eq!(
                    starts_with_lower(s, prefix),
                    s.to_ascii_lowercase().starts_with(prefix),
                    "{s:?} {prefix:?}"
                );
            }
        }
    }

    /// An event that repeats the last one (the same but for its time and record ID) is answered
    /// with a copy of its record: it must be what reading it afresh gives.
    #[test]
    fn repeated_events_copy_the_record_read_afresh() {
        let payload = r#"{"Description":"Network status : Healthy. Exchange status : 80131500 : AADSTS50076. Signin status: NotApplicable. Teams Signin status: Unhealthy.","OperationName":"Heartbeat","RecordId":"7"}"#;
        let plain =
            r#"{"Description":"Network status : Healthy. Exchange status : Connected.","OperationName":"Heartbeat"}"#;
        let events = [
            ev("Skype Room System", "SRS-App", 2001, &[("", payload), ("Extra", "x")]),
            ev("Skype Room System", "SRS-App", 2000, &[("", plain)]),
            ev(
                "Microsoft-Windows-AAD/Operational",
                "Microsoft-Windows-AAD",
                1104,
                &[("Message", "Token request completed for account room@contoso.com.")],
            ),
            ev("System", "EventLog", 6008, &[("", "The previous system shutdown was unexpected.")]),
        ];
        let afresh = |w: &WinEvent| {
            let w = w.clone();
            // Another thread remembers nothing.
            std::thread::spawn(move || to_evidence(&w, Evidence::new("p", "evtx", "r"))).join().unwrap()
        };
        for base in events {
            for n in 0..5u64 {
                let mut w = base.clone();
                w.record_id = (n != 3).then_some(100 + n);
                w.time = Some(Timestamp::from_second(1_750_000_000 + 60 * n as i64).unwrap());
                let read = to_evidence_owned(w.clone(), Evidence::new("p", "evtx", "r"));
                assert_eq!(read, afresh(&w), "{n}: {w:?}");
            }
        }
        // A reader that keeps its event reads the same records as one that lends it.
        let w = ev("Skype Room System", "SRS-App", 2000, &[("", plain)]);
        for _ in 0..3 {
            assert_eq!(to_evidence(&w, Evidence::new("p", "evtx", "r")), afresh(&w));
        }
    }

    #[test]
    fn statuses_split() {
        assert_eq!(
            statuses("Conference Microphone status : Healthy. Front of Room Display status : Unhealthy. Configured display count is 2."),
            [
                ("conference_microphone_status".to_owned(), "Healthy".to_owned()),
                ("front_of_room_display_status".to_owned(), "Unhealthy".to_owned())
            ]
        );
        assert!(statuses("App restarting.").is_empty());
        assert_eq!(snake("OSVersionX"), "osversion_x");
    }
}
