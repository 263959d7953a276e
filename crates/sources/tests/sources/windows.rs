//! Windows event logs: `evtx` (generated here, and the real samples of ../shared/corpus/evtx),
//! `event-xml`, `event-csv` and `event-json` fixtures, truncated and damaged inputs.

use uctriage_sources::{read_bytes, Evidence, InputReport};

use crate::{corpus, fixture, jsonl, read_paths};

fn codes(e: &Evidence) -> Vec<String> {
    e.codes.iter().map(ToString::to_string).collect()
}

fn field<'a>(e: &'a Evidence, name: &str) -> Option<&'a serde_json::Value> {
    e.fields.get(name)
}

fn read_fixture(rel: &str) -> (InputReport, Vec<Evidence>) {
    let (mut reports, records) = read_paths(&[fixture(rel)]);
    (reports.remove(0), records)
}

fn utf16le_bom(s: &str) -> Vec<u8> {
    let mut v = vec![0xFF, 0xFE];
    v.extend(s.encode_utf16().flat_map(u16::to_le_bytes));
    v
}

// ------------------------------------------------------------------ a minimal .evtx writer
//
// Records are written as plain BinXML elements (no templates), names inline, which the evtx
// crate reads like any record. Enough to put Teams Rooms and AAD events into a real .evtx.

mod writer {
    pub struct El {
        pub name: &'static str,
        pub attrs: Vec<(&'static str, String)>,
        pub kids: Vec<Node>,
    }

    pub enum Node {
        El(El),
        Text(String),
    }

    pub fn el(name: &'static str, attrs: &[(&'static str, &str)], kids: Vec<Node>) -> Node {
        Node::El(El { name, attrs: attrs.iter().map(|(k, v)| (*k, (*v).to_owned())).collect(), kids })
    }

    pub fn text(name: &'static str, t: &str) -> Node {
        el(name, &[], vec![Node::Text(t.to_owned())])
    }

    fn utf16(out: &mut Vec<u8>, s: &str) {
        let units: Vec<u16> = s.encode_utf16().collect();
        out.extend_from_slice(&(units.len() as u16).to_le_bytes());
        for u in units {
            out.extend_from_slice(&u.to_le_bytes());
        }
    }

    /// A name reference followed by the name itself (offset = where it starts in the chunk).
    fn name(out: &mut Vec<u8>, base: usize, s: &str) {
        let at = base + out.len() + 4;
        out.extend_from_slice(&(at as u32).to_le_bytes());
        out.extend_from_slice(&0u32.to_le_bytes());
        out.extend_from_slice(&0u16.to_le_bytes());
        utf16(out, s);
        out.extend_from_slice(&0u16.to_le_bytes());
    }

    fn value(out: &mut Vec<u8>, s: &str) {
        out.push(0x05);
        out.push(0x01);
        utf16(out, s);
    }

    fn node(out: &mut Vec<u8>, base: usize, n: &Node) {
        match n {
            Node::Text(t) => value(out, t),
            Node::El(e) => {
                out.push(if e.attrs.is_empty() { 0x01 } else { 0x41 });
                out.extend_from_slice(&0u32.to_le_bytes());
                name(out, base, e.name);
                if !e.attrs.is_empty() {
                    out.extend_from_slice(&0u32.to_le_bytes());
                    for (i, (k, v)) in e.attrs.iter().enumerate() {
                        out.push(if i + 1 < e.attrs.len() { 0x46 } else { 0x06 });
                        name(out, base, k);
                        value(out, v);
                    }
                }
                if e.kids.is_empty() {
                    out.push(0x03);
                } else {
                    out.push(0x02);
                    for k in &e.kids {
                        node(out, base, k);
                    }
                    out.push(0x04);
                }
            }
        }
    }

    pub struct Ev<'a> {
        pub provider: &'a str,
        pub channel: &'a str,
        pub id: u32,
        pub level: u8,
        pub time: &'a str,
        pub data: Vec<(Option<&'a str>, String)>,
    }

    fn event_xml(ev: &Ev<'_>, record: u64) -> Node {
        let data = ev
            .data
            .iter()
            .map(|(n, v)| match n {
                Some(n) => el("Data", &[("Name", n)], vec![Node::Text(v.clone())]),
                None => el("Data", &[], vec![Node::Text(v.clone())]),
            })
            .collect();
        el(
            "Event",
            &[("xmlns", "http://schemas.microsoft.com/win/2004/08/events/event")],
            vec![
                el(
                    "System",
                    &[],
                    vec![
                        el("Provider", &[("Name", ev.provider)], vec![]),
                        text("EventID", &ev.id.to_string()),
                        text("Level", &ev.level.to_string()),
                        el("TimeCreated", &[("SystemTime", ev.time)], vec![]),
                        text("EventRecordID", &record.to_string()),
                        text("Channel", ev.channel),
                        text("Computer", "MTR-BOARDROOM"),
                    ],
                ),
                el("EventData", &[], data),
            ],
        )
    }

    /// One 64 KiB chunk holding `events`, numbered from `first`.
    pub fn chunk(events: &[Ev<'_>], first: u64) -> Vec<u8> {
        let mut c = vec![0u8; 512];
        let mut last_offset = 512;
        for (i, ev) in events.iter().enumerate() {
            let id = first + i as u64;
            let start = c.len();
            last_offset = start;
            // The body starts 24 bytes into the record; name offsets count from the chunk start.
            let mut body = vec![0x0F, 0x01, 0x01, 0x00];
            node(&mut body, start + 24, &event_xml(ev, id));
            let mut rec = Vec::new();
            rec.extend_from_slice(b"**\0\0");
            let size = (24 + body.len() + 1 + 4) as u32;
            rec.extend_from_slice(&size.to_le_bytes());
            rec.extend_from_slice(&id.to_le_bytes());
            rec.extend_from_slice(&133_969_000_000_000_000u64.to_le_bytes());
            rec.extend_from_slice(&body);
            rec.push(0x00);
            rec.extend_from_slice(&size.to_le_bytes());
            c.extend_from_slice(&rec);
        }
        let free = c.len() as u32;
        assert!(c.len() <= 65536, "too many events for one chunk");
        c.resize(65536, 0);
        c[..8].copy_from_slice(b"ElfChnk\0");
        let last = first + events.len() as u64 - 1;
        c[8..16].copy_from_slice(&first.to_le_bytes());
        c[16..24].copy_from_slice(&last.to_le_bytes());
        c[24..32].copy_from_slice(&first.to_le_bytes());
        c[32..40].copy_from_slice(&last.to_le_bytes());
        c[40..44].copy_from_slice(&128u32.to_le_bytes());
        c[44..48].copy_from_slice(&(last_offset as u32).to_le_bytes());
        c[48..52].copy_from_slice(&free.to_le_bytes());
        c[120..124].copy_from_slice(&4u32.to_le_bytes()); // no CRC32
        c
    }

    /// A file of the given chunks.
    pub fn file(chunks: &[Vec<u8>], next_record: u64) -> Vec<u8> {
        let mut f = vec![0u8; 4096];
        f[..8].copy_from_slice(b"ElfFile\0");
        f[16..24].copy_from_slice(&(chunks.len() as u64).saturating_sub(1).to_le_bytes());
        f[24..32].copy_from_slice(&next_record.to_le_bytes());
        f[32..36].copy_from_slice(&128u32.to_le_bytes());
        f[36..38].copy_from_slice(&1u16.to_le_bytes());
        f[38..40].copy_from_slice(&3u16.to_le_bytes());
        f[40..42].copy_from_slice(&4096u16.to_le_bytes());
        f[42..44].copy_from_slice(&(chunks.len() as u16).to_le_bytes());
        f[120..124].copy_from_slice(&4u32.to_le_bytes());
        for c in chunks {
            f.extend_from_slice(c);
        }
        f
    }
}

