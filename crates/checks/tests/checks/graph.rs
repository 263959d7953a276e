//! A stand-in for Microsoft's sign-in and Graph endpoints: an HTTPS server on 127.0.0.1 (a
//! certificate from the test CA, trusted by the command through `--ca-file`) that answers from a
//! small tenant model, in the shapes of Graph's reference: single objects, listings under `value`
//! with `@odata.nextLink` paging, errors as `{"error": {"code", "message"}}`, OAuth errors as
//! `{"error", "error_description", "error_codes"}`. It records every request it answers.

use std::collections::{HashMap, VecDeque};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Duration;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use rustls::{ServerConfig, ServerConnection, StreamOwned};
use serde_json::{json, Value};

use crate::pki::{Pki, TempDir};

/// The token the server issues and accepts.
pub const TOKEN: &str = "test-graph-token";
/// The client secret app credentials must present.
pub const SECRET: &str = "test-client-secret";

#[derive(Debug)]
pub struct Request {
    pub method: String,
    /// The path, without the query.
    pub path: String,
    /// The query, percent-decoded.
    pub query: String,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Request {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    fn form(&self) -> HashMap<String, String> {
        self.body.split('&').filter_map(|kv| kv.split_once('=')).map(|(k, v)| (decode(k), decode(v))).collect()
    }

    /// A query parameter's value (`$skiptoken`).
    fn param(&self, name: &str) -> Option<&str> {
        self.query.split('&').find_map(|kv| kv.split_once('=').filter(|(k, _)| *k == name).map(|(_, v)| v))
    }
}

fn decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' && i + 2 < b.len() {
            if let Ok(v) = u8::from_str_radix(std::str::from_utf8(&b[i + 1..i + 3]).unwrap_or("zz"), 16) {
                out.push(v);
                i += 3;
                continue;
            }
        }
        out.push(if b[i] == b'+' { b' ' } else { b[i] });
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[derive(Debug)]
pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

fn json_answer(status: u16, v: &Value) -> Response {
    Response { status, headers: vec![("Content-Type".into(), "application/json".into())], body: v.to_string() }
}

fn graph_error(status: u16, code: &str, message: &str) -> Response {
    json_answer(
        status,
        &json!({"error": {"code": code, "message": message, "innerError": {"request-id": "00000000-0000-0000-0000-000000000001"}}}),
    )
}

fn oauth_error(error: &str, code: u32, text: &str) -> Response {
    json_answer(
        400,
        &json!({"error": error, "error_description": format!("AADSTS{code}: {text}\r\nTrace ID: 0\r\nCorrelation ID: 0"), "error_codes": [code]}),
    )
}

/// The tenant the server answers for. Tests build one, change what they need, then serve it.
#[derive(Debug, Clone, Default)]
pub struct Tenant {
    pub users: Vec<Value>,
    /// Groups and roles per user id (transitiveMemberOf).
    pub member_of: HashMap<String, Vec<Value>>,
    pub policies: Vec<Value>,
    pub security_defaults: bool,
    pub per_user_mfa: HashMap<String, String>,
    pub methods: HashMap<String, Vec<Value>>,
    /// passwordValidityPeriodInDays per domain.
    pub domains: HashMap<String, i64>,
    pub licences: HashMap<String, Vec<Value>>,
    /// Users with a mailbox.
    pub mailboxes: Vec<String>,
    /// mailboxSettings of others answers 403 (a delegated token); the places listing is used.
    pub mailbox_settings_forbidden: bool,
    pub rooms: Vec<Value>,
    pub sign_ins: HashMap<String, Vec<Value>>,
    /// Path prefixes answered 403.
    pub forbidden: Vec<String>,
    /// Path prefixes answered with a body that is not JSON.
    pub malformed: Vec<String>,
    /// Path prefix and how many times it answers 429 (Retry-After: 1) before answering.
    pub throttled: Vec<(String, usize)>,
    /// Listing page size.
    pub page_size: usize,
    /// Device-code flow: the token endpoint's answers in order (`authorization_pending`,
    /// `slow_down`, `authorization_declined`, `expired_token`, or `ok`).
    pub device_answers: VecDeque<String>,
    /// The app certificate (DER) whose key must sign client assertions.
    pub app_certificate: Option<Vec<u8>>,
    /// Passwords for the resource owner password grant.
    pub passwords: HashMap<String, String>,
    /// The authorization code the browser flow brings back, and the PKCE challenge it was
    /// asked with (the verifier must hash to it).
    pub auth_code: Option<(String, String)>,
    /// The tenant's subscriptions (`/subscribedSkus`).
    pub subscribed: Vec<Value>,
    /// Next links point at another host (the token must not follow them).
    pub foreign_next_links: bool,
}

