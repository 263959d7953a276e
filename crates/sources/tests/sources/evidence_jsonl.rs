//! `evidence-jsonl`: our own `uctriage evidence` output read back as the records it holds.

use uctriage_sources::{read_bytes, Evidence, InputStatus};

use crate::{fixture, read_paths};

fn lines(records: &[Evidence]) -> String {
    records.iter().map(|e| serde_json::to_string(e).unwrap() + "\n").collect()
}

#[test]
fn records_read_back_as_they_were_written() {
    let (reports, records) = read_paths(&[fixture("evidence-jsonl/records.jsonl")]);
    assert_eq!(reports.len(), 1);
    assert_eq!((reports[0].format.as_str(), &reports[0].status), ("evidence-jsonl", &InputStatus::Read));
    assert!(reports[0].warnings.is_empty(), "{:?}", reports[0].warnings);
    assert_eq!(reports[0].records, 10);
    // Each record keeps its own path and format, not the JSONL file's.
    let formats: Vec<&str> = records.iter().map(|e| e.format).collect();
    assert!(formats.contains(&"teams-log") && formats.contains(&"sbc-syslog") && formats.contains(&"dsregcmd"));
    assert!(records.iter().all(|e| !e.path.contains("records.jsonl")));
    assert_eq!(records[0].path, "teams-log/new/MSTeams_2025-07-15_08-30-00.00.log");
    // Written again, the records are the file's lines.
    let original = std::fs::read_to_string(fixture("evidence-jsonl/records.jsonl")).unwrap();
    assert_eq!(lines(&records), original);
}

#[test]
fn any_reader_output_survives_the_round_trip() {
    let (_, records) = read_paths(&[
        fixture("sbc-syslog/audiocodes-teams.log"),
        fixture("dsregcmd/prt-no.txt"),
        fixture("pexip-log/support.log"),
        fixture("entra-signins"),
    ]);
    assert!(records.len() > 10);
    let written = lines(&records);
    let (report, back) = read_bytes("stored.jsonl", written.as_bytes(), None);
    assert_eq!(report.format, "evidence-jsonl");
    assert!(report.warnings.is_empty(), "{:?}", report.warnings);
    assert_eq!(lines(&back), written);
}

#[test]
fn a_bad_line_is_a_warning_naming_it_and_reading_goes_on() {
    let good = std::fs::read_to_string(fixture("evidence-jsonl/records.jsonl")).unwrap();
    let mut text: Vec<&str> = good.lines().collect();
    text.insert(1, r#"{"path":"x","format":"teams-log","location":"line 1","kind":"k","codes":["NOT A CODE"]}"#);
    text.insert(3, "");
    text.insert(4, "this is not JSON");
    text.insert(5, r#"{"path":"x"}"#);
    let body = text.join("\r\n");
    let (report, records) = read_bytes("records.jsonl", body.as_bytes(), None);
    assert_eq!(report.format, "evidence-jsonl");
    assert_eq!(records.len(), 10);
    let places: Vec<&str> = report.warnings.iter().map(|w| w.place.as_str()).collect();
    assert_eq!(places, ["line 2", "line 5", "line 6"]);
    assert!(report
        .warnings
        .iter()
        .all(|w| w.message.starts_with("not an evidence record") && w.path == "records.jsonl"));
}

#[test]
fn an_overlong_line_is_skipped_not_held() {
    let good = std::fs::read_to_string(fixture("evidence-jsonl/records.jsonl")).unwrap();
    let first = good.lines().next().unwrap();
    let huge = format!(
        r#"{{"path":"x","format":"f","location":"l","kind":"k","codes":[],"excerpt":"{}"}}"#,
        "a".repeat(2 << 20)
    );
    let body = format!("{first}\n{huge}\n{first}\n");
    let (report, records) = read_bytes("records.jsonl", body.as_bytes(), None);
    assert_eq!(records.len(), 2);
    assert_eq!(report.warnings.len(), 1, "{:?}", report.warnings);
    assert_eq!(report.warnings[0].place, "line 2");
    assert!(report.warnings[0].message.contains("longer than 1 MiB"));
}

#[test]
fn other_json_lines_are_not_taken_for_records() {
    let (report, _) = read_bytes("events.json", br#"{"path":"C:\\x","kind":"file"}"#, None);
    assert_ne!(report.format, "evidence-jsonl");
    // A forced read of something else is warnings, not a failure.
    let (report, records) = read_bytes("x.jsonl", b"\x00\x01{garbage\n[1,2]\n", Some("evidence-jsonl"));
    assert!(records.is_empty());
    assert_eq!(report.warnings.len(), 2);
}
