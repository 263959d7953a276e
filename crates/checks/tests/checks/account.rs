//! `check account` against the stand-in for Microsoft's sign-in and Graph endpoints
//! (`graph.rs`): the command is pointed at it with the hidden `--login-url` and `--graph-url` and
//! trusts it through `--ca-file`.

use std::io::{Read, Write};

use serde_json::{json, Value};
use uctriage_checks::{account, CheckArgs, Kind, Report, Status};

use crate::graph::{licence, policy, sign_in, Server, Tenant, ROOM, ROOM_ID};
use crate::pki::{self, TempDir};
use crate::{assert_status, Cli};
use clap::Parser;

fn parse(server: &Server, extra: &[&str]) -> CheckArgs {
    let mut args: Vec<String> = vec!["check".into(), "account".into()];
    args.extend(server.flags());
    args.extend(extra.iter().map(|s| (*s).to_owned()));
    Cli::try_parse_from(&args).unwrap_or_else(|e| panic!("bad test flags {args:?}: {e}")).check
}

/// Run `check account` with these extra flags; the reports, or the error that stopped it.
fn try_accounts(server: &Server, extra: &[&str], stdin: &str) -> Result<Vec<Report>, String> {
    let cli = parse(server, extra);
    let Kind::Account(a) = &cli.kind else { panic!("not an account check") };
    let mut told = Vec::new();
    account::execute(a, &mut told, &mut stdin.as_bytes()).map_err(|e| e.to_string())
}

fn accounts(server: &Server, extra: &[&str]) -> Vec<Report> {
    try_accounts(server, extra, "").unwrap_or_else(|e| panic!("check account {extra:?} did not run: {e}"))
}

fn one(server: &Server) -> Report {
    let mut r = accounts(server, &[ROOM]);
    assert_eq!(r.len(), 1);
    r.remove(0)
}

/// Through `run`: the exit code and what was written.
fn run(server: &Server, extra: &[&str]) -> (u8, String) {
    let cli = parse(server, extra);
    let mut out = Vec::new();
    let code = uctriage_checks::run(&cli, &mut out);
    (code, String::from_utf8(out).unwrap())
}

fn detail<'r>(r: &'r Report, id: &str) -> &'r str {
    &r.get(id).unwrap_or_else(|| panic!("no check {id} in {r:#?}")).detail
}

fn fix<'r>(r: &'r Report, id: &str) -> &'r str {
    r.get(id).and_then(|c| c.fix.as_deref()).unwrap_or_else(|| panic!("no fix for {id} in {r:#?}"))
}

/// The fix lines of a built-in rule, as `scan` prints them.
fn rule_fix(id: &str) -> Vec<String> {
    uctriage_rules::RuleSet::builtin().get(id).unwrap_or_else(|| panic!("no rule {id}")).raw.fix.clone()
}

#[test]
fn a_healthy_account_passes_every_check() {
    let server = Tenant::healthy().serve();
    let r = one(&server);
    for id in [
        "account.exists",
        "account.enabled",
        "account.guest",
        "mfa.per-user",
        "mfa.security-defaults",
        "mfa.methods",
        "ca.policies",
        "password.expiry",
        "licence.teams-rooms",
        "mailbox.exists",
        "signins.recent",
    ] {
        assert_status(&r, id, Status::Pass);
    }
    assert_eq!(r.exit_code(), 0, "{r:#?}");
    assert!(detail(&r, "mfa.per-user").contains("beta"), "{r:#?}");
    assert!(detail(&r, "licence.teams-rooms").contains("Teams Rooms Pro"), "{r:#?}");
    assert!(detail(&r, "signins.recent").starts_with("2 sign-ins"), "{r:#?}");
    // The staff policy is enabled but reaches the room through nothing.
    assert!(r.checks.iter().all(|c| !c.id.starts_with("ca.policy.")), "{r:#?}");
    let (code, out) = run(&server, &["--format", "json", ROOM]);
    assert_eq!(code, 0, "{out}");
    let v: Value = serde_json::from_str(&out).unwrap();
    assert!(v["target"].as_str().unwrap().contains(ROOM));
    assert!(v["checks"].as_array().unwrap().iter().all(|c| c["status"] == "pass" && c.get("fix").is_some()));
}

