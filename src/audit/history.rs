//! A change's history: what is kept per change (or per actor window), never the events
//! themselves, and how it is written to disk and read back.
//!
//! A run with hundreds of thousands of changes would hold every history in memory until
//! the end. Past a budget, the histories idle longest are written to one of [`PARTITIONS`]
//! temporary files, chosen by change id, and leave memory; any later event of such a
//! change is appended to the same file after its history. The files are replayed one
//! partition at a time at the end: each history is read back and its later events added
//! in the order they came, so it comes out exactly as if it had been kept in memory.

use anyhow::Result;
// Per-change lists are short: held inline, they cost no allocation of their own.
use smallvec::SmallVec;

use super::event::{ActorType, AuditEvent, Operation};
use super::model::{hash, EventRef, MAX_REFS};
use super::spill::{partition_of, Dec, Enc, PartitionFiles, Partitions};

pub use super::spill::PARTITIONS;

/// Distinct resources, accounts, regions and environments are counted exactly up to this
/// many per change; beyond it a finding says "at least".
pub(crate) const RESOURCES_COUNTED: usize = 10_000;

/// Names and events kept per change while reading (changes are many; findings are few).
pub(crate) const KEPT_PER_CHANGE: usize = 5;

/// Distinct values up to a cap, by hash, with the first few names. A short list is
/// searched in place; past 32 values a hash set takes over.
#[derive(Default)]
pub(crate) struct Distinct {
    hashes: SmallVec<[u64; 8]>,
    many: Option<rustc_hash::FxHashSet<u64>>,
    /// The first few, as symbols.
    pub(crate) names: Ids,
}

impl Distinct {
    pub(crate) fn add(&mut self, text: &str, cap: usize, symbols: &mut Symbols) {
        if text.is_empty() || self.len() > cap {
            return;
        }
        let h = hash(text);
        let new = match &mut self.many {
            Some(set) => set.insert(h),
            None if self.hashes.contains(&h) => false,
            None => {
                self.hashes.push(h);
                if self.hashes.len() > 32 {
                    self.many = Some(self.hashes.drain(..).collect());
                }
                true
            }
        };
        if new && self.names.len() < KEPT_PER_CHANGE {
            self.names.0.push(symbols.id(text));
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.many.as_ref().map_or(self.hashes.len(), |s| s.len())
    }
}

/// Names that recur (actors, accounts, regions, environments, resources) stored once;
/// per-change state holds their numbers. The hash index holds positions, so each name is
/// kept once.
#[derive(Default, Clone)]
pub(crate) struct Symbols {
    index: hashbrown::HashTable<u32>,
    names: Vec<Box<str>>,
}

impl Symbols {
    pub(crate) fn id(&mut self, name: &str) -> u32 {
        let h = hash(name);
        let names = &self.names;
        if let Some(&id) = self.index.find(h, |&i| *names[i as usize] == *name) {
            return id;
        }
        let id = names.len() as u32;
        self.names.push(Box::from(name));
        let names = &self.names;
        self.index
            .insert_unique(h, id, |&i| hash(&names[i as usize]));
        id
    }

    pub(crate) fn name(&self, id: u32) -> &str {
        self.names.get(id as usize).map_or("", |n| n)
    }

    /// `id` if it names a symbol (when reading an id back from disk).
    pub(crate) fn known(&self, id: u32) -> Option<u32> {
        ((id as usize) < self.names.len()).then_some(id)
    }

    pub(crate) fn names(&self, ids: &Ids) -> Vec<String> {
        ids.0.iter().map(|&i| self.name(i).to_string()).collect()
    }

    /// How many names are held.
    pub(crate) fn len(&self) -> usize {
        self.names.len()
    }
}

/// Distinct symbols, up to a small cap (enough to say "more than one account").
#[derive(Default)]
pub(crate) struct Ids(pub(crate) SmallVec<[u32; 5]>);

impl Ids {
    fn add(&mut self, id: u32, cap: usize) {
        if self.0.len() < cap && !self.0.contains(&id) {
            self.0.push(id);
        }
    }

