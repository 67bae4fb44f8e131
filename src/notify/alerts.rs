//! The cron job: e-mail what is due or overdue, exactly once per threshold.
//!
//! The state file records every alert sent (incident, regime, clock, threshold). A run
//! holds an exclusive lock beside it, so overlapping cron runs cannot double-send; state is
//! written atomically after every delivery, and an alert is marked sent only once the
//! transport has accepted it. An alert that fails stays unsent and goes out next run.

use std::collections::BTreeMap;
use std::fs::{File, OpenOptions, TryLockError};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use handlebars::Handlebars;
use lettre::message::header::ContentType;
use lettre::message::Mailbox;
use lettre::{Message, Transport as _};
use serde::{Deserialize, Serialize};

use crate::clock::{local_text, utc_text};
use crate::config::{AlertConfig, SmtpConfig, SmtpSecurity};
use crate::error::{bad_input, Busy};
use crate::incidents::ingest::IngestReport;
use crate::regimes::deadline::{crossed_thresholds, Deadline};
use crate::regimes::entity::Entities;
use crate::render::deadlines::DeadlineRow;
use crate::util::atomic::write_bytes_atomic;

/// Where alert e-mails go.
#[derive(Debug, Clone)]
pub enum Delivery {
    /// Real SMTP, as configured in `[smtp]`.
    Smtp(SmtpConfig),
    /// One `.eml` file per message in a folder (a pickup folder, or for trying it out).
    Directory(PathBuf),
    /// The whole message on standard output.
    Stdout,
}

/// What the state file says about one alert.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "kebab-case")]
pub enum AlertStatus {
    Sent,
    /// A later threshold was crossed before this one was sent; that alert covered it.
    Superseded,
    /// Tried and failed; will be tried again.
    Pending,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AlertRecord {
    pub status: AlertStatus,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sent_at: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub covered_by: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub recipients: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject: Option<String>,
    #[serde(default)]
    pub attempts: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
}

/// The record of alerts, keyed `incident/regime/clock[@service]#threshold`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct AlertState {
    pub version: u32,
    pub alerts: BTreeMap<String, AlertRecord>,
}

impl AlertState {
    pub fn load(path: &Path) -> Result<AlertState> {
        match std::fs::read(path) {
            Ok(bytes) => serde_json::from_slice(&bytes).map_err(|e| {
                // Never start afresh over a damaged state: that would resend everything.
                bad_input(format!(
                    "alert state {} is damaged ({e}); fix or move it aside, nothing was sent",
                    path.display()
                ))
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(AlertState {
                version: 1,
                ..AlertState::default()
            }),
            Err(e) => Err(e).with_context(|| format!("cannot read alert state {}", path.display())),
        }
    }

    pub fn save(&self, path: &Path) -> Result<()> {
        let bytes = serde_json::to_vec_pretty(self)?;
        write_bytes_atomic(path, &bytes)
            .with_context(|| format!("cannot save alert state {}", path.display()))
    }

    fn is_done(&self, key: &str) -> bool {
        self.alerts
            .get(key)
            .is_some_and(|r| matches!(r.status, AlertStatus::Sent | AlertStatus::Superseded))
    }
}

/// Holds the exclusive alert lock until dropped.
pub struct AlertLock {
    _file: File,
}

impl AlertLock {
    /// Takes `<state>.lock`, or fails at once with `Busy` if another run holds it.
    pub fn acquire(state: &Path) -> Result<AlertLock> {
        let mut name = state.as_os_str().to_owned();
        name.push(".lock");
        let path = PathBuf::from(name);
        if let Some(dir) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)
                .with_context(|| format!("cannot create {}", dir.display()))?;
        }
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .with_context(|| format!("cannot open lock {}", path.display()))?;
        match file.try_lock() {
            Ok(()) => Ok(AlertLock { _file: file }),
            Err(TryLockError::WouldBlock) => {
                Err(anyhow::Error::new(Busy(path.display().to_string())))
            }
            Err(TryLockError::Error(e)) => {
                Err(e).with_context(|| format!("cannot lock {}", path.display()))
            }
        }
    }
}

