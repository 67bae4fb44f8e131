//! `cross-environment`: one identity (of the watched actor types) acting both in
//! production and in another environment. The first place seen in each is kept per actor.

use anyhow::{Context, Result};
use rustc_hash::FxHashMap;

use crate::audit::event::{ActorType, AuditEvent};
use crate::audit::findings::FindingStore;
use crate::audit::model::EventRef;

use super::hits::add_finding;
use super::params::Params;

/// The actor types watched.
#[derive(Debug, Clone)]
pub struct CrossEnvironment {
    actor_types: Vec<ActorType>,
}

impl CrossEnvironment {
    pub fn parse(params: &Params) -> Result<CrossEnvironment> {
        Ok(CrossEnvironment {
            actor_types: params
                .strings("actor_types", &["ai_agent", "service"])?
                .iter()
                .map(|t| {
                    ActorType::parse(t).with_context(|| {
                        format!("params.actor_types: {t:?} is not one of {}", ActorType::ALL)
                    })
                })
                .collect::<Result<_>>()?,
        })
    }
}

/// Per-actor state: the first event in production and the first elsewhere.
#[derive(Default)]
struct ActorEnvironments {
    prod: Option<(EventRef, String)>,
    other: Option<(EventRef, String)>,
}

/// The watched actors, as the events stream past.
pub struct Watch {
    types: Vec<ActorType>,
    production: Vec<String>,
    actors: FxHashMap<Box<str>, ActorEnvironments>,
}

impl Watch {
    /// Watches the actor types of `c`, with the policy's `production` environments.
    pub fn new(c: &CrossEnvironment, production: &[String]) -> Watch {
        Watch {
            types: c.actor_types.clone(),
            production: production.to_vec(),
            actors: FxHashMap::default(),
        }
    }

    /// Notes where `e` (at `r`) was, if its actor is watched.
    #[inline]
    pub fn observe(&mut self, e: &AuditEvent, r: EventRef) {
        if self.types.contains(&e.actor_type)
            && !e.environment.is_empty()
            && e.environment != "unknown"
        {
            let slot = match self.actors.get_mut(&*e.actor) {
                Some(s) => s,
                None => self.actors.entry(Box::from(&*e.actor)).or_default(),
            };
            let p = self.production.iter().any(|x| *x == *e.environment);
            let which = if p { &mut slot.prod } else { &mut slot.other };
            if which.is_none() {
                *which = Some((r, e.environment.to_string()));
            }
        }
    }

    /// Adds a finding of `policy` for each actor seen in both.
    pub fn finish(&self, policy: usize, store: &mut FindingStore) {
        for (actor, envs) in &self.actors {
            if let (Some((p, pe)), Some((o, oe))) = (&envs.prod, &envs.other) {
                let detail = format!("{actor} acted in {pe} and in {oe} with the same identity");
                let refs = [(*o, &**actor, ""), (*p, &**actor, "")];
                add_finding(store, policy, actor.to_string(), detail, "", &refs);
            }
        }
    }

    /// How many actors are watched.
    pub fn len(&self) -> usize {
        self.actors.len()
    }
}

#[cfg(test)]
mod tests {
    use std::borrow::Cow;

    use super::super::hits::place;
    use super::super::hits::testing::{event, held, policy};
    use super::*;

    fn watch(events: &[AuditEvent]) -> FindingStore {
        let p = policy("cross-environment", "");
        let c = CrossEnvironment::parse(&Params { policy: &p }).expect("params");
        let mut w = Watch::new(&c, &["prod".to_string()]);
        for e in events {
            w.observe(e, place(e));
        }
        let mut store = FindingStore::new(100);
        w.finish(0, &mut store);
        store
    }

    #[test]
    fn an_agent_in_production_and_in_staging_is_a_finding() {
        let mut staging = event();
        (staging.environment, staging.line) = (Cow::Borrowed("staging"), 2);
        let store = watch(&[event(), staging]);
        let found = held(&store);
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].0, "agent-7");
        assert_eq!(
            found[0].1.detail,
            "agent-7 acted in prod and in staging with the same identity"
        );
        assert_eq!(found[0].1.event_count, 2);
    }

    #[test]
    fn a_human_in_both_or_an_unknown_environment_is_no_finding() {
        let mut human = event();
        human.actor_type = ActorType::Human;
        let mut human_staging = human.clone();
        human_staging.environment = Cow::Borrowed("staging");
        let mut unknown = event();
        unknown.environment = Cow::Borrowed("unknown");
        let store = watch(&[human, human_staging, event(), unknown]);
        assert_eq!(store.len(), 0);
    }
}
