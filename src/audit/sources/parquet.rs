//! The native schema as Parquet, read with polars a slice of rows at a time.

use std::borrow::Cow;
use std::fs::File;

use anyhow::Result;
use chrono_tz::Tz;
use rayon::prelude::*;

use super::intake::{rejection, Intake, ReadContext, SourceFile};
use super::pipeline::{in_two_slots, TwoSlots};
use crate::audit::event::{
    build_with, text_flag, AuditEvent, Flag, RawRecord, Text, NATIVE_FIELDS,
};
use crate::audit::model::Hit;
use crate::error::bad_input;
use crate::incidents::ingest::{Location, Rejection};

/// Reads a native Parquet file a slice of rows at a time (bounded memory), columns by
/// name; text columns must be strings, `dry_run` boolean or text.
pub(super) fn read(
    file: &SourceFile,
    index: u32,
    cx: &ReadContext,
    intake: &mut Intake,
) -> Result<()> {
    use polars::prelude::*;
    let name = file.name();
    let open = || -> Result<ParquetReader<File>> {
        let f =
            File::open(&file.path).map_err(|e| bad_input(format!("cannot read {name}: {e}")))?;
        Ok(ParquetReader::new(f))
    };
    let (schema, rows, metadata) = decoder_guard(&name, || {
        let mut probe = open()?;
        let schema = probe
            .schema()
            .map_err(|e| bad_input(format!("{name}: not a Parquet file: {e}")))?;
        let rows = probe
            .num_rows()
            .map_err(|e| bad_input(format!("{name}: {e}")))?;
        Ok((schema, rows, probe.get_metadata()?.clone()))
    })?;
    let columns: Vec<String> = NATIVE_FIELDS
        .iter()
        .filter(|f| schema.contains(f))
        .map(|f| f.to_string())
        .collect();
    // A row group of up to 2^17 rows at a time (DuckDB and Arrow write 122,880 rows;
    // polars 123,460 here), a larger one in parts of at most 2^16 rows: bounded memory,
    // still parallel. Slices of 2^16 rows that ignored row groups decoded most groups
    // twice: at 1 M events (row groups of 123,460 rows), 2^16-row slices peaked at 347
    // MiB in 0.93 s (medians of three), halves of each row group at 305 MiB in 0.85 s,
    // whole row groups at 353 MiB in 0.81 s; at 10 M, 8.05, 7.83 and 7.25 s (the means
    // of two runs). On 200,000 events, 1.134, 1.084 and 0.949 billion instructions. The
    // same 1 M events as one row group (as pyarrow writes up to 2^20 rows) peaked at
    // 341 MiB in parts of 2^16 rows and 399 MiB in parts of 2^17 (medians of three;
    // DuckDB 380 MiB in one run).
    const WHOLE_GROUP: usize = 1 << 17;
    const PART: usize = 1 << 16;
    // Each slice is cut into parts that are turned into events and checked in parallel,
    // while the next slice is decoded on a thread of its own and the slice before goes
    // through the stateful policies: three slices are held at most, so memory stays
    // bounded. (Decoding two slices at once, both in parallel, measured no faster and
    // took half as much memory again.)
    let slices = row_group_slices(
        metadata.row_groups.iter().map(|g| g.num_rows()),
        rows,
        WHOLE_GROUP,
        PART,
    );
    let decode = |offset: usize, len: usize| -> Result<DataFrame> {
        decoder_guard(&name, || {
            let mut reader = open()?;
            reader.set_metadata(metadata.clone());
            reader
                .with_columns(Some(columns.clone()))
                .with_slice(Some((offset, len)))
                .finish()
                .map_err(|e| bad_input(format!("{name}: {e}")))
        })
    };
    std::thread::scope(|scope| -> Result<()> {
        let (tx, rx) = std::sync::mpsc::sync_channel::<Result<(usize, DataFrame)>>(0);
        scope.spawn(move || {
            for (offset, len) in slices {
                let slice = decode(offset, len);
                let failed = slice.is_err();
                // A closed channel: the reading side stopped (an error, or --strict).
                if tx.send(slice.map(|df| (offset, df))).is_err() || failed {
                    return;
                }
            }
        });
        // While one slice is turned into events and checked, the slice before goes
        // through the stateful policies.
        let mut slices = SliceContext {
            rx,
            name: &name,
            index,
            tz: cx.input_tz,
        };
        in_two_slots(&mut slices, intake)
    })
}

