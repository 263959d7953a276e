//! `--redact` through the whole scan and every format: generated personal data of every kind,
//! in generated log lines, must not survive, neither whole nor cut in half at an excerpt's end.

use std::fmt::Write as _;
use std::sync::{Arc, OnceLock};

use proptest::prelude::*;
use uctriage_scan::{scan, RuleSet, ScanOptions, Source};

use crate::run;

fn rules() -> &'static RuleSet {
    static R: OnceLock<RuleSet> = OnceLock::new();
    R.get_or_init(RuleSet::builtin)
}

/// One planted value: the text that goes into the line, and the secret parts of it that must
/// not be found in any output.
#[derive(Debug, Clone)]
struct Planted {
    text: String,
    secrets: Vec<String>,
}

fn planted(text: String, secret: &str) -> Planted {
    Planted { secrets: vec![secret.to_owned()], text }
}

fn word() -> impl Strategy<Value = String> {
    "[a-z]{3,8}"
}

fn name() -> impl Strategy<Value = String> {
    "[A-Z][a-z]{3,7}"
}

fn tld() -> impl Strategy<Value = &'static str> {
    prop::sample::select(vec!["com", "net", "org", "de", "co.uk", "local"])
}

fn hex(n: usize) -> impl Strategy<Value = String> {
    prop::collection::vec(prop::sample::select(b"0123456789abcdef".to_vec()), n)
        .prop_map(|v| v.into_iter().map(char::from).collect())
}

fn ipv6() -> impl Strategy<Value = String> {
    // Eight groups, the first never zero; then a run of them compressed to `::` (or none).
    (prop::collection::vec(1u16..0xffff, 8), 0usize..8, 0usize..4).prop_map(|(mut g, at, len)| {
        g[0] = g[0].max(0x2001);
        let end = (at + len).min(8);
        if len == 0 || at == 0 || end == at {
            return g.iter().map(|x| format!("{x:x}")).collect::<Vec<_>>().join(":");
        }
        for x in &mut g[at..end] {
            *x = 0;
        }
        let head = g[..at].iter().map(|x| format!("{x:x}")).collect::<Vec<_>>().join(":");
        let tail = g[end..].iter().map(|x| format!("{x:x}")).collect::<Vec<_>>().join(":");
        format!("{head}::{tail}")
    })
}

/// A value of every kind `--redact` must remove, in the shape it has in logs.
fn value() -> impl Strategy<Value = Planted> {
    prop_oneof![
        (word(), word(), tld()).prop_map(|(u, d, t)| planted(format!("{u}.x@{d}.{t}"), &format!("{u}.x@{d}.{t}"))),
        ("[a-zäöüéñ]{2,5}[äöüéñ][a-z]{1,4}", word())
            .prop_map(|(u, d)| planted(format!("{u}@{d}.de"), &format!("{u}@{d}"))),
        (word(), word()).prop_map(|(u, d)| planted(format!("upn={u}%40{d}.com&x=1"), &format!("{u}%40{d}"))),
        ("[A-Z]{4,8}", word()).prop_map(|(d, u)| Planted {
            text: format!("logon {d}\\{u}x failed"),
            secrets: vec![format!("{d}\\{u}x"), format!("\\{u}x")]
        }),
        word().prop_map(|u| planted(format!(r"C:\Users\{u}q\AppData\Local"), &format!("{u}q"))),
        word().prop_map(|u| planted(format!("/home/{u}q/.config"), &format!("{u}q"))),
        (word(), word(), tld())
            .prop_map(|(h, d, t)| planted(format!("OPTIONS sip:{h}1.{d}.{t}:5061"), &format!("{h}1.{d}"))),
        ("[A-Z]{3,6}-[A-Z0-9]{3,6}").prop_map(|c| planted(format!("Computer: {c}"), &c)),
        (10u8..250, 10u8..250, 10u8..250, 10u8..250, prop::sample::select(vec!["_", ":", " "]))
            .prop_map(|(a, b, c, d, s)| { planted(format!("ip{s}{a}.{b}.{c}.{d}{s}x"), &format!("{a}.{b}.{c}.{d}")) }),
        ipv6().prop_map(|v| planted(format!("from [{v}]:5061 and_{v}_x"), &v)),
        (hex(12), prop::sample::select(vec![':', '-'])).prop_map(|(h, s)| {
            let mac = (0..6).map(|i| &h[2 * i..2 * i + 2]).collect::<Vec<_>>().join(&s.to_string());
            planted(format!("mac {mac}"), &mac)
        }),
        (hex(32), any::<bool>()).prop_map(|(h, dashes)| {
            let g = if dashes {
                format!("{}-{}-{}-{}-{}", &h[..8], &h[8..12], &h[12..16], &h[16..20], &h[20..])
            } else {
                h
            };
            planted(format!("correlation {g}"), &g)
        }),
        "[A-Za-z0-9]{24,32}".prop_map(|t| planted(format!("Authorization: Bearer {t}"), &t)),
        ("[A-Za-z0-9_-]{12,20}", "[A-Za-z0-9_-]{12,20}", "[A-Za-z0-9_-]{16,30}")
            .prop_map(|(a, b, c)| planted(format!("token eyJ{a}.eyJ{b}.{c}"), &format!("{a}.eyJ{b}"))),
        "[A-Za-z0-9!#]{8,16}".prop_map(|p| planted(format!("password={p}Q"), &format!("{p}Q"))),
        "[A-Za-z0-9 !#]{8,16}".prop_map(|p| planted(format!("{{\"password\":\"{p}Q\"}}"), &format!("{p}Q"))),
        "[A-Za-z0-9~.]{12,24}".prop_map(|p| planted(format!("client_secret={p}Q"), &format!("{p}Q"))),
        "[A-Za-z0-9%]{20,40}".prop_map(|p| planted(
            format!("https://x.blob.core.windows.net/c?sv=2020&sig={p}Q&se=1"),
            &format!("{p}Q")
        )),
        "[a-z0-9]{16}".prop_map(|p| planted(format!("Cookie: sid={p}"), &p)),
        (100u16..999, 100u16..999, 1000u16..9999, prop::sample::select(vec![' ', '.', '-'])).prop_map(
            |(a, b, c, s)| { planted(format!("call +1{s}{a}{s}{b}{s}{c} now"), &format!("{a}{s}{b}{s}{c}")) }
        ),
        (100u16..999, 100u16..999, 1000u16..9999)
            .prop_map(|(a, b, c)| planted(format!("<tel:+1{a}{b}{c}>"), &format!("{a}{b}{c}"))),
        // A Pexip log's key-value pairs and a JSON heartbeat's fields name people and rooms.
        (name(), name(), "[0-9]{6,8}").prop_map(|(p, c, id)| Planted {
            text: format!("Conference=\"{c} VMR\" Participant=\"{p} Q\" Conference-Id={id}"),
            secrets: vec![format!("{c} VMR"), format!("{p} Q"), id],
        }),
        name().prop_map(|n| planted(
            format!("{{\"DisplayName\":\"{n}room\",\"OS\":\"Windows 10\"}}"),
            &format!("{n}room")
        )),
    ]
}

