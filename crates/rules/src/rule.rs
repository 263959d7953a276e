//! Rules as stored in `data/*.toml` (and in `--rules DIR`), compiled for matching.

use std::collections::BTreeMap;
use std::sync::OnceLock;

use regex::Regex;
use serde::{Deserialize, Serialize};
use uctriage_evidence::{Code, Evidence};
use uctriage_kb::Layer;

/// Finding severity, most severe first when sorted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Critical,
    Error,
    Warning,
    Info,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Critical => "critical",
            Severity::Error => "error",
            Severity::Warning => "warning",
            Severity::Info => "info",
        }
    }
}

/// One condition set: every stated condition must hold (clauses of a rule are alternatives).
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RawClause {
    /// Evidence kinds (any of).
    #[serde(default)]
    pub kind: Vec<String>,
    /// Evidence formats (any of).
    #[serde(default)]
    pub format: Vec<String>,
    /// Regular expression on `source`.
    pub source: Option<String>,
    /// Event ids (any of), read from the `event_id` field.
    #[serde(default)]
    pub event_id: Vec<i64>,
    /// Codes (any of), canonical.
    #[serde(default)]
    pub codes: Vec<String>,
    /// Field name → regular expression on the field's text.
    #[serde(default)]
    pub fields: BTreeMap<String, String>,
    /// Field name → comparison on a number: `>4`, `<=0.5`, `==1098`.
    #[serde(default)]
    pub numeric: BTreeMap<String, String>,
    /// Fields that must be absent or empty.
    #[serde(default)]
    pub missing: Vec<String>,
    /// Regular expression on the excerpt.
    pub text: Option<String>,
}

/// An aggregate condition over the matched evidence of one group.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RawThreshold {
    /// At least this many matches…
    pub count: Option<u64>,
    /// …within any window of this length (`15m`, `1h`, `2d`).
    pub window: Option<String>,
    /// Fires when two consecutive matches (in time) are further apart than this.
    pub max_gap: Option<String>,
    /// Fires when matches / evidence matching `rate_of` (same group) reaches `min_rate`.
    pub rate_of: Option<RawClause>,
    pub min_rate: Option<f64>,
    /// At least this many different values of each field among the matches (`{ user = 2 }`):
    /// "several users", "several computers". `computer|device` counts the first of the two a
    /// record has; 0 only counts. Texts get `{distinct_user}` (how many) and `{user_list}`.
    #[serde(default)]
    pub distinct: BTreeMap<String, u64>,
    /// At most this many different values of each field (`{ computer = 1 }`: "one computer
    /// only"). A field named here must also have a value on the matches.
    #[serde(default)]
    pub max_distinct: BTreeMap<String, u64>,
}

