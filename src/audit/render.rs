//! Audit outputs: JSON, CSV (formula-safe), XLSX for auditors and SARIF 2.1.0 for CI and
//! code-scanning dashboards (the table for people is in `table.rs`; OCSF and OSCAL have
//! their own files). Each renders the one [`AuditReport`] it is given.

use std::io::Write;

use anyhow::Result;
use chrono_tz::Tz;
use serde::Serialize;
use serde_json::{json, Value};

use super::event::millis_to_time;
use super::model::Finding;
use super::sources::SourceFormat;
use super::waivers::{Waiver, Waivers, EXPIRED_POLICY};
use super::AuditReport;
use crate::clock::{local_rfc3339, push_local_rfc3339, push_utc, utc_text};
use crate::controls::Policy;
use crate::controls::Severity;
use crate::render::sheet::{self, Cell, RowSink, Table};
use crate::render::xlsx::{write_xlsx as write_xlsx_sheets, Fill};

pub(crate) fn severity_name(s: Severity) -> &'static str {
    match s {
        Severity::Low => "low",
        Severity::Medium => "medium",
        Severity::High => "high",
        Severity::Critical => "critical",
    }
}

/// `file:line` (or `file#record` for formats without lines).
pub fn place(report: &AuditReport, source: u32, line: u64) -> String {
    let file = report
        .files
        .get(source as usize)
        .map_or("?", String::as_str);
    if by_record(report, source) {
        format!("{file}#record {line}")
    } else {
        format!("{file}:{line}")
    }
}

fn by_record(report: &AuditReport, source: u32) -> bool {
    if let Some(&by_record) = report.evidence_by_record.get(source as usize) {
        return by_record;
    }
    matches!(
        report.sources.get(source as usize).and_then(|s| s.format),
        Some(SourceFormat::Cloudtrail | SourceFormat::Parquet | SourceFormat::Ocsf)
    )
}

/// The counts line: read = accepted + rejected (+ skipped).
pub fn counts_line(report: &AuditReport) -> String {
    let t = &report.totals;
    let mut s = format!(
        "audit: {} file(s), {} record(s) read = {} accepted + {} rejected",
        t.files, t.read, t.accepted, t.rejected
    );
    if t.skipped > 0 {
        s.push_str(&format!(
            " + {} skipped ({})",
            t.skipped,
            skip_reasons(report)
        ));
    }
    if t.files_rejected > 0 {
        s.push_str(&format!("; {} file(s) rejected whole", t.files_rejected));
    }
    // Files skipped are listed one by one (table, JSON, standard error), not here: the
    // monthly report quotes this line.
    s
}

/// Why records were skipped: the reasons the readers gave (OCSF classes), and for
/// Kubernetes its other stages.
pub fn skip_reasons(report: &AuditReport) -> String {
    let mut why: std::collections::BTreeMap<&str, u64> = Default::default();
    for s in &report.sources {
        for (reason, n) in &s.skip_reasons {
            *why.entry(reason.as_str()).or_default() += n;
        }
    }
    let mut parts: Vec<String> = why.iter().map(|(r, n)| format!("{n} {r}")).collect();
    let k8s = report
        .sources
        .iter()
        .any(|s| s.format == Some(SourceFormat::K8s) && s.skipped > 0);
    if k8s {
        parts.insert(0, "other stages of Kubernetes requests counted once".into());
    }
    parts.join("; ")
}

/// How many Sigma rules were loaded and run, and how many refused.
pub fn sigma_line(report: &AuditReport) -> String {
    let s = &report.sigma;
    format!(
        "sigma: {} rule(s) loaded and run ({} CloudTrail, {} Kubernetes audit), {} refused",
        s.loaded,
        s.cloudtrail,
        s.kubernetes,
        s.refused.len()
    )
}

