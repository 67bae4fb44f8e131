//! Each policy kind as SQL over the normalised events (`regwatch_events`): the rows that
//! are its hits (policy, grp, change_id, actor, resource, at_ms, record_no, source_file,
//! source_line, detail, kept: how many resources and events the finding lists), which the
//! findings are grouped from. A kind that needs what
//! these rows cannot say yet is refused with the reason, never dropped.

use anyhow::Result;
use chrono::NaiveDate;
use chrono_tz::Tz;

use super::dialect::{Dialect, LIKE_ESCAPE};
use super::rate_limit::{bursts, Limit};
use crate::audit::policies::change_freeze::ChangeFreeze;
use crate::audit::policies::params::{time_of_day, Params};
use crate::controls::Policy;

/// The most actors, resources and evidence entries a finding lists (as a native run).
pub const LISTED: usize = 20;

/// A policy as SQL, or why it cannot be (yet).
pub enum Compiled {
    /// A SELECT of hit rows.
    Hits(String),
    /// A SELECT of whole findings (see `super::findings`).
    Findings(String),
    Refused(String),
}

/// The events that changed something (not a read, plan or approval, not a dry run).
const APPLIED: &str = "operation NOT IN ('read', 'plan', 'approve') AND dry_run = 'false'";

/// The hit rows of `p` (times without an offset in `tz`, as a run reads them), whose parameters `audit::policies::compile` has already checked.
pub fn compile(d: Dialect, p: &Policy, tz: Tz, holidays: &[NaiveDate]) -> Result<Compiled> {
    let params = Params { policy: p };
    let prod = params.strings("production_environments", &["prod", "production"])?;
    let in_prod = d.one_of("environment", &prod);
    let hits = |group: &str, detail: String, cond: String| {
        Compiled::Hits(select(d, p, group, &detail, &cond))
    };
    Ok(match p.kind.as_str() {
        "self-approval" => Compiled::Hits(format!(
            "{}\n  UNION ALL\n{}",
            select(
                d,
                p,
                "change_id",
                &d.concat(&["actor", "' approved their own change'"]),
                "approved_by <> '' AND lower(approved_by) = lower(actor)",
            ),
            approvals_by_an_applier(d, p),
        )),
        "ai-approving-ai" => hits(
            "change_id",
            d.concat(&[
                "'AI agent '",
                "CASE WHEN operation = 'approve' THEN actor ELSE approved_by END",
                "' approved a production change'",
            ]),
            format!(
                "(approver_type = 'ai_agent' OR (operation = 'approve' AND actor_type = 'ai_agent')) AND {in_prod}"
            ),
        ),
        "change-freeze" => {
            let parsed = ChangeFreeze::parse(&params, tz)?;
            let freezes = parsed.freezes();
            if freezes.is_empty() {
                return Ok(Compiled::Refused("it declares no freeze".into()));
            }
            let inside: Vec<String> = freezes
                .iter()
                .map(|(name, s, e)| {
                    format!("WHEN at_ms >= {s} AND at_ms < {e} THEN {}", d.quote(name))
                })
                .collect();
            let name = format!("CASE {} END", inside.join(" "));
            hits(
                "change_id",
                d.concat(&[
                    "actor",
                    "' made a production '",
                    "operation",
                    "' inside the change freeze '",
                    &name,
                ]),
                format!("{APPLIED} AND {in_prod} AND {name} IS NOT NULL"),
            )
        }
        "logging-tamper" => {
            let actions = params.strings("actions", &["StopLogging", "DeleteTrail", "UpdateTrail"])?;
            let patterns = params.strings("resource_patterns", &["*audit-policy*"])?;
            let mut by_resource: Vec<String> =
                patterns.iter().map(|g| d.glob("resource", g)).collect();
            by_resource.push("FALSE".into());
            hits(
                "''",
                d.concat(&[
                    "actor",
                    "' ran \"'",
                    "action",
                    "'\" on '",
                    "resource",
                    "': the audit trail itself was changed'",
                ]),
                format!(
                    "dry_run = 'false' AND outcome NOT IN ('failure', 'denied') AND ({} OR (operation NOT IN ('read', 'plan', 'approve') AND ({})))",
                    d.one_of("action", &actions),
                    by_resource.join(" OR ")
                ),
            )
        }
        "wildcard-permission" => {
            let named = params.strings("grants", &["*", "*:*", "AdministratorAccess", "cluster-admin"])?;
            // The grants as `,a,b,` so that each grant is found whole by LIKE.
            let padded = d.concat(&["','", "translate(grants, '; ', ',,')", "','"]);
            let mut any = vec![
                format!("{padded} LIKE '%,*,%'"),
                format!("{padded} LIKE '%:*,%'"),
            ];
            for g in &named {
                let mut escaped = String::new();
                for c in g.chars() {
                    if matches!(c, '%' | '_' | LIKE_ESCAPE) {
                        escaped.push(LIKE_ESCAPE);
                    }
                    escaped.push(c);
                }
                any.push(format!(
                    "{padded} LIKE {} ESCAPE '{LIKE_ESCAPE}'",
                    d.quote(&format!("%,{escaped},%"))
                ));
            }
            hits(
                "change_id",
                d.concat(&["actor", "' granted \"'", "grants", "'\" on '", "resource"]),
                format!(
                    "operation = 'permission_change' AND grants <> '' AND ({})",
                    any.join(" OR ")
                ),
            )
        }
        "blast-radius" => Compiled::Hits(blast_radius(d, p, &params)?),
        "rate-limit" => rate_limit(d, p, &params)?,
        "time-gap" => Compiled::Findings(time_gap(d, p, &params)?),
        "time-fence" => Compiled::Hits(out_of_hours(d, p, &params, tz, holidays, &in_prod)?),
        "no-plan" => Compiled::Hits(no_plan(d, p, &params, &in_prod)?),
        "destructive-without-approval" => Compiled::Hits(unapproved_destruction(d, p, &params, &in_prod)?),
        "missing-provenance" => {
            let exempt: Vec<String> = params
                .operations("exempt_operations", &[])?
                .iter()
                .map(|o| o.as_str().to_string())
                .collect();
            let missing = "CASE WHEN prompt_ref = 'false' AND tool_call_ref = 'false' THEN 'prompt and tool call' WHEN prompt_ref = 'false' THEN 'prompt' ELSE 'tool call' END";
            let day = format!("substr({}, 1, 10)", d.rfc3339_of_millis("at_ms"));
            hits(
                &d.concat(&["actor", "':'", &day, "':'", missing]),
                d.concat(&["'AI agent '", "actor", "' acted on '", &day, "' with no logged '", missing]),
                format!(
                    "actor_type = 'ai_agent' AND NOT ({}) AND NOT (prompt_ref = 'true' AND tool_call_ref = 'true')",
                    d.one_of("operation", &exempt)
                ),
            )
        }
        "cross-environment" => Compiled::Hits(cross_environment(d, p, &params, &in_prod)?),
        "condition" => match condition(d, &p.when) {
            Ok(cond) => hits(
                "change_id",
                d.concat(&["actor", "' '", "action", "' on '", "resource"]),
                cond,
            ),
            Err(reason) => Compiled::Refused(reason),
        },
        other => Compiled::Refused(refusal(other).to_string()),
    })
}

