//! `regwatch audit` end to end: each policy against a fixture that must trigger it and a
//! near miss beside it that must not; every input format, malformed records included;
//! the outputs (table, JSON, CSV, SARIF), the gate and the NIST coverage.

mod common;

use std::collections::BTreeSet;
use std::io::Write;

use common::{fixture, golden, regwatch, regwatch_in, root};
use serde_json::Value;

fn audit_json(args: &[&str]) -> (Value, common::Run) {
    let mut all = vec!["audit"];
    all.extend_from_slice(args);
    all.extend_from_slice(&["--format", "json", "--quiet"]);
    let run = regwatch(&all);
    assert!(run.code == 0 || run.code == 1, "{run:?}");
    let v: Value =
        serde_json::from_str(&run.stdout).unwrap_or_else(|e| panic!("{e}: {}", run.stdout));
    (v, run)
}

/// (policy, change id or first actor) for every finding.
fn keys(report: &Value) -> BTreeSet<(String, String)> {
    report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            let change = f["change_id"].as_str().unwrap();
            let key = if change.is_empty() {
                f["actors"][0]
                    .as_str()
                    .or(f["resources"][0].as_str())
                    .unwrap_or("")
            } else {
                change
            };
            (f["policy"].as_str().unwrap().to_string(), key.to_string())
        })
        .collect()
}

fn set(pairs: &[(&str, &str)]) -> BTreeSet<(String, String)> {
    pairs
        .iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect()
}

#[test]
fn json_findings_are_one_object_per_line_with_the_policy_text_in_each() {
    let path = fixture("audit/policies.jsonl");
    let (report, run) = audit_json(&[path.to_str().unwrap()]);
    let findings = report["findings"].as_array().unwrap();
    assert!(findings.len() > 10, "{}", findings.len());
    let lines: Vec<&str> = run
        .stdout
        .lines()
        .filter(|l| l.starts_with("    {\"policy\":"))
        .collect();
    assert_eq!(lines.len(), findings.len());
    for (line, f) in lines.iter().zip(findings) {
        let alone: Value = serde_json::from_str(line.trim_end_matches(',')).unwrap();
        assert_eq!(&alone, f);
        // The keys in the order people read them (a serde Value would sort them).
        let at = |key: &str| line.find(&format!("\"{key}\":")).unwrap();
        let order = ["policy", "title", "severity", "detail", "why", "change_id"];
        let tail = ["first_at", "last_at", "nist", "obligations"];
        let places: Vec<usize> = order.iter().chain(&tail).map(|k| at(k)).collect();
        assert!(places.windows(2).all(|w| w[0] < w[1]), "{line}");
        assert!(
            !f["why"].as_str().unwrap().is_empty() && !f["nist"].as_array().unwrap().is_empty()
        );
    }
}

#[test]
fn every_policy_fires_on_its_trigger_and_not_on_its_near_miss() {
    let path = fixture("audit/policies.jsonl");
    let (report, _) = audit_json(&[path.to_str().unwrap()]);
    // Exactly these: every near miss (CHG-D2 approved inline, CHG-D3 approved by an approve
    // event, CHG-D4 a dry run, CHG-S2, CHG-A2, CHG-B2 with exactly 50 resources, CHG-T3
    // at 17:29, CHG-T4 at 09:30 BST, CHG-F2 before the freeze, CHG-F3 in staging, CHG-W2,
    // agent-s with exactly 30 changes, svc-deploy and h.jones, account 888 with a gap of
    // exactly 120 minutes) is absent.
    let expected = set(&[
        ("destructive-prod-without-approval", "CHG-D1"),
        ("destructive-prod-without-approval", "CHG-D5"),
        ("self-approval", "CHG-S1"),
        ("ai-approving-ai", "CHG-A1"),
        ("blast-radius", "CHG-B1"),
        ("blast-radius", "CHG-B3"),
        ("out-of-hours-destructive", "CHG-T1"),
        ("out-of-hours-destructive", "CHG-T2"),
        ("out-of-hours-destructive", "CHG-T5"),
        ("change-freeze", "CHG-F1"),
        ("no-dry-run-before-apply", "CHG-N1"),
        ("no-dry-run-before-apply", "CHG-N2"),
        ("ai-change-rate", "agent-r"),
        ("credentials-across-environments", "agent-x"),
        ("wildcard-permission", "CHG-W1"),
        ("ai-action-not-logged", "CHG-P1"),
        ("logging-disabled", "h.jones"),
        ("audit-trail-gap", "999999999999 eu-west-2"),
    ]);
    assert_eq!(keys(&report), expected);
    let find = |policy: &str| {
        report["findings"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|f| f["policy"] == policy)
            .cloned()
            .collect::<Vec<_>>()
    };
    let blast = find("blast-radius");
    assert_eq!(blast[0]["resource_count"], 51);
    assert!(blast[1]["detail"].as_str().unwrap().contains("2 regions"));
    let hours: Vec<String> = find("out-of-hours-destructive")
        .iter()
        .map(|f| f["detail"].as_str().unwrap().to_string())
        .collect();
    assert!(
        hours.iter().any(|d| d.contains("on a bank holiday")),
        "{hours:?}"
    );
    assert!(
        hours.iter().any(|d| d.contains("at 08:30 local time")),
        "{hours:?}"
    );
    let rate = &find("ai-change-rate")[0];
    assert_eq!(rate["event_count"], 31);
    let gap = &find("audit-trail-gap")[0];
    assert!(gap["detail"].as_str().unwrap().contains("3h 30m"), "{gap}");
    // Findings name their events by file and line.
    let d1 = &find("destructive-prod-without-approval")[0];
    let line = d1["events"][0]["line"].as_u64().unwrap() as usize;
    let text = std::fs::read_to_string(&path).unwrap();
    let src = text.lines().nth(line - 1).unwrap();
    assert!(src.contains("DROP TABLE orders"), "{src}");
    assert!(d1["why"]
        .as_str()
        .unwrap()
        .contains("deleted the production database"));
    assert!(d1["nist"]
        .as_array()
        .unwrap()
        .contains(&Value::from("MANAGE 2.4")));
}

