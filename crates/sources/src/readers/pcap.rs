//! Packet captures: classic pcap (either byte order, micro- or nanosecond stamps) and pcapng
//! (section, interface, enhanced, simple and obsolete packet blocks; several interfaces and
//! sections, either byte order). Read without libpcap.
//!
//! Link layers: Ethernet (with VLAN tags), Linux cooked (SLL, SLL2), raw IP, BSD loopback.
//! IPv4 and IPv6 (extension headers skipped), UDP and TCP. TCP is put back together per flow in
//! sequence order with a bounded buffer, so a SIP message split over segments, or arriving out
//! of order, is read whole. Encrypted flows (SIP over TLS) cannot be read and are counted.

use std::collections::{BTreeMap, HashMap};
use std::io::{self, Read};
use std::net::IpAddr;

use uctriage_evidence::Timestamp;

use super::dr_csv::has_ext;
use super::sip::{self, Frame};
use super::{Emitter, ReadError, Reader};
use crate::input::{read_full, Head, Input};

#[derive(Debug)]
pub struct Pcap;

/// Largest packet record accepted; bigger ones mean the file is damaged.
const MAX_PACKET: usize = 16 * 1024 * 1024;
/// Largest pcapng block accepted.
const MAX_BLOCK: usize = 64 * 1024 * 1024;
/// Bytes held per TCP flow waiting for a missing segment or the rest of a message.
const FLOW_CAP: usize = 256 * 1024;
/// Bytes held per flow before its first SIP start line is seen.
const UNKNOWN_CAP: usize = 64 * 1024;
/// TCP flows followed at once; the least recently active half is dropped beyond this.
const MAX_FLOWS: usize = 4096;

const MAGIC_US: u32 = 0xA1B2_C3D4;
const MAGIC_NS: u32 = 0xA1B2_3C4D;
const PCAPNG_SHB: [u8; 4] = [0x0A, 0x0D, 0x0D, 0x0A];

impl Reader for Pcap {
    fn format(&self) -> &'static str {
        "pcap"
    }

    fn detect(&self, name: &str, head: &Head<'_>) -> u8 {
        if self.signature(head.bytes()) {
            return super::SIGNATURE;
        }
        if head.bytes().starts_with(&PCAPNG_SHB) {
            // The block type of pcapng without its byte-order magic.
            return 60;
        }
        u8::from(["pcap", "pcapng", "cap"].iter().any(|e| has_ext(name, e))) * 5
    }

    fn signature(&self, head: &[u8]) -> bool {
        let Some(m) = head.get(..4) else { return false };
        let le = u32::from_le_bytes([m[0], m[1], m[2], m[3]]);
        let be = u32::from_be_bytes([m[0], m[1], m[2], m[3]]);
        if [le, be].iter().any(|v| *v == MAGIC_US || *v == MAGIC_NS) {
            return true;
        }
        m == PCAPNG_SHB
            && head.get(8..12).is_some_and(|b| b == [0x4D, 0x3C, 0x2B, 0x1A] || b == [0x1A, 0x2B, 0x3C, 0x4D])
    }

    fn read(&self, input: Input, out: &mut Emitter<'_>) -> Result<(), ReadError> {
        let mut r = io::BufReader::with_capacity(256 * 1024, input.into_read());
        let mut magic = [0u8; 4];
        if read_full(&mut r, &mut magic)? < 4 {
            return Err(ReadError::new("byte 0", "too short for a capture file"));
        }
        let mut cap = Capture::default();
        if magic == PCAPNG_SHB {
            read_pcapng(&mut r, magic, &mut cap, out)?;
        } else {
            read_classic(&mut r, magic, &mut cap, out)?;
        }
        cap.finish(out);
        Ok(())
    }
}

#[derive(Debug, Clone, Copy)]
struct Endian(bool);

impl Endian {
    fn u16(self, b: &[u8], at: usize) -> u16 {
        let x = [b.get(at).copied().unwrap_or(0), b.get(at + 1).copied().unwrap_or(0)];
        if self.0 {
            u16::from_le_bytes(x)
        } else {
            u16::from_be_bytes(x)
        }
    }

