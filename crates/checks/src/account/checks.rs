//! The checks of one resource account, each answered from Graph. Fixes are the texts of the
//! rules `scan` reports (or of the knowledge base), so both commands say the same thing.

use std::fmt::Write as _;
use std::sync::Arc;

use serde_json::Value;
use uctriage_rules::{RuleSet, Severity};

use super::auth::Login;
use super::http::{percent, Graph, GraphError};
use crate::{fixes, Check, Report, Status};

/// Days before expiry from which a password counts as expiring soon.
pub const EXPIRY_WARNING_DAYS: i64 = 14;
/// `passwordValidityPeriodInDays` meaning "never expires".
const NEVER_EXPIRES: i64 = 2_147_483_647;

/// The rules whose texts the checks use.
const RULE_MFA: &str = "rooms.resource-account.mfa-required";
const RULE_CA: &str = "rooms.resource-account.conditional-access";
const RULE_PASSWORD: &str = "rooms.resource-account.password-expired";
const RULE_LICENCE: &str = "rooms.license.missing";
const RULE_MAILBOX: &str = "rooms.mailbox.missing";
const RULE_NO_ATTEMPTS: &str = "rooms.network.no-sign-in-attempts";
const RULE_CREDENTIALS: &str = "rooms.resource-account.wrong-credentials";

/// Every rule id the checks take texts from (tested to exist).
#[cfg(test)]
const RULES_USED: &[&str] =
    &[RULE_MFA, RULE_CA, RULE_PASSWORD, RULE_LICENCE, RULE_MAILBOX, RULE_NO_ATTEMPTS, RULE_CREDENTIALS];

/// The one fix no rule or knowledge entry holds: a guest cannot be a room's account.
const GUEST_FIX: &str = "Use a member account of this tenant as the room's resource account: create it here with its room mailbox, enable it and give it a password and a Teams Rooms licence";

/// Applications a room signs in to: Teams, Exchange Online, Skype for Business Online (and the
/// Office 365 group that holds them).
const ROOM_APPS: &[&str] = &[
    "All",
    "Office365",
    "cc15fd57-2c6c-4117-a88c-83b1d56b4bbe",
    "1fec8e78-bce4-4aaf-ab1b-5451cc387264",
    "00000002-0000-0ff1-ce00-000000000000",
    "00000004-0000-0ff1-ce00-000000000000",
];

/// What the checks share for a run.
#[derive(Debug)]
pub struct Context<'a> {
    graph: &'a Graph,
    rules: Arc<RuleSet>,
    now: i64,
}

