//! The guardrail checks: each policy of `mappings/policies.toml` compiled into a typed
//! [`Check`], run over the events as they stream past.
//!
//! Checks that look at one event run in parallel on each batch; checks that need history
//! (a change's plan and approvals, an agent's rate, a stream's gaps) keep small state per
//! change, actor or stream, never the events themselves, so memory grows with the number
//! of changes and actors, not of events.

use std::borrow::Cow;
use std::sync::Arc;

use anyhow::{bail, Context, Result};
use chrono::{NaiveTime, Timelike};
use chrono_tz::Tz;
use rayon::prelude::*;
use rustc_hash::{FxHashMap, FxHasher};
use serde::Serialize;
// Per-change lists are short: held inline, they cost no allocation of their own.
use smallvec::SmallVec;

use super::event::{millis_to_time, ActorType, AuditEvent, Operation, NATIVE_FIELDS};
use super::findings::{FindingStore, Findings, Gathering};
use super::history::{partition, type_code, type_of, HistoryEvent, Spill, Spilled, PARTITIONS};
use super::matching::{Globs, Words};
use super::metrics::{Deployment, IncidentIndex};
use super::spill::{Dec, Enc};
use crate::clock::{parse_timestamp, Calendar};
use crate::controls::{Policy, Severity};
use crate::incidents::record::Incident;

/// Where an event sits: file (index into the run's file list), line and time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct EventRef {
    pub source: u32,
    pub line: u64,
    pub at: i64,
}

impl EventRef {
    fn of(e: &AuditEvent) -> EventRef {
        EventRef {
            source: e.source,
            line: e.line,
            at: e.at,
        }
    }
}

/// One breach of a policy: the events, who, what, and why it matters. The policy's own
/// text is shared between its findings (a run can have hundreds of thousands).
#[derive(Debug, Clone, Serialize)]
pub struct Finding {
    /// The policy's place in the run's list of enabled policies.
    #[serde(skip)]
    pub policy_index: usize,
    pub policy: Arc<str>,
    pub title: Arc<str>,
    pub severity: Severity,
    /// What happened, in one sentence.
    pub detail: String,
    pub rationale: Arc<str>,
    pub change_id: String,
    pub actors: Vec<String>,
    pub resources: Vec<String>,
    pub resource_count: u64,
    /// The first events (up to [`MAX_REFS`]), with `event_count` saying how many in all.
    pub events: Vec<EventRef>,
    pub event_count: u64,
    pub first_at: i64,
    pub last_at: i64,
    pub nist: Arc<[String]>,
    pub obligations: Arc<[String]>,
}

impl Finding {
    /// The first `n` resources, and how many more there were.
    pub fn resources_text(&self, n: usize) -> String {
        let mut text = self
            .resources
            .iter()
            .take(n)
            .cloned()
            .collect::<Vec<_>>()
            .join(", ");
        let shown = self.resources.len().min(n) as u64;
        let more = self.resource_count.max(self.resources.len() as u64) - shown;
        if more > 0 {
            text.push_str(&format!(" and {more} more"));
        }
        text
    }
}

/// Events, actors and resources listed per finding; the counts say how many there were.
pub const MAX_REFS: usize = 20;

/// Distinct resources, accounts, regions and environments are counted exactly up to this
/// many per change; beyond it a finding says "at least".
const RESOURCES_COUNTED: usize = 10_000;

/// Names and events kept per change while reading (changes are many; findings are few).
const KEPT_PER_CHANGE: usize = 5;

/// A test on one event field, from a `condition` policy's `when`.
#[derive(Debug, Clone)]
enum FieldTest {
    Is(String),
    In(Vec<String>),
    NotIn(Vec<String>),
    Present(bool),
    Matches(String),
}

#[derive(Debug, Clone)]
struct FieldCondition {
    field: String,
    test: FieldTest,
}

impl FieldCondition {
    fn holds(&self, e: &AuditEvent) -> bool {
        let v = e.field(&self.field).unwrap_or_default();
        match &self.test {
            FieldTest::Is(x) => v == x,
            FieldTest::In(xs) => xs.iter().any(|x| x == v),
            FieldTest::NotIn(xs) => !xs.iter().any(|x| x == v),
            FieldTest::Present(p) => v.trim().is_empty() != *p,
            FieldTest::Matches(p) => super::sources::glob_match(p, v),
        }
    }
}

/// What makes an event destructive: its operation, or a word in its action.
#[derive(Debug, Clone)]
struct Destructive {
    operations: Vec<Operation>,
    actions: Words,
}

impl Destructive {
    fn holds(&self, e: &AuditEvent) -> bool {
        if e.dry_run {
            return false;
        }
        if self.operations.contains(&e.operation) {
            return true;
        }
        if !e.operation.changes() {
            return false;
        }
        self.actions.found_in(&e.action)
    }
}

/// A policy's check with its parameters read and checked.
#[derive(Debug, Clone)]
enum Check {
    DestructiveWithoutApproval(Destructive),
    BlastRadius {
        max_resources: usize,
        window_ms: i64,
        max_accounts: usize,
        max_regions: usize,
        max_environments: usize,
    },
    TimeFence {
        destructive: Destructive,
        start: NaiveTime,
        end: NaiveTime,
        tz: Tz,
    },
    ChangeFreeze {
        freezes: Vec<(String, i64, i64)>,
    },
    SelfApproval,
    AiApprovingAi,
    NoPlan {
        applying: Vec<Operation>,
    },
    RateLimit {
        max_changes: usize,
        window_ms: i64,
    },
    CrossEnvironment {
        actor_types: Vec<ActorType>,
    },
    WildcardPermission {
        grants: Vec<String>,
    },
    MissingProvenance {
        exempt: Vec<Operation>,
    },
    TimeGap {
        max_gap_ms: i64,
    },
    LoggingTamper {
        actions: Vec<String>,
        resources: Globs,
    },
    Condition(Vec<FieldCondition>),
}