/// Sample evidence carried by a rule: it must fire the rule (or, for counter samples, must not).
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RawSample {
    pub kind: String,
    #[serde(default)]
    pub format: Option<String>,
    #[serde(default)]
    pub source: String,
    #[serde(default)]
    pub codes: Vec<String>,
    #[serde(default)]
    pub fields: BTreeMap<String, serde_json::Value>,
    #[serde(default)]
    pub excerpt: String,
    /// RFC 3339; samples without a time get one a minute apart.
    pub time: Option<String>,
    /// How many copies of this record the sample holds (for thresholds).
    #[serde(default)]
    pub repeat: Option<u64>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RawRule {
    pub id: String,
    pub severity: Severity,
    pub family: String,
    pub layer: Layer,
    /// Rank among findings of the same severity: higher is more likely the root cause.
    #[serde(default = "default_priority")]
    pub priority: i64,
    pub title: String,
    pub cause: String,
    pub fix: Vec<String>,
    /// Pages that explain the cause or the fix (https URLs). Optional: a rule of one's own may
    /// have none; every built-in rule has at least one (its tests check).
    #[serde(default)]
    pub references: Vec<String>,
    /// Codes the finding reports (canonical). Codes of matched evidence listed here or in the
    /// knowledge base under the same family are added.
    #[serde(default)]
    pub codes: Vec<String>,
    /// One finding per value of this evidence field (`computer`, `user`, `sbc_fqdn`…).
    pub group_by: Option<String>,
    /// Where `requires`, `unless` and `boost` look, and what one finding gathers: `container`
    /// (the default: the zip or folder the records came from, so one device's bundle does not
    /// colour another's) or `scan` (every input together, for rules that compare computers).
    #[serde(default)]
    pub scope: Option<String>,
    /// Findings of these rules are consequences of this one: their evidence moves here.
    #[serde(default)]
    pub absorbs: Vec<String>,
    #[serde(rename = "when")]
    pub when: Vec<RawClause>,
    /// Evidence that must also exist somewhere in the inputs.
    #[serde(default)]
    pub requires: Vec<RawClause>,
    /// Evidence that must not exist anywhere in the inputs.
    #[serde(default)]
    pub unless: Vec<RawClause>,
    /// Evidence that makes this cause more likely (raises the rank).
    #[serde(default)]
    pub boost: Vec<RawClause>,
    pub threshold: Option<RawThreshold>,
    /// Sets of sample evidence; each set must fire the rule.
    #[serde(default, rename = "sample")]
    pub samples: Vec<RawSampleSet>,
    /// Sets that must not fire it.
    #[serde(default, rename = "counter_sample")]
    pub counter_samples: Vec<RawSampleSet>,
}

/// A named set of sample records.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RawSampleSet {
    #[serde(default)]
    pub name: String,
    pub evidence: Vec<RawSample>,
}

