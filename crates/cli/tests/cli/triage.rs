use crate::{run, run_json};

#[test]
fn teams_flow_answered_by_flags() {
    let (code, out, err) =
        run(&["triage", "--answer", "sign-in=yes", "--answer", "web=works", "--answer", "code=transport"]);
    assert_eq!(code, 0, "{err}");
    insta::assert_snapshot!("triage_teams_transport", out);
}

#[test]
fn rooms_and_phone_branches_reach_their_layers() {
    let (_, v) = run_json(&[
        "triage",
        "--format",
        "json",
        "-a",
        "sign-in=no",
        "-a",
        "area=rooms",
        "-a",
        "rooms-symptom=no-meetings",
    ]);
    assert_eq!(v["outcome"]["layer"], "mailbox");
    let (_, v) = run_json(&["triage", "--format", "json", "-a", "sign-in=no", "-a", "area=phone", "-a", "msrc=560"]);
    assert_eq!(v["outcome"]["layer"], "sbc");
    let (_, v) = run_json(&["triage", "--format", "json", "-a", "sign-in=yes", "-a", "web=fails", "-a", "code=rooms"]);
    assert_eq!(v["outcome"]["layer"], "policy");
    assert!(v["outcome"]["codes"].as_array().unwrap().iter().any(|c| c == "AADSTS50076"));
}

#[test]
fn lync_matrix_and_identity_questions() {
    let (code, v) =
        run_json(&["triage", "--flow", "lync", "--format", "json", "-a", "users=one", "-a", "computers=one"]);
    assert_eq!(code, 0);
    assert_eq!(v["outcome"]["layer"], "client");
    let (_, v) = run_json(&[
        "triage",
        "--flow",
        "lync",
        "--format",
        "json",
        "-a",
        "users=one",
        "-a",
        "computers=many",
        "-a",
        "app=portal",
        "-a",
        "portal=yes",
        "-a",
        "licensed=yes",
        "-a",
        "dirsync=no",
        "-a",
        "sso=yes",
        "-a",
        "other-sso-user=no",
        "-a",
        "non-sso-user=yes",
        "-a",
        "rich-client=yes",
        "-a",
        "mex=no",
    ]);
    assert_eq!(v["outcome"]["id"], "adfs-mex");
    assert_eq!(v["outcome"]["layer"], "federation");
    assert_eq!(v["path"].as_array().unwrap().len(), 11);
}

#[test]
fn missing_or_wrong_answers_are_usage_errors_naming_the_flag() {
    let (code, _, err) = run(&["triage", "--answer", "sign-in=yes"]);
    assert_eq!(code, 2);
    assert!(err.contains("--answer web="), "{err}");
    let (code, _, err) = run(&["triage", "--answer", "sign-in=maybe"]);
    assert_eq!(code, 2);
    assert!(err.contains("\"maybe\""), "{err}");
    let (code, _, err) = run(&["triage", "--answer", "nonsense=1"]);
    assert_eq!(code, 2);
    assert!(err.contains("keys:"), "{err}");
    assert_eq!(run(&["triage", "--flow", "nope"]).0, 2);
}

#[test]
fn list_shows_every_key() {
    let (code, out, _) = run(&["triage", "--flow", "lync", "--list"]);
    assert_eq!(code, 0);
    for key in ["users", "computers", "app", "portal", "licensed", "sso", "mex"] {
        assert!(out.contains(&format!("--answer {key}=")), "{key} missing from:\n{out}");
    }
}
