//! Getting a Graph token: the device-code flow and the authorization-code flow with PKCE for an
//! admin (delegated, read scopes only), or the client-credentials flow with a secret or a
//! certificate for scheduled runs. Tokens live in memory for one run; nothing is written.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::path::Path;
use std::time::{Duration, Instant};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use ring::rand::{SecureRandom, SystemRandom};
use serde_json::Value;

use super::http::{percent, Http};

/// The delegated Graph permissions the checks read with (all read-only).
pub const DELEGATED_SCOPES: &[&str] = &[
    "User.Read.All",
    "GroupMember.Read.All",
    "Policy.Read.All",
    "UserAuthenticationMethod.Read.All",
    "Domain.Read.All",
    "Organization.Read.All",
    "AuditLog.Read.All",
    "Place.Read.All",
];

/// Longest wait for a browser to come back to the loopback redirect.
const BROWSER_PATIENCE: Duration = Duration::from_secs(300);

/// Why no token was had.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    #[error("{0}")]
    Usage(String),
    #[error("the sign-in service at {url} did not answer: {message}")]
    Transport { url: String, message: String },
    #[error("the sign-in service at {url} answered {what}")]
    Refused { url: String, what: String },
    #[error("{url}: the answer is not the JSON expected ({message})")]
    Json { url: String, message: String },
    #[error("the device code sign-in was declined (authorization_declined)")]
    Declined,
    #[error("the device code expired before the sign-in was completed (expired_token); run the command again")]
    Expired,
    #[error("the browser sign-in did not finish: {0}")]
    Browser(String),
}

/// Where to sign in and with what.
#[derive(Debug)]
pub struct Login<'a> {
    pub http: &'a Http,
    /// `https://login.microsoftonline.com` or a national cloud's host, no trailing slash.
    pub base: &'a str,
    pub tenant: &'a str,
    pub client_id: &'a str,
    /// The Graph resource of the cloud, for scopes (`https://graph.microsoft.com`).
    pub resource: &'a str,
}

