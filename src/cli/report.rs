//! `regwatch report`: the monthly compliance report with a manifest of hashes.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Result;
use clap::Args;

use super::audit::{today, write_quarantine, WaiverArgs};
use super::inputs::{templates, InputArgs};
use regwatch::audit::{self, render, render::counts_line, AuditRequest};
use regwatch::config::Config;
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
    let audit = if args.audit.is_empty() {
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
                shipped: true,
                folders: Vec::new(),
            },
            waivers: waivers.as_deref(),
            today: today(now, loaded.tz),
        };
        let report = audit::run_request(&loaded.config, &request, &loaded.incidents, &|_| {})?;
        eprintln!("{}", counts_line(&report));
        for line in render::waiver_lines(&report) {
            eprintln!("{line}");
        }
        sources.extend(waivers.map(Origin::File));
        write_quarantine(&report, None, false)?;
        sources.extend(report.files.iter().map(|f| Origin::File(PathBuf::from(f))));
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
    Ok(super::inputs::exit_code(0, &loaded))
}
