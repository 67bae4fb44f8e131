//! `self-approval`: the author approved their own change, on the event itself or by an
//! approve event of a change they applied.

use crate::audit::change_map::ChangeMap;
use crate::audit::event::AuditEvent;
use crate::audit::history::Symbols;
use crate::audit::model::Hit;

use super::hits::{hit, sentence, Added, Text};

/// Hits on a batch of events: each approved by its own actor.
#[inline]
pub fn check<'b>(policy: usize, events: &[AuditEvent<'b>], out: &mut Vec<Hit<'b>>) {
    for e in events {
        if !e.approved_by.is_empty() && e.approved_by.eq_ignore_ascii_case(&e.actor) {
            out.push(hit(
                policy,
                e,
                e.change_id.clone(),
                sentence(&[Text(&e.actor), Text(" approved their own change")]),
            ));
        }
    }
}

/// Approve events by someone who applied the same change.
pub fn check_changes(policy: usize, changes: &ChangeMap, symbols: &Symbols, out: &mut Vec<Added>) {
    for (id, st) in changes.iter() {
        for (who, _, r) in &st.approvals {
            let who = symbols.name(*who);
            if st
                .appliers
                .0
                .iter()
                .any(|&a| symbols.name(a).eq_ignore_ascii_case(who))
            {
                let detail = format!("{who} approved their own change {id}");
                out.push((policy, id.to_string(), detail, *r, who.to_string()));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::borrow::Cow;

    use super::super::hits::testing::{changes, details, event};
    use super::*;
    use crate::audit::event::{ActorType, Operation};

    #[test]
    fn an_actor_approving_their_own_event_is_a_hit() {
        let mut e = event();
        e.approved_by = Cow::Borrowed("Agent-7");
        let mut out = Vec::new();
        check(0, &[e], &mut out);
        assert_eq!(details(&out), ["agent-7 approved their own change"]);
    }

    #[test]
    fn an_approval_by_someone_else_is_no_hit() {
        let mut e = event();
        e.approved_by = Cow::Borrowed("alice");
        let mut out = Vec::new();
        check(0, &[e, event()], &mut out);
        assert!(out.is_empty());
    }

    #[test]
    fn an_approve_event_by_an_applier_of_the_change_is_found() {
        let approve = |actor: &'static str, id: &'static str| {
            let mut a = event();
            (a.operation, a.actor_type) = (Operation::Approve, ActorType::Human);
            (a.actor, a.change_id) = (Cow::Borrowed(actor), Cow::Borrowed(id));
            a
        };
        let mut other = event();
        other.change_id = Cow::Borrowed("CHG-2");
        let (map, symbols) = changes(&[
            event(),
            approve("agent-7", "CHG-1"),
            other,
            approve("alice", "CHG-2"),
        ]);
        let mut out = Vec::new();
        check_changes(4, &map, &symbols, &mut out);
        assert_eq!(out.len(), 1, "alice applied nothing in CHG-2");
        assert_eq!(out[0].0, 4);
        assert_eq!(out[0].1, "CHG-1");
        assert_eq!(out[0].2, "agent-7 approved their own change CHG-1");
    }
}
