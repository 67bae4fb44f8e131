//! The audit as people read it at a terminal: counts, each finding, counts by policy,
//! change metrics and (on request) the NIST AI RMF coverage, wrapped to the terminal's
//! width with severities in colour there (see `render::terminal`).

use std::io::Write;

use anyhow::Result;
use chrono_tz::Tz;
use comfy_table::{Cell, CellAlignment};

use super::event::millis_to_time;
use super::render::{counts_line, place, severity_name, sigma_line, waiver_lines};
use super::sources::SourceFormat;
use super::AuditReport;
use crate::clock::local_text;
use crate::controls::Severity;
use crate::render::terminal::{Terminal, Tone};

/// Critical and high in red, medium in yellow.
fn severity_tone(s: Severity) -> Tone {
    match s {
        Severity::Critical | Severity::High => Tone::Bad,
        Severity::Medium => Tone::Warn,
        Severity::Low => Tone::Plain,
    }
}

pub fn write_table(
    w: &mut dyn Write,
    report: &AuditReport,
    tz: Tz,
    coverage: bool,
    term: Terminal,
) -> Result<()> {
    term.paragraph(w, 0, &counts_line(report))?;
    term.paragraph(w, 0, &sigma_line(report))?;
    for r in &report.sigma.refused {
        term.paragraph(
            w,
            2,
            &format!("refused {} ({}): {}", r.rule, r.file, r.reason),
        )?;
    }
    for s in &report.sources {
        let skipped = if s.skipped > 0 {
            format!(", skipped {}", s.skipped)
        } else {
            String::new()
        };
        let line = format!(
            "{}  {}  read {}, accepted {}, rejected {}{skipped}",
            s.file,
            s.format.map_or("?", SourceFormat::as_str),
            s.read,
            s.accepted,
            s.rejected,
        );
        term.paragraph(w, 2, &line)?;
        if let Some(reason) = &s.file_rejected {
            term.paragraph(w, 4, &format!("rejected whole: {reason}"))?;
        }
    }
    for s in &report.skipped_files {
        term.paragraph(w, 2, &format!("{}  skipped: {}", s.file, s.reason))?;
    }
    for line in waiver_lines(report) {
        let text = line.trim_start();
        term.paragraph(w, line.len() - text.len(), text)?;
    }
    for a in &report.unmapped_accounts {
        term.paragraph(
            w,
            2,
            &format!("account {a} is not in [audit] accounts: its events' environment is unknown"),
        )?;
    }
    let sev: Vec<String> = ["critical", "high", "medium", "low"]
        .iter()
        .filter_map(|s| {
            report
                .findings_by_severity
                .get(*s)
                .map(|n| format!("{s} {n}"))
        })
        .collect();
    writeln!(w)?;
    let waived = report
        .waivers
        .as_ref()
        .map_or(String::new(), |s| format!("; {} waived", s.waived));
    writeln!(
        w,
        "Findings: {}{}{waived}",
        report.findings.len(),
        if sev.is_empty() {
            String::new()
        } else {
            format!(" ({})", sev.join(", "))
        }
    )?;
    for f in report.findings.iter()? {
        let f = f?;
        writeln!(w)?;
        let waiver = report.waiver_of(&f);
        let mut head = term.table(&[]);
        let mut cells = vec![
            term.cell(
                format!("{:<8}", severity_name(f.severity).to_uppercase()),
                severity_tone(f.severity),
            ),
            Cell::new(&*f.policy),
            Cell::new(local_text(millis_to_time(f.first_at), tz)),
        ];
        if let Some(waiver) = waiver {
            cells.push(term.cell(format!("WAIVED ({})", waiver.id), Tone::Good));
        }
        head.add_row(cells);
        term.write(w, &mut head)?;
        if let Some(waiver) = waiver {
            term.paragraph(w, 2, &waiver.justification())?;
        }
        term.paragraph(w, 2, &f.detail)?;
        let mut who = Vec::new();
        if !f.change_id.is_empty() {
            who.push(format!("change {}", f.change_id));
        }
        if !f.actors.is_empty() {
            who.push(format!("actors: {}", f.actors.join(", ")));
        }
        if !f.resources.is_empty() {
            let r = f.resources_text(5);
            who.push(format!("resources: {r}"));
        }
        if !who.is_empty() {
            term.paragraph(w, 2, &who.join(" · "))?;
        }
        if !f.events.is_empty() {
            let places: Vec<String> = f
                .events
                .iter()
                .take(5)
                .map(|e| place(report, e.source, e.line))
                .collect();
            let all = f.event_count.max(f.events.len() as u64);
            let tail = if all > places.len() as u64 {
                format!(" ({all} events in all)")
            } else {
                String::new()
            };
            term.paragraph(w, 2, &format!("events: {}{tail}", places.join(", ")))?;
        }
        term.paragraph(w, 2, &format!("why: {}", f.rationale))?;
        let mut maps = format!("NIST AI RMF: {}", f.nist.join(", "));
        if !f.obligations.is_empty() {
            maps.push_str(&format!("; {}", f.obligations.join("; ")));
        }
        term.paragraph(w, 2, &maps)?;
    }
    writeln!(w)?;
    writeln!(w, "By policy:")?;
    let mut by_policy = term.table(&[]);
    for p in report.policies.iter().filter(|p| report.listed(p)) {
        let n = report.findings_by_policy.get(&p.id).copied().unwrap_or(0);
        by_policy.add_row(vec![
            Cell::new(format!("  {}", p.id)),
            term.cell(severity_name(p.severity), severity_tone(p.severity)),
            Cell::new(n),
        ]);
    }
    term.write(w, &mut by_policy)?;
    if !report.metrics.is_empty() {
        writeln!(w)?;
        writeln!(
            w,
            "Change metrics (production deployments by who applied them):"
        )?;
        let mut metrics = term.table(&[
            "  month",
            "driven by",
            "deploys",
            "lead time (median h)",
            "failure rate",
            "time to restore (median h)",
        ]);
        for m in &report.metrics {
            let opt = |x: Option<f64>| x.map_or("-".to_string(), |v| format!("{v:.1}"));
            metrics.add_row(vec![
                Cell::new(format!("  {}", m.month)),
                Cell::new(&m.driven_by),
                Cell::new(m.deployments),
                Cell::new(opt(m.lead_time_hours)),
                Cell::new(format!("{:.0}%", m.change_failure_rate * 100.0)),
                Cell::new(opt(m.time_to_restore_hours)),
            ]);
        }
        right_align(&mut metrics, 2..6);
        term.write(w, &mut metrics)?;
    }
    if coverage {
        writeln!(w)?;
        write_coverage(w, report, term)?;
    }
    Ok(())
}

