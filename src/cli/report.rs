//! `regwatch report`: the monthly compliance report with a manifest of hashes.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Result;
use clap::Args;

use super::audit::{today, write_quarantine, WaiverArgs};
use super::inputs::{templates, InputArgs};
use regwatch::audit::{self, render, render::counts_line, AuditRequest};
use regwatch::config::Config;
use regwatch::documents::data_quality::AuditOrigin;
use regwatch::documents::{publish, report};
use regwatch::util::defaults::Origin;

#[derive(Args)]
pub struct ReportArgs {
    #[command(flatten)]
    input: InputArgs,
    /// The month to report on (YYYY-MM, in the configured time zone).
    #[arg(long, value_name = "YYYY-MM")]
    month: String,
    /// Folder for the report (default: out/report-YYYY-MM); replaced whole, atomically.
    #[arg(long, value_name = "DIR")]
    out: Option<PathBuf>,
    /// Folder with report.html.hbs and report.md.hbs, to rebrand (default from config).
    #[arg(long, value_name = "DIR")]
    templates: Option<PathBuf>,
    /// Audit logs (files or folders, as for `regwatch audit`) for section 4: guardrail
    /// findings, NIST AI RMF coverage and AI-versus-human change metrics.
    #[arg(long, value_name = "PATH")]
    audit: Vec<PathBuf>,
    /// Findings an engine computed where the logs are (Spark, Trino/Athena, DuckDB), in
    /// the findings schema (Parquet, CSV or JSON lines; GUIDE.md "Outputs"), for section 4
    /// instead of the logs (default: config `[audit] findings`). Rejected rows exit 6.
    #[arg(long, value_name = "FILE", conflicts_with = "audit")]
    findings: Option<PathBuf>,
    /// The `regwatch sql` script that computed --findings: only the policies it expresses
    /// count as checked in section 4's coverage.
    #[arg(long, value_name = "SQL", requires = "findings")]
    script: Option<PathBuf>,
    /// Do not run the Sigma rules shipped in the mappings folder's `sigma/` (as for
    /// `audit`): an engine's findings have none, and a findings file cannot say which
    /// rules saw records and found nothing, so the coverage compares only without them.
    #[arg(long)]
    no_sigma: bool,
    #[command(flatten)]
    waivers: WaiverArgs,
}

pub fn exec(config: Config, args: ReportArgs) -> Result<ExitCode> {
    let now = args.input.now(&config)?;
    let templates =
        publish::ReportTemplates::load(templates(args.templates.as_deref(), &config).as_deref())?;
    let loaded = args.input.load(config)?;
    let month = report::Month::parse(&args.month, loaded.tz)?;
    let mut sources = loaded.sources.clone();
    // The logs given, else a findings file (given, else the config's).
    let findings = if args.audit.is_empty() {
        args.findings
            .clone()
            .or_else(|| loaded.config.findings_file())
    } else {
        None
    };
    let origin = match findings {
        Some(_) => AuditOrigin::Findings,
        None => AuditOrigin::Logs,
    };
    let audit = if args.audit.is_empty() && findings.is_none() {
        None
    } else {
        let waivers = args.waivers.file(&loaded.config);
        let request = AuditRequest {
            mappings: loaded.mappings.as_deref(),
            policies: None,
            inputs: &args.audit,
            format: None,
            strict: false,
            changes_in_memory: audit::CHANGES_IN_MEMORY,
            findings_in_memory: audit::FINDINGS_IN_MEMORY,
            redact: args.input.redact,
            max_record_bytes: audit::MAX_RECORD_BYTES,
            sigma: audit::SigmaChoice {
                shipped: !args.no_sigma,
                folders: Vec::new(),
            },
            waivers: waivers.as_deref(),
            today: today(now, loaded.tz),
        };
        let report = match &findings {
            Some(file) => audit::findings_io::findings_request(
                &loaded.config,
                &request,
                file,
                args.script.as_deref(),
            )?,
            None => audit::run_request(&loaded.config, &request, &loaded.incidents, &|_| {})?,
        };
        eprintln!("{}", counts_line(&report));
        for line in render::waiver_lines(&report) {
            eprintln!("{line}");
        }
        sources.extend(waivers.map(Origin::File));
        write_quarantine(&report, None, false)?;
        match &findings {
            // The evidence files a findings file names are where the engine read them.
            Some(file) => sources.push(Origin::File(file.clone())),
            None => sources.extend(report.files.iter().map(|f| Origin::File(PathBuf::from(f)))),
        }
        Some(report)
    };
    let evaluation = loaded.evaluate(now, &|_| true);
    let deadlines = evaluation.sorted();
    let model = report::build(&report::ReportInputs {
        month,
        incidents: &loaded.incidents,
        deadlines: &deadlines,
        services: &loaded.services,
        inputs: &loaded.reports,
        organisation: &loaded.config.organisation,
        now,
        tz: loaded.tz,
        audit: audit.as_ref(),
        audit_origin: origin,
    })?;
    let out = args
        .out
        .clone()
        .unwrap_or_else(|| PathBuf::from(format!("out/report-{}", month.id())));
    let written = publish::write(&model, &templates, &out, &sources)?;
    println!(
        "{} report for {}: {} incidents, {} personal data breaches, {} notifications late, {} overdue, {} impact tolerance breaches",
        model.month_label,
        loaded.config.organisation.name,
        model.headline.incidents,
        model.headline.personal_data_breaches,
        model.headline.notifications_late,
        model.headline.notifications_overdue,
        model.headline.tolerance_breaches,
    );
    for p in written {
        println!("wrote {}", p.display());
    }
    // A findings row rejected is a finding perhaps lost: never all clear (6).
    let lost = findings.is_some() && audit.as_ref().is_some_and(|a| !a.rejected.is_empty());
    if lost {
        eprintln!("some findings rows were rejected (section 6 lists them): exit 6");
        return Ok(ExitCode::from(super::inputs::INPUT_PROBLEMS));
    }
    Ok(super::inputs::exit_code(0, &loaded))
}
