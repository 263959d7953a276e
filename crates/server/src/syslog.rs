//! Alerts as syslog messages (RFC 5424) over TCP or TLS, framed by octet counting (RFC 6587),
//! for sites that cannot reach Teams: air-gapped, GCC High, DoD. The destination is
//! `tcp://host:port` or `tls://host:port` (the system's and the web's roots are trusted).

use std::io::Write;
use std::net::TcpStream;
use std::sync::Arc;
use std::time::Duration;

/// Facility local0; severity from the incident's.
fn priority(severity: &str, event: &str) -> u8 {
    let level = match (event, severity) {
        ("resolved", _) => 5,  // notice
        (_, "critical") => 2,  // critical
        (_, "important") => 3, // error
        (_, "warning") => 4,   // warning
        _ => 6,                // informational
    };
    16 * 8 + level
}

/// Printable ASCII without spaces, at most `max` characters, or `-` (RFC 5424 header fields).
fn header_field(s: &str, max: usize) -> String {
    let v: String = s.chars().filter(char::is_ascii_graphic).take(max).collect();
    if v.is_empty() {
        "-".into()
    } else {
        v
    }
}

/// One RFC 5424 message, octet-count framed. The message part is the alert's JSON body.
pub fn frame(id: &str, severity: &str, event: &str, timestamp: &str, host: &str, body: &str) -> Vec<u8> {
    // Structured-data parameter values escape `"`, `\` and `]`.
    let esc = |s: &str| s.replace('\\', "\\\\").replace('"', "\\\"").replace(']', "\\]");
    let msg = format!(
        "<{}>1 {} {} uctriage - incident [uctriage@32473 id=\"{}\" event=\"{}\" severity=\"{}\"] {}",
        priority(severity, event),
        header_field(timestamp, 64),
        header_field(host, 255),
        esc(id),
        esc(event),
        esc(severity),
        body.replace(['\n', '\r'], " ")
    );
    format!("{} {msg}", msg.len()).into_bytes()
}

/// Send one framed message to `tcp://host:port` or `tls://host:port`.
pub fn send(dest: &str, message: &[u8]) -> Result<(), String> {
    let (tls, rest) = if let Some(r) = dest.strip_prefix("tls://") {
        (true, r)
    } else if let Some(r) = dest.strip_prefix("tcp://") {
        (false, r)
    } else {
        return Err("a syslog destination is tcp://host:port or tls://host:port".into());
    };
    let host = rest.rsplit_once(':').map_or(rest, |(h, _)| h).trim_matches(['[', ']']).to_owned();
    let addr = std::net::ToSocketAddrs::to_socket_addrs(rest)
        .map_err(|e| format!("cannot resolve the syslog host: {e}"))?
        .next()
        .ok_or("the syslog host has no address")?;
    let tcp = TcpStream::connect_timeout(&addr, Duration::from_secs(10)).map_err(|e| format!("cannot connect: {e}"))?;
    tcp.set_write_timeout(Some(Duration::from_secs(10))).map_err(|e| e.to_string())?;
    if !tls {
        let mut tcp = tcp;
        return tcp.write_all(message).and_then(|()| tcp.flush()).map_err(|e| format!("cannot send: {e}"));
    }
    let mut roots = rustls::RootCertStore::empty();
    roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    for cert in rustls_native_certs::load_native_certs().certs {
        let _ = roots.add(cert);
    }
    let cfg = rustls::ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_root_certificates(roots)
        .with_no_client_auth();
    let name = rustls::pki_types::ServerName::try_from(host).map_err(|e| format!("bad host name: {e}"))?;
    let conn = rustls::ClientConnection::new(Arc::new(cfg), name).map_err(|e| e.to_string())?;
    let mut stream = rustls::StreamOwned::new(conn, tcp);
    stream.write_all(message).and_then(|()| stream.flush()).map_err(|e| format!("cannot send over TLS: {e}"))?;
    stream.conn.send_close_notify();
    let _ = stream.flush();
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_follow_rfc_5424_with_octet_counting() {
        let m = String::from_utf8(frame(
            "msg_1",
            "critical",
            "opened",
            "2025-07-15T10:00:00Z",
            "fleet host",
            "{\"a\":\n1}",
        ))
        .unwrap();
        let (len, msg) = m.split_once(' ').unwrap();
        assert_eq!(len.parse::<usize>().unwrap(), msg.len());
        assert!(
            msg.starts_with("<130>1 2025-07-15T10:00:00Z fleethost uctriage - incident [uctriage@32473 id=\"msg_1\""),
            "{msg}"
        );
        assert!(msg.ends_with("{\"a\": 1}"));
        assert!(
            frame("x", "warning", "resolved", "", "", "").starts_with(b"")
                && String::from_utf8(frame("x", "warning", "resolved", "t", "h", "")).unwrap().contains("<133>1")
        );
        assert!(send("udp://x:1", b"").is_err());
    }

    #[test]
    fn a_local_receiver_gets_the_framed_message() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let got = std::thread::spawn(move || {
            let (mut s, _) = listener.accept().unwrap();
            let mut buf = String::new();
            std::io::Read::read_to_string(&mut s, &mut buf).unwrap();
            buf
        });
        let m = frame("msg_2", "important", "opened", "2025-07-15T10:00:00Z", "h", "{}");
        send(&format!("tcp://{addr}"), &m).unwrap();
        assert_eq!(got.join().unwrap().as_bytes(), m.as_slice());
    }
}
