//! The endpoint list `check network` probes: the built-in published Teams set
//! (`data/teams-endpoints.toml`) or a `--targets` file of the same shape.

use std::path::Path;

use serde::Deserialize;

use crate::target::is_hostname;
use crate::{Cidr, Error};

const BUILTIN: &str = include_str!("../data/teams-endpoints.toml");

/// Everything `check network` will probe.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Endpoints {
    #[serde(default)]
    pub tcp: Vec<TcpEndpoint>,
    #[serde(default)]
    pub relay: Vec<Relay>,
    #[serde(default)]
    pub media_ranges: Vec<String>,
    pub signin: Option<Signin>,
    #[serde(default)]
    pub thresholds: Thresholds,
}

/// Media quality limits: above them a relay probe warns.
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Thresholds {
    pub rtt_ms: u32,
    pub loss_percent: u32,
    pub jitter_ms: u32,
}

impl Default for Thresholds {
    fn default() -> Self {
        Thresholds { rtt_ms: 100, loss_percent: 1, jitter_ms: 30 }
    }
}

/// A host that must answer on TCP.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TcpEndpoint {
    pub name: String,
    pub host: String,
    pub ports: Vec<u16>,
}

/// A media relay: STUN on UDP, TCP as the fallback.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Relay {
    pub name: String,
    pub host: String,
    pub udp_ports: Vec<u16>,
    pub tcp_fallback_port: Option<u16>,
}

/// The sign-in endpoint for the interception check.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Signin {
    pub host: String,
    pub port: u16,
    /// The SNI and certificate name, when `host` is an address (a test lab).
    pub name: Option<String>,
    pub expected_root_organizations: Vec<String>,
}

impl Endpoints {
    /// The published Teams endpoint set compiled into the binary.
    pub fn builtin() -> Endpoints {
        Self::parse(BUILTIN).expect("the built-in endpoint list is valid (tested)")
    }

    /// Read a `--targets` file.
    pub fn from_file(path: &Path) -> Result<Endpoints, Error> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::read(path, e))?;
        Self::parse(&text).map_err(|m| Error::parse(path, m))
    }

    /// Parse and validate.
    pub fn parse(text: &str) -> Result<Endpoints, String> {
        let e: Endpoints = toml::from_str(text).map_err(|e| e.to_string())?;
        e.validate()?;
        Ok(e)
    }

    fn validate(&self) -> Result<(), String> {
        let host_ok = |h: &str| h.parse::<std::net::IpAddr>().is_ok() || is_hostname(h);
        for t in &self.tcp {
            if !host_ok(&t.host) || t.ports.is_empty() || t.ports.contains(&0) {
                return Err(format!("tcp endpoint {:?}: needs a host and ports 1-65535", t.name));
            }
        }
        for r in &self.relay {
            if !host_ok(&r.host) || r.udp_ports.is_empty() || r.udp_ports.contains(&0) {
                return Err(format!("relay {:?}: needs a host and UDP ports 1-65535", r.name));
            }
        }
        for range in &self.media_ranges {
            let c: Cidr = range.parse().map_err(|e| format!("media_ranges: {e}"))?;
            if c.has_host_bits() {
                return Err(format!("media_ranges: {range} has host bits set"));
            }
        }
        if let Some(s) = &self.signin {
            if !host_ok(&s.host) || s.port == 0 {
                return Err("signin: needs a host and a port".into());
            }
        }
        Ok(())
    }

    /// The parsed media ranges.
    pub fn ranges(&self) -> Vec<Cidr> {
        self.media_ranges.iter().filter_map(|r| r.parse().ok()).collect()
    }
}
