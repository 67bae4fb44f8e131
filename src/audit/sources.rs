//! Audit sources: finding the files (a file, a list, or a directory tree, `.gz` included),
//! telling their format, and reading them into [`AuditEvent`]s, with every record that
//! cannot be read quarantined with its file, line and reason.
//!
//! JSON lines (native and Kubernetes) are read in large blocks by one thread and parsed in
//! parallel, only the fields the policies read, straight from the buffer; memory stays
//! bounded by the block batch, whatever the size of the file.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::fs::File;
use std::io::{BufReader, Read};
use std::ops::Range;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use chrono_tz::Tz;
use rayon::prelude::*;
use serde::Deserialize;

use super::event::{
    build, build_with, opt_text, parse_millis, text_flag, ActorType, AuditEvent, Flag,
    NativeRecord, Operation, RawRecord, RecordError, Text, NATIVE_FIELDS,
};
use super::model::Hit;
use crate::error::bad_input;
use crate::ingest::{Location, Rejection};

/// How one audit file is laid out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum SourceFormat {
    /// Native schema, one JSON object per line.
    Jsonl,
    /// Native schema, CSV with a header row.
    Csv,
    /// Native schema, Parquet.
    Parquet,
    /// AWS CloudTrail log files (`{"Records": [...]}`).
    Cloudtrail,
    /// Kubernetes audit log (`audit.k8s.io/v1` Event, JSON lines).
    K8s,
}

impl SourceFormat {
    /// The name `--input-format` takes and the outputs show.
    pub fn as_str(self) -> &'static str {
        match self {
            SourceFormat::Jsonl => "jsonl",
            SourceFormat::Csv => "csv",
            SourceFormat::Parquet => "parquet",
            SourceFormat::Cloudtrail => "cloudtrail",
            SourceFormat::K8s => "k8s",
        }
    }
}

/// One file to read.
#[derive(Debug, Clone)]
pub struct SourceFile {
    pub path: PathBuf,
    pub format: SourceFormat,
    pub gzip: bool,
}

impl SourceFile {
    pub fn name(&self) -> String {
        self.path.display().to_string()
    }

    fn open(&self) -> Result<Box<dyn Read + Send>> {
        let f = self.open_file()?;
        Ok(if self.gzip {
            Box::new(flate2::read::MultiGzDecoder::new(BufReader::with_capacity(
                1 << 20,
                f,
            )))
        } else {
            Box::new(f)
        })
    }

    /// The file itself, as stored (compressed or not).
    fn open_file(&self) -> Result<File> {
        File::open(&self.path).map_err(|e| self.cannot_read(e))
    }

    fn cannot_read(&self, e: std::io::Error) -> anyhow::Error {
        bad_input(format!("cannot read {}: {e}", self.path.display()))
    }
}

/// What reading one file came to: read = accepted + rejected + skipped.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct SourceSummary {
    pub file: String,
    pub format: Option<SourceFormat>,
    pub read: u64,
    pub accepted: u64,
    pub rejected: u64,
    /// Records that are not events to check (Kubernetes stages other than ResponseComplete).
    pub skipped: u64,
}

/// Vocabulary for the AWS and Kubernetes formats, from `mappings/audit-sources.toml`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SourceMappings {
    pub agents: AgentPatterns,
    pub cloudtrail: CloudTrailMapping,
    pub kubernetes: KubernetesMapping,
}

/// Which identities are AI agents or services: `*` wildcards, case-insensitive.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AgentPatterns {
    pub identity: Vec<String>,
    pub user_agent: Vec<String>,
    pub service_identity: Vec<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CloudTrailMapping {
    /// Event names with a fixed operation (checked first).
    pub events: BTreeMap<String, String>,
    /// Event-name prefixes and their operation, in order.
    pub prefixes: Vec<(String, String)>,
    /// Operation for anything else.
    pub otherwise: String,
    /// requestParameters keys that name the resource, in order of preference.
    pub resource_keys: Vec<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KubernetesMapping {
    pub verbs: BTreeMap<String, String>,
    /// Resources whose change is a permission change (role bindings).
    pub permission_resources: Vec<String>,
    /// Resources the control plane writes all the time (leases, events): read as `read`,
    /// so they keep the stream continuous without counting as changes.
    pub housekeeping_resources: Vec<String>,
    pub prompt_ref_annotation: String,
    pub tool_call_ref_annotation: String,
    pub change_id_annotation: String,
}

impl SourceMappings {
    pub fn load(path: &Path) -> Result<SourceMappings> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| bad_input(format!("cannot read {}: {e}", path.display())))?;
        let m: SourceMappings =
            toml::from_str(&text).map_err(|e| bad_input(format!("{}: {e}", path.display())))?;
        let ops = m
            .cloudtrail
            .events
            .values()
            .chain(m.cloudtrail.prefixes.iter().map(|(_, o)| o))
            .chain(m.kubernetes.verbs.values())
            .chain(std::iter::once(&m.cloudtrail.otherwise));
        for op in ops {
            if Operation::parse(op).is_none() {
                return Err(bad_input(format!(
                    "{}: {op:?} is not an operation ({})",
                    path.display(),
                    Operation::ALL
                )));
            }
        }
        Ok(m)
    }

    /// Classifies an identity (and its user agent).
    pub fn actor_type(&self, identity: &str, user_agent: &str) -> ActorType {
        let any = |pats: &[String], text: &str| pats.iter().any(|p| glob_match(p, text));
        if any(&self.agents.identity, identity) || any(&self.agents.user_agent, user_agent) {
            ActorType::AiAgent
        } else if any(&self.agents.service_identity, identity) {
            ActorType::Service
        } else {
            ActorType::Human
        }
    }
}

/// Where events come from in the organisation: which environment an AWS account, a
/// Kubernetes namespace or cluster is (the `[audit]` table of `regwatch.toml`).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct EnvironmentMap {
    /// AWS account id → environment.
    pub accounts: BTreeMap<String, String>,
    /// Kubernetes namespace pattern (`*` wildcards) → environment.
    pub namespaces: BTreeMap<String, String>,
    /// Kubernetes cluster (the audit file's name without extensions) → environment, for
    /// cluster-scoped objects and unmapped namespaces.
    pub clusters: BTreeMap<String, String>,
}

/// `*` matches any run of characters; comparison ignores ASCII case. Called for every
/// event (logging-tamper resources, condition policies), so it allocates nothing.
pub fn glob_match(pattern: &str, text: &str) -> bool {
    let (p, t) = (pattern.as_bytes(), text.as_bytes());
    let Some(star) = memchr::memchr(b'*', p) else {
        return p.eq_ignore_ascii_case(t);
    };
    let last_star = memchr::memrchr(b'*', p).unwrap_or(star);
    let (first, last) = (&p[..star], &p[last_star + 1..]);
    if t.len() < first.len() + last.len()
        || !t[..first.len()].eq_ignore_ascii_case(first)
        || !t[t.len() - last.len()..].eq_ignore_ascii_case(last)
    {
        return false;
    }
    if last_star == star {
        return true;
    }
    let mut rest = &t[first.len()..t.len() - last.len()];
    for mid in p[star + 1..last_star].split(|&c| c == b'*') {
        if mid.is_empty() {
            continue;
        }
        match find_ignore_case(rest, mid) {
            Some(i) => rest = &rest[i + mid.len()..],
            None => return false,
        }
    }
    true
}

/// Words looked for in text, ignoring ASCII case: all of them in one pass (these run for
/// every event).
#[derive(Debug, Clone)]
pub struct Words {
    matcher: Matcher,
}

#[derive(Debug, Clone)]
enum Matcher {
    /// Words that all start with one letter (say `*audit-policy*` and `*auditsink*`):
    /// the places of that letter, found by `memchr`, are the only ones to try. On the
    /// short texts of an event this cost fewer instructions than the automaton's
    /// search (0.26 % of an audit of JSON lines, where the logging-tamper check runs it
    /// for every change).
    SameStart {
        lower: u8,
        upper: u8,
        words: Vec<Vec<u8>>,
    },
    Automaton(aho_corasick::AhoCorasick),
}

impl Words {
    pub fn new<S: AsRef<str>>(words: &[S]) -> Result<Words> {
        let bytes: Vec<&[u8]> = words.iter().map(|w| w.as_ref().as_bytes()).collect();
        let first = bytes
            .first()
            .and_then(|w| w.first())
            .map(u8::to_ascii_lowercase);
        let same_start = first
            .filter(|f| (bytes.iter()).all(|w| w.first().map(u8::to_ascii_lowercase) == Some(*f)));
        let matcher = match same_start {
            Some(f) => Matcher::SameStart {
                lower: f,
                upper: f.to_ascii_uppercase(),
                words: bytes.iter().map(|w| w.to_vec()).collect(),
            },
            None => Matcher::Automaton(
                aho_corasick::AhoCorasick::builder()
                    .ascii_case_insensitive(true)
                    .build(&bytes)
                    .context("cannot build a word matcher")?,
            ),
        };
        Ok(Words { matcher })
    }

    /// Whether any word occurs in `text` (an empty word occurs in every text).
    pub fn found_in(&self, text: &str) -> bool {
        match &self.matcher {
            Matcher::SameStart {
                lower,
                upper,
                words,
            } => {
                let hay = text.as_bytes();
                memchr::memchr2_iter(*lower, *upper, hay).any(|at| {
                    words.iter().any(|w| {
                        hay.get(at..at + w.len())
                            .is_some_and(|h| h.eq_ignore_ascii_case(w))
                    })
                })
            }
            Matcher::Automaton(matcher) => matcher.is_match(text),
        }
    }
}

/// Glob patterns (see [`glob_match`]) that a text is tested against; those of the common
/// form `*word*` are looked for together in one pass.
#[derive(Debug, Clone)]
pub struct Globs {
    within: Option<Words>,
    others: Vec<String>,
}

impl Globs {
    pub fn new(patterns: &[String]) -> Result<Globs> {
        let (mut within, mut others) = (Vec::new(), Vec::new());
        for p in patterns {
            let middle = p
                .strip_prefix('*')
                .and_then(|p| p.strip_suffix('*'))
                .filter(|m| !m.is_empty() && !m.contains('*'));
            match middle {
                Some(m) => within.push(m),
                None => others.push(p.clone()),
            }
        }
        Ok(Globs {
            within: if within.is_empty() {
                None
            } else {
                Some(Words::new(&within)?)
            },
            others,
        })
    }

