//! Calm on healthy inputs: a trunk whose OPTIONS the Teams SIP proxies answer is healthy and says
//! what was checked; findings the inputs do not support are folded or left out; rooms of two
//! bundles that share a device name stay two rooms.

use serde_json::json;
use uctriage_evidence::{Evidence, Sink};
use uctriage_rules::{diagnose, Diagnosis, RuleSet, SipProxies, Verdict};

fn record(path: &str, kind: &str, codes: &[&str], fields: serde_json::Value, at: &str) -> Evidence {
    let serde_json::Value::Object(m) = fields else { panic!("fields are an object") };
    let fields: Vec<(String, serde_json::Value)> = m.into_iter().collect();
    crate::evidence_at(path, kind, codes, &fields, at)
}

fn run(records: Vec<Evidence>) -> Diagnosis {
    let rules = RuleSet::builtin();
    let mut c = rules.collector();
    for r in records {
        c.record(r);
    }
    diagnose(c)
}

/// `n` OPTIONS from an SBC to `proxy`, each answered with `status`.
fn options_exchange(n: usize, proxy: &str, status: u16, phrase: &str) -> Vec<Evidence> {
    let mut out = Vec::new();
    for i in 0..n {
        let at = format!("2026-03-03T08:{:02}:00Z", 10 + i);
        out.push(record(
            "sbc/syslog.log",
            "sip",
            &[],
            json!({"method": "OPTIONS", "cseq_method": "OPTIONS", "request_uri": format!("sip:{proxy}:5061;transport=tls"),
                   "to": format!("<sip:{proxy}:5061>"), "from": "<sip:sbc7.fabrikam.example:5061>;tag=a",
                   "sbc_fqdn": "sbc7.fabrikam.example", "direction": "outgoing"}),
            &at,
        ));
        let codes: Vec<String> = if status >= 400 { vec![format!("SIP {status}")] } else { Vec::new() };
        let codes: Vec<&str> = codes.iter().map(String::as_str).collect();
        out.push(record(
            "sbc/syslog.log",
            "sip",
            &codes,
            json!({"status": status, "reason_phrase": phrase, "cseq_method": "OPTIONS",
                   "to": format!("<sip:{proxy}:5061>;tag=ms"), "from": "<sip:sbc7.fabrikam.example:5061>;tag=a",
                   "sbc_fqdn": "sbc7.fabrikam.example", "direction": "incoming"}),
            &at,
        ));
    }
    out
}

#[test]
fn the_proxy_list_matches_its_samples_and_no_counter_sample() {
    let list = SipProxies::builtin();
    assert!(!list.samples.is_empty() && !list.counter_samples.is_empty());
    for h in &list.samples {
        assert!(list.is_proxy(h), "{h} should be a Teams SIP proxy");
    }
    for h in &list.counter_samples {
        assert!(!list.is_proxy(h), "{h} is not a Teams SIP proxy");
    }
}

#[test]
fn options_answered_200_by_the_teams_proxies_are_a_healthy_trunk_and_say_so() {
    for proxy in ["sip.pstnhub.microsoft.com", "sip2.pstnhub.microsoft.com", "sip-all.pstnhub.microsoft.com"] {
        let d = run(options_exchange(12, proxy, 200, "OK"));
        assert_eq!(d.verdict, Verdict::Healthy, "{proxy}: {:?}", d.findings);
        let line = format!(
            "12 SIP OPTIONS from sbc7.fabrikam.example to the Teams SIP proxies, all answered 200 OK by {proxy}"
        );
        assert!(d.checked.contains(&line), "{:?}", d.checked);
        assert!(d.checked[0].contains("24 records (24 sip) matched against"), "{:?}", d.checked);
    }
}

#[test]
fn options_to_a_host_that_is_not_a_teams_proxy_are_not_counted() {
    let d = run(options_exchange(3, "sbc9.contoso.com", 200, "OK"));
    assert_eq!(d.verdict, Verdict::Healthy);
    assert!(!d.checked.iter().any(|c| c.contains("OPTIONS")), "{:?}", d.checked);
}

#[test]
fn a_verdict_with_problems_lists_nothing_as_checked() {
    let d = run(options_exchange(3, "sip.pstnhub.microsoft.com", 403, "Forbidden"));
    assert_eq!(d.verdict, Verdict::Problems);
    assert!(d.checked.is_empty());
}