/// Runs a step of the Parquet decoder, a panic in it (polars panics on some damaged
/// files, e.g. a page offset past the end of a truncated file) made the file's error:
/// the file is rejected whole and the run goes on.
fn decoder_guard<T>(name: &str, step: impl FnOnce() -> Result<T>) -> Result<T> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(step)).unwrap_or_else(|panic| {
        let why = (panic.downcast_ref::<String>().map(String::as_str))
            .or_else(|| panic.downcast_ref::<&str>().copied())
            .unwrap_or("the decoder failed");
        Err(bad_input(format!(
            "{name}: not a readable Parquet file (damaged or cut short: {why})"
        )))
    })
}

/// The slices a Parquet file is read in, as (first row, rows): a row group of at most
/// `whole` rows is one slice, a larger one is cut in equal parts of at most `part` rows,
/// so that no slice takes rows from two row groups (a slice across a boundary decodes and
/// decompresses both groups' pages up to its rows). Rows the row groups do not account
/// for, if any, follow as one more group.
fn row_group_slices(
    groups: impl Iterator<Item = usize>,
    rows: usize,
    whole: usize,
    part: usize,
) -> Vec<(usize, usize)> {
    let part = part.max(1);
    let parts = |n: usize| if n <= whole { 1 } else { n.div_ceil(part) };
    let mut slices = Vec::new();
    let mut offset = 0;
    for n in groups {
        let n = n.min(rows.saturating_sub(offset));
        slices.extend(equal_parts(offset, n, parts(n)));
        offset += n;
    }
    if offset < rows {
        slices.extend(equal_parts(offset, rows - offset, parts(rows - offset)));
    }
    slices
}

/// `n` rows from `offset` in `parts` runs as (first row, rows), as equal as they can be
/// (the first ones a row longer where `parts` does not divide `n`); empty runs are left
/// out.
fn equal_parts(offset: usize, n: usize, parts: usize) -> impl Iterator<Item = (usize, usize)> {
    let parts = parts.max(1);
    let (each, extra) = (n / parts, n % parts);
    (0..parts)
        .scan(offset, move |at, p| {
            let len = each + usize::from(p < extra);
            *at += len;
            Some((*at - len, len))
        })
        .filter(|&(_, len)| len > 0)
}

/// A part of a Parquet slice turned into events and checked.
type CheckedPart<'d> = (Vec<AuditEvent<'d>>, Vec<Rejection>, Vec<Hit<'d>>);

/// What each step of reading a Parquet file's slices needs.
struct SliceContext<'n> {
    rx: std::sync::mpsc::Receiver<Result<(usize, polars::prelude::DataFrame)>>,
    name: &'n str,
    index: u32,
    tz: Tz,
}

impl TwoSlots for SliceContext<'_> {
    type Slot = Vec<(usize, polars::prelude::DataFrame)>;
    type Checked<'d>
        = Vec<CheckedPart<'d>>
    where
        Self: 'd;

    /// Takes the next decoded slice into `slot`, then turns it into events and checks
    /// them, in parallel parts, while the previous slice's events go to the intake.
    /// `None` once the file is done.
    fn step<'d>(
        &mut self,
        slot: &'d mut Vec<(usize, polars::prelude::DataFrame)>,
        previous: Vec<CheckedPart<'_>>,
        intake: &mut Intake,
    ) -> Result<Option<Vec<CheckedPart<'d>>>> {
        slot.clear();
        let mut failed = None;
        match self.rx.recv() {
            Ok(Ok((offset, df))) => {
                // Cut into parts (views of the slice, not copies) for the cores to share.
                let parts = rayon::current_num_threads().max(1) * 4;
                slot.extend(
                    equal_parts(0, df.height(), parts)
                        .map(|(start, len)| (offset + start, df.slice(start as i64, len))),
                );
            }
            Ok(Err(e)) => failed = Some(e),
            Err(_) => {}
        }
        let parts: &'d Vec<_> = slot;
        let (name, index, tz, checker) = (self.name, self.index, self.tz, intake.checker);
        let (handed, checked) = rayon::join(
            || -> Result<()> {
                for (events, rejects, hits) in previous {
                    intake.summary.read += (events.len() + rejects.len()) as u64;
                    intake.take(&events, hits, rejects)?;
                }
                Ok(())
            },
            || {
                parts
                    .par_iter()
                    .map(|(first_row, part)| {
                        let (events, rejects) = parquet_events(part, name, index, *first_row, tz)?;
                        let hits = checker.check(&events);
                        Ok((events, rejects, hits))
                    })
                    .collect::<Result<Vec<_>>>()
            },
        );
        handed?;
        if let Some(e) = failed {
            return Err(e);
        }
        let checked = checked?;
        Ok((!parts.is_empty()).then_some(checked))
    }
}