    /// Whether any pattern matches `text`.
    pub fn match_any(&self, text: &str) -> bool {
        self.within.as_ref().is_some_and(|w| w.found_in(text))
            || self.others.iter().any(|p| glob_match(p, text))
    }
}

/// Where `needle` (not empty) first occurs in `hay`, ignoring ASCII case.
pub(crate) fn find_ignore_case(hay: &[u8], needle: &[u8]) -> Option<usize> {
    let (lower, upper) = (
        needle[0].to_ascii_lowercase(),
        needle[0].to_ascii_uppercase(),
    );
    let mut from = 0;
    while let Some(p) = memchr::memchr2(lower, upper, &hay[from..]) {
        let at = from + p;
        let end = at.checked_add(needle.len()).filter(|&e| e <= hay.len())?;
        if hay[at..end].eq_ignore_ascii_case(needle) {
            return Some(at);
        }
        from = at + 1;
    }
    None
}

/// Finds the audit files under the inputs and tells their formats.
pub fn discover(inputs: &[PathBuf], forced: Option<SourceFormat>) -> Result<Vec<SourceFile>> {
    let mut files = Vec::new();
    for input in inputs {
        let meta = std::fs::metadata(input)
            .map_err(|e| bad_input(format!("cannot read {}: {e}", input.display())))?;
        if meta.is_dir() {
            let mut found = Vec::new();
            walk(input, &mut found)?;
            found.sort();
            for path in found {
                if let Some(f) = classify(&path, forced, false)? {
                    files.push(f);
                }
            }
        } else {
            match classify(input, forced, true)? {
                Some(f) => files.push(f),
                None => {
                    return Err(bad_input(format!(
                        "{}: cannot tell the format (use .jsonl, .csv, .parquet, a CloudTrail .json(.gz), a Kubernetes audit .log/.jsonl, or --input-format)",
                        input.display()
                    )))
                }
            }
        }
    }
    if files.is_empty() {
        return Err(bad_input("no audit files found in the inputs"));
    }
    Ok(files)
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) -> Result<()> {
    for entry in std::fs::read_dir(dir).with_context(|| format!("cannot list {}", dir.display()))? {
        let path = entry?.path();
        if path.is_dir() {
            // CloudTrail digest files prove integrity; they hold no events.
            if path.file_name().is_some_and(|n| n == "CloudTrail-Digest") {
                continue;
            }
            walk(&path, out)?;
        } else {
            out.push(path);
        }
    }
    Ok(())
}

/// Decides a file's format from its name and, for JSON, its first bytes.
fn classify(
    path: &Path,
    forced: Option<SourceFormat>,
    explicit: bool,
) -> Result<Option<SourceFile>> {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().to_ascii_lowercase())
        .unwrap_or_default();
    let gzip = name.ends_with(".gz");
    let base = name.strip_suffix(".gz").unwrap_or(&name);
    let ext = base.rsplit_once('.').map(|(_, e)| e).unwrap_or("");
    let mut file = SourceFile {
        path: path.to_path_buf(),
        format: SourceFormat::Jsonl,
        gzip,
    };
    if let Some(f) = forced {
        file.format = f;
        return Ok(Some(file));
    }
    file.format = match ext {
        "csv" => SourceFormat::Csv,
        "parquet" => SourceFormat::Parquet,
        "json" | "jsonl" | "ndjson" | "log" => {
            let mut head = Vec::with_capacity(4096);
            file.open()?
                .take(4096)
                .read_to_end(&mut head)
                .map_err(|e| bad_input(format!("cannot read {}: {e}", path.display())))?;
            let head = String::from_utf8_lossy(&head);
            if head.contains("\"Records\"") {
                SourceFormat::Cloudtrail
            } else if head.contains("audit.k8s.io/") {
                SourceFormat::K8s
            } else if ext == "log" || (ext == "json" && !explicit) {
                // A stray JSON file in a tree (a CloudTrail digest, a manifest) is not ours.
                return Ok(None);
            } else {
                SourceFormat::Jsonl
            }
        }
        _ => return Ok(None),
    };
    Ok(Some(file))
}

/// Settings every reader needs.
pub struct ReadContext<'a> {
    pub input_tz: Tz,
    pub strict: bool,
    pub mappings: &'a SourceMappings,
    pub environments: &'a EnvironmentMap,
}

/// The per-event checks, run in parallel on each block as soon as it is parsed.
pub trait Checker: Sync {
    fn check<'b>(&self, events: &[AuditEvent<'b>]) -> Vec<Hit<'b>>;
}

/// Where checked events go, one block at a time, in file order (on one thread).
pub trait EventSink: Send {
    /// The events of one block, in file order, with what `check` found in them.
    fn events(&mut self, events: &[AuditEvent<'_>], hits: Vec<Hit<'_>>);
    /// Bytes of input consumed so far in this file (for the progress bar).
    fn progress(&mut self, _bytes: u64) {}
}

/// The record as it stood, cut short for the quarantine file.
fn raw_text(bytes: &[u8]) -> String {
    let t = String::from_utf8_lossy(bytes);
    match t.char_indices().nth(2000) {
        Some((i, _)) => format!("{}...", &t[..i]),
        None => t.into_owned(),
    }
}

fn rejection(file: &str, location: Location, err: RecordError, raw: String) -> Rejection {
    Rejection {
        file: file.to_string(),
        location,
        id: String::new(),
        field: err.field,
        reason: err.reason,
        raw,
    }
}

/// Reads one file into the sink; rejections are returned (or, with `strict`, the first one
/// is the error).
pub fn read_source(
    file: &SourceFile,
    index: u32,
    cx: &ReadContext,
    checker: &dyn Checker,
    sink: &mut dyn EventSink,
) -> Result<(SourceSummary, Vec<Rejection>)> {
    let name = file.name();
    let mut summary = SourceSummary {
        file: name.clone(),
        format: Some(file.format),
        ..SourceSummary::default()
    };
    let mut rejected = Vec::new();
    let mut intake = Intake {
        checker,
        sink,
        summary: &mut summary,
        rejected: &mut rejected,
        strict: cx.strict,
    };
    match file.format {
        SourceFormat::Jsonl | SourceFormat::K8s => {
            let native = NativeLines {
                tz: cx.input_tz,
                index,
                scanner: super::scan::LineScanner::new(),
            };
            let k8s = K8sLines {
                cluster: cluster_name(&file.path),
                index,
                cx,
            };
            // Each parser gets its own copy of the reading loop, with the parser inlined.
            if file.format == SourceFormat::Jsonl {
                read_lines(file, &name, &native, &mut intake)?;
            } else {
                read_lines(file, &name, &k8s, &mut intake)?;
            }
        }
        SourceFormat::Csv => read_csv(file, index, cx, &mut intake)?,
        SourceFormat::Parquet => read_parquet(file, index, cx, &mut intake)?,
        SourceFormat::Cloudtrail => read_cloudtrail(file, index, cx, &mut intake)?,
    }
    summary.rejected = rejected.len() as u64;
    debug_assert_eq!(
        summary.read,
        summary.accepted + summary.rejected + summary.skipped
    );
    Ok((summary, rejected))
}

fn json_reason(e: &serde_json::Error) -> String {
    // serde_json's column is within the line; the line number is ours.
    let text = e.to_string();
    match text.rfind(" at line ") {
        Some(i) => text[..i].to_string(),
        None => text,
    }
}

/// Where a reader's records go: accepted events, checked, to the sink; counts to the
/// file's summary; rejected records to quarantine (or, with `--strict`, the first one
/// ends the run).
struct Intake<'a> {
    checker: &'a dyn Checker,
    sink: &'a mut dyn EventSink,
    summary: &'a mut SourceSummary,
    rejected: &'a mut Vec<Rejection>,
    strict: bool,
}

impl Intake<'_> {
    /// Quarantines a rejected record, or with `--strict` makes it the run's error.
    fn keep(&mut self, r: Rejection) -> Result<()> {
        if self.strict {
            return Err(strict_error(&r));
        }
        self.rejected.push(r);
        Ok(())
    }

    /// A batch of events (already checked) and the records rejected beside them.
    fn take(
        &mut self,
        events: &[AuditEvent<'_>],
        hits: Vec<Hit<'_>>,
        rejects: Vec<Rejection>,
    ) -> Result<()> {
        self.summary.accepted += events.len() as u64;
        for r in rejects {
            self.keep(r)?;
        }
        self.sink.events(events, hits);
        Ok(())
    }

    /// A batch of accepted events, checked here.
    fn deliver(&mut self, events: &[AuditEvent<'_>]) -> Result<()> {
        let hits = self.checker.check(events);
        self.take(events, hits, Vec::new())
    }
}

fn strict_error(r: &Rejection) -> anyhow::Error {
    bad_input(format!("{r} (--strict stops at the first bad record)"))
}

/// Turns one line of a JSON-lines file into an event, appended to `out`; `false` for a
/// record to skip. Events are a few hundred bytes: built straight into the vector, none
/// is copied through a return value.
trait LineParser: Sync {
    /// `line` is as read: not yet checked as UTF-8 (see [`line_text`]).
    fn parse_into<'b>(
        &self,
        line: &'b [u8],
        n: u64,
        out: &mut Vec<AuditEvent<'b>>,
    ) -> Result<bool, RecordError>;

    /// Reads the first line of `rest` (the rest of a block) if a fast path can, finding
    /// where it ends on the way (which saves a search for the line break): the line's
    /// length (up to its line break) once its event is added, or with why it was
    /// rejected (boxed: the answer fits in two registers). `None` for the caller to find
    /// the line and call `parse_into`. An event added here owns none of its text (see
    /// [`recycle`]).
    fn parse_first_line<'b>(
        &self,
        _rest: &'b [u8],
        _n: u64,
        _out: &mut Vec<AuditEvent<'b>>,
    ) -> Option<Result<usize, Box<(usize, RecordError)>>> {
        None
    }
}

