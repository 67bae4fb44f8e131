//! The streaming machinery: the per-event checks run on each batch ([`Rules`]), the
//! history kept as events stream past ([`Engine`]), and the checks on whole histories
//! at the end (`ChangeChecks`). Each kind's own logic is in its file; here its `Check`
//! variant is matched, once per policy per batch of events.

use crate::audit::sources::intake::SourceFormat;
use anyhow::Result;
use chrono_tz::Tz;
use rayon::prelude::*;
use rustc_hash::FxHashMap;

use super::hits::{add_finding, place, Added};
use super::{
    ai_approving_ai, blast_radius, change_freeze, condition, cross_environment,
    destructive_without_approval, logging_tamper, missing_provenance, no_plan, rate_limit,
    self_approval, time_fence, time_gap, wildcard_permission, Check, CompiledPolicy,
};
use crate::audit::change_map::{ChangeMap, Held};
use crate::audit::event::{ActorType, AuditEvent};
use crate::audit::findings::{FindingStore, Findings, Gathering};
use crate::audit::history::{
    decode_state, encode_state, partition, update_change, ChangeState, Distinct, HistoryEvent,
    Spill, Spilled, Symbols, PARTITIONS, RESOURCES_COUNTED,
};
use crate::audit::metrics::{ChangeMetrics, Deployment, IncidentIndex};
use crate::audit::model::{hash, Finding, Hit};
use crate::clock::Calendar;
use crate::incidents::record::Incident;

/// Events checked together by each policy in turn (see [`Rules::check`]); at most 64, a
/// bit each in a machine word.
const CHECKED_TOGETHER: usize = 64;
const _: () = assert!(CHECKED_TOGETHER <= 64);

/// The per-event checks: shared by the threads that parse, while the [`Engine`] keeps
/// the history on one thread.
#[derive(Clone)]
pub struct Rules<'a> {
    policies: &'a [CompiledPolicy],
    calendar: &'a Calendar,
    /// The policies that read the file being checked (by position).
    active: Vec<usize>,
}

impl Rules<'_> {
    /// Runs the per-event checks on a block of events; safe to call from many threads.
    /// Events are taken a few dozen at a time (about 20 KB, so they stay in the first-level
    /// cache), and each policy loops over those: a policy's kind is looked at once per
    /// few dozen events rather than once per event.
    pub fn check<'b>(&self, events: &[AuditEvent<'b>]) -> Vec<Hit<'b>> {
        // About one event in ten is a hit, in a generated month.
        let mut out = Vec::with_capacity(events.len() / 8);
        // The policies' lists of production environments, each once (they nearly always
        // share one), and each policy's place among them.
        let mut lists: Vec<&[String]> = Vec::new();
        let list_of: Vec<usize> = (self.policies.iter())
            .map(|p| match lists.iter().position(|l| **l == *p.production) {
                Some(k) => k,
                None => {
                    lists.push(&p.production);
                    lists.len() - 1
                }
            })
            .collect();
        let mut in_prod = vec![0u64; lists.len()];
        for some in events.chunks(CHECKED_TOGETHER) {
            // Which of these events are in production, by each list: a bit per event.
            for (bits, list) in in_prod.iter_mut().zip(&lists) {
                *bits = (some.iter().enumerate())
                    .filter(|(_, e)| list.iter().any(|p| *p == *e.environment))
                    .fold(0, |bits, (k, _)| bits | 1 << k);
            }
            for &i in &self.active {
                let p = &self.policies[i];
                self.policy_checks(i, p, some, in_prod[list_of[i]], &mut out);
            }
        }
        out
    }

    /// Policy `p`'s per-event checks on a few dozen events; bit `k` of `in_prod` says
    /// whether `events[k]` is in one of its production environments.
    fn policy_checks<'b>(
        &self,
        i: usize,
        p: &CompiledPolicy,
        events: &[AuditEvent<'b>],
        in_prod: u64,
        out: &mut Vec<Hit<'b>>,
    ) {
        match &p.check {
            Check::DestructiveWithoutApproval(d) => {
                destructive_without_approval::check(i, d, events, in_prod, out)
            }
            Check::TimeFence(f) => time_fence::check(i, f, self.calendar, events, in_prod, out),
            Check::ChangeFreeze(f) => change_freeze::check(i, f, events, in_prod, out),
            Check::SelfApproval => self_approval::check(i, events, out),
            Check::AiApprovingAi => ai_approving_ai::check(i, events, in_prod, out),
            Check::NoPlan(n) => no_plan::check(i, n, events, in_prod, out),
            Check::WildcardPermission(w) => wildcard_permission::check(i, w, events, out),
            Check::MissingProvenance(m) => missing_provenance::check(i, m, events, out),
            Check::LoggingTamper(t) => logging_tamper::check(i, t, events, out),
            Check::Condition(c) => condition::check(i, c, &p.policy.title, events, out),
            Check::BlastRadius(_)
            | Check::RateLimit(_)
            | Check::CrossEnvironment(_)
            | Check::TimeGap(_)
            | Check::Sigma => {}
        }
    }
}

