//! `regwatch audit`: what people, services and AI agents did, checked against the
//! guardrail policies of `mappings/policies.toml`, each finding mapped to the NIST AI RMF
//! subcategories and the legal obligations it bears on.
//!
//! `sources` reads files into events (and a quarantine list), `policies` checks them as
//! they stream past (both match text with `matching`), `coverage` and `metrics`
//! summarise; `render` is the edge.

pub mod change_map;
pub mod coverage;
pub mod engine;
pub mod event;
pub mod findings;
pub mod findings_io;
pub mod history;
pub mod matching;
pub mod metrics;
pub mod model;
pub mod ocsf;
pub mod oscal;
pub mod policies;
pub mod render;
pub mod scan;
pub mod sigma;
pub mod sources;
pub mod spill;
pub mod sql;
pub mod table;
pub mod waivers;

use std::collections::BTreeMap;
use std::path::PathBuf;

use anyhow::Result;
use chrono_tz::Tz;
use serde::Serialize;

use crate::clock::Calendar;
use crate::config::EnvironmentMap;
use crate::controls::{Catalogue, Policy, Severity};
use crate::incidents::ingest::Rejection;
use crate::incidents::record::Incident;
use coverage::{coverage, SubcategoryCoverage};
use event::AuditEvent;
use findings::Findings;
use metrics::ChangeMetrics;
use model::{Finding, Hit};
use policies::compile;
use policies::engine::{Engine, Rules};
use sigma::{SigmaRules, SigmaSummary};
use sources::{
    discover, read_source, EventSink, ReadContext, SkippedFile, SourceFormat, SourceMappings,
    SourceSummary,
};

/// The longest record read by default (`--max-record-bytes`): a longer one is rejected.
pub const MAX_RECORD_BYTES: usize = 16 << 20;

/// Change histories held in memory by default (about half a megabyte of them); past it,
/// the half idle longest move to temporary files. Histories go idle as their changes end,
/// so the ones in use stay here, and they fit in a core's cache. At 1 << 16 (about 36 MB)
/// nothing spilled at 1 M generated events, but every history was a cache miss and its
/// memory was first touched at a cost; 1 << 10, with findings at 1 << 11, took 0.90 of
/// the wall time at 10 M events and peaked at 190 rather than 290 MB, and cost 1.05 of
/// it at 1 M (paired runs; see the README's performance notes).
pub const CHANGES_IN_MEMORY: usize = 1 << 10;

/// Findings held in memory by default; the rest are gathered and sorted in temporary
/// files. The first ones found stay here to the end, so a large budget only holds memory
/// that later findings cannot use (see [`CHANGES_IN_MEMORY`] for the figures).
pub const FINDINGS_IN_MEMORY: usize = 1 << 11;

/// What an audit run needs.
pub struct AuditInput<'a> {
    pub inputs: &'a [PathBuf],
    pub format: Option<SourceFormat>,
    pub strict: bool,
    pub input_tz: Tz,
    pub display_tz: Tz,
    pub calendar: &'a Calendar,
    pub policies: &'a [Policy],
    pub catalogue: &'a Catalogue,
    pub mappings: &'a SourceMappings,
    pub environments: &'a EnvironmentMap,
    /// Incidents whose `change_id` links them to the changes (for the change metrics).
    pub incidents: &'a [Incident],
    /// Change histories and findings held in memory; past these, they go to temporary
    /// files.
    pub changes_in_memory: usize,
    pub findings_in_memory: usize,
    /// Gather the people seen, which [`AuditReport::redact`] needs (`--redact`).
    pub people: bool,
    /// The longest record read; a longer one is rejected.
    pub max_record_bytes: usize,
    /// Sigma rules (their policies are among `policies`).
    pub sigma: &'a SigmaRules,
}

