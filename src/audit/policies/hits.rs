//! What the checks share: a hit on an event, the sentence it says, and adding events to a
//! finding.

use std::borrow::Cow;

use crate::audit::event::AuditEvent;
use crate::audit::findings::FindingStore;
use crate::audit::model::{EventRef, Hit};

/// Where an event sits.
#[inline]
pub fn place(e: &AuditEvent) -> EventRef {
    EventRef {
        source: e.source,
        line: e.line,
        at: e.at,
    }
}

/// Bit `k` of `in_prod`: whether `events[k]` of a batch is in one of the policy's
/// production environments (the engine sets a bit per event).
#[inline(always)]
pub fn is_prod(in_prod: u64, k: usize) -> bool {
    in_prod >> k & 1 != 0
}

/// A hit of policy `policy` on `e`: events with the same `group` become one finding.
#[inline]
pub fn hit<'b>(policy: usize, e: &AuditEvent<'b>, group: Cow<'b, str>, detail: String) -> Hit<'b> {
    Hit {
        policy,
        group,
        detail,
        event: place(e),
        // Cloning a `Cow` borrows again what the event borrows from the input, and
        // copies only what the event has its own copy of.
        actor: e.actor.clone(),
        resource: e.resource.clone(),
        change_id: e.change_id.clone(),
        awaits_approval: false,
    }
}

/// An event to add to a finding, from a whole-history check: policy, change id, detail,
/// event, actor.
pub type Added = (usize, String, String, EventRef, String);

/// Adds events to finding (`policy`, `group`), started with `detail` if it is new.
pub fn add_finding(
    store: &mut FindingStore,
    policy: usize,
    group: String,
    detail: String,
    change_id: &str,
    refs: &[(EventRef, &str, &str)],
) {
    for (r, actor, resource) in refs {
        store.add(
            policy,
            &group,
            detail.clone(),
            change_id,
            *r,
            actor,
            resource,
        );
    }
}

/// A piece of a finding's sentence: text as it is, or text as `{:?}` prints it.
pub enum Piece<'a> {
    Text(&'a str),
    Quoted(&'a str),
}
pub use Piece::{Quoted, Text};

/// A finding's sentence put together from its pieces. (`format!` was a third of the
/// per-event checks' cost where findings are many, most of it in the formatting
/// machinery and in `{:?}` escaping one character at a time.)
pub fn sentence(pieces: &[Piece]) -> String {
    let len = pieces
        .iter()
        .map(|p| match p {
            Text(t) => t.len(),
            Quoted(t) => t.len() + 2,
        })
        .sum();
    let mut out = String::with_capacity(len);
    for p in pieces {
        match p {
            Text(t) => out.push_str(t),
            Quoted(t) => push_debug(&mut out, t),
        }
    }
    out
}

/// `text` as `{:?}` prints it: in double quotes, escaped. Printable ASCII without quotes
/// or backslashes (nearly every action and name) prints as it is.
fn push_debug(out: &mut String, text: &str) {
    if text
        .bytes()
        .all(|b| (0x20..0x7f).contains(&b) && b != b'"' && b != b'\\')
    {
        out.push('"');
        out.push_str(text);
        out.push('"');
    } else {
        use std::fmt::Write;
        let _ = write!(out, "{text:?}");
    }
}

/// Events and policies for the kinds' unit tests.
#[cfg(test)]
pub mod testing {
    use std::borrow::Cow;

    use crate::audit::change_map::{ChangeMap, Held};
    use crate::audit::event::{ActorType, AuditEvent, Operation};
    use crate::audit::findings::{FindingStore, Gathering};
    use crate::audit::history::{update_change, HistoryEvent, Symbols};
    use crate::audit::model::Hit;
    use crate::controls::{Policy, Severity};

    /// Wednesday 4 March 2026, 10:00 UTC (a working day, in working hours).
    pub const WEDNESDAY_10AM: i64 = 1_772_618_400_000;

    /// An AI agent deleting a production database in change CHG-1, with its prompt and
    /// tool call logged and no approval: tests change what they need.
    pub fn event() -> AuditEvent<'static> {
        AuditEvent {
            at: WEDNESDAY_10AM,
            actor: Cow::Borrowed("agent-7"),
            actor_type: ActorType::AiAgent,
            agent: Cow::Borrowed("coder"),
            action: Cow::Borrowed("DeleteDBInstance"),
            operation: Operation::Delete,
            also_permission_change: false,
            resource: Cow::Borrowed("db/orders"),
            resource_type: Cow::Borrowed("database"),
            environment: Cow::Borrowed("prod"),
            account: Cow::Borrowed("111111111111"),
            region: Cow::Borrowed("eu-west-2"),
            change_id: Cow::Borrowed("CHG-1"),
            dry_run: false,
            approved_by: Cow::Borrowed(""),
            approver_type: None,
            approved_at: None,
            outcome: Cow::Borrowed("success"),
            prompt_ref: true,
            tool_call_ref: true,
            grants: Cow::Borrowed(""),
            source: 0,
            line: 1,
        }
    }

    /// A policy of `kind` with `params` (TOML, as in `policies.toml`).
    pub fn policy(kind: &str, params: &str) -> Policy {
        Policy {
            id: format!("test-{kind}"),
            title: format!("Test {kind}"),
            severity: Severity::High,
            kind: kind.into(),
            enabled: true,
            checks: String::new(),
            rationale: String::new(),
            params: toml::from_str(params).expect("test params"),
            when: Vec::new(),
            nist: Vec::new(),
            obligations: Vec::new(),
            sources: Vec::new(),
            source: None,
        }
    }

    /// The histories of `events`' changes, as the engine keeps them (production is
    /// `prod`).
    pub fn changes(events: &[AuditEvent]) -> (ChangeMap, Symbols) {
        let mut map = ChangeMap::default();
        let mut symbols = Symbols::default();
        for e in events {
            if let Held::Here(st) = map.get_or_start(&e.change_id, e.at, usize::MAX, |_, _| {}) {
                let h = HistoryEvent::of(e, e.environment == "prod");
                update_change(st, &h, (10_000, 8), &mut symbols);
            }
        }
        (map, symbols)
    }

    /// The hits' sentences.
    pub fn details(hits: &[Hit]) -> Vec<String> {
        hits.iter().map(|h| h.detail.clone()).collect()
    }

    /// The findings a store holds, by group, in order.
    pub fn held(store: &FindingStore) -> Vec<(String, &Gathering)> {
        let mut all: Vec<(String, &Gathering)> = store
            .held()
            .map(|((_, group), g)| (group.clone(), g))
            .collect();
        all.sort_by(|a, b| a.0.cmp(&b.0));
        all
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sentences_print_as_format_prints() {
        for text in [
            "",
            "terraform destroy",
            "DROP TABLE \"orders\"",
            "a\\b",
            "tab\there",
            "caf\u{e9}",
            "soft\u{ad}hyphen",
            "\u{7f}",
            "combining \u{301} accent",
            "emoji \u{1f600}",
        ] {
            let built = sentence(&[Text("ran "), Quoted(text), Text(" on x")]);
            assert_eq!(built, format!("ran {text:?} on x"), "{text:?}");
        }
    }
}
