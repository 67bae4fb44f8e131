#!/usr/bin/env python3
"""Runs a script of `regwatch sql --dialect duckdb` in DuckDB (in memory, from the
repository root so that relative input paths resolve) and writes its one result, the
findings, as Parquet: lists stay lists and times TIMESTAMP, as `regwatch audit --findings`
reads them.

usage: duckdb_sql.py SCRIPT.sql OUT.parquet
"""
import sys

import duckdb


def main(script, out_parquet):
    con = duckdb.connect()
    # The settings, then the query: DuckDB runs them in turn; the result is the last one.
    con.sql(open(script).read()).write_parquet(out_parquet)


if __name__ == "__main__":
    main(*sys.argv[1:3])
