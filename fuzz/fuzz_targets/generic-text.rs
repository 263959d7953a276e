#![no_main]
//! Any text a user pastes: the generic reader must never panic.
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = uctriage_sources::read_bytes("fuzz.txt", data, Some("generic-text"));
});
