//! Findings while they are gathered, and the sorted list a report is written from.
//!
//! A big run can have hundreds of thousands of findings. The first `budget` findings (by
//! policy and group) are gathered in memory; what adds to any later one is appended to
//! one of the partition files, chosen by its key, and at the end each partition is
//! gathered on its own, sorted, and written out as a sorted run. The report then reads
//! the findings by merging the runs with the ones held in memory, so memory stays bounded
//! by the budget. A finding is wholly in memory or wholly in one partition, and what adds
//! to it keeps its order, so each finding comes out exactly as if all were in memory.

use std::borrow::Cow;
use std::cmp::Ordering;
use std::fs::File;
use std::io::{BufReader, BufWriter, Read, Write};
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{Context, Result};
use rayon::prelude::*;
use rustc_hash::{FxHashMap, FxHashSet};

use super::model::{hash, EventRef, Finding, MAX_REFS};
use super::spill::{partition_of, Dec, Enc, PartitionFiles, Partitions, PARTITIONS};
use crate::controls::{Policy, RuleSource, Severity};

/// A finding being gathered.
pub(crate) struct Gathering {
    pub detail: String,
    pub change_id: String,
    pub actors: Vec<String>,
    pub resources: Vec<String>,
    pub resource_count: u64,
    /// Hashes of the distinct resources past the listed ones, so `resource_count` counts
    /// each resource once however many there are.
    more_resources: FxHashSet<u64>,
    pub events: Vec<EventRef>,
    pub event_count: u64,
    pub first_at: i64,
    pub last_at: i64,
}

impl Gathering {
    pub fn new(detail: String, change_id: String) -> Gathering {
        Gathering {
            detail,
            change_id,
            actors: Vec::new(),
            resources: Vec::new(),
            resource_count: 0,
            more_resources: FxHashSet::default(),
            events: Vec::new(),
            event_count: 0,
            first_at: i64::MAX,
            last_at: i64::MIN,
        }
    }

    pub fn add(&mut self, event: EventRef, actor: &str, resource: &str) {
        self.event_count += 1;
        self.first_at = self.first_at.min(event.at);
        self.last_at = self.last_at.max(event.at);
        // One record can stand for several events (a CloudTrail call on many resources).
        let listed = self
            .events
            .iter()
            .any(|e| (e.source, e.line) == (event.source, event.line));
        if !listed && self.events.len() < MAX_REFS {
            self.events.push(event);
        }
        if !actor.is_empty()
            && !self.actors.iter().any(|a| a == actor)
            && self.actors.len() < MAX_REFS
        {
            self.actors.push(actor.to_string());
        }
        if resource.is_empty() || self.resources.iter().any(|r| r == resource) {
            return;
        }
        if self.resources.len() < MAX_REFS {
            self.resources.push(resource.to_string());
            self.resource_count += 1;
        } else if self.more_resources.insert(hash(resource)) {
            self.resource_count += 1;
        }
    }

    fn encode(&self, e: &mut Enc) {
        encode(
            e,
            (&self.detail, &self.change_id),
            (&self.actors, &self.resources, self.resource_count),
            (&self.events, self.event_count, self.first_at, self.last_at),
        );
    }

    fn decode(d: &mut Dec) -> Option<Gathering> {
        let detail = d.str()?.to_string();
        let change_id = d.str()?.to_string();
        let mut lists = [Vec::new(), Vec::new()];
        for list in &mut lists {
            let n = d.u32()?;
            for _ in 0..n {
                list.push(d.str()?.to_string());
            }
        }
        let [actors, resources] = lists;
        let resource_count = d.u64()?;
        let n = d.u32()?;
        let mut events = Vec::with_capacity(n.min(64) as usize);
        for _ in 0..n {
            events.push(read_ref(d)?);
        }
        Some(Gathering {
            detail,
            change_id,
            actors,
            resources,
            resource_count,
            more_resources: FxHashSet::default(),
            events,
            event_count: d.u64()?,
            first_at: d.i64()?,
            last_at: d.i64()?,
        })
    }
}

/// Writes a gathering's fields (or a finding's: the same fields) in the order
/// [`Gathering::decode`] reads them.
fn encode(
    e: &mut Enc,
    (detail, change_id): (&str, &str),
    (actors, resources, resource_count): (&[String], &[String], u64),
    (events, event_count, first_at, last_at): (&[EventRef], u64, i64, i64),
) {
    e.str(detail).str(change_id);
    for list in [actors, resources] {
        e.u32(list.len() as u32);
        for s in list {
            e.str(s);
        }
    }
    e.u64(resource_count).u32(events.len() as u32);
    for r in events {
        write_ref(e, *r);
    }
    e.u64(event_count).i64(first_at).i64(last_at);
}