/// A policy's part of its findings' JSON, serialised once: a run can have hundreds of
/// thousands of findings and a few policies. Keys keep the order of the whole object:
/// policy, title, severity, detail, why, change_id ... last_at, nist, obligations.
struct PolicyJson {
    /// `{"policy":…,"title":…,"severity":…`
    head: Vec<u8>,
    /// `,"why":…`
    why: Vec<u8>,
    /// `,"nist":[…],"obligations":[…]}`
    tail: Vec<u8>,
}

/// A serialised object without its closing brace (and, with `inner`, its opening one),
/// so that parts can be spliced into one object.
fn object_body(value: &impl Serialize, inner: bool) -> Result<Vec<u8>> {
    let mut v = serde_json::to_vec(value)?;
    v.pop();
    if inner {
        v.remove(0);
    }
    Ok(v)
}

impl PolicyJson {
    fn of(p: &Policy) -> Result<PolicyJson> {
        #[derive(Serialize)]
        struct Head<'a> {
            policy: &'a str,
            title: &'a str,
            severity: &'static str,
        }
        #[derive(Serialize)]
        struct Tail<'a> {
            nist: &'a [String],
            obligations: &'a [String],
            /// A Sigma rule's id, author, licence note and file.
            #[serde(skip_serializing_if = "Option::is_none")]
            source: Option<&'a crate::controls::RuleSource>,
        }
        let head = object_body(
            &Head {
                policy: &p.id,
                title: &p.title,
                severity: severity_name(p.severity),
            },
            false,
        )?;
        let mut why = b",\"why\":".to_vec();
        serde_json::to_writer(&mut why, &p.rationale)?;
        let mut tail = b",".to_vec();
        tail.extend(object_body(
            &Tail {
                nist: &p.nist,
                obligations: &p.obligations,
                source: p.source.as_deref(),
            },
            true,
        )?);
        tail.push(b'}');
        Ok(PolicyJson { head, why, tail })
    }
}

/// Each source file's name as a JSON string, escaped once, and whether its events are
/// placed by `record` (formats without lines) or by `line`.
struct SourceJson {
    file: Vec<u8>,
    by_record: bool,
}

/// Appends a JSON string (escaped as serde_json escapes it). Nearly every text needs no
/// escape, which a test eight bytes at a time tells; only the others go through
/// serde_json's writer.
fn push_json_str(out: &mut Vec<u8>, text: &str) -> Result<()> {
    if crate::render::deadlines::needs_escape(text.as_bytes()) {
        serde_json::to_writer(&mut *out, text)?;
    } else {
        out.push(b'"');
        out.extend_from_slice(text.as_bytes());
        out.push(b'"');
    }
    Ok(())
}

/// Appends `key` (written as `,"name":`) and a list of strings.
fn push_json_strs(out: &mut Vec<u8>, key: &[u8], items: &[String]) -> Result<()> {
    out.extend_from_slice(key);
    out.push(b'[');
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        push_json_str(out, item)?;
    }
    out.push(b']');
    Ok(())
}

/// Appends `key` (written as `,"name":`) and a time, as `write` puts it in `buf` (a
/// buffer reused from time to time), as a JSON string: times hold nothing JSON escapes.
fn push_json_time(
    out: &mut Vec<u8>,
    buf: &mut String,
    key: &[u8],
    write: impl FnOnce(&mut String),
) {
    buf.clear();
    write(buf);
    out.extend_from_slice(key);
    out.push(b'"');
    out.extend_from_slice(buf.as_bytes());
    out.push(b'"');
}

