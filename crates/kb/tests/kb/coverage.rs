//! Every code the seed articles name and every code of the reference lists explains as known.

use std::collections::BTreeSet;

use uctriage_kb::{Code, KnowledgeBase};

use crate::{shared_dir, tsv};

/// What the troubleshooting articles name, in the spelling they use.
const SEED_SPELLINGS: &[&str] = &[
    // error-code article: desktop sign-in and client loop
    "0xCAA82EE2", "0xCAA82EE7", "1001", "4c7", "2147942402", "0xCAA30194", "max_reload_exceeded",
    // token transport
    "0xCAA7000A", "0xCAA70007", "0xCAA70004",
    // policy, join and broker
    "0xCAA20002", "0xCAA20003", "0xCAA20004", "0xCAA50021", "0xCAA50024", "0xCAA5001C",
    // MFA, PRT and federation
    "0xCAA90014", "0xCAA90018", "0xCAA90056", "0xCAA90057",
    // Teams Rooms resource account
    "AADSTS50055", "AADSTS50076", "AADSTS50079", "AADSTS50126", "AADSTS53003", "50079", "53003",
    // SIP 5xx and 6xx from the article's table
    "SIP 500", "SIP 501", "SIP 502", "SIP 503", "SIP 504", "SIP 505", "SIP 600", "SIP 603",
    // Teams Rooms heartbeat
    "Exchange status : 80131500", "80131500", "Connected", "Disconnected", "Connecting", "AutodiscoveryError",
    "GeneralError", "ServerVersionNotSupported", "Exchange status : GeneralError",
    // Teams Rooms licence
    "errorCode: FailedAuthentication, errorStep: get_skype_license, errorState: licenseError",
    "You're missing out! Ask your admin to enable Microsoft Teams",
    "The account used to sign in doesn't have the correct license to use this device.",
    // Lync Online sign-in messages
    "Cannot sign in because the server is temporarily unavailable. If the problem continues, please contact your support team.",
    "Lync couldn't find a Lync Server for contoso.com. There might be an issue with the Domain Name System (DNS) configuration for your domain. Please contact your support team.",
    "Cannot sign in to Lync because this sign-in address was not found. Please verify the sign-in address and try again. If the problem continues, please contact your support team.",
    "Cannot sign in to Lync. You may have entered your sign-in address, user name, or password incorrectly, or the authentication service may be incompatible with this version of the program. If your sign-in information is correct and the problem persists, please contact your system administrator.",
    "To sign in, additional software is required. Download and install now?",
    "The username, password or domain appears to be incorrect. Ensure that you entered them correctly. If the problem continues, please contact your support team.",
    "The server is not responding or cannot be reached. Sign-in may be delayed while we retry the connection.",
    "There was a problem acquiring a personal certificate required to sign in. If the problem continues, please contact your support team.",
    "There was a problem verifying the certificate from the server. Sign-in may be delayed while we retry the connection.",
    // Pexip install and call errors
    "InvalidBotData - Bot is not valid - Id is already in use",
    "Web space with name pexip-tc-rg already exists for subscription 0000",
    "The private key of certificate 'AB12' is stored in a CNG Key Storage Provider, which is currently not supported",
    "The certificate 'AB12' is an ECDSA certificate, which is currently not supported",
    "Failed to add 'Storage Account Key Operator Service Role' to Storage Account",
    "Get-AzADServicePrincipal : Insufficient privileges to complete the operation.",
    "MCU-signalling-endpoint has invalid Address prefix",
    "Template parameter JToken type is not valid",
    "Teams API request failed",
    "Gateway dial out failed",
    "Call rejected",
    // Direct Routing
    "560403", "Microsoft response code 560403", "SIP/2.0 403 Forbidden",
];

#[test]
fn every_seed_code_is_known() {
    let kb = KnowledgeBase::builtin();
    let unknown: Vec<&str> =
        SEED_SPELLINGS.iter().copied().filter(|s| !kb.explain(s).iter().any(|x| x.known)).collect();
    assert!(unknown.is_empty(), "seed codes the knowledge base does not explain:\n{}", unknown.join("\n"));
}

fn assert_covered(kb: &KnowledgeBase, list: &str, codes: impl IntoIterator<Item = Code>) -> usize {
    let wanted: BTreeSet<Code> = codes.into_iter().collect();
    let missing: Vec<String> = wanted.iter().filter(|c| kb.get(c).is_none()).map(ToString::to_string).collect();
    assert!(
        missing.is_empty(),
        "{list}: {} codes missing from the knowledge base:\n{}",
        missing.len(),
        missing.join("\n")
    );
    wanted.len()
}

