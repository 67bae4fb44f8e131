//! Setting up and checking a folder to run from: `init` writes a starting config, an empty
//! incidents file and example services (and, when asked, copies of the built-in mappings
//! and templates); `check` reads everything a run would and says what is wrong and where.

use std::path::{Path, PathBuf};

use anyhow::Result;

use crate::config::Config;
use crate::util::defaults::Kind;

const CONFIG: &str = r#"# regwatch configuration. Relative paths are read from this file's folder.
# Run `regwatch check` after editing; see GUIDE.md for every setting.

[clock]
timezone = "Europe/London"          # display, calendar days, working days, "noon"
bank_holidays = "england-and-wales" # or scotland, northern-ireland

[paths]
services = "services.toml"
# Folders whose files override the built-in rules and templates, file by file (a file
# absent from the folder is the built-in one). `regwatch init --copy-defaults` copies them.
# mappings = "mappings"
# templates = "templates"

[organisation]
name = "Example Ltd"
ico_registration = ""
dpo_name = "Data Protection Officer"
dpo_email = "dpo@example.com"
dpo_phone = ""
address = ""

# The legal entities that report (the incidents' `entity` column). Without any, one UK
# entity with the [clock] settings is assumed.
# [[entities]]
# id = "example-uk"
# name = "Example Ltd"
# country = "GB"
# kinds = ["fca-regulated"]   # see GUIDE.md for the vocabulary
# frn = ""
# lei = ""
# ico_registration = ""

[alerts]
state = "regwatch-alerts.json"
from = "regwatch <regwatch@example.com>"
# A channel (below) that answers 429 or 5xx, or not within http_timeout_seconds, is tried
# again; a run waits at most retry_wait_seconds in all, then leaves it pending for the next.
http_timeout_seconds = 10
retry_wait_seconds = 30

[alerts.roles]
# Each role lists where its alerts go: e-mail addresses, and "channel:NAME" for a channel
# defined below. Each address and each channel gets each alert once.
dpo = ["dpo@example.com"]
default = ["compliance@example.com"]
# resilience = ["opres@example.com", "channel:ops-slack"]

# Chat and webhook channels. A webhook URL is a secret (whoever has it can post), so
# url_env names the environment variable that holds it, as secret_env does a signing
# secret. `regwatch check` says which variable is missing.
# [alerts.channels.ops-slack]
# kind = "slack"                       # a Slack incoming webhook
# url_env = "REGWATCH_SLACK_OPS_URL"
# [alerts.channels.ops-teams]
# kind = "teams"                       # a Teams Workflows "when a webhook request is received" URL
# url_env = "REGWATCH_TEAMS_OPS_URL"
# [alerts.channels.grc]
# kind = "webhook"                     # any HTTPS endpoint, signed as Standard Webhooks says
# url_env = "REGWATCH_GRC_WEBHOOK_URL"
# secret_env = "REGWATCH_GRC_WEBHOOK_SECRET"   # whsec_ and base64

# Audit logs: which environment each AWS account, Kubernetes namespace or cluster is, so
# the production-only guardrails know what production is; and the findings people have
# accepted (see GUIDE.md "Waivers").
# [audit]
# waivers = "waivers.toml"
# [audit.accounts]
# "111122223333" = "production"
# [audit.namespaces]
# "payments-*" = "production"

[smtp]
host = "localhost"
port = 587
security = "starttls"   # none | starttls | tls
# The NAMES of the environment variables that hold the credentials; the secrets never go
# in this file (keep them in an environment file readable only by the service user).
username_env = "REGWATCH_SMTP_USERNAME"
password_env = "REGWATCH_SMTP_PASSWORD"
timeout_seconds = 20
"#;

const SERVICES: &str = r#"# Important business services with their impact tolerances (FCA SYSC 15A): the
# maximum tolerable disruption each may suffer. The figures are the firm's own.

[[service]]
id = "checkout"
name = "Online checkout and card payments"
impact_tolerance = "4 hours"
owner = "Head of Payments"
description = "Customers can pay for baskets on web and app."
"#;

/// Every column the regimes read, in the order of the sample file.
pub const INCIDENT_COLUMNS: &str = "id,entity,title,description,occurred_at,aware_at,detected_by,cause,severity,personal_data,risk_to_individuals,data_subjects,records,data_categories,affected_services,sectors,jurisdictions,change_id,ai_agent,disruption_start,disruption_end,resolved_at,consequences,measures_taken,delay_reason,subjects_exemption,ai_act_category,register_recorded_at,ico_notified_at,subjects_notified_at,fca_reportable_at,fca_initial_at,fca_significant_change_at,fca_intermediate_at,fca_final_at,dora_classified_at,dora_initial_at,dora_intermediate_at,dora_final_at,ai_act_reported_at,pecr_notified_at,nis_notified_at,affected_member_states,public_comms_service,ai_system_class,fca_notified_at,eu_sa_notified_at,psr_initial_at,subject_categories,staff_involved,staff_training,cyber_incident,cia_impact,safeguards,others_informed,third_parties,fca_threshold,customers_affected";

