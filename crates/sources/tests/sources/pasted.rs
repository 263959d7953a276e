//! Pasted text has no file name to go by: the reader is chosen from the content, and what a
//! paste mangles (empty lines between headers, a few columns of an export) is still read.

use uctriage_sources::{read, Evidence, InputReport, Options, Source};

fn read_paste(text: &str) -> (InputReport, Vec<Evidence>) {
    let sources = [Source::Bytes { name: "pasted-text".into(), bytes: text.as_bytes().into() }];
    let mut out = None;
    read(&sources, &Options::default(), Vec::new, |r, s| out = Some((r, s)));
    out.expect("one input")
}

fn codes(records: &[Evidence]) -> Vec<String> {
    records.iter().flat_map(|e| e.codes.iter().map(ToString::to_string)).collect()
}

#[test]
fn a_double_spaced_sip_paste_keeps_the_headers_set_apart() {
    let (r, records) = read_paste(
        "SIP/2.0 503 Service Unavailable\n\nVia: SIP/2.0/TLS 52.114.32.169:5061;branch=z9hG4bKf00d\n\nCSeq: 1 INVITE\n\n\
         Reason: Q.850 ;cause=34 ;text=\"No circuit/channel available\"\n\nContent-Length: 0\n",
    );
    assert_eq!(r.format, "sip-trace");
    let c = codes(&records);
    assert!(c.contains(&"SIP 503".to_owned()) && c.contains(&"Q850 34".to_owned()), "{c:?}");
    let reason = records.iter().find(|e| e.codes.iter().any(|c| c.to_string() == "Q850 34")).unwrap();
    assert_eq!((reason.kind.as_str(), reason.location.as_str()), ("log-line", "line 7"));
}

#[test]
fn a_few_columns_of_the_sign_in_export_are_sign_ins() {
    let (r, records) = read_paste(
        "Date (UTC),User,Application,Status,Sign-in error code,Failure reason\n\
         2024-05-01T10:00:00Z,room01@contoso.com,Microsoft Teams,Failure,50126,The user name or password is wrong.\n",
    );
    assert_eq!(r.format, "entra-signins");
    assert_eq!(codes(&records), ["AADSTS50126"]);
}

#[test]
fn an_http_status_names_the_call_it_answered() {
    let (r, records) =
        read_paste("2024-02-12 09:13:44 request https://teams.microsoft.com/api/mt/users failed with code 503\n");
    assert_eq!(r.format, "generic-text");
    assert_eq!(codes(&records), ["HTTP 503"]);
    assert_eq!(records[0].get_str("url"), Some("https://teams.microsoft.com/api/mt/users"));
}
