//! What a code's structure reveals on its own, whether or not the knowledge base has an entry.
//!
//! HRESULT-shaped values carry a severity, a facility and a 16-bit code; WAM's `0xCAA…` values
//! put an OAuth error, an HTTP status or a WinHTTP error in the low bits; Direct Routing's
//! `5XYZZZ` codes say who gave the final answer. The name tables are facts imported from public
//! lists by `scripts/import_reference_names.py`.

use std::collections::HashMap;
use std::sync::OnceLock;

use serde::Serialize;

use crate::code::Code;

/// One labelled fact read from the structure.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Part {
    pub label: &'static str,
    pub value: String,
}

/// The structural reading of a code.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Decoded {
    /// One sentence summing up the structure.
    pub summary: String,
    /// Symbolic name from the imported tables (Win32, HRESULT, WinHTTP), when one matches.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub symbolic_name: Option<&'static str>,
    /// A code carried inside this one (the SIP code in an MSRC, the HTTP status in 0xCAA3…).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub inner: Option<Code>,
    pub parts: Vec<Part>,
}

impl Decoded {
    fn part(&mut self, label: &'static str, value: impl Into<String>) {
        self.parts.push(Part { label, value: value.into() });
    }
}

/// One of the imported name tables: `number<TAB>name` lines sorted by number, each number once
/// (a test checks), after `#` comment lines. A name is found by a binary search over the lines,
/// so that the first code a scan names does not parse thousands of lines first: only the line
/// starts are gathered, once, by one memchr pass over the text.
struct Table {
    text: &'static str,
    starts: OnceLock<Vec<u32>>,
}

static WIN32: Table = Table::new(include_str!("../data/names/win32.tsv"));
static HRESULT: Table = Table::new(include_str!("../data/names/hresult.tsv"));
static WINHTTP: Table = Table::new(include_str!("../data/names/winhttp.tsv"));
static WININET: Table = Table::new(include_str!("../data/names/wininet.tsv"));

impl Table {
    const fn new(text: &'static str) -> Table {
        Table { text, starts: OnceLock::new() }
    }

    /// Where each line that is not a comment starts.
    fn starts(&self) -> &[u32] {
        self.starts.get_or_init(|| {
            let b = self.text.as_bytes();
            std::iter::once(0)
                .chain(memchr::memchr_iter(b'\n', b).map(|i| i + 1))
                .filter(|&i| i < b.len() && b[i] != b'#' && b[i] != b'\n')
                .map(|i| u32::try_from(i).expect("a table under 4 GB"))
                .collect()
        })
    }

    /// The number and name of the line starting at `at`.
    fn row(&self, at: u32) -> Option<(u32, &'static str)> {
        let rest = &self.text[at as usize..];
        let line = &rest[..memchr::memchr(b'\n', rest.as_bytes()).unwrap_or(rest.len())];
        let (n, name) = line.split_once('\t')?;
        Some((n.trim().parse().ok()?, name.trim()))
    }

    fn get(&self, n: u32) -> Option<&'static str> {
        let starts = self.starts();
        let i = starts.binary_search_by_key(&Some(n), |&at| self.row(at).map(|(k, _)| k)).ok()?;
        self.row(starts[i]).map(|(_, name)| name)
    }

    /// Every row, in the order of the numbers.
    fn rows(&self) -> impl Iterator<Item = (u32, &'static str)> + '_ {
        self.starts().iter().filter_map(|&at| self.row(at))
    }
}

/// The WinHTTP (or WinINet) error name for a number in their 12000 range.
pub fn winhttp_name(n: u32) -> Option<&'static str> {
    WINHTTP.get(n).or_else(|| WININET.get(n))
}

