//! Command-line flags (clap derive). Doc comments are the `--help` text.

use clap::{Args, Parser, Subcommand, ValueEnum};

/// Triage for Microsoft Teams, Teams Rooms, Skype for Business / Lync, Teams Phone Direct Routing
/// and Pexip Teams interop: explain any code, scope a failure, and (soon) diagnose log bundles.
#[derive(Debug, Parser)]
#[command(name = "uctriage", version, propagate_version = true, max_term_width = 100)]
pub struct Cli {
    /// When to use colour in text output.
    #[arg(long, global = true, value_enum, default_value_t = ColorChoice::Auto)]
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
    /// Active checks from this machine: network, tls, cert, dns, sip, pexip-vars, route-rule.
    ///
    /// Exit 0 when every check passes or warns, 1 when any fails, 2 for bad usage.
    Check(uctriage_checks::CheckArgs),
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
    #[arg(required = true, value_name = "CODE")]
    pub codes: Vec<String>,

    /// Output format.
    #[arg(long, value_enum, default_value_t = TextOrJson::Text)]
    pub format: TextOrJson,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ReportFormat {
    Text,
    Json,
    Markdown,
    Html,
}

#[derive(Debug, Args)]
pub struct ScanArgs {
    /// Diagnostic bundles (.zip, nested zips too), folders, files of any supported kind, or `-`.
    #[arg(required_unless_present = "sample", value_name = "PATH")]
    pub paths: Vec<String>,

    /// Scan the built-in sample bundle (a Teams Rooms MFA failure, a desktop whose token
    /// requests cannot get through, an SBC rejecting an outbound call).
    #[arg(long)]
    pub sample: bool,

    /// Report format.
    #[arg(long, value_enum, default_value_t = ReportFormat::Text)]
    pub format: ReportFormat,

    /// Write the report to this file instead of standard output.
    #[arg(short = 'o', long = "output", value_name = "FILE")]
    pub output: Option<std::path::PathBuf>,

    /// Replace user names, e-mail addresses, IP addresses, tokens, GUIDs and phone numbers with
    /// placeholders (the same value gets the same placeholder).
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
        #[arg(long, value_enum, default_value_t = TextOrJson::Text)]
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
    #[arg(long, value_enum, default_value_t = ListFormat::Text)]
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
    #[arg(long, value_enum, default_value_t = TextOrJson::Text)]
    pub format: TextOrJson,
}
