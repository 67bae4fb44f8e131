//! Evaluation: incidents + regimes + services + a calendar + `now` in, deadlines out.
//! Pure: no I/O, no clock reads (the caller passes `now`).

use std::borrow::Cow;

use chrono::{DateTime, Utc};
use rayon::prelude::*;

use chrono::NaiveDate;

use crate::clock::Period;
use crate::incidents::record::{FieldValue, Incident};
use crate::regimes::deadline::{Deadline, Status, Summary};
use crate::regimes::entity::{Entities, Entity};
use crate::regimes::model::{Clock, LimitPeriod, Regime, Roll};
use crate::regimes::services::{ImportantBusinessService, ServiceCatalogue};

/// What the evaluation needs besides the incidents.
pub struct EvalContext<'a> {
    pub regimes: &'a [Regime],
    pub services: &'a ServiceCatalogue,
    /// The reporting entities: each incident's deadlines are counted on its entity's
    /// calendar and in its zone.
    pub entities: &'a Entities,
    pub now: DateTime<Utc>,
}

/// The deadlines kept, in the order they were evaluated, with the counts of all of them.
/// `sorted()` gives them most urgent first without moving them.
pub struct Evaluation<'a> {
    parts: Vec<Vec<Deadline<'a>>>,
    /// (part, index) in order of urgency.
    order: Vec<(u32, u32)>,
    pub summary: Summary,
}

impl<'a> Evaluation<'a> {
    /// The kept deadlines, most urgent first.
    pub fn sorted(&self) -> Vec<&Deadline<'a>> {
        self.order
            .iter()
            .map(|&(p, i)| &self.parts[p as usize][i as usize])
            .collect()
    }

    pub fn len(&self) -> usize {
        self.order.len()
    }

    pub fn is_empty(&self) -> bool {
        self.order.is_empty()
    }
}

/// Every clock of every regime for every incident. Only the deadlines whose status `keep`
/// accepts are kept (not-applicable rows are most of them and seldom wanted); the summary
/// counts them all.
pub fn evaluate<'a>(
    incidents: &'a [Incident],
    ctx: &EvalContext<'a>,
    keep: &(dyn Fn(Status) -> bool + Sync),
) -> Evaluation<'a> {
    const CHUNK: usize = 4096;
    let parts: Vec<(Vec<Deadline<'a>>, Summary)> = incidents
        .par_chunks(CHUNK)
        .enumerate()
        .map(|(c, chunk)| {
            let mut kept = Vec::new();
            let mut summary = Summary::default();
            let mut scratch = Vec::new();
            let with_na = keep(Status::NotApplicable);
            let mut na = 0;
            for (k, inc) in chunk.iter().enumerate() {
                let index = (c * CHUNK + k) as u32;
                // Who reports, and the local date it became aware: once per incident.
                let at = Reporter::of(inc, ctx.entities);
                for (r, regime) in ctx.regimes.iter().enumerate() {
                    evaluate_regime(inc, regime, &at, ctx, with_na, &mut na, &mut scratch);
                    for mut d in scratch.drain(..) {
                        summary.count(&d);
                        if keep(d.status) {
                            d.order = order_key(index, r, regime, d.clock, d.service, ctx);
                            kept.push(d);
                        }
                    }
                }
            }
            summary.not_applicable += na;
            (kept, summary)
        })
        .collect();
    let mut summary = Summary {
        incidents: incidents.len(),
        ..Summary::default()
    };
    let mut kept = Vec::with_capacity(parts.len());
    for (p, s) in parts {
        summary.merge(&s);
        kept.push(p);
    }
    let order = urgency_order(&kept);
    Evaluation {
        parts: kept,
        order,
        summary,
    }
}

