//! `--redact`: personal data out of every string of a report, consistently.
//!
//! What goes (docs/redaction.md lists it with examples): user names and e-mail addresses (also
//! non-ASCII and URL-encoded ones), `DOMAIN\user`, user folders, host and computer names and the
//! tenant's FQDNs, IPv4 and IPv6 addresses, MAC addresses, GUIDs (but for a few well-known
//! Microsoft application ids), tokens, passwords, secrets, SAS signatures and cookies, phone numbers
//! and `tel:` URIs, and the values of fields that name people, rooms, aliases and conferences.
//! Each value becomes a placeholder of the same shape (`user-1@tenant-1`, `host-2.tenant-1`,
//! `10.x.x.3`, `fdxx::1`, `xx:xx:xx:xx:xx:1`, `+xx-xxx-1`); the same value always gets the same
//! placeholder, in every format of the same run. A value cut at the end of an excerpt (`…`) is
//! dropped with the word it was cut in.
//!
//! Each part of a report says what of it is redacted, in its [`Redact`] implementation below; the
//! implementations take their struct apart field by field, so a field added to a struct does not
//! compile until it is redacted or named as kept. Kept are only the project's own words and
//! numbers: rule ids, families, layers, reference links (the token pattern would eat their
//! paths), codes, versions, severities, times and counts. Everything else — paths, texts,
//! excerpts, groups, rooms, statuses, and the names readers give — is redacted, also when a
//! report was read back from JSON.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::OnceLock;

use aho_corasick::{AhoCorasick, AhoCorasickBuilder, MatchKind};
use regex::{Captures, Regex};
use uctriage_evidence::Evidence;
use uctriage_rules::timeline::{Change, Span, Turn};
use uctriage_rules::{EvidenceRef, Finding, RoomTimeline};

use crate::{InputEntry, ScanReport};

/// Microsoft application ids that name a Microsoft app, not a tenant, user or device: kept
/// readable so a sign-in record still says which app asked.
pub const KEPT_IDS: &[(&str, &str)] = &[
    ("00000000-0000-0000-0000-000000000000", "nil GUID"),
    ("1fec8e78-bce4-4aaf-ab1b-5451cc387264", "Microsoft Teams"),
    ("5e3ce6c0-2b1f-4285-8d4b-75ee78787346", "Microsoft Teams web client"),
    ("cc15fd57-2c6c-4117-a88c-83b1d56b4bbe", "Microsoft Teams Services"),
    ("d3590ed6-52b3-4102-aeff-aad2292ab01c", "Microsoft Office"),
    ("29d9ed98-a469-4536-ade2-f981bc1d605e", "Microsoft Authentication Broker"),
    ("38aa3b87-a06d-4817-b275-7a316988d93b", "Windows Sign In"),
    ("00000002-0000-0000-c000-000000000000", "Azure AD Graph"),
    ("00000003-0000-0000-c000-000000000000", "Microsoft Graph"),
    ("00000002-0000-0ff1-ce00-000000000000", "Office 365 Exchange Online"),
    ("00000003-0000-0ff1-ce00-000000000000", "Office 365 SharePoint Online"),
    ("00000004-0000-0ff1-ce00-000000000000", "Skype for Business Online"),
    ("c44b4083-3bb0-49c1-b47d-974e53cbdf3c", "Azure portal"),
    ("1b730954-1685-4b74-9bfd-dac224a7b894", "Azure AD PowerShell"),
    ("04b07795-8ddb-461a-bbee-02f9e1bf7b46", "Azure CLI"),
];

/// Public service domains: their host names say which service was called, not who called.
const KEPT_DOMAINS: &[&str] = &[
    "microsoft.com",
    "microsoftonline.com",
    "microsoftonline-p.com",
    "microsoftonline-p.net",
    "office.com",
    "office.net",
    "office365.com",
    "outlook.com",
    "live.com",
    "lync.com",
    "skype.com",
    "skypeforbusiness.com",
    "teams.microsoft.us",
    "windows.net",
    "windows.com",
    "windowsupdate.com",
    "azure.com",
    "azure.net",
    "azureedge.net",
    "msauth.net",
    "msftauth.net",
    "msftidentity.com",
    "msidentity.com",
    "microsoftazuread-sso.com",
    "digicert.com",
    "pexip.com",
    "w3.org",
    "xmlsoap.org",
    "example.com",
    "example.org",
    "example.net",
];

/// File extensions that may follow a host name in a file name (`sbc1.contoso.com.log`).
const FILE_EXTENSIONS: &[&str] = &[
    "log", "txt", "zip", "evtx", "etl", "json", "jsonl", "csv", "xml", "gz", "cab", "pcap", "pcapng", "har", "bak",
    "old", "tmp", "1", "2", "3",
];

/// Two-letter endings that are file extensions or words more often than country domains.
const NOT_TLDS: &[&str] = &["js", "ps", "py", "sh", "cs", "md", "gz", "xz", "rs", "pl", "rb", "go", "db", "ok"];

const TLDS: &[&str] = &[
    "com",
    "net",
    "org",
    "edu",
    "gov",
    "mil",
    "int",
    "info",
    "biz",
    "io",
    "app",
    "dev",
    "cloud",
    "local",
    "lan",
    "corp",
    "internal",
    "intra",
    "intranet",
    "home",
    "localdomain",
    "arpa",
    "online",
    "tech",
    "site",
    "xyz",
    "global",
    "group",
    "company",
    "team",
    "services",
    "systems",
    "network",
    "health",
    "bank",
    "law",
    "school",
    "city",
];

/// Replaces personal data with stable placeholders.
#[derive(Default)]
pub struct Redactor {
    /// (kind, value as compared) → number.
    numbers: HashMap<(&'static str, String), usize>,
    counts: HashMap<&'static str, usize>,
    placeholders: HashSet<String>,
    /// Values learned from named fields, replaced wherever they appear as text.
    learned: Vec<(String, String)>,
    /// Learned value → its placeholder.
    learned_keys: HashMap<String, String>,
    matcher: Option<AhoCorasick>,
}

impl std::fmt::Debug for Redactor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Redactor").field("values", &self.numbers.len()).field("learned", &self.learned.len()).finish()
    }
}

