//! The store's behaviour, run against SQLite always and against PostgreSQL when
//! `UCTRIAGE_TEST_PG` names a server (`postgres://postgres@127.0.0.1:5432/test`). Each
//! PostgreSQL test gets a database of its own. With `UCTRIAGE_REQUIRE_PG=1` (CI) a missing
//! server fails the suite instead of skipping it.

use std::sync::Arc;

use uctriage_store::{
    Batch, NewEvent, Observation, Page, ReportJson, ReportRow, RoomAttrs, RoomPatch, Silence, Store, StoredBody, Token,
};

use uctriage_store::testing as pg;

/// Run `body` on a fresh SQLite store and, when configured, a fresh PostgreSQL database.
async fn each_backend<F, Fut>(body: F)
where
    F: Fn(Arc<dyn Store>) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let dir = tempfile::tempdir().unwrap();
    let store = uctriage_store::open(&dir.path().join("fleet.db").display().to_string()).await.unwrap();
    body(store).await;
    if let Some(db) = pg::Database::create().await {
        let store = uctriage_store::open(&db.url).await.unwrap();
        body(store).await;
        db.drop().await;
    }
}

fn event(key: u8, time_ms: i64, kind: &str) -> NewEvent {
    NewEvent {
        key: vec![key; 32],
        time_ms: Some(time_ms),
        kind: kind.into(),
        source: "Skype Room System".into(),
        event_id: Some(2000),
        record_id: Some(i64::from(key)),
        body: StoredBody::pack(&format!("{{\"n\":{key}}}")),
    }
}

