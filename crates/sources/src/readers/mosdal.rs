//! MOSDAL (Microsoft Online Services Diagnostics and Logging) report files from the network
//! tests: `nslookup <name>.txt` (one `mosdal-dns` record per lookup: server, answers, aliases,
//! or the failure) and `PortQry.exe -n <host> -p both -e <port>.txt` (one `mosdal-port` record
//! per host and port, with the TCP and UDP states PortQry reported).

use std::sync::LazyLock;

use aho_corasick::AhoCorasick;

use super::{Emitter, ReadError, Reader};
use crate::input::{head_text, Head, Input};

#[derive(Debug)]
pub struct Mosdal;

/// The last path component, without `.txt`.
fn stem(name: &str) -> &str {
    let base = name.rsplit('/').next().unwrap_or(name);
    base.strip_suffix(".txt").unwrap_or(base)
}

/// What the file name says: the queried name and the record type (`nslookup -type=srv x.txt`).
fn nslookup_name(name: &str) -> (Option<String>, Option<String>) {
    let s = stem(name);
    let lower = s.to_ascii_lowercase();
    if !lower.starts_with("nslookup") {
        return (None, None);
    }
    let mut query = None;
    let mut rtype = None;
    for w in s.split_whitespace().skip(1) {
        let wl = w.to_ascii_lowercase();
        if let Some(t) =
            wl.strip_prefix("-type=").or_else(|| wl.strip_prefix("-q=")).or_else(|| wl.strip_prefix("-querytype="))
        {
            rtype = Some(t.to_ascii_uppercase());
        } else if !w.starts_with('-') && query.is_none() {
            query = Some(w.trim_end_matches('.').to_owned());
        }
    }
    (query, rtype)
}

/// What a PortQry file name says: host (`-n`) and port (`-e`).
fn portqry_name(name: &str) -> (Option<String>, Option<u16>) {
    let s = stem(name);
    if !s.to_ascii_lowercase().starts_with("portqry") {
        return (None, None);
    }
    let w: Vec<&str> = s.split_whitespace().collect();
    let arg = |flag: &str| w.iter().position(|x| x.eq_ignore_ascii_case(flag)).and_then(|i| w.get(i + 1)).copied();
    (arg("-n").map(str::to_owned), arg("-e").and_then(|p| p.parse().ok()))
}

fn looks_portqry(text: &str) -> bool {
    // Every port line holds ` port `: only the lines that do are read.
    static PORT: LazyLock<AhoCorasick> = LazyLock::new(|| AhoCorasick::new([" port "]).expect("fixed words"));
    text.contains("Querying target system called")
        || super::any_line_holding(text, text, &PORT, |l| port_line(l).is_some())
}

fn looks_nslookup(text: &str) -> bool {
    let mut lines = text.lines().map(str::trim).filter(|l| !l.is_empty());
    let first = lines.next().unwrap_or("");
    let server_first = first.starts_with("Server:") || first.starts_with("DNS request timed out");
    server_first
        && (text.contains("Address:")
            || text.contains("Addresses:")
            || text.contains("can't find")
            || text.contains("Non-existent domain"))
}

/// `TCP port 443 (https service): LISTENING` → (protocol, port, service, state).
fn port_line(l: &str) -> Option<(&str, u16, &str, &str)> {
    let l = l.trim();
    let (proto, rest) = l.split_once(" port ")?;
    if !matches!(proto, "TCP" | "UDP") {
        return None;
    }
    let (port, rest) = rest.split_once(' ')?;
    let port: u16 = port.parse().ok()?;
    let (svc, state) = rest.rsplit_once("): ").or_else(|| rest.rsplit_once(": "))?;
    let svc = svc.trim_start_matches('(').trim_end_matches(" service").trim_end_matches(')');
    Some((proto, port, svc, state.trim()))
}

/// One nslookup run being read.
#[derive(Debug, Default)]
struct Lookup {
    line: u64,
    text: String,
    server: Option<String>,
    server_address: Option<String>,
    name: Option<String>,
    query: Option<String>,
    answers: Vec<String>,
    aliases: Vec<String>,
    authoritative: bool,
    failure: Option<(String, String)>,
    /// Which list indented continuation lines belong to.
    list: u8,
    srv: Option<Srv>,
}

#[derive(Debug, Default, Clone)]
struct Srv {
    priority: String,
    weight: String,
    port: String,
    host: String,
}

