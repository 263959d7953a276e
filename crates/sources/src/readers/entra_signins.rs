//! Entra ID sign-in logs, as admins download them:
//! - the portal's CSV downloads (interactive, non-interactive, service principal and managed
//!   identity sign-ins), whose headers carry quirks: trailing spaces, doubled spaces, a column
//!   named twice. Headers are matched normalized (case, spaces and punctuation ignored; a `(UTC)`
//!   or `[UTC]` suffix dropped) and the first column of a name wins;
//! - the portal's JSON download (an array of sign-in objects) and Graph `auditLogs/signIns`
//!   responses (`{"@odata.context": …, "value": […]}`), also as PowerShell `ConvertTo-Json` output;
//! - Log Analytics / Azure Monitor exports of `SigninLogs` and `AADNonInteractiveUserSignInLogs`
//!   (and the service principal and managed identity tables) as CSV or JSON, the Log Analytics
//!   API's `tables` form, and diagnostic-settings archives (one JSON object a line, the sign-in
//!   under `properties`).
//!
//! One record per sign-in, kind `sign-in`. JSON is streamed: a byte scanner cuts the records out
//! of the array one at a time, so memory stays bounded by the largest record, not the file.

use foldhash::HashMap;
use std::borrow::Cow;
use std::cell::Cell;
use std::io::{BufRead, BufReader, Read};

use serde_json::{Map, Value};
use uctriage_evidence::{time, Evidence, Timestamp};
use uctriage_kb::Context;

use super::{codes_in, kb, Emitter, ReadError, Reader};
use crate::input::{head_text, Head, Input};

#[derive(Debug)]
pub struct EntraSignins;

/// Largest JSON record (one sign-in object) read; bigger ones are skipped with a warning.
const MAX_RECORD: usize = 4 * 1024 * 1024;
/// Largest top-level JSON object that is not a `value` wrapper (a Log Analytics `tables`
/// answer is one such object holding every row).
const MAX_TOP_OBJECT: usize = 64 * 1024 * 1024;
/// Largest CSV record (a quoted field may span lines).
const MAX_CSV_RECORD: usize = 1024 * 1024;
/// Most header columns kept.
const MAX_COLUMNS: usize = 1000;
/// Longest text field kept, in characters.
const MAX_TEXT: usize = 2000;

const NOT_A_SIGN_IN: &str = "no time, user, app or error code: not a sign-in";

/// Error codes the portal shows as `Interrupted` rather than `Failure`: the sign-in stopped for a
/// step the user or device still had to take (password change, MFA registration or prompt, a
/// Conditional Access requirement, "stay signed in?"). Used only when the export has no status
/// word (Graph, Log Analytics); the record then carries `status_derived: true`.
const INTERRUPTS: &[u64] = &[
    50055, 50058, 50072, 50074, 50097, 50125, 50140, 50143, 50144, 50158, 50199, 53000, 53001, 53002, 53003, 53004,
    81010, 81012, 81014,
];

/// Which sign-in log a record belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SignInType {
    Interactive,
    NonInteractive,
    ServicePrincipal,
    ManagedIdentity,
}

impl SignInType {
    fn as_str(self) -> &'static str {
        match self {
            SignInType::Interactive => "interactive",
            SignInType::NonInteractive => "non-interactive",
            SignInType::ServicePrincipal => "service-principal",
            SignInType::ManagedIdentity => "managed-identity",
        }
    }

    /// From a table, category or event type name.
    fn from_word(w: &str) -> Option<Self> {
        let w = norm(w);
        Some(if w.contains("noninteractive") {
            SignInType::NonInteractive
        } else if w.contains("serviceprincipal") || w.starts_with("application") {
            SignInType::ServicePrincipal
        } else if w.contains("managedidentity") || w.starts_with("msi") {
            SignInType::ManagedIdentity
        } else if w.contains("interactive") || w == "signinlogs" {
            SignInType::Interactive
        } else {
            return None;
        })
    }

    /// From the portal's download names (`InteractiveSignIns_2025-07-15_…csv`).
    fn from_name(name: &str) -> Option<Self> {
        let file = name.rsplit('/').next().unwrap_or(name).to_ascii_lowercase();
        if !file.contains("signin") {
            return None;
        }
        let stem = file.split(['_', '.', ' ', '-']).next().unwrap_or("");
        SignInType::from_word(stem)
    }
}

/// A header or key, normalized: lower case, letters and digits only, `(UTC)` dropped.
fn norm(s: &str) -> String {
    let lower = s.trim().trim_start_matches('\u{feff}').to_ascii_lowercase();
    let lower = lower.replace("[utc]", "").replace("(utc)", "");
    lower.chars().filter(char::is_ascii_alphanumeric).collect()
}

/// One sign-in's values by normalized name, with the name as the source wrote it. A CSV row is
/// its values by column, looked up through the header's [`Columns`] (resolved once a file), so
/// a row costs no name copies and no map of its own.
#[derive(Debug, Default)]
struct Fields<'h> {
    map: HashMap<Cow<'h, str>, (Cow<'h, str>, Value)>,
    /// A CSV row: the header's columns and the row's values, by position.
    row: Option<(&'h Columns, Cells)>,
}

/// A value of a sign-in: JSON, or the text of a CSV cell (a piece of its row's text, so that a
/// cell costs no copy of its own).
#[derive(Debug, Clone, Copy, PartialEq)]
enum Val<'a> {
    Json(&'a Value),
    Text(&'a str),
}

impl<'a> Val<'a> {
    /// The text of a JSON string or of a cell.
    fn as_text(self) -> Option<&'a str> {
        match self {
            Val::Json(Value::String(s)) => Some(s),
            Val::Json(_) => None,
            Val::Text(s) => Some(s),
        }
    }

    /// A cell as the JSON string it stands for (the tests compare rows with maps of values).
    #[cfg(test)]
    fn to_value(self) -> Value {
        match self {
            Val::Json(v) => v.clone(),
            Val::Text(s) => Value::String(s.to_owned()),
        }
    }
}

