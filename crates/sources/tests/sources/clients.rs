//! Client-side readers: Teams logs (classic, new, Teams Rooms), `dsregcmd /status` and Entra
//! sign-in log downloads.

use std::fmt::Write as _;

use uctriage_evidence::time::rfc3339;
use uctriage_sources::{read_bytes, Evidence, InputReport};

use crate::{fixture, jsonl, read_paths};

fn read_fixture(rel: &str) -> (Vec<InputReport>, Vec<Evidence>) {
    read_paths(&[fixture(rel)])
}

fn text_of(rel: &str) -> String {
    std::fs::read_to_string(fixture(rel)).unwrap()
}

fn codes(records: &[Evidence]) -> Vec<String> {
    records.iter().flat_map(|e| e.codes.iter().map(ToString::to_string)).collect()
}

fn codes_of(e: &Evidence) -> Vec<String> {
    e.codes.iter().map(ToString::to_string).collect()
}

fn time_of(e: &Evidence) -> Option<String> {
    e.time.map(rfc3339)
}

fn utf16le_bom(text: &str) -> Vec<u8> {
    let mut v = vec![0xFF, 0xFE];
    v.extend(text.encode_utf16().flat_map(u16::to_le_bytes));
    v
}

fn crlf(text: &str) -> String {
    text.replace('\n', "\r\n")
}

/// The parts of records that do not depend on where the bytes came from.
fn essence(records: &[Evidence]) -> Vec<String> {
    records
        .iter()
        .map(|e| {
            format!(
                "{} {} {:?} {} {} {:?} {}",
                e.location,
                e.kind,
                time_of(e),
                e.source,
                codes_of(e).join(","),
                e.fields,
                e.excerpt
            )
        })
        .collect()
}

// ------------------------------------------------------------------------------- teams-log

#[test]
fn teams_classic_logs_txt() {
    let (reports, records) = read_fixture("teams-log/classic/logs.txt");
    assert_eq!(reports[0].format, "teams-log");
    assert!(reports[0].warnings.is_empty(), "{:?}", reports[0].warnings);
    assert_eq!(
        codes(&records),
        ["0xCAA70004", "AADSTS50076", "OAUTH interaction_required", "TEAMS 4c7", "TEAMS max_reload_exceeded"]
    );
    // The version line, the four lines with codes, and the stale-token warning; the routine
    // info lines, the GPU error and the `1001 ms` timing are left out.
    let locations: Vec<&str> = records.iter().map(|e| e.location.as_str()).collect();
    assert_eq!(locations, ["line 1", "line 4", "lines 5-7", "line 8", "line 10", "line 11"]);
    assert!(records.iter().all(|e| e.source == "teams-classic" && e.kind == "teams-log"));
    assert_eq!(records[0].get_str("app_version"), Some("1.7.00.13456"));
    let transport = &records[1];
    assert_eq!(time_of(transport).as_deref(), Some("2025-07-15T08:30:11Z"));
    assert_eq!(transport.get_str("level"), Some("warning"));
    assert_eq!(transport.get_str("component"), Some("AuthenticationService"));
    assert_eq!(transport.get_str("pid"), Some("21560"));
    // A code on a continuation line is kept with its entry, and the excerpt shows that line.
    assert!(records[2].excerpt.contains("AADSTS50076"), "{}", records[2].excerpt);
    assert_eq!(records[4].get_str("level"), Some("warning"));
    assert!(records[4].codes.is_empty());
    insta::assert_snapshot!(jsonl(&records));
}

