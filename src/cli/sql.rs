//! `regwatch sql`: the policies as an SQL script for DuckDB, Spark or Trino/Athena.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Result;
use clap::{Args, ValueEnum};

use super::inputs::emit;
use regwatch::audit::sources::vocabulary::SourceMappings;
use regwatch::audit::sql::{self, Aws, Dialect, Scope, SqlInput, SqlRequest, SqlSource};
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
    /// The Athena table of CloudTrail logs that AWS documents (partition projection).
    CloudtrailAthena,
    /// Amazon Security Lake's OCSF 1.x CloudTrail table (API Activity, class 6003).
    Ocsf,
}

#[derive(Args)]
pub struct SqlArgs {
    /// The SQL engine the script is for.
    #[arg(long, value_enum)]
    dialect: DialectArg,
    /// The schema of the events the script reads.
    #[arg(long, value_enum, default_value = "native")]
    source: SqlSourceArg,
    /// DuckDB: the JSON-lines files (a path or glob, as DuckDB reads it) of the native
    /// source, or a table or Parquet files of the others; Spark and Trino: the table
    /// (default: regwatch_events, cloudtrail_logs_pp, or for ocsf the Security Lake table).
    #[arg(long, value_name = "PATH|TABLE")]
    input: Option<String>,
    /// Only the events of this month (YYYY-MM, in the configured time zone): a time
    /// predicate, and on the day partition of the CloudTrail and OCSF tables.
    #[arg(long, value_name = "YYYY-MM")]
    month: Option<String>,
    /// Only the events of this AWS account (repeat for more).
    #[arg(long = "account", value_name = "ID")]
    accounts: Vec<String>,
    /// Only the events of this region (repeat for more).
    #[arg(long = "region", value_name = "REGION")]
    regions: Vec<String>,
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
    let source = match args.source {
        SqlSourceArg::Native => SqlSource::Native,
        SqlSourceArg::CloudtrailAthena => SqlSource::CloudTrailAthena,
        SqlSourceArg::Ocsf => SqlSource::Ocsf,
    };
    let input = args.input.clone().unwrap_or_else(|| {
        match (source, dialect) {
            (SqlSource::Native, Dialect::Duckdb) => "*.jsonl",
            (SqlSource::Native, _) => "regwatch_events",
            (SqlSource::CloudTrailAthena, _) => "cloudtrail_logs_pp",
            (SqlSource::Ocsf, _) => {
                "amazon_security_lake_glue_db_us_east_1.amazon_security_lake_table_us_east_1_cloud_trail_mgmt_2_0"
            }
        }
        .to_string()
    });
    let display_tz = config.display_tz()?;
    let period = match &args.month {
        Some(m) => {
            let month = regwatch::documents::report::Month::parse(m, display_tz)?;
            Some((month.start, month.end))
        }
        None => None,
    };
    let vocabulary = SourceMappings::load(mappings.as_deref())?;
    let calendar = config.calendar(mappings.as_deref())?;
    let bank_holidays: Vec<chrono::NaiveDate> = calendar.bank_holidays().collect();
    let script = sql::compile(&SqlRequest {
        dialect,
        source,
        inputs: &[match source {
            SqlSource::Native => SqlInput::named(dialect, &input),
            // The Athena and Security Lake tables (or, for DuckDB, a table expression).
            SqlSource::CloudTrailAthena | SqlSource::Ocsf => SqlInput::Table {
                from: input.clone(),
                columns: None,
                located: false,
            },
        }],
        policies: &policies,
        input_tz: config.input_tz()?,
        display_tz,
        bank_holidays: &bank_holidays,
        aws: Some(Aws {
            vocabulary: &vocabulary,
            accounts: &config.audit.accounts,
        }),
        scope: Scope {
            period,
            accounts: args.accounts.clone(),
            regions: args.regions.clone(),
        },
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