/// The cells of a CSV row: pieces of one text, by their byte ranges. A row without quotes is its
/// own text; quoted cells are written unescaped one after the other.
#[derive(Debug)]
struct Cells {
    text: String,
    at: Vec<(usize, usize)>,
}

impl Cells {
    fn get(&self, i: usize) -> Option<&str> {
        self.at.get(i).map(|&(a, b)| &self.text[a..b])
    }

    #[cfg(test)]
    fn to_vec(&self) -> Vec<String> {
        (0..self.at.len()).filter_map(|i| self.get(i)).map(str::to_owned).collect()
    }
}

/// A CSV header: the names as written, and the first column of each normalized name (the
/// first column of a name wins).
#[derive(Debug)]
struct Columns {
    names: Vec<String>,
    first: HashMap<String, usize>,
    /// The column of each name the reader asked for, by where the name is stored: every row
    /// asks for the same forty-odd names (see [`Columns::column`]).
    asked: [Cell<Asked>; ASKED_SLOTS],
    /// Slots of `asked` taken.
    taken: Cell<usize>,
}

/// A name asked for (its address and length) and its column plus one, 0 for none; the address
/// is 0 in an empty slot.
type Asked = (usize, usize, usize);

/// Slots of [`Columns::asked`]; a power of two. At most three quarters are taken, so that a
/// search for a name not kept soon meets an empty slot.
const ASKED_SLOTS: usize = 128;

impl Columns {
    fn new(names: Vec<String>, normalized: Vec<String>) -> Self {
        let mut first = HashMap::default();
        for (i, key) in normalized.into_iter().enumerate() {
            if !key.is_empty() {
                first.entry(key).or_insert(i);
            }
        }
        Columns { names, first, asked: std::array::from_fn(|_| Cell::new((0, 0, 0))), taken: Cell::new(0) }
    }

    /// The first column of a normalized name. The names asked for are `'static`, so one stored
    /// at the same address with the same length is the same text for the whole run, and its
    /// answer can be kept by address: a slot or two read instead of a name hashed and compared.
    /// A name is kept in the first free slot from the one its address picks, and stays there
    /// (a slot picked by the address alone, overwritten by the next name to pick it, made the
    /// count of names looked up again depend on where the linker put them).
    fn column(&self, key: &'static str) -> Option<usize> {
        let addr = key.as_ptr().addr();
        // The first slot from the address's bits, mixed (names lie next to each other).
        let mut i = ((addr as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 57) as usize % ASKED_SLOTS;
        for _ in 0..ASKED_SLOTS {
            let (at, len, answer) = self.asked[i].get();
            if at == addr && len == key.len() {
                return answer.checked_sub(1);
            }
            if at == 0 {
                let found = self.first.get(key).copied();
                if self.taken.get() < ASKED_SLOTS / 4 * 3 {
                    self.asked[i].set((addr, key.len(), found.map_or(0, |c| c + 1)));
                    self.taken.set(self.taken.get() + 1);
                }
                return found;
            }
            i = (i + 1) % ASKED_SLOTS;
        }
        self.first.get(key).copied()
    }
}

impl<'h> Fields<'h> {
    /// Insert unless the name is already there (the first column or key of a name wins).
    fn insert(&mut self, original: &str, value: Value) {
        let key = norm(original);
        if !key.is_empty() {
            self.map.entry(Cow::Owned(key)).or_insert_with(|| (Cow::Owned(original.trim().to_owned()), value));
        }
    }

    /// A CSV row: its values by position under the header's columns. Values beyond the header
    /// are not kept; a row shorter than the header has no value for the columns it lacks.
    fn csv_row(columns: &'h Columns, mut cells: Cells) -> Self {
        cells.at.truncate(columns.names.len());
        Fields { map: HashMap::default(), row: Some((columns, cells)) }
    }

    fn from_object(obj: Map<String, Value>) -> Fields<'static> {
        let mut f = Fields::default();
        // Diagnostic-settings archives keep the sign-in under `properties`; its keys come first.
        let mut obj = obj;
        if let Some(Value::Object(props)) = obj.remove("properties") {
            for (k, v) in props {
                f.insert(&k, v);
            }
        }
        for (k, v) in obj {
            f.insert(&k, v);
        }
        f
    }

    /// A value by normalized name, with the name as written. Names are `'static` (the reader's
    /// own), which lets a CSV header keep the column of each (see [`Columns::column`]).
    fn get(&self, key: &'static str) -> Option<(&str, Val<'_>)> {
        if let Some((columns, cells)) = &self.row {
            let i = columns.column(key)?;
            return cells.get(i).map(|v| (columns.names[i].as_str(), Val::Text(v)));
        }
        self.map.get(key).map(|(o, v)| (o.as_ref(), Val::Json(v)))
    }

    /// [`get`](Self::get) with the header's map read every time, for any name (the tests
    /// compare the two).
    #[cfg(test)]
    fn get_plain(&self, key: &str) -> Option<(&str, Val<'_>)> {
        if let Some((columns, cells)) = &self.row {
            let i = *columns.first.get(key)?;
            return cells.get(i).map(|v| (columns.names[i].as_str(), Val::Text(v)));
        }
        self.map.get(key).map(|(o, v)| (o.as_ref(), Val::Json(v)))
    }