impl Lookup {
    fn srv_done(&mut self) {
        if let Some(s) = self.srv.take() {
            if !s.host.is_empty() {
                self.answers.push(format!("{}:{} (priority {}, weight {})", s.host, s.port, s.priority, s.weight));
            }
        }
    }
}

/// One port of a target: number, service, TCP state, UDP state, line of its first report.
type Port = (u16, String, Option<String>, Option<String>, u64);

/// One PortQry target being read.
#[derive(Debug, Default)]
struct Target {
    line: u64,
    host: Option<String>,
    ip: Option<String>,
    resolve_error: Option<String>,
    ports: Vec<Port>,
    text: String,
}

impl Reader for Mosdal {
    fn format(&self) -> &'static str {
        "mosdal"
    }

    fn detect(&self, name: &str, head: &Head<'_>) -> u8 {
        let text = head.text();
        let in_report = name.contains("network_tests/") || name.contains("mosdal");
        let named = nslookup_name(name).0.is_some() || portqry_name(name).0.is_some();
        if looks_portqry(text) {
            return 90;
        }
        if looks_nslookup(text) {
            return if named || in_report { 90 } else { 75 };
        }
        0
    }

    fn read(&self, input: Input, out: &mut Emitter<'_>) -> Result<(), ReadError> {
        let name = input.name.clone();
        let is_portqry = looks_portqry(&head_text(&input.head)) || portqry_name(&name).0.is_some();
        let mut lines = input.into_lines();
        if is_portqry {
            read_portqry(&name, &mut lines, out)
        } else {
            read_nslookup(&name, &mut lines, out)
        }
    }
}

fn next(lines: &mut crate::input::Lines, line: &mut String, out: &mut Emitter<'_>) -> Result<Option<u64>, ReadError> {
    let info = lines.next_line(line).map_err(|e| ReadError::new("", format!("read error: {e}")))?;
    Ok(info.map(|i| {
        if i.truncated {
            out.warn(format!("line {}", i.number), "line longer than 1 MiB: the rest of it was skipped");
        }
        i.number
    }))
}

fn push_text(text: &mut String, l: &str) {
    if text.len() < 4096 {
        text.push_str(l.trim());
        text.push_str(" | ");
    }
}

