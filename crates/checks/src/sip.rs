//! `check sip`: send a SIP OPTIONS over UDP, TCP or TLS and report the answer, the time it took
//! and, over TLS, the handshake and the certificate.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::UdpSocket;

use crate::certinfo::{self, Expectations, TrustStores};
use crate::target::Target;
use crate::tls::{connect_tcp, handshake, millis, server_name};
use crate::{fixes, Check, Error, Report, SipArgs};

/// RFC 3261 timer T1: the first UDP retransmission interval, doubled after each retry.
const T1: Duration = Duration::from_millis(500);
/// An OPTIONS answer slower than this is a warning.
const SLOW: Duration = Duration::from_secs(1);

/// A parsed SIP response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    pub code: u16,
    pub reason: String,
    pub headers: Vec<(String, String)>,
}

impl Response {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }
}

/// Parse the head of a SIP response (`SIP/2.0 200 OK` and its headers).
pub fn parse_response(text: &str) -> Option<Response> {
    let mut lines = text.split("\r\n");
    let status = lines.next()?;
    let rest = status.strip_prefix("SIP/2.0 ")?;
    let (code, reason) = rest.split_once(' ').unwrap_or((rest, ""));
    let code: u16 = code.parse().ok().filter(|c| (100..700).contains(c))?;
    let headers = lines
        .take_while(|l| !l.is_empty())
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (expand_compact(k.trim()).to_string(), v.trim().to_string()))
        .collect();
    Some(Response { code, reason: reason.to_string(), headers })
}

/// Compact header forms (RFC 3261 section 7.3.3) to their full names.
fn expand_compact(name: &str) -> &str {
    match name {
        "i" => "Call-ID",
        "v" => "Via",
        "f" => "From",
        "t" => "To",
        "m" => "Contact",
        "l" => "Content-Length",
        "c" => "Content-Type",
        other => other,
    }
}

fn token() -> String {
    let mut bytes = [0u8; 8];
    let _ = ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut bytes);
    bytes.iter().fold(String::new(), |mut s, b| {
        s.push_str(&format!("{b:02x}"));
        s
    })
}

/// The OPTIONS request.
pub fn options_request(target: &Target, name: &str, transport: &str, local: SocketAddr, call_id: &str) -> String {
    // Microsoft's SIP proxies probe SBCs with `sip:` URIs and `transport=tls`; do the same.
    let scheme = "sip";
    let uri_params =
        if transport == "UDP" { String::new() } else { format!(";transport={}", transport.to_ascii_lowercase()) };
    let host =
        if name.parse::<std::net::IpAddr>().is_ok() { target.authority() } else { format!("{name}:{}", target.port) };
    let local_host = match local {
        SocketAddr::V6(v6) => format!("[{}]:{}", v6.ip(), v6.port()),
        SocketAddr::V4(v4) => v4.to_string(),
    };
    let transport_param = transport.to_ascii_lowercase();
    format!(
        "OPTIONS {scheme}:{host}{uri_params} SIP/2.0\r\n\
         Via: SIP/2.0/{transport} {local_host};branch=z9hG4bK{branch};rport\r\n\
         Max-Forwards: 70\r\n\
         From: <{scheme}:uctriage@{local_host}>;tag={tag}\r\n\
         To: <{scheme}:{host}>\r\n\
         Call-ID: {call_id}\r\n\
         CSeq: 1 OPTIONS\r\n\
         Contact: <{scheme}:uctriage@{local_host};transport={transport_param}>\r\n\
         Accept: application/sdp\r\n\
         User-Agent: uctriage/{version}\r\n\
         Content-Length: 0\r\n\r\n",
        branch = token(),
        tag = token(),
        version = env!("CARGO_PKG_VERSION"),
    )
}

