//! Event bodies as the store keeps them: deflated against a preset dictionary of the evidence
//! JSON a room sends most (a heartbeat), so that a stored heartbeat takes about 50 bytes instead
//! of about two kilobytes, and the rarer records a fifth of their size or less.
//!
//! Bytes written per record are what the SQLite writer's slowest answers follow: every commit
//! copies its pages to the WAL and a checkpoint copies them again. Packed bodies let small
//! pages hold several events, so a small batch dirties few of them.
//!
//! A packed body starts with one byte naming how the rest is stored:
//! - `0`: the JSON as it is (UTF-8);
//! - `1`: raw deflate against [`DICTIONARY_1`].
//!
//! A dictionary can never change once bodies were packed with it: a new one gets a new tag,
//! and the old tag stays readable. The test `dictionary_one_is_fixed` holds its checksum.

use flate2::{Compress, Compression, Decompress, FlushCompress, FlushDecompress, Status};

use crate::{Result, StoreError};

/// Stored as written.
const PLAIN: u8 = 0;
/// Deflated against [`DICTIONARY_1`].
const DEFLATE_1: u8 = 1;

/// What deflate may find earlier matches in: one heartbeat as the server stores it, from our own
/// generated fleet. A heartbeat packs to about 50 bytes against it, and the rarer records
/// (hardware checks, app restarts, sign-in errors) to a fifth of their size or less. Every
/// record sets the dictionary again, which costs in proportion to its length: one of about
/// 10 KB holding a sample of each kind of record took a seventh of the server's CPU at 10,000
/// records a second, for 50 to 400 bytes less on the rarer records.
pub(crate) const DICTIONARY_1: &[u8] = include_bytes!("../data/event-body-dictionary-1.json");

/// Fast deflate: the writer's commit waits on the disk, not on this, and level 1 against the
/// dictionary already finds the long repeated runs that make up most of a record.
const LEVEL: u32 = 1;

/// The most a packed body may expand to (the ingest limit for one request is far below it).
const MAX_BODY: usize = 64 << 20;

thread_local! {
    static DEFLATE: std::cell::RefCell<Option<Compress>> = const { std::cell::RefCell::new(None) };
    static INFLATE: std::cell::RefCell<Option<Decompress>> = const { std::cell::RefCell::new(None) };
}

/// A body packed for storage.
pub fn pack(body: &str) -> Vec<u8> {
    let packed = DEFLATE.with(|cell| {
        let mut cell = cell.borrow_mut();
        let c = cell.get_or_insert_with(|| Compress::new(Compression::new(LEVEL), false));
        c.reset();
        deflate(c, body.as_bytes())
    });
    match packed {
        Some(p) if p.len() < body.len() + 1 => p,
        _ => {
            let mut plain = Vec::with_capacity(body.len() + 1);
            plain.push(PLAIN);
            plain.extend_from_slice(body.as_bytes());
            plain
        }
    }
}

fn deflate(c: &mut Compress, input: &[u8]) -> Option<Vec<u8>> {
    c.set_dictionary(DICTIONARY_1).ok()?;
    let mut out = Vec::with_capacity(input.len() / 3 + 64);
    out.push(DEFLATE_1);
    loop {
        let done = usize::try_from(c.total_in()).ok()?;
        if out.len() == out.capacity() {
            out.reserve(out.capacity());
        }
        match c.compress_vec(input.get(done..)?, &mut out, FlushCompress::Finish).ok()? {
            Status::StreamEnd => return Some(out),
            Status::Ok | Status::BufError => {}
        }
    }
}

/// A stored body read back. `what` names the record for the error.
pub fn unpack(packed: &[u8], what: &str) -> Result<String> {
    let bad = |why: &str| StoreError::Invalid(format!("stored body of {what} cannot be read: {why}"));
    let (&tag, rest) = packed.split_first().ok_or_else(|| bad("empty"))?;
    let bytes = match tag {
        PLAIN => rest.to_vec(),
        DEFLATE_1 => INFLATE.with(|cell| {
            let mut cell = cell.borrow_mut();
            let d = cell.get_or_insert_with(|| Decompress::new(false));
            d.reset(false);
            inflate(d, rest).map_err(|why| bad(&why))
        })?,
        other => return Err(bad(&format!("unknown packing {other}"))),
    };
    String::from_utf8(bytes).map_err(|_| bad("not UTF-8"))
}

