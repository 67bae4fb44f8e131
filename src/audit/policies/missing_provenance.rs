//! `missing-provenance`: an AI agent's action with no logged prompt or tool call: one
//! finding per agent, day and what was missing.

use anyhow::Result;

use crate::audit::event::{millis_to_time, ActorType, AuditEvent, Operation};
use crate::audit::model::Hit;

use super::hits::{hit, sentence, Text};
use super::params::Params;

/// Operations that need no provenance.
#[derive(Debug, Clone)]
pub struct MissingProvenance {
    exempt: Vec<Operation>,
}

impl MissingProvenance {
    pub fn parse(params: &Params) -> Result<MissingProvenance> {
        Ok(MissingProvenance {
            exempt: params.operations("exempt_operations", &[])?,
        })
    }
}

/// Hits on a batch of events.
#[inline]
pub fn check<'b>(
    policy: usize,
    m: &MissingProvenance,
    events: &[AuditEvent<'b>],
    out: &mut Vec<Hit<'b>>,
) {
    for e in events {
        if e.actor_type == ActorType::AiAgent
            && !m.exempt.contains(&e.operation)
            && !(e.prompt_ref && e.tool_call_ref)
        {
            let missing = match (e.prompt_ref, e.tool_call_ref) {
                (false, false) => "prompt and tool call",
                (false, true) => "prompt",
                _ => "tool call",
            };
            let mut day = String::with_capacity(10);
            crate::clock::push_date(&mut day, millis_to_time(e.at).date_naive());
            out.push(hit(
                policy,
                e,
                sentence(&[
                    Text(&e.actor),
                    Text(":"),
                    Text(&day),
                    Text(":"),
                    Text(missing),
                ])
                .into(),
                sentence(&[
                    Text("AI agent "),
                    Text(&e.actor),
                    Text(" acted on "),
                    Text(&day),
                    Text(" with no logged "),
                    Text(missing),
                ]),
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::hits::testing::{details, event, policy};
    use super::*;

    fn provenance(params: &str) -> MissingProvenance {
        let p = policy("missing-provenance", params);
        MissingProvenance::parse(&Params { policy: &p }).expect("params")
    }

    #[test]
    fn an_agent_action_without_its_prompt_is_a_hit() {
        let mut e = event();
        e.prompt_ref = false;
        let mut out = Vec::new();
        check(0, &provenance(""), &[e], &mut out);
        assert_eq!(
            details(&out),
            ["AI agent agent-7 acted on 2026-03-04 with no logged prompt"]
        );
        assert_eq!(&*out[0].group, "agent-7:2026-03-04:prompt");
    }

    #[test]
    fn a_logged_action_a_human_or_an_exempt_operation_is_no_hit() {
        let mut human = event();
        (human.actor_type, human.tool_call_ref) = (ActorType::Human, false);
        let mut read = event();
        (read.operation, read.tool_call_ref) = (Operation::Read, false);
        let mut out = Vec::new();
        let m = provenance("exempt_operations = [\"read\"]");
        check(0, &m, &[event(), human, read], &mut out);
        assert!(out.is_empty());
    }
}
