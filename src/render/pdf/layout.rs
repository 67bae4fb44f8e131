//! A small PDF layout engine (printpdf): real text in the PDF base fonts, headings kept
//! with what follows them, paragraphs and list items wrapped to the page (long tokens
//! broken), tables that break across pages with their header row repeated, bar charts as
//! vector graphics with a legend, and the period, generation time and page number on every
//! page. Documents (the report, the drafts) are drawn with it.

use chrono::{DateTime, Utc};
use printpdf::{
    BuiltinFont, Color, Line, LinePoint, Mm, Op, PaintMode, PdfDocument, PdfFontHandle, PdfPage,
    PdfSaveOptions, Point, Pt, Rect, Rgb, TextItem,
};

use super::text::{text_width, truncate, win_ansi, wrap};
use crate::render::chart::{Bar, Legend};

pub const PAGE_W: f32 = 595.275_6; // A4 (210 x 297 mm) in points
pub const PAGE_H: f32 = 841.889_8;
pub const MARGIN: f32 = 48.0;
const TOP: f32 = PAGE_H - 64.0;
const BOTTOM: f32 = 56.0;
const TEXT_W: f32 = PAGE_W - 2.0 * MARGIN;
/// Where list item text starts, right of the bullet or check box.
const INDENT: f32 = 14.0;

fn grey(v: f32) -> Color {
    rgb(v, v, v)
}

fn rgb(r: f32, g: f32, b: f32) -> Color {
    Color::Rgb(Rgb {
        r,
        g,
        b,
        icc_profile: None,
    })
}

fn red() -> Color {
    rgb(0.69, 0.0, 0.13)
}

fn green() -> Color {
    rgb(0.18, 0.44, 0.25)
}

/// The colour of emphasised text.
#[derive(Debug, Clone, Copy)]
pub enum Tone {
    Plain,
    Alert,
    Clear,
}

/// A heading waiting for the content it belongs with.
struct PendingHeading {
    lines: Vec<String>,
    size: f32,
}

impl PendingHeading {
    fn height(&self) -> f32 {
        self.size * 0.4 + self.lines.len() as f32 * self.size * 1.25 + self.size * 0.5
    }
}

/// Lays content out top to bottom, starting new pages as needed. A heading is drawn only
/// together with the first lines of what follows it, so it never ends a page.
pub struct Layout {
    pages: Vec<Vec<Op>>,
    y: f32,
    pending: Vec<PendingHeading>,
}

impl Default for Layout {
    fn default() -> Layout {
        Layout::new()
    }
}

impl Layout {
    pub fn new() -> Layout {
        Layout {
            pages: vec![Vec::new()],
            y: TOP,
            pending: Vec::new(),
        }
    }

    fn ops(&mut self) -> &mut Vec<Op> {
        self.pages.last_mut().expect("a page")
    }

    fn new_page(&mut self) {
        self.pages.push(Vec::new());
        self.y = TOP;
    }

    /// Makes sure `h` points fit below the cursor, else starts a page (unless the page is
    /// still empty: what is taller than a page starts at its top). True if it did.
    fn ensure(&mut self, h: f32) -> bool {
        if self.y - h < BOTTOM && self.y < TOP {
            self.new_page();
            true
        } else {
            false
        }
    }

    /// Draws the waiting headings and makes room for them plus the first `first` points of
    /// the content that follows, on one page. True if a page was started.
    fn begin_block(&mut self, first: f32) -> bool {
        let pending = std::mem::take(&mut self.pending);
        let heads: f32 = pending.iter().map(PendingHeading::height).sum();
        let started = self.ensure(heads + first);
        for h in pending {
            self.y -= h.size * 0.4;
            for line in &h.lines {
                self.y -= h.size * 1.25;
                self.text_at(MARGIN, self.y, line, h.size, true, grey(0.1));
            }
            self.y -= h.size * 0.5;
        }
        started
    }

    fn text_at(&mut self, x: f32, y: f32, s: &str, size: f32, bold: bool, col: Color) {
        let font = if bold {
            BuiltinFont::HelveticaBold
        } else {
            BuiltinFont::Helvetica
        };
        self.ops().extend([
            Op::StartTextSection,
            Op::SetFillColor { col },
            Op::SetFont {
                font: PdfFontHandle::Builtin(font),
                size: Pt(size),
            },
            Op::SetTextCursor {
                pos: Point { x: Pt(x), y: Pt(y) },
            },
            Op::ShowText {
                items: vec![TextItem::Text(win_ansi(s))],
            },
            Op::EndTextSection,
        ]);
    }

