//! No clock lost, and no input that misleads: a bad field a clock does not need keeps the
//! incident (with the problem reported and exit status 6); times that cannot be right are
//! rejected naming the field; a stray CSV quote does not eat the rows after it.

mod common;
use common::*;

use std::path::Path;

const HEAD: &str = "id,title,aware_at,personal_data,risk_to_individuals,affected_services,occurred_at,records,resolved_at,ico_notified_at";

struct Outcome {
    run: Run,
    json: serde_json::Value,
    quarantine: String,
    problems: String,
}

/// Writes `name` with `text` into a temp dir and runs `deadlines --format json --all` on it.
fn deadlines(name: &str, text: &str, extra: &[&str]) -> Outcome {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join(name);
    std::fs::write(&file, text).unwrap();
    let q = dir.path().join("q.quarantine.csv");
    let cfg = config();
    let mut args = vec![
        "--config",
        &cfg,
        "deadlines",
        file.to_str().unwrap(),
        "--now",
        NOW,
        "--format",
        "json",
        "--all",
        "--quarantine",
        q.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    let run = regwatch_in(dir.path(), &args);
    let read = |p: &Path| std::fs::read_to_string(p).unwrap_or_default();
    let json = serde_json::from_str(&run.stdout).unwrap_or(serde_json::Value::Null);
    Outcome {
        quarantine: read(&q),
        problems: read(&dir.path().join("q.problems.csv")),
        run,
        json,
    }
}

fn clock<'a>(json: &'a serde_json::Value, id: &str, regime: &str) -> Option<&'a serde_json::Value> {
    json["deadlines"]
        .as_array()?
        .iter()
        .find(|r| r["incident_id"] == id && r["regime"] == regime)
}

