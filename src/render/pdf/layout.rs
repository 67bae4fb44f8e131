//! A small PDF layout engine (printpdf): real text in the PDF base fonts, headings,
//! paragraphs wrapped to the page, tables that break across pages with their header row
//! repeated, bar charts as vector graphics, and the period, generation time and page number
//! on every page. Documents (the report, the drafts) are drawn with it.

use printpdf::{
    BuiltinFont, Color, Line, LinePoint, Mm, Op, PaintMode, PdfDocument, PdfFontHandle, PdfPage,
    PdfSaveOptions, Point, Pt, Rect, Rgb, TextItem,
};

const PAGE_W: f32 = 595.3; // A4 in points
const PAGE_H: f32 = 841.9;
const MARGIN: f32 = 48.0;
const TOP: f32 = PAGE_H - 64.0;
const BOTTOM: f32 = 56.0;

/// The base fonts speak WinAnsi (Latin-1, roughly): typographic characters are mapped to
/// plain ones, anything else becomes `?` rather than vanishing.
fn latin1(s: &str) -> String {
    s.chars()
        .map(|c| match c {
            '\u{2018}' | '\u{2019}' => '\'',
            '\u{201c}' | '\u{201d}' => '"',
            '\u{2013}' | '\u{2014}' | '\u{2212}' => '-',
            '\u{2026}' => '.',
            '\n' | '\r' | '\t' => ' ',
            c if (c as u32) < 0x100 => c,
            _ => '?',
        })
        .collect()
}

/// Approximate Helvetica advance widths (in 1/1000 em), enough to wrap text.
fn char_width(c: char) -> f32 {
    match c {
        'i' | 'j' | 'l' | '\'' | '|' | '.' | ',' | ':' | ';' | '!' => 222.0,
        ' ' | 'f' | 't' | 'r' | '(' | ')' | '[' | ']' | '/' | '-' => 300.0,
        'm' | 'w' | 'M' | 'W' | '@' | '%' => 850.0,
        'A'..='Z' => 680.0,
        '0'..='9' => 556.0,
        _ => 540.0,
    }
}

fn text_width(s: &str, size: f32, bold: bool) -> f32 {
    let k = if bold { 1.06 } else { 1.0 };
    s.chars().map(char_width).sum::<f32>() * size / 1000.0 * k
}

/// Splits text into lines no wider than `width`.
fn wrap(s: &str, size: f32, width: f32, bold: bool) -> Vec<String> {
    let mut lines = Vec::new();
    let mut line = String::new();
    for word in latin1(s).split(' ').filter(|w| !w.is_empty()) {
        let candidate = if line.is_empty() {
            word.to_string()
        } else {
            format!("{line} {word}")
        };
        if text_width(&candidate, size, bold) <= width || line.is_empty() {
            line = candidate;
            // A single word wider than the column is cut hard.
            while text_width(&line, size, bold) > width && line.chars().count() > 1 {
                let mut head = String::new();
                for ch in line.chars() {
                    if text_width(&format!("{head}{ch}"), size, bold) > width {
                        break;
                    }
                    head.push(ch);
                }
                if head.is_empty() {
                    break;
                }
                let rest = line[head.len()..].to_string();
                lines.push(head);
                line = rest;
            }
        } else {
            lines.push(std::mem::take(&mut line));
            line = word.to_string();
        }
    }
    if !line.is_empty() || lines.is_empty() {
        lines.push(line);
    }
    lines
}

fn grey(v: f32) -> Color {
    Color::Rgb(Rgb {
        r: v,
        g: v,
        b: v,
        icc_profile: None,
    })
}

fn rgb(r: f32, g: f32, b: f32) -> Color {
    Color::Rgb(Rgb {
        r,
        g,
        b,
        icc_profile: None,
    })
}