    fn rect(&mut self, x: f32, y: f32, w: f32, h: f32, fill: Color) {
        self.ops().push(Op::SetFillColor { col: fill });
        self.draw_rect(x, y, w, h, PaintMode::Fill);
    }

    fn outline(&mut self, x: f32, y: f32, w: f32, h: f32, col: Color) {
        self.ops().extend([
            Op::SetOutlineColor { col },
            Op::SetOutlineThickness { pt: Pt(0.8) },
        ]);
        self.draw_rect(x, y, w, h, PaintMode::Stroke);
    }

    fn draw_rect(&mut self, x: f32, y: f32, w: f32, h: f32, mode: PaintMode) {
        self.ops().push(Op::DrawRectangle {
            rectangle: Rect {
                x: Pt(x),
                y: Pt(y),
                width: Pt(w),
                height: Pt(h),
                mode: Some(mode),
                winding_order: None,
            },
        });
    }

    fn polyline(&mut self, points: &[(f32, f32)], col: Color, width: f32) {
        let points = points
            .iter()
            .map(|&(x, y)| LinePoint {
                p: Point { x: Pt(x), y: Pt(y) },
                bezier: false,
            })
            .collect();
        self.ops().extend([
            Op::SetOutlineColor { col },
            Op::SetOutlineThickness { pt: Pt(width) },
            Op::DrawLine {
                line: Line {
                    points,
                    is_closed: false,
                },
            },
        ]);
    }

    fn line(&mut self, x1: f32, y1: f32, x2: f32, y2: f32, col: Color, width: f32) {
        self.polyline(&[(x1, y1), (x2, y2)], col, width);
    }

    /// A heading: drawn with the start of whatever comes next.
    pub fn heading(&mut self, s: &str, size: f32) {
        self.pending.push(PendingHeading {
            lines: wrap(s, size, TEXT_W, true),
            size,
        });
    }

    /// Wrapped lines starting at `x`, the first two kept with any heading before them.
    fn lines_at(&mut self, x: f32, lines: &[String], size: f32, bold: bool, col: Color) {
        let lh = size * 1.35;
        self.begin_block(lh * lines.len().min(2) as f32);
        for l in lines {
            self.ensure(lh);
            self.y -= lh;
            self.text_at(x, self.y, l, size, bold, col.clone());
        }
    }

    pub fn paragraph(&mut self, s: &str, size: f32) {
        self.lines_at(
            MARGIN,
            &wrap(s, size, TEXT_W, false),
            size,
            false,
            grey(0.1),
        );
        self.y -= size * 0.5;
    }

    /// A paragraph in bold: plain, red for what needs attention, green for all clear.
    pub fn emphasis(&mut self, s: &str, size: f32, tone: Tone) {
        let col = match tone {
            Tone::Plain => grey(0.1),
            Tone::Alert => red(),
            Tone::Clear => green(),
        };
        self.lines_at(MARGIN, &wrap(s, size, TEXT_W, true), size, true, col);
        self.y -= size * 0.5;
    }

    /// A list item with a bullet, its text hanging beside it.
    pub fn bullet(&mut self, s: &str, size: f32) {
        self.item(s, size, None);
    }

    /// A check box (ticked when `done`) and its item, as on a paper form.
    pub fn check(&mut self, done: bool, s: &str, size: f32) {
        self.item(s, size, Some(done));
    }

    /// A list item: a bullet, or a check box when `check` is given, beside its first line.
    fn item(&mut self, s: &str, size: f32, check: Option<bool>) {
        let lines = wrap(s, size, TEXT_W - INDENT, false);
        let lh = size * 1.35;
        self.begin_block(lh * lines.len().min(2) as f32);
        for (i, l) in lines.iter().enumerate() {
            self.ensure(lh);
            self.y -= lh;
            self.text_at(MARGIN + INDENT, self.y, l, size, false, grey(0.1));
            if i == 0 {
                self.marker(self.y, size, check);
            }
        }
        self.y -= size * 0.3;
    }

    fn marker(&mut self, base: f32, size: f32, check: Option<bool>) {
        let Some(done) = check else {
            self.text_at(MARGIN + 3.0, base, "\u{2022}", size, false, grey(0.1));
            return;
        };
        let (x, y, side) = (MARGIN + 1.0, base - 1.0, size * 0.8);
        self.outline(x, y, side, side, grey(0.1));
        if done {
            self.polyline(
                &[
                    (x + side * 0.18, y + side * 0.5),
                    (x + side * 0.42, y + side * 0.2),
                    (x + side * 0.85, y + side * 0.85),
                ],
                grey(0.1),
                1.1,
            );
        }
    }

