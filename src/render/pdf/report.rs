//! The monthly report as PDF: the same `MonthlyReport` the HTML and Markdown come from,
//! drawn with the layout engine, with the same tables and the same column headings.

use super::layout::{finish, Layout, Tone};
use crate::documents::report::{AiOperations, ClockRow, MonthlyReport};
use crate::render::chart::{DISRUPTED, NOTIFIED};
use crate::util::text::thousands;

fn count(n: usize) -> String {
    thousands(n as u64)
}

/// A clock's name with what the HTML adds to it: the service, internal target, rehearsal.
fn clock_text(c: &ClockRow) -> String {
    let mut clock = c.clock.clone();
    if let Some(s) = &c.service {
        clock.push_str(&format!(" ({s})"));
    }
    if c.internal_target {
        clock.push_str(" (internal target)");
    }
    if c.rehearsal {
        clock.push_str(" (rehearsal)");
    }
    clock
}

/// Clocks as the deadlines table shows them, urgent rows marked.
fn clocks_table(l: &mut Layout, clocks: &[ClockRow]) {
    let rows: Vec<Vec<String>> = clocks
        .iter()
        .map(|c| {
            vec![
                format!("{} {}", c.incident_id, c.title),
                c.regime.clone(),
                clock_text(c),
                c.deadline.clone(),
                c.status.to_string(),
                c.time.clone(),
            ]
        })
        .collect();
    let marked: Vec<bool> = clocks.iter().map(|c| c.urgent).collect();
    l.table_marked(
        &["Incident", "Regime", "Clock", "Deadline", "Status", "Time"],
        &[2.4, 2.2, 2.0, 1.6, 1.1, 1.3],
        &rows,
        &marked,
    );
}

/// Renders the report as PDF bytes.
pub fn render(r: &MonthlyReport) -> Vec<u8> {
    let mut l = Layout::new();
    l.heading(&format!("Compliance report: {}", r.month_label), 18.0);
    l.paragraph(
        &format!(
            "{}Period {} to {}. Generated {} by regwatch.",
            r.organisation.name_prefix(". "),
            r.period_start,
            r.period_end,
            r.generated_at
        ),
        9.0,
    );
    verdict(&mut l, r);
    summary(&mut l, r);
    deadlines(&mut l, r);
    resilience(&mut l, r);

    l.heading("4. AI operations", 13.0);
    match &r.ai_operations {
        None => l.paragraph(
            "No audit trail was given for this report, so guardrail findings, the NIST AI RMF coverage matrix and change metrics are not shown.",
            9.0,
        ),
        Some(ai) => ai_operations(&mut l, ai),
    }
    l.paragraph("The clocks of incidents caused by AI agents:", 9.0);
    let rows: Vec<Vec<String>> = r
        .ai_caused
        .iter()
        .map(|c| {
            vec![
                format!("{} {}", c.incident_id, c.title),
                c.regime.clone(),
                c.clock.clone(),
                c.status.to_string(),
                c.time.clone(),
            ]
        })
        .collect();
    l.table(
        &["Incident", "Regime", "Clock", "Status", "Time"],
        &[2.6, 2.4, 2.0, 1.1, 1.3],
        &rows,
    );
    register(&mut l, r);
    data_quality(&mut l, r);

    // Running header and footer on every page, now the page count is known.
    let header = format!(
        "{}Compliance report {} | period {} to {}",
        r.organisation.name_prefix(" | "),
        r.month,
        r.period_start,
        r.period_end
    );
    finish(
        l,
        &format!("Compliance report {}", r.month),
        &header,
        &r.generated_at,
        r.generated_at_utc,
    )
}

/// The report's first words: what is overdue or due within 24 hours, or that nothing is.
fn verdict(l: &mut Layout, r: &MonthlyReport) {
    let v = &r.verdict;
    let text = format!("{} (as of {}).", v.summary, r.generated_at);
    if v.clocks.is_empty() {
        l.emphasis(&text, 11.0, Tone::Clear);
    } else {
        l.emphasis(&text, 11.0, Tone::Alert);
        clocks_table(l, &v.clocks);
    }
}

fn summary(l: &mut Layout, r: &MonthlyReport) {
    l.heading("1. Executive summary", 13.0);
    let rows: Vec<Vec<String>> = r
        .comparison
        .iter()
        .map(|c| {
            vec![
                c.label.to_string(),
                c.this_month_text.clone(),
                c.last_month_text.clone(),
                c.change.clone(),
            ]
        })
        .collect();
    l.table(
        &["Figure", &r.month_label, &r.previous_month_label, "Change"],
        &[3.0, 1.2, 1.2, 1.0],
        &rows,
    );
    l.paragraph(
        &format!(
            "Notifications still due: {}.",
            count(r.headline.notifications_still_due)
        ),
        9.0,
    );
}

