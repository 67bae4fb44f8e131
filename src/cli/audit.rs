//! `regwatch audit`: what people and AI agents did, against the guardrail policies.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Result;
use clap::{Args, ValueEnum};

use super::inputs::{emit, terminal, GATE_TRIPPED};
use super::values::{SeverityArg, SourceFormatArg};
use regwatch::audit::{self, render, AuditReport, AuditRequest};
use regwatch::config::Config;
use regwatch::controls::Severity;
use regwatch::incidents::load::{LoadOptions, Loaded};
use regwatch::render::terminal::ColorChoice;

#[derive(Clone, Copy, ValueEnum)]
pub enum AuditFormat {
    Table,
    Json,
    Csv,
    Sarif,
    /// A spreadsheet for auditors (with -o FILE): findings and NIST AI RMF coverage.
    Xlsx,
    /// OCSF 1.8.0 Compliance Finding events (class 2003), one JSON object per line.
    Ocsf,
    /// The NIST AI RMF coverage as an OSCAL assessment-results document (JSON).
    Oscal,
    /// The findings schema (GUIDE.md), one JSON object per line: what `--findings` reads
    /// back, and what an SQL engine running the same policies writes.
    Findings,
}

/// Where the policies run.
#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum EngineArg {
    /// regwatch itself, on this machine.
    Native,
    /// DuckDB (its CLI, or Python's duckdb module): the policies compiled to SQL.
    Duckdb,
    /// Spark (spark-submit from SPARK_HOME or PATH): the policies compiled to Spark SQL.
    Spark,
}

#[derive(Args)]
pub struct AuditArgs {
    /// Audit files or folders (native JSON lines / CSV / Parquet, CloudTrail trees,
    /// Kubernetes audit logs, OCSF API Activity as Security Lake stores it; .gz too); `-`
    /// for standard input.
    #[arg(required_unless_present = "findings", value_name = "PATH")]
    inputs: Vec<PathBuf>,
    /// Read findings another engine made (Spark, Trino/Athena, DuckDB) from this file in
    /// the findings schema (Parquet, CSV or JSON lines; GUIDE.md) instead of audit logs:
    /// the outputs, coverage and --fail-on are those of a run. Rejected rows exit 6.
    #[arg(long, value_name = "FILE", conflicts_with = "inputs")]
    findings: Option<PathBuf>,
    /// The `regwatch sql` script that computed --findings: only the policies it expresses
    /// count as checked (refused ones and those not for its source are left out of the
    /// coverage instead of passing).
    #[arg(long, value_name = "SQL", requires = "findings")]
    script: Option<PathBuf>,
    /// Where the policies run: native (default, or `[audit] engine` of regwatch.toml),
    /// duckdb or spark (the policies compiled to SQL and run there; the outputs are a
    /// run's; GUIDE.md "Running on an engine").
    #[arg(long, value_enum, conflicts_with = "findings")]
    engine: Option<EngineArg>,
    /// Spark's master with --engine spark (default local[*]): yarn, spark://HOST:PORT, ...
    #[arg(long, value_name = "URL")]
    master: Option<String>,
    /// Read every input as this format instead of telling it from the file.
    #[arg(long = "input-format", value_enum)]
    input_format: Option<SourceFormatArg>,
    #[arg(long, value_enum, default_value = "table")]
    format: AuditFormat,
    /// Write here (atomically) instead of standard output.
    #[arg(long, short, value_name = "FILE")]
    output: Option<PathBuf>,
    /// Exit 1 when any finding is at least this severe (for CI gates).
    #[arg(long, value_enum, value_name = "SEVERITY")]
    fail_on: Option<SeverityArg>,
    /// Add the NIST AI RMF coverage table to the table output (JSON, XLSX and OSCAL,
    /// which is the coverage, always have it).
    #[arg(long)]
    coverage: bool,
    /// Incidents (as for `deadlines`) whose change_id links them to changes, for the
    /// change failure rate and time to restore.
    #[arg(long, value_name = "FILE")]
    incidents: Option<PathBuf>,
    /// Policies file (default: policies.toml of the mappings folder, else built in).
    #[arg(long, value_name = "FILE")]
    policies: Option<PathBuf>,
    /// Folder with policies.toml, nist-ai-rmf-1.0-core.csv, audit-sources.toml.
    #[arg(long, value_name = "DIR")]
    mappings: Option<PathBuf>,
    /// Stop at the first bad record instead of quarantining it.
    #[arg(long)]
    strict: bool,
    /// Where rejected records go (default: audit.quarantine.csv in the current folder).
    #[arg(long, value_name = "FILE")]
    quarantine: Option<PathBuf>,
    /// No progress bar and no counts on standard error.
    #[arg(long, short)]
    quiet: bool,
    /// Replace people (human actors and approvers, e-mail addresses) with stable
    /// pseudonyms in every output and in the quarantine file.
    #[arg(long)]
    redact: bool,
    /// Change histories held in memory; past it, those idle longest go to temporary
    /// files (with any later events of their changes) and are checked at the end, so
    /// memory stays bounded on big runs. The findings are the same either way.
    #[arg(long, value_name = "N", default_value_t = audit::CHANGES_IN_MEMORY)]
    changes_in_memory: usize,
    /// Findings gathered in memory; the rest are gathered and sorted in temporary files
    /// and merged into the output. The output is the same either way.
    #[arg(long, value_name = "N", default_value_t = audit::FINDINGS_IN_MEMORY)]
    findings_in_memory: usize,
    /// The longest record (line) read, in bytes; a longer one is rejected (with its file
    /// and line) without being held whole.
    #[arg(long, value_name = "BYTES", default_value_t = audit::MAX_RECORD_BYTES)]
    max_record_bytes: usize,
    /// Also run the Sigma rules in this folder (`.yml` files, read recursively) over
    /// CloudTrail and Kubernetes records; repeatable.
    #[arg(long, value_name = "DIR")]
    sigma: Vec<PathBuf>,
    /// Do not run the Sigma rules shipped in the mappings folder's `sigma/`.
    #[arg(long)]
    no_sigma: bool,
    #[command(flatten)]
    waivers: WaiverArgs,
}