fn parquet_events<'a>(
    df: &'a polars::prelude::DataFrame,
    name: &str,
    index: u32,
    first_row: usize,
    tz: Tz,
) -> Result<(Vec<AuditEvent<'a>>, Vec<Rejection>)> {
    use polars::prelude::*;
    // Each text column's values, read in order (cheaper than looking each one up by row
    // across the column's chunks).
    let text = |field: &str| -> Result<Option<Vec<Option<&'a str>>>> {
        match df.column(field) {
            Err(_) => Ok(None),
            Ok(c) => {
                let ca = c.str().map_err(|_| {
                    bad_input(format!(
                        "{name}: column {field:?} is {} (it must be text)",
                        c.dtype()
                    ))
                })?;
                let mut values = Vec::with_capacity(ca.len());
                // (`validity` through the boxed chunk: polars does not export the trait.
                // The chunk's own `iter()` gives the same values, but a run on 200,000
                // Parquet events took 1.198 billion instructions with it, 1.136 without.)
                for (chunk, boxed) in ca.downcast_iter().zip(ca.chunks()) {
                    match boxed.validity() {
                        None => values.extend(chunk.values_iter().map(Some)),
                        Some(valid) => values.extend(
                            chunk
                                .values_iter()
                                .zip(valid.iter())
                                .map(|(v, ok)| ok.then_some(v)),
                        ),
                    }
                }
                Ok(Some(values))
            }
        }
    };
    // Every text column, in [`Text`] order; a column the file lacks is None.
    let cols: Vec<Option<Vec<Option<&'a str>>>> = Text::ALL
        .iter()
        .map(|f| text(f.name()))
        .collect::<Result<_>>()?;
    // Read as every other format reads it: text must say true or false (yes/no, 1/0).
    let dry: Option<Vec<Flag>> = match df.column("dry_run") {
        Err(_) => None,
        Ok(c) => match c.dtype() {
            DataType::Boolean => Some(c.bool()?.iter().map(|b| Flag(b, false)).collect()),
            DataType::String => Some(
                c.str()?
                    .iter()
                    .map(|t| t.map_or(Flag(None, false), text_flag))
                    .collect(),
            ),
            other => {
                return Err(bad_input(format!(
                    "{name}: column \"dry_run\" is {other} (it must be boolean)"
                )))
            }
        },
    };
    let mut events = Vec::with_capacity(df.height());
    let mut rejects = Vec::new();
    for i in 0..df.height() {
        let record = first_row + i + 1;
        let row = ParquetRow {
            cols: &cols,
            row: i,
            dry_run: dry.as_ref().map_or(Flag(None, false), |d| d[i]),
        };
        if let Err(err) = build_with(row, tz, index, record as u64, |e| events.push(e)) {
            rejects.push(rejection(
                name,
                Location::Record(record as u64),
                err,
                String::new(),
            ));
        }
    }
    Ok((events, rejects))
}

/// One row of a Parquet slice, read field by field as it is checked.
struct ParquetRow<'c, 'a> {
    /// The text columns' values in [`Text`] order; `None` for a column the file lacks.
    cols: &'c [Option<Vec<Option<&'a str>>>],
    row: usize,
    dry_run: Flag,
}