struct NativeLines {
    tz: Tz,
    index: u32,
    scanner: super::scan::LineScanner,
}

impl LineParser for NativeLines {
    fn parse_into<'b>(
        &self,
        line: &'b [u8],
        n: u64,
        out: &mut Vec<AuditEvent<'b>>,
    ) -> Result<bool, RecordError> {
        let push = |e| out.push(e);
        let mut flat = super::scan::FlatLine::new(line);
        match super::scan::scan_flat(&mut flat) {
            true => build_with(&mut flat, self.tz, self.index, n, push)?,
            false => build_with(
                serde_json::from_str::<NativeRecord>(line_text(line)?)
                    .map_err(|e| RecordError::new("json", json_reason(&e)))?,
                self.tz,
                self.index,
                n,
                push,
            )?,
        }
        Ok(true)
    }

    fn parse_first_line<'b>(
        &self,
        rest: &'b [u8],
        n: u64,
        out: &mut Vec<AuditEvent<'b>>,
    ) -> Option<Result<usize, Box<(usize, RecordError)>>> {
        let mut flat = super::scan::FlatLine::new(rest);
        let len = self.scanner.scan(&mut flat)?;
        let built = build_with(&mut flat, self.tz, self.index, n, |e| out.push(e));
        Some(built.map(|()| len).map_err(|e| Box::new((len, e))))
    }
}

struct K8sLines<'c> {
    cluster: String,
    index: u32,
    cx: &'c ReadContext<'c>,
}

impl LineParser for K8sLines<'_> {
    fn parse_into<'b>(
        &self,
        line: &'b [u8],
        n: u64,
        out: &mut Vec<AuditEvent<'b>>,
    ) -> Result<bool, RecordError> {
        let event = k8s_event(line_text(line)?, n, self.index, &self.cluster, self.cx)?;
        Ok(event.map(|e| out.push(e)).is_some())
    }
}

/// A line's text, or why it is not text. (The fast path for native lines takes ASCII
/// lines without this check.)
fn line_text(line: &[u8]) -> Result<&str, RecordError> {
    match simdutf8::basic::from_utf8(line) {
        Ok(text) => Ok(text),
        // The standard library's error says where.
        Err(_) => std::str::from_utf8(line)
            .map_err(|e| RecordError::new("line", format!("not UTF-8 text: {e}"))),
    }
}

/// A block of whole lines, and whether it starts the file.
#[derive(Default)]
struct Block {
    bytes: Vec<u8>,
    /// Where the block's first line starts in `bytes` (a block read at its place in the
    /// file holds the end of the line before it).
    start: usize,
    first: bool,
}

/// Where a JSON-lines file's blocks come from.
enum BlockSource<'f> {
    /// A plain file: each block is read at its place in the file by the thread that
    /// parses it, so the bytes are in that core's cache when they are parsed, and no
    /// thread of its own competes with the parsing for the cores.
    Placed { file: &'f File, len: u64, next: u64 },
    /// A compressed file or a stream: a reader thread fills blocks of whole lines in
    /// turn.
    Stream {
        rx: std::sync::mpsc::Receiver<std::io::Result<Block>>,
        /// Buffers go back to the reader once their events are handed on: fresh buffers
        /// would cost a page fault per 4 KB.
        free_tx: std::sync::mpsc::Sender<Vec<u8>>,
    },
}

/// Reads into `block` the lines of `file` (`len` bytes long) that start in `range`: from
/// the first line start at or after `range.start` (a line starts there if the byte
/// before is a line break) to the line break that ends the last line starting before
/// `range.end`. A block with no line starting in its range is left empty.
fn read_block_at(
    file: &File,
    len: u64,
    range: Range<u64>,
    block: &mut Block,
) -> std::io::Result<()> {
    let from = range.start.saturating_sub(1);
    block.first = range.start == 0;
    block.start = 0;
    let buf = &mut block.bytes;
    // The range and a little more, which nearly always holds the end of its last line.
    read_at(file, from, (range.end + 4096).min(len) - from, buf, 0)?;
    let nominal_end = ((range.end - from) as usize).min(buf.len());
    if range.start > 0 {
        match memchr::memchr(b'\n', &buf[..nominal_end.saturating_sub(1)]) {
            Some(i) => block.start = i + 1,
            None => {
                buf.clear();
                return Ok(());
            }
        }
    }
    // The last line's end: the first line break at or after the range's last byte.
    let mut searched = nominal_end.saturating_sub(1);
    loop {
        if let Some(i) = memchr::memchr(b'\n', &buf[searched..]) {
            buf.truncate(searched + i + 1);
            return Ok(());
        }
        let at = from + buf.len() as u64;
        if at >= len {
            return Ok(());
        }
        searched = buf.len();
        // A long line: read on, in ever larger pieces.
        let more = (buf.len() as u64).max(4096).min(len - at);
        if read_at(file, at, more, buf, searched)? == 0 {
            return Ok(());
        }
    }
}

/// Reads up to `n` bytes of `file` from `offset` into `buf` from `old` on, and cuts `buf`
/// after them; fewer only at the end of the file (if it shrank since its length was
/// taken). Returns the bytes read. A recycled buffer keeps its length until then, so
/// only the bytes past its last block's end are zeroed first, not the whole block.
fn read_at(
    file: &File,
    offset: u64,
    n: u64,
    buf: &mut Vec<u8>,
    old: usize,
) -> std::io::Result<usize> {
    buf.resize(old + n as usize, 0);
    let mut filled = 0;
    while filled < n as usize {
        match read_at_offset(file, &mut buf[old + filled..], offset + filled as u64) {
            Ok(0) => break,
            Ok(k) => filled += k,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => {
                buf.truncate(old);
                return Err(e);
            }
        }
    }
    buf.truncate(old + filled);
    Ok(filled)
}

/// Bytes per block. Half a megabyte's events (about 1,400 at 370 bytes a line) are
/// checked while still in cache, and the blocks and event vectors in flight hold less
/// memory, all of which the kernel zeroes on first touch: with two batches in flight, at
/// 1 M events, 1 MB blocks peaked at 219 MiB and took 0.83 s, 512 KB blocks 191 MiB and
/// 0.74 s, 256 KB blocks 176 MiB and 0.74 s (medians of 11 interleaved runs).
const BLOCK_BYTES: usize = 1 << 19;
/// Blocks parsed at once: enough for every core, small enough to bound memory.
const BATCH_BLOCKS: usize = 8;

/// A reader that works on two pieces of input at once: while one piece is parsed and
/// checked, the piece before goes through the stateful policies. A piece's events borrow
/// from its slot, so each piece lives in one of two slots until it is handed on.
trait TwoSlots {
    /// Where a piece's input is held (JSON-lines blocks, a Parquet slice's parts).
    type Slot: Default;
    /// A piece parsed and checked, borrowing from its slot.
    type Checked<'s>: Default
    where
        Self: 's;
    /// Refills `slot` with the next piece and parses and checks it, while `previous` goes
    /// to the intake; `None` once the input is done.
    fn step<'s>(
        &mut self,
        slot: &'s mut Self::Slot,
        previous: Self::Checked<'_>,
        intake: &mut Intake,
    ) -> Result<Option<Self::Checked<'s>>>;
}

/// Runs a [`TwoSlots`] reader to the end of its input, the slots taking turns.
fn in_two_slots<R: TwoSlots>(reader: &mut R, intake: &mut Intake) -> Result<()> {
    let (mut even, mut odd) = (R::Slot::default(), R::Slot::default());
    let mut checked_odd = R::Checked::default();
    loop {
        let Some(checked_even) = reader.step(&mut even, checked_odd, intake)? else {
            return Ok(());
        };
        let Some(checked) = reader.step(&mut odd, checked_even, intake)? else {
            return Ok(());
        };
        checked_odd = checked;
    }
}

/// Reads JSON lines: rayon parses and checks a batch of blocks of whole lines at once,
/// and the sink sees each block's events in order, the batch before being handed on
/// while the next is parsed. Memory is bounded by the two batches. A plain file's
/// blocks are read by the threads that parse them, at their places in the file; a
/// compressed file's or a stream's are filled in turn by a reader thread. (The hand-on
/// is one more rayon task beside the parsing, so the cores share it: on a thread of its
/// own, as measured in an earlier version, it was no faster on two cores. Reading the
/// blocks on the parsing threads, with the loop on a thread of the pool, took 0.94 of
/// the wall time of a reader thread, paired runs at 10 M events.)
fn read_lines<P: LineParser>(
    file: &SourceFile,
    name: &str,
    parser: &P,
    intake: &mut Intake,
) -> Result<()> {
    let plain = plain_file(file)?;
    let (source, reader) = match &plain {
        Some((plain, len)) => {
            let source = BlockSource::Placed {
                file: plain,
                len: *len,
                next: 0,
            };
            (source, None)
        }
        None => {
            let (source, reader) = spawn_reader(file.open()?);
            (source, Some(reader))
        }
    };
    let mut lines = LinePipeline {
        source,
        name,
        parser,
        pool: Vec::new(),
        next_line: 1,
        consumed: 0,
    };
    // Two batches in flight: while one is handed to the sink, the next is parsed and
    // checked. With blocks read where they are parsed, the reading loop runs on a thread
    // of the pool too: the threads hand work to each other without waking one outside.
    let outcome = match reader {
        None => rayon::scope(|_| in_two_slots(&mut lines, intake)),
        Some(_) => in_two_slots(&mut lines, intake),
    };
    // Stops the reader if it is still going (a read error or --strict ended early).
    drop(lines);
    if let Some(reader) = reader {
        reader
            .join()
            .map_err(|_| anyhow::anyhow!("reader thread for {name} failed"))?;
    }
    outcome
}

