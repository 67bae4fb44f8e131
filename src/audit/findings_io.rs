//! The findings schema (GUIDE.md "Findings schema"): what `regwatch audit --format
//! findings` writes, and what `regwatch audit --findings FILE` reads back (JSON lines,
//! CSV or Parquet, as an SQL engine exports it) into the same report a native run makes:
//! table, JSON, CSV, SARIF, coverage and `--fail-on` read it as they read a run's. A row
//! that cannot be read (no policy, a policy not enabled, a bad time) is rejected with its
//! file, line and reason, never dropped.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::io::{BufRead, Write};
use std::path::Path;
use std::sync::Arc;

use anyhow::Result;
use serde_json::{json, Map, Value};

use super::event::{millis_to_time, parse_millis, RecordError};
use super::model::{EventRef, Finding};
use super::render::place;
use super::sources::SourceSummary;
use super::{coverage, AuditReport, Findings, Totals};
use crate::controls::{Catalogue, Policy, Severity};
use crate::error::bad_input;
use crate::incidents::ingest::{Location, Rejection};

/// The columns, in order. `actors`, `resources` and `evidence` are lists (in CSV, text
/// joined with `;`); `resource_count` and `event_count` integers; the rest text.
pub const COLUMNS: [&str; 12] = [
    "policy",
    "severity",
    "title",
    "first_at",
    "last_at",
    "change_id",
    "actors",
    "resources",
    "resource_count",
    "evidence",
    "event_count",
    "detail",
];

/// A time as the schema writes it: UTC, RFC 3339, milliseconds only when there are some.
fn utc_text(ms: i64) -> String {
    millis_to_time(ms).to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true)
}

/// Writes every finding of the report as one JSON object a line, in the schema.
pub fn write_findings(w: &mut dyn Write, report: &AuditReport) -> Result<()> {
    for f in report.findings.iter()? {
        let f = f?;
        let evidence: Vec<String> = (f.events.iter())
            .map(|e| format!("{}@{}", place(report, e.source, e.line), utc_text(e.at)))
            .collect();
        let row = json!({
            "policy": &*f.policy,
            "severity": super::render::severity_name(f.severity),
            "title": &*f.title,
            "first_at": utc_text(f.first_at),
            "last_at": utc_text(f.last_at),
            "change_id": f.change_id,
            "actors": f.actors,
            "resources": f.resources,
            "resource_count": f.resource_count,
            "evidence": evidence,
            "event_count": f.event_count,
            "detail": f.detail,
        });
        serde_json::to_writer(&mut *w, &row)?;
        w.write_all(b"\n")?;
    }
    Ok(())
}

/// The evidence files the findings point to, each once, in the order first seen, and
/// whether its places are records (`file#record N`) or lines (`file:N`).
#[derive(Default)]
struct EvidenceFiles {
    names: Vec<String>,
    by_record: Vec<bool>,
    index: HashMap<String, u32>,
}

impl EvidenceFiles {
    fn add(&mut self, file: &str, by_record: bool) -> u32 {
        if let Some(&i) = self.index.get(file) {
            return i;
        }
        let i = self.names.len() as u32;
        self.names.push(file.to_string());
        self.by_record.push(by_record);
        self.index.insert(file.to_string(), i);
        i
    }
}

/// One place of evidence: `FILE:LINE` or `FILE#record N`, then `@TIME` (UTC) if known.
struct Place {
    file: String,
    by_record: bool,
    number: u64,
    at: Option<i64>,
}

fn parse_place(text: &str) -> Result<Place, RecordError> {
    let bad = || {
        RecordError::new(
            "evidence",
            format!("{text:?} is not FILE:LINE or FILE#record N (then @TIME if known)"),
        )
    };
    let (place, at) = match text.rsplit_once('@') {
        Some((p, t)) if t.starts_with(|c: char| c.is_ascii_digit()) => {
            (p, Some(parse_millis(t, "evidence", chrono_tz::UTC)?))
        }
        _ => (text, None),
    };
    let (file, by_record, number) = match place.rsplit_once("#record ") {
        Some((file, n)) => (file, true, n),
        None => {
            let (file, n) = place.rsplit_once(':').ok_or_else(bad)?;
            (file, false, n)
        }
    };
    let number = number.trim().parse().map_err(|_| bad())?;
    if file.is_empty() {
        return Err(bad());
    }
    Ok(Place {
        file: file.to_string(),
        by_record,
        number,
        at,
    })
}