    fn u32(self, b: &[u8], at: usize) -> u32 {
        let mut x = [0u8; 4];
        for (i, v) in x.iter_mut().enumerate() {
            *v = b.get(at + i).copied().unwrap_or(0);
        }
        if self.0 {
            u32::from_le_bytes(x)
        } else {
            u32::from_be_bytes(x)
        }
    }

    /// A time stamp as packet blocks write it: the high 32 bits, then the low 32 bits.
    fn hi_lo(self, b: &[u8], at: usize) -> u64 {
        (u64::from(self.u32(b, at)) << 32) | u64::from(self.u32(b, at + 4))
    }

    fn u64(self, b: &[u8], at: usize) -> u64 {
        let (hi, lo) =
            if self.0 { (self.u32(b, at + 4), self.u32(b, at)) } else { (self.u32(b, at), self.u32(b, at + 4)) };
        (u64::from(hi) << 32) | u64::from(lo)
    }
}

fn read_classic(r: &mut impl Read, magic: [u8; 4], cap: &mut Capture, out: &mut Emitter<'_>) -> Result<(), ReadError> {
    let le = u32::from_le_bytes(magic);
    let (endian, nanos) = match (le, u32::from_be_bytes(magic)) {
        (MAGIC_US, _) => (Endian(true), false),
        (MAGIC_NS, _) => (Endian(true), true),
        (_, MAGIC_US) => (Endian(false), false),
        (_, MAGIC_NS) => (Endian(false), true),
        _ => return Err(ReadError::new("byte 0", "not a pcap or pcapng file (unknown magic number)")),
    };
    let mut hdr = [0u8; 20];
    if read_full(r, &mut hdr)? < 20 {
        return Err(ReadError::new("byte 4", "pcap file header cut short"));
    }
    let linktype = endian.u32(&hdr, 16) & 0x0FFF_FFFF;
    let mut n = 0u64;
    let mut rec = [0u8; 16];
    let mut data = Vec::new();
    loop {
        let got = read_full(r, &mut rec)?;
        if got == 0 {
            break;
        }
        n += 1;
        if got < 16 {
            out.warn(format!("packet {n}"), "capture cut short in a packet header; the packets before it were read");
            break;
        }
        let (sec, frac) = (endian.u32(&rec, 0), endian.u32(&rec, 4));
        let incl = endian.u32(&rec, 8) as usize;
        let orig = endian.u32(&rec, 12) as usize;
        if incl > MAX_PACKET {
            out.warn(
                format!("packet {n}"),
                format!("packet length {incl} is not believable: the file is damaged here; reading stopped"),
            );
            break;
        }
        data.resize(incl, 0);
        let got = read_full(r, &mut data)?;
        if got < incl {
            out.warn(
                format!("packet {n}"),
                format!(
                    "capture cut short inside this packet ({got} of {incl} bytes); the packets before it were read"
                ),
            );
            break;
        }
        let nanos = if nanos { frac.min(999_999_999) } else { frac.min(999_999).saturating_mul(1000) };
        let time = Timestamp::new(i64::from(sec), nanos as i32).ok();
        cap.packet(out, n, time, linktype, &data, orig > incl);
    }
    Ok(())
}

#[derive(Debug, Clone, Copy)]
struct Iface {
    linktype: u32,
    snaplen: u32,
    /// Time units per second (`if_tsresol`).
    units: u64,
    /// Seconds added to every stamp (`if_tsoffset`).
    offset: i64,
}

