//! `uctriage man [COMMAND]`: the manual page in roff, generated from the flags with clap_mangen,
//! so that it never drifts from `--help`.

use std::io::Write;

use clap::CommandFactory;

use crate::args::{Cli, ManArgs};
use crate::{CliError, Exit};

pub fn run(args: &ManArgs, out: &mut dyn Write) -> Result<Exit, CliError> {
    let mut cmd = Cli::command();
    cmd.build();
    let page = match &args.command {
        None => clap_mangen::Man::new(cmd),
        Some(name) => {
            let Some(sub) = cmd.find_subcommand(name).cloned() else {
                let known: Vec<&str> =
                    cmd.get_subcommands().map(clap::Command::get_name).filter(|n| *n != "help").collect();
                return Err(CliError {
                    exit: Exit::Usage,
                    message: format!("no command {name:?}; the commands are {}", known.join(", ")),
                });
            };
            // The page is named after the whole command line: uctriage-scan(1).
            let title = format!("uctriage-{}", sub.get_name());
            clap_mangen::Man::new(sub).title(title)
        }
    };
    let mut roff = Vec::new();
    page.render(&mut roff)?;
    out.write_all(&roff)?;
    Ok(Exit::Ok)
}
