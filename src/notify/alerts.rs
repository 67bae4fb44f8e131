//! The cron job: tell the right people what is due or overdue, exactly once per threshold
//! and per destination (each address, each channel).
//!
//! The state file (`state`) records every alert and each destination it was delivered to.
//! A run holds an exclusive lock beside it, so overlapping cron runs cannot double-send;
//! state is written atomically after every delivery, and a delivery is marked sent only
//! once the server has accepted it. A destination that failed stays pending and is tried
//! again next run, while the others are not sent the alert twice.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::Result;
use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use handlebars::Handlebars;
use serde::Serialize;

use super::channel::{destination, Outbox};
pub use super::email::{send_one, smtp_transport};
pub use super::message::{Alert, Delivery, Destination};
pub use super::state::{AlertLock, AlertState};
use super::state::{AlertRecord, AlertStatus, DeliveryRecord, DeliveryStatus};
use crate::clock::{local_text, utc_text};
use crate::config::AlertConfig;
use crate::error::bad_input;
use crate::incidents::ingest::IngestReport;
use crate::regimes::deadline::{crossed_thresholds, Deadline};
use crate::regimes::entity::Entities;
use crate::render::deadlines::DeadlineRow;

/// One copy of an alert: the alert's key and where it went (or did not).
#[derive(Debug, Clone, Serialize)]
pub struct AlertCopy {
    pub key: String,
    pub destination: Destination,
    /// Why it was not delivered (it stays pending).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// What a run did.
#[derive(Debug, Clone, Default, Serialize)]
pub struct AlertOutcome {
    /// Alerts due this run (sent or not).
    pub due: Vec<Alert>,
    /// Copies delivered, and those that failed and stay pending.
    pub sent: Vec<AlertCopy>,
    pub failed: Vec<AlertCopy>,
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
    organisation: &'a str,
}

/// Loads the alert e-mail templates (`alert-subject.hbs`, `alert-body.hbs`,
/// `input-problems-*.hbs`) from the templates folder `dir`, else built in, file by file.
pub fn load_templates(dir: Option<&Path>) -> Result<Handlebars<'static>> {
    let mut hb = Handlebars::new();
    hb.set_strict_mode(true);
    // Plain text (mail, and the chat messages, which escape for their own format): HTML
    // escaping would print &amp; at the reader.
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

/// The destinations of a role's entries, each once, in order; an unknown channel or a
/// malformed address is an error naming it.
fn destinations(entries: &[String], cfg: &AlertConfig) -> Result<Vec<Destination>> {
    let mut out: Vec<Destination> = Vec::new();
    for e in entries {
        let d = destination(e, cfg)?;
        if !out.contains(&d) {
            out.push(d);
        }
    }
    Ok(out)
}

/// Messages for the DPO role (else `default`) listing the row problems not yet reported
/// to them: rejected rows and fields of kept rows that could not be used. Usually one;
/// a destination that missed some earlier (it was down) gets its own with just those.
/// Returns the messages, the problems in the input and how many are reported now.
pub fn plan_input_problems(
    inputs: &[IngestReport],
    state: &AlertState,
    cfg: &AlertConfig,
    templates: &Handlebars,
    now: DateTime<Utc>,
    tz: Tz,
    organisation: &str,
) -> Result<(Vec<Alert>, usize, usize)> {
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
        return Ok((Vec::new(), total, 0));
    }
    let entries = cfg
        .roles
        .get("dpo")
        .or_else(|| cfg.roles.get("default"))
        .cloned()
        .unwrap_or_default();
    let recipients = destinations(&entries, cfg)?;
    if recipients.is_empty() {
        return Err(bad_input(
            "no recipients for the input problems: set [alerts.roles] dpo = [\"...\"] or default",
        ));
    }
    // Destinations grouped by the problems each still lacks.
    let mut groups: BTreeMap<Vec<usize>, Vec<Destination>> = BTreeMap::new();
    for d in &recipients {
        let lacking: Vec<usize> = (0..items.len())
            .filter(|&i| !state.is_delivered(&items[i].key, &d.key()))
            .collect();
        if !lacking.is_empty() {
            groups.entry(lacking).or_default().push(d.clone());
        }
    }
    let reported: std::collections::BTreeSet<usize> = groups.keys().flatten().copied().collect();
    let mut alerts = Vec::new();
    for (n, (lacking, pending)) in groups.into_iter().enumerate() {
        let chosen: Vec<&InputItem> = lacking.iter().map(|&i| &items[i]).collect();
        let rejected = chosen.iter().filter(|i| i.outcome == "rejected").count();
        let data = serde_json::json!({
            "count": chosen.len(),
            "rejected": rejected,
            "kept": chosen.len() - rejected,
            "items": &chosen,
            "now_local": local_text(now, tz),
            "organisation": organisation,
        });
        let (subject, body) = render_message(templates, "input-problems", &data)?;
        let suffix = if n == 0 {
            String::new()
        } else {
            format!("#{}", n + 1)
        };
        alerts.push(Alert {
            key: format!("input-problems@{}{suffix}", utc_text(now)),
            kind: "input-problems",
            threshold: "input-problems".into(),
            covers: Vec::new(),
            recipients: recipients.clone(),
            pending,
            subject,
            body,
            items: chosen.iter().map(|i| i.key.clone()).collect(),
            details: data,
        });
    }
    Ok((alerts, total, reported.len()))
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

/// What `plan` needs besides the deadlines and the state.
pub struct PlanContext<'a> {
    pub config: &'a AlertConfig,
    pub entities: Option<&'a Entities>,
    pub templates: &'a Handlebars<'static>,
    pub now: DateTime<Utc>,
    pub tz: Tz,
    pub organisation: &'a str,
}

