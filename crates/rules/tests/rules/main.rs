//! Rules tests: the built-in rules load, every sample fires its rule, correlation folds
//! consequences under their cause, ranking and verdicts behave, the timeline finds the turn.

mod calm;
use uctriage_evidence::{time, Code, Evidence, Sink};
use uctriage_rules::{diagnose, test_samples, RuleSet, Verdict};

fn ev(kind: &str, codes: &[&str], fields: &[(&'static str, serde_json::Value)], at: &str) -> Evidence {
    evidence_at("test.log", kind, codes, fields, at)
}

/// A record of `kind` in the file `path`, with codes, fields and a time.
fn evidence_at<K: Clone + Into<uctriage_evidence::FieldName>>(
    path: &str,
    kind: &str,
    codes: &[&str],
    fields: &[(K, serde_json::Value)],
    at: &str,
) -> Evidence {
    let mut e = Evidence::new(path, "test", "line 1");
    e.kind = kind.into();
    e.source = match kind {
        "heartbeat" => "Skype Room System".into(),
        "aad-error" => "Microsoft-Windows-AAD/Operational".into(),
        _ => "test".into(),
    };
    e.time = time::parse(at);
    for c in codes {
        e.add_code(c.parse::<Code>().unwrap());
    }
    for (k, v) in fields {
        e.fields.insert(k.clone(), v.clone());
    }
    e
}

fn run(rules: &RuleSet, records: Vec<Evidence>) -> uctriage_rules::Diagnosis {
    let mut c = rules.collector();
    for r in records {
        c.record(r);
    }
    diagnose(c)
}

#[test]
fn every_rule_sample_passes() {
    let rules = RuleSet::builtin();
    let results = test_samples(&rules);
    let failed: Vec<String> =
        results.iter().filter(|r| !r.passed).map(|r| format!("{} / {}", r.rule, r.sample)).collect();
    assert!(failed.is_empty(), "rule samples failing:\n{}", failed.join("\n"));
    assert!(results.len() >= 25);
}

#[test]
fn every_builtin_rule_names_a_reference() {
    let rules = RuleSet::builtin();
    let bare: Vec<&str> =
        rules.rules.iter().filter(|r| r.raw.references.is_empty()).map(|r| r.raw.id.as_str()).collect();
    assert!(bare.is_empty(), "built-in rules without references: {bare:?}");
}

/// A site's own rule, with no references, that fires on every record of `kind`.
fn local_rule(id: &str, kind: &str) -> RuleSet {
    let text = format!(
        r#"
[[rule]]
id = "{id}"
severity = "warning"
family = "local"
layer = "device"
title = "Records of kind {kind}"
cause = "{{count}} of them."
fix = ["Look at them"]
[[rule.when]]
kind = ["{kind}"]
[[rule.sample]]
[[rule.sample.evidence]]
kind = "{kind}"
"#
    );
    RuleSet::load(&[("mine.toml".into(), text)]).unwrap()
}

#[test]
fn a_rule_of_ones_own_may_leave_references_out() {
    let set = local_rule("local.printer.jam", "hardware");
    assert!(set.get("local.printer.jam").unwrap().raw.references.is_empty());
    let d = run(&set, vec![ev("hardware", &[], &[], "2025-07-15T08:00:00Z")]);
    let f = d.findings.iter().find(|f| f.rule == "local.printer.jam").expect("the rule fires");
    assert!(f.references.is_empty());
}

/// A Teams-only room's heartbeat whose Exchange sign-in is asked for MFA, at `t`.
fn mfa_heartbeat(t: &str) -> Evidence {
    ev(
        "heartbeat",
        &["0x80131500", "AADSTS50076"],
        &[
            ("computer", "MTR-01".into()),
            ("exchange_status", "80131500 : AADSTS50076".into()),
            ("teams_signin_status", "Unhealthy".into()),
            ("signin_status", "NotApplicable".into()),
            ("network_status", "Healthy".into()),
        ],
        t,
    )
}

#[test]
fn mfa_finding_holds_the_heartbeat_as_a_consequence() {
    let rules = RuleSet::builtin();
    let d = run(
        &rules,
        vec![
            mfa_heartbeat("2025-07-15T08:30:11Z"),
            ev("aad-error", &["0xCAA2000C", "AADSTS50076"], &[("event_id", 1098.into())], "2025-07-15T08:31:00Z"),
            mfa_heartbeat("2025-07-15T08:35:11Z"),
        ],
    );
    assert_eq!(d.verdict, Verdict::Problems);
    assert_eq!(d.findings.len(), 1, "{:#?}", d.findings.iter().map(|f| &f.rule).collect::<Vec<_>>());
    let f = &d.findings[0];
    assert_eq!(f.rule, "rooms.resource-account.mfa-required");
    assert_eq!(f.layer, "policy");
    assert_eq!(f.codes.iter().take(2).map(ToString::to_string).collect::<Vec<_>>(), ["AADSTS50076", "0xCAA2000C"]);
    assert!(f.consequences.contains(&"rooms.heartbeat.teams-signin-unhealthy".to_owned()));
    assert_eq!(f.count, 3, "records behind the cause, heartbeats counted once");
    assert_eq!(time::rfc3339(f.first_seen.unwrap()), "2025-07-15T08:30:11Z");
}

#[test]
fn skype_only_unhealthy_is_not_called_a_teams_failure() {
    let rules = RuleSet::builtin();
    let d = run(
        &rules,
        vec![ev(
            "heartbeat",
            &[],
            &[
                ("computer", "MTR-02".into()),
                ("signin_status", "Unhealthy".into()),
                ("teams_signin_status", "NotApplicable".into()),
            ],
            "2025-07-15T08:30:11Z",
        )],
    );
    let ids: Vec<&str> = d.findings.iter().map(|f| f.rule.as_str()).collect();
    assert!(ids.contains(&"rooms.heartbeat.sfb-signin-unhealthy"), "{ids:?}");
    assert!(!ids.iter().any(|i| i.contains("teams-signin")), "{ids:?}");
    assert!(!d.findings.iter().any(|f| f.title.contains("Teams sign")));
}

#[test]
fn a_single_pasted_code_gives_a_finding_with_that_code() {
    let rules = RuleSet::builtin();
    let mut e = ev("log-line", &["0xCAA9002C"], &[], "2025-07-15T08:30:11Z");
    e.excerpt = "0xCAA9002C".into();
    let d = run(&rules, vec![e]);
    assert_eq!(d.verdict, Verdict::Problems);
    assert!(d.findings[0].codes.contains(&Code::Hresult(0xCAA9_002C)));
}

#[test]
fn unknown_codes_with_a_structure_are_reported_never_dropped() {
    let rules = RuleSet::builtin();
    let line = |codes: &[&str], n: u32| {
        let mut e = ev("log-line", codes, &[], "");
        e.location = format!("line {n}");
        e
    };
    // No times: an unlisted AADSTS number (a failure), an IDCRL code, an unlisted HRESULT and
    // ms-diagnostics number (context), in the order of their lines.
    let d = run(
        &rules,
        vec![
            line(&["0x8018002B"], 1),
            line(&["AADSTS1002016"], 2),
            line(&["0x8004882C"], 3),
            line(&["MS-DIAG 52001"], 4),
        ],
    );
    assert_eq!(d.verdict, Verdict::Problems);
    let titles: Vec<(&str, &str)> = d.findings.iter().map(|f| (f.severity.as_str(), f.title.as_str())).collect();
    for code in ["AADSTS1002016", "0x8004882C", "0x8018002B", "MS-DIAG 52001"] {
        let f = d.findings.iter().find(|f| f.codes.contains(&code.parse().unwrap()));
        let f = f.unwrap_or_else(|| panic!("{code} dropped: {titles:?}"));
        assert!(f.title.ends_with("(not in the knowledge base)"), "{}", f.title);
    }
    // Failures first, then context; within a severity, the order of the lines.
    let order: Vec<String> = d.findings.iter().map(|f| f.codes[0].to_string()).collect();
    assert_eq!(order, ["AADSTS1002016", "0x8004882C", "0x8018002B", "MS-DIAG 52001"], "{titles:?}");
    assert_eq!(d.findings[0].severity.as_str(), "warning");
    assert_eq!(d.findings[3].severity.as_str(), "info");
    // Only context: reported, and the verdict stays healthy.
    let d = run(&rules, vec![line(&["0x8018002B"], 1)]);
    assert_eq!(d.findings.len(), 1);
    assert_eq!(d.verdict, Verdict::Healthy);
}

#[test]
fn verdicts_healthy_and_inconclusive() {
    let rules = RuleSet::builtin();
    let healthy = run(
        &rules,
        vec![ev(
            "heartbeat",
            &[],
            &[
                ("network_status", "Healthy".into()),
                ("exchange_status", "Connected".into()),
                ("teams_signin_status", "Healthy".into()),
                ("signin_status", "NotApplicable".into()),
            ],
            "2025-07-15T08:30:11Z",
        )],
    );
    assert_eq!(healthy.verdict, Verdict::Healthy, "{:?}", healthy.findings.iter().map(|f| &f.rule).collect::<Vec<_>>());
    let empty = run(&rules, vec![]);
    assert_eq!(empty.verdict, Verdict::Inconclusive);
    assert!(!empty.notes.is_empty());
    let unjudged = run(&rules, vec![ev("event", &[], &[("event_id", 7036.into())], "2025-07-15T08:30:11Z")]);
    assert_eq!(unjudged.verdict, Verdict::Healthy);
    assert!(unjudged.notes.iter().any(|n| n.contains("none matched a rule")), "{:?}", unjudged.notes);
}

#[test]
fn timeline_shows_the_turn_and_what_changed() {
    let rules = RuleSet::builtin();
    let hb = |t: &str, status: &str, version: &str| {
        ev(
            "heartbeat",
            &[],
            &[
                ("computer", "MTR-03".into()),
                ("teams_signin_status", status.into()),
                ("app_version", version.into()),
                ("network_status", "Healthy".into()),
            ],
            t,
        )
    };
    let d = run(
        &rules,
        vec![
            hb("2025-07-15T08:00:00Z", "Healthy", "5.1.111.0"),
            hb("2025-07-15T08:05:00Z", "Healthy", "5.1.111.0"),
            hb("2025-07-15T08:10:00Z", "Unhealthy", "5.2.115.0"),
        ],
    );
    let t = &d.timeline[0];
    assert_eq!(t.room, "MTR-03");
    let turn = &t.turned_unhealthy[0];
    assert_eq!(turn.signal, "Teams sign-in");
    assert_eq!(time::rfc3339(turn.time), "2025-07-15T08:10:00Z");
    assert_eq!(turn.changed[0].what, "app version");
    assert_eq!((turn.changed[0].from.as_str(), turn.changed[0].to.as_str()), ("5.1.111.0", "5.2.115.0"));
}

#[test]
fn identical_heartbeats_are_held_as_runs_and_spans_stay_exact() {
    let rules = RuleSet::builtin();
    let hb = |minute: i64, status: &str| {
        let t = time::rfc3339(time::parse("2025-07-15T08:00:00Z").unwrap() + jiff::SignedDuration::from_mins(minute));
        ev(
            "heartbeat",
            &[],
            &[
                ("computer", "MTR-07".into()),
                ("teams_signin_status", status.into()),
                ("network_status", "Healthy".into()),
            ],
            &t,
        )
    };
    let mut c = rules.collector();
    // A day of healthy heartbeats every five minutes, one unhealthy, then healthy again.
    for k in 0..288 {
        c.record(hb(k * 5, if k == 200 { "Unhealthy" } else { "Healthy" }));
    }
    // One from another file, earlier than the runs already held: kept as its own point.
    c.record(hb(2, "Healthy"));
    assert!(c.timeline_points() <= 4, "{} points held", c.timeline_points());
    let d = diagnose(c);
    let spans = &d.timeline[0].signals["Teams sign-in"];
    let shown: Vec<(String, String, &str)> =
        spans.iter().map(|s| (time::rfc3339(s.from), time::rfc3339(s.to), s.state.as_str())).collect();
    assert_eq!(
        shown,
        vec![
            ("2025-07-15T08:00:00Z".into(), "2025-07-16T00:35:00Z".into(), "healthy"),
            ("2025-07-16T00:40:00Z".into(), "2025-07-16T00:40:00Z".into(), "unhealthy"),
            ("2025-07-16T00:45:00Z".into(), "2025-07-16T07:55:00Z".into(), "healthy"),
        ]
    );
    assert_eq!(time::rfc3339(d.timeline[0].turned_unhealthy[0].time), "2025-07-16T00:40:00Z");
}

#[test]
fn scoping_counts_users_and_computers_across_folders() {
    let rules = RuleSet::builtin();
    let lync = |path: &str, user: &str, computer: &str| {
        let mut e = ev(
            "lync-message",
            &["LYNC server-not-responding"],
            &[("user", user.into()), ("computer", computer.into())],
            "2025-07-15T08:30:11Z",
        );
        e.path = path.into();
        e
    };
    let mut portal = ev(
        "sign-in",
        &[],
        &[("user", "joe@contoso.com".into()), ("status", "Success".into()), ("device", "PC-0117".into())],
        "2025-07-15T08:31:00Z",
    );
    portal.path = "exports/InteractiveSignIns.csv".into();
    let d = run(
        &rules,
        vec![
            lync("pcs/PC-0117/Lync-UccApi-0.UccApilog", "joe@contoso.com", "PC-0117"),
            lync("pcs/PC-0342/Lync-UccApi-0.UccApilog", "ann@contoso.com", "PC-0342"),
            lync("pcs/PC-0342/Lync-UccApi-0.UccApilog", "ann@contoso.com", "PC-0342"),
            portal.clone(),
        ],
    );
    let f = d.findings.iter().find(|f| f.rule == "lync.scope.many-computers-portal-works").expect("scoping finding");
    assert!(f.title.contains("on 2 computers"), "{}", f.title);
    assert!(f.cause.contains("PC-0117, PC-0342") && f.cause.contains("2 user(s)"), "{}", f.cause);
    assert!(d.findings.iter().all(|f| f.rule != "lync.scope.one-computer"));
    // One computer only: the client, whatever the number of users.
    let d = run(
        &rules,
        vec![
            lync("pcs/PC-0117/a.UccApilog", "joe@contoso.com", "PC-0117"),
            lync("pcs/PC-0117/b.UccApilog", "ann@contoso.com", "PC-0117"),
            portal,
        ],
    );
    assert!(d.findings.iter().any(|f| f.rule == "lync.scope.one-computer"));
    assert!(d.findings.iter().all(|f| f.rule != "lync.scope.many-computers-portal-works"));
}

#[test]
fn a_rule_holds_a_bounded_number_of_groups_and_notes_the_rest() {
    let rules = RuleSet::builtin();
    let message = |user: String| {
        ev("lync-message", &["LYNC server-temporarily-unavailable"], &[("user", user.into())], "2025-07-15T08:30:11Z")
    };
    let kept = uctriage_rules::engine::GROUPS_KEPT;
    // Two inputs, merged as a scan merges them: the bound holds across the merge too.
    let mut a = rules.collector();
    let mut b = rules.collector();
    for i in 0..kept {
        a.record(message(format!("user{i}@contoso.com")));
    }
    for i in 0..kept / 2 {
        b.record(message(format!("user{i}@contoso.com")));
        b.record(message(format!("other{i}@contoso.com")));
    }
    a.merge(b);
    let d = diagnose(a);
    let per_user = d.findings.iter().filter(|f| f.rule == "lync.sign-in.server-temporarily-unavailable").count();
    assert_eq!(per_user, kept);
    let note = d.notes.iter().find(|n| n.contains("lync.sign-in.server-temporarily-unavailable")).expect("a note");
    assert!(note.contains(&format!("{} further matches", kept / 2)), "{note}");
}

#[test]
fn bad_rule_files_are_rejected_with_file_and_rule() {
    let bad = r#"
[[rule]]
id = "Bad Id"
severity = "error"
family = "x"
layer = "policy"
title = ""
cause = "c"
fix = []
references = ["http://insecure"]
absorbs = ["nope"]
[[rule.when]]
fields = { x = "(" }
"#;
    let errors = RuleSet::load(&[("extra/bad.toml".into(), bad.into())]).unwrap_err();
    let all: Vec<String> = errors.iter().map(ToString::to_string).collect();
    let all = all.join("\n");
    for want in [
        "extra/bad.toml",
        "dotted kebab-case",
        "title is empty",
        "fix needs",
        "https",
        "absorbs unknown rule nope",
        "bad regular expression",
        "sample",
    ] {
        assert!(all.contains(want), "missing {want:?} in:\n{all}");
    }
    let override_rule = r#"
[[rule]]
id = "rooms.hardware.error"
severity = "info"
family = "rooms-device"
layer = "device"
title = "quiet hardware"
cause = "c"
fix = ["f"]
references = ["https://example.invalid/x"]
[[rule.when]]
kind = ["hardware"]
[[rule.sample]]
[[rule.sample.evidence]]
kind = "hardware"
"#;
    let set = RuleSet::load(&[("mine.toml".into(), override_rule.into())]).unwrap();
    assert_eq!(set.get("rooms.hardware.error").unwrap().raw.title, "quiet hardware");
}

/// `minute` minutes after 08:00 on the test day, in RFC 3339.
fn at_minute(minute: i64) -> String {
    time::rfc3339(time::parse("2025-07-15T08:00:00Z").unwrap() + jiff::SignedDuration::from_mins(minute))
}

#[test]
fn repeated_heartbeats_fold_into_one_row_with_decoded_signals() {
    let rules = RuleSet::builtin();
    let records: Vec<Evidence> = (0..30)
        .map(|m| {
            let mut e = mfa_heartbeat(&at_minute(m * 5));
            e.location = format!("record {}", m + 1);
            e.excerpt =
                format!(r#"{{"Description":"Network status : Healthy. …","IPv4Address":"192.0.2.53","n":{m}}}"#);
            e
        })
        .collect();
    let d = run(&rules, records);
    let f = &d.findings[0];
    assert_eq!(f.rule, "rooms.resource-account.mfa-required", "{:#?}", d.findings);
    let rows: Vec<_> = f.evidence.iter().filter(|e| e.kind == "heartbeat").collect();
    assert_eq!(rows.len(), 1, "{rows:#?}");
    let row = rows[0];
    assert_eq!(row.count, 30);
    assert_eq!(row.location, "record 1");
    assert_eq!(row.time.map(time::rfc3339).as_deref(), Some("2025-07-15T08:00:00Z"));
    assert_eq!(row.last_time.map(time::rfc3339).as_deref(), Some("2025-07-15T10:25:00Z"));
    assert_eq!(
        row.excerpt,
        "Network: Healthy · Exchange: 80131500 : AADSTS50076 · Teams: Unhealthy · SfB: NotApplicable"
    );
    // The contract's JSON carries the count and reads back equal.
    let json = serde_json::to_value(f).unwrap();
    assert_eq!(json["evidence"][0]["count"], 30);
    let back: uctriage_rules::Finding = serde_json::from_value(json).unwrap();
    assert_eq!(&back, f);
}

#[test]
fn a_finding_keeps_25_distinct_rows_and_counts_the_rest() {
    let set = local_rule("local.fault.any", "fault");
    let words = ["alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel"];
    let mut records = Vec::new();
    for (i, a) in words.iter().enumerate() {
        for b in &words[..5] {
            let mut e = ev("fault", &[], &[], &at_minute(i as i64));
            e.excerpt = format!("fault {a} {b}");
            records.push(e);
        }
    }
    // A repeat of the first row, read after the rows are full, still folds into it.
    let mut again = ev("fault", &[], &[], &at_minute(99));
    again.excerpt = "fault alpha alpha".into();
    records.push(again);
    let d = run(&set, records);
    let f = d.findings.iter().find(|f| f.rule == "local.fault.any").unwrap();
    assert_eq!(f.count, 41);
    assert_eq!(f.evidence.len(), uctriage_rules::EVIDENCE_KEPT);
    assert_eq!(f.evidence[0].count, 2);
    let held: u64 = f.evidence.iter().map(|e| e.count).sum();
    assert_eq!(held + f.evidence_omitted, f.count);
    assert_eq!(f.evidence_omitted, 15);
}

#[test]
fn an_options_gap_is_shown_by_its_two_edges() {
    let rules = RuleSet::builtin();
    let options = |m: i64| {
        let mut e =
            ev("sip", &[], &[("method", "OPTIONS".into()), ("sbc_fqdn", "sbc1.contoso.com".into())], &at_minute(m));
        e.location = format!("line {}", m + 1);
        e.excerpt =
            format!("OPTIONS sip:sip.pstnhub.microsoft.com:5061 SIP/2.0 | Call-ID: opt{:010}@192.0.2.11", 1000 + m);
        e
    };
    // The log starts over after the gap (rotated and concatenated): no gap across the jump back.
    let records: Vec<Evidence> = (0..=20).chain(61..=70).chain(0..=5).map(options).collect();
    let d = run(&rules, records);
    let f = d.findings.iter().find(|f| f.rule == "dr.options.gap").expect("the gap is found");
    let (before, after) = (&f.evidence[0], &f.evidence[1]);
    assert_eq!(before.location, "line 21", "{f:#?}");
    assert_eq!(after.location, "line 62");
    assert!(before.note.contains("last OPTIONS before") && before.note.contains("41 min"), "{before:?}");
    assert!(after.note.contains("first OPTIONS after"), "{after:?}");
    // The rest fold into one row: the keep-alives differ only in their Call-ID.
    assert_eq!(f.evidence.len(), 3, "{f:#?}");
    assert_eq!(f.evidence[2].count, 37);
}
