//! `uctriage check account`: a Teams Rooms resource account read from Microsoft Graph with
//! read-only permissions, in any cloud, for one account or many: whether it exists and can sign
//! in, MFA, the Conditional Access policies that apply, password expiry, the licence, the mailbox
//! and what its recent sign-ins say (judged by the same rules as `scan`).

mod auth;
mod checks;
mod http;
mod jwt;

use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use clap::{Args, ValueEnum};

pub use auth::{pkce_challenge, AuthError, DELEGATED_SCOPES};
pub use http::{GraphError, MAX_RETRIES, MAX_RETRY_AFTER};

use crate::{Error, Report, Status, TrustArgs};

/// The public client id of Microsoft Graph's command-line tools, used for the delegated flows
/// unless `--client-id` names the tenant's own app registration.
pub const GRAPH_CLI_CLIENT_ID: &str = "14d82eec-204b-4c2f-b7e8-296a70dab67e";

/// Most accounts one run reads.
const MAX_ACCOUNTS: usize = 10_000;

/// The Microsoft cloud the tenant lives in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Default)]
pub enum Cloud {
    /// Commercial (worldwide) Microsoft 365.
    #[default]
    Global,
    /// GCC (Government Community Cloud): the commercial sign-in and Graph hosts.
    Gcc,
    /// GCC High: login.microsoftonline.us and graph.microsoft.us.
    #[value(name = "gcchigh")]
    GccHigh,
    /// DoD: login.microsoftonline.us and dod-graph.microsoft.us.
    Dod,
    /// Microsoft 365 operated by 21Vianet: login.chinacloudapi.cn and microsoftgraph.chinacloudapi.cn.
    China,
}

impl Cloud {
    /// The sign-in host and the Graph host, as `https://` bases.
    pub fn hosts(self) -> (&'static str, &'static str) {
        match self {
            Cloud::Global | Cloud::Gcc => ("https://login.microsoftonline.com", "https://graph.microsoft.com"),
            Cloud::GccHigh => ("https://login.microsoftonline.us", "https://graph.microsoft.us"),
            Cloud::Dod => ("https://login.microsoftonline.us", "https://dod-graph.microsoft.us"),
            Cloud::China => ("https://login.chinacloudapi.cn", "https://microsoftgraph.chinacloudapi.cn"),
        }
    }
}

/// The long help of `check account`: what it reads, how it signs in, the permissions and clouds.
pub const ACCOUNT_HELP: &str = "\
Reads, for each resource account, what the sign-in troubleshooting article checks by hand: the \
account (exists, enabled, not a guest), MFA (per-user MFA from Graph's beta endpoint, security \
defaults, registered methods), the Conditional Access policies that apply to it (directly, through \
a group or a role, or to all users, minus exclusions; report-only ones are listed as such), the \
password (expiry policy, last change, the domain's validity period), the licence (Teams Rooms Pro \
or Basic, the older Meeting Room SKU, government SKUs; Teams Shared Devices is the wrong one), the \
mailbox, and the sign-ins of the last 24 hours judged by the same rules as `uctriage scan`.

Sign-in: by default the device-code flow for an admin (--browser: authorization code with PKCE \
and a loopback redirect, for tenants whose Conditional Access blocks device code), with the public \
client id of Graph's command-line tools unless --client-id names your own app. For scheduled runs: \
--client-id with --client-secret-env VAR (the secret in an environment variable) or --certificate \
FILE (PEM with the certificate and its RSA key). Tokens stay in memory; nothing is written.

