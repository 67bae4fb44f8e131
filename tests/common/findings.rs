//! What the SQL and engine tests share: the policies with every kind of `condition`
//! test switched on, and findings compared as sets.

use std::collections::BTreeSet;
use std::path::Path;

use super::{regwatch, Run};
use serde_json::Value;

/// `condition` policies testing every kind of `when` test (is, in, not_in, present,
/// matches with a case the events do not have, not_matches), with a trigger and a near
/// miss in the samples: CHG-48377 and CHG-48213 are logged AI deletes of production RDS,
/// CHG-48301 the same deletes without a prompt
/// (a near miss).
pub const CONDITIONS: &str = r#"
[[policy]]
id = "test-ai-logged-prod-rds-delete"
title = "Test: a logged AI delete of a production database"
severity = "low"
kind = "condition"
checks = "test"
rationale = "test"
when = [
  { field = "actor_type", is = "ai_agent" },
  { field = "operation", in = ["delete"] },
  { field = "resource", matches = "RDS:*" },
  { field = "environment", not_in = ["dev", "staging"] },
  { field = "prompt_ref", is = true },
]
nist = ["GOVERN 1.4"]

[[policy]]
id = "test-ai-without-change"
title = "Test: an AI change outside any change"
severity = "low"
kind = "condition"
checks = "test"
rationale = "test"
when = [
  { field = "actor_type", is = "ai_agent" },
  { field = "operation", not_in = ["read", "plan"] },
  { field = "change_id", present = false },
  { field = "resource", not_matches = "*/ARCHIVE*" },
]
nist = ["GOVERN 1.4"]
"#;

/// The shipped policies with the example condition switched on, and the test conditions.
pub fn policies_file(dir: &Path) -> std::path::PathBuf {
    let shipped = std::fs::read_to_string(super::root().join("mappings/policies.toml")).unwrap();
    let example = "kind = \"condition\"\nenabled = false\n";
    assert!(
        shipped.contains(example),
        "the example condition policy moved"
    );
    let text = shipped.replace(example, "kind = \"condition\"\n") + CONDITIONS;
    let path = dir.join("policies.toml");
    std::fs::write(&path, text).unwrap();
    path
}

/// (policy, change, resources, events) of each finding in `--format findings` JSON lines
/// (the events tell apart findings with no change or resource: bursts, gaps).
pub fn keys(
    findings: &str,
    only: &BTreeSet<String>,
) -> BTreeSet<(String, String, Vec<String>, u64)> {
    findings
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .filter(|f| only.contains(f["policy"].as_str().unwrap()))
        .map(|f| {
            let mut resources: Vec<String> = (f["resources"].as_array().unwrap().iter())
                .map(|r| r.as_str().unwrap().to_string())
                .collect();
            resources.sort();
            (
                f["policy"].as_str().unwrap().to_string(),
                f["change_id"].as_str().unwrap().to_string(),
                resources,
                f["event_count"].as_u64().unwrap(),
            )
        })
        .collect()
}

/// `regwatch audit --policies POLICIES ARGS --format findings`: a run, or findings read back.
pub fn findings(dir: &Path, policies: &str, args: &[&str]) -> Run {
    let quarantine = dir.join("q.csv");
    let mut all = vec!["audit", "--config", "regwatch.toml", "--policies", policies];
    all.extend_from_slice(args);
    all.extend_from_slice(&["--format", "findings", "--quiet", "--quarantine"]);
    all.push(quarantine.to_str().unwrap());
    let run = regwatch(&all);
    assert!(run.code == 0 || run.code == 1, "{run:?}");
    run
}

/// The policies a script says it expresses.
pub fn expressed(script: &str) -> BTreeSet<String> {
    let line = script
        .lines()
        .find(|l| l.starts_with("-- Expressed"))
        .expect("the script lists what it expresses");
    let list = line.split_once(": ").unwrap().1;
    list.split(", ").map(str::to_string).collect()
}
