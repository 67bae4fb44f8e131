//! Small helpers the edges share: atomic file writes, spreadsheet- and Markdown-safe text,
//! the process's memory settings, the built-in mappings and templates (defaults.rs), and
//! ids stable from run to run for exported documents (stable_id.rs), and countries and
//! jurisdictions as people write them (countries.rs), and Parquet rows as JSON
//! (parquet_rows.rs).

pub mod atomic;
pub mod countries;
pub mod defaults;
pub mod memory;
pub mod parquet_rows;
pub mod stable_id;
pub mod text;
