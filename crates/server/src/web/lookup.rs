//! The code lookup: what `uctriage explain` answers, as a page. Type one code (every reading of an
//! ambiguous one), several, or paste a log line and get each of its codes explained. The query is
//! in the URL (`/lookup?q=…`), so an answer can be linked, and related codes link to their own.

use axum::extract::Query;
use maud::{html, Markup};
use serde::Deserialize;
use uctriage_kb::{Code, Decoded, Entry, Explanation, KnowledgeBase};

use super::{encode, layout, page, PageResult, User};

/// Examples offered on the empty page: an identity code, an ambiguous number, an HRESULT.
const EXAMPLES: [&str; 3] = ["AADSTS50076", "560403", "0xCAA70004"];
/// Pasted text beyond this many bytes is not read (a log excerpt, not a whole log).
const MAX_INPUT: usize = 16 * 1024;
/// At most this many answers on one page.
const MAX_ANSWERS: usize = 50;

#[derive(Debug, Default, Deserialize)]
pub struct LookupQuery {
    #[serde(default)]
    q: String,
}

/// GET /lookup?q=…
pub async fn lookup(user: User, Query(f): Query<LookupQuery>) -> PageResult {
    let kb = KnowledgeBase::builtin();
    let (text, cut) = bounded(&f.q, MAX_INPUT);
    let mut answers = kb.lookup(text);
    let more = answers.len().saturating_sub(MAX_ANSWERS);
    answers.truncate(MAX_ANSWERS);
    let groups = group_by_input(&answers);
    let codes: Vec<&Code> = {
        let mut v: Vec<&Code> = Vec::new();
        for c in answers.iter().filter_map(|x| x.code.as_ref()) {
            if !v.contains(&c) {
                v.push(c);
            }
        }
        v
    };
    let body = html! {
        h1 { "Code lookup" }
        form class="stack" method="get" action="/lookup" role="search" {
            label for="q" { "Code, several codes, or a log line" }
            textarea id="q" name="q" rows="3" spellcheck="false" autocapitalize="off" { (f.q) }
            button type="submit" { "Look up" }
        }
        @if text.trim().is_empty() {
            p class="empty" {
                "Type a code such as "
                (code_link_str(EXAMPLES[0])) ", " (code_link_str(EXAMPLES[1])) " or " (code_link_str(EXAMPLES[2]))
                ", several codes, or paste a log line: every code in it is explained, with every reading of an ambiguous one \
                 and what the structure of an unknown one says."
            }
        } @else {
            @if cut {
                p class="muted" { "Only the first " (MAX_INPUT / 1024) " KiB of the text were read." }
            }
            @if groups.len() > 1 && codes.len() > 1 {
                p class="found" { "Codes found: " @for (i, c) in codes.iter().enumerate() { @if i > 0 { ", " } (code_link(c)) } }
            }
            @for (n, group) in groups.iter().enumerate() {
                section class="answers" aria-label=(format!("Answers for {}", group[0].input)) {
                    @if group.len() > 1 {
                        p class="muted readings" { "“" (group[0].input) "” has " (group.len()) " readings:" }
                    }
                    @for (i, x) in group.iter().enumerate() {
                        (explanation(kb, x, &format!("a{n}-{i}")))
                    }
                }
            }
            @if more > 0 {
                p class="muted" { (more) " more answers are not shown; look up fewer codes at a time." }
            }
        }
    };
    page(&layout("Code lookup", Some(&user), &body))
}

/// The first `max` bytes of `s`, cut at a character boundary, and whether anything was cut.
fn bounded(s: &str, max: usize) -> (&str, bool) {
    if s.len() <= max {
        return (s, false);
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    (&s[..end], true)
}

/// Consecutive answers for the same input, together (as `explain` prints them).
fn group_by_input<'a, 'kb>(answers: &'a [Explanation<'kb>]) -> Vec<&'a [Explanation<'kb>]> {
    let mut out = Vec::new();
    let mut start = 0;
    for i in 1..=answers.len() {
        if i == answers.len() || answers[i].input != answers[start].input {
            out.push(&answers[start..i]);
            start = i;
        }
    }
    out
}

fn lookup_href(q: &str) -> String {
    format!("/lookup?q={}", encode(q))
}

