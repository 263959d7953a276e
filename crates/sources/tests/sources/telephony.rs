//! Telephony readers: SIP text traces, SBC syslogs, pcap and pcapng captures, Direct Routing
//! call records (CSV and Graph JSON), Lync client logs and MOSDAL reports.

use uctriage_sources::{read_bytes, Evidence, InputReport};

use crate::{fixture, jsonl, read_paths};

fn read_fixture(rel: &str) -> (Vec<InputReport>, Vec<Evidence>) {
    read_paths(&[fixture(rel)])
}

fn codes(records: &[Evidence]) -> Vec<String> {
    records.iter().flat_map(|e| e.codes.iter().map(ToString::to_string)).collect()
}

fn utf16le_bom(text: &str) -> Vec<u8> {
    let mut v = vec![0xFF, 0xFE];
    v.extend(text.encode_utf16().flat_map(u16::to_le_bytes));
    v
}

// ------------------------------------------------------------------ sip-trace

#[test]
fn sip_trace_sngrep_export() {
    let (reports, records) = read_fixture("sip-trace/sngrep-direct-routing.txt");
    assert_eq!(reports[0].format, "sip-trace");
    assert!(reports[0].warnings.is_empty(), "{:?}", reports[0].warnings);
    assert_eq!(records.len(), 7);
    assert_eq!(codes(&records), ["SIP 403", "Q850 21", "SIP 404", "Q850 1", "MS-DIAG 10504"]);
    let forbidden = &records[2];
    assert_eq!(forbidden.location, "line 30");
    assert_eq!(forbidden.fields["status"], 403);
    assert_eq!(forbidden.get_str("sbc_fqdn"), Some("sbc1.contoso.com"));
    assert_eq!(forbidden.get_str("src"), Some("192.0.2.10:5061"));
    assert_eq!(forbidden.time.map(uctriage_evidence::time::rfc3339).as_deref(), Some("2025-07-15T08:30:11Z"));
    insta::assert_snapshot!(jsonl(&records));
}

#[test]
fn sip_trace_wireshark_follow_stream_compact_headers() {
    let (reports, records) = read_fixture("sip-trace/wireshark-follow.txt");
    assert_eq!(reports[0].format, "sip-trace");
    assert_eq!(records.len(), 3);
    assert_eq!(records[0].get_str("call_id"), Some("ws-1@198.51.100.7"));
    assert_eq!(records[0].get_str("contact_host"), Some("198.51.100.7"));
    assert_eq!(codes(&records), ["SIP 486", "Q850 17"]);
    assert_eq!(records[2].location, "line 24");
    insta::assert_snapshot!(jsonl(&records));
}

#[test]
fn sip_trace_utf16_and_cut_short() {
    let text = std::fs::read_to_string(fixture("sip-trace/sngrep-direct-routing.txt")).unwrap();
    let (report, records) = read_bytes("trace.txt", &utf16le_bom(&text.replace('\n', "\r\n")), None);
    assert_eq!(report.format, "sip-trace");
    assert_eq!(records.len(), 7);
    assert_eq!(codes(&records)[..2], ["SIP 403", "Q850 21"]);
    // Cut in the middle of the headers of the 403: the messages before it are kept, the cut one
    // is read as far as it goes, with a warning naming its line.
    let cut = &text[..text.find("CSeq: 1 INVITE\nServer").unwrap()];
    let (report, records) = read_bytes("trace.txt", cut.as_bytes(), None);
    assert_eq!(records.len(), 3);
    assert_eq!(records[2].fields["status"], 403);
    assert_eq!(report.warnings.len(), 1, "{:?}", report.warnings);
    assert_eq!(report.warnings[0].place, "line 30");
}

#[test]
fn sip_trace_detection_needs_sip_headers() {
    let (report, _) = read_bytes("note.txt", b"SIP/2.0 403 Forbidden was returned", None);
    assert_ne!(report.format, "sip-trace");
    let (report, records) =
        read_bytes("junk.sip", b"\x00\x01garbage SIP/2.0 \xff\xfe\nCall-ID: x\n", Some("sip-trace"));
    assert_eq!(report.format, "sip-trace");
    assert!(records.is_empty());
}

// ------------------------------------------------------------------ sbc-syslog

#[test]
fn sbc_syslog_audiocodes_escaped_and_split_messages() {
    let (reports, records) = read_fixture("sbc-syslog/audiocodes-teams.log");
    assert_eq!(reports[0].format, "sbc-syslog");
    assert!(reports[0].warnings.is_empty(), "{:?}", reports[0].warnings);
    assert_eq!(records.len(), 4);
    assert_eq!(codes(&records), ["SIP 403", "Q850 21", "SIP 404", "MS-DIAG 10504"]);
    let forbidden = &records[1];
    assert_eq!(forbidden.get_str("direction"), Some("outgoing"));
    assert_eq!(forbidden.get_str("dst"), Some("52.114.148.0:5061"));
    assert_eq!(forbidden.get_str("sbc_fqdn"), Some("sbc1.contoso.com"));
    assert_eq!(forbidden.get_str("session_id"), Some("d5e2c1:76:3408"));
    assert_eq!(forbidden.get_str("sip_interface"), Some("SIP-Teams"));
    // The INVITE split over two syslog lines, with another session's line between them.
    let split = &records[2];
    assert_eq!(split.location, "line 4");
    assert_eq!(split.get_str("via"), Some("SIP/2.0/TLS sbc1.contoso.com:5061;branch=z9hG4bKac02"));
    assert_eq!(split.get_str("call_id"), Some("ac-call-0002"));
    assert_eq!(split.time.map(uctriage_evidence::time::rfc3339).as_deref(), Some("2025-07-15T08:31:05Z"));
    insta::assert_snapshot!(jsonl(&records));
}

