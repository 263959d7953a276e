//! Every generated scenario, read and judged end to end: the verdict, and for problems the first
//! finding's layer, codes and fix. Also the real sample logs of ../shared/corpus: healthy.

use uctriage_fixtures::{scenarios, Verdict as Want};
use uctriage_rules::{diagnose, RuleSet, Verdict};
use uctriage_sources::{read, Options, Source};

fn scan(path: &std::path::Path, rules: &RuleSet) -> uctriage_rules::Diagnosis {
    let mut total = rules.collector();
    read(&[Source::Path(path.to_owned())], &Options::default(), || rules.collector(), |_, c| total.merge(c));
    diagnose(total)
}

#[test]
fn every_scenario_gets_its_diagnosis() {
    let rules = RuleSet::builtin();
    let dir = std::env::temp_dir().join(format!("uctriage-scenarios-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let mut wrong = Vec::new();
    let all = scenarios();
    for s in &all {
        let path = dir.join(format!("{}.zip", s.name));
        std::fs::write(&path, s.build().to_zip_bytes().unwrap()).unwrap();
        let d = scan(&path, &rules);
        let got_verdict = match d.verdict {
            Verdict::Healthy => Want::Healthy,
            Verdict::Problems => Want::Problems,
            Verdict::Inconclusive => Want::Inconclusive,
        };
        let first = d.findings.iter().find(|f| f.severity <= uctriage_rules::Severity::Warning);
        let summary = first.map_or_else(String::new, |f| {
            format!("{} [{}] {:?}", f.rule, f.layer, f.codes.iter().map(ToString::to_string).collect::<Vec<_>>())
        });
        if got_verdict != s.expected.verdict {
            wrong.push(format!(
                "{}: verdict {:?}, want {:?} (first: {summary})",
                s.name, got_verdict, s.expected.verdict
            ));
            continue;
        }
        let (Some(want), Some(f)) = (&s.expected.first, first) else { continue };
        let codes: Vec<String> = f.codes.iter().map(ToString::to_string).collect();
        let fix = f.fix.join(" ").to_lowercase();
        if f.layer != want.layer {
            wrong.push(format!("{}: layer {}, want {} (first: {summary})", s.name, f.layer, want.layer));
        }
        for c in want.codes {
            if !codes.iter().any(|x| x == c) {
                wrong.push(format!("{}: code {c} missing (first: {summary})", s.name));
            }
        }
        if !fix.contains(&want.fix_keyword.to_lowercase()) {
            wrong.push(format!("{}: fix lacks {:?} (first: {summary})", s.name, want.fix_keyword));
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
    assert!(wrong.is_empty(), "{} of {} scenarios diagnosed wrongly:\n{}", wrong.len(), all.len(), wrong.join("\n"));
}

#[test]
fn real_sample_logs_are_healthy() {
    let corpus = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/corpus/evtx");
    if !corpus.is_dir() {
        return;
    }
    let rules = RuleSet::builtin();
    for entry in std::fs::read_dir(&corpus).unwrap() {
        let p = entry.unwrap().path();
        let d = scan(&p, &rules);
        let bad: Vec<String> = d
            .findings
            .iter()
            .filter(|f| f.severity <= uctriage_rules::Severity::Warning)
            .map(|f| f.rule.clone())
            .collect();
        assert_eq!(d.verdict, Verdict::Healthy, "{}: {bad:?}", p.display());
    }
}
