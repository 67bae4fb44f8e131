//! `regwatch register`: the breach register (UK GDPR Art. 33(5)).

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Result;
use clap::{Args, ValueEnum};

use super::inputs::{emit, InputArgs};
use regwatch::config::Config;
use regwatch::documents::register;
use regwatch::documents::report::Month;

#[derive(Clone, Copy, ValueEnum)]
pub enum RegisterFormat {
    Csv,
    Json,
    /// A spreadsheet for auditors (with -o FILE): typed dates and counts, frozen header.
    Xlsx,
}

#[derive(Args)]
pub struct RegisterArgs {
    #[command(flatten)]
    input: InputArgs,
    #[arg(long, value_enum, default_value = "csv")]
    format: RegisterFormat,
    /// Only breaches the organisation became aware of in this month (YYYY-MM, local time).
    #[arg(long, value_name = "YYYY-MM")]
    month: Option<String>,
    /// Write here (atomically) instead of standard output.
    #[arg(long, short, value_name = "FILE")]
    output: Option<PathBuf>,
}

pub fn exec(config: Config, args: RegisterArgs) -> Result<ExitCode> {
    if matches!(args.format, RegisterFormat::Xlsx) {
        super::inputs::binary_output("xlsx", args.output.as_deref())?;
    }
    let now = args.input.now(&config)?;
    let loaded = args.input.load(config)?;
    let month = match &args.month {
        Some(m) => Some(Month::parse(m, loaded.tz)?),
        None => None,
    };
    let evaluation = loaded.evaluate(now, &|_| true);
    let deadlines = evaluation.sorted();
    let incidents: Vec<_> = loaded
        .incidents
        .iter()
        .filter(|i| month.is_none_or(|m| register::in_period(i, m.start, m.end)))
        .collect();
    let entries = register::build(&incidents, &deadlines, loaded.tz);
    let out = args.output.as_deref();
    emit(out, |w| match args.format {
        RegisterFormat::Csv => register::write_csv(w, &entries),
        RegisterFormat::Xlsx => register::write_xlsx(w, &entries),
        RegisterFormat::Json => {
            serde_json::to_writer_pretty(&mut *w, &entries)?;
            writeln!(w)?;
            Ok(())
        }
    })?;
    eprintln!("{} personal data breach(es) in the register", entries.len());
    if let Some(p) = out {
        eprintln!("wrote {}", p.display());
    }
    Ok(super::inputs::exit_code(0, &loaded))
}
