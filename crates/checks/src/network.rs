//! `check network`: TCP to the Teams endpoints, STUN to the media relays with TCP as the fallback,
//! the proxy and its authentication, and TLS interception of the sign-in endpoint.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use tokio::net::{TcpStream, UdpSocket};
use tokio::task::JoinSet;

use crate::certinfo::{trust_outcome, TrustStores};
use crate::endpoints::{Endpoints, Relay, Signin, Thresholds};
use crate::proxy::{self, Proxy, ProxyAnswer};
use crate::stun::{binding_request, parse_binding_response, StunResponse};
use crate::target::Target;
use crate::tls::{connect_tcp, handshake, millis};
use crate::{fixes, Check, Error, NetworkArgs, Report, Status};

/// Wait at most this long for one STUN answer.
const STUN_WAIT: Duration = Duration::from_secs(1);
/// Pause between STUN probes.
const STUN_GAP: Duration = Duration::from_millis(50);

pub async fn check(args: &NetworkArgs, timeout: Duration) -> Result<Report, Error> {
    let (endpoints, source) = match &args.targets {
        Some(path) => (Endpoints::from_file(path)?, format!("targets from {}", path.display())),
        None => (Endpoints::builtin(), "the published Teams endpoint set".to_string()),
    };
    let trust = TrustStores::load(&args.trust)?;
    let proxy = proxy::detect(args.proxy.as_deref()).map_err(Error::Usage)?;
    let mut report = Report::new(format!("network from this machine ({source})"));

    match &proxy {
        None => report.push(Check::pass("proxy.detected", "no proxy configured: connections go direct")),
        Some(p) => {
            report.push(Check::pass("proxy.detected", format!("{} (from {})", p.target.authority(), p.source)));
            report.push(proxy_auth(p, &endpoints, timeout).await);
        }
    }

    let mut tasks = JoinSet::new();
    for (i, e) in endpoints.tcp.iter().enumerate() {
        for (j, &port) in e.ports.iter().enumerate() {
            let target = Target { host: e.host.clone(), port };
            let name = e.name.clone();
            let proxy = proxy.clone();
            tasks.spawn(async move { ((i, j), tcp_probe(&name, &target, proxy.as_ref(), timeout).await) });
        }
    }
    let mut tcp_checks = tasks.join_all().await;
    tcp_checks.sort_by_key(|(k, _)| *k);
    for (_, c) in tcp_checks {
        report.push(c);
    }

    for relay in &endpoints.relay {
        relay_checks(relay, &endpoints, args.probes, proxy.as_ref(), timeout, &mut report).await;
    }

    if let Some(signin) = &endpoints.signin {
        report.push(interception(signin, proxy.as_ref(), &trust, timeout).await);
    }
    Ok(report)
}

async fn proxy_auth(p: &Proxy, endpoints: &Endpoints, timeout: Duration) -> Check {
    let dest = endpoints
        .signin
        .as_ref()
        .map(|s| Target { host: s.host.clone(), port: s.port })
        .or_else(|| endpoints.tcp.first().map(|t| Target { host: t.host.clone(), port: 443 }));
    let Some(dest) = dest else {
        return Check::skip("proxy.auth", "no endpoint to test the proxy with");
    };
    match proxy::connect_tunnel(p, &dest, timeout).await {
        Ok((_, ProxyAnswer::AuthRequired(schemes))) => Check::fail(
            "proxy.auth",
            format!("the proxy answered 407 Proxy Authentication Required to CONNECT {} (offers {schemes})", dest.authority()),
            fixes::for_code(
                "HTTP 407",
                "Exempt Microsoft 365 endpoints from proxy authentication; Teams Rooms cannot authenticate to a proxy.",
            ),
        ),
        Ok((_, ProxyAnswer::Through(_))) => {
            Check::pass("proxy.auth", format!("the proxy opened a tunnel to {} without asking for credentials", dest.authority()))
        }
        Ok((_, ProxyAnswer::Refused(code, line))) => Check::fail(
            "proxy.auth",
            format!("the proxy refused CONNECT {}: {line}", dest.authority()),
            format!("Allow CONNECT to Microsoft 365 endpoints on port 443 in the proxy policy (it answered {code})."),
        ),
        Err(e) => Check::fail(
            "proxy.auth",
            format!("cannot talk to the proxy {}: {e}", p.target.authority()),
            "Check the proxy address and port in the environment or system settings, or run with --proxy none if it should not be used.",
        ),
    }
}

