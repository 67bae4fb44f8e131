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
//! [`read_source`], which lists the formats' readers; `intake` what every reader shares
//! (settings, the intake its records go to); `vocabulary` the AWS and Kubernetes terms.

mod cloudtrail;
mod csv;
mod discover;
pub mod intake;
mod k8s;
mod native;
mod parquet;
mod pipeline;
pub mod vocabulary;

use anyhow::Result;

use crate::incidents::ingest::Rejection;
use intake::Intake;

pub use discover::discover;
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_format_has_one_name_for_json_and_tables() {
        use SourceFormat::*;
        for f in [Jsonl, Csv, Parquet, Cloudtrail, K8s] {
            assert_eq!(serde_json::to_value(f).unwrap(), f.as_str());
        }
    }
}