pub async fn check(args: &SipArgs, timeout: Duration) -> Result<Report, Error> {
    let transport = if args.tls {
        "TLS"
    } else if args.tcp {
        "TCP"
    } else {
        "UDP"
    };
    let target = Target::parse(&args.target, if args.tls { 5061 } else { 5060 })?;
    let name = args.name.clone().unwrap_or_else(|| target.host.clone());
    let mut report = Report::new(format!("sip OPTIONS to {} over {transport} (name {name})", target.authority()));
    let call_id = format!("{}@uctriage", token());
    let start;
    let answer = if transport == "UDP" {
        start = Instant::now();
        udp_exchange(&target, &name, &call_id, timeout).await
    } else {
        let (tcp, t) = match connect_tcp(&target, timeout).await {
            Ok(x) => x,
            Err(e) => {
                report.push(Check::fail(
                    "sip.connect",
                    format!("TCP to {}", e.detail(&target.authority())),
                    e.fix(|| fixes::network("Check that the SIP server listens on this port and that firewalls allow it (Direct Routing SBCs must accept TLS from Microsoft's SIP proxy addresses).")),
                ));
                return Ok(report);
            }
        };
        report.push(Check::pass("sip.connect", format!("TCP connected in {}", millis(t))));
        if transport == "TLS" {
            let trust = TrustStores::load(&args.trust)?;
            let sni = server_name(&target, Some(&name))?;
            match handshake(tcp, sni, rustls::ALL_VERSIONS, timeout).await {
                Ok(mut session) => {
                    report.push(Check::pass(
                        "sip.tls",
                        format!("{}, {}, handshake {}", session.version, session.cipher, millis(session.elapsed)),
                    ));
                    certinfo::inspect(
                        &session.chain,
                        Expectations { name: Some(&name), profile: args.profile },
                        &trust,
                        &mut report,
                    );
                    let local = session.stream.get_ref().0.local_addr().map_err(|e| Error::Usage(e.to_string()))?;
                    let request = options_request(&target, &name, transport, local, &call_id);
                    start = Instant::now();
                    stream_exchange(&mut session.stream, &request, &call_id, timeout).await
                }
                Err(f) => {
                    report.push(Check::fail(
                        "sip.tls",
                        format!("the TLS handshake failed: {}", f.reason),
                        "Check that the port speaks TLS with TLS 1.2 enabled and a certificate bound; Direct Routing uses TLS on the SBC's SIP signalling port (often 5061).",
                    ));
                    if !f.chain.is_empty() {
                        certinfo::inspect(
                            &f.chain,
                            Expectations { name: Some(&name), profile: args.profile },
                            &trust,
                            &mut report,
                        );
                    }
                    return Ok(report);
                }
            }
        } else {
            let mut tcp = tcp;
            let local = tcp.local_addr().map_err(|e| Error::Usage(e.to_string()))?;
            let request = options_request(&target, &name, transport, local, &call_id);
            start = Instant::now();
            stream_exchange(&mut tcp, &request, &call_id, timeout).await
        }
    };
    let elapsed = start.elapsed();
    match answer {
        Err(e) => report.push(Check::fail(
            "sip.options",
            e,
            fixes::network("Check that the SIP server is up, listens on this transport and port, and accepts OPTIONS from this address (SBCs often only answer allowed peers)."),
        )),
        Ok(resp) => {
            let mut detail = format!("SIP/2.0 {} {} in {}", resp.code, resp.reason, millis(elapsed));
            for h in ["Server", "User-Agent", "Allow", "ms-diagnostics", "Reason", "Warning"] {
                if let Some(v) = resp.header(h) {
                    detail.push_str(&format!("\n{h}: {v}"));
                }
            }
            if (200..300).contains(&resp.code) {
                report.push(Check::pass("sip.options", detail));
            } else {
                let fallback = format!("The server answered {} to OPTIONS: check its configuration for this peer (allowed addresses, TLS context, SIP domain).", resp.code);
                report.push(Check::fail("sip.options", detail, fixes::for_code(&format!("SIP {}", resp.code), &fallback)));
            }
            report.push(if elapsed > SLOW {
                Check::warn(
                    "sip.response-time",
                    format!("answered in {}", millis(elapsed)),
                    "Slow OPTIONS answers make Microsoft's SIP proxies mark the SBC as degraded: check the SBC's load and the path.",
                )
            } else {
                Check::pass("sip.response-time", format!("answered in {}", millis(elapsed)))
            });
        }
    }
    Ok(report)
}

fn final_or_none(data: &[u8], call_id: &str) -> Option<Response> {
    let text = String::from_utf8_lossy(data);
    let r = parse_response(&text)?;
    let same = r.header("Call-ID").is_none_or(|c| c == call_id);
    (same && r.code >= 200).then_some(r)
}

