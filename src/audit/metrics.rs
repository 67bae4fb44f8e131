//! Change metrics, per month, AI-driven against human: deployment frequency, lead time,
//! change failure rate and time to restore. The test of whether AI is paying off is
//! whether these get worse. Computed with polars from one row per change deployed to
//! production; an incident that names a change's id marks it failed and gives the time
//! to restore.

use anyhow::Result;
use chrono::Datelike;
use chrono_tz::Tz;
use polars::prelude::*;
use serde::Serialize;

use super::event::millis_to_time;
use super::history::ChangeState;
use crate::incidents::record::Incident;

/// One month's figures for one kind of change author.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ChangeMetrics {
    /// `YYYY-MM` in the display time zone.
    pub month: String,
    /// `ai_agent`, `human` or `service`: who applied the change (AI if any AI agent did).
    pub driven_by: String,
    /// Changes deployed to production.
    pub deployments: u64,
    /// Median hours from a change's first event (plan, review) to its production apply.
    pub lead_time_hours: Option<f64>,
    pub failed: u64,
    /// failed / deployments.
    pub change_failure_rate: f64,
    /// Median hours from the start of the incident a change caused to its resolution.
    pub time_to_restore_hours: Option<f64>,
}

/// Incidents by the change id they name, built once (not a pass over every incident for
/// every change).
pub struct IncidentIndex<'a>(std::collections::HashMap<&'a str, Vec<&'a Incident>>);

impl<'a> IncidentIndex<'a> {
    pub fn new(incidents: &'a [Incident]) -> IncidentIndex<'a> {
        let mut by_change: std::collections::HashMap<&str, Vec<&Incident>> = Default::default();
        for i in incidents {
            if let Some(id) = i.text("change_id").filter(|id| !id.is_empty()) {
                by_change.entry(id).or_default().push(i);
            }
        }
        IncidentIndex(by_change)
    }
}

/// One change deployed to production, as the metrics count it.
#[derive(Debug, Clone)]
pub struct Deployment {
    /// The month as year × 12 + month − 1, in the display time zone (a number, not a
    /// string: there is one per change deployed).
    month: i32,
    driven_by: &'static str,
    lead_hours: f64,
    failed: bool,
    restore_hours: Option<f64>,
}

impl Deployment {
    /// The change's deployment, if it reached production.
    pub fn of(id: &str, st: &ChangeState, incidents: &IncidentIndex, tz: Tz) -> Option<Deployment> {
        let apply = st.first_prod_apply?;
        let caused: &[&Incident] = incidents.0.get(id).map_or(&[], Vec::as_slice);
        Some(Deployment {
            month: {
                let local = millis_to_time(apply.at).with_timezone(&tz);
                local.year() * 12 + local.month0() as i32
            },
            driven_by: if st.by_ai {
                "ai_agent"
            } else if st.by_human {
                "human"
            } else {
                "service"
            },
            lead_hours: (apply.at - st.first_at) as f64 / 3_600_000.0,
            failed: st.failed || !caused.is_empty(),
            restore_hours: caused.iter().find_map(|i| {
                let start = i.time("disruption_start").or(i.time("occurred_at"))?;
                let end = i.time("resolved_at").or(i.time("disruption_end"))?;
                Some((end - start).num_seconds() as f64 / 3600.0)
            }),
        })
    }
}

/// The metrics per month and author kind, from every deployment (in any order).
pub fn aggregate(deployments: Vec<Deployment>) -> Result<Vec<ChangeMetrics>> {
    let n = deployments.len();
    let mut month = Vec::with_capacity(n);
    let mut by = Vec::with_capacity(n);
    let mut lead = Vec::with_capacity(n);
    let mut failed = Vec::with_capacity(n);
    let mut restore: Vec<Option<f64>> = Vec::with_capacity(n);
    for d in deployments {
        month.push(d.month);
        by.push(d.driven_by);
        lead.push(d.lead_hours);
        failed.push(d.failed);
        restore.push(d.restore_hours);
    }
    let df = df!(
        "month" => month,
        "driven_by" => by,
        "lead" => lead,
        "failed" => failed,
        "restore" => restore,
    )?;
    let out = df
        .lazy()
        .group_by([col("month"), col("driven_by")])
        .agg([
            len().alias("deployments"),
            col("lead").median().alias("lead"),
            col("failed").cast(DataType::UInt32).sum().alias("failed"),
            col("restore").median().alias("restore"),
        ])
        .sort(["month", "driven_by"], SortMultipleOptions::default())
        .collect()?;
    let months = out.column("month")?.i32()?.clone();
    let driven = out.column("driven_by")?.str()?.clone();
    let deployments = out.column("deployments")?.cast(&DataType::UInt64)?;
    let deployments = deployments.u64()?;
    let lead = out.column("lead")?.f64()?.clone();
    let failed = out.column("failed")?.cast(&DataType::UInt64)?;
    let failed = failed.u64()?;
    let restore = out.column("restore")?.f64()?.clone();
    let round = |x: f64| (x * 100.0).round() / 100.0;
    let mut rows = Vec::with_capacity(out.height());
    for i in 0..out.height() {
        let d = deployments.get(i).unwrap_or(0);
        let f = failed.get(i).unwrap_or(0);
        rows.push(ChangeMetrics {
            month: months.get(i).map_or_else(String::new, |m| {
                format!("{:04}-{:02}", m.div_euclid(12), m.rem_euclid(12) + 1)
            }),
            driven_by: driven.get(i).unwrap_or("").to_string(),
            deployments: d,
            lead_time_hours: lead.get(i).map(round),
            failed: f,
            change_failure_rate: if d == 0 {
                0.0
            } else {
                round(f as f64 / d as f64)
            },
            time_to_restore_hours: restore.get(i).map(round),
        });
    }
    Ok(rows)
}
