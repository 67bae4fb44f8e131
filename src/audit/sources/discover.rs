//! Finding the audit files under the inputs (a file, a list, or a directory tree, `.gz`
//! included) and telling each one's format from its name and first bytes.

use std::io::Read;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

use super::intake::{SourceFile, SourceFormat};
use crate::error::bad_input;

/// Finds the audit files under the inputs and tells their formats.
pub fn discover(inputs: &[PathBuf], forced: Option<SourceFormat>) -> Result<Vec<SourceFile>> {
    let mut files = Vec::new();
    for input in inputs {
        let meta = std::fs::metadata(input)
            .map_err(|e| bad_input(format!("cannot read {}: {e}", input.display())))?;
        if meta.is_dir() {
            let mut found = Vec::new();
            walk(input, &mut found)?;
            found.sort();
            for path in found {
                if let Some(f) = classify(&path, forced, false)? {
                    files.push(f);
                }
            }
        } else {
            match classify(input, forced, true)? {
                Some(f) => files.push(f),
                None => {
                    return Err(bad_input(format!(
                        "{}: cannot tell the format (use .jsonl, .csv, .parquet, a CloudTrail .json(.gz), a Kubernetes audit .log/.jsonl, or --input-format)",
                        input.display()
                    )))
                }
            }
        }
    }
    if files.is_empty() {
        return Err(bad_input("no audit files found in the inputs"));
    }
    Ok(files)
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) -> Result<()> {
    for entry in std::fs::read_dir(dir).with_context(|| format!("cannot list {}", dir.display()))? {
        let path = entry?.path();
        if path.is_dir() {
            // CloudTrail digest files prove integrity; they hold no events.
            if path.file_name().is_some_and(|n| n == "CloudTrail-Digest") {
                continue;
            }
            walk(&path, out)?;
        } else {
            out.push(path);
        }
    }
    Ok(())
}

/// Decides a file's format from its name and, for JSON, its first bytes.
fn classify(
    path: &Path,
    forced: Option<SourceFormat>,
    explicit: bool,
) -> Result<Option<SourceFile>> {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().to_ascii_lowercase())
        .unwrap_or_default();
    let gzip = name.ends_with(".gz");
    let base = name.strip_suffix(".gz").unwrap_or(&name);
    let ext = base.rsplit_once('.').map(|(_, e)| e).unwrap_or("");
    let mut file = SourceFile {
        path: path.to_path_buf(),
        format: SourceFormat::Jsonl,
        gzip,
    };
    if let Some(f) = forced {
        file.format = f;
        return Ok(Some(file));
    }
    file.format = match ext {
        "csv" => SourceFormat::Csv,
        "parquet" => SourceFormat::Parquet,
        "json" | "jsonl" | "ndjson" | "log" => {
            let mut head = Vec::with_capacity(4096);
            file.open()?
                .take(4096)
                .read_to_end(&mut head)
                .map_err(|e| bad_input(format!("cannot read {}: {e}", path.display())))?;
            let head = String::from_utf8_lossy(&head);
            if head.contains("\"Records\"") {
                SourceFormat::Cloudtrail
            } else if head.contains("audit.k8s.io/") {
                SourceFormat::K8s
            } else if ext == "log" || (ext == "json" && !explicit) {
                // A stray JSON file in a tree (a CloudTrail digest, a manifest) is not ours.
                return Ok(None);
            } else {
                SourceFormat::Jsonl
            }
        }
        _ => return Ok(None),
    };
    Ok(Some(file))
}