#[test]
fn mfa_required_fails_with_the_scan_rules_fix() {
    let mut t = Tenant::healthy();
    t.per_user_mfa.insert(ROOM_ID.into(), "enforced".into());
    t.methods.get_mut(ROOM_ID).unwrap().push(json!({"@odata.type": "#microsoft.graph.microsoftAuthenticatorAuthenticationMethod", "id": "m2", "displayName": "Phone"}));
    let reason = "Due to a configuration change made by your administrator, or because you moved to a new location, you must use multi-factor authentication to access.";
    t.sign_ins.insert(
        ROOM_ID.into(),
        vec![sign_in(ROOM_ID, ROOM, 50_076, reason, 3.0), sign_in(ROOM_ID, ROOM, 50_076, reason, 1.0)],
    );
    let server = t.serve();
    let r = one(&server);
    assert_status(&r, "mfa.per-user", Status::Fail);
    assert!(detail(&r, "mfa.per-user").contains("enforced"));
    assert!(fix(&r, "mfa.per-user").starts_with(&rule_fix("rooms.resource-account.mfa-required")[0]));
    assert_status(&r, "mfa.methods", Status::Warn);
    assert!(detail(&r, "mfa.methods").contains("microsoftAuthenticator"), "{r:#?}");
    // The sign-ins went through the reader and rules of `scan`, which name the MFA requirement.
    assert_status(&r, "signins.recent", Status::Fail);
    assert!(detail(&r, "signins.recent").contains("AADSTS50076"), "{r:#?}");
    assert!(detail(&r, "signins.recent").contains("multi-factor"), "{r:#?}");
    assert_eq!(r.exit_code(), 1);

    // Security defaults on: the same requirement for everyone.
    let mut t = Tenant::healthy();
    t.security_defaults = true;
    let r = one(&t.serve());
    assert_status(&r, "mfa.security-defaults", Status::Fail);
}

/// The room belongs to "Everyone at Contoso" (`g-all`), which a blocking policy includes.
fn blocked_through_a_group() -> Tenant {
    let mut t = Tenant::healthy();
    t.policies.push(policy("p-block", "Block everyone outside the office", "enabled", &["g-all"], &[], &["block"]));
    t.sign_ins.insert(
        ROOM_ID.into(),
        vec![sign_in(
            ROOM_ID,
            ROOM,
            53_003,
            "Access has been blocked by Conditional Access policies. The access policy does not allow token issuance.",
            1.0,
        )],
    );
    t
}

#[test]
fn a_conditional_access_block_through_a_group_fails() {
    let server = blocked_through_a_group().serve();
    let r = one(&server);
    assert_status(&r, "ca.policy.p-block", Status::Fail);
    let d = detail(&r, "ca.policy.p-block");
    assert!(d.contains("through the group Everyone at Contoso (g-all)") && d.contains("blocks access"), "{d}");
    assert!(d.contains("locations All except AllTrusted"), "{d}");
    assert!(fix(&r, "ca.policy.p-block").starts_with(&rule_fix("rooms.resource-account.conditional-access")[0]));
    assert_status(&r, "signins.recent", Status::Fail);
    assert!(detail(&r, "signins.recent").contains("AADSTS53003"), "{r:#?}");

    // Report-only: listed as such, not a failure.
    let mut t = blocked_through_a_group();
    t.policies[1]["state"] = json!("enabledForReportingButNotEnforced");
    t.sign_ins.insert(ROOM_ID.into(), vec![sign_in(ROOM_ID, ROOM, 0, "Other.", 1.0)]);
    let r = one(&t.serve());
    assert_status(&r, "ca.policy.p-block", Status::Pass);
    assert!(detail(&r, "ca.policy.p-block").starts_with("report-only"), "{r:#?}");
    assert_eq!(r.exit_code(), 0);

    // A compliant-device requirement through all users: a warning.
    let mut t = Tenant::healthy();
    t.policies.push(policy("p-compliant", "Compliant devices only", "enabled", &["All"], &[], &["compliantDevice"]));
    let r = one(&t.serve());
    assert_status(&r, "ca.policy.p-compliant", Status::Warn);
    assert!(detail(&r, "ca.policy.p-compliant").contains("all users"));
}