    /// Adds a name, interning it only if it is new here: a change's events mostly repeat
    /// its account, region, environment and actor, and comparing a few names is cheaper
    /// than hashing one.
    pub(crate) fn add_name(&mut self, name: &str, cap: usize, symbols: &mut Symbols) -> u32 {
        match self.0.iter().find(|&&id| symbols.name(id) == name) {
            Some(&id) => id,
            None => {
                let id = symbols.id(name);
                self.add(id, cap);
                id
            }
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.0.len()
    }
}

/// What is kept per change (or per actor window when there is no change id).
#[derive(Default)]
pub struct ChangeState {
    pub first_at: i64,
    pub last_at: i64,
    pub(crate) resources: Distinct,
    pub(crate) accounts: Ids,
    pub(crate) regions: Ids,
    pub(crate) environments: Ids,
    pub(crate) appliers: Ids,
    pub(crate) refs: SmallVec<[EventRef; KEPT_PER_CHANGE]>,
    pub(crate) events: u64,
    /// Earliest plan or dry run.
    pub(crate) plan_at: Option<i64>,
    /// First production apply and its actor.
    pub first_prod_apply: Option<EventRef>,
    pub(crate) first_prod_actor: u32,
    /// Approve events: approver, type, where.
    pub(crate) approvals: SmallVec<[(u32, ActorType, EventRef); 1]>,
    /// Whether an AI agent, a person or a service applied it.
    pub by_ai: bool,
    pub by_human: bool,
    /// A production apply failed.
    pub failed: bool,
}

impl ChangeState {
    pub(crate) fn starting(at: i64) -> ChangeState {
        ChangeState {
            first_at: at,
            last_at: at,
            ..ChangeState::default()
        }
    }
}

/// Writes a change's history for [`decode_state`], its names as the run's symbol
/// numbers. A partition reads them back against the run's symbols as they are at the
/// end (a copy, if its own events add names), and symbols are only ever added, so each
/// number names what it named when written. (Written as text and interned again, they
/// were a third of the time spent reading histories back.)
pub(crate) fn encode_state(out: &mut Enc, st: &ChangeState) {
    let place = |out: &mut Enc, r: &EventRef| {
        out.u32(r.source).u64(r.line).i64(r.at);
    };
    let names = |out: &mut Enc, ids: &Ids| {
        out.u32(ids.0.len() as u32);
        for &id in &ids.0 {
            out.u32(id);
        }
    };
    out.i64(st.first_at).i64(st.last_at).u64(st.events);
    out.u8(st.by_ai as u8 | (st.by_human as u8) << 1 | (st.failed as u8) << 2);
    out.u8(st.plan_at.is_some() as u8)
        .i64(st.plan_at.unwrap_or(0));
    out.u8(st.first_prod_apply.is_some() as u8);
    place(
        out,
        &st.first_prod_apply.unwrap_or(EventRef {
            source: 0,
            line: 0,
            at: 0,
        }),
    );
    out.u32(st.first_prod_actor);
    out.u32(st.resources.len() as u32);
    // In the set, or (up to 32) in the list: one of the two is empty.
    let resources = &st.resources;
    for &h in resources.many.iter().flatten().chain(&resources.hashes) {
        out.u64(h);
    }
    for ids in [
        &st.resources.names,
        &st.accounts,
        &st.regions,
        &st.environments,
        &st.appliers,
    ] {
        names(out, ids);
    }
    out.u32(st.refs.len() as u32);
    for r in &st.refs {
        place(out, r);
    }
    out.u32(st.approvals.len() as u32);
    for (who, t, r) in &st.approvals {
        out.u32(*who).u8(type_code(*t));
        place(out, r);
    }
}

/// Reads back what [`encode_state`] wrote, with the run's `symbols`; `None` if it is cut
/// short or names no symbol.
pub(crate) fn decode_state(input: &mut Dec, symbols: &Symbols) -> Option<ChangeState> {
    fn place(input: &mut Dec) -> Option<EventRef> {
        Some(EventRef {
            source: input.u32()?,
            line: input.u64()?,
            at: input.i64()?,
        })
    }
    fn names(input: &mut Dec, symbols: &Symbols) -> Option<Ids> {
        let n = input.u32()?;
        let mut ids = Ids::default();
        for _ in 0..n {
            ids.0.push(symbols.known(input.u32()?)?);
        }
        Some(ids)
    }
    let mut st = ChangeState {
        first_at: input.i64()?,
        last_at: input.i64()?,
        events: input.u64()?,
        ..ChangeState::default()
    };
    let flags = input.u8()?;
    (st.by_ai, st.by_human, st.failed) = (flags & 1 != 0, flags & 2 != 0, flags & 4 != 0);
    let (planned, plan_at) = (input.u8()?, input.i64()?);
    st.plan_at = (planned != 0).then_some(plan_at);
    let (applied, first) = (input.u8()?, place(input)?);
    st.first_prod_apply = (applied != 0).then_some(first);
    // Set only with the first production apply (0, no symbol, without one).
    let actor = input.u32()?;
    if applied != 0 {
        st.first_prod_actor = symbols.known(actor)?;
    }
    let n = input.u32()? as usize;
    let mut hashes = Vec::with_capacity(n.min(1 << 16));
    for _ in 0..n {
        hashes.push(input.u64()?);
    }
    // As `Distinct::add` keeps them: in a set past 32.
    if hashes.len() > 32 {
        st.resources.many = Some(hashes.into_iter().collect());
    } else {
        st.resources.hashes = hashes.into();
    }
    st.resources.names = names(input, symbols)?;
    st.accounts = names(input, symbols)?;
    st.regions = names(input, symbols)?;
    st.environments = names(input, symbols)?;
    st.appliers = names(input, symbols)?;
    for _ in 0..input.u32()? {
        st.refs.push(place(input)?);
    }
    for _ in 0..input.u32()? {
        let who = symbols.known(input.u32()?)?;
        let t = type_of(input.u8()?);
        st.approvals.push((who, t, place(input)?));
    }
    Some(st)
}

/// Adds one event to a change's history; `caps` are how far distinct resources and
/// distinct accounts, regions and environments are counted.
pub(crate) fn update_change(
    st: &mut ChangeState,
    e: &HistoryEvent,
    (cap, small_cap): (usize, usize),
    symbols: &mut Symbols,
) {
    let r = e.place;
    st.first_at = st.first_at.min(r.at);
    st.last_at = st.last_at.max(r.at);
    if e.plan {
        st.plan_at = Some(st.plan_at.map_or(r.at, |p| p.min(r.at)));
    }
    if e.approve {
        if st.approvals.len() < 64 {
            st.approvals.push((symbols.id(e.actor), e.actor_type, r));
        }
        return;
    }
    if !e.changes {
        return;
    }
    st.events += 1;
    if st.refs.len() < KEPT_PER_CHANGE {
        st.refs.push(r);
    }
    st.resources.add(e.resource, cap, symbols);
    // A Kubernetes cluster is not a cloud account: one change may span both.
    if !e.account.is_empty() && !e.account.starts_with("k8s:") {
        st.accounts.add_name(e.account, small_cap, symbols);
    }
    if !e.region.is_empty() {
        st.regions.add_name(e.region, small_cap, symbols);
    }
    if !e.environment.is_empty() {
        st.environments.add_name(e.environment, small_cap, symbols);
    }
    let actor = st.appliers.add_name(e.actor, MAX_REFS, symbols);
    match e.actor_type {
        ActorType::AiAgent => st.by_ai = true,
        ActorType::Human => st.by_human = true,
        ActorType::Service => {}
    }
    if e.is_prod {
        if st.first_prod_apply.is_none_or(|f| r.at < f.at) {
            st.first_prod_apply = Some(r);
            st.first_prod_actor = actor;
        }
        if e.failed {
            st.failed = true;
        }
    }
}

/// What a change's history needs of one event.
#[derive(Debug, Clone, Copy)]
pub struct HistoryEvent<'a> {
    pub change_id: &'a str,
    /// A plan or a dry run.
    pub plan: bool,
    pub approve: bool,
    /// It changes something (not a read, plan, approval or dry run).
    pub changes: bool,
    pub is_prod: bool,
    pub failed: bool,
    pub actor: &'a str,
    pub actor_type: ActorType,
    pub resource: &'a str,
    pub account: &'a str,
    pub region: &'a str,
    pub environment: &'a str,
    /// Where the event sits: file, line and time.
    pub place: EventRef,
}

impl<'a> HistoryEvent<'a> {
    pub fn of(e: &'a AuditEvent<'_>, is_prod: bool) -> HistoryEvent<'a> {
        HistoryEvent {
            change_id: &e.change_id,
            plan: e.operation == Operation::Plan || e.dry_run,
            approve: e.operation == Operation::Approve,
            changes: e.operation.changes() && !e.dry_run,
            is_prod,
            failed: e.outcome == "failure",
            actor: &e.actor,
            actor_type: e.actor_type,
            resource: &e.resource,
            account: &e.account,
            region: &e.region,
            environment: &e.environment,
            place: EventRef {
                source: e.source,
                line: e.line,
                at: e.at,
            },
        }
    }
}

