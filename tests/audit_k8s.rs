//! Kubernetes audit semantics (issue 22), through the real binary's JSON output, on
//! `audit.k8s.io/v1` Events shaped as API servers write them
//! (`tests/fixtures/audit/k8s-real/`, written by `make_k8s_real.py`): interactive sessions
//! at ResponseStarted, what bindings and roles grant, privileged and host-access
//! workloads, system ClusterRoles, deletes of permissions, failed and denied requests,
//! and the control plane's identities as services. Each guardrail has a trigger and a near
//! miss beside it.

mod common;

use common::regwatch;
use serde_json::Value;

const COMPACT: &str = "tests/fixtures/audit/k8s-real/audit-prod-cluster.jsonl";
const SPACED: &str = "tests/fixtures/audit/k8s-real/kube-apiserver-audit.log";

fn audit(files: &[&str]) -> Value {
    let mut args = vec!["--config", "regwatch.toml", "audit"];
    args.extend_from_slice(files);
    args.extend_from_slice(&["--format", "json", "--quiet"]);
    let run = regwatch(&args);
    assert!(run.code == 0 || run.code == 1, "{run:?}");
    serde_json::from_str(&run.stdout).unwrap_or_else(|e| panic!("{e}: {}", run.stdout))
}

/// (first resource, detail) of each finding of a policy.
fn findings(r: &Value, policy: &str) -> Vec<(String, String)> {
    r["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["policy"] == policy)
        .map(|f| {
            (
                f["resources"][0].as_str().unwrap_or("").to_string(),
                f["detail"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

fn resources(r: &Value, policy: &str) -> Vec<String> {
    findings(r, policy).into_iter().map(|(r, _)| r).collect()
}

#[test]
fn an_interactive_session_is_counted_once_at_response_started() {
    let r = audit(&[COMPACT]);
    let t = &r["summary"]["totals"];
    // 13 lines: the exec's RequestReceived and its ResponseComplete are skipped (the
    // session was counted at ResponseStarted); everything else is read, nulls included.
    assert_eq!(
        (&t["read"], &t["accepted"], &t["skipped"], &t["rejected"]),
        (&13.into(), &11.into(), &2.into(), &0.into()),
        "{t}"
    );
    let hits: Vec<&Value> = r["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["policy"] == "k8s-interactive-access-in-prod")
        .collect();
    // alice's exec (its ResponseStarted line) and bob's port-forward, logged only at
    // ResponseComplete; not bob's attach in staging, nor the forbidden exec.
    assert_eq!(hits.len(), 2, "{hits:?}");
    assert_eq!(hits[0]["resources"][0], "shop-prod/pods/web-1/exec");
    assert_eq!(hits[0]["events"][0]["line"], 2);
    assert_eq!(hits[0]["event_count"], 1);
    assert_eq!(hits[1]["resources"][0], "shop-prod/pods/db-0/portforward");
}

#[test]
fn bindings_to_all_powerful_roles_and_wildcard_rules_are_wildcard_grants() {
    let r = audit(&[COMPACT, SPACED]);
    let hits = findings(&r, "wildcard-permission");
    assert_eq!(
        hits,
        [
            (
                "clusterrolebindings/eve-admin".to_string(),
                "alice@example.com granted \"*, ClusterRole/cluster-admin\" on clusterrolebindings/eve-admin".to_string()
            ),
            (
                "clusterroles/opsbot-superuser".to_string(),
                "system:serviceaccount:agents:opsbot granted \"get,list on pods; * on *\" on clusterroles/opsbot-superuser".to_string()
            ),
        ]
    );
    // Near misses: the binding to `view` (a permission change, not a wildcard), bob's
    // forbidden binding to cluster-admin, the binding to admin that already existed (409).
}

#[test]
fn privileged_and_host_access_workloads_in_production_are_reported() {
    let r = audit(&[COMPACT, SPACED]);
    assert_eq!(
        resources(&r, "k8s-privileged-workload-in-prod"),
        [
            "shop-prod/pods/debug-root",
            "shop-prod/deployments/log-shipper"
        ]
    );
    // Near misses: the ReplicaSet controller's privileged pod, a plain pod, host network in
    // staging, the kubelet's mirror pod of a static pod.
}

#[test]
fn a_system_clusterrole_changed_by_a_person_is_reported_not_the_control_planes_writes() {
    let r = audit(&[SPACED]);
    assert_eq!(
        findings(&r, "k8s-system-clusterrole-changed"),
        [(
            "clusterroles/system:node".to_string(),
            "dave@example.com permission_change clusterroles/system:node (A system ClusterRole or ClusterRoleBinding changed by a person or agent)".to_string()
        )]
    );
}

#[test]
fn deleting_a_role_is_a_delete_and_404_409_403_are_not_changes() {
    let r = audit(&[SPACED]);
    // The Role delete by an AI agent in production is destructive; the 404 delete of the
    // binding already gone and the 409 create are not changes.
    assert_eq!(
        resources(&r, "destructive-prod-without-approval"),
        ["shop-prod/roles/deployer"]
    );
    let no_plan = findings(&r, "no-dry-run-before-apply");
    assert_eq!(no_plan.len(), 1, "{no_plan:?}");
    assert_eq!(no_plan[0].0, "shop-prod/roles/deployer");
    let t = &r["summary"]["totals"];
    // opsbot's one change (the delete); people's: dave's patch. The 403, 404 and 409 are
    // not changes; the control plane's writes are services'.
    assert_eq!(
        (&t["ai_change_events"], &t["human_change_events"]),
        (&1.into(), &1.into()),
        "{t}"
    );
}

#[test]
fn system_identities_are_services_not_people() {
    let r = audit(&[COMPACT, SPACED]);
    let t = &r["summary"]["totals"];
    // People: alice (exec, two bindings, two pods), bob (attach, port-forward), dave.
    // AI: opsbot's ClusterRole and Role delete. The ReplicaSet and aggregation
    // controllers, the kubelet, the API server and the controller manager are services.
    assert_eq!(
        (&t["ai_change_events"], &t["human_change_events"]),
        (&2.into(), &8.into()),
        "{t}"
    );
    // A service acting in production and staging is still reported as one identity.
    assert!(r["findings"].as_array().unwrap().iter().any(|f| {
        f["policy"] == "credentials-across-environments"
            && f["actors"][0] == "system:serviceaccount:argocd:argocd-application-controller"
    }));
}

#[test]
fn the_sample_clusters_guardrail_findings() {
    // samples/audit/generate.py's k8s_guardrails: 18 Nov, j.okafor.
    let r = audit(&["samples/audit/k8s/audit-prod-cluster.jsonl"]);
    for (policy, resource) in [
        (
            "k8s-interactive-access-in-prod",
            "shop-prod/pods/checkout-api-7d9f8-x2lqp/exec",
        ),
        (
            "wildcard-permission",
            "clusterrolebindings/contractor-admin",
        ),
        ("k8s-privileged-workload-in-prod", "shop-prod/pods/netdebug"),
        (
            "k8s-privileged-workload-in-prod",
            "shop-prod/daemonsets/node-debug",
        ),
        (
            "k8s-system-clusterrole-changed",
            "clusterroles/system:aggregate-to-view",
        ),
    ] {
        assert!(
            resources(&r, policy).contains(&resource.to_string()),
            "{policy}"
        );
    }
    // One session each: the shell in shop-prod, the shell in staging (not production) and
    // the contractor's refused exec (403: an attempt, no session) skip the stages around
    // the one counted; the binding to `view`, the ReplicaSet controller's pod and the
    // staging DaemonSet are no findings.
    assert_eq!(r["summary"]["totals"]["skipped"], 5);
    assert_eq!(resources(&r, "k8s-interactive-access-in-prod").len(), 1);
    assert_eq!(resources(&r, "k8s-privileged-workload-in-prod").len(), 2);
}
