//! Text made safe for where it goes: spreadsheet cells and Markdown.

/// Makes a cell safe to open in a spreadsheet: one that starts with `=`, `+`, `-`, `@`, a
/// tab or a carriage return is prefixed with `'` so it is read as text, not a formula.
pub fn csv_safe(cell: &str) -> std::borrow::Cow<'_, str> {
    match cell.chars().next() {
        Some('=' | '+' | '-' | '@' | '\t' | '\r') => format!("'{cell}").into(),
        _ => cell.into(),
    }
}

/// Escapes text for Markdown, and only for Markdown: a backslash before what would start
/// formatting, a link, a table cell or embedded HTML (`<`), before a block marker at the
/// start of the value, and before an `&` that would read as an HTML entity (`&amp;`). The
/// text stays as written otherwise: `H&P` is `H&P`, `<x>` is `\<x>`, which renders as
/// `<x>`. Line breaks become spaces.
pub fn escape_markdown(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 8);
    for (i, c) in s.char_indices() {
        match c {
            '\\' | '`' | '*' | '_' | '[' | ']' | '|' | '~' | '<' => {
                out.push('\\');
                out.push(c);
            }
            '&' if starts_entity(&s[i + 1..]) => out.push_str("\\&"),
            '>' if i == 0 => out.push_str("\\>"),
            '#' | '-' | '+' | '=' if i == 0 && starts_block(c, &s[1..]) => {
                out.push('\\');
                out.push(c);
            }
            '\n' | '\r' => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

/// Whether a value starting with `c` would start a heading, a list item, a rule or an
/// underline when it begins a line: the marker alone, or followed by a space or itself.
fn starts_block(c: char, rest: &str) -> bool {
    rest.chars()
        .next()
        .is_none_or(|n| n == ' ' || n == '\t' || n == c)
}

/// Whether the text after an `&` would make it an HTML entity: `amp;`, `#38;`, `#x26;`.
fn starts_entity(rest: &str) -> bool {
    let name = rest
        .strip_prefix('#')
        .map_or(rest, |r| r.strip_prefix(['x', 'X']).unwrap_or(r));
    let len = name.bytes().take_while(u8::is_ascii_alphanumeric).count();
    len > 0 && name.as_bytes().get(len) == Some(&b';')
}

/// A count with thousands separators: 1234567 as `1,234,567`.
pub fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, d) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(d);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markdown_escapes_only_what_markdown_reads() {
        assert_eq!(escape_markdown("H&P <x> a > b"), "H&P \\<x> a > b");
        assert_eq!(
            escape_markdown("&amp; &#38; &#x26; & ;"),
            "\\&amp; \\&#38; \\&#x26; & ;"
        );
        assert_eq!(escape_markdown("> quote"), "\\> quote");
        assert_eq!(escape_markdown("+21"), "+21");
        assert_eq!(escape_markdown("- a"), "\\- a");
        assert_eq!(escape_markdown("---"), "\\---");
        assert_eq!(escape_markdown("# h"), "\\# h");
        assert_eq!(escape_markdown("#1"), "#1");
        assert_eq!(escape_markdown("*b* [l](u)"), "\\*b\\* \\[l\\](u)");
    }

    #[test]
    fn counts_get_thousands_separators() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1000), "1,000");
        assert_eq!(thousands(1234567), "1,234,567");
        assert_eq!(thousands(u64::MAX), "18,446,744,073,709,551,615");
    }
}
