//! `regwatch check`: config, mappings, services and templates read as a run would, and
//! with `--smtp` the mail server; exit 0 when all is well, 2 otherwise.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Result;
use clap::Args;

use super::inputs::templates;
use regwatch::config::Config;

#[derive(Args)]
pub struct CheckArgs {
    /// Folder whose files override the built-in mappings (default from config).
    #[arg(long, value_name = "DIR")]
    mappings: Option<PathBuf>,
    /// Folder whose files override the built-in templates (default from config).
    #[arg(long, value_name = "DIR")]
    templates: Option<PathBuf>,
    /// Also connect to the configured SMTP server.
    #[arg(long)]
    smtp: bool,
}

pub fn exec(config: Config, args: CheckArgs) -> Result<ExitCode> {
    let mappings = args.mappings.clone().or_else(|| config.mappings_dir());
    let templates = templates(args.templates.as_deref(), &config);
    let mut problems = regwatch::setup::check(&config, mappings.as_deref(), templates.as_deref());
    if args.smtp {
        match regwatch::setup::check_smtp(&config) {
            Ok(()) => println!("smtp: connected to {}", config.smtp.host),
            Err(e) => problems.push(format!("{e:#}")),
        }
    }
    let source = config
        .source
        .as_ref()
        .map_or("no config file (defaults)".into(), |p| {
            p.display().to_string()
        });
    if problems.is_empty() {
        println!("ok: config {source}, mappings, services and templates");
        Ok(ExitCode::SUCCESS)
    } else {
        for p in &problems {
            eprintln!("problem: {p}");
        }
        eprintln!("{} problem(s) (config {source})", problems.len());
        Ok(ExitCode::from(2))
    }
}