use writer::Ev;

const HEARTBEAT_BAD: &str = r#"{"Description":"Network status : Healthy. Exchange status : 80131500 : AADSTS50076. Signin status: NotApplicable. Teams Signin status: Unhealthy.","ResourceState":"Unhealthy","OperationName":"Heartbeat","OperationResult":"Fail","OS":"Windows 10","OSVersion":"10.0.19044.1889","Alias":"","DisplayName":"","AppVersion":"4.13.132.0","IPv4Address":"192.0.2.53","IPv6Address":""}"#;
const HEARTBEAT_OK: &str = r#"{"Description":"Network status : Healthy. Exchange status : Connected. Signin status: NotApplicable. Teams Signin status: Healthy.","ResourceState":"Healthy","OperationName":"Heartbeat","OperationResult":"Pass","OS":"Windows 11","OSVersion":"10.0.22631.3880","Alias":"boardroom@contoso.com","DisplayName":"Boardroom","AppVersion":"5.2.115.0","IPv4Address":"192.0.2.53","IPv6Address":"2001:db8::53"}"#;

fn rooms_events() -> Vec<Ev<'static>> {
    vec![
        Ev {
            provider: "Skype Room System",
            channel: "Skype Room System",
            id: 2000,
            level: 4,
            time: "2025-07-15T08:20:11.0000000Z",
            data: vec![(None, HEARTBEAT_OK.into())],
        },
        Ev {
            provider: "Skype Room System",
            channel: "Skype Room System",
            id: 2001,
            level: 2,
            time: "2025-07-15T08:30:11.0000000Z",
            data: vec![(None, HEARTBEAT_BAD.into())],
        },
        Ev {
            provider: "Skype Room System",
            channel: "Skype Room System",
            id: 3001,
            level: 2,
            time: "2025-07-15T08:31:00.0000000Z",
            data: vec![(None, r#"{"Description":"Conference Camera status : Unhealthy.","ResourceState":"Unhealthy","OperationName":"ConferenceCamera","OperationResult":"Fail","AppVersion":"5.2.115.0"}"#.into())],
        },
        Ev {
            provider: "Skype Room System",
            channel: "Skype Room System",
            id: 4000,
            level: 4,
            time: "2025-07-15T08:32:00.0000000Z",
            data: vec![(None, r#"{"Description":"App restarting.","ResourceState":"Healthy","OperationName":"Restart","OperationResult":"Pass"}"#.into())],
        },
    ]
}

fn aad_events() -> Vec<Ev<'static>> {
    vec![
        Ev {
            provider: "Microsoft-Windows-AAD",
            channel: "Microsoft-Windows-AAD/Operational",
            id: 1098,
            level: 2,
            time: "2025-07-15T08:30:09.0000000Z",
            data: vec![
                (Some("Error"), "3399614476".into()),
                (Some("ErrorMessage"), "The request requires user interaction.".into()),
                (Some("AdditionalInformation"), "Code: interaction_required Description: AADSTS50076: Due to a configuration change made by your administrator, or because you moved to a new location, you must use multi-factor authentication to access '00000002-0000-0ff1-ce00-000000000000'. Trace ID: 6a1e8c9f-1d2e-4b3a-9c4d-5e6f7a8b9c01 Correlation ID: 3f2e1d0c-9b8a-4765-8432-10fedcba9876".into()),
            ],
        },
        Ev {
            provider: "Microsoft-Windows-Kernel-Power",
            channel: "System",
            id: 41,
            level: 1,
            time: "2025-07-15T06:01:02.0000000Z",
            data: vec![(Some("BugcheckCode"), "0".into()), (Some("SleepInProgress"), "0".into())],
        },
    ]
}

fn generated_evtx() -> Vec<u8> {
    writer::file(&[writer::chunk(&rooms_events(), 1), writer::chunk(&aad_events(), 5)], 7)
}

#[test]
fn generated_evtx_reads_rooms_aad_and_power_events() {
    let (report, records) = read_bytes("Logs/Skype Room System.evtx", &generated_evtx(), None);
    assert_eq!(report.format, "evtx");
    assert!(report.warnings.is_empty(), "{:?}", report.warnings);
    let kinds: Vec<&str> = records.iter().map(|e| e.kind.as_str()).collect();
    assert_eq!(kinds, ["heartbeat", "heartbeat", "hardware", "app-restart", "aad-error", "power"]);
    assert_eq!(codes(&records[1]), ["0x80131500", "AADSTS50076"]);
    assert!(records[0].codes.is_empty(), "a healthy heartbeat carries no code: {:?}", records[0].codes);
    assert_eq!(records[1].get_str("teams_signin_status"), Some("Unhealthy"));
    assert_eq!(records[1].location, "record 2");
    assert_eq!(records[1].source, "Skype Room System");
    assert_eq!(codes(&records[4])[..3], ["0xCAA2000C", "AADSTS50076", "OAUTH interaction_required"]);
    insta::assert_snapshot!(jsonl(&records));
}

#[test]
fn evtx_cut_in_half_warns_at_the_cut_and_keeps_the_first_chunk() {
    let full = generated_evtx();
    // Cut in the middle of the second chunk, inside its first record.
    let cut = &full[..4096 + 65536 + 700];
    let (report, records) = read_bytes("cut.evtx", cut, None);
    assert_eq!(records.len(), 4, "{:?}", report.warnings);
    assert!(
        report.warnings.iter().any(|w| w.place == "chunk 1 (byte 69632)" && w.message.contains("truncated")),
        "{:?}",
        report.warnings
    );
    // Cut inside the chunk header: the chunk is named, nothing is invented.
    let (report, records) = read_bytes("cut.evtx", &full[..4096 + 65536 + 100], None);
    assert_eq!(records.len(), 4);
    assert!(report.warnings.iter().any(|w| w.place.starts_with("chunk 1")), "{:?}", report.warnings);
}

#[test]
fn evtx_with_a_corrupt_chunk_reads_the_others() {
    let mut f = generated_evtx();
    f[4096..4096 + 8].copy_from_slice(b"XXXXXXXX");
    let (report, records) = read_bytes("bad.evtx", &f, None);
    assert_eq!(records.iter().map(|e| e.kind.as_str()).collect::<Vec<_>>(), ["aad-error", "power"]);
    assert!(
        report.warnings.iter().any(|w| w.place == "chunk 0 (byte 4096)" && w.message.contains("not a readable chunk")),
        "{:?}",
        report.warnings
    );
    // A damaged record in the middle of a chunk: the record is named, its neighbours kept.
    let mut f = generated_evtx();
    let second = memchr_find(&f[4096 + 600..], b"**\0\0").unwrap() + 4096 + 600;
    f[second..second + 4].copy_from_slice(b"JUNK");
    let (report, records) = read_bytes("bad.evtx", &f, None);
    assert_eq!(records.len(), 5, "{:?}", report.warnings);
    assert!(report.warnings.iter().any(|w| w.place.contains("chunk 0")), "{:?}", report.warnings);
}

fn memchr_find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

#[test]
fn evtx_header_only_junk_and_wrong_magic() {
    let f = writer::file(&[], 1);
    let (report, records) = read_bytes("empty.evtx", &f, None);
    assert_eq!((report.format.as_str(), records.len()), ("evtx", 0));
    assert!(report.warnings.is_empty(), "{:?}", report.warnings);
    let mut junk = b"ElfFile\0".to_vec();
    junk.extend(std::iter::repeat_n(0xA5u8, 5000));
    let (report, records) = read_bytes("junk.evtx", &junk, None);
    assert!(records.is_empty());
    assert!(!report.warnings.is_empty());
    let (report, _) = read_bytes("x.evtx", &[1, 2, 3, 0, 0, 0, 0, 9, 9, 9, 0, 0], Some("evtx"));
    assert!(report.warnings.iter().any(|w| w.message.contains("not an evtx file")), "{:?}", report.warnings);
}

#[test]
fn many_evtx_files_at_once_do_not_block_each_other() {
    let dir = std::env::temp_dir().join(format!("uctriage-test-{}-evtx-many", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let f = generated_evtx();
    for i in 0..6 {
        std::fs::write(dir.join(format!("log{i}.evtx")), &f).unwrap();
    }
    let (reports, records) = read_paths(std::slice::from_ref(&dir));
    assert_eq!(reports.len(), 6);
    assert_eq!(records.len(), 36);
    let _ = std::fs::remove_dir_all(&dir);
}

// ------------------------------------------------------------------ the real samples

/// The record counts of ../shared/corpus/README.md: the records of the chunks each file header
/// names. `system.evtx` was copied while open: its header names 3 chunks, 15 hold records, and
/// the records of the other 12 are read too, marked `beyond_header`.
#[test]
fn corpus_samples_read_with_their_record_counts() {
    // CI has ../shared/corpus; without it there is nothing to check here.
    let Some(dir) = corpus() else { return };
    let dir = dir.join("evtx");
    for (file, listed, total) in [
        ("2-system-Microsoft-Windows-LiveId%4Operational.evtx", 399, 399),
        ("Microsoft-Windows-HelloForBusiness%4Operational.evtx", 5, 5),
        ("Application_no_crc32.evtx", 17, 17),
        ("Security_short_selected.evtx", 7, 7),
        ("system.evtx", 326, 1881),
    ] {
        let (reports, records) = read_paths(&[dir.join(file)]);
        assert_eq!(reports[0].format, "evtx", "{file}");
        let in_header = records.iter().filter(|e| field(e, "beyond_header").is_none()).count();
        assert_eq!((in_header, records.len()), (listed, total), "{file}: {:?}", reports[0].warnings);
        for e in &records {
            assert!(
                !matches!(e.kind.as_str(), "heartbeat" | "hardware" | "app-restart" | "aad-error" | "teams-license"),
                "{file}: invented {} at {}",
                e.kind,
                e.location
            );
            assert!(
                e.codes.iter().all(|c| !matches!(c.kind(), uctriage_kb::Kind::Teams | uctriage_kb::Kind::Aadsts)),
                "{file}: invented {:?} at {}",
                e.codes,
                e.location
            );
            assert!(!e.source.is_empty(), "{file}: {}", e.location);
        }
    }
    // The wrapped LiveId log comes out oldest first, as Windows shows it.
    let (_, records) = read_paths(&[dir.join("2-system-Microsoft-Windows-LiveId%4Operational.evtx")]);
    assert_eq!(records.first().map(|e| e.location.as_str()), Some("record 2032"));
    assert_eq!(records.last().map(|e| e.location.as_str()), Some("record 2430"));
    // HelloForBusiness: the two level-2 errors.
    let (reports, records) = read_paths(&[dir.join("Microsoft-Windows-HelloForBusiness%4Operational.evtx")]);
    let errors: Vec<u64> = records
        .iter()
        .filter(|e| e.get_str("level") == Some("Error"))
        .filter_map(|e| field(e, "event_id").and_then(serde_json::Value::as_u64))
        .collect();
    assert_eq!(errors, [7210, 7054]);
    assert!(reports[0].warnings.iter().any(|w| w.place.starts_with("record 6")), "{:?}", reports[0].warnings);
}

#[test]
fn corpus_files_cut_in_half_keep_what_comes_before_the_cut() {
    let Some(dir) = corpus() else { return };
    for file in ["system.evtx", "2-system-Microsoft-Windows-LiveId%4Operational.evtx", "Application_no_crc32.evtx"] {
        let bytes = std::fs::read(dir.join("evtx").join(file)).unwrap();
        let half = bytes.len() / 2;
        let (report, records) = read_bytes(file, &bytes[..half], None);
        assert_eq!(report.format, "evtx");
        let chunk = (half - 4096) / 65536;
        let place = format!("chunk {chunk} (byte {})", 4096 + chunk * 65536);
        assert!(
            report.warnings.iter().any(|w| w.place == place && w.message.contains("truncated")),
            "{file}: {place}: {:?}",
            report.warnings
        );
        let (_, all) = read_bytes(file, &bytes, None);
        // A one-chunk file whose records all sit in its first half loses none of them.
        assert!(!records.is_empty() && records.len() <= all.len(), "{file}: {} of {}", records.len(), all.len());
        if bytes.len() > 4096 + 65536 {
            assert!(records.len() < all.len(), "{file}");
        }
        // A damaged chunk in the middle: a warning, and the chunks after it are still read.
        if bytes.len() > 4096 + 3 * 65536 {
            let mut damaged = bytes.clone();
            for b in &mut damaged[4096 + 65536..4096 + 65536 + 512] {
                *b = 0x5A;
            }
            let (report, records) = read_bytes(file, &damaged, None);
            assert!(report.warnings.iter().any(|w| w.place == "chunk 1 (byte 69632)"), "{file}: {:?}", report.warnings);
            assert!(records.len() + 150 > all.len() && records.len() < all.len(), "{file}");
        }
    }
}

// ------------------------------------------------------------------ event-xml

#[test]
fn event_xml_fixtures() {
    let mut all = Vec::new();
    for f in ["skype-room-system.xml", "aad-wevtutil.xml", "system.xml", "device-registration.xml"] {
        let (report, records) = read_fixture(&format!("event-xml/{f}"));
        assert_eq!(report.format, "event-xml", "{f}");
        assert!(report.warnings.is_empty(), "{f}: {:?}", report.warnings);
        all.extend(records);
    }
    let by_loc = |l: &str| all.iter().find(|e| e.location == l).unwrap();
    let hb = by_loc("record 4102");
    assert_eq!((hb.kind.as_str(), codes(hb)), ("heartbeat", vec!["0x80131500".to_owned(), "AADSTS50076".to_owned()]));
    assert_eq!(hb.get_str("exchange_status"), Some("80131500 : AADSTS50076"));
    assert_eq!(hb.time.map(uctriage_evidence::time::rfc3339).as_deref(), Some("2025-07-15T08:30:11Z"));
    assert_eq!(codes(by_loc("record 4103")), ["TEAMS GeneralError"]);
    assert_eq!(by_loc("record 4104").kind, "hardware");
    assert_eq!(by_loc("record 4104").get_str("conference_camera_status"), Some("Unhealthy"));
    assert_eq!(by_loc("record 4105").kind, "app-restart");
    assert!(by_loc("record 4106").get_str("message").is_none());
    assert_eq!(by_loc("record 4106").kind, "event");
    let aad: Vec<(String, Vec<String>)> = all
        .iter()
        .filter(|e| e.source == "Microsoft-Windows-AAD/Operational")
        .map(|e| (e.kind.clone(), codes(e)))
        .collect();
    assert_eq!(aad[0].1[..3], ["0xCAA2000C", "AADSTS50076", "OAUTH interaction_required"]);
    assert_eq!(aad[1].1[..3], ["0xCAA20003", "AADSTS53003", "OAUTH invalid_grant"]);
    assert_eq!(aad[2].1[..2], ["0xCAA20003", "AADSTS50055"]);
    assert_eq!(aad[3].1[..2], ["0xCAA20003", "AADSTS50126"]);
    assert_eq!((aad[4].0.as_str(), aad[4].1[0].as_str()), ("aad-error", "0xC00484B2"));
    assert_eq!((aad[5].0.as_str(), aad[5].1.len()), ("aad-event", 0));
    let first = by_loc("record 881");
    assert_eq!(first.get_str("account"), Some("boardroom@contoso.com"));
    assert_eq!(first.get_str("client_id"), Some("0a0b0c0d-1111-4222-8333-444455556666"));
    assert_eq!(first.get_str("resource"), Some("https://outlook.office365.com/"));
    assert_eq!(by_loc("record 70211").kind, "power");
    assert_eq!(by_loc("record 70215").kind, "power");
    assert_eq!(codes(by_loc("record 70230")), ["0x80070002"]);
    assert_eq!(by_loc("record 512").kind, "device-registration");
    assert_eq!(by_loc("record 512").get_str("error_code"), Some("0x801C03F2"));
    insta::assert_snapshot!(jsonl(&all));
}

#[test]
fn event_xml_utf16_and_truncated() {
    let text = std::fs::read_to_string(fixture("event-xml/aad-wevtutil.xml")).unwrap();
    let (report, records) = read_bytes("aad.xml", &utf16le_bom(&text), None);
    assert_eq!((report.format.as_str(), records.len()), ("event-xml", 6), "{:?}", report.warnings);
    let cut = &text[..text.find("AADSTS50055").unwrap()];
    let (report, records) = read_bytes("aad.xml", cut.as_bytes(), None);
    assert_eq!(records.len(), 2);
    assert!(
        report.warnings.iter().any(|w| w.place.starts_with("event 3 (byte") && w.message.contains("truncated")),
        "{:?}",
        report.warnings
    );
    // Hostile nesting inside an event is walked, not kept.
    let deep = format!(
        "<Event><System><EventID>7</EventID><Channel>X</Channel></System><UserData>{}{}</UserData></Event>",
        "<a>".repeat(100_000),
        "</a>".repeat(100_000)
    );
    let (report, records) = read_bytes("deep.xml", deep.as_bytes(), Some("event-xml"));
    assert_eq!(records.len(), 1, "{:?}", report.warnings);
    let broken = text.replacen("<EventID>1098</EventID>", "<EventID>1098</EventID><<<>>", 1);
    let (report, records) = read_bytes("aad.xml", broken.as_bytes(), Some("event-xml"));
    assert!(!report.warnings.is_empty());
    assert!(records.len() >= 5, "{} {:?}", records.len(), report.warnings);
}

// ------------------------------------------------------------------ event-csv

#[test]
fn event_csv_fixtures() {
    let mut all = Vec::new();
    for f in ["event-viewer-en.csv", "event-viewer-de.csv", "event-viewer-fr.csv", "get-winevent-export.csv"] {
        let (report, records) = read_fixture(&format!("event-csv/{f}"));
        assert_eq!(report.format, "event-csv", "{f}");
        assert!(report.warnings.is_empty(), "{f}: {:?}", report.warnings);
        all.extend(records);
    }
    let t = |e: &Evidence| e.time.map(uctriage_evidence::time::rfc3339).unwrap_or_default();
    // English: month first, AM/PM; the message column has no header and spans lines.
    assert_eq!((all[0].kind.as_str(), t(&all[0]).as_str()), ("heartbeat", "2025-07-15T08:30:11Z"));
    assert_eq!(codes(&all[0]), ["0x80131500", "AADSTS50076"]);
    assert_eq!(all[2].kind, "hardware");
    assert_eq!(t(&all[2]), "2025-07-15T13:36:02Z");
    assert_eq!(all[3].kind, "app-restart");
    assert_eq!(all[4].kind, "aad-error");
    assert_eq!(all[4].source, "Microsoft-Windows-AAD/Operational");
    assert_eq!(all[4].get_str("client_id"), Some("0a0b0c0d-1111-4222-8333-444455556666"));
    assert_eq!(all[4].get_str("resource"), Some("https://outlook.office365.com/"));
    // German: day first with dots, level words translated.
    assert_eq!((t(&all[5]).as_str(), all[5].get_str("level")), ("2025-07-15T10:30:09Z", Some("Error")));
    assert_eq!(codes(&all[5])[..3], ["0xCAA20003", "AADSTS53003", "OAUTH invalid_grant"]);
    assert_eq!(all[6].get_str("level"), Some("Warning"));
    assert_eq!(t(&all[7]), "2025-08-01T09:00:00Z");
    // French: day first with slashes, so 05/07 is the 5th of July.
    assert_eq!((all[8].kind.as_str(), t(&all[8]).as_str()), ("power", "2025-07-05T06:01:02Z"));
    assert_eq!(all[8].get_str("level"), Some("Critical"));
    assert_eq!(all[9].kind, "power");
    // PowerShell Export-Csv.
    assert_eq!((all[11].kind.as_str(), all[11].location.as_str()), ("heartbeat", "record 4102"));
    assert_eq!(codes(&all[12])[..2], ["0xCAA20003", "AADSTS50126"]);
    assert_eq!(t(&all[12]), "2025-07-16T07:05:00Z");
    insta::assert_snapshot!(jsonl(&all));
}

#[test]
fn event_viewer_tab_text_export_in_utf16() {
    let text = "Level\tDate and Time\tSource\tEvent ID\tTask Category\r\n\
        Error\t15/07/2025 08:30:11\tSkype Room System\t2001\tNone\t\"{\"\"Description\"\":\"\"Network status : Healthy. Exchange status : 80131500 : AADSTS50126. Signin status: NotApplicable. Teams Signin status: Unhealthy.\"\",\"\"OperationName\"\":\"\"Heartbeat\"\"}\"\r\n\
        Critical\t15/07/2025 06:01:02\tMicrosoft-Windows-Kernel-Power\t41\t(63)\t\"The system has rebooted without cleanly shutting down first.\r\nThis error could be caused if the system stopped responding.\"\r\n\
        Information\t05/07/2025 06:02:00\tService Control Manager\t7036\tNone\tThe Contoso Room Agent service entered the running state.\r\n";
    let (report, records) = read_bytes("System.txt", &utf16le_bom(text), None);
    assert_eq!(report.format, "event-csv");
    assert!(report.warnings.is_empty(), "{:?}", report.warnings);
    assert_eq!(records.len(), 3);
    assert_eq!(codes(&records[0]), ["0x80131500", "AADSTS50126"]);
    assert_eq!(records[1].kind, "power");
    assert_eq!(records[1].get_str("message"), Some("The system has rebooted without cleanly shutting down first.\r\nThis error could be caused if the system stopped responding."));
    // `15/07` shows the file writes the day first, so `05/07` is the 5th of July.
    assert_eq!(records[2].time.map(uctriage_evidence::time::rfc3339).as_deref(), Some("2025-07-05T06:02:00Z"));
    assert_eq!(records[2].location, "line 5");
}

#[test]
fn event_csv_damaged_rows() {
    // An unclosed quote runs to the end of the file: the row is read as far as it goes.
    let text = "Level,Date and Time,Source,Event ID,Task Category\r\nError,7/15/2025 8:30:11 AM,Microsoft-Windows-AAD,1098,None,\"Error: 0xCAA2000C AADSTS50076\r\nError,7/15/2025 8:31:11 AM,X,1,None,y\r\n";
    let (report, records) = read_bytes("aad.csv", text.as_bytes(), None);
    assert_eq!(report.format, "event-csv");
    assert_eq!(records.len(), 1);
    assert_eq!(codes(&records[0])[..2], ["0xCAA2000C", "AADSTS50076"]);
    // Rows without an ID or a time are named and skipped.
    let text = "Level,Date and Time,Source,Event ID,Task Category\nError,,X,,None,junk\nError,7/15/2025 8:31:11 AM,X,7,None,ok\n";
    let (report, records) = read_bytes("x.csv", text.as_bytes(), None);
    assert_eq!(records.len(), 1);
    assert!(report.warnings.iter().any(|w| w.place == "line 2"), "{:?}", report.warnings);
    // Forced onto text that is no export: one clear warning.
    let (report, records) = read_bytes("x.csv", b"a,b,c\n1,2,3\n", Some("event-csv"));
    assert!(records.is_empty());
    assert!(report.warnings.iter().any(|w| w.message.contains("no Event Viewer")), "{:?}", report.warnings);
}

// ------------------------------------------------------------------ event-json

#[test]
fn event_json_fixtures() {
    let mut all = Vec::new();
    for f in ["get-winevent.json", "single-ps7.json", "compressed-lines.json"] {
        let (report, records) = read_fixture(&format!("event-json/{f}"));
        assert_eq!(report.format, "event-json", "{f}");
        assert!(report.warnings.is_empty(), "{f}: {:?}", report.warnings);
        all.extend(records);
    }
    let t = |e: &Evidence| e.time.map(uctriage_evidence::time::rfc3339).unwrap_or_default();
    assert_eq!(all.len(), 6);
    assert_eq!((all[0].kind.as_str(), t(&all[0]).as_str()), ("heartbeat", "2025-07-15T08:30:11Z"));
    assert_eq!(codes(&all[0]), ["0x80131500", "AADSTS50076"]);
    assert_eq!(all[1].kind, "aad-error");
    assert_eq!(all[1].get_str("error_code"), Some("0xCAA2000C"));
    assert_eq!((all[2].kind.as_str(), t(&all[2]).as_str()), ("power", "2025-07-15T06:01:02Z"));
    assert_eq!((all[3].kind.as_str(), t(&all[3]).as_str()), ("app-restart", "2025-07-15T08:40:00Z"));
    assert_eq!(all[4].kind, "hardware");
    assert_eq!((all[5].kind.as_str(), all[5].location.as_str()), ("heartbeat", "record 4101"));
    insta::assert_snapshot!(jsonl(&all));
}

#[test]
fn event_json_utf16_truncated_and_junk() {
    let text = std::fs::read_to_string(fixture("event-json/get-winevent.json")).unwrap();
    let (report, records) = read_bytes("events.json", &utf16le_bom(&text), None);
    assert_eq!((report.format.as_str(), records.len()), ("event-json", 3), "{:?}", report.warnings);
    let cut = &text[..text.find("Kernel-Power").unwrap()];
    let (report, records) = read_bytes("events.json", cut.as_bytes(), None);
    assert_eq!(records.len(), 2);
    assert!(
        report.warnings.iter().any(|w| w.place.starts_with("line ") && w.message.contains("truncated")),
        "{:?}",
        report.warnings
    );
    // Cut inside the first event: nothing read, and the reader says why.
    let (report, records) =
        read_bytes("x.json", b"[{\"Id\": 2000, \"LogName\": \"Skype Room System\"", Some("event-json"));
    assert!(records.is_empty());
    assert!(report.warnings.iter().any(|w| w.message.contains("truncated")), "{:?}", report.warnings);
    let (report, _) = read_bytes("x.json", b"[{\"Id\": 1, \"ProviderName\": \"x\"}]\n\n  ", Some("event-json"));
    assert!(report.warnings.is_empty(), "trailing blank lines are the end: {:?}", report.warnings);
    let (report, records) = read_bytes("x.json", b"[1, \"two\", {\"Id\": 5}, null]", Some("event-json"));
    assert!(records.is_empty());
    assert!(report.warnings.iter().any(|w| w.message.contains("not events")), "{:?}", report.warnings);
    let (report, _) = read_bytes("x.json", b"[{\"Id\": 1, \"ProviderName\": \"x\"}, }", Some("event-json"));
    assert!(report.warnings.iter().any(|w| w.message.contains("JSON error")), "{:?}", report.warnings);
}

// ------------------------------------------------------------------ detection

#[test]
fn each_export_is_detected_by_content() {
    for (rel, name, format) in [
        ("event-xml/skype-room-system.xml", "a.dat", "event-xml"),
        ("event-xml/aad-wevtutil.xml", "b.txt", "event-xml"),
        ("event-csv/event-viewer-de.csv", "c.txt", "event-csv"),
        ("event-csv/get-winevent-export.csv", "d", "event-csv"),
        ("event-json/get-winevent.json", "e.txt", "event-json"),
        ("event-json/compressed-lines.json", "f.log", "event-json"),
    ] {
        let bytes = std::fs::read(fixture(rel)).unwrap();
        let (report, records) = read_bytes(name, &bytes, None);
        assert_eq!(report.format, format, "{rel}");
        assert!(!records.is_empty(), "{rel}");
    }
    let (report, _) = read_bytes("x.evtx", &generated_evtx(), None);
    assert_eq!(report.format, "evtx");
}

#[test]
fn junk_forced_through_every_windows_reader_never_panics() {
    let mut junk: Vec<u8> = (0..20_000u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8).collect();
    junk.splice(0..0, b"ElfFile\0".iter().copied());
    for format in ["evtx", "event-xml", "event-csv", "event-json"] {
        let (report, _) = read_bytes("junk", &junk, Some(format));
        assert_eq!(report.format, format);
        assert!(
            !report.warnings.iter().any(|w| w.message.contains("failed on this input")),
            "{format}: {:?}",
            report.warnings
        );
    }
}

// ------------------------------------------------------------------ the scenario bundles

/// Every scenario bundle of the fixtures crate: its event logs (template-based records, as
/// Windows writes them, inside zips) read without a warning, and the rooms scenarios give the
/// evidence their diagnosis rests on.
#[test]
fn scenario_bundles_event_logs() {
    use uctriage_fixtures::scenarios;
    let dir = std::env::temp_dir().join(format!("uctriage-test-{}-scenarios", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let summary = |name: &str| -> Vec<(String, Vec<String>)> {
        let s = scenarios().into_iter().find(|s| s.name == name).unwrap();
        let path = dir.join(format!("{name}.zip"));
        std::fs::write(&path, s.build().to_zip_bytes().unwrap()).unwrap();
        let (reports, records) = read_paths(&[path]);
        for r in reports.iter().filter(|r| r.path.to_ascii_lowercase().ends_with(".evtx")) {
            assert_eq!(r.format, "evtx", "{}", r.path);
            assert!(r.warnings.is_empty(), "{}: {:?}", r.path, r.warnings);
        }
        records.iter().filter(|e| e.format == "evtx").map(|e| (e.kind.clone(), codes(e))).collect()
    };
    let has = |all: &[(String, Vec<String>)], kind: &str, want: &[&str]| {
        all.iter().any(|(k, c)| k == kind && want.iter().all(|w| c.iter().any(|x| x == w)))
    };
    let mfa = summary("rooms-mfa");
    assert!(has(&mfa, "heartbeat", &["0x80131500", "AADSTS50076"]), "{mfa:?}");
    assert!(has(&mfa, "aad-error", &["0xCAA2000C", "AADSTS50076", "OAUTH interaction_required"]), "{mfa:?}");
    let proxy = summary("rooms-network-proxy");
    assert!(has(&proxy, "aad-error", &["HTTP 407"]), "{proxy:?}");
    let power = summary("rooms-power-loss");
    assert_eq!(power.iter().filter(|(k, _)| k == "power").count(), 2, "{power:?}");
    assert!(has(&summary("rooms-hardware"), "hardware", &[]));
    assert!(has(&summary("rooms-app-restarts"), "app-restart", &[]));
    assert!(has(&summary("rooms-no-mailbox"), "heartbeat", &["TEAMS GeneralError"]));
    let healthy = summary("rooms-healthy");
    assert!(healthy.iter().all(|(k, c)| c.is_empty() && k != "aad-error" && k != "power"), "{healthy:?}");
    // Every other scenario's logs read cleanly too.
    for s in scenarios() {
        let _ = summary(s.name);
    }
    let _ = std::fs::remove_dir_all(&dir);
}
