//! XLSX for auditors (`--format xlsx`): one worksheet per table, the header row frozen and
//! filterable, UTC times as real Excel dates (the header says UTC), counts as numbers, and
//! text a spreadsheet could read as a formula neutralised as in CSV. The workbook is built
//! in memory and written in one piece, so the caller's atomic write sees all or nothing.

use std::io::Write;

use anyhow::{bail, Context, Result};
use rust_xlsxwriter::{Format, Workbook, Worksheet, XlsxError};

use super::sheet::{Cell, Kind, RowSink, Table};
use crate::util::text::csv_safe;

/// Excel's rows per sheet, the header included.
const MAX_ROWS: u32 = 1_048_576;
/// Excel's characters per cell.
const MAX_CELL_CHARS: usize = 32_767;
/// The widest a column is made to fit its text, in pixels (about 60 characters).
const MAX_WIDTH_PX: u32 = 420;

/// The rows `fill` gives for one sheet.
pub type Fill<'f> = Box<dyn FnOnce(&mut dyn RowSink) -> Result<()> + 'f>;

/// Writes a workbook with one sheet per `(table, fill)`, in that order.
pub fn write_xlsx(w: &mut dyn Write, sheets: Vec<(&Table, Fill<'_>)>) -> Result<()> {
    let mut book = Workbook::new();
    for (table, fill) in sheets {
        let sheet = book.add_worksheet();
        let mut sink = SheetSink::new(sheet, table)?;
        fill(&mut sink)?;
        sink.finish()
            .with_context(|| format!("XLSX sheet {}", table.sheet))?;
    }
    let bytes = book
        .save_to_buffer()
        .context("cannot build the XLSX file")?;
    w.write_all(&bytes)?;
    Ok(())
}

/// Rows written into a worksheet under the table's header.
struct SheetSink<'s> {
    sheet: &'s mut Worksheet,
    table: Table,
    /// The next row to write (0 is the header).
    next: u32,
    time: Format,
}

fn xlsx(e: XlsxError) -> anyhow::Error {
    anyhow::anyhow!("XLSX: {e}")
}

impl<'s> SheetSink<'s> {
    fn new(sheet: &'s mut Worksheet, table: &Table) -> Result<SheetSink<'s>> {
        sheet.set_name(table.sheet).map_err(xlsx)?;
        let bold = Format::new().set_bold();
        for (col, c) in table.columns.iter().enumerate() {
            // A time column says its zone: `due_at (UTC)` (`first_at_utc` too).
            let name = match c.kind {
                Kind::Time => format!("{} (UTC)", c.name.trim_end_matches("_utc")),
                _ => c.name.to_string(),
            };
            sheet
                .write_string_with_format(0, col as u16, name, &bold)
                .map_err(xlsx)?;
        }
        Ok(SheetSink {
            sheet,
            table: *table,
            next: 1,
            time: Format::new().set_num_format("yyyy-mm-dd hh:mm:ss"),
        })
    }

    /// Freezes the header, filters every column over the rows written, fits the widths.
    fn finish(self) -> Result<()> {
        let last_col = self.table.columns.len().saturating_sub(1) as u16;
        self.sheet.set_freeze_panes(1, 0).map_err(xlsx)?;
        self.sheet
            .autofilter(0, 0, self.next - 1, last_col)
            .map_err(xlsx)?;
        self.sheet.set_autofit_max_width(MAX_WIDTH_PX).autofit();
        Ok(())
    }
}

/// Text as a spreadsheet keeps it: formulas neutralised, and cut, saying so, at Excel's
/// limit for a cell.
fn cell_text(s: &str) -> String {
    let safe = csv_safe(s);
    if safe.chars().count() <= MAX_CELL_CHARS {
        return safe.into_owned();
    }
    const NOTE: &str = " [cut at Excel's 32,767-character limit; the CSV and JSON have it whole]";
    let mut cut: String = safe
        .chars()
        .take(MAX_CELL_CHARS - NOTE.chars().count())
        .collect();
    cut.push_str(NOTE);
    cut
}

impl RowSink for SheetSink<'_> {
    fn row(&mut self, cells: &[Cell]) -> Result<()> {
        if self.next >= MAX_ROWS {
            bail!(
                "the {} sheet has more rows than XLSX holds ({}): use --format csv",
                self.table.sheet,
                MAX_ROWS - 1
            );
        }
        let row = self.next;
        for (col, cell) in cells.iter().enumerate() {
            let col = col as u16;
            match cell {
                Cell::Text(s) if s.is_empty() => {}
                Cell::Text(s) => {
                    self.sheet
                        .write_string(row, col, cell_text(s))
                        .map_err(xlsx)?;
                }
                Cell::Count(n) => {
                    self.sheet.write_number(row, col, *n as f64).map_err(xlsx)?;
                }
                Cell::Time(t) => {
                    self.sheet
                        .write_datetime_with_format(row, col, t.naive_utc(), &self.time)
                        .map_err(xlsx)?;
                }
                Cell::Empty => {}
            }
        }
        self.next += 1;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_text_is_cut_with_a_note_and_formulas_are_neutralised() {
        let long = "x".repeat(MAX_CELL_CHARS + 10);
        let cut = cell_text(&long);
        assert_eq!(cut.chars().count(), MAX_CELL_CHARS);
        assert!(cut.ends_with("the CSV and JSON have it whole]"));
        assert_eq!(cell_text("=HYPERLINK(\"x\")"), "'=HYPERLINK(\"x\")");
        assert_eq!(cell_text("plain"), "plain");
    }
}
