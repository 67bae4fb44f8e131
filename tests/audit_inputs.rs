//! `regwatch audit` on input that must not be read silently or hurt the run (issue 22):
//! files that are not events, unreadable files, all-rejected inputs, FIFOs, symlink loops
//! and hard links, over-long lines, temporary files. The real binary on files written
//! here.

mod common;

use std::path::Path;
use std::process::Command;

use common::{config, fixture, Run};
use serde_json::Value;

const GOOD: &str = r#"{"timestamp":"2026-11-03T09:14:00Z","actor":"a","actor_type":"human","action":"x","operation":"read","resource":"r","environment":"dev"}"#;

/// Runs `regwatch audit ARGS --format json --quiet` in `dir`, its temporary files in
/// `dir/tmp`.
fn audit_in(dir: &Path, args: &[&str]) -> (Run, Value) {
    audit_piped(dir, args, None)
}

/// As [`audit_in`], with the bytes of `stdin` written to standard input through a pipe.
fn audit_piped(dir: &Path, args: &[&str], stdin: Option<Vec<u8>>) -> (Run, Value) {
    let tmp = dir.join("tmp");
    std::fs::create_dir_all(&tmp).unwrap();
    let cfg = config();
    let mut all = vec!["--config", cfg.as_str(), "audit"];
    all.extend_from_slice(args);
    all.extend_from_slice(&["--format", "json", "--quiet"]);
    let mut child = Command::new(env!("CARGO_BIN_EXE_regwatch"))
        .args(&all)
        .current_dir(dir)
        .env("TMPDIR", &tmp)
        .env_remove("REGWATCH_CONFIG")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut pipe = child.stdin.take().unwrap();
    let writer = std::thread::spawn(move || {
        use std::io::Write;
        // regwatch may stop reading early (a rejected input): a broken pipe is fine.
        let _ = pipe.write_all(&stdin.unwrap_or_default());
    });
    let out = child.wait_with_output().unwrap();
    writer.join().unwrap();
    let run = Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    };
    let v: Value = serde_json::from_str(&run.stdout).unwrap_or(Value::Null);
    // The summary (sources, totals, skipped files) and the findings.
    let mut summary = v["summary"].clone();
    if !summary.is_null() {
        summary["findings"] = v["findings"].clone();
    }
    (run, summary)
}

fn write(path: &Path, text: &str) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

fn reconciles(v: &Value) {
    let t = &v["totals"];
    let n = |x: &Value, k: &str| x[k].as_u64().unwrap();
    assert_eq!(
        n(t, "read"),
        n(t, "accepted") + n(t, "rejected") + n(t, "skipped"),
        "{t}"
    );
    for s in v["sources"].as_array().unwrap() {
        assert_eq!(
            n(s, "read"),
            n(s, "accepted") + n(s, "rejected") + n(s, "skipped"),
            "{s}"
        );
    }
}

fn skipped(v: &Value) -> Vec<(String, String)> {
    v["skipped_files"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|s| {
                    let f = s["file"].as_str().unwrap();
                    let name = Path::new(f).file_name().unwrap().to_string_lossy();
                    (name.into_owned(), s["reason"].as_str().unwrap().to_string())
                })
                .collect()
        })
        .unwrap_or_default()
}

fn quarantine(dir: &Path) -> String {
    std::fs::read_to_string(dir.join("audit.quarantine.csv")).unwrap_or_default()
}