/// The partition a change id's events go to.
pub fn partition(change_id: &str) -> usize {
    partition_of(hash(change_id))
}

/// Record kinds in the partition files.
const EVENT: u8 = 0;
const STATE: u8 = 1;

/// The spilled events and histories, one file per partition (made on the first record).
pub struct Spill {
    files: PartitionFiles,
    record: Vec<u8>,
    events: u64,
}

impl Default for Spill {
    fn default() -> Spill {
        Spill {
            files: PartitionFiles::new("change-histories"),
            record: Vec::with_capacity(256),
            events: 0,
        }
    }
}

/// An actor type as one byte, and back.
pub fn type_code(t: ActorType) -> u8 {
    match t {
        ActorType::Human => 0,
        ActorType::AiAgent => 1,
        ActorType::Service => 2,
    }
}

pub fn type_of(code: u8) -> ActorType {
    match code {
        0 => ActorType::Human,
        1 => ActorType::AiAgent,
        _ => ActorType::Service,
    }
}

impl Spill {
    /// One event of a change whose history is on disk.
    pub fn write(&mut self, h: &HistoryEvent) {
        self.record.clear();
        let flags = h.plan as u8
            | (h.approve as u8) << 1
            | (h.changes as u8) << 2
            | (h.is_prod as u8) << 3
            | (h.failed as u8) << 4;
        let mut e = Enc(&mut self.record);
        e.u8(EVENT)
            .u8(flags)
            .u8(type_code(h.actor_type))
            .i64(h.place.at)
            .u32(h.place.source)
            .u64(h.place.line);
        for text in [
            h.change_id,
            h.actor,
            h.resource,
            h.account,
            h.region,
            h.environment,
        ] {
            e.str(text);
        }
        self.files.write(partition(h.change_id), &self.record);
        self.events += 1;
    }

