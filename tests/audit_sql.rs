//! `regwatch sql` (issue 24): the policies compiled to one SQL query. The DuckDB script runs
//! for real (python duckdb, tests/support/duckdb_sql.py) on the samples and the policy
//! fixtures; its result, read back with `regwatch audit --findings`, must be the native
//! engine's findings for the policies it expresses (policy, change, resources and event
//! count, as sets).
//! A policy it cannot express is refused by name, in the script and on stderr, exit 6.

mod common;

use std::collections::BTreeSet;
use std::path::Path;

use serde_json::Value;

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

/// The policies a script for native events expresses, checked to be all the shipped
/// ones (the example condition switched on) and the test conditions: the script is whole.
fn whole(script: &Path) -> BTreeSet<String> {
    let only = expressed(&std::fs::read_to_string(script).unwrap());
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
    only
}

#[test]
fn duckdb_finds_what_the_native_engine_finds() {
    let dir = tempfile::tempdir().unwrap();
    let policies = policies_file(dir.path());
    let policies = policies.to_str().unwrap();
    let vectors = near_misses(dir.path());
    for input in [
        "samples/audit/native/changes-2026-11.jsonl",
        "tests/fixtures/audit/policies.jsonl",
        vectors.to_str().unwrap(),
    ] {
        let script = dir.path().join("findings.sql");
        let run = duckdb_script(input, &script, &["--policies", policies]);
        // Every shipped kind is expressed for DuckDB: the script is whole.
        assert_eq!(run.code, 0, "{run:?}");
        let only = whole(&script);
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
        assert_eq!(bursts(&back.stdout), bursts(&native.stdout), "{input}");
        if input == vectors.to_str().unwrap() {
            assert_near_misses(&back.stdout, &from_sql);
        }
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

/// Near misses of the policies whose SQL is subtle, as native events (the shipped
/// `ai-change-rate`: more than 30 AI changes within 10 minutes; `out-of-hours-destructive`:
/// Europe/London, 09:00–17:30, England's bank holidays):
/// - `rate-short`: 30 changes in a minute, one short; `rate-edge`: 30, then the 31st
///   exactly 10 minutes after the first (outside its window);
/// - `rate-greedy`: 31 in a minute and 25 more before 10 minutes, one burst of 56; then 10
///   at 12 minutes, in a sliding window of 35 but after the burst: no second burst;
/// - `rate-chain`: five bursts of 31 back to back (the next at the window's end);
/// - deletes around the spring clock change (Monday 30 March 2026 08:30 UTC is 09:30 in
///   London: inside hours; 16:45 UTC is 17:45: outside), at the change itself (Sunday 01:00
///   UTC), on a bank holiday at local noon (31 August, summer time; 25 December), and on
///   the working day after one at noon (a near miss).
fn near_misses(dir: &Path) -> std::path::PathBuf {
    let mut lines = Vec::new();
    let base = chrono::DateTime::parse_from_rfc3339("2026-11-04T10:00:00Z").unwrap();
    let mut change = |actor: &str, seconds: i64| {
        let at = base + chrono::Duration::seconds(seconds);
        lines.push(serde_json::json!({
            "timestamp": at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            "actor": actor, "actor_type": "ai_agent", "action": "scale service",
            "operation": "update", "resource": format!("svc/{actor}"), "environment": "dev",
            "change_id": format!("CHG-{actor}"), "prompt_ref": "p", "tool_call_ref": "t",
        }));
    };
    for i in 0..30 {
        change("rate-short", i * 2);
        change("rate-edge", i * 2);
    }
    change("rate-edge", 600);
    for i in 0..31 {
        change("rate-greedy", i);
    }
    for i in 0..25 {
        change("rate-greedy", 570 + i);
    }
    for i in 0..10 {
        change("rate-greedy", 720 + i);
    }
    for burst in 0..5 {
        for i in 0..31 {
            change("rate-chain", burst * 600 + i);
        }
    }
    for (n, at) in [
        "2026-03-27T08:30:00Z",
        "2026-03-29T01:00:00Z",
        "2026-03-30T08:30:00Z",
        "2026-03-30T16:45:00Z",
        "2026-08-31T11:00:00Z",
        "2026-09-01T11:00:00Z",
        "2026-12-25T12:00:00Z",
        "2026-12-29T12:00:00Z",
    ]
    .iter()
    .enumerate()
    {
        lines.push(serde_json::json!({
            "timestamp": at, "actor": "h.jones", "actor_type": "human",
            "action": "delete db/scratch", "operation": "delete", "resource": format!("db/scratch-{n}"),
            "environment": "prod", "change_id": format!("CHG-FENCE-{n}"),
            "approved_by": "k.lee", "approver_type": "human", "approved_at": at,
        }));
    }
    let text: Vec<String> = lines.iter().map(|l| l.to_string()).collect();
    let path = dir.join("near-misses.jsonl");
    std::fs::write(&path, text.join("\n") + "\n").unwrap();
    path
}

/// The bursts of `ai-change-rate` in `--format findings` JSON lines: (actor, first time,
/// events), in order (the keys of `keys` do not tell one actor's bursts apart).
fn bursts(findings: &str) -> Vec<(String, String, u64)> {
    let mut out: Vec<(String, String, u64)> = (findings.lines())
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .filter(|f| f["policy"] == "ai-change-rate")
        .map(|f| {
            (
                f["actors"][0].as_str().unwrap().to_string(),
                f["first_at"].as_str().unwrap().to_string(),
                f["event_count"].as_u64().unwrap(),
            )
        })
        .collect();
    out.sort();
    out
}

/// What the near misses must give (on any engine): the bursts, and the deletes out of
/// hours (by change).
fn assert_near_misses(findings: &str, found: &BTreeSet<(String, String, Vec<String>, u64)>) {
    let burst = |actor: &str, at: &str, n: u64| (actor.to_string(), at.to_string(), n);
    assert_eq!(
        bursts(findings),
        [
            burst("rate-chain", "2026-11-04T10:00:00Z", 31),
            burst("rate-chain", "2026-11-04T10:10:00Z", 31),
            burst("rate-chain", "2026-11-04T10:20:00Z", 31),
            burst("rate-chain", "2026-11-04T10:30:00Z", 31),
            burst("rate-chain", "2026-11-04T10:40:00Z", 31),
            burst("rate-greedy", "2026-11-04T10:00:00Z", 56),
        ]
    );
    let fenced: BTreeSet<&str> = (found.iter())
        .filter(|k| k.0 == "out-of-hours-destructive" && k.1.starts_with("CHG-FENCE"))
        .map(|k| k.1.as_str())
        .collect();
    let expected = [
        "CHG-FENCE-0",
        "CHG-FENCE-1",
        "CHG-FENCE-3",
        "CHG-FENCE-4",
        "CHG-FENCE-6",
    ];
    assert_eq!(fenced, BTreeSet::from(expected));
}

/// The Spark script, run for real (pyspark, one local session for all the inputs:
/// support/spark_sql.py reads the JSON lines as a table of text columns), finds what the
/// native engine finds on the samples, the policy fixtures and the near misses, for every
/// policy it expresses: all the shipped ones for native events, `rate-limit` and
/// `time-fence` included.
#[test]
fn spark_finds_what_the_native_engine_finds() {
    let dir = tempfile::tempdir().unwrap();
    let policies = policies_file(dir.path());
    let policies = policies.to_str().unwrap();
    let script = dir.path().join("spark.sql");
    let run = sql(&[
        "--dialect",
        "spark",
        "--input",
        "regwatch_input",
        "--policies",
        policies,
        "-o",
        script.to_str().unwrap(),
    ]);
    assert_eq!(run.code, 0, "{run:?}");
    let only = whole(&script);
    let vectors = near_misses(dir.path());
    let inputs = [
        "samples/audit/native/changes-2026-11.jsonl",
        "tests/fixtures/audit/policies.jsonl",
        vectors.to_str().unwrap(),
    ];
    let mut args = Vec::new();
    let outs: Vec<std::path::PathBuf> = (0..inputs.len())
        .map(|i| dir.path().join(format!("spark-{i}.jsonl")))
        .collect();
    for (input, out) in inputs.iter().zip(&outs) {
        args.extend([
            script.as_os_str(),
            std::ffi::OsStr::new(input),
            out.as_os_str(),
        ]);
    }
    let (ok, said) = python_support("spark_sql.py", &args);
    assert!(ok, "{said}");
    for (input, out) in inputs.iter().zip(&outs) {
        let back = findings(dir.path(), policies, &["--findings", out.to_str().unwrap()]);
        let native = findings(dir.path(), policies, &[input, "--no-sigma"]);
        let (from_spark, from_native) = (keys(&back.stdout, &only), keys(&native.stdout, &only));
        assert!(!from_native.is_empty(), "{input}: no finding to compare");
        assert_eq!(from_spark, from_native, "{input}");
        assert_eq!(bursts(&back.stdout), bursts(&native.stdout), "{input}");
        if *input == inputs[2] {
            assert_near_misses(&back.stdout, &from_spark);
        }
    }
}

/// Runs a DuckDB script (support/duckdb_sql.py): its findings as Parquet, and the records
/// it leaves out as CSV text (file, line, problem).
fn run_duckdb(dir: &Path, script: &Path) -> (std::path::PathBuf, String) {
    let (parquet, left_out) = (dir.join("f.parquet"), dir.join("left-out.csv"));
    let (ok, said) = python_support(
        "duckdb_sql.py",
        &[
            script.as_os_str(),
            parquet.as_os_str(),
            left_out.as_os_str(),
        ],
    );
    assert!(ok, "{said}");
    (parquet, std::fs::read_to_string(&left_out).unwrap())
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
    let (_, text) = run_duckdb(dir.path(), &script);
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

/// Every shipped kind is expressed for native events in every dialect (rate-limit and
/// time-fence included); on CloudTrail-shaped events, the guardrails testing `grants` of
/// policy documents are refused by name, in the script and on stderr, exit 6.
#[test]
fn a_kind_not_expressed_is_refused_by_name() {
    for dialect in ["trino", "spark", "duckdb"] {
        let run = sql(&["--dialect", dialect, "--input", "x.jsonl"]);
        assert_eq!(run.code, 0, "{run:?}");
        assert!(
            run.stdout.contains("-- REFUSED (0): none"),
            "{}",
            run.stdout
        );
        let run = sql(&[
            "--dialect",
            dialect,
            "--source",
            "cloudtrail-athena",
            "--input",
            "x",
        ]);
        assert_eq!(run.code, 6, "{run:?}");
        for (id, kind) in [
            ("wildcard-permission", "wildcard-permission"),
            ("ct-bucket-shared", "condition"),
        ] {
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
    for (dialect, source) in [
        ("trino", "native"),
        ("spark", "native"),
        ("trino", "cloudtrail-athena"),
        ("spark", "cloudtrail-athena"),
        ("trino", "ocsf"),
        ("spark", "ocsf"),
    ] {
        let script = dir.path().join(format!("{dialect}-{source}.sql"));
        let run = sql(&[
            "--dialect",
            dialect,
            "--source",
            source,
            SCOPED[0],
            SCOPED[1],
            SCOPED[2],
            SCOPED[3],
            SCOPED[4],
            SCOPED[5],
            "--input",
            "audit.events",
            "-o",
            script.to_str().unwrap(),
        ]);
        // Only CloudTrail-shaped sources refuse (grants of policy documents).
        assert_eq!(run.code, if source == "native" { 0 } else { 6 }, "{run:?}");
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

/// November 2026 of one account and region: the pruning vector's scope.
const SCOPED: [&str; 6] = [
    "--month",
    "2026-11",
    "--account",
    "111111111111",
    "--region",
    "eu-west-2",
];

/// `support/lake_tables.py KIND OUT ARGS`: the Athena CloudTrail table or Security Lake's
/// OCSF table built as Parquet.
fn lake_table(kind: &str, out: &Path, args: &[&str]) {
    let mut all = vec![std::ffi::OsStr::new(kind), out.as_os_str()];
    all.extend(args.iter().map(std::ffi::OsStr::new));
    let (ok, said) = python_support("lake_tables.py", &all);
    assert!(ok, "{said}");
}

/// Runs the DuckDB script of `--source SOURCE` on `table` and reads its findings back;
/// the script, the findings (JSON lines) and the records it leaves out (CSV: file, line,
/// problem).
fn source_findings(
    dir: &Path,
    source: &str,
    table: &Path,
    args: &[&str],
) -> (String, String, String) {
    let script = dir.join(format!("{source}.sql"));
    let mut all = vec!["--source", source];
    all.extend_from_slice(args);
    let run = duckdb_script(table.to_str().unwrap(), &script, &all);
    // Some CloudTrail guardrails test grants the script cannot compute: refused, exit 6.
    assert_eq!(run.code, 6, "{run:?}");
    let text = std::fs::read_to_string(&script).unwrap();
    let (parquet, left_out) = run_duckdb(dir, &script);
    let shipped = common::root().join("mappings/policies.toml");
    let back = findings(
        dir,
        shipped.to_str().unwrap(),
        &["--findings", parquet.to_str().unwrap()],
    );
    (text, back.stdout, left_out)
}

/// The Athena CloudTrail table and Security Lake's OCSF table, built from the real-shaped
/// CloudTrail files and the OCSF fixtures, give the findings a native run gives on those
/// files, for every policy the script expresses; the guardrails whose `grants` come from
/// policy documents are refused by name; OCSF records of other classes are counted as a
/// run counts them.
#[test]
fn cloudtrail_and_ocsf_tables_give_the_native_findings() {
    let dir = tempfile::tempdir().unwrap();
    let shipped = common::root().join("mappings/policies.toml");
    let shipped = shipped.to_str().unwrap();
    let cases = [
        ("cloudtrail-athena", "samples/audit/cloudtrail"),
        ("cloudtrail-athena", "tests/fixtures/audit/cloudtrail-real"),
        ("ocsf", "tests/fixtures/audit/ocsf/samples.ocsf.parquet"),
        (
            "ocsf",
            "tests/fixtures/audit/ocsf/cloudtrail-real.ocsf.parquet",
        ),
    ];
    for (source, files) in cases {
        let table = dir.path().join("table.parquet");
        match source {
            "ocsf" => lake_table("ocsf", &table, &[files]),
            _ => lake_table("cloudtrail", &table, &[files]),
        }
        let (script, back, left_out) = source_findings(dir.path(), source, &table, &[]);
        let only = expressed(&script);
        for id in [
            "destructive-prod-without-approval",
            "blast-radius",
            "logging-disabled",
            "audit-trail-gap",
            "ct-denied-attempts",
            "ct-credentials-for-other-user",
            "ct-interactive-session-in-production",
            "ct-console-login-without-mfa",
            "ct-lambda-public-permission",
        ] {
            assert!(only.contains(id), "{source}: {id} not expressed: {only:?}");
        }
        for id in [
            "wildcard-permission",
            "ct-trust-policy-opened",
            "ct-bucket-shared",
        ] {
            assert!(script.contains(&format!("--   {id} (")), "{id}: {script}");
        }
        assert!(script.contains("-- Not for this source: k8s-"), "{script}");
        let native = findings(dir.path(), shipped, &[files, "--no-sigma"]);
        let (from_sql, from_native) = (keys(&back, &only), keys(&native.stdout, &only));
        assert!(from_native.len() >= 5, "{files}: {from_native:?}");
        assert_eq!(from_sql, from_native, "{source} {files}");
        // What the script leaves out reconciles with a run's summary: rejected + skipped.
        let skipped = (left_out.lines())
            .filter(|l| {
                l.contains("skipped: OCSF class 3002 (Authentication), not API Activity (6003)")
            })
            .count();
        let rejected = left_out.lines().skip(1).count() - skipped;
        let q = dir.path().join("q.csv");
        let summary = regwatch(&[
            "audit",
            "--config",
            "regwatch.toml",
            "--policies",
            shipped,
            files,
            "--no-sigma",
            "--format",
            "findings",
            "--quarantine",
            q.to_str().unwrap(),
        ]);
        let said = match skipped {
            0 => format!(" accepted + {rejected} rejected\n"),
            n => format!(" accepted + {rejected} rejected + {n} skipped ({n} OCSF class 3002"),
        };
        assert!(summary.stderr.contains(&said), "{said}: {}", summary.stderr);
    }
}

/// A CloudTrail record (a StopLogging of trail `name`) for the pruning vector.
fn stop_logging(name: &str, at: &str, account: &str, region: &str) -> Value {
    serde_json::json!({
        "eventVersion": "1.09", "eventTime": at, "eventSource": "cloudtrail.amazonaws.com",
        "eventName": "StopLogging", "awsRegion": region, "recipientAccountId": account,
        "eventID": name, "readOnly": false,
        "userIdentity": {"type": "IAMUser", "arn": format!("arn:aws:iam::{account}:user/alice"),
                         "accountId": account, "userName": "alice"},
        "requestParameters": {"name": format!("arn:aws:cloudtrail:{region}:{account}:trail/{name}")},
        "resources": [{"ARN": format!("arn:aws:cloudtrail:{region}:{account}:trail/{name}"),
                       "accountId": account, "type": "AWS::CloudTrail::Trail"}],
    })
}

/// `--month 2026-11 --account A --region R`: the day partition (`timestamp`, yyyy/MM/dd)
/// keeps the days of November (in the configured zone, Europe/London) only, and the
/// events' own time, account and region the rest: a record filed under an October day
/// is not read even though its time is in November. The native source gets the time
/// predicate; Security Lake's table its `eventday`, `accountid` and `region` partitions.
#[test]
fn month_account_and_region_prune_partitions_and_events() {
    let dir = tempfile::tempdir().unwrap();
    let vector = [
        (
            "in-november",
            "2026-11-10T10:00:00Z",
            "111111111111",
            "eu-west-2",
            "2026/11/10",
        ),
        (
            "last-minute",
            "2026-11-30T23:59:00Z",
            "111111111111",
            "eu-west-2",
            "2026/11/30",
        ),
        (
            "delivered-next-day",
            "2026-11-30T23:58:00Z",
            "111111111111",
            "eu-west-2",
            "2026/12/01",
        ),
        (
            "october",
            "2026-10-31T23:30:00Z",
            "111111111111",
            "eu-west-2",
            "2026/10/31",
        ),
        (
            "december",
            "2026-12-01T00:00:00Z",
            "111111111111",
            "eu-west-2",
            "2026/12/01",
        ),
        (
            "other-account",
            "2026-11-12T09:00:00Z",
            "222222222222",
            "eu-west-2",
            "2026/11/12",
        ),
        (
            "other-region",
            "2026-11-12T09:00:00Z",
            "111111111111",
            "us-east-1",
            "2026/11/12",
        ),
        (
            "filed-in-october",
            "2026-11-15T09:00:00Z",
            "111111111111",
            "eu-west-2",
            "2026/10/15",
        ),
    ];
    let logs = dir.path().join("AWSLogs");
    for (name, at, account, region, day) in vector {
        let folder = logs.join(format!("{account}/CloudTrail/{region}/{day}"));
        std::fs::create_dir_all(&folder).unwrap();
        let records = serde_json::json!({"Records": [stop_logging(name, at, account, region)]});
        std::fs::write(folder.join(format!("{name}.json")), records.to_string()).unwrap();
    }
    let table = dir.path().join("table.parquet");
    lake_table("cloudtrail", &table, &[logs.to_str().unwrap()]);
    let trails = |back: &str| -> BTreeSet<String> {
        keys(back, &BTreeSet::from(["logging-disabled".to_string()]))
            .into_iter()
            .flat_map(|k| k.2)
            .map(|r| r.rsplit('/').next().unwrap().to_string())
            .collect()
    };
    let (_, all, _) = source_findings(dir.path(), "cloudtrail-athena", &table, &[]);
    assert_eq!(trails(&all).len(), vector.len(), "{all}");
    let scoped = SCOPED;
    let (script, back, _) = source_findings(dir.path(), "cloudtrail-athena", &table, &scoped);
    assert!(
        script.contains("\"timestamp\" BETWEEN '2026/11/01' AND '2026/12/01'"),
        "{script}"
    );
    assert_eq!(
        trails(&back),
        BTreeSet::from([
            "in-november".to_string(),
            "last-minute".to_string(),
            "delivered-next-day".to_string()
        ])
    );
    // A summer month in Europe/London starts the evening before, in UTC.
    let (script, _, _) = source_findings(
        dir.path(),
        "cloudtrail-athena",
        &table,
        &["--month", "2026-07"],
    );
    assert!(
        script.contains("\"timestamp\" BETWEEN '2026/06/30' AND '2026/08/01'"),
        "{script}"
    );
    // Security Lake: the partitions are the records' own day, account and region.
    let lake = dir.path().join("lake.parquet");
    let fixture = "tests/fixtures/audit/ocsf/cloudtrail-real.ocsf.parquet";
    lake_table("ocsf", &lake, &[fixture]);
    let (_, whole, _) = source_findings(dir.path(), "ocsf", &lake, &[]);
    let everything = BTreeSet::from(["logging-disabled".to_string(), "blast-radius".to_string()]);
    assert!(!keys(&whole, &everything).is_empty(), "{whole}");
    let (script, november, _) = source_findings(dir.path(), "ocsf", &lake, &scoped);
    assert!(
        script.contains("eventday BETWEEN '20261101' AND '20261130'"),
        "{script}"
    );
    assert!(script.contains("accountid IN ('111111111111')"), "{script}");
    assert_eq!(keys(&november, &everything), keys(&whole, &everything));
    let (_, october, _) = source_findings(dir.path(), "ocsf", &lake, &["--month", "2026-10"]);
    assert!(keys(&october, &everything).is_empty(), "{october}");
    // The native source: a time predicate on the events.
    let native = dir.path().join("native.sql");
    let input = "samples/audit/native/changes-2026-11.jsonl";
    let run = duckdb_script(input, &native, &["--month", "2026-10"]);
    assert_eq!(run.code, 0, "{run:?}");
    let text = std::fs::read_to_string(&native).unwrap();
    assert!(
        text.contains("at_ms >= 1790809200000 AND at_ms < 1793491200000"),
        "{text}"
    );
}

/// The policies a coverage counts as checked (passed or failed), from `audit --coverage
/// --format json`.
fn checked_in_coverage(run: &Run) -> BTreeSet<String> {
    let report: Value =
        serde_json::from_str(&run.stdout).unwrap_or_else(|e| panic!("{e}: {run:?}"));
    (report["coverage"].as_array().unwrap().iter())
        .flat_map(|c| c["policies"].as_array().unwrap().iter())
        .map(|p| p.as_str().unwrap().to_string())
        .collect()
}

/// Findings read back with the script that made them count only the policies it
/// expresses: the CloudTrail and Kubernetes guardrails (not for native events) and the
/// Sigma rules (not in any script) checked nothing and are not shown as passing.
#[test]
fn findings_with_their_script_count_only_the_policies_it_expresses() {
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("findings.sql");
    let run = duckdb_script("samples/audit/native/changes-2026-11.jsonl", &script, &[]);
    assert_eq!(run.code, 0, "{run:?}");
    let expressed = expressed(&std::fs::read_to_string(&script).unwrap());
    let (parquet, _) = run_duckdb(dir.path(), &script);
    let coverage = |extra: &[&str]| {
        let mut args = vec![
            "audit",
            "--config",
            "regwatch.toml",
            "--findings",
            parquet.to_str().unwrap(),
            "--coverage",
            "--format",
            "json",
        ];
        args.extend_from_slice(extra);
        let run = regwatch(&args);
        assert!(run.code == 0 || run.code == 1, "{run:?}");
        checked_in_coverage(&run)
    };
    let with_script = coverage(&["--script", script.to_str().unwrap()]);
    assert_eq!(with_script, expressed, "only what the script expresses");
    let without = coverage(&[]);
    for id in [
        "ct-console-login-without-mfa",
        "k8s-privileged-workload-in-prod",
    ] {
        assert!(!expressed.contains(id), "{id}");
        assert!(without.contains(id), "{id}: {without:?}");
        assert!(!with_script.contains(id), "{id}");
    }
    // Not a script regwatch wrote: refused, exit 2.
    let bogus = dir.path().join("bogus.sql");
    std::fs::write(&bogus, "SELECT 1;\n").unwrap();
    let run = regwatch(&[
        "audit",
        "--config",
        "regwatch.toml",
        "--findings",
        parquet.to_str().unwrap(),
        "--script",
        bogus.to_str().unwrap(),
    ]);
    assert_eq!(run.code, 2, "{run:?}");
    assert!(run.stderr.contains("Expressed"), "{run:?}");
}
