//! Spark: `spark-submit` runs a small Python driver (`spark_driver.py`, shipped in the
//! binary and written to the run's temporary folder) that makes the view the script reads
//! over the input files, runs the script and writes its results. Spark's own log is kept
//! from the user unless the job fails; the driver's timings (session start-up, work)
//! are passed on.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result};

use super::shared::{on_path, run_command, script_parts, EngineFile, Outputs};
use crate::audit::event::NATIVE_FIELDS;
use crate::audit::sql::{SqlInput, SqlScript};
use crate::error::bad_input;

const DRIVER: &str = include_str!("spark_driver.py");

/// The view the driver makes: every native column as text, and each record's file.
const VIEW: &str = "regwatch_input";

/// The script's input: the driver's view.
pub(super) fn input() -> SqlInput {
    SqlInput::Table {
        from: VIEW.to_string(),
        columns: None,
        located: true,
    }
}

/// `$SPARK_HOME/bin/spark-submit`, else `spark-submit` on PATH.
fn spark_submit() -> Result<PathBuf> {
    if let Some(home) = std::env::var_os("SPARK_HOME").filter(|h| !h.is_empty()) {
        let submit = Path::new(&home).join("bin").join("spark-submit");
        return if submit.is_file() {
            Ok(submit)
        } else {
            Err(bad_input(format!(
                "--engine spark: SPARK_HOME is {} but it has no bin/spark-submit",
                submit.display()
            )))
        };
    }
    on_path("spark-submit").ok_or_else(|| {
        bad_input(
            "--engine spark: Spark is not installed: set SPARK_HOME, or put spark-submit on PATH (python3 -m pip install pyspark ships it; Spark needs Java 17 or later)",
        )
    })
}

/// Runs the script on Spark with `master`; returns the driver's timing lines.
pub(super) fn run(
    script: &SqlScript,
    files: &[EngineFile],
    master: &str,
    dir: &Path,
    out: &Outputs,
) -> Result<Vec<String>> {
    let submit = spark_submit()?;
    let java_home = std::env::var_os("JAVA_HOME").filter(|h| !h.is_empty());
    if java_home.is_none() && on_path("java").is_none() {
        return Err(bad_input(
            "--engine spark: Java is not installed (Spark runs on it): install Java 17 or later (Debian: apt-get install openjdk-17-jre-headless), or set JAVA_HOME",
        ));
    }
    let driver = dir.join("spark_driver.py");
    std::fs::write(&driver, DRIVER).context("cannot write the Spark driver")?;
    let mut plan = script_parts(script);
    plan["inputs"] = files
        .iter()
        .map(|f| {
            serde_json::json!({
                "path": f.path,
                "name": f.name,
                "format": f.format.as_str(),
            })
        })
        .collect();
    plan["columns"] = serde_json::json!(NATIVE_FIELDS);
    plan["view"] = serde_json::json!(VIEW);
    plan["out"] = serde_json::json!(dir);
    debug_assert_eq!(out.findings, dir.join("findings.parquet"));
    let plan_file = dir.join("plan.json");
    std::fs::write(&plan_file, serde_json::to_vec(&plan)?)
        .context("cannot write the Spark plan")?;
    let ran = run_command(
        "Spark",
        Command::new(submit)
            .args(["--master", master])
            // No progress bars on the terminal; the user sees regwatch's lines.
            .args(["--conf", "spark.ui.showConsoleProgress=false"])
            .arg(&driver)
            .arg(&plan_file),
    )
    .map_err(|e| {
        // 52 is Spark's exit status for an OutOfMemoryError (its log then ends in
        // rejected tasks, which do not say so).
        if format!("{e}").contains("(exit status: 52)") {
            e.context(
                "Spark ran out of memory (exit status 52): give its driver more, e.g. \
                 SPARK_DRIVER_MEMORY=8g, or spark.driver.memory in spark-defaults.conf \
                 (SPARK_CONF_DIR); with a cluster master, the executors' memory",
            )
        } else {
            e
        }
    })?;
    // spark-submit passes the driver's standard error on to its own standard output.
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&ran.stdout),
        String::from_utf8_lossy(&ran.stderr)
    );
    Ok(said
        .lines()
        .filter_map(|l| l.strip_prefix("regwatch-spark: "))
        .map(|l| format!("spark: {l}"))
        .collect())
}
