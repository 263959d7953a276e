//! Windows events as delimited text:
//! - Event Viewer's "Save as CSV" (`Level,Date and Time,Source,Event ID,Task Category`, then the
//!   message in a sixth column that has no header) and "Save as Text (Tab delimited)" (the same
//!   with tabs, usually UTF-16 with a byte-order mark). The headers and level words follow the
//!   Windows display language (German `Ebene,Datum und Uhrzeit,Quelle,Ereignis-ID,
//!   Aufgabenkategorie`, French `Niveau,Date et heure,Source,ID de l'événement,Catégorie de la
//!   tâche`, …), and so do the dates: day first outside the United States.
//! - PowerShell `Get-WinEvent | Export-Csv` (an optional `#TYPE` line, then `Message,Id,Version,
//!   …,ProviderName,LogName,…,TimeCreated,…`).
//!
//! Neither export names the log the events came from, so the channel is inferred from the
//! provider where that is unambiguous (`channel_inferred: true`). Quoted messages spanning lines
//! are read with the csv crate; a record larger than [`MAX_ROW`] (an unclosed quote) stops the
//! reading with a warning.

use uctriage_evidence::time::{self, DateOrder};

use super::windows_event::{bounded, has_ext, to_evidence, utf8_reader, Budget, WinEvent, TOO_LARGE};
use super::{Emitter, ReadError, Reader};
use crate::input::{head_text, Head, Input};

#[derive(Debug)]
pub struct EventCsv;

/// Largest record (one event, its message included).
const MAX_ROW: u64 = 4 * 1024 * 1024;
/// Most columns kept from one row.
const MAX_COLUMNS: usize = 256;

/// Header words of Event Viewer exports, by column role, in the languages Windows ships most.
const LEVEL: &[&str] = &["level", "ebene", "niveau", "nivel", "livello", "nível", "poziom"];
const DATE: &[&str] = &[
    "date and time",
    "datum und uhrzeit",
    "date et heure",
    "fecha y hora",
    "data e ora",
    "datum en tijd",
    "data e hora",
    "data i godzina",
];
const SOURCE: &[&str] = &["source", "quelle", "origen", "origine", "bron", "fonte", "origem", "źródło"];
const EVENT_ID: &[&str] = &[
    "event id",
    "ereignis-id",
    "id de l'événement",
    "id. del evento",
    "id evento",
    "gebeurtenis-id",
    "identificação do evento",
    "id. zdarzenia",
];
const TASK: &[&str] = &[
    "task category",
    "aufgabenkategorie",
    "catégorie de la tâche",
    "categoría de la tarea",
    "categoria attività",
    "taakcategorie",
    "categoria da tarefa",
    "kategoria zadania",
];

/// Where each value is in a row.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Layout {
    /// Event Viewer: level, time, source, ID, task and the message (the first column past the
    /// named ones). `english` decides the default date order.
    Viewer {
        level: usize,
        time: usize,
        source: Option<usize>,
        id: usize,
        task: Option<usize>,
        message: usize,
        english: bool,
    },
    /// PowerShell Export-Csv, by column name.
    PowerShell(Vec<(PsColumn, usize)>),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum PsColumn {
    Message,
    Id,
    Level,
    LevelDisplayName,
    RecordId,
    ProviderName,
    LogName,
    MachineName,
    TimeCreated,
    TaskDisplayName,
}

fn norm(s: &str) -> String {
    s.trim().trim_start_matches('\u{feff}').trim().trim_matches('"').trim().to_lowercase()
}

/// Recognize a header row.
fn layout(header: &[String]) -> Option<Layout> {
    let names: Vec<String> = header.iter().map(|h| norm(h)).collect();
    let find = |words: &[&str]| names.iter().position(|n| words.contains(&n.as_str()));
    if let (Some(level), Some(time), Some(id)) = (find(LEVEL), find(DATE), find(EVENT_ID)) {
        let source = find(SOURCE);
        let task = find(TASK);
        let last = [Some(level), Some(time), Some(id), source, task].into_iter().flatten().max().unwrap_or(0);
        // The message column has no header (or an empty one) right after the named ones.
        let message = names.iter().enumerate().skip(last + 1).find(|(_, n)| n.is_empty()).map_or(last + 1, |(i, _)| i);
        return Some(Layout::Viewer { level, time, source, id, task, message, english: names[level] == "level" });
    }
    let ps = |name: &str| names.iter().position(|n| n == name);
    if ps("id").is_some() && ps("providername").is_some() && ps("timecreated").is_some() {
        let cols = [
            ("message", PsColumn::Message),
            ("id", PsColumn::Id),
            ("level", PsColumn::Level),
            ("leveldisplayname", PsColumn::LevelDisplayName),
            ("recordid", PsColumn::RecordId),
            ("providername", PsColumn::ProviderName),
            ("logname", PsColumn::LogName),
            ("machinename", PsColumn::MachineName),
            ("timecreated", PsColumn::TimeCreated),
            ("taskdisplayname", PsColumn::TaskDisplayName),
        ];
        return Some(Layout::PowerShell(cols.iter().filter_map(|(n, c)| ps(n).map(|i| (*c, i))).collect()));
    }
    None
}

