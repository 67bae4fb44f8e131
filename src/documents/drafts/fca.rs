//! The FCA/PRA operational incident report (PS26/2, SUP 15.18): each stage's clock, the
//! firm's identifiers, the important business services against their impact tolerances,
//! the threshold met, third parties, and the customers affected.

use anyhow::Result;
use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use serde::Serialize;

use super::{check, checklist_blocks, count, or_missing, or_missing_text, ChecklistItem, Reporter};
use crate::clock::local_text;
use crate::config::Organisation;
use crate::error::bad_input;
use crate::incidents::record::Incident;
use crate::regimes::deadline::{Deadline, Status};
use crate::regimes::model::RegimeRole;
use crate::util::text::thousands;

/// One affected important business service in an FCA/PRA report.
#[derive(Debug, Clone, Serialize)]
pub struct ServiceImpact {
    pub id: String,
    pub name: String,
    pub impact_tolerance: String,
    pub status: Status,
    pub disruption: String,
    pub used_percent: Option<f64>,
    pub breached: bool,
}

/// One stage's clock in an FCA/PRA report.
#[derive(Debug, Clone, Serialize)]
pub struct StageClock {
    pub stage: String,
    pub name: String,
    pub status: Status,
    pub deadline_local: Option<String>,
    pub time: String,
    pub reason: Option<String>,
    pub internal_target: bool,
}

/// Everything the FCA/PRA operational incident report draft shows.
#[derive(Debug, Clone, Serialize)]
pub struct FcaDraft {
    pub organisation: Organisation,
    /// The firm: the entity's name, FRN and LEI (entity values win), the address.
    pub reporter: Reporter,
    pub generated_at: String,
    /// The generation time (the run's `--now`, else the clock): the PDF's creation date.
    pub generated_at_utc: chrono::DateTime<chrono::Utc>,
    pub id: String,
    pub title: String,
    pub stage: String,
    pub stage_name: String,
    pub rehearsal: bool,
    pub in_force_from: Option<String>,
    pub not_reportable: Option<String>,
    pub clocks: Vec<StageClock>,
    pub current: Option<StageClock>,
    pub checklist: Vec<ChecklistItem>,
    pub missing: usize,
    pub description: Option<String>,
    pub severity: String,
    pub cause: String,
    pub ai_agent: Option<String>,
    pub change_id: Option<String>,
    pub occurred_at: Option<String>,
    pub aware_at: String,
    pub reportable_at: Option<String>,
    /// Which reporting threshold was met (`fca_threshold`).
    pub threshold: Option<String>,
    /// Third parties involved (`third_parties`): suppliers, outsourcers, ...
    pub third_parties: Option<String>,
    pub resolved_at: Option<String>,
    pub services: Vec<ServiceImpact>,
    pub tolerance_breached: bool,
    /// Customers affected (`customers_affected`), not the data-subject count.
    pub customers_affected: Option<u64>,
    /// `customers_affected` as written when it is not a whole number.
    pub customers_affected_text: Option<String>,
    /// People whose personal data was affected (`data_subjects`), shown apart.
    pub data_subjects: Option<u64>,
    pub personal_data: bool,
    pub consequences: Option<String>,
    pub measures_taken: Option<String>,
    pub citation: String,
}

