//! `regwatch draft ico|fca`: drafts for a regulator, for a person to check and send.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Result;
use clap::{Args, Subcommand};

use super::inputs::{exit_code, parse_delivery, templates, InputArgs};
use regwatch::config::Config;
use regwatch::documents::drafts::publish::{self, Prepared};
use regwatch::documents::drafts::{DraftTemplates, SpecialCategories};
use regwatch::notify::alerts;

#[derive(Subcommand)]
pub enum DraftKind {
    /// The ICO personal data breach report for one incident (UK GDPR Art. 33(3)).
    Ico(DraftArgs),
    /// The FCA/PRA operational incident report (initial, intermediate or final) for one
    /// incident, with its important business services and their impact tolerances.
    Fca(FcaArgs),
}

#[derive(Args)]
pub struct FcaArgs {
    #[command(flatten)]
    draft: DraftArgs,
    /// initial, intermediate or final (default: the first stage not yet submitted).
    #[arg(long)]
    stage: Option<String>,
}

#[derive(Args)]
pub struct DraftArgs {
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

pub fn exec(config: Config, kind: DraftKind) -> Result<ExitCode> {
    match kind {
        DraftKind::Ico(a) => ico(config, a),
        DraftKind::Fca(a) => fca(config, a),
    }
}

fn ico(config: Config, a: DraftArgs) -> Result<ExitCode> {
    let now = a.input.now(&config)?;
    let templates = DraftTemplates::load(
        templates(a.templates.as_deref(), &config).as_deref(),
        "ico-draft",
    )?;
    let special = SpecialCategories::load(a.input.mappings(&config).as_deref())?;
    let delivery = parse_delivery(&a.transport, &config)?;
    let loaded = a.input.load(config)?;
    let p = publish::ico(
        &loaded,
        &a.incident,
        &a.input.inputs,
        &templates,
        &special,
        now,
    )?;
    write(&p, &a)?;
    if let Some(c) = &p.draft.clock {
        println!(
            "clock: {} ({}), deadline {}",
            c.status, c.time, c.deadline_local
        );
    }
    println!(
        "checklist: {} item(s) missing{}",
        p.draft.missing,
        if p.draft.phased {
            "; consider phased reporting (Art. 33(4))"
        } else {
            ""
        }
    );
    send(&p, &a, &delivery)?;
    Ok(exit_code(0, &loaded))
}

fn fca(config: Config, args: FcaArgs) -> Result<ExitCode> {
    let a = &args.draft;
    let now = a.input.now(&config)?;
    let templates = DraftTemplates::load(
        templates(a.templates.as_deref(), &config).as_deref(),
        "fca-draft",
    )?;
    let delivery = parse_delivery(&a.transport, &config)?;
    let loaded = a.input.load(config)?;
    let p = publish::fca(&loaded, &a.incident, args.stage.as_deref(), &templates, now)?;
    write(&p, a)?;
    if let Some(reason) = &p.draft.not_reportable {
        println!("not reportable to the FCA/PRA: {reason}");
    }
    if let Some(c) = &p.draft.current {
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
    println!("checklist: {} item(s) missing", p.draft.missing);
    send(&p, a, &delivery)?;
    Ok(exit_code(0, &loaded))
}

fn write<D>(p: &Prepared<D>, a: &DraftArgs) -> Result<()> {
    if let Some(note) = &p.stem_note {
        println!("note: {note}");
    }
    for path in p.write(&a.out)? {
        println!("wrote {}", path.display());
    }
    Ok(())
}

/// With `--send`, e-mails the draft for review.
fn send<D>(p: &Prepared<D>, a: &DraftArgs, delivery: &alerts::Delivery) -> Result<()> {
    if a.send {
        alerts::send_one(delivery, &p.message)?;
        println!("sent the draft to {}", p.to.join(", "));
    }
    Ok(())
}