/// Why a kind is not expressed yet.
fn refusal(kind: &str) -> &'static str {
    match kind {
        "sigma" => "a Sigma rule matches the raw record, which the native columns do not keep",
        _ => "not a kind this command knows",
    }
}

/// One policy's hit rows: `cond` over the readable events. Events whose `group` is empty
/// are each their own finding, as in a run.
fn select(d: Dialect, p: &Policy, group: &str, detail: &str, cond: &str) -> String {
    format!(
        "  SELECT {id} AS policy,
    CASE WHEN {group} = '' THEN event_key ELSE {group} END AS grp,
    change_id, actor, resource, at_ms, record_no, source_file, source_line, {detail} AS detail,
    {LISTED} AS kept
  FROM regwatch_events
  WHERE problem IS NULL AND {cond}",
        id = d.quote(&p.id),
    )
}

/// The changing events of each change (or, without a change id, each actor's window) that
/// went over a limit: GROUP BY change HAVING, joined back to its events. A finding lists
/// its first 5 resources and events, as a run's change history keeps them.
fn blast_radius(d: Dialect, p: &Policy, params: &Params) -> Result<String> {
    let max_resources = params.int("max_resources", 50)?;
    let window_ms = params.minutes("window_minutes", 60)?.max(60_000);
    let (accounts, regions, environments) = (
        params.int("max_accounts", 1)?,
        params.int("max_regions", 1)?,
        params.int("max_environments", 1)?,
    );
    let text = d.text_type();
    let window = format!("CAST(CAST(floor(at_ms / {window_ms}.0) AS BIGINT) AS {text})");
    let keyed = format!(
        "(SELECT *, CASE WHEN change_id <> '' THEN change_id ELSE {key} END AS grp
       FROM regwatch_events WHERE problem IS NULL AND {APPLIED})",
        key = d.concat(&["actor", "'@'", &window]),
    );
    let distinct = |c: &str, cond: &str| format!("count(DISTINCT CASE WHEN {cond} THEN {c} END)");
    Ok(format!(
        "  SELECT {id} AS policy, e.grp, e.change_id, e.actor, e.resource, e.at_ms, e.record_no,
    e.source_file, e.source_line, o.detail, 5 AS kept
  FROM {keyed} e
  JOIN (
    SELECT grp, {detail} AS detail
    FROM {keyed} k
    GROUP BY grp
    HAVING {resources} > {max_resources} OR {accounts_n} > {accounts}
      OR {regions_n} > {regions} OR {environments_n} > {environments}
  ) o ON e.grp = o.grp",
        id = d.quote(&p.id),
        detail = d.concat(&[
            "CASE WHEN min(change_id) <> '' THEN concat('Change ', grp) ELSE concat(min(actor), ' within one window') END",
            "' touched more resources, accounts, regions or environments than allowed'",
        ]),
        resources = distinct("resource", "resource <> ''"),
        accounts_n = distinct("account", "account <> '' AND account NOT LIKE 'k8s:%'"),
        regions_n = distinct("region", "region <> ''"),
        environments_n = distinct("environment", "environment <> ''"),
    ))
}