    /// A change's history so far, moved out of memory; `encode` writes it. The change's
    /// later events follow it in the same partition.
    pub fn write_state(&mut self, change_id: &str, encode: impl FnOnce(&mut Enc)) {
        self.record.clear();
        let mut e = Enc(&mut self.record);
        e.u8(STATE).str(change_id);
        encode(&mut e);
        self.files.write(partition(change_id), &self.record);
    }

    /// Flushes the files and hands them back to replay; `None` if nothing was spilled.
    pub fn finish(self) -> Result<Option<SpilledHistories>> {
        let events = self.events;
        Ok(self
            .files
            .finish()?
            .map(|files| SpilledHistories { events, files }))
    }
}

/// A record read back: an event, or a change's history as it was moved out of memory
/// (the change id, and the rest to decode).
pub enum Spilled<'a, 'r> {
    Event(HistoryEvent<'a>),
    State(&'a str, &'r mut Dec<'a>),
}

/// The partition files, ready to read back.
pub struct SpilledHistories {
    files: Partitions,
    /// How many events were spilled.
    pub events: u64,
}

impl SpilledHistories {
    /// Reads partition `p` and calls `each` for its records, in the order written;
    /// `each` gives `None` for a record it cannot read.
    pub fn replay(&self, p: usize, mut each: impl FnMut(Spilled) -> Option<()>) -> Result<()> {
        self.files.read(p, |rec| match rec.u8()? {
            EVENT => each(Spilled::Event(decode(rec)?)),
            STATE => {
                let id = rec.str()?;
                each(Spilled::State(id, rec))
            }
            _ => None,
        })
    }
}

fn decode<'a>(rec: &mut Dec<'a>) -> Option<HistoryEvent<'a>> {
    let (flags, actor_type) = (rec.u8()?, rec.u8()?);
    let at = rec.i64()?;
    let source = rec.u32()?;
    let line = rec.u64()?;
    Some(HistoryEvent {
        change_id: rec.str()?,
        plan: flags & 1 != 0,
        approve: flags & 2 != 0,
        changes: flags & 4 != 0,
        is_prod: flags & 8 != 0,
        failed: flags & 16 != 0,
        actor: rec.str()?,
        actor_type: type_of(actor_type),
        resource: rec.str()?,
        account: rec.str()?,
        region: rec.str()?,
        environment: rec.str()?,
        place: EventRef { source, line, at },
    })
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub(crate) fn event<'a>(id: &'a str, resource: &'a str, at: i64) -> HistoryEvent<'a> {
        HistoryEvent {
            change_id: id,
            plan: false,
            approve: false,
            changes: true,
            is_prod: true,
            failed: false,
            actor: "agent-7",
            actor_type: ActorType::AiAgent,
            resource,
            account: "111111111111",
            region: "eu-west-2",
            environment: "prod",
            place: EventRef {
                source: 0,
                line: at as u64,
                at,
            },
        }
    }

