//! From loaded incidents to a draft's files: find the incident, evaluate its clocks, build
//! the draft, render it (Markdown, HTML, PDF, and an e-mail for review) and write the
//! files. One path for every kind of draft, so they are named, written and sent alike.

use std::path::{Path, PathBuf};

use anyhow::Result;
use chrono::{DateTime, Utc};
use lettre::Message;
use serde::Serialize;

use super::fca::{fca_draft, fca_pdf, FcaDraft};
use super::ico::{ico_draft, ico_pdf, IcoDraft};
use super::{draft_message, DraftTemplates, Reporter, SpecialCategories};
use crate::error::bad_input;
use crate::incidents::load::Loaded;
use crate::incidents::record::Incident;

/// A draft and what is written for it.
pub struct Prepared<D> {
    pub draft: D,
    /// The file name without extension (`ico-ID`, `fca-ID-stage`).
    pub stem: String,
    pub markdown: String,
    pub html: String,
    pub pdf: Vec<u8>,
    /// The review e-mail (never addressed to a regulator).
    pub message: Message,
    pub to: Vec<String>,
    /// Set when the id could not be the file name as it is (see `safe_file_stem`).
    pub stem_note: Option<String>,
}

impl<D> Prepared<D> {
    /// Writes `STEM.md`, `.html`, `.pdf` and `.eml` into `out`, each atomically; returns
    /// their paths in that order.
    pub fn write(&self, out: &Path) -> Result<Vec<PathBuf>> {
        let files: [(&str, &[u8]); 4] = [
            ("md", self.markdown.as_bytes()),
            ("html", self.html.as_bytes()),
            ("pdf", &self.pdf),
            ("eml", &self.message.formatted()),
        ];
        let mut written = Vec::new();
        for (ext, bytes) in files {
            let path = out.join(format!("{}.{ext}", self.stem));
            crate::util::atomic::write_bytes_atomic(&path, bytes)?;
            written.push(path);
        }
        Ok(written)
    }
}

/// Renders both templates and the review message.
fn render<D: Serialize>(
    draft: D,
    stem: String,
    pdf: Vec<u8>,
    templates: &DraftTemplates,
    subject: &str,
    from: &str,
    to: Vec<String>,
) -> Result<Prepared<D>> {
    let markdown = templates.markdown(&draft)?;
    let html = templates.html(&draft)?;
    let message = draft_message(subject, &markdown, &html, from, &to)?;
    Ok(Prepared {
        draft,
        stem_note: None,
        stem,
        markdown,
        html,
        pdf,
        message,
        to,
    })
}

fn incident<'a>(loaded: &'a Loaded, id: &str, inputs: &[PathBuf]) -> Result<&'a Incident> {
    loaded
        .incidents
        .iter()
        .find(|i| *i.id == *id)
        .ok_or_else(|| {
            bad_input(format!(
                "no incident {id:?} in {}",
                inputs
                    .iter()
                    .map(|p| p.display().to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            ))
        })
}

/// The ICO personal data breach report draft for incident `id`, for the `dpo` role (or the
/// organisation's DPO address).
pub fn ico(
    loaded: &Loaded,
    id: &str,
    inputs: &[PathBuf],
    templates: &DraftTemplates,
    special: &SpecialCategories,
    now: DateTime<Utc>,
) -> Result<Prepared<IcoDraft>> {
    let inc = incident(loaded, id, inputs)?;
    if !inc.personal_data {
        return Err(bad_input(format!(
            "incident {} involves no personal data (personal_data is false): there is no ICO breach report to draft",
            inc.id
        )));
    }
    let evaluation = loaded.evaluate(now, &|_| true);
    let deadlines = evaluation.sorted();
    let org = &loaded.config.organisation;
    let reporter = Reporter::of(org, Some(&loaded.entities.of(inc)));
    let draft = ico_draft(inc, &deadlines, org, reporter, special, now, loaded.tz);
    let recipients = loaded
        .config
        .alerts
        .roles
        .get("dpo")
        .cloned()
        .unwrap_or_default();
    let to = if recipients.is_empty() {
        Some(org.dpo_email.clone())
            .into_iter()
            .filter(|s| !s.is_empty())
            .collect()
    } else {
        recipients
    };
    let subject = format!(
        "DRAFT ICO personal data breach report: {} {}",
        draft.id, draft.title
    );
    let stem = format!("ico-{}", safe_file_stem(&draft.id));
    let note = stem_note(&draft.id, &stem);
    let pdf = ico_pdf(&draft);
    let from = loaded.config.alerts.from.clone();
    let mut p = render(draft, stem, pdf, templates, &subject, &from, to)?;
    p.stem_note = note;
    Ok(p)
}

