//! The vocabulary the AWS and Kubernetes readers map records with, from
//! `mappings/audit-sources.toml`: which event names and verbs are which operations, and
//! which identities are AI agents or services.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::Result;
use serde::Deserialize;

use crate::audit::event::{ActorType, Operation};
use crate::audit::matching::glob_match;
use crate::error::bad_input;

/// Vocabulary for the AWS and Kubernetes formats, from `mappings/audit-sources.toml`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SourceMappings {
    pub agents: AgentPatterns,
    pub cloudtrail: CloudTrailMapping,
    pub kubernetes: KubernetesMapping,
}

/// Which identities are AI agents or services: `*` wildcards, case-insensitive.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AgentPatterns {
    pub identity: Vec<String>,
    pub user_agent: Vec<String>,
    pub service_identity: Vec<String>,
}

impl SourceMappings {
    /// `audit-sources.toml` from the mappings folder `dir`, else the built-in one.
    pub fn load(dir: Option<&Path>) -> Result<SourceMappings> {
        let (text, origin) = crate::util::defaults::read_mapping(dir, "audit-sources.toml")?;
        let path = origin.label();
        let m: SourceMappings =
            toml::from_str(&text).map_err(|e| bad_input(format!("{path}: {e}")))?;
        let ops = m
            .cloudtrail
            .events
            .values()
            .chain(m.cloudtrail.prefixes.iter().map(|(_, o)| o))
            .chain(m.kubernetes.verbs.values())
            .chain(std::iter::once(&m.cloudtrail.otherwise));
        for op in ops {
            if Operation::parse(op).is_none() {
                return Err(bad_input(format!(
                    "{}: {op:?} is not an operation ({})",
                    path,
                    Operation::ALL
                )));
            }
        }
        Ok(m)
    }

    /// Classifies an identity (and its user agent).
    pub fn actor_type(&self, identity: &str, user_agent: &str) -> ActorType {
        let any = |pats: &[String], text: &str| pats.iter().any(|p| glob_match(p, text));
        if any(&self.agents.identity, identity) || any(&self.agents.user_agent, user_agent) {
            ActorType::AiAgent
        } else if any(&self.agents.service_identity, identity) {
            ActorType::Service
        } else {
            ActorType::Human
        }
    }
}

/// The `[cloudtrail]` table of the source mappings.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CloudTrailMapping {
    /// Event names with a fixed operation (checked first).
    pub events: BTreeMap<String, String>,
    /// Event-name prefixes and their operation, in order.
    pub prefixes: Vec<(String, String)>,
    /// Operation for anything else.
    pub otherwise: String,
    /// requestParameters keys that name the resource, in order of preference.
    pub resource_keys: Vec<String>,
    /// Ports an ingress rule must not open to the world (`open:<port>` in `grants`).
    #[serde(default)]
    pub admin_ports: Vec<u16>,
    /// Deletes that are also permission changes, as `service:EventName` globs (the
    /// service is `eventSource` without `.amazonaws.com`): `iam:Delete*`, ...
    #[serde(default)]
    pub permission_deletes: Vec<String>,
}

impl CloudTrailMapping {
    /// Whether deleting with `event_name` at `event_source` also takes a permission away.
    pub fn is_permission_delete(&self, event_source: &str, event_name: &str) -> bool {
        let service = event_source
            .strip_suffix(".amazonaws.com")
            .unwrap_or(event_source);
        let call = format!("{service}:{event_name}");
        (self.permission_deletes.iter()).any(|p| glob_match(p, &call))
    }
}

/// The `[kubernetes]` table of the source mappings.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KubernetesMapping {
    pub verbs: BTreeMap<String, String>,
    /// Resources whose change is a permission change (role bindings).
    pub permission_resources: Vec<String>,
    /// Resources the control plane writes all the time (leases, events): read as `read`,
    /// so they keep the stream continuous without counting as changes.
    pub housekeeping_resources: Vec<String>,
    pub prompt_ref_annotation: String,
    pub tool_call_ref_annotation: String,
    pub change_id_annotation: String,
    /// Roles a binding to which grants everything (`cluster-admin`, `admin`).
    #[serde(default = "all_powerful_roles")]
    pub all_powerful_roles: Vec<String>,
    /// Pod subresources that open an interactive stream (`exec`, `attach`, `portforward`),
    /// counted at stage ResponseStarted.
    #[serde(default = "interactive_subresources")]
    pub interactive_subresources: Vec<String>,
    /// Resources that hold a pod spec (a pod's own, or a template's), read for privileged
    /// containers and host access.
    #[serde(default = "workload_resources")]
    pub workload_resources: Vec<String>,
}

fn strings(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| s.to_string()).collect()
}

fn all_powerful_roles() -> Vec<String> {
    strings(&["cluster-admin", "admin"])
}

fn interactive_subresources() -> Vec<String> {
    strings(&["exec", "attach", "portforward"])
}

fn workload_resources() -> Vec<String> {
    strings(&[
        "pods",
        "deployments",
        "daemonsets",
        "statefulsets",
        "replicasets",
        "replicationcontrollers",
        "jobs",
        "cronjobs",
    ])
}