async fn udp_exchange(target: &Target, name: &str, call_id: &str, timeout: Duration) -> Result<Response, String> {
    let addr = tokio::net::lookup_host(target.authority())
        .await
        .map_err(|e| format!("cannot resolve {}: {e}", target.host))?
        .next()
        .ok_or_else(|| format!("{} has no address", target.host))?;
    let bind = if addr.is_ipv4() { "0.0.0.0:0" } else { "[::]:0" };
    let socket = UdpSocket::bind(bind).await.map_err(|e| e.to_string())?;
    socket.connect(addr).await.map_err(|e| e.to_string())?;
    let local = socket.local_addr().map_err(|e| e.to_string())?;
    let request = options_request(target, name, "UDP", local, call_id);
    let deadline = Instant::now() + timeout;
    let mut interval = T1;
    let mut buf = vec![0u8; 65_535];
    let mut sent = 0;
    loop {
        socket.send(request.as_bytes()).await.map_err(|e| e.to_string())?;
        sent += 1;
        let resend_at = (Instant::now() + interval).min(deadline);
        loop {
            let left = resend_at.saturating_duration_since(Instant::now());
            match tokio::time::timeout(left, socket.recv(&mut buf)).await {
                Ok(Ok(n)) => {
                    if let Some(r) = final_or_none(&buf[..n], call_id) {
                        return Ok(r);
                    }
                }
                Ok(Err(e)) => return Err(format!("UDP error (nothing listening?): {e}")),
                Err(_) => break,
            }
        }
        if Instant::now() >= deadline {
            return Err(format!("no final answer to {sent} OPTIONS over UDP within {} s", timeout.as_secs()));
        }
        interval = (interval * 2).min(Duration::from_secs(4));
    }
}

async fn stream_exchange<S: AsyncRead + AsyncWrite + Unpin>(
    stream: &mut S,
    request: &str,
    call_id: &str,
    timeout: Duration,
) -> Result<Response, String> {
    let io = async {
        stream.write_all(request.as_bytes()).await.map_err(|e| e.to_string())?;
        stream.flush().await.map_err(|e| e.to_string())?;
        let mut data = Vec::new();
        let mut buf = [0u8; 4096];
        loop {
            let n = stream.read(&mut buf).await.map_err(|e| e.to_string())?;
            if n == 0 {
                return Err("the server closed the connection without a final answer".to_string());
            }
            data.extend_from_slice(&buf[..n]);
            // Walk the complete messages received so far; provisional answers are skipped.
            while let Some(end) = data.windows(4).position(|w| w == b"\r\n\r\n") {
                let head = String::from_utf8_lossy(&data[..end + 4]).into_owned();
                let body_len = parse_response(&head)
                    .and_then(|r| r.header("Content-Length").and_then(|l| l.parse::<usize>().ok()))
                    .unwrap_or(0);
                if data.len() < end + 4 + body_len {
                    break;
                }
                if let Some(r) = final_or_none(head.as_bytes(), call_id) {
                    return Ok(r);
                }
                data.drain(..end + 4 + body_len);
            }
        }
    };
    match tokio::time::timeout(timeout, io).await {
        Err(_) => Err(format!("no final answer within {} s", timeout.as_secs())),
        Ok(r) => r,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_responses() {
        let r = parse_response("SIP/2.0 403 Forbidden\r\ni: abc@x\r\nServer: SBC 7.2\r\nl: 0\r\n\r\n").unwrap();
        assert_eq!((r.code, r.reason.as_str()), (403, "Forbidden"));
        assert_eq!(r.header("call-id"), Some("abc@x"));
        assert_eq!(r.header("Server"), Some("SBC 7.2"));
        assert!(parse_response("HTTP/1.1 200 OK\r\n\r\n").is_none());
    }

    #[test]
    fn request_shape() {
        let t = Target { host: "sbc.example.com".into(), port: 5061 };
        let req = options_request(&t, "sbc.example.com", "TLS", "192.0.2.1:50000".parse().unwrap(), "x@y");
        assert!(req.starts_with("OPTIONS sip:sbc.example.com:5061;transport=tls SIP/2.0\r\n"));
        assert!(req.contains("Via: SIP/2.0/TLS 192.0.2.1:50000;branch=z9hG4bK"));
        assert!(req.ends_with("Content-Length: 0\r\n\r\n"));
    }
}