/// Bursts of more than `max_changes` counted events by one actor within `window_minutes`
/// (see `rate_limit`). Counted: an AI agent's changes, or with a `when`, any actor's events
/// meeting it.
fn rate_limit(d: Dialect, p: &Policy, params: &Params) -> Result<Compiled> {
    let counted = if p.when.is_empty() {
        format!("{APPLIED} AND actor_type = 'ai_agent'")
    } else {
        match condition(d, &p.when) {
            Ok(c) => c,
            Err(reason) => return Ok(Compiled::Refused(reason)),
        }
    };
    let what = match (
        p.when.is_empty(),
        params.get("counting").and_then(|v| v.as_str()),
    ) {
        (true, _) => "changes",
        (false, Some(c)) => c,
        (false, None) => "events meeting the policy",
    };
    Ok(Compiled::Hits(bursts(
        d,
        &Limit {
            id: &d.quote(&p.id),
            counted: &counted,
            max: params.int("max_changes", 30)?,
            window_ms: params.minutes("window_minutes", 10)?.max(60_000),
            what,
            kept: LISTED,
        },
    )))
}

/// Gaps longer than `max_gap_minutes` between the minutes with events of a stream (an
/// account and region): LAG per stream. A gap counts no event; its evidence is the
/// stream's first event, its resource the stream.
fn time_gap(d: Dialect, p: &Policy, params: &Params) -> Result<String> {
    let max_gap_ms = params.minutes("max_gap_minutes", 120)?.max(60_000);
    let text = d.text_type();
    let name = format!(
        "CASE WHEN g.region = '' THEN g.account ELSE {} END",
        d.concat(&["g.account", "' '", "g.region"])
    );
    let place = format!(
        "CASE WHEN f.source_file IS NULL OR f.source_line IS NULL THEN {} ELSE {} END",
        d.list_of(&[]),
        d.list_of(&[&d.concat(&[
            "f.source_file",
            "':'",
            &format!("CAST(f.source_line AS {text})"),
            "'@'",
            &d.rfc3339_of_millis("f.at_ms"),
        ])])
    );
    let streams = "FROM regwatch_events WHERE problem IS NULL AND account <> ''";
    Ok(format!(
        "SELECT {id} AS policy, g.prev * 60000 AS first_ms, g.minute * 60000 AS last_ms,
  '' AS change_id, {no_actors} AS actors, {resources} AS resources,
  CAST(1 AS BIGINT) AS resource_count, {place} AS evidence, CAST(0 AS BIGINT) AS event_count,
  {detail} AS detail
FROM (
  SELECT account, region, minute, LAG(minute) OVER (PARTITION BY account, region ORDER BY minute) AS prev
  FROM (SELECT DISTINCT account, region, CAST(floor(at_ms / 60000.0) AS BIGINT) AS minute {streams}) AS m
) AS g
JOIN (
  SELECT account, region, source_file, source_line, at_ms
  FROM (SELECT *, row_number() OVER (PARTITION BY account, region ORDER BY coalesce(record_no, at_ms), at_ms) AS nth {streams}) AS n
  WHERE nth = 1
) AS f ON f.account = g.account AND f.region = g.region
WHERE (g.minute - g.prev) * 60000 > {max_gap_ms}",
        id = d.quote(&p.id),
        no_actors = d.list_of(&[]),
        resources = d.list_of(&[&name]),
        detail = d.concat(&[
            "'No events from '",
            &name,
            "' between '",
            &d.rfc3339_of_millis("g.prev * 60000"),
            "' and '",
            &d.rfc3339_of_millis("g.minute * 60000"),
        ]),
    ))
}