pub const ROOM: &str = "room1@contoso.test";
pub const ROOM_ID: &str = "6c3b1f5e-1111-4aaa-8bbb-000000000001";

/// An ISO time `days` ago (fractions of days allowed).
pub fn ago(days: f64) -> String {
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64;
    let t = now - (days * 86_400.0) as i64;
    iso(t)
}

fn iso(t: i64) -> String {
    let days = t.div_euclid(86_400);
    let secs = t.rem_euclid(86_400);
    // Civil from days (proleptic Gregorian).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!("{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z", secs / 3600, secs / 60 % 60, secs % 60)
}

/// A sign-in record as Graph's signIn resource has it.
pub fn sign_in(user_id: &str, upn: &str, error_code: u32, reason: &str, hours_ago: f64) -> Value {
    json!({
        "id": format!("si-{error_code}-{}", (hours_ago * 100.0) as i64),
        "createdDateTime": ago(hours_ago / 24.0),
        "userDisplayName": "Room 1",
        "userPrincipalName": upn,
        "userId": user_id,
        "appId": "1fec8e78-bce4-4aaf-ab1b-5451cc387264",
        "appDisplayName": "Microsoft Teams",
        "ipAddress": "203.0.113.10",
        "clientAppUsed": "Mobile Apps and Desktop clients",
        "correlationId": "0c2f6a8e-2222-4ccc-9ddd-000000000001",
        "conditionalAccessStatus": if error_code == 53003 { "failure" } else { "notApplied" },
        "isInteractive": true,
        "resourceDisplayName": "Microsoft Teams Services",
        "status": {"errorCode": error_code, "failureReason": reason, "additionalDetails": null},
        "deviceDetail": {"deviceId": "", "displayName": "MTR-ROOM1", "operatingSystem": "Windows10", "browser": ""},
        "location": {"city": "Oslo", "countryOrRegion": "NO"}
    })
}

impl Tenant {
    /// One healthy room account: member, enabled, no MFA, password never expires, Teams Rooms
    /// Pro, a mailbox, successful sign-ins; one MFA policy for staff it is not part of.
    pub fn healthy() -> Tenant {
        let mut t = Tenant { page_size: 100, ..Tenant::default() };
        t.users.push(json!({
            "id": ROOM_ID,
            "userPrincipalName": ROOM,
            "displayName": "Room 1",
            "accountEnabled": true,
            "userType": "Member",
            "mail": ROOM,
            "passwordPolicies": "DisablePasswordExpiration",
            "lastPasswordChangeDateTime": ago(200.0),
            "onPremisesSyncEnabled": null
        }));
        t.member_of.insert(
            ROOM_ID.into(),
            vec![
                json!({"@odata.type": "#microsoft.graph.group", "id": "g-rooms", "displayName": "Meeting rooms"}),
                json!({"@odata.type": "#microsoft.graph.group", "id": "g-all", "displayName": "Everyone at Contoso"}),
            ],
        );
        t.policies.push(policy("p-staff-mfa", "Staff must use MFA", "enabled", &["g-staff"], &[], &["mfa"]));
        t.per_user_mfa.insert(ROOM_ID.into(), "disabled".into());
        t.methods.insert(
            ROOM_ID.into(),
            vec![json!({"@odata.type": "#microsoft.graph.passwordAuthenticationMethod", "id": "28c10230-6103-485e-b985-444c60001490"})],
        );
        t.domains.insert("contoso.test".into(), 2_147_483_647);
        t.licences.insert(ROOM_ID.into(), vec![licence("Microsoft_Teams_Rooms_Pro", "Success")]);
        t.mailboxes.push(ROOM_ID.into());
        t.rooms.push(json!({"id": "r1", "displayName": "Room 1", "emailAddress": ROOM, "capacity": 8}));
        t.sign_ins.insert(
            ROOM_ID.into(),
            vec![sign_in(ROOM_ID, ROOM, 0, "Other.", 2.0), sign_in(ROOM_ID, ROOM, 0, "Other.", 1.0)],
        );
        t
    }

