//! Text made safe for where it goes: spreadsheet cells and Markdown.

/// Makes a cell safe to open in a spreadsheet: one that starts with `=`, `+`, `-`, `@`, a
/// tab or a carriage return is prefixed with `'` so it is read as text, not a formula.
pub fn csv_safe(cell: &str) -> std::borrow::Cow<'_, str> {
    match cell.chars().next() {
        Some('=' | '+' | '-' | '@' | '\t' | '\r') => format!("'{cell}").into(),
        _ => cell.into(),
    }
}

/// Escapes text for Markdown: characters that would start formatting, a link or a table
/// cell, block markers at the start of the value, and `<`, `>`, `&` so embedded HTML stays
/// inert when the Markdown is rendered. Line breaks become spaces.
pub fn escape_markdown(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 8);
    for (i, c) in s.chars().enumerate() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '\\' | '`' | '*' | '_' | '[' | ']' | '|' | '~' => {
                out.push('\\');
                out.push(c);
            }
            '#' | '-' | '+' | '=' | '!' if i == 0 => {
                out.push('\\');
                out.push(c);
            }
            '\n' | '\r' => out.push(' '),
            c => out.push(c),
        }
    }
    out
}
