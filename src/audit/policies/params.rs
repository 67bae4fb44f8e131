//! Reading a policy's `params`: typed, with defaults, and errors that name the key.

use anyhow::{bail, Context, Result};
use chrono::NaiveTime;

use crate::audit::event::{AuditEvent, Operation};
use crate::audit::matching::Words;
use crate::controls::Policy;

/// What makes an event destructive: its operation, or a word in its action.
#[derive(Debug, Clone)]
pub struct Destructive {
    operations: Vec<Operation>,
    actions: Words,
}

impl Destructive {
    pub fn holds(&self, e: &AuditEvent) -> bool {
        if e.dry_run {
            return false;
        }
        if self.operations.iter().any(|&op| e.is(op)) {
            return true;
        }
        if !e.operation.changes() {
            return false;
        }
        self.actions.found_in(&e.action)
    }
}

/// One policy's `params`.
pub struct Params<'a> {
    pub policy: &'a Policy,
}

impl Params<'_> {
    pub fn get(&self, key: &str) -> Option<&toml::Value> {
        self.policy.params.get(key)
    }
    pub fn int(&self, key: &str, default: i64) -> Result<i64> {
        match self.get(key) {
            None => Ok(default),
            Some(v) => v
                .as_integer()
                .filter(|n| *n >= 0)
                .with_context(|| format!("params.{key} must be a whole number >= 0")),
        }
    }
    /// A number of minutes, in milliseconds.
    pub fn minutes(&self, key: &str, default: i64) -> Result<i64> {
        Ok(self.int(key, default)? * 60_000)
    }
    pub fn strings(&self, key: &str, default: &[&str]) -> Result<Vec<String>> {
        match self.get(key) {
            None => Ok(default.iter().map(|s| s.to_string()).collect()),
            Some(toml::Value::Array(a)) => a
                .iter()
                .map(|v| {
                    v.as_str()
                        .map(str::to_string)
                        .with_context(|| format!("params.{key} must be a list of text"))
                })
                .collect(),
            Some(_) => bail!("params.{key} must be a list of text"),
        }
    }
    pub fn text(&self, key: &str, default: &str) -> Result<String> {
        match self.get(key) {
            None => Ok(default.into()),
            Some(v) => v
                .as_str()
                .map(str::to_string)
                .with_context(|| format!("params.{key} must be text")),
        }
    }
    pub fn operations(&self, key: &str, default: &[&str]) -> Result<Vec<Operation>> {
        self.strings(key, default)?
            .iter()
            .map(|o| {
                Operation::parse(o).with_context(|| {
                    format!("params.{key}: {o:?} is not one of {}", Operation::ALL)
                })
            })
            .collect()
    }
    pub fn destructive(&self) -> Result<Destructive> {
        Ok(Destructive {
            operations: self.operations("destructive_operations", &["delete"])?,
            actions: Words::new(&self.strings(
                "destructive_actions",
                &["drop", "truncate", "terminate", "wipe", "destroy", "purge"],
            )?)?,
        })
    }
}

/// A time of day like 09:00.
pub fn time_of_day(text: &str, key: &str) -> Result<NaiveTime> {
    NaiveTime::parse_from_str(text, "%H:%M")
        .with_context(|| format!("params.{key}: {text:?} is not a time like 09:00"))
}
