//! Alerts on incident open, reopen, root-cause change and resolve, to webhooks:
//!
//! - `teams`: a Teams Workflows "post to a channel" URL, sent an Adaptive Card. Workflows take
//!   Adaptive Cards only and answer 202 before the flow runs, so a 2xx means the flow accepted
//!   the card, not that it was posted;
//! - `standard`: a JSON body signed per the Standard Webhooks convention: headers `webhook-id`,
//!   `webhook-timestamp` (seconds) and `webhook-signature` (`v1,` and the base64 HMAC-SHA256 of
//!   `{id}.{timestamp}.{body}` under the secret's bytes, the part after `whsec_` decoded);
//! - `syslog`: RFC 5424 over TCP or TLS (`syslog.rs`);
//! - `smtp`: e-mail through a relay, STARTTLS, TLS or plain (`smtp.rs`).
//!
//! Alerts are an outbox: planned in the same transaction as the incident change, then delivered
//! at least once by whichever instance claims them, with backoff, the same `webhook-id` on every
//! attempt. Transitions older than the cut-off (a backfill) are recorded but not alerted.

use std::time::Duration;

use base64::Engine as _;
use serde_json::{json, Value};
use uctriage_store::{Alert, IncidentChange, Webhook};

use crate::incidents::severity_word;
use crate::App;

/// Transitions older than this (on the records' clock, against the server's now) are not
/// alerted: a week pushed at once must not page anyone about last Tuesday.
pub const CUTOFF_MS: i64 = 30 * 60 * 1000;
/// A room incident's alert waits this long, so that a wave forming around it can take it over.
pub const HOLD_MS: i64 = 5 * 60 * 1000;
/// Attempts before an alert is given up.
pub const MAX_ATTEMPTS: i64 = 12;
/// Longest text of one field in an alert.
const FIELD_MAX: usize = 600;

const SEVERITIES: [&str; 4] = ["critical", "important", "warning", "recommended"];

fn rank(s: &str) -> usize {
    SEVERITIES.iter().position(|x| *x == s).unwrap_or(SEVERITIES.len())
}

/// A new signing secret: `whsec_` and 32 random bytes in base64.
pub fn new_secret() -> String {
    let mut b = [0u8; 32];
    ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut b).expect("the system random source works");
    format!("whsec_{}", base64::engine::general_purpose::STANDARD.encode(b))
}

/// The secret's key bytes, or why it is not a usable secret.
pub fn secret_key(secret: &str) -> Result<Vec<u8>, String> {
    let b64 = secret.strip_prefix("whsec_").ok_or("a signing secret starts with whsec_")?;
    let key =
        base64::engine::general_purpose::STANDARD.decode(b64).map_err(|_| "the part after whsec_ is not base64")?;
    if key.len() < 24 {
        return Err("a signing secret holds at least 24 random bytes".into());
    }
    Ok(key)
}

/// `v1,<base64 HMAC-SHA256 of id.timestamp.body>`.
pub fn sign(key: &[u8], id: &str, timestamp: i64, body: &str) -> String {
    let k = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, key);
    let tag = ring::hmac::sign(&k, format!("{id}.{timestamp}.{body}").as_bytes());
    format!("v1,{}", base64::engine::general_purpose::STANDARD.encode(tag.as_ref()))
}

/// Untrusted log text made safe for a card: control characters out, Markdown and HTML
/// characters escaped, length capped.
pub fn card_text(s: &str) -> String {
    let mut out = String::with_capacity(s.len().min(FIELD_MAX) + 16);
    for (n, c) in s.chars().filter(|c| !c.is_control() || *c == ' ').enumerate() {
        if n >= FIELD_MAX {
            out.push('…');
            break;
        }
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '\\' | '*' | '_' | '`' | '[' | ']' | '#' | '~' | '|' => {
                out.push('\\');
                out.push(c);
            }
            c => out.push(c),
        }
    }
    out
}

fn capped(s: &str) -> String {
    let mut out: String = s.chars().filter(|c| !c.is_control()).take(FIELD_MAX).collect();
    if s.chars().count() > FIELD_MAX {
        out.push('…');
    }
    out
}

/// What an alert says, whatever the channel.
#[derive(Debug, Clone)]
pub struct Message {
    pub event: String,
    pub incident_id: String,
    pub scope: String,
    pub severity: String,
    pub summary: String,
    pub signal: String,
    pub rooms: Vec<String>,
    pub first_fix: Option<String>,
    pub at_ms: i64,
    pub link: String,
}

