//! Drafts a person checks and sends: the ICO personal data breach report (`ico`: UK GDPR
//! Art. 33(3) and every question of the ICO's report form) and the FCA/PRA operational
//! incident report (`fca`). `publish` is the one path that builds, renders and writes them.
//!
//! A draft is built from an evaluation (the deadline and its status come from there) and
//! rendered through handlebars templates in `templates/`, so a firm can rebrand it. This
//! file holds what both drafts share: the checklist, who is reporting, the templates and
//! the review e-mail.

pub mod fca;
pub mod ico;
pub mod publish;

use std::path::Path;

use anyhow::{Context, Result};
use handlebars::Handlebars;
use serde::{Deserialize, Serialize};

use crate::config::Organisation;
use crate::error::bad_input;
use crate::incidents::record::Incident;
use crate::regimes::entity::EntityOf;
use crate::util::text::escape_markdown;

/// One thing a report needs, and whether the incident record (or the config) has it.
#[derive(Debug, Clone, Serialize)]
pub struct ChecklistItem {
    pub item: String,
    pub source: &'static str,
    pub done: bool,
    pub field: &'static str,
}

/// A checklist item.
pub(crate) fn check(
    item: &str,
    source: &'static str,
    field: &'static str,
    done: bool,
) -> ChecklistItem {
    ChecklistItem {
        item: item.to_string(),
        source,
        done,
        field,
    }
}

/// Who is reporting: the incident's entity (`[[entities]]`) where it has a value, else the
/// organisation (`[organisation]`). Entity values win; the address is the organisation's.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Reporter {
    /// The entity's id (empty: no entity configured, or none could be told).
    pub entity: String,
    pub name: String,
    pub address: String,
    pub ico_registration: String,
    /// FCA firm reference number.
    pub frn: String,
    /// Legal Entity Identifier.
    pub lei: String,
    /// Set when the entity had to be assumed (not named, or not configured): its values
    /// are not used, and the draft says so.
    pub note: Option<String>,
    /// Where the ICO registration number came from, for the checklist.
    #[serde(skip)]
    pub ico_registration_field: &'static str,
}

impl Reporter {
    /// The reporter for an incident: an entity that was named (or is the only one) gives
    /// its name, ICO registration number, FRN and LEI; an assumed one gives nothing, so no
    /// other entity's numbers go to a regulator.
    pub fn of(org: &Organisation, entity: Option<&EntityOf<'_>>) -> Reporter {
        let pick = |mine: &str, theirs: &str| {
            if mine.trim().is_empty() {
                theirs.to_string()
            } else {
                mine.to_string()
            }
        };
        let mut r = Reporter {
            entity: String::new(),
            name: org.name.clone(),
            address: org.address.clone(),
            ico_registration: org.ico_registration.clone(),
            frn: String::new(),
            lei: String::new(),
            note: None,
            ico_registration_field: "[organisation] ico_registration",
        };
        match entity {
            Some(EntityOf {
                entity: e,
                assumed: None,
            }) if !e.id.is_empty() => {
                r.entity = e.id.clone();
                r.name = pick(&e.name, &org.name);
                if !e.ico_registration.trim().is_empty() {
                    r.ico_registration = e.ico_registration.clone();
                    r.ico_registration_field = "[[entities]] ico_registration";
                }
                r.frn = e.frn.trim().to_string();
                r.lei = e.lei.trim().to_string();
            }
            Some(EntityOf {
                assumed: Some(why), ..
            }) => {
                r.note = Some(format!(
                    "{why}; the organisation's details are shown instead of an entity's"
                ));
            }
            _ => {}
        }
        r
    }
}

/// A free-text field that answers no (`no`, `false`, `none`, ...), so the questions that
/// follow from a yes are not asked.
pub(crate) fn says_no(v: Option<&str>) -> bool {
    let Some(v) = v else { return false };
    let first = v
        .trim()
        .split(|c: char| !c.is_ascii_alphanumeric())
        .next()
        .unwrap_or("")
        .to_ascii_lowercase();
    matches!(first.as_str(), "no" | "n" | "false" | "none" | "0")
}

/// A count in a free column (`customers_affected`): a whole number, `2,400` allowed; or
/// the text as written when it is not one.
pub(crate) fn count(inc: &Incident, field: &str) -> (Option<u64>, Option<String>) {
    match inc.text(field) {
        None => (None, None),
        Some(v) => match v.trim().replace([',', '_'], "").parse() {
            Ok(n) => (Some(n), None),
            Err(_) => (None, Some(v.to_string())),
        },
    }
}

/// Data categories that are special category (UK GDPR Art. 9) or criminal offence data
/// (Art. 10), from `mappings/special-categories.toml`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SpecialCategories {
    pub citation: String,
    pub categories: Vec<String>,
}

