//! Detection must choose as it did before the head was shared between the readers and searched
//! whole: every reader whose `detect` was rewritten keeps its old one as `detect_before`, and
//! these tests score heads both ways, on the fixtures, on every file of the generated scenarios,
//! and on heads made up of their lines shuffled, cut and damaged.

use std::io::Read;

use proptest::prelude::*;
use uctriage_kb::Kind;

use super::*;
use crate::input::{head_text, HEAD_LEN};

/// A reader's score as it was, from the bytes alone.
fn score_before(r: &dyn Reader, name: &str, head: &[u8]) -> u8 {
    match r.format() {
        "sbc-syslog" => sbc_syslog::tests::detect_before(name, head),
        "pexip-install" => pexip_install::tests::detect_before(name, head),
        "pexip-log" => pexip::tests::detect_before(name, head),
        "teams-log" => teams_log::tests::detect_before(name, head),
        "uccapilog" => uccapilog::tests::detect_before(name, head),
        "mosdal" => mosdal::tests::detect_before(name, head),
        "sip-trace" => sip_trace::tests::detect_before(name, head),
        "dsregcmd" => dsregcmd::tests::detect_before(name, head),
        // The others read the shared head as they read the bytes before.
        _ => r.detect(name, &Head::new(head)),
    }
}

/// Score `head` as `choose` does now (one head shared by all the readers, in turn) and as it
/// was, reader by reader; the scores of every reader must be equal.
fn same_scores(registry: &[Box<dyn Reader>], name: &str, head: &[u8]) -> Result<(), String> {
    let shared = Head::new(head);
    for r in registry {
        let now = r.detect(name, &shared);
        let before = score_before(r.as_ref(), name, head);
        if now != before {
            return Err(format!("{}: {now} now, {before} before, for {name}", r.format()));
        }
    }
    Ok(())
}

/// The files of a zip, and of the zips in it, as (path, first bytes).
fn unzip(path: &str, bytes: &[u8], out: &mut Vec<(String, Vec<u8>)>) {
    let Ok(mut zip) = zip::ZipArchive::new(std::io::Cursor::new(bytes)) else { return };
    for i in 0..zip.len() {
        let mut f = zip.by_index(i).unwrap();
        if f.is_dir() {
            continue;
        }
        let inner = format!("{path}!{}", f.name().map_or_else(|_| i.to_string(), std::borrow::Cow::into_owned));
        let mut data = Vec::new();
        f.read_to_end(&mut data).unwrap();
        push_file(inner, &data, out);
    }
}

fn push_file(path: String, bytes: &[u8], out: &mut Vec<(String, Vec<u8>)>) {
    if path.to_ascii_lowercase().ends_with(".zip") {
        unzip(&path, bytes, out);
    }
    let head = bytes[..bytes.len().min(HEAD_LEN)].to_vec();
    out.push((path, head));
}

/// The crate's fixtures and every file of every generated scenario (zips opened), as heads.
fn known_heads() -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    for path in fixture_files() {
        push_file(path.display().to_string(), &std::fs::read(&path).unwrap(), &mut out);
    }
    for s in uctriage_fixtures::scenarios() {
        for f in s.build().files() {
            push_file(format!("{}/{}", s.name, f.path), &f.bytes, &mut out);
        }
    }
    out
}

/// The name as `most_confident` passes it.
fn lower_name(name: &str) -> String {
    name.to_ascii_lowercase().replace('\\', "/")
}

#[test]
fn known_heads_score_as_before_whole_and_cut() {
    let registry = registry();
    let heads = known_heads();
    assert!(heads.len() > 200, "{}", heads.len());
    let mut chosen = std::collections::BTreeMap::<&str, usize>::new();
    for (name, head) in &heads {
        let name = lower_name(name);
        let lines: Vec<&[u8]> = head.split_inclusive(|b| *b == b'\n').collect();
        for n in [1, 2, 3, 5, 20, lines.len()] {
            let part = lines[..n.min(lines.len())].concat();
            same_scores(&registry, &name, &part).unwrap();
        }
        let input = Input::from_bytes(&name, &name, head.clone());
        if let Some(r) = choose(&registry, &input, None) {
            *chosen.entry(r.format()).or_default() += 1;
        }
    }
    // The heads reach the rewritten readers, not only the generic one.
    for format in
        ["sbc-syslog", "pexip-install", "pexip-log", "teams-log", "uccapilog", "mosdal", "sip-trace", "dsregcmd"]
    {
        assert!(chosen.get(format).is_some_and(|n| *n > 0), "{format}: {chosen:?}");
    }
}

