//! Microsoft Teams Workflows webhooks ("Post to a channel when a webhook request is
//! received"): a message with one Adaptive Card attachment. Each line of the body is a
//! TextBlock; TextBlock text is a Markdown subset (bold, italic, lists, links) and has
//! `{{DATE(...)}}` functions, but no HTML: the Markdown characters are escaped with a
//! backslash and `{{` is broken up, while `&` and `<` are left as they are (an entity
//! would be shown as typed).

use serde_json::{json, Value};

use super::message::Alert;
use super::slack::truncate;

/// A card beyond about 28 KB is refused; the body is cut well before.
const BODY_MAX_BYTES: usize = 20_000;

/// Escapes what a TextBlock would read as Markdown, so the text is shown as written.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 8);
    let trimmed = s.trim_start();
    let indent = s.len() - trimmed.len();
    out.push_str(&s[..indent]);
    // A list marker or a heading only counts at the start of the text.
    let starts_block = trimmed.starts_with(['-', '+', '#', '>'])
        || trimmed.starts_with("* ")
        || trimmed
            .split_once(". ")
            .is_some_and(|(n, _)| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()));
    let mut chars = trimmed.chars().peekable();
    if starts_block && !trimmed.starts_with(['*']) {
        if let Some(c) = chars.peek().copied() {
            if c.is_ascii_digit() {
                // "1. x": escape the dot instead.
                while let Some(d) = chars.next_if(char::is_ascii_digit) {
                    out.push(d);
                }
                if chars.next_if_eq(&'.').is_some() {
                    out.push_str("\\.");
                }
            } else {
                out.push('\\');
            }
        }
    }
    while let Some(c) = chars.next() {
        match c {
            '\\' | '*' | '_' | '[' | ']' | '`' | '~' => {
                out.push('\\');
                out.push(c);
            }
            '{' if chars.peek() == Some(&'{') => out.push_str("{\u{200b}"),
            c => out.push(c),
        }
    }
    out
}

/// The message posted for `alert`.
pub fn payload(alert: &Alert) -> Value {
    let mut body = vec![json!({
        "type": "TextBlock",
        "text": escape(&truncate(&alert.subject, 300)),
        "weight": "Bolder",
        "size": "Medium",
        "wrap": true
    })];
    let mut used = 0;
    let lines: Vec<&str> = alert.body.trim_end().lines().collect();
    let mut gap = false;
    for (i, line) in lines.iter().enumerate() {
        if line.trim().is_empty() {
            gap = true;
            continue;
        }
        used += line.len();
        if used > BODY_MAX_BYTES {
            body.push(json!({
                "type": "TextBlock",
                "text": format!("({} more line(s) not shown: a Teams card has a size limit. The e-mail, or regwatch alerts --dry-run, has the whole text.)", lines.len() - i),
                "wrap": true,
                "isSubtle": true
            }));
            break;
        }
        body.push(json!({
            "type": "TextBlock",
            "text": escape(line),
            "wrap": true,
            "fontType": "Monospace",
            "spacing": if gap { "Medium" } else { "None" }
        }));
        gap = false;
    }
    json!({
        "type": "message",
        "attachments": [{
            "contentType": "application/vnd.microsoft.card.adaptive",
            "contentUrl": null,
            "content": {
                "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
                "type": "AdaptiveCard",
                "version": "1.4",
                "msteams": {"width": "Full"},
                "body": body
            }
        }]
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markdown_is_escaped_and_html_characters_are_not() {
        assert_eq!(
            escape("H&P <b> *x* _y_ [l](u)"),
            "H&P <b> \\*x\\* \\_y\\_ \\[l\\](u)"
        );
        assert_eq!(escape("- not a list"), "\\- not a list");
        assert_eq!(escape("  12. not numbered"), "  12\\. not numbered");
        assert_eq!(escape("* star"), "\\* star");
        assert_eq!(
            escape("{{DATE(2026-11-28T12:00:00Z)}}"),
            "{\u{200b}{DATE(2026-11-28T12:00:00Z)}}"
        );
        assert_eq!(
            escape("Deadline: 28 Nov 2026 - noon"),
            "Deadline: 28 Nov 2026 - noon"
        );
    }
}
