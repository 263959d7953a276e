//! Windows event log files (`.evtx`): records read from the chunks' Binary XML, the evtx crate
//! behind it.
//!
//! A file is a 4 KiB header and 64 KiB chunks that stand on their own, so the chunks are parsed
//! in parallel on the rayon pool, a few at a time, and their records handed over in order. A
//! chunk's live records are read by our own Binary XML walker ([`evtx_binxml`]) straight into the
//! shared [`WinEvent`], through the same builder the `event-xml` parser fills. When the walker
//! meets anything it does not handle (a damaged record, a value type it does not render, …) the
//! whole chunk is read the older way instead: each record rendered to XML by the evtx crate and
//! read back by the `event-xml` parser, which is what the walker is tested against record by
//! record. Records carved from a chunk's unused space always come from the crate (`recovered:
//! true`); when a chunk has some, the crate reads it again for them alone. Checksums are not
//! enforced (chunks written without CRC32 are read), and a damaged chunk or record is a warning
//! naming the chunk and its byte offset while the rest is read.
//!
//! The evtx crate's own chunk pipeline is not used: it blocks a thread on a channel while its
//! workers run on the same rayon pool, which deadlocks when every pool thread is reading an
//! `.evtx` at once (two files on a two-core machine). A parallel iterator waits by working.
//!
//! Files on disk and archive entries up to [`IN_MEMORY_MAX`] are read in record order (a full
//! log wraps around, its oldest chunk anywhere in the file); larger archive entries are streamed
//! in file order so that memory stays bounded.

use std::io::{self, Cursor, Read, Seek, SeekFrom};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Arc;

use evtx::{EvtxChunkData, EvtxChunkHeader, ParserSettings};
use rayon::prelude::*;
use uctriage_evidence::Evidence;

use super::event_xml::parse_one;
use super::evtx_binxml;
use super::windows_event::{has_ext, to_evidence_owned, WinEvent};
use super::{Emitter, ReadError, Reader};
use crate::input::{read_full, Head, Input};

#[derive(Debug)]
pub struct Evtx;

const MAGIC: &[u8] = b"ElfFile\0";
const HEADER: u64 = 4096;
const CHUNK: usize = 65536;
/// Archive entries up to this size are held in memory so they can be read in record order.
pub const IN_MEMORY_MAX: u64 = 64 * 1024 * 1024;

trait ReadSeek: Read + Seek + Send {}
impl<T: Read + Seek + Send> ReadSeek for T {}

/// The chunks of a file, in the order to read them.
enum Chunks {
    /// Seekable: every chunk's slot, oldest records first.
    Seek { src: Box<dyn ReadSeek>, order: std::vec::IntoIter<u64>, len: u64 },
    /// A stream: chunks as they come.
    Stream { src: Box<dyn Read + Send>, next: u64, done: bool },
}

/// A chunk's bytes, or why it could not be had. `short` is set when the file ends inside it.
struct RawChunk {
    number: u64,
    bytes: Vec<u8>,
    short: Option<usize>,
}

fn offset(number: u64) -> u64 {
    HEADER + number * CHUNK as u64
}

impl Chunks {
    /// Order the chunk slots as Windows reads a log: from the one holding the lowest record
    /// ID to the end of the file, then from the start.
    fn seekable(mut src: Box<dyn ReadSeek>) -> io::Result<Self> {
        let len = src.seek(SeekFrom::End(0))?;
        let slots = len.saturating_sub(HEADER).div_ceil(CHUNK as u64);
        let mut oldest: Option<(u64, u64)> = None;
        let mut head = [0u8; 512];
        for n in 0..slots {
            src.seek(SeekFrom::Start(offset(n)))?;
            if read_full(&mut src, &mut head)? < head.len() {
                break;
            }
            if let Ok(h) = EvtxChunkHeader::from_bytes(&head) {
                if h.first_event_record_id <= h.last_event_record_id
                    && oldest.is_none_or(|(first, _)| h.first_event_record_id < first)
                {
                    oldest = Some((h.first_event_record_id, n));
                }
            }
        }
        let start = oldest.map_or(0, |(_, n)| n);
        let order: Vec<u64> = (start..slots).chain(0..start).collect();
        Ok(Chunks::Seek { src, order: order.into_iter(), len })
    }