/// The delimiter of a header line: the most frequent of tab, comma and semicolon.
fn delimiter(line: &str) -> u8 {
    let count = |c: char| line.matches(c).count();
    [(b'\t', count('\t')), (b',', count(',')), (b';', count(';'))]
        .into_iter()
        .max_by_key(|(_, n)| *n)
        .map_or(b',', |(d, _)| d)
}

/// The header line of the head: the first line that is not a `#TYPE` comment or empty.
fn header_line(text: &str) -> Option<&str> {
    text.lines().map(str::trim_end).find(|l| !l.trim().is_empty() && !l.trim_start_matches('\u{feff}').starts_with('#'))
}

fn csv_reader<R: std::io::Read>(r: R, delim: u8) -> csv::Reader<R> {
    csv::ReaderBuilder::new().has_headers(false).flexible(true).delimiter(delim).from_reader(r)
}

fn row_fields(rec: &csv::ByteRecord) -> Vec<String> {
    rec.iter().take(MAX_COLUMNS).map(|f| String::from_utf8_lossy(f).into_owned()).collect()
}

/// Numeric dates in the head's time column: is the day written first? `None` when nothing tells.
fn sniff_order(head: &str, delim: u8, layout: &Layout) -> Option<DateOrder> {
    let col = match layout {
        Layout::Viewer { time, .. } => *time,
        Layout::PowerShell(cols) => cols.iter().find(|(c, _)| *c == PsColumn::TimeCreated)?.1,
    };
    let mut rdr = csv_reader(head.as_bytes(), delim);
    let mut rec = csv::ByteRecord::new();
    let mut rows = 0;
    while rows < 500 && rdr.read_byte_record(&mut rec).unwrap_or(false) {
        rows += 1;
        let Some(v) = rec.get(col).map(String::from_utf8_lossy) else { continue };
        let date = v.trim().split(' ').next().unwrap_or("");
        let nums: Vec<u32> = date.split('/').filter_map(|x| x.parse().ok()).collect();
        if let [a, b, _] = nums[..] {
            if a > 12 && b <= 12 {
                return Some(DateOrder::DayFirst);
            }
            if b > 12 && a <= 12 {
                return Some(DateOrder::MonthFirst);
            }
        }
    }
    None
}

fn get(fields: &[String], i: usize) -> &str {
    fields.get(i).map_or("", |s| s.trim())
}

fn viewer_event(fields: &[String], l: &Layout, order: DateOrder, delim: u8) -> WinEvent {
    let Layout::Viewer { level, time: t, source, id, task, message, .. } = *l else { return WinEvent::default() };
    let mut ev = WinEvent {
        level_name: get(fields, level).to_owned(),
        time: time::parse_with(get(fields, t), order),
        provider: source.map(|s| get(fields, s).to_owned()).unwrap_or_default(),
        event_id: get(fields, id).parse().ok(),
        task: task.map(|s| get(fields, s).to_owned()).unwrap_or_default(),
        ..WinEvent::default()
    };
    // An unquoted message with delimiters in it spreads over the columns after its own.
    let rest: Vec<&str> = fields.iter().skip(message).map(String::as_str).collect();
    let msg = rest.join(&char::from(delim).to_string());
    if !msg.trim().is_empty() {
        ev.message = Some(bounded(msg.trim().to_owned()));
    }
    ev.infer_channel();
    ev
}

fn ps_event(fields: &[String], cols: &[(PsColumn, usize)], order: DateOrder) -> WinEvent {
    let mut ev = WinEvent::default();
    for (c, i) in cols {
        let v = get(fields, *i);
        if v.is_empty() {
            continue;
        }
        match c {
            PsColumn::Message => ev.message = Some(bounded(v.to_owned())),
            PsColumn::Id => ev.event_id = v.parse().ok(),
            PsColumn::Level => ev.level = v.parse().ok(),
            PsColumn::LevelDisplayName => ev.level_name = v.to_owned(),
            PsColumn::RecordId => ev.record_id = v.parse().ok(),
            PsColumn::ProviderName => ev.provider = v.to_owned(),
            PsColumn::LogName => ev.channel = v.to_owned(),
            PsColumn::MachineName => ev.computer = v.to_owned(),
            PsColumn::TimeCreated => ev.time = time::parse_with(v, order),
            PsColumn::TaskDisplayName => ev.task = v.to_owned(),
        }
    }
    ev.infer_channel();
    ev
}

