//! Delivering one copy of an alert to one destination: a mail through `email`, a channel
//! as its kind's message (`slack`, `teams`, `webhook`) posted by `http`; or, when trying
//! it out, into a folder or onto standard output. Also the checks of the channels' config
//! and environment that `regwatch check` runs.

use std::path::Path;
use std::time::Duration;

use anyhow::{anyhow, Context, Result};
use chrono::{DateTime, Utc};
use serde_json::{json, Value};

use super::email::{alert_message, parse_mailbox, MailSender};
use super::http::HttpPoster;
use super::message::{Alert, Delivery, Destination};
use super::webhook::Signer;
use super::{slack, teams, webhook};
use crate::config::{AlertConfig, ChannelConfig, ChannelKind, Config};
use crate::error::bad_input;

/// A channel with its secrets read from the environment.
pub struct ReadyChannel {
    pub url: String,
    pub signer: Option<Signer>,
}

/// Reads the channel's URL (and a webhook's secret) from the environment variables its
/// config names; the error names the channel and the variable.
pub fn ready(name: &str, cfg: &ChannelConfig) -> Result<ReadyChannel> {
    let var = |var: &str, what: &str| -> Result<String> {
        match std::env::var(var) {
            Ok(v) if !v.trim().is_empty() => Ok(v.trim().to_string()),
            Ok(_) => Err(bad_input(format!(
                "channel {name}: the environment variable {var} ({what}) is empty"
            ))),
            Err(_) => Err(bad_input(format!(
                "channel {name}: the environment variable {var} ({what}) is not set"
            ))),
        }
    };
    let url = var(&cfg.url_env, "url_env")?;
    check_url(&url).map_err(|e| bad_input(format!("channel {name}: ${}: {e}", cfg.url_env)))?;
    let signer = match (cfg.kind, &cfg.secret_env) {
        (ChannelKind::Webhook, Some(env)) => {
            let secret = var(env, "secret_env")?;
            Some(Signer::from_secret(&secret, &format!("${env} (channel {name})"))?)
        }
        (ChannelKind::Webhook, None) => {
            return Err(bad_input(format!(
                "channel {name}: kind = \"webhook\" needs secret_env, the environment variable holding its whsec_ signing secret"
            )))
        }
        (kind, Some(_)) => {
            return Err(bad_input(format!(
                "channel {name}: secret_env is only for kind = \"webhook\", not {:?}",
                kind.name()
            )))
        }
        (_, None) => None,
    };
    Ok(ReadyChannel { url, signer })
}

/// A webhook URL must be HTTPS (it and the message are secrets), but for loopback.
fn check_url(url: &str) -> Result<()> {
    let uri: ureq::http::Uri = url.parse().map_err(|_| anyhow!("not a URL"))?;
    let host = uri.host().unwrap_or("");
    match uri.scheme_str() {
        Some("https") if !host.is_empty() => Ok(()),
        Some("http") if matches!(host, "127.0.0.1" | "localhost" | "[::1]" | "::1") => Ok(()),
        Some("http") => Err(anyhow!(
            "the URL is http://; use https:// (plain HTTP only on loopback)"
        )),
        _ => Err(anyhow!("not an https:// URL")),
    }
}

/// Every problem with the alert destinations: the sender address, role entries (in
/// `[alerts.roles]` and the entities' contacts) naming a channel that is not defined or an
/// address that is not one, and each channel whose environment variables are missing or
/// wrong.
pub fn check_destinations(config: &Config) -> Vec<String> {
    let mut problems = Vec::new();
    if let Err(e) = parse_mailbox(&config.alerts.from, "[alerts] from") {
        problems.push(format!("{e:#}"));
    }
    let mut lists: Vec<(String, &Vec<String>)> = config
        .alerts
        .roles
        .iter()
        .map(|(role, l)| (format!("[alerts.roles] {role}"), l))
        .collect();
    for e in &config.entities {
        for (role, l) in &e.contacts {
            lists.push((format!("entity {} contacts {role}", e.id), l));
        }
    }
    for (place, entries) in lists {
        for entry in entries {
            if let Err(e) = destination(entry, &config.alerts) {
                problems.push(format!("{place}: {e:#}"));
            }
        }
    }
    for (name, channel) in &config.alerts.channels {
        if let Err(e) = ready(name, channel) {
            problems.push(format!("{e:#}"));
        }
    }
    problems
}

