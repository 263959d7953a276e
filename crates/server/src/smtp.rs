//! Alerts as e-mail, for sites whose alerts must stay inside: air-gapped networks, GCC High,
//! DoD. The destination is one URL:
//!
//! - `smtp://[user@]host[:port]?from=…&to=…[,…]`: STARTTLS, required (port 587 unless given);
//! - `smtps://…`: TLS from the first byte (port 465);
//! - `smtp+plain://…`: no TLS at all (port 25), for a relay on a network the admin trusts.
//!
//! `ca=/path/ca.pem` adds a certificate authority to the system's (an internal relay's private
//! CA). The password of `user`, when the relay wants one, is the webhook's secret: it is sealed
//! with the data folder's key, never part of the URL. Each message's `Message-ID` is built from
//! the alert id, so a repeat after a retry is the same message to a mail system that dedupes.

use std::fmt::Write as _;
use std::time::Duration;

use lettre::message::{header::ContentType, Mailbox};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Certificate, Tls, TlsParameters};
use lettre::{SmtpTransport, Transport};
use serde_json::Value;

/// How the connection to the relay is protected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Security {
    StartTls,
    Tls,
    Plain,
}

/// A parsed SMTP destination.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Destination {
    pub security: Security,
    pub host: String,
    pub port: u16,
    pub user: Option<String>,
    pub from: String,
    pub to: Vec<String>,
    pub ca_file: Option<String>,
}

/// The URL schemes an SMTP destination starts with.
pub const SCHEMES: [&str; 3] = ["smtp://", "smtps://", "smtp+plain://"];

fn decode(s: &str) -> Result<String, String> {
    let mut out = Vec::with_capacity(s.len());
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'%' => {
                let hex = s.get(i + 1..i + 3).ok_or("a % escape is cut short")?;
                out.push(u8::from_str_radix(hex, 16).map_err(|_| format!("%{hex} is not a % escape"))?);
                i += 3;
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            c => {
                out.push(c);
                i += 1;
            }
        }
    }
    String::from_utf8(out).map_err(|_| "a % escape is not UTF-8".to_owned())
}

fn mailbox(s: &str, what: &str) -> Result<Mailbox, String> {
    s.trim().parse::<Mailbox>().map_err(|e| format!("{what} {s:?} is not an e-mail address: {e}"))
}

impl Destination {
    pub fn parse(url: &str) -> Result<Destination, String> {
        let (security, rest, default_port) = if let Some(r) = url.strip_prefix("smtp://") {
            (Security::StartTls, r, 587)
        } else if let Some(r) = url.strip_prefix("smtps://") {
            (Security::Tls, r, 465)
        } else if let Some(r) = url.strip_prefix("smtp+plain://") {
            (Security::Plain, r, 25)
        } else {
            return Err(format!("an e-mail destination starts with {}", SCHEMES.join(", ")));
        };
        let (authority, query) = rest.split_once('?').unwrap_or((rest, ""));
        let authority = authority.trim_end_matches('/');
        let (user, hostport) = match authority.rsplit_once('@') {
            Some((u, h)) => {
                if u.contains(':') {
                    return Err("put the relay's password in the secret, not in the URL".into());
                }
                (Some(decode(u)?), h)
            }
            None => (None, authority),
        };
        // `[v6]:port`, `[v6]`, `host:port` or `host`.
        let (host, port) = match hostport.strip_prefix('[').and_then(|h| h.split_once(']')) {
            Some((h, "")) => (h, None),
            Some((h, p)) => (h, Some(p.strip_prefix(':').unwrap_or(p))),
            None => match hostport.split_once(':') {
                Some((h, p)) => (h, Some(p)),
                None => (hostport, None),
            },
        };
        let port = match port {
            Some(p) => p.parse::<u16>().map_err(|_| format!("port {p:?} is not a number"))?,
            None => default_port,
        };
        let host = host.to_owned();
        if host.is_empty() {
            return Err("the relay's host name is missing".into());
        }
        let (mut from, mut to, mut ca_file) = (None, Vec::new(), None);
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            let v = decode(v)?;
            match k {
                "from" => from = Some(v),
                "to" => to.extend(v.split(',').map(str::trim).filter(|t| !t.is_empty()).map(str::to_owned)),
                "ca" => ca_file = Some(v),
                other => return Err(format!("unknown parameter {other:?}: from, to and ca are known")),
            }
        }
        let from = from.ok_or("from=ADDRESS is missing")?;
        mailbox(&from, "from")?;
        if to.is_empty() {
            return Err("to=ADDRESS[,ADDRESS] is missing".into());
        }
        if to.len() > 50 {
            return Err("at most 50 recipients; use a distribution list".into());
        }
        for t in &to {
            mailbox(t, "to")?;
        }
        Ok(Destination { security, host, port, user, from, to, ca_file })
    }
}

