//! Turning results into bytes: deadlines as table, JSON, CSV and iCalendar; PDF layout; terminal tables.

pub mod deadlines;
pub mod pdf;
pub mod terminal;