#[test]
fn every_reference_list_code_is_covered() {
    let Some(shared) = shared_dir() else {
        eprintln!("../shared/reference not found: reference coverage skipped");
        return;
    };
    let kb = KnowledgeBase::builtin();
    let r = shared.join("reference");
    for file in ["aadsts_codes_entra_docs_3164b3b.tsv", "aadsts_codes_entra_docs_04f6554.tsv"] {
        let rows = tsv(&r.join(file), false);
        let n = assert_covered(
            kb,
            file,
            rows.iter().map(|row| Code::Aadsts(row[0].trim().parse().expect("numeric AADSTS code"))),
        );
        if file.contains("3164b3b") {
            assert_eq!(n, 345, "{file} should list 345 codes");
        }
        // Symbolic names are facts: where an entry names one, it must be the published one.
        for row in &rows {
            let code = Code::Aadsts(row[0].trim().parse().unwrap());
            if let (Some(e), Some(name)) = (kb.get(&code), row.get(1)) {
                let published = name.split(" (").next().unwrap_or("").trim();
                if let (Some(ours), false) = (&e.name, published.is_empty() || name.starts_with('(')) {
                    if file.contains("3164b3b") {
                        assert_eq!(ours.trim(), published, "{code}: symbolic name differs from the reference");
                    }
                }
            }
        }
    }
    let wam = tsv(&r.join("wam_adal_codes_winrt_api_11590804.tsv"), true);
    let caa = wam
        .iter()
        .filter(|row| row[1].starts_with("0xCAA"))
        .map(|row| Code::Hresult(u32::from_str_radix(row[1].trim_start_matches("0x"), 16).expect("hex WAM code")));
    let n = assert_covered(kb, "WAM 0xCAA codes", caa);
    assert!(n >= 260, "only {n} distinct 0xCAA codes read from the WAM list");
    let sip = tsv(&r.join("sip_response_codes_iana_via_manakai.tsv"), true);
    let n = assert_covered(kb, "IANA SIP codes", sip.iter().map(|row| Code::Sip(row[0].trim().parse().unwrap())));
    assert_eq!(n, 75);
    let msrc = tsv(&r.join("teams_dr_ms_response_codes_supportarticles.tsv"), true);
    assert_eq!(msrc.len(), 59);
    assert_covered(kb, "Microsoft response codes", msrc.iter().map(|row| Code::Msrc(row[0].trim().parse().unwrap())));
    for row in &msrc {
        let code = Code::Msrc(row[0].trim().parse().unwrap());
        let sip = Code::Sip(row[1].trim().parse().unwrap());
        let e = kb.get(&code).unwrap();
        assert!(e.related.contains(&sip), "{code} should list {sip} as related");
    }
}

#[test]
fn every_q850_cause_is_covered() {
    let kb = KnowledgeBase::builtin();
    let causes = [
        1, 2, 3, 4, 5, 6, 7, 8, 9, 16, 17, 18, 19, 20, 21, 22, 23, 25, 26, 27, 28, 29, 31, 34, 38, 39, 40, 41, 42, 43,
        44, 46, 47, 49, 50, 53, 55, 57, 58, 62, 63, 65, 66, 69, 70, 79, 81, 82, 83, 84, 85, 86, 87, 88, 90, 91, 95, 96,
        97, 98, 99, 100, 101, 102, 103, 110, 111, 127,
    ];
    assert_covered(kb, "Q.850 causes", causes.map(Code::Q850));
}

#[test]
fn oauth_http_and_windows_sign_in_codes_are_covered() {
    let kb = KnowledgeBase::builtin();
    let oauth = [
        "invalid_request",
        "invalid_client",
        "invalid_grant",
        "unauthorized_client",
        "unsupported_grant_type",
        "invalid_scope",
        "access_denied",
        "interaction_required",
        "login_required",
        "consent_required",
        "server_error",
        "temporarily_unavailable",
    ];
    assert_covered(kb, "OAuth errors", oauth.map(|o| Code::Oauth(o.into())));
    assert_covered(kb, "HTTP statuses", [400, 401, 403, 404, 407, 429, 500, 502, 503, 504].map(Code::Http));
    assert_covered(
        kb,
        "NTSTATUS sign-in codes",
        [0xC000_006D, 0xC000_0234, 0xC000_0072, 0xC000_006A, 0xC000_0064].map(Code::Hresult),
    );
    assert!(kb.entries().iter().filter(|e| matches!(e.code, Code::MsDiag(_))).count() >= 20);
}
