//! PDF output: a general layout engine (`layout`) and the documents drawn with it.

pub mod layout;
pub mod report;
