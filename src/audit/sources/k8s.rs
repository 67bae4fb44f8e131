//! Kubernetes audit logs (`audit.k8s.io/v1` Event, JSON lines), read through the block
//! pipeline; stages before ResponseComplete are skipped.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::path::Path;

use anyhow::Result;
use serde::Deserialize;

use super::intake::{json_reason, Intake, ReadContext, SourceFile};
use super::pipeline::{line_text, read_lines, LineParser};
use crate::audit::event::{opt_text, parse_millis, ActorType, AuditEvent, Operation, RecordError};
use crate::audit::matching::glob_match;
use crate::audit::model::Hit;
use crate::audit::sigma::Logsource;

/// Reads a Kubernetes audit log through the block pipeline; the cluster is the file's name.
pub(super) fn read(
    file: &SourceFile,
    index: u32,
    cx: &ReadContext,
    intake: &mut Intake,
) -> Result<()> {
    let name = file.name();
    let k8s = K8sLines {
        cluster: cluster_name(&file.path),
        index,
        cx,
    };
    read_lines(file, &name, &k8s, intake)
}

/// Kubernetes audit events, one a line, from one cluster.
struct K8sLines<'c> {
    cluster: String,
    index: u32,
    cx: &'c ReadContext<'c>,
}

impl LineParser for K8sLines<'_> {
    fn parse_into<'b>(
        &self,
        line: &'b [u8],
        n: u64,
        out: &mut Vec<AuditEvent<'b>>,
    ) -> Result<bool, RecordError> {
        let event = k8s_event(line_text(line)?, n, self.index, &self.cluster, self.cx)?;
        Ok(event.map(|e| out.push(e)).is_some())
    }

    // Sigma hook (audit::sigma): the rules for Kubernetes audit read the raw record.
    fn raw_hits<'b>(&self, line: &'b [u8], event: &AuditEvent<'b>, out: &mut Vec<Hit<'b>>) {
        (self.cx.sigma).check_line(Logsource::Kubernetes, line, event, out);
    }
}

fn cluster_name(path: &Path) -> String {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    name.split('.').next().unwrap_or(&name).to_string()
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct K8sEvent<'a> {
    #[serde(borrow, default, deserialize_with = "opt_text")]
    kind: Option<Cow<'a, str>>,
    #[serde(borrow, default, deserialize_with = "opt_text")]
    stage: Option<Cow<'a, str>>,
    #[serde(borrow, default, rename = "requestURI", deserialize_with = "opt_text")]
    request_uri: Option<Cow<'a, str>>,
    #[serde(borrow, default, deserialize_with = "opt_text")]
    verb: Option<Cow<'a, str>>,
    #[serde(borrow)]
    user: Option<K8sUser<'a>>,
    #[serde(borrow, default, deserialize_with = "opt_text")]
    user_agent: Option<Cow<'a, str>>,
    #[serde(borrow)]
    object_ref: Option<K8sObject<'a>>,
    response_status: Option<K8sStatus>,
    #[serde(borrow, default, deserialize_with = "opt_text")]
    request_received_timestamp: Option<Cow<'a, str>>,
    #[serde(borrow, default, deserialize_with = "opt_text")]
    stage_timestamp: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    annotations: BTreeMap<Cow<'a, str>, Cow<'a, str>>,
}

#[derive(Deserialize)]
struct K8sUser<'a> {
    #[serde(borrow, default, deserialize_with = "opt_text")]
    username: Option<Cow<'a, str>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct K8sObject<'a> {
    #[serde(borrow, default, deserialize_with = "opt_text")]
    resource: Option<Cow<'a, str>>,
    #[serde(borrow, default, deserialize_with = "opt_text")]
    namespace: Option<Cow<'a, str>>,
    #[serde(borrow, default, deserialize_with = "opt_text")]
    name: Option<Cow<'a, str>>,
    #[serde(borrow, default, deserialize_with = "opt_text")]
    subresource: Option<Cow<'a, str>>,
}

#[derive(Deserialize)]
struct K8sStatus {
    code: Option<u16>,
}