#[test]
fn teams_new_client_log() {
    let (reports, records) = read_fixture("teams-log/new/MSTeams_2025-07-15_08-30-00.00.log");
    assert_eq!(reports[0].format, "teams-log");
    assert!(reports[0].warnings.is_empty(), "{:?}", reports[0].warnings);
    assert!(records.iter().all(|e| e.source == "teams-new"));
    assert_eq!(codes(&records), ["0xCAA70004", "AADSTS50055", "0x80070002", "TEAMS max_reload_exceeded", "TEAMS 1001"]);
    let first = &records[0];
    assert_eq!(first.get_str("app_version"), Some("25153.1010.3727.5483"));
    assert_eq!(first.get_str("level"), Some("info"));
    // The same version stated again is not a new record.
    assert_eq!(records.iter().filter(|e| e.excerpt.contains("app version")).count(), 1);
    let broker = records.iter().find(|e| e.location == "lines 4-8").unwrap();
    assert_eq!(codes_of(broker), ["AADSTS50055", "0x80070002"]);
    assert_eq!(broker.get_str("thread"), Some("0x00001234"));
    assert_eq!(broker.get_str("component"), Some("TokenBroker::AcquireTokenSilently"));
    assert_eq!(time_of(broker).as_deref(), Some("2025-07-15T08:30:11Z"));
    assert!(records.iter().any(|e| e.get_str("message") == Some("Login: account picker closed by the user")));
    assert!(!records.iter().any(|e| e.excerpt.contains("WebView")));
    insta::assert_snapshot!(jsonl(&records));
}

#[test]
fn teams_rooms_logs_txt_licence_and_version() {
    let (reports, records) = read_fixture("teams-log/rooms/App/Microsoft/Teams/Logs.txt");
    assert_eq!(reports[0].format, "teams-log");
    assert!(records.iter().all(|e| e.source == "teams-rooms"));
    assert_eq!(records.len(), 3, "{}", jsonl(&records));
    assert_eq!(records[0].get_str("app_version"), Some("5.2.115.0"));
    let licence = &records[1];
    assert_eq!(licence.kind, "teams-license");
    assert_eq!(licence.get_str("error_code"), Some("FailedAuthentication"));
    assert_eq!(licence.get_str("error_step"), Some("get_skype_license"));
    assert_eq!(licence.get_str("error_state"), Some("licenseError"));
    assert_eq!(licence.get_str("app_version"), Some("5.2.115.0"));
    assert_eq!(codes_of(licence), ["TEAMS licenseError"]);
    assert_eq!(time_of(licence).as_deref(), Some("2025-07-15T08:00:07Z"));
    assert_eq!(codes_of(&records[2]), ["TEAMS YoureMissingOut"]);
    insta::assert_snapshot!(jsonl(&records));
}

#[test]
fn teams_rooms_log_in_utf16_with_bom_and_crlf_reads_the_same() {
    let name = "MTR-Logs.zip!App/Microsoft/Teams/Logs.txt";
    let text = text_of("teams-log/rooms/App/Microsoft/Teams/Logs.txt");
    let (_, plain) = read_bytes(name, text.as_bytes(), None);
    for bytes in [utf16le_bom(&text), utf16le_bom(&crlf(&text)), crlf(&text).into_bytes()] {
        let (report, records) = read_bytes(name, &bytes, None);
        assert_eq!(report.format, "teams-log");
        assert!(report.warnings.is_empty(), "{:?}", report.warnings);
        assert_eq!(essence(&records), essence(&plain));
    }
    // UTF-8 with a byte-order mark too.
    let mut bom = b"\xEF\xBB\xBF".to_vec();
    bom.extend_from_slice(text.as_bytes());
    assert_eq!(essence(&read_bytes(name, &bom, None).1), essence(&plain));
}

#[test]
fn teams_log_detection_by_content_and_name() {
    let classic = text_of("teams-log/classic/logs.txt");
    // Content decides, whatever the name.
    assert_eq!(read_bytes("paste.txt", classic.as_bytes(), None).0.format, "teams-log");
    // The licence line alone under the Rooms path is claimed; a bare pasted line is left to
    // the generic reader, which still finds the code.
    let line = "errorCode: FailedAuthentication, errorStep: get_skype_license, errorState: licenseError";
    assert_eq!(read_bytes("App/Microsoft/Teams/Logs.txt", line.as_bytes(), None).0.format, "teams-log");
    // Unrelated text called logs.txt is not a Teams log.
    assert_eq!(read_bytes("logs.txt", b"backup finished 0 errors\n", None).0.format, "generic-text");
}