fn default_priority() -> i64 {
    50
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawFile {
    #[serde(default, rename = "rule")]
    pub rules: Vec<RawRule>,
}

#[derive(Debug, Clone)]
pub(crate) enum Cmp {
    Gt(f64),
    Ge(f64),
    Lt(f64),
    Le(f64),
    Eq(f64),
}

impl Cmp {
    fn parse(s: &str) -> Option<Cmp> {
        let s = s.trim();
        let (op, rest) = if let Some(r) = s.strip_prefix(">=") {
            ("ge", r)
        } else if let Some(r) = s.strip_prefix("<=") {
            ("le", r)
        } else if let Some(r) = s.strip_prefix("==") {
            ("eq", r)
        } else if let Some(r) = s.strip_prefix('>') {
            ("gt", r)
        } else if let Some(r) = s.strip_prefix('<') {
            ("lt", r)
        } else {
            ("eq", s)
        };
        let v: f64 = rest.trim().parse().ok()?;
        Some(match op {
            "ge" => Cmp::Ge(v),
            "le" => Cmp::Le(v),
            "gt" => Cmp::Gt(v),
            "lt" => Cmp::Lt(v),
            _ => Cmp::Eq(v),
        })
    }

    fn holds(&self, x: f64) -> bool {
        match *self {
            Cmp::Gt(v) => x > v,
            Cmp::Ge(v) => x >= v,
            Cmp::Lt(v) => x < v,
            Cmp::Le(v) => x <= v,
            Cmp::Eq(v) => (x - v).abs() < f64::EPSILON,
        }
    }
}

/// A clause ready to test evidence.
#[derive(Debug, Clone)]
pub(crate) struct Clause {
    pub kind: Vec<String>,
    pub format: Vec<String>,
    pub source: Option<Pattern>,
    pub event_id: Vec<i64>,
    pub codes: Vec<Code>,
    pub fields: Vec<(String, Pattern)>,
    pub numeric: Vec<(String, Cmp)>,
    pub missing: Vec<String>,
    pub text: Option<Pattern>,
}

/// A rule's regular expression. Rules read from files at run time compile theirs when they load,
/// so a bad one is reported then; the built-in rules' are compiled the first time a record meets
/// them (compiling all of them cost more than reading a small input), and a test compiles every
/// one, so a broken built-in pattern fails the tests, not a scan.
#[derive(Debug, Clone)]
pub(crate) struct Pattern {
    source: String,
    pub(crate) regex: OnceLock<Regex>,
    /// The texts the pattern matches, when it matches whole texts from a list and nothing else.
    exact: Option<Exact>,
}

impl Pattern {
    pub(crate) fn new(source: &str, regex: OnceLock<Regex>) -> Pattern {
        Pattern { source: source.to_owned(), regex, exact: Exact::of(source) }
    }

    pub(crate) fn regex(&self) -> &Regex {
        self.regex.get_or_init(|| Regex::new(&self.source).expect("built-in rule patterns compile (tested)"))
    }

    pub(crate) fn is_match(&self, text: &str) -> bool {
        self.exact_match(text).unwrap_or_else(|| self.regex().is_match(text))
    }

    /// The answer without the regular expression, when comparing gives it: for a pattern that
    /// matches whole texts from a list (see [`Exact`]).
    pub(crate) fn exact_match(&self, text: &str) -> Option<bool> {
        self.exact.as_ref().and_then(|x| x.is_match(text))
    }

    #[allow(dead_code)] // Read by the tests.
    pub(crate) fn source(&self) -> &str {
        &self.source
    }
}

/// A pattern that matches whole texts from a list, and nothing else: `^403$`, `^(?:a|b)$`,
/// `(?i)^(failure|interrupted)$`, the words made of letters, digits, `_`, `-`, `:`, `/`, `@`,
/// `,` and spaces (none of them special to a regular expression outside a class). Half the
/// rules' field patterns are written so; every record meets the clauses of its kind, and
/// comparing a status with `403` costs a fraction of a search.
#[derive(Debug, Clone, PartialEq)]
struct Exact {
    words: Vec<String>,
    /// `(?i)`: case aside.
    fold: bool,
}

impl Exact {
    fn of(source: &str) -> Option<Exact> {
        let (fold, rest) = match source.strip_prefix("(?i)") {
            Some(rest) => (true, rest),
            None => (false, source),
        };
        let body = rest.strip_prefix('^')?.strip_suffix('$')?;
        // `^a|b$` is `^a` or `b$`: a list needs its group.
        let body = match body.strip_prefix("(?:").or_else(|| body.strip_prefix('(')) {
            Some(inner) => inner.strip_suffix(')')?,
            None if body.contains('|') => return None,
            None => body,
        };
        let plain = |w: &str| {
            !w.is_empty()
                && w.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b':' | b'/' | b'@' | b',' | b' '))
        };
        let words: Vec<String> = body.split('|').map(str::to_owned).collect();
        words.iter().all(|w| plain(w)).then_some(Exact { words, fold })
    }

    /// `None` when only the regular expression can tell: a text beyond ASCII under `(?i)`, whose
    /// letters may fold onto the words' (the Kelvin sign onto `k`, the long s onto `s`).
    fn is_match(&self, text: &str) -> Option<bool> {
        if self.fold {
            text.is_ascii().then(|| self.words.iter().any(|w| w.eq_ignore_ascii_case(text)))
        } else {
            Some(self.words.iter().any(|w| w == text))
        }
    }
}

/// The text of a field for matching: strings as they are, other values as JSON.
pub(crate) fn field_text(e: &Evidence, name: &str) -> Option<String> {
    let v = lookup(e, name)?;
    Some(match v {
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    })
}

/// [`field_text`], borrowed when the field is a string. The clauses go through [`with_text`]
/// instead; the tests compare the two.
#[cfg(test)]
pub(crate) fn field_str<'e>(e: &'e Evidence, name: &str) -> Option<std::borrow::Cow<'e, str>> {
    let v = lookup(e, name)?;
    Some(match v {
        serde_json::Value::String(s) => std::borrow::Cow::Borrowed(s.as_str()),
        other => std::borrow::Cow::Owned(other.to_string()),
    })
}

/// `f` of the text of a field (as [`field_text`] gives it), through [`with_text`].
#[cfg(test)]
pub(crate) fn with_field_text<R>(e: &Evidence, name: &str, f: impl FnOnce(&str) -> R) -> Option<R> {
    lookup(e, name).map(|v| with_text(v, f))
}