fn deadlines(l: &mut Layout, r: &MonthlyReport) {
    l.heading("2. Regulatory deadlines", 13.0);
    l.paragraph(
        "Every clock that ran during the month, most urgent first: overdue, then the open clocks by due time, those not started, and those done. Shaded rows are overdue or due within 24 hours.",
        9.0,
    );
    clocks_table(l, &r.clocks);
    l.heading("Time taken to notify the ICO against the 72 hours", 11.0);
    l.bar_chart(
        "Hours from awareness to ICO notification (or to now, if not yet notified)",
        "h",
        &r.ico_times,
        r.ico_limit_hours,
        Some(&NOTIFIED),
    );
    l.heading("Reasons recorded for late notifications", 11.0);
    let rows: Vec<Vec<String>> = r
        .late_reasons
        .iter()
        .map(|x| {
            vec![
                x.incident_id.clone(),
                x.clock.clone(),
                x.time.clone(),
                x.reason.clone().unwrap_or_else(|| "none recorded".into()),
            ]
        })
        .collect();
    l.table(
        &["Incident", "Clock", "Time", "Reasons for the delay"],
        &[1.2, 2.0, 1.3, 4.0],
        &rows,
    );
}

fn resilience(l: &mut Layout, r: &MonthlyReport) {
    l.heading("3. Operational resilience", 13.0);
    let rows: Vec<Vec<String>> = r
        .services
        .iter()
        .map(|s| {
            vec![
                format!("{} ({})", s.name, s.id),
                s.impact_tolerance.clone(),
                count(s.disruptions),
                s.longest.clone(),
                count(s.breaches),
            ]
        })
        .collect();
    l.table(
        &[
            "Important business service",
            "Impact tolerance",
            "Disruptions",
            "Longest",
            "Breaches",
        ],
        &[3.0, 1.4, 1.0, 1.2, 1.0],
        &rows,
    );
    for s in r.services.iter().filter(|s| s.disruptions > 0) {
        l.heading(&s.name, 11.0);
        l.bar_chart(
            &format!("{}: hours of disruption per incident", s.name),
            "h",
            &s.bars,
            Some(s.tolerance_hours),
            Some(&DISRUPTED),
        );
    }
}

fn register(l: &mut Layout, r: &MonthlyReport) {
    l.heading("5. Breach register (UK GDPR Art. 33(5))", 13.0);
    l.paragraph(
        "Every personal data breach the organisation became aware of in the month, notified or not.",
        9.0,
    );
    let rows: Vec<Vec<String>> = r
        .register
        .iter()
        .map(|e| {
            let mut breach = format!(
                "{} {} (aware {}; risk: {}",
                e.id, e.title, e.aware_at_local, e.risk_to_individuals
            );
            if let Some(n) = e.data_subjects {
                breach.push_str(&format!("; people: {}", thousands(n)));
            }
            if let Some(n) = e.records {
                breach.push_str(&format!("; records: {}", thousands(n)));
            }
            breach.push(')');
            let mut ico = e.ico_decision.clone();
            if let Some(reason) = &e.delay_reason {
                ico.push_str(&format!(". Reasons for delay: {reason}"));
            }
            vec![
                breach,
                e.facts.clone().unwrap_or_default(),
                e.effects.clone().unwrap_or_default(),
                e.remedial_action.clone().unwrap_or_default(),
                ico,
                e.subjects_decision.clone(),
            ]
        })
        .collect();
    l.table(
        &[
            "Breach",
            "Facts",
            "Effects",
            "Remedial action",
            "ICO",
            "People affected",
        ],
        &[1.6, 2.2, 1.8, 1.8, 1.3, 1.3],
        &rows,
    );
}

fn data_quality(l: &mut Layout, r: &MonthlyReport) {
    l.heading("6. Data quality", 13.0);
    l.paragraph(
        "What this report rests on: every input file, the incident files and the audit logs. Every record read was accepted, rejected (and quarantined with its reason) or skipped (with why). An accepted row with problems is in the report without the fields that could not be used. The reference files (mappings, services, configuration) are listed with their SHA-256 in manifest.json.",
        9.0,
    );
    let rows: Vec<Vec<String>> = r
        .inputs
        .iter()
        .map(|i| {
            vec![
                i.file.clone(),
                i.kind.clone(),
                thousands(i.read),
                thousands(i.accepted),
                thousands(i.rejected),
                thousands(i.skipped),
                thousands(i.with_problems),
                i.note.clone().unwrap_or_default(),
            ]
        })
        .collect();
    l.table(
        &[
            "Input",
            "Kind",
            "Records read",
            "Accepted",
            "Rejected",
            "Skipped",
            "Accepted with problems",
            "Note",
        ],
        &[3.0, 1.1, 0.9, 0.9, 0.9, 0.9, 1.1, 2.6],
        &rows,
    );
    if !r.input_issues.is_empty() {
        let rows: Vec<Vec<String>> = r
            .input_issues
            .iter()
            .map(|i| {
                vec![
                    i.file.clone(),
                    i.location.clone(),
                    i.id.clone(),
                    i.field.clone(),
                    i.outcome.to_string(),
                    i.reason.clone(),
                ]
            })
            .collect();
        l.table(
            &["Input", "Where", "Incident", "Field", "Row", "Reason"],
            &[1.8, 0.9, 0.9, 1.2, 0.8, 3.2],
            &rows,
        );
    }
}

