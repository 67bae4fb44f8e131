#!/usr/bin/env python3
"""Runs a script of `regwatch sql --dialect duckdb` in DuckDB (in memory, from the
repository root so that relative input paths resolve) and writes its one result, the
findings, as Parquet: lists stay lists and times TIMESTAMP, as `regwatch audit --findings`
reads them.

With REJECTED.csv, also writes the records the script leaves out as a run would reject
them (file, line, problem), from the script's own CTEs (GUIDE.md "SQL engines").

usage: duckdb_sql.py SCRIPT.sql OUT.parquet [REJECTED.csv]
"""
import sys

import duckdb


def main(script, out_parquet, rejected=None):
    con = duckdb.connect()
    text = open(script).read()
    # The settings, then the query: DuckDB runs them in turn; the result is the last one.
    con.sql(text).write_parquet(out_parquet)
    if rejected:
        ctes = text.split("\nregwatch_hits AS (")[0].rstrip().rstrip(",")
        con.sql(ctes + "\nSELECT source_file, source_line, problem FROM regwatch_events"
                       " WHERE problem IS NOT NULL ORDER BY source_line").write_csv(rejected)


if __name__ == "__main__":
    main(*sys.argv[1:4])
