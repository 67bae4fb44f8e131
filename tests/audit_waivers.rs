//! Waivers end to end: a real waivers file and real audit logs through the binary. A
//! waived finding stays in every output, marked, and does not trip `--fail-on`; a finding
//! beside it that the waiver does not name still does; an expired waiver waives nothing
//! and is a finding itself; a bad file is refused with file, entry and reason.

mod common;

use std::path::{Path, PathBuf};

use common::{regwatch, regwatch_in, root};
use serde_json::Value;

/// A deploy by `actor` that they approved themselves: one high `self-approval` finding.
fn self_approved(actor: &str, change: &str, minute: u32) -> String {
    format!(
        r#"{{"timestamp": "2026-11-10T11:{minute:02}:00Z", "actor": "{actor}", "actor_type": "human", "action": "deploy svc/web", "operation": "deploy", "resource": "svc/web", "environment": "prod", "change_id": "{change}", "dry_run": true, "approved_by": "{actor}", "approver_type": "human", "approved_at": "2026-11-10T11:00:00Z"}}"#
    )
}

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

fn waiver(id: &str, actor: &str, expires: &str) -> String {
    format!(
        "[[waiver]]\nid = \"{id}\"\npolicy = \"self-*\"\nactor = \"{actor}\"\nreason = \"Break-glass fix, reviewed the next day\"\napprover = \"Head of Security\"\nexpires = {expires}\n\n"
    )
}

/// `audit LOG --waivers FILE --format FORMAT EXTRA...`, run in `dir`.
fn audit(dir: &Path, log: &Path, waivers: &Path, format: &str, extra: &[&str]) -> common::Run {
    let mut args = vec![
        "audit",
        log.to_str().unwrap(),
        "--waivers",
        waivers.to_str().unwrap(),
        "--format",
        format,
    ];
    args.extend_from_slice(extra);
    regwatch_in(dir, &args)
}

fn findings(run: &common::Run) -> Vec<Value> {
    let v: Value = serde_json::from_str(&run.stdout).unwrap_or_else(|e| panic!("{e}: {run:?}"));
    v["findings"].as_array().unwrap().clone()
}

#[test]
fn a_waived_finding_stays_listed_and_the_gate_passes() {
    let dir = tempfile::tempdir().unwrap();
    let log = write(
        dir.path(),
        "changes.jsonl",
        &self_approved("h.jones", "CHG-1", 30),
    );
    let file = write(
        dir.path(),
        "waivers.toml",
        &waiver("W-1", "h.jones", "2099-12-31"),
    );
    // Without the waiver the gate trips; with it, the same finding is listed and passes.
    let bare = regwatch_in(
        dir.path(),
        &[
            "audit",
            log.to_str().unwrap(),
            "--fail-on",
            "high",
            "--format",
            "json",
        ],
    );
    assert_eq!(bare.code, 1, "{bare:?}");
    let run = audit(dir.path(), &log, &file, "json", &["--fail-on", "high"]);
    assert_eq!(run.code, 0, "{run:?}");
    let all = findings(&run);
    let f = all.iter().find(|f| f["policy"] == "self-approval").unwrap();
    assert_eq!(f["waived_by"], "W-1");
    assert_eq!(f["waiver_reason"], "Break-glass fix, reviewed the next day");
    assert_eq!(f["waiver_expires"], "2099-12-31");
    assert_eq!(f["severity"], "high");
    let v: Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(v["summary"]["waivers"]["waived"], 1);
    assert_eq!(v["summary"]["waivers"]["waivers"][0]["findings"], 1);
    assert!(run.stderr.contains("1 finding(s) waived"), "{}", run.stderr);

    // The table marks it; CSV has the three columns.
    let table = audit(dir.path(), &log, &file, "table", &[]);
    assert!(table.stdout.contains("self-approval"), "{}", table.stdout);
    assert!(table.stdout.contains("WAIVED (W-1)"), "{}", table.stdout);
    assert!(table
        .stdout
        .contains("approved by Head of Security, until 2099-12-31"));
    let csv = audit(dir.path(), &log, &file, "csv", &[]);
    let mut reader = csv::Reader::from_reader(csv.stdout.as_bytes());
    let header = reader.headers().unwrap().clone();
    let col = |name: &str| header.iter().position(|h| h == name).unwrap();
    let row = reader
        .records()
        .map(Result::unwrap)
        .find(|r| &r[col("policy")] == "self-approval")
        .unwrap();
    assert_eq!(&row[col("waived_by")], "W-1");
    assert_eq!(&row[col("waiver_expires")], "2099-12-31");

    // SARIF: the result is there, with an accepted external suppression (SARIF 2.1.0
    // section 3.35) carrying the justification.
    let sarif = audit(dir.path(), &log, &file, "sarif", &[]);
    let doc: Value = serde_json::from_str(&sarif.stdout).unwrap();
    let results = doc["runs"][0]["results"].as_array().unwrap();
    let r = results
        .iter()
        .find(|r| r["ruleId"] == "self-approval")
        .unwrap();
    let s = &r["suppressions"][0];
    assert_eq!(s["kind"], "external");
    assert_eq!(s["status"], "accepted");
    assert!(s["justification"]
        .as_str()
        .unwrap()
        .contains("W-1: Break-glass fix"));
    assert!(results
        .iter()
        .filter(|r| r["ruleId"] != "self-approval")
        .all(|r| r.get("suppressions").is_none()));
}

