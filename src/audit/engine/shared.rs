//! What the engines share: the files they read, where they write their results, and
//! finding and running their programs.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use anyhow::{Context, Result};

use crate::audit::sources::SourceFormat;
use crate::audit::sql::SqlScript;

/// A file the engine reads: its path, the name a run gives it, and its format.
#[derive(Debug, Clone)]
pub struct EngineFile {
    pub path: PathBuf,
    pub name: String,
    pub format: SourceFormat,
}

/// Where an engine writes its results, in the run's temporary folder.
pub struct Outputs {
    /// The findings, as Parquet (`findings.parquet`) or, when the engine wrote none,
    /// JSON lines (`findings.jsonl`).
    pub findings: PathBuf,
    /// JSON lines of the script's `rejects` and `counts` queries.
    pub rejects: PathBuf,
    pub counts: PathBuf,
}

impl Outputs {
    pub fn in_dir(dir: &Path) -> Outputs {
        Outputs {
            findings: dir.join("findings.parquet"),
            rejects: dir.join("rejects.json"),
            counts: dir.join("counts.json"),
        }
    }
}

/// A program on PATH, if there is one.
pub fn on_path(program: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(program))
        .find(|p| p.is_file())
}

/// Runs an engine's command; when it fails, the error says so with the end of what it
/// wrote on standard error (its own log is not shown otherwise).
pub fn run_command(engine: &str, cmd: &mut Command) -> Result<Output> {
    let out = cmd
        .stdin(std::process::Stdio::null())
        .output()
        .with_context(|| format!("cannot start {engine}: {:?}", cmd.get_program()))?;
    if !out.status.success() {
        let said = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        // Spark's INFO lines say nothing about why it failed.
        let lines: Vec<&str> = said.lines().filter(|l| !l.contains(" INFO ")).collect();
        let tail = lines[lines.len().saturating_sub(40)..].join("\n");
        anyhow::bail!(
            "{engine} failed ({}); the end of what it said:\n{tail}",
            out.status
        );
    }
    Ok(out)
}

/// The script's statements for an engine's driver (JSON).
pub fn script_parts(script: &SqlScript) -> serde_json::Value {
    serde_json::json!({
        "settings": script.settings,
        "query": script.query,
        "rejects": script.rejects,
        "counts": script.counts,
    })
}
