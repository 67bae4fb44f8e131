//! `regwatch audit --engine duckdb|spark` (issue 24): the policies compiled to SQL and run
//! by a real DuckDB (Python's duckdb module) and a real Spark in local mode (pyspark's
//! spark-submit, Java 17). On the samples, the policy fixtures (with a file of bad
//! records) and 100,000 generated events, each engine's findings are the native engine's
//! (policy, change, resources and event count, as sets) for the policies its dialect
//! expresses, the counts reconcile as a run's do, and what it refuses is named (exit 6).
//! One Spark session per dataset: each costs seconds to start.
//!
//! Spark's settings for a small machine are set here, not globally: SPARK_CONF_DIR points
//! at a spark-defaults.conf of the test's own, and SPARK_LOCAL_IP at loopback.

mod common;

use std::collections::BTreeSet;
use std::path::Path;

use common::findings::{expressed, keys, policies_file};
use common::{regwatch, regwatch_env, root, Run};

/// What Spark needs on a CI machine of 2 cores: no web UI, few shuffle partitions, a
/// small driver.
const SPARK_DEFAULTS: &str = "spark.ui.enabled false
spark.sql.shuffle.partitions 4
spark.driver.memory 1g
";

/// The environment a Spark run gets: its own defaults file, loopback, and `TMPDIR`.
fn spark_env(dir: &Path, tmp: &Path) -> Vec<(String, String)> {
    let conf = dir.join("spark-conf");
    std::fs::create_dir_all(&conf).unwrap();
    std::fs::write(conf.join("spark-defaults.conf"), SPARK_DEFAULTS).unwrap();
    vec![
        ("SPARK_CONF_DIR".into(), conf.display().to_string()),
        ("SPARK_LOCAL_IP".into(), "127.0.0.1".into()),
        ("TMPDIR".into(), tmp.display().to_string()),
    ]
}

/// `regwatch audit --policies POLICIES INPUTS --engine ENGINE --format findings` (ENGINE
/// "native": no --engine), from the repository root.
fn audit(
    dir: &Path,
    engine: &str,
    policies: &Path,
    inputs: &[&str],
    env: &[(String, String)],
) -> Run {
    let quarantine = dir.join(format!("{engine}.quarantine.csv"));
    let mut args = vec![
        "audit",
        "--config",
        "regwatch.toml",
        "--policies",
        policies.to_str().unwrap(),
        "--format",
        "findings",
        "--no-sigma",
        "--quarantine",
        quarantine.to_str().unwrap(),
    ];
    if engine != "native" {
        args.extend_from_slice(&["--engine", engine]);
    }
    args.extend_from_slice(inputs);
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    regwatch_env(&root(), &args, &env)
}

/// The policies `regwatch sql --dialect DIALECT` expresses with these policies.
fn expressed_by(dialect: &str, policies: &Path) -> BTreeSet<String> {
    let run = regwatch(&[
        "sql",
        "--config",
        "regwatch.toml",
        "--dialect",
        dialect,
        "--policies",
        policies.to_str().unwrap(),
    ]);
    assert!(run.code == 0 || run.code == 6, "{run:?}");
    expressed(&run.stdout)
}

/// The counts line a run writes on standard error (`audit: N file(s), ...`).
fn counts(run: &Run) -> String {
    run.stderr
        .lines()
        .find(|l| l.starts_with("audit: "))
        .unwrap_or_else(|| panic!("no counts line: {}", run.stderr))
        .to_string()
}

/// `regwatch audit --config CONFIG ARGS --format json -o /dev/null --quarantine FILE`:
/// what it says on standard error, and its exit status.
fn audit_json(config: &Path, quarantine: &Path, args: &[&str]) -> Run {
    let mut all = vec!["audit", "--config", config.to_str().unwrap()];
    all.extend_from_slice(args);
    all.extend_from_slice(&["--format", "json", "-o", "/dev/null", "--quarantine"]);
    all.push(quarantine.to_str().unwrap());
    regwatch(&all)
}

/// A change-freeze policy that declares no freeze (`regwatch sql` refuses it).
const NO_FREEZE: &str = r#"
[[policy]]
id = "test-no-freeze"
title = "Test: a freeze with no dates"
severity = "low"
kind = "change-freeze"
checks = "test"
rationale = "test"
params = { freezes = [] }
nist = ["GOVERN 1.4"]
"#;

