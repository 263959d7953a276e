//! Uploading a generated bundle from the dashboard, in Chromium: the report page shows the
//! same first finding as `scan`, whole and redacted, and the full HTML report.

use std::sync::Arc;
use std::time::{Duration, Instant};

use fantoccini::Locator;

use crate::web::{click_and_wait, shots, sign_in, start_driver};
use crate::{Db, Server};

#[test]
fn a_bundle_uploaded_in_the_browser_gives_the_scan_report() {
    let Some(driver) = start_driver() else { return };
    let s = Server::start(&Db::Sqlite);
    let zip = uctriage_fixtures::scenario("rooms-mfa").unwrap().build().to_zip_bytes().unwrap();
    let scanned = uctriage_scan::scan(
        &[uctriage_scan::Source::Bytes { name: "MTR-Logs.zip".into(), bytes: Arc::from(zip.as_slice()) }],
        &uctriage_scan::RuleSet::builtin(),
        &uctriage_scan::ScanOptions::default(),
        &mut |_, _| {},
    )
    .unwrap();
    let first = scanned.findings[0].title.clone();
    // What `scan --redact` gives: the redacted view must show the same (names learned while
    // reading replaced, not only what patterns catch).
    let shared = uctriage_scan::scan(
        &[uctriage_scan::Source::Bytes { name: "MTR-Logs.zip".into(), bytes: Arc::from(zip.as_slice()) }],
        &uctriage_scan::RuleSet::builtin(),
        &uctriage_scan::ScanOptions { redact: true, ..uctriage_scan::ScanOptions::default() },
        &mut |_, _| {},
    )
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("MTR-Logs.zip");
    std::fs::write(&file, &zip).unwrap();

    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let cookie = rt.block_on(async {
        let c = driver.browser(1000).await;
        c.goto(&s.url("/upload")).await.unwrap();
        sign_in(&c, &s.admin).await;
        assert_eq!(c.current_url().await.unwrap().path(), "/upload");
        c.find(Locator::Css("#file")).await.unwrap().send_keys(&file.display().to_string()).await.unwrap();
        // The script sends the file and follows the server to the report's page.
        c.find(Locator::Css("#upload button[type=submit]")).await.unwrap().click().await.unwrap();
        let until = Instant::now() + Duration::from_secs(120);
        loop {
            let done = c.current_url().await.unwrap().path().starts_with("/reports/")
                && c.find(Locator::Css("main")).await.unwrap().text().await.unwrap().contains(&first);
            if done {
                break;
            }
            assert!(Instant::now() < until, "no report: {}", c.source().await.unwrap());
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        let report = c.current_url().await.unwrap().path().to_owned();
        let h3 = c.find(Locator::Css("section.cause h3")).await.unwrap().text().await.unwrap();
        assert_eq!(h3, first, "the first finding is scan's first");
        std::fs::write(shots().join("report.png"), c.screenshot().await.unwrap()).unwrap();
        // Redacted for sharing: the room's address is gone, the finding stays.
        let whole = c.find(Locator::Css("main")).await.unwrap().text().await.unwrap();
        assert!(whole.contains("192.0.2.53"), "the whole report shows the address: {whole}");
        click_and_wait(&c, "nav.tabs a[href$='redact=1']").await;
        let redacted = c.find(Locator::Css("main")).await.unwrap().text().await.unwrap();
        assert!(redacted.contains(&first) && redacted.contains("10.x.x."), "{redacted}");
        assert!(!redacted.contains("192.0.2.53"), "{redacted}");
        let cause = c.find(Locator::Css("section.cause")).await.unwrap().text().await.unwrap();
        for e in shared.findings[0].evidence.iter().take(5) {
            let line = e.excerpt.lines().next().unwrap_or_default().trim();
            assert!(cause.contains(line), "scan --redact shows {line:?}; the redacted view: {cause}");
        }
        // The full HTML report, as scan --format html writes it.
        c.goto(&s.url(&format!("{report}/report.html"))).await.unwrap();
        assert!(c.title().await.unwrap().starts_with("uctriage scan"));
        c.goto(&s.base).await.unwrap();
        let cookie = c.get_named_cookie("uct_session").await.unwrap().value().to_owned();
        c.close().await.unwrap();
        cookie
    });

    // Without JavaScript: the form's multipart POST, its CSRF value in the action.
    let agent: ureq::Agent = ureq::Agent::config_builder().http_status_as_error(false).max_redirects(0).build().into();
    let page = agent
        .get(&s.url("/upload"))
        .header("Cookie", &format!("uct_session={cookie}"))
        .call()
        .unwrap()
        .body_mut()
        .read_to_string()
        .unwrap();
    let form_tag = page.split("id=\"upload\"").nth(1).unwrap();
    let action = form_tag.split("action=\"").nth(1).and_then(|r| r.split('"').next()).unwrap().replace("&amp;", "&");
    let boundary = "uctriageboundary";
    let mut form = format!("--{boundary}\r\nContent-Disposition: form-data; name=\"room\"\r\n\r\n\r\n--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"logs.zip\"\r\nContent-Type: application/zip\r\n\r\n").into_bytes();
    form.extend(&zip);
    form.extend(format!("\r\n--{boundary}--\r\n").as_bytes());
    let post = |path: &str| {
        agent
            .post(&s.url(path))
            .header("Cookie", &format!("uct_session={cookie}"))
            .header("Content-Type", &format!("multipart/form-data; boundary={boundary}"))
            .send(&form[..])
            .unwrap()
    };
    let mut res = post(&action);
    let status = res.status().as_u16();
    assert_eq!(status, 303, "{action}: {}", res.body_mut().read_to_string().unwrap_or_default());
    assert!(res.headers().get("location").unwrap().to_str().unwrap().starts_with("/reports/rp"));
    assert_eq!(post("/upload").status().as_u16(), 403, "no CSRF value, no upload");
    assert_eq!(post("/upload?csrf=00").status().as_u16(), 403);
}
