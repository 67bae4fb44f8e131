//! Kubernetes audit logs (`audit.k8s.io/v1` Event, JSON lines), read through the block
//! pipeline. Stages before ResponseComplete are skipped, but for interactive sessions
//! (`exec`, `attach`, `portforward`), which are logged at ResponseStarted and counted once
//! per auditID. What a request grants (bindings, role rules) and the host access a
//! workload asks for (privileged containers, hostPath, hostNetwork/PID/IPC) are read from
//! its `requestObject`.

use std::borrow::Cow;
use std::collections::{BTreeMap, HashSet};
use std::path::Path;
use std::sync::Mutex;

use anyhow::Result;
use serde::Deserialize;
use serde_json::Value;

use super::intake::{json_reason, Intake, ReadContext, SourceFile};
use super::pipeline::{line_text, read_lines, LineParser};
use crate::audit::event::{opt_text, parse_millis, ActorType, AuditEvent, Operation, RecordError};
use crate::audit::matching::glob_match;
use crate::audit::model::Hit;
use crate::audit::sigma::Logsource;
use crate::audit::sources::vocabulary::KubernetesMapping;

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
        sessions: Mutex::new(HashSet::new()),
    };
    read_lines(file, &name, &k8s, intake)
}

/// Kubernetes audit events, one a line, from one cluster.
struct K8sLines<'c> {
    cluster: String,
    index: u32,
    cx: &'c ReadContext<'c>,
    /// The auditIDs of interactive sessions counted once, whose other stage (the session
    /// logged at ResponseStarted and again at ResponseComplete) is still to come.
    sessions: Mutex<HashSet<String>>,
}

impl K8sLines<'_> {
    /// Whether an interactive session's stage is its first seen (and so counted): a
    /// session is logged at ResponseStarted and, when it ends, at ResponseComplete.
    fn first_stage(&self, audit_id: &str) -> bool {
        let mut seen = self.sessions.lock().unwrap_or_else(|e| e.into_inner());
        if seen.remove(audit_id) {
            false
        } else {
            seen.insert(audit_id.to_string());
            true
        }
    }
}