fn read_pcapng(r: &mut impl Read, first: [u8; 4], cap: &mut Capture, out: &mut Emitter<'_>) -> Result<(), ReadError> {
    let mut endian = Endian(true);
    let mut ifaces: Vec<Iface> = Vec::new();
    let mut n = 0u64;
    let mut offset = 0u64;
    let mut head = [0u8; 8];
    head[..4].copy_from_slice(&first);
    let mut have = 4;
    let mut body = Vec::new();
    loop {
        let got = read_full(r, &mut head[have..])?;
        if have + got == 0 {
            break;
        }
        if have + got < 8 {
            out.warn(format!("byte {offset}"), "capture cut short in a block header; the packets before it were read");
            break;
        }
        have = 0;
        let is_shb = head[..4] == PCAPNG_SHB;
        let mut bom = [0u8; 4];
        if is_shb {
            if read_full(r, &mut bom)? < 4 {
                out.warn(format!("byte {offset}"), "capture cut short in a section header");
                break;
            }
            endian = match bom {
                [0x4D, 0x3C, 0x2B, 0x1A] => Endian(true),
                [0x1A, 0x2B, 0x3C, 0x4D] => Endian(false),
                _ => {
                    out.warn(
                        format!("byte {offset}"),
                        "section header with an unknown byte-order mark; reading stopped",
                    );
                    break;
                }
            };
            ifaces.clear();
        }
        let btype = endian.u32(&head, 0);
        let len = endian.u32(&head, 4) as usize;
        let packet_block = matches!(btype, 2 | 3 | 6);
        let place = if packet_block { format!("packet {}", n + 1) } else { format!("byte {offset}") };
        if len < 12 || len & 3 != 0 || len > MAX_BLOCK || (is_shb && len < 28) {
            out.warn(place, format!("block length {len} is not valid: the file is damaged here; reading stopped"));
            break;
        }
        // The body, then the trailing copy of the length.
        let rest = len - 8 - if is_shb { 4 } else { 0 };
        body.resize(rest, 0);
        let got = read_full(r, &mut body)?;
        if got < rest {
            let what = if packet_block { "inside this packet" } else { "inside a block" };
            out.warn(
                place,
                format!("capture cut short {what} ({got} of {rest} bytes); the packets before it were read"),
            );
            break;
        }
        offset += len as u64;
        body.truncate(rest - 4);
        match btype {
            // Interface description: link type, snap length, options.
            1 => {
                let mut iface = Iface {
                    linktype: u32::from(endian.u16(&body, 0)),
                    snaplen: endian.u32(&body, 4),
                    units: 1_000_000,
                    offset: 0,
                };
                read_if_options(endian, body.get(8..).unwrap_or(&[]), &mut iface);
                ifaces.push(iface);
            }
            6 | 2 => {
                n += 1;
                let (id, ts, caplen, orig, data_at) = if btype == 6 {
                    (
                        endian.u32(&body, 0) as usize,
                        endian.hi_lo(&body, 4),
                        endian.u32(&body, 12),
                        endian.u32(&body, 16),
                        20,
                    )
                } else {
                    (
                        endian.u16(&body, 0) as usize,
                        endian.hi_lo(&body, 4),
                        endian.u32(&body, 12),
                        endian.u32(&body, 16),
                        20,
                    )
                };
                let Some(iface) = ifaces.get(id).copied() else {
                    out.warn(
                        format!("packet {n}"),
                        format!("packet names interface {id}, which was not described; skipped"),
                    );
                    continue;
                };
                let end = data_at + caplen as usize;
                let Some(data) = body.get(data_at..end) else {
                    out.warn(format!("packet {n}"), "captured length runs past the block; skipped");
                    continue;
                };
                let time = stamp(ts, iface);
                cap.packet(out, n, time, iface.linktype, data, orig > caplen);
            }
            3 => {
                n += 1;
                let Some(iface) = ifaces.first().copied() else {
                    out.warn(format!("packet {n}"), "simple packet block before any interface description; skipped");
                    continue;
                };
                let orig = endian.u32(&body, 0) as usize;
                let mut caplen = orig.min(body.len().saturating_sub(4));
                if iface.snaplen > 0 {
                    caplen = caplen.min(iface.snaplen as usize);
                }
                let data = body.get(4..4 + caplen).unwrap_or(&[]);
                cap.packet(out, n, None, iface.linktype, data, orig > caplen);
            }
            _ => {}
        }
    }
    Ok(())
}

fn read_if_options(endian: Endian, mut opts: &[u8], iface: &mut Iface) {
    while opts.len() >= 4 {
        let code = endian.u16(opts, 0);
        let len = endian.u16(opts, 2) as usize;
        let padded = len.div_ceil(4) * 4;
        let Some(value) = opts.get(4..4 + len) else { return };
        match (code, len) {
            (0, _) => return,
            (9, 1) => {
                let v = value[0];
                let exp = u32::from(v & 0x7F);
                let units = if v & 0x80 == 0 { 10u64.checked_pow(exp) } else { 1u64.checked_shl(exp) };
                if let Some(u) = units.filter(|u| *u > 0) {
                    iface.units = u;
                }
            }
            (14, 8) => iface.offset = endian.u64(value, 0) as i64,
            _ => {}
        }
        opts = opts.get(4 + padded..).unwrap_or(&[]);
    }
}

