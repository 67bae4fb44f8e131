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
use crate::util::text::csv_safe;

/// One row of the register.
#[derive(Debug, Clone, Serialize)]
pub struct RegisterEntry {
    pub id: String,
    pub title: String,
    pub occurred_at: Option<String>,
    pub aware_at: String,
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
    pub ico_notified_at: Option<String>,
    pub delay_reason: Option<String>,
    pub subjects_decision: String,
    pub subjects_status: Status,
    pub subjects_notified_at: Option<String>,
    pub register_recorded_at: Option<String>,
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
                occurred_at: inc.time("occurred_at").map(utc_text),
                aware_at: utc_text(inc.aware_at),
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
                ico_notified_at: inc.time("ico_notified_at").map(utc_text),
                delay_reason: text(inc, "delay_reason"),
                subjects_decision,
                subjects_status,
                subjects_notified_at: inc.time("subjects_notified_at").map(utc_text),
                register_recorded_at: inc.time("register_recorded_at").map(utc_text),
            }
        })
        .collect()
}

/// Incidents the organisation became aware of in `[from, to)`.
pub fn in_period(inc: &Incident, from: DateTime<Utc>, to: DateTime<Utc>) -> bool {
    inc.aware_at >= from && inc.aware_at < to
}

const CSV_HEADER: [&str; 24] = [
    "id",
    "title",
    "occurred_at",
    "aware_at",
    "aware_at_local",
    "detected_by",
    "cause",
    "risk_to_individuals",
    "data_subjects",
    "records",
    "data_categories",
    "facts",
    "effects",
    "remedial_action",
    "ico_decision",
    "ico_status",
    "ico_deadline",
    "ico_notified_at",
    "delay_reason",
    "subjects_decision",
    "subjects_status",
    "subjects_notified_at",
    "register_recorded_at",
    "notes",
];

/// CSV for spreadsheets: every cell that a spreadsheet could read as a formula is
/// neutralised.
pub fn write_csv(w: &mut dyn Write, entries: &[RegisterEntry]) -> Result<()> {
    let mut out = csv::Writer::from_writer(w);
    out.write_record(CSV_HEADER)?;
    for e in entries {
        let opt = |o: &Option<String>| o.clone().unwrap_or_default();
        let num = |o: Option<u64>| o.map(|n| n.to_string()).unwrap_or_default();
        let notes = if matches!(e.ico_status, Status::MetLate | Status::Overdue)
            && e.delay_reason.is_none()
        {
            "late without reasons for the delay (UK GDPR Art. 33(1))"
        } else {
            ""
        };
        let cells = [
            e.id.clone(),
            e.title.clone(),
            opt(&e.occurred_at),
            e.aware_at.clone(),
            e.aware_at_local.clone(),
            opt(&e.detected_by),
            e.cause.clone(),
            e.risk_to_individuals.clone(),
            num(e.data_subjects),
            num(e.records),
            e.data_categories.join("; "),
            opt(&e.facts),
            opt(&e.effects),
            opt(&e.remedial_action),
            e.ico_decision.clone(),
            e.ico_status.to_string(),
            opt(&e.ico_deadline),
            opt(&e.ico_notified_at),
            opt(&e.delay_reason),
            e.subjects_decision.clone(),
            e.subjects_status.to_string(),
            opt(&e.subjects_notified_at),
            opt(&e.register_recorded_at),
            notes.to_string(),
        ];
        out.write_record(cells.iter().map(|c| csv_safe(c).into_owned()))?;
    }
    out.flush()?;
    Ok(())
}