/// A policy ready to run.
#[derive(Debug, Clone)]
pub struct CompiledPolicy {
    pub policy: Policy,
    check: Check,
    production: Vec<String>,
}

struct Params<'a> {
    policy: &'a Policy,
}

impl Params<'_> {
    fn get(&self, key: &str) -> Option<&toml::Value> {
        self.policy.params.get(key)
    }
    fn int(&self, key: &str, default: i64) -> Result<i64> {
        match self.get(key) {
            None => Ok(default),
            Some(v) => v
                .as_integer()
                .filter(|n| *n >= 0)
                .with_context(|| format!("params.{key} must be a whole number >= 0")),
        }
    }
    fn strings(&self, key: &str, default: &[&str]) -> Result<Vec<String>> {
        match self.get(key) {
            None => Ok(default.iter().map(|s| s.to_string()).collect()),
            Some(toml::Value::Array(a)) => a
                .iter()
                .map(|v| {
                    v.as_str()
                        .map(str::to_string)
                        .with_context(|| format!("params.{key} must be a list of text"))
                })
                .collect(),
            Some(_) => bail!("params.{key} must be a list of text"),
        }
    }
    fn text(&self, key: &str, default: &str) -> Result<String> {
        match self.get(key) {
            None => Ok(default.into()),
            Some(v) => v
                .as_str()
                .map(str::to_string)
                .with_context(|| format!("params.{key} must be text")),
        }
    }
    fn operations(&self, key: &str, default: &[&str]) -> Result<Vec<Operation>> {
        self.strings(key, default)?
            .iter()
            .map(|o| {
                Operation::parse(o).with_context(|| {
                    format!("params.{key}: {o:?} is not one of {}", Operation::ALL)
                })
            })
            .collect()
    }
    fn destructive(&self) -> Result<Destructive> {
        Ok(Destructive {
            operations: self.operations("destructive_operations", &["delete"])?,
            actions: Words::new(&self.strings(
                "destructive_actions",
                &["drop", "truncate", "terminate", "wipe", "destroy", "purge"],
            )?)?,
        })
    }
}

fn time_of_day(text: &str, key: &str) -> Result<NaiveTime> {
    NaiveTime::parse_from_str(text, "%H:%M")
        .with_context(|| format!("params.{key}: {text:?} is not a time like 09:00"))
}

fn compile_condition(v: &toml::Value) -> Result<FieldCondition> {
    let t = v.as_table().context("each `when` entry must be a table")?;
    let field = t
        .get("field")
        .and_then(|f| f.as_str())
        .context("a `when` entry needs a field")?;
    if !NATIVE_FIELDS.contains(&field) || field == "timestamp" || field == "approved_at" {
        bail!("`when`: {field:?} is not an event field that can be tested");
    }
    let list = |x: &toml::Value| -> Result<Vec<String>> {
        x.as_array()
            .context("must be a list")?
            .iter()
            .map(|s| {
                s.as_str()
                    .map(str::to_string)
                    .context("must be a list of text")
            })
            .collect()
    };
    let test = if let Some(x) = t.get("is") {
        FieldTest::Is(match x {
            toml::Value::String(s) => s.clone(),
            toml::Value::Boolean(b) => b.to_string(),
            _ => bail!("`when` {field}: `is` must be text or true/false"),
        })
    } else if let Some(x) = t.get("in") {
        FieldTest::In(list(x).with_context(|| format!("`when` {field}: `in`"))?)
    } else if let Some(x) = t.get("not_in") {
        FieldTest::NotIn(list(x).with_context(|| format!("`when` {field}: `not_in`"))?)
    } else if let Some(x) = t.get("present") {
        FieldTest::Present(x.as_bool().context("`present` must be true or false")?)
    } else if let Some(x) = t.get("matches") {
        FieldTest::Matches(x.as_str().context("`matches` must be text")?.to_string())
    } else {
        bail!("`when` {field}: give one of is, in, not_in, present, matches");
    };
    for k in t.keys() {
        if !["field", "is", "in", "not_in", "present", "matches"].contains(&k.as_str()) {
            bail!("`when` {field}: unknown key {k:?}");
        }
    }
    Ok(FieldCondition {
        field: field.into(),
        test,
    })
}

/// Reads each enabled policy's parameters into its check; a bad parameter is an error
/// naming the policy.
pub fn compile(policies: &[Policy], tz: Tz) -> Result<Vec<CompiledPolicy>> {
    policies
        .iter()
        .filter(|p| p.enabled)
        .map(|p| compile_one(p, tz).with_context(|| format!("policy {:?}", p.id)))
        .collect()
}