impl Login<'_> {
    fn endpoint(&self, what: &str) -> String {
        format!("{}/{}/oauth2/v2.0/{what}", self.base, percent(self.tenant))
    }

    fn delegated_scope(&self) -> String {
        // No offline_access: the run needs no refresh token, and keeps none.
        DELEGATED_SCOPES.iter().map(|p| format!("{}/{p}", self.resource)).collect::<Vec<_>>().join(" ")
    }

    fn post(&self, url: &str, form: &[(&str, &str)]) -> Result<(u16, Value), AuthError> {
        let answer =
            self.http.post_form(url, form).map_err(|message| AuthError::Transport { url: url.to_owned(), message })?;
        let v = serde_json::from_str(&answer.body)
            .map_err(|e| AuthError::Json { url: url.to_owned(), message: e.to_string() })?;
        Ok((answer.status, v))
    }

    /// The access token of a token answer, or the error it names.
    fn token_of(url: &str, status: u16, v: &Value) -> Result<String, AuthError> {
        if (200..300).contains(&status) {
            if let Some(t) = v["access_token"].as_str().filter(|t| !t.is_empty()) {
                return Ok(t.to_owned());
            }
            return Err(AuthError::Json { url: url.to_owned(), message: "no access_token".into() });
        }
        Err(AuthError::Refused { url: url.to_owned(), what: describe_error(status, v) })
    }

    /// The device-code flow (RFC 8628): the code and where to enter it go to `tell`; the token
    /// endpoint is polled at the interval asked, slower after `slow_down`, until the code expires.
    pub fn device_code(&self, tell: &mut dyn Write) -> Result<String, AuthError> {
        let url = self.endpoint("devicecode");
        let scope = self.delegated_scope();
        let (status, v) = self.post(&url, &[("client_id", self.client_id), ("scope", &scope)])?;
        if !(200..300).contains(&status) {
            return Err(AuthError::Refused { url, what: describe_error(status, &v) });
        }
        let device_code = v["device_code"]
            .as_str()
            .ok_or_else(|| AuthError::Json { url: url.clone(), message: "no device_code".into() })?
            .to_owned();
        let message = match v["message"].as_str() {
            Some(m) => m.to_owned(),
            None => format!(
                "To sign in, open {} and enter the code {}",
                v["verification_uri"].as_str().unwrap_or("the verification page"),
                v["user_code"].as_str().unwrap_or("shown by the service")
            ),
        };
        let _ = writeln!(tell, "{message}");
        let mut interval = v["interval"].as_u64().unwrap_or(5).clamp(1, 60);
        let expires = Instant::now() + Duration::from_secs(v["expires_in"].as_u64().unwrap_or(900).min(3600));
        let token_url = self.endpoint("token");
        loop {
            std::thread::sleep(Duration::from_secs(interval));
            if Instant::now() >= expires {
                return Err(AuthError::Expired);
            }
            let (status, v) = self.post(
                &token_url,
                &[
                    ("grant_type", "urn:ietf:params:oauth:grant-type:device_code"),
                    ("client_id", self.client_id),
                    ("device_code", &device_code),
                ],
            )?;
            match v["error"].as_str() {
                None => return Self::token_of(&token_url, status, &v),
                Some("authorization_pending") => {}
                Some("slow_down") => interval += 5,
                Some("authorization_declined" | "access_denied") => return Err(AuthError::Declined),
                Some("expired_token" | "code_expired") => return Err(AuthError::Expired),
                Some(_) => return Err(AuthError::Refused { url: token_url, what: describe_error(status, &v) }),
            }
        }
    }

    /// The authorization-code flow with PKCE (RFC 7636) and a loopback redirect: the sign-in
    /// address goes to `tell` for the admin to open; one request to the loopback port brings the
    /// code back.
    pub fn browser(&self, tell: &mut dyn Write) -> Result<String, AuthError> {
        let listener = TcpListener::bind("127.0.0.1:0")
            .map_err(|e| AuthError::Browser(format!("cannot listen on a loopback port: {e}")))?;
        let port = listener.local_addr().map_err(|e| AuthError::Browser(e.to_string()))?.port();
        let redirect = format!("http://localhost:{port}");
        let verifier = random_token(32)?;
        let state = random_token(16)?;
        let scope = self.delegated_scope();
        let url = format!(
            "{}?client_id={}&response_type=code&redirect_uri={}&response_mode=query&scope={}&state={}&code_challenge={}&code_challenge_method=S256",
            self.endpoint("authorize"),
            percent(self.client_id),
            percent(&redirect),
            percent(&scope),
            state,
            pkce_challenge(&verifier)
        );
        let _ = writeln!(tell, "Open this address in a browser and sign in; this command waits for it:\n{url}");
        let code = wait_for_code(&listener, &state)?;
        let token_url = self.endpoint("token");
        let (status, v) = self.post(
            &token_url,
            &[
                ("grant_type", "authorization_code"),
                ("client_id", self.client_id),
                ("code", &code),
                ("redirect_uri", &redirect),
                ("code_verifier", &verifier),
                ("scope", &scope),
            ],
        )?;
        Self::token_of(&token_url, status, &v)
    }

    /// Client credentials with a secret.
    pub fn client_secret(&self, secret: &str) -> Result<String, AuthError> {
        self.client_credentials(&[("client_secret", secret)])
    }

    /// Client credentials with a certificate: a client assertion signed with its key.
    pub fn client_certificate(&self, cert: &super::jwt::SigningCert) -> Result<String, AuthError> {
        let assertion = cert.assertion(self.client_id, &self.endpoint("token")).map_err(AuthError::Usage)?;
        self.client_credentials(&[
            ("client_assertion_type", "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"),
            ("client_assertion", &assertion),
        ])
    }

    /// The client credentials grant, the app proving itself with `proof`.
    fn client_credentials(&self, proof: &[(&str, &str)]) -> Result<String, AuthError> {
        let url = self.endpoint("token");
        let scope = format!("{}/.default", self.resource);
        let mut form = vec![("grant_type", "client_credentials"), ("client_id", self.client_id)];
        form.extend_from_slice(proof);
        form.push(("scope", &scope));
        let (status, v) = self.post(&url, &form)?;
        Self::token_of(&url, status, &v)
    }

    /// Sign in as the account itself with its password (the resource owner password grant, as a
    /// Teams Rooms device's first sign-in does), for the exact answer Entra ID gives. Returns
    /// `Ok(())` on a token, or the answer's error text (with its AADSTS code).
    pub fn as_account(&self, upn: &str, password: &str) -> Result<Result<(), String>, AuthError> {
        let url = self.endpoint("token");
        let scope = format!("{}/User.Read openid", self.resource);
        let (status, v) = self.post(
            &url,
            &[
                ("grant_type", "password"),
                ("client_id", self.client_id),
                ("username", upn),
                ("password", password),
                ("scope", &scope),
            ],
        )?;
        if (200..300).contains(&status) && v["access_token"].is_string() {
            Ok(Ok(()))
        } else {
            Ok(Err(describe_error(status, &v)))
        }
    }
}

/// `400 invalid_grant: AADSTS50126: …` from an OAuth error answer (first line of the description).
fn describe_error(status: u16, v: &Value) -> String {
    let error = v["error"].as_str().unwrap_or("no error field");
    let description = v["error_description"].as_str().and_then(|d| d.lines().next()).unwrap_or("");
    let mut s = format!("{status} {error}");
    if !description.is_empty() {
        s.push_str(": ");
        s.push_str(description.trim());
    } else if let Some(code) = v["error_codes"].get(0).and_then(Value::as_u64) {
        s.push_str(&format!(": AADSTS{code}"));
    }
    s
}