/// Everything an audit found, ready for any output format.
#[derive(Debug, Serialize)]
pub struct AuditReport {
    pub sources: Vec<SourceSummary>,
    pub totals: Totals,
    /// In the report's order: read them with [`Findings::iter`].
    #[serde(skip)]
    pub findings: Findings,
    pub findings_by_policy: BTreeMap<String, u64>,
    pub findings_by_severity: BTreeMap<String, u64>,
    #[serde(skip)]
    worst: Option<Severity>,
    /// The most severe finding no waiver accepts: what `--fail-on` reads.
    #[serde(skip)]
    worst_unwaived: Option<Severity>,
    /// The waivers file of the run, each waiver with the findings it waived.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub waivers: Option<waivers::Waivers>,
    pub coverage: Vec<SubcategoryCoverage>,
    pub metrics: Vec<ChangeMetrics>,
    /// The files, in the order `source` numbers in event references point into.
    pub files: Vec<String>,
    /// For findings read back (`--findings`), whether each of `files` places its events
    /// by record (else by line); empty for a run, where each file's format says.
    #[serde(skip)]
    pub evidence_by_record: Vec<bool>,
    /// Files found under the inputs and not read, with why.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub skipped_files: Vec<SkippedFile>,
    /// CloudTrail accounts not in `[audit] accounts`: their events' environment is
    /// `unknown`, so production policies cannot see them.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub unmapped_accounts: Vec<String>,
    /// Sigma rules loaded and refused.
    pub sigma: SigmaSummary,
    #[serde(skip)]
    pub rejected: Vec<Rejection>,
    #[serde(skip)]
    pub policies: Vec<Policy>,
    /// Sigma rules that saw no record (no record of their logsource was read): left out
    /// of the coverage, the counts by policy and the SARIF rules.
    #[serde(skip)]
    pub idle_rules: std::collections::BTreeSet<String>,
    /// Policies that read only kinds of log none of which was read, or only production
    /// events in a run with none: they have no evidence either way (the coverage counts
    /// them as `no_evidence`).
    #[serde(skip)]
    pub no_evidence: std::collections::BTreeSet<String>,
    /// Identities of people seen (actors and approvers of type human), for `--redact`:
    /// gathered only when [`AuditInput::people`] asks.
    #[serde(skip)]
    pub people: Vec<String>,
    /// How long reading and checking, the history checks and the metrics took.
    #[serde(skip)]
    pub timings: Vec<(&'static str, std::time::Duration)>,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct Totals {
    pub files: u64,
    pub read: u64,
    pub accepted: u64,
    pub rejected: u64,
    pub skipped: u64,
    pub first_event: Option<String>,
    pub last_event: Option<String>,
    pub ai_change_events: u64,
    pub human_change_events: u64,
    /// Past `--changes-in-memory` (the results are the same): events written to
    /// temporary files after their change's history, and change histories checked from
    /// there.
    pub spilled_events: u64,
    pub spilled_changes: u64,
    /// Findings gathered and sorted in temporary files past `--findings-in-memory`.
    pub spilled_findings: u64,
    /// Files rejected whole (or the rest of them), and files found but not read.
    #[serde(skip_serializing_if = "is_zero")]
    pub files_rejected: u64,
    #[serde(skip_serializing_if = "is_zero")]
    pub files_skipped: u64,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

impl AuditReport {
    /// The most severe finding, if any.
    pub fn worst(&self) -> Option<Severity> {
        self.worst
    }

    /// The most severe finding that no waiver accepts, if any (for gates).
    pub fn worst_unwaived(&self) -> Option<Severity> {
        self.worst_unwaived
    }

    /// The waiver that accepts a finding, if one does.
    pub fn waiver_of(&self, f: &Finding) -> Option<&waivers::Waiver> {
        self.waivers.as_ref()?.get(f.waiver)
    }

    /// Marks every finding a waiver accepts (as findings are read: some may be on
    /// disk), adds a `waiver-expired` finding for each expired waiver, and counts what
    /// each waiver waived. Before [`AuditReport::redact`]: waivers name people as the
    /// logs do.
    pub fn apply_waivers(&mut self, mut set: waivers::Waivers) -> Result<()> {
        let expired: Vec<&waivers::Waiver> = set.waivers.iter().filter(|w| w.expired).collect();
        if !expired.is_empty() {
            let policy = waivers::Waivers::expired_policy();
            let index = self.policies.len();
            for w in &expired {
                self.findings.insert(set.expired_finding(w, &policy, index));
            }
            let n = expired.len() as u64;
            self.findings_by_policy.insert(policy.id.clone(), n);
            *self
                .findings_by_severity
                .entry(format!("{:?}", policy.severity).to_lowercase())
                .or_default() += n;
            self.worst = self.worst.max(Some(policy.severity));
            coverage::add_policy(&mut self.coverage, &policy, n);
            self.policies.push(policy);
        }
        let marks = std::sync::Arc::new(set.clone());
        self.findings.scrub(Box::new(move |f: &mut Finding| {
            f.waiver = marks.find(f);
        }));
        let mut worst = None;
        for f in self.findings.iter()? {
            let f = f?;
            match set
                .waivers
                .get_mut(f.waiver.map_or(usize::MAX, |i| i as usize))
            {
                Some(w) => {
                    w.findings += 1;
                    set.waived += 1;
                }
                None => worst = worst.max(Some(f.severity)),
            }
        }
        self.worst_unwaived = worst;
        self.waivers = Some(set);
        Ok(())
    }

    /// Whether a policy is listed by policy (table, monthly report): every guardrail
    /// policy, and the Sigma rules that found something.
    pub fn listed(&self, p: &Policy) -> bool {
        p.source.is_none() || self.findings_by_policy.get(&p.id).is_some_and(|&n| n > 0)
    }

    /// The inputs that could not be checked: files rejected whole (or the rest of them),
    /// and files of which every record was rejected. A gate must not pass them.
    pub fn unread_inputs(&self) -> Vec<&SourceSummary> {
        self.sources
            .iter()
            .filter(|s| {
                s.file_rejected.is_some() || (s.rejected > 0 && s.accepted == 0 && s.skipped == 0)
            })
            .collect()
    }
}

struct Feed<'e, 'p> {
    engine: &'e mut Engine<'p>,
    progress: &'e (dyn Fn(u64) + Sync),
    done_before: u64,
}

impl sources::Checker for Rules<'_> {
    fn check<'b>(&self, events: &[AuditEvent<'b>]) -> Vec<Hit<'b>> {
        Rules::check(self, events)
    }
}