/// Maps one Kubernetes audit event; stages before ResponseComplete are skipped (the same
/// request appears again, complete).
fn k8s_event<'b>(
    line: &'b str,
    n: u64,
    source: u32,
    cluster: &str,
    cx: &ReadContext,
) -> Result<Option<AuditEvent<'b>>, RecordError> {
    let ev: K8sEvent =
        serde_json::from_str(line).map_err(|e| RecordError::new("json", json_reason(&e)))?;
    if ev.kind.as_deref() != Some("Event") {
        return Err(RecordError::new(
            "kind",
            "is not \"Event\" (audit.k8s.io/v1)",
        ));
    }
    if let Some(stage) = ev.stage.as_deref() {
        if stage != "ResponseComplete" && stage != "Panic" {
            return Ok(None);
        }
    }
    let time = ev
        .request_received_timestamp
        .or(ev.stage_timestamp)
        .ok_or_else(|| RecordError::new("requestReceivedTimestamp", "is missing"))?;
    let at = parse_millis(&time, "requestReceivedTimestamp", cx.input_tz)?;
    let verb = ev
        .verb
        .ok_or_else(|| RecordError::new("verb", "is missing"))?;
    let actor = ev
        .user
        .and_then(|u| u.username)
        .ok_or_else(|| RecordError::new("user.username", "is missing"))?;
    let user_agent = ev.user_agent.unwrap_or(Cow::Borrowed(""));
    let actor_type = cx.mappings.actor_type(&actor, &user_agent);
    let km = &cx.mappings.kubernetes;
    let obj = ev.object_ref;
    let kind = obj
        .as_ref()
        .and_then(|o| o.resource.as_deref())
        .unwrap_or("");
    let namespace = obj
        .as_ref()
        .and_then(|o| o.namespace.as_deref())
        .unwrap_or("");
    let obj_name = obj.as_ref().and_then(|o| o.name.as_deref()).unwrap_or("");
    let sub = obj
        .as_ref()
        .and_then(|o| o.subresource.as_deref())
        .unwrap_or("");
    let mut operation = km
        .verbs
        .get(&*verb)
        .and_then(|o| Operation::parse(o))
        .unwrap_or(Operation::Read);
    if km.housekeeping_resources.iter().any(|r| r == kind) {
        operation = Operation::Read;
    } else if operation.changes() && km.permission_resources.iter().any(|r| r == kind) {
        operation = Operation::PermissionChange;
    }
    let mut resource = [namespace, kind, obj_name, sub]
        .into_iter()
        .filter(|part| !part.is_empty())
        .collect::<Vec<_>>()
        .join("/");
    if resource.is_empty() {
        resource = ev.request_uri.as_deref().unwrap_or("").to_string();
    }
    let envs = cx.environments;
    let environment = envs
        .namespaces
        .iter()
        .find(|(p, _)| !namespace.is_empty() && glob_match(p, namespace))
        .or_else(|| envs.clusters.iter().find(|(c, _)| *c == cluster))
        .map(|(_, e)| e.as_str())
        .unwrap_or("unknown");
    let code = ev.response_status.and_then(|s| s.code).unwrap_or(200);
    let outcome = match code {
        401 | 403 => "denied",
        400.. => "failure",
        _ => "success",
    };
    let ann = |key: &str| ev.annotations.get(key).map(|v| v.to_string());
    let dry_run = ev
        .request_uri
        .as_deref()
        .is_some_and(|u| u.contains("dryRun=All"));
    Ok(Some(AuditEvent {
        at,
        actor,
        actor_type,
        agent: if actor_type == ActorType::AiAgent {
            user_agent
        } else {
            Cow::Borrowed("")
        },
        action: Cow::Owned(format!("{verb} {kind}")),
        operation,
        resource: Cow::Owned(resource),
        resource_type: Cow::Owned(kind.to_string()),
        environment: Cow::Owned(environment.to_string()),
        account: Cow::Owned(format!("k8s:{cluster}")),
        region: Cow::Borrowed(""),
        change_id: Cow::Owned(ann(&km.change_id_annotation).unwrap_or_default()),
        dry_run,
        approved_by: Cow::Borrowed(""),
        approver_type: None,
        approved_at: None,
        outcome: Cow::Borrowed(outcome),
        prompt_ref: ann(&km.prompt_ref_annotation).is_some(),
        tool_call_ref: ann(&km.tool_call_ref_annotation).is_some(),
        grants: Cow::Borrowed(""),
        source,
        line: n,
    }))
}
