//! `regwatch deadlines` end to end: the real binary on fixture files.

mod common;
use common::*;

/// `deadlines` on the fixture incidents at [`NOW`], then `extra`.
fn deadline_args<'a>(extra: &[&'a str]) -> Vec<&'a str> {
    let mut args = vec![
        "--config",
        "tests/fixtures/regwatch.toml",
        "deadlines",
        "tests/fixtures/incidents.csv",
        "--now",
        NOW,
    ];
    args.extend_from_slice(extra);
    args
}

fn deadlines(extra: &[&str]) -> Run {
    regwatch(&deadline_args(extra))
}

/// Every status, most urgent first (the table's order).
const STATUSES: [&str; 7] = [
    "overdue",
    "due-soon",
    "due",
    "not-started",
    "met-late",
    "met",
    "not-applicable",
];

fn rows(json: &serde_json::Value) -> &Vec<serde_json::Value> {
    json["deadlines"].as_array().unwrap()
}

fn row<'a>(json: &'a serde_json::Value, incident: &str, regime: &str) -> &'a serde_json::Value {
    rows(json)
        .iter()
        .find(|r| r["incident_id"] == incident && r["regime"] == regime)
        .unwrap_or_else(|| panic!("no row for {incident} {regime}"))
}

#[test]
fn json_matches_golden_and_the_clock_maths() {
    let run = deadlines(&["--format", "json", "--all"]);
    assert_eq!(run.code, 1, "overdue clocks give exit 1: {}", run.stderr);
    golden("deadlines.json", &run.stdout);
    let json: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();

    // 72 hours across the October clock change: 24 Oct 09:30 BST + 72h = 27 Oct 08:30 GMT.
    let f4 = row(&json, "F-4", "uk-gdpr-art33");
    assert_eq!(f4["due_at"], "2026-10-27T08:30:00Z");
    assert_eq!(f4["due_at_local"], "2026-10-27T08:30:00+00:00");
    assert_eq!(f4["status"], "met");

    // Late notification without reasons is flagged.
    let f5 = row(&json, "F-5", "uk-gdpr-art33");
    assert_eq!(f5["status"], "met-late");
    assert!(f5["notes"][0]
        .as_str()
        .unwrap()
        .contains("delay_reason is empty"));

    // Art 34 internal target passed two hours ago.
    let f2 = row(&json, "F-2", "uk-gdpr-art34");
    assert_eq!(f2["status"], "overdue");
    assert_eq!(
        json["regimes"]["uk-gdpr-art34"]["clocks"]["tell-subjects"]["internal_target"],
        true
    );
    assert!(json["regimes"]["uk-gdpr-art33"]["citation"]
        .as_str()
        .unwrap()
        .contains("Art. 33(1)"));
    assert_eq!(f2["minutes_left"], -120);

    // Impact tolerance: 3 of 4 hours gone.
    let f3 = row(&json, "F-3", "fca-sysc15a-impact-tolerance");
    assert_eq!(f3["status"], "due-soon");
    assert_eq!(f3["service"], "checkout");
    assert_eq!(f3["threshold"], "75%");
    assert_eq!(f3["used_percent"], 75.0);

    // DORA: classified Friday 22:00, 4 hours lands on Saturday: Monday 12:00.
    let f6 = rows(&json)
        .iter()
        .find(|r| r["incident_id"] == "F-6" && r["clock"] == "initial")
        .unwrap();
    assert_eq!(f6["due_at"], "2026-11-16T12:00:00Z");
    assert_eq!(f6["status"], "met");

    // Not applicable, with the reason.
    let f7 = row(&json, "F-7", "uk-gdpr-art33");
    assert_eq!(f7["status"], "not-applicable");
    assert!(f7["reason"].as_str().unwrap().contains("unlikely"));

    // Sorted by urgency: every overdue row before any due-soon row, and so on.
    let order = STATUSES;
    let ranks: Vec<usize> = rows(&json)
        .iter()
        .map(|r| order.iter().position(|s| r["status"] == *s).unwrap())
        .collect();
    assert!(ranks.windows(2).all(|w| w[0] <= w[1]), "{ranks:?}");
    assert_eq!(json["summary"]["overdue"], 2);
    assert_eq!(json["inputs"][0]["read"], 8);
}

