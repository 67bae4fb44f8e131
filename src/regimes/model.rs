//! Regimes: the legal and internal clocks, loaded from `mappings/regimes.toml`.
//!
//! A regime says which incidents it applies to (conditions on fields), and has one or more
//! clocks. A clock starts at a timestamp field, runs for a period, and stops when its "done"
//! field is filled in. No number of hours lives in the code.

use std::borrow::Cow;
use std::path::Path;

use anyhow::{bail, Context, Result};
use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

use crate::clock::Period;
use crate::error::bad_input;
use crate::incidents::record::{FieldValue, Incident};

/// What kind of obligation a regime is; decides wording and which summary it counts in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum RegimeKind {
    /// Tell a regulator or the people affected.
    Notification,
    /// Record something (e.g. the breach register).
    Record,
    /// Stay within an important business service's impact tolerance (SYSC 15A).
    Tolerance,
}

/// A point at which someone should be told about an open clock.
#[derive(Debug, Clone, PartialEq)]
pub enum Threshold {
    /// This much time or less is left.
    Left(Duration),
    /// This fraction of the period has gone.
    Elapsed(f64),
    /// The deadline has passed.
    Overdue,
}

impl Threshold {
    /// `"24h left"`, `"6 hours left"`, `"50%"`, `"75% elapsed"`, `"overdue"`.
    pub fn parse(text: &str) -> Result<Threshold> {
        let t = text.trim().to_ascii_lowercase();
        if t == "overdue" {
            return Ok(Threshold::Overdue);
        }
        if let Some(p) = t
            .strip_suffix("elapsed")
            .unwrap_or(&t)
            .trim()
            .strip_suffix('%')
        {
            let f: f64 = p
                .trim()
                .parse()
                .with_context(|| format!("threshold {text:?}: bad percentage"))?;
            if !(0.0..=100.0).contains(&f) {
                bail!("threshold {text:?}: percentage must be 0-100");
            }
            return Ok(Threshold::Elapsed(f / 100.0));
        }
        if let Some(p) = t.strip_suffix("left") {
            let d = match Period::parse(p)? {
                Period::Minutes(m) => Duration::minutes(m),
                Period::Hours(h) => Duration::hours(h),
                Period::CalendarDays(d) => Duration::days(d as i64),
                other => {
                    bail!("threshold {text:?}: {other} cannot be a time left; use hours or days")
                }
            };
            return Ok(Threshold::Left(d));
        }
        bail!("threshold {text:?}: use \"24h left\", \"75%\" or \"overdue\"")
    }

    /// When this threshold is crossed for a clock running from `start` to `due`.
    pub fn crossed_at(&self, start: DateTime<Utc>, due: DateTime<Utc>) -> DateTime<Utc> {
        match self {
            Threshold::Left(d) => due - *d,
            Threshold::Elapsed(f) => {
                let span = (due - start).num_seconds() as f64;
                start + Duration::seconds((span * f).round() as i64)
            }
            Threshold::Overdue => due + Duration::seconds(1),
        }
    }
}