/// `--waivers`, shared by `audit` and `report`.
#[derive(Args)]
pub struct WaiverArgs {
    /// Findings people have accepted (TOML `[[waiver]]` entries; default from config
    /// `[audit] waivers`): still listed, marked, and not counted by --fail-on.
    #[arg(long, value_name = "FILE")]
    pub waivers: Option<PathBuf>,
}

impl WaiverArgs {
    /// The file: `--waivers`, else the config's.
    pub fn file(&self, config: &Config) -> Option<PathBuf> {
        self.waivers.clone().or_else(|| config.waivers_file())
    }
}

/// The day in the display time zone that decides which waivers have expired.
pub fn today(now: chrono::DateTime<chrono::Utc>, tz: chrono_tz::Tz) -> chrono::NaiveDate {
    now.with_timezone(&tz).date_naive()
}

pub fn exec(config: Config, args: AuditArgs, color: ColorChoice) -> Result<ExitCode> {
    if matches!(args.format, AuditFormat::Xlsx) {
        super::inputs::binary_output("xlsx", args.output.as_deref())?;
    }
    if args.quiet {
        regwatch::util::defaults::quiet();
    }
    let mappings = args.mappings.clone().or_else(|| config.mappings_dir());
    let tz = config.display_tz()?;
    let format = args.input_format.map(Into::into);
    let incidents = match &args.incidents {
        Some(path) => {
            let opts = LoadOptions {
                mappings: mappings.clone(),
                ..LoadOptions::default()
            };
            Loaded::load(config.clone(), std::slice::from_ref(path), &opts)?.incidents
        }
        None => Vec::new(),
    };
    let bar = if args.quiet || !std::io::stderr().is_terminal() {
        indicatif::ProgressBar::hidden()
    } else {
        let bar = indicatif::ProgressBar::new(audit::input_bytes(&args.inputs)?);
        bar.set_style(
            indicatif::ProgressStyle::with_template(
                "{spinner} reading audit logs {bar:30} {bytes}/{total_bytes} {bytes_per_sec} {eta}",
            )
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        );
        bar
    };
    let t0 = std::time::Instant::now();
    let waivers = args.waivers.file(&config);
    let request = AuditRequest {
        mappings: mappings.as_deref(),
        policies: args.policies.as_deref(),
        inputs: &args.inputs,
        format,
        strict: args.strict,
        changes_in_memory: args.changes_in_memory,
        findings_in_memory: args.findings_in_memory,
        redact: args.redact,
        max_record_bytes: args.max_record_bytes.max(1),
        sigma: audit::SigmaChoice {
            shipped: !args.no_sigma,
            folders: args.sigma.clone(),
        },
        waivers: waivers.as_deref(),
        today: today(chrono::Utc::now(), tz),
    };
    let engine = engine(&config, &args)?;
    let (mut refused, mut engine_timings) = (Vec::new(), Vec::new());
    let report = match (&args.findings, &engine) {
        // (findings_request refuses --redact itself.)
        (Some(file), _) => {
            audit::findings_io::findings_request(&config, &request, file, args.script.as_deref())?
        }
        (None, Some(engine)) => {
            let run = audit::engine::run_on_engine(&config, &request, engine)?;
            (refused, engine_timings) = (run.refused, run.timings);
            run.report
        }
        (None, None) => audit::run_request(&config, &request, &incidents, &|done| {
            bar.set_position(done)
        })?,
    };
    bar.finish_and_clear();
    // The table starts with the counts; other formats get them on standard error.
    let table_on_terminal = matches!(args.format, AuditFormat::Table) && args.output.is_none();
    if !args.quiet && !table_on_terminal {
        eprintln!("{}", render::counts_line(&report));
    }
    if !args.quiet {
        if !table_on_terminal {
            eprintln!("{}", render::sigma_line(&report));
        }
        for r in &report.sigma.refused {
            eprintln!(
                "  sigma rule refused: {} ({}): {}",
                r.rule, r.file, r.reason
            );
        }
        for s in report.skipped_files.iter().take(20) {
            eprintln!("  skipped {}: {}", s.file, s.reason);
        }
        if report.skipped_files.len() > 20 {
            eprintln!(
                "  ... {} file(s) skipped in all",
                report.skipped_files.len()
            );
        }
        for a in &report.unmapped_accounts {
            eprintln!(
                "  account {a} is not in [audit] accounts (regwatch.toml): its events' environment is unknown"
            );
        }
    }
    write_quarantine(&report, args.quarantine.as_deref(), args.quiet)?;
    let term = terminal(args.output.as_deref(), color);
    emit(args.output.as_deref(), |w| match args.format {
        AuditFormat::Table => audit::table::write_table(w, &report, tz, args.coverage, term),
        AuditFormat::Json => render::write_json(w, &report, tz),
        AuditFormat::Csv => render::write_csv(w, &report, tz),
        AuditFormat::Sarif => render::write_sarif(w, &report),
        AuditFormat::Xlsx => render::write_xlsx(w, &report, tz),
        AuditFormat::Ocsf => audit::ocsf::write_ocsf(w, &report, chrono::Utc::now()),
        AuditFormat::Oscal => audit::oscal::write_oscal(w, &report, chrono::Utc::now()),
        AuditFormat::Findings => audit::findings_io::write_findings(w, &report),
    })?;
    // For profiling large runs: where the time went, on stderr.
    if std::env::var_os("REGWATCH_TIMING").is_some() {
        let phases: Vec<String> = report
            .timings
            .iter()
            .map(|(n, d)| format!("{n} {d:?}"))
            .collect();
        eprintln!(
            "timing: {}, total with output {:?}",
            phases.join(", "),
            t0.elapsed()
        );
    }
    if !args.quiet {
        for line in render::waiver_lines(&report) {
            eprintln!("{line}");
        }
        for line in &engine_timings {
            eprintln!("  {line}");
        }
    }
    // A policy the engine's dialect cannot express has no findings here: said even with
    // --quiet, and never all clear.
    for (id, why) in &refused {
        eprintln!("  REFUSED {id} (its findings are missing): {why}");
    }
    let gate: Option<Severity> = args.fail_on.map(Into::into);
    // An input that could not be checked (a file rejected whole, or every record of it
    // rejected) is never all clear: 6, after a finding past the gate (1).
    let unread = report.unread_inputs();
    if !args.quiet {
        for s in &unread {
            match &s.file_rejected {
                Some(reason) => eprintln!("  not checked: {} (rejected whole: {reason})", s.file),
                None => eprintln!("  not checked: {} (every record rejected)", s.file),
            }
        }
    }
    // A findings row rejected is a finding perhaps lost: never all clear (6), and said
    // even with --quiet.
    let lost = if args.findings.is_some() {
        report.rejected.as_slice()
    } else {
        &[]
    };
    for r in lost.iter().take(20) {
        eprintln!("  finding rejected: {r}");
    }
    if lost.len() > 20 {
        eprintln!("  ... {} finding row(s) rejected in all", lost.len());
    }
    // A waived finding does not trip the gate; an expired waiver's finding can.
    Ok(match (gate, report.worst_unwaived()) {
        (Some(g), Some(w)) if w >= g => ExitCode::from(GATE_TRIPPED),
        _ if !unread.is_empty() || !lost.is_empty() || !refused.is_empty() => ExitCode::from(6),
        _ => ExitCode::SUCCESS,
    })
}

