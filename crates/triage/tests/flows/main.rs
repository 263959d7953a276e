//! The built-in flows are well formed, every outcome is reachable by some answers, and every code
//! an outcome names is explained by the knowledge base.

use uctriage_kb::KnowledgeBase;
use uctriage_triage::{Flows, Given};

#[test]
fn builtin_flows_have_no_structural_problems() {
    let flows = Flows::builtin();
    assert!(flows.problems().is_empty(), "{:?}", flows.problems());
    assert!(flows.get("teams").is_some() && flows.get("lync").is_some());
}

#[test]
fn outcome_codes_are_in_the_knowledge_base() {
    let kb = KnowledgeBase::builtin();
    for f in &Flows::builtin().flows {
        for o in &f.outcomes {
            for c in &o.codes {
                assert!(kb.get(c).is_some(), "flow {} outcome {} names {c}, unknown to the knowledge base", f.id, o.id);
            }
        }
    }
}

/// Enumerate every path by depth-first search over the options; each must end in an outcome.
#[test]
fn every_path_ends_in_an_outcome_and_every_outcome_is_reached() {
    for f in &Flows::builtin().flows {
        let mut reached = std::collections::BTreeSet::new();
        let mut stack: Vec<Given> = vec![Given::default()];
        let mut runs = 0;
        while let Some(given) = stack.pop() {
            runs += 1;
            assert!(runs < 10_000, "flow {} explodes", f.id);
            match f.run(&mut given.clone()) {
                Ok(run) => {
                    reached.insert(run.outcome.id.clone());
                }
                Err(uctriage_triage::TriageError::Missing { key, .. }) => {
                    let q = f.questions.iter().find(|q| q.key == key && !given.0.contains_key(&key)).unwrap();
                    // Same key may appear on other branches with other options: try every value of the key.
                    let mut values: Vec<&str> = f
                        .questions
                        .iter()
                        .filter(|x| x.key == q.key)
                        .flat_map(|x| x.options.iter().map(|o| o.value.as_str()))
                        .collect();
                    values.sort_unstable();
                    values.dedup();
                    for v in values {
                        let mut g = given.clone();
                        g.insert(&key, v);
                        stack.push(g);
                    }
                }
                Err(uctriage_triage::TriageError::Invalid { .. }) => {}
                Err(e) => panic!("flow {}: {e}", f.id),
            }
        }
        for o in &f.outcomes {
            assert!(reached.contains(&o.id), "flow {}: outcome {} is never reached", f.id, o.id);
        }
    }
}

#[test]
fn bad_flow_data_is_rejected_with_a_reason() {
    let bad = r#"
[[flow]]
id = "x"
title = "t"
description = "d"
start = "q"
[[flow.question]]
id = "q"
key = "q"
text = "?"
option = [ { value = "a", label = "A", next = "nowhere" }, { value = "a", label = "B", next = "o" } ]
[[flow.outcome]]
id = "o"
layer = "client"
summary = "s"
commands = ["c"]
fixes = ["f"]
[[flow.outcome]]
id = "lonely"
layer = "client"
summary = "s"
commands = ["c"]
fixes = ["f"]
"#;
    let err = Flows::parse(bad).unwrap_err().to_string();
    assert!(err.contains("leads to unknown nowhere"), "{err}");
    assert!(err.contains("repeats the value a"), "{err}");
    assert!(err.contains("lonely is never reached"), "{err}");
}
