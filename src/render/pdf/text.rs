//! Text in the PDF base fonts: what they can print (WinAnsi), how wide it is (Helvetica's
//! published metrics), and how it wraps to a width, breaking inside a long token (an ARN,
//! an S3 path) when no space is left to break at.

/// WinAnsi's characters in 0x80..=0x9F (where it differs from Latin-1), with their
/// Helvetica and Helvetica-Bold widths.
const WIN_ANSI_EXTRA: [(char, u16, u16); 27] = [
    ('\u{20AC}', 556, 556),
    ('\u{201A}', 222, 278),
    ('\u{0192}', 556, 556),
    ('\u{201E}', 333, 500),
    ('\u{2026}', 1000, 1000),
    ('\u{2020}', 556, 556),
    ('\u{2021}', 556, 556),
    ('\u{02C6}', 333, 333),
    ('\u{2030}', 1000, 1000),
    ('\u{0160}', 667, 667),
    ('\u{2039}', 333, 333),
    ('\u{0152}', 1000, 1000),
    ('\u{017D}', 611, 611),
    ('\u{2018}', 222, 278),
    ('\u{2019}', 222, 278),
    ('\u{201C}', 333, 500),
    ('\u{201D}', 333, 500),
    ('\u{2022}', 350, 350),
    ('\u{2013}', 556, 556),
    ('\u{2014}', 1000, 1000),
    ('\u{02DC}', 333, 333),
    ('\u{2122}', 1000, 1000),
    ('\u{0161}', 500, 556),
    ('\u{203A}', 333, 333),
    ('\u{0153}', 944, 944),
    ('\u{017E}', 500, 500),
    ('\u{0178}', 667, 667),
];

/// Helvetica's advance widths (1/1000 em) for ASCII 0x20..=0x7E, from Adobe's AFM.
const HELVETICA: [u16; 95] = [
    278, 278, 355, 556, 556, 889, 667, 191, 333, 333, 389, 584, 278, 333, 278, 278, // ' '../
    556, 556, 556, 556, 556, 556, 556, 556, 556, 556, 278, 278, 584, 584, 584, 556, // 0..?
    1015, 667, 667, 722, 722, 667, 611, 778, 722, 278, 500, 667, 556, 833, 722, 778, // @..O
    667, 778, 722, 667, 611, 722, 667, 944, 667, 667, 611, 278, 278, 278, 469, 556, // P.._
    333, 556, 556, 500, 556, 556, 278, 556, 556, 222, 222, 500, 222, 833, 556, 556, // `..o
    556, 556, 333, 500, 278, 556, 500, 722, 500, 500, 500, 334, 260, 334, 584, // p..~
];

/// Helvetica-Bold's advance widths for ASCII 0x20..=0x7E.
const HELVETICA_BOLD: [u16; 95] = [
    278, 333, 474, 556, 556, 889, 722, 238, 333, 333, 389, 584, 278, 333, 278, 278, // ' '../
    556, 556, 556, 556, 556, 556, 556, 556, 556, 556, 333, 333, 584, 584, 584, 611, // 0..?
    975, 722, 722, 722, 722, 667, 611, 778, 722, 278, 556, 722, 611, 833, 722, 778, // @..O
    667, 778, 722, 667, 611, 722, 667, 944, 667, 667, 611, 333, 278, 333, 584, 556, // P.._
    333, 556, 611, 556, 611, 556, 333, 611, 611, 278, 278, 556, 278, 889, 611, 611, // `..o
    611, 611, 389, 556, 333, 611, 556, 778, 556, 556, 500, 389, 280, 389, 584, // p..~
];

/// The text as the base fonts can print it: WinAnsi characters kept, line breaks and tabs
/// as spaces, anything else `?` (rather than vanishing).
pub fn win_ansi(s: &str) -> String {
    s.chars()
        .map(|c| match c {
            '\n' | '\r' | '\t' => ' ',
            '\u{2212}' => '-',
            c if (' '..='~').contains(&c) || ('\u{A0}'..='\u{FF}').contains(&c) => c,
            c if WIN_ANSI_EXTRA.iter().any(|e| e.0 == c) => c,
            _ => '?',
        })
        .collect()
}

/// The advance width of `c` in 1/1000 em. Latin-1 letters beyond ASCII take the width of
/// a wide letter of their case, so a line is never measured shorter than it prints.
fn char_width(c: char, bold: bool) -> f32 {
    let ascii = c as u32;
    if (0x20..=0x7E).contains(&ascii) {
        let table = if bold { &HELVETICA_BOLD } else { &HELVETICA };
        return f32::from(table[(ascii - 0x20) as usize]);
    }
    if let Some(e) = WIN_ANSI_EXTRA.iter().find(|e| e.0 == c) {
        return f32::from(if bold { e.2 } else { e.1 });
    }
    match c {
        'Æ' | 'æ' => 1000.0,
        c if c.is_uppercase() => 778.0,
        _ => 611.0,
    }
}