/// The engine of the run: `--engine`, else `[audit] engine`; None for the native one.
fn engine(config: &Config, args: &AuditArgs) -> Result<Option<audit::engine::Engine>> {
    let bad = |m: String| regwatch::error::bad_input(m);
    let chosen = match (args.engine, config.audit.engine.as_deref()) {
        (Some(e), _) => e,
        (None, None) => EngineArg::Native,
        (None, Some(name)) => EngineArg::from_str(name, true).map_err(|_| {
            bad(format!(
                "[audit] engine = {name:?} in regwatch.toml: use native, duckdb or spark"
            ))
        })?,
    };
    if args.findings.is_some() {
        return Ok(None);
    }
    if args.master.is_some() && chosen != EngineArg::Spark {
        return Err(bad("--master is Spark's: use it with --engine spark".into()));
    }
    if chosen != EngineArg::Native && args.incidents.is_some() {
        return Err(bad(
            "--incidents (the change metrics) needs a run without --engine: an engine computes only the findings"
                .into(),
        ));
    }
    Ok(match chosen {
        EngineArg::Native => None,
        EngineArg::Duckdb => Some(audit::engine::Engine::Duckdb),
        EngineArg::Spark => Some(audit::engine::Engine::Spark {
            master: args
                .master
                .clone()
                .unwrap_or_else(|| "local[*]".to_string()),
        }),
    })
}

/// Writes rejected audit records where a person can review them, and says so.
pub fn write_quarantine(report: &AuditReport, path: Option<&Path>, quiet: bool) -> Result<()> {
    if report.rejected.is_empty() {
        return Ok(());
    }
    let path = path.map_or_else(|| PathBuf::from("audit.quarantine.csv"), Path::to_path_buf);
    regwatch::incidents::ingest::write_quarantine(&path, &report.rejected)?;
    if !quiet {
        for r in report.rejected.iter().take(5) {
            eprintln!("  rejected: {r}");
        }
        eprintln!(
            "{} rejected record(s) written to {}",
            report.rejected.len(),
            path.display()
        );
    }
    Ok(())
}
