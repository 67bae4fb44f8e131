//! `regwatch sql` (issue 24): the policies compiled to one SQL query. The DuckDB script runs
//! for real (python duckdb, tests/support/duckdb_sql.py) on the samples and the policy
//! fixtures; its result, read back with `regwatch audit --findings`, must be the native
//! engine's findings for the policies it expresses (policy, change, resources and event
//! count, as sets).
//! A policy it cannot express is refused by name, in the script and on stderr, exit 6.

mod common;

use std::collections::BTreeSet;
use std::path::Path;

use common::findings::{expressed, findings, keys, policies_file, CONDITIONS};
use common::{python_support, regwatch, Run};

fn sql(args: &[&str]) -> Run {
    let mut all = vec!["sql", "--config", "regwatch.toml"];
    all.extend_from_slice(args);
    regwatch(&all)
}

/// `regwatch sql --dialect duckdb --input INPUT ARGS -o SCRIPT`.
fn duckdb_script(input: &str, script: &Path, args: &[&str]) -> Run {
    let mut all = vec!["--dialect", "duckdb", "--input", input];
    all.extend_from_slice(args);
    all.extend_from_slice(&["-o", script.to_str().unwrap()]);
    sql(&all)
}

#[test]
fn duckdb_finds_what_the_native_engine_finds() {
    let dir = tempfile::tempdir().unwrap();
    let policies = policies_file(dir.path());
    let policies = policies.to_str().unwrap();
    for input in [
        "samples/audit/native/changes-2026-11.jsonl",
        "tests/fixtures/audit/policies.jsonl",
    ] {
        let script = dir.path().join("findings.sql");
        let run = duckdb_script(input, &script, &["--policies", policies]);
        // Every shipped kind is expressed for DuckDB: the script is whole.
        assert_eq!(run.code, 0, "{run:?}");
        let text = std::fs::read_to_string(&script).unwrap();
        let only = expressed(&text);
        for id in [
            "self-approval",
            "ai-approving-ai",
            "change-freeze",
            "blast-radius",
            "ai-change-rate",
            "audit-trail-gap",
            "out-of-hours-destructive",
            "no-dry-run-before-apply",
            "destructive-prod-without-approval",
            "ai-action-not-logged",
            "credentials-across-environments",
            "logging-disabled",
            "wildcard-permission",
            "prod-delete-by-service-account-outside-pipeline",
            "test-ai-logged-prod-rds-delete",
            "test-ai-without-change",
        ] {
            assert!(only.contains(id), "{id} not expressed: {only:?}");
        }
        let parquet = dir.path().join("findings.parquet");
        let (ok, said) =
            python_support("duckdb_sql.py", &[script.as_os_str(), parquet.as_os_str()]);
        assert!(ok, "{said}");
        let back = findings(
            dir.path(),
            policies,
            &["--findings", parquet.to_str().unwrap()],
        );
        let native = findings(dir.path(), policies, &[input, "--no-sigma"]);
        let (from_sql, from_native) = (keys(&back.stdout, &only), keys(&native.stdout, &only));
        assert!(!from_native.is_empty(), "{input}: no finding to compare");
        assert_eq!(from_sql, from_native, "{input}");
        if input.starts_with("samples") {
            // The test conditions: a trigger each, and the near miss left out.
            let changes: BTreeSet<&str> = from_sql
                .iter()
                .filter(|k| k.0 == "test-ai-logged-prod-rds-delete")
                .map(|k| k.1.as_str())
                .collect();
            assert!(
                changes.contains("CHG-48213") && changes.contains("CHG-48377"),
                "{changes:?}"
            );
            assert!(!changes.contains("CHG-48301"), "{changes:?}");
            assert!(from_sql.iter().any(|k| k.0 == "test-ai-without-change"));
        }
        // Evidence is FILE:LINE@TIME, as the native engine writes it.
        assert!(
            back.stdout.contains(&format!("\"{input}:")),
            "{}",
            back.stdout
        );
    }
}