/// The state of a run: feed it batches of events, then call [`Engine::finish`].
pub struct Engine<'a> {
    policies: &'a [CompiledPolicy],
    calendar: &'a Calendar,
    /// Blast-radius caps: distinct resources are counted this far, and accounts, regions
    /// and environments to `small_cap`.
    cap: usize,
    small_cap: usize,
    symbols: Symbols,
    blast_window_ms: i64,
    /// Every environment a policy calls production (for the per-change history: first
    /// production apply, failures).
    production: Vec<String>,
    /// Which history the enabled policies need (and the cross-environment check's
    /// watch, with its actor types and production environments): read from the policies
    /// once.
    rate: bool,
    gaps: bool,
    cross: Option<cross_environment::Watch>,
    /// Findings being gathered, by policy and group (a hash map: a run may have
    /// hundreds of thousands; they are sorted once at the end).
    store: FindingStore,
    candidates: Vec<Hit<'static>>,
    changes: ChangeMap,
    /// How many change histories are held in memory; those of later changes are spilled.
    changes_in_memory: usize,
    spill: Spill,
    /// Changes without a change id: (actor hash, window) → state.
    windows: FxHashMap<(u64, i64), ChangeState>,
    /// Each rate-limit policy's counted events, by its index.
    rates: Vec<(usize, rate_limit::AiChanges)>,
    /// Every environment a policy calls production, and whether an event was in one.
    production_names: Vec<String>,
    pub saw_production: bool,
    streams: time_gap::Streams,
    pub events_seen: u64,
    pub first_at: Option<i64>,
    pub last_at: Option<i64>,
    /// AI-driven and human change events (not reads, plans or approvals).
    pub ai_change_events: u64,
    pub human_change_events: u64,
    /// Identities of people (actors and approvers of type human), for `--redact`; only
    /// gathered when asked for ([`Engine::gather_people`]): two look-ups an event.
    pub people: Option<rustc_hash::FxHashSet<Box<str>>>,
    /// The format of the file being read (`None`: not said, every policy applies).
    format: Option<SourceFormat>,
}