impl EventSink for Feed<'_, '_> {
    fn events(&mut self, events: &[AuditEvent<'_>], hits: Vec<Hit<'_>>) {
        self.engine.observe(events, hits);
    }
    fn progress(&mut self, bytes: u64) {
        (self.progress)(self.done_before + bytes);
    }
}

/// Total bytes of the files found (for a progress bar).
/// (Each real file once; nothing is opened, so a stream is not read here.)
pub fn input_bytes(inputs: &[PathBuf]) -> Result<u64> {
    Ok(sources::regular_files(inputs)
        .iter()
        .filter_map(|f| std::fs::metadata(f).ok())
        .map(|m| m.len())
        .sum())
}

/// Reads every source, runs every enabled policy, and summarises.
pub fn run(input: &AuditInput, progress: &(dyn Fn(u64) + Sync)) -> Result<AuditReport> {
    let started = std::time::Instant::now();
    // A killed run could not remove its temporary files: they go now.
    spill::remove_stale();
    let found = discover(input.inputs, input.format)?;
    let (files, mut skipped_files) = (found.files, found.skipped);
    let compiled = compile(input.policies, input.display_tz)?;
    let mut engine = Engine::new(
        &compiled,
        input.calendar,
        (input.changes_in_memory, input.findings_in_memory),
    );
    if input.people {
        engine.gather_people();
    }
    let mut sigma = input.sigma.clone();
    sigma.bind(
        &compiled
            .iter()
            .map(|c| c.policy.id.as_str())
            .collect::<Vec<_>>(),
    );
    let cx = ReadContext {
        input_tz: input.input_tz,
        strict: input.strict,
        mappings: input.mappings,
        environments: input.environments,
        max_record_bytes: input.max_record_bytes,
        sigma: &sigma,
    };
    let mut sources = Vec::new();
    let mut rejected = Vec::new();
    let mut done = 0u64;
    for (i, f) in files.iter().enumerate() {
        let size = std::fs::metadata(&f.path).map(|m| m.len()).unwrap_or(0);
        engine.set_format(f.format);
        let rules = engine.rules();
        let mut feed = Feed {
            engine: &mut engine,
            progress,
            done_before: done,
        };
        let (summary, rej) = read_source(f, i as u32, &cx, &rules, &mut feed)?;
        done += size;
        progress(done);
        if f.format == SourceFormat::Cloudtrail && summary.read == 0 && f.refused.is_none() {
            skipped_files.push(SkippedFile {
                file: summary.file.clone(),
                reason: "a CloudTrail file with no records (\"Records\": [])".into(),
            });
        }
        sources.push(summary);
        rejected.extend(rej);
    }
    let mut totals = Totals {
        files: files.len() as u64,
        ai_change_events: engine.ai_change_events,
        human_change_events: engine.human_change_events,
        first_event: engine
            .first_at
            .map(|t| event::millis_to_time(t).to_rfc3339()),
        last_event: engine
            .last_at
            .map(|t| event::millis_to_time(t).to_rfc3339()),
        ..Totals::default()
    };
    totals.files_skipped = skipped_files.len() as u64;
    for s in &sources {
        totals.files_rejected += s.file_rejected.is_some() as u64;
        totals.read += s.read;
        totals.accepted += s.accepted;
        totals.rejected += s.rejected;
        totals.skipped += s.skipped;
    }
    let read_done = started.elapsed();
    if std::env::var_os("REGWATCH_TIMING").is_some() {
        eprintln!("held: {}", engine.sizes());
    }
    let mut people: Vec<String> = engine
        .people
        .take()
        .into_iter()
        .flatten()
        .map(String::from)
        .collect();
    people.sort();
    let saw_production = engine.saw_production;
    let finished = engine.finish(input.incidents, input.display_tz)?;
    let (findings, metrics) = (finished.findings, finished.metrics);
    totals.spilled_events = finished.spilled_events;
    totals.spilled_changes = finished.spilled_changes as u64;
    totals.spilled_findings = findings.on_disk() as u64;
    let timings = vec![
        ("read and check", read_done),
        ("history checks and metrics", started.elapsed() - read_done),
    ];
    // Sigma rules of a logsource no record of which was read checked nothing.
    let read_any = |format: SourceFormat| {
        (sources.iter())
            .any(|s| s.format.map(SourceFormat::vocabulary) == Some(format) && s.accepted > 0)
    };
    let mut idle_rules = std::collections::BTreeSet::new();
    for (format, source) in [
        (SourceFormat::Cloudtrail, sigma::Logsource::CloudTrail),
        (SourceFormat::K8s, sigma::Logsource::Kubernetes),
    ] {
        if !read_any(format) {
            idle_rules.extend(sigma.policy_ids(source));
        }
    }
    let mut findings_by_policy: BTreeMap<String, u64> = BTreeMap::new();
    let mut findings_by_severity = BTreeMap::new();
    let mut worst = None;
    for (p, &n) in compiled.iter().zip(findings.per_policy()) {
        let p = &p.policy;
        if idle_rules.contains(&p.id) {
            continue;
        }
        *findings_by_policy.entry(p.id.clone()).or_default() += n;
        if n > 0 {
            *findings_by_severity
                .entry(format!("{:?}", p.severity).to_lowercase())
                .or_default() += n;
            worst = worst.max(Some(p.severity));
        }
    }
    let enabled: Vec<Policy> = compiled.iter().map(|c| c.policy.clone()).collect();
    // No evidence either way: a policy that only looks at production in a run with no
    // production event, and one that reads only sources no record of which was read (a
    // CloudTrail guardrail in a run of native logs).
    let read_by = |c: &policies::CompiledPolicy| {
        (sources.iter()).any(|s| s.accepted > 0 && s.format.is_some() && c.reads(s.format))
    };
    let unseen: std::collections::BTreeSet<String> = (compiled.iter())
        .filter(|c| (!saw_production && c.production_only()) || !read_by(c))
        .map(|c| c.policy.id.clone())
        .collect();
    let unmapped_accounts: Vec<String> = (sources.iter())
        .flat_map(|s| s.unmapped_accounts.iter().cloned())
        .collect::<std::collections::BTreeSet<String>>()
        .into_iter()
        .collect();
    Ok(AuditReport {
        sources,
        totals,
        coverage: coverage(
            input.catalogue,
            &(enabled.iter())
                .filter(|p| !idle_rules.contains(&p.id))
                .cloned()
                .collect::<Vec<_>>(),
            &findings_by_policy,
            &unseen,
        ),
        no_evidence: unseen,
        unmapped_accounts,
        findings,
        findings_by_policy,
        findings_by_severity,
        worst,
        worst_unwaived: worst,
        waivers: None,
        metrics,
        files: files.iter().map(|f| f.name()).collect(),
        evidence_by_record: Vec::new(),
        skipped_files,
        sigma: sigma.summary.clone(),
        rejected,
        policies: enabled,
        idle_rules,
        people,
        timings,
    })
}

impl AuditReport {
    /// `--redact`: every person (an actor or approver of type human) becomes a stable
    /// pseudonym wherever a finding or a quarantined record names them, and every e-mail
    /// address becomes one too. AI agents and services keep their names: they are not
    /// people, and what they did is the point of the audit.
    pub fn redact(&mut self, r: &crate::incidents::redact::Redactor) {
        // Longest first, so "j.okafor@x" is replaced before "j.okafor".
        let mut people: Vec<(String, String)> = self
            .people
            .iter()
            .map(|p| (p.clone(), r.person(p)))
            .collect();
        people.sort_by_key(|(p, _)| std::cmp::Reverse(p.len()));
        let pseudonyms: Vec<String> = people.iter().map(|(_, p)| p.clone()).collect();
        // Waivers name approvers, and may name actors, as the logs do.
        for w in self.waivers.iter_mut().flat_map(|s| s.waivers.iter_mut()) {
            w.approver = r.person(&w.approver);
            if let Some(a) = &mut w.actor {
                if let Some((_, pseudonym)) = people.iter().find(|(name, _)| name == a) {
                    *a = pseudonym.clone();
                }
            }
        }
        let r = r.clone();
        let scrub = std::sync::Arc::new(move |text: &str| -> String {
            let mut t = text.to_string();
            for (name, pseudonym) in &people {
                if t.contains(name.as_str()) {
                    t = t.replace(name.as_str(), pseudonym);
                }
            }
            r.text(&t)
        });
        for rej in &mut self.rejected {
            rej.raw = scrub(&rej.raw);
        }
        self.findings.scrub(Box::new(move |f: &mut Finding| {
            f.detail = scrub(&f.detail);
            for a in f.actors.iter_mut().chain(f.resources.iter_mut()) {
                *a = scrub(a);
            }
        }));
        self.people = pseudonyms;
    }
}

/// The mappings an audit reads: policies, the NIST core, source vocabulary, calendar.
pub struct AuditSetup {
    pub policies: Vec<Policy>,
    pub catalogue: Catalogue,
    pub mappings: SourceMappings,
    pub calendar: Calendar,
    pub sigma: SigmaRules,
}

/// Which Sigma rules a run loads.
#[derive(Debug, Clone, Default)]
pub struct SigmaChoice {
    /// The rules shipped in the mappings folder's `sigma/` (when it has one).
    pub shipped: bool,
    /// More folders of rules (`--sigma DIR`).
    pub folders: Vec<PathBuf>,
}

impl AuditSetup {
    /// Reads `policies.toml` (or `policies`), `nist-ai-rmf-1.0-core.csv`,
    /// `audit-sources.toml` and the bank holidays from the mappings folder.
    pub fn load(
        config: &crate::config::Config,
        mappings: Option<&std::path::Path>,
        policies: Option<&std::path::Path>,
        sigma_choice: &SigmaChoice,
    ) -> Result<AuditSetup> {
        let catalogue = Catalogue::load(mappings)?;
        let (mut policies, origin) =
            crate::controls::load_policies(policies, mappings, &catalogue)?;
        // The shipped rules are built in; a mappings folder with its own `sigma/` folder
        // replaces them.
        let own = mappings
            .map(|m| m.join("sigma"))
            .filter(|d| sigma_choice.shipped && d.is_dir());
        let mut folders: Vec<std::path::PathBuf> = own.iter().cloned().collect();
        folders.extend(sigma_choice.folders.iter().cloned());
        let sigma = SigmaRules::load(sigma_choice.shipped && own.is_none(), &folders)?;
        if sigma.summary.loaded > 0 {
            let (text, from) =
                crate::util::defaults::read_mapping(mappings, "sigma-attack-to-nist.toml")?;
            let attack = sigma::AttackMap::parse(&text, &from.label(), &catalogue)?;
            policies.extend(sigma.policies(&attack));
        }
        // Check the parameters now, so a bad one is reported as bad input.
        compile(&policies, config.display_tz()?)
            .map_err(|e| crate::error::bad_input(format!("{}: {e:#}", origin.label())))?;
        Ok(AuditSetup {
            policies,
            catalogue,
            mappings: SourceMappings::load(mappings)?,
            calendar: config.calendar(mappings)?,
            sigma,
        })
    }
}

/// What a command asks of an audit, resolved from its arguments and the config.
pub struct AuditRequest<'a> {
    /// The mappings folder (policies, NIST core, source vocabulary, holidays); none: built in.
    pub mappings: Option<&'a std::path::Path>,
    /// A policies file other than the mappings folder's.
    pub policies: Option<&'a std::path::Path>,
    pub inputs: &'a [PathBuf],
    pub format: Option<SourceFormat>,
    pub strict: bool,
    pub changes_in_memory: usize,
    pub findings_in_memory: usize,
    /// Replace people with stable pseudonyms in everything the report holds.
    pub redact: bool,
    /// The longest record read; a longer one is rejected.
    pub max_record_bytes: usize,
    pub sigma: SigmaChoice,
    /// A waivers file, and the day that decides which of its waivers have expired.
    pub waivers: Option<&'a std::path::Path>,
    pub today: chrono::NaiveDate,
}

