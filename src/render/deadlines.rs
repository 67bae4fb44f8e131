//! Rendering deadlines: table, JSON, CSV and iCalendar. Renderers only format what the
//! evaluation produced; none recomputes a deadline.

use std::io::Write;

use anyhow::Result;
use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use serde::Serialize;

use super::sheet::{self, Cell, RowSink, Table};
use crate::clock::{local_rfc3339, local_text, utc_text};
use crate::incidents::ingest::IngestReport;
use crate::regimes::deadline::{Deadline, Status, Summary};
use crate::render::terminal::{Terminal, Tone};
use comfy_table::{Cell as TableCell, ColumnConstraint, Width};

/// One deadline as machines read it. What belongs to the regime rather than the incident
/// (names, citations) is in the JSON's `regimes` section, once.
#[derive(Serialize)]
pub struct DeadlineRow<'a> {
    pub incident_id: &'a str,
    pub incident_title: &'a str,
    pub regime: &'a str,
    pub clock: Option<&'a str>,
    pub service: Option<&'a str>,
    pub status: crate::regimes::deadline::Status,
    pub reason: Option<&'a str>,
    pub period: Option<String>,
    pub start_field: Option<&'a str>,
    pub started_at: Option<String>,
    pub due_at: Option<String>,
    pub due_at_local: Option<String>,
    pub done_at: Option<String>,
    pub minutes_left: Option<i64>,
    pub time: String,
    pub used_percent: Option<f64>,
    pub threshold: Option<&'a str>,
    pub next_action: String,
    pub notes: &'a [String],
}

impl<'a> DeadlineRow<'a> {
    pub fn new(d: &'a Deadline<'a>, now: DateTime<Utc>, tz: Tz) -> DeadlineRow<'a> {
        DeadlineRow {
            incident_id: &d.incident.id,
            incident_title: &d.incident.title,
            regime: &d.regime.id,
            clock: d.clock.map(|c| c.id.as_str()),
            service: d.service.map(|s| s.id.as_str()),
            status: d.status,
            reason: d.reason.as_deref(),
            period: d.period.map(|p| p.to_string()),
            start_field: d.start_field,
            started_at: d.started_at.map(utc_text),
            due_at: d.due_at.map(utc_text),
            due_at_local: d.due_at.map(|t| local_rfc3339(t, tz)),
            done_at: d.done_at.map(utc_text),
            minutes_left: d.minutes_left(now),
            time: d.time_text(now),
            used_percent: d.used_fraction(now).map(|f| (f * 1000.0).round() / 10.0),
            threshold: d.threshold,
            next_action: d.next_action(now, tz),
            notes: &d.notes,
        }
    }
}

/// The citation that sets a deadline: its clock's, else its regime's.
pub fn citation<'a>(d: &Deadline<'a>) -> &'a str {
    d.clock
        .map_or(d.regime.citation.as_str(), |c| c.citation.as_str())
}

#[derive(Serialize)]
struct InputSummary<'a> {
    file: &'a str,
    read: u64,
    accepted: u64,
    rejected: u64,
    /// Accepted rows with a field that could not be used, and each such problem.
    with_problems: u64,
    problems: Vec<ProblemSummary<'a>>,
}

#[derive(Serialize)]
struct ProblemSummary<'a> {
    location: String,
    id: &'a str,
    field: &'a str,
    reason: &'a str,
}

#[derive(Serialize)]
struct RegimeInfo<'a> {
    name: &'a str,
    kind: crate::regimes::model::RegimeKind,
    authority: &'a str,
    citation: &'a str,
    in_force_from: Option<String>,
    rehearsal: bool,
    clocks: std::collections::BTreeMap<&'a str, ClockInfo<'a>>,
}

#[derive(Serialize)]
struct ClockInfo<'a> {
    name: &'a str,
    citation: &'a str,
    internal_target: bool,
    action: &'a str,
}

