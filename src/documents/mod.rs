//! The documents regwatch writes: the monthly report model, the breach register, the
//! drafts for regulators, and the report's files with their manifest (`publish`).
//! Drawing them as PDF is in `render`.

pub mod drafts;
pub mod publish;
pub mod register;
pub mod report;
