//! A deadline: one clock for one incident, where it stands (`Status`), the counts of many
//! (`Summary`), and the alert thresholds it has crossed. Built by `evaluate`; read by every
//! output.

use std::borrow::Cow;
use std::fmt;

use chrono::{DateTime, Duration, Utc};
use serde::Serialize;

use crate::clock::{push_human_duration, push_local_text, Period};
use crate::incidents::record::Incident;
use crate::regimes::model::{Clock, Regime, RegimeKind, Threshold};
use crate::regimes::services::ImportantBusinessService;

/// Where a clock stands. The order is the order of urgency.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Status {
    /// Not done and past the deadline (for a tolerance: breached now).
    Overdue,
    /// Not done; a warning threshold has been crossed.
    DueSoon,
    /// Not done; no threshold crossed yet.
    Due,
    /// Applies, but the event that starts the clock has not happened yet.
    NotStarted,
    /// Done after the deadline (for a tolerance: it was breached).
    MetLate,
    /// Done in time.
    Met,
    /// The regime does not apply to this incident (with the reason).
    NotApplicable,
}

impl Status {
    pub fn as_str(&self) -> &'static str {
        match self {
            Status::Overdue => "overdue",
            Status::DueSoon => "due-soon",
            Status::Due => "due",
            Status::NotStarted => "not-started",
            Status::MetLate => "met-late",
            Status::Met => "met",
            Status::NotApplicable => "not-applicable",
        }
    }

    pub fn is_open(&self) -> bool {
        matches!(self, Status::Overdue | Status::DueSoon | Status::Due)
    }

    pub const ALL: [Status; 7] = [
        Status::Overdue,
        Status::DueSoon,
        Status::Due,
        Status::NotStarted,
        Status::MetLate,
        Status::Met,
        Status::NotApplicable,
    ];
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One clock for one incident (and, for tolerances, one service).
#[derive(Debug, Clone)]
pub struct Deadline<'a> {
    pub incident: &'a Incident,
    pub regime: &'a Regime,
    /// `None` when the regime does not apply at all.
    pub clock: Option<&'a Clock>,
    pub service: Option<&'a ImportantBusinessService>,
    pub status: Status,
    /// Why not applicable, or what the clock waits for.
    pub reason: Option<Cow<'a, str>>,
    pub started_at: Option<DateTime<Utc>>,
    pub start_field: Option<&'a str>,
    pub due_at: Option<DateTime<Utc>>,
    pub done_at: Option<DateTime<Utc>>,
    /// The period that set the deadline.
    pub period: Option<Period>,
    /// The most urgent alert threshold crossed (open clocks only).
    pub threshold: Option<&'a str>,
    pub notes: Vec<String>,
    /// Done (or due) late with no reasons for the delay on file.
    pub late_reasons_missing: bool,
    /// Position of incident, regime, clock and service, for a stable order.
    pub order: u64,
}

impl<'a> Deadline<'a> {
    /// Minutes left (negative when late): to the deadline if open, spare or late if done.
    pub fn minutes_left(&self, now: DateTime<Utc>) -> Option<i64> {
        let due = self.due_at?;
        let at = self.done_at.unwrap_or(now);
        Some((due - at).num_minutes())
    }

    /// Fraction of the period used up by the time it was done (or now).
    pub fn used_fraction(&self, now: DateTime<Utc>) -> Option<f64> {
        let (start, due) = (self.started_at?, self.due_at?);
        let span = (due - start).num_seconds();
        if span <= 0 {
            return None;
        }
        let at = self.done_at.unwrap_or(now);
        // A clock that starts after `now` (a future-dated start) has used none of its time.
        Some(((at - start).num_seconds() as f64 / span as f64).max(0.0))
    }

    /// `3h 10m left`, `late by 2d 01h 00m`, `done with 5h 00m to spare`.
    pub fn time_text(&self, now: DateTime<Utc>) -> String {
        let mut s = String::new();
        self.push_time_text(&mut s, now);
        s
    }

    /// Appends what `time_text` returns.
    pub fn push_time_text(&self, buf: &mut String, now: DateTime<Utc>) {
        let Some(m) = self.minutes_left(now) else {
            return;
        };
        let d = Duration::minutes(m);
        match (self.done_at.is_some(), m >= 0) {
            (true, true) => {
                buf.push_str("done with ");
                push_human_duration(buf, d);
                buf.push_str(" to spare");
            }
            (true, false) => {
                buf.push_str("done ");
                push_human_duration(buf, d);
                buf.push_str(" late");
            }
            (false, true) => {
                push_human_duration(buf, d);
                buf.push_str(" left");
            }
            (false, false) => {
                buf.push_str("late by ");
                push_human_duration(buf, d);
            }
        }
    }

    pub fn clock_id(&self) -> &str {
        self.clock.map_or("-", |c| c.id.as_str())
    }

    /// `uk-gdpr-art33/notify-ico` (plus `@service` for a tolerance).
    pub fn key(&self) -> String {
        let mut k = format!(
            "{}/{}/{}",
            self.incident.id,
            self.regime.id,
            self.clock_id()
        );
        if let Some(s) = self.service {
            k.push('@');
            k.push_str(&s.id);
        }
        k
    }

    /// What to do next, in plain English.
    pub fn next_action(&self, now: DateTime<Utc>, tz: chrono_tz::Tz) -> String {
        let mut s = String::new();
        self.push_next_action(&mut s, now, tz);
        s
    }

