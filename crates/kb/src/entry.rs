//! Knowledge entries as stored in `data/*.toml`, and their validation on load.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::code::Code;

/// Where a fault lives (the contract's layer names).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Layer {
    Client,
    Network,
    Dns,
    Identity,
    Policy,
    Device,
    Federation,
    License,
    Mailbox,
    Service,
    Certificate,
    Sbc,
    Carrier,
    Configuration,
    Media,
}

impl Layer {
    pub const ALL: [Layer; 15] = [
        Layer::Client,
        Layer::Network,
        Layer::Dns,
        Layer::Identity,
        Layer::Policy,
        Layer::Device,
        Layer::Federation,
        Layer::License,
        Layer::Mailbox,
        Layer::Service,
        Layer::Certificate,
        Layer::Sbc,
        Layer::Carrier,
        Layer::Configuration,
        Layer::Media,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Layer::Client => "client",
            Layer::Network => "network",
            Layer::Dns => "dns",
            Layer::Identity => "identity",
            Layer::Policy => "policy",
            Layer::Device => "device",
            Layer::Federation => "federation",
            Layer::License => "license",
            Layer::Mailbox => "mailbox",
            Layer::Service => "service",
            Layer::Certificate => "certificate",
            Layer::Sbc => "sbc",
            Layer::Carrier => "carrier",
            Layer::Configuration => "configuration",
            Layer::Media => "media",
        }
    }
}

impl fmt::Display for Layer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for Layer {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Layer::ALL
            .into_iter()
            .find(|l| l.as_str().eq_ignore_ascii_case(s))
            .ok_or_else(|| format!("unknown layer {s:?} (one of: {})", Layer::ALL.map(Layer::as_str).join(", ")))
    }
}

/// One code in the knowledge base, with every field filled.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Entry {
    pub code: Code,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    pub aliases: Vec<String>,
    pub family: String,
    pub layer: Layer,
    pub title: String,
    pub meaning: String,
    pub causes: Vec<String>,
    pub first_checks: Vec<String>,
    pub fixes: Vec<String>,
    pub seen_in: Vec<String>,
    pub references: Vec<String>,
    pub related: Vec<Code>,
    /// The data file the entry came from (empty for entries built from a code's structure).
    #[serde(skip)]
    pub file: String,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFields {
    code: Option<String>,
    name: Option<String>,
    #[serde(default)]
    aliases: Vec<String>,
    family: Option<String>,
    layer: Option<Layer>,
    title: Option<String>,
    meaning: Option<String>,
    causes: Option<Vec<String>>,
    first_checks: Option<Vec<String>>,
    fixes: Option<Vec<String>>,
    seen_in: Option<Vec<String>>,
    references: Option<Vec<String>>,
    related: Option<Vec<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    #[serde(default)]
    defaults: RawFields,
    #[serde(default)]
    entry: Vec<RawFields>,
}

/// A problem in a knowledge file, naming the file and the entry.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{file}: {place}: {message}")]
pub struct KbError {
    pub file: String,
    pub place: String,
    pub message: String,
}

fn is_kebab(s: &str) -> bool {
    !s.is_empty()
        && s.split('-').all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit()))
}

