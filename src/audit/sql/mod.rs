//! `regwatch sql`: the enabled policies compiled to one SQL query, so an engine where the
//! logs live (DuckDB, Spark, Trino/Athena) computes the findings, in the findings schema
//! that `regwatch audit --findings` reads back (GUIDE.md "Outputs").
//!
//! The script is a few session settings, then ONE `SELECT` whose CTEs normalise the
//! source to the native columns (`native`), select each policy's hits (`policies`) and
//! group them into findings. What a dialect spells differently is in `dialect`. A policy
//! that cannot be expressed yet is refused by name (listed in the script and returned),
//! never dropped.

mod cloudtrail;
pub mod dialect;
mod native;
mod nested;
mod ocsf;
mod policies;
mod rate_limit;
pub mod scope;

use anyhow::{Context, Result};
use chrono_tz::Tz;

use crate::audit::policies::compile as check_policies;
use crate::controls::Policy;
pub use cloudtrail::Aws;
pub use dialect::Dialect;
pub use native::Input as SqlInput;
use policies::{Compiled, LISTED};
pub use scope::Scope;

/// The audit sources a script can read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SqlSource {
    /// regwatch's native events: JSON lines (DuckDB) or a table with the native columns.
    Native,
    /// The Athena table of CloudTrail logs AWS documents (partition projection DDL).
    CloudTrailAthena,
    /// Amazon Security Lake's OCSF 1.x table of CloudTrail management events.
    Ocsf,
}

impl SqlSource {
    pub fn as_str(self) -> &'static str {
        match self {
            SqlSource::Native => "native",
            SqlSource::CloudTrailAthena => "cloudtrail-athena",
            SqlSource::Ocsf => "ocsf",
        }
    }

    /// Whether a policy reads this source's events (no `sources`: all of them), as a run
    /// decides from the file's format.
    fn reads(self, p: &Policy) -> bool {
        let names: &[&str] = match self {
            SqlSource::Native => &["jsonl", "csv", "parquet"],
            SqlSource::CloudTrailAthena => &["cloudtrail"],
            SqlSource::Ocsf => &["ocsf", "cloudtrail"],
        };
        p.sources.is_empty() || p.sources.iter().any(|s| names.contains(&s.as_str()))
    }
}

/// What to compile.
pub struct SqlRequest<'a> {
    pub dialect: Dialect,
    pub source: SqlSource,
    /// Where the events are read from (`SqlInput::named` for `regwatch sql --input`); an
    /// engine run reads several files, in the order a run reads them.
    pub inputs: &'a [SqlInput],
    pub policies: &'a [Policy],
    /// Events' local times without an offset are in this zone.
    pub input_tz: Tz,
    /// Policies' local times (freezes) are in this zone, as a run reads them.
    pub display_tz: Tz,
    /// The bank holidays out-of-hours policies (`time-fence`) count as closed.
    pub bank_holidays: &'a [chrono::NaiveDate],
    /// The vocabulary and environments of AWS records: needed by the CloudTrail and OCSF
    /// sources.
    pub aws: Option<Aws<'a>>,
    /// Which events the script reads (`--month`, `--account`, `--region`).
    pub scope: Scope,
}

/// The script, and what went into it.
pub struct SqlScript {
    /// What `regwatch sql` writes: the header comment, the settings and the query.
    pub text: String,
    /// The session settings to run first (`SET ...`), each one statement without `;`.
    pub settings: Vec<String>,
    /// The one query whose result is the findings (no `;`).
    pub query: String,
    /// A query over the same CTEs listing the records a run would reject:
    /// `source_file`, `source_line`, `problem` and the record's `actor`,
    /// `action`, `resource`.
    pub rejects: String,
    /// A query over the same CTEs counting the records of each file: `source_file`,
    /// `records`, `rejected`, and `first_ms`, `last_ms` (the accepted events' times).
    pub counts: String,
    pub expressed: Vec<String>,
    /// Policy id and why it is not in the script.
    pub refused: Vec<(String, String)>,
    /// Policy id and why it does not apply to this source (not a refusal).
    pub skipped: Vec<(String, String)>,
}

