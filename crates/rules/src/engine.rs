//! Matching in one pass, then judging: thresholds, requirements, correlation, ranking.
//!
//! Each evidence record is offered only to the clauses indexed under its codes and its kind (plus
//! the few clauses that name neither), so adding rules does not make reading slower. Matching
//! runs in the readers' threads (a [`Collector`] per input); collectors merge in input order.

use std::collections::{BTreeMap, BTreeSet};

use foldhash::HashMap;

use jiff::Timestamp;
use uctriage_evidence::{time, Code, Evidence, Sink};

use crate::finding::{fill, fold_key, EvidenceRef, Finding};
use crate::rule::{parse_duration, Clause, RawRule, RawThreshold};
use crate::timeline::HeartbeatPoint;

pub use crate::finding::EVIDENCE_KEPT;

/// Findings one rule may gather separately (one per user, room, SBC…). A tenant-wide sign-in
/// export can name tens of thousands of users; past this, matches of new groups are counted for
/// a note instead of each holding a finding's worth of memory.
pub const GROUPS_KEPT: usize = 1000;

#[derive(Debug, Clone)]
pub(crate) struct Threshold {
    count: u64,
    window: Option<i64>,
    max_gap: Option<i64>,
    pub(crate) rate_of: Option<Clause>,
    min_rate: Option<f64>,
    /// Fields whose different values are counted, with the least and most allowed.
    distinct: Vec<(String, u64, Option<u64>)>,
}

/// Different values kept per counted field: enough to judge any bound a rule can state.
const DISTINCT_KEPT: usize = 64;

/// A compiled rule.
#[derive(Debug, Clone)]
pub struct Rule {
    pub raw: RawRule,
    pub(crate) when: Vec<Clause>,
    pub(crate) requires: Vec<Clause>,
    pub(crate) unless: Vec<Clause>,
    pub(crate) boost: Vec<Clause>,
    pub(crate) threshold: Option<Threshold>,
    pub(crate) codes: Vec<Code>,
}

impl Rule {
    /// `built_in`: a built-in rule, whose patterns are compiled on first use (see `rule::Pattern`).
    pub(crate) fn compile(raw: RawRule, built_in: bool, errors: &mut Vec<String>) -> Rule {
        let id = raw.id.clone();
        let set = |v: &[crate::rule::RawClause], what: &str, errors: &mut Vec<String>| {
            v.iter()
                .enumerate()
                .map(|(i, c)| Clause::compile(c, &format!("{id}: {what} {}", i + 1), built_in, errors))
                .collect::<Vec<_>>()
        };
        let when = set(&raw.when, "when", errors);
        if when.is_empty() {
            errors.push(format!("{id}: a rule needs at least one [[rule.when]] condition set"));
        }
        let requires = set(&raw.requires, "requires", errors);
        let unless = set(&raw.unless, "unless", errors);
        let boost = set(&raw.boost, "boost", errors);
        let threshold = raw.threshold.as_ref().map(|t| compile_threshold(&id, t, built_in, errors));
        let mut codes = Vec::new();
        for c in &raw.codes {
            match c.parse::<Code>() {
                Ok(c) => codes.push(c),
                Err(e) => errors.push(format!("{id}: codes: {e}")),
            }
        }
        if let Some(sc) = raw.scope.as_deref().filter(|s| !matches!(*s, "container" | "scan")) {
            errors.push(format!("{id}: scope {sc:?} is neither \"container\" nor \"scan\""));
        }
        Rule { raw, when, requires, unless, boost, threshold, codes }
    }
}

fn compile_threshold(id: &str, t: &RawThreshold, built_in: bool, errors: &mut Vec<String>) -> Threshold {
    let dur = |s: &Option<String>, what: &str, errors: &mut Vec<String>| {
        s.as_deref().and_then(|s| {
            let d = parse_duration(s);
            if d.is_none() {
                errors.push(format!("{id}: threshold.{what}: {s:?} is not a duration such as 15m"));
            }
            d
        })
    };
    let window = dur(&t.window, "window", errors);
    let max_gap = dur(&t.max_gap, "max_gap", errors);
    let rate_of = t.rate_of.as_ref().map(|c| Clause::compile(c, &format!("{id}: threshold.rate_of"), built_in, errors));
    if rate_of.is_some() != t.min_rate.is_some() {
        errors.push(format!("{id}: threshold: rate_of and min_rate go together"));
    }
    let mut distinct: Vec<(String, u64, Option<u64>)> = Vec::new();
    for (field, at_least) in &t.distinct {
        distinct.push((field.clone(), *at_least, t.max_distinct.get(field).copied()));
    }
    for (field, at_most) in &t.max_distinct {
        if !t.distinct.contains_key(field) {
            distinct.push((field.clone(), 1, Some(*at_most)));
        }
    }
    for (field, least, most) in &distinct {
        if *least as usize > DISTINCT_KEPT || most.is_some_and(|m| m == 0 || m < *least || m as usize >= DISTINCT_KEPT)
        {
            errors.push(format!(
                "{id}: threshold: the bounds on distinct {field} must satisfy 1 <= max_distinct, distinct <= max_distinct and both < {DISTINCT_KEPT} (distinct = 0 only counts, for the texts)"
            ));
        }
    }
    Threshold { count: t.count.unwrap_or(1), window, max_gap, rate_of, min_rate: t.min_rate, distinct }
}

