//! `regwatch init [DIR]`: a starting config, an empty incidents file and example services.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Result;
use clap::Args;

use regwatch::config::Config;

#[derive(Args)]
pub struct InitArgs {
    /// Folder to set up (default: the current folder).
    #[arg(value_name = "DIR", default_value = ".")]
    dir: PathBuf,
    /// Also copy the built-in mappings and templates into DIR/mappings and DIR/templates,
    /// to customise (uncomment [paths] mappings / templates in the config to use them).
    #[arg(long)]
    copy_defaults: bool,
}

pub fn exec(_config: Config, args: InitArgs) -> Result<ExitCode> {
    let report = regwatch::setup::init(&args.dir, args.copy_defaults)?;
    for p in &report.written {
        println!("wrote {}", p.display());
    }
    for p in &report.kept {
        println!("kept {} (exists; not overwritten)", p.display());
    }
    println!("next: edit the config, then run `regwatch check`");
    Ok(ExitCode::SUCCESS)
}
