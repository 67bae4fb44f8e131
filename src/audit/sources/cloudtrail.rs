//! AWS CloudTrail log files (`{"Records": [...]}`, usually a tree of `.json.gz` files),
//! mapped to native events with the vocabulary of `mappings/audit-sources.toml`.

use std::borrow::Cow;
use std::io::Read;

use anyhow::Result;
use serde::Deserialize;

use super::cloudtrail_facts;
use super::intake::{raw_text, rejection, Intake, ReadContext, SourceFile, SourceSummary};
use crate::audit::event::{parse_millis, ActorType, AuditEvent, Operation, RecordError};
use crate::audit::model::Hit;
use crate::audit::sigma::Logsource;
use crate::error::bad_input;
use crate::incidents::ingest::Location;

/// A CloudTrail file: `{"Records": [...]}`; each record is checked on its own.
#[derive(Deserialize)]
struct CloudTrailFile {
    #[serde(rename = "Records")]
    records: Vec<serde_json::Value>,
}

/// Reads a CloudTrail log file whole (one JSON document) and maps each record.
pub(super) fn read(
    file: &SourceFile,
    index: u32,
    cx: &ReadContext,
    intake: &mut Intake,
) -> Result<()> {
    let name = file.name();
    let mut bytes = Vec::new();
    file.open()?
        .read_to_end(&mut bytes)
        .map_err(|e| bad_input(format!("cannot read {name}: {e}")))?;
    let parsed: CloudTrailFile = match serde_json::from_slice(&bytes) {
        Ok(p) => p,
        Err(e) => {
            intake.summary.read += 1;
            let r = rejection(
                &name,
                Location::Record(0),
                RecordError::new("Records", format!("not a CloudTrail log file: {e}")),
                raw_text(&bytes[..bytes.len().min(200)]),
            );
            intake.keep(r)?;
            return Ok(());
        }
    };
    let mut events = Vec::with_capacity(parsed.records.len());
    let mut sigma_hits = Vec::new(); // Sigma hook (audit::sigma)
    for (i, rec) in parsed.records.iter().enumerate() {
        let n = i as u64 + 1;
        intake.summary.read += 1;
        match cloudtrail_event(rec, n, index, cx) {
            Ok(e) => add_record(rec, e, cx, intake.summary, &mut events, &mut sigma_hits),
            Err(err) => {
                let r = rejection(
                    &name,
                    Location::Record(n),
                    err,
                    raw_text(rec.to_string().as_bytes()),
                );
                intake.keep(r)?;
            }
        }
    }
    // Accepted is counted by record above: one record may stand for several events.
    let mut hits = intake.checker.check(&events);
    hits.append(&mut sigma_hits); // Sigma hook (audit::sigma)
    intake.sink.events(&events, hits);
    Ok(())
}

/// Adds an accepted record's events: one per resource it names (TerminateInstances of
/// sixty instances touches sixty resources), with the Sigma hits on the raw record.
/// Shared with the OCSF source, which rebuilds the CloudTrail record it came from.
pub(super) fn add_record(
    rec: &serde_json::Value,
    e: AuditEvent<'static>,
    cx: &ReadContext,
    summary: &mut SourceSummary,
    events: &mut Vec<AuditEvent<'static>>,
    sigma_hits: &mut Vec<Hit<'static>>,
) {
    if &*e.environment == "unknown"
        && !e.account.is_empty()
        && !cx.environments.accounts.contains_key(&*e.account)
    {
        summary.unmapped_accounts.insert(e.account.to_string());
    }
    summary.accepted += 1;
    let more = cloudtrail_other_resources(rec);
    let first = events.len();
    // Sigma hook (audit::sigma): the rules for CloudTrail read the raw record.
    (cx.sigma).check_value(Logsource::CloudTrail, rec, &e, sigma_hits);
    events.push(e);
    for resource in more {
        let mut copy = events[first].clone();
        copy.resource = Cow::Owned(resource);
        events.push(copy);
    }
}