    /// The first non-empty scalar among `keys`, as text, with the name it was found under.
    fn text(&self, keys: &[&'static str]) -> Option<(Cow<'_, str>, String)> {
        keys.iter().find_map(|k| {
            let (orig, v) = self.get(k)?;
            scalar_of(v).map(|s| (Cow::Borrowed(orig), s))
        })
    }

    /// [`text`](Self::text) without the name.
    fn s(&self, keys: &[&'static str]) -> Option<String> {
        keys.iter().find_map(|k| scalar_of(self.get(k)?.1))
    }

    /// An object value, or a JSON object written into a string (Log Analytics CSV exports).
    fn object(&self, key: &'static str) -> Option<(String, Map<String, Value>)> {
        let (orig, v) = self.get(key)?;
        if let Val::Json(Value::Object(m)) = v {
            return Some((orig.to_owned(), m.clone()));
        }
        match v.as_text() {
            Some(s) if s.trim_start().starts_with('{') && s.len() <= MAX_RECORD => {
                match serde_json::from_str::<Value>(s) {
                    Ok(Value::Object(m)) => Some((orig.to_owned(), m)),
                    _ => None,
                }
            }
            _ => None,
        }
    }
}

/// A scalar as text; empty strings and nulls are none.
fn scalar(v: &Value) -> Option<String> {
    let s = match v {
        Value::String(s) => s.trim().to_owned(),
        Value::Number(n) => n.to_string(),
        Value::Bool(b) => b.to_string(),
        _ => return None,
    };
    (!s.is_empty()).then_some(s)
}

/// [`scalar`] of a value or a cell (a cell reads as a JSON string).
fn scalar_of(v: Val<'_>) -> Option<String> {
    match v {
        Val::Json(v) => scalar(v),
        Val::Text(s) => Some(s.trim()).filter(|s| !s.is_empty()).map(str::to_owned),
    }
}

/// A key of an object, case-insensitively.
fn member<'a>(m: &'a Map<String, Value>, key: &str) -> Option<(&'a String, &'a Value)> {
    m.iter().find(|(k, _)| norm(k) == key)
}

fn member_text(m: &Map<String, Value>, key: &str) -> Option<String> {
    member(m, key).and_then(|(_, v)| scalar(v))
}

fn cut(s: &str) -> String {
    match s.char_indices().nth(MAX_TEXT) {
        Some((i, _)) => format!("{}…", &s[..i]),
        None => s.to_owned(),
    }
}

/// Export times: RFC 3339, `7/15/2025, 8:30:11.123 AM` (Log Analytics), `/Date(…)/`.
fn parse_time(s: &str) -> Option<Timestamp> {
    let s = s.trim();
    if s.as_bytes().first().is_some_and(u8::is_ascii_digit) && s.contains(", ") {
        return time::parse(&s.replacen(", ", " ", 1));
    }
    time::parse(s)
}

fn status_word(s: &str) -> String {
    let t = s.trim();
    let is = |words: &[&str]| words.iter().any(|w| t.eq_ignore_ascii_case(w));
    if is(&["success", "succeeded"]) {
        "Success".into()
    } else if is(&["failure", "failed"]) {
        "Failure".into()
    } else if is(&["interrupted"]) {
        "Interrupted".into()
    } else {
        t.to_owned()
    }
}

fn conditional_access_word(s: &str) -> String {
    match norm(s).as_str() {
        "success" => "success".into(),
        "failure" => "failure".into(),
        "notapplied" => "not-applied".into(),
        other => other.to_owned(),
    }
}

/// Context a file gives every record: the log named by the file, or by its columns.
#[derive(Debug, Clone, Copy, Default)]
struct Hint {
    sign_in_type: Option<SignInType>,
}

/// Build the record of one sign-in; `None` when the values do not look like a sign-in.
fn sign_in(f: &Fields<'_>, hint: Hint, mut e: Evidence) -> Option<Evidence> {
    let when = f.text(&TIME_KEYS);
    let user = f.text(&["userprincipalname", "username", "upn", "user", "userdisplayname"]);
    let app = f.text(&["appdisplayname", "application", "serviceprincipalname", "appname"]);
    let request = f.text(&["requestid", "id", "originalrequestid"]);
    let status_obj = f.object("status");
    let code_text = status_obj
        .as_ref()
        .and_then(|(orig, m)| {
            member(m, "errorcode").and_then(|(k, v)| scalar(v).map(|s| (Cow::Owned(format!("{orig}.{k}")), s)))
        })
        .or_else(|| f.text(&["signinerrorcode", "resulttype", "errorcode"]));
    let parsed = when.as_ref().and_then(|(_, v)| parse_time(v));
    if parsed.is_none() && user.is_none() && app.is_none() && code_text.is_none() {
        return None;
    }
    e.source = "entra-signins".into();
    e.kind = "sign-in".into();
    // `name: value` pairs joined by `; `, twelve at most: room for a row's at once, not grown
    // pair by pair.
    let mut excerpt = String::with_capacity(256);
    let mut shown = 0;
    let mut show = |k: &str, v: &str| {
        if shown < 12 {
            if shown > 0 {
                excerpt.push_str("; ");
            }
            excerpt.push_str(k);
            excerpt.push_str(": ");
            excerpt.push_str(v);
            shown += 1;
        }
    };
    if let Some((k, v)) = &when {
        e.time = parsed;
        show(k, v);
    }
    if let Some((k, v)) = &user {
        e.field("user", v.as_str());
        show(k, v);
    }
    if let Some(d) = f.s(&["userdisplayname", "user"]).filter(|d| Some(d) != user.as_ref().map(|u| &u.1)) {
        e.field("user_display_name", d);
    }
    if let Some((k, v)) = &app {
        e.field("app", v.as_str());
        show(k, v);
    }
    e.field("app_id", f.s(&["appid", "applicationid"]).unwrap_or_default());
    e.field("resource", f.s(&["resourcedisplayname", "resource"]).unwrap_or_default());
    // Log Analytics and diagnostic exports also have `ResourceId`: the log's own Azure resource
    // path, not the resource signed in to.
    let resource_id = f.s(&["resourceidentity", "resourceid"]).filter(|r| !r.starts_with('/'));
    e.field("resource_id", resource_id.unwrap_or_default());

    // Status and error code.
    let code_num = code_text.as_ref().and_then(|(_, v)| v.trim().parse::<u64>().ok());
    let status_text = match &status_obj {
        Some(_) => None,
        None => f.text(&["status"]),
    };
    let failure = status_obj
        .as_ref()
        .and_then(|(orig, m)| {
            member(m, "failurereason").and_then(|(k, v)| scalar(v).map(|s| (Cow::Owned(format!("{orig}.{k}")), s)))
        })
        .or_else(|| f.text(&["failurereason", "resultdescription"]));
    let details = status_obj
        .as_ref()
        .and_then(|(_, m)| member_text(m, "additionaldetails"))
        .or_else(|| f.s(&["additionaldetails"]));
    match (&status_text, code_num) {
        (Some((k, v)), _) => {
            e.field("status", status_word(v));
            show(k, v);
        }
        (None, Some(n)) => {
            let derived = if n == 0 {
                "Success"
            } else if INTERRUPTS.contains(&n) {
                "Interrupted"
            } else {
                "Failure"
            };
            e.field("status", derived);
            e.field("status_derived", true);
        }
        (None, None) => {}
    }
    if let Some((k, v)) = &code_text {
        show(k, v);
        if let Some(n) = code_num {
            e.field("error_code", n);
            if n != 0 {
                if let Some(c) = kb().normalize(&n.to_string(), Context::SignIn) {
                    e.add_code(c);
                }
            }
        } else {
            e.field("error_code", v.as_str());
            if let Some(c) = kb().normalize(v, Context::SignIn).filter(|c| kb().get(c).is_some()) {
                e.add_code(c);
            }
        }
    }
    let success = code_num == Some(0) || e.get_str("status") == Some("Success");
    if let Some((k, v)) = &failure {
        // Exports fill the reason of successful sign-ins with filler such as "Other.".
        if !success {
            e.field("failure_reason", cut(v));
            show(k, v);
            e.add_codes(codes_in(v));
        }
    }
    if let Some(d) = &details {
        e.field("additional_details", cut(d));
        e.add_codes(codes_in(d));
    }

    // Where from, with what.
    e.field("ip", f.s(&["ipaddress", "calleripaddress", "clientip"]).unwrap_or_default());
    let location = f
        .object("location")
        .or_else(|| f.object("locationdetails"))
        .map(|(_, m)| {
            ["city", "state", "countryorregion"]
                .iter()
                .filter_map(|k| member_text(&m, k))
                .collect::<Vec<_>>()
                .join(", ")
        })
        .filter(|s| !s.is_empty())
        .or_else(|| f.s(&["location"]));
    e.field("location", location.unwrap_or_default());
    e.field("client_app", f.s(&["clientappused", "clientapp"]).unwrap_or_default());
    e.field("user_agent", f.s(&["useragent"]).unwrap_or_default());
    let device = f.object("devicedetail").map(|(_, m)| m);
    let dev = |k: &str, csv: &[&'static str]| device.as_ref().and_then(|m| member_text(m, k)).or_else(|| f.s(csv));
    let device_id = dev("deviceid", &["deviceid"]);
    let device_name = dev("displayname", &["devicename", "devicedisplayname"]);
    e.field("device", device_name.or(device_id.clone()).unwrap_or_default());
    e.field("device_id", device_id.unwrap_or_default());
    e.field("os", dev("operatingsystem", &["operatingsystem"]).unwrap_or_default());
    e.field("browser", dev("browser", &["browser"]).unwrap_or_default());
    e.field("device_compliant", dev("iscompliant", &["compliant", "iscompliant"]).unwrap_or_default());
    e.field("device_managed", dev("ismanaged", &["managed", "ismanaged"]).unwrap_or_default());
    e.field("join_type", dev("trusttype", &["jointype", "trusttype"]).unwrap_or_default());
    if let Some(ca) = f.s(&["conditionalaccessstatus", "conditionalaccess"]) {
        e.field("conditional_access", conditional_access_word(&ca));
    }
    e.field("correlation_id", f.s(&["correlationid"]).unwrap_or_default());
    if let Some((_, v)) = &request {
        e.field("request_id", v.as_str());
    }
    e.field("tenant_id", f.s(&["hometenantid", "aadtenantid", "tenantid", "resourcetenantid"]).unwrap_or_default());
    e.field("user_id", f.s(&["userid"]).unwrap_or_default());
    e.field("authentication_requirement", f.s(&["authenticationrequirement"]).unwrap_or_default());
    e.field("mfa_result", f.s(&["multifactorauthenticationresult"]).unwrap_or_default());
    e.field("service_principal", f.s(&["serviceprincipalname"]).unwrap_or_default());
    e.field("service_principal_id", f.s(&["serviceprincipalid"]).unwrap_or_default());

    // Which log: the record's own word first, then the file's.
    let own = f
        .get("signineventtypes")
        .and_then(|(_, v)| match v {
            Val::Json(Value::Array(a)) => a.iter().find_map(|x| x.as_str().and_then(SignInType::from_word)),
            other => other.as_text().and_then(SignInType::from_word),
        })
        .or_else(|| {
            f.s(&["isinteractive"]).and_then(|v| match v.to_ascii_lowercase().as_str() {
                "true" | "1" | "yes" => Some(SignInType::Interactive),
                "false" | "0" | "no" => Some(SignInType::NonInteractive),
                _ => None,
            })
        })
        .or_else(|| f.s(&["category", "type"]).and_then(|w| SignInType::from_word(&w)));
    if let Some(t) = own.or(hint.sign_in_type) {
        e.field("sign_in_type", t.as_str());
    }
    e.set_excerpt(&excerpt);
    Some(e)
}

// ---------------------------------------------------------------------------------------- CSV

/// Split one CSV record (quotes with `""` escapes; a quoted field may hold newlines) into pieces
/// of one text: the record itself when it has no quotes (no copy), else its cells unescaped one
/// after the other (one copy for them all).
fn split_cells(record: String, delim: char) -> Cells {
    let mut at = Vec::new();
    if !record.contains('"') {
        let mut from = 0;
        for (i, d) in record.match_indices(delim) {
            at.push((from, i));
            from = i + d.len();
        }
        at.push((from, record.len()));
        return Cells { text: record, at };
    }
    let mut text = String::with_capacity(record.len());
    let mut start = 0;
    let mut quoted = false;
    let mut chars = record.chars().peekable();
    while let Some(c) = chars.next() {
        if quoted {
            if c == '"' {
                if chars.peek() == Some(&'"') {
                    text.push('"');
                    chars.next();
                } else {
                    quoted = false;
                }
            } else {
                text.push(c);
            }
        } else if c == '"' {
            quoted = true;
        } else if c == delim {
            at.push((start, text.len()));
            start = text.len();
        } else {
            text.push(c);
        }
    }
    at.push((start, text.len()));
    Cells { text, at }
}

/// [`split_cells`] as owned strings (for header lines).
fn split_csv(record: &str, delim: char) -> Vec<String> {
    let cells = split_cells(record.to_owned(), delim);
    cells.at.iter().map(|&(a, b)| cells.text[a..b].to_owned()).collect()
}

/// The split as it was written first, a string per cell: the tests' reference.
#[cfg(test)]
fn split_csv_before(record: &str, delim: char) -> Vec<String> {
    if !record.contains('"') {
        return record.split(delim).map(str::to_owned).collect();
    }
    let mut out = Vec::new();
    let mut field = String::new();
    let mut quoted = false;
    let mut chars = record.chars().peekable();
    while let Some(c) = chars.next() {
        if quoted {
            if c == '"' {
                if chars.peek() == Some(&'"') {
                    field.push('"');
                    chars.next();
                } else {
                    quoted = false;
                }
            } else {
                field.push(c);
            }
        } else if c == '"' {
            quoted = true;
        } else if c == delim {
            out.push(std::mem::take(&mut field));
        } else {
            field.push(c);
        }
    }
    out.push(field);
    out
}

/// The delimiter a header line uses: the most frequent of `,`, `;` and tab outside quotes.
fn delimiter(header: &str) -> char {
    let mut counts = [0usize; 3];
    let mut quoted = false;
    for c in header.chars() {
        match c {
            '"' => quoted = !quoted,
            ',' if !quoted => counts[0] += 1,
            ';' if !quoted => counts[1] += 1,
            '\t' if !quoted => counts[2] += 1,
            _ => {}
        }
    }
    let i = (0..3).max_by_key(|i| (counts[*i], 3 - i)).unwrap_or(0);
    [',', ';', '\t'][i]
}

/// Normalized names of a header line, skipping PowerShell's `#TYPE` line and Excel's `sep=`.
fn header_names(line: &str) -> Vec<String> {
    split_csv(line, delimiter(line)).iter().map(|h| csv_norm(h)).collect()
}

/// A CSV column name by its words (see `dr_csv::header_key`): `Date (UTC)`, `Date [UTC+01:00]`
/// and `DateUtc` are all `date`.
fn csv_norm(h: &str) -> String {
    super::dr_csv::header_key(h).0
}

/// Normalized names of the columns that give a sign-in its time.
const TIME_KEYS: [&str; 5] = ["createddatetime", "date", "timegenerated", "time", "createdatetimeutc"];

/// How sure the columns are those of a sign-in export.
fn csv_score(names: &[String]) -> u8 {
    let has = |k: &str| names.iter().any(|n| n == k);
    if has("date") && has("requestid") && (has("signinerrorcode") || has("status")) {
        95
    } else if has("timegenerated")
        && (has("resulttype") || has("resultdescription"))
        && (has("userprincipalname") || has("appdisplayname") || has("serviceprincipalname"))
    {
        92
    } else if has("createddatetime") && (has("userprincipalname") || has("appdisplayname")) {
        85
    } else if has("signinerrorcode") && has("date") {
        // A few columns of the portal's export, pasted without the request id.
        80
    } else {
        0
    }
}

/// Whether a line holds an odd number of quotes (it opens or closes a quoted field).
fn flips_quote(s: &str) -> bool {
    memchr::memchr_iter(b'"', s.as_bytes()).count() % 2 == 1
}

fn read_csv(input: Input, hint: Hint, out: &mut Emitter<'_>) -> Result<(), ReadError> {
    let mut lines = input.into_lines();
    let mut buf = String::new();
    // The header's names as written, normalized, and its delimiter.
    let mut header: Option<(Columns, char)> = None;
    let mut record = String::new();
    // Inside a quoted field at the end of `record` (kept as lines come, so that a long record
    // is not rescanned for every line).
    let mut open_quote = false;
    let mut record_line = 0;
    let mut row = 0u64;
    let mut hint = hint;
    loop {
        let info = match lines.next_line(&mut buf) {
            Ok(Some(i)) => i,
            Ok(None) => break,
            Err(e) => return Err(ReadError::new(format!("line {}", record_line + 1), format!("read error: {e}"))),
        };
        if info.truncated {
            out.warn(format!("line {}", info.number), "line longer than 1 MiB: the rest of it was skipped");
        }
        let line = buf.trim_start_matches('\u{feff}');
        if header.is_none() {
            let t = line.trim();
            if t.is_empty() || t.starts_with("#TYPE") || t.starts_with("sep=") {
                continue;
            }
            let delim = delimiter(line);
            let mut names: Vec<String> = split_csv(line, delim).into_iter().take(MAX_COLUMNS).collect();
            for n in &mut names {
                *n = n.trim().to_owned();
            }
            let normalized: Vec<String> = names.iter().map(|n| csv_norm(n)).collect();
            if csv_score(&normalized) == 0 {
                out.warn(
                    format!("line {}", info.number),
                    "the header does not name the columns of a sign-in export; reading it anyway",
                );
            }
            if !normalized.iter().any(|n| TIME_KEYS.contains(&n.as_str())) {
                out.warn(
                    format!("line {}", info.number),
                    format!("no time column among the headers ({}): the sign-ins have no time", names.join(", ")),
                );
            }
            let has = |k: &str| normalized.iter().any(|n| n == k);
            if hint.sign_in_type.is_none() && has("serviceprincipalid") && !has("username") && !has("userprincipalname")
            {
                hint.sign_in_type = Some(SignInType::ServicePrincipal);
            }
            header = Some((Columns::new(names, normalized), delim));
            continue;
        }
        if record.is_empty() {
            record_line = info.number;
        } else {
            record.push('\n');
        }
        record.push_str(line);
        open_quote ^= flips_quote(line);
        if record.len() > MAX_CSV_RECORD {
            out.warn(format!("line {record_line}"), "a quoted field never ends within 1 MiB: the record was skipped");
            record.clear();
            open_quote = false;
            continue;
        }
        if open_quote {
            continue;
        }
        let text = std::mem::take(&mut record);
        if text.trim().is_empty() {
            continue;
        }
        row += 1;
        let Some((columns, delim)) = &header else { continue };
        let cells = split_cells(text, *delim);
        if cells.at.len() != columns.names.len() {
            out.warn(
                format!("row {row} (line {record_line})"),
                format!("{} fields where the header has {}: read by position", cells.at.len(), columns.names.len()),
            );
        }
        let f = Fields::csv_row(columns, cells);
        match sign_in(&f, hint, out.evidence(format!("row {row}"))) {
            Some(e) => out.emit(e),
            None => out.warn(format!("row {row} (line {record_line})"), NOT_A_SIGN_IN),
        }
    }
    if !record.is_empty() {
        out.warn(format!("line {record_line}"), "the input ends inside a quoted field: the last record is incomplete");
    }
    if header.is_none() {
        out.warn("", "no header line: nothing to read");
    }
    Ok(())
}

// --------------------------------------------------------------------------------------- JSON

/// The input as UTF-8 bytes (byte-order marks and UTF-16 decoded), unbounded lines.
fn decoded(input: Input) -> Box<dyn Read + Send> {
    input.into_text()
}

/// What a finished capture is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Captured {
    /// An element of the record array (top-level array, or `value`).
    Element,
    /// A whole top-level object (one record, a JSON Lines row, or a `tables` answer).
    Top,
}

/// Receives a finished capture: what it is, its bytes, whether it overflowed, its start offset.
type Found<'a> = dyn FnMut(Captured, &[u8], bool, u64) + 'a;

/// Cuts records out of a JSON stream without parsing the whole: tracks strings and nesting, and
/// hands over the bytes of each object that is an element of the record array.
#[derive(Debug, Default)]
struct Scanner {
    depth: usize,
    in_string: bool,
    escape: bool,
    /// Depth at which record elements start: 1 in a top-level array, 2 inside `"value": [`.
    element_depth: Option<usize>,
    top_is_object: bool,
    /// The last string seen directly in the top-level object (its keys), lower-cased, bounded.
    key: Vec<u8>,
    key_active: bool,
    last_key: Vec<u8>,
    capture: Option<(Captured, usize)>,
    buf: Vec<u8>,
    overflow: bool,
    start: u64,
    stray: bool,
}

impl Scanner {
    /// Feed bytes; `found` receives each finished capture with its start offset.
    fn feed(&mut self, bytes: &[u8], offset: u64, found: &mut Found<'_>) {
        for (i, &b) in bytes.iter().enumerate() {
            let at = offset + i as u64;
            if self.in_string {
                self.push(b);
                if self.key_active && !self.escape && b != b'"' && self.key.len() < 32 {
                    self.key.push(b.to_ascii_lowercase());
                }
                if self.escape {
                    self.escape = false;
                } else if b == b'\\' {
                    self.escape = true;
                } else if b == b'"' {
                    self.in_string = false;
                    if self.key_active {
                        self.key_active = false;
                        self.last_key = std::mem::take(&mut self.key);
                    }
                }
                continue;
            }
            match b {
                b'"' => {
                    self.in_string = true;
                    self.push(b);
                    if self.depth == 1 && self.top_is_object {
                        self.key_active = true;
                        self.key.clear();
                    }
                }
                b'{' | b'[' => {
                    if self.depth == 0 {
                        if b == b'[' {
                            self.element_depth = Some(1);
                            self.top_is_object = false;
                        } else {
                            self.top_is_object = true;
                            self.element_depth = None;
                            self.begin(Captured::Top, at);
                        }
                    } else if self.depth == 1 && self.top_is_object && b == b'[' && self.last_key == b"value" {
                        // A Graph-style wrapper: its records are the elements of `value`.
                        self.capture = None;
                        self.buf = Vec::new();
                        self.overflow = false;
                        self.element_depth = Some(2);
                    } else if self.capture.is_none() && self.element_depth == Some(self.depth) && b == b'{' {
                        self.begin(Captured::Element, at);
                    }
                    self.push(b);
                    self.depth += 1;
                }
                b'}' | b']' => {
                    self.push(b);
                    if self.depth == 0 {
                        self.stray = true;
                        continue;
                    }
                    self.depth -= 1;
                    if let Some((what, depth)) = self.capture {
                        if depth == self.depth {
                            found(what, &self.buf, self.overflow, self.start);
                            self.capture = None;
                            self.buf.clear();
                            self.overflow = false;
                        }
                    }
                    if self.element_depth.is_some_and(|d| d == self.depth + 1) && b == b']' {
                        self.element_depth = None;
                    }
                }
                _ => self.push(b),
            }
        }
    }

