//! Clock maths: periods, working days, UK bank holidays and Europe/London display.
//!
//! Everything here is pure: callers pass instants in, instants come out. All instants are
//! UTC; local time is only used where a rule is defined in local terms (calendar days and
//! months, working days, "noon on the next working day") and for display.

use std::collections::BTreeSet;
use std::fmt;
use std::path::Path;

use anyhow::{bail, Context, Result};
use chrono::{
    DateTime, Datelike, Days, Duration, LocalResult, Months, NaiveDate, NaiveDateTime, NaiveTime,
    TimeZone, Utc, Weekday,
};
use chrono_tz::Tz;
use serde::Deserialize;

/// A length of time as a rule states it. Calendar hours are absolute (a 72-hour clock is
/// 72 real hours even across a clock change); days, months and working days are counted
/// on the local calendar, keeping the local time of day.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Period {
    Minutes(i64),
    Hours(i64),
    CalendarDays(u32),
    WorkingDays(u32),
    CalendarMonths(u32),
}

impl Period {
    /// Parses `"72 hours"`, `"4h"`, `"15 days"`, `"30 working days"`, `"1 month"`, `"90m"`.
    pub fn parse(text: &str) -> Result<Period> {
        let t = text.trim().to_ascii_lowercase();
        let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
        let (num, unit) = t.split_at(split);
        let n: i64 = num
            .parse()
            .with_context(|| format!("period {text:?} must start with a whole number"))?;
        if n < 0 {
            bail!("period {text:?} must not be negative");
        }
        let unit = unit.trim();
        let p = match unit {
            "m" | "min" | "mins" | "minute" | "minutes" => Period::Minutes(n),
            "h" | "hr" | "hrs" | "hour" | "hours" | "calendar hours" => Period::Hours(n),
            "d" | "day" | "days" | "calendar day" | "calendar days" => {
                Period::CalendarDays(n as u32)
            }
            "wd" | "working day" | "working days" | "business day" | "business days" => {
                Period::WorkingDays(n as u32)
            }
            "mo" | "month" | "months" | "calendar month" | "calendar months" => {
                Period::CalendarMonths(n as u32)
            }
            _ => bail!(
                "period {text:?}: unknown unit {unit:?} (use minutes, hours, days, working days or months)"
            ),
        };
        Ok(p)
    }

    /// The nominal length, used for "fraction elapsed" thresholds.
    pub fn nominal(&self) -> Duration {
        match *self {
            Period::Minutes(m) => Duration::minutes(m),
            Period::Hours(h) => Duration::hours(h),
            Period::CalendarDays(d) => Duration::days(d as i64),
            Period::WorkingDays(d) => Duration::days(d as i64),
            Period::CalendarMonths(m) => Duration::days(30 * m as i64),
        }
    }
}

impl Period {
    /// Appends what `Display` writes, without the formatting machinery.
    pub fn push_to(&self, buf: &mut String) {
        let (n, unit) = match *self {
            Period::Minutes(n) => (n, "minute"),
            Period::Hours(n) => (n, "hour"),
            Period::CalendarDays(n) => (n as i64, "calendar day"),
            Period::WorkingDays(n) => (n as i64, "working day"),
            Period::CalendarMonths(n) => (n as i64, "calendar month"),
        };
        buf.push_str(itoa::Buffer::new().format(n));
        buf.push(' ');
        buf.push_str(unit);
        if n != 1 {
            buf.push('s');
        }
    }
}

impl fmt::Display for Period {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (n, unit) = match *self {
            Period::Minutes(n) => (n, "minute"),
            Period::Hours(n) => (n, "hour"),
            Period::CalendarDays(n) => (n as i64, "calendar day"),
            Period::WorkingDays(n) => (n as i64, "working day"),
            Period::CalendarMonths(n) => (n as i64, "calendar month"),
        };
        write!(f, "{n} {unit}{}", if n == 1 { "" } else { "s" })
    }
}

impl<'de> Deserialize<'de> for Period {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Period::parse(&s).map_err(|e| serde::de::Error::custom(format!("{e:#}")))
    }
}

/// Bank holidays of one UK division, from gov.uk's `bank-holidays.json` format.
#[derive(Debug, Clone)]
pub struct Calendar {
    pub tz: Tz,
    pub region: String,
    holidays: BTreeSet<NaiveDate>,
    /// Last date the holiday data speaks for; beyond it only weekends count as closed.
    pub covers_until: Option<NaiveDate>,
}

#[derive(Deserialize)]
struct GovUkDivision {
    events: Vec<GovUkEvent>,
}

