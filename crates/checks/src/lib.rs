//! Active checks: `uctriage check <kind> ...`.
//!
//! Each kind probes one thing from the machine where the problem is and returns a [`Report`]: a
//! target and a list of [`Check`]s, each `pass`, `warn`, `fail` or `skip`, with the detail seen and,
//! for anything that is not a pass, the fix. The kinds:
//!
//! | kind | what it looks at |
//! |---|---|
//! | `network` | TCP 443/80 to the published Teams endpoints, STUN to the media relays on UDP 3478–3481, the proxy and whether it wants credentials, TLS interception of the sign-in endpoint |
//! | `tls` | a live handshake: protocol, the chain and its trust, expiry, names, key and signature |
//! | `cert` | the same certificate checks offline on PEM, DER or PKCS#12, plus the PKCS#12 key provider |
//! | `dns` | the Teams / Skype for Business records of a domain and an SBC's addresses |
//! | `sip` | a SIP OPTIONS over UDP, TCP or TLS |
//! | `pexip-vars` | the Pexip Teams Connector variables script |
//! | `route-rule` | a Pexip call routing rule against sample aliases |
//! | `account` | a Teams Rooms resource account read from Microsoft Graph (read-only), in any cloud |
//!
//! Probes only go to the targets named on the command line or in the published endpoint list
//! (`data/teams-endpoints.toml`), each with a bounded timeout and retry count. tokio lives in this
//! crate only: [`run`] builds a single-threaded runtime for the duration of one check.
//!
//! ```no_run
//! use clap::Parser;
//!
//! #[derive(Parser)]
//! struct Cli {
//!     #[command(flatten)]
//!     check: uctriage_checks::CheckArgs,
//! }
//! let cli = Cli::parse_from(["uctriage", "route-rule", "--match", r"(\d{9,12})@vc\.example\.com", "--replace", r"\1", "123456789@vc.example.com"]);
//! let code = uctriage_checks::run(&cli.check, &mut std::io::stdout());
//! assert_eq!(code, 0);
//! ```

// Report details are short strings built once per check; `push_str(&format!(..))` reads better
// there than `write!` into a String with its ignored Result.
#![allow(clippy::format_push_string)]

pub mod account;
mod certfile;
mod certinfo;
mod cidr;
mod der;
mod dns;
mod endpoints;
mod error;
mod fixes;
mod network;
mod pexip_vars;
mod pkcs12;
mod proxy;
mod report;
mod route_rule;
mod sip;
pub mod stun;
mod target;
mod time;
mod tls;

use std::io::Write;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Subcommand, ValueEnum};

pub use cidr::Cidr;
pub use endpoints::Endpoints;
pub use error::Error;
pub use report::{Check, Report, Status};

/// `uctriage check` flags.
#[derive(Debug, Args)]
pub struct CheckArgs {
    /// Output format.
    #[arg(long, value_enum, ignore_case = true, default_value_t = Format::Text, global = true)]
    pub format: Format,

    /// Seconds to wait for any one probe (connect, handshake, answer) before giving up.
    #[arg(long, default_value_t = 5, global = true, value_parser = clap::value_parser!(u64).range(1..=60))]
    pub timeout: u64,

    #[command(subcommand)]
    pub kind: Kind,
}

/// Output formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    Text,
    Json,
}

