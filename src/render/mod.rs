//! Turning results into bytes: deadlines as table, JSON, CSV and iCalendar; PDF layout.

pub mod chart;
pub mod deadlines;
pub mod pdf;
