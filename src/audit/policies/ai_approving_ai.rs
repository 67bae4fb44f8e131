//! `ai-approving-ai`: an AI agent approved a production change.

use crate::audit::event::{ActorType, AuditEvent, Operation};
use crate::audit::model::Hit;

use super::hits::{hit, is_prod, sentence, Text};

/// Hits on a batch of events (bit `k` of `in_prod`: `events[k]` is in production).
#[inline]
pub fn check<'b>(policy: usize, events: &[AuditEvent<'b>], in_prod: u64, out: &mut Vec<Hit<'b>>) {
    for (k, e) in events.iter().enumerate() {
        let ai_approver = e.approver_type == Some(ActorType::AiAgent)
            || (e.operation == Operation::Approve && e.actor_type == ActorType::AiAgent);
        if ai_approver && is_prod(in_prod, k) {
            let approver = if e.operation == Operation::Approve {
                &e.actor
            } else {
                &e.approved_by
            };
            out.push(hit(
                policy,
                e,
                e.change_id.clone(),
                sentence(&[
                    Text("AI agent "),
                    Text(approver),
                    Text(" approved a production change"),
                ]),
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use std::borrow::Cow;

    use super::super::hits::testing::{details, event};
    use super::*;

    #[test]
    fn an_ai_approver_in_production_is_a_hit() {
        let mut e = event();
        e.approved_by = Cow::Borrowed("reviewer-bot");
        e.approver_type = Some(ActorType::AiAgent);
        let mut approve = event();
        approve.operation = Operation::Approve;
        let mut out = Vec::new();
        check(0, &[e, approve], 0b11, &mut out);
        assert_eq!(
            details(&out),
            [
                "AI agent reviewer-bot approved a production change",
                "AI agent agent-7 approved a production change"
            ]
        );
    }

    #[test]
    fn outside_production_or_by_a_human_is_no_hit() {
        let mut staging = event();
        staging.approver_type = Some(ActorType::AiAgent);
        let mut human = event();
        human.approver_type = Some(ActorType::Human);
        human.approved_by = Cow::Borrowed("alice");
        let mut out = Vec::new();
        check(0, &[staging, human], 0b10, &mut out);
        assert!(out.is_empty());
    }
}