impl<'a> Context<'a> {
    pub fn new(graph: &'a Graph) -> Context<'a> {
        Context { graph, rules: Arc::new(RuleSet::builtin()), now: crate::time::now_unix() }
    }

    /// A rule's fix lines, closing with the rule it comes from.
    fn rule_fix(&self, id: &str) -> String {
        rule_fix(&self.rules, id)
    }
}

/// A rule's fix lines and its title, as `scan` shows them.
pub fn rule_fix(rules: &RuleSet, id: &str) -> String {
    match rules.get(id) {
        Some(rule) => format!("{}\n(scan reports this as {id}: {})", rule.raw.fix.join("\n"), rule.raw.title),
        None => format!("see the rule {id}"),
    }
}

/// The skip a Graph error becomes; `permission` is what the read needs.
fn skipped(id: &str, err: &GraphError, permission: &str) -> Check {
    match err {
        GraphError::Forbidden { code, message, .. } => {
            Check::skip(id, format!("skipped: needs {permission} permission (Graph answered 403 {code}: {message})"))
        }
        _ => Check::skip(id, format!("skipped: {err}")),
    }
}

/// The user as Graph gives it, with the fields the checks read.
#[derive(Debug)]
struct User {
    id: String,
    upn: String,
    json: Value,
}

const USER_FIELDS: &str =
    "id,userPrincipalName,displayName,accountEnabled,userType,mail,passwordPolicies,lastPasswordChangeDateTime,onPremisesSyncEnabled";

/// Look the account up by UPN, then (a guest's UPN differs from its address) by mail.
fn find_user(graph: &Graph, upn: &str) -> Result<Option<User>, GraphError> {
    let direct = graph.get(&format!("/v1.0/users/{}?$select={USER_FIELDS}", percent(upn)));
    let json = match direct {
        Ok(v) => Some(v),
        Err(GraphError::NotFound { .. }) => {
            let filter = format!("mail eq '{}'", upn.replace('\'', "''"));
            let found = graph.get(&format!("/v1.0/users?$filter={}&$select={USER_FIELDS}", percent(&filter)))?;
            found["value"].as_array().and_then(|a| a.first()).cloned()
        }
        Err(e) => return Err(e),
    };
    Ok(json.and_then(|json| {
        let id = json["id"].as_str()?.to_owned();
        let upn = json["userPrincipalName"].as_str().unwrap_or(upn).to_owned();
        Some(User { id, upn, json })
    }))
}

/// Every check of one account.
pub fn account(ctx: &Context<'_>, upn: &str) -> Report {
    let mut report = Report::new(format!("account {upn}"));
    let user = match find_user(ctx.graph, upn) {
        Ok(Some(u)) => u,
        Ok(None) => {
            report.push(Check::fail(
                "account.exists",
                format!("no user {upn} in the tenant (looked up by user principal name and by mail)"),
                fixes::for_code("AADSTS50034", "Check the user principal name configured on the device"),
            ));
            return report;
        }
        Err(e) => {
            report.push(skipped("account.exists", &e, "User.Read.All"));
            return report;
        }
    };
    let name = user.json["displayName"].as_str().unwrap_or("");
    report.target = format!("account {upn} ({name}, {})", user.id);
    report.push(Check::pass("account.exists", format!("{} exists: {name}", user.upn)));
    report.push(match user.json["accountEnabled"].as_bool() {
        Some(true) => Check::pass("account.enabled", "accountEnabled is true: the account may sign in"),
        Some(false) => Check::fail(
            "account.enabled",
            "accountEnabled is false: sign-in is blocked for the account",
            fixes::for_code("AADSTS50057", "Enable the account"),
        ),
        None => Check::skip("account.enabled", "skipped: Graph gave no accountEnabled for the account"),
    });
    report.push(match user.json["userType"].as_str() {
        Some("Guest") => Check::fail(
            "account.guest",
            format!("userType is Guest ({}): a guest cannot be a room's resource account", user.upn),
            GUEST_FIX,
        ),
        Some(t) => Check::pass("account.guest", format!("userType is {t}")),
        None => Check::pass("account.guest", "userType not given (a member account)"),
    });
    mfa(ctx, &user, &mut report);
    conditional_access(ctx, &user, &mut report);
    report.push(password(ctx, &user));
    report.push(licence(ctx, &user));
    report.push(mailbox(ctx, &user));
    report.push(sign_ins(ctx, &user));
    report
}

fn mfa(ctx: &Context<'_>, user: &User, report: &mut Report) {
    let path = format!("/beta/users/{}/authentication/requirements", percent(&user.id));
    report.push(match ctx.graph.get(&path) {
        Ok(v) => match v["perUserMfaState"].as_str() {
            Some(s @ ("enabled" | "enforced")) => Check::fail(
                "mfa.per-user",
                format!("per-user MFA is {s} (read from Graph's beta endpoint)"),
                ctx.rule_fix(RULE_MFA),
            ),
            Some(s) => Check::pass("mfa.per-user", format!("per-user MFA is {s} (read from Graph's beta endpoint)")),
            None => Check::skip("mfa.per-user", "skipped: the beta endpoint gave no perUserMfaState"),
        },
        Err(e) => skipped("mfa.per-user", &e, "UserAuthenticationMethod.Read.All (beta endpoint)"),
    });
    report.push(match ctx.graph.get("/v1.0/policies/identitySecurityDefaultsEnforcementPolicy") {
        Ok(v) => match v["isEnabled"].as_bool() {
            Some(true) => Check::fail(
                "mfa.security-defaults",
                "security defaults are on: every account must register for MFA and is prompted for it, the room's too",
                ctx.rule_fix(RULE_MFA),
            ),
            Some(false) => Check::pass("mfa.security-defaults", "security defaults are off"),
            None => Check::skip("mfa.security-defaults", "skipped: the policy gave no isEnabled"),
        },
        Err(e) => skipped("mfa.security-defaults", &e, "Policy.Read.All"),
    });
    let path = format!("/v1.0/users/{}/authentication/methods", percent(&user.id));
    report.push(match ctx.graph.get_all(&path) {
        Ok(methods) => {
            let names: Vec<String> = methods
                .iter()
                .filter_map(|m| m["@odata.type"].as_str())
                .map(|t| t.trim_start_matches("#microsoft.graph.").trim_end_matches("AuthenticationMethod").to_owned())
                .collect();
            let strong: Vec<&String> = names.iter().filter(|n| n.as_str() != "password").collect();
            if strong.is_empty() {
                Check::pass("mfa.methods", format!("registered methods: {}", list_or_none(&names)))
            } else {
                Check::warn(
                    "mfa.methods",
                    format!(
                        "registered methods: {}; a second factor is registered, so MFA prompts can be met by a person but not by the room",
                        list_or_none(&names)
                    ),
                    ctx.rule_fix(RULE_MFA),
                )
            }
        }
        Err(e) => skipped("mfa.methods", &e, "UserAuthenticationMethod.Read.All"),
    });
}

fn list_or_none(items: &[String]) -> String {
    if items.is_empty() {
        "none".into()
    } else {
        items.join(", ")
    }
}

/// The strings of a JSON array field.
fn strings<'v>(v: &'v Value, key: &str) -> Vec<&'v str> {
    v[key].as_array().map(|a| a.iter().filter_map(Value::as_str).collect()).unwrap_or_default()
}

