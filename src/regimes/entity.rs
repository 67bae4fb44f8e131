//! Who is reporting: the group's legal entities from `[[entities]]`, each with its country,
//! its kinds of firm, its time zone and its holiday calendar. A rule that depends on the
//! firm (which regimes apply, whether DORA's weekend extension applies) or on its place
//! (whose holidays, whose noon) reads it from the incident's entity.

use std::path::Path;

use anyhow::{Context, Result};
use chrono_tz::Tz;

use crate::clock::{parse_tz, Calendar};
use crate::config::{Config, EntityConfig};
use crate::error::bad_input;
use crate::incidents::record::{Incident, List};

/// The kinds of firm regimes can test (`field = "entity.kinds"`, or `kinds` for these and
/// an incident's `sectors` together). Documented in GUIDE.md.
pub const KINDS: &[&str] = &[
    "credit-institution",
    "payment-institution",
    "e-money-institution",
    "investment-firm",
    "insurer",
    "ccp",
    "trading-venue",
    "csd",
    "payment-system-operator",
    "crypto-asset-service-provider",
    "communications-provider",
    "uk-oes",
    "uk-rdsp",
    "nis2-essential",
    "nis2-important",
    "fca-regulated",
    "pra-regulated",
    "ai-provider",
    "ai-deployer",
    "processor",
    "psp",
    "fca-standard",
    "dora-art5-6-designated",
    "eu-financial-entity",
];

/// Each country's zone for local rules, where one zone covers the country's mainland
/// (an entity elsewhere, e.g. the Canaries or the Azores, sets `timezone`).
const COUNTRY_ZONES: &[(&str, &str)] = &[
    ("GB", "Europe/London"),
    ("AT", "Europe/Vienna"),
    ("BE", "Europe/Brussels"),
    ("BG", "Europe/Sofia"),
    ("CY", "Asia/Nicosia"),
    ("CZ", "Europe/Prague"),
    ("DE", "Europe/Berlin"),
    ("DK", "Europe/Copenhagen"),
    ("EE", "Europe/Tallinn"),
    ("ES", "Europe/Madrid"),
    ("FI", "Europe/Helsinki"),
    ("FR", "Europe/Paris"),
    ("GR", "Europe/Athens"),
    ("HR", "Europe/Zagreb"),
    ("HU", "Europe/Budapest"),
    ("IE", "Europe/Dublin"),
    ("IT", "Europe/Rome"),
    ("LT", "Europe/Vilnius"),
    ("LU", "Europe/Luxembourg"),
    ("LV", "Europe/Riga"),
    ("MT", "Europe/Malta"),
    ("NL", "Europe/Amsterdam"),
    ("PL", "Europe/Warsaw"),
    ("PT", "Europe/Lisbon"),
    ("RO", "Europe/Bucharest"),
    ("SE", "Europe/Stockholm"),
    ("SI", "Europe/Ljubljana"),
    ("SK", "Europe/Bratislava"),
];

/// The Member States of the European Union.
pub use crate::util::countries::EU_MEMBER_STATES;

const UK_DIVISIONS: &[&str] = &["england-and-wales", "scotland", "northern-ireland"];

/// A reporting entity, resolved: its calendar and zone are what its deadlines are counted
/// in.
#[derive(Debug, Clone)]
pub struct Entity {
    pub id: String,
    pub name: String,
    pub country: String,
    pub kinds: List,
    pub lei: String,
    pub frn: String,
    pub ico_registration: String,
    pub tz: Tz,
    pub calendar: Calendar,
    /// Alert recipients by role, before `[alerts.roles]`.
    pub contacts: std::collections::BTreeMap<String, Vec<String>>,
}

impl Entity {
    /// Established in an EU Member State.
    pub fn in_eu(&self) -> bool {
        EU_MEMBER_STATES.contains(&self.country.as_str())
    }
}

/// The group's entities, and which one an incident belongs to.
#[derive(Debug, Clone)]
pub struct Entities {
    list: Vec<Entity>,
    /// Configured in `[[entities]]` (false: the one default entity).
    pub configured: bool,
}

/// An incident's entity, and whether it had to be assumed.
pub struct EntityOf<'a> {
    pub entity: &'a Entity,
    /// Why the entity was assumed rather than named, for a note on each deadline.
    pub assumed: Option<String>,
}

