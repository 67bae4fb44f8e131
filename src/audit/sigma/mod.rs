//! Sigma rules (https://github.com/SigmaHQ/sigma-specification) over CloudTrail and
//! Kubernetes audit records: each loaded rule is a policy of kind `sigma`, and the
//! readers hand each raw record to [`SigmaRules::check_value`] /
//! [`SigmaRules::check_line`], which run only the rules of the record's logsource.
//!
//! The supported subset (everything the shipped SigmaHQ rules use): selections as maps
//! or lists of maps; values as text (with `*`/`?` wildcards), numbers or null, single or
//! listed; the modifiers `contains`, `startswith`, `endswith`, `all`, `re` and
//! `fieldref`; conditions with `and`, `or`, `not`, parentheses, `1 of x*`, `all of x*`,
//! `1 of them`, `all of them`. Anything else (other modifiers, keyword selections,
//! aggregations, correlations, other logsources) refuses the rule, with why.

pub mod matcher;
pub mod rule;
pub mod shipped;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, Result};
use serde::Serialize;

use crate::audit::event::AuditEvent;
use crate::audit::model::{EventRef, Hit};
use crate::controls::{Catalogue, Policy, RuleSource, Severity};
pub use rule::{Logsource, Rule};

/// The policy kind of a Sigma rule.
pub const KIND: &str = "sigma";

/// The licence note carried by every finding of a shipped SigmaHQ rule.
pub const LICENCE_NOTE: &str =
    "Detection Rule License (DRL) 1.1, SigmaHQ (https://github.com/SigmaHQ/Detection-Rule-License)";

/// A rule refused, with why.
#[derive(Debug, Clone, Serialize)]
pub struct Refused {
    pub rule: String,
    pub file: String,
    pub reason: String,
}

/// What loading came to, for the summary.
#[derive(Debug, Clone, Default, Serialize)]
pub struct SigmaSummary {
    pub loaded: usize,
    pub cloudtrail: usize,
    pub kubernetes: usize,
    pub refused: Vec<Refused>,
}

#[derive(Debug, Clone)]
struct Loaded {
    rule: Rule,
    file: String,
    /// Its place in the run's compiled policies (set by [`SigmaRules::bind`]).
    policy: usize,
}

/// The rules loaded, indexed by logsource.
#[derive(Debug, Clone, Default)]
pub struct SigmaRules {
    rules: Vec<Loaded>,
    cloudtrail: Vec<usize>,
    kubernetes: Vec<usize>,
    pub summary: SigmaSummary,
}

/// ATT&CK tactic tags to NIST AI RMF subcategories (`mappings/sigma-attack-to-nist.toml`).
#[derive(Debug, Clone, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AttackMap {
    /// For a rule with no tactic in the table.
    pub default: Vec<String>,
    pub tactics: BTreeMap<String, Vec<String>>,
}

impl AttackMap {
    /// Parses the tactic table (`label` names where it came from, for errors).
    pub fn parse(text: &str, label: &str, catalogue: &Catalogue) -> Result<AttackMap> {
        let map: AttackMap =
            toml::from_str(text).map_err(|e| crate::error::bad_input(format!("{label}: {e}")))?;
        for id in map.default.iter().chain(map.tactics.values().flatten()) {
            if catalogue.get(id).is_none() {
                return Err(crate::error::bad_input(format!(
                    "{label}: {id:?} is not a NIST AI RMF 1.0 subcategory"
                )));
            }
        }
        Ok(map)
    }

    /// The subcategories of a rule's tags (each once, in the table's order of tactics).
    pub fn nist(&self, tags: &[String]) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for t in tags {
            for id in self.tactics.get(&t.to_lowercase()).into_iter().flatten() {
                if !out.contains(id) {
                    out.push(id.clone());
                }
            }
        }
        if out.is_empty() {
            out = self.default.clone();
        }
        out
    }
}

fn severity(level: &str) -> Severity {
    match level {
        "critical" => Severity::Critical,
        "high" => Severity::High,
        "medium" => Severity::Medium,
        _ => Severity::Low,
    }
}

/// The `.yml`/`.yaml` files under `dir`, sorted.
fn rule_files(dir: &Path, out: &mut Vec<PathBuf>) -> Result<()> {
    let entries =
        std::fs::read_dir(dir).with_context(|| format!("cannot read {}", dir.display()))?;
    let mut paths: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
    paths.sort();
    for p in paths {
        if p.is_dir() {
            rule_files(&p, out)?;
        } else if p.extension().is_some_and(|e| e == "yml" || e == "yaml") {
            out.push(p);
        }
    }
    Ok(())
}

