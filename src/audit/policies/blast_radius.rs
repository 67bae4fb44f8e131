//! `blast-radius`: one change (or, without a change id, one actor within a window)
//! touches too many resources, or more than one account, region or environment. Read
//! from whole change histories at the end.

use std::borrow::Cow;

use anyhow::Result;
use rustc_hash::FxHashMap;

use crate::audit::change_map::ChangeMap;
use crate::audit::findings::Gathering;
use crate::audit::history::{ChangeState, Symbols, RESOURCES_COUNTED};

use super::params::Params;

/// The limits; past any of them, a change is a finding.
#[derive(Debug, Clone)]
pub struct BlastRadius {
    max_resources: usize,
    /// The window that groups an actor's events without a change id.
    pub window_ms: i64,
    max_accounts: usize,
    max_regions: usize,
    max_environments: usize,
}

impl BlastRadius {
    pub fn parse(params: &Params) -> Result<BlastRadius> {
        Ok(BlastRadius {
            max_resources: params.int("max_resources", 50)? as usize,
            window_ms: params.minutes("window_minutes", 60)?.max(60_000),
            max_accounts: params.int("max_accounts", 1)? as usize,
            max_regions: params.int("max_regions", 1)? as usize,
            max_environments: params.int("max_environments", 1)? as usize,
        })
    }

    /// How far a change's history must count distinct resources, and distinct accounts,
    /// regions and environments, for these limits: at least `cap` and `small_cap`.
    pub fn caps(&self, (cap, small_cap): (usize, usize)) -> (usize, usize) {
        (
            cap.max(self.max_resources),
            small_cap
                .max(self.max_accounts + 1)
                .max(self.max_regions + 1)
                .max(self.max_environments + 1),
        )
    }
}

/// Findings (by policy and key) for the `changes` and actor `windows` over the limits.
pub fn check_changes(
    policy: usize,
    limits: &BlastRadius,
    changes: &ChangeMap,
    windows: &FxHashMap<(u64, i64), ChangeState>,
    symbols: &Symbols,
    out: &mut Vec<((usize, String), Gathering)>,
) {
    // A change's key is copied only for a finding: most changes are not one.
    let changes = changes.iter().map(|(k, s)| (true, Cow::Borrowed(k), s));
    let windows = windows.iter().map(|((_, w), s)| {
        let actor = s.appliers.0.first().map_or("", |&a| symbols.name(a));
        (false, Cow::Owned(format!("{actor}@{w}")), s)
    });
    for (is_change, key, st) in changes.chain(windows) {
        if let Some(g) = finding(is_change, &key, st, limits, symbols) {
            out.push(((policy, key.into_owned()), g));
        }
    }
}

/// The finding for one change (or actor window), if it went over a limit.
fn finding(
    is_change: bool,
    key: &str,
    st: &ChangeState,
    limits: &BlastRadius,
    symbols: &Symbols,
) -> Option<Gathering> {
    let max_resources = limits.max_resources;
    let mut over = Vec::new();
    if st.resources.len() > max_resources {
        let n = st.resources.len();
        let at_least = if n > RESOURCES_COUNTED {
            "at least "
        } else {
            ""
        };
        over.push(format!(
            "{at_least}{} resources (limit {max_resources})",
            n.min(RESOURCES_COUNTED)
        ));
    }
    for (d, max, what) in [
        (&st.accounts, limits.max_accounts, "accounts"),
        (&st.regions, limits.max_regions, "regions"),
        (&st.environments, limits.max_environments, "environments"),
    ] {
        if d.len() > max {
            over.push(format!(
                "{} {what} ({})",
                d.len(),
                symbols.names(d).join(", ")
            ));
        }
    }
    if over.is_empty() {
        return None;
    }
    let actors = symbols.names(&st.appliers);
    let what = if is_change {
        format!("Change {key}")
    } else {
        format!("{} within one window", actors.first().map_or("", |a| a))
    };
    let detail = format!("{what} touched {}", over.join(" and "));
    let mut g = Gathering::new(
        detail,
        if is_change {
            key.to_string()
        } else {
            String::new()
        },
    );
    for r in &st.refs {
        g.add(*r, "", "");
    }
    g.event_count = st.events;
    g.actors = actors;
    g.resources = symbols.names(&st.resources.names);
    g.resource_count = st.resources.len() as u64;
    Some(g)
}

#[cfg(test)]
mod tests {
    use std::borrow::Cow;

    use super::super::hits::testing::{changes, event, policy};
    use super::*;

    fn limits(params: &str) -> BlastRadius {
        let p = policy("blast-radius", params);
        BlastRadius::parse(&Params { policy: &p }).expect("params")
    }

    #[test]
    fn a_change_across_two_regions_or_past_max_resources_is_a_finding() {
        let mut other = event();
        (other.region, other.resource) = (Cow::Borrowed("us-east-1"), Cow::Borrowed("db/b"));
        let (map, symbols) = changes(&[event(), other]);
        let mut out = Vec::new();
        check_changes(
            1,
            &limits(""),
            &map,
            &FxHashMap::default(),
            &symbols,
            &mut out,
        );
        assert_eq!(out.len(), 1);
        let ((policy, key), g) = &out[0];
        assert_eq!((*policy, key.as_str()), (1, "CHG-1"));
        assert_eq!(
            g.detail,
            "Change CHG-1 touched 2 regions (eu-west-2, us-east-1)"
        );
        assert_eq!((g.event_count, g.resource_count), (2, 2));
        assert_eq!(g.actors, ["agent-7"]);
        let mut out = Vec::new();
        let tight = limits("max_resources = 1\nmax_regions = 2");
        check_changes(1, &tight, &map, &FxHashMap::default(), &symbols, &mut out);
        assert_eq!(
            out[0].1.detail,
            "Change CHG-1 touched 2 resources (limit 1)"
        );
    }

    #[test]
    fn a_change_within_every_limit_is_no_finding() {
        let mut again = event();
        again.resource = Cow::Borrowed("db/b");
        let (map, symbols) = changes(&[event(), again]);
        let mut out = Vec::new();
        let limits = limits("max_resources = 2");
        check_changes(0, &limits, &map, &FxHashMap::default(), &symbols, &mut out);
        assert!(out.is_empty());
        assert_eq!(limits.caps((0, 8)), (2, 8));
        assert_eq!(limits.window_ms, 3_600_000);
    }
}