async fn tcp_probe(name: &str, target: &Target, proxy: Option<&Proxy>, timeout: Duration) -> Check {
    let id = format!("tcp.{}", target.authority());
    let blocked_fix = || {
        fixes::network(&format!(
            "Allow outbound TCP {} to {} in the firewall (and the proxy), as the Microsoft 365 endpoint list requires.",
            target.port, target.host
        ))
    };
    let Some(p) = proxy else {
        return match connect_tcp(target, timeout).await {
            Ok((_, t)) => Check::pass(id, format!("{name}: connected in {}", millis(t))),
            Err(e) => Check::fail(id, format!("{name}: {e}"), e.fix(blocked_fix)),
        };
    };
    let start = Instant::now();
    let answer = if target.port == 80 {
        proxy::http_get(p, target, timeout).await
    } else {
        proxy::connect_tunnel(p, target, timeout).await.map(|(_, a)| a)
    };
    match answer {
        Ok(ProxyAnswer::Through(_)) => {
            Check::pass(id, format!("{name}: reached through the proxy in {}", millis(start.elapsed())))
        }
        Ok(ProxyAnswer::AuthRequired(_)) => Check::fail(
            id,
            format!("{name}: the proxy demands authentication (407)"),
            "Exempt this endpoint from proxy authentication (see proxy.auth).",
        ),
        Ok(ProxyAnswer::Refused(_, line)) => {
            Check::fail(id, format!("{name}: the proxy refused: {line}"), blocked_fix())
        }
        Err(e) => Check::fail(id, format!("{name}: through the proxy: {e}"), blocked_fix()),
    }
}

/// Round-trip times of the answered probes, and how many were sent.
#[derive(Debug, Default)]
struct ProbeStats {
    sent: u32,
    rtts: Vec<Duration>,
    error_code: Option<u16>,
}

impl ProbeStats {
    fn loss_percent(&self) -> u32 {
        if self.sent == 0 {
            return 100;
        }
        (self.sent - self.rtts.len() as u32) * 100 / self.sent
    }

    fn summary(&self) -> String {
        let ms = |d: Duration| d.as_secs_f64() * 1000.0;
        if self.rtts.is_empty() {
            return format!("no answer to {} binding requests (100% loss)", self.sent);
        }
        let min = self.rtts.iter().copied().min().map_or(0.0, ms);
        let max = self.rtts.iter().copied().max().map_or(0.0, ms);
        let avg = self.rtts.iter().map(|&d| ms(d)).sum::<f64>() / self.rtts.len() as f64;
        format!(
            "{}/{} answered, {}% loss, rtt min/avg/max {min:.1}/{avg:.1}/{max:.1} ms, jitter {:.1} ms",
            self.rtts.len(),
            self.sent,
            self.loss_percent(),
            self.jitter_ms()
        )
    }

    fn avg_ms(&self) -> f64 {
        self.rtts.iter().map(Duration::as_secs_f64).sum::<f64>() * 1000.0 / self.rtts.len().max(1) as f64
    }

    /// Mean difference between successive round trips.
    fn jitter_ms(&self) -> f64 {
        if self.rtts.len() < 2 {
            return 0.0;
        }
        let diffs: f64 = self.rtts.windows(2).map(|w| (w[0].as_secs_f64() - w[1].as_secs_f64()).abs()).sum();
        diffs * 1000.0 / (self.rtts.len() - 1) as f64
    }
}

fn random_transaction_id() -> [u8; 12] {
    let mut id = [0u8; 12];
    if ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut id).is_err() {
        // Uniqueness is all that matters here; fall back to the clock.
        let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos());
        id.copy_from_slice(&nanos.to_be_bytes()[4..16]);
    }
    id
}

async fn stun_probes(addr: SocketAddr, probes: u32, wait: Duration) -> std::io::Result<ProbeStats> {
    let bind: SocketAddr = if addr.is_ipv4() { "0.0.0.0:0".parse() } else { "[::]:0".parse() }
        .map_err(|_| std::io::Error::other("bind address"))?;
    let socket = UdpSocket::bind(bind).await?;
    socket.connect(addr).await?;
    let mut stats = ProbeStats::default();
    let mut buf = [0u8; 1500];
    for i in 0..probes {
        if i > 0 {
            tokio::time::sleep(STUN_GAP).await;
        }
        let tid = random_transaction_id();
        stats.sent += 1;
        let start = Instant::now();
        // A closed port may show up as an ICMP error on send or receive: count it as a loss.
        if socket.send(&binding_request(tid)).await.is_err() {
            continue;
        }
        let deadline = start + wait;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match tokio::time::timeout(left, socket.recv(&mut buf)).await {
                Ok(Ok(n)) => match parse_binding_response(&buf[..n], &tid) {
                    Some(StunResponse::Success { .. }) => {
                        stats.rtts.push(start.elapsed());
                        break;
                    }
                    Some(StunResponse::Error { code }) => {
                        stats.error_code = Some(code);
                        stats.rtts.push(start.elapsed());
                        break;
                    }
                    None => {}
                },
                // Timeout, or an ICMP port unreachable surfacing as an error.
                Ok(Err(_)) | Err(_) => break,
            }
        }
    }
    Ok(stats)
}