#[derive(Deserialize)]
struct GovUkEvent {
    date: NaiveDate,
}

impl Calendar {
    /// A calendar with weekends only (no bank holidays).
    pub fn weekends_only(tz: Tz) -> Calendar {
        Calendar {
            tz,
            region: "none".into(),
            holidays: BTreeSet::new(),
            covers_until: None,
        }
    }

    pub fn from_govuk_json(text: &str, region: &str, tz: Tz) -> Result<Calendar> {
        let all: std::collections::BTreeMap<String, GovUkDivision> =
            serde_json::from_str(text).context("bank holidays are not in gov.uk's format")?;
        let Some(div) = all.get(region) else {
            let known: Vec<_> = all.keys().cloned().collect();
            bail!(
                "no bank holidays for region {region:?} (known: {})",
                known.join(", ")
            );
        };
        let holidays: BTreeSet<NaiveDate> = div.events.iter().map(|e| e.date).collect();
        let covers_until = holidays
            .iter()
            .next_back()
            .and_then(|d| NaiveDate::from_ymd_opt(d.year(), 12, 31));
        Ok(Calendar {
            tz,
            region: region.to_string(),
            holidays,
            covers_until,
        })
    }

    /// National public holidays of one country, from `mappings/eu-public-holidays.json`
    /// (`{"countries": {"IE": [{"date": ..., "name": ...}]}}`); `years` says which
    /// years the data covers.
    pub fn from_country_json(text: &str, country: &str, tz: Tz) -> Result<Calendar> {
        #[derive(Deserialize)]
        struct File {
            years: Vec<i32>,
            countries: std::collections::BTreeMap<String, Vec<GovUkEvent>>,
        }
        let file: File =
            serde_json::from_str(text).context("public holidays are not in the expected format")?;
        let Some(days) = file.countries.get(country) else {
            let known: Vec<_> = file.countries.keys().cloned().collect();
            bail!(
                "no public holidays for country {country:?} (known: {})",
                known.join(", ")
            );
        };
        Ok(Calendar {
            tz,
            region: country.to_string(),
            holidays: days.iter().map(|e| e.date).collect(),
            covers_until: file
                .years
                .iter()
                .max()
                .and_then(|y| NaiveDate::from_ymd_opt(*y, 12, 31)),
        })
    }

    /// `uk-bank-holidays.json` from the mappings folder `dir`, else the built-in one.
    pub fn load(dir: Option<&Path>, region: &str, tz: Tz) -> Result<Calendar> {
        let (text, origin) = crate::util::defaults::read_mapping(dir, "uk-bank-holidays.json")?;
        Calendar::from_govuk_json(&text, region, tz)
            .with_context(|| format!("in {}", origin.label()))
    }

    /// Every bank holiday the data lists (for SQL scripts that test dates themselves).
    pub fn bank_holidays(&self) -> impl Iterator<Item = NaiveDate> + '_ {
        self.holidays.iter().copied()
    }

    pub fn is_bank_holiday(&self, d: NaiveDate) -> bool {
        self.holidays.contains(&d)
    }

    pub fn is_working_day(&self, d: NaiveDate) -> bool {
        !matches!(d.weekday(), Weekday::Sat | Weekday::Sun) && !self.is_bank_holiday(d)
    }

    /// True when a computation needs dates the holiday data does not cover.
    pub fn beyond_data(&self, d: NaiveDate) -> bool {
        matches!(self.covers_until, Some(end) if d > end)
    }

    pub fn next_working_day(&self, mut d: NaiveDate) -> NaiveDate {
        loop {
            d = d.succ_opt().expect("date in range");
            if self.is_working_day(d) {
                return d;
            }
        }
    }

    /// The instant a period after `start` ends.
    pub fn add(&self, start: DateTime<Utc>, period: Period) -> DateTime<Utc> {
        match period {
            Period::Minutes(m) => start + Duration::minutes(m),
            Period::Hours(h) => start + Duration::hours(h),
            Period::CalendarDays(d) => {
                let local = start.with_timezone(&self.tz).naive_local();
                self.resolve_local(local + Days::new(d as u64))
            }
            Period::CalendarMonths(m) => {
                let local = start.with_timezone(&self.tz).naive_local();
                // chrono clamps to the month's last day (31 Jan + 1 month = 28/29 Feb).
                let shifted = local
                    .checked_add_months(Months::new(m))
                    .unwrap_or(NaiveDateTime::MAX);
                self.resolve_local(shifted)
            }
            Period::WorkingDays(n) => {
                let local = start.with_timezone(&self.tz).naive_local();
                let mut day = local.date();
                for _ in 0..n {
                    day = self.next_working_day(day);
                }
                self.resolve_local(day.and_time(local.time()))
            }
        }
    }

    /// Moves a deadline that falls on a weekend or bank holiday to 12:00 local time on the
    /// next working day (the DORA rule); a deadline on a working day is left alone.
    pub fn roll_to_next_working_day_noon(&self, at: DateTime<Utc>) -> DateTime<Utc> {
        let day = at.with_timezone(&self.tz).date_naive();
        if self.is_working_day(day) {
            return at;
        }
        let next = self.next_working_day(day);
        self.resolve_local(next.and_time(NaiveTime::from_hms_opt(12, 0, 0).expect("noon")))
    }

    /// A local wall-clock time to an instant for computed deadlines: a time skipped by the
    /// spring change moves forward an hour; a time the autumn change repeats takes the
    /// earlier instant, so the firm is never told it has more time than it does.
    fn resolve_local(&self, local: NaiveDateTime) -> DateTime<Utc> {
        match self.tz.from_local_datetime(&local) {
            LocalResult::Single(t) => t.with_timezone(&Utc),
            LocalResult::Ambiguous(early, _late) => early.with_timezone(&Utc),
            LocalResult::None => {
                let later = local + Duration::hours(1);
                match self.tz.from_local_datetime(&later) {
                    LocalResult::Single(t) | LocalResult::Ambiguous(t, _) => t.with_timezone(&Utc),
                    LocalResult::None => Utc.from_utc_datetime(&local),
                }
            }
        }
    }
}

