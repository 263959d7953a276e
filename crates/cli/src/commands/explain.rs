//! `uctriage explain CODE...`

use std::fmt::Write as _;
use std::io::Write;

use serde::Serialize;
use uctriage_kb::{Code, Decoded, Entry, Explanation, KnowledgeBase};

use crate::args::{ExplainArgs, TextOrJson};
use crate::style::{item, wrap, Style};
use crate::{CliError, Exit};

const WIDTH: usize = 100;

/// The JSON shape of one explanation: the entry's fields at the top level.
#[derive(Debug, Serialize)]
struct JsonExplanation<'a> {
    input: &'a str,
    code: Option<&'a Code>,
    known: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    name: Option<&'a str>,
    family: Option<&'a str>,
    layer: Option<&'a str>,
    title: Option<&'a str>,
    meaning: Option<&'a str>,
    causes: &'a [String],
    first_checks: &'a [String],
    fixes: &'a [String],
    seen_in: &'a [String],
    references: &'a [String],
    related: &'a [Code],
    aliases: &'a [String],
    decode: Option<&'a Decoded>,
    suggestions: &'a [Code],
}

fn to_json<'a>(x: &'a Explanation<'a>) -> JsonExplanation<'a> {
    let e: Option<&Entry> = x.entry.as_deref();
    JsonExplanation {
        input: &x.input,
        code: x.code.as_ref(),
        known: x.known,
        name: e.and_then(|e| e.name.as_deref()).or_else(|| x.decoded.as_ref().and_then(|d| d.symbolic_name)),
        family: e.map(|e| e.family.as_str()),
        layer: e.map(|e| e.layer.as_str()),
        title: e.map(|e| e.title.as_str()),
        meaning: e.map(|e| e.meaning.as_str()),
        causes: e.map_or(&[], |e| &e.causes),
        first_checks: e.map_or(&[], |e| &e.first_checks),
        fixes: e.map_or(&[], |e| &e.fixes),
        seen_in: e.map_or(&[], |e| &e.seen_in),
        references: e.map_or(&[], |e| &e.references),
        related: e.map_or(&[], |e| &e.related),
        aliases: e.map_or(&[], |e| &e.aliases),
        decode: x.decoded.as_ref(),
        suggestions: &x.suggestions,
    }
}

pub fn run(args: &ExplainArgs, style: Style, out: &mut dyn Write) -> Result<Exit, CliError> {
    let kb = KnowledgeBase::builtin();
    let mut all_known = true;
    let mut answers: Vec<Explanation<'_>> = Vec::new();
    for input in &args.codes {
        let found = kb.explain(input);
        all_known &= found.iter().any(|x| x.known);
        answers.extend(found);
    }
    match args.format {
        TextOrJson::Json => {
            let json: Vec<_> = answers.iter().map(to_json).collect();
            super::write_json(out, &json)?;
        }
        TextOrJson::Text => {
            let mut first = true;
            for input in &args.codes {
                let group: Vec<&Explanation<'_>> = answers.iter().filter(|x| &x.input == input).collect();
                if group.len() > 1 {
                    if !first {
                        writeln!(out)?;
                    }
                    writeln!(out, "{}", style.dim(&format!("“{input}” has {} readings:", group.len())))?;
                    first = true;
                }
                for x in group {
                    if !first {
                        writeln!(out)?;
                    }
                    first = false;
                    out.write_all(render(kb, x, style).as_bytes())?;
                }
            }
        }
    }
    Ok(if all_known { Exit::Ok } else { Exit::Problems })
}

/// The text rendering of one explanation.
pub(crate) fn render(kb: &KnowledgeBase, x: &Explanation<'_>, style: Style) -> String {
    let mut s = String::new();
    let Some(e) = x.entry.as_deref() else {
        return render_unknown(kb, x, style);
    };
    let name = e.name.as_deref().map(|n| format!(" — {n}")).unwrap_or_default();
    let _ = writeln!(s, "{}{name}", style.code(&e.code.to_string()));
    let _ = writeln!(s, "{}", style.heading(&e.title));
    let _ = writeln!(s, "{}", style.dim(&format!("family {} · layer {}", e.family, e.layer)));
    section(&mut s, style, "What it means");
    s.push_str(&wrap(&e.meaning, "  ", WIDTH));
    numbered(&mut s, style, "Likely causes", &e.causes);
    numbered(&mut s, style, "First checks", &e.first_checks);
    numbered(&mut s, style, "Fixes", &e.fixes);
    section(&mut s, style, "Where it shows up");
    for w in &e.seen_in {
        s.push_str(&item("- ", w, "  ", WIDTH));
    }
    if let Some(d) = &x.decoded {
        if !d.parts.is_empty() {
            section(&mut s, style, "Structure");
            s.push_str(&wrap(&d.summary, "  ", WIDTH));
            for p in &d.parts {
                let _ = writeln!(s, "  {}: {}", p.label, p.value);
            }
        }
    }
    if !e.related.is_empty() {
        section(&mut s, style, "Related");
        for r in &e.related {
            let title = kb.get(r).map_or("", |r| r.title.as_str());
            s.push_str(&item(&format!("{r}  "), title, "  ", WIDTH));
        }
    }
    section(&mut s, style, "References");
    for r in &e.references {
        let _ = writeln!(s, "  {r}");
    }
    s
}

fn render_unknown(kb: &KnowledgeBase, x: &Explanation<'_>, style: Style) -> String {
    let mut s = String::new();
    match &x.code {
        Some(c) => {
            let _ = writeln!(s, "{} {}", style.code(&c.to_string()), style.bad("is not in the knowledge base"));
        }
        None => {
            let _ = writeln!(s, "“{}” {}", x.input, style.bad("does not read as a known code"));
        }
    }
    if let Some(d) = &x.decoded {
        section(&mut s, style, "What its structure says");
        s.push_str(&wrap(&d.summary, "  ", WIDTH));
        for p in &d.parts {
            let _ = writeln!(s, "  {}: {}", p.label, p.value);
        }
        if let Some(inner) = d.inner.as_ref().and_then(|c| kb.get(c)) {
            let _ = writeln!(s, "  carries {}: {}", inner.code, inner.title);
        }
    }
    if !x.suggestions.is_empty() {
        section(&mut s, style, "Nearest known codes");
        for c in &x.suggestions {
            let title = kb.get(c).map_or("", |e| e.title.as_str());
            s.push_str(&item(&format!("{c}  "), title, "  ", WIDTH));
        }
    }
    s
}

fn section(s: &mut String, style: Style, title: &str) {
    let _ = writeln!(s, "\n{}", style.heading(title));
}

fn numbered(s: &mut String, style: Style, title: &str, items: &[String]) {
    section(s, style, title);
    for (i, t) in items.iter().enumerate() {
        s.push_str(&item(&format!("{}. ", i + 1), t, "  ", WIDTH));
    }
}
