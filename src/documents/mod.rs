//! The documents regwatch writes: the monthly report model, the breach register, and the
//! drafts for regulators. Rendering to bytes is in `render`.

pub mod drafts;
pub mod register;
pub mod report;