/// Which list a clause belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) enum Role {
    When,
    Requires,
    Unless,
    Boost,
    RateOf,
}

#[derive(Debug, Clone, Copy)]
struct ClauseRef {
    rule: usize,
    role: Role,
    index: usize,
}

/// Rules with their pre-filter index.
#[derive(Debug, Default)]
pub struct RuleSet {
    pub rules: Vec<Rule>,
    by_code: HashMap<Code, Vec<ClauseRef>>,
    by_kind: HashMap<String, Vec<ClauseRef>>,
    unindexed: Vec<ClauseRef>,
}

impl RuleSet {
    pub(crate) fn index(rules: Vec<Rule>) -> RuleSet {
        let mut set = RuleSet { rules, ..RuleSet::default() };
        for (ri, r) in set.rules.iter().enumerate() {
            let roles = [
                (Role::When, &r.when),
                (Role::Requires, &r.requires),
                (Role::Unless, &r.unless),
                (Role::Boost, &r.boost),
            ];
            let mut all: Vec<(Role, usize, &Clause)> =
                roles.iter().flat_map(|(role, v)| v.iter().enumerate().map(move |(i, c)| (*role, i, c))).collect();
            if let Some(c) = r.threshold.as_ref().and_then(|t| t.rate_of.as_ref()) {
                all.push((Role::RateOf, 0, c));
            }
            for (role, index, c) in all {
                let cref = ClauseRef { rule: ri, role, index };
                if !c.codes.is_empty() {
                    for code in &c.codes {
                        set.by_code.entry(code.clone()).or_default().push(cref);
                    }
                } else if !c.kind.is_empty() {
                    for k in &c.kind {
                        set.by_kind.entry(k.clone()).or_default().push(cref);
                    }
                } else {
                    set.unindexed.push(cref);
                }
            }
        }
        set
    }

    fn clause(&self, c: ClauseRef) -> Option<&Clause> {
        let r = &self.rules[c.rule];
        match c.role {
            Role::When => r.when.get(c.index),
            Role::Requires => r.requires.get(c.index),
            Role::Unless => r.unless.get(c.index),
            Role::Boost => r.boost.get(c.index),
            Role::RateOf => r.threshold.as_ref().and_then(|t| t.rate_of.as_ref()),
        }
    }

    pub fn get(&self, id: &str) -> Option<&Rule> {
        self.rules.iter().find(|r| r.raw.id == id)
    }

    pub fn collector(&self) -> Collector<'_> {
        Collector::empty(self)
    }
}

/// What one (rule, group) has gathered.
#[derive(Debug, Clone, Default)]
struct Acc {
    count: u64,
    first: Option<Timestamp>,
    last: Option<Timestamp>,
    times: Vec<i64>,
    evidence: Vec<EvidenceRef>,
    codes: Vec<Code>,
    /// Fields of the first matching record (for the text's placeholders).
    fields: BTreeMap<String, String>,
    order: u64,
    /// Rules whose `when` matched these records (for the knowledge-base fallback).
    matched_by: Vec<usize>,
    /// Different values of the fields a threshold counts (at most [`DISTINCT_KEPT`] each).
    distinct: BTreeMap<String, BTreeSet<String>>,
    /// The fold key of each evidence row (see [`fold_key`]), in the same order.
    keys: Vec<u64>,
    /// For a rule that looks at gaps: the widest gap between two consecutive records seen so far.
    gap: Option<Box<GapEdges>>,
}

/// The records on either side of the widest gap in one input (records are read in order within
/// an input; across inputs the wider of their gaps is kept).
#[derive(Debug, Clone)]
struct GapEdges {
    /// The record read last, with its time.
    prev: Option<(i64, EvidenceRef)>,
    widest: Option<(i64, EvidenceRef, EvidenceRef)>,
}

impl GapEdges {
    fn add(&mut self, e: &Evidence, t: i64) {
        if let Some((pt, prev)) = &mut self.prev {
            // A record earlier than the last (a rotated or concatenated log starting over) starts
            // a new run; no gap is measured across the jump back.
            if t >= *pt && self.widest.as_ref().is_none_or(|(w, _, _)| t - *pt > *w) {
                self.widest = Some((t - *pt, prev.clone(), EvidenceRef::of(e)));
            }
            // Reuse the buffers: every matching record passes through here.
            *pt = t;
            prev.refill(e);
        } else {
            self.prev = Some((t, EvidenceRef::of(e)));
        }
    }

    fn merge(&mut self, other: GapEdges) {
        if let Some(w) = other.widest {
            if self.widest.as_ref().is_none_or(|(mine, _, _)| w.0 > *mine) {
                self.widest = Some(w);
            }
        }
        if self.prev.is_none() {
            self.prev = other.prev;
        }
    }
}

