//! `regwatch alerts` to Slack, Teams and signed webhooks, against a real HTTP server on
//! loopback (tests/support/http_sink.py, which checks Standard Webhooks signatures with
//! the reference library), and per-recipient delivery against the real SMTP server.

mod common;
use common::*;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use serde_json::{json, Value};

const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
const SLACK_ENV: &str = "REGWATCH_TEST_SLACK_URL";
const TEAMS_ENV: &str = "REGWATCH_TEST_TEAMS_URL";
const HOOK_ENV: &str = "REGWATCH_TEST_HOOK_URL";
const SECRET_ENV: &str = "REGWATCH_TEST_HOOK_SECRET";

/// One incident whose Art. 34 clock is overdue at `NOW`: one alert, for the DPO. Its
/// title holds what HTML, Slack and Markdown would each read as markup.
const INCIDENTS: &str = "id,title,aware_at,personal_data,risk_to_individuals,severity,cause,sectors,jurisdictions,affected_services,disruption_start,disruption_end,resolved_at,ico_notified_at,subjects_notified_at,register_recorded_at\n\
H-1,H&P <checkout> *down* _now_ [x](y),2026-11-25T10:00:00Z,true,high,major,attack,,uk,,,,,2026-11-26T16:00:00Z,,2026-11-26T17:00:00Z\n";

/// The real HTTP server, recording each request; killed when dropped.
struct HttpSink {
    child: Child,
    port: u16,
    log: PathBuf,
    script: PathBuf,
}

impl HttpSink {
    fn start(dir: &Path) -> HttpSink {
        let log = dir.join("requests.jsonl");
        let script = dir.join("script.json");
        std::fs::write(&script, "{}").unwrap();
        let mut child = Command::new("python3")
            .arg(root().join("tests/support/http_sink.py"))
            .args(["--log", log.to_str().unwrap()])
            .args(["--script", script.to_str().unwrap()])
            .args(["--secret", SECRET])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("python3 is needed for the channel tests");
        let mut first = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut first)
            .unwrap();
        let port = first.trim().parse().unwrap_or_else(|_| {
            let _ = child.kill();
            panic!(
                "HTTP sink did not start (pip install -r tests/requirements.txt); said {first:?}"
            )
        });
        HttpSink {
            child,
            port,
            log,
            script,
        }
    }

    /// What the server answers next, by path (see http_sink.py).
    fn script(&self, script: Value) {
        std::fs::write(&self.script, script.to_string()).unwrap();
    }

    /// Every request received so far, in order.
    fn requests(&self) -> Vec<Value> {
        match std::fs::read_to_string(&self.log) {
            Ok(text) => text
                .lines()
                .map(|l| serde_json::from_str(l).unwrap())
                .collect(),
            Err(_) => Vec::new(),
        }
    }

    fn on(&self, path: &str) -> Vec<Value> {
        self.requests()
            .into_iter()
            .filter(|r| r["path"] == path)
            .collect()
    }

    fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }
}

