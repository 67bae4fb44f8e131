//! A PDF's words where they are printed, from `pdftotext -bbox-layout`, for the checks on
//! the layout: margins, headings, table headers.

use std::path::Path;

/// The margin every page keeps on each side (src/render/pdf/layout.rs MARGIN), in points.
pub const MARGIN: f64 = 48.0;
/// Height of a word box at the smallest heading size (11 pt): body text is 9.5 pt or less.
pub const HEADING_HEIGHT: f64 = 10.0;

#[derive(Debug, Clone)]
pub struct Word {
    pub x_min: f64,
    pub y_min: f64,
    pub x_max: f64,
    pub y_max: f64,
    pub text: String,
}

#[derive(Debug)]
pub struct Line {
    pub words: Vec<Word>,
}

impl Line {
    pub fn text(&self) -> String {
        self.words
            .iter()
            .map(|w| w.text.as_str())
            .collect::<Vec<_>>()
            .join(" ")
    }

    pub fn y_min(&self) -> f64 {
        self.words.iter().map(|w| w.y_min).fold(f64::MAX, f64::min)
    }

    pub fn height(&self) -> f64 {
        self.words
            .iter()
            .map(|w| w.y_max - w.y_min)
            .fold(0.0, f64::max)
    }
}

#[derive(Debug)]
pub struct Page {
    pub width: f64,
    pub height: f64,
    pub lines: Vec<Line>,
}

impl Page {
    /// The lines between the running header and the footer, top to bottom.
    pub fn body(&self) -> Vec<&Line> {
        let mut body: Vec<&Line> = self
            .lines
            .iter()
            .filter(|l| l.y_min() > 45.0 && l.y_min() < self.height - 45.0)
            .collect();
        body.sort_by(|a, b| a.y_min().total_cmp(&b.y_min()));
        body
    }
}

fn attr(e: &scraper::ElementRef, name: &str) -> f64 {
    e.value()
        .attr(name)
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no {name} on {:?}", e.value()))
}

/// Every page's lines and words.
pub fn pages(pdf: &Path) -> Vec<Page> {
    let xml = super::pdftotext(pdf, &["-bbox-layout"]);
    let doc = scraper::Html::parse_document(&xml);
    let sel = |s: &str| scraper::Selector::parse(s).unwrap();
    let (page_sel, line_sel, word_sel) = (sel("page"), sel("line"), sel("word"));
    doc.select(&page_sel)
        .map(|p| Page {
            width: attr(&p, "width"),
            height: attr(&p, "height"),
            lines: p
                .select(&line_sel)
                .map(|l| Line {
                    words: l
                        .select(&word_sel)
                        .map(|w| Word {
                            x_min: attr(&w, "xmin"),
                            y_min: attr(&w, "ymin"),
                            x_max: attr(&w, "xmax"),
                            y_max: attr(&w, "ymax"),
                            text: w.text().collect(),
                        })
                        .collect(),
                })
                .collect(),
        })
        .collect()
}

/// Words printed outside the margins: `(page, word, x_min, x_max)`.
pub fn outside_margins(pages: &[Page]) -> Vec<(usize, String, f64, f64)> {
    let mut out = Vec::new();
    for (i, p) in pages.iter().enumerate() {
        for w in p.lines.iter().flat_map(|l| &l.words) {
            if w.x_min < MARGIN - 0.5 || w.x_max > p.width - MARGIN + 0.5 {
                out.push((i + 1, w.text.clone(), w.x_min, w.x_max));
            }
        }
    }
    out
}

/// Pages (but the last) whose last line of body text is a heading: `(page, line)`.
pub fn headings_ending_a_page(pages: &[Page]) -> Vec<(usize, String)> {
    pages
        .iter()
        .enumerate()
        .take(pages.len().saturating_sub(1))
        .filter_map(|(i, p)| {
            let last = p.body().pop()?;
            (last.height() >= HEADING_HEIGHT).then(|| (i + 1, last.text()))
        })
        .collect()
}

/// Whether some page has, within `span` points below one of its lines, every word of every
/// heading in `headers`: a table's header row with all its columns (a heading may wrap).
pub fn has_header_row(pages: &[Page], headers: &[String], span: f64) -> bool {
    let wanted: Vec<&str> = headers.iter().flat_map(|h| h.split_whitespace()).collect();
    pages.iter().any(|p| {
        p.lines.iter().any(|top| {
            let y = top.y_min();
            let words: Vec<&str> = p
                .lines
                .iter()
                .filter(|l| l.y_min() >= y - 0.5 && l.y_min() <= y + span)
                .flat_map(|l| l.words.iter().map(|w| w.text.as_str()))
                .collect();
            wanted.iter().all(|w| words.contains(w))
        })
    })
}

/// Each page's printed lines across the whole width (a table row's cells side by side):
/// the words at the same height, left to right.
pub fn visual_lines(pages: &[Page]) -> Vec<String> {
    let mut out = Vec::new();
    for p in pages {
        let mut words: Vec<&Word> = p.lines.iter().flat_map(|l| &l.words).collect();
        words.sort_by(|a, b| {
            (a.y_max.round(), a.x_min)
                .partial_cmp(&(b.y_max.round(), b.x_min))
                .unwrap()
        });
        let mut line: Vec<&str> = Vec::new();
        let mut y = f64::NAN;
        for w in words {
            if w.y_max.round() != y && !line.is_empty() {
                out.push(line.join(" "));
                line.clear();
            }
            y = w.y_max.round();
            line.push(&w.text);
        }
        if !line.is_empty() {
            out.push(line.join(" "));
        }
    }
    out
}