/// Lays content out top to bottom, starting new pages as needed.
pub struct Layout {
    pages: Vec<Vec<Op>>,
    y: f32,
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
        }
    }

    fn ops(&mut self) -> &mut Vec<Op> {
        self.pages.last_mut().expect("a page")
    }

    fn new_page(&mut self) {
        self.pages.push(Vec::new());
        self.y = TOP;
    }

    /// Makes sure `h` points fit below the cursor, else starts a page. True if it did.
    fn ensure(&mut self, h: f32) -> bool {
        if self.y - h < BOTTOM {
            self.new_page();
            true
        } else {
            false
        }
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
                items: vec![TextItem::Text(latin1(s))],
            },
            Op::EndTextSection,
        ]);
    }

    fn rect(&mut self, x: f32, y: f32, w: f32, h: f32, fill: Color) {
        self.ops().extend([
            Op::SetFillColor { col: fill },
            Op::DrawRectangle {
                rectangle: Rect {
                    x: Pt(x),
                    y: Pt(y),
                    width: Pt(w),
                    height: Pt(h),
                    mode: Some(PaintMode::Fill),
                    winding_order: None,
                },
            },
        ]);
    }

    fn line(&mut self, x1: f32, y1: f32, x2: f32, y2: f32, col: Color, width: f32) {
        let p = |x: f32, y: f32| LinePoint {
            p: Point { x: Pt(x), y: Pt(y) },
            bezier: false,
        };
        self.ops().extend([
            Op::SetOutlineColor { col },
            Op::SetOutlineThickness { pt: Pt(width) },
            Op::DrawLine {
                line: Line {
                    points: vec![p(x1, y1), p(x2, y2)],
                    is_closed: false,
                },
            },
        ]);
    }

    pub fn heading(&mut self, s: &str, size: f32) {
        self.ensure(size * 3.0);
        self.y -= size * 1.4;
        self.text_at(MARGIN, self.y, s, size, true, grey(0.1));
        self.y -= size * 0.6;
    }

    pub fn paragraph(&mut self, s: &str, size: f32) {
        let width = PAGE_W - 2.0 * MARGIN;
        for l in wrap(s, size, width, false) {
            self.ensure(size * 1.4);
            self.y -= size * 1.35;
            self.text_at(MARGIN, self.y, &l, size, false, grey(0.1));
        }
        self.y -= size * 0.5;
    }

    /// A table whose rows wrap within their columns; a row never splits, and every page the
    /// table continues on starts with the header row again.
    pub fn table(&mut self, headers: &[&str], widths: &[f32], rows: &[Vec<String>]) {
        let size = 8.0;
        let lh = size * 1.3;
        let total: f32 = widths.iter().sum();
        let cols: Vec<f32> = widths
            .iter()
            .map(|w| w / total * (PAGE_W - 2.0 * MARGIN))
            .collect();
        let draw_header = |l: &mut Layout| {
            let h = lh + 6.0;
            l.rect(MARGIN, l.y - h, PAGE_W - 2.0 * MARGIN, h, grey(0.9));
            let mut x = MARGIN;
            for (i, head) in headers.iter().enumerate() {
                l.text_at(x + 3.0, l.y - lh, head, size, true, grey(0.1));
                x += cols[i];
            }
            l.y -= h;
        };
        self.ensure(lh * 4.0);
        draw_header(self);
        for row in rows {
            let cells: Vec<Vec<String>> = row
                .iter()
                .enumerate()
                .map(|(i, c)| wrap(c, size, cols[i] - 6.0, false))
                .collect();
            let n = cells.iter().map(Vec::len).max().unwrap_or(1);
            let h = n as f32 * lh + 4.0;
            if self.ensure(h) {
                draw_header(self);
            }
            let mut x = MARGIN;
            for (i, lines) in cells.iter().enumerate() {
                for (k, l) in lines.iter().enumerate() {
                    let col = match l.as_str() {
                        "overdue" | "met-late" | "BREACHED" => rgb(0.69, 0.0, 0.13),
                        _ => grey(0.1),
                    };
                    self.text_at(x + 3.0, self.y - lh * (k as f32 + 1.0), l, size, false, col);
                }
                x += cols[i];
            }
            self.y -= h;
            self.line(MARGIN, self.y, PAGE_W - MARGIN, self.y, grey(0.8), 0.5);
        }
        self.y -= 8.0;
    }

    /// A horizontal bar chart in vector graphics, with a dashed-looking limit line.
    pub fn bar_chart(
        &mut self,
        title: &str,
        unit: &str,
        bars: &[(String, f64)],
        limit: Option<f64>,
    ) {
        let row = 14.0;
        let h = 30.0 + row * bars.len().max(1) as f32 + 16.0;
        self.ensure(h);
        self.text_at(MARGIN, self.y - 12.0, title, 9.0, true, grey(0.1));
        let left = MARGIN + 90.0;
        let plot = PAGE_W - MARGIN - left - 50.0;
        let max = bars.iter().map(|b| b.1).chain(limit).fold(1.0, f64::max) as f32;
        let top = self.y - 22.0;
        for (i, (label, v)) in bars.iter().enumerate() {
            let y = top - row * (i as f32 + 1.0);
            let w = plot * (v.max(0.0) as f32 / max);
            let over = limit.is_some_and(|l| *v > l);
            let fill = if over {
                rgb(0.69, 0.0, 0.13)
            } else {
                rgb(0.18, 0.44, 0.25)
            };
            self.text_at(MARGIN, y + 2.0, label, 7.5, false, grey(0.1));
            self.rect(left, y, w.max(0.5), row - 4.0, fill);
            self.text_at(
                left + w + 3.0,
                y + 2.0,
                &format!("{v:.1} {unit}"),
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
            self.text_at(
                x - 14.0,
                bottom - 9.0,
                &format!("limit {l} {unit}"),
                7.0,
                false,
                grey(0.3),
            );
        }
        self.y -= h;
    }
}