    pub fn user_mut(&mut self, id: &str) -> &mut Value {
        self.users.iter_mut().find(|u| u["id"] == id).expect("user in the tenant")
    }

    /// Start serving; returns the server's base URL and the CA file that trusts it.
    pub fn serve(self) -> Server {
        Server::start(self)
    }

    fn answer(state: &Mutex<Tenant>, req: &Request, base: &str) -> Response {
        let mut t = state.lock().unwrap();
        // Sign-in endpoints.
        if req.path.ends_with("/oauth2/v2.0/devicecode") {
            return json_answer(
                200,
                &json!({"device_code": "device-code-1", "user_code": "TEST-CODE", "verification_uri": "https://example.test/devicelogin",
                        "expires_in": 900, "interval": 1, "message": "Go to https://example.test/devicelogin and type TEST-CODE."}),
            );
        }
        if req.path.ends_with("/oauth2/v2.0/token") {
            return t.token(req);
        }
        // Graph.
        if req.header("authorization") != Some(&format!("Bearer {TOKEN}")) {
            return graph_error(401, "InvalidAuthenticationToken", "The access token is missing or not valid.");
        }
        if let Some(entry) = t.throttled.iter_mut().find(|(p, n)| req.path.starts_with(p.as_str()) && *n > 0) {
            entry.1 -= 1;
            let mut r = graph_error(429, "TooManyRequests", "Too many requests; wait and try again.");
            r.headers.push(("Retry-After".into(), "1".into()));
            return r;
        }
        if t.forbidden.iter().any(|p| req.path.starts_with(p.as_str())) {
            return graph_error(
                403,
                "Authorization_RequestDenied",
                "The token does not carry the permission this operation needs.",
            );
        }
        if t.malformed.iter().any(|p| req.path.starts_with(p.as_str())) {
            return Response {
                status: 200,
                headers: vec![("Content-Type".into(), "application/json".into())],
                body: "{\"value\": [ {\"skuPartNumber\": ".into(),
            };
        }
        t.graph(req, base)
    }

    fn token(&mut self, req: &Request) -> Response {
        let form = req.form();
        let ok = || json_answer(200, &json!({"token_type": "Bearer", "expires_in": 3599, "access_token": TOKEN}));
        match form.get("grant_type").map(String::as_str) {
            Some("client_credentials") => {
                if form.get("client_secret").map(String::as_str) == Some(SECRET) {
                    return ok();
                }
                if let (Some(a), Some(cert)) = (form.get("client_assertion"), &self.app_certificate) {
                    if verify_assertion(a, cert, &form["client_id"]) {
                        return ok();
                    }
                    return oauth_error("invalid_client", 700_027, "The client assertion's signature does not verify.");
                }
                oauth_error("invalid_client", 7_000_215, "The client secret given is not valid.")
            }
            Some("urn:ietf:params:oauth:grant-type:device_code") => match self.device_answers.pop_front().as_deref() {
                Some("ok") | None => ok(),
                Some(e @ "authorization_pending") => {
                    oauth_error(e, 70_016, "The user has not finished signing in yet.")
                }
                Some(e @ "slow_down") => oauth_error(e, 70_016, "Poll less often."),
                Some(e @ "authorization_declined") => oauth_error(e, 70_000, "The user declined the sign-in."),
                Some(e @ "expired_token") => oauth_error(e, 70_020, "The device code has expired."),
                Some(other) => oauth_error(other, 90_000, "Unexpected."),
            },
            Some("authorization_code") => match &self.auth_code {
                Some((code, challenge))
                    if form.get("code") == Some(code)
                        && form.get("code_verifier").is_some_and(|v| {
                            URL_SAFE_NO_PAD.encode(ring::digest::digest(&ring::digest::SHA256, v.as_bytes()))
                                == *challenge
                        }) =>
                {
                    ok()
                }
                _ => oauth_error("invalid_grant", 501_481, "The code verifier does not match the code challenge."),
            },
            Some("password") => {
                let user = form.get("username").cloned().unwrap_or_default();
                if self.passwords.get(&user) == form.get("password") {
                    ok()
                } else {
                    oauth_error("invalid_grant", 50_126, "The user name or password given is not valid.")
                }
            }
            _ => oauth_error("unsupported_grant_type", 70_003, "This grant type is not supported here."),
        }
    }

