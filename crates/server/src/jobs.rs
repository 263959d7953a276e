//! Background work: scanning uploaded bundles, diagnosing rooms with new records, and removing
//! uploads past their retention period.

use std::sync::Arc;
use std::time::Duration;

use uctriage_scan::{
    diagnose_records, scan_whole_and_redacted, Evidence, InputReport, InputStatus, Keep, ScanOptions, Scanned, Source,
};

use crate::auth::{Caller, Role};
use crate::App;

/// How far back a room's diagnosis looks from its newest record.
pub const DIAGNOSIS_WINDOW_MS: i64 = 24 * 3600 * 1000;
/// Most records one diagnosis reads.
pub const DIAGNOSIS_RECORDS: u32 = 50_000;
/// Most records of one upload kept in the room's history.
const UPLOAD_RECORDS: usize = 200_000;

/// Run the workers until the process ends.
pub fn spawn(app: &Arc<App>) {
    let a = app.clone();
    tokio::spawn(async move {
        loop {
            if let Err(e) = diagnose_dirty(&a).await {
                tracing::warn!("room diagnosis: {e}");
            }
            let _ = tokio::time::timeout(Duration::from_secs(2), a.diagnose.notified()).await;
            // Let a burst of batches land before judging again.
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    });
    let a = app.clone();
    tokio::spawn(async move {
        loop {
            if let Err(e) = scan_queued(&a).await {
                tracing::warn!("upload scan: {e}");
            }
            let _ = tokio::time::timeout(Duration::from_secs(5), a.reports.notified()).await;
        }
    });
    let a = app.clone();
    tokio::spawn(async move {
        loop {
            if let Err(e) = crate::alerts::deliver_due(&a).await {
                tracing::warn!("alert delivery: {e}");
            }
            let _ = tokio::time::timeout(Duration::from_secs(1), a.alerts.notified()).await;
        }
    });
    let a = app.clone();
    tokio::spawn(async move {
        // Time passes without records too: offline rooms and elapsing watch periods.
        loop {
            tokio::time::sleep(Duration::from_secs(a.sweep_secs)).await;
            if let Err(e) = evaluate_all(&a).await {
                tracing::warn!("incident sweep: {e}");
            }
        }
    });
    let a = app.clone();
    tokio::spawn(async move {
        loop {
            if let Err(e) = expire_uploads(&a).await {
                tracing::warn!("upload retention: {e}");
            }
            tokio::time::sleep(Duration::from_secs(3600)).await;
        }
    });
}

/// Diagnose every room with records newer than its diagnosis.
///
/// After each room the worker rests twice as long as that room took, so that diagnosing keeps
/// to about a third of one core however many rooms are waiting: with every room sending, back
/// to back diagnoses took a core of the two the ingest needed (at 1,000 batches a second the
/// slowest answers went from about 40 ms to over 100 ms). A room's diagnosis can lag; its
/// records are stored and its signals current all the same.
pub async fn diagnose_dirty(app: &Arc<App>) -> Result<(), String> {
    for id in app.store.dirty_rooms().await.map_err(|e| e.to_string())? {
        let started = std::time::Instant::now();
        diagnose_room(app, &id).await?;
        tokio::time::sleep(started.elapsed() * 2).await;
    }
    Ok(())
}

/// Run the rules on a room's recent records, as `scan` would on the same records.
pub async fn diagnose_room(app: &Arc<App>, id: &str) -> Result<(), String> {
    let Some(room) = app.store.room(id).await.map_err(|e| e.to_string())? else { return Ok(()) };
    let newest = room.last_event_ms.unwrap_or(room.last_heard_ms);
    let bodies = app
        .store
        .events(id, newest - DIAGNOSIS_WINDOW_MS, newest, DIAGNOSIS_RECORDS)
        .await
        .map_err(|e| e.to_string())?;
    let rules = app.rules.clone();
    let label = format!("rooms/{id}");
    let report = tokio::task::spawn_blocking(move || {
        let records = bodies.iter().filter_map(|b| crate::ingest::stored_record(b)).map(|mut e| {
            // One container per room, so rules that correlate within a container see all of it.
            e.path = format!("{label}!{}", e.path.replace('!', "/"));
            e
        });
        let input = InputReport {
            path: label.clone(),
            format: "fleet-store".into(),
            status: InputStatus::Read,
            records: bodies.len() as u64,
            bytes: bodies.iter().map(|b| b.len() as u64).sum(),
            warnings: Vec::new(),
        };
        diagnose_records(records, &[input], &rules)
    })
    .await
    .map_err(|e| e.to_string())?;
    let json = serde_json::to_string(&report).map_err(|e| e.to_string())?;
    app.store.set_diagnosis(id, &json, app.clock.now_ms(), room.last_heard_ms).await.map_err(|e| e.to_string())?;
    app.metrics.diagnoses.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    evaluate_incidents(app, id).await
}

/// The alerts incident changes cause.
async fn plan_alerts(
    app: &Arc<App>,
    changes: &mut [uctriage_store::IncidentChange],
) -> Result<Vec<uctriage_store::Alert>, String> {
    if changes.is_empty() {
        return Ok(Vec::new());
    }
    let err = |e: uctriage_store::StoreError| e.to_string();
    // Suppressed rooms and signals: their transitions are recorded, marked, and not alerted.
    let quiet_rooms: std::collections::BTreeSet<String> =
        changes.iter().filter_map(|c| c.incident.room_id.clone()).collect();
    let mut suppressions = Vec::new();
    for r in &quiet_rooms {
        suppressions.extend(app.store.suppressions(Some(r)).await.map_err(err)?);
    }
    // A suppression quiets what is alerted while it lasts, whenever the transition happened.
    let now = app.clock.now_ms();
    let covering = |i: &uctriage_store::Incident, _at: i64| {
        suppressions
            .iter()
            .find(|s| i.room_id.as_deref() == Some(s.room_id.as_str()) && s.covers(&i.signal, now))
            .map(|s| s.reason.clone())
    };
    for c in changes.iter_mut() {
        let marks: Vec<_> = c
            .log
            .iter()
            .filter(|l| matches!(l.1.as_str(), "opened" | "reopened" | "cause" | "resolved"))
            .filter_map(|l| {
                covering(&c.incident, l.0).map(|reason| (l.0, "suppressed".to_owned(), reason, l.3.clone()))
            })
            .collect();
        c.log.extend(marks);
    }
    // Maintenance windows, in each room's local time, quiet what would be alerted now.
    let windows = app.store.windows().await.map_err(err)?;
    let mut in_window = std::collections::BTreeSet::new();
    if !windows.is_empty() {
        for id in &quiet_rooms {
            if let Some(room) = app.store.room(id).await.map_err(err)? {
                if let Some(w) = windows.iter().find(|w| crate::windows::covers(w, &room, now)) {
                    in_window.insert((id.clone(), w.reason.clone()));
                }
            }
        }
    }
    for c in changes.iter_mut() {
        let Some((_, reason)) = in_window.iter().find(|(r, _)| c.incident.room_id.as_deref() == Some(r.as_str()))
        else {
            continue;
        };
        let marks: Vec<_> = c
            .log
            .iter()
            .filter(|l| matches!(l.1.as_str(), "opened" | "reopened" | "cause" | "resolved"))
            .map(|l| (l.0, "maintenance".to_owned(), reason.clone(), l.3.clone()))
            .collect();
        c.log.extend(marks);
    }
    let quiet = |i: &uctriage_store::Incident, at: i64| {
        covering(i, at).is_some() || in_window.iter().any(|(r, _)| i.room_id.as_deref() == Some(r.as_str()))
    };
    let hooks = app.store.webhooks().await.map_err(err)?;
    if hooks.is_empty() {
        return Ok(Vec::new());
    }
    let rooms = app.store.rooms_brief().await.map_err(err)?;
    let find = |id: &str| rooms.iter().find(|r| r.id == id);
    let site_of = |id: &str| find(id).map(|r| r.site.clone()).unwrap_or_default();
    let name_of = |id: &str| find(id).map_or_else(|| id.to_owned(), |r| r.label().to_owned());
    let at =
        crate::alerts::PlanAt { now_ms: app.clock.now_ms(), public_url: &app.public_url(), hold_ms: app.alert_hold_ms };
    let mut planned = crate::alerts::plan(changes, &hooks, &site_of, &name_of, &quiet, at);
    // A fleet incident's alert names its rooms.
    for a in &mut planned {
        if let Some(c) = changes.iter().find(|c| c.incident.id == a.incident_id && c.incident.scope == "fleet") {
            let members: std::collections::BTreeSet<String> = changes
                .iter()
                .filter(|m| m.incident.parent_id.as_deref() == Some(c.incident.id.as_str()))
                .filter_map(|m| m.incident.room_id.as_deref().map(name_of))
                .collect();
            if !members.is_empty() {
                if let Ok(mut v) = serde_json::from_str::<serde_json::Value>(&a.body) {
                    let names: Vec<String> = members.into_iter().collect();
                    if let Some(d) = v.get_mut("data") {
                        d["rooms"] = serde_json::json!(names);
                    } else if let Some(facts) =
                        v.pointer_mut("/attachments/0/content/body/1/facts").and_then(|f| f.as_array_mut())
                    {
                        if let Some(f) = facts.iter_mut().find(|f| f["title"] == "Rooms") {
                            f["value"] = serde_json::json!(names
                                .iter()
                                .map(|n| crate::alerts::card_text(n))
                                .collect::<Vec<_>>()
                                .join(", "));
                        }
                    }
                    a.body = v.to_string();
                }
            }
        }
    }
    Ok(planned)
}

/// Every room's incidents, at the server's now.
pub async fn evaluate_all(app: &Arc<App>) -> Result<(), String> {
    for room in app.store.rooms_brief().await.map_err(|e| e.to_string())? {
        // A room with records waiting for their diagnosis is judged right after it, with the
        // root cause the new records give.
        if !room.dirty {
            evaluate_incidents(app, &room.id).await?;
        }
    }
    Ok(())
}

/// Bring one room's incidents up to date, then the fleet incidents of the causes it touches.
pub async fn evaluate_incidents(app: &Arc<App>, id: &str) -> Result<(), String> {
    use uctriage_store::{IncidentFilter, Page};
    let err = |e: uctriage_store::StoreError| e.to_string();
    let page = Page { limit: 1000, after: None };
    // Another evaluation of the room (the other server instance, or this one's sweep beside a
    // diagnosis) may write between the reading and the writing: the write is then refused and
    // the room judged again on what that one wrote, so no change is judged (or alerted) twice.
    let mut rules = std::collections::BTreeSet::new();
    for attempt in 1..=5 {
        let Some(room) = app.store.room(id).await.map_err(err)? else { return Ok(()) };
        let rows = app.store.signals(id).await.map_err(err)?;
        let mine = app
            .store
            .incidents(
                &IncidentFilter {
                    scope: Some("room".into()),
                    room_id: Some(id.to_owned()),
                    ..IncidentFilter::default()
                },
                &page,
            )
            .await
            .map_err(err)?;
        let cause = room.diagnosis.as_deref().and_then(crate::incidents::Cause::of_report);
        let transitions = app.store.transitions_since(id, room.incidents_seq).await.map_err(err)?;
        let judged = transitions.iter().map(|t| t.seq).max().filter(|s| *s > room.incidents_seq);
        let mut changes = crate::incidents::evaluate_room(
            &room,
            &rows,
            &transitions,
            &mine,
            cause.as_ref(),
            app.clock.now_ms(),
            app.settle_ms,
        );
        rules = mine.iter().filter(|i| i.parent_id.is_some() || i.state == "open").map(|i| i.rule.clone()).collect();
        rules.extend(changes.iter().map(|c| c.incident.rule.clone()));
        rules.remove("");
        let alerts = plan_alerts(app, &mut changes).await?;
        let guard = uctriage_store::RoomGuard { room_id: id, rev: room.incidents_rev, judged_seq: judged };
        if app.store.incidents_write(&changes, &alerts, Some(guard)).await.map_err(err)? {
            if !alerts.is_empty() {
                app.alerts.notify_one();
            }
            break;
        }
        if attempt == 5 {
            return Err(format!("room {id}: its incidents kept changing while judged; trying again on the next pass"));
        }
        tracing::debug!(room = id, attempt, "incidents written by another evaluation meanwhile; judging again");
    }
    if rules.is_empty() {
        return Ok(());
    }
    let fleet_rooms =
        app.store.rooms_brief().await.map_err(err)?.iter().filter(|r| !r.retired && r.merged_into.is_none()).count();
    for rule in rules {
        let by_rule = |scope: &str, state: Option<&str>| IncidentFilter {
            scope: Some(scope.into()),
            state: state.map(str::to_owned),
            rule: Some(rule.clone()),
            ..IncidentFilter::default()
        };
        let open = app.store.incidents(&by_rule("room", Some("open")), &page).await.map_err(err)?;
        let fleet = app.store.incidents(&by_rule("fleet", Some("open")), &page).await.map_err(err)?;
        let children = match fleet.first() {
            Some(f) => app
                .store
                .incidents(&IncidentFilter { parent_id: Some(f.id.clone()), ..IncidentFilter::default() }, &page)
                .await
                .map_err(err)?,
            None => Vec::new(),
        };
        let mut changes =
            crate::incidents::correlate(&rule, &open, fleet.first(), &children, fleet_rooms, app.clock.now_ms());
        let alerts = plan_alerts(app, &mut changes).await?;
        app.store.incidents_write(&changes, &alerts, None).await.map_err(err)?;
        if !alerts.is_empty() {
            app.alerts.notify_one();
        }
    }
    Ok(())
}

/// Scan queued uploads one at a time; their Teams Rooms records join the room's history.
pub async fn scan_queued(app: &Arc<App>) -> Result<(), String> {
    for row in app.store.reports_queued().await.map_err(|e| e.to_string())? {
        let Some(file) = row.file.clone() else { continue };
        let now = app.clock.now_ms();
        app.store.report_finish(&row.id, "running", None, None, now).await.map_err(|e| e.to_string())?;
        let rules = app.rules.clone();
        let name = row.name.clone();
        let scanned = tokio::task::spawn_blocking(move || {
            // One reading gives the report, its redacted form (the dashboard's shareable view,
            // with the names read from the bundle) and the records to file under the room.
            let wanted = |e: &Evidence| is_rooms_record(e) || !e.codes.is_empty();
            let keep = Keep { wanted: &wanted, most: UPLOAD_RECORDS };
            scan_whole_and_redacted(
                &[Source::Path(file.into())],
                &rules,
                &ScanOptions::default(),
                &keep,
                &mut |_, _| {},
            )
            .map(|mut s| {
                for e in &mut s.kept {
                    e.path = format!("{name}!{}", e.path.rsplit_once('!').map_or(e.path.as_str(), |(_, p)| p));
                }
                s
            })
        })
        .await
        .map_err(|e| e.to_string())?;
        let finished = app.clock.now_ms();
        match scanned {
            Ok(Scanned { whole, redacted, kept: records }) => {
                let json = serde_json::to_string(&whole).map_err(|e| e.to_string())?;
                let redacted = serde_json::to_string(&redacted).map_err(|e| e.to_string())?;
                // An upload files its records as the uploader would: under the given room, or by
                // the computer each record names.
                let caller = Caller { token_id: "upload".into(), role: Role::Admin, room: None };
                let stored = if records.iter().any(is_rooms_record) || row.room_id.is_some() {
                    crate::ingest::store_records(app, &caller, row.room_id.as_deref(), None, records)
                        .await
                        .map_err(|p| p.detail)
                } else {
                    Ok(crate::ingest::IngestResponse::default())
                };
                let note = stored.err();
                app.store
                    .report_finish(
                        &row.id,
                        "done",
                        Some(uctriage_store::ReportJson { whole: &json, redacted: &redacted }),
                        note.as_deref(),
                        finished,
                    )
                    .await
                    .map_err(|e| e.to_string())?;
            }
            Err(e) => {
                app.store
                    .report_finish(&row.id, "failed", None, Some(&e.to_string()), finished)
                    .await
                    .map_err(|e| e.to_string())?;
            }
        }
    }
    Ok(())
}

fn is_rooms_record(e: &Evidence) -> bool {
    matches!(e.kind.as_str(), "heartbeat" | "hardware" | "app-restart")
}

/// Delete upload files past the retention period (their reports stay), and raw records past
/// theirs. A room's history is kept by its incidents, so it survives: the records are needed only
/// for the diagnosis of the last day and for incidents not judged yet.
pub async fn expire_uploads(app: &Arc<App>) -> Result<(), String> {
    let raw_before = app.clock.now_ms() - i64::from(app.raw_retention_days) * 86_400_000;
    let purged = app.store.events_purge(raw_before).await.map_err(|e| e.to_string())?;
    if purged > 0 {
        tracing::info!(purged, "records past their retention deleted");
    }
    let before = app.clock.now_ms() - i64::from(app.retention_days) * 86_400_000;
    for row in app.store.reports_expired(before).await.map_err(|e| e.to_string())? {
        if let Some(f) = &row.file {
            let _ = tokio::fs::remove_file(f).await;
        }
        app.store.report_drop_file(&row.id).await.map_err(|e| e.to_string())?;
    }
    Ok(())
}
