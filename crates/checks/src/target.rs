//! HOST[:PORT] targets from the command line.

use std::net::IpAddr;

use crate::Error;

/// A host (name or IP address) and a port.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub host: String,
    pub port: u16,
}

impl Target {
    /// Parse `host`, `host:port`, `1.2.3.4:port`, `[::1]:port` or a bare IPv6 address.
    pub fn parse(raw: &str, default_port: u16) -> Result<Target, Error> {
        let bad = |reason: &str| Error::Target { target: raw.to_string(), reason: reason.to_string() };
        let raw_trim = raw.trim();
        if raw_trim.is_empty() {
            return Err(bad("empty"));
        }
        if raw_trim.contains("://") {
            return Err(bad("give a host name or address, not a URL"));
        }
        let (host, port) = if let Some(rest) = raw_trim.strip_prefix('[') {
            let (h, after) = rest.split_once(']').ok_or_else(|| bad("missing ]"))?;
            let port = match after.strip_prefix(':') {
                Some(p) => Some(p),
                None if after.is_empty() => None,
                None => return Err(bad("unexpected text after ]")),
            };
            (h.to_string(), port)
        } else if raw_trim.parse::<IpAddr>().is_ok() {
            (raw_trim.to_string(), None)
        } else {
            match raw_trim.rsplit_once(':') {
                Some((h, p)) => (h.to_string(), Some(p)),
                None => (raw_trim.to_string(), None),
            }
        };
        let port = match port {
            Some(p) => p.parse::<u16>().ok().filter(|&p| p != 0).ok_or_else(|| bad("the port is not 1-65535"))?,
            None => default_port,
        };
        if host.parse::<IpAddr>().is_err() && !is_hostname(&host) {
            return Err(bad("not a host name or IP address"));
        }
        Ok(Target { host, port })
    }

    /// The host as an IP address, when it is one.
    pub fn ip(&self) -> Option<IpAddr> {
        self.host.parse().ok()
    }

    /// `host:port`, with IPv6 hosts in brackets.
    pub fn authority(&self) -> String {
        match self.ip() {
            Some(IpAddr::V6(v6)) => format!("[{v6}]:{}", self.port),
            _ => format!("{}:{}", self.host, self.port),
        }
    }
}

/// A DNS host name: labels of letters, digits and hyphens (underscores allowed for SRV owners),
/// none empty, none starting or ending with a hyphen, at most 253 characters.
pub fn is_hostname(name: &str) -> bool {
    let name = name.strip_suffix('.').unwrap_or(name);
    !name.is_empty()
        && name.len() <= 253
        && name.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        })
}

/// A fully qualified domain name: a host name with at least two labels and a top-level label
/// that is not all digits.
pub fn is_fqdn(name: &str) -> bool {
    let name = name.strip_suffix('.').unwrap_or(name);
    is_hostname(name)
        && !name.contains('_')
        && name.contains('.')
        && name.rsplit('.').next().is_some_and(|tld| !tld.bytes().all(|b| b.is_ascii_digit()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets() {
        assert_eq!(
            Target::parse("sbc.example.com", 5061).unwrap(),
            Target { host: "sbc.example.com".into(), port: 5061 }
        );
        assert_eq!(Target::parse("127.0.0.1:8443", 443).unwrap().port, 8443);
        assert_eq!(Target::parse("[::1]:5061", 443).unwrap().host, "::1");
        assert_eq!(Target::parse("::1", 443).unwrap().port, 443);
        assert!(Target::parse("https://x.example.com", 443).is_err());
        assert!(Target::parse("host:0", 443).is_err());
        assert!(Target::parse("bad host", 443).is_err());
    }

    #[test]
    fn fqdns() {
        assert!(is_fqdn("conf01.vc.example.com"));
        assert!(is_fqdn("sbc.example.com."));
        assert!(!is_fqdn("localhost"));
        assert!(!is_fqdn("10.0.0.1"));
        assert!(!is_fqdn("-bad.example.com"));
        assert!(!is_fqdn("a..example.com"));
    }
}
