//! Bad input: every rejected row is named (file, line, field), quarantined, and counted.

mod common;
use common::*;

struct Outcome {
    run: Run,
    quarantine: Vec<Vec<String>>,
    json: Option<serde_json::Value>,
}

/// Runs `deadlines FILE --format json` with the quarantine in a temp dir.
fn ingest(file: &str, extra: &[&str]) -> Outcome {
    let dir = tempfile::tempdir().unwrap();
    let q = dir.path().join("q.csv");
    let cfg = config();
    let path = format!("tests/fixtures/bad/{file}");
    let mut args = vec![
        "--config",
        &cfg,
        "deadlines",
        &path,
        "--now",
        NOW,
        "--format",
        "json",
        "--quarantine",
        q.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    let run = regwatch(&args);
    let quarantine = if q.exists() {
        let mut rdr = csv::Reader::from_path(&q).unwrap();
        assert_eq!(
            rdr.headers().unwrap().iter().collect::<Vec<_>>(),
            ["file", "location", "id", "field", "reason", "raw"]
        );
        rdr.records()
            .map(|r| r.unwrap().iter().map(String::from).collect())
            .collect()
    } else {
        Vec::new()
    };
    let json = serde_json::from_str(&run.stdout).ok();
    Outcome {
        run,
        quarantine,
        json,
    }
}

/// read == accepted + rejected, and the quarantine holds exactly the rejected rows.
fn reconciles(o: &Outcome, read: u64, accepted: u64) {
    let input = &o.json.as_ref().expect("json output")["inputs"][0];
    assert_eq!(input["read"], read);
    assert_eq!(input["accepted"], accepted);
    assert_eq!(input["rejected"], read - accepted);
    assert_eq!(o.quarantine.len() as u64, read - accepted);
}

/// The problems on kept rows, from the JSON output: (location, field).
fn problems(o: &Outcome) -> Vec<(String, String)> {
    o.json.as_ref().expect("json output")["inputs"][0]["problems"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p["location"].as_str().unwrap().to_string(),
                p["field"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

#[test]
fn missing_column_fails_the_file() {
    let o = ingest("missing_column.csv", &[]);
    assert_eq!(o.run.code, 2);
    assert!(
        o.run
            .stderr
            .contains("missing_column.csv line 1: missing required column(s) aware_at"),
        "{}",
        o.run.stderr
    );
}

#[test]
fn empty_file_fails() {
    let o = ingest("empty.csv", &[]);
    assert_eq!(o.run.code, 2);
    assert!(
        o.run.stderr.contains("empty.csv: the file is empty"),
        "{}",
        o.run.stderr
    );
}

#[test]
fn bad_timestamp_is_quarantined_with_line_and_field() {
    let o = ingest("bad_timestamp.csv", &[]);
    reconciles(&o, 3, 2);
    let q = &o.quarantine[0];
    assert_eq!(&q[1..4], ["line 3", "T-2", "aware_at"]);
    assert!(q[4].contains("is not a timestamp"));
    assert_eq!(q[5], "T-2,Bad timestamp,2026-13-45 25:00,false");
    assert!(o
        .run
        .stderr
        .contains("bad_timestamp.csv line 3, field aware_at"));
}

#[test]
fn local_times_at_clock_changes_need_an_offset() {
    let o = ingest("clock_change.csv", &[]);
    reconciles(&o, 3, 1);
    assert_eq!(&o.quarantine[0][1..4], ["line 2", "N-1", "aware_at"]);
    assert!(o.quarantine[0][4].contains("does not exist in Europe/London"));
    assert_eq!(&o.quarantine[1][1..4], ["line 3", "N-2", "aware_at"]);
    assert!(o.quarantine[1][4].contains("happens twice"));
    // The one with an offset is read as 00:30 UTC.
    let rows = o.json.unwrap()["deadlines"].as_array().unwrap().clone();
    let n3 = rows
        .iter()
        .find(|r| r["incident_id"] == "N-3" && r["regime"] == "uk-gdpr-art33")
        .unwrap();
    assert_eq!(n3["started_at"], "2026-10-25T00:30:00Z");
}

#[test]
fn duplicate_id_is_rejected_naming_the_first() {
    let o = ingest("duplicate_id.csv", &[]);
    reconciles(&o, 3, 2);
    assert_eq!(&o.quarantine[0][1..4], ["line 4", "D-1", "id"]);
    assert!(o.quarantine[0][4].contains("first at line 2"));
}

#[test]
fn duplicate_ids_across_files_are_rejected() {
    let cfg = config();
    let dir = tempfile::tempdir().unwrap();
    let q = dir.path().join("q.csv");
    let run = regwatch(&[
        "--config",
        &cfg,
        "deadlines",
        "tests/fixtures/bad/bom.csv",
        "tests/fixtures/bad/bom.csv",
        "--now",
        NOW,
        "--format",
        "json",
        "--quarantine",
        q.to_str().unwrap(),
    ]);
    let json: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(json["inputs"][1]["read"], 1);
    assert_eq!(json["inputs"][1]["rejected"], 1);
    assert!(std::fs::read_to_string(&q)
        .unwrap()
        .contains("first in tests/fixtures/bad/bom.csv line 2"));
}

#[test]
fn utf8_bom_and_crlf_are_read() {
    let o = ingest("bom.csv", &[]);
    reconciles(&o, 1, 1);
    let o = ingest("crlf.csv", &["--all"]);
    reconciles(&o, 2, 2);
    let rows = o.json.unwrap()["deadlines"].as_array().unwrap().clone();
    assert!(rows
        .iter()
        .any(|r| r["incident_title"] == "Quoted, with comma"));
    assert!(rows
        .iter()
        .all(|r| !r["incident_title"].as_str().unwrap().ends_with('\r')));
}

#[test]
fn mixed_file_rejects_only_rows_without_id_or_usable_fields_and_reports_the_rest() {
    // A bad field a clock does not need is a problem on a kept row; only a row with no id
    // (or no usable aware_at, or whose fields cannot be told apart) is rejected.
    let o = ingest("mixed.csv", &[]);
    reconciles(&o, 8, 6);
    let got: Vec<(&str, &str)> = o
        .quarantine
        .iter()
        .map(|q| (q[1].as_str(), q[3].as_str()))
        .collect();
    assert_eq!(got, [("line 5", "(row)"), ("line 8", "id")]);
    let p = problems(&o);
    let p: Vec<(&str, &str)> = p.iter().map(|(l, f)| (l.as_str(), f.as_str())).collect();
    assert_eq!(
        p,
        [
            ("line 3", "severity"),
            ("line 4", "affected_services"),
            ("line 6", "records"),
            ("line 7", "personal_data"),
        ]
    );
    assert_eq!(o.json.as_ref().unwrap()["inputs"][0]["with_problems"], 4);
    assert!(o
        .run
        .stderr
        .contains("read 8, accepted 6, rejected 2, with problems 4"));
    // Rejections and problems: exit 6 when nothing is overdue (here M-8 is: exit 1).
    assert!(o.run.code == 1 || o.run.code == 6, "{}", o.run.code);
}

#[test]
fn strict_mode_stops_at_the_first_bad_row() {
    let o = ingest("mixed.csv", &["--strict"]);
    assert_eq!(o.run.code, 2);
    assert!(
        o.run.stderr.contains("mixed.csv line 3, field severity"),
        "{}",
        o.run.stderr
    );
    assert!(o.quarantine.is_empty());
    assert!(o.run.stdout.is_empty());
}

#[test]
fn json_lines_reject_broken_lines_and_go_on() {
    let o = ingest("mixed.jsonl", &[]);
    reconciles(&o, 4, 2);
    assert_eq!(&o.quarantine[0][1..4], ["line 2", "", "(record)"]);
    assert!(o.quarantine[0][4].contains("not valid JSON"));
    assert_eq!(&o.quarantine[1][1..4], ["line 4", "J-3", "aware_at"]);
}

#[test]
fn json_array_records_are_numbered() {
    let o = ingest("array.json", &[]);
    reconciles(&o, 3, 2);
    assert_eq!(problems(&o), [("record 2".into(), "personal_data".into())]);
    assert_eq!(&o.quarantine[0][1..4], ["record 3", "", "(record)"]);
}

#[test]
fn broken_json_array_names_line_and_column() {
    let o = ingest("broken.json", &[]);
    assert_eq!(o.run.code, 2);
    assert!(
        o.run.stderr.contains("broken.json line 1, column 27"),
        "{}",
        o.run.stderr
    );
}