fn code_link(c: &Code) -> Markup {
    code_link_str(&c.to_string())
}

fn code_link_str(c: &str) -> Markup {
    html! { a href=(lookup_href(c)) { code { (c) } } }
}

/// A known code and its title, or the code alone.
fn titled(kb: &KnowledgeBase, c: &Code) -> Markup {
    html! {
        (code_link(c))
        @if let Some(e) = kb.get(c) { " — " (e.title) }
    }
}

fn explanation(kb: &KnowledgeBase, x: &Explanation<'_>, id: &str) -> Markup {
    match x.entry.as_deref() {
        Some(e) => known(kb, x, e, id),
        None => unknown(kb, x, id),
    }
}

fn known(kb: &KnowledgeBase, x: &Explanation<'_>, e: &Entry, id: &str) -> Markup {
    html! {
        article class="finding known" aria-labelledby=(id) {
            h2 id=(id) {
                code { (e.code) }
                @if let Some(n) = &e.name { " — " (n) }
            }
            p class="title" { strong { (e.title) } }
            dl {
                dt { "Family" } dd { (e.family) }
                dt { "Layer" } dd { (e.layer) }
                dt { "Meaning" } dd class="meaning" { (e.meaning) }
            }
            (list("Likely causes", &e.causes, true))
            (list("First checks", &e.first_checks, true))
            (list("Fixes, in order", &e.fixes, true))
            (list("Where it shows up", &e.seen_in, false))
            @if let Some(d) = x.decoded.as_ref().filter(|d| !d.parts.is_empty()) {
                h3 { "Structure" }
                (structure(kb, d))
            }
            @if !e.related.is_empty() {
                h3 { "Related codes" }
                ul class="related" { @for r in &e.related { li { (titled(kb, r)) } } }
            }
            @if !e.references.is_empty() {
                h3 { "References" }
                ul class="references" {
                    @for r in &e.references {
                        li {
                            @if r.starts_with("https://") { a href=(r) rel="noreferrer" { (r) } } @else { (r) }
                        }
                    }
                }
            }
        }
    }
}

fn unknown(kb: &KnowledgeBase, x: &Explanation<'_>, id: &str) -> Markup {
    html! {
        article class="finding unknown" aria-labelledby=(id) {
            h2 id=(id) {
                @match &x.code {
                    Some(c) => { code { (c) } " is not in the knowledge base" }
                    None => { "“" (x.input) "” does not read as a known code" }
                }
            }
            @if let Some(d) = &x.decoded {
                h3 { "What its structure says" }
                (structure(kb, d))
            }
            @if !x.suggestions.is_empty() {
                h3 { "Nearest known codes" }
                ul class="related" { @for c in &x.suggestions { li { (titled(kb, c)) } } }
            }
        }
    }
}

/// The structural decode: a sentence, its parts, and a known code carried inside.
fn structure(kb: &KnowledgeBase, d: &Decoded) -> Markup {
    html! {
        div class="structure" {
            p { (d.summary) }
            @if !d.parts.is_empty() {
                dl class="facts" { @for p in &d.parts { dt { (p.label) } dd { (p.value) } } }
            }
            @if let Some(inner) = d.inner.as_ref().filter(|c| kb.get(c).is_some()) {
                p { "It carries " (titled(kb, inner)) "." }
            }
        }
    }
}

fn list(title: &str, items: &[String], numbered: bool) -> Markup {
    html! {
        @if !items.is_empty() {
            h3 { (title) }
            @if numbered { ol { @for t in items { li { (t) } } } }
            @else { ul { @for t in items { li { (t) } } } }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounded_cuts_at_a_character() {
        assert_eq!(bounded("abc", 5), ("abc", false));
        assert_eq!(bounded("aé", 2), ("a", true));
    }

    #[test]
    fn answers_group_by_input() {
        let kb = KnowledgeBase::builtin();
        let a = kb.lookup("AADSTS50076 0xCAA8FFFE");
        let g = group_by_input(&a);
        assert_eq!(g.len(), 2, "{a:?}");
        assert!(g[1].iter().all(|x| !x.known));
        assert!(group_by_input(&[]).is_empty());
    }
}
