//! Sigma conformance: for every rule shipped in `mappings/sigma/`, a record made to match
//! it and records made not to, generated from the rule's own detection (the few values a
//! generator cannot make, a regular expression's, are written by hand), written as real
//! CloudTrail and Kubernetes audit files and run through the binary. Also: a rule outside
//! the supported subset is refused by name, and the summary counts the rules loaded.

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use common::{regwatch, root};
use regwatch::audit::sigma::rule::{self, Cond, GlobPiece, Logsource, Pattern, Rule};
use serde_json::{json, Map, Value};

/// The shipped rules, with their files.
fn shipped() -> Vec<(PathBuf, Rule)> {
    let mut out = Vec::new();
    for sub in ["cloudtrail", "kubernetes"] {
        let dir = root().join("mappings/sigma").join(sub);
        let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        files.sort();
        for f in files {
            let text = std::fs::read_to_string(&f).unwrap();
            let r = rule::parse(&text).unwrap_or_else(|e| panic!("{}: {e}", f.display()));
            out.push((f, r));
        }
    }
    out
}

/// A value the pattern matches: the glob's text with `*` as nothing and `?` as `x`.
fn example(p: &Pattern) -> Option<String> {
    match p {
        Pattern::Null | Pattern::FieldRef(_) => None,
        Pattern::Glob(pieces) if pieces.as_slice() == [GlobPiece::AnyString] => {
            Some("present".into())
        }
        Pattern::Glob(pieces) => Some(
            pieces
                .iter()
                .map(|g| match g {
                    GlobPiece::Text(t) => t.as_str(),
                    GlobPiece::AnyString => "",
                    GlobPiece::AnyChar => "x",
                })
                .collect(),
        ),
        // The regular expressions of the shipped rules, by hand.
        Pattern::Re(re) => Some(match re.as_str() {
            ".+:assumed-role/aws:.+" => {
                "arn:aws:sts::111111111111:assumed-role/aws:ec2-instance/i-0abc".into()
            }
            other => panic!("no example for the regular expression {other:?}"),
        }),
    }
}

/// Sets `field` (a dotted path) in `rec`, where a real record has it.
fn set(rec: &mut Value, field: &str, value: Value) {
    // Names the Kubernetes rules use bare, at their place in a real audit event.
    let (path, value) = match field {
        "apiGroup" => ("objectRef.apiGroup".to_string(), value),
        "hostPath" => (
            "requestObject.spec".to_string(),
            json!({"volumes": [{"name": "host", "hostPath": {"path": "/", "type": value}}]}),
        ),
        "capabilities" => (
            "requestObject.spec".to_string(),
            json!({"containers": [{"name": "c", "securityContext": {"capabilities": {"add": [value]}}}]}),
        ),
        f => (f.to_string(), value),
    };
    let mut at = rec;
    let keys: Vec<&str> = path.split('.').collect();
    for k in &keys[..keys.len() - 1] {
        if !at.get(*k).is_some_and(Value::is_object) {
            at[*k] = Value::Object(Map::new());
        }
        at = &mut at[*k];
    }
    at[keys[keys.len() - 1]] = value;
}

/// The fields that make selection `i` match (its first alternative).
fn fill(r: &Rule, i: usize, rec: &mut Value) {
    for t in &r.selections[i].1 .0[0] {
        let examples: Vec<String> = t.patterns.iter().filter_map(example).collect();
        if examples.is_empty() {
            continue;
        }
        let text = if t.all {
            examples.join(" ")
        } else {
            examples[0].clone()
        };
        // Numbers stay numbers (responseStatus.code).
        let value = text
            .parse::<u64>()
            .map(Value::from)
            .unwrap_or(Value::String(text));
        set(rec, &t.field, value);
    }
}

/// The selections a record must match for the condition to hold (the first of each
/// `1 of`, the first branch of each `or`), and those under a `not`.
fn plan(c: &Cond, negated: bool, want: &mut Vec<usize>, avoid: &mut Vec<usize>) {
    match c {
        Cond::Selection(i) => {
            if negated {
                avoid.push(*i)
            } else {
                want.push(*i)
            }
        }
        Cond::Not(c) => plan(c, !negated, want, avoid),
        Cond::And(cs) => cs.iter().for_each(|c| plan(c, negated, want, avoid)),
        Cond::Or(cs) => plan(&cs[0], negated, want, avoid),
        Cond::AnyOf(is) if negated => avoid.extend(is),
        Cond::AnyOf(is) => want.push(is[0]),
        Cond::AllOf(is) if negated => avoid.push(is[0]),
        Cond::AllOf(is) => want.extend(is),
    }
}

