//! `rate-limit`: an AI agent making more than `max_changes` changes within a window.
//! Each agent's change events are kept (as places) and read through at the end.

use anyhow::Result;
use rustc_hash::FxHashMap;

use crate::audit::event::{millis_to_time, ActorType, AuditEvent};
use crate::audit::findings::FindingStore;
use crate::audit::model::EventRef;

use super::hits::add_finding;
use super::params::Params;

#[derive(Debug, Clone)]
pub struct RateLimit {
    max_changes: usize,
    window_ms: i64,
}

impl RateLimit {
    pub fn parse(params: &Params) -> Result<RateLimit> {
        Ok(RateLimit {
            max_changes: params.int("max_changes", 30)? as usize,
            window_ms: params.minutes("window_minutes", 10)?.max(60_000),
        })
    }
}

/// Each AI agent's change events.
#[derive(Default)]
pub struct AiChanges(FxHashMap<Box<str>, Vec<EventRef>>);

impl AiChanges {
    /// Keeps `e` (at `r`) if it is an AI agent's change (`changes`: not a read, plan,
    /// approval or dry run).
    #[inline]
    pub fn observe(&mut self, e: &AuditEvent, changes: bool, r: EventRef) {
        if changes && e.actor_type == ActorType::AiAgent {
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
            let detail = format!(
                "AI agent {actor} made {count} changes within {} minutes from {} (limit {max_changes})",
                window_ms / 60_000,
                t0.format("%Y-%m-%d %H:%M UTC")
            );
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
            changes.observe(&e, true, place(&e));
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
        let mut human = AiChanges::default();
        let mut e = event();
        e.actor_type = ActorType::Human;
        human.observe(&e, true, place(&e));
        human.observe(&event(), false, place(&e));
        assert_eq!(human.events(), 0);
    }
}