    fn begin(&mut self, what: Captured, at: u64) {
        self.capture = Some((what, self.depth));
        self.buf.clear();
        self.overflow = false;
        self.start = at;
    }

    fn push(&mut self, b: u8) {
        if let Some((what, _)) = self.capture {
            let cap = if what == Captured::Top { MAX_TOP_OBJECT } else { MAX_RECORD };
            if self.buf.len() < cap {
                self.buf.push(b);
            } else {
                self.overflow = true;
            }
        }
    }
}

/// Turn a parsed top-level object into records: a Log Analytics `tables` answer gives its rows,
/// anything else is one record.
fn top_records(v: Map<String, Value>) -> Vec<Map<String, Value>> {
    if let Some((_, Value::Array(tables))) = member(&v, "tables") {
        let mut out = Vec::new();
        for t in tables {
            let Value::Object(t) = t else { continue };
            let columns: Vec<String> = match member(t, "columns") {
                Some((_, Value::Array(c))) => c
                    .iter()
                    .map(|c| match c {
                        Value::Object(m) => member_text(m, "name").unwrap_or_default(),
                        Value::String(s) => s.clone(),
                        _ => String::new(),
                    })
                    .collect(),
                _ => continue,
            };
            if let Some((_, Value::Array(rows))) = member(t, "rows") {
                for r in rows {
                    if let Value::Array(cells) = r {
                        out.push(columns.iter().cloned().zip(cells.iter().cloned()).collect());
                    }
                }
            }
        }
        return out;
    }
    vec![v]
}

fn read_json(input: Input, hint: Hint, out: &mut Emitter<'_>) -> Result<(), ReadError> {
    let mut reader = BufReader::with_capacity(256 * 1024, decoded(input));
    let mut scanner = Scanner::default();
    let mut offset = 0u64;
    let mut n = 0u64;
    let mut emitted = 0u64;
    loop {
        let chunk = match reader.fill_buf() {
            Ok([]) => break,
            Ok(c) => c,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(ReadError::new(format!("byte {offset}"), format!("read error: {e}"))),
        };
        let len = chunk.len();
        scanner.feed(chunk, offset, &mut |what, bytes, overflow, start| {
            n += 1;
            let place = format!("record {n} (byte {start})");
            if overflow {
                let cap = if what == Captured::Top { MAX_TOP_OBJECT } else { MAX_RECORD };
                out.warn(place, format!("larger than {} MiB: skipped", cap / (1024 * 1024)));
                return;
            }
            let value: Value = match serde_json::from_slice(bytes) {
                Ok(v) => v,
                Err(e) if e.to_string().starts_with("recursion limit exceeded") => {
                    out.warn(
                        place,
                        format!(
                            "nested deeper than {} levels (the JSON depth limit): skipped",
                            super::event_json::JSON_DEPTH
                        ),
                    );
                    return;
                }
                Err(e) => {
                    out.warn(place, format!("not valid JSON: {e}"));
                    return;
                }
            };
            let Value::Object(obj) = value else { return };
            let rows = if what == Captured::Top { top_records(obj) } else { vec![obj] };
            let several = rows.len() > 1;
            for (i, row) in rows.into_iter().enumerate() {
                let location = if several { format!("record {n} row {}", i + 1) } else { format!("record {n}") };
                let f = Fields::from_object(row);
                match sign_in(&f, hint, out.evidence(location)) {
                    Some(e) => {
                        emitted += 1;
                        out.emit(e);
                    }
                    None => out.warn(place.clone(), NOT_A_SIGN_IN),
                }
            }
        });
        reader.consume(len);
        offset += len as u64;
    }
    if scanner.capture.is_some() {
        out.warn(format!("byte {}", scanner.start), "the input ends inside a record: it was truncated");
    }
    if scanner.stray {
        out.warn("", "unbalanced closing brackets were ignored");
    }
    if n == 0 && emitted == 0 {
        out.warn("", "no JSON object found: nothing to read");
    }
    Ok(())
}

// ------------------------------------------------------------------------------------- reader

fn json_score(lower: &str) -> u8 {
    let has = |k: &str| lower.contains(k);
    if has("auditlogs/signins") {
        98
    } else if has("\"createddatetime\"")
        && (has("\"userprincipalname\"") || has("\"appdisplayname\""))
        && (has("\"status\"") || has("\"conditionalaccessstatus\""))
    {
        92
    } else if has("\"category\"") && (has("signinlogs\"") || has("\"sign-in activity\"")) {
        90
    } else if has("\"resulttype\"")
        && (has("\"userprincipalname\"") || has("\"appdisplayname\"") || has("\"serviceprincipalname\""))
    {
        88
    } else {
        0
    }
}

impl Reader for EntraSignins {
    fn format(&self) -> &'static str {
        "entra-signins"
    }