type Handler = fn(&mut Redactor, &str, &Captures<'_>) -> Option<String>;

struct Pattern {
    re: Regex,
    handler: Handler,
}

fn patterns() -> &'static [Pattern] {
    static P: OnceLock<Vec<Pattern>> = OnceLock::new();
    P.get_or_init(|| {
        let p = |re: &str, handler: Handler| Pattern { re: Regex::new(re).expect("redaction patterns are fixed"), handler };
        vec![
            // Tokens first: a JWT contains dots and could look like other things.
            p(r"\beyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,}\.?[A-Za-z0-9_-]*", |r, _, c| r.whole(c, "token")),
            p(r"(?i)\b(?:bearer|basic|negotiate|ntlm)\s+([A-Za-z0-9+/=._~-]{6,})", |r, _, c| r.group(c, 1, "token")),
            p(r#"(?i)\b((?:set-)?cookie)(\s*[:=]\s*)([^"\r\n]+)"#, |r, _, c| r.group(c, 3, "cookie")),
            p(
                r#"(?i)"(?:password|passwd|pwd|secret|client_secret|clientsecret|access_token|refresh_token|id_token|token|sig|signature|assertion|cookie|authorization|api_key|apikey|sharedaccesskey|accountkey)"\s*:\s*"((?:[^"\\]|\\.)*)(?:"|$)"#,
                |r, _, c| r.group(c, 1, "secret"),
            ),
            p(
                r#"(?i)(?:\b(?:password|passwd|pwd|secret|client_secret|clientsecret|sig|signature|token|access_token|refresh_token|id_token|assertion|sas|api_key|apikey|sharedaccesskey|accountkey)|[?&]code)"?\s*[=:]\s*["']?([^&\s"'<>;,]+)"#,
                |r, _, c| r.group(c, 1, "secret"),
            ),
            // `Key="value"`, `"Key":"value"`, `key=value` where the key names someone or something
            // (a Pexip log's `Conference=`, a JSON `"DisplayName":`): the value goes whole.
            p(r#""?\b([A-Za-z][\w-]{1,40})"?\s*[=:]\s*"([^"]{1,200})""#, Redactor::keyed),
            p(r#"\b([A-Za-z][\w-]{1,40})=([^\s"&;,<>]{1,200})"#, Redactor::keyed),
            // `Account Name:  jdoe` (Windows security events), `Workstation Name: PC01`, `User: x`.
            p(
                r#"(?i)\b((?:account|user|target user|subject user|logon account|workstation|computer|device|display|caller|callee|participant|organizer|room|conference)(?:[ _-]?(?:name|id|alias|domain))?)[ \t]*:[ \t]*([^\s,;"<>]{2,200})"#,
                |r, hay, c| r.keyed_value(hay, c, false),
            ),
            // A SIP display name: `From: "Jane Public" <sip:…>`.
            p(r#""([^"<>]{1,80})"\s*<(?:sips?|tel):"#, |r, _, c| {
                let v = c.get(1)?.as_str();
                if r.is_placeholder(v) {
                    return None;
                }
                let ph = r.name("name", v);
                Some(c.get(0)?.as_str().replacen(v, &ph, 1))
            }),
            // Windows security identifiers of accounts (`S-1-5-21-…`); well-known SIDs are kept.
            p(r"\bS-1-5-21(?:-[0-9]+){3,4}\b", |r, _, c| r.whole(c, "sid")),
            p(r"(?i)[\w.+%'-]+(?:@|%40)(?:[\w-]+\.)+[^\W\d_]{2,}", |r, _, c| r.email(c)),
            p(r#"(?i)((?:[a-z]:)?\\+(?:users|documents and settings)\\+|/home/|/users/)([^\\/\s"'<>:*?|]+)"#, |r, _, c| {
                r.group(c, 2, "user")
            }),
            p(r"(?:^|[^\w\\/:.%$-])([A-Za-z][\w-]{0,14})\\([\w.$-]*[\w$])", Redactor::domain_user),
            p(r"(?i)\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b", |r, _, c| r.guid(c)),
            p(r"(?i)\b[0-9a-f]{32}\b", |r, _, c| r.guid(c)),
            p(r"(?i)\b[0-9a-f]{2}(?::[0-9a-f]{2}){5}\b", |r, _, c| r.whole(c, "mac")),
            p(r"(?i)\b[0-9a-f]{2}(?:-[0-9a-f]{2}){5}\b", |r, _, c| r.whole(c, "mac")),
            p(r"(?i)\b[0-9a-f]{4}\.[0-9a-f]{4}\.[0-9a-f]{4}\b", |r, _, c| r.whole(c, "mac")),
            p(r"(?i)[0-9a-f:.]*:[0-9a-f.]*:[0-9a-f:.]*(?:%[0-9a-z]+)?", Redactor::ipv6),
            p(r"[0-9][0-9.]*[0-9]", Redactor::ipv4),
            p(r"(?i)\b(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z][a-z0-9-]*", Redactor::fqdn),
            p(
                r#"(?i)\b(?:computer|computer_?name|host|host_?name|machine|machine_?name|device_?name|workstation|workstation_?name|node|room)("?\s*[:=]\s*"?|>)([A-Za-z0-9][\w.-]*)"#,
                |r, _, c| r.host_context(c),
            ),
            p(r"\b(?:DESKTOP|LAPTOP|WIN|MTR|SRS|RM|ROOM|TEAMSROOM)-[A-Z0-9]{4,15}\b", |r, _, c| r.whole(c, "host")),
            p(r"(?i)\btel:\+?[0-9()./ -]*[0-9](?:;[\w=.+-]+)*", |r, _, c| r.phone(c)),
            p(r"\+[0-9]{1,3}(?:[ .-]?\(?[0-9]{1,4}\)?){2,6}", |r, _, c| r.phone(c)),
            p(r"(?:\([0-9]{3}\)\s?|\b[0-9]{3}[ .-])[0-9]{3}[ .-][0-9]{4}\b", |r, _, c| r.phone(c)),
            p(r"\b0[0-9]{2,4}[ .-][0-9]{3,4}[ .-][0-9]{3,4}\b", |r, _, c| r.phone(c)),
            // Long runs of token characters with digits in them (a path of words has none).
            p(r"\b[A-Za-z0-9+/_-]{40,}={0,2}", |r, _, c| {
                c.get(0)?.as_str().contains(|c: char| c.is_ascii_digit()).then(|| r.whole(c, "token"))?
            }),
        ]
    })
}

/// The kind of value a record's field holds when its name says it names someone or something:
/// its whole value is replaced, and learned so that it goes wherever else it appears.
pub fn named_field(name: &str) -> Option<&'static str> {
    let n = name.to_ascii_lowercase();
    let has = |words: &[&str]| words.iter().any(|w| n.contains(w));
    // States, times, kinds and counts of a thing are not its name.
    let about = [
        "_status",
        "_state",
        "_result",
        "_type",
        "_time",
        "_utc",
        "_count",
        "_set",
        "_joined",
        "_method",
        "_reason",
        "_code",
        "_phrase",
        "_version",
        "_managed",
        "_compliant",
        "_protected",
        "_enabled",
        "_location",
        "_id_type",
    ];
    if about.iter().any(|w| n.ends_with(w))
        || has(&["user_agent", "useragent", "number_of", "record_number", "event_id"])
    {
        return None;
    }
    if has(&["display_name", "displayname", "organizer", "participant", "caller", "callee", "attendee", "owner"]) {
        return Some("name");
    }
    if has(&["alias"]) {
        return Some("alias");
    }
    if has(&["conference", "meeting_id", "vmr"]) {
        return Some("conference");
    }
    if has(&["room"]) {
        return Some("room");
    }
    if has(&["computer", "hostname", "host_name", "machine", "workstation", "device_name", "sbc_host", "sbc_fqdn"])
        || matches!(n.as_str(), "host" | "device" | "node" | "peer" | "server_address" | "fqdn")
    {
        return Some("host");
    }
    if has(&["upn", "principal_name", "email", "mail", "account", "user", "sip_uri", "sipuri"]) {
        return Some("user");
    }
    if has(&["phone", "number", "msisdn"]) || matches!(n.as_str(), "did" | "ani" | "dnis") {
        return Some("phone");
    }
    if matches!(n.as_str(), "location" | "city") {
        return Some("place");
    }
    let names = [
        "name",
        "domain_name",
        "tenant_name",
        "full_name",
        "first_name",
        "last_name",
        "given_name",
        "surname",
        "company_name",
        "organization_name",
    ];
    names.contains(&n.as_str()).then_some("name")
}

fn lower(s: &str) -> String {
    s.to_lowercase()
}

