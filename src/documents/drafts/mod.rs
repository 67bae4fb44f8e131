//! Drafts a DPO can send: the ICO personal data breach report (UK GDPR Art. 33(3)).
//!
//! The draft is built from an evaluation (the deadline and its status come from there) and
//! rendered through handlebars templates in `templates/`, so a firm can rebrand it.

pub mod publish;

use std::path::Path;

use anyhow::{Context, Result};
use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use handlebars::Handlebars;
use serde::{Deserialize, Serialize};

use crate::clock::{local_text, utc_text};
use crate::config::Organisation;
use crate::error::bad_input;
use crate::incidents::record::Incident;
use crate::regimes::deadline::{Deadline, Status};
use crate::regimes::model::RegimeRole;
use crate::util::text::escape_markdown;

/// One thing the ICO report needs, and whether the incident record has it.
#[derive(Debug, Clone, Serialize)]
pub struct ChecklistItem {
    pub item: String,
    pub source: &'static str,
    pub done: bool,
    pub field: &'static str,
}

/// The clock at the top of the draft.
#[derive(Debug, Clone, Serialize)]
pub struct ClockSummary {
    pub status: Status,
    pub deadline_local: String,
    pub deadline_utc: String,
    pub time: String,
    pub late: bool,
    pub notified_at: Option<String>,
}

/// Everything the ICO draft shows.
#[derive(Debug, Clone, Serialize)]
pub struct IcoDraft {
    pub organisation: Organisation,
    pub generated_at: String,
    pub id: String,
    pub title: String,
    pub clock: Option<ClockSummary>,
    pub not_notifiable: Option<String>,
    pub checklist: Vec<ChecklistItem>,
    pub missing: usize,
    pub phased: bool,
    pub description: Option<String>,
    pub occurred_at: Option<String>,
    pub aware_at: String,
    pub detected_by: Option<String>,
    pub cause: String,
    pub ai_agent: Option<String>,
    pub change_id: Option<String>,
    pub data_categories: Vec<String>,
    pub special_categories: Vec<String>,
    pub data_subjects: Option<u64>,
    pub records: Option<u64>,
    pub risk_to_individuals: String,
    pub consequences: Option<String>,
    pub measures_taken: Option<String>,
    pub subjects_decision: String,
    pub subjects_notified_at: Option<String>,
    pub delay_reason: Option<String>,
    pub citation: String,
}

/// Data categories that are special category (UK GDPR Art. 9) or criminal offence data
/// (Art. 10), from `mappings/special-categories.toml`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SpecialCategories {
    pub citation: String,
    pub categories: Vec<String>,
}

impl SpecialCategories {
    pub fn load(path: &Path) -> Result<SpecialCategories> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| bad_input(format!("cannot read {}: {e}", path.display())))?;
        toml::from_str(&text).map_err(|e| bad_input(format!("{}: {e}", path.display())))
    }

    /// Whether a free-text category names a special category (case-insensitive match
    /// on words, so "health inferences" counts as health).
    pub fn matches(&self, category: &str) -> bool {
        let c = category.to_ascii_lowercase();
        self.categories
            .iter()
            .any(|s| c.contains(&s.to_ascii_lowercase()))
    }
}