impl Message {
    pub fn standard_body(&self, id: &str) -> String {
        json!({
            "type": format!("incident.{}", self.event),
            "timestamp": crate::fleet::rfc3339(self.at_ms),
            "data": {
                "alert_id": id,
                "incident_id": self.incident_id,
                "scope": self.scope,
                "severity": self.severity,
                "signal": capped(&self.signal),
                "summary": capped(&self.summary),
                "rooms": self.rooms.iter().take(200).map(|r| capped(r)).collect::<Vec<_>>(),
                "first_fix": self.first_fix.as_deref().map(capped),
                "link": self.link,
            }
        })
        .to_string()
    }

    /// The Adaptive Card message a Teams Workflows webhook expects.
    pub fn teams_body(&self) -> String {
        let verb = match self.event.as_str() {
            "opened" => "New incident",
            "reopened" => "Incident reopened",
            "cause" => "Root cause changed",
            "resolved" => "Resolved",
            _ => "Test alert",
        };
        let mut rooms: Vec<String> = self.rooms.iter().take(20).map(|r| card_text(r)).collect();
        if self.rooms.len() > 20 {
            rooms.push(format!("and {} more", self.rooms.len() - 20));
        }
        let mut facts = vec![
            json!({"title": "Severity", "value": self.severity}),
            json!({"title": "Signal", "value": card_text(&self.signal)}),
            json!({"title": "Rooms", "value": rooms.join(", ")}),
            json!({"title": "Since", "value": crate::fleet::rfc3339(self.at_ms)}),
        ];
        if let Some(f) = &self.first_fix {
            facts.push(json!({"title": "First fix", "value": card_text(f)}));
        }
        json!({
            "type": "message",
            "attachments": [{
                "contentType": "application/vnd.microsoft.card.adaptive",
                "contentUrl": null,
                "content": {
                    "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
                    "type": "AdaptiveCard",
                    "version": "1.4",
                    "body": [
                        {"type": "TextBlock", "size": "Medium", "weight": "Bolder", "wrap": true, "text": format!("{verb}: {}", card_text(&self.summary))},
                        {"type": "FactSet", "facts": facts}
                    ],
                    "actions": [{"type": "Action.OpenUrl", "title": "Open in uctriage", "url": self.link}]
                }
            }]
        })
        .to_string()
    }
}

/// The alerts a set of incident changes causes: one per transition that is new enough, per
/// webhook whose site and severity match. Room incidents inside a fleet incident do not alert
/// on their own.
/// When and how alerts are planned.
#[derive(Debug, Clone, Copy)]
pub struct PlanAt<'a> {
    pub now_ms: i64,
    pub public_url: &'a str,
    /// How long a room incident's first alert waits for a wave.
    pub hold_ms: i64,
}

pub fn plan(
    changes: &[IncidentChange],
    webhooks: &[Webhook],
    site_of: &dyn Fn(&str) -> String,
    room_name: &dyn Fn(&str) -> String,
    quiet: &dyn Fn(&uctriage_store::Incident, i64) -> bool,
    at: PlanAt<'_>,
) -> Vec<Alert> {
    let PlanAt { now_ms, public_url, hold_ms } = at;
    let mut out = Vec::new();
    for c in changes {
        let i = &c.incident;
        if i.scope == "room" && i.parent_id.is_some() {
            continue;
        }
        for (at, what, _, _) in &c.log {
            if !matches!(what.as_str(), "opened" | "reopened" | "cause" | "resolved")
                || now_ms - at > CUTOFF_MS
                || quiet(i, *at)
            {
                continue;
            }
            let site = i.room_id.as_deref().map(site_of).unwrap_or_default();
            let first_fix = i
                .finding
                .as_deref()
                .and_then(|f| serde_json::from_str::<Value>(f).ok())
                .and_then(|f| f.get("fix")?.get(0)?.as_str().map(str::to_owned));
            let msg = Message {
                event: what.clone(),
                incident_id: i.id.clone(),
                scope: i.scope.clone(),
                severity: i.severity.clone(),
                summary: i.summary.clone(),
                signal: i.signal.clone(),
                rooms: i.room_id.as_deref().map(room_name).into_iter().collect(),
                first_fix,
                at_ms: *at,
                link: format!("{}/api/v1/incidents/{}", public_url.trim_end_matches('/'), i.id),
            };
            for w in webhooks {
                if rank(&i.severity) > rank(&w.min_severity)
                    || (!w.site.is_empty() && i.scope == "room" && site != w.site)
                {
                    continue;
                }
                // The same transition always gets the same id, whichever instance plans it.
                let id = format!(
                    "msg_{}",
                    crate::auth::hex(&crate::auth::sha256(format!("{}|{}|{what}|{at}", w.id, i.id).as_bytes())[..12])
                );
                // Teams gets a card; standard webhooks, syslog and e-mail the signed-style JSON (e-mail
                // renders it as text when sent).
                let body = if w.kind == "teams" { msg.teams_body() } else { msg.standard_body(&id) };
                let hold = if i.scope == "room" && what == "opened" { hold_ms } else { 0 };
                out.push(Alert {
                    id,
                    webhook_id: w.id.clone(),
                    incident_id: i.id.clone(),
                    event: what.clone(),
                    body,
                    created_ms: now_ms,
                    state: "pending".into(),
                    attempts: 0,
                    next_attempt_ms: now_ms + hold,
                    lease_owner: None,
                    lease_until_ms: None,
                    last_status: None,
                    last_error: None,
                    delivered_ms: None,
                });
            }
        }
    }
    out
}