/// `--format json`: the run's context, inputs, summary, the regimes with their citations,
/// and every deadline row.
pub fn write_json(
    w: &mut dyn Write,
    list: &[&Deadline],
    summary: &Summary,
    inputs: &[IngestReport],
    regimes: &[crate::regimes::model::Regime],
    now: DateTime<Utc>,
    tz: Tz,
) -> Result<()> {
    use rayon::prelude::*;
    write!(w, "{{\"now\":")?;
    serde_json::to_writer(&mut *w, &utc_text(now))?;
    write!(w, ",\"now_local\":")?;
    serde_json::to_writer(&mut *w, &local_text(now, tz))?;
    write!(w, ",\"timezone\":")?;
    serde_json::to_writer(&mut *w, tz.name())?;
    write!(w, ",\"inputs\":")?;
    let ins: Vec<InputSummary> = inputs
        .iter()
        .map(|r| InputSummary {
            file: &r.file,
            read: r.read,
            accepted: r.accepted,
            rejected: r.rejected_count(),
            with_problems: r.with_problems(),
            problems: r
                .problems
                .iter()
                .map(|p| ProblemSummary {
                    location: p.location.to_string(),
                    id: &p.id,
                    field: &p.field,
                    reason: &p.reason,
                })
                .collect(),
        })
        .collect();
    serde_json::to_writer(&mut *w, &ins)?;
    write!(w, ",\"summary\":")?;
    serde_json::to_writer(&mut *w, summary)?;
    write!(w, ",\"regimes\":")?;
    let info: std::collections::BTreeMap<&str, RegimeInfo> = regimes
        .iter()
        .map(|r| {
            let clocks = r
                .clocks
                .iter()
                .map(|c| {
                    let ci = ClockInfo {
                        name: &c.name,
                        citation: &c.citation,
                        internal_target: c.internal_target,
                        action: &c.action,
                    };
                    (c.id.as_str(), ci)
                })
                .collect();
            let ri = RegimeInfo {
                name: &r.name,
                kind: r.kind,
                authority: &r.authority,
                citation: &r.citation,
                in_force_from: r.in_force_from.map(|d| d.to_string()),
                rehearsal: r.rehearsal,
                clocks,
            };
            (r.id.as_str(), ri)
        })
        .collect();
    serde_json::to_writer(&mut *w, &info)?;
    write!(w, ",\"deadlines\":[")?;
    // Rows are serialised in parallel a window at a time on a helper thread while this one
    // writes the previous window, so a million rows neither take one core's time nor sit
    // in memory as one buffer.
    const WINDOW: usize = 32 * 1024;
    const PIECE: usize = 2048;
    let (tx, rx) = std::sync::mpsc::sync_channel::<Vec<String>>(2);
    // Written buffers come back to be filled again: fresh memory for 700 MB of rows would
    // cost a page fault per 4 KiB.
    let (back_tx, back_rx) = std::sync::mpsc::channel::<String>();
    std::thread::scope(|scope| -> Result<()> {
        let rx = rx;
        scope.spawn(move || {
            for (wi, window) in list.chunks(WINDOW).enumerate() {
                let n = window.len().div_ceil(PIECE);
                let spare: Vec<String> = (0..n)
                    .map(|_| back_rx.try_recv().unwrap_or_default())
                    .collect();
                let pieces: Vec<String> = window
                    .par_chunks(PIECE)
                    .zip(spare)
                    .enumerate()
                    .map(|(pi, (rows, mut buf))| {
                        buf.clear();
                        let mut scratch = String::new();
                        for (k, d) in rows.iter().enumerate() {
                            if wi + pi + k > 0 {
                                buf.push(',');
                            }
                            buf.push('\n');
                            write_row_json(&mut buf, &mut scratch, d, now, tz);
                        }
                        buf
                    })
                    .collect();
                if tx.send(pieces).is_err() {
                    return;
                }
            }
        });
        for pieces in rx.iter() {
            for p in pieces {
                w.write_all(p.as_bytes())?;
                let _ = back_tx.send(p);
            }
        }
        Ok(())
    })?;
    writeln!(w, "\n]}}")?;
    Ok(())
}