/// Builds the draft for one incident from its deadlines (all regimes, not-applicable
/// included).
pub fn ico_draft(
    inc: &Incident,
    deadlines: &[&Deadline],
    org: &Organisation,
    special: &SpecialCategories,
    now: DateTime<Utc>,
    tz: Tz,
) -> IcoDraft {
    let find = |role: RegimeRole| {
        deadlines
            .iter()
            .find(|d| d.regime.role == Some(role) && std::ptr::eq(d.incident, inc))
    };
    let ico = find(RegimeRole::IcoBreachNotice);
    let subjects = find(RegimeRole::SubjectsNotice);
    let text = |f: &str| inc.text(f).map(str::to_string);
    let applies = ico.is_some_and(|d| d.status != Status::NotApplicable);
    let clock = ico.filter(|_| applies).and_then(|d| {
        let due = d.due_at?;
        Some(ClockSummary {
            status: d.status,
            deadline_local: local_text(due, tz),
            deadline_utc: utc_text(due),
            time: d.time_text(now),
            late: matches!(d.status, Status::Overdue | Status::MetLate),
            notified_at: d.done_at.map(|t| local_text(t, tz)),
        })
    });
    let late = clock.as_ref().is_some_and(|c| c.late);
    let subjects_applies = subjects.is_some_and(|d| d.status != Status::NotApplicable);
    let subjects_decision = match subjects {
        Some(d) if d.status == Status::NotApplicable => format!(
            "Not required: {}",
            d.reason.as_deref().unwrap_or("does not apply")
        ),
        Some(d) if d.status == Status::Met || d.status == Status::MetLate => {
            "Required (likely high risk): the people affected have been told".to_string()
        }
        Some(_) => "Required (likely high risk): NOT YET TOLD".to_string(),
        None => "Not evaluated".to_string(),
    };
    let item = |item: &str, source: &'static str, field: &'static str, done: bool| ChecklistItem {
        item: item.to_string(),
        source,
        done,
        field,
    };
    let mut checklist = vec![
        item(
            "What happened (the nature of the breach)",
            "Art. 33(3)(a)",
            "description",
            inc.text("description").is_some(),
        ),
        item(
            "Categories of personal data concerned",
            "Art. 33(3)(a)",
            "data_categories",
            !inc.data_categories.is_empty(),
        ),
        item(
            "Approximate number of data subjects",
            "Art. 33(3)(a)",
            "data_subjects",
            inc.data_subjects.is_some(),
        ),
        item(
            "Approximate number of personal data records",
            "Art. 33(3)(a)",
            "records",
            inc.records.is_some(),
        ),
        item(
            "DPO or other contact point",
            "Art. 33(3)(b)",
            "[organisation] dpo_email",
            !org.dpo_email.is_empty(),
        ),
        item(
            "Likely consequences",
            "Art. 33(3)(c)",
            "consequences",
            inc.text("consequences").is_some(),
        ),
        item(
            "Measures taken or proposed, including to mitigate adverse effects",
            "Art. 33(3)(d)",
            "measures_taken",
            inc.text("measures_taken").is_some(),
        ),
        item(
            "How the organisation became aware",
            "ICO form",
            "detected_by",
            inc.text("detected_by").is_some(),
        ),
        item(
            "Risk to individuals assessed",
            "Art. 33(1), 34(1)",
            "risk_to_individuals",
            !inc.risk_to_individuals().is_empty(),
        ),
    ];
    if subjects_applies {
        checklist.push(item(
            "People affected told without undue delay",
            "Art. 34(1)",
            "subjects_notified_at",
            inc.time("subjects_notified_at").is_some(),
        ));
    }
    if late {
        checklist.push(item(
            "Reasons for the delay (notification after 72 hours)",
            "Art. 33(1)",
            "delay_reason",
            inc.text("delay_reason").is_some(),
        ));
    }
    let missing = checklist.iter().filter(|c| !c.done).count();
    let open = clock.as_ref().is_some_and(|c| c.status.is_open());
    IcoDraft {
        organisation: org.clone(),
        generated_at: local_text(now, tz),
        id: inc.id.to_string(),
        title: inc.title.to_string(),
        not_notifiable: ico
            .filter(|d| d.status == Status::NotApplicable)
            .map(|d| d.reason.as_deref().unwrap_or("does not apply").to_string()),
        clock,
        phased: open && missing > 0,
        checklist,
        missing,
        description: text("description"),
        occurred_at: inc.time("occurred_at").map(|t| local_text(t, tz)),
        aware_at: local_text(inc.aware_at, tz),
        detected_by: text("detected_by"),
        cause: inc.cause().replace('_', " "),
        ai_agent: text("ai_agent"),
        change_id: text("change_id"),
        data_categories: inc.data_categories.items().map(str::to_string).collect(),
        special_categories: inc
            .data_categories
            .items()
            .filter(|c| special.matches(c))
            .map(str::to_string)
            .collect(),
        data_subjects: inc.data_subjects,
        records: inc.records,
        risk_to_individuals: if inc.risk_to_individuals().is_empty() {
            "not yet assessed".into()
        } else {
            inc.risk_to_individuals().to_string()
        },
        consequences: text("consequences"),
        measures_taken: text("measures_taken"),
        subjects_decision,
        subjects_notified_at: inc.time("subjects_notified_at").map(|t| local_text(t, tz)),
        delay_reason: text("delay_reason"),
        citation: ico.map_or(String::new(), |d| {
            d.clock
                .map_or(d.regime.citation.clone(), |c| c.citation.clone())
        }),
    }
}

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
    pub generated_at: String,
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
    pub resolved_at: Option<String>,
    pub services: Vec<ServiceImpact>,
    pub tolerance_breached: bool,
    pub customers_affected: Option<u64>,
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
    let item = |item: &str, source: &'static str, field: &'static str, done: bool| ChecklistItem {
        item: item.to_string(),
        source,
        done,
        field,
    };
    let mut checklist = vec![
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
            "Firm contact",
            "SUP 15.18",
            "[organisation] name",
            !org.name.is_empty(),
        ),
    ];
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
        generated_at: local_text(now, tz),
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
        resolved_at: inc.time("resolved_at").map(|t| local_text(t, tz)),
        tolerance_breached: services.iter().any(|s| s.breached),
        services,
        customers_affected: inc.data_subjects,
        personal_data: inc.personal_data,
        consequences: text("consequences"),
        measures_taken: text("measures_taken"),
        citation,
    })
}