/// Works out which alerts are due at `now` and, for each, the destinations that do not
/// have it yet. A deadline's role is looked up first in its entity's contacts
/// (`[[entities]] contacts`), then in `[alerts.roles]`.
pub fn plan(
    deadlines: &[&Deadline],
    state: &AlertState,
    cx: &PlanContext,
) -> Result<(Vec<Alert>, usize)> {
    let (cfg, now, tz) = (cx.config, cx.now, cx.tz);
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
        let contacts = cx.entities.map(|e| &e.of(d.incident).entity.contacts);
        let role = &d.regime.notify;
        let entries = contacts
            .and_then(|c| c.get(role))
            .or_else(|| cfg.roles.get(role))
            .or_else(|| contacts.and_then(|c| c.get("default")))
            .or_else(|| cfg.roles.get("default"))
            .cloned()
            .unwrap_or_default();
        let recipients = destinations(&entries, cfg)?;
        if recipients.is_empty() {
            return Err(bad_input(format!(
                "no recipients for role {:?} (regime {}): set [alerts.roles] {} = [\"...\"] or default",
                d.regime.notify, d.regime.id, d.regime.notify
            )));
        }
        let pending = recipients
            .iter()
            .filter(|r| !state.is_delivered(&latest_key, &r.key()))
            .cloned()
            .collect();
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
            organisation: cx.organisation,
        };
        let (subject, body) = render_message(cx.templates, "alert", &data)?;
        out.push(Alert {
            key: latest_key.clone(),
            kind: "deadline",
            threshold: latest.to_string(),
            covers,
            recipients,
            pending,
            subject,
            body,
            items: Vec::new(),
            details: serde_json::to_value(&data)?,
        });
    }
    Ok((out, already))
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
    /// The organisation's name, for the messages (`[organisation] name`).
    pub organisation: &'a str,
}

/// Sends what is due. In a dry run nothing is sent and the state is not touched.
pub fn run(deadlines: &[&Deadline], opts: &AlertRun) -> Result<AlertOutcome> {
    let _lock = if opts.dry_run {
        None
    } else {
        Some(AlertLock::acquire(opts.state_path)?)
    };
    let mut state = AlertState::load(opts.state_path)?;
    let cx = PlanContext {
        config: opts.config,
        entities: opts.entities,
        templates: opts.templates,
        now: opts.now,
        tz: opts.tz,
        organisation: opts.organisation,
    };
    let (mut due, already_sent) = plan(deadlines, &state, &cx)?;
    let (input_alerts, input_problems, input_problems_new) = plan_input_problems(
        opts.inputs,
        &state,
        opts.config,
        opts.templates,
        opts.now,
        opts.tz,
        opts.organisation,
    )?;
    // First: a row that could not be evaluated may hide a clock more urgent than any.
    due.splice(0..0, input_alerts);
    let mut outcome = AlertOutcome {
        due,
        already_sent,
        input_problems,
        input_problems_new,
        ..AlertOutcome::default()
    };
    if opts.dry_run || outcome.due.is_empty() {
        return Ok(outcome);
    }
    let mut outbox = Outbox::new(opts.delivery, opts.config, opts.now);
    let due = std::mem::take(&mut outcome.due);
    let result = deliver_all(&due, &mut state, opts.state_path, &mut outbox, &mut outcome);
    outcome.due = due;
    result.map(|()| outcome)
}