/// The code a symbolic name of the imported tables stands for, case-insensitively: an HRESULT
/// name (`E_ACCESSDENIED`) is its value; a Win32, WinHTTP or WinINet name (`ERROR_FILE_NOT_FOUND`)
/// is the error wrapped as an HRESULT, as `explain` shows it (`0x80070002`).
pub fn code_for_name(name: &str) -> Option<Code> {
    static BY_NAME: OnceLock<HashMap<String, u32>> = OnceLock::new();
    let by_name = BY_NAME.get_or_init(|| {
        let mut m = HashMap::new();
        let mut add = |table: &Table, wrap: bool| {
            for (n, name) in table.rows() {
                let v = if wrap { 0x8007_0000 | (n & 0xFFFF) } else { n };
                m.entry(name.to_ascii_uppercase()).or_insert(v);
            }
        };
        add(&HRESULT, false);
        add(&WIN32, true);
        add(&WINHTTP, true);
        add(&WININET, true);
        m
    });
    by_name.get(&name.trim().to_ascii_uppercase()).map(|&v| Code::Hresult(v))
}

/// The Win32 error name for a number (WinHTTP and WinINet ranges included).
pub fn win32_name(n: u32) -> Option<&'static str> {
    WIN32.get(n).or_else(|| WINHTTP.get(n)).or_else(|| WININET.get(n))
}

/// The symbolic name of an HRESULT value from the imported tables, if any.
pub fn hresult_name(v: u32) -> Option<&'static str> {
    if let Some(n) = HRESULT.get(v) {
        return Some(n);
    }
    if v >> 16 == 0x8007 {
        return win32_name(v & 0xFFFF);
    }
    None
}

/// True for the HRESULTs of the IDCRL library (Passport, Live ID, Microsoft Online sign-in) that
/// Lync and Skype for Business clients log when an online sign-in fails: 0x800488xx.
pub fn idcrl(v: u32) -> bool {
    v & 0xFFFF_FF00 == 0x8004_8800
}

/// Decode a code's structure. Codes with no structure still get a one-line summary.
pub fn decode(code: &Code) -> Decoded {
    match code {
        Code::Hresult(v) => decode_hresult(*v),
        Code::Msrc(n) => decode_msrc(*n),
        Code::Sip(n) => decode_status("SIP", *n, sip_class(*n)),
        Code::Http(n) => decode_status("HTTP", *n, http_class(*n)),
        Code::Q850(n) => decode_q850(*n),
        Code::Aadsts(n) => decode_aadsts(*n),
        Code::MsDiag(n) => Decoded {
            summary: format!(
                "Skype for Business diagnostic code {n}, sent in an ms-diagnostics or ms-client-diagnostics header"
            ),
            ..Decoded::default()
        },
        Code::Oauth(e) => Decoded {
            summary: format!("OAuth 2.0 error string `{e}` returned by the token endpoint"),
            ..Decoded::default()
        },
        Code::Teams(t) => Decoded {
            summary: format!("Named code `{t}` reported by a Teams client or Teams Rooms"),
            ..Decoded::default()
        },
        Code::Lync(t) => {
            Decoded { summary: format!("Lync / Skype for Business client message `{t}`"), ..Decoded::default() }
        }
        Code::Pexip(t) => {
            Decoded { summary: format!("Pexip Infinity or Teams Connector message `{t}`"), ..Decoded::default() }
        }
    }
}

const WAM_GROUPS: [&str; 11] = [
    "unassigned",
    "client and user-interface state of the token broker",
    "OAuth error returned by the token service",
    "HTTP status returned by the service",
    "token cache serialization",
    "system or environment error on the device",
    "JSON parsing",
    "URL or connection error (INET)",
    "WinHTTP transport error",
    "server flow: WS-Trust, realm discovery, refresh token, PKeyAuth",
    "other broker error",
];

const OAUTH_IN_WAM: [(u32, &str); 11] = [
    (0x1, "unauthorized_client"),
    (0x2, "invalid_request"),
    (0x3, "invalid_grant"),
    (0x4, "access_denied"),
    (0x5, "temporarily_unavailable"),
    (0x6, "unsupported_response_type"),
    (0x7, "invalid_scope"),
    (0x9, "invalid_client"),
    (0xA, "unsupported_grant_type"),
    (0xB, "invalid_resource"),
    (0xC, "interaction_required"),
];

