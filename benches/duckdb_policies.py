#!/usr/bin/env python3
"""The DuckDB baseline for the audit benchmark: load an events file once into a table
(read_json with explicit columns for JSON lines, read_parquet for Parquet) and run three
core guardrail policies of mappings/policies.toml as SQL, printing the three counts.

    python3 benches/duckdb_policies.py FILE.jsonl|FILE.parquet

  destructive  events: delete in prod by an AI agent, not a dry run, without a prior
               approval by a human other than the actor
  blast_radius changes: > 50 distinct resources, or > 1 account, region or environment
               (non-read, non-dry-run events with a change_id)
  self_approval events: approved_by = actor
"""
import os
import sys
import time

import duckdb

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from gen_audit import COLUMNS  # noqa: E402

QUERIES = {
    "destructive": """
        SELECT count(*) FROM ev
        WHERE operation = 'delete' AND environment IN ('prod', 'production')
          AND actor_type = 'ai_agent' AND dry_run IS NOT TRUE
          AND NOT coalesce(approver_type = 'human' AND approved_by <> actor
                           AND (approved_at IS NULL
                                OR CAST(approved_at AS TIMESTAMPTZ) <= CAST("timestamp" AS TIMESTAMPTZ)),
                           false)""",
    "blast_radius": """
        SELECT count(*) FROM (
          SELECT change_id FROM ev
          WHERE operation <> 'read' AND dry_run IS NOT TRUE AND change_id IS NOT NULL
          GROUP BY change_id
          HAVING count(DISTINCT resource) > 50 OR count(DISTINCT account) > 1
              OR count(DISTINCT region) > 1 OR count(DISTINCT environment) > 1)""",
    "self_approval": "SELECT count(*) FROM ev WHERE approved_by = actor",
}


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: duckdb_policies.py FILE.jsonl|FILE.parquet")
    path = sys.argv[1].replace("'", "''")
    con = duckdb.connect()  # in memory
    t0 = time.perf_counter()
    if path.endswith(".parquet"):
        con.execute("CREATE TABLE ev AS SELECT * FROM read_parquet('%s')" % path)
    else:
        con.execute("CREATE TABLE ev AS SELECT * FROM read_json('%s', format = 'newline_delimited', "
                    "columns = %s)" % (path, COLUMNS))
    t1 = time.perf_counter()
    counts = {name: con.execute(q).fetchone()[0] for name, q in QUERIES.items()}
    t2 = time.perf_counter()
    print(" ".join("%s=%d" % kv for kv in counts.items()))
    print("load %.2fs, policies %.2fs" % (t1 - t0, t2 - t1), file=sys.stderr)


if __name__ == "__main__":
    main()