/// Why a timestamp in an input could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TimestampError {
    #[error("{0:?} is not a timestamp (use RFC 3339, e.g. 2026-03-29T01:30:00Z or 2026-03-29 02:30 local)")]
    Unparseable(String),
    #[error("{0:?} does not exist in {1} (the clocks went forward); give an offset")]
    NonExistent(String, Tz),
    #[error("{0:?} happens twice in {1} (the clocks went back); give an offset such as +01:00 or +00:00")]
    Ambiguous(String, Tz),
    #[error("{0:?} has the offset {1}, beyond the +/-18:00 any time zone uses")]
    Offset(String, String),
    #[error("{0:?} is outside the years 1970 to 9999 (a typo in the year?)")]
    OutOfRange(String),
}

/// The largest UTC offset accepted: the widest any time zone has used (RFC 3339 and
/// ISO 8601 leave room for more; chrono accepts up to 99:59).
const MAX_OFFSET_SECS: i32 = 18 * 3600;

/// Reads a timestamp: RFC 3339 with an offset, or a local time without one read in `tz`.
/// A local time that a clock change skips or repeats is an error, never a guess.
pub fn parse_timestamp(text: &str, tz: Tz) -> Result<DateTime<Utc>, TimestampError> {
    parse_with_offset(text.trim(), tz).map(|(utc, _)| utc)
}

/// `parse_timestamp`, for the times a clock runs on (incident fields, `--now`): an offset
/// beyond +/-18:00, or an instant outside 1970-01-01T00:00:00Z to 9999-12-31T23:59:59Z
/// (past which RFC 3339 output is no longer valid), is an error too.
pub fn parse_clock_timestamp(text: &str, tz: Tz) -> Result<DateTime<Utc>, TimestampError> {
    let t = text.trim();
    let (utc, offset) = parse_with_offset(t, tz)?;
    if let Some(secs) = offset.filter(|s| s.abs() > MAX_OFFSET_SECS) {
        let sign = if secs < 0 { '-' } else { '+' };
        let m = secs.abs() / 60;
        return Err(TimestampError::Offset(
            t.to_string(),
            format!("{sign}{:02}:{:02}", m / 60, m % 60),
        ));
    }
    if !(1970..=9999).contains(&utc.year()) {
        return Err(TimestampError::OutOfRange(t.to_string()));
    }
    Ok(utc)
}

/// The instant, and the offset when one was written (seconds east of UTC).
fn parse_with_offset(t: &str, tz: Tz) -> Result<(DateTime<Utc>, Option<i32>), TimestampError> {
    if let Some((utc, offset)) = parse_rfc3339_fast(t) {
        return Ok((utc, Some(offset)));
    }
    parse_slow(t, tz)
}