fn compile_one(p: &Policy, display_tz: Tz) -> Result<CompiledPolicy> {
    let params = Params { policy: p };
    let minutes = |key: &str, d: i64| -> Result<i64> { Ok(params.int(key, d)? * 60_000) };
    let check = match p.kind.as_str() {
        "destructive-without-approval" => Check::DestructiveWithoutApproval(params.destructive()?),
        "blast-radius" => Check::BlastRadius {
            max_resources: params.int("max_resources", 50)? as usize,
            window_ms: minutes("window_minutes", 60)?.max(60_000),
            max_accounts: params.int("max_accounts", 1)? as usize,
            max_regions: params.int("max_regions", 1)? as usize,
            max_environments: params.int("max_environments", 1)? as usize,
        },
        "time-fence" => {
            let tz_name = params.text("timezone", &display_tz.to_string())?;
            Check::TimeFence {
                destructive: params.destructive()?,
                start: time_of_day(&params.text("start", "09:00")?, "start")?,
                end: time_of_day(&params.text("end", "17:30")?, "end")?,
                tz: crate::clock::parse_tz(&tz_name)?,
            }
        }
        "change-freeze" => {
            let mut freezes = Vec::new();
            if let Some(toml::Value::Array(list)) = params.get("freezes") {
                for f in list {
                    let get = |k: &str| -> Result<String> {
                        f.get(k)
                            .and_then(|v| v.as_str())
                            .map(str::to_string)
                            .with_context(|| format!("each freeze needs a {k}"))
                    };
                    let at = |k: &str| -> Result<i64> {
                        let t = get(k)?;
                        Ok(parse_timestamp(&t, display_tz)
                            .map_err(|e| anyhow::anyhow!("freeze {k}: {e}"))?
                            .timestamp_millis())
                    };
                    let (start, end) = (at("start")?, at("end")?);
                    if end <= start {
                        bail!("freeze {:?} ends before it starts", get("name")?);
                    }
                    freezes.push((get("name")?, start, end));
                }
            }
            Check::ChangeFreeze { freezes }
        }
        "self-approval" => Check::SelfApproval,
        "ai-approving-ai" => Check::AiApprovingAi,
        "no-plan" => Check::NoPlan {
            applying: params.operations(
                "applying_operations",
                &["create", "update", "delete", "deploy"],
            )?,
        },
        "rate-limit" => Check::RateLimit {
            max_changes: params.int("max_changes", 30)? as usize,
            window_ms: minutes("window_minutes", 10)?.max(60_000),
        },
        "cross-environment" => Check::CrossEnvironment {
            actor_types: params
                .strings("actor_types", &["ai_agent", "service"])?
                .iter()
                .map(|t| {
                    ActorType::parse(t).with_context(|| {
                        format!("params.actor_types: {t:?} is not one of {}", ActorType::ALL)
                    })
                })
                .collect::<Result<_>>()?,
        },
        "wildcard-permission" => Check::WildcardPermission {
            grants: params.strings(
                "grants",
                &["*", "*:*", "AdministratorAccess", "cluster-admin"],
            )?,
        },
        "missing-provenance" => Check::MissingProvenance {
            exempt: params.operations("exempt_operations", &[])?,
        },
        "time-gap" => Check::TimeGap {
            max_gap_ms: minutes("max_gap_minutes", 120)?.max(60_000),
        },
        "logging-tamper" => Check::LoggingTamper {
            actions: params.strings("actions", &["StopLogging", "DeleteTrail", "UpdateTrail"])?,
            resources: Globs::new(&params.strings("resource_patterns", &["*audit-policy*"])?)?,
        },
        "condition" => Check::Condition(
            p.when
                .iter()
                .map(compile_condition)
                .collect::<Result<_>>()?,
        ),
        other => bail!("unknown kind {other:?}"),
    };
    Ok(CompiledPolicy {
        policy: p.clone(),
        check,
        production: params.strings("production_environments", &["prod", "production"])?,
    })
}

/// One event that breaks a per-event check, before grouping into findings. Its names
/// borrow from the event (copied only for a hit kept to the end).
pub struct Hit<'a> {
    policy: usize,
    /// Events with the same key become one finding (one per change, say); empty for a
    /// finding of this event alone.
    group: Cow<'a, str>,
    detail: String,
    event: EventRef,
    actor: Cow<'a, str>,
    resource: Cow<'a, str>,
    change_id: Cow<'a, str>,
    /// Destructive events wait for the end: a human approval may come later in the file.
    awaits_approval: bool,
}

impl Hit<'_> {
    /// The hit with its own copy of what it borrowed.
    fn into_owned(self) -> Hit<'static> {
        Hit {
            policy: self.policy,
            group: Cow::Owned(self.group.into_owned()),
            detail: self.detail,
            event: self.event,
            actor: Cow::Owned(self.actor.into_owned()),
            resource: Cow::Owned(self.resource.into_owned()),
            change_id: Cow::Owned(self.change_id.into_owned()),
            awaits_approval: self.awaits_approval,
        }
    }

    /// For hits on a block's events numbered from the block's first line: moves the
    /// event down to its line in the file.
    pub fn move_down(&mut self, lines: u64) {
        self.event.line += lines;
    }

    /// The group, with an event's own finding named by its place.
    fn settle(mut self) -> Self {
        if self.group.is_empty() {
            self.group = Cow::Owned(format!("{}:{}", self.event.source, self.event.line));
        }
        self
    }
}

pub(crate) fn hash(text: &str) -> u64 {
    use std::hash::Hasher;
    let mut h = FxHasher::default();
    h.write(text.as_bytes());
    h.finish()
}

/// Distinct values up to a cap, by hash, with the first few names. A short list is
/// searched in place; past 32 values a hash set takes over.
#[derive(Default)]
struct Distinct {
    hashes: SmallVec<[u64; 8]>,
    many: Option<rustc_hash::FxHashSet<u64>>,
    /// The first few, as symbols.
    names: Ids,
}

impl Distinct {
    fn add(&mut self, text: &str, cap: usize, symbols: &mut Symbols) {
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

    fn len(&self) -> usize {
        self.many.as_ref().map_or(self.hashes.len(), |s| s.len())
    }
}

/// Names that recur (actors, accounts, regions, environments, resources) stored once;
/// per-change state holds their numbers. The hash index holds positions, so each name is
/// kept once.
#[derive(Default, Clone)]
struct Symbols {
    index: hashbrown::HashTable<u32>,
    names: Vec<Box<str>>,
}

impl Symbols {
    fn id(&mut self, name: &str) -> u32 {
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

    fn name(&self, id: u32) -> &str {
        self.names.get(id as usize).map_or("", |n| n)
    }

    /// `id` if it names a symbol (when reading an id back from disk).
    fn known(&self, id: u32) -> Option<u32> {
        ((id as usize) < self.names.len()).then_some(id)
    }

    fn names(&self, ids: &Ids) -> Vec<String> {
        ids.0.iter().map(|&i| self.name(i).to_string()).collect()
    }
}

/// Distinct symbols, up to a small cap (enough to say "more than one account").
#[derive(Default)]
struct Ids(SmallVec<[u32; 5]>);

impl Ids {
    fn add(&mut self, id: u32, cap: usize) {
        if self.0.len() < cap && !self.0.contains(&id) {
            self.0.push(id);
        }
    }