#[test]
fn sbc_syslog_ribbon_multiline_and_generic() {
    let (reports, records) = read_fixture("sbc-syslog/ribbon-sbc.log");
    assert_eq!(reports[0].format, "sbc-syslog");
    assert!(reports[0].warnings.is_empty(), "{:?}", reports[0].warnings);
    assert_eq!(records.len(), 3);
    assert_eq!(codes(&records), ["SIP 487", "Q850 16", "SIP 503"]);
    assert_eq!(records[0].get_str("direction"), Some("incoming"));
    assert_eq!(records[0].get_str("src"), Some("52.114.76.76:5061"));
    assert_eq!(records[0].get_str("sbc_host"), Some("sbc2.contoso.com"));
    assert_eq!(records[1].get_str("method"), Some("ACK"));
    assert_eq!(records[2].get_str("sbc_host"), Some("sbc3"));
    insta::assert_snapshot!(jsonl(&records));
}

/// An SBC log that tells SIP in prose, one event per line, in the forms SBCs and monitoring tools
/// write: ISO and syslog stamps, a method or a status with or without `SIP/2.0`, the peer with or
/// without a port or a `sip:` URI.
const ONE_LINE_EVENTS: &str = "\
2025-07-15 08:30:11.120 [SIP] Sending OPTIONS to sip.pstnhub.microsoft.com:5061
2025-07-15 08:30:11.201 [SIP] Received 200 OK from sip.pstnhub.microsoft.com:5061
Jul 15 08:31:11 sbc1.contoso.com SIP: Sending OPTIONS to <sip:sip2.pstnhub.microsoft.com:5061;transport=tls> (keep-alive)
Jul 15 08:31:11 sbc1.contoso.com SIP: Received SIP/2.0 200 OK from sip2.pstnhub.microsoft.com
Jul 15 08:32:11 sbc1.contoso.com SIP: Sent OPTIONS to sip3.pstnhub.microsoft.com:5061
Jul 15 08:32:11 sbc1.contoso.com SIP: Received SIP/2.0 503 Service Unavailable from sip3.pstnhub.microsoft.com:5061
Jul 15 08:33:02 sbc1.contoso.com SIP: Received OPTIONS from sip-du-a-eu.pstnhub.microsoft.com:5061
Jul 15 08:33:02 sbc1.contoso.com SIP: Sending 200 OK to sip-du-a-eu.pstnhub.microsoft.com:5061
";

#[test]
fn sbc_syslog_sip_told_one_event_per_line() {
    let (report, records) = read_bytes("sbc.log", ONE_LINE_EVENTS.as_bytes(), None);
    assert_eq!(report.format, "sbc-syslog");
    // One record per line, and no message left incomplete.
    assert!(report.warnings.iter().all(|w| !w.message.contains("incomplete")), "{:?}", report.warnings);
    assert_eq!(records.len(), 8, "{}", jsonl(&records));
    let f = |e: &Evidence, k: &str| e.fields.get(k).map(|v| v.as_str().map_or_else(|| v.to_string(), str::to_owned));
    let got: Vec<[Option<String>; 6]> = records
        .iter()
        .map(|e| ["direction", "method", "status", "cseq_method", "to", "from"].map(|k| f(e, k)))
        .collect();
    let s = |v: &str| Some(v.to_owned());
    let proxy = |h: &str| s(&format!("<sip:{h}>"));
    assert_eq!(
        got,
        [
            [s("outgoing"), s("OPTIONS"), None, s("OPTIONS"), proxy("sip.pstnhub.microsoft.com:5061"), None],
            [s("incoming"), None, s("200"), s("OPTIONS"), proxy("sip.pstnhub.microsoft.com:5061"), None],
            [s("outgoing"), s("OPTIONS"), None, s("OPTIONS"), proxy("sip2.pstnhub.microsoft.com:5061"), None],
            [s("incoming"), None, s("200"), s("OPTIONS"), proxy("sip2.pstnhub.microsoft.com"), None],
            [s("outgoing"), s("OPTIONS"), None, s("OPTIONS"), proxy("sip3.pstnhub.microsoft.com:5061"), None],
            [s("incoming"), None, s("503"), s("OPTIONS"), proxy("sip3.pstnhub.microsoft.com:5061"), None],
            [s("incoming"), s("OPTIONS"), None, s("OPTIONS"), None, proxy("sip-du-a-eu.pstnhub.microsoft.com:5061")],
            [s("outgoing"), None, s("200"), s("OPTIONS"), None, proxy("sip-du-a-eu.pstnhub.microsoft.com:5061")],
        ]
    );
    assert_eq!(codes(&records), ["SIP 503"]);
    assert_eq!(f(&records[5], "reason_phrase").as_deref(), Some("Service Unavailable"));
    assert_eq!(records[0].time.unwrap().to_string(), "2025-07-15T08:30:11.12Z");
    assert_eq!(records[0].excerpt, "[SIP] Sending OPTIONS to sip.pstnhub.microsoft.com:5061");
    // A framed message after them is still read whole.
    let framed = format!(
        "{ONE_LINE_EVENTS}Jul 15 08:34:00 sbc1.contoso.com SIP: Received SIP/2.0 404 Not Found#012Via: SIP/2.0/TLS \
         sbc1.contoso.com:5061#012CSeq: 7 INVITE#012Content-Length: 0#012#012\n"
    );
    let (report, records) = read_bytes("sbc.log", framed.as_bytes(), None);
    assert!(report.warnings.is_empty(), "{:?}", report.warnings);
    assert_eq!(records.len(), 9);
    assert_eq!(f(&records[8], "cseq_method").as_deref(), Some("INVITE"));
}

