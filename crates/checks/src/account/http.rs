//! The HTTP side of `check account`: one blocking ureq agent (rustls with ring) with a timeout on
//! every request, the Microsoft Graph reader on top of it (paging, throttling, permission
//! refusals) and form posts to the token endpoint.

use std::fmt;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;

use crate::Error;

/// Retries of one request answered 429 or 503 before the answer stands.
pub const MAX_RETRIES: u32 = 3;
/// Longest pause taken for one Retry-After, in seconds.
pub const MAX_RETRY_AFTER: u64 = 30;
/// Most pages followed through `@odata.nextLink` for one listing.
pub const MAX_PAGES: usize = 200;
/// Largest answer body read.
const MAX_BODY: u64 = 64 << 20;

/// A blocking HTTPS client with a per-request timeout.
#[derive(Debug, Clone)]
pub struct Http {
    agent: ureq::Agent,
}

/// An answer: its status, its body, and the Retry-After header when there was one.
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub body: String,
    pub retry_after: Option<String>,
}

impl Answer {
    /// The body as JSON, or an error naming `what` when it is not.
    pub fn json(&self, what: &str) -> Result<Value, GraphError> {
        serde_json::from_str(&self.body).map_err(|e| GraphError::Json { what: what.to_owned(), message: e.to_string() })
    }
}

/// Why a Graph read gave no usable answer.
#[derive(Debug, Clone)]
pub enum GraphError {
    /// No answer at all: connection refused, name not resolved, TLS failed, timed out.
    Transport { what: String, message: String },
    /// 403: the token lacks a permission (or the tenant lacks a licence the API needs).
    Forbidden { what: String, code: String, message: String },
    /// 404.
    NotFound { what: String, code: String, message: String },
    /// 401: the token was refused.
    Unauthorized { what: String, message: String },
    /// Any other status outside 2xx (after retries for 429 and 503).
    Status { what: String, status: u16, code: String, message: String },
    /// The answer is not the JSON expected.
    Json { what: String, message: String },
    /// A next link to another host, not followed (the token goes to the Graph host only).
    ForeignLink { what: String, link: String },
}

impl fmt::Display for GraphError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            GraphError::Transport { what, message } => write!(f, "{what}: no answer ({message})"),
            GraphError::Forbidden { what, code, message } => write!(f, "{what}: 403 {code}: {message}"),
            GraphError::NotFound { what, code, message } => write!(f, "{what}: 404 {code}: {message}"),
            GraphError::Unauthorized { what, message } => write!(f, "{what}: 401, the token was refused: {message}"),
            GraphError::Status { what, status, code, message } => write!(f, "{what}: {status} {code}: {message}"),
            GraphError::Json { what, message } => write!(f, "{what}: the answer is not the JSON expected ({message})"),
            GraphError::ForeignLink { what, link } => {
                write!(
                    f,
                    "{what}: the next page is on another host ({link}); not followed, the token goes to Graph only"
                )
            }
        }
    }
}

/// Graph's error object (`{"error": {"code": …, "message": …}}`), or the start of the body.
fn graph_error_of(body: &str) -> (String, String) {
    let v: Value = serde_json::from_str(body).unwrap_or(Value::Null);
    let code = v["error"]["code"].as_str().unwrap_or("").to_owned();
    let message = match v["error"]["message"].as_str() {
        Some(m) => m.to_owned(),
        None => body.chars().take(200).collect(),
    };
    (code, message)
}

impl Http {
    /// A client whose every request gives up after `timeout`; `ca_file` (PEM) replaces the
    /// Mozilla roots as the trusted CAs (a lab or a test server).
    pub fn new(timeout: Duration, ca_file: Option<&Path>) -> Result<Http, Error> {
        let mut tls = ureq::tls::TlsConfig::builder().provider(ureq::tls::TlsProvider::Rustls);
        if let Some(path) = ca_file {
            let pem = std::fs::read(path).map_err(|e| Error::read(path, e))?;
            let mut certs = Vec::new();
            for item in ureq::tls::parse_pem(&pem) {
                match item {
                    Ok(ureq::tls::PemItem::Certificate(c)) => certs.push(c),
                    Ok(_) => {}
                    Err(e) => return Err(Error::parse(path, format!("not a PEM file of certificates: {e}"))),
                }
            }
            if certs.is_empty() {
                return Err(Error::parse(path, "holds no PEM certificate"));
            }
            tls = tls.root_certs(ureq::tls::RootCerts::Specific(Arc::new(certs)));
        }
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(timeout))
            .tls_config(tls.build())
            .user_agent(concat!("uctriage/", env!("CARGO_PKG_VERSION")))
            .build()
            .into();
        Ok(Http { agent })
    }

    /// GET `url` with a bearer token.
    pub fn get(&self, url: &str, token: &str, extra: &[(&str, &str)]) -> Result<Answer, String> {
        let mut r = self.agent.get(url).header("Authorization", &format!("Bearer {token}"));
        for (k, v) in extra {
            r = r.header(*k, *v);
        }
        Self::finish(r.call())
    }

    /// POST a form (the token endpoints).
    pub fn post_form(&self, url: &str, form: &[(&str, &str)]) -> Result<Answer, String> {
        let body = encode_form(form);
        let r = self.agent.post(url).header("Content-Type", "application/x-www-form-urlencoded");
        Self::finish(r.send(body.as_bytes()))
    }

    fn finish(result: Result<ureq::http::Response<ureq::Body>, ureq::Error>) -> Result<Answer, String> {
        let mut res = result.map_err(|e| e.to_string())?;
        let status = res.status().as_u16();
        let retry_after = res.headers().get("retry-after").and_then(|v| v.to_str().ok()).map(str::to_owned);
        let body = res.body_mut().with_config().limit(MAX_BODY).read_to_string().map_err(|e| e.to_string())?;
        Ok(Answer { status, body, retry_after })
    }
}

