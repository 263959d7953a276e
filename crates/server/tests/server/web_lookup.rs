//! The code lookup page in a real browser: one code, an ambiguous number, an unknown HRESULT
//! with its structural decode, a pasted log line with two codes, links between related codes.

use fantoccini::Locator;
use serde_json::json;

use crate::web::{click_and_wait, shots, sign_in, start_driver};
use crate::{Db, Server};

#[test]
fn the_code_lookup_in_a_real_browser() {
    let Some(driver) = start_driver() else { return };
    let s = Server::start(&Db::Sqlite);
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    rt.block_on(async {
        let c = driver.browser(1400).await;
        let text_of = |sel: &'static str| {
            let c = c.clone();
            async move { c.find(Locator::Css(sel)).await.unwrap_or_else(|e| panic!("{sel}: {e}")).text().await.unwrap() }
        };
        let look_up = |q: &'static str| {
            let c = c.clone();
            async move {
                let field = c.find(Locator::Css("textarea#q")).await.unwrap();
                field.clear().await.unwrap();
                field.send_keys(q).await.unwrap();
                click_and_wait(&c, "form[action='/lookup'] button").await;
                c.find(Locator::Css("main")).await.unwrap().text().await.unwrap()
            }
        };

        // The lookup needs a session, and comes back to itself after signing in.
        c.goto(&s.url("/lookup")).await.unwrap();
        assert!(c.current_url().await.unwrap().path().starts_with("/signin"));
        sign_in(&c, &s.admin).await;
        assert_eq!(c.current_url().await.unwrap().path(), "/lookup");

        // Empty: a sentence with examples that are links; the nav leads here.
        let empty = text_of("p.empty").await;
        for ex in ["AADSTS50076", "560403", "0xCAA70004"] {
            assert!(empty.contains(ex), "{empty}");
        }
        assert_eq!(c.find_all(Locator::Css("p.empty a[href^='/lookup?q=']")).await.unwrap().len(), 3);
        let label = text_of("label[for='q']").await;
        assert!(!label.is_empty());
        assert!(c.find(Locator::Css("header nav a[href='/lookup']")).await.is_ok(), "the nav links the lookup");

        // One known code: its meaning, layer, causes and fixes in order.
        let main = look_up("AADSTS50076").await;
        assert!(c.current_url().await.unwrap().query().is_some_and(|q| q.contains("AADSTS50076")), "the query is in the URL");
        let known = text_of("article.known").await;
        assert!(known.contains("AADSTS50076"), "{known}");
        assert!(known.contains("multi-factor authentication"), "{known}");
        assert!(known.contains("Fixes, in order") && known.contains("Likely causes"), "{known}");
        assert!(known.to_lowercase().contains("layer"), "{known}");
        assert!(!main.contains("is not in the knowledge base"), "{main}");
        let fixes = c.find_all(Locator::Css("article.known ol li")).await.unwrap();
        assert!(fixes.len() >= 2);

        // Related codes are links to their own lookup, and following one explains it.
        let related = c.find_all(Locator::Css("article.known ul.related a")).await.unwrap();
        assert!(!related.is_empty(), "AADSTS50076 lists related codes");
        let href = related[0].attr("href").await.unwrap().unwrap();
        assert!(href.starts_with("/lookup?q="), "{href}");
        let target = related[0].text().await.unwrap();
        click_and_wait(&c, "article.known ul.related a").await;
        let heading = text_of("article h2").await;
        assert!(heading.contains(&target), "{heading} after following {target}");

        // The number 560403: a Microsoft response code whose SIP answer came from the SBC.
        let main = look_up("560403").await;
        assert!(main.contains("560403"), "{main}");
        assert!(main.contains("403 Forbidden"), "{main}");
        assert!(main.contains("direct-routing"), "{main}");

        // An unknown HRESULT: not in the table, and what its structure says.
        let main = look_up("0xCAA8FFFE").await;
        let unknown = text_of("article.unknown").await;
        assert!(unknown.contains("0xCAA8FFFE is not in the knowledge base"), "{unknown}");
        assert!(unknown.contains("What its structure says"), "{unknown}");
        assert!(unknown.contains("facility") && unknown.contains("WinHTTP"), "{unknown}");
        assert!(main.contains("Nearest known codes"), "{main}");

        // A pasted log line with two codes explains both.
        let main = look_up(
            "2024-05-02T08:14:03Z ERROR SignIn failed: AADSTS50076 (MFA required); callEndReason=403 callEndSubReason=560403",
        )
        .await;
        let headings: Vec<String> = {
            let mut v = Vec::new();
            for h in c.find_all(Locator::Css("article h2")).await.unwrap() {
                v.push(h.text().await.unwrap());
            }
            v
        };
        assert!(headings.iter().any(|h| h.contains("AADSTS50076")), "{headings:?}");
        assert!(headings.iter().any(|h| h.contains("560403")), "{headings:?}");
        assert!(main.contains("Codes found"), "{main}");
        let png = c.screenshot().await.unwrap();
        std::fs::write(shots().join("lookup.png"), png).unwrap();

        // Markup in the query is shown as text, never run.
        c.goto(&s.url("/lookup?q=%3Cscript%3Ewindow.__pwned%3D1%3C%2Fscript%3E%3Cimg%20src%3Dx%20onerror%3D%22window.__pwned%3D2%22%3E"))
            .await
            .unwrap();
        assert_eq!(c.execute("return window.__pwned === undefined;", vec![]).await.unwrap(), json!(true));
        let field = c.find(Locator::Css("textarea#q")).await.unwrap().prop("value").await.unwrap().unwrap_or_default();
        assert!(field.contains("<script>"), "{field}");

        c.close().await.unwrap();
    });
}
