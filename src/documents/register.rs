//! The breach register (UK GDPR Art. 33(5)): every personal data breach, notified or not,
//! with its facts, effects, remedial action and the notification decisions.
//!
//! Built from an evaluation: the notification statuses are the deadlines' statuses, never
//! worked out again here.

use std::io::Write;

use anyhow::Result;
use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use serde::Serialize;

use crate::clock::{local_text, utc_text};
use crate::incidents::record::Incident;
use crate::regimes::deadline::{Deadline, Status};
use crate::regimes::model::RegimeRole;
use crate::render::sheet::{self, Cell, RowSink, Table};
use crate::render::xlsx::{self as xlsx_out, Fill};

/// One row of the register.
#[derive(Debug, Clone, Serialize)]
pub struct RegisterEntry {
    pub id: String,
    pub title: String,
    #[serde(serialize_with = "opt_utc")]
    pub occurred_at: Option<DateTime<Utc>>,
    #[serde(serialize_with = "utc")]
    pub aware_at: DateTime<Utc>,
    pub aware_at_local: String,
    pub detected_by: Option<String>,
    pub cause: String,
    pub risk_to_individuals: String,
    pub data_subjects: Option<u64>,
    pub records: Option<u64>,
    pub data_categories: Vec<String>,
    /// Art. 33(5): the facts.
    pub facts: Option<String>,
    /// Art. 33(5): its effects.
    pub effects: Option<String>,
    /// Art. 33(5): the remedial action taken.
    pub remedial_action: Option<String>,
    /// Whether the ICO had to be told, and if not, why not.
    pub ico_decision: String,
    pub ico_status: Status,
    pub ico_deadline: Option<String>,
    #[serde(serialize_with = "opt_utc")]
    pub ico_notified_at: Option<DateTime<Utc>>,
    pub delay_reason: Option<String>,
    pub subjects_decision: String,
    pub subjects_status: Status,
    #[serde(serialize_with = "opt_utc")]
    pub subjects_notified_at: Option<DateTime<Utc>>,
    #[serde(serialize_with = "opt_utc")]
    pub register_recorded_at: Option<DateTime<Utc>>,
}

/// Times in the stored form, `2026-11-02T09:00:00Z`, as everywhere else in the JSON.
fn utc<S: serde::Serializer>(t: &DateTime<Utc>, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&utc_text(*t))
}

fn opt_utc<S: serde::Serializer>(t: &Option<DateTime<Utc>>, s: S) -> Result<S::Ok, S::Error> {
    match t {
        Some(t) => utc(t, s),
        None => s.serialize_none(),
    }
}

fn text(inc: &Incident, field: &str) -> Option<String> {
    inc.text(field).map(str::to_string)
}

fn decision(d: Option<&&Deadline>, done: &str) -> (String, Status) {
    match d {
        None => (
            "not evaluated (regime disabled)".into(),
            Status::NotApplicable,
        ),
        Some(d) if d.status == Status::NotApplicable => (
            format!(
                "not required: {}",
                d.reason.as_deref().unwrap_or("does not apply")
            ),
            Status::NotApplicable,
        ),
        Some(d) => {
            let what = match d.status {
                Status::Met => format!("{done} in time"),
                Status::MetLate => format!("{done} late"),
                Status::Overdue => "required: OVERDUE".to_string(),
                _ => "required: due".to_string(),
            };
            (what, d.status)
        }
    }
}

/// The register for `incidents` (personal data breaches only), from their deadlines.
/// `deadlines` must include not-applicable rows so the reasons can be recorded.
pub fn build(incidents: &[&Incident], deadlines: &[&Deadline], tz: Tz) -> Vec<RegisterEntry> {
    incidents
        .iter()
        .filter(|i| i.personal_data)
        .map(|inc| {
            let find = |role: RegimeRole| {
                deadlines
                    .iter()
                    .find(|d| d.regime.role == Some(role) && std::ptr::eq(d.incident, *inc))
            };
            let ico = find(RegimeRole::IcoBreachNotice);
            let (ico_decision, ico_status) = decision(ico, "notified");
            let (subjects_decision, subjects_status) =
                decision(find(RegimeRole::SubjectsNotice), "told");
            RegisterEntry {
                id: inc.id.to_string(),
                title: inc.title.to_string(),
                occurred_at: inc.time("occurred_at"),
                aware_at: inc.aware_at,
                aware_at_local: local_text(inc.aware_at, tz),
                detected_by: text(inc, "detected_by"),
                cause: inc.cause().to_string(),
                risk_to_individuals: if inc.risk_to_individuals().is_empty() {
                    "not yet assessed".into()
                } else {
                    inc.risk_to_individuals().to_string()
                },
                data_subjects: inc.data_subjects,
                records: inc.records,
                data_categories: inc.data_categories.items().map(str::to_string).collect(),
                facts: text(inc, "description"),
                effects: text(inc, "consequences"),
                remedial_action: text(inc, "measures_taken"),
                ico_decision,
                ico_status,
                ico_deadline: ico.and_then(|d| d.due_at).map(|t| local_text(t, tz)),
                ico_notified_at: inc.time("ico_notified_at"),
                delay_reason: text(inc, "delay_reason"),
                subjects_decision,
                subjects_status,
                subjects_notified_at: inc.time("subjects_notified_at"),
                register_recorded_at: inc.time("register_recorded_at"),
            }
        })
        .collect()
}

