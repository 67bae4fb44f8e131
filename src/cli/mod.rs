//! The commands: each file holds one command's arguments and an `exec` that resolves them
//! into typed options once, calls the library, and prints. Shared arguments and the
//! output edge are in `inputs`; clap's value lists for library types in `values`.

pub mod alerts;
pub mod audit;
pub mod check;
pub mod deadlines;
pub mod draft;
pub mod init;
pub mod inputs;
pub mod register;
pub mod report;
pub mod sql;
pub mod values;
