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

/// A CloudTrail record shaped as AWS writes it, in account 111111111111 (prod).
fn ct_record(second: u32, who: &str, source: &str, name: &str, params: Value) -> Value {
    let role = who.contains('/');
    let identity = if role {
        serde_json::json!({"type": "AssumedRole", "principalId": format!("AROAEXAMPLE:{who}"),
            "arn": format!("arn:aws:sts::111111111111:assumed-role/{who}"),
            "accountId": "111111111111", "accessKeyId": "ASIAEXAMPLE",
            "sessionContext": {"sessionIssuer": {"type": "Role", "principalId": "AROAEXAMPLE",
                "arn": format!("arn:aws:iam::111111111111:role/{}", who.split('/').next().unwrap()),
                "accountId": "111111111111", "userName": who.split('/').next().unwrap()},
                "attributes": {"creationDate": "2026-11-05T09:00:00Z", "mfaAuthenticated": "false"}}})
    } else {
        serde_json::json!({"type": "IAMUser", "principalId": "AIDAEXAMPLE",
            "arn": format!("arn:aws:iam::111111111111:user/{who}"), "accountId": "111111111111",
            "accessKeyId": "AKIAEXAMPLE", "userName": who})
    };
    serde_json::json!({"eventVersion": "1.09", "userIdentity": identity,
        "eventTime": format!("2026-11-05T10:20:{second:02}Z"), "eventSource": source,
        "eventName": name, "awsRegion": "eu-west-2", "sourceIPAddress": "203.0.113.7",
        "userAgent": if role { "claude-code/1.0.30" } else { "aws-cli/2.15.0" },
        "requestParameters": params, "responseElements": null,
        "requestID": format!("req-{second}"), "eventID": format!("evt-{second}"),
        "readOnly": false, "eventType": "AwsApiCall", "managementEvent": true,
        "recipientAccountId": "111111111111", "eventCategory": "Management"})
}

#[test]
fn deleting_a_role_or_its_policy_is_a_delete_and_a_permission_change() {
    // A copy of the mappings with one more policy: any permission change that succeeded.
    let dir = tempfile::tempdir().unwrap();
    let mappings = dir.path().join("mappings");
    std::fs::create_dir(&mappings).unwrap();
    for f in std::fs::read_dir(common::root().join("mappings")).unwrap() {
        let f = f.unwrap();
        if f.file_type().unwrap().is_file() {
            std::fs::copy(f.path(), mappings.join(f.file_name())).unwrap();
        }
    }
    let mut policies = std::fs::read_to_string(mappings.join("policies.toml")).unwrap();
    policies.push_str(
        r#"
[[policy]]
id = "permission-changed"
title = "A permission granted or taken away"
severity = "low"
kind = "condition"
checks = "A successful permission change."
rationale = "Who can do what changed."
when = [{ field = "operation", is = "permission_change" }, { field = "outcome", is = "success" }]
nist = ["MEASURE 2.7"]
"#,
    );
    std::fs::write(mappings.join("policies.toml"), policies).unwrap();
    let trail = dir
        .path()
        .join("AWSLogs/111111111111/CloudTrail/eu-west-2/2026/11/05");
    std::fs::create_dir_all(&trail).unwrap();
    let iam = "iam.amazonaws.com";
    let agent = "opsbot-agent-role/claude-session";
    let mut denied = ct_record(
        4,
        "dana",
        iam,
        "DeleteUser",
        serde_json::json!({"userName": "erin"}),
    );
    denied["errorCode"] = "AccessDenied".into();
    let records = [
        // Triggers: the agent deletes an inline policy, a person a role.
        ct_record(
            1,
            agent,
            iam,
            "DeleteRolePolicy",
            serde_json::json!({"roleName": "billing-role", "policyName": "billing-admin"}),
        ),
        ct_record(
            2,
            "dana",
            iam,
            "DeleteRole",
            serde_json::json!({"roleName": "old-ci-role"}),
        ),
        // Near misses: a database delete (no permission), a denied DeleteUser (an
        // attempt), a detach (a permission change, not a delete).
        ct_record(
            3,
            "dana",
            "rds.amazonaws.com",
            "DeleteDBInstance",
            serde_json::json!({"dBInstanceIdentifier": "scratch-db"}),
        ),
        denied,
        ct_record(
            5,
            agent,
            iam,
            "DetachRolePolicy",
            serde_json::json!({"roleName": "ci-role",
            "policyArn": "arn:aws:iam::aws:policy/AdministratorAccess"}),
        ),
    ];
    std::fs::write(
        trail.join("111111111111_CloudTrail_eu-west-2_20261105T1025Z_deletes.json"),
        serde_json::json!({ "Records": records }).to_string(),
    )
    .unwrap();
    // The Kubernetes side, from the fixture cluster: opsbot deletes a Role in shop-prod
    // (a delete, and a permission change), the 404 delete of a binding already gone.
    let run = regwatch(&[
        "audit",
        "--config",
        "regwatch.toml",
        "--mappings",
        mappings.to_str().unwrap(),
        "--no-sigma",
        dir.path().join("AWSLogs").to_str().unwrap(),
        "tests/fixtures/audit/k8s-real/kube-apiserver-audit.log",
        "--format",
        "json",
        "--quiet",
    ]);
    assert!(run.code == 0 || run.code == 1, "{run:?}");
    let r: Value = serde_json::from_str(&run.stdout).unwrap();
    let actions = |policy: &str| -> BTreeSet<String> {
        (r["findings"].as_array().unwrap().iter())
            .filter(|f| f["policy"] == policy)
            .flat_map(|f| f["resources"].as_array().unwrap().iter())
            .map(|v| v.as_str().unwrap().to_string())
            .collect()
    };
    let set = |xs: &[&str]| xs.iter().map(|x| x.to_string()).collect::<BTreeSet<_>>();
    // The fixture cluster's other permission changes are patches and updates of
    // ClusterRoles (system:node, admin).
    assert_eq!(
        actions("permission-changed"),
        set(&[
            "billing-role",
            "old-ci-role",
            "ci-role",
            "shop-prod/roles/deployer",
            "clusterroles/system:node",
            "clusterroles/admin",
        ]),
        "{}",
        run.stdout
    );
    // The agent's deletes in production are destructive; its detach is not.
    assert_eq!(
        actions("destructive-prod-without-approval"),
        set(&["billing-role", "shop-prod/roles/deployer"])
    );
}
