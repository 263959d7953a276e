//! Decision flows from the troubleshooting articles, kept as data (`data/flows.toml`).
//!
//! A flow is a tree of questions; each answer leads to another question or to an outcome that
//! names the layer, the uctriage commands to run next and the fixes. The same flow runs
//! interactively (the CLI prompts) or from flags (`--answer key=value`), through [`Answers`].
//!
//! ```
//! use uctriage_triage::{Flows, Given};
//! let flows = Flows::builtin();
//! let flow = flows.get("teams").unwrap();
//! let mut given = Given::default();
//! given.insert("sign-in", "yes");
//! given.insert("web", "works");
//! given.insert("code", "client-loop");
//! let run = flow.run(&mut given).unwrap();
//! assert_eq!(run.outcome.layer.as_str(), "client");
//! ```

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::OnceLock;

use serde::{Deserialize, Serialize};
use uctriage_kb::{Code, Layer};

/// All flows, by id.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Flows {
    #[serde(rename = "flow")]
    pub flows: Vec<Flow>,
}

#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Flow {
    pub id: String,
    pub title: String,
    pub description: String,
    pub start: String,
    #[serde(rename = "question")]
    pub questions: Vec<Question>,
    #[serde(rename = "outcome")]
    pub outcomes: Vec<Outcome>,
}

