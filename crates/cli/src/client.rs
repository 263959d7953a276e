//! Talking to a fleet server: one convention for every command that does (`fleet …`, `push`).
//! The server from `--server` or `UCTRIAGE_SERVER`; the token from `--token-file`, or
//! `UCTRIAGE_TOKEN`, or `--token` (with a warning: the process list shows it).

use std::io::Write;
use std::time::Duration;

use clap::Args;
use serde_json::Value;

use crate::{CliError, Exit};

#[derive(Debug, Clone, Args)]
pub struct ServerArgs {
    /// The fleet server's URL (or UCTRIAGE_SERVER), e.g. http://127.0.0.1:8080.
    #[arg(long, value_name = "URL", global = true)]
    pub server: Option<String>,
    /// A file holding the token (or UCTRIAGE_TOKEN).
    #[arg(long, value_name = "PATH", global = true)]
    pub token_file: Option<std::path::PathBuf>,
    /// The token itself, for a quick try; other users of this machine can see it.
    #[arg(long, value_name = "TOKEN", global = true)]
    pub token: Option<String>,
}

/// How long a request keeps waiting out the server's rate limit before the 429 is the answer.
pub const RATE_LIMIT_PATIENCE: std::time::Duration = std::time::Duration::from_secs(120);

/// An HTTP client bound to one server and token.
#[derive(Debug)]
pub struct Client {
    pub base: String,
    token: String,
    agent: ureq::Agent,
}

/// What a request came back with.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub body: String,
    pub headers: Vec<(String, String)>,
}

impl Reply {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or(Value::Null)
    }

    /// The problem document's detail, or the body.
    pub fn detail(&self) -> String {
        match self.json().get("detail").and_then(Value::as_str) {
            Some(d) => d.to_owned(),
            None => self.body.chars().take(300).collect(),
        }
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }
}

/// A failure to reach the server at all (as opposed to an answer that says no).
#[derive(Debug)]
pub struct Unreachable(pub String);

impl Client {
    pub fn from_args(a: &ServerArgs, err: &mut dyn Write) -> Result<Client, CliError> {
        let base = a
            .server
            .clone()
            .or_else(|| std::env::var("UCTRIAGE_SERVER").ok().filter(|s| !s.is_empty()))
            .ok_or_else(|| CliError::usage("which server? give --server URL or set UCTRIAGE_SERVER"))?;
        if !(base.starts_with("http://") || base.starts_with("https://")) {
            return Err(CliError::usage(format!("--server {base}: give a URL starting with http:// or https://")));
        }
        let token = if let Some(path) = &a.token_file {
            std::fs::read_to_string(path)
                .map_err(|e| CliError::usage(format!("{}: {e}", path.display())))?
                .trim()
                .to_owned()
        } else if let Some(t) = std::env::var("UCTRIAGE_TOKEN").ok().filter(|s| !s.is_empty()) {
            t
        } else if let Some(t) = &a.token {
            let _ = writeln!(
                err,
                "warning: --token is visible to other users in the process list; prefer --token-file or UCTRIAGE_TOKEN"
            );
            t.clone()
        } else {
            return Err(CliError::usage("no token: give --token-file PATH or set UCTRIAGE_TOKEN"));
        };
        Ok(Client::new(base.trim_end_matches('/'), &token))
    }

    pub fn new(base: &str, token: &str) -> Client {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(120)))
            .build()
            .into();
        Client { base: base.to_owned(), token: token.to_owned(), agent }
    }

    /// One request; `body` is (content type, bytes).
    /// One request. A 429 (the server's per-token rate limit) is waited out as its Retry-After
    /// says and the request sent again, for up to [`RATE_LIMIT_PATIENCE`] in all.
    pub fn request(
        &self,
        method: &str,
        path: &str,
        body: Option<(&str, &[u8])>,
        headers: &[(&str, &str)],
    ) -> Result<Reply, Unreachable> {
        let mut waited = std::time::Duration::ZERO;
        loop {
            let reply = self.request_once(method, path, body, headers)?;
            if reply.status != 429 || waited >= RATE_LIMIT_PATIENCE {
                return Ok(reply);
            }
            let secs = reply.header("retry-after").and_then(|v| v.trim().parse::<u64>().ok());
            let pause = std::time::Duration::from_secs(secs.unwrap_or(1).clamp(1, 30));
            waited += pause;
            std::thread::sleep(pause);
        }
    }

    fn request_once(
        &self,
        method: &str,
        path: &str,
        body: Option<(&str, &[u8])>,
        headers: &[(&str, &str)],
    ) -> Result<Reply, Unreachable> {
        let url = format!("{}{path}", self.base);
        let auth = format!("Bearer {}", self.token);
        let result = match method {
            "GET" | "DELETE" => {
                let mut r = if method == "GET" { self.agent.get(&url) } else { self.agent.delete(&url) };
                r = r.header("Authorization", &auth);
                for (k, v) in headers {
                    r = r.header(*k, *v);
                }
                r.call()
            }
            _ => {
                let mut r = if method == "PATCH" { self.agent.patch(&url) } else { self.agent.post(&url) };
                r = r.header("Authorization", &auth);
                for (k, v) in headers {
                    r = r.header(*k, *v);
                }
                let (ct, bytes) = body.unwrap_or(("application/json", b"{}"));
                r.header("Content-Type", ct).send(bytes)
            }
        };
        let mut res = result.map_err(|e| Unreachable(format!("{url}: {e}")))?;
        let headers =
            res.headers().iter().map(|(k, v)| (k.as_str().to_owned(), v.to_str().unwrap_or("").to_owned())).collect();
        let status = res.status().as_u16();
        let body = res
            .body_mut()
            .with_config()
            .limit(256 << 20)
            .read_to_string()
            .map_err(|e| Unreachable(format!("{url}: {e}")))?;
        Ok(Reply { status, body, headers })
    }

    /// A request whose success is required: an answer outside 2xx becomes the command's error.
    pub fn expect(&self, method: &str, path: &str, body: Option<(&str, &[u8])>) -> Result<Reply, CliError> {
        let r = self
            .request(method, path, body, &[])
            .map_err(|u| CliError { exit: Exit::Problems, message: format!("cannot reach the server: {}", u.0) })?;
        if (200..300).contains(&r.status) {
            Ok(r)
        } else {
            Err(answer_error(&r))
        }
    }
}

/// The error for a refusal: auth problems and bad requests are usage errors (exit 2), the rest
/// problems (exit 1).
pub fn answer_error(r: &Reply) -> CliError {
    let hint = match r.status {
        401 => " (check the token: it may be revoked or mistyped)",
        403 => " (this token's role does not allow it)",
        _ => "",
    };
    let exit = if (400..500).contains(&r.status) && r.status != 429 { Exit::Usage } else { Exit::Problems };
    CliError { exit, message: format!("the server answered {}: {}{hint}", r.status, r.detail()) }
}