impl LineParser for K8sLines<'_> {
    fn parse_into<'b>(
        &self,
        line: &'b [u8],
        n: u64,
        out: &mut Vec<AuditEvent<'b>>,
    ) -> Result<bool, RecordError> {
        let event = k8s_event(line_text(line)?, n, self, self.cx)?;
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
    #[serde(borrow, default, rename = "auditID", deserialize_with = "opt_text")]
    audit_id: Option<Cow<'a, str>>,
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
    annotations: Option<BTreeMap<Cow<'a, str>, Option<Cow<'a, str>>>>,
    /// Read only for the permission and workload resources.
    #[serde(default)]
    request_object: Option<Value>,
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

/// Maps one Kubernetes audit event. Stages before ResponseComplete are skipped (the same
/// request appears again, complete), but for interactive sessions, counted at their first
/// stage seen (ResponseStarted, or ResponseComplete when that stage is not logged).
fn k8s_event<'b>(
    line: &'b str,
    n: u64,
    lines: &K8sLines,
    cx: &ReadContext,
) -> Result<Option<AuditEvent<'b>>, RecordError> {
    let (source, cluster) = (lines.index, lines.cluster.as_str());
    let ev: K8sEvent =
        serde_json::from_str(line).map_err(|e| RecordError::new("json", json_reason(&e)))?;
    if ev.kind.as_deref() != Some("Event") {
        return Err(RecordError::new(
            "kind",
            "is not \"Event\" (audit.k8s.io/v1)",
        ));
    }
    let km = &cx.mappings.kubernetes;
    let obj = ev.object_ref;
    let kind = obj
        .as_ref()
        .and_then(|o| o.resource.as_deref())
        .unwrap_or("");
    let sub = obj
        .as_ref()
        .and_then(|o| o.subresource.as_deref())
        .unwrap_or("");
    let interactive = kind == "pods" && km.interactive_subresources.iter().any(|s| s == sub);
    match ev.stage.as_deref() {
        None | Some("ResponseComplete" | "Panic") => {}
        Some("ResponseStarted") if interactive => {}
        Some(_) => return Ok(None),
    }
    if interactive {
        if let Some(id) = ev.audit_id.as_deref() {
            if !lines.first_stage(id) {
                return Ok(None);
            }
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
    let namespace = obj
        .as_ref()
        .and_then(|o| o.namespace.as_deref())
        .unwrap_or("");
    let obj_name = obj.as_ref().and_then(|o| o.name.as_deref()).unwrap_or("");
    let code = ev.response_status.and_then(|s| s.code).unwrap_or(200);
    let outcome = match code {
        401 | 403 => "denied",
        400.. => "failure",
        _ => "success",
    };
    let mut operation = km
        .verbs
        .get(&*verb)
        .and_then(|o| Operation::parse(o))
        .unwrap_or(Operation::Read);
    let permission = km.permission_resources.iter().any(|r| r == kind);
    if km.housekeeping_resources.iter().any(|r| r == kind) {
        operation = Operation::Read;
    } else if operation.changes() && operation != Operation::Delete && permission {
        operation = Operation::PermissionChange;
    }
    // Not found, a conflict: nothing changed. Unauthorised, forbidden: a denied attempt.
    if matches!(code, 401 | 403 | 404 | 409) {
        operation = Operation::Read;
    }
    let body = ev.request_object.as_ref();
    let grants = match body {
        Some(body) if operation == Operation::PermissionChange => granted(kind, body, km),
        _ => String::new(),
    };
    let writes = matches!(&*verb, "create" | "update" | "patch");
    let host = match body {
        Some(body)
            if writes
                && (sub.is_empty() || sub == "ephemeralcontainers")
                && km.workload_resources.iter().any(|r| r == kind) =>
        {
            host_access(kind, body)
        }
        _ => Vec::new(),
    };
    let mut action = format!("{verb} {kind}");
    if !sub.is_empty() {
        action = format!("{action}/{sub}");
    }
    if interactive {
        action.push_str(" [interactive]");
    }
    if !host.is_empty() {
        action = format!("{action} [host access: {}]", host.join(", "));
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
    let ann = |key: &str| {
        ev.annotations
            .as_ref()
            .and_then(|a| a.get(key))
            .and_then(|v| v.as_deref())
            .map(str::to_string)
    };
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
        action: Cow::Owned(action),
        operation,
        also_permission_change: operation == Operation::Delete && permission,
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
        grants: Cow::Owned(grants),
        source,
        line: n,
    }))
}

/// What a permission change grants: a binding's role (`*` first when the role is one of
/// the all-powerful ones), a role's rules (`verbs on resources`, `;` between rules, so a
/// `*` verb or resource stands alone). Empty when the request does not say (a patch
/// without them, say).
fn granted(kind: &str, body: &Value, km: &KubernetesMapping) -> String {
    let texts = |v: Option<&Value>| -> Vec<String> {
        v.and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(Value::as_str)
                    .map(str::to_string)
                    .collect()
            })
            .unwrap_or_default()
    };
    if kind.ends_with("bindings") {
        let role = &body["roleRef"];
        let Some(name) = role["name"].as_str() else {
            return String::new();
        };
        let role_kind = role["kind"].as_str().unwrap_or("Role");
        let all = km.all_powerful_roles.iter().any(|r| r == name);
        return format!("{}{role_kind}/{name}", if all { "*, " } else { "" });
    }
    let Some(rules) = body["rules"].as_array() else {
        return String::new();
    };
    rules
        .iter()
        .filter_map(|rule| {
            let verbs = texts(rule.get("verbs"));
            let mut on = texts(rule.get("resources"));
            on.extend(texts(rule.get("nonResourceURLs")));
            (!verbs.is_empty() && !on.is_empty())
                .then(|| format!("{} on {}", verbs.join(","), on.join(",")))
        })
        .collect::<Vec<_>>()
        .join("; ")
}