impl Acc {
    /// Take in a record. `key` is its fold key, computed on first use and shared by every
    /// accumulator the record goes to; `gaps` when the rule looks at the gaps between records.
    fn add(&mut self, e: &Evidence, key: &mut Option<u64>, keep_times: bool, gaps: bool, order: u64) {
        if self.count == 0 {
            self.order = order;
            self.fields = flat_fields(e);
        }
        self.count += 1;
        if let Some(t) = e.time {
            self.first = Some(self.first.map_or(t, |f| f.min(t)));
            self.last = Some(self.last.map_or(t, |l| l.max(t)));
            if keep_times {
                self.times.push(t.as_second());
            }
        }
        for c in &e.codes {
            if !self.codes.contains(c) {
                self.codes.push(c.clone());
            }
        }
        let key = *key.get_or_insert_with(|| fold_key(e));
        if let Some(i) = self.keys.iter().position(|k| *k == key) {
            self.evidence[i].fold(1, e.time, e.time);
        } else if self.evidence.len() < EVIDENCE_KEPT {
            self.evidence.push(EvidenceRef::of(e));
            self.keys.push(key);
        }
        if let (true, Some(t)) = (gaps, e.time) {
            self.gap.get_or_insert_with(|| Box::new(GapEdges { prev: None, widest: None })).add(e, t.as_second());
        }
    }

    fn merge(&mut self, other: Acc) {
        if other.count == 0 {
            return;
        }
        if self.count == 0 {
            *self = other;
            return;
        }
        self.count += other.count;
        self.first = match (self.first, other.first) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        self.last = match (self.last, other.last) {
            (Some(a), Some(b)) => Some(a.max(b)),
            (a, b) => a.or(b),
        };
        self.times.extend(other.times);
        for c in other.codes {
            if !self.codes.contains(&c) {
                self.codes.push(c);
            }
        }
        for (row, key) in other.evidence.into_iter().zip(other.keys) {
            if let Some(i) = self.keys.iter().position(|k| *k == key) {
                self.evidence[i].fold(row.count, row.time, row.last_time);
            } else if self.evidence.len() < EVIDENCE_KEPT {
                self.evidence.push(row);
                self.keys.push(key);
            }
        }
        match (&mut self.gap, other.gap) {
            (Some(mine), Some(theirs)) => mine.merge(*theirs),
            (None, theirs) => self.gap = theirs,
            (Some(_), None) => {}
        }
        for r in other.matched_by {
            if !self.matched_by.contains(&r) {
                self.matched_by.push(r);
            }
        }
        for (field, values) in other.distinct {
            let mine = self.distinct.entry(field).or_default();
            for v in values {
                if mine.len() >= DISTINCT_KEPT {
                    break;
                }
                mine.insert(v);
            }
        }
    }

    /// Count the values of the fields a threshold counts.
    fn note_distinct(&mut self, t: &Threshold, e: &Evidence) {
        for (field, _, _) in &t.distinct {
            // `computer|device`: the first of these fields the record has.
            let Some(v) = field.split('|').find_map(|f| crate::rule::field_text(e, f).filter(|v| !v.is_empty())) else {
                continue;
            };
            let values = self.distinct.entry(field.clone()).or_default();
            if values.len() < DISTINCT_KEPT {
                values.insert(v);
            }
        }
    }
}

fn flat_fields(e: &Evidence) -> BTreeMap<String, String> {
    let mut m = BTreeMap::new();
    for (k, v) in &e.fields {
        let s = match v {
            serde_json::Value::String(s) => s.clone(),
            serde_json::Value::Object(_) | serde_json::Value::Array(_) => continue,
            other => other.to_string(),
        };
        m.insert(k.to_string(), s);
    }
    m.insert("source".into(), e.source.clone());
    m.insert("path".into(), e.path.clone());
    m
}

/// Per-input matching state; a [`Sink`] for the readers.
#[derive(Debug)]
pub struct Collector<'r> {
    rules: &'r RuleSet,
    accs: HashMap<(usize, String), Acc>,
    /// Counts of requires / unless / boost / rate-of matches: (rule, role, clause, group).
    aux: HashMap<(usize, Role, usize, String), u64>,
    pub(crate) records: u64,
    pub(crate) kinds: BTreeMap<String, u64>,
    pub(crate) heartbeats: Vec<HeartbeatPoint>,
    /// Each room's latest point in `heartbeats`, where a repeat of the same state is folded.
    last_heartbeat: HashMap<String, usize>,
    /// Codes on records that no rule's `when` matched, for the knowledge-base findings.
    unmatched: HashMap<Code, Acc>,
    /// Groups held per rule, and the matches of groups beyond [`GROUPS_KEPT`] (rule → count).
    groups: HashMap<usize, usize>,
    pub(crate) overflow: BTreeMap<usize, u64>,
    order: u64,
    /// What was seen besides the rules' matches (SIP OPTIONS with the Teams proxies).
    pub(crate) seen: crate::checked::Seen,
    /// The clauses offered the last record, kept to reuse the allocation.
    candidates: Vec<ClauseRef>,
    /// The answer of each pattern to the last text it was run on.
    pattern_memo: PatternMemo,
    /// The room key of the last heartbeat (see [`HeartbeatPoint::key_into`]), its buffer reused.
    heartbeat_key: String,
}

impl<'r> Collector<'r> {
    fn empty(rules: &'r RuleSet) -> Self {
        Collector {
            rules,
            accs: HashMap::default(),
            aux: HashMap::default(),
            records: 0,
            kinds: BTreeMap::new(),
            heartbeats: Vec::new(),
            last_heartbeat: HashMap::default(),
            unmatched: HashMap::default(),
            groups: HashMap::default(),
            overflow: BTreeMap::new(),
            seen: crate::checked::Seen::default(),
            order: 0,
            candidates: Vec::new(),
            pattern_memo: PatternMemo::default(),
            heartbeat_key: String::new(),
        }
    }

