#![no_main]

use libfuzzer_sys::fuzz_target;
use uctriage_sources::{Evidence, Options, Source};

// Archives: the central directory, and the local headers of an archive cut short.
fuzz_target!(|data: &[u8]| {
    let source = Source::Bytes { name: "fuzz.zip".into(), bytes: data.into() };
    let opts = Options { max_total_bytes: 64 * 1024 * 1024, ..Options::default() };
    uctriage_sources::read(&[source], &opts, Vec::<Evidence>::new, |_, _| {});
});