/// Inflate one packed body (after its tag) on a reused state.
fn inflate(d: &mut Decompress, rest: &[u8]) -> std::result::Result<Vec<u8>, String> {
    d.set_dictionary(DICTIONARY_1).map_err(|e| e.to_string())?;
    let mut out = Vec::with_capacity(rest.len() * 4 + 64);
    loop {
        let done = usize::try_from(d.total_in()).map_err(|_| "too long".to_owned())?;
        if out.len() == out.capacity() {
            if out.len() >= MAX_BODY {
                return Err("it expands past 64 MiB".into());
            }
            out.reserve(out.capacity());
        }
        let before = (d.total_in(), d.total_out());
        let input = rest.get(done..).unwrap_or_default();
        match d.decompress_vec(input, &mut out, FlushDecompress::Finish).map_err(|e| e.to_string())? {
            Status::StreamEnd => return Ok(out),
            _ if (d.total_in(), d.total_out()) == before && out.len() < out.capacity() => {
                return Err("truncated".into());
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    const ADLER: u32 = 4_139_592_208;
    const DICTIONARY_LEN: usize = 1715;

    /// A heartbeat as the server stores one, with values the dictionary does not hold.
    const HEARTBEAT: &str = r#"{"path":"push","format":"event-json","location":"record 88123","time":"2027-01-09T11:20:04.1234567Z","source":"Skype Room System","kind":"heartbeat","codes":[],"fields":{"alias":"boardroom-7","app_version":"5.3.12.0","channel":"Skype Room System","computer":"MTR-7F3K2Q","data":{"Data1":"{\"Description\":\"Network status : Healthy. Exchange status : Connected. Signin status: NotApplicable. Teams Signin status: Healthy.\",\"ResourceState\":\"Healthy\",\"OperationName\":\"Heartbeat\",\"OperationResult\":\"Pass\",\"OS\":\"Windows 11\",\"OSVersion\":\"10.0.26100.2605\",\"Alias\":\"boardroom-7\",\"DisplayName\":\"Boardroom 7\",\"AppVersion\":\"5.3.12.0\",\"IPv4Address\":\"10.44.3.17\",\"IPv6Address\":\"\"}"},"event_id":2000,"level":"Information","network_status":"Healthy","record_id":88123},"excerpt":"\u0001message"}"#;

    #[test]
    fn a_heartbeat_packs_to_a_fraction_and_back() {
        let packed = pack(HEARTBEAT);
        assert_eq!(packed[0], DEFLATE_1);
        assert!(packed.len() * 5 < HEARTBEAT.len(), "{} bytes packed from {}", packed.len(), HEARTBEAT.len());
        assert_eq!(unpack(&packed, "t").unwrap(), HEARTBEAT);
    }

    #[test]
    fn what_deflate_cannot_shrink_is_kept_plain() {
        for body in ["", "x", "{}"] {
            let packed = pack(body);
            assert_eq!(packed[0], PLAIN, "{body:?}");
            assert_eq!(unpack(&packed, "t").unwrap(), body);
        }
    }

    #[test]
    fn a_large_body_round_trips() {
        let body = format!("[{}]", vec![HEARTBEAT; 600].join(","));
        let packed = pack(&body);
        assert!(packed.len() < body.len() / 20);
        assert_eq!(unpack(&packed, "t").unwrap(), body);
    }

    #[test]
    fn damaged_bodies_are_errors_that_name_the_record() {
        let packed = pack(HEARTBEAT);
        let cut = &packed[..packed.len() / 2];
        for (bytes, why) in [
            (&[][..], "empty"),
            (&[7, 1, 2][..], "unknown packing 7"),
            (cut, "truncated"),
            (&[PLAIN, 0xff, 0xfe][..], "not UTF-8"),
        ] {
            let e = unpack(bytes, "event 9 of room rm1").unwrap_err().to_string();
            assert!(e.contains("event 9 of room rm1") && e.contains(why), "{e}");
        }
    }

    proptest! {
        #[test]
        fn any_text_round_trips(body in ".{0,3000}") {
            prop_assert_eq!(unpack(&pack(&body), "t").unwrap(), body);
        }

        #[test]
        fn any_bytes_unpack_without_panic(bytes in proptest::collection::vec(any::<u8>(), 0..600), tag in 0u8..3) {
            let mut b = vec![tag];
            b.extend(bytes);
            let _ = unpack(&b, "t");
        }
    }

    #[test]
    fn dictionary_one_is_fixed() {
        // Bodies already stored depend on every byte of it: a changed dictionary needs a new tag.
        // With the zlib header the answer is the dictionary's Adler-32 checksum.
        let mut c = Compress::new(Compression::new(LEVEL), true);
        let adler = c.set_dictionary(DICTIONARY_1).expect("the dictionary is accepted");
        assert_eq!((DICTIONARY_1.len(), adler), (DICTIONARY_LEN, ADLER), "dictionary 1 changed");
    }
}