fn severity_word(nibble: u32) -> &'static str {
    match nibble {
        0xC..=0xF => "error",
        0x8..=0xB => "warning",
        0x4..=0x7 => "information",
        _ => "success",
    }
}

fn facility_name(f: u32) -> Option<&'static str> {
    Some(match f {
        0 => "FACILITY_NULL",
        1 => "FACILITY_RPC",
        2 => "FACILITY_DISPATCH",
        3 => "FACILITY_STORAGE",
        4 => "FACILITY_ITF",
        7 => "FACILITY_WIN32",
        8 => "FACILITY_WINDOWS",
        9 => "FACILITY_SECURITY",
        10 => "FACILITY_CONTROL",
        11 => "FACILITY_CERT",
        12 => "FACILITY_INTERNET",
        16 => "FACILITY_SCARD",
        17 => "FACILITY_COMPLUS",
        19 => "FACILITY_URT (.NET runtime)",
        25 => "FACILITY_HTTP",
        40 => "FACILITY_TPM_SERVICES",
        41 => "FACILITY_TPM_SOFTWARE",
        51 => "FACILITY_WINRM",
        _ => return None,
    })
}

fn decode_hresult(v: u32) -> Decoded {
    let mut d = Decoded::default();
    let nibble = v >> 28;
    let low = v & 0xFFFF;
    if (v >> 20) & 0xFF == 0xAA {
        let group = (v >> 16) & 0xF;
        let group_name = WAM_GROUPS.get(group as usize).copied().unwrap_or("unknown group");
        d.part("severity", severity_word(nibble));
        d.part("facility", format!("0xAA{group:X}: Web Account Manager / ADAL, {group_name}"));
        d.part("code", format!("0x{low:04X} ({low})"));
        d.summary = format!("Web Account Manager (WAM/ADAL) {}: {group_name}", severity_word(nibble));
        match group {
            2 => {
                if let Some((_, e)) = OAUTH_IN_WAM.iter().find(|(c, _)| *c == low) {
                    d.inner = Some(Code::Oauth((*e).into()));
                    d.part("oauth error", *e);
                    d.summary = format!("The token service answered with the OAuth error `{e}`");
                }
            }
            3 if (100..600).contains(&low) => {
                d.inner = Some(Code::Http(low as u16));
                d.part("http status", low.to_string());
                d.summary = format!("The sign-in service answered HTTP {low}");
            }
            8 => {
                let name = WINHTTP.get(low).or_else(|| WININET.get(low));
                d.symbolic_name = name;
                d.inner = Some(Code::Hresult(0x8007_0000 | low));
                d.part("winhttp error", format!("{low}{}", name.map(|n| format!(" {n}")).unwrap_or_default()));
                d.summary = match name {
                    Some(n) => format!("The request never got a usable answer: WinHTTP error {low} ({n})"),
                    None => format!("The request never got a usable answer: WinHTTP error {low}"),
                };
            }
            _ => {}
        }
        return d;
    }
    if v >> 16 == 0x8007 {
        let name = win32_name(low);
        d.symbolic_name = name;
        d.part("severity", "error");
        d.part("facility", "7 FACILITY_WIN32");
        d.part("win32 error", format!("{low}{}", name.map(|n| format!(" {n}")).unwrap_or_default()));
        d.summary =
            format!("Windows error {low}{} wrapped as an HRESULT", name.map(|n| format!(" ({n})")).unwrap_or_default());
        return d;
    }
    if idcrl(v) {
        d.part("severity", "error");
        d.part("facility", "4 FACILITY_ITF");
        d.part(
            "library",
            "IDCRL: the Microsoft Online (Passport / Live ID) sign-in library of Lync and Skype for Business",
        );
        d.part("code", format!("0x{low:04X}"));
        d.symbolic_name = hresult_name(v);
        d.summary =
            "The online sign-in library (IDCRL) of Lync or Skype for Business could not get a token for the account"
                .to_owned();
        return d;
    }
    if v >> 16 == 0xC000 {
        d.part("severity", "error");
        d.part("facility", "0 (NTSTATUS)");
        d.part("code", format!("0x{low:04X}"));
        d.symbolic_name = HRESULT.get(v);
        d.summary = "Windows NTSTATUS error from the kernel or the logon (LSA) subsystem".to_owned();
        return d;
    }
    let facility = (v >> 16) & 0x7FF;
    d.symbolic_name = hresult_name(v);
    d.part("severity", if v >> 31 == 1 { "error" } else { "success" });
    d.part("facility", format!("{facility}{}", facility_name(facility).map(|n| format!(" {n}")).unwrap_or_default()));
    d.part("code", format!("0x{low:04X} ({low})"));
    if facility == 25 && (100..600).contains(&low) {
        // FACILITY_HTTP carries the HTTP status in its low bits (0x80190190 = 400).
        d.inner = Some(Code::Http(low as u16));
        d.part("http status", low.to_string());
    }
    d.summary = match (facility, d.symbolic_name) {
        (19, _) => "A .NET runtime exception surfaced as an HRESULT".to_owned(),
        (_, Some(n)) => format!("HRESULT {n}"),
        (25, None) if d.inner.is_some() => format!("A Windows HTTP call failed with HTTP status {low}"),
        _ => format!("HRESULT with facility {facility} and code {low}"),
    };
    d
}