/// What a CA policy's grant controls ask of a room: the status, and the words for it.
fn judge_grant(policy: &Value) -> (Status, String) {
    let g = &policy["grantControls"];
    if g.is_null() {
        return (Status::Pass, "no grant controls (session controls only)".into());
    }
    let mut each: Vec<(Status, String)> = Vec::new();
    for c in strings(g, "builtInControls") {
        let status = match c {
            "block" | "mfa" | "passwordChange" => Status::Fail,
            // compliantDevice, domainJoinedDevice, approvedApplication, compliantApplication and
            // controls added later: a room can meet them, or they need a look.
            _ => Status::Warn,
        };
        let words = match c {
            "block" => "blocks access".to_owned(),
            "mfa" => "requires MFA".to_owned(),
            "passwordChange" => "requires a password change".to_owned(),
            "compliantDevice" => "requires a compliant device (a room enrolled in Intune can meet it)".to_owned(),
            "domainJoinedDevice" => "requires a hybrid-joined device".to_owned(),
            other => format!("requires {other}"),
        };
        each.push((status, words));
    }
    if g["authenticationStrength"].is_object() {
        let name = g["authenticationStrength"]["displayName"].as_str().unwrap_or("an authentication strength");
        each.push((Status::Fail, format!("requires the authentication strength {name} (MFA)")));
    }
    if !strings(g, "termsOfUse").is_empty() {
        each.push((Status::Fail, "requires accepting terms of use".into()));
    }
    if !strings(g, "customAuthenticationFactors").is_empty() {
        each.push((Status::Fail, "requires a custom authentication factor".into()));
    }
    if each.is_empty() {
        return (Status::Pass, "no grant control a room must meet".into());
    }
    let or = g["operator"].as_str().is_some_and(|o| o.eq_ignore_ascii_case("OR")) && each.len() > 1;
    let status = if or {
        each.iter().map(|(s, _)| *s).min().unwrap_or(Status::Pass)
    } else {
        each.iter().map(|(s, _)| *s).max().unwrap_or(Status::Pass)
    };
    let words: Vec<&str> = each.iter().map(|(_, w)| w.as_str()).collect();
    (status, words.join(if or { " or " } else { " and " }))
}

/// Groups and role templates the user belongs to (transitively), and the display name of each.
fn memberships(graph: &Graph, user: &User) -> Result<(Vec<String>, Vec<String>, Names), GraphError> {
    let path = format!("/v1.0/users/{}/transitiveMemberOf?$select=id,displayName,roleTemplateId", percent(&user.id));
    let mut groups = Vec::new();
    let mut roles = Vec::new();
    let mut names = Names::new();
    for m in graph.get_all(&path)? {
        let Some(id) = m["id"].as_str() else { continue };
        let key = if m["@odata.type"].as_str() == Some("#microsoft.graph.directoryRole") {
            let Some(t) = m["roleTemplateId"].as_str() else { continue };
            roles.push(t.to_owned());
            t
        } else {
            groups.push(id.to_owned());
            id
        };
        if let Some(n) = m["displayName"].as_str() {
            names.insert(key.to_ascii_lowercase(), n.to_owned());
        }
    }
    Ok((groups, roles, names))
}

/// Display names of groups and roles by id (lower case).
type Names = std::collections::HashMap<String, String>;

/// `Name (id)` when the name is known, else the id.
fn named(names: &Names, id: &str) -> String {
    match names.get(&id.to_ascii_lowercase()) {
        Some(n) => format!("{n} ({id})"),
        None => id.to_owned(),
    }
}

/// `1 sign-in`, `2 sign-ins`.
fn plural(n: usize, word: &str) -> String {
    if n == 1 {
        format!("1 {word}")
    } else {
        format!("{n} {word}s")
    }
}