/// `f` of the text of a field's value (as [`field_text`] gives it), with no copy for a string
/// and none on the heap for a number or a boolean: every record meets the clauses of its kind,
/// and numbers such as a SIP `status` or a sign-in's `error_code` are matched as text.
fn with_text<R>(v: &serde_json::Value, f: impl FnOnce(&str) -> R) -> R {
    use std::fmt::Write as _;
    match v {
        serde_json::Value::String(s) => f(s),
        serde_json::Value::Bool(b) => f(if *b { "true" } else { "false" }),
        serde_json::Value::Number(n) => {
            let mut text = ShortText::default();
            match write!(text, "{n}") {
                Ok(()) => f(text.as_str()),
                Err(_) => f(&n.to_string()),
            }
        }
        other => f(&other.to_string()),
    }
}

/// The fields of one record, looked up once each while the clauses offered the record ask for
/// them (clauses of one kind ask for the same few: `status`, `cseq_method`, `error_code`…).
/// Each clause holds its own copy of a name, so names are compared by their text.
pub(crate) struct Looked<'e, 'r> {
    e: &'e Evidence,
    /// (a name asked for, the field found).
    kept: [(&'r str, Option<&'e serde_json::Value>); LOOKED_KEPT],
    n: usize,
}

/// Fields a [`Looked`] keeps; further ones are looked up each time.
const LOOKED_KEPT: usize = 8;

impl<'e, 'r> Looked<'e, 'r> {
    pub(crate) fn new(e: &'e Evidence) -> Self {
        Looked { e, kept: [("", None); LOOKED_KEPT], n: 0 }
    }

    /// [`lookup`] of the record, once per name.
    fn get(&mut self, name: &'r str) -> Option<&'e serde_json::Value> {
        if let Some((_, v)) = self.kept[..self.n].iter().find(|(k, _)| *k == name) {
            return *v;
        }
        let v = lookup(self.e, name);
        if self.n < LOOKED_KEPT {
            self.kept[self.n] = (name, v);
            self.n += 1;
        }
        v
    }
}

/// A short text written in place (a number's digits); writing more than it holds fails.
struct ShortText {
    bytes: [u8; 48],
    len: usize,
}

impl Default for ShortText {
    fn default() -> Self {
        ShortText { bytes: [0; 48], len: 0 }
    }
}

impl ShortText {
    fn as_str(&self) -> &str {
        // Only whole `str`s are written in, so the bytes held are UTF-8.
        std::str::from_utf8(&self.bytes[..self.len]).unwrap_or_default()
    }
}

impl std::fmt::Write for ShortText {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        let end = self.len + s.len();
        if end > self.bytes.len() {
            return Err(std::fmt::Error);
        }
        self.bytes[self.len..end].copy_from_slice(s.as_bytes());
        self.len = end;
        Ok(())
    }
}

/// A field by name; `a.b` walks into objects (`data.Error`, `sections.SSO State.AzureAdPrt`).
pub(crate) fn lookup<'e>(e: &'e Evidence, name: &str) -> Option<&'e serde_json::Value> {
    if let Some(v) = e.fields.get(name) {
        return Some(v);
    }
    let (head, rest) = name.split_once('.')?;
    let mut v = e.fields.get(head)?;
    for part in rest.split('.') {
        v = v.get(part)?;
    }
    Some(v)
}

fn number(v: &serde_json::Value) -> Option<f64> {
    match v {
        serde_json::Value::Number(n) => n.as_f64(),
        serde_json::Value::String(s) => s.trim().parse().ok(),
        serde_json::Value::Bool(b) => Some(f64::from(u8::from(*b))),
        _ => None,
    }
}