#[test]
fn the_table_is_what_a_person_reads() {
    let run = regwatch(&["audit", "tests/fixtures/audit/policies.jsonl", "--coverage"]);
    assert_eq!(run.code, 0, "{run:?}");
    golden("audit-policies.txt", &run.stdout);
}

#[test]
fn the_table_fits_80_columns_with_every_finding_and_severities_in_colour() {
    let args = ["audit", "tests/fixtures/audit/policies.jsonl", "--coverage"];
    let run = common::regwatch_env(&root(), &args, &[("COLUMNS", "80")]);
    assert_eq!(run.code, 0, "{run:?}");
    common::assert_fits(&run.stdout, 80);
    assert!(!run.stdout.contains('\x1b'), "no colour into a pipe");
    // Every finding is there: its policy and change (or actor), and the totals.
    let (report, _) = audit_json(&["tests/fixtures/audit/policies.jsonl"]);
    let findings = report["findings"].as_array().unwrap();
    let heads = run
        .stdout
        .lines()
        .filter(|l| ["CRITICAL", "HIGH", "MEDIUM", "LOW"].contains(&l.split(' ').next().unwrap()))
        .count();
    assert_eq!(heads, findings.len(), "{}", run.stdout);
    for (policy, key) in keys(&report) {
        assert!(
            run.stdout.contains(&policy) && run.stdout.contains(&key),
            "{policy} {key}"
        );
    }
    assert!(run.stdout.contains("NIST AI RMF 1.0 coverage"));
    // --color always: critical and high in red, even into a pipe.
    let mut always = args.to_vec();
    always.push("--color=always");
    let coloured = common::regwatch_env(&root(), &always, &[("COLUMNS", "80")]);
    assert!(coloured.stdout.contains("\x1b["), "{}", coloured.stdout);
    let never = common::regwatch_on_terminal(&args, &[("NO_COLOR", "1"), ("COLUMNS", "80")]);
    assert!(!never.stdout.contains('\x1b'), "{}", never.stdout);
    assert!(never.stdout.contains("CRITICAL"));
}

#[test]
fn malformed_records_are_quarantined_with_file_line_and_field() {
    let dir = tempfile::tempdir().unwrap();
    let input = fixture("audit/bad.jsonl");
    let input = input.to_str().unwrap();
    let mappings = root().join("mappings");
    let m = mappings.to_str().unwrap();
    let run = regwatch_in(
        dir.path(),
        &["audit", input, "--mappings", m, "--format", "json"],
    );
    assert_eq!(run.code, 0, "{run:?}");
    assert!(
        run.stderr
            .contains("8 record(s) read = 2 accepted + 6 rejected"),
        "{}",
        run.stderr
    );
    let report: Value = serde_json::from_str(&run.stdout).unwrap();
    let totals = &report["summary"]["totals"];
    assert_eq!(
        (
            totals["read"].as_u64(),
            totals["accepted"].as_u64(),
            totals["rejected"].as_u64()
        ),
        (Some(8), Some(2), Some(6))
    );
    let mut q = csv::Reader::from_path(dir.path().join("audit.quarantine.csv")).unwrap();
    let rows: Vec<(String, String)> = q
        .records()
        .map(|r| {
            let r = r.unwrap();
            (r[1].to_string(), r[3].to_string())
        })
        .collect();
    assert_eq!(
        rows,
        [
            ("line 2", "json"),
            ("line 3", "actor"),
            ("line 4", "operation"),
            ("line 5", "timestamp"),
            ("line 7", "dry_run"),
            ("line 8", "timestamp"),
        ]
        .map(|(a, b)| (a.to_string(), b.to_string()))
    );
    // A local time the clocks repeat is an error, not a guess.
    let text = std::fs::read_to_string(dir.path().join("audit.quarantine.csv")).unwrap();
    assert!(text.contains("happens twice"), "{text}");
    // --strict stops at the first bad record, naming it.
    let run = regwatch_in(dir.path(), &["audit", input, "--mappings", m, "--strict"]);
    assert_eq!(run.code, 2, "{run:?}");
    assert!(
        run.stderr.contains("bad.jsonl line 2, field json"),
        "{}",
        run.stderr
    );
}