async fn relay_checks(
    relay: &Relay,
    endpoints: &Endpoints,
    probes: u32,
    proxy: Option<&Proxy>,
    timeout: Duration,
    report: &mut Report,
) {
    let addrs: Vec<SocketAddr> =
        match tokio::time::timeout(timeout, tokio::net::lookup_host((relay.host.as_str(), 0))).await {
            Ok(Ok(a)) => a.collect(),
            Ok(Err(e)) => {
                report.push(Check::fail(
                    format!("relay.dns.{}", relay.host),
                    format!("{}: cannot resolve {}: {e}", relay.name, relay.host),
                    "Check that this machine's DNS resolves Microsoft 365 names (nslookup the relay name).",
                ));
                return;
            }
            Err(_) => {
                report.push(Check::fail(
                    format!("relay.dns.{}", relay.host),
                    format!("{}: no DNS answer for {} within {} s", relay.name, relay.host, timeout.as_secs()),
                    "Check that this machine's DNS server answers.",
                ));
                return;
            }
        };
    let Some(&first) = addrs.iter().find(|a| a.is_ipv4()).or(addrs.first()) else {
        report.push(Check::fail(
            format!("relay.dns.{}", relay.host),
            format!("{} has no address", relay.host),
            "Check the DNS answer for the relay name.",
        ));
        return;
    };
    let ranges = endpoints.ranges();
    let dns_id = format!("relay.dns.{}", relay.host);
    if ranges.is_empty() {
        report.push(Check::pass(dns_id, format!("{} resolves to {}", relay.host, first.ip())));
    } else if ranges.iter().any(|r| r.contains(first.ip())) {
        report.push(Check::pass(
            dns_id,
            format!("{} resolves to {}, inside the published media ranges", relay.host, first.ip()),
        ));
    } else {
        report.push(Check::warn(
            dns_id,
            format!("{} resolves to {}, outside the published media ranges {}", relay.host, first.ip(), endpoints.media_ranges.join(", ")),
            "Check for a DNS override or a split-horizon zone for Microsoft 365 names; media should reach Microsoft's ranges directly.",
        ));
    }

    let wait = STUN_WAIT.min(timeout);
    let mut udp = Vec::new();
    for &port in &relay.udp_ports {
        let addr = SocketAddr::new(first.ip(), port);
        let id = format!("udp.{}:{port}", relay.host);
        let stats = match stun_probes(addr, probes, wait).await {
            Ok(s) => s,
            Err(e) => {
                udp.push((id, None, format!("cannot send UDP: {e}")));
                continue;
            }
        };
        udp.push((id, Some(stats), String::new()));
    }

    let all_lost = udp.iter().all(|(_, s, _)| s.as_ref().is_none_or(|s| s.rtts.is_empty()));
    let fallback_ok = if all_lost {
        match relay.tcp_fallback_port {
            Some(port) => {
                let target = Target { host: relay.host.clone(), port };
                let c = tcp_probe(&format!("{} TCP fallback", relay.name), &target, proxy, timeout).await;
                let ok = c.status == Status::Pass;
                report.push(Check { id: format!("relay.tcp-fallback.{}", target.authority()), ..c });
                Some(ok)
            }
            None => None,
        }
    } else {
        None
    };

    for (id, stats, error) in udp {
        let Some(stats) = stats else {
            report.push(Check::fail(id, error, "Check the local firewall for outbound UDP."));
            continue;
        };
        report.push(judge_udp(id, &relay.name, &stats, endpoints.thresholds, fallback_ok));
    }
}