fn stamp(ts: u64, iface: Iface) -> Option<Timestamp> {
    let secs = ts / iface.units;
    let frac = u128::from(ts % iface.units) * 1_000_000_000 / u128::from(iface.units);
    Timestamp::new(i64::try_from(secs).ok()?.checked_add(iface.offset)?, frac as i32).ok()
}

/// `192.0.2.10:5060` or `[2001:db8::1]:5061`.
fn endpoint(ip: IpAddr, port: u16) -> String {
    match ip {
        IpAddr::V4(a) => format!("{a}:{port}"),
        IpAddr::V6(a) => format!("[{a}]:{port}"),
    }
}

type FlowKey = (IpAddr, u16, IpAddr, u16);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum FlowState {
    /// No start line seen yet.
    Unknown,
    Sip,
    /// TLS records: encrypted, not readable.
    Tls,
    /// Something else (HTTP, junk): ignored from here on.
    Other,
}

#[derive(Debug)]
struct Segment {
    data: Vec<u8>,
    packet: u64,
    time: Option<Timestamp>,
}

#[derive(Debug)]
struct Flow {
    state: FlowState,
    /// Sequence numbers are stored relative to this, so that wrap-around and segments that
    /// arrive before the first one seen still sort in order.
    anchor: u32,
    /// Next expected sequence number, relative to `anchor`, once known.
    next: Option<u64>,
    segments: BTreeMap<u64, Segment>,
    held: usize,
    /// In-order data not yet framed into messages.
    buf: Vec<u8>,
    /// Stream offset of `buf[0]`.
    buf_at: u64,
    /// Where each packet's data starts in the stream: (offset, packet, time).
    marks: Vec<(u64, u64, Option<Timestamp>)>,
    first_packet: u64,
    last_packet: u64,
    /// Stream offset of the next byte appended to `buf`.
    stream: u64,
}

impl Flow {
    fn new(seq: u32, packet: u64) -> Self {
        Flow {
            state: FlowState::Unknown,
            anchor: seq.wrapping_sub(1 << 30),
            next: None,
            segments: BTreeMap::new(),
            held: 0,
            buf: Vec::new(),
            buf_at: 0,
            marks: Vec::new(),
            first_packet: packet,
            last_packet: packet,
            stream: 0,
        }
    }

    fn rel(&self, seq: u32) -> u64 {
        u64::from(seq.wrapping_sub(self.anchor))
    }

    /// Move the segments that continue the in-order data into `buf`.
    fn drain(&mut self) {
        let Some(mut next) = self.next else { return };
        while let Some((&key, _)) = self.segments.first_key_value() {
            if key > next {
                break;
            }
            let Some(seg) = self.segments.remove(&key) else { break };
            self.held = self.held.saturating_sub(seg.data.len());
            let end = key + seg.data.len() as u64;
            if end <= next {
                continue; // a retransmission of data already taken
            }
            let skip = (next - key) as usize;
            self.marks.push((self.stream, seg.packet, seg.time));
            self.buf.extend_from_slice(&seg.data[skip..]);
            self.stream += (seg.data.len() - skip) as u64;
            next = end;
        }
        self.next = Some(next);
    }

    /// The packet (and its time) that carried stream offset `at`.
    fn packet_at(&self, at: u64) -> (u64, Option<Timestamp>) {
        self.marks.iter().rev().find(|(o, _, _)| *o <= at).map_or((self.first_packet, None), |(_, p, t)| (*p, *t))
    }

    /// Drop `n` framed bytes from the front of `buf`.
    fn consume(&mut self, n: usize) {
        let n = n.min(self.buf.len());
        self.buf.drain(..n);
        self.buf_at += n as u64;
        // Keep the mark of the packet that holds the new first byte.
        let keep_from = self.marks.iter().rposition(|(o, _, _)| *o <= self.buf_at).unwrap_or(0);
        self.marks.drain(..keep_from);
    }
}

