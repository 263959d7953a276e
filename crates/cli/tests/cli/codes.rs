use crate::{run, run_json};

#[test]
fn lists_a_family_as_text() {
    let (code, out, _) = run(&["codes", "--family", "rooms-resource-account"]);
    assert_eq!(code, 0);
    insta::assert_snapshot!("codes_rooms_resource_account", out);
}

#[test]
fn csv_and_json_agree() {
    let (code, csv, _) = run(&["codes", "--family", "token-transport", "--format", "csv"]);
    assert_eq!(code, 0);
    let mut rdr = csv::Reader::from_reader(csv.as_bytes());
    let rows: Vec<csv::StringRecord> = rdr.records().map(Result::unwrap).collect();
    let (_, json) = run_json(&["codes", "--family", "token-transport", "--format", "json"]);
    let arr = json.as_array().unwrap();
    assert_eq!(rows.len(), arr.len());
    assert!(rows.len() >= 3);
    for (r, j) in rows.iter().zip(arr) {
        assert_eq!(&r[0], j["code"].as_str().unwrap());
        assert_eq!(&r[3], j["layer"].as_str().unwrap());
    }
}

#[test]
fn filters_combine_and_bad_filters_are_usage_errors() {
    let (code, v) = run_json(&["codes", "--kind", "msrc", "--layer", "sbc", "--format", "json"]);
    assert_eq!(code, 0);
    let arr = v.as_array().unwrap();
    assert!(!arr.is_empty());
    assert!(arr.iter().all(|e| e["code"].as_str().unwrap().starts_with("MSRC ") && e["layer"] == "sbc"));
    assert_eq!(run(&["codes", "--layer", "nope"]).0, 2);
    assert_eq!(run(&["codes", "--family", "nope"]).0, 2);
    let (code, out, err) = run(&["codes", "--kind", "foo"]);
    assert_eq!(code, 2, "{out}");
    assert!(out.is_empty() && err.contains("unknown kind \"foo\"") && err.contains("aadsts"), "{err}");
    assert_eq!(run(&["codes", "--kind", "MS_DIAG"]).0, 0);
    let (code, out, _) = run(&["codes", "--families"]);
    assert_eq!(code, 0);
    assert!(out.contains("sip-4xx"));
}
