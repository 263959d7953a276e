//! The Binary XML walker against the evtx crate's XML: every chunk of the real logs in the shared
//! corpus (when it is there) and of generated logs is read both ways, and the records and warnings
//! must be the same, record by record. Damaged chunks must never panic and must read the same
//! both ways too (the walker giving up on them is fine: the reader then takes the crate's path).

use std::path::Path;

use jiff::Timestamp;
use uctriage_fixtures::evtx_writer::{self, Event, Level, Value};
use uctriage_fixtures::ids::Rng;

use super::*;

/// The shared corpus of real `.evtx` files, next to the repository.
const CORPUS: &str = "../../../shared/corpus/evtx";

fn ctx(path: &str, header_chunks: u64, fast: bool) -> Ctx<'_> {
    Ctx {
        settings: Arc::new(ParserSettings::new().validate_checksums(false).recover_records(true).indent(false)),
        path,
        header_chunks,
        fast,
    }
}

/// The chunk slots of a file, each padded to 64 KiB as the reader pads a short one.
fn chunks(file: &[u8]) -> Vec<(u64, Vec<u8>, Option<usize>)> {
    let body = file.get(HEADER as usize..).unwrap_or_default();
    body.chunks(CHUNK)
        .enumerate()
        .map(|(n, c)| {
            let mut bytes = c.to_vec();
            let short = (c.len() < CHUNK).then_some(c.len());
            bytes.resize(CHUNK, 0);
            (n as u64, bytes, short)
        })
        .collect()
}

fn header_chunks(file: &[u8]) -> u64 {
    file.get(42..44).map_or(0, |b| u64::from(u16::from_le_bytes([b[0], b[1]])))
}

/// What the comparison of some chunks saw.
#[derive(Debug, Default)]
struct Tally {
    chunks: usize,
    /// Chunks whose live records the walker read itself.
    walked: usize,
    /// Records compared (both ways), and those of them the walker made.
    records: usize,
    walked_records: usize,
    warnings: usize,
}

/// Read one chunk both ways and require the same records and warnings.
fn compare_chunk(
    name: &str,
    ctx_fast: &Ctx<'_>,
    ctx_crate: &Ctx<'_>,
    chunk: &(u64, Vec<u8>, Option<usize>),
    tally: &mut Tally,
) {
    let (number, bytes, short) = chunk;
    let raw = |bytes: &Vec<u8>| RawChunk { number: *number, bytes: bytes.clone(), short: *short };
    let walker = catch_unwind(AssertUnwindSafe(|| evtx_binxml::read_chunk(bytes)))
        .unwrap_or_else(|_| panic!("{name} chunk {number}: the walker panicked"));
    let fast = read_chunk_guarded(raw(bytes), ctx_fast);
    let slow = read_chunk_guarded(raw(bytes), ctx_crate);
    tally.chunks += 1;
    tally.records += slow.records.len();
    tally.warnings += slow.warnings.len();
    if let Ok(w) = &walker {
        tally.walked += 1;
        tally.walked_records += w.records.len();
        compare_events(name, *number, bytes, w);
    }
    for (i, (a, b)) in fast.records.iter().zip(&slow.records).enumerate() {
        assert_eq!(
            a,
            b,
            "{name} chunk {number}, record #{i} ({}): the walker's record differs from the crate's (walker: {:?})",
            b.location,
            walker.as_ref().err()
        );
    }
    assert_eq!(
        fast.records.len(),
        slow.records.len(),
        "{name} chunk {number}: {} records from the walker's path, {} from the crate's",
        fast.records.len(),
        slow.records.len()
    );
    assert_eq!(fast.warnings, slow.warnings, "{name} chunk {number}: the warnings differ");
}

