//! The native schema as CSV with a header row; columns are found by name.

use anyhow::Result;

use super::intake::{rejection, Intake, ReadContext, SourceFile};
use crate::audit::event::{build, NativeRecord, RecordError, NATIVE_FIELDS};
use crate::error::bad_input;
use crate::incidents::ingest::Location;

/// Reads a native CSV file (a header row naming the columns) in chunks of records.
pub(super) fn read(
    file: &SourceFile,
    index: u32,
    cx: &ReadContext,
    intake: &mut Intake,
) -> Result<()> {
    let name = file.name();
    let mut rdr = csv::ReaderBuilder::new()
        .flexible(true)
        .from_reader(file.open()?);
    let headers = rdr
        .headers()
        .map_err(|e| bad_input(format!("{name}: cannot read the header row: {e}")))?
        .clone();
    for required in ["timestamp", "actor", "actor_type", "operation"] {
        if !headers.iter().any(|h| h == required) {
            return Err(bad_input(format!(
                "{name} line 1: no {required:?} column (the native columns are {})",
                NATIVE_FIELDS.join(", ")
            )));
        }
    }
    let mut record = csv::StringRecord::new();
    let mut chunk: Vec<csv::StringRecord> = Vec::new();
    loop {
        let more = match rdr.read_record(&mut record) {
            Ok(m) => m,
            Err(e) => {
                let line = e.position().map_or(0, |p| p.line());
                intake.summary.read += 1;
                let r = rejection(
                    &name,
                    Location::Line(line),
                    RecordError::new("csv", e.to_string()),
                    String::new(),
                );
                intake.keep(r)?;
                continue;
            }
        };
        if more {
            chunk.push(record.clone());
        }
        if chunk.len() >= 65_536 || (!more && !chunk.is_empty()) {
            let mut events = Vec::with_capacity(chunk.len());
            for rec in &chunk {
                intake.summary.read += 1;
                let line = rec.position().map_or(0, |p| p.line());
                let built = rec
                    .deserialize::<NativeRecord>(Some(&headers))
                    .map_err(|e| RecordError::new("csv", e.to_string()))
                    .and_then(|r| build(r, cx.input_tz, index, line));
                match built {
                    Ok(e) => events.push(e),
                    Err(err) => {
                        let raw = rec.iter().collect::<Vec<_>>().join(",");
                        let r = rejection(&name, Location::Line(line), err, raw);
                        intake.keep(r)?;
                    }
                }
            }
            intake.deliver(&events)?;
            drop(events);
            chunk.clear();
        }
        if !more {
            return Ok(());
        }
    }
}