/// Section 4 from the audit: findings by severity and policy, the worst five, the NIST AI
/// RMF coverage matrix (subcategories without evidence folded into a list) and the change
/// metrics with their charts.
fn ai_operations(l: &mut Layout, ai: &AiOperations) {
    l.paragraph(
        &format!(
            "What people, services and AI agents did, checked against the guardrail policies ({}). {} findings first seen this month.",
            ai.read,
            count(ai.findings)
        ),
        9.0,
    );
    let rows: Vec<Vec<String>> = ai
        .by_severity
        .iter()
        .map(|s| vec![s.severity.clone(), count(s.count)])
        .collect();
    l.table(&["Severity", "Findings"], &[3.0, 1.0], &rows);
    let rows: Vec<Vec<String>> = ai
        .by_policy
        .iter()
        .map(|p| {
            vec![
                format!("{} ({})", p.title, p.id),
                p.severity.clone(),
                count(p.count),
            ]
        })
        .collect();
    l.table(&["Policy", "Severity", "Findings"], &[6.0, 1.2, 1.0], &rows);
    l.heading("The worst five", 11.0);
    if ai.worst.is_empty() {
        l.paragraph("No findings this month.", 9.0);
    }
    for w in &ai.worst {
        l.emphasis(
            &format!("{} ({}, {})", w.title, w.severity, w.when),
            9.5,
            Tone::Plain,
        );
        let change = if w.change_id.is_empty() {
            "none recorded"
        } else {
            &w.change_id
        };
        for item in [
            format!("What happened: {}", w.detail),
            format!("Change: {change}; who: {}", w.actors),
            format!("Resources: {}", w.resources),
            format!("Evidence: {}", w.events),
            format!("Why it matters: {}", w.why),
            format!("NIST AI RMF: {}", w.nist),
        ] {
            l.bullet(&item, 8.5);
        }
        if !w.waiver.is_empty() {
            l.bullet(&format!("Waived: {}", w.waiver), 8.5);
        }
    }
    if !ai.waivers.is_empty() {
        l.heading("Waivers used", 11.0);
        for w in &ai.waivers {
            let (used, until) = if w.expired {
                (
                    format!(
                        "expired {}: waives nothing (a waiver-expired finding)",
                        w.expires
                    ),
                    "expired",
                )
            } else {
                (format!("{} finding(s)", w.findings), "expires")
            };
            l.paragraph(
                &format!(
                    "{} ({}): {used}. {}. Approved by {}; {until} {}.",
                    w.id, w.scope, w.reason, w.approver, w.expires
                ),
                8.5,
            );
        }
    }
    l.heading("NIST AI RMF 1.0 coverage", 11.0);
    l.paragraph(
        &format!(
            "{} of {} subcategories have evidence from the guardrail policies; fail means a mapped policy has findings this month.",
            ai.subcategories_covered, ai.subcategories
        ),
        9.0,
    );
    let rows: Vec<Vec<String>> = ai
        .coverage
        .iter()
        .filter(|c| c.status != "none")
        .map(|c| {
            vec![
                c.id.clone(),
                c.status.to_string(),
                count(c.passed),
                count(c.failed),
                c.policies.clone(),
            ]
        })
        .collect();
    l.table(
        &["Subcategory", "Status", "Passing", "Failing", "Policies"],
        &[1.4, 0.9, 0.9, 0.9, 4.3],
        &rows,
    );
    if !ai.without_evidence.is_empty() {
        l.paragraph(
            &format!(
                "No evidence from any policy for {} subcategories: {}.",
                count(ai.without_evidence.len()),
                ai.without_evidence.join(", ")
            ),
            8.5,
        );
    }
    l.heading("Change metrics: AI-driven against human changes", 11.0);
    if let Some(note) = ai.metrics_note {
        l.paragraph(note, 9.0);
        return;
    }
    let opt = |x: Option<f64>| x.map_or("-".to_string(), |v| format!("{v:.1}"));
    let rows: Vec<Vec<String>> = ai
        .metrics
        .iter()
        .map(|m| {
            vec![
                m.driven_by.clone(),
                thousands(m.deployments),
                opt(m.lead_time_hours),
                thousands(m.failed),
                format!("{:.0}%", m.change_failure_rate * 100.0),
                opt(m.time_to_restore_hours),
            ]
        })
        .collect();
    l.table(
        &[
            "Applied by",
            "Production changes",
            "Median lead time (h)",
            "Failed",
            "Change failure rate",
            "Median time to restore (h)",
        ],
        &[1.6, 1.2, 1.3, 1.0, 1.2, 1.4],
        &rows,
    );
    l.bar_chart(
        "Change failure rate (% of production changes that failed or caused an incident)",
        "%",
        &ai.failure_rate_bars,
        None,
        None,
    );
    l.bar_chart(
        "Median lead time from first event to production (hours)",
        "h",
        &ai.lead_time_bars,
        None,
        None,
    );
}
