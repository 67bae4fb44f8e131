//! `--source cloudtrail-athena`: the table AWS documents for CloudTrail in Athena
//! (`cloudtrail_logs_pp`, "Create the table for CloudTrail logs in Athena using partition
//! projection": lower-case columns, `useridentity` and `resources` as structs,
//! `requestparameters`, `responseelements` and `additionaleventdata` as JSON text,
//! `readonly` as text, the day partition `timestamp` as `yyyy/MM/dd`), normalised as the
//! CloudTrail reader (src/audit/sources/cloudtrail.rs) maps a record: the same vocabulary
//! (mappings/audit-sources.toml, as CASE expressions generated from it), AI agents,
//! environments (regwatch.toml), outcome, one event per resource, and the `grants` facts
//! the script can compute. The OCSF source (`super::ocsf`) fills the same columns.

use std::collections::BTreeMap;

use super::dialect::Dialect;
use super::scope::Scope;
use crate::audit::event::Operation;
use crate::audit::policies::condition::Condition;
use crate::audit::sources::vocabulary::SourceMappings;
use crate::controls::Policy;

/// What maps AWS records: the source vocabulary and the accounts' environments.
#[derive(Clone, Copy)]
pub struct Aws<'a> {
    pub vocabulary: &'a SourceMappings,
    /// AWS account id → environment (`[audit] accounts` of regwatch.toml).
    pub accounts: &'a BTreeMap<String, String>,
}

/// Event names whose `grants` come from a policy document or a list of rules in
/// `requestParameters`, which the script does not parse: a policy testing `grants` that
/// could see one of them is refused.
pub const GRANTS_NOT_COMPUTED: &[&str] = &[
    "PutRolePolicy",
    "PutUserPolicy",
    "PutGroupPolicy",
    "CreatePolicy",
    "CreatePolicyVersion",
    "CreateRole",
    "UpdateAssumeRolePolicy",
    "PutBucketPolicy",
    "ModifySnapshotAttribute",
    "ModifyImageAttribute",
    "ModifyDBSnapshotAttribute",
    "ModifyDBClusterSnapshotAttribute",
    "AuthorizeSecurityGroupIngress",
];

/// Why `p` cannot be expressed on CloudTrail-shaped events: it tests `grants`, and its
/// `action` tests let through an event whose grants the script does not compute.
pub fn grants_refusal(p: &Policy) -> Option<String> {
    let field = |w: &toml::Value, name: &str| w.get("field").and_then(|f| f.as_str()) == Some(name);
    let reads_grants = p.kind == "wildcard-permission" || p.when.iter().any(|w| field(w, "grants"));
    if !reads_grants {
        return None;
    }
    // The `action` tests as a run reads them (a `when` a run refuses was refused
    // before this; were it not, every event would count as seen: refused).
    let when = Condition::parse(&p.when).ok();
    let passes = |name: &str| when.as_ref().is_none_or(|c| c.allows("action", name));
    let seen: Vec<&str> = GRANTS_NOT_COMPUTED
        .iter()
        .copied()
        .filter(|n| passes(n))
        .collect();
    (!seen.is_empty()).then(|| {
        format!(
            "it tests `grants`, which for {} comes from a policy document or rule list in requestParameters that this script does not parse yet",
            seen.join(", ")
        )
    })
}

