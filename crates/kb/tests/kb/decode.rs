//! What the structure of a code reveals, known or not.

use uctriage_kb::{decode, Code, KnowledgeBase};

#[test]
fn msrc_560403_says_the_sbc_answered_403_outbound() {
    let kb = KnowledgeBase::builtin();
    let x = &kb.explain("560403")[0];
    assert!(x.known);
    let d = x.decoded.as_ref().unwrap();
    assert!(d.summary.contains("SBC") && d.summary.contains("403") && d.summary.contains("outbound"), "{}", d.summary);
    assert_eq!(d.inner, Some(Code::Sip(403)));
}

#[test]
fn undocumented_msrc_decodes_from_its_digits() {
    let kb = KnowledgeBase::builtin();
    let x = &kb.explain("560486")[0];
    assert!(x.known, "a 560ZZZ code with a known SIP code is explained from its structure");
    let e = x.entry.as_ref().unwrap();
    assert_eq!(e.layer.as_str(), "sbc");
    assert!(e.title.contains("486"));
    let inbound = decode(&Code::Msrc(540_487));
    assert!(inbound.summary.contains("inbound"), "{}", inbound.summary);
}

#[test]
fn unknown_caa8_code_decodes_its_winhttp_part() {
    let kb = KnowledgeBase::builtin();
    // 0x2F06 = 12038 ERROR_WINHTTP_SECURE_CERT_CN_INVALID; pick one the WAM list lacks if present.
    let x = &kb.explain("0xCAA82F8F")[0];
    let d = x.decoded.as_ref().unwrap();
    assert_eq!(d.symbolic_name, Some("ERROR_WINHTTP_SECURE_FAILURE"));
    assert!(d.summary.contains("12175"), "{}", d.summary);
    let unknown = &kb.explain("0xCAA8FFFE")[0];
    assert!(!unknown.known);
    assert!(unknown.decoded.as_ref().unwrap().summary.contains("WinHTTP error 65534"));
    assert!(!unknown.suggestions.is_empty());
}

#[test]
fn win32_hresult_decodes_by_name() {
    let kb = KnowledgeBase::builtin();
    let x = &kb.explain("2147942402")[0];
    assert_eq!(x.code, Some(Code::Hresult(0x8007_0002)));
    assert!(x.known);
    assert_eq!(x.decoded.as_ref().unwrap().symbolic_name, Some("ERROR_FILE_NOT_FOUND"));
    // Not curated in the knowledge base, still named by the Win32 table.
    let y = &kb.explain("0x80070005")[0];
    assert!(y.known);
    assert!(
        y.entry.as_ref().unwrap().title.contains("ERROR_ACCESS_DENIED")
            || y.entry.as_ref().unwrap().name.as_deref() == Some("E_ACCESSDENIED")
    );
}

#[test]
fn wam_groups_decode() {
    assert_eq!(decode(&Code::Hresult(0xCAA2_0003)).inner, Some(Code::Oauth("invalid_grant".into())));
    assert_eq!(decode(&Code::Hresult(0xCAA3_0194)).inner, Some(Code::Http(404)));
    let d = decode(&Code::Hresult(0xCAA8_2EE7));
    assert_eq!(d.symbolic_name, Some("ERROR_WINHTTP_NAME_NOT_RESOLVED"));
    let nt = decode(&Code::Hresult(0xC000_006D));
    assert!(nt.summary.contains("NTSTATUS"));
    let net = decode(&Code::Hresult(0x8013_1500));
    assert!(net.summary.contains(".NET"), "{}", net.summary);
}

#[test]
fn unknown_text_gets_suggestions() {
    let kb = KnowledgeBase::builtin();
    let x = &kb.explain("AADSTS500769")[0];
    assert!(!x.known);
    assert!(!x.suggestions.is_empty());
    assert!(x.suggestions.iter().all(|c| matches!(c, Code::Aadsts(_))));
}

#[test]
fn codes_are_found_in_free_text() {
    let kb = KnowledgeBase::builtin();
    let cases: &[(&str, &[&str])] = &[
        (
            r#"{"Description":"Network status : Healthy. Exchange status : 80131500 : AADSTS50076. Signin status: NotApplicable."}"#,
            &["AADSTS50076", "0x80131500"],
        ),
        (
            "https://login.example/cb?error=interaction_required&error_description=AADSTS50076%3a+Due+to",
            &["AADSTS50076", "OAUTH interaction_required"],
        ),
        ("Error: 0xCAA70004 Code: 0x00000001", &["0xCAA70004"]),
        ("SIP/2.0 403 Forbidden", &["SIP 403"]),
        ("INVITE sip:+15551234@sbc.contoso.com SIP/2.0", &[]),
        ("Reason: Q.850;cause=34;text=\"no circuit\"", &["Q850 34"]),
        ("ms-diagnostics: 1034;reason=\"Previous hop\"", &["MS-DIAG 1034"]),
        ("Teams API request failed Call-id=abc Error=\"401\"", &["HTTP 401"]),
        ("launch failed: max_reload_exceeded", &["TEAMS max_reload_exceeded"]),
        (
            "errorCode: FailedAuthentication, errorStep: get_skype_license, errorState: licenseError",
            &["TEAMS licenseError"],
        ),
        ("the quick brown fox 2025-07-15 connected to 10.0.0.1", &[]),
        ("ActivityId caaaaf3a-1b2c-4d5e-8f90-123456789abc done", &[]),
    ];
    for (text, want) in cases {
        let got: Vec<String> = kb.extract(text).iter().map(ToString::to_string).collect();
        for w in *want {
            assert!(got.iter().any(|g| g == w), "{text}: want {w}, got {got:?}");
        }
        if want.is_empty() {
            assert!(got.is_empty(), "{text}: got {got:?}");
        }
    }
}
