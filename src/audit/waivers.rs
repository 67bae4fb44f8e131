//! Findings people have decided about: a waivers file (`--waivers`, or `[audit] waivers`
//! in regwatch.toml) names a policy and what of it is accepted (actor, resource, change,
//! with `*` globs), why, who approved it and until when.
//!
//! A waived finding stays in every output, marked with its waiver; gates (`--fail-on`)
//! do not count it. A waiver past its expiry waives nothing and is itself a finding
//! (`waiver-expired`), so a decision nobody renewed cannot lapse silently; a waiver that
//! matched no finding is named in the summary. A bad entry rejects the whole file, with
//! the file, the entry and the reason.

use std::path::Path;
use std::sync::Arc;

use anyhow::Result;
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use super::matching::glob_match;
use super::model::Finding;
use crate::controls::{Policy, Severity};
use crate::error::bad_input;

/// The policy id of the finding an expired waiver becomes.
pub const EXPIRED_POLICY: &str = "waiver-expired";

/// One entry as written in the file.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Entry {
    id: String,
    policy: String,
    actor: Option<String>,
    resource: Option<String>,
    change: Option<String>,
    reason: String,
    approver: String,
    expires: toml::Value,
}

/// The file: `[[waiver]]` tables.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    #[serde(default)]
    waiver: Vec<toml::Value>,
}

/// One waiver, checked, with how many findings it waived in this run.
#[derive(Debug, Clone, Serialize)]
pub struct Waiver {
    pub id: String,
    /// A policy id, or a `*` glob over policy ids.
    pub policy: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub actor: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resource: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub change: Option<String>,
    pub reason: String,
    pub approver: String,
    /// The last day it waives (inclusive), in the display time zone.
    pub expires: NaiveDate,
    /// Past `expires` on the day of the run: it waives nothing.
    pub expired: bool,
    /// Findings it waived in this run.
    pub findings: u64,
}

impl Waiver {
    /// Whether the finding is one this waiver names: its policy, and each of actor (any
    /// of the finding's actors), resource (any of its listed resources) and change that
    /// the waiver gives.
    pub fn matches(&self, f: &Finding) -> bool {
        let any = |pattern: &Option<String>, values: &[String]| {
            pattern
                .as_deref()
                .is_none_or(|p| values.iter().any(|v| glob_match(p, v)))
        };
        glob_match(&self.policy, &f.policy)
            && any(&self.actor, &f.actors)
            && any(&self.resource, &f.resources)
            && self
                .change
                .as_deref()
                .is_none_or(|p| !f.change_id.is_empty() && glob_match(p, &f.change_id))
    }

    /// What it matches, for people: `policy self-approval, actor h.jones`.
    pub fn scope(&self) -> String {
        let mut parts = vec![format!("policy {}", self.policy)];
        for (name, value) in [
            ("actor", &self.actor),
            ("resource", &self.resource),
            ("change", &self.change),
        ] {
            if let Some(v) = value {
                parts.push(format!("{name} {v}"));
            }
        }
        parts.join(", ")
    }

    /// The text a waived finding carries (SARIF's justification, the table's note).
    pub fn justification(&self) -> String {
        format!(
            "waiver {}: {} (approved by {}, until {})",
            self.id, self.reason, self.approver, self.expires
        )
    }
}

/// The waivers of a run, from one file.
#[derive(Debug, Clone, Serialize)]
pub struct Waivers {
    pub file: String,
    pub waivers: Vec<Waiver>,
    /// Findings waived in all.
    pub waived: u64,
}

impl Waivers {
    /// Reads and checks the file; `today` decides which waivers have expired.
    pub fn load(path: &Path, today: NaiveDate) -> Result<Waivers> {
        let name = path.display().to_string();
        let text = std::fs::read_to_string(path)
            .map_err(|e| bad_input(format!("cannot read waivers file {name}: {e}")))?;
        Waivers::parse(&name, &text, today)
    }