    /// A listing under `value`, `page_size` items a page, with a next link while more remain.
    fn list(&self, req: &Request, base: &str, items: &[Value]) -> Response {
        let start: usize = req.param("$skiptoken").and_then(|s| s.parse().ok()).unwrap_or(0);
        let size = self.page_size.max(1);
        let page: Vec<Value> = items.iter().skip(start).take(size).cloned().collect();
        let mut v = json!({"@odata.context": format!("{base}/v1.0/$metadata#collection"), "value": page});
        if start + size < items.len() {
            let host = if self.foreign_next_links { "https://elsewhere.example.test" } else { base };
            v["@odata.nextLink"] = json!(format!("{host}{}?$skiptoken={}", req.path, start + size));
        }
        json_answer(200, &v)
    }

    fn user(&self, key: &str) -> Option<&Value> {
        self.users
            .iter()
            .find(|u| u["id"] == key || u["userPrincipalName"].as_str().is_some_and(|p| p.eq_ignore_ascii_case(key)))
    }

    fn graph(&self, req: &Request, base: &str) -> Response {
        let p = req.path.as_str();
        let parts: Vec<&str> = p.trim_start_matches('/').split('/').collect();
        let not_found = || graph_error(404, "Request_ResourceNotFound", &format!("Resource '{p}' was not found."));
        match parts.as_slice() {
            ["v1.0", "users"] => {
                // $filter=mail eq 'x'
                let want =
                    req.param("$filter").and_then(|f| f.strip_prefix("mail eq '")).map(|s| s.trim_end_matches('\''));
                let found: Vec<Value> = self
                    .users
                    .iter()
                    .filter(|u| want.is_some_and(|w| u["mail"].as_str().is_some_and(|m| m.eq_ignore_ascii_case(w))))
                    .cloned()
                    .collect();
                self.list(req, base, &found)
            }
            ["v1.0", "users", key] => self.user(&decode(key)).map_or_else(not_found, |u| json_answer(200, u)),
            ["beta", "users", id, "authentication", "requirements"] => match self.per_user_mfa.get(*id) {
                Some(s) => json_answer(200, &json!({"perUserMfaState": s})),
                None => not_found(),
            },
            ["v1.0", "users", id, "authentication", "methods"] => {
                self.list(req, base, self.methods.get(*id).map_or(&[], Vec::as_slice))
            }
            ["v1.0", "users", id, "transitiveMemberOf"] => {
                self.list(req, base, self.member_of.get(*id).map_or(&[], Vec::as_slice))
            }
            ["v1.0", "users", id, "licenseDetails"] => {
                self.list(req, base, self.licences.get(*id).map_or(&[], Vec::as_slice))
            }
            ["v1.0", "users", id, "mailboxSettings"] => {
                if self.mailbox_settings_forbidden {
                    graph_error(403, "ErrorAccessDenied", "Access is denied. Check credentials and try again.")
                } else if self.mailboxes.iter().any(|m| m == id) {
                    json_answer(
                        200,
                        &json!({"timeZone": "W. Europe Standard Time", "userPurpose": "room", "language": {"locale": "en-US"}}),
                    )
                } else {
                    graph_error(
                        404,
                        "MailboxNotEnabledForRESTAPI",
                        "The mailbox is either inactive, soft-deleted, or is hosted on-premise.",
                    )
                }
            }
            ["v1.0", "policies", "identitySecurityDefaultsEnforcementPolicy"] => json_answer(
                200,
                &json!({"id": "00000000-0000-0000-0000-000000000005", "displayName": "Security Defaults", "isEnabled": self.security_defaults}),
            ),
            ["v1.0", "identity", "conditionalAccess", "policies"] => self.list(req, base, &self.policies),
            ["v1.0", "domains", name] => match self.domains.get(*name) {
                Some(days) => {
                    json_answer(200, &json!({"id": name, "passwordValidityPeriodInDays": days, "isVerified": true}))
                }
                None => not_found(),
            },
            ["v1.0", "subscribedSkus"] => self.list(req, base, &self.subscribed),
            ["v1.0", "places", "microsoft.graph.room"] => self.list(req, base, &self.rooms),
            ["v1.0", "auditLogs", "signIns"] => {
                let filter = req.param("$filter").unwrap_or("");
                let id = filter.strip_prefix("userId eq '").and_then(|s| s.split('\'').next()).unwrap_or("");
                if !filter.contains("createdDateTime ge ") {
                    return graph_error(400, "BadRequest", "Expected a time filter.");
                }
                self.list(req, base, self.sign_ins.get(id).map_or(&[], Vec::as_slice))
            }
            _ => not_found(),
        }
    }
}

