//! Pexip Infinity: support and administrator logs, and Teams Connector install transcripts.

use uctriage_sources::{read_bytes, Evidence, InputReport};

use crate::{fixture, jsonl, read_paths};

fn read_fixture(rel: &str) -> (Vec<InputReport>, Vec<Evidence>) {
    read_paths(&[fixture(rel)])
}

fn codes(records: &[Evidence]) -> Vec<String> {
    records.iter().flat_map(|e| e.codes.iter().map(ToString::to_string)).collect()
}

#[test]
fn pexip_support_and_administrator_log() {
    let (reports, records) = read_fixture("pexip-log/support.log");
    assert_eq!(reports[0].format, "pexip-log");
    assert!(reports[0].warnings.is_empty(), "{:?}", reports[0].warnings);
    let per_line: Vec<(String, Vec<String>)> =
        records.iter().map(|r| (r.location.clone(), r.codes.iter().map(ToString::to_string).collect())).collect();
    let expect = |l: &str, c: &[&str]| (l.to_owned(), c.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>());
    assert_eq!(
        per_line,
        [
            expect("line 2", &["PEXIP teams-api-401", "HTTP 401"]),
            expect("line 3", &["PEXIP gateway-dial-out-failed"]),
            expect("line 4", &["PEXIP teams-api-500", "HTTP 500"]),
            expect("line 5", &["PEXIP call-rejected"]),
            expect("line 6", &["PEXIP conference-id-invalid"]),
            expect("line 7", &["HTTP 403"]),
            expect("line 9", &["AADSTS700016"]),
        ]
    );
    let api = &records[0];
    assert_eq!(api.get_str("logger"), Some("support.teams"));
    assert_eq!(api.get_str("error"), Some("401"));
    assert_eq!(api.get_str("node"), Some("conf01"));
    assert_eq!(
        api.get_str("detail"),
        Some("Unauthorized: the Teams Connector refused the node certificate \"conf01.contoso.com\"")
    );
    assert_eq!(api.source, "Pexip support log");
    assert_eq!(records[1].get_str("disconnect_reason"), Some("Gateway dial out failed"));
    assert_eq!(records[1].source, "Pexip administrator log");
    assert_eq!(records[1].time.map(uctriage_evidence::time::rfc3339).as_deref(), Some("2025-07-15T08:30:11Z"));
    insta::assert_snapshot!(jsonl(&records));
}

#[test]
fn pexip_log_crlf_utf16_and_junk() {
    let text = std::fs::read_to_string(fixture("pexip-log/support.log")).unwrap();
    let mut utf16 = vec![0xFF, 0xFE];
    utf16.extend(text.replace('\n', "\r\n").encode_utf16().flat_map(u16::to_le_bytes));
    let (report, records) = read_bytes("support.log", &utf16, None);
    assert_eq!(report.format, "pexip-log");
    assert_eq!(records.len(), 7);
    // Unterminated quotes and binary noise are read without harm.
    let junk = b"2025-07-15T08:30:11Z n Level=\"ERROR Name=\"x\" Message=\"\\\xff\xfe Error=\"40";
    let (report, records) = read_bytes("support.log", junk, Some("pexip-log"));
    assert_eq!(report.format, "pexip-log");
    assert!(records.iter().all(|r| r.codes.is_empty()));
}

#[test]
fn azure_denial_of_service_notice() {
    let notice = "Outgoing denial-of-service:\nAzure Security Center detected unusual network activity originating from the virtual machine pexip-tc-vmss_0.\n";
    let (report, records) = read_bytes("azure-alert.txt", notice.as_bytes(), None);
    assert_eq!(report.format, "pexip-log");
    assert_eq!(codes(&records), ["PEXIP azure-dos-notice"]);
}