    /// Checks every entry; the first bad one rejects the file, saying which and why.
    pub fn parse(name: &str, text: &str, today: NaiveDate) -> Result<Waivers> {
        let file: File = toml::from_str(text)
            .map_err(|e| bad_input(format!("waivers file {name}: {}", e.message())))?;
        let mut waivers: Vec<Waiver> = Vec::new();
        for (i, raw) in file.waiver.into_iter().enumerate() {
            let label = raw.get("id").and_then(toml::Value::as_str).map_or_else(
                || format!("entry {}", i + 1),
                |id| format!("entry {} ({id})", i + 1),
            );
            let bad = |reason: String| bad_input(format!("waivers file {name}, {label}: {reason}"));
            let e: Entry = raw
                .try_into()
                .map_err(|e: toml::de::Error| bad(e.message().to_string()))?;
            for (field, value) in [
                ("id", &e.id),
                ("policy", &e.policy),
                ("reason", &e.reason),
                ("approver", &e.approver),
            ] {
                if value.trim().is_empty() {
                    return Err(bad(format!("{field} is empty")));
                }
            }
            let given = [&e.actor, &e.resource, &e.change];
            if given.iter().all(|v| v.is_none()) {
                return Err(bad(
                    "name what it waives: actor, resource or change (\"*\" for every finding of the policy)"
                        .into(),
                ));
            }
            if given
                .iter()
                .any(|v| v.as_deref().is_some_and(|v| v.trim().is_empty()))
            {
                return Err(bad("actor, resource and change may not be empty".into()));
            }
            if waivers.iter().any(|w| w.id == e.id) {
                return Err(bad(format!("id {} is used twice", e.id)));
            }
            let expires = expiry(&e.expires).map_err(bad)?;
            waivers.push(Waiver {
                id: e.id,
                policy: e.policy,
                actor: e.actor,
                resource: e.resource,
                change: e.change,
                reason: e.reason,
                approver: e.approver,
                expires,
                expired: today > expires,
                findings: 0,
            });
        }
        Ok(Waivers {
            file: name.to_string(),
            waivers,
            waived: 0,
        })
    }

    /// The first waiver in force that matches the finding, by its place in the file. An
    /// expired waiver's own finding is never waived.
    pub fn find(&self, f: &Finding) -> Option<u32> {
        if &*f.policy == EXPIRED_POLICY {
            return None;
        }
        self.waivers
            .iter()
            .position(|w| !w.expired && w.matches(f))
            .map(|i| i as u32)
    }

    /// The waiver a finding is marked with.
    pub fn get(&self, index: Option<u32>) -> Option<&Waiver> {
        self.waivers.get(index? as usize)
    }

    /// Waivers in force that matched no finding (a typo, or a risk that went away).
    pub fn unused(&self) -> impl Iterator<Item = &Waiver> {
        self.waivers
            .iter()
            .filter(|w| !w.expired && w.findings == 0)
    }

    /// The policy an expired waiver's finding belongs to.
    pub fn expired_policy() -> Policy {
        Policy {
            id: EXPIRED_POLICY.into(),
            title: "A waiver has expired".into(),
            severity: Severity::Medium,
            kind: "waivers".into(),
            enabled: true,
            checks: "Each waiver in the waivers file is still within its expiry date.".into(),
            rationale: "A waiver records a decision to accept a risk until a date; past it nobody has decided again, so the findings it covered count once more and the lapsed decision needs an owner.".into(),
            params: Default::default(),
            when: Vec::new(),
            nist: vec!["GOVERN 1.5".into(), "MANAGE 1.4".into()],
            obligations: Vec::new(),
            sources: Vec::new(),
            source: None,
        }
    }

    /// The finding an expired waiver becomes, dated the first moment it no longer held.
    pub fn expired_finding(&self, w: &Waiver, policy: &Policy, policy_index: usize) -> Finding {
        let lapsed = (w.expires + chrono::Days::new(1))
            .and_hms_opt(0, 0, 0)
            .map_or(0, |t| t.and_utc().timestamp_millis());
        Finding {
            policy_index,
            policy: Arc::from(policy.id.as_str()),
            title: Arc::from(policy.title.as_str()),
            severity: policy.severity,
            detail: format!(
                "waiver {} ({}) expired on {}: the findings it matched count again; renew it or remove it from {}",
                w.id,
                w.scope(),
                w.expires,
                self.file
            ),
            rationale: Arc::from(policy.rationale.as_str()),
            change_id: String::new(),
            actors: Vec::new(),
            resources: vec![format!("{}#{}", self.file, w.id)],
            resource_count: 1,
            events: Vec::new(),
            event_count: 0,
            first_at: lapsed,
            last_at: lapsed,
            nist: Arc::from(policy.nist.as_slice()),
            obligations: Arc::from(policy.obligations.as_slice()),
            source: None,
            waiver: None,
        }
    }
}