/// A test on one incident field, read from `[[regime.when]]`.
#[derive(Debug, Clone)]
pub enum Test {
    Is(toml::Value),
    In(Vec<String>),
    NotIn(Vec<String>),
    Has(String),
    HasAny(Vec<String>),
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
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCondition {
    field: Option<String>,
    is: Option<toml::Value>,
    #[serde(rename = "in")]
    in_: Option<Vec<String>>,
    not_in: Option<Vec<String>>,
    has: Option<String>,
    has_any: Option<Vec<String>>,
    lacks: Option<String>,
    present: Option<bool>,
    any: Option<Vec<RawCondition>>,
    reason: Option<String>,
}

impl RawCondition {
    fn into_condition(self) -> Result<Condition> {
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
        let field = self.field.context("a condition needs `field` (or `any`)")?;
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
        if let Some(v) = self.lacks {
            tests.push(Test::Lacks(v));
        }
        if let Some(v) = self.present {
            tests.push(Test::Present(v));
        }
        if tests.len() != 1 {
            bail!(
                "condition on {field:?} needs exactly one of is, in, not_in, has, has_any, lacks, present"
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

fn list_has(v: &FieldValue, want: &str) -> bool {
    match v {
        FieldValue::List(items) => items.contains(want),
        FieldValue::Text(s) => s.eq_ignore_ascii_case(want),
        _ => false,
    }
}

impl Condition {
    /// Whether the incident passes; when it does not, why not, in words. A pass can carry
    /// a note: a `not_in` test passes on an empty field (the conservative reading: an
    /// unassessed risk may be high), and the note says the clock runs until it is filled in.
    pub fn check(&self, inc: &Incident) -> Result<Option<String>, Cow<'_, str>> {
        match self {
            Condition::Any { any, reason } => {
                let mut why = Vec::new();
                for c in any {
                    match c.check(inc) {
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
                let v = inc.field(field);
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
                        Test::Has(want) => list_has(&v, want),
                        Test::HasAny(wants) => wants.iter().any(|w| list_has(&v, w)),
                        Test::Lacks(unwanted) => !list_has(&v, unwanted),
                        Test::Present(p) => {
                            let present = match &v {
                                FieldValue::Missing => false,
                                FieldValue::List(l) => !l.is_empty(),
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
        Test::Lacks(s) => format!("must not include {s}"),
        Test::Present(true) => "must be filled in".into(),
        Test::Present(false) => "must be empty".into(),
    };
    format!("{field} is {have} ({want})")
}

/// One way a clock's deadline is set: a period after a start field.
#[derive(Debug, Clone)]
pub struct Limit {
    /// Start fields, first filled-in one wins.
    pub from: Vec<String>,
    pub period: LimitPeriod,
    /// Drop this limit when that field is later than the limit's own deadline (DORA: the
    /// 24 hours from awareness only bind an incident classified major within them).
    pub unless_later: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum LimitPeriod {
    Fixed(Period),
    /// The affected important business service's impact tolerance.
    ImpactTolerance,
}

/// How a deadline that lands on a non-working day moves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Roll {
    None,
    NextWorkingDayNoon,
}

/// One clock of a regime: e.g. DORA's initial, intermediate and final reports.
#[derive(Debug, Clone)]
pub struct Clock {
    pub id: String,
    pub name: String,
    pub when: Vec<Condition>,
    /// Deadline = the earliest of these that can be computed.
    pub limits: Vec<Limit>,
    pub done: String,
    pub roll: Roll,
    pub action: String,
    /// A firm's own target, not a statutory limit; shown as such.
    pub internal_target: bool,
    pub late_requires: Option<String>,
    pub late_note: Option<String>,
    pub citation: String,
    pub thresholds: Vec<(String, Threshold)>,
}

/// What a regime is for, where a document needs it: the register and the drafts find
/// their regimes by role (`role = "..."` in `mappings/regimes.toml`), not by id, so a firm
/// can rename or replace a regime without touching code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum RegimeRole {
    /// Notify the ICO of a personal data breach (the ICO draft, the register's "notified").
    IcoBreachNotice,
    /// Tell the people affected (the register's and the ICO draft's "people told").
    SubjectsNotice,
    /// Record the breach in the register (UK GDPR Art. 33(5)).
    BreachRegister,
    /// The FCA/PRA operational incident reports (the FCA draft's stages).
    OperationalIncidentReport,
    /// An important business service's impact tolerance (the FCA draft's services).
    ImpactTolerance,
}

/// A legal or internal obligation with its clocks.
#[derive(Debug, Clone)]
pub struct Regime {
    pub id: String,
    pub name: String,
    pub kind: RegimeKind,
    pub authority: String,
    pub citation: String,
    pub notify: String,
    /// What documents use this regime for, if anything.
    pub role: Option<RegimeRole>,
    /// Incidents the organisation became aware of before this date are outside the regime.
    pub in_force_from: Option<chrono::NaiveDate>,
    /// In force early because the firm is rehearsing it (config `rehearse`).
    pub rehearsal: bool,
    pub when: Vec<Condition>,
    pub clocks: Vec<Clock>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    #[serde(default)]
    regime: Vec<RawRegime>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRegime {
    id: String,
    name: String,
    kind: RegimeKind,
    authority: String,
    citation: String,
    #[serde(default)]
    source: Option<String>,
    #[serde(default)]
    notes: Option<String>,
    #[serde(default = "default_role")]
    notify: String,
    #[serde(default)]
    role: Option<RegimeRole>,
    #[serde(default)]
    in_force_from: Option<chrono::NaiveDate>,
    #[serde(default)]
    thresholds: Vec<String>,
    #[serde(default)]
    when: Vec<RawCondition>,
    clock: Vec<RawClock>,
}

fn default_role() -> String {
    "default".into()
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawClock {
    id: String,
    name: String,
    #[serde(default)]
    when: Vec<RawCondition>,
    limits: Vec<RawLimit>,
    done: String,
    #[serde(default)]
    roll: Option<Roll>,
    action: String,
    #[serde(default)]
    internal_target: bool,
    #[serde(default)]
    late_requires: Option<String>,
    #[serde(default)]
    late_note: Option<String>,
    #[serde(default)]
    citation: Option<String>,
    #[serde(default)]
    thresholds: Option<Vec<String>>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum OneOrMany {
    One(String),
    Many(Vec<String>),
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawLimit {
    from: OneOrMany,
    period: String,
    #[serde(default)]
    unless_later: Option<String>,
}

/// Changes a user makes without editing `mappings/` (from the config file).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RegimeOverrides {
    /// Regime ids to switch off.
    #[serde(default)]
    pub disable: Vec<String>,
    /// `"regime/clock" = "48 hours"`: a different period for a clock (internal targets, or
    /// figures the firm must choose).
    #[serde(default)]
    pub periods: std::collections::BTreeMap<String, String>,
    /// Regime ids to apply before their in-force date (a rehearsal); shown as such.
    #[serde(default)]
    pub rehearse: Vec<String>,
}

fn parse_thresholds(list: &[String], ctx: &str) -> Result<Vec<(String, Threshold)>> {
    list.iter()
        .map(|s| {
            Threshold::parse(s)
                .map(|t| (s.trim().to_string(), t))
                .with_context(|| format!("in {ctx}"))
        })
        .collect()
}

/// Parses regimes from TOML text, applying the user's overrides.
pub fn parse_regimes(text: &str, overrides: &RegimeOverrides) -> Result<Vec<Regime>> {
    let raw: RawFile = toml::from_str(text)?;
    let mut out = Vec::new();
    let mut used_overrides = std::collections::BTreeSet::new();
    for r in raw.regime {
        let _ = (&r.source, &r.notes);
        if out.iter().any(|x: &Regime| x.id == r.id) {
            bail!("regime {:?} is defined twice", r.id);
        }
        let ctx = format!("regime {:?}", r.id);
        let default_thresholds = parse_thresholds(&r.thresholds, &ctx)?;
        let when = r
            .when
            .into_iter()
            .map(RawCondition::into_condition)
            .collect::<Result<Vec<_>>>()
            .with_context(|| ctx.clone())?;
        let mut clocks = Vec::new();
        for c in r.clock {
            let cctx = format!("regime {:?} clock {:?}", r.id, c.id);
            let key = format!("{}/{}", r.id, c.id);
            let override_period = overrides.periods.get(&key);
            if override_period.is_some() {
                used_overrides.insert(key.clone());
            }
            let mut limits = Vec::new();
            for l in c.limits {
                let from = match l.from {
                    OneOrMany::One(s) => vec![s],
                    OneOrMany::Many(v) => v,
                };
                if from.is_empty() {
                    bail!("{cctx}: a limit needs at least one `from` field");
                }
                let text = override_period.unwrap_or(&l.period);
                let period = if text.trim() == "impact tolerance" {
                    LimitPeriod::ImpactTolerance
                } else {
                    LimitPeriod::Fixed(Period::parse(text).with_context(|| cctx.clone())?)
                };
                limits.push(Limit {
                    from,
                    period,
                    unless_later: l.unless_later,
                });
            }
            if limits.is_empty() {
                bail!("{cctx}: needs at least one limit");
            }
            let thresholds = match &c.thresholds {
                Some(t) => parse_thresholds(t, &cctx)?,
                None => default_thresholds.clone(),
            };
            clocks.push(Clock {
                id: c.id,
                name: c.name,
                when: c
                    .when
                    .into_iter()
                    .map(RawCondition::into_condition)
                    .collect::<Result<Vec<_>>>()
                    .with_context(|| cctx.clone())?,
                limits,
                done: c.done,
                roll: c.roll.unwrap_or(Roll::None),
                action: c.action,
                internal_target: c.internal_target,
                late_requires: c.late_requires,
                late_note: c.late_note,
                citation: c.citation.unwrap_or_else(|| r.citation.clone()),
                thresholds,
            });
        }
        if clocks.is_empty() {
            bail!("{ctx}: needs at least one [[regime.clock]]");
        }
        if r.citation.trim().is_empty() {
            bail!("{ctx}: every regime must cite its source (citation)");
        }
        out.push(Regime {
            rehearsal: overrides.rehearse.contains(&r.id),
            id: r.id,
            name: r.name,
            kind: r.kind,
            authority: r.authority,
            citation: r.citation,
            notify: r.notify,
            role: r.role,
            in_force_from: r.in_force_from,
            when,
            clocks,
        });
    }
    for key in overrides.periods.keys() {
        if !used_overrides.contains(key) {
            bail!("config overrides the period of {key:?}, but there is no such regime/clock");
        }
    }
    for id in overrides.disable.iter().chain(&overrides.rehearse) {
        if !out.iter().any(|r| &r.id == id) {
            bail!("config names regime {id:?}, but there is no such regime");
        }
    }
    out.retain(|r| !overrides.disable.contains(&r.id));
    Ok(out)
}

/// Loads `regimes.toml`.
pub fn load_regimes(path: &Path, overrides: &RegimeOverrides) -> Result<Vec<Regime>> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        bad_input(format!(
            "cannot read {}: {e} (set --mappings DIR)",
            path.display()
        ))
    })?;
    parse_regimes(&text, overrides).map_err(|e| bad_input(format!("{}: {e:#}", path.display())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thresholds_parse() {
        assert_eq!(
            Threshold::parse("24h left").unwrap(),
            Threshold::Left(Duration::hours(24))
        );
        assert_eq!(Threshold::parse("75%").unwrap(), Threshold::Elapsed(0.75));
        assert_eq!(
            Threshold::parse("50% elapsed").unwrap(),
            Threshold::Elapsed(0.5)
        );
        assert_eq!(Threshold::parse("overdue").unwrap(), Threshold::Overdue);
        assert!(Threshold::parse("soon").is_err());
        assert!(Threshold::parse("2 working days left").is_err());
    }

    #[test]
    fn shipped_regimes_load_and_all_cite_a_source() {
        let text = include_str!("../../mappings/regimes.toml");
        let regimes = parse_regimes(text, &RegimeOverrides::default()).unwrap();
        assert!(regimes.len() >= 9);
        for r in &regimes {
            assert!(!r.citation.is_empty(), "{}", r.id);
            for c in &r.clocks {
                assert!(!c.citation.is_empty(), "{}/{}", r.id, c.id);
            }
        }
    }

    #[test]
    fn overrides_must_name_real_clocks() {
        let text = include_str!("../../mappings/regimes.toml");
        let mut o = RegimeOverrides::default();
        o.periods.insert("no-such/clock".into(), "1 hour".into());
        assert!(parse_regimes(text, &o).is_err());
        let mut o = RegimeOverrides::default();
        o.disable.push("eu-dora-major-ict".into());
        let regimes = parse_regimes(text, &o).unwrap();
        assert!(!regimes.iter().any(|r| r.id == "eu-dora-major-ict"));
    }
}
