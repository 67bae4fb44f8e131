//! `audit --format oscal`: the NIST AI RMF 1.0 coverage as an OSCAL assessment-results
//! document (JSON), for GRC tools.
//!
//! The assessment plan is the run's policies (named in back-matter, which `import-ap`
//! points at). Each policy that ran is an observation (what it checks, and its outcome:
//! no findings, findings with the first events, or no evidence); each subcategory a
//! policy gives evidence for is a finding whose target is that subcategory
//! (`govern-1.1`), satisfied when all its policies passed, not satisfied when one
//! failed or none had evidence, with its observations related. Subcategories no policy
//! covers are excluded from the reviewed controls, so all 72 are accounted for. Each
//! finding carries the subcategory's CISO Assistant URN as a prop, for import as
//! evidence.
//!
//! UUIDs are name-based (v5): a policy's observation and a subcategory's finding have
//! the same UUID on every run, and the document's and the result's are derived from
//! the results' content, so two runs over the same logs differ only in
//! `last-modified`, and a diff shows what changed.

use std::collections::BTreeMap;
use std::io::Write;

use anyhow::Result;
use chrono::{DateTime, Utc};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use super::coverage::SubcategoryCoverage;
use super::render::{counts_line, place};
use super::AuditReport;
use crate::clock::utc_text;
use crate::controls::{nist_control_id, nist_urn, Policy};
use crate::util::stable_id::stable_uuid;

/// The OSCAL version the document follows (the models it is validated against).
pub const OSCAL_VERSION: &str = "1.2.1";
/// The namespace of regwatch's props.
const NS: &str = "urn:regwatch:oscal";
/// Events named per failing policy in its evidence.
const PLACES: usize = 5;

fn prop(name: &str, value: impl ToString) -> Value {
    json!({"name": name, "ns": NS, "value": value.to_string()})
}

/// How a policy came out in the run.
enum Outcome {
    Pass,
    Fail(u64),
    NoEvidence,
}

fn outcome(report: &AuditReport, p: &Policy) -> Outcome {
    match report.findings_by_policy.get(&p.id).copied().unwrap_or(0) {
        0 if report.no_evidence.contains(&p.id) => Outcome::NoEvidence,
        0 => Outcome::Pass,
        n => Outcome::Fail(n),
    }
}

