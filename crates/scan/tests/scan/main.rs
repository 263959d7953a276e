//! The scan crate: the built-in sample end to end, reports that read back equal, records judged
//! after the fact, and inputs that cannot be read.

use std::sync::Arc;

use uctriage_scan::{
    diagnose_records, read_records, scan, scan_whole_and_redacted, InputReport, InputStatus, Keep, ReadOptions,
    RuleSet, ScanError, ScanOptions, ScanReport, Scanned, Source,
};

fn sample() -> Source {
    let bytes = uctriage_fixtures::readme_sample().to_zip_bytes().expect("the sample builds");
    Source::Bytes { name: "uctriage-sample.zip".into(), bytes: Arc::from(bytes) }
}

#[test]
fn the_sample_report_reads_back_equal() {
    let rules = RuleSet::builtin();
    let mut seen = Vec::new();
    let report = scan(&[sample()], &rules, &ScanOptions::default(), &mut |input, records| {
        seen.push((input.path.clone(), records));
    })
    .expect("the sample is readable");
    assert!(!report.findings.is_empty() && !report.timeline.is_empty(), "{report:?}");
    // Progress comes once per input, in order, with a running total.
    assert_eq!(seen.len() as u64, report.stats.files);
    assert!(seen.windows(2).all(|w| w[0].1 <= w[1].1));
    assert_eq!(seen.last().map(|s| s.1), Some(report.stats.records));

    let json = report.json();
    let back: ScanReport = serde_json::from_str(&json).expect("the report's JSON reads back");
    assert_eq!(back.json(), json);
    let again: ScanReport = serde_json::from_str(&back.json()).expect("and again");
    assert_eq!(again, back);
}

#[test]
fn redact_option_redacts() {
    let rules = RuleSet::builtin();
    let opts = ScanOptions { redact: true, ..ScanOptions::default() };
    let json = scan(&[sample()], &rules, &opts, &mut |_, _| {}).unwrap().json();
    assert!(!json.contains("192.0.2.53"), "an address survived");
    assert!(json.contains("10.x.x."), "no address placeholder");
    // One reading for both: the whole report, and the one --redact gives (elapsed time aside).
    let rooms = |e: &uctriage_scan::Evidence| e.kind == "heartbeat";
    let keep = Keep { wanted: &rooms, most: 3 };
    let Scanned { whole, mut redacted, kept } =
        scan_whole_and_redacted(&[sample()], &rules, &ScanOptions::default(), &keep, &mut |_, _| {}).unwrap();
    // The records asked for come back from the same reading, in order, as many as asked.
    let mut heartbeats = Vec::new();
    read_records(&[sample()], &ReadOptions::default(), &mut |_, records| {
        heartbeats.extend(records.into_iter().filter(|e| e.kind == "heartbeat"));
    });
    assert!(heartbeats.len() > 3, "the sample has more heartbeats than asked for");
    assert_eq!(kept, heartbeats[..3]);
    assert!(whole.json().contains("192.0.2.53"));
    let mut alone: ScanReport = serde_json::from_str(&json).unwrap();
    alone.stats.elapsed_ms = 0;
    redacted.stats.elapsed_ms = 0;
    let (a, b) = (alone.json(), redacted.json());
    let at = a.bytes().zip(b.bytes()).position(|(x, y)| x != y).unwrap_or(a.len().min(b.len()));
    assert_eq!(
        a,
        b,
        "they differ from byte {at}: {:?} / {:?}",
        &a[at.saturating_sub(80)..],
        &b[at.saturating_sub(80)..]
    );
}

#[test]
fn records_read_first_and_judged_later_get_the_same_findings() {
    let rules = RuleSet::builtin();
    let sources = [sample()];
    let mut inputs: Vec<InputReport> = Vec::new();
    let mut records = Vec::new();
    let summary = read_records(&sources, &ReadOptions::default(), &mut |input, mut r| {
        inputs.push(input);
        records.append(&mut r);
    });
    assert_eq!(summary.records, records.len() as u64);
    let n = records.len() as u64;
    let later = diagnose_records(records, &inputs, &rules);
    assert_eq!(later.stats.records, n);
    assert_eq!(later.stats.files, inputs.len() as u64);
    assert_eq!(later.inputs.len(), inputs.len());
    let now = scan(&sources, &rules, &ScanOptions::default(), &mut |_, _| {}).unwrap();
    let rules_of = |r: &ScanReport| r.findings.iter().map(|f| (f.rule.clone(), f.count)).collect::<Vec<_>>();
    assert_eq!(rules_of(&later), rules_of(&now));
    assert_eq!(later.verdict, now.verdict);
}

#[test]
fn nothing_readable_is_an_error_listing_the_warnings() {
    let rules = RuleSet::builtin();
    let junk = Source::Bytes { name: "junk.bin".into(), bytes: Arc::from(&[0u8, 1, 2, 3, 0xff, 0xfe, 0, 0, 7, 9][..]) };
    let missing = Source::from_arg("/definitely/not/here");
    let err = scan(&[missing, junk], &rules, &ScanOptions::default(), &mut |_, _| {}).unwrap_err();
    let ScanError::NothingReadable { warnings } = &err;
    assert_eq!(warnings.len(), 2, "{warnings:?}");
    let text = err.to_string();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines[0], "nothing could be read from the given paths");
    assert!(lines[1].starts_with("  /definitely/not/here: cannot open"), "{text}");
    assert!(lines[2].starts_with("  junk.bin: binary data"), "{text}");

    let mut statuses = Vec::new();
    read_records(
        &[Source::Bytes { name: "empty.txt".into(), bytes: Arc::from(&b""[..]) }],
        &ReadOptions::default(),
        &mut |i, _| statuses.push((i.format, i.status)),
    );
    assert_eq!(statuses, [("unsupported".to_owned(), InputStatus::Unsupported)]);
}

#[test]
fn records_written_as_json_lines_scan_to_the_same_findings() {
    let rules = RuleSet::builtin();
    let mut jsonl = String::new();
    read_records(&[sample()], &ReadOptions::default(), &mut |_, records| {
        for e in records {
            jsonl.push_str(&serde_json::to_string(&e).unwrap());
            jsonl.push('\n');
        }
    });
    let stored = Source::Bytes { name: "records.jsonl".into(), bytes: Arc::from(jsonl.into_bytes()) };
    let again = scan(&[stored], &rules, &ScanOptions::default(), &mut |_, _| {}).unwrap();
    assert_eq!(again.inputs.len(), 1);
    assert_eq!(again.inputs[0].format, "evidence-jsonl");
    let first = scan(&[sample()], &rules, &ScanOptions::default(), &mut |_, _| {}).unwrap();
    assert_eq!(serde_json::to_string(&again.findings).unwrap(), serde_json::to_string(&first.findings).unwrap());
    assert_eq!(serde_json::to_string(&again.timeline).unwrap(), serde_json::to_string(&first.timeline).unwrap());
    assert_eq!(again.verdict, first.verdict);
}