#[test]
fn another_actor_is_not_waived() {
    let dir = tempfile::tempdir().unwrap();
    let records = format!(
        "{}\n{}\n",
        self_approved("h.jones", "CHG-1", 30),
        self_approved("j.okafor", "CHG-2", 40)
    );
    let log = write(dir.path(), "changes.jsonl", &records);
    let file = write(
        dir.path(),
        "waivers.toml",
        &waiver("W-1", "h.jones", "2099-12-31"),
    );
    let run = audit(dir.path(), &log, &file, "json", &["--fail-on", "high"]);
    assert_eq!(run.code, 1, "j.okafor's finding is not waived: {run:?}");
    let all = findings(&run);
    let by = |actor: &str| {
        all.iter()
            .find(|f| f["policy"] == "self-approval" && f["actors"][0] == actor)
            .unwrap_or_else(|| panic!("no finding for {actor}"))
            .clone()
    };
    assert_eq!(by("h.jones")["waived_by"], "W-1");
    assert!(by("j.okafor").get("waived_by").is_none());
    // The same when findings are gathered on disk: marks are made as they are read.
    let spilled = audit(
        dir.path(),
        &log,
        &file,
        "json",
        &["--findings-in-memory", "1"],
    );
    let v: Value = serde_json::from_str(&spilled.stdout).unwrap();
    assert!(
        v["summary"]["totals"]["spilled_findings"].as_u64().unwrap() > 0,
        "{v}"
    );
    assert_eq!(v["findings"], Value::Array(all.clone()));
}

#[test]
fn an_expired_waiver_waives_nothing_and_is_a_finding() {
    let dir = tempfile::tempdir().unwrap();
    let log = write(
        dir.path(),
        "changes.jsonl",
        &self_approved("h.jones", "CHG-1", 30),
    );
    let text = format!(
        "{}{}",
        waiver("W-OLD", "h.jones", "2020-01-31"),
        waiver("W-NONE", "nobody", "2099-01-01")
    );
    let file = write(dir.path(), "waivers.toml", &text);
    let run = audit(dir.path(), &log, &file, "json", &["--fail-on", "high"]);
    assert_eq!(run.code, 1, "the finding counts again: {run:?}");
    let all = findings(&run);
    let f = all.iter().find(|f| f["policy"] == "self-approval").unwrap();
    assert!(f.get("waived_by").is_none(), "{f}");
    let expired: Vec<&Value> = all
        .iter()
        .filter(|f| f["policy"] == "waiver-expired")
        .collect();
    assert_eq!(expired.len(), 1, "{all:?}");
    assert_eq!(expired[0]["severity"], "medium");
    let detail = expired[0]["detail"].as_str().unwrap();
    assert!(
        detail.contains("waiver W-OLD") && detail.contains("2020-01-31"),
        "{detail}"
    );
    // It is a finding like any other: gates, counts, SARIF rules, coverage.
    let v: Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(v["summary"]["findings_by_policy"]["waiver-expired"], 1);
    let medium = audit(dir.path(), &log, &file, "json", &["--fail-on", "medium"]);
    assert_eq!(medium.code, 1);
    let sarif = audit(dir.path(), &log, &file, "sarif", &[]);
    let doc: Value = serde_json::from_str(&sarif.stdout).unwrap();
    assert!(doc["runs"][0]["tool"]["driver"]["rules"]
        .as_array()
        .unwrap()
        .iter()
        .any(|r| r["id"] == "waiver-expired"));
    let lapsed = (doc["runs"][0]["results"].as_array().unwrap().iter())
        .find(|r| r["ruleId"] == "waiver-expired")
        .unwrap();
    let uri = &lapsed["locations"][0]["physicalLocation"]["artifactLocation"]["uri"];
    assert_eq!(uri.as_str(), file.to_str(), "located in the waivers file");
    // The waiver that matched nothing is named in the summary.
    assert!(
        run.stderr
            .contains("waiver W-NONE (policy self-*, actor nobody) matched no finding"),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("waiver W-OLD expired on 2020-01-31"));
}