fn parse_slow(t: &str, tz: Tz) -> Result<(DateTime<Utc>, Option<i32>), TimestampError> {
    if let Ok(dt) = DateTime::parse_from_rfc3339(t) {
        return Ok((dt.with_timezone(&Utc), Some(dt.offset().local_minus_utc())));
    }
    // RFC 3339 allows a space for the T.
    for fmt in [
        "%Y-%m-%d %H:%M:%S%:z",
        "%Y-%m-%d %H:%M%:z",
        "%Y-%m-%dT%H:%M%:z",
    ] {
        if let Ok(dt) = DateTime::parse_from_str(t, fmt) {
            return Ok((dt.with_timezone(&Utc), Some(dt.offset().local_minus_utc())));
        }
    }
    let t_z = t.strip_suffix('Z').or_else(|| t.strip_suffix('z'));
    let naive_formats = [
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%d %H:%M:%S%.f",
        "%Y-%m-%dT%H:%M",
        "%Y-%m-%d %H:%M",
    ];
    if let Some(body) = t_z {
        for fmt in naive_formats {
            if let Ok(n) = NaiveDateTime::parse_from_str(body, fmt) {
                return Ok((Utc.from_utc_datetime(&n), Some(0)));
            }
        }
    }
    for fmt in naive_formats {
        if let Ok(n) = NaiveDateTime::parse_from_str(t, fmt) {
            return match tz.from_local_datetime(&n) {
                LocalResult::Single(dt) => Ok((dt.with_timezone(&Utc), None)),
                LocalResult::None => Err(TimestampError::NonExistent(t.to_string(), tz)),
                LocalResult::Ambiguous(..) => Err(TimestampError::Ambiguous(t.to_string(), tz)),
            };
        }
    }
    Err(TimestampError::Unparseable(t.to_string()))
}

// Formatting is hand-rolled: these run several times per deadline, and a million
// incidents give millions of deadlines; chrono's strftime is an interpreter.

fn push_num(buf: &mut String, n: u32, width: usize) {
    if width == 2 && n < 100 {
        buf.push((b'0' + (n / 10) as u8) as char);
        buf.push((b'0' + (n % 10) as u8) as char);
        return;
    }
    let mut digits = [b'0'; 10];
    let mut v = n;
    let mut i = digits.len();
    while v > 0 || i == digits.len() {
        i -= 1;
        digits[i] = b'0' + (v % 10) as u8;
        v /= 10;
    }
    for _ in (digits.len() - i)..width {
        buf.push('0');
    }
    for &d in &digits[i..] {
        buf.push(d as char);
    }
}

/// `YYYY-MM-DD`, then `sep`, then `HH:MM`, and `:SS` when `seconds`. Built in a stack
/// buffer and appended once: this runs several times for every deadline written.
/// `HH:MM`, as `%H:%M` prints a time.
pub(crate) fn push_hh_mm(buf: &mut String, hour: u32, minute: u32) {
    push_num(buf, hour, 2);
    buf.push(':');
    push_num(buf, minute, 2);
}

/// Appends a date as chrono's `Display` prints it (`2026-02-28`), without its formatting
/// machinery (findings that name a day are made for many events).
pub(crate) fn push_date(buf: &mut String, d: NaiveDate) {
    match u32::try_from(d.year()) {
        Ok(year) if year <= 9999 => {
            push_num(buf, year, 4);
            buf.push('-');
            push_num(buf, d.month(), 2);
            buf.push('-');
            push_num(buf, d.day(), 2);
        }
        _ => {
            use std::fmt::Write;
            let _ = write!(buf, "{d}");
        }
    }
}

fn push_datetime(buf: &mut String, t: &NaiveDateTime, sep: char, seconds: bool) {
    use chrono::Timelike;
    let year = t.year();
    if !(0..=9999).contains(&year) {
        push_num(buf, year.unsigned_abs(), 4);
        buf.push('-');
        push_num(buf, t.month(), 2);
        buf.push('-');
        push_num(buf, t.day(), 2);
        buf.push(sep);
        push_num(buf, t.hour(), 2);
        buf.push(':');
        push_num(buf, t.minute(), 2);
        if seconds {
            buf.push(':');
            push_num(buf, t.second(), 2);
        }
        return;
    }
    let d = |n: u32| [b'0' + (n / 10) as u8, b'0' + (n % 10) as u8];
    let y = year as u32;
    let (y1, y2) = (d(y / 100), d(y % 100));
    let (mo, da, h, mi, se) = (
        d(t.month()),
        d(t.day()),
        d(t.hour()),
        d(t.minute()),
        d(t.second()),
    );
    let sep = if sep.is_ascii() { sep as u8 } else { b' ' };
    let out = [
        y1[0], y1[1], y2[0], y2[1], b'-', mo[0], mo[1], b'-', da[0], da[1], sep, h[0], h[1], b':',
        mi[0], mi[1], b':', se[0], se[1],
    ];
    let len = if seconds { 19 } else { 16 };
    buf.push_str(std::str::from_utf8(&out[..len]).expect("ASCII digits"));
}

