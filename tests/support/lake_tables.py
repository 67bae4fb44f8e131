#!/usr/bin/env python3
"""Builds, as Parquet, the tables the `regwatch sql` sources read where the logs live
(tests/audit_sql.rs):

cloudtrail OUT.parquet FILE_OR_DIR...
    CloudTrail log files (`{"Records": [...]}`, `.json` or `.json.gz`) as the Athena table
    AWS documents for CloudTrail with partition projection (cloudtrail_logs_pp): lower-case
    columns, `useridentity` and `resources` as structs, requestparameters,
    responseelements and additionaleventdata as JSON text, readonly as text, and the
    `timestamp` partition (yyyy/MM/dd) from the file's S3 key, as partition projection
    reads it. Records in file order, files in name order.

ocsf OUT.parquet OCSF.parquet
    The OCSF fixture (tests/fixtures/audit/make_ocsf.py) with Security Lake's partition
    columns added: `region`, `accountid` and `eventday` (yyyyMMdd, UTC).
"""
import glob
import gzip
import json
import os
import re
import sys
import tempfile

import duckdb

IDENTITY = ("STRUCT(type VARCHAR, principalid VARCHAR, arn VARCHAR, accountid VARCHAR, "
            "invokedby VARCHAR, accesskeyid VARCHAR, username VARCHAR, "
            "sessioncontext STRUCT(attributes STRUCT(mfaauthenticated VARCHAR, creationdate VARCHAR), "
            "sessionissuer STRUCT(type VARCHAR, principalid VARCHAR, arn VARCHAR, accountid VARCHAR, "
            "username VARCHAR)))")
COLUMNS = {
    "eventversion": "VARCHAR", "useridentity": IDENTITY, "eventtime": "VARCHAR",
    "eventsource": "VARCHAR", "eventname": "VARCHAR", "awsregion": "VARCHAR",
    "sourceipaddress": "VARCHAR", "useragent": "VARCHAR", "errorcode": "VARCHAR",
    "errormessage": "VARCHAR", "requestparameters": "VARCHAR", "responseelements": "VARCHAR",
    "additionaleventdata": "VARCHAR", "requestid": "VARCHAR", "eventid": "VARCHAR",
    "readonly": "VARCHAR",
    "resources": "STRUCT(arn VARCHAR, accountid VARCHAR, type VARCHAR)[]",
    "eventtype": "VARCHAR", "apiversion": "VARCHAR", "recipientaccountid": "VARCHAR",
    "sharedeventid": "VARCHAR", "vpcendpointid": "VARCHAR", "timestamp": "VARCHAR",
}


def lower_keys(v):
    """The JSON SerDe matches struct fields without regard to case."""
    if isinstance(v, dict):
        return {k.lower(): lower_keys(x) for k, x in v.items()}
    if isinstance(v, list):
        return [lower_keys(x) for x in v]
    return v


def as_text(v):
    """A STRING column over JSON: the value's JSON text (a string as itself)."""
    if v is None or isinstance(v, str):
        return v
    if isinstance(v, bool):
        return "true" if v else "false"
    return json.dumps(v)


def row(rec, day):
    r = {k.lower(): v for k, v in rec.items()}
    out = {}
    for col, typ in COLUMNS.items():
        v = r.get(col)
        out[col] = lower_keys(v) if typ != "VARCHAR" else as_text(v)
    out["timestamp"] = day
    return out


def cloudtrail(out, paths):
    files = []
    for p in paths:
        if os.path.isdir(p):
            files += glob.glob(os.path.join(p, "**", "*.json*"), recursive=True)
        else:
            files.append(p)
    staged = tempfile.NamedTemporaryFile("w", suffix=".jsonl", delete=False)
    n = 0
    for f in sorted(files):
        day = re.search(r"/(\d{4}/\d{2}/\d{2})/", f.replace(os.sep, "/"))
        opener = gzip.open if f.endswith(".gz") else open
        with opener(f, "rt") as fh:
            for rec in json.load(fh)["Records"]:
                n += 1
                staged.write(json.dumps(row(rec, day.group(1) if day else None)) + "\n")
    staged.close()
    cols = ", ".join(f"'{k}': '{v}'" for k, v in COLUMNS.items())
    duckdb.connect().execute(
        f"COPY (SELECT * FROM read_json('{staged.name}', format = 'newline_delimited', "
        f"columns = {{{cols}}})) TO '{out}' (FORMAT parquet)")
    os.remove(staged.name)
    print(n)


def ocsf(out, fixture):
    duckdb.connect().execute(
        f"""COPY (SELECT *, cloud.region AS region, cloud.account.uid AS accountid,
                         strftime(make_timestamp(CAST(time AS BIGINT) * 1000), '%Y%m%d') AS eventday
                  FROM read_parquet('{fixture}')) TO '{out}' (FORMAT parquet)""")


if __name__ == "__main__":
    kind, out, *rest = sys.argv[1:]
    {"cloudtrail": cloudtrail, "ocsf": lambda o, r: ocsf(o, r[0])}[kind](out, rest)
