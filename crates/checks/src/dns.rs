//! `check dns`: the Teams / Skype for Business records of a SIP domain and where they point
//! (`data/dns-records.toml`), and the A/AAAA records of SBC FQDNs.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use hickory_resolver::config::{NameServerConfig, ResolveHosts, ResolverConfig, ResolverOpts};
use hickory_resolver::name_server::TokioConnectionProvider;
use hickory_resolver::proto::rr::{RData, RecordType};
use hickory_resolver::proto::xfer::Protocol;
use hickory_resolver::{Name, ResolveError, TokioResolver};
use serde::Deserialize;

use crate::target::is_fqdn;
use crate::{Check, DnsArgs, Error, Report};

const RECORDS: &str = include_str!("../data/dns-records.toml");

/// One record a SIP domain should publish.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExpectedRecord {
    /// The owner name's prefix under the domain (`lyncdiscover`, `_sip._tls`).
    pub name: String,
    /// `CNAME` or `SRV`.
    #[serde(rename = "type")]
    pub kind: String,
    pub target: String,
    pub port: Option<u16>,
    pub why: String,
}

#[derive(Debug, Deserialize)]
struct RecordsFile {
    record: Vec<ExpectedRecord>,
}

/// The records every SIP domain is checked for.
pub fn expected_records() -> Vec<ExpectedRecord> {
    toml::from_str::<RecordsFile>(RECORDS).expect("the built-in DNS record list is valid (tested)").record
}

fn resolver(flag: Option<&str>, timeout: Duration) -> Result<(TokioResolver, String), Error> {
    let mut opts = ResolverOpts::default();
    opts.timeout = timeout;
    opts.attempts = 2;
    opts.cache_size = 0;
    opts.ndots = 0;
    opts.use_hosts_file = ResolveHosts::Never;
    let provider = TokioConnectionProvider::default();
    let Some(raw) = flag else {
        let builder = TokioResolver::builder(provider)
            .map_err(|e| Error::Usage(format!("cannot read the system DNS configuration: {e}; give --resolver IP")))?;
        return Ok((builder.with_options(opts).build(), "the system resolver".into()));
    };
    let addr: SocketAddr = raw
        .parse()
        .or_else(|_| raw.parse::<IpAddr>().map(|ip| SocketAddr::new(ip, 53)))
        .map_err(|_| Error::Usage(format!("--resolver {raw:?}: give an IP address or IP:PORT")))?;
    let mut config = ResolverConfig::new();
    config.add_name_server(NameServerConfig::new(addr, Protocol::Udp));
    config.add_name_server(NameServerConfig::new(addr, Protocol::Tcp));
    Ok((TokioResolver::builder_with_config(config, provider).with_options(opts).build(), format!("resolver {addr}")))
}

fn fqdn(name: &str) -> Result<Name, Error> {
    let mut n = Name::from_utf8(name).map_err(|e| Error::Usage(format!("{name:?} is not a DNS name: {e}")))?;
    n.set_fqdn(true);
    Ok(n)
}

fn plain(name: &Name) -> String {
    name.to_utf8().trim_end_matches('.').to_ascii_lowercase()
}

fn error_text(e: &ResolveError) -> String {
    if e.is_nx_domain() {
        "the name does not exist (NXDOMAIN)".into()
    } else if e.is_no_records_found() {
        "no record of that type".into()
    } else {
        e.to_string()
    }
}

fn is_missing(e: &ResolveError) -> bool {
    e.is_nx_domain() || e.is_no_records_found()
}