fn push_offset(buf: &mut String, secs: i32) {
    buf.push(if secs < 0 { '-' } else { '+' });
    let m = secs.unsigned_abs() / 60;
    push_num(buf, m / 60, 2);
    buf.push(':');
    push_num(buf, m % 60, 2);
}

/// The local wall-clock time, its UTC offset in seconds and the zone's offset record.
fn local_parts(t: DateTime<Utc>, tz: Tz) -> (NaiveDateTime, i32, chrono_tz::TzOffset) {
    use chrono::Offset;
    let naive = t.naive_utc();
    let off = tz.offset_from_utc_datetime(&naive);
    let secs = off.fix().local_minus_utc();
    (naive + Duration::seconds(secs as i64), secs, off)
}

/// The common exact forms `2026-03-30T10:00:00Z` and `2026-03-30T10:00:00+01:00`, read
/// without chrono's general parser (a million-row file has millions of them). Anything
/// else, or anything out of range, returns `None` and takes the general path.
/// The instant and the offset written (in seconds east of UTC).
fn parse_rfc3339_fast(t: &str) -> Option<(DateTime<Utc>, i32)> {
    let b = t.as_bytes();
    if !(b.len() == 20 || b.len() == 25)
        || b[4] != b'-'
        || b[7] != b'-'
        || b[10] != b'T'
        || b[13] != b':'
        || b[16] != b':'
    {
        return None;
    }
    let num = |r: std::ops::Range<usize>| -> Option<u32> {
        b[r].iter().try_fold(0u32, |acc, &c| {
            c.is_ascii_digit().then(|| acc * 10 + (c - b'0') as u32)
        })
    };
    let date = NaiveDate::from_ymd_opt(num(0..4)? as i32, num(5..7)?, num(8..10)?)?;
    let time = NaiveTime::from_hms_opt(num(11..13)?, num(14..16)?, num(17..19)?)?;
    let offset = match (b.len(), b[19]) {
        (20, b'Z') => 0,
        (25, sign @ (b'+' | b'-')) if b[22] == b':' => {
            let secs = (num(20..22)? * 3600 + num(23..25)? * 60) as i64;
            if sign == b'-' {
                -secs
            } else {
                secs
            }
        }
        _ => return None,
    };
    let naive = date.and_time(time) - Duration::seconds(offset);
    Some((Utc.from_utc_datetime(&naive), offset as i32))
}

/// Appends `2026-03-30T10:00:00Z`.
pub fn push_utc(buf: &mut String, t: DateTime<Utc>) {
    push_datetime(buf, &t.naive_utc(), 'T', true);
    buf.push('Z');
}

/// `2026-03-30T10:00:00Z`: the stored, machine form.
pub fn utc_text(t: DateTime<Utc>) -> String {
    let mut s = String::with_capacity(20);
    push_utc(&mut s, t);
    s
}

/// Appends `2026-03-30 11:00 BST (+01:00)`.
pub fn push_local_text(buf: &mut String, t: DateTime<Utc>, tz: Tz) {
    use chrono_tz::OffsetName;
    let (local, secs, off) = local_parts(t, tz);
    push_datetime(buf, &local, ' ', false);
    buf.push(' ');
    match off.abbreviation() {
        Some(a) => buf.push_str(a),
        None => push_offset(buf, secs),
    }
    buf.push_str(" (");
    push_offset(buf, secs);
    buf.push(')');
}

/// `2026-03-30 11:00 BST (+01:00)`: what a person in the UK reads.
pub fn local_text(t: DateTime<Utc>, tz: Tz) -> String {
    let mut s = String::with_capacity(30);
    push_local_text(&mut s, t, tz);
    s
}

/// Appends `2026-03-30T11:00:00+01:00`.
pub fn push_local_rfc3339(buf: &mut String, t: DateTime<Utc>, tz: Tz) {
    let (local, secs, _) = local_parts(t, tz);
    push_datetime(buf, &local, 'T', true);
    push_offset(buf, secs);
}

/// `2026-03-30T11:00:00+01:00`: local time as RFC 3339, for machines.
pub fn local_rfc3339(t: DateTime<Utc>, tz: Tz) -> String {
    let mut s = String::with_capacity(25);
    push_local_rfc3339(&mut s, t, tz);
    s
}

