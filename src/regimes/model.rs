//! Regimes: the legal and internal clocks, loaded from `mappings/regimes.toml`.
//!
//! A regime says which incidents it applies to (conditions on fields), and has one or more
//! clocks. A clock starts at a timestamp field, runs for a period, and stops when its "done"
//! field is filled in. No number of hours lives in the code.

use std::path::Path;

use anyhow::{bail, Context, Result};
use chrono::{DateTime, Duration, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use crate::clock::Period;
use crate::config::RegimeOverrides;
use crate::error::bad_input;
use crate::regimes::condition::{Condition, RawCondition};
use crate::util::defaults::{read_mapping, Origin};

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
    /// Entity kinds for which `roll` does not apply (DORA: credit institutions, CCPs,
    /// trading venues and NIS2 essential or important entities, for the initial and
    /// intermediate reports).
    pub roll_unless: Vec<String>,
    /// The rule says "immediately": the period is the firm's internal target, and the
    /// deadline says so.
    pub immediately: bool,
    /// Dates (local, at the entity) between which the clock's rule applies to an incident
    /// the organisation became aware of: a rule changed by law has one clock per version.
    pub in_force_from: Option<NaiveDate>,
    pub in_force_until: Option<NaiveDate>,
    /// Which authorities to notify depends on where the people affected live
    /// (`authorities = "member-states"`: EU GDPR's lead or every authority).
    pub per_member_state: bool,
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

/// Dates in force chosen by an incident field: `{ field = "ai_system_class", dates = {
/// "annex-iii" = 2027-12-02, ... } }`. An empty or unknown value takes the earliest date,
/// with a note, so a clock is never lost for want of a classification.
#[derive(Debug, Clone)]
pub struct InForceBy {
    pub field: String,
    pub dates: std::collections::BTreeMap<String, NaiveDate>,
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
    /// Incidents the organisation became aware of (local date at the entity) before this
    /// date are outside the regime.
    pub in_force_from: Option<NaiveDate>,
    /// Incidents the organisation became aware of on or after this date are outside it.
    pub in_force_until: Option<NaiveDate>,
    /// A start date that depends on a field (the AI Act's dates by kind of system).
    pub in_force_by: Option<InForceBy>,
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
    in_force_from: Option<NaiveDate>,
    #[serde(default)]
    in_force_until: Option<NaiveDate>,
    #[serde(default)]
    in_force_by: Option<RawInForceBy>,
    #[serde(default)]
    thresholds: Vec<String>,
    #[serde(default)]
    when: Vec<RawCondition>,
    clock: Vec<RawClock>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawInForceBy {
    field: String,
    dates: std::collections::BTreeMap<String, NaiveDate>,
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
    #[serde(default)]
    roll_unless: Vec<String>,
    #[serde(default)]
    immediately: bool,
    #[serde(default)]
    in_force_from: Option<NaiveDate>,
    #[serde(default)]
    in_force_until: Option<NaiveDate>,
    #[serde(default)]
    authorities: Option<String>,
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
                roll_unless: c.roll_unless,
                immediately: c.immediately,
                in_force_from: c.in_force_from,
                in_force_until: c.in_force_until,
                per_member_state: match c.authorities.as_deref() {
                    None => false,
                    Some("member-states") => true,
                    Some(other) => {
                        bail!("{cctx}: authorities {other:?} is not known (use \"member-states\")")
                    }
                },
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
        let in_force_from = match overrides.in_force.get(&r.id) {
            Some(d) => {
                used_overrides.insert(r.id.clone());
                Some(*d)
            }
            None => r.in_force_from,
        };
        let in_force_by = r.in_force_by.map(|b| {
            let mut dates = b.dates;
            for (value, date) in dates.iter_mut() {
                let key = format!("{}/{value}", r.id);
                if let Some(d) = overrides.in_force.get(&key) {
                    used_overrides.insert(key);
                    *date = *d;
                }
            }
            InForceBy {
                field: b.field,
                dates,
            }
        });
        out.push(Regime {
            rehearsal: overrides.rehearse.contains(&r.id),
            id: r.id,
            name: r.name,
            kind: r.kind,
            authority: r.authority,
            citation: r.citation,
            notify: r.notify,
            role: r.role,
            in_force_from,
            in_force_until: r.in_force_until,
            in_force_by,
            when,
            clocks,
        });
    }
    for key in overrides.periods.keys() {
        if !used_overrides.contains(key) {
            bail!("config overrides the period of {key:?}, but there is no such regime/clock");
        }
    }
    for key in overrides.in_force.keys() {
        if !used_overrides.contains(key) {
            bail!("config overrides the date in force of {key:?}, but there is no such regime (or value of its in_force_by field)");
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

/// Loads `regimes.toml` from the mappings folder `dir`, else the built-in one; with where
/// it came from.
pub fn load_regimes(
    dir: Option<&Path>,
    overrides: &RegimeOverrides,
) -> Result<(Vec<Regime>, Origin)> {
    let (text, origin) = read_mapping(dir, "regimes.toml")?;
    let regimes = parse_regimes(&text, overrides)
        .map_err(|e| bad_input(format!("{}: {e:#}", origin.label())))?;
    Ok((regimes, origin))
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
