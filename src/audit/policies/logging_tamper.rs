//! `logging-tamper`: the audit trail itself changed: a named action (StopLogging, ...)
//! or a change to a resource matching the patterns.

use std::borrow::Cow;

use anyhow::Result;

use crate::audit::event::AuditEvent;
use crate::audit::matching::Globs;
use crate::audit::model::Hit;

use super::hits::hit;
use super::params::Params;

#[derive(Debug, Clone)]
pub struct LoggingTamper {
    actions: Vec<String>,
    resources: Globs,
}

impl LoggingTamper {
    pub fn parse(params: &Params) -> Result<LoggingTamper> {
        Ok(LoggingTamper {
            actions: params.strings("actions", &["StopLogging", "DeleteTrail", "UpdateTrail"])?,
            resources: Globs::new(&params.strings("resource_patterns", &["*audit-policy*"])?)?,
        })
    }
}

/// Hits on a batch of events, each its own finding.
#[inline]
pub fn check<'b>(
    policy: usize,
    t: &LoggingTamper,
    events: &[AuditEvent<'b>],
    out: &mut Vec<Hit<'b>>,
) {
    for e in events {
        // A call that failed or was denied is an attempt, not a change to the trail.
        if e.dry_run || matches!(&*e.outcome, "failure" | "denied") {
            continue;
        }
        let by_action = t.actions.iter().any(|a| *a == *e.action);
        let by_resource = e.operation.changes() && t.resources.match_any(&e.resource);
        if by_action || by_resource {
            out.push(hit(
                policy,
                e,
                Cow::Borrowed(""),
                format!(
                    "{} ran {:?} on {}: the audit trail itself was changed",
                    e.actor, e.action, e.resource
                ),
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::hits::testing::{details, event, policy};
    use super::*;
    use crate::audit::event::Operation;

    fn tamper() -> LoggingTamper {
        let p = policy("logging-tamper", "");
        LoggingTamper::parse(&Params { policy: &p }).expect("params")
    }

    #[test]
    fn stopping_the_trail_or_changing_the_audit_policy_is_a_hit() {
        let mut stop = event();
        stop.action = Cow::Borrowed("StopLogging");
        let mut policy_change = event();
        (policy_change.action, policy_change.resource) = (
            Cow::Borrowed("patch"),
            Cow::Borrowed("k8s/audit-policy.yaml"),
        );
        let mut out = Vec::new();
        check(0, &tamper(), &[stop, policy_change], &mut out);
        assert_eq!(
            details(&out),
            [
                "agent-7 ran \"StopLogging\" on db/orders: the audit trail itself was changed",
                "agent-7 ran \"patch\" on k8s/audit-policy.yaml: the audit trail itself was changed"
            ]
        );
        assert!(out[0].group.is_empty(), "each event its own finding");
    }

    #[test]
    fn a_dry_run_a_failed_attempt_or_reading_the_audit_policy_is_no_hit() {
        let mut dry = event();
        (dry.action, dry.dry_run) = (Cow::Borrowed("StopLogging"), true);
        let mut read = event();
        (read.operation, read.resource) = (Operation::Read, Cow::Borrowed("audit-policy"));
        let mut failed = event();
        (failed.action, failed.outcome) = (Cow::Borrowed("DeleteTrail"), Cow::Borrowed("failure"));
        let mut denied = event();
        (denied.action, denied.outcome) = (Cow::Borrowed("StopLogging"), Cow::Borrowed("denied"));
        let mut out = Vec::new();
        check(
            0,
            &tamper(),
            &[dry, read, failed, denied, event()],
            &mut out,
        );
        assert!(out.is_empty());
    }
}
