#!/usr/bin/env python3
"""Generates N synthetic audit events (native `regwatch audit` schema, JSON lines) for the
audit benchmark, optionally converted to Parquet.

A realistic mix for a UK retailer: ~60% read, 10% plan (dry runs), 20% create/update/deploy,
3% delete, 2% permission_change, the rest approve; ~200 actors of which ~30% are AI agents;
about N/20 change ids, each mostly in one environment/account/region; timestamps spread
over November 2026, sorted; ~10% of AI events have no tool_call_ref; some changes are
approved by their author, some by an AI. Deterministic for a given N (fixed seed).
Lines are built with string formatting (every value is a plain ASCII token without quotes
or backslashes), not json.dumps, so 10 million lines take about a minute or two.

    python3 benches/gen_audit.py 1000000 /tmp/audit-1m.jsonl [--parquet /tmp/audit-1m.parquet]
    python3 benches/gen_audit.py 1000000 /tmp/audit-1m-spaced.jsonl --shape spaced

`--shape spaced` writes the same events in a second shape, as other producers write JSON:
a space after every `:` and `,`, the keys in another order (the operation and the actor
first, the time last), and every optional field either written as an explicit `null` or
left out (about half each), so that no reader can rely on one byte layout.

Parquet needs the duckdb Python package (python3 -m pip install duckdb); the columns are
the native schema's (what `regwatch audit` reads, and what `regwatch sql`'s Spark and
Trino scripts read as their `regwatch_events` table): text, with `timestamp` and
`approved_at` as RFC 3339 text, and dry_run BOOLEAN. Both shapes give the same Parquet
(same columns, same rows: an explicit null and a missing field are both NULL there;
checked at 20,000 events with DuckDB's EXCEPT ALL both ways), so one Parquet file serves
both. An existing JSON-lines file can be converted without generating it again:

    python3 benches/gen_audit.py --to-parquet /tmp/audit-10m.jsonl /tmp/audit-10m.parquet
"""
import os
import random
import sys

MONTH = 30 * 86400
ENVS = [("prod", "111111111111"), ("staging", "222222222222"), ("dev", "333333333333")]
REGIONS = ["eu-west-2", "eu-west-2", "eu-west-2", "eu-west-1"]
APPS = ["checkout-api", "basket-svc", "catalogue-api", "search-svc", "payments-gw",
        "paylater-ledger", "returns-portal", "customer-accounts", "notifications",
        "pricing-engine", "stock-sync", "order-router"]
KINDS = [("rds", "rds_database"), ("ecs", "ecs_service"), ("s3", "s3_bucket"),
         ("k8s", "k8s_deployment"), ("sqs", "sqs_queue"), ("iam", "iam_role")]
AGENT_MODELS = ["Claude-based coding agent", "LLM-based database maintenance agent",
                "LLM-based database assistant", "LLM-based customer-service agent",
                "LLM-based dependency upgrade agent"]
ACTIONS = {
    "read": ["DescribeDBInstances", "GetObject", "kubectl get pods", "SELECT count(*) FROM orders",
             "GetMetricData", "ListBuckets"],
    "plan": ["terraform plan", "kubectl diff", "helm diff upgrade", "flyway info"],
    "create": ["terraform apply", "gh pr create", "CreateQueue"],
    "update": ["terraform apply", "flyway migrate", "ALTER TABLE orders ADD COLUMN note text"],
    "deploy": ["helm upgrade", "kubectl rollout restart", "ecs update-service"],
    "delete": ["terraform destroy", "DROP TABLE orders_archive", "DeleteDBInstance",
               "kubectl delete deployment"],
    "permission_change": ["PutRolePolicy", "AttachRolePolicy", "kubectl create rolebinding"],
    "approve": ["approve change"],
}
GRANTS = ["s3:GetObject", "rds:DescribeDBInstances", "sqs:SendMessage", "*", "ec2:Describe*"]


