//! A table with typed columns: what the CSV and XLSX outputs of the register, the
//! deadlines and the audit findings share. Each output builds its rows once, as typed
//! cells, and hands them to a [`RowSink`]: the CSV sink writes text (times in the stored
//! UTC form, formula-looking text neutralised), the XLSX sink real numbers and dates.

use std::borrow::Cow;
use std::io::Write;

use anyhow::Result;
use chrono::{DateTime, Utc};

use crate::clock::utc_text;
use crate::util::text::csv_safe;

/// What a column holds, which decides the cell type in a spreadsheet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Text,
    /// A whole number (a count).
    Count,
    /// A UTC time: an Excel date-time in XLSX (the header says UTC), RFC 3339 in CSV.
    Time,
}

#[derive(Debug, Clone, Copy)]
pub struct Column {
    pub name: &'static str,
    pub kind: Kind,
}

/// A text column.
pub const fn text(name: &'static str) -> Column {
    Column {
        name,
        kind: Kind::Text,
    }
}

/// A count column.
pub const fn count(name: &'static str) -> Column {
    Column {
        name,
        kind: Kind::Count,
    }
}

/// A UTC time column.
pub const fn time(name: &'static str) -> Column {
    Column {
        name,
        kind: Kind::Time,
    }
}

/// A table's name (the XLSX sheet's) and its columns.
#[derive(Debug, Clone, Copy)]
pub struct Table {
    pub sheet: &'static str,
    pub columns: &'static [Column],
}

impl Table {
    /// The CSV header: the column names.
    pub fn names(&self) -> impl Iterator<Item = &'static str> + '_ {
        self.columns.iter().map(|c| c.name)
    }
}

/// One cell. `Empty` is an absent value (an empty CSV cell, a blank spreadsheet cell).
#[derive(Debug, Clone)]
pub enum Cell<'a> {
    Text(Cow<'a, str>),
    Count(u64),
    Time(DateTime<Utc>),
    Empty,
}

impl<'a> Cell<'a> {
    pub fn text(s: impl Into<Cow<'a, str>>) -> Cell<'a> {
        Cell::Text(s.into())
    }

    /// Text, or empty when there is none.
    pub fn opt_text(s: Option<impl Into<Cow<'a, str>>>) -> Cell<'a> {
        s.map_or(Cell::Empty, |s| Cell::Text(s.into()))
    }

    pub fn opt_count(n: Option<u64>) -> Cell<'a> {
        n.map_or(Cell::Empty, Cell::Count)
    }

    pub fn opt_time(t: Option<DateTime<Utc>>) -> Cell<'a> {
        t.map_or(Cell::Empty, Cell::Time)
    }

    /// The cell as CSV text: times in the stored form (`2026-11-02T09:00:00Z`), text a
    /// spreadsheet could read as a formula prefixed with `'`.
    pub fn csv_text(&self) -> Cow<'_, str> {
        match self {
            Cell::Text(s) => csv_safe(s),
            Cell::Count(n) => n.to_string().into(),
            Cell::Time(t) => utc_text(*t).into(),
            Cell::Empty => "".into(),
        }
    }
}

/// Where rows go: a CSV file or a worksheet.
pub trait RowSink {
    /// One row, its cells in the table's column order.
    fn row(&mut self, cells: &[Cell]) -> Result<()>;
}

/// Rows as CSV, with the table's header first.
pub struct CsvSink<'w> {
    out: csv::Writer<&'w mut dyn Write>,
}

impl<'w> CsvSink<'w> {
    pub fn new(w: &'w mut dyn Write, table: &Table) -> Result<CsvSink<'w>> {
        let mut out = csv::Writer::from_writer(w);
        out.write_record(table.names())?;
        Ok(CsvSink { out })
    }

    pub fn finish(mut self) -> Result<()> {
        self.out.flush()?;
        Ok(())
    }
}

impl RowSink for CsvSink<'_> {
    fn row(&mut self, cells: &[Cell]) -> Result<()> {
        for c in cells {
            self.out.write_field(c.csv_text().as_bytes())?;
        }
        // An empty record after the fields ends the row.
        self.out.write_record(None::<&[u8]>)?;
        Ok(())
    }
}

/// Writes `table` as CSV, with the rows `fill` gives.
pub fn write_csv(
    w: &mut dyn Write,
    table: &Table,
    fill: impl FnOnce(&mut dyn RowSink) -> Result<()>,
) -> Result<()> {
    let mut sink = CsvSink::new(w, table)?;
    fill(&mut sink)?;
    sink.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_cells_keep_the_stored_forms_and_neutralise_formulas() {
        let t = DateTime::parse_from_rfc3339("2026-11-02T09:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        assert_eq!(Cell::Time(t).csv_text(), "2026-11-02T09:00:00Z");
        assert_eq!(Cell::Count(1200).csv_text(), "1200");
        assert_eq!(Cell::text("=1+1").csv_text(), "'=1+1");
        assert_eq!(Cell::Empty.csv_text(), "");
    }
}
