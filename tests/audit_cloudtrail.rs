//! CloudTrail semantics (issue 22), through the real binary's JSON output: failed and
//! denied calls are attempts, reads are reads, the resource is what was acted on, and
//! each CloudTrail guardrail fires on its trigger and not on its near miss. The fixtures
//! (`tests/fixtures/audit/make_cloudtrail_real.py`) are shaped as AWS delivers them.

mod common;

use std::collections::BTreeSet;

use common::regwatch;
use serde_json::Value;

/// The guardrail policies alone: the shipped Sigma rules (tests/audit_sigma.rs) would
/// also see some of these records, a failed StopLogging among them.
fn audit(dir: &str) -> Value {
    let run = regwatch(&[
        "audit",
        "--config",
        "regwatch.toml",
        dir,
        "--format",
        "json",
        "--quiet",
        "--no-sigma",
    ]);
    assert!(run.code == 0 || run.code == 1, "{run:?}");
    serde_json::from_str(&run.stdout).unwrap_or_else(|e| panic!("{e}: {}", run.stdout))
}

/// (policy, the user or role name of the first actor) of every finding.
fn found(r: &Value) -> BTreeSet<(String, String)> {
    r["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            let actor = f["actors"][0].as_str().unwrap_or("");
            let name = actor.split(['/', ':']).nth_back(0).unwrap_or(actor);
            let name = if actor.contains("assumed-role") {
                actor.split('/').nth(1).unwrap_or(actor)
            } else {
                name
            };
            (f["policy"].as_str().unwrap().to_string(), name.to_string())
        })
        .collect()
}

#[test]
fn each_cloudtrail_guardrail_fires_on_its_trigger_and_not_on_its_near_miss() {
    let r = audit("tests/fixtures/audit/cloudtrail-real");
    assert_eq!(r["summary"]["totals"]["rejected"], 0, "{}", r["summary"]);
    let got = found(&r);
    let has = |policy: &str, who: &str| got.contains(&(policy.to_string(), who.to_string()));
    for (policy, trigger, misses) in [
        ("logging-disabled", "ct-tamper", &["ct-failed-stop"][..]),
        ("ct-denied-attempts", "ct-prober", &["ct-few-denied"][..]),
        (
            "wildcard-permission",
            "ct-admin-attacher",
            &["ct-readonly-grant", "ct-detacher"][..],
        ),
        ("wildcard-permission", "ct-s3-star", &[][..]),
        (
            "ct-credentials-for-other-user",
            "ct-key-maker",
            &["ct-own-key"][..],
        ),
        (
            "ct-trust-policy-opened",
            "ct-trust-opener",
            &["ct-trust-inaccount"][..],
        ),
        (
            "ct-bucket-shared",
            "ct-bucket-public",
            &["ct-bucket-private"][..],
        ),
        ("ct-bucket-shared", "ct-acl-public", &[][..]),
        (
            "ct-snapshot-shared",
            "ct-snap-sharer",
            &["ct-snap-unsharer"][..],
        ),
        ("ct-snapshot-shared", "ct-ami-sharer", &[][..]),
        (
            "ct-admin-port-open-to-world",
            "ct-sg-ssh",
            &["ct-sg-web", "ct-sg-failed"][..],
        ),
        (
            "ct-lambda-public-permission",
            "ct-lambda-public",
            &["ct-lambda-s3"][..],
        ),
        (
            "ct-interactive-session-in-production",
            "ct-ssm-prod",
            &["ct-ssm-dev"][..],
        ),
        (
            "ct-console-login-without-mfa",
            "ct-nomfa",
            &["ct-mfa", "ct-nomfa-failed"][..],
        ),
        (
            "ct-secret-read-burst",
            "ct-harvester",
            &["ct-param-reader"][..],
        ),
    ] {
        assert!(has(policy, trigger), "{policy} {trigger}: {got:#?}");
        for miss in misses {
            assert!(!got.iter().any(|(_, w)| w == miss), "{miss}: {got:#?}");
        }
    }
    // The AI agent's failed DeleteDBInstance is an attempt, not a destructive change.
    assert!(
        !got.iter()
            .any(|(p, _)| p == "destructive-prod-without-approval"),
        "{got:#?}"
    );
    // The resource is what was acted on, not the service's host name.
    let resources = |policy: &str| -> Vec<String> {
        (r["findings"].as_array().unwrap().iter())
            .filter(|f| f["policy"] == policy)
            .flat_map(|f| f["resources"].as_array().unwrap().clone())
            .map(|v| v.as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(
        resources("logging-disabled"),
        ["arn:aws:cloudtrail:eu-west-2:111111111111:trail/org-trail"]
    );
    assert!(resources("ct-trust-policy-opened").contains(&"billing-role".to_string()));
    // The account not in [audit] accounts is named once.
    assert_eq!(
        r["summary"]["unmapped_accounts"],
        serde_json::json!(["999999999999"])
    );
}

#[test]
fn failed_calls_kms_and_read_only_records_are_not_changes() {
    let r = audit("tests/fixtures/audit/cloudtrail-reads");
    let t = &r["summary"]["totals"];
    assert_eq!(
        (t["accepted"].as_u64(), t["human_change_events"].as_u64()),
        (Some(7), Some(1))
    );
    assert!(r["summary"].get("unmapped_accounts").is_none());
}

#[test]
fn an_unmapped_account_is_said_once_in_the_table_and_on_standard_error() {
    let run = regwatch(&[
        "audit",
        "--config",
        "regwatch.toml",
        "tests/fixtures/audit/cloudtrail-real",
    ]);
    let line = "account 999999999999 is not in [audit] accounts";
    assert_eq!(run.stderr.matches(line).count(), 1, "{}", run.stderr);
    assert_eq!(run.stdout.matches(line).count(), 1, "{}", run.stdout);
}
