//! DuckDB: reads the files itself (JSON lines a line at a time, so evidence keeps its file
//! and line; CSV and Parquet with `read_csv` and `read_parquet`) and writes the script's
//! results with `COPY ... TO`. Run by the `duckdb` CLI when it is on PATH, else by
//! Python's `duckdb` module.

use std::path::Path;
use std::process::Command;

use anyhow::{Context, Result};

use super::shared::{on_path, run_command, EngineFile, Outputs};
use crate::audit::event::NATIVE_FIELDS;
use crate::audit::sources::SourceFormat;
use crate::audit::sql::{Dialect, SqlInput, SqlScript};
use crate::error::bad_input;

/// Runs the statements in order, in memory.
const PYTHON_DRIVER: &str = "import json, sys
import duckdb
con = duckdb.connect()
for statement in json.load(open(sys.argv[1])):
    con.execute(statement)
";

/// What runs DuckDB here.
enum Runner {
    Cli(std::path::PathBuf),
    Python(std::path::PathBuf),
}

fn runner() -> Result<Runner> {
    if let Some(cli) = on_path("duckdb") {
        return Ok(Runner::Cli(cli));
    }
    if let Some(python) = on_path("python3") {
        let has_module = Command::new(&python)
            .args(["-c", "import duckdb"])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if has_module {
            return Ok(Runner::Python(python));
        }
    }
    Err(bad_input(
        "--engine duckdb: DuckDB is not installed: put the duckdb CLI on PATH (duckdb.org), or install its Python package (python3 -m pip install duckdb)",
    ))
}

/// The files as the script's inputs, in the order a run reads them: each file's records
/// numbered after the previous file's, so read order is the run's.
pub(super) fn inputs(files: &[EngineFile]) -> Result<Vec<SqlInput>> {
    let q = |s: &str| Dialect::Duckdb.quote(s);
    files
        .iter()
        .enumerate()
        .map(|(i, f)| {
            let first_record = (i as u64) << 32;
            Ok(match f.format {
                SourceFormat::Csv => SqlInput::Table {
                    from: format!(
                        "(SELECT *, filename AS source_file, ordinality + 1 AS source_line,
    {first_record} + ordinality AS record_no, TRUE AS record_ok
  FROM read_csv({}, header = true, all_varchar = true, delim = ',', quote = '\"',
                escape = '\"', filename = true) WITH ORDINALITY) AS csv_rows",
                        q(&f.name)
                    ),
                    columns: Some(csv_columns(&f.path)?),
                    located: true,
                },
                SourceFormat::Parquet => SqlInput::Table {
                    from: format!(
                        "(SELECT *, filename AS source_file, CAST(NULL AS BIGINT) AS source_line,
    {first_record} + ordinality AS record_no, TRUE AS record_ok
  FROM read_parquet({}, filename = true) WITH ORDINALITY) AS parquet_rows",
                        q(&f.name)
                    ),
                    columns: Some(parquet_columns(&f.path)?),
                    located: true,
                },
                _ => SqlInput::JsonLines {
                    files: vec![f.name.clone()],
                    first_record,
                },
            })
        })
        .collect()
}

/// The native columns in a CSV file's header (the others are read as empty).
fn csv_columns(path: &Path) -> Result<Vec<String>> {
    let file = std::fs::File::open(path)
        .map_err(|e| bad_input(format!("cannot read {}: {e}", path.display())))?;
    let gzip = path.extension().is_some_and(|e| e == "gz");
    let reader: Box<dyn std::io::Read> = if gzip {
        Box::new(flate2::read::MultiGzDecoder::new(file))
    } else {
        Box::new(file)
    };
    let mut csv = csv::Reader::from_reader(reader);
    let headers = csv
        .headers()
        .map_err(|e| bad_input(format!("{}: no header row: {e}", path.display())))?;
    Ok(native_only(
        headers
            .iter()
            .map(|h| h.trim().trim_start_matches('\u{feff}')),
    ))
}

/// The native columns of a Parquet file's schema.
fn parquet_columns(path: &Path) -> Result<Vec<String>> {
    use polars::prelude::SerReader;
    let file = std::fs::File::open(path)
        .map_err(|e| bad_input(format!("cannot read {}: {e}", path.display())))?;
    let schema = polars::prelude::ParquetReader::new(file)
        .schema()
        .map_err(|e| bad_input(format!("{}: not a Parquet file: {e}", path.display())))?;
    Ok(native_only(schema.iter_names().map(|n| n.as_str())))
}

fn native_only<'a>(names: impl Iterator<Item = &'a str>) -> Vec<String> {
    let names: Vec<&str> = names.collect();
    (NATIVE_FIELDS.iter())
        .filter(|f| names.contains(f))
        .map(|f| f.to_string())
        .collect()
}

/// Runs the script: its settings, then the findings, rejects and counts written with
/// `COPY` into `out`. DuckDB's timing is the run's (no start-up to speak of).
pub(super) fn run(script: &SqlScript, dir: &Path, out: &Outputs) -> Result<Vec<String>> {
    let runner = runner()?;
    let q = |p: &Path| Dialect::Duckdb.quote(&p.display().to_string());
    let mut statements = script.settings.clone();
    statements.push(format!(
        "COPY ({}) TO {} (FORMAT parquet)",
        script.query,
        q(&out.findings)
    ));
    for (query, file) in [
        (&script.rejects, &out.rejects),
        (&script.counts, &out.counts),
    ] {
        statements.push(format!("COPY ({query}) TO {} (FORMAT json)", q(file)));
    }
    let mut cmd = match runner {
        Runner::Cli(cli) => {
            let file = dir.join("run.sql");
            let text: String = statements.iter().map(|s| format!("{s};\n")).collect();
            std::fs::write(&file, text).context("cannot write the DuckDB script")?;
            let mut cmd = Command::new(cli);
            cmd.args(["-batch", "-bail", "-init", "/dev/null", ":memory:"])
                .arg(format!(".read {}", file.display()));
            cmd
        }
        Runner::Python(python) => {
            let file = dir.join("statements.json");
            std::fs::write(&file, serde_json::to_vec(&statements)?)
                .context("cannot write the DuckDB statements")?;
            let mut cmd = Command::new(python);
            cmd.args(["-c", PYTHON_DRIVER]).arg(&file);
            cmd
        }
    };
    run_command("DuckDB", &mut cmd)?;
    Ok(Vec::new())
}