/// What `init` did: the files written and the ones that existed and were kept.
#[derive(Debug, Default)]
pub struct InitReport {
    pub written: Vec<PathBuf>,
    pub kept: Vec<PathBuf>,
}

/// Writes the starting files into `dir`, never overwriting one that exists.
pub fn init(dir: &Path, copy_defaults: bool) -> Result<InitReport> {
    let mut files: Vec<(PathBuf, String)> = vec![
        (dir.join("regwatch.toml"), CONFIG.to_string()),
        (dir.join("incidents.csv"), format!("{INCIDENT_COLUMNS}\n")),
        (dir.join("services.toml"), SERVICES.to_string()),
    ];
    if copy_defaults {
        for kind in [Kind::Mappings, Kind::Templates] {
            for (name, text) in kind.builtins() {
                files.push((dir.join(kind.folder()).join(name), text.to_string()));
            }
        }
    }
    let mut report = InitReport::default();
    for (path, text) in files {
        if path.exists() {
            report.kept.push(path);
            continue;
        }
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)
                .map_err(|e| anyhow::anyhow!("cannot create {}: {e}", parent.display()))?;
        }
        // create_new: a file that appeared meanwhile is not overwritten either.
        let mut f = match std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&path)
        {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                report.kept.push(path);
                continue;
            }
            Err(e) => anyhow::bail!("cannot write {}: {e}", path.display()),
        };
        std::io::Write::write_all(&mut f, text.as_bytes())
            .map_err(|e| anyhow::anyhow!("cannot write {}: {e}", path.display()))?;
        report.written.push(path);
    }
    Ok(report)
}

/// Reads everything a run would: the mappings (regimes, policies, holidays, entities),
/// the services and the templates. Returns one line per problem, each naming the file.
pub fn check(config: &Config, mappings: Option<&Path>, templates: Option<&Path>) -> Vec<String> {
    let mut problems = Vec::new();
    let mut note = |r: Result<()>| {
        if let Err(e) = r {
            problems.push(format!("{e:#}"));
        }
    };
    note(crate::regimes::model::load_regimes(mappings, &config.regimes).map(drop));
    note(config.display_tz().map(drop));
    note(config.input_tz().map(drop));
    note(
        crate::regimes::entity::Entities::load(config, mappings)
            .map(drop)
            .map_err(|e| anyhow::anyhow!("config entities: {e:#}")),
    );
    note(
        crate::controls::Catalogue::load(mappings)
            .and_then(|c| crate::controls::load_policies(None, mappings, &c).map(drop)),
    );
    note(crate::audit::sources::vocabulary::SourceMappings::load(mappings).map(drop));
    note(crate::documents::drafts::SpecialCategories::load(mappings).map(drop));
    if let Some(p) = &config.paths.services {
        note(crate::regimes::services::ServiceCatalogue::load(&config.resolve(p)).map(drop));
    }
    if let Some(p) = config.waivers_file() {
        let today = chrono::Utc::now().date_naive();
        note(crate::audit::waivers::Waivers::load(&p, today).map(drop));
    }
    note(crate::notify::alerts::load_templates(templates).map(drop));
    note(crate::documents::publish::ReportTemplates::load(templates).map(drop));
    for stem in ["ico-draft", "fca-draft"] {
        note(crate::documents::drafts::DraftTemplates::load(templates, stem).map(drop));
    }
    // Role entries naming channels and addresses, and each channel's environment.
    problems.extend(crate::notify::channel::check_destinations(config));
    problems
}

/// Connects to the configured mail server (and logs in, with credentials).
pub fn check_smtp(config: &Config) -> Result<()> {
    let transport = crate::notify::alerts::smtp_transport(&config.smtp)?;
    let addr = format!(
        "{}:{}",
        config.smtp.host,
        config
            .smtp
            .port
            .map_or("default port".into(), |p| p.to_string())
    );
    match transport.test_connection() {
        Ok(true) => Ok(()),
        Ok(false) => anyhow::bail!("SMTP server {addr} did not answer NOOP"),
        Err(e) => {
            anyhow::bail!("cannot connect to the SMTP server {addr} ([smtp] in the config): {e}")
        }
    }
}
