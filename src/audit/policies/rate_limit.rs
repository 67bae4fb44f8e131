//! `rate-limit`: an AI agent making more than `max_changes` changes within a window; or,
//! with a `when` (the conditions of the `condition` kind), any actor with more than
//! `max_changes` events meeting them (denied calls, secrets read). Each actor's counted
//! events are kept (as places) and read through at the end.

use anyhow::{Context, Result};
use rustc_hash::FxHashMap;

use crate::audit::event::{millis_to_time, ActorType, AuditEvent};
use crate::audit::findings::FindingStore;
use crate::audit::model::EventRef;

use super::condition::Condition;
use super::hits::add_finding;
use super::params::Params;

#[derive(Debug, Clone)]
pub struct RateLimit {
    max_changes: usize,
    window_ms: i64,
    /// What is counted instead of AI changes, by anyone: events meeting these.
    filter: Option<Condition>,
    /// What the counted events are called in a finding (`counting`).
    counting: String,
}

impl RateLimit {
    pub fn parse(params: &Params) -> Result<RateLimit> {
        let when = &params.policy.when;
        Ok(RateLimit {
            max_changes: params.int("max_changes", 30)? as usize,
            window_ms: params.minutes("window_minutes", 10)?.max(60_000),
            filter: (!when.is_empty())
                .then(|| Condition::parse(when))
                .transpose()?,
            counting: match params.get("counting") {
                None => "events meeting the policy".into(),
                Some(v) => v
                    .as_str()
                    .context("params.counting must be text")?
                    .to_string(),
            },
        })
    }
}

/// Each AI agent's change events.
#[derive(Default)]
pub struct AiChanges(FxHashMap<Box<str>, Vec<EventRef>>);

impl AiChanges {
    /// Keeps `e` (at `r`) if it is an AI agent's change (`changes`: not a read, plan,
    /// approval or dry run), or, for a limit with a filter, if it meets the filter.
    #[inline]
    pub fn observe(&mut self, e: &AuditEvent, limit: &RateLimit, changes: bool, r: EventRef) {
        let counted = match &limit.filter {
            None => changes && e.actor_type == ActorType::AiAgent,
            Some(c) => c.holds(e),
        };
        if counted {
            match self.0.get_mut(&*e.actor) {
                Some(v) => v.push(r),
                None => {
                    self.0.insert(Box::from(&*e.actor), vec![r]);
                }
            }
        }
    }

    /// Adds a finding of `policy` for each burst over `limit`.
    pub fn finish(&mut self, policy: usize, limit: &RateLimit, store: &mut FindingStore) {
        let RateLimit {
            max_changes,
            window_ms,
            ..
        } = limit;
        let mut found = Vec::new();
        for (actor, refs) in &mut self.0 {
            refs.sort_by_key(|r| (r.at, r.source, r.line));
            let mut start = 0;
            let mut end = 0;
            while start < refs.len() {
                while end < refs.len() && refs[end].at < refs[start].at + window_ms {
                    end += 1;
                }
                if end - start > *max_changes {
                    let count = end - start;
                    found.push((actor.to_string(), refs[start..end].to_vec(), count));
                    start = end;
                } else {
                    start += 1;
                }
            }
        }
        for (actor, burst, count) in found {
            let t0 = millis_to_time(burst[0].at);
            let (minutes, from) = (window_ms / 60_000, t0.format("%Y-%m-%d %H:%M UTC"));
            let detail = match &limit.filter {
                None => format!(
                    "AI agent {actor} made {count} changes within {minutes} minutes from {from} (limit {max_changes})"
                ),
                Some(_) => format!(
                    "{actor}: {count} {} within {minutes} minutes from {from} (limit {max_changes})",
                    limit.counting
                ),
            };
            let refs: Vec<(EventRef, &str, &str)> =
                burst.iter().map(|r| (*r, actor.as_str(), "")).collect();
            let group = format!("{actor}@{}", burst[0].at);
            add_finding(store, policy, group, detail, "", &refs);
        }
    }

    /// How many events are kept.
    pub fn events(&self) -> usize {
        self.0.values().map(Vec::len).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::super::hits::place;
    use super::super::hits::testing::{event, held, policy};
    use super::*;

    fn run(params: &str, minutes: &[i64]) -> FindingStore {
        let p = policy("rate-limit", params);
        let limit = RateLimit::parse(&Params { policy: &p }).expect("params");
        let mut changes = AiChanges::default();
        for (i, m) in minutes.iter().enumerate() {
            let mut e = event();
            (e.at, e.line) = (e.at + m * 60_000, i as u64 + 1);
            changes.observe(&e, &limit, true, place(&e));
        }
        let mut store = FindingStore::new(100);
        changes.finish(5, &limit, &mut store);
        store
    }

    #[test]
    fn more_changes_than_the_limit_in_a_window_is_a_finding() {
        let store = run("max_changes = 3\nwindow_minutes = 10", &[0, 1, 2, 9, 30]);
        let found = held(&store);
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].0, "agent-7@1772618400000");
        let g = found[0].1;
        assert_eq!(
            g.detail,
            "AI agent agent-7 made 4 changes within 10 minutes from 2026-03-04 10:00 UTC (limit 3)"
        );
        assert_eq!(g.event_count, 4);
    }

    #[test]
    fn as_many_changes_as_the_limit_is_no_finding() {
        let store = run(
            "max_changes = 3\nwindow_minutes = 10",
            &[0, 1, 2, 10, 11, 12],
        );
        assert_eq!(store.len(), 0);
        let p = policy("rate-limit", "");
        let limit = RateLimit::parse(&Params { policy: &p }).expect("params");
        let mut human = AiChanges::default();
        let mut e = event();
        e.actor_type = ActorType::Human;
        human.observe(&e, &limit, true, place(&e));
        human.observe(&event(), &limit, false, place(&e));
        assert_eq!(human.events(), 0);
    }

    #[test]
    fn a_filtered_limit_counts_what_meets_its_conditions_by_anyone() {
        let mut p = policy("rate-limit", "max_changes = 2\ncounting = \"denied calls\"");
        p.when = toml::from_str::<toml::Table>(r#"when = [{ field = "outcome", is = "denied" }]"#)
            .expect("when")["when"]
            .as_array()
            .expect("list")
            .clone();
        let limit = RateLimit::parse(&Params { policy: &p }).expect("params");
        let mut counts = AiChanges::default();
        for i in 0..4 {
            let mut e = event();
            (e.actor_type, e.line, e.at) = (ActorType::Human, i + 1, e.at + i as i64 * 1000);
            if i > 0 {
                e.outcome = std::borrow::Cow::Borrowed("denied");
            }
            counts.observe(&e, &limit, false, place(&e));
        }
        let mut store = FindingStore::new(100);
        counts.finish(0, &limit, &mut store);
        let found = held(&store);
        assert_eq!(found.len(), 1);
        assert_eq!(
            found[0].1.detail,
            "agent-7: 3 denied calls within 10 minutes from 2026-03-04 10:00 UTC (limit 2)"
        );
    }
}