#[test]
fn sbc_syslog_missing_fragment_and_crlf() {
    let text = std::fs::read_to_string(fixture("sbc-syslog/audiocodes-teams.log")).unwrap();
    // Without the second fragment of the split INVITE, it is read as far as it goes.
    let cut: Vec<&str> = text.lines().filter(|l| !l.contains("[S=123472]")).collect();
    let (report, records) = read_bytes("syslog.log", cut.join("\r\n").as_bytes(), None);
    assert_eq!(report.format, "sbc-syslog");
    assert_eq!(records.len(), 4);
    assert_eq!(report.warnings.len(), 1, "{:?}", report.warnings);
    assert_eq!(report.warnings[0].place, "line 4");
    assert!(report.warnings[0].message.contains("incomplete"));
}

// ------------------------------------------------------------------ pcap / pcapng

/// Packet and capture-file builders: the fixtures are made here, byte by byte.
mod capture {
    /// 2025-07-15T08:30:11Z.
    pub const T0: u32 = 1_752_568_211;

    pub fn ipv4_udp(src: [u8; 4], sport: u16, dst: [u8; 4], dport: u16, payload: &[u8]) -> Vec<u8> {
        let mut udp = Vec::new();
        udp.extend(sport.to_be_bytes());
        udp.extend(dport.to_be_bytes());
        udp.extend(((8 + payload.len()) as u16).to_be_bytes());
        udp.extend([0, 0]);
        udp.extend(payload);
        ipv4(src, dst, 17, &udp)
    }

    pub fn ipv4(src: [u8; 4], dst: [u8; 4], proto: u8, l4: &[u8]) -> Vec<u8> {
        let mut ip = vec![0x45, 0];
        ip.extend(((20 + l4.len()) as u16).to_be_bytes());
        ip.extend([0x12, 0x34, 0x40, 0x00, 64, proto, 0, 0]);
        ip.extend(src);
        ip.extend(dst);
        ip.extend(l4);
        ip
    }

    pub fn tcp(sport: u16, dport: u16, seq: u32, flags: u8, payload: &[u8]) -> Vec<u8> {
        let mut t = Vec::new();
        t.extend(sport.to_be_bytes());
        t.extend(dport.to_be_bytes());
        t.extend(seq.to_be_bytes());
        t.extend(0u32.to_be_bytes());
        t.extend([5 << 4, flags, 0xFF, 0xFF, 0, 0, 0, 0]);
        t.extend(payload);
        t
    }

    /// IPv6 with a hop-by-hop options header in front of TCP.
    pub fn ipv6_tcp(src: [u16; 8], dst: [u16; 8], l4: &[u8], hop_by_hop: bool) -> Vec<u8> {
        let mut ext = Vec::new();
        let mut next = 6u8;
        if hop_by_hop {
            ext.extend([6u8, 0, 1, 4, 0, 0, 0, 0]);
            next = 0;
        }
        let mut ip = vec![0x60, 0, 0, 0];
        ip.extend(((ext.len() + l4.len()) as u16).to_be_bytes());
        ip.extend([next, 64]);
        for w in src.iter().chain(dst.iter()) {
            ip.extend(w.to_be_bytes());
        }
        ip.extend(ext);
        ip.extend(l4);
        ip
    }

    /// Ethernet II, with an 802.1Q tag when `vlan` is set.
    pub fn ethernet(ethertype: u16, vlan: Option<u16>, ip: &[u8]) -> Vec<u8> {
        let mut f = vec![0x02, 0, 0, 0, 0, 1, 0x02, 0, 0, 0, 0, 2];
        if let Some(v) = vlan {
            f.extend(0x8100u16.to_be_bytes());
            f.extend(v.to_be_bytes());
        }
        f.extend(ethertype.to_be_bytes());
        f.extend(ip);
        f
    }

    /// Linux cooked capture v2 header.
    pub fn sll2(ethertype: u16, ip: &[u8]) -> Vec<u8> {
        let mut f = Vec::new();
        f.extend(ethertype.to_be_bytes());
        f.extend([0, 0]);
        f.extend(2u32.to_be_bytes());
        f.extend([0, 1, 0, 6, 2, 0, 0, 0, 0, 1, 0, 0]);
        f.extend(ip);
        f
    }

    /// Linux cooked capture v1 header.
    pub fn sll(ethertype: u16, ip: &[u8]) -> Vec<u8> {
        let mut f = vec![0, 0, 0, 1, 0, 6, 2, 0, 0, 0, 0, 1, 0, 0];
        f.extend(ethertype.to_be_bytes());
        f.extend(ip);
        f
    }

    fn w16(out: &mut Vec<u8>, v: u16, be: bool) {
        out.extend(if be { v.to_be_bytes() } else { v.to_le_bytes() });
    }

    fn w32(out: &mut Vec<u8>, v: u32, be: bool) {
        out.extend(if be { v.to_be_bytes() } else { v.to_le_bytes() });
    }

    /// Classic pcap: (seconds, fraction, frame); `nanos` picks the nanosecond magic.
    pub fn pcap(linktype: u32, packets: &[(u32, u32, Vec<u8>)], be: bool, nanos: bool) -> Vec<u8> {
        let mut out = Vec::new();
        w32(&mut out, if nanos { 0xA1B2_3C4D } else { 0xA1B2_C3D4 }, be);
        w16(&mut out, 2, be);
        w16(&mut out, 4, be);
        w32(&mut out, 0, be);
        w32(&mut out, 0, be);
        w32(&mut out, 262_144, be);
        w32(&mut out, linktype, be);
        for (s, f, data) in packets {
            w32(&mut out, *s, be);
            w32(&mut out, *f, be);
            w32(&mut out, data.len() as u32, be);
            w32(&mut out, data.len() as u32, be);
            out.extend(data);
        }
        out
    }