    fn next(&mut self) -> Option<io::Result<RawChunk>> {
        match self {
            Chunks::Seek { src, order, len } => {
                let number = order.next()?;
                let at = offset(number);
                let want = usize::try_from((*len - at).min(CHUNK as u64)).unwrap_or(CHUNK);
                let mut bytes = vec![0u8; CHUNK];
                let got = src.seek(SeekFrom::Start(at)).and_then(|_| read_full(src, &mut bytes[..want]));
                Some(got.map(|got| RawChunk { number, bytes, short: (got < CHUNK).then_some(got) }))
            }
            Chunks::Stream { src, next, done } => {
                if *done {
                    return None;
                }
                let mut bytes = vec![0u8; CHUNK];
                let got = match read_full(src, &mut bytes) {
                    Ok(g) => g,
                    Err(e) => {
                        *done = true;
                        return Some(Err(e));
                    }
                };
                if got == 0 {
                    *done = true;
                    return None;
                }
                let number = *next;
                *next += 1;
                if got < CHUNK {
                    *done = true;
                }
                Some(Ok(RawChunk { number, bytes, short: (got < CHUNK).then_some(got) }))
            }
        }
    }
}

/// What one chunk gave: records and warnings (place, message), in order.
#[derive(Default)]
struct ChunkOut {
    records: Vec<Evidence>,
    warnings: Vec<(String, String)>,
}

/// An error with its causes, which carry the useful part (`…: invalid record magic`).
fn chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    let mut depth = 0;
    while let Some(c) = cur {
        let t = c.to_string();
        if !s.contains(&t) {
            s.push_str(": ");
            s.push_str(&t);
        }
        cur = c.source();
        depth += 1;
        if depth > 6 {
            break;
        }
    }
    s
}

/// Where the records of a chunk go, and what the file header says about the file.
struct Ctx<'a> {
    settings: Arc<ParserSettings>,
    path: &'a str,
    /// Chunks the file header names; a log copied while open often has more.
    header_chunks: u64,
    /// Read records from the chunk bytes ([`evtx_binxml`]) when the walker can; off, every record
    /// goes through the evtx crate's XML (the tests compare the two).
    fast: bool,
}

fn read_chunk(raw: RawChunk, ctx: &Ctx<'_>) -> ChunkOut {
    let mut out = ChunkOut::default();
    let place = format!("chunk {} (byte {})", raw.number, offset(raw.number));
    if let Some(got) = raw.short {
        if got < 512 {
            out.warnings
                .push((place, format!("the file ends {got} bytes into this chunk (truncated): nothing more to read")));
            return out;
        }
        out.warnings.push((
            place.clone(),
            format!("the file ends {got} bytes into this 65536-byte chunk (truncated): only the records before the cut were read"),
        ));
    }
    if raw.bytes.iter().all(|b| *b == 0) {
        return out;
    }
    if ctx.fast {
        if let Ok(fast) = evtx_binxml::read_chunk(&raw.bytes) {
            let mut done = ChunkOut { records: Vec::with_capacity(fast.records.len()), warnings: out.warnings.clone() };
            let ids: Vec<u64> = fast.records.iter().map(|(id, _)| *id).collect();
            for (id, ev) in fast.records {
                keep(&mut done, ctx, raw.number, &place, id, false, Ok(ev));
            }
            // Records carved from the unused space come from the evtx crate, which the walker
            // leaves them to; it reads the live records again but does not render them.
            if !fast.slack || with_crate(raw.bytes.clone(), raw.number, ctx, &place, &mut done, Some(&ids)).is_ok() {
                return done;
            }
        }
    }
    let _ = with_crate(raw.bytes, raw.number, ctx, &place, &mut out, None);
    out
}