#[test]
fn teams_log_truncated_long_lines_and_junk() {
    let mut text = text_of("teams-log/classic/logs.txt");
    // Cut in the middle of the last code line.
    let cut = text.find("max_reload_exceeded").unwrap() + 5;
    text.truncate(cut);
    let (report, records) = read_bytes("logs.txt", text.as_bytes(), None);
    assert_eq!(report.format, "teams-log");
    assert!(codes(&records).contains(&"TEAMS 4c7".to_owned()));
    assert!(!codes(&records).contains(&"TEAMS max_reload_exceeded".to_owned()));

    // A line over 1 MiB is cut with a warning, and the lines after it are still read.
    let mut big = text_of("teams-log/classic/logs.txt");
    big.insert_str(0, &format!("{}\n", "x".repeat(1_100_000)));
    let (report, records) = read_bytes("logs.txt", big.as_bytes(), Some("teams-log"));
    assert!(
        report.warnings.iter().any(|w| w.place == "line 1" && w.message.contains("1 MiB")),
        "{:?}",
        report.warnings
    );
    assert!(codes(&records).contains(&"TEAMS max_reload_exceeded".to_owned()));

    // A huge entry (endless continuation lines) is split, not buffered whole.
    let mut long = String::from("2025-07-15T08:30:11.000000+00:00 0x1 <ERR> Auth: dump follows\n");
    for i in 0..5000 {
        let _ = writeln!(long, "  data line {i} padding padding padding padding");
    }
    long.push_str("  final AADSTS50126\n");
    let (_, records) = read_bytes("MSTeams_x.log", long.as_bytes(), None);
    let last = records.last().unwrap();
    assert_eq!(codes_of(last), ["AADSTS50126"]);
    assert_eq!(time_of(last).as_deref(), Some("2025-07-15T08:30:11Z"));

    // Binary junk forced through the reader: no panic, no records.
    let junk: Vec<u8> = (0..10_000u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8).collect();
    let (_, records) = read_bytes("MSTeams_junk.log", &junk, Some("teams-log"));
    assert!(records.len() < 5);
}

// -------------------------------------------------------------------------------- dsregcmd

#[test]
fn dsregcmd_without_prt() {
    let (reports, records) = read_fixture("dsregcmd/prt-no.txt");
    assert_eq!(reports[0].format, "dsregcmd");
    assert!(reports[0].warnings.is_empty(), "{:?}", reports[0].warnings);
    assert_eq!(records.len(), 1);
    let e = &records[0];
    assert_eq!((e.kind.as_str(), e.source.as_str(), e.location.as_str()), ("dsregcmd", "dsregcmd", "line 4"));
    assert_eq!(time_of(e).as_deref(), Some("2025-07-15T08:30:11Z"));
    for (field, want) in [
        ("azure_ad_joined", "YES"),
        ("domain_joined", "NO"),
        ("enterprise_joined", "NO"),
        ("workplace_joined", "NO"),
        ("azure_ad_prt", "NO"),
        ("previous_prt_attempt", "2025-07-15T08:20:11Z"),
        ("attempt_status", "0xC000006D"),
        ("server_error_code", "invalid_grant"),
        ("tenant_id", "22222222-0000-4000-8000-000000000002"),
        ("device_id", "6b1f2a4c-0000-4000-8000-00000000a001"),
        ("user_email", "room01@contoso.com"),
        ("current_time", "2025-07-15T08:30:11Z"),
    ] {
        assert_eq!(e.get_str(field), Some(want), "{field}");
    }
    assert!(e.get_str("server_error_description").unwrap().starts_with("AADSTS50126: Error validating"));
    assert_eq!(e.fields["http_status"], 400);
    assert_eq!(codes_of(e), ["0xC000006D", "OAUTH invalid_grant", "AADSTS50126"]);
    let sections = e.fields["sections"].as_object().unwrap();
    assert_eq!(sections.len(), 9);
    assert_eq!(sections["Ngc Prerequisite Check"]["PreReqResult"], "WillNotProvision");
    assert_eq!(sections["IE Proxy Config for Current User"]["Auto-Configuration URL"], "");
    assert_eq!(sections["SSO State"]["AzureAdPrt"], "NO");
    insta::assert_snapshot!(jsonl(&records));
}

