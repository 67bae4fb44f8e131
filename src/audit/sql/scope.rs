//! `regwatch sql --month --account --region`: which events a script reads. The same
//! bounds twice: on the source's partition columns (so the engine reads only those
//! partitions, and a partitioned table is billed for them only) and on the events' own
//! time, account and region (so the result is exact whatever the partitions hold).

use chrono::{DateTime, NaiveDate, Utc};

use super::dialect::Dialect;

/// The events a script reads: all by default.
#[derive(Debug, Clone, Default)]
pub struct Scope {
    /// From (inclusive) and to (exclusive): a month in the display time zone.
    pub period: Option<(DateTime<Utc>, DateTime<Utc>)>,
    /// AWS account ids (none: all).
    pub accounts: Vec<String>,
    /// AWS regions (none: all).
    pub regions: Vec<String>,
}

impl Scope {
    /// The first and last UTC day the period touches: partitions hold UTC days.
    pub fn utc_days(&self) -> Option<(NaiveDate, NaiveDate)> {
        let (start, end) = self.period?;
        let last = end - chrono::Duration::milliseconds(1);
        Some((start.date_naive(), last.date_naive()))
    }

    /// `column IN (...)` for the accounts and regions asked for.
    fn lists(&self, d: Dialect, account: &str, region: &str) -> Vec<String> {
        let mut all = Vec::new();
        if !self.accounts.is_empty() {
            all.push(d.one_of(account, &self.accounts));
        }
        if !self.regions.is_empty() {
            all.push(d.one_of(region, &self.regions));
        }
        all
    }

    /// The partition predicates of a source: `days` (on its day partition, from the first
    /// and last UTC day) when a period is asked for, and its account and region columns
    /// in the lists asked for, joined with AND; None when the script reads everything.
    pub fn predicates(
        &self,
        d: Dialect,
        account: &str,
        region: &str,
        days: impl Fn(NaiveDate, NaiveDate) -> String,
    ) -> Option<String> {
        let mut all: Vec<String> = self
            .utc_days()
            .map(|(f, l)| days(f, l))
            .into_iter()
            .collect();
        all.extend(self.lists(d, account, region));
        (!all.is_empty()).then(|| all.join(" AND "))
    }

    /// The normalised events (`select`, which has `at_ms`, `account`, `region` and
    /// `problem`) within the scope; the records a run would reject or skip are kept, so
    /// that they can still be listed.
    pub fn events(&self, d: Dialect, select: &str) -> String {
        let mut within: Vec<String> = (self.period)
            .map(|(s, e)| {
                format!(
                    "at_ms >= {} AND at_ms < {}",
                    s.timestamp_millis(),
                    e.timestamp_millis()
                )
            })
            .into_iter()
            .collect();
        within.extend(self.lists(d, "account", "region"));
        if within.is_empty() {
            return select.to_string();
        }
        format!(
            "  SELECT * FROM (\n{select}\n  ) AS scoped\n  WHERE problem IS NOT NULL OR ({})",
            within.join(" AND ")
        )
    }
}
