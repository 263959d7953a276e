//! The diagnosis: data-driven rules over evidence.
//!
//! Rules live in `data/*.toml` (compiled in) and in `--rules DIR` (added, or replacing a built-in
//! rule with the same id). [`RuleSet::collector`] gives a [`Collector`] — a
//! [`Sink`](uctriage_evidence::Sink) the readers feed in one pass —, and [`diagnose`] turns the
//! merged collectors into ranked findings: one per root cause, with consequences folded in
//! (`absorbs`), and a verdict.
//!
//! See docs/adding-a-rule.md for the rule format.

pub mod checked;
pub mod engine;
pub mod finding;
pub mod rule;
pub mod timeline;

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};
use uctriage_evidence::{time, Code, Evidence, Sink};

pub use checked::SipProxies;
pub use engine::{Collector, Rule, RuleSet};
pub use finding::{EvidenceRef, Finding, EVIDENCE_FROM_CONSEQUENCE, EVIDENCE_KEPT};
pub use rule::{RawRule, Severity};
pub use timeline::RoomTimeline;

mod files {
    include!(concat!(env!("OUT_DIR"), "/rule_files.rs"));
}

/// A problem in a rule file, naming the file and the rule.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{file}: {message}")]
pub struct RuleError {
    pub file: String,
    pub message: String,
}

/// The rule files compiled into the binary.
pub fn builtin_files() -> &'static [(&'static str, &'static str)] {
    files::FILES
}

/// Parse rule files into raw rules (no compilation), reporting TOML errors with the file name.
pub fn parse_files<'a>(
    files: impl IntoIterator<Item = (String, &'a str)>,
) -> Result<Vec<(String, RawRule)>, Vec<RuleError>> {
    let mut out = Vec::new();
    let mut errors = Vec::new();
    for (name, text) in files {
        match toml::from_str::<rule::RawFile>(text) {
            Ok(f) => out.extend(f.rules.into_iter().map(|r| (name.clone(), r))),
            Err(e) => errors.push(RuleError { file: name, message: e.to_string() }),
        }
    }
    if errors.is_empty() {
        Ok(out)
    } else {
        Err(errors)
    }
}

/// The built-in rule files parsed: from the JSON the build script wrote, or from their TOML when
/// there is none or it does not read (the TOML's errors are then the ones reported).
fn parse_builtin() -> Result<Vec<(String, RawRule)>, Vec<RuleError>> {
    let toml = || parse_files(builtin_files().iter().map(|(n, t)| ((*n).to_owned(), *t)));
    let Some(json) = files::JSON else { return toml() };
    let mut out = Vec::new();
    for (name, text) in json {
        match serde_json::from_str::<rule::RawFile>(text) {
            Ok(f) => out.extend(f.rules.into_iter().map(|r| ((*name).to_owned(), r))),
            Err(_) => return toml(),
        }
    }
    Ok(out)
}

/// Read every `*.toml` file of a folder (sorted).
pub fn read_dir(dir: &Path) -> Result<Vec<(String, String)>, RuleError> {
    let err = |m: String| RuleError { file: dir.display().to_string(), message: m };
    let mut paths: Vec<_> = std::fs::read_dir(dir)
        .map_err(|e| err(format!("cannot read the rules folder: {e}")))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .collect();
    paths.sort();
    paths
        .into_iter()
        .map(|p| {
            std::fs::read_to_string(&p)
                .map(|t| (p.display().to_string(), t))
                .map_err(|e| err(format!("{}: {e}", p.display())))
        })
        .collect()
}

impl RuleSet {
    /// The built-in rules plus the files given (a rule with a built-in id replaces it).
    pub fn load(extra: &[(String, String)]) -> Result<RuleSet, Vec<RuleError>> {
        let mut raws: Vec<(String, RawRule, bool)> =
            parse_builtin()?.into_iter().map(|(file, r)| (file, r, true)).collect();
        let extra_raws = parse_files(extra.iter().map(|(n, t)| (n.clone(), t.as_str())))?;
        for (file, r) in extra_raws {
            match raws.iter_mut().find(|(_, x, _)| x.id == r.id) {
                Some(slot) => *slot = (file, r, false),
                None => raws.push((file, r, false)),
            }
        }
        compile_rules(raws)
    }

    /// The built-in rules (validated by the crate's tests).
    pub fn builtin() -> RuleSet {
        match RuleSet::load(&[]) {
            Ok(r) => r,
            Err(e) => panic!("built-in rules are invalid (the rules tests catch this): {e:?}"),
        }
    }
}

/// Compile raw rules, checking ids, texts, references, absorb targets and regular expressions.
pub fn compile(raws: Vec<(String, RawRule)>) -> Result<RuleSet, Vec<RuleError>> {
    compile_rules(raws.into_iter().map(|(file, r)| (file, r, false)).collect())
}