/// Compiles every enabled policy of `req.policies` for `req.dialect`.
pub fn compile(req: &SqlRequest) -> Result<SqlScript> {
    // The same parameter checks as a run: a bad policy is an error, not a refusal.
    check_policies(req.policies, req.display_tz)?;
    let d = req.dialect;
    let (mut expressed, mut refused, mut skipped, mut selects, mut direct) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for p in req.policies.iter().filter(|p| p.enabled) {
        if !req.source.reads(p) {
            skipped.push((
                p.id.clone(),
                format!("reads only {} events", p.sources.join(", ")),
            ));
            continue;
        }
        if req.source != SqlSource::Native {
            if let Some(why) = cloudtrail::grants_refusal(p) {
                refused.push((p.id.clone(), format!("{}: {why}", p.kind)));
                continue;
            }
        }
        match policies::compile(d, p, req.display_tz, req.bank_holidays)
            .with_context(|| format!("policy {:?}", p.id))?
        {
            Compiled::Hits(sql) => {
                expressed.push(p.id.clone());
                selects.push(sql);
            }
            Compiled::Findings(sql) => {
                expressed.push(p.id.clone());
                direct.push(sql);
            }
            Compiled::Refused(why) => refused.push((p.id.clone(), format!("{}: {why}", p.kind))),
        }
    }
    let events = match (req.source, req.aws) {
        (SqlSource::Native, _) => native::events_view(d, req.inputs, &req.scope),
        (SqlSource::CloudTrailAthena, Some(aws)) => {
            let raw = cloudtrail::raw_view(d, one_table(req)?, &req.scope);
            cloudtrail::events_view(d, &raw, aws, &req.scope, false)
        }
        (SqlSource::Ocsf, Some(aws)) => {
            let raw = ocsf::raw_view(d, one_table(req)?, &req.scope);
            cloudtrail::events_view(d, &raw, aws, &req.scope, true)
        }
        (source, None) => anyhow::bail!(
            "--source {}: the AWS vocabulary was not given",
            source.as_str()
        ),
    };
    let query = format!(
        "WITH {events},\nregwatch_hits AS (\n{hits}\n)\n{findings}",
        hits = if selects.is_empty() {
            no_hits(d)
        } else {
            selects.join("\n  UNION ALL\n")
        },
        findings = findings(d, req.policies, &direct),
    );
    let mut text = header(req, &expressed, &refused, &skipped);
    text.push_str(&session_comment(d, req.input_tz));
    text.push_str(&query);
    text.push_str(";\n");
    let accepted = |c: &str| format!("CASE WHEN problem IS NULL THEN {c} END");
    Ok(SqlScript {
        text,
        settings: session(d, req.input_tz),
        query,
        rejects: format!(
            "WITH {events}\nSELECT source_file, source_line, problem, actor, action, resource\nFROM regwatch_events WHERE problem IS NOT NULL"
        ),
        counts: format!(
            "WITH {events}\nSELECT source_file, count(*) AS records, count(problem) AS rejected,\n  min({first}) AS first_ms, max({last}) AS last_ms\nFROM regwatch_events GROUP BY source_file",
            first = accepted("at_ms"),
            last = accepted("at_ms"),
        ),
        expressed,
        refused,
        skipped,
    })
}

/// The one table the CloudTrail and OCSF sources read.
fn one_table<'r>(req: &'r SqlRequest) -> Result<&'r str> {
    match req.inputs {
        [SqlInput::Table { from, .. }] => Ok(from),
        _ => anyhow::bail!(
            "--source {} reads one table (the Athena or Security Lake table), not files",
            req.source.as_str()
        ),
    }
}

/// The comment at the top: what the script is, what it expresses, refuses and skips.
fn header(
    req: &SqlRequest,
    expressed: &[String],
    refused: &[(String, String)],
    skipped: &[(String, String)],
) -> String {
    let mut h = format!(
        "-- regwatch sql --dialect {} --source {}: the enabled policies as one query whose\n\
         -- result is in the findings schema (GUIDE.md \"Outputs\"); read it back with\n\
         -- `regwatch audit --findings FILE` (CSV, JSON lines or Parquet).\n\
         -- Records regwatch would reject are left out of the findings; list them with\n\
         -- the same CTEs and `SELECT * FROM regwatch_events WHERE problem IS NOT NULL`.\n",
        req.dialect.as_str(),
        req.source.as_str(),
    );
    h.push_str(&format!(
        "-- Expressed ({}): {}\n",
        expressed.len(),
        expressed.join(", ")
    ));
    h.push_str(&match refused.len() {
        0 => "-- REFUSED (0): none\n".to_string(),
        n => format!("-- REFUSED ({n}): not in this script, their findings are missing:\n"),
    });
    for (id, why) in refused {
        h.push_str(&format!("--   {id} ({})\n", why.replace('\n', " ")));
    }
    for (id, why) in skipped {
        h.push_str(&format!("-- Not for this source: {id} ({why})\n"));
    }
    h
}

/// The session settings: local times without an offset are read in the input time zone;
/// on Spark, the recursion of `rate-limit` (one step per burst of the actor with the most)
/// is not capped (its default cap fails a query past 100 steps). Trino unrolls recursion
/// to a fixed depth, failing the query past it: a client sets it (see `session_comment`).
fn session(d: Dialect, tz: Tz) -> Vec<String> {
    let tz = d.quote(tz.name());
    match d {
        Dialect::Duckdb => vec![format!("SET TimeZone = {tz}")],
        // Spark's `SET key = value` keeps quotes in the value: `SET TIME ZONE` reads a literal.
        Dialect::Spark => vec![
            format!("SET TIME ZONE {tz}"),
            "SET spark.sql.cteRecursionLevelLimit = -1".to_string(),
            "SET spark.sql.cteRecursionRowLimit = -1".to_string(),
        ],
        Dialect::Trino => vec![format!("SET TIME ZONE {tz}")],
    }
}

