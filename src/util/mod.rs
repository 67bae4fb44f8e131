//! Small helpers the edges share: atomic file writes, spreadsheet- and Markdown-safe text,
//! and the process's memory settings.

pub mod atomic;
pub mod memory;
pub mod text;