#[test]
fn dsregcmd_stale_prt_with_server_error() {
    let (reports, records) = read_fixture("dsregcmd/stale-prt.txt");
    assert_eq!(reports[0].format, "dsregcmd");
    let e = &records[0];
    // No clock in the output: the PRT update time stands in.
    assert_eq!(time_of(e).as_deref(), Some("2025-06-01T07:12:40Z"));
    assert_eq!(e.get_str("azure_ad_prt"), Some("YES"));
    assert_eq!(e.get_str("azure_ad_prt_update_time"), Some("2025-06-01T07:12:40Z"));
    assert_eq!(e.get_str("domain_joined"), Some("YES"));
    assert_eq!(e.get_str("server_error_code"), Some("interaction_required"));
    // The description wrapped over two lines is joined.
    let desc = e.get_str("server_error_description").unwrap();
    assert!(desc.ends_with("multi-factor authentication to access the resource."), "{desc}");
    assert_eq!(codes_of(e), ["0xC000006D", "OAUTH interaction_required", "AADSTS50076"]);
    assert_eq!(e.get_str("user_email"), Some("adele.vance@contoso.com"));
    insta::assert_snapshot!(jsonl(&records));
}

#[test]
fn dsregcmd_runs_encodings_and_damage() {
    let a = text_of("dsregcmd/prt-no.txt");
    let b = text_of("dsregcmd/stale-prt.txt");
    // Two runs pasted one after the other are two records.
    let (_, records) = read_bytes("status.txt", format!("{a}\n{b}").as_bytes(), None);
    assert_eq!(records.len(), 2);
    assert_eq!(records[1].get_str("device_id"), Some("6b1f2a4c-0000-4000-8000-00000000b042"));
    // `dsregcmd /status > file` in Windows PowerShell writes UTF-16 with a BOM and CRLF.
    let (plain_report, plain) = read_bytes("dsregcmd.txt", a.as_bytes(), None);
    let (report, utf16) = read_bytes("dsregcmd.txt", &utf16le_bom(&crlf(&a)), None);
    assert_eq!((plain_report.format.as_str(), report.format.as_str()), ("dsregcmd", "dsregcmd"));
    assert_eq!(essence(&utf16), essence(&plain));
    // Truncated in the SSO State section: what was read is kept.
    let cut = a.find("Server Error Code").unwrap();
    let (_, records) = read_bytes("dsregcmd.txt", &a.as_bytes()[..cut], None);
    assert_eq!(records.len(), 1);
    assert_eq!(records[0].get_str("attempt_status"), Some("0xC000006D"));
    assert_eq!(records[0].get_str("server_error_code"), None);
    // A partial paste without banners still reads.
    let (report, records) = read_bytes("paste.txt", b"    AzureAdJoined : YES\n       AzureAdPrt : NO\n", None);
    assert_eq!(report.format, "dsregcmd");
    assert_eq!(records[0].fields["sections"]["General"]["AzureAdPrt"], "NO");
    // Junk forced through the reader.
    let (_, records) = read_bytes("x.txt", &[0xFF, 0x00, 0x7C, 0x0A, 0x7C, 0x20, 0x3A, 0x0A], Some("dsregcmd"));
    assert!(records.len() <= 1);
}

// --------------------------------------------------------------------------- entra-signins

fn by_code(records: &[Evidence], code: u64) -> &Evidence {
    records.iter().find(|e| e.fields.get("error_code") == Some(&code.into())).unwrap()
}