/// A text column: a string, or a number written as one; empty when absent.
fn text(row: &Map<String, Value>, column: &str) -> String {
    match row.get(column) {
        Some(Value::String(s)) => s.trim().to_string(),
        Some(Value::Number(n)) => n.to_string(),
        Some(Value::Bool(b)) => b.to_string(),
        _ => String::new(),
    }
}

/// A list column: an array of text, or text joined with `;` (CSV).
fn list(row: &Map<String, Value>, column: &str) -> Result<Vec<String>, RecordError> {
    match row.get(column) {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::String(s)) => Ok(s
            .split(';')
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .map(str::to_string)
            .collect()),
        Some(Value::Array(items)) => items
            .iter()
            .map(|v| match v {
                Value::String(s) => Ok(s.clone()),
                other => Err(RecordError::new(column, format!("{other} is not text"))),
            })
            .collect(),
        Some(other) => Err(RecordError::new(column, format!("{other} is not a list"))),
    }
}

/// A count column: a whole number (or one written as text); `None` when absent.
fn count(row: &Map<String, Value>, column: &str) -> Result<Option<u64>, RecordError> {
    match row.get(column) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => n
            .as_u64()
            .map(Some)
            .ok_or_else(|| RecordError::new(column, format!("{n} is not a count"))),
        Some(Value::String(s)) if s.trim().is_empty() => Ok(None),
        Some(Value::String(s)) => s
            .trim()
            .parse()
            .map(Some)
            .map_err(|_| RecordError::new(column, format!("{s:?} is not a count"))),
        Some(other) => Err(RecordError::new(column, format!("{other} is not a count"))),
    }
}

/// A time column: UTC text (RFC 3339, or `YYYY-MM-DD HH:MM:SS` as SQL engines print it),
/// or epoch milliseconds (a Parquet timestamp is read as those).
fn time(row: &Map<String, Value>, column: &str) -> Result<Option<i64>, RecordError> {
    match row.get(column) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => n
            .as_i64()
            .map(Some)
            .ok_or_else(|| RecordError::new(column, format!("{n} is not a time"))),
        Some(Value::String(s)) if s.trim().is_empty() => Ok(None),
        Some(Value::String(s)) => parse_millis(s.trim(), column, chrono_tz::UTC).map(Some),
        Some(other) => Err(RecordError::new(column, format!("{other} is not a time"))),
    }
}

/// Reads one row into a finding of one of the run's `policies` (by its place there).
fn finding(
    row: &Map<String, Value>,
    policies: &[Policy],
    files: &mut EvidenceFiles,
) -> Result<Finding, RecordError> {
    let id = text(row, "policy");
    if id.is_empty() {
        return Err(RecordError::new("policy", "is missing"));
    }
    let (index, policy) = (policies.iter().enumerate())
        .find(|(_, p)| p.id == id)
        .ok_or_else(|| {
            RecordError::new(
                "policy",
                format!("{id:?} is not an enabled policy (policies.toml, or a Sigma rule loaded)"),
            )
        })?;
    let severity = match text(row, "severity").to_ascii_lowercase().as_str() {
        "" => policy.severity,
        "low" => Severity::Low,
        "medium" => Severity::Medium,
        "high" => Severity::High,
        "critical" => Severity::Critical,
        other => {
            return Err(RecordError::new(
                "severity",
                format!("{other:?} is not low, medium, high or critical"),
            ))
        }
    };
    let first_at =
        time(row, "first_at")?.ok_or_else(|| RecordError::new("first_at", "is missing"))?;
    let last_at = time(row, "last_at")?.unwrap_or(first_at);
    if last_at < first_at {
        return Err(RecordError::new("last_at", "is before first_at"));
    }
    let actors = list(row, "actors")?;
    let resources = list(row, "resources")?;
    let places = (list(row, "evidence")?.iter())
        .map(|p| parse_place(p))
        .collect::<Result<Vec<_>, _>>()?;
    // The counts as the engine gave them (an audit-trail gap counts no event, though it
    // points at the last one before it); else the lists' lengths.
    let resource_count = count(row, "resource_count")?.unwrap_or(resources.len() as u64);
    let event_count = count(row, "event_count")?.unwrap_or(places.len() as u64);
    let events = places
        .into_iter()
        .map(|p| EventRef {
            source: files.add(&p.file, p.by_record),
            line: p.number,
            at: p.at.unwrap_or(first_at),
        })
        .collect::<Vec<_>>();
    let detail = text(row, "detail");
    Ok(Finding {
        policy_index: index,
        policy: Arc::from(policy.id.as_str()),
        title: Arc::from(policy.title.as_str()),
        severity,
        detail: if detail.is_empty() {
            policy.title.clone()
        } else {
            detail
        },
        rationale: Arc::from(policy.rationale.as_str()),
        change_id: text(row, "change_id"),
        resource_count,
        actors,
        resources,
        event_count,
        events,
        first_at,
        last_at,
        nist: Arc::from(policy.nist.as_slice()),
        obligations: Arc::from(policy.obligations.as_slice()),
        source: policy.source.clone(),
        waiver: None,
    })
}