impl Entities {
    /// Reads `[[entities]]`, with their holidays from the mappings folder
    /// (`uk-bank-holidays.json`, `eu-public-holidays.json`).
    pub fn load(config: &Config, mappings: Option<&Path>) -> Result<Entities> {
        if config.entities.is_empty() {
            let calendar = config.calendar(mappings)?;
            let tz = config.display_tz()?;
            let default = Entity {
                id: String::new(),
                name: config.organisation.name.clone(),
                country: "GB".into(),
                kinds: List::default(),
                lei: String::new(),
                frn: String::new(),
                ico_registration: config.organisation.ico_registration.clone(),
                tz,
                calendar,
                contacts: Default::default(),
            };
            return Ok(Entities {
                list: vec![default],
                configured: false,
            });
        }
        let mut list: Vec<Entity> = Vec::new();
        for e in &config.entities {
            let entity = resolve(e, config, mappings)
                .map_err(|err| bad_input(format!("config [[entities]] {:?}: {err:#}", e.id)))?;
            if list.iter().any(|x| x.id == entity.id) {
                return Err(bad_input(format!(
                    "config [[entities]]: id {:?} is given twice",
                    entity.id
                )));
            }
            list.push(entity);
        }
        Ok(Entities {
            list,
            configured: true,
        })
    }

    /// One entity only, for tests and callers without a config.
    pub fn single(entity: Entity) -> Entities {
        Entities {
            list: vec![entity],
            configured: true,
        }
    }

    pub fn all(&self) -> &[Entity] {
        &self.list
    }

    pub fn get(&self, id: &str) -> Option<&Entity> {
        self.list.iter().find(|e| e.id.eq_ignore_ascii_case(id))
    }

    /// The incident's `entity`; with none named, the only entity (or the first, with a
    /// note). An id not configured is evaluated as the first entity, with a note, so no
    /// clock is lost to a typo.
    pub fn of(&self, inc: &Incident) -> EntityOf<'_> {
        let first = &self.list[0];
        match inc.text("entity") {
            Some(id) => match self.get(id) {
                Some(entity) => EntityOf {
                    entity,
                    assumed: None,
                },
                None => EntityOf {
                    entity: first,
                    assumed: Some(format!(
                        "entity {id:?} is not in the config's [[entities]]: evaluated as {}",
                        describe(first)
                    )),
                },
            },
            None if self.list.len() > 1 => EntityOf {
                entity: first,
                assumed: Some(format!(
                    "no entity given: evaluated as {} (set the incident's entity column)",
                    describe(first)
                )),
            },
            None => EntityOf {
                entity: first,
                assumed: None,
            },
        }
    }
}

fn describe(e: &Entity) -> String {
    if e.id.is_empty() {
        "the default entity".into()
    } else {
        format!("{} ({})", e.id, e.country)
    }
}

fn resolve(e: &EntityConfig, config: &Config, mappings: Option<&Path>) -> Result<Entity> {
    if e.id.trim().is_empty() {
        anyhow::bail!("an entity needs an id");
    }
    let country = e.country.trim().to_ascii_uppercase();
    let zone = match &e.timezone {
        Some(z) => z.clone(),
        None => COUNTRY_ZONES
            .iter()
            .find(|(c, _)| *c == country)
            .map(|(_, z)| z.to_string())
            .with_context(|| {
                format!("country {country:?} is not known (use an ISO 3166 code such as GB, IE, NL, DE, FR, LU, or set timezone)")
            })?,
    };
    let tz = parse_tz(&zone)?;
    for k in &e.kinds {
        if !KINDS.contains(&k.as_str()) {
            anyhow::bail!("kind {k:?} is not known (use: {})", KINDS.join(", "));
        }
    }
    let holidays = e.holidays.clone().unwrap_or_else(|| {
        if country == "GB" {
            config.clock.bank_holidays.clone()
        } else {
            country.clone()
        }
    });
    let calendar = if UK_DIVISIONS.contains(&holidays.as_str()) {
        Calendar::load(mappings, &holidays, tz)?
    } else {
        let (text, origin) =
            crate::util::defaults::read_mapping(mappings, "eu-public-holidays.json")?;
        Calendar::from_country_json(&text, &holidays.to_ascii_uppercase(), tz)
            .with_context(|| format!("in {}", origin.label()))?
    };
    Ok(Entity {
        id: e.id.clone(),
        name: e.name.clone(),
        country,
        kinds: List::from_items(&e.kinds),
        lei: e.lei.clone(),
        frn: e.frn.clone(),
        ico_registration: e.ico_registration.clone(),
        tz,
        calendar,
        contacts: e.contacts.clone(),
    })
}
