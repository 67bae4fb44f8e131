//! `no-plan`: a production apply with no plan or dry run before it: from a change's whole
//! history, or at once for an AI agent's change with no change id (no plan can precede
//! what cannot be linked to one).

use anyhow::Result;

use crate::audit::change_map::ChangeMap;
use crate::audit::event::{ActorType, AuditEvent, Operation};
use crate::audit::history::Symbols;
use crate::audit::model::Hit;

use super::hits::{hit, is_prod, sentence, Added, Text};
use super::params::Params;

/// The operations that apply a change.
#[derive(Debug, Clone)]
pub struct NoPlan {
    applying: Vec<Operation>,
}

impl NoPlan {
    pub fn parse(params: &Params) -> Result<NoPlan> {
        Ok(NoPlan {
            applying: params.operations(
                "applying_operations",
                &["create", "update", "delete", "deploy"],
            )?,
        })
    }
}

/// Hits on a batch of events (bit `k` of `in_prod`: `events[k]` is in production): one
/// finding per agent and day.
#[inline]
pub fn check<'b>(
    policy: usize,
    no_plan: &NoPlan,
    events: &[AuditEvent<'b>],
    in_prod: u64,
    out: &mut Vec<Hit<'b>>,
) {
    for (k, e) in events.iter().enumerate() {
        if e.change_id.is_empty()
            && e.actor_type == ActorType::AiAgent
            && is_prod(in_prod, k)
            && !e.dry_run
            && no_plan.applying.iter().any(|&op| e.is(op))
        {
            let day = itoa::Buffer::new()
                .format(e.at.div_euclid(86_400_000))
                .to_owned();
            out.push(hit(
                policy,
                e,
                sentence(&[Text(&e.actor), Text(":"), Text(&day)]).into(),
                sentence(&[
                    Text("AI agent "),
                    Text(&e.actor),
                    Text(" changed production with no change id, so no plan can precede it"),
                ]),
            ));
        }
    }
}

/// Changes first applied to production before any plan or dry run.
pub fn check_changes(policy: usize, changes: &ChangeMap, symbols: &Symbols, out: &mut Vec<Added>) {
    for (id, st) in changes.iter() {
        if let Some(apply) = st.first_prod_apply {
            if st.plan_at.is_none_or(|p| p > apply.at) {
                let actor = symbols.name(st.first_prod_actor).to_string();
                let detail = format!(
                    "Change {id} was applied to production by {actor} with no plan or dry run before it"
                );
                out.push((policy, id.to_string(), detail, apply, actor));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::borrow::Cow;

    use super::super::hits::testing::{changes, details, event, policy};
    use super::*;

    fn no_plan() -> NoPlan {
        let p = policy("no-plan", "");
        NoPlan::parse(&Params { policy: &p }).expect("params")
    }

    #[test]
    fn an_agent_change_with_no_change_id_is_a_hit_per_day() {
        let mut e = event();
        e.change_id = Cow::Borrowed("");
        let mut out = Vec::new();
        check(0, &no_plan(), &[e], 1, &mut out);
        assert_eq!(
            details(&out),
            ["AI agent agent-7 changed production with no change id, so no plan can precede it"]
        );
        assert_eq!(&*out[0].group, "agent-7:20516");
    }

    #[test]
    fn a_change_id_a_read_or_staging_is_no_hit() {
        let mut read = event();
        (read.change_id, read.operation) = (Cow::Borrowed(""), Operation::Read);
        let mut staging = event();
        staging.change_id = Cow::Borrowed("");
        let mut out = Vec::new();
        check(0, &no_plan(), &[event(), read, staging], 0b011, &mut out);
        assert!(out.is_empty());
    }

    #[test]
    fn a_change_applied_before_its_plan_is_found_and_one_planned_first_is_not() {
        let mut plan = event();
        (plan.operation, plan.change_id) = (Operation::Plan, Cow::Borrowed("CHG-2"));
        plan.at -= 1;
        let mut planned = event();
        planned.change_id = Cow::Borrowed("CHG-2");
        let (map, symbols) = changes(&[event(), plan, planned]);
        let mut out = Vec::new();
        check_changes(2, &map, &symbols, &mut out);
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].1, "CHG-1");
        assert_eq!(
            out[0].2,
            "Change CHG-1 was applied to production by agent-7 with no plan or dry run before it"
        );
    }
}
