//! The monthly compliance report: one model built from one evaluation, rendered to HTML,
//! Markdown and JSON by the same templates a firm can replace (`--templates DIR`).
//!
//! No section recomputes a deadline: every status, time and count comes from the
//! evaluation's deadlines.

use anyhow::Result;
use chrono::{DateTime, Datelike, Duration, NaiveDate, TimeZone, Utc};
use chrono_tz::Tz;
use serde::Serialize;

use crate::audit::model::Finding;
use crate::audit::AuditReport;
use crate::clock::{human_duration, local_text};
use crate::config::Organisation;
use crate::documents::data_quality::{self, AuditOrigin};
pub use crate::documents::data_quality::{InputIssue, InputQuality};
use crate::documents::register::RegisterEntry;
use crate::error::bad_input;
use crate::incidents::ingest::IngestReport;
use crate::incidents::record::Incident;
use crate::regimes::deadline::{Deadline, Status};
use crate::regimes::model::RegimeKind;
use crate::regimes::model::RegimeRole;
use crate::render::chart::{svg_bar_chart, Bar, DISRUPTED, NOTIFIED};
use crate::util::text::thousands;

/// A calendar month in the report's time zone: `[start, end)`.
#[derive(Debug, Clone, Copy)]
pub struct Month {
    pub first: NaiveDate,
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
}

impl Month {
    /// `2026-11` in `tz`.
    pub fn parse(text: &str, tz: Tz) -> Result<Month> {
        let bad = || bad_input(format!("month {text:?}: use YYYY-MM, e.g. 2026-11"));
        let first =
            NaiveDate::parse_from_str(&format!("{text}-01"), "%Y-%m-%d").map_err(|_| bad())?;
        Month::of(first, tz).ok_or_else(bad)
    }

    fn of(first: NaiveDate, tz: Tz) -> Option<Month> {
        let next = if first.month() == 12 {
            NaiveDate::from_ymd_opt(first.year() + 1, 1, 1)?
        } else {
            NaiveDate::from_ymd_opt(first.year(), first.month() + 1, 1)?
        };
        let at = |d: NaiveDate| {
            tz.from_local_datetime(&d.and_hms_opt(0, 0, 0)?)
                .earliest()
                .map(|t| t.with_timezone(&Utc))
        };
        Some(Month {
            first,
            start: at(first)?,
            end: at(next)?,
        })
    }

    pub fn previous(&self, tz: Tz) -> Option<Month> {
        let prev = if self.first.month() == 1 {
            NaiveDate::from_ymd_opt(self.first.year() - 1, 12, 1)?
        } else {
            NaiveDate::from_ymd_opt(self.first.year(), self.first.month() - 1, 1)?
        };
        Month::of(prev, tz)
    }

    pub fn label(&self) -> String {
        self.first.format("%B %Y").to_string()
    }

    pub fn id(&self) -> String {
        self.first.format("%Y-%m").to_string()
    }

    fn contains(&self, t: DateTime<Utc>) -> bool {
        t >= self.start && t < self.end
    }
}

/// Section 1: the month at a glance.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Headline {
    pub incidents: usize,
    pub personal_data_breaches: usize,
    pub notifications_on_time: usize,
    pub notifications_late: usize,
    pub notifications_still_due: usize,
    pub notifications_overdue: usize,
    pub tolerance_breaches: usize,
    pub ai_caused_incidents: usize,
    /// High and critical audit findings first seen in the month (when an audit was given).
    pub high_severity_findings: usize,
}

/// A headline figure with last month's, for the comparison table. A figure is `None`
/// (shown as "no logs") when it rests on audit logs and none covered that month.
#[derive(Debug, Clone, Serialize)]
pub struct Comparison {
    pub label: &'static str,
    pub this_month: Option<usize>,
    pub last_month: Option<usize>,
    /// The figures as shown: with thousands separators, or "no logs".
    pub this_month_text: String,
    pub last_month_text: String,
    pub change: String,
}

/// The report's first words: what is overdue or due within 24 hours when it was made.
#[derive(Debug, Clone, Serialize)]
pub struct Verdict {
    pub overdue: usize,
    pub due_within_24h: usize,
    /// "2 overdue and 1 due within 24 hours", or "Nothing overdue or due within 24 hours".
    pub summary: String,
    /// Those clocks, most urgent first.
    pub clocks: Vec<ClockRow>,
}

