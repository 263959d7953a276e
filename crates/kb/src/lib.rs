//! The uctriage knowledge base: every code an admin meets, what it means, where it lives and how to
//! fix it — offline, in one lookup.
//!
//! The knowledge lives as TOML files in `crates/kb/data/`, compiled in; this crate loads them,
//! normalizes whatever spelling a code arrives in ([`normalize`]), decodes what a code's structure
//! reveals ([`decode`]) and answers lookups.
//!
//! ```
//! let kb = uctriage_kb::KnowledgeBase::builtin();
//! let found = kb.explain("aadsts50076:");
//! assert_eq!(found[0].code.as_ref().unwrap().to_string(), "AADSTS50076");
//! assert!(found[0].known);
//! ```

pub mod code;
pub mod decode;
pub mod entry;
mod extract;
pub mod normalize;
mod packed;
mod table;
mod words;

use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::OnceLock;

use serde::Serialize;

pub use code::{Code, Kind};
pub use decode::{decode, Decoded};
pub use entry::{Entry, KbError, Layer};
pub use extract::bounded_captures;
pub use normalize::{candidates, normalize, Context};

mod files {
    include!(concat!(env!("OUT_DIR"), "/kb_files.rs"));
}

/// What the build script made of the knowledge files: their entries packed (`None` when the
/// files did not load: `builtin` then parses them and reports why), and the prefilter's automaton.
#[allow(clippy::unreadable_literal)] // Generated tables of numbers.
mod built {
    /// The prefilter's automaton for the packed entries (see `table.rs`), with what each of its
    /// words stands for, as `words::prefilter_words` gives them.
    #[derive(Debug)]
    pub(crate) struct Prefilter {
        pub columns: &'static [u8; 256],
        pub transitions: &'static [u8],
        pub start: u16,
        pub max_match: u16,
        pub reports: &'static [u32],
        pub wants: &'static [u32],
        /// The entry of each alias word; `u32::MAX` for the other words.
        pub alias_entry: &'static [u32],
        /// `WordList::fingerprint` of the words the build script used (the tests compare it).
        #[allow(dead_code)]
        pub fingerprint: u64,
    }

    include!(concat!(env!("OUT_DIR"), "/kb_built.rs"));
}

/// The knowledge files compiled into the binary, as (file name, TOML text).
pub fn builtin_files() -> &'static [(&'static str, &'static str)] {
    files::FILES
}

/// A loaded, validated knowledge base.
#[derive(Debug, Default)]
pub struct KnowledgeBase {
    entries: Vec<Entry>,
    by_code: HashMap<Code, usize>,
    /// Lower-case canonical text of named codes (TEAMS, LYNC, PEXIP) to their entry.
    by_token: HashMap<String, usize>,
    /// Lower-case alias text to the entries that list it.
    by_alias: HashMap<String, Vec<usize>>,
    /// Upper-case symbolic name (`ERROR_INET_RESOURCE_NOT_FOUND`, `InteractionRequired`) to the
    /// entries that carry it.
    by_name: HashMap<String, Vec<usize>>,
    extractor: OnceLock<extract::Extractor>,
    /// True for the built-in knowledge base read from the build script's packed entries: its
    /// extractor takes the prefilter the build script made from the same entries.
    prebuilt: bool,
}

/// The answer for one interpretation of one input.
#[derive(Debug, Clone, Serialize)]
pub struct Explanation<'kb> {
    pub input: String,
    /// The canonical reading, when the input reads as a code at all.
    pub code: Option<Code>,
    /// True when the knowledge base (or a named structural decode) explains the code.
    pub known: bool,
    /// The entry: from the data files, or built from the code's structure.
    pub entry: Option<Cow<'kb, Entry>>,
    pub decoded: Option<Decoded>,
    /// Nearest known codes, for unknown inputs.
    pub suggestions: Vec<Code>,
}

