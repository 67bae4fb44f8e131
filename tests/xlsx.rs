//! `--format xlsx` for auditors: the register, the deadlines and the audit findings, read
//! back with openpyxl (tests/support/read_xlsx.py) as a spreadsheet would read them.

mod common;

use std::path::Path;
use std::process::Command;

use common::{config, python_support, regwatch, regwatch_in, root, NOW};
use serde_json::Value;

/// The workbook as openpyxl sees it.
fn read_xlsx(path: &Path) -> Value {
    let (ok, said) = python_support("read_xlsx.py", &[path.as_os_str()]);
    assert!(ok, "openpyxl could not read {}: {said}", path.display());
    serde_json::from_str(&said).unwrap()
}

/// Rows of a CSV output, header excluded.
fn csv_rows(text: &str) -> usize {
    csv::Reader::from_reader(text.as_bytes()).records().count()
}

fn header(sheet: &Value) -> Vec<String> {
    sheet["rows"][0]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["v"].as_str().unwrap_or("").to_string())
        .collect()
}

/// The cell of `row` (1 is the first after the header) under the header `name`.
fn cell<'a>(sheet: &'a Value, row: usize, name: &str) -> &'a Value {
    let col = header(sheet)
        .iter()
        .position(|h| h == name)
        .unwrap_or_else(|| panic!("no column {name} in {:?}", header(sheet)));
    &sheet["rows"][row][col]
}

/// What every sheet has: frozen header row, a filter over every row and column, widths.
fn assert_sheet_shape(sheet: &Value, rows: usize) {
    let name = &sheet["name"];
    assert_eq!(sheet["freeze_panes"], "A2", "{name}: header row frozen");
    let width = sheet["rows"][0].as_array().unwrap().len();
    let last_col = (b'A' + (width - 1) as u8) as char;
    assert_eq!(
        sheet["autofilter"],
        format!("A1:{last_col}{}", rows + 1),
        "{name}: filter over the header and every row"
    );
    assert_eq!(sheet["rows"].as_array().unwrap().len(), rows + 1, "{name}");
    assert!(
        !sheet["widths"].as_object().unwrap().is_empty(),
        "{name}: column widths set"
    );
}

#[test]
fn register_xlsx_has_typed_cells_and_neutralised_formulas() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("register.xlsx");
    let cfg = config();
    let input = root().join("tests/fixtures/hostile.csv");
    let args = |format: &str| {
        vec![
            "--config".to_string(),
            cfg.clone(),
            "register".into(),
            input.display().to_string(),
            "--now".into(),
            NOW.into(),
            "--format".into(),
            format.into(),
        ]
    };
    let mut xlsx = args("xlsx");
    xlsx.extend(["-o".into(), out.display().to_string()]);
    let run = regwatch_in(
        dir.path(),
        &xlsx.iter().map(String::as_str).collect::<Vec<_>>(),
    );
    assert_eq!(run.code, 0, "{run:?}");
    let csv = regwatch_in(
        dir.path(),
        &args("csv").iter().map(String::as_str).collect::<Vec<_>>(),
    );
    let book = read_xlsx(&out);
    let sheets = book["sheets"].as_array().unwrap();
    assert_eq!(sheets.len(), 1);
    let sheet = &sheets[0];
    assert_eq!(sheet["name"], "Breach register");
    assert_sheet_shape(sheet, csv_rows(&csv.stdout));
    assert_eq!(
        csv_rows(&csv.stdout),
        2,
        "X-1 and X-2 involve personal data"
    );
    let h = header(sheet);
    assert_eq!(
        h[..4],
        ["id", "title", "occurred_at (UTC)", "aware_at (UTC)"]
    );
    // A real date, in UTC, with a date format.
    let aware = cell(sheet, 1, "aware_at (UTC)");
    assert_eq!(aware["t"], "d", "{aware}");
    assert_eq!(aware["v"], "2026-11-20T09:00:00");
    assert_eq!(aware["fmt"], "yyyy-mm-dd hh:mm:ss");
    // Counts are numbers.
    let subjects = cell(sheet, 1, "data_subjects");
    assert_eq!((&subjects["t"], &subjects["v"]), (&"n".into(), &10.into()));
    // Formula-looking text stays text, neutralised as in the CSV.
    let facts = cell(sheet, 1, "facts");
    assert_eq!(facts["t"], "s");
    assert_eq!(facts["v"], "'=HYPERLINK(\"http://evil.example\",\"click\")");
    assert_eq!(cell(sheet, 1, "remedial_action")["v"], "'@SUM(A1)");
    assert_eq!(cell(sheet, 1, "detected_by")["v"], "'+44 attacker");
    // An absent value is a blank cell, not text.
    assert_eq!(cell(sheet, 2, "occurred_at (UTC)")["v"], Value::Null);
    // Written atomically: nothing else left in the folder.
    let names: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.starts_with(".regwatch-"))
        .collect();
    assert!(names.is_empty(), "temp files left: {names:?}");
}

