//! The alert state file: every alert and, for each destination (an address or a channel),
//! whether it was delivered there; the versions of the file this regwatch reads; and the
//! lock that keeps two cron runs apart.
//!
//! Version 2 records each (alert, destination) delivery on its own, so one refused
//! recipient does not hold back the others nor get the message twice. Version 1 files
//! (one status per alert, a list of recipients) are read and migrated on the next save.

use std::collections::BTreeMap;
use std::fs::{File, OpenOptions, TryLockError};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};

use crate::error::{bad_input, Busy};
use crate::util::atomic::write_bytes_atomic;

/// The version this regwatch writes.
pub const STATE_VERSION: u32 = 2;

/// What the state file says about one alert.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "kebab-case")]
pub enum AlertStatus {
    /// Delivered to every destination of its role.
    Sent,
    /// A later threshold was crossed before this one was sent; that alert covered it.
    Superseded,
    /// Not yet delivered to every destination; the rest will be tried again.
    Pending,
}

/// One destination's copy of one alert.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "kebab-case")]
pub enum DeliveryStatus {
    Sent,
    Pending,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DeliveryRecord {
    pub status: DeliveryStatus,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sent_at: Option<String>,
    /// The id the message carried (`Message-ID`, `webhook-id`): the same on every try.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message_id: Option<String>,
    #[serde(default)]
    pub attempts: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AlertRecord {
    pub status: AlertStatus,
    /// When the last destination got it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sent_at: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub covered_by: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject: Option<String>,
    /// By destination: `mail:ADDRESS` or `channel:NAME`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub deliveries: BTreeMap<String, DeliveryRecord>,
}

/// The record of alerts, keyed `incident/regime/clock[@service]#threshold` (and
/// `input:...` for the row problems reported).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AlertState {
    pub version: u32,
    pub alerts: BTreeMap<String, AlertRecord>,
}

impl Default for AlertState {
    fn default() -> Self {
        AlertState {
            version: STATE_VERSION,
            alerts: BTreeMap::new(),
        }
    }
}

/// A version 1 record: one status for the alert and the addresses it went to.
#[derive(Deserialize)]
struct RecordV1 {
    status: AlertStatus,
    #[serde(default)]
    sent_at: Option<String>,
    #[serde(default)]
    covered_by: Option<String>,
    #[serde(default)]
    recipients: Vec<String>,
    #[serde(default)]
    subject: Option<String>,
    #[serde(default)]
    attempts: u32,
    #[serde(default)]
    last_error: Option<String>,
}

#[derive(Deserialize)]
struct StateV1 {
    alerts: BTreeMap<String, RecordV1>,
}

#[derive(Deserialize)]
struct VersionOnly {
    version: Option<serde_json::Value>,
}

impl RecordV1 {
    /// Version 1 sent one message to all of an alert's addresses: a sent alert was
    /// delivered to each of them, a pending one to none.
    fn migrate(self) -> AlertRecord {
        let delivery = match self.status {
            AlertStatus::Sent => Some(DeliveryStatus::Sent),
            AlertStatus::Pending => Some(DeliveryStatus::Pending),
            AlertStatus::Superseded => None,
        };
        let deliveries = delivery
            .map(|status| {
                self.recipients
                    .iter()
                    .map(|r| {
                        let record = DeliveryRecord {
                            status: status.clone(),
                            sent_at: self.sent_at.clone(),
                            message_id: None,
                            attempts: self.attempts,
                            last_error: self.last_error.clone(),
                        };
                        (format!("mail:{r}"), record)
                    })
                    .collect()
            })
            .unwrap_or_default();
        AlertRecord {
            status: self.status,
            sent_at: self.sent_at,
            covered_by: self.covered_by,
            subject: self.subject,
            deliveries,
        }
    }
}

impl AlertState {
    /// Reads the state; a missing file is an empty state. A damaged file, or a version
    /// this regwatch does not know, stops the run: starting afresh would resend everything.
    pub fn load(path: &Path) -> Result<AlertState> {
        let bytes = match std::fs::read(path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(AlertState::default()),
            Err(e) => {
                return Err(e)
                    .with_context(|| format!("cannot read alert state {}", path.display()))
            }
        };
        let damaged = |e: serde_json::Error| {
            bad_input(format!(
                "alert state {} is damaged ({e}); fix or move it aside, nothing was sent",
                path.display()
            ))
        };
        let version = serde_json::from_slice::<VersionOnly>(&bytes)
            .map_err(damaged)?
            .version;
        match version.as_ref().and_then(serde_json::Value::as_u64) {
            Some(1) => {
                let v1: StateV1 = serde_json::from_slice(&bytes).map_err(damaged)?;
                let alerts = v1
                    .alerts
                    .into_iter()
                    .map(|(k, r)| (k, r.migrate()))
                    .collect();
                Ok(AlertState {
                    version: STATE_VERSION,
                    alerts,
                })
            }
            Some(2) => serde_json::from_slice(&bytes).map_err(damaged),
            _ => {
                let shown = version.map_or("none".to_string(), |v| v.to_string());
                Err(bad_input(format!(
                    "alert state {} has version {shown}, which this regwatch does not know (it reads versions 1 and {STATE_VERSION}); it may come from a newer regwatch. Nothing was sent and the file is unchanged",
                    path.display()
                )))
            }
        }
    }