#[test]
fn table_matches_golden() {
    let run = deadlines(&[]);
    golden("deadlines.txt", &run.stdout);
    assert!(run.stdout.contains("2026-10-27 08:30 GMT (+00:00)"));
    assert!(run.stdout.contains("hidden (--all shows them"));
    assert!(run.stderr.contains("read 8, accepted 8, rejected 0"));
}

/// The table at a given `COLUMNS`, with every regime (so rows of every status).
fn table_at(columns: &str) -> Run {
    regwatch_env(&root(), &deadline_args(&["--all"]), &[("COLUMNS", columns)])
}

#[test]
fn the_table_fits_the_width_and_keeps_every_row_whole() {
    let json: serde_json::Value =
        serde_json::from_str(&deadlines(&["--format", "json", "--all"]).stdout).unwrap();
    // 80: status and time beside the rest; 250: six columns, the action wrapping.
    for columns in ["80", "100", "250"] {
        let run = table_at(columns);
        assert_eq!(run.code, 1, "{}", run.stderr);
        assert_fits(&run.stdout, columns.parse().unwrap());
        // One row per deadline, each starting with its status...
        let starts = run
            .stdout
            .lines()
            .filter(|l| STATUSES.contains(&l.split_whitespace().next().unwrap_or("")))
            .count();
        assert_eq!(starts, rows(&json).len(), "at {columns}:\n{}", run.stdout);
        // ... and nothing that names a deadline lost or cut.
        for r in rows(&json) {
            let id = r["incident_id"].as_str().unwrap();
            let clock = format!(
                "{}/{}",
                r["regime"].as_str().unwrap(),
                r["clock"].as_str().unwrap_or("-")
            );
            assert!(run.stdout.contains(id), "{id} at {columns}");
            if r["clock"].is_string() {
                assert!(run.stdout.contains(&clock), "{clock} at {columns}");
            }
        }
        assert!(!run.stdout.contains('…'), "nothing shortened at {columns}");
        assert!(!run.stdout.contains('\x1b'), "no colour into a pipe");
    }
    // The words of the summary line survive wrapping, in order.
    let narrow = table_at("80").stdout;
    let words = narrow.split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(
        words.contains("1 met late, 8 met; 0 tolerance breach(es); 1 late without reasons on file"),
        "{narrow}"
    );
}

#[test]
fn colour_on_a_terminal_unless_no_color_and_as_the_flag_says() {
    let args = deadline_args(&[]);
    let cols = ("COLUMNS", "100");
    // A terminal: overdue in red (SGR 31), met in green (32).
    let tty = regwatch_on_terminal(&args, &[cols]);
    assert_eq!(tty.code, 1, "{tty:?}");
    assert!(
        tty.stdout.contains("\x1b[38;5;9m") || tty.stdout.contains("\x1b[31m"),
        "{}",
        tty.stdout
    );
    assert_fits(&strip_ansi(&tty.stdout), 100);
    // NO_COLOR (any non-empty value), or --color never: not one escape.
    let quiet = regwatch_on_terminal(&args, &[cols, ("NO_COLOR", "1")]);
    assert!(!quiet.stdout.contains('\x1b'), "{}", quiet.stdout);
    assert_eq!(strip_ansi(&tty.stdout), quiet.stdout);
    let never = deadline_args(&["--color=never"]);
    assert!(!regwatch_on_terminal(&never, &[cols])
        .stdout
        .contains('\x1b'));
    // --color always: colour into a pipe, whatever NO_COLOR says (the flag is explicit).
    let always = deadline_args(&["--color=always"]);
    let piped = regwatch_env(&root(), &always, &[("NO_COLOR", "1")]);
    assert!(piped.stdout.contains('\x1b'), "{}", piped.stdout);
}