/// A destructive event: not a dry run; a destructive operation, or a change whose action
/// has a destructive word in it (any case).
fn destructive(d: Dialect, params: &Params) -> Result<String> {
    let operations: Vec<String> = params
        .operations("destructive_operations", &["delete"])?
        .iter()
        .map(|o| o.as_str().to_string())
        .collect();
    let words = params.strings(
        "destructive_actions",
        &["drop", "truncate", "terminate", "wipe", "destroy", "purge"],
    )?;
    let mut by_action: Vec<String> = words.iter().map(|w| d.contains("action", w)).collect();
    by_action.push("FALSE".into());
    Ok(format!(
        "dry_run = 'false' AND ({} OR ({APPLIED} AND ({})))",
        d.one_of("operation", &operations),
        by_action.join(" OR ")
    ))
}

/// A destructive production event outside working hours (in the policy's time zone),
/// on a weekend or on a bank holiday.
fn out_of_hours(
    d: Dialect,
    p: &Policy,
    params: &Params,
    display_tz: Tz,
    holidays: &[NaiveDate],
    in_prod: &str,
) -> Result<String> {
    let tz = params.text("timezone", display_tz.name())?;
    let start = time_of_day(&params.text("start", "09:00")?, "start")?;
    let end = time_of_day(&params.text("end", "17:30")?, "end")?;
    let [date, time, weekday] = d.local_parts("at_ms", &tz);
    let days: Vec<String> = holidays.iter().map(|h| h.to_string()).collect();
    let holiday = d.one_of(&date, &days);
    let hhmm = |t: chrono::NaiveTime| t.format("%H:%M").to_string();
    let why = format!(
        "CASE WHEN {holiday} THEN 'on a bank holiday' WHEN {weekday} >= 6 THEN 'on a weekend day' ELSE {} END",
        d.concat(&["'at '", &time, &d.quote(&format!(" local time, outside {}–{}", hhmm(start), hhmm(end)))])
    );
    Ok(select(
        d,
        p,
        "change_id",
        &d.concat(&[
            "actor",
            "' ran \"'",
            "action",
            "'\" on '",
            "resource",
            "' in production '",
            &why,
        ]),
        &format!(
            "{in_prod} AND {} AND ({weekday} >= 6 OR {holiday} OR {time} < {} OR {time} >= {})",
            destructive(d, params)?,
            d.quote(&hhmm(start)),
            d.quote(&hhmm(end)),
        ),
    ))
}