fn checklist_blocks(items: &[ChecklistItem]) -> Vec<crate::render::pdf::layout::Block> {
    items
        .iter()
        .map(|c| {
            crate::render::pdf::layout::Block::Bullet(format!(
                "[{}] {} ({}; field {})",
                if c.done { "x" } else { " " },
                c.item,
                c.source,
                c.field
            ))
        })
        .collect()
}

fn or_missing(v: &Option<String>) -> String {
    v.clone().unwrap_or_else(|| "MISSING".into())
}

/// The ICO draft as PDF: the same model, the same sections.
pub fn ico_pdf(d: &IcoDraft) -> Vec<u8> {
    use crate::render::pdf::layout::Block::*;
    let mut b = vec![Para(format!(
        "{}incident {}: {}",
        d.organisation.name_prefix(", "),
        d.id,
        d.title
    ))];
    if let Some(c) = &d.clock {
        b.push(Para(format!(
            "Clock (UK GDPR Art. 33(1)): {}, {}. Deadline {} ({}).",
            c.status, c.time, c.deadline_local, c.deadline_utc
        )));
    }
    if let Some(n) = &d.not_notifiable {
        b.push(Para(format!("Not notifiable to the ICO: {n}.")));
    }
    b.push(Para("A draft for the DPO to check before it is sent through the ICO's online form; nothing here has been sent to the ICO.".into()));
    b.push(Heading(format!(
        "Before you send: what is still missing ({})",
        d.missing
    )));
    b.extend(checklist_blocks(&d.checklist));
    if d.phased {
        b.push(Para("Use phased reporting (Art. 33(4)): submit what you have now, say what is outstanding, and send the rest without undue further delay.".into()));
    }
    b.push(Heading("1. About the breach".into()));
    b.push(Bullet(format!(
        "What happened: {}",
        or_missing(&d.description)
    )));
    b.push(Bullet(format!(
        "When it happened: {}",
        d.occurred_at.clone().unwrap_or_else(|| "not known".into())
    )));
    b.push(Bullet(format!(
        "Cause: {}{}",
        d.cause,
        d.ai_agent
            .as_ref()
            .map(|a| format!(" (AI agent: {a})"))
            .unwrap_or_default()
    )));
    b.push(Heading("2. How and when you found out".into()));
    b.push(Bullet(format!("Became aware: {}", d.aware_at)));
    b.push(Bullet(format!(
        "Detected by: {}",
        or_missing(&d.detected_by)
    )));
    b.push(Heading("3. Personal data and people affected".into()));
    b.push(Bullet(format!(
        "Categories of personal data: {}",
        if d.data_categories.is_empty() {
            "MISSING".into()
        } else {
            d.data_categories.join("; ")
        }
    )));
    if !d.special_categories.is_empty() {
        b.push(Bullet(format!(
            "Special category or criminal offence data: {}",
            d.special_categories.join("; ")
        )));
    }
    b.push(Bullet(format!(
        "Approximate number of people: {}",
        d.data_subjects.map_or("MISSING".into(), |n| n.to_string())
    )));
    b.push(Bullet(format!(
        "Approximate number of records: {}",
        d.records.map_or("MISSING".into(), |n| n.to_string())
    )));
    b.push(Heading("4. Consequences".into()));
    b.push(Bullet(format!(
        "Risk to individuals: {}",
        d.risk_to_individuals
    )));
    b.push(Bullet(format!(
        "Likely consequences: {}",
        or_missing(&d.consequences)
    )));
    b.push(Heading("5. Measures taken or proposed".into()));
    b.push(Para(or_missing(&d.measures_taken)));
    b.push(Heading("6. Telling the people affected (Art. 34)".into()));
    b.push(Para(d.subjects_decision.clone()));
    if d.clock.as_ref().is_some_and(|c| c.late) {
        b.push(Heading("7. Reasons for the delay (Art. 33(1))".into()));
        b.push(Para(d.delay_reason.clone().unwrap_or_else(|| {
            "MISSING: a notification made after 72 hours must give the reasons for the delay."
                .into()
        })));
    }
    b.push(Heading("Contact (Art. 33(3)(b))".into()));
    b.push(Bullet(format!(
        "Data protection officer: {}",
        d.organisation.dpo_name
    )));
    b.push(Bullet(format!("E-mail: {}", d.organisation.dpo_email)));
    b.push(Bullet(format!("Telephone: {}", d.organisation.dpo_phone)));
    b.push(Bullet(format!(
        "ICO registration number: {}",
        d.organisation.ico_registration
    )));
    b.push(Para(format!("Source: {}", d.citation)));
    crate::render::pdf::layout::render_blocks(
        "DRAFT: personal data breach report to the ICO",
        &format!("DRAFT ICO breach report | incident {}", d.id),
        &d.generated_at,
        &b,
    )
}