/// Section 2: one clock that ran in the month.
#[derive(Debug, Clone, Serialize)]
pub struct ClockRow {
    pub incident_id: String,
    pub title: String,
    pub regime: String,
    pub authority: String,
    pub clock: String,
    pub service: Option<String>,
    pub status: Status,
    pub deadline: String,
    pub time: String,
    /// Overdue, or open and due within 24 hours of the report's generation time.
    pub urgent: bool,
    pub internal_target: bool,
    pub rehearsal: bool,
}

/// A late notification and the reasons recorded for it.
#[derive(Debug, Clone, Serialize)]
pub struct LateReason {
    pub incident_id: String,
    pub clock: String,
    pub time: String,
    pub reason: Option<String>,
}

/// Section 3: one important business service over the month.
#[derive(Debug, Clone, Serialize)]
pub struct ServiceSection {
    pub id: String,
    pub name: String,
    pub impact_tolerance: String,
    pub disruptions: usize,
    pub longest: String,
    pub breaches: usize,
    /// Hours of disruption per incident, for the charts; an open bar is still disrupted.
    pub bars: Vec<Bar>,
    pub tolerance_hours: f64,
    pub chart_svg: String,
}

/// The whole report.
#[derive(Debug, Clone, Serialize)]
pub struct MonthlyReport {
    pub organisation: Organisation,
    pub month: String,
    pub month_label: String,
    pub period_start: String,
    pub period_end: String,
    pub generated_at: String,
    /// The generation time (the run's `--now`, else the clock): also the PDF's creation date.
    pub generated_at_utc: DateTime<Utc>,
    /// Section 1 opens with it.
    pub verdict: Verdict,
    pub headline: Headline,
    pub previous_month_label: String,
    pub comparison: Vec<Comparison>,
    /// Most urgent first: overdue, then open by due time, not started, then done.
    pub clocks: Vec<ClockRow>,
    pub ico_chart_svg: String,
    /// Hours from awareness to ICO notification; an open bar is not yet notified (to now).
    pub ico_times: Vec<Bar>,
    /// The ICO clock's period in hours (72), from the mappings.
    pub ico_limit_hours: Option<f64>,
    pub late_reasons: Vec<LateReason>,
    pub services: Vec<ServiceSection>,
    /// Section 4's audit part, when audit logs were given (see `regwatch audit`).
    pub ai_operations: Option<AiOperations>,
    pub ai_caused: Vec<ClockRow>,
    pub register: Vec<RegisterEntry>,
    pub inputs: Vec<InputQuality>,
    /// Every rejected row and every problem in a kept row, file by file.
    pub input_issues: Vec<InputIssue>,
}

