//! Countries and jurisdictions as people write them. The regimes test `jurisdictions`
//! for `uk` and `eu`; an incident file says `GB`, `United Kingdom`, `IE` or `EEA` just as
//! often, and a value the regimes do not recognise would silently remove the UK or EU
//! GDPR clocks.

/// The EU Member States (ISO 3166-1 alpha-2; Greece as `GR`, not the EU's `EL`).
pub const EU_MEMBER_STATES: &[&str] = &[
    "AT", "BE", "BG", "CY", "CZ", "DE", "DK", "EE", "ES", "FI", "FR", "GR", "HR", "HU", "IE", "IT",
    "LT", "LU", "LV", "MT", "NL", "PL", "PT", "RO", "SE", "SI", "SK",
];

/// The jurisdiction (`uk` or `eu`) a written value names, if any: UK, GB, the United
/// Kingdom and its nations; EU, EEA, the European Union, or a Member State's code (`EL`
/// too, the EU's own code for Greece).
pub fn jurisdiction(written: &str) -> Option<&'static str> {
    let key = written.trim().to_ascii_lowercase();
    match key.as_str() {
        "uk" | "gb" | "gbr" | "united kingdom" | "great britain" | "england" | "wales"
        | "scotland" | "northern ireland" | "england-and-wales" => Some("uk"),
        "eu" | "eea" | "european union" | "el" => Some("eu"),
        _ if EU_MEMBER_STATES.contains(&key.to_ascii_uppercase().as_str()) => Some("eu"),
        _ => None,
    }
}

/// Where an entity established in `country` is assumed to report when an incident does
/// not say: GB is `uk`, a Member State `eu`.
pub fn home_jurisdiction(country: &str) -> Option<&'static str> {
    match country.trim().to_ascii_uppercase().as_str() {
        "GB" => Some("uk"),
        c if EU_MEMBER_STATES.contains(&c) => Some("eu"),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_people_write_map_to_the_regimes_jurisdictions() {
        for w in ["UK", "gb", " United Kingdom ", "Scotland"] {
            assert_eq!(jurisdiction(w), Some("uk"), "{w}");
        }
        for w in ["EU", "eea", "IE", "fr", "EL", "European Union"] {
            assert_eq!(jurisdiction(w), Some("eu"), "{w}");
        }
        for w in ["US", "CH", "", "NO-ONE"] {
            assert_eq!(jurisdiction(w), None, "{w}");
        }
        assert_eq!(home_jurisdiction("GB"), Some("uk"));
        assert_eq!(home_jurisdiction("lu"), Some("eu"));
        assert_eq!(home_jurisdiction("US"), None);
    }
}
