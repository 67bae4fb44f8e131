//! Audit sources: finding the files (a file, a list, or a directory tree, `.gz` included),
//! telling their format, and reading them into [`AuditEvent`]s, with every record that
//! cannot be read quarantined with its file, line and reason.
//!
//! JSON lines (native and Kubernetes) are read in large blocks by one thread and parsed in
//! parallel, only the fields the policies read, straight from the buffer; memory stays
//! bounded by the block batch, whatever the size of the file.
//!
//! One file per format, its tests beside it: `native` (JSON lines), `csv`, `parquet`,
//! `cloudtrail`, `k8s`, `ocsf` (OCSF API Activity, as Security Lake stores it). `discover` finds the files and tells their formats; `pipeline`
//! opens them and runs the block pipeline the JSON-lines formats share. This file holds
//! [`read_source`], which lists the formats' readers; `intake` what every reader shares
//! (settings, the intake its records go to); `vocabulary` the AWS and Kubernetes terms.

mod cloudtrail;
mod cloudtrail_facts;
mod csv;
mod discover;
pub mod intake;
mod k8s;
mod native;
mod ocsf;
mod parquet;
mod pipeline;
pub mod vocabulary;

use anyhow::Result;

use crate::incidents::ingest::{Location, Rejection};
use intake::Intake;

pub use discover::{discover, regular_files, Discovered, SkippedFile};
pub use intake::{Checker, EventSink, ReadContext, SourceFile, SourceFormat, SourceSummary};
pub use vocabulary::{CloudTrailMapping, KubernetesMapping, SourceMappings};

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
        max_record_bytes: cx.max_record_bytes,
    };
    // The formats and their readers: the one place that lists them. (Each JSON-lines
    // parser gets its own copy of the reading loop, with the parser inlined.)
    let outcome = match (&file.refused, file.format) {
        (Some(reason), _) => Err(crate::error::bad_input(reason.clone())),
        (None, SourceFormat::Jsonl) => native::read(file, index, cx, &mut intake),
        (None, SourceFormat::Csv) => csv::read(file, index, cx, &mut intake),
        (None, SourceFormat::Parquet) => parquet::read(file, index, cx, &mut intake),
        (None, SourceFormat::Cloudtrail) => cloudtrail::read(file, index, cx, &mut intake),
        (None, SourceFormat::K8s) => k8s::read(file, index, cx, &mut intake),
        (None, SourceFormat::Ocsf) => ocsf::read(file, index, cx, &mut intake),
    };
    if let Err(e) = outcome {
        // One file that cannot be read does not stop the others (--strict does): it, or
        // the rest of it, is rejected whole, and the run's exit status says so.
        if cx.strict {
            return Err(e);
        }
        let reason = format!("{e:#}");
        // The file's name is in the rejection already.
        let reason = reason
            .strip_prefix(&format!("cannot read {name}: "))
            .map_or(reason.clone(), |r| format!("cannot read: {r}"));
        summary.read += 1;
        summary.file_rejected = Some(reason.clone());
        rejected.push(Rejection {
            file: name.clone(),
            location: Location::File,
            id: String::new(),
            field: "file".into(),
            reason,
            raw: String::new(),
        });
    }
    if file.refused.is_some() {
        summary.format = None;
    }
    summary.rejected = rejected.len() as u64;
    debug_assert_eq!(
        summary.read,
        summary.accepted + summary.rejected + summary.skipped
    );
    Ok((summary, rejected))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_format_has_one_name_for_json_and_tables() {
        use SourceFormat::*;
        for f in [Jsonl, Csv, Parquet, Cloudtrail, K8s, Ocsf] {
            assert_eq!(serde_json::to_value(f).unwrap(), f.as_str());
        }
    }
}
