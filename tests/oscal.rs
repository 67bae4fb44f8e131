//! `regwatch audit --format oscal`: the NIST AI RMF coverage as an OSCAL
//! assessment-results document, loaded with compliance-trestle's OSCAL models
//! (tests/support/oscal_validate.py) from the binary's real output, and broken copies
//! refused.

mod common;

use std::path::Path;

use common::{python_support, regwatch_in, root};
use serde_json::Value;

/// Runs the validator (compliance-trestle): (passed, what it said).
fn validate(doc: &Path) -> (bool, String) {
    python_support("oscal_validate.py", &[doc.as_os_str()])
}

/// `audit INPUT --format oscal [extra]` written to `dir/name`, and read back.
fn oscal(dir: &Path, input: &Path, name: &str, extra: &[&str]) -> Value {
    let out = dir.join(name);
    let (input_s, out_s) = (input.display().to_string(), out.display().to_string());
    let mut args = vec![
        "audit", &input_s, "--quiet", "--format", "oscal", "-o", &out_s,
    ];
    args.extend_from_slice(extra);
    let run = regwatch_in(dir, &args);
    assert_eq!(run.code, 0, "{run:?}");
    serde_json::from_str(&std::fs::read_to_string(&out).unwrap()).unwrap()
}

fn coverage_json(dir: &Path, input: &Path) -> Value {
    let input = input.display().to_string();
    let run = regwatch_in(dir, &["audit", &input, "--quiet", "--format", "json"]);
    let v: Value = serde_json::from_str(&run.stdout).unwrap();
    v["coverage"].clone()
}

fn without_last_modified(mut doc: Value) -> Value {
    doc["assessment-results"]["metadata"]
        .as_object_mut()
        .unwrap()
        .remove("last-modified");
    doc
}

#[test]
fn coverage_is_valid_oscal_assessment_results() {
    let dir = tempfile::tempdir().unwrap();
    let samples = root().join("samples/audit");
    let doc = oscal(dir.path(), &samples, "ar.json", &["--coverage"]);
    let (ok, said) = validate(&dir.path().join("ar.json"));
    assert!(ok, "{said}");
    assert!(said.contains("valid OSCAL"), "{said}");
    let ar = &doc["assessment-results"];
    let result = &ar["results"][0];
    let coverage = coverage_json(dir.path(), &samples);
    let coverage = coverage.as_array().unwrap();
    let covered: Vec<&Value> = (coverage.iter())
        .filter(|c| !c["policies"].as_array().unwrap().is_empty())
        .collect();
    // Every one of the 72 subcategories reviewed or excluded; one finding per covered one.
    let selection = &result["reviewed-controls"]["control-selections"][0];
    let included = selection["include-controls"].as_array().unwrap().len();
    let excluded = selection["exclude-controls"].as_array().map_or(0, Vec::len);
    assert_eq!((included, included + excluded), (covered.len(), 72));
    let findings = result["findings"].as_array().unwrap();
    assert_eq!(findings.len(), covered.len());
    for (f, c) in findings.iter().zip(&covered) {
        let id = c["id"].as_str().unwrap();
        let token = id.to_lowercase().replace(' ', "-");
        assert_eq!(f["target"]["type"], "objective-id");
        assert_eq!(f["target"]["target-id"], token.as_str());
        let state = &f["target"]["status"]["state"];
        if c["failed"].as_u64().unwrap() > 0 {
            assert_eq!(state, "not-satisfied", "{id}");
        } else if c["passed"].as_u64().unwrap() > 0 {
            assert_eq!(state, "satisfied", "{id}");
        }
        // CISO Assistant's URN, to import the finding as evidence for the requirement.
        let urn = (f["props"].as_array().unwrap().iter())
            .find(|p| p["name"] == "ciso-assistant-urn")
            .unwrap();
        assert_eq!(
            urn["value"],
            format!("urn:intuitem:risk:req_node:nist-ai-rmf-1.0:{token}")
        );
        assert_eq!(urn["ns"], "urn:regwatch:oscal");
        assert_eq!(
            f["related-observations"].as_array().unwrap().len(),
            c["policies"].as_array().unwrap().len()
        );
        // Name-based UUIDs: version 5.
        assert_eq!(&f["uuid"].as_str().unwrap()[14..15], "5");
    }
    assert!(findings
        .iter()
        .any(|f| f["target"]["status"]["state"] == "not-satisfied"));
    // Deterministic: another run (and one without --coverage, which OSCAL implies)
    // differs only in last-modified.
    let again = oscal(dir.path(), &samples, "ar2.json", &[]);
    assert_eq!(without_last_modified(again), without_last_modified(doc));
}

/// With no production event, the production-only policies have no evidence: their
/// subcategories are not satisfied, with the reason "other" and why.
#[test]
fn no_evidence_is_not_satisfied_and_says_why() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("dev.jsonl");
    std::fs::write(
        &log,
        r#"{"timestamp":"2026-11-10T10:00:00Z","actor":"h.jones","actor_type":"human","action":"terraform apply","operation":"update","resource":"svc/web","environment":"dev"}
"#,
    )
    .unwrap();
    let doc = oscal(dir.path(), &log, "dev.json", &["--coverage"]);
    let (ok, said) = validate(&dir.path().join("dev.json"));
    assert!(ok, "{said}");
    let findings = doc["assessment-results"]["results"][0]["findings"]
        .as_array()
        .unwrap();
    let other = (findings.iter())
        .find(|f| f["target"]["status"]["reason"] == "other")
        .expect("a subcategory with no evidence");
    assert_eq!(other["target"]["status"]["state"], "not-satisfied");
    assert!(other["target"]["status"]["remarks"]
        .as_str()
        .unwrap()
        .starts_with("No evidence"));
}

/// The models are not a rubber stamp: the real document, each time with one thing
/// wrong, is refused.
#[test]
fn a_wrong_document_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let doc = oscal(dir.path(), &root().join("samples/audit"), "ar.json", &[]);
    type Break = fn(&mut Value);
    let breaks: [(Break, &str); 6] = [
        (
            |d| d["results"][0]["findings"][0]["target"]["status"]["state"] = "passed".into(),
            "state",
        ),
        (
            |d| d["results"][0]["findings"][0]["target"]["type"] = "control-id".into(),
            "type",
        ),
        (
            |d| {
                d.as_object_mut().unwrap().remove("import-ap");
            },
            "import",
        ),
        (
            // A version 1 UUID: OSCAL takes 4 (random) or 5 (name-based) only.
            |d| d["uuid"] = "c232ab00-9414-11ec-b3c8-9f6bdeced846".into(),
            "uuid",
        ),
        (
            |d| d["results"][0]["findings"][0]["verdict"] = "fine".into(),
            "verdict",
        ),
        (
            |d| {
                d["results"][0]["findings"][0]["related-observations"][0]["observation-uuid"] =
                    "6f1b5b52-2b8c-4f55-9d2e-0a4c1e1f7a10".into()
            },
            "is not in the result",
        ),
    ];
    for (i, (break_it, says)) in breaks.iter().enumerate() {
        let mut bad = doc.clone();
        break_it(&mut bad["assessment-results"]);
        let path = dir.path().join(format!("bad-{i}.json"));
        std::fs::write(&path, bad.to_string()).unwrap();
        let (ok, said) = validate(&path);
        assert!(!ok, "accepted a document with {says:?} broken: {said}");
        assert!(said.contains(says), "expected {says:?} in: {said}");
    }
}
