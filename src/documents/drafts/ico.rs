//! The ICO personal data breach report: what UK GDPR Art. 33(3) requires and every other
//! question of the ICO's report form (initial or follow-up, the people affected and their
//! categories, staff involvement and training, cyber incidents and their effect on
//! confidentiality, integrity and availability, safeguards, who else was told, and who is
//! reporting).

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use serde::Serialize;

use super::{check, checklist_blocks, or_missing, or_missing_text, says_no, Reporter};
use super::{ChecklistItem, SpecialCategories};
use crate::clock::{local_text, utc_text};
use crate::config::Organisation;
use crate::incidents::record::{split_list, Incident};
use crate::regimes::deadline::{Deadline, Status};
use crate::regimes::model::RegimeRole;
use crate::util::text::thousands;

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
    /// Who is reporting: the entity's name and ICO registration number, the address.
    pub reporter: Reporter,
    /// "Initial report" or "Follow-up report".
    pub report_type: &'static str,
    pub follow_up: bool,
    /// Why the draft is that type.
    pub report_type_basis: String,
    pub ico_case_reference: Option<String>,
    pub generated_at: String,
    /// The generation time (the run's `--now`, else the clock): the PDF's creation date.
    pub generated_at_utc: chrono::DateTime<chrono::Utc>,
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
    /// Categories of people affected (`subject_categories`: customers, employees, ...).
    pub subject_categories: Vec<String>,
    /// Those of them the ICO asks about in particular: children, vulnerable adults.
    pub vulnerable_subjects: Vec<String>,
    pub staff_involved: Option<String>,
    /// Asked unless `staff_involved` says no.
    pub ask_staff_training: bool,
    pub staff_training: Option<String>,
    pub cyber_incident: Option<String>,
    /// Asked unless `cyber_incident` says no.
    pub ask_cia_impact: bool,
    pub cia_impact: Option<String>,
    pub safeguards: Option<String>,
    pub others_informed: Option<String>,
    pub risk_assessed: bool,
    pub risk_to_individuals: String,
    pub consequences: Option<String>,
    pub measures_taken: Option<String>,
    pub subjects_decision: String,
    pub subjects_notified_at: Option<String>,
    pub delay_reason: Option<String>,
    pub citation: String,
}