/// A piece of a simple document (the drafts).
pub enum Block {
    Heading(String),
    Para(String),
    Bullet(String),
    Table(Vec<String>, Vec<f32>, Vec<Vec<String>>),
}

/// Adds the running header and footer to every page and saves the document.
pub fn finish(mut l: Layout, title: &str, header: &str, generated: &str) -> Vec<u8> {
    let total = l.pages.len();
    let mut pages = Vec::with_capacity(total);
    for (i, mut ops) in std::mem::take(&mut l.pages).into_iter().enumerate() {
        let mut frame = Layout::new();
        frame.text_at(MARGIN, PAGE_H - 34.0, header, 7.5, false, grey(0.35));
        frame.line(
            MARGIN,
            PAGE_H - 40.0,
            PAGE_W - MARGIN,
            PAGE_H - 40.0,
            grey(0.7),
            0.5,
        );
        frame.text_at(
            MARGIN,
            30.0,
            &format!("Generated {generated} by regwatch"),
            7.5,
            false,
            grey(0.35),
        );
        let label = format!("Page {} of {}", i + 1, total);
        let w = text_width(&label, 7.5, false);
        frame.text_at(PAGE_W - MARGIN - w, 30.0, &label, 7.5, false, grey(0.35));
        ops.extend(frame.pages.remove(0));
        pages.push(PdfPage::new(Mm(210.0), Mm(297.0), ops));
    }
    let mut doc = PdfDocument::new(title);
    doc.with_pages(pages)
        .save(&PdfSaveOptions::default(), &mut Vec::new())
}

/// Renders a simple document of blocks (a draft) as PDF.
pub fn render_blocks(title: &str, header: &str, generated: &str, blocks: &[Block]) -> Vec<u8> {
    let mut l = Layout::new();
    l.heading(title, 16.0);
    for b in blocks {
        match b {
            Block::Heading(h) => l.heading(h, 12.0),
            Block::Para(p) => l.paragraph(p, 9.5),
            Block::Bullet(p) => l.paragraph(&format!("- {p}"), 9.5),
            Block::Table(h, w, rows) => {
                let heads: Vec<&str> = h.iter().map(String::as_str).collect();
                l.table(&heads, w, rows)
            }
        }
    }
    finish(l, title, header, generated)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wraps_within_width() {
        let lines = wrap(
            "the quick brown fox jumps over the lazy dog",
            10.0,
            60.0,
            false,
        );
        assert!(lines.len() > 2);
        assert!(lines.iter().all(|l| text_width(l, 10.0, false) <= 60.0));
        assert_eq!(
            lines.join(" "),
            "the quick brown fox jumps over the lazy dog"
        );
    }

    #[test]
    fn maps_text_to_latin1() {
        assert_eq!(
            latin1("a\u{2014}b \u{201c}q\u{201d} \u{1F600} £"),
            "a-b \"q\" ? £"
        );
    }
}