    /// A table whose cells and header wrap within their columns; a row never splits, and
    /// every page the table continues on starts with the header row again.
    pub fn table(&mut self, headers: &[&str], widths: &[f32], rows: &[Vec<String>]) {
        self.table_marked(headers, widths, rows, &[]);
    }

    /// A table with the rows whose `marked` entry is true on a pale red ground (overdue,
    /// due within 24 hours).
    pub fn table_marked(
        &mut self,
        headers: &[&str],
        widths: &[f32],
        rows: &[Vec<String>],
        marked: &[bool],
    ) {
        let size = 8.0;
        let lh = size * 1.3;
        let total: f32 = widths.iter().sum();
        let cols: Vec<f32> = widths.iter().map(|w| w / total * TEXT_W).collect();
        let head_lines: Vec<Vec<String>> = headers
            .iter()
            .enumerate()
            .map(|(i, h)| wrap(h, size, cols[i] - 6.0, true))
            .collect();
        let head_h = head_lines.iter().map(Vec::len).max().unwrap_or(1) as f32 * lh + 6.0;
        let draw_header = |l: &mut Layout| {
            l.rect(MARGIN, l.y - head_h, TEXT_W, head_h, grey(0.9));
            let mut x = MARGIN;
            for (i, lines) in head_lines.iter().enumerate() {
                for (k, line) in lines.iter().enumerate() {
                    l.text_at(
                        x + 3.0,
                        l.y - lh * (k as f32 + 1.0),
                        line,
                        size,
                        true,
                        grey(0.1),
                    );
                }
                x += cols[i];
            }
            l.y -= head_h;
        };
        let cells: Vec<Vec<Vec<String>>> = rows
            .iter()
            .map(|row| {
                row.iter()
                    .enumerate()
                    .map(|(i, c)| wrap(c, size, cols[i] - 6.0, false))
                    .collect()
            })
            .collect();
        let row_h =
            |r: &Vec<Vec<String>>| r.iter().map(Vec::len).max().unwrap_or(1) as f32 * lh + 4.0;
        self.begin_block(head_h + cells.first().map_or(0.0, row_h));
        draw_header(self);
        for (r, row) in cells.iter().enumerate() {
            if self.ensure(row_h(row)) {
                draw_header(self);
            }
            if marked.get(r).copied().unwrap_or(false) {
                self.rect(
                    MARGIN,
                    self.y - row_h(row),
                    TEXT_W,
                    row_h(row),
                    rgb(0.99, 0.93, 0.94),
                );
            }
            let mut x = MARGIN;
            for (i, lines) in row.iter().enumerate() {
                let col = match lines.first().map(String::as_str) {
                    Some("overdue" | "met-late" | "due-soon" | "fail" | "BREACHED") => red(),
                    _ => grey(0.1),
                };
                for (k, l) in lines.iter().enumerate() {
                    self.text_at(
                        x + 3.0,
                        self.y - lh * (k as f32 + 1.0),
                        l,
                        size,
                        false,
                        col.clone(),
                    );
                }
                x += cols[i];
            }
            self.y -= row_h(row);
            self.line(MARGIN, self.y, PAGE_W - MARGIN, self.y, grey(0.8), 0.5);
        }
        self.y -= 8.0;
    }

