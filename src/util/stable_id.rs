//! Ids that are the same on every run for the same thing, so exported documents (OSCAL,
//! OCSF) can be diffed and re-imported without duplicates: name-based UUIDs (version 5,
//! SHA-1, RFC 9562), in a namespace of regwatch's own.

use uuid::Uuid;

/// regwatch's namespace: the v5 UUID of `urn:regwatch` in the URL (URI) namespace.
fn namespace() -> Uuid {
    Uuid::new_v5(&Uuid::NAMESPACE_URL, b"urn:regwatch")
}

/// The v5 UUID of `name` (say `finding:<fingerprint>`), as lower-case hyphenated text.
pub fn stable_uuid(name: &str) -> String {
    Uuid::new_v5(&namespace(), name.as_bytes())
        .hyphenated()
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_name_gives_the_same_version_5_uuid() {
        let a = stable_uuid("finding:x");
        assert_eq!(a, stable_uuid("finding:x"));
        assert_ne!(a, stable_uuid("finding:y"));
        assert_eq!(a.as_bytes()[14], b'5', "{a}");
        assert!(matches!(a.as_bytes()[19], b'8' | b'9' | b'a' | b'b'), "{a}");
    }
}
