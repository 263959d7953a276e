//! The guided triage form in Chromium: the Teams flow answered a page at a time ends where
//! `uctriage triage` ends, and its codes link to the code lookup.

use fantoccini::Locator;

use crate::web::{click_and_wait, shots, sign_in, start_driver};
use crate::{Db, Server};

#[test]
fn the_guided_triage_form_walks_a_flow_to_its_outcome() {
    let Some(driver) = start_driver() else { return };
    let s = Server::start(&Db::Sqlite);
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    rt.block_on(async {
        let c = driver.browser(1000).await;
        c.goto(&s.url("/triage")).await.unwrap();
        sign_in(&c, &s.admin).await;
        click_and_wait(&c, "a[href='/triage/teams']").await;
        for (key, value) in [("sign-in", "yes"), ("web", "fails"), ("code", "rooms")] {
            c.find(Locator::Css(&format!("input[name='{key}'][value='{value}']")))
                .await
                .unwrap()
                .click()
                .await
                .unwrap();
            click_and_wait(&c, "form.stack button[type=submit]").await;
        }
        let main = c.find(Locator::Css("main")).await.unwrap().text().await.unwrap();
        assert!(main.contains("Where it lives: policy"), "{main}");
        assert_eq!(c.find_all(Locator::Css("ol.answers li")).await.unwrap().len(), 3);
        std::fs::write(shots().join("triage.png"), c.screenshot().await.unwrap()).unwrap();
        // Its codes are explained on the lookup page.
        click_and_wait(&c, "a[href='/lookup?q=AADSTS50076']").await;
        assert!(c.find(Locator::Css("main")).await.unwrap().text().await.unwrap().contains("multi-factor"));
        // Changing an earlier answer goes back to that question.
        c.back().await.unwrap();
        click_and_wait(&c, "ol.answers li:nth-child(2) a").await;
        assert!(c.find_all(Locator::Css("input[name='web']")).await.unwrap().len() >= 2);
        assert!(c.find_all(Locator::Css("input[name='code']")).await.unwrap().is_empty());
        // An answer that is not one of the options says so and asks again.
        c.goto(&s.url("/triage/teams?sign-in=perhaps")).await.unwrap();
        assert!(c.find(Locator::Css(".error")).await.unwrap().text().await.unwrap().contains("perhaps"));
        c.goto(&s.url("/triage/nope")).await.unwrap();
        assert!(c.find(Locator::Css("h1")).await.unwrap().text().await.unwrap().contains("Not found"));
        c.close().await.unwrap();
    });
}
