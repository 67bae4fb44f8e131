//! The native schema as JSON lines, one object per line. Flat lines take the fast path of
//! [`scan`]; anything else is read by serde_json, so what is accepted and the error
//! messages stay serde_json's.

use anyhow::Result;
use chrono_tz::Tz;

use super::intake::{json_reason, Intake, ReadContext, SourceFile};
use super::pipeline::{line_text, read_lines, LineParser};
use crate::audit::event::{build_with, AuditEvent, NativeRecord, RecordError};
use crate::audit::scan;

/// Reads a native JSON-lines file through the block pipeline.
pub(super) fn read(
    file: &SourceFile,
    index: u32,
    cx: &ReadContext,
    intake: &mut Intake,
) -> Result<()> {
    let name = file.name();
    read_lines(file, &name, &NativeLines::new(cx.input_tz, index), intake)
}

/// Native JSON lines in one file, numbered as its `index`-th source.
pub(super) struct NativeLines {
    tz: Tz,
    index: u32,
    scanner: scan::LineScanner,
}

impl NativeLines {
    /// With the line scanner chosen for this processor once, for the whole file.
    pub(super) fn new(tz: Tz, index: u32) -> NativeLines {
        NativeLines {
            tz,
            index,
            scanner: scan::LineScanner::new(),
        }
    }
}

impl LineParser for NativeLines {
    fn parse_into<'b>(
        &self,
        line: &'b [u8],
        n: u64,
        out: &mut Vec<AuditEvent<'b>>,
    ) -> Result<bool, RecordError> {
        let push = |e| out.push(e);
        let mut flat = scan::FlatLine::new(line);
        match scan::scan_flat(&mut flat) {
            true => build_with(&mut flat, self.tz, self.index, n, push)?,
            false => build_with(
                serde_json::from_str::<NativeRecord>(line_text(line)?)
                    .map_err(|e| RecordError::new("json", json_reason(&e)))?,
                self.tz,
                self.index,
                n,
                push,
            )?,
        }
        Ok(true)
    }

    fn parse_first_line<'b>(
        &self,
        rest: &'b [u8],
        n: u64,
        out: &mut Vec<AuditEvent<'b>>,
    ) -> Option<Result<usize, Box<(usize, RecordError)>>> {
        let mut flat = scan::FlatLine::new(rest);
        let len = self.scanner.scan(&mut flat)?;
        let built = build_with(&mut flat, self.tz, self.index, n, |e| out.push(e));
        Some(built.map(|()| len).map_err(|e| Box::new((len, e))))
    }
}