/// A record of our own JSON Lines (what `uctriage evidence` writes), with fields that name a
/// person, a room, a Pexip alias and conference, and an excerpt that quotes them.
fn named_record() -> impl Strategy<Value = (String, Vec<String>)> {
    (name(), name(), name(), word(), "[0-9]{6,9}").prop_map(|(first, last, room, alias, conf)| {
        let display = format!("{first} {last}");
        let room = format!("{room} Room");
        let alias = format!("meet.{alias}");
        let excerpt = format!("{display} joined {alias} ({conf}) from {room} AADSTS50126");
        let line = serde_json::json!({
            "path": "tac-export.csv", "format": "dr-csv", "location": "row 2",
            "time": "2025-07-15T08:30:11Z", "source": "export", "kind": "sign-in",
            "codes": ["AADSTS50126"],
            "fields": {"user_display_name": display, "room": room, "conference_alias": alias, "conference_id": conf},
            "excerpt": excerpt,
        });
        (line.to_string() + "\n", vec![display, room, alias, conf])
    })
}

/// Log lines with values planted among filler words; the last line puts its value across the
/// excerpt's cut (at 400 characters), at `cut_at` of the value's length.
fn bundle() -> impl Strategy<Value = (Vec<u8>, Vec<String>)> {
    let line = (prop::collection::vec(word(), 0..4), value(), prop::collection::vec(word(), 0..4));
    (prop::collection::vec(line, 1..8), value(), 0.2f64..0.9).prop_map(|(lines, cut, cut_at)| {
        let mut text = String::new();
        let mut secrets = Vec::new();
        for (before, v, after) in lines {
            let _ = writeln!(
                text,
                "2025-07-15 08:30:11 {} {} {} sign-in failed AADSTS50126",
                before.join(" "),
                v.text,
                after.join(" ")
            );
            secrets.extend(v.secrets);
        }
        let head = "2025-07-15 08:31:11 AADSTS50126 ";
        let secret = &cut.secrets[0];
        let in_text = cut.text[..cut.text.find(secret.as_str()).unwrap_or(0)].chars().count();
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss, clippy::cast_precision_loss)]
        let inside = (secret.chars().count() as f64 * cut_at) as usize;
        let filler = uctriage_evidence::EXCERPT_MAX.saturating_sub(head.len() + in_text + inside + 1).max(2);
        let _ = writeln!(text, "{head}{} {} tail", "y".repeat(filler - 1), cut.text);
        // The values must go, and what of the cut one is left before the cut.
        if inside >= 6 {
            secrets.push(secret.chars().take(inside).collect());
        }
        secrets.extend(cut.secrets);
        (text.into_bytes(), secrets)
    })
}

fn outputs(sources: &[Source]) -> Vec<(&'static str, String)> {
    let opts = ScanOptions { redact: true, ..ScanOptions::default() };
    let report = scan(sources, rules(), &opts, &mut |_, _| {}).expect("the inputs are read");
    vec![
        ("json", report.json()),
        ("text", uctriage_report::text(&report, false)),
        ("markdown", uctriage_report::markdown(&report)),
        ("html", uctriage_report::html(&report)),
    ]
}

