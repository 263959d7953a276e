//! The history page: fleet availability per signal by day (a chart drawn on the server, and the
//! same numbers as a table), a calendar of unhealthy days per room, the least and most reliable
//! rooms, and the CSV the API gives, downloadable with the session.
//!
//! Everything comes from `api::history`, called with the session's caller: the page shows what
//! `GET /api/v1/history` answers.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use axum::extract::{Query, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::Response;
use axum::routing::get;
use axum::Router;
use maud::{html, Markup};
use serde::Deserialize;

use super::{drawn, layout, page, svg, PageError, PageResult, User};
use crate::api::{self, HistoryQuery};
use crate::App;

/// The periods offered, in days.
const PERIODS: [u32; 3] = [7, 28, 90];
/// At most this many rooms in each of the reliability lists.
const LIST: usize = 10;

pub fn routes() -> Router<Arc<App>> {
    Router::new().route("/history", get(history)).route("/history.csv", get(history_csv))
}

/// What `GET /api/v1/history` answers, read back.
#[derive(Debug, Deserialize)]
struct History {
    days: u32,
    fleet: Vec<FleetDay>,
    rooms: Vec<RoomHistory>,
}

#[derive(Debug, Deserialize)]
struct FleetDay {
    date: String,
    rooms: usize,
    unhealthy_rooms: usize,
    availability: BTreeMap<String, f64>,
}

#[derive(Debug, Deserialize)]
struct RoomHistory {
    room_id: String,
    name: String,
    zone: String,
    zone_source: String,
    unhealthy_days: usize,
    days: Vec<RoomDay>,
}

#[derive(Debug, Deserialize)]
struct RoomDay {
    date: String,
    unhealthy: bool,
    working_minutes_affected: i64,
    availability: BTreeMap<String, f64>,
}

impl RoomHistory {
    /// The mean over the days of the day's worst signal: how much of a day the room was fine.
    fn availability(&self) -> f64 {
        if self.days.is_empty() {
            return 100.0;
        }
        let sum: f64 = self.days.iter().map(|d| d.availability.values().copied().fold(100.0_f64, f64::min)).sum();
        #[allow(clippy::cast_precision_loss)]
        let mean = sum / self.days.len() as f64;
        (mean * 100.0).round() / 100.0
    }

    fn minutes(&self) -> i64 {
        self.days.iter().map(|d| d.working_minutes_affected).sum()
    }
}

#[derive(Debug, Default, Deserialize)]
pub struct DaysQuery {
    #[serde(default)]
    days: String,
}

fn days_of(q: &DaysQuery) -> Result<u32, PageError> {
    if q.days.trim().is_empty() {
        return Ok(PERIODS[0]);
    }
    q.days.trim().parse::<u32>().ok().filter(|d| (1..=90).contains(d)).ok_or_else(|| {
        PageError::new(StatusCode::BAD_REQUEST, "The period is a number of days from 1 to 90 (7, 28 or 90).")
    })
}

/// Call the API's handler with the session's caller: JSON or CSV.
async fn call(app: &Arc<App>, user: &User, days: u32, csv: bool) -> Result<Response, PageError> {
    let q = HistoryQuery { days: Some(days), room: None, format: csv.then(|| "csv".to_owned()) };
    Ok(api::history(State(app.clone()), user.caller.clone(), Query(q)).await?)
}

async fn load(app: &Arc<App>, user: &User, days: u32) -> Result<History, PageError> {
    let res = call(app, user, days, false).await?;
    let bytes = axum::body::to_bytes(res.into_body(), 64 * 1024 * 1024)
        .await
        .map_err(|e| PageError::new(StatusCode::INTERNAL_SERVER_ERROR, format!("reading the history: {e}")))?;
    serde_json::from_slice(&bytes)
        .map_err(|e| PageError::new(StatusCode::INTERNAL_SERVER_ERROR, format!("reading the history: {e}")))
}

