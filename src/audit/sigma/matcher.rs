//! Matching a parsed Sigma rule against one raw record (a `serde_json::Value`).
//!
//! Field names are dotted paths (`requestParameters.userName`, `objectRef.resource`); a
//! list on the way is looked through (any element). A name without a dot that is not at
//! the record's top level is looked for anywhere in it (`hostPath`, `capabilities`,
//! `apiGroup` in the Kubernetes rules name keys deep in `requestObject` or `objectRef`).
//! Text comparisons ignore case, as Sigma says; `|re` does not.

use serde_json::Value;

use super::rule::{glob_match, Cond, FieldTest, GlobPiece, Pattern, Rule, Selection};

/// Whether `rule` matches `rec`.
pub fn matches(rule: &Rule, rec: &Value) -> bool {
    let mut memo: Vec<Option<bool>> = vec![None; rule.selections.len()];
    eval(&rule.condition, rule, rec, &mut memo)
}

fn eval(c: &Cond, rule: &Rule, rec: &Value, memo: &mut Vec<Option<bool>>) -> bool {
    let sel = |i: usize, memo: &mut Vec<Option<bool>>| -> bool {
        if let Some(b) = memo[i] {
            return b;
        }
        let b = selection_matches(&rule.selections[i].1, rec);
        memo[i] = Some(b);
        b
    };
    match c {
        Cond::Selection(i) => sel(*i, memo),
        Cond::Not(c) => !eval(c, rule, rec, memo),
        Cond::And(cs) => cs.iter().all(|c| eval(c, rule, rec, memo)),
        Cond::Or(cs) => cs.iter().any(|c| eval(c, rule, rec, memo)),
        Cond::AnyOf(is) => is.iter().any(|&i| sel(i, memo)),
        Cond::AllOf(is) => is.iter().all(|&i| sel(i, memo)),
    }
}

fn selection_matches(s: &Selection, rec: &Value) -> bool {
    s.0.iter()
        .any(|map| map.iter().all(|t| field_matches(t, rec)))
}

fn field_matches(t: &FieldTest, rec: &Value) -> bool {
    let values = lookup(rec, &t.field);
    let one = |p: &Pattern| pattern_matches(p, &values, rec);
    if t.all {
        t.patterns.iter().all(one)
    } else {
        t.patterns.iter().any(one)
    }
}

fn pattern_matches(p: &Pattern, values: &[&Value], rec: &Value) -> bool {
    match p {
        Pattern::Null => values.iter().all(|v| v.is_null()),
        Pattern::Glob(g) => values.iter().any(|v| {
            // `*` alone: the field is there, whatever it holds.
            if g.as_slice() == [GlobPiece::AnyString] {
                return !v.is_null();
            }
            texts(v).iter().any(|t| glob_match(g, &t.to_lowercase()))
        }),
        Pattern::Re(re) => values
            .iter()
            .any(|v| texts(v).iter().any(|t| re.is_match(t))),
        Pattern::FieldRef(other) => {
            let theirs: Vec<String> = lookup(rec, other).iter().flat_map(|v| texts(v)).collect();
            values
                .iter()
                .any(|v| texts(v).iter().any(|t| theirs.contains(t)))
        }
    }
}

/// The texts a value stands for: itself, or each element of a list.
fn texts(v: &Value) -> Vec<String> {
    match v {
        Value::String(s) => vec![s.clone()],
        Value::Number(n) => vec![n.to_string()],
        Value::Bool(b) => vec![b.to_string()],
        Value::Array(a) => a.iter().flat_map(texts).collect(),
        Value::Null | Value::Object(_) => Vec::new(),
    }
}

/// The values at a dotted path (several when the path goes through a list).
pub fn lookup<'v>(rec: &'v Value, field: &str) -> Vec<&'v Value> {
    let mut at = vec![rec];
    for key in field.split('.') {
        let mut next = Vec::new();
        for v in at {
            match v {
                Value::Object(m) => next.extend(m.get(key)),
                Value::Array(a) => next.extend(a.iter().filter_map(|e| e.get(key))),
                _ => {}
            }
        }
        at = next;
    }
    if at.is_empty() && !field.contains('.') {
        find_anywhere(rec, field, &mut at);
    }
    at
}

fn find_anywhere<'v>(v: &'v Value, key: &str, out: &mut Vec<&'v Value>) {
    match v {
        Value::Object(m) => {
            for (k, child) in m {
                if k == key {
                    out.push(child);
                } else {
                    find_anywhere(child, key, out);
                }
            }
        }
        Value::Array(a) => a.iter().for_each(|e| find_anywhere(e, key, out)),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::super::rule::{glob, parse};
    use super::*;

    #[test]
    fn wildcards_and_case() {
        assert!(glob_match(&glob("Get*Token"), "getsessiontoken"));
        assert!(glob_match(&glob("*acl*"), "putbucketacl"));
        assert!(!glob_match(&glob("Get?"), "get"));
        assert!(glob_match(&glob("a\\*b"), "a*b"));
    }

    #[test]
    fn conditions_and_modifiers() {
        let rule = parse(
            "title: t\nid: x\nlevel: high\nlogsource: {product: aws, service: cloudtrail}\n\
             detection:\n  selection:\n    eventName|startswith: Delete\n    requestParameters.tags|contains|all: [a, b]\n\
             \x20 filter_one:\n    userIdentity.arn|re: '^arn:aws:iam::1:'\n\
             \x20 filter_two:\n    userIdentity.arn|fieldref: requestParameters.userName\n\
             \x20 condition: selection and not 1 of filter_*\n",
        )
        .unwrap();
        let rec = serde_json::json!({"eventName": "DeleteBucket",
            "requestParameters": {"tags": ["xa", "bx"], "userName": "u"},
            "userIdentity": {"arn": "arn:aws:iam::2:user/u"}});
        assert!(matches(&rule, &rec));
        let mut filtered = rec.clone();
        filtered["requestParameters"]["userName"] = "arn:aws:iam::2:user/u".into();
        assert!(!matches(&rule, &filtered));
    }
}