def main():
    args = sys.argv[1:]
    if args[:1] == ["--to-parquet"]:
        if len(args) != 3:
            sys.exit("usage: gen_audit.py --to-parquet IN.jsonl OUT.parquet")
        to_parquet(args[1], args[2])
        return
    parquet = None
    shape = "compact"
    if "--parquet" in args:
        i = args.index("--parquet")
        parquet = args[i + 1]
        del args[i:i + 2]
    if "--shape" in args:
        i = args.index("--shape")
        shape = args[i + 1]
        del args[i:i + 2]
    if len(args) != 2 or shape not in ("compact", "spaced"):
        sys.exit("usage: gen_audit.py N OUT.jsonl [--parquet OUT.parquet] [--shape compact|spaced]\n"
                 "       gen_audit.py --to-parquet IN.jsonl OUT.parquet")
    n, out = int(args[0]), args[1]
    if shape == "spaced":
        write_jsonl(n, out + ".compact")
        respace(out + ".compact", out)
        os.remove(out + ".compact")
    else:
        write_jsonl(n, out)
    if parquet:
        to_parquet(out, parquet)


# The second shape's key order, and the optional fields it writes as null or leaves out.
SPACED_ORDER = ["operation", "actor", "actor_type", "agent", "environment", "account", "region",
                "resource", "resource_type", "action", "change_id", "dry_run", "outcome",
                "approved_by", "approver_type", "approved_at", "grants", "prompt_ref",
                "tool_call_ref", "timestamp"]
OPTIONAL = ["agent", "account", "region", "resource_type", "change_id", "dry_run", "outcome",
            "approved_by", "approver_type", "approved_at", "grants", "prompt_ref", "tool_call_ref"]


def respace(src, out):
    """The events of `src` in the second shape (see the module's doc)."""
    import json
    R = random.Random(20261102)
    with open(src) as f, open(out + ".tmp", "w", buffering=1 << 20) as g:
        buf = []
        for line in f:
            e = json.loads(line)
            rec = {}
            for k in SPACED_ORDER:
                if k in e:
                    rec[k] = e[k]
                elif k in OPTIONAL and R.random() < 0.5:
                    rec[k] = None
            buf.append(json.dumps(rec))  # separators ", " and ": "
            if len(buf) >= 50000:
                g.write("\n".join(buf) + "\n")
                buf.clear()
        if buf:
            g.write("\n".join(buf) + "\n")
    os.replace(out + ".tmp", out)


