//! Codes in pasted text: bare numbers with and without their family named, decimal and 64-bit
//! HRESULTs, nested codes, reason phrases, ms-diagnostics reason texts, unknown codes.

use uctriage_kb::{Code, KnowledgeBase};

fn codes(text: &str) -> Vec<String> {
    KnowledgeBase::builtin().extract(text).iter().map(ToString::to_string).collect()
}

fn has(text: &str, want: &[&str]) {
    let got = codes(text);
    for w in want {
        assert!(got.iter().any(|g| g == w), "{text}: want {w}, got {got:?}");
    }
}

fn lacks(text: &str, unwanted: &[&str]) {
    let got = codes(text);
    for u in unwanted {
        assert!(!got.iter().any(|g| g == u), "{text}: {u} should not be read, got {got:?}");
    }
}

#[test]
fn a_bare_number_is_an_aadsts_code_only_when_the_family_is_named() {
    has("users get sign-in error code 50158 since Monday", &["AADSTS50158"]);
    has("Entra shows error 53003 on every attempt", &["AADSTS53003"]);
    has("in the Azure AD sign-in logs the failure reason is 50126", &["AADSTS50126"]);
    has("we get AADSTS error 700016 for the bot", &["AADSTS700016"]);
    has("{\"error_codes\":[50076],\"timestamp\":\"2024-05-01\"}", &["AADSTS50076"]);
    has("\"error_uri\":\"https://login.microsoftonline.com/error?code=50173\"", &["AADSTS50173"]);
    lacks("Teams call dropped with error 50076 after ten seconds", &["AADSTS50076"]);
    lacks("the central office sent error 50076", &["AADSTS50076"]);
    lacks("sign-in took 12345.6 ms, error code 50158.2", &["AADSTS50158"]);
}

#[test]
fn decimal_64_bit_and_suffixed_hresults_become_32_bit_codes() {
    has("hr = 0xffffffff80070005", &["0x80070005"]);
    has("hr = 0x0000000080070005", &["0x80070005"]);
    has("returned 0x8007274cL after 21 s", &["0x8007274C"]);
    has("ErrorCode=-2147024891 while updating", &["0x80070005"]);
    has("errorCode: 3399614476, Server message: AADSTS50058", &["0xCAA2000C", "AADSTS50058"]);
    has("Error code: -895025148", &["0xCAA70004"]);
    has("schannel handshake failed: -2146893019", &["0x80090325"]);
    // A negative number nobody names, a date, a phone number: not codes.
    lacks("offset -123456789 applied on 2024-05-01 to +1-425555012", &["0xF8A432EB"]);
    assert!(codes("offset -123456789 applied").is_empty());
}

#[test]
fn nested_codes_give_outer_and_inner() {
    has(
        "ms-diagnostics: 10003;reason=\"Proxy returned a SIP failure code: 486 Busy Here\"",
        &["MS-DIAG 10003", "SIP 486"],
    );
    has(
        "ms-diagnostics: 1038;reason=\"Failed to connect\";WinsockFailureCode=\"10061(WSAECONNREFUSED)\"",
        &["MS-DIAG 1038", "0x8007274D"],
    );
    has("COMException (0x80040154): Class not registered", &["0x80040154"]);
    has("Reason: SIP;cause=487;text=\"Request Terminated\"", &["SIP 487"]);
    has("Exchange status : 80131500 : AADSTS50173", &["0x80131500", "AADSTS50173"]);
}

#[test]
fn oauth_errors_in_every_shape() {
    has("?error=access_denied&error_description=AADSTS65004%3a+declined", &["OAUTH access_denied", "AADSTS65004"]);
    has("{\"error\": \"unauthorized_client\"}", &["OAUTH unauthorized_client"]);
    has("{'error': 'invalid_client', 'error_codes': [7000215]}", &["OAUTH invalid_client"]);
    has("Token request failed: ['invalid_client']", &["OAUTH invalid_client"]);
    has("WWW-Authenticate: Bearer error=\"invalid_token\"", &["OAUTH invalid_token"]);
}

#[test]
fn sip_in_pasted_traces() {
    has("Reason: Q.850 ;cause=34 ;text=\"no circuit\"", &["Q850 34"]);
    has("reason: q.850; cause = 16", &["Q850 16"]);
    has("the carrier sends Q.850 cause 31 on failed calls", &["Q850 31"]);
    has("ms-client-diagnostics: 51004; reason=\"Action initiated by user\"", &["MS-DIAG 51004"]);
    has("ms-diagnostics: reason=\"User does not exist\";source=\"fe01\"", &["MS-DIAG 1003"]);
    has("received 488 Not Acceptable Here for INVITE", &["SIP 488"]);
    // A phrase SIP and HTTP share follows the line's words.
    has("INVITE answered 404 Not Found by the SBC", &["SIP 404"]);
    lacks("INVITE answered 404 Not Found by the SBC", &["HTTP 404"]);
    has("GET https://x.test/a answered 404 Not Found", &["HTTP 404"]);
    lacks("GET https://x.test/a answered 404 Not Found", &["SIP 404"]);
}

