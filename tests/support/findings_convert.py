#!/usr/bin/env python3
"""Rewrites findings in regwatch's findings schema (JSON lines, as `regwatch audit
--format findings` writes them) as an SQL engine would export them: CSV with the lists
joined by ';' and times as `YYYY-MM-DD HH:MM:SS.fff` (as Spark and Trino print
timestamps), and Parquet with lists as lists and times as TIMESTAMP (through DuckDB).

usage: findings_convert.py IN.jsonl OUT.csv OUT.parquet
"""
import csv
import json
import sys

COLUMNS = ["policy", "severity", "title", "first_at", "last_at", "change_id", "actors",
           "resources", "resource_count", "evidence", "event_count", "detail"]
LISTS = {"actors", "resources", "evidence"}


def sql_time(text):
    # 2026-11-03T09:14:00Z / 2026-11-03T09:17:20.051Z -> 2026-11-03 09:17:20.051
    t = text.rstrip("Z").replace("T", " ")
    return t if "." in t else t + ".000"


def main(src, out_csv, out_parquet):
    rows = [json.loads(line) for line in open(src) if line.strip()]
    with open(out_csv, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(COLUMNS)
        for r in rows:
            w.writerow([";".join(r[c]) if c in LISTS
                        else sql_time(r[c]) if c in ("first_at", "last_at")
                        else r[c] for c in COLUMNS])
    import duckdb
    con = duckdb.connect()
    con.execute(f"""COPY (SELECT policy, severity, title,
                                 CAST(replace(first_at, 'Z', '') AS TIMESTAMP) AS first_at,
                                 CAST(replace(last_at, 'Z', '') AS TIMESTAMP) AS last_at,
                                 change_id, actors, resources, resource_count, evidence,
                                 event_count, detail
                          FROM read_json('{src}', format = 'newline_delimited',
                                         columns = {{policy: 'VARCHAR', severity: 'VARCHAR',
                                           title: 'VARCHAR', first_at: 'VARCHAR',
                                           last_at: 'VARCHAR', change_id: 'VARCHAR',
                                           actors: 'VARCHAR[]', resources: 'VARCHAR[]',
                                           resource_count: 'BIGINT', evidence: 'VARCHAR[]',
                                           event_count: 'BIGINT', detail: 'VARCHAR'}}))
                    TO '{out_parquet}' (FORMAT parquet)""")


if __name__ == "__main__":
    main(*sys.argv[1:4])