#[test]
fn entra_portal_csv_of_a_room_account() {
    let (reports, records) = read_fixture("entra-signins/InteractiveSignIns_2025-07-15_2025-07-16.csv");
    assert_eq!(reports[0].format, "entra-signins");
    assert!(reports[0].warnings.is_empty(), "{:?}", reports[0].warnings);
    assert_eq!(records.len(), 5);
    assert_eq!(codes(&records), ["AADSTS50076", "AADSTS53003", "AADSTS50055", "AADSTS50126"]);
    let statuses: Vec<&str> = records.iter().map(|e| e.get_str("status").unwrap()).collect();
    assert_eq!(statuses, ["Failure", "Interrupted", "Interrupted", "Failure", "Success"]);
    let mfa = by_code(&records, 50076);
    assert_eq!((mfa.kind.as_str(), mfa.location.as_str()), ("sign-in", "row 1"));
    assert_eq!(time_of(mfa).as_deref(), Some("2025-07-15T08:30:11Z"));
    assert_eq!(mfa.get_str("user"), Some("room01@contoso.com"));
    assert_eq!(mfa.get_str("app"), Some("Microsoft Teams"));
    assert_eq!(mfa.get_str("ip"), Some("192.0.2.10"));
    assert_eq!(mfa.get_str("location"), Some("Zurich, Zurich, CH"));
    assert_eq!(mfa.get_str("conditional_access"), Some("not-applied"));
    assert_eq!(mfa.get_str("sign_in_type"), Some("interactive"));
    assert!(mfa.get_str("failure_reason").unwrap().starts_with("Due to a configuration change"));
    // A column named twice: the first wins (both say 120 here; see the quirks test).
    assert_eq!(mfa.get_str("request_id"), Some("aaaaaaaa-0000-4000-8000-000000000001"));
    let ok = by_code(&records, 0);
    assert!(ok.codes.is_empty());
    assert_eq!(ok.get_str("failure_reason"), None);
    assert_eq!(by_code(&records, 53003).get_str("conditional_access"), Some("failure"));
    insta::assert_snapshot!(jsonl(&records));
}

#[test]
fn entra_csv_header_quirks_and_damage() {
    // Trailing and doubled spaces, a duplicated column (the first wins), a semicolon export, a
    // quoted field over two lines, a short row.
    let csv = "Date (UTC) ;Request ID;Username ;Status;Status;Sign-in  error code;Failure reason;Application\n\
               2025-07-15T08:30:11Z;r1;room01@contoso.com;Failure;Success;50126;\"bad\npassword\";Microsoft Teams\n\
               2025-07-15T08:31:11Z;r2;room01@contoso.com;Interrupted\n";
    let (report, records) = read_bytes("NonInteractiveSignIns_2025.csv", csv.as_bytes(), None);
    assert_eq!(report.format, "entra-signins");
    assert_eq!(records.len(), 2);
    let e = &records[0];
    assert_eq!(e.get_str("status"), Some("Failure"));
    assert_eq!(e.get_str("failure_reason"), Some("bad\npassword"));
    assert_eq!(e.get_str("sign_in_type"), Some("non-interactive"));
    assert_eq!(codes_of(e), ["AADSTS50126"]);
    assert_eq!(records[1].get_str("status"), Some("Interrupted"));
    assert!(report.warnings.iter().any(|w| w.place == "row 2 (line 4)"), "{:?}", report.warnings);

    // UTF-16 with a BOM (Excel "Unicode text") reads the same.
    let text = text_of("entra-signins/InteractiveSignIns_2025-07-15_2025-07-16.csv");
    let (_, plain) = read_bytes("InteractiveSignIns.csv", text.as_bytes(), None);
    let (report, utf16) = read_bytes("InteractiveSignIns.csv", &utf16le_bom(&crlf(&text)), None);
    assert_eq!(report.format, "entra-signins");
    assert_eq!(essence(&utf16), essence(&plain));

    // A quote that never closes is given up after 1 MiB, quickly, and reading goes on.
    let mut endless = String::from("Date (UTC),Request ID,Status,Sign-in error code\n2025-07-15T08:30:11Z,r1,\"open\n");
    for _ in 0..200_000 {
        endless.push_str("more text\n");
    }
    endless.push_str("2025-07-15T08:31:11Z,r2,Failure,50126\n");
    let started = std::time::Instant::now();
    let (report, records) = read_bytes("InteractiveSignIns.csv", endless.as_bytes(), None);
    assert!(started.elapsed().as_secs() < 20);
    assert_eq!(records.len(), 1);
    assert_eq!(records[0].get_str("request_id"), Some("r2"));
    assert!(report.warnings.iter().any(|w| w.message.contains("never ends")), "{:?}", report.warnings);

    // An unterminated quote at the end is a warning, not a lost file.
    let broken = format!("{}\n2025-07-15T09:00:00Z,\"never closed", text.trim_end());
    let (report, records) = read_bytes("InteractiveSignIns.csv", broken.as_bytes(), None);
    assert_eq!(records.len(), 5);
    assert!(report.warnings.iter().any(|w| w.message.contains("quoted field")), "{:?}", report.warnings);
}