#[test]
fn policies_reach_the_account_directly_and_through_a_role() {
    let mut t = Tenant::healthy();
    t.member_of.get_mut(ROOM_ID).unwrap().push(json!({
        "@odata.type": "#microsoft.graph.directoryRole", "id": "role-instance-1", "displayName": "Directory Readers",
        "roleTemplateId": "88d8e3e3-8f55-4a1e-953a-9b9898b8876b"
    }));
    let mut direct = policy("p-direct", "Terms for named users", "enabled", &[], &[], &[]);
    direct["conditions"]["users"]["includeUsers"] = json!([ROOM_ID]);
    direct["grantControls"]["termsOfUse"] = json!(["tou-1"]);
    t.policies.push(direct);
    let mut role = policy("p-role", "Readers use MFA", "enabled", &[], &[], &["mfa"]);
    role["conditions"]["users"]["includeRoles"] = json!(["88d8e3e3-8f55-4a1e-953a-9b9898b8876b"]);
    role["conditions"]["platforms"] = json!({"includePlatforms": ["windows", "android"], "excludePlatforms": []});
    t.policies.push(role);
    let mut other_app = policy("p-app", "Block the HR app", "enabled", &["All"], &[], &["block"]);
    other_app["conditions"]["applications"]["includeApplications"] = json!(["4f1c2d3e-0000-4000-8000-00000000a11c"]);
    t.policies.push(other_app);
    let r = one(&t.serve());
    assert_status(&r, "ca.policy.p-direct", Status::Fail);
    assert!(
        detail(&r, "ca.policy.p-direct").contains("the account itself")
            && detail(&r, "ca.policy.p-direct").contains("terms of use")
    );
    assert_status(&r, "ca.policy.p-role", Status::Fail);
    let d = detail(&r, "ca.policy.p-role");
    assert!(d.contains("the role Directory Readers (88d8e3e3") && d.contains("platforms windows, android"), "{d}");
    assert!(fix(&r, "ca.policy.p-role").starts_with(&rule_fix("rooms.resource-account.mfa-required")[0]));
    assert_status(&r, "ca.policy.p-app", Status::Pass);
    assert!(detail(&r, "ca.policy.p-app").contains("not for the apps a room signs in to"), "{r:#?}");
}

#[test]
fn an_account_excluded_from_the_policy_passes() {
    let mut t = blocked_through_a_group();
    t.policies[1]["conditions"]["users"]["excludeGroups"] = json!(["g-rooms"]);
    t.sign_ins.insert(ROOM_ID.into(), vec![sign_in(ROOM_ID, ROOM, 0, "Other.", 1.0)]);
    let r = one(&t.serve());
    assert!(r.get("ca.policy.p-block").is_none(), "{r:#?}");
    assert_status(&r, "ca.policies", Status::Pass);
    assert!(
        detail(&r, "ca.policies")
            .contains("Block everyone outside the office (excluded through the group Meeting rooms (g-rooms))"),
        "{r:#?}"
    );
    assert_eq!(r.exit_code(), 0);
}

#[test]
fn passwords_expired_and_expiring_soon() {
    let password = |changed_days_ago: f64| {
        let mut t = Tenant::healthy();
        t.user_mut(ROOM_ID)["passwordPolicies"] = json!("None");
        t.user_mut(ROOM_ID)["lastPasswordChangeDateTime"] = json!(crate::graph::ago(changed_days_ago));
        t.domains.insert("contoso.test".into(), 90);
        one(&t.serve())
    };
    let r = password(100.0);
    assert_status(&r, "password.expiry", Status::Fail);
    assert!(detail(&r, "password.expiry").contains("expired on"), "{r:#?}");
    assert!(fix(&r, "password.expiry").contains("DisablePasswordExpiration"));
    let r = password(80.0);
    assert_status(&r, "password.expiry", Status::Warn);
    assert!(detail(&r, "password.expiry").contains("expires on"), "{r:#?}");
    let r = password(10.0);
    assert_status(&r, "password.expiry", Status::Pass);

    // Synced from AD: AD's policy decides.
    let mut t = Tenant::healthy();
    t.user_mut(ROOM_ID)["passwordPolicies"] = json!("None");
    t.user_mut(ROOM_ID)["onPremisesSyncEnabled"] = json!(true);
    let r = one(&t.serve());
    assert_status(&r, "password.expiry", Status::Skip);

    // The domain's passwords never expire.
    let mut t = Tenant::healthy();
    t.user_mut(ROOM_ID)["passwordPolicies"] = json!("None");
    let r = one(&t.serve());
    assert_status(&r, "password.expiry", Status::Pass);
    assert!(detail(&r, "password.expiry").contains("never expire"), "{r:#?}");
}