/// The Athena table (or, for DuckDB, a Parquet file of it) as `regwatch_raw`: one row per
/// record with the CloudTrail fields the normalisation reads (see `events_view`).
pub fn raw_view(d: Dialect, input: &str, scope: &Scope) -> String {
    // DuckDB's JSON functions fail on text that is not JSON: such text counts as none.
    let json = |c: &str| match d {
        Dialect::Duckdb => format!("CASE WHEN json_valid({c}) THEN {c} END"),
        _ => c.to_string(),
    };
    let text = d.text_type();
    let arns = d.fields_of("resources", "arn");
    let first = format!("({})", d.item("resources", "1"));
    let instances = d.json_texts(
        &json("requestparameters"),
        "$.instancesSet.items",
        "instanceId",
    );
    let actor = "coalesce(useridentity.arn, useridentity.principalid, useridentity.invokedby)";
    let at = d.millis_of_text("eventtime");
    let account = "coalesce(recipientaccountid, useridentity.accountid)";
    // The day partition of AWS's partition-projection DDL: `timestamp`, as yyyy/MM/dd.
    // CloudTrail files an event under the day its log file is delivered, minutes later:
    // the day after the period is read too (the events' own time keeps the result
    // exact). The DDL has no account or region partition: those are tested on the
    // normalised events (`Scope::events`), which keeps the records a run rejects.
    let partitions = scope.utc_days().map(|(first, last)| {
        format!(
            "{ts} BETWEEN {} AND {}",
            d.quote(&first.format("%Y/%m/%d").to_string()),
            d.quote(&(last + chrono::Days::new(1)).format("%Y/%m/%d").to_string()),
            ts = d.ident("timestamp"),
        )
    });
    format!(
        "regwatch_raw AS (
  SELECT CAST(NULL AS {text}) AS source_file, CAST(NULL AS BIGINT) AS source_line,
    coalesce(eventid, {key}) AS key_base,
    {at} AS at_ms,
    CASE
      WHEN eventname IS NULL THEN 'eventName: is missing'
      WHEN eventtime IS NULL THEN 'eventTime: is missing'
      WHEN {at} IS NULL THEN 'eventTime: is not a time'
      WHEN useridentity IS NULL THEN 'userIdentity: is missing'
      WHEN {actor} IS NULL THEN 'userIdentity.arn: is missing'
    END AS problem,
    eventname AS event_name, eventsource AS event_source, awsregion AS region,
    {account} AS account, {actor} AS actor,
    useridentity.type AS identity_type, useridentity.username AS identity_user,
    useridentity.arn AS identity_arn, useragent AS user_agent, errorcode AS error_code,
    coalesce(lower(readonly) = 'true', FALSE) AS read_only,
    {params} AS params, {response} AS response,
    {mfa} AS mfa_used,
    {first}.arn AS first_arn, {first}.type AS first_type,
    CASE WHEN {arns_n} > 0 THEN {arns} ELSE {instances} END AS listed,
    CAST(NULL AS {text}) AS issuer, CAST(NULL AS INTEGER) AS activity
  FROM {table}{filter}
)",
        key = d.concat(&["eventtime", "'|'", actor, "'|'", "eventname"]),
        params = json("requestparameters"),
        response = json("responseelements"),
        mfa = d.json_text(&json("additionaleventdata"), "$.MFAUsed"),
        arns_n = d.length(&arns),
        table = table(d, input),
        filter = partitions
            .map(|p| format!("\n  WHERE {p}"))
            .unwrap_or_default(),
    )
}

/// The table `input` names; for DuckDB, a Parquet file (or glob) is read as one.
pub fn table(d: Dialect, input: &str) -> String {
    if d == Dialect::Duckdb && input.to_ascii_lowercase().ends_with(".parquet") {
        format!("read_parquet({})", d.quote(input))
    } else {
        input.to_string()
    }
}