#[test]
fn a_bad_waivers_file_is_refused_with_file_entry_and_reason() {
    let dir = tempfile::tempdir().unwrap();
    let log = write(
        dir.path(),
        "changes.jsonl",
        &self_approved("h.jones", "CHG-1", 30),
    );
    let good = waiver("W-1", "h.jones", "2099-12-31");
    let cases = [
        (
            good.replace("approver = \"Head of Security\"\n", ""),
            "missing field `approver`",
        ),
        (good.replace("2099-12-31", "\"next year\""), "is not a date"),
        (
            good.replace("actor = \"h.jones\"\n", ""),
            "name what it waives",
        ),
    ];
    for (text, why) in cases {
        let file = write(
            dir.path(),
            "bad.toml",
            &format!("{}{text}", waiver("W-0", "a", "2099-01-01")),
        );
        let run = audit(dir.path(), &log, &file, "json", &[]);
        assert_eq!(run.code, 2, "{run:?}");
        assert!(run.stderr.contains("bad.toml"), "{}", run.stderr);
        assert!(run.stderr.contains("entry 2 (W-1)"), "{}", run.stderr);
        assert!(run.stderr.contains(why), "{why}: {}", run.stderr);
        assert!(run.stdout.is_empty(), "nothing is written: {}", run.stdout);
    }
}

#[test]
fn the_config_names_the_waivers_file() {
    let dir = tempfile::tempdir().unwrap();
    let log = write(
        dir.path(),
        "changes.jsonl",
        &self_approved("h.jones", "CHG-1", 30),
    );
    write(
        dir.path(),
        "waivers.toml",
        &waiver("W-1", "h.jones", "2099-12-31"),
    );
    let cfg = write(
        dir.path(),
        "regwatch.toml",
        "[audit]\nwaivers = \"waivers.toml\"\n",
    );
    // From another folder: the path is read against the config's folder.
    let run = regwatch(&[
        "--config",
        cfg.to_str().unwrap(),
        "audit",
        log.to_str().unwrap(),
        "--format",
        "json",
        "--fail-on",
        "high",
    ]);
    assert_eq!(run.code, 0, "{run:?}");
    assert!(findings(&run).iter().any(|f| f["waived_by"] == "W-1"));
    assert_ne!(root(), dir.path());
}

/// The sample month's report with the audit logs and a waivers file, into `out`.
fn sample_report(out: &Path, waivers: &Path) -> common::Run {
    regwatch(&[
        "report",
        "samples/incidents.csv",
        "--audit",
        "samples/audit",
        "--month",
        "2026-11",
        "--now",
        common::NOW,
        "--out",
        out.to_str().unwrap(),
        "--waivers",
        waivers.to_str().unwrap(),
    ])
}

#[test]
fn the_monthly_report_lists_the_waivers_used_with_their_expiry() {
    // The sample waivers file the README's tour uses.
    let dir = tempfile::tempdir().unwrap();
    let file = root().join("samples/waivers.toml");
    let out = dir.path().join("report");
    let run = sample_report(&out, &file);
    assert_eq!(run.code, 0, "{run:?}");
    let md = std::fs::read_to_string(out.join("report.md")).unwrap();
    let listed = "- `W-2026-014` (policy destructive-prod-without-approval, actor dbkeeper, change CHG-48301): 1 finding(s). Nightly purge of the archive schema, run from runbook RB-7; approved standing change. Approved by Data Platform lead; expires 2027-03-31.";
    assert!(md.contains("### Waivers used"), "{md}");
    assert!(md.contains(listed), "{md}");
    // The waived finding is still among the worst five, marked.
    assert!(
        md.contains("- Waived: waiver W-2026-014: Nightly purge of the archive schema"),
        "{md}"
    );
    let html = std::fs::read_to_string(out.join("report.html")).unwrap();
    assert!(html.contains("<h3>Waivers used</h3>") && html.contains("expires 2027-03-31"));
    let pdf = common::pdftotext(&out.join("report.pdf"), &[]);
    let words = pdf.split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(words.contains("Waivers used"), "{words}");
    assert!(words.contains("expires 2027-03-31"), "{words}");
    // The waivers file is an input of the report: in its manifest.
    let manifest = std::fs::read_to_string(out.join("manifest.json")).unwrap();
    assert!(manifest.contains("waivers.toml"), "{manifest}");
    // An expired waiver is listed too, whenever it lapsed: its finding may be dated in
    // an earlier month.
    let text = format!(
        "{}{}",
        std::fs::read_to_string(&file).unwrap(),
        waiver("W-OLD", "h.jones", "2026-06-30")
    );
    let both = write(dir.path(), "waivers.toml", &text);
    let out2 = dir.path().join("report2");
    let run = sample_report(&out2, &both);
    assert_eq!(run.code, 0, "{run:?}");
    let md = std::fs::read_to_string(out2.join("report.md")).unwrap();
    assert!(
        md.contains(
            "- `W-OLD` (policy self-\\*, actor h.jones): **expired 2026-06-30: waives nothing**"
        ),
        "{md}"
    );
    assert!(md.contains(listed), "{md}");
    // Without the option, no such section.
    let plain = std::fs::read_to_string(root().join("tests/golden/report-2026-11.md")).unwrap();
    assert!(!plain.contains("Waivers used"));
}