/// One question. `key` is the flag name (`--answer key=value`); several nodes may share a key
/// when they ask the same thing on different branches.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Question {
    pub id: String,
    pub key: String,
    pub text: String,
    #[serde(default)]
    pub help: String,
    #[serde(rename = "option")]
    pub options: Vec<Choice>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Choice {
    pub value: String,
    pub label: String,
    /// A question id or an outcome id.
    pub next: String,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Outcome {
    pub id: String,
    pub layer: Layer,
    pub summary: String,
    /// uctriage (and a few Windows) commands to run next, in order.
    pub commands: Vec<String>,
    pub fixes: Vec<String>,
    /// Knowledge-base codes worth reading for this outcome.
    #[serde(default)]
    pub codes: Vec<Code>,
}

/// One step taken: the question and the chosen answer.
#[derive(Debug, Clone, Serialize)]
pub struct Step {
    pub key: String,
    pub question: String,
    pub answer: String,
    pub label: String,
}

/// A finished walk through a flow.
#[derive(Debug, Clone, Serialize)]
pub struct Run {
    pub flow: String,
    pub path: Vec<Step>,
    pub outcome: Outcome,
}

/// Something that answers questions: a terminal prompt, or a set of flags.
pub trait Answers {
    /// The chosen option value for `q`, or `None` when no answer can be had.
    fn answer(&mut self, q: &Question) -> Option<String>;
}

/// How far a walk went: the steps taken, the node it stopped at, and how it ended.
#[derive(Debug)]
pub struct Walk {
    pub path: Vec<Step>,
    pub at: String,
    pub result: Result<Run, TriageError>,
}

/// Answers given up front (`--answer key=value`).
#[derive(Debug, Default, Clone)]
pub struct Given(pub HashMap<String, String>);

impl Given {
    pub fn insert(&mut self, key: &str, value: &str) {
        self.0.insert(key.to_owned(), value.to_owned());
    }
}

impl Answers for Given {
    fn answer(&mut self, q: &Question) -> Option<String> {
        self.0.get(&q.key).cloned()
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum TriageError {
    #[error("no answer for --answer {key}=… ({question}); one of: {options}")]
    Missing { key: String, question: String, options: String },
    #[error("{value:?} is not an answer to --answer {key} ({question}); one of: {options}")]
    Invalid { key: String, value: String, question: String, options: String },
    #[error("flow data: {0}")]
    Data(String),
}

impl Flows {
    /// The flows compiled into the binary (validated by the crate's tests).
    pub fn builtin() -> &'static Flows {
        static FLOWS: OnceLock<Flows> = OnceLock::new();
        FLOWS.get_or_init(|| {
            Flows::parse(include_str!("../data/flows.toml")).expect("built-in flows are validated by tests")
        })
    }

    pub fn parse(text: &str) -> Result<Flows, TriageError> {
        let flows: Flows = toml::from_str(text).map_err(|e| TriageError::Data(e.to_string()))?;
        let problems = flows.problems();
        if problems.is_empty() {
            Ok(flows)
        } else {
            Err(TriageError::Data(problems.join("; ")))
        }
    }

    pub fn get(&self, id: &str) -> Option<&Flow> {
        self.flows.iter().find(|f| f.id == id)
    }

    /// Structural problems: dangling `next`, unreachable nodes, duplicate ids or values.
    pub fn problems(&self) -> Vec<String> {
        let mut out = Vec::new();
        let mut flow_ids = HashSet::new();
        for f in &self.flows {
            if !flow_ids.insert(&f.id) {
                out.push(format!("duplicate flow {}", f.id));
            }
            let mut ids: BTreeMap<&str, &str> = BTreeMap::new();
            for q in &f.questions {
                if ids.insert(&q.id, "question").is_some() {
                    out.push(format!("{}: duplicate id {}", f.id, q.id));
                }
            }
            for o in &f.outcomes {
                if ids.insert(&o.id, "outcome").is_some() {
                    out.push(format!("{}: duplicate id {}", f.id, o.id));
                }
                if o.summary.trim().is_empty() || o.commands.is_empty() || o.fixes.is_empty() {
                    out.push(format!("{}: outcome {} needs a summary, commands and fixes", f.id, o.id));
                }
            }
            if !ids.contains_key(f.start.as_str()) {
                out.push(format!("{}: start {} does not exist", f.id, f.start));
            }
            let mut reached: HashSet<&str> = HashSet::from([f.start.as_str()]);
            for q in &f.questions {
                let mut values = HashSet::new();
                if q.options.len() < 2 {
                    out.push(format!("{}: question {} needs at least two options", f.id, q.id));
                }
                for o in &q.options {
                    if !values.insert(&o.value) {
                        out.push(format!("{}: question {} repeats the value {}", f.id, q.id, o.value));
                    }
                    if !ids.contains_key(o.next.as_str()) {
                        out.push(format!("{}: question {} option {} leads to unknown {}", f.id, q.id, o.value, o.next));
                    }
                    reached.insert(&o.next);
                }
            }
            for id in ids.keys() {
                if !reached.contains(id) {
                    out.push(format!("{}: {} is never reached", f.id, id));
                }
            }
        }
        out
    }
}

impl Flow {
    fn question(&self, id: &str) -> Option<&Question> {
        self.questions.iter().find(|q| q.id == id)
    }

    fn outcome(&self, id: &str) -> Option<&Outcome> {
        self.outcomes.iter().find(|o| o.id == id)
    }

    /// The questions' keys with their allowed values, for `--help`-style listings.
    pub fn keys(&self) -> BTreeMap<&str, Vec<&str>> {
        let mut m: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
        for q in &self.questions {
            let v = m.entry(&q.key).or_default();
            for o in &q.options {
                if !v.contains(&o.value.as_str()) {
                    v.push(&o.value);
                }
            }
        }
        m
    }

    /// Walk the flow, asking `answers` at each question, until an outcome.
    pub fn run(&self, answers: &mut dyn Answers) -> Result<Run, TriageError> {
        self.walk(answers).result
    }

    /// Walk as far as the answers go: the steps taken, the node reached, and the outcome or why
    /// the walk stopped there (a guided form asks that node's question next).
    pub fn walk(&self, answers: &mut dyn Answers) -> Walk {
        let mut at = self.start.as_str();
        let mut path = Vec::new();
        // A flow is a tree, so it ends within as many steps as it has questions.
        for _ in 0..=self.questions.len() {
            if let Some(o) = self.outcome(at) {
                let result = Ok(Run { flow: self.id.clone(), path: path.clone(), outcome: o.clone() });
                return Walk { path, at: at.to_owned(), result };
            }
            let Some(q) = self.question(at) else {
                let result = Err(TriageError::Data(format!("unknown node {at}")));
                return Walk { path, at: at.to_owned(), result };
            };
            let options = q.options.iter().map(|o| o.value.as_str()).collect::<Vec<_>>().join(", ");
            let stop = |path: Vec<Step>, e: TriageError| Walk { path, at: at.to_owned(), result: Err(e) };
            let Some(value) = answers.answer(q) else {
                let e = TriageError::Missing { key: q.key.clone(), question: q.text.clone(), options };
                return stop(path, e);
            };
            let Some(choice) = q.options.iter().find(|o| o.value.eq_ignore_ascii_case(value.trim())) else {
                let e = TriageError::Invalid { key: q.key.clone(), value, question: q.text.clone(), options };
                return stop(path, e);
            };
            path.push(Step {
                key: q.key.clone(),
                question: q.text.clone(),
                answer: choice.value.clone(),
                label: choice.label.clone(),
            });
            at = &choice.next;
        }
        Walk { path, at: at.to_owned(), result: Err(TriageError::Data(format!("flow {} loops", self.id))) }
    }
}