/// The registrable domain of a host name: its last two labels, three under a two-letter country
/// code with a generic second level (`contoso.co.uk`).
fn registrable(labels: &[&str]) -> usize {
    let n = labels.len();
    if n >= 3 {
        let tld = labels[n - 1];
        let sld = labels[n - 2].to_ascii_lowercase();
        if tld.len() == 2 && matches!(sld.as_str(), "co" | "com" | "net" | "org" | "ac" | "gov" | "edu" | "ne" | "or") {
            return 3;
        }
    }
    2.min(n)
}

fn is_tld(label: &str) -> bool {
    let same_case = label.chars().all(|c| c.is_ascii_lowercase()) || label.chars().all(|c| c.is_ascii_uppercase());
    if !same_case {
        return false;
    }
    let l = label.to_ascii_lowercase();
    (l.len() == 2 && !NOT_TLDS.contains(&l.as_str())) || TLDS.contains(&l.as_str())
}

/// `version`, `ver` or a `v` with only separators after it: what comes next is a version.
fn version_before() -> &'static Regex {
    static VERSION: OnceLock<Regex> = OnceLock::new();
    VERSION.get_or_init(|| Regex::new(r#"(?:version|\bver|(?:^|[^a-z])v)["'\s:=]*$"#).expect("fixed"))
}

fn kept_domain(host: &str) -> bool {
    let h = host.to_ascii_lowercase();
    KEPT_DOMAINS.iter().any(|d| h == *d || h.ends_with(&format!(".{d}")))
}

impl Redactor {
    pub fn new() -> Self {
        Redactor::default()
    }

    /// The number of a value of a kind, the same for the same value.
    fn number(&mut self, kind: &'static str, value: &str) -> usize {
        let key = (kind, lower(value));
        if let Some(n) = self.numbers.get(&key) {
            return *n;
        }
        let n = self.counts.entry(kind).or_default();
        *n += 1;
        let n = *n;
        self.numbers.insert(key, n);
        n
    }

    fn mark(&mut self, p: String) -> String {
        self.placeholders.insert(p.clone());
        p
    }

    fn is_placeholder(&self, s: &str) -> bool {
        self.placeholders.contains(s)
    }

    /// The placeholder of a value of a kind, shaped like the kind's values.
    fn placeholder(&mut self, kind: &'static str, value: &str) -> String {
        if self.is_placeholder(value) {
            return value.to_owned();
        }
        let n = self.number(kind, value);
        let p = match kind {
            "ip" => format!("10.x.x.{n}"),
            "ip6" => format!("fdxx::{n}"),
            "mac" => format!("xx:xx:xx:xx:xx:{n}"),
            "guid" => format!("xxxxxxxx-xxxx-xxxx-xxxx-{n:012}"),
            "guid32" => format!("xxxxxxxxxxxxxxxxxxxx{n:012}"),
            "phone" => format!("+xx-xxx-{n}"),
            "tenant" => format!("tenant-{n}"),
            "sid" => format!("S-1-5-21-x-x-x-{n}"),
            _ => format!("{kind}-{n}"),
        };
        self.mark(p)
    }

    fn whole(&mut self, c: &Captures<'_>, kind: &'static str) -> Option<String> {
        let v = c.get(0)?.as_str();
        (!self.is_placeholder(v)).then(|| self.placeholder(kind, v))
    }

    /// The match with only capture `group` replaced.
    fn group(&mut self, c: &Captures<'_>, group: usize, kind: &'static str) -> Option<String> {
        let whole = c.get(0)?;
        let v = c.get(group)?;
        if self.is_placeholder(v.as_str()) || v.as_str().is_empty() {
            return None;
        }
        let ph = self.placeholder(kind, v.as_str());
        let start = v.start() - whole.start();
        let w = whole.as_str();
        Some(format!("{}{}{}", &w[..start], ph, &w[start + v.len()..]))
    }

    fn tenant(&mut self, domain: &str) -> String {
        self.placeholder("tenant", domain)
    }

    fn email(&mut self, c: &Captures<'_>) -> Option<String> {
        let v = c.get(0)?.as_str();
        let lv = v.to_ascii_lowercase();
        let (sep, at) = match (lv.find('@'), lv.find("%40")) {
            (Some(a), Some(b)) if b < a => ("%40", b),
            (Some(a), _) => ("@", a),
            (None, Some(b)) => ("%40", b),
            (None, None) => return None,
        };
        let local = &v[..at];
        let domain = &v[at + sep.len()..];
        let labels: Vec<&str> = domain.split('.').collect();
        let keep = registrable(&labels);
        let tenant = self.tenant(&labels[labels.len() - keep..].join("."));
        let user_key = format!("{}@{}", local.to_lowercase().replace("%2e", "."), domain.to_lowercase());
        let n = self.number("user", &user_key);
        let host = if labels.len() > keep {
            format!("{}.", self.placeholder("host", &labels[..labels.len() - keep].join(".")))
        } else {
            String::new()
        };
        Some(self.mark(format!("user-{n}{sep}{host}{tenant}")))
    }

    fn domain_user(&mut self, hay: &str, c: &Captures<'_>) -> Option<String> {
        let whole = c.get(0)?;
        let (dom, user) = (c.get(1)?, c.get(2)?);
        // A path goes on (`Program\Files\x`); `\n`, `\r`, `\t` before a capital are escapes.
        if hay[whole.end()..].starts_with(['\\', '/']) {
            return None;
        }
        let u = user.as_str();
        let mut chars = u.chars();
        if matches!(chars.next(), Some('n' | 'r' | 't' | 'u')) && chars.next().is_none_or(|c| !c.is_ascii_lowercase()) {
            return None;
        }
        let d = dom.as_str().to_ascii_uppercase();
        if matches!(d.as_str(), "AUTHORITY" | "BUILTIN" | "SERVICE" | "NT" | "APPPOOL" | "MANAGER" | "HOST")
            || self.is_placeholder(u)
        {
            return None;
        }
        let dp = self.placeholder("domain", dom.as_str());
        let up = self.placeholder("user", u);
        let w = whole.as_str();
        Some(format!("{}{dp}\\{up}", &w[..dom.start() - whole.start()]))
    }

    fn guid(&mut self, c: &Captures<'_>) -> Option<String> {
        let v = c.get(0)?.as_str();
        let l = v.to_ascii_lowercase();
        if KEPT_IDS.iter().any(|(id, _)| *id == l || id.replace('-', "") == l) {
            return None;
        }
        Some(self.placeholder(if v.len() == 32 { "guid32" } else { "guid" }, &l))
    }

    fn ipv6(&mut self, hay: &str, c: &Captures<'_>) -> Option<String> {
        let m = c.get(0)?;
        let run = m.as_str();
        // Our own placeholder (`fdxx::1`: `x` is not hex, so the run starts at `::`).
        if hay[..m.start()].ends_with("fdxx") {
            return None;
        }
        // The address may start after a word that happens to be hex (`Added:fe80::1`).
        let starts = std::iter::once(0).chain(run.match_indices(':').map(|(i, _)| i + 1));
        for start in starts {
            let cand = &run[start..];
            if start > 0 && cand.starts_with(':') && !cand.starts_with("::") {
                continue;
            }
            let cand = cand.trim_end_matches('.');
            let addr = cand.split('%').next().unwrap_or(cand);
            if addr.len() > 2 && addr.chars().any(|c| c.is_ascii_digit()) && addr.parse::<std::net::Ipv6Addr>().is_ok()
            {
                let ph = self.placeholder("ip6", &addr.to_ascii_lowercase());
                return Some(format!("{}{ph}{}", &run[..start], &run[start + cand.len()..]));
            }
        }
        None
    }

    fn ipv4(&mut self, hay: &str, c: &Captures<'_>) -> Option<String> {
        let m = c.get(0)?;
        let v = m.as_str();
        // A version (`v1.2.3.4`, `"AppVersion":"5.1.111.0"`) is not an address.
        let mut from = m.start().saturating_sub(24);
        while !hay.is_char_boundary(from) {
            from += 1;
        }
        let before = hay[from..m.start()].to_ascii_lowercase();
        if version_before().is_match(&before) {
            return None;
        }
        let parts: Vec<&str> = v.split('.').collect();
        let ok = parts.len() == 4
            && parts.iter().all(|p| !p.is_empty() && p.len() <= 3 && p.parse::<u16>().is_ok_and(|n| n < 256));
        ok.then(|| self.placeholder("ip", v))
    }

    fn fqdn(&mut self, hay: &str, c: &Captures<'_>) -> Option<String> {
        let whole = c.get(0)?;
        let mut v = whole.as_str();
        // After a URL escape (`%2Fsbc1.contoso.com`) the escape's two hex digits are not the host's.
        let mut escape = "";
        if hay[..whole.start()].ends_with('%')
            && v.len() > 2
            && v.is_char_boundary(2)
            && v[..2].chars().all(|c| c.is_ascii_hexdigit())
        {
            (escape, v) = v.split_at(2);
        }
        let mut labels: Vec<&str> = v.split('.').collect();
        let mut tail = String::new();
        while labels.len() > 2 && !is_tld(labels[labels.len() - 1]) {
            let last = labels[labels.len() - 1];
            if !FILE_EXTENSIONS.contains(&last.to_ascii_lowercase().as_str()) {
                return None;
            }
            tail = format!(".{last}{tail}");
            labels.pop();
        }
        if labels.len() < 2 || !is_tld(labels[labels.len() - 1]) {
            return None;
        }
        let host = labels.join(".");
        if kept_domain(&host) || self.is_placeholder(&host) {
            return None;
        }
        let keep = registrable(&labels);
        let tenant = self.tenant(&labels[labels.len() - keep..].join("."));
        if labels.len() == keep {
            return Some(format!("{escape}{tenant}{tail}"));
        }
        let n = self.number("host", &host);
        let p = self.mark(format!("host-{n}.{tenant}"));
        Some(format!("{escape}{p}{tail}"))
    }

    fn host_context(&mut self, c: &Captures<'_>) -> Option<String> {
        let v = c.get(2)?.as_str();
        let l = v.to_ascii_lowercase();
        if self.is_placeholder(v)
            || v.contains('.')
            || !v.chars().any(|c| c.is_ascii_alphabetic())
            || v.starts_with("host-")
            || matches!(l.as_str(), "unknown" | "none" | "null" | "localhost" | "true" | "false" | "n" | "na")
        {
            return None;
        }
        self.group(c, 2, "host")
    }

    /// The value of a key that names someone or something ([`named_field`]; not a bare `name`,
    /// which logs use for loggers and events).
    fn keyed(&mut self, hay: &str, c: &Captures<'_>) -> Option<String> {
        self.keyed_value(hay, c, true)
    }

    /// [`Redactor::keyed`], learning the value or not (a `Key: value` in prose may be a word).
    fn keyed_value(&mut self, hay: &str, c: &Captures<'_>, learn: bool) -> Option<String> {
        let key = c.get(1)?.as_str().replace(['-', ' ', '\t'], "_");
        // A SIP URI's parameters (`;user=phone`) say what the URI is, not who.
        if key.eq_ignore_ascii_case("name") || hay[..c.get(0)?.start()].ends_with(';') {
            return None;
        }
        let kind = named_field(&key)?;
        let v = c.get(2)?;
        if v.as_str().trim().is_empty() || self.is_placeholder(v.as_str()) {
            return None;
        }
        let ph = if learn {
            self.name(kind, v.as_str())
        } else {
            let t = self.patterns(v.as_str());
            if self.is_placeholder(&t) {
                t
            } else {
                self.placeholder(kind, v.as_str())
            }
        };
        let whole = c.get(0)?;
        let start = v.start() - whole.start();
        let w = whole.as_str();
        Some(format!("{}{}{}", &w[..start], ph, &w[start + v.len()..]))
    }

    fn phone(&mut self, c: &Captures<'_>) -> Option<String> {
        let v = c.get(0)?.as_str();
        let digits: String = v.chars().filter(char::is_ascii_digit).collect();
        if !(7..=15).contains(&digits.len()) || self.is_placeholder(v) {
            return None;
        }
        let tel = v.len() >= 4 && v[..4].eq_ignore_ascii_case("tel:");
        let n = self.number("phone", &digits);
        let p = format!("+xx-xxx-{n}");
        self.placeholders.insert(p.clone());
        Some(if tel { self.mark(format!("tel:{p}")) } else { p })
    }

    /// Learn a value that a field names (a display name, a room, an alias, a computer): its
    /// placeholder from now on replaces it wherever it appears. Returns the placeholder.
    pub fn name(&mut self, kind: &'static str, value: &str) -> String {
        let v = value.trim();
        if v.is_empty() || self.is_placeholder(v) {
            return value.to_owned();
        }
        let key = lower(v);
        if let Some(p) = self.learned_keys.get(&key) {
            return p.clone();
        }
        // A value that is one address, host or ID keeps that shape. (Patterns only: learned values
        // would rebuild their matcher on every value learned.)
        let t = self.patterns(v);
        let p = if self.is_placeholder(&t) { t } else { self.placeholder(kind, v) };
        // Too short to be replaced inside other text (a number needs five digits).
        let digits = v.chars().all(|c| c.is_ascii_digit());
        let long_enough = if digits { v.len() >= 5 } else { v.chars().count() >= 3 };
        if long_enough && self.learned_keys.insert(key.clone(), p.clone()).is_none() {
            self.learned.push((key, p.clone()));
            self.matcher = None;
        }
        p
    }

    /// Learned values replaced in `s` (case-insensitively, longest first).
    fn replace_learned(&mut self, s: &str) -> String {
        if self.learned.is_empty() {
            return s.to_owned();
        }
        if self.matcher.is_none() {
            self.matcher = AhoCorasickBuilder::new()
                .ascii_case_insensitive(true)
                .match_kind(MatchKind::LeftmostLongest)
                .build(self.learned.iter().map(|(k, _)| k.as_str()))
                .ok();
        }
        let Some(m) = &self.matcher else { return s.to_owned() };
        let mut out = String::with_capacity(s.len());
        let mut last = 0;
        for hit in m.find_iter(s) {
            // Whole words only: a learned "ann" does not eat "channel". Nor a part of an address or
            // a host name (`contoso` in `bob@contoso.com`): the patterns give those their shape.
            let before = s[..hit.start()].chars().next_back();
            let mut after = s[hit.end()..].chars();
            let (next, then) = (after.next(), after.next());
            let bounded_before = before.is_none_or(|c| !c.is_alphanumeric() && !matches!(c, '@' | '.' | '%'));
            let bounded_after = next.is_none_or(|c| {
                let part_of_address = matches!(c, '@' | '%') || (c == '.' && then.is_some_and(char::is_alphanumeric));
                !c.is_alphanumeric() && !part_of_address
            });
            if !bounded_before || !bounded_after {
                continue;
            }
            out.push_str(&s[last..hit.start()]);
            out.push_str(&self.learned[hit.pattern().as_usize()].1);
            last = hit.end();
        }
        out.push_str(&s[last..]);
        out
    }

    /// The text with every personal value replaced.
    pub fn text(&mut self, s: &str) -> String {
        let mut out = self.cut_tail(s).into_owned();
        if !self.learned.is_empty() {
            out = self.replace_learned(&out);
        }
        self.patterns(&out)
    }

    /// `s` with every value the patterns find replaced.
    fn patterns(&mut self, s: &str) -> String {
        let mut out = s.to_owned();
        for pat in patterns() {
            if !pat.re.is_match(&out) {
                continue;
            }
            let hay = out.clone();
            out = pat
                .re
                .replace_all(&hay, |c: &Captures<'_>| {
                    let whole = c.get(0).map_or("", |m| m.as_str());
                    (pat.handler)(self, &hay, c).unwrap_or_else(|| whole.to_owned())
                })
                .into_owned();
        }
        out
    }

    /// Redact a string in place.
    pub fn apply(&mut self, s: &mut String) {
        let r = self.text(s);
        *s = r;
    }

    /// Learn the values of a record's named fields (see [`named_field`]) without changing it.
    pub fn learn(&mut self, e: &Evidence) {
        self.learn_fields(&e.fields);
    }
}