fn problem_fields(json: &serde_json::Value) -> Vec<(String, String)> {
    json["inputs"][0]["problems"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p["id"].as_str().unwrap().to_string(),
                p["field"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

#[test]
fn unknown_service_keeps_the_ico_clock_and_exits_6() {
    let csv = format!("{HEAD}\nS-1,Breach,2026-11-28T09:00:00Z,true,high,teleporter,,,,\n");
    let o = deadlines("s.csv", &csv, &[]);
    assert_eq!(o.run.code, 6, "{}", o.run.stderr);
    let ico = clock(&o.json, "S-1", "uk-gdpr-art33").expect("the ICO clock is kept");
    assert_eq!(ico["status"], "due");
    assert_eq!(o.json["inputs"][0]["accepted"], 1);
    assert_eq!(o.json["inputs"][0]["rejected"], 0);
    assert_eq!(o.json["inputs"][0]["with_problems"], 1);
    assert_eq!(
        problem_fields(&o.json),
        [("S-1".to_string(), "affected_services".to_string())]
    );
    assert!(
        o.problems.contains("line 2,S-1,affected_services"),
        "{}",
        o.problems
    );
    assert!(o.problems.contains("teleporter"));
    assert!(o.quarantine.is_empty());
    assert!(
        o.run
            .stderr
            .contains("read 1, accepted 1, rejected 0, with problems 1"),
        "{}",
        o.run.stderr
    );
}

#[test]
fn aware_before_occurred_bad_count_and_resolved_before_aware_are_kept_with_problems() {
    let csv = format!(
        "{HEAD}\n\
         O-1,Order,2026-11-28T09:00:00Z,true,high,,2026-11-28T10:00:00Z,,,\n\
         R-1,Count,2026-11-28T09:00:00Z,true,high,,,lots,,\n\
         V-1,Resolved early,2026-11-28T09:00:00Z,true,high,,,,2026-11-27T09:00:00Z,\n"
    );
    let o = deadlines("p.csv", &csv, &[]);
    assert_eq!(o.run.code, 6, "{}", o.run.stderr);
    assert_eq!(o.json["inputs"][0]["accepted"], 3);
    for id in ["O-1", "R-1", "V-1"] {
        assert!(clock(&o.json, id, "uk-gdpr-art33").is_some(), "{id}");
    }
    let fields: Vec<(String, String)> = problem_fields(&o.json);
    let want = [
        ("O-1", "aware_at"),
        ("R-1", "records"),
        ("V-1", "resolved_at"),
    ];
    assert_eq!(fields, want.map(|(a, b)| (a.to_string(), b.to_string())));
    assert!(o.problems.contains("is before occurred_at"));
    assert!(o.problems.contains("\"\"lots\"\" is not a whole number"));
    assert!(o.problems.contains("is before aware_at"));
}

#[test]
fn an_unreadable_done_field_leaves_the_clock_open_not_gone() {
    let csv = format!("{HEAD}\nN-1,Notified?,2026-11-20T09:00:00Z,true,high,,,,,yesterday\n");
    let o = deadlines("n.csv", &csv, &[]);
    // Overdue wins over input problems: exit 1.
    assert_eq!(o.run.code, 1, "{}", o.run.stderr);
    let ico = clock(&o.json, "N-1", "uk-gdpr-art33").unwrap();
    assert_eq!(ico["status"], "overdue");
    assert_eq!(
        problem_fields(&o.json),
        [("N-1".to_string(), "ico_notified_at".to_string())]
    );
}

#[test]
fn offsets_and_years_out_of_range_are_rejected_naming_the_field() {
    let csv = format!(
        "{HEAD}\n\
         T-1,Offset,2026-11-28T09:00:00+99:00,true,high,,,,,\n\
         T-2,Year 0,0000-11-28T09:00:00Z,true,high,,,,,\n\
         T-3,Year 10000,10000-11-28T09:00:00Z,true,high,,,,,\n\
         T-4,Done offset,2026-11-28T09:00:00Z,true,high,,,,,2026-11-28T10:00:00+25:00\n\
         T-5,Fine,2026-11-28T09:00:00+14:00,true,high,,,,,\n"
    );
    let o = deadlines("t.csv", &csv, &[]);
    let mut rdr = csv::Reader::from_reader(o.quarantine.as_bytes());
    let rows: Vec<Vec<String>> = rdr
        .records()
        .map(|r| r.unwrap().iter().map(String::from).collect())
        .collect();
    let got: Vec<(&str, &str)> = rows
        .iter()
        .map(|r| (r[2].as_str(), r[3].as_str()))
        .collect();
    assert_eq!(
        got,
        [
            ("T-1", "aware_at"),
            ("T-2", "aware_at"),
            ("T-3", "aware_at")
        ]
    );
    assert!(rows[0][4].contains("offset +99:00"), "{}", rows[0][4]);
    assert!(rows[1][4].contains("1970 to 9999"), "{}", rows[1][4]);
    // A "done" time with a bad offset does not stop its clock: a problem on a kept row.
    assert_eq!(
        problem_fields(&o.json),
        [("T-4".to_string(), "ico_notified_at".to_string())]
    );
    assert!(o.problems.contains("offset +25:00"));
    assert!(clock(&o.json, "T-5", "uk-gdpr-art33").is_some());

    // --now is held to the same rule.
    let cfg = config();
    let run = regwatch(&[
        "--config",
        &cfg,
        "deadlines",
        "tests/fixtures/incidents.csv",
        "--now",
        "2026-11-28T12:00:00+25:00",
    ]);
    assert_eq!(run.code, 2);
    assert!(
        run.stderr.contains("--now") && run.stderr.contains("+25:00"),
        "{}",
        run.stderr
    );
    let run = regwatch(&[
        "--config",
        &cfg,
        "deadlines",
        "tests/fixtures/incidents.csv",
        "--now",
        "0000-11-28T12:00:00Z",
    ]);
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("--now"), "{}", run.stderr);
}

#[test]
fn a_duplicate_json_key_is_reported() {
    let jsonl = concat!(
        r#"{"id":"J-1","title":"t","aware_at":"2026-11-28T09:00:00Z","personal_data":true,"risk_to_individuals":"high","id":"J-2"}"#,
        "\n",
        r#"{"id":"J-3","title":"t","aware_at":"2026-11-28T09:00:00Z","personal_data":true,"ID":"J-4"}"#,
        "\n"
    );
    let o = deadlines("d.jsonl", jsonl, &[]);
    assert_eq!(o.run.code, 6, "{}", o.run.stderr);
    assert_eq!(
        problem_fields(&o.json),
        [
            ("J-2".to_string(), "id".to_string()),
            ("J-4".to_string(), "id".to_string())
        ]
    );
    assert!(
        o.problems
            .contains("appears 2 times in the object (\"\"J-1\"\", then \"\"J-2\"\")"),
        "{}",
        o.problems
    );
}

#[test]
fn an_unterminated_quote_does_not_eat_the_next_rows() {
    let csv = format!(
        "{HEAD}\n\
         Q-1,\"Stray quote,2026-11-28T09:00:00Z,true,high,,,,,\n\
         Q-2,Second,2026-11-28T09:00:00Z,true,high,,,,,\n\
         Q-3,Third,2026-11-28T09:00:00Z,true,high,,,,,\n"
    );
    let o = deadlines("q.csv", &csv, &[]);
    assert_eq!(o.json["inputs"][0]["read"], 3);
    assert_eq!(o.json["inputs"][0]["accepted"], 2);
    assert!(clock(&o.json, "Q-2", "uk-gdpr-art33").is_some());
    assert!(clock(&o.json, "Q-3", "uk-gdpr-art33").is_some());
    assert!(
        o.quarantine
            .contains("line 2,Q-1,title,has a quote that is never closed"),
        "{}",
        o.quarantine
    );
    assert!(o.quarantine.contains("lines 3 to 4 (the end of the file)"));
    assert_eq!(o.run.code, 6, "{}", o.run.stderr);

    // A legitimate value over several lines is still one value.
    let csv = "id,title,aware_at,personal_data,description\n\
         M-1,Multi,2026-11-28T09:00:00Z,true,\"first line\nsecond line\"\n\
         M-2,Next,2026-11-28T09:00:00Z,true,\n";
    let o = deadlines("m.csv", csv, &[]);
    assert_eq!(o.json["inputs"][0]["accepted"], 2, "{}", o.run.stderr);
    assert!(o.quarantine.is_empty());
}

#[test]
fn draft_file_names_are_unique_per_id() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("ids.csv");
    std::fs::write(
        &file,
        "id,title,aware_at,personal_data,risk_to_individuals\n\
         a/b,Slash,2026-11-28T09:00:00Z,true,high\n\
         a_b,Underscore,2026-11-28T09:00:00Z,true,high\n",
    )
    .unwrap();
    let out = dir.path().join("out");
    let cfg = config();
    let f = file.to_str().unwrap();
    let slash = draft("ico", Some(&cfg), f, "a/b", &out, &[]);
    assert_eq!(slash.code, 0, "{}", slash.stderr);
    assert!(
        slash.stdout.contains("note: incident id \"a/b\""),
        "{}",
        slash.stdout
    );
    let under = draft("ico", Some(&cfg), f, "a_b", &out, &[]);
    assert_eq!(under.code, 0, "{}", under.stderr);
    assert!(out.join("ico-a_b.md").exists());
    let mds: Vec<String> = std::fs::read_dir(&out)
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".md"))
        .collect();
    assert_eq!(mds.len(), 2, "{mds:?}");
    let other = mds.iter().find(|n| *n != "ico-a_b.md").unwrap();
    assert!(other.starts_with("ico-a_b-"), "{other}");
    assert!(std::fs::read_to_string(out.join(other))
        .unwrap()
        .contains("Slash"));
    assert!(std::fs::read_to_string(out.join("ico-a_b.md"))
        .unwrap()
        .contains("Underscore"));
}