/// [`compile`], told which rules are built in: their regular expressions, compiled by a test,
/// are compiled on first use rather than here.
fn compile_rules(raws: Vec<(String, RawRule, bool)>) -> Result<RuleSet, Vec<RuleError>> {
    let mut errors = Vec::new();
    let mut rules = Vec::new();
    let ids: Vec<String> = raws.iter().map(|(_, r, _)| r.id.clone()).collect();
    for (file, raw, built_in) in raws {
        let mut msgs = Vec::new();
        if ids.iter().filter(|i| **i == raw.id).count() > 1 {
            msgs.push(format!("{}: the id is used by more than one rule", raw.id));
        }
        if !raw
            .id
            .split('.')
            .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-'))
        {
            msgs.push(format!("{}: ids are dotted kebab-case (rooms.resource-account.mfa-required)", raw.id));
        }
        for (what, v) in [("title", &raw.title), ("cause", &raw.cause)] {
            if v.trim().is_empty() {
                msgs.push(format!("{}: {what} is empty", raw.id));
            }
        }
        if raw.fix.is_empty() || raw.fix.iter().any(|f| f.trim().is_empty()) {
            msgs.push(format!("{}: fix needs at least one non-empty step", raw.id));
        }
        if raw.references.iter().any(|r| !r.starts_with("https://")) {
            msgs.push(format!("{}: references must be https URLs", raw.id));
        }
        for a in &raw.absorbs {
            if !ids.contains(a) {
                msgs.push(format!("{}: absorbs unknown rule {a}", raw.id));
            }
        }
        if raw.samples.is_empty() {
            msgs.push(format!("{}: every rule carries at least one [[rule.sample]] that must fire it", raw.id));
        }
        let rule = engine::Rule::compile(raw, built_in, &mut msgs);
        errors.extend(msgs.into_iter().map(|m| RuleError { file: file.clone(), message: m }));
        rules.push(rule);
    }
    if errors.is_empty() {
        Ok(RuleSet::index(rules))
    } else {
        Err(errors)
    }
}

/// The outcome of a scan.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    Healthy,
    Problems,
    Inconclusive,
}

/// Findings, ranked, with the verdict and the notes that explain an empty result.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Diagnosis {
    pub verdict: Verdict,
    pub findings: Vec<Finding>,
    pub timeline: Vec<RoomTimeline>,
    /// What was read, and why nothing (or little) was judged.
    pub notes: Vec<String>,
    /// Records per evidence kind.
    pub kinds: BTreeMap<String, u64>,
    /// With a healthy verdict, what the verdict rests on: the records matched against the rules,
    /// and what the scan saw work (SIP OPTIONS answered by the Teams SIP proxies). Empty otherwise.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub checked: Vec<String>,
}

/// Where a finding's first record is in its input, `(path, line)`, for findings seen at no time
/// (a record's location is `line 12`, `row 4`…; others count as 0).
fn first_place(f: &Finding) -> (&str, u64) {
    if f.first_seen.is_some() {
        return ("", 0);
    }
    f.evidence
        .first()
        .map_or(("", 0), |e| (e.path.as_str(), e.location.rsplit(' ').next().and_then(|n| n.parse().ok()).unwrap_or(0)))
}

