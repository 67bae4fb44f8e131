//! `audit --format ocsf`: each finding as an OCSF 1.8.0 Compliance Finding event (class
//! 2003, category Findings), one JSON object per line, for security data lakes and SIEMs
//! (Amazon Security Lake custom sources, Splunk, OpenSearch...), which take OCSF events as
//! newline-delimited JSON and batch or convert them (to Parquet for Security Lake).
//!
//! The requirement each finding bears on is its NIST AI RMF subcategories, as the URNs
//! CISO Assistant uses (`compliance.requirements`), so a GRC tool can file it as evidence.
//! What OCSF has no attribute for (change id, obligations, Sigma rule source) is under
//! `unmapped.regwatch`.

use std::io::Write;

use anyhow::Result;
use chrono::{DateTime, Utc};
use serde_json::{json, Map, Value};

use super::event::millis_to_time;
use super::model::Finding;
use super::render::place;
use super::AuditReport;
use crate::clock::utc_text;
use crate::controls::{nist_urn, Severity};
use crate::util::stable_id::stable_uuid;

/// The OCSF schema version the events follow (`metadata.version`).
pub const OCSF_VERSION: &str = "1.8.0";
/// Category Findings (2), class Compliance Finding (2003).
const CATEGORY_UID: u32 = 2;
const CLASS_UID: u32 = 2003;
/// Activity Create (1): each export reports the findings as found in this run.
const ACTIVITY_CREATE: u32 = 1;

/// OCSF's `severity_id` and its caption.
fn severity(s: Severity) -> (u8, &'static str) {
    match s {
        Severity::Low => (2, "Low"),
        Severity::Medium => (3, "Medium"),
        Severity::High => (4, "High"),
        Severity::Critical => (5, "Critical"),
    }
}

/// Writes one OCSF Compliance Finding event per finding, one per line. `now` is when the
/// run made them (`time`, `finding_info.created_time`); the events' own times are
/// `start_time`/`end_time` and `first_seen_time`/`last_seen_time`.
pub fn write_ocsf(w: &mut dyn Write, report: &AuditReport, now: DateTime<Utc>) -> Result<()> {
    let now_ms = now.timestamp_millis();
    for f in report.findings.iter()? {
        let f = f?;
        serde_json::to_writer(&mut *w, &event(report, &f, now_ms))?;
        w.write_all(b"\n")?;
    }
    Ok(())
}

/// One Compliance Finding event.
fn event(report: &AuditReport, f: &Finding, now_ms: i64) -> Value {
    let (severity_id, severity) = severity(f.severity);
    let is_sigma = f.source.is_some();
    let mut finding_info = json!({
        "uid": stable_uuid(&format!("finding:{}", f.fingerprint())),
        "title": &*f.title,
        "desc": format!("{}\n\nWhy it matters: {}", f.detail, f.rationale),
        "types": [if is_sigma { "Sigma rule match" } else { "Guardrail policy breach" }],
        "created_time": now_ms,
        "first_seen_time": f.first_at,
        "last_seen_time": f.last_at,
        "analytic": {
            "uid": &*f.policy,
            "name": &*f.policy,
            "type_id": 1,
            "type": "Rule",
        },
    });
    if let Some(s) = &f.source {
        finding_info["analytic"]["uid"] = json!(s.rule_id);
    }
    let mut event = json!({
        "activity_id": ACTIVITY_CREATE,
        "activity_name": "Create",
        "category_uid": CATEGORY_UID,
        "category_name": "Findings",
        "class_uid": CLASS_UID,
        "class_name": "Compliance Finding",
        "type_uid": CLASS_UID * 100 + ACTIVITY_CREATE,
        "type_name": "Compliance Finding: Create",
        "severity_id": severity_id,
        "severity": severity,
        "status_id": 1,
        "status": "New",
        "time": now_ms,
        "start_time": f.first_at,
        "end_time": f.last_at,
        "count": f.event_count,
        "message": &f.detail,
        "finding_info": finding_info,
        "compliance": {
            "standards": ["NIST AI RMF 1.0"],
            "requirements": f.nist.iter().map(|id| nist_urn(id)).collect::<Vec<_>>(),
            "control": &*f.policy,
            "desc": &*f.rationale,
            "status_id": 3,
            "status": "Fail",
        },
        "metadata": {
            "version": OCSF_VERSION,
            "log_name": "regwatch audit",
            "product": {
                "name": "regwatch",
                "vendor_name": "regwatch",
                "version": env!("CARGO_PKG_VERSION"),
            },
        },
        "evidences": evidences(report, f),
        "unmapped": {"regwatch": unmapped(f)},
    });
    if !f.resources.is_empty() {
        event["resources"] = f.resources.iter().map(|r| json!({"name": r})).collect();
    }
    event
}

/// The events the finding rests on (file and line or record, time), then each actor.
fn evidences(report: &AuditReport, f: &Finding) -> Vec<Value> {
    let events = f.events.iter().map(|e| {
        json!({
            "name": place(report, e.source, e.line),
            "data": {
                "file": report.files.get(e.source as usize),
                "position": e.line,
                "time": utc_text(millis_to_time(e.at)),
            },
        })
    });
    let actors = (f.actors.iter()).map(|a| json!({"actor": {"user": {"name": a}}}));
    events.chain(actors).collect()
}

/// What OCSF has no attribute for.
fn unmapped(f: &Finding) -> Value {
    let mut m = Map::new();
    m.insert("policy".into(), json!(&*f.policy));
    m.insert("nist".into(), json!(&*f.nist));
    if !f.change_id.is_empty() {
        m.insert("change_id".into(), json!(f.change_id));
    }
    if !f.obligations.is_empty() {
        m.insert("obligations".into(), json!(&*f.obligations));
    }
    let listed = f.resources.len() as u64;
    if f.resource_count > listed {
        m.insert("resource_count".into(), json!(f.resource_count));
    }
    if f.event_count > f.events.len() as u64 {
        m.insert(
            "events_listed".into(),
            json!(format!("the first {} of {}", f.events.len(), f.event_count)),
        );
    }
    if let Some(s) = &f.source {
        m.insert("source".into(), json!(s));
    }
    Value::Object(m)
}