    fn block(out: &mut Vec<u8>, btype: u32, body: &[u8], be: bool) {
        let mut body = body.to_vec();
        while body.len() & 3 != 0 {
            body.push(0);
        }
        let len = 12 + body.len() as u32;
        w32(out, btype, be);
        w32(out, len, be);
        out.extend(&body);
        w32(out, len, be);
    }

    /// pcapng: one section; interfaces as (link type, `if_tsresol` byte); packets as (interface,
    /// time stamp in that interface's units, frame). A packet on interface `u32::MAX` is written
    /// as a simple packet block.
    pub fn pcapng(ifaces: &[(u16, Option<u8>)], packets: &[(u32, u64, Vec<u8>)], be: bool) -> Vec<u8> {
        let mut out = Vec::new();
        let mut shb = Vec::new();
        w32(&mut shb, 0x1A2B_3C4D, be);
        w16(&mut shb, 1, be);
        w16(&mut shb, 0, be);
        shb.extend(if be { (-1i64).to_be_bytes() } else { (-1i64).to_le_bytes() });
        block(&mut out, 0x0A0D_0D0A, &shb, be);
        for (link, resol) in ifaces {
            let mut idb = Vec::new();
            w16(&mut idb, *link, be);
            w16(&mut idb, 0, be);
            w32(&mut idb, 0, be);
            if let Some(r) = resol {
                w16(&mut idb, 9, be);
                w16(&mut idb, 1, be);
                idb.extend([*r, 0, 0, 0]);
                w16(&mut idb, 0, be);
                w16(&mut idb, 0, be);
            }
            block(&mut out, 1, &idb, be);
        }
        for (iface, ts, data) in packets {
            let mut b = Vec::new();
            if *iface == u32::MAX {
                w32(&mut b, data.len() as u32, be);
                b.extend(data);
                block(&mut out, 3, &b, be);
                continue;
            }
            w32(&mut b, *iface, be);
            w32(&mut b, (ts >> 32) as u32, be);
            w32(&mut b, *ts as u32, be);
            w32(&mut b, data.len() as u32, be);
            w32(&mut b, data.len() as u32, be);
            b.extend(data);
            block(&mut out, 6, &b, be);
        }
        out
    }
}

const UDP_INVITE: &str = "INVITE sip:+15550199@sbc1.contoso.com SIP/2.0\r\n\
Via: SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bKp1\r\n\
From: <sip:+15550100@192.0.2.10>;tag=p1\r\n\
To: <sip:+15550199@sbc1.contoso.com>\r\n\
Call-ID: pcap-udp-1@192.0.2.10\r\n\
CSeq: 1 INVITE\r\n\
Contact: <sip:+15550100@192.0.2.10:5060>\r\n\
Content-Type: application/sdp\r\n\
Content-Length: 32\r\n\r\n\
v=0\r\no=- 1 1 IN IP4 192.0.2.10\r\n";

const UDP_403: &str = "SIP/2.0 403 Forbidden\r\n\
Via: SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bKp1\r\n\
From: <sip:+15550100@192.0.2.10>;tag=p1\r\n\
To: <sip:+15550199@sbc1.contoso.com>;tag=s1\r\n\
Call-ID: pcap-udp-1@192.0.2.10\r\n\
CSeq: 1 INVITE\r\n\
Reason: Q.850;cause=21\r\n\
Content-Length: 0\r\n\r\n";

const TCP_487: &str = "SIP/2.0 487 Request Terminated\r\n\
Via: SIP/2.0/TCP [2001:db8::10]:5060;branch=z9hG4bKt1\r\n\
Record-Route: <sip:edge1.contoso.com;lr>, <sip:edge2.contoso.com;lr>\r\n\
From: <sip:alice@contoso.com>;tag=t1\r\n\
To: <sip:bob@contoso.com>;tag=t2\r\n\
Call-ID: pcap-tcp-1@2001:db8::10\r\n\
CSeq: 7 INVITE\r\n\
Reason: SIP;cause=487;text=\"Request Terminated\"\r\n\
Content-Length: 0\r\n\r\n";

fn udp_frames() -> Vec<(u32, u32, Vec<u8>)> {
    use capture::*;
    let a = [192, 0, 2, 10];
    let b = [198, 51, 100, 20];
    vec![
        (T0, 123_000, ethernet(0x0800, None, &ipv4_udp(a, 5060, b, 5060, UDP_INVITE.as_bytes()))),
        // Keep-alive and a DNS query: nothing to read.
        (T0, 200_000, ethernet(0x0800, None, &ipv4_udp(a, 5060, b, 5060, b"\r\n\r\n"))),
        (T0, 250_000, ethernet(0x0800, None, &ipv4_udp(a, 53000, b, 53, b"\x12\x34\x01\x00\x00\x01"))),
        (T0 + 1, 400_000, ethernet(0x0800, Some(42), &ipv4_udp(b, 5060, a, 5060, UDP_403.as_bytes()))),
    ]
}

const V6A: [u16; 8] = [0x2001, 0xdb8, 0, 0, 0, 0, 0, 0x10];
const V6B: [u16; 8] = [0x2001, 0xdb8, 0, 0, 0, 0, 0, 0x20];

/// The 487 over TCP in three segments, sent out of order (second, third, first), after a TLS
/// record on 5061 that cannot be read.
fn tcp_segments() -> Vec<Vec<u8>> {
    use capture::*;
    let m = TCP_487.as_bytes();
    let (s1, s2, s3) = (&m[..40], &m[40..150], &m[150..]);
    let seq = 1_000_000u32;
    let seg =
        |off: usize, data: &[u8], hbh: bool| ipv6_tcp(V6B, V6A, &tcp(5060, 40000, seq + off as u32, 0x18, data), hbh);
    vec![
        ipv4(
            [192, 0, 2, 10],
            [52, 114, 148, 0],
            6,
            &tcp(50000, 5061, 77, 0x18, b"\x17\x03\x03\x00\x20encrypted-application-data-here"),
        ),
        seg(40, s2, true),
        seg(150, s3, false),
        seg(0, s1, false),
    ]
}