/// Section 4: what people and AI agents did, from `regwatch audit`.
#[derive(Debug, Clone, Serialize)]
pub struct AiOperations {
    /// What the audit read: files, records read, accepted, rejected.
    pub read: String,
    pub findings: usize,
    pub by_severity: Vec<SeverityCount>,
    pub by_policy: Vec<PolicyCount>,
    /// The five most severe findings of the month, in detail.
    pub worst: Vec<WorstFinding>,
    /// Waivers that accepted a finding first seen this month, and expired ones, with
    /// their expiry.
    pub waivers: Vec<WaiverUsed>,
    pub coverage: Vec<CoverageRow>,
    /// The subcategories no policy gives evidence for, folded away in the report.
    pub without_evidence: Vec<String>,
    pub subcategories_covered: usize,
    pub subcategories: usize,
    /// The month's change metrics, AI-driven against human.
    pub metrics: Vec<crate::audit::metrics::ChangeMetrics>,
    /// Why the change metrics are not shown (section 4 from a findings file), if so.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub metrics_note: Option<&'static str>,
    pub failure_rate_bars: Vec<Bar>,
    pub failure_rate_svg: String,
    pub lead_time_bars: Vec<Bar>,
    pub lead_time_svg: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct SeverityCount {
    pub severity: String,
    pub count: usize,
}

#[derive(Debug, Clone, Serialize)]
pub struct PolicyCount {
    pub id: String,
    pub title: String,
    pub severity: String,
    pub count: usize,
}

#[derive(Debug, Clone, Serialize)]
pub struct WorstFinding {
    pub policy: String,
    pub title: String,
    pub severity: String,
    pub when: String,
    pub detail: String,
    pub change_id: String,
    pub actors: String,
    pub resources: String,
    pub events: String,
    pub why: String,
    pub nist: String,
    /// The waiver that accepts it (its justification), empty when none does.
    pub waiver: String,
}

/// A waiver that accepted findings this month, or one that has expired (it waives
/// nothing, and its `waiver-expired` finding is dated the day it lapsed, perhaps in an
/// earlier month).
#[derive(Debug, Clone, Serialize)]
pub struct WaiverUsed {
    pub id: String,
    /// What it waives: `policy self-approval, actor h.jones`.
    pub scope: String,
    pub reason: String,
    pub approver: String,
    pub expires: String,
    pub expired: bool,
    /// Findings first seen this month that it waived.
    pub findings: usize,
}

/// One NIST AI RMF subcategory: which policies give evidence, and how they came out.
#[derive(Debug, Clone, Serialize)]
pub struct CoverageRow {
    pub id: String,
    pub text: String,
    pub policies: String,
    pub passed: usize,
    pub failed: usize,
    /// `fail` (a mapped policy has findings this month), `pass`, or `none` (no evidence).
    pub status: &'static str,
}

fn severity_label(s: crate::controls::Severity) -> String {
    format!("{s:?}").to_lowercase()
}

/// Section 4 from an audit: the findings first seen in `month`, the coverage they give,
/// and the month's change metrics (none from a findings file, which says so).
pub fn ai_operations(
    month: &Month,
    audit: &AuditReport,
    origin: AuditOrigin,
    tz: Tz,
) -> Result<AiOperations> {
    use crate::audit::event::millis_to_time;
    let mut in_month: Vec<std::borrow::Cow<Finding>> = Vec::new();
    for f in audit.findings.iter()? {
        let f = f?;
        if month.contains(millis_to_time(f.first_at)) {
            in_month.push(f);
        }
    }
    let by_severity = ["critical", "high", "medium", "low"]
        .iter()
        .map(|sev| SeverityCount {
            severity: sev.to_string(),
            count: in_month
                .iter()
                .filter(|f| severity_label(f.severity) == *sev)
                .count(),
        })
        .collect();
    let by_policy = audit
        .policies
        .iter()
        .filter(|p| audit.listed(p))
        .map(|p| PolicyCount {
            id: p.id.clone(),
            title: p.title.clone(),
            severity: severity_label(p.severity),
            count: in_month.iter().filter(|f| *f.policy == *p.id).count(),
        })
        .collect();
    let place = |source: u32, line: u64| crate::audit::render::place(audit, source, line);
    // Findings are sorted most severe first, then by time.
    let worst = in_month
        .iter()
        .take(5)
        .map(|f| WorstFinding {
            policy: f.policy.to_string(),
            title: f.title.to_string(),
            severity: severity_label(f.severity),
            when: local_text(millis_to_time(f.first_at), tz),
            detail: f.detail.clone(),
            change_id: f.change_id.clone(),
            actors: f.actors.join(", "),
            resources: f.resources_text(5),
            events: {
                let mut e: Vec<String> = f
                    .events
                    .iter()
                    .take(3)
                    .map(|e| place(e.source, e.line))
                    .collect();
                if f.event_count > 3 {
                    e.push(format!("{} events in all", f.event_count));
                }
                e.join(", ")
            },
            why: f.rationale.to_string(),
            nist: f.nist.join(", "),
            waiver: audit
                .waiver_of(f)
                .map_or(String::new(), |w| w.justification()),
        })
        .collect();
    let waivers = (audit.waivers.iter())
        .flat_map(|set| set.waivers.iter().enumerate())
        .filter_map(|(i, w)| {
            let n = (in_month.iter())
                .filter(|f| f.waiver == Some(i as u32))
                .count();
            (n > 0 || w.expired).then(|| WaiverUsed {
                id: w.id.clone(),
                scope: w.scope(),
                reason: w.reason.clone(),
                approver: w.approver.clone(),
                expires: w.expires.to_string(),
                expired: w.expired,
                findings: n,
            })
        })
        .collect();
    let coverage: Vec<CoverageRow> = audit
        .coverage
        .iter()
        .map(|c| {
            let failed = audit
                .policies
                .iter()
                .filter(|p| c.policies.contains(&p.id))
                .filter(|p| in_month.iter().any(|f| *f.policy == *p.id))
                .count();
            CoverageRow {
                id: c.id.clone(),
                text: c.text.clone(),
                policies: policies_text(&c.policies),
                passed: c.policies.len() - failed,
                failed,
                status: if c.policies.is_empty() {
                    "none"
                } else if failed > 0 {
                    "fail"
                } else {
                    "pass"
                },
            }
        })
        .collect();
    let metrics: Vec<_> = audit
        .metrics
        .iter()
        .filter(|m| m.month == month.id())
        .cloned()
        .collect();
    let who = |d: &str| match d {
        "ai_agent" => "AI agents".to_string(),
        "human" => "People".to_string(),
        other => format!("{other}s"),
    };
    let failure_rate_bars: Vec<Bar> = metrics
        .iter()
        .map(|m| Bar::done(who(&m.driven_by), m.change_failure_rate * 100.0))
        .collect();
    let lead_time_bars: Vec<Bar> = metrics
        .iter()
        .filter_map(|m| Some(Bar::done(who(&m.driven_by), m.lead_time_hours?)))
        .collect();
    Ok(AiOperations {
        read: data_quality::audit_read_line(audit, origin),
        metrics_note: (origin == AuditOrigin::Findings).then_some(data_quality::METRICS_NEED_LOGS),
        findings: in_month.len(),
        by_severity,
        by_policy,
        worst,
        waivers,
        subcategories_covered: coverage.iter().filter(|c| c.status != "none").count(),
        without_evidence: coverage
            .iter()
            .filter(|c| c.status == "none")
            .map(|c| c.id.clone())
            .collect(),
        subcategories: coverage.len(),
        coverage,
        failure_rate_svg: svg_bar_chart(
            "Change failure rate (% of production changes that failed or caused an incident)",
            "%",
            &failure_rate_bars,
            None,
            None,
        ),
        failure_rate_bars,
        lead_time_svg: svg_bar_chart(
            "Median lead time from first event to production (hours)",
            "h",
            &lead_time_bars,
            None,
            None,
        ),
        lead_time_bars,
        metrics,
    })
}

fn headline(month: &Month, incidents: &[&Incident], deadlines: &[&Deadline]) -> Headline {
    let mine: Vec<&&Incident> = incidents
        .iter()
        .filter(|i| month.contains(i.aware_at))
        .collect();
    let mut h = Headline {
        incidents: mine.len(),
        personal_data_breaches: mine.iter().filter(|i| i.personal_data).count(),
        ai_caused_incidents: mine.iter().filter(|i| i.cause() == "ai_agent").count(),
        ..Headline::default()
    };
    for d in deadlines {
        if !month.contains(d.incident.aware_at) {
            continue;
        }
        match (d.regime.kind, d.status) {
            (RegimeKind::Notification, Status::Met) => h.notifications_on_time += 1,
            (RegimeKind::Notification, Status::MetLate) => h.notifications_late += 1,
            (RegimeKind::Notification, Status::Due | Status::DueSoon) => {
                h.notifications_still_due += 1
            }
            (RegimeKind::Notification, Status::Overdue) => h.notifications_overdue += 1,
            (RegimeKind::Tolerance, Status::Overdue | Status::MetLate) => h.tolerance_breaches += 1,
            _ => {}
        }
    }
    h
}

/// The figures that rest on audit logs, for months the logs covered or not.
struct AuditCoverage {
    this_month: bool,
    last_month: bool,
}

fn compare(this: &Headline, last: &Headline, audit: Option<AuditCoverage>) -> Vec<Comparison> {
    let figure = |n: Option<usize>| n.map_or("no logs".to_string(), |n| thousands(n as u64));
    let compared = |label, a: Option<usize>, b: Option<usize>| Comparison {
        label,
        this_month: a,
        last_month: b,
        this_month_text: figure(a),
        last_month_text: figure(b),
        change: match (a, b) {
            (Some(a), Some(b)) => match a as i64 - b as i64 {
                0 => "no change".into(),
                d if d > 0 => format!("+{}", thousands(d as u64)),
                d => format!("-{}", thousands(d.unsigned_abs())),
            },
            _ => "not comparable".into(),
        },
    };
    let row = |label, a: usize, b: usize| compared(label, Some(a), Some(b));
    let mut rows = vec![
        row("Incidents", this.incidents, last.incidents),
        row(
            "Personal data breaches",
            this.personal_data_breaches,
            last.personal_data_breaches,
        ),
        row(
            "Incidents caused by AI agents",
            this.ai_caused_incidents,
            last.ai_caused_incidents,
        ),
        row(
            "Notifications on time",
            this.notifications_on_time,
            last.notifications_on_time,
        ),
        row(
            "Notifications late",
            this.notifications_late,
            last.notifications_late,
        ),
        row(
            "Notifications overdue",
            this.notifications_overdue,
            last.notifications_overdue,
        ),
        row(
            "Impact tolerance breaches",
            this.tolerance_breaches,
            last.tolerance_breaches,
        ),
    ];
    if let Some(covered) = audit {
        rows.push(compared(
            "High and critical audit findings",
            covered.this_month.then_some(this.high_severity_findings),
            covered.last_month.then_some(last.high_severity_findings),
        ));
    }
    rows
}

/// Whether any audit event fell in `month`: the logs run from the first event to the last.
fn audit_covers(audit: &AuditReport, month: Option<&Month>) -> bool {
    let at = |t: &Option<String>| {
        t.as_deref()
            .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
            .map(|t| t.with_timezone(&Utc))
    };
    match (
        month,
        at(&audit.totals.first_event),
        at(&audit.totals.last_event),
    ) {
        (Some(m), Some(first), Some(last)) => first < m.end && last >= m.start,
        _ => false,
    }
}

fn high_findings(month: &Month, audit: Option<&AuditReport>) -> Result<usize> {
    let Some(a) = audit else {
        return Ok(0);
    };
    let mut n = 0;
    for f in a.findings.iter()? {
        let f = f?;
        if f.severity >= crate::controls::Severity::High
            && month.contains(crate::audit::event::millis_to_time(f.first_at))
        {
            n += 1;
        }
    }
    Ok(n)
}

fn clock_row(d: &Deadline, now: DateTime<Utc>, tz: Tz) -> ClockRow {
    ClockRow {
        incident_id: d.incident.id.to_string(),
        title: d.incident.title.to_string(),
        regime: d.regime.name.clone(),
        authority: d.regime.authority.clone(),
        clock: d.clock.map_or(String::new(), |c| c.name.clone()),
        service: d.service.map(|s| s.name.clone()),
        status: d.status,
        deadline: d.due_at.map(|t| local_text(t, tz)).unwrap_or_default(),
        time: d.time_text(now),
        urgent: is_urgent(d, now),
        internal_target: d.clock.is_some_and(|c| c.internal_target),
        rehearsal: d.regime.rehearsal,
    }
}

/// Overdue, or open and due within 24 hours of `now`.
fn is_urgent(d: &Deadline, now: DateTime<Utc>) -> bool {
    d.status == Status::Overdue
        || (d.status.is_open() && d.due_at.is_some_and(|t| t - now <= Duration::hours(24)))
}

/// Section 2's order, most urgent first: overdue, then the open clocks, the ones not
/// started and the finished ones, each by due time (none last), then as listed.
fn urgency(d: &Deadline) -> (u8, bool, Option<DateTime<Utc>>, u64) {
    let group = match d.status {
        Status::Overdue => 0,
        Status::DueSoon | Status::Due => 1,
        Status::NotStarted => 2,
        _ => 3,
    };
    (group, d.due_at.is_none(), d.due_at, d.order)
}

fn verdict(ran: &[&&Deadline], now: DateTime<Utc>, tz: Tz) -> Verdict {
    let clocks: Vec<ClockRow> = ran
        .iter()
        .filter(|d| is_urgent(d, now))
        .map(|d| clock_row(d, now, tz))
        .collect();
    let overdue = clocks
        .iter()
        .filter(|c| c.status == Status::Overdue)
        .count();
    let due_within_24h = clocks.len() - overdue;
    let summary = match (overdue, due_within_24h) {
        (0, 0) => "Nothing overdue or due within 24 hours".to_string(),
        (o, 0) => format!("{} overdue", thousands(o as u64)),
        (0, d) => format!("{} due within 24 hours", thousands(d as u64)),
        (o, d) => format!(
            "{} overdue and {} due within 24 hours",
            thousands(o as u64),
            thousands(d as u64)
        ),
    };
    Verdict {
        overdue,
        due_within_24h,
        summary,
        clocks,
    }
}

/// Builds the report for `month` from an evaluation that kept every status.
pub struct ReportInputs<'a> {
    pub month: Month,
    pub incidents: &'a [Incident],
    pub deadlines: &'a [&'a Deadline<'a>],
    pub services: &'a crate::regimes::services::ServiceCatalogue,
    pub inputs: &'a [IngestReport],
    pub organisation: &'a Organisation,
    pub now: DateTime<Utc>,
    pub tz: Tz,
    /// What `regwatch audit` found, for section 4 and the headline.
    pub audit: Option<&'a AuditReport>,
    /// Whether `audit` was read from the logs or from a findings file.
    pub audit_origin: AuditOrigin,
}

