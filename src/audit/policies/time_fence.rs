//! `time-fence`: a destructive production change out of working hours (local time,
//! Monday to Friday) or on a bank holiday.

use anyhow::Result;
use chrono::{NaiveTime, Timelike};
use chrono_tz::Tz;

use crate::audit::event::{millis_to_time, AuditEvent};
use crate::audit::model::Hit;
use crate::clock::Calendar;

use super::hits::{hit, is_prod, sentence, Quoted, Text};
use super::params::{time_of_day, Destructive, Params};

/// Working hours, in `tz`, and what counts as destructive.
#[derive(Debug, Clone)]
pub struct TimeFence {
    destructive: Destructive,
    start: NaiveTime,
    end: NaiveTime,
    tz: Tz,
}

impl TimeFence {
    /// Working hours are in the display time zone unless `timezone` says otherwise.
    pub fn parse(params: &Params, display_tz: Tz) -> Result<TimeFence> {
        let tz_name = params.text("timezone", &display_tz.to_string())?;
        Ok(TimeFence {
            destructive: params.destructive()?,
            start: time_of_day(&params.text("start", "09:00")?, "start")?,
            end: time_of_day(&params.text("end", "17:30")?, "end")?,
            tz: crate::clock::parse_tz(&tz_name)?,
        })
    }
}

/// Hits on a batch of events (bit `k` of `in_prod`: `events[k]` is in production).
#[inline]
pub fn check<'b>(
    policy: usize,
    fence: &TimeFence,
    calendar: &Calendar,
    events: &[AuditEvent<'b>],
    in_prod: u64,
    out: &mut Vec<Hit<'b>>,
) {
    let TimeFence {
        destructive,
        start,
        end,
        tz,
    } = fence;
    for (k, e) in events.iter().enumerate() {
        if is_prod(in_prod, k) && destructive.holds(e) {
            let local = millis_to_time(e.at).with_timezone(tz);
            let date = local.date_naive();
            let t = local.time();
            let working_day = calendar.is_working_day(date);
            if !working_day || t < *start || t >= *end {
                let why = if calendar.is_bank_holiday(date) {
                    "on a bank holiday".to_string()
                } else if !working_day {
                    format!("on a {}", local.format("%A"))
                } else {
                    let mut why = String::with_capacity(40);
                    why.push_str("at ");
                    crate::clock::push_hh_mm(&mut why, t.hour(), t.minute());
                    why.push_str(" local time, outside ");
                    crate::clock::push_hh_mm(&mut why, start.hour(), start.minute());
                    why.push('–');
                    crate::clock::push_hh_mm(&mut why, end.hour(), end.minute());
                    why
                };
                out.push(hit(
                    policy,
                    e,
                    e.change_id.clone(),
                    sentence(&[
                        Text(&e.actor),
                        Text(" ran "),
                        Quoted(&e.action),
                        Text(" on "),
                        Text(&e.resource),
                        Text(" in production "),
                        Text(&why),
                    ]),
                ));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::hits::testing::{details, event, policy, WEDNESDAY_10AM};
    use super::*;

    fn fence() -> TimeFence {
        let p = policy("time-fence", "timezone = \"Europe/London\"");
        TimeFence::parse(&Params { policy: &p }, chrono_tz::UTC).expect("params")
    }

    #[test]
    fn a_delete_in_the_evening_or_at_the_weekend_is_a_hit() {
        let calendar = Calendar::weekends_only(chrono_tz::Europe::London);
        let mut evening = event();
        evening.at = WEDNESDAY_10AM + 8 * 3_600_000;
        let mut saturday = event();
        saturday.at = WEDNESDAY_10AM + 3 * 86_400_000;
        let mut out = Vec::new();
        check(0, &fence(), &calendar, &[evening, saturday], 0b11, &mut out);
        assert_eq!(
            details(&out),
            [
                "agent-7 ran \"DeleteDBInstance\" on db/orders in production at 18:00 local time, outside 09:00–17:30",
                "agent-7 ran \"DeleteDBInstance\" on db/orders in production on a Saturday",
            ]
        );
    }

    #[test]
    fn a_delete_in_working_hours_or_outside_production_is_no_hit() {
        let calendar = Calendar::weekends_only(chrono_tz::Europe::London);
        let mut late_staging = event();
        late_staging.at = WEDNESDAY_10AM + 8 * 3_600_000;
        let mut out = Vec::new();
        check(
            0,
            &fence(),
            &calendar,
            &[event(), late_staging],
            0b01,
            &mut out,
        );
        assert!(out.is_empty());
    }
}
