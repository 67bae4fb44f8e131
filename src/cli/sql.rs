//! `regwatch sql`: the policies as an SQL script for DuckDB, Spark or Trino/Athena.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Result;
use clap::{Args, ValueEnum};

use super::inputs::emit;
use regwatch::audit::sql::{self, Dialect, SqlInput, SqlRequest, SqlSource};
use regwatch::config::Config;
use regwatch::controls::{load_policies, Catalogue};

/// Exit status when some enabled policy could not be expressed: the script is partial.
const PARTIAL: u8 = 6;

#[derive(Clone, Copy, ValueEnum)]
pub enum DialectArg {
    /// DuckDB: reads the JSON-lines files named by --input itself.
    Duckdb,
    /// Spark SQL (EMR, Glue, Databricks): reads the table named by --input.
    Spark,
    /// Trino and Amazon Athena: read the table named by --input.
    Trino,
}

#[derive(Clone, Copy, ValueEnum)]
pub enum SqlSourceArg {
    /// regwatch's native event columns (GUIDE.md "Audit").
    Native,
}

#[derive(Args)]
pub struct SqlArgs {
    /// The SQL engine the script is for.
    #[arg(long, value_enum)]
    dialect: DialectArg,
    /// The schema of the events the script reads.
    #[arg(long, value_enum, default_value = "native")]
    source: SqlSourceArg,
    /// DuckDB: the JSON-lines files (a path or glob, as DuckDB reads it); Spark and Trino:
    /// the table (default: regwatch_events).
    #[arg(long, value_name = "PATH|TABLE")]
    input: Option<String>,
    /// Policies file (default: policies.toml of the mappings folder, else built in).
    #[arg(long, value_name = "FILE")]
    policies: Option<PathBuf>,
    /// Folder with policies.toml and nist-ai-rmf-1.0-core.csv.
    #[arg(long, value_name = "DIR")]
    mappings: Option<PathBuf>,
    /// Write the script to FILE (atomically) instead of standard output.
    #[arg(short, long, value_name = "FILE")]
    output: Option<PathBuf>,
}

pub fn exec(config: Config, args: SqlArgs) -> Result<ExitCode> {
    let mappings = args.mappings.clone().or_else(|| config.mappings_dir());
    let catalogue = Catalogue::load(mappings.as_deref())?;
    let (policies, _) = load_policies(args.policies.as_deref(), mappings.as_deref(), &catalogue)?;
    let dialect = match args.dialect {
        DialectArg::Duckdb => Dialect::Duckdb,
        DialectArg::Spark => Dialect::Spark,
        DialectArg::Trino => Dialect::Trino,
    };
    let input = args.input.clone().unwrap_or_else(|| match dialect {
        Dialect::Duckdb => "*.jsonl".to_string(),
        Dialect::Spark | Dialect::Trino => "regwatch_events".to_string(),
    });
    let calendar = config.calendar(mappings.as_deref())?;
    let bank_holidays: Vec<chrono::NaiveDate> = calendar.bank_holidays().collect();
    let script = sql::compile(&SqlRequest {
        dialect,
        source: match args.source {
            SqlSourceArg::Native => SqlSource::Native,
        },
        inputs: &[SqlInput::named(dialect, &input)],
        policies: &policies,
        input_tz: config.input_tz()?,
        display_tz: config.display_tz()?,
        bank_holidays: &bank_holidays,
    })
    .map_err(|e| regwatch::error::bad_input(format!("{e:#}")))?;
    emit(args.output.as_deref(), |w| {
        Ok(w.write_all(script.text.as_bytes())?)
    })?;
    for (id, why) in &script.skipped {
        eprintln!("regwatch sql: not for this source: {id} ({why})");
    }
    for (id, why) in &script.refused {
        eprintln!("regwatch sql: REFUSED {id}: {why}");
    }
    eprintln!(
        "regwatch sql: {} policies expressed, {} refused, {} not for this source",
        script.expressed.len(),
        script.refused.len(),
        script.skipped.len()
    );
    Ok(if script.refused.is_empty() {
        ExitCode::SUCCESS
    } else {
        eprintln!("regwatch sql: the script is partial (exit {PARTIAL}): the refused policies' findings are missing");
        ExitCode::from(PARTIAL)
    })
}