#[derive(Debug, Default)]
struct Capture {
    flows: HashMap<FlowKey, Flow>,
    tls_packets: u64,
    tls_sip_ports: bool,
    fragments: u64,
    first_fragment: Option<u64>,
    messages: u64,
    unknown_links: Vec<u32>,
}

/// A packet's network and transport layers, decoded.
struct Transport<'a> {
    src: IpAddr,
    dst: IpAddr,
    proto: Proto,
    sport: u16,
    dport: u16,
    payload: &'a [u8],
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Proto {
    Udp,
    Tcp { seq: u32, syn: bool },
}

fn be16(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_be_bytes([*b.get(at)?, *b.get(at + 1)?]))
}

fn be32(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_be_bytes([*b.get(at)?, *b.get(at + 1)?, *b.get(at + 2)?, *b.get(at + 3)?]))
}

/// The network-layer packet inside a link-layer frame: (ethertype-like protocol, bytes).
fn link_payload(linktype: u32, data: &[u8]) -> Option<(u16, &[u8])> {
    match linktype {
        // Ethernet, with any number of 802.1Q / 802.1ad tags.
        1 => {
            let mut at = 12;
            let mut et = be16(data, at)?;
            while matches!(et, 0x8100 | 0x88A8 | 0x9100) {
                at += 4;
                et = be16(data, at)?;
            }
            Some((et, data.get(at + 2..)?))
        }
        // Linux cooked capture v1 and v2.
        113 => Some((be16(data, 14)?, data.get(16..)?)),
        276 => Some((be16(data, 0)?, data.get(20..)?)),
        // Raw IP.
        101 | 12 | 14 => {
            let v = data.first()? >> 4;
            Some((if v == 6 { 0x86DD } else { 0x0800 }, data))
        }
        228 => Some((0x0800, data)),
        229 => Some((0x86DD, data)),
        // BSD loopback: a 4-byte address family in the capturing host's order.
        0 | 108 => {
            let fam = u32::from_le_bytes(data.get(..4)?.try_into().ok()?);
            let fam = if fam > 0xFFFF { fam.swap_bytes() } else { fam };
            match fam {
                2 => Some((0x0800, data.get(4..)?)),
                24 | 28 | 30 => Some((0x86DD, data.get(4..)?)),
                _ => None,
            }
        }
        _ => None,
    }
}

