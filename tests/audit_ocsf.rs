//! OCSF API Activity as a native audit source (issue 24): the real-shaped CloudTrail
//! records of the fixtures and the samples, converted to OCSF as Amazon Security Lake
//! writes them (`tests/fixtures/audit/make_ocsf.py`), as JSON lines and as Parquet, give
//! the same findings as the CloudTrail files they came from.

mod common;

use std::collections::BTreeSet;
use std::path::Path;

use common::regwatch;
use serde_json::Value;

/// One finding, as the engines must agree on it: policy, severity, change, actors,
/// resources (sorted) and when it starts.
type Key = (String, String, String, Vec<String>, Vec<String>, String);

/// The JSON report of `regwatch audit` on `input`, the guardrail policies alone (the
/// shipped Sigma rules read raw fields OCSF keeps elsewhere); the quarantine in `dir`.
fn audit(input: &str, dir: &Path) -> Value {
    let quarantine = dir.join("quarantine.csv");
    let run = regwatch(&[
        "audit",
        "--config",
        "regwatch.toml",
        input,
        "--format",
        "json",
        "--quiet",
        "--no-sigma",
        "--quarantine",
        quarantine.to_str().unwrap(),
    ]);
    assert!(run.code == 0 || run.code == 1, "{input}: {run:?}");
    serde_json::from_str(&run.stdout).unwrap_or_else(|e| panic!("{e}: {}", run.stdout))
}

fn texts(v: &Value) -> Vec<String> {
    let mut list: Vec<String> = (v.as_array().into_iter().flatten())
        .filter_map(|s| s.as_str().map(str::to_string))
        .collect();
    list.sort();
    list
}

fn findings(r: &Value) -> BTreeSet<Key> {
    r["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            let s = |k: &str| f[k].as_str().unwrap_or("").to_string();
            (
                s("policy"),
                s("severity"),
                s("change_id"),
                texts(&f["actors"]),
                texts(&f["resources"]),
                s("first_at"),
            )
        })
        .collect()
}

fn totals(r: &Value) -> (u64, u64, u64, u64) {
    let t = &r["summary"]["totals"];
    let n = |k: &str| t[k].as_u64().unwrap();
    (n("read"), n("accepted"), n("rejected"), n("skipped"))
}

#[test]
fn the_samples_as_ocsf_give_the_findings_of_their_cloudtrail_files() {
    let tmp = tempfile::tempdir().unwrap();
    let cloudtrail = audit("samples/audit/cloudtrail", tmp.path());
    // Sign-ins are Authentication (class 3002) in Security Lake, skipped by the OCSF
    // source with why (see the next test): the sign-in policy has nothing to see there.
    let expected: BTreeSet<Key> = findings(&cloudtrail)
        .into_iter()
        .filter(|k| k.0 != "ct-console-login-without-mfa")
        .collect();
    assert!(expected.len() >= 10, "{expected:?}");
    for input in [
        "tests/fixtures/audit/ocsf/samples.ocsf.jsonl",
        "tests/fixtures/audit/ocsf/samples.ocsf.parquet",
    ] {
        let ocsf = audit(input, tmp.path());
        assert_eq!(ocsf["summary"]["sources"][0]["format"], "ocsf", "{input}");
        assert_eq!(findings(&ocsf), expected, "{input}");
        // The malformed sample record (no eventTime) is rejected in both, for its time;
        // every other record is read, or skipped as a sign-in.
        let (read, accepted, rejected, skipped) = totals(&ocsf);
        let (ct_read, ct_accepted, ct_rejected, ct_skipped) = totals(&cloudtrail);
        assert_eq!((read, rejected), (ct_read, ct_rejected), "{input}");
        assert_eq!(accepted + skipped, ct_accepted + ct_skipped, "{input}");
        let sign_ins = &ocsf["summary"]["sources"][0]["skip_reasons"]
            ["OCSF class 3002 (Authentication), not API Activity (6003)"];
        assert_eq!(
            skipped - ct_skipped,
            sign_ins.as_u64().unwrap_or(0),
            "{input}"
        );
        let quarantine = std::fs::read_to_string(tmp.path().join("quarantine.csv")).unwrap();
        assert!(
            quarantine.contains(input) && quarantine.contains("time,is missing"),
            "{quarantine}"
        );
    }
}