    pub fn save(&self, path: &Path) -> Result<()> {
        let bytes = serde_json::to_vec_pretty(self)?;
        write_bytes_atomic(path, &bytes)
            .with_context(|| format!("cannot save alert state {}", path.display()))
    }

    /// The record of alert `key` (made pending if there is none), with its subject.
    pub fn record_mut(&mut self, key: &str, subject: &str) -> &mut AlertRecord {
        let rec = self
            .alerts
            .entry(key.to_string())
            .or_insert_with(|| AlertRecord {
                status: AlertStatus::Pending,
                sent_at: None,
                covered_by: None,
                subject: None,
                deliveries: BTreeMap::new(),
            });
        rec.subject = Some(subject.to_string());
        rec
    }

    /// Sent to every destination, or covered by a later threshold.
    pub fn is_done(&self, key: &str) -> bool {
        self.alerts
            .get(key)
            .is_some_and(|r| matches!(r.status, AlertStatus::Sent | AlertStatus::Superseded))
    }

    /// Whether `destination` (a `Destination::key`) already has alert `key`.
    pub fn is_delivered(&self, key: &str, destination: &str) -> bool {
        self.alerts
            .get(key)
            .and_then(|r| r.deliveries.get(destination))
            .is_some_and(|d| d.status == DeliveryStatus::Sent)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_version_1_file_is_migrated_delivery_by_delivery() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.json");
        std::fs::write(
            &path,
            r#"{"version": 1, "alerts": {
                "A/r/c#overdue": {"status": "sent", "sent_at": "2026-11-28T12:00:00Z",
                    "recipients": ["a@x.example", "b@x.example"], "subject": "s", "attempts": 1},
                "A/r/c#50%": {"status": "superseded", "covered_by": "A/r/c#overdue"},
                "B/r/c#overdue": {"status": "pending", "recipients": ["a@x.example"],
                    "attempts": 2, "last_error": "SMTP: refused"}
            }}"#,
        )
        .unwrap();
        let state = AlertState::load(&path).unwrap();
        assert_eq!(state.version, STATE_VERSION);
        assert!(state.is_done("A/r/c#overdue"));
        assert!(state.is_delivered("A/r/c#overdue", "mail:b@x.example"));
        assert!(state.is_done("A/r/c#50%"));
        assert!(!state.is_done("B/r/c#overdue"));
        assert!(!state.is_delivered("B/r/c#overdue", "mail:a@x.example"));
        let b = &state.alerts["B/r/c#overdue"].deliveries["mail:a@x.example"];
        assert_eq!(b.attempts, 2);
        assert_eq!(b.last_error.as_deref(), Some("SMTP: refused"));
    }

    #[test]
    fn an_unknown_version_is_refused_by_name() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.json");
        for (text, shown) in [
            (r#"{"version": 9, "alerts": {}}"#, "version 9"),
            (r#"{"alerts": {}}"#, "version none"),
        ] {
            std::fs::write(&path, text).unwrap();
            let e = format!("{:#}", AlertState::load(&path).unwrap_err());
            assert!(e.contains(&path.display().to_string()), "{e}");
            assert!(e.contains(shown), "{e}");
        }
    }
}
