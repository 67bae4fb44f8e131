"""regwatch's Spark driver (`regwatch audit --engine spark`, run with spark-submit).

usage: spark-submit [--master URL] spark_driver.py PLAN.json

PLAN.json: {"settings": [...], "query": ..., "rejects": ..., "counts": ...,
            "inputs": [{"path": ..., "name": ..., "format": "jsonl"|"csv"|"parquet"}],
            "columns": [the native columns], "view": "regwatch_input", "out": DIR}

Makes the view the script reads (every native column as text, plus source_file,
source_line, record_no and record_ok), runs the session settings, then writes to DIR:
findings.parquet (TIMESTAMP_MICROS; findings.jsonl, empty, when there are none),
rejects.json and counts.json (JSON lines). Says on stderr, on lines starting
`regwatch-spark:`, how long the session took to start and the work took.
"""
import glob
import json
import os
import pathlib
import shutil
import sys
import time

STARTED = time.monotonic()

from pyspark import StorageLevel  # noqa: E402
from pyspark.sql import SparkSession, functions as F, types as T  # noqa: E402


def say(text):
    print(f"regwatch-spark: {text}", file=sys.stderr, flush=True)


def frames(spark, plan):
    """One frame per format, each with the native columns as text, in one schema."""
    columns = plan["columns"]
    text = T.StringType()
    by_format = {}
    for i in plan["inputs"]:
        by_format.setdefault(i["format"], []).append(i["path"])
    out = []
    for fmt, paths in by_format.items():
        if fmt == "jsonl":
            # An explicit all-text schema: JSON true and 123 are read as their text, as a
            # run reads them; a line that is not a JSON object is the corrupt record.
            schema = T.StructType([T.StructField(c, text) for c in columns]
                                  + [T.StructField("_corrupt_record", text)])
            df = (spark.read.schema(schema)
                  .option("mode", "PERMISSIVE")
                  .option("columnNameOfCorruptRecord", "_corrupt_record")
                  .json(paths))
            ok = F.col("_corrupt_record").isNull()
        elif fmt == "csv":
            df = spark.read.option("header", True).option("escape", '"').csv(paths)
            ok = F.lit(True)
        else:
            df = spark.read.option("mergeSchema", True).parquet(*paths)
            ok = F.lit(True)
        have = set(df.columns)
        out.append(df.select(
            *[(F.col(c).cast(text) if c in have else F.lit(None).cast(text)).alias(c)
              for c in columns],
            F.input_file_name().alias("source_uri"),
            ok.alias("record_ok"),
        ))
    return out


def view(spark, plan):
    """The view `plan["view"]`: every input file's records, named as regwatch names them."""
    parts = frames(spark, plan)
    df = parts[0]
    for p in parts[1:]:
        df = df.unionByName(p)
    names = spark.createDataFrame(
        [(pathlib.Path(os.path.abspath(i["path"])).as_uri(), i["name"]) for i in plan["inputs"]],
        "uri string, name string")
    df = (df.join(F.broadcast(names), df.source_uri == names.uri, "left")
          .withColumn("source_file", F.coalesce(F.col("name"), F.col("source_uri")))
          .withColumn("source_line", F.lit(None).cast("bigint"))
          .withColumn("record_no", F.lit(None).cast("bigint"))
          .drop("uri", "name", "source_uri"))
    # Read once: the findings, rejects and counts queries all read the view.
    df.persist(StorageLevel.MEMORY_AND_DISK).createOrReplaceTempView(plan["view"])


def write_one(df, fmt, folder, target):
    """Writes `df` as one file `target` (Spark writes a folder of part files)."""
    df.coalesce(1).write.mode("overwrite").format(fmt).save(folder)
    parts = sorted(glob.glob(os.path.join(folder, "part-*")))
    if parts:
        shutil.move(parts[0], target)
    shutil.rmtree(folder, ignore_errors=True)
    return bool(parts)


def main(plan_file):
    plan = json.load(open(plan_file))
    out = plan["out"]
    spark = (SparkSession.builder.appName("regwatch audit")
             .config("spark.sql.parquet.outputTimestampType", "TIMESTAMP_MICROS")
             .getOrCreate())
    spark.sparkContext.setLogLevel("ERROR")
    ready = time.monotonic()
    say(f"session started in {ready - STARTED:.1f} s")
    view(spark, plan)
    for setting in plan["settings"]:
        spark.sql(setting)
    say(f"view ready in {time.monotonic() - ready:.1f} s")
    findings = os.path.join(out, "findings.parquet")
    if not write_one(spark.sql(plan["query"]), "parquet", findings + ".parts", findings):
        open(os.path.join(out, "findings.jsonl"), "w").close()
    say(f"findings in {time.monotonic() - ready:.1f} s")
    for name in ("rejects", "counts"):
        write_one(spark.sql(plan[name]), "json", os.path.join(out, name + ".parts"),
                  os.path.join(out, name + ".json"))
    say(f"work took {time.monotonic() - ready:.1f} s")
    spark.stop()


if __name__ == "__main__":
    main(sys.argv[1])
