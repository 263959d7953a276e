//! `uctriage serve`: the fleet server.

use std::io::Write;

use uctriage_server::{Clock, Config};

use crate::args::ServeArgs;
use crate::{CliError, Exit};

fn config(args: &ServeArgs) -> Result<Config, CliError> {
    let mut c = Config::new(args.listen, args.data.clone());
    c.db_url.clone_from(&args.db);
    c.tls_cert.clone_from(&args.tls_cert);
    c.tls_key.clone_from(&args.tls_key);
    c.insecure_http = args.insecure_http;
    c.rate_limit = args.rate_limit;
    c.max_upload = args.max_upload_mib.saturating_mul(1024 * 1024);
    c.upload_quota = args.upload_quota_mib.saturating_mul(1024 * 1024);
    c.retention_days = args.retention_days;
    c.raw_retention_days = args.raw_retention_days;
    c.alert_hold_ms = i64::try_from(args.alert_hold_ms).unwrap_or(i64::MAX);
    c.clock = Clock::from_env().map_err(CliError::usage)?;
    if let Some(dir) = &args.rules {
        c.extra_rules = uctriage_rules::read_dir(dir).map_err(|e| CliError::usage(e.to_string()))?;
    }
    if let Some(path) = &args.sites {
        let text = std::fs::read_to_string(path).map_err(|e| CliError::usage(format!("{}: {e}", path.display())))?;
        c.sites = uctriage_server::sites::SiteMap::parse(&text)
            .map_err(|e| CliError::usage(format!("{}: {e}", path.display())))?;
    }
    uctriage_server::check_listen(&c).map_err(CliError::usage)?;
    Ok(c)
}

pub fn run(args: &ServeArgs, out: &mut dyn Write) -> Result<Exit, CliError> {
    let config = config(args)?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| CliError::usage(format!("cannot start the runtime: {e}")))?;
    if args.reset_admin_token {
        let token = rt.block_on(uctriage_server::reset_admin_token(&config)).map_err(CliError::usage)?;
        writeln!(out, "new admin token (shown once; the old one no longer works):\n{token}")?;
        write_token_file(args, &token)?;
        return Ok(Exit::Ok);
    }
    let _ = tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(tracing_subscriber::EnvFilter::try_from_env("UCTRIAGE_LOG").unwrap_or_else(|_| "info".into()))
        .try_init();
    rt.block_on(async {
        let opened = uctriage_server::open(&config).await.map_err(CliError::usage)?;
        if let Some(token) = &opened.admin_token {
            writeln!(out, "admin token (shown once, keep it somewhere safe):\n{token}")?;
            write_token_file(args, token)?;
        }
        let scheme = if config.tls_cert.is_some() { "https" } else { "http" };
        let db = uctriage_server::redact_url(&config.db_url());
        uctriage_server::serve(config, opened, |addr| {
            let _ = writeln!(out, "listening on {scheme}://{addr} (database {db})");
            let _ = writeln!(out, "dashboard: {scheme}://{addr}/ (sign in with an admin or viewer token)");
            let _ = out.flush();
        })
        .await
        .map_err(CliError::usage)
    })?;
    Ok(Exit::Ok)
}

fn write_token_file(args: &ServeArgs, token: &str) -> Result<(), CliError> {
    let Some(path) = &args.admin_token_file else { return Ok(()) };
    let err = |e: std::io::Error| CliError::usage(format!("{}: {e}", path.display()));
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
    let mut f = opts.open(path).map_err(err)?;
    writeln!(f, "{token}").map_err(err)
}