#[test]
fn licences_none_basic_and_shared_devices() {
    let mut t = Tenant::healthy();
    t.licences.insert(ROOM_ID.into(), vec![]);
    t.subscribed = vec![
        json!({"skuId": "s1", "skuPartNumber": "Microsoft_Teams_Rooms_Pro", "capabilityStatus": "Enabled", "consumedUnits": 7,
               "prepaidUnits": {"enabled": 10, "suspended": 0, "warning": 0}}),
        json!({"skuId": "s2", "skuPartNumber": "ENTERPRISEPACK", "capabilityStatus": "Enabled", "consumedUnits": 90,
               "prepaidUnits": {"enabled": 100, "suspended": 0, "warning": 0}}),
    ];
    let r = one(&t.serve());
    assert_status(&r, "licence.teams-rooms", Status::Fail);
    assert!(fix(&r, "licence.teams-rooms").starts_with(&rule_fix("rooms.license.missing")[0]));
    let d = detail(&r, "licence.teams-rooms");
    assert!(
        d.contains("no licence at all") && d.contains("Teams Rooms Pro (Microsoft_Teams_Rooms_Pro): 3 of 10 free"),
        "{d}"
    );
    assert!(!d.contains("ENTERPRISEPACK"), "{d}");

    let mut t = Tenant::healthy();
    t.licences.insert(ROOM_ID.into(), vec![licence("Microsoft_Teams_Rooms_Basic", "Success")]);
    let r = one(&t.serve());
    assert_status(&r, "licence.teams-rooms", Status::Pass);
    assert!(detail(&r, "licence.teams-rooms").contains("Teams Rooms Basic"), "{r:#?}");

    let mut t = Tenant::healthy();
    t.licences.insert(ROOM_ID.into(), vec![licence("MCOCAP", "Success")]);
    let r = one(&t.serve());
    assert_status(&r, "licence.teams-rooms", Status::Warn);
    assert!(detail(&r, "licence.teams-rooms").contains("Teams Shared Devices"), "{r:#?}");

    let mut t = Tenant::healthy();
    t.licences.insert(ROOM_ID.into(), vec![licence("MEETING_ROOM_GOV", "Disabled")]);
    let r = one(&t.serve());
    assert_status(&r, "licence.teams-rooms", Status::Warn);
    assert!(detail(&r, "licence.teams-rooms").contains("government"), "{r:#?}");
    assert!(detail(&r, "licence.teams-rooms").contains("TEAMS1"), "{r:#?}");
}

#[test]
fn no_mailbox_fails_and_places_answer_for_delegated_tokens() {
    let mut t = Tenant::healthy();
    t.mailboxes.clear();
    let r = one(&t.serve());
    assert_status(&r, "mailbox.exists", Status::Fail);
    assert!(detail(&r, "mailbox.exists").contains("MailboxNotEnabledForRESTAPI"), "{r:#?}");
    assert!(fix(&r, "mailbox.exists").starts_with(&rule_fix("rooms.mailbox.missing")[0]));

    // mailboxSettings refused (a delegated token): the room list answers, over three pages.
    let mut t = Tenant::healthy();
    t.mailbox_settings_forbidden = true;
    t.page_size = 1;
    t.rooms.insert(0, json!({"id": "r0", "displayName": "Lobby", "emailAddress": "lobby@contoso.test"}));
    t.rooms.insert(0, json!({"id": "r00", "displayName": "Hall", "emailAddress": "hall@contoso.test"}));
    let server = t.serve();
    let r = one(&server);
    assert_status(&r, "mailbox.exists", Status::Pass);
    assert!(detail(&r, "mailbox.exists").contains("Room 1"), "{r:#?}");
    assert_eq!(server.count("/v1.0/places/microsoft.graph.room"), 3, "{:#?}", server.requests());

    // Not among the rooms either.
    let mut t = Tenant::healthy();
    t.mailbox_settings_forbidden = true;
    t.rooms.clear();
    let r = one(&t.serve());
    assert_status(&r, "mailbox.exists", Status::Fail);
}

#[test]
fn a_guest_account_fails() {
    let mut t = Tenant::healthy();
    t.users.push(json!({
        "id": "guest-1", "userPrincipalName": "visitor_fabrikam.test#EXT#@contoso.test", "displayName": "Visitor",
        "accountEnabled": true, "userType": "Guest", "mail": "visitor@fabrikam.test",
        "passwordPolicies": null, "lastPasswordChangeDateTime": crate::graph::ago(3.0)
    }));
    let server = t.serve();
    let mut r = accounts(&server, &["visitor@fabrikam.test"]);
    let r = r.remove(0);
    assert_status(&r, "account.exists", Status::Pass);
    assert_status(&r, "account.guest", Status::Fail);
    // Found by mail after the UPN lookup missed.
    assert!(
        server.requests().iter().any(|q| q.contains("$filter=mail eq 'visitor@fabrikam.test'")),
        "{:#?}",
        server.requests()
    );

    // An account that does not exist at all.
    let r = accounts(&server, &["nobody@contoso.test"]).remove(0);
    assert_status(&r, "account.exists", Status::Fail);
    assert_eq!(r.checks.len(), 1);
    // A disabled one.
    let mut t = Tenant::healthy();
    t.user_mut(ROOM_ID)["accountEnabled"] = json!(false);
    let r = one(&t.serve());
    assert_status(&r, "account.enabled", Status::Fail);
    assert!(fix(&r, "account.enabled").contains("AccountEnabled"), "{r:#?}");
}