    /// Adds a name, interning it only if it is new here: a change's events mostly repeat
    /// its account, region, environment and actor, and comparing a few names is cheaper
    /// than hashing one.
    fn add_name(&mut self, name: &str, cap: usize, symbols: &mut Symbols) -> u32 {
        match self.0.iter().find(|&&id| symbols.name(id) == name) {
            Some(&id) => id,
            None => {
                let id = symbols.id(name);
                self.add(id, cap);
                id
            }
        }
    }

    fn len(&self) -> usize {
        self.0.len()
    }
}

/// What is kept per change (or per actor window when there is no change id).
#[derive(Default)]
pub struct ChangeState {
    pub first_at: i64,
    pub last_at: i64,
    resources: Distinct,
    accounts: Ids,
    regions: Ids,
    environments: Ids,
    appliers: Ids,
    refs: SmallVec<[EventRef; KEPT_PER_CHANGE]>,
    events: u64,
    /// Earliest plan or dry run.
    plan_at: Option<i64>,
    /// First production apply and its actor.
    pub first_prod_apply: Option<EventRef>,
    first_prod_actor: u32,
    /// Approve events: approver, type, where.
    approvals: SmallVec<[(u32, ActorType, EventRef); 1]>,
    /// Whether an AI agent, a person or a service applied it.
    pub by_ai: bool,
    pub by_human: bool,
    /// A production apply failed.
    pub failed: bool,
}

impl ChangeState {
    fn starting(at: i64) -> ChangeState {
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
fn encode_state(out: &mut Enc, st: &ChangeState) {
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
fn decode_state(input: &mut Dec, symbols: &Symbols) -> Option<ChangeState> {
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

/// Change histories by change id. There can be hundreds of thousands: they sit densely in
/// fixed-size segments, and the hash index holds only their positions. Growing never
/// moves a history: one vector doubling would copy every history and briefly hold two
/// copies, the peak memory of a large run.
///
/// Past the budget, the histories idle longest are handed out (to go to disk) and their
/// places reused. A change's events usually come close together in an audit trail, so
/// in a long run those histories are finished; one that comes back has its later events
/// go to disk too, where they are added to its saved history at the end.
#[derive(Default)]
pub struct ChangeMap {
    index: hashbrown::HashTable<u32>,
    segments: Vec<Vec<Entry>>,
    /// Places in use, and places given up by histories handed out, to reuse.
    len: usize,
    free: Vec<u32>,
    /// Counts lookups: each history's `seen` is this at its latest event.
    clock: u64,
    /// Hashes of the ids of histories handed out. A new id with one of these hashes
    /// (that change again, or rarely another with the same hash) goes to disk.
    handed_out: rustc_hash::FxHashSet<u64>,
}

/// A change id (empty for a free place), when its history last had an event, and the
/// history.
#[derive(Default)]
struct Entry {
    id: Box<str>,
    seen: u64,
    state: ChangeState,
}

/// Histories per segment (a power of two: a position splits into segment and offset).
const SEGMENT_BITS: u32 = 12;
const SEGMENT: usize = 1 << SEGMENT_BITS;

/// A position's segment and offset.
fn slot(i: u32) -> (usize, usize) {
    ((i >> SEGMENT_BITS) as usize, i as usize & (SEGMENT - 1))
}

/// Where a change's history is kept.
pub enum Held<'m> {
    Here(&'m mut ChangeState),
    /// On disk: its events are to be written there.
    OnDisk,
}

impl ChangeMap {
    fn with_capacity(n: usize) -> ChangeMap {
        ChangeMap {
            index: hashbrown::HashTable::with_capacity(n),
            ..ChangeMap::default()
        }
    }

    fn at(&self, i: u32) -> &Entry {
        let (s, o) = slot(i);
        &self.segments[s][o]
    }

    fn at_mut(&mut self, i: u32) -> &mut Entry {
        let (s, o) = slot(i);
        &mut self.segments[s][o]
    }

    fn find(&self, h: u64, id: &str) -> Option<u32> {
        let segments = &self.segments;
        self.index
            .find(h, |&i| {
                let (s, o) = slot(i);
                *segments[s][o].id == *id
            })
            .copied()
    }

    /// The history of change `id`, started if new. With `budget` histories already held,
    /// the idlest half are first given to `hand_out` (to keep on disk) and dropped here;
    /// a change handed out before stays on disk.
    fn get_or_start(
        &mut self,
        id: &str,
        at: i64,
        budget: usize,
        hand_out: impl FnMut(&str, &ChangeState),
    ) -> Held<'_> {
        let h = hash(id);
        self.clock += 1;
        let i = match self.find(h, id) {
            Some(i) => i,
            None if self.handed_out.contains(&h) => return Held::OnDisk,
            None => {
                if self.len >= budget {
                    // With no budget at all, nothing is held: every change is on disk.
                    if self.len == 0 {
                        return Held::OnDisk;
                    }
                    self.hand_out_idlest(hand_out);
                }
                self.insert(h, id, ChangeState::starting(at))
            }
        };
        let clock = self.clock;
        let entry = self.at_mut(i);
        entry.seen = clock;
        Held::Here(&mut entry.state)
    }

    fn insert(&mut self, h: u64, id: &str, state: ChangeState) -> u32 {
        let entry = Entry {
            id: Box::from(id),
            seen: self.clock,
            state,
        };
        let i = match self.free.pop() {
            Some(i) => {
                *self.at_mut(i) = entry;
                i
            }
            None => {
                let i = self
                    .segments
                    .last()
                    .map_or(0, |last| (self.segments.len() - 1) * SEGMENT + last.len())
                    as u32;
                if (i as usize).is_multiple_of(SEGMENT) {
                    self.segments.push(Vec::with_capacity(SEGMENT));
                }
                if let Some(last) = self.segments.last_mut() {
                    last.push(entry);
                }
                i
            }
        };
        self.len += 1;
        let segments = &self.segments;
        self.index.insert_unique(h, i, |&j| {
            let (s, o) = slot(j);
            hash(&segments[s][o].id)
        });
        i
    }

    /// Hands out the half of the histories idle longest (at least one) and frees their
    /// places.
    fn hand_out_idlest(&mut self, mut hand_out: impl FnMut(&str, &ChangeState)) {
        let mut by_seen: Vec<(u64, u32)> = self
            .segments
            .iter()
            .flatten()
            .zip(0u32..)
            .filter(|(e, _)| !e.id.is_empty())
            .map(|(e, i)| (e.seen, i))
            .collect();
        let n = (by_seen.len() / 2).max(1);
        if n < by_seen.len() {
            by_seen.select_nth_unstable(n);
        }
        for &(_, i) in &by_seen[..n] {
            let entry = std::mem::take(self.at_mut(i));
            let h = hash(&entry.id);
            hand_out(&entry.id, &entry.state);
            if let Ok(found) = self.index.find_entry(h, |&j| j == i) {
                found.remove();
            }
            self.handed_out.insert(h);
            self.free.push(i);
            self.len -= 1;
        }
    }

    /// Puts back a history read from disk. It is its change's first record there: a
    /// history leaves memory once, and its change's later events are written after it.
    fn restore(&mut self, id: &str, state: ChangeState) {
        let h = hash(id);
        debug_assert!(self.find(h, id).is_none(), "{id} restored twice");
        self.insert(h, id, state);
    }

    fn get(&self, id: &str) -> Option<&ChangeState> {
        self.find(hash(id), id).map(|i| &self.at(i).state)
    }

    /// How many changes.
    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Every change held, with its id.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &ChangeState)> {
        self.segments
            .iter()
            .flatten()
            .filter(|e| !e.id.is_empty())
            .map(|e| (&*e.id, &e.state))
    }
}

/// Per-actor state for the cross-environment check.
#[derive(Default)]
struct ActorEnvironments {
    prod: Option<(EventRef, String)>,
    other: Option<(EventRef, String)>,
}

/// A per-stream record of which minutes had events.
struct Stream {
    name: String,
    minutes: Vec<i64>,
    first: Option<EventRef>,
}

/// A piece of a finding's sentence: text as it is, or text as `{:?}` prints it.
enum Piece<'a> {
    Text(&'a str),
    Quoted(&'a str),
}
use Piece::{Quoted, Text};

/// A finding's sentence put together from its pieces. (`format!` was a third of the
/// per-event checks' cost where findings are many, most of it in the formatting
/// machinery and in `{:?}` escaping one character at a time.)
fn sentence(pieces: &[Piece]) -> String {
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

/// Events checked together by each policy in turn (see [`Rules::check`]); at most 64, a
/// bit each in a machine word.
const CHECKED_TOGETHER: usize = 64;
const _: () = assert!(CHECKED_TOGETHER <= 64);

/// The per-event checks: shared by the threads that parse, while the [`Engine`] keeps
/// the history on one thread.
#[derive(Clone, Copy)]
pub struct Rules<'a> {
    policies: &'a [CompiledPolicy],
    calendar: &'a Calendar,
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
            for (i, p) in self.policies.iter().enumerate() {
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
        let is_prod = |k: usize| in_prod >> k & 1 != 0;
        let hit = |e: &AuditEvent<'b>, group: Cow<'b, str>, detail: String| Hit {
            policy: i,
            group,
            detail,
            event: EventRef::of(e),
            // Cloning a `Cow` borrows again what the event borrows from the input, and
            // copies only what the event has its own copy of.
            actor: e.actor.clone(),
            resource: e.resource.clone(),
            change_id: e.change_id.clone(),
            awaits_approval: false,
        };
        // One finding per change; without a change id, one per event (an empty group,
        // named by its place once the line's number in the file is known).
        let per_change = |e: &AuditEvent<'b>| e.change_id.clone();
        match &p.check {
            Check::DestructiveWithoutApproval(d) => {
                for (k, e) in events.iter().enumerate() {
                    if e.actor_type == ActorType::AiAgent
                        && is_prod(k)
                        && d.holds(e)
                        && !inline_human_approval(e)
                    {
                        let mut h = hit(
                            e,
                            per_change(e),
                            sentence(&[
                                Text("AI agent "),
                                Text(&e.actor),
                                Text(" ran "),
                                Quoted(&e.action),
                                Text(" on "),
                                Text(&e.resource),
                                Text(" in "),
                                Text(&e.environment),
                                Text(" with no human approval before it"),
                            ]),
                        );
                        h.awaits_approval = true;
                        out.push(h);
                    }
                }
            }
            Check::TimeFence {
                destructive,
                start,
                end,
                tz,
            } => {
                for (k, e) in events.iter().enumerate() {
                    if is_prod(k) && destructive.holds(e) {
                        let local = millis_to_time(e.at).with_timezone(tz);
                        let date = local.date_naive();
                        let t = local.time();
                        let working_day = self.calendar.is_working_day(date);
                        if !working_day || t < *start || t >= *end {
                            let why = if self.calendar.is_bank_holiday(date) {
                                "on a bank holiday".to_string()
                            } else if !working_day {
                                format!("on a {}", local.format("%A"))
                            } else {
                                let mut why = String::with_capacity(40);
                                why.push_str("at ");
                                crate::clock::push_hh_mm(&mut why, t.hour(), t.minute());
                                why.push_str(" local time, outside ");
                                crate::clock::push_hh_mm(&mut why, start.hour(), start.minute());
                                why.push('–');
                                crate::clock::push_hh_mm(&mut why, end.hour(), end.minute());
                                why
                            };
                            out.push(hit(
                                e,
                                per_change(e),
                                sentence(&[
                                    Text(&e.actor),
                                    Text(" ran "),
                                    Quoted(&e.action),
                                    Text(" on "),
                                    Text(&e.resource),
                                    Text(" in production "),
                                    Text(&why),
                                ]),
                            ));
                        }
                    }
                }
            }
            Check::ChangeFreeze { freezes } => {
                for (k, e) in events.iter().enumerate() {
                    if e.operation.changes() && !e.dry_run && is_prod(k) {
                        if let Some((name, _, _)) =
                            freezes.iter().find(|(_, s, t)| e.at >= *s && e.at < *t)
                        {
                            out.push(hit(
                                e,
                                per_change(e),
                                sentence(&[
                                    Text(&e.actor),
                                    Text(" made a production "),
                                    Text(e.operation.as_str()),
                                    Text(" during the change freeze "),
                                    Quoted(name),
                                ]),
                            ));
                        }
                    }
                }
            }
            Check::SelfApproval => {
                for e in events {
                    if !e.approved_by.is_empty() && e.approved_by.eq_ignore_ascii_case(&e.actor) {
                        out.push(hit(
                            e,
                            per_change(e),
                            sentence(&[Text(&e.actor), Text(" approved their own change")]),
                        ));
                    }
                }
            }
            Check::AiApprovingAi => {
                for (k, e) in events.iter().enumerate() {
                    let ai_approver = e.approver_type == Some(ActorType::AiAgent)
                        || (e.operation == Operation::Approve
                            && e.actor_type == ActorType::AiAgent);
                    if ai_approver && is_prod(k) {
                        let approver = if e.operation == Operation::Approve {
                            &e.actor
                        } else {
                            &e.approved_by
                        };
                        out.push(hit(
                            e,
                            per_change(e),
                            sentence(&[
                                Text("AI agent "),
                                Text(approver),
                                Text(" approved a production change"),
                            ]),
                        ));
                    }
                }
            }
            Check::NoPlan { applying } => {
                for (k, e) in events.iter().enumerate() {
                    if e.change_id.is_empty()
                        && e.actor_type == ActorType::AiAgent
                        && is_prod(k)
                        && !e.dry_run
                        && applying.contains(&e.operation)
                    {
                        let day = itoa::Buffer::new()
                            .format(e.at.div_euclid(86_400_000))
                            .to_owned();
                        out.push(hit(
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
            Check::WildcardPermission { grants } => {
                for e in events {
                    if e.operation == Operation::PermissionChange && !e.grants.is_empty() {
                        let wild = e.grants.split([',', ';', ' ']).map(str::trim).any(|g| {
                            g == "*" || g.ends_with(":*") || grants.iter().any(|x| x == g)
                        });
                        if wild {
                            out.push(hit(
                                e,
                                per_change(e),
                                sentence(&[
                                    Text(&e.actor),
                                    Text(" granted "),
                                    Quoted(&e.grants),
                                    Text(" on "),
                                    Text(&e.resource),
                                ]),
                            ));
                        }
                    }
                }
            }
            Check::MissingProvenance { exempt } => {
                for e in events {
                    if e.actor_type == ActorType::AiAgent
                        && !exempt.contains(&e.operation)
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
            Check::LoggingTamper { actions, resources } => {
                for e in events {
                    let by_action = actions.iter().any(|a| *a == *e.action);
                    let by_resource = e.operation.changes() && resources.match_any(&e.resource);
                    if (by_action || by_resource) && !e.dry_run {
                        out.push(hit(
                            e,
                            Cow::Borrowed(""),
                            format!(
                                "{} ran {:?} on {}: the audit trail itself was changed",
                                e.actor, e.action, e.resource
                            ),
                        ));
                    }
                }
            }
            Check::Condition(conds) => {
                for e in events {
                    if conds.iter().all(|c| c.holds(e)) {
                        out.push(hit(
                            e,
                            per_change(e),
                            format!(
                                "{} {} {} ({})",
                                e.actor,
                                e.operation.as_str(),
                                e.resource,
                                p.policy.title
                            ),
                        ));
                    }
                }
            }
            Check::BlastRadius { .. }
            | Check::RateLimit { .. }
            | Check::CrossEnvironment { .. }
            | Check::TimeGap { .. } => {}
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
    /// Which history the enabled policies need, and the cross-environment check's actor
    /// types and production environments: read from the policies once.
    rate: bool,
    gaps: bool,
    cross: Option<(Vec<ActorType>, Vec<String>)>,
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
    actors: FxHashMap<Box<str>, ActorEnvironments>,
    ai_changes: FxHashMap<Box<str>, Vec<EventRef>>,
    /// Streams by hash of account and region.
    streams: FxHashMap<u64, Stream>,
    pub events_seen: u64,
    pub first_at: Option<i64>,
    pub last_at: Option<i64>,
    /// AI-driven and human change events (not reads, plans or approvals).
    pub ai_change_events: u64,
    pub human_change_events: u64,
    /// Identities of people (actors and approvers of type human), for `--redact`; only
    /// gathered when asked for ([`Engine::gather_people`]): two look-ups an event.
    pub people: Option<rustc_hash::FxHashSet<Box<str>>>,
}

impl<'a> Engine<'a> {
    /// The per-event checks, to run on other threads while this engine observes.
    pub fn rules(&self) -> Rules<'a> {
        Rules {
            policies: self.policies,
            calendar: self.calendar,
        }
    }

    /// How many change histories and findings to hold in memory before the rest go to
    /// temporary files (the results are the same either way).
    pub fn new(
        policies: &'a [CompiledPolicy],
        calendar: &'a Calendar,
        (changes_in_memory, findings_in_memory): (usize, usize),
    ) -> Engine<'a> {
        let mut cap = 0;
        let mut small_cap = 8;
        let mut blast_window_ms = 3_600_000;
        for p in policies {
            if let Check::BlastRadius {
                max_resources,
                window_ms,
                max_accounts,
                max_regions,
                max_environments,
            } = &p.check
            {
                cap = cap.max(*max_resources);
                small_cap = small_cap
                    .max(*max_accounts + 1)
                    .max(*max_regions + 1)
                    .max(*max_environments + 1);
                blast_window_ms = *window_ms;
            }
        }
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
            production,
            rate: wants(|c| matches!(c, Check::RateLimit { .. })),
            gaps: wants(|c| matches!(c, Check::TimeGap { .. })),
            cross: policies.iter().find_map(|p| match &p.check {
                Check::CrossEnvironment { actor_types } => {
                    Some((actor_types.clone(), p.production.clone()))
                }
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
            actors: FxHashMap::default(),
            ai_changes: FxHashMap::default(),
            streams: FxHashMap::default(),
            events_seen: 0,
            first_at: None,
            last_at: None,
            ai_change_events: 0,
            human_change_events: 0,
            people: None,
        }
    }

    /// Gathers the people seen, for [`super::AuditReport::redact`].
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
            let r = EventRef::of(e);
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
            if rate && changes && e.actor_type == ActorType::AiAgent {
                match self.ai_changes.get_mut(&*e.actor) {
                    Some(v) => v.push(r),
                    None => {
                        self.ai_changes.insert(Box::from(&*e.actor), vec![r]);
                    }
                }
            }
            if let Some((types, prod_envs)) = &self.cross {
                if types.contains(&e.actor_type)
                    && !e.environment.is_empty()
                    && e.environment != "unknown"
                {
                    let slot = match self.actors.get_mut(&*e.actor) {
                        Some(s) => s,
                        None => self.actors.entry(Box::from(&*e.actor)).or_default(),
                    };
                    let p = prod_envs.iter().any(|x| *x == *e.environment);
                    let which = if p { &mut slot.prod } else { &mut slot.other };
                    if which.is_none() {
                        *which = Some((r, e.environment.to_string()));
                    }
                }
            }
            // A stream is an account (and region); events without an account have none.
            if gaps && !e.account.is_empty() {
                let minute = e.at.div_euclid(60_000);
                let key = hash(&e.account) ^ hash(&e.region).rotate_left(17);
                let stream = self.streams.entry(key).or_insert_with(|| Stream {
                    name: if e.region.is_empty() {
                        e.account.to_string()
                    } else {
                        format!("{} {}", e.account, e.region)
                    },
                    first: Some(r),
                    minutes: Vec::new(),
                });
                if stream.minutes.last() != Some(&minute) {
                    stream.minutes.push(minute);
                }
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

    fn add_finding(
        &mut self,
        policy: usize,
        group: String,
        detail: String,
        change_id: &str,
        refs: &[(EventRef, &str, &str)],
    ) {
        for (r, actor, resource) in refs {
            self.store.add(
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
            self.add_finding(i, id.clone(), detail, &id, &[(r, &actor, "")]);
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
            let per_partition = self.changes.handed_out.len() / PARTITIONS * 9 / 8;
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
        let metrics = super::metrics::aggregate(deployments)?;
        for (i, p) in policies.iter().enumerate() {
            match &p.check {
                Check::RateLimit {
                    max_changes,
                    window_ms,
                } => {
                    let mut found = Vec::new();
                    for (actor, refs) in &mut self.ai_changes {
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
                        self.add_finding(i, format!("{actor}@{}", burst[0].at), detail, "", &refs);
                    }
                }
                Check::CrossEnvironment { .. } => {
                    let mut found = Vec::new();
                    for (actor, envs) in &self.actors {
                        if let (Some((p, pe)), Some((o, oe))) = (&envs.prod, &envs.other) {
                            found.push((actor.to_string(), *p, pe.clone(), *o, oe.clone()));
                        }
                    }
                    for (actor, p, pe, o, oe) in found {
                        let detail =
                            format!("{actor} acted in {pe} and in {oe} with the same identity");
                        self.add_finding(
                            i,
                            actor.clone(),
                            detail,
                            "",
                            &[(o, &actor, ""), (p, &actor, "")],
                        );
                    }
                }
                Check::TimeGap { max_gap_ms } => {
                    let mut found = Vec::new();
                    for s in self.streams.values_mut() {
                        s.minutes.sort_unstable();
                        s.minutes.dedup();
                        for w in s.minutes.windows(2) {
                            let gap = (w[1] - w[0]) * 60_000;
                            if gap > *max_gap_ms {
                                found.push((s.name.clone(), w[0] * 60_000, w[1] * 60_000, s.first));
                            }
                        }
                    }
                    for (name, from, to, first) in found {
                        let detail = format!(
                            "No events from {name} for {} between {} and {}",
                            crate::clock::human_duration(chrono::Duration::milliseconds(to - from)),
                            millis_to_time(from).format("%Y-%m-%d %H:%M UTC"),
                            millis_to_time(to).format("%Y-%m-%d %H:%M UTC"),
                        );
                        let mut g = Gathering::new(detail, String::new());
                        g.first_at = from;
                        g.last_at = to;
                        g.resources.push(name.clone());
                        g.resource_count = 1;
                        if let Some(r) = first {
                            g.events.push(r);
                            g.event_count = 0;
                        }
                        self.store.put(i, format!("{name}@{from}"), g);
                    }
                }
                _ => {}
            }
        }
        let findings = std::mem::replace(&mut self.store, FindingStore::new(0)).finish(policies)?;
        // The temporary files go now: a thread still running at exit would leave them.
        drop(spilled);
        let history = (
            std::mem::take(&mut self.changes),
            std::mem::take(&mut self.windows),
            std::mem::take(&mut self.ai_changes),
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
            self.symbols.names.len(),
            self.ai_changes.values().map(Vec::len).sum::<usize>(),
            self.streams.len(),
            self.streams.values().map(|s| s.minutes.len()).sum::<usize>(),
            self.people.as_ref().map_or(0, |p| p.len()),
            self.actors.len(),
        )
    }
}

/// What [`Engine::finish`] gives back.
pub struct Finished {
    pub findings: Findings,
    pub metrics: Vec<super::metrics::ChangeMetrics>,
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
    /// Events to add to a finding: policy, change id, detail, event, actor.
    added: Vec<(usize, String, String, EventRef, String)>,
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
        for h in candidates {
            let (at, actor) = (h.event.at, &*h.actor);
            let approved = changes.get(&h.change_id).is_some_and(|c| {
                c.approvals.iter().any(|(who, t, r)| {
                    *t == ActorType::Human && symbols.name(*who) != actor && r.at <= at
                })
            });
            if !approved {
                out.unapproved.push(h);
            }
        }
        for (i, p) in self.policies.iter().enumerate() {
            match &p.check {
                Check::BlastRadius {
                    max_resources,
                    max_accounts,
                    max_regions,
                    max_environments,
                    ..
                } => {
                    let limits = (
                        *max_resources,
                        *max_accounts,
                        *max_regions,
                        *max_environments,
                    );
                    // A change's key is copied only for a finding: most changes are not one.
                    let changes = changes.iter().map(|(k, s)| (true, Cow::Borrowed(k), s));
                    let windows = windows.iter().map(|((_, w), s)| {
                        let actor = s.appliers.0.first().map_or("", |&a| symbols.name(a));
                        (false, Cow::Owned(format!("{actor}@{w}")), s)
                    });
                    for (is_change, key, st) in changes.chain(windows) {
                        if let Some(g) = blast_radius(is_change, &key, st, limits, symbols) {
                            out.gathered.push(((i, key.into_owned()), g));
                        }
                    }
                }
                Check::NoPlan { .. } => {
                    for (id, st) in changes.iter() {
                        if let Some(apply) = st.first_prod_apply {
                            if st.plan_at.is_none_or(|p| p > apply.at) {
                                let actor = symbols.name(st.first_prod_actor).to_string();
                                let detail = format!("Change {id} was applied to production by {actor} with no plan or dry run before it");
                                out.added.push((i, id.to_string(), detail, apply, actor));
                            }
                        }
                    }
                }
                Check::SelfApproval => {
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
                                out.added
                                    .push((i, id.to_string(), detail, *r, who.to_string()));
                            }
                        }
                    }
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

/// The blast-radius finding for one change (or actor window), if it went over a limit.
fn blast_radius(
    is_change: bool,
    key: &str,
    st: &ChangeState,
    (max_resources, max_accounts, max_regions, max_environments): (usize, usize, usize, usize),
    symbols: &Symbols,
) -> Option<Gathering> {
    let mut over = Vec::new();
    if st.resources.len() > max_resources {
        let n = st.resources.len();
        let at_least = if n > RESOURCES_COUNTED {
            "at least "
        } else {
            ""
        };
        over.push(format!(
            "{at_least}{} resources (limit {max_resources})",
            n.min(RESOURCES_COUNTED)
        ));
    }
    for (d, max, what) in [
        (&st.accounts, max_accounts, "accounts"),
        (&st.regions, max_regions, "regions"),
        (&st.environments, max_environments, "environments"),
    ] {
        if d.len() > max {
            over.push(format!(
                "{} {what} ({})",
                d.len(),
                symbols.names(d).join(", ")
            ));
        }
    }
    if over.is_empty() {
        return None;
    }
    let actors = symbols.names(&st.appliers);
    let what = if is_change {
        format!("Change {key}")
    } else {
        format!("{} within one window", actors.first().map_or("", |a| a))
    };
    let detail = format!("{what} touched {}", over.join(" and "));
    let mut g = Gathering::new(
        detail,
        if is_change {
            key.to_string()
        } else {
            String::new()
        },
    );
    for r in &st.refs {
        g.add(*r, "", "");
    }
    g.event_count = st.events;
    g.actors = actors;
    g.resources = symbols.names(&st.resources.names);
    g.resource_count = st.resources.len() as u64;
    Some(g)
}

/// The event carries its own approval by a human other than the actor, given before it.
fn inline_human_approval(e: &AuditEvent) -> bool {
    e.approver_type == Some(ActorType::Human)
        && !e.approved_by.is_empty()
        && !e.approved_by.eq_ignore_ascii_case(&e.actor)
        && e.approved_at.is_none_or(|t| t <= e.at)
}

/// Adds one event to a change's history; `caps` are how far distinct resources and
/// distinct accounts, regions and environments are counted.
fn update_change(
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

    fn event<'a>(id: &'a str, resource: &'a str, at: i64) -> HistoryEvent<'a> {
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
    fn past_the_budget_the_idlest_histories_leave_and_do_not_come_back() {
        let mut map = ChangeMap::default();
        let mut symbols = Symbols::default();
        let mut out = Vec::new();
        let caps = (100, 8);
        let budget = std::cell::Cell::new(4);
        let mut add = |map: &mut ChangeMap, id: &str, at: i64, out: &mut Vec<String>| match map
            .get_or_start(id, at, budget.get(), |id, _| out.push(id.to_string()))
        {
            Held::Here(st) => {
                update_change(st, &event(id, "r", at), caps, &mut symbols);
                true
            }
            Held::OnDisk => false,
        };
        for (i, id) in ["A", "B", "C", "D"].iter().enumerate() {
            assert!(add(&mut map, id, i as i64, &mut out));
        }
        // A and B are touched again: C and D are now the idlest.
        assert!(add(&mut map, "A", 10, &mut out));
        assert!(add(&mut map, "B", 11, &mut out));
        assert!(add(&mut map, "E", 12, &mut out));
        out.sort();
        assert_eq!(out, ["C", "D"]);
        assert_eq!(map.len(), 3);
        let mut held: Vec<&str> = map.iter().map(|(id, _)| id).collect();
        held.sort_unstable();
        assert_eq!(held, ["A", "B", "E"]);
        assert!(map.get("C").is_none());
        // C left memory, so its later events go to disk; F takes a freed place.
        assert!(!add(&mut map, "C", 13, &mut out));
        assert!(add(&mut map, "F", 14, &mut out));
        assert_eq!(map.len(), 4);
        assert_eq!(map.get("A").map(|st| st.events), Some(2));
        // With no budget at all, every change is on disk.
        budget.set(0);
        let mut none = ChangeMap::default();
        assert!(!add(&mut none, "A", 0, &mut out));
        assert!(!add(&mut none, "A", 1, &mut out));
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