/// A Conditional Access policy including `groups` (or all users when `groups` is `["All"]`),
/// excluding `exclude_groups`, with these built-in grant controls, for all apps.
pub fn policy(id: &str, name: &str, state: &str, groups: &[&str], exclude_groups: &[&str], controls: &[&str]) -> Value {
    let (users, groups) = if groups == ["All"] { (vec!["All"], vec![]) } else { (vec![], groups.to_vec()) };
    json!({
        "id": id,
        "displayName": name,
        "state": state,
        "conditions": {
            "clientAppTypes": ["all"],
            "applications": {"includeApplications": ["All"], "excludeApplications": []},
            "users": {"includeUsers": users, "excludeUsers": [], "includeGroups": groups, "excludeGroups": exclude_groups,
                      "includeRoles": [], "excludeRoles": []},
            "platforms": null,
            "locations": {"includeLocations": ["All"], "excludeLocations": ["AllTrusted"]}
        },
        "grantControls": {"operator": "OR", "builtInControls": controls, "customAuthenticationFactors": [], "termsOfUse": []},
        "sessionControls": null
    })
}

/// A licenseDetails entry with the Teams service plan in `teams_status`.
pub fn licence(sku: &str, teams_status: &str) -> Value {
    json!({
        "id": format!("lic-{sku}"),
        "skuId": "00000000-0000-0000-0000-00000000abcd",
        "skuPartNumber": sku,
        "servicePlans": [
            {"servicePlanId": "57ff2da0-773e-42df-b2af-ffb7a2317929", "servicePlanName": "TEAMS1", "provisioningStatus": teams_status, "appliesTo": "User"},
            {"servicePlanId": "0feaeb32-d00e-4d66-bd5a-43b5b83db82c", "servicePlanName": "MCOSTANDARD", "provisioningStatus": "Success", "appliesTo": "User"}
        ]
    })
}

/// Check a client assertion: RS256 over header.claims with the key of `cert`, for `client_id`.
fn verify_assertion(jwt: &str, cert: &[u8], client_id: &str) -> bool {
    let mut parts = jwt.split('.');
    let (Some(h), Some(c), Some(s), None) = (parts.next(), parts.next(), parts.next(), parts.next()) else {
        return false;
    };
    let Ok(sig) = URL_SAFE_NO_PAD.decode(s) else { return false };
    let Ok((_, x509)) = x509_parser::parse_x509_certificate(cert) else { return false };
    let key = ring::signature::UnparsedPublicKey::new(
        &ring::signature::RSA_PKCS1_2048_8192_SHA256,
        x509.public_key().subject_public_key.data.to_vec(),
    );
    if key.verify(format!("{h}.{c}").as_bytes(), &sig).is_err() {
        return false;
    }
    let header: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(h).unwrap_or_default()).unwrap_or(Value::Null);
    let claims: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(c).unwrap_or_default()).unwrap_or(Value::Null);
    let thumb = URL_SAFE_NO_PAD.encode(ring::digest::digest(&ring::digest::SHA1_FOR_LEGACY_USE_ONLY, cert));
    header["alg"] == "RS256"
        && header["x5t"] == thumb.as_str()
        && claims["iss"] == client_id
        && claims["sub"] == client_id
        && claims["aud"].as_str().is_some_and(|a| a.ends_with("/oauth2/v2.0/token"))
}

/// A running stand-in server.
pub struct Server {
    pub base: String,
    pub ca: PathBuf,
    state: Arc<Mutex<Tenant>>,
    log: Arc<Mutex<Vec<String>>>,
    _dir: TempDir,
}