/// The rooms worst first (most unhealthy days, then lowest availability, then most minutes),
/// and the rooms best first.
fn ranked(rooms: &[RoomHistory]) -> (Vec<&RoomHistory>, Vec<&RoomHistory>) {
    let mut worst: Vec<&RoomHistory> = rooms.iter().collect();
    worst.sort_by(|a, b| {
        b.unhealthy_days
            .cmp(&a.unhealthy_days)
            .then(a.availability().total_cmp(&b.availability()))
            .then(b.minutes().cmp(&a.minutes()))
            .then(a.name.to_lowercase().cmp(&b.name.to_lowercase()))
    });
    let least: Vec<&RoomHistory> =
        worst.iter().copied().filter(|r| r.unhealthy_days > 0 || r.availability() < 100.0).take(LIST).collect();
    let most: Vec<&RoomHistory> =
        worst.iter().rev().copied().filter(|r| !least.iter().any(|l| l.room_id == r.room_id)).take(LIST).collect();
    (least, most)
}

fn reliability_list(items: &[&RoomHistory], days: u32) -> Markup {
    html! {
        ol {
            @for r in items {
                li {
                    a href=(format!("/rooms/{}", r.room_id)) { (r.name) } ": "
                    strong { (r.unhealthy_days) " of " (days) " days unhealthy" }
                    ", " (r.availability()) "% available"
                    @if r.minutes() > 0 { span class="muted" { " · " (r.minutes()) " working minutes affected" } }
                }
            }
        }
    }
}

pub async fn history(State(app): State<Arc<App>>, user: User, Query(q): Query<DaysQuery>) -> PageResult {
    let days = days_of(&q)?;
    let h = load(&app, &user, days).await?;
    let signals: BTreeSet<&str> = h.fleet.iter().flat_map(|d| d.availability.keys().map(String::as_str)).collect();
    let dates: Vec<String> = h.fleet.iter().map(|d| d.date.clone()).collect();
    let series: Vec<(String, Vec<f64>)> = signals
        .iter()
        .map(|s| ((*s).to_owned(), h.fleet.iter().map(|d| d.availability.get(*s).copied().unwrap_or(100.0)).collect()))
        .collect();
    let (least, most) = ranked(&h.rooms);
    let mut rooms: Vec<&RoomHistory> = h.rooms.iter().collect();
    rooms.sort_by_key(|r| r.name.to_lowercase());
    let body = html! {
        h1 { "History" }
        nav class="tabs" aria-label="Period" {
            @for p in PERIODS {
                a href=(format!("/history?days={p}")) aria-current=[(p == h.days).then_some("page")] { "Last " (p) " days" }
            }
            a href=(format!("/history.csv?days={}", h.days)) download { "Download CSV (" (h.days) " days)" }
        }
        @if h.rooms.is_empty() {
            section class="empty" {
                h2 { "No history yet" }
                p { "History is built from the incidents of rooms in service. Connect a room with a device token ("
                    code { "uctriage fleet token create --role device" } ") and " code { "uctriage push" }
                    "; its days appear here as soon as it reports. Retired rooms are not counted." }
            }
        } @else {
            p class="muted" {
                "A day is unhealthy for a room when critical or important incidents affected it for more than "
                (crate::history::UNHEALTHY_MINUTES) " minutes between "
                (crate::history::DAY_FROM_HOUR) ":00 and " (crate::history::DAY_TO_HOUR) ":00, the room's local time. "
                "A signal's availability is the share of the day without an incident on it."
            }
            section aria-labelledby="fleet-title" {
                h2 id="fleet-title" { "Fleet availability by signal" }
                figure class="chart" {
                    (drawn(svg::percent_chart(
                        &format!("Fleet availability per signal per day, last {} days", h.days),
                        &dates,
                        &series,
                    )))
                    figcaption class="muted" { "Mean over the rooms of each signal's availability, by day. The table below has the same numbers." }
                }
                details {
                    summary { "The numbers, day by day" }
                    table class="fleet-days" {
                        thead { tr {
                            th scope="col" { "Date" } th scope="col" { "Rooms" } th scope="col" { "Unhealthy rooms" }
                            @for s in &signals { th scope="col" { (s) } }
                        } }
                        tbody {
                            @for d in &h.fleet {
                                tr {
                                    th scope="row" { (d.date) }
                                    td { (d.rooms) }
                                    td { (d.unhealthy_rooms) }
                                    @for s in &signals { td { (d.availability.get(*s).copied().unwrap_or(100.0)) "%" } }
                                }
                            }
                        }
                    }
                }
            }
            section aria-labelledby="least-title" class="least" {
                h2 id="least-title" { "Least reliable rooms" }
                @if least.is_empty() {
                    p { "Every room was fine on every day of this period: no incident touched any of them." }
                } @else { (reliability_list(&least, h.days)) }
            }
            section aria-labelledby="most-title" class="most" {
                h2 id="most-title" { "Most reliable rooms" }
                @if most.is_empty() {
                    p { "Every room had some trouble in this period; the least reliable are listed above." }
                } @else { (reliability_list(&most, h.days)) }
            }
            section aria-labelledby="heat-title" {
                h2 id="heat-title" { "Unhealthy days by room" }
                p class="muted" {
                    "One square a day, oldest first (a column a week beyond a month), in each room's own time zone: "
                    strong { "×" } " on red is unhealthy, a dot on amber is some trouble under the limit, plain green is fine. "
                    "Point at a square for its date and minutes."
                }
                table class="heatmap" {
                    thead { tr {
                        th scope="col" { "Room" } th scope="col" { "Unhealthy days" } th scope="col" { "Days" } th scope="col" { "Time zone" }
                    } }
                    tbody {
                        @for r in &rooms {
                            @let cells: Vec<svg::DayCell> = r.days.iter().map(|d| svg::DayCell {
                                date: d.date.clone(), unhealthy: d.unhealthy, minutes: d.working_minutes_affected,
                            }).collect();
                            @let bad: Vec<&str> = r.days.iter().filter(|d| d.unhealthy).map(|d| d.date.as_str()).collect();
                            tr data-room=(r.room_id) {
                                th scope="row" { a href=(format!("/rooms/{}", r.room_id)) { (r.name) } }
                                td { (r.unhealthy_days) " of " (r.days.len()) }
                                td {
                                    (drawn(svg::heat_row(&format!(
                                        "{}: {} unhealthy days of {}{}{}",
                                        r.name, r.unhealthy_days, r.days.len(),
                                        if bad.is_empty() { "" } else { ": " },
                                        bad.join(", ")
                                    ), &cells)))
                                }
                                td { (r.zone) @if r.zone_source == "utc" { span class="muted" { " (none known)" } } }
                            }
                        }
                    }
                }
            }
        }
    };
    page(&layout("History", Some(&user), &body))
}