fn obs(event: usize, signal: &str, state: &str, at_ms: i64) -> Observation {
    Observation { event, signal: signal.into(), state: state.into(), status: state.into(), at_ms }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokens_and_audit() {
    each_backend(|s| async move {
        let t = Token {
            id: "tk_1".into(),
            name: "admin".into(),
            role: "admin".into(),
            room_id: None,
            hash: vec![1; 32],
            created_ms: 10,
            revoked_ms: None,
        };
        s.token_insert(&t).await.unwrap();
        assert_eq!(s.token("tk_1").await.unwrap().unwrap(), t);
        assert!(s.token("nope").await.unwrap().is_none());
        // An id asked for before it existed is found as soon as it is made, and a revoke shows
        // at once (SQLite keeps device tokens it read in memory for a moment).
        let later = Token { id: "nope".into(), name: "later".into(), ..t.clone() };
        s.token_insert(&later).await.unwrap();
        assert_eq!(s.token("nope").await.unwrap().unwrap(), later);
        assert!(s.token_revoke("nope", 15).await.unwrap());
        assert_eq!(s.token("nope").await.unwrap().unwrap().revoked_ms, Some(15));
        let device = Token { id: "tk_dev".into(), role: "device".into(), room_id: Some("rm_1".into()), ..t.clone() };
        s.token_insert(&device).await.unwrap();
        for _ in 0..2 {
            assert_eq!(s.token("tk_dev").await.unwrap().unwrap(), device);
        }
        assert!(s.token_revoke("tk_dev", 16).await.unwrap());
        assert_eq!(s.token("tk_dev").await.unwrap().unwrap().revoked_ms, Some(16));
        assert!(s.token_revoke("tk_1", 20).await.unwrap());
        assert!(!s.token_revoke("tk_1", 30).await.unwrap(), "a second revoke changes nothing");
        assert_eq!(s.token("tk_1").await.unwrap().unwrap().revoked_ms, Some(20));
        let again = Token { id: "tk_2".into(), hash: vec![2; 32], created_ms: 40, ..t.clone() };
        s.token_replace(&again).await.unwrap();
        assert_eq!(s.tokens().await.unwrap().len(), 4);
        for i in 0..5 {
            s.audit(i, "tk_2", "token.create", &format!("tk_{i}"), "").await.unwrap();
        }
        let first = s.audit_list(&Page { limit: 3, after: None }).await.unwrap();
        assert_eq!(first.iter().map(|a| a.at_ms).collect::<Vec<_>>(), [4, 3, 2]);
        let next = s.audit_list(&Page { limit: 3, after: Some(first[2].seq.to_string()) }).await.unwrap();
        assert_eq!(next.iter().map(|a| a.at_ms).collect::<Vec<_>>(), [1, 0]);
        // Dashboard sessions: read back, deleted once, purged when expired.
        let session = uctriage_store::Session {
            id: "se_1".into(),
            hash: vec![3; 32],
            token_id: "tk_2".into(),
            csrf: "c".into(),
            created_ms: 100,
            expires_ms: 200,
        };
        s.session_insert(&session).await.unwrap();
        s.session_insert(&uctriage_store::Session { id: "se_2".into(), expires_ms: 900, ..session.clone() })
            .await
            .unwrap();
        assert_eq!(s.session("se_1").await.unwrap().unwrap(), session);
        assert!(s.session_delete("se_1").await.unwrap());
        assert!(!s.session_delete("se_1").await.unwrap());
        assert_eq!(s.session_purge(1000).await.unwrap(), 1);
        assert!(s.session("se_2").await.unwrap().is_none());
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rooms_resolve_by_any_name_and_merge() {
    each_backend(|s| async move {
        let a = s.room_resolve(&[("alias", "Room1@Contoso.com"), ("computer", "MTR-1")], "rm_a", 5).await.unwrap();
        assert_eq!(a, "rm_a");
        let again = s.room_resolve(&[("computer", "mtr-1")], "rm_x", 6).await.unwrap();
        assert_eq!(again, "rm_a", "names are matched without case");
        assert_eq!(
            s.room_lookup(&[("computer", "nope"), ("alias", "room1@contoso.com")]).await.unwrap().as_deref(),
            Some("rm_a")
        );
        assert_eq!(s.room_lookup(&[("computer", "MTR-2")]).await.unwrap(), None);
        let b = s.room_resolve(&[("computer", "MTR-2")], "rm_b", 7).await.unwrap();
        assert_eq!(b, "rm_b");
        assert!(s.room_resolve(&[("computer", " ")], "rm_c", 7).await.is_err());
        let patched = s
            .room_patch(
                "rm_a",
                &RoomPatch { name: Some("Board room".into()), tags: Some(vec!["4k".into()]), ..RoomPatch::default() },
            )
            .await
            .unwrap()
            .unwrap();
        assert_eq!((patched.name.as_str(), patched.tags.as_slice()), ("Board room", ["4k".to_owned()].as_slice()));
        let batch = Batch {
            room_id: "rm_b".into(),
            received_ms: 100,
            events: vec![event(9, 50, "heartbeat")],
            observations: vec![obs(0, "network", "healthy", 50)],
            ..Batch::default()
        };
        s.ingest(&batch).await.unwrap();
        s.room_merge("rm_b", "rm_a").await.unwrap();
        let b = s.room("rm_b").await.unwrap().unwrap();
        assert_eq!((b.retired, b.merged_into.as_deref()), (true, Some("rm_a")));
        assert_eq!(s.room_resolve(&[("computer", "MTR-2")], "rm_y", 8).await.unwrap(), "rm_a");
        assert_eq!(s.events("rm_a", 0, 1000, 10).await.unwrap().len(), 1);
        assert_eq!(
            (s.room_event_count("rm_a").await.unwrap(), s.room_event_count("rm_b").await.unwrap()),
            (1, 0),
            "a merged room's records count in the room it joined"
        );
        assert_eq!(s.signals("rm_a").await.unwrap().len(), 1);
        assert!(s.room_merge("rm_a", "rm_a").await.is_err());
        assert!(s.room_merge("rm_a", "rm_missing").await.is_err());
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ingest_is_idempotent_and_keeps_signal_history() {
    each_backend(|s| async move {
        let room = s.room_resolve(&[("computer", "MTR-9")], "rm_9", 0).await.unwrap();
        let batch = Batch {
            room_id: room.clone(),
            received_ms: 1_000,
            events: vec![event(1, 100, "heartbeat"), event(2, 200, "heartbeat"), event(2, 200, "heartbeat")],
            observations: vec![
                obs(0, "exchange", "healthy", 100),
                obs(1, "exchange", "unhealthy", 200),
                obs(2, "exchange", "unhealthy", 200),
            ],
            attrs: Some((
                200,
                RoomAttrs {
                    app_version: "5.2.115.0".into(),
                    alias: "mtr9@contoso.com".into(),
                    site: "Building 9".into(),
                    ..RoomAttrs::default()
                },
            )),
            timezone: Some("W. Europe Standard Time".into()),
            silence: None,
        };
        let first = s.ingest(&batch).await.unwrap();
        assert_eq!((first.accepted, first.duplicates, first.transitions), (2, 1, 2));
        let second = s.ingest(&batch).await.unwrap();
        assert_eq!(
            (second.accepted, second.duplicates, second.transitions),
            (0, 3, 0),
            "a batch sent twice counts once"
        );
        let sig = s.signals(&room).await.unwrap();
        assert_eq!((sig[0].state.as_str(), sig[0].since_ms), ("unhealthy", 200));
        let tr = s.transitions(&room, 10).await.unwrap();
        assert_eq!(
            tr.iter().map(|t| (t.from_state.as_str(), t.to_state.as_str())).collect::<Vec<_>>(),
            [("healthy", "unhealthy"), ("unknown", "healthy")]
        );
        // An older observation arriving late does not rewrite the present.
        let late = Batch {
            room_id: room.clone(),
            received_ms: 2_000,
            events: vec![event(3, 150, "heartbeat")],
            observations: vec![obs(0, "exchange", "healthy", 150)],
            ..Batch::default()
        };
        s.ingest(&late).await.unwrap();
        assert_eq!(s.signals(&room).await.unwrap()[0].state, "unhealthy");
        let r = s.room(&room).await.unwrap().unwrap();
        assert_eq!(
            (r.app_version.as_str(), r.timezone.as_str(), r.last_heard_ms, r.last_event_ms, r.dirty),
            ("5.2.115.0", "W. Europe Standard Time", 2_000, Some(200), true)
        );
        assert_eq!(
            s.events(&room, 0, 1_000, 2).await.unwrap(),
            ["{\"n\":3}", "{\"n\":2}"],
            "the newest of the window, oldest first"
        );
        assert_eq!(s.dirty_rooms().await.unwrap(), std::slice::from_ref(&room));
        s.set_diagnosis(&room, "{}", 3_000, 2_000).await.unwrap();
        assert!(s.dirty_rooms().await.unwrap().is_empty());
        // The brief list is the full one without the diagnoses.
        let full = s.rooms().await.unwrap();
        let brief = s.rooms_brief().await.unwrap();
        assert_eq!(full[0].diagnosis.as_deref(), Some("{}"));
        assert_eq!(brief[0].diagnosis, None);
        assert_eq!(brief, full.into_iter().map(|r| uctriage_store::Room { diagnosis: None, ..r }).collect::<Vec<_>>());
        assert_eq!(r.site, "Building 9", "a derived site fills an empty one");
        s.room_patch(&room, &RoomPatch { site: Some("HQ".into()), ..RoomPatch::default() }).await.unwrap();
        let newer = Batch {
            room_id: room.clone(),
            received_ms: 2_500,
            events: vec![event(4, 300, "heartbeat")],
            attrs: Some((300, RoomAttrs { site: "Building 9".into(), ..RoomAttrs::default() })),
            ..Batch::default()
        };
        s.ingest(&newer).await.unwrap();
        assert_eq!(s.room(&room).await.unwrap().unwrap().site, "HQ", "never over a site an admin set");
        assert_eq!(s.event_count().await.unwrap(), 4);
        assert_eq!(s.room_event_count(&room).await.unwrap(), 4);
        assert_eq!(s.room_event_count("rm_none").await.unwrap(), 0);
        assert_eq!(s.event_count_kind(&room, "heartbeat", 150, 200).await.unwrap(), 2);
        assert_eq!(s.event_count_kind(&room, "app-restart", 0, 1_000).await.unwrap(), 0);
        assert!(s.ingest(&Batch { room_id: "rm_none".into(), ..Batch::default() }).await.is_err());
        assert_eq!(s.events_purge(2_000).await.unwrap(), 2, "the records received before 2,000 go");
        assert_eq!(s.event_count().await.unwrap(), 2);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn silences_between_heartbeats_are_offline_turns() {
    const MIN: i64 = 60_000;
    each_backend(|s| async move {
        let room = s.room_resolve(&[("computer", "MTR-S")], "rm_s", 0).await.unwrap();
        let silence = Some(Silence { signal: "offline".into(), after_ms: 20 * MIN });
        let beats = |keys: &[(u8, i64)]| Batch {
            room_id: room.clone(),
            received_ms: 1,
            events: keys.iter().map(|&(k, t)| event(k, t, "heartbeat")).collect(),
            attrs: keys.iter().map(|k| k.1).max().map(|t| (t, RoomAttrs::default())),
            silence: silence.clone(),
            ..Batch::default()
        };
        // In one batch: 55 silent minutes, sent out of order.
        let first = s.ingest(&beats(&[(1, 0), (3, 60 * MIN), (2, 5 * MIN)])).await.unwrap();
        assert_eq!(first.transitions, 2);
        // Across batches: two hours after the newest stored heartbeat; then the same batch again,
        // and one older than what is stored.
        let second = beats(&[(4, 180 * MIN), (5, 185 * MIN)]);
        assert_eq!(s.ingest(&second).await.unwrap().transitions, 2);
        assert_eq!(s.ingest(&second).await.unwrap().transitions, 0, "a batch sent again adds nothing");
        assert_eq!(s.ingest(&beats(&[(6, 30 * MIN)])).await.unwrap().transitions, 0);
        let mut tr = s.transitions(&room, 10).await.unwrap();
        tr.reverse();
        assert_eq!(
            tr.iter().map(|t| (t.to_state.as_str(), t.at_ms / MIN)).collect::<Vec<_>>(),
            [("unhealthy", 25), ("healthy", 60), ("unhealthy", 80), ("healthy", 180)]
        );
        assert!(tr[0].status.contains("55 minutes"), "{}", tr[0].status);
        // Without a silence set, heartbeats are only records.
        let quiet = Batch { silence: None, ..beats(&[(7, 600 * MIN)]) };
        assert_eq!(s.ingest(&quiet).await.unwrap().transitions, 0);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reports_secrets_and_backup() {
    each_backend(|s| async move {
        let r = ReportRow {
            id: "rp_1".into(),
            room_id: None,
            name: "MTR-Logs.zip".into(),
            status: "queued".into(),
            size: 2048,
            created_ms: 10,
            finished_ms: None,
            file: Some("uploads/rp_1".into()),
            report: None,
            error: None,
            report_redacted: None,
        };
        s.report_insert(&r).await.unwrap();
        assert_eq!(s.reports_queued().await.unwrap().len(), 1);
        assert_eq!(s.upload_bytes().await.unwrap(), 2048);
        let json = ReportJson { whole: "{\"verdict\":\"healthy\"}", redacted: "{\"redacted\":true}" };
        s.report_finish("rp_1", "done", Some(json), None, 20).await.unwrap();
        assert!(s.reports_queued().await.unwrap().is_empty());
        assert_eq!(s.reports_expired(11).await.unwrap().len(), 1);
        s.report_drop_file("rp_1").await.unwrap();
        assert_eq!(s.upload_bytes().await.unwrap(), 0);
        let done = s.report("rp_1").await.unwrap().unwrap();
        assert_eq!(
            (done.report.as_deref(), done.report_redacted.as_deref()),
            (Some("{\"verdict\":\"healthy\"}"), Some("{\"redacted\":true}"))
        );
        s.secret_put("webhook", b"sealed", 1).await.unwrap();
        s.secret_put("webhook", b"sealed2", 2).await.unwrap();
        assert_eq!(s.secret_get("webhook").await.unwrap().as_deref(), Some(&b"sealed2"[..]));
        s.ping().await.unwrap();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("backup.db");
        match s.backend() {
            uctriage_store::Backend::Sqlite => {
                s.backup(&path).await.unwrap();
                let copy = uctriage_store::open(&path.display().to_string()).await.unwrap();
                assert_eq!(copy.report("rp_1").await.unwrap().unwrap().name, "MTR-Logs.zip");
                assert!(s.backup(&path).await.is_err(), "never overwrites");
            }
            uctriage_store::Backend::Postgres => {
                assert!(s.backup(&path).await.unwrap_err().to_string().contains("pg_dump"));
            }
        }
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn incidents_are_written_listed_paged_and_acknowledged() {
    use uctriage_store::{Incident, IncidentChange, IncidentFilter, RoomGuard};
    each_backend(|s| async move {
        let mk = |id: &str, scope: &str, room: Option<&str>, opened: i64, state: &str| Incident {
            id: id.into(),
            scope: scope.into(),
            room_id: room.map(str::to_owned),
            signal: "exchange".into(),
            severity: "critical".into(),
            state: state.into(),
            started_ms: opened - 10,
            opened_ms: opened,
            resolved_ms: (state == "resolved").then_some(opened + 5),
            updated_ms: opened,
            reopened: 0,
            parent_id: None,
            rule: "rooms.resource-account.mfa-required".into(),
            summary: "MFA".into(),
            finding: Some("{}".into()),
            ack_ms: None,
            ack_by: None,
            ack_note: None,
        };
        let changes: Vec<IncidentChange> = (0..5)
            .map(|n| {
                IncidentChange::new(
                    mk(&format!("in{n}"), "room", Some("rm1"), 100 + n, if n == 0 { "resolved" } else { "open" }),
                    vec![(100 + n, "opened".into(), String::new(), Some("rm1".into()))],
                )
            })
            .collect();
        let rm1 = s.room_resolve(&[("computer", "MTR-1")], "rm1", 0).await.unwrap();
        let guard = |rev| Some(RoomGuard { room_id: &rm1, rev, judged_seq: Some(7) });
        assert!(s.incidents_write(&changes, &[], guard(0)).await.unwrap());
        // A second evaluation made from the same reading is refused, and writes nothing.
        let mut stale = changes[1].clone();
        stale.incident.state = "resolved".into();
        assert!(!s.incidents_write(&[stale], &[], guard(0)).await.unwrap(), "written in between: refused");
        let r = s.room(&rm1).await.unwrap().unwrap();
        assert_eq!((r.incidents_seq, r.incidents_rev), (7, 1));
        assert_eq!(s.incident("in1").await.unwrap().unwrap().state, "open");
        let open = IncidentFilter { state: Some("open".into()), ..IncidentFilter::default() };
        let first = s.incidents(&open, &Page { limit: 2, after: None }).await.unwrap();
        assert_eq!(first.iter().map(|i| i.id.as_str()).collect::<Vec<_>>(), ["in4", "in3"]);
        let cursor = format!("{}:{}", first[1].opened_ms, first[1].id);
        let next = s.incidents(&open, &Page { limit: 10, after: Some(cursor) }).await.unwrap();
        assert_eq!(next.iter().map(|i| i.id.as_str()).collect::<Vec<_>>(), ["in2", "in1"]);
        // Rewriting keeps the acknowledgement.
        assert!(s.incident_ack("in1", 500, "tk1", "looking").await.unwrap());
        assert!(!s.incident_ack("nope", 500, "tk1", "").await.unwrap());
        // A fleet incident taking a room's incident in writes its link alone.
        let mut again = mk("in1", "room", Some("rm1"), 101, "resolved");
        again.parent_id = Some("inf".into());
        s.incidents_write(
            &[
                IncidentChange { link_only: true, ..IncidentChange::new(again.clone(), Vec::new()) },
                IncidentChange::new(
                    mk("inf", "fleet", None, 600, "open"),
                    vec![(600, "joined".into(), "x".into(), Some(rm1.clone()))],
                ),
            ],
            &[],
            None,
        )
        .await
        .unwrap();
        let i = s.incident("in1").await.unwrap().unwrap();
        assert_eq!(
            (i.ack_note.as_deref(), i.parent_id.as_deref(), i.state.as_str()),
            (Some("looking"), Some("inf"), "open"),
            "the link alone is written"
        );
        let log = s.incident_log("in1").await.unwrap();
        assert_eq!(log.iter().map(|l| l.what.as_str()).collect::<Vec<_>>(), ["opened", "acknowledged"]);
        assert_eq!(s.incident_log("inf").await.unwrap().len(), 1);
        let kids = s
            .incidents(
                &IncidentFilter { parent_id: Some("inf".into()), ..IncidentFilter::default() },
                &Page { limit: 10, after: None },
            )
            .await
            .unwrap();
        assert_eq!(kids.len(), 1);
        let by_room =
            IncidentFilter { room_id: Some("rm1".into()), scope: Some("room".into()), ..IncidentFilter::default() };
        assert_eq!(s.incidents(&by_room, &Page { limit: 100, after: None }).await.unwrap().len(), 5);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn incident_spans_carry_the_times_the_history_needs() {
    use uctriage_store::{Incident, IncidentChange};
    each_backend(|s| async move {
        let mk =
            |id: &str, scope: &str, room: Option<&str>, signal: &str, started: i64, resolved: Option<i64>| Incident {
                id: id.into(),
                scope: scope.into(),
                room_id: room.map(str::to_owned),
                signal: signal.into(),
                severity: "critical".into(),
                state: if resolved.is_some() { "resolved" } else { "open" }.into(),
                started_ms: started,
                opened_ms: started + 10,
                resolved_ms: resolved,
                updated_ms: started,
                reopened: 0,
                parent_id: None,
                rule: String::new(),
                summary: String::new(),
                finding: Some("x".repeat(10_000)),
                ack_ms: None,
                ack_by: None,
                ack_note: None,
            };
        let log = |entries: &[(i64, &str)]| -> Vec<(i64, String, String, Option<String>)> {
            entries
                .iter()
                .map(|(at, what)| (*at, (*what).to_owned(), "status".to_owned(), Some("rm1".into())))
                .collect()
        };
        // Resolved at 60, reopened at 1,000 (when the relapse's watch had passed), resolved at
        // 1,100, reopened again at 2,000 and still open; with a cause change in between.
        let mut again = mk("in-re", "room", Some("rm1"), "exchange:x|y;z", 0, None);
        again.reopened = 2;
        let changes = [
            IncidentChange::new(
                again,
                log(&[
                    (10, "opened"),
                    (60, "resolved"),
                    (1_000, "reopened"),
                    (1_050, "cause"),
                    (1_100, "resolved"),
                    (2_000, "reopened"),
                ]),
            ),
            IncidentChange::new(
                mk("in-old", "room", Some("rm1"), "network", 0, Some(50)),
                log(&[(10, "opened"), (50, "resolved")]),
            ),
            IncidentChange::new(
                mk("in-b", "room", Some("rm2"), "network", 500, Some(700)),
                log(&[(510, "opened"), (700, "resolved")]),
            ),
            IncidentChange::new(
                mk("in-f", "fleet", None, "rule", 500, None),
                vec![(510, "opened".into(), String::new(), None)],
            ),
        ];
        s.incidents_write(&changes, &[], None).await.unwrap();
        // Resolved before 100: left out; fleet incidents too.
        let mut all = s.incident_spans(None, 100).await.unwrap();
        all.sort_by(|a, b| a.room_id.cmp(&b.room_id));
        assert_eq!(all.len(), 2, "{all:?}");
        let re = &all[0];
        assert_eq!(
            (re.room_id.as_str(), re.signal.as_str(), re.started_ms, re.resolved_ms),
            ("rm1", "exchange:x|y;z", 0, None)
        );
        let got: Vec<(i64, &str)> = re.log.iter().map(|(at, w)| (*at, w.as_str())).collect();
        assert_eq!(got, [(60, "resolved"), (1_000, "reopened"), (1_100, "resolved"), (2_000, "reopened")]);
        assert!(all[1].log.is_empty(), "never reopened: no entries needed");
        let one = s.incident_spans(Some("rm2"), 0).await.unwrap();
        assert_eq!((one.len(), one[0].resolved_ms), (1, Some(700)));
        assert!(s.incident_spans(Some("nope"), 0).await.unwrap().is_empty());
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_nul_character_is_a_refused_value_not_a_database_failure() {
    each_backend(|s| async move {
        let r = s.room_resolve(&[("computer", "MTR-\u{0}-1")], "rm_nul", 1).await;
        match s.backend() {
            // SQLite text holds U+0000.
            uctriage_store::Backend::Sqlite => assert_eq!(r.unwrap(), "rm_nul"),
            // PostgreSQL's cannot: the caller gets Invalid (a 422), not Db (a 500).
            uctriage_store::Backend::Postgres => {
                assert!(matches!(r, Err(uctriage_store::StoreError::Invalid(_))), "{r:?}");
            }
        }
    })
    .await;
}

/// The batches of a small story for rooms `x` and `y`, keys made distinct by `salt`: repeats
/// within and across batches, an observation older than the signal's last, attributes older
/// and newer than the room's newest heartbeat, an empty value that keeps the stored one, and a
/// derived site that only fills an empty one.
fn story(x: &str, y: &str, salt: u8) -> Vec<Batch> {
    let ev = |k: u8, t: i64| NewEvent { key: vec![k, salt], ..event(k, t, "heartbeat") };
    let attrs = |at: i64, f: &dyn Fn(&mut RoomAttrs)| {
        let mut a = RoomAttrs::default();
        f(&mut a);
        Some((at, a))
    };
    vec![
        Batch {
            room_id: x.into(),
            received_ms: 1_000,
            events: vec![ev(1, 100), ev(2, 200), ev(2, 200)],
            observations: vec![
                obs(0, "exchange", "healthy", 100),
                obs(1, "exchange", "unhealthy", 200),
                obs(2, "exchange", "unhealthy", 200),
            ],
            attrs: attrs(200, &|a| {
                a.app_version = "5.2.115.0".into();
                a.alias = "x@contoso.com".into();
            }),
            timezone: Some("W. Europe Standard Time".into()),
            silence: None,
        },
        Batch {
            room_id: y.into(),
            received_ms: 1_100,
            events: vec![ev(3, 150)],
            observations: vec![obs(0, "network", "healthy", 150)],
            attrs: attrs(150, &|a| {
                a.computer = "Y-PC".into();
                a.site = "Site 1".into();
            }),
            timezone: None,
            silence: None,
        },
        Batch {
            room_id: x.into(),
            received_ms: 1_200,
            events: vec![ev(2, 200), ev(4, 300)],
            observations: vec![obs(0, "exchange", "unhealthy", 200), obs(1, "exchange", "healthy", 300)],
            attrs: attrs(100, &|a| a.app_version = "5.1.0.0".into()),
            timezone: None,
            silence: None,
        },
        Batch {
            room_id: x.into(),
            received_ms: 900,
            events: vec![ev(5, 50)],
            observations: vec![obs(0, "exchange", "unhealthy", 50)],
            attrs: attrs(300, &|a| a.computer = "X-PC".into()),
            timezone: Some(String::new()),
            silence: None,
        },
        Batch {
            room_id: y.into(),
            received_ms: 1_300,
            events: vec![ev(3, 150), ev(6, 160)],
            observations: vec![obs(1, "network", "unhealthy", 160)],
            attrs: attrs(150, &|a| a.site = "Site 2".into()),
            timezone: Some("Pacific Standard Time".into()),
            silence: None,
        },
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn batches_stored_together_end_as_if_stored_one_after_the_other() {
    each_backend(|s| async move {
        for (id, computer) in [("rm_x1", "X1"), ("rm_y1", "Y1"), ("rm_x2", "X2"), ("rm_y2", "Y2")] {
            s.room_resolve(&[("computer", computer)], id, 0).await.unwrap();
        }
        let mut one_by_one = Vec::new();
        for b in story("rm_x1", "rm_y1", 1) {
            one_by_one.push(s.ingest(&b).await.unwrap());
        }
        let together = s.ingest_many(&story("rm_x2", "rm_y2", 2)).await.unwrap();
        assert_eq!(one_by_one, together);
        assert_eq!(
            together.iter().map(|i| (i.accepted, i.duplicates, i.transitions)).collect::<Vec<_>>(),
            [(2, 1, 2), (1, 0, 1), (1, 1, 1), (1, 0, 0), (1, 1, 1)]
        );
        for (a, b) in [("rm_x1", "rm_x2"), ("rm_y1", "rm_y2")] {
            let (ra, rb) = (s.room(a).await.unwrap().unwrap(), s.room(b).await.unwrap().unwrap());
            let same = |r: &uctriage_store::Room| {
                (
                    r.computer.clone(),
                    r.alias.clone(),
                    r.app_version.clone(),
                    r.site.clone(),
                    r.timezone.clone(),
                    r.last_heard_ms,
                    r.last_heartbeat_ms,
                    r.last_event_ms,
                    r.dirty,
                )
            };
            assert_eq!(same(&ra), same(&rb), "{a} and {b}");
            assert_eq!(s.signals(a).await.unwrap(), s.signals(b).await.unwrap());
            let tr = |t: Vec<uctriage_store::Transition>| {
                t.into_iter().map(|t| (t.signal, t.from_state, t.to_state, t.at_ms)).collect::<Vec<_>>()
            };
            assert_eq!(tr(s.transitions(a, 50).await.unwrap()), tr(s.transitions(b, 50).await.unwrap()));
            assert_eq!(s.room_event_count(a).await.unwrap(), s.room_event_count(b).await.unwrap());
        }
        let x = s.room("rm_x2").await.unwrap().unwrap();
        assert_eq!(
            (x.computer.as_str(), x.app_version.as_str(), x.last_heartbeat_ms, x.timezone.as_str()),
            ("X-PC", "5.2.115.0", Some(300), "W. Europe Standard Time")
        );
        let y = s.room("rm_y2").await.unwrap().unwrap();
        assert_eq!((y.site.as_str(), y.timezone.as_str()), ("Site 1", "Pacific Standard Time"));
        // A group naming a room that does not exist stores nothing.
        let mut bad = story("rm_x2", "rm_none", 3);
        bad.truncate(2);
        assert!(s.ingest_many(&bad).await.is_err());
        assert_eq!(s.room_event_count("rm_x2").await.unwrap(), 4);
    })
    .await;
}

/// Bodies are stored packed; rows written before that hold their JSON in `body`, and both kinds
/// read back as the JSON that was ingested, in time order, on either database.
#[tokio::test]
async fn events_stored_before_bodies_were_packed_still_read_back() {
    async fn unpack_second(url: &str) {
        let sql = "UPDATE events SET body = '{\"n\":2}', body_packed = NULL WHERE record_id = 2";
        if url.starts_with("postgres") {
            let mut c = <sqlx::PgConnection as sqlx::Connection>::connect(url).await.unwrap();
            sqlx::query(sql).execute(&mut c).await.unwrap();
        } else {
            let mut c =
                <sqlx::SqliteConnection as sqlx::Connection>::connect(&format!("sqlite://{url}")).await.unwrap();
            sqlx::query(sql).execute(&mut c).await.unwrap();
        }
    }
    async fn check(s: Arc<dyn Store>, url: &str) {
        let room = s.room_resolve(&[("computer", "MTR-P")], "rm_p", 0).await.unwrap();
        let batch = Batch {
            room_id: room.clone(),
            received_ms: 1_000,
            events: vec![event(1, 100, "heartbeat"), event(2, 200, "heartbeat"), event(3, 300, "heartbeat")],
            ..Batch::default()
        };
        assert_eq!(s.ingest(&batch).await.unwrap().accepted, 3);
        unpack_second(url).await;
        assert_eq!(s.events(&room, 0, 1_000, 10).await.unwrap(), [r#"{"n":1}"#, r#"{"n":2}"#, r#"{"n":3}"#]);
        // A packed body that cannot be read is an error naming the room, not a panic.
        let damage = "UPDATE events SET body_packed = X'01FFFF' WHERE record_id = 3";
        if url.starts_with("postgres") {
            let mut c = <sqlx::PgConnection as sqlx::Connection>::connect(url).await.unwrap();
            sqlx::query(&damage.replace("X'01FFFF'", "'\\x01ffff'::bytea")).execute(&mut c).await.unwrap();
        } else {
            let mut c =
                <sqlx::SqliteConnection as sqlx::Connection>::connect(&format!("sqlite://{url}")).await.unwrap();
            sqlx::query(damage).execute(&mut c).await.unwrap();
        }
        let e = s.events(&room, 0, 1_000, 10).await.unwrap_err().to_string();
        assert!(e.contains("room rm_p") && e.contains("cannot be read"), "{e}");
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("fleet.db").display().to_string();
    check(uctriage_store::open(&path).await.unwrap(), &path).await;
    if let Some(db) = pg::Database::create().await {
        check(uctriage_store::open(&db.url).await.unwrap(), &db.url).await;
        db.drop().await;
    }
}

/// A record without a time is kept once however often it is sent, and no time window returns it.
#[tokio::test]
async fn records_without_a_time_count_once_and_stay_out_of_windows() {
    each_backend(|s| async move {
        let room = s.room_resolve(&[("computer", "MTR-T")], "rm_t", 0).await.unwrap();
        let timeless = NewEvent { time_ms: None, ..event(7, 0, "event") };
        let batch = Batch {
            room_id: room.clone(),
            received_ms: 1_000,
            events: vec![timeless.clone(), event(8, 500, "heartbeat"), timeless],
            ..Batch::default()
        };
        let first = s.ingest(&batch).await.unwrap();
        assert_eq!((first.accepted, first.duplicates), (2, 1));
        let again = s.ingest(&batch).await.unwrap();
        assert_eq!((again.accepted, again.duplicates), (0, 3), "a batch sent twice counts once");
        assert_eq!(s.room_event_count(&room).await.unwrap(), 2);
        assert_eq!(s.events(&room, i64::MIN, i64::MAX, 10).await.unwrap(), [r#"{"n":8}"#]);
        assert_eq!(s.event_count_kind(&room, "event", i64::MIN, i64::MAX).await.unwrap(), 0);
    })
    .await;
}