#[test]
fn csv_and_parquet_read_the_same_schema() {
    let (csv, run) = audit_json(&["tests/fixtures/audit/formats.csv"]);
    assert!(run.stderr.is_empty(), "--quiet: {}", run.stderr);
    let t = &csv["summary"]["totals"];
    assert_eq!(
        (
            t["read"].as_u64(),
            t["accepted"].as_u64(),
            t["rejected"].as_u64()
        ),
        (Some(5), Some(2), Some(3))
    );
    let (parquet, _) = audit_json(&["tests/fixtures/audit/formats.parquet"]);
    let t = &parquet["summary"]["totals"];
    assert_eq!(
        (
            t["read"].as_u64(),
            t["accepted"].as_u64(),
            t["rejected"].as_u64()
        ),
        (Some(3), Some(2), Some(1))
    );
    let both = set(&[
        ("destructive-prod-without-approval", "CHG-C1"),
        ("self-approval", "CHG-C2"),
        ("no-dry-run-before-apply", "CHG-C1"),
        ("no-dry-run-before-apply", "CHG-C2"),
    ]);
    assert_eq!(keys(&csv), both);
    assert_eq!(keys(&parquet), both);
    // Parquet rows are records, not lines.
    assert!(
        parquet["findings"][0]["events"][0]["record"].is_u64(),
        "{}",
        parquet["findings"][0]
    );
}

#[test]
fn gzipped_files_in_a_folder_tree_are_found() {
    let dir = tempfile::tempdir().unwrap();
    let nested = dir.path().join("2026/11");
    std::fs::create_dir_all(&nested).unwrap();
    let plain = std::fs::read(fixture("audit/policies.jsonl")).unwrap();
    let mut gz = flate2::write::GzEncoder::new(
        std::fs::File::create(nested.join("events.jsonl.gz")).unwrap(),
        flate2::Compression::default(),
    );
    gz.write_all(&plain).unwrap();
    gz.finish().unwrap();
    std::fs::write(dir.path().join("notes.txt"), "not an audit log").unwrap();
    let (tree, _) = audit_json(&[dir.path().to_str().unwrap()]);
    let (direct, _) = audit_json(&["tests/fixtures/audit/policies.jsonl"]);
    assert_eq!(tree["summary"]["totals"]["files"], 1);
    assert_eq!(keys(&tree), keys(&direct));
    assert_eq!(keys(&tree).len(), 18, "the gzipped copy was read in full");
}

#[test]
fn cloudtrail_as_aws_delivers_it() {
    let (r, _) = audit_json(&["--config", "regwatch.toml", "samples/audit/cloudtrail"]);
    let t = &r["summary"]["totals"];
    // 6 files up to 16 Nov, and 17 of 24 Nov (the CloudTrail guardrails' story).
    assert_eq!(t["files"], 23);
    assert_eq!(
        (
            t["read"].as_u64(),
            t["accepted"].as_u64(),
            t["rejected"].as_u64()
        ),
        (Some(117), Some(116), Some(1))
    );
    let findings = r["findings"].as_array().unwrap();
    let details: Vec<&str> = findings
        .iter()
        .map(|f| f["detail"].as_str().unwrap())
        .collect();
    // The agent (found by its role, session and user agent) deleted the database.
    assert!(
        details
            .iter()
            .any(|d| d.contains("opsbot-agent-role") && d.contains("DeleteDBInstance")),
        "{details:#?}"
    );
    // Its EC2 dry run is not a deletion.
    let terminations: Vec<&Value> = findings
        .iter()
        .filter(|f| {
            f["policy"] == "destructive-prod-without-approval"
                && f["detail"].as_str().unwrap().contains("TerminateInstances")
        })
        .collect();
    assert!(!terminations.is_empty());
    for f in &terminations {
        assert!(!f["resources"].to_string().contains("dry"), "{f}");
    }
    assert!(details.iter().any(|d| d.contains("StopLogging")));
    assert!(findings
        .iter()
        .any(|f| f["policy"] == "wildcard-permission"));
    assert!(findings[0]["events"][0]["record"].is_u64());
}

#[test]
fn kubernetes_audit_logs() {
    let (r, _) = audit_json(&[
        "--config",
        "regwatch.toml",
        "samples/audit/k8s/audit-prod-cluster.jsonl",
    ]);
    let t = &r["summary"]["totals"];
    assert_eq!(t["rejected"], 1);
    assert_eq!(
        t["read"].as_u64().unwrap(),
        t["accepted"].as_u64().unwrap() + 1 + t["skipped"].as_u64().unwrap()
    );
    let k = keys(&r);
    assert!(
        k.contains(&(
            "destructive-prod-without-approval".into(),
            "CHG-48213".into()
        )),
        "{k:?}"
    );
    assert!(
        k.contains(&(
            "logging-disabled".into(),
            "j.okafor@hartwell-pike.co.uk".into()
        )),
        "{k:?}"
    );
    // The server-side dry run (dryRun=All) is not a change.
    assert!(!k
        .iter()
        .any(|(p, c)| p == "destructive-prod-without-approval" && c == "CHG-48395"));
    // Lease renewals keep the stream continuous and are not changes.
    assert!(
        !k.iter()
            .any(|(p, _)| p == "audit-trail-gap" || p == "change-freeze"),
        "{k:?}"
    );
}

/// samples/audit/expected-findings.json, and the audit of `paths` with the sample config.
fn sample_audit(paths: &[&str]) -> (Value, Value) {
    let expected: Value = serde_json::from_str(
        &std::fs::read_to_string(root().join("samples/audit/expected-findings.json")).unwrap(),
    )
    .unwrap();
    let mut args = vec!["--config", "regwatch.toml"];
    args.extend_from_slice(paths);
    (expected, audit_json(&args).0)
}

