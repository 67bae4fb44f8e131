//! `destructive-without-approval`: an AI agent's destructive production change with no
//! human approval at or before it. The approval may be an approve event later in the
//! file, so a hit waits for its change's whole history.

use crate::audit::change_map::ChangeMap;
use crate::audit::event::{ActorType, AuditEvent};
use crate::audit::history::Symbols;
use crate::audit::model::Hit;

use super::hits::{hit, is_prod, sentence, Quoted, Text};
use super::params::Destructive;

/// The event carries its own approval by a human other than the actor, given before it.
fn inline_human_approval(e: &AuditEvent) -> bool {
    e.approver_type == Some(ActorType::Human)
        && !e.approved_by.is_empty()
        && !e.approved_by.eq_ignore_ascii_case(&e.actor)
        && e.approved_at.is_none_or(|t| t <= e.at)
}

/// Hits on a batch of events (bit `k` of `in_prod`: `events[k]` is in production), each
/// waiting for its change's approvals.
#[inline]
pub fn check<'b>(
    policy: usize,
    d: &Destructive,
    events: &[AuditEvent<'b>],
    in_prod: u64,
    out: &mut Vec<Hit<'b>>,
) {
    for (k, e) in events.iter().enumerate() {
        if e.actor_type == ActorType::AiAgent
            && is_prod(in_prod, k)
            && d.holds(e)
            && !inline_human_approval(e)
        {
            let mut h = hit(
                policy,
                e,
                e.change_id.clone(),
                sentence(&[
                    Text("AI agent "),
                    Text(&e.actor),
                    Text(" ran "),
                    Quoted(&e.action),
                    Text(" on "),
                    Text(&e.resource),
                    Text(" in "),
                    Text(&e.environment),
                    Text(" with no human approval before it"),
                ]),
            );
            h.awaits_approval = true;
            out.push(h);
        }
    }
}

/// Keeps in `out` the `candidates` whose change has no approval by a human other than
/// the actor at or before them.
pub fn unapproved(
    changes: &ChangeMap,
    symbols: &Symbols,
    candidates: Vec<Hit<'static>>,
    out: &mut Vec<Hit<'static>>,
) {
    for h in candidates {
        let (at, actor) = (h.event.at, &*h.actor);
        let approved = changes.get(&h.change_id).is_some_and(|c| {
            c.approvals.iter().any(|(who, t, r)| {
                *t == ActorType::Human && symbols.name(*who) != actor && r.at <= at
            })
        });
        if !approved {
            out.push(h);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::borrow::Cow;

    use super::super::hits::testing::{changes, details, event, policy};
    use super::super::params::Params;
    use super::*;
    use crate::audit::event::Operation;

    fn destructive() -> Destructive {
        let p = policy("destructive-without-approval", "");
        Params { policy: &p }.destructive().expect("defaults")
    }

    #[test]
    fn an_agent_deleting_in_production_unapproved_is_a_candidate() {
        let mut out = Vec::new();
        check(3, &destructive(), &[event()], 1, &mut out);
        assert_eq!(
            details(&out),
            ["AI agent agent-7 ran \"DeleteDBInstance\" on db/orders in prod with no human approval before it"]
        );
        assert!(out[0].awaits_approval);
        assert_eq!((out[0].policy, &*out[0].group), (3, "CHG-1"));
    }

    #[test]
    fn an_inline_human_approval_or_a_dry_run_or_staging_is_no_hit() {
        let mut approved = event();
        approved.approved_by = Cow::Borrowed("alice");
        approved.approver_type = Some(ActorType::Human);
        let mut dry = event();
        dry.dry_run = true;
        let mut out = Vec::new();
        check(0, &destructive(), &[approved, dry], 0b11, &mut out);
        check(0, &destructive(), &[event()], 0, &mut out);
        assert!(out.is_empty());
    }

    #[test]
    fn an_approve_event_by_a_human_before_it_clears_the_candidate() {
        let mut approve = event();
        (approve.operation, approve.actor_type) = (Operation::Approve, ActorType::Human);
        (approve.actor, approve.at) = (Cow::Borrowed("alice"), event().at - 1);
        let mut late = approve.clone();
        late.change_id = Cow::Borrowed("CHG-2");
        late.at = event().at + 1;
        let mut second = event();
        second.change_id = Cow::Borrowed("CHG-2");
        let (map, symbols) = changes(&[approve, late, event(), second.clone()]);
        let mut hits = Vec::new();
        check(0, &destructive(), &[event(), second], 0b11, &mut hits);
        let mut out = Vec::new();
        let hits = hits.into_iter().map(Hit::into_owned).collect();
        unapproved(&map, &symbols, hits, &mut out);
        // CHG-2's approval came after its delete.
        assert_eq!(out.len(), 1);
        assert_eq!(&*out[0].change_id, "CHG-2");
    }
}
