//! Alerts: which deadlines cross a threshold now, the state of what was delivered where,
//! the lock that keeps two cron runs apart, and delivery by e-mail, Slack, Microsoft
//! Teams and signed webhooks.

pub mod alerts;
pub mod channel;
pub mod email;
pub mod http;
pub mod message;
pub mod slack;
pub mod state;
pub mod teams;
pub mod webhook;
