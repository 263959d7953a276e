//! Every spelling of the contract's table gives its canonical code.

use proptest::prelude::*;
use uctriage_kb::{candidates, normalize, Code, Context, KnowledgeBase};

/// (input, context, canonical)
const TABLE: &[(&str, Context, &str)] = &[
    ("AADSTS50076", Context::Any, "AADSTS50076"),
    ("aadsts50076", Context::Any, "AADSTS50076"),
    ("AADSTS50076:", Context::Any, "AADSTS50076"),
    ("AADSTS50076%3a", Context::Any, "AADSTS50076"),
    ("AADSTS50076%3A", Context::Any, "AADSTS50076"),
    ("  AADSTS50076: Due to a configuration change made by your administrator", Context::Any, "AADSTS50076"),
    ("50076", Context::SignIn, "AADSTS50076"),
    ("50076", Context::Any, "AADSTS50076"),
    ("0xCAA70004", Context::Any, "0xCAA70004"),
    ("0xcaa70004", Context::Any, "0xCAA70004"),
    ("caa70004", Context::Any, "0xCAA70004"),
    ("CAA70004", Context::Any, "0xCAA70004"),
    ("3399942148", Context::Any, "0xCAA70004"),
    ("-895025148", Context::Any, "0xCAA70004"),
    ("2147942402", Context::Any, "0x80070002"),
    ("-2147024894", Context::Any, "0x80070002"),
    ("0x80070002", Context::Any, "0x80070002"),
    ("80131500", Context::Any, "0x80131500"),
    ("0x4c7", Context::Any, "0x800704C7"),
    ("SIP/2.0 403 Forbidden", Context::Any, "SIP 403"),
    ("sip/2.0 486 Busy Here", Context::Any, "SIP 486"),
    ("SIP 403", Context::Any, "SIP 403"),
    ("403 Forbidden", Context::Sip, "SIP 403"),
    ("403", Context::Sip, "SIP 403"),
    ("560403", Context::Any, "MSRC 560403"),
    ("560403", Context::Sip, "MSRC 560403"),
    ("Microsoft response code 560403", Context::Any, "MSRC 560403"),
    ("MSRC 560403", Context::Any, "MSRC 560403"),
    (
        "ms-diagnostics: 1034;reason=\"Previous hop federated peer did not report diagnostic information\"",
        Context::Any,
        "MS-DIAG 1034",
    ),
    ("ms-client-diagnostics: 52063;reason=\"Client side general processing error.\"", Context::Any, "MS-DIAG 52063"),
    ("MS-DIAG 1034", Context::Any, "MS-DIAG 1034"),
    ("Reason: Q.850;cause=63;text=\"service or option not available\"", Context::Any, "Q850 63"),
    ("Q.850;cause=16", Context::Any, "Q850 16"),
    ("Q850 63", Context::Any, "Q850 63"),
    ("Code: interaction_required", Context::Any, "OAUTH interaction_required"),
    ("error=access_denied", Context::Any, "OAUTH access_denied"),
    ("OAUTH invalid_grant", Context::Any, "OAUTH invalid_grant"),
    ("invalid_grant", Context::Any, "OAUTH invalid_grant"),
    ("Error=\"401\"", Context::Any, "HTTP 401"),
    ("HTTP status : 400", Context::Any, "HTTP 400"),
    ("HTTP/1.1 407 Proxy Authentication Required", Context::Any, "HTTP 407"),
    ("HTTP 401", Context::Any, "HTTP 401"),
    ("401", Context::Http, "HTTP 401"),
    ("TEAMS max_reload_exceeded", Context::Any, "TEAMS max_reload_exceeded"),
    ("max_reload_exceeded", Context::Hresult, "TEAMS max_reload_exceeded"),
];

#[test]
fn contract_spellings_normalize() {
    let kb = KnowledgeBase::builtin();
    let mut wrong = Vec::new();
    for (input, ctx, want) in TABLE {
        let got = kb.normalize(input, *ctx).map(|c| c.to_string());
        if got.as_deref() != Some(*want) {
            wrong.push(format!("{input:?} ({ctx:?}): got {got:?}, want {want}"));
        }
    }
    assert!(wrong.is_empty(), "normalization table:\n{}", wrong.join("\n"));
}

#[test]
fn named_codes_take_their_knowledge_base_spelling() {
    let kb = KnowledgeBase::builtin();
    assert_eq!(kb.normalize("generalerror", Context::Any).unwrap().to_string(), "TEAMS GeneralError");
    assert_eq!(kb.normalize("4C7", Context::Any).unwrap().to_string(), "TEAMS 4c7");
    let readings: Vec<String> = kb.explain("1001").iter().map(|x| x.code.as_ref().unwrap().to_string()).collect();
    assert!(readings.contains(&"TEAMS 1001".to_owned()), "{readings:?}");
}

#[test]
fn non_codes_read_as_nothing() {
    for s in [
        "",
        "   ",
        "hello world",
        "sipdir.online.lync.com",
        "https://login.microsoftonline.com",
        "0x",
        "0xZZ",
        "AADSTS",
        "-",
        "99999999999999999999",
    ] {
        let c = candidates(s);
        assert!(c.iter().all(|c| !matches!(c, Code::Aadsts(_) | Code::Sip(_))), "{s:?} read as {c:?}");
    }
}

proptest! {
    #[test]
    fn normalization_never_panics(s in ".{0,200}") {
        let _ = candidates(&s);
        let _ = normalize(&s, Context::SignIn);
        let _ = KnowledgeBase::builtin().explain(&s);
    }

    #[test]
    fn hresult_spellings_agree(v in any::<u32>()) {
        let want = Code::Hresult(v);
        prop_assert_eq!(normalize(&format!("0x{v:08x}"), Context::Hresult), Some(want.clone()));
        prop_assert_eq!(normalize(&format!("{v:08X}"), Context::Hresult), Some(want.clone()));
        if v >= 0x8000_0000 {
            prop_assert_eq!(normalize(&v.to_string(), Context::Hresult), Some(want.clone()));
            prop_assert_eq!(normalize(&(v as i32).to_string(), Context::Hresult), Some(want));
        }
    }

    #[test]
    fn aadsts_spellings_agree(n in 1u32..10_000_000) {
        let want = Some(Code::Aadsts(n));
        prop_assert_eq!(normalize(&format!("AADSTS{n}"), Context::Any), want.clone());
        prop_assert_eq!(normalize(&format!("aadsts{n}:"), Context::Any), want.clone());
        prop_assert_eq!(normalize(&format!("AADSTS{n}%3a"), Context::Any), want);
    }
}