/// The FCA/PRA draft as PDF.
pub fn fca_pdf(d: &FcaDraft) -> Vec<u8> {
    use crate::render::pdf::layout::Block::*;
    let mut b = vec![Para(format!(
        "{}incident {}: {}",
        d.organisation.name_prefix(", "),
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
        d.customers_affected
            .map_or("not recorded".into(), |n| n.to_string())
    )));
    b.push(Bullet(format!(
        "Consequences: {}",
        or_missing(&d.consequences)
    )));
    b.push(Heading("4. Actions taken and planned".into()));
    b.push(Para(or_missing(&d.measures_taken)));
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
        &b,
    )
}

/// A draft's templates: Markdown (Markdown-escaped) and HTML (HTML-escaped), loaded from
/// `<stem>.md.hbs` and `<stem>.html.hbs`.
pub struct DraftTemplates {
    markdown: Handlebars<'static>,
    html: Handlebars<'static>,
}

impl DraftTemplates {
    pub fn load(dir: &Path, stem: &str) -> Result<DraftTemplates> {
        let load = |name: String, escape: fn(&str) -> String| -> Result<Handlebars<'static>> {
            let mut hb = Handlebars::new();
            hb.set_strict_mode(true);
            hb.register_escape_fn(escape);
            let path = dir.join(name);
            hb.register_template_file("draft", &path)
                .map_err(|e| bad_input(format!("template {}: {e}", path.display())))?;
            Ok(hb)
        };
        Ok(DraftTemplates {
            markdown: load(format!("{stem}.md.hbs"), escape_markdown)?,
            html: load(format!("{stem}.html.hbs"), handlebars::html_escape)?,
        })
    }

    pub fn markdown<T: Serialize>(&self, draft: &T) -> Result<String> {
        self.markdown
            .render("draft", draft)
            .context("rendering the Markdown draft")
    }

    pub fn html<T: Serialize>(&self, draft: &T) -> Result<String> {
        self.html
            .render("draft", draft)
            .context("rendering the HTML draft")
    }
}

/// A draft as an e-mail (plain text and HTML alternatives) to a reviewer.
pub fn draft_message(
    subject: &str,
    markdown: &str,
    html: &str,
    from: &str,
    to: &[String],
) -> Result<lettre::Message> {
    use lettre::message::{Mailbox, MultiPart};
    let from: Mailbox = from
        .parse()
        .map_err(|e| bad_input(format!("alerts.from {from:?} is not an address: {e}")))?;
    let subject: String = subject
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    let mut b = lettre::Message::builder().from(from).subject(subject);
    if to.is_empty() {
        return Err(bad_input(
            "no recipient for the draft: set [alerts.roles] for the regime's role",
        ));
    }
    for r in to {
        let mb: Mailbox = r
            .parse()
            .map_err(|e| bad_input(format!("recipient {r:?} is not an address: {e}")))?;
        b = b.to(mb);
    }
    b.multipart(MultiPart::alternative_plain_html(
        markdown.to_string(),
        html.to_string(),
    ))
    .context("cannot build the draft message")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markdown_escaping_makes_html_and_links_inert() {
        let e = escape_markdown("<script>alert(1)</script> [x](http://evil) *b*");
        assert!(!e.contains('<'));
        assert!(e.contains("&lt;script&gt;"));
        assert!(e.contains("\\[x\\](http://evil)"));
        assert_eq!(escape_markdown("- item"), "\\- item");
        assert_eq!(escape_markdown("2026-11-30 (GMT)"), "2026-11-30 (GMT)");
    }

    #[test]
    fn special_categories_match_words() {
        let s = SpecialCategories {
            citation: String::new(),
            categories: vec!["health".into(), "biometric".into()],
        };
        assert!(s.matches("Health inferences"));
        assert!(!s.matches("order history"));
    }
}