/// The ways a value can be written in an output: as is, JSON-escaped, HTML-escaped.
fn spellings(s: &str) -> Vec<String> {
    let json = serde_json::to_string(s).unwrap();
    let html = s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;");
    vec![s.to_owned(), json[1..json.len() - 1].to_owned(), html]
}

fn assert_gone(outputs: &[(&str, String)], secrets: &[String]) -> Result<(), TestCaseError> {
    for (format, out) in outputs {
        for s in secrets {
            for spelled in spellings(s) {
                prop_assert!(!out.contains(&spelled), "{format} leaks {spelled:?}:\n{out}");
            }
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn no_generated_value_survives_redaction_in_any_format((log, secrets) in bundle(), (record, names) in named_record()) {
        let sources = [
            Source::Bytes { name: "client.log".into(), bytes: Arc::from(log) },
            Source::Bytes { name: "records.jsonl".into(), bytes: Arc::from(record.into_bytes()) },
        ];
        let outs = outputs(&sources);
        prop_assert!(outs[0].1.contains("AADSTS50126"), "the code is kept: {}", outs[0].1);
        assert_gone(&outs, &secrets)?;
        assert_gone(&outs, &names)?;
    }
}

fn tmp(name: &str, body: &[u8]) -> String {
    let dir = std::env::temp_dir().join(format!("uctriage-cli-redact-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let p = dir.join(name);
    std::fs::write(&p, body).unwrap();
    p.display().to_string()
}

const PII: &str = "2025-07-15 08:30:11 jdoe@contoso.com from 192.0.2.53 CONTOSO\\jdoe on Computer=BOARDROOM-PC sbc1.contoso.com tel:+14255550100 AADSTS50126\n";
const SECRETS: &[&str] = &["jdoe", "contoso", "192.0.2.53", "BOARDROOM-PC", "14255550100", "alice"];

#[test]
fn evidence_redact_removes_personal_data_from_records_and_warnings() {
    let p = tmp("pii.log", PII.as_bytes());
    let (code, out, err) = run(&["evidence", "--redact", &p, "/home/alice/missing.log"]);
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("/home/user-") && err.contains("missing.log"), "the warning is there, redacted: {err}");
    for s in SECRETS {
        assert!(!out.contains(s) && !err.contains(s), "{s} survived:\n{out}\n{err}");
    }
    let v: serde_json::Value = serde_json::from_str(out.lines().next().unwrap()).unwrap();
    assert_eq!(v["codes"][0], "AADSTS50126");
    assert!(v["excerpt"].as_str().unwrap().contains("user-1@tenant-1"), "{out}");
    // Without --redact the records are as read.
    let (_, plain, _) = run(&["evidence", &p]);
    assert!(plain.contains("jdoe@contoso.com"));
}

#[test]
fn scan_redact_covers_every_format_and_the_error_on_stderr() {
    let p = tmp("pii2.log", PII.as_bytes());
    for format in ["text", "json", "markdown", "html"] {
        let (code, out, err) = run(&["scan", "--redact", "-q", "--format", format, &p, "/home/alice/missing.log"]);
        assert_eq!(code, 1, "{err}");
        for s in SECRETS {
            assert!(!out.contains(s) && !err.contains(s), "{format}: {s} survived:\n{out}\n{err}");
        }
    }
    let (code, _, err) = run(&["scan", "--redact", "/home/alice/missing.log"]);
    assert_eq!(code, 2);
    assert!(!err.contains("alice") && err.contains("/home/user-1"), "{err}");
}

/// The built-in sample (a Teams Rooms bundle, an Entra export, a Direct Routing export with
/// display names, SBC syslog): no value of a field that names someone or something survives in
/// any format of a redacted scan, nor in `evidence --redact`.
#[test]
fn the_sample_bundle_keeps_no_named_value() {
    let dir = std::env::temp_dir().join(format!("uctriage-cli-redact-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let zip = dir.join("sample.zip");
    let (code, _, err) = run(&["sample", "-f", "-o", zip.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    let zip = zip.to_str().unwrap();
    let (_, plain, _) = run(&["evidence", zip]);
    let mut named: Vec<String> = Vec::new();
    for line in plain.lines() {
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        for (k, v) in v["fields"].as_object().unwrap() {
            if let (Some(_), Some(s)) = (uctriage_report::redact::named_field(k), v.as_str()) {
                if s.len() >= 4 && !named.contains(&s.to_owned()) {
                    named.push(s.to_owned());
                }
            }
        }
    }
    assert!(named.iter().any(|n| n.contains("User 01")), "display names are in the sample: {named:?}");
    let (_, redacted, _) = run(&["evidence", "--redact", zip]);
    let mut outs = vec![("evidence".to_owned(), redacted)];
    for format in ["text", "json", "markdown", "html"] {
        outs.push((format.to_owned(), run(&["scan", "--redact", "-q", "--format", format, zip]).1));
    }
    for (format, out) in &outs {
        for n in &named {
            for spelled in spellings(n) {
                assert!(!out.contains(&spelled), "{format} leaks {spelled:?}");
            }
        }
    }
}
