//! The proxy in use and what it does to Microsoft 365 traffic: where it is configured, whether it
//! answers CONNECT, and whether it demands authentication (407), which Teams Rooms cannot answer.

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::target::Target;

/// A proxy and where its setting came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Proxy {
    pub target: Target,
    pub source: String,
}

/// The proxy from `--proxy` (`none` for none) or else from the environment and, on Windows, the
/// system settings.
pub fn detect(flag: Option<&str>) -> Result<Option<Proxy>, String> {
    if let Some(raw) = flag {
        if raw.eq_ignore_ascii_case("none") {
            return Ok(None);
        }
        return parse_url(raw).map(|target| Some(Proxy { target, source: "--proxy".into() }));
    }
    for var in ["HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy", "HTTP_PROXY", "http_proxy"] {
        if let Ok(value) = std::env::var(var) {
            if !value.trim().is_empty() {
                return parse_url(&value).map(|target| Some(Proxy { target, source: format!("environment {var}") }));
            }
        }
    }
    Ok(system_proxy())
}

/// `http://host:port`, `host:port` or `http://user:pass@host:port` (credentials are ignored).
pub fn parse_url(raw: &str) -> Result<Target, String> {
    let rest = raw.trim();
    let rest = rest.strip_prefix("http://").or_else(|| rest.strip_prefix("HTTP://")).unwrap_or(rest);
    if rest.contains("://") {
        return Err(format!("{raw:?}: only http:// proxies are supported"));
    }
    let rest = rest.rsplit_once('@').map_or(rest, |(_, host)| host);
    let rest = rest.trim_end_matches('/');
    Target::parse(rest, 8080).map_err(|e| e.to_string())
}

#[cfg(windows)]
fn system_proxy() -> Option<Proxy> {
    // WinINet (the user's Internet Options): ProxyEnable and ProxyServer.
    let key = r"HKCU\Software\Microsoft\Windows\CurrentVersion\Internet Settings";
    let query = |value: &str| -> Option<String> {
        let out = std::process::Command::new("reg").args(["query", key, "/v", value]).output().ok()?;
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        text.lines().find(|l| l.contains(value)).and_then(|l| l.split_whitespace().last()).map(str::to_string)
    };
    if query("ProxyEnable").as_deref() == Some("0x1") {
        if let Some(server) = query("ProxyServer") {
            // Either host:port, or per-protocol "http=a:1;https=b:2".
            let chosen = server
                .split(';')
                .find_map(|p| p.strip_prefix("https="))
                .or_else(|| server.split(';').find(|p| !p.contains('=')))
                .unwrap_or(&server)
                .to_string();
            if let Ok(target) = parse_url(&chosen) {
                return Some(Proxy { target, source: "WinINet (Internet Options)".into() });
            }
        }
    }
    // WinHTTP (services and system context): `netsh winhttp show proxy`.
    let out = std::process::Command::new("netsh").args(["winhttp", "show", "proxy"]).output().ok()?;
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let server = text.lines().find_map(|l| l.trim().strip_prefix("Proxy Server(s) :")).map(str::trim)?;
    parse_url(server).ok().map(|target| Proxy { target, source: "WinHTTP".into() })
}

#[cfg(not(windows))]
fn system_proxy() -> Option<Proxy> {
    None
}

/// What a proxy said to a CONNECT or a GET.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProxyAnswer {
    /// The tunnel is open (CONNECT) or the request went through (any non-407 answer to a GET).
    Through(u16),
    /// 407 Proxy Authentication Required, with the schemes it offered.
    AuthRequired(String),
    /// Any other refusal.
    Refused(u16, String),
}

/// Ask the proxy for a CONNECT tunnel to `dest`; on success the stream is the tunnel.
pub async fn connect_tunnel(
    proxy: &Proxy,
    dest: &Target,
    timeout: Duration,
) -> Result<(TcpStream, ProxyAnswer), String> {
    let (mut stream, _) = crate::tls::connect_tcp(&proxy.target, timeout).await?;
    let authority = dest.authority();
    let request = format!(
        "CONNECT {authority} HTTP/1.1\r\nHost: {authority}\r\nUser-Agent: uctriage/{}\r\n\r\n",
        env!("CARGO_PKG_VERSION")
    );
    let answer = exchange(&mut stream, request.as_bytes(), timeout).await?;
    Ok((stream, answer))
}

/// Send an absolute-form GET for `http://dest/` through the proxy (port 80 checks).
pub async fn http_get(proxy: &Proxy, dest: &Target, timeout: Duration) -> Result<ProxyAnswer, String> {
    let (mut stream, _) = crate::tls::connect_tcp(&proxy.target, timeout).await?;
    let authority = dest.authority();
    let request = format!(
        "HEAD http://{authority}/ HTTP/1.1\r\nHost: {authority}\r\nUser-Agent: uctriage/{}\r\nConnection: close\r\n\r\n",
        env!("CARGO_PKG_VERSION")
    );
    exchange(&mut stream, request.as_bytes(), timeout).await
}

async fn exchange(stream: &mut TcpStream, request: &[u8], timeout: Duration) -> Result<ProxyAnswer, String> {
    let io = async {
        stream.write_all(request).await?;
        let mut head = Vec::new();
        let mut byte = [0u8; 1];
        // Read the answer head byte by byte so that nothing of the tunnel is consumed.
        while !head.ends_with(b"\r\n\r\n") && head.len() < 16 * 1024 {
            if stream.read(&mut byte).await? == 0 {
                break;
            }
            head.push(byte[0]);
        }
        Ok::<_, std::io::Error>(head)
    };
    let head = match tokio::time::timeout(timeout, io).await {
        Err(_) => return Err(format!("the proxy did not answer within {} s", timeout.as_secs())),
        Ok(Err(e)) => return Err(format!("talking to the proxy: {e}")),
        Ok(Ok(h)) => String::from_utf8_lossy(&h).into_owned(),
    };
    let status_line = head.lines().next().unwrap_or("");
    let status: u16 = status_line
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| format!("not an HTTP answer from the proxy: {status_line:?}"))?;
    Ok(match status {
        407 => {
            let schemes: Vec<&str> = head
                .lines()
                .filter_map(|l| l.split_once(':'))
                .filter(|(k, _)| k.trim().eq_ignore_ascii_case("proxy-authenticate"))
                .filter_map(|(_, v)| v.split_whitespace().next())
                .collect();
            ProxyAnswer::AuthRequired(if schemes.is_empty() { "no scheme named".into() } else { schemes.join(", ") })
        }
        200..=399 => ProxyAnswer::Through(status),
        _ => ProxyAnswer::Refused(status, status_line.to_string()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proxy_urls() {
        assert_eq!(parse_url("http://proxy.corp.example:3128/").unwrap().authority(), "proxy.corp.example:3128");
        assert_eq!(parse_url("http://u:p@10.1.2.3:8080").unwrap().authority(), "10.1.2.3:8080");
        assert_eq!(parse_url("proxy.corp.example").unwrap().port, 8080);
        assert!(parse_url("socks5://x:1080").is_err());
        assert_eq!(detect(Some("none")).unwrap(), None);
    }
}
