//! What several commands share: the incident inputs and their options, resolved once into
//! `Loaded` with `now`; where output goes; how alerts are delivered.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result};
use chrono::{DateTime, Utc};
use clap::Args;

use super::values::InputFormatArg;
use regwatch::clock::parse_clock_timestamp;
use regwatch::config::Config;
use regwatch::error::bad_input;
use regwatch::incidents::ingest::{default_quarantine_path, problems_path, write_quarantine};
use regwatch::incidents::load::{LoadOptions, Loaded};
use regwatch::notify::alerts::Delivery;
use regwatch::render::terminal::{ColorChoice, Terminal};

#[derive(Args)]
pub struct InputArgs {
    /// Incident files (CSV, JSON array or JSON lines).
    #[arg(required = true, value_name = "INCIDENTS")]
    pub inputs: Vec<PathBuf>,
    /// Input format, when the extension does not say.
    #[arg(long = "input-format", value_enum)]
    pub input_format: Option<InputFormatArg>,
    /// Stop at the first bad row instead of quarantining it.
    #[arg(long)]
    pub strict: bool,
    /// Where rejected rows go (default: <input>.quarantine.csv in the current folder).
    #[arg(long, value_name = "FILE")]
    pub quarantine: Option<PathBuf>,
    /// Folder whose regimes.toml, uk-bank-holidays.json, ... override the built-in ones,
    /// file by file (default from config `[paths] mappings`; none: built in).
    #[arg(long, value_name = "DIR")]
    pub mappings: Option<PathBuf>,
    /// Important business services with impact tolerances (default from config).
    #[arg(long, value_name = "FILE")]
    pub services: Option<PathBuf>,
    /// Evaluate as at this instant (RFC 3339; default: now). Makes runs reproducible.
    #[arg(long, value_name = "TIME")]
    pub now: Option<String>,
    /// Replace personal data (e-mail addresses, and names in the fields that hold them)
    /// with stable pseudonyms in every output.
    #[arg(long)]
    pub redact: bool,
}

impl InputArgs {
    /// `--now`, else the system clock.
    pub fn now(&self, config: &Config) -> Result<DateTime<Utc>> {
        parse_now(self.now.as_deref(), config)
    }

    /// The mappings folder: `--mappings`, else the config's; none: built in.
    pub fn mappings(&self, config: &Config) -> Option<PathBuf> {
        self.mappings.clone().or_else(|| config.mappings_dir())
    }

    /// Reads the inputs, reports the counts on stderr and writes the quarantine file. With
    /// `--redact`, personal data is pseudonymised here, before anything is built from it.
    pub fn load(&self, config: Config) -> Result<Loaded> {
        let opts = LoadOptions {
            format: self.input_format.map(Into::into),
            strict: self.strict,
            mappings: self.mappings.clone(),
            services: self.services.clone(),
        };
        let mut loaded = Loaded::load(config, &self.inputs, &opts)?;
        for line in loaded.input_lines() {
            eprintln!("{line}");
        }
        if self.redact {
            let r = regwatch::incidents::redact::Redactor::new(&loaded.config.redaction);
            for inc in &mut loaded.incidents {
                r.incident(inc);
            }
            // Rows (and the values quoted in reasons) go on into the quarantine, the
            // problems file, the report and the DPO's message.
            for report in &mut loaded.reports {
                for rej in report.rejected.iter_mut().chain(report.problems.iter_mut()) {
                    rej.raw = r.text(&rej.raw);
                    rej.reason = r.text(&rej.reason);
                }
            }
        }
        let rejected = loaded.rejected();
        let problems = loaded.problems();
        let quarantine = self
            .quarantine
            .clone()
            .unwrap_or_else(|| default_quarantine_path(&self.inputs[0]));
        if !problems.is_empty() {
            let path = problems_path(&quarantine);
            write_quarantine(&path, &problems)?;
            for p in problems.iter().take(5) {
                eprintln!("  problem (row kept): {p}");
            }
            if problems.len() > 5 {
                eprintln!("  ... and {} more", problems.len() - 5);
            }
            eprintln!(
                "{} problem(s) in rows that were kept written to {}",
                problems.len(),
                path.display()
            );
        }
        if !rejected.is_empty() {
            let path = quarantine;
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
}

/// Exit status 6 (input problems) when the command itself had nothing worse to report
/// (`code` 0): a rejected row or a row kept with a problem must not look like all clear.
pub fn exit_code(code: u8, loaded: &Loaded) -> ExitCode {
    if code == 0 && loaded.has_input_problems() {
        ExitCode::from(INPUT_PROBLEMS)
    } else {
        ExitCode::from(code)
    }
}

/// The exit status when `--fail-on` trips (`deadlines`, `audit`).
pub const GATE_TRIPPED: u8 = 1;

/// The exit status for rows rejected or kept with problems.
pub const INPUT_PROBLEMS: u8 = 6;

/// `--now` (RFC 3339, or local time in the input time zone), else the system clock.
pub fn parse_now(now: Option<&str>, config: &Config) -> Result<DateTime<Utc>> {
    match now {
        None => Ok(Utc::now()),
        Some(t) => parse_clock_timestamp(t, config.input_tz()?)
            .map_err(|e| bad_input(format!("--now: {e}"))),
    }
}

/// A templates folder: the option given, else the config's; none: built in.
pub fn templates(given: Option<&Path>, config: &Config) -> Option<PathBuf> {
    given
        .map(Path::to_path_buf)
        .or_else(|| config.templates_dir())
}

/// Writes to `path` atomically, or to standard output.
pub fn emit(path: Option<&Path>, fill: impl FnOnce(&mut dyn Write) -> Result<()>) -> Result<()> {
    match path {
        Some(p) => regwatch::util::atomic::write_atomic(p, fill),
        None => {
            let stdout = std::io::stdout();
            let mut w = std::io::BufWriter::new(stdout.lock());
            fill(&mut w)?;
            w.flush().context("cannot write to standard output")
        }
    }
}

/// A binary format (XLSX) goes to `-o FILE`, or to standard output only when that is
/// redirected: bytes of a zip file would garble a terminal. Checked before any work.
pub fn binary_output(format: &str, path: Option<&Path>) -> Result<()> {
    use std::io::IsTerminal;
    if path.is_none() && std::io::stdout().is_terminal() {
        return Err(bad_input(format!(
            "--format {format} writes a binary file: give -o FILE.{format} (or redirect standard output)"
        )));
    }
    Ok(())
}

/// Where a table goes: a file as given, or standard output as it is.
pub fn terminal(output: Option<&Path>, color: ColorChoice) -> Terminal {
    match output {
        Some(_) => Terminal::file(color),
        None => Terminal::stdout(color),
    }
}

/// `--transport`: smtp (as configured), stdout, or dir:PATH.
pub fn parse_delivery(transport: &str, config: &Config) -> Result<Delivery> {
    Ok(match transport {
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
    })
}