/// An AI agent's destructive production event with no approval by another person: not on
/// the event (given at or before it), and no approve event of its change at or before it.
fn unapproved_destruction(
    d: Dialect,
    p: &Policy,
    params: &Params,
    in_prod: &str,
) -> Result<String> {
    Ok(format!(
        "  SELECT {id} AS policy, CASE WHEN change_id = '' THEN event_key ELSE change_id END AS grp,
    change_id, actor, resource, at_ms, record_no, source_file, source_line,
    {detail} AS detail, {LISTED} AS kept
  FROM regwatch_events e
  WHERE problem IS NULL AND actor_type = 'ai_agent' AND {in_prod} AND {destructive}
    AND NOT (approver_type = 'human' AND approved_by <> '' AND lower(approved_by) <> lower(actor)
             AND (approved_at_ms IS NULL OR approved_at_ms <= at_ms))
    AND NOT EXISTS (SELECT 1 FROM regwatch_events a
                    WHERE a.problem IS NULL AND e.change_id <> '' AND a.change_id = e.change_id
                      AND a.operation = 'approve' AND a.actor_type = 'human'
                      AND a.actor <> e.actor AND a.at_ms <= e.at_ms)",
        id = d.quote(&p.id),
        destructive = destructive(d, params)?,
        detail = d.concat(&[
            "'AI agent '",
            "actor",
            "' ran \"'",
            "action",
            "'\" on '",
            "resource",
            "' in '",
            "environment",
            "' with no human approval before it'",
        ]),
    ))
}

/// A change first applied to production (its first changing event there, by time) with no
/// plan or dry run of it at or before; and an AI agent's production apply with no change
/// id, one finding per agent and UTC day.
fn no_plan(d: Dialect, p: &Policy, params: &Params, in_prod: &str) -> Result<String> {
    let applying: Vec<String> = params
        .operations(
            "applying_operations",
            &["create", "update", "delete", "deploy"],
        )?
        .iter()
        .map(|o| o.as_str().to_string())
        .collect();
    let text = d.text_type();
    let day = format!("CAST(CAST(floor(at_ms / 86400000.0) AS BIGINT) AS {text})");
    let without_change = select(
        d,
        p,
        &d.concat(&["actor", "':'", &day]),
        &d.concat(&[
            "'AI agent '",
            "actor",
            "' changed production with no change id, so no plan can precede it'",
        ]),
        &format!(
            "change_id = '' AND actor_type = 'ai_agent' AND {in_prod} AND dry_run = 'false' AND {}",
            d.one_of("operation", &applying)
        ),
    );
    Ok(format!(
        "  SELECT {id} AS policy, c.change_id AS grp, c.change_id, c.actor, '' AS resource, c.at_ms,
    c.record_no, c.source_file, c.source_line, {detail} AS detail, {LISTED} AS kept
  FROM (
    SELECT *, row_number() OVER (PARTITION BY change_id ORDER BY at_ms, coalesce(record_no, at_ms)) AS nth
    FROM regwatch_events
    WHERE problem IS NULL AND change_id <> '' AND {APPLIED} AND {in_prod}
  ) AS c
  WHERE c.nth = 1
    AND NOT EXISTS (SELECT 1 FROM regwatch_events pl
                    WHERE pl.problem IS NULL AND pl.change_id = c.change_id
                      AND (pl.operation = 'plan' OR pl.dry_run = 'true') AND pl.at_ms <= c.at_ms)
  UNION ALL
{without_change}",
        id = d.quote(&p.id),
        detail = d.concat(&[
            "'Change '",
            "c.change_id",
            "' was applied to production by '",
            "c.actor",
            "' with no plan or dry run before it'",
        ]),
    ))
}

/// Each watched identity's first event in production and first elsewhere, when it has
/// both (an environment of `unknown` or none is neither).
fn cross_environment(d: Dialect, p: &Policy, params: &Params, in_prod: &str) -> Result<String> {
    let types = params.strings("actor_types", &["ai_agent", "service"])?;
    Ok(format!(
        "  SELECT {id} AS policy, actor AS grp, '' AS change_id, actor, '' AS resource, at_ms,
    record_no, source_file, source_line,
    {detail} AS detail, {LISTED} AS kept
  FROM (
    SELECT *,
      row_number() OVER (PARTITION BY actor, in_prod ORDER BY coalesce(record_no, at_ms), at_ms) AS nth,
      min(in_prod) OVER (PARTITION BY actor) AS some_other,
      max(in_prod) OVER (PARTITION BY actor) AS some_prod
    FROM (SELECT *, CASE WHEN {in_prod} THEN 1 ELSE 0 END AS in_prod FROM regwatch_events
          WHERE problem IS NULL AND {types} AND environment NOT IN ('', 'unknown')) AS w
  ) AS firsts
  WHERE nth = 1 AND some_other = 0 AND some_prod = 1",
        id = d.quote(&p.id),
        types = d.one_of("actor_type", &types),
        detail = d.concat(&["actor", "' acted in production and in another environment with the same identity'"]),
    ))
}

