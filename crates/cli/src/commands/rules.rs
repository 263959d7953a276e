//! `uctriage rules test | lint | list`.

use std::io::Write;

use uctriage_evidence::counted;

use crate::args::{RulesAction, RulesArgs, TextOrJson};
use crate::{CliError, Exit};

pub fn run(args: &RulesArgs, out: &mut dyn Write) -> Result<Exit, CliError> {
    match &args.action {
        RulesAction::Test { rules, format } => {
            let set = super::scan::load_rules(rules.as_deref())?;
            let results = uctriage_rules::test_samples(&set);
            let failed = results.iter().filter(|r| !r.passed).count();
            match format {
                TextOrJson::Json => super::write_json(out, &results)?,
                TextOrJson::Text => {
                    for r in &results {
                        let what = if r.expected_to_fire { "fires" } else { "stays quiet" };
                        let status = if r.passed { "ok" } else { "FAILED" };
                        writeln!(out, "{status:6} {} sample {} {what}", r.rule, r.sample)?;
                    }
                    writeln!(out, "{} passed, {} failed", results.len() - failed, failed)?;
                }
            }
            Ok(if failed == 0 { Exit::Ok } else { Exit::Problems })
        }
        RulesAction::Lint { dir } => {
            let set = super::scan::load_rules(dir.as_deref())?;
            writeln!(out, "{}: no problems found", counted(set.rules.len(), "rule"))?;
            Ok(Exit::Ok)
        }
        RulesAction::List => {
            let set = super::scan::load_rules(None)?;
            for r in &set.rules {
                writeln!(
                    out,
                    "{:<48} {:<8} {:<13} {}",
                    r.raw.id,
                    r.raw.severity.as_str(),
                    r.raw.layer.as_str(),
                    r.raw.title
                )?;
            }
            Ok(Exit::Ok)
        }
    }
}