#[test]
fn the_report_lists_rejected_rows_and_problems() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("r.csv");
    let csv = format!(
        "{HEAD}\n\
         P-1,Kept,2026-11-20T09:00:00Z,true,high,teleporter,,,,\n\
         P-2,Rejected,not a time,true,high,,,,,\n"
    );
    std::fs::write(&file, csv).unwrap();
    let out = dir.path().join("report");
    let cfg = config();
    let run = regwatch_in(
        dir.path(),
        &[
            "--config",
            &cfg,
            "report",
            file.to_str().unwrap(),
            "--month",
            "2026-11",
            "--now",
            NOW,
            "--out",
            out.to_str().unwrap(),
        ],
    );
    assert_eq!(run.code, 6, "{}", run.stderr);
    let md = std::fs::read_to_string(out.join("report.md")).unwrap();
    // Read 2, accepted 1, rejected 1, skipped 0, accepted with problems 1.
    assert!(md.contains("| incidents | 2 | 1 | 1 | 0 | 1 |"), "{md}");
    assert!(
        md.contains("| line 2 | P-1 | affected\\_services | kept |"),
        "{md}"
    );
    assert!(
        md.contains("| line 3 | P-2 | aware\\_at | rejected |"),
        "{md}"
    );
    let html = std::fs::read_to_string(out.join("report.html")).unwrap();
    assert!(html.contains("teleporter"));
    let pdf = pdftotext(&out.join("report.pdf"), &[]);
    let headers = ["Records read", "Rejected", "Accepted with problems"].map(String::from);
    assert!(
        pdf::has_header_row(&pdf::pages(&out.join("report.pdf")), &headers, 40.0),
        "{pdf}"
    );
    assert!(pdf.contains("teleporter"), "{pdf}");
}