#[test]
fn teams_connector_install_transcript() {
    let (reports, records) = read_fixture("pexip-install/transcript.txt");
    assert_eq!(reports[0].format, "pexip-install");
    assert!(reports[0].warnings.is_empty(), "{:?}", reports[0].warnings);
    let got: Vec<(&str, Vec<String>)> =
        records.iter().map(|r| (r.location.as_str(), r.codes.iter().map(ToString::to_string).collect())).collect();
    let s = |v: &[&str]| v.iter().map(|x| (*x).to_owned()).collect::<Vec<_>>();
    assert_eq!(
        got,
        [
            ("line 17", s(&["PEXIP invalid-bot-data"])),
            ("line 26", s(&["PEXIP web-space-exists"])),
            ("line 34", s(&["PEXIP storage-key-operator-role"])),
            ("line 35", s(&["PEXIP storage-key-operator-role"])),
            ("line 42", s(&["PEXIP insufficient-privileges"])),
            ("line 44", s(&["PEXIP invalid-address-prefix"])),
            ("line 46", s(&[])),
        ]
    );
    let bot = &records[0];
    assert_eq!(bot.get_str("cmdlet"), Some("New-AzResource"));
    assert_eq!(bot.get_str("script_location"), Some("C:\\pexip\\PexTeamsCviApplication.psm1:212 char:9"));
    assert!(bot.get_str("command").unwrap().starts_with("Register-PexTeamsCviApplicationBot"));
    assert_eq!(bot.time.map(uctriage_evidence::time::rfc3339).as_deref(), Some("2025-07-15T08:30:11Z"));
    assert_eq!(records[1].get_str("script_location"), Some("C:\\pexip\\create_vmss_deployment.ps1:118 char:5"));
    assert_eq!(records[1].get_str("error_id").map(|s| s.starts_with("Microsoft.Azure")), Some(true));
    insta::assert_snapshot!(jsonl(&records));
}

#[test]
fn install_output_without_transcript_header_and_truncated() {
    let text =
        "Deploying...\nNew-AzResource : InvalidBotData - Bot is not valid - Id is already in use\nAt line:1 char:1\n";
    let (report, records) = read_bytes("console.txt", text.as_bytes(), None);
    assert_eq!(report.format, "pexip-install");
    assert_eq!(codes(&records), ["PEXIP invalid-bot-data"]);
    // Cut in the middle of a wrapped error: the part read is kept.
    let text = std::fs::read_to_string(fixture("pexip-install/transcript.txt")).unwrap();
    let cut = &text[..text.find("subscription 00000000").unwrap()];
    let (report, records) = read_bytes("transcript.txt", cut.as_bytes(), None);
    assert_eq!(report.format, "pexip-install");
    assert_eq!(records.len(), 2);
    assert_eq!(records[1].get_str("message"), Some("Web space with name pexip-tc-eu already exists for"));
    // A terminating error with no display after it is still read.
    let te = "PS>TerminatingError(Get-AzADServicePrincipal): \"Insufficient privileges to complete the operation.\"\nPS C:\\pexip> exit\n";
    let (_, records) = read_bytes("pexip-install.txt", te.as_bytes(), Some("pexip-install"));
    assert_eq!(codes(&records), ["PEXIP insufficient-privileges"]);
    // A transcript of something else is not this format.
    let other =
        "**********************\nWindows PowerShell transcript start\nStart time: 20250715083011\nPS C:\\> Get-Date\n";
    let (report, _) = read_bytes("transcript.txt", other.as_bytes(), None);
    assert_ne!(report.format, "pexip-install");
}

#[test]
fn install_certificate_and_upgrade_errors() {
    let text = "\
PS C:\\pexip> .\\create_vmss_deployment.ps1
ERROR: The private key of certificate 'A1B2C3D4E5F60718293A4B5C6D7E8F9012345678' is stored in a CNG Key Storage Provider, which is currently not supported
Write-Error : The certificate 'A1B2C3D4E5F60718293A4B5C6D7E8F9012345678' is an ECDSA certificate, which is currently not supported
At C:\\pexip\\create_vmss_deployment.ps1:77 char:1
PS C:\\pexip> .\\upgrade_vmss_deployment.ps1
New-AzResourceGroupDeployment : Template parameter JToken type is not valid.
At C:\\pexip\\upgrade_vmss_deployment.ps1:210 char:5
";
    let (report, records) = read_bytes("upgrade.txt", text.as_bytes(), None);
    assert_eq!(report.format, "pexip-install");
    assert_eq!(
        codes(&records),
        ["PEXIP cng-key-storage-provider", "PEXIP ecdsa-certificate", "PEXIP template-parameter-jtoken"]
    );
    assert_eq!(records[2].get_str("command"), Some(".\\upgrade_vmss_deployment.ps1"));
}
