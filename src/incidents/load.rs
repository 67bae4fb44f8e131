//! Loading what every command needs: config, regimes, services, calendar and incidents.

use std::path::PathBuf;
use std::sync::Arc;

use rustc_hash::FxHashMap;

use anyhow::Result;
use chrono::{DateTime, Utc};
use chrono_tz::Tz;

use crate::config::Config;
use crate::incidents::ingest::{
    read_incidents, IngestOptions, IngestReport, InputFormat, Location, Rejection,
};
use crate::incidents::record::{FieldError, Incident, List};
use crate::regimes::deadline::Status;
use crate::regimes::entity::Entities;
use crate::regimes::evaluate::{evaluate, EvalContext, Evaluation};
use crate::regimes::model::{load_regimes, Regime};
use crate::regimes::services::ServiceCatalogue;
use crate::util::countries;
use crate::util::defaults::{read_mapping, Origin};

/// Options that decide how incidents are read.
#[derive(Debug, Clone, Default)]
pub struct LoadOptions {
    pub format: Option<InputFormat>,
    pub strict: bool,
    /// Overrides the config's `paths.mappings`.
    pub mappings: Option<PathBuf>,
    /// Overrides the config's `paths.services`.
    pub services: Option<PathBuf>,
}

/// Everything an evaluation rests on.
pub struct Loaded {
    pub config: Config,
    pub regimes: Vec<Regime>,
    pub services: ServiceCatalogue,
    /// The reporting entities, each with its calendar and zone.
    pub entities: Entities,
    pub tz: Tz,
    pub incidents: Vec<Incident>,
    pub reports: Vec<IngestReport>,
    /// The mappings folder given (`--mappings` or the config's); none: built in.
    pub mappings: Option<PathBuf>,
    /// Every file the evaluation rests on (incident files, regimes, bank holidays,
    /// services, config), each on disk or built in, for a report's manifest.
    pub sources: Vec<Origin>,
}