impl Server {
    fn start(tenant: Tenant) -> Server {
        let pki = Pki::new("Graph Stand-in");
        let dir = TempDir::new();
        let ca = pki.root_file(&dir);
        let (chain, key) = pki.leaf_from_root(&["localhost", "127.0.0.1"]);
        let config = Arc::new(
            ServerConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
                .with_safe_default_protocol_versions()
                .unwrap()
                .with_no_client_auth()
                .with_single_cert(chain, key)
                .unwrap(),
        );
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let base = format!("https://127.0.0.1:{}", listener.local_addr().unwrap().port());
        let state = Arc::new(Mutex::new(tenant));
        let log = Arc::new(Mutex::new(Vec::new()));
        let (st, lg, b) = (state.clone(), log.clone(), base.clone());
        thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let (config, st, lg, b) = (config.clone(), st.clone(), lg.clone(), b.clone());
                thread::spawn(move || {
                    let _ = stream.set_read_timeout(Some(Duration::from_secs(30)));
                    let Ok(conn) = ServerConnection::new(config) else { return };
                    let tls = StreamOwned::new(conn, stream);
                    serve_connection(tls, &st, &lg, &b);
                });
            }
        });
        Server { base, ca, state, log, _dir: dir }
    }

    /// The requests answered so far, as `METHOD path?query`.
    pub fn requests(&self) -> Vec<String> {
        self.log.lock().unwrap().clone()
    }

    /// How many requests went to paths starting with `prefix`.
    pub fn count(&self, prefix: &str) -> usize {
        self.requests().iter().filter(|r| r.split_once(' ').is_some_and(|(_, p)| p.starts_with(prefix))).count()
    }

    pub fn tenant(&self) -> std::sync::MutexGuard<'_, Tenant> {
        self.state.lock().unwrap()
    }

    /// The flags that point `check account` here with app credentials (the secret in `SECRET_VAR`).
    pub fn flags(&self) -> Vec<String> {
        static SET: std::sync::Once = std::sync::Once::new();
        SET.call_once(|| std::env::set_var(SECRET_VAR, SECRET));
        vec![
            "--login-url".into(),
            self.base.clone(),
            "--graph-url".into(),
            self.base.clone(),
            "--ca-file".into(),
            self.ca.to_string_lossy().into_owned(),
            "--tenant".into(),
            "contoso.test".into(),
            "--client-id".into(),
            "11111111-2222-3333-4444-555555555555".into(),
            "--client-secret-env".into(),
            SECRET_VAR.into(),
            "--request-timeout".into(),
            "10".into(),
        ]
    }
}

/// The environment variable the tests keep the client secret in.
pub const SECRET_VAR: &str = "UCTRIAGE_TEST_GRAPH_SECRET";

fn serve_connection(
    mut tls: StreamOwned<ServerConnection, std::net::TcpStream>,
    state: &Mutex<Tenant>,
    log: &Mutex<Vec<String>>,
    base: &str,
) {
    loop {
        let Some(req) = read_request(&mut tls) else { return };
        log.lock().unwrap().push(format!(
            "{} {}{}",
            req.method,
            req.path,
            if req.query.is_empty() { String::new() } else { format!("?{}", req.query) }
        ));
        let res = Tenant::answer(state, &req, base);
        let mut head = format!("HTTP/1.1 {} X\r\nContent-Length: {}\r\n", res.status, res.body.len());
        for (k, v) in &res.headers {
            head = head + k + ": " + v + "\r\n";
        }
        head.push_str("\r\n");
        if tls
            .write_all(head.as_bytes())
            .and_then(|()| tls.write_all(res.body.as_bytes()))
            .and_then(|()| tls.flush())
            .is_err()
        {
            return;
        }
    }
}

fn read_request(tls: &mut StreamOwned<ServerConnection, std::net::TcpStream>) -> Option<Request> {
    let mut reader = BufReader::new(tls);
    let mut line = String::new();
    if reader.read_line(&mut line).ok()? == 0 {
        return None;
    }
    let mut words = line.split_whitespace();
    let method = words.next()?.to_owned();
    let target = words.next()?.to_owned();
    let mut headers = Vec::new();
    loop {
        let mut h = String::new();
        if reader.read_line(&mut h).ok()? == 0 {
            return None;
        }
        let h = h.trim_end();
        if h.is_empty() {
            break;
        }
        if let Some((k, v)) = h.split_once(':') {
            headers.push((k.trim().to_owned(), v.trim().to_owned()));
        }
    }
    let len: usize = headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("content-length"))
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or(0);
    let mut body = vec![0u8; len];
    reader.read_exact(&mut body).ok()?;
    let (path, query) = match target.split_once('?') {
        Some((p, q)) => (
            p.to_owned(),
            q.split('&')
                .map(|kv| match kv.split_once('=') {
                    Some((k, v)) => format!("{}={}", decode(k), decode(v)),
                    None => decode(kv),
                })
                .collect::<Vec<_>>()
                .join("&"),
        ),
        None => (target.clone(), String::new()),
    };
    Some(Request { method, path, query, headers, body: String::from_utf8_lossy(&body).into_owned() })
}
