//! Important business services and their impact tolerances (FCA SYSC 15A, PRA Operational
//! Resilience), read from a `services.toml` the firm owns.

use std::path::Path;

use anyhow::{bail, Result};
use serde::{Deserialize, Serialize};

use crate::clock::Period;
use crate::error::bad_input;

/// A service whose disruption could cause intolerable harm, with how long it may be down.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ImportantBusinessService {
    pub id: String,
    pub name: String,
    /// The maximum tolerable disruption (e.g. "4 hours").
    pub impact_tolerance: Period,
    #[serde(default)]
    pub owner: Option<String>,
    #[serde(default)]
    pub description: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ServiceRef<'a> {
    pub id: &'a str,
    pub name: &'a str,
    pub impact_tolerance: String,
}

impl ImportantBusinessService {
    pub fn as_ref(&self) -> ServiceRef<'_> {
        ServiceRef {
            id: &self.id,
            name: &self.name,
            impact_tolerance: self.impact_tolerance.to_string(),
        }
    }
}

/// The firm's important business services.
#[derive(Debug, Clone, Default)]
pub struct ServiceCatalogue {
    pub services: Vec<ImportantBusinessService>,
    /// Where they came from, for messages; `None` when no catalogue is configured.
    pub source: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawServices {
    #[serde(default)]
    service: Vec<ImportantBusinessService>,
}

impl ServiceCatalogue {
    pub fn parse(text: &str, source: &str) -> Result<ServiceCatalogue> {
        let raw: RawServices = toml::from_str(text)?;
        for (i, s) in raw.service.iter().enumerate() {
            if raw.service[..i].iter().any(|o| o.id == s.id) {
                bail!("service {:?} is defined twice", s.id);
            }
            if matches!(s.impact_tolerance, Period::WorkingDays(_)) {
                bail!(
                    "service {:?}: an impact tolerance is elapsed time; use hours or days, not working days",
                    s.id
                );
            }
        }
        Ok(ServiceCatalogue {
            services: raw.service,
            source: Some(source.to_string()),
        })
    }

    pub fn load(path: &Path) -> Result<ServiceCatalogue> {
        let name = path.display().to_string();
        let text = std::fs::read_to_string(path)
            .map_err(|e| bad_input(format!("cannot read services file {name}: {e}")))?;
        ServiceCatalogue::parse(&text, &name).map_err(|e| bad_input(format!("{name}: {e:#}")))
    }

    pub fn get(&self, id: &str) -> Option<&ImportantBusinessService> {
        self.services.iter().find(|s| s.id == id)
    }
}
