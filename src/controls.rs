//! Control catalogues: the NIST AI RMF 1.0 core (functions, categories, subcategories with
//! their official text), read from `mappings/nist-ai-rmf-1.0-core.csv`, and the guardrail
//! policies of `mappings/policies.toml` that map findings onto it.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::{bail, Context, Result};
use serde::Deserialize;

use crate::error::bad_input;

/// One entry of the AI RMF core.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct RmfEntry {
    /// `GOVERN`, `GOVERN 1`, `GOVERN 1.1`.
    pub id: String,
    /// 1 function, 2 category, 3 subcategory.
    pub depth: u8,
    pub text: String,
}

/// The NIST AI RMF 1.0 core.
#[derive(Debug, Clone, Default)]
pub struct Catalogue {
    pub entries: Vec<RmfEntry>,
}

impl Catalogue {
    pub fn parse(text: &str) -> Result<Catalogue> {
        let mut rdr = csv::Reader::from_reader(text.as_bytes());
        let mut entries = Vec::new();
        for (i, rec) in rdr.deserialize::<RmfEntry>().enumerate() {
            entries.push(rec.with_context(|| format!("line {}", i + 2))?);
        }
        let count = |d: u8| entries.iter().filter(|e| e.depth == d).count();
        if (count(1), count(2), count(3)) != (4, 19, 72) {
            bail!(
                "expected 4 functions, 19 categories and 72 subcategories, found {}, {} and {}",
                count(1),
                count(2),
                count(3)
            );
        }
        Ok(Catalogue { entries })
    }

    /// `nist-ai-rmf-1.0-core.csv` from the mappings folder `dir`, else the built-in one.
    pub fn load(dir: Option<&Path>) -> Result<Catalogue> {
        let (text, origin) = crate::util::defaults::read_mapping(dir, "nist-ai-rmf-1.0-core.csv")?;
        Catalogue::parse(&text).map_err(|e| bad_input(format!("{}: {e:#}", origin.label())))
    }

    pub fn get(&self, id: &str) -> Option<&RmfEntry> {
        self.entries.iter().find(|e| e.id == id)
    }

    pub fn subcategories(&self) -> impl Iterator<Item = &RmfEntry> {
        self.entries.iter().filter(|e| e.depth == 3)
    }
}

/// The NIST AI RMF 1.0 framework in CISO Assistant (intuitem's open-source GRC tool).
pub const NIST_AI_RMF_FRAMEWORK_URN: &str = "urn:intuitem:risk:framework:nist-ai-rmf-1.0";

/// The URN CISO Assistant's NIST AI RMF 1.0 library gives a core entry, so exported
/// evidence lands on the right requirement when imported there: `GOVERN 1.1` is
/// `urn:intuitem:risk:req_node:nist-ai-rmf-1.0:govern-1.1` (function in lower case, a
/// dash, the number).
pub fn nist_urn(id: &str) -> String {
    format!(
        "urn:intuitem:risk:req_node:nist-ai-rmf-1.0:{}",
        nist_control_id(id)
    )
}

/// A core entry's id as a token (OSCAL's control ids), the last part of its URN:
/// `GOVERN 1.1` is `govern-1.1`.
pub fn nist_control_id(id: &str) -> String {
    id.trim().to_lowercase().replace(' ', "-")
}

/// How serious a finding is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Low,
    Medium,
    High,
    Critical,
}

/// A guardrail policy, as `mappings/policies.toml` states it.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Policy {
    pub id: String,
    pub title: String,
    pub severity: Severity,
    /// Which built-in check runs it, or `condition` for a field-condition policy.
    pub kind: String,
    #[serde(default = "yes")]
    pub enabled: bool,
    pub checks: String,
    pub rationale: String,
    #[serde(default)]
    pub params: BTreeMap<String, toml::Value>,
    #[serde(default)]
    pub when: Vec<toml::Value>,
    /// NIST AI RMF subcategories the policy gives evidence for.
    pub nist: Vec<String>,
    #[serde(default)]
    pub obligations: Vec<String>,
    /// The audit sources whose events the policy can match (`jsonl`, `csv`, `parquet`,
    /// `cloudtrail`, `k8s`, `ocsf`; `cloudtrail` includes `ocsf`); empty means all.
    /// Events from other sources skip it, so a CloudTrail-only guardrail costs native
    /// logs nothing.
    #[serde(default)]
    pub sources: Vec<String>,
    /// Where a rule brought in from elsewhere came from (a Sigma rule's id, author and
    /// licence); not read from `policies.toml`.
    #[serde(skip)]
    pub source: Option<std::sync::Arc<RuleSource>>,
}

/// Where a policy that is someone else's rule came from, shown with its findings.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct RuleSource {
    pub rule_id: String,
    pub author: String,
    pub licence: String,
    pub file: String,
}

