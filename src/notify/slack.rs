//! Slack incoming webhooks: `{"text": ..., "blocks": [...]}`. The subject is the header
//! and the notification text; the body goes in preformatted sections, so its columns line
//! up and nothing in an incident title turns into formatting. Slack reads `&`, `<` and `>`
//! as markup (links, mentions such as `<!channel>`), so those three are escaped in the
//! text it parses; plain-text objects are shown as they are.

use serde_json::{json, Value};

use super::message::Alert;

/// Slack's limits: a header's text, a section's text, blocks in a message.
const HEADER_MAX: usize = 150;
const SECTION_MAX: usize = 3000;
const BLOCKS_MAX: usize = 50;

/// Escapes the three characters Slack's message text reserves.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            c => out.push(c),
        }
    }
    out
}

/// The message posted for `alert`.
pub fn payload(alert: &Alert) -> Value {
    let mut blocks = vec![json!({
        "type": "header",
        "text": {"type": "plain_text", "text": truncate(&alert.subject, HEADER_MAX), "emoji": false}
    })];
    let sections = preformatted_sections(&alert.body);
    let room = BLOCKS_MAX - 2;
    let left_out = sections.len().saturating_sub(room);
    blocks.extend(
        sections
            .into_iter()
            .take(room)
            .map(|text| json!({"type": "section", "text": {"type": "mrkdwn", "text": text}})),
    );
    if left_out > 0 {
        blocks.push(json!({
            "type": "context",
            "elements": [{"type": "plain_text", "text": format!("{left_out} more part(s) of this message are not shown here: Slack takes at most {BLOCKS_MAX} blocks. The e-mail, or `regwatch alerts --dry-run`, has the whole text.")}]
        }));
    }
    json!({"text": escape(&alert.subject), "blocks": blocks})
}

/// The body as code blocks of at most `SECTION_MAX` characters each, split between lines.
/// A run of three backticks inside would end the block early, so it is broken up.
fn preformatted_sections(body: &str) -> Vec<String> {
    const FENCE: &str = "```";
    let budget = SECTION_MAX - 2 * FENCE.len() - 2;
    let mut sections = Vec::new();
    let mut current = String::new();
    for line in body.trim_end().lines() {
        let line = escape(line).replace(FENCE, "`\u{200b}`\u{200b}`");
        let line = truncate(&line, budget);
        if !current.is_empty() && current.chars().count() + line.chars().count() + 1 > budget {
            sections.push(std::mem::take(&mut current));
        }
        if !current.is_empty() {
            current.push('\n');
        }
        current.push_str(&line);
    }
    if !current.is_empty() || sections.is_empty() {
        sections.push(current);
    }
    sections
        .into_iter()
        .map(|s| format!("{FENCE}\n{s}\n{FENCE}"))
        .collect()
}

/// At most `max` characters, with an ellipsis when cut.
pub fn truncate(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_string();
    }
    let mut out: String = s.chars().take(max - 1).collect();
    out.push('…');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_slacks_three_characters_are_escaped() {
        assert_eq!(
            escape("H&P <!channel> > \"x\" 'y'"),
            "H&amp;P &lt;!channel&gt; &gt; \"x\" 'y'"
        );
    }

    #[test]
    fn a_long_body_is_split_between_lines_within_the_limits() {
        let body: String = (0..400)
            .map(|i| format!("line {i:03} {}\n", "x".repeat(40)))
            .collect();
        let sections = preformatted_sections(&body);
        assert!(sections.len() > 1);
        assert!(sections.iter().all(|s| s.chars().count() <= SECTION_MAX));
        assert!(sections
            .iter()
            .all(|s| s.starts_with("```\n") && s.ends_with("\n```")));
        let joined: String = sections
            .iter()
            .map(|s| &s[4..s.len() - 4])
            .collect::<Vec<_>>()
            .join("\n");
        assert_eq!(joined, body.trim_end());
    }
}
