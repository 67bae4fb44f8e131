#!/usr/bin/env python3
"""Runs scripts of `regwatch sql --dialect spark --input regwatch_input` in a real local
Spark (pyspark), one session for all of them (each session costs seconds to start), and
writes each script's result, the findings, as JSON lines for `regwatch audit --findings`.

For each job: the temp view `regwatch_input` is the JSON-lines events of INPUT read with
every native field as text (as a table of native columns would be), then the script's
settings run in turn and its query last. Times are written with their offset (UTC).

usage: spark_sql.py SCRIPT.sql INPUT.jsonl OUT.jsonl [SCRIPT INPUT OUT ...]
"""
import os
import sys

from pyspark.sql import SparkSession
from pyspark.sql.types import StringType, StructField, StructType

# The native fields (src/audit/event.rs NATIVE_FIELDS), all read as text.
FIELDS = ["timestamp", "actor", "actor_type", "agent", "action", "operation", "resource",
          "resource_type", "environment", "account", "region", "change_id", "dry_run",
          "approved_by", "approver_type", "approved_at", "outcome", "prompt_ref",
          "tool_call_ref", "grants"]


def statements(text):
    """The script's statements: `;` at the end of a line ends one; comment lines go."""
    lines = [line for line in text.splitlines() if not line.lstrip().startswith("--")]
    return [s.strip() for s in "\n".join(lines).split(";\n") if s.strip().rstrip(";")]


def run(spark, script, events, out):
    schema = StructType([StructField(f, StringType()) for f in FIELDS])
    spark.read.schema(schema).json(events).createOrReplaceTempView("regwatch_input")
    *settings, query = statements(open(script).read())
    for s in settings:
        spark.sql(s)
    # Times are written with their offset, whatever zone the script set for reading events.
    rows = spark.sql(query.rstrip(";")).selectExpr("to_json(struct(*)) AS row").collect()
    with open(out + ".tmp", "w") as f:
        for row in rows:
            f.write(row.row + "\n")
    os.replace(out + ".tmp", out)


def main(args):
    if not args or len(args) % 3:
        sys.exit(__doc__)
    spark = (SparkSession.builder.master("local[2]").appName("regwatch-sql-test")
             .config("spark.ui.enabled", "false")
             .config("spark.ui.showConsoleProgress", "false")
             .config("spark.sql.shuffle.partitions", "4")
             .config("spark.sql.session.timeZone", "UTC")
             .getOrCreate())
    spark.sparkContext.setLogLevel("ERROR")
    try:
        for i in range(0, len(args), 3):
            run(spark, *args[i:i + 3])
    finally:
        spark.stop()


if __name__ == "__main__":
    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    main(sys.argv[1:])