/// Delivers each pending copy of each alert, recording each in the state and saving it
/// after every one, so a crash later in the run loses nothing that was sent. If saving
/// fails the run stops, and the error names the copy that went out unrecorded.
fn deliver_all(
    due: &[Alert],
    state: &mut AlertState,
    path: &Path,
    outbox: &mut Outbox,
    outcome: &mut AlertOutcome,
) -> Result<()> {
    for alert in due {
        if alert.pending.is_empty() {
            // Every destination has it already (the role lost the one that failed).
            finish(state, alert);
            state.save(path)?;
            continue;
        }
        for dest in &alert.pending {
            let id = alert.message_id(dest);
            let result = outbox.deliver(alert, dest, &id);
            let error = result.as_ref().err().map(|e| format!("{e:#}"));
            record(state, alert, dest, &id, error.as_deref());
            finish(state, alert);
            let copy = AlertCopy {
                key: alert.key.clone(),
                destination: dest.clone(),
                error: error.clone(),
            };
            if error.is_none() {
                outcome.sent.push(copy);
            } else {
                outcome.failed.push(copy);
            }
            if let Err(e) = state.save(path) {
                return Err(match error {
                    None => e.context(format!(
                        "alert {} was delivered to {dest} but could not be recorded: the next run may send it again (with the same id {id}, so the receiver can drop the repeat); stopped before sending more",
                        alert.key
                    )),
                    Some(_) => e,
                });
            }
        }
    }
    Ok(())
}

/// Records one copy's outcome under each of the alert's state keys.
fn record(
    state: &mut AlertState,
    alert: &Alert,
    dest: &Destination,
    id: &str,
    error: Option<&str>,
) {
    let now = utc_text(Utc::now());
    for key in alert.record_keys() {
        let rec = state.record_mut(key, &alert.subject);
        let d = rec
            .deliveries
            .entry(dest.key())
            .or_insert_with(|| DeliveryRecord {
                status: DeliveryStatus::Pending,
                sent_at: None,
                message_id: None,
                attempts: 0,
                last_error: None,
            });
        d.attempts += 1;
        d.message_id = Some(id.to_string());
        match error {
            None => {
                d.status = DeliveryStatus::Sent;
                d.sent_at = Some(now.clone());
                d.last_error = None;
            }
            Some(e) => d.last_error = Some(e.to_string()),
        }
    }
}

/// Marks each of the alert's records sent once every destination of its role has it
/// (and the earlier thresholds it covers as superseded); until then it stays pending.
fn finish(state: &mut AlertState, alert: &Alert) {
    let now = utc_text(Utc::now());
    let mut all_sent = true;
    for key in alert.record_keys() {
        let rec = state.record_mut(key, &alert.subject);
        let sent = alert.recipients.iter().all(|d| {
            rec.deliveries
                .get(&d.key())
                .is_some_and(|r| r.status == DeliveryStatus::Sent)
        });
        if sent && rec.status != AlertStatus::Sent {
            rec.status = AlertStatus::Sent;
            rec.sent_at = Some(now.clone());
        }
        all_sent &= sent;
    }
    if !all_sent || !alert.items.is_empty() {
        return;
    }
    let base = alert.key.rsplit_once('#').map_or("", |(b, _)| b);
    for c in &alert.covers {
        state.alerts.insert(
            format!("{base}#{c}"),
            AlertRecord {
                status: AlertStatus::Superseded,
                sent_at: None,
                covered_by: Some(alert.key.clone()),
                subject: None,
                deliveries: BTreeMap::new(),
            },
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A copy that went out but could not be recorded is named, so the operator knows
    /// what the next run may send again; the run stops there.
    #[test]
    fn a_state_that_cannot_be_saved_after_a_send_names_the_alert() {
        let dir = tempfile::tempdir().unwrap();
        let outbox_dir = dir.path().join("outbox");
        // A regular file where the state's folder should be: saving must fail.
        let blocker = dir.path().join("not-a-folder");
        std::fs::write(&blocker, "").unwrap();
        let path = blocker.join("state.json");
        let to = |a: &str| Destination::Mail(a.to_string());
        let alert = Alert {
            key: "F-1/uk-gdpr-art33/notify-ico#overdue".into(),
            kind: "deadline",
            threshold: "overdue".into(),
            covers: vec![],
            recipients: vec![to("dpo@x.example"), to("cro@x.example")],
            pending: vec![to("dpo@x.example"), to("cro@x.example")],
            subject: "H&P".into(),
            body: "body".into(),
            items: vec![],
            details: serde_json::Value::Null,
        };
        let delivery = Delivery::Directory(outbox_dir.clone());
        let cfg = AlertConfig::default();
        let mut outbox = Outbox::new(&delivery, &cfg, Utc::now());
        let mut state = AlertState::default();
        let mut outcome = AlertOutcome::default();
        let e = deliver_all(
            std::slice::from_ref(&alert),
            &mut state,
            &path,
            &mut outbox,
            &mut outcome,
        )
        .unwrap_err();
        let e = format!("{e:#}");
        assert!(
            e.contains("alert F-1/uk-gdpr-art33/notify-ico#overdue was delivered to dpo@x.example"),
            "{e}"
        );
        assert!(e.contains("may send it again"), "{e}");
        assert!(e.contains(&alert.message_id(&to("dpo@x.example"))), "{e}");
        // One copy went out, and the run stopped before the second.
        assert_eq!(std::fs::read_dir(&outbox_dir).unwrap().count(), 1);
        assert_eq!(outcome.sent.len(), 1);
    }
}
