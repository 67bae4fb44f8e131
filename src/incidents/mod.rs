//! Incidents: the record and its validation (`record`), reading files into records and a
//! quarantine (`ingest`), what every command loads (`load`), and pseudonyms (`redact`).

pub mod ingest;
pub mod load;
pub mod record;
pub mod redact;