/// Builds the FCA/PRA operational incident report draft for one incident. `stage` picks
/// initial, intermediate or final; by default, the first stage not yet submitted.
pub fn fca_draft(
    inc: &Incident,
    deadlines: &[&Deadline],
    org: &Organisation,
    reporter: Reporter,
    stage: Option<&str>,
    now: DateTime<Utc>,
    tz: Tz,
) -> Result<FcaDraft> {
    let mine: Vec<&&Deadline> = deadlines
        .iter()
        .filter(|d| std::ptr::eq(d.incident, inc))
        .collect();
    let fca: Vec<&&Deadline> = mine
        .iter()
        .copied()
        .filter(|d| d.regime.role == Some(RegimeRole::OperationalIncidentReport))
        .collect();
    let regime = fca.first().map(|d| d.regime);
    let not_reportable = fca
        .iter()
        .find(|d| d.status == Status::NotApplicable && d.clock.is_none())
        .map(|d| d.reason.as_deref().unwrap_or("does not apply").to_string());
    let mut fca = fca;
    // Stages in the order the regime defines them: initial, intermediate, final.
    fca.sort_by_key(|d| {
        d.clock
            .and_then(|c| d.regime.clocks.iter().position(|x| std::ptr::eq(x, c)))
            .unwrap_or(usize::MAX)
    });
    let clocks: Vec<StageClock> = fca
        .iter()
        .filter_map(|d| {
            let c = d.clock?;
            Some(StageClock {
                stage: c.id.clone(),
                name: c.name.clone(),
                status: d.status,
                deadline_local: d.due_at.map(|t| local_text(t, tz)),
                time: d.time_text(now),
                reason: d.reason.as_deref().map(str::to_string),
                internal_target: c.internal_target,
            })
        })
        .collect();
    let stage = match stage {
        Some(s) => {
            if !clocks.is_empty() && !clocks.iter().any(|c| c.stage == s) {
                return Err(bad_input(format!(
                    "--stage {s:?}: the stages are {}",
                    clocks
                        .iter()
                        .map(|c| c.stage.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                )));
            }
            s.to_string()
        }
        None => regime
            .and_then(|r| {
                r.clocks
                    .iter()
                    .find(|c| inc.time(&c.done).is_none())
                    .or(r.clocks.last())
            })
            .map_or_else(|| "initial".to_string(), |c| c.id.clone()),
    };
    let current = clocks.iter().find(|c| c.stage == stage).cloned();
    let services: Vec<ServiceImpact> = mine
        .iter()
        .filter(|d| d.regime.role == Some(RegimeRole::ImpactTolerance) && d.service.is_some())
        .filter_map(|d| {
            let s = d.service?;
            let disruption = match (d.started_at, d.done_at) {
                (Some(a), Some(b)) => crate::clock::human_duration(b - a),
                (Some(a), None) => format!("{} so far", crate::clock::human_duration(now - a)),
                _ => "not recorded".to_string(),
            };
            Some(ServiceImpact {
                id: s.id.clone(),
                name: s.name.clone(),
                impact_tolerance: s.impact_tolerance.to_string(),
                status: d.status,
                disruption,
                used_percent: d.used_fraction(now).map(|f| (f * 1000.0).round() / 10.0),
                breached: matches!(d.status, Status::Overdue | Status::MetLate),
            })
        })
        .collect();
    let text = |f: &str| inc.text(f).map(str::to_string);
    let item = check;
    let (customers_affected, customers_affected_text) = count(inc, "customers_affected");
    let mut checklist = vec![
        item(
            "Firm reference number (FRN)",
            "SUP 15.18",
            "[[entities]] frn",
            !reporter.frn.is_empty(),
        ),
        item(
            "Legal Entity Identifier (LEI)",
            "SUP 15.18",
            "[[entities]] lei",
            !reporter.lei.is_empty(),
        ),
        item(
            "Description of the incident",
            "SUP 15.18",
            "description",
            inc.text("description").is_some(),
        ),
        item(
            "Severity assessed",
            "SUP 15.18",
            "severity",
            !inc.severity().is_empty(),
        ),
        item(
            "When the reporting threshold was met",
            "SUP 15.18",
            "fca_reportable_at",
            inc.time("fca_reportable_at").is_some(),
        ),
        item(
            "Which reporting threshold was met",
            "SUP 15.18",
            "fca_threshold",
            inc.text("fca_threshold").is_some(),
        ),
        item(
            if customers_affected_text.is_some() {
                "Number of customers affected (not a whole number as written)"
            } else {
                "Number of customers affected"
            },
            "SUP 15.18",
            "customers_affected",
            customers_affected.is_some(),
        ),
        item(
            "Third parties involved (or none)",
            "SUP 15.18",
            "third_parties",
            inc.text("third_parties").is_some(),
        ),
        item(
            "Impact on customers and services",
            "SUP 15.18",
            "consequences",
            inc.text("consequences").is_some(),
        ),
        item(
            "Actions taken",
            "SUP 15.18",
            "measures_taken",
            inc.text("measures_taken").is_some(),
        ),
        item(
            "Firm name",
            "SUP 15.18",
            if reporter.entity.is_empty() {
                "[organisation] name"
            } else {
                "[[entities]] name"
            },
            !reporter.name.trim().is_empty(),
        ),
    ];
    if let Some(note) = &reporter.note {
        checklist.push(item(
            &format!("Reporting entity named ({note})"),
            "SUP 15.18",
            "entity",
            false,
        ));
    }
    if stage == "final" {
        checklist.push(item(
            "Resolution time",
            "SUP 15.18",
            "resolved_at",
            inc.time("resolved_at").is_some(),
        ));
        checklist.push(item(
            "Root cause (cause)",
            "SUP 15.18",
            "cause",
            !inc.cause().is_empty(),
        ));
    }
    let missing = checklist.iter().filter(|c| !c.done).count();
    let citation = regime
        .and_then(|r| r.clocks.iter().find(|c| c.id == stage))
        .map_or_else(
            || regime.map(|r| r.citation.clone()).unwrap_or_default(),
            |c| c.citation.clone(),
        );
    Ok(FcaDraft {
        organisation: org.clone(),
        reporter,
        generated_at: local_text(now, tz),
        generated_at_utc: now,
        id: inc.id.to_string(),
        title: inc.title.to_string(),
        stage_name: current
            .as_ref()
            .map_or_else(|| stage.clone(), |c| c.name.clone()),
        stage,
        rehearsal: regime.is_some_and(|r| r.rehearsal),
        in_force_from: regime.and_then(|r| r.in_force_from).map(|d| d.to_string()),
        not_reportable,
        clocks,
        current,
        checklist,
        missing,
        description: text("description"),
        severity: if inc.severity().is_empty() {
            "not assessed".into()
        } else {
            inc.severity().to_string()
        },
        cause: inc.cause().replace('_', " "),
        ai_agent: text("ai_agent"),
        change_id: text("change_id"),
        occurred_at: inc.time("occurred_at").map(|t| local_text(t, tz)),
        aware_at: local_text(inc.aware_at, tz),
        reportable_at: inc.time("fca_reportable_at").map(|t| local_text(t, tz)),
        threshold: text("fca_threshold"),
        third_parties: text("third_parties"),
        resolved_at: inc.time("resolved_at").map(|t| local_text(t, tz)),
        tolerance_breached: services.iter().any(|s| s.breached),
        services,
        customers_affected,
        customers_affected_text,
        data_subjects: inc.data_subjects,
        personal_data: inc.personal_data,
        consequences: text("consequences"),
        measures_taken: text("measures_taken"),
        citation,
    })
}

/// The FCA/PRA draft as PDF.
pub fn fca_pdf(d: &FcaDraft) -> Vec<u8> {
    use crate::render::pdf::layout::Block::*;
    let mut b = vec![Para(format!(
        "{}incident {}: {}",
        if d.reporter.name.is_empty() {
            String::new()
        } else {
            format!("{}, ", d.reporter.name)
        },
        d.id,
        d.title
    ))];
    if d.rehearsal {
        b.push(Para(format!(
            "Rehearsal: the FCA/PRA incident-reporting rules apply from {}.",
            d.in_force_from.clone().unwrap_or_default()
        )));
    }
    if let Some(n) = &d.not_reportable {
        b.push(Para(format!("Not reportable to the FCA/PRA: {n}.")));
    }
    b.push(Heading("Report stages".into()));
    let rows = d
        .clocks
        .iter()
        .map(|c| {
            vec![
                c.name.clone(),
                c.status.to_string(),
                c.deadline_local.clone().unwrap_or_default(),
                c.time.clone(),
            ]
        })
        .collect();
    b.push(Table(
        vec![
            "Stage".into(),
            "Status".into(),
            "Deadline".into(),
            "Time".into(),
        ],
        vec![3.0, 1.0, 2.0, 1.6],
        rows,
    ));
    b.push(Heading(format!(
        "Before you submit: what is still missing ({})",
        d.missing
    )));
    b.extend(checklist_blocks(&d.checklist));
    b.push(Heading("1. The incident".into()));
    b.push(Bullet(format!(
        "What happened: {}",
        or_missing(&d.description)
    )));
    b.push(Bullet(format!("Severity: {}", d.severity)));
    b.push(Bullet(format!(
        "Cause: {}{}",
        d.cause,
        d.ai_agent
            .as_ref()
            .map(|a| format!(" (AI agent: {a})"))
            .unwrap_or_default()
    )));
    b.push(Bullet(format!("Became aware: {}", d.aware_at)));
    b.push(Bullet(format!(
        "Reporting threshold met: {}",
        d.reportable_at.as_deref().unwrap_or("not recorded")
    )));
    b.push(Bullet(format!("Threshold: {}", or_missing(&d.threshold))));
    b.push(Bullet(format!(
        "Third parties involved: {}",
        or_missing(&d.third_parties)
    )));
    b.push(Bullet(format!(
        "Resolved: {}",
        d.resolved_at.clone().unwrap_or_else(|| "not yet".into())
    )));
    b.push(Heading(
        "2. Important business services and impact tolerances (SYSC 15A)".into(),
    ));
    let rows = d
        .services
        .iter()
        .map(|s| {
            vec![
                format!("{} ({})", s.name, s.id),
                s.impact_tolerance.clone(),
                s.disruption.clone(),
                s.used_percent.map(|p| format!("{p}%")).unwrap_or_default(),
                if s.breached {
                    "BREACHED".into()
                } else {
                    s.status.to_string()
                },
            ]
        })
        .collect();
    b.push(Table(
        vec![
            "Service".into(),
            "Impact tolerance".into(),
            "Disruption".into(),
            "Used".into(),
            "Status".into(),
        ],
        vec![3.0, 1.3, 1.3, 1.0, 1.2],
        rows,
    ));
    b.push(Heading("3. Impact on customers".into()));
    b.push(Bullet(format!(
        "Customers affected: {}",
        match (&d.customers_affected, &d.customers_affected_text) {
            (Some(n), _) => thousands(*n),
            (None, Some(t)) => format!("MISSING (not a whole number: {t})"),
            (None, None) => "MISSING".into(),
        }
    )));
    b.push(Bullet(format!(
        "People whose personal data was affected (data subjects): {}",
        if d.personal_data {
            d.data_subjects.map_or("not recorded".into(), thousands)
        } else {
            "none (no personal data)".into()
        }
    )));
    b.push(Bullet(format!(
        "Consequences: {}",
        or_missing(&d.consequences)
    )));
    b.push(Heading("4. Actions taken and planned".into()));
    b.push(Para(or_missing(&d.measures_taken)));
    b.push(Heading("Firm".into()));
    if let Some(note) = &d.reporter.note {
        b.push(Para(format!("Note: {note}.")));
    }
    b.push(Bullet(format!(
        "Name: {}",
        or_missing_text(&d.reporter.name)
    )));
    b.push(Bullet(format!(
        "Firm reference number (FRN): {}",
        or_missing_text(&d.reporter.frn)
    )));
    b.push(Bullet(format!(
        "Legal Entity Identifier (LEI): {}",
        or_missing_text(&d.reporter.lei)
    )));
    b.push(Bullet(format!(
        "Address: {}",
        or_missing_text(&d.reporter.address)
    )));
    b.push(Para(format!("Source: {}", d.citation)));
    crate::render::pdf::layout::render_blocks(
        &format!(
            "DRAFT: operational incident report to the FCA/PRA ({})",
            d.stage_name
        ),
        &format!(
            "DRAFT FCA/PRA incident report | incident {} | {}",
            d.id, d.stage
        ),
        &d.generated_at,
        d.generated_at_utc,
        &b,
    )
}
