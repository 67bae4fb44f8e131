//! `regwatch deadlines`: every clock for every incident, as a table, JSON, CSV, XLSX or
//! iCalendar.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Result;
use clap::{Args, ValueEnum};

use super::inputs::{emit, terminal, InputArgs, GATE_TRIPPED};
use super::values::StatusArg;
use regwatch::config::Config;
use regwatch::regimes::deadline::Status;
use regwatch::render::deadlines as render;
use regwatch::render::terminal::ColorChoice;

#[derive(Clone, Copy, ValueEnum)]
pub enum OutputFormat {
    Table,
    Json,
    Csv,
    Ics,
    /// A spreadsheet for auditors (with -o FILE): typed dates, frozen header, filters.
    Xlsx,
}

/// `--fail-on`: which clocks make the run exit 1 (as `audit --fail-on` does for findings).
#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum FailOn {
    /// A clock past its deadline, or an impact tolerance breached now (the default).
    Overdue,
    /// That, or a clock whose first warning threshold has passed (status due-soon).
    DueSoon,
    /// Never: exit 0 whatever the clocks say (input problems still give 6).
    Never,
}

#[derive(Args)]
pub struct DeadlinesArgs {
    #[command(flatten)]
    input: InputArgs,
    #[arg(long, value_enum, default_value = "table")]
    format: OutputFormat,
    /// Only these statuses (comma-separated), e.g. overdue,due-soon.
    #[arg(long, value_enum, value_delimiter = ',')]
    only: Vec<StatusArg>,
    /// Include regimes that do not apply, with the reason.
    #[arg(long)]
    all: bool,
    /// Write here (atomically) instead of standard output.
    #[arg(long, short, value_name = "FILE")]
    output: Option<PathBuf>,
    /// Exit 1 when any clock (listed or not) is this urgent: overdue, due-soon, never.
    #[arg(long, value_enum, value_name = "STATUS", default_value = "overdue")]
    fail_on: FailOn,
}

pub fn exec(config: Config, args: DeadlinesArgs, color: ColorChoice) -> Result<ExitCode> {
    if matches!(args.format, OutputFormat::Xlsx) {
        super::inputs::binary_output("xlsx", args.output.as_deref())?;
    }
    let now = args.input.now(&config)?;
    let only: Vec<Status> = args.only.iter().map(|&s| s.into()).collect();
    let all = args.all || only.contains(&Status::NotApplicable);
    let t0 = std::time::Instant::now();
    let loaded = args.input.load(config)?;
    let tz = loaded.tz;
    let t1 = t0.elapsed();
    let keep = |s: Status| {
        if !only.is_empty() {
            only.contains(&s)
        } else {
            args.all || s != Status::NotApplicable
        }
    };
    let evaluation = loaded.evaluate(now, &keep);
    let summary = evaluation.summary.clone();
    let list = evaluation.sorted();
    let t2 = t0.elapsed();
    let hidden = if all { 0 } else { summary.not_applicable };
    let out = args.output.as_deref();
    let term = terminal(out, color);
    emit(out, |w| match args.format {
        OutputFormat::Table => render::write_table(w, &list, &summary, hidden, now, tz, term),
        OutputFormat::Json => render::write_json(
            w,
            &list,
            &summary,
            &loaded.reports,
            &loaded.regimes,
            now,
            tz,
        ),
        OutputFormat::Csv => render::write_csv(w, &list, now, tz),
        OutputFormat::Ics => render::write_ics(w, &list, now, tz),
        OutputFormat::Xlsx => render::write_xlsx(w, &list, now, tz),
    })?;
    if let Some(p) = out {
        eprintln!("wrote {}", p.display());
    }
    // For profiling large runs: where the time went, on stderr.
    if std::env::var_os("REGWATCH_TIMING").is_some() {
        eprintln!(
            "timing: load {t1:?}, evaluate {:?}, write {:?}",
            t2 - t1,
            t0.elapsed() - t2
        );
    }
    let tripped = match args.fail_on {
        FailOn::Overdue => summary.needs_attention(),
        FailOn::DueSoon => summary.needs_attention() || summary.due_soon > 0,
        FailOn::Never => false,
    };
    let code = super::inputs::exit_code(if tripped { GATE_TRIPPED } else { 0 }, &loaded);
    // The process ends here: handing a million incidents back to the allocator one by one
    // would only make the run slower.
    std::mem::forget(list);
    std::mem::forget(evaluation);
    std::mem::forget(loaded);
    Ok(code)
}