/// Writes the assessment results. `now` is the document's `last-modified`.
pub fn write_oscal(w: &mut dyn Write, report: &AuditReport, now: DateTime<Utc>) -> Result<()> {
    // The first events of each policy's findings, read once.
    let mut places: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for f in report.findings.iter()? {
        let f = f?;
        let list = places.entry(f.policy.to_string()).or_default();
        for e in &f.events {
            if list.len() < PLACES {
                list.push(place(report, e.source, e.line));
            }
        }
    }
    let ran: Vec<&Policy> = (report.policies.iter())
        .filter(|p| !report.idle_rules.contains(&p.id))
        .collect();
    // When the evidence was collected: the last event read (the run's time without one).
    let collected = report
        .totals
        .last_event
        .clone()
        .unwrap_or_else(|| utc_text(now));
    let observations: Vec<Value> = (ran.iter())
        .map(|p| observation(report, p, places.get(&p.id), &collected))
        .collect();
    let (covered, uncovered): (Vec<&SubcategoryCoverage>, Vec<&SubcategoryCoverage>) =
        report.coverage.iter().partition(|c| c.covered());
    let findings: Vec<Value> = covered.iter().map(|c| finding(c)).collect();
    let selection = |c: &&SubcategoryCoverage| json!({"control-id": nist_control_id(&c.id)});
    let mut controls = json!({
        "description": "The NIST AI RMF 1.0 subcategories the policies give evidence for.",
        "include-controls": covered.iter().map(selection).collect::<Vec<_>>(),
    });
    if !uncovered.is_empty() {
        controls["exclude-controls"] = uncovered.iter().map(selection).collect();
        controls["remarks"] =
            json!("Excluded: subcategories no policy of this run gives evidence for.");
    }
    let mut result = json!({
        "title": "regwatch audit: guardrail policies and Sigma rules over the audit logs",
        "description": format!(
            "{}. Files: {}.",
            counts_line(report),
            if report.files.is_empty() { "none".to_string() } else { report.files.join(", ") }
        ),
        "start": report.totals.first_event.clone().unwrap_or_else(|| utc_text(now)),
        "reviewed-controls": {"control-selections": [controls]},
        "observations": observations,
        "findings": findings,
    });
    if let Some(end) = &report.totals.last_event {
        result["end"] = json!(end);
    }
    // OSCAL lists are never empty: one with nothing is left out.
    for key in ["observations", "findings"] {
        if result[key].as_array().is_some_and(Vec::is_empty) {
            result.as_object_mut().map(|r| r.remove(key));
        }
    }
    // The ids that change with the content: a digest of the result.
    let digest = hex(&Sha256::digest(serde_json::to_vec(&result)?));
    result["uuid"] = json!(stable_uuid(&format!("result:{digest}")));
    let ids: Vec<&str> = ran.iter().map(|p| p.id.as_str()).collect();
    let plan = stable_uuid(&format!("assessment-plan:{}", ids.join(",")));
    let doc = json!({
        "assessment-results": {
            "uuid": stable_uuid(&format!("assessment-results:{digest}")),
            "metadata": {
                "title": "NIST AI RMF 1.0 coverage: regwatch audit",
                "last-modified": utc_text(now),
                "version": format!("regwatch {}", env!("CARGO_PKG_VERSION")),
                "oscal-version": OSCAL_VERSION,
            },
            "import-ap": {
                "href": format!("#{plan}"),
                "remarks": "The assessment plan is the run's policies, in back-matter.",
            },
            "results": [result],
            "back-matter": {"resources": [plan_resource(&plan, &ran)]},
        }
    });
    serde_json::to_writer_pretty(&mut *w, &doc)?;
    writeln!(w)?;
    Ok(())
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A policy's observation: what it checks, how it came out, the first events found.
fn observation(
    report: &AuditReport,
    p: &Policy,
    places: Option<&Vec<String>>,
    collected: &str,
) -> Value {
    let (result, evidence, kind) = match outcome(report, p) {
        Outcome::Pass => (
            "pass",
            "No findings in the logs read.".to_string(),
            "control-objective",
        ),
        Outcome::NoEvidence => (
            "no-evidence",
            "No evidence: the policy only looks at production, and no event read was in production."
                .to_string(),
            "control-objective",
        ),
        Outcome::Fail(n) => (
            "fail",
            format!(
                "{n} finding(s); first events: {}.",
                places.map_or(String::new(), |p| p.join(", "))
            ),
            "finding",
        ),
    };
    let findings = report.findings_by_policy.get(&p.id).copied().unwrap_or(0);
    json!({
        "uuid": stable_uuid(&format!("observation:{}", p.id)),
        "title": p.title,
        "description": p.checks,
        "props": [
            prop("policy", &p.id),
            prop("result", result),
            prop("findings", findings),
            prop("severity", format!("{:?}", p.severity).to_lowercase()),
        ],
        "methods": ["TEST"],
        "types": [kind],
        "relevant-evidence": [{"description": evidence}],
        "collected": collected,
        "remarks": format!("Why it matters: {}", p.rationale),
    })
}

/// A subcategory's finding: satisfied when every policy giving evidence passed.
fn finding(c: &SubcategoryCoverage) -> Value {
    let (state, reason) = if c.failed > 0 {
        ("not-satisfied", "fail")
    } else if c.passed > 0 {
        ("satisfied", "pass")
    } else {
        ("not-satisfied", "other")
    };
    let mut status = json!({"state": state, "reason": reason});
    if reason == "other" {
        status["remarks"] =
            json!("No evidence: its policies read only logs of a kind none of which was read, or only production events and no event read was.");
    }
    json!({
        "uuid": stable_uuid(&format!("finding:{}", c.id)),
        "title": format!("{}: {}", c.id, c.text),
        "description": format!(
            "{} polic(ies): {} passed, {} failed, {} no evidence; {} finding(s).",
            c.policies.len(), c.passed, c.failed, c.no_evidence, c.findings
        ),
        "props": [
            prop("nist-ai-rmf-id", &c.id),
            prop("ciso-assistant-urn", nist_urn(&c.id)),
        ],
        "target": {
            "type": "objective-id",
            "target-id": nist_control_id(&c.id),
            "status": status,
        },
        "related-observations": c.policies.iter()
            .map(|p| json!({"observation-uuid": stable_uuid(&format!("observation:{p}"))}))
            .collect::<Vec<_>>(),
    })
}

/// The assessment plan: the policies and rules the run applied.
fn plan_resource(uuid: &str, ran: &[&Policy]) -> Value {
    let list: Vec<String> = ran
        .iter()
        .map(|p| format!("{} ({})", p.id, p.title))
        .collect();
    json!({
        "uuid": uuid,
        "title": "regwatch guardrail policies and Sigma rules (the assessment plan)",
        "description": format!(
            "The {} policies this run applied, from policies.toml and the Sigma rules: {}.",
            ran.len(),
            list.join("; ")
        ),
    })
}