/// The check to run.
#[derive(Debug, Subcommand)]
pub enum Kind {
    /// TCP 443 and 80 to the Teams endpoints, STUN to the media relays on UDP 3478–3481 (TCP 443 as
    /// the fallback), the proxy in use and whether it demands authentication (407), and TLS
    /// interception of the sign-in endpoint.
    Network(NetworkArgs),
    /// Connect to HOST[:PORT] (443 by default) and check the handshake, the TLS version, the chain
    /// and its trust, expiry, names, key type and signature algorithm.
    Tls(TlsArgs),
    /// The certificate checks offline on a PEM, DER or PKCS#12 (.pfx/.p12) file; for PKCS#12 also
    /// the private-key provider (CryptoAPI CSP or CNG KSP).
    Cert(CertArgs),
    /// The Teams / Skype for Business DNS records of DOMAIN (lyncdiscover, sip, _sip._tls,
    /// _sipfederationtls._tcp) and where they point; with --sbc, an SBC's A/AAAA records.
    Dns(DnsArgs),
    /// Send a SIP OPTIONS to HOST[:PORT] and report the answer, the time it took and, over TLS,
    /// the TLS details.
    Sip(SipArgs),
    /// Check a Pexip Teams Connector variables script: CIDR prefixes, FQDNs, quoting, typos and
    /// required variables.
    PexipVars(PexipVarsArgs),
    /// Does a Pexip call routing rule turn each sample alias into exactly a 9–12 digit meeting ID?
    RouteRule(RouteRuleArgs),
    /// Read Teams Rooms resource accounts from Microsoft Graph (read-only): account, MFA,
    /// Conditional Access, password expiry, licence, mailbox and recent sign-ins, in the
    /// commercial, GCC, GCC High, DoD and China clouds.
    #[command(long_about = account::ACCOUNT_HELP)]
    Account(account::AccountArgs),
}

/// Which rules a certificate is held to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Default)]
pub enum Profile {
    /// General server certificate rules.
    #[default]
    Generic,
    /// A Teams Direct Routing SBC: public CA, TLS 1.2, SBC FQDN in CN/SAN, server and client use.
    DirectRouting,
    /// A Pexip Teams Connector or Conferencing Node: RSA keys only, a CryptoAPI CSP for the key.
    Pexip,
}

/// Extra trust anchors, for a private CA or a lab.
#[derive(Debug, Args, Clone, Default)]
pub struct TrustArgs {
    /// A PEM file of CA certificates to trust in addition to the Mozilla roots and the OS store
    /// (a private CA or a test lab). Counted as a public root by the interception check.
    #[arg(long, value_name = "FILE")]
    pub ca_file: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct NetworkArgs {
    /// A TOML file of targets in the format of the built-in endpoint list, used instead of it.
    #[arg(long, value_name = "FILE")]
    pub targets: Option<PathBuf>,

    /// The proxy to test through (`http://host:port`), or `none`; by default the proxy is read from
    /// HTTPS_PROXY / HTTP_PROXY / ALL_PROXY (and on Windows from the WinINet and WinHTTP settings).
    #[arg(long, value_name = "URL|none")]
    pub proxy: Option<String>,

    /// STUN binding requests sent to each relay port.
    #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u32).range(1..=50))]
    pub probes: u32,

    #[command(flatten)]
    pub trust: TrustArgs,
}

#[derive(Debug, Args)]
pub struct TlsArgs {
    /// HOST or HOST:PORT (port 443 when left out; IPv6 as [::1]:443).
    #[arg(value_name = "HOST[:PORT]")]
    pub target: String,

    /// The FQDN the certificate must carry and the SNI to send (default: HOST when it is a name).
    #[arg(long, value_name = "FQDN")]
    pub name: Option<String>,

    /// Which rules to apply.
    #[arg(long, value_enum, default_value_t = Profile::Generic)]
    pub profile: Profile,

    #[command(flatten)]
    pub trust: TrustArgs,
}

#[derive(Debug, Args)]
pub struct CertArgs {
    /// A certificate file: PEM (one or more certificates, keys are noted), DER, or PKCS#12.
    #[arg(value_name = "FILE")]
    pub file: PathBuf,

    /// The PKCS#12 password (empty when left out).
    #[arg(long)]
    pub password: Option<String>,

    /// The FQDN the certificate must carry.
    #[arg(long, value_name = "FQDN")]
    pub name: Option<String>,

    /// Which rules to apply.
    #[arg(long, value_enum, default_value_t = Profile::Generic)]
    pub profile: Profile,

    #[command(flatten)]
    pub trust: TrustArgs,
}

#[derive(Debug, Args)]
pub struct DnsArgs {
    /// The SIP domain of the tenant or deployment, for example contoso.com.
    #[arg(value_name = "DOMAIN")]
    pub domain: String,

    /// Ask this DNS server (IP or IP:PORT, port 53 by default) instead of the system resolver.
    #[arg(long, value_name = "IP[:PORT]")]
    pub resolver: Option<String>,