/// The session settings as the script writes them (Trino's as a comment: a client runs
/// them on its own, and Athena has no such statement).
fn session_comment(d: Dialect, tz: Tz) -> String {
    match d {
        Dialect::Trino => format!(
            "-- In Trino, run first: {};\n\
             -- and, for rate-limit policies, SET SESSION max_recursion_depth = N (N more than\n\
             -- the most bursts one actor has; Athena's is 10):\n",
            session(d, tz).join("; ")
        ),
        Dialect::Duckdb | Dialect::Spark => {
            session(d, tz).iter().map(|s| format!("{s};\n")).collect()
        }
    }
}

/// An empty hits table when no policy could be expressed.
fn no_hits(d: Dialect) -> String {
    let t = d.text_type();
    format!(
        "  SELECT CAST(NULL AS {t}) AS policy, CAST(NULL AS {t}) AS grp, CAST(NULL AS {t}) AS change_id,
    CAST(NULL AS {t}) AS actor, CAST(NULL AS {t}) AS resource, CAST(NULL AS BIGINT) AS at_ms,
    CAST(NULL AS BIGINT) AS record_no, CAST(NULL AS {t}) AS source_file, CAST(NULL AS BIGINT) AS source_line, CAST(NULL AS {t}) AS detail,
    CAST(NULL AS BIGINT) AS kept
  FROM regwatch_events WHERE FALSE"
    )
}

/// The hits grouped into findings, one row each, in the findings schema's columns.
/// `direct`: SELECTs of whole findings (policy, first_ms, last_ms, change_id, actors,
/// resources, resource_count, evidence, event_count, detail), not grouped from hits.
fn findings(d: Dialect, all: &[Policy], direct: &[String]) -> String {
    let by_policy = |f: fn(&Policy) -> String| {
        let whens: Vec<String> = all
            .iter()
            .filter(|p| p.enabled)
            .map(|p| format!("WHEN {} THEN {}", d.quote(&p.id), d.quote(&f(p))))
            .collect();
        if whens.is_empty() {
            "''".to_string()
        } else {
            format!("CASE policy {} END", whens.join(" "))
        }
    };
    let place = d
        .concat(&[
            "source_file",
            "':'",
            "CAST(source_line AS VARCHAR)",
            "'@'",
            &d.rfc3339_of_millis("at_ms"),
        ])
        .replace("VARCHAR", d.text_type());
    format!(
        "SELECT policy,
  {severity} AS severity,
  {title} AS title,
  {first} AS first_at,
  {last} AS last_at,
  change_id, actors, resources, resource_count, evidence, event_count, detail
FROM (
SELECT policy,
  min(at_ms) AS first_ms,
  max(at_ms) AS last_ms,
  min_by(change_id, coalesce(record_no, at_ms)) AS change_id,
  {actors} AS actors,
  {resources} AS resources,
  count(DISTINCT CASE WHEN resource <> '' THEN resource END) AS resource_count,
  {evidence} AS evidence,
  count(*) AS event_count,
  min_by(detail, at_ms) AS detail
FROM (
  SELECT *,
    CASE WHEN source_file IS NULL OR source_line IS NULL THEN '' ELSE {place} END AS place,
    -- A finding lists its first {LISTED} actors, and first `kept` resources and events, in read order.
    dense_rank() OVER (PARTITION BY policy, grp ORDER BY first_actor, actor) AS actor_rank,
    dense_rank() OVER (PARTITION BY policy, grp ORDER BY first_resource, resource) AS resource_rank,
    row_number() OVER (PARTITION BY policy, grp ORDER BY coalesce(record_no, at_ms), at_ms) AS event_rank
  FROM (
    SELECT *,
      min(coalesce(record_no, at_ms)) OVER (PARTITION BY policy, grp, actor) AS first_actor,
      min(coalesce(record_no, at_ms)) OVER (PARTITION BY policy, grp, resource) AS first_resource
    FROM regwatch_hits
  ) AS firsts
) AS h
GROUP BY policy, grp{direct}
) AS f
ORDER BY policy, first_at, change_id",
        severity = by_policy(|p| format!("{:?}", p.severity).to_lowercase()),
        title = by_policy(|p| p.title.clone()),
        first = d.timestamp_of_millis("first_ms"),
        last = d.timestamp_of_millis("last_ms"),
        direct = direct
            .iter()
            .map(|s| format!("\nUNION ALL\n{s}"))
            .collect::<String>(),
        actors = d.distinct_list("actor", "actor_rank", &LISTED.to_string()),
        resources = d.distinct_list("resource", "resource_rank", "kept"),
        evidence = d.distinct_list("place", "event_rank", "kept"),
    )
}