fn judge_udp(id: String, name: &str, stats: &ProbeStats, limits: Thresholds, fallback_ok: Option<bool>) -> Check {
    let mut detail = format!("{name}: {}", stats.summary());
    if let Some(code) = stats.error_code {
        detail.push_str(&format!(" (the relay answered with STUN error {code}, which still proves the path)"));
    }
    let open_udp = "Allow outbound UDP 3478-3481 to the Teams media ranges (13.107.64.0/18, 52.112.0.0/14, 52.122.0.0/15) in every firewall on the path, and keep it out of the proxy and VPN tunnel.";
    if stats.rtts.is_empty() {
        return match fallback_ok {
            Some(true) => Check::warn(
                id,
                format!("{detail}; media can still flow over the relay's TCP fallback port, with more delay and worse quality"),
                open_udp,
            ),
            _ => Check::fail(id, detail, fixes::network(open_udp)),
        };
    }
    let mut problems = Vec::new();
    if stats.loss_percent() > limits.loss_percent {
        problems.push(format!("loss above {}%", limits.loss_percent));
    }
    if stats.avg_ms() > f64::from(limits.rtt_ms) {
        problems.push(format!("round trip above {} ms", limits.rtt_ms));
    }
    if stats.jitter_ms() > f64::from(limits.jitter_ms) {
        problems.push(format!("jitter above {} ms", limits.jitter_ms));
    }
    if problems.is_empty() {
        Check::pass(id, detail)
    } else {
        Check::warn(
            id,
            format!("{detail}; {}", problems.join(", ")),
            "Media quality will suffer: check for congested links, Wi-Fi, or media hairpinned through a VPN or proxy; send Teams media straight to the Internet.",
        )
    }
}

async fn interception(signin: &Signin, proxy: Option<&Proxy>, trust: &TrustStores, timeout: Duration) -> Check {
    let target = Target { host: signin.host.clone(), port: signin.port };
    let id = "tls.interception";
    let tcp: Result<TcpStream, String> = match proxy {
        None => connect_tcp(&target, timeout).await.map(|(s, _)| s).map_err(String::from),
        Some(p) => match proxy::connect_tunnel(p, &target, timeout).await {
            Ok((s, ProxyAnswer::Through(_))) => Ok(s),
            Ok((_, ProxyAnswer::AuthRequired(_))) => Err("the proxy demands authentication (407)".into()),
            Ok((_, ProxyAnswer::Refused(_, line))) => Err(format!("the proxy refused: {line}")),
            Err(e) => Err(e),
        },
    };
    let tcp = match tcp {
        Ok(s) => s,
        Err(e) => return Check::skip(id, format!("cannot reach {}: {e}", target.authority())),
    };
    let name = signin.name.clone().unwrap_or_else(|| signin.host.clone());
    let sni = match crate::tls::server_name(&target, Some(&name)) {
        Ok(s) => s,
        Err(e) => return Check::skip(id, e.to_string()),
    };
    let chain = match handshake(tcp, sni, rustls::ALL_VERSIONS, timeout).await {
        Ok(s) => s.chain,
        Err(f) if !f.chain.is_empty() => f.chain,
        Err(f) => {
            return Check::fail(
                id,
                format!("the TLS handshake with {name} failed: {}", f.reason),
                fixes::network("A middlebox is breaking TLS to the sign-in endpoint: exclude Microsoft 365 sign-in from TLS inspection."),
            )
        }
    };
    let outcome = match trust_outcome(&chain, trust) {
        Ok(o) => o,
        Err(e) => return Check::fail(id, e, "Exclude Microsoft 365 sign-in endpoints from TLS inspection."),
    };
    let org = outcome.root_organization.clone().unwrap_or_else(|| "(no organization)".into());
    let expected = signin.expected_root_organizations.iter().any(|o| Some(o) == outcome.root_organization.as_ref());
    let inspect_fix = fixes::network(
        "A TLS inspection device or security agent is re-signing Microsoft 365 traffic: exclude the Microsoft 365 Optimize and Allow endpoints (login.microsoftonline.com among them) from TLS inspection; Teams, WAM and Teams Rooms do not support it.",
    );
    if outcome.public && expected {
        Check::pass(id, format!("{name} presents a publicly trusted chain from {org}: no interception seen"))
    } else if outcome.public {
        Check::warn(
            id,
            format!(
                "{name} presents a publicly trusted chain, but from {org} ({}), not from {}",
                outcome.top_issuer,
                signin.expected_root_organizations.join(" or ")
            ),
            inspect_fix,
        )
    } else if outcome.trusted_by.is_empty() {
        Check::fail(
            id,
            format!(
                "{name} presents a chain from {} that no store trusts: the connection is being intercepted",
                outcome.top_issuer
            ),
            inspect_fix,
        )
    } else {
        Check::fail(
            id,
            format!(
                "{name} presents a chain from {} trusted only by the {}: a TLS inspection CA installed on this machine",
                outcome.top_issuer,
                outcome.trusted_by.join(", ")
            ),
            inspect_fix,
        )
    }
}