    /// A horizontal bar chart in vector graphics: green within the limit, red over it, an
    /// open bar (not finished yet) pale with an outline; a dashed limit line and a legend.
    pub fn bar_chart(
        &mut self,
        title: &str,
        unit: &str,
        bars: &[Bar],
        limit: Option<f64>,
        legend: Option<&Legend>,
    ) {
        let row = 14.0;
        let legend_h = if legend.is_some() || limit.is_some() {
            14.0
        } else {
            0.0
        };
        let h = 30.0 + row * bars.len().max(1) as f32 + 16.0 + legend_h;
        self.begin_block(h);
        self.text_at(
            MARGIN,
            self.y - 12.0,
            &truncate(title, 9.0, TEXT_W, true),
            9.0,
            true,
            grey(0.1),
        );
        let left = MARGIN + 90.0;
        let plot = PAGE_W - MARGIN - left - 50.0;
        let max = bars
            .iter()
            .map(|b| b.value)
            .chain(limit)
            .fold(1.0, f64::max) as f32;
        let top = self.y - 22.0;
        for (i, b) in bars.iter().enumerate() {
            let y = top - row * (i as f32 + 1.0);
            let w = (plot * (b.value.max(0.0) as f32 / max)).max(0.5);
            let over = limit.is_some_and(|l| b.value > l);
            self.text_at(
                MARGIN,
                y + 2.0,
                &truncate(&b.label, 7.5, 86.0, false),
                7.5,
                false,
                grey(0.1),
            );
            self.bar(left, y, w, row - 4.0, over, b.open);
            self.text_at(
                left + w + 3.0,
                y + 2.0,
                &format!("{:.1} {unit}", b.value),
                7.5,
                false,
                grey(0.1),
            );
        }
        if bars.is_empty() {
            self.text_at(left, top - row, "nothing this month", 8.0, false, grey(0.3));
        }
        let bottom = top - row * bars.len().max(1) as f32 - 4.0;
        if let Some(l) = limit {
            let x = left + plot * (l as f32 / max);
            // Dashes drawn as short segments: plain lines keep the content simple.
            let mut y = top;
            while y > bottom {
                self.line(x, y, x, (y - 3.0).max(bottom), grey(0.3), 0.8);
                y -= 6.0;
            }
            let label = format!("limit {l} {unit}");
            let lx = (x - 14.0).min(PAGE_W - MARGIN - text_width(&label, 7.0, false));
            self.text_at(lx, bottom - 9.0, &label, 7.0, false, grey(0.3));
        }
        if legend_h > 0.0 {
            self.legend(bottom - 24.0, limit.is_some(), legend);
        }
        self.y -= h;
    }

    fn bar(&mut self, x: f32, y: f32, w: f32, h: f32, over: bool, open: bool) {
        let (solid, pale) = if over {
            (red(), rgb(0.97, 0.82, 0.85))
        } else {
            (green(), rgb(0.84, 0.93, 0.86))
        };
        if open {
            self.rect(x, y, w, h, pale);
            self.outline(x, y, w, h, solid);
        } else {
            self.rect(x, y, w, h, solid);
        }
    }

    /// The chart's key: what the colours and the outlined bars mean.
    fn legend(&mut self, y: f32, limit: bool, legend: Option<&Legend>) {
        let mut x = MARGIN;
        for (class, label) in crate::render::chart::key(limit, legend) {
            let label = truncate(&label, 7.5, PAGE_W - MARGIN - x - 14.0, false);
            self.bar(
                x,
                y,
                9.0,
                7.0,
                class.starts_with("over"),
                class.ends_with("open"),
            );
            self.text_at(x + 12.0, y + 0.5, &label, 7.5, false, grey(0.1));
            x += 12.0 + text_width(&label, 7.5, false) + 14.0;
        }
    }

    #[cfg(test)]
    fn page_count(&self) -> usize {
        self.pages.len()
    }
}

/// A piece of a simple document (the drafts).
pub enum Block {
    Heading(String),
    Para(String),
    Bullet(String),
    /// A check list item: done or still to do.
    Check(bool, String),
    Table(Vec<String>, Vec<f32>, Vec<Vec<String>>),
}

/// Adds the running header and footer to every page and saves the document, its creation
/// date the generation time `created`.
pub fn finish(
    mut l: Layout,
    title: &str,
    header: &str,
    generated: &str,
    created: DateTime<Utc>,
) -> Vec<u8> {
    // A heading with nothing after it still prints.
    l.begin_block(0.0);
    let total = l.pages.len();
    let mut pages = Vec::with_capacity(total);
    let header = truncate(header, 7.5, TEXT_W, false);
    for (i, mut ops) in std::mem::take(&mut l.pages).into_iter().enumerate() {
        let mut frame = Layout::new();
        frame.text_at(MARGIN, PAGE_H - 34.0, &header, 7.5, false, grey(0.35));
        frame.line(
            MARGIN,
            PAGE_H - 40.0,
            PAGE_W - MARGIN,
            PAGE_H - 40.0,
            grey(0.7),
            0.5,
        );
        let label = format!("Page {} of {}", i + 1, total);
        let w = text_width(&label, 7.5, false);
        let footer = truncate(
            &format!("Generated {generated} by regwatch"),
            7.5,
            TEXT_W - w - 12.0,
            false,
        );
        frame.text_at(MARGIN, 30.0, &footer, 7.5, false, grey(0.35));
        frame.text_at(PAGE_W - MARGIN - w, 30.0, &label, 7.5, false, grey(0.35));
        ops.extend(frame.pages.remove(0));
        pages.push(PdfPage::new(Mm(210.0), Mm(297.0), ops));
    }
    let mut doc = PdfDocument::new(title);
    let info = &mut doc.metadata.info;
    if let Ok(t) = printpdf::OffsetDateTime::from_unix_timestamp(created.timestamp()) {
        info.creation_date = t;
        info.modification_date = t;
        info.metadata_date = t;
    }
    info.creator = "regwatch".into();
    info.producer = format!("regwatch {}", env!("CARGO_PKG_VERSION"));
    doc.with_pages(pages)
        .save(&PdfSaveOptions::default(), &mut Vec::new())
}

