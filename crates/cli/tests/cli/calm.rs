//! Calm on healthy inputs, end to end: an SBC syslog of OPTIONS answered 200 OK by the Teams SIP
//! proxies is a healthy trunk that says what was seen; two bundles whose rooms share a device
//! name stay two rooms. The inputs are generated here.

use std::fmt::Write as _;

use crate::{run, run_json};
use uctriage_fixtures::scenarios;

/// An AudioCodes-style syslog: `n` OPTIONS from the SBC to `proxy`, each answered 200 OK.
fn options_syslog(n: usize, proxy: &str) -> String {
    let mut out = String::new();
    for i in 0..n {
        let t = format!("09:{:02}:00", 20 + i);
        let branch = format!("z9hG4bKping{i}");
        let request = format!(
            "OPTIONS sip:{proxy}:5061;transport=tls SIP/2.0#015#012Via: SIP/2.0/TLS sbc-edge.northwind.example:5061;branch={branch}#015#012From: <sip:sbc-edge.northwind.example:5061>;tag=p{i}#015#012To: <sip:{proxy}:5061>#015#012Call-ID: ping-{i}@sbc-edge#015#012CSeq: {} OPTIONS#015#012Contact: <sip:sbc-edge.northwind.example:5061;transport=tls>#015#012Max-Forwards: 70#015#012Content-Length: 0#015#012#015#012",
            i + 1
        );
        let answer = format!(
            "SIP/2.0 200 OK#015#012Via: SIP/2.0/TLS sbc-edge.northwind.example:5061;branch={branch}#015#012From: <sip:sbc-edge.northwind.example:5061>;tag=p{i}#015#012To: <sip:{proxy}:5061>;tag=m{i}#015#012Call-ID: ping-{i}@sbc-edge#015#012CSeq: {} OPTIONS#015#012Server: Microsoft.PSTNHub.SIPProxy#015#012Content-Length: 0#015#012#015#012",
            i + 1
        );
        let _ = writeln!(
            out,
            "Apr  9 {t} 203.0.113.40 local0.notice [S={}] [SID=bb:2:{i}] ( sip_stack)( 7) ---- Outgoing SIP Message to 52.114.14.70:5061 from SIPInterface #0 (Teams) TLS TO(#1) SOCKET(#1) ---- #012{request} [Time:09-04@{t}.010]",
            500 + 2 * i
        );
        let _ = writeln!(
            out,
            "Apr  9 {t} 203.0.113.40 local0.notice [S={}] [SID=bb:2:{i}] ( sip_stack)( 7) ---- Incoming SIP Message from 52.114.14.70:5061 to SIPInterface #0 (Teams) TLS TO(#1) SOCKET(#1) ---- #012{answer} [Time:09-04@{t}.090]",
            501 + 2 * i
        );
    }
    out
}

#[test]
fn an_sbc_syslog_of_answered_options_is_a_healthy_trunk_that_says_what_was_seen() {
    let dir = tempfile::tempdir().unwrap();
    for proxy in ["sip.pstnhub.microsoft.com", "sip3.pstnhub.microsoft.com"] {
        let path = dir.path().join(format!("{proxy}.log"));
        std::fs::write(&path, options_syslog(12, proxy)).unwrap();
        let p = path.to_str().unwrap();
        let (code, v) = run_json(&["scan", "--format", "json", p]);
        assert_eq!(code, 0, "{v}");
        assert_eq!(v["verdict"], "healthy");
        assert!(v["findings"].as_array().unwrap().is_empty(), "{v}");
        let line = format!(
            "12 SIP OPTIONS from sbc-edge.northwind.example to the Teams SIP proxies, all answered 200 OK by {proxy}"
        );
        let checked: Vec<&str> = v["checked"].as_array().unwrap().iter().filter_map(|c| c.as_str()).collect();
        assert!(checked.contains(&line.as_str()), "{checked:?}");
        let (code, text, _) = run(&["scan", p]);
        assert_eq!(code, 0);
        assert!(text.contains("Checked:") && text.contains(&line), "{text}");
        let (_, md, _) = run(&["scan", "--format", "markdown", p]);
        assert!(md.contains("## Checked") && md.contains(&line), "{md}");
        let (_, html, _) = run(&["scan", "--format", "html", p]);
        assert!(html.contains("<h2>Checked</h2>") && html.contains(&line), "{html}");
    }
}

#[test]
fn a_report_with_problems_has_no_checked_list() {
    let dir = tempfile::tempdir().unwrap();
    let mfa = scenarios().into_iter().find(|s| s.name == "rooms-mfa").unwrap();
    let path = dir.path().join("mfa.zip");
    std::fs::write(&path, mfa.build().to_zip_bytes().unwrap()).unwrap();
    let (code, v) = run_json(&["scan", "--format", "json", path.to_str().unwrap()]);
    assert_eq!(code, 1);
    assert!(v.get("checked").is_none(), "{v}");
}