#[test]
fn a_missing_permission_skips_its_check() {
    let mut t = Tenant::healthy();
    t.forbidden = vec!["/v1.0/auditLogs".into(), "/v1.0/identity/conditionalAccess".into(), "/beta/".into()];
    let r = one(&t.serve());
    assert_status(&r, "signins.recent", Status::Skip);
    assert!(detail(&r, "signins.recent").starts_with("skipped: needs AuditLog.Read.All"), "{r:#?}");
    assert_status(&r, "ca.policies", Status::Skip);
    assert!(detail(&r, "ca.policies").starts_with("skipped: needs Policy.Read.All permission"), "{r:#?}");
    assert_status(&r, "mfa.per-user", Status::Skip);
    assert_status(&r, "licence.teams-rooms", Status::Pass);
    assert_eq!(r.exit_code(), 0);

    // Memberships not readable: the policy for all users is still judged, the summary says what
    // could not be seen.
    let mut t = blocked_through_a_group();
    t.policies.push(policy("p-all-mfa", "Everyone uses MFA", "enabled", &["All"], &[], &["mfa"]));
    t.forbidden = vec![format!("/v1.0/users/{ROOM_ID}/transitiveMemberOf")];
    let r = one(&t.serve());
    assert_status(&r, "ca.policies", Status::Skip);
    assert!(detail(&r, "ca.policies").contains("needs GroupMember.Read.All"), "{r:#?}");
    assert!(detail(&r, "ca.policies").contains("through a group or a role were not seen"), "{r:#?}");
    assert_status(&r, "ca.policy.p-all-mfa", Status::Fail);
    assert!(r.get("ca.policy.p-block").is_none(), "{r:#?}");

    // Nothing readable: every check skipped, exit code 3.
    let mut t = Tenant::healthy();
    t.forbidden = vec!["/v1.0/".into(), "/beta/".into()];
    let server = t.serve();
    let (code, out) = run(&server, &["--format", "json", ROOM, "room2@contoso.test"]);
    assert_eq!(code, 3, "{out}");
    let v: Value = serde_json::from_str(&out).unwrap();
    for report in v.as_array().unwrap() {
        assert!(report["checks"].as_array().unwrap().iter().all(|c| c["status"] == "skip"), "{report}");
    }
}

#[test]
fn throttling_is_waited_out_as_retry_after_says() {
    let mut t = Tenant::healthy();
    t.throttled = vec![("/v1.0/identity/conditionalAccess/policies".into(), 1)];
    let server = t.serve();
    let r = one(&server);
    assert_status(&r, "ca.policies", Status::Pass);
    assert_eq!(server.count("/v1.0/identity/conditionalAccess/policies"), 2, "{:#?}", server.requests());

    // Throttled past the retries: the check is skipped, saying so.
    let mut t = Tenant::healthy();
    t.throttled = vec![("/v1.0/users/".to_owned() + ROOM_ID + "/licenseDetails", account::MAX_RETRIES as usize + 1)];
    let server = t.serve();
    let r = one(&server);
    assert_status(&r, "licence.teams-rooms", Status::Skip);
    assert!(detail(&r, "licence.teams-rooms").contains("429"), "{r:#?}");
    assert_eq!(server.count(&format!("/v1.0/users/{ROOM_ID}/licenseDetails")), account::MAX_RETRIES as usize + 1);
}

#[test]
fn listings_are_followed_through_every_page() {
    let mut t = blocked_through_a_group();
    t.page_size = 1;
    // The blocking policy on the third page, the group that carries it on the second.
    t.policies.insert(1, policy("p-other", "Admins use MFA", "enabled", &["g-admins"], &[], &["mfa"]));
    let server = t.serve();
    let r = one(&server);
    assert_status(&r, "ca.policy.p-block", Status::Fail);
    assert!(detail(&r, "ca.policies").starts_with("3 policies"), "{r:#?}");
    assert_eq!(server.count("/v1.0/identity/conditionalAccess/policies"), 3);
    assert_eq!(server.count(&format!("/v1.0/users/{ROOM_ID}/transitiveMemberOf")), 2);
}