#[test]
fn pcap_udp_ipv4_invite_and_403_both_byte_orders() {
    let le = capture::pcap(1, &udp_frames(), false, false);
    let (report, records) = read_bytes("sip.pcap", &le, None);
    assert_eq!(report.format, "pcap");
    assert!(report.warnings.is_empty(), "{:?}", report.warnings);
    assert_eq!(records.len(), 2);
    assert_eq!(records[0].location, "packet 1");
    assert_eq!(records[1].location, "packet 4");
    assert_eq!(codes(&records), ["SIP 403", "Q850 21"]);
    assert_eq!(records[1].get_str("src"), Some("198.51.100.20:5060"));
    assert_eq!(records[1].get_str("transport"), Some("UDP"));
    assert_eq!(records[1].time.map(uctriage_evidence::time::rfc3339).as_deref(), Some("2025-07-15T08:30:12Z"));
    insta::assert_snapshot!(jsonl(&records));
    // Big-endian with nanosecond stamps reads the same.
    let frames: Vec<_> = udp_frames().into_iter().map(|(s, f, d)| (s, f * 1000, d)).collect();
    let be = capture::pcap(1, &frames, true, true);
    let (_, again) = read_bytes("sip.pcap", &be, None);
    assert_eq!(jsonl(&again), jsonl(&records));
}

#[test]
fn pcapng_tcp_ipv6_reassembled_out_of_order_both_byte_orders() {
    let segs = tcp_segments();
    let ns = 1_752_568_211_000_000_000u64;
    // Interface 0: Ethernet, microseconds; interface 1: Linux cooked v2, nanoseconds.
    let packets = vec![
        (0, 1_752_568_211_000_000u64, capture::ethernet(0x0800, None, &segs[0])),
        (1, ns + 1_000, capture::sll2(0x86DD, &segs[1])),
        (1, ns + 2_000, capture::sll2(0x86DD, &segs[2])),
        (1, ns + 5_000_000_000, capture::sll2(0x86DD, &segs[3])),
    ];
    let ng = capture::pcapng(&[(1, None), (276, Some(9))], &packets, false);
    let (report, records) = read_bytes("trace.pcapng", &ng, None);
    assert_eq!(report.format, "pcap");
    assert_eq!(records.len(), 1, "{report:?}");
    let r = &records[0];
    assert_eq!(r.location, "packet 4");
    assert_eq!(r.get_str("src"), Some("[2001:db8::20]:5060"));
    assert_eq!(r.get_str("transport"), Some("TCP"));
    assert_eq!(r.fields["record_route_fqdns"], serde_json::json!(["edge1.contoso.com", "edge2.contoso.com"]));
    assert_eq!(codes(&records), ["SIP 487"]);
    assert_eq!(r.time.map(uctriage_evidence::time::rfc3339).as_deref(), Some("2025-07-15T08:30:16Z"));
    // The TLS flow on 5061 is named in a warning, not read.
    assert_eq!(report.warnings.len(), 1, "{:?}", report.warnings);
    assert!(report.warnings[0].message.contains("encrypted"));
    insta::assert_snapshot!(jsonl(&records));
    let be = capture::pcapng(&[(1, None), (276, Some(9))], &packets, true);
    let (_, again) = read_bytes("trace.pcapng", &be, None);
    assert_eq!(jsonl(&again), jsonl(&records));
}

#[test]
fn pcap_other_link_types_and_simple_packets() {
    use capture::*;
    let ip = ipv4_udp([192, 0, 2, 1], 5060, [192, 0, 2, 2], 5062, UDP_403.as_bytes());
    for (link, frame) in [(101u32, ip.clone()), (228, ip.clone()), (113, sll(0x0800, &ip)), (276, sll2(0x0800, &ip))] {
        let (report, records) = read_bytes("x.pcap", &pcap(link, &[(T0, 0, frame)], false, false), None);
        assert_eq!(records.len(), 1, "link type {link}: {report:?}");
        assert_eq!(records[0].get_str("dst"), Some("192.0.2.2:5062"));
    }
    // A simple packet block, and an interface nobody described.
    let ng = pcapng(&[(101, None)], &[(u32::MAX, 0, ip.clone()), (3, 0, ip)], false);
    let (report, records) = read_bytes("x.pcapng", &ng, None);
    assert_eq!(records.len(), 1);
    assert!(records[0].time.is_none());
    assert_eq!(report.warnings.len(), 1);
    assert_eq!(report.warnings[0].place, "packet 2");
}

#[test]
fn pcap_cut_mid_packet_keeps_the_packets_before() {
    let full = capture::pcap(1, &udp_frames(), false, false);
    let cut = &full[..full.len() - 20];
    let (report, records) = read_bytes("cut.pcap", cut, None);
    assert_eq!(report.format, "pcap");
    assert_eq!(records.len(), 1);
    assert_eq!(records[0].location, "packet 1");
    assert_eq!(report.warnings.len(), 1, "{:?}", report.warnings);
    assert_eq!(report.warnings[0].place, "packet 4");
    assert!(report.warnings[0].message.contains("cut short"));
    // pcapng cut inside the last block: the first two segments are read, and the message they
    // start is read as far as it goes and said to be incomplete.
    let segs = tcp_segments();
    let packets: Vec<_> = [3, 1, 2].iter().map(|i| (0u32, 0u64, capture::ethernet(0x86DD, None, &segs[*i]))).collect();
    let ng = capture::pcapng(&[(1, None)], &packets, false);
    let (report, records) = read_bytes("cut.pcapng", &ng[..ng.len() - 30], None);
    assert_eq!(report.warnings.len(), 2, "{:?}", report.warnings);
    assert_eq!(report.warnings[0].place, "packet 3");
    assert_eq!(report.warnings[1].place, "packet 1");
    assert!(report.warnings[1].message.contains("incomplete"));
    assert_eq!(records.len(), 1);
    assert_eq!(records[0].fields["status"], 487);
    // Junk after a valid header.
    let mut junk = capture::pcap(1, &[], false, false);
    junk.extend([0xFF; 64]);
    let (report, records) = read_bytes("junk.pcap", &junk, None);
    assert!(records.is_empty());
    assert_eq!(report.warnings[0].place, "packet 1");
}

