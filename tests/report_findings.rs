//! `regwatch report --findings FILE` (issue 24): section 4 from findings an engine computed
//! instead of the logs. The samples' findings, exported by a native run (`audit --format
//! findings`, JSON lines) and rewritten as an engine exports them (Parquet through DuckDB:
//! tests/support/findings_convert.py), give the same section 4 findings, severities,
//! worst five and NIST AI RMF coverage as the report made from the logs; section 6 names
//! the findings file; a bad row is listed with its reason and the exit status is 6.

mod common;

use std::path::{Path, PathBuf};

use common::{python_support, regwatch_in, root, Run, NOW};
use serde_json::Value;

/// `regwatch --config CONFIG ARGS`, run in `dir` (so the quarantine file lands there),
/// with every path absolute; CONFIG is the repository's regwatch.toml unless given.
fn run_with(dir: &Path, config: Option<&str>, args: &[&str]) -> Run {
    let shipped = root().join("regwatch.toml");
    let config = config.unwrap_or(shipped.to_str().unwrap());
    let mut all = vec!["--config", config];
    all.extend_from_slice(args);
    regwatch_in(dir, &all)
}

fn run(dir: &Path, args: &[&str]) -> Run {
    run_with(dir, None, args)
}

fn samples(name: &str) -> String {
    root().join("samples").join(name).display().to_string()
}

/// The sample month's report into `dir/out` with `extra` (`--audit ...` or `--findings ...`).
fn report(dir: &Path, out: &str, extra: &[&str]) -> (Run, Value) {
    report_with(dir, None, out, extra)
}

/// [`report`] with another config file.
fn report_with(dir: &Path, config: Option<&str>, out: &str, extra: &[&str]) -> (Run, Value) {
    let out = dir.join(out);
    let incidents = samples("incidents.csv");
    let mut args = vec![
        "report",
        incidents.as_str(),
        "--month",
        "2026-11",
        "--now",
        NOW,
        "--out",
        out.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    let run = run_with(dir, config, &args);
    let json =
        std::fs::read_to_string(out.join("report.json")).unwrap_or_else(|e| panic!("{e}: {run:?}"));
    (run, serde_json::from_str(&json).unwrap())
}

/// The native run's findings on the samples as JSON lines and as Parquet.
fn exported(dir: &Path, extra: &[&str]) -> Vec<PathBuf> {
    let jsonl = dir.join("findings.jsonl");
    let audit = samples("audit");
    let mut args = vec!["audit", audit.as_str(), "--format", "findings", "--quiet"];
    args.extend_from_slice(&["-o", jsonl.to_str().unwrap()]);
    args.extend_from_slice(extra);
    let r = run(dir, &args);
    assert_eq!(r.code, 0, "{r:?}");
    let (csv, parquet) = (dir.join("findings.csv"), dir.join("findings.parquet"));
    let (ok, said) = python_support(
        "findings_convert.py",
        &[jsonl.as_os_str(), csv.as_os_str(), parquet.as_os_str()],
    );
    assert!(ok, "{said}");
    vec![jsonl, parquet]
}

/// Section 4's parts a findings file carries.
const FINDINGS_PARTS: [&str; 5] = ["findings", "by_severity", "by_policy", "worst", "waivers"];
const COVERAGE_PARTS: [&str; 4] = [
    "coverage",
    "without_evidence",
    "subcategories_covered",
    "subcategories",
];

/// The data-quality rows that are not the incident files.
fn audit_inputs(report: &Value) -> Vec<Value> {
    (report["inputs"].as_array().unwrap().iter())
        .filter(|i| i["kind"] != "incidents")
        .cloned()
        .collect()
}

#[test]
fn a_report_from_findings_has_the_logs_section_4_and_names_its_file() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    // Without Sigma rules: an engine runs none, and a findings file cannot say which rules
    // saw records and found nothing (their passes count in a run's coverage).
    let files = exported(dir, &["--no-sigma"]);
    let audit = samples("audit");
    let (logs_run, logs) = report(dir, "logs", &["--audit", &audit, "--no-sigma"]);
    let from_logs = &logs["ai_operations"];
    assert!(from_logs["findings"].as_u64().unwrap() > 50, "{from_logs}");
    assert!(from_logs["metrics"].as_array().unwrap().len() > 1);
    for (i, file) in files.iter().enumerate() {
        let f = file.to_str().unwrap();
        let (run, read) = report(
            dir,
            &format!("findings-{i}"),
            &["--findings", f, "--no-sigma"],
        );
        assert_eq!(run.code, logs_run.code, "{f}: {run:?}");
        let section = &read["ai_operations"];
        for part in FINDINGS_PARTS.iter().chain(&COVERAGE_PARTS) {
            assert_eq!(section[part], from_logs[part], "{f}: {part}");
        }
        assert_eq!(read["headline"], logs["headline"], "{f}");
        // What it rests on: the findings file, not the logs.
        let read_line = section["read"].as_str().unwrap();
        assert!(read_line.contains(f), "{read_line}");
        assert!(read_line.contains("row(s) read"), "{read_line}");
        assert_eq!(section["metrics"], Value::Array(vec![]), "{f}");
        assert!(section["metrics_note"]
            .as_str()
            .unwrap()
            .contains("--audit"));
        let rows = audit_inputs(&read);
        assert_eq!(rows.len(), 1, "{rows:?}");
        assert_eq!(rows[0]["file"], f);
        assert_eq!(rows[0]["kind"], "audit findings (SQL engine)");
        let n = section["findings"].as_u64().unwrap();
        assert!(rows[0]["read"].as_u64().unwrap() >= n, "{rows:?}");
        assert_eq!(rows[0]["rejected"], 0);
        // The manifest holds the findings file's hash, no log file's.
        let manifest =
            std::fs::read_to_string(dir.join(format!("findings-{i}/manifest.json"))).unwrap();
        assert!(manifest.contains(f), "{manifest}");
        assert!(!manifest.contains("changes-2026-11.jsonl"), "{manifest}");
        // The Markdown says why the change metrics are missing, and where section 4 came from.
        let md = std::fs::read_to_string(dir.join(format!("findings-{i}/report.md"))).unwrap();
        assert!(md.contains("Change metrics are not shown"), "{md}");
        assert!(md.contains("audit findings (SQL engine)"), "{md}");
    }
}