/// `regwatch_raw` (from `raw_view` or the OCSF source) normalised into `regwatch_events`,
/// the columns every policy's SQL reads, as the CloudTrail reader maps a record. `ocsf`:
/// also what the OCSF reader adds (an assumed role's issuer; OCSF's activity for an
/// operation the vocabulary does not name).
pub fn events_view(d: Dialect, raw: &str, aws: Aws, scope: &Scope, ocsf: bool) -> String {
    let m = &aws.vocabulary.cloudtrail;
    let agents = &aws.vocabulary.agents;
    let any = |col: &str, pats: &[String]| -> String {
        let mut all: Vec<String> = pats.iter().map(|p| d.glob(col, p)).collect();
        all.push("FALSE".into());
        format!("({})", all.join(" OR "))
    };
    let ai = |col: &str| any(col, &agents.identity);
    let service = |col: &str| any(col, &agents.service_identity);
    let mut actor_type = format!(
        "CASE WHEN {} OR {} THEN 'ai_agent' WHEN {} THEN 'service'",
        ai("actor"),
        any("coalesce(user_agent, '')", &agents.user_agent),
        service("actor")
    );
    if ocsf {
        // An assumed role's session names its issuer: an agent's role is an agent.
        actor_type.push_str(&format!(
            " WHEN issuer IS NOT NULL AND {} THEN 'ai_agent' WHEN issuer IS NOT NULL AND {} THEN 'service'",
            ai("issuer"),
            service("issuer")
        ));
    }
    actor_type.push_str(" ELSE 'human' END");
    let mut keys: Vec<String> = vec!["first_arn".into()];
    keys.extend(
        m.resource_keys
            .iter()
            .map(|k| d.json_text("params", &json_path(k))),
    );
    keys.extend(["event_source".into(), "''".into()]);
    let environment = {
        let whens: Vec<String> = (aws.accounts.iter())
            .map(|(a, e)| format!("WHEN {} THEN {}", d.quote(a), d.quote(e)))
            .collect();
        if whens.is_empty() {
            "'unknown'".to_string()
        } else {
            format!(
                "CASE coalesce(account, '') {} ELSE 'unknown' END",
                whens.join(" ")
            )
        }
    };
    let mut operation = "CASE WHEN outcome <> 'success' OR read_only THEN 'read'".to_string();
    if ocsf && Operation::parse(&m.otherwise).is_some_and(|o| o.changes()) {
        // An operation the vocabulary does not name takes OCSF's activity.
        operation.push_str(
            " WHEN vocabulary_op IS NULL AND activity = 1 THEN 'create' WHEN vocabulary_op IS NULL AND activity = 3 THEN 'update' WHEN vocabulary_op IS NULL AND activity = 4 THEN 'delete'",
        );
    }
    operation.push_str(&format!(
        " ELSE coalesce(vocabulary_op, {}) END",
        d.quote(&m.otherwise)
    ));
    let service_call = d.concat(&[
        &format!(
            "regexp_replace(coalesce(event_source, ''), {}, '')",
            d.quote("\\.amazonaws\\.com$")
        ),
        "':'",
        "event_name",
    ]);
    // A console sign-in that failed says so in its response, not with an error code.
    let sign_in = d.json_text("response", "$.ConsoleLogin");
    let normalised = format!(
        "  SELECT c.source_file, c.source_line,
    c.at_ms * 1000 + least(pos, 999) AS record_no,
    -- A record's events are one event's: their per-event findings are one.
    c.key_base AS event_key,
    c.at_ms, coalesce(c.actor, '') AS actor,
    CASE WHEN c.actor_type = 'ai_agent' THEN coalesce(c.user_agent, '') ELSE '' END AS agent,
    coalesce(c.event_name, '') AS action,
    CASE WHEN pos = 1 THEN c.first_resource ELSE {nth} END AS resource,
    coalesce(c.first_type, c.event_source, '') AS resource_type,
    c.environment, c.account, c.region,
    '' AS change_id, '' AS approved_by, c.outcome, c.grants,
    c.actor_type, c.operation, '' AS approver_type, CAST(NULL AS BIGINT) AS approved_at_ms,
    CASE WHEN c.is_dry THEN 'true' ELSE 'false' END AS dry_run,
    'false' AS prompt_ref, 'false' AS tool_call_ref, c.also_permission_change, c.problem
  FROM {each}",
        nth = d.item("c.listed", "pos"),
        each = d.each_position("regwatch_ct", "c", "listed"),
    );
    format!(
        "{raw},
regwatch_outcomes AS (
  SELECT *,
    CASE WHEN is_dry THEN 'success'
      WHEN error LIKE '%AccessDenied%' OR error LIKE '%Unauthorized%' THEN 'denied'
      WHEN error <> '' OR coalesce({sign_in} = 'Failure', FALSE) THEN 'failure'
      ELSE 'success' END AS outcome,
    {vocabulary} AS vocabulary_op,
    {actor_type} AS actor_type,
    coalesce({keys}) AS first_resource
  FROM (SELECT *, coalesce(error_code, '') AS error,
          strpos(coalesce(error_code, ''), 'DryRunOperation') > 0 AS is_dry
        FROM regwatch_raw) AS r
),
regwatch_operations AS (
  SELECT *, {operation} AS operation FROM regwatch_outcomes
),
regwatch_ct AS (
  SELECT source_file, source_line, key_base, at_ms, problem, event_name, event_source,
    coalesce(region, '') AS region, coalesce(account, '') AS account,
    {environment} AS environment,
    actor, actor_type, user_agent, first_type, first_resource, listed, is_dry,
    outcome, operation,
    CASE WHEN outcome = 'success' THEN {grants} ELSE '' END AS grants,
    CASE WHEN operation = 'delete' AND {permission_delete} THEN 'true' ELSE 'false' END AS also_permission_change
  FROM regwatch_operations
),
regwatch_events AS (
{events}
)",
        vocabulary = vocabulary_case(d, aws.vocabulary),
        keys = keys.join(", "),
        grants = grants(d),
        permission_delete = any(&service_call, &m.permission_deletes),
        events = scope.events(d, &normalised),
    )
}

