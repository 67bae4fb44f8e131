//! Turning results into bytes: deadlines as table, JSON, CSV, XLSX and iCalendar; the
//! typed tables CSV and XLSX share; PDF layout; terminal tables.

pub mod chart;
pub mod deadlines;
pub mod pdf;
pub mod sheet;
pub mod terminal;
pub mod xlsx;