fn strings(v: &serde_json::Value) -> Vec<&str> {
    match v {
        serde_json::Value::String(s) => vec![s.as_str()],
        serde_json::Value::Array(a) => a.iter().flat_map(strings).collect(),
        serde_json::Value::Object(o) => o.values().flat_map(strings).collect(),
        _ => Vec::new(),
    }
}

impl Redactor {
    /// A text cut at its end (an excerpt ends in `…`) without the word it was cut in, nor the
    /// digits before it (a phone number with spaces cut in its middle), nor the words of a
    /// learned name cut after them: what is left of a value cut in half cannot be recognized, so
    /// it goes.
    fn cut_tail<'s>(&self, s: &'s str) -> std::borrow::Cow<'s, str> {
        static PHONE_TAIL: OnceLock<Regex> = OnceLock::new();
        let Some(body) = s.strip_suffix('…') else { return s.into() };
        if body.is_empty() {
            return s.into();
        }
        // Cut in a word, or between words (`… `): then only what comes before can be a part.
        let mut keep = if body.ends_with(char::is_whitespace) {
            body
        } else {
            &body[..body.rfind(char::is_whitespace).map_or(0, |i| i + 1)]
        };
        let tail = PHONE_TAIL.get_or_init(|| Regex::new(r"(?:\+|tel:)?[0-9(][0-9(). -]*$").expect("fixed"));
        if let Some(m) = tail.find(keep) {
            if m.as_str().chars().filter(char::is_ascii_digit).count() >= 3 {
                keep = &keep[..m.start()];
            }
        }
        // A quoted value left open (`Conference="Board …`, `"DisplayName":"Jane …`).
        if keep.matches('"').count() % 2 == 1 {
            if let Some(q) = keep.rfind('"') {
                keep = &keep[..=q];
            }
        }
        // The first words of a learned name of several words.
        let lower_keep = keep.to_lowercase();
        let mut cut = 0;
        for (name, _) in &self.learned {
            for (i, _) in name.match_indices(' ') {
                let prefix = &name[..=i];
                if lower_keep.ends_with(prefix) && prefix.len() > cut {
                    cut = prefix.len();
                }
            }
        }
        if cut > 0 && cut <= keep.len() && keep.is_char_boundary(keep.len() - cut) {
            keep = &keep[..keep.len() - cut];
        }
        if keep == body {
            return s.into();
        }
        format!("{keep}[cut]…").into()
    }
}