    /// The rules this collector matches against.
    pub fn rule_set(&self) -> &'r RuleSet {
        self.rules
    }

    /// Records seen so far.
    pub fn records(&self) -> u64 {
        self.records
    }

    /// Heartbeat points held for the timeline (runs of identical heartbeats count once).
    pub fn timeline_points(&self) -> usize {
        self.heartbeats.len()
    }

    /// Fold another input's collector into this one (call in input order).
    pub fn merge(&mut self, other: Collector<'r>) {
        let base = self.order;
        for (k, mut acc) in other.accs {
            acc.order += base;
            if !self.accs.contains_key(&k) && !self.admit_group(k.0) {
                *self.overflow.entry(k.0).or_default() += acc.count;
                continue;
            }
            self.accs.entry(k).or_default().merge(acc);
        }
        for (r, n) in other.overflow {
            *self.overflow.entry(r).or_default() += n;
        }
        for (k, n) in other.aux {
            *self.aux.entry(k).or_default() += n;
        }
        for (k, n) in other.kinds {
            *self.kinds.entry(k).or_default() += n;
        }
        self.records += other.records;
        self.order += other.order;
        let hb_base = self.heartbeats.len();
        self.heartbeats.extend(other.heartbeats);
        for (room, i) in other.last_heartbeat {
            self.last_heartbeat.insert(room, hb_base + i);
        }
        for (k, mut acc) in other.unmatched {
            acc.order += base;
            self.unmatched.entry(k).or_default().merge(acc);
        }
        self.seen.merge(other.seen);
    }

    /// Findings built from the knowledge base for codes that no rule explains, so that a known
    /// code is never silently dropped. Codes that only inform (successes, provisional SIP
    /// responses, WAM information codes) are left out.
    pub(crate) fn kb_findings(&self, reported: &[String]) -> Vec<Finding> {
        let kb = uctriage_kb::KnowledgeBase::builtin();
        let mut keys: Vec<&Code> = self.unmatched.keys().collect();
        keys.sort_by_key(|c| self.unmatched[*c].order);
        let mut out = Vec::new();
        for code in keys {
            // An unknown code with a failure structure gets an entry built from that structure.
            let Some(entry) = kb.describe(code) else { continue };
            let acc = &self.unmatched[code];
            if acc.matched_by.iter().any(|r| reported.contains(&self.rules.rules[*r].raw.id)) {
                continue;
            }
            let mut f = Finding::from_kb(&entry, acc.count, acc.first, acc.last, acc.evidence.clone());
            if kb.get(code).is_none() {
                // Known only by its structure: reported, below what the knowledge base explains.
                // A sign-in, WAM, SIP or Direct Routing failure turns the verdict; a Windows
                // HRESULT, diagnostic or cause code that no one explains is context.
                let failure = match code {
                    Code::Aadsts(_) | Code::Sip(_) | Code::Msrc(_) => true,
                    Code::Hresult(v) => (v >> 20) & 0xFF == 0xAA || uctriage_kb::decode::idcrl(*v),
                    _ => false,
                };
                f.severity = if failure { crate::rule::Severity::Warning } else { crate::rule::Severity::Info };
                f.score = 10;
            }
            // A code met only in a generic event channel (a failed logon in the Security log, say)
            // is context, not a Teams fault: it is reported without turning the verdict.
            if acc.evidence.iter().all(|e| e.kind == "event") {
                f.severity = crate::rule::Severity::Info;
            }
            for c in &acc.codes {
                if !f.codes.contains(c) && informative(c) {
                    f.codes.push(c.clone());
                }
            }
            out.push(f);
        }
        out
    }

    fn group_of(&self, rule: usize, e: &Evidence) -> String {
        match &self.rules.rules[rule].raw.group_by {
            Some(f) => crate::rule::field_text(e, f).unwrap_or_default(),
            None => String::new(),
        }
    }

    /// Judge what was gathered: findings before correlation (every rule that fired, by rule order).
    pub(crate) fn fired(&self) -> Vec<(usize, Finding)> {
        let mut out = Vec::new();
        let mut keys: Vec<&(usize, String)> = self.accs.keys().collect();
        keys.sort_by_key(|k| (k.0, self.accs[*k].order, k.1.clone()));
        // Room names found in more than one bundle: their findings' groups read `name (bundle)`,
        // as their timelines do, so that each stays with its own room.
        let mut bundles: HashMap<&str, BTreeSet<&str>> = HashMap::default();
        for p in &self.heartbeats {
            bundles.entry(p.room.as_str()).or_default().insert(p.bundle.as_str());
        }
        for (ri, stored) in &keys {
            if let (true, Some((g, sc))) = (by_room(&self.rules.rules[*ri]), stored.split_once(SCOPE_SEP)) {
                bundles.entry(g).or_default().insert(sc);
            }
        }
        for key in keys {
            let (ri, stored) = key;
            let (group, scope) = match stored.split_once(SCOPE_SEP) {
                Some((g, s)) => (g, Some(s)),
                None => (stored.as_str(), None),
            };
            let acc = &self.accs[key];
            let rule = &self.rules.rules[*ri];
            let aux = |role: Role, i: usize, g: &str| self.aux.get(&(*ri, role, i, g.to_owned())).copied().unwrap_or(0);
            // `requires`, `unless` and `boost` look in the same container (the zip or folder the
            // records came from), so that a room's bundle does not colour a laptop's logs.
            let seen_anywhere = |role: Role, i: usize| match scope {
                Some(sc) => aux(role, i, sc) > 0,
                None => self.aux.iter().any(|((r, ro, ci, _), n)| *r == *ri && *ro == role && *ci == i && *n > 0),
            };
            if (0..rule.requires.len()).any(|i| !seen_anywhere(Role::Requires, i)) {
                continue;
            }
            if (0..rule.unless.len()).any(|i| seen_anywhere(Role::Unless, i)) {
                continue;
            }
            if let Some(t) = &rule.threshold {
                if !threshold_met(t, acc, aux(Role::RateOf, 0, group)) {
                    continue;
                }
            }
            let boosts = (0..rule.boost.len()).filter(|i| seen_anywhere(Role::Boost, *i)).count() as i64;
            // Counted fields fill `{distinct_user}` (how many) and `{user_list}` (which) in texts.
            let mut fields = std::borrow::Cow::Borrowed(&acc.fields);
            for (field, _, _) in rule.threshold.iter().flat_map(|t| &t.distinct) {
                let empty = BTreeSet::new();
                let values = acc.distinct.get(field).unwrap_or(&empty);
                let name = field.split('|').next().unwrap_or(field);
                let f = fields.to_mut();
                f.insert(format!("distinct_{name}"), values.len().to_string());
                let shown: Vec<&str> = values.iter().take(10).map(String::as_str).collect();
                let list = match (shown.is_empty(), values.len() > shown.len()) {
                    (true, _) => "none named".to_owned(),
                    (false, true) => format!("{}, …", shown.join(", ")),
                    (false, false) => shown.join(", "),
                };
                f.insert(format!("{name}_list"), list);
            }
            let shown = match scope {
                Some(sc) if by_room(rule) && bundles.get(group).is_some_and(|b| b.len() > 1) => {
                    std::borrow::Cow::Owned(format!("{group} ({sc})"))
                }
                _ => std::borrow::Cow::Borrowed(group),
            };
            let omitted = acc.count.saturating_sub(acc.evidence.iter().map(|e| e.count).sum());
            let mut evidence = acc.evidence.clone();
            // A gap is shown by its two edges: the last record before it and the first after.
            let widest = acc.gap.as_ref().and_then(|g| g.widest.as_ref());
            if let (Some((gap, before, after)), Some(max)) = (widest, rule.threshold.as_ref().and_then(|t| t.max_gap)) {
                if *gap > max {
                    let minutes = gap / 60;
                    let what = if before.kind == "sip" { "OPTIONS" } else { "match" };
                    let f = fields.to_mut();
                    f.insert("gap_start".into(), before.time.map(time::rfc3339).unwrap_or_default());
                    f.insert("gap_end".into(), after.time.map(time::rfc3339).unwrap_or_default());
                    f.insert("gap_minutes".into(), minutes.to_string());
                    let mut before = before.clone();
                    let mut after = after.clone();
                    before.note = format!("the last {what} before the widest gap ({minutes} min)");
                    after.note = format!("the first {what} after the widest gap ({minutes} min)");
                    evidence.insert(0, after);
                    evidence.insert(0, before);
                }
            }
            let mut f = finding_of(rule, &shown, acc.count, acc.first, acc.last, &acc.codes, &fields, evidence, boosts);
            f.evidence_omitted = omitted;
            out.push((*ri, f));
        }
        out
    }
}