fn cloudtrail_base(n: usize) -> Value {
    json!({
        "eventVersion": "1.08",
        "userIdentity": {
            "type": "IAMUser",
            "principalId": "AIDAEXAMPLE",
            "arn": "arn:aws:iam::111111111111:user/alice",
            "accountId": "111111111111",
            "userName": "alice"
        },
        "eventTime": format!("2026-11-03T10:{:02}:{:02}Z", n / 60 % 60, n % 60),
        "eventSource": "ec2.amazonaws.com",
        "eventName": "DescribeInstances",
        "awsRegion": "eu-west-2",
        "sourceIPAddress": "198.51.100.7",
        "userAgent": "aws-cli/2.15.0",
        "requestParameters": {},
        "responseElements": null,
        "eventID": format!("00000000-0000-0000-0000-{n:012}"),
        "eventType": "AwsApiCall",
        "recipientAccountId": "111111111111"
    })
}

fn k8s_base(n: usize) -> Value {
    json!({
        "kind": "Event",
        "apiVersion": "audit.k8s.io/v1",
        "level": "RequestResponse",
        "auditID": format!("00000000-0000-0000-0000-{n:012}"),
        "stage": "ResponseComplete",
        "requestURI": "/api/v1/namespaces/default/configmaps/settings",
        "verb": "get",
        "user": {"username": "alice@example.com", "groups": ["system:authenticated"]},
        "sourceIPs": ["10.0.0.7"],
        "userAgent": "kubectl/v1.29.0",
        "objectRef": {"resource": "configmaps", "namespace": "default", "name": "settings", "apiVersion": "v1"},
        "responseStatus": {"metadata": {}, "code": 200},
        "requestReceivedTimestamp": format!("2026-11-03T10:{:02}:{:02}.000000Z", n / 60 % 60, n % 60),
        "stageTimestamp": format!("2026-11-03T10:{:02}:{:02}.100000Z", n / 60 % 60, n % 60)
    })
}

/// (rule id, `ct:RECORD` or `k8s:LINE`) pairs.
type Places = Vec<(String, String)>;

/// Cases of one kind (matching or not), per source, in file order: (rule id, record).
#[derive(Default)]
struct Cases {
    cloudtrail: Vec<(String, Value)>,
    k8s: Vec<(String, Value)>,
}

impl Cases {
    fn push(&mut self, r: &Rule, rec: Value) {
        match r.logsource {
            Logsource::CloudTrail => self.cloudtrail.push((r.id.clone(), rec)),
            Logsource::Kubernetes => self.k8s.push((r.id.clone(), rec)),
        }
    }

    /// Writes the files and runs the audit; the (rule id, place) pairs of every Sigma
    /// finding, and the place of each case.
    fn run(&self, dir: &Path) -> (Places, Places) {
        let ct_dir = dir.join("AWSLogs/111111111111/CloudTrail/eu-west-2/2026/11/03");
        std::fs::create_dir_all(&ct_dir).unwrap();
        let ct = ct_dir.join("111111111111_CloudTrail_eu-west-2_20261103T1000Z_sigma.json");
        let records: Vec<&Value> = self.cloudtrail.iter().map(|(_, r)| r).collect();
        std::fs::write(&ct, json!({ "Records": records }).to_string()).unwrap();
        let k8s = dir.join("audit-sigma.jsonl");
        let lines: Vec<String> = self.k8s.iter().map(|(_, r)| r.to_string()).collect();
        std::fs::write(&k8s, lines.join("\n") + "\n").unwrap();
        let q = dir.join("q.csv");
        let run = regwatch(&[
            "audit",
            dir.to_str().unwrap(),
            "--format",
            "json",
            "--quiet",
            "--quarantine",
            q.to_str().unwrap(),
        ]);
        assert!(run.code == 0 || run.code == 1, "{run:?}");
        let v: Value = serde_json::from_str(&run.stdout).unwrap();
        assert!(
            !q.exists(),
            "records rejected: {}",
            std::fs::read_to_string(&q).unwrap()
        );
        let place = |e: &Value| {
            let file = e["file"].as_str().unwrap();
            let n = e["record"].as_u64().or(e["line"].as_u64()).unwrap();
            let kind = if file.ends_with(".jsonl") {
                "k8s"
            } else {
                "ct"
            };
            format!("{kind}:{n}")
        };
        let found = v["findings"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|f| {
                // A rule's matches by one actor are one finding: every event is listed.
                let id = f["policy"].as_str()?.strip_prefix("sigma:")?.to_string();
                let events = f["events"].as_array().unwrap();
                assert_eq!(f["event_count"].as_u64(), Some(events.len() as u64), "{f}");
                Some(events.iter().map(move |e| (id.clone(), place(e))))
            })
            .flatten()
            .collect();
        let cases = (self.cloudtrail.iter().enumerate())
            .map(|(i, (id, _))| (id.clone(), format!("ct:{}", i + 1)))
            .chain(
                self.k8s
                    .iter()
                    .enumerate()
                    .map(|(i, (id, _))| (id.clone(), format!("k8s:{}", i + 1))),
            )
            .collect();
        (found, cases)
    }
}