/// Whether any byte needs escaping in a JSON string (a control character, `"` or `\\`),
/// eight bytes at a time. It may say yes when the answer is no (then the careful path
/// below runs), never the reverse.
pub(crate) fn needs_escape(bytes: &[u8]) -> bool {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let has_zero = |v: u64| v.wrapping_sub(ONES) & !v & HIGH;
    let mut chunks = bytes.chunks_exact(8);
    for c in &mut chunks {
        let v = u64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]);
        let control = v.wrapping_sub(0x20 * ONES) & !v & HIGH;
        if control | has_zero(v ^ (0x22 * ONES)) | has_zero(v ^ (0x5c * ONES)) != 0 {
            return true;
        }
    }
    chunks
        .remainder()
        .iter()
        .any(|&b| b < 0x20 || b == b'"' || b == b'\\')
}

/// Appends `s` as a JSON string, escaped exactly as serde_json escapes it.
fn json_str(buf: &mut String, s: &str) {
    buf.push('"');
    let bytes = s.as_bytes();
    if !needs_escape(bytes) {
        buf.push_str(s);
        buf.push('"');
        return;
    }
    let mut start = 0;
    for (i, &b) in bytes.iter().enumerate() {
        let esc: &str = match b {
            b'"' => "\\\"",
            b'\\' => "\\\\",
            b'\n' => "\\n",
            b'\r' => "\\r",
            b'\t' => "\\t",
            0x08 => "\\b",
            0x0c => "\\f",
            0..=0x1f => "",
            _ => continue,
        };
        buf.push_str(&s[start..i]);
        if esc.is_empty() {
            const HEX: &[u8; 16] = b"0123456789abcdef";
            buf.push_str("\\u00");
            buf.push(HEX[(b >> 4) as usize] as char);
            buf.push(HEX[(b & 0xf) as usize] as char);
        } else {
            buf.push_str(esc);
        }
        start = i + 1;
    }
    buf.push_str(&s[start..]);
    buf.push('"');
}

fn json_opt_str(buf: &mut String, s: Option<&str>) {
    match s {
        Some(s) => json_str(buf, s),
        None => buf.push_str("null"),
    }
}

/// Appends `,"key":` (no comma for the first key).
fn json_key(buf: &mut String, key: &str, first: bool) {
    if !first {
        buf.push(',');
    }
    buf.push('"');
    buf.push_str(key);
    buf.push_str("\":");
}

/// One deadline row as JSON, byte for byte what serde writes for `DeadlineRow` (a test
/// holds them equal), without its per-field allocations: this is the hot loop of a
/// million-incident run. `scratch` is reused between rows.
pub fn write_row_json(
    buf: &mut String,
    scratch: &mut String,
    d: &Deadline,
    now: DateTime<Utc>,
    tz: Tz,
) {
    use crate::clock::{push_local_rfc3339, push_utc};
    let time = |buf: &mut String, t: Option<DateTime<Utc>>, local: bool| match t {
        Some(t) => {
            buf.push('"');
            if local {
                push_local_rfc3339(buf, t, tz);
            } else {
                push_utc(buf, t);
            }
            buf.push('"');
        }
        None => buf.push_str("null"),
    };
    let mut itoa = itoa::Buffer::new();
    buf.push('{');
    json_key(buf, "incident_id", true);
    json_str(buf, &d.incident.id);
    json_key(buf, "incident_title", false);
    json_str(buf, &d.incident.title);
    json_key(buf, "regime", false);
    json_str(buf, &d.regime.id);
    json_key(buf, "clock", false);
    json_opt_str(buf, d.clock.map(|c| c.id.as_str()));
    json_key(buf, "service", false);
    json_opt_str(buf, d.service.map(|s| s.id.as_str()));
    json_key(buf, "status", false);
    json_str(buf, d.status.as_str());
    json_key(buf, "reason", false);
    json_opt_str(buf, d.reason.as_deref());
    json_key(buf, "period", false);
    match d.period {
        Some(p) => {
            buf.push('"');
            p.push_to(buf);
            buf.push('"');
        }
        None => buf.push_str("null"),
    }
    json_key(buf, "start_field", false);
    json_opt_str(buf, d.start_field);
    json_key(buf, "started_at", false);
    time(buf, d.started_at, false);
    json_key(buf, "due_at", false);
    time(buf, d.due_at, false);
    json_key(buf, "due_at_local", false);
    time(buf, d.due_at, true);
    json_key(buf, "done_at", false);
    time(buf, d.done_at, false);
    json_key(buf, "minutes_left", false);
    match d.minutes_left(now) {
        Some(m) => buf.push_str(itoa.format(m)),
        None => buf.push_str("null"),
    }
    json_key(buf, "time", false);
    scratch.clear();
    d.push_time_text(scratch, now);
    json_str(buf, scratch);
    json_key(buf, "used_percent", false);
    match d.used_fraction(now) {
        Some(f) => {
            let v = (f * 1000.0).round() / 10.0;
            // serde_json writes floats with ryu; so do we, keeping its `.0` for whole numbers.
            let mut r = ryu::Buffer::new();
            buf.push_str(r.format_finite(v));
        }
        None => buf.push_str("null"),
    }
    json_key(buf, "threshold", false);
    json_opt_str(buf, d.threshold);
    json_key(buf, "next_action", false);
    scratch.clear();
    d.push_next_action(scratch, now, tz);
    json_str(buf, scratch);
    json_key(buf, "notes", false);
    buf.push('[');
    for (i, n) in d.notes.iter().enumerate() {
        if i > 0 {
            buf.push(',');
        }
        json_str(buf, n);
    }
    buf.push_str("]}");
}

