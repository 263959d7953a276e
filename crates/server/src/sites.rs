//! A subnet-to-site map: a room whose site nobody set takes the site of the subnet its
//! heartbeat's IPv4 address falls in.
//!
//! ```toml
//! [[site]]
//! name = "Building 1"
//! subnets = ["10.1.0.0/16", "192.0.2.0/26"]
//! ```

use std::net::Ipv4Addr;

use serde::Deserialize;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Raw {
    site: Vec<RawSite>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSite {
    name: String,
    subnets: Vec<String>,
}

/// Subnets and their sites; the longest prefix wins.
#[derive(Debug, Clone, Default)]
pub struct SiteMap {
    nets: Vec<(u32, u32, String)>,
}

fn cidr(s: &str) -> Result<(u32, u32), String> {
    let (addr, len) = s.split_once('/').unwrap_or((s, "32"));
    let ip: Ipv4Addr = addr.trim().parse().map_err(|_| format!("{s:?} is not an IPv4 subnet"))?;
    let len: u32 = len.trim().parse().ok().filter(|l| *l <= 32).ok_or_else(|| format!("{s:?}: bad prefix length"))?;
    let mask = if len == 0 { 0 } else { u32::MAX << (32 - len) };
    Ok((u32::from(ip) & mask, mask))
}

impl SiteMap {
    pub fn parse(text: &str) -> Result<SiteMap, String> {
        let raw: Raw = toml::from_str(text).map_err(|e| e.to_string())?;
        let mut nets = Vec::new();
        for s in raw.site {
            for n in &s.subnets {
                let (net, mask) = cidr(n).map_err(|e| format!("site {:?}: {e}", s.name))?;
                nets.push((net, mask, s.name.clone()));
            }
        }
        // Longest prefix first.
        nets.sort_by_key(|n| std::cmp::Reverse(n.1));
        Ok(SiteMap { nets })
    }

    /// The site of an address, if a subnet holds it.
    pub fn site_of(&self, ipv4: &str) -> Option<&str> {
        let ip = u32::from(ipv4.trim().parse::<Ipv4Addr>().ok()?);
        self.nets.iter().find(|(net, mask, _)| ip & mask == *net).map(|(_, _, s)| s.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_longest_prefix_names_the_site() {
        let m = SiteMap::parse(
            "[[site]]\nname = \"Campus\"\nsubnets = [\"10.0.0.0/8\"]\n[[site]]\nname = \"Building 1\"\nsubnets = [\"10.1.0.0/16\", \"192.0.2.7\"]\n",
        )
        .unwrap();
        assert_eq!(m.site_of("10.1.2.3"), Some("Building 1"));
        assert_eq!(m.site_of("10.9.2.3"), Some("Campus"));
        assert_eq!(m.site_of("192.0.2.7"), Some("Building 1"));
        assert_eq!(m.site_of("192.0.2.8"), None);
        assert_eq!(m.site_of("not an address"), None);
        assert!(SiteMap::parse("[[site]]\nname = \"x\"\nsubnets = [\"10.0.0.0/40\"]\n").is_err());
    }
}
