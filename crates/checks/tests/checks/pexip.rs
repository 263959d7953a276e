//! `check pexip-vars` on variables scripts.

use uctriage_checks::Status;

use crate::pki::TempDir;
use crate::{assert_status, check};

const GOOD: &str = r#"
# Pexip Teams Connector variables
$PxBaseConnName = "contoso"
$PxVmssRegion = "eu"
$PxTeamsConnFqdn = "pexipteams.vc.example.com"
$PxNodeFqdns = "conf01.vc.example.com,conf02.vc.example.com"
$PxSubscriptionId = "0b6a1c2d-3e4f-4a5b-8c6d-7e8f9a0b1c2d"
$PxAzureLocation = "westeurope"
$PxTeamsConnInstanceCount = "3"
$PxTeamsConnResourceGroupName = "$($PxBaseConnName)-TeamsConn-$($PxVmssRegion)-RG"
$PxTeamsConnIncidentReporting = $true
$PxPfxCertFileName = ".\pexip-teams.pfx"
$PxMgmtSrcAddrPrefixes = @( "198.51.100.10", "203.0.113.0/24" )
$PxNodesSourceAddressPrefixes = @( "198.51.100.20", "198.51.100.32/28" ) + $PxMgmtSrcAddrPrefixes
"#;

fn run_script(text: &str) -> uctriage_checks::Report {
    let dir = TempDir::new();
    let path = dir.write("vars.ps1", text);
    check(&["pexip-vars", path.to_str().unwrap()])
}

#[test]
fn a_good_script_passes() {
    let r = run_script(GOOD);
    assert_eq!(r.exit_code(), 0, "{r:#?}");
    assert_status(&r, "var.PxNodesSourceAddressPrefixes", Status::Pass);
}

#[test]
fn the_seed_cidr_with_host_bits_fails() {
    let r = run_script(&GOOD.replace("198.51.100.32/28", "91.90.42.96/26"));
    assert_status(&r, "var.PxNodesSourceAddressPrefixes", Status::Fail);
    let c = r.get("var.PxNodesSourceAddressPrefixes").unwrap();
    assert!(c.detail.contains("91.90.42.96/26 has host bits set"), "{c:?}");
    let fix = c.fix.as_ref().unwrap();
    assert!(fix.contains("91.90.42.64/26") && fix.contains("91.90.42.96/27"), "{fix}");
}

#[test]
fn quoting_typos_and_missing_variables() {
    let script = GOOD
        .replace(
            r#"$PxTeamsConnFqdn = "pexipteams.vc.example.com""#,
            "$PxTeamsConnFqdn = \u{201c}pexipteams.vc.example.com\u{201d}",
        )
        .replace("$PxNodeFqdns =", "$PxNodeFqdn =")
        .replace(r#"@( "198.51.100.10", "203.0.113.0/24" )"#, r#"@( 198.51.100.10, "" )"#)
        .replace(r#"$PxSubscriptionId = "0b6a1c2d-3e4f-4a5b-8c6d-7e8f9a0b1c2d""#, r#"$PxSubscriptionId = "not-a-guid""#)
        .replace("$PxTeamsConnIncidentReporting = $true", r#"$PxTeamsConnIncidentReporting = "false""#)
        .replace(r#"$PxAzureLocation = "westeurope""#, "");
    let r = run_script(&script);
    assert_status(&r, "var.PxTeamsConnFqdn", Status::Fail);
    assert!(r.get("var.PxTeamsConnFqdn").unwrap().detail.contains("typographic quote"));
    assert_status(&r, "var.PxNodeFqdn.typo", Status::Fail);
    assert!(r.get("var.PxNodeFqdn.typo").unwrap().detail.contains("$PxNodeFqdns"));
    assert_status(&r, "var.PxNodeFqdns", Status::Fail);
    assert_status(&r, "var.PxMgmtSrcAddrPrefixes", Status::Fail);
    assert_status(&r, "var.PxSubscriptionId", Status::Fail);
    assert_status(&r, "var.PxTeamsConnIncidentReporting", Status::Fail);
    assert_status(&r, "var.PxAzureLocation", Status::Fail);
    assert_eq!(r.exit_code(), 1);
}

#[test]
fn bad_fqdns_and_name_lengths() {
    let script = GOOD
        .replace("conf01.vc.example.com,conf02.vc.example.com", "https://conf01.vc.example.com,conf02")
        .replace(r#"$PxBaseConnName = "contoso""#, r#"$PxBaseConnName = "contoso-teams-eu""#);
    let r = run_script(&script);
    assert_status(&r, "var.PxNodeFqdns", Status::Fail);
    assert_status(&r, "var.PxBaseConnName", Status::Fail);
    assert_status(&r, "var.PxBaseConnName+PxVmssRegion", Status::Fail);
}