#[test]
fn the_sample_month_matches_an_independent_reading_of_the_policies() {
    // samples/audit/generate.py checks its own events against policies.toml in Python;
    // every change it expects a policy to catch, regwatch must catch too.
    let (expected, r) = sample_audit(&["samples/audit/native/changes-2026-11.jsonl"]);
    let got = keys(&r);
    let mut checked = 0;
    for (policy, changes) in expected["findings"].as_object().unwrap() {
        for key in changes
            .as_object()
            .unwrap()
            .keys()
            .filter(|k| k.starts_with("CHG-"))
        {
            assert!(
                got.contains(&(policy.clone(), key.clone())),
                "{policy} {key} missing from {got:#?}"
            );
            checked += 1;
        }
    }
    assert!(checked >= 15, "{checked}");
    for near_miss in ["CHG-48430", "CHG-48431", "CHG-48415", "CHG-48345"] {
        assert!(
            !got.iter().any(|(_, c)| c == near_miss),
            "{near_miss} flagged: {got:#?}"
        );
    }
}

#[test]
fn the_sample_clouds_guardrails_fire_on_their_triggers_and_not_on_their_near_misses() {
    // samples/audit/generate.py lists, in expected-findings.json's `guardrails`, the
    // CloudTrail records and Kubernetes lines that its story makes a trigger of each ct-*,
    // k8s-* and wildcard-permission policy, and its near misses (a failed attempt, a
    // read-only grant, a detach, staging, a service).
    let (expected, r) = sample_audit(&["samples/audit/cloudtrail", "samples/audit/k8s"]);
    // Every event of every finding, by (file under samples/audit, record or line).
    let mut policies_of: std::collections::BTreeMap<(String, u64), BTreeSet<String>> =
        Default::default();
    for f in r["findings"].as_array().unwrap() {
        for e in f["events"].as_array().unwrap() {
            let file = e["file"].as_str().unwrap();
            let file = file.strip_prefix("samples/audit/").unwrap_or(file);
            let at = e["record"].as_u64().or(e["line"].as_u64()).unwrap();
            (policies_of.entry((file.to_string(), at)).or_default())
                .insert(f["policy"].as_str().unwrap().to_string());
        }
    }
    let guarded =
        |p: &String| p.starts_with("ct-") || p.starts_with("k8s-") || p == "wildcard-permission";
    let mut triggers = BTreeSet::new();
    let mut near_misses = 0;
    for source in ["cloudtrail", "k8s"] {
        for x in expected["guardrails"][source].as_array().unwrap() {
            let at = x["record"].as_u64().or(x["line"].as_u64()).unwrap();
            let key = (x["file"].as_str().unwrap().to_string(), at);
            let got = policies_of.get(&key).cloned().unwrap_or_default();
            match x["policy"].as_str() {
                Some(policy) => {
                    assert!(got.contains(policy), "{policy} missing on {x}: {got:?}");
                    triggers.insert(policy.to_string());
                }
                None => {
                    assert!(!got.iter().any(guarded), "near miss flagged: {x}: {got:?}");
                    near_misses += 1;
                }
            }
        }
    }
    // Each new guardrail has its trigger in the samples.
    let policies = std::fs::read_to_string(root().join("mappings/policies.toml")).unwrap();
    for line in policies.lines() {
        if let Some(id) = line.strip_prefix("id = \"") {
            let id = id.trim_end_matches('"');
            if id.starts_with("ct-") || id.starts_with("k8s-") {
                assert!(triggers.contains(id), "{id} has no trigger in the samples");
            }
        }
    }
    assert!(near_misses >= 20, "{near_misses}");
}

#[test]
fn change_metrics_split_ai_from_human() {
    let (r, _) = audit_json(&[
        "--config",
        "regwatch.toml",
        "samples/audit/native/changes-2026-11.jsonl",
        "--incidents",
        "samples/incidents.csv",
    ]);
    let metrics = r["metrics"].as_array().unwrap();
    let row = |who: &str| {
        metrics
            .iter()
            .find(|m| m["month"] == "2026-11" && m["driven_by"] == who)
            .unwrap_or_else(|| panic!("{who}: {metrics:?}"))
    };
    let ai = row("ai_agent");
    let human = row("human");
    // CHG-48213, CHG-48301, CHG-48377 and CHG-48470 caused incidents in samples/incidents.csv.
    assert!(ai["failed"].as_u64().unwrap() >= 4, "{ai}");
    assert!(
        ai["change_failure_rate"].as_f64().unwrap()
            > human["change_failure_rate"].as_f64().unwrap()
    );
    assert!(ai["time_to_restore_hours"].as_f64().unwrap() > 0.0);
    assert!(human["deployments"].as_u64().unwrap() > 10);
    // Without incidents there is no time to restore.
    let (r, _) = audit_json(&[
        "--config",
        "regwatch.toml",
        "samples/audit/native/changes-2026-11.jsonl",
    ]);
    assert!(r["metrics"]
        .as_array()
        .unwrap()
        .iter()
        .all(|m| m["time_to_restore_hours"].is_null()));
}