#[test]
fn entra_portal_json() {
    let (reports, records) = read_fixture("entra-signins/SignIns_2025-07-15.json");
    assert_eq!(reports[0].format, "entra-signins");
    assert!(reports[0].warnings.is_empty(), "{:?}", reports[0].warnings);
    assert_eq!(records.len(), 3);
    assert_eq!(codes(&records), ["AADSTS50076", "AADSTS53003"]);
    let mfa = &records[0];
    assert_eq!(mfa.location, "record 1");
    assert_eq!(mfa.get_str("status"), Some("Failure"));
    assert_eq!(mfa.fields["status_derived"], true);
    assert_eq!(mfa.get_str("additional_details"), Some("MFA required in Azure AD"));
    assert_eq!(mfa.get_str("device"), Some("MTR-ROOM01"));
    assert_eq!(mfa.get_str("device_compliant"), Some("true"));
    assert_eq!(mfa.get_str("location"), Some("Zurich, Zurich, CH"));
    assert_eq!(mfa.get_str("sign_in_type"), Some("interactive"));
    assert_eq!(records[1].get_str("status"), Some("Interrupted"));
    assert_eq!(records[2].get_str("status"), Some("Success"));
    assert_eq!(records[2].get_str("failure_reason"), None);
    insta::assert_snapshot!(jsonl(&records));
}

#[test]
fn entra_graph_and_log_analytics_exports() {
    let (reports, records) = read_paths(&[
        fixture("entra-signins/graph-signins.json"),
        fixture("entra-signins/SigninLogs_query_data.csv"),
        fixture("entra-signins/AADNonInteractiveUserSignInLogs.json"),
        fixture("entra-signins/PT1H.json"),
    ]);
    for r in &reports {
        assert_eq!(r.format, "entra-signins", "{}", r.path);
        assert!(r.warnings.is_empty(), "{}: {:?}", r.path, r.warnings);
    }
    assert_eq!(records.len(), 8);
    assert_eq!(
        codes(&records),
        ["AADSTS50055", "AADSTS50126", "AADSTS50076", "AADSTS53003", "AADSTS50126", "AADSTS50055"]
    );
    // Graph: the `value` array, `isInteractive` gives the log.
    assert_eq!(records[0].get_str("status"), Some("Interrupted"));
    assert_eq!(records[1].get_str("sign_in_type"), Some("non-interactive"));
    // Log Analytics CSV: local-style time, Status and DeviceDetail as JSON text.
    let la = &records[2];
    assert_eq!(time_of(la).as_deref(), Some("2025-07-15T08:30:11Z"));
    assert_eq!(la.get_str("status"), Some("Failure"));
    assert_eq!(la.get_str("additional_details"), Some("MFA required in Azure AD"));
    assert_eq!(la.get_str("device"), Some("MTR-ROOM01"));
    assert_eq!(la.get_str("sign_in_type"), Some("interactive"));
    assert_eq!(records[3].get_str("status"), Some("Interrupted"));
    // Log Analytics JSON: `TimeGenerated [UTC]`, `ResultType`, the table in `Type`.
    assert_eq!(records[4].get_str("sign_in_type"), Some("non-interactive"));
    assert_eq!(records[5].get_str("status"), Some("Success"));
    // Diagnostic-settings archive: one object a line, the sign-in under `properties`.
    assert_eq!(records[6].get_str("user"), Some("room01@contoso.com"));
    assert_eq!(records[6].get_str("ip"), Some("192.0.2.10"));
    assert_eq!(records[7].get_str("sign_in_type"), Some("non-interactive"));
    insta::assert_snapshot!(jsonl(&records));
}

