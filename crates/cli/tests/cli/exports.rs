//! What admins really export, end to end: a Direct Routing CSV as the portal writes it, a zip and
//! an `.evtx` cut short. Each warning names the file and the place.

use std::path::PathBuf;

use crate::{run, run_json};

fn dir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("uctriage-cli-exports-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// A stored zip entry's local header and data (checksum left at zero: a salvaged archive's
/// checksums are not checked).
fn local_entry(name: &str, data: &[u8]) -> Vec<u8> {
    let mut v = b"PK\x03\x04".to_vec();
    v.extend_from_slice(&20u16.to_le_bytes()); // version
    v.extend_from_slice(&0u16.to_le_bytes()); // flags
    v.extend_from_slice(&0u16.to_le_bytes()); // stored
    v.extend_from_slice(&0u16.to_le_bytes()); // time
    v.extend_from_slice(&0x5AEFu16.to_le_bytes()); // date: 2025-07-15
    v.extend_from_slice(&0u32.to_le_bytes()); // crc
    let len = u32::try_from(data.len()).unwrap();
    v.extend_from_slice(&len.to_le_bytes());
    v.extend_from_slice(&len.to_le_bytes());
    v.extend_from_slice(&u16::try_from(name.len()).unwrap().to_le_bytes());
    v.extend_from_slice(&0u16.to_le_bytes());
    v.extend_from_slice(name.as_bytes());
    v.extend_from_slice(data);
    v
}

#[test]
fn a_zip_cut_short_is_scanned_with_a_warning_at_the_cut() {
    let d = dir("zip");
    let first = b"2025-07-15 08:30:11 room sign-in failed: AADSTS50126\n";
    let second: Vec<u8> =
        (0..200).flat_map(|i| format!("2025-07-15 08:31:{:02} retry AADSTS50126\n", i % 60).into_bytes()).collect();
    let mut zip = local_entry("Logs/first.log", first);
    zip.extend(local_entry("Logs/second.log", &second));
    zip.truncate(zip.len() - second.len() / 2);
    let p = d.join("logs.zip");
    std::fs::write(&p, &zip).unwrap();
    let (code, v) = run_json(&["scan", "--format", "json", p.to_str().unwrap()]);
    assert_eq!(code, 1, "{v}");
    let inputs: Vec<&str> = v["inputs"].as_array().unwrap().iter().map(|i| i["path"].as_str().unwrap()).collect();
    assert_eq!(inputs.len(), 2, "{inputs:?}");
    assert!(inputs[1].ends_with("logs.zip!Logs/second.log"));
    let warnings: Vec<&str> = v["warnings"].as_array().unwrap().iter().map(|w| w.as_str().unwrap()).collect();
    let at_end = format!("logs.zip: byte {}: no readable central directory", zip.len());
    assert!(warnings.iter().any(|w| w.contains(&at_end)), "{warnings:?}");
    assert!(
        warnings.iter().any(|w| w.contains("logs.zip!Logs/second.log: byte ") && w.contains("cut short")),
        "{warnings:?}"
    );
    assert_eq!(v["findings"][0]["codes"][0], "AADSTS50126");
}

#[test]
fn a_tiny_truncated_evtx_is_a_warning_not_silence() {
    let d = dir("evtx");
    let mut bytes = b"ElfFile\0".to_vec();
    bytes.resize(600, 0);
    let p = d.join("System.evtx");
    std::fs::write(&p, &bytes).unwrap();
    let (code, v) = run_json(&["scan", "--format", "json", p.to_str().unwrap()]);
    assert_eq!(code, 3, "{v}");
    let w = v["inputs"][0]["warnings"][0].as_str().unwrap_or_default();
    assert!(w.starts_with("byte 600: the file ends 600 bytes into its 4096-byte header (truncated)"), "{v}");
    let (_, out, _) = run(&["scan", p.to_str().unwrap()]);
    assert!(out.contains("System.evtx") && out.contains("byte 600"), "{out}");
}

#[test]
fn a_direct_routing_export_with_start_time_utc_has_times() {
    let d = dir("dr");
    let csv = "\u{feff}Start time (UTC);SBC FQDN;Final SIP code;Final Microsoft subcode;Duration (seconds)\r\n\
               2025-07-15 08:30:11;sbc1.contoso.com;403;560403;0\r\n";
    let p = d.join("DirectRoutingUsage.csv");
    std::fs::write(&p, csv).unwrap();
    let (_, v) = run_json(&["scan", "--format", "json", p.to_str().unwrap()]);
    assert_eq!(v["inputs"][0]["format"], "dr-csv");
    assert_eq!(v["inputs"][0]["warnings"].as_array().map(Vec::len), Some(0), "{v}");
    assert_eq!(v["findings"][0]["first_seen"], "2025-07-15T08:30:11Z", "{v}");
}
