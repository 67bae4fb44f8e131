//! The guardrail checks: each policy of `mappings/policies.toml` compiled into a typed
//! [`Check`], run over the events as they stream past by the [`engine`].
//!
//! Checks that look at one event run in parallel on each batch; checks that need history
//! (a change's plan and approvals, an agent's rate, a stream's gaps) keep small state per
//! change, actor or stream, never the events themselves, so memory grows with the number
//! of changes and actors, not of events.
//!
//! Each kind has its own file: its parameters, its check on each event, on whole change
//! histories or at the end, and its tests. A new kind needs its file, a variant of
//! `Check` with a line in `compile_one`, and its calls in the engine's matches.

mod ai_approving_ai;
mod blast_radius;
pub(crate) mod change_freeze;
pub(crate) mod condition;
mod cross_environment;
mod destructive_without_approval;
pub mod engine;
mod hits;
mod logging_tamper;
mod missing_provenance;
mod no_plan;
pub(crate) mod params;
mod rate_limit;
mod self_approval;
mod time_fence;
mod time_gap;
mod wildcard_permission;

use crate::audit::sources::intake::SourceFormat;
use anyhow::{bail, Context, Result};
use chrono_tz::Tz;

use crate::controls::Policy;
use blast_radius::BlastRadius;
use change_freeze::ChangeFreeze;
use condition::Condition;
use cross_environment::CrossEnvironment;
use logging_tamper::LoggingTamper;
use missing_provenance::MissingProvenance;
use no_plan::NoPlan;
use params::{Destructive, Params};
use rate_limit::RateLimit;
use time_fence::TimeFence;
use time_gap::TimeGap;
use wildcard_permission::WildcardPermission;

/// A policy's check with its parameters read and checked: one variant per kind.
#[derive(Debug, Clone)]
enum Check {
    DestructiveWithoutApproval(Destructive),
    BlastRadius(BlastRadius),
    TimeFence(TimeFence),
    ChangeFreeze(ChangeFreeze),
    SelfApproval,
    AiApprovingAi,
    NoPlan(NoPlan),
    RateLimit(RateLimit),
    CrossEnvironment(CrossEnvironment),
    WildcardPermission(WildcardPermission),
    MissingProvenance(MissingProvenance),
    TimeGap(TimeGap),
    LoggingTamper(LoggingTamper),
    Condition(Condition),
    /// A Sigma rule: matched on the raw record by the reader (see `audit::sigma`).
    Sigma,
}

/// A policy ready to run.
#[derive(Debug, Clone)]
pub struct CompiledPolicy {
    pub policy: Policy,
    check: Check,
    production: Vec<String>,
    /// The sources it reads (`None`: all).
    sources: Option<Vec<SourceFormat>>,
}

impl CompiledPolicy {
    /// Whether events from a file of this format can match the policy.
    pub fn reads(&self, format: Option<SourceFormat>) -> bool {
        match (&self.sources, format) {
            (Some(list), Some(f)) => list.contains(&f) || list.contains(&f.vocabulary()),
            _ => true,
        }
    }

    /// Whether the policy only looks at production events: with none in the run, its
    /// silence is no evidence (the coverage says so rather than "pass").
    pub fn production_only(&self) -> bool {
        match &self.check {
            Check::DestructiveWithoutApproval(_)
            | Check::TimeFence(_)
            | Check::ChangeFreeze(_)
            | Check::AiApprovingAi
            | Check::NoPlan(_)
            | Check::CrossEnvironment(_) => true,
            Check::Condition(_) => self.policy.when.iter().any(|w| {
                w.get("field").and_then(|f| f.as_str()) == Some("environment")
                    && (w.get("is").is_some() || w.get("in").is_some())
            }),
            _ => false,
        }
    }
}

/// Reads each enabled policy's parameters into its check; a bad parameter is an error
/// naming the policy.
pub fn compile(policies: &[Policy], tz: Tz) -> Result<Vec<CompiledPolicy>> {
    policies
        .iter()
        .filter(|p| p.enabled)
        .map(|p| compile_one(p, tz).with_context(|| format!("policy {:?}", p.id)))
        .collect()
}

/// The registry of kinds: each `kind` of `policies.toml` and how its check is read.
fn compile_one(p: &Policy, display_tz: Tz) -> Result<CompiledPolicy> {
    let params = Params { policy: p };
    let check = match p.kind.as_str() {
        "destructive-without-approval" => Check::DestructiveWithoutApproval(params.destructive()?),
        "blast-radius" => Check::BlastRadius(BlastRadius::parse(&params)?),
        "time-fence" => Check::TimeFence(TimeFence::parse(&params, display_tz)?),
        "change-freeze" => Check::ChangeFreeze(ChangeFreeze::parse(&params, display_tz)?),
        "self-approval" => Check::SelfApproval,
        "ai-approving-ai" => Check::AiApprovingAi,
        "no-plan" => Check::NoPlan(NoPlan::parse(&params)?),
        "rate-limit" => Check::RateLimit(RateLimit::parse(&params)?),
        "cross-environment" => Check::CrossEnvironment(CrossEnvironment::parse(&params)?),
        "wildcard-permission" => Check::WildcardPermission(WildcardPermission::parse(&params)?),
        "missing-provenance" => Check::MissingProvenance(MissingProvenance::parse(&params)?),
        "time-gap" => Check::TimeGap(TimeGap::parse(&params)?),
        "logging-tamper" => Check::LoggingTamper(LoggingTamper::parse(&params)?),
        "condition" => Check::Condition(Condition::parse(&p.when)?),
        "sigma" => Check::Sigma,
        other => bail!("unknown kind {other:?}"),
    };
    let sources = if p.sources.is_empty() {
        None
    } else {
        let all = [
            SourceFormat::Jsonl,
            SourceFormat::Csv,
            SourceFormat::Parquet,
            SourceFormat::Cloudtrail,
            SourceFormat::K8s,
            SourceFormat::Ocsf,
        ];
        let mut list = Vec::new();
        for name in &p.sources {
            match all.iter().find(|f| f.as_str() == name) {
                Some(f) => list.push(*f),
                None => bail!(
                    "sources: {name:?} is not an audit source (use {})",
                    all.map(|f| f.as_str()).join(", ")
                ),
            }
        }
        Some(list)
    };
    Ok(CompiledPolicy {
        policy: p.clone(),
        check,
        production: params.strings("production_environments", &["prod", "production"])?,
        sources,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audit::policies::hits::testing::policy;

    #[test]
    fn a_policy_reads_only_its_sources() {
        let mut p = policy("self-approval", "");
        let all = compile_one(&p, chrono_tz::Europe::London).unwrap();
        assert!(all.reads(Some(SourceFormat::Jsonl)) && all.reads(None));
        p.sources = vec!["cloudtrail".into()];
        let ct = compile_one(&p, chrono_tz::Europe::London).unwrap();
        assert!(ct.reads(Some(SourceFormat::Cloudtrail)));
        assert!(!ct.reads(Some(SourceFormat::Jsonl)));
        assert!(!ct.reads(Some(SourceFormat::K8s)));
        p.sources = vec!["syslog".into()];
        let err = compile_one(&p, chrono_tz::Europe::London).err().unwrap();
        assert!(format!("{err:#}").contains("\"syslog\""), "{err:#}");
    }
}