/// The text without ANSI colour sequences (ESC [ ... m).
fn strip_ansi(s: &str) -> String {
    let mut out = String::new();
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c == '\x1b' {
            for d in chars.by_ref() {
                if d == 'm' {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

#[test]
fn help_wraps_to_the_terminal() {
    let run = regwatch_env(&root(), &["audit", "--help"], &[("COLUMNS", "60")]);
    assert_eq!(run.code, 0, "{run:?}");
    assert_fits(&run.stdout, 60);
    assert!(run.stdout.contains("--fail-on"));
}

/// One breach the ICO must hear of within 72 hours of `aware_at`, evaluated at [`NOW`].
fn one_breach(dir: &std::path::Path, aware_at: &str) -> String {
    let path = dir.join(format!("breach-{}.csv", aware_at.replace(':', "")));
    std::fs::write(
        &path,
        format!("id,title,aware_at,personal_data,risk_to_individuals,jurisdictions\nB-1,Breach,{aware_at},true,risk,uk\n"),
    )
    .unwrap();
    path.display().to_string()
}

#[test]
fn fail_on_trips_as_audit_does() {
    let dir = tempfile::tempdir().unwrap();
    let at = |file: &str, gate: &[&str]| {
        let mut args = vec![
            "--config",
            "tests/fixtures/regwatch.toml",
            "deadlines",
            file,
        ];
        args.extend_from_slice(&["--now", NOW, "--format", "json"]);
        args.extend_from_slice(gate);
        let run = regwatch(&args);
        let json: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
        let art33 = rows(&json)
            .iter()
            .find(|r| r["regime"] == "uk-gdpr-art33")
            .map_or(serde_json::Value::Null, |r| r["status"].clone());
        (run.code, art33)
    };
    // 62 hours in: 10 hours left, past the "24h left" warning: due soon, none overdue.
    let soon = one_breach(dir.path(), "2026-11-25T22:00:00Z");
    assert_eq!(
        at(&soon, &[]),
        (0, "due-soon".into()),
        "overdue is the default gate"
    );
    assert_eq!(at(&soon, &["--fail-on", "overdue"]).0, 0);
    assert_eq!(at(&soon, &["--fail-on", "due-soon"]).0, 1);
    // Near miss: 40 hours in, 32 left, no warning yet.
    let early = one_breach(dir.path(), "2026-11-26T20:00:00Z");
    assert_eq!(at(&early, &["--fail-on", "due-soon"]), (0, "due".into()));
    // Overdue trips both gates; never trips neither.
    let late = one_breach(dir.path(), "2026-11-24T09:00:00Z");
    assert_eq!(at(&late, &["--fail-on", "due-soon"]), (1, "overdue".into()));
    assert_eq!(at(&late, &["--fail-on", "overdue"]).0, 1);
    assert_eq!(at(&late, &["--fail-on", "never"]).0, 0);
    // The gate reads every clock, not only those --only lists.
    assert_eq!(at(&late, &["--only", "met"]), (1, serde_json::Value::Null));
    // A usage error is 2, as for every command.
    assert_eq!(at_usage(&["deadlines", &late, "--fail-on", "soonish"]), 2);
}

fn at_usage(args: &[&str]) -> i32 {
    regwatch(args).code
}

#[test]
fn only_filters_statuses() {
    let run = deadlines(&["--format", "json", "--only", "overdue,due-soon"]);
    let json: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    let statuses: Vec<&str> = rows(&json)
        .iter()
        .map(|r| r["status"].as_str().unwrap())
        .collect();
    assert_eq!(statuses, ["overdue", "overdue", "due-soon", "due-soon"]);
}

#[test]
fn csv_output_neutralises_formulas() {
    let run = deadlines(&["--format", "csv", "--all"]);
    let mut rdr = csv::Reader::from_reader(run.stdout.as_bytes());
    let titles: Vec<String> = rdr.records().map(|r| r.unwrap()[1].to_string()).collect();
    assert!(titles
        .iter()
        .any(|t| t == "Breach unlikely to harm anyone, =cmd"));
    // The cell starting with '-' (none here) or '=' would be prefixed; check a made-up one.
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("formula.csv");
    std::fs::write(
        &f,
        "id,title,aware_at,personal_data\nX-1,=HYPERLINK(\"http://evil.example\"),2026-11-27T09:00:00Z,true\n",
    )
    .unwrap();
    let cfg = config();
    let run = regwatch(&[
        "--config",
        &cfg,
        "deadlines",
        f.to_str().unwrap(),
        "--now",
        NOW,
        "--format",
        "csv",
    ]);
    assert!(run.stdout.contains("'=HYPERLINK"), "{}", run.stdout);
    assert!(!run.stdout.contains(",=HYPERLINK"));
}

#[test]
fn ics_has_one_event_per_deadline() {
    let run = deadlines(&["--format", "ics"]);
    let events = run.stdout.matches("BEGIN:VEVENT").count();
    // 20 clocks, 4 of them not started (no deadline yet).
    assert_eq!(events, 16, "{}", run.stdout);
    assert!(run.stdout.contains("DTSTART:20261027T083000Z"));
    assert!(run
        .stdout
        .contains("UID:F-4/uk-gdpr-art33/notify-ico@regwatch"));
}

#[test]
fn all_clear_exits_zero_and_output_file_is_written() {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("ok.csv");
    std::fs::write(
        &f,
        "id,title,aware_at,personal_data,risk_to_individuals,ico_notified_at,register_recorded_at\nOK-1,Handled,2026-11-20T09:00:00Z,true,risk,2026-11-21T09:00:00Z,2026-11-21T10:00:00Z\n",
    )
    .unwrap();
    let out = dir.path().join("deadlines.json");
    let cfg = config();
    let run = regwatch(&[
        "--config",
        &cfg,
        "deadlines",
        f.to_str().unwrap(),
        "--now",
        NOW,
        "--format",
        "json",
        "-o",
        out.to_str().unwrap(),
    ]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&out).unwrap()).unwrap();
    assert_eq!(json["summary"]["met"], 2);
    // No temp files left beside the output.
    let leftovers: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().contains(".regwatch-"))
        .collect();
    assert!(leftovers.is_empty());
}

#[test]
fn json_array_and_json_lines_inputs() {
    let cfg = config();
    let dir = tempfile::tempdir().unwrap();
    let q = dir.path().join("q.csv");
    let run = regwatch(&[
        "--config",
        &cfg,
        "deadlines",
        "tests/fixtures/bad/array.json",
        "--now",
        NOW,
        "--format",
        "json",
        "--quarantine",
        q.to_str().unwrap(),
    ]);
    let json: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    // A-2's unreadable personal_data is a problem on a kept row (taken as true).
    assert_eq!(json["inputs"][0]["accepted"], 2);
    assert_eq!(json["inputs"][0]["rejected"], 1);
    assert!(rows(&json)
        .iter()
        .any(|r| r["incident_id"] == "A-1" && r["regime"] == "uk-gdpr-art33"));
}

#[test]
fn bad_now_and_missing_mappings_are_bad_input() {
    let cfg = config();
    let run = regwatch(&[
        "--config",
        &cfg,
        "deadlines",
        "tests/fixtures/incidents.csv",
        "--now",
        "2026-03-29 01:30",
    ]);
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("--now"), "{}", run.stderr);
    let run = regwatch(&[
        "--config",
        &cfg,
        "deadlines",
        "tests/fixtures/incidents.csv",
        "--mappings",
        "/nonexistent",
    ]);
    assert_eq!(run.code, 2);
    assert!(
        run.stderr.contains("/nonexistent/regimes.toml"),
        "{}",
        run.stderr
    );
}