/// One e-mail to send for one threshold of one clock.
#[derive(Debug, Clone, Serialize)]
pub struct Alert {
    pub key: String,
    pub threshold: String,
    /// Earlier thresholds of the same clock this alert also covers.
    pub covers: Vec<String>,
    pub recipients: Vec<String>,
    pub subject: String,
    pub body: String,
    /// For the input-problems message: the state key of each row problem it reports
    /// (recorded one by one, so each is sent once).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub items: Vec<String>,
}

/// What a run did.
#[derive(Debug, Clone, Default, Serialize)]
pub struct AlertOutcome {
    /// Alerts due this run (sent or not).
    pub due: Vec<Alert>,
    pub sent: Vec<String>,
    pub failed: Vec<(String, String)>,
    /// Thresholds already alerted in an earlier run.
    pub already_sent: usize,
    /// Row problems in the inputs (rejected rows and fields not used), and how many of
    /// them this run reports for the first time.
    pub input_problems: usize,
    pub input_problems_new: usize,
}

#[derive(Serialize)]
struct TemplateData<'a> {
    #[serde(flatten)]
    row: DeadlineRow<'a>,
    regime_name: &'a str,
    clock_name: &'a str,
    authority: &'a str,
    citation: &'a str,
    internal_target: bool,
    rehearsal: bool,
    threshold: &'a str,
    due_local: String,
    due_utc: String,
    now_local: String,
    service_name: Option<&'a str>,
    alert_key: &'a str,
}

/// Loads the alert e-mail templates (`alert-subject.hbs`, `alert-body.hbs`,
/// `input-problems-*.hbs`) from the templates folder `dir`, else built in, file by file.
pub fn load_templates(dir: Option<&Path>) -> Result<Handlebars<'static>> {
    let mut hb = Handlebars::new();
    hb.set_strict_mode(true);
    // Plain-text mail: HTML escaping would print &amp; at the reader.
    hb.register_escape_fn(handlebars::no_escape);
    for name in [
        "alert-subject",
        "alert-body",
        "input-problems-subject",
        "input-problems-body",
    ] {
        let (text, origin) = crate::util::defaults::read_template(dir, &format!("{name}.hbs"))?;
        hb.register_template_string(name, text)
            .map_err(|e| bad_input(format!("template {}: {e}", origin.label())))?;
    }
    Ok(hb)
}

#[derive(Serialize)]
struct InputItem<'a> {
    file: &'a str,
    location: String,
    id: &'a str,
    field: &'a str,
    reason: &'a str,
    outcome: &'static str,
    key: String,
}

/// The state key of one row problem: file, row (its id, else its line), field and a
/// short hash of the reason, so a different problem in the same field is told again.
fn input_key(file: &str, location: &str, id: &str, field: &str, reason: &str) -> String {
    use sha2::{Digest, Sha256};
    let hash = Sha256::digest(reason.as_bytes());
    let short: String = hash[..4].iter().map(|b| format!("{b:02x}")).collect();
    let row = if id.is_empty() { location } else { id };
    format!("input:{file}:{row}:{field}#{short}")
}

/// One message for the DPO role (else `default`) listing every row problem not reported
/// before: rejected rows and fields of kept rows that could not be used.
pub fn plan_input_problems(
    inputs: &[IngestReport],
    state: &AlertState,
    cfg: &AlertConfig,
    templates: &Handlebars,
    now: DateTime<Utc>,
    tz: Tz,
) -> Result<(Option<Alert>, usize)> {
    let mut items = Vec::new();
    let mut total = 0;
    for report in inputs {
        let all = report.rejected.iter().map(|r| (r, "rejected")).chain(
            report
                .problems
                .iter()
                .map(|r| (r, "kept without this field")),
        );
        for (r, outcome) in all {
            total += 1;
            let location = r.location.to_string();
            let key = input_key(&r.file, &location, &r.id, &r.field, &r.reason);
            if state.is_done(&key) {
                continue;
            }
            items.push(InputItem {
                file: &r.file,
                location,
                id: &r.id,
                field: &r.field,
                reason: &r.reason,
                outcome,
                key,
            });
        }
    }
    if items.is_empty() {
        return Ok((None, total));
    }
    let recipients = cfg
        .roles
        .get("dpo")
        .or_else(|| cfg.roles.get("default"))
        .cloned()
        .unwrap_or_default();
    if recipients.is_empty() {
        return Err(bad_input(
            "no recipients for the input problems: set [alerts.roles] dpo = [\"...\"] or default",
        ));
    }
    let rejected = items.iter().filter(|i| i.outcome == "rejected").count();
    let data = serde_json::json!({
        "count": items.len(),
        "rejected": rejected,
        "kept": items.len() - rejected,
        "items": &items,
        "now_local": local_text(now, tz),
    });
    let (subject, body) = render_message(templates, "input-problems", &data)?;
    let alert = Alert {
        key: format!("input-problems@{}", utc_text(now)),
        threshold: "input-problems".into(),
        covers: Vec::new(),
        recipients,
        subject,
        body,
        items: items.into_iter().map(|i| i.key).collect(),
    };
    Ok((Some(alert), total))
}

