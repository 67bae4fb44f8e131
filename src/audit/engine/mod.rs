//! `regwatch audit --engine duckdb|spark`: the same policies run by an SQL engine instead
//! of the native one. The inputs are found as a run finds them; the enabled policies are
//! compiled with [`crate::audit::sql::compile`] for the engine's dialect; the engine
//! writes the findings (findings schema), the records it rejects and its counts to a
//! temporary folder, and they are read back into the report a run makes.
//!
//! Never silent: files the engine cannot read (CloudTrail, Kubernetes, OCSF, standard
//! input) are listed as skipped or rejected with why; records the script rejects are
//! quarantined with their reason, so read = accepted + rejected per file; policies the
//! dialect refuses are returned by name. One file per engine: `duckdb`, `spark`.

mod duckdb;
mod shared;
mod spark;

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use serde::Deserialize;

use super::findings_io::read_findings;
use super::sources::{discover, SkippedFile, SourceFormat, SourceSummary};
use super::sql::{compile, Dialect, SqlRequest, SqlSource};
use super::{finish_request, waivers, AuditReport, AuditRequest, AuditSetup, Totals};
use crate::error::bad_input;
use crate::incidents::ingest::{Location, Rejection};
use shared::{EngineFile, Outputs};

/// The engine a run uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Engine {
    /// DuckDB on this machine: its `duckdb` CLI, else Python's `duckdb` module.
    Duckdb,
    /// Spark through `spark-submit`, with this master (`local[*]`, `yarn`, `spark://...`).
    Spark { master: String },
}

impl Engine {
    pub fn name(&self) -> &'static str {
        match self {
            Engine::Duckdb => "duckdb",
            Engine::Spark { .. } => "spark",
        }
    }

    fn dialect(&self) -> Dialect {
        match self {
            Engine::Duckdb => Dialect::Duckdb,
            Engine::Spark { .. } => Dialect::Spark,
        }
    }
}

/// What an engine run made: the report, the policies the dialect refused (their findings
/// are missing), and what the engine said about its time (for standard error).
pub struct EngineRun {
    pub report: AuditReport,
    pub refused: Vec<(String, String)>,
    pub timings: Vec<String>,
}