/// Records a run rejects are left out by the script too, each with its problem; blank
/// lines are skipped and counted. The one difference (GUIDE.md): a local time that happens
/// twice at a clock change (line 8) is read by DuckDB's rule, where a run rejects it.
#[test]
fn the_script_leaves_out_what_a_run_rejects() {
    let dir = tempfile::tempdir().unwrap();
    let input = "tests/fixtures/audit/bad.jsonl";
    let script = dir.path().join("findings.sql");
    let run = duckdb_script(input, &script, &[]);
    assert_eq!(run.code, 0, "{run:?}");
    let (parquet, rejected) = (
        dir.path().join("f.parquet"),
        dir.path().join("rejected.csv"),
    );
    let (ok, said) = python_support(
        "duckdb_sql.py",
        &[
            script.as_os_str(),
            parquet.as_os_str(),
            rejected.as_os_str(),
        ],
    );
    assert!(ok, "{said}");
    let text = std::fs::read_to_string(&rejected).unwrap();
    let lines: Vec<(&str, &str)> = text
        .lines()
        .skip(1)
        .map(|l| {
            let mut f = l.splitn(3, ',');
            let (file, line) = (f.next().unwrap(), f.next().unwrap());
            assert_eq!(file, input, "{l}");
            (line, f.next().unwrap())
        })
        .collect();
    assert_eq!(
        lines,
        [
            ("2", "not a JSON object"),
            ("3", "actor: is missing"),
            ("4", "\"operation: is not one of read, plan, create, update, delete, deploy, permission_change, approve\""),
            ("5", "timestamp: is not a time"),
            ("7", "dry_run: is not true or false"),
        ]
    );
    // The run rejects the same lines, and line 8.
    let quarantine = dir.path().join("q.csv");
    let native = regwatch(&[
        "audit",
        "--config",
        "regwatch.toml",
        input,
        "--quarantine",
        quarantine.to_str().unwrap(),
    ]);
    for line in ["line 2,", "line 3,", "line 4,", "line 5,", "line 7,"] {
        assert!(native.stderr.contains(line), "{line}: {}", native.stderr);
    }
    assert!(native.stderr.contains("6 rejected"), "{}", native.stderr);
    let quarantined = std::fs::read_to_string(&quarantine).unwrap();
    assert!(quarantined.contains("2026-10-25 01:30"), "{quarantined}");
}

#[test]
fn a_kind_not_expressed_is_refused_by_name() {
    // rate-limit in Trino and Spark; time-fence in Spark only.
    for (dialect, refused) in [
        ("trino", vec![("ai-change-rate", "rate-limit")]),
        (
            "spark",
            vec![
                ("ai-change-rate", "rate-limit"),
                ("out-of-hours-destructive", "time-fence"),
            ],
        ),
    ] {
        let run = sql(&["--dialect", dialect, "--input", "x.jsonl"]);
        assert_eq!(run.code, 6, "{run:?}");
        for (id, kind) in &refused {
            assert!(
                run.stderr.contains(&format!("REFUSED {id}: {kind}:")),
                "{}",
                run.stderr
            );
            assert!(
                run.stdout.contains(&format!("--   {id} ({kind}:")),
                "{}",
                run.stdout
            );
        }
        let said = format!("-- REFUSED ({}):", refused.len());
        assert!(run.stdout.contains(&said), "{dialect}: {}", run.stdout);
        // Every enabled policy is expressed, refused or said not to be for this source.
        assert!(run.stderr.contains("policies expressed"), "{}", run.stderr);
    }
}

#[test]
fn only_expressible_policies_make_a_whole_script() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("policies.toml");
    std::fs::write(&path, CONDITIONS).unwrap();
    let run = sql(&["--dialect", "trino", "--policies", path.to_str().unwrap()]);
    assert_eq!(run.code, 0, "{run:?}");
    assert!(
        run.stdout.contains("FROM regwatch_events"),
        "{}",
        run.stdout
    );
    assert!(!run.stderr.contains("REFUSED"), "{}", run.stderr);
}

/// The Trino/Athena and Spark scripts are parsed by sqlglot in their dialect (not run:
/// no engine here): one SELECT with the findings schema's columns, in order.
#[test]
fn trino_and_spark_scripts_parse_with_the_findings_columns() {
    let dir = tempfile::tempdir().unwrap();
    for dialect in ["trino", "spark"] {
        let script = dir.path().join(format!("{dialect}.sql"));
        let run = sql(&[
            "--dialect",
            dialect,
            "--input",
            "audit.events",
            "-o",
            script.to_str().unwrap(),
        ]);
        assert_eq!(run.code, 6, "{run:?}");
        let (ok, said) = python_support(
            "sql_parse.py",
            &[script.as_os_str(), std::ffi::OsStr::new(dialect)],
        );
        assert!(ok, "{dialect}: {said}");
        let columns: Vec<&str> = said.lines().collect();
        assert_eq!(columns, regwatch::audit::findings_io::COLUMNS, "{dialect}");
        let text = std::fs::read_to_string(&script).unwrap();
        assert!(text.contains("FROM audit.events"), "{dialect}");
    }
}