/// Renders `{stem}-subject` and `{stem}-body`; the subject is made one line, whatever an
/// incident title or a file name in it contains.
fn render_message<T: Serialize>(
    templates: &Handlebars,
    stem: &str,
    data: &T,
) -> Result<(String, String)> {
    let render = |part: &str| {
        let name = format!("{stem}-{part}");
        templates
            .render(&name, data)
            .map_err(|e| bad_input(format!("template {name}: {e}")))
    };
    let subject = render("subject")?
        .trim()
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    Ok((subject, render("body")?))
}

/// Works out which alerts are due at `now` and not yet sent. A deadline's role is looked up
/// first in its entity's contacts (`[[entities]] contacts`), then in `[alerts.roles]`.
pub fn plan(
    deadlines: &[&Deadline],
    state: &AlertState,
    cfg: &AlertConfig,
    entities: Option<&Entities>,
    templates: &Handlebars,
    now: DateTime<Utc>,
    tz: Tz,
) -> Result<(Vec<Alert>, usize)> {
    let mut out = Vec::new();
    let mut already = 0;
    for d in deadlines {
        let crossed = crossed_thresholds(d, now);
        let Some((latest, _)) = crossed.last() else {
            continue;
        };
        let base = d.key();
        let key_of = |label: &str| format!("{base}#{label}");
        let latest_key = key_of(latest);
        if state.is_done(&latest_key) {
            already += 1;
            continue;
        }
        let covers: Vec<String> = crossed[..crossed.len() - 1]
            .iter()
            .map(|(l, _)| l.to_string())
            .filter(|l| !state.is_done(&key_of(l)))
            .collect();
        let contacts = entities.map(|e| &e.of(d.incident).entity.contacts);
        let role = &d.regime.notify;
        let recipients = contacts
            .and_then(|c| c.get(role))
            .or_else(|| cfg.roles.get(role))
            .or_else(|| contacts.and_then(|c| c.get("default")))
            .or_else(|| cfg.roles.get("default"))
            .cloned()
            .unwrap_or_default();
        if recipients.is_empty() {
            return Err(bad_input(format!(
                "no recipients for role {:?} (regime {}): set [alerts.roles] {} = [\"...\"] or default",
                d.regime.notify, d.regime.id, d.regime.notify
            )));
        }
        let due = d.due_at.unwrap_or(now);
        let data = TemplateData {
            row: DeadlineRow::new(d, now, tz),
            regime_name: &d.regime.name,
            clock_name: d.clock.map_or("", |c| c.name.as_str()),
            authority: &d.regime.authority,
            citation: crate::render::deadlines::citation(d),
            internal_target: d.clock.is_some_and(|c| c.internal_target),
            rehearsal: d.regime.rehearsal,
            threshold: latest,
            due_local: local_text(due, tz),
            due_utc: utc_text(due),
            now_local: local_text(now, tz),
            service_name: d.service.map(|s| s.name.as_str()),
            alert_key: &latest_key,
        };
        let (subject, body) = render_message(templates, "alert", &data)?;
        out.push(Alert {
            key: latest_key,
            threshold: latest.to_string(),
            covers,
            recipients,
            subject,
            body,
            items: Vec::new(),
        });
    }
    Ok((out, already))
}

