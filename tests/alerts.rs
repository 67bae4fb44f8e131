//! `regwatch alerts` against a real SMTP server on loopback (aiosmtpd).

mod common;
use common::*;

use std::path::{Path, PathBuf};

/// A config in `dir` that sends to 127.0.0.1:`port` and keeps its state in `dir`.
fn write_config(dir: &Path, port: u16) -> PathBuf {
    let middle = r#"
[alerts]
state = "state.json"
from = "regwatch <regwatch@test.example>"

[alerts.roles]
dpo = ["dpo@test.example"]
resilience = ["opres@test.example", "cro@test.example"]
default = ["compliance@test.example"]
"#;
    write_alert_config(dir, port, middle)
}

fn alerts(cfg: &Path, now: &str, extra: &[&str]) -> Run {
    let incidents = fixture("incidents.csv");
    regwatch_in(
        cfg.parent().unwrap(),
        &alerts_args(cfg, &incidents, now, extra),
    )
}

fn state(dir: &Path) -> serde_json::Value {
    alert_state(dir)
}

#[test]
fn sends_once_per_threshold_and_keeps_alerts_when_the_server_is_down() {
    let tmp = tempfile::tempdir().unwrap();
    let server = SmtpServer::start(&tmp.path().join("mail"), None);
    let port = server.port;
    let cfg = write_config(tmp.path(), port);

    // First run: four clocks have crossed a threshold at 12:00; one message per
    // recipient (the resilience role has two): seven.
    let run = alerts(&cfg, NOW, &[]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let msgs = server.messages();
    assert_eq!(msgs.len(), 7, "{:#?}", msgs);
    let subjects: Vec<String> = msgs.iter().map(|(_, raw)| subject(raw)).collect();
    let find = |needle: &str| {
        msgs.iter()
            .zip(&subjects)
            .find(|(_, s)| s.contains(needle))
            .unwrap_or_else(|| panic!("no subject with {needle:?} in {subjects:#?}"))
    };
    let ((rcpts, raw), s) = find("F-2");
    assert!(
        s.starts_with("[regwatch] OVERDUE: F-2 Tell the data subjects"),
        "{s}"
    );
    assert_eq!(rcpts, &["dpo@test.example"]);
    assert!(raw.contains("internal target"));
    let ((_, raw), s) = find("F-6");
    assert!(
        s.contains("OVERDUE") && s.contains("DORA intermediate report"),
        "{s}"
    );
    // Each of the role's two addresses gets its own copy (its own envelope); the To:
    // header names both.
    assert!(
        raw.contains("To: opres@test.example, cro@test.example"),
        "{raw}"
    );
    let mut f6: Vec<Vec<String>> = msgs
        .iter()
        .filter(|(_, raw)| subject(raw).contains("F-6"))
        .map(|(r, _)| r.clone())
        .collect();
    f6.sort();
    assert_eq!(f6, [["cro@test.example"], ["opres@test.example"]]);
    let ((_, raw), s) = find("(checkout)");
    assert!(s.starts_with("[regwatch] 1h 00m left: F-3"), "{s}");
    assert!(raw.contains("Online checkout"));
    find("Initial report to the FCA/PRA");

    // Rerun: nothing new.
    let run = alerts(&cfg, NOW, &[]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(run.stderr.contains("0 due, 0 sent"), "{}", run.stderr);
    assert_eq!(server.messages().len(), 7);

    // 13:30: the checkout outage has breached its tolerance. The server is down.
    server.stop();
    let later = "2026-11-28T13:30:00Z";
    let run = alerts(&cfg, later, &[]);
    assert_eq!(run.code, 3, "delivery failure exit code: {}", run.stderr);
    assert!(run.stderr.contains("stays pending"), "{}", run.stderr);
    let key = "F-3/fca-sysc15a-impact-tolerance/tolerance@checkout#overdue";
    let st = state(tmp.path());
    assert_eq!(st["alerts"][key]["status"], "pending", "{st:#}");
    let opres = &st["alerts"][key]["deliveries"]["mail:opres@test.example"];
    assert_eq!(opres["status"], "pending", "{st:#}");
    assert!(opres["last_error"].as_str().unwrap().contains("SMTP"));

    // Server back (same port): the pending alerts go out, exactly once: the tolerance
    // breach, and Principle 11's "immediately" (the firm's 4-hour target) now overdue.
    let server = SmtpServer::start(&tmp.path().join("mail"), Some(port));
    let run = alerts(&cfg, later, &[]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let msgs = server.messages();
    assert_eq!(
        msgs.len(),
        11,
        "{:#?}",
        msgs.iter().map(|m| subject(&m.1)).collect::<Vec<_>>()
    );
    let overdue: Vec<_> = msgs
        .iter()
        .filter(|(_, raw)| subject(raw).contains("OVERDUE: F-3"))
        .collect();
    assert_eq!(overdue.len(), 4);
    assert!(overdue
        .iter()
        .any(|(_, raw)| subject(raw).contains("Tell the FCA (immediately)")));
    let st = state(tmp.path());
    assert_eq!(st["alerts"][key]["status"], "sent");
    let opres = &st["alerts"][key]["deliveries"]["mail:opres@test.example"];
    assert_eq!(opres["attempts"], 2);
    // The Message-ID the server received is the one recorded, the same on both tries.
    let id = opres["message_id"].as_str().unwrap();
    assert!(
        overdue
            .iter()
            .any(|(_, raw)| raw.contains(&format!("Message-ID: <{id}@test.example>"))),
        "{id}"
    );
    // The earlier 50% threshold was covered by the 75% alert, never sent on its own.
    let k50 = "F-3/fca-sysc15a-impact-tolerance/tolerance@checkout#50%";
    assert_eq!(st["alerts"][k50]["status"], "superseded");

    let run = alerts(&cfg, later, &[]);
    assert_eq!(run.code, 0);
    assert_eq!(server.messages().len(), 11);
}

#[test]
fn dry_run_sends_nothing_and_writes_no_state() {
    let tmp = tempfile::tempdir().unwrap();
    let server = SmtpServer::start(&tmp.path().join("mail"), None);
    let cfg = write_config(tmp.path(), server.port);
    let run = alerts(&cfg, NOW, &["--dry-run"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        run.stdout.contains("4 alert(s) would be sent"),
        "{}",
        run.stdout
    );
    assert!(run.stdout.contains("To: dpo@test.example"));
    assert!(!tmp.path().join("state.json").exists());
    assert_eq!(server.messages().len(), 0);
}

#[test]
fn a_second_run_holding_no_lock_sends_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let server = SmtpServer::start(&tmp.path().join("mail"), None);
    let cfg = write_config(tmp.path(), server.port);
    let lock = std::fs::File::create(tmp.path().join("state.json.lock")).unwrap();
    lock.lock().unwrap();
    let run = alerts(&cfg, NOW, &[]);
    assert_eq!(run.code, 4, "{}", run.stderr);
    assert!(run.stderr.contains("holds the lock"), "{}", run.stderr);
    assert_eq!(server.messages().len(), 0);
    drop(lock);
    let run = alerts(&cfg, NOW, &[]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(server.messages().len(), 7);
}

#[test]
fn directory_transport_writes_eml_files() {
    let tmp = tempfile::tempdir().unwrap();
    let cfg = write_config(tmp.path(), 9);
    let out = tmp.path().join("outbox");
    let transport = format!("dir:{}", out.display());
    let run = alerts(&cfg, NOW, &["--transport", &transport]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let emls: Vec<_> = std::fs::read_dir(&out)
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.path().extension().is_some_and(|x| x == "eml"))
        .collect();
    assert_eq!(emls.len(), 7);
}

#[test]
fn damaged_state_is_never_overwritten() {
    let tmp = tempfile::tempdir().unwrap();
    let server = SmtpServer::start(&tmp.path().join("mail"), None);
    let cfg = write_config(tmp.path(), server.port);
    std::fs::write(tmp.path().join("state.json"), "{not json").unwrap();
    let run = alerts(&cfg, NOW, &[]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(run.stderr.contains("damaged"), "{}", run.stderr);
    assert_eq!(
        std::fs::read_to_string(tmp.path().join("state.json")).unwrap(),
        "{not json"
    );
    assert_eq!(server.messages().len(), 0);
}

#[test]
fn rows_that_cannot_be_evaluated_go_to_the_dpo_once() {
    let tmp = tempfile::tempdir().unwrap();
    let server = SmtpServer::start(&tmp.path().join("mail"), None);
    let cfg = write_config(tmp.path(), server.port);
    let incidents = tmp.path().join("incidents.csv");
    std::fs::write(
        &incidents,
        "id,title,aware_at,personal_data,risk_to_individuals,affected_services\n\
         G-1,Good,2026-11-28T11:00:00Z,false,,\n\
         B-1,Bad time,yesterday,true,high,\n\
         S-1,Unknown service,2026-11-28T11:00:00Z,false,,teleporter\n",
    )
    .unwrap();
    let run_alerts = || {
        regwatch_in(
            tmp.path(),
            &[
                "--config",
                cfg.to_str().unwrap(),
                "alerts",
                incidents.to_str().unwrap(),
                "--now",
                NOW,
            ],
        )
    };
    let run = run_alerts();
    assert_eq!(run.code, 6, "{}", run.stderr);
    let msgs = server.messages();
    assert_eq!(msgs.len(), 1, "{:#?}", msgs);
    let (rcpts, raw) = &msgs[0];
    assert_eq!(rcpts, &["dpo@test.example"]);
    let s = subject(raw);
    // The body is quoted-printable: join its soft line breaks.
    let raw = raw.replace("=\r\n", "").replace("=\n", "");
    assert!(s.contains("INPUT PROBLEMS: 2 row problem(s)"), "{s}");
    assert!(
        raw.contains("line 3 (incident B-1), field aware_at: rejected"),
        "{raw}"
    );
    assert!(
        raw.contains("line 4 (incident S-1), field affected_services"),
        "{raw}"
    );
    let st = state(tmp.path());
    let keys: Vec<&String> = st["alerts"]
        .as_object()
        .unwrap()
        .keys()
        .filter(|k| k.starts_with("input:"))
        .collect();
    assert_eq!(keys.len(), 2, "{st:#}");
    assert!(keys
        .iter()
        .all(|k| st["alerts"][k.as_str()]["status"] == "sent"));

    // Rerun: nothing resent, and the exit status still says the input has problems.
    let run = run_alerts();
    assert_eq!(run.code, 6, "{}", run.stderr);
    assert_eq!(server.messages().len(), 1);
    assert!(
        run.stderr
            .contains("0 reported to the DPO for the first time"),
        "{}",
        run.stderr
    );
}

#[test]
fn an_entitys_contacts_come_before_the_configs_roles() {
    let tmp = tempfile::tempdir().unwrap();
    let cfg = write_config(tmp.path(), 2525);
    let mut text = std::fs::read_to_string(&cfg).unwrap();
    text.push_str(
        "\n[[entities]]\nid = \"uk\"\ncountry = \"GB\"\n[entities.contacts]\ndpo = [\"entity-dpo@test.example\"]\n",
    );
    std::fs::write(&cfg, text).unwrap();
    let run = alerts(&cfg, NOW, &["--dry-run"]);
    assert!(run.code == 0 || run.code == 6, "{}", run.stderr);
    // The DPO's alerts go to the entity's DPO; other roles still come from [alerts.roles].
    assert!(
        run.stdout.contains("To: entity-dpo@test.example"),
        "{}",
        run.stdout
    );
    assert!(
        !run.stdout.contains("To: dpo@test.example\n"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains("To: opres@test.example"),
        "{}",
        run.stdout
    );
}