/// Starts a reader thread that fills blocks of whole lines from `input` in turn:
/// the blocks' source (emptied buffers go back to the thread through it), and the thread.
fn spawn_reader(
    mut input: Box<dyn Read + Send>,
) -> (BlockSource<'static>, std::thread::JoinHandle<()>) {
    let (tx, rx) = std::sync::mpsc::sync_channel::<std::io::Result<Block>>(BATCH_BLOCKS);
    let (free_tx, free_rx) = std::sync::mpsc::channel::<Vec<u8>>();
    let reader = std::thread::spawn(move || {
        let mut carry: Vec<u8> = Vec::new();
        let mut first = true;
        loop {
            let mut buf = free_rx
                .try_recv()
                .unwrap_or_else(|_| Vec::with_capacity(BLOCK_BYTES + 4096));
            // A recycled buffer still holds its last block: growing it back to size zeroes
            // only the few bytes past that block's end, not two megabytes each time.
            let start = carry.len();
            buf.resize(start + BLOCK_BYTES, 0);
            buf[..start].copy_from_slice(&carry);
            carry.clear();
            let mut filled = start;
            let mut eof = false;
            while filled < buf.len() {
                match input.read(&mut buf[filled..]) {
                    Ok(0) => {
                        eof = true;
                        break;
                    }
                    Ok(k) => filled += k,
                    Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                    Err(e) => {
                        let _ = tx.send(Err(e));
                        return;
                    }
                }
            }
            buf.truncate(filled);
            if !eof {
                match memchr::memrchr(b'\n', &buf) {
                    Some(i) => {
                        carry.extend_from_slice(&buf[i + 1..]);
                        buf.truncate(i + 1);
                    }
                    // One line longer than a block: keep reading it.
                    None => {
                        carry = buf;
                        continue;
                    }
                }
            }
            let block = Block {
                bytes: buf,
                start: 0,
                first,
            };
            first = false;
            if tx.send(Ok(block)).is_err() || eof {
                return;
            }
        }
    });
    (BlockSource::Stream { rx, free_tx }, reader)
}

#[cfg(unix)]
fn read_at_offset(file: &File, buf: &mut [u8], offset: u64) -> std::io::Result<usize> {
    std::os::unix::fs::FileExt::read_at(file, buf, offset)
}

/// Elsewhere files are read by the reader thread (see [`plain_file`]).
#[cfg(not(unix))]
fn read_at_offset(_: &File, _: &mut [u8], _: u64) -> std::io::Result<usize> {
    Err(std::io::ErrorKind::Unsupported.into())
}

/// An uncompressed regular file, opened, with its length then; `None` for anything else
/// (a FIFO is not opened here, so it is opened once only). Lines appended while the
/// file is read are not read.
fn plain_file(file: &SourceFile) -> Result<Option<(File, u64)>> {
    let regular = std::fs::metadata(&file.path).is_ok_and(|m| m.is_file());
    // Reading at a place in a file without moving its cursor is a Unix call.
    if file.gzip || !regular || !cfg!(unix) {
        return Ok(None);
    }
    let f = file.open_file()?;
    let len = f.metadata().map_err(|e| file.cannot_read(e))?.len();
    Ok(Some((f, len)))
}

/// A batch's blocks parsed and checked: their events (lines numbered from each block's
/// first), with what the checks found.
type ParsedBatch<'b> = Vec<(Parsed<'b>, Vec<Hit<'b>>)>;

/// The reading loop's state between batches.
struct LinePipeline<'n, 'p, P> {
    source: BlockSource<'n>,
    name: &'n str,
    parser: &'p P,
    /// Event vectors go back to a pool too: each holds megabytes, and a fresh one would
    /// be zeroed by the kernel page by page.
    pool: Vec<Vec<AuditEvent<'static>>>,
    next_line: u64,
    consumed: u64,
}

impl<P: LineParser> TwoSlots for LinePipeline<'_, '_, P> {
    type Slot = Vec<Block>;
    type Checked<'b>
        = ParsedBatch<'b>
    where
        Self: 'b;

    /// Refills `blocks` with the next batch, then parses and checks it in parallel while
    /// the previous batch's events go to the sink (which takes them one block at a time,
    /// in order, on one thread). `None` once the file is done.
    fn step<'b>(
        &mut self,
        blocks: &'b mut Vec<Block>,
        previous: ParsedBatch<'_>,
        intake: &mut Intake,
    ) -> Result<Option<ParsedBatch<'b>>> {
        // The next batch's blocks: where each is to be read, or as the reader sent them.
        // With the file to read them from, for blocks read here.
        let mut places = Vec::with_capacity(BATCH_BLOCKS);
        let mut failed = None;
        let placed = match &mut self.source {
            BlockSource::Placed { file, len, next } => {
                while places.len() < BATCH_BLOCKS && *next < *len {
                    let end = (*next + BLOCK_BYTES as u64).min(*len);
                    places.push(Some(*next..end));
                    *next = end;
                }
                // Each slot keeps its buffers for its next batch.
                blocks.truncate(places.len());
                blocks.resize_with(places.len(), Block::default);
                Some((*file, *len))
            }
            BlockSource::Stream { rx, free_tx } => {
                for block in blocks.drain(..) {
                    let _ = free_tx.send(block.bytes);
                }
                while blocks.len() < BATCH_BLOCKS {
                    match rx.recv() {
                        Ok(Ok(b)) => blocks.push(b),
                        Ok(Err(e)) => {
                            failed = Some(bad_input(format!("cannot read {}: {e}", self.name)));
                            break;
                        }
                        Err(_) => break,
                    }
                }
                places.resize(blocks.len(), None);
                None
            }
        };
        let spare: Vec<_> = blocks
            .iter()
            .map(|_| self.pool.pop().unwrap_or_default())
            .collect();
        let (name, parser, checker) = (self.name, self.parser, intake.checker);
        let (handed, parsed) = rayon::join(
            || self.hand_on(previous, intake),
            || {
                // Each block is read (if read here) and its events checked as soon as
                // they are parsed, in cache.
                blocks
                    .par_iter_mut()
                    .zip(places)
                    .zip(spare)
                    .map(|((block, place), spare)| {
                        if let (Some(range), Some((file, len))) = (place, placed) {
                            read_block_at(file, len, range, block)
                                .map_err(|e| bad_input(format!("cannot read {name}: {e}")))?;
                        }
                        let block: &'b Block = block;
                        let parsed = parse_block(block, name, parser, recycle(spare, false));
                        let hits = checker.check(&parsed.events);
                        Ok((parsed, hits))
                    })
                    .collect::<Result<ParsedBatch>>()
            },
        );
        let parsed = parsed?;
        handed?;
        if let Some(e) = failed {
            return Err(e);
        }
        Ok((!parsed.is_empty()).then_some(parsed))
    }
}

impl<P: LineParser> LinePipeline<'_, '_, P> {
    /// Gives a parsed batch's lines their place in the file, and its events and
    /// rejections to the intake, block by block in order.
    fn hand_on(&mut self, batch: ParsedBatch<'_>, intake: &mut Intake) -> Result<()> {
        for (parsed, mut hits) in batch {
            let Parsed {
                mut events,
                mut rejects,
                read,
                skipped,
                newlines,
                bytes,
                borrowed_only,
            } = parsed;
            // Blocks number their lines from 1 (counted as they are parsed, not before
            // on the reading thread); here they get their place in the file.
            let before = self.next_line - 1;
            for e in &mut events {
                e.line += before;
            }
            for h in &mut hits {
                h.move_down(before);
            }
            for r in &mut rejects {
                if let Location::Line(n) = &mut r.location {
                    *n += before;
                }
            }
            self.next_line += newlines;
            intake.summary.read += read;
            intake.summary.skipped += skipped;
            let taken = intake.take(&events, hits, rejects);
            self.pool.push(recycle(events, borrowed_only));
            taken?;
            self.consumed += bytes as u64;
            intake.sink.progress(self.consumed);
        }
        Ok(())
    }
}

/// An emptied vector of events, its allocation kept, for events borrowing from another
/// block. (Collecting an empty vector's iterator into a vector of a type of the same
/// layout reuses the allocation; were it not reused, the result would still be correct.)
/// With `borrowed_only` (no event owns any of its text: all of it borrows from the
/// block), the events are let go without being dropped one by one: dropping looked at
/// each of their twelve texts, a percent of an audit of JSON lines.
fn recycle<'a>(mut events: Vec<AuditEvent<'_>>, borrowed_only: bool) -> Vec<AuditEvent<'a>> {
    if borrowed_only {
        debug_assert!(events.iter().all(AuditEvent::owns_nothing));
        // SAFETY: no element is left, so the length is valid. Not dropping the events
        // can only leak text they own, and they own none.
        unsafe { events.set_len(0) };
    }
    events.clear();
    events.into_iter().map(|_| unreachable!()).collect()
}

/// A block's records: its events and rejections (lines numbered from the block's first),
/// the records read and skipped, and the line ends it held.
struct Parsed<'b> {
    events: Vec<AuditEvent<'b>>,
    /// Every event was read by the fast path, so borrows all its text (see [`recycle`]).
    borrowed_only: bool,
    rejects: Vec<Rejection>,
    read: u64,
    skipped: u64,
    newlines: u64,
    /// The block's length in bytes.
    bytes: usize,
}

/// Where the next line starts, after the line break at `end` (`\n` or `\r\n`); past the
/// end of `bytes` (its length and one) if no line break is there.
#[inline]
fn after_break(bytes: &[u8], end: usize) -> usize {
    match bytes.get(end..) {
        Some([b'\n', ..]) => end + 1,
        Some([b'\r', b'\n', ..]) => end + 2,
        _ => bytes.len() + 1,
    }
}