/// The deadlines as a table: the CSV's columns, and the XLSX sheet's.
pub const TABLE: Table = Table {
    sheet: "Deadlines",
    columns: &[
        sheet::text("incident_id"),
        sheet::text("incident_title"),
        sheet::text("regime"),
        sheet::text("clock"),
        sheet::text("service"),
        sheet::text("status"),
        sheet::time("started_at"),
        sheet::time("due_at"),
        sheet::text("due_at_local"),
        sheet::time("done_at"),
        sheet::text("time"),
        sheet::text("threshold"),
        sheet::text("next_action"),
        sheet::text("reason"),
        sheet::text("notes"),
        sheet::text("citation"),
    ],
};

/// One row per deadline, in [`TABLE`]'s columns.
pub fn rows(sink: &mut dyn RowSink, list: &[&Deadline], now: DateTime<Utc>, tz: Tz) -> Result<()> {
    for d in list {
        sink.row(&[
            Cell::text(&*d.incident.id),
            Cell::text(&*d.incident.title),
            Cell::text(&*d.regime.id),
            Cell::text(d.clock.map_or("", |c| c.id.as_str())),
            Cell::text(d.service.map_or("", |s| s.id.as_str())),
            Cell::text(d.status.as_str()),
            Cell::opt_time(d.started_at),
            Cell::opt_time(d.due_at),
            Cell::opt_text(d.due_at.map(|t| local_rfc3339(t, tz))),
            Cell::opt_time(d.done_at),
            Cell::text(d.time_text(now)),
            Cell::text(d.threshold.unwrap_or("")),
            Cell::text(d.next_action(now, tz)),
            Cell::text(d.reason.as_deref().unwrap_or("")),
            Cell::text(d.notes.join(" | ")),
            Cell::text(citation(d)),
        ])?;
    }
    Ok(())
}

/// `--format csv`: one row per deadline; formula-looking cells are neutralised.
pub fn write_csv(w: &mut dyn Write, list: &[&Deadline], now: DateTime<Utc>, tz: Tz) -> Result<()> {
    sheet::write_csv(w, &TABLE, |sink| rows(sink, list, now, tz))
}

/// `--format xlsx`: the deadlines sheet.
pub fn write_xlsx(w: &mut dyn Write, list: &[&Deadline], now: DateTime<Utc>, tz: Tz) -> Result<()> {
    let fill: super::xlsx::Fill = Box::new(|sink| rows(sink, list, now, tz));
    super::xlsx::write_xlsx(w, vec![(&TABLE, fill)])
}

fn truncate(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_string()
    } else {
        let mut t: String = s.chars().take(max.saturating_sub(1)).collect();
        t.push('…');
        t
    }
}

