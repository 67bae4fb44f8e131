//! Alerts: which deadlines cross a threshold now, the state of what was sent, the lock
//! that keeps two cron runs apart, and delivery.

pub mod alerts;