pub fn build(r: &ReportInputs) -> Result<MonthlyReport> {
    let (month, now, tz) = (r.month, r.now, r.tz);
    let incidents: Vec<&Incident> = r.incidents.iter().collect();
    let mut this = headline(&month, &incidents, r.deadlines);
    this.high_severity_findings = high_findings(&month, r.audit)?;
    let prev = month.previous(tz);
    let last = match prev {
        Some(p) => {
            let mut h = headline(&p, &incidents, r.deadlines);
            h.high_severity_findings = high_findings(&p, r.audit)?;
            h
        }
        None => Headline::default(),
    };
    // A clock ran in the month if it started before the month ended and was still running
    // (or finished) after the month began.
    let ran = |d: &Deadline| -> bool {
        match (d.started_at, d.status) {
            (_, Status::NotApplicable) => false,
            (Some(s), _) => s < month.end && d.done_at.unwrap_or(now) >= month.start,
            (None, _) => month.contains(d.incident.aware_at),
        }
    };
    // In file order of incidents, then regimes and clocks as mappings/ lists them.
    let mut ran_here: Vec<&&Deadline> = r.deadlines.iter().filter(|d| ran(d)).collect();
    ran_here.sort_by_key(|d| d.order);
    let mut by_urgency = ran_here.clone();
    by_urgency.sort_by_key(|d| urgency(d));
    let clocks: Vec<ClockRow> = by_urgency.iter().map(|d| clock_row(d, now, tz)).collect();
    let mut ico_times: Vec<Bar> = r
        .deadlines
        .iter()
        .filter(|d| d.regime.role == Some(RegimeRole::IcoBreachNotice) && ran(d))
        .filter_map(|d| hours_bar(d, now))
        .collect();
    ico_times.sort_by(|a, b| a.label.cmp(&b.label));
    let ico_limit = r
        .deadlines
        .iter()
        .find(|d| d.regime.role == Some(RegimeRole::IcoBreachNotice) && d.period.is_some())
        .and_then(|d| d.period)
        .map(|p| p.nominal().num_minutes() as f64 / 60.0);
    let ico_chart_svg = svg_bar_chart(
        "Hours from awareness to ICO notification (or to now, if not yet notified)",
        "h",
        &ico_times,
        ico_limit,
        Some(&NOTIFIED),
    );
    let late_reasons = r
        .deadlines
        .iter()
        .filter(|d| ran(d) && matches!(d.status, Status::MetLate | Status::Overdue))
        .filter(|d| d.regime.kind == RegimeKind::Notification)
        .map(|d| LateReason {
            incident_id: d.incident.id.to_string(),
            clock: d.clock.map_or(String::new(), |c| c.name.clone()),
            time: d.time_text(now),
            reason: d
                .clock
                .and_then(|c| c.late_requires.as_deref())
                .and_then(|f| d.incident.text(f))
                .or_else(|| d.incident.text("delay_reason"))
                .map(str::to_string),
        })
        .collect();
    let services = r
        .services
        .services
        .iter()
        .map(|svc| {
            let rows: Vec<&&Deadline> = r
                .deadlines
                .iter()
                .filter(|d| d.service.is_some_and(|s| s.id == svc.id) && ran(d))
                .collect();
            let bars: Vec<Bar> = rows.iter().filter_map(|d| hours_bar(d, now)).collect();
            let longest = rows
                .iter()
                .filter_map(|d| Some(d.done_at.unwrap_or(now) - d.started_at?))
                .max()
                .unwrap_or_else(Duration::zero);
            let tolerance_h = svc.impact_tolerance.nominal().num_minutes() as f64 / 60.0;
            ServiceSection {
                id: svc.id.clone(),
                name: svc.name.clone(),
                impact_tolerance: svc.impact_tolerance.to_string(),
                disruptions: rows.len(),
                longest: if rows.is_empty() {
                    "none".into()
                } else {
                    human_duration(longest)
                },
                breaches: rows
                    .iter()
                    .filter(|d| matches!(d.status, Status::Overdue | Status::MetLate))
                    .count(),
                chart_svg: svg_bar_chart(
                    &format!("{}: hours of disruption per incident", svc.name),
                    "h",
                    &bars,
                    Some(tolerance_h),
                    Some(&DISRUPTED),
                ),
                bars,
                tolerance_hours: tolerance_h,
            }
        })
        .collect();
    let in_month: Vec<&Incident> = incidents
        .iter()
        .copied()
        .filter(|i| month.contains(i.aware_at))
        .collect();
    let ai_caused = ran_here
        .iter()
        .filter(|d| d.incident.cause() == "ai_agent")
        .map(|d| clock_row(d, now, tz))
        .collect();
    Ok(MonthlyReport {
        organisation: r.organisation.clone(),
        month: month.id(),
        month_label: month.label(),
        period_start: local_text(month.start, tz),
        period_end: local_text(month.end, tz),
        generated_at: local_text(now, tz),
        generated_at_utc: now,
        verdict: verdict(&by_urgency, now, tz),
        comparison: compare(
            &this,
            &last,
            r.audit.map(|a| AuditCoverage {
                this_month: audit_covers(a, Some(&month)),
                last_month: audit_covers(a, prev.as_ref()),
            }),
        ),
        headline: this,
        previous_month_label: prev.map(|p| p.label()).unwrap_or_default(),
        clocks,
        ico_chart_svg,
        ico_times,
        ico_limit_hours: ico_limit,
        late_reasons,
        services,
        ai_operations: r
            .audit
            .map(|a| ai_operations(&month, a, r.audit_origin, tz))
            .transpose()?,
        ai_caused,
        register: crate::documents::register::build(&in_month, r.deadlines, tz),
        inputs: data_quality::inputs(r.inputs, r.audit, r.audit_origin),
        input_issues: data_quality::issues(r.inputs, r.audit, r.audit_origin),
    })
}