/// `--format table`: for people at a terminal. Six columns when they fit (the next
/// action wrapping within its own), else two: status and time beside the rest, one line
/// each. With no width limit (a pipe or file) long titles and actions are shortened, as
/// one row per line is what `grep` wants; JSON and CSV have them whole.
pub fn write_table(
    w: &mut dyn Write,
    list: &[&Deadline],
    summary: &Summary,
    hidden_not_applicable: usize,
    now: DateTime<Utc>,
    tz: Tz,
    term: Terminal,
) -> Result<()> {
    writeln!(
        w,
        "regwatch deadlines at {} ({})",
        local_text(now, tz),
        utc_text(now)
    )?;
    writeln!(w)?;
    let shorten = |s: &str, max: usize| match term.width {
        None => truncate(s, max),
        Some(_) => s.to_string(),
    };
    let rows: Vec<(Status, [String; 6])> = list
        .iter()
        .map(|d| {
            let mut clock = format!("{}/{}", d.regime.id, d.clock_id());
            if let Some(s) = d.service {
                clock.push_str(&format!(" [{}]", s.id));
            }
            if d.clock.is_some_and(|c| c.internal_target) {
                clock.push_str(" (internal target)");
            }
            if d.regime.rehearsal {
                clock.push_str(" (rehearsal)");
            }
            let action = match d.status {
                Status::NotApplicable => {
                    format!("n/a: {}", d.reason.as_deref().unwrap_or(""))
                }
                _ => d.next_action(now, tz),
            };
            let cells = [
                d.status.as_str().to_string(),
                format!("{} {}", d.incident.id, shorten(&d.incident.title, 28)),
                clock,
                d.due_at
                    .map(|t| local_text(t, tz))
                    .unwrap_or_else(|| "-".into()),
                d.time_text(now),
                shorten(&action, 110),
            ];
            (d.status, cells)
        })
        .collect();
    let mut table = term.table(&[
        "STATUS",
        "INCIDENT",
        "REGIME / CLOCK",
        "DEADLINE (local)",
        "TIME",
        "NEXT ACTION",
    ]);
    for (status, [st, incident, clock, due, time, action]) in &rows {
        table.add_row(vec![
            term.cell(st, status_tone(*status)),
            TableCell::new(incident),
            TableCell::new(clock),
            TableCell::new(due),
            TableCell::new(time),
            TableCell::new(action),
        ]);
    }
    // Status, clock, deadline and time whole, with room beside them for the incident
    // (30) and the action (40) to wrap in.
    let widths = table.column_max_content_widths();
    let fixed: usize = [0, 2, 3, 4]
        .iter()
        .map(|&i| usize::from(widths[i]) + 2)
        .sum();
    if term
        .width
        .is_some_and(|width| fixed + 32 + 40 <= usize::from(width))
    {
        for i in [0, 2, 3, 4] {
            let whole = Width::Fixed(widths[i] + 2);
            if let Some(c) = table.column_mut(i) {
                c.set_constraint(ColumnConstraint::Absolute(whole));
            }
        }
    } else if term.width.is_some() {
        table = term.spaced_table(&["STATUS", "INCIDENT, CLOCK, DEADLINE (local), NEXT ACTION"]);
        for (status, [st, incident, clock, due, time, action]) in &rows {
            table.add_row(vec![
                term.cell(format!("{st}\n{time}"), status_tone(*status)),
                TableCell::new(format!("{incident}\n{clock}\n{due}\n{action}")),
            ]);
        }
        // "done with 6d 19h 35m to spare" may wrap; the text beside it should not.
        if let Some(c) = table.column_mut(0) {
            c.set_constraint(ColumnConstraint::UpperBoundary(Width::Fixed(20)));
        }
    }
    term.write(w, &mut table)?;
    writeln!(w)?;
    let totals = format!(
        "{} incidents, {} clocks: {} overdue, {} due soon, {} due, {} not started, {} met late, {} met; {} tolerance breach(es); {} late without reasons on file",
        summary.incidents,
        summary.clocks,
        summary.overdue,
        summary.due_soon,
        summary.due,
        summary.not_started,
        summary.met_late,
        summary.met,
        summary.tolerance_breaches,
        summary.late_reasons_missing,
    );
    term.paragraph(w, 0, &totals)?;
    if hidden_not_applicable > 0 {
        term.paragraph(w, 0, &format!(
            "{hidden_not_applicable} regime(s) not applicable to some incident are hidden (--all shows them with the reason)"
        ))?;
    }
    Ok(())
}