/// Runs the enabled policies over the inputs on `engine` and reads its results back into
/// the report a native run makes (waivers applied as to a run).
pub fn run_on_engine(
    config: &crate::config::Config,
    request: &AuditRequest,
    engine: &Engine,
) -> Result<EngineRun> {
    if request.redact {
        return Err(bad_input(
            "--redact cannot be used with --engine: the engine's findings do not say which actors are people; audit without --engine to redact",
        ));
    }
    // Sigma rules match raw CloudTrail and Kubernetes records, which an engine does not
    // read: they are not loaded, and the run says none ran.
    let no_sigma = super::SigmaChoice::default();
    let setup = AuditSetup::load(config, request.mappings, request.policies, &no_sigma)?;
    let waivers = (request.waivers)
        .map(|p| waivers::Waivers::load(p, request.today))
        .transpose()?;
    let found = discover(request.inputs, request.format)?;
    let mut plan = Plan {
        skipped: found.skipped,
        ..Plan::default()
    };
    for f in found.files {
        let name = f.name();
        match (&f.refused, f.format) {
            (Some(reason), _) => plan.reject_whole(name, reason.clone()),
            _ if f.pending.is_some() => plan
                .reject_whole(
                    name,
                    format!(
                        "--engine {} reads files by path: standard input and pipes are read by a run without --engine",
                        engine.name()
                    ),
                ),
            (None, SourceFormat::Jsonl | SourceFormat::Csv | SourceFormat::Parquet) => {
                plan.files.push(EngineFile {
                    path: f.path.clone(),
                    name,
                    format: f.format,
                })
            }
            (None, other) => plan.skipped.push(SkippedFile {
                file: name,
                reason: format!(
                    "{} events are not read by --engine {} yet (native JSON lines, CSV and Parquet are): audit them without --engine",
                    other.as_str(),
                    engine.name()
                ),
            }),
        }
    }
    let dialect = engine.dialect();
    let inputs = match engine {
        Engine::Duckdb => duckdb::inputs(&plan.files)?,
        Engine::Spark { .. } => vec![spark::input()],
    };
    let bank_holidays: Vec<chrono::NaiveDate> = setup.calendar.bank_holidays().collect();
    let script = compile(&SqlRequest {
        dialect,
        source: SqlSource::Native,
        inputs: &inputs,
        policies: &setup.policies,
        input_tz: config.input_tz()?,
        display_tz: config.display_tz()?,
        bank_holidays: &bank_holidays,
        // Native events only: they say their own environment and operation.
        aws: None,
        // A run reads every event of its inputs.
        scope: crate::audit::sql::Scope::default(),
    })
    .map_err(|e| bad_input(format!("{e:#}")))?;
    // Removed when dropped: on success, on an error, and on a panic.
    let dir = tempfile::Builder::new()
        .prefix("regwatch-engine-")
        .tempdir()
        .context("cannot make a temporary folder for the engine's results")?;
    let out = Outputs::in_dir(dir.path());
    let started = std::time::Instant::now();
    let mut timings = if plan.files.is_empty() {
        Vec::new()
    } else {
        match engine {
            Engine::Duckdb => duckdb::run(&script, dir.path(), &out)?,
            Engine::Spark { master } => spark::run(&script, &plan.files, master, dir.path(), &out)?,
        }
    };
    let took = started.elapsed();
    timings.push(format!(
        "engine {}: {:.1} s in all",
        engine.name(),
        took.as_secs_f64()
    ));
    // A refused policy checked nothing, nor did one not for the engine's source (a
    // CloudTrail or Kubernetes policy): they are left out of the report (and so of the
    // coverage) rather than shown with no findings.
    let checked: Vec<crate::controls::Policy> = (setup.policies.iter())
        .filter(|p| script.expressed.contains(&p.id))
        .cloned()
        .collect();
    let findings = if plan.files.is_empty() {
        let none = dir.path().join("none.jsonl");
        std::fs::write(&none, "")?;
        none
    } else {
        findings_file(&out)
    };
    let mut report = read_findings(&findings, &checked, &setup.catalogue)?;
    if let Some(first) = report.rejected.first() {
        anyhow::bail!(
            "the {} engine wrote {} finding row(s) regwatch cannot read (a bug: please report it); the first: {} {}: {}",
            engine.name(),
            report.rejected.len(),
            first.location,
            first.field,
            first.reason
        );
    }
    let counts: Vec<Count> = if plan.files.is_empty() {
        Vec::new()
    } else {
        json_rows(&out.counts)?
    };
    let rejects: Vec<Reject> = if plan.files.is_empty() {
        Vec::new()
    } else {
        json_rows(&out.rejects)?
    };
    if request.strict {
        if let Some(r) = rejects.first() {
            return Err(bad_input(format!("--strict: {}", r.rejection())));
        }
    }
    plan.fill(&mut report, &counts, rejects);
    if report.totals.accepted == 0 {
        // No event was checked (every input skipped, rejected or empty): the policies
        // have no evidence either way, not a pass.
        report.no_evidence = report.policies.iter().map(|p| p.id.clone()).collect();
        report.coverage = super::coverage::coverage(
            &setup.catalogue,
            &report.policies,
            &report.findings_by_policy,
            &report.no_evidence,
        );
    }
    report.timings = vec![("engine", took)];
    report.sigma = setup.sigma.summary.clone();
    let report = finish_request(config, request, report, waivers)?;
    Ok(EngineRun {
        report,
        refused: script.refused,
        timings,
    })
}

/// The findings file the engine wrote: Parquet, else JSON lines.
fn findings_file(out: &Outputs) -> PathBuf {
    if out.findings.exists() {
        out.findings.clone()
    } else {
        out.findings.with_extension("jsonl")
    }
}

/// The files of a run: those the engine reads, those rejected whole, those skipped.
#[derive(Default)]
struct Plan {
    files: Vec<EngineFile>,
    whole: Vec<(String, String)>,
    skipped: Vec<SkippedFile>,
}

impl Plan {
    fn reject_whole(&mut self, name: String, reason: String) {
        self.whole.push((name, reason));
    }