/// Lines that sit on the edges of the rewritten tests: banners, escaped messages, SIP start lines
/// and one-line events, key-value lines, the Pexip messages of the knowledge base (spaced and
/// quoted as folding undoes), and the things near each.
fn tricky_lines() -> Vec<String> {
    let mut out: Vec<String> = [
        "Jul 15 08:30:11 sbc1 [S=1] [SID=a:1:2] ---- Incoming SIP Message from 52.114.148.0:5061 ----",
        "<134>Jul 15 08:30:11 192.0.2.10 local0.notice [S=1] x",
        "2025-07-15T10:30:11.123+02:00 sbc2 SIPMsg",
        "2025-07-15 08:30:11.123 sbc2 x",
        "15:30:11.123 : 192.0.2.10 : NOTICE: [S=1] x",
        "Jul 15 08:30:11 sbc1 INVITE sip:+1555@x SIP/2.0#015#012Via: SIP/2.0/TLS x",
        "Jul 15 08:30:11 sbc1 x#012Call-ID: abc",
        "Jul 15 08:30:11 sbc1 x#012 nothing",
        "#012",
        "SIP/2.0 200 OK",
        "sip/2.0 200 OK",
        "INVITE sip:+15551234@sbc.contoso.com SIP/2.0",
        "x: SIP/2.0 486 Busy Here",
        "Sending INVITE to 52.114.148.0:5061",
        "Received SIP/2.0 200 OK from sbc.contoso.com",
        "got 403 Forbidden from 10.0.0.1",
        "RECV: BYE to sbc1.contoso.com",
        "sent: nothing to see",
        "presence record got here",
        "SIP MESSAGE RECEIVED",
        "sipfesocketrecvmsg",
        "incoming  sip message",
        "[SID",
        "TL_INFO(TF_PROTOCOL) [0]1234.5678::07/15/2025-08:30:11.123.0000abcd",
        "TL_ without the colons",
        " TL_INFO::indented",
        "$$begin_record",
        "2025-07-15 08:30:11 pexip Level=\"ERROR\" Name=\"administrator.teams\" Message=\"Teams API request failed\"",
        "Level=\"INFO\" Name=\"x\"",
        "Message=\"only\" Level=\"x\" Name=\"y\"",
        "Outgoing denial-of-service detected by Azure Security Center",
        "**********************\r",
        "Windows PowerShell transcript start",
        "PS>TerminatingError(New-AzVM): \"The quota was exceeded\"",
        "create_vmss_deployment.ps1 : failed",
        "Mon Jul 15 2025 08:30:11 GMT+0000 <1234> -- info -- message",
        "2025-07-15T08:30:11.123456+00:00 0x00001234 <INFO> component: msg",
        "errorCode: 1, errorStep: 2, errorState: 3",
        "Teams",
        "TCP port 443 (https service): LISTENING",
        "UDP port 3478 (unknown service): LISTENING or FILTERED",
        "tcp port 80: x",
        "Querying target system called:",
        "Server:  dns.contoso.com",
        "Address:  10.0.0.1",
        "*** dns.contoso.com can't find x: Non-existent domain",
        "| Device State |",
        "|  device STATE  |",
        "+----------------------------------------------------------------------+",
        "AzureAdJoined : YES",
        "             AzureAdJoined : NO",
        "Call-ID: abc@10.0.0.1",
        "CSeq: 1 INVITE",
        "Via: SIP/2.0/TLS 10.0.0.1:5061",
        "  i: abc",
        "v: SIP/2.0/UDP x",
        "\u{a0}call-ID: x",
        "",
        "\r",
        "\t ",
    ]
    .iter()
    .map(|s| (*s).to_owned())
    .collect();
    for e in kb().entries().iter().filter(|e| matches!(e.code.kind(), Kind::Pexip | Kind::Lync)) {
        for a in e.aliases.iter().take(2) {
            out.push(a.clone());
            out.push(a.replace(' ', "  ").replace('\'', "\u{2019}").to_uppercase());
            out.push(a.replacen(' ', "\n", 1));
        }
    }
    out
}

/// Lines to build heads from: the tricky ones and a share of the fixtures' own.
fn line_pool() -> &'static [String] {
    static POOL: std::sync::OnceLock<Vec<String>> = std::sync::OnceLock::new();
    POOL.get_or_init(|| {
        let mut pool = tricky_lines();
        pool.extend(fixture_lines().into_iter().step_by(3).take(4000));
        pool
    })
}

const NAMES: &[&str] = &[
    "sbc1.contoso.com_syslog.0001.log",
    "notes.txt",
    "logs.txt",
    "app/microsoft/teams/logs.txt",
    "pexip_support.log",
    "install.transcript",
    "client.uccapilog",
    "calls.csv",
    "trace.sip",
    "events.json",
];