/// Something that can have personal data replaced in place.
pub trait Redact {
    fn redact(&mut self, r: &mut Redactor);
}

impl Redact for String {
    fn redact(&mut self, r: &mut Redactor) {
        r.apply(self);
    }
}

impl<T: Redact> Redact for Vec<T> {
    fn redact(&mut self, r: &mut Redactor) {
        for x in self {
            x.redact(r);
        }
    }
}

impl<T: Redact> Redact for Option<T> {
    fn redact(&mut self, r: &mut Redactor) {
        if let Some(x) = self {
            x.redact(r);
        }
    }
}

/// Keys and values; keys that become equal have their lists joined.
impl<T: Redact> Redact for BTreeMap<String, Vec<T>> {
    fn redact(&mut self, r: &mut Redactor) {
        for (mut key, mut values) in std::mem::take(self) {
            key.redact(r);
            values.redact(r);
            self.entry(key).or_default().append(&mut values);
        }
    }
}

fn redact_value(v: &mut serde_json::Value, kind: Option<&'static str>, r: &mut Redactor) {
    match v {
        serde_json::Value::String(s) => {
            *s = match kind {
                Some(k) => r.name(k, s),
                None => r.text(s),
            };
        }
        serde_json::Value::Array(a) => a.iter_mut().for_each(|v| redact_value(v, kind, r)),
        serde_json::Value::Object(o) => {
            for (k, v) in o.iter_mut() {
                redact_value(v, kind.or_else(|| named_field(k)), r);
            }
        }
        _ => {}
    }
}

/// A record (`uctriage evidence --redact`): kept are its format, kind, codes, time and the field
/// names; the fields that name someone or something ([`named_field`]) are replaced whole, every
/// other string is redacted as text. Call [`Redactor::learn`] on the records first so that a
/// name is also caught in records before the one that names it.
impl Redact for Evidence {
    fn redact(&mut self, r: &mut Redactor) {
        let Evidence { path, format: _, location, time: _, source, kind: _, codes: _, fields, excerpt } = self;
        r.learn_fields(fields);
        for (k, v) in fields.iter_mut() {
            redact_value(v, named_field(k), r);
        }
        path.redact(r);
        location.redact(r);
        source.redact(r);
        excerpt.redact(r);
    }
}

impl Redactor {
    fn learn_fields(&mut self, fields: &uctriage_evidence::Fields) {
        for (k, v) in fields {
            if let Some(kind) = named_field(k) {
                for s in strings(v) {
                    self.name(kind, s);
                }
            }
        }
    }
}

impl Redact for ScanReport {
    fn redact(&mut self, r: &mut Redactor) {
        // The schema, the tool's version, the verdict and the counts are ours.
        let ScanReport {
            schema_version: _,
            tool_version: _,
            verdict: _,
            inputs,
            findings,
            stats: _,
            timeline,
            notes,
            warnings,
            checked,
            redacted,
        } = self;
        *redacted = true;
        // Rooms first, so that a room's name is replaced wherever the report mentions it.
        for t in timeline.iter() {
            r.name("room", &t.room);
        }
        inputs.redact(r);
        findings.redact(r);
        timeline.redact(r);
        notes.redact(r);
        warnings.redact(r);
        checked.redact(r);
    }
}

impl Redact for InputEntry {
    fn redact(&mut self, r: &mut Redactor) {
        let InputEntry { path, format, records: _, warnings } = self;
        path.redact(r);
        warnings.redact(r);
        format.redact(r);
    }
}