    /// The report's sources, totals, quarantine and skipped files, from the engine's
    /// counts and rejects (the findings are the engine's already).
    fn fill(self, report: &mut AuditReport, counts: &[Count], rejects: Vec<Reject>) {
        let mut sources = Vec::new();
        let mut rejected: Vec<Rejection> = Vec::new();
        let (mut first, mut last) = (None, None);
        for f in &self.files {
            let c = counts
                .iter()
                .find(|c| c.source_file.as_deref() == Some(&f.name));
            let (read, bad) = c.map_or((0, 0), |c| (c.records, c.rejected));
            if let Some(c) = c {
                first = match (first, c.first_ms) {
                    (Some(a), Some(b)) => Some(std::cmp::min(a, b)),
                    (a, b) => a.or(b),
                };
                last = last.max(c.last_ms);
            }
            sources.push(counted(&f.name, Some(f.format), read, bad));
        }
        // Records the engine counted under a name no file has (it named a file its own
        // way): kept, under that name, so that the totals still reconcile.
        let known =
            |c: &&Count| (self.files.iter()).any(|f| c.source_file.as_deref() == Some(&f.name));
        for c in counts.iter().filter(|c| !known(c)) {
            let name = c.source_file.clone().unwrap_or_default();
            sources.push(counted(&name, None, c.records, c.rejected));
        }
        rejected.extend(rejects.iter().map(Reject::rejection));
        for (file, reason) in self.whole {
            sources.push(SourceSummary {
                file: file.clone(),
                read: 1,
                rejected: 1,
                file_rejected: Some(reason.clone()),
                ..SourceSummary::default()
            });
            rejected.push(Rejection {
                file,
                location: Location::File,
                id: String::new(),
                field: "file".into(),
                reason,
                raw: String::new(),
            });
        }
        let time = |ms: Option<i64>| ms.map(|t| super::event::millis_to_time(t).to_rfc3339());
        let mut totals = Totals {
            files: sources.len() as u64,
            first_event: time(first),
            last_event: time(last),
            files_skipped: self.skipped.len() as u64,
            ..Totals::default()
        };
        for s in &sources {
            totals.files_rejected += s.file_rejected.is_some() as u64;
            totals.read += s.read;
            totals.accepted += s.accepted;
            totals.rejected += s.rejected;
        }
        report.sources = sources;
        report.totals = totals;
        report.rejected = rejected;
        report.skipped_files = self.skipped;
    }
}

/// A file's summary from the engine's counts.
fn counted(file: &str, format: Option<SourceFormat>, read: u64, rejected: u64) -> SourceSummary {
    SourceSummary {
        file: file.to_string(),
        format,
        read,
        accepted: read - rejected.min(read),
        rejected,
        ..SourceSummary::default()
    }
}

/// A row of the script's `counts` query.
#[derive(Deserialize)]
struct Count {
    source_file: Option<String>,
    records: u64,
    rejected: u64,
    first_ms: Option<i64>,
    last_ms: Option<i64>,
}

/// A row of the script's `rejects` query: a record a run would reject.
#[derive(Deserialize)]
struct Reject {
    source_file: Option<String>,
    source_line: Option<u64>,
    problem: String,
    actor: Option<String>,
    action: Option<String>,
    resource: Option<String>,
}

impl Reject {
    fn rejection(&self) -> Rejection {
        let (field, reason) = match self.problem.split_once(": ") {
            Some((field, reason)) => (field.to_string(), reason.to_string()),
            None => ("line".to_string(), self.problem.clone()),
        };
        let raw = serde_json::json!({
            "actor": self.actor,
            "action": self.action,
            "resource": self.resource,
        });
        Rejection {
            file: self.source_file.clone().unwrap_or_default(),
            location: self.source_line.map_or(Location::Unknown, Location::Line),
            id: String::new(),
            field,
            reason,
            raw: raw.to_string(),
        }
    }
}

/// The rows of a JSON-lines file an engine wrote (none when it wrote no file: an
/// engine may write nothing for an empty result).
fn json_rows<T: for<'de> Deserialize<'de>>(path: &Path) -> Result<Vec<T>> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e).with_context(|| format!("cannot read {}", path.display())),
    };
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            serde_json::from_str(l)
                .with_context(|| format!("{}: cannot read {l:?}", path.display()))
        })
        .collect()
}