/// Incident (file order), regime, clock and service positions packed for a cheap sort.
fn order_key(
    incident: u32,
    regime: usize,
    r: &Regime,
    clock: Option<&Clock>,
    service: Option<&ImportantBusinessService>,
    ctx: &EvalContext,
) -> u64 {
    let clock = clock.map_or(0, |c| {
        1 + r
            .clocks
            .iter()
            .position(|x| std::ptr::eq(x, c))
            .unwrap_or(0)
    });
    let service = service.map_or(0, |s| {
        1 + ctx
            .services
            .services
            .iter()
            .position(|x| std::ptr::eq(x, s))
            .unwrap_or(0)
    });
    ((incident as u64) << 32)
        | ((regime as u64 & 0xfff) << 20)
        | ((clock as u64 & 0xff) << 12)
        | (service as u64 & 0xfff)
}

/// Overdue (longest overdue first) then due-soon and due (soonest first), not started,
/// then met-late and met (latest first), then not applicable; ties in file order. Sorts
/// small keys, not the deadlines themselves.
fn urgency_order(parts: &[Vec<Deadline>]) -> Vec<(u32, u32)> {
    let mut keys: Vec<(u8, i64, u64, u32, u32)> = parts
        .iter()
        .enumerate()
        .flat_map(|(p, part)| {
            part.iter().enumerate().map(move |(i, d)| {
                let due = d.due_at.map_or(i64::MAX, |t| t.timestamp());
                let open = d.status.is_open() || d.status == Status::NotStarted;
                let due = if open || due == i64::MAX { due } else { -due };
                (d.status as u8, due, d.order, p as u32, i as u32)
            })
        })
        .collect();
    keys.par_sort_unstable();
    keys.into_iter().map(|k| (k.3, k.4)).collect()
}

fn not_applicable<'a>(inc: &'a Incident, regime: &'a Regime, reason: Cow<'a, str>) -> Deadline<'a> {
    Deadline {
        incident: inc,
        regime,
        clock: None,
        service: None,
        status: Status::NotApplicable,
        reason: Some(reason),
        started_at: None,
        start_field: None,
        due_at: None,
        done_at: None,
        period: None,
        threshold: None,
        notes: Vec::new(),
        late_reasons_missing: false,
        order: 0,
    }
}

/// Evaluates one regime for one incident into `out`. When `with_na` is false a regime that
/// does not apply at all is only counted in `na`, not built (most pairs are such, and their
/// reasons cost an allocation each).
#[allow(clippy::too_many_arguments)]
fn evaluate_regime<'a>(
    inc: &'a Incident,
    regime: &'a Regime,
    at: &Reporter,
    ctx: &EvalContext<'a>,
    with_na: bool,
    na: &mut usize,
    out: &mut Vec<Deadline<'a>>,
) {
    let entity = at.entity;
    let mut assumptions: Vec<String> = at.assumed.iter().cloned().collect();
    if let Some(why) = out_of_force(inc, regime, at.aware, &mut assumptions) {
        if with_na {
            out.push(not_applicable(inc, regime, why.into()));
        } else {
            *na += 1;
        }
        return;
    }
    for cond in &regime.when {
        match cond.check(inc, entity) {
            Ok(Some(note)) => assumptions.push(note),
            Ok(None) => {}
            Err(why) => {
                if with_na {
                    out.push(not_applicable(inc, regime, why));
                } else {
                    *na += 1;
                }
                return;
            }
        }
    }
    let before = out.len();
    let mut skipped = Vec::new();
    for clock in &regime.clocks {
        if let Some(why) = clock.when.iter().find_map(|c| c.check(inc, entity).err()) {
            skipped.push(why);
            continue;
        }
        if let Some(why) = clock_out_of_force(clock, at.aware) {
            skipped.push(why.into());
            continue;
        }
        let per_service = clock
            .limits
            .iter()
            .any(|l| l.period == LimitPeriod::ImpactTolerance);
        if per_service {
            for sid in inc.affected_services.items() {
                match ctx.services.get(sid) {
                    Some(svc) => {
                        out.push(evaluate_clock(inc, regime, clock, Some(svc), entity, ctx))
                    }
                    None => {
                        let src = ctx
                            .services
                            .source
                            .as_deref()
                            .unwrap_or("no services file configured");
                        let mut d = not_applicable(
                            inc,
                            regime,
                            format!("service {sid:?} has no impact tolerance ({src})").into(),
                        );
                        d.clock = Some(clock);
                        out.push(d);
                    }
                }
            }
        } else {
            out.push(evaluate_clock(inc, regime, clock, None, entity, ctx));
        }
    }
    for d in &mut out[before..] {
        d.notes.extend(assumptions.iter().cloned());
    }
    if out.len() == before {
        let reason = match skipped.len() {
            0 => Cow::Borrowed("no clock of this regime applies"),
            1 => skipped.remove(0),
            _ => Cow::Owned(skipped.join("; ")),
        };
        out.push(not_applicable(inc, regime, reason));
    }
}