pub async fn check(args: &DnsArgs, timeout: Duration) -> Result<Report, Error> {
    let domain = args.domain.trim().trim_end_matches('.').to_ascii_lowercase();
    if !is_fqdn(&domain) {
        return Err(Error::Usage(format!("{:?} is not a domain name", args.domain)));
    }
    for sbc in &args.sbc {
        if !is_fqdn(sbc) {
            return Err(Error::Usage(format!("--sbc {sbc:?} is not an FQDN")));
        }
    }
    let (resolver, via) = resolver(args.resolver.as_deref(), timeout)?;
    let mut report = Report::new(format!("dns {domain} (via {via})"));
    if !args.sbc_only {
        for record in expected_records() {
            report.push(check_record(&resolver, &domain, &record).await?);
        }
    }
    for sbc in &args.sbc {
        report.push(check_sbc(&resolver, sbc).await?);
    }
    Ok(report)
}

async fn check_record(resolver: &TokioResolver, domain: &str, record: &ExpectedRecord) -> Result<Check, Error> {
    let owner = format!("{}.{domain}", record.name);
    let id = format!("dns.{}", record.name);
    let expected = match record.port {
        Some(port) => format!("SRV 100 1 {port} {}", record.target),
        None => format!("CNAME {}", record.target),
    };
    let missing_fix = format!(
        "Add {owner} {expected} at the DNS host of {domain} (the Microsoft 365 admin center lists it under the domain's DNS records); it is needed for {}.",
        record.why
    );
    let elsewhere_fix = format!(
        "For a cloud-only tenant point {owner} to {expected}; keep the current target only if an on-premises or hybrid Skype for Business deployment serves this domain."
    );
    let name = fqdn(&owner)?;
    if record.kind.eq_ignore_ascii_case("SRV") {
        let found = match resolver.lookup(name, RecordType::SRV).await {
            Ok(l) => l,
            Err(e) if is_missing(&e) => {
                return Ok(Check::fail(id, format!("{owner}: {}", error_text(&e)), missing_fix))
            }
            Err(e) => return Ok(lookup_failed(id, &owner, &e)),
        };
        let srvs: Vec<_> =
            found.iter().filter_map(|r| if let RData::SRV(s) = r { Some(s.clone()) } else { None }).collect();
        let listed: Vec<String> = srvs
            .iter()
            .map(|s| format!("SRV {} {} {} {}", s.priority(), s.weight(), s.port(), plain(s.target())))
            .collect();
        let good = srvs.iter().any(|s| plain(s.target()) == record.target && Some(s.port()) == record.port);
        return Ok(if good {
            Check::pass(id, format!("{owner} {}", listed.join(", ")))
        } else if srvs.iter().any(|s| plain(s.target()) == record.target) {
            Check::fail(
                id,
                format!("{owner} {}: right target, wrong port", listed.join(", ")),
                format!("Set the port to {}.", record.port.unwrap_or(0)),
            )
        } else {
            Check::warn(id, format!("{owner} {} (Microsoft 365 expects {expected})", listed.join(", ")), elsewhere_fix)
        });
    }
    match resolver.lookup(name.clone(), RecordType::CNAME).await {
        Ok(found) => {
            let targets: Vec<String> =
                found.iter().filter_map(|r| if let RData::CNAME(c) = r { Some(plain(&c.0)) } else { None }).collect();
            if targets.iter().any(|t| t == &record.target) {
                Ok(Check::pass(id, format!("{owner} CNAME {}", targets.join(", "))))
            } else {
                Ok(Check::warn(
                    id,
                    format!("{owner} CNAME {} (Microsoft 365 expects {expected})", targets.join(", ")),
                    elsewhere_fix,
                ))
            }
        }
        Err(e) if is_missing(&e) => {
            // Some DNS hosts flatten CNAMEs into A records: the name works but cannot be verified.
            if let Ok(a) = resolver.lookup(name, RecordType::A).await {
                let ips: Vec<String> =
                    a.iter().filter_map(|r| if let RData::A(ip) = r { Some(ip.to_string()) } else { None }).collect();
                if !ips.is_empty() {
                    return Ok(Check::warn(
                        id,
                        format!("{owner} has A {} but no CNAME; Microsoft 365 expects {expected}", ips.join(", ")),
                        format!("Replace the A record with {expected}; fixed addresses break when Microsoft moves the service."),
                    ));
                }
            }
            Ok(Check::fail(id, format!("{owner}: {}", error_text(&e)), missing_fix))
        }
        Err(e) => Ok(lookup_failed(id, &owner, &e)),
    }
}

