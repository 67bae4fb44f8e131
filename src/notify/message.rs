//! One alert as it is sent: its text, where it goes, and the stable id each copy carries.

use std::path::PathBuf;

use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::config::SmtpConfig;

/// How alerts leave.
#[derive(Debug, Clone)]
pub enum Delivery {
    /// As configured: mail by SMTP (`[smtp]`), channels by HTTPS to their webhooks.
    Smtp(SmtpConfig),
    /// Into a folder, for a pickup folder or for trying it out: one `.eml` file per mail,
    /// one `.json` file per channel message (what would be posted, without the URL).
    Directory(PathBuf),
    /// Everything on standard output.
    Stdout,
}

/// Where a copy of an alert goes: an e-mail address, or a channel named in
/// `[alerts.channels]` (written `channel:NAME` in a role's list).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(into = "String")]
pub enum Destination {
    Mail(String),
    Channel(String),
}

/// The prefix that marks a role entry as a channel rather than an address.
pub const CHANNEL_PREFIX: &str = "channel:";

impl Destination {
    /// A role entry: `channel:NAME`, else an e-mail address.
    pub fn parse(entry: &str) -> Destination {
        let entry = entry.trim();
        match entry.strip_prefix(CHANNEL_PREFIX) {
            Some(name) => Destination::Channel(name.trim().to_string()),
            None => Destination::Mail(entry.to_string()),
        }
    }

    /// How the state file names it: `mail:ADDRESS` or `channel:NAME`.
    pub fn key(&self) -> String {
        match self {
            Destination::Mail(a) => format!("mail:{a}"),
            Destination::Channel(c) => format!("{CHANNEL_PREFIX}{c}"),
        }
    }
}

impl std::fmt::Display for Destination {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Destination::Mail(a) => f.write_str(a),
            Destination::Channel(c) => write!(f, "{CHANNEL_PREFIX}{c}"),
        }
    }
}

impl From<Destination> for String {
    fn from(d: Destination) -> String {
        d.to_string()
    }
}

/// One message to send for one threshold of one clock (or for the rows that could not be
/// evaluated).
#[derive(Debug, Clone, Serialize)]
pub struct Alert {
    pub key: String,
    /// `deadline` or `input-problems`, for a webhook receiver.
    pub kind: &'static str,
    pub threshold: String,
    /// Earlier thresholds of the same clock this alert also covers.
    pub covers: Vec<String>,
    /// Every destination of the role, delivered already or not (the `To:` of a mail).
    pub recipients: Vec<Destination>,
    /// Those still to be delivered to: the ones this run sends to.
    pub pending: Vec<Destination>,
    pub subject: String,
    pub body: String,
    /// For the input-problems message: the state key of each row problem it reports
    /// (recorded one by one, so each is sent once).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub items: Vec<String>,
    /// What the templates were given, for the generic webhook's receivers.
    #[serde(skip)]
    pub details: serde_json::Value,
}

impl Alert {
    /// The state keys this alert is recorded under: its own, or for the input-problems
    /// message one per row problem it reports.
    pub fn record_keys(&self) -> &[String] {
        if self.items.is_empty() {
            std::slice::from_ref(&self.key)
        } else {
            &self.items
        }
    }

    /// The id the copy for `dest` carries, the same on every run that sends it: a hash
    /// of what it reports (the alert key, or the row problems) and the destination, so a
    /// receiver that sees it twice after a crash can drop the repeat.
    pub fn message_id(&self, dest: &Destination) -> String {
        let mut h = Sha256::new();
        for key in self.record_keys() {
            h.update(key.as_bytes());
            h.update(b"\n");
        }
        h.update(dest.key().as_bytes());
        let hex: String = h.finalize()[..16]
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        format!("msg_{hex}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn alert(key: &str) -> Alert {
        Alert {
            key: key.into(),
            kind: "deadline",
            threshold: "overdue".into(),
            covers: vec![],
            recipients: vec![],
            pending: vec![],
            subject: String::new(),
            body: String::new(),
            items: vec![],
            details: serde_json::Value::Null,
        }
    }

    #[test]
    fn ids_are_stable_and_differ_by_alert_and_destination() {
        let a = Destination::parse("dpo@x.example");
        let c = Destination::parse("channel: ops");
        assert_eq!(c, Destination::Channel("ops".into()));
        let one = alert("F-1/r/c#overdue");
        assert_eq!(one.message_id(&a), alert("F-1/r/c#overdue").message_id(&a));
        assert_ne!(one.message_id(&a), one.message_id(&c));
        assert_ne!(one.message_id(&a), alert("F-1/r/c#24h").message_id(&a));
        assert!(one.message_id(&a).starts_with("msg_"));
    }
}