fn write_ref(e: &mut Enc, r: EventRef) {
    e.u32(r.source).u64(r.line).i64(r.at);
}

fn read_ref(d: &mut Dec) -> Option<EventRef> {
    Some(EventRef {
        source: d.u32()?,
        line: d.u64()?,
        at: d.i64()?,
    })
}

fn key_partition(policy: usize, group: &str) -> usize {
    partition_of(hash(group) ^ (policy as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15))
}

const ADD: u8 = 0;
const PUT: u8 = 1;

/// A finding's key, looked up without making a `String` of its group: hashed and
/// compared as the key `(policy, group)` is.
#[derive(Hash)]
struct KeyRef<'a>(usize, &'a str);

impl hashbrown::Equivalent<(usize, String)> for KeyRef<'_> {
    fn equivalent(&self, key: &(usize, String)) -> bool {
        self.0 == key.0 && self.1 == key.1
    }
}

/// Findings by (policy, group) while they are gathered.
pub(crate) struct FindingStore {
    gathering: hashbrown::HashMap<(usize, String), Gathering, rustc_hash::FxBuildHasher>,
    budget: usize,
    spill: PartitionFiles,
    record: Vec<u8>,
}

impl FindingStore {
    pub fn new(budget: usize) -> FindingStore {
        FindingStore {
            gathering: hashbrown::HashMap::default(),
            budget,
            spill: PartitionFiles::new("findings"),
            record: Vec::new(),
        }
    }

    /// Findings held in memory.
    pub fn len(&self) -> usize {
        self.gathering.len()
    }

    /// The findings held in memory, by policy and group (for tests).
    #[cfg(test)]
    pub fn held(&self) -> impl Iterator<Item = (&(usize, String), &Gathering)> {
        self.gathering.iter()
    }

    /// Adds an event to finding (`policy`, `group`), started with `detail` and
    /// `change_id` if it is new.
    #[allow(clippy::too_many_arguments)]
    pub fn add(
        &mut self,
        policy: usize,
        group: &str,
        detail: String,
        change_id: &str,
        event: EventRef,
        actor: &str,
        resource: &str,
    ) {
        if let Some(g) = self.gathering.get_mut(&KeyRef(policy, group)) {
            g.add(event, actor, resource);
        } else if self.gathering.len() < self.budget {
            let mut g = Gathering::new(detail, change_id.to_string());
            g.add(event, actor, resource);
            self.gathering.insert((policy, group.to_string()), g);
        } else {
            self.write_op(ADD, policy, group, |e| {
                e.str(&detail).str(change_id);
                write_ref(e, event);
                e.str(actor).str(resource);
            });
        }
    }

    /// Appends an operation on a finding not held in memory to its key's partition.
    fn write_op(&mut self, op: u8, policy: usize, group: &str, body: impl FnOnce(&mut Enc)) {
        self.record.clear();
        let mut e = Enc(&mut self.record);
        e.u8(op).u32(policy as u32).str(group);
        body(&mut e);
        self.spill.write(key_partition(policy, group), &self.record);
    }

    /// Sets finding (`policy`, `group`) to `g` whole.
    pub fn put(&mut self, policy: usize, group: String, g: Gathering) {
        let key = (policy, group);
        if self.gathering.contains_key(&key) || self.gathering.len() < self.budget {
            self.gathering.insert(key, g);
        } else {
            self.write_op(PUT, policy, &key.1, |e| {
                g.encode(e);
                e.u32(g.more_resources.len() as u32);
                for h in &g.more_resources {
                    e.u64(*h);
                }
            });
        }
    }