impl<'a> Engine<'a> {
    /// The per-event checks, to run on other threads while this engine observes.
    pub fn rules(&self) -> Rules<'a> {
        Rules {
            policies: self.policies,
            calendar: self.calendar,
            active: (self.policies.iter().enumerate())
                .filter(|(_, p)| p.reads(self.format))
                .map(|(i, _)| i)
                .collect(),
        }
    }

    /// The format of the file whose events come next: policies that do not read it are
    /// skipped for them.
    pub fn set_format(&mut self, format: SourceFormat) {
        self.format = Some(format);
    }

    /// How many change histories and findings to hold in memory before the rest go to
    /// temporary files (the results are the same either way).
    pub fn new(
        policies: &'a [CompiledPolicy],
        calendar: &'a Calendar,
        (changes_in_memory, findings_in_memory): (usize, usize),
    ) -> Engine<'a> {
        let mut caps = (0, 8);
        let mut blast_window_ms = 3_600_000;
        for p in policies {
            if let Check::BlastRadius(b) = &p.check {
                caps = b.caps(caps);
                blast_window_ms = b.window_ms;
            }
        }
        let (cap, small_cap) = caps;
        let mut production: Vec<String> = policies
            .iter()
            .flat_map(|p| p.production.iter().cloned())
            .collect();
        production.sort_unstable();
        production.dedup();
        let wants = |f: fn(&Check) -> bool| policies.iter().any(|p| f(&p.check));
        Engine {
            policies,
            calendar,
            production: production.clone(),
            rate: wants(|c| matches!(c, Check::RateLimit(_))),
            rates: (policies.iter().enumerate())
                .filter(|(_, p)| matches!(p.check, Check::RateLimit(_)))
                .map(|(i, _)| (i, rate_limit::AiChanges::default()))
                .collect(),
            production_names: production,
            saw_production: false,
            gaps: wants(|c| matches!(c, Check::TimeGap(_))),
            cross: policies.iter().find_map(|p| match &p.check {
                Check::CrossEnvironment(c) => Some(cross_environment::Watch::new(c, &p.production)),
                _ => None,
            }),
            // Distinct values are counted exactly up to here (a finding reports the
            // number), which is far above any sensible limit.
            cap: cap.max(RESOURCES_COUNTED),
            small_cap,
            symbols: Symbols::default(),
            blast_window_ms,
            store: FindingStore::new(findings_in_memory),
            candidates: Vec::new(),
            changes: ChangeMap::default(),
            changes_in_memory,
            spill: Spill::default(),
            windows: FxHashMap::default(),
            streams: time_gap::Streams::default(),
            events_seen: 0,
            first_at: None,
            last_at: None,
            ai_change_events: 0,
            human_change_events: 0,
            people: None,
            format: None,
        }
    }

    /// Gathers the people seen, for the report's `--redact`.
    pub fn gather_people(&mut self) {
        self.people.get_or_insert_with(Default::default);
    }

    /// Takes a block's hits and updates the state that needs history. The per-change
    /// history and the rest (findings, actors, streams, counts) are separate state, so
    /// they are updated side by side on two threads.
    pub fn observe(&mut self, events: &[AuditEvent], hits: Vec<Hit<'_>>) {
        let (caps, window_ms) = ((self.cap, self.small_cap), self.blast_window_ms);
        // Moved out for the join (cheap: the maps' handles, not their contents).
        let mut symbols = std::mem::take(&mut self.symbols);
        let mut change_states = std::mem::take(&mut self.changes);
        let mut windows = std::mem::take(&mut self.windows);
        let production = std::mem::take(&mut self.production);
        let budget = self.changes_in_memory;
        let mut spill = std::mem::take(&mut self.spill);
        rayon::join(
            || {
                for e in events {
                    let is_prod = || production.iter().any(|p| *p == *e.environment);
                    // A change's history by its id; without one, by actor within a window.
                    if !e.change_id.is_empty() {
                        let held =
                            change_states.get_or_start(&e.change_id, e.at, budget, |id, st| {
                                spill.write_state(id, |out| encode_state(out, st))
                            });
                        match held {
                            Held::Here(st) => update_change(
                                st,
                                &HistoryEvent::of(e, is_prod()),
                                caps,
                                &mut symbols,
                            ),
                            Held::OnDisk => spill.write(&HistoryEvent::of(e, is_prod())),
                        }
                    } else if e.operation.changes() && !e.dry_run {
                        let window = e.at.div_euclid(window_ms);
                        let st = windows
                            .entry((hash(&e.actor), window))
                            .or_insert_with(|| ChangeState::starting(e.at));
                        update_change(st, &HistoryEvent::of(e, is_prod()), caps, &mut symbols);
                    }
                }
            },
            || self.observe_rest(events, hits),
        );
        self.symbols = symbols;
        self.changes = change_states;
        self.windows = windows;
        self.production = production;
        self.spill = spill;
    }

    /// Everything [`Engine::observe`] keeps but the per-change history.
    fn observe_rest(&mut self, events: &[AuditEvent], hits: Vec<Hit<'_>>) {
        for h in hits.into_iter().map(Hit::settle) {
            if h.awaits_approval {
                self.candidates.push(h.into_owned());
            } else {
                self.gather(h);
            }
        }
        let (rate, gaps) = (self.rate, self.gaps);
        for e in events {
            self.events_seen += 1;
            self.first_at = Some(self.first_at.map_or(e.at, |f| f.min(e.at)));
            self.last_at = Some(self.last_at.map_or(e.at, |l| l.max(e.at)));
            let r = place(e);
            if let Some(people) = &mut self.people {
                if e.actor_type == ActorType::Human && !people.contains(&*e.actor) {
                    people.insert(Box::from(&*e.actor));
                }
                if e.approver_type == Some(ActorType::Human)
                    && !e.approved_by.is_empty()
                    && !people.contains(&*e.approved_by)
                {
                    people.insert(Box::from(&*e.approved_by));
                }
            }
            let changes = e.operation.changes() && !e.dry_run;
            if changes {
                if e.actor_type == ActorType::AiAgent {
                    self.ai_change_events += 1;
                } else if e.actor_type == ActorType::Human {
                    self.human_change_events += 1;
                }
            }
            if rate {
                for (i, counts) in &mut self.rates {
                    let p = &self.policies[*i];
                    if let (Check::RateLimit(limit), true) = (&p.check, p.reads(self.format)) {
                        counts.observe(e, limit, changes, r);
                    }
                }
            }
            if !self.saw_production {
                self.saw_production = self.production_names.iter().any(|p| *p == *e.environment);
            }
            if let Some(cross) = &mut self.cross {
                cross.observe(e, r);
            }
            // A stream is an account (and region).
            if gaps {
                self.streams.observe(e, r);
            }
        }
    }

    fn gather(&mut self, h: Hit<'_>) {
        self.store.add(
            h.policy,
            &h.group,
            h.detail,
            &h.change_id,
            h.event,
            &h.actor,
            &h.resource,
        );
    }

    /// Adds what the whole-history checks found in one set of histories to the findings;
    /// gives back the deployments for the metrics. Every finding such a check adds to is
    /// keyed by its change, and a change's candidates keep the order they were read in, so
    /// each set can be applied on its own.
    fn apply(&mut self, outcome: ChangeOutcome) -> Vec<Deployment> {
        for h in outcome.unapproved {
            self.gather(h);
        }
        for ((i, key), g) in outcome.gathered {
            self.store.put(i, key, g);
        }
        for (i, id, detail, r, actor) in outcome.added {
            add_finding(
                &mut self.store,
                i,
                id.clone(),
                detail,
                &id,
                &[(r, &actor, "")],
            );
        }
        outcome.deployments
    }

    /// Runs the checks that need all the history and returns every finding (most severe
    /// first, then by time) and the change metrics.
    pub fn finish(mut self, incidents: &[Incident], tz: Tz) -> Result<Finished> {
        let policies = self.policies;
        let spilled = std::mem::take(&mut self.spill).finish()?;
        let spilled_events = spilled.as_ref().map_or(0, |s| s.events);
        // Destructive events wait for their change's history: was there a human approval
        // before them? Each is checked where that history is, in memory or in a partition.
        let mut in_memory = Vec::new();
        let mut by_partition: Vec<Vec<Hit<'static>>> =
            (0..PARTITIONS).map(|_| Vec::new()).collect();
        for h in std::mem::take(&mut self.candidates) {
            let elsewhere = spilled.is_some()
                && !h.change_id.is_empty()
                && self.changes.get(&h.change_id).is_none();
            if elsewhere {
                by_partition[partition(&h.change_id)].push(h);
            } else {
                in_memory.push(h);
            }
        }
        let checks = ChangeChecks {
            policies,
            caps: (self.cap, self.small_cap),
            incidents: IncidentIndex::new(incidents),
            tz,
        };
        let outcome = checks.run(&self.changes, &self.windows, &self.symbols, in_memory);
        let mut deployments = self.apply(outcome);
        let mut spilled_changes = 0;
        if let Some(sp) = &spilled {
            // A few partitions at a time, each applied before the next are read: what
            // they find is held only that long.
            let threads = rayon::current_num_threads().max(1);
            // The histories a partition holds, about: its index is sized once.
            let per_partition = self.changes.handed_out() / PARTITIONS * 9 / 8;
            let mut partitions = by_partition.into_iter().enumerate().peekable();
            while partitions.peek().is_some() {
                let batch: Vec<(usize, Vec<Hit<'static>>)> =
                    partitions.by_ref().take(threads).collect();
                let parts: Vec<Result<(ChangeOutcome, usize)>> = batch
                    .into_par_iter()
                    .map(|(p, candidates)| {
                        let mut changes = ChangeMap::with_capacity(per_partition);
                        // The run's symbols, copied only if this partition's own events
                        // add names: there are as many as distinct names in the run.
                        let mut symbols = std::borrow::Cow::Borrowed(&self.symbols);
                        sp.replay(p, |record| {
                            match record {
                                Spilled::Event(h) => {
                                    let held = changes.get_or_start(
                                        h.change_id,
                                        h.place.at,
                                        usize::MAX,
                                        |_, _| {},
                                    );
                                    if let Held::Here(st) = held {
                                        update_change(st, &h, checks.caps, symbols.to_mut());
                                    }
                                }
                                Spilled::State(id, saved) => {
                                    changes.restore(id, decode_state(saved, &symbols)?);
                                }
                            }
                            Some(())
                        })?;
                        let part =
                            checks.run(&changes, &FxHashMap::default(), &symbols, candidates);
                        Ok((part, changes.len()))
                    })
                    .collect();
                for part in parts {
                    let (part, n) = part?;
                    deployments.extend(self.apply(part));
                    spilled_changes += n;
                }
            }
        }
        let metrics = crate::audit::metrics::aggregate(deployments)?;
        for (i, p) in policies.iter().enumerate() {
            match &p.check {
                Check::RateLimit(limit) => {
                    if let Some((_, counts)) = self.rates.iter_mut().find(|(k, _)| *k == i) {
                        counts.finish(i, limit, &mut self.store);
                    }
                }
                Check::CrossEnvironment(_) => {
                    if let Some(cross) = &self.cross {
                        cross.finish(i, &mut self.store);
                    }
                }
                Check::TimeGap(gap) => self.streams.finish(i, gap, &mut self.store),
                _ => {}
            }
        }
        let findings = std::mem::replace(&mut self.store, FindingStore::new(0))
            .finish(policies.iter().map(|c| &c.policy))?;
        // The temporary files go now: a thread still running at exit would leave them.
        drop(spilled);
        let history = (
            std::mem::take(&mut self.changes),
            std::mem::take(&mut self.windows),
            std::mem::take(&mut self.rates),
        );
        std::thread::spawn(move || drop(history));
        Ok(Finished {
            findings,
            metrics,
            spilled_events,
            spilled_changes,
        })
    }

    /// How much history is held (for profiling large runs).
    pub fn sizes(&self) -> String {
        let (streams, minutes) = self.streams.sizes();
        format!(
            "sizes {}/{}/{}/{} changes {} windows {} gathering {} candidates {} symbols {} ai_changes {} streams {} minutes {} people {} actors {}",
            std::mem::size_of::<ChangeState>(),
            std::mem::size_of::<Distinct>(),
            std::mem::size_of::<Gathering>(),
            std::mem::size_of::<Finding>(),
            self.changes.len(),
            self.windows.len(),
            self.store.len(),
            self.candidates.len(),
            self.symbols.len(),
            self.rates.iter().map(|(_, c)| c.events()).sum::<usize>(),
            streams,
            minutes,
            self.people.as_ref().map_or(0, |p| p.len()),
            self.cross.as_ref().map_or(0, |c| c.len()),
        )
    }
}