/// The subject and plain-text body of an alert, from its stored JSON body. Everything in it
/// came from logs: control characters are dropped and the subject stays on one line.
pub fn render(alert_id: &str, body: &str) -> (String, String) {
    let v: Value = serde_json::from_str(body).unwrap_or(Value::Null);
    let d = &v["data"];
    let text = |k: &str| d[k].as_str().unwrap_or("").chars().filter(|c| !c.is_control()).collect::<String>();
    let verb = match v["type"].as_str().unwrap_or("") {
        "incident.opened" => "New incident",
        "incident.reopened" => "Incident reopened",
        "incident.cause" => "Root cause changed",
        "incident.resolved" => "Resolved",
        _ => "Test alert",
    };
    let severity = text("severity");
    let mut subject = format!("[uctriage] {verb} ({severity}): {}", text("summary"));
    if subject.chars().count() > 180 {
        subject = subject.chars().take(179).collect::<String>() + "…";
    }
    let rooms: Vec<String> = d["rooms"]
        .as_array()
        .map(|a| a.iter().filter_map(Value::as_str).map(|r| r.chars().filter(|c| !c.is_control()).collect()).collect())
        .unwrap_or_default();
    let mut out = format!("{verb}: {}\n\n", text("summary"));
    for (label, value) in [
        ("Severity", severity),
        ("Signal", text("signal")),
        ("Rooms", rooms.join(", ")),
        ("Since", v["timestamp"].as_str().unwrap_or("").to_owned()),
        ("First fix", text("first_fix")),
        ("Incident", text("incident_id")),
        ("Open", text("link")),
    ] {
        if !value.is_empty() {
            let _ = writeln!(out, "{label:<10} {value}");
        }
    }
    let _ = writeln!(out, "\nAlert id {alert_id}: a repeat of this alert carries the same id.");
    (subject, out)
}

/// Send one alert. Blocking: run it off the async workers.
pub fn send(dest: &Destination, password: Option<&str>, alert_id: &str, body: &str) -> Result<(), String> {
    let (subject, text) = render(alert_id, body);
    let mut message = lettre::Message::builder()
        .from(mailbox(&dest.from, "from")?)
        .subject(subject)
        .message_id(Some(format!("<{alert_id}@uctriage>")))
        .header(ContentType::TEXT_PLAIN);
    for t in &dest.to {
        message = message.to(mailbox(t, "to")?);
    }
    let message = message.body(text).map_err(|e| format!("cannot build the message: {e}"))?;
    let tls = || -> Result<TlsParameters, String> {
        let mut b = TlsParameters::builder(dest.host.clone());
        if let Some(path) = &dest.ca_file {
            let pem = std::fs::read(path).map_err(|e| format!("cannot read the CA file {path}: {e}"))?;
            b = b.add_root_certificate(
                Certificate::from_pem(&pem).map_err(|e| format!("the CA file {path} holds no certificate: {e}"))?,
            );
        }
        b.build_rustls().map_err(|e| format!("TLS set-up: {e}"))
    };
    let mode = match dest.security {
        Security::StartTls => Tls::Required(tls()?),
        Security::Tls => Tls::Wrapper(tls()?),
        Security::Plain => Tls::None,
    };
    let mut transport =
        SmtpTransport::builder_dangerous(&dest.host).port(dest.port).tls(mode).timeout(Some(Duration::from_secs(20)));
    if let Some(user) = &dest.user {
        transport = transport.credentials(Credentials::new(user.clone(), password.unwrap_or_default().to_owned()));
    }
    transport.build().send(&message).map(|_| ()).map_err(|e| format!("the relay refused or could not be reached: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn destinations_parse_with_their_defaults() {
        let d = Destination::parse(
            "smtp://alerts%40corp@relay.corp:2525?from=uct%40corp.example&to=a@corp.example,b@corp.example",
        )
        .unwrap();
        assert_eq!(d.security, Security::StartTls);
        assert_eq!((d.host.as_str(), d.port), ("relay.corp", 2525));
        assert_eq!(d.user.as_deref(), Some("alerts@corp"));
        assert_eq!(d.from, "uct@corp.example");
        assert_eq!(d.to, ["a@corp.example", "b@corp.example"]);
        assert_eq!(Destination::parse("smtps://r?from=a@b.c&to=d@e.f").unwrap().port, 465);
        let p = Destination::parse("smtp+plain://[::1]?from=a@b.c&to=d@e.f&ca=/x.pem").unwrap();
        assert_eq!((p.host.as_str(), p.port, p.security), ("::1", 25, Security::Plain));
        for bad in [
            "http://x?from=a@b.c&to=d@e.f",
            "smtp://r?to=d@e.f",
            "smtp://r?from=a@b.c",
            "smtp://r?from=nope&to=d@e.f",
            "smtp://u:pw@r?from=a@b.c&to=d@e.f",
            "smtp://r:99999?from=a@b.c&to=d@e.f",
            "smtp://r?from=a@b.c&to=d@e.f&cc=x",
            "smtp://?from=a@b.c&to=d@e.f",
        ] {
            assert!(Destination::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn the_mail_reads_on_its_own_and_keeps_log_text_on_its_lines() {
        let body = r#"{"type":"incident.opened","timestamp":"2025-07-15T10:00:00Z","data":{"severity":"critical","summary":"MFA asked\r\nBcc: x@evil","rooms":["Room 1"],"signal":"exchange","first_fix":"Exclude the account","link":"https://f/i/1","incident_id":"inc1"}}"#;
        let (subject, text) = render("msg_1", body);
        assert_eq!(subject, "[uctriage] New incident (critical): MFA askedBcc: x@evil");
        assert!(text.contains("Rooms      Room 1\n") && text.contains("First fix  Exclude the account\n"), "{text}");
        assert!(text.contains("msg_1"));
    }
}