impl Redact for Finding {
    fn redact(&mut self, r: &mut Redactor) {
        // Kept: the rule's id, family, layer and links, the rules it absorbed, the codes, and the
        // severity, times, counts and score. The texts are filled from the records: redacted.
        let Finding {
            rule: _,
            severity: _,
            title,
            codes: _,
            family: _,
            layer: _,
            cause,
            fix,
            references: _,
            first_seen: _,
            last_seen: _,
            count: _,
            evidence,
            evidence_omitted: _,
            group,
            consequences: _,
            score: _,
        } = self;
        title.redact(r);
        cause.redact(r);
        group.redact(r);
        fix.redact(r);
        evidence.redact(r);
    }
}

impl Redact for EvidenceRef {
    fn redact(&mut self, r: &mut Redactor) {
        let EvidenceRef { path, location, time: _, excerpt, kind, source, count: _, last_time: _, note } = self;
        note.redact(r);
        path.redact(r);
        location.redact(r);
        excerpt.redact(r);
        source.redact(r);
        kind.redact(r);
    }
}

impl Redact for RoomTimeline {
    fn redact(&mut self, r: &mut Redactor) {
        let RoomTimeline { room, signals, changes, turned_unhealthy } = self;
        *room = r.name("room", room);
        changes.redact(r);
        turned_unhealthy.redact(r);
        signals.redact(r);
    }
}

impl Redact for Change {
    fn redact(&mut self, r: &mut Redactor) {
        let Change { time: _, what, from, to } = self;
        from.redact(r);
        to.redact(r);
        what.redact(r);
    }
}

impl Redact for Turn {
    fn redact(&mut self, r: &mut Redactor) {
        let Turn { time: _, signal, status, changed } = self;
        status.redact(r);
        changed.redact(r);
        signal.redact(r);
    }
}