    /// An SBC FQDN whose A/AAAA records to check (repeatable).
    #[arg(long, value_name = "FQDN")]
    pub sbc: Vec<String>,

    /// Skip the Skype for Business / Teams records and check only the --sbc names.
    #[arg(long, requires = "sbc")]
    pub sbc_only: bool,
}

#[derive(Debug, Args)]
pub struct SipArgs {
    /// HOST or HOST:PORT (5060, or 5061 with --tls).
    #[arg(value_name = "HOST[:PORT]")]
    pub target: String,

    /// Use TLS (SIPS); Direct Routing SBCs and Microsoft's SIP proxies only speak TLS.
    #[arg(long, conflicts_with = "tcp")]
    pub tls: bool,

    /// Use TCP instead of UDP.
    #[arg(long)]
    pub tcp: bool,

    /// The FQDN to send as SNI and to put in the request URI (default: HOST).
    #[arg(long, value_name = "FQDN")]
    pub name: Option<String>,

    /// Which certificate rules to apply over TLS.
    #[arg(long, value_enum, default_value_t = Profile::DirectRouting)]
    pub profile: Profile,

    #[command(flatten)]
    pub trust: TrustArgs,
}

#[derive(Debug, Args)]
pub struct PexipVarsArgs {
    /// The variables initialization script (.ps1).
    #[arg(value_name = "FILE.ps1")]
    pub file: PathBuf,
}

#[derive(Debug, Args)]
pub struct RouteRuleArgs {
    /// The rule's destination alias regex match (matched against the whole alias).
    #[arg(long = "match", value_name = "REGEX")]
    pub pattern: String,

    /// The rule's regex replace string (`\1` or `$1` for groups); empty leaves the alias as it is.
    #[arg(long, value_name = "STRING", default_value = "")]
    pub replace: String,

    /// Sample aliases as callers dial them.
    #[arg(value_name = "ALIAS", required = true)]
    pub aliases: Vec<String>,
}

/// Run a check; returns the process exit code (0 pass or warn, 1 any fail, 2 usage; for
/// `account`, 3 when every check was skipped).
pub fn run(args: &CheckArgs, out: &mut dyn Write) -> u8 {
    if let Kind::Account(a) = &args.kind {
        return account::run(a, args.format == Format::Json, out);
    }
    match execute(args) {
        Ok(report) => {
            let written = match args.format {
                Format::Text => report.write_text(out),
                Format::Json => report.write_json(out),
            };
            match written {
                Ok(()) => report.exit_code(),
                Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => report.exit_code(),
                Err(_) => 2,
            }
        }
        Err(e) => {
            // Usage and input errors go to stderr so that stdout stays parseable.
            let _ = writeln!(std::io::stderr(), "uctriage check: {e}");
            2
        }
    }
}

/// Run a check and return its report, without printing it.
pub fn execute(args: &CheckArgs) -> Result<Report, Error> {
    let timeout = Duration::from_secs(args.timeout);
    match &args.kind {
        Kind::PexipVars(a) => pexip_vars::check_file(&a.file),
        Kind::RouteRule(a) => Ok(route_rule::check(&a.pattern, &a.replace, &a.aliases)),
        Kind::Cert(a) => certfile::check(a),
        Kind::Network(a) => runtime()?.block_on(network::check(a, timeout)),
        Kind::Tls(a) => runtime()?.block_on(tls::check(a, timeout)),
        Kind::Dns(a) => runtime()?.block_on(dns::check(a, timeout)),
        Kind::Sip(a) => runtime()?.block_on(sip::check(a, timeout)),
        Kind::Account(a) => {
            let mut reports = account::execute(a, &mut std::io::stderr(), &mut std::io::stdin().lock())?;
            match reports.len() {
                1 => Ok(reports.remove(0)),
                _ => Err(Error::Usage("check account gives one report per account: call account::execute".into())),
            }
        }
    }
}

fn runtime() -> Result<tokio::runtime::Runtime, Error> {
    tokio::runtime::Builder::new_current_thread().enable_all().build().map_err(Error::Runtime)
}