impl KnowledgeBase {
    /// The knowledge base compiled into the binary. Its files are validated by the crate's tests.
    ///
    /// Read from the entries the build script packed from the same files (parsing the TOML was
    /// most of the start-up of a small scan); the kb tests check that both give the same base.
    pub fn builtin() -> &'static KnowledgeBase {
        static KB: OnceLock<KnowledgeBase> = OnceLock::new();
        KB.get_or_init(|| {
            // A constant: when the build script packed the entries, the TOML files are not read
            // (nor kept in an optimized binary that does not ask for `builtin_files`).
            if built::PACKED.is_some() {
                return Self::from_packed().expect("the packed entries read back (a kb test reads them)");
            }
            match KnowledgeBase::from_sources(builtin_files().iter().copied()) {
                Ok(kb) => kb,
                Err(errors) => panic!(
                    "the built-in knowledge base is invalid (the kb tests catch this):\n{}",
                    errors.iter().map(ToString::to_string).collect::<Vec<_>>().join("\n")
                ),
            }
        })
    }

    /// The built-in knowledge base from the build script's packed entries, when it wrote them
    /// and they read back.
    fn from_packed() -> Option<KnowledgeBase> {
        let (text, numbers) = built::PACKED?;
        let mut kb = Self::from_entries(packed::unpack(text, numbers)?);
        kb.prebuilt = true;
        Some(kb)
    }

    /// Load and validate knowledge files. Every problem in every file is reported.
    pub fn from_sources<'a>(files: impl IntoIterator<Item = (&'a str, &'a str)>) -> Result<Self, Vec<KbError>> {
        entry::load_entries(files).map(Self::from_entries)
    }

    /// Index entries that hold no code twice.
    fn from_entries(entries: Vec<Entry>) -> Self {
        let mut kb = KnowledgeBase::default();
        for e in entries {
            let i = kb.entries.len();
            kb.by_code.insert(e.code.clone(), i);
            if matches!(e.code, Code::Teams(_) | Code::Lync(_) | Code::Pexip(_)) {
                kb.by_token.insert(e.code.to_string().to_ascii_lowercase(), i);
            }
            for a in &e.aliases {
                kb.by_alias.entry(alias_key(a)).or_default().push(i);
            }
            if let Some(n) = &e.name {
                kb.by_name.entry(n.to_ascii_uppercase()).or_default().push(i);
            }
            kb.entries.push(e);
        }
        kb
    }

    pub fn entries(&self) -> &[Entry] {
        &self.entries
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The entry for a canonical code.
    pub fn get(&self, code: &Code) -> Option<&Entry> {
        self.by_code.get(code).map(|&i| &self.entries[i]).or_else(|| match code {
            Code::Teams(_) | Code::Lync(_) | Code::Pexip(_) => {
                self.by_token.get(&code.to_string().to_ascii_lowercase()).map(|&i| &self.entries[i])
            }
            _ => None,
        })
    }

    /// The first known entry for any spelling of a code: the fast path readers and rules use.
    pub fn find(&self, input: &str) -> Option<&Entry> {
        candidates(input).iter().find_map(|c| self.get(c))
    }

    /// Every code found in free text (a log line, a JSON string, a pasted dialog), in canonical
    /// form, in order of kind and without repeats. URL-encoded text is decoded first.
    pub fn extract(&self, text: &str) -> Vec<Code> {
        let mut out = Vec::new();
        self.extract_into(text, &mut out);
        out
    }

    /// [`extract`](Self::extract) appending to `out` (codes already there are not repeated).
    pub fn extract_into(&self, text: &str, out: &mut Vec<Code>) {
        let ex = self.extractor.get_or_init(|| extract::Extractor::new(self));
        if text.contains('%') {
            let decoded = normalize::percent_decode_str(text);
            ex.extract(self, &decoded, out);
        } else {
            ex.extract(self, text, out);
        }
    }

    /// The source of every regular expression the code extractor runs, in its order: the
    /// baseline alternation `scripts/bench.sh` gives `rg` (`scripts/code-patterns.txt`, kept equal
    /// to this list by the kb tests).
    pub fn extraction_patterns(&self) -> Vec<String> {
        self.extractor.get_or_init(|| extract::Extractor::new(self)).pattern_sources()
    }

    /// False only when [`extract`](Self::extract) of `text` is sure to find nothing: no trigger
    /// word, context word, reason phrase or alias text of the extractor's prefilter is in it, no
    /// `%` (URL-encoded text is decoded first) and no `-` before nine digits (a signed HRESULT).
    /// One pass of the prefilter's automaton: readers call it to skip a line before any other
    /// work. Text split at line ends keeps the answer: no trigger holds a line end.
    pub fn may_hold_code(&self, text: &str) -> bool {
        self.extractor.get_or_init(|| extract::Extractor::new(self)).may_match(text)
    }

    /// Canonical reading of `raw` in `context`, with named tokens put in their knowledge-base spelling.
    /// Readings the knowledge base knows win over unknown ones of the same rank.
    pub fn normalize(&self, raw: &str, context: Context) -> Option<Code> {
        let all = normalize::ordered(candidates(raw), context);
        let preferred = context_prefers(context);
        all.iter()
            .filter(|c| preferred.is_empty() || preferred.contains(&c.kind()))
            .chain(all.iter())
            .find_map(|c| self.get(c).map(|e| e.code.clone()))
            .or_else(|| all.into_iter().next())
    }

    /// Every known interpretation of `input`; or one unknown answer with its decode and suggestions.
    ///
    /// A symbolic name `explain` prints (an entry's name, or a Win32, HRESULT or WinHTTP name of
    /// the imported tables) reads as its code. A bare number that is a WinHTTP or WinINet error
    /// of the imported tables (12001–12184) reads as that error first, and its AADSTS reading
    /// follows, known or not.
    pub fn explain(&self, input: &str) -> Vec<Explanation<'_>> {
        let mut cands = candidates(input);
        let word = input.trim().trim_matches(|c| c == '"' || c == '\'' || c == '`');
        let number = word.parse::<u32>().ok().filter(|_| word.bytes().all(|b| b.is_ascii_digit()));
        let winhttp = number.filter(|&n| decode::winhttp_name(n).is_some());
        if let Some(n) = winhttp {
            cands.insert(0, Code::Hresult(0x8007_0000 | n));
        }
        let mut out: Vec<Explanation<'_>> = Vec::new();
        let mut hits: Vec<usize> = Vec::new();
        if let Some(ix) = self.by_alias.get(&alias_key(input)) {
            hits.extend(ix);
        }
        if !word.is_empty() && word.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
            if let Some(ix) = self.by_name.get(&word.to_ascii_uppercase()) {
                hits.extend(ix);
            }
            if let Some(c) = decode::code_for_name(word) {
                cands.insert(0, c);
            }
        }
        for c in &cands {
            if let Some(i) = self.index_of(c) {
                hits.push(i);
            }
        }
        if hits.is_empty() {
            hits.extend(self.alias_contains(input));
        }
        let mut taken: Vec<usize> = Vec::new();
        for i in hits {
            if !taken.contains(&i) {
                taken.push(i);
                let e = &self.entries[i];
                out.push(Explanation {
                    input: input.to_owned(),
                    code: Some(e.code.clone()),
                    known: true,
                    entry: Some(Cow::Borrowed(e)),
                    decoded: Some(decode(&e.code)),
                    suggestions: Vec::new(),
                });
            }
        }
        if out.is_empty() {
            if let Some((c, e)) = cands.iter().find_map(|c| Some((c, self.synthesize(c)?))) {
                out.push(Explanation {
                    input: input.to_owned(),
                    code: Some(c.clone()),
                    known: true,
                    entry: Some(Cow::Owned(e)),
                    decoded: Some(decode(c)),
                    suggestions: Vec::new(),
                });
            }
        }
        if let Some(n) = winhttp.filter(|_| !out.is_empty()) {
            // The same number as an AADSTS code, listed after the WinHTTP reading even when unknown.
            let aadsts = Code::Aadsts(n);
            if !out.iter().any(|x| x.code.as_ref() == Some(&aadsts)) {
                out.push(Explanation {
                    input: input.to_owned(),
                    suggestions: self.nearest(Some(&aadsts), input, 5),
                    decoded: Some(decode(&aadsts)),
                    code: Some(aadsts),
                    known: false,
                    entry: None,
                });
            }
        }
        if !out.is_empty() {
            return out;
        }
        if cands.is_empty() && input.trim().contains(char::is_whitespace) {
            // A sentence or a log line: the codes in it, or every reading of a bare number
            // after "error" or "code" when no word around it names the family.
            let mut found: Vec<Explanation<'_>> =
                self.extract(input).iter().flat_map(|c| self.explain(&c.to_string())).collect();
            if found.is_empty() {
                found = numbers_after_keywords(input).iter().flat_map(|n| self.explain(n)).collect();
            }
            if !found.is_empty() {
                for x in &mut found {
                    x.input = input.to_owned();
                }
                return found;
            }
        }
        let first = cands.first().cloned();
        vec![Explanation {
            input: input.to_owned(),
            suggestions: self.nearest(first.as_ref(), input, 5),
            decoded: first.as_ref().map(decode),
            code: first,
            known: false,
            entry: None,
        }]
    }

    /// Explain whatever someone typed or pasted: one code (every reading of it), several codes
    /// separated by spaces or commas, or free text such as a log line, whose codes are found as
    /// [`extract`](Self::extract) finds them. Text with no code in it gets [`explain`](Self::explain)'s
    /// answer (an alias match, or one unknown answer with suggestions). Empty input, no answers.
    ///
    /// ```
    /// let kb = uctriage_kb::KnowledgeBase::builtin();
    /// let found = kb.lookup("sign-in failed: AADSTS50076; callEndSubReason=560403");
    /// let codes: Vec<String> = found.iter().filter_map(|x| x.code.as_ref()).map(ToString::to_string).collect();
    /// assert!(codes.contains(&"AADSTS50076".to_owned()) && codes.contains(&"MSRC 560403".to_owned()), "{codes:?}");
    /// ```
    pub fn lookup(&self, text: &str) -> Vec<Explanation<'_>> {
        let text = text.trim();
        if text.is_empty() {
            return Vec::new();
        }
        let tokens: Vec<&str> = text.split(|c: char| c.is_whitespace() || c == ',').filter(|t| !t.is_empty()).collect();
        if tokens.len() == 1 {
            return self.explain(text);
        }
        if tokens.iter().all(|t| !candidates(t).is_empty()) {
            return tokens.iter().flat_map(|t| self.explain(t)).collect();
        }
        let codes = self.extract(text);
        if codes.is_empty() {
            return self.explain(text);
        }
        codes.iter().flat_map(|c| self.explain(&c.to_string())).collect()
    }

    fn index_of(&self, code: &Code) -> Option<usize> {
        self.by_code.get(code).copied().or_else(|| match code {
            Code::Teams(_) | Code::Lync(_) | Code::Pexip(_) => {
                self.by_token.get(&code.to_string().to_ascii_lowercase()).copied()
            }
            _ => None,
        })
    }

    /// Entries whose alias text contains the input, or is contained in it (pasted messages).
    fn alias_contains(&self, input: &str) -> Vec<usize> {
        let key = alias_key(input);
        if key.len() < 12 {
            return Vec::new();
        }
        let mut hits: Vec<usize> = self
            .by_alias
            .iter()
            .filter(|(a, _)| {
                a.len() >= 12 && (a.contains(&key) || key.contains(a.as_str()) || template_matches(a, &key))
            })
            .flat_map(|(_, ix)| ix.iter().copied())
            .collect();
        hits.sort_unstable();
        hits.dedup();
        hits
    }

    /// An entry built from the structure alone, for codes whose structure names them exactly:
    /// Win32 errors wrapped as HRESULTs, named HRESULTs, and `5XYZZZ` Microsoft response codes
    /// that carry a SIP code the knowledge base knows.
    pub fn synthesize(&self, code: &Code) -> Option<Entry> {
        let d = decode(code);
        match code {
            Code::Hresult(v) if (v >> 20) & 0xFF != 0xAA => {
                let name = d.symbolic_name?;
                let win32 = v >> 16 == 0x8007;
                Some(Entry {
                    code: code.clone(),
                    name: Some(name.to_owned()),
                    aliases: Vec::new(),
                    family: "windows-error".into(),
                    layer: Layer::Client,
                    title: format!("{name}: {}", d.summary),
                    meaning: format!(
                        "{}. The symbolic name {name} says which condition Windows hit; the log lines around the code say which operation was running.",
                        d.summary
                    ),
                    causes: vec![format!("The operation that was running on the device hit the condition {name}")],
                    first_checks: vec![
                        "Read the log lines just before the code: they name the file, service, URL or account involved".into(),
                        "Look for the same code in the other logs of the same minute to see whether one failure explains several".into(),
                    ],
                    fixes: vec![format!("Remove the condition {name} describes, then retry the operation")],
                    seen_in: vec!["Windows event logs and client logs that print HRESULT values".into()],
                    references: vec![if win32 {
                        "https://learn.microsoft.com/windows/win32/debug/system-error-codes".into()
                    } else {
                        "https://learn.microsoft.com/windows/win32/com/com-error-codes".into()
                    }],
                    related: Vec::new(),
                    file: String::new(),
                })
            }
            Code::Msrc(_) => {
                let inner = self.get(d.inner.as_ref()?)?;
                let mut references = vec![
                    "https://learn.microsoft.com/microsoftteams/direct-routing-monitor-and-troubleshoot".to_owned(),
                ];
                references.extend(inner.references.iter().cloned());
                references.dedup();
                Some(Entry {
                    code: code.clone(),
                    name: None,
                    aliases: Vec::new(),
                    family: "direct-routing".into(),
                    layer: if d.parts.iter().any(|p| p.value == "the SBC") { Layer::Sbc } else { inner.layer },
                    title: d.summary.clone(),
                    meaning: format!("{}. The SIP code inside: {} — {}", d.summary, inner.code, inner.title),
                    causes: inner.causes.clone(),
                    first_checks: inner.first_checks.clone(),
                    fixes: inner.fixes.clone(),
                    seen_in: vec!["Teams admin center call analytics and PSTN usage reports, Graph call records".into()],
                    references,
                    related: vec![inner.code.clone()],
                    file: String::new(),
                })
            }
            _ => None,
        }
    }

    /// True when `code` is not in the knowledge base but its structure says it reports a
    /// failure: any AADSTS number, an HRESULT with its error bit set, an ms-diagnostics number,
    /// a SIP or HTTP status from 400 up, a Q.850 cause outside the normal-clearing class, a
    /// Microsoft response code. Such a code gets a [`describe`](Self::describe) entry.
    pub fn has_failure_structure(code: &Code) -> bool {
        match code {
            Code::Aadsts(_) | Code::MsDiag(_) | Code::Msrc(_) => true,
            Code::Hresult(v) => v >> 31 == 1,
            Code::Sip(n) => *n >= 400,
            Code::Http(n) => (400..600).contains(n),
            Code::Q850(n) => *n > 31 && *n < 128,
            Code::Oauth(_) | Code::Teams(_) | Code::Lync(_) | Code::Pexip(_) => false,
        }
    }

    /// The entry for a code: from the data files, built from a named structure
    /// ([`synthesize`](Self::synthesize)), or, for an unknown code whose structure says it
    /// reports a failure, an entry built from what the structure says (its title ends "not in
    /// the knowledge base").
    pub fn describe(&self, code: &Code) -> Option<Cow<'_, Entry>> {
        if let Some(e) = self.get(code) {
            return Some(Cow::Borrowed(e));
        }
        if let Some(e) = self.synthesize(code) {
            return Some(Cow::Owned(e));
        }
        if !Self::has_failure_structure(code) {
            return None;
        }
        let d = decode(code);
        let (family, layer, seen_in, reference, look): (&str, Layer, &str, &str, &str) = match code {
            Code::Aadsts(_) => (
                "entra-sign-in",
                Layer::Identity,
                "Entra sign-in log (error code column), error_description of a token response",
                "https://learn.microsoft.com/entra/identity-platform/reference-error-codes",
                "Find the request in the Entra sign-in log (by correlation id or time) and read its failure reason and additional details",
            ),
            Code::Hresult(v) if (v >> 20) & 0xFF == 0xAA => (
                "wam-broker",
                Layer::Identity,
                "Microsoft-Windows-AAD/Operational events, Teams client logs",
                "https://learn.microsoft.com/entra/identity/devices/troubleshoot-device-dsregcmd",
                "Read the AAD Operational event next to the code: its description and any AADSTS code or server message it quotes",
            ),
            Code::Hresult(v) if decode::idcrl(*v) => (
                "lync-sign-in",
                Layer::Identity,
                "Lync and Skype for Business client logs (UccApi, Tracing), the SOAP fault of an online sign-in",
                "https://learn.microsoft.com/skypeforbusiness/troubleshoot/",
                "Read the SOAP fault around the code: the psf:internalerror code and text say what the online service refused",
            ),
            Code::Hresult(_) => (
                "windows-error",
                Layer::Client,
                "Windows event logs and client logs that print HRESULT values",
                "https://learn.microsoft.com/windows/win32/com/com-error-codes",
                "Read the log lines just before the code: they name the operation, file, service or URL involved",
            ),
            Code::MsDiag(_) => (
                "sfb-diagnostics",
                Layer::Service,
                "ms-diagnostics and ms-client-diagnostics headers of Skype for Business SIP traffic",
                "https://learn.microsoft.com/openspecs/office_protocols/ms-ocer/f6787b39-0842-43ca-94a2-6afadda5f0a3",
                "Read the reason text and the source of the header: they name the server that gave up and why",
            ),
            Code::Sip(n) => (
                if *n < 500 { "sip-4xx" } else { "sip-5xx-6xx" },
                Layer::Sbc,
                "SIP traces of the SBC, Teams Direct Routing call analytics",
                "https://www.iana.org/assignments/sip-parameters/sip-parameters.xhtml",
                "Find which side sent the response (Via, Server or User-Agent) and read its Reason and Warning headers",
            ),
            Code::Http(_) => (
                "http-status",
                Layer::Service,
                "Client logs and network traces of the failing HTTPS call",
                "https://www.rfc-editor.org/rfc/rfc9110",
                "Read the URL the status answered and the response body, which usually names the reason",
            ),
            Code::Q850(_) => (
                "q850-cause",
                Layer::Carrier,
                "Reason headers of SIP responses and BYEs, SBC call detail records",
                "https://www.itu.int/rec/T-REC-Q.850",
                "Find which side sent the cause (the SBC or the carrier) in the SBC's trace",
            ),
            Code::Msrc(_) => (
                "direct-routing",
                Layer::Sbc,
                "Teams admin center call analytics and PSTN usage reports, Graph call records",
                "https://learn.microsoft.com/microsoftteams/direct-routing-monitor-and-troubleshoot",
                "Read the SIP response and its Reason header at the SBC for the same call",
            ),
            Code::Oauth(_) | Code::Teams(_) | Code::Lync(_) | Code::Pexip(_) => return None,
        };
        Some(Cow::Owned(Entry {
            code: code.clone(),
            name: d.symbolic_name.map(str::to_owned),
            aliases: Vec::new(),
            family: family.to_owned(),
            layer,
            title: format!("{} (not in the knowledge base)", d.summary),
            meaning: format!(
                "{}. uctriage has no entry for this code; what it reports comes from the code's structure only, so the text logged next to it matters most.",
                d.summary
            ),
            causes: vec!["a condition the code alone does not name: the text logged next to it says which".to_owned()],
            first_checks: vec![look.to_owned()],
            fixes: vec!["Act on the reason the surrounding log text gives; the code alone does not name a fix".to_owned()],
            seen_in: vec![seen_in.to_owned()],
            references: vec![reference.to_owned()],
            related: d.inner.iter().filter(|c| self.get(c).is_some()).cloned().collect(),
            file: String::new(),
        }))
    }

    /// The known codes nearest to an unknown one: same kind first, then by spelling and number.
    pub fn nearest(&self, code: Option<&Code>, raw: &str, n: usize) -> Vec<Code> {
        let mut scored: Vec<(u64, &Code)> = if let Some(c) = code {
            let text = c.to_string();
            self.entries
                .iter()
                .filter(|e| e.code.kind() == c.kind())
                .map(|e| {
                    let edit = strsim::levenshtein(&text, &e.code.to_string()) as u64;
                    let num = match (c.number(), e.code.number()) {
                        (Some(a), Some(b)) => a.abs_diff(b).min(999_999),
                        _ => 999_999,
                    };
                    (edit * 1_000_000 + num, &e.code)
                })
                .collect()
        } else {
            let key = raw.trim().to_ascii_lowercase();
            self.entries
                .iter()
                .map(|e| {
                    let a = strsim::jaro_winkler(&key, &e.code.to_string().to_ascii_lowercase());
                    let b = e.name.as_deref().map_or(0.0, |nm| strsim::jaro_winkler(&key, &nm.to_ascii_lowercase()));
                    ((1.0 - a.max(b)) * 1e6) as u64
                })
                .zip(self.entries.iter().map(|e| &e.code))
                .filter(|(s, _)| *s < 300_000)
                .collect()
        };
        scored.sort();
        scored.into_iter().take(n).map(|(_, c)| c.clone()).collect()
    }

    /// Families in use, sorted, with their entry counts.
    pub fn families(&self) -> Vec<(&str, usize)> {
        let mut m: HashMap<&str, usize> = HashMap::new();
        for e in &self.entries {
            *m.entry(e.family.as_str()).or_default() += 1;
        }
        let mut v: Vec<_> = m.into_iter().collect();
        v.sort_unstable();
        v
    }
}

