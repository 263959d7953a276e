//! Lookup cost: normalizing a spelling and finding its entry, the path every reader and rule takes.
//!
//! Run with `cargo bench -p uctriage-kb`. Figures are in docs/benchmarks.md.

use uctriage_kb::KnowledgeBase;

fn main() {
    // Build the knowledge base once, outside the timed loops.
    let _ = KnowledgeBase::builtin();
    divan::main();
}

const SPELLINGS: &[&str] = &[
    "AADSTS50076",
    "aadsts50126:",
    "0xcaa70004",
    "3399942148",
    "2147942402",
    "SIP/2.0 403 Forbidden",
    "560403",
    "ms-diagnostics: 1034;reason=\"Previous hop federated peer did not report diagnostic information\"",
    "Reason: Q.850;cause=63;text=\"service unavailable\"",
    "max_reload_exceeded",
];

#[divan::bench]
fn find_mixed_spellings(b: divan::Bencher) {
    let kb = KnowledgeBase::builtin();
    b.counter(divan::counter::ItemsCount::new(SPELLINGS.len()))
        .bench(|| SPELLINGS.iter().filter(|s| kb.find(divan::black_box(s)).is_some()).count());
}

#[divan::bench]
fn get_canonical(b: divan::Bencher) {
    let kb = KnowledgeBase::builtin();
    let codes: Vec<_> = kb.entries().iter().map(|e| e.code.clone()).collect();
    b.counter(divan::counter::ItemsCount::new(codes.len()))
        .bench(|| codes.iter().filter(|c| kb.get(divan::black_box(c)).is_some()).count());
}

#[divan::bench]
fn normalize_only(b: divan::Bencher) {
    b.counter(divan::counter::ItemsCount::new(SPELLINGS.len())).bench(|| {
        SPELLINGS.iter().filter_map(|s| uctriage_kb::normalize(divan::black_box(s), uctriage_kb::Context::Any)).count()
    });
}

/// Lines as the readers hand them to `extract`: most hold no code (the prefilter's case), some
/// hold URLs, status words or numbers that wake up a pattern without being a code.
const LINES: &[&str] = &[
    "Sun Jun 01 2025 00:00:47 GMT+0000 (Coordinated Universal Time) <6124> -- info -- calendarService: calendar refreshed, 6 meetings",
    "Sun Jun 01 2025 00:01:34 GMT+0000 (Coordinated Universal Time) <6124> -- info -- authService: token refreshed silently for https://api.spaces.skype.com",
    "2025-06-01T00:02:11.120Z Inf\thttps://teams.microsoft.com/api/mt/emea/beta/users/tenants status=200 in 143 ms",
    "Jun  1 00:03:00 sbc01 [S=88123] [SID=d1e2f3:42:7] (N 1201) Outgoing SIP Message to 52.114.76.76:5061 from SIPInterface #1 (Teams) TLS TO(#5)",
    "SIP/2.0 200 OK",
    "CSeq: 1 OPTIONS",
    "2025-06-01 00:04:00 room01 sign-in completed for the resource account, result code 0",
    "2025-06-01 00:05:00 WAM returned error 0xCAA70004 for https://login.microsoftonline.com/common",
    "AADSTS50076: Due to a configuration change made by your administrator you must use MFA.",
    "Reason: Q.850;cause=16;text=\"normal call clearing\"",
    "the quick brown fox jumps over the lazy dog 1234567890 -42 through three threads",
    "{\"level\":\"info\",\"message\":\"heartbeat\",\"status\":\"Healthy\",\"code\":0}",
];

#[divan::bench]
fn extract_log_lines(b: divan::Bencher) {
    let kb = KnowledgeBase::builtin();
    let _ = kb.extract("warm up the extractor");
    b.counter(divan::counter::ItemsCount::new(LINES.len()))
        .bench(|| LINES.iter().map(|l| kb.extract(divan::black_box(l)).len()).sum::<usize>());
}

/// Loading the knowledge base and building the extractor, as every process does once.
#[divan::bench(sample_count = 10)]
fn load_and_first_extract() -> usize {
    let kb = KnowledgeBase::from_sources(uctriage_kb::builtin_files().iter().copied()).expect("valid");
    kb.extract(divan::black_box("sign-in error code 50158")).len()
}