impl Clause {
    /// `built_in`: the clause is a built-in rule's, whose patterns are compiled on first use.
    pub(crate) fn compile(raw: &RawClause, place: &str, built_in: bool, errors: &mut Vec<String>) -> Clause {
        let mut re = |what: &str, p: &str| {
            let regex = OnceLock::new();
            if !built_in {
                match Regex::new(p) {
                    Ok(r) => {
                        let _ = regex.set(r);
                    }
                    Err(e) => {
                        errors.push(format!("{place}: {what}: bad regular expression: {e}"));
                        return None;
                    }
                }
            }
            Some(Pattern::new(p, regex))
        };
        let source = raw.source.as_deref().and_then(|p| re("source", p));
        let text = raw.text.as_deref().and_then(|p| re("text", p));
        let fields =
            raw.fields.iter().filter_map(|(k, p)| re(&format!("fields.{k}"), p).map(|r| (k.clone(), r))).collect();
        let mut codes = Vec::new();
        for c in &raw.codes {
            match c.parse::<Code>() {
                Ok(c) => codes.push(c),
                Err(e) => errors.push(format!("{place}: codes: {e}")),
            }
        }
        let mut numeric = Vec::new();
        for (k, v) in &raw.numeric {
            match Cmp::parse(v) {
                Some(c) => numeric.push((k.clone(), c)),
                None => errors.push(format!("{place}: numeric.{k}: {v:?} is not a comparison such as >4")),
            }
        }
        let empty = raw.kind.is_empty()
            && raw.format.is_empty()
            && raw.source.is_none()
            && raw.event_id.is_empty()
            && raw.codes.is_empty()
            && raw.fields.is_empty()
            && raw.numeric.is_empty()
            && raw.text.is_none();
        if empty {
            errors.push(format!(
                "{place}: a condition set must say something (kind, codes, fields…): it would match everything"
            ));
        }
        Clause {
            kind: raw.kind.clone(),
            format: raw.format.clone(),
            source,
            event_id: raw.event_id.clone(),
            codes,
            fields,
            numeric,
            missing: raw.missing.clone(),
            text,
        }
    }

    /// Whether a record meets the clause (the engine goes through [`Self::matches_by`] and its
    /// memo; the tests compare the two).
    #[cfg(test)]
    pub(crate) fn matches(&self, e: &Evidence) -> bool {
        self.matches_plain(e, &mut |p, text| p.is_match(text))
    }

    /// [`matches_by`](Self::matches_by) with every field looked up and copied each time it is
    /// asked for, as it was written first; the tests compare the two.
    #[cfg(test)]
    fn matches_plain(&self, e: &Evidence, is_match: &mut dyn FnMut(&Pattern, &str) -> bool) -> bool {
        if !self.kind.is_empty() && !self.kind.contains(&e.kind) {
            return false;
        }
        if !self.format.is_empty() && !self.format.iter().any(|f| *f == e.format) {
            return false;
        }
        if !self.codes.is_empty() && !self.codes.iter().any(|c| e.codes.contains(c)) {
            return false;
        }
        if !self.event_id.is_empty() {
            let id = e.fields.get("event_id").and_then(number);
            if !id.is_some_and(|id| self.event_id.iter().any(|x| (*x as f64 - id).abs() < f64::EPSILON)) {
                return false;
            }
        }
        if let Some(r) = &self.source {
            if !is_match(r, &e.source) {
                return false;
            }
        }
        for (k, r) in &self.fields {
            if !field_str(e, k).is_some_and(|t| is_match(r, &t)) {
                return false;
            }
        }
        for (k, c) in &self.numeric {
            if !lookup(e, k).and_then(number).is_some_and(|x| c.holds(x)) {
                return false;
            }
        }
        for k in &self.missing {
            if field_str(e, k).is_some_and(|t| !t.trim().is_empty()) {
                return false;
            }
        }
        if let Some(r) = &self.text {
            if !is_match(r, &e.excerpt) {
                return false;
            }
        }
        true
    }