#[test]
fn two_bundles_whose_rooms_share_a_device_name_stay_two_rooms() {
    let dir = tempfile::tempdir().unwrap();
    let all = scenarios();
    let mut paths = Vec::new();
    for (site, name) in [("site-a", "rooms-healthy"), ("site-b", "rooms-signin-after-update")] {
        let s = all.iter().find(|s| s.name == name).unwrap();
        std::fs::create_dir_all(dir.path().join(site)).unwrap();
        let path = dir.path().join(site).join("MTR-Logs.zip");
        std::fs::write(&path, s.build().to_zip_bytes().unwrap()).unwrap();
        paths.push(path.to_str().unwrap().to_owned());
    }
    let (code, v) = run_json(&["scan", "--format", "json", &paths[0], &paths[1]]);
    assert_eq!(code, 1, "{v}");
    let rooms: Vec<&str> = v["timeline"].as_array().unwrap().iter().filter_map(|t| t["room"].as_str()).collect();
    assert_eq!(rooms.len(), 2, "{rooms:?}");
    assert!(rooms[0].ends_with(&format!("({})", paths[0])), "{rooms:?}");
    assert!(rooms[1].ends_with(&format!("({})", paths[1])), "{rooms:?}");
    // The update and the turn belong to the second room only.
    let first = &v["timeline"][0];
    assert!(first["turned_unhealthy"].as_array().unwrap().is_empty(), "{first}");
    assert!(first["changes"].as_array().unwrap().is_empty(), "{first}");
    let second = &v["timeline"][1];
    assert!(!second["turned_unhealthy"].as_array().unwrap().is_empty(), "{second}");
    // The room's heartbeat finding is folded under the update, as in a scan of its bundle alone.
    let findings = v["findings"].as_array().unwrap();
    assert_eq!(findings.len(), 1, "{findings:?}");
    assert_eq!(findings[0]["rule"], "rooms.timeline.unhealthy-after-update");
    assert_eq!(findings[0]["group"].as_str().unwrap(), rooms[1]);
    assert!(findings[0]["consequences"]
        .as_array()
        .unwrap()
        .iter()
        .any(|c| c == "rooms.heartbeat.teams-signin-unhealthy"));
    for f in findings {
        for e in f["evidence"].as_array().unwrap() {
            let path = e["path"].as_str().unwrap();
            assert!(!path.starts_with(&paths[0]), "a finding of the healthy room's bundle: {f}");
        }
    }
}

#[test]
fn an_sbc_log_of_options_told_one_line_each_is_a_healthy_trunk_that_says_what_was_seen() {
    let dir = tempfile::tempdir().unwrap();
    let mut log = String::new();
    for i in 0..12 {
        let proxy = ["sip.pstnhub.microsoft.com", "sip2.pstnhub.microsoft.com"][i % 2];
        let _ = writeln!(log, "2025-07-15 09:{:02}:00.120 [SIP] Sending OPTIONS to {proxy}:5061", 20 + i);
        let _ = writeln!(log, "2025-07-15 09:{:02}:00.201 [SIP] Received SIP/2.0 200 OK from {proxy}:5061", 20 + i);
    }
    let path = dir.path().join("sbc.log");
    std::fs::write(&path, &log).unwrap();
    let (code, v) = run_json(&["scan", "--format", "json", path.to_str().unwrap()]);
    assert_eq!(code, 0, "{v}");
    assert_eq!(v["verdict"], "healthy");
    assert!(
        v["warnings"].as_array().is_none_or(Vec::is_empty) && v["inputs"][0]["warnings"] == serde_json::json!([]),
        "{v}"
    );
    let line = "12 SIP OPTIONS from the SBC to the Teams SIP proxies, all answered 200 OK by \
                sip.pstnhub.microsoft.com, sip2.pstnhub.microsoft.com";
    let checked: Vec<&str> = v["checked"].as_array().unwrap().iter().filter_map(|c| c.as_str()).collect();
    assert!(checked.contains(&line), "{checked:?}");
    // A proxy that answers 503 is a problem, not a healthy trunk.
    let failing = log.replacen("SIP/2.0 200 OK", "SIP/2.0 503 Service Unavailable", 3);
    std::fs::write(&path, failing).unwrap();
    let (code, v) = run_json(&["scan", "--format", "json", path.to_str().unwrap()]);
    assert_eq!(code, 1, "{v}");
    assert_eq!(v["findings"][0]["rule"], "dr.options.rejected", "{v}");
}
