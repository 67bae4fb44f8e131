//! The monthly report as PDF: the same `MonthlyReport` the HTML and Markdown come from,
//! drawn with the layout engine.

use super::layout::{finish, Layout};
use crate::documents::report::{AiOperations, MonthlyReport};

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

    l.heading("1. Executive summary", 13.0);
    let rows: Vec<Vec<String>> = r
        .comparison
        .iter()
        .map(|c| {
            vec![
                c.label.to_string(),
                c.this_month.to_string(),
                c.last_month.to_string(),
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
            r.headline.notifications_still_due
        ),
        9.0,
    );

    l.heading("2. Regulatory deadlines", 13.0);
    let rows: Vec<Vec<String>> = r
        .clocks
        .iter()
        .map(|c| {
            let mut clock = c.clock.clone();
            if let Some(s) = &c.service {
                clock.push_str(&format!(" ({s})"));
            }
            if c.internal_target {
                clock.push_str(" (internal target)");
            }
            vec![
                format!("{} {}", c.incident_id, c.title),
                c.regime.clone(),
                clock,
                c.deadline.clone(),
                c.status.to_string(),
                c.time.clone(),
            ]
        })
        .collect();
    l.table(
        &["Incident", "Regime", "Clock", "Deadline", "Status", "Time"],
        &[2.4, 2.2, 2.0, 1.6, 1.1, 1.3],
        &rows,
    );
    l.bar_chart(
        "Hours from awareness to ICO notification (or to now, if not yet notified)",
        "h",
        &r.ico_times,
        r.ico_limit_hours,
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

    l.heading("3. Operational resilience", 13.0);
    let rows: Vec<Vec<String>> = r
        .services
        .iter()
        .map(|s| {
            vec![
                format!("{} ({})", s.name, s.id),
                s.impact_tolerance.clone(),
                s.disruptions.to_string(),
                s.longest.clone(),
                s.breaches.to_string(),
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
        l.bar_chart(
            &format!("{}: hours of disruption per incident", s.name),
            "h",
            &s.bars,
            Some(s.tolerance_hours),
        );
    }

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

    l.heading("5. Breach register (UK GDPR Art. 33(5))", 13.0);
    let rows: Vec<Vec<String>> = r
        .register
        .iter()
        .map(|e| {
            vec![
                format!("{} {} (aware {})", e.id, e.title, e.aware_at_local),
                e.facts.clone().unwrap_or_default(),
                e.effects.clone().unwrap_or_default(),
                e.remedial_action.clone().unwrap_or_default(),
                e.ico_decision.clone(),
            ]
        })
        .collect();
    l.table(
        &["Breach", "Facts", "Effects", "Remedial action", "ICO"],
        &[1.6, 2.4, 2.0, 2.0, 1.2],
        &rows,
    );

    l.heading("6. Data quality", 13.0);
    let rows: Vec<Vec<String>> = r
        .inputs
        .iter()
        .map(|i| {
            vec![
                i.file.clone(),
                i.read.to_string(),
                i.accepted.to_string(),
                i.rejected.to_string(),
                i.with_problems.to_string(),
            ]
        })
        .collect();
    l.table(
        &[
            "Input",
            "Rows read",
            "Accepted",
            "Rejected",
            "With problems",
        ],
        &[4.0, 1.0, 1.0, 1.0, 1.2],
        &rows,
    );
    if !r.input_issues.is_empty() {
        let rows: Vec<Vec<String>> = r
            .input_issues
            .iter()
            .map(|i| {
                vec![
                    format!("{} {}", i.file, i.location),
                    i.id.clone(),
                    i.field.clone(),
                    i.outcome.to_string(),
                    i.reason.clone(),
                ]
            })
            .collect();
        l.table(
            &["Where", "Incident", "Field", "Row", "Reason"],
            &[2.0, 0.9, 1.6, 0.8, 3.5],
            &rows,
        );
    }

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
    )
}

/// Section 4 from the audit: findings by severity and policy, the worst five, the NIST AI
/// RMF coverage matrix and the change metrics with their charts.
fn ai_operations(l: &mut Layout, ai: &AiOperations) {
    l.paragraph(
        &format!(
            "What people, services and AI agents did, checked against the guardrail policies ({}). {} findings first seen this month.",
            ai.read, ai.findings
        ),
        9.0,
    );
    let rows: Vec<Vec<String>> = ai
        .by_policy
        .iter()
        .map(|p| {
            vec![
                format!("{} ({})", p.title, p.id),
                p.severity.clone(),
                p.count.to_string(),
            ]
        })
        .collect();
    l.table(&["Policy", "Severity", "Findings"], &[6.0, 1.2, 1.0], &rows);
    l.heading("The worst five", 11.0);
    if ai.worst.is_empty() {
        l.paragraph("No findings this month.", 9.0);
    }
    for w in &ai.worst {
        l.paragraph(&format!("{} ({}, {})", w.title, w.severity, w.when), 9.5);
        l.paragraph(
            &format!(
                "What happened: {} Change: {}; who: {}. Resources: {}. Evidence: {}. Why it matters: {} NIST AI RMF: {}.",
                w.detail,
                if w.change_id.is_empty() { "none recorded" } else { &w.change_id },
                w.actors,
                w.resources,
                w.events,
                w.why,
                w.nist
            ),
            8.5,
        );
        if !w.waiver.is_empty() {
            l.paragraph(&format!("Waived: {}", w.waiver), 8.5);
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
            "{} of {} subcategories have evidence from the guardrail policies; fail means a mapped policy has findings this month, none that no policy gives evidence for it.",
            ai.subcategories_covered, ai.subcategories
        ),
        9.0,
    );
    let rows: Vec<Vec<String>> = ai
        .coverage
        .iter()
        .map(|c| {
            vec![
                c.id.clone(),
                c.status.to_string(),
                c.passed.to_string(),
                c.failed.to_string(),
                c.policies.clone(),
            ]
        })
        .collect();
    l.table(
        &["Subcategory", "Status", "Passing", "Failing", "Policies"],
        &[1.4, 0.9, 0.9, 0.9, 4.3],
        &rows,
    );
    l.heading("Change metrics: AI-driven against human changes", 11.0);
    let opt = |x: Option<f64>| x.map_or("-".to_string(), |v| format!("{v:.1}"));
    let rows: Vec<Vec<String>> = ai
        .metrics
        .iter()
        .map(|m| {
            vec![
                m.driven_by.clone(),
                m.deployments.to_string(),
                opt(m.lead_time_hours),
                m.failed.to_string(),
                format!("{:.0}%", m.change_failure_rate * 100.0),
                opt(m.time_to_restore_hours),
            ]
        })
        .collect();
    l.table(
        &[
            "Applied by",
            "Changes",
            "Lead time (h)",
            "Failed",
            "Failure rate",
            "Restore (h)",
        ],
        &[1.6, 1.1, 1.3, 1.0, 1.2, 1.3],
        &rows,
    );
    l.bar_chart("Change failure rate (%)", "%", &ai.failure_rate_bars, None);
    l.bar_chart(
        "Median lead time to production (hours)",
        "h",
        &ai.lead_time_bars,
        None,
    );
}