/// The walker's events against those `parse_one` reads from the crate's XML of the live records.
fn compare_events(name: &str, number: u64, bytes: &[u8], walked: &evtx_binxml::FastChunk) {
    let settings = Arc::new(ParserSettings::new().validate_checksums(false).recover_records(true).indent(false));
    let mut data = EvtxChunkData::new(bytes.to_vec(), false).expect("the walker read this chunk");
    let mut chunk = data.parse(settings).expect("the walker read this chunk");
    let mut live = Vec::new();
    let mut carved = false;
    for record in chunk.iter() {
        let record = record.expect("the walker read every record");
        if record.recovered {
            carved = true;
            continue;
        }
        let id = record.event_record_id;
        let xml = record.into_xml_bytes().expect("renders").data;
        live.push((id, parse_one(&xml).expect("reads")));
    }
    assert!(!carved || walked.slack, "{name} chunk {number}: carved records but no slack seen");
    assert_eq!(walked.records.len(), live.len(), "{name} chunk {number}: live record count");
    for ((id, ev), (crate_id, crate_ev)) in walked.records.iter().zip(&live) {
        assert_eq!(id, crate_id, "{name} chunk {number}: record IDs");
        assert_eq!(ev, crate_ev, "{name} chunk {number} record {id}: the walker's event differs");
    }
}

fn compare_file(name: &str, file: &[u8], tally: &mut Tally) {
    let n = header_chunks(file);
    let (fast, slow) = (ctx(name, n, true), ctx(name, n, false));
    for chunk in chunks(file) {
        compare_chunk(name, &fast, &slow, &chunk, tally);
    }
}

#[test]
#[allow(clippy::print_stderr)]
fn corpus_reads_the_same_both_ways() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join(CORPUS);
    let Ok(entries) = std::fs::read_dir(&dir) else {
        eprintln!("skipped: no corpus at {}", dir.display());
        return;
    };
    let mut files: Vec<_> =
        entries.flatten().map(|e| e.path()).filter(|p| has_ext(&p.to_string_lossy(), "evtx")).collect();
    files.sort();
    let mut tally = Tally::default();
    for path in &files {
        let bytes = std::fs::read(path).unwrap();
        let mut one = Tally::default();
        compare_file(&path.display().to_string(), &bytes, &mut one);
        eprintln!("{}: {one:?}", path.file_name().unwrap_or_default().to_string_lossy());
        tally.chunks += one.chunks;
        tally.walked += one.walked;
        tally.records += one.records;
        tally.walked_records += one.walked_records;
        tally.warnings += one.warnings;
    }
    eprintln!("corpus ({} files): {tally:?}", files.len());
    if !files.is_empty() {
        assert!(tally.walked * 4 >= tally.chunks * 3, "the walker read too few corpus chunks itself: {tally:?}");
    }
}

fn time(rng: &mut Rng) -> Timestamp {
    Timestamp::from_second(1_600_000_000 + rng.below(200_000_000) as i64).unwrap()
}

/// Text of many kinds: plain, XML's special characters, controls, non-Latin scripts, emoji,
/// padding spaces, long.
fn text(rng: &mut Rng) -> String {
    let pieces = [
        "plain",
        "AADSTS50076",
        "a & b < c > d \"e\" 'f'",
        "tab\there\r\nnew line",
        "ctl\u{1}\u{7}\u{1f}x",
        "Größe ünïcödé",
        "日本語のテキスト",
        "emoji 😀 here",
        "  padded  ",
        "{\"Description\":\"Network status : Healthy.\",\"OperationName\":\"Heartbeat\"}",
        "0x80131500",
        "",
        "]]> <![CDATA[ x",
        "\u{fffd}\u{fffe}\u{ffff}",
    ];
    let mut s = String::new();
    for _ in 0..=rng.below(4) {
        s.push_str(rng.pick::<&str>(&pieces));
    }
    if rng.below(20) == 0 {
        let unit = (*rng.pick(&pieces[..])).to_owned() + "-";
        while s.len() < 6000 {
            s.push_str(&unit);
        }
    }
    s
}