#[test]
fn sarif_for_code_scanning() {
    let run = regwatch(&[
        "audit",
        "tests/fixtures/audit/policies.jsonl",
        "--format",
        "sarif",
        "--quiet",
    ]);
    assert_eq!(run.code, 0);
    let s: Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(s["version"], "2.1.0");
    let driver = &s["runs"][0]["tool"]["driver"];
    let rules = driver["rules"].as_array().unwrap();
    // 13, the 3 Kubernetes and the 10 CloudTrail guardrails (issue 22).
    assert_eq!(rules.len(), 26);
    let results = s["runs"][0]["results"].as_array().unwrap();
    assert_eq!(results.len(), 18);
    for r in results {
        let i = r["ruleIndex"].as_u64().unwrap() as usize;
        assert_eq!(rules[i]["id"], r["ruleId"]);
        assert!(["error", "warning", "note"].contains(&r["level"].as_str().unwrap()));
        let loc = &r["locations"][0]["physicalLocation"];
        assert_eq!(
            loc["artifactLocation"]["uri"],
            "tests/fixtures/audit/policies.jsonl"
        );
        assert!(loc["region"]["startLine"].as_u64().unwrap() >= 1);
    }
    let critical = results
        .iter()
        .find(|r| r["ruleId"] == "destructive-prod-without-approval")
        .unwrap();
    assert_eq!(critical["level"], "error");
}

#[test]
fn fail_on_gates_a_pipeline() {
    let run = regwatch(&[
        "audit",
        "tests/fixtures/audit/policies.jsonl",
        "--fail-on",
        "critical",
        "--quiet",
        "--output",
        "/dev/null",
    ]);
    assert_eq!(run.code, 1, "{run:?}");
    // formats.csv holds one critical finding (CHG-C1), so a critical gate fails too.
    let run = regwatch(&[
        "audit",
        "tests/fixtures/audit/formats.csv",
        "--fail-on",
        "critical",
        "--quiet",
        "--output",
        "/dev/null",
    ]);
    assert_eq!(run.code, 1, "CHG-C1 is a critical finding: {run:?}");
    let dir = tempfile::tempdir().unwrap();
    let clean = dir.path().join("clean.jsonl");
    std::fs::write(&clean, "{\"timestamp\":\"2026-11-10T10:00:00Z\",\"actor\":\"a\",\"actor_type\":\"human\",\"action\":\"read\",\"operation\":\"read\",\"resource\":\"r\",\"environment\":\"prod\"}\n").unwrap();
    let run = regwatch(&[
        "audit",
        clean.to_str().unwrap(),
        "--fail-on",
        "low",
        "--quiet",
        "--output",
        "/dev/null",
    ]);
    assert_eq!(run.code, 0, "{run:?}");
}

#[test]
fn csv_output_neutralises_formulas() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("hostile.jsonl");
    std::fs::write(&input, "{\"timestamp\":\"2026-11-10T10:00:00Z\",\"actor\":\"=HYPERLINK(\\\"http://evil\\\")\",\"actor_type\":\"human\",\"action\":\"x\",\"operation\":\"update\",\"resource\":\"@SUM(A1)\",\"environment\":\"dev\",\"approved_by\":\"=HYPERLINK(\\\"http://evil\\\")\",\"change_id\":\"-1+1\"}\n").unwrap();
    let run = regwatch(&[
        "audit",
        input.to_str().unwrap(),
        "--format",
        "csv",
        "--quiet",
    ]);
    assert_eq!(run.code, 0, "{run:?}");
    let mut rdr = csv::Reader::from_reader(run.stdout.as_bytes());
    let mut n = 0;
    for rec in rdr.records() {
        for cell in rec.unwrap().iter() {
            assert!(!cell.starts_with(['=', '+', '-', '@']), "{cell}");
        }
        n += 1;
    }
    assert!(n >= 1);
    assert!(run.stdout.contains("'=HYPERLINK"), "{}", run.stdout);
}

#[test]
fn coverage_lists_all_72_subcategories() {
    let (r, _) = audit_json(&["tests/fixtures/audit/policies.jsonl"]);
    let cov = r["coverage"].as_array().unwrap();
    assert_eq!(cov.len(), 72);
    let m24 = cov.iter().find(|c| c["id"] == "MANAGE 2.4").unwrap();
    // destructive, blast radius and rate limit all fired on the fixture; the Kubernetes
    // interactive-access and privileged-workload guardrails and the CloudTrail admin-port
    // guardrail (issue 22) read no log of this native-only run: no evidence, not a pass.
    assert_eq!(
        (
            m24["passed"].as_u64(),
            m24["failed"].as_u64(),
            m24["no_evidence"].as_u64()
        ),
        (Some(0), Some(3), Some(3))
    );
    // Its findings are those of its policies, as the summary counts them.
    let by_policy = &r["summary"]["findings_by_policy"];
    let of_its_policies: u64 = m24["policies"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| by_policy[p.as_str().unwrap()].as_u64().unwrap())
        .sum();
    assert!(of_its_policies >= 3, "{m24}");
    assert_eq!(m24["findings"].as_u64(), Some(of_its_policies));
    let uncovered = cov
        .iter()
        .filter(|c| c["policies"].as_array().unwrap().is_empty())
        .count();
    assert_eq!(uncovered, 56); // MEASURE 2.10 is covered by the CloudTrail guardrails
    let clean = regwatch(&[
        "audit",
        "tests/fixtures/audit/formats.csv",
        "--coverage",
        "--quiet",
    ]);
    assert!(
        clean.stdout.contains("16 of 72 subcategories"),
        "{}",
        clean.stdout
    );
}

