//! The `regwatch` command: parses arguments, calls the library, prints, and maps outcomes
//! to exit codes.
//!
//! Exit codes: 0 all clear; 1 something is overdue or an impact tolerance is breached (or,
//! for `audit --fail-on`, a finding is at least that severe);
//! 2 bad input (files, mappings, config, arguments); 3 an alert could not be delivered (it
//! stays pending); 4 another alerts run holds the lock; 5 any other failure.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result};
use chrono::{DateTime, Utc};
use clap::{Args, Parser, Subcommand, ValueEnum};

use regwatch::notify::alerts::{self, Delivery};
use regwatch::clock::{local_text, parse_timestamp};
use regwatch::config::Config;
use regwatch::regimes::deadline::Status;
use regwatch::error::{bad_input, BadInput, Busy, DeliveryFailed};
use regwatch::util::atomic::write_atomic;
use regwatch::incidents::ingest::{default_quarantine_path, write_quarantine, InputFormat};
use regwatch::incidents::load::{LoadOptions, Loaded};
use regwatch::render::deadlines;
use regwatch::documents::register;

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
    /// The breach register (UK GDPR Art. 33(5)): every personal data breach, notified or not.
    Register(RegisterArgs),
    /// Drafts for a regulator, for a person to check and send.
    #[command(subcommand)]
    Draft(DraftKind),
    /// The monthly compliance report (HTML, Markdown, JSON) with a manifest of hashes.
    Report(ReportArgs),
    /// Check what people and AI agents did (audit logs) against the guardrail policies.
    Audit(AuditArgs),
}

#[derive(Clone, Copy, ValueEnum)]
enum AuditFormat {
    Table,
    Json,
    Csv,
    Sarif,
}

#[derive(Clone, Copy, ValueEnum)]
enum FailOn {
    Low,
    Medium,
    High,
    Critical,
}

#[derive(Args)]
struct AuditArgs {
    /// Audit files or folders (native JSON lines / CSV / Parquet, CloudTrail trees,
    /// Kubernetes audit logs; .gz too).
    #[arg(required = true, value_name = "PATH")]
    inputs: Vec<PathBuf>,
    /// Read every input as this format instead of telling it from the file.
    #[arg(long = "input-format", value_enum)]
    input_format: Option<regwatch::audit::sources::SourceFormat>,
    #[arg(long, value_enum, default_value = "table")]
    format: AuditFormat,
    /// Write here (atomically) instead of standard output.
    #[arg(long, short, value_name = "FILE")]
    output: Option<PathBuf>,
    /// Exit 1 when any finding is at least this severe (for CI gates).
    #[arg(long, value_enum, value_name = "SEVERITY")]
    fail_on: Option<FailOn>,
    /// Add the NIST AI RMF coverage table to the table output (JSON always has it).
    #[arg(long)]
    coverage: bool,
    /// Incidents (as for `deadlines`) whose change_id links them to changes, for the
    /// change failure rate and time to restore.
    #[arg(long, value_name = "FILE")]
    incidents: Option<PathBuf>,
    /// Policies file (default: mappings/policies.toml).
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
    #[arg(long, value_name = "N", default_value_t = regwatch::audit::CHANGES_IN_MEMORY)]
    changes_in_memory: usize,
    /// Findings gathered in memory; the rest are gathered and sorted in temporary files
    /// and merged into the output. The output is the same either way.
    #[arg(long, value_name = "N", default_value_t = regwatch::audit::FINDINGS_IN_MEMORY)]
    findings_in_memory: usize,
}

#[derive(Args)]
struct ReportArgs {
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
}

#[derive(Clone, Copy, ValueEnum)]
enum RegisterFormat {
    Csv,
    Json,
}

#[derive(Args)]
struct RegisterArgs {
    #[command(flatten)]
    input: InputArgs,
    #[arg(long, value_enum, default_value = "csv")]
    format: RegisterFormat,
    /// Only breaches the organisation became aware of in this month (YYYY-MM, local time).
    #[arg(long, value_name = "YYYY-MM")]
    month: Option<String>,
    /// Write here (atomically) instead of standard output.
    #[arg(long, short, value_name = "FILE")]
    output: Option<PathBuf>,
}

#[derive(Subcommand)]
enum DraftKind {
    /// The ICO personal data breach report for one incident (UK GDPR Art. 33(3)).
    Ico(DraftArgs),
    /// The FCA/PRA operational incident report (initial, intermediate or final) for one
    /// incident, with its important business services and their impact tolerances.
    Fca(FcaArgs),
}