Read-only permissions (delegated, or application for app credentials): User.Read.All (the account, \
licences), GroupMember.Read.All (group and role memberships for Conditional Access), \
Policy.Read.All (Conditional Access, security defaults), UserAuthenticationMethod.Read.All \
(methods, per-user MFA), Domain.Read.All (password validity), Organization.Read.All (the tenant's Teams Rooms licences, \
when the account has none), AuditLog.Read.All (sign-ins; the tenant also needs Entra ID P1 or P2 and, delegated, the admin a \
reader role such as Reports Reader or Security Reader), and for the mailbox either application \
MailboxSettings.Read or Place.Read.All (delegated MailboxSettings.Read covers only the admin's own \
mailbox). A permission that is missing skips its check (\"skipped: needs … permission\").

Clouds: global and gcc use login.microsoftonline.com and graph.microsoft.com; gcchigh \
login.microsoftonline.us and graph.microsoft.us; dod login.microsoftonline.us and \
dod-graph.microsoft.us; china login.chinacloudapi.cn and microsoftgraph.chinacloudapi.cn.

Exit codes: 0 nothing failed, 1 a check failed, 2 bad usage or no token, 3 every check skipped.";

/// `uctriage check account` flags.
#[derive(Debug, Args)]
pub struct AccountArgs {
    /// Resource account user principal names (room@contoso.com).
    #[arg(value_name = "UPN")]
    pub upns: Vec<String>,

    /// A file of accounts, one UPN a line (blank lines and lines starting with # are ignored).
    #[arg(long, value_name = "FILE")]
    pub accounts: Option<PathBuf>,

    /// The cloud the tenant lives in.
    #[arg(long, value_enum, default_value_t = Cloud::Global)]
    pub cloud: Cloud,

    /// The tenant ID or a verified domain (required with app credentials; delegated sign-in
    /// defaults to the admin's home tenant).
    #[arg(long, value_name = "ID")]
    pub tenant: Option<String>,

    /// An app registration's client id (default: the public client of Graph's command-line
    /// tools for delegated sign-in).
    #[arg(long, value_name = "GUID")]
    pub client_id: Option<String>,

    /// Sign in through a browser (authorization code with PKCE, loopback redirect) instead of a
    /// device code.
    #[arg(long, conflicts_with_all = ["client_secret_env", "certificate"])]
    pub browser: bool,

    /// App credentials: the name of an environment variable holding the client secret.
    #[arg(long, value_name = "VAR", requires = "client_id", conflicts_with = "certificate")]
    pub client_secret_env: Option<String>,

    /// App credentials: a PEM file with the app's certificate and its RSA private key.
    #[arg(long, value_name = "FILE", requires = "client_id")]
    pub certificate: Option<PathBuf>,

    /// Also sign in as the account itself with the password read from standard input (one
    /// account only), as the device does, to see Entra ID's exact answer. The password is never
    /// echoed, logged or kept.
    #[arg(long)]
    pub password_stdin: bool,

    /// Seconds each Graph or sign-in request may take (--timeout is for the network probes).
    #[arg(long, default_value_t = 30, value_parser = clap::value_parser!(u64).range(1..=300))]
    pub request_timeout: u64,

    /// The sign-in base URL instead of the cloud's (a test server).
    #[arg(long, value_name = "URL", hide = true)]
    pub login_url: Option<String>,

    /// The Graph base URL instead of the cloud's (a test server).
    #[arg(long, value_name = "URL", hide = true)]
    pub graph_url: Option<String>,

    #[command(flatten)]
    pub trust: TrustArgs,
}

/// The accounts named on the command line and in `--accounts`, in order, without repeats.
fn accounts(args: &AccountArgs) -> Result<Vec<String>, Error> {
    let mut all: Vec<String> = args.upns.iter().map(|u| u.trim().to_owned()).collect();
    if let Some(path) = &args.accounts {
        let text = std::fs::read_to_string(path).map_err(|e| Error::read(path, e))?;
        for (n, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            if !line.contains('@') || line.contains(char::is_whitespace) {
                return Err(Error::parse(path, format!("line {}: {line:?} is not a user principal name", n + 1)));
            }
            all.push(line.to_owned());
        }
    }
    let mut seen = std::collections::HashSet::new();
    all.retain(|u| !u.is_empty() && seen.insert(u.to_ascii_lowercase()));
    if all.is_empty() {
        return Err(Error::Usage("which account? give one or more UPNs or --accounts FILE".into()));
    }
    if all.len() > MAX_ACCOUNTS {
        return Err(Error::Usage(format!("{} accounts; at most {MAX_ACCOUNTS} a run", all.len())));
    }
    if let Some(bad) = all.iter().find(|u| !u.contains('@')) {
        return Err(Error::Usage(format!("{bad:?} is not a user principal name (name@domain)")));
    }
    if args.password_stdin && all.len() != 1 {
        return Err(Error::Usage("--password-stdin signs in as one account; name exactly one".into()));
    }
    Ok(all)
}

fn base_url(given: Option<&String>, default: &str, flag: &str) -> Result<String, Error> {
    let url = given.map_or(default, String::as_str).trim_end_matches('/');
    if !url.starts_with("https://") {
        return Err(Error::Usage(format!("{flag} {url}: give an https:// URL")));
    }
    Ok(url.to_owned())
}

/// Read every account; `tell` gets the sign-in prompts, `input` is read for `--password-stdin`.
pub fn execute(args: &AccountArgs, tell: &mut dyn Write, input: &mut dyn BufRead) -> Result<Vec<Report>, Error> {
    let upns = accounts(args)?;
    let (login_default, graph_default) = args.cloud.hosts();
    let login_base = base_url(args.login_url.as_ref(), login_default, "--login-url")?;
    let graph_base = base_url(args.graph_url.as_ref(), graph_default, "--graph-url")?;
    let http = http::Http::new(Duration::from_secs(args.request_timeout), args.trust.ca_file.as_deref())?;
    let app = args.client_secret_env.is_some() || args.certificate.is_some();
    let tenant = match (&args.tenant, app) {
        (Some(t), _) => t.clone(),
        (None, true) => {
            return Err(Error::Usage("app credentials need --tenant (the tenant ID or a verified domain)".into()))
        }
        (None, false) => "organizations".to_owned(),
    };
    let client_id = args.client_id.clone().unwrap_or_else(|| GRAPH_CLI_CLIENT_ID.to_owned());
    // Read the certificate and the password before anyone is asked to sign in.
    let cert = args.certificate.as_deref().map(jwt::SigningCert::from_pem_file).transpose()?;
    let password = if args.password_stdin {
        Some(auth::password_from(input, Path::new("standard input")).map_err(|e| Error::Usage(e.to_string()))?)
    } else {
        None
    };
    let login =
        auth::Login { http: &http, base: &login_base, tenant: &tenant, client_id: &client_id, resource: graph_default };
    let token = if let Some(var) = &args.client_secret_env {
        auth::secret_from_env(var).and_then(|secret| login.client_secret(&secret))
    } else if let Some(cert) = &cert {
        login.client_certificate(cert)
    } else if args.browser {
        login.browser(tell)
    } else {
        login.device_code(tell)
    }
    .map_err(|e| Error::Usage(format!("no Graph token: {e}")))?;
    let graph = http::Graph::new(http.clone(), &graph_base, token);
    let ctx = checks::Context::new(&graph);
    let mut reports = Vec::with_capacity(upns.len());
    for upn in &upns {
        let mut report = checks::account(&ctx, upn);
        if let Some(password) = &password {
            report.push(checks::live_sign_in(&ctx, &login, upn, password));
        }
        reports.push(report);
    }
    Ok(reports)
}

/// The exit code of a run: 1 when a check failed, 3 when every check was skipped, else 0.
pub fn exit_code(reports: &[Report]) -> u8 {
    let all = || reports.iter().flat_map(|r| r.checks.iter());
    if all().any(|c| c.status == Status::Fail) {
        1
    } else if all().all(|c| c.status == Status::Skip) {
        3
    } else {
        0
    }
}

/// Run `check account` and write its reports (JSON: one object for one account, an array for
/// several); returns the exit code.
pub fn run(args: &AccountArgs, json: bool, out: &mut dyn Write) -> u8 {
    let stdin = std::io::stdin();
    if args.password_stdin && std::io::IsTerminal::is_terminal(&stdin) {
        // Typed at a terminal, the password would show as it is typed.
        let _ = writeln!(
            std::io::stderr(),
            "uctriage check account: --password-stdin reads a password piped in (for example from a password manager's command line), not typed at a terminal, where it would be shown"
        );
        return 2;
    }
    let reports = match execute(args, &mut std::io::stderr(), &mut stdin.lock()) {
        Ok(r) => r,
        Err(e) => {
            let _ = writeln!(std::io::stderr(), "uctriage check account: {e}");
            return 2;
        }
    };
    let written = write(&reports, json, out);
    match written {
        Ok(()) => exit_code(&reports),
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => exit_code(&reports),
        Err(_) => 2,
    }
}

/// Write reports as text (one after another) or JSON.
pub fn write(reports: &[Report], json: bool, out: &mut dyn Write) -> std::io::Result<()> {
    if json {
        if let [one] = reports {
            one.write_json(out)
        } else {
            serde_json::to_writer_pretty(&mut *out, reports)?;
            writeln!(out)
        }
    } else {
        for (i, r) in reports.iter().enumerate() {
            if i > 0 {
                writeln!(out)?;
            }
            r.write_text(out)?;
        }
        Ok(())
    }
}