#[test]
fn deadlines_xlsx_rows_equal_the_csv_rows() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("deadlines.xlsx");
    let cfg = config();
    let base = [
        "--config",
        &cfg,
        "deadlines",
        "tests/fixtures/incidents.csv",
        "--now",
        NOW,
        "--all",
        "--format",
    ];
    let out_s = out.display().to_string();
    let mut xlsx = base.to_vec();
    xlsx.extend(["xlsx", "-o", &out_s]);
    let run = regwatch(&xlsx);
    assert!(run.code == 0 || run.code == 1, "{run:?}");
    let mut csv = base.to_vec();
    csv.push("csv");
    let csv = regwatch(&csv);
    let rows = csv_rows(&csv.stdout);
    assert!(rows > 50, "{rows}");
    let book = read_xlsx(&out);
    let sheet = &book["sheets"][0];
    assert_eq!(sheet["name"], "Deadlines");
    assert_sheet_shape(sheet, rows);
    let h = header(sheet);
    for t in ["started_at (UTC)", "due_at (UTC)", "done_at (UTC)"] {
        assert!(h.contains(&t.to_string()), "{h:?}");
    }
    // The first row's deadline is a real date equal to the CSV's text.
    let first = csv::Reader::from_reader(csv.stdout.as_bytes())
        .records()
        .next()
        .unwrap()
        .unwrap();
    let due = cell(sheet, 1, "due_at (UTC)");
    assert_eq!(due["t"], "d");
    assert_eq!(
        format!("{}Z", due["v"].as_str().unwrap()),
        first[7].to_string()
    );
    assert_eq!(cell(sheet, 1, "incident_id")["v"], first[0].to_string());
}

#[test]
fn audit_xlsx_has_the_findings_and_the_coverage() {
    let dir = tempfile::tempdir().unwrap();
    // An AI agent's destructive production change with no approval, on a resource whose
    // name a spreadsheet would run as a formula.
    let log = dir.path().join("events.jsonl");
    std::fs::write(
        &log,
        r#"{"timestamp":"2026-11-10T10:00:00Z","actor":"opsbot","actor_type":"ai_agent","action":"DROP TABLE x","operation":"delete","resource":"=HYPERLINK(\"http://evil.example\")","environment":"prod","change_id":"CHG-X1","prompt_ref":"p","tool_call_ref":"t"}
"#,
    )
    .unwrap();
    let out = dir.path().join("audit.xlsx");
    let (log_s, out_s) = (log.display().to_string(), out.display().to_string());
    let run = regwatch_in(
        dir.path(),
        &["audit", &log_s, "--quiet", "--format", "xlsx", "-o", &out_s],
    );
    assert_eq!(run.code, 0, "{run:?}");
    let csv = regwatch_in(dir.path(), &["audit", &log_s, "--quiet", "--format", "csv"]);
    let rows = csv_rows(&csv.stdout);
    assert!(rows >= 1, "{}", csv.stdout);
    let book = read_xlsx(&out);
    let names: Vec<&str> = (book["sheets"].as_array().unwrap().iter())
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["Findings", "NIST AI RMF coverage"]);
    let findings = &book["sheets"][0];
    assert_sheet_shape(findings, rows);
    let row = (1..=rows)
        .find(|&r| cell(findings, r, "policy")["v"] == "destructive-prod-without-approval")
        .expect("the destructive change's finding");
    let first = cell(findings, row, "first_at (UTC)");
    assert_eq!(
        (&first["t"], &first["v"]),
        (&"d".into(), &"2026-11-10T10:00:00".into())
    );
    let resources = cell(findings, row, "resources");
    assert_eq!(resources["t"], "s");
    assert_eq!(resources["v"], "'=HYPERLINK(\"http://evil.example\")");
    assert_eq!(cell(findings, row, "event_count")["t"], "n");
    let coverage = &book["sheets"][1];
    assert_sheet_shape(coverage, 72);
    assert_eq!(cell(coverage, 1, "subcategory")["v"], "GOVERN 1.1");
    assert_eq!(cell(coverage, 1, "fail")["t"], "n");
}

/// A terminal gets no zip bytes: run under a pseudo-terminal (Python's pty), the command
/// refuses with exit status 2 and says to give -o.
#[test]
fn xlsx_is_refused_on_a_terminal() {
    let cfg = config();
    let script = format!(
        "import os, pty, sys\nstatus = pty.spawn([{:?}, '--config', {:?}, 'register', 'tests/fixtures/incidents.csv', '--format', 'xlsx'])\nsys.exit(os.waitstatus_to_exitcode(status))",
        env!("CARGO_BIN_EXE_regwatch"),
        cfg
    );
    let out = Command::new("python3")
        .args(["-c", &script])
        .current_dir(root())
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(2), "{text}");
    assert!(text.contains("give -o FILE.xlsx"), "{text}");
    assert!(!text.contains("PK\u{3}\u{4}"), "zip bytes on the terminal");
}