/// How the policy's user conditions reach the account, or `None` when they do not (or exclude it).
fn reaches(
    policy: &Value,
    user: &User,
    (groups, roles, names): (&[String], &[String], &Names),
    guest: bool,
) -> Option<String> {
    let u = &policy["conditions"]["users"];
    let has = |key: &str, ids: &[String]| {
        strings(u, key).into_iter().find(|x| ids.iter().any(|i| i.eq_ignore_ascii_case(x))).map(str::to_owned)
    };
    let me = [user.id.clone()];
    let excluded = has("excludeUsers", &me).is_some()
        || has("excludeGroups", groups).is_some()
        || has("excludeRoles", roles).is_some()
        || (guest && strings(u, "excludeUsers").contains(&"GuestsOrExternalUsers"));
    if excluded {
        return None;
    }
    let include_users = strings(u, "includeUsers");
    if include_users.contains(&"All") {
        Some("all users".into())
    } else if has("includeUsers", &me).is_some() {
        Some("the account itself".into())
    } else if guest && include_users.contains(&"GuestsOrExternalUsers") {
        Some("guests and external users".into())
    } else if let Some(g) = has("includeGroups", groups) {
        Some(format!("the group {}", named(names, &g)))
    } else {
        has("includeRoles", roles).map(|r| format!("the role {}", named(names, &r)))
    }
}

/// Whether the policy's user conditions exclude the account (for the detail of a passing check).
fn excluded_by(policy: &Value, user: &User, (groups, roles, names): (&[String], &[String], &Names)) -> Option<String> {
    let u = &policy["conditions"]["users"];
    let find = |key: &str, ids: &[String]| {
        strings(u, key).into_iter().find(|x| ids.iter().any(|i| i.eq_ignore_ascii_case(x))).map(str::to_owned)
    };
    if find("excludeUsers", std::slice::from_ref(&user.id)).is_some() {
        Some("the account itself".into())
    } else if let Some(g) = find("excludeGroups", groups) {
        Some(format!("the group {}", named(names, &g)))
    } else {
        find("excludeRoles", roles).map(|r| format!("the role {}", named(names, &r)))
    }
}

/// Apps, platforms, locations and client apps of a policy, in a few words.
fn conditions(policy: &Value) -> String {
    let c = &policy["conditions"];
    let mut parts = Vec::new();
    let apps = strings(&c["applications"], "includeApplications");
    if !apps.is_empty() {
        parts.push(format!("apps {}", apps.join(", ")));
    }
    for (what, include, exclude) in
        [("platforms", "includePlatforms", "excludePlatforms"), ("locations", "includeLocations", "excludeLocations")]
    {
        let included = strings(&c[what], include);
        if !included.is_empty() {
            let mut s = format!("{what} {}", included.join(", "));
            let ex = strings(&c[what], exclude);
            if !ex.is_empty() {
                let _ = write!(s, " except {}", ex.join(", "));
            }
            parts.push(s);
        }
    }
    let clients = strings(c, "clientAppTypes");
    if !clients.is_empty() {
        parts.push(format!("client apps {}", clients.join(", ")));
    }
    parts.join("; ")
}

