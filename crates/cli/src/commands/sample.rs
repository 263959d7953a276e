//! `uctriage sample`: the generated example bundles, so a new user can try every command.

use std::io::Write;
use std::path::PathBuf;

use uctriage_fixtures::{readme_sample, scenario, scenarios};
use uctriage_scan::Source;

use crate::args::SampleArgs;
use crate::{CliError, Exit};

/// The README's sample as a zip in memory, for `scan --sample`. Its name is the file
/// `uctriage sample` writes, so the report's paths name a file the user can make.
pub(crate) fn source() -> Result<Source, CliError> {
    let bytes = readme_sample().to_zip_bytes().map_err(|e| CliError::usage(format!("cannot build the sample: {e}")))?;
    Ok(Source::Bytes { name: "uctriage-sample.zip".to_owned(), bytes: bytes.into() })
}

pub fn run(args: &SampleArgs, out: &mut dyn Write) -> Result<Exit, CliError> {
    if args.list {
        for s in scenarios() {
            let expect = match &s.expected.first {
                Some(f) => format!("{} {}", f.layer, f.codes.join(" ")),
                None => "healthy".to_owned(),
            };
            writeln!(out, "{:<44} {:<36} {}", s.name, expect, s.description)?;
        }
        return Ok(Exit::Ok);
    }
    let (name, bundle) = match &args.name {
        None => ("uctriage-sample".to_owned(), readme_sample()),
        Some(n) => {
            let s = scenario(n)
                .ok_or_else(|| CliError::usage(format!("no scenario {n:?} (see `uctriage sample --list`)")))?;
            (n.clone(), s.build())
        }
    };
    let path = args.output.clone().unwrap_or_else(|| PathBuf::from(format!("{name}.zip")));
    let bytes = bundle.to_zip_bytes().map_err(|e| CliError::usage(format!("cannot build {name}: {e}")))?;
    let mut file = std::fs::OpenOptions::new();
    file.write(true);
    if args.force {
        file.create(true).truncate(true);
    } else {
        file.create_new(true);
    }
    let mut file = file.open(&path).map_err(|e| {
        if e.kind() == std::io::ErrorKind::AlreadyExists {
            CliError::usage(format!("{} already exists; use --force to replace it", path.display()))
        } else {
            CliError::usage(format!("{}: {e}", path.display()))
        }
    })?;
    file.write_all(&bytes).map_err(|e| CliError::usage(format!("{}: {e}", path.display())))?;
    writeln!(out, "wrote {} — try: uctriage scan {}", path.display(), path.display())?;
    Ok(Exit::Ok)
}