    /// Every finding, sorted; with how many each of the run's `policies` has.
    pub fn finish<'p>(self, policies: impl Iterator<Item = &'p Policy>) -> Result<Findings> {
        let texts: Vec<PolicyText> = policies
            .enumerate()
            .map(|(i, p)| PolicyText::of(i, p))
            .collect();
        let mut per_policy = vec![0u64; texts.len()];
        let mut memory: Vec<Finding> = self
            .gathering
            .into_iter()
            .map(|((i, _), g)| texts[i].finding(g))
            .collect();
        for f in &memory {
            per_policy[f.policy_index] += 1;
        }
        sort(&mut memory);
        let mut runs = Vec::new();
        let in_memory = memory.len();
        let files = self.spill.finish()?;
        if let Some(parts) = &files {
            let counts: Vec<Result<(PathBuf, Vec<u64>)>> = (0..PARTITIONS)
                .into_par_iter()
                .map(|p| gather_partition(parts, p, &texts))
                .collect();
            for c in counts {
                let (path, counts) = c?;
                for (total, n) in per_policy.iter_mut().zip(counts) {
                    *total += n;
                }
                runs.push(path);
            }
        }
        Ok(Findings {
            on_disk: per_policy.iter().sum::<u64>() as usize - in_memory,
            per_policy,
            memory,
            runs,
            texts,
            _files: files,
            scrubs: Vec::new(),
        })
    }
}

/// Gathers partition `p` from its records, sorts its findings and writes them out as a
/// sorted run; gives the run's path and its count per policy.
fn gather_partition(
    parts: &Partitions,
    p: usize,
    texts: &[PolicyText],
) -> Result<(PathBuf, Vec<u64>)> {
    let mut gathering: FxHashMap<(usize, String), Gathering> = FxHashMap::default();
    parts.read(p, |d| {
        let op = d.u8()?;
        let policy = d.u32()? as usize;
        let group = d.str()?.to_string();
        if policy >= texts.len() {
            return None;
        }
        match op {
            ADD => {
                let (detail, change_id) = (d.str()?, d.str()?);
                let event = read_ref(d)?;
                let (actor, resource) = (d.str()?, d.str()?);
                gathering
                    .entry((policy, group))
                    .or_insert_with(|| Gathering::new(detail.to_string(), change_id.to_string()))
                    .add(event, actor, resource);
            }
            PUT => {
                let mut g = Gathering::decode(d)?;
                for _ in 0..d.u32()? {
                    g.more_resources.insert(d.u64()?);
                }
                gathering.insert((policy, group), g);
            }
            _ => return None,
        }
        Some(())
    })?;
    let mut counts = vec![0u64; texts.len()];
    let mut found: Vec<Finding> = gathering
        .into_iter()
        .map(|((i, _), g)| {
            counts[i] += 1;
            texts[i].finding(g)
        })
        .collect();
    sort(&mut found);
    let path = parts.path(&format!("run-{p}.bin"));
    let write = || -> std::io::Result<()> {
        let mut out = BufWriter::with_capacity(64 << 10, File::create(&path)?);
        let mut record = Vec::new();
        for f in &found {
            record.clear();
            let mut e = Enc(&mut record);
            e.u32(f.policy_index as u32);
            encode(
                &mut e,
                (&f.detail, &f.change_id),
                (&f.actors, &f.resources, f.resource_count),
                (&f.events, f.event_count, f.first_at, f.last_at),
            );
            out.write_all(&(record.len() as u32).to_le_bytes())?;
            out.write_all(&record)?;
        }
        out.flush()
    };
    write().with_context(|| format!("cannot write {}", path.display()))?;
    Ok((path, counts))
}

/// What every finding of one policy shares, allocated once per policy.
#[derive(Clone)]
struct PolicyText {
    index: usize,
    id: Arc<str>,
    title: Arc<str>,
    severity: Severity,
    rationale: Arc<str>,
    nist: Arc<[String]>,
    obligations: Arc<[String]>,
    source: Option<Arc<RuleSource>>,
}

impl PolicyText {
    fn of(index: usize, p: &Policy) -> PolicyText {
        PolicyText {
            index,
            id: Arc::from(p.id.as_str()),
            title: Arc::from(p.title.as_str()),
            severity: p.severity,
            rationale: Arc::from(p.rationale.as_str()),
            nist: Arc::from(p.nist.as_slice()),
            obligations: Arc::from(p.obligations.as_slice()),
            source: p.source.clone(),
        }
    }

    fn finding(&self, g: Gathering) -> Finding {
        Finding {
            policy_index: self.index,
            policy: self.id.clone(),
            title: self.title.clone(),
            severity: self.severity,
            detail: g.detail,
            rationale: self.rationale.clone(),
            change_id: g.change_id,
            actors: g.actors,
            resources: g.resources,
            resource_count: g.resource_count,
            events: g.events,
            event_count: g.event_count,
            first_at: g.first_at,
            last_at: g.last_at,
            nist: self.nist.clone(),
            obligations: self.obligations.clone(),
            source: self.source.clone(),
            waiver: None,
        }
    }
}