/// The FCA/PRA operational incident report draft for incident `id` at `stage` (by default
/// the first stage not yet submitted), for the `resilience` role (or `default`).
pub fn fca(
    loaded: &Loaded,
    id: &str,
    stage: Option<&str>,
    templates: &DraftTemplates,
    now: DateTime<Utc>,
) -> Result<Prepared<FcaDraft>> {
    let inc = loaded
        .incidents
        .iter()
        .find(|i| *i.id == *id)
        .ok_or_else(|| bad_input(format!("no incident {id:?} in the input")))?;
    let evaluation = loaded.evaluate(now, &|_| true);
    let deadlines = evaluation.sorted();
    let org = &loaded.config.organisation;
    let reporter = Reporter::of(org, Some(&loaded.entities.of(inc)));
    let draft = fca_draft(inc, &deadlines, org, reporter, stage, now, loaded.tz)?;
    let roles = &loaded.config.alerts.roles;
    let to = roles
        .get("resilience")
        .or_else(|| roles.get("default"))
        .cloned()
        .unwrap_or_default();
    let subject = format!(
        "DRAFT FCA/PRA operational incident report ({}): {} {}",
        draft.stage, draft.id, draft.title
    );
    let stem = format!(
        "fca-{}-{}",
        safe_file_stem(&draft.id),
        safe_file_stem(&draft.stage)
    );
    let note = stem_note(&draft.id, &stem);
    let pdf = fca_pdf(&draft);
    let from = loaded.config.alerts.from.clone();
    let mut p = render(draft, stem, pdf, templates, &subject, &from, to)?;
    p.stem_note = note;
    Ok(p)
}

/// An id made safe for a file name. Characters other than ASCII letters, digits, `-` and
/// `_` become `_`; when any did, a short hash of the whole id is added, so ids that differ
/// only there (`a/b`, `a_b`, `a b`) never share, and overwrite, each other's files.
fn safe_file_stem(id: &str) -> String {
    let safe: String = id
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    if safe == id {
        return safe;
    }
    use sha2::{Digest, Sha256};
    let hash = Sha256::digest(id.as_bytes());
    let short: String = hash[..4].iter().map(|b| format!("{b:02x}")).collect();
    format!("{safe}-{short}")
}

/// What to tell the user when the id is not the file name as written.
fn stem_note(id: &str, stem: &str) -> Option<String> {
    (safe_file_stem(id) != id).then(|| {
        format!(
            "incident id {id:?} has characters a file name cannot carry: the files are named {stem}.* (the last part is a hash of the id, so no other id's files are overwritten)"
        )
    })
}

#[cfg(test)]
mod tests {
    use super::safe_file_stem;

    #[test]
    fn stems_differ_when_ids_do() {
        assert_eq!(safe_file_stem("F-1"), "F-1");
        assert_eq!(safe_file_stem("a_b"), "a_b");
        let slash = safe_file_stem("a/b");
        assert!(slash.starts_with("a_b-") && slash.len() == 12, "{slash}");
        assert_ne!(slash, safe_file_stem("a b"));
    }
}