    /// Appends what `next_action` returns.
    pub fn push_next_action(&self, buf: &mut String, now: DateTime<Utc>, tz: chrono_tz::Tz) {
        let action = self.clock.map(|c| c.action.as_str()).unwrap_or("");
        let tolerance = self.regime.kind == RegimeKind::Tolerance;
        let svc = self.service.map(|s| s.name.as_str()).unwrap_or("");
        let due = |buf: &mut String| {
            if let Some(t) = self.due_at {
                push_local_text(buf, t, tz);
            }
        };
        match self.status {
            Status::NotApplicable => buf.push_str("Nothing: does not apply"),
            Status::NotStarted => {
                buf.push_str("Nothing yet: the clock ");
                buf.push_str(self.reason.as_deref().unwrap_or("has not started"));
            }
            Status::Met => buf.push_str("Nothing: done in time"),
            Status::MetLate if tolerance => {
                buf.push_str(svc);
                buf.push_str(" was out of tolerance for ");
                let late = -self.minutes_left(now).unwrap_or(0);
                push_human_duration(buf, Duration::minutes(late));
                buf.push_str(
                    ": record the breach, its cause and lessons learned, and tell the FCA/PRA",
                );
            }
            Status::MetLate => buf.push_str("Done late: keep the reasons for the delay on file"),
            Status::Overdue if tolerance => {
                buf.push_str("IMPACT TOLERANCE BREACHED for ");
                buf.push_str(svc);
                buf.push_str(" since ");
                due(buf);
                buf.push_str(": ");
                buf.push_str(action);
            }
            Status::Overdue => {
                buf.push_str("OVERDUE since ");
                due(buf);
                buf.push_str(": ");
                buf.push_str(action);
            }
            Status::DueSoon | Status::Due if tolerance => {
                buf.push_str("Restore ");
                buf.push_str(svc);
                buf.push_str(" by ");
                due(buf);
                if let Some(f) = self.used_fraction(now) {
                    buf.push_str(" (");
                    buf.push_str(itoa::Buffer::new().format((f * 100.0).round() as i64));
                    buf.push_str("% of the tolerance used)");
                }
            }
            Status::DueSoon | Status::Due => {
                buf.push_str(action);
                buf.push_str(" by ");
                due(buf);
            }
        }
        if self.late_reasons_missing {
            if let Some(n) = self.notes.iter().find(|n| n.ends_with("is empty")) {
                buf.push_str(". ");
                buf.push_str(n);
            }
        }
    }
}

/// Counts for the summary line and the exit code.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Summary {
    pub incidents: usize,
    pub clocks: usize,
    pub overdue: usize,
    pub due_soon: usize,
    pub due: usize,
    pub not_started: usize,
    pub met_late: usize,
    pub met: usize,
    pub not_applicable: usize,
    /// Tolerance clocks breached, now or earlier.
    pub tolerance_breaches: usize,
    /// Late clocks with no reasons for the delay on file.
    pub late_reasons_missing: usize,
}

impl Summary {
    pub fn of(incidents: usize, list: &[&Deadline]) -> Summary {
        let mut s = Summary {
            incidents,
            ..Summary::default()
        };
        for d in list {
            s.count(d);
        }
        s
    }

    /// Adds one deadline to the counts.
    pub fn count(&mut self, d: &Deadline) {
        match d.status {
            Status::Overdue => self.overdue += 1,
            Status::DueSoon => self.due_soon += 1,
            Status::Due => self.due += 1,
            Status::NotStarted => self.not_started += 1,
            Status::MetLate => self.met_late += 1,
            Status::Met => self.met += 1,
            Status::NotApplicable => self.not_applicable += 1,
        }
        if d.status != Status::NotApplicable {
            self.clocks += 1;
        }
        if d.regime.kind == RegimeKind::Tolerance
            && matches!(d.status, Status::Overdue | Status::MetLate)
        {
            self.tolerance_breaches += 1;
        }
        if d.late_reasons_missing {
            self.late_reasons_missing += 1;
        }
    }

    /// Adds another summary's counts (not its incident count).
    pub fn merge(&mut self, o: &Summary) {
        self.clocks += o.clocks;
        self.overdue += o.overdue;
        self.due_soon += o.due_soon;
        self.due += o.due;
        self.not_started += o.not_started;
        self.met_late += o.met_late;
        self.met += o.met;
        self.not_applicable += o.not_applicable;
        self.tolerance_breaches += o.tolerance_breaches;
        self.late_reasons_missing += o.late_reasons_missing;
    }

    /// Something needs attention now: an open clock past its deadline (an impact tolerance
    /// being breached now included). Breaches that have ended are history, not an alarm.
    pub fn needs_attention(&self) -> bool {
        self.overdue > 0
    }
}

/// Thresholds of an open clock crossed by `now`, earliest first.
pub fn crossed_thresholds<'a>(
    d: &Deadline<'a>,
    now: DateTime<Utc>,
) -> Vec<(&'a str, &'a Threshold)> {
    let (Some(clock), Some(start), Some(due)) = (d.clock, d.started_at, d.due_at) else {
        return Vec::new();
    };
    if !d.status.is_open() {
        return Vec::new();
    }
    let mut v: Vec<_> = clock
        .thresholds
        .iter()
        .map(|(l, t)| (l.as_str(), t, t.crossed_at(start, due)))
        .filter(|(_, _, at)| *at <= now)
        .collect();
    v.sort_by_key(|(_, _, at)| *at);
    v.into_iter().map(|(l, t, _)| (l, t)).collect()
}