impl SpecialCategories {
    /// `special-categories.toml` from the mappings folder `dir`, else the built-in one.
    pub fn load(dir: Option<&Path>) -> Result<SpecialCategories> {
        let (text, origin) = crate::util::defaults::read_mapping(dir, "special-categories.toml")?;
        toml::from_str(&text).map_err(|e| bad_input(format!("{}: {e}", origin.label())))
    }

    /// Whether a free-text category names a special category (case-insensitive match
    /// on words, so "health inferences" counts as health).
    pub fn matches(&self, category: &str) -> bool {
        let c = category.to_ascii_lowercase();
        self.categories
            .iter()
            .any(|s| c.contains(&s.to_ascii_lowercase()))
    }
}

pub(crate) fn checklist_blocks(items: &[ChecklistItem]) -> Vec<crate::render::pdf::layout::Block> {
    items
        .iter()
        .map(|c| {
            crate::render::pdf::layout::Block::Check(
                c.done,
                format!("{} ({}; field {})", c.item, c.source, c.field),
            )
        })
        .collect()
}

pub(crate) fn or_missing(v: &Option<String>) -> String {
    v.clone().unwrap_or_else(|| "MISSING".into())
}

pub(crate) fn or_missing_text(v: &str) -> String {
    if v.trim().is_empty() {
        "MISSING".into()
    } else {
        v.to_string()
    }
}

/// A draft's templates: Markdown (Markdown-escaped) and HTML (HTML-escaped), loaded from
/// `<stem>.md.hbs` and `<stem>.html.hbs`.
pub struct DraftTemplates {
    markdown: Handlebars<'static>,
    html: Handlebars<'static>,
}

impl DraftTemplates {
    /// From the templates folder `dir`, else built in, file by file.
    pub fn load(dir: Option<&Path>, stem: &str) -> Result<DraftTemplates> {
        let load = |name: String, escape: fn(&str) -> String| {
            crate::documents::load_template(dir, &name, "draft", escape)
        };
        Ok(DraftTemplates {
            markdown: load(format!("{stem}.md.hbs"), escape_markdown)?,
            html: load(format!("{stem}.html.hbs"), handlebars::html_escape)?,
        })
    }

    pub fn markdown<T: Serialize>(&self, draft: &T) -> Result<String> {
        self.markdown
            .render("draft", draft)
            .context("rendering the Markdown draft")
    }

    pub fn html<T: Serialize>(&self, draft: &T) -> Result<String> {
        self.html
            .render("draft", draft)
            .context("rendering the HTML draft")
    }
}

/// A draft as an e-mail (plain text and HTML alternatives) to a reviewer.
pub fn draft_message(
    subject: &str,
    markdown: &str,
    html: &str,
    from: &str,
    to: &[String],
) -> Result<lettre::Message> {
    use lettre::message::{Mailbox, MultiPart};
    let from: Mailbox = from
        .parse()
        .map_err(|e| bad_input(format!("alerts.from {from:?} is not an address: {e}")))?;
    let subject: String = subject
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    let mut b = lettre::Message::builder().from(from).subject(subject);
    if to.is_empty() {
        return Err(bad_input(
            "no recipient for the draft: set [alerts.roles] for the regime's role",
        ));
    }
    for r in to {
        let mb: Mailbox = r
            .parse()
            .map_err(|e| bad_input(format!("recipient {r:?} is not an address: {e}")))?;
        b = b.to(mb);
    }
    b.multipart(MultiPart::alternative_plain_html(
        markdown.to_string(),
        html.to_string(),
    ))
    .context("cannot build the draft message")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markdown_escaping_makes_html_and_links_inert() {
        let e = escape_markdown("<script>alert(1)</script> [x](http://evil) *b*");
        // Every `<` is backslash-escaped, so no tag survives a Markdown renderer.
        assert_eq!(e.matches('<').count(), e.matches("\\<").count());
        assert!(e.contains("\\<script>alert(1)\\</script>"));
        assert!(e.contains("\\[x\\](http://evil)"));
        assert_eq!(escape_markdown("- item"), "\\- item");
        assert_eq!(escape_markdown("2026-11-30 (GMT)"), "2026-11-30 (GMT)");
    }

    #[test]
    fn a_no_is_a_no() {
        assert!(says_no(Some("no")));
        assert!(says_no(Some("No: handled by a script")));
        assert!(says_no(Some("none")));
        assert!(!says_no(Some("not known yet")));
        assert!(!says_no(Some("yes")));
        assert!(!says_no(Some("notification team")));
        assert!(!says_no(None));
    }

    #[test]
    fn special_categories_match_words() {
        let s = SpecialCategories {
            citation: String::new(),
            categories: vec!["health".into(), "biometric".into()],
        };
        assert!(s.matches("Health inferences"));
        assert!(!s.matches("order history"));
    }
}