/// Runs the native engine, DuckDB and Spark on `inputs` and compares their findings.
fn same_findings(dir: &Path, policies: &Path, inputs: &[&str], name: &str) {
    let tmp = dir.join("tmp");
    std::fs::create_dir_all(&tmp).unwrap();
    let native = audit(dir, "native", policies, inputs, &[]);
    assert!(native.code == 0 || native.code == 1, "{name}: {native:?}");
    // A freeze with no dates checks nothing a run could find, and no dialect writes it:
    // refused by every engine, named, and never all clear.
    let with_refused = dir.join("with-refused.toml");
    std::fs::write(
        &with_refused,
        std::fs::read_to_string(policies).unwrap() + NO_FREEZE,
    )
    .unwrap();
    let policies = with_refused.as_path();
    for (engine, refused) in [
        ("duckdb", vec!["test-no-freeze"]),
        ("spark", vec!["test-no-freeze"]),
    ] {
        let only = expressed_by(engine, policies);
        let run = audit(dir, engine, policies, inputs, &spark_env(dir, &tmp));
        // A refused policy's findings are missing: named, and never all clear.
        let want = if !refused.is_empty() && native.code == 0 {
            6
        } else {
            native.code
        };
        assert_eq!(run.code, want, "{name} {engine}: {}", run.stderr);
        for id in &refused {
            assert!(!only.contains(*id), "{id}");
            assert!(
                run.stderr
                    .contains(&format!("REFUSED {id} (its findings are missing)")),
                "{name} {engine}: {}",
                run.stderr
            );
        }
        let (ours, theirs) = (keys(&run.stdout, &only), keys(&native.stdout, &only));
        assert!(!theirs.is_empty(), "{name}: no finding to compare");
        assert_eq!(ours, theirs, "{name} {engine}");
        // Every record read, accepted or rejected, as a run counts them.
        assert_eq!(counts(&run), counts(&native), "{name} {engine}");
        assert!(
            run.stderr.contains(&format!("engine {engine}: ")),
            "{}",
            run.stderr
        );
        if engine == "spark" {
            // The driver's timings are passed on (a benchmark quotes them).
            assert!(
                run.stderr.contains("spark: session started in "),
                "{}",
                run.stderr
            );
            assert!(run.stderr.contains("spark: work took "), "{}", run.stderr);
        }
        // Nothing left behind in the temporary folder.
        let left: Vec<_> = std::fs::read_dir(&tmp).unwrap().collect();
        assert!(left.is_empty(), "{name} {engine}: left {left:?}");
    }
}

#[test]
fn the_samples_give_the_same_findings_on_every_engine() {
    let dir = tempfile::tempdir().unwrap();
    let policies = policies_file(dir.path());
    // JSON lines and CSV, with two bad CSV rows.
    same_findings(dir.path(), &policies, &["samples/audit/native"], "samples");
}

/// The policy fixtures (a trigger and a near miss for each kind, and the test
/// conditions), beside a file of bad records (those a run rejects; not the local time at
/// a clock change, which engines read by their own rule: GUIDE.md).
#[test]
fn the_policy_fixtures_give_the_same_findings_on_every_engine() {
    let dir = tempfile::tempdir().unwrap();
    let policies = policies_file(dir.path());
    let data = dir.path().join("fixtures");
    std::fs::create_dir(&data).unwrap();
    std::fs::copy(
        root().join("tests/fixtures/audit/policies.jsonl"),
        data.join("policies.jsonl"),
    )
    .unwrap();
    let bad = std::fs::read_to_string(root().join("tests/fixtures/audit/bad.jsonl")).unwrap();
    let bad: Vec<&str> = bad.lines().filter(|l| !l.contains("01:30\"")).collect();
    std::fs::write(data.join("bad.jsonl"), bad.join("\n") + "\n").unwrap();
    same_findings(dir.path(), &policies, &[data.to_str().unwrap()], "fixtures");
}

/// 100,000 generated events (benches/gen_audit.py), read as Parquet.
#[test]
fn generated_events_give_the_same_findings_on_every_engine() {
    let dir = tempfile::tempdir().unwrap();
    let policies = policies_file(dir.path());
    let (jsonl, parquet) = (dir.path().join("gen.jsonl"), dir.path().join("gen.parquet"));
    let made = std::process::Command::new("python3")
        .arg(root().join("benches/gen_audit.py"))
        .args(["100000", jsonl.to_str().unwrap(), "--parquet"])
        .arg(&parquet)
        .output()
        .unwrap();
    assert!(made.status.success(), "{made:?}");
    std::fs::remove_file(&jsonl).unwrap();
    same_findings(
        dir.path(),
        &policies,
        &[parquet.to_str().unwrap()],
        "generated",
    );
}