#[test]
fn with_the_sigma_rules_the_findings_are_the_logs_and_the_config_can_name_the_file() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let files = exported(dir, &[]);
    let audit = samples("audit");
    let (_, logs) = report(dir, "logs", &["--audit", &audit]);
    let (_, read) = report(dir, "read", &["--findings", files[1].to_str().unwrap()]);
    for part in FINDINGS_PARTS {
        assert_eq!(
            read["ai_operations"][part], logs["ai_operations"][part],
            "{part}"
        );
    }
    // `[audit] findings` in the config (relative to its folder) is read when neither
    // --audit nor --findings is given.
    let shipped = std::fs::read_to_string(root().join("regwatch.toml")).unwrap();
    let mut config = shipped.replace("[audit]", "[audit]\nfindings = \"findings.jsonl\"");
    for (key, path) in [
        ("mappings", "mappings"),
        ("templates", "templates"),
        ("services", "samples/services.toml"),
    ] {
        let absolute = root().join(path).display().to_string();
        config = config.replace(
            &format!("{key} = {path:?}"),
            &format!("{key} = {absolute:?}"),
        );
    }
    assert_ne!(config, shipped, "the shipped config has an [audit] table");
    std::fs::write(dir.join("regwatch.toml"), config).unwrap();
    let (r, json) = report_with(dir, Some("regwatch.toml"), "from-config", &[]);
    assert_eq!(r.code, 0, "{r:?}");
    for part in FINDINGS_PARTS {
        assert_eq!(
            json["ai_operations"][part], logs["ai_operations"][part],
            "{part}"
        );
    }
    let rows = audit_inputs(&json);
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert!(
        rows[0]["file"]
            .as_str()
            .unwrap()
            .ends_with("findings.jsonl"),
        "{rows:?}"
    );
}

#[test]
fn a_bad_findings_row_is_listed_with_its_reason_and_exits_6() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let files = exported(dir, &["--no-sigma"]);
    let good = std::fs::read_to_string(&files[0]).unwrap();
    let mut lines: Vec<String> = good.lines().map(str::to_string).collect();
    let n = lines.len() as u64;
    // Line 2: a policy that is not enabled; line 4: a time that is not one. One finding
    // fewer is kept (line 4 replaced a real one).
    lines.insert(
        1,
        r#"{"policy":"no-such-policy","first_at":"2026-11-03T09:00:00Z"}"#.to_string(),
    );
    lines[3] = lines[3].replace("\"first_at\":\"2026-11-", "\"first_at\":\"2026-13-");
    let bad = dir.join("bad.jsonl");
    std::fs::write(&bad, lines.join("\n") + "\n").unwrap();
    let (run, read) = report(
        dir,
        "bad",
        &["--findings", bad.to_str().unwrap(), "--no-sigma"],
    );
    assert_eq!(run.code, 6, "{run:?}");
    assert!(run.stderr.contains("no-such-policy"), "{}", run.stderr);
    let rows = audit_inputs(&read);
    assert_eq!(rows[0]["read"], n + 1, "{rows:?}");
    assert_eq!(rows[0]["accepted"], n - 1, "{rows:?}");
    assert_eq!(rows[0]["rejected"], 2, "{rows:?}");
    let issues: Vec<(String, String, String, String)> = (read["input_issues"].as_array())
        .unwrap()
        .iter()
        .map(|i| {
            let s = |k: &str| i[k].as_str().unwrap().to_string();
            (s("location"), s("field"), s("outcome"), s("reason"))
        })
        .collect();
    assert_eq!(issues.len(), 2, "{issues:?}");
    assert_eq!(issues[0].0, "line 2");
    assert_eq!(issues[0].1, "policy");
    assert_eq!(issues[0].2, "rejected");
    assert!(issues[0].3.contains("not an enabled policy"), "{issues:?}");
    assert_eq!(issues[1].0, "line 4");
    assert_eq!(issues[1].1, "first_at");
    // The report says so in section 6 of the Markdown too, and the rows are quarantined.
    let md = std::fs::read_to_string(dir.join("bad/report.md")).unwrap();
    assert!(md.contains("| line 2 |"), "{md}");
    let quarantine = std::fs::read_to_string(dir.join("audit.quarantine.csv")).unwrap();
    assert!(quarantine.contains("no-such-policy"), "{quarantine}");
}