/// The resources of a record beyond the first (which `cloudtrail_event` takes): the rest
/// of `resources[].ARN`, or of `requestParameters.instancesSet.items[].instanceId`.
fn cloudtrail_other_resources(rec: &serde_json::Value) -> Vec<String> {
    let list = |v: Option<&serde_json::Value>, key: &str| -> Vec<String> {
        v.and_then(|v| v.as_array())
            .map(|a| {
                a.iter()
                    .filter_map(|r| r.get(key)?.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default()
    };
    let arns = list(rec.get("resources"), "ARN");
    let all = if arns.is_empty() {
        list(
            rec.pointer("/requestParameters/instancesSet/items"),
            "instanceId",
        )
    } else {
        arns
    };
    all.into_iter().skip(1).collect()
}

fn owned(v: Option<&str>) -> Cow<'static, str> {
    Cow::Owned(v.unwrap_or("").to_string())
}

/// Maps one CloudTrail record to a native event.
pub(super) fn cloudtrail_event(
    rec: &serde_json::Value,
    line: u64,
    source: u32,
    cx: &ReadContext,
) -> Result<AuditEvent<'static>, RecordError> {
    let s = |ptr: &str| rec.pointer(ptr).and_then(|v| v.as_str());
    let event_name = s("/eventName").ok_or_else(|| RecordError::new("eventName", "is missing"))?;
    let time = s("/eventTime").ok_or_else(|| RecordError::new("eventTime", "is missing"))?;
    let at = parse_millis(time, "eventTime", cx.input_tz)?;
    let identity = rec
        .get("userIdentity")
        .ok_or_else(|| RecordError::new("userIdentity", "is missing"))?;
    let actor = identity
        .get("arn")
        .and_then(|v| v.as_str())
        .or_else(|| identity.get("principalId").and_then(|v| v.as_str()))
        .or_else(|| identity.get("invokedBy").and_then(|v| v.as_str()))
        .ok_or_else(|| RecordError::new("userIdentity.arn", "is missing"))?;
    let user_agent = s("/userAgent").unwrap_or("");
    let actor_type = cx.mappings.actor_type(actor, user_agent);
    let m = &cx.mappings.cloudtrail;
    let op_text = m
        .events
        .get(event_name)
        .map(String::as_str)
        .or_else(|| {
            m.prefixes
                .iter()
                .find(|(p, _)| event_name.starts_with(p.as_str()))
                .map(|(_, o)| o.as_str())
        })
        .unwrap_or(&m.otherwise);
    let account = s("/recipientAccountId")
        .or_else(|| s("/userIdentity/accountId"))
        .unwrap_or("");
    let resource = rec
        .pointer("/resources/0/ARN")
        .and_then(|v| v.as_str())
        .map(str::to_string)
        .or_else(|| {
            let params = rec.get("requestParameters")?;
            m.resource_keys.iter().find_map(|k| {
                let v = params.pointer(k)?;
                v.as_str().map(str::to_string)
            })
        })
        .unwrap_or_else(|| s("/eventSource").unwrap_or("").to_string());
    let error = s("/errorCode").unwrap_or("");
    let dry_run = error.contains("DryRunOperation");
    // A console sign-in that failed says so in its response, not with an error code.
    let sign_in_failed = s("/responseElements/ConsoleLogin") == Some("Failure");
    let outcome = if dry_run {
        "success"
    } else if error.contains("AccessDenied") || error.contains("Unauthorized") {
        "denied"
    } else if !error.is_empty() || sign_in_failed {
        "failure"
    } else {
        "success"
    };
    // A call that failed or was denied changed nothing: an attempt, read as a read (its
    // outcome says what happened). `readOnly: true` is a read whatever its name.
    let read_only = rec.get("readOnly").and_then(|v| v.as_bool()) == Some(true);
    let operation = if outcome != "success" || read_only {
        Operation::Read
    } else {
        Operation::parse(op_text).unwrap_or(Operation::Read)
    };
    let grants = if outcome == "success" {
        cloudtrail_facts::grants(rec, event_name, account, &m.admin_ports)
    } else {
        String::new()
    };
    let environment = cx.environments.accounts.get(account).map(String::as_str);
    Ok(AuditEvent {
        at,
        actor: owned(Some(actor)),
        actor_type,
        agent: owned((actor_type == ActorType::AiAgent).then_some(user_agent)),
        action: owned(Some(event_name)),
        operation,
        also_permission_change: operation == Operation::Delete
            && m.is_permission_delete(s("/eventSource").unwrap_or(""), event_name),
        resource: Cow::Owned(resource),
        resource_type: owned(s("/resources/0/type").or_else(|| s("/eventSource"))),
        environment: owned(Some(environment.unwrap_or("unknown"))),
        account: owned(Some(account)),
        region: owned(s("/awsRegion")),
        change_id: Cow::Borrowed(""),
        dry_run,
        approved_by: Cow::Borrowed(""),
        approver_type: None,
        approved_at: None,
        outcome: Cow::Borrowed(outcome),
        prompt_ref: false,
        tool_call_ref: false,
        grants: Cow::Owned(grants),
        source,
        line,
    })
}
