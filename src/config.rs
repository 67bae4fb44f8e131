//! `regwatch.toml`: where things are, which zone and bank holidays to use, who gets alerts
//! and how mail is sent. Secrets never live here: SMTP credentials come from the
//! environment variables this file names.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::Result;
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};

use crate::clock::{parse_tz, Calendar};
use crate::error::bad_input;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ClockConfig {
    /// Zone for display and for local rules (calendar days, working days, noon).
    pub timezone: String,
    /// Zone for input timestamps written without an offset (defaults to `timezone`).
    pub input_timezone: Option<String>,
    /// gov.uk division: england-and-wales, scotland or northern-ireland.
    pub bank_holidays: String,
}

impl Default for ClockConfig {
    fn default() -> Self {
        ClockConfig {
            timezone: "Europe/London".into(),
            input_timezone: None,
            bank_holidays: "england-and-wales".into(),
        }
    }
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PathConfig {
    /// A folder whose files override the built-in mappings, file by file; none: built in.
    pub mappings: Option<PathBuf>,
    /// A folder whose files override the built-in templates, file by file.
    pub templates: Option<PathBuf>,
    /// Important business services with their impact tolerances.
    pub services: Option<PathBuf>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct IncidentConfig {
    /// Jurisdictions assumed for an incident whose `jurisdictions` is empty. Unset: where
    /// the incident's entity is established (GB: `uk`, an EU Member State: `eu`), `uk`
    /// without `[[entities]]`.
    pub default_jurisdictions: Option<Vec<String>>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AlertConfig {
    /// The record of alerts sent (and the lock beside it).
    pub state: PathBuf,
    pub from: String,
    /// Role (a regime's `notify`) to destinations: e-mail addresses and `channel:NAME`
    /// entries naming a table of `channels`; `default` catches the rest.
    pub roles: BTreeMap<String, Vec<String>>,
    /// Chat and webhook destinations by name (`[alerts.channels.NAME]`).
    pub channels: BTreeMap<String, ChannelConfig>,
    /// How long one HTTP request to a channel may take before it counts as failed.
    pub http_timeout_seconds: u64,
    /// The most a run waits in all between retries of channels that answered 429 or 5xx
    /// (or did not answer); what is still refused then stays pending for the next run.
    pub retry_wait_seconds: u64,
}

impl Default for AlertConfig {
    fn default() -> Self {
        AlertConfig {
            state: "regwatch-alerts.json".into(),
            from: "regwatch <regwatch@localhost>".into(),
            roles: BTreeMap::new(),
            channels: BTreeMap::new(),
            http_timeout_seconds: 10,
            retry_wait_seconds: 30,
        }
    }
}

/// What a channel is: a Slack incoming webhook, a Microsoft Teams Workflows webhook, or a
/// generic webhook signed as Standard Webhooks says.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ChannelKind {
    Slack,
    Teams,
    Webhook,
}

impl ChannelKind {
    pub fn name(self) -> &'static str {
        match self {
            ChannelKind::Slack => "slack",
            ChannelKind::Teams => "teams",
            ChannelKind::Webhook => "webhook",
        }
    }
}

/// One chat or webhook destination. Its URL is a secret (whoever has it can post), so the
/// config names the environment variable that holds it, as it does the webhook's secret.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChannelConfig {
    pub kind: ChannelKind,
    /// Name of the environment variable holding the webhook URL.
    pub url_env: String,
    /// `kind = "webhook"` only: the variable holding the signing secret (`whsec_...`).
    #[serde(default)]
    pub secret_env: Option<String>,
}

/// How mail leaves: `none` (plain SMTP, for a local relay), `starttls` or `tls`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SmtpSecurity {
    None,
    Starttls,
    Tls,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SmtpConfig {
    pub host: String,
    pub port: Option<u16>,
    pub security: SmtpSecurity,
    /// Names of the environment variables holding the credentials (never the secrets).
    pub username_env: String,
    pub password_env: String,
    pub timeout_seconds: u64,
}