#[test]
fn http_statuses_in_client_logs() {
    has("https://teams.microsoft.com/api/mt/x failed with code 503", &["HTTP 503"]);
    has("GraphRequest GET https://graph.microsoft.com/v1.0/me status=403", &["HTTP 403"]);
    has("{\"url\":\"https://a.test\",\"statusCode\":429}", &["HTTP 429"]);
    has("HttpRequestException: Response status code does not indicate success: 404 (Not Found).", &["HTTP 404"]);
    has(
        "System.Net.WebException: The remote server returned an error: (407) Proxy Authentication Required.",
        &["HTTP 407"],
    );
    has("presence update got HTTP 502 from https://presence.test", &["HTTP 502"]);
    has("AdalServiceException ErrorCode: interaction_required StatusCode: 400", &["HTTP 400"]);
    has("{\"operation\":\"checkin\",\"httpStatusCode\": 500}", &["HTTP 500"]);
    has("AxiosError: Request failed with status code 429", &["HTTP 429"]);
    lacks("the sign-in log shows status code 500121", &["HTTP 500"]);
    lacks("https://teams.microsoft.com/api status=200 in 143 ms", &["HTTP 200"]);
    lacks("the job returned 404 rows", &["HTTP 404"]);
    lacks("Status-Code: 404", &["HTTP 404"]);
}

#[test]
fn explain_reads_every_reading_of_a_number_in_a_sentence() {
    let kb = KnowledgeBase::builtin();
    let found: Vec<String> =
        kb.explain("failed with error 50076").iter().filter_map(|x| x.code.as_ref()).map(ToString::to_string).collect();
    assert!(found.contains(&"AADSTS50076".to_owned()), "{found:?}");
    let alone: Vec<String> =
        kb.explain("50076").iter().filter_map(|x| x.code.as_ref()).map(ToString::to_string).collect();
    assert_eq!(found, alone, "the readings `explain 50076` gives");
    let found: Vec<String> = kb
        .explain("it stopped with code 403")
        .iter()
        .filter_map(|x| x.code.as_ref())
        .map(ToString::to_string)
        .collect();
    assert!(found.contains(&"SIP 403".to_owned()) && found.contains(&"HTTP 403".to_owned()), "{found:?}");
    let found: Vec<String> = kb
        .explain("sign-in failed with error 50076")
        .iter()
        .filter_map(|x| x.code.as_ref())
        .map(ToString::to_string)
        .collect();
    assert_eq!(found, ["AADSTS50076"]);
    assert!(kb.explain("failed with error 50076").iter().all(|x| x.input == "failed with error 50076"));
}

#[test]
fn unknown_codes_with_a_structure_are_described() {
    let kb = KnowledgeBase::builtin();
    for code in ["AADSTS1002016", "0xCAA5004B", "0x8004882C", "0x8018002B", "MS-DIAG 52001", "SIP 499"] {
        let c: Code = code.parse().unwrap();
        assert!(kb.get(&c).is_none(), "{code} is in the knowledge base now: pick another unknown one");
        let e = kb.describe(&c).unwrap_or_else(|| panic!("{code} has no description"));
        assert!(e.title.ends_with("(not in the knowledge base)"), "{code}: {}", e.title);
        assert!(!e.meaning.is_empty() && !e.first_checks.is_empty() && !e.references.is_empty());
    }
    assert!(kb.describe(&"0x8004882C".parse().unwrap()).unwrap().title.contains("IDCRL"));
    assert!(kb.describe(&"HTTP 200".parse().unwrap()).is_none());
    assert!(kb.describe(&"0x00000001".parse().unwrap()).is_none());
    assert!(kb.describe(&"OAUTH no_such_error".parse().unwrap()).is_none());
}

/// `scripts/code-patterns.txt` is the alternation `scripts/bench.sh` gives `rg` as the floor for
/// text logs: one line per extraction pattern, in the extractor's order. It must stay what the
/// extractor runs, so the baseline moves only with the patterns. `UPDATE_PATTERNS=1` rewrites it.
#[test]
fn the_benchmark_alternation_is_the_extractors_patterns() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/code-patterns.txt");
    let patterns = KnowledgeBase::builtin().extraction_patterns();
    assert!(patterns.iter().all(|p| !p.contains('\n') && !p.is_empty()));
    let want: String = patterns.iter().flat_map(|p| [p.as_str(), "\n"]).collect();
    if std::env::var_os("UPDATE_PATTERNS").is_some() {
        std::fs::write(&path, &want).unwrap();
    }
    let have = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        have == want,
        "{} differs from the extractor's patterns: run the kb tests with UPDATE_PATTERNS=1",
        path.display()
    );
}