/// `GET /history.csv?days=N`: the API's CSV, with the session instead of a bearer token.
pub async fn history_csv(State(app): State<Arc<App>>, user: User, Query(q): Query<DaysQuery>) -> PageResult {
    let days = days_of(&q)?;
    let mut res = call(&app, &user, days, true).await?;
    let name = format!("attachment; filename=\"uctriage-history-{days}d.csv\"");
    if let Ok(v) = HeaderValue::from_str(&name) {
        res.headers_mut().insert(header::CONTENT_DISPOSITION, v);
    }
    res.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(res)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn room(id: &str, unhealthy: &[bool], worst: f64) -> RoomHistory {
        RoomHistory {
            room_id: id.into(),
            name: id.into(),
            zone: "UTC".into(),
            zone_source: "utc".into(),
            unhealthy_days: unhealthy.iter().filter(|u| **u).count(),
            days: unhealthy
                .iter()
                .map(|u| RoomDay {
                    date: "2025-07-15".into(),
                    unhealthy: *u,
                    working_minutes_affected: if *u { 60 } else { 0 },
                    availability: [("network".to_owned(), worst), ("exchange".to_owned(), 100.0)].into(),
                })
                .collect(),
        }
    }

    #[test]
    fn the_worst_rooms_come_first_and_fine_rooms_are_most_reliable() {
        let rooms = vec![
            room("fine", &[false, false], 100.0),
            room("two", &[true, true], 90.0),
            room("dip", &[false, false], 99.0),
            room("one", &[true, false], 80.0),
        ];
        let (least, most) = ranked(&rooms);
        assert_eq!(least.iter().map(|r| r.room_id.as_str()).collect::<Vec<_>>(), ["two", "one", "dip"]);
        assert_eq!(most.iter().map(|r| r.room_id.as_str()).collect::<Vec<_>>(), ["fine"]);
        assert!((rooms[2].availability() - 99.0).abs() < 1e-9);
    }

    #[test]
    fn the_period_is_one_to_ninety_days() {
        assert_eq!(days_of(&DaysQuery::default()).unwrap(), 7);
        assert_eq!(days_of(&DaysQuery { days: "28".into() }).unwrap(), 28);
        for bad in ["0", "91", "x", "-1"] {
            assert_eq!(days_of(&DaysQuery { days: bad.into() }).unwrap_err().status, StatusCode::BAD_REQUEST);
        }
    }
}
