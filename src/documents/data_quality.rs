//! What the report rests on (section 6, and the line opening section 4): every input
//! file with its records read, accepted, rejected and skipped, and each rejected row with
//! why. Section 4 comes from the audit logs themselves, or from findings an engine
//! computed where the logs are (`report --findings FILE`, the findings schema): then the
//! report names that file and its rows, since the logs behind it were not read here.

use serde::Serialize;

use crate::audit::AuditReport;
use crate::incidents::ingest::{IngestReport, Rejection};
use crate::util::text::thousands;

/// Where section 4's audit came from.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum AuditOrigin {
    /// The audit logs, read and checked by this run.
    #[default]
    Logs,
    /// A findings file an engine (Spark, Trino/Athena, DuckDB) wrote: its rows are the
    /// findings; the logs were not read here.
    Findings,
}

/// Why section 4 has no change metrics when it comes from a findings file.
pub const METRICS_NEED_LOGS: &str = "Change metrics are not shown: they are counted from the events themselves, and this section comes from a findings file, which holds only the findings. Run the report with --audit on the logs to have them.";

/// One input file, so the reader knows what the report rests on.
#[derive(Debug, Clone, Serialize)]
pub struct InputQuality {
    pub file: String,
    /// `incidents`, or the audit log's format (`audit: cloudtrail`, ...).
    pub kind: String,
    pub read: u64,
    pub accepted: u64,
    pub rejected: u64,
    /// Records that are not events to check (other stages of a Kubernetes request).
    pub skipped: u64,
    /// Accepted rows with a field that could not be used.
    pub with_problems: u64,
    /// Why the file, or the rest of it, was not read (rejected whole, or skipped).
    pub note: Option<String>,
}

/// A row rejected, or a field of a kept row that could not be used: what the numbers in
/// the report do not rest on.
#[derive(Debug, Clone, Serialize)]
pub struct InputIssue {
    pub file: String,
    pub location: String,
    pub id: String,
    pub field: String,
    pub reason: String,
    /// `rejected` (the row is not in the report) or `kept` (the row is, without the field).
    pub outcome: &'static str,
}

impl InputIssue {
    fn of(x: &Rejection, outcome: &'static str) -> InputIssue {
        InputIssue {
            file: x.file.clone(),
            location: x.location.to_string(),
            id: x.id.clone(),
            field: x.field.clone(),
            reason: x.reason.clone(),
            outcome,
        }
    }
}

/// What the audit read, counts with thousands separators, for section 4.
pub fn audit_read_line(audit: &AuditReport, origin: AuditOrigin) -> String {
    let t = &audit.totals;
    if origin == AuditOrigin::Findings {
        let file = (audit.sources.first()).map_or("", |s| s.file.as_str());
        return format!(
            "findings computed by an SQL engine, read from {file}: {} row(s) read, {} accepted, {} rejected; the logs behind them were not read here",
            thousands(t.read),
            thousands(t.accepted),
            thousands(t.rejected)
        );
    }
    let mut s = format!(
        "{} file(s), {} record(s) read: {} accepted, {} rejected",
        thousands(t.files),
        thousands(t.read),
        thousands(t.accepted),
        thousands(t.rejected)
    );
    if t.skipped > 0 {
        s.push_str(&format!(
            ", {} skipped ({})",
            thousands(t.skipped),
            crate::audit::render::skip_reasons(audit)
        ));
    }
    s
}

/// Every input file: the incident files, then each audit log read, rejected whole or found
/// and skipped, with why; or the findings file section 4 was read from.
pub fn inputs(
    incidents: &[IngestReport],
    audit: Option<&AuditReport>,
    origin: AuditOrigin,
) -> Vec<InputQuality> {
    let mut rows: Vec<InputQuality> = incidents
        .iter()
        .map(|i| InputQuality {
            file: i.file.clone(),
            kind: "incidents".into(),
            read: i.read,
            accepted: i.accepted,
            rejected: i.rejected_count(),
            skipped: 0,
            with_problems: i.with_problems(),
            note: None,
        })
        .collect();
    let Some(a) = audit else {
        return rows;
    };
    let findings = origin == AuditOrigin::Findings;
    rows.extend(a.sources.iter().map(|s| {
        let kind = if findings {
            "audit findings (SQL engine)".to_string()
        } else {
            format!("audit: {}", s.format.map_or("unknown", |f| f.as_str()))
        };
        let note = match &s.file_rejected {
            Some(r) => Some(format!("rejected whole: {r}")),
            None if findings => Some(
                "section 4's findings, one a row (findings schema); the audit logs they came from were not read by this run"
                    .to_string(),
            ),
            None => None,
        };
        InputQuality {
            file: s.file.clone(),
            kind,
            read: s.read,
            accepted: s.accepted,
            rejected: s.rejected,
            skipped: s.skipped,
            with_problems: 0,
            note,
        }
    }));
    rows.extend(a.skipped_files.iter().map(|s| InputQuality {
        file: s.file.clone(),
        kind: "audit".into(),
        read: 0,
        accepted: 0,
        rejected: 0,
        skipped: 0,
        with_problems: 0,
        note: Some(format!("not read: {}", s.reason)),
    }));
    rows
}

/// Every rejected row and every problem in a kept row of the incident files; and, for a
/// findings file, each row rejected (a finding perhaps lost). Audit log records rejected
/// are in the quarantine file, counted in [`inputs`].
pub fn issues(
    incidents: &[IngestReport],
    audit: Option<&AuditReport>,
    origin: AuditOrigin,
) -> Vec<InputIssue> {
    let mut rows: Vec<InputIssue> = incidents
        .iter()
        .flat_map(|i| {
            let rejected = i.rejected.iter().map(|x| InputIssue::of(x, "rejected"));
            let kept = i.problems.iter().map(|x| InputIssue::of(x, "kept"));
            rejected.chain(kept)
        })
        .collect();
    if let (Some(a), AuditOrigin::Findings) = (audit, origin) {
        rows.extend(a.rejected.iter().map(|x| InputIssue::of(x, "rejected")));
    }
    rows
}