/// How long an instance holds an alert it claimed.
const ALERT_LEASE_MS: i64 = 60_000;

/// The wait before the next attempt after `attempts` failed ones: 5 s doubling, at most an hour.
fn retry_wait_ms(attempts: i64) -> i64 {
    (5_000i64 << (attempts - 1).clamp(0, 20)).min(3_600_000)
}

/// Deliver due alerts until none is due; returns how many were attempted.
pub async fn deliver_due(app: &App) -> Result<usize, String> {
    let err = |e: uctriage_store::StoreError| e.to_string();
    let mut attempted = 0;
    loop {
        let now = app.clock.now_ms();
        // One at a time: the lease (a minute) then always outlasts the attempt (15 s at most), so
        // another instance never takes over an alert still being sent, and after a crash only
        // the alert that was in flight waits out its lease.
        let batch = app.store.alerts_claim(&app.instance, now, now + ALERT_LEASE_MS, 1).await.map_err(err)?;
        if batch.is_empty() {
            return Ok(attempted);
        }
        let hooks = app.store.webhooks().await.map_err(err)?;
        for mut a in batch {
            attempted += 1;
            // A room incident that joined a wave while its alert waited: the wave speaks for it.
            if a.event == "opened" {
                if let Some(i) = app.store.incident(&a.incident_id).await.map_err(err)? {
                    if i.scope == "room" && i.parent_id.is_some() {
                        a.state = "merged".into();
                        a.last_error = Some("part of a fleet incident, which alerts instead".into());
                        app.store.alert_attempted(&a).await.map_err(err)?;
                        continue;
                    }
                }
            }
            let Some(hook) = hooks.iter().find(|w| w.id == a.webhook_id) else {
                a.state = "failed".into();
                a.last_error = Some("the webhook was removed".into());
                app.store.alert_attempted(&a).await.map_err(err)?;
                continue;
            };
            let outcome = send(app, hook, &a).await;
            a.attempts += 1;
            let now = app.clock.now_ms();
            match outcome {
                Ok(status) => {
                    a.state = "delivered".into();
                    a.last_status = Some(i64::from(status));
                    a.last_error = None;
                    a.delivered_ms = Some(now);
                    tracing::info!(alert = %a.id, webhook = %hook.id, attempt = a.attempts, status, "alert delivered");
                }
                Err((status, e)) => {
                    a.last_status = status.map(i64::from);
                    a.last_error = Some(e.clone());
                    if a.attempts >= MAX_ATTEMPTS {
                        a.state = "failed".into();
                    }
                    // 5 s after the first attempt, then 10 s, 20 s … up to an hour.
                    let wait = retry_wait_ms(a.attempts);
                    a.next_attempt_ms = now + wait;
                    tracing::warn!(alert = %a.id, webhook = %hook.id, attempt = a.attempts, "alert not delivered: {e}");
                }
            }
            app.metrics.alert_outcome(&a.state);
            app.store.alert_attempted(&a).await.map_err(err)?;
        }
    }
}