/// Every row of a findings file, as an object of its columns, with its place and raw
/// text; or a row that is not one, with why.
type Row = (Location, Result<Map<String, Value>, RecordError>, String);

fn json_lines_rows(path: &Path, name: &str) -> Result<Vec<Row>> {
    let file =
        std::fs::File::open(path).map_err(|e| bad_input(format!("cannot read {name}: {e}")))?;
    let mut rows = Vec::new();
    for (i, line) in std::io::BufReader::new(file).lines().enumerate() {
        let line = line.map_err(|e| bad_input(format!("cannot read {name}: {e}")))?;
        let text = line.trim().trim_start_matches('\u{feff}');
        if text.is_empty() {
            continue;
        }
        let parsed = match serde_json::from_str::<Value>(text) {
            Ok(Value::Object(o)) => Ok(o),
            Ok(_) => Err(RecordError::new("line", "not a JSON object")),
            Err(e) => Err(RecordError::new("line", e.to_string())),
        };
        rows.push((Location::Line(i as u64 + 1), parsed, text.to_string()));
    }
    Ok(rows)
}

fn csv_rows(path: &Path, name: &str) -> Result<Vec<Row>> {
    let mut reader = csv::ReaderBuilder::new()
        .flexible(true)
        .from_path(path)
        .map_err(|e| bad_input(format!("cannot read {name}: {e}")))?;
    let headers: Vec<String> = (reader.headers())
        .map_err(|e| bad_input(format!("{name}: no header row: {e}")))?
        .iter()
        .map(|h| h.trim().trim_start_matches('\u{feff}').to_string())
        .collect();
    let mut rows = Vec::new();
    for record in reader.records() {
        let record = record.map_err(|e| bad_input(format!("{name}: {e}")))?;
        let line = record.position().map_or(0, |p| p.line());
        let row: Map<String, Value> = (headers.iter().zip(record.iter()))
            .map(|(h, v)| (h.clone(), Value::String(v.to_string())))
            .collect();
        let raw = record.iter().collect::<Vec<_>>().join(",");
        rows.push((Location::Line(line), Ok(row), raw));
    }
    Ok(rows)
}

fn parquet_rows(path: &Path, name: &str) -> Result<Vec<Row>> {
    let mut rows = Vec::new();
    crate::util::parquet_rows::read_rows(
        path,
        name,
        &mut |n, v| {
            let raw = v.to_string();
            let row = match v {
                Value::Object(o) => Ok(o),
                _ => Err(RecordError::new("row", "not a row")),
            };
            rows.push((Location::Record(n), row, raw));
            Ok(())
        },
        &mut || Ok(()),
    )?;
    Ok(rows)
}