#[test]
fn a_next_link_to_another_host_is_not_followed() {
    let mut t = blocked_through_a_group();
    t.page_size = 1;
    t.foreign_next_links = true;
    let server = t.serve();
    let r = one(&server);
    assert_status(&r, "ca.policies", Status::Skip);
    assert!(detail(&r, "ca.policies").contains("elsewhere.example.test"), "{r:#?}");
    assert_eq!(server.count("/v1.0/identity/conditionalAccess/policies"), 1);
}

#[test]
fn a_malformed_answer_skips_its_check_naming_the_source() {
    let mut t = Tenant::healthy();
    t.malformed = vec![format!("/v1.0/users/{ROOM_ID}/licenseDetails")];
    let r = one(&t.serve());
    assert_status(&r, "licence.teams-rooms", Status::Skip);
    let d = detail(&r, "licence.teams-rooms");
    assert!(d.contains("licenseDetails") && d.contains("not the JSON expected"), "{d}");
    assert_status(&r, "mailbox.exists", Status::Pass);
}

#[test]
fn several_accounts_give_one_json_array() {
    let server = blocked_through_a_group().serve();
    let dir = TempDir::new();
    let list = dir.write("rooms.txt", "# rooms of building 4\nroom1@contoso.test\n\nmissing@contoso.test\n");
    let (code, out) = run(&server, &["--format", "json", "--accounts", list.to_str().unwrap()]);
    assert_eq!(code, 1, "{out}");
    let v: Value = serde_json::from_str(&out).unwrap();
    let a = v.as_array().expect("an array for several accounts");
    assert_eq!(a.len(), 2);
    assert!(a[0]["target"].as_str().unwrap().contains("room1@contoso.test"));
    assert_eq!(a[1]["checks"][0]["id"], "account.exists");
    assert_eq!(a[1]["checks"][0]["status"], "fail");
    // Text: one block per account.
    let (_, text) = run(&server, &["--accounts", list.to_str().unwrap()]);
    assert_eq!(text.lines().filter(|l| l.starts_with("account ")).count(), 2, "{text}");
    assert!(text.contains("FAIL  ca.policy.p-block"), "{text}");
    // A list line that is not a UPN is an error naming the file and line.
    let bad = dir.write("bad.txt", "room1@contoso.test\nnot a upn\n");
    let e = try_accounts(&server, &["--accounts", bad.to_str().unwrap()], "").unwrap_err();
    assert!(e.contains("bad.txt") && e.contains("line 2"), "{e}");
}

/// The flags without app credentials: the device-code flow.
fn device_code(answers: &[&str]) -> (Server, Result<Vec<Report>, String>) {
    let mut t = Tenant::healthy();
    t.device_answers = answers.iter().map(|s| (*s).to_owned()).collect();
    let server = t.serve();
    let args = vec![
        "check".to_owned(),
        "account".into(),
        "--login-url".into(),
        server.base.clone(),
        "--graph-url".into(),
        server.base.clone(),
        "--ca-file".into(),
        server.ca.to_string_lossy().into_owned(),
        ROOM.into(),
    ];
    let cli = Cli::try_parse_from(&args).unwrap().check;
    let Kind::Account(a) = &cli.kind else { unreachable!() };
    let mut told = Vec::new();
    let result = account::execute(a, &mut told, &mut &b""[..]).map_err(|e| e.to_string());
    assert!(String::from_utf8_lossy(&told).contains("TEST-CODE"), "the device code was not shown");
    (server, result)
}

#[test]
fn device_code_pending_and_slow_down_then_a_token() {
    let (server, result) = device_code(&["authorization_pending", "slow_down", "ok"]);
    let reports = result.unwrap();
    assert_status(&reports[0], "account.exists", Status::Pass);
    assert_eq!(server.count("/organizations/oauth2/v2.0/token"), 3);
    assert_eq!(server.count("/organizations/oauth2/v2.0/devicecode"), 1);
}

#[test]
fn device_code_declined_and_expired_stop_the_run() {
    let (server, result) = device_code(&["authorization_pending", "authorization_declined"]);
    let e = result.unwrap_err();
    assert!(e.contains("declined"), "{e}");
    assert_eq!(server.count("/v1.0/"), 0, "no Graph request without a token");
    let (_, result) = device_code(&["expired_token"]);
    let e = result.unwrap_err();
    assert!(e.contains("expired"), "{e}");
}

