//! Findings back in (issue 24): a native run's findings, exported in the findings schema
//! (`--format findings`, JSON lines) and rewritten as an SQL engine exports them (CSV with
//! `;`-joined lists and SQL timestamps, Parquet with lists and TIMESTAMP columns, through
//! DuckDB: tests/support/findings_convert.py), read back with `--findings` give the same
//! SARIF results, JSON findings, coverage and `--fail-on` as the run; rows that cannot be
//! read are rejected with file, line and reason, and exit 6.

mod common;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use common::{python_support, regwatch, Run};
use serde_json::Value;

/// `regwatch audit --config regwatch.toml ARGS --quarantine DIR/quarantine.csv`.
fn audit(args: &[&str], dir: &Path) -> Run {
    let quarantine = dir.join("quarantine.csv");
    let mut all = vec!["audit", "--config", "regwatch.toml"];
    all.extend_from_slice(args);
    all.extend_from_slice(&["--quarantine", quarantine.to_str().unwrap()]);
    regwatch(&all)
}

fn parse(run: &Run) -> Value {
    assert!(run.code == 0 || run.code == 1, "{run:?}");
    serde_json::from_str(&run.stdout).unwrap_or_else(|e| panic!("{e}: {}", run.stdout))
}

/// The native run's findings on the samples as JSON lines, CSV and Parquet.
fn exported(dir: &Path, extra: &[&str]) -> Vec<PathBuf> {
    let jsonl = dir.join("findings.jsonl");
    let mut args = vec!["samples/audit", "--format", "findings", "--quiet", "-o"];
    args.push(jsonl.to_str().unwrap());
    args.extend_from_slice(extra);
    let run = audit(&args, dir);
    assert_eq!(run.code, 0, "{run:?}");
    let (csv, parquet) = (dir.join("findings.csv"), dir.join("findings.parquet"));
    let (ok, said) = python_support(
        "findings_convert.py",
        &[jsonl.as_os_str(), csv.as_os_str(), parquet.as_os_str()],
    );
    assert!(ok, "{said}");
    vec![jsonl, csv, parquet]
}

/// SARIF results as a set (their rule index depends on which rules are listed).
fn sarif_results(run: &Run) -> BTreeSet<String> {
    let sarif = parse(run);
    sarif["runs"][0]["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            let mut r = r.clone();
            r.as_object_mut().unwrap().remove("ruleIndex");
            r.to_string()
        })
        .collect()
}

/// Policy, change, severity, actors, resources, events and detail of every JSON finding.
fn json_findings(r: &Value) -> BTreeSet<String> {
    let keep = [
        "policy",
        "change_id",
        "severity",
        "actors",
        "resources",
        "resource_count",
        "events",
        "event_count",
        "first_at",
        "last_at",
        "detail",
    ];
    r["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            let kept: serde_json::Map<String, Value> =
                keep.iter().map(|k| (k.to_string(), f[k].clone())).collect();
            Value::Object(kept).to_string()
        })
        .collect()
}

#[test]
fn findings_read_back_give_the_runs_sarif_json_and_gate() {
    let tmp = tempfile::tempdir().unwrap();
    let files = exported(tmp.path(), &[]);
    let native_sarif = sarif_results(&audit(&["samples/audit", "--format", "sarif"], tmp.path()));
    let native_json = parse(&audit(&["samples/audit", "--format", "json"], tmp.path()));
    assert!(native_sarif.len() > 50, "{}", native_sarif.len());
    let gates = ["low", "medium", "high", "critical"];
    let native_gates: Vec<i32> = gates
        .iter()
        .map(|g| audit(&["samples/audit", "--fail-on", g], tmp.path()).code)
        .collect();
    for file in &files {
        let f = file.to_str().unwrap();
        let sarif = sarif_results(&audit(&["--findings", f, "--format", "sarif"], tmp.path()));
        assert_eq!(sarif, native_sarif, "{f}");
        let json = parse(&audit(&["--findings", f, "--format", "json"], tmp.path()));
        assert_eq!(json_findings(&json), json_findings(&native_json), "{f}");
        assert_eq!(json["summary"]["totals"]["rejected"], 0, "{f}");
        let read_gates: Vec<i32> = gates
            .iter()
            .map(|g| audit(&["--findings", f, "--fail-on", g], tmp.path()).code)
            .collect();
        assert_eq!(read_gates, native_gates, "{f}");
    }
}

