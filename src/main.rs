//! The `regwatch` command: parses arguments, calls the library, prints, and maps outcomes
//! to exit codes.
//!
//! Exit codes: 0 all clear; 1 something is overdue or an impact tolerance is breached;
//! 2 bad input (files, mappings, config, arguments); 3 an alert could not be delivered (it
//! stays pending); 4 another alerts run holds the lock; 5 any other failure.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result};
use chrono::{DateTime, Utc};
use clap::{Args, Parser, Subcommand, ValueEnum};

use regwatch::alerts::{self, Delivery};
use regwatch::clock::{local_text, parse_timestamp};
use regwatch::config::Config;
use regwatch::deadlines::Status;
use regwatch::error::{bad_input, BadInput, Busy, DeliveryFailed};
use regwatch::fsutil::write_atomic;
use regwatch::ingest::{default_quarantine_path, write_quarantine, InputFormat};
use regwatch::load::{LoadOptions, Loaded};
use regwatch::output;

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
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Every regulatory clock for every incident: deadline, status, next action.
    Deadlines(DeadlinesArgs),
    /// The cron job: e-mail what is due or overdue, once per threshold.
    Alerts(AlertsArgs),
}

#[derive(Args)]
struct InputArgs {
    /// Incident files (CSV, JSON array or JSON lines).
    #[arg(required = true, value_name = "INCIDENTS")]
    inputs: Vec<PathBuf>,
    /// Input format, when the extension does not say.
    #[arg(long = "input-format", value_enum)]
    input_format: Option<InputFormat>,
    /// Stop at the first bad row instead of quarantining it.
    #[arg(long)]
    strict: bool,
    /// Where rejected rows go (default: <input>.quarantine.csv in the current folder).
    #[arg(long, value_name = "FILE")]
    quarantine: Option<PathBuf>,
    /// Folder with regimes.toml and uk-bank-holidays.json (default from config: mappings/).
    #[arg(long, value_name = "DIR")]
    mappings: Option<PathBuf>,
    /// Important business services with impact tolerances (default from config).
    #[arg(long, value_name = "FILE")]
    services: Option<PathBuf>,
    /// Evaluate as at this instant (RFC 3339; default: now). Makes runs reproducible.
    #[arg(long, value_name = "TIME")]
    now: Option<String>,
}

#[derive(Clone, Copy, ValueEnum)]
enum OutputFormat {
    Table,
    Json,
    Csv,
    Ics,
}

#[derive(Args)]
struct DeadlinesArgs {
    #[command(flatten)]
    input: InputArgs,
    #[arg(long, value_enum, default_value = "table")]
    format: OutputFormat,
    /// Only these statuses (comma-separated), e.g. overdue,due-soon.
    #[arg(long, value_enum, value_delimiter = ',')]
    only: Vec<Status>,
    /// Include regimes that do not apply, with the reason.
    #[arg(long)]
    all: bool,
    /// Write here (atomically) instead of standard output.
    #[arg(long, short, value_name = "FILE")]
    output: Option<PathBuf>,
}

#[derive(Args)]
struct AlertsArgs {
    #[command(flatten)]
    input: InputArgs,
    /// Show what would be sent; send nothing, change nothing.
    #[arg(long)]
    dry_run: bool,
    /// smtp (as configured), stdout, or dir:PATH (one .eml file per message).
    #[arg(long, default_value = "smtp", value_name = "HOW")]
    transport: String,
    /// State file recording alerts sent (default from config).
    #[arg(long, value_name = "FILE")]
    state: Option<PathBuf>,
    /// Folder with alert-subject.hbs and alert-body.hbs (default from config: templates/).
    #[arg(long, value_name = "DIR")]
    templates: Option<PathBuf>,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("regwatch: error: {e:#}");
            ExitCode::from(exit_code_for(&e))
        }
    }
}

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

fn run(cli: Cli) -> Result<ExitCode> {
    let config = Config::discover(cli.config.as_deref())?;
    match cli.command {
        Command::Deadlines(args) => deadlines(config, args),
        Command::Alerts(args) => alerts_cmd(config, args),
    }
}

fn parse_now(now: Option<&str>, config: &Config) -> Result<DateTime<Utc>> {
    match now {
        None => Ok(Utc::now()),
        Some(t) => {
            parse_timestamp(t, config.input_tz()?).map_err(|e| bad_input(format!("--now: {e}")))
        }
    }
}

/// Reads the inputs, reports the counts on stderr and writes the quarantine file.
fn load(config: Config, input: &InputArgs) -> Result<Loaded> {
    let opts = LoadOptions {
        format: input.input_format,
        strict: input.strict,
        mappings: input.mappings.clone(),
        services: input.services.clone(),
    };
    let loaded = Loaded::load(config, &input.inputs, &opts)?;
    for line in loaded.input_lines() {
        eprintln!("{line}");
    }
    let rejected = loaded.rejected();
    if !rejected.is_empty() {
        let path = input
            .quarantine
            .clone()
            .unwrap_or_else(|| default_quarantine_path(&input.inputs[0]));
        write_quarantine(&path, &rejected)?;
        for r in rejected.iter().take(5) {
            eprintln!("  rejected: {r}");
        }
        if rejected.len() > 5 {
            eprintln!("  ... and {} more", rejected.len() - 5);
        }
        eprintln!(
            "{} rejected row(s) written to {}",
            rejected.len(),
            path.display()
        );
    }
    Ok(loaded)
}