/// "Potential Enumeration Activity" (Kubernetes audit): see below.
const UNMATCHABLE: &str = "597a7e84-187d-458b-9e4f-2f5a0e676711";

#[test]
fn every_shipped_rule_fires_on_a_record_made_to_match_it_and_not_on_its_near_misses() {
    let rules = shipped();
    assert_eq!(rules.len(), 73);
    let (mut hits, mut misses) = (Cases::default(), Cases::default());
    let mut n = 0;
    let mut base = |r: &Rule| {
        n += 1;
        match r.logsource {
            Logsource::CloudTrail => cloudtrail_base(n),
            Logsource::Kubernetes => k8s_base(n),
        }
    };
    for (_, r) in &rules {
        // `responseStatus.code: 'ALLOW'`: a Kubernetes status code is a number, so no
        // valid audit event matches this rule (upstream's field is wrong); it loads and
        // runs, and the reader rejects a record made to match it.
        if r.id == UNMATCHABLE {
            continue;
        }
        let (mut want, mut avoid) = (Vec::new(), Vec::new());
        plan(&r.condition, false, &mut want, &mut avoid);
        let mut rec = base(r);
        for &i in &want {
            fill(r, i, &mut rec);
        }
        hits.push(r, rec.clone());
        // Near miss: the first field of the first selection wanted, changed (or taken
        // away, when any value would do).
        let mut miss = base(r);
        for &i in &want {
            fill(r, i, &mut miss);
        }
        let first = &r.selections[want[0]].1 .0[0][0];
        let any = first
            .patterns
            .iter()
            .any(|p| matches!(p, Pattern::Glob(g) if g.as_slice() == [GlobPiece::AnyString]));
        if any {
            let mut probe = json!({});
            set(&mut probe, &first.field, json!(null));
            strip(&mut miss, &probe);
        } else if lookup(&miss, &first.field).is_some_and(|v| v.is_number()) {
            set(&mut miss, &first.field, json!(200));
        } else {
            set(&mut miss, &first.field, json!("regwatch-near-miss"));
        }
        misses.push(r, miss);
        // Filtered: it matches, and so does a selection under `not`.
        for &i in &avoid {
            let mut filtered = rec.clone();
            fill(r, i, &mut filtered);
            if let Some(Pattern::FieldRef(other)) = r.selections[i].1 .0[0][0].patterns.first() {
                let t = &r.selections[i].1 .0[0][0];
                let v =
                    lookup(&filtered, other).unwrap_or(json!("arn:aws:iam::111111111111:user/bob"));
                set(&mut filtered, other, v.clone());
                set(&mut filtered, &t.field, v);
            }
            misses.push(r, filtered);
        }
    }
    // Every rule but one has its matching record; each its near miss, and the rules with
    // a `not` a filtered record too.
    assert_eq!(hits.cloudtrail.len() + hits.k8s.len(), 72);
    assert!(misses.cloudtrail.len() + misses.k8s.len() > 72);
    let dir = tempfile::tempdir().unwrap();
    let (found, cases) = hits.run(&dir.path().join("hits"));
    assert!(found.len() >= 72, "{found:?}");
    let mut failed = Vec::new();
    for (id, place) in &cases {
        if !found.contains(&(id.clone(), place.clone())) {
            failed.push(format!("{id} did not fire on its record {place}"));
        }
    }
    let (found, cases) = misses.run(&dir.path().join("misses"));
    for (id, place) in &cases {
        if found.contains(&(id.clone(), place.clone())) {
            failed.push(format!("{id} fired on its near miss {place}"));
        }
    }
    let names: BTreeMap<&str, &str> = rules
        .iter()
        .map(|(_, r)| (r.id.as_str(), r.title.as_str()))
        .collect();
    assert!(
        failed.is_empty(),
        "{}",
        failed
            .iter()
            .map(|f| format!("{f} ({})", names[&f[..36]]))
            .collect::<Vec<_>>()
            .join("\n")
    );
}