/// A JSON pointer of the vocabulary (`/instancesSet/items/0/instanceId`) as a JSON path
/// (`$.instancesSet.items[0].instanceId`).
fn json_path(pointer: &str) -> String {
    let mut path = "$".to_string();
    for part in pointer.split('/').filter(|p| !p.is_empty()) {
        if part.bytes().all(|b| b.is_ascii_digit()) {
            path.push_str(&format!("[{part}]"));
        } else {
            path.push('.');
            path.push_str(part);
        }
    }
    path
}

/// The operation the vocabulary names for `event_name` (NULL: none, `otherwise` applies):
/// exact names first, then the prefixes in order, as the reader looks them up.
fn vocabulary_case(d: Dialect, v: &SourceMappings) -> String {
    let m = &v.cloudtrail;
    let mut by_op: BTreeMap<&str, Vec<String>> = BTreeMap::new();
    for (name, op) in &m.events {
        by_op.entry(op.as_str()).or_default().push(name.clone());
    }
    let mut whens: Vec<String> = by_op
        .iter()
        .map(|(op, names)| {
            format!(
                "WHEN {} THEN {}",
                d.one_of("event_name", names),
                d.quote(op)
            )
        })
        .collect();
    whens.extend(m.prefixes.iter().map(|(prefix, op)| {
        format!(
            "WHEN substr(event_name, 1, {}) = {} THEN {}",
            prefix.len(),
            d.quote(prefix),
            d.quote(op)
        )
    }));
    format!("CASE {} END", whens.join("\n      "))
}

/// The `grants` facts of a successful call that the script computes (the reader's
/// `cloudtrail_facts`, less what `GRANTS_NOT_COMPUTED` names): a managed policy attached,
/// a Lambda permission or bucket ACL opened, credentials made for another user, a secret
/// read, a console sign-in without MFA; joined with `,`.
fn grants(d: Dialect) -> String {
    let object = "coalesce(ltrim(params) LIKE '{%', FALSE)";
    let field = |k: &str| d.json_text("params", &format!("$.{k}"));
    let principal = field("principal");
    let principal_account = format!(
        "CASE WHEN {principal} IN ('*', 'all') THEN '*' WHEN {twelve} THEN {principal} WHEN {principal} LIKE 'arn:aws%' THEN nullif(split_part({principal}, ':', 5), '') END",
        twelve = d.regex_full(&principal, "[0-9]{12}"),
    );
    let share = format!(
        "CASE WHEN {a} = '*' THEN 'shared:public' WHEN {a} <> coalesce(account, '') THEN {shared} END",
        a = principal_account,
        shared = d.concat(&["'shared:'", &principal_account]),
    );
    let user = field("userName");
    let caller = format!(
        "CASE WHEN identity_type = 'IAMUser' THEN coalesce(identity_user, {}) END",
        d.last_part("identity_arn", "/")
    );
    let public_acl = [
        "AllUsers",
        "AuthenticatedUsers",
        "public-read",
        "authenticated-read",
    ]
    .iter()
    .map(|w| format!("params LIKE '%{w}%'"))
    .collect::<Vec<_>>()
    .join(" OR ");
    let items = [
        format!(
            "CASE WHEN {object} AND substr(event_name, 1, 6) = 'Attach' THEN {} END",
            d.last_part(&field("policyArn"), "/")
        ),
        format!("CASE WHEN {object} AND substr(event_name, 1, 13) = 'AddPermission' THEN {share} END"),
        format!("CASE WHEN {object} AND event_name = 'PutBucketAcl' AND ({public_acl}) THEN 'shared:public' END"),
        format!(
            "CASE WHEN {object} AND event_name IN ('CreateAccessKey', 'CreateLoginProfile', 'UpdateLoginProfile') AND {user} IS NOT NULL AND ({caller} IS NULL OR {user} <> {caller}) THEN {} END",
            d.concat(&["'for-user:'", &user])
        ),
        format!(
            "CASE WHEN event_name IN ('GetSecretValue', 'BatchGetSecretValue') OR (event_name IN ('GetParameter', 'GetParameters', 'GetParametersByPath') AND {}) THEN 'secret' END",
            d.json_true("params", "$.withDecryption")
        ),
        "CASE WHEN event_name = 'ConsoleLogin' AND mfa_used = 'No' THEN 'no-mfa' END".to_string(),
    ];
    format!("concat_ws(',',\n      {})", items.join(",\n      "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pointers_become_json_paths() {
        assert_eq!(json_path("/bucketName"), "$.bucketName");
        assert_eq!(
            json_path("/instancesSet/items/0/instanceId"),
            "$.instancesSet.items[0].instanceId"
        );
    }
}
