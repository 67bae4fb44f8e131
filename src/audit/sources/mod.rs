//! Audit sources: finding the files (a file, a list, or a directory tree, `.gz` included),
//! telling their format, and reading them into [`AuditEvent`]s, with every record that
//! cannot be read quarantined with its file, line and reason.
//!
//! JSON lines (native and Kubernetes) are read in large blocks by one thread and parsed in
//! parallel, only the fields the policies read, straight from the buffer; memory stays
//! bounded by the block batch, whatever the size of the file.
//!
//! One file per format, its tests beside it: `native` (JSON lines), `csv`, `parquet`,
//! `cloudtrail`, `k8s`. `discover` finds the files and tells their formats; `pipeline`
//! opens them and runs the block pipeline the JSON-lines formats share. This file holds
//! what every format uses: the settings, the intake its records go to, and
//! [`read_source`], which lists the formats' readers.

mod cloudtrail;
mod csv;
mod discover;
mod k8s;
mod native;
mod parquet;
mod pipeline;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::Result;
use chrono_tz::Tz;
use serde::Deserialize;

use super::event::{ActorType, AuditEvent, Operation, RecordError};
use crate::audit::model::Hit;
use crate::error::bad_input;
use crate::incidents::ingest::{Location, Rejection};

pub use cloudtrail::CloudTrailMapping;
pub use discover::discover;
pub use k8s::KubernetesMapping;
// Where the policies look for it too.
pub use super::matching::glob_match;

/// How one audit file is laid out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum SourceFormat {
    /// Native schema, one JSON object per line.
    Jsonl,
    /// Native schema, CSV with a header row.
    Csv,
    /// Native schema, Parquet.
    Parquet,
    /// AWS CloudTrail log files (`{"Records": [...]}`).
    Cloudtrail,
    /// Kubernetes audit log (`audit.k8s.io/v1` Event, JSON lines).
    K8s,
}

impl SourceFormat {
    /// The name `--input-format` takes and the outputs show.
    pub fn as_str(self) -> &'static str {
        match self {
            SourceFormat::Jsonl => "jsonl",
            SourceFormat::Csv => "csv",
            SourceFormat::Parquet => "parquet",
            SourceFormat::Cloudtrail => "cloudtrail",
            SourceFormat::K8s => "k8s",
        }
    }
}

/// One file to read.
#[derive(Debug, Clone)]
pub struct SourceFile {
    pub path: PathBuf,
    pub format: SourceFormat,
    pub gzip: bool,
}

impl SourceFile {
    pub fn name(&self) -> String {
        self.path.display().to_string()
    }
}

/// What reading one file came to: read = accepted + rejected + skipped.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct SourceSummary {
    pub file: String,
    pub format: Option<SourceFormat>,
    pub read: u64,
    pub accepted: u64,
    pub rejected: u64,
    /// Records that are not events to check (Kubernetes stages other than ResponseComplete).
    pub skipped: u64,
}

/// Vocabulary for the AWS and Kubernetes formats, from `mappings/audit-sources.toml`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SourceMappings {
    pub agents: AgentPatterns,
    pub cloudtrail: CloudTrailMapping,
    pub kubernetes: KubernetesMapping,
}

/// Which identities are AI agents or services: `*` wildcards, case-insensitive.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AgentPatterns {
    pub identity: Vec<String>,
    pub user_agent: Vec<String>,
    pub service_identity: Vec<String>,
}

impl SourceMappings {
    pub fn load(path: &Path) -> Result<SourceMappings> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| bad_input(format!("cannot read {}: {e}", path.display())))?;
        let m: SourceMappings =
            toml::from_str(&text).map_err(|e| bad_input(format!("{}: {e}", path.display())))?;
        let ops = m
            .cloudtrail
            .events
            .values()
            .chain(m.cloudtrail.prefixes.iter().map(|(_, o)| o))
            .chain(m.kubernetes.verbs.values())
            .chain(std::iter::once(&m.cloudtrail.otherwise));
        for op in ops {
            if Operation::parse(op).is_none() {
                return Err(bad_input(format!(
                    "{}: {op:?} is not an operation ({})",
                    path.display(),
                    Operation::ALL
                )));
            }
        }
        Ok(m)
    }

    /// Classifies an identity (and its user agent).
    pub fn actor_type(&self, identity: &str, user_agent: &str) -> ActorType {
        let any = |pats: &[String], text: &str| pats.iter().any(|p| glob_match(p, text));
        if any(&self.agents.identity, identity) || any(&self.agents.user_agent, user_agent) {
            ActorType::AiAgent
        } else if any(&self.agents.service_identity, identity) {
            ActorType::Service
        } else {
            ActorType::Human
        }
    }
}

/// Where events come from in the organisation: which environment an AWS account, a
/// Kubernetes namespace or cluster is (the `[audit]` table of `regwatch.toml`).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct EnvironmentMap {
    /// AWS account id → environment.
    pub accounts: BTreeMap<String, String>,
    /// Kubernetes namespace pattern (`*` wildcards) → environment.
    pub namespaces: BTreeMap<String, String>,
    /// Kubernetes cluster (the audit file's name without extensions) → environment, for
    /// cluster-scoped objects and unmapped namespaces.
    pub clusters: BTreeMap<String, String>,
}

