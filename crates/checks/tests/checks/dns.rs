//! `check dns` against a loopback DNS server.

use std::net::Ipv4Addr;

use uctriage_checks::Status;

use crate::servers::{dns_server, Answer};
use crate::{assert_status, check};

#[test]
fn records_and_sbcs() {
    let addr = dns_server(vec![
        ("lyncdiscover.contoso.test", Answer::Cname("webdir.online.lync.com")),
        ("sip.contoso.test", Answer::Cname("sip.onprem.contoso.test")),
        ("_sip._tls.contoso.test", Answer::Srv(443, "sipdir.online.lync.com")),
        ("sbc.contoso.test", Answer::A(Ipv4Addr::new(198, 51, 100, 7))),
        ("sbc-internal.contoso.test", Answer::A(Ipv4Addr::new(10, 0, 0, 5))),
    ]);
    let resolver = addr.to_string();
    let r = check(&[
        "--timeout",
        "2",
        "dns",
        "contoso.test",
        "--resolver",
        &resolver,
        "--sbc",
        "sbc.contoso.test",
        "--sbc",
        "sbc-internal.contoso.test",
        "--sbc",
        "missing.contoso.test",
    ]);
    assert_status(&r, "dns.lyncdiscover", Status::Pass);
    assert_status(&r, "dns.sip", Status::Warn);
    assert_status(&r, "dns._sip._tls", Status::Pass);
    assert_status(&r, "dns._sipfederationtls._tcp", Status::Fail);
    assert!(r.get("dns._sipfederationtls._tcp").unwrap().fix.as_ref().unwrap().contains("sipfed.online.lync.com"));
    assert_status(&r, "dns.sbc.sbc.contoso.test", Status::Pass);
    assert_status(&r, "dns.sbc.sbc-internal.contoso.test", Status::Fail);
    assert_status(&r, "dns.sbc.missing.contoso.test", Status::Fail);
    assert_eq!(r.exit_code(), 1);
}

#[test]
fn wrong_srv_port_fails() {
    let addr = dns_server(vec![("_sipfederationtls._tcp.fabrikam.test", Answer::Srv(443, "sipfed.online.lync.com"))]);
    let resolver = addr.to_string();
    let r = check(&["--timeout", "2", "dns", "fabrikam.test", "--resolver", &resolver]);
    assert_status(&r, "dns._sipfederationtls._tcp", Status::Fail);
    assert!(r.get("dns._sipfederationtls._tcp").unwrap().detail.contains("wrong port"));
}

#[test]
fn bad_resolver_flag_is_a_usage_error() {
    let (code, _) = crate::run(&["dns", "contoso.test", "--resolver", "not-an-ip"]);
    assert_eq!(code, 2);
}