fn read_nslookup(name: &str, lines: &mut crate::input::Lines, out: &mut Emitter<'_>) -> Result<(), ReadError> {
    let (file_query, rtype) = nslookup_name(name);
    let mut line = String::new();
    let mut cur: Option<Lookup> = None;
    while let Some(n) = next(lines, &mut line, out)? {
        let l = line.trim_end();
        let t = l.trim();
        // A new run starts at its `Server:` line (or at the time-out that precedes it) once the
        // current one has its server and an outcome.
        let done = cur
            .as_ref()
            .is_some_and(|c| c.server.is_some() && (c.name.is_some() || !c.answers.is_empty() || c.failure.is_some()));
        let has_server = cur.as_ref().is_some_and(|c| c.server.is_some());
        if (t.starts_with("Server:") && has_server) || (t.starts_with("DNS request timed out") && done) {
            if let Some(c) = cur.take() {
                emit_lookup(out, c, file_query.as_deref(), rtype.as_deref());
            }
        }
        let c = cur.get_or_insert_with(|| Lookup { line: n, authoritative: true, ..Lookup::default() });
        if t.is_empty() {
            c.list = 0;
            continue;
        }
        push_text(&mut c.text, t);
        let indented = l.starts_with([' ', '\t']);
        if let Some(v) = t.strip_prefix("Server:") {
            c.server = Some(v.trim().to_owned());
            c.list = 0;
        } else if let Some(v) = t.strip_prefix("Addresses:").or_else(|| t.strip_prefix("Address:")) {
            let v = v.trim().to_owned();
            if c.name.is_none() && c.server_address.is_none() && c.server.is_some() {
                c.server_address = Some(v);
                c.list = 0;
            } else {
                c.answers.push(v);
                c.list = 1;
            }
        } else if let Some(v) = t.strip_prefix("Name:") {
            c.name = Some(v.trim().to_owned());
            c.list = 0;
        } else if let Some(v) = t.strip_prefix("Aliases:") {
            c.aliases.push(v.trim().to_owned());
            c.list = 2;
        } else if t.starts_with("Non-authoritative answer") {
            c.authoritative = false;
        } else if let Some(rest) = t.strip_prefix("***") {
            // `*** dns01.contoso.com can't find sip.contoso.com: Non-existent domain`
            let rest = rest.trim();
            if let Some((_, after)) = rest.split_once("can't find ") {
                let (q, why) = after.split_once(':').unwrap_or((after, ""));
                c.query.get_or_insert_with(|| q.trim().to_owned());
                let why = why.trim();
                let status = match why.to_ascii_lowercase().as_str() {
                    w if w.contains("non-existent") => "nxdomain",
                    w if w.contains("timed out") || w.contains("no response") => "timeout",
                    w if w.contains("server failed") => "servfail",
                    w if w.contains("refused") => "refused",
                    w if w.contains("no ") && w.contains("records") => "no-records",
                    _ => "error",
                };
                c.failure = Some((status.to_owned(), why.to_owned()));
            } else if rest.to_ascii_lowercase().contains("timed-out") || rest.to_ascii_lowercase().contains("timed out")
            {
                c.failure = Some(("timeout".into(), rest.to_owned()));
            } else {
                c.failure = Some(("error".into(), rest.to_owned()));
            }
        } else if t.starts_with("DNS request timed out") {
            c.failure.get_or_insert(("timeout".into(), t.to_owned()));
        } else if let Some((q, _)) = t.split_once("SRV service location:") {
            c.srv_done();
            c.query.get_or_insert_with(|| q.trim().to_owned());
            c.srv = Some(Srv::default());
        } else if let (Some(srv), Some((k, v))) = (c.srv.as_mut(), t.split_once('=')) {
            let v = v.trim().to_owned();
            match k.trim() {
                "priority" => srv.priority = v,
                "weight" => srv.weight = v,
                "port" => srv.port = v,
                "svr hostname" => {
                    srv.host = v;
                    c.srv_done();
                }
                _ => {}
            }
        } else if let Some((q, v)) = t.split_once("canonical name =") {
            c.query.get_or_insert_with(|| q.trim().to_owned());
            c.aliases.push(v.trim().to_owned());
        } else if let Some((_, v)) = t.split_once("internet address =") {
            c.answers.push(v.trim().to_owned());
        } else if indented && c.list == 1 {
            c.answers.push(t.to_owned());
        } else if indented && c.list == 2 {
            c.aliases.push(t.to_owned());
        }
    }
    if let Some(c) = cur.take() {
        emit_lookup(out, c, file_query.as_deref(), rtype.as_deref());
    }
    Ok(())
}

fn emit_lookup(out: &mut Emitter<'_>, mut c: Lookup, file_query: Option<&str>, rtype: Option<&str>) {
    c.srv_done();
    if c.server.is_none() && c.answers.is_empty() && c.failure.is_none() {
        return;
    }
    let mut e = out.evidence(format!("line {}", c.line));
    e.kind = "mosdal-dns".into();
    e.source = "MOSDAL nslookup".into();
    let query = file_query.map(str::to_owned).or(c.query.clone()).or(c.name.clone());
    if let Some(q) = &query {
        e.field("query", q.as_str());
    }
    if let Some(t) = rtype {
        e.field("record_type", t);
    }
    if let Some(s) = &c.server {
        e.field("server", s.as_str());
    }
    if let Some(a) = &c.server_address {
        e.field("server_address", a.as_str());
    }
    if let Some(nm) = &c.name {
        e.field("name", nm.as_str());
    }
    e.field("answers", c.answers.clone());
    if !c.aliases.is_empty() {
        e.field("aliases", c.aliases.clone());
    }
    e.field("authoritative", c.authoritative);
    let status = match (&c.failure, c.answers.is_empty()) {
        (_, false) => "resolved".to_owned(),
        (Some((s, _)), true) => s.clone(),
        (None, true) => "no-answer".to_owned(),
    };
    e.field("status", status);
    if let Some((_, why)) = &c.failure {
        e.field("error", why.as_str());
    }
    e.set_excerpt(c.text.trim_end_matches(" | "));
    out.emit(e);
}