fn decode_msrc(n: u32) -> Decoded {
    let mut d = Decoded::default();
    if !(500_000..=599_999).contains(&n) {
        d.summary =
            format!("Microsoft response code {n}: the final answer came from Microsoft's call controller, not the SBC");
        d.part("final answer from", "Microsoft (Teams call controller)");
        return d;
    }
    let x = (n / 10_000) % 10;
    let y = (n / 1_000) % 10;
    let zzz = n % 1_000;
    let direction = match x {
        6 => Some("outbound (Teams to SBC)"),
        4 => Some("inbound (SBC to Teams)"),
        _ => None,
    };
    if let Some(dir) = direction {
        d.part("direction", dir);
    }
    let sip = (100..700).contains(&zzz).then_some(Code::Sip(zzz as u16));
    match (x, y) {
        (6 | 4, 0) => {
            let dir = if x == 6 { "an outbound" } else { "an inbound" };
            d.part("final answer from", "the SBC");
            d.summary = format!("The SBC gave the final answer SIP {zzz} on {dir} call; start with the SBC's logs");
            d.inner = sip;
        }
        (6 | 4, 9) => {
            let dir = if x == 6 { "an outbound" } else { "an inbound" };
            d.part("final answer from", "Microsoft SIP proxy (could not deliver)");
            d.summary = format!(
                "Teams could not deliver a request to the SBC on {dir} call (connection, TLS, certificate or DNS failure; detail {zzz})"
            );
        }
        (1, _) => {
            d.part("final answer from", "Microsoft (routing, policy or trunk configuration)");
            d.summary = format!("Teams' own routing or policy checks refused the call (detail {zzz})");
            d.inner = sip;
        }
        (3, _) => {
            d.part("final answer from", "Microsoft media stack");
            d.summary = format!("Media negotiation failed inside Teams (SDP, ICE or SRTP; detail {zzz})");
        }
        _ => {
            d.part("final answer from", "Microsoft SIP proxy");
            d.summary = format!("The Microsoft SIP proxy ended the call (detail {zzz})");
        }
    }
    d.part("digits", format!("5 {x} {y} {zzz:03}"));
    d
}

fn sip_class(n: u16) -> &'static str {
    match n / 100 {
        1 => "provisional: the request is in progress",
        2 => "success",
        3 => "redirection: the caller should try another address",
        4 => "request failure: the request was refused or cannot be served as sent",
        5 => "server failure: a server on the path failed on a valid request",
        6 => "global failure: no destination will accept the call",
        _ => "outside the defined classes",
    }
}