#[derive(Args)]
struct FcaArgs {
    #[command(flatten)]
    draft: DraftArgs,
    /// initial, intermediate or final (default: the first stage not yet submitted).
    #[arg(long)]
    stage: Option<String>,
}

#[derive(Args)]
struct DraftArgs {
    #[command(flatten)]
    input: InputArgs,
    /// The incident to draft for.
    #[arg(long, value_name = "ID")]
    incident: String,
    /// Folder for the draft files (.md, .html, .eml).
    #[arg(long, default_value = "out/drafts", value_name = "DIR")]
    out: PathBuf,
    /// Folder with the draft templates (default from config: templates/).
    #[arg(long, value_name = "DIR")]
    templates: Option<PathBuf>,
    /// Also e-mail the draft for review (ICO: the dpo role; FCA: resilience); never to a regulator.
    #[arg(long)]
    send: bool,
    /// With --send: smtp (as configured), stdout, or dir:PATH.
    #[arg(long, default_value = "smtp", value_name = "HOW")]
    transport: String,
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
    /// Replace personal data (e-mail addresses, and names in the fields that hold them)
    /// with stable pseudonyms in every output.
    #[arg(long)]
    redact: bool,
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
    regwatch::util::memory::keep_freed_memory();
    regwatch::util::memory::use_small_pages();
    let cli = Cli::parse();
    match run(cli) {
        Ok(code) => code,
        // A reader that stops early (`| head`) is not an error.
        Err(e) if is_broken_pipe(&e) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("regwatch: error: {e:#}");
            ExitCode::from(exit_code_for(&e))
        }
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
        Command::Register(args) => register_cmd(config, args),
        Command::Draft(DraftKind::Ico(args)) => draft_ico(config, args),
        Command::Draft(DraftKind::Fca(args)) => draft_fca(config, args),
        Command::Report(args) => report_cmd(config, args),
        Command::Audit(args) => audit_cmd(config, args),
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

/// Reads the inputs, reports the counts on stderr and writes the quarantine file. With
/// `--redact`, personal data is pseudonymised here, before anything is built from it.
fn load(config: Config, input: &InputArgs) -> Result<Loaded> {
    let opts = LoadOptions {
        format: input.input_format,
        strict: input.strict,
        mappings: input.mappings.clone(),
        services: input.services.clone(),
    };
    let mut loaded = Loaded::load(config, &input.inputs, &opts)?;
    for line in loaded.input_lines() {
        eprintln!("{line}");
    }
    let mut rejected = loaded.rejected();
    if input.redact {
        let r = regwatch::incidents::redact::Redactor::new(&loaded.config.redaction);
        for inc in &mut loaded.incidents {
            r.incident(inc);
        }
        for rej in &mut rejected {
            rej.raw = r.text(&rej.raw);
        }
    }
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
    let t0 = std::time::Instant::now();
    let loaded = load(config, &args.input)?;
    let tz = loaded.tz;
    let t1 = t0.elapsed();
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
    let t2 = t0.elapsed();
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
    // For profiling large runs: where the time went, on stderr.
    if std::env::var_os("REGWATCH_TIMING").is_some() {
        eprintln!(
            "timing: load {t1:?}, evaluate {:?}, write {:?}",
            t2 - t1,
            t0.elapsed() - t2
        );
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

fn parse_delivery(transport: &str, config: &Config) -> Result<Delivery> {
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

/// `YYYY-MM` to the instants its first and the next month's first local midnight fall on.
fn month_bounds(month: &str, tz: chrono_tz::Tz) -> Result<(DateTime<Utc>, DateTime<Utc>)> {
    use chrono::{Datelike, NaiveDate, TimeZone};
    let bad = || bad_input(format!("--month {month:?}: use YYYY-MM, e.g. 2026-11"));
    let first = NaiveDate::parse_from_str(&format!("{month}-01"), "%Y-%m-%d").map_err(|_| bad())?;
    let next = if first.month() == 12 {
        NaiveDate::from_ymd_opt(first.year() + 1, 1, 1)
    } else {
        NaiveDate::from_ymd_opt(first.year(), first.month() + 1, 1)
    }
    .ok_or_else(bad)?;
    let at = |d: NaiveDate| {
        tz.from_local_datetime(&d.and_hms_opt(0, 0, 0).expect("midnight"))
            .earliest()
            .map(|t| t.with_timezone(&Utc))
            .ok_or_else(bad)
    };
    Ok((at(first)?, at(next)?))
}

fn register_cmd(config: Config, args: RegisterArgs) -> Result<ExitCode> {
    let now = parse_now(args.input.now.as_deref(), &config)?;
    let loaded = load(config, &args.input)?;
    let period = match &args.month {
        Some(m) => Some(month_bounds(m, loaded.tz)?),
        None => None,
    };
    let evaluation = loaded.evaluate(now, &|_| true);
    let deadlines = evaluation.sorted();
    let incidents: Vec<&regwatch::incidents::record::Incident> = loaded
        .incidents
        .iter()
        .filter(|i| period.is_none_or(|(from, to)| register::in_period(i, from, to)))
        .collect();
    let entries = register::build(&incidents, &deadlines, loaded.tz);
    let out = args.output.as_deref();
    match args.format {
        RegisterFormat::Csv => emit(out, |w| register::write_csv(w, &entries))?,
        RegisterFormat::Json => emit(out, |w| {
            serde_json::to_writer_pretty(&mut *w, &entries)?;
            writeln!(w)?;
            Ok(())
        })?,
    }
    eprintln!("{} personal data breach(es) in the register", entries.len());
    if let Some(p) = out {
        eprintln!("wrote {}", p.display());
    }
    Ok(ExitCode::SUCCESS)
}

fn draft_ico(config: Config, args: DraftArgs) -> Result<ExitCode> {
    use regwatch::documents::drafts;
    let now = parse_now(args.input.now.as_deref(), &config)?;
    let templates_dir = args
        .templates
        .clone()
        .unwrap_or_else(|| config.resolve(&config.paths.templates));
    let templates = drafts::DraftTemplates::load(&templates_dir, "ico-draft")?;
    let mappings = args
        .input
        .mappings
        .clone()
        .unwrap_or_else(|| config.resolve(&config.paths.mappings));
    let special = drafts::SpecialCategories::load(&mappings.join("special-categories.toml"))?;
    let delivery = parse_delivery(&args.transport, &config)?;
    let loaded = load(config, &args.input)?;
    let Some(inc) = loaded.incidents.iter().find(|i| *i.id == *args.incident) else {
        return Err(bad_input(format!(
            "no incident {:?} in {}",
            args.incident,
            args.input
                .inputs
                .iter()
                .map(|p| p.display().to_string())
                .collect::<Vec<_>>()
                .join(", ")
        )));
    };
    if !inc.personal_data {
        return Err(bad_input(format!(
            "incident {} involves no personal data (personal_data is false): there is no ICO breach report to draft",
            inc.id
        )));
    }
    let evaluation = loaded.evaluate(now, &|_| true);
    let deadlines = evaluation.sorted();
    let draft = drafts::ico_draft(
        inc,
        &deadlines,
        &loaded.config.organisation,
        &special,
        now,
        loaded.tz,
    );
    let markdown = templates.markdown(&draft)?;
    let html = templates.html(&draft)?;
    let recipients = loaded
        .config
        .alerts
        .roles
        .get("dpo")
        .cloned()
        .unwrap_or_default();
    let to = if recipients.is_empty() {
        vec![loaded.config.organisation.dpo_email.clone()]
            .into_iter()
            .filter(|s| !s.is_empty())
            .collect()
    } else {
        recipients
    };
    let subject = format!(
        "DRAFT ICO personal data breach report: {} {}",
        draft.id, draft.title
    );
    let message =
        drafts::draft_message(&subject, &markdown, &html, &loaded.config.alerts.from, &to)?;
    let stem = format!("ico-{}", safe_file_stem(&draft.id));
    let paths = [
        (args.out.join(format!("{stem}.md")), markdown.into_bytes()),
        (args.out.join(format!("{stem}.html")), html.into_bytes()),
        (
            args.out.join(format!("{stem}.pdf")),
            drafts::ico_pdf(&draft),
        ),
        (args.out.join(format!("{stem}.eml")), message.formatted()),
    ];
    for (path, bytes) in &paths {
        regwatch::util::atomic::write_bytes_atomic(path, bytes)?;
        println!("wrote {}", path.display());
    }
    if let Some(c) = &draft.clock {
        println!(
            "clock: {} ({}), deadline {}",
            c.status, c.time, c.deadline_local
        );
    }
    println!(
        "checklist: {} item(s) missing{}",
        draft.missing,
        if draft.phased {
            "; consider phased reporting (Art. 33(4))"
        } else {
            ""
        }
    );
    if args.send {
        alerts::send_one(&delivery, &message)?;
        println!("sent the draft to {}", to.join(", "));
    }
    Ok(ExitCode::SUCCESS)
}

fn draft_fca(config: Config, args: FcaArgs) -> Result<ExitCode> {
    use regwatch::documents::drafts;
    let a = &args.draft;
    let now = parse_now(a.input.now.as_deref(), &config)?;
    let templates_dir = a
        .templates
        .clone()
        .unwrap_or_else(|| config.resolve(&config.paths.templates));
    let templates = drafts::DraftTemplates::load(&templates_dir, "fca-draft")?;
    let delivery = parse_delivery(&a.transport, &config)?;
    let loaded = load(config, &a.input)?;
    let Some(inc) = loaded.incidents.iter().find(|i| *i.id == *a.incident) else {
        return Err(bad_input(format!(
            "no incident {:?} in the input",
            a.incident
        )));
    };
    let evaluation = loaded.evaluate(now, &|_| true);
    let deadlines = evaluation.sorted();
    let draft = drafts::fca_draft(
        inc,
        &deadlines,
        &loaded.config.organisation,
        args.stage.as_deref(),
        now,
        loaded.tz,
    )?;
    let markdown = templates.markdown(&draft)?;
    let html = templates.html(&draft)?;
    let to = loaded
        .config
        .alerts
        .roles
        .get("resilience")
        .or_else(|| loaded.config.alerts.roles.get("default"))
        .cloned()
        .unwrap_or_default();
    let subject = format!(
        "DRAFT FCA/PRA operational incident report ({}): {} {}",
        draft.stage, draft.id, draft.title
    );
    let message =
        drafts::draft_message(&subject, &markdown, &html, &loaded.config.alerts.from, &to)?;
    let stem = format!(
        "fca-{}-{}",
        safe_file_stem(&draft.id),
        safe_file_stem(&draft.stage)
    );
    for (path, bytes) in [
        (a.out.join(format!("{stem}.md")), markdown.into_bytes()),
        (a.out.join(format!("{stem}.html")), html.into_bytes()),
        (a.out.join(format!("{stem}.pdf")), drafts::fca_pdf(&draft)),
        (a.out.join(format!("{stem}.eml")), message.formatted()),
    ] {
        regwatch::util::atomic::write_bytes_atomic(&path, &bytes)?;
        println!("wrote {}", path.display());
    }
    if let Some(reason) = &draft.not_reportable {
        println!("not reportable to the FCA/PRA: {reason}");
    }
    if let Some(c) = &draft.current {
        println!(
            "{} report: {} ({}){}",
            c.stage,
            c.status,
            c.time,
            c.deadline_local
                .as_deref()
                .map(|d| format!(", deadline {d}"))
                .unwrap_or_default()
        );
    }
    println!("checklist: {} item(s) missing", draft.missing);
    if a.send {
        alerts::send_one(&delivery, &message)?;
        println!("sent the draft to {}", to.join(", "));
    }
    Ok(ExitCode::SUCCESS)
}

fn report_cmd(config: Config, args: ReportArgs) -> Result<ExitCode> {
    use regwatch::documents::report;
    let now = parse_now(args.input.now.as_deref(), &config)?;
    let templates_dir = args
        .templates
        .clone()
        .unwrap_or_else(|| config.resolve(&config.paths.templates));
    let templates = report::ReportTemplates::load(&templates_dir)?;
    let mappings = args
        .input
        .mappings
        .clone()
        .unwrap_or_else(|| config.resolve(&config.paths.mappings));
    let mut sources: Vec<PathBuf> = args.input.inputs.clone();
    sources.push(mappings.join("regimes.toml"));
    sources.push(mappings.join("uk-bank-holidays.json"));
    if let Some(s) = args
        .input
        .services
        .clone()
        .or_else(|| config.paths.services.as_ref().map(|p| config.resolve(p)))
    {
        sources.push(s);
    }
    if let Some(c) = &config.source {
        sources.push(c.clone());
    }
    let loaded = load(config, &args.input)?;
    let month = report::Month::parse(&args.month, loaded.tz)?;
    let audit = if args.audit.is_empty() {
        None
    } else {
        let mut report = run_audit(
            &loaded.config,
            &mappings,
            None,
            &args.audit,
            None,
            false,
            &loaded.incidents,
            (
                regwatch::audit::CHANGES_IN_MEMORY,
                regwatch::audit::FINDINGS_IN_MEMORY,
            ),
            args.input.redact,
            &|_| {},
        )?;
        if args.input.redact {
            report.redact(&regwatch::incidents::redact::Redactor::new(&loaded.config.redaction));
        }
        eprintln!("{}", regwatch::audit::render::counts_line(&report));
        write_audit_quarantine(&report, None, false)?;
        sources.extend(report.files.iter().map(PathBuf::from));
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
    let written = report::write(&model, &templates, &out, &sources)?;
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
    Ok(ExitCode::SUCCESS)
}

/// An incident id made safe for a file name.
fn safe_file_stem(id: &str) -> String {
    id.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect()
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
    let delivery = parse_delivery(&args.transport, &config)?;
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

/// Reads the mappings, then the audit logs, and runs every enabled policy.
#[allow(clippy::too_many_arguments)]
fn run_audit(
    config: &Config,
    mappings: &Path,
    policies: Option<&Path>,
    inputs: &[PathBuf],
    format: Option<regwatch::audit::sources::SourceFormat>,
    strict: bool,
    incidents: &[regwatch::incidents::record::Incident],
    (changes_in_memory, findings_in_memory): (usize, usize),
    redact: bool,
    progress: &(dyn Fn(u64) + Sync),
) -> Result<regwatch::audit::AuditReport> {
    let setup = regwatch::audit::AuditSetup::load(config, mappings, policies)?;
    let input = regwatch::audit::AuditInput {
        inputs,
        format,
        strict,
        input_tz: config.input_tz()?,
        display_tz: config.display_tz()?,
        calendar: &setup.calendar,
        policies: &setup.policies,
        catalogue: &setup.catalogue,
        mappings: &setup.mappings,
        environments: &config.audit,
        incidents,
        changes_in_memory,
        findings_in_memory,
        people: redact,
    };
    regwatch::audit::run(&input, progress)
}

/// Writes rejected audit records where a person can review them, and says so.
fn write_audit_quarantine(
    report: &regwatch::audit::AuditReport,
    path: Option<&Path>,
    quiet: bool,
) -> Result<()> {
    if report.rejected.is_empty() {
        return Ok(());
    }
    let path = path.map_or_else(|| PathBuf::from("audit.quarantine.csv"), Path::to_path_buf);
    write_quarantine(&path, &report.rejected)?;
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

fn audit_cmd(config: Config, args: AuditArgs) -> Result<ExitCode> {
    use regwatch::audit::{self, render};
    use std::io::IsTerminal;
    let mappings = args
        .mappings
        .clone()
        .unwrap_or_else(|| config.resolve(&config.paths.mappings));
    let tz = config.display_tz()?;
    let incidents = match &args.incidents {
        Some(path) => {
            let opts = LoadOptions {
                mappings: Some(mappings.clone()),
                ..LoadOptions::default()
            };
            Loaded::load(config.clone(), std::slice::from_ref(path), &opts)?.incidents
        }
        None => Vec::new(),
    };
    let bar = if args.quiet || !std::io::stderr().is_terminal() {
        indicatif::ProgressBar::hidden()
    } else {
        let bar = indicatif::ProgressBar::new(audit::input_bytes(&args.inputs, args.input_format)?);
        bar.set_style(
            indicatif::ProgressStyle::with_template(
                "{spinner} reading audit logs {bar:30} {bytes}/{total_bytes} {bytes_per_sec} {eta}",
            )
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        );
        bar
    };
    let t0 = std::time::Instant::now();
    let mut report = run_audit(
        &config,
        &mappings,
        args.policies.as_deref(),
        &args.inputs,
        args.input_format,
        args.strict,
        &incidents,
        (args.changes_in_memory, args.findings_in_memory),
        args.redact,
        &|done| bar.set_position(done),
    )?;
    if args.redact {
        report.redact(&regwatch::incidents::redact::Redactor::new(&config.redaction));
    }
    bar.finish_and_clear();
    // The table starts with the counts; other formats get them on standard error.
    let table_on_terminal = matches!(args.format, AuditFormat::Table) && args.output.is_none();
    if !args.quiet && !table_on_terminal {
        eprintln!("{}", render::counts_line(&report));
    }
    write_audit_quarantine(&report, args.quarantine.as_deref(), args.quiet)?;
    emit(args.output.as_deref(), |w| match args.format {
        AuditFormat::Table => render::write_table(w, &report, tz, args.coverage),
        AuditFormat::Json => render::write_json(w, &report, tz),
        AuditFormat::Csv => render::write_csv(w, &report, tz),
        AuditFormat::Sarif => render::write_sarif(w, &report),
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
    let gate = args.fail_on.map(|f| match f {
        FailOn::Low => regwatch::controls::Severity::Low,
        FailOn::Medium => regwatch::controls::Severity::Medium,
        FailOn::High => regwatch::controls::Severity::High,
        FailOn::Critical => regwatch::controls::Severity::Critical,
    });
    Ok(match (gate, report.worst()) {
        (Some(g), Some(w)) if w >= g => ExitCode::from(1),
        _ => ExitCode::SUCCESS,
    })
}
