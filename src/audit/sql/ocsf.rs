//! `--source ocsf`: Amazon Security Lake's OCSF 1.x table of CloudTrail management
//! events (API Activity, class_uid 6003: `api.operation`, `actor.user.uid`,
//! `cloud.account.uid`, `cloud.region`, `time` in milliseconds, `api.response.error`,
//! `api.request.data` as JSON text, `unmapped` as a map of text; partitioned by `region`,
//! `accountid` and `eventday` as `yyyyMMdd`), mapped back to the CloudTrail fields as the
//! OCSF reader does (src/audit/sources/ocsf.rs), then normalised as CloudTrail
//! (`super::cloudtrail::events_view`). Records of other classes are kept out of the
//! findings with `problem` saying `skipped: OCSF class ...`, so they can be counted.

use super::cloudtrail::table;
use super::dialect::Dialect;
use super::scope::Scope;

/// Security Lake's table (or, for DuckDB, a Parquet file of it) as `regwatch_raw`.
pub fn raw_view(d: Dialect, input: &str, scope: &Scope) -> String {
    let text = d.text_type();
    // As text: a typed column (a UUID, a number) reads as its text.
    let s = |c: &str| format!("nullif(CAST({c} AS {text}), '')");
    let actor = format!(
        "coalesce({}, {}, {})",
        s("actor.user.uid"),
        s("actor.user.name"),
        s("actor.session.issuer")
    );
    let service = s("api.service.name");
    // Security Lake's CloudTrail mapping names a resource by its `uid` (the ARN).
    let named = format!(
        "{}({}, r -> r.uid IS NOT NULL)",
        match d {
            Dialect::Duckdb => "list_filter",
            Dialect::Trino | Dialect::Spark => "filter",
        },
        "resources"
    )
    .replace(
        "r -> ",
        if d == Dialect::Duckdb {
            "lambda r: "
        } else {
            "r -> "
        },
    );
    let first = format!("({})", d.item(&named, "1"));
    let names = match d {
        Dialect::Duckdb => format!("list_transform({named}, lambda r: CAST(r.uid AS {text}))"),
        Dialect::Trino | Dialect::Spark => {
            format!("transform({named}, r -> CAST(r.uid AS {text}))")
        }
    };
    let partitions = scope.predicates(d, "accountid", "region", |first, last| {
        format!(
            "eventday BETWEEN {} AND {}",
            d.quote(&first.format("%Y%m%d").to_string()),
            d.quote(&last.format("%Y%m%d").to_string()),
        )
    });
    format!(
        "regwatch_raw AS (
  SELECT CAST(NULL AS {text}) AS source_file, CAST(NULL AS BIGINT) AS source_line,
    coalesce({uid}, {key}) AS key_base,
    CAST(time AS BIGINT) AS at_ms,
    CASE
      WHEN class_uid IS NULL THEN 'class_uid: is missing (not an OCSF event)'
      WHEN class_uid <> 6003 THEN {skipped}
      WHEN {operation} IS NULL THEN 'api.operation: is missing'
      WHEN time IS NULL THEN 'time: is missing'
      WHEN {actor} IS NULL THEN 'actor.user.uid: is missing'
    END AS problem,
    {operation} AS event_name,
    CASE WHEN strpos({service}, '.') > 0 THEN {service} ELSE {service_host} END AS event_source,
    {region} AS region,
    coalesce({account}, {actor_account}) AS account, {actor} AS actor,
    {user_type} AS identity_type, {user_name} AS identity_user, {actor} AS identity_arn,
    {user_agent} AS user_agent,
    coalesce({error}, CASE WHEN status_id = 2 THEN 'Failure' END) AS error_code,
    coalesce(activity_id = 2, FALSE) AS read_only,
    api.request.data AS params, api.response.data AS response,
    {mfa} AS mfa_used,
    CAST({first}.uid AS {text}) AS first_arn, {first}.type AS first_type,
    CASE WHEN {n} > 0 THEN {names} ELSE {instances} END AS listed,
    {issuer} AS issuer, CAST(activity_id AS INTEGER) AS activity
  FROM {table}{filter}
)",
        uid = s("metadata.uid"),
        key = d.concat(&[
            &format!("CAST(time AS {text})"),
            "'|'",
            &actor,
            "'|'",
            "api.operation"
        ]),
        skipped = d.concat(&[
            "'skipped: OCSF class '",
            &format!("CAST(class_uid AS {text})"),
            "coalesce(concat(' (', class_name, ')'), '')",
            "', not API Activity (6003)'",
        ]),
        operation = s("api.operation"),
        service_host = d.concat(&[&service, "'.amazonaws.com'"]),
        region = s("cloud.region"),
        account = s("cloud.account.uid"),
        actor_account = s("actor.user.account.uid"),
        user_type = s("actor.user.type"),
        user_name = s("actor.user.name"),
        user_agent = s("http_request.user_agent"),
        error = s("api.response.error"),
        mfa = d.map_value("unmapped", "additionalEventData.MFAUsed"),
        issuer = s("actor.session.issuer"),
        n = d.length(&format!("coalesce({names}, {})", d.list_of(&[]))),
        instances = d.json_texts("api.request.data", "$.instancesSet.items", "instanceId"),
        table = table(d, input),
        filter = partitions
            .map(|p| format!("\n  WHERE {p}"))
            .unwrap_or_default(),
    )
}
