//! Which NIST AI RMF subcategories the policies give evidence for, and how that evidence
//! came out: a policy with no findings passes, one with findings fails, and one that only
//! looks at production, in a run with no production event, has no evidence either way.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

use crate::controls::{Catalogue, Policy};

/// One subcategory of the AI RMF core and the evidence for it.
#[derive(Debug, Clone, Serialize)]
pub struct SubcategoryCoverage {
    pub id: String,
    pub text: String,
    /// Enabled policies that map to it.
    pub policies: Vec<String>,
    /// Policies with no findings.
    pub passed: u64,
    /// Policies with at least one finding.
    pub failed: u64,
    pub findings: u64,
    /// Policies with no findings that read only kinds of log none of which was read, or
    /// only production events in a run with none: neither passed nor failed.
    #[serde(skip_serializing_if = "is_zero")]
    pub no_evidence: u64,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

impl SubcategoryCoverage {
    pub fn covered(&self) -> bool {
        !self.policies.is_empty()
    }
}

/// Every one of the 72 subcategories, in catalogue order, from the number of findings
/// of each policy; `unseen` names the policies that saw nothing they look at.
pub fn coverage(
    catalogue: &Catalogue,
    policies: &[Policy],
    findings_by_policy: &BTreeMap<String, u64>,
    unseen: &BTreeSet<String>,
) -> Vec<SubcategoryCoverage> {
    catalogue
        .subcategories()
        .map(|sub| {
            let mapped: Vec<&Policy> = policies
                .iter()
                .filter(|p| p.nist.contains(&sub.id))
                .collect();
            let mut c = SubcategoryCoverage {
                id: sub.id.clone(),
                text: sub.text.clone(),
                policies: mapped.iter().map(|p| p.id.clone()).collect(),
                passed: 0,
                failed: 0,
                findings: 0,
                no_evidence: 0,
            };
            for p in mapped {
                let n = findings_by_policy.get(&p.id).copied().unwrap_or(0);
                c.findings += n;
                if n == 0 && unseen.contains(&p.id) {
                    c.no_evidence += 1;
                } else if n == 0 {
                    c.passed += 1;
                } else {
                    c.failed += 1;
                }
            }
            c
        })
        .collect()
}

/// Counts a policy added after the run (`waiver-expired`) in the subcategories it maps to.
pub fn add_policy(coverage: &mut [SubcategoryCoverage], policy: &Policy, findings: u64) {
    for c in coverage.iter_mut().filter(|c| policy.nist.contains(&c.id)) {
        c.policies.push(policy.id.clone());
        c.findings += findings;
        if findings == 0 {
            c.passed += 1;
        } else {
            c.failed += 1;
        }
    }
}