fn conditional_access(ctx: &Context<'_>, user: &User, report: &mut Report) {
    let policies = match ctx.graph.get_all("/v1.0/identity/conditionalAccess/policies") {
        Ok(p) => p,
        Err(e) => {
            report.push(skipped("ca.policies", &e, "Policy.Read.All"));
            return;
        }
    };
    // Without the memberships, the policies for all users and for the account itself are still
    // judged; the summary is a skip that says which ones could not be seen.
    let (groups, roles, names, unread) = match memberships(ctx.graph, user) {
        Ok((g, r, n)) => (g, r, n, None),
        Err(e) => (Vec::new(), Vec::new(), Names::new(), Some(skipped("ca.policies", &e, "GroupMember.Read.All"))),
    };
    let guest = user.json["userType"].as_str() == Some("Guest");
    let mut checks = Vec::new();
    let mut excluded = Vec::new();
    let mut enabled = 0;
    for p in &policies {
        let state = p["state"].as_str().unwrap_or("");
        let report_only = state == "enabledForReportingButNotEnforced";
        if state != "enabled" && !report_only {
            continue;
        }
        enabled += 1;
        let name = p["displayName"].as_str().unwrap_or("(no name)");
        let id = p["id"].as_str().unwrap_or(name);
        let Some(through) = reaches(p, user, (&groups, &roles, &names), guest) else {
            if let Some(by) = excluded_by(p, user, (&groups, &roles, &names)) {
                excluded.push(format!("{name} (excluded through {by})"));
            }
            continue;
        };
        let apps = &p["conditions"]["applications"];
        let for_rooms = strings(apps, "includeApplications").iter().any(|a| ROOM_APPS.contains(a))
            && !strings(apps, "excludeApplications").iter().any(|a| ROOM_APPS[2..].contains(a) || *a == "Office365");
        let (status, grant) = judge_grant(p);
        let mut detail = format!("{name}: applies through {through}; {grant}");
        let cond = conditions(p);
        if !cond.is_empty() {
            let _ = write!(detail, "\nconditions: {cond}");
        }
        let check_id = format!("ca.policy.{id}");
        let check = if report_only {
            Check::pass(check_id, format!("report-only (not enforced): {detail}"))
        } else if !for_rooms {
            Check::pass(check_id, format!("{detail}\nnot for the apps a room signs in to (Teams, Exchange Online)"))
        } else {
            match status {
                Status::Fail => {
                    let grant_words = grant.as_str();
                    let rule =
                        if grant_words.contains("MFA") && !grant_words.contains("blocks") { RULE_MFA } else { RULE_CA };
                    Check::fail(check_id, detail, ctx.rule_fix(rule))
                }
                Status::Warn => Check::warn(check_id, detail, ctx.rule_fix(RULE_CA)),
                _ => Check::pass(check_id, detail),
            }
        };
        checks.push(check);
    }
    let mut summary = format!(
        "{}, {enabled} enabled or report-only, {} to the account (member of {}, {})",
        if policies.len() == 1 { "1 policy".to_owned() } else { format!("{} policies", policies.len()) },
        if checks.len() == 1 { "1 applies".to_owned() } else { format!("{} apply", checks.len()) },
        plural(groups.len(), "group"),
        plural(roles.len(), "role")
    );
    if !excluded.is_empty() {
        let _ = write!(summary, "\nexcluded from: {}", excluded.join("; "));
    }
    report.push(match unread {
        Some(mut skip) => {
            skip.detail = format!(
                "{}\npolicies that reach the account through a group or a role were not seen; {summary}",
                skip.detail
            );
            skip
        }
        None => Check::pass("ca.policies", summary),
    });
    for c in checks {
        report.push(c);
    }
}

fn password(ctx: &Context<'_>, user: &User) -> Check {
    const ID: &str = "password.expiry";
    let policies = user.json["passwordPolicies"].as_str().unwrap_or("");
    if policies.contains("DisablePasswordExpiration") {
        return Check::pass(ID, format!("passwordPolicies is {policies}: the password never expires"));
    }
    if user.json["onPremisesSyncEnabled"].as_bool() == Some(true) {
        return Check::skip(
            ID,
            "skipped: the account is synced from on-premises Active Directory, whose password policy decides when its password expires",
        );
    }
    let Some(changed) = user.json["lastPasswordChangeDateTime"].as_str() else {
        return Check::skip(ID, "skipped: Graph gave no lastPasswordChangeDateTime (needs User.Read.All)");
    };
    let Some(changed_at) = crate::time::parse_rfc3339(changed) else {
        return Check::skip(ID, format!("skipped: lastPasswordChangeDateTime {changed:?} is not a date"));
    };
    let domain = user.upn.rsplit('@').next().unwrap_or("");
    let days =
        match ctx.graph.get(&format!("/v1.0/domains/{}?$select=id,passwordValidityPeriodInDays", percent(domain))) {
            Ok(v) => v["passwordValidityPeriodInDays"].as_i64(),
            Err(e) => return skipped(ID, &e, "Domain.Read.All"),
        };
    let Some(days) = days else {
        return Check::skip(ID, format!("skipped: the domain {domain} gave no passwordValidityPeriodInDays"));
    };
    if days >= NEVER_EXPIRES || days <= 0 {
        return Check::pass(
            ID,
            format!("the domain {domain}'s passwords never expire (passwordValidityPeriodInDays {days})"),
        );
    }
    let expires = changed_at + days * 86_400;
    let when = crate::time::date(expires);
    let left = (expires - ctx.now).div_euclid(86_400);
    let base =
        format!("last changed {}, the domain {domain} keeps passwords {days} days", crate::time::date(changed_at));
    if expires <= ctx.now {
        Check::fail(ID, format!("{base}: the password expired on {when}"), ctx.rule_fix(RULE_PASSWORD))
    } else if left < EXPIRY_WARNING_DAYS {
        Check::warn(ID, format!("{base}: the password expires on {when}, in {left} days"), ctx.rule_fix(RULE_PASSWORD))
    } else {
        Check::pass(
            ID,
            format!("{base}: the password expires on {when}; DisablePasswordExpiration would keep it from expiring"),
        )
    }
}

/// What kind of licence a SKU part number is, for a room.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SkuKind {
    Room,
    SharedDevice,
    Other,
}