    /// [`matches`](Self::matches), with each pattern run through `is_match` (the engine's memo)
    /// and the record's fields looked up through `looked` (shared by the clauses offered it).
    pub(crate) fn matches_by<'r>(
        &'r self,
        looked: &mut Looked<'_, 'r>,
        is_match: &mut dyn FnMut(&Pattern, &str) -> bool,
    ) -> bool {
        let e = looked.e;
        if !self.kind.is_empty() && !self.kind.contains(&e.kind) {
            return false;
        }
        if !self.format.is_empty() && !self.format.iter().any(|f| *f == e.format) {
            return false;
        }
        if !self.codes.is_empty() && !self.codes.iter().any(|c| e.codes.contains(c)) {
            return false;
        }
        if !self.event_id.is_empty() {
            let id = e.fields.get("event_id").and_then(number);
            if !id.is_some_and(|id| self.event_id.iter().any(|x| (*x as f64 - id).abs() < f64::EPSILON)) {
                return false;
            }
        }
        if let Some(r) = &self.source {
            if !is_match(r, &e.source) {
                return false;
            }
        }
        for (k, r) in &self.fields {
            if !looked.get(k).is_some_and(|v| with_text(v, |t| is_match(r, t))) {
                return false;
            }
        }
        for (k, c) in &self.numeric {
            if !looked.get(k).and_then(number).is_some_and(|x| c.holds(x)) {
                return false;
            }
        }
        for k in &self.missing {
            if looked.get(k).is_some_and(|v| with_text(v, |t| !t.trim().is_empty())) {
                return false;
            }
        }
        if let Some(r) = &self.text {
            if !is_match(r, &e.excerpt) {
                return false;
            }
        }
        true
    }
}