/// One limit's deadline, while the earliest is being found.
struct Candidate<'a> {
    due: DateTime<Utc>,
    start: DateTime<Utc>,
    field: &'a str,
    period: Period,
    rolled: bool,
    beyond_data: bool,
}

fn evaluate_clock<'a>(
    inc: &'a Incident,
    regime: &'a Regime,
    clock: &'a Clock,
    service: Option<&'a ImportantBusinessService>,
    entity: &Entity,
    ctx: &EvalContext<'a>,
) -> Deadline<'a> {
    let cal = &entity.calendar;
    let roll = if clock
        .roll_unless
        .iter()
        .any(|k| inc.sectors.contains(k) || entity.kinds.contains(k))
    {
        Roll::None
    } else {
        clock.roll
    };
    let mut notes = Vec::new();
    // The earliest deadline among the limits that can be computed.
    let mut best: Option<Candidate<'a>> = None;
    for limit in &clock.limits {
        let Some((field, start)) = limit
            .from
            .iter()
            .find_map(|f| inc.time(f).map(|t| (f.as_str(), t)))
        else {
            continue;
        };
        let (period, counted) = match (limit.period, service) {
            (LimitPeriod::Fixed(p), _) => (p, p),
            // A tolerance is a length of disruption, so it is counted in elapsed hours: "2
            // days" is 48 hours even across a clock change.
            (LimitPeriod::ImpactTolerance, Some(s)) => {
                (s.impact_tolerance, elapsed(s.impact_tolerance))
            }
            (LimitPeriod::ImpactTolerance, None) => continue,
        };
        let due = cal.add(start, counted);
        if let Some(f) = &limit.unless_later {
            if inc.time(f).is_some_and(|t| t > due) {
                continue;
            }
        }
        let beyond_data =
            matches!(period, Period::WorkingDays(_)) && cal.beyond_data(due.date_naive());
        let rolled = match roll {
            Roll::NextWorkingDayNoon => cal.roll_to_next_working_day_noon(due),
            Roll::None => due,
        };
        if best.as_ref().is_none_or(|b| rolled < b.due) {
            best = Some(Candidate {
                due: rolled,
                start,
                field,
                period,
                rolled: rolled != due,
                beyond_data,
            });
        }
    }
    if let Some(b) = &best {
        if b.rolled {
            notes.push(format!(
                "deadline fell on a weekend or public holiday in {}: moved to 12:00 {} time on the next working day",
                cal.region,
                entity.tz
            ));
        } else if roll != clock.roll && cal.roll_to_next_working_day_noon(b.due) != b.due {
            notes.push(format!(
                "deadline falls on a weekend or public holiday, but {} gets no extension for this report (it is a {})",
                entity_label(entity),
                clock
                    .roll_unless
                    .iter()
                    .filter(|k| inc.sectors.contains(k) || entity.kinds.contains(k))
                    .cloned()
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
        if b.beyond_data {
            notes.push(format!(
                "bank-holiday data for {} ends {}; later days count weekends only",
                cal.region,
                cal.covers_until.map(|d| d.to_string()).unwrap_or_default()
            ));
        }
    }
    if clock.per_member_state {
        notes.push(authorities_note(inc, entity));
    }
    if clock.immediately {
        notes.push("the rule says immediately: the deadline shown is the firm's internal target, not a period in law".into());
    }
    let done_at = inc.time(&clock.done);
    let Some(Candidate {
        due,
        start,
        field: start_field,
        period,
        ..
    }) = best
    else {
        let fields: Vec<&str> = clock
            .limits
            .iter()
            .flat_map(|l| l.from.iter().map(String::as_str))
            .collect();
        return Deadline {
            incident: inc,
            regime,
            clock: Some(clock),
            service,
            status: Status::NotStarted,
            reason: Some(format!("starts when {} is recorded", fields.join(" or ")).into()),
            started_at: None,
            start_field: None,
            due_at: None,
            done_at,
            period: None,
            threshold: None,
            notes,
            late_reasons_missing: false,
            order: 0,
        };
    };
    let now = ctx.now;
    let mut threshold = None;
    let status = match done_at {
        Some(done) if done <= due => Status::Met,
        Some(_) => Status::MetLate,
        None if now > due => Status::Overdue,
        None => Status::Due,
    };
    let status = if status.is_open() {
        // The most recently crossed threshold is the one that matters now.
        threshold = clock
            .thresholds
            .iter()
            .map(|(label, t)| (label.as_str(), t, t.crossed_at(start, due)))
            .filter(|(_, _, at)| *at <= now)
            .max_by_key(|(_, _, at)| *at)
            .map(|(label, t, _)| (label, t));
        match (status, threshold) {
            (Status::Due, Some(_)) => Status::DueSoon,
            (s, _) => s,
        }
    } else {
        status
    };
    let mut late_reasons_missing = false;
    if let Some(field) = &clock.late_requires {
        let late = matches!(status, Status::MetLate | Status::Overdue);
        if late && inc.text(field).is_none() {
            late_reasons_missing = true;
            let note = clock
                .late_note
                .clone()
                .unwrap_or_else(|| "a late report must give reasons".into());
            notes.push(format!("{note}: {field} is empty"));
        }
    }
    Deadline {
        incident: inc,
        regime,
        clock: Some(clock),
        service,
        status,
        reason: None,
        started_at: Some(start),
        start_field: Some(start_field),
        due_at: Some(due),
        done_at,
        period: Some(period),
        threshold: threshold.map(|(l, _)| l),
        notes,
        late_reasons_missing,
        order: 0,
    }
}

/// Which supervisory authorities an EU personal data breach goes to: the lead authority
/// where the controller is established in the EU (Art. 56), else every authority where
/// affected people live (EDPB Guidelines 9/2022, para. 73).
fn authorities_note(inc: &Incident, entity: &Entity) -> String {
    let states =
        crate::incidents::record::split_list(inc.text("affected_member_states").unwrap_or(""));
    let living = if states.is_empty() {
        "affected_member_states is empty: list the Member States where the people affected live"
            .to_string()
    } else {
        format!("people affected in {}", states.join(", "))
    };
    if entity.in_eu() {
        format!(
            "notify the lead supervisory authority (establishment in {}, Art. 56); {living}",
            entity.country
        )
    } else {
        format!("no EU establishment: notify the supervisory authority of each Member State where affected people live (EDPB Guidelines 9/2022); {living}")
    }
}

/// A tolerance's length as elapsed time: calendar days become hours.
fn elapsed(p: Period) -> Period {
    match p {
        Period::CalendarDays(d) => Period::Hours(24 * i64::from(d)),
        other => other,
    }
}

fn entity_label(e: &Entity) -> String {
    if e.id.is_empty() {
        "the firm".into()
    } else {
        format!("entity {}", e.id)
    }
}

/// The entity reporting an incident, and the local date there on which the organisation
/// became aware: rules come into force on a local date, so an incident at 00:30 BST on a
/// rule's first day is under it.
struct Reporter<'e> {
    entity: &'e Entity,
    /// Why the entity had to be assumed, for a note on each deadline.
    assumed: Option<String>,
    aware: NaiveDate,
}

impl<'e> Reporter<'e> {
    fn of(inc: &Incident, entities: &'e Entities) -> Reporter<'e> {
        let of = entities.of(inc);
        Reporter {
            aware: inc.aware_at.with_timezone(&of.entity.tz).date_naive(),
            entity: of.entity,
            assumed: of.assumed,
        }
    }
}

/// Why a regime is not in force for the incident, if it is not. A date chosen by a field
/// that is empty or unknown takes the earliest, with a note in `notes`.
fn out_of_force(
    inc: &Incident,
    regime: &Regime,
    aware: NaiveDate,
    notes: &mut Vec<String>,
) -> Option<String> {
    if let Some(until) = regime.in_force_until {
        if aware >= until {
            return Some(format!(
                "in force until {until}; the organisation became aware after then (a later rule applies)"
            ));
        }
    }
    let from = match &regime.in_force_by {
        Some(by) => {
            let value = match inc.field(&by.field) {
                FieldValue::Text(s) => Some(s.to_ascii_lowercase()),
                _ => None,
            };
            match value
                .as_deref()
                .and_then(|v| by.dates.get(v).map(|d| (v, *d)))
            {
                Some((v, d)) => Some((d, format!(" for {} {v}", by.field))),
                None => {
                    let earliest = by.dates.values().min().copied();
                    if let Some(d) = earliest {
                        if aware >= d || regime.rehearsal {
                            notes.push(format!(
                                "{} is {}: taken as the kind of system with the earliest date in force ({d})",
                                by.field,
                                value.map_or("empty".to_string(), |v| format!("{v:?}, not one of {}", by.dates.keys().cloned().collect::<Vec<_>>().join(", ")))
                            ));
                        }
                    }
                    earliest.map(|d| (d, String::new()))
                }
            }
        }
        None => regime.in_force_from.map(|d| (d, String::new())),
    };
    match from {
        Some((from, what)) if aware < from && !regime.rehearsal => Some(format!(
            "in force from {from}{what}; the organisation became aware before then"
        )),
        _ => None,
    }
}

/// Why a clock's version of the rule does not apply to the incident, if it does not.
fn clock_out_of_force(clock: &Clock, aware: NaiveDate) -> Option<String> {
    if let Some(from) = clock.in_force_from {
        if aware < from {
            return Some(format!("{}: applies from {from}", clock.name));
        }
    }
    if let Some(until) = clock.in_force_until {
        if aware >= until {
            return Some(format!("{}: replaced from {until}", clock.name));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::RegimeOverrides;
    use crate::incidents::record::{build, Column};
    use crate::regimes::model::parse_regimes;
    use chrono::Duration;

    const LONDON: chrono_tz::Tz = chrono_tz::Europe::London;

    fn utc(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    fn incident(pairs: &[(&str, &str)]) -> Incident {
        let cols: Vec<Column> = pairs.iter().map(|(k, _)| Column::for_name(k)).collect();
        build(cols.iter().zip(pairs.iter().map(|(_, v)| *v)), 2, LONDON)
            .unwrap()
            .0
    }

    fn regimes() -> Vec<Regime> {
        let mut o = RegimeOverrides::default();
        o.rehearse.push("fca-pra-operational-incident".into());
        parse_regimes(include_str!("../../mappings/regimes.toml"), &o).unwrap()
    }

    /// The default entity: UK, England and Wales bank holidays, kinds from `sectors`.
    fn calendar() -> Entities {
        let calendar = crate::clock::Calendar::from_govuk_json(
            include_str!("../../mappings/uk-bank-holidays.json"),
            "england-and-wales",
            LONDON,
        )
        .unwrap();
        Entities::single(Entity {
            id: String::new(),
            name: String::new(),
            country: "GB".into(),
            kinds: crate::incidents::record::List::default(),
            lei: String::new(),
            frn: String::new(),
            ico_registration: String::new(),
            tz: LONDON,
            calendar,
            contacts: Default::default(),
        })
    }

    fn services() -> ServiceCatalogue {
        ServiceCatalogue::parse(
            "[[service]]\nid='checkout'\nname='Checkout'\nimpact_tolerance='4 hours'\n",
            "test",
        )
        .unwrap()
    }

    fn run<'a>(
        incs: &'a [Incident],
        regs: &'a [Regime],
        cal: &'a Entities,
        svc: &'a ServiceCatalogue,
        now: &str,
    ) -> Vec<Deadline<'a>> {
        let ctx = EvalContext {
            regimes: regs,
            services: svc,
            entities: cal,
            now: utc(now),
        };
        evaluate(incs, &ctx, &|_| true)
            .sorted()
            .into_iter()
            .cloned()
            .collect()
    }

    fn find<'a, 'b>(list: &'b [Deadline<'a>], regime: &str) -> &'b Deadline<'a> {
        list.iter().find(|d| d.regime.id == regime).unwrap()
    }

    #[test]
    fn gdpr_72_hours_states() {
        let base = [
            ("id", "B-1"),
            ("title", "t"),
            ("aware_at", "2026-11-02T09:00:00Z"),
            ("personal_data", "true"),
            ("risk_to_individuals", "risk"),
            ("jurisdictions", "uk"),
        ];
        let incs = vec![incident(&base)];
        let (r, c, s) = (regimes(), calendar(), services());
        let d = run(&incs, &r, &c, &s, "2026-11-03T09:00:00Z");
        let g = find(&d, "uk-gdpr-art33");
        assert_eq!(g.status, Status::Due);
        assert_eq!(g.due_at, Some(utc("2026-11-05T09:00:00Z")));
        let d = run(&incs, &r, &c, &s, "2026-11-04T10:00:00Z");
        let g = find(&d, "uk-gdpr-art33");
        assert_eq!(g.status, Status::DueSoon);
        assert_eq!(g.threshold, Some("24h left"));
        let d = run(&incs, &r, &c, &s, "2026-11-05T09:01:00Z");
        let g = find(&d, "uk-gdpr-art33");
        assert_eq!(g.status, Status::Overdue);
        assert!(g.notes.iter().any(|n| n.contains("delay_reason is empty")));

        let mut late = base.to_vec();
        late.push(("ico_notified_at", "2026-11-05T10:00:00Z"));
        late.push(("delay_reason", "forensics"));
        let incs = vec![incident(&late)];
        let d = run(&incs, &r, &c, &s, "2026-11-20T00:00:00Z");
        let g = find(&d, "uk-gdpr-art33");
        assert_eq!(g.status, Status::MetLate);
        assert!(g.notes.is_empty());
    }

    #[test]
    fn unlikely_risk_is_not_notifiable_but_is_registered() {
        let incs = vec![incident(&[
            ("id", "B-2"),
            ("title", "t"),
            ("aware_at", "2026-11-02T09:00:00Z"),
            ("personal_data", "true"),
            ("risk_to_individuals", "unlikely"),
        ])];
        let (r, c, s) = (regimes(), calendar(), services());
        let d = run(&incs, &r, &c, &s, "2026-11-03T09:00:00Z");
        let g = find(&d, "uk-gdpr-art33");
        assert_eq!(g.status, Status::NotApplicable);
        assert!(g.reason.as_deref().unwrap().contains("unlikely"));
        let reg = find(&d, "uk-gdpr-art33-5");
        // Monday 09:00 + 5 working days = Monday 9 November 09:00.
        assert_eq!(reg.due_at, Some(utc("2026-11-09T09:00:00Z")));
    }

    #[test]
    fn tolerance_per_service_with_fractions() {
        let incs = vec![incident(&[
            ("id", "O-1"),
            ("title", "outage"),
            ("aware_at", "2026-11-02T09:00:00Z"),
            ("personal_data", "false"),
            ("sectors", "fca-regulated"),
            ("affected_services", "checkout"),
            ("disruption_start", "2026-11-02T08:30:00Z"),
        ])];
        let (r, c, s) = (regimes(), calendar(), services());
        let d = run(&incs, &r, &c, &s, "2026-11-02T11:00:00Z");
        let t = find(&d, "fca-sysc15a-impact-tolerance");
        assert_eq!(t.service.unwrap().id, "checkout");
        assert_eq!(t.status, Status::DueSoon);
        assert_eq!(t.threshold, Some("50%"));
        let d = run(&incs, &r, &c, &s, "2026-11-02T13:00:00Z");
        let t = find(&d, "fca-sysc15a-impact-tolerance");
        assert_eq!(t.status, Status::Overdue);
        assert!(Summary::of(1, &d.iter().collect::<Vec<_>>()).needs_attention());
    }

    #[test]
    fn dora_initial_takes_the_earlier_limit_and_rolls_off_weekends() {
        let mk = |classified: &str| {
            incident(&[
                ("id", "D-1"),
                ("title", "t"),
                ("aware_at", "2026-11-12T10:00:00Z"), // Thursday
                ("personal_data", "false"),
                ("sectors", "eu-financial-entity"),
                ("jurisdictions", "eu"),
                ("dora_classified_at", classified),
            ])
        };
        let (r, c, s) = (regimes(), calendar(), services());
        // Classified 2h after awareness: 4h from classification wins.
        let incs = vec![mk("2026-11-12T12:00:00Z")];
        let d = run(&incs, &r, &c, &s, "2026-11-12T13:00:00Z");
        assert_eq!(
            find(&d, "eu-dora-major-ict").due_at,
            Some(utc("2026-11-12T16:00:00Z"))
        );
        // Classified 22h after: the 24h cap wins (Friday 10:00).
        let incs = vec![mk("2026-11-13T08:00:00Z")];
        let d = run(&incs, &r, &c, &s, "2026-11-13T09:00:00Z");
        assert_eq!(
            find(&d, "eu-dora-major-ict").due_at,
            Some(utc("2026-11-13T10:00:00Z"))
        );
        // Classified on Friday 22:00 (after the 24h): 4h -> Saturday 02:00 -> Monday noon.
        let incs = vec![mk("2026-11-13T22:00:00Z")];
        let d = run(&incs, &r, &c, &s, "2026-11-13T23:00:00Z");
        let x = find(&d, "eu-dora-major-ict");
        assert_eq!(x.due_at, Some(utc("2026-11-16T12:00:00Z")));
        assert!(x.notes.iter().any(|n| n.contains("next working day")));
    }

    #[test]
    fn ai_act_picks_the_clock_by_category() {
        let mk = |cat: &str, class: &str, aware: &str| {
            incident(&[
                ("id", "A-1"),
                ("title", "t"),
                ("aware_at", aware),
                ("personal_data", "false"),
                ("sectors", "eu-ai-act-provider"),
                ("jurisdictions", "eu"),
                ("ai_act_category", cat),
                ("ai_system_class", class),
            ])
        };
        let (r, c, s) = (regimes(), calendar(), services());
        for (cat, days) in [
            ("death", 10),
            ("critical_infrastructure", 2),
            ("health", 15),
        ] {
            let incs = vec![mk(cat, "annex-iii", "2027-12-10T10:00:00Z")];
            let d = run(&incs, &r, &c, &s, "2027-12-10T11:00:00Z");
            let x = find(&d, "eu-ai-act-art73");
            assert_eq!(
                x.due_at,
                Some(utc("2027-12-10T10:00:00Z") + Duration::days(days)),
                "{cat}"
            );
        }
        // Art. 113(c) as amended: Annex III systems are high-risk from 2 December 2027,
        // Annex I systems from 2 August 2028.
        let before = vec![mk("death", "annex-iii", "2027-12-01T10:00:00Z")];
        let d = run(&before, &r, &c, &s, "2027-12-02T00:00:00Z");
        let na = find(&d, "eu-ai-act-art73");
        assert_eq!(na.status, Status::NotApplicable);
        assert!(na.reason.as_deref().unwrap().contains("2027-12-02"));
        let annex_i = vec![mk("death", "annex-i", "2028-01-10T10:00:00Z")];
        let d = run(&annex_i, &r, &c, &s, "2028-01-11T00:00:00Z");
        assert_eq!(find(&d, "eu-ai-act-art73").status, Status::NotApplicable);
        // No class given: the earliest date, with a note, so the clock is not lost.
        let unknown = vec![mk("death", "", "2028-01-10T10:00:00Z")];
        let d = run(&unknown, &r, &c, &s, "2028-01-11T00:00:00Z");
        let x = find(&d, "eu-ai-act-art73");
        assert_eq!(x.status, Status::Due);
        assert!(x
            .notes
            .iter()
            .any(|n| n.contains("ai_system_class is empty")));
    }

    #[test]
    fn not_started_until_the_start_field_exists() {
        let incs = vec![incident(&[
            ("id", "F-1"),
            ("title", "t"),
            ("aware_at", "2026-11-02T09:00:00Z"),
            ("personal_data", "false"),
            ("sectors", "fca-regulated"),
            ("severity", "major"),
        ])];
        let (r, c, s) = (regimes(), calendar(), services());
        let d = run(&incs, &r, &c, &s, "2026-11-02T10:00:00Z");
        let fin = d
            .iter()
            .find(|x| x.regime.id == "fca-pra-operational-incident" && x.clock_id() == "final")
            .unwrap();
        assert_eq!(fin.status, Status::NotStarted);
        assert!(fin.reason.as_deref().unwrap().contains("resolved_at"));
    }

    #[test]
    fn unassessed_risk_runs_the_clocks_with_a_note() {
        let incs = vec![incident(&[
            ("id", "U-1"),
            ("title", "t"),
            ("aware_at", "2026-11-02T09:00:00Z"),
            ("personal_data", "true"),
            ("jurisdictions", "uk"),
        ])];
        let (r, c, s) = (regimes(), calendar(), services());
        let d = run(&incs, &r, &c, &s, "2026-11-02T10:00:00Z");
        for regime in ["uk-gdpr-art33", "uk-gdpr-art34"] {
            let x = find(&d, regime);
            assert_eq!(x.status, Status::Due, "{regime}");
            assert!(x
                .notes
                .iter()
                .any(|n| n.contains("risk_to_individuals is not filled in")));
        }
    }

    #[test]
    fn pecr_breaches_are_not_also_uk_gdpr_notifications() {
        let mk = |aware: &str, public: &str| {
            incident(&[
                ("id", "P-1"),
                ("title", "t"),
                ("aware_at", aware),
                ("detected_at", aware),
                ("personal_data", "true"),
                ("risk_to_individuals", "risk"),
                ("sectors", "communications-provider"),
                ("jurisdictions", "uk"),
                ("public_comms_service", public),
            ])
        };
        let (r, c, s) = (regimes(), calendar(), services());
        // A breach in providing the public service: PECR, 72 hours since 20 August 2025.
        let incs = vec![mk("2026-11-02T09:00:00Z", "true")];
        let d = run(&incs, &r, &c, &s, "2026-11-02T10:00:00Z");
        assert_eq!(find(&d, "uk-gdpr-art33").status, Status::NotApplicable);
        assert_eq!(
            find(&d, "pecr-reg5a").due_at,
            Some(utc("2026-11-05T09:00:00Z"))
        );
        assert_eq!(find(&d, "uk-gdpr-art33-5").status, Status::Due);
        // The same before 20 August 2025: 24 hours from detection.
        let incs = vec![mk("2025-08-19T22:30:00Z", "true")];
        let d = run(&incs, &r, &c, &s, "2025-08-19T23:00:00Z");
        assert_eq!(
            find(&d, "pecr-reg5a").due_at,
            Some(utc("2025-08-20T22:30:00Z"))
        );
        // A telco's staff data: not the public service, so UK GDPR Art. 33, not PECR.
        let incs = vec![mk("2026-11-02T09:00:00Z", "false")];
        let d = run(&incs, &r, &c, &s, "2026-11-02T10:00:00Z");
        assert_eq!(find(&d, "pecr-reg5a").status, Status::NotApplicable);
        assert_eq!(
            find(&d, "uk-gdpr-art33").due_at,
            Some(utc("2026-11-05T09:00:00Z"))
        );
    }
}
