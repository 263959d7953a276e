//! The triage flows (`uctriage triage teams|lync`) as a guided form: one question a page, the
//! answers so far carried in the URL (a GET form, so it works without JavaScript and a half-done
//! walk can be shared), ending in the flow's outcome with its commands, fixes and codes.

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::{Path, Query};
use axum::http::StatusCode;
use axum::routing::get;
use axum::Router;
use maud::html;
use uctriage_triage::{Answers, Flows, Question, Step, TriageError};

use super::{encode, layout, page, PageError, PageResult, User};
use crate::App;

pub fn routes() -> Router<Arc<App>> {
    Router::new().route("/triage", get(flows)).route("/triage/{flow}", get(walk))
}

async fn flows(user: User) -> PageResult {
    let body = html! {
        h1 { "Guided triage" }
        p { "Answer a few questions about what fails; the flow ends with where the problem lives, what to run and what to fix. The same flows as "
            code { "uctriage triage" } "." }
        ul class="flows" {
            @for f in &Flows::builtin().flows {
                li { a href=(format!("/triage/{}", f.id)) { (f.title) } p class="muted" { (f.description) } }
            }
        }
    };
    page(&layout("Guided triage", Some(&user), &body))
}

/// Answers from the URL.
struct FromQuery<'a> {
    given: &'a HashMap<String, String>,
}

impl Answers for FromQuery<'_> {
    fn answer(&mut self, q: &Question) -> Option<String> {
        self.given.get(&q.key).filter(|v| !v.is_empty()).cloned()
    }
}

/// The link that walks the flow back to just before `upto` answers.
fn back_link(flow: &str, path: &[Step], upto: usize) -> String {
    let q: Vec<String> = path.iter().take(upto).map(|s| format!("{}={}", encode(&s.key), encode(&s.answer))).collect();
    format!("/triage/{}?{}", encode(flow), q.join("&"))
}

async fn walk(user: User, Path(id): Path<String>, Query(given): Query<HashMap<String, String>>) -> PageResult {
    let flow = Flows::builtin()
        .get(&id)
        .ok_or_else(|| PageError::new(StatusCode::NOT_FOUND, format!("There is no triage flow called {id}.")))?;
    // Walk as far as the answers go: the steps taken, then a question or the outcome.
    let walk = flow.walk(&mut FromQuery { given: &given });
    let (path, result) = (walk.path, walk.result);
    let invalid = match &result {
        Err(TriageError::Invalid { value, key, .. }) => {
            Some(format!("{value:?} is not one of the answers to {key}; pick one below."))
        }
        Err(TriageError::Data(e)) => return Err(PageError::new(StatusCode::INTERNAL_SERVER_ERROR, e.clone())),
        _ => None,
    };
    let asking = match &result {
        Ok(_) => None,
        Err(_) => flow.questions.iter().find(|q| q.id == walk.at).cloned(),
    };
    let body = html! {
        p class="crumbs" { a href="/triage" { "Guided triage" } " › " (flow.title) }
        h1 { (flow.title) }
        @if !path.is_empty() {
            section aria-labelledby="so-far" {
                h2 id="so-far" { "Your answers" }
                ol class="answers" {
                    @for (i, s) in path.iter().enumerate() {
                        li { (s.question) " " strong { (s.label) } " " a href=(back_link(&flow.id, &path, i)) { "change" } }
                    }
                }
            }
        }
        @if let Some(e) = &invalid { p class="error" role="alert" { (e) } }
        @if let Some(q) = &asking {
            form method="get" action=(format!("/triage/{}", flow.id)) class="stack" {
                @for s in &path { input type="hidden" name=(s.key) value=(s.answer); }
                fieldset {
                    legend { (q.text) }
                    @if !q.help.is_empty() { p class="muted" { (q.help) } }
                    @for (i, o) in q.options.iter().enumerate() {
                        div {
                            input type="radio" id=(format!("opt-{i}")) name=(q.key) value=(o.value) required checked[i == 0];
                            " "
                            label for=(format!("opt-{i}")) { (o.label) }
                        }
                    }
                }
                button type="submit" { "Next" }
            }
        }
        @if let Ok(run) = &result {
            section class="cause" aria-labelledby="outcome" {
                h2 id="outcome" { "Where it lives: " (run.outcome.layer.as_str()) }
                p { (run.outcome.summary) }
                @if !run.outcome.commands.is_empty() {
                    h3 { "Run next" }
                    ol { @for c in &run.outcome.commands { li { code { (c) } } } }
                }
                @if !run.outcome.fixes.is_empty() {
                    h3 { "Fix, in order" }
                    ol { @for f in &run.outcome.fixes { li { (f) } } }
                }
                @if !run.outcome.codes.is_empty() {
                    h3 { "Codes to read" }
                    ul { @for c in &run.outcome.codes {
                        @let shown = c.to_string();
                        li { a href=(format!("/lookup?q={}", encode(&shown))) { (shown) } }
                    } }
                }
                p { a href=(format!("/triage/{}", flow.id)) { "Start again" } }
            }
        }
    };
    page(&layout(&flow.title, Some(&user), &body))
}
