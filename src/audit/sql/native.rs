//! The native source: regwatch's own JSON-lines events (GUIDE.md "Audit"), normalised into
//! the columns every policy's SQL reads, with the reason a record would be rejected.
//!
//! DuckDB reads the files itself, a line at a time (so each event keeps its file and
//! line for the evidence); Spark and Trino read a table with the native columns, which
//! carries no file or line.

use super::dialect::Dialect;
use super::scope::Scope;
use crate::audit::event::NATIVE_FIELDS;

/// The native fields that are not plain text: checked or turned into flags.
const TYPED: &[&str] = &[
    "timestamp",
    "actor_type",
    "operation",
    "dry_run",
    "approver_type",
    "approved_at",
    "prompt_ref",
    "tool_call_ref",
];

const ACTOR_TYPES: &[&str] = &["human", "ai_agent", "service"];
const OPERATIONS: &[&str] = &[
    "read",
    "plan",
    "create",
    "update",
    "delete",
    "deploy",
    "permission_change",
    "approve",
];

/// Where the events are: files DuckDB reads, or a table the engine already has.
pub enum Input<'a> {
    Files(&'a str),
    Table(&'a str),
}

/// The CTEs `regwatch_fields` (each record's fields as text) and `regwatch_events` (the
/// normalised events with `problem`: NULL, or why regwatch would reject the record;
/// `record_no`, the order records were read in, NULL for a table; `event_key`, what names
/// an event's own finding: its file and line, or for a table its time, actor, action and
/// resource).
pub fn events_view(d: Dialect, input: &Input, scope: &Scope) -> String {
    let fields = match input {
        Input::Files(path) => duckdb_fields(path),
        Input::Table(table) => table_fields(d, table),
    };
    let list = |xs: &[&str]| xs.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    let flag = |c: &str| format!("lower(trim(coalesce({c}, '')))");
    let blank = |c: &str| format!("trim(coalesce({c}, '')) = ''");
    let problem = format!(
        "CASE
      WHEN NOT record_ok THEN 'not a JSON object'
      WHEN {ts_missing} THEN 'timestamp: is missing'
      WHEN {ts} IS NULL THEN 'timestamp: is not a time'
      WHEN {actor_missing} THEN 'actor: is missing'
      WHEN NOT coalesce({actor_type}, FALSE) THEN 'actor_type: is not one of human, ai_agent, service'
      WHEN NOT coalesce({operation}, FALSE) THEN 'operation: is not one of {ops}'
      WHEN NOT ({approver_blank} OR {approver_type}) THEN 'approver_type: is not one of human, ai_agent, service'
      WHEN NOT ({approved_at_blank} OR {approved_at} IS NOT NULL) THEN 'approved_at: is not a time'
      WHEN {dry_run} NOT IN ('', 'true', 'yes', '1', 'false', 'no', '0') THEN 'dry_run: is not true or false'
      WHEN {action_missing} THEN 'action: is missing'
      WHEN {resource_missing} THEN 'resource: is missing'
      WHEN {environment_missing} THEN 'environment: is missing'
    END",
        ts_missing = blank("timestamp"),
        ts = d.millis_of_text("timestamp"),
        actor_missing = blank("actor"),
        actor_type = d.one_of("actor_type", &list(ACTOR_TYPES)),
        operation = d.one_of("operation", &list(OPERATIONS)),
        ops = OPERATIONS.join(", "),
        approver_blank = blank("approver_type"),
        approver_type = d.one_of("trim(approver_type)", &list(ACTOR_TYPES)),
        approved_at_blank = blank("approved_at"),
        approved_at = d.millis_of_text("trim(approved_at)"),
        dry_run = flag("dry_run"),
        action_missing = blank("action"),
        resource_missing = blank("resource"),
        environment_missing = blank("environment"),
    );
    let text: Vec<String> = NATIVE_FIELDS
        .iter()
        .filter(|c| !TYPED.contains(c))
        .map(|c| format!("coalesce({c}, '') AS {c}"))
        .collect();
    let select = format!(
        "  SELECT source_file, source_line, record_no,
    {event_key} AS event_key,
    {at} AS at_ms,
    {text},
    coalesce(actor_type, '') AS actor_type,
    coalesce(operation, '') AS operation,
    coalesce(trim(approver_type), '') AS approver_type,
    {approved_at} AS approved_at_ms,
    CASE WHEN {dry} IN ('true', 'yes', '1') THEN 'true' ELSE 'false' END AS dry_run,
    CASE WHEN {prompt_blank} THEN 'false' ELSE 'true' END AS prompt_ref,
    CASE WHEN {tool_blank} THEN 'false' ELSE 'true' END AS tool_call_ref,
    -- Native events say their operation: a delete is never also a permission change.
    'false' AS also_permission_change,
    {problem} AS problem
  FROM regwatch_fields",
        at = d.millis_of_text("timestamp"),
        event_key = match input {
            Input::Files(_) => d.concat(&[
                "source_file",
                "':'",
                &format!("CAST(source_line AS {})", d.text_type())
            ]),
            Input::Table(_) => d.concat(&[
                "timestamp",
                "'|'",
                "actor",
                "'|'",
                "action",
                "'|'",
                "resource"
            ]),
        },
        text = text.join(",\n    "),
        dry = flag("dry_run"),
        approved_at = d.millis_of_text("trim(approved_at)"),
        prompt_blank = blank("prompt_ref"),
        tool_blank = blank("tool_call_ref"),
    );
    format!(
        "regwatch_fields AS (\n{fields}\n),\nregwatch_events AS (\n{}\n)",
        scope.events(d, &select)
    )
}

/// DuckDB: each line of the files as one record, with its file and line number; the
/// fields by name (`json_extract_string` gives JSON true/false and numbers as text).
fn duckdb_fields(path: &str) -> String {
    let fields: Vec<String> = NATIVE_FIELDS
        .iter()
        .map(|f| {
            format!("CASE WHEN record_ok THEN json_extract_string(record, '$.\"{f}\"') END AS {f}")
        })
        .collect();
    format!(
        "  SELECT source_file, source_line, ordinality AS record_no, record_ok,
    {fields}
  FROM (
    SELECT filename AS source_file,
      ordinality - min(ordinality) OVER (PARTITION BY filename) + 1 AS source_line,
      line AS record, ordinality,
      -- CASE, not AND: DuckDB evaluates both sides of an AND, and json_type fails on
      -- text that is not JSON.
      CASE WHEN json_valid(line) THEN json_type(line) = 'OBJECT' ELSE FALSE END AS record_ok
    FROM read_csv({path}, columns = {{'line': 'VARCHAR'}}, header = false,
                  delim = chr(1), quote = '', escape = '', filename = true) WITH ORDINALITY
  ) AS lines
  -- A blank line is no record (as in a run), but it counts for the lines after it.
  WHERE trim(coalesce(record, '')) <> ''",
        fields = fields.join(",\n    "),
        path = Dialect::Duckdb.quote(path),
    )
}

/// Spark and Trino: a table with the native columns (text, or anything castable to it).
fn table_fields(d: Dialect, table: &str) -> String {
    let text = d.text_type();
    let fields: Vec<String> = NATIVE_FIELDS
        .iter()
        .map(|f| format!("CAST({f} AS {text}) AS {f}"))
        .collect();
    format!(
        "  SELECT CAST(NULL AS {text}) AS source_file, CAST(NULL AS BIGINT) AS source_line,
    CAST(NULL AS BIGINT) AS record_no, TRUE AS record_ok,
    {fields}
  FROM {table}",
        fields = fields.join(",\n    "),
    )
}