/// Appends one finding as a compact JSON object, its keys in this order: policy, title,
/// severity, detail, why, change_id, actors, resources, resource_count, events
/// (`file`, `line` or `record`, `at`), event_count, first_at, first_at_local, last_at,
/// (for a waived finding) waived_by, waiver_reason, waiver_expires, nist, obligations.
/// Written field by field: a big run writes hundreds of thousands, and the policy's and
/// the files' parts are escaped once, not for every finding.
fn push_finding_json(
    out: &mut Vec<u8>,
    sources: &[SourceJson],
    f: &Finding,
    policy: &PolicyJson,
    waiver: Option<&Waiver>,
    tz: Tz,
) -> Result<()> {
    let mut time = String::with_capacity(32);
    out.extend_from_slice(&policy.head);
    out.extend_from_slice(b",\"detail\":");
    push_json_str(out, &f.detail)?;
    out.extend_from_slice(&policy.why);
    out.extend_from_slice(b",\"change_id\":");
    push_json_str(out, &f.change_id)?;
    push_json_strs(out, b",\"actors\":", &f.actors)?;
    push_json_strs(out, b",\"resources\":", &f.resources)?;
    let mut n = itoa::Buffer::new();
    out.extend_from_slice(b",\"resource_count\":");
    out.extend_from_slice(n.format(f.resource_count).as_bytes());
    out.extend_from_slice(b",\"events\":[");
    for (i, e) in f.events.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        let source = sources.get(e.source as usize);
        out.extend_from_slice(b"{\"file\":");
        out.extend_from_slice(source.map_or(b"\"\"", |s| &s.file));
        let by_record = source.is_some_and(|s| s.by_record);
        out.extend_from_slice(if by_record {
            b",\"record\":"
        } else {
            b",\"line\":"
        });
        out.extend_from_slice(n.format(e.line).as_bytes());
        push_json_time(out, &mut time, b",\"at\":", |t| {
            push_utc(t, millis_to_time(e.at))
        });
        out.push(b'}');
    }
    out.push(b']');
    out.extend_from_slice(b",\"event_count\":");
    out.extend_from_slice(n.format(f.event_count).as_bytes());
    let (first, last) = (millis_to_time(f.first_at), millis_to_time(f.last_at));
    push_json_time(out, &mut time, b",\"first_at\":", |t| push_utc(t, first));
    push_json_time(out, &mut time, b",\"first_at_local\":", |t| {
        push_local_rfc3339(t, first, tz)
    });
    push_json_time(out, &mut time, b",\"last_at\":", |t| push_utc(t, last));
    if let Some(w) = waiver {
        out.extend_from_slice(b",\"waived_by\":");
        push_json_str(out, &w.id)?;
        out.extend_from_slice(b",\"waiver_reason\":");
        push_json_str(out, &w.reason)?;
        out.extend_from_slice(b",\"waiver_approver\":");
        push_json_str(out, &w.approver)?;
        out.extend_from_slice(b",\"waiver_expires\":");
        push_json_str(out, &w.expires.to_string())?;
    }
    out.extend_from_slice(&policy.tail);
    Ok(())
}

#[derive(Serialize)]
struct SummaryJson<'a> {
    sources: &'a [super::sources::SourceSummary],
    totals: &'a super::Totals,
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    skipped_files: &'a [super::sources::SkippedFile],
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    unmapped_accounts: &'a [String],
    sigma: &'a super::sigma::SigmaSummary,
    findings: usize,
    findings_by_policy: &'a std::collections::BTreeMap<String, u64>,
    findings_by_severity: &'a std::collections::BTreeMap<String, u64>,
    /// The waivers file: each waiver, whether it expired, and how many findings it waived.
    #[serde(skip_serializing_if = "Option::is_none")]
    waivers: Option<&'a Waivers>,
}