/// `expires`: a TOML date (`2027-01-31`) or the same as a string.
fn expiry(v: &toml::Value) -> std::result::Result<NaiveDate, String> {
    let text = match v {
        toml::Value::String(s) => s.clone(),
        toml::Value::Datetime(d) if d.time.is_none() && d.offset.is_none() => d.to_string(),
        other => return Err(format!("expires must be a date (YYYY-MM-DD), not {other}")),
    };
    NaiveDate::parse_from_str(text.trim(), "%Y-%m-%d")
        .map_err(|e| format!("expires {text:?} is not a date (YYYY-MM-DD): {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    fn finding(policy: &str, actor: &str, resource: &str, change: &str) -> Finding {
        let w = Waivers {
            file: String::new(),
            waivers: Vec::new(),
            waived: 0,
        };
        let p = Waivers::expired_policy();
        let mut f = w.expired_finding(
            &Waiver {
                id: "x".into(),
                policy: "x".into(),
                actor: None,
                resource: None,
                change: None,
                reason: "r".into(),
                approver: "a".into(),
                expires: day("2026-01-01"),
                expired: false,
                findings: 0,
            },
            &p,
            0,
        );
        f.policy = Arc::from(policy);
        f.actors = vec![actor.into()];
        f.resources = vec![resource.into()];
        f.change_id = change.into();
        f
    }

    const FILE: &str = r#"
[[waiver]]
id = "W-1"
policy = "self-approval"
actor = "h.jones"
change = "CHG-*"
reason = "Break-glass fix, reviewed after"
approver = "CISO"
expires = 2026-12-31
"#;

    #[test]
    fn a_waiver_matches_its_policy_actor_and_change_only() {
        let w = Waivers::parse("w.toml", FILE, day("2026-11-28")).unwrap();
        let hit = finding("self-approval", "h.jones", "svc/web", "CHG-S1");
        assert_eq!(w.find(&hit), Some(0));
        for miss in [
            finding("self-approval", "j.okafor", "svc/web", "CHG-S1"),
            finding("ai-approving-ai", "h.jones", "svc/web", "CHG-S1"),
            finding("self-approval", "h.jones", "svc/web", ""),
        ] {
            assert_eq!(w.find(&miss), None, "{miss:?}");
        }
        // Valid through its expiry date, not a day after.
        let last = Waivers::parse("w.toml", FILE, day("2026-12-31")).unwrap();
        assert_eq!(last.find(&hit), Some(0));
        let after = Waivers::parse("w.toml", FILE, day("2027-01-01")).unwrap();
        assert!(after.waivers[0].expired);
        assert_eq!(after.find(&hit), None);
    }

    #[test]
    fn a_bad_entry_is_rejected_with_file_entry_and_reason() {
        let cases = [
            (
                FILE.replace("approver = \"CISO\"\n", ""),
                "missing field `approver`",
            ),
            (
                FILE.replace("2026-12-31", "\"31/12/2026\""),
                "is not a date",
            ),
            (
                FILE.replace("actor = \"h.jones\"\nchange = \"CHG-*\"\n", ""),
                "name what it waives",
            ),
            (
                FILE.replace(
                    "reason = \"Break-glass fix, reviewed after\"",
                    "reason = \" \"",
                ),
                "reason is empty",
            ),
            (format!("{FILE}{FILE}"), "id W-1 is used twice"),
            (FILE.replace("actor =", "actr ="), "unknown field `actr`"),
        ];
        for (text, why) in cases {
            let e = Waivers::parse("w.toml", &text, day("2026-11-28"))
                .unwrap_err()
                .to_string();
            assert!(e.contains("w.toml"), "{e}");
            assert!(e.contains("(W-1)"), "{e}");
            assert!(e.contains(why), "{why}: {e}");
        }
    }
}
