//! `check network` with a `--targets` file of loopback peers: TCP, a STUN responder, a silent UDP
//! port, the sign-in TLS endpoint, and a proxy that answers 407.

use std::net::SocketAddr;

use uctriage_checks::Status;

use crate::pki::{Key, Pki, TempDir, Validity};
use crate::{assert_status, check, servers};

const SIGNIN: &str = "login.example.test";

struct Lab {
    dir: TempDir,
    ca: std::path::PathBuf,
    open: SocketAddr,
    closed: SocketAddr,
    stun: SocketAddr,
    silent: SocketAddr,
}

fn lab() -> Lab {
    let dir = TempDir::new();
    let pki = Pki::new("uctriage test");
    let ca = pki.root_file(&dir);
    Lab {
        ca,
        dir,
        open: servers::tcp_listener(),
        closed: servers::closed_tcp_port(),
        stun: servers::stun_responder(),
        silent: servers::silent_udp(),
    }
}

fn targets(lab: &Lab, udp_ports: &[u16], signin: SocketAddr, org: &str) -> std::path::PathBuf {
    let ports: Vec<String> = udp_ports.iter().map(ToString::to_string).collect();
    let text = format!(
        r#"
[[tcp]]
name = "open"
host = "127.0.0.1"
ports = [{open}]

[[tcp]]
name = "closed"
host = "127.0.0.1"
ports = [{closed}]

[[relay]]
name = "loopback relay"
host = "127.0.0.1"
udp_ports = [{ports}]
tcp_fallback_port = {open}

[signin]
host = "127.0.0.1"
port = {signin_port}
name = "{SIGNIN}"
expected_root_organizations = ["{org}"]
"#,
        open = lab.open.port(),
        closed = lab.closed.port(),
        ports = ports.join(", "),
        signin_port = signin.port(),
    );
    lab.dir.write("targets.toml", text)
}

fn network(lab: &Lab, targets: &std::path::Path, proxy: &str) -> uctriage_checks::Report {
    check(&[
        "--timeout",
        "2",
        "network",
        "--targets",
        targets.to_str().unwrap(),
        "--proxy",
        proxy,
        "--probes",
        "3",
        "--ca-file",
        lab.ca.to_str().unwrap(),
    ])
}

fn signin_server(pki: &Pki) -> SocketAddr {
    let (chain, key) = pki.leaf(&[SIGNIN], Key::Rsa, Validity::Good);
    servers::tls_server(chain, key)
}

#[test]
fn direct_path_with_stun_and_no_interception() {
    let lab = lab();
    let pki = Pki::new("uctriage test");
    // The lab's CA file and the sign-in server must share a root: rebuild the CA file from `pki`.
    let ca = pki.root_file(&lab.dir);
    let lab = Lab { ca, ..lab };
    let t = targets(&lab, &[lab.stun.port(), lab.silent.port()], signin_server(&pki), "uctriage test");
    let r = network(&lab, &t, "none");
    assert_status(&r, "proxy.detected", Status::Pass);
    assert_status(&r, &format!("tcp.127.0.0.1:{}", lab.open.port()), Status::Pass);
    assert_status(&r, &format!("tcp.127.0.0.1:{}", lab.closed.port()), Status::Fail);
    assert_status(&r, &format!("udp.127.0.0.1:{}", lab.stun.port()), Status::Pass);
    let stun = r.get(&format!("udp.127.0.0.1:{}", lab.stun.port())).unwrap();
    assert!(stun.detail.contains("3/3 answered, 0% loss"), "{stun:?}");
    // Another relay port answered, so the silent one is a plain failure with no fallback needed.
    assert_status(&r, &format!("udp.127.0.0.1:{}", lab.silent.port()), Status::Fail);
    assert_status(&r, "tls.interception", Status::Pass);
    assert_eq!(r.exit_code(), 1);
}