/// What [`Engine::finish`] gives back.
pub struct Finished {
    pub findings: Findings,
    pub metrics: Vec<ChangeMetrics>,
    /// Events and changes whose histories went to temporary files (0 when all fit).
    pub spilled_events: u64,
    pub spilled_changes: usize,
}

/// The checks that read whole change histories: blast radius, no plan before apply,
/// self-approval, and whether a destructive event had a human approval before it; and
/// the deployments the change metrics count. Run on the histories held in memory and on
/// each spilled partition in turn.
struct ChangeChecks<'a> {
    policies: &'a [CompiledPolicy],
    caps: (usize, usize),
    incidents: IncidentIndex<'a>,
    tz: Tz,
}

/// What [`ChangeChecks::run`] found in one set of histories.
#[derive(Default)]
struct ChangeOutcome {
    /// Destructive events with no human approval before them, in the order read.
    unapproved: Vec<Hit<'static>>,
    /// Whole findings (blast radius), by policy and key.
    gathered: Vec<((usize, String), Gathering)>,
    /// Events to add to a finding.
    added: Vec<Added>,
    deployments: Vec<Deployment>,
}

impl ChangeChecks<'_> {
    fn run(
        &self,
        changes: &ChangeMap,
        windows: &FxHashMap<(u64, i64), ChangeState>,
        symbols: &Symbols,
        candidates: Vec<Hit<'static>>,
    ) -> ChangeOutcome {
        let mut out = ChangeOutcome::default();
        destructive_without_approval::unapproved(changes, symbols, candidates, &mut out.unapproved);
        for (i, p) in self.policies.iter().enumerate() {
            match &p.check {
                Check::BlastRadius(limits) => blast_radius::check_changes(
                    i,
                    limits,
                    changes,
                    windows,
                    symbols,
                    &mut out.gathered,
                ),
                Check::NoPlan(_) => no_plan::check_changes(i, changes, symbols, &mut out.added),
                Check::SelfApproval => {
                    self_approval::check_changes(i, changes, symbols, &mut out.added)
                }
                _ => {}
            }
        }
        for (id, st) in changes.iter() {
            if let Some(d) = Deployment::of(id, st, &self.incidents, self.tz) {
                out.deployments.push(d);
            }
        }
        out
    }
}