fn parse_block<'b, P: LineParser>(
    block: &'b Block,
    name: &str,
    parser: &P,
    mut events: Vec<AuditEvent<'b>>,
) -> Parsed<'b> {
    events.reserve((block.bytes.len() - block.start) / 256);
    let mut rejects = Vec::new();
    let (mut read, mut skipped) = (0u64, 0u64);
    // A byte-order mark at the start of the file is not part of the first record.
    let mut start = block.start;
    if block.first && block.bytes[start..].starts_with(b"\xEF\xBB\xBF") {
        start += 3;
    }
    let bytes = &block.bytes[..];
    let mut newlines = 0;
    let mut borrowed_only = true;
    for line_no in 1.. {
        let rest = &bytes[start..];
        // The fast path reads the line and finds its end; otherwise the line is found by
        // its line break first.
        let (end, outcome) = match parser.parse_first_line(rest, line_no, &mut events) {
            Some(Ok(len)) => {
                read += 1;
                start = after_break(bytes, start + len);
                if start > bytes.len() {
                    break;
                }
                newlines += 1;
                continue;
            }
            Some(Err(rejected)) => {
                let (len, err) = *rejected;
                (start + len, Some(Err(err)))
            }
            None => (
                memchr::memchr(b'\n', rest).map_or(bytes.len(), |k| start + k),
                None,
            ),
        };
        // The line, without its line break; and where the next starts.
        let raw = &bytes[start..end];
        let raw = raw.strip_suffix(b"\r").unwrap_or(raw);
        start = after_break(bytes, end);
        if start <= bytes.len() {
            newlines += 1;
        }
        let outcome = match outcome {
            Some(outcome) => outcome,
            None if raw.iter().all(u8::is_ascii_whitespace) => {
                if start > bytes.len() {
                    break;
                }
                continue;
            }
            None => {
                borrowed_only = false;
                parser.parse_into(raw, line_no, &mut events)
            }
        };
        read += 1;
        match outcome {
            Ok(true) => {}
            Ok(false) => skipped += 1,
            Err(err) => rejects.push(rejection(name, Location::Line(line_no), err, raw_text(raw))),
        }
        if start > bytes.len() {
            break;
        }
    }
    Parsed {
        events,
        borrowed_only,
        rejects,
        read,
        skipped,
        newlines,
        bytes: block.bytes.len() - block.start,
    }
}

fn read_csv(file: &SourceFile, index: u32, cx: &ReadContext, intake: &mut Intake) -> Result<()> {
    let name = file.name();
    let mut rdr = csv::ReaderBuilder::new()
        .flexible(true)
        .from_reader(file.open()?);
    let headers = rdr
        .headers()
        .map_err(|e| bad_input(format!("{name}: cannot read the header row: {e}")))?
        .clone();
    for required in ["timestamp", "actor", "actor_type", "operation"] {
        if !headers.iter().any(|h| h == required) {
            return Err(bad_input(format!(
                "{name} line 1: no {required:?} column (the native columns are {})",
                NATIVE_FIELDS.join(", ")
            )));
        }
    }
    let mut record = csv::StringRecord::new();
    let mut chunk: Vec<csv::StringRecord> = Vec::new();
    loop {
        let more = match rdr.read_record(&mut record) {
            Ok(m) => m,
            Err(e) => {
                let line = e.position().map_or(0, |p| p.line());
                intake.summary.read += 1;
                let r = rejection(
                    &name,
                    Location::Line(line),
                    RecordError::new("csv", e.to_string()),
                    String::new(),
                );
                intake.keep(r)?;
                continue;
            }
        };
        if more {
            chunk.push(record.clone());
        }
        if chunk.len() >= 65_536 || (!more && !chunk.is_empty()) {
            let mut events = Vec::with_capacity(chunk.len());
            for rec in &chunk {
                intake.summary.read += 1;
                let line = rec.position().map_or(0, |p| p.line());
                let built = rec
                    .deserialize::<NativeRecord>(Some(&headers))
                    .map_err(|e| RecordError::new("csv", e.to_string()))
                    .and_then(|r| build(r, cx.input_tz, index, line));
                match built {
                    Ok(e) => events.push(e),
                    Err(err) => {
                        let raw = rec.iter().collect::<Vec<_>>().join(",");
                        let r = rejection(&name, Location::Line(line), err, raw);
                        intake.keep(r)?;
                    }
                }
            }
            intake.deliver(&events)?;
            drop(events);
            chunk.clear();
        }
        if !more {
            return Ok(());
        }
    }
}

/// Reads a native Parquet file a slice of rows at a time (bounded memory), columns by
/// name; text columns must be strings, `dry_run` boolean or text.
fn read_parquet(
    file: &SourceFile,
    index: u32,
    cx: &ReadContext,
    intake: &mut Intake,
) -> Result<()> {
    use polars::prelude::*;
    let name = file.name();
    let open = || -> Result<ParquetReader<File>> {
        let f =
            File::open(&file.path).map_err(|e| bad_input(format!("cannot read {name}: {e}")))?;
        Ok(ParquetReader::new(f))
    };
    let mut probe = open()?;
    let schema = probe
        .schema()
        .map_err(|e| bad_input(format!("{name}: not a Parquet file: {e}")))?;
    let rows = probe
        .num_rows()
        .map_err(|e| bad_input(format!("{name}: {e}")))?;
    let metadata = probe.get_metadata()?.clone();
    let columns: Vec<String> = NATIVE_FIELDS
        .iter()
        .filter(|f| schema.contains(f))
        .map(|f| f.to_string())
        .collect();
    // A row group of up to 2^17 rows at a time (DuckDB and Arrow write 122,880 rows;
    // polars 123,460 here), a larger one in parts of at most 2^16 rows: bounded memory,
    // still parallel. Slices of 2^16 rows that ignored row groups decoded most groups
    // twice: at 1 M events (row groups of 123,460 rows), 2^16-row slices peaked at 347
    // MiB in 0.93 s (medians of three), halves of each row group at 305 MiB in 0.85 s,
    // whole row groups at 353 MiB in 0.81 s; at 10 M, 8.05, 7.83 and 7.25 s (the means
    // of two runs). On 200,000 events, 1.134, 1.084 and 0.949 billion instructions. The
    // same 1 M events as one row group (as pyarrow writes up to 2^20 rows) peaked at
    // 341 MiB in parts of 2^16 rows and 399 MiB in parts of 2^17 (medians of three;
    // DuckDB 380 MiB in one run).
    const WHOLE_GROUP: usize = 1 << 17;
    const PART: usize = 1 << 16;
    // Each slice is cut into parts that are turned into events and checked in parallel,
    // while the next slice is decoded on a thread of its own and the slice before goes
    // through the stateful policies: three slices are held at most, so memory stays
    // bounded. (Decoding two slices at once, both in parallel, measured no faster and
    // took half as much memory again.)
    let slices = row_group_slices(
        metadata.row_groups.iter().map(|g| g.num_rows()),
        rows,
        WHOLE_GROUP,
        PART,
    );
    let decode = |offset: usize, len: usize| -> Result<DataFrame> {
        let mut reader = open()?;
        reader.set_metadata(metadata.clone());
        reader
            .with_columns(Some(columns.clone()))
            .with_slice(Some((offset, len)))
            .finish()
            .map_err(|e| bad_input(format!("{name}: {e}")))
    };
    std::thread::scope(|scope| -> Result<()> {
        let (tx, rx) = std::sync::mpsc::sync_channel::<Result<(usize, DataFrame)>>(0);
        scope.spawn(move || {
            for (offset, len) in slices {
                let slice = decode(offset, len);
                let failed = slice.is_err();
                // A closed channel: the reading side stopped (an error, or --strict).
                if tx.send(slice.map(|df| (offset, df))).is_err() || failed {
                    return;
                }
            }
        });
        // While one slice is turned into events and checked, the slice before goes
        // through the stateful policies.
        let mut slices = SliceContext {
            rx,
            name: &name,
            index,
            tz: cx.input_tz,
        };
        in_two_slots(&mut slices, intake)
    })
}

/// The slices a Parquet file is read in, as (first row, rows): a row group of at most
/// `whole` rows is one slice, a larger one is cut in equal parts of at most `part` rows,
/// so that no slice takes rows from two row groups (a slice across a boundary decodes and
/// decompresses both groups' pages up to its rows). Rows the row groups do not account
/// for, if any, follow as one more group.
fn row_group_slices(
    groups: impl Iterator<Item = usize>,
    rows: usize,
    whole: usize,
    part: usize,
) -> Vec<(usize, usize)> {
    let part = part.max(1);
    let parts = |n: usize| if n <= whole { 1 } else { n.div_ceil(part) };
    let mut slices = Vec::new();
    let mut offset = 0;
    for n in groups {
        let n = n.min(rows.saturating_sub(offset));
        slices.extend(equal_parts(offset, n, parts(n)));
        offset += n;
    }
    if offset < rows {
        slices.extend(equal_parts(offset, rows - offset, parts(rows - offset)));
    }
    slices
}

/// `n` rows from `offset` in `parts` runs as (first row, rows), as equal as they can be
/// (the first ones a row longer where `parts` does not divide `n`); empty runs are left
/// out.
fn equal_parts(offset: usize, n: usize, parts: usize) -> impl Iterator<Item = (usize, usize)> {
    let parts = parts.max(1);
    let (each, extra) = (n / parts, n % parts);
    (0..parts)
        .scan(offset, move |at, p| {
            let len = each + usize::from(p < extra);
            *at += len;
            Some((*at - len, len))
        })
        .filter(|&(_, len)| len > 0)
}

/// A part of a Parquet slice turned into events and checked.
type CheckedPart<'d> = (Vec<AuditEvent<'d>>, Vec<Rejection>, Vec<Hit<'d>>);

/// What each step of reading a Parquet file's slices needs.
struct SliceContext<'n> {
    rx: std::sync::mpsc::Receiver<Result<(usize, polars::prelude::DataFrame)>>,
    name: &'n str,
    index: u32,
    tz: Tz,
}