/// Decode IP and UDP/TCP. `Err(true)` for a fragment that cannot be read alone.
fn transport(et: u16, ip: &[u8]) -> Result<Transport<'_>, bool> {
    let (src, dst, proto, l4) = match et {
        0x0800 => {
            let b = ip;
            if b.len() < 20 || b[0] >> 4 != 4 {
                return Err(false);
            }
            let ihl = usize::from(b[0] & 0x0F) * 4;
            let total = usize::from(be16(b, 2).ok_or(false)?);
            let flags_frag = be16(b, 6).ok_or(false)?;
            if flags_frag & 0x3FFF != 0 {
                return Err(true);
            }
            let end = if total >= ihl { total.min(b.len()) } else { b.len() };
            let l4 = b.get(ihl..end).ok_or(false)?;
            let src = IpAddr::from(<[u8; 4]>::try_from(&b[12..16]).map_err(|_| false)?);
            let dst = IpAddr::from(<[u8; 4]>::try_from(&b[16..20]).map_err(|_| false)?);
            (src, dst, b[9], l4)
        }
        0x86DD => {
            let b = ip;
            if b.len() < 40 || b[0] >> 4 != 6 {
                return Err(false);
            }
            let plen = usize::from(be16(b, 4).ok_or(false)?);
            let src = IpAddr::from(<[u8; 16]>::try_from(&b[8..24]).map_err(|_| false)?);
            let dst = IpAddr::from(<[u8; 16]>::try_from(&b[24..40]).map_err(|_| false)?);
            let end = if plen == 0 { b.len() } else { (40 + plen).min(b.len()) };
            let mut next = b[6];
            let mut at = 40;
            // Extension headers: hop-by-hop, routing, destination options, mobility, HIP,
            // shim6, fragment, authentication.
            for _ in 0..10 {
                match next {
                    0 | 43 | 60 | 135 | 139 | 140 => {
                        let len = (usize::from(*b.get(at + 1).ok_or(false)?) + 1) * 8;
                        next = *b.get(at).ok_or(false)?;
                        at += len;
                    }
                    44 => {
                        let off_m = be16(b, at + 2).ok_or(false)?;
                        if off_m & 0xFFF9 != 0 {
                            return Err(true);
                        }
                        next = *b.get(at).ok_or(false)?;
                        at += 8;
                    }
                    51 => {
                        let len = (usize::from(*b.get(at + 1).ok_or(false)?) + 2) * 4;
                        next = *b.get(at).ok_or(false)?;
                        at += len;
                    }
                    _ => break,
                }
            }
            let l4 = b.get(at..end.max(at)).ok_or(false)?;
            (src, dst, next, l4)
        }
        _ => return Err(false),
    };
    match proto {
        17 => {
            let sport = be16(l4, 0).ok_or(false)?;
            let dport = be16(l4, 2).ok_or(false)?;
            let len = usize::from(be16(l4, 4).ok_or(false)?);
            let end = if len >= 8 { len.min(l4.len()) } else { l4.len() };
            Ok(Transport { src, dst, proto: Proto::Udp, sport, dport, payload: l4.get(8..end).unwrap_or(&[]) })
        }
        6 => {
            let sport = be16(l4, 0).ok_or(false)?;
            let dport = be16(l4, 2).ok_or(false)?;
            let seq = be32(l4, 4).ok_or(false)?;
            let off = usize::from(*l4.get(12).ok_or(false)? >> 4) * 4;
            let flags = *l4.get(13).ok_or(false)?;
            if off < 20 {
                return Err(false);
            }
            Ok(Transport {
                src,
                dst,
                proto: Proto::Tcp { seq, syn: flags & 0x02 != 0 },
                sport,
                dport,
                payload: l4.get(off..).unwrap_or(&[]),
            })
        }
        _ => Err(false),
    }
}

/// TLS record header: handshake, alert, change cipher spec or application data, version 3.x.
fn looks_tls(p: &[u8]) -> bool {
    p.len() >= 5 && (0x14..=0x17).contains(&p[0]) && p[1] == 3 && p[2] <= 4
}

/// Ports where SIP over TLS is usual (Direct Routing and SBCs use 5061 and neighbours).
fn sip_tls_port(p: u16) -> bool {
    matches!(p, 5061..=5063)
}

impl Capture {
    fn packet(
        &mut self,
        out: &mut Emitter<'_>,
        n: u64,
        time: Option<Timestamp>,
        linktype: u32,
        data: &[u8],
        cut: bool,
    ) {
        let Some((et, ip)) = link_payload(linktype, data) else {
            if !self.unknown_links.contains(&linktype)
                && ![1, 113, 276, 101, 12, 14, 228, 229, 0, 108].contains(&linktype)
            {
                self.unknown_links.push(linktype);
                out.warn(
                    format!("packet {n}"),
                    format!("link type {linktype} is not supported; its packets were skipped"),
                );
            }
            return;
        };
        let t = match transport(et, ip) {
            Ok(t) => t,
            Err(true) => {
                self.fragments += 1;
                self.first_fragment.get_or_insert(n);
                return;
            }
            Err(false) => return,
        };
        match t.proto {
            Proto::Udp => self.udp(out, n, time, &t, cut),
            Proto::Tcp { seq, syn } => self.tcp(out, n, time, &t, seq, syn),
        }
    }

    fn udp(&mut self, out: &mut Emitter<'_>, n: u64, time: Option<Timestamp>, t: &Transport<'_>, cut: bool) {
        let mut data = t.payload;
        let mut first = true;
        loop {
            match sip::frame(data) {
                Frame::Complete { skip, len } => {
                    self.emit(out, n, time, t, "UDP", &data[skip..skip + len]);
                    data = &data[skip + len..];
                }
                Frame::Incomplete { skip } => {
                    // A datagram holds whole messages: what is missing was not captured.
                    if cut {
                        out.warn(format!("packet {n}"), "SIP message cut by the capture's snap length");
                    }
                    self.emit(out, n, time, t, "UDP", &data[skip..]);
                    return;
                }
                Frame::Junk { skip } if !first && skip < data.len() => data = &data[skip..],
                Frame::Junk { .. } | Frame::Empty => return,
            }
            first = false;
        }
    }