/// Builds the draft for one incident from its deadlines (all regimes, not-applicable
/// included).
pub fn ico_draft(
    inc: &Incident,
    deadlines: &[&Deadline],
    org: &Organisation,
    reporter: Reporter,
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
    let risk_assessed = !inc.risk_to_individuals().is_empty();
    // No risk conclusion is drawn from a risk nobody has assessed: the clocks run while
    // it is open, but the draft says "not yet assessed", never "likely high risk".
    let subjects_decision = match subjects {
        Some(d) if d.status == Status::NotApplicable => format!(
            "Not required: {}",
            d.reason.as_deref().unwrap_or("does not apply")
        ),
        Some(d) if !risk_assessed => format!(
            "Not yet decided: the risk to individuals is not yet assessed. If the breach is \
             likely to result in a high risk, the people affected must be told without undue \
             delay (Art. 34(1)){}.",
            if matches!(d.status, Status::Met | Status::MetLate) {
                "; they have been told"
            } else {
                ""
            }
        ),
        Some(d) if d.status == Status::Met || d.status == Status::MetLate => {
            "Required (assessed as high risk): the people affected have been told".to_string()
        }
        Some(_) => "Required (assessed as high risk): NOT YET TOLD".to_string(),
        None => "Not evaluated".to_string(),
    };
    let item = check;
    // Initial or follow-up: `ico_report_type` when it says which, else follow-up once the
    // ICO has been notified.
    let notified = inc.time("ico_notified_at");
    let stated = inc.text("ico_report_type").map(|v| {
        let v: String = v
            .chars()
            .filter(char::is_ascii_alphanumeric)
            .collect::<String>()
            .to_ascii_lowercase();
        match v.as_str() {
            "initial" => Some(false),
            "followup" | "update" | "further" => Some(true),
            _ => None,
        }
    });
    let (follow_up, report_type_basis) = match (stated, notified) {
        (Some(Some(f)), _) => (f, "as the incident's ico_report_type says".to_string()),
        (Some(None), n) => (
            n.is_some(),
            format!(
                "ico_report_type {:?} is not initial or follow-up; taken as {}",
                inc.text("ico_report_type").unwrap_or_default(),
                if n.is_some() {
                    "follow-up, as the ICO has been notified"
                } else {
                    "initial, as the ICO has not been notified"
                }
            ),
        ),
        (None, Some(t)) => (true, format!("the ICO was notified {}", local_text(t, tz))),
        (None, None) => (false, "the ICO has not been notified yet".to_string()),
    };
    let subject_categories = inc
        .text("subject_categories")
        .map(split_list)
        .unwrap_or_default();
    let vulnerable_subjects: Vec<String> = subject_categories
        .iter()
        .filter(|c| {
            let c = c.to_ascii_lowercase();
            ["child", "vulnerable", "minor", "pupil"]
                .iter()
                .any(|w| c.contains(w))
        })
        .cloned()
        .collect();
    let ask_staff_training = !says_no(inc.text("staff_involved"));
    let ask_cia_impact = !says_no(inc.text("cyber_incident"));
    let mut checklist = vec![
        item(
            "Organisation's name",
            "ICO form",
            if reporter.entity.is_empty() {
                "[organisation] name"
            } else {
                "[[entities]] name"
            },
            !reporter.name.trim().is_empty(),
        ),
        item(
            "Organisation's address",
            "ICO form",
            "[organisation] address",
            !reporter.address.trim().is_empty(),
        ),
        item(
            "ICO registration number (data protection fee)",
            "ICO form",
            reporter.ico_registration_field,
            !reporter.ico_registration.trim().is_empty(),
        ),
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
            "Categories of people affected (e.g. customers, employees, children, vulnerable adults)",
            "Art. 33(3)(a)",
            "subject_categories",
            !subject_categories.is_empty(),
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
            if risk_assessed {
                "Risk to individuals assessed"
            } else {
                "Risk to individuals assessed: not yet assessed, so the draft gives no risk level"
            },
            "Art. 33(1), 34(1)",
            "risk_to_individuals",
            risk_assessed,
        ),
    ];
    // The ICO form's questions answered by one text field each, in the form's order; two
    // are asked only when the answer before them does not rule them out.
    let form_questions = [
        ("Whether staff were involved", "staff_involved", true),
        (
            "Data protection training of the staff involved",
            "staff_training",
            ask_staff_training,
        ),
        ("Whether it was a cyber incident", "cyber_incident", true),
        (
            "Effect on the confidentiality, integrity and availability of the data",
            "cia_impact",
            ask_cia_impact,
        ),
        ("Safeguards in place before the breach", "safeguards", true),
        (
            "Other organisations told (police, NCSC, FCA, other regulators), or none",
            "others_informed",
            true,
        ),
    ];
    for (question, field, asked) in form_questions {
        if asked {
            checklist.push(item(question, "ICO form", field, inc.text(field).is_some()));
        }
    }
    if matches!(stated, Some(None)) {
        checklist.push(item(
            "Report type: initial or follow-up",
            "ICO form",
            "ico_report_type",
            false,
        ));
    }
    if follow_up {
        checklist.push(item(
            "ICO case reference of the initial report",
            "ICO form",
            "ico_case_reference",
            inc.text("ico_case_reference").is_some(),
        ));
    }
    if let Some(note) = &reporter.note {
        checklist.push(item(
            &format!("Reporting entity named ({note})"),
            "ICO form",
            "entity",
            false,
        ));
    }
    // Telling the people affected is asked only once the risk is assessed as high.
    if subjects_applies && risk_assessed {
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
        reporter,
        report_type: if follow_up {
            "Follow-up report"
        } else {
            "Initial report"
        },
        follow_up,
        report_type_basis,
        ico_case_reference: text("ico_case_reference"),
        generated_at: local_text(now, tz),
        generated_at_utc: now,
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
        subject_categories,
        vulnerable_subjects,
        staff_involved: text("staff_involved"),
        ask_staff_training,
        staff_training: text("staff_training"),
        cyber_incident: text("cyber_incident"),
        ask_cia_impact,
        cia_impact: text("cia_impact"),
        safeguards: text("safeguards"),
        others_informed: text("others_informed"),
        risk_assessed,
        risk_to_individuals: if !risk_assessed {
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

/// The ICO draft as PDF: the same model, the same sections.
pub fn ico_pdf(d: &IcoDraft) -> Vec<u8> {
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
    b.push(Para(format!(
        "Report type: {} ({}).{}",
        d.report_type,
        d.report_type_basis,
        if d.follow_up {
            format!(
                " ICO case reference: {}.",
                d.ico_case_reference.as_deref().unwrap_or("MISSING")
            )
        } else {
            String::new()
        }
    )));
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
    b.push(Bullet(format!(
        "Cyber incident: {}",
        or_missing(&d.cyber_incident)
    )));
    if d.ask_cia_impact {
        b.push(Bullet(format!(
            "Effect on confidentiality, integrity and availability: {}",
            or_missing(&d.cia_impact)
        )));
    }
    b.push(Bullet(format!(
        "Staff involved: {}",
        or_missing(&d.staff_involved)
    )));
    if d.ask_staff_training {
        b.push(Bullet(format!(
            "Staff data protection training: {}",
            or_missing(&d.staff_training)
        )));
    }
    b.push(Bullet(format!(
        "Safeguards in place before the breach: {}",
        or_missing(&d.safeguards)
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
        "Categories of people affected: {}",
        if d.subject_categories.is_empty() {
            "MISSING".into()
        } else {
            d.subject_categories.join("; ")
        }
    )));
    if !d.vulnerable_subjects.is_empty() {
        b.push(Bullet(format!(
            "Including children or vulnerable adults: {}",
            d.vulnerable_subjects.join("; ")
        )));
    }
    b.push(Bullet(format!(
        "Approximate number of people: {}",
        d.data_subjects.map_or("MISSING".into(), thousands)
    )));
    b.push(Bullet(format!(
        "Approximate number of records: {}",
        d.records.map_or("MISSING".into(), thousands)
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
    b.push(Bullet(format!(
        "Other organisations told (police, NCSC, FCA, others): {}",
        or_missing(&d.others_informed)
    )));
    b.push(Heading("6. Telling the people affected (Art. 34)".into()));
    b.push(Para(d.subjects_decision.clone()));
    if d.clock.as_ref().is_some_and(|c| c.late) {
        b.push(Heading("7. Reasons for the delay (Art. 33(1))".into()));
        b.push(Para(d.delay_reason.clone().unwrap_or_else(|| {
            "MISSING: a notification made after 72 hours must give the reasons for the delay."
                .into()
        })));
    }
    b.push(Heading("Organisation".into()));
    if let Some(note) = &d.reporter.note {
        b.push(Para(format!("Note: {note}.")));
    }
    b.push(Bullet(format!(
        "Name: {}",
        or_missing_text(&d.reporter.name)
    )));
    b.push(Bullet(format!(
        "Address: {}",
        or_missing_text(&d.reporter.address)
    )));
    b.push(Bullet(format!(
        "ICO registration number: {}",
        or_missing_text(&d.reporter.ico_registration)
    )));
    b.push(Heading("Contact (Art. 33(3)(b))".into()));
    b.push(Bullet(format!(
        "Data protection officer: {}",
        d.organisation.dpo_name
    )));
    b.push(Bullet(format!("E-mail: {}", d.organisation.dpo_email)));
    b.push(Bullet(format!("Telephone: {}", d.organisation.dpo_phone)));
    b.push(Para(format!("Source: {}", d.citation)));
    crate::render::pdf::layout::render_blocks(
        "DRAFT: personal data breach report to the ICO",
        &format!("DRAFT ICO breach report | incident {}", d.id),
        &d.generated_at,
        d.generated_at_utc,
        &b,
    )
}