/// Settings every reader needs.
pub struct ReadContext<'a> {
    pub input_tz: Tz,
    pub strict: bool,
    pub mappings: &'a SourceMappings,
    pub environments: &'a EnvironmentMap,
}

/// The per-event checks, run in parallel on each block as soon as it is parsed.
pub trait Checker: Sync {
    fn check<'b>(&self, events: &[AuditEvent<'b>]) -> Vec<Hit<'b>>;
}

/// Where checked events go, one block at a time, in file order (on one thread).
pub trait EventSink: Send {
    /// The events of one block, in file order, with what `check` found in them.
    fn events(&mut self, events: &[AuditEvent<'_>], hits: Vec<Hit<'_>>);
    /// Bytes of input consumed so far in this file (for the progress bar).
    fn progress(&mut self, _bytes: u64) {}
}

/// The record as it stood, cut short for the quarantine file.
fn raw_text(bytes: &[u8]) -> String {
    let t = String::from_utf8_lossy(bytes);
    match t.char_indices().nth(2000) {
        Some((i, _)) => format!("{}...", &t[..i]),
        None => t.into_owned(),
    }
}

fn rejection(file: &str, location: Location, err: RecordError, raw: String) -> Rejection {
    Rejection {
        file: file.to_string(),
        location,
        id: String::new(),
        field: err.field,
        reason: err.reason,
        raw,
    }
}

/// Reads one file into the sink; rejections are returned (or, with `strict`, the first one
/// is the error).
pub fn read_source(
    file: &SourceFile,
    index: u32,
    cx: &ReadContext,
    checker: &dyn Checker,
    sink: &mut dyn EventSink,
) -> Result<(SourceSummary, Vec<Rejection>)> {
    let name = file.name();
    let mut summary = SourceSummary {
        file: name.clone(),
        format: Some(file.format),
        ..SourceSummary::default()
    };
    let mut rejected = Vec::new();
    let mut intake = Intake {
        checker,
        sink,
        summary: &mut summary,
        rejected: &mut rejected,
        strict: cx.strict,
    };
    // The formats and their readers: the one place that lists them. (Each JSON-lines
    // parser gets its own copy of the reading loop, with the parser inlined.)
    match file.format {
        SourceFormat::Jsonl => native::read(file, index, cx, &mut intake)?,
        SourceFormat::Csv => csv::read(file, index, cx, &mut intake)?,
        SourceFormat::Parquet => parquet::read(file, index, cx, &mut intake)?,
        SourceFormat::Cloudtrail => cloudtrail::read(file, index, cx, &mut intake)?,
        SourceFormat::K8s => k8s::read(file, index, cx, &mut intake)?,
    }
    summary.rejected = rejected.len() as u64;
    debug_assert_eq!(
        summary.read,
        summary.accepted + summary.rejected + summary.skipped
    );
    Ok((summary, rejected))
}

fn json_reason(e: &serde_json::Error) -> String {
    // serde_json's column is within the line; the line number is ours.
    let text = e.to_string();
    match text.rfind(" at line ") {
        Some(i) => text[..i].to_string(),
        None => text,
    }
}

/// Where a reader's records go: accepted events, checked, to the sink; counts to the
/// file's summary; rejected records to quarantine (or, with `--strict`, the first one
/// ends the run).
struct Intake<'a> {
    checker: &'a dyn Checker,
    sink: &'a mut dyn EventSink,
    summary: &'a mut SourceSummary,
    rejected: &'a mut Vec<Rejection>,
    strict: bool,
}

impl Intake<'_> {
    /// Quarantines a rejected record, or with `--strict` makes it the run's error.
    fn keep(&mut self, r: Rejection) -> Result<()> {
        if self.strict {
            return Err(strict_error(&r));
        }
        self.rejected.push(r);
        Ok(())
    }

    /// A batch of events (already checked) and the records rejected beside them.
    fn take(
        &mut self,
        events: &[AuditEvent<'_>],
        hits: Vec<Hit<'_>>,
        rejects: Vec<Rejection>,
    ) -> Result<()> {
        self.summary.accepted += events.len() as u64;
        for r in rejects {
            self.keep(r)?;
        }
        self.sink.events(events, hits);
        Ok(())
    }

    /// A batch of accepted events, checked here.
    fn deliver(&mut self, events: &[AuditEvent<'_>]) -> Result<()> {
        let hits = self.checker.check(events);
        self.take(events, hits, Vec::new())
    }
}

fn strict_error(r: &Rejection) -> anyhow::Error {
    bad_input(format!("{r} (--strict stops at the first bad record)"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_format_has_one_name_for_options_json_and_tables() {
        use clap::ValueEnum;
        for f in SourceFormat::value_variants() {
            let option = f.to_possible_value().unwrap();
            assert_eq!(option.get_name(), f.as_str());
            assert_eq!(serde_json::to_value(f).unwrap(), f.as_str());
        }
    }
}