#[test]
fn a_json_file_that_is_not_events_is_skipped_in_a_folder_and_rejected_by_path() {
    let d = tempfile::tempdir().unwrap();
    let logs = d.path().join("logs");
    write(&logs.join("events.jsonl"), &format!("{GOOD}\n"));
    write(
        &logs.join("manifest.json"),
        r#"{"name": "x", "version": 1}"#,
    );
    let tree = logs.join("AWSLogs/1/CloudTrail/eu-west-2/2026/11/03");
    write(&tree.join("no-records.json"), r#"{"eventVersion": "1.08"}"#);
    write(&tree.join("empty.json"), r#"{"Records": []}"#);
    let (run, v) = audit_in(d.path(), &["logs"]);
    assert_eq!(run.code, 0, "{run:?}");
    let s = skipped(&v);
    for name in ["manifest.json", "no-records.json", "empty.json"] {
        let (_, reason) = s
            .iter()
            .find(|(f, _)| f == name)
            .unwrap_or_else(|| panic!("{name}: {s:?}"));
        assert!(!reason.is_empty());
    }
    assert!(s.iter().any(|(_, r)| r.contains("apiVersion")), "{s:?}");
    assert_eq!(v["totals"]["accepted"], 1);
    reconciles(&v);

    let (run, v) = audit_in(d.path(), &["logs/manifest.json", "logs/events.jsonl"]);
    assert_eq!(run.code, 6, "{run:?}");
    let src = &v["sources"][0];
    assert!(
        src["file_rejected"]
            .as_str()
            .unwrap()
            .contains("not audit events"),
        "{src}"
    );
    assert_eq!(v["totals"]["accepted"], 1);
    assert!(quarantine(d.path()).contains("(whole file)"));
    reconciles(&v);
}

#[test]
fn an_unreadable_file_does_not_stop_the_others_and_the_exit_status_says_so() {
    let d = tempfile::tempdir().unwrap();
    let logs = d.path().join("logs");
    write(&logs.join("a.jsonl"), &format!("{GOOD}\n"));
    std::fs::write(
        logs.join("broken.jsonl.gz"),
        b"\x1f\x8b\x08\x00garbage, not deflate",
    )
    .unwrap();
    std::fs::write(logs.join("b.parquet"), b"\xff\xfe\x00binary, not parquet").unwrap();
    write(&logs.join("z.jsonl"), &format!("{GOOD}\n"));
    let (run, v) = audit_in(d.path(), &["logs"]);
    assert_eq!(run.code, 6, "{run:?}");
    assert_eq!(v["totals"]["accepted"], 2, "{v}");
    assert_eq!(v["totals"]["files_rejected"], 2, "{v}");
    let q = quarantine(d.path());
    assert!(
        q.contains("broken.jsonl.gz") && q.contains("b.parquet"),
        "{q}"
    );
    reconciles(&v);
    // --strict still stops at the first.
    let (run, _) = audit_in(d.path(), &["logs", "--strict"]);
    assert_eq!(run.code, 2, "{run:?}");
}

#[test]
fn fail_on_fails_when_every_record_of_an_input_was_rejected() {
    let d = tempfile::tempdir().unwrap();
    write(&d.path().join("bad.jsonl"), "{not json\n{\"actor\": 1}\n");
    let (run, v) = audit_in(d.path(), &["bad.jsonl", "--fail-on", "low"]);
    assert_ne!(run.code, 0, "{run:?}");
    assert_eq!(run.code, 6, "{run:?}");
    assert_eq!(v["totals"]["rejected"], 2);
    reconciles(&v);
}

#[test]
fn a_damaged_parquet_file_the_decoder_panics_on_is_rejected_whole() {
    // One byte of the fixture's first page header overwritten (found by the property
    // tests): polars panics decoding it. The file is rejected whole, with why; the other
    // input is still read, and the exit status says one was not.
    let d = tempfile::tempdir().unwrap();
    let mut bytes = std::fs::read(fixture("audit/formats.parquet")).unwrap();
    bytes[28] = 0xff;
    std::fs::write(d.path().join("damaged.parquet"), bytes).unwrap();
    write(&d.path().join("good.jsonl"), &format!("{GOOD}\n"));
    let (run, v) = audit_in(d.path(), &["damaged.parquet", "good.jsonl"]);
    assert_eq!(run.code, 6, "{run:?}");
    let damaged = &v["sources"][0];
    assert_eq!(damaged["file"], "damaged.parquet", "{v}");
    let why = damaged["file_rejected"].as_str().unwrap_or("");
    assert!(why.contains("not a readable Parquet file"), "{v}");
    assert_eq!(v["sources"][1]["accepted"], 1, "{v}");
    reconciles(&v);
}

#[test]
fn a_parquet_file_missing_required_columns_fails_the_gate() {
    use polars::prelude::*;
    let d = tempfile::tempdir().unwrap();
    let path = d.path().join("missing.parquet");
    let mut df = df!("actor" => ["a", "b"], "foo" => ["x", "y"]).unwrap();
    ParquetWriter::new(std::fs::File::create(&path).unwrap())
        .finish(&mut df)
        .unwrap();
    let (run, v) = audit_in(d.path(), &["missing.parquet", "--fail-on", "low"]);
    assert_ne!(run.code, 0, "{run:?}");
    assert_eq!(v["totals"]["accepted"], 0, "{v}");
    reconciles(&v);
}

#[cfg(unix)]
#[test]
fn a_fifo_gives_the_same_findings_as_the_file() {
    let d = tempfile::tempdir().unwrap();
    let src = fixture("audit/policies.jsonl");
    let (run, file) = audit_in(d.path(), &[src.to_str().unwrap()]);
    assert!(run.code == 0 || run.code == 1, "{run:?}");
    let fifo = d.path().join("fifo.jsonl");
    let made = Command::new("mkfifo").arg(&fifo).status().unwrap();
    assert!(made.success());
    let (fifo2, src2) = (fifo.clone(), src.clone());
    let writer = std::thread::spawn(move || {
        let bytes = std::fs::read(&src2).unwrap();
        std::fs::write(&fifo2, bytes).unwrap();
    });
    let (run, piped) = audit_in(d.path(), &["fifo.jsonl"]);
    writer.join().unwrap();
    assert!(run.code == 0 || run.code == 1, "{run:?}");
    assert_eq!(piped["totals"]["read"], file["totals"]["read"]);
    assert_eq!(piped["totals"]["accepted"], file["totals"]["accepted"]);
    let text = |v: &Value| {
        v["findings"]
            .to_string()
            .replace(src.to_str().unwrap(), "fifo.jsonl")
    };
    assert_eq!(text(&piped), text(&file));
    assert_eq!(piped["findings_by_policy"], file["findings_by_policy"]);
}

#[test]
fn standard_input_gives_the_same_findings_as_the_file() {
    // `regwatch audit -`: native JSON lines, a Kubernetes audit log and a gzipped
    // CloudTrail file, piped; the format told from the first bytes, none of them lost.
    let d = tempfile::tempdir().unwrap();
    let root = common::root();
    let ct = "samples/audit/cloudtrail/AWSLogs/111111111111/CloudTrail/eu-west-2/2026/11/24/111111111111_CloudTrail_eu-west-2_20261124T1345Z_V1eKqR6n5Nywdix6.json.gz";
    for (file, format) in [
        ("tests/fixtures/audit/policies.jsonl", "jsonl"),
        ("samples/audit/k8s/audit-prod-cluster.jsonl", "k8s"),
        (ct, "cloudtrail"),
    ] {
        let path = root.join(file);
        let (run, by_path) = audit_in(d.path(), &[path.to_str().unwrap()]);
        assert!(run.code == 0 || run.code == 1, "{run:?}");
        let bytes = std::fs::read(&path).unwrap();
        // Longer than what telling the format reads (4 KB; the gzip, all of its 3 KB).
        assert!(bytes.len() > 4096 || file.ends_with(".gz"), "{file}");
        let (run, piped) = audit_piped(d.path(), &["-"], Some(bytes));
        assert!(run.code == 0 || run.code == 1, "{run:?}");
        let source = &piped["sources"][0];
        assert_eq!(
            (&source["file"], &source["format"]),
            (&"-".into(), &format.into())
        );
        for count in ["read", "accepted", "rejected", "skipped"] {
            assert_eq!(
                piped["totals"][count], by_path["totals"][count],
                "{file} {count}"
            );
        }
        reconciles(&piped);
        let text = |v: &Value| {
            v["findings"]
                .to_string()
                .replace(path.to_str().unwrap(), "-")
        };
        assert!(
            !by_path["findings"].as_array().unwrap().is_empty(),
            "{file}"
        );
        assert_eq!(text(&piped), text(&by_path), "{file}");
    }
    // What cannot be told apart is rejected whole, with why, and the exit status says so;
    // standard input given twice is read once.
    let (run, v) = audit_piped(d.path(), &["-", "-"], Some(b"hello\n".to_vec()));
    assert_eq!(run.code, 6, "{run:?}");
    let why = v["sources"][0]["file_rejected"].as_str().unwrap_or("");
    assert!(
        why.contains("cannot tell the format of standard input"),
        "{v}"
    );
    assert_eq!(v["totals"]["files"], 1, "{v}");
    let s = skipped(&v);
    assert!(
        s.iter().any(|(f, r)| f == "-" && r.contains("read once")),
        "{s:?}"
    );
    // --input-format decides when the first bytes cannot.
    let (run, v) = audit_piped(
        d.path(),
        &["-", "--input-format", "jsonl"],
        Some(std::fs::read(root.join("tests/fixtures/audit/policies.jsonl")).unwrap()),
    );
    assert!(run.code == 0 || run.code == 1, "{run:?}");
    assert_eq!(v["totals"]["read"], 225, "{v}");
}

#[cfg(unix)]
#[test]
fn a_symlink_loop_and_a_hard_link_count_each_file_once() {
    let d = tempfile::tempdir().unwrap();
    let logs = d.path().join("logs");
    write(&logs.join("a.jsonl"), &format!("{GOOD}\n{GOOD}\n"));
    std::os::unix::fs::symlink(".", logs.join("self")).unwrap();
    std::fs::hard_link(logs.join("a.jsonl"), logs.join("b.jsonl")).unwrap();
    std::os::unix::fs::symlink("a.jsonl", logs.join("c.jsonl")).unwrap();
    let (run, v) = audit_in(d.path(), &["logs", "logs/a.jsonl"]);
    assert_eq!(run.code, 0, "{run:?}");
    assert_eq!(v["totals"]["files"], 1, "{v}");
    assert_eq!(v["totals"]["read"], 2, "{v}");
    let s = skipped(&v);
    assert!(
        s.iter().any(|(f, r)| f == "self" && r.contains("loop")),
        "{s:?}"
    );
    for name in ["b.jsonl", "c.jsonl", "a.jsonl"] {
        assert!(
            s.iter().any(|(f, r)| f == name && r.contains("same file")),
            "{name} {s:?}"
        );
    }
    reconciles(&v);
}

#[test]
fn an_over_long_gzip_line_is_rejected_quickly_with_its_line_number() {
    use std::io::Write;
    let d = tempfile::tempdir().unwrap();
    let path = d.path().join("long.jsonl.gz");
    let mut gz = flate2::write::GzEncoder::new(
        std::fs::File::create(&path).unwrap(),
        flate2::Compression::fast(),
    );
    writeln!(gz, "{GOOD}").unwrap();
    let long = format!("{{\"actor\": \"{}\"}}", "x".repeat(6 << 20));
    writeln!(gz, "{long}").unwrap();
    writeln!(gz, "{GOOD}").unwrap();
    gz.finish().unwrap();
    let t0 = std::time::Instant::now();
    let (run, v) = audit_in(
        d.path(),
        &["long.jsonl.gz", "--max-record-bytes", "1000000"],
    );
    assert!(t0.elapsed().as_secs() < 60, "{:?}", t0.elapsed());
    assert_eq!(run.code, 0, "{run:?}");
    assert_eq!(v["totals"]["accepted"], 2, "{v}");
    assert_eq!(v["totals"]["rejected"], 1, "{v}");
    let q = quarantine(d.path());
    assert!(q.contains("long.jsonl.gz,line 2,"), "{q}");
    assert!(q.contains("--max-record-bytes"), "{q}");
    reconciles(&v);
}

#[test]
fn no_temporary_files_are_left_after_a_run() {
    let d = tempfile::tempdir().unwrap();
    // A killed run's folder (its process long gone: past any pid_max) goes too.
    let stale = d.path().join("tmp/regwatch-findings-999999999-AbC123");
    write(&stale.join("0.bin"), "x");
    let src = fixture("audit/policies.jsonl");
    let (run, v) = audit_in(
        d.path(),
        &[
            src.to_str().unwrap(),
            "--changes-in-memory",
            "0",
            "--findings-in-memory",
            "0",
        ],
    );
    assert!(run.code == 0 || run.code == 1, "{run:?}");
    assert!(v["totals"]["spilled_findings"].as_u64().unwrap() > 0, "{v}");
    let left: Vec<_> = std::fs::read_dir(d.path().join("tmp")).unwrap().collect();
    assert!(left.is_empty(), "{left:?}");
}