#[test]
fn every_healthy_verdict_says_what_it_rests_on() {
    let hb = record(
        "rooms/a.zip!Windows/EventLog/Skype.evtx",
        "heartbeat",
        &[],
        json!({"computer": "MTR-07", "network_status": "Healthy", "exchange_status": "Healthy", "teams_signin_status": "Healthy", "signin_status": "NotApplicable", "display_name": "Room 7"}),
        "2026-03-03T08:00:00Z",
    );
    let d = run(vec![hb]);
    assert_eq!(d.verdict, Verdict::Healthy);
    assert_eq!(d.checked.len(), 1, "{:?}", d.checked);
    assert!(d.checked[0].starts_with("1 record (1 heartbeat) matched against"), "{:?}", d.checked);
}

#[test]
fn an_expired_password_gives_no_federation_finding_of_its_own() {
    let lines = [
        (&["0xCAA20003", "AADSTS50055", "OAUTH invalid_grant"][..], "2026-03-03T08:00:00Z"),
        (&["AADSTS50055"][..], "2026-03-03T08:05:00Z"),
        (&["0xCAA20003", "OAUTH invalid_grant"][..], "2026-03-03T08:06:00Z"),
    ];
    let records = lines.iter().map(|(codes, at)| record("pc/teams.log", "log-line", codes, json!({}), at)).collect();
    let d = run(records);
    assert_eq!(d.findings[0].rule, "signin.user.password-expired", "{:?}", d.findings);
    assert!(
        !d.findings.iter().any(|f| f.layer == "federation"),
        "{:?}",
        d.findings.iter().map(|f| &f.rule).collect::<Vec<_>>()
    );
    assert!(d.findings[0].consequences.contains(&"desktop.federation.grant-rejected".to_owned()));
}

#[test]
fn a_proxy_case_gives_no_display_name_warning() {
    let hb = |at: &str| {
        record(
            "room/MTR.zip!Windows/EventLog/Skype.evtx",
            "heartbeat",
            &[],
            json!({"event_id": 2001, "computer": "MTR-03", "resource_state": "Unhealthy", "display_name": "",
                   "network_status": "Healthy", "teams_signin_status": "Unhealthy", "exchange_status": "Unhealthy"}),
            at,
        )
    };
    let proxy = record("room/MTR.zip!Logs/teams.log", "teams-log", &["HTTP 407"], json!({}), "2026-03-03T08:01:00Z");
    let d = run(vec![hb("2026-03-03T08:00:00Z"), proxy, hb("2026-03-03T08:05:00Z")]);
    assert_eq!(d.findings[0].rule, "rooms.network.proxy-authentication", "{:?}", d.findings);
    assert!(!d.findings.iter().any(|f| f.rule == "rooms.heartbeat.display-name-missing"));
    assert!(d.findings[0].consequences.contains(&"rooms.heartbeat.display-name-missing".to_owned()));
}

#[test]
fn titles_name_the_sbc_or_leave_the_name_out() {
    let with = record(
        "dr/pstn.csv",
        "call-record",
        &["SIP 403", "MSRC 560403"],
        json!({"sbc_fqdn": "sbc4.fabrikam.example", "call_end_sub_reason": 560_403, "final_sip_code": 403}),
        "2026-03-03T08:00:00Z",
    );
    let without = record(
        "dr2/pstn.csv",
        "call-record",
        &["SIP 403", "MSRC 560403"],
        json!({"call_end_sub_reason": 560_403, "final_sip_code": 403}),
        "2026-03-03T08:00:00Z",
    );
    let d = run(vec![with]);
    assert_eq!(d.findings[0].title, "The SBC sbc4.fabrikam.example refused calls from Teams with 403 Forbidden");
    let d = run(vec![without]);
    assert_eq!(d.findings[0].title, "The SBC refused calls from Teams with 403 Forbidden");
    // No built-in title reads "(unknown)" when the field it names is missing.
    let rules = RuleSet::builtin();
    for r in &rules.rules {
        assert!(!r.raw.title.contains("{sbc_fqdn}"), "{}: write {{sbc_fqdn?}} in titles", r.raw.id);
    }
}