/// The whole report as one JSON document: `summary`, `findings` (one compact object per
/// line, so a big run stays greppable), `coverage` and `metrics`. Findings are written
/// in parallel, a bounded batch at a time.
pub fn write_json(w: &mut dyn Write, report: &AuditReport, tz: Tz) -> Result<()> {
    use rayon::prelude::*;
    let summary = SummaryJson {
        sources: &report.sources,
        totals: &report.totals,
        skipped_files: &report.skipped_files,
        unmapped_accounts: &report.unmapped_accounts,
        sigma: &report.sigma,
        findings: report.findings.len(),
        findings_by_policy: &report.findings_by_policy,
        findings_by_severity: &report.findings_by_severity,
        waivers: report.waivers.as_ref(),
    };
    // By a finding's place in the run's list of policies (the report's list).
    let policies: Vec<(&str, PolicyJson)> = (report.policies.iter())
        .map(|p| Ok((p.id.as_str(), PolicyJson::of(p)?)))
        .collect::<Result<_>>()?;
    let sources: Vec<SourceJson> = (0..report.files.len().max(report.sources.len()))
        .map(|i| -> Result<SourceJson> {
            let file = report.files.get(i).map_or("", String::as_str);
            Ok(SourceJson {
                file: serde_json::to_vec(file)?,
                by_record: by_record(report, i as u32),
            })
        })
        .collect::<Result<_>>()?;
    let indent = |text: Vec<u8>| -> Vec<u8> {
        let mut out = Vec::with_capacity(text.len() + 64);
        for (i, line) in text.split(|&c| c == b'\n').enumerate() {
            if i > 0 {
                out.extend_from_slice(b"\n  ");
            }
            out.extend_from_slice(line);
        }
        out
    };
    w.write_all(b"{\n  \"summary\": ")?;
    w.write_all(&indent(serde_json::to_vec_pretty(&summary)?))?;
    w.write_all(b",\n  \"findings\": [")?;
    const CHUNK: usize = 2048;
    let batch = CHUNK * rayon::current_num_threads().max(1) * 4;
    let total = report.findings.len();
    let mut b = 0;
    report.findings.batches(batch, |findings| {
        // Each chunk is rendered, and let go, on a thread of the pool (findings read back
        // from disk are owned, and dropping them on this thread held the writing up).
        let parts: Vec<Result<Vec<u8>>> = findings
            .into_par_iter()
            .chunks(CHUNK)
            .enumerate()
            .map(|(c, chunk)| {
                let mut out = Vec::with_capacity(chunk.len() * 1024);
                for (k, f) in chunk.iter().enumerate() {
                    let n = b * batch + c * CHUNK + k;
                    out.extend_from_slice(if n == 0 { b"\n    " } else { b",\n    " });
                    let policy = (policies.get(f.policy_index))
                        .filter(|(id, _)| **id == *f.policy)
                        .map(|(_, json)| json)
                        .ok_or_else(|| anyhow::anyhow!("no JSON for policy {}", f.policy))?;
                    push_finding_json(&mut out, &sources, f, policy, report.waiver_of(f), tz)?;
                }
                Ok(out)
            })
            .collect();
        b += 1;
        for part in parts {
            w.write_all(&part?)?;
        }
        Ok(())
    })?;
    w.write_all(if total == 0 { b"]" } else { b"\n  ]" })?;
    w.write_all(b",\n  \"coverage\": ")?;
    w.write_all(&indent(serde_json::to_vec_pretty(&report.coverage)?))?;
    w.write_all(b",\n  \"metrics\": ")?;
    w.write_all(&indent(serde_json::to_vec_pretty(&report.metrics)?))?;
    w.write_all(b"\n}\n")?;
    Ok(())
}

/// The findings as a table: the CSV's columns, and the XLSX sheet's.
pub const FINDINGS_TABLE: Table = Table {
    sheet: "Findings",
    columns: &[
        sheet::text("severity"),
        sheet::text("policy"),
        sheet::text("title"),
        sheet::time("first_at_utc"),
        sheet::text("first_at_local"),
        sheet::text("change_id"),
        sheet::text("actors"),
        sheet::text("resources"),
        sheet::count("resource_count"),
        sheet::count("event_count"),
        sheet::text("events"),
        sheet::text("detail"),
        sheet::text("nist"),
        sheet::text("obligations"),
        sheet::text("waived_by"),
        sheet::text("waiver_reason"),
        sheet::text("waiver_expires"),
    ],
};