impl SigmaRules {
    /// Loads the shipped rules (when `shipped`) and every rule under the folders (each id
    /// once: a later copy is refused).
    pub fn load(shipped: bool, dirs: &[PathBuf]) -> Result<SigmaRules> {
        let mut sources: Vec<(String, std::borrow::Cow<'static, str>)> = Vec::new();
        if shipped {
            sources.extend(
                shipped::SHIPPED
                    .iter()
                    .map(|(f, t)| (f.to_string(), std::borrow::Cow::Borrowed(*t))),
            );
        }
        for d in dirs {
            let mut found = Vec::new();
            rule_files(d, &mut found)?;
            for f in found {
                // Named within its folder, so the outputs do not depend on where that is.
                let file = f.strip_prefix(d).unwrap_or(&f).display().to_string();
                let text = std::fs::read_to_string(&f)
                    .with_context(|| format!("cannot read {}", f.display()))?;
                sources.push((file, std::borrow::Cow::Owned(text)));
            }
        }
        let mut set = SigmaRules::default();
        for (file, text) in sources {
            let name = Path::new(&file)
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_default();
            match rule::parse(&text) {
                Ok(r) if set.rules.iter().any(|l| l.rule.id == r.id) => {
                    set.summary.refused.push(Refused {
                        rule: format!("{} ({name})", r.title),
                        file,
                        reason: format!("id {} loaded already", r.id),
                    })
                }
                Ok(rule) => {
                    let k = set.rules.len();
                    match rule.logsource {
                        Logsource::CloudTrail => set.cloudtrail.push(k),
                        Logsource::Kubernetes => set.kubernetes.push(k),
                    }
                    set.rules.push(Loaded {
                        rule,
                        file,
                        policy: usize::MAX,
                    });
                }
                Err(reason) => set.summary.refused.push(Refused {
                    rule: name,
                    file,
                    reason,
                }),
            }
        }
        set.summary.loaded = set.rules.len();
        set.summary.cloudtrail = set.cloudtrail.len();
        set.summary.kubernetes = set.kubernetes.len();
        Ok(set)
    }

    /// The policy id of a rule.
    fn policy_id(r: &Rule) -> String {
        format!("sigma:{}", r.id)
    }

    /// Each loaded rule as a policy (kind `sigma`), for the engine, the findings and the
    /// coverage table.
    pub fn policies(&self, attack: &AttackMap) -> Vec<Policy> {
        self.rules
            .iter()
            .map(|l| {
                let r = &l.rule;
                let mut rationale = r
                    .description
                    .split_whitespace()
                    .collect::<Vec<_>>()
                    .join(" ");
                if !r.falsepositives.is_empty() {
                    rationale.push_str(&format!(
                        " False positives: {}.",
                        r.falsepositives.join("; ")
                    ));
                }
                Policy {
                    id: Self::policy_id(r),
                    title: format!("Sigma: {}", r.title),
                    severity: severity(&r.level),
                    kind: KIND.into(),
                    enabled: true,
                    checks: format!("Sigma rule {} ({})", r.id, l.file),
                    rationale,
                    params: BTreeMap::new(),
                    when: Vec::new(),
                    nist: attack.nist(&r.tags),
                    obligations: Vec::new(),
                    // A rule only ever sees its own log source's records.
                    sources: vec![match r.logsource {
                        Logsource::CloudTrail => "cloudtrail".into(),
                        Logsource::Kubernetes => "k8s".into(),
                    }],
                    source: Some(Arc::new(RuleSource {
                        rule_id: r.id.clone(),
                        author: r.author.clone(),
                        licence: LICENCE_NOTE.into(),
                        file: l.file.clone(),
                    })),
                }
            })
            .collect()
    }

    /// Gives each rule its place among the run's compiled policies (by policy id); a
    /// rule whose policy is not there is dropped from the index.
    pub fn bind(&mut self, ids: &[&str]) {
        for l in &mut self.rules {
            let id = Self::policy_id(&l.rule);
            l.policy = ids.iter().position(|i| *i == id).unwrap_or(usize::MAX);
        }
        let rules = &self.rules;
        self.cloudtrail.retain(|&k| rules[k].policy != usize::MAX);
        self.kubernetes.retain(|&k| rules[k].policy != usize::MAX);
    }

    fn index(&self, source: Logsource) -> &[usize] {
        match source {
            Logsource::CloudTrail => &self.cloudtrail,
            Logsource::Kubernetes => &self.kubernetes,
        }
    }

    /// The policy ids of the rules of a logsource.
    pub fn policy_ids(&self, source: Logsource) -> Vec<String> {
        (self.rules.iter())
            .filter(|l| l.rule.logsource == source)
            .map(|l| Self::policy_id(&l.rule))
            .collect()
    }

    /// Whether any rule reads records of this logsource.
    pub fn wants(&self, source: Logsource) -> bool {
        !self.index(source).is_empty()
    }

    /// Runs the rules of `source` on a raw record already parsed; a hit per rule that
    /// matches, on event `e` (the record's first event). A rule's matches by one actor
    /// are one finding, with their events listed: several shipped rules match routine
    /// work by design (AWS STS AssumeRole Misuse matches every call made with an assumed
    /// role, Potential Sidecar Injection every deployment patch; their `falsepositives`
    /// say so), and one finding per call would bury the rest of the report.
    pub fn check_value<'b>(
        &self,
        source: Logsource,
        rec: &serde_json::Value,
        e: &AuditEvent<'b>,
        out: &mut Vec<Hit<'b>>,
    ) {
        for &k in self.index(source) {
            let l = &self.rules[k];
            if matcher::matches(&l.rule, rec) {
                out.push(Hit {
                    policy: l.policy,
                    group: e.actor.clone(),
                    detail: format!(
                        "Sigma rule \"{}\" ({}, {}) matched what {} did (first {:?})",
                        l.rule.title, l.rule.level, l.rule.id, e.actor, e.action
                    ),
                    event: EventRef {
                        source: e.source,
                        line: e.line,
                        at: e.at,
                    },
                    actor: e.actor.clone(),
                    resource: e.resource.clone(),
                    change_id: e.change_id.clone(),
                    awaits_approval: false,
                });
            }
        }
    }

    /// As [`check_value`](Self::check_value), for a raw JSON line (parsed only when a
    /// rule of `source` is loaded).
    pub fn check_line<'b>(
        &self,
        source: Logsource,
        line: &[u8],
        e: &AuditEvent<'b>,
        out: &mut Vec<Hit<'b>>,
    ) {
        if !self.wants(source) {
            return;
        }
        if let Ok(rec) = serde_json::from_slice::<serde_json::Value>(line) {
            self.check_value(source, &rec, e, out);
        }
    }
}