/// Removes from `rec` the leaves `probe` has.
fn strip(rec: &mut Value, probe: &Value) {
    if let (Value::Object(r), Value::Object(p)) = (rec, probe) {
        for (k, v) in p {
            if v.is_object() && r.get(k).is_some_and(Value::is_object) {
                strip(r.get_mut(k).unwrap(), v);
            } else {
                r.remove(k);
            }
        }
    }
}

fn lookup(rec: &Value, field: &str) -> Option<Value> {
    let mut at = rec;
    for k in field.split('.') {
        at = at.get(k)?;
    }
    Some(at.clone())
}

#[test]
fn a_rule_outside_the_supported_subset_is_refused_by_name_and_the_rest_counted() {
    let dir = tempfile::tempdir().unwrap();
    let rules = dir.path().join("rules");
    std::fs::create_dir_all(&rules).unwrap();
    std::fs::write(
        rules.join("encoded_key.yml"),
        "title: Encoded Key\nid: 6f1b3c59-0d4e-4b8e-9c11-0a0c7e2b1f01\nauthor: test\nlevel: high\n\
         logsource:\n    product: aws\n    service: cloudtrail\n\
         detection:\n    selection:\n        requestParameters.key|base64offset|contains: secret\n    condition: selection\n",
    )
    .unwrap();
    std::fs::write(
        rules.join("delete_bucket.yml"),
        "title: Bucket Deleted\nid: 6f1b3c59-0d4e-4b8e-9c11-0a0c7e2b1f02\nauthor: test\nlevel: medium\n\
         tags:\n    - attack.impact\n\
         logsource:\n    product: aws\n    service: cloudtrail\n\
         detection:\n    selection:\n        eventName: DeleteBucket\n    condition: selection\n",
    )
    .unwrap();
    let samples = root().join("samples/audit/cloudtrail");
    let q = dir.path().join("q.csv");
    let args = |format: &'static str| {
        vec![
            "audit".to_string(),
            samples.display().to_string(),
            "--no-sigma".into(),
            "--sigma".into(),
            rules.display().to_string(),
            "--quarantine".into(),
            q.display().to_string(),
            "--format".into(),
            format.into(),
        ]
    };
    let table = args("table");
    let run = regwatch(&table.iter().map(String::as_str).collect::<Vec<_>>());
    assert!(run.code == 0 || run.code == 1, "{run:?}");
    assert!(
        run.stdout.contains(
            "sigma: 1 rule(s) loaded and run (1 CloudTrail, 0 Kubernetes audit), 1 refused"
        ),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains("refused encoded_key (encoded_key.yml): selection selection: modifier \"base64offset\" of requestParameters.key is not supported"),
        "{}",
        run.stdout
    );
    let json = args("json");
    let run = regwatch(&json.iter().map(String::as_str).collect::<Vec<_>>());
    assert!(
        run.stderr.contains("sigma rule refused: encoded_key"),
        "{}",
        run.stderr
    );
    let v: Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(v["summary"]["sigma"]["loaded"], 1);
    assert_eq!(v["summary"]["sigma"]["refused"][0]["rule"], "encoded_key");
    // The one rule loaded runs, as a policy of its own, with its source and NIST mapping.
    assert!(v["summary"]["findings_by_policy"]
        .get("sigma:6f1b3c59-0d4e-4b8e-9c11-0a0c7e2b1f02")
        .is_some());
    let shipped = regwatch(&[
        "audit",
        samples.to_str().unwrap(),
        "--quarantine",
        q.to_str().unwrap(),
    ]);
    assert!(
        shipped.stdout.contains(
            "sigma: 73 rule(s) loaded and run (57 CloudTrail, 16 Kubernetes audit), 0 refused"
        ),
        "{}",
        shipped.stdout
    );
}

