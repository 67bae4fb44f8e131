//! Small helpers the edges share: atomic file writes, spreadsheet- and Markdown-safe text,
//! the process's memory settings, and the built-in mappings and templates (defaults.rs).

pub mod atomic;
pub mod defaults;
pub mod memory;
pub mod text;