#[test]
fn entra_json_streams_large_and_survives_damage() {
    // Many records in a Graph wrapper, minified on one line (longer than any line limit).
    let one = r#"{"id":"x","createdDateTime":"2025-07-15T08:30:11Z","userPrincipalName":"room01@contoso.com","appDisplayName":"Microsoft Teams","status":{"errorCode":50126,"failureReason":"Error validating credentials due to invalid username or password."}}"#;
    let n = 20_000;
    let body = vec![one; n].join(",");
    let doc = format!(
        r#"{{"@odata.context":"https://graph.microsoft.com/v1.0/$metadata#auditLogs/signIns","value":[{body}]}}"#
    );
    assert!(doc.len() > 4 * 1024 * 1024);
    let (report, records) = read_bytes("signins.json", doc.as_bytes(), None);
    assert_eq!(report.format, "entra-signins");
    assert!(report.warnings.is_empty(), "{:?}", report.warnings);
    assert_eq!(records.len(), n);
    assert_eq!(records[n - 1].location, format!("record {n}"));

    // A bad record in the middle is a warning; the array is read on. A cut at the end is one more.
    let damaged = format!(r#"[{one},{{"createdDateTime": nope}},{one},{}"#, &one[..60]);
    let (report, records) = read_bytes("SignIns.json", damaged.as_bytes(), None);
    assert_eq!(records.len(), 2);
    let places: Vec<&str> = report.warnings.iter().map(|w| w.place.as_str()).collect();
    assert!(places.iter().any(|p| p.starts_with("record 2 (byte")), "{:?}", report.warnings);
    assert!(report.warnings.iter().any(|w| w.message.contains("truncated")), "{:?}", report.warnings);

    // PowerShell ConvertTo-Json (PascalCase, /Date()/ times, UTF-16 from Out-File).
    let ps = r#"[{"CreatedDateTime":"/Date(1752568211000)/","UserPrincipalName":"room01@contoso.com","AppDisplayName":"Microsoft Teams","Status":{"ErrorCode":53003,"FailureReason":"Access has been blocked by Conditional Access policies."},"ConditionalAccessStatus":"failure"}]"#;
    let (report, records) = read_bytes("signins.json", &utf16le_bom(ps), None);
    assert_eq!(report.format, "entra-signins");
    assert_eq!(codes(&records), ["AADSTS53003"]);
    assert_eq!(time_of(&records[0]).as_deref(), Some("2025-07-15T08:30:11Z"));

    // Log Analytics API answer (`tables` with columns and rows).
    let api = r#"{"tables":[{"name":"PrimaryResult","columns":[{"name":"TimeGenerated","type":"datetime"},{"name":"UserPrincipalName","type":"string"},{"name":"AppDisplayName","type":"string"},{"name":"ResultType","type":"string"}],"rows":[["2025-07-15T08:30:11Z","room01@contoso.com","Microsoft Teams","50076"],["2025-07-15T08:31:11Z","room01@contoso.com","Microsoft Teams","0"]]}]}"#;
    let (_, records) = read_bytes("query.json", api.as_bytes(), Some("entra-signins"));
    assert_eq!(records.len(), 2);
    assert_eq!(records[0].location, "record 1 row 1");
    assert_eq!(codes(&records), ["AADSTS50076"]);

    // Junk, empty arrays and scalars forced through the reader.
    for junk in [&b"]]]}}}"[..], b"[1,2,\"x\"]", b"{\"value\":[]}", b"\xFF\xFE\x00", b"[[[[[[[[[[[[[[[[[[[["] {
        let (_, records) = read_bytes("x.json", junk, Some("entra-signins"));
        assert!(records.is_empty());
    }
}

#[test]
fn entra_detection_leaves_other_json_and_csv_alone() {
    let other = br#"[{"name":"a","value":1}]"#;
    assert_ne!(read_bytes("data.json", other, None).0.format, "entra-signins");
    let csv = b"Date,Request ID,Message\n2025-07-15,1,hello\n";
    assert_ne!(read_bytes("report.csv", csv, None).0.format, "entra-signins");
}