/// The last text each pattern of the rules was run on, and its answer: records of one input
/// repeat their values (a room's heartbeat states, the same notice again), and a regular
/// expression costs far more than comparing a short text. Patterns are told apart by their
/// address in the rule set, which outlives the collector.
#[derive(Debug, Default)]
struct PatternMemo(HashMap<usize, (String, bool)>);

/// Longest text the memo keeps; longer ones are always run.
const MEMO_TEXT_MAX: usize = 512;

impl PatternMemo {
    fn is_match(&mut self, p: &crate::rule::Pattern, text: &str) -> bool {
        if let Some(answer) = p.exact_match(text) {
            return answer;
        }
        if text.len() > MEMO_TEXT_MAX {
            return p.is_match(text);
        }
        let key = std::ptr::from_ref(p).addr();
        match self.0.get_mut(&key) {
            Some((last, answer)) if last.as_str() == text => *answer,
            Some((last, answer)) => {
                *answer = p.is_match(text);
                last.clear();
                last.push_str(text);
                *answer
            }
            None => {
                let answer = p.is_match(text);
                self.0.insert(key, (text.to_owned(), answer));
                answer
            }
        }
    }
}

/// Separates a finding's group from the container its records came from, inside collector keys.
const SCOPE_SEP: char = '\u{1f}';

/// The container a record came from: the innermost archive (`a.zip!b.zip`), or the folder.
/// Whether a rule gives one finding per room (grouped by a field that names the room).
fn by_room(rule: &Rule) -> bool {
    rule.raw.group_by.as_deref().is_some_and(|g| crate::timeline::ROOM_FIELDS.contains(&g))
}

