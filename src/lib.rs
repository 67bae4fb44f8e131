//! regwatch: compliance clocks, alerts, audits and reports for incidents caused by people
//! and AI agents.
//!
//! The flow: `ingest` reads files into typed records (and a quarantine list), `deadlines`
//! evaluates them against the `regimes` from `mappings/` at a given `now`, and the edges
//! (`output`, `alerts`) render or deliver the results. Evaluation is pure; only the edges
//! touch files, the network or the clock.

pub mod alerts;
pub mod audit;
pub mod clock;
pub mod config;
pub mod controls;
pub mod deadlines;
pub mod drafts;
pub mod error;
pub mod fsutil;
pub mod incident;
pub mod ingest;
pub mod load;
pub mod memory;
pub mod output;
pub mod pdf;
pub mod redact;
pub mod regimes;
pub mod register;
pub mod report;
pub mod services;