/// A head made of pool lines, joined by one kind of line end, with a byte changed here and there.
fn made_head(picks: &[usize], end: usize, damage: &[(usize, u8)]) -> Vec<u8> {
    let pool = line_pool();
    let sep = ["\n", "\r\n", "\r\r\n", "\n\n"][end % 4];
    let mut head = Vec::new();
    for p in picks {
        head.extend_from_slice(pool[p % pool.len()].as_bytes());
        head.extend_from_slice(sep.as_bytes());
    }
    for (at, b) in damage {
        if !head.is_empty() {
            let at = at % head.len();
            head[at] = *b;
        }
    }
    head.truncate(HEAD_LEN);
    head
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(600))]

    #[test]
    fn made_heads_score_as_before(
        picks in proptest::collection::vec(0usize..100_000, 0..60),
        end in 0usize..4,
        damage in proptest::collection::vec((0usize..100_000, any::<u8>()), 0..3),
        name in 0usize..NAMES.len(),
    ) {
        let head = made_head(&picks, end, &damage);
        let registry = registry();
        prop_assert!(same_scores(&registry, NAMES[name], &head).is_ok(), "{:?}", same_scores(&registry, NAMES[name], &head));
    }

    #[test]
    fn damaged_fixtures_score_as_before(
        file in 0usize..1000,
        cut in 0usize..HEAD_LEN,
        damage in proptest::collection::vec((0usize..HEAD_LEN, any::<u8>()), 0..4),
    ) {
        let files = fixture_files();
        let path = &files[file % files.len()];
        let bytes = std::fs::read(path).unwrap();
        let mut head = bytes[..bytes.len().min(HEAD_LEN).min(cut.max(1))].to_vec();
        for (at, b) in damage {
            let at = at % head.len().max(1);
            if let Some(x) = head.get_mut(at) {
                *x = b;
            }
        }
        let name = lower_name(&path.display().to_string());
        let registry = registry();
        prop_assert!(same_scores(&registry, &name, &head).is_ok(), "{:?}", same_scores(&registry, &name, &head));
    }
}

/// Heads whose deciding line sits just inside or just past the lines the readers look at
/// (20,000 for SBC syslogs, 2,000 for Pexip and uccapilog, 200 for Teams logs).
#[test]
fn lines_at_the_limits_score_as_before() {
    let registry = registry();
    let deciding = [
        "Jul 15 08:30:11 sbc1 [S=1] ---- Incoming SIP Message from 52.114.148.0:5061 ----",
        "Jul 15 08:30:11 sbc1 INVITE sip:+1555@x SIP/2.0#015#012Via: x",
        "Jul 15 08:30:11 sbc1 Sending INVITE to 52.114.148.0:5061",
        "2025-07-15 08:30:11 pexip Level=\"ERROR\" Name=\"x\" Message=\"y\"",
        "TL_INFO(TF_PROTOCOL) [0]1234.5678::07/15/2025-08:30:11.123",
        "2025-07-15T08:30:11.123456+00:00 0x00001234 <INFO> component: msg",
    ];
    let fill = ["", "Jul 15 08:30:11 sbc1 x", "TL_INFO::x"];
    for line in deciding {
        for f in fill {
            for before in [0, 1, 198, 199, 200, 1998, 1999, 2000, 19_998, 19_999, 20_000] {
                for end in ["\n", "\r\n"] {
                    let mut head = format!("{f}{end}").repeat(before);
                    head.push_str(line);
                    head.push_str(end);
                    head.push_str(line);
                    let head = &head.as_bytes()[..head.len().min(HEAD_LEN)];
                    // The names each rewritten reader weighs.
                    for name in [NAMES[0], NAMES[3], NAMES[4], NAMES[6]] {
                        same_scores(&registry, name, head).unwrap();
                    }
                }
            }
        }
    }
}

#[test]
fn the_shared_head_is_what_each_reader_worked_out_for_itself() {
    for (_, head) in known_heads().iter().step_by(7) {
        let h = Head::new(head);
        assert_eq!(h.text(), head_text(head));
        assert_eq!(h.lower(), head_text(head).to_ascii_lowercase());
        assert_eq!(h.textual(), crate::input::looks_textual(head));
        assert_eq!(h.bytes(), &head[..]);
    }
}

#[test]
fn lines_are_found_as_str_lines_gives_them() {
    for text in ["", "a", "a\n", "a\r\nb\r", "\r\n\r\n", "x\r\r\ny\nz", "one\ntwo\r\nthree"] {
        let lines: Vec<&str> = text.lines().collect();
        for n in 0..5 {
            let end = lines_end(text, n);
            assert_eq!(text[..end].lines().collect::<Vec<_>>(), lines[..n.min(lines.len())], "{text:?} {n}");
        }
        let mut at = 0;
        let mut found = Vec::new();
        while at < text.len() {
            let (line, next) = line_at(text, at);
            found.push(line);
            at = next;
        }
        assert_eq!(found, lines, "{text:?}");
    }
}