pub(crate) fn scope_of(path: &str) -> &str {
    match path.rfind('!') {
        Some(i) => &path[..i],
        // Both separators are ASCII, so a byte search finds what a search by character would.
        None => path.bytes().rposition(|b| b == b'/' || b == b'\\').map_or("", |i| &path[..i]),
    }
}

/// A code worth a finding of its own: known, and not merely informational.
fn informative(code: &Code) -> bool {
    let kb = uctriage_kb::KnowledgeBase::builtin();
    let Some(entry) = kb.get(code) else {
        // Never drop a code whose structure says it reports a failure.
        return uctriage_kb::KnowledgeBase::has_failure_structure(code);
    };
    !matches!(entry.family.as_str(), "sip-1xx-3xx" | "wam-info" | "rooms-heartbeat")
        && !matches!(code, Code::Http(n) if *n < 400)
        || matches!(code, Code::Teams(t) if !matches!(&**t, "Healthy" | "Connected" | "NotApplicable" | "Connecting"))
        // An HRESULT with its error bit set reports a failure, whichever family lists it (the
        // heartbeat's `80131500` wraps a sign-in error).
        || matches!(code, Code::Hresult(v) if v >> 31 == 1)
}

fn threshold_met(t: &Threshold, acc: &Acc, rate_total: u64) -> bool {
    if acc.count < t.count {
        return false;
    }
    let mut times = acc.times.clone();
    times.sort_unstable();
    if let Some(w) = t.window {
        let n = usize::try_from(t.count.max(1)).unwrap_or(usize::MAX);
        if times.len() < n || !times.windows(n).any(|win| win[n - 1] - win[0] <= w) {
            return false;
        }
    }
    if let Some(g) = t.max_gap {
        if !times.windows(2).any(|p| p[1] - p[0] > g) {
            return false;
        }
    }
    if let Some(min) = t.min_rate {
        if rate_total == 0 || (acc.count as f64 / rate_total as f64) < min {
            return false;
        }
    }
    t.distinct.iter().all(|(field, least, most)| {
        let n = acc.distinct.get(field).map_or(0, BTreeSet::len) as u64;
        n >= *least && most.is_none_or(|m| n <= m)
    })
}

impl Collector<'_> {
    /// Whether rule `ri` may start another group (and count it when it may).
    fn admit_group(&mut self, ri: usize) -> bool {
        let n = self.groups.entry(ri).or_default();
        if *n >= GROUPS_KEPT {
            return false;
        }
        *n += 1;
        true
    }

    /// Hold a heartbeat for the timeline: a repeat of the room's last state only moves the end of
    /// its run (checked before anything is copied, as most heartbeats are repeats).
    fn heartbeat(&mut self, e: &Evidence) {
        let Some(t) = e.time else { return };
        let mut key = std::mem::take(&mut self.heartbeat_key);
        HeartbeatPoint::key_into(e, &mut key);
        if let Some(&i) = self.last_heartbeat.get(&key) {
            if self.heartbeats[i].extends_with(e, t) {
                self.heartbeat_key = key;
                return;
            }
        }
        if let Some(p) = HeartbeatPoint::of(e) {
            self.last_heartbeat.insert(key.clone(), self.heartbeats.len());
            self.heartbeats.push(p);
        }
        self.heartbeat_key = key;
    }
}

impl Sink for Collector<'_> {
    fn record(&mut self, e: Evidence) {
        self.records += 1;
        self.order += 1;
        match self.kinds.get_mut(&e.kind) {
            Some(n) => *n += 1,
            None => {
                self.kinds.insert(e.kind.clone(), 1);
            }
        }
        if e.kind == "heartbeat" {
            self.heartbeat(&e);
        }
        self.seen.record(&e);
        let rules = self.rules;
        // The buffer of the last record, reused: most records meet a few clauses of their kind.
        let mut candidates = std::mem::take(&mut self.candidates);
        candidates.clear();
        for c in &e.codes {
            if let Some(v) = rules.by_code.get(c) {
                candidates.extend(v);
            }
        }
        if let Some(v) = rules.by_kind.get(&e.kind) {
            candidates.extend(v);
        }
        candidates.extend(&rules.unindexed);
        // A rule's `when` clauses are alternatives: count the record once per rule.
        let mut matched_when: Vec<usize> = Vec::new();
        let mut matched_aux: Vec<(usize, Role, usize)> = Vec::new();
        let mut looked = crate::rule::Looked::new(&e);
        for &cref in &candidates {
            let Some(clause) = rules.clause(cref) else { continue };
            if !clause.matches_by(&mut looked, &mut |p, text| self.pattern_memo.is_match(p, text)) {
                continue;
            }
            if cref.role == Role::When {
                if !matched_when.contains(&cref.rule) {
                    matched_when.push(cref.rule);
                }
            } else if !matched_aux.contains(&(cref.rule, cref.role, cref.index)) {
                matched_aux.push((cref.rule, cref.role, cref.index));
            }
        }
        self.candidates = candidates;
        let scope = scope_of(&e.path);
        let order = self.order;
        let mut fold = None;
        // One knowledge-base finding per record's leading code (the other codes ride along),
        // used only when none of the rules that matched the record ends up reporting.
        if let Some(c) = e.codes.iter().find(|c| informative(c)) {
            let acc = self.unmatched.entry(c.clone()).or_default();
            acc.add(&e, &mut fold, false, false, order);
            for r in &matched_when {
                if !acc.matched_by.contains(r) {
                    acc.matched_by.push(*r);
                }
            }
        }
        for ri in matched_when {
            let mut group = self.group_of(ri, &e);
            let r = &rules.rules[ri];
            let by_container = r.raw.scope.as_deref() != Some("scan");
            // A room is a device name within its bundle: rooms of two bundles that share a name
            // stay two findings.
            if by_container && (by_room(r) || !(r.requires.is_empty() && r.unless.is_empty() && r.boost.is_empty())) {
                group.push(SCOPE_SEP);
                group.push_str(scope);
            }
            // Times are only needed to look at their spacing.
            let keep_times = r.threshold.as_ref().is_some_and(|t| t.window.is_some() || t.max_gap.is_some());
            let gaps = r.threshold.as_ref().is_some_and(|t| t.max_gap.is_some());
            let key = (ri, group);
            if !self.accs.contains_key(&key) && !self.admit_group(ri) {
                *self.overflow.entry(ri).or_default() += 1;
                continue;
            }
            let acc = self.accs.entry(key).or_default();
            acc.add(&e, &mut fold, keep_times, gaps, order);
            if let Some(t) = r.threshold.as_ref().filter(|t| !t.distinct.is_empty()) {
                acc.note_distinct(t, &e);
            }
        }
        for (ri, role, i) in matched_aux {
            let group = if role == Role::RateOf { self.group_of(ri, &e) } else { scope.to_owned() };
            *self.aux.entry((ri, role, i, group)).or_default() += 1;
        }
    }
}