/// Bad records are quarantined with their reason, file and line (DuckDB knows them), and
/// the exit status is a run's: 0 when a file has good records too, 6 when every record of
/// a file was rejected. Files the engine cannot read are listed as skipped.
#[test]
fn bad_records_and_unread_files_are_reported() {
    let dir = tempfile::tempdir().unwrap();
    let all_bad = dir.path().join("all-bad.jsonl");
    std::fs::write(
        &all_bad,
        "{\"timestamp\": \"2026-11-10T10:00:00Z\", \"actor\": \"h.jones\"\n[1, 2]\n",
    )
    .unwrap();
    let quarantine = dir.path().join("q.csv");
    let run = |inputs: &[&str]| {
        let mut args = vec!["--engine", "duckdb"];
        args.extend_from_slice(inputs);
        audit_json(Path::new("regwatch.toml"), &quarantine, &args)
    };
    let some = run(&["tests/fixtures/audit/bad.jsonl"]);
    assert_eq!(some.code, 0, "{some:?}");
    for said in [
        "bad.jsonl line 2, field line: not a JSON object",
        "bad.jsonl line 3, field actor: is missing",
        "bad.jsonl line 5, field timestamp: is not a time",
    ] {
        assert!(some.stderr.contains(said), "{said}: {}", some.stderr);
    }
    assert!(
        some.stderr
            .contains("8 record(s) read = 3 accepted + 5 rejected"),
        "{}",
        some.stderr
    );
    let quarantined = std::fs::read_to_string(&quarantine).unwrap();
    assert!(
        quarantined.contains("tests/fixtures/audit/bad.jsonl,line 7,,dry_run,is not true or false"),
        "{quarantined}"
    );
    // Every record of a file rejected: not checked, 6, as a run.
    let none = run(&[all_bad.to_str().unwrap()]);
    assert_eq!(none.code, 6, "{none:?}");
    assert!(none.stderr.contains("not checked: "), "{}", none.stderr);
    let native = regwatch(&[
        "audit",
        "--config",
        "regwatch.toml",
        all_bad.to_str().unwrap(),
        "--quarantine",
        quarantine.to_str().unwrap(),
    ]);
    assert_eq!(native.code, 6, "{native:?}");
    // CloudTrail is not read by an engine yet: skipped, with why.
    let ct = run(&[
        "tests/fixtures/audit/policies.jsonl",
        "tests/fixtures/audit/cloudtrail-real",
    ]);
    assert_eq!(ct.code, 0, "{ct:?}");
    assert!(
        ct.stderr
            .contains("cloudtrail events are not read by --engine duckdb yet"),
        "{}",
        ct.stderr
    );
}

/// An engine that is not installed is a clear error (exit 2) naming what to install.
#[test]
fn a_missing_engine_says_what_to_install() {
    let empty = tempfile::tempdir().unwrap();
    let path = empty.path().to_str().unwrap();
    // Only what is in `empty` is on PATH; no SPARK_HOME, no JAVA_HOME.
    let without = |engine: &str| {
        regwatch_env(
            &root(),
            &[
                "audit",
                "--config",
                "regwatch.toml",
                "--engine",
                engine,
                "tests/fixtures/audit/policies.jsonl",
            ],
            &[("PATH", path), ("SPARK_HOME", ""), ("JAVA_HOME", "")],
        )
    };
    for (engine, said) in [
        ("duckdb", "DuckDB is not installed"),
        ("spark", "Spark is not installed"),
    ] {
        let run = without(engine);
        assert_eq!(run.code, 2, "{run:?}");
        assert!(run.stderr.contains(said), "{}", run.stderr);
        assert!(run.stderr.contains("pip install"), "{}", run.stderr);
    }
    // Spark found, Java not: said before Spark is started.
    let submit = std::process::Command::new("python3")
        .args(["-c", "import shutil; print(shutil.which('spark-submit'))"])
        .output()
        .unwrap();
    let submit = String::from_utf8(submit.stdout).unwrap();
    std::os::unix::fs::symlink(submit.trim(), empty.path().join("spark-submit")).unwrap();
    let run = without("spark");
    assert_eq!(run.code, 2, "{run:?}");
    assert!(
        run.stderr.contains("Java is not installed"),
        "{}",
        run.stderr
    );
    // --master is Spark's.
    let run = regwatch(&[
        "audit",
        "--config",
        "regwatch.toml",
        "--engine",
        "duckdb",
        "--master",
        "local[2]",
        "tests/fixtures/audit/policies.jsonl",
    ]);
    assert_eq!(run.code, 2, "{run:?}");
}