/// The host access a workload's pod spec asks for: `privileged` (a container's
/// securityContext), `hostPath` (a volume), `hostNetwork`, `hostPID`, `hostIPC`. The pod
/// spec is the pod's own, a CronJob's job template's, or the template's of the others.
fn host_access(kind: &str, body: &Value) -> Vec<&'static str> {
    let spec = match kind {
        "pods" => &body["spec"],
        "cronjobs" => &body["spec"]["jobTemplate"]["spec"]["template"]["spec"],
        _ => &body["spec"]["template"]["spec"],
    };
    let list = |key: &str| spec[key].as_array().map(Vec::as_slice).unwrap_or(&[]);
    let mut found = Vec::new();
    let privileged = ["containers", "initContainers", "ephemeralContainers"]
        .iter()
        .flat_map(|k| list(k))
        .any(|c| c["securityContext"]["privileged"] == Value::Bool(true));
    if privileged {
        found.push("privileged");
    }
    if list("volumes")
        .iter()
        .any(|v| v.get("hostPath").is_some_and(|h| !h.is_null()))
    {
        found.push("hostPath");
    }
    for key in ["hostNetwork", "hostPID", "hostIPC"] {
        if spec[key] == Value::Bool(true) {
            found.push(key);
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mapping() -> KubernetesMapping {
        let text = std::fs::read_to_string(
            Path::new(env!("CARGO_MANIFEST_DIR")).join("mappings/audit-sources.toml"),
        )
        .expect("audit-sources.toml");
        let m: crate::audit::sources::vocabulary::SourceMappings =
            toml::from_str(&text).expect("mappings");
        m.kubernetes
    }

    fn json(text: &str) -> Value {
        serde_json::from_str(text).expect("json")
    }

    #[test]
    fn a_binding_to_an_all_powerful_role_grants_everything_and_a_narrow_one_its_role() {
        let km = mapping();
        let admin = json(
            r#"{"roleRef":{"apiGroup":"rbac.authorization.k8s.io","kind":"ClusterRole","name":"cluster-admin"}}"#,
        );
        assert_eq!(
            granted("clusterrolebindings", &admin, &km),
            "*, ClusterRole/cluster-admin"
        );
        let view = json(r#"{"roleRef":{"kind":"ClusterRole","name":"view"}}"#);
        assert_eq!(granted("rolebindings", &view, &km), "ClusterRole/view");
        assert_eq!(granted("rolebindings", &json("{}"), &km), "");
    }

    #[test]
    fn a_roles_rules_are_what_it_grants() {
        let km = mapping();
        let wild = json(
            r#"{"rules":[{"apiGroups":[""],"resources":["pods"],"verbs":["get","list"]},{"apiGroups":["*"],"resources":["*"],"verbs":["*"]}]}"#,
        );
        assert_eq!(
            granted("clusterroles", &wild, &km),
            "get,list on pods; * on *"
        );
        let narrow = json(r#"{"rules":[{"resources":["pods/*"],"verbs":["get"]},{"verbs":null}]}"#);
        assert_eq!(granted("roles", &narrow, &km), "get on pods/*");
    }

    #[test]
    fn host_access_is_read_from_the_pod_spec_or_the_template() {
        let pod = json(
            r#"{"spec":{"hostPID":true,"containers":[{"name":"a","securityContext":null},{"name":"b","securityContext":{"privileged":true}}]}}"#,
        );
        assert_eq!(host_access("pods", &pod), ["privileged", "hostPID"]);
        let deploy = json(
            r#"{"spec":{"template":{"spec":{"hostNetwork":true,"volumes":[{"name":"v","hostPath":{"path":"/var/run"}}]}}}}"#,
        );
        assert_eq!(
            host_access("deployments", &deploy),
            ["hostPath", "hostNetwork"]
        );
        let plain = json(
            r#"{"spec":{"template":{"spec":{"hostNetwork":false,"containers":[{"securityContext":{"privileged":false}}],"volumes":[{"emptyDir":{}}]}}}}"#,
        );
        assert!(host_access("deployments", &plain).is_empty());
        // A pod's own spec is not a template's.
        assert!(host_access("pods", &deploy).is_empty());
    }
}