/// The finding of a rule that fired for `group`, its texts filled from the gathered fields.
#[allow(clippy::too_many_arguments)]
fn finding_of(
    rule: &Rule,
    group: &str,
    count: u64,
    first: Option<Timestamp>,
    last: Option<Timestamp>,
    seen_codes: &[Code],
    fields: &BTreeMap<String, String>,
    evidence: Vec<EvidenceRef>,
    boosts: i64,
) -> Finding {
    let mut vars = fields.clone();
    vars.insert("count".into(), count.to_string());
    vars.insert("group".into(), group.to_owned());
    vars.insert("first_seen".into(), first.map(time::rfc3339).unwrap_or_default());
    vars.insert("last_seen".into(), last.map(time::rfc3339).unwrap_or_default());
    let r = &rule.raw;
    Finding {
        rule: r.id.clone(),
        severity: r.severity,
        title: fill(&r.title, &vars),
        codes: finding_codes(rule, seen_codes),
        family: r.family.clone(),
        layer: r.layer.as_str().to_owned(),
        cause: fill(&r.cause, &vars),
        fix: r.fix.iter().map(|f| fill(f, &vars)).collect(),
        references: r.references.clone(),
        first_seen: first,
        last_seen: last,
        count,
        evidence,
        evidence_omitted: 0,
        group: group.to_owned(),
        consequences: Vec::new(),
        score: r.priority + 10 * boosts,
    }
}