/// The report's order: most severe first, then by time; the rest only breaks ties, so
/// the order never depends on the order of gathering. (Each tie-break is compared only
/// when all before it tie: the text comparisons are most of a merge's cost otherwise.)
pub fn finding_order(a: &Finding, b: &Finding) -> Ordering {
    b.severity
        .cmp(&a.severity)
        .then(a.first_at.cmp(&b.first_at))
        .then_with(|| a.policy.cmp(&b.policy))
        .then_with(|| a.detail.cmp(&b.detail))
        .then_with(|| a.change_id.cmp(&b.change_id))
        .then_with(|| a.actors.cmp(&b.actors))
        .then_with(|| {
            let first = |f: &Finding| f.events.first().map(|e| (e.source, e.line));
            first(a).cmp(&first(b))
        })
}

/// Sorts through a small index (findings are big to move), stable and parallel, then
/// puts the findings in that order in place.
fn sort(findings: &mut [Finding]) {
    let mut index: Vec<(Severity, i64, usize)> = findings
        .iter()
        .enumerate()
        .map(|(i, f)| (f.severity, f.first_at, i))
        .collect();
    index.par_sort_by(|a, b| {
        b.0.cmp(&a.0)
            .then(a.1.cmp(&b.1))
            .then_with(|| finding_order(&findings[a.2], &findings[b.2]))
    });
    permute(findings, index.into_iter().map(|k| k.2).collect());
}

/// Puts `items` in the order `from` gives (position k takes the item that was at
/// `from[k]`), in place by following cycles: findings are big, and a second list of them
/// would double the peak memory of a large run.
fn permute<T>(items: &mut [T], mut from: Vec<usize>) {
    for i in 0..items.len() {
        let mut j = i;
        loop {
            let k = from[j];
            from[j] = j;
            if k == i || k == j {
                break;
            }
            items.swap(j, k);
            j = k;
        }
    }
}

/// A change applied to every finding as it is read (waiver marks, redaction).
pub type Scrub = Box<dyn Fn(&mut Finding) + Send + Sync>;

/// Every finding of a run, in the report's order: those held in memory, and sorted runs
/// on disk when there were more than the budget.
pub struct Findings {
    /// How many are in the sorted runs on disk.
    on_disk: usize,
    per_policy: Vec<u64>,
    memory: Vec<Finding>,
    runs: Vec<PathBuf>,
    texts: Vec<PolicyText>,
    /// Keeps the temporary folder (and so the runs) until the report is written.
    _files: Option<Partitions>,
    scrubs: Vec<Scrub>,
}

impl std::fmt::Debug for Findings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Findings")
            .field("len", &self.len())
            .field("in_memory", &self.memory.len())
            .field("runs", &self.runs.len())
            .finish()
    }
}

impl Findings {
    pub fn len(&self) -> usize {
        self.memory.len() + self.on_disk
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// How many were gathered and sorted on disk (the rest were held in memory).
    pub fn on_disk(&self) -> usize {
        self.on_disk
    }

    /// How many findings each policy has, by its place in the run's policy list.
    pub fn per_policy(&self) -> &[u64] {
        &self.per_policy
    }

    /// Whether some findings are read back from disk.
    pub fn spilled(&self) -> bool {
        self.on_disk > 0
    }

    /// Applies `scrub` to every finding: at once to those in memory, and to the others as
    /// they are read, after any scrub given before it.
    pub fn scrub(&mut self, scrub: Scrub) {
        for f in &mut self.memory {
            scrub(f);
        }
        if self.spilled() {
            self.scrubs.push(scrub);
        }
    }

    /// Findings made elsewhere (read back from the findings schema), all in memory:
    /// sorted into the report's order and counted for the `policies` (the run's list,
    /// which each finding's `policy_index` points into).
    pub fn from_list(policies: usize, mut memory: Vec<Finding>) -> Findings {
        let mut per_policy = vec![0u64; policies];
        for f in &memory {
            per_policy[f.policy_index] += 1;
        }
        sort(&mut memory);
        Findings {
            on_disk: 0,
            per_policy,
            memory,
            runs: Vec::new(),
            texts: Vec::new(),
            _files: None,
            scrubs: Vec::new(),
        }
    }

    /// Adds a finding made after the run (an expired waiver's) in its place in the
    /// report's order, counted for its policy.
    pub fn insert(&mut self, f: Finding) {
        if self.per_policy.len() <= f.policy_index {
            self.per_policy.resize(f.policy_index + 1, 0);
        }
        self.per_policy[f.policy_index] += 1;
        let at = self
            .memory
            .partition_point(|m| finding_order(m, &f) != Ordering::Greater);
        self.memory.insert(at, f);
    }

    /// Reads every finding, in order.
    pub fn iter(&self) -> Result<FindingIter<'_>> {
        let mut runs = Vec::with_capacity(self.runs.len());
        for path in &self.runs {
            let file =
                File::open(path).with_context(|| format!("cannot read {}", path.display()))?;
            let mut run = Run {
                path: path.clone(),
                reader: BufReader::with_capacity(64 << 10, file),
                head: None,
                buf: Vec::new(),
            };
            run.advance(&self.texts)?;
            runs.push(run);
        }
        let mut heap: Vec<usize> = (0..runs.len())
            .filter(|&k| runs[k].head.is_some())
            .collect();
        for at in (0..heap.len() / 2).rev() {
            sift_down(&mut heap, &runs, at);
        }
        Ok(FindingIter {
            findings: self,
            next_in_memory: 0,
            runs,
            heap,
        })
    }
}