/// Parse one knowledge file, applying its `[defaults]`. All problems are returned, not just the first.
pub(crate) fn parse_file(file: &str, text: &str) -> Result<Vec<Entry>, Vec<KbError>> {
    let err = |place: String, message: String| KbError { file: file.to_owned(), place, message };
    let raw: RawFile = toml::from_str(text).map_err(|e| vec![err("toml".into(), e.to_string())])?;
    let d = raw.defaults;
    let mut out = Vec::with_capacity(raw.entry.len());
    let mut errors = Vec::new();
    for (i, e) in raw.entry.into_iter().enumerate() {
        let place = format!("entry {} ({})", i + 1, e.code.as_deref().unwrap_or("no code"));
        let mut bad = |m: String| errors.push(err(place.clone(), m));
        let text_field = |v: Option<String>, dv: &Option<String>, name: &str, bad: &mut dyn FnMut(String)| {
            let v = v.or_else(|| dv.clone()).unwrap_or_default();
            if v.trim().is_empty() {
                bad(format!("`{name}` is missing or empty"));
            }
            v.trim().to_owned()
        };
        let list_field = |v: Option<Vec<String>>, dv: &Option<Vec<String>>, name: &str, bad: &mut dyn FnMut(String)| {
            let v = v.or_else(|| dv.clone()).unwrap_or_default();
            if v.is_empty() || v.iter().any(|s| s.trim().is_empty()) {
                bad(format!("`{name}` is missing, empty or has an empty item"));
            }
            v.into_iter().map(|s| s.trim().to_owned()).collect::<Vec<_>>()
        };
        let code_text = e.code.clone().unwrap_or_default();
        let code = match code_text.parse::<Code>() {
            Ok(c) => Some(c),
            Err(x) => {
                bad(x.to_string());
                None
            }
        };
        let family = text_field(e.family, &d.family, "family", &mut bad);
        if !family.is_empty() && !is_kebab(&family) {
            bad(format!("family {family:?} is not kebab-case"));
        }
        let layer = e.layer.or(d.layer);
        if layer.is_none() {
            bad("`layer` is missing".into());
        }
        let title = text_field(e.title, &d.title, "title", &mut bad);
        let meaning = text_field(e.meaning, &d.meaning, "meaning", &mut bad);
        let causes = list_field(e.causes, &d.causes, "causes", &mut bad);
        let first_checks = list_field(e.first_checks, &d.first_checks, "first_checks", &mut bad);
        let fixes = list_field(e.fixes, &d.fixes, "fixes", &mut bad);
        let seen_in = list_field(e.seen_in, &d.seen_in, "seen_in", &mut bad);
        let references = list_field(e.references, &d.references, "references", &mut bad);
        for r in &references {
            if !r.starts_with("https://") {
                bad(format!("reference {r:?} is not an https URL"));
            }
        }
        let mut related = Vec::new();
        for r in e.related.or(d.related.clone()).unwrap_or_default() {
            match r.parse::<Code>() {
                Ok(c) => related.push(c),
                Err(x) => bad(format!("related: {x}")),
            }
        }
        if let (Some(code), Some(layer)) = (code, layer) {
            out.push(Entry {
                code,
                name: e.name.map(|n| n.trim().to_owned()).filter(|n| !n.is_empty()),
                aliases: e.aliases.into_iter().map(|a| a.trim().to_owned()).filter(|a| !a.is_empty()).collect(),
                family,
                layer,
                title,
                meaning,
                causes,
                first_checks,
                fixes,
                seen_in,
                references,
                related,
                file: file.to_owned(),
            });
        }
    }
    if errors.is_empty() {
        Ok(out)
    } else {
        Err(errors)
    }
}

/// Parse knowledge files in order into the entries of one knowledge base, refusing a code
/// defined twice. Every problem in every file is reported.
pub(crate) fn load_entries<'a>(
    files: impl IntoIterator<Item = (&'a str, &'a str)>,
) -> Result<Vec<Entry>, Vec<KbError>> {
    let mut entries: Vec<Entry> = Vec::new();
    let mut defined: std::collections::HashMap<Code, usize> = std::collections::HashMap::new();
    let mut errors = Vec::new();
    for (name, text) in files {
        match parse_file(name, text) {
            Ok(parsed) => {
                for e in parsed {
                    if let Some(&prev) = defined.get(&e.code) {
                        errors.push(KbError {
                            file: name.to_owned(),
                            place: e.code.to_string(),
                            message: format!("duplicate: already defined in {}", entries[prev].file),
                        });
                        continue;
                    }
                    defined.insert(e.code.clone(), entries.len());
                    entries.push(e);
                }
            }
            Err(mut e) => errors.append(&mut e),
        }
    }
    if errors.is_empty() {
        Ok(entries)
    } else {
        Err(errors)
    }
}