impl Redact for Span {
    fn redact(&mut self, r: &mut Redactor) {
        let Span { from: _, to: _, state, status } = self;
        status.redact(r);
        state.redact(r);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `text` of each input with a fresh redactor.
    fn red(s: &str) -> String {
        Redactor::new().text(s)
    }

    #[test]
    fn same_value_same_placeholder_and_codes_survive() {
        let mut r = Redactor::new();
        let a = r.text("room01@contoso.com failed from 192.0.2.53 with AADSTS50076 and 0xCAA2000C at 08:30:11");
        assert_eq!(a, "user-1@tenant-1 failed from 10.x.x.1 with AADSTS50076 and 0xCAA2000C at 08:30:11");
        let b = r.text("again ROOM01@contoso.com, correlation 6f2d6c1e-3a4b-4c5d-8e9f-0a1b2c3d4e5f from 192.0.2.53");
        assert_eq!(b, "again user-1@tenant-1, correlation xxxxxxxx-xxxx-xxxx-xxxx-000000000001 from 10.x.x.1");
        assert_eq!(r.text("SIP/2.0 403 Forbidden 2025-07-15T08:30:11Z"), "SIP/2.0 403 Forbidden 2025-07-15T08:30:11Z");
        // Running the redactor over its own output changes nothing.
        assert_eq!(r.text(&b), b);
        assert_eq!(
            r.text("Microsoft.Teams.exe 1.6.00.4472 System.Net.Http v10.0.19045"),
            "Microsoft.Teams.exe 1.6.00.4472 System.Net.Http v10.0.19045"
        );
    }

    #[test]
    fn emails_non_ascii_and_url_encoded() {
        let mut r = Redactor::new();
        assert_eq!(r.text("jürgen.müller@bücher-contoso.de"), "user-1@tenant-1");
        assert_eq!(r.text("upn=alice%40contoso.com&x=1"), "upn=user-2%40tenant-2&x=1");
        assert_eq!(r.text("sip:alice@sip.contoso.com"), "sip:user-3@host-1.tenant-2");
        assert_eq!(r.text("ALICE%40CONTOSO.COM"), "user-2%40tenant-2");
    }

    #[test]
    fn domain_users_and_user_folders() {
        let mut r = Redactor::new();
        assert_eq!(r.text(r"logon CONTOSO\jdoe failed"), r"logon domain-1\user-1 failed");
        assert_eq!(r.text(r"CONTOSO\jdoe; NT AUTHORITY\SYSTEM"), r"domain-1\user-1; NT AUTHORITY\SYSTEM");
        assert_eq!(r.text(r"C:\Users\jdoe\AppData\Local"), r"C:\Users\user-1\AppData\Local");
        assert_eq!(
            r.text("/home/alice/.config and /Users/bob/Library"),
            "/home/user-2/.config and /Users/user-3/Library"
        );
        assert_eq!(r.text(r"C:\\Users\\carol\\x"), r"C:\\Users\\user-4\\x");
        // A JSON escape is not a domain user; a path is not either.
        assert_eq!(
            r.text(r"failed\nAADSTS50076 in Program\Files\Teams"),
            r"failed\nAADSTS50076 in Program\Files\Teams"
        );
    }

    #[test]
    fn hosts_computers_and_tenant_fqdns() {
        let mut r = Redactor::new();
        assert_eq!(r.text("OPTIONS to sbc1.contoso.com:5061"), "OPTIONS to host-1.tenant-1:5061");
        assert_eq!(
            r.text("from sip.pstnhub.microsoft.com and login.microsoftonline.com"),
            "from sip.pstnhub.microsoft.com and login.microsoftonline.com"
        );
        assert_eq!(r.text("file sbc1.contoso.com.log of contoso.co.uk"), "file host-1.tenant-1.log of tenant-2");
        assert_eq!(r.text("<Computer>MTR-ROOM-4F</Computer>"), "<Computer>host-2</Computer>");
        assert_eq!(r.text("ComputerName: BOARDROOM01 and DESKTOP-AB12CD3"), "ComputerName: host-3 and host-4");
        assert_eq!(r.text("hostname=BOARDROOM01"), "hostname=host-3");
    }

    #[test]
    fn ipv4_next_to_underscores_and_colons_and_every_ipv6_form() {
        let mut r = Redactor::new();
        assert_eq!(r.text("ip_192.0.2.7_port 192.0.2.8:5061 x:192.0.2.9"), "ip_10.x.x.1_port 10.x.x.2:5061 x:10.x.x.3");
        for v6 in [
            "2001:db8::1",
            "fe80::1c2:3ff:fe4:5",
            "2001:db8::a:b:c:d:e",
            "::1",
            "::ffff:192.0.2.1",
            "2001:0db8:0000:0000:0000:ff00:0042:8329",
            "fe80::1%eth0",
            "2001:db8:1::",
        ] {
            let out = red(&format!("from [{v6}]:5061 and_{v6}_x"));
            assert!(!out.replace("fdxx::1", "").contains(v6.split('%').next().unwrap()), "{v6}: {out}");
            assert!(out.contains("fdxx::1"), "{v6}: {out}");
        }
        assert_eq!(r.text("Added:fe80::1 at 08:30:11.123"), "Added:fdxx::1 at 08:30:11.123");
        // A version is kept, an address after a word that merely contains "ver" is not.
        assert_eq!(
            r.text(r#""AppVersion":"5.1.111.0" v1.2.3.4 ver 10.0.0.1 server 192.0.2.9 driver_192.0.2.10"#),
            r#""AppVersion":"5.1.111.0" v1.2.3.4 ver 10.0.0.1 server 10.x.x.3 driver_10.x.x.4"#
        );
    }

    #[test]
    fn macs_and_guids_with_and_without_dashes_but_known_apps_kept() {
        let mut r = Redactor::new();
        assert_eq!(
            r.text("mac 00:1A:2b:3c:4d:5e 00-1a-2b-3c-4d-5f 001a.2b3c.4d60"),
            "mac xx:xx:xx:xx:xx:1 xx:xx:xx:xx:xx:2 xx:xx:xx:xx:xx:3"
        );
        assert_eq!(
            r.text("tenant 6f2d6c1e3a4b4c5d8e9f0a1b2c3d4e5f {6F2D6C1E-3A4B-4C5D-8E9F-0A1B2C3D4E5F}"),
            "tenant xxxxxxxxxxxxxxxxxxxx000000000001 {xxxxxxxx-xxxx-xxxx-xxxx-000000000001}"
        );
        let teams = "app 1fec8e78-bce4-4aaf-ab1b-5451cc387264 graph 00000003-0000-0000-c000-000000000000";
        assert_eq!(r.text(teams), teams);
    }

    #[test]
    fn tokens_passwords_secrets_signatures_and_cookies() {
        let jwt = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9.c2lnbmF0dXJl";
        let input = format!(
            "Authorization: Bearer abcdefghijklmnop.qrs {jwt} password=hunter2 {{\"password\":\"p@ss word\"}} client_secret=Abc~123 https://x.blob.core.windows.net/c?sv=2020&sig=AbC%2Bd%3D&se=1 Cookie: session=s3cr3t; other=v4lue https://x/cb?code=SECRETVALUE&state=1"
        );
        let out = red(&input);
        for leak in
            ["abcdefghijklmnop", "eyJ", "hunter2", "p@ss word", "Abc~123", "AbC%2Bd", "s3cr3t", "v4lue", "SECRETVALUE"]
        {
            assert!(!out.contains(leak), "{leak} in {out}");
        }
        assert!(out.contains("password=secret-") && out.contains("Bearer token-"), "{out}");
    }

    #[test]
    fn phone_numbers_with_spaces_dots_dashes_and_tel_uris() {
        let mut r = Redactor::new();
        assert_eq!(r.text("call +1 425 555 0100 then +1.425.555.0100"), "call +xx-xxx-1 then +xx-xxx-1");
        assert_eq!(r.text("to 425-555-0101 or (425) 555-0102"), "to +xx-xxx-2 or +xx-xxx-3");
        assert_eq!(r.text("<tel:+14255550103;ext=12> +44 20 7946 0000"), "<tel:+xx-xxx-4> +xx-xxx-5");
        assert_eq!(r.text("SIP/2.0 486 on 2025-07-15 ms 12345"), "SIP/2.0 486 on 2025-07-15 ms 12345");
    }

    #[test]
    fn named_fields_are_replaced_whole_and_wherever_they_appear() {
        let mut r = Redactor::new();
        let mut e = Evidence::new("tac.csv", "dr-csv", "row 4");
        e.field("user_display_name", "Jane Q. Public");
        e.field("conference_alias", "meet.board@vc.contoso.com");
        e.field("conference", "Board Room VMR");
        e.field("node", "pexnode01");
        e.field("final_sip_code", 487);
        e.set_excerpt("row 4: Jane Q. Public called Board Room VMR via pexnode01 (487)");
        r.learn(&e);
        e.redact(&mut r);
        let json = serde_json::to_string(&e).unwrap();
        for leak in ["Jane", "Public", "Board Room", "pexnode01", "meet.board", "contoso"] {
            assert!(!json.contains(leak), "{leak} in {json}");
        }
        assert_eq!(e.get_str("user_display_name"), Some("name-1"));
        assert_eq!(e.fields["final_sip_code"], 487);
        assert_eq!(e.excerpt, "row 4: name-1 called conference-1 via host-2 (487)");
    }

    #[test]
    fn keyed_values_in_text_go_whole_and_are_learned() {
        let mut r = Redactor::new();
        let line = r#"Level="INFO" Name="administrator.conference" Conference="Board VMR 7" Participant="Jane Public" Conference-Id=884412 {"DisplayName":"Boardroom","OperationName":"Heartbeat"} sip:+14255550100@sbc.contoso.com;user=phone"#;
        assert_eq!(
            r.text(line),
            r#"Level="INFO" Name="administrator.conference" Conference="conference-1" Participant="name-1" Conference-Id=conference-2 {"DisplayName":"name-2","OperationName":"Heartbeat"} sip:user-1@host-1.tenant-1;user=phone"#
        );
        // Learned: the same names elsewhere, whole words only, addresses left to their pattern.
        assert_eq!(
            r.text("Jane Public left Board VMR 7 (884412); boardroom@contoso.com; Boardroomx"),
            "name-1 left conference-1 (conference-2); user-2@tenant-1; Boardroomx"
        );
    }

    #[test]
    fn windows_accounts_sids_and_sip_display_names() {
        let mut r = Redactor::new();
        assert_eq!(
            r.text("Account Name:\t\tjdoe Account Domain: CONTOSO Workstation Name: PC-0042 SID S-1-5-21-3623811015-3361044348-30300820-1013 S-1-5-18"),
            "Account Name:\t\tuser-1 Account Domain: user-2 Workstation Name: host-1 SID S-1-5-21-x-x-x-1 S-1-5-18"
        );
        assert_eq!(
            r.text(r#"From: "Jane Public" <sip:+14255550100@sbc1.contoso.com>;tag=1 %2Fsbc2.contoso.com"#),
            r#"From: "name-1" <sip:user-3@host-2.tenant-1>;tag=1 %2Fhost-3.tenant-1"#
        );
    }

    #[test]
    fn a_value_cut_at_the_end_of_an_excerpt_goes() {
        let mut r = Redactor::new();
        let line = format!("{} alice.smith@contoso.com", "x".repeat(uctriage_evidence::EXCERPT_MAX - 12));
        let cut = uctriage_evidence::excerpt(&line);
        let out = r.text(&cut);
        assert!(!out.contains("alice") && out.ends_with("[cut]…"), "{out}");
        assert_eq!(r.text("dial +1 425 55…"), "dial [cut]…");
        assert_eq!(r.text("a, b, …"), "a, b, …");
    }

    /// Personal data of a different kind each time, every value new, remembered for the check.
    struct Plant(Vec<String>);

    impl Plant {
        fn pii(&mut self, label: &str) -> String {
            let n = self.0.len() + 10;
            let value = match n % 5 {
                0 => format!("user{n}@contoso.com"),
                1 => format!("198.51.100.{n}"),
                2 => format!("6f2d6c1e-3a4b-4c5d-8e9f-0a1b2c3d4e{n:02}"),
                3 => format!("+1425555{n:04}"),
                _ => format!(r"C:\Users\person{n}\AppData"),
            };
            self.0.push(value.clone());
            format!("{label} {value}")
        }
    }

    fn time() -> jiff::Timestamp {
        "2025-07-15T08:30:11Z".parse().unwrap()
    }

    /// A report with personal data in every string field of every part of it, except the
    /// project's own words (rule ids, families, layers, links, version), which hold those.
    fn planted() -> (ScanReport, Plant) {
        let mut p = Plant(Vec::new());
        let change = |p: &mut Plant| Change { time: time(), what: p.pii("what"), from: p.pii("from"), to: p.pii("to") };
        let evidence = EvidenceRef {
            path: p.pii("path"),
            location: p.pii("location"),
            time: Some(time()),
            excerpt: p.pii("excerpt"),
            kind: p.pii("kind"),
            source: p.pii("source"),
            count: 2,
            last_time: Some(time()),
            note: p.pii("note"),
        };
        let finding = Finding {
            rule: "rooms.resource-account.mfa-required".into(),
            severity: uctriage_rules::Severity::Critical,
            title: p.pii("title"),
            codes: vec!["AADSTS50076".parse().unwrap()],
            family: "rooms-resource-account".into(),
            layer: "policy".into(),
            cause: p.pii("cause"),
            fix: vec![p.pii("fix"), p.pii("fix")],
            references: vec!["https://learn.microsoft.com/microsoftteams/rooms/".into()],
            first_seen: Some(time()),
            last_seen: None,
            count: 3,
            evidence: vec![evidence],
            evidence_omitted: 1,
            group: p.pii("group"),
            consequences: vec!["rooms.heartbeat.teams-signin-unhealthy".into()],
            score: 10,
        };
        let span = Span { from: time(), to: time(), state: p.pii("state"), status: p.pii("status") };
        let turn =
            Turn { time: time(), signal: p.pii("signal"), status: p.pii("status"), changed: vec![change(&mut p)] };
        let timeline = RoomTimeline {
            room: p.pii("room"),
            signals: BTreeMap::from([(p.pii("signal"), vec![span])]),
            changes: vec![change(&mut p)],
            turned_unhealthy: vec![turn],
        };
        let input =
            InputEntry { path: p.pii("path"), format: p.pii("format"), records: 1, warnings: vec![p.pii("warning")] };
        let report = ScanReport {
            schema_version: 1,
            tool_version: env!("CARGO_PKG_VERSION").into(),
            verdict: uctriage_rules::Verdict::Problems,
            inputs: vec![input],
            findings: vec![finding],
            stats: crate::Stats::default(),
            timeline: vec![timeline],
            notes: vec![p.pii("note")],
            warnings: vec![p.pii("warning")],
            checked: vec![p.pii("checked")],
            redacted: false,
        };
        (report, p)
    }

    #[test]
    fn every_string_of_every_part_is_redacted() {
        let (mut report, planted) = planted();
        let before = report.json();
        assert!(planted.0.iter().all(|v| before.contains(&v.replace('\\', "\\\\"))), "{before}");
        report.redact(&mut Redactor::new());
        let outputs = [report.json(), crate::text(&report, false), crate::markdown(&report), crate::html(&report)];
        for out in &outputs {
            for v in &planted.0 {
                let user = v.split('\\').nth(2).unwrap_or(v);
                assert!(!out.contains(v.as_str()) && !out.contains(user), "{v} survived in:\n{out}");
            }
        }
        // The project's own words are kept.
        let f = &report.findings[0];
        assert_eq!(
            (f.rule.as_str(), f.family.as_str(), f.layer.as_str(), f.consequences[0].as_str()),
            (
                "rooms.resource-account.mfa-required",
                "rooms-resource-account",
                "policy",
                "rooms.heartbeat.teams-signin-unhealthy"
            )
        );
        assert_eq!(f.references[0], "https://learn.microsoft.com/microsoftteams/rooms/");
        assert_eq!(f.codes[0].to_string(), "AADSTS50076");
        // Labels around the values survive, with placeholders in place of the values.
        assert!(
            report.findings[0].title.starts_with("title ") && report.findings[0].title.len() > 6,
            "{}",
            report.findings[0].title
        );
    }

    #[test]
    fn the_same_value_gets_the_same_placeholder_across_the_report() {
        let (mut report, _) = planted();
        report.notes.push(report.inputs[0].path.clone());
        report.redact(&mut Redactor::new());
        assert_eq!(report.notes.last(), Some(&report.inputs[0].path));
    }

    /// A value of each kind, as logs write it, with the part of it that must not survive.
    fn any_value() -> impl proptest::strategy::Strategy<Value = (String, String)> {
        use proptest::prelude::*;
        let w = || "[a-z]{3,8}";
        prop_oneof![
            (w(), w()).prop_map(|(u, d)| (format!("{u}.q@{d}.com"), format!("{u}.q@{d}"))),
            (w(), w()).prop_map(|(u, d)| (format!("{u}é@{d}.de"), format!("{u}é"))),
            (w(), w()).prop_map(|(u, d)| (format!("{u}q%40{d}.com"), format!("{u}q%40"))),
            ("[A-Z]{4,8}", w()).prop_map(|(d, u)| (format!("{d}\\{u}q"), format!("\\{u}q"))),
            w().prop_map(|u| (format!(r"C:\Users\{u}q\x"), format!("{u}q"))),
            (w(), w()).prop_map(|(h, d)| (format!("{h}1.{d}.net"), format!("{h}1.{d}"))),
            (10u8..250, 10u8..250, 10u8..250, 10u8..250).prop_map(|(a, b, c, d)| {
                let ip = format!("{a}.{b}.{c}.{d}");
                (format!("x_{ip}:5061"), ip)
            }),
            (0x2001u16..0xffff, 1u16..0xffff, 1u16..0xffff, 1u16..0xffff).prop_map(|(a, b, c, d)| {
                let v = format!("{a:x}:db8::{b:x}:{c:x}:{d:x}");
                (v.clone(), v)
            }),
            "[0-9a-f]{2}(:[0-9a-f]{2}){5}".prop_map(|m| (m.clone(), m)),
            "[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}".prop_map(|g| (g.clone(), g)),
            "[0-9a-f]{32}".prop_map(|g| (g.clone(), g)),
            "[A-Za-z0-9]{20,30}".prop_map(|t| (format!("Bearer {t}"), t)),
            "[A-Za-z0-9]{8,12}".prop_map(|p| (format!("password={p}Q"), format!("{p}Q"))),
            (100u16..999, 100u16..999, 1000u16..9999)
                .prop_map(|(a, b, c)| (format!("+1 {a}.{b}.{c}"), format!("{a}.{b}.{c}"))),
        ]
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig { cases: 128, ..Default::default() })]

        /// Values of every kind planted in every part of a report: none survives in any format,
        /// and redacting again changes nothing.
        #[test]
        fn no_planted_value_survives_in_any_format(
            values in proptest::collection::vec(any_value(), 12..13),
            words in proptest::collection::vec("[a-z]{1,8}", 12..13),
        ) {
            let (mut report, _) = planted();
            let mut planted = values.iter().zip(&words).map(|((v, _), w)| format!("{w} {v} {w}"));
            let mut next = || planted.next().unwrap_or_default();
            let f = &mut report.findings[0];
            f.title = next();
            f.cause = next();
            f.group = next();
            f.evidence[0].excerpt = next();
            f.evidence[0].path = next();
            report.timeline[0].room = next();
            report.timeline[0].changes[0].to = next();
            report.notes[0] = next();
            report.warnings[0] = next();
            report.inputs[0].path = next();
            report.inputs[0].warnings[0] = next();
            report.findings[0].fix[0] = next();
            let mut r = Redactor::new();
            report.redact(&mut r);
            let outputs = [report.json(), crate::text(&report, false), crate::markdown(&report), crate::html(&report)];
            for out in &outputs {
                for (_, secret) in &values {
                    let html = secret.replace('&', "&amp;");
                    let json = secret.replace('\\', "\\\\");
                    proptest::prop_assert!(!out.contains(secret.as_str()) && !out.contains(&html) && !out.contains(&json), "{secret} survived:\n{out}");
                }
            }
            let once = report.json();
            report.redact(&mut r);
            proptest::prop_assert_eq!(once, report.json());
        }
    }
}
