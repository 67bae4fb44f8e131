//! `regwatch alerts`: the cron job. Tells the right people once per threshold.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Result;
use clap::Args;

use super::inputs::{exit_code, parse_delivery, templates, InputArgs, INPUT_PROBLEMS};
use regwatch::clock::local_text;
use regwatch::config::Config;
use regwatch::error::DeliveryFailed;
use regwatch::notify::alerts;

#[derive(Args)]
pub struct AlertsArgs {
    #[command(flatten)]
    input: InputArgs,
    /// Show what would be sent; send nothing, change nothing.
    #[arg(long)]
    dry_run: bool,
    /// smtp (as configured: SMTP for addresses, HTTPS for channels), stdout, or dir:PATH
    /// (one .eml file per mail, one .json file per channel message).
    #[arg(long, default_value = "smtp", value_name = "HOW")]
    transport: String,
    /// State file recording alerts sent (default from config).
    #[arg(long, value_name = "FILE")]
    state: Option<PathBuf>,
    /// Folder with alert-subject.hbs and alert-body.hbs (default from config: templates/).
    #[arg(long, value_name = "DIR")]
    templates: Option<PathBuf>,
}

pub fn exec(config: Config, args: AlertsArgs) -> Result<ExitCode> {
    let now = args.input.now(&config)?;
    let state_path = args
        .state
        .clone()
        .unwrap_or_else(|| config.resolve(&config.alerts.state));
    let delivery = parse_delivery(&args.transport, &config)?;
    let templates =
        alerts::load_templates(templates(args.templates.as_deref(), &config).as_deref())?;
    let loaded = args.input.load(config)?;
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
        entities: Some(&loaded.entities),
        inputs: &loaded.reports,
        organisation: &loaded.config.organisation.name,
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
                a.pending
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join(", "),
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
        return Ok(exit_code(0, &loaded));
    }
    eprintln!(
        "alerts at {}: {} due, {} sent, {} failed (one per recipient and channel), {} already sent earlier (state {})",
        local_text(now, loaded.tz),
        outcome.due.len(),
        outcome.sent.len(),
        outcome.failed.len(),
        outcome.already_sent,
        state_path.display()
    );
    for c in &outcome.sent {
        eprintln!("  sent: {} to {}", c.key, c.destination);
    }
    if outcome.input_problems > 0 {
        eprintln!(
            "input problems: {} row problem(s) could not be fully evaluated, {} reported to the DPO for the first time by this run (exit status {INPUT_PROBLEMS})",
            outcome.input_problems, outcome.input_problems_new
        );
    }
    if let Some(first) = outcome.failed.first() {
        for c in &outcome.failed {
            eprintln!(
                "  FAILED (stays pending): {} to {}: {}",
                c.key,
                c.destination,
                c.error.as_deref().unwrap_or("")
            );
        }
        return Err(anyhow::Error::new(DeliveryFailed {
            failed: outcome.failed.len(),
            first_error: format!(
                "{} to {}: {}",
                first.key,
                first.destination,
                first.error.as_deref().unwrap_or("")
            ),
        }));
    }
    Ok(exit_code(0, &loaded))
}