/// The colour a status shows in: red for what is late, yellow for what is close, green
/// for what was done in time.
pub fn status_tone(s: Status) -> Tone {
    match s {
        Status::Overdue => Tone::Bad,
        Status::DueSoon | Status::MetLate => Tone::Warn,
        Status::Met => Tone::Good,
        Status::Due | Status::NotStarted | Status::NotApplicable => Tone::Plain,
    }
}

/// `--format ics`: one all-day-free timed event per deadline, for a DPO's calendar.
pub fn write_ics(w: &mut dyn Write, list: &[&Deadline], now: DateTime<Utc>, tz: Tz) -> Result<()> {
    use icalendar::{Calendar, Component, Event, EventLike};
    let mut cal = Calendar::new();
    cal.name("regwatch deadlines");
    for d in list {
        let Some(due) = d.due_at else { continue };
        let r = DeadlineRow::new(d, now, tz);
        let summary = format!(
            "[{}] {} {}: {}",
            d.status,
            d.incident.id,
            d.regime.authority,
            d.clock.map_or("", |c| c.name.as_str())
        );
        let description = format!(
            "{}\nIncident: {} {}\nDeadline: {} ({})\n{}\nNext action: {}\nSource: {}",
            d.regime.name,
            d.incident.id,
            d.incident.title,
            local_text(due, tz),
            utc_text(due),
            r.time,
            r.next_action,
            citation(d)
        );
        let uid = format!("{}@regwatch", d.key());
        let event = Event::new()
            .uid(&uid)
            .summary(&summary)
            .description(&description)
            .starts(due)
            .ends(due)
            .timestamp(now)
            .done();
        cal.push(event);
    }
    write!(w, "{}", cal.done())?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escape_scan_never_misses() {
        for b in 0u8..=255 {
            for pos in 0..17 {
                let mut v = vec![b'a'; 17];
                v[pos] = b;
                let must = b < 0x20 || b == b'"' || b == b'\\';
                if must {
                    assert!(needs_escape(&v), "byte {b:#x} at {pos}");
                }
            }
        }
        assert!(!needs_escape(
            "plain text é ✓ 2026-11-28T12:00:00Z".as_bytes()
        ));
    }

    #[test]
    fn fast_json_rows_equal_the_serde_rows() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        let cfg = crate::config::Config::load(&root.join("tests/fixtures/regwatch.toml")).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let odd = dir.path().join("odd.csv");
        std::fs::write(
            &odd,
            "id,title,aware_at,personal_data,delay_reason\nQ-1,\"Quote \"\"x\"\" \\ back\tslash é ✓ \u{1} \u{7f} \u{8}\",2026-11-20T09:00:00Z,true,\n",
        )
        .unwrap();
        let inputs = vec![root.join("tests/fixtures/incidents.csv"), odd];
        let loaded =
            crate::incidents::load::Loaded::load(cfg, &inputs, &Default::default()).unwrap();
        let now = crate::clock::parse_timestamp("2026-11-28T12:00:00Z", loaded.tz).unwrap();
        let eval = loaded.evaluate(now, &|_| true);
        assert!(eval.len() > 50);
        for d in eval.sorted() {
            let (mut fast, mut scratch) = (String::new(), String::new());
            write_row_json(&mut fast, &mut scratch, d, now, loaded.tz);
            let slow = serde_json::to_string(&DeadlineRow::new(d, now, loaded.tz)).unwrap();
            assert_eq!(fast, slow);
        }
    }

    #[test]
    fn neutralises_formulas() {
        use crate::util::text::csv_safe;
        assert_eq!(csv_safe("=HYPERLINK(\"x\")"), "'=HYPERLINK(\"x\")");
        assert_eq!(csv_safe("+1"), "'+1");
        assert_eq!(csv_safe("-2"), "'-2");
        assert_eq!(csv_safe("@SUM(A1)"), "'@SUM(A1)");
        assert_eq!(csv_safe("\tx"), "'\tx");
        assert_eq!(csv_safe("plain"), "plain");
    }
}