fn read_portqry(name: &str, lines: &mut crate::input::Lines, out: &mut Emitter<'_>) -> Result<(), ReadError> {
    let (file_host, file_port) = portqry_name(name);
    let mut line = String::new();
    let mut cur: Option<Target> = None;
    let mut expect_host = false;
    while let Some(n) = next(lines, &mut line, out)? {
        let t = line.trim();
        if t.starts_with("Querying target system called") {
            if let Some(c) = cur.take() {
                emit_target(out, &c, file_host.as_deref(), file_port);
            }
            cur = Some(Target { line: n, ..Target::default() });
            expect_host = true;
            continue;
        }
        let c = cur.get_or_insert_with(|| Target { line: n, ..Target::default() });
        if t.is_empty() {
            continue;
        }
        push_text(&mut c.text, t);
        if expect_host {
            c.host = Some(t.to_owned());
            expect_host = false;
        } else if let Some(ip) = t.strip_prefix("Name resolved to") {
            c.ip = Some(ip.trim().to_owned());
        } else if t.starts_with("Failed to resolve name") || t.starts_with("Unable to resolve") {
            c.resolve_error = Some(t.to_owned());
        } else if let Some((proto, port, svc, state)) = port_line(t) {
            let i = c.ports.iter().position(|p| p.0 == port).unwrap_or_else(|| {
                c.ports.push((port, svc.to_owned(), None, None, n));
                c.ports.len() - 1
            });
            if let Some(p) = c.ports.get_mut(i) {
                if proto == "TCP" {
                    p.2 = Some(state.to_owned());
                } else {
                    p.3 = Some(state.to_owned());
                }
            }
        }
    }
    if let Some(c) = cur.take() {
        emit_target(out, &c, file_host.as_deref(), file_port);
    }
    Ok(())
}

fn emit_target(out: &mut Emitter<'_>, c: &Target, file_host: Option<&str>, file_port: Option<u16>) {
    let host = c.host.clone().or_else(|| file_host.map(str::to_owned));
    let mut ports = c.ports.clone();
    if ports.is_empty() {
        if c.resolve_error.is_none() && host.is_none() {
            return;
        }
        // The name did not resolve: one record for the port the file was about.
        ports.push((file_port.unwrap_or(0), String::new(), None, None, c.line));
    }
    for (port, svc, tcp, udp, line) in ports {
        let mut e = out.evidence(format!("line {line}"));
        e.kind = "mosdal-port".into();
        e.source = "MOSDAL PortQry".into();
        if let Some(h) = &host {
            e.field("host", h.as_str());
        }
        if let Some(ip) = &c.ip {
            e.field("ip", ip.as_str());
        }
        if port != 0 {
            e.field("port", port);
        }
        e.field("service", svc);
        if let Some(s) = tcp {
            e.field("tcp_state", s);
        }
        if let Some(s) = udp {
            e.field("udp_state", s);
        }
        if let Some(err) = &c.resolve_error {
            e.field("resolve_error", err.as_str());
        }
        e.set_excerpt(c.text.trim_end_matches(" | "));
        out.emit(e);
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// [`looks_portqry`] as it was, reading every line.
    fn looks_portqry_before(text: &str) -> bool {
        text.contains("Querying target system called") || text.lines().any(|l| port_line(l).is_some())
    }

    /// Detection as it was before it read only the lines holding ` port `, kept to check the new
    /// one against.
    pub(crate) fn detect_before(name: &str, head: &[u8]) -> u8 {
        let text = head_text(head);
        let in_report = name.contains("network_tests/") || name.contains("mosdal");
        let named = nslookup_name(name).0.is_some() || portqry_name(name).0.is_some();
        if looks_portqry_before(&text) {
            return 90;
        }
        if looks_nslookup(&text) {
            return if named || in_report { 90 } else { 75 };
        }
        0
    }

    #[test]
    fn names_and_lines() {
        assert_eq!(
            nslookup_name("mosdal/network_tests/nslookup -type=srv _sip._tls.contoso.com.txt"),
            (Some("_sip._tls.contoso.com".into()), Some("SRV".into()))
        );
        assert_eq!(
            portqry_name("network_tests/portqry.exe -n sipdir.online.lync.com -p both -e 443.txt"),
            (Some("sipdir.online.lync.com".into()), Some(443))
        );
        assert_eq!(port_line("TCP port 443 (https service): LISTENING"), Some(("TCP", 443, "https", "LISTENING")));
        assert_eq!(
            port_line("UDP port 443 (https service): LISTENING or FILTERED"),
            Some(("UDP", 443, "https", "LISTENING or FILTERED"))
        );
        assert_eq!(port_line("TCP port 5061 (unknown service): NOT LISTENING").map(|p| p.3), Some("NOT LISTENING"));
    }
}