impl TwoSlots for SliceContext<'_> {
    type Slot = Vec<(usize, polars::prelude::DataFrame)>;
    type Checked<'d>
        = Vec<CheckedPart<'d>>
    where
        Self: 'd;

    /// Takes the next decoded slice into `slot`, then turns it into events and checks
    /// them, in parallel parts, while the previous slice's events go to the intake.
    /// `None` once the file is done.
    fn step<'d>(
        &mut self,
        slot: &'d mut Vec<(usize, polars::prelude::DataFrame)>,
        previous: Vec<CheckedPart<'_>>,
        intake: &mut Intake,
    ) -> Result<Option<Vec<CheckedPart<'d>>>> {
        slot.clear();
        let mut failed = None;
        match self.rx.recv() {
            Ok(Ok((offset, df))) => {
                // Cut into parts (views of the slice, not copies) for the cores to share.
                let parts = rayon::current_num_threads().max(1) * 4;
                slot.extend(
                    equal_parts(0, df.height(), parts)
                        .map(|(start, len)| (offset + start, df.slice(start as i64, len))),
                );
            }
            Ok(Err(e)) => failed = Some(e),
            Err(_) => {}
        }
        let parts: &'d Vec<_> = slot;
        let (name, index, tz, checker) = (self.name, self.index, self.tz, intake.checker);
        let (handed, checked) = rayon::join(
            || -> Result<()> {
                for (events, rejects, hits) in previous {
                    intake.summary.read += (events.len() + rejects.len()) as u64;
                    intake.take(&events, hits, rejects)?;
                }
                Ok(())
            },
            || {
                parts
                    .par_iter()
                    .map(|(first_row, part)| {
                        let (events, rejects) = parquet_events(part, name, index, *first_row, tz)?;
                        let hits = checker.check(&events);
                        Ok((events, rejects, hits))
                    })
                    .collect::<Result<Vec<_>>>()
            },
        );
        handed?;
        if let Some(e) = failed {
            return Err(e);
        }
        let checked = checked?;
        Ok((!parts.is_empty()).then_some(checked))
    }
}

fn parquet_events<'a>(
    df: &'a polars::prelude::DataFrame,
    name: &str,
    index: u32,
    first_row: usize,
    tz: Tz,
) -> Result<(Vec<AuditEvent<'a>>, Vec<Rejection>)> {
    use polars::prelude::*;
    // Each text column's values, read in order (cheaper than looking each one up by row
    // across the column's chunks).
    let text = |field: &str| -> Result<Option<Vec<Option<&'a str>>>> {
        match df.column(field) {
            Err(_) => Ok(None),
            Ok(c) => {
                let ca = c.str().map_err(|_| {
                    bad_input(format!(
                        "{name}: column {field:?} is {} (it must be text)",
                        c.dtype()
                    ))
                })?;
                let mut values = Vec::with_capacity(ca.len());
                // (`validity` through the boxed chunk: polars does not export the trait.
                // The chunk's own `iter()` gives the same values, but a run on 200,000
                // Parquet events took 1.198 billion instructions with it, 1.136 without.)
                for (chunk, boxed) in ca.downcast_iter().zip(ca.chunks()) {
                    match boxed.validity() {
                        None => values.extend(chunk.values_iter().map(Some)),
                        Some(valid) => values.extend(
                            chunk
                                .values_iter()
                                .zip(valid.iter())
                                .map(|(v, ok)| ok.then_some(v)),
                        ),
                    }
                }
                Ok(Some(values))
            }
        }
    };
    // Every text column, in [`Text`] order; a column the file lacks is None.
    let cols: Vec<Option<Vec<Option<&'a str>>>> = Text::ALL
        .iter()
        .map(|f| text(f.name()))
        .collect::<Result<_>>()?;
    // Read as every other format reads it: text must say true or false (yes/no, 1/0).
    let dry: Option<Vec<Flag>> = match df.column("dry_run") {
        Err(_) => None,
        Ok(c) => match c.dtype() {
            DataType::Boolean => Some(c.bool()?.iter().map(|b| Flag(b, false)).collect()),
            DataType::String => Some(
                c.str()?
                    .iter()
                    .map(|t| t.map_or(Flag(None, false), text_flag))
                    .collect(),
            ),
            other => {
                return Err(bad_input(format!(
                    "{name}: column \"dry_run\" is {other} (it must be boolean)"
                )))
            }
        },
    };
    let mut events = Vec::with_capacity(df.height());
    let mut rejects = Vec::new();
    for i in 0..df.height() {
        let record = first_row + i + 1;
        let row = ParquetRow {
            cols: &cols,
            row: i,
            dry_run: dry.as_ref().map_or(Flag(None, false), |d| d[i]),
        };
        if let Err(err) = build_with(row, tz, index, record as u64, |e| events.push(e)) {
            rejects.push(rejection(
                name,
                Location::Record(record as u64),
                err,
                String::new(),
            ));
        }
    }
    Ok((events, rejects))
}

/// One row of a Parquet slice, read field by field as it is checked.
struct ParquetRow<'c, 'a> {
    /// The text columns' values in [`Text`] order; `None` for a column the file lacks.
    cols: &'c [Option<Vec<Option<&'a str>>>],
    row: usize,
    dry_run: Flag,
}

impl<'a> RawRecord<'a> for ParquetRow<'_, 'a> {
    fn take(&mut self, field: Text) -> Option<Cow<'a, str>> {
        let col = self.cols.get(field as usize)?.as_ref()?;
        col.get(self.row).copied().flatten().map(Cow::Borrowed)
    }

    fn dry_run(&self) -> Flag {
        self.dry_run
    }
}

/// A CloudTrail file: `{"Records": [...]}`; each record is checked on its own.
#[derive(Deserialize)]
struct CloudTrailFile {
    #[serde(rename = "Records")]
    records: Vec<serde_json::Value>,
}

fn read_cloudtrail(
    file: &SourceFile,
    index: u32,
    cx: &ReadContext,
    intake: &mut Intake,
) -> Result<()> {
    let name = file.name();
    let mut bytes = Vec::new();
    file.open()?
        .read_to_end(&mut bytes)
        .map_err(|e| bad_input(format!("cannot read {name}: {e}")))?;
    let parsed: CloudTrailFile = match serde_json::from_slice(&bytes) {
        Ok(p) => p,
        Err(e) => {
            intake.summary.read += 1;
            let r = rejection(
                &name,
                Location::Record(0),
                RecordError::new("Records", format!("not a CloudTrail log file: {e}")),
                raw_text(&bytes[..bytes.len().min(200)]),
            );
            intake.keep(r)?;
            return Ok(());
        }
    };
    let mut events = Vec::with_capacity(parsed.records.len());
    for (i, rec) in parsed.records.iter().enumerate() {
        let n = i as u64 + 1;
        intake.summary.read += 1;
        match cloudtrail_event(rec, n, index, cx) {
            Ok(e) => {
                // One record, one event per resource it names (TerminateInstances of
                // sixty instances touches sixty resources).
                intake.summary.accepted += 1;
                let more = cloudtrail_other_resources(rec);
                let first = events.len();
                events.push(e);
                for resource in more {
                    let mut copy = events[first].clone();
                    copy.resource = Cow::Owned(resource);
                    events.push(copy);
                }
            }
            Err(err) => {
                let r = rejection(
                    &name,
                    Location::Record(n),
                    err,
                    raw_text(rec.to_string().as_bytes()),
                );
                intake.keep(r)?;
            }
        }
    }
    // Accepted is counted by record above: one record may stand for several events.
    let hits = intake.checker.check(&events);
    intake.sink.events(&events, hits);
    Ok(())
}