impl Loaded {
    /// Reads mappings, services and every incident file.
    pub fn load(config: Config, inputs: &[PathBuf], opts: &LoadOptions) -> Result<Loaded> {
        let mappings = opts.mappings.clone().or_else(|| config.mappings_dir());
        let (regimes, regimes_origin) = load_regimes(mappings.as_deref(), &config.regimes)?;
        let services_path = opts
            .services
            .clone()
            .or_else(|| config.paths.services.as_ref().map(|p| config.resolve(p)));
        let services = match &services_path {
            Some(p) => ServiceCatalogue::load(p)?,
            None => ServiceCatalogue::default(),
        };
        let mut sources: Vec<Origin> = inputs.iter().cloned().map(Origin::File).collect();
        sources.push(regimes_origin);
        sources.push(read_mapping(mappings.as_deref(), "uk-bank-holidays.json")?.1);
        sources.extend(services_path.map(Origin::File));
        sources.extend(config.source.clone().map(Origin::File));
        let entities = Entities::load(&config, mappings.as_deref())?;
        if entities.configured && entities.all().iter().any(|e| e.country != "GB") {
            sources.push(read_mapping(mappings.as_deref(), "eu-public-holidays.json")?.1);
        }

        let tz = config.display_tz()?;
        let input_tz = config.input_tz()?;
        // An unknown service is a problem on the row, not a reason to drop it: the
        // incident keeps every other clock, and the known services keep theirs.
        let check = |inc: &Incident, problems: &mut Vec<FieldError>| {
            if services.source.is_none() {
                return;
            }
            for s in inc.affected_services.items() {
                if services.get(s).is_none() {
                    problems.push(FieldError {
                        field: "affected_services".into(),
                        reason: format!(
                            "{s:?} is not an important business service in {}; no impact tolerance clock for it, the incident's other clocks are kept",
                            services.source.as_deref().unwrap_or("")
                        ),
                    });
                }
            }
        };
        let ingest = IngestOptions {
            format: opts.format,
            strict: opts.strict,
            input_tz,
            check: &check,
        };
        // The config's default, written as people write it (`GB`, `EU`...), when it is set.
        let default_jurisdictions = config.incidents.default_jurisdictions.as_ref().map(|d| {
            let items: Vec<String> = d
                .iter()
                .map(|j| countries::jurisdiction(j).map_or_else(|| j.clone(), String::from))
                .collect();
            List::from_items(&items)
        });
        let mut incidents = Vec::new();
        let mut reports = Vec::new();
        // Ids must be unique across files too (within a file the reader checks).
        let mut first_seen: FxHashMap<Arc<str>, (usize, u64)> = FxHashMap::default();
        for path in inputs {
            let (mut incs, mut report) = read_incidents(path, &ingest)?;
            if inputs.len() > 1 {
                let file_no = reports.len();
                incs.retain(|inc| match first_seen.get(&inc.id) {
                    Some(&(f, line)) => {
                        let first: &IngestReport = &reports[f];
                        report.rejected.push(Rejection {
                            file: report.file.clone(),
                            location: Location::Line(inc.line),
                            id: inc.id.to_string(),
                            field: "id".into(),
                            reason: format!(
                                "duplicate id {:?} (first in {} line {line})",
                                inc.id, first.file
                            ),
                            raw: String::new(),
                        });
                        report.accepted -= 1;
                        let at = Location::Line(inc.line);
                        report.problems.retain(|p| p.location != at);
                        false
                    }
                    None => {
                        first_seen.insert(inc.id.clone(), (file_no, inc.line));
                        true
                    }
                });
            }
            if opts.strict {
                if let Some(r) = report.rejected.first().or(report.problems.first()) {
                    return Err(crate::error::bad_input(r.to_string()));
                }
            }
            for inc in &mut incs {
                if inc.jurisdictions.is_empty() {
                    inc.jurisdictions = match &default_jurisdictions {
                        Some(d) => d.clone(),
                        None => {
                            let country = &entities.of(inc).entity.country;
                            let home = countries::home_jurisdiction(country).unwrap_or("uk");
                            List::from_items(&[home.to_string()])
                        }
                    };
                }
            }
            incidents.extend(incs);
            reports.push(report);
        }
        Ok(Loaded {
            config,
            regimes,
            services,
            entities,
            tz,
            incidents,
            reports,
            mappings,
            sources,
        })
    }

    /// Every deadline at `now` whose status `keep` accepts, most urgent first, with the
    /// counts of all.
    pub fn evaluate(
        &self,
        now: DateTime<Utc>,
        keep: &(dyn Fn(Status) -> bool + Sync),
    ) -> Evaluation<'_> {
        let ctx = EvalContext {
            regimes: &self.regimes,
            services: &self.services,
            entities: &self.entities,
            now,
        };
        evaluate(&self.incidents, &ctx, keep)
    }

    pub fn rejected(&self) -> Vec<Rejection> {
        self.reports
            .iter()
            .flat_map(|r| r.rejected.iter().cloned())
            .collect()
    }

    /// Problems in rows that were kept, in every input.
    pub fn problems(&self) -> Vec<Rejection> {
        self.reports
            .iter()
            .flat_map(|r| r.problems.iter().cloned())
            .collect()
    }

    /// Whether any row was rejected or kept with a problem.
    pub fn has_input_problems(&self) -> bool {
        self.reports
            .iter()
            .any(|r| !r.rejected.is_empty() || !r.problems.is_empty())
    }

    /// `file: read N, accepted A, rejected R, with problems P` per input (P of the A
    /// accepted rows have a field that could not be used).
    pub fn input_lines(&self) -> Vec<String> {
        self.reports
            .iter()
            .map(|r| {
                format!(
                    "{}: read {}, accepted {}, rejected {}, with problems {}",
                    r.file,
                    r.read,
                    r.accepted,
                    r.rejected_count(),
                    r.with_problems()
                )
            })
            .collect()
    }
}