#[test]
fn pcap_tcp_stream_after_handshake_with_two_messages_in_a_segment() {
    use capture::*;
    let a = [192, 0, 2, 10];
    let b = [198, 51, 100, 20];
    let two = format!("{UDP_INVITE}{UDP_403}");
    let (first, rest) = two.as_bytes().split_at(100);
    let isn = u32::MAX - 50; // the sequence numbers wrap inside the stream
    let frames = vec![
        (T0, 0, ethernet(0x0800, None, &ipv4(a, b, 6, &tcp(41000, 5060, isn, 0x02, b"")))),
        (T0, 1, ethernet(0x0800, None, &ipv4(a, b, 6, &tcp(41000, 5060, isn.wrapping_add(1), 0x18, first)))),
        // A retransmission of the first segment changes nothing.
        (T0, 2, ethernet(0x0800, None, &ipv4(a, b, 6, &tcp(41000, 5060, isn.wrapping_add(1), 0x18, first)))),
        (T0, 3, ethernet(0x0800, None, &ipv4(a, b, 6, &tcp(41000, 5060, isn.wrapping_add(101), 0x18, rest)))),
        // HTTP on another flow is not SIP.
        (T0, 4, ethernet(0x0800, None, &ipv4(a, b, 6, &tcp(41001, 80, 5, 0x02, b"")))),
        (T0, 5, ethernet(0x0800, None, &ipv4(a, b, 6, &tcp(41001, 80, 6, 0x18, b"GET / HTTP/1.1\r\n\r\n")))),
    ];
    let (report, records) = read_bytes("tcp.pcap", &pcap(1, &frames, false, false), None);
    assert!(report.warnings.is_empty(), "{:?}", report.warnings);
    let got: Vec<(&str, Option<&str>)> =
        records.iter().map(|r| (r.location.as_str(), r.get_str("cseq_method"))).collect();
    assert_eq!(got, [("packet 2", Some("INVITE")), ("packet 4", Some("INVITE"))]);
    assert_eq!(records[1].fields["status"], 403);
    assert_eq!(records[0].get_str("contact_host"), Some("192.0.2.10"));
}

// ------------------------------------------------------------------ dr-csv

#[test]
fn dr_csv_direct_routing_export() {
    let (reports, records) = read_fixture("dr-csv/direct-routing-usage.csv");
    assert_eq!(reports[0].format, "dr-csv");
    assert!(reports[0].warnings.is_empty(), "{:?}", reports[0].warnings);
    assert_eq!(records.len(), 4);
    assert_eq!(codes(&records), ["SIP 403", "MSRC 560403", "SIP 408", "MSRC 0", "SIP 503", "MSRC 510503"]);
    let r = &records[1];
    assert_eq!(r.kind, "call-record");
    assert_eq!(r.location, "row 2");
    assert_eq!(r.get_str("sbc_fqdn"), Some("sbc1.contoso.com"));
    assert_eq!(r.fields["final_sip_code"], 403);
    assert_eq!(r.fields["success"], false);
    assert_eq!(r.get_str("direction"), Some("outbound"));
    assert_eq!(r.get_str("failure_time"), Some("2025-07-15T08:30:11Z"));
    assert_eq!(records[2].get_str("final_sip_phrase"), Some("Request Timeout, \"no answer\""));
    assert_eq!(records[2].get_str("direction"), Some("inbound"));
    // A quoted field over two lines stays one row.
    assert_eq!(records[3].get_str("final_sip_phrase"), Some("Service Unavailable\n(carrier maintenance)"));
    insta::assert_snapshot!(jsonl(&records));
}

#[test]
fn dr_csv_pstn_usage_semicolons_utf16_and_ragged_rows() {
    let (reports, records) = read_fixture("dr-csv/pstn-usage-semicolon.csv");
    assert_eq!(reports[0].format, "dr-csv");
    assert_eq!(records.len(), 1);
    let r = &records[0];
    assert_eq!(r.source, "PSTN usage");
    assert_eq!(r.get_str("call_id"), Some("22222222-0000-4000-8000-000000000001"));
    assert_eq!(r.get_str("charge"), Some("0,12"));
    assert_eq!(r.get_str("callee"), Some("+15550199"));
    assert!(r.codes.is_empty());
    insta::assert_snapshot!(jsonl(&records));
    let text = std::fs::read_to_string(fixture("dr-csv/direct-routing-usage.csv")).unwrap();
    let (report, again) = read_bytes("export.csv", &utf16le_bom(text.trim_start_matches('\u{feff}')), None);
    assert_eq!(report.format, "dr-csv");
    assert_eq!(again.len(), 4);
    // A row cut short, and an unterminated quote at the end.
    let cut =
        format!("{}\n\"2025-07-15T10:00:00Z\",\"\",\"0\",\"No\"\n\"2025-07-15T11:00:00Z\",\"oops", text.trim_end());
    let (report, again) = read_bytes("export.csv", cut.as_bytes(), None);
    assert_eq!(again.len(), 5);
    assert_eq!(report.warnings.len(), 2, "{:?}", report.warnings);
    assert_eq!(report.warnings[0].place, "row 5");
    assert_eq!(report.warnings[1].place, "line 8");
}

