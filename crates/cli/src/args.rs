//! Command-line flags (clap derive). Doc comments are the `--help` text.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// Triage for Microsoft Teams, Teams Rooms, Skype for Business / Lync, Teams Phone Direct Routing
/// and Pexip Teams interop: explain any code, diagnose log bundles, scope a failure, run checks
/// from the machine with the problem, and watch a fleet of Teams Rooms.
#[derive(Debug, Parser)]
#[command(name = "uctriage", version, propagate_version = true, max_term_width = 100)]
pub struct Cli {
    /// When to use colour in text output.
    #[arg(long, global = true, value_enum, ignore_case = true, default_value_t = ColorChoice::Auto)]
    pub color: ColorChoice,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ColorChoice {
    Auto,
    Always,
    Never,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Explain codes: AADSTS…, 0xCAA…, HRESULT, SIP, Microsoft response codes, ms-diagnostics,
    /// Q.850, OAuth and HTTP errors, Teams and Teams Rooms named codes, Lync and Pexip messages.
    ///
    /// Exit 0 when every code is known, 1 when any is unknown (with the nearest known codes and
    /// what the code's structure reveals).
    Explain(ExplainArgs),
    /// Diagnose: read every input, report root causes with their evidence and fixes.
    ///
    /// Exit 0 verdict healthy, 1 problems, 2 nothing could be read or bad usage, 3 inconclusive.
    Scan(ScanArgs),
    /// Check the rules: run every rule's sample evidence (`test`) or validate rule files (`lint`).
    Rules(RulesArgs),
    /// Write a built-in example bundle (one per diagnosed scenario) to try uctriage on.
    Sample(SampleArgs),
    /// Read inputs and print the normalized evidence records as JSON Lines (one record a line).
    ///
    /// PATH is a diagnostic bundle (.zip, also nested), a folder, a single file of any supported
    /// kind, or `-` for standard input. Warnings go to stderr. Exit 0, or 2 when nothing could be read.
    Evidence(EvidenceArgs),
    /// List and filter the knowledge base.
    Codes(CodesArgs),
    /// Guided scoping questions that end with the layer, the commands to run next and the fixes.
    ///
    /// Asks on a terminal; answer every question with --answer KEY=VALUE for scripts
    /// (--list shows the keys and values of a flow).
    Triage(TriageArgs),
    /// Active checks from this machine: network, tls, cert, dns, sip, pexip-vars, route-rule;
    /// account reads Teams Rooms resource accounts from Microsoft Graph.
    ///
    /// Exit 0 when every check passes or warns, 1 when any fails, 2 for bad usage, 3 when every
    /// check of an account run was skipped.
    Check(uctriage_checks::CheckArgs),
    /// Run the fleet server: rooms push their events here and it keeps their signals, diagnoses
    /// each room with the scan rules, and answers the API (see docs/fleet.md).
    ///
    /// The first start creates an admin token and prints it once.
    Serve(ServeArgs),
    /// Work with a fleet server: tokens, rooms, a generated fleet to try it on, backups.
    Fleet(FleetArgs),
    /// Send a room's events to the fleet server: only records not sent before (run it every five
    /// minutes from a scheduled task on the room, on an export of its event logs).
    ///
    /// Exit 0 when everything was sent, 1 when the server could not be reached or failed after
    /// the retries, 2 for bad usage, a refused token or nothing readable.
    Push(PushArgs),
    /// Print a shell completion script: bash, zsh, fish or powershell.
    ///
    /// bash: `uctriage completions bash > ~/.local/share/bash-completion/completions/uctriage`;
    /// zsh: into a folder of your `fpath` as `_uctriage`; fish: `~/.config/fish/completions/uctriage.fish`;
    /// PowerShell: `uctriage completions powershell | Out-String | Invoke-Expression` in your profile.
    Completions(CompletionsArgs),
    /// Print the manual page (roff), generated from these same flags.
    ///
    /// `uctriage man > uctriage.1 && man ./uctriage.1`, or install it:
    /// `uctriage man | gzip > /usr/local/share/man/man1/uctriage.1.gz`. `uctriage man scan` prints
    /// the page of one command (uctriage-scan(1)).
    Man(ManArgs),
}

#[derive(Debug, Args)]
pub struct ManArgs {
    /// A command whose own page to print (scan, check, …); without it, the page of uctriage.
    #[arg(value_name = "COMMAND")]
    pub command: Option<String>,
}

#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// The shell to complete in.
    #[arg(value_enum, ignore_case = true)]
    pub shell: clap_complete::Shell,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum TextOrJson {
    Text,
    Json,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ListFormat {
    Text,
    Json,
    Csv,
}

#[derive(Debug, Args)]
pub struct ExplainArgs {
    /// Codes in any spelling: AADSTS50076, aadsts50076:, caa70004, 3399942148, -895025148,
    /// "SIP/2.0 403 Forbidden", 560403, "ms-diagnostics: 1034", "Reason: Q.850;cause=63", or a
    /// client error message in quotes.
    #[arg(required = true, value_name = "CODE", allow_negative_numbers = true)]
    pub codes: Vec<String>,

    /// Output format.
    #[arg(long, value_enum, ignore_case = true, default_value_t = TextOrJson::Text)]
    pub format: TextOrJson,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ReportFormat {
    Text,
    Json,
    #[value(alias = "md")]
    Markdown,
    Html,
}

impl ReportFormat {
    /// The format a report file's extension names (`.html`, `.htm`, `.md`, `.markdown`, `.json`,
    /// `.jsonl`, `.txt`), in any case.
    pub fn from_extension(path: &std::path::Path) -> Option<Self> {
        let ext = path.extension()?.to_str()?.to_ascii_lowercase();
        Some(match ext.as_str() {
            "html" | "htm" => ReportFormat::Html,
            "md" | "markdown" => ReportFormat::Markdown,
            "json" | "jsonl" => ReportFormat::Json,
            "txt" | "text" | "log" => ReportFormat::Text,
            _ => return None,
        })
    }
}

#[derive(Debug, Args)]
pub struct ScanArgs {
    /// Diagnostic bundles (.zip, nested zips too), folders, files of any supported kind, or `-`.
    #[arg(required_unless_present_any = ["sample", "text"], value_name = "PATH")]
    pub paths: Vec<String>,

    /// Scan this text as if it were a file: a snippet pasted from a log, a trace or an error
    /// dialog. Its format is found from its content; lines without times keep their order.
    /// May be given more than once.
    #[arg(long, value_name = "TEXT")]
    pub text: Vec<String>,

    /// Scan the built-in sample bundle (a Teams Rooms MFA failure, a desktop whose token
    /// requests cannot get through, an SBC rejecting an outbound call).
    #[arg(long)]
    pub sample: bool,

    /// Report format (md for markdown); default: from the --output file's extension (.html,
    /// .md, .json, .txt), else text.
    #[arg(long, value_enum, ignore_case = true)]
    pub format: Option<ReportFormat>,

    /// Write the report to this file instead of standard output.
    #[arg(short = 'o', long = "output", value_name = "FILE")]
    pub output: Option<std::path::PathBuf>,

    /// Replace personal data (user names and addresses, host and computer names, IP and MAC
    /// addresses, GUIDs, tokens and secrets, phone numbers, display names, rooms, aliases) with
    /// placeholders of the same shape, the same value the same placeholder (see docs/redaction.md).
    #[arg(long)]
    pub redact: bool,

    /// Add rules from this folder (`*.toml`); a rule with a built-in id replaces the built-in one.
    #[arg(long, value_name = "DIR")]
    pub rules: Option<std::path::PathBuf>,

    /// No progress bar on stderr.
    #[arg(long, short = 'q')]
    pub quiet: bool,
}

#[derive(Debug, Args)]
pub struct SampleArgs {
    /// Scenario name (see --list); without it, the README's sample.
    #[arg(value_name = "SCENARIO")]
    pub name: Option<String>,

    /// Where to write the .zip (default: <SCENARIO>.zip in the current folder).
    #[arg(short = 'o', long = "output", value_name = "FILE")]
    pub output: Option<std::path::PathBuf>,

    /// List the scenarios with what a scan of each must conclude.
    #[arg(long)]
    pub list: bool,

    /// Replace the file when it exists (without this, an existing file is left alone).
    #[arg(long, short = 'f')]
    pub force: bool,
}

#[derive(Debug, Args)]
pub struct RulesArgs {
    #[command(subcommand)]
    pub action: RulesAction,
}

#[derive(Debug, Subcommand)]
pub enum RulesAction {
    /// Run every rule's samples: each must fire its rule; counter samples must not.
    Test {
        /// Also load rules from this folder.
        #[arg(long, value_name = "DIR")]
        rules: Option<std::path::PathBuf>,
        /// Output format.
        #[arg(long, value_enum, ignore_case = true, default_value_t = TextOrJson::Text)]
        format: TextOrJson,
    },
    /// Validate rule files (the built-in ones, or those of a folder): syntax, fields, regular
    /// expressions, codes, references, samples.
    Lint {
        /// A folder of rule files to check together with the built-in rules.
        #[arg(value_name = "DIR")]
        dir: Option<std::path::PathBuf>,
    },
    /// List the rules.
    List,
}

#[derive(Debug, Args)]
pub struct EvidenceArgs {
    #[arg(required_unless_present = "list_formats", value_name = "PATH")]
    pub paths: Vec<String>,

    /// Read every input with this reader instead of detecting the format (see --list-formats).
    #[arg(long, value_name = "FORMAT")]
    pub format: Option<String>,

    /// Print the readers uctriage has, then exit.
    #[arg(long, exclusive = true)]
    pub list_formats: bool,

    /// After the records, print one summary line per input to stderr.
    #[arg(long)]
    pub stats: bool,

    /// Replace personal data in every record (excerpt, path, fields; a field that names a
    /// person, room, alias, conference or computer whole) and in the warnings, with placeholders
    /// as `scan --redact` gives (see docs/redaction.md).
    #[arg(long)]
    pub redact: bool,
}

#[derive(Debug, Args)]
pub struct CodesArgs {
    /// Only this family (e.g. rooms-resource-account, sip-4xx, direct-routing).
    #[arg(long)]
    pub family: Option<String>,

    /// Only this layer (client, network, dns, identity, policy, device, federation, license,
    /// mailbox, service, certificate, sbc, carrier, configuration, media).
    #[arg(long)]
    pub layer: Option<String>,

    /// Only this kind of code (aadsts, hresult, sip, msrc, ms-diag, q850, oauth, http, teams, lync, pexip).
    #[arg(long)]
    pub kind: Option<String>,

    /// Only entries whose code, name, title or meaning contains this text (case-insensitive).
    #[arg(long)]
    pub search: Option<String>,

    /// List the families with their entry counts instead of the codes.
    #[arg(long)]
    pub families: bool,

    /// Output format.
    #[arg(long, value_enum, ignore_case = true, default_value_t = ListFormat::Text)]
    pub format: ListFormat,
}

#[derive(Debug, Args)]
pub struct TriageArgs {
    /// Which flow: `teams` (Teams, Teams Rooms, Teams Phone) or `lync` (Lync / Skype for Business Online).
    #[arg(long, default_value = "teams")]
    pub flow: String,

    /// Answer a question without being asked: KEY=VALUE (repeat for each question).
    #[arg(long = "answer", short = 'a', value_name = "KEY=VALUE")]
    pub answers: Vec<String>,

    /// Show the flow's questions with their keys and allowed values, then exit.
    #[arg(long)]
    pub list: bool,

    /// Never prompt; fail with exit 2 when an answer is missing (the default when stdin is not a terminal).
    #[arg(long)]
    pub no_input: bool,

    /// Output format.
    #[arg(long, value_enum, ignore_case = true, default_value_t = TextOrJson::Text)]
    pub format: TextOrJson,
}

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address to listen on. Plain HTTP is refused on addresses other machines can reach unless
    /// --insecure-http is given; use --tls-cert and --tls-key there.
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub listen: std::net::SocketAddr,
    /// The data folder: the SQLite database, uploads, the key that seals stored secrets.
    #[arg(long, env = "UCTRIAGE_DATA", default_value = "uctriage-data")]
    pub data: PathBuf,
    /// A database URL: postgres://… for PostgreSQL (several servers on one database), or
    /// sqlite://PATH. Default: fleet.db in the data folder.
    #[arg(long, env = "UCTRIAGE_DB", value_name = "URL", hide_env_values = true)]
    pub db: Option<String>,
    /// PEM certificate chain for HTTPS.
    #[arg(long, value_name = "FILE", requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,
    /// PEM private key for HTTPS.
    #[arg(long, value_name = "FILE", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
    /// Accept plain HTTP on a non-loopback address.
    #[arg(long)]
    pub insecure_http: bool,
    /// Requests per second allowed per token (0: no limit).
    #[arg(long, default_value_t = 200)]
    pub rate_limit: u32,
    /// Largest bundle upload, in MiB.
    #[arg(long, default_value_t = 2048)]
    pub max_upload_mib: u64,
    /// Most MiB of uploads kept on disk at once.
    #[arg(long, default_value_t = 20480)]
    pub upload_quota_mib: u64,
    /// Days an uploaded bundle is kept (its report stays).
    #[arg(long, default_value_t = 30)]
    pub retention_days: u32,
    /// Days raw records (heartbeats and events) are kept; incidents and the 90-day history stay.
    #[arg(long, default_value_t = 30)]
    pub raw_retention_days: u32,
    /// Add or override rules from a folder of rule files.
    #[arg(long, value_name = "DIR")]
    pub rules: Option<PathBuf>,
    /// A subnet-to-site map (TOML, `[[site]] name = "…" subnets = ["10.1.0.0/16"]`): a room whose
    /// site nobody set takes the site of its heartbeat's IPv4 address.
    #[arg(long, value_name = "FILE")]
    pub sites: Option<PathBuf>,
    /// Milliseconds a room incident's first alert waits, so that a fleet incident forming
    /// around it can alert instead (five minutes; 0 sends at once).
    #[arg(long, value_name = "MS", default_value_t = uctriage_server::alerts::HOLD_MS.unsigned_abs())]
    pub alert_hold_ms: u64,
    /// Write the admin token created on the first start to this file (owner-only) as well.
    #[arg(long, value_name = "FILE")]
    pub admin_token_file: Option<PathBuf>,
    /// Replace the admin token (the old one stops working), print the new one and exit.
    /// Works on the data folder or database, without the running server.
    #[arg(long)]
    pub reset_admin_token: bool,
}

#[derive(Debug, Args)]
pub struct FleetArgs {
    #[command(subcommand)]
    pub command: FleetCommand,
}

#[derive(Debug, Subcommand)]
pub enum FleetCommand {
    /// Create, list and revoke API tokens.
    Token(TokenArgs),
    /// List rooms with their state, app version and top finding.
    Rooms(FleetRoomsArgs),
    /// One room: signals, recent transitions and its diagnosis.
    Room(FleetRoomArgs),
    /// Rename a room, set its site or tags, retire it or bring it back.
    Set(FleetSetArgs),
    /// Merge a room into another (two ids that are one device).
    Merge(FleetMergeArgs),
    /// Push a generated fleet through the API: 40 rooms over the 7 days up to the server's now,
    /// with an MFA wave after a policy change, a room that lost power, one on the 5.2.115.0
    /// licence regression, and the rest healthy.
    Seed(SeedArgs),
    /// A consistent copy of a SQLite store (VACUUM INTO). For PostgreSQL use pg_dump.
    Backup(BackupArgs),
    /// Who created, revoked or changed what.
    Audit(FleetAuditArgs),
    /// Incidents, newest first: a room's signal that stayed bad, or one cause across rooms.
    Incidents(FleetIncidentsArgs),
    /// One incident: its root cause, fixes, timeline and, for a fleet incident, every room.
    Incident(FleetRoomArgs),
    /// Acknowledge an incident with a note.
    Ack(FleetAckArgs),
    /// Keep a room, or one signal of it, quiet until a time: its incidents are recorded,
    /// marked, and not alerted.
    Suppress(SuppressArgs),
    /// Lift a suppression now.
    Unsuppress(UnsuppressArgs),
    /// Recurring maintenance windows, in each room's local time: nothing is alerted inside one.
    Window(WindowArgs),
    /// Where alerts go: Teams Workflows webhooks (Adaptive Cards) or signed JSON webhooks.
    Webhook(WebhookArgs),
    /// Where alerts go, for sites that cannot reach Teams: e-mail through a relay (smtp) or
    /// syslog. The same list as `webhook`, under the name admins look for.
    Alert(WebhookArgs),
}

#[derive(Debug, Args)]
pub struct TokenArgs {
    #[command(subcommand)]
    pub command: TokenCommand,
    #[command(flatten)]
    pub server: crate::client::ServerArgs,
}

#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// Create a token; it is printed once.
    Create {
        /// admin (everything), viewer (read only), device (ingest only).
        #[arg(long)]
        role: String,
        /// Bind a device token to one room.
        #[arg(long)]
        room: Option<String>,
        #[arg(long)]
        name: Option<String>,
    },
    /// List tokens (never their secrets).
    List,
    /// Revoke a token by id; it stops working at once.
    Revoke { id: String },
}

#[derive(Debug, Args)]
pub struct FleetRoomsArgs {
    #[command(flatten)]
    pub server: crate::client::ServerArgs,
    /// healthy, unhealthy, offline, unknown or retired.
    #[arg(long)]
    pub state: Option<String>,
    /// Rooms where this signal is unhealthy (exchange, teams-signin, hardware, …).
    #[arg(long)]
    pub signal: Option<String>,
    /// Teams Rooms app version.
    #[arg(long)]
    pub app_version: Option<String>,
    /// Part of a room's name, computer or resource account.
    #[arg(long)]
    pub name: Option<String>,
    #[arg(long, value_enum, ignore_case = true, default_value_t = TextOrJson::Text)]
    pub format: TextOrJson,
}

#[derive(Debug, Args)]
pub struct FleetRoomArgs {
    #[command(flatten)]
    pub server: crate::client::ServerArgs,
    pub id: String,
    #[arg(long, value_enum, ignore_case = true, default_value_t = TextOrJson::Text)]
    pub format: TextOrJson,
}

#[derive(Debug, Args)]
pub struct FleetSetArgs {
    #[command(flatten)]
    pub server: crate::client::ServerArgs,
    pub id: String,
    #[arg(long)]
    pub name: Option<String>,
    #[arg(long)]
    pub site: Option<String>,
    /// The room's tags (repeat the flag; replaces the tags it had).
    #[arg(long = "tag")]
    pub tags: Option<Vec<String>>,
    /// Retire the room: it leaves the fleet's counts, its history stays.
    #[arg(long, conflicts_with = "unretire")]
    pub retire: bool,
    #[arg(long)]
    pub unretire: bool,
}

#[derive(Debug, Args)]
pub struct FleetMergeArgs {
    #[command(flatten)]
    pub server: crate::client::ServerArgs,
    /// The room that goes away.
    pub from: String,
    /// The room that stays.
    pub into: String,
}

#[derive(Debug, Args)]
pub struct FleetIncidentsArgs {
    #[command(flatten)]
    pub server: crate::client::ServerArgs,
    /// Only open incidents.
    #[arg(long)]
    pub open: bool,
    /// Only fleet incidents (one cause across rooms).
    #[arg(long)]
    pub fleet: bool,
    /// Only this room's incidents.
    #[arg(long)]
    pub room: Option<String>,
    #[arg(long, default_value_t = 100)]
    pub limit: u32,
    #[arg(long, value_enum, ignore_case = true, default_value_t = TextOrJson::Text)]
    pub format: TextOrJson,
}

#[derive(Debug, Args)]
pub struct SuppressArgs {
    #[command(flatten)]
    pub server: crate::client::ServerArgs,
    pub room: String,
    /// One signal (exchange, teams-signin, hardware:camera…) instead of the whole room.
    #[arg(long)]
    pub signal: Option<String>,
    /// RFC 3339, or a duration from now: 90m, 2h, 3d.
    #[arg(long)]
    pub until: String,
    #[arg(long)]
    pub reason: String,
}

#[derive(Debug, Args)]
pub struct WindowArgs {
    #[command(subcommand)]
    pub command: WindowCommand,
    #[command(flatten)]
    pub server: crate::client::ServerArgs,
}

#[derive(Debug, Subcommand)]
pub enum WindowCommand {
    /// Add a window, e.g. `--start 02:00 --end 04:00 --days mon,tue,wed,thu,fri`.
    Add {
        /// HH:MM, the room's local time.
        #[arg(long)]
        start: String,
        /// HH:MM; before --start to run past midnight.
        #[arg(long)]
        end: String,
        /// Weekdays (mon,tue,…); every day when absent.
        #[arg(long)]
        days: Option<String>,
        /// One room; every room when absent.
        #[arg(long)]
        room: Option<String>,
        /// Every room of this site.
        #[arg(long)]
        site: Option<String>,
        #[arg(long)]
        reason: String,
    },
    List,
    Remove {
        id: String,
    },
}

#[derive(Debug, Args)]
pub struct UnsuppressArgs {
    #[command(flatten)]
    pub server: crate::client::ServerArgs,
    /// The suppression's id (from `fleet suppress` or the room's suppressions).
    pub id: String,
}

#[derive(Debug, Args)]
pub struct WebhookArgs {
    #[command(subcommand)]
    pub command: WebhookCommand,
    #[command(flatten)]
    pub server: crate::client::ServerArgs,
}

#[derive(Debug, Subcommand)]
pub enum WebhookCommand {
    /// Add a destination. A standard webhook without --secret gets one, printed once.
    ///
    /// URL by kind: teams and standard take https://…; syslog takes tcp://host:port or
    /// tls://host:port; smtp takes smtp://[user@]host[:port]?from=ADDRESS&to=ADDRESS[,ADDRESS]
    /// (STARTTLS; smtps:// for TLS from the start, smtp+plain:// for none; &ca=FILE adds a
    /// private CA).
    Add {
        /// teams (a Workflows "post to a channel" URL), standard (signed JSON), smtp or syslog.
        #[arg(long)]
        kind: String,
        url: String,
        /// A whsec_ signing secret (standard webhooks).
        #[arg(long)]
        secret: Option<String>,
        /// smtp: the name of an environment variable holding the relay's password (kept off
        /// the command line and the shell history; sealed by the server).
        #[arg(long, value_name = "VAR")]
        password_env: Option<String>,
        #[arg(long)]
        name: Option<String>,
        /// Only incidents of rooms at this site.
        #[arg(long)]
        site: Option<String>,
        /// Only incidents at least this severe: critical, important (default), warning, recommended.
        #[arg(long)]
        min_severity: Option<String>,
    },
    List,
    Remove {
        id: String,
    },
    /// Send a test alert now.
    Test {
        id: String,
    },
}

#[derive(Debug, Args)]
pub struct FleetAckArgs {
    #[command(flatten)]
    pub server: crate::client::ServerArgs,
    pub id: String,
    #[arg(long)]
    pub note: String,
}

#[derive(Debug, Args)]
pub struct SeedArgs {
    #[command(flatten)]
    pub server: crate::client::ServerArgs,
    #[arg(long, default_value_t = 40)]
    pub rooms: usize,
    #[arg(long, default_value_t = 7)]
    pub days: u32,
    /// Minutes between a room's pushes.
    #[arg(long, default_value_t = 60)]
    pub batch_minutes: u32,
}

#[derive(Debug, Args)]
pub struct BackupArgs {
    /// The new file to write (never overwritten).
    pub file: PathBuf,
    #[arg(long, env = "UCTRIAGE_DATA", default_value = "uctriage-data")]
    pub data: PathBuf,
    #[arg(long, env = "UCTRIAGE_DB", value_name = "URL", hide_env_values = true)]
    pub db: Option<String>,
}

#[derive(Debug, Args)]
pub struct FleetAuditArgs {
    #[command(flatten)]
    pub server: crate::client::ServerArgs,
    #[arg(long, default_value_t = 50)]
    pub limit: u32,
}

#[derive(Debug, Args)]
pub struct PushArgs {
    /// Event log exports (Get-WinEvent | ConvertTo-Json, wevtutil epl .evtx, Event Viewer XML),
    /// a bundle, or any file scan reads.
    #[arg(required = true, value_name = "PATH")]
    pub paths: Vec<String>,
    #[command(flatten)]
    pub server: crate::client::ServerArgs,
    /// The room's id (or a computer name) when the records do not name it.
    #[arg(long)]
    pub room: Option<String>,
    /// Where to remember what was sent (default: a file under ProgramData on Windows, under
    /// XDG_STATE_HOME or ~/.local/state elsewhere).
    #[arg(long, value_name = "FILE")]
    pub state: Option<PathBuf>,
    /// The room's time-zone id to report (default: this machine's).
    #[arg(long)]
    pub timezone: Option<String>,
    /// Records per request.
    #[arg(long, default_value_t = 500)]
    pub batch: usize,
    /// Attempts per request before giving up (with backoff: 1 s, 2 s, 4 s, …).
    #[arg(long, default_value_t = 6)]
    pub retries: u32,
    /// Seconds of the first backoff.
    #[arg(long, default_value_t = 1.0)]
    pub backoff: f64,
}

#[cfg(test)]
mod tests {
    #[test]
    fn every_command_s_flags_are_consistent() {
        use clap::CommandFactory;
        super::Cli::command().debug_assert();
    }
}