/// The hours a clock ran, from its start to when it was done, or to now (an open bar).
fn hours_bar(d: &Deadline, now: DateTime<Utc>) -> Option<Bar> {
    let start = d.started_at?;
    let end = d.done_at.unwrap_or(now);
    Some(Bar {
        label: d.incident.id.to_string(),
        // To a tenth of an hour (six minutes), as the charts print it.
        value: ((end - start).num_minutes() as f64 / 6.0).round() / 10.0,
        open: d.done_at.is_none(),
    })
}

/// A coverage row's policies: the guardrail policies by id, the Sigma rules counted.
fn policies_text(ids: &[String]) -> String {
    let (sigma, own): (Vec<&String>, Vec<&String>) =
        ids.iter().partition(|id| id.starts_with("sigma:"));
    let mut parts: Vec<String> = own.into_iter().cloned().collect();
    if !sigma.is_empty() {
        parts.push(format!("{} Sigma rule(s)", sigma.len()));
    }
    parts.join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::utc_text;

    #[test]
    fn months_follow_local_midnight() {
        let tz = chrono_tz::Europe::London;
        let oct = Month::parse("2026-10", tz).unwrap();
        // 1 October is BST: local midnight is 23:00 UTC the day before.
        assert_eq!(utc_text(oct.start), "2026-09-30T23:00:00Z");
        assert_eq!(utc_text(oct.end), "2026-11-01T00:00:00Z");
        assert_eq!(oct.previous(tz).unwrap().id(), "2026-09");
        assert_eq!(
            Month::parse("2027-01", tz)
                .unwrap()
                .previous(tz)
                .unwrap()
                .id(),
            "2026-12"
        );
        assert!(Month::parse("2026-13", tz).is_err());
    }
}