/// Renders a simple document of blocks (a draft) as PDF.
pub fn render_blocks(
    title: &str,
    header: &str,
    generated: &str,
    created: DateTime<Utc>,
    blocks: &[Block],
) -> Vec<u8> {
    let mut l = Layout::new();
    l.heading(title, 16.0);
    for b in blocks {
        match b {
            Block::Heading(h) => l.heading(h, 12.0),
            Block::Para(p) => l.paragraph(p, 9.5),
            Block::Bullet(p) => l.bullet(p, 9.5),
            Block::Check(done, p) => l.check(*done, p, 9.5),
            Block::Table(h, w, rows) => {
                let heads: Vec<&str> = h.iter().map(String::as_str).collect();
                l.table(&heads, w, rows)
            }
        }
    }
    finish(l, title, header, generated, created)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Pages (but the last) where nothing in the regular font follows the last heading:
    /// a heading alone at the foot, or with only a table's header row after it.
    fn headings_left_alone(l: &Layout) -> Vec<usize> {
        let pages = &l.pages[..l.pages.len() - 1];
        (0..pages.len())
            .filter(|&i| {
                let fonts: Vec<(BuiltinFont, f32)> = pages[i]
                    .iter()
                    .filter_map(|op| match op {
                        Op::SetFont {
                            font: PdfFontHandle::Builtin(f),
                            size,
                        } => Some((*f, size.0)),
                        _ => None,
                    })
                    .collect();
                let last_heading = fonts.iter().rposition(|(_, size)| *size >= 11.0);
                last_heading
                    .is_some_and(|h| !fonts[h..].iter().any(|(f, _)| *f == BuiltinFont::Helvetica))
            })
            .collect()
    }

    /// The lowest baseline of any text on any page.
    fn lowest_text(l: &Layout) -> f32 {
        l.pages
            .iter()
            .flatten()
            .filter_map(|op| match op {
                Op::SetTextCursor { pos } => Some(pos.y.0),
                _ => None,
            })
            .fold(f32::MAX, f32::min)
    }

    #[test]
    fn a_heading_never_ends_a_page() {
        // Push the headings down a line at a time through the foot of the first page,
        // before each kind of content.
        for kind in 0..4 {
            for filler in 0..70 {
                let mut l = Layout::new();
                for _ in 0..filler {
                    l.paragraph("filler", 9.0);
                }
                l.heading("A section", 13.0);
                l.heading("Its first subsection", 11.0);
                match kind {
                    0 => l.table(
                        &["a", "b"],
                        &[1.0, 1.0],
                        &[vec!["1".into(), "2".into()], vec!["3".into(), "4".into()]],
                    ),
                    1 => l.paragraph("after", 9.0),
                    2 => l.bullet("a list item", 9.0),
                    _ => l.bar_chart("chart", "h", &[Bar::done("x", 1.0)], Some(2.0), None),
                }
                l.paragraph("the end", 9.0);
                let alone = headings_left_alone(&l);
                assert!(
                    alone.is_empty(),
                    "kind {kind}, filler {filler}: heading alone on page(s) {alone:?} of {}",
                    l.page_count()
                );
                assert!(
                    lowest_text(&l) >= BOTTOM - 12.0,
                    "kind {kind}, filler {filler}"
                );
            }
        }
    }

    #[test]
    fn check_boxes_are_drawn_and_ticked() {
        let mut l = Layout::new();
        l.check(false, "still missing", 9.5);
        let open = l.pages[0].len();
        l.check(true, "answered", 9.5);
        let strokes = |ops: &[Op]| {
            ops.iter()
                .filter(|op| matches!(op, Op::DrawRectangle { rectangle } if rectangle.mode == Some(PaintMode::Stroke)))
                .count()
        };
        assert_eq!(strokes(&l.pages[0][..open]), 1);
        assert_eq!(strokes(&l.pages[0][open..]), 1);
        let ticks = l.pages[0][open..]
            .iter()
            .filter(|op| matches!(op, Op::DrawLine { line } if line.points.len() == 3))
            .count();
        assert_eq!(ticks, 1, "the done item is ticked");
    }
}