fn build_message(alert: &Alert, from: &str) -> Result<Message> {
    let from: Mailbox = from
        .parse()
        .map_err(|e| bad_input(format!("alerts.from {from:?} is not an address: {e}")))?;
    let mut b = Message::builder().from(from).subject(alert.subject.clone());
    for r in &alert.recipients {
        let to: Mailbox = r
            .parse()
            .map_err(|e| bad_input(format!("recipient {r:?} is not an address: {e}")))?;
        b = b.to(to);
    }
    b.header(ContentType::TEXT_PLAIN)
        .body(alert.body.clone())
        .context("cannot build the alert message")
}

/// Something that delivers messages.
enum Sender {
    Smtp(lettre::SmtpTransport),
    File(lettre::FileTransport),
    Stdout,
}

impl Sender {
    fn new(d: &Delivery) -> Result<Sender> {
        Ok(match d {
            Delivery::Smtp(cfg) => Sender::Smtp(smtp_transport(cfg)?),
            Delivery::Directory(dir) => {
                std::fs::create_dir_all(dir)
                    .with_context(|| format!("cannot create {}", dir.display()))?;
                Sender::File(lettre::FileTransport::new(dir))
            }
            Delivery::Stdout => Sender::Stdout,
        })
    }

    fn send(&self, msg: &Message) -> Result<()> {
        match self {
            Sender::Smtp(t) => {
                t.send(msg).map_err(|e| anyhow::anyhow!("SMTP: {e}"))?;
            }
            Sender::File(t) => {
                t.send(msg)
                    .map_err(|e| anyhow::anyhow!("file delivery: {e}"))?;
            }
            Sender::Stdout => {
                use std::io::Write;
                let mut out = std::io::stdout().lock();
                out.write_all(&msg.formatted())?;
                out.write_all(b"\n")?;
                out.flush()?;
            }
        }
        Ok(())
    }
}

/// Builds the SMTP transport; credentials come from the environment variables named in
/// the config, and are used only if both are set.
pub fn smtp_transport(cfg: &SmtpConfig) -> Result<lettre::SmtpTransport> {
    use lettre::transport::smtp::authentication::Credentials;
    let mut b = match cfg.security {
        SmtpSecurity::None => lettre::SmtpTransport::builder_dangerous(&cfg.host),
        SmtpSecurity::Starttls => lettre::SmtpTransport::starttls_relay(&cfg.host)
            .with_context(|| format!("SMTP host {:?}", cfg.host))?,
        SmtpSecurity::Tls => lettre::SmtpTransport::relay(&cfg.host)
            .with_context(|| format!("SMTP host {:?}", cfg.host))?,
    };
    if let Some(port) = cfg.port {
        b = b.port(port);
    }
    b = b.timeout(Some(std::time::Duration::from_secs(cfg.timeout_seconds)));
    if let (Ok(user), Ok(pass)) = (
        std::env::var(&cfg.username_env),
        std::env::var(&cfg.password_env),
    ) {
        b = b.credentials(Credentials::new(user, pass));
    }
    Ok(b.build())
}

/// Options for one alerts run.
pub struct AlertRun<'a> {
    pub state_path: &'a Path,
    pub config: &'a AlertConfig,
    pub templates: &'a Handlebars<'static>,
    pub delivery: &'a Delivery,
    pub dry_run: bool,
    pub now: DateTime<Utc>,
    pub tz: Tz,
    /// What reading the incident files came to: each rejected row and each problem in a
    /// kept row is itself an alert, for the DPO.
    pub inputs: &'a [IngestReport],
    /// The reporting entities, whose contacts come before `[alerts.roles]`.
    pub entities: Option<&'a Entities>,
}