    fn tcp(&mut self, out: &mut Emitter<'_>, n: u64, time: Option<Timestamp>, t: &Transport<'_>, seq: u32, syn: bool) {
        let key: FlowKey = (t.src, t.sport, t.dst, t.dport);
        if !self.flows.contains_key(&key) {
            if t.payload.is_empty() && !syn {
                return;
            }
            if self.flows.len() >= MAX_FLOWS {
                self.evict(out);
            }
            self.flows.insert(key, Flow::new(seq, n));
        }
        let Some(flow) = self.flows.get_mut(&key) else { return };
        flow.last_packet = n;
        if syn && flow.next.is_none() {
            flow.next = Some(flow.rel(seq.wrapping_add(1)));
        }
        if t.payload.is_empty() {
            return;
        }
        match flow.state {
            FlowState::Tls => {
                self.tls_packets += 1;
                return;
            }
            FlowState::Other => return,
            _ => {}
        }
        let rel = flow.rel(seq);
        if flow.state == FlowState::Unknown && flow.next.is_none() {
            let starts = matches!(sip::frame(t.payload), Frame::Complete { .. } | Frame::Incomplete { .. });
            if starts {
                flow.next = Some(rel);
                // Held segments before this start belong to a message whose start was missed.
                let before: Vec<u64> = flow.segments.range(..rel).map(|(k, _)| *k).collect();
                for k in before {
                    if let Some(s) = flow.segments.remove(&k) {
                        flow.held = flow.held.saturating_sub(s.data.len());
                    }
                }
            } else if looks_tls(t.payload) {
                flow.state = FlowState::Tls;
                self.tls_packets += 1;
                self.tls_sip_ports |= sip_tls_port(t.sport) || sip_tls_port(t.dport);
                flow.segments.clear();
                return;
            }
        }
        if let Some(next) = flow.next {
            if rel + t.payload.len() as u64 <= next {
                return; // retransmitted, already read
            }
        }
        if flow.next.is_none() {
            if flow.held + t.payload.len() > UNKNOWN_CAP {
                // Much data and no start line: not SIP.
                flow.state = FlowState::Other;
                flow.segments.clear();
                flow.held = 0;
                return;
            }
            flow.held += t.payload.len();
            flow.segments.entry(rel).or_insert(Segment { data: t.payload.to_vec(), packet: n, time });
            return;
        }
        if flow.held + t.payload.len() > FLOW_CAP {
            // A segment is missing and the ones after it fill the buffer: give up on the gap.
            let lost = flow.segments.first_key_value().map_or(0, |(k, _)| k.saturating_sub(flow.next.unwrap_or(*k)));
            out.warn(
                format!("packet {n}"),
                format!(
                    "{} bytes of the TCP stream {} → {} were not captured; the message they belonged to was skipped",
                    lost,
                    endpoint(t.src, t.sport),
                    endpoint(t.dst, t.dport)
                ),
            );
            flow.next = flow.segments.first_key_value().map(|(k, _)| *k);
            flow.buf.clear();
            flow.marks.clear();
            flow.drain();
        }
        if flow.held + t.payload.len() <= FLOW_CAP {
            flow.held += t.payload.len();
            flow.segments.entry(rel).or_insert(Segment { data: t.payload.to_vec(), packet: n, time });
        }
        flow.drain();
        self.frame_flow(out, key, false);
    }