#[test]
fn udp_blocked_falls_back_to_tcp_and_interception_is_caught() {
    let lab = lab();
    // The sign-in endpoint presents a chain from an inspection CA that no store trusts.
    let inspection = Pki::new("Corp Inspection");
    let t = targets(&lab, &[lab.silent.port()], signin_server(&inspection), "uctriage test");
    let r = network(&lab, &t, "none");
    assert_status(&r, &format!("udp.127.0.0.1:{}", lab.silent.port()), Status::Warn);
    assert_status(&r, &format!("relay.tcp-fallback.127.0.0.1:{}", lab.open.port()), Status::Pass);
    assert_status(&r, "tls.interception", Status::Fail);
    assert!(r.get("tls.interception").unwrap().detail.contains("Corp Inspection"));
}

#[test]
fn proxy_demanding_authentication_fails_with_the_kb_fix() {
    let lab = lab();
    let pki = Pki::new("uctriage test");
    let t = targets(&lab, &[lab.stun.port()], signin_server(&pki), "uctriage test");
    let proxy = format!("http://{}", servers::proxy_407());
    let r = network(&lab, &t, &proxy);
    assert_status(&r, "proxy.detected", Status::Pass);
    assert_status(&r, "proxy.auth", Status::Fail);
    let c = r.get("proxy.auth").unwrap();
    assert!(c.detail.contains("407") && c.detail.contains("Negotiate"), "{c:?}");
    assert!(c.fix.as_ref().unwrap().contains("uctriage explain \"HTTP 407\""), "{c:?}");
    assert_status(&r, &format!("tcp.127.0.0.1:{}", lab.open.port()), Status::Fail);
    // UDP does not go through the proxy.
    assert_status(&r, &format!("udp.127.0.0.1:{}", lab.stun.port()), Status::Pass);
    assert_status(&r, "tls.interception", Status::Skip);
}

#[test]
fn the_builtin_endpoint_list_is_valid() {
    let e = uctriage_checks::Endpoints::builtin();
    assert!(e.tcp.iter().any(|t| t.host == "login.microsoftonline.com" && t.ports.contains(&443)));
    let relay = e.relay.first().expect("a relay");
    assert_eq!(relay.udp_ports, vec![3478, 3479, 3480, 3481]);
    assert_eq!(relay.tcp_fallback_port, Some(443));
    assert_eq!(e.ranges().len(), 3);
    assert!(e.signin.is_some());
    assert!(uctriage_checks::Endpoints::parse("[[tcp]]\nname = \"x\"\nhost = \"bad host\"\nports = [443]").is_err());
    assert!(uctriage_checks::Endpoints::parse("media_ranges = [\"52.112.0.1/14\"]").is_err());
}

#[test]
fn a_name_that_does_not_resolve_is_a_dns_failure_not_a_firewall_one() {
    // `.invalid` never resolves, with or without a network: no test here reaches the outside.
    let lab = lab();
    let text = format!(
        "[[tcp]]\nname = \"nowhere\"\nhost = \"nothere.invalid\"\nports = [443]\n\n[[tcp]]\nname = \"closed\"\nhost = \"127.0.0.1\"\nports = [{}]\n",
        lab.closed.port()
    );
    let t = lab.dir.write("dns-targets.toml", text);
    let r = network(&lab, &t, "none");
    assert_status(&r, "tcp.nothere.invalid:443", Status::Fail);
    let c = r.get("tcp.nothere.invalid:443").unwrap();
    assert!(c.detail.contains("DNS: nothere.invalid does not resolve"), "{c:?}");
    let fix = c.fix.as_deref().unwrap();
    assert!(fix.contains("nslookup nothere.invalid") && !fix.contains("in the firewall"), "{c:?}");
    // A port that resolves but refuses keeps the firewall fix.
    let closed = r.get(&format!("tcp.127.0.0.1:{}", lab.closed.port())).unwrap();
    assert!(closed.fix.as_deref().unwrap().contains("in the firewall") && !closed.detail.contains("DNS"), "{closed:?}");
}
