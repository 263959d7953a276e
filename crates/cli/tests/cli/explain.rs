use crate::{run, run_json};

#[test]
fn explains_a_rooms_mfa_code_in_text() {
    let (code, out, _) = run(&["explain", "AADSTS50076"]);
    assert_eq!(code, 0);
    insta::assert_snapshot!("explain_aadsts50076", out);
}

#[test]
fn text_output_has_no_colour_when_piped() {
    let (_, out, _) = run(&["explain", "0xCAA70004"]);
    assert!(!out.contains('\x1b'));
    let (_, out, _) = run(&["--color", "always", "explain", "0xCAA70004"]);
    assert!(out.contains("\x1b["));
}

#[test]
fn json_has_the_contract_fields() {
    let (code, v) = run_json(&["explain", "--format", "json", "aadsts50126:", "0xcaa70004", "SIP/2.0 403 Forbidden"]);
    assert_eq!(code, 0);
    let arr = v.as_array().unwrap();
    assert_eq!(arr.len(), 3);
    for x in arr {
        for field in ["code", "family", "layer", "title", "meaning", "first_checks", "fixes", "references"] {
            let f = &x[field];
            assert!(!f.is_null() && f != &serde_json::json!([]) && f != "", "{field} empty in {x}");
        }
    }
    assert_eq!(arr[0]["code"], "AADSTS50126");
    assert_eq!(arr[1]["code"], "0xCAA70004");
    assert_eq!(arr[2]["code"], "SIP 403");
}

#[test]
fn msrc_560403_is_the_sbc_answering_403_outbound() {
    let (code, v) = run_json(&["explain", "--format", "json", "560403"]);
    assert_eq!(code, 0);
    let x = &v[0];
    assert_eq!(x["code"], "MSRC 560403");
    let summary = x["decode"]["summary"].as_str().unwrap();
    assert!(summary.contains("SBC") && summary.contains("403") && summary.contains("outbound"), "{summary}");
    let (_, text, _) = run(&["explain", "560403"]);
    insta::assert_snapshot!("explain_560403", text);
}

#[test]
fn hresult_in_decimal_gives_the_win32_name() {
    let (code, out, _) = run(&["explain", "2147942402"]);
    assert_eq!(code, 0);
    assert!(out.starts_with("0x80070002"), "{out}");
    assert!(out.contains("ERROR_FILE_NOT_FOUND"), "{out}");
}

#[test]
fn unknown_code_exits_1_with_decode_and_suggestions() {
    let (code, out, _) = run(&["explain", "0xCAA8FFFE"]);
    assert_eq!(code, 1);
    insta::assert_snapshot!("explain_unknown_caa8", out);
    let (code, v) = run_json(&["explain", "--format", "json", "AADSTS500769"]);
    assert_eq!(code, 1);
    assert_eq!(v[0]["known"], false);
    assert!(!v[0]["suggestions"].as_array().unwrap().is_empty());
}

#[test]
fn one_unknown_among_known_still_exits_1() {
    let (code, out, _) = run(&["explain", "AADSTS50076", "not-a-code-at-all"]);
    assert_eq!(code, 1);
    assert!(out.contains("AADSTS50076"));
    assert!(out.contains("does not read as a known code"));
}

#[test]
fn ambiguous_input_shows_every_reading() {
    let (code, v) = run_json(&["explain", "--format", "json", "403"]);
    assert_eq!(code, 0);
    let codes: Vec<&str> = v.as_array().unwrap().iter().map(|x| x["code"].as_str().unwrap()).collect();
    assert!(codes.contains(&"SIP 403") && codes.contains(&"HTTP 403"), "{codes:?}");
}

#[test]
fn pasted_messages_find_their_entry() {
    let (code, v) = run_json(&[
        "explain",
        "--format",
        "json",
        "errorCode: FailedAuthentication, errorStep: get_skype_license, errorState: licenseError",
        "Exchange status : 80131500",
    ]);
    assert_eq!(code, 0);
    assert_eq!(v[0]["code"], "TEAMS licenseError");
    assert_eq!(v[0]["layer"], "license");
    assert_eq!(v[1]["code"], "0x80131500");
}

#[test]
fn negative_numbers_are_codes_not_flags() {
    let (code, out, err) = run(&["explain", "-895025148"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.starts_with("0xCAA70004"), "{out}");
    let (code, v) = run_json(&["explain", "-2147024891", "--format", "json"]);
    assert_eq!(code, 0);
    assert_eq!(v[0]["code"], "0x80070005");
}

#[test]
fn symbolic_names_explain_prints_are_accepted() {
    // Names of knowledge-base entries, and names from the imported Win32 / HRESULT / WinHTTP tables.
    for (name, code) in [
        ("ERROR_FILE_NOT_FOUND", "0x80070002"),
        ("error_file_not_found", "0x80070002"),
        ("ERROR_INET_RESOURCE_NOT_FOUND", "0xCAA70004"),
        ("E_ACCESSDENIED", "0x80070005"),
        ("ERROR_ACCESS_DENIED", "0x80070005"),
        ("ERROR_INVALID_FUNCTION", "0x80070001"),
        ("ERROR_WINHTTP_NAME_NOT_RESOLVED", "0x80072EE7"),
    ] {
        let (exit, v) = run_json(&["explain", "--format", "json", name]);
        assert_eq!(exit, 0, "{name}: {v}");
        assert_eq!(v[0]["code"], code, "{name}: {v}");
        assert_eq!(v[0]["known"], true, "{name}: {v}");
    }
    // What explain prints as a name reads back as the same code.
    let (_, out, _) = run(&["explain", "2147942402"]);
    let printed = out.lines().next().unwrap().split(" — ").nth(1).unwrap().to_owned();
    let (_, v) = run_json(&["explain", "--format", "json", &printed]);
    assert_eq!(v[0]["code"], "0x80070002");
}

#[test]
fn a_number_in_the_winhttp_range_reads_as_winhttp_first_then_aadsts() {
    let (code, v) = run_json(&["explain", "--format", "json", "12002"]);
    assert_eq!(code, 0, "{v}");
    let codes: Vec<&str> = v.as_array().unwrap().iter().map(|x| x["code"].as_str().unwrap()).collect();
    assert_eq!(codes, ["0x80072EE2", "AADSTS12002"], "{v}");
    assert_eq!(v[0]["known"], true);
    let (code, out, _) = run(&["explain", "12029"]);
    assert_eq!(code, 0, "{out}");
    assert!(out.starts_with("“12029” has 2 readings:\n0x80072EFD"), "{out}");
    assert!(out.contains("ERROR_WINHTTP_CANNOT_CONNECT"), "{out}");
    assert!(out.contains("AADSTS12029"), "{out}");
    // Outside the range nothing changes: 50076 is the AADSTS code.
    let (_, v) = run_json(&["explain", "--format", "json", "50076"]);
    assert_eq!(v[0]["code"], "AADSTS50076");
}