/// One attempt: the status of a 2xx, or the status and reason of a failure.
async fn send(app: &App, hook: &Webhook, a: &Alert) -> Result<u16, (Option<u16>, String)> {
    let url = app
        .sealer
        .open_sealed(&format!("webhook:{}", hook.id), &hook.url_sealed)
        .and_then(|u| String::from_utf8(u).ok())
        .ok_or((None, "the webhook URL cannot be unsealed (was secret.key replaced?)".to_owned()))?;
    if hook.kind == "syslog" {
        let message = crate::syslog::frame(
            &a.id,
            a.severity_hint(),
            &a.event,
            &crate::fleet::rfc3339(app.clock.now_ms()),
            &app.instance,
            &a.body,
        );
        return tokio::task::spawn_blocking(move || crate::syslog::send(&url, &message))
            .await
            .map_err(|e| (None, e.to_string()))?
            .map(|()| 0)
            .map_err(|e| (None, e));
    }
    let mut headers = vec![("content-type".to_owned(), "application/json".to_owned())];
    if hook.kind == "smtp" {
        let dest = crate::smtp::Destination::parse(&url).map_err(|e| (None, e))?;
        let password = match hook.secret_sealed.as_deref() {
            Some(s) => Some(
                app.sealer
                    .open_sealed(&format!("webhook-secret:{}", hook.id), s)
                    .and_then(|s| String::from_utf8(s).ok())
                    .ok_or((None, "the relay password cannot be unsealed".to_owned()))?,
            ),
            None => None,
        };
        let (id, body) = (a.id.clone(), a.body.clone());
        return tokio::task::spawn_blocking(move || crate::smtp::send(&dest, password.as_deref(), &id, &body))
            .await
            .map_err(|e| (None, e.to_string()))?
            .map(|()| 0)
            .map_err(|e| (None, e));
    }
    if hook.kind == "standard" {
        let secret = hook
            .secret_sealed
            .as_deref()
            .and_then(|s| app.sealer.open_sealed(&format!("webhook-secret:{}", hook.id), s))
            .and_then(|s| String::from_utf8(s).ok())
            .ok_or((None, "the signing secret cannot be unsealed".to_owned()))?;
        let key = secret_key(&secret).map_err(|e| (None, e))?;
        let ts = app.clock.now_ms() / 1000;
        headers.push(("webhook-id".into(), a.id.clone()));
        headers.push(("webhook-timestamp".into(), ts.to_string()));
        headers.push(("webhook-signature".into(), sign(&key, &a.id, ts, &a.body)));
    }
    let body = a.body.clone();
    tokio::task::spawn_blocking(move || {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(15)))
            .build()
            .into();
        let mut req = agent.post(&url);
        for (k, v) in &headers {
            req = req.header(k.as_str(), v.as_str());
        }
        match req.send(body.as_bytes()) {
            Ok(r) if r.status().is_success() => Ok(r.status().as_u16()),
            Ok(r) => Err((Some(r.status().as_u16()), format!("the receiver answered {}", r.status()))),
            // The URL may carry a credential: say what failed without it.
            Err(e) => Err((None, format!("cannot reach the receiver: {}", e.to_string().replace(&url, "<url>")))),
        }
    })
    .await
    .map_err(|e| (None, e.to_string()))?
}

/// What an alert's body says its severity is (syslog's priority comes from it).
trait SeverityHint {
    fn severity_hint(&self) -> &str;
}

impl SeverityHint for Alert {
    fn severity_hint(&self) -> &str {
        ["critical", "important", "warning"]
            .into_iter()
            .find(|s| self.body.contains(&format!("\"severity\":\"{s}\"")))
            .unwrap_or("recommended")
    }
}

/// A URL shown without its query (a Workflows URL's `sig=` is a credential).
pub fn url_hint(url: &str) -> String {
    let base = url.split(['?', '#']).next().unwrap_or(url);
    let mut hint: String = base.chars().take(60).collect();
    if url.len() > base.len() || base.chars().count() > 60 {
        hint.push('…');
    }
    hint
}

/// The severity word a webhook accepts as its minimum.
pub fn valid_severity(s: &str) -> bool {
    SEVERITIES.contains(&s)
}

pub fn severity_name(s: crate::fleet::Severity) -> &'static str {
    severity_word(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures_follow_the_standard_webhooks_convention() {
        // The convention's own published example: secret, id, timestamp, body and signature.
        let key = secret_key("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap();
        let sig = sign(&key, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1_614_265_330, r#"{"test": 2432232314}"#);
        assert_eq!(sig, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
        assert!(secret_key("whsec_short").is_err());
        assert!(secret_key("nope").is_err());
        assert!(secret_key(&new_secret()).is_ok());
    }

    #[test]
    fn retries_wait_five_seconds_then_double_up_to_an_hour() {
        let waits: Vec<i64> = (1..=4).map(retry_wait_ms).collect();
        assert_eq!(waits, [5_000, 10_000, 20_000, 40_000]);
        assert_eq!(retry_wait_ms(12), 3_600_000);
        assert_eq!(retry_wait_ms(i64::MAX), 3_600_000);
    }

    #[test]
    fn card_text_is_escaped_and_capped() {
        let t = card_text("<script>alert(1)</script> **bold** [link](http://x)\u{7}");
        assert!(!t.contains('<') && !t.contains("**") && !t.contains('\u{7}'), "{t}");
        assert_eq!(card_text(&"x".repeat(5000)).chars().count(), FIELD_MAX + 1);
        assert_eq!(url_hint("https://prod.example/workflows/abc?sig=SECRET"), "https://prod.example/workflows/abc…");
    }
}