/// `application/x-www-form-urlencoded` of name/value pairs.
pub fn encode_form(form: &[(&str, &str)]) -> String {
    form.iter().map(|(k, v)| format!("{}={}", percent(k), percent(v))).collect::<Vec<_>>().join("&")
}

/// Percent-encoding of everything but the unreserved characters (RFC 3986).
pub fn percent(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Seconds to wait for a Retry-After value (delta seconds; an HTTP date or nothing waits 2 s),
/// capped at [`MAX_RETRY_AFTER`].
pub fn retry_after_secs(value: Option<&str>) -> u64 {
    value.and_then(|v| v.trim().parse::<u64>().ok()).unwrap_or(2).min(MAX_RETRY_AFTER)
}

/// Microsoft Graph read with one token.
#[derive(Debug)]
pub struct Graph {
    http: Http,
    /// Scheme and host, e.g. `https://graph.microsoft.com`, no trailing slash.
    base: String,
    token: String,
}

impl Graph {
    pub fn new(http: Http, base: &str, token: String) -> Graph {
        Graph { http, base: base.trim_end_matches('/').to_owned(), token }
    }

    /// GET a path under the Graph base (`/v1.0/users/…`), as JSON.
    pub fn get(&self, path: &str) -> Result<Value, GraphError> {
        let url = format!("{}{path}", self.base);
        self.get_url(&url, path)
    }

    /// GET an absolute URL (a next link), with throttling retries; `what` names it in errors.
    fn get_url(&self, url: &str, what: &str) -> Result<Value, GraphError> {
        let mut tries = 0;
        loop {
            let answer = self
                .http
                .get(url, &self.token, &[("Accept", "application/json")])
                .map_err(|message| GraphError::Transport { what: what.to_owned(), message })?;
            match answer.status {
                200..=299 => return answer.json(what),
                429 | 503 if tries < MAX_RETRIES => {
                    tries += 1;
                    std::thread::sleep(Duration::from_secs(retry_after_secs(answer.retry_after.as_deref())));
                }
                401 => {
                    let (_, message) = graph_error_of(&answer.body);
                    return Err(GraphError::Unauthorized { what: what.to_owned(), message });
                }
                403 => {
                    let (code, message) = graph_error_of(&answer.body);
                    return Err(GraphError::Forbidden { what: what.to_owned(), code, message });
                }
                404 => {
                    let (code, message) = graph_error_of(&answer.body);
                    return Err(GraphError::NotFound { what: what.to_owned(), code, message });
                }
                status => {
                    let (code, mut message) = graph_error_of(&answer.body);
                    if status == 429 || status == 503 {
                        message = format!("{message} (still throttled after {MAX_RETRIES} retries)");
                    }
                    return Err(GraphError::Status { what: what.to_owned(), status, code, message });
                }
            }
        }
    }

    /// Every item of a listing, following `@odata.nextLink` (only to the same Graph host, so the
    /// token goes nowhere else) for at most [`MAX_PAGES`] pages.
    pub fn get_all(&self, path: &str) -> Result<Vec<Value>, GraphError> {
        let mut items = Vec::new();
        let mut page = self.get(path)?;
        for _ in 0..MAX_PAGES {
            match page.get_mut("value").map(Value::take) {
                Some(Value::Array(v)) => items.extend(v),
                _ => {
                    return Err(GraphError::Json {
                        what: path.to_owned(),
                        message: "no \"value\" array in the listing".into(),
                    })
                }
            }
            let Some(next) = page.get("@odata.nextLink").and_then(Value::as_str).map(str::to_owned) else {
                return Ok(items);
            };
            if !next.starts_with(&format!("{}/", self.base)) {
                return Err(GraphError::ForeignLink { what: path.to_owned(), link: next });
            }
            page = self.get_url(&next, path)?;
        }
        Ok(items)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forms_and_percent() {
        assert_eq!(percent("a b/c@d.e~_-"), "a%20b%2Fc%40d.e~_-");
        assert_eq!(encode_form(&[("scope", "x/.default y"), ("k", "é")]), "scope=x%2F.default%20y&k=%C3%A9");
    }

    #[test]
    fn retry_after() {
        assert_eq!(retry_after_secs(Some("1")), 1);
        assert_eq!(retry_after_secs(Some(" 7 ")), 7);
        assert_eq!(retry_after_secs(Some("3600")), MAX_RETRY_AFTER);
        assert_eq!(retry_after_secs(Some("Wed, 21 Oct 2015 07:28:00 GMT")), 2);
        assert_eq!(retry_after_secs(None), 2);
    }

    #[test]
    fn graph_errors_read_their_code() {
        let (code, message) =
            graph_error_of(r#"{"error":{"code":"Authorization_RequestDenied","message":"Insufficient privileges"}}"#);
        assert_eq!(code, "Authorization_RequestDenied");
        assert_eq!(message, "Insufficient privileges");
        let (code, message) = graph_error_of("<html>gateway</html>");
        assert_eq!(code, "");
        assert_eq!(message, "<html>gateway</html>");
    }
}