/// Read a chunk's records with the evtx crate: each is rendered to XML and read by `parse_one`.
/// With `live`, the IDs of the live records the walker read, only the carved ones are kept, and
/// any disagreement with the walker (another live record, an error) is an `Err`, to read the
/// whole chunk with the crate instead.
fn with_crate(
    bytes: Vec<u8>,
    number: u64,
    ctx: &Ctx<'_>,
    place: &str,
    out: &mut ChunkOut,
    live: Option<&[u64]>,
) -> Result<(), ()> {
    let mut data = match EvtxChunkData::new(bytes, false) {
        Ok(d) => d,
        Err(_) if live.is_some() => return Err(()),
        Err(e) => {
            out.warnings.push((place.to_owned(), format!("not a readable chunk, skipped: {}", chain(&e))));
            return Ok(());
        }
    };
    data.number = Some(number);
    let mut chunk = match data.parse(Arc::clone(&ctx.settings)) {
        Ok(c) => c,
        Err(_) if live.is_some() => return Err(()),
        Err(e) => {
            out.warnings.push((place.to_owned(), format!("chunk could not be parsed, skipped: {}", chain(&e))));
            return Ok(());
        }
    };
    let mut live_seen = 0;
    for record in chunk.iter() {
        let record = match record {
            Ok(r) => r,
            Err(_) if live.is_some() => return Err(()),
            Err(e) => {
                out.warnings.push((place.to_owned(), format!("damaged record skipped: {}", chain(&e))));
                continue;
            }
        };
        let id = record.event_record_id;
        let recovered = record.recovered;
        if let Some(ids) = live {
            if !recovered {
                if ids.get(live_seen) != Some(&id) {
                    return Err(());
                }
                live_seen += 1;
                continue;
            }
        }
        let xml = match record.into_xml_bytes() {
            Ok(x) => x.data,
            // Carved candidates that do not render are noise, not damage.
            Err(_) if recovered => continue,
            Err(e) => {
                out.warnings
                    .push((format!("record {id} ({place})"), format!("record could not be rendered: {}", chain(&e))));
                continue;
            }
        };
        keep(out, ctx, number, place, id, recovered, parse_one(&xml));
    }
    match live {
        Some(ids) if live_seen != ids.len() => Err(()),
        _ => Ok(()),
    }
}

/// One record's event, or why it could not be read, to a record or a warning.
fn keep(
    out: &mut ChunkOut,
    ctx: &Ctx<'_>,
    number: u64,
    place: &str,
    id: u64,
    recovered: bool,
    parsed: Result<WinEvent, String>,
) {
    match parsed {
        Ok(ev) if ev.provider.is_empty() && ev.channel.is_empty() && ev.event_id.unwrap_or(0) == 0 => {
            if !recovered {
                out.warnings.push((
                    format!("record {id} ({place})"),
                    "damaged record skipped: it names no provider, channel or event ID".into(),
                ));
            }
        }
        Ok(mut ev) => {
            ev.recovered = recovered;
            if ev.record_id.is_none() {
                ev.record_id = Some(id);
            }
            let mut e = to_evidence_owned(ev, Evidence::new(ctx.path, "evtx", format!("record {id}")));
            if number >= ctx.header_chunks {
                e.field("beyond_header", true);
            }
            out.records.push(e);
        }
        Err(_) if recovered => {}
        Err(e) => {
            out.warnings.push((format!("record {id} ({place})"), format!("record XML could not be read: {e}")));
        }
    }
}

/// Read a chunk without letting a panic in the parser end the whole file.
fn read_chunk_guarded(raw: RawChunk, ctx: &Ctx<'_>) -> ChunkOut {
    let number = raw.number;
    catch_unwind(AssertUnwindSafe(|| read_chunk(raw, ctx))).unwrap_or_else(|_| ChunkOut {
        records: Vec::new(),
        warnings: vec![(
            format!("chunk {number} (byte {})", offset(number)),
            "the evtx parser failed on this chunk; it was skipped".into(),
        )],
    })
}

