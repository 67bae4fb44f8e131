//! regwatch: compliance clocks, alerts, audits and reports for incidents caused by people
//! and AI agents.
//!
//! The flow, one module each: `incidents` reads files into typed records (and a
//! quarantine list); `regimes` evaluates them against the rules in `mappings/` at a given
//! `now` into deadlines; `audit` checks what people and AI agents did against the
//! guardrail policies; `documents` builds the monthly report, the register and the drafts;
//! `render` turns those into bytes and `notify` delivers alerts. Evaluation is pure; only
//! the edges touch files, the network or the clock. The library does not depend on clap.

pub mod audit;
pub mod clock;
pub mod config;
pub mod controls;
pub mod documents;
pub mod error;
pub mod incidents;
pub mod notify;
pub mod regimes;
pub mod render;
pub mod setup;
pub mod util;
