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