def write_jsonl(n, out):
    R = random.Random(20261101)
    rnd, choice, randrange = R.random, R.choice, R.randrange

    # ~200 actors: ~30% AI agents (each with a model string), ~55% humans, ~15% services.
    actors = []
    for i in range(200):
        r = rnd()
        if r < 0.30:
            actors.append(("agent%03d" % i, "ai_agent",
                           "agent%03d (%s) v%d.%d" % (i, choice(AGENT_MODELS), randrange(1, 5), randrange(10))))
        elif r < 0.85:
            actors.append(("user%03d" % i, "human", None))
        else:
            actors.append(("svc-%03d" % i, "service", None))
    humans = [a for a in actors if a[1] == "human"]
    ais = [a for a in actors if a[1] == "ai_agent"]

    # Operation by cumulative weight.
    ops = [(0.60, "read"), (0.70, "plan"), (0.78, "update"), (0.84, "deploy"), (0.90, "create"),
           (0.93, "delete"), (0.95, "permission_change"), (1.01, "approve")]

    def op_of(r):
        for w, o in ops:
            if r < w:
                return o

    # Timestamp formatting by arithmetic, with a one-entry cache.
    day_prefix = ["2026-11-%02dT" % (d + 1) for d in range(31)]

    def fmt(s):
        d, s = divmod(s, 86400)
        h, s = divmod(s, 3600)
        m, s = divmod(s, 60)
        return "%s%02d:%02d:%02dZ" % (day_prefix[d], h, m, s)

    step = MONTH / n
    n_changes = max(1, n // 20)
    buf = []
    last_s, last_ts = -1, ""
    with open(out + ".tmp", "w", buffering=1 << 20) as f:
        for i in range(n):
            s = int(i * step + rnd() * step)
            if s >= MONTH:
                s = MONTH - 1
            if s != last_s:
                last_s, last_ts = s, fmt(s)
            op = op_of(rnd())
            # Change: localised in time; its env/region/actor derive from its number.
            c = i * n_changes // n + randrange(3)
            env, account = ENVS[c % 3] if rnd() > 0.01 else choice(ENVS)
            region = REGIONS[(c // 3) % 4] if rnd() > 0.01 else choice(REGIONS)
            if op == "approve":
                actor, atype, agent = humans[c % len(humans)] if rnd() > 0.1 else ais[c % len(ais)]
            else:
                actor, atype, agent = actors[(c * 7919) % 200] if rnd() < 0.8 else actors[randrange(200)]
            kind, rtype = KINDS[c % 6]
            res = "%s:%s-%s/%s-%d" % (kind, env, region, APPS[c % 12], randrange(12))
            parts = ['{"timestamp":"', last_ts, '","actor":"', actor, '","actor_type":"', atype, '"']
            if agent:
                parts += [',"agent":"', agent, '"']
            parts += [',"action":"', choice(ACTIONS[op]), '","operation":"', op,
                      '","resource":"', res, '","resource_type":"', rtype,
                      '","environment":"', env, '","account":"', account,
                      '","region":"', region, '"']
            if op != "read" or rnd() < 0.1:
                parts += [',"change_id":"CHG-', str(100000 + c), '"']
            if op != "read":
                dry = op == "plan" or (op == "delete" and rnd() < 0.1)
                parts.append(',"dry_run":true' if dry else ',"dry_run":false')
            if op in ("create", "update", "deploy", "delete", "permission_change"):
                r = rnd()
                if r < 0.85:
                    ap, apt, _ = humans[(c * 31 + 7) % len(humans)]
                    if ap == actor:
                        ap = humans[(c * 31 + 8) % len(humans)][0]
                elif r < 0.90:
                    ap, apt = actor, atype  # the author approved their own change
                elif r < 0.95:
                    ap, apt = ais[c % len(ais)][0], "ai_agent"
                else:
                    ap = None
                if ap:
                    parts += [',"approved_by":"', ap, '","approver_type":"', apt,
                              '","approved_at":"', fmt(max(0, s - 60 - randrange(7200))), '"']
            r = rnd()
            parts.append(',"outcome":"success"' if r < 0.96 else
                         ',"outcome":"failure"' if r < 0.99 else ',"outcome":"denied"')
            if atype == "ai_agent":
                day = day_prefix[s // 86400][:10]
                parts += [',"prompt_ref":"prompt://', actor, "/", day, "/%x" % i, '"']
                if rnd() >= 0.10:
                    parts += [',"tool_call_ref":"toolcall://', actor, "/", day, "/%x" % i, '"']
            if op == "permission_change":
                parts += [',"grants":"', choice(GRANTS), '"']
            parts.append("}\n")
            buf.append("".join(parts))
            if len(buf) >= 50000:
                f.write("".join(buf))
                buf.clear()
        f.write("".join(buf))
    os.replace(out + ".tmp", out)


# Explicit column types, shared with duckdb_policies.py.
COLUMNS = ("{timestamp: 'VARCHAR', actor: 'VARCHAR', actor_type: 'VARCHAR', agent: 'VARCHAR', "
           "action: 'VARCHAR', operation: 'VARCHAR', resource: 'VARCHAR', resource_type: 'VARCHAR', "
           "environment: 'VARCHAR', account: 'VARCHAR', region: 'VARCHAR', change_id: 'VARCHAR', "
           "dry_run: 'BOOLEAN', approved_by: 'VARCHAR', approver_type: 'VARCHAR', "
           "approved_at: 'VARCHAR', outcome: 'VARCHAR', prompt_ref: 'VARCHAR', "
           "tool_call_ref: 'VARCHAR', grants: 'VARCHAR'}")


def to_parquet(jsonl, parquet):
    import duckdb
    con = duckdb.connect()
    q = "'" + jsonl.replace("'", "''") + "'"
    con.execute("COPY (SELECT * FROM read_json(%s, format = 'newline_delimited', columns = %s)) "
                "TO '%s' (FORMAT parquet, COMPRESSION zstd)" % (q, COLUMNS, parquet.replace("'", "''") + ".tmp"))
    os.replace(parquet + ".tmp", parquet)


if __name__ == "__main__":
    main()