impl Findings {
    /// Calls `each` with the findings in order, up to `size` at a time. When some are on
    /// disk, the merge runs on a thread of its own, a batch ahead of `each`.
    pub fn batches<'a>(
        &'a self,
        size: usize,
        mut each: impl FnMut(Vec<Cow<'a, Finding>>) -> Result<()>,
    ) -> Result<()> {
        let size = size.max(1);
        if !self.spilled() {
            for chunk in self.memory.chunks(size) {
                each(chunk.iter().map(Cow::Borrowed).collect())?;
            }
            return Ok(());
        }
        let mut all = self.iter()?;
        std::thread::scope(|scope| {
            let (tx, rx) = std::sync::mpsc::sync_channel::<Result<Vec<Cow<'a, Finding>>>>(1);
            scope.spawn(move || loop {
                let batch = all.by_ref().take(size).collect::<Result<Vec<_>>>();
                let last = batch.as_ref().map_or(true, |b| b.len() < size);
                if tx.send(batch).is_err() || last {
                    return;
                }
            });
            for batch in rx {
                let batch = batch?;
                if batch.is_empty() {
                    break;
                }
                each(batch)?;
            }
            Ok(())
        })
    }
}

/// One sorted run being read.
struct Run {
    path: PathBuf,
    reader: BufReader<File>,
    head: Option<Finding>,
    buf: Vec<u8>,
}

impl Run {
    fn advance(&mut self, texts: &[PolicyText]) -> Result<()> {
        let mut len = [0u8; 4];
        match self.reader.read_exact(&mut len) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => {
                self.head = None;
                return Ok(());
            }
            Err(e) => {
                return Err(e).with_context(|| format!("cannot read {}", self.path.display()))
            }
        }
        self.buf.resize(u32::from_le_bytes(len) as usize, 0);
        self.reader
            .read_exact(&mut self.buf)
            .with_context(|| format!("cannot read {}", self.path.display()))?;
        let mut d = Dec(&self.buf);
        let found = d.u32().and_then(|i| {
            let text = texts.get(i as usize)?;
            Some(text.finding(Gathering::decode(&mut d)?))
        });
        match found {
            Some(f) => {
                self.head = Some(f);
                Ok(())
            }
            None => anyhow::bail!("{} is damaged", self.path.display()),
        }
    }
}

/// The findings in order: a merge of the ones in memory with the sorted runs.
pub struct FindingIter<'a> {
    findings: &'a Findings,
    next_in_memory: usize,
    runs: Vec<Run>,
    /// The runs with findings left, as a binary heap by their next finding, the first in
    /// the report's order on top: a few comparisons a finding rather than one per run.
    heap: Vec<usize>,
}

/// Whether run `a`'s next finding comes before run `b`'s.
fn run_before(runs: &[Run], a: usize, b: usize) -> bool {
    match (&runs[a].head, &runs[b].head) {
        (Some(x), Some(y)) => finding_order(x, y) == Ordering::Less,
        _ => false,
    }
}