    #[test]
    fn spilled_events_come_back_as_written_in_their_partition_in_order() {
        let mut spill = Spill::default();
        let ids = ["CHG-1", "CHG-2", "CHG-3", "CHG-1", "", "CHG-2"];
        for (i, id) in ids.iter().enumerate() {
            spill.write(&HistoryEvent {
                change_id: id,
                plan: i == 0,
                approve: i == 1,
                changes: i % 2 == 0,
                is_prod: i == 3,
                failed: i == 5,
                actor: "agent-é",
                actor_type: if i == 2 {
                    ActorType::Service
                } else {
                    ActorType::AiAgent
                },
                resource: &"r".repeat(i * 100),
                account: "111111111111",
                region: "eu-west-2",
                environment: "prod",
                place: EventRef {
                    source: i as u32,
                    line: u64::MAX - i as u64,
                    at: -5 + i as i64 * 1000,
                },
            });
        }
        let back = spill.finish().unwrap().expect("events were spilled");
        let mut seen = Vec::new();
        for p in 0..PARTITIONS {
            back.replay(p, |record| {
                let Spilled::Event(h) = record else {
                    panic!("only events were written")
                };
                assert_eq!(partition(h.change_id), p);
                seen.push((
                    h.place.source as usize,
                    h.change_id.to_string(),
                    h.place.at,
                    (h.plan, h.approve, h.changes, h.is_prod, h.failed),
                    h.actor.to_string(),
                    h.actor_type,
                    h.resource.len(),
                    h.place.line,
                ));
                Some(())
            })
            .unwrap();
        }
        // Each change's events in the order written.
        for id in ["CHG-1", "CHG-2"] {
            let order: Vec<usize> = seen.iter().filter(|s| s.1 == id).map(|s| s.0).collect();
            assert!(order.windows(2).all(|w| w[0] < w[1]), "{id}: {order:?}");
        }
        seen.sort_by_key(|s| s.0);
        assert_eq!(seen.len(), ids.len());
        assert!(
            Spill::default().finish().unwrap().is_none(),
            "nothing spilled, no files"
        );
        for (i, s) in seen.iter().enumerate() {
            assert_eq!(s.0, i);
            assert_eq!(s.1, ids[i]);
            assert_eq!(s.2, -5 + i as i64 * 1000);
            assert_eq!(s.3, (i == 0, i == 1, i % 2 == 0, i == 3, i == 5));
            assert_eq!(s.4, "agent-é");
            let want = if i == 2 {
                ActorType::Service
            } else {
                ActorType::AiAgent
            };
            assert_eq!(s.5, want);
            assert_eq!(s.6, i * 100);
            assert_eq!(s.7, u64::MAX - i as u64);
        }
    }