fn value(rng: &mut Rng) -> Value {
    match rng.below(17) {
        0 => Value::Null,
        1..=3 => Value::Str(text(rng)),
        4 => Value::U8(rng.next_u64() as u8),
        5 => Value::U16(rng.next_u64() as u16),
        6 => Value::U32(rng.next_u64() as u32),
        7 => Value::U64(rng.next_u64()),
        8 => Value::I32(rng.next_u64() as i32),
        9 => Value::I64(rng.next_u64() as i64),
        10 => Value::Hex32(rng.next_u64() as u32 >> rng.below(32)),
        11 => Value::Hex64(rng.next_u64() >> rng.below(64)),
        12 => Value::Bool(rng.below(2) == 0),
        13 => Value::Guid(rng.guid()),
        14 => Value::FileTime(time(rng)),
        15 => Value::Binary((0..rng.below(40)).map(|_| rng.next_u64() as u8).collect()),
        _ => Value::Sid(format!("S-1-5-21-{}-{}-{}", rng.below(1 << 31), rng.below(1 << 31), rng.below(5000))),
    }
}

/// Events of many shapes: every level, with and without optional System parts, event data
/// named and unnamed of every value type, user data with and without a namespace.
fn events(seed: &str, count: usize) -> Vec<Event> {
    let mut rng = Rng::new(seed);
    let channels = ["Application", "System", "Skype Room System", "Microsoft-Windows-AAD/Operational", "Ünïcode/Ça"];
    let providers = ["SRS_App", "Microsoft-Windows-AAD", "Microsoft-Windows-Kernel-Power", "EventLog", "Prov-Ω"];
    let levels = [Level::LogAlways, Level::Critical, Level::Error, Level::Warning, Level::Information, Level::Verbose];
    let names = ["Error", "ErrorMessage", "Description", "Data_1", "UPN", "x"];
    let mut out = Vec::new();
    for i in 0..count {
        let mut e = Event::new(
            rng.pick::<&str>(&channels),
            rng.pick::<&str>(&providers),
            rng.below(5000) as u16,
            time(&mut rng),
        )
        .level(*rng.pick(&levels[..]))
        .computer(if rng.below(3) == 0 { "MTR-Ünï-01" } else { "MTR-BOARDRM-01" });
        if rng.below(2) == 0 {
            e = e
                .provider_guid(rng.guid())
                .keywords(rng.next_u64())
                .task(rng.below(100) as u16)
                .opcode(rng.below(9) as u8);
        }
        if rng.below(3) == 0 {
            e = e.event_source_name(rng.pick::<&str>(&providers)).qualifiers(rng.below(3) as u16).version(1);
        }
        if rng.below(3) == 0 {
            e = e.process(rng.below(70_000) as u32, rng.below(70_000) as u32).activity_id(rng.guid());
        }
        if rng.below(4) == 0 {
            e = e.user_sid("S-1-5-18");
        }
        if rng.below(5) == 0 {
            e = e.record_id(1_000_000 + i as u64);
        }
        match rng.below(6) {
            0 => {}
            1 => {
                let items =
                    (0..rng.below(5)).map(|k| (format!("{}{k}", *rng.pick(&names[..])), value(&mut rng))).collect();
                let ns = (rng.below(2) == 0).then_some("http://manifests.example/evt");
                e = e.user_data(if rng.below(2) == 0 { "EventXML" } else { "RoomEvent" }, ns, items);
            }
            2 => {
                for _ in 0..=rng.below(4) {
                    e = e.data_unnamed(value(&mut rng));
                }
            }
            _ => {
                for _ in 0..=rng.below(8) {
                    e = e.data(rng.pick::<&str>(&names), value(&mut rng));
                }
            }
        }
        out.push(e);
    }
    out
}

