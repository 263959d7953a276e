//! `uctriage codes`: list and filter the knowledge base.

use std::io::Write;

use uctriage_kb::{Entry, KnowledgeBase, Layer};

use crate::args::{CodesArgs, ListFormat};
use crate::{CliError, Exit};

pub fn run(args: &CodesArgs, out: &mut dyn Write) -> Result<Exit, CliError> {
    let kb = KnowledgeBase::builtin();
    if args.families {
        let fams = kb.families();
        match args.format {
            ListFormat::Json => {
                let v: Vec<_> = fams.iter().map(|(f, n)| serde_json::json!({"family": f, "entries": n})).collect();
                super::write_json(out, &v)?;
            }
            ListFormat::Csv | ListFormat::Text => {
                let sep = if args.format == ListFormat::Csv { "," } else { "\t" };
                if args.format == ListFormat::Csv {
                    writeln!(out, "family,entries")?;
                }
                for (f, n) in fams {
                    writeln!(out, "{f}{sep}{n}")?;
                }
            }
        }
        return Ok(Exit::Ok);
    }
    let layer: Option<Layer> = args.layer.as_deref().map(str::parse).transpose().map_err(CliError::usage)?;
    if let Some(f) = &args.family {
        if !kb.families().iter().any(|(name, _)| name == f) {
            let names: Vec<_> = kb.families().into_iter().map(|(n, _)| n).collect();
            return Err(CliError::usage(format!("unknown family {f:?}; families: {}", names.join(", "))));
        }
    }
    let kind = args.kind.as_deref().map(|k| k.to_ascii_lowercase().replace('_', "-"));
    if let Some(k) = &kind {
        let mut kinds: Vec<String> = kb.entries().iter().map(kind_name).collect();
        kinds.sort_unstable();
        kinds.dedup();
        if !kinds.contains(k) {
            let given = args.kind.as_deref().unwrap_or_default();
            return Err(CliError::usage(format!("unknown kind {given:?}; kinds: {}", kinds.join(", "))));
        }
    }
    let search = args.search.as_deref().map(str::to_lowercase);
    let keep = |e: &&Entry| {
        args.family.as_deref().is_none_or(|f| e.family == f)
            && layer.is_none_or(|l| e.layer == l)
            && kind.as_deref().is_none_or(|k| kind_name(e) == k)
            && search.as_deref().is_none_or(|q| {
                e.code.to_string().to_lowercase().contains(q)
                    || e.name.as_deref().is_some_and(|n| n.to_lowercase().contains(q))
                    || e.title.to_lowercase().contains(q)
                    || e.meaning.to_lowercase().contains(q)
            })
    };
    let mut list: Vec<&Entry> = kb.entries().iter().filter(keep).collect();
    list.sort_by(|a, b| a.code.cmp(&b.code));
    match args.format {
        ListFormat::Json => super::write_json(out, &list)?,
        ListFormat::Csv => {
            let mut w = csv::Writer::from_writer(&mut *out);
            w.write_record(["code", "name", "family", "layer", "title"]).map_err(|e| CliError::usage(e.to_string()))?;
            for e in &list {
                w.write_record([
                    e.code.to_string().as_str(),
                    e.name.as_deref().unwrap_or(""),
                    &e.family,
                    e.layer.as_str(),
                    &e.title,
                ])
                .map_err(|e| CliError::usage(e.to_string()))?;
            }
            w.flush()?;
        }
        ListFormat::Text => {
            let width = list.iter().map(|e| e.code.to_string().len()).max().unwrap_or(0);
            for e in &list {
                writeln!(
                    out,
                    "{:<width$}  {:<13}  {:<24}  {}",
                    e.code.to_string(),
                    e.layer.as_str(),
                    e.family,
                    e.title
                )?;
            }
            writeln!(out, "{} of {} codes", list.len(), kb.len())?;
        }
    }
    Ok(Exit::Ok)
}

fn kind_name(e: &Entry) -> String {
    serde_json::to_value(e.code.kind()).ok().and_then(|v| v.as_str().map(str::to_owned)).unwrap_or_default()
}