/// Moves the run at `at` of the heap down to its place.
fn sift_down(heap: &mut [usize], runs: &[Run], mut at: usize) {
    loop {
        let mut first = at;
        for child in [2 * at + 1, 2 * at + 2] {
            if child < heap.len() && run_before(runs, heap[child], heap[first]) {
                first = child;
            }
        }
        if first == at {
            return;
        }
        heap.swap(at, first);
        at = first;
    }
}

impl<'a> Iterator for FindingIter<'a> {
    type Item = Result<Cow<'a, Finding>>;

    fn next(&mut self) -> Option<Self::Item> {
        let memory = self.findings.memory.get(self.next_in_memory);
        let best = match self.heap.first() {
            Some(&k) => Some((k, self.runs[k].head.as_ref()?)),
            None => None,
        };
        let from_run = match (memory, best) {
            (None, None) => return None,
            (Some(_), None) => None,
            (None, Some((k, _))) => Some(k),
            // Ties go to memory (a finding is in one place only, so ties are equal ones).
            (Some(m), Some((k, f))) => (finding_order(f, m) == Ordering::Less).then_some(k),
        };
        match from_run {
            None => {
                self.next_in_memory += 1;
                memory.map(|m| Ok(Cow::Borrowed(m)))
            }
            Some(k) => {
                let run = &mut self.runs[k];
                let mut f = run.head.take()?;
                if let Err(e) = run.advance(&self.findings.texts) {
                    return Some(Err(e));
                }
                if run.head.is_none() {
                    // The run is done: the heap's last run takes the top.
                    let last = self.heap.pop()?;
                    if let Some(top) = self.heap.first_mut() {
                        *top = last;
                    }
                }
                sift_down(&mut self.heap, &self.runs, 0);
                for scrub in &self.findings.scrubs {
                    scrub(&mut f);
                }
                Some(Ok(Cow::Owned(f)))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{permute, EventRef, FindingStore, Gathering, MAX_REFS};

    /// 30 resources, each seen three times: 30, not one more per repeat past the listed.
    fn add_resources(add: &mut dyn FnMut(EventRef, &str)) {
        for round in 0..3u64 {
            for r in 0..30u64 {
                let at = (round * 30 + r) as i64;
                add(
                    EventRef {
                        source: 0,
                        line: at as u64,
                        at,
                    },
                    &format!("db-{r}"),
                );
            }
        }
    }

    #[test]
    fn a_resource_past_the_listed_ones_counts_once() {
        let mut g = Gathering::new(String::new(), String::new());
        add_resources(&mut |e, r| g.add(e, "agent", r));
        assert_eq!(g.resources.len(), MAX_REFS);
        assert_eq!((g.resource_count, g.event_count), (30, 90));
    }

    #[test]
    fn a_finding_spilled_whole_or_added_to_on_disk_counts_its_resources_once() {
        let catalogue = crate::controls::Catalogue::load(None).unwrap();
        let (policies, _) = crate::controls::load_policies(None, None, &catalogue).unwrap();
        // Budget 0: everything goes to the partition files, by ADD...
        let mut store = FindingStore::new(0);
        add_resources(&mut |e, r| {
            store.add(0, "g", String::new(), "", e, "agent", r);
        });
        // ...and by PUT, then ADDs to the same finding.
        let mut g = Gathering::new(String::new(), String::new());
        add_resources(&mut |e, r| g.add(e, "agent", r));
        store.put(0, "h".into(), g);
        add_resources(&mut |e, r| {
            store.add(0, "h", String::new(), "", e, "agent", r);
        });
        let findings = store.finish(policies.iter()).unwrap();
        let counts: Vec<(u64, u64)> = findings
            .iter()
            .unwrap()
            .map(|f| f.map(|f| (f.resource_count, f.event_count)))
            .collect::<anyhow::Result<_>>()
            .unwrap();
        assert_eq!(counts, vec![(30, 90), (30, 180)]);
    }

    #[test]
    fn permute_puts_each_item_where_the_order_says() {
        // Cycles of several lengths, fixed points, and the identity.
        for from in [
            vec![],
            vec![0],
            vec![1, 0],
            vec![2, 0, 1],
            vec![3, 1, 4, 0, 2, 5],
            vec![5, 4, 3, 2, 1, 0],
            vec![0, 1, 2, 3],
        ] {
            let mut items: Vec<String> = (0..from.len()).map(|i| format!("item{i}")).collect();
            let want: Vec<String> = from.iter().map(|&i| items[i].clone()).collect();
            permute(&mut items, from.clone());
            assert_eq!(items, want, "order {from:?}");
        }
    }
}