/// `bytes` random bytes, base64url (a PKCE verifier of 43 characters for 32).
fn random_token(bytes: usize) -> Result<String, AuthError> {
    let mut buf = vec![0u8; bytes];
    SystemRandom::new().fill(&mut buf).map_err(|_| AuthError::Usage("no system randomness".into()))?;
    Ok(URL_SAFE_NO_PAD.encode(buf))
}

/// The S256 code challenge of a verifier.
pub fn pkce_challenge(verifier: &str) -> String {
    URL_SAFE_NO_PAD.encode(ring::digest::digest(&ring::digest::SHA256, verifier.as_bytes()))
}

/// Accept loopback requests until one carries `code` with our `state` (or an error).
fn wait_for_code(listener: &TcpListener, state: &str) -> Result<String, AuthError> {
    let until = Instant::now() + BROWSER_PATIENCE;
    listener.set_nonblocking(true).map_err(|e| AuthError::Browser(e.to_string()))?;
    loop {
        let stream = match listener.accept() {
            Ok((s, _)) => s,
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                if Instant::now() >= until {
                    return Err(AuthError::Browser("no answer from the browser within 5 minutes".into()));
                }
                std::thread::sleep(Duration::from_millis(100));
                continue;
            }
            Err(e) => return Err(AuthError::Browser(e.to_string())),
        };
        let _ = stream.set_nonblocking(false);
        let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
        let mut line = String::new();
        let mut reader = BufReader::new(stream.take(8192));
        if reader.read_line(&mut line).is_err() {
            continue;
        }
        let mut stream = reader.into_inner().into_inner();
        let target = line.split_whitespace().nth(1).unwrap_or("");
        let query = target.split_once('?').map_or("", |(_, q)| q);
        let param = |name: &str| {
            query.split('&').find_map(|kv| kv.split_once('=').filter(|(k, _)| *k == name).map(|(_, v)| unpercent(v)))
        };
        let (page, result) = if let Some(err) = param("error") {
            let d = param("error_description").unwrap_or_default();
            ("Sign-in failed; see the command's output.", Some(Err(AuthError::Browser(format!("{err}: {d}")))))
        } else if param("state").as_deref() != Some(state) {
            ("Not the sign-in this command waits for.", None)
        } else if let Some(code) = param("code") {
            ("Signed in. You can close this page and return to the command.", Some(Ok(code)))
        } else {
            ("No code in this request.", None)
        };
        let _ = write!(
            stream,
            "HTTP/1.1 200 OK\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{page}",
            page.len()
        );
        if let Some(r) = result {
            return r;
        }
    }
}

/// Percent-decoding of a query value (`+` as a space).
fn unpercent(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' if i + 2 < bytes.len() => match (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                (Some(h), Some(l)) => {
                    out.push(h * 16 + l);
                    i += 3;
                    continue;
                }
                _ => out.push(b'%'),
            },
            b'+' => out.push(b' '),
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn hex(b: u8) -> Option<u8> {
    (b as char).to_digit(16).map(|d| d as u8)
}

/// Read a secret from the environment variable `name`, refusing an empty one.
pub fn secret_from_env(name: &str) -> Result<String, AuthError> {
    match std::env::var(name) {
        Ok(s) if !s.is_empty() => Ok(s),
        _ => Err(AuthError::Usage(format!("the environment variable {name} holds no client secret"))),
    }
}

/// Read the account's password from standard input (first line, never echoed or logged).
pub fn password_from(input: &mut dyn BufRead, what: &Path) -> Result<String, AuthError> {
    let mut line = String::new();
    input
        .read_line(&mut line)
        .map_err(|e| AuthError::Usage(format!("cannot read the password from {}: {e}", what.display())))?;
    let p = line.trim_end_matches(['\r', '\n']).to_owned();
    if p.is_empty() {
        return Err(AuthError::Usage("--password-stdin: standard input held no password".into()));
    }
    Ok(p)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pkce_s256_of_the_rfc_example() {
        // RFC 7636 appendix B.
        assert_eq!(
            pkce_challenge("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"),
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        );
    }

    #[test]
    fn query_values_decode() {
        assert_eq!(unpercent("a%20b+c%2F"), "a b c/");
        assert_eq!(unpercent("100%"), "100%");
        assert_eq!(unpercent("%zz"), "%zz");
    }

    #[test]
    fn oauth_errors_read() {
        let v: Value = serde_json::from_str(
            r#"{"error":"invalid_grant","error_description":"AADSTS50126: Error validating credentials.\r\nTrace ID: x","error_codes":[50126]}"#,
        )
        .unwrap();
        assert_eq!(describe_error(400, &v), "400 invalid_grant: AADSTS50126: Error validating credentials.");
        let v: Value = serde_json::from_str(r#"{"error":"invalid_grant","error_codes":[50076]}"#).unwrap();
        assert_eq!(describe_error(400, &v), "400 invalid_grant: AADSTS50076");
    }
}