fn http_class(n: u16) -> &'static str {
    match n / 100 {
        1 => "informational",
        2 => "success",
        3 => "redirection",
        4 => "client error: the request was refused",
        5 => "server error: the service failed",
        _ => "outside the defined classes",
    }
}

fn decode_status(proto: &str, n: u16, class: &str) -> Decoded {
    let mut d = Decoded { summary: format!("{proto} status {n}: {class}"), ..Decoded::default() };
    d.part("class", format!("{}xx", n / 100));
    d
}

fn decode_q850(n: u16) -> Decoded {
    let class = match n >> 4 {
        0 | 1 => "normal event",
        2 => "resource unavailable",
        3 => "service or option not available",
        4 => "service or option not implemented",
        5 => "invalid message",
        6 => "protocol error",
        7 => "interworking",
        _ => "out of range (Q.850 causes are 1 to 127)",
    };
    let mut d = Decoded { summary: format!("ISDN Q.850 cause {n}: class {class}"), ..Decoded::default() };
    d.part("class", class);
    d
}

fn decode_aadsts(n: u32) -> Decoded {
    let hint = match n {
        16_000..=16_999 => Some("account selection and session"),
        50_000..=50_999 => Some("user authentication: credentials, account state, MFA"),
        51_000..=51_999 => Some("user or application state"),
        53_000..=53_999 | 530_000..=530_999 => Some("Conditional Access and device state"),
        65_000..=65_999 => Some("consent"),
        70_000..=70_999 => Some("OAuth protocol and token requests"),
        75_000..=75_999 => Some("SAML"),
        80_000..=80_999 => Some("pass-through authentication agents"),
        81_000..=81_999 => Some("seamless single sign-on (Kerberos)"),
        90_000..=90_999 | 900_000..=900_999 => Some("request validation and service-side errors"),
        700_000..=700_999 | 7_000_000..=7_000_999 => Some("application credentials and registration"),
        _ => None,
    };
    let mut d = Decoded {
        summary: format!(
            "Microsoft Entra ID sign-in error {n}{}",
            hint.map(|h| format!(" (range: {h})")).unwrap_or_default()
        ),
        ..Decoded::default()
    };
    if let Some(h) = hint {
        d.part("range", h);
    }
    d
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every line of a table read into a map, as the tables were read before the binary search.
    fn parse_table(text: &'static str) -> HashMap<u32, &'static str> {
        text.lines()
            .filter(|l| !l.starts_with('#'))
            .filter_map(|l| {
                let (n, name) = l.split_once('\t')?;
                Some((n.trim().parse().ok()?, name.trim()))
            })
            .collect()
    }

    /// The binary search needs each table's lines to parse and their numbers to rise; then it
    /// finds what the map finds for every number in a table, and for the numbers around them.
    #[test]
    fn tables_are_sorted_and_searched_as_maps() {
        for table in [&WIN32, &HRESULT, &WINHTTP, &WININET] {
            let map = parse_table(table.text);
            let rows: Vec<(u32, &str)> = table.rows().collect();
            assert_eq!(rows.len(), table.starts().len(), "every line that is not a comment is a row");
            assert_eq!(rows.len(), map.len());
            assert!(rows.windows(2).all(|w| w[0].0 < w[1].0), "numbers rise");
            for &(n, name) in &rows {
                for probe in [n.wrapping_sub(1), n, n.wrapping_add(1)] {
                    assert_eq!(table.get(probe), map.get(&probe).copied(), "{probe}");
                }
                assert_eq!(table.get(n), Some(name));
            }
            for probe in [0, u32::MAX] {
                assert_eq!(table.get(probe), map.get(&probe).copied());
            }
        }
        assert_eq!(hresult_name(0x8007_0005), Some("E_ACCESSDENIED"));
        assert_eq!(win32_name(5), Some("ERROR_ACCESS_DENIED"));
        assert_eq!(winhttp_name(12029), Some("ERROR_WINHTTP_CANNOT_CONNECT"));
    }
}