// ------------------------------------------------------------------ call-records-json

#[test]
fn call_records_json_direct_routing_and_pstn_rows() {
    let (reports, records) = read_fixture("call-records-json/getDirectRoutingCalls.json");
    assert_eq!(reports[0].format, "call-records-json");
    assert_eq!(records.len(), 2);
    assert_eq!(codes(&records), ["SIP 403", "MSRC 560403"]);
    assert_eq!(records[0].get_str("sbc_fqdn"), Some("sbc1.contoso.com"));
    assert_eq!(records[0].fields["call_end_sub_reason"], 560_403);
    assert_eq!(records[0].time.map(uctriage_evidence::time::rfc3339).as_deref(), Some("2025-07-15T08:30:11Z"));
    assert_eq!(records[1].fields["success"], true);
    assert_eq!(reports[0].warnings.len(), 1, "{:?}", reports[0].warnings);
    insta::assert_snapshot!(jsonl(&records));
    let (reports, records) = read_fixture("call-records-json/getPstnCalls.json");
    assert_eq!(reports[0].format, "call-records-json");
    assert_eq!(records.len(), 1);
    assert_eq!(records[0].get_str("call_id"), Some("22222222-0000-4000-8000-000000000001"));
    assert_eq!(records[0].get_str("operator"), Some("Microsoft"));
    insta::assert_snapshot!("call_records_json_pstn_rows", jsonl(&records));
}

#[test]
fn call_records_json_call_record_with_a_failed_segment() {
    let (reports, records) = read_fixture("call-records-json/callRecord-with-sessions.json");
    assert_eq!(reports[0].format, "call-records-json");
    assert!(reports[0].warnings.is_empty(), "{:?}", reports[0].warnings);
    assert_eq!(records.len(), 2);
    assert_eq!(records[0].get_str("call_id"), Some("e523d2ed-0000-4000-8000-000000000010"));
    assert_eq!(records[1].location, "record 1 session 1 segment 1");
    assert_eq!(records[1].get_str("failure_stage"), Some("callSetup"));
    assert_eq!(records[1].get_str("callee"), Some("+15550199"));
    assert_eq!(codes(&records), ["SIP 403", "MSRC 560403"]);
    insta::assert_snapshot!(jsonl(&records));
}

#[test]
fn call_records_json_cut_short_keeps_earlier_rows() {
    let text = std::fs::read_to_string(fixture("call-records-json/getDirectRoutingCalls.json")).unwrap();
    let cut = &text[..text.find("\"sbc2.contoso.com\"").unwrap()];
    let (report, records) = read_bytes("calls.json", cut.as_bytes(), None);
    assert_eq!(report.format, "call-records-json");
    assert_eq!(records.len(), 1);
    assert_eq!(report.warnings.len(), 1, "{:?}", report.warnings);
    assert!(report.warnings[0].message.contains("ends early"));
    assert_eq!(report.warnings[0].place, "line 42 column 39");
    // A bare array, with a byte-order mark.
    let bare = format!(
        "\u{feff}[{}]",
        &text[text.find("{\n      \"id\"").unwrap()
            ..text.find(",\n    {\n      \"id\": \"9f8e7d6c-0000-4000-8000-000000000005\"").unwrap()]
    );
    let (report, records) = read_bytes("rows.json", bare.as_bytes(), None);
    assert_eq!((report.format.as_str(), records.len()), ("call-records-json", 1), "{report:?}");
}

// ------------------------------------------------------------------ uccapilog

#[test]
fn uccapilog_register_401_and_client_messages() {
    let (reports, records) = read_fixture("uccapilog/Lync-UccApi-0.UccApilog");
    assert_eq!(reports[0].format, "uccapilog");
    insta::assert_snapshot!(jsonl(&records));
    // The last record has no $$end_record: read, with a warning naming its line.
    assert_eq!(reports[0].warnings.len(), 1, "{:?}", reports[0].warnings);
    assert_eq!(reports[0].warnings[0].place, "line 46");
    let kinds: Vec<(&str, &str)> = records.iter().map(|r| (r.location.as_str(), r.kind.as_str())).collect();
    assert_eq!(
        kinds,
        [
            ("line 2", "sip"),
            ("line 22", "sip"),
            ("line 42", "log-line"),
            ("line 43", "lync-message"),
            ("line 44", "lync-message"),
            ("line 46", "sip"),
        ]
    );
    assert_eq!(
        codes(&records),
        [
            "SIP 401",
            "MS-DIAG 4005",
            "0x8004C0A1",
            "LYNC sign-in-address-not-found",
            "LYNC no-lync-server-for-domain",
            "MS-DIAG 52063"
        ]
    );
    let register = &records[0];
    assert_eq!(register.get_str("method"), Some("REGISTER"));
    assert_eq!(register.get_str("direction"), Some("outgoing"));
    assert_eq!(register.get_str("dst"), Some("sipdir.online.lync.com:443"));
    assert_eq!(register.time.map(uctriage_evidence::time::rfc3339).as_deref(), Some("2025-07-15T08:30:11Z"));
    assert_eq!(records[1].get_str("src"), Some("sipdir.online.lync.com:443"));
    assert_eq!(records[3].get_str("level"), Some("ERROR"));
}

#[test]
fn uccapilog_utf16_without_bom() {
    let text = std::fs::read_to_string(fixture("uccapilog/Lync-UccApi-0.UccApilog")).unwrap();
    let bytes: Vec<u8> = text.replace('\n', "\r\n").encode_utf16().flat_map(u16::to_le_bytes).collect();
    let (report, records) = read_bytes("Communicator-uccapi-0.uccapilog", &bytes, None);
    assert_eq!(report.format, "uccapilog");
    assert_eq!(records.len(), 6);
}