    #[test]
    fn a_history_written_to_disk_reads_back_the_same() {
        let mut symbols = Symbols::default();
        let mut st = ChangeState::starting(5);
        let caps = (100, 8);
        for i in 0..40 {
            let resource = format!("db-{i}");
            let mut e = event("CHG-1", &resource, 5 + i);
            e.failed = i == 3;
            e.actor_type = if i % 2 == 0 {
                ActorType::AiAgent
            } else {
                ActorType::Human
            };
            update_change(&mut st, &e, caps, &mut symbols);
        }
        let mut approval = event("CHG-1", "", 2);
        (approval.approve, approval.actor, approval.plan) = (true, "alice", true);
        update_change(&mut st, &approval, caps, &mut symbols);
        let mut bytes = Vec::new();
        encode_state(&mut Enc(&mut bytes), &st);
        // Read back into a copy of the run's symbols, as a partition is, which grows as
        // the partition's own events add names.
        let mut other = symbols.clone();
        let back = decode_state(&mut Dec(&bytes), &other).expect("whole record");
        other.id("unrelated");
        let names = |s: &Symbols, ids: &Ids| s.names(ids);
        assert_eq!((back.first_at, back.last_at), (2, 44));
        assert_eq!((back.events, back.plan_at), (40, Some(2)));
        assert_eq!((back.by_ai, back.by_human, back.failed), (true, true, true));
        assert_eq!(back.first_prod_apply, st.first_prod_apply);
        assert_eq!(
            other.name(back.first_prod_actor),
            symbols.name(st.first_prod_actor)
        );
        assert_eq!(back.resources.len(), 40);
        assert!(back.resources.many.is_some(), "past 32 resources: a set");
        // The resources themselves came back: one already seen is not counted again.
        let mut back = back;
        back.resources.add("db-7", caps.0, &mut other);
        assert_eq!(back.resources.len(), 40);
        back.resources.add("db-40", caps.0, &mut other);
        assert_eq!(back.resources.len(), 41);
        assert_eq!(
            names(&other, &back.resources.names),
            names(&symbols, &st.resources.names)
        );
        for (a, b) in [
            (&back.accounts, &st.accounts),
            (&back.regions, &st.regions),
            (&back.environments, &st.environments),
            (&back.appliers, &st.appliers),
        ] {
            assert_eq!(names(&other, a), names(&symbols, b));
        }
        assert_eq!(back.refs.to_vec(), st.refs.to_vec());
        let approvals = |s: &Symbols, st: &ChangeState| -> Vec<(String, ActorType, EventRef)> {
            st.approvals
                .iter()
                .map(|(w, t, r)| (s.name(*w).to_string(), *t, *r))
                .collect()
        };
        assert_eq!(approvals(&other, &back), approvals(&symbols, &st));
        // A record cut short is refused, not read as something else.
        assert!(decode_state(&mut Dec(&bytes[..bytes.len() - 1]), &other).is_none());
        // So is a number that names no symbol.
        assert!(decode_state(&mut Dec(&bytes), &Symbols::default()).is_none());
        // A few resources are kept in a short list, and come back in one, in order.
        let mut few = ChangeState::starting(0);
        for r in ["db-1", "db-2", "db-1", "db-3"] {
            update_change(&mut few, &event("CHG-2", r, 1), caps, &mut symbols);
        }
        let mut bytes = Vec::new();
        encode_state(&mut Enc(&mut bytes), &few);
        let back = decode_state(&mut Dec(&bytes), &symbols).expect("whole record");
        assert!(back.resources.many.is_none());
        assert_eq!(
            back.resources.hashes.to_vec(),
            few.resources.hashes.to_vec()
        );
        assert_eq!(back.resources.len(), 3);
    }
}