/// SKU part number prefixes and what they are.
const SKUS: &[(&str, &str, SkuKind)] = &[
    ("Microsoft_Teams_Rooms_Pro", "Teams Rooms Pro", SkuKind::Room),
    ("Microsoft_Teams_Rooms_Basic", "Teams Rooms Basic", SkuKind::Room),
    ("MTR_PREM", "Teams Rooms Premium (older SKU)", SkuKind::Room),
    ("MEETING_ROOM", "Meeting Room (older SKU)", SkuKind::Room),
    ("Teams_Rooms", "Teams Rooms", SkuKind::Room),
    ("MCOCAP", "Teams Shared Devices", SkuKind::SharedDevice),
    ("Microsoft_Teams_Shared_Devices", "Teams Shared Devices", SkuKind::SharedDevice),
];

/// A SKU's name and kind; government SKUs (suffix _GOV, _GCC, _USGOV, _DOD, _GCCHIGH) say so.
fn sku(part: &str) -> (String, SkuKind) {
    let upper = part.to_ascii_uppercase();
    for (prefix, name, kind) in SKUS {
        if upper.starts_with(&prefix.to_ascii_uppercase()) {
            let mut name = format!("{name} ({part})");
            if ["_GOV", "_GCC", "_USGOV", "_DOD", "_GCCHIGH"].iter().any(|s| upper.contains(s)) {
                name.push_str(", government");
            }
            return (name, *kind);
        }
    }
    (part.to_owned(), SkuKind::Other)
}

fn licence(ctx: &Context<'_>, user: &User) -> Check {
    const ID: &str = "licence.teams-rooms";
    let details = match ctx.graph.get_all(&format!("/v1.0/users/{}/licenseDetails", percent(&user.id))) {
        Ok(d) => d,
        Err(e) => return skipped(ID, &e, "User.Read.All"),
    };
    let mut rooms = Vec::new();
    let mut shared = Vec::new();
    let mut others = Vec::new();
    let mut teams_off = Vec::new();
    for d in &details {
        let part = d["skuPartNumber"].as_str().unwrap_or("unknown SKU");
        let (name, kind) = sku(part);
        match kind {
            SkuKind::Room => rooms.push(name),
            SkuKind::SharedDevice => shared.push(name),
            SkuKind::Other => others.push(name),
        }
        for plan in d["servicePlans"].as_array().into_iter().flatten() {
            let plan_name = plan["servicePlanName"].as_str().unwrap_or("");
            if plan_name.starts_with("TEAMS") && plan["provisioningStatus"].as_str() == Some("Disabled") {
                teams_off.push(format!("{plan_name} in {part}"));
            }
        }
    }
    let others_note = if others.is_empty() { String::new() } else { format!("; also {}", others.join(", ")) };
    if !rooms.is_empty() {
        let detail = format!("assigned: {}{others_note}", rooms.join(", "));
        if teams_off.is_empty() {
            Check::pass(ID, detail)
        } else {
            Check::warn(
                ID,
                format!("{detail}; the Teams service plan is switched off: {}", teams_off.join(", ")),
                ctx.rule_fix(RULE_LICENCE),
            )
        }
    } else if !shared.is_empty() {
        Check::warn(
            ID,
            format!("assigned: {}{others_note}: a Teams Shared Devices licence is for phones and panels, not for a Teams Rooms device", shared.join(", ")),
            ctx.rule_fix(RULE_LICENCE),
        )
    } else {
        let has =
            if others.is_empty() { " (no licence at all)".to_owned() } else { format!(" (has {})", others.join(", ")) };
        Check::fail(
            ID,
            format!("no Teams Rooms licence assigned{has}; {}", tenant_room_licences(ctx)),
            ctx.rule_fix(RULE_LICENCE),
        )
    }
}

/// What the tenant holds of Teams Rooms licences (`/subscribedSkus`), for a room that has none.
fn tenant_room_licences(ctx: &Context<'_>) -> String {
    let skus = match ctx.graph.get_all("/v1.0/subscribedSkus") {
        Ok(s) => s,
        Err(GraphError::Forbidden { .. }) => {
            return "the tenant's licences were not read (needs Organization.Read.All permission)".into()
        }
        Err(e) => return format!("the tenant's licences were not read ({e})"),
    };
    let mut held = Vec::new();
    for s in &skus {
        let part = s["skuPartNumber"].as_str().unwrap_or("");
        let (name, kind) = sku(part);
        if kind != SkuKind::Room {
            continue;
        }
        let enabled = s["prepaidUnits"]["enabled"].as_i64().unwrap_or(0);
        let used = s["consumedUnits"].as_i64().unwrap_or(0);
        held.push(format!("{name}: {} of {enabled} free", (enabled - used).max(0)));
    }
    if held.is_empty() {
        "the tenant holds no Teams Rooms licence".into()
    } else {
        format!("the tenant holds {}", held.join(", "))
    }
}