#[test]
fn findings_read_back_give_the_runs_coverage_and_a_gate_that_does_not_trip() {
    let tmp = tempfile::tempdir().unwrap();
    // Without Sigma rules: a run leaves out those that saw no record of theirs, a
    // findings file cannot say which saw nothing.
    let files = exported(tmp.path(), &["--no-sigma"]);
    let native = parse(&audit(
        &["samples/audit", "--format", "json", "--no-sigma"],
        tmp.path(),
    ));
    let table = audit(&["samples/audit", "--coverage", "--no-sigma"], tmp.path());
    let coverage_of = |out: &str| out[out.find("NIST AI RMF 1.0 coverage").unwrap()..].to_string();
    for file in &files {
        let f = file.to_str().unwrap();
        let json = parse(&audit(
            &["--findings", f, "--format", "json", "--no-sigma"],
            tmp.path(),
        ));
        assert_eq!(json["coverage"], native["coverage"], "{f}");
        assert_eq!(
            json["summary"]["findings_by_policy"], native["summary"]["findings_by_policy"],
            "{f}"
        );
        let read = audit(&["--findings", f, "--coverage", "--no-sigma"], tmp.path());
        assert_eq!(coverage_of(&read.stdout), coverage_of(&table.stdout), "{f}");
    }
    // Only the medium findings: a high gate stays shut, a medium one trips.
    let jsonl = std::fs::read_to_string(&files[0]).unwrap();
    let medium: String = jsonl
        .lines()
        .filter(|l| l.contains("\"severity\":\"medium\""))
        .map(|l| format!("{l}\n"))
        .collect();
    assert!(!medium.is_empty());
    let medium_file = tmp.path().join("medium.jsonl");
    std::fs::write(&medium_file, medium).unwrap();
    let f = medium_file.to_str().unwrap();
    assert_eq!(
        audit(
            &["--findings", f, "--fail-on", "high", "--no-sigma"],
            tmp.path()
        )
        .code,
        0
    );
    assert_eq!(
        audit(
            &["--findings", f, "--fail-on", "medium", "--no-sigma"],
            tmp.path()
        )
        .code,
        1
    );
}

#[test]
fn rows_that_cannot_be_read_are_rejected_with_file_line_and_reason_and_exit_6() {
    let tmp = tempfile::tempdir().unwrap();
    let csv = tmp.path().join("engine.csv");
    std::fs::write(
        &csv,
        "policy,severity,first_at,change_id,actors,resources,evidence,detail\n\
         logging-disabled,critical,2026-11-05 10:01:00,,arn:aws:iam::1:user/a,trail/x,ct.json#record 2,trail deleted\n\
         ,high,2026-11-05 10:02:00,,a,b,,no policy\n\
         no-such-policy,high,2026-11-05 10:03:00,,a,b,,unknown policy\n\
         logging-disabled,critical,yesterday-ish,,a,b,,bad time\n",
    )
    .unwrap();
    let f = csv.to_str().unwrap();
    let run = audit(
        &["--findings", f, "--format", "json", "--no-sigma"],
        tmp.path(),
    );
    assert_eq!(run.code, 6, "{run:?}");
    let r: Value = serde_json::from_str(&run.stdout).unwrap();
    let t = &r["summary"]["totals"];
    assert_eq!(
        (
            t["read"].as_u64(),
            t["accepted"].as_u64(),
            t["rejected"].as_u64()
        ),
        (Some(4), Some(1), Some(3))
    );
    assert_eq!(
        r["findings"][0]["events"][0]["record"], 2,
        "{}",
        r["findings"]
    );
    for (line, field, reason) in [
        (3, "policy", "is missing"),
        (4, "policy", "\"no-such-policy\" is not an enabled policy"),
        (5, "first_at", "yesterday-ish"),
    ] {
        let said = format!("{f} line {line}, field {field}: ");
        let at = run
            .stderr
            .find(&said)
            .unwrap_or_else(|| panic!("{said}: {}", run.stderr));
        let rest = &run.stderr[at + said.len()..];
        assert!(rest.lines().next().unwrap().contains(reason), "{rest}");
    }
    let quarantine = std::fs::read_to_string(tmp.path().join("quarantine.csv")).unwrap();
    assert_eq!(quarantine.lines().count(), 4, "{quarantine}");
    // The gate still reads the finding that was read: past it, 1 comes before 6.
    let gated = audit(
        &["--findings", f, "--fail-on", "high", "--no-sigma"],
        tmp.path(),
    );
    assert_eq!(gated.code, 1, "{gated:?}");
}
