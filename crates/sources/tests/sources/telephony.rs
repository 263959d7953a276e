//! Telephony readers: SIP text traces, SBC syslogs, pcap and pcapng captures, Direct Routing
//! call records (CSV and Graph JSON), Lync client logs and MOSDAL reports.

use uctriage_sources::{read_bytes, Evidence, InputReport};

use crate::{fixture, jsonl, read_paths};

fn read_fixture(rel: &str) -> (Vec<InputReport>, Vec<Evidence>) {
    read_paths(&[fixture(rel)])
}

fn codes(records: &[Evidence]) -> Vec<String> {
    records.iter().flat_map(|e| e.codes.iter().map(ToString::to_string)).collect()
}

fn utf16le_bom(text: &str) -> Vec<u8> {
    let mut v = vec![0xFF, 0xFE];
    v.extend(text.encode_utf16().flat_map(u16::to_le_bytes));
    v
}

// ------------------------------------------------------------------ sip-trace

#[test]
fn sip_trace_sngrep_export() {
    let (reports, records) = read_fixture("sip-trace/sngrep-direct-routing.txt");
    assert_eq!(reports[0].format, "sip-trace");
    assert!(reports[0].warnings.is_empty(), "{:?}", reports[0].warnings);
    assert_eq!(records.len(), 7);
    assert_eq!(codes(&records), ["SIP 403", "Q850 21", "SIP 404", "Q850 1", "MS-DIAG 10504"]);
    let forbidden = &records[2];
    assert_eq!(forbidden.location, "line 30");
    assert_eq!(forbidden.fields["status"], 403);
    assert_eq!(forbidden.get_str("sbc_fqdn"), Some("sbc1.contoso.com"));
    assert_eq!(forbidden.get_str("src"), Some("192.0.2.10:5061"));
    assert_eq!(forbidden.time.map(uctriage_evidence::time::rfc3339).as_deref(), Some("2025-07-15T08:30:11Z"));
    insta::assert_snapshot!(jsonl(&records));
}

#[test]
fn sip_trace_wireshark_follow_stream_compact_headers() {
    let (reports, records) = read_fixture("sip-trace/wireshark-follow.txt");
    assert_eq!(reports[0].format, "sip-trace");
    assert_eq!(records.len(), 3);
    assert_eq!(records[0].get_str("call_id"), Some("ws-1@198.51.100.7"));
    assert_eq!(records[0].get_str("contact_fqdn"), Some("198.51.100.7"));
    assert_eq!(codes(&records), ["SIP 486", "Q850 17"]);
    assert_eq!(records[2].location, "line 24");
    insta::assert_snapshot!(jsonl(&records));
}

#[test]
fn sip_trace_utf16_and_cut_short() {
    let text = std::fs::read_to_string(fixture("sip-trace/sngrep-direct-routing.txt")).unwrap();
    let (report, records) = read_bytes("trace.txt", &utf16le_bom(&text.replace('\n', "\r\n")), None);
    assert_eq!(report.format, "sip-trace");
    assert_eq!(records.len(), 7);
    assert_eq!(codes(&records)[..2], ["SIP 403", "Q850 21"]);
    // Cut in the middle of the headers of the 403: the messages before it are kept, the cut one
    // is read as far as it goes, with a warning naming its line.
    let cut = &text[..text.find("CSeq: 1 INVITE\nServer").unwrap()];
    let (report, records) = read_bytes("trace.txt", cut.as_bytes(), None);
    assert_eq!(records.len(), 3);
    assert_eq!(records[2].fields["status"], 403);
    assert_eq!(report.warnings.len(), 1, "{:?}", report.warnings);
    assert_eq!(report.warnings[0].place, "line 30");
}

#[test]
fn sip_trace_detection_needs_sip_headers() {
    let (report, _) = read_bytes("note.txt", b"SIP/2.0 403 Forbidden was returned", None);
    assert_ne!(report.format, "sip-trace");
    let (report, records) =
        read_bytes("junk.sip", b"\x00\x01garbage SIP/2.0 \xff\xfe\nCall-ID: x\n", Some("sip-trace"));
    assert_eq!(report.format, "sip-trace");
    assert!(records.is_empty());
}

// ------------------------------------------------------------------ sbc-syslog

#[test]
fn sbc_syslog_audiocodes_escaped_and_split_messages() {
    let (reports, records) = read_fixture("sbc-syslog/audiocodes-teams.log");
    assert_eq!(reports[0].format, "sbc-syslog");
    assert!(reports[0].warnings.is_empty(), "{:?}", reports[0].warnings);
    assert_eq!(records.len(), 4);
    assert_eq!(codes(&records), ["SIP 403", "Q850 21", "SIP 404", "MS-DIAG 10504"]);
    let forbidden = &records[1];
    assert_eq!(forbidden.get_str("direction"), Some("outgoing"));
    assert_eq!(forbidden.get_str("dst"), Some("52.114.148.0:5061"));
    assert_eq!(forbidden.get_str("sbc_fqdn"), Some("sbc1.contoso.com"));
    assert_eq!(forbidden.get_str("session_id"), Some("d5e2c1:76:3408"));
    assert_eq!(forbidden.get_str("sip_interface"), Some("SIP-Teams"));
    // The INVITE split over two syslog lines, with another session's line between them.
    let split = &records[2];
    assert_eq!(split.location, "line 4");
    assert_eq!(split.get_str("via"), Some("SIP/2.0/TLS sbc1.contoso.com:5061;branch=z9hG4bKac02"));
    assert_eq!(split.get_str("call_id"), Some("ac-call-0002"));
    assert_eq!(split.time.map(uctriage_evidence::time::rfc3339).as_deref(), Some("2025-07-15T08:31:05Z"));
    insta::assert_snapshot!(jsonl(&records));
}

#[test]
fn sbc_syslog_ribbon_multiline_and_generic() {
    let (reports, records) = read_fixture("sbc-syslog/ribbon-sbc.log");
    assert_eq!(reports[0].format, "sbc-syslog");
    assert!(reports[0].warnings.is_empty(), "{:?}", reports[0].warnings);
    assert_eq!(records.len(), 3);
    assert_eq!(codes(&records), ["SIP 487", "Q850 16", "SIP 503"]);
    assert_eq!(records[0].get_str("direction"), Some("incoming"));
    assert_eq!(records[0].get_str("src"), Some("52.114.76.76:5061"));
    assert_eq!(records[0].get_str("sbc_host"), Some("sbc2.contoso.com"));
    assert_eq!(records[1].get_str("method"), Some("ACK"));
    assert_eq!(records[2].get_str("sbc_host"), Some("sbc3"));
    insta::assert_snapshot!(jsonl(&records));
}

#[test]
fn sbc_syslog_missing_fragment_and_crlf() {
    let text = std::fs::read_to_string(fixture("sbc-syslog/audiocodes-teams.log")).unwrap();
    // Without the second fragment of the split INVITE, it is read as far as it goes.
    let cut: Vec<&str> = text.lines().filter(|l| !l.contains("[S=123472]")).collect();
    let (report, records) = read_bytes("syslog.log", cut.join("\r\n").as_bytes(), None);
    assert_eq!(report.format, "sbc-syslog");
    assert_eq!(records.len(), 4);
    assert_eq!(report.warnings.len(), 1, "{:?}", report.warnings);
    assert_eq!(report.warnings[0].place, "line 4");
    assert!(report.warnings[0].message.contains("incomplete"));
}