    /// Read whole messages off the front of a flow's in-order data.
    fn frame_flow(&mut self, out: &mut Emitter<'_>, key: FlowKey, at_end: bool) {
        let (src, sport, dst, dport) = key;
        loop {
            let Some(flow) = self.flows.get_mut(&key) else { return };
            match sip::frame(&flow.buf) {
                Frame::Complete { skip, len } => {
                    flow.state = FlowState::Sip;
                    let (packet, time) = flow.packet_at(flow.buf_at + skip as u64);
                    let bytes = flow.buf[skip..skip + len].to_vec();
                    flow.consume(skip + len);
                    let t = Transport { src, dst, proto: Proto::Udp, sport, dport, payload: &[] };
                    self.emit(out, packet, time, &t, "TCP", &bytes);
                }
                Frame::Incomplete { skip } => {
                    flow.state = FlowState::Sip;
                    if at_end {
                        let (packet, time) = flow.packet_at(flow.buf_at + skip as u64);
                        let bytes = flow.buf[skip..].to_vec();
                        flow.consume(flow.buf.len());
                        out.warn(format!("packet {packet}"), "SIP message incomplete at the end of the capture");
                        let t = Transport { src, dst, proto: Proto::Udp, sport, dport, payload: &[] };
                        self.emit(out, packet, time, &t, "TCP", &bytes);
                    } else if flow.buf.len() > FLOW_CAP {
                        let (packet, _) = flow.packet_at(flow.buf_at + skip as u64);
                        out.warn(format!("packet {packet}"), "SIP message larger than 256 KiB; skipped");
                        flow.consume(flow.buf.len());
                    }
                    return;
                }
                Frame::Junk { skip } => {
                    if flow.state == FlowState::Unknown && !at_end {
                        flow.state = if looks_tls(&flow.buf) { FlowState::Tls } else { FlowState::Other };
                        flow.buf.clear();
                        flow.segments.clear();
                        flow.held = 0;
                        return;
                    }
                    flow.consume(skip);
                }
                Frame::Empty => {
                    let len = flow.buf.len();
                    flow.consume(len);
                    return;
                }
            }
        }
    }

    /// Too many flows: drop the least recently active half.
    fn evict(&mut self, out: &mut Emitter<'_>) {
        let mut by_age: Vec<(u64, FlowKey)> = self.flows.iter().map(|(k, f)| (f.last_packet, *k)).collect();
        by_age.sort_unstable();
        for (_, k) in by_age.iter().take(by_age.len() / 2) {
            self.frame_flow(out, *k, true);
            self.flows.remove(k);
        }
    }

    fn emit(
        &mut self,
        out: &mut Emitter<'_>,
        n: u64,
        time: Option<Timestamp>,
        t: &Transport<'_>,
        proto: &str,
        bytes: &[u8],
    ) {
        let text = String::from_utf8_lossy(bytes);
        let Some(msg) = sip::parse(&text) else { return };
        self.messages += 1;
        let mut e = out.evidence(format!("packet {n}"));
        e.time = time;
        e.source = "pcap".into();
        e.field("src", endpoint(t.src, t.sport));
        e.field("dst", endpoint(t.dst, t.dport));
        e.field("transport", proto);
        msg.fill(&mut e);
        out.emit(e);
    }

    /// End of the capture: read what the flows still hold, and report what could not be read.
    fn finish(&mut self, out: &mut Emitter<'_>) {
        let mut keys: Vec<(u64, FlowKey)> = self.flows.iter().map(|(k, f)| (f.first_packet, *k)).collect();
        keys.sort_unstable();
        for (_, key) in keys {
            let Some(flow) = self.flows.get_mut(&key) else { continue };
            if matches!(flow.state, FlowState::Tls | FlowState::Other) {
                continue;
            }
            if flow.next.is_none() {
                // No start line and no handshake seen: begin with the first held segment.
                flow.next = flow.segments.first_key_value().map(|(k, _)| *k);
            }
            flow.drain();
            // Skip over gaps that will never be filled.
            while !flow.segments.is_empty() {
                flow.next = flow.segments.first_key_value().map(|(k, _)| *k);
                flow.drain();
            }
            self.frame_flow(out, key, true);
        }
        if self.fragments > 0 {
            out.warn(
                format!("packet {}", self.first_fragment.unwrap_or(0)),
                format!(
                    "{} IP fragments were not reassembled; a SIP message sent in fragments is missing",
                    self.fragments
                ),
            );
        }
        if self.tls_packets > 0 && self.tls_sip_ports {
            out.warn(
                "",
                format!(
                    "{} packets of SIP over TLS (port 5061) are encrypted and could not be read; export the decrypted SIP from the SBC or Wireshark",
                    self.tls_packets
                ),
            );
        }
    }
}