fn yes() -> bool {
    true
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PolicyFile {
    policy: Vec<Policy>,
}

/// The check kinds the audit engine knows.
pub const POLICY_KINDS: &[&str] = &[
    "destructive-without-approval",
    "blast-radius",
    "time-fence",
    "change-freeze",
    "self-approval",
    "ai-approving-ai",
    "no-plan",
    "rate-limit",
    "cross-environment",
    "wildcard-permission",
    "missing-provenance",
    "time-gap",
    "logging-tamper",
    "condition",
];

/// Parses policies and checks them against the catalogue: unique ids, known kinds, and
/// every NIST reference a real subcategory.
pub fn parse_policies(text: &str, catalogue: &Catalogue) -> Result<Vec<Policy>> {
    let file: PolicyFile = toml::from_str(text)?;
    for (i, p) in file.policy.iter().enumerate() {
        if file.policy[..i].iter().any(|q| q.id == p.id) {
            bail!("policy {:?} is defined twice", p.id);
        }
        if !POLICY_KINDS.contains(&p.kind.as_str()) {
            bail!(
                "policy {:?}: unknown kind {:?} (known: {})",
                p.id,
                p.kind,
                POLICY_KINDS.join(", ")
            );
        }
        if p.kind == "condition" && p.when.is_empty() {
            bail!("policy {:?}: a condition policy needs `when`", p.id);
        }
        for n in &p.nist {
            match catalogue.get(n) {
                Some(e) if e.depth == 3 => {}
                Some(_) => bail!("policy {:?}: {n:?} is not a subcategory", p.id),
                None => bail!("policy {:?}: {n:?} is not in the NIST AI RMF core", p.id),
            }
        }
    }
    Ok(file.policy)
}

/// The policies of `file` when given, else `policies.toml` from the mappings folder `dir`
/// (else the built-in one); with where they came from.
pub fn load_policies(
    file: Option<&Path>,
    dir: Option<&Path>,
    catalogue: &Catalogue,
) -> Result<(Vec<Policy>, crate::util::defaults::Origin)> {
    let (text, origin) = match file {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .map_err(|e| bad_input(format!("cannot read {}: {e}", path.display())))?;
            (
                text.into(),
                crate::util::defaults::Origin::File(path.to_path_buf()),
            )
        }
        None => crate::util::defaults::read_mapping(dir, "policies.toml")?,
    };
    let policies = parse_policies(&text, catalogue)
        .map_err(|e| bad_input(format!("{}: {e:#}", origin.label())))?;
    Ok((policies, origin))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn catalogue() -> Catalogue {
        Catalogue::parse(include_str!("../mappings/nist-ai-rmf-1.0-core.csv")).unwrap()
    }

    #[test]
    fn the_whole_core_is_there() {
        let c = catalogue();
        assert_eq!(c.subcategories().count(), 72);
        assert_eq!(
            c.get("MANAGE 2.4").unwrap().text,
            "Mechanisms are in place and applied, and responsibilities are assigned and understood, to supersede, disengage, or deactivate AI systems that demonstrate performance or outcomes inconsistent with intended use."
        );
        assert!(Catalogue::parse("id,depth,text\nGOVERN,1,x\n").is_err());
    }

    #[test]
    fn shipped_policies_map_to_real_subcategories() {
        let c = catalogue();
        let p = parse_policies(include_str!("../mappings/policies.toml"), &c).unwrap();
        assert!(p.len() >= 13);
        for id in [
            "destructive-prod-without-approval",
            "blast-radius",
            "out-of-hours-destructive",
            "change-freeze",
            "self-approval",
            "ai-approving-ai",
            "no-dry-run-before-apply",
            "ai-change-rate",
            "credentials-across-environments",
            "wildcard-permission",
            "ai-action-not-logged",
            "audit-trail-gap",
            "logging-disabled",
        ] {
            let policy = p
                .iter()
                .find(|x| x.id == id)
                .unwrap_or_else(|| panic!("{id}"));
            assert!(!policy.nist.is_empty(), "{id} maps to no subcategory");
        }
    }

    #[test]
    fn bad_references_are_rejected() {
        let c = catalogue();
        let bad = r#"[[policy]]
id = "x"
title = "t"
severity = "low"
kind = "self-approval"
checks = "c"
rationale = "r"
nist = ["GOVERN 9.9"]
"#;
        let e = parse_policies(bad, &c).unwrap_err().to_string();
        assert!(e.contains("GOVERN 9.9"), "{e}");
        let bad = bad
            .replace("GOVERN 9.9", "GOVERN 1")
            .replace("self-approval", "magic");
        assert!(parse_policies(&bad, &c).is_err());
    }

    #[test]
    fn urns_are_ciso_assistants() {
        assert_eq!(
            nist_urn("GOVERN 1.1"),
            "urn:intuitem:risk:req_node:nist-ai-rmf-1.0:govern-1.1"
        );
        assert_eq!(
            nist_urn("MEASURE 2.7"),
            "urn:intuitem:risk:req_node:nist-ai-rmf-1.0:measure-2.7"
        );
        // Every subcategory of the core has one of the shape the library uses.
        for sub in catalogue().subcategories() {
            let urn = nist_urn(&sub.id);
            let tail = urn.rsplit(':').next().unwrap();
            let (function, number) = tail.split_once('-').unwrap();
            assert!(
                ["govern", "map", "measure", "manage"].contains(&function),
                "{urn}"
            );
            assert!(number.split('.').all(|n| n.parse::<u8>().is_ok()), "{urn}");
        }
    }
}
