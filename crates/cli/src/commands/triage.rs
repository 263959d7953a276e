//! `uctriage triage`: walk a decision flow, from flags or by asking on a terminal.

use std::fmt::Write as _;
use std::io::{BufRead, IsTerminal, Write};

use uctriage_kb::KnowledgeBase;
use uctriage_triage::{Answers, Flow, Flows, Given, Question, Run, TriageError};

use crate::args::{TextOrJson, TriageArgs};
use crate::style::{item, wrap, Style};
use crate::{CliError, Exit};

const WIDTH: usize = 100;

/// Flag answers first; then, on a terminal, a prompt on stderr.
struct Prompt {
    given: Given,
    interactive: bool,
    failure: Option<String>,
}

impl Answers for Prompt {
    fn answer(&mut self, q: &Question) -> Option<String> {
        if let Some(v) = self.given.answer(q) {
            return Some(v);
        }
        if !self.interactive {
            return None;
        }
        let mut err = std::io::stderr();
        let stdin = std::io::stdin();
        loop {
            let _ = writeln!(err, "\n{}", q.text);
            if !q.help.is_empty() {
                let _ = write!(err, "{}", wrap(&q.help, "  ", WIDTH));
            }
            for (i, o) in q.options.iter().enumerate() {
                let _ = writeln!(err, "  {}) {}  [{}]", i + 1, o.label, o.value);
            }
            let _ = write!(err, "> ");
            let _ = err.flush();
            let mut line = String::new();
            match stdin.lock().read_line(&mut line) {
                Ok(0) | Err(_) => {
                    self.failure = Some("input ended before the flow did".into());
                    return None;
                }
                Ok(_) => {}
            }
            let t = line.trim();
            if let Ok(n) = t.parse::<usize>() {
                if let Some(o) = n.checked_sub(1).and_then(|i| q.options.get(i)) {
                    return Some(o.value.clone());
                }
            }
            if let Some(o) = q.options.iter().find(|o| o.value.eq_ignore_ascii_case(t)) {
                return Some(o.value.clone());
            }
            let _ = writeln!(
                err,
                "Please answer with a number from 1 to {} or one of the values in brackets.",
                q.options.len()
            );
        }
    }
}

pub fn run(args: &TriageArgs, style: Style, out: &mut dyn Write) -> Result<Exit, CliError> {
    let flows = Flows::builtin();
    let flow = flows.get(&args.flow).ok_or_else(|| {
        let ids: Vec<_> = flows.flows.iter().map(|f| f.id.as_str()).collect();
        CliError::usage(format!("unknown flow {:?}; flows: {}", args.flow, ids.join(", ")))
    })?;
    if args.list {
        out.write_all(list(flow).as_bytes())?;
        return Ok(Exit::Ok);
    }
    let mut given = Given::default();
    let keys = flow.keys();
    for a in &args.answers {
        let (k, v) = a.split_once('=').ok_or_else(|| CliError::usage(format!("--answer {a:?}: expected KEY=VALUE")))?;
        let (k, v) = (k.trim(), v.trim());
        if !keys.contains_key(k) {
            let known: Vec<_> = keys.keys().copied().collect();
            return Err(CliError::usage(format!(
                "--answer {k}: flow {} has no such question; keys: {}",
                flow.id,
                known.join(", ")
            )));
        }
        given.insert(k, v);
    }
    let interactive = !args.no_input && std::io::stdin().is_terminal() && std::io::stderr().is_terminal();
    let mut prompt = Prompt { given, interactive, failure: None };
    if interactive {
        let _ = writeln!(std::io::stderr(), "{}\n{}", style.heading(&flow.title), flow.description);
    }
    let run = flow.run(&mut prompt).map_err(|e| match (e, prompt.failure.take()) {
        (_, Some(f)) => CliError::usage(f),
        (e @ (TriageError::Missing { .. } | TriageError::Invalid { .. }), None) => {
            CliError::usage(format!("{e}\n(run `uctriage triage --flow {} --list` to see every question)", flow.id))
        }
        (e, None) => CliError::usage(e.to_string()),
    })?;
    match args.format {
        TextOrJson::Json => super::write_json(out, &run)?,
        TextOrJson::Text => out.write_all(render(flow, &run, style).as_bytes())?,
    }
    Ok(Exit::Ok)
}

fn list(flow: &Flow) -> String {
    let mut s = format!("{}\n{}\n", flow.title, wrap(&flow.description, "", WIDTH));
    for q in &flow.questions {
        let _ = writeln!(s, "\n--answer {}=…   ({})\n  {}", q.key, q.id, q.text);
        for o in &q.options {
            let _ = writeln!(s, "    {:<16} {}", o.value, o.label);
        }
    }
    s
}

fn render(flow: &Flow, run: &Run, style: Style) -> String {
    let kb = KnowledgeBase::builtin();
    let o = &run.outcome;
    let mut s = String::new();
    let _ = writeln!(s, "{}", style.heading(&flow.title));
    for step in &run.path {
        let _ = writeln!(s, "  {} = {}  {}", step.key, step.answer, style.dim(&format!("({})", step.label)));
    }
    let _ = writeln!(s, "\n{} {}", style.heading("Layer:"), style.code(o.layer.as_str()));
    s.push_str(&wrap(&o.summary, "", WIDTH));
    let _ = writeln!(s, "\n{}", style.heading("Run next"));
    for c in &o.commands {
        let _ = writeln!(s, "  $ {c}");
    }
    let _ = writeln!(s, "\n{}", style.heading("Fixes, in order"));
    for (i, f) in o.fixes.iter().enumerate() {
        s.push_str(&item(&format!("{}. ", i + 1), f, "  ", WIDTH));
    }
    if !o.codes.is_empty() {
        let _ = writeln!(s, "\n{}", style.heading("Codes to read (uctriage explain CODE)"));
        for c in &o.codes {
            let title = kb.get(c).map_or("", |e| e.title.as_str());
            s.push_str(&item(&format!("{c}  "), title, "  ", WIDTH));
        }
    }
    s
}