/// Numbers line up on the right.
fn right_align(table: &mut comfy_table::Table, columns: std::ops::Range<usize>) {
    for i in columns {
        if let Some(c) = table.column_mut(i) {
            c.set_cell_alignment(CellAlignment::Right);
        }
    }
}

/// The NIST AI RMF coverage table: every subcategory, its policies, pass and fail.
pub fn write_coverage(w: &mut dyn Write, report: &AuditReport, term: Terminal) -> Result<()> {
    let covered = report.coverage.iter().filter(|c| c.covered()).count();
    term.paragraph(
        w,
        0,
        &format!(
            "NIST AI RMF 1.0 coverage: {covered} of {} subcategories have evidence from the policies",
            report.coverage.len()
        ),
    )?;
    let unseen = report.coverage.iter().any(|c| c.no_evidence > 0);
    let mut header = vec!["  subcategory", "pass", "fail"];
    if unseen {
        header.push("no evidence");
    }
    header.extend(["findings", "policies"]);
    let mut table = term.table(&header);
    for c in report.coverage.iter().filter(|c| c.covered()) {
        let mut row = vec![
            Cell::new(format!("  {}", c.id)),
            Cell::new(c.passed),
            Cell::new(c.failed),
        ];
        if unseen {
            row.push(Cell::new(c.no_evidence));
        }
        row.extend([Cell::new(c.findings), Cell::new(c.policies.join(", "))]);
        table.add_row(row);
    }
    right_align(&mut table, 1..header.len() - 1);
    term.write(w, &mut table)?;
    if unseen {
        term.paragraph(
            w,
            2,
            "no evidence: policies that read only logs of a kind none of which was read (CloudTrail, Kubernetes), or only production events when none was in production",
        )?;
    }
    let none: Vec<&str> = report
        .coverage
        .iter()
        .filter(|c| !c.covered())
        .map(|c| c.id.as_str())
        .collect();
    term.paragraph(
        w,
        2,
        &format!("no evidence ({}): {}", none.len(), none.join(", ")),
    )?;
    Ok(())
}
