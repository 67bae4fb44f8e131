//! `rate-limit` as SQL, the same query in every dialect: the bursts a run reports, found
//! as a run finds them (`audit::policies::rate_limit`). Per actor, in time order, a burst
//! starts at the first counted event whose window (`window_ms` from it) holds more than
//! `max` events, takes that window's events, and the search goes on after its last one.
//!
//! Which events start a burst depends on where the previous burst ended, so the starts are
//! a chain, followed with a recursive CTE (DuckDB, Spark 4.1+, Trino/Athena): each burst
//! start is linked to the next (the first start after its window's last event) by window
//! functions, and each recursion step follows one link per actor. The steps a query takes
//! are the bursts of the actor with the most; Spark's and Trino's recursion limits fail the
//! query when they are too low (GUIDE.md "SQL engines"), they never cut it short.

use super::dialect::Dialect;

/// What a burst is: more than `max` counted events of one actor within `window_ms`.
pub struct Limit<'a> {
    /// The policy id, quoted as an SQL literal.
    pub id: &'a str,
    /// The WHERE condition of a counted event.
    pub counted: &'a str,
    pub max: i64,
    pub window_ms: i64,
    /// What the counted events are called in a finding's detail (`changes`...).
    pub what: &'a str,
    /// How many actors, resources and events a finding lists.
    pub kept: usize,
}

/// The hit rows of the bursts over `limit`: each burst's events, grouped by actor and
/// the burst's first time, as a run names its finding.
pub fn bursts(d: Dialect, limit: &Limit) -> String {
    let Limit {
        id,
        counted,
        max,
        window_ms,
        what,
        kept,
    } = limit;
    let text = d.text_type();
    let grp = d.concat(&["c.actor", "'@'", &format!("CAST(c.burst_at AS {text})")]);
    let detail = d.concat(&[
        "c.actor",
        "': '",
        &format!("CAST(c.burst_size AS {text})"),
        &d.quote(&format!(
            " {what} within {} minutes (limit {max})",
            window_ms / 60_000
        )),
    ]);
    // Trino wants column names on every query of a recursive WITH.
    format!(
        "  SELECT {id} AS policy, {grp} AS grp, '' AS change_id, c.actor, '' AS resource, c.at_ms,
    c.record_no, c.source_file, c.source_line, {detail} AS detail, {kept} AS kept
  FROM (
    WITH RECURSIVE
    counted (actor, at_ms, record_no, source_file, source_line, i, reach, next_start) AS (
      -- i: the event's place in its actor's time order; reach: the place of the last
      -- event of its window; next_start: the first place at or after it that starts a
      -- window of more than {max}.
      SELECT actor, at_ms, record_no, source_file, source_line, i, reach,
        min(CASE WHEN reach - i + 1 > {max} THEN i END) OVER (
          PARTITION BY actor ORDER BY i ROWS BETWEEN CURRENT ROW AND UNBOUNDED FOLLOWING)
      FROM (
        SELECT actor, at_ms, record_no, source_file, source_line,
          row_number() OVER (PARTITION BY actor ORDER BY at_ms, record_no) AS i,
          count(*) OVER (PARTITION BY actor ORDER BY at_ms
                         RANGE BETWEEN UNBOUNDED PRECEDING AND {last} FOLLOWING) AS reach
        FROM regwatch_events WHERE problem IS NULL AND {counted}
      ) AS placed
    ),
    starts (actor, i, reach, at_ms, next_i) AS (
      -- Each event that would start a burst, and the start after its burst.
      SELECT s.actor, s.i, s.reach, s.at_ms, n.next_start
      FROM counted s
      LEFT JOIN counted n ON n.actor = s.actor AND n.i = s.reach + 1
      WHERE s.reach - s.i + 1 > {max}
    ),
    bursts (actor, i) AS (
      SELECT actor, min(i) FROM starts GROUP BY actor
      UNION ALL
      SELECT s.actor, s.next_i FROM bursts b
      JOIN starts s ON s.actor = b.actor AND s.i = b.i
      WHERE s.next_i IS NOT NULL
    )
    SELECT c.actor, c.at_ms, c.record_no, c.source_file, c.source_line,
      s.at_ms AS burst_at, s.reach - s.i + 1 AS burst_size
    FROM bursts b
    JOIN starts s ON s.actor = b.actor AND s.i = b.i
    JOIN counted c ON c.actor = b.actor AND c.i BETWEEN s.i AND s.reach
  ) AS c",
        last = window_ms - 1,
    )
}
