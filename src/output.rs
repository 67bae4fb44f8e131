//! Rendering deadlines: table, JSON, CSV and iCalendar. Renderers only format what the
//! evaluation produced; none recomputes a deadline.

use std::io::Write;

use anyhow::Result;
use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use serde::Serialize;

use crate::clock::{local_rfc3339, local_text, utc_text};
use crate::deadlines::{Deadline, Summary};
use crate::ingest::IngestReport;

/// Makes a cell safe to open in a spreadsheet: one that starts with `=`, `+`, `-`, `@`, a
/// tab or a carriage return is prefixed with `'` so it is read as text, not a formula.
pub fn csv_safe(cell: &str) -> std::borrow::Cow<'_, str> {
    match cell.chars().next() {
        Some('=' | '+' | '-' | '@' | '\t' | '\r') => format!("'{cell}").into(),
        _ => cell.into(),
    }
}

/// One deadline as machines read it.
#[derive(Serialize)]
pub struct DeadlineRow<'a> {
    pub incident_id: &'a str,
    pub incident_title: &'a str,
    pub regime: &'a str,
    pub regime_name: &'a str,
    pub clock: Option<&'a str>,
    pub clock_name: &'a str,
    pub kind: crate::regimes::RegimeKind,
    pub authority: &'a str,
    pub service: Option<&'a str>,
    pub status: crate::deadlines::Status,
    pub reason: Option<&'a str>,
    pub internal_target: bool,
    pub rehearsal: bool,
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
    pub citation: &'a str,
    pub notes: &'a [String],
}

impl<'a> DeadlineRow<'a> {
    pub fn new(d: &'a Deadline<'a>, now: DateTime<Utc>, tz: Tz) -> DeadlineRow<'a> {
        DeadlineRow {
            incident_id: &d.incident.id,
            incident_title: &d.incident.title,
            regime: &d.regime.id,
            regime_name: &d.regime.name,
            clock: d.clock.map(|c| c.id.as_str()),
            clock_name: d.clock.map_or("", |c| c.name.as_str()),
            kind: d.regime.kind,
            authority: &d.regime.authority,
            service: d.service.map(|s| s.id.as_str()),
            status: d.status,
            reason: d.reason.as_deref(),
            internal_target: d.clock.is_some_and(|c| c.internal_target),
            rehearsal: d.regime.rehearsal,
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
            citation: d
                .clock
                .map_or(d.regime.citation.as_str(), |c| c.citation.as_str()),
            notes: &d.notes,
        }
    }
}

#[derive(Serialize)]
struct InputSummary<'a> {
    file: &'a str,
    read: u64,
    accepted: u64,
    rejected: u64,
}

/// `--format json`: one object with the run's context, inputs, summary and every row.
pub fn write_json(
    w: &mut dyn Write,
    list: &[Deadline],
    summary: &Summary,
    inputs: &[IngestReport],
    now: DateTime<Utc>,
    tz: Tz,
) -> Result<()> {
    // Written piece by piece so a million rows never sit in memory as one JSON value.
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
        })
        .collect();
    serde_json::to_writer(&mut *w, &ins)?;
    write!(w, ",\"summary\":")?;
    serde_json::to_writer(&mut *w, summary)?;
    write!(w, ",\"deadlines\":[")?;
    for (i, d) in list.iter().enumerate() {
        if i > 0 {
            w.write_all(b",")?;
        }
        w.write_all(b"\n")?;
        serde_json::to_writer(&mut *w, &DeadlineRow::new(d, now, tz))?;
    }
    writeln!(w, "\n]}}")?;
    Ok(())
}