#[test]
fn each_cloudtrail_guardrail_fires_on_ocsf_as_on_cloudtrail_but_sign_ins_are_skipped() {
    let tmp = tempfile::tempdir().unwrap();
    let cloudtrail = audit("tests/fixtures/audit/cloudtrail-real", tmp.path());
    let expected = findings(&cloudtrail);
    // Security Lake maps ConsoleLogin to Authentication (class 3002), not API Activity:
    // those records are skipped, with why, so the sign-in policy has nothing to see.
    let sign_in = |k: &Key| k.0 == "ct-console-login-without-mfa";
    assert!(expected.iter().any(sign_in), "{expected:?}");
    let api_activity: BTreeSet<Key> = expected.iter().filter(|k| !sign_in(k)).cloned().collect();
    for input in [
        "tests/fixtures/audit/ocsf/cloudtrail-real.ocsf.jsonl",
        "tests/fixtures/audit/ocsf/cloudtrail-real.ocsf.parquet",
    ] {
        let ocsf = audit(input, tmp.path());
        assert_eq!(findings(&ocsf), api_activity, "{input}");
        let (read, accepted, rejected, skipped) = totals(&ocsf);
        assert_eq!((read, rejected, skipped), (93, 0, 3), "{input}");
        assert_eq!(read, accepted + rejected + skipped);
        let source = &ocsf["summary"]["sources"][0];
        assert_eq!(
            source["skip_reasons"]["OCSF class 3002 (Authentication), not API Activity (6003)"], 3,
            "{source}"
        );
    }
}

#[test]
fn the_table_says_why_ocsf_records_were_skipped() {
    let tmp = tempfile::tempdir().unwrap();
    let quarantine = tmp.path().join("q.csv");
    let run = regwatch(&[
        "audit",
        "--config",
        "regwatch.toml",
        "tests/fixtures/audit/ocsf/cloudtrail-real.ocsf.jsonl",
        "--no-sigma",
        "--quarantine",
        quarantine.to_str().unwrap(),
    ]);
    assert_eq!(run.code, 0, "{run:?}");
    assert!(
        run.stdout.contains(
            "93 record(s) read = 90 accepted + 0 rejected + 3 skipped (3 OCSF class 3002 (Authentication), not API Activity (6003))"
        ),
        "{}",
        run.stdout
    );
}

/// Records as Security Lake may write them beyond what the converter makes: a principal
/// id for an actor (no ARN) whose session issuer is an agent's role (so an AI agent), a
/// short service name, a failure said only by `status_id` (no change), a record that is
/// not OCSF (rejected), another class (skipped).
#[test]
fn the_session_issuer_and_status_id_are_read_and_other_records_accounted_for() {
    let tmp = tempfile::tempdir().unwrap();
    let record = |status: u8, operation: &str| {
        serde_json::json!({
            "class_uid": 6003, "activity_id": 4, "time": 1_793_779_200_000_i64,
            "status_id": status, "metadata": {"uid": format!("evt-{operation}-{status}")},
            "api": {"operation": operation, "service": {"name": "s3"}},
            "actor": {"user": {"type": "AssumedRole", "uid": "AROAEXAMPLE:session-1"},
                      "session": {"issuer": "arn:aws:iam::111111111111:role/opsbot-agent-role"}},
            "cloud": {"account": {"uid": "111111111111"}, "region": "eu-west-2"},
            "resources": [{"uid": "arn:aws:s3:::b1", "type": "AWS::S3::Bucket"}]
        })
        .to_string()
    };
    let lines = [
        record(1, "DeleteBucket"),
        // Failed, though no error text says so: an attempt, not a change.
        record(2, "DeleteBucket"),
        r#"{"time": 1793779200000, "api": {"operation": "DeleteBucket"}}"#.to_string(),
        r#"{"class_uid": 2004, "class_name": "Detection Finding", "time": 1793779200000}"#
            .to_string(),
    ];
    let file = tmp.path().join("lake.ocsf.jsonl");
    std::fs::write(&file, lines.join("\n") + "\n").unwrap();
    let r = audit(file.to_str().unwrap(), tmp.path());
    assert_eq!(totals(&r), (4, 2, 1, 1), "{}", r["summary"]);
    assert_eq!(
        r["summary"]["totals"]["ai_change_events"], 1,
        "{}",
        r["summary"]
    );
    let destructive: Vec<&Value> = (r["findings"].as_array().unwrap().iter())
        .filter(|f| f["policy"] == "destructive-prod-without-approval")
        .collect();
    assert_eq!(destructive.len(), 1, "{}", r["findings"]);
    assert_eq!(destructive[0]["actors"][0], "AROAEXAMPLE:session-1");
    assert_eq!(destructive[0]["resources"][0], "arn:aws:s3:::b1");
    assert_eq!(destructive[0]["events"][0]["record"], 1);
    let quarantine = std::fs::read_to_string(tmp.path().join("quarantine.csv")).unwrap();
    assert!(
        quarantine.contains("class_uid,is missing (not an OCSF event)"),
        "{quarantine}"
    );
}