/// Judge the merged collector.
///
/// The heartbeat timeline is turned into `signal-turn` records first (a signal turning unhealthy,
/// with what changed on the device at that heartbeat), so rules can judge changes over time.
pub fn diagnose(mut collector: Collector<'_>) -> Diagnosis {
    let rooms = timeline::build(collector.heartbeats.clone());
    for t in &rooms {
        for turn in &t.turned_unhealthy {
            let mut e = Evidence::new(
                &format!("timeline:{}", t.room),
                "timeline",
                format!("heartbeat at {}", time::rfc3339(turn.time)),
            );
            e.kind = "signal-turn".into();
            e.source = "Teams Rooms heartbeat timeline".into();
            e.time = Some(turn.time);
            e.field("computer", t.room.clone());
            e.field("signal", turn.signal.clone());
            e.field("status", turn.status.clone());
            let whats: Vec<&str> = turn.changed.iter().map(|c| c.what.as_str()).collect();
            e.field("changed_what", whats.join(", "));
            for c in &turn.changed {
                let key = c.what.replace(' ', "_").to_ascii_lowercase();
                e.field(format!("{key}_from"), c.from.clone());
                e.field(format!("{key}_to"), c.to.clone());
            }
            let changed: Vec<String> =
                turn.changed.iter().map(|c| format!("{} {} → {}", c.what, c.from, c.to)).collect();
            let text = format!(
                "{} turned unhealthy ({}){}",
                turn.signal,
                turn.status,
                if changed.is_empty() { String::new() } else { format!("; at that moment: {}", changed.join(", ")) }
            );
            e.set_excerpt(&text);
            collector.record(e);
        }
    }
    let collector = &collector;
    let fired = collector.fired();
    let mut findings = correlate(collector_rules(collector), fired);
    // Known codes no rule explains still become findings, below every rule's finding of the same severity.
    let covered: Vec<Code> = findings.iter().flat_map(|f| f.codes.clone()).collect();
    let reported: Vec<String> =
        findings.iter().flat_map(|f| std::iter::once(f.rule.clone()).chain(f.consequences.iter().cloned())).collect();
    findings
        .extend(collector.kb_findings(&reported).into_iter().filter(|f| !f.codes.iter().any(|c| covered.contains(c))));
    findings.sort_by(|a, b| {
        a.severity
            .cmp(&b.severity)
            .then(b.score.cmp(&a.score))
            .then(b.count.cmp(&a.count))
            .then(a.first_seen.cmp(&b.first_seen))
            // Without times (a pasted snippet), the order of the lines is the timeline.
            .then_with(|| first_place(a).cmp(&first_place(b)))
    });
    let verdict = if collector.records == 0 {
        Verdict::Inconclusive
    } else if findings.iter().any(|f| f.severity <= Severity::Warning) {
        Verdict::Problems
    } else {
        Verdict::Healthy
    };
    let mut notes = Vec::new();
    for (ri, n) in &collector.overflow {
        let rule = &collector.rule_set().rules[*ri].raw;
        let by = rule.group_by.as_deref().unwrap_or("container");
        notes.push(format!(
            "Rule {} matched more than {} different values of {by}: the first {} are reported one by one, {n} further matches are only counted here.",
            rule.id,
            engine::GROUPS_KEPT,
            engine::GROUPS_KEPT
        ));
    }
    let kinds: Vec<String> = collector.kinds.iter().map(|(k, n)| format!("{n} {k}")).collect();
    if collector.records == 0 {
        notes.push("The inputs were read but held no record uctriage can judge: no event, log line with a known code, sign-in, SIP message or call record.".into());
    } else if findings.is_empty() {
        notes.push(format!(
            "{} {} read ({}); none matched a rule, so nothing points at a fault in what was given.",
            uctriage_evidence::counted(collector.records, "record"),
            if collector.records == 1 { "was" } else { "were" },
            kinds.join(", ")
        ));
        let missing: Vec<&str> = [
            ("heartbeat", "Teams Rooms heartbeats"),
            ("aad-error", "Entra (AAD) sign-in errors from the device"),
            ("sign-in", "Entra sign-in log entries"),
            ("sip", "SIP messages"),
            ("call-record", "call records"),
        ]
        .iter()
        .filter(|(k, _)| !collector.kinds.contains_key(*k))
        .map(|(_, label)| *label)
        .collect();
        if !missing.is_empty() {
            notes.push(format!("Not in the inputs: {}. Add them if the problem lives there.", missing.join(", ")));
        }
    }
    let checked = if verdict == Verdict::Healthy { checked_lines(collector, &findings) } else { Vec::new() };
    Diagnosis {
        verdict,
        findings,
        timeline: timeline::build(collector.heartbeats.clone()),
        notes,
        kinds: collector.kinds.clone(),
        checked,
    }
}

/// What a healthy verdict rests on: the records and rules, the OPTIONS the Teams SIP proxies
/// answered, and the information findings that did not turn the verdict.
fn checked_lines(collector: &Collector<'_>, findings: &[Finding]) -> Vec<String> {
    let kinds: Vec<String> = collector.kinds.iter().map(|(k, n)| format!("{n} {k}")).collect();
    let rules = collector.rule_set().rules.len();
    let mut out = vec![format!(
        "{} ({}) matched against {}: none of warning severity or above fired",
        uctriage_evidence::counted(collector.records, "record"),
        kinds.join(", "),
        uctriage_evidence::counted(rules, "rule")
    )];
    out.extend(collector.seen.options_lines());
    let info = findings.len();
    if info > 0 {
        out.push(format!(
            "{} listed below, none a fault on its own",
            uctriage_evidence::counted_as(info, "information finding", "information findings")
        ));
    }
    out
}

fn collector_rules<'a>(c: &Collector<'a>) -> &'a RuleSet {
    c.rule_set()
}