fn mailbox(ctx: &Context<'_>, user: &User) -> Check {
    const ID: &str = "mailbox.exists";
    match ctx.graph.get(&format!("/v1.0/users/{}/mailboxSettings", percent(&user.id))) {
        Ok(v) => {
            let purpose = v["userPurpose"].as_str().map(|p| format!(", purpose {p}")).unwrap_or_default();
            let tz = v["timeZone"].as_str().unwrap_or("not set");
            return Check::pass(ID, format!("the mailbox answers (time zone {tz}{purpose})"));
        }
        Err(GraphError::NotFound { code, message, .. }) => {
            return Check::fail(
                ID,
                format!("no mailbox: Graph answered 404 {code}: {message}"),
                ctx.rule_fix(RULE_MAILBOX),
            );
        }
        Err(GraphError::Status { code, message, .. })
            if code.contains("MailboxNotEnabled") || code.contains("MailboxNotFound") =>
        {
            return Check::fail(
                ID,
                format!("no mailbox: Graph answered {code}: {message}"),
                ctx.rule_fix(RULE_MAILBOX),
            );
        }
        Err(GraphError::Forbidden { .. }) => {}
        Err(e) => return skipped(ID, &e, "MailboxSettings.Read (application)"),
    }
    // Delegated tokens cannot read another mailbox's settings: look among the room mailboxes.
    let rooms = match ctx.graph.get_all("/v1.0/places/microsoft.graph.room") {
        Ok(r) => r,
        Err(e) => return skipped(ID, &e, "MailboxSettings.Read (application) or Place.Read.All"),
    };
    let mail = user.json["mail"].as_str().unwrap_or("");
    let found = rooms.iter().find(|r| {
        r["emailAddress"]
            .as_str()
            .is_some_and(|a| a.eq_ignore_ascii_case(&user.upn) || (!mail.is_empty() && a.eq_ignore_ascii_case(mail)))
    });
    match found {
        Some(r) => Check::pass(
            ID,
            format!(
                "a room mailbox: {} in /places/microsoft.graph.room",
                r["displayName"].as_str().unwrap_or(&user.upn)
            ),
        ),
        None => Check::fail(
            ID,
            format!("not among the tenant's {} room mailboxes (/places/microsoft.graph.room)", rooms.len()),
            ctx.rule_fix(RULE_MAILBOX),
        ),
    }
}

/// The last 24 hours of sign-ins, judged by `scan`'s rules as an exported sign-in log would be.
fn sign_ins(ctx: &Context<'_>, user: &User) -> Check {
    const ID: &str = "signins.recent";
    let since = crate::time::timestamp(ctx.now - 86_400);
    let filter = format!("userId eq '{}' and createdDateTime ge {since}", user.id.replace('\'', "''"));
    let path = format!("/v1.0/auditLogs/signIns?$filter={}&$top=500", percent(&filter));
    let records = match ctx.graph.get_all(&path) {
        Ok(r) => r,
        Err(e) => return skipped(ID, &e, "AuditLog.Read.All (and an Entra ID P1 or P2 tenant)"),
    };
    if records.is_empty() {
        return Check::warn(
            ID,
            format!("no sign-in attempt of the account since {since}: none reached Entra ID, which points at the network or the user name on the device"),
            ctx.rule_fix(RULE_NO_ATTEMPTS),
        );
    }
    judge_sign_ins(&ctx.rules, &user.upn, &records)
}