#[test]
fn a_sigma_finding_names_its_rule_author_licence_and_nist_subcategories() {
    let dir = tempfile::tempdir().unwrap();
    let mut rec = cloudtrail_base(1);
    set(&mut rec, "eventSource", json!("cloudtrail.amazonaws.com"));
    set(&mut rec, "eventName", json!("StopLogging"));
    let mut cases = Cases::default();
    cases.cloudtrail.push((String::new(), rec));
    let ct_dir = dir
        .path()
        .join("AWSLogs/111111111111/CloudTrail/eu-west-2/2026/11/03");
    std::fs::create_dir_all(&ct_dir).unwrap();
    let f = ct_dir.join("111111111111_CloudTrail_eu-west-2_20261103T1000Z_one.json");
    std::fs::write(&f, json!({"Records": [cases.cloudtrail[0].1]}).to_string()).unwrap();
    let q = dir.path().join("q.csv");
    for format in ["json", "sarif"] {
        let run = regwatch(&[
            "audit",
            f.to_str().unwrap(),
            "--format",
            format,
            "--quiet",
            "--quarantine",
            q.to_str().unwrap(),
        ]);
        let v: Value = serde_json::from_str(&run.stdout).unwrap();
        let finding = if format == "json" {
            v["findings"]
                .as_array()
                .unwrap()
                .iter()
                .find(|f| f["title"] == "Sigma: AWS CloudTrail Important Change")
                .cloned()
                .unwrap_or_else(|| panic!("{}", run.stdout))
        } else {
            let r = v["runs"][0]["results"]
                .as_array()
                .unwrap()
                .iter()
                .find(|r| r["ruleId"] == "sigma:4db60cc0-36fb-42b7-9b58-a5b53019fb74")
                .cloned()
                .unwrap();
            r["properties"].clone()
        };
        assert_eq!(finding["severity"], "medium", "{finding}");
        assert_eq!(finding["source"]["author"], "vitaliy0x1");
        assert!(finding["source"]["licence"]
            .as_str()
            .unwrap()
            .contains("DRL"));
        assert_eq!(
            finding["source"]["file"],
            "cloudtrail/aws_cloudtrail_disable_logging.yml"
        );
        assert!(!finding["nist"].as_array().unwrap().is_empty());
    }
}

#[test]
fn a_rules_matches_by_one_actor_are_one_finding_with_their_events() {
    // On the samples, AWS STS AssumeRole Misuse matches every call made with an assumed
    // role and Potential Sidecar Injection every deployment patch (by design: see their
    // falsepositives); each actor's matches are one finding, its events listed.
    let run = regwatch(&[
        "audit",
        "--config",
        "regwatch.toml",
        "samples/audit/cloudtrail",
        "samples/audit/k8s",
        "--format",
        "json",
        "--quiet",
    ]);
    assert!(run.code == 0 || run.code == 1, "{run:?}");
    let v: Value = serde_json::from_str(&run.stdout).unwrap();
    let sigma: Vec<&Value> = (v["findings"].as_array().unwrap().iter())
        .filter(|f| f["policy"].as_str().unwrap().starts_with("sigma:"))
        .collect();
    let mut seen = std::collections::BTreeSet::new();
    for f in &sigma {
        assert_eq!(f["actors"].as_array().unwrap().len(), 1, "{f}");
        let key = (f["policy"].to_string(), f["actors"][0].to_string());
        assert!(seen.insert(key), "two findings for one rule and actor: {f}");
    }
    let one = |title: &str, actor: &str| {
        let f = (sigma.iter())
            .find(|f| f["title"] == format!("Sigma: {title}") && f["actors"][0] == actor)
            .unwrap_or_else(|| panic!("{title} {actor}"));
        (
            f["event_count"].as_u64().unwrap(),
            f["events"].as_array().unwrap().len(),
        )
    };
    // Argo CD's 39 syncs: one finding, the first 20 events listed.
    assert_eq!(
        one(
            "Potential Sidecar Injection Into Running Deployment",
            "system:serviceaccount:argocd:argocd-application-controller"
        ),
        (39, 20)
    );
    let (n, listed) = one(
        "AWS STS AssumeRole Misuse",
        "arn:aws:sts::111111111111:assumed-role/opsbot-agent-role/opsbot-claude-session-1762160400",
    );
    assert_eq!((n, listed), (4, 4));
    // d.hughes (an IAM user, not an assumed role) is not an AssumeRole match; his trail
    // changes of 8 Nov are one CloudTrail Important Change finding with both events.
    assert_eq!(
        one(
            "AWS CloudTrail Important Change",
            "arn:aws:iam::111111111111:user/d.hughes"
        ),
        (2, 2)
    );
    assert!(sigma.len() < 40, "{}", sigma.len());
}