impl Reader for Evtx {
    fn format(&self) -> &'static str {
        "evtx"
    }

    fn detect(&self, name: &str, head: &Head<'_>) -> u8 {
        if self.signature(head.bytes()) {
            super::SIGNATURE
        } else if has_ext(name, "evtx") && !head.bytes().is_empty() && !head.textual() {
            // A damaged header: still ours, so the warning says what is wrong with it.
            5
        } else {
            0
        }
    }

    fn signature(&self, head: &[u8]) -> bool {
        head.starts_with(MAGIC)
    }

    fn read(&self, input: Input, out: &mut Emitter<'_>) -> Result<(), ReadError> {
        if !input.head.starts_with(MAGIC) {
            return Err(ReadError::new("byte 0", "not an evtx file: the header does not start with \"ElfFile\""));
        }
        let header_chunks = input.head.get(42..44).map_or(0, |b| u16::from_le_bytes([b[0], b[1]]));
        let mut chunks = if let Some(p) = input.file.as_ref() {
            Chunks::seekable(Box::new(std::fs::File::open(p)?))?
        } else if input.size.is_some_and(|s| s <= IN_MEMORY_MAX) {
            Chunks::seekable(Box::new(Cursor::new(input.into_bytes(IN_MEMORY_MAX)?)))?
        } else {
            let mut src = input.into_read();
            let mut header = vec![0u8; HEADER as usize];
            let got = read_full(&mut src, &mut header)?;
            if got < header.len() {
                return Err(ReadError::new(format!("byte {got}"), "the file ends inside its 4096-byte header"));
            }
            Chunks::Stream { src, next: 0, done: false }
        };
        if let Chunks::Seek { len, .. } = &chunks {
            let len = *len;
            let slots = len.saturating_sub(HEADER).div_ceil(CHUNK as u64);
            if len < HEADER {
                out.warn(
                    format!("byte {len}"),
                    format!("the file ends {len} bytes into its {HEADER}-byte header (truncated): no event to read"),
                );
            } else if len == HEADER && header_chunks > 0 {
                out.warn(
                    format!("byte {len}"),
                    format!(
                        "the file ends after its header, which names {header_chunks} chunk{} (truncated): no event \
                         to read",
                        if header_chunks == 1 { "" } else { "s" }
                    ),
                );
            } else if slots < u64::from(header_chunks) {
                out.warn(
                    format!("byte {len}"),
                    format!(
                        "the header names {header_chunks} chunks, the file ends in chunk {} (truncated): the \
                         events of the missing chunks are lost",
                        slots - 1
                    ),
                );
            }
        }
        let path = out.path().to_owned();
        let ctx = Ctx {
            settings: Arc::new(ParserSettings::new().validate_checksums(false).recover_records(true).indent(false)),
            path: &path,
            header_chunks: u64::from(header_chunks),
            fast: true,
        };
        // Chunks parsed at once: each batch ends in a wait for its slowest chunk, so a batch of
        // eight chunks per thread keeps both cores busier than two did (the corpus's two large
        // files: 27-29 ms -> 23-24 ms), for about a megabyte of chunks in flight.
        let batch = rayon::current_num_threads().max(1) * 8;
        loop {
            let mut raws = Vec::with_capacity(batch);
            let mut failed = None;
            while raws.len() < batch {
                match chunks.next() {
                    Some(Ok(r)) => raws.push(r),
                    Some(Err(e)) => {
                        failed = Some(e);
                        break;
                    }
                    None => break,
                }
            }
            if raws.is_empty() && failed.is_none() {
                return Ok(());
            }
            let outs: Vec<ChunkOut> = raws.into_par_iter().map(|r| read_chunk_guarded(r, &ctx)).collect();
            for o in outs {
                for (place, msg) in o.warnings {
                    out.warn(place, msg);
                }
                for r in o.records {
                    out.emit(r);
                }
            }
            if let Some(e) = failed {
                return Err(ReadError::new("", format!("read error: {e}")));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event_of(xml: &str) -> WinEvent {
        parse_one(xml.as_bytes()).unwrap()
    }

    #[test]
    fn record_xml_maps_to_the_event() {
        let ev = event_of(
            r#"<?xml version="1.0" encoding="utf-8"?>
<Event xmlns="http://schemas.microsoft.com/win/2004/08/events/event"><System><Provider Name="Microsoft-Windows-Kernel-Power" Guid="{331c3b3a-2005-44c2-ac5e-77220c37d6b4}"/><EventID>41</EventID><Level>1</Level><TimeCreated SystemTime="2025-07-15T08:30:11.1234567Z"/><EventRecordID>77</EventRecordID><Channel>System</Channel><Computer>MTR-01</Computer></System><EventData><Data Name="BugcheckCode">0</Data><Data Name="SleepInProgress">false</Data></EventData></Event>"#,
        );
        assert_eq!((ev.event_id, ev.level, ev.record_id), (Some(41), Some(1), Some(77)));
        assert_eq!(ev.provider, "Microsoft-Windows-Kernel-Power");
        assert_eq!(ev.data_item("SleepInProgress"), Some("false"));
        let e = to_evidence_owned(ev, Evidence::new("p", "evtx", "record 77"));
        assert_eq!(e.kind, "power");
    }
}

#[cfg(test)]
#[path = "evtx_binxml_tests.rs"]
mod binxml_tests;
