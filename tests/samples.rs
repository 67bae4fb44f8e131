//! The README's main command on the shipped samples: it must keep working, and its output
//! is pinned by golden files (reviewed by hand when they change).

mod common;
use common::*;

#[test]
fn readme_main_command_on_the_sample_month() {
    // The README runs: deadlines samples/incidents.csv --now 2026-11-28T12:00:00Z
    let run = regwatch(&["deadlines", "samples/incidents.csv", "--now", NOW]);
    assert_eq!(run.code, 1, "overdue samples give exit 1: {}", run.stderr);
    assert!(
        run.stderr
            .contains("samples/incidents.csv: read 25, accepted 25, rejected 0"),
        "{}",
        run.stderr
    );
    golden("samples-deadlines.txt", &run.stdout);
}

#[test]
fn sample_scenarios_come_out_as_described() {
    let run = regwatch(&[
        "deadlines",
        "samples/incidents.csv",
        "--now",
        NOW,
        "--format",
        "json",
        "--all",
    ]);
    let json: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    let rows = json["deadlines"].as_array().unwrap();
    let status = |id: &str, regime: &str, service: Option<&str>| -> String {
        rows.iter()
            .find(|r| {
                r["incident_id"] == id
                    && r["regime"] == regime
                    && service.is_none_or(|s| r["service"] == s)
            })
            .unwrap_or_else(|| panic!("{id} {regime}"))["status"]
            .as_str()
            .unwrap()
            .to_string()
    };
    let tol = "fca-sysc15a-impact-tolerance";
    // The coding agent that deleted production: 13 hours down, checkout tolerance 4 hours.
    assert_eq!(status("HP-2026-1101", tol, Some("checkout")), "met-late");
    // 120,000 orders erased: ICO told late, with reasons.
    assert_eq!(status("HP-2026-1104", "uk-gdpr-art33", None), "met-late");
    // 6.3 million orders wiped: the people affected were told in time.
    assert_eq!(status("HP-2026-1107", "uk-gdpr-art34", None), "met");
    // A breach with no personal data: UK GDPR does not apply.
    assert_eq!(
        status("HP-2026-1102", "uk-gdpr-art33", None),
        "not-applicable"
    );
    // Still open: the ICO clock is running.
    assert_eq!(status("HP-2026-1121", "uk-gdpr-art33", None), "due");
    // Never notified: overdue.
    assert_eq!(status("HP-2026-1115", "uk-gdpr-art33", None), "overdue");
    assert_eq!(json["summary"]["tolerance_breaches"], 3);
}

#[test]
fn sample_json_lines_are_all_accepted() {
    let run = regwatch(&["deadlines", "samples/incidents.jsonl", "--now", NOW]);
    assert!(
        run.stderr.contains("read 4, accepted 4, rejected 0"),
        "{}",
        run.stderr
    );
}

#[test]
fn readme_main_command_writes_the_report() {
    // The README's main command, with the report sent to a temp folder.
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("r");
    let run = regwatch(&[
        "report",
        "samples/incidents.csv",
        "--month",
        "2026-11",
        "--now",
        NOW,
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    for f in [
        "report.html",
        "report.md",
        "report.json",
        "report.pdf",
        "manifest.json",
    ] {
        assert!(
            run.stdout
                .contains(&format!("wrote {}", out.join(f).display())),
            "{}",
            run.stdout
        );
    }
}
