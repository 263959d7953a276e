#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = uctriage_sources::read_bytes("fuzz.jsonl", data, Some("evidence-jsonl"));
});