/// Numbers (or hex values) written after "error", "code", "reason" or "status" in a sentence:
/// `failed with error 50076`, `code 53003`, `status code is 500121`.
fn numbers_after_keywords(text: &str) -> Vec<String> {
    const KEYWORDS: &[&str] =
        &["error", "code", "reason", "status", "errorcode", "error_code", "hr", "hresult", "result", "subcode"];
    const FILLERS: &[&str] = &["code", "number", "is", "was", "of", "no", "no.", "-", "#"];
    let tokens: Vec<&str> = text
        .split(|c: char| c.is_whitespace() || matches!(c, ':' | '=' | ',' | ';' | '(' | ')' | '[' | ']' | '"' | '\''))
        .filter(|t| !t.is_empty())
        .collect();
    let mut out: Vec<String> = Vec::new();
    for (i, t) in tokens.iter().enumerate() {
        if !KEYWORDS.contains(&t.to_ascii_lowercase().as_str()) {
            continue;
        }
        let Some(next) = tokens[i + 1..].iter().find(|n| !FILLERS.contains(&n.to_ascii_lowercase().as_str())) else {
            continue;
        };
        let n = next.trim_end_matches(['.', '!']);
        let digits = n.strip_prefix('-').unwrap_or(n);
        let numeric = !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit());
        let hex = n.len() > 2
            && n.get(..2).is_some_and(|p| p.eq_ignore_ascii_case("0x"))
            && n[2..].bytes().all(|b| b.is_ascii_hexdigit());
        if (numeric || hex) && !out.iter().any(|o| o == n) {
            out.push(n.to_owned());
        }
    }
    out
}