/// Appends `2d 03h 15m` (or `3h 05m`) for the absolute value of `d`.
pub fn push_human_duration(buf: &mut String, d: Duration) {
    let total = d.num_minutes().unsigned_abs();
    let (days, hours, mins) = (total / 1440, (total % 1440) / 60, total % 60);
    if days > 0 {
        buf.push_str(itoa::Buffer::new().format(days));
        buf.push_str("d ");
        push_num(buf, hours as u32, 2);
    } else {
        buf.push_str(itoa::Buffer::new().format(hours));
    }
    buf.push_str("h ");
    push_num(buf, mins as u32, 2);
    buf.push('m');
}

/// `2d 03h 15m`: a duration as people read it (always positive; callers say left or late).
pub fn human_duration(d: Duration) -> String {
    let mut s = String::with_capacity(12);
    push_human_duration(&mut s, d);
    s
}

/// Parses a time zone name such as `Europe/London`.
pub fn parse_tz(name: &str) -> Result<Tz> {
    name.parse::<Tz>()
        .map_err(|e| anyhow::anyhow!("unknown time zone {name:?}: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    const LONDON: Tz = chrono_tz::Europe::London;

    #[test]
    fn hours_and_minutes_print_as_chrono_prints_them() {
        for (h, m) in [(0, 0), (9, 5), (17, 30), (23, 59)] {
            let mut out = String::new();
            push_hh_mm(&mut out, h, m);
            let t = chrono::NaiveTime::from_hms_opt(h, m, 0).unwrap();
            assert_eq!(out, t.format("%H:%M").to_string());
        }
    }

    #[test]
    fn dates_print_as_chrono_prints_them() {
        for (y, m, d) in [
            (2026, 11, 30),
            (2024, 2, 29),
            (999, 1, 5),
            (9999, 12, 31),
            (10000, 1, 1),
            (-1, 3, 1),
        ] {
            let date = NaiveDate::from_ymd_opt(y, m, d).unwrap();
            let mut out = String::from("on ");
            push_date(&mut out, date);
            assert_eq!(out, format!("on {date}"));
        }
    }

    fn utc(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    fn uk() -> Calendar {
        let text = include_str!("../mappings/uk-bank-holidays.json");
        Calendar::from_govuk_json(text, "england-and-wales", LONDON).unwrap()
    }

    #[test]
    fn parses_periods() {
        assert_eq!(Period::parse("72 hours").unwrap(), Period::Hours(72));
        assert_eq!(Period::parse("4h").unwrap(), Period::Hours(4));
        assert_eq!(Period::parse("15 days").unwrap(), Period::CalendarDays(15));
        assert_eq!(
            Period::parse("30 working days").unwrap(),
            Period::WorkingDays(30)
        );
        assert_eq!(Period::parse("1 month").unwrap(), Period::CalendarMonths(1));
        assert!(Period::parse("soon").is_err());
        assert!(Period::parse("3 fortnights").is_err());
    }

    #[test]
    fn seventy_two_hours_across_spring_forward_is_real_hours() {
        // Clocks go forward at 01:00 UTC on Sunday 29 March 2026.
        let aware = utc("2026-03-27T10:00:00Z"); // 10:00 GMT Friday
        let due = uk().add(aware, Period::Hours(72));
        assert_eq!(due, utc("2026-03-30T10:00:00Z"));
        assert_eq!(local_text(due, LONDON), "2026-03-30 11:00 BST (+01:00)");
    }

    #[test]
    fn seventy_two_hours_across_autumn_back_is_real_hours() {
        // Clocks go back at 01:00 UTC on Sunday 25 October 2026.
        let aware = utc("2026-10-23T09:30:00+01:00");
        let due = uk().add(aware, Period::Hours(72));
        assert_eq!(due, utc("2026-10-26T08:30:00Z"));
        assert_eq!(local_text(due, LONDON), "2026-10-26 08:30 GMT (+00:00)");
    }

    #[test]
    fn calendar_days_keep_local_time_across_clock_change() {
        let start = utc("2026-03-20T09:00:00Z"); // 09:00 GMT
        let due = uk().add(start, Period::CalendarDays(15));
        assert_eq!(local_text(due, LONDON), "2026-04-04 09:00 BST (+01:00)");
    }

    #[test]
    fn leap_day_2028() {
        let cal = uk();
        let start = utc("2028-02-26T12:00:00Z");
        assert_eq!(
            cal.add(start, Period::Hours(72)),
            utc("2028-02-29T12:00:00Z")
        );
        assert_eq!(
            cal.add(utc("2028-01-31T12:00:00Z"), Period::CalendarMonths(1)),
            utc("2028-02-29T12:00:00Z")
        );
        assert_eq!(
            cal.add(utc("2028-02-28T12:00:00Z"), Period::CalendarDays(1)),
            utc("2028-02-29T12:00:00Z")
        );
        // 29 Feb 2028 is a Tuesday, a working day.
        assert!(cal.is_working_day(NaiveDate::from_ymd_opt(2028, 2, 29).unwrap()));
        assert_eq!(
            cal.add(utc("2028-02-28T12:00:00Z"), Period::WorkingDays(1)),
            utc("2028-02-29T12:00:00Z")
        );
    }

    #[test]
    fn christmas_2026_substitute_bank_holiday() {
        // 26 Dec 2026 is a Saturday, so Boxing Day is observed on Monday 28 December.
        let cal = uk();
        let d = |m, day| NaiveDate::from_ymd_opt(2026, m, day).unwrap();
        assert!(cal.is_bank_holiday(d(12, 25)));
        assert!(cal.is_bank_holiday(d(12, 28)));
        assert!(!cal.is_working_day(d(12, 26)));
        // Thursday 24 Dec + 1 working day = Tuesday 29 Dec.
        let due = cal.add(utc("2026-12-24T15:00:00Z"), Period::WorkingDays(1));
        assert_eq!(due, utc("2026-12-29T15:00:00Z"));
        // The calendar clock ignores holidays: 72 hours is 72 hours.
        let due = cal.add(utc("2026-12-24T15:00:00Z"), Period::Hours(72));
        assert_eq!(due, utc("2026-12-27T15:00:00Z"));
    }

    #[test]
    fn scotland_has_its_own_holidays() {
        let text = include_str!("../mappings/uk-bank-holidays.json");
        let scot = Calendar::from_govuk_json(text, "scotland", LONDON).unwrap();
        let jan2 = NaiveDate::from_ymd_opt(2026, 1, 2).unwrap();
        assert!(scot.is_bank_holiday(jan2));
        assert!(!uk().is_bank_holiday(jan2));
        assert!(Calendar::from_govuk_json(text, "wales", LONDON).is_err());
    }

    #[test]
    fn weekend_crossing_working_days() {
        // Friday 16:00 + 2 working days = Tuesday 16:00.
        let due = uk().add(utc("2026-11-13T16:00:00Z"), Period::WorkingDays(2));
        assert_eq!(due, utc("2026-11-17T16:00:00Z"));
    }

    #[test]
    fn roll_weekend_deadline_to_noon_next_working_day() {
        let cal = uk();
        // Saturday 14 Nov 2026 03:00 -> Monday 16 Nov 12:00 GMT.
        assert_eq!(
            cal.roll_to_next_working_day_noon(utc("2026-11-14T03:00:00Z")),
            utc("2026-11-16T12:00:00Z")
        );
        // Christmas Day 2026 -> Tuesday 29 December 12:00.
        assert_eq!(
            cal.roll_to_next_working_day_noon(utc("2026-12-25T09:00:00Z")),
            utc("2026-12-29T12:00:00Z")
        );
        // A working day is untouched.
        let wed = utc("2026-11-18T03:00:00Z");
        assert_eq!(cal.roll_to_next_working_day_noon(wed), wed);
        // Saturday 28 March 2026 -> Monday 30 March 12:00 BST = 11:00 UTC.
        assert_eq!(
            cal.roll_to_next_working_day_noon(utc("2026-03-28T12:00:00Z")),
            utc("2026-03-30T11:00:00Z")
        );
    }

    #[test]
    fn local_timestamps_at_clock_changes() {
        assert_eq!(
            parse_timestamp("2026-03-29 01:30", LONDON),
            Err(TimestampError::NonExistent(
                "2026-03-29 01:30".into(),
                LONDON
            ))
        );
        assert_eq!(
            parse_timestamp("2026-10-25 01:30", LONDON),
            Err(TimestampError::Ambiguous("2026-10-25 01:30".into(), LONDON))
        );
        // With an offset both are fine.
        assert_eq!(
            parse_timestamp("2026-10-25T01:30:00+01:00", LONDON).unwrap(),
            utc("2026-10-25T00:30:00Z")
        );
        assert_eq!(
            parse_timestamp("2026-10-25T01:30:00+00:00", LONDON).unwrap(),
            utc("2026-10-25T01:30:00Z")
        );
        // Local summer time.
        assert_eq!(
            parse_timestamp("2026-07-01 09:00", LONDON).unwrap(),
            utc("2026-07-01T08:00:00Z")
        );
        assert_eq!(
            parse_timestamp("2026-07-01 09:00:00Z", LONDON).unwrap(),
            utc("2026-07-01T09:00:00Z")
        );
        assert!(parse_timestamp("yesterday", LONDON).is_err());
        assert!(parse_timestamp("2026-02-30 09:00", LONDON).is_err());
    }

    #[test]
    fn fast_formatting_matches_chrono() {
        for t in [
            "2026-03-29T00:59:59Z",
            "2026-03-29T01:00:00Z",
            "2026-10-25T00:59:00Z",
            "2026-10-25T01:00:00Z",
            "2028-02-29T23:05:09Z",
            "0999-01-02T03:04:05Z",
        ] {
            let t = utc(t);
            let l = t.with_timezone(&LONDON);
            assert_eq!(utc_text(t), t.format("%Y-%m-%dT%H:%M:%SZ").to_string());
            assert_eq!(
                local_rfc3339(t, LONDON),
                l.format("%Y-%m-%dT%H:%M:%S%:z").to_string()
            );
            assert_eq!(
                local_text(t, LONDON),
                l.format("%Y-%m-%d %H:%M %Z (%:z)").to_string()
            );
        }
        let ny = chrono_tz::America::New_York;
        let t = utc("2026-07-01T12:00:00Z");
        assert_eq!(local_text(t, ny), "2026-07-01 08:00 EDT (-04:00)");
    }

    #[test]
    fn fast_path_agrees_with_chrono() {
        for t in [
            "2026-03-30T10:00:00Z",
            "2026-10-25T01:30:00+01:00",
            "2026-10-25T01:30:00-05:30",
            "2028-02-29T23:59:59Z",
        ] {
            let chrono = DateTime::parse_from_rfc3339(t).unwrap().with_timezone(&Utc);
            assert_eq!(parse_rfc3339_fast(t).map(|(u, _)| u), Some(chrono), "{t}");
        }
        for t in [
            "2026-02-30T10:00:00Z",
            "2026-03-30T25:00:00Z",
            "2026-03-30 10:00:00Z",
            "2026-03-30T10:00:00.5Z",
        ] {
            assert_eq!(parse_rfc3339_fast(t), None, "{t}");
        }
        assert!(parse_timestamp("2026-02-30T10:00:00Z", LONDON).is_err());
    }

    #[test]
    fn offsets_and_years_stay_in_range() {
        for (t, want) in [
            ("2026-11-02T09:00:00+99:00", "offset +99:00"),
            ("2026-11-02T09:00:00-25:00", "offset -25:00"),
            ("2026-11-02 09:00+19:00", "offset +19:00"),
            ("0000-11-02T09:00:00Z", "years 1970 to 9999"),
            ("10000-11-02T09:00:00Z", "years 1970 to 9999"),
            ("1969-12-31T23:00:00Z", "years 1970 to 9999"),
        ] {
            let e = parse_clock_timestamp(t, LONDON).unwrap_err().to_string();
            assert!(e.contains(want) || t.starts_with("10000"), "{t}: {e}");
        }
        for t in [
            "2026-11-02T09:00:00+14:00",
            "2026-11-02T09:00:00-12:00",
            "2026-11-02T09:00:00+18:00",
            "9999-12-31T23:59:59Z",
        ] {
            assert!(parse_clock_timestamp(t, LONDON).is_ok(), "{t}");
        }
    }

    #[test]
    fn human_durations() {
        assert_eq!(human_duration(Duration::minutes(75)), "1h 15m");
        assert_eq!(human_duration(Duration::minutes(5)), "0h 05m");
        assert_eq!(
            human_duration(Duration::minutes(1440 * 400 + 61)),
            "400d 01h 01m"
        );
        for p in [
            Period::Hours(1),
            Period::Hours(72),
            Period::WorkingDays(30),
            Period::CalendarMonths(1),
        ] {
            let mut s = String::new();
            p.push_to(&mut s);
            assert_eq!(s, p.to_string());
        }
        assert_eq!(
            human_duration(Duration::minutes(-(3 * 1440 + 61))),
            "3d 01h 01m"
        );
    }

    #[test]
    fn calendar_knows_where_its_data_ends() {
        let cal = uk();
        assert!(!cal.beyond_data(NaiveDate::from_ymd_opt(2027, 12, 31).unwrap()));
        assert!(cal.beyond_data(NaiveDate::from_ymd_opt(2028, 1, 1).unwrap()));
    }
}