impl Reader for EventCsv {
    fn format(&self) -> &'static str {
        "event-csv"
    }

    fn detect(&self, name: &str, head: &Head<'_>) -> u8 {
        let text = head.text();
        let Some(line) = header_line(text) else { return 0 };
        let delim = delimiter(line);
        let mut rdr = csv_reader(line.as_bytes(), delim);
        let mut rec = csv::ByteRecord::new();
        if !rdr.read_byte_record(&mut rec).unwrap_or(false) {
            return 0;
        }
        match layout(&row_fields(&rec)) {
            Some(Layout::PowerShell(_)) if text.contains("#TYPE System.Diagnostics.Eventing.Reader") => 95,
            Some(_) => 90 + u8::from(has_ext(name, "csv") || has_ext(name, "txt")),
            None => 0,
        }
    }

    fn read(&self, input: Input, out: &mut Emitter<'_>) -> Result<(), ReadError> {
        let head = head_text(&input.head).into_owned();
        let delim = header_line(&head).map_or(b',', delimiter);
        let budget = Budget::new();
        let mut rdr = csv_reader(budget.wrap(utf8_reader(input), MAX_ROW), delim);
        let mut rec = csv::ByteRecord::new();
        let mut found: Option<(Layout, DateOrder)> = None;
        // csv counts no line breaks inside quoted fields; this counts them (blank lines, which
        // csv skips unseen, are the ones it may miss).
        let mut next_line = 1u64;
        loop {
            let line = next_line.max(rdr.position().line());
            match rdr.read_byte_record(&mut rec) {
                Ok(false) => break,
                Ok(true) => {}
                Err(e) => {
                    let msg = e.to_string();
                    if msg.contains(TOO_LARGE) {
                        out.warn(
                            format!("line {line}"),
                            format!(
                                "a row larger than {} MiB (an unclosed quote?): the rest was not read",
                                MAX_ROW >> 20
                            ),
                        );
                        return Ok(());
                    }
                    out.warn(format!("line {line}"), format!("read error, the rest was not read: {msg}"));
                    return Ok(());
                }
            }
            budget.reset();
            let line = line.max(rec.position().map_or(0, csv::Position::line));
            next_line = line + 1 + rec.iter().map(|f| memchr::memchr_iter(b'\n', f).count() as u64).sum::<u64>();
            let fields = row_fields(&rec);
            if fields.iter().all(|f| f.trim().is_empty()) {
                continue;
            }
            let Some((l, order)) = &found else {
                if fields.first().is_some_and(|f| f.trim_start_matches('\u{feff}').starts_with('#')) {
                    continue;
                }
                let Some(l) = layout(&fields) else {
                    return Err(ReadError::new(
                        format!("line {line}"),
                        "no Event Viewer or Export-Csv header: not a Windows event export",
                    ));
                };
                let english = matches!(&l, Layout::Viewer { english: true, .. } | Layout::PowerShell(_));
                let default = if english { DateOrder::MonthFirst } else { DateOrder::DayFirst };
                let order = sniff_order(&head, delim, &l).unwrap_or(default);
                found = Some((l, order));
                continue;
            };
            let ev = match l {
                Layout::PowerShell(cols) => ps_event(&fields, cols, *order),
                Layout::Viewer { .. } => viewer_event(&fields, l, *order, delim),
            };
            if ev.event_id.is_none() && ev.time.is_none() {
                out.warn(format!("line {line}"), "row without an event ID or a time: skipped");
                continue;
            }
            let location = match ev.record_id {
                Some(r) => format!("record {r}"),
                None => format!("line {line}"),
            };
            let e = out.evidence(location);
            out.emit(to_evidence(&ev, e));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(s: &str) -> Vec<String> {
        s.split(',').map(str::to_owned).collect()
    }

    #[test]
    fn headers_in_three_languages() {
        for h in [
            "Level,Date and Time,Source,Event ID,Task Category",
            "Ebene,Datum und Uhrzeit,Quelle,Ereignis-ID,Aufgabenkategorie",
            "Niveau,Date et heure,Source,ID de l'événement,Catégorie de la tâche",
        ] {
            let l = layout(&fields(h)).unwrap();
            assert!(matches!(l, Layout::Viewer { level: 0, time: 1, id: 3, message: 5, .. }), "{h}: {l:?}");
        }
        assert!(layout(&fields("Message,Id,Version,ProviderName,LogName,TimeCreated")).is_some());
        assert!(layout(&fields("a,b,c")).is_none());
        assert_eq!(delimiter("Level\tDate and Time\tSource"), b'\t');
    }
}