impl Default for SmtpConfig {
    fn default() -> Self {
        SmtpConfig {
            host: "localhost".into(),
            port: None,
            security: SmtpSecurity::Starttls,
            username_env: "REGWATCH_SMTP_USERNAME".into(),
            password_env: "REGWATCH_SMTP_PASSWORD".into(),
            timeout_seconds: 20,
        }
    }
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    pub clock: ClockConfig,
    pub paths: PathConfig,
    pub incidents: IncidentConfig,
    pub regimes: RegimeOverrides,
    pub alerts: AlertConfig,
    pub smtp: SmtpConfig,
    pub organisation: Organisation,
    /// The group's legal entities that report (`[[entities]]`); none means one entity in
    /// the UK with the `[clock]` settings, whose kinds come from incidents' `sectors`.
    pub entities: Vec<EntityConfig>,
    pub redaction: crate::incidents::redact::RedactionConfig,
    /// Which environment each AWS account, Kubernetes namespace or cluster is.
    pub audit: EnvironmentMap,
    /// Folder relative paths are read against (the config file's folder).
    #[serde(skip)]
    pub base: PathBuf,
    #[serde(skip)]
    pub source: Option<PathBuf>,
}

impl Config {
    /// `--config`, else `$REGWATCH_CONFIG`, else `./regwatch.toml` if present, else defaults.
    pub fn discover(explicit: Option<&Path>) -> Result<Config> {
        let env = std::env::var_os("REGWATCH_CONFIG").map(PathBuf::from);
        let path = explicit.map(Path::to_path_buf).or(env).or_else(|| {
            let p = PathBuf::from("regwatch.toml");
            p.exists().then_some(p)
        });
        match path {
            Some(p) => Config::load(&p),
            None => Ok(Config {
                base: PathBuf::from("."),
                ..Config::default()
            }),
        }
    }

    pub fn load(path: &Path) -> Result<Config> {
        let name = path.display();
        let text = std::fs::read_to_string(path)
            .map_err(|e| bad_input(format!("cannot read config {name}: {e}")))?;
        let mut cfg: Config =
            toml::from_str(&text).map_err(|e| bad_input(format!("config {name}: {e}")))?;
        cfg.base = path
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .map(Path::to_path_buf)
            .unwrap_or_else(|| PathBuf::from("."));
        cfg.source = Some(path.to_path_buf());
        Ok(cfg)
    }

    /// A path from the config, read against the config file's folder.
    pub fn resolve(&self, p: &Path) -> PathBuf {
        if p.is_absolute() {
            p.to_path_buf()
        } else {
            self.base.join(p)
        }
    }

    pub fn display_tz(&self) -> Result<Tz> {
        parse_tz(&self.clock.timezone).map_err(|e| bad_input(format!("config: {e:#}")))
    }

    pub fn input_tz(&self) -> Result<Tz> {
        let name = self
            .clock
            .input_timezone
            .as_deref()
            .unwrap_or(&self.clock.timezone);
        parse_tz(name).map_err(|e| bad_input(format!("config: {e:#}")))
    }

    /// The config's waivers file (`[audit] waivers`), if any.
    pub fn waivers_file(&self) -> Option<PathBuf> {
        self.audit.waivers.as_deref().map(|p| self.resolve(p))
    }

    /// The config's findings file (`[audit] findings`), if any: section 4 of `report`
    /// from findings an engine computed, when `--audit` and `--findings` are not given.
    pub fn findings_file(&self) -> Option<PathBuf> {
        self.audit.findings.as_deref().map(|p| self.resolve(p))
    }

    /// The config's mappings folder (`[paths] mappings`), if any; none means built in.
    pub fn mappings_dir(&self) -> Option<PathBuf> {
        self.paths.mappings.as_ref().map(|p| self.resolve(p))
    }