/// The width of `s` in points at `size`.
pub fn text_width(s: &str, size: f32, bold: bool) -> f32 {
    s.chars().map(|c| char_width(c, bold)).sum::<f32>() * size / 1000.0
}

/// Characters after which a long token may break: path, ARN and URL separators.
fn is_break_after(c: char) -> bool {
    matches!(
        c,
        '/' | ':' | '-' | '_' | '.' | ',' | '=' | '&' | '?' | ';' | '@'
    )
}

/// The longest head of `word` that fits `width`, cut after a separator when there is one
/// in its second half, else anywhere (always at least one character).
fn split_token(word: &str, size: f32, width: f32, bold: bool) -> (String, String) {
    let mut fit = 0; // byte length of the longest prefix that fits
    let mut used = 0.0;
    let mut last_break = None;
    for (i, c) in word.char_indices() {
        used += char_width(c, bold) * size / 1000.0;
        if used > width {
            break;
        }
        fit = i + c.len_utf8();
        if is_break_after(c) {
            last_break = Some(fit);
        }
    }
    if fit == 0 {
        fit = word.chars().next().map_or(0, char::len_utf8);
    }
    let cut = match last_break {
        Some(b) if b * 2 >= fit && b < word.len() => b,
        _ => fit,
    };
    (word[..cut].to_string(), word[cut..].to_string())
}

/// Splits text into lines no wider than `width` points: at spaces, and inside a token too
/// long for a line of its own.
pub fn wrap(s: &str, size: f32, width: f32, bold: bool) -> Vec<String> {
    let mut lines = Vec::new();
    let mut line = String::new();
    for word in win_ansi(s).split(' ').filter(|w| !w.is_empty()) {
        if !line.is_empty() {
            let candidate = format!("{line} {word}");
            if text_width(&candidate, size, bold) <= width {
                line = candidate;
                continue;
            }
            lines.push(std::mem::take(&mut line));
        }
        let mut rest = word.to_string();
        while text_width(&rest, size, bold) > width {
            let (head, tail) = split_token(&rest, size, width, bold);
            lines.push(head);
            rest = tail;
        }
        line = rest;
    }
    if !line.is_empty() || lines.is_empty() {
        lines.push(line);
    }
    lines
}

/// `s` cut to `width` points with an ellipsis, for one-line labels (chart bars, the
/// running header).
pub fn truncate(s: &str, size: f32, width: f32, bold: bool) -> String {
    let s = win_ansi(s);
    if text_width(&s, size, bold) <= width {
        return s;
    }
    let room = width - text_width("\u{2026}", size, bold);
    let mut out = String::new();
    for c in s.chars() {
        if text_width(&out, size, bold) + char_width(c, bold) * size / 1000.0 > room {
            break;
        }
        out.push(c);
    }
    out.push('\u{2026}');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wraps_words_within_width() {
        let text = "the quick brown fox jumps over the lazy dog";
        let lines = wrap(text, 10.0, 60.0, false);
        assert!(lines.len() > 2);
        assert!(lines.iter().all(|l| text_width(l, 10.0, false) <= 60.0));
        assert_eq!(lines.join(" "), text);
    }

    #[test]
    fn long_tokens_break_at_separators_and_lose_nothing() {
        let arn = "arn:aws:s3:::hp-prod-customer-exports-eu-west-2/exports/2026/11/10/customers-full-export-000000000000001.csv.gz";
        for width in [40.0, 90.0, 200.0] {
            let lines = wrap(&format!("Resources: {arn}, more"), 8.0, width, false);
            assert!(
                lines.iter().all(|l| text_width(l, 8.0, false) <= width),
                "{lines:?}"
            );
            assert_eq!(
                lines.concat().replace(' ', ""),
                format!("Resources:{arn},more")
            );
        }
        // At 200 points, lines end at a separator, not in the middle of a word.
        let lines = wrap(arn, 8.0, 200.0, false);
        assert!(lines[..lines.len() - 1]
            .iter()
            .all(|l| l.ends_with(is_break_after)));
        // Even a column narrower than one character gets every character.
        assert_eq!(wrap("WWW", 8.0, 1.0, true), ["W", "W", "W"]);
    }

    #[test]
    fn keeps_win_ansi_and_replaces_the_rest() {
        assert_eq!(
            win_ansi("a\u{2014}b \u{201c}q\u{201d} \u{1F600} £ \u{2022}\n\u{2610}"),
            "a\u{2014}b \u{201c}q\u{201d} ? £ \u{2022} ?"
        );
    }

    #[test]
    fn measures_helvetica() {
        // "Wi" = 944 + 222 in Helvetica; 944 + 278 in bold.
        assert!((text_width("Wi", 10.0, false) - 11.66).abs() < 0.01);
        assert!((text_width("Wi", 10.0, true) - 12.22).abs() < 0.01);
        assert_eq!(truncate("abcdefghijkl", 10.0, 30.0, false), "abc\u{2026}");
    }
}