#[test]
fn policies_are_data_users_can_tune() {
    let dir = tempfile::tempdir().unwrap();
    let shipped = std::fs::read_to_string(root().join("mappings/policies.toml")).unwrap();
    // Switch on the example condition policy, lower the blast radius, switch off the gap check.
    let tuned = shipped
        .replace("enabled = false\n", "enabled = true\n")
        .replace("max_resources = 50", "max_resources = 1")
        .replace(
            "params = { max_gap_minutes = 120 }",
            "enabled = false\nparams = { max_gap_minutes = 120 }",
        );
    let path = dir.path().join("policies.toml");
    std::fs::write(&path, &tuned).unwrap();
    let (r, _) = audit_json(&[
        "tests/fixtures/audit/policies.jsonl",
        "--policies",
        path.to_str().unwrap(),
    ]);
    let k = keys(&r);
    assert!(
        k.contains(&("blast-radius".into(), "CHG-B2".into())),
        "{k:?}"
    );
    assert!(!k.iter().any(|(p, _)| p == "audit-trail-gap"));
    assert_eq!(
        r["summary"]["findings_by_policy"]
            .as_object()
            .unwrap()
            .len(),
        26
    );
    // A bad parameter is bad input naming the policy.
    std::fs::write(
        &path,
        shipped.replace("max_changes = 30", "max_changes = \"many\""),
    )
    .unwrap();
    let run = regwatch(&[
        "audit",
        "tests/fixtures/audit/policies.jsonl",
        "--policies",
        path.to_str().unwrap(),
    ]);
    assert_eq!(run.code, 2, "{run:?}");
    assert!(
        run.stderr.contains("ai-change-rate") && run.stderr.contains("max_changes"),
        "{}",
        run.stderr
    );
}

#[test]
fn redact_replaces_people_not_agents() {
    let (plain, _) = audit_json(&["tests/fixtures/audit/policies.jsonl"]);
    assert!(plain.to_string().contains("h.jones"));
    let (r, _) = audit_json(&["tests/fixtures/audit/policies.jsonl", "--redact"]);
    let text = r.to_string();
    for person in ["h.jones", "k.lee"] {
        assert!(!text.contains(person), "{person} left in {text}");
    }
    assert!(text.contains("person-"), "{text}");
    // Agents and services are not people: what they did stays readable.
    assert!(text.contains("agent-a") && text.contains("svc-batch"));
    // The same person gets the same pseudonym everywhere.
    let self_approval = r["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["policy"] == "self-approval")
        .unwrap();
    let who = self_approval["actors"][0].as_str().unwrap();
    assert!(self_approval["detail"].as_str().unwrap().starts_with(who));
    // Same findings, only the names differ.
    assert_eq!(keys(&r).len(), keys(&plain).len());
}

#[test]
fn a_cloudtrail_record_counts_every_resource_it_names() {
    let dir = tempfile::tempdir().unwrap();
    let tree = dir
        .path()
        .join("AWSLogs/111111111111/CloudTrail/eu-west-2/2026/11/10");
    std::fs::create_dir_all(&tree).unwrap();
    let items: Vec<Value> = (0..60)
        .map(|i| serde_json::json!({"instanceId": format!("i-{i:04}")}))
        .collect();
    let record = serde_json::json!({
        "eventVersion": "1.09",
        "userIdentity": {"type": "AssumedRole", "arn": "arn:aws:sts::111111111111:assumed-role/opsbot-agent-role/opsbot-claude-session-1", "accountId": "111111111111"},
        "eventTime": "2026-11-10T10:00:00Z",
        "eventSource": "ec2.amazonaws.com",
        "eventName": "TerminateInstances",
        "awsRegion": "eu-west-2",
        "userAgent": "claude-code/1.0.71",
        "requestParameters": {"instancesSet": {"items": items}},
        "recipientAccountId": "111111111111"
    });
    let file = tree.join("111111111111_CloudTrail_eu-west-2_20261110T1000Z_x.json.gz");
    let mut gz = flate2::write::GzEncoder::new(
        std::fs::File::create(&file).unwrap(),
        flate2::Compression::default(),
    );
    gz.write_all(
        serde_json::json!({"Records": [record]})
            .to_string()
            .as_bytes(),
    )
    .unwrap();
    gz.finish().unwrap();
    let (r, _) = audit_json(&["--config", "regwatch.toml", dir.path().to_str().unwrap()]);
    let t = &r["summary"]["totals"];
    assert_eq!(
        (t["read"].as_u64(), t["accepted"].as_u64()),
        (Some(1), Some(1))
    );
    let findings = r["findings"].as_array().unwrap();
    let blast = findings
        .iter()
        .find(|f| f["policy"] == "blast-radius")
        .unwrap_or_else(|| panic!("{findings:#?}"));
    assert_eq!(blast["resource_count"], 60);
    let destructive = findings
        .iter()
        .find(|f| f["policy"] == "destructive-prod-without-approval")
        .unwrap();
    assert_eq!(destructive["event_count"], 60);
    assert_eq!(destructive["resource_count"], 60);
}

#[test]
fn a_byte_order_mark_and_crlf_line_ends_are_not_data() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("windows.jsonl");
    let line = "{\"timestamp\":\"2026-11-10T10:00:00Z\",\"actor\":\"h.jones\",\"actor_type\":\"human\",\"action\":\"read\",\"operation\":\"read\",\"resource\":\"db/x\",\"environment\":\"prod\"}";
    std::fs::write(&input, format!("\u{feff}{line}\r\n{line}\r\n")).unwrap();
    let (r, _) = audit_json(&[input.to_str().unwrap()]);
    let t = &r["summary"]["totals"];
    assert_eq!(
        (
            t["read"].as_u64(),
            t["accepted"].as_u64(),
            t["rejected"].as_u64()
        ),
        (Some(2), Some(2), Some(0)),
        "{t}"
    );
}

