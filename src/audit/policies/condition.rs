//! `condition`: a user's policy without Rust, testing event fields with the conditions
//! regimes use (`when`: field / is / in / not_in / present / matches / not_matches); every condition
//! must hold.

use anyhow::{bail, Context, Result};

use crate::audit::event::{AuditEvent, NATIVE_FIELDS};
use crate::audit::matching::glob_match;
use crate::audit::model::Hit;

use super::hits::hit;

/// A test on one event field, from a `condition` policy's `when`.
#[derive(Debug, Clone)]
enum FieldTest {
    Is(String),
    In(Vec<String>),
    NotIn(Vec<String>),
    Present(bool),
    Matches(String),
    NotMatches(String),
}

#[derive(Debug, Clone)]
struct FieldCondition {
    field: String,
    test: FieldTest,
}

impl FieldCondition {
    fn holds(&self, e: &AuditEvent) -> bool {
        if self.field == "operation" {
            // A delete that is also a permission change is either: a test that looks for
            // an operation finds it under either name; one that excludes, under neither.
            let mut names = e.operation_names();
            return match &self.test {
                FieldTest::NotIn(_) | FieldTest::NotMatches(_) => names.all(|v| self.test_text(v)),
                _ => names.any(|v| self.test_text(v)),
            };
        }
        self.test_text(e.field(&self.field).unwrap_or_default())
    }

    fn test_text(&self, v: &str) -> bool {
        match &self.test {
            FieldTest::Is(x) => v == x,
            FieldTest::In(xs) => xs.iter().any(|x| x == v),
            FieldTest::NotIn(xs) => !xs.iter().any(|x| x == v),
            FieldTest::Present(p) => v.trim().is_empty() != *p,
            FieldTest::Matches(p) => glob_match(p, v),
            FieldTest::NotMatches(p) => !glob_match(p, v),
        }
    }
}

/// The policy's conditions, all of which must hold.
#[derive(Debug, Clone)]
pub struct Condition(Vec<FieldCondition>);

impl Condition {
    /// Whether every condition holds for `e`.
    pub fn holds(&self, e: &AuditEvent) -> bool {
        self.0.iter().all(|c| c.holds(e))
    }

    /// Whether every condition on `field` holds for the text `value` (the conditions on
    /// other fields are not asked): what an SQL source uses to tell which events a
    /// policy could see.
    pub fn allows(&self, field: &str, value: &str) -> bool {
        (self.0.iter())
            .filter(|c| c.field == field)
            .all(|c| c.test_text(value))
    }

    pub fn parse(when: &[toml::Value]) -> Result<Condition> {
        Ok(Condition(
            when.iter().map(compile_condition).collect::<Result<_>>()?,
        ))
    }
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
    } else if let Some(x) = t.get("not_matches") {
        FieldTest::NotMatches(
            x.as_str()
                .context("`not_matches` must be text")?
                .to_string(),
        )
    } else {
        bail!("`when` {field}: give one of is, in, not_in, present, matches, not_matches");
    };
    for k in t.keys() {
        if ![
            "field",
            "is",
            "in",
            "not_in",
            "present",
            "matches",
            "not_matches",
        ]
        .contains(&k.as_str())
        {
            bail!("`when` {field}: unknown key {k:?}");
        }
    }
    Ok(FieldCondition {
        field: field.into(),
        test,
    })
}

/// Hits on a batch of events; `title` is the policy's.
#[inline]
pub fn check<'b>(
    policy: usize,
    c: &Condition,
    title: &str,
    events: &[AuditEvent<'b>],
    out: &mut Vec<Hit<'b>>,
) {
    for e in events {
        if c.0.iter().all(|c| c.holds(e)) {
            out.push(hit(
                policy,
                e,
                e.change_id.clone(),
                format!(
                    "{} {} {} ({})",
                    e.actor,
                    e.operation.as_str(),
                    e.resource,
                    title
                ),
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use std::borrow::Cow;

    use super::super::hits::testing::{details, event};
    use super::*;
    use crate::audit::event::ActorType;

    fn condition(when: &str) -> Result<Condition> {
        #[derive(serde::Deserialize)]
        struct When {
            when: Vec<toml::Value>,
        }
        let w: When = toml::from_str(when).expect("test when");
        Condition::parse(&w.when)
    }

    const SERVICE_DELETES: &str = r#"when = [
        { field = "actor_type", is = "service" },
        { field = "operation", in = ["delete"] },
        { field = "agent", not_in = ["pipeline"] },
        { field = "resource", matches = "db/*" },
        { field = "resource", not_matches = "db/*-test" },
        { field = "approved_by", present = false },
    ]"#;

    #[test]
    fn an_event_meeting_every_condition_is_a_hit() {
        let c = condition(SERVICE_DELETES).expect("conditions");
        let mut e = event();
        e.actor_type = ActorType::Service;
        let mut out = Vec::new();
        check(0, &c, "Service delete", &[e], &mut out);
        assert_eq!(details(&out), ["agent-7 delete db/orders (Service delete)"]);
    }

    #[test]
    fn an_event_failing_one_condition_is_no_hit() {
        let c = condition(SERVICE_DELETES).expect("conditions");
        let mut approved = event();
        approved.actor_type = ActorType::Service;
        approved.approved_by = Cow::Borrowed("alice");
        let mut out = Vec::new();
        let mut test_db = event();
        test_db.actor_type = ActorType::Service;
        test_db.resource = Cow::Borrowed("db/orders-test");
        check(
            0,
            &c,
            "Service delete",
            &[event(), approved, test_db],
            &mut out,
        );
        assert!(out.is_empty());
        assert!(condition(r#"when = [{ field = "timestamp", is = "x" }]"#).is_err());
        assert!(condition(r#"when = [{ field = "actor", is = "x", or = "y" }]"#).is_err());
    }

    #[test]
    fn a_delete_of_a_permission_is_a_delete_and_a_permission_change() {
        let holds = |when: &str, e: &AuditEvent| condition(when).expect("conditions").holds(e);
        let mut role_delete = event();
        role_delete.also_permission_change = true;
        let plain_delete = event();
        for (test, role, plain) in [
            (r#"is = "permission_change""#, true, false),
            (r#"is = "delete""#, true, true),
            (r#"in = ["permission_change"]"#, true, false),
            (r#"matches = "perm*""#, true, false),
            (r#"not_in = ["permission_change"]"#, false, true),
            (r#"not_matches = "perm*""#, false, true),
        ] {
            let when = format!(r#"when = [{{ field = "operation", {test} }}]"#);
            let when = when.as_str();
            assert_eq!(holds(when, &role_delete), role, "{when}");
            assert_eq!(holds(when, &plain_delete), plain, "{when}");
        }
    }
}