/// Run sign-in records through the scan (the Entra sign-in reader, then the rules).
pub fn judge_sign_ins(rules: &RuleSet, upn: &str, records: &[Value]) -> Check {
    const ID: &str = "signins.recent";
    let count = records.len();
    let bytes = serde_json::to_vec(&serde_json::json!({ "value": records })).unwrap_or_default();
    let source =
        uctriage_scan::Source::Bytes { name: format!("graph auditLogs/signIns for {upn}"), bytes: bytes.into() };
    let mut opts = uctriage_scan::ScanOptions::default();
    opts.read.format = Some("entra-signins".into());
    let report = match uctriage_scan::scan(&[source], rules, &opts, &mut |_, _| {}) {
        Ok(r) => r,
        Err(e) => return Check::skip(ID, format!("skipped: the sign-in records could not be read: {e}")),
    };
    let Some(f) = report.findings.iter().find(|f| f.severity <= Severity::Warning) else {
        return Check::pass(
            ID,
            format!("{} in the last 24 hours; scan's rules find no problem in them", plural(count, "sign-in")),
        );
    };
    let codes: Vec<String> = f.codes.iter().map(ToString::to_string).collect();
    let mut detail = format!(
        "{} in the last 24 hours; scan finds: {} ({}, seen {}, rule {})",
        plural(count, "sign-in"),
        f.title,
        codes.join(", "),
        if f.count == 1 { "once".to_owned() } else { format!("{} times", f.count) },
        f.rule
    );
    // A sign-in log alone carries no room evidence, so the person-level rule speaks; the room
    // rule for the same codes is what a room's bundle would get, and its words are used.
    let room_rule = rules
        .rules
        .iter()
        .filter(|r| r.raw.id.starts_with("rooms."))
        .find(|r| r.raw.codes.iter().any(|c| codes.contains(c)));
    let (severity, fix) = match room_rule {
        Some(r) if r.raw.id != f.rule => {
            detail.push_str(&format!("; for a room's account: {} (rule {})", r.raw.title, r.raw.id));
            (r.raw.severity, rule_fix(rules, &r.raw.id))
        }
        _ => (f.severity, format!("{}\n(scan reports this as {}: {})", f.fix.join("\n"), f.rule, f.title)),
    };
    if severity == Severity::Warning {
        Check::warn(ID, detail, fix)
    } else {
        Check::fail(ID, detail, fix)
    }
}

/// Sign in as the account with its password and report Entra ID's answer.
pub fn live_sign_in(ctx: &Context<'_>, login: &Login<'_>, upn: &str, password: &str) -> Check {
    const ID: &str = "signin.password";
    match login.as_account(upn, password) {
        Ok(Ok(())) => Check::pass(ID, "signed in as the account with the password given: Entra ID issued a token"),
        Ok(Err(answer)) => {
            let code = answer
                .split(|c: char| !c.is_ascii_alphanumeric())
                .find(|w| w.starts_with("AADSTS") && w.len() > 6)
                .map(str::to_owned);
            let fix = match code.as_deref() {
                Some("AADSTS50126") => ctx.rule_fix(RULE_CREDENTIALS),
                Some("AADSTS50076" | "AADSTS50079") => ctx.rule_fix(RULE_MFA),
                Some("AADSTS53003") => ctx.rule_fix(RULE_CA),
                Some("AADSTS50055") => ctx.rule_fix(RULE_PASSWORD),
                Some(c) => fixes::for_code(c, "Read the AADSTS code with uctriage explain"),
                None => "Read the answer's error with uctriage explain".to_owned(),
            };
            Check::fail(ID, format!("Entra ID refused the sign-in: {answer}"), fix)
        }
        Err(e) => Check::skip(ID, format!("skipped: {e}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_rule_used_exists() {
        let rules = RuleSet::builtin();
        for id in RULES_USED {
            let rule = rules.get(id).unwrap_or_else(|| panic!("no rule {id}"));
            assert!(!rule.raw.fix.is_empty(), "{id} has no fix");
            assert!(rule_fix(&rules, id).starts_with(&rule.raw.fix[0]));
        }
    }

    #[test]
    fn skus_are_named() {
        assert_eq!(sku("Microsoft_Teams_Rooms_Pro").1, SkuKind::Room);
        assert_eq!(sku("Microsoft_Teams_Rooms_Basic_without_Audio_Conferencing").1, SkuKind::Room);
        assert_eq!(sku("MEETING_ROOM_NOAUDIOCONF").1, SkuKind::Room);
        assert!(sku("MEETING_ROOM_GOV").0.ends_with("government"));
        assert_eq!(sku("MCOCAP").1, SkuKind::SharedDevice);
        assert_eq!(sku("ENTERPRISEPACK").1, SkuKind::Other);
    }

    #[test]
    fn grant_controls() {
        let p = |g: &str| serde_json::from_str::<Value>(&format!(r#"{{"grantControls": {g}}}"#)).unwrap();
        assert_eq!(judge_grant(&p(r#"{"operator":"OR","builtInControls":["block"]}"#)).0, Status::Fail);
        assert_eq!(judge_grant(&p(r#"{"operator":"OR","builtInControls":["mfa"]}"#)).0, Status::Fail);
        assert_eq!(judge_grant(&p(r#"{"operator":"OR","builtInControls":["mfa","compliantDevice"]}"#)).0, Status::Warn);
        assert_eq!(
            judge_grant(&p(r#"{"operator":"AND","builtInControls":["mfa","compliantDevice"]}"#)).0,
            Status::Fail
        );
        assert_eq!(judge_grant(&p(r#"{"operator":"OR","builtInControls":[],"termsOfUse":["t"]}"#)).0, Status::Fail);
        assert_eq!(judge_grant(&p("null")).0, Status::Pass);
    }
}