/// The codes a finding reports: first the codes the rule names that the evidence really carried
/// (in the rule's order), then the other known codes of the matched records; when the records
/// carried none, the rule's codes as declared.
fn finding_codes(rule: &Rule, seen: &[Code]) -> Vec<Code> {
    let named: Vec<&Code> = rule.codes.iter().chain(rule.when.iter().flat_map(|c| c.codes.iter())).collect();
    let mut out: Vec<Code> = Vec::new();
    for c in &named {
        if seen.contains(c) && !out.contains(c) {
            out.push((*c).clone());
        }
    }
    let kb = uctriage_kb::KnowledgeBase::builtin();
    for c in seen {
        let quiet = kb.get(c).is_none_or(|e| matches!(e.family.as_str(), "sip-1xx-3xx" | "wam-info"));
        if !quiet && !out.contains(c) {
            out.push(c.clone());
        }
    }
    if out.is_empty() {
        out = rule.codes.clone();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every clause of a rule: its alternatives, requirements, exceptions, boosts and the clause
    /// its rate is counted over.
    fn every_clause(r: &Rule) -> impl Iterator<Item = &Clause> {
        let rate_of = r.threshold.iter().filter_map(|t| t.rate_of.as_ref());
        r.when.iter().chain(&r.requires).chain(&r.unless).chain(&r.boost).chain(rate_of)
    }

    /// Clauses matched through the pattern memo answer as matched plainly, record after record,
    /// whatever came before (every built-in clause against every rule's sample records, in order,
    /// again, and in reverse).
    #[test]
    fn memo_matching_is_plain_matching() {
        let set = RuleSet::builtin();
        let mut records = Vec::new();
        for r in &set.rules {
            for s in r.raw.samples.iter().chain(&r.raw.counter_samples) {
                for raw in &s.evidence {
                    let mut e = Evidence::new("p", "evtx", "record 1");
                    e.kind.clone_from(&raw.kind);
                    e.source.clone_from(&raw.source);
                    e.codes = raw.codes.iter().filter_map(|c| c.parse().ok()).collect();
                    e.fields = raw.fields.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
                    if let Some(f) = &raw.format {
                        e.format = uctriage_evidence::intern_format(f);
                    }
                    e.excerpt.clone_from(&raw.excerpt);
                    records.push(e);
                }
            }
        }
        assert!(records.len() > 100, "{} sample records", records.len());
        let clauses: Vec<&Clause> = set.rules.iter().flat_map(every_clause).collect();
        let mut memo = PatternMemo::default();
        let order = records.iter().chain(&records).chain(records.iter().rev());
        let mut hits = 0;
        for e in order {
            // One record's fields looked up once for all the clauses, as the engine does.
            let mut looked = crate::rule::Looked::new(e);
            for c in &clauses {
                let plain = c.matches(e);
                assert_eq!(c.matches_by(&mut looked, &mut |p, t| memo.is_match(p, t)), plain);
                hits += usize::from(plain);
            }
        }
        assert!(hits > 0);
    }

    /// The container of a path, and the heartbeat key built from it, read as the plain versions.
    #[test]
    fn scope_and_heartbeat_key_read_as_the_plain_versions() {
        let plain = |p: &str| match p.rfind('!') {
            Some(i) => p[..i].to_owned(),
            None => p.rfind(['/', '\\']).map_or(String::new(), |i| p[..i].to_owned()),
        };
        let mut key = String::from("left over");
        for p in [
            "",
            "a",
            "/",
            "\\",
            "a/b",
            "a\\b\\c.evtx",
            "x.zip!y/z",
            "x.zip!y.zip!z",
            "é/ü\\ß",
            "/tmp/b/rooms/R1/Windows/x y.evtx",
        ] {
            assert_eq!(scope_of(p), plain(p), "{p:?}");
            for computer in [None, Some(""), Some("MTR-01")] {
                let mut e = Evidence::new(p, "evtx", "record 1");
                if let Some(c) = computer {
                    e.field("computer", c);
                }
                HeartbeatPoint::key_into(&e, &mut key);
                let room = HeartbeatPoint::room_of(&e).unwrap_or(p);
                assert_eq!(key, format!("{}\u{1f}{room}", plain(p)));
            }
        }
    }

    /// Built-in rules compile their regular expressions on first use: every one must compile,
    /// so a broken pattern fails here, not in a scan.
    #[test]
    fn every_built_in_pattern_compiles() {
        let set = RuleSet::builtin();
        let mut seen = 0;
        for r in &set.rules {
            for c in every_clause(r) {
                for p in c.source.iter().chain(c.fields.iter().map(|(_, p)| p)).chain(c.text.iter()) {
                    if let Err(e) = regex::Regex::new(p.source()) {
                        panic!("{}: {:?}: {e}", r.raw.id, p.source());
                    }
                    assert_eq!(p.regex().as_str(), p.source());
                    seen += 1;
                }
            }
        }
        assert!(seen >= 90, "{seen} patterns");
    }

    /// The built-in rules are read from the JSON the build script wrote: it must hold what the
    /// TOML files hold.
    #[test]
    fn the_json_of_the_built_in_files_is_their_toml() {
        let json = crate::files::JSON.expect("the build script wrote JSON");
        let toml = crate::builtin_files();
        assert_eq!(json.len(), toml.len());
        for ((jn, jt), (tn, tt)) in json.iter().zip(toml) {
            assert_eq!(jn, tn);
            let from_json: crate::rule::RawFile = serde_json::from_str(jt).expect("reads");
            let from_toml: crate::rule::RawFile = toml::from_str(tt).expect("reads");
            assert!(!from_toml.rules.is_empty());
            assert_eq!(
                serde_json::to_value(&from_json.rules).expect("serializes"),
                serde_json::to_value(&from_toml.rules).expect("serializes"),
                "{tn}"
            );
        }
        let parsed = crate::parse_builtin().expect("valid");
        let from_toml = crate::parse_files(toml.iter().map(|(n, t)| ((*n).to_owned(), *t))).expect("valid");
        assert_eq!(
            serde_json::to_value(parsed.iter().map(|(f, r)| (f, r)).collect::<Vec<_>>()).expect("serializes"),
            serde_json::to_value(from_toml.iter().map(|(f, r)| (f, r)).collect::<Vec<_>>()).expect("serializes")
        );
    }

    /// Rules given at run time compile theirs when they load, and report a bad one then.
    #[test]
    fn rules_of_ones_own_compile_at_load() {
        let text = r#"
[[rule]]
id = "local.one"
severity = "warning"
family = "local"
layer = "device"
title = "t"
cause = "c"
fix = ["f"]
[[rule.when]]
kind = ["hardware"]
text = "ab+c"
[[rule.sample]]
[[rule.sample.evidence]]
kind = "hardware"
excerpt = "abbc"
"#;
        let set = RuleSet::load(&[("mine.toml".into(), text.into())]).expect("valid");
        let rule = set.get("local.one").expect("loaded");
        assert!(rule.when[0].text.as_ref().is_some_and(|p| p.regex.get().is_some()));
        let built_in = set.rules.iter().find(|r| r.raw.id != "local.one").expect("built-in rules");
        assert!(built_in
            .when
            .iter()
            .flat_map(|c| c.text.iter().chain(c.source.iter()))
            .all(|p| p.regex.get().is_none()));
        let bad = text.replace("ab+c", "(ab");
        let errors = RuleSet::load(&[("mine.toml".into(), bad)]).unwrap_err();
        assert!(errors.iter().any(|e| e.to_string().contains("text: bad regular expression")), "{errors:?}");
    }
}