fn emit(path: Option<&Path>, fill: impl FnOnce(&mut dyn Write) -> Result<()>) -> Result<()> {
    match path {
        Some(p) => write_atomic(p, fill),
        None => {
            let stdout = std::io::stdout();
            let mut w = std::io::BufWriter::new(stdout.lock());
            fill(&mut w)?;
            w.flush().context("cannot write to standard output")
        }
    }
}

fn deadlines(config: Config, args: DeadlinesArgs) -> Result<ExitCode> {
    let now = parse_now(args.input.now.as_deref(), &config)?;
    let loaded = load(config, &args.input)?;
    let tz = loaded.tz;
    let only = args.only.clone();
    let all = args.all;
    let keep = move |s: Status| {
        if !only.is_empty() {
            only.contains(&s)
        } else {
            all || s != Status::NotApplicable
        }
    };
    let evaluation = loaded.evaluate(now, &keep);
    let summary = evaluation.summary.clone();
    let list = evaluation.sorted();
    let hidden = if args.all || args.only.contains(&Status::NotApplicable) {
        0
    } else {
        summary.not_applicable
    };
    let out = args.output.as_deref();
    match args.format {
        OutputFormat::Table => emit(out, |w| {
            output::write_table(w, &list, &summary, hidden, now, tz)
        })?,
        OutputFormat::Json => emit(out, |w| {
            output::write_json(
                w,
                &list,
                &summary,
                &loaded.reports,
                &loaded.regimes,
                now,
                tz,
            )
        })?,
        OutputFormat::Csv => emit(out, |w| output::write_csv(w, &list, now, tz))?,
        OutputFormat::Ics => emit(out, |w| output::write_ics(w, &list, now, tz))?,
    }
    if let Some(p) = out {
        eprintln!("wrote {}", p.display());
    }
    let attention = summary.needs_attention();
    // The process ends here: handing a million incidents back to the allocator one by one
    // would only make the run slower.
    std::mem::forget(list);
    std::mem::forget(evaluation);
    std::mem::forget(loaded);
    Ok(if attention {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

fn alerts_cmd(config: Config, args: AlertsArgs) -> Result<ExitCode> {
    let now = parse_now(args.input.now.as_deref(), &config)?;
    let state_path = args
        .state
        .clone()
        .unwrap_or_else(|| config.resolve(&config.alerts.state));
    let templates_dir = args
        .templates
        .clone()
        .unwrap_or_else(|| config.resolve(&config.paths.templates));
    let delivery = match args.transport.as_str() {
        "smtp" => Delivery::Smtp(config.smtp.clone()),
        "stdout" => Delivery::Stdout,
        t => match t.strip_prefix("dir:") {
            Some(d) if !d.is_empty() => Delivery::Directory(PathBuf::from(d)),
            _ => {
                return Err(bad_input(format!(
                    "--transport {t:?}: use smtp, stdout or dir:PATH"
                )))
            }
        },
    };
    let templates = alerts::load_templates(&templates_dir)?;
    let loaded = load(config, &args.input)?;
    let evaluation = loaded.evaluate(now, &|s| s.is_open());
    let list = evaluation.sorted();
    let run = alerts::AlertRun {
        state_path: &state_path,
        config: &loaded.config.alerts,
        templates: &templates,
        delivery: &delivery,
        dry_run: args.dry_run,
        now,
        tz: loaded.tz,
    };
    let outcome = alerts::run(&list, &run)?;
    if args.dry_run {
        let mut out = std::io::stdout().lock();
        writeln!(out, "dry run at {}: {} alert(s) would be sent, {} already sent earlier; nothing sent, state unchanged", local_text(now, loaded.tz), outcome.due.len(), outcome.already_sent)?;
        for a in &outcome.due {
            writeln!(
                out,
                "\n--- {}\nTo: {}\nSubject: {}\n",
                a.key,
                a.recipients.join(", "),
                a.subject
            )?;
            if !a.covers.is_empty() {
                writeln!(
                    out,
                    "(also covers the earlier threshold(s): {})\n",
                    a.covers.join(", ")
                )?;
            }
            writeln!(out, "{}", a.body)?;
        }
        return Ok(ExitCode::SUCCESS);
    }
    eprintln!(
        "alerts at {}: {} due, {} sent, {} failed, {} already sent earlier (state {})",
        local_text(now, loaded.tz),
        outcome.due.len(),
        outcome.sent.len(),
        outcome.failed.len(),
        outcome.already_sent,
        state_path.display()
    );
    for k in &outcome.sent {
        eprintln!("  sent: {k}");
    }
    if let Some((_, first)) = outcome.failed.first() {
        for (k, e) in &outcome.failed {
            eprintln!("  FAILED (stays pending): {k}: {e}");
        }
        return Err(anyhow::Error::new(DeliveryFailed {
            failed: outcome.failed.len(),
            first_error: first.clone(),
        }));
    }
    Ok(ExitCode::SUCCESS)
}

/// mimalloc: a million incidents make tens of millions of small allocations, and glibc's
/// allocator spends much of a large run in them.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;