/// A writer that hands each write to a channel (the sign-in prompt, read by the test).
struct Told(std::sync::mpsc::Sender<String>);

impl std::io::Write for Told {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let _ = self.0.send(String::from_utf8_lossy(buf).into_owned());
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[test]
fn browser_sign_in_with_pkce_and_a_loopback_redirect() {
    let server = Tenant::healthy().serve();
    let args = vec![
        "check".to_owned(),
        "account".into(),
        "--browser".into(),
        "--login-url".into(),
        server.base.clone(),
        "--graph-url".into(),
        server.base.clone(),
        "--ca-file".into(),
        server.ca.to_string_lossy().into_owned(),
        ROOM.into(),
    ];
    let cli = Cli::try_parse_from(&args).unwrap().check;
    let (tx, rx) = std::sync::mpsc::channel();
    let reports = std::thread::scope(|s| {
        let run = s.spawn(|| {
            let Kind::Account(a) = &cli.kind else { unreachable!() };
            account::execute(a, &mut Told(tx), &mut &b""[..]).map_err(|e| e.to_string())
        });
        // Play the browser: read the address, sign in (here: the test hands the tenant a code
        // for the challenge asked), and come back to the loopback redirect.
        let told: String = rx.iter().find(|t| t.contains("oauth2/v2.0/authorize")).expect("an address to open");
        let url = told.lines().find(|l| l.starts_with("https://")).unwrap().to_owned();
        let param = |name: &str| {
            url.split(['?', '&']).find_map(|kv| kv.strip_prefix(&format!("{name}="))).map(str::to_owned).unwrap()
        };
        assert!(url.starts_with(&format!("{}/organizations/oauth2/v2.0/authorize?", server.base)), "{url}");
        assert_eq!(param("code_challenge_method"), "S256");
        server.tenant().auth_code = Some(("code-from-browser".into(), param("code_challenge")));
        let redirect = param("redirect_uri").replace("%3A", ":").replace("%2F", "/");
        let port = redirect.rsplit(':').next().unwrap();
        let mut tcp = std::net::TcpStream::connect(format!("127.0.0.1:{port}")).unwrap();
        // A request with another state is not the one awaited.
        write!(tcp, "GET /?code=stolen&state=other HTTP/1.1\r\nHost: localhost\r\n\r\n").unwrap();
        let mut page = String::new();
        tcp.read_to_string(&mut page).unwrap();
        assert!(page.contains("Not the sign-in"), "{page}");
        let mut tcp = std::net::TcpStream::connect(format!("127.0.0.1:{port}")).unwrap();
        write!(tcp, "GET /?code=code-from-browser&state={} HTTP/1.1\r\nHost: localhost\r\n\r\n", param("state"))
            .unwrap();
        let mut page = String::new();
        tcp.read_to_string(&mut page).unwrap();
        assert!(page.contains("Signed in"), "{page}");
        run.join().unwrap()
    });
    let reports = reports.unwrap();
    assert_status(&reports[0], "account.exists", Status::Pass);
}

#[test]
fn help_names_the_permissions_and_the_clouds() {
    use clap::CommandFactory;
    let mut cmd = Cli::command();
    let help = cmd.find_subcommand_mut("account").expect("an account kind").render_long_help().to_string();
    for word in [
        "User.Read.All",
        "Policy.Read.All",
        "UserAuthenticationMethod.Read.All",
        "Domain.Read.All",
        "Organization.Read.All",
        "AuditLog.Read.All",
        "MailboxSettings.Read",
        "Place.Read.All",
        "P1 or P2",
        "gcchigh",
        "login.microsoftonline.us",
        "dod-graph.microsoft.us",
        "microsoftgraph.chinacloudapi.cn",
        "--password-stdin",
    ] {
        assert!(help.contains(word), "the help does not name {word}:\n{help}");
    }
    assert!(!help.contains("--login-url"), "hidden options stay hidden");
}

#[test]
fn app_credentials_with_a_certificate_sign_a_client_assertion() {
    let (chain, _) = pki::self_signed(&["uctriage-app"]);
    let mut t = Tenant::healthy();
    t.app_certificate = Some(chain[0].to_vec());
    let server = t.serve();
    let dir = TempDir::new();
    let pem = dir.write("app.pem", format!("{}{}", pki::chain_pem(&chain), pki::RSA_KEY));
    let flags: Vec<String> = server.flags().into_iter().take(10).collect();
    let mut args = vec!["check".to_owned(), "account".into()];
    args.extend(flags);
    args.extend(["--certificate".to_owned(), pem.to_string_lossy().into_owned(), ROOM.into()]);
    let cli = Cli::try_parse_from(&args).unwrap().check;
    let Kind::Account(a) = &cli.kind else { unreachable!() };
    let reports = account::execute(a, &mut Vec::new(), &mut &b""[..]).unwrap();
    assert_status(&reports[0], "account.exists", Status::Pass);

    // A certificate the app does not have: refused, and the run stops.
    let other = pki::self_signed(&["someone-else"]).0;
    server.tenant().app_certificate = Some(other[0].to_vec());
    let e = account::execute(a, &mut Vec::new(), &mut &b""[..]).unwrap_err().to_string();
    assert!(e.contains("AADSTS700027"), "{e}");
}

#[test]
fn a_wrong_client_secret_stops_the_run() {
    let server = Tenant::healthy().serve();
    std::env::set_var("UCTRIAGE_TEST_WRONG_SECRET", "not-it");
    let mut args = vec!["check".to_owned(), "account".into()];
    args.extend(server.flags().into_iter().take(10));
    args.extend(["--client-secret-env".to_owned(), "UCTRIAGE_TEST_WRONG_SECRET".into(), ROOM.into()]);
    let cli = Cli::try_parse_from(&args).unwrap().check;
    let Kind::Account(a) = &cli.kind else { unreachable!() };
    let e = account::execute(a, &mut Vec::new(), &mut &b""[..]).unwrap_err().to_string();
    assert!(e.contains("AADSTS7000215"), "{e}");
    assert!(!e.contains("not-it"), "the secret is never shown: {e}");
}

#[test]
fn password_stdin_signs_in_as_the_account() {
    let mut t = Tenant::healthy();
    t.passwords.insert(ROOM.into(), "right horse battery".into());
    let server = t.serve();
    let r = try_accounts(&server, &["--password-stdin", ROOM], "wrong guess\n").unwrap().remove(0);
    assert_status(&r, "signin.password", Status::Fail);
    assert!(detail(&r, "signin.password").contains("AADSTS50126"), "{r:#?}");
    assert!(fix(&r, "signin.password").starts_with(&rule_fix("rooms.resource-account.wrong-credentials")[0]));
    assert!(!format!("{r:?}").contains("wrong guess"), "the password is never shown");
    let r = try_accounts(&server, &["--password-stdin", ROOM], "right horse battery\n").unwrap().remove(0);
    assert_status(&r, "signin.password", Status::Pass);
}

#[test]
fn usage_errors() {
    let server = Tenant::healthy().serve();
    let e = try_accounts(&server, &[], "").unwrap_err();
    assert!(e.contains("which account"), "{e}");
    let e = try_accounts(&server, &["--password-stdin", ROOM, "room2@contoso.test"], "x\n").unwrap_err();
    assert!(e.contains("one account"), "{e}");
    let e = try_accounts(&server, &["not-a-upn"], "").unwrap_err();
    assert!(e.contains("user principal name"), "{e}");
    // App credentials need a tenant.
    let args = ["check", "account", "--client-id", "x", "--client-secret-env", "V", ROOM];
    let cli = Cli::try_parse_from(args).unwrap().check;
    let Kind::Account(a) = &cli.kind else { unreachable!() };
    let e = account::execute(a, &mut Vec::new(), &mut &b""[..]).unwrap_err().to_string();
    assert!(e.contains("--tenant"), "{e}");
}

#[test]
fn clouds_use_their_own_hosts() {
    use account::Cloud;
    assert_eq!(Cloud::Gcc.hosts(), Cloud::Global.hosts());
    assert_eq!(Cloud::GccHigh.hosts(), ("https://login.microsoftonline.us", "https://graph.microsoft.us"));
    assert_eq!(Cloud::Dod.hosts(), ("https://login.microsoftonline.us", "https://dod-graph.microsoft.us"));
    assert_eq!(Cloud::China.hosts(), ("https://login.chinacloudapi.cn", "https://microsoftgraph.chinacloudapi.cn"));
    let cli = Cli::try_parse_from(["check", "account", "--cloud", "gcchigh", ROOM]).unwrap().check;
    let Kind::Account(a) = &cli.kind else { unreachable!() };
    assert_eq!(a.cloud, Cloud::GccHigh);
}