fn lookup_failed(id: String, owner: &str, e: &ResolveError) -> Check {
    Check::fail(
        id,
        format!("{owner}: the lookup failed: {}", error_text(e)),
        "Check that the DNS server answers (try another with --resolver) and that UDP/TCP 53 to it is allowed.",
    )
}

/// Addresses Microsoft's SIP proxies cannot reach.
fn is_private(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(a) => {
            let o = a.octets();
            a.is_private()
                || a.is_loopback()
                || a.is_link_local()
                || a.is_unspecified()
                || o[0] == 0
                || (o[0] == 100 && (64..128).contains(&o[1]))
        }
        IpAddr::V6(a) => {
            a.is_loopback()
                || a.is_unspecified()
                || (a.segments()[0] & 0xfe00) == 0xfc00
                || (a.segments()[0] & 0xffc0) == 0xfe80
        }
    }
}

async fn check_sbc(resolver: &TokioResolver, sbc: &str) -> Result<Check, Error> {
    let sbc = sbc.trim_end_matches('.').to_ascii_lowercase();
    let id = format!("dns.sbc.{sbc}");
    let name = fqdn(&sbc)?;
    let mut ips: Vec<IpAddr> = Vec::new();
    let mut errors = Vec::new();
    for kind in [RecordType::A, RecordType::AAAA] {
        match resolver.lookup(name.clone(), kind).await {
            Ok(l) => ips.extend(l.iter().filter_map(|r| match r {
                RData::A(a) => Some(IpAddr::V4(a.0)),
                RData::AAAA(a) => Some(IpAddr::V6(a.0)),
                _ => None,
            })),
            Err(e) if is_missing(&e) => {}
            Err(e) => errors.push(format!("{kind}: {}", error_text(&e))),
        }
    }
    let listed: Vec<String> = ips.iter().map(ToString::to_string).collect();
    if ips.is_empty() {
        let why = if errors.is_empty() { "no A or AAAA record".to_string() } else { errors.join("; ") };
        return Ok(Check::fail(
            id,
            format!("{sbc}: {why}"),
            "Publish an A record for the SBC FQDN in public DNS pointing at the SBC's public address; Microsoft's SIP proxies resolve it for every call and every OPTIONS.",
        ));
    }
    if !ips.iter().any(|&ip| ip.is_ipv4()) {
        return Ok(Check::fail(
            id,
            format!("{sbc}: only AAAA {}", listed.join(", ")),
            "Add an A record: Direct Routing signals to SBCs over IPv4.",
        ));
    }
    if ips.iter().all(|&ip| is_private(ip)) {
        return Ok(Check::fail(
            id,
            format!("{sbc}: only private addresses {}", listed.join(", ")),
            "Point the SBC FQDN at the SBC's public (NATed) address in public DNS; private addresses are unreachable from Microsoft 365.",
        ));
    }
    Ok(Check::pass(id, format!("{sbc}: {}", listed.join(", "))))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn record_list_is_valid() {
        let records = expected_records();
        assert_eq!(records.len(), 4);
        for r in &records {
            assert!(r.kind == "CNAME" || r.kind == "SRV", "{r:?}");
            assert_eq!(r.kind == "SRV", r.port.is_some(), "{r:?}");
            assert!(is_fqdn(&r.target));
        }
    }

    #[test]
    fn private_addresses() {
        assert!(is_private("10.1.2.3".parse().unwrap()));
        assert!(is_private("100.64.0.1".parse().unwrap()));
        assert!(is_private("fd00::1".parse().unwrap()));
        assert!(!is_private("198.51.100.7".parse().unwrap()));
    }
}