#[test]
fn two_bundles_whose_rooms_share_a_device_name_stay_two_rooms() {
    let hb = |bundle: &str, at: &str, app: &str, teams: &str| {
        record(
            &format!("{bundle}!Windows/EventLog/Skype.evtx"),
            "heartbeat",
            &[],
            json!({"event_id": 2001, "computer": "MTR-LOBBY", "display_name": "Lobby", "app_version": app,
                   "network_status": "Healthy", "exchange_status": "Healthy", "signin_status": "NotApplicable",
                   "teams_signin_status": teams, "resource_state": if teams == "Healthy" { "Healthy" } else { "Unhealthy" }}),
            at,
        )
    };
    // Two rooms on different app versions, both healthy: merged, they would seem to flip between
    // versions; the second room's sign-in turns unhealthy on its own.
    let records = vec![
        hb("site-a/MTR.zip", "2026-03-03T08:00:00Z", "5.0.111.0", "Healthy"),
        hb("site-b/MTR.zip", "2026-03-03T08:01:00Z", "4.19.57.0", "Healthy"),
        hb("site-a/MTR.zip", "2026-03-03T08:05:00Z", "5.0.111.0", "Healthy"),
        hb("site-b/MTR.zip", "2026-03-03T08:06:00Z", "4.19.57.0", "Unhealthy"),
    ];
    let d = run(records);
    assert_eq!(d.timeline.len(), 2, "{:?}", d.timeline.iter().map(|t| &t.room).collect::<Vec<_>>());
    let rooms: Vec<&str> = d.timeline.iter().map(|t| t.room.as_str()).collect();
    assert_eq!(rooms, ["MTR-LOBBY (site-a/MTR.zip)", "MTR-LOBBY (site-b/MTR.zip)"]);
    assert!(d.timeline.iter().all(|t| t.changes.is_empty()), "no app version change: {:?}", d.timeline);
    assert!(d.timeline[0].turned_unhealthy.is_empty());
    assert_eq!(d.timeline[1].turned_unhealthy.len(), 1);
    // A room-grouped finding stays with its bundle.
    let teams: Vec<_> = d.findings.iter().filter(|f| f.rule == "rooms.heartbeat.teams-signin-unhealthy").collect();
    assert_eq!(teams.len(), 1, "{:?}", d.findings.iter().map(|f| (&f.rule, &f.evidence)).collect::<Vec<_>>());
    assert!(teams[0].evidence.iter().all(|e| e.path.starts_with("site-b/")));
    assert_eq!(teams[0].group, "MTR-LOBBY (site-b/MTR.zip)");
}

#[test]
fn one_bundle_keeps_its_room_name_plain() {
    let hb = record(
        "site-a/MTR.zip!Windows/EventLog/Skype.evtx",
        "heartbeat",
        &[],
        json!({"computer": "MTR-LOBBY", "teams_signin_status": "Healthy"}),
        "2026-03-03T08:00:00Z",
    );
    let d = run(vec![hb]);
    assert_eq!(d.timeline[0].room, "MTR-LOBBY");
}

#[test]
fn options_the_proxies_send_are_answered_by_the_sbc() {
    let mut records = Vec::new();
    for i in 0..4 {
        let at = format!("2026-03-03T08:{:02}:30Z", 10 + i);
        records.push(record(
            "sbc/syslog.log",
            "sip",
            &[],
            json!({"method": "OPTIONS", "cseq_method": "OPTIONS", "request_uri": "sip:sbc7.fabrikam.example:5061",
                   "to": "<sip:sbc7.fabrikam.example:5061>", "from": "<sip:sip-du-a-eu.pstnhub.microsoft.com:5061>;tag=x",
                   "sbc_fqdn": "sbc7.fabrikam.example"}),
            &at,
        ));
        records.push(record(
            "sbc/syslog.log",
            "sip",
            &[],
            json!({"status": 200, "reason_phrase": "OK", "cseq_method": "OPTIONS",
                   "to": "<sip:sbc7.fabrikam.example:5061>;tag=s", "from": "<sip:sip-du-a-eu.pstnhub.microsoft.com:5061>;tag=x",
                   "sbc_fqdn": "sbc7.fabrikam.example"}),
            &at,
        ));
    }
    records.extend(options_exchange(2, "sip.pstnhub.microsoft.com", 200, "OK"));
    let d = run(records);
    assert_eq!(d.verdict, Verdict::Healthy);
    assert_eq!(
        d.checked[1..],
        [
            "2 SIP OPTIONS from sbc7.fabrikam.example to the Teams SIP proxies, all answered 200 OK by sip.pstnhub.microsoft.com",
            "4 SIP OPTIONS from the Teams SIP proxies (sip-du-a-eu.pstnhub.microsoft.com) to sbc7.fabrikam.example, all answered 200 OK",
        ],
        "{:?}",
        d.checked
    );
}

#[test]
fn options_left_unanswered_are_counted_as_such() {
    let mut records = options_exchange(3, "sip2.pstnhub.microsoft.com", 200, "OK");
    records.truncate(5);
    let d = run(records);
    assert_eq!(d.verdict, Verdict::Healthy);
    assert_eq!(
        d.checked[1],
        "3 SIP OPTIONS from sbc7.fabrikam.example to the Teams SIP proxies: 2 answered 200 OK by sip2.pstnhub.microsoft.com; 1 without an answer in the inputs"
    );
}
