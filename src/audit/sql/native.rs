//! The native source: regwatch's own JSON-lines events (GUIDE.md "Audit"), normalised into
//! the columns every policy's SQL reads, with the reason a record would be rejected.
//!
//! DuckDB reads the files itself, a line at a time (so each event keeps its file and
//! line for the evidence); Spark and Trino read a table with the native columns, which
//! carries no file or line unless the engine run that made it says so (`located`).

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

/// Where the events are: JSON-lines files DuckDB reads, or a table the engine has.
#[derive(Debug, Clone)]
pub enum Input {
    /// DuckDB: JSON-lines files (paths or globs, as DuckDB reads them), a record a line;
    /// `first_record` is added to each record's read order (0: from 1), so that several
    /// inputs keep the order a run reads them in.
    JsonLines {
        files: Vec<String>,
        first_record: u64,
    },
    /// A table, or a table expression (`read_parquet([...])`), with the native columns.
    Table {
        from: String,
        /// The native columns it has (the others are read as empty); None: all of them.
        columns: Option<Vec<String>>,
        /// Its rows also carry `source_file`, `source_line`, `record_no` (read order) and
        /// `record_ok` (false: not a JSON object), as the view of an engine run has them.
        located: bool,
    },
}

impl Input {
    /// What `regwatch sql --input NAME` reads: DuckDB the JSON-lines files NAME, the
    /// others the table NAME.
    pub fn named(d: Dialect, name: &str) -> Input {
        match d {
            Dialect::Duckdb => Input::JsonLines {
                files: vec![name.to_string()],
                first_record: 0,
            },
            Dialect::Spark | Dialect::Trino => Input::Table {
                from: name.to_string(),
                columns: None,
                located: false,
            },
        }
    }
}

/// The CTEs `regwatch_fields` (each record's fields as text) and `regwatch_events` (the
/// normalised events with `problem`: NULL, or why regwatch would reject the record;
/// `record_no`, the order records were read in, NULL for a table; `event_key`, what names
/// an event's own finding: its file and line, or for a table its time, actor, action and
/// resource).
pub fn events_view(d: Dialect, inputs: &[Input], scope: &Scope) -> String {
    let fields: Vec<String> = inputs
        .iter()
        .map(|input| match input {
            Input::JsonLines {
                files,
                first_record,
            } => duckdb_fields(files, *first_record),
            Input::Table {
                from,
                columns,
                located,
            } => table_fields(d, from, columns.as_deref(), *located),
        })
        .collect();
    let fields = fields.join("\n  UNION ALL\n");
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
        event_key = event_key(d, inputs),
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

/// What names an event whose finding is its own: its file and line; in a table that has
/// none, its time, actor, action and resource (and file, when the run's view has it).
fn event_key(d: Dialect, inputs: &[Input]) -> String {
    let line = d.concat(&[
        "source_file",
        "':'",
        &format!("CAST(source_line AS {})", d.text_type()),
    ]);
    let fields = [
        "timestamp",
        "'|'",
        "actor",
        "'|'",
        "action",
        "'|'",
        "resource",
    ];
    let located = |i: &Input| matches!(i, Input::Table { located: true, .. });
    if inputs.iter().all(|i| matches!(i, Input::JsonLines { .. })) {
        line
    } else if !inputs.iter().any(located) {
        d.concat(&fields)
    } else {
        // (DuckDB's concat reads NULL as empty text: test for it first.)
        let record = d.concat(&[
            "source_file",
            "'#'",
            &format!("CAST(record_no AS {})", d.text_type()),
        ]);
        let mut with_file = vec!["coalesce(source_file, '')", "'|'"];
        with_file.extend_from_slice(&fields);
        format!(
            "CASE WHEN source_line IS NOT NULL THEN {line} WHEN record_no IS NOT NULL THEN {record} ELSE {} END",
            d.concat(&with_file)
        )
    }
}

/// DuckDB: each line of the files as one record, with its file and line number; the
/// fields by name (`json_extract_string` gives JSON true/false and numbers as text).
fn duckdb_fields(files: &[String], first_record: u64) -> String {
    let fields: Vec<String> = NATIVE_FIELDS
        .iter()
        .map(|f| {
            format!("CASE WHEN record_ok THEN json_extract_string(record, '$.\"{f}\"') END AS {f}")
        })
        .collect();
    format!(
        "  SELECT source_file, source_line, {record_no} AS record_no, record_ok,
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
        record_no = match first_record {
            0 => "ordinality".to_string(),
            n => format!("{n} + ordinality"),
        },
        path = match files {
            [one] => Dialect::Duckdb.quote(one),
            many => format!(
                "[{}]",
                (many.iter().map(|f| Dialect::Duckdb.quote(f)))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        },
    )
}

/// A table with the native columns (text, or anything castable to it); those it does
/// not have (`columns`) are NULL, as a missing field is.
fn table_fields(d: Dialect, table: &str, columns: Option<&[String]>, located: bool) -> String {
    let text = d.text_type();
    let fields: Vec<String> = NATIVE_FIELDS
        .iter()
        .map(|f| match columns {
            Some(have) if !have.iter().any(|c| c == f) => format!("CAST(NULL AS {text}) AS {f}"),
            _ => format!("CAST({f} AS {text}) AS {f}"),
        })
        .collect();
    let place = if located {
        format!(
            "CAST(source_file AS {text}) AS source_file, CAST(source_line AS BIGINT) AS source_line,
    CAST(record_no AS BIGINT) AS record_no, CAST(record_ok AS BOOLEAN) AS record_ok"
        )
    } else {
        format!(
            "CAST(NULL AS {text}) AS source_file, CAST(NULL AS BIGINT) AS source_line,
    CAST(NULL AS BIGINT) AS record_no, TRUE AS record_ok"
        )
    };
    format!(
        "  SELECT {place},
    {fields}
  FROM {table}",
        fields = fields.join(",\n    "),
    )
}