#[test]
#[allow(clippy::print_stderr)]
fn generated_logs_read_the_same_both_ways() {
    let mut tally = Tally::default();
    for seed in ["shapes-a", "shapes-b", "shapes-c"] {
        let file = evtx_writer::to_bytes(&events(seed, 700)).unwrap();
        compare_file(seed, &file, &mut tally);
    }
    for scenario in uctriage_fixtures::scenarios() {
        for f in scenario.build().files() {
            if has_ext(&f.path, "evtx") {
                compare_file(&format!("{}/{}", scenario.name, f.path), &f.bytes, &mut tally);
            }
        }
    }
    eprintln!("generated: {tally:?}");
    assert_eq!(tally.walked, tally.chunks, "the walker gave up on a generated chunk: {tally:?}");
    assert!(tally.records > 2000, "{tally:?}");
}

/// The chunks to damage: the corpus's when it is there, and generated ones.
fn sample_chunks() -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join(CORPUS);
    if let Ok(entries) = std::fs::read_dir(&dir) {
        let mut files: Vec<_> = entries.flatten().map(|e| e.path()).collect();
        files.sort();
        for path in files {
            let bytes = std::fs::read(&path).unwrap_or_default();
            for (n, c, _) in chunks(&bytes).into_iter().take(3) {
                out.push((format!("{} chunk {n}", path.display()), c));
            }
        }
    }
    let file = evtx_writer::to_bytes(&events("damage", 200)).unwrap();
    for (n, c, _) in chunks(&file) {
        out.push((format!("generated chunk {n}"), c));
    }
    out
}

#[test]
#[allow(clippy::print_stderr)]
fn damaged_chunks_read_the_same_both_ways() {
    let (fast, slow) = (ctx("damaged.evtx", 1000, true), ctx("damaged.evtx", 1000, false));
    let mut rng = Rng::new("damage");
    let mut tally = Tally::default();
    for (name, chunk) in sample_chunks() {
        if chunk.iter().all(|b| *b == 0) {
            continue;
        }
        let free = (u32::from_le_bytes(chunk[48..52].try_into().unwrap()) as usize).clamp(513, CHUNK);
        for round in 0..40 {
            let mut bytes = chunk.clone();
            let what = match round % 5 {
                // A few bytes flipped among the records (templates, names, values, headers).
                0 | 1 => {
                    for _ in 0..=rng.below(6) {
                        let at = 512 + rng.below((free - 512) as u64) as usize;
                        bytes[at] ^= 1 << rng.below(8);
                    }
                    "flipped bits"
                }
                // A byte set to a value that means something in Binary XML.
                2 => {
                    let at = 512 + rng.below((free - 512) as u64) as usize;
                    bytes[at] =
                        *rng.pick(&[0x00, 0x01, 0x02, 0x04, 0x05, 0x0c, 0x0e, 0x0f, 0x21, 0x41, 0x81, 0xff][..]);
                    "a token byte"
                }
                // Cut: the rest of the chunk zeroed.
                3 => {
                    let at = 512 + rng.below((free - 512) as u64) as usize;
                    bytes[at..].fill(0);
                    "truncated"
                }
                // A run of garbage.
                _ => {
                    let at = 512 + rng.below((CHUNK - 600) as u64) as usize;
                    for b in &mut bytes[at..at + 1 + rng.below(64) as usize] {
                        *b = rng.next_u64() as u8;
                    }
                    "garbage"
                }
            };
            compare_chunk(&format!("{name} ({what}, round {round})"), &fast, &slow, &(0, bytes, None), &mut tally);
        }
    }
    // Random bytes under a valid chunk header.
    for round in 0..50 {
        let Some((_, chunk)) = sample_chunks().into_iter().last() else { break };
        let mut bytes = chunk[..512].to_vec();
        bytes.extend((512..CHUNK).map(|_| if round % 2 == 0 { rng.next_u64() as u8 } else { rng.below(3) as u8 }));
        compare_chunk(&format!("random chunk {round}"), &fast, &slow, &(0, bytes, None), &mut tally);
    }
    eprintln!("damaged: {tally:?}");
    assert!(tally.chunks > 100, "{tally:?}");
    // Most damage leaves records the walker still reads (a flipped bit in a value, say).
    assert!(tally.walked * 5 >= tally.chunks, "{tally:?}");
}
