//! IPv4 and IPv6 prefixes in CIDR notation, with the host-bits check that Azure applies.

use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;

/// An address and a prefix length as written, which may or may not be a network address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cidr {
    pub addr: IpAddr,
    pub prefix: u8,
}

impl FromStr for Cidr {
    type Err = String;

    /// `a.b.c.d/n`, `a.b.c.d` (a /32), or the IPv6 forms.
    fn from_str(s: &str) -> Result<Self, String> {
        let s = s.trim();
        let (addr, prefix) = match s.split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (s, None),
        };
        let addr: IpAddr = addr.parse().map_err(|_| format!("{addr:?} is not an IP address"))?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            None => max,
            Some(p) => match p.parse::<u8>() {
                Ok(n) if n <= max => n,
                _ => return Err(format!("prefix length {p:?} is not 0-{max}")),
            },
        };
        Ok(Cidr { addr, prefix })
    }
}

impl fmt::Display for Cidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr, self.prefix)
    }
}

impl Cidr {
    fn bits(&self) -> (u128, u32) {
        match self.addr {
            IpAddr::V4(a) => (u128::from(u32::from(a)), 32),
            IpAddr::V6(a) => (u128::from(a), 128),
        }
    }

    fn with_bits(&self, value: u128, prefix: u8) -> Cidr {
        let addr = match self.addr {
            IpAddr::V4(_) => IpAddr::V4((value as u32).into()),
            IpAddr::V6(_) => IpAddr::V6(value.into()),
        };
        Cidr { addr, prefix }
    }

    fn host_mask(&self) -> u128 {
        let (_, width) = self.bits();
        let host_bits = width - u32::from(self.prefix);
        if host_bits == 0 {
            0
        } else {
            (u128::MAX >> (128 - host_bits)) & if width == 32 { u128::from(u32::MAX) } else { u128::MAX }
        }
    }

    /// True when bits below the prefix are set (`91.90.42.96/26`), which Azure rejects.
    pub fn has_host_bits(&self) -> bool {
        self.bits().0 & self.host_mask() != 0
    }

    #[must_use]
    /// The network this prefix lies in (`91.90.42.64/26` for `91.90.42.96/26`).
    pub fn network(&self) -> Cidr {
        self.with_bits(self.bits().0 & !self.host_mask(), self.prefix)
    }

    #[must_use]
    /// The shortest prefix for which the address as written is the network address
    /// (`91.90.42.96/27` for `91.90.42.96/26`).
    pub fn tightest_valid(&self) -> Cidr {
        let (value, width) = self.bits();
        let trailing = if value == 0 { width } else { value.trailing_zeros().min(width) };
        let prefix = (width - trailing).max(u32::from(self.prefix)) as u8;
        self.with_bits(value, prefix)
    }

    /// Whether `ip` lies inside this prefix (of the same family).
    pub fn contains(&self, ip: IpAddr) -> bool {
        let other = Cidr { addr: ip, prefix: self.prefix };
        self.addr.is_ipv4() == ip.is_ipv4() && other.network().addr == self.network().addr
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_bits_of_the_pexip_example() {
        let c: Cidr = "91.90.42.96/26".parse().unwrap();
        assert!(c.has_host_bits());
        assert_eq!(c.network().to_string(), "91.90.42.64/26");
        assert_eq!(c.tightest_valid().to_string(), "91.90.42.96/27");
        assert!(!"91.90.42.64/26".parse::<Cidr>().unwrap().has_host_bits());
        assert!(!"10.0.0.1".parse::<Cidr>().unwrap().has_host_bits());
        assert!(!"0.0.0.0/0".parse::<Cidr>().unwrap().has_host_bits());
        assert!("2001:db8::1/64".parse::<Cidr>().unwrap().has_host_bits());
        assert!("1.2.3.4/33".parse::<Cidr>().is_err());
        assert!("1.2.3/24".parse::<Cidr>().is_err());
    }

    #[test]
    fn contains() {
        let c: Cidr = "52.112.0.0/14".parse().unwrap();
        assert!(c.contains("52.113.1.2".parse().unwrap()));
        assert!(!c.contains("52.116.0.1".parse().unwrap()));
        assert!(!c.contains("::1".parse().unwrap()));
    }
}
