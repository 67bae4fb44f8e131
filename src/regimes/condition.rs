//! Conditions written as data in `mappings/regimes.toml` (`[[regime.when]]`): a test on
//! one field of the incident or of the entity reporting it, or any / all of several.

use std::borrow::Cow;

use anyhow::{bail, Context, Result};
use serde::Deserialize;

use crate::incidents::record::{FieldValue, Incident, List};
use crate::regimes::entity::Entity;

/// A test on one incident field, read from `[[regime.when]]`.
#[derive(Debug, Clone)]
pub enum Test {
    Is(toml::Value),
    In(Vec<String>),
    NotIn(Vec<String>),
    Has(String),
    HasAny(Vec<String>),
    /// None of these (a list, e.g. `kinds`, with none of the values).
    HasNone(Vec<String>),
    Lacks(String),
    Present(bool),
}

/// A condition: a field test, or any of several conditions.
#[derive(Debug, Clone)]
pub enum Condition {
    Field {
        field: String,
        test: Test,
        reason: Option<String>,
    },
    Any {
        any: Vec<Condition>,
        reason: Option<String>,
    },
    /// Every one of several (inside an `any`: "an EU entity that is a bank").
    All {
        all: Vec<Condition>,
        reason: Option<String>,
    },
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawCondition {
    field: Option<String>,
    is: Option<toml::Value>,
    #[serde(rename = "in")]
    in_: Option<Vec<String>>,
    not_in: Option<Vec<String>>,
    has: Option<String>,
    has_any: Option<Vec<String>>,
    has_none: Option<Vec<String>>,
    lacks: Option<String>,
    present: Option<bool>,
    any: Option<Vec<RawCondition>>,
    all: Option<Vec<RawCondition>>,
    reason: Option<String>,
}

impl RawCondition {
    pub(super) fn into_condition(self) -> Result<Condition> {
        if let Some(any) = self.any {
            let any = any
                .into_iter()
                .map(RawCondition::into_condition)
                .collect::<Result<Vec<_>>>()?;
            return Ok(Condition::Any {
                any,
                reason: self.reason,
            });
        }
        if let Some(all) = self.all {
            let all = all
                .into_iter()
                .map(RawCondition::into_condition)
                .collect::<Result<Vec<_>>>()?;
            return Ok(Condition::All {
                all,
                reason: self.reason,
            });
        }
        let field = self
            .field
            .context("a condition needs `field` (or `any`, `all`)")?;
        if let Some(f) = field.strip_prefix("entity.") {
            if !ENTITY_FIELDS.contains(&f) {
                bail!(
                    "condition on {field:?}: the entity's fields are {}",
                    ENTITY_FIELDS
                        .iter()
                        .map(|f| format!("entity.{f}"))
                        .collect::<Vec<_>>()
                        .join(", ")
                );
            }
        }
        let mut tests = Vec::new();
        if let Some(v) = self.is {
            tests.push(Test::Is(v));
        }
        if let Some(v) = self.in_ {
            tests.push(Test::In(v));
        }
        if let Some(v) = self.not_in {
            tests.push(Test::NotIn(v));
        }
        if let Some(v) = self.has {
            tests.push(Test::Has(v));
        }
        if let Some(v) = self.has_any {
            tests.push(Test::HasAny(v));
        }
        if let Some(v) = self.has_none {
            tests.push(Test::HasNone(v));
        }
        if let Some(v) = self.lacks {
            tests.push(Test::Lacks(v));
        }
        if let Some(v) = self.present {
            tests.push(Test::Present(v));
        }
        if tests.len() != 1 {
            bail!(
                "condition on {field:?} needs exactly one of is, in, not_in, has, has_any, has_none, lacks, present"
            );
        }
        Ok(Condition::Field {
            field,
            test: tests.remove(0),
            reason: self.reason,
        })
    }
}

fn text_of(v: &FieldValue) -> Option<String> {
    match v {
        FieldValue::Text(s) => Some(s.to_ascii_lowercase()),
        FieldValue::Bool(b) => Some(b.to_string()),
        FieldValue::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// Whether a list field (and, for `kinds`, the entity's kinds too) holds `want`.
fn has(v: &FieldValue, also: Option<&List>, want: &str) -> bool {
    let here = match v {
        FieldValue::List(items) => items.contains(want),
        FieldValue::Text(s) => s.eq_ignore_ascii_case(want),
        _ => false,
    };
    here || also.is_some_and(|l| l.contains(want))
}

/// The entity's fields a condition can test: `entity.kinds` (a list), `entity.country`
/// (ISO 3166 alpha-2), `entity.eu` (true for an EU Member State).
const ENTITY_FIELDS: &[&str] = &["kinds", "country", "eu"];

/// A field's value. `kinds` is the incident's `sectors` and the entity's kinds together
/// (the second list comes back beside the first), so regimes written for either work.
fn lookup<'a>(
    field: &str,
    inc: &'a Incident,
    entity: &'a Entity,
) -> (FieldValue<'a>, Option<&'a List>) {
    match field {
        "kinds" => (FieldValue::List(&inc.sectors), Some(&entity.kinds)),
        "entity.kinds" => (FieldValue::List(&entity.kinds), None),
        "entity.country" => (FieldValue::Text(&entity.country), None),
        "entity.eu" => (FieldValue::Bool(entity.in_eu()), None),
        _ => (inc.field(field), None),
    }
}

impl Condition {
    /// Whether the incident passes; when it does not, why not, in words. A pass can carry
    /// a note: a `not_in` test passes on an empty field (the conservative reading: an
    /// unassessed risk may be high), and the note says the clock runs until it is filled in.
    pub fn check(&self, inc: &Incident, entity: &Entity) -> Result<Option<String>, Cow<'_, str>> {
        match self {
            Condition::All { all, reason } => {
                let mut notes = Vec::new();
                for c in all {
                    match c.check(inc, entity) {
                        Ok(note) => notes.extend(note),
                        Err(w) => {
                            return Err(match reason {
                                Some(r) => Cow::Borrowed(r.as_str()),
                                None => w,
                            })
                        }
                    }
                }
                Ok((!notes.is_empty()).then(|| notes.join("; ")))
            }
            Condition::Any { any, reason } => {
                let mut why = Vec::new();
                for c in any {
                    match c.check(inc, entity) {
                        Ok(note) => return Ok(note),
                        Err(w) => why.push(w),
                    }
                }
                Err(match reason {
                    Some(r) => Cow::Borrowed(r.as_str()),
                    None => Cow::Owned(why.join("; and ")),
                })
            }
            Condition::Field {
                field,
                test,
                reason,
            } => {
                let (v, also) = lookup(field, inc, entity);
                let ok =
                    match test {
                        Test::Is(want) => match (want, &v) {
                            (toml::Value::Boolean(b), FieldValue::Bool(have)) => b == have,
                            (toml::Value::String(s), _) => {
                                text_of(&v).is_some_and(|t| t.eq_ignore_ascii_case(s))
                            }
                            _ => false,
                        },
                        Test::In(set) => text_of(&v)
                            .is_some_and(|t| set.iter().any(|s| s.eq_ignore_ascii_case(&t))),
                        Test::NotIn(set) => !text_of(&v)
                            .is_some_and(|t| set.iter().any(|s| s.eq_ignore_ascii_case(&t))),
                        Test::Has(want) => has(&v, also, want),
                        Test::HasAny(wants) => wants.iter().any(|w| has(&v, also, w)),
                        Test::HasNone(unwanted) => !unwanted.iter().any(|w| has(&v, also, w)),
                        Test::Lacks(unwanted) => !has(&v, also, unwanted),
                        Test::Present(p) => {
                            let present = match &v {
                                FieldValue::Missing => false,
                                FieldValue::List(l) => {
                                    !l.is_empty() || also.is_some_and(|a| !a.is_empty())
                                }
                                _ => true,
                            };
                            present == *p
                        }
                    };
                if ok {
                    let unassessed = matches!(test, Test::NotIn(_)) && v == FieldValue::Missing;
                    Ok(unassessed.then(|| {
                        format!("{field} is not filled in yet: the clock runs until it is")
                    }))
                } else {
                    Err(match reason {
                        Some(r) => Cow::Borrowed(r.as_str()),
                        None => Cow::Owned(describe(field, test, &v)),
                    })
                }
            }
        }
    }
}

fn describe(field: &str, test: &Test, v: &FieldValue) -> String {
    let have = match v {
        FieldValue::Missing => "empty".to_string(),
        FieldValue::Bool(b) => b.to_string(),
        FieldValue::Number(n) => n.to_string(),
        FieldValue::Text(s) => format!("{s:?}"),
        FieldValue::List(l) if l.is_empty() => "empty".to_string(),
        FieldValue::List(l) => format!("[{}]", l.items().collect::<Vec<_>>().join(", ")),
        FieldValue::Time(t) => crate::clock::utc_text(*t),
    };
    let want = match test {
        Test::Is(w) => format!("must be {w}"),
        Test::In(s) => format!("must be one of {}", s.join(", ")),
        Test::NotIn(s) => format!("must not be {}", s.join(" or ")),
        Test::Has(s) => format!("must include {s}"),
        Test::HasAny(s) => format!("must include one of {}", s.join(", ")),
        Test::HasNone(s) => format!("must include none of {}", s.join(", ")),
        Test::Lacks(s) => format!("must not include {s}"),
        Test::Present(true) => "must be filled in".into(),
        Test::Present(false) => "must be empty".into(),
    };
    format!("{field} is {have} ({want})")
}