/// Approvals of a change by someone who applied it (the history half of self-approval).
fn approvals_by_an_applier(d: Dialect, p: &Policy) -> String {
    format!(
        "  SELECT {id} AS policy, a.change_id AS grp, a.change_id, a.actor, '' AS resource,
    a.at_ms, a.record_no, a.source_file, a.source_line,
    {detail} AS detail, {LISTED} AS kept
  FROM regwatch_events a
  WHERE a.problem IS NULL AND a.operation = 'approve' AND a.change_id <> ''
    AND EXISTS (SELECT 1 FROM regwatch_events b
                WHERE b.problem IS NULL AND b.change_id = a.change_id
                  AND b.operation NOT IN ('read', 'plan', 'approve') AND b.dry_run = 'false'
                  AND lower(b.actor) = lower(a.actor))",
        id = d.quote(&p.id),
        detail = d.concat(&["a.actor", "' approved their own change '", "a.change_id"]),
    )
}

/// A `condition` policy's `when` as a WHERE clause (every entry must hold), or why not.
fn condition(d: Dialect, when: &[toml::Value]) -> Result<String, String> {
    let mut parts = Vec::new();
    for w in when {
        let t = w.as_table().ok_or("a `when` entry is not a table")?;
        let field = t
            .get("field")
            .and_then(|f| f.as_str())
            .ok_or("a `when` entry has no field")?;
        let texts = |v: &toml::Value| -> Result<Vec<String>, String> {
            v.as_array()
                .ok_or(format!("`when` {field}: not a list"))?
                .iter()
                .map(|s| {
                    s.as_str()
                        .map(str::to_string)
                        .ok_or(format!("`when` {field}: not text"))
                })
                .collect()
        };
        // The normalised events have a text column for each testable native field.
        let test = |col: &str| -> Result<String, String> {
            Ok(if let Some(x) = t.get("is") {
                let v = match x {
                    toml::Value::String(s) => s.clone(),
                    toml::Value::Boolean(b) => b.to_string(),
                    _ => return Err(format!("`when` {field}: `is` is not text")),
                };
                format!("{col} = {}", d.quote(&v))
            } else if let Some(x) = t.get("in") {
                d.one_of(col, &texts(x)?)
            } else if let Some(x) = t.get("not_in") {
                format!("NOT ({})", d.one_of(col, &texts(x)?))
            } else if let Some(x) = t.get("present") {
                let present = x.as_bool().ok_or("`present` is not true or false")?;
                let blank = format!("trim({col}) = ''");
                if present {
                    format!("NOT ({blank})")
                } else {
                    blank
                }
            } else if let Some(x) = t.get("matches") {
                d.glob(col, x.as_str().ok_or("`matches` is not text")?)
            } else if let Some(x) = t.get("not_matches") {
                format!(
                    "NOT ({})",
                    d.glob(col, x.as_str().ok_or("`not_matches` is not text")?)
                )
            } else {
                return Err(format!("`when` {field}: no test this command knows"));
            })
        };
        let part = test(field)?;
        parts.push(if field == "operation" {
            let excludes = t.get("not_in").is_some() || t.get("not_matches").is_some();
            also_a_permission_change(&part, &test("'permission_change'")?, excludes)
        } else {
            part
        });
    }
    if parts.is_empty() {
        parts.push("TRUE".into());
    }
    Ok(parts.join(" AND "))
}

/// An `operation` test as a run applies it: a delete that is also a permission change
/// (CloudTrail's `iam:Delete*`...) is either, so a test looking for an operation finds it
/// under either name, and one that excludes, under neither.
fn also_a_permission_change(test: &str, as_permission: &str, excludes: bool) -> String {
    if excludes {
        format!("({test} AND (also_permission_change = 'false' OR {as_permission}))")
    } else {
        format!("({test} OR (also_permission_change = 'true' AND {as_permission}))")
    }
}