/// One row per finding, in [`FINDINGS_TABLE`]'s columns.
pub fn finding_rows(sink: &mut dyn RowSink, report: &AuditReport, tz: Tz) -> Result<()> {
    for f in report.findings.iter()? {
        let f = f?;
        let waiver = report.waiver_of(&f);
        let of_waiver = |part: fn(&Waiver) -> String| waiver.map(part).unwrap_or_default();
        let events: Vec<String> = f
            .events
            .iter()
            .map(|e| place(report, e.source, e.line))
            .collect();
        let first = millis_to_time(f.first_at);
        sink.row(&[
            Cell::text(severity_name(f.severity)),
            Cell::text(&*f.policy),
            Cell::text(&*f.title),
            Cell::Time(first),
            Cell::text(local_rfc3339(first, tz)),
            Cell::text(&f.change_id),
            Cell::text(f.actors.join("; ")),
            Cell::text(f.resources.join("; ")),
            Cell::Count(f.resource_count),
            Cell::Count(f.event_count),
            Cell::text(events.join("; ")),
            Cell::text(&f.detail),
            Cell::text(f.nist.join("; ")),
            Cell::text(f.obligations.join("; ")),
            Cell::text(of_waiver(|w| w.id.clone())),
            Cell::text(of_waiver(|w| w.reason.clone())),
            Cell::text(of_waiver(|w| w.expires.to_string())),
        ])?;
    }
    Ok(())
}

/// The NIST AI RMF coverage as a table (the XLSX's second sheet).
pub const COVERAGE_TABLE: Table = Table {
    sheet: "NIST AI RMF coverage",
    columns: &[
        sheet::text("subcategory"),
        sheet::text("text"),
        sheet::text("policies"),
        sheet::count("pass"),
        sheet::count("fail"),
        sheet::count("no_evidence"),
        sheet::count("findings"),
    ],
};

/// One row per subcategory of the core, all 72, in [`COVERAGE_TABLE`]'s columns.
pub fn coverage_rows(sink: &mut dyn RowSink, report: &AuditReport) -> Result<()> {
    for c in &report.coverage {
        sink.row(&[
            Cell::text(&c.id),
            Cell::text(&c.text),
            Cell::text(c.policies.join("; ")),
            Cell::Count(c.passed),
            Cell::Count(c.failed),
            Cell::Count(c.no_evidence),
            Cell::Count(c.findings),
        ])?;
    }
    Ok(())
}

pub fn write_csv(w: &mut dyn Write, report: &AuditReport, tz: Tz) -> Result<()> {
    sheet::write_csv(w, &FINDINGS_TABLE, |sink| finding_rows(sink, report, tz))
}

/// XLSX for auditors: the findings sheet (the CSV's rows, with real dates and counts)
/// and the NIST AI RMF coverage sheet.
pub fn write_xlsx(w: &mut dyn Write, report: &AuditReport, tz: Tz) -> Result<()> {
    let findings: Fill = Box::new(|sink| finding_rows(sink, report, tz));
    let coverage: Fill = Box::new(|sink| coverage_rows(sink, report));
    write_xlsx_sheets(
        w,
        vec![(&FINDINGS_TABLE, findings), (&COVERAGE_TABLE, coverage)],
    )
}

/// What the waivers did, for a person: how many findings they waived, which expired
/// (each now a finding) and which matched nothing. Empty without a waivers file.
pub fn waiver_lines(report: &AuditReport) -> Vec<String> {
    let Some(set) = &report.waivers else {
        return Vec::new();
    };
    let expired = set.waivers.iter().filter(|w| w.expired).count();
    let mut lines = vec![format!(
        "waivers: {} in {}; {} finding(s) waived (listed, not counted by --fail-on); {expired} expired",
        set.waivers.len(),
        set.file,
        set.waived
    )];
    for w in set.waivers.iter().filter(|w| w.expired) {
        lines.push(format!(
            "  waiver {} expired on {}: it waives nothing (a {} finding)",
            w.id, w.expires, EXPIRED_POLICY
        ));
    }
    for w in set.unused() {
        lines.push(format!(
            "  waiver {} ({}) matched no finding",
            w.id,
            w.scope()
        ));
    }
    lines
}