#[test]
fn line_numbers_stay_right_across_blocks_and_a_line_longer_than_a_block() {
    // The reader hands out blocks of at most a few megabytes and reuses their buffers
    // after the first batches: 250,000 lines (45 MB) span many, one line of 3 MB spans
    // more than a block on its own, and a bad line after all of them must still be
    // reported at its own line number.
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("big.jsonl");
    let line = |n: usize, action: &str| {
        format!("{{\"timestamp\":\"2026-11-10T10:00:00Z\",\"actor\":\"h{n}\",\"actor_type\":\"human\",\"action\":\"{action}\",\"operation\":\"read\",\"resource\":\"db/x\",\"environment\":\"prod\"}}\n")
    };
    let mut text = String::new();
    for n in 1..=15_000 {
        text.push_str(&line(n, "read"));
    }
    text.push_str(&line(15_001, &"x".repeat(3 << 20)));
    for n in 15_002..=250_000 {
        text.push_str(&line(n, "read"));
    }
    text.push_str("{\"timestamp\":\"not a time\"}\n");
    std::fs::write(&input, text).unwrap();
    let mappings = root().join("mappings");
    let run = regwatch_in(
        dir.path(),
        &[
            "audit",
            input.to_str().unwrap(),
            "--mappings",
            mappings.to_str().unwrap(),
            "--format",
            "json",
        ],
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        run.stderr
            .contains("250001 record(s) read = 250000 accepted + 1 rejected"),
        "{}",
        run.stderr
    );
    let q = std::fs::read_to_string(dir.path().join("audit.quarantine.csv")).unwrap();
    assert!(q.contains("line 250001"), "{q}");
}

#[test]
fn change_histories_and_findings_kept_on_disk_give_the_same_report() {
    // Past --changes-in-memory and --findings-in-memory, change histories and findings go
    // to temporary files; the report merges them back. Every finding, metric and count,
    // in every output format and redacted, must come out as when all are in memory.
    let inputs = [
        "--config",
        "regwatch.toml",
        "audit",
        "samples/audit",
        "tests/fixtures/audit/policies.jsonl",
        "--incidents",
        "samples/incidents.csv",
        "--quiet",
    ];
    let run = |budgets: (&str, &str), more: &[&str]| {
        let mut args = inputs.to_vec();
        args.extend_from_slice(&[
            "--changes-in-memory",
            budgets.0,
            "--findings-in-memory",
            budgets.1,
        ]);
        args.extend_from_slice(more);
        let run = regwatch(&args);
        assert!(run.code == 0 || run.code == 1, "{run:?}");
        run.stdout
    };
    let json = |budgets, more: &[&str]| -> Value {
        let mut args = vec!["--format", "json"];
        args.extend_from_slice(more);
        let mut v: Value = serde_json::from_str(&run(budgets, &args)).unwrap();
        let totals = v["summary"]["totals"].as_object_mut().unwrap();
        let spilled: Vec<u64> = ["spilled_changes", "spilled_events", "spilled_findings"]
            .iter()
            .map(|k| totals.remove(*k).unwrap().as_u64().unwrap())
            .collect();
        v["spilled"] = serde_json::json!(spilled);
        v
    };
    let all_in_memory = json(("1000000", "1000000"), &[]);
    assert_eq!(all_in_memory["spilled"], serde_json::json!([0, 0, 0]));
    assert!(all_in_memory["findings"].as_array().unwrap().len() > 50);
    assert!(!all_in_memory["metrics"].as_array().unwrap().is_empty());
    let mut spilled_before = u64::MAX;
    for budgets in [("0", "0"), ("7", "3"), ("100", "50")] {
        let mut spilled = json(budgets, &[]);
        let changes = spilled["spilled"][0].as_u64().unwrap();
        let events = spilled["spilled"][1].as_u64().unwrap();
        // The findings past the budget really were gathered on disk and merged back.
        let total = all_in_memory["findings"].as_array().unwrap().len() as u64;
        let held: u64 = budgets.1.parse().unwrap();
        assert_eq!(spilled["spilled"][2], total - held, "{budgets:?}");
        assert!(changes > 0, "{budgets:?}: {changes}");
        if budgets.0 == "0" {
            // Nothing held: every event of every change went to disk.
            assert!(events >= changes, "{budgets:?}: {changes} {events}");
        }
        if budgets.0 == "7" {
            // Histories left memory when the budget filled, and some of those changes had
            // events later, which joined their histories on disk.
            assert!(events > 0, "{budgets:?}: {changes} {events}");
        }
        assert!(changes < spilled_before, "{budgets:?}: {changes}");
        spilled_before = changes;
        spilled["spilled"] = all_in_memory["spilled"].clone();
        assert_eq!(spilled, all_in_memory, "budgets {budgets:?}");
    }
    for format in ["table", "csv", "sarif"] {
        let args = ["--format", format];
        let on_disk = run(("0", "0"), &args);
        assert!(on_disk.lines().count() > 50, "{format}: {on_disk}");
        assert_eq!(on_disk, run(("1000000", "1000000"), &args), "{format}");
    }
    let mut redacted = json(("0", "0"), &["--redact"]);
    redacted["spilled"] = all_in_memory["spilled"].clone();
    assert_eq!(redacted, json(("1000000", "1000000"), &["--redact"]));
    assert_ne!(redacted["findings"], all_in_memory["findings"]);
    // The temporary files are gone when the run ends.
    let tmp = tempfile::tempdir().unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_regwatch"))
        .current_dir(root())
        .env("TMPDIR", tmp.path())
        .args(["--config", "regwatch.toml", "audit", "samples/audit"])
        .args(["--changes-in-memory", "0", "--findings-in-memory", "0"])
        .args(["--format", "json", "--quiet"])
        .output()
        .unwrap();
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(v["summary"]["totals"]["spilled_changes"].as_u64().unwrap() > 0);
    assert!(v["findings"].as_array().unwrap().len() > 10);
    assert!(v["summary"]["totals"]["spilled_findings"].as_u64().unwrap() > 10);
    let left: Vec<_> = std::fs::read_dir(tmp.path()).unwrap().collect();
    assert!(left.is_empty(), "left behind: {left:?}");
}