/// A file saved by Excel or on Windows ends its lines with CR LF: a problem, a rejected
/// row and a stray quote name the same lines as in the same file with LF.
#[test]
fn crlf_files_name_the_same_lines_as_lf_files() {
    let rows = [
        HEAD,
        "C-1,First,2026-11-28T09:00:00Z,true,high,,,many,,",
        "C-2,Second,not a time,true,high,,,,,",
        "C-3,\"Stray quote,2026-11-28T09:00:00Z,true,high,,,,,",
        "C-4,Fourth,2026-11-28T09:00:00Z,true,high,,,,,",
    ];
    let locations = |o: &Outcome| -> Vec<String> {
        let mut v: Vec<String> = o
            .quarantine
            .lines()
            .chain(o.problems.lines())
            .skip_while(|l| l.starts_with("file,"))
            .filter(|l| !l.starts_with("file,"))
            .map(|l| {
                let mut cells: Vec<&str> = l.split(',').take(4).collect();
                cells[0] = cells[0].rsplit('/').next().unwrap_or(cells[0]);
                cells.join(",")
            })
            .collect();
        v.sort();
        v
    };
    let lf = deadlines("lf.csv", &(rows.join("\n") + "\n"), &[]);
    let crlf = deadlines("crlf.csv", &(rows.join("\r\n") + "\r\n"), &[]);
    let want = [
        "lf.csv,line 2,C-1,records",
        "lf.csv,line 3,C-2,aware_at",
        "lf.csv,line 4,C-3,title",
    ];
    assert_eq!(locations(&lf), want, "{}", lf.run.stderr);
    let crlf_want: Vec<String> = want.iter().map(|w| format!("cr{w}")).collect();
    assert_eq!(locations(&crlf), crlf_want, "{}", crlf.run.stderr);
    assert!(
        crlf.quarantine.contains("lines 5 to 5"),
        "{}",
        crlf.quarantine
    );
    assert_eq!(
        crlf.json["inputs"][0]["accepted"],
        lf.json["inputs"][0]["accepted"]
    );
}