/// SARIF 2.1.0: one rule per policy, one result per finding, located at its events.
pub fn write_sarif(w: &mut dyn Write, report: &AuditReport) -> Result<()> {
    let level = |s: Severity| match s {
        Severity::Critical | Severity::High => "error",
        Severity::Medium => "warning",
        Severity::Low => "note",
    };
    let score = |s: Severity| match s {
        Severity::Critical => "9.5",
        Severity::High => "7.5",
        Severity::Medium => "5.0",
        Severity::Low => "2.0",
    };
    let ran: Vec<&Policy> = (report.policies.iter())
        .filter(|p| !report.idle_rules.contains(&p.id))
        .collect();
    let rules: Vec<Value> = ran
        .iter()
        .map(|p| {
            let mut rule = json!({
                "id": p.id,
                "name": p.id,
                "shortDescription": {"text": p.title},
                "fullDescription": {"text": p.checks},
                "help": {"text": p.rationale},
                "defaultConfiguration": {"level": level(p.severity)},
                "properties": {
                    "tags": p.nist,
                    "security-severity": score(p.severity),
                    "obligations": p.obligations,
                }
            });
            if let Some(s) = &p.source {
                rule["properties"]["source"] = json!(s);
            }
            rule
        })
        .collect();
    let results: Vec<Value> = report
        .findings
        .iter()?
        .map(|f| {
            let f = f?;
            let index = ran.iter().position(|p| *p.id == *f.policy).unwrap_or(0);
            let locations: Vec<Value> = f
                .events
                .iter()
                .map(|e| {
                    let uri = report.files.get(e.source as usize).cloned().unwrap_or_default();
                    if by_record(report, e.source) {
                        json!({"physicalLocation": {"artifactLocation": {"uri": uri}},
                               "logicalLocations": [{"name": format!("record {}", e.line), "kind": "element"}]})
                    } else {
                        json!({"physicalLocation": {"artifactLocation": {"uri": uri}, "region": {"startLine": e.line}}})
                    }
                })
                .collect();
            // An expired waiver's finding is located in the waivers file.
            let locations = match &report.waivers {
                Some(set) if locations.is_empty() && *f.policy == *EXPIRED_POLICY => {
                    vec![json!({"physicalLocation": {"artifactLocation": {"uri": set.file}}})]
                }
                _ => locations,
            };
            let fingerprint = f.fingerprint();
            let mut result = json!({
                "ruleId": f.policy,
                "ruleIndex": index,
                "level": level(f.severity),
                "message": {"text": format!("{} Why it matters: {}", f.detail, f.rationale)},
                "locations": locations,
                "partialFingerprints": {"regwatchFinding/v1": fingerprint},
                "properties": {
                    "severity": severity_name(f.severity),
                    "change_id": f.change_id,
                    "actors": f.actors,
                    "resources": f.resources,
                    "event_count": f.event_count,
                    "first_at": utc_text(millis_to_time(f.first_at)),
                    "nist": f.nist,
                }
            });
            if let Some(s) = &f.source {
                result["properties"]["source"] = json!(s);
            }
            // SARIF 2.1.0 section 3.35: a suppression decided outside the code (a
            // waivers file), accepted; code-scanning tools then show it as dismissed.
            if let Some(w) = report.waiver_of(&f) {
                result["suppressions"] = json!([{
                    "kind": "external",
                    "status": "accepted",
                    "justification": w.justification(),
                    "properties": {"waiver": w.id, "approver": w.approver, "expires": w.expires.to_string()},
                }]);
            }
            Ok(result)
        })
        .collect::<Result<_>>()?;
    let doc = json!({
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {
                "name": "regwatch",
                "version": env!("CARGO_PKG_VERSION"),
                "rules": rules,
            }},
            "results": results,
        }]
    });
    serde_json::to_writer_pretty(&mut *w, &doc)?;
    writeln!(w)?;
    Ok(())
}