/// Incidents the organisation became aware of in `[from, to)`.
pub fn in_period(inc: &Incident, from: DateTime<Utc>, to: DateTime<Utc>) -> bool {
    inc.aware_at >= from && inc.aware_at < to
}

/// The register as a table: the CSV's columns, and the XLSX sheet's.
pub const TABLE: Table = Table {
    sheet: "Breach register",
    columns: &[
        sheet::text("id"),
        sheet::text("title"),
        sheet::time("occurred_at"),
        sheet::time("aware_at"),
        sheet::text("aware_at_local"),
        sheet::text("detected_by"),
        sheet::text("cause"),
        sheet::text("risk_to_individuals"),
        sheet::count("data_subjects"),
        sheet::count("records"),
        sheet::text("data_categories"),
        sheet::text("facts"),
        sheet::text("effects"),
        sheet::text("remedial_action"),
        sheet::text("ico_decision"),
        sheet::text("ico_status"),
        sheet::text("ico_deadline"),
        sheet::time("ico_notified_at"),
        sheet::text("delay_reason"),
        sheet::text("subjects_decision"),
        sheet::text("subjects_status"),
        sheet::time("subjects_notified_at"),
        sheet::time("register_recorded_at"),
        sheet::text("notes"),
    ],
};

/// One row per entry, in [`TABLE`]'s columns.
pub fn rows(sink: &mut dyn RowSink, entries: &[RegisterEntry]) -> Result<()> {
    for e in entries {
        let notes = if matches!(e.ico_status, Status::MetLate | Status::Overdue)
            && e.delay_reason.is_none()
        {
            "late without reasons for the delay (UK GDPR Art. 33(1))"
        } else {
            ""
        };
        sink.row(&[
            Cell::text(&e.id),
            Cell::text(&e.title),
            Cell::opt_time(e.occurred_at),
            Cell::Time(e.aware_at),
            Cell::text(&e.aware_at_local),
            Cell::opt_text(e.detected_by.as_deref()),
            Cell::text(&e.cause),
            Cell::text(&e.risk_to_individuals),
            Cell::opt_count(e.data_subjects),
            Cell::opt_count(e.records),
            Cell::text(e.data_categories.join("; ")),
            Cell::opt_text(e.facts.as_deref()),
            Cell::opt_text(e.effects.as_deref()),
            Cell::opt_text(e.remedial_action.as_deref()),
            Cell::text(&e.ico_decision),
            Cell::text(e.ico_status.as_str()),
            Cell::opt_text(e.ico_deadline.as_deref()),
            Cell::opt_time(e.ico_notified_at),
            Cell::opt_text(e.delay_reason.as_deref()),
            Cell::text(&e.subjects_decision),
            Cell::text(e.subjects_status.as_str()),
            Cell::opt_time(e.subjects_notified_at),
            Cell::opt_time(e.register_recorded_at),
            Cell::text(notes),
        ])?;
    }
    Ok(())
}

/// CSV for spreadsheets: every cell that a spreadsheet could read as a formula is
/// neutralised.
pub fn write_csv(w: &mut dyn Write, entries: &[RegisterEntry]) -> Result<()> {
    sheet::write_csv(w, &TABLE, |sink| rows(sink, entries))
}

/// XLSX for auditors: the register sheet, with real dates and counts.
pub fn write_xlsx(w: &mut dyn Write, entries: &[RegisterEntry]) -> Result<()> {
    let fill: Fill = Box::new(|sink| rows(sink, entries));
    xlsx_out::write_xlsx(w, vec![(&TABLE, fill)])
}
