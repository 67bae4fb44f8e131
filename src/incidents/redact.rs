//! `--redact`: personal data in incident records replaced by stable pseudonyms before any
//! output is built, so every format (tables, JSON, CSV, reports, drafts, e-mails) carries
//! the same pseudonym for the same person and none carries the original.
//!
//! Redacted: every e-mail address in any text field, and the whole value of the fields
//! that name people (`[redaction] person_fields`). A pseudonym is a keyed hash of the
//! original: the same person gets the same pseudonym in every run with the same key
//! (`REGWATCH_REDACTION_KEY`), and without the key it cannot be reversed by guessing.

use serde::Deserialize;
use sha2::{Digest, Sha256};

use crate::incidents::record::Incident;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RedactionConfig {
    /// Columns whose whole value names a person.
    pub person_fields: Vec<String>,
    /// Environment variable holding the pseudonym key.
    pub key_env: String,
}

impl Default for RedactionConfig {
    fn default() -> Self {
        RedactionConfig {
            person_fields: vec![
                "detected_by".into(),
                "reported_by".into(),
                "owner".into(),
                "data_subject".into(),
                "contact_name".into(),
            ],
            key_env: "REGWATCH_REDACTION_KEY".into(),
        }
    }
}

/// Replaces personal data with pseudonyms.
#[derive(Clone)]
pub struct Redactor {
    key: Vec<u8>,
    person_fields: Vec<String>,
}

impl Redactor {
    pub fn new(cfg: &RedactionConfig) -> Redactor {
        let key = std::env::var(&cfg.key_env).unwrap_or_default().into_bytes();
        Redactor {
            key,
            person_fields: cfg.person_fields.clone(),
        }
    }

    fn tag(&self, value: &str) -> String {
        let mut h = Sha256::new();
        h.update(&self.key);
        h.update([0]);
        h.update(value.trim().to_lowercase().as_bytes());
        let d = h.finalize();
        format!("{:02x}{:02x}{:02x}{:02x}", d[0], d[1], d[2], d[3])
    }

    /// `person-1a2b3c4d` for a name.
    pub fn person(&self, name: &str) -> String {
        format!("person-{}", self.tag(name))
    }

    /// `person-1a2b3c4d@redacted.invalid` for an address.
    pub fn email(&self, address: &str) -> String {
        format!("person-{}@redacted.invalid", self.tag(address))
    }

    /// Replaces every e-mail address in free text.
    pub fn text(&self, s: &str) -> String {
        let mut out = String::with_capacity(s.len());
        let mut rest = s;
        while let Some((start, end)) = find_email(rest) {
            out.push_str(&rest[..start]);
            out.push_str(&self.email(&rest[start..end]));
            rest = &rest[end..];
        }
        out.push_str(rest);
        out
    }

    /// Redacts one incident in place.
    pub fn incident(&self, inc: &mut Incident) {
        inc.title = self.text(&inc.title).into();
        let text: Vec<_> = inc
            .text
            .iter()
            .map(|(k, v)| {
                let v = if self.person_fields.iter().any(|f| f == &**k) {
                    self.person(v)
                } else {
                    self.text(v)
                };
                (k.clone(), v.into_boxed_str())
            })
            .collect();
        inc.text = text.into_boxed_slice();
    }
}

fn is_local(c: u8) -> bool {
    c.is_ascii_alphanumeric() || b".!#$%&'*+/=?^_`{|}~-".contains(&c)
}

fn is_domain(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'.' || c == b'-'
}

/// The byte range of the first e-mail address in `s`: `local@domain.tld`.
fn find_email(s: &str) -> Option<(usize, usize)> {
    let b = s.as_bytes();
    let mut from = 0;
    while let Some(off) = s[from..].find('@') {
        let at = from + off;
        let mut start = at;
        while start > 0 && is_local(b[start - 1]) {
            start -= 1;
        }
        let mut end = at + 1;
        while end < b.len() && is_domain(b[end]) {
            end += 1;
        }
        // Trailing dots or hyphens belong to the sentence, not the address.
        while end > at + 1 && matches!(b[end - 1], b'.' | b'-') {
            end -= 1;
        }
        let domain = &s[at + 1..end];
        if start < at && domain.contains('.') && !domain.starts_with('.') {
            return Some((start, end));
        }
        from = at + 1;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r() -> Redactor {
        Redactor {
            key: b"k".to_vec(),
            person_fields: vec!["detected_by".into()],
        }
    }

    #[test]
    fn finds_addresses_in_text() {
        let t = r().text("Mail jane.doe@shop.example. Or bob+x@a.co.uk, not @handle or a@b.");
        assert!(!t.contains("jane.doe@shop.example"));
        assert!(!t.contains("bob+x@a.co.uk"));
        assert!(t.contains("@handle"));
        assert!(t.contains("a@b."));
        assert_eq!(t.matches("@redacted.invalid").count(), 2);
        assert!(t.contains("@redacted.invalid. Or"), "{t}");
    }

    #[test]
    fn pseudonyms_are_stable_and_keyed() {
        let a = r().person("Jane Doe");
        assert_eq!(a, r().person("  jane doe "));
        assert_ne!(a, r().person("John Doe"));
        let other = Redactor {
            key: b"other".to_vec(),
            person_fields: vec![],
        };
        assert_ne!(a, other.person("Jane Doe"));
    }
}
