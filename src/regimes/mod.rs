//! Regulatory regimes: the rules from `mappings/regimes.toml` (`model`), important
//! business services and their impact tolerances (`services`), the evaluation of incidents
//! against both (`evaluate`), and the deadlines it gives (`deadline`).

pub mod condition;
pub mod deadline;
pub mod entity;
pub mod evaluate;
pub mod model;
pub mod services;