/// Sends what is due. In a dry run nothing is sent and the state is not touched.
pub fn run(deadlines: &[&Deadline], opts: &AlertRun) -> Result<AlertOutcome> {
    let _lock = if opts.dry_run {
        None
    } else {
        Some(AlertLock::acquire(opts.state_path)?)
    };
    let mut state = AlertState::load(opts.state_path)?;
    let (mut due, already_sent) = plan(
        deadlines,
        &state,
        opts.config,
        opts.entities,
        opts.templates,
        opts.now,
        opts.tz,
    )?;
    let (input_alert, input_problems) = plan_input_problems(
        opts.inputs,
        &state,
        opts.config,
        opts.templates,
        opts.now,
        opts.tz,
    )?;
    let input_problems_new = input_alert.as_ref().map_or(0, |a| a.items.len());
    // First: a row that could not be evaluated may hide a clock more urgent than any.
    if let Some(a) = input_alert {
        due.insert(0, a);
    }
    let mut outcome = AlertOutcome {
        due: due.clone(),
        already_sent,
        input_problems,
        input_problems_new,
        ..AlertOutcome::default()
    };
    if opts.dry_run || due.is_empty() {
        return Ok(outcome);
    }
    let messages = due
        .iter()
        .map(|a| build_message(a, &opts.config.from))
        .collect::<Result<Vec<_>>>()?;
    let sender = match Sender::new(opts.delivery) {
        Ok(s) => s,
        Err(e) => {
            let msg = format!("{e:#}");
            for a in &due {
                record_failure(&mut state, a, &msg);
                outcome.failed.push((a.key.clone(), msg.clone()));
            }
            state.save(opts.state_path)?;
            return Ok(outcome);
        }
    };
    for (alert, msg) in due.iter().zip(&messages) {
        match sender.send(msg) {
            Ok(()) => {
                let sent_at = utc_text(Utc::now());
                for key in record_keys(alert) {
                    let prev = state.alerts.get(key).map_or(0, |r| r.attempts);
                    state.alerts.insert(
                        key.clone(),
                        AlertRecord {
                            status: AlertStatus::Sent,
                            sent_at: Some(sent_at.clone()),
                            covered_by: None,
                            recipients: alert.recipients.clone(),
                            subject: Some(alert.subject.clone()),
                            attempts: prev + 1,
                            last_error: None,
                        },
                    );
                }
                let base = alert.key.rsplit_once('#').map_or("", |(b, _)| b);
                for c in &alert.covers {
                    state.alerts.insert(
                        format!("{base}#{c}"),
                        AlertRecord {
                            status: AlertStatus::Superseded,
                            sent_at: None,
                            covered_by: Some(alert.key.clone()),
                            recipients: Vec::new(),
                            subject: None,
                            attempts: 0,
                            last_error: None,
                        },
                    );
                }
                outcome.sent.push(alert.key.clone());
            }
            Err(e) => {
                let msg = format!("{e:#}");
                record_failure(&mut state, alert, &msg);
                outcome.failed.push((alert.key.clone(), msg));
            }
        }
        // Saved after every message: a crash later in the run cannot lose what was sent.
        state.save(opts.state_path)?;
    }
    Ok(outcome)
}

/// Sends one message now (a draft for review), failing with `DeliveryFailed`.
pub fn send_one(delivery: &Delivery, msg: &Message) -> Result<()> {
    Sender::new(delivery)
        .and_then(|s| s.send(msg))
        .map_err(|e| {
            anyhow::Error::new(crate::error::DeliveryFailed {
                failed: 1,
                first_error: format!("{e:#}"),
            })
        })
}

/// The state keys an alert is recorded under: its own, or for the input-problems message
/// one per row problem it reports.
fn record_keys(alert: &Alert) -> &[String] {
    if alert.items.is_empty() {
        std::slice::from_ref(&alert.key)
    } else {
        &alert.items
    }
}

fn record_failure(state: &mut AlertState, alert: &Alert, err: &str) {
    for key in record_keys(alert) {
        let rec = state
            .alerts
            .entry(key.clone())
            .or_insert_with(|| AlertRecord {
                status: AlertStatus::Pending,
                sent_at: None,
                covered_by: None,
                recipients: alert.recipients.clone(),
                subject: Some(alert.subject.clone()),
                attempts: 0,
                last_error: None,
            });
        rec.attempts += 1;
        rec.last_error = Some(err.to_string());
    }
}