/// `--format csv`: one row per deadline; formula-looking cells are neutralised.
pub fn write_csv(w: &mut dyn Write, list: &[Deadline], now: DateTime<Utc>, tz: Tz) -> Result<()> {
    let mut out = csv::Writer::from_writer(w);
    out.write_record([
        "incident_id",
        "incident_title",
        "regime",
        "clock",
        "service",
        "status",
        "started_at",
        "due_at",
        "due_at_local",
        "done_at",
        "time",
        "threshold",
        "next_action",
        "reason",
        "notes",
        "citation",
    ])?;
    for d in list {
        let r = DeadlineRow::new(d, now, tz);
        let notes = r.notes.join(" | ");
        let cells = [
            r.incident_id,
            r.incident_title,
            r.regime,
            r.clock.unwrap_or(""),
            r.service.unwrap_or(""),
            r.status.as_str(),
            r.started_at.as_deref().unwrap_or(""),
            r.due_at.as_deref().unwrap_or(""),
            r.due_at_local.as_deref().unwrap_or(""),
            r.done_at.as_deref().unwrap_or(""),
            &r.time,
            r.threshold.unwrap_or(""),
            &r.next_action,
            r.reason.unwrap_or(""),
            &notes,
            r.citation,
        ];
        out.write_record(cells.iter().map(|c| csv_safe(c).into_owned()))?;
    }
    out.flush()?;
    Ok(())
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

/// `--format table`: for people at a terminal.
pub fn write_table(
    w: &mut dyn Write,
    list: &[Deadline],
    summary: &Summary,
    hidden_not_applicable: usize,
    now: DateTime<Utc>,
    tz: Tz,
) -> Result<()> {
    writeln!(
        w,
        "regwatch deadlines at {} ({})",
        local_text(now, tz),
        utc_text(now)
    )?;
    writeln!(w)?;
    let header = [
        "STATUS",
        "INCIDENT",
        "REGIME / CLOCK",
        "DEADLINE (local)",
        "TIME",
        "NEXT ACTION",
    ];
    let rows: Vec<[String; 6]> = list
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
                crate::deadlines::Status::NotApplicable => {
                    format!("n/a: {}", d.reason.as_deref().unwrap_or(""))
                }
                _ => d.next_action(now, tz),
            };
            [
                d.status.as_str().to_string(),
                format!("{} {}", d.incident.id, truncate(&d.incident.title, 28)),
                clock,
                d.due_at
                    .map(|t| local_text(t, tz))
                    .unwrap_or_else(|| "-".into()),
                d.time_text(now),
                truncate(&action, 110),
            ]
        })
        .collect();
    let mut widths = header.map(|h| h.chars().count());
    for r in &rows {
        for (i, c) in r.iter().enumerate().take(5) {
            widths[i] = widths[i].max(c.chars().count());
        }
    }
    let line = |w: &mut dyn Write, cells: [&str; 6]| -> Result<()> {
        let mut s = String::new();
        for (i, c) in cells.iter().enumerate() {
            if i < 5 {
                s.push_str(&format!("{:<width$}  ", c, width = widths[i]));
            } else {
                s.push_str(c);
            }
        }
        writeln!(w, "{}", s.trim_end())?;
        Ok(())
    };
    line(w, header)?;
    for r in &rows {
        line(w, [&r[0], &r[1], &r[2], &r[3], &r[4], &r[5]])?;
    }
    writeln!(w)?;
    writeln!(
        w,
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
    )?;
    if hidden_not_applicable > 0 {
        writeln!(
            w,
            "{hidden_not_applicable} regime(s) not applicable to some incident are hidden (--all shows them with the reason)"
        )?;
    }
    Ok(())
}

/// `--format ics`: one all-day-free timed event per deadline, for a DPO's calendar.
pub fn write_ics(w: &mut dyn Write, list: &[Deadline], now: DateTime<Utc>, tz: Tz) -> Result<()> {
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
            r.citation
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
    use super::csv_safe;

    #[test]
    fn neutralises_formulas() {
        assert_eq!(csv_safe("=HYPERLINK(\"x\")"), "'=HYPERLINK(\"x\")");
        assert_eq!(csv_safe("+1"), "'+1");
        assert_eq!(csv_safe("-2"), "'-2");
        assert_eq!(csv_safe("@SUM(A1)"), "'@SUM(A1)");
        assert_eq!(csv_safe("\tx"), "'\tx");
        assert_eq!(csv_safe("plain"), "plain");
    }
}