/// Reads the mappings, then the audit logs, runs every enabled policy and, when asked,
/// pseudonymises the people in the result.
pub fn run_request(
    config: &crate::config::Config,
    request: &AuditRequest,
    incidents: &[Incident],
    progress: &(dyn Fn(u64) + Sync),
) -> Result<AuditReport> {
    let setup = AuditSetup::load(config, request.mappings, request.policies, &request.sigma)?;
    let input = AuditInput {
        inputs: request.inputs,
        format: request.format,
        strict: request.strict,
        input_tz: config.input_tz()?,
        display_tz: config.display_tz()?,
        calendar: &setup.calendar,
        policies: &setup.policies,
        catalogue: &setup.catalogue,
        mappings: &setup.mappings,
        environments: &config.audit,
        incidents,
        changes_in_memory: request.changes_in_memory,
        findings_in_memory: request.findings_in_memory,
        people: request.redact,
        max_record_bytes: request.max_record_bytes,
        sigma: &setup.sigma,
    };
    // Read before the logs: a bad waivers file fails the run at once.
    let waivers = (request.waivers)
        .map(|p| waivers::Waivers::load(p, request.today))
        .transpose()?;
    let report = run(&input, progress)?;
    finish_request(config, request, report, waivers)
}

/// What every report gets once its findings are made: the waivers, and `--redact`.
pub(crate) fn finish_request(
    config: &crate::config::Config,
    request: &AuditRequest,
    mut report: AuditReport,
    waivers: Option<waivers::Waivers>,
) -> Result<AuditReport> {
    if let Some(set) = waivers {
        report.apply_waivers(set)?;
    }
    if request.redact {
        report.redact(&crate::incidents::redact::Redactor::new(&config.redaction));
    }
    Ok(report)
}
