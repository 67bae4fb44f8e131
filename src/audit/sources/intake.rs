//! What every reader shares: the format and file being read, the settings, and the
//! intake its records go to (checked events to the sink, counts to the file's summary,
//! rejections to quarantine).

use std::path::PathBuf;

use anyhow::Result;
use chrono_tz::Tz;

use super::vocabulary::SourceMappings;
use crate::audit::event::{AuditEvent, RecordError};
use crate::audit::model::Hit;
use crate::config::EnvironmentMap;
use crate::error::bad_input;
use crate::incidents::ingest::{Location, Rejection};

/// How one audit file is laid out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
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
    /// OCSF API Activity (class 6003, as Amazon Security Lake stores it: JSON lines or
    /// Parquet).
    Ocsf,
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
            SourceFormat::Ocsf => "ocsf",
        }
    }

    /// Whose vocabulary its events speak: OCSF API Activity is CloudTrail's, mapped, so
    /// the policies and Sigma rules for CloudTrail read it too.
    pub fn vocabulary(self) -> SourceFormat {
        match self {
            SourceFormat::Ocsf => SourceFormat::Cloudtrail,
            other => other,
        }
    }
}

/// A stream (a FIFO, a pipe) opened to tell its format: the raw bytes read from it then,
/// and the rest of it, for the reader to take once.
pub type Pending = std::sync::Arc<std::sync::Mutex<Option<(Vec<u8>, std::fs::File)>>>;

/// One file to read.
#[derive(Debug, Clone)]
pub struct SourceFile {
    pub path: PathBuf,
    pub format: SourceFormat,
    pub gzip: bool,
    /// Why the file is rejected whole without being read, if it is.
    pub refused: Option<String>,
    /// A stream already opened (see [`Pending`]).
    pub pending: Option<Pending>,
}

impl SourceFile {
    pub fn name(&self) -> String {
        self.path.display().to_string()
    }

    /// A file rejected whole, with why.
    pub fn refused(path: &std::path::Path, reason: &str) -> SourceFile {
        SourceFile {
            path: path.to_path_buf(),
            format: SourceFormat::Jsonl,
            gzip: false,
            refused: Some(reason.to_string()),
            pending: None,
        }
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
    /// Records that are not events to check (Kubernetes stages other than ResponseComplete,
    /// OCSF classes other than API Activity).
    pub skipped: u64,
    /// Why records were skipped, and how many each time, where the reader says (OCSF).
    #[serde(skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub skip_reasons: std::collections::BTreeMap<String, u64>,
    /// Why the file (or the rest of it) could not be read, if so: it is rejected whole,
    /// counted as one record read and rejected, in the quarantine as `(whole file)`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub file_rejected: Option<String>,
    /// CloudTrail accounts not in `[audit] accounts` (their environment is `unknown`):
    /// gathered into the report's summary.
    #[serde(skip)]
    pub unmapped_accounts: std::collections::BTreeSet<String>,
}

/// Settings every reader needs.
pub struct ReadContext<'a> {
    pub input_tz: Tz,
    pub strict: bool,
    pub mappings: &'a SourceMappings,
    pub environments: &'a EnvironmentMap,
    /// The longest record read (a longer one is rejected, not read whole).
    pub max_record_bytes: usize,
    /// Sigma rules, run by the CloudTrail and Kubernetes readers on each raw record.
    pub sigma: &'a crate::audit::sigma::SigmaRules,
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
pub(super) fn raw_text(bytes: &[u8]) -> String {
    let t = String::from_utf8_lossy(bytes);
    match t.char_indices().nth(2000) {
        Some((i, _)) => format!("{}...", &t[..i]),
        None => t.into_owned(),
    }
}

pub(super) fn rejection(
    file: &str,
    location: Location,
    err: RecordError,
    raw: String,
) -> Rejection {
    Rejection {
        file: file.to_string(),
        location,
        id: String::new(),
        field: err.field,
        reason: err.reason,
        raw,
    }
}

pub(super) fn json_reason(e: &serde_json::Error) -> String {
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
pub(super) struct Intake<'a> {
    pub(super) checker: &'a dyn Checker,
    pub(super) sink: &'a mut dyn EventSink,
    pub(super) summary: &'a mut SourceSummary,
    pub(super) rejected: &'a mut Vec<Rejection>,
    pub(super) strict: bool,
    pub(super) max_record_bytes: usize,
}

impl Intake<'_> {
    /// Quarantines a rejected record, or with `--strict` makes it the run's error.
    pub(super) fn keep(&mut self, r: Rejection) -> Result<()> {
        if self.strict {
            return Err(strict_error(&r));
        }
        self.rejected.push(r);
        Ok(())
    }

    /// A batch of events (already checked) and the records rejected beside them.
    pub(super) fn take(
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
    pub(super) fn deliver(&mut self, events: &[AuditEvent<'_>]) -> Result<()> {
        let hits = self.checker.check(events);
        self.take(events, hits, Vec::new())
    }
}

pub(super) fn strict_error(r: &Rejection) -> anyhow::Error {
    bad_input(format!("{r} (--strict stops at the first bad record)"))
}