impl<'a> RawRecord<'a> for ParquetRow<'_, 'a> {
    fn take(&mut self, field: Text) -> Option<Cow<'a, str>> {
        let col = self.cols.get(field as usize)?.as_ref()?;
        col.get(self.row).copied().flatten().map(Cow::Borrowed)
    }

    fn dry_run(&self) -> Flag {
        self.dry_run
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parquet_slices_keep_to_row_groups_and_cover_every_row() {
        // Row groups of 123,460 (whole), one of 300,000 (cut in five equal parts) and a
        // short last one.
        let groups = [123_460, 300_000, 5];
        let slices = row_group_slices(groups.into_iter(), 423_465, 1 << 17, 1 << 16);
        assert_eq!(
            slices,
            vec![
                (0, 123_460),
                (123_460, 60_000),
                (183_460, 60_000),
                (243_460, 60_000),
                (303_460, 60_000),
                (363_460, 60_000),
                (423_460, 5)
            ]
        );
        // Rows the row groups do not account for still get read; empty groups give none.
        assert_eq!(
            row_group_slices([0, 10].into_iter(), 25, 8, 8),
            vec![(0, 5), (5, 5), (10, 8), (18, 7)]
        );
        assert_eq!(row_group_slices(std::iter::empty(), 0, 8, 8), vec![]);
    }

    #[test]
    fn parquet_dry_run_text_is_read_as_the_other_formats_read_it() {
        use polars::prelude::*;
        let n = 3;
        let df = df!(
            "timestamp" => vec!["2026-11-10T10:00:00Z"; n],
            "actor" => vec!["a"; n],
            "actor_type" => vec!["human"; n],
            "action" => vec!["apply"; n],
            "operation" => vec!["update"; n],
            "resource" => vec!["db/x"; n],
            "environment" => vec!["prod"; n],
            "dry_run" => ["Yes", "0", "maybe"],
        )
        .unwrap();
        let (events, rejects) =
            parquet_events(&df, "f.parquet", 0, 0, chrono_tz::Europe::London).unwrap();
        let dry: Vec<bool> = events.iter().map(|e| e.dry_run).collect();
        assert_eq!(dry, [true, false]);
        assert_eq!(rejects.len(), 1);
        assert_eq!(rejects[0].field, "dry_run");
        assert_eq!(rejects[0].location, Location::Record(3));
    }

    #[test]
    fn parquet_columns_in_several_chunks_are_read_row_by_row() {
        use polars::prelude::*;
        // Rows of (second, actor, resource, region) as one chunk of a frame.
        let chunk = |rows: [(u32, &str, &str, Option<&str>); 2]| {
            df!(
                "timestamp" => rows.map(|r| format!("2026-11-10T10:00:0{}Z", r.0)),
                "actor" => rows.map(|r| r.1),
                "actor_type" => ["human"; 2],
                "action" => ["apply"; 2],
                "operation" => ["update"; 2],
                "resource" => rows.map(|r| r.2),
                "environment" => ["prod"; 2],
                "region" => rows.map(|r| r.3),
            )
            .unwrap()
        };
        let first = chunk([(0, "a", "db/1", Some("eu-west-2")), (1, "b", "db/2", None)]);
        let second = chunk([(2, "c", "db/3", None), (3, "d", "db/4", Some("eu-west-1"))]);
        let mut df = first;
        df.vstack_mut(&second).unwrap();
        // From the middle of the first chunk into the second, as a part of a slice is.
        let part = df.slice(1, 3);
        assert_eq!(
            part.column("actor").unwrap().str().unwrap().chunks().len(),
            2
        );
        let (events, rejects) =
            parquet_events(&part, "f.parquet", 0, 10, chrono_tz::Europe::London).unwrap();
        assert!(rejects.is_empty());
        let got: Vec<(&str, &str, &str, u64)> = events
            .iter()
            .map(|e| (&*e.actor, &*e.resource, &*e.region, e.line))
            .collect();
        assert_eq!(
            got,
            [
                ("b", "db/2", "", 11),
                ("c", "db/3", "", 12),
                ("d", "db/4", "eu-west-1", 13)
            ]
        );
    }
}