/// Parse a duration such as `90s`, `15m`, `4h`, `2d`.
pub(crate) fn parse_duration(s: &str) -> Option<i64> {
    let s = s.trim();
    let (num, unit) = s.split_at(s.find(|c: char| !c.is_ascii_digit())?);
    let n: i64 = num.parse().ok()?;
    let mult = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        _ => return None,
    };
    n.checked_mul(mult)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Texts around a list's words: each word in other cases, with a letter that folds onto
    /// one of its letters, with more before or after, with a line end, two words together, and
    /// the empty text.
    fn texts_around(words: &[String]) -> Vec<String> {
        let mut texts = vec![String::new(), " ".into(), "\n".into(), words.concat(), words.join("|")];
        for w in words {
            texts.extend([
                w.clone(),
                w.to_ascii_uppercase(),
                w.to_ascii_lowercase(),
                format!("{w} "),
                format!(" {w}"),
                format!("{w}\n"),
                format!("x{w}"),
                format!("{w}x"),
                w.replace(['k', 'K'], "\u{212a}"),
                w.replace(['s', 'S'], "\u{17f}"),
                w.to_ascii_uppercase().replace('S', "\u{17f}"),
                w[..w.len() - 1].to_owned(),
            ]);
        }
        texts
    }

    /// Wherever comparing answers, it answers as the regular expression does.
    fn assert_exact_as_regex(source: &str, texts: &[String]) -> usize {
        let p = Pattern::new(source, OnceLock::new());
        let re = Regex::new(source).unwrap();
        let mut answered = 0;
        for t in texts {
            if let Some(a) = p.exact_match(t) {
                assert_eq!(a, re.is_match(t), "{source} on {t:?}");
                answered += 1;
            }
            assert_eq!(p.is_match(t), re.is_match(t), "{source} on {t:?}");
        }
        answered
    }

    #[test]
    fn exact_lists_are_read_from_the_pattern() {
        let words = |w: &[&str]| Some(w.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>());
        for (source, expected, fold) in [
            ("^403$", words(&["403"]), false),
            ("^INVITE$", words(&["INVITE"]), false),
            ("(?i)^(failure|interrupted)$", words(&["failure", "interrupted"]), true),
            ("^(?:486|487|600|603)$", words(&["486", "487", "600", "603"]), false),
            ("(?i)^no$", words(&["no"]), true),
            ("^a b-c:d/e@f,g_h$", words(&["a b-c:d/e@f,g_h"]), false),
            ("^a|b$", None, false),
            ("^(a)(b)$", None, false),
            ("^(a|)$", None, false),
            ("^$", None, false),
            ("^a.b$", None, false),
            ("^[4-6]\\d\\d$", None, false),
            ("(?i-u)^a$", None, false),
            ("(?i)\\bpstnhub\\.", None, false),
            ("^403", None, false),
            ("403$", None, false),
            ("^(?i)a$", None, false),
        ] {
            let got = Exact::of(source);
            assert_eq!(got.as_ref().map(|x| x.words.clone()), expected, "{source}");
            if let Some(x) = got {
                assert_eq!(x.fold, fold, "{source}");
            }
        }
    }

    /// Every built-in pattern read as a list answers as its regular expression.
    #[test]
    fn exact_built_in_patterns_answer_as_their_regex() {
        let set = crate::engine::RuleSet::builtin();
        let (mut lists, mut answered) = (0, 0);
        for r in &set.rules {
            let clauses = r.when.iter().chain(&r.requires).chain(&r.unless).chain(&r.boost);
            for c in clauses.chain(r.threshold.as_ref().and_then(|t| t.rate_of.as_ref())) {
                for p in c.source.iter().chain(c.fields.iter().map(|(_, p)| p)).chain(c.text.iter()) {
                    if let Some(x) = &p.exact {
                        lists += 1;
                        answered += assert_exact_as_regex(p.source(), &texts_around(&x.words));
                    }
                }
            }
        }
        assert!(lists >= 40, "{lists} patterns read as lists");
        assert!(answered >= 10 * lists, "{answered} answers compared");
    }

    proptest::proptest! {
        /// Lists of short words over letters that fold beyond ASCII, in every form a pattern
        /// may take, against texts made of the same letters.
        #[test]
        fn exact_lists_answer_as_their_regex(
            words in proptest::collection::vec("[ksaK0-9_ -]{1,4}", 1..4),
            fold in proptest::bool::ANY,
            group in 0usize..3,
            texts in proptest::collection::vec("[ksaKS\u{212a}\u{17f}0-9_ \n-]{0,5}", 0..20),
        ) {
            let list = words.join("|");
            let body = match group {
                0 if words.len() == 1 => list,
                0 | 1 => format!("({list})"),
                _ => format!("(?:{list})"),
            };
            let source = format!("{}^{body}$", if fold { "(?i)" } else { "" });
            proptest::prop_assert!(Exact::of(&source).is_some(), "{source}");
            let mut all = texts;
            all.extend(texts_around(&words));
            assert_exact_as_regex(&source, &all);
        }
    }
    use serde_json::json;

    /// The text a clause matches is the text of [`field_str`]: strings, whole and fractional
    /// numbers of every size, booleans, null, arrays, objects, and paths into objects.
    #[test]
    fn field_text_without_copies_is_the_plain_text() {
        let values = [
            json!("text"),
            json!(""),
            json!(" padded "),
            json!(0),
            json!(403),
            json!(-7),
            json!(u64::MAX),
            json!(i64::MIN),
            json!(0.1),
            json!(-2.5e-300),
            json!(f64::MAX),
            json!(f64::MIN_POSITIVE),
            json!(true),
            json!(false),
            json!(null),
            json!([1, "a", null]),
            json!({"Error": 50126, "x": {"y": "z"}}),
        ];
        let mut e = Evidence::new("p", "evtx", "record 1");
        for (i, v) in values.iter().enumerate() {
            e.fields.insert(format!("f{i}"), v.clone());
        }
        let mut names: Vec<String> = (0..=values.len()).map(|i| format!("f{i}")).collect();
        names.extend(["f16.Error", "f16.x.y", "f16.x", "f16.nope", "f0.x", "f15.0"].map(str::to_owned));
        for name in &names {
            let plain = field_str(&e, name).map(std::borrow::Cow::into_owned);
            assert_eq!(with_field_text(&e, name, str::to_owned), plain, "{name}");
            assert_eq!(field_text(&e, name), plain, "{name}");
        }
    }
}