/// Fold consequences into their causes and rank: severity, then score, then count, then time.
///
/// Each finding whose rule is named in another's `absorbs` gets, as parent, the best-ranked such
/// cause (same group or either ungrouped); chains are followed to their root, so everything ends
/// under the most likely cause.
fn correlate(rules: &RuleSet, fired: Vec<(usize, Finding)>) -> Vec<Finding> {
    let rank = |f: &Finding| (f.severity, -f.score, std::cmp::Reverse(f.count));
    let n = fired.len();
    let mut parent: Vec<Option<usize>> = vec![None; n];
    for j in 0..n {
        let effect = &fired[j].1;
        parent[j] = (0..n)
            .filter(|&i| i != j)
            .filter(|&i| {
                let (ri, cause) = &fired[i];
                rules.rules[*ri].raw.absorbs.contains(&effect.rule)
                    && (cause.group.is_empty() || effect.group.is_empty() || cause.group == effect.group)
            })
            .min_by_key(|&i| rank(&fired[i].1));
    }
    // Two rules may absorb each other (each explains the other in some bundles): break every
    // cycle at its best-ranked member, which then stays the cause.
    for start in 0..n {
        let mut seen = vec![start];
        let mut j = start;
        while let Some(p) = parent[j] {
            if let Some(pos) = seen.iter().position(|&x| x == p) {
                let cycle = &seen[pos..];
                if let Some(&best) = cycle.iter().min_by_key(|&&i| rank(&fired[i].1)) {
                    parent[best] = None;
                }
                break;
            }
            seen.push(p);
            j = p;
        }
    }
    let root = |mut j: usize| {
        for _ in 0..n {
            match parent[j] {
                Some(p) if p != j => j = p,
                _ => break,
            }
        }
        j
    };
    let roots: Vec<usize> = (0..n).map(root).collect();
    let mut slots: Vec<Option<Finding>> = fired.into_iter().map(|(_, f)| Some(f)).collect();
    for j in 0..n {
        let r = roots[j];
        if r != j {
            if let Some(effect) = slots[j].take() {
                if let Some(cause) = slots[r].as_mut() {
                    cause.absorb(effect);
                }
            }
        }
    }
    let mut out: Vec<Finding> = slots.into_iter().flatten().collect();
    out.sort_by(|a, b| {
        a.severity
            .cmp(&b.severity)
            .then(b.score.cmp(&a.score))
            .then(b.count.cmp(&a.count))
            .then(a.first_seen.cmp(&b.first_seen))
    });
    out
}

/// Turn a rule's sample records into evidence.
pub fn sample_evidence(rule_id: &str, set: &rule::RawSampleSet) -> Result<Vec<Evidence>, String> {
    let base = time::parse("2025-07-15T08:00:00Z").unwrap_or_default();
    let mut out = Vec::new();
    for (i, s) in set.evidence.iter().enumerate() {
        let mut e = Evidence::new(&format!("sample:{rule_id}"), "sample", format!("sample {}", i + 1));
        e.kind.clone_from(&s.kind);
        e.source.clone_from(&s.source);
        e.excerpt.clone_from(&s.excerpt);
        if let Some(f) = &s.format {
            // Formats are a small fixed vocabulary; samples name one of them.
            e.format = uctriage_evidence::intern_format(f);
        }
        for c in &s.codes {
            e.add_code(c.parse::<Code>().map_err(|x| format!("{rule_id}: sample: {x}"))?);
        }
        for (k, v) in &s.fields {
            e.fields.insert(k.clone(), v.clone());
        }
        let t0 = match &s.time {
            Some(t) => time::parse(t).ok_or_else(|| format!("{rule_id}: sample time {t:?} is not RFC 3339"))?,
            None => base.checked_add(jiff::SignedDuration::from_secs(60 * i as i64)).unwrap_or(base),
        };
        for k in 0..s.repeat.unwrap_or(1).min(10_000) {
            let mut copy = e.clone();
            copy.time = t0.checked_add(jiff::SignedDuration::from_secs(60 * k as i64)).ok();
            out.push(copy);
        }
    }
    Ok(out)
}

/// The result of checking one rule's samples.
#[derive(Debug, Clone, Serialize)]
pub struct SampleResult {
    pub rule: String,
    pub sample: String,
    pub expected_to_fire: bool,
    pub fired: bool,
    pub passed: bool,
}

/// Run every rule's samples against the whole rule set: each sample set must fire its rule
/// (before correlation) and each counter sample must not.
pub fn test_samples(rules: &RuleSet) -> Vec<SampleResult> {
    let mut out = Vec::new();
    for r in &rules.rules {
        let sets = r.raw.samples.iter().map(|s| (s, true)).chain(r.raw.counter_samples.iter().map(|s| (s, false)));
        for (i, (set, expect)) in sets.enumerate() {
            let name = if set.name.is_empty() { format!("#{}", i + 1) } else { set.name.clone() };
            let fired = match sample_evidence(&r.raw.id, set) {
                Ok(records) => {
                    let mut c = rules.collector();
                    for e in records {
                        c.record(e);
                    }
                    c.fired().iter().any(|(_, f)| f.rule == r.raw.id)
                }
                Err(_) => false,
            };
            out.push(SampleResult {
                rule: r.raw.id.clone(),
                sample: name,
                expected_to_fire: expect,
                fired,
                passed: fired == expect,
            });
        }
    }
    out
}
