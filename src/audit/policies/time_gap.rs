//! `time-gap`: an account (and region) whose events stop for longer than `max_gap`, a
//! sign the audit trail has a hole. Each stream's minutes with events are kept and read
//! through at the end.

use anyhow::Result;
use rustc_hash::FxHashMap;

use crate::audit::event::{millis_to_time, AuditEvent};
use crate::audit::findings::{FindingStore, Gathering};
use crate::audit::model::{hash, EventRef};

use super::params::Params;

#[derive(Debug, Clone)]
pub struct TimeGap {
    max_gap_ms: i64,
}

impl TimeGap {
    pub fn parse(params: &Params) -> Result<TimeGap> {
        Ok(TimeGap {
            max_gap_ms: params.minutes("max_gap_minutes", 120)?.max(60_000),
        })
    }
}

/// A per-stream record of which minutes had events.
struct Stream {
    name: String,
    minutes: Vec<i64>,
    first: Option<EventRef>,
}

/// Streams by hash of account and region.
#[derive(Default)]
pub struct Streams(FxHashMap<u64, Stream>);

impl Streams {
    /// Notes the minute of `e` (at `r`) in its stream; events without an account have
    /// none.
    #[inline]
    pub fn observe(&mut self, e: &AuditEvent, r: EventRef) {
        if e.account.is_empty() {
            return;
        }
        let minute = e.at.div_euclid(60_000);
        let key = hash(&e.account) ^ hash(&e.region).rotate_left(17);
        let stream = self.0.entry(key).or_insert_with(|| Stream {
            name: if e.region.is_empty() {
                e.account.to_string()
            } else {
                format!("{} {}", e.account, e.region)
            },
            first: Some(r),
            minutes: Vec::new(),
        });
        if stream.minutes.last() != Some(&minute) {
            stream.minutes.push(minute);
        }
    }

    /// Adds a finding of `policy` for each gap longer than `gap` allows.
    pub fn finish(&mut self, policy: usize, gap: &TimeGap, store: &mut FindingStore) {
        let mut found = Vec::new();
        for s in self.0.values_mut() {
            s.minutes.sort_unstable();
            s.minutes.dedup();
            for w in s.minutes.windows(2) {
                let ms = (w[1] - w[0]) * 60_000;
                if ms > gap.max_gap_ms {
                    found.push((s.name.clone(), w[0] * 60_000, w[1] * 60_000, s.first));
                }
            }
        }
        for (name, from, to, first) in found {
            let detail = format!(
                "No events from {name} for {} between {} and {}",
                crate::clock::human_duration(chrono::Duration::milliseconds(to - from)),
                millis_to_time(from).format("%Y-%m-%d %H:%M UTC"),
                millis_to_time(to).format("%Y-%m-%d %H:%M UTC"),
            );
            let mut g = Gathering::new(detail, String::new());
            g.first_at = from;
            g.last_at = to;
            g.resources.push(name.clone());
            g.resource_count = 1;
            if let Some(r) = first {
                g.events.push(r);
                g.event_count = 0;
            }
            store.put(policy, format!("{name}@{from}"), g);
        }
    }

    /// How many streams, and how many minutes they hold.
    pub fn sizes(&self) -> (usize, usize) {
        (self.0.len(), self.0.values().map(|s| s.minutes.len()).sum())
    }
}

#[cfg(test)]
mod tests {
    use super::super::hits::place;
    use super::super::hits::testing::{event, held, policy, WEDNESDAY_10AM as WEDNESDAY};
    use super::*;

    fn run(minutes: &[i64]) -> FindingStore {
        let p = policy("time-gap", "max_gap_minutes = 120");
        let gap = TimeGap::parse(&Params { policy: &p }).expect("params");
        let mut streams = Streams::default();
        for m in minutes {
            let mut e = event();
            e.at += m * 60_000;
            streams.observe(&e, place(&e));
        }
        let mut no_account = event();
        no_account.account = std::borrow::Cow::Borrowed("");
        streams.observe(&no_account, place(&no_account));
        assert_eq!(streams.sizes().0, 1);
        let mut store = FindingStore::new(100);
        streams.finish(0, &gap, &mut store);
        store
    }

    #[test]
    fn three_hours_without_events_is_a_finding() {
        let store = run(&[0, 180, 181]);
        let found = held(&store);
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].0, "111111111111 eu-west-2@1772618400000");
        let g = found[0].1;
        assert!(
            g.detail
                .starts_with("No events from 111111111111 eu-west-2 for 3"),
            "{}",
            g.detail
        );
        assert!(g
            .detail
            .ends_with("between 2026-03-04 10:00 UTC and 2026-03-04 13:00 UTC"));
        assert_eq!(
            (g.first_at, g.last_at, g.event_count),
            (WEDNESDAY, WEDNESDAY + 180 * 60_000, 0)
        );
    }

    #[test]
    fn a_gap_of_exactly_the_limit_is_no_finding() {
        let store = run(&[120, 0, 240]);
        assert_eq!(store.len(), 0);
    }
}