/// An alias with `<placeholders>` (`Web space with name <name> already exists`) matches text
/// that holds its literal pieces in order.
fn template_matches(alias: &str, text: &str) -> bool {
    if !alias.contains('<') {
        return false;
    }
    let mut rest = text;
    let mut pieces = 0;
    for (i, chunk) in alias.split('<').enumerate() {
        let literal = if i == 0 { chunk } else { chunk.split_once('>').map_or(chunk, |(_, after)| after) };
        let literal = literal.trim();
        if literal.is_empty() {
            continue;
        }
        match rest.find(literal) {
            Some(at) => {
                rest = &rest[at + literal.len()..];
                pieces += literal.len();
            }
            None => return false,
        }
    }
    pieces >= 12
}

fn context_prefers(context: Context) -> Vec<Kind> {
    let probe = [Kind::Aadsts, Kind::Hresult, Kind::Sip, Kind::Msrc, Kind::MsDiag, Kind::Q850, Kind::Oauth, Kind::Http];
    probe.into_iter().filter(|k| normalize::prefers(context, *k)).collect()
}

fn alias_key(s: &str) -> String {
    s.split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .to_lowercase()
        .trim_end_matches(['.', ':'])
        .replace(['’', '‘'], "'")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The built-in base comes from the build script's packed entries: they must be the entries
    /// the data files give, indexed the same way.
    #[test]
    fn packed_entries_are_the_data_files() {
        let parsed = KnowledgeBase::from_sources(builtin_files().iter().copied()).expect("the data files are valid");
        let packed = KnowledgeBase::from_packed().expect("the build script packed the entries");
        assert!(packed.prebuilt && !parsed.prebuilt);
        assert_eq!(packed.entries.len(), parsed.entries.len());
        for (a, b) in packed.entries.iter().zip(&parsed.entries) {
            assert_eq!(a, b);
        }
        assert_eq!(packed.by_code, parsed.by_code);
        assert_eq!(packed.by_token, parsed.by_token);
        assert_eq!(packed.by_alias, parsed.by_alias);
        assert_eq!(packed.by_name, parsed.by_name);
        assert!(KnowledgeBase::builtin().prebuilt);
    }

    #[test]
    fn packing_round_trips_and_refuses_damage() {
        let entries = entry::load_entries(builtin_files().iter().copied()).expect("valid");
        let p = packed::pack(&entries);
        assert_eq!(packed::unpack(&p.text, &p.numbers).as_ref(), Some(&entries));
        // Cut short or given extra, the parts no longer read as entries.
        assert!(packed::unpack(&p.text[..p.text.len() - 1], &p.numbers).is_none());
        assert!(packed::unpack(&p.text, &p.numbers[..p.numbers.len() - 1]).is_none());
        assert!(packed::unpack(&format!("{}x", p.text), &p.numbers).is_none());
        assert_eq!(packed::unpack("", &[0]), Some(Vec::new()));
        assert!(packed::unpack("", &[]).is_none());
    }

    /// A word after a keyword that starts with a character of several bytes is not cut inside it.
    #[test]
    fn numbers_after_keywords_cut_only_at_characters() {
        assert!(numbers_after_keywords("hr \u{800}x").is_empty());
        assert_eq!(numbers_after_keywords("hr 0x80070005"), vec!["0x80070005".to_owned()]);
        let _ = KnowledgeBase::builtin().explain("hR\u{b}\u{800}");
    }

    proptest::proptest! {
        /// Damaged numbers never panic (and never read past the text).
        #[test]
        fn damaged_packs_do_not_panic(numbers in proptest::collection::vec(proptest::num::u8::ANY, 0..64), text in ".{0,40}") {
            let _ = packed::unpack(&text, &numbers);
        }
    }
}
