//! `regwatch audit --format ocsf`: the real output on the samples (native, CloudTrail,
//! Kubernetes and Sigma findings), validated against the published OCSF 1.8.0 schema
//! (tests/fixtures/ocsf, by tests/support/ocsf_validate.py), and a wrong record refused.

mod common;

use std::path::Path;

use common::{python_support, regwatch_in, root};
use serde_json::Value;

const CLASS: &str = "events/findings/compliance_finding.json";

/// Runs the validator on a JSON-lines file: (passed, what it said).
fn validate(events: &Path) -> (bool, String) {
    let schema = root().join("tests/fixtures/ocsf");
    python_support(
        "ocsf_validate.py",
        &[schema.as_os_str(), CLASS.as_ref(), events.as_os_str()],
    )
}

/// The samples' findings as OCSF (written with -o) and as regwatch's JSON.
fn samples_ocsf(dir: &Path) -> (Vec<Value>, Value) {
    let out = dir.join("findings.ocsf.jsonl");
    let samples = root().join("samples/audit").display().to_string();
    let out_s = out.display().to_string();
    let run = regwatch_in(
        dir,
        &[
            "audit", &samples, "--quiet", "--format", "ocsf", "-o", &out_s,
        ],
    );
    assert_eq!(run.code, 0, "{run:?}");
    let json = regwatch_in(dir, &["audit", &samples, "--quiet", "--format", "json"]);
    let json: Value = serde_json::from_str(&json.stdout).unwrap();
    let text = std::fs::read_to_string(&out).unwrap();
    let events = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect();
    (events, json)
}

#[test]
fn findings_are_valid_ocsf_compliance_findings() {
    let dir = tempfile::tempdir().unwrap();
    let (events, json) = samples_ocsf(dir.path());
    let (ok, said) = validate(&dir.path().join("findings.ocsf.jsonl"));
    assert!(ok, "{said}");
    assert!(
        said.contains("valid against OCSF 1.8.0 Compliance Finding (2003)"),
        "{said}"
    );
    // One event per finding, in the same order, Sigma rules' included.
    let findings = json["findings"].as_array().unwrap();
    assert_eq!(events.len(), findings.len());
    assert!(events.len() > 50, "{}", events.len());
    assert!(findings
        .iter()
        .any(|f| f["policy"].as_str().unwrap().starts_with("sigma:")));
    for (e, f) in events.iter().zip(findings) {
        assert_eq!(e["class_uid"], 2003);
        assert_eq!(e["type_uid"], 200301);
        assert_eq!(e["compliance"]["control"], f["policy"]);
        assert_eq!(e["finding_info"]["title"], f["title"]);
        // The subcategories as CISO Assistant's URNs, in the finding's order.
        let urns: Vec<String> = (f["nist"].as_array().unwrap().iter())
            .map(|id| {
                let id = id.as_str().unwrap().to_lowercase().replace(' ', "-");
                format!("urn:intuitem:risk:req_node:nist-ai-rmf-1.0:{id}")
            })
            .collect();
        assert_eq!(e["compliance"]["requirements"], serde_json::json!(urns));
        // Milliseconds, of which the JSON shows the whole seconds.
        let first = chrono::DateTime::parse_from_rfc3339(f["first_at"].as_str().unwrap())
            .unwrap()
            .timestamp();
        assert_eq!(e["start_time"].as_i64().unwrap().div_euclid(1000), first);
        assert_eq!(e["count"], f["event_count"]);
    }
    // The finding's id is the same on the next run (a consumer can drop repeats).
    let again = tempfile::tempdir().unwrap();
    let (events2, _) = samples_ocsf(again.path());
    let uids = |v: &[Value]| -> Vec<Value> {
        v.iter().map(|e| e["finding_info"]["uid"].clone()).collect()
    };
    assert_eq!(uids(&events), uids(&events2));
}

/// The validator is not a rubber stamp: the real output, each time with one thing
/// wrong, is refused, saying what.
#[test]
fn a_wrong_record_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let (events, _) = samples_ocsf(dir.path());
    let good = &events[0];
    type Break = fn(&mut Value);
    let breaks: [(Break, &str); 7] = [
        (
            |e| {
                e["finding_info"].as_object_mut().unwrap().remove("uid");
            },
            "finding_info.uid: required, missing",
        ),
        (|e| e["class_uid"] = 2004.into(), "class_uid: 2004"),
        (
            |e| e["actor"] = serde_json::json!({"user": {"name": "x"}}),
            "actor: not an attribute",
        ),
        (
            |e| e["severity_id"] = 7.into(),
            "severity_id: 7 is not one of",
        ),
        (
            |e| e["time"] = "2026-11-03".into(),
            "time: '2026-11-03' is not a timestamp_t",
        ),
        (
            |e| e["status"] = "Open".into(),
            "status: 'Open', the caption",
        ),
        (
            |e| e["compliance"]["status_id"] = 9.into(),
            "compliance.status_id: 9 is not one of",
        ),
    ];
    for (i, (break_it, says)) in breaks.iter().enumerate() {
        let mut bad = good.clone();
        break_it(&mut bad);
        let path = dir.path().join(format!("bad-{i}.jsonl"));
        std::fs::write(&path, format!("{bad}\n")).unwrap();
        let (ok, said) = validate(&path);
        assert!(!ok, "accepted a record with {says:?}: {said}");
        assert!(said.contains(says), "expected {says:?} in: {said}");
    }
}