/// Reads a findings file (`.parquet`, `.csv`, else JSON lines) into a report of the
/// run's `policies`, as a native run would have made it; rejected rows are in
/// `report.rejected`. Sigma rules with no finding in the file are left out of the
/// counts and the coverage (nothing says which records they saw), as a native run leaves
/// out those that saw none.
pub fn read_findings(
    path: &Path,
    policies: &[Policy],
    catalogue: &Catalogue,
) -> Result<AuditReport> {
    let name = path.display().to_string();
    let ext = (path.extension())
        .map(|e| e.to_string_lossy().to_ascii_lowercase())
        .unwrap_or_default();
    let rows = match ext.as_str() {
        "parquet" => parquet_rows(path, &name)?,
        "csv" => csv_rows(path, &name)?,
        _ => json_lines_rows(path, &name)?,
    };
    let policies: Vec<Policy> = policies.iter().filter(|p| p.enabled).cloned().collect();
    let mut files = EvidenceFiles::default();
    let (mut list, mut rejected) = (Vec::new(), Vec::new());
    let read = rows.len() as u64;
    for (location, row, raw) in rows {
        match row.and_then(|r| finding(&r, &policies, &mut files)) {
            Ok(f) => list.push(f),
            Err(err) => rejected.push(Rejection {
                file: name.clone(),
                location,
                id: String::new(),
                field: err.field,
                reason: err.reason,
                raw,
            }),
        }
    }
    let mut by_policy = vec![0u64; policies.len()];
    for f in &list {
        by_policy[f.policy_index] += 1;
    }
    let idle_rules: BTreeSet<String> = (policies.iter().zip(&by_policy))
        .filter(|(p, &n)| p.source.is_some() && n == 0)
        .map(|(p, _)| p.id.clone())
        .collect();
    let mut findings_by_policy = BTreeMap::new();
    let mut findings_by_severity: BTreeMap<String, u64> = BTreeMap::new();
    let mut worst = None;
    for (p, &n) in policies.iter().zip(&by_policy) {
        if idle_rules.contains(&p.id) {
            continue;
        }
        findings_by_policy.insert(p.id.clone(), n);
    }
    for f in &list {
        let severity = super::render::severity_name(f.severity).to_string();
        *findings_by_severity.entry(severity).or_default() += 1;
        worst = worst.max(Some(f.severity));
    }
    let first = list.iter().map(|f| f.first_at).min();
    let last = list.iter().map(|f| f.last_at).max();
    let accepted = list.len() as u64;
    let active: Vec<Policy> = (policies.iter())
        .filter(|p| !idle_rules.contains(&p.id))
        .cloned()
        .collect();
    Ok(AuditReport {
        sources: vec![SourceSummary {
            file: name,
            format: None,
            read,
            accepted,
            rejected: rejected.len() as u64,
            ..SourceSummary::default()
        }],
        totals: Totals {
            files: 1,
            read,
            accepted,
            rejected: rejected.len() as u64,
            first_event: first.map(|t| millis_to_time(t).to_rfc3339()),
            last_event: last.map(|t| millis_to_time(t).to_rfc3339()),
            ..Totals::default()
        },
        coverage: coverage::coverage(catalogue, &active, &findings_by_policy, &BTreeSet::new()),
        findings: Findings::from_list(policies.len(), list),
        findings_by_policy,
        findings_by_severity,
        worst,
        worst_unwaived: worst,
        waivers: None,
        metrics: Vec::new(),
        files: files.names,
        evidence_by_record: files.by_record,
        skipped_files: Vec::new(),
        unmapped_accounts: Vec::new(),
        sigma: Default::default(),
        rejected,
        policies,
        idle_rules,
        no_evidence: BTreeSet::new(),
        people: Vec::new(),
        timings: Vec::new(),
    })
}

/// The policies a `regwatch sql` script says it expresses (its `-- Expressed (N): ...`
/// line): the ones whose findings its result holds. The others (refused, or not for the
/// script's source) checked nothing and must not count as having found nothing.
pub fn expressed_in_script(path: &Path) -> Result<BTreeSet<String>> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| bad_input(format!("cannot read {}: {e}", path.display())))?;
    let line = (text.lines())
        .take_while(|l| l.starts_with("--"))
        .find(|l| l.starts_with("-- Expressed ("))
        .ok_or_else(|| {
            bad_input(format!(
                "{}: not a script `regwatch sql` wrote (no \"-- Expressed (N): ...\" line in its header)",
                path.display()
            ))
        })?;
    let list = line.split_once("): ").map(|(_, l)| l).unwrap_or("");
    Ok((list.split(", "))
        .map(str::trim)
        .filter(|id| !id.is_empty())
        .map(str::to_string)
        .collect())
}

/// Reads findings another engine made (`--findings FILE`, in the findings schema) into
/// the report a run of the same policies would have made; waivers apply as to a run.
/// With `script` (the `regwatch sql` script the engine ran), only the policies it
/// expresses count as checked: the others are left out of the report and its coverage.
pub fn findings_request(
    config: &crate::config::Config,
    request: &super::AuditRequest,
    file: &std::path::Path,
    script: Option<&Path>,
) -> Result<AuditReport> {
    if request.redact {
        return Err(bad_input(
            "--redact cannot tell people from AI agents in a findings file: redact when the engine exports them, or audit the logs",
        ));
    }
    let setup =
        super::AuditSetup::load(config, request.mappings, request.policies, &request.sigma)?;
    let waivers = (request.waivers)
        .map(|p| super::waivers::Waivers::load(p, request.today))
        .transpose()?;
    let checked: Vec<Policy> = match script {
        Some(script) => {
            let expressed = expressed_in_script(script)?;
            (setup.policies.iter())
                .filter(|p| expressed.contains(&p.id))
                .cloned()
                .collect()
        }
        None => setup.policies.clone(),
    };
    let mut report = read_findings(file, &checked, &setup.catalogue)?;
    // The Sigma rules loaded: the findings' policies may be theirs.
    report.sigma = setup.sigma.summary.clone();
    super::finish_request(config, request, report, waivers)
}
