//! The `regwatch` command: parses arguments, runs one command from `cli/`, and maps the
//! outcome to an exit code.
//!
//! Exit codes (GUIDE.md, "Exit codes"): 0 all clear; 1 a `--fail-on` gate tripped
//! (`deadlines`: by default a clock overdue or an impact tolerance breached; `audit`: an
//! unwaived finding at least that severe); 2 bad input (files, mappings, config,
//! arguments); 3 an alert could not be delivered (it stays pending); 4 another alerts run
//! holds the lock; 5 any other failure; 6 the work is done but an incident row was
//! rejected or kept with a problem (`cli::inputs::exit_code`).

mod cli;

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Result;
use clap::{Parser, Subcommand};

use regwatch::config::Config;
use regwatch::error::{BadInput, Busy, DeliveryFailed};

/// mimalloc: a million incidents make tens of millions of small allocations, and glibc's
/// allocator spends much of a large run in them.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(
    name = "regwatch",
    version,
    about = "Regulatory clocks, alerts and reports for incidents caused by people and AI agents"
)]
struct Cli {
    /// Config file (default: $REGWATCH_CONFIG, else ./regwatch.toml if present).
    #[arg(long, global = true, value_name = "FILE")]
    config: Option<PathBuf>,

    /// Colour the tables' status and severity: auto (on a terminal, unless NO_COLOR is
    /// set), always, never.
    #[arg(
        long,
        global = true,
        value_enum,
        default_value = "auto",
        value_name = "WHEN"
    )]
    color: cli::values::ColorArg,

    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Every regulatory clock for every incident: deadline, status, next action.
    Deadlines(cli::deadlines::DeadlinesArgs),
    /// The cron job: e-mail what is due or overdue, once per threshold.
    Alerts(cli::alerts::AlertsArgs),
    /// The breach register (UK GDPR Art. 33(5)): every personal data breach, notified or not.
    Register(cli::register::RegisterArgs),
    /// Drafts for a regulator, for a person to check and send.
    #[command(subcommand)]
    Draft(cli::draft::DraftKind),
    /// The monthly compliance report (HTML, Markdown, JSON) with a manifest of hashes.
    Report(cli::report::ReportArgs),
    /// Check what people and AI agents did (audit logs) against the guardrail policies.
    Audit(cli::audit::AuditArgs),
    /// The policies as one SQL query for DuckDB, Spark or Trino/Athena (findings schema).
    Sql(cli::sql::SqlArgs),
    /// Set up a folder: a commented regwatch.toml, an empty incidents.csv, services.toml.
    Init(cli::init::InitArgs),
    /// Check config, mappings, services and templates (and --smtp the mail server).
    Check(cli::check::CheckArgs),
}

fn main() -> ExitCode {
    regwatch::util::memory::keep_freed_memory();
    regwatch::util::memory::use_small_pages();
    let cli = Cli::parse();
    let result = run(cli);
    // Which rule and template files came from a folder and which are built in, once.
    for line in regwatch::util::defaults::note() {
        eprintln!("regwatch: {line}");
    }
    match result {
        Ok(code) => code,
        // A reader that stops early (`| head`) is not an error.
        Err(e) if is_broken_pipe(&e) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("regwatch: error: {e:#}");
            ExitCode::from(exit_code_for(&e))
        }
    }
}

fn run(cli: Cli) -> Result<ExitCode> {
    let config = Config::discover(cli.config.as_deref())?;
    let color = cli.color.into();
    match cli.command {
        Command::Deadlines(args) => cli::deadlines::exec(config, args, color),
        Command::Alerts(args) => cli::alerts::exec(config, args),
        Command::Register(args) => cli::register::exec(config, args),
        Command::Draft(kind) => cli::draft::exec(config, kind),
        Command::Report(args) => cli::report::exec(config, args),
        Command::Audit(args) => cli::audit::exec(config, args, color),
        Command::Sql(args) => cli::sql::exec(config, args),
        Command::Init(args) => cli::init::exec(config, args),
        Command::Check(args) => cli::check::exec(config, args),
    }
}

fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
            || c.downcast_ref::<csv::Error>().is_some_and(|ce| {
                matches!(ce.kind(), csv::ErrorKind::Io(io) if io.kind() == std::io::ErrorKind::BrokenPipe)
            })
    })
}

/// The documented exit code for an error, by its kind.
fn exit_code_for(e: &anyhow::Error) -> u8 {
    if e.downcast_ref::<BadInput>().is_some() {
        2
    } else if e.downcast_ref::<DeliveryFailed>().is_some() {
        3
    } else if e.downcast_ref::<Busy>().is_some() {
        4
    } else {
        5
    }
}