/// An engine that fails says why (the end of what it said), exit 5, and leaves no
/// temporary file: DuckDB refuses a JSON-lines file that is not UTF-8 (a run rejects the
/// line).
#[test]
fn a_failing_engine_says_why_and_leaves_nothing_behind() {
    let dir = tempfile::tempdir().unwrap();
    let (tmp, input) = (dir.path().join("tmp"), dir.path().join("latin1.jsonl"));
    std::fs::create_dir(&tmp).unwrap();
    let mut bytes = std::fs::read(root().join("tests/fixtures/audit/bad.jsonl")).unwrap();
    bytes.extend_from_slice(b"{\"timestamp\": \"2026-11-10T10:00:00Z\", \"actor\": \"h.\xff\"}\n");
    std::fs::write(&input, bytes).unwrap();
    let quarantine = dir.path().join("q.csv");
    let run = regwatch_env(
        &root(),
        &[
            "audit",
            "--config",
            "regwatch.toml",
            "--engine",
            "duckdb",
            input.to_str().unwrap(),
            "--quarantine",
            quarantine.to_str().unwrap(),
        ],
        &[("TMPDIR", tmp.to_str().unwrap())],
    );
    assert_eq!(run.code, 5, "{run:?}");
    assert!(run.stderr.contains("DuckDB failed"), "{}", run.stderr);
    assert!(run.stderr.contains("utf-8"), "{}", run.stderr);
    let left: Vec<_> = std::fs::read_dir(&tmp).unwrap().collect();
    assert!(left.is_empty(), "left {left:?}");
}

/// `[audit] engine` in regwatch.toml chooses the engine when --engine is not given; a
/// name that is no engine is bad input.
#[test]
fn the_engine_can_be_chosen_in_the_config() {
    let dir = tempfile::tempdir().unwrap();
    let config = |engine: &str| {
        let path = dir.path().join(format!("{engine}.toml"));
        let text = format!(
            "[paths]\nmappings = \"{}\"\n\n[audit]\nengine = \"{engine}\"\n",
            root().join("mappings").display()
        );
        std::fs::write(&path, text).unwrap();
        path
    };
    let quarantine = dir.path().join("q.csv");
    let run = |config: &Path, more: &[&str]| {
        let mut args = vec!["tests/fixtures/audit/policies.jsonl"];
        args.extend_from_slice(more);
        audit_json(config, &quarantine, &args)
    };
    let duckdb = config("duckdb");
    let chosen = run(&duckdb, &[]);
    assert_eq!(chosen.code, 0, "{chosen:?}");
    assert!(
        chosen.stderr.contains("engine duckdb: "),
        "{}",
        chosen.stderr
    );
    let overridden = run(&duckdb, &["--engine", "native"]);
    assert_eq!(overridden.code, 0, "{overridden:?}");
    assert_eq!(counts(&overridden), counts(&chosen), "{overridden:?}");
    assert!(
        !overridden.stderr.contains("engine duckdb: "),
        "{}",
        overridden.stderr
    );
    let unknown = run(&config("presto"), &[]);
    assert_eq!(unknown.code, 2, "{unknown:?}");
    assert!(
        unknown.stderr.contains("use native, duckdb or spark"),
        "{}",
        unknown.stderr
    );
}

/// An engine run in which no event could be read (CloudTrail only: skipped with why)
/// checked nothing: its coverage has no pass, only policies without evidence.
#[test]
fn a_run_with_nothing_read_has_no_evidence_not_passes() {
    let run = regwatch(&[
        "audit",
        "--config",
        "regwatch.toml",
        "samples/audit/cloudtrail",
        "--engine",
        "duckdb",
        "--coverage",
        "--format",
        "json",
    ]);
    assert!(run.code == 0 || run.code == 6, "{run:?}");
    assert!(run.stderr.contains("skipped"), "{}", run.stderr);
    let report: serde_json::Value =
        serde_json::from_str(&run.stdout).unwrap_or_else(|e| panic!("{e}: {run:?}"));
    let coverage = report["coverage"].as_array().unwrap();
    let passed: u64 = coverage.iter().map(|c| c["passed"].as_u64().unwrap()).sum();
    let unseen: u64 = (coverage.iter())
        .map(|c| c["no_evidence"].as_u64().unwrap_or(0))
        .sum();
    assert_eq!(passed, 0, "{}", run.stdout);
    assert!(unseen > 0, "{}", run.stdout);
}