impl Drop for HttpSink {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A config in `dir`: mail to 127.0.0.1:`smtp_port`, the three channels, and `roles`.
fn write_config(dir: &Path, smtp_port: u16, roles: &str) -> PathBuf {
    let middle = format!(
        r#"
[organisation]
name = "H&P <Holdings>"

[alerts]
state = "state.json"
from = "regwatch <regwatch@test.example>"
http_timeout_seconds = 2
retry_wait_seconds = 3

[alerts.roles]
{roles}

[alerts.channels.slack]
kind = "slack"
url_env = "{SLACK_ENV}"

[alerts.channels.teams]
kind = "teams"
url_env = "{TEAMS_ENV}"

[alerts.channels.hook]
kind = "webhook"
url_env = "{HOOK_ENV}"
secret_env = "{SECRET_ENV}"

"#
    );
    write_alert_config(dir, smtp_port, &middle)
}

/// Runs regwatch in `dir` with the channels' variables pointing at `sink`.
fn run_with(dir: &Path, sink: Option<&HttpSink>, args: &[&str]) -> Run {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_regwatch"));
    cmd.args(args)
        .current_dir(dir)
        .env_remove("REGWATCH_CONFIG")
        .env_remove(SLACK_ENV)
        .env_remove(TEAMS_ENV)
        .env_remove(HOOK_ENV)
        .env_remove(SECRET_ENV)
        // The sink is on loopback: never through a proxy the machine may set.
        .env("NO_PROXY", "127.0.0.1,localhost");
    if let Some(s) = sink {
        cmd.env(SLACK_ENV, s.url("/slack"))
            .env(TEAMS_ENV, s.url("/teams"))
            .env(HOOK_ENV, s.url("/hook"))
            .env(SECRET_ENV, SECRET);
    }
    let out = cmd.output().expect("run regwatch");
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

fn alerts(dir: &Path, sink: Option<&HttpSink>, incidents: &Path, extra: &[&str]) -> Run {
    let cfg = dir.join("regwatch.toml");
    run_with(dir, sink, &alerts_args(&cfg, incidents, NOW, extra))
}

fn state(dir: &Path) -> Value {
    alert_state(dir)
}

fn incidents_file(dir: &Path) -> PathBuf {
    let p = dir.join("incidents.csv");
    std::fs::write(&p, INCIDENTS).unwrap();
    p
}

const KEY: &str = "H-1/uk-gdpr-art34/tell-subjects#overdue";

/// A folder with a config giving `roles`, the incident file, and both servers running.
struct Site {
    tmp: tempfile::TempDir,
    smtp: SmtpServer,
    sink: HttpSink,
    incidents: PathBuf,
}

fn site(roles: &str) -> Site {
    let tmp = tempfile::tempdir().unwrap();
    let smtp = SmtpServer::start(&tmp.path().join("mail"), None);
    let sink = HttpSink::start(tmp.path());
    write_config(tmp.path(), smtp.port, roles);
    let incidents = incidents_file(tmp.path());
    Site {
        tmp,
        smtp,
        sink,
        incidents,
    }
}

/// The raw mail with quoted-printable soft breaks joined and `=3D` decoded.
fn unfold(raw: &str) -> String {
    raw.replace("=\r\n", "").replace("=3D", "=")
}

#[test]
fn each_channel_and_address_gets_the_alert_once_in_its_own_format() {
    let Site {
        tmp,
        smtp,
        sink,
        incidents,
    } = site(
        r#"dpo = ["dpo@test.example", "channel:slack", "channel:teams", "channel:hook"]
default = ["compliance@test.example"]"#,
    );

    let run = alerts(tmp.path(), Some(&sink), &incidents, &[]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(sink.requests().len(), 3, "{:#?}", sink.requests());

    // Mail: plain text, nothing HTML-escaped, in the subject or the body.
    let msgs = smtp.messages();
    assert_eq!(msgs.len(), 1);
    let raw = unfold(&msgs[0].1);
    let s = subject(&msgs[0].1);
    assert!(s.contains("H-1 Tell the data subjects"), "{s}");
    assert!(raw.contains("H&P <checkout> *down* _now_ [x](y)"), "{raw}");
    assert!(
        raw.contains("Sent by regwatch for H&P <Holdings> at"),
        "{raw}"
    );
    assert!(!raw.contains("&amp;") && !raw.contains("&lt;"), "{raw}");

    // Slack: &, < and > escaped as Slack wants, and nothing else.
    let slack = &sink.on("/slack")[0]["json"];
    let text = slack["text"].as_str().unwrap();
    assert!(text.contains("OVERDUE: H-1"), "{text}");
    let body = slack["blocks"][1]["text"]["text"].as_str().unwrap();
    assert!(
        body.contains("H&amp;P &lt;checkout&gt; *down* _now_ [x](y)"),
        "{body}"
    );
    assert!(body.starts_with("```\n"), "{body}");
    assert!(body.contains("for H&amp;P &lt;Holdings&gt;"), "{body}");
    assert_eq!(slack["blocks"][0]["type"], "header");

    // Teams: an Adaptive Card whose Markdown is escaped; & and < are left alone.
    let teams = &sink.on("/teams")[0]["json"];
    let attachment = &teams["attachments"][0];
    assert_eq!(
        attachment["contentType"],
        "application/vnd.microsoft.card.adaptive"
    );
    assert_eq!(attachment["content"]["type"], "AdaptiveCard");
    let card_text: Vec<&str> = attachment["content"]["body"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["text"].as_str().unwrap())
        .collect();
    assert!(
        card_text
            .iter()
            .any(|t| t.contains(r"H&P <checkout> \*down\* \_now\_ \[x\](y)")),
        "{card_text:#?}"
    );

    // The generic webhook: signed (verified by the reference library), with the
    // message id the state records for it.
    let hook = &sink.on("/hook")[0];
    assert_eq!(hook["signature"], "valid", "{hook:#}");
    assert_eq!(hook["json"]["type"], "regwatch.alert.deadline");
    assert_eq!(hook["json"]["data"]["key"], KEY);
    assert!(hook["json"]["data"]["text"]
        .as_str()
        .unwrap()
        .contains("H&P <checkout>"));
    let st = state(tmp.path());
    assert_eq!(st["version"], 2);
    let rec = &st["alerts"][KEY];
    assert_eq!(rec["status"], "sent", "{st:#}");
    for d in [
        "mail:dpo@test.example",
        "channel:slack",
        "channel:teams",
        "channel:hook",
    ] {
        assert_eq!(rec["deliveries"][d]["status"], "sent", "{d}: {st:#}");
    }
    assert_eq!(
        hook["headers"]["webhook-id"],
        rec["deliveries"]["channel:hook"]["message_id"]
    );

    // Rerun: nothing goes anywhere again.
    let run = alerts(tmp.path(), Some(&sink), &incidents, &[]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(sink.requests().len(), 3);
    assert_eq!(smtp.messages().len(), 1);
}

#[test]
fn a_webhook_answering_429_is_retried_after_the_time_it_asks_with_the_same_id() {
    let Site {
        tmp,
        sink,
        incidents,
        ..
    } = site(r#"default = ["channel:hook"]"#);
    sink.script(json!({"/hook": [{"status": 429, "retry_after": "1"}]}));

    let run = alerts(tmp.path(), Some(&sink), &incidents, &[]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let reqs = sink.on("/hook");
    assert_eq!(reqs.len(), 2, "{reqs:#?}");
    assert_eq!(reqs[0]["answer"]["status"], 429);
    assert_eq!(reqs[1]["answer"]["status"], 200);
    assert_eq!(
        reqs[0]["headers"]["webhook-id"],
        reqs[1]["headers"]["webhook-id"]
    );
    assert!(reqs.iter().all(|r| r["signature"] == "valid"), "{reqs:#?}");
    let waited = reqs[1]["at"].as_f64().unwrap() - reqs[0]["at"].as_f64().unwrap();
    assert!(
        waited >= 1.0,
        "retried after {waited} s, before Retry-After: 1"
    );
    let st = state(tmp.path());
    assert_eq!(st["alerts"][KEY]["status"], "sent", "{st:#}");

    // The next run sends nothing.
    let run = alerts(tmp.path(), Some(&sink), &incidents, &[]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(sink.on("/hook").len(), 2);
}

#[test]
fn a_channel_failing_with_500_stays_pending_without_blocking_mail_and_goes_next_run() {
    let Site {
        tmp,
        smtp,
        sink,
        incidents,
    } = site(r#"default = ["channel:slack", "dpo@test.example"]"#);
    sink.script(json!({"/slack": [{"status": 500, "repeat": true}]}));

    let run = alerts(tmp.path(), Some(&sink), &incidents, &[]);
    assert_eq!(run.code, 3, "delivery failure exit status: {}", run.stderr);
    assert!(run.stderr.contains("stays pending"), "{}", run.stderr);
    assert!(run.stderr.contains("HTTP 500"), "{}", run.stderr);
    let tries = sink.on("/slack");
    assert!(tries.len() >= 2, "retried within the budget: {tries:#?}");
    assert_eq!(smtp.messages().len(), 1, "the mail went out regardless");
    let st = state(tmp.path());
    let rec = &st["alerts"][KEY];
    assert_eq!(rec["status"], "pending", "{st:#}");
    assert_eq!(rec["deliveries"]["channel:slack"]["status"], "pending");
    assert!(rec["deliveries"]["channel:slack"]["last_error"]
        .as_str()
        .unwrap()
        .contains("HTTP 500"));
    assert_eq!(rec["deliveries"]["mail:dpo@test.example"]["status"], "sent");

    // Slack recovers: the next run posts it once and does not mail again.
    sink.script(json!({}));
    let run = alerts(tmp.path(), Some(&sink), &incidents, &[]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let after = sink.on("/slack");
    assert_eq!(after.len(), tries.len() + 1);
    assert_eq!(after.last().unwrap()["answer"]["status"], 200);
    assert_eq!(smtp.messages().len(), 1);
    let st = state(tmp.path());
    assert_eq!(st["alerts"][KEY]["status"], "sent", "{st:#}");
    assert_eq!(
        st["alerts"][KEY]["deliveries"]["channel:slack"]["attempts"],
        2
    );
}

#[test]
fn a_webhook_that_hangs_times_out_and_is_sent_next_run_with_the_same_id() {
    let Site {
        tmp,
        sink,
        incidents,
        ..
    } = site(r#"default = ["channel:hook"]"#);
    // No waiting for retries: the timeout alone decides.
    let cfg = tmp.path().join("regwatch.toml");
    let text = std::fs::read_to_string(&cfg)
        .unwrap()
        .replace("retry_wait_seconds = 3", "retry_wait_seconds = 0");
    std::fs::write(&cfg, text).unwrap();
    sink.script(json!({"/hook": [{"hang": 30}]}));

    let run = alerts(tmp.path(), Some(&sink), &incidents, &[]);
    assert_eq!(run.code, 3, "{}", run.stderr);
    assert!(
        run.stderr.contains("no answer within 2 s"),
        "{}",
        run.stderr
    );
    let st = state(tmp.path());
    assert_eq!(
        st["alerts"][KEY]["deliveries"]["channel:hook"]["status"],
        "pending"
    );

    let run = alerts(tmp.path(), Some(&sink), &incidents, &[]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let reqs = sink.on("/hook");
    assert_eq!(reqs.len(), 2);
    assert_eq!(
        reqs[0]["headers"]["webhook-id"],
        reqs[1]["headers"]["webhook-id"]
    );
    assert_eq!(reqs[1]["signature"], "valid");
    assert_eq!(state(tmp.path())["alerts"][KEY]["status"], "sent");
}

#[test]
fn a_refused_recipient_stays_pending_and_does_not_block_the_others() {
    let tmp = tempfile::tempdir().unwrap();
    let mail = tmp.path().join("mail");
    let smtp = SmtpServer::start_refusing(&mail, None, &["cro@test.example"]);
    let port = smtp.port;
    write_config(
        tmp.path(),
        port,
        r#"resilience = ["opres@test.example", "cro@test.example"]
default = ["compliance@test.example"]"#,
    );
    let incidents = fixture("incidents.csv");

    // Three alerts for the resilience role and one for the DPO (default here).
    let run = alerts(tmp.path(), None, &incidents, &[]);
    assert_eq!(run.code, 3, "{}", run.stderr);
    assert!(run.stderr.contains("to cro@test.example"), "{}", run.stderr);
    let rcpts: Vec<String> = smtp.messages().into_iter().flat_map(|m| m.0).collect();
    assert_eq!(
        rcpts.iter().filter(|r| *r == "opres@test.example").count(),
        3
    );
    assert!(!rcpts.iter().any(|r| r == "cro@test.example"));
    let key = "F-6/eu-dora-major-ict/intermediate#overdue";
    let st = state(tmp.path());
    let rec = &st["alerts"][key];
    assert_eq!(rec["status"], "pending", "{st:#}");
    assert_eq!(
        rec["deliveries"]["mail:opres@test.example"]["status"],
        "sent"
    );
    let cro = &rec["deliveries"]["mail:cro@test.example"];
    assert_eq!(cro["status"], "pending");
    assert!(cro["last_error"].as_str().unwrap().contains("550"), "{cro}");

    // The mailbox exists now: the next run sends cro its three, and opres nothing more.
    drop(smtp);
    let smtp = SmtpServer::start(&mail, Some(port));
    let run = alerts(tmp.path(), None, &incidents, &[]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let msgs = smtp.messages();
    let to = |who: &str| msgs.iter().filter(|m| m.0 == [who]).count();
    assert_eq!(to("opres@test.example"), 3);
    assert_eq!(to("cro@test.example"), 3);
    let st = state(tmp.path());
    assert_eq!(st["alerts"][key]["status"], "sent", "{st:#}");
    let id = st["alerts"][key]["deliveries"]["mail:cro@test.example"]["message_id"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(msgs.iter().any(|(r, raw)| r == &["cro@test.example"]
        && raw.contains(&format!("Message-ID: <{id}@test.example>"))));
}

#[test]
fn a_version_1_state_is_read_and_an_unknown_version_refused() {
    let Site {
        tmp,
        smtp,
        incidents,
        ..
    } = site(r#"default = ["dpo@test.example"]"#);
    let v1 = json!({"version": 1, "alerts": {KEY: {
        "status": "sent", "sent_at": "2026-11-28T11:00:00Z",
        "recipients": ["dpo@test.example"], "subject": "s", "attempts": 1}}});
    std::fs::write(tmp.path().join("state.json"), v1.to_string()).unwrap();
    let run = alerts(tmp.path(), None, &incidents, &[]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(smtp.messages().len(), 0, "already sent under version 1");
    assert!(
        run.stderr.contains("1 already sent earlier"),
        "{}",
        run.stderr
    );

    let v9 = r#"{"version": 9, "alerts": {}}"#;
    std::fs::write(tmp.path().join("state.json"), v9).unwrap();
    let run = alerts(tmp.path(), None, &incidents, &[]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(
        run.stderr.contains("state.json has version 9"),
        "{}",
        run.stderr
    );
    assert_eq!(
        std::fs::read_to_string(tmp.path().join("state.json")).unwrap(),
        v9
    );
    assert_eq!(smtp.messages().len(), 0);
}

#[test]
fn check_names_the_missing_variable_and_an_unknown_channel() {
    let tmp = tempfile::tempdir().unwrap();
    let sink = HttpSink::start(tmp.path());
    write_config(
        tmp.path(),
        9,
        r#"dpo = ["channel:slack", "channel:typo"]
default = ["compliance@test.example"]"#,
    );
    let cfg = tmp.path().join("regwatch.toml");
    let check = |sink: Option<&HttpSink>| {
        run_with(
            tmp.path(),
            sink,
            &["--config", cfg.to_str().unwrap(), "check"],
        )
    };
    let run = check(None);
    assert_eq!(run.code, 2, "{}", run.stderr);
    for var in [SLACK_ENV, TEAMS_ENV, HOOK_ENV] {
        assert!(
            run.stderr
                .contains(&format!("environment variable {var} (url_env) is not set")),
            "{}",
            run.stderr
        );
    }
    assert!(
        run.stderr.contains("\"channel:typo\" names no channel"),
        "{}",
        run.stderr
    );

    // With the variables set only the unknown channel is left.
    let run = check(Some(&sink));
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(
        !run.stderr.contains("environment variable"),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("1 problem(s)"), "{}", run.stderr);

    // A sender that is not an address is named too.
    let text = std::fs::read_to_string(&cfg).unwrap().replace(
        "from = \"regwatch <regwatch@test.example>\"",
        "from = \"regwatch at test\"",
    );
    std::fs::write(&cfg, text).unwrap();
    let run = check(Some(&sink));
    assert!(
        run.stderr
            .contains("[alerts] from \"regwatch at test\" is not an address"),
        "{}",
        run.stderr
    );
}

#[test]
fn the_directory_transport_writes_what_would_be_posted() {
    let tmp = tempfile::tempdir().unwrap();
    write_config(
        tmp.path(),
        9,
        r#"default = ["dpo@test.example", "channel:teams"]"#,
    );
    let incidents = incidents_file(tmp.path());
    let out = tmp.path().join("outbox");
    let transport = format!("dir:{}", out.display());
    // No variables set: nothing is posted, so no URL is needed.
    let run = alerts(tmp.path(), None, &incidents, &["--transport", &transport]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let mut files: Vec<String> = std::fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    files.sort();
    assert_eq!(files.len(), 2, "{files:?}");
    let teams = files.iter().find(|f| f.ends_with(".teams.json")).unwrap();
    let posted: Value =
        serde_json::from_str(&std::fs::read_to_string(out.join(teams)).unwrap()).unwrap();
    assert_eq!(posted["channel"], "teams");
    assert_eq!(posted["body"]["type"], "message");
    let eml = files.iter().find(|f| f.ends_with(".eml")).unwrap();
    let raw = unfold(&std::fs::read_to_string(out.join(eml)).unwrap());
    assert!(raw.contains("H&P <checkout>"), "{raw}");
    assert!(!raw.contains("&amp;"), "{raw}");
}

#[test]
fn rows_that_cannot_be_evaluated_reach_a_channel_once() {
    let Site { tmp, sink, .. } = site(
        r#"dpo = ["channel:hook"]
default = ["channel:hook"]"#,
    );
    let incidents = tmp.path().join("bad.csv");
    std::fs::write(
        &incidents,
        "id,title,aware_at,personal_data,risk_to_individuals\nB-1,Bad time,yesterday,true,high\n",
    )
    .unwrap();
    for _ in 0..2 {
        let run = alerts(tmp.path(), Some(&sink), &incidents, &[]);
        assert_eq!(run.code, 6, "{}", run.stderr);
    }
    let reqs = sink.on("/hook");
    assert_eq!(reqs.len(), 1, "{reqs:#?}");
    assert_eq!(reqs[0]["signature"], "valid");
    let body = &reqs[0]["json"];
    assert_eq!(body["type"], "regwatch.alert.input-problems");
    assert_eq!(body["data"]["items"].as_array().unwrap().len(), 1);
    assert!(body["data"]["text"]
        .as_str()
        .unwrap()
        .contains("(incident B-1), field aware_at: rejected"));
}