// ------------------------------------------------------------------ mosdal

#[test]
fn mosdal_network_tests_folder() {
    let (reports, records) = read_fixture("mosdal/MOSDAL_Report");
    assert_eq!(reports.len(), 5);
    assert!(reports.iter().all(|r| r.format == "mosdal" && r.warnings.is_empty()), "{reports:?}");
    let dns: Vec<(Option<&str>, Option<&str>)> =
        records.iter().filter(|r| r.kind == "mosdal-dns").map(|r| (r.get_str("query"), r.get_str("status"))).collect();
    assert_eq!(
        dns,
        [
            (Some("_sip._tls.contoso.com"), Some("resolved")),
            (Some("lyncdiscover.contoso.com"), Some("nxdomain")),
            (Some("sipdir.online.lync.com"), Some("resolved")),
        ]
    );
    let sipdir = records.iter().find(|r| r.get_str("query") == Some("sipdir.online.lync.com")).unwrap();
    assert_eq!(sipdir.fields["answers"], serde_json::json!(["52.112.0.10", "52.112.0.11"]));
    assert_eq!(sipdir.fields["aliases"], serde_json::json!(["sipdir.online.lync.com", "sip.contoso.com"]));
    let srv = records.iter().find(|r| r.get_str("record_type") == Some("SRV")).unwrap();
    assert_eq!(srv.fields["answers"], serde_json::json!(["sipdir.online.lync.com:443 (priority 100, weight 1)"]));
    let ports: Vec<_> = records.iter().filter(|r| r.kind == "mosdal-port").collect();
    assert_eq!(ports.len(), 2);
    assert_eq!(ports[0].get_str("host"), Some("sip.contoso.com"));
    assert_eq!(ports[0].fields["port"], 5061);
    assert!(ports[0].get_str("resolve_error").is_some());
    assert_eq!(ports[1].get_str("tcp_state"), Some("LISTENING"));
    assert_eq!(ports[1].get_str("udp_state"), Some("LISTENING or FILTERED"));
    assert_eq!(ports[1].get_str("ip"), Some("52.112.0.10"));
    insta::assert_snapshot!(jsonl(&records));
}

#[test]
fn mosdal_content_without_names_and_cut_short() {
    let portqry = "Querying target system called:\n\n sipfed.online.lync.com\n\nName resolved to 52.112.0.20\n\nTCP port 5061 (unknown service): FILTERED\n";
    let (report, records) = read_bytes("out.txt", portqry.as_bytes(), None);
    assert_eq!(report.format, "mosdal");
    assert_eq!(records[0].get_str("tcp_state"), Some("FILTERED"));
    assert_eq!(records[0].get_str("host"), Some("sipfed.online.lync.com"));
    let ns = "Server:  dns01.contoso.com\nAddress:  192.0.2.53\n\nName:    webdir.online.lync.com\nAddress";
    let (report, records) = read_bytes("lookup.txt", ns.as_bytes(), None);
    assert_eq!(report.format, "mosdal");
    assert_eq!(records.len(), 1);
    assert_eq!(records[0].get_str("query"), Some("webdir.online.lync.com"));
    assert_eq!(records[0].get_str("status"), Some("no-answer"));
}

#[test]
fn hostile_text_never_panics() {
    // Multi-byte characters where the readers look for ASCII landmarks.
    let nasty = "2025/07/€€ x\n2025/é/15 SIP/2.0 200 OK\nCall-ID: é\nDaté: x\nDATE:€\néINVITE sip:a@b SIP/2.0\n\
        Jul 15 08:30:11 h [SID=€] ---- Incoming SIP Message from € ----#012SIP/2.0 4€\n\
        TL_INFO(€) ::€€/€-€ (€(€)$$begin_record\nStart-Line: €\n$$end_record\nLevel=\"€ Name=\"\\";
    for format in [
        "sip-trace",
        "sbc-syslog",
        "uccapilog",
        "mosdal",
        "dr-csv",
        "call-records-json",
        "pexip-log",
        "pexip-install",
        "pcap",
    ] {
        let (report, _) = read_bytes("x", nasty.as_bytes(), Some(format));
        assert_eq!(report.format, format);
        assert!(!report.warnings.iter().any(|w| w.message.contains("failed on this input")), "{format}: {report:?}");
    }
}

#[test]
fn sbc_syslog_audiocodes_viewer_lines_without_date() {
    let text = std::fs::read_to_string(fixture("sbc-syslog/audiocodes-teams.log")).unwrap();
    let mut viewer = String::new();
    for l in text.lines() {
        let rest = l.splitn(6, ' ').nth(5).unwrap_or("");
        viewer.push_str(&l[7..15]);
        viewer.push_str(" : 192.0.2.10 : NOTICE: ");
        viewer.push_str(rest);
        viewer.push('\n');
    }
    assert!(viewer.starts_with("08:30:11 : 192.0.2.10 : NOTICE: [S=123456]"), "{viewer}");
    let (report, records) = read_bytes("syslog.txt", viewer.as_bytes(), None);
    assert_eq!(report.format, "sbc-syslog");
    let (_, from_file) = read_fixture("sbc-syslog/audiocodes-teams.log");
    assert_eq!(records.len(), from_file.len());
    for (a, b) in records.iter().zip(&from_file) {
        let t = |e: &Evidence| e.time.map(uctriage_evidence::time::rfc3339);
        assert_eq!((a.location.as_str(), &a.codes, t(a)), (b.location.as_str(), &b.codes, t(b)));
        assert_eq!(a.get_str("sbc_host"), Some("192.0.2.10"));
    }
}