    fn detect(&self, name: &str, head: &Head<'_>) -> u8 {
        if !head.textual() {
            return 0;
        }
        let text = head.text();
        let t = text.trim_start_matches('\u{feff}').trim_start();
        let named = SignInType::from_name(name).is_some();
        if t.starts_with('[') || t.starts_with('{') {
            let score = json_score(&t.to_ascii_lowercase());
            return if score > 0 {
                score
            } else if named {
                30
            } else {
                0
            };
        }
        let Some(first) =
            t.lines().map(str::trim).find(|l| !l.is_empty() && !l.starts_with("#TYPE") && !l.starts_with("sep="))
        else {
            return 0;
        };
        let names = header_names(first);
        let score = csv_score(&names);
        if score > 0 {
            score
        } else if named && names.iter().any(|n| n == "correlationid" || n == "requestid") {
            50
        } else {
            0
        }
    }

    fn read(&self, input: Input, out: &mut Emitter<'_>) -> Result<(), ReadError> {
        let hint = Hint { sign_in_type: SignInType::from_name(&input.name.replace('\\', "/")) };
        let text = head_text(&input.head);
        let t = text.trim_start_matches('\u{feff}').trim_start();
        if t.starts_with('[') || t.starts_with('{') {
            read_json(input, hint, out)
        } else {
            read_csv(input, hint, out)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_normalization() {
        assert_eq!(norm(" Autonomous system  number "), "autonomoussystemnumber");
        assert_eq!(norm("Date (UTC)"), "date");
        assert_eq!(norm("TimeGenerated [UTC]"), "timegenerated");
        assert_eq!(norm("Sign-in error code"), "signinerrorcode");
        assert_eq!(split_csv(r#"a,"b,""c""",,d"#, ','), ["a", r#"b,"c""#, "", "d"]);
        assert_eq!(delimiter("a;b;c"), ';');
    }

    /// The cells of a row of these values.
    fn cells_of(values: &[String]) -> Cells {
        let mut at = Vec::new();
        let mut from = 0;
        for v in values {
            at.push((from, from + v.len()));
            from += v.len();
        }
        Cells { text: values.concat(), at }
    }

    /// A CSV row's values as they were looked up before the header's columns were resolved
    /// once a file: a map built for each row, the first column of a name winning.
    fn row_map<'h>(names: &'h [String], normalized: &'h [String], values: &[String]) -> Fields<'h> {
        let mut f = Fields::default();
        for ((name, key), value) in names.iter().zip(normalized).zip(values) {
            if !key.is_empty() {
                f.map
                    .entry(Cow::Borrowed(key.as_str()))
                    .or_insert((Cow::Borrowed(name.as_str()), Value::String(value.clone())));
            }
        }
        f
    }

    proptest::proptest! {
        /// Headers with names written twice (in other spellings too) and empty, rows shorter
        /// and longer than the header: every name finds the value it found before.
        #[test]
        fn csv_rows_by_position_find_what_the_row_map_found(
            header in proptest::collection::vec(0usize..7, 0..10),
            row_len in 0usize..12,
        ) {
            const NAMES: [&str; 7] = ["Date (UTC)", "date", "Request ID", "", "Status", "status ", "User"];
            let names: Vec<String> = header.iter().map(|i| NAMES[*i].trim().to_owned()).collect();
            let normalized: Vec<String> = names.iter().map(|n| csv_norm(n)).collect();
            let values: Vec<String> = (0..row_len).map(|i| format!("v{i}")).collect();
            let before = row_map(&names, &normalized, &values);
            let columns = Columns::new(names.clone(), normalized.clone());
            let now = Fields::csv_row(&columns, cells_of(&values));
            let owned = |found: Option<(&str, Val<'_>)>| found.map(|(n, v)| (n.to_owned(), v.to_value()));
            for key in normalized.iter().map(String::as_str).chain(["", "user", "missing"]) {
                proptest::prop_assert_eq!(owned(now.get_plain(key)), owned(before.get_plain(key)), "{}", key);
            }
            // Asked by their `'static` names, twice (the second answer is the one kept).
            for key in ["date", "requestid", "", "status", "user", "missing", "date", "user", "status"] {
                proptest::prop_assert_eq!(owned(now.get(key)), owned(before.get_plain(key)), "{}", key);
            }
        }

        /// Cells as pieces of one text are the cells split into texts of their own: quotes,
        /// doubled quotes, delimiters inside quotes, line ends, characters beyond ASCII.
        #[test]
        fn cells_are_the_split_fields(record in "[a,;\"\n\t\u{e9}\u{1f600} ]{0,30}", d in 0usize..3) {
            let delim = [',', ';', '\t'][d];
            proptest::prop_assert_eq!(split_cells(record.clone(), delim).to_vec(), split_csv_before(&record, delim));
            proptest::prop_assert_eq!(split_csv(&record, delim), split_csv_before(&record, delim));
        }
    }

    /// More names than the header keeps slots for, asked in turn again and again (so that
    /// names pick the same slots and the slots fill up): each finds its column as the map does.
    #[test]
    fn columns_kept_by_name_address_are_the_map_columns() {
        let names: Vec<String> = (0..300).map(|i| format!("Column {i}")).collect();
        let normalized: Vec<String> = names.iter().map(|n| csv_norm(n)).collect();
        let columns = Columns::new(names, normalized);
        let values: Vec<String> = (0..300).map(|i| format!("v{i}")).collect();
        let row = Fields::csv_row(&columns, cells_of(&values));
        // `'static` names, as the reader's are: half of them columns, half not.
        let asked: Vec<&'static str> =
            (0..600).map(|i| &*Box::leak(format!("column{}", i * 7 % 600).into_boxed_str())).collect();
        let mut found = 0;
        for round in 0..3 {
            for (i, key) in asked.iter().enumerate() {
                let key = if round == 1 { asked[asked.len() - 1 - i] } else { key };
                assert_eq!(row.get(key), row.get_plain(key), "{key}");
                found += usize::from(row.get(key).is_some());
            }
        }
        assert_eq!(found, 3 * 300);
    }

    #[test]
    fn status_words() {
        for (raw, word) in
            [(" SUCCEEDED ", "Success"), ("failed", "Failure"), ("Interrupted", "Interrupted"), (" other ", "other")]
        {
            assert_eq!(status_word(raw), word);
        }
    }

    #[test]
    fn scanner_cuts_records_out_of_wrappers_and_arrays() {
        let mut got = Vec::new();
        let doc = br#"{"@odata.context":"x","value":[{"a":"]}"},{"b":[1,{"c":2}]}],"@odata.nextLink":"y"}"#;
        let mut s = Scanner::default();
        // Fed in small pieces to cross chunk boundaries.
        for (i, chunk) in doc.chunks(3).enumerate() {
            s.feed(chunk, (i * 3) as u64, &mut |w, b, _, _| got.push((w, String::from_utf8_lossy(b).into_owned())));
        }
        assert_eq!(
            got,
            [(Captured::Element, r#"{"a":"]}"}"#.to_owned()), (Captured::Element, r#"{"b":[1,{"c":2}]}"#.to_owned())]
        );
        let mut got = Vec::new();
        let mut s = Scanner::default();
        s.feed(b"{\"x\":1}\n{\"y\":2}\n", 0, &mut |w, b, _, _| got.push((w, b.len())));
        assert_eq!(got, [(Captured::Top, 7), (Captured::Top, 7)]);
    }

    #[test]
    fn sign_in_type_from_names() {
        assert_eq!(SignInType::from_name("x/InteractiveSignIns_2025-07-15.csv"), Some(SignInType::Interactive));
        assert_eq!(SignInType::from_name("NonInteractiveSignIns_2025.csv"), Some(SignInType::NonInteractive));
        assert_eq!(SignInType::from_name("ServicePrincipalSignIns_2025.json"), Some(SignInType::ServicePrincipal));
        assert_eq!(SignInType::from_name("MSISignIns_2025.csv"), Some(SignInType::ManagedIdentity));
        assert_eq!(SignInType::from_name("report.csv"), None);
    }
}