    /// The config's templates folder (`[paths] templates`), if any; none means built in.
    pub fn templates_dir(&self) -> Option<PathBuf> {
        self.paths.templates.as_ref().map(|p| self.resolve(p))
    }

    /// The working-day calendar from `uk-bank-holidays.json` (the folder's, else built in).
    pub fn calendar(&self, mappings: Option<&Path>) -> Result<Calendar> {
        Calendar::load(mappings, &self.clock.bank_holidays, self.display_tz()?)
            .map_err(|e| bad_input(format!("{e:#}")))
    }
}

/// Who the organisation is, for the report's contact section (config `[organisation]`).
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct Organisation {
    pub name: String,
    pub ico_registration: String,
    pub dpo_name: String,
    pub dpo_email: String,
    pub dpo_phone: String,
    pub address: String,
}

impl Organisation {
    /// `"Name<sep>"`, or nothing when no name is configured.
    pub fn name_prefix(&self, sep: &str) -> String {
        if self.name.is_empty() {
            String::new()
        } else {
            format!("{}{sep}", self.name)
        }
    }
}

/// Where events come from in the organisation: which environment an AWS account, a
/// Kubernetes namespace or cluster is (the `[audit]` table of `regwatch.toml`).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct EnvironmentMap {
    /// AWS account id → environment.
    pub accounts: BTreeMap<String, String>,
    /// Kubernetes namespace pattern (`*` wildcards) → environment.
    pub namespaces: BTreeMap<String, String>,
    /// Kubernetes cluster (the audit file's name without extensions) → environment, for
    /// cluster-scoped objects and unmapped namespaces.
    pub clusters: BTreeMap<String, String>,
    /// The waivers file (`--waivers` overrides it); relative to the config's folder.
    pub waivers: Option<PathBuf>,
    /// Findings an engine computed, in the findings schema, for `report`'s section 4
    /// (`--findings` and `--audit` override it); relative to the config's folder.
    pub findings: Option<PathBuf>,
    /// The engine `regwatch audit` runs the policies on (`--engine` overrides it):
    /// `native`, `duckdb` or `spark`.
    pub engine: Option<String>,
}

/// One legal entity of the group, as `[[entities]]` states it: who reports, from where,
/// and what kind of firm it is (which decides the regimes and some of their rules).
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct EntityConfig {
    pub id: String,
    pub name: String,
    /// ISO 3166 alpha-2 (`GB` for the UK).
    pub country: String,
    /// From the vocabulary in `regimes::entity::KINDS`.
    pub kinds: Vec<String>,
    pub lei: String,
    pub frn: String,
    pub ico_registration: String,
    /// A UK division (england-and-wales, scotland, northern-ireland) or a country code;
    /// default: `[clock] bank_holidays` for GB, else the country.
    pub holidays: Option<String>,
    /// IANA zone for local rules (noon, calendar days); default: the country's.
    pub timezone: Option<String>,
    /// Notification contacts by alert role (`dpo = ["..."]`).
    pub contacts: BTreeMap<String, Vec<String>>,
}

/// Changes a user makes without editing `mappings/` (from the config file).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RegimeOverrides {
    /// Regime ids to switch off.
    #[serde(default)]
    pub disable: Vec<String>,
    /// `"regime/clock" = "48 hours"`: a different period for a clock (internal targets, or
    /// figures the firm must choose).
    #[serde(default)]
    pub periods: std::collections::BTreeMap<String, String>,
    /// Regime ids to apply before their in-force date (a rehearsal); shown as such.
    #[serde(default)]
    pub rehearse: Vec<String>,
    /// `"regime" = 2027-12-02` or `"regime/value" = ...` (a value of its `in_force_by`
    /// field): a different date in force, where a pending law may move one (the AI Act).
    #[serde(default)]
    pub in_force: std::collections::BTreeMap<String, chrono::NaiveDate>,
}
