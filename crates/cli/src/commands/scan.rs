//! `uctriage scan PATH...`: read, judge, report (the work itself is `uctriage_scan::scan`).

use std::io::{IsTerminal, Write};

use uctriage_evidence::counted;
use uctriage_rules::{RuleSet, Verdict};
use uctriage_scan::{scan, ReadOptions, ScanOptions, Source};

use crate::args::{ColorChoice, ReportFormat, ScanArgs};
use crate::style::Style;
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

pub fn run(args: &ScanArgs, choice: ColorChoice, out: &mut dyn Write) -> Result<Exit, CliError> {
    // The knowledge base and its code extractor cost more to build than the rules and almost
    // every reader needs them: build them on the other core while the rules load and the first
    // input is opened (a reader that needs them first waits for the build, never repeats it).
    let warm = std::thread::spawn(|| {
        uctriage_kb::KnowledgeBase::builtin().may_hold_code("");
    });
    let rules = load_rules(args.rules.as_deref())?;
    let progress = (!args.quiet && std::io::stderr().is_terminal()).then(|| {
        let pb = indicatif::ProgressBar::new_spinner();
        pb.set_draw_target(indicatif::ProgressDrawTarget::stderr());
        pb.enable_steady_tick(std::time::Duration::from_millis(120));
        pb
    });
    let mut sources: Vec<Source> = args.paths.iter().map(|p| Source::from_arg(p)).collect();
    if args.sample {
        sources.insert(0, super::sample::source()?);
    }
    for (i, text) in args.text.iter().enumerate() {
        // No file name to go by: the readers decide from the content.
        let name = if args.text.len() == 1 { "pasted-text".to_owned() } else { format!("pasted-text-{}", i + 1) };
        sources.push(Source::Bytes { name, bytes: text.as_bytes().into() });
    }
    let opts = ScanOptions { read: ReadOptions::default(), redact: args.redact };
    let mut inputs = 0usize;
    let result = scan(&sources, &rules, &opts, &mut |input, records| {
        inputs += 1;
        if let Some(pb) = &progress {
            // A redacted run does not show the paths it reads.
            if args.redact {
                pb.set_message(format!("{}, {}", counted(inputs, "input"), counted(records, "record")));
            } else {
                pb.set_message(format!(
                    "{}, {}: {}",
                    counted(inputs, "input"),
                    counted(records, "record"),
                    uctriage_report::terminal_safe(&input.path)
                ));
            }
        }
    });
    if let Some(pb) = progress {
        pb.finish_and_clear();
    }
    // Done by now (the readers waited for it); a panic in it was the readers' panic too.
    let _ = warm.join();
    let report = result.map_err(|e| {
        if args.redact {
            CliError::usage(uctriage_report::Redactor::new().text(&e.to_string()))
        } else {
            CliError::usage(e.to_string())
        }
    })?;
    // Colour follows --color for standard output; a report file is never coloured unless asked.
    let colour = match choice {
        ColorChoice::Always => true,
        ColorChoice::Never => false,
        ColorChoice::Auto => args.output.is_none() && Style::new(choice).is_on(),
    };
    let format = args
        .format
        .or_else(|| args.output.as_deref().and_then(ReportFormat::from_extension))
        .unwrap_or(ReportFormat::Text);
    let body = match format {
        ReportFormat::Text => uctriage_report::text(&report, colour),
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
