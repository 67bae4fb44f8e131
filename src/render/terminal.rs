//! Tables for people at a terminal: as wide as the terminal (wrapping cells rather than
//! letting the terminal fold rows), coloured by status only where colour is wanted.
//!
//! Width: `COLUMNS` when set (so scripts and tests choose), else the terminal's when
//! standard output is one, else unlimited (a pipe or a file gets one line per row, for
//! `grep`). Colour: `--color always` or `never`; `auto` colours only a terminal, and
//! never when `NO_COLOR` is set to anything but the empty string (https://no-color.org).

use std::io::{IsTerminal, Write};

use anyhow::Result;
use comfy_table::{Cell, Color, ContentArrangement, LineStyle, Table, TableStyle};

/// `--color`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ColorChoice {
    /// Colour when standard output is a terminal and `NO_COLOR` is not set.
    #[default]
    Auto,
    /// Colour even into a pipe or file (and despite `NO_COLOR`: the flag is explicit).
    Always,
    /// No colour.
    Never,
}

/// What a status or severity means to the reader, and so its colour.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tone {
    /// Overdue, breached, critical or high: red.
    Bad,
    /// Due soon, medium: yellow.
    Warn,
    /// Met: green.
    Good,
    /// Everything else: the terminal's own colour.
    Plain,
}

/// Where a table goes: how wide it may be and whether it is coloured.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Terminal {
    /// Columns available; `None`: unlimited.
    pub width: Option<u16>,
    pub color: bool,
}

/// Below this, `COLUMNS` is taken as a mistake: no table fits in fewer.
const NARROWEST: u16 = 20;

impl Terminal {
    /// For a file (`--output`): unlimited width and no colour unless `always`.
    pub fn file(choice: ColorChoice) -> Terminal {
        Terminal {
            width: None,
            color: choice == ColorChoice::Always,
        }
    }

    /// For standard output, from the environment as the module comment says.
    pub fn stdout(choice: ColorChoice) -> Terminal {
        let on_terminal = std::io::stdout().is_terminal();
        let columns = std::env::var("COLUMNS").ok();
        let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
        Terminal::resolve(choice, on_terminal, columns.as_deref(), no_color, || {
            terminal_size::terminal_size_of(std::io::stdout()).map(|(w, _)| w.0)
        })
    }

    /// The decision itself, apart from where its facts come from.
    fn resolve(
        choice: ColorChoice,
        on_terminal: bool,
        columns: Option<&str>,
        no_color: bool,
        terminal_width: impl FnOnce() -> Option<u16>,
    ) -> Terminal {
        let from_env = columns
            .and_then(|c| c.trim().parse::<u16>().ok())
            .map(|c| c.max(NARROWEST));
        // A terminal that reports no size (a fresh pseudo-terminal) is left unlimited.
        let measured = || {
            on_terminal
                .then(terminal_width)
                .flatten()
                .filter(|&w| w > 0)
        };
        let width = from_env.or_else(measured);
        let color = match choice {
            ColorChoice::Always => true,
            ColorChoice::Never => false,
            ColorChoice::Auto => on_terminal && !no_color,
        };
        Terminal { width, color }
    }

    /// A table with `header`, columns two spaces apart and no rules, wrapping cells to
    /// the width (never cutting them short).
    pub fn table(&self, header: &[&str]) -> Table {
        let mut t = Table::new();
        t.load_style(TableStyle::new());
        // Colour and width are decided here, not by comfy-table's own look at stdout.
        t.force_no_tty();
        if self.color {
            t.enforce_styling();
            t.style_text_only();
        }
        if let Some(w) = self.width {
            t.set_width(w);
            t.set_content_arrangement(ContentArrangement::Dynamic);
        }
        if !header.is_empty() {
            t.set_header(header.iter().map(Cell::new));
        }
        for c in t.column_iter_mut() {
            c.set_padding((0, 2));
        }
        t
    }

    /// Like [`Terminal::table`], with a blank line between rows: for rows of several
    /// lines, which would otherwise run into each other.
    pub fn spaced_table(&self, header: &[&str]) -> Table {
        let mut t = self.table(header);
        t.load_style(TableStyle::new().row_separator(LineStyle::none().fill(' ')));
        t
    }

    /// A cell coloured by its tone (when colour is on).
    pub fn cell(&self, text: impl Into<String>, tone: Tone) -> Cell {
        let cell = Cell::new_owned(text.into());
        let color = match tone {
            Tone::Bad => Color::Red,
            Tone::Warn => Color::Yellow,
            Tone::Good => Color::Green,
            Tone::Plain => return cell,
        };
        if self.color {
            cell.fg(color)
        } else {
            cell
        }
    }

    /// Writes the table (rows added after [`Terminal::table`] get its padding too),
    /// without the trailing spaces of the last column.
    pub fn write(&self, w: &mut dyn Write, table: &mut Table) -> Result<()> {
        for c in table.column_iter_mut() {
            c.set_padding((0, 2));
        }
        if let Some(last) = table.column_iter_mut().last() {
            last.set_padding((0, 0));
        }
        for line in table.lines() {
            writeln!(w, "{}", line.trim_end())?;
        }
        Ok(())
    }

    /// Writes a paragraph wrapped to the width after `indent` spaces (lines longer than
    /// the width only where one word is).
    pub fn paragraph(&self, w: &mut dyn Write, indent: usize, text: &str) -> Result<()> {
        let mut t = Terminal {
            width: self
                .width
                .map(|x| x.saturating_sub(indent as u16).max(NARROWEST)),
            color: false,
        }
        .table(&[]);
        t.add_row([text]);
        for c in t.column_iter_mut() {
            c.set_padding((0, 0));
        }
        let pad = " ".repeat(indent);
        for line in t.lines() {
            writeln!(w, "{pad}{}", line.trim_end())?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_wins_then_the_terminal_then_unlimited() {
        let t = Terminal::resolve(ColorChoice::Auto, true, Some("80"), false, || Some(200));
        assert_eq!(t.width, Some(80));
        let t = Terminal::resolve(ColorChoice::Auto, true, None, false, || Some(132));
        assert_eq!(t.width, Some(132));
        let t = Terminal::resolve(ColorChoice::Auto, false, None, false, || Some(132));
        assert_eq!(t.width, None);
        let t = Terminal::resolve(ColorChoice::Auto, false, Some("wide"), false, || None);
        assert_eq!(t.width, None);
    }

    #[test]
    fn colour_only_on_a_terminal_without_no_color_unless_asked() {
        let on =
            |choice, tty, no_color| Terminal::resolve(choice, tty, None, no_color, || None).color;
        assert!(on(ColorChoice::Auto, true, false));
        assert!(!on(ColorChoice::Auto, true, true));
        assert!(!on(ColorChoice::Auto, false, false));
        assert!(on(ColorChoice::Always, false, true));
        assert!(!on(ColorChoice::Never, true, false));
    }

    #[test]
    fn a_paragraph_wraps_to_the_width() {
        let t = Terminal {
            width: Some(30),
            color: false,
        };
        let mut out = Vec::new();
        let text = "one two three four five six seven eight nine ten eleven twelve";
        t.paragraph(&mut out, 2, text).unwrap();
        let out = String::from_utf8(out).unwrap();
        assert!(out.lines().count() > 1, "{out}");
        assert!(out.lines().all(|l| l.chars().count() <= 30), "{out}");
        let words: Vec<&str> = out.split_whitespace().collect();
        assert_eq!(words.join(" "), text);
    }
}