/// A role entry as a destination, checked against the config.
pub fn destination(entry: &str, cfg: &AlertConfig) -> Result<Destination> {
    let d = Destination::parse(entry);
    match &d {
        Destination::Channel(name) if !cfg.channels.contains_key(name) => {
            let known: Vec<&str> = cfg.channels.keys().map(String::as_str).collect();
            return Err(bad_input(format!(
                "{entry:?} names no channel in [alerts.channels] (defined: {})",
                if known.is_empty() {
                    "none".to_string()
                } else {
                    known.join(", ")
                }
            )));
        }
        Destination::Mail(addr) => {
            parse_mailbox(addr, "recipient")?;
        }
        Destination::Channel(_) => {}
    }
    Ok(d)
}

/// Delivers the copies of a run, holding what they share: the mail transport (made on
/// first use) and the HTTP client with the run's retry budget.
pub struct Outbox<'a> {
    delivery: &'a Delivery,
    config: &'a AlertConfig,
    mail: Option<std::result::Result<MailSender, String>>,
    http: HttpPoster,
    now: DateTime<Utc>,
}

impl<'a> Outbox<'a> {
    pub fn new(delivery: &'a Delivery, config: &'a AlertConfig, now: DateTime<Utc>) -> Self {
        Outbox {
            delivery,
            config,
            mail: None,
            http: HttpPoster::new(
                Duration::from_secs(config.http_timeout_seconds.max(1)),
                Duration::from_secs(config.retry_wait_seconds),
            ),
            now,
        }
    }

    /// Sends `alert` to `dest`, carrying `id`; Ok only once it was accepted.
    pub fn deliver(&mut self, alert: &Alert, dest: &Destination, id: &str) -> Result<()> {
        match dest {
            Destination::Mail(addr) => {
                let (msg, envelope) = alert_message(alert, &self.config.from, addr, id)?;
                let delivery = self.delivery;
                let sender = self
                    .mail
                    .get_or_insert_with(|| MailSender::new(delivery).map_err(|e| format!("{e:#}")))
                    .as_ref()
                    .map_err(|e| anyhow!("{e}"))?;
                sender.send(&msg, Some(&envelope))
            }
            Destination::Channel(name) => {
                let channel =
                    self.config.channels.get(name).ok_or_else(|| {
                        bad_input(format!("no channel {name} in [alerts.channels]"))
                    })?;
                let body = serde_json::to_vec(&self.payload(channel.kind, alert))?;
                match self.delivery {
                    Delivery::Smtp(_) => {
                        let ready = ready(name, channel)?;
                        let headers = || match &ready.signer {
                            Some(s) => s.headers(id, &body),
                            None => Vec::new(),
                        };
                        self.http
                            .post(&ready.url, &body, &headers)
                            .with_context(|| format!("{} channel {name}", channel.kind.name()))
                    }
                    Delivery::Directory(dir) => write_post(dir, name, channel.kind, id, &body),
                    Delivery::Stdout => {
                        println!(
                            "--- {} channel {name} (webhook-id {id})\n{}\n",
                            channel.kind.name(),
                            String::from_utf8_lossy(&body)
                        );
                        Ok(())
                    }
                }
            }
        }
    }

    fn payload(&self, kind: ChannelKind, alert: &Alert) -> Value {
        match kind {
            ChannelKind::Slack => slack::payload(alert),
            ChannelKind::Teams => teams::payload(alert),
            ChannelKind::Webhook => webhook::payload(alert, self.now),
        }
    }
}

/// What would be posted, as `ID.KIND.json` in `dir` (without the URL, a secret).
fn write_post(dir: &Path, name: &str, kind: ChannelKind, id: &str, body: &[u8]) -> Result<()> {
    let body: Value = serde_json::from_slice(body)?;
    let record = json!({"channel": name, "kind": kind.name(), "webhook-id": id, "body": body});
    let path = dir.join(format!("{id}.{}.json", kind.name()));
    crate::util::atomic::write_bytes_atomic(&path, &serde_json::to_vec_pretty(&record)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn webhook_urls_must_be_https_but_on_loopback() {
        assert!(check_url("https://hooks.slack.com/services/T/B/X").is_ok());
        assert!(check_url("http://127.0.0.1:8080/hook").is_ok());
        assert!(check_url("http://hooks.example.com/x").is_err());
        assert!(check_url("hooks.example.com").is_err());
        assert!(check_url("ftp://x.example/").is_err());
    }
}
