//! `uctriage scan PATH...`: read, judge, report.

use std::fmt::Write as _;
use std::io::{IsTerminal, Write};
use std::time::Instant;

use uctriage_report::{ScanReport, Stats};
use uctriage_rules::{diagnose, RuleSet, Verdict};
use uctriage_sources::{read, Options};

use crate::args::{ReportFormat, ScanArgs};
use crate::{CliError, Exit};

/// The built-in rules plus `--rules DIR`, or a usage error naming the bad file.
pub(crate) fn load_rules(dir: Option<&std::path::Path>) -> Result<RuleSet, CliError> {
    let extra = match dir {
        Some(d) => uctriage_rules::read_dir(d).map_err(|e| CliError::usage(e.to_string()))?,
        None => Vec::new(),
    };
    RuleSet::load(&extra).map_err(|errors| {
        CliError::usage(format!(
            "invalid rules:\n{}",
            errors.iter().map(ToString::to_string).collect::<Vec<_>>().join("\n")
        ))
    })
}

pub fn run(args: &ScanArgs, out: &mut dyn Write) -> Result<Exit, CliError> {
    let rules = load_rules(args.rules.as_deref())?;
    let started = Instant::now();
    let progress = (!args.quiet && std::io::stderr().is_terminal()).then(|| {
        let pb = indicatif::ProgressBar::new_spinner();
        pb.set_draw_target(indicatif::ProgressDrawTarget::stderr());
        pb.enable_steady_tick(std::time::Duration::from_millis(120));
        pb
    });
    let mut paths = args.paths.clone();
    let _sample = if args.sample {
        let file = super::sample::write_temp()?;
        paths.insert(0, file.path.display().to_string());
        Some(file)
    } else {
        None
    };
    let mut total = rules.collector();
    let mut inputs = Vec::new();
    let summary = read(
        &paths,
        &Options::default(),
        || rules.collector(),
        |report, collector| {
            if let Some(pb) = &progress {
                pb.set_message(format!(
                    "{} inputs, {} records: {}",
                    inputs.len() + 1,
                    total.records() + collector.records(),
                    report.path
                ));
            }
            total.merge(collector);
            inputs.push(report);
        },
    );
    if let Some(pb) = progress {
        pb.finish_and_clear();
    }
    let readable = inputs.iter().any(|i| i.format != "unreadable" && i.format != "unsupported");
    if !readable {
        let mut msg = String::from("nothing could be read from the given paths");
        for w in summary.warnings.iter().chain(inputs.iter().flat_map(|i| i.warnings.iter())) {
            let _ = write!(msg, "\n  {w}");
        }
        return Err(CliError::usage(msg));
    }
    let diagnosis = diagnose(total);
    let stats = Stats {
        files: summary.files,
        records: summary.records,
        bytes: summary.bytes,
        elapsed_ms: u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
    };
    let mut report = ScanReport::new(&inputs, &summary.warnings, diagnosis, stats);
    if args.redact {
        report.redact(&mut uctriage_report::Redactor::new());
    }
    let to_terminal =
        args.output.is_none() && std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none();
    let body = match args.format {
        ReportFormat::Text => uctriage_report::text(&report, to_terminal),
        ReportFormat::Json => report.json() + "\n",
        ReportFormat::Markdown => uctriage_report::markdown(&report),
        ReportFormat::Html => uctriage_report::html(&report),
    };
    match &args.output {
        Some(path) => std::fs::write(path, body).map_err(|e| CliError::usage(format!("{}: {e}", path.display())))?,
        None => out.write_all(body.as_bytes())?,
    }
    Ok(match report.verdict {
        Verdict::Healthy => Exit::Ok,
        Verdict::Problems => Exit::Problems,
        Verdict::Inconclusive => Exit::Inconclusive,
    })
}