#[test]
fn a_change_spread_over_many_batches_gives_the_findings_it_gives_in_one() {
    // The reader parses one batch of blocks while the batch before it goes through the
    // stateful policies. With 15 inert lines after each line of the sample month (about
    // 20 MB, several batches), each change's events lie in different batches; every
    // finding and metric must be as in the sample alone, at its line in the longer file.
    const PAD: u64 = 15;
    let dir = tempfile::tempdir().unwrap();
    let sample = root().join("samples/audit/native/changes-2026-11.jsonl");
    let padded = dir.path().join("changes-2026-11.jsonl");
    let mut text = String::new();
    for line in std::fs::read_to_string(&sample).unwrap().lines() {
        text.push_str(line);
        text.push('\n');
        let at = serde_json::from_str::<Value>(line).unwrap()["timestamp"].clone();
        for n in 0..PAD {
            text.push_str(&format!(
                "{{\"timestamp\":{at},\"actor\":\"padding-reader\",\"actor_type\":\"human\",\"action\":\"SELECT count(*) FROM padding WHERE n = {n:>120}\",\"operation\":\"read\",\"resource\":\"db/padding\",\"environment\":\"test\"}}\n"
            ));
        }
    }
    assert!(text.len() > 20 << 20, "{}", text.len());
    std::fs::write(&padded, text).unwrap();
    let report = |input: &std::path::Path| {
        let run = regwatch(&[
            "--config",
            "regwatch.toml",
            "audit",
            input.to_str().unwrap(),
            "--format",
            "json",
            "--quiet",
        ]);
        assert!(run.code == 0 || run.code == 1, "{run:?}");
        serde_json::from_str::<Value>(&run.stdout).unwrap()
    };
    let alone = report(&sample);
    assert!(alone["findings"].as_array().unwrap().len() > 20);
    // Each event's place (`line` or `record`, by format) in the padded input, mapped back
    // to the sample's line; no finding may rest on a padding line.
    let sample_file = alone["findings"][0]["events"][0]["file"].clone();
    let as_in_sample = |report: &mut Value, place: &str| {
        for f in report["findings"].as_array_mut().unwrap() {
            let policy = f["policy"].clone();
            for e in f["events"].as_array_mut().unwrap() {
                let n = e.as_object_mut().unwrap().remove(place).unwrap();
                let n = n.as_u64().unwrap();
                assert_eq!((n - 1) % (PAD + 1), 0, "a padding {place} in {policy}");
                e["line"] = ((n - 1) / (PAD + 1) + 1).into();
                e["file"] = sample_file.clone();
            }
        }
    };
    let mut spread = report(&padded);
    as_in_sample(&mut spread, "line");
    assert_eq!(spread["findings"], alone["findings"]);
    assert_eq!(spread["metrics"], alone["metrics"]);

    // The same rows as Parquet (89,000 rows in more than one row group, so more than one
    // slice, each turned into events while the one before goes through the stateful
    // policies) give the same findings, at their record numbers.
    use polars::prelude::*;
    let text = std::fs::read_to_string(&padded).unwrap();
    let rows: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert!(rows.len() > 60_000, "{}", rows.len());
    // Every native field: text, but dry_run a boolean column.
    let mut columns: Vec<Column> = regwatch::audit::event::NATIVE_FIELDS
        .iter()
        .filter(|&&name| name != "dry_run")
        .map(|name| {
            let values: Vec<Option<&str>> = rows.iter().map(|r| r[*name].as_str()).collect();
            Column::new((*name).into(), values)
        })
        .collect();
    let dry: Vec<Option<bool>> = rows.iter().map(|r| r["dry_run"].as_bool()).collect();
    columns.push(Column::new("dry_run".into(), dry));
    let mut frame = DataFrame::new(rows.len(), columns).unwrap();
    let parquet = dir.path().join("changes-2026-11.parquet");
    ParquetWriter::new(std::fs::File::create(&parquet).unwrap())
        .with_row_group_size(Some(30_000))
        .finish(&mut frame)
        .unwrap();
    let groups = ParquetReader::new(std::fs::File::open(&parquet).unwrap())
        .get_metadata()
        .unwrap()
        .row_groups
        .len();
    assert!(groups > 1, "{groups} row group");
    let mut from_parquet = report(&parquet);
    as_in_sample(&mut from_parquet, "record");
    assert_eq!(from_parquet["findings"], alone["findings"]);
    assert_eq!(from_parquet["metrics"], alone["metrics"]);
}