/// The resources of a record beyond the first (which `cloudtrail_event` takes): the rest
/// of `resources[].ARN`, or of `requestParameters.instancesSet.items[].instanceId`.
fn cloudtrail_other_resources(rec: &serde_json::Value) -> Vec<String> {
    let list = |v: Option<&serde_json::Value>, key: &str| -> Vec<String> {
        v.and_then(|v| v.as_array())
            .map(|a| {
                a.iter()
                    .filter_map(|r| r.get(key)?.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default()
    };
    let arns = list(rec.get("resources"), "ARN");
    let all = if arns.is_empty() {
        list(
            rec.pointer("/requestParameters/instancesSet/items"),
            "instanceId",
        )
    } else {
        arns
    };
    all.into_iter().skip(1).collect()
}

fn owned(v: Option<&str>) -> Cow<'static, str> {
    Cow::Owned(v.unwrap_or("").to_string())
}

/// Maps one CloudTrail record to a native event.
fn cloudtrail_event(
    rec: &serde_json::Value,
    line: u64,
    source: u32,
    cx: &ReadContext,
) -> Result<AuditEvent<'static>, RecordError> {
    let s = |ptr: &str| rec.pointer(ptr).and_then(|v| v.as_str());
    let event_name = s("/eventName").ok_or_else(|| RecordError::new("eventName", "is missing"))?;
    let time = s("/eventTime").ok_or_else(|| RecordError::new("eventTime", "is missing"))?;
    let at = parse_millis(time, "eventTime", cx.input_tz)?;
    let identity = rec
        .get("userIdentity")
        .ok_or_else(|| RecordError::new("userIdentity", "is missing"))?;
    let actor = identity
        .get("arn")
        .and_then(|v| v.as_str())
        .or_else(|| identity.get("principalId").and_then(|v| v.as_str()))
        .or_else(|| identity.get("invokedBy").and_then(|v| v.as_str()))
        .ok_or_else(|| RecordError::new("userIdentity.arn", "is missing"))?;
    let user_agent = s("/userAgent").unwrap_or("");
    let actor_type = cx.mappings.actor_type(actor, user_agent);
    let m = &cx.mappings.cloudtrail;
    let op_text = m
        .events
        .get(event_name)
        .map(String::as_str)
        .or_else(|| {
            m.prefixes
                .iter()
                .find(|(p, _)| event_name.starts_with(p.as_str()))
                .map(|(_, o)| o.as_str())
        })
        .unwrap_or(&m.otherwise);
    let operation = Operation::parse(op_text).unwrap_or(Operation::Read);
    let account = s("/recipientAccountId")
        .or_else(|| s("/userIdentity/accountId"))
        .unwrap_or("");
    let resource = rec
        .pointer("/resources/0/ARN")
        .and_then(|v| v.as_str())
        .map(str::to_string)
        .or_else(|| {
            let params = rec.get("requestParameters")?;
            m.resource_keys.iter().find_map(|k| {
                let v = params.pointer(k)?;
                v.as_str().map(str::to_string)
            })
        })
        .unwrap_or_else(|| s("/eventSource").unwrap_or("").to_string());
    let error = s("/errorCode").unwrap_or("");
    let dry_run = error.contains("DryRunOperation");
    let outcome = if error.is_empty() || dry_run {
        "success"
    } else if error.contains("AccessDenied") || error.contains("Unauthorized") {
        "denied"
    } else {
        "failure"
    };
    let grants = if operation == Operation::PermissionChange {
        cloudtrail_grants(rec)
    } else {
        String::new()
    };
    Ok(AuditEvent {
        at,
        actor: owned(Some(actor)),
        actor_type,
        agent: owned((actor_type == ActorType::AiAgent).then_some(user_agent)),
        action: owned(Some(event_name)),
        operation,
        resource: Cow::Owned(resource),
        resource_type: owned(s("/resources/0/type").or_else(|| s("/eventSource"))),
        environment: owned(Some(
            cx.environments
                .accounts
                .get(account)
                .map(String::as_str)
                .unwrap_or("unknown"),
        )),
        account: owned(Some(account)),
        region: owned(s("/awsRegion")),
        change_id: Cow::Borrowed(""),
        dry_run,
        approved_by: Cow::Borrowed(""),
        approver_type: None,
        approved_at: None,
        outcome: Cow::Borrowed(outcome),
        prompt_ref: false,
        tool_call_ref: false,
        grants: Cow::Owned(grants),
        source,
        line,
    })
}

/// What a policy change grants: `*` when its document allows every action or resource.
fn cloudtrail_grants(rec: &serde_json::Value) -> String {
    let Some(params) = rec.get("requestParameters") else {
        return String::new();
    };
    if let Some(arn) = params.get("policyArn").and_then(|v| v.as_str()) {
        return arn.rsplit('/').next().unwrap_or(arn).to_string();
    }
    let doc = params
        .get("policyDocument")
        .and_then(|v| v.as_str())
        .map(|d| serde_json::from_str::<serde_json::Value>(d).unwrap_or_default())
        .unwrap_or_default();
    let mut wild = false;
    let mut named = Vec::new();
    let statements = match doc.get("Statement") {
        Some(serde_json::Value::Array(a)) => a.clone(),
        Some(v) => vec![v.clone()],
        None => Vec::new(),
    };
    for st in statements {
        for key in ["Action", "Resource"] {
            match st.get(key) {
                Some(serde_json::Value::String(a)) => {
                    wild |= a == "*";
                    if key == "Action" {
                        named.push(a.clone());
                    }
                }
                Some(serde_json::Value::Array(list)) => {
                    for a in list.iter().filter_map(|v| v.as_str()) {
                        wild |= a == "*";
                        if key == "Action" {
                            named.push(a.to_string());
                        }
                    }
                }
                _ => {}
            }
        }
    }
    if wild {
        "*".into()
    } else {
        named.join(",")
    }
}

fn cluster_name(path: &Path) -> String {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    name.split('.').next().unwrap_or(&name).to_string()
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct K8sEvent<'a> {
    #[serde(borrow, default, deserialize_with = "opt_text")]
    kind: Option<Cow<'a, str>>,
    #[serde(borrow, default, deserialize_with = "opt_text")]
    stage: Option<Cow<'a, str>>,
    #[serde(borrow, default, rename = "requestURI", deserialize_with = "opt_text")]
    request_uri: Option<Cow<'a, str>>,
    #[serde(borrow, default, deserialize_with = "opt_text")]
    verb: Option<Cow<'a, str>>,
    #[serde(borrow)]
    user: Option<K8sUser<'a>>,
    #[serde(borrow, default, deserialize_with = "opt_text")]
    user_agent: Option<Cow<'a, str>>,
    #[serde(borrow)]
    object_ref: Option<K8sObject<'a>>,
    response_status: Option<K8sStatus>,
    #[serde(borrow, default, deserialize_with = "opt_text")]
    request_received_timestamp: Option<Cow<'a, str>>,
    #[serde(borrow, default, deserialize_with = "opt_text")]
    stage_timestamp: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    annotations: BTreeMap<Cow<'a, str>, Cow<'a, str>>,
}

#[derive(Deserialize)]
struct K8sUser<'a> {
    #[serde(borrow, default, deserialize_with = "opt_text")]
    username: Option<Cow<'a, str>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct K8sObject<'a> {
    #[serde(borrow, default, deserialize_with = "opt_text")]
    resource: Option<Cow<'a, str>>,
    #[serde(borrow, default, deserialize_with = "opt_text")]
    namespace: Option<Cow<'a, str>>,
    #[serde(borrow, default, deserialize_with = "opt_text")]
    name: Option<Cow<'a, str>>,
    #[serde(borrow, default, deserialize_with = "opt_text")]
    subresource: Option<Cow<'a, str>>,
}

#[derive(Deserialize)]
struct K8sStatus {
    code: Option<u16>,
}

/// Maps one Kubernetes audit event; stages before ResponseComplete are skipped (the same
/// request appears again, complete).
fn k8s_event<'b>(
    line: &'b str,
    n: u64,
    source: u32,
    cluster: &str,
    cx: &ReadContext,
) -> Result<Option<AuditEvent<'b>>, RecordError> {
    let ev: K8sEvent =
        serde_json::from_str(line).map_err(|e| RecordError::new("json", json_reason(&e)))?;
    if ev.kind.as_deref() != Some("Event") {
        return Err(RecordError::new(
            "kind",
            "is not \"Event\" (audit.k8s.io/v1)",
        ));
    }
    if let Some(stage) = ev.stage.as_deref() {
        if stage != "ResponseComplete" && stage != "Panic" {
            return Ok(None);
        }
    }
    let time = ev
        .request_received_timestamp
        .or(ev.stage_timestamp)
        .ok_or_else(|| RecordError::new("requestReceivedTimestamp", "is missing"))?;
    let at = parse_millis(&time, "requestReceivedTimestamp", cx.input_tz)?;
    let verb = ev
        .verb
        .ok_or_else(|| RecordError::new("verb", "is missing"))?;
    let actor = ev
        .user
        .and_then(|u| u.username)
        .ok_or_else(|| RecordError::new("user.username", "is missing"))?;
    let user_agent = ev.user_agent.unwrap_or(Cow::Borrowed(""));
    let actor_type = cx.mappings.actor_type(&actor, &user_agent);
    let km = &cx.mappings.kubernetes;
    let obj = ev.object_ref;
    let kind = obj
        .as_ref()
        .and_then(|o| o.resource.as_deref())
        .unwrap_or("");
    let namespace = obj
        .as_ref()
        .and_then(|o| o.namespace.as_deref())
        .unwrap_or("");
    let obj_name = obj.as_ref().and_then(|o| o.name.as_deref()).unwrap_or("");
    let sub = obj
        .as_ref()
        .and_then(|o| o.subresource.as_deref())
        .unwrap_or("");
    let mut operation = km
        .verbs
        .get(&*verb)
        .and_then(|o| Operation::parse(o))
        .unwrap_or(Operation::Read);
    if km.housekeeping_resources.iter().any(|r| r == kind) {
        operation = Operation::Read;
    } else if operation.changes() && km.permission_resources.iter().any(|r| r == kind) {
        operation = Operation::PermissionChange;
    }
    let mut resource = [namespace, kind, obj_name, sub]
        .into_iter()
        .filter(|part| !part.is_empty())
        .collect::<Vec<_>>()
        .join("/");
    if resource.is_empty() {
        resource = ev.request_uri.as_deref().unwrap_or("").to_string();
    }
    let envs = cx.environments;
    let environment = envs
        .namespaces
        .iter()
        .find(|(p, _)| !namespace.is_empty() && glob_match(p, namespace))
        .or_else(|| envs.clusters.iter().find(|(c, _)| *c == cluster))
        .map(|(_, e)| e.as_str())
        .unwrap_or("unknown");
    let code = ev.response_status.and_then(|s| s.code).unwrap_or(200);
    let outcome = match code {
        401 | 403 => "denied",
        400.. => "failure",
        _ => "success",
    };
    let ann = |key: &str| ev.annotations.get(key).map(|v| v.to_string());
    let dry_run = ev
        .request_uri
        .as_deref()
        .is_some_and(|u| u.contains("dryRun=All"));
    Ok(Some(AuditEvent {
        at,
        actor,
        actor_type,
        agent: if actor_type == ActorType::AiAgent {
            user_agent
        } else {
            Cow::Borrowed("")
        },
        action: Cow::Owned(format!("{verb} {kind}")),
        operation,
        resource: Cow::Owned(resource),
        resource_type: Cow::Owned(kind.to_string()),
        environment: Cow::Owned(environment.to_string()),
        account: Cow::Owned(format!("k8s:{cluster}")),
        region: Cow::Borrowed(""),
        change_id: Cow::Owned(ann(&km.change_id_annotation).unwrap_or_default()),
        dry_run,
        approved_by: Cow::Borrowed(""),
        approver_type: None,
        approved_at: None,
        outcome: Cow::Borrowed(outcome),
        prompt_ref: ann(&km.prompt_ref_annotation).is_some(),
        tool_call_ref: ann(&km.tool_call_ref_annotation).is_some(),
        grants: Cow::Borrowed(""),
        source,
        line: n,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_are_found_as_a_case_blind_search_finds_them() {
        let lists: [&[&str]; 5] = [
            &["audit-policy", "auditsink"],
            &["Drop", "truncate", "rm -rf"],
            &["a"],
            &["x", ""],
            &["policy", "Policy"],
        ];
        let texts = [
            "",
            "a",
            "k8s:prod/AUDIT-POLICY",
            "k8s:prod/audit-polic",
            "AuditSink/x",
            "basket-svc-4",
            "DROP TABLE orders",
            "rm -r f",
            "no such words here",
            "xyz",
        ];
        for words in lists {
            let found = Words::new(words).unwrap();
            for t in texts {
                let naive = words
                    .iter()
                    .any(|w| t.to_ascii_lowercase().contains(&w.to_ascii_lowercase()));
                assert_eq!(found.found_in(t), naive, "{words:?} in {t:?}");
            }
        }
    }

    #[cfg(unix)]
    #[test]
    fn blocks_read_at_their_place_hold_each_line_once_and_whole() {
        use std::io::Write;
        let long = "x".repeat(100);
        let texts = [
            "a\nbb\nccc\n".to_string(),
            "a\r\nbb\r\n\r\nccc".to_string(),
            format!("1\n{long}\n22\n{long}{long}\n333\n\n\n4"),
            "\n".to_string(),
            "no line break".to_string(),
            "\u{feff}{}\n{}\n".to_string(),
        ];
        for text in &texts {
            let mut f = tempfile::tempfile().unwrap();
            f.write_all(text.as_bytes()).unwrap();
            let len = text.len() as u64;
            for size in [1u64, 2, 3, 7, 16, 64, 1000] {
                let mut whole = Vec::new();
                let mut block = Block::default();
                let mut at = 0;
                while at < len {
                    let range_end = (at + size).min(len);
                    read_block_at(&f, len, at..range_end, &mut block).unwrap();
                    let lines = &block.bytes[block.start..];
                    assert_eq!(block.first, at == 0);
                    // Whole lines: starting where a line starts, ending at a line break
                    // or at the end of the file.
                    let start = at as usize - (at > 0) as usize + block.start;
                    if !lines.is_empty() {
                        assert!(start == 0 || text.as_bytes()[start - 1] == b'\n');
                        let end = start + lines.len();
                        assert!(end == text.len() || text.as_bytes()[end - 1] == b'\n');
                        // It starts in its range.
                        assert!((at..range_end).contains(&(start as u64)), "{text:?} {size}");
                    }
                    whole.extend_from_slice(lines);
                    at = range_end;
                }
                assert_eq!(String::from_utf8(whole).unwrap(), *text, "blocks of {size}");
            }
        }
    }

    #[test]
    fn a_recycled_event_vector_keeps_its_allocation() {
        let mut events: Vec<AuditEvent<'_>> = Vec::with_capacity(1000);
        let line = r#"{"timestamp":"2026-11-03T09:14:00Z","actor":"a","actor_type":"human","action":"x","operation":"read","resource":"r","environment":"dev"}"#;
        let parser = NativeLines {
            tz: chrono_tz::Europe::London,
            index: 0,
            scanner: crate::audit::scan::LineScanner::new(),
        };
        assert!(parser.parse_into(line.as_bytes(), 1, &mut events).unwrap());
        assert_eq!(&*events[0].actor, "a");
        let again: Vec<AuditEvent<'_>> = recycle(events, false);
        assert!(
            again.is_empty() && again.capacity() >= 1000,
            "{}",
            again.capacity()
        );
    }

    #[test]
    fn events_let_go_undropped_own_no_text() {
        let parser = NativeLines {
            tz: chrono_tz::Europe::London,
            index: 0,
            scanner: crate::audit::scan::LineScanner::new(),
        };
        let fast = r#"{"timestamp":"2026-11-03T09:14:00Z","actor":"a","actor_type":"human","action":"x","operation":"read","resource":"r","environment":"dev"}"#;
        let escaped = fast.replace(r#""a""#, r#""a\"b""#);
        // The lines; whether the block's events all borrow their text, as the fast path
        // reads them; whether one owns some (an escape read by serde_json).
        for (lines, borrowed_only, owns_some) in [
            (vec![fast; 3], true, false),
            (vec![fast, &escaped, fast], false, true),
            (vec![fast, "", " {bad"], false, false),
        ] {
            let block = Block {
                bytes: (lines.join("\r\n") + "\n").into_bytes(),
                start: 0,
                first: true,
            };
            let parsed = parse_block(&block, "t.jsonl", &parser, Vec::new());
            assert_eq!(parsed.borrowed_only, borrowed_only, "{lines:?}");
            if parsed.borrowed_only {
                assert!(parsed.events.iter().all(AuditEvent::owns_nothing));
            }
            let owned = parsed.events.iter().any(|e| !e.owns_nothing());
            assert_eq!(owned, owns_some, "{lines:?}");
            let again: Vec<AuditEvent<'_>> = recycle(parsed.events, parsed.borrowed_only);
            assert!(again.is_empty());
        }
    }

    #[test]
    fn a_format_has_one_name_for_options_json_and_tables() {
        use clap::ValueEnum;
        for f in SourceFormat::value_variants() {
            let option = f.to_possible_value().unwrap();
            assert_eq!(option.get_name(), f.as_str());
            assert_eq!(serde_json::to_value(f).unwrap(), f.as_str());
        }
    }

    #[test]
    fn parquet_slices_keep_to_row_groups_and_cover_every_row() {
        // Row groups of 123,460 (whole), one of 300,000 (cut in five equal parts) and a
        // short last one.
        let groups = [123_460, 300_000, 5];
        let slices = row_group_slices(groups.into_iter(), 423_465, 1 << 17, 1 << 16);
        assert_eq!(
            slices,
            vec![
                (0, 123_460),
                (123_460, 60_000),
                (183_460, 60_000),
                (243_460, 60_000),
                (303_460, 60_000),
                (363_460, 60_000),
                (423_460, 5)
            ]
        );
        // Rows the row groups do not account for still get read; empty groups give none.
        assert_eq!(
            row_group_slices([0, 10].into_iter(), 25, 8, 8),
            vec![(0, 5), (5, 5), (10, 8), (18, 7)]
        );
        assert_eq!(row_group_slices(std::iter::empty(), 0, 8, 8), vec![]);
    }

    #[test]
    fn parquet_dry_run_text_is_read_as_the_other_formats_read_it() {
        use polars::prelude::*;
        let n = 3;
        let df = df!(
            "timestamp" => vec!["2026-11-10T10:00:00Z"; n],
            "actor" => vec!["a"; n],
            "actor_type" => vec!["human"; n],
            "action" => vec!["apply"; n],
            "operation" => vec!["update"; n],
            "resource" => vec!["db/x"; n],
            "environment" => vec!["prod"; n],
            "dry_run" => ["Yes", "0", "maybe"],
        )
        .unwrap();
        let (events, rejects) =
            parquet_events(&df, "f.parquet", 0, 0, chrono_tz::Europe::London).unwrap();
        let dry: Vec<bool> = events.iter().map(|e| e.dry_run).collect();
        assert_eq!(dry, [true, false]);
        assert_eq!(rejects.len(), 1);
        assert_eq!(rejects[0].field, "dry_run");
        assert_eq!(rejects[0].location, Location::Record(3));
    }

    #[test]
    fn parquet_columns_in_several_chunks_are_read_row_by_row() {
        use polars::prelude::*;
        // Rows of (second, actor, resource, region) as one chunk of a frame.
        let chunk = |rows: [(u32, &str, &str, Option<&str>); 2]| {
            df!(
                "timestamp" => rows.map(|r| format!("2026-11-10T10:00:0{}Z", r.0)),
                "actor" => rows.map(|r| r.1),
                "actor_type" => ["human"; 2],
                "action" => ["apply"; 2],
                "operation" => ["update"; 2],
                "resource" => rows.map(|r| r.2),
                "environment" => ["prod"; 2],
                "region" => rows.map(|r| r.3),
            )
            .unwrap()
        };
        let first = chunk([(0, "a", "db/1", Some("eu-west-2")), (1, "b", "db/2", None)]);
        let second = chunk([(2, "c", "db/3", None), (3, "d", "db/4", Some("eu-west-1"))]);
        let mut df = first;
        df.vstack_mut(&second).unwrap();
        // From the middle of the first chunk into the second, as a part of a slice is.
        let part = df.slice(1, 3);
        assert_eq!(
            part.column("actor").unwrap().str().unwrap().chunks().len(),
            2
        );
        let (events, rejects) =
            parquet_events(&part, "f.parquet", 0, 10, chrono_tz::Europe::London).unwrap();
        assert!(rejects.is_empty());
        let got: Vec<(&str, &str, &str, u64)> = events
            .iter()
            .map(|e| (&*e.actor, &*e.resource, &*e.region, e.line))
            .collect();
        assert_eq!(
            got,
            [
                ("b", "db/2", "", 11),
                ("c", "db/3", "", 12),
                ("d", "db/4", "eu-west-1", 13)
            ]
        );
    }

    #[test]
    fn globs() {
        assert!(glob_match(
            "*agent*",
            "arn:aws:sts::1:assumed-role/opsbot-AGENT-role/s"
        ));
        assert!(glob_match(
            "claude-code/*",
            "claude-code/1.0.71 kubectl/v1.31.0"
        ));
        assert!(glob_match("system:*", "system:serviceaccount:argocd:x"));
        assert!(!glob_match("system:*", "j.okafor"));
        assert!(glob_match("*-prod", "shop-prod"));
        assert!(!glob_match("*-prod", "shop-prod-2"));
        assert!(glob_match("a*b*c", "axxbyyc"));
        assert!(!glob_match("a*b*c", "axxcyyb"));
        assert!(glob_match("*", ""));
        assert!(glob_match("**", "anything"));
        assert!(glob_match("AB*", "abc"));
        assert!(!glob_match("a*a", "a"));
        assert!(glob_match("a*b*b*c", "abbc"));
        assert!(!glob_match("a*b*b*c", "abc"));
        assert!(glob_match("exact", "EXACT"));
        assert!(!glob_match("exact", "exactly"));
        // A set of globs agrees with the patterns one by one.
        let patterns: Vec<String> = ["*audit-policy*", "*Sink*", "x*y", "exact", "**"]
            .iter()
            .map(|p| p.to_string())
            .collect();
        for n in 1..=patterns.len() {
            let set = Globs::new(&patterns[..n]).unwrap();
            for text in [
                "k8s:AUDIT-POLICY.yaml",
                "an auditsink",
                "xy",
                "EXACT",
                "",
                "other",
            ] {
                let one_by_one = patterns[..n].iter().any(|p| glob_match(p, text));
                assert_eq!(
                    set.match_any(text),
                    one_by_one,
                    "{:?} {text}",
                    &patterns[..n]
                );
            }
        }
    }

    #[test]
    fn wildcard_policy_documents_grant_everything() {
        let rec: serde_json::Value = serde_json::json!({"requestParameters": {"policyDocument": "{\"Version\":\"2012-10-17\",\"Statement\":[{\"Effect\":\"Allow\",\"Action\":\"*\",\"Resource\":\"*\"}]}"}});
        assert_eq!(cloudtrail_grants(&rec), "*");
        let rec: serde_json::Value = serde_json::json!({"requestParameters": {"policyDocument": "{\"Statement\":{\"Action\":[\"s3:GetObject\"],\"Resource\":\"arn:aws:s3:::b/*\"}}"}});
        assert_eq!(cloudtrail_grants(&rec), "s3:GetObject");
    }
}
