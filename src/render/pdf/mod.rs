//! PDF output: text in the base fonts (`text`), a general layout engine (`layout`) and the
//! documents drawn with it.

pub mod layout;
pub mod report;
pub mod text;
