use std::collections::HashSet;

use uctriage_kb::{builtin_files, Code, Context, KnowledgeBase};

#[test]
fn every_file_loads_without_errors() {
    if let Err(errors) = KnowledgeBase::from_sources(builtin_files().iter().copied()) {
        let text: Vec<String> = errors.iter().map(ToString::to_string).collect();
        panic!("{} problems in the knowledge files:\n{}", errors.len(), text.join("\n"));
    }
}

#[test]
fn loader_rejects_empty_fields_duplicates_and_bad_codes() {
    let bad = r#"
[[entry]]
code = "AADSTS1"
layer = "policy"
family = "x"
title = ""
meaning = "m"
causes = ["c"]
first_checks = ["f"]
fixes = ["x"]
seen_in = ["s"]
references = ["http://insecure.example"]

[[entry]]
code = "aadsts2"
layer = "policy"
"#;
    let errors = KnowledgeBase::from_sources([("bad.toml", bad)]).unwrap_err();
    let text: Vec<String> = errors.iter().map(ToString::to_string).collect();
    let all = text.join("\n");
    assert!(all.contains("bad.toml: entry 1 (AADSTS1): `title` is missing or empty"), "{all}");
    assert!(all.contains("not an https URL"), "{all}");
    assert!(all.contains("entry 2 (aadsts2)") && all.contains("canonical form"), "{all}");
    let one = "[[entry]]\ncode = \"SIP 404\"\nlayer = \"sbc\"\nfamily = \"f\"\ntitle = \"t\"\nmeaning = \"m\"\ncauses = [\"c\"]\nfirst_checks = [\"f\"]\nfixes = [\"x\"]\nseen_in = [\"s\"]\nreferences = [\"https://a.example\"]\n";
    let errors = KnowledgeBase::from_sources([("a.toml", one), ("b.toml", one)]).unwrap_err();
    assert!(errors[0].to_string().contains("duplicate: already defined in a.toml"));
}

#[test]
fn every_code_round_trips_through_its_canonical_form() {
    let kb = KnowledgeBase::builtin();
    assert!(kb.len() > 900, "knowledge base has only {} entries", kb.len());
    for e in kb.entries() {
        let text = e.code.to_string();
        assert_eq!(text.parse::<Code>().as_ref(), Ok(&e.code), "{text}");
        let found = kb.find(&text).map(|f| &f.code);
        assert_eq!(found, Some(&e.code), "canonical {text} does not find its own entry");
        assert_eq!(kb.normalize(&text, Context::Any).as_ref(), Some(&e.code), "{text}");
    }
}

#[test]
fn fields_are_clean_and_text_is_not_placeholder() {
    let kb = KnowledgeBase::builtin();
    for e in kb.entries() {
        let lists = [&e.causes, &e.first_checks, &e.fixes, &e.seen_in, &e.references];
        for list in lists {
            assert!(!list.is_empty(), "{}: empty list", e.code);
            let unique: HashSet<&String> = list.iter().collect();
            assert_eq!(unique.len(), list.len(), "{}: repeated item in {list:?}", e.code);
        }
        for t in [&e.title, &e.meaning] {
            assert!(t.len() >= 8, "{}: text too short: {t:?}", e.code);
            assert!(!t.contains("TODO") && !t.contains("TBD"), "{}: placeholder text", e.code);
        }
        assert!(e.title.len() <= 120, "{}: title longer than 120 characters", e.code);
        assert!(e.family.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-'), "{}", e.code);
    }
}

#[test]
fn related_codes_are_known() {
    let kb = KnowledgeBase::builtin();
    let mut dangling = Vec::new();
    for e in kb.entries() {
        for r in &e.related {
            if kb.get(r).is_none() && kb.synthesize(r).is_none() {
                dangling.push(format!("{} -> {r}", e.code));
            }
        }
    }
    assert!(dangling.is_empty(), "related codes missing from the knowledge base:\n{}", dangling.join("\n"));
}

#[test]
fn every_alias_explains_to_its_entry() {
    let kb = KnowledgeBase::builtin();
    for e in kb.entries() {
        for a in &e.aliases {
            let found = kb.explain(a);
            assert!(
                found.iter().any(|x| x.code.as_ref() == Some(&e.code)),
                "alias {a:?} of {} explains as {:?}",
                e.code,
                found.iter().map(|x| x.code.as_ref().map(ToString::to_string)).collect::<Vec<_>>()
            );
        }
    }
}

#[test]
fn contract_families_are_all_present() {
    let kb = KnowledgeBase::builtin();
    let fams: HashSet<&str> = kb.families().into_iter().map(|(f, _)| f).collect();
    for f in [
        "desktop-sign-in",
        "token-transport",
        "policy-join-broker",
        "mfa-prt-federation",
        "rooms-resource-account",
        "sip-4xx",
        "sip-5xx-6xx",
    ] {
        assert!(fams.contains(f), "family {f} has no entry");
    }
}
