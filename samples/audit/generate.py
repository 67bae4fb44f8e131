#!/usr/bin/env python3
"""Generate the `regwatch audit` samples for Hartwell & Pike, November 2026.

Deterministic (fixed seed, stdlib only). Writes next to this script:

  native/changes-2026-11.jsonl   native schema, ~5,000 events, sorted by timestamp
  native/changes-2026-11.csv     20 rows from a second team (2 of them malformed)
  cloudtrail/AWSLogs/...         23 gzipped CloudTrail log files (1 malformed record)
  k8s/audit-prod-cluster.jsonl   Kubernetes audit events (1 malformed line)
  expected-findings.json         what a reference reading of mappings/policies.toml finds
                                 in native/changes-2026-11.jsonl (see check() below)

Europe/London is GMT for all of November 2026 (BST ended 25 October), so working hours
09:00-17:30 local are 09:00-17:30 UTC here. 1 November 2026 is a Sunday.

    python3 samples/audit/generate.py
"""
import csv
import datetime as dt
import gzip
import json
import os
import random
import re
import urllib.parse
import uuid
from collections import defaultdict

HERE = os.path.dirname(os.path.abspath(__file__))
R = random.Random(20261101)
UTC = dt.timezone.utc

FIELDS = ["timestamp", "actor", "actor_type", "agent", "action", "operation", "resource",
          "resource_type", "environment", "account", "region", "change_id", "dry_run",
          "approved_by", "approver_type", "approved_at", "outcome", "prompt_ref",
          "tool_call_ref", "grants"]
ACCOUNT = {"prod": "111111111111", "staging": "222222222222", "dev": "333333333333"}
MONTH_START = dt.datetime(2026, 11, 1, tzinfo=UTC)
MONTH_END = dt.datetime(2026, 12, 1, tzinfo=UTC)
FREEZE = (dt.datetime(2026, 11, 26, tzinfo=UTC), dt.datetime(2026, 12, 1, tzinfo=UTC))
GAP = (dt.datetime(2026, 11, 19, 1, 0, tzinfo=UTC), dt.datetime(2026, 11, 19, 6, 0, tzinfo=UTC))

OPSBOT = "opsbot (Claude-based coding agent) v2.3"
DBKEEPER_18 = "dbkeeper (LLM-based database maintenance agent) v1.8"
DBKEEPER_19 = "dbkeeper (LLM-based database maintenance agent) v1.9"
PGTENDER = "pgtender (LLM-based database assistant) v0.7"
ARIA = "Aria (LLM-based customer-service agent) v4.1"
MIGRATOR = "migrator (LLM-based schema migration agent) v3.0"
DEPBOT = "depbot (LLM-based dependency upgrade agent) v1.2"

HUMANS = ["j.okafor", "a.mensah", "r.patel", "s.lindqvist", "t.nakamura", "e.walsh",
          "m.osei", "h.greaves", "c.dubois", "p.kaur", "b.adeyemi", "l.fraser"]
# One CI service per environment: services are never shared across environments.
SERVICE = {"prod": "svc-ci-deployer", "staging": "svc-ci-staging", "dev": "svc-ci-dev"}
APPS = ["checkout-api", "basket-svc", "catalogue-api", "search-svc", "payments-gw",
        "paylater-ledger", "returns-portal", "customer-accounts", "notifications",
        "pricing-engine", "stock-sync", "order-router"]

# Change ids used by the story (and the CSV); clean background changes never use them.
RESERVED = {48213, 48260, 48301, 48336, 48337, 48338, 48345, 48352, 48377, 48390, 48391,
            48392, 48393, 48402, 48415, 48430, 48431, 48455, 48470, 48481, 48490}


def ts(t):
    return t.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def hex4():
    return "%04x" % R.getrandbits(16)


def refs(agent_name, t, prompt=True, tool=True):
    """prompt_ref / tool_call_ref as the agent gateway logs them."""
    p = "prompt://%s/%s/%s" % (agent_name, t.strftime("%Y-%m-%d"), hex4())
    out = {}
    if prompt:
        out["prompt_ref"] = p
    if tool:
        out["tool_call_ref"] = "toolcall://%s/%s/%s" % (agent_name, t.strftime("%Y-%m-%d"), hex4())
    return out


EVENTS = []


def ev(t, actor, actor_type, action, operation, resource, resource_type, env, region, **kw):
    e = {"timestamp": ts(t), "actor": actor, "actor_type": actor_type, "action": action,
         "operation": operation, "resource": resource, "resource_type": resource_type,
         "environment": env, "account": ACCOUNT[env], "region": region}
    if operation != "read":
        e.setdefault("dry_run", operation == "plan")
    e.update({k: v for k, v in kw.items() if v is not None})
    if isinstance(e.get("approved_at"), dt.datetime):
        e["approved_at"] = ts(e["approved_at"])
    e.setdefault("outcome", "success")
    EVENTS.append({k: e[k] for k in FIELDS if k in e})
    return e


# --------------------------------------------------------------------------------------
# 1. Background: monitoring reads, one service per (account, region) stream.
MONITOR_STREAMS = [
    ("prod", "eu-west-2", "svc-monitor-prod-euw2"),
    ("prod", "eu-west-1", "svc-monitor-prod-euw1"),
    ("staging", "eu-west-2", "svc-monitor-staging-euw2"),
    ("dev", "eu-west-2", "svc-monitor-dev-euw2"),
]
MONITOR_CHECKS = [
    ("DescribeDBInstances", "rds:{env}-{region}/customers-db", "rds_instance"),
    ("DescribeDBInstances", "rds:{env}-{region}/orders-db", "rds_instance"),
    ("GetMetricData", "cloudwatch:{env}-{region}/checkout-latency", "cloudwatch_metric"),
    ("DescribeTargetHealth", "elb:{env}-{region}/signin-alb", "load_balancer"),
    ("kubectl get nodes", "eks:{env}-{region}/shop-cluster", "k8s_cluster"),
    ("GetQueueAttributes", "sqs:{env}-{region}/order-events", "sqs_queue"),
]


def background_monitoring():
    for env, region, actor in MONITOR_STREAMS:
        t = MONTH_START + dt.timedelta(minutes=R.randint(1, 20))
        while t < MONTH_END:
            if env == "staging" and region == "eu-west-2" and GAP[0] <= t <= GAP[1]:
                t = GAP[1] + dt.timedelta(minutes=4)  # the staging collector was down
            action, res, rtype = R.choice(MONITOR_CHECKS)
            ev(t, actor, "service", action, "read", res.format(env=env, region=region),
               rtype, env, region)
            t += dt.timedelta(seconds=R.randint(25 * 60, 55 * 60))


# --------------------------------------------------------------------------------------
# 2. Clean changes: plan, (approve), apply; approved by another human first; in hours.
CHANGE_KINDS = [
    # (plan action, apply action, operation, resource template, resource type)
    ("terraform plan", "terraform apply", "update", "ecs:{env}-{region}/{app}", "ecs_service"),
    ("kubectl diff", "kubectl rollout restart deployment/{app}", "deploy",
     "k8s:{env}-{region}/shop-{env}/deployment/{app}", "k8s_deployment"),
    ("helm diff upgrade", "helm upgrade {app}", "deploy",
     "k8s:{env}-{region}/shop-{env}/deployment/{app}", "k8s_deployment"),
    ("flyway info", "flyway migrate", "update", "rds:{env}-{region}/{app}-db", "rds_database"),
    ("terraform plan", "terraform apply", "create", "sqs:{env}-{region}/{app}-events", "sqs_queue"),
    ("terraform plan", "terraform apply", "update", "s3:{env}-{region}/hp-{app}-assets", "s3_bucket"),
    ("terraform plan", "terraform apply", "delete", "sqs:{env}-{region}/{app}-legacy-dlq", "sqs_queue"),
]
KIND_WEIGHTS = [30, 20, 15, 12, 10, 10, 3]


def clean_change(cid, day, env, region, actor, actor_type, approver, n_res=None,
                 start=None, kind=None, agent=None, approve_event=None, ref_agent=None):
    plan_action, apply_action, op, tmpl, rtype = kind or R.choices(CHANGE_KINDS, KIND_WEIGHTS)[0]
    n = n_res or R.randint(1, 5)
    apps = R.sample(APPS, min(n, len(APPS)))
    if n <= len(APPS):
        resources = [(tmpl.format(env=env, region=region, app=a), apply_action.format(app=a))
                     for a in apps]
    else:
        resources = [(tmpl.format(env=env, region=region, app="%s-%02d" % (APPS[i % len(APPS)], i)),
                      apply_action.format(app=APPS[i % len(APPS)])) for i in range(n)]
    t = start or day.replace(hour=9) + dt.timedelta(minutes=R.randint(0, 6 * 60))
    extra = lambda tt: refs(ref_agent, tt) if ref_agent else {}
    ev(t, actor, actor_type, plan_action, "plan", resources[0][0], rtype, env, region,
       change_id=cid, agent=agent, **extra(t))
    approved = t + dt.timedelta(minutes=R.randint(5, 40))
    if approve_event if approve_event is not None else R.random() < 0.5:
        ev(approved, approver, "human", "approve change", "approve", resources[0][0], rtype,
           env, region, change_id=cid)
    t = approved + dt.timedelta(minutes=R.randint(3, 30))
    for res, action in resources:
        ev(t, actor, actor_type, action, op, res, rtype, env, region, change_id=cid,
           agent=agent, approved_by=approver, approver_type="human", approved_at=approved,
           outcome="failure" if R.random() < 0.04 else "success", **extra(t))
        t += dt.timedelta(seconds=R.randint(10, 90))
    assert t.hour < 17 or (t.hour == 17 and t.minute < 30) or start, (cid, t)
    return t


_next_cid = [48200]


def next_cid():
    while True:
        _next_cid[0] += R.choice([1, 1, 2])
        if _next_cid[0] not in RESERVED:
            return "CHG-%d" % _next_cid[0]


def background_changes():
    day = MONTH_START
    while day < MONTH_END:
        if day.weekday() < 5:
            for _ in range(R.randint(6, 11)):
                env = R.choices(["prod", "staging", "dev"], [40, 35, 25])[0]
                if env == "prod" and FREEZE[0] <= day < FREEZE[1]:
                    env = R.choice(["staging", "dev"])  # nothing goes to prod in the freeze
                region = "eu-west-1" if env == "prod" and R.random() < 0.15 else "eu-west-2"
                approver_pool = list(HUMANS)
                r = R.random()
                if env == "dev" and r < 0.15:
                    actor, atype, agent, ref_agent = "opsbot", "ai_agent", OPSBOT, "opsbot"
                elif r < 0.8:
                    actor, atype, agent, ref_agent = R.choice(HUMANS), "human", None, None
                    approver_pool.remove(actor)
                else:
                    actor, atype, agent, ref_agent = SERVICE[env], "service", None, None
                clean_change(next_cid(), day, env, region, actor, atype,
                             R.choice(approver_pool), agent=agent, ref_agent=ref_agent)
        day += dt.timedelta(days=1)


def T(s):
    return dt.datetime.strptime(s, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)


# --------------------------------------------------------------------------------------
# 3. The incidents of samples/incidents.csv, and near misses.
def incidents():
    P2 = ("prod", "eu-west-2")

    # CHG-48213: opsbot drops the production customers database while fixing a bug.
    c = "CHG-48213"
    for when, action, op, res in [
        ("2026-11-03T09:02:11Z", "SELECT * FROM basket_discounts LIMIT 50", "read",
         "rds:prod-eu-west-2/customers-db"),
        ("2026-11-03T09:05:40Z", "\\d+ customers (describe schema)", "read",
         "rds:prod-eu-west-2/customers-db"),
        ("2026-11-03T09:09:03Z", "ALTER TABLE basket_discounts ALTER COLUMN amount TYPE numeric(12,2)",
         "update", "rds:prod-eu-west-2/customers-db"),
    ]:
        t = T(when)
        ev(t, "opsbot", "ai_agent", action, op, res, "rds_database", *P2, change_id=c,
           agent=OPSBOT, **refs("opsbot", t))
    t = T("2026-11-03T09:14:00Z")
    ev(t, "opsbot", "ai_agent", "DROP DATABASE customers", "delete",
       "rds:prod-eu-west-2/customers-db", "rds_database", *P2, change_id=c, agent=OPSBOT,
       prompt_ref="prompt://opsbot/2026-11-03/8f2c")

    # CHG-48260: j.okafor applies a load-balancer change to prod after hours, self-approved.
    c = "CHG-48260"
    lb = "elb:prod-eu-west-2/signin-alb"
    ev(T("2026-11-04T17:48:10Z"), "j.okafor", "human", "terraform plan -target=aws_lb_target_group.signin",
       "plan", lb, "load_balancer", *P2, change_id=c)
    ev(T("2026-11-04T17:55:30Z"), "j.okafor", "human", "approve change", "approve", lb,
       "load_balancer", *P2, change_id=c)
    ev(T("2026-11-04T18:02:00Z"), "j.okafor", "human", "terraform apply -target=aws_lb_target_group.signin",
       "update", lb, "load_balancer", *P2, change_id=c, approved_by="j.okafor",
       approver_type="human", approved_at=T("2026-11-04T17:55:30Z"))

    # 5 Nov: opsbot opens 212 pull requests in five bursts (no change id).
    pr = 4102
    pkgs = ["lodash", "axios", "react-dom", "webpack", "eslint", "typescript", "jest", "vite",
            "express", "zod", "date-fns", "sharp"]
    for start, count in [("02:00:05", 48), ("02:24:10", 44), ("02:51:30", 40),
                         ("03:19:45", 36), ("03:44:20", 44)]:
        t = T("2026-11-05T%sZ" % start)
        for i in range(count):
            pkg = R.choice(pkgs)
            ev(t, "opsbot", "ai_agent",
               "gh pr create --title 'chore(deps): bump %s to %d.%d.%d'" % (
                   pkg, R.randint(1, 9), R.randint(0, 20), R.randint(0, 9)),
               "create", "github:hartwell-pike/storefront/pull/%d" % pr, "github_pull_request",
               "dev", "eu-west-2", agent=OPSBOT, **refs("opsbot", t))
            pr += 1
            t += dt.timedelta(seconds=R.randint(8, 12))
    assert pr - 4102 == 212

    # CHG-48301: dbkeeper v1.8 deletes order rows, one delete per archive partition,
    # "approved" by pgtender (AI approving AI), out of hours, nothing logged.
    c = "CHG-48301"
    t = T("2026-11-06T01:40:00Z")
    for p in range(1, 13):
        ev(t, "dbkeeper", "ai_agent",
           "DELETE FROM orders_p%02d WHERE updated_at < now() - interval '30 days'" % p,
           "delete", "rds:prod-eu-west-2/orders-db/orders_p%02d" % p, "rds_table", *P2,
           change_id=c, agent=DBKEEPER_18, approved_by="pgtender", approver_type="ai_agent",
           approved_at=T("2026-11-06T01:37:12Z"))
        t += dt.timedelta(seconds=R.randint(60, 120))

    # CHG-48377: dbkeeper v1.9 wipes 6.3 million orders across both regions (80 partitions),
    # after copying 1.1 million to a bucket; restarted twice; no approval at all.
    c = "CHG-48377"
    t = T("2026-11-12T00:44:10Z")
    ev(t, "dbkeeper", "ai_agent", "COPY orders TO 's3://hp-orders-dedupe-backup/orders.csv'",
       "create", "s3:prod-eu-west-2/hp-orders-dedupe-backup", "s3_bucket", *P2, change_id=c,
       agent=DBKEEPER_19, **refs("dbkeeper", t))
    targets = [(r, p) for p in range(1, 41) for r in ("eu-west-2", "eu-west-1")]
    bursts = [(T("2026-11-12T00:50:00Z"), 30), (T("2026-11-12T03:20:00Z"), 25),
              (T("2026-11-12T05:10:00Z"), 25)]
    k = 0
    for t, count in bursts:
        for _ in range(count):
            region, p = targets[k]
            k += 1
            ev(t, "dbkeeper", "ai_agent",
               "DELETE FROM orders_p%02d WHERE order_id IN (SELECT order_id FROM dedupe_candidates)" % p,
               "delete", "rds:prod-%s/orders-db/orders_p%02d" % (region, p), "rds_table",
               "prod", region, change_id=c, agent=DBKEEPER_19, **refs("dbkeeper", t))
            t += dt.timedelta(seconds=R.randint(150, 200))
    assert k == 80

    # 14 Nov (Saturday): opsbot works in dev and then reads in prod (same credentials);
    # svc-ci-deployer deploys to prod only; a.mensah (human) changes staging and prod.
    t = T("2026-11-14T10:05:00Z")
    clean_change("CHG-48390", None, "dev", "eu-west-2", "opsbot", "ai_agent", "b.adeyemi",
                 start=t, kind=CHANGE_KINDS[0], agent=OPSBOT, ref_agent="opsbot", n_res=2,
                 approve_event=True)
    t = T("2026-11-14T14:02:00Z")
    for i, (action, res, rtype) in enumerate([
            ("kubectl get pods -n shop-prod", "k8s:prod-eu-west-2/shop-prod/deployment/checkout-api", "k8s_deployment"),
            ("kubectl logs deployment/checkout-api -n shop-prod", "k8s:prod-eu-west-2/shop-prod/deployment/checkout-api", "k8s_deployment"),
            ("aws rds describe-db-instances", "rds:prod-eu-west-2/customers-db", "rds_instance")]):
        ev(t, "opsbot", "ai_agent", action, "read", res, rtype, *P2, agent=OPSBOT,
           **refs("opsbot", t))
        t += dt.timedelta(minutes=3, seconds=R.randint(0, 59))
    clean_change("CHG-48391", None, "prod", "eu-west-2", "svc-ci-deployer", "service",
                 "a.mensah", start=T("2026-11-14T11:30:00Z"), kind=CHANGE_KINDS[2], n_res=1,
                 approve_event=True)
    clean_change("CHG-48392", None, "staging", "eu-west-2", "a.mensah", "human", "l.fraser",
                 start=T("2026-11-14T12:10:00Z"), kind=CHANGE_KINDS[0], n_res=2)
    clean_change("CHG-48393", None, "prod", "eu-west-2", "a.mensah", "human", "l.fraser",
                 start=T("2026-11-14T15:00:00Z"), kind=CHANGE_KINDS[0], n_res=2)

    # CHG-48402: r.patel grants "*" to opsbot-role, approved by another human.
    c = "CHG-48402"
    role = "iam:111111111111/role/opsbot-role"
    ev(T("2026-11-16T10:11:00Z"), "r.patel", "human", "terraform plan -target=aws_iam_role_policy.opsbot",
       "plan", role, "iam_role", *P2, change_id=c)
    ev(T("2026-11-16T10:22:40Z"), "s.lindqvist", "human", "approve change", "approve", role,
       "iam_role", *P2, change_id=c)
    ev(T("2026-11-16T10:30:00Z"), "r.patel", "human",
       "terraform apply -target=aws_iam_role_policy.opsbot (PutRolePolicy opsbot-full-access)",
       "permission_change", role, "iam_role", *P2, change_id=c, approved_by="s.lindqvist",
       approver_type="human", approved_at=T("2026-11-16T10:22:40Z"), grants="*")

    # CHG-48470: pgtender locks the refunds ledger (no plan), Saturday night.
    c = "CHG-48470"
    t = T("2026-11-21T02:04:30Z")
    ev(t, "pgtender", "ai_agent", "SELECT relname, n_dead_tup FROM pg_stat_user_tables", "read",
       "rds:prod-eu-west-2/refunds-db", "rds_database", *P2, change_id=c, agent=PGTENDER,
       **refs("pgtender", t))
    t = T("2026-11-21T02:10:00Z")
    ev(t, "pgtender", "ai_agent", "LOCK TABLE refunds_ledger", "update",
       "rds:prod-eu-west-2/refunds-db/refunds_ledger", "rds_table", *P2, change_id=c,
       agent=PGTENDER, **refs("pgtender", t))

    # CHG-48481: Aria reads order records in prod; neither prompt nor tool call logged.
    c = "CHG-48481"
    t = T("2026-11-22T09:00:40Z")
    for _ in range(10):
        ev(t, "aria", "ai_agent", "tool: lookup_latest_order(customer_name)", "read",
           "rds:prod-eu-west-2/orders-db/orders", "rds_table", *P2, change_id=c, agent=ARIA)
        t += dt.timedelta(minutes=R.randint(6, 14), seconds=R.randint(0, 59))

    # CHG-48490: a clean human deploy to prod inside the Black Friday freeze.
    clean_change("CHG-48490", None, "prod", "eu-west-2", "h.greaves", "human", "c.dubois",
                 start=T("2026-11-27T10:20:00Z"), kind=CHANGE_KINDS[2], n_res=1,
                 approve_event=True)
    # Pin the deploy at 11:00Z as in the brief.
    for e in EVENTS:
        if e["change_id" if "change_id" in e else "actor"] == "CHG-48490" and e["operation"] == "deploy":
            e["timestamp"] = "2026-11-27T11:00:00Z"

    # Linked, clean changes from the incident register (no policy applies to them).
    clean_change("CHG-48352", None, "prod", "eu-west-2", "m.osei", "human", "p.kaur",
                 start=T("2026-11-10T10:05:00Z"), kind=CHANGE_KINDS[2], n_res=1,
                 approve_event=True)
    clean_change("CHG-48455", None, "prod", "eu-west-2", "e.walsh", "human", "j.okafor",
                 start=T("2026-11-19T19:20:00Z"), kind=CHANGE_KINDS[0], n_res=1,
                 approve_event=True)

    # ---- near misses: must NOT be flagged -------------------------------------------
    # AI prod delete with a prior human approval and a plan, in working hours.
    c = "CHG-48430"
    res = "rds:prod-eu-west-2/customers-db/basket_discounts_old"
    t = T("2026-11-18T13:40:00Z")
    ev(t, "migrator", "ai_agent", "DROP TABLE basket_discounts_old (plan)", "plan", res,
       "rds_table", *P2, change_id=c, agent=MIGRATOR, **refs("migrator", t))
    ev(T("2026-11-18T13:55:00Z"), "t.nakamura", "human", "approve change", "approve", res,
       "rds_table", *P2, change_id=c)
    t = T("2026-11-18T14:05:00Z")
    ev(t, "migrator", "ai_agent", "DROP TABLE basket_discounts_old", "delete", res, "rds_table",
       *P2, change_id=c, agent=MIGRATOR, approved_by="t.nakamura", approver_type="human",
       approved_at=T("2026-11-18T13:55:00Z"), **refs("migrator", t))
    # Dry-run delete by an AI in prod (plan first too).
    c = "CHG-48431"
    res = "rds:prod-eu-west-2/customers-db/promo_codes_2025"
    t = T("2026-11-19T10:20:00Z")
    ev(t, "migrator", "ai_agent", "migration plan: drop promo_codes_2025", "plan", res,
       "rds_table", *P2, change_id=c, agent=MIGRATOR, **refs("migrator", t))
    t = T("2026-11-19T10:31:00Z")
    ev(t, "migrator", "ai_agent", "DROP TABLE promo_codes_2025 (dry run, rolled back)", "delete",
       res, "rds_table", *P2, change_id=c, agent=MIGRATOR, dry_run=True, **refs("migrator", t))
    # Exactly 50 resources in one region/account/environment, one change.
    clean_change("CHG-48415", None, "staging", "eu-west-2", "e.walsh", "human", "p.kaur",
                 start=T("2026-11-17T10:00:00Z"), kind=CHANGE_KINDS[0], n_res=50,
                 approve_event=True)
    # An AI making exactly 30 changes in 10 minutes (plan 30 minutes earlier).
    c = "CHG-48345"
    t = T("2026-11-10T10:30:00Z")
    ev(t, "depbot", "ai_agent", "renovate plan --dry-run", "plan",
       "github:hartwell-pike/catalogue-ui", "github_repository", "dev", "eu-west-2",
       change_id=c, agent=DEPBOT, **refs("depbot", t))
    t = T("2026-11-10T11:00:00Z")
    for i in range(30):
        ev(t, "depbot", "ai_agent", "gh pr create --title 'chore(deps): bump dependency %d'" % i,
           "create", "github:hartwell-pike/catalogue-ui/pull/%d" % (880 + i),
           "github_pull_request", "dev", "eu-west-2", change_id=c, agent=DEPBOT,
           **refs("depbot", t))
        t += dt.timedelta(seconds=18)


# --------------------------------------------------------------------------------------
# 4. Reference check: a plain reading of mappings/policies.toml over the native events.
DESTRUCTIVE_ACTIONS = ["drop", "truncate", "terminate", "wipe", "destroy", "purge", "rm -rf",
                       "deletecollection"]
PROD = {"prod", "production"}
APPLY = {"create", "update", "delete", "deploy"}


def check(events):
    P = lambda e: T(e["timestamp"])
    find = defaultdict(lambda: defaultdict(int))  # policy -> key -> events

    def destructive(e):
        a = e["action"].lower()
        return (e["operation"] == "delete" or any(p in a for p in DESTRUCTIVE_ACTIONS)) \
            and e["environment"] in PROD and not e.get("dry_run") \
            and e["operation"] not in ("plan", "read", "approve")

    def human_approved(e):
        return e.get("approver_type") == "human" and e.get("approved_by") not in (None, e["actor"]) \
            and (e.get("approved_at") is None or T(e["approved_at"]) <= P(e))

    def key(e):
        return e.get("change_id") or e["actor"]

    first_plan = {}
    for e in events:
        if e.get("change_id") and (e["operation"] == "plan" or e.get("dry_run")):
            first_plan.setdefault(e["change_id"], P(e))
    for e in events:
        t = P(e)
        if destructive(e) and e["actor_type"] == "ai_agent" and not human_approved(e):
            find["destructive-prod-without-approval"][key(e)] += 1
        if destructive(e):
            local = t  # GMT all month
            if local.weekday() >= 5 or not (dt.time(9) <= local.time() < dt.time(17, 30)):
                find["out-of-hours-destructive"][key(e)] += 1
        if e["operation"] in APPLY | {"permission_change"} and e["environment"] in PROD \
                and FREEZE[0] <= t < FREEZE[1]:
            find["change-freeze"][key(e)] += 1
        if e.get("approved_by") and e["approved_by"] == e["actor"]:
            find["self-approval"][key(e)] += 1
        if e.get("approver_type") == "ai_agent" and e["environment"] in PROD:
            find["ai-approving-ai"][key(e)] += 1
        if e["operation"] in APPLY and e["environment"] in PROD and not e.get("dry_run"):
            fp = first_plan.get(e.get("change_id"))
            if fp is None or fp >= t:
                find["no-dry-run-before-apply"][key(e)] += 1
        if e["operation"] == "permission_change" and "*" in (e.get("grants") or "") + e["action"] + e["resource"]:
            find["wildcard-permission"][key(e)] += 1
        if e["actor_type"] == "ai_agent" and not (e.get("prompt_ref") and e.get("tool_call_ref")):
            find["ai-action-not-logged"][key(e)] += 1
    # blast radius: by change id over non-read events (plans and approvals included, which
    # reuse the change's resources); without a change id, by actor within 60 minutes
    # (reads included, to be strict).
    groups = defaultdict(list)
    for e in events:
        if e.get("change_id") and e["operation"] != "read":
            groups[e["change_id"]].append(e)
    for cid, es in groups.items():
        if len({e["resource"] for e in es}) > 50 or any(
                len({e[f] for e in es}) > 1 for f in ("account", "region", "environment")):
            find["blast-radius"][cid] = len(es)
    by_actor = defaultdict(list)
    for e in events:
        if not e.get("change_id"):
            by_actor[e["actor"]].append(e)
    for actor, es in by_actor.items():
        j = 0
        for i in range(len(es)):
            while P(es[i]) - P(es[j]) > dt.timedelta(minutes=60):
                j += 1
            w = es[j:i + 1]
            if len({e["resource"] for e in w}) > 50 or any(
                    len({e[f] for e in w}) > 1 for f in ("account", "region", "environment")):
                find["blast-radius"][actor] += 1
    # AI change rate: > 30 non-read events per agent in any 10-minute window.
    per_agent = defaultdict(list)
    for e in events:
        if e["actor_type"] == "ai_agent" and e["operation"] != "read":
            per_agent[e["actor"]].append(P(e))
    for actor, times in per_agent.items():
        j = 0
        for i in range(len(times)):
            while times[i] - times[j] >= dt.timedelta(minutes=10):
                j += 1
            if i - j + 1 > 30:
                find["ai-change-rate"][actor] += 1
    # credentials across environments: non-human actors in prod and non-prod.
    envs = defaultdict(set)
    for e in events:
        if e["actor_type"] != "human":
            envs[e["actor"]].add(e["environment"] in PROD)
    for actor, s in envs.items():
        if len(s) == 2:
            find["credentials-across-environments"][actor] = 1
    # audit-trail gap: > 120 minutes between consecutive events of one (account, region).
    last = {}
    for e in events:
        src = (e["account"], e["region"])
        if src in last and P(e) - last[src] > dt.timedelta(minutes=120):
            find["audit-trail-gap"]["%s/%s %s..%s" % (src + (ts(last[src]), e["timestamp"]))] = 1
        last[src] = P(e)
    return {p: dict(sorted(v.items())) for p, v in sorted(find.items())}


EXPECTED_KEYS = {
    "destructive-prod-without-approval": {"CHG-48213", "CHG-48301", "CHG-48377"},
    "blast-radius": {"CHG-48377", "opsbot"},
    "out-of-hours-destructive": {"CHG-48301", "CHG-48377"},
    "change-freeze": {"CHG-48490"},
    "self-approval": {"CHG-48260"},
    "ai-approving-ai": {"CHG-48301"},
    "no-dry-run-before-apply": {"CHG-48213", "CHG-48301", "CHG-48377", "CHG-48470"},
    "ai-change-rate": {"opsbot"},
    "credentials-across-environments": {"opsbot"},
    "wildcard-permission": {"CHG-48402"},
    "ai-action-not-logged": {"CHG-48213", "CHG-48301", "CHG-48481"},
    "audit-trail-gap": None,  # checked below: exactly one, staging eu-west-2 on 19 Nov
}


# --------------------------------------------------------------------------------------
# 5. CSV from a second team (payments platform), plus two malformed rows.
def csv_rows():
    global EVENTS
    saved, EVENTS = EVENTS, []
    d = T("2026-11-10T09:30:00Z")
    clean_change("CHG-48336", None, "prod", "eu-west-2", "l.byrne", "human", "s.kowalski",
                 start=d, kind=CHANGE_KINDS[0], n_res=3, approve_event=True)
    clean_change("CHG-48337", None, "prod", "eu-west-2", "s.kowalski", "human", "n.ahmed",
                 start=T("2026-11-10T11:10:00Z"), kind=CHANGE_KINDS[3], n_res=2, approve_event=True)
    clean_change("CHG-48338", None, "prod", "eu-west-2", "n.ahmed", "human", "l.byrne",
                 start=T("2026-11-10T13:20:00Z"), kind=CHANGE_KINDS[1], n_res=4, approve_event=True)
    # a couple of reads by the payments on-call between changes
    for when in ("2026-11-10T10:40:00Z", "2026-11-10T12:45:00Z", "2026-11-10T14:50:00Z"):
        ev(T(when), "n.ahmed", "human", "aws rds describe-db-instances", "read",
           "rds:prod-eu-west-2/paylater-ledger-db", "rds_instance", "prod", "eu-west-2")
    rows, EVENTS = sorted(EVENTS, key=lambda e: e["timestamp"]), saved
    reads = [e for e in rows if e["operation"] == "read"]
    bad1 = dict(reads[0], timestamp="2026-11-31T10:00:00Z")  # 31 November does not exist
    bad2 = dict(reads[1], actor="paybot-recon", actor_type="robot")  # not an actor type
    rows.insert(rows.index(reads[0]) + 1, bad1)
    rows.insert(rows.index(reads[1]) + 1, bad2)
    return rows


# --------------------------------------------------------------------------------------
# 6. CloudTrail (account 111111111111, eu-west-2).
ACCT = "111111111111"
SSO_ROLE = "AWSReservedSSO_Engineer_abc123"
CLI_UA = ("aws-cli/2.17.20 md/awscrt#0.20.11 ua/2.0 os/linux#6.8.0-45-generic md/arch#x86_64 "
          "lang/python#3.11.9 md/pyimpl#CPython cfg/retry-mode#standard md/installer#exe "
          "md/prompt#off md/command#%s")
AGENT_UA = ("aws-cli/2.17.20 md/awscrt#0.20.11 ua/2.0 os/linux#6.8.0-1015-aws md/arch#x86_64 "
            "lang/python#3.11.9 md/pyimpl#CPython app/claude-code/1.0.71 cfg/retry-mode#standard "
            "md/installer#exe md/prompt#off md/command#%s")


def uid():
    return str(uuid.UUID(int=R.getrandbits(128), version=4))


def akid(prefix="ASIA"):
    return prefix + "".join(R.choice("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567") for _ in range(16))


def principal_id():
    return "AROA" + "".join(R.choice("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567") for _ in range(17))


ROLE_IDS = {}


def assumed(role, session, t, mfa=False):
    rid = ROLE_IDS.setdefault(role, principal_id())
    return {
        "type": "AssumedRole",
        "principalId": "%s:%s" % (rid, session),
        "arn": "arn:aws:sts::%s:assumed-role/%s/%s" % (ACCT, role, session),
        "accountId": ACCT,
        "accessKeyId": akid(),
        "sessionContext": {
            "sessionIssuer": {"type": "Role", "principalId": rid,
                              "arn": "arn:aws:iam::%s:role/%s" % (ACCT, role) if not role.startswith("AWSReserved")
                              else "arn:aws:iam::%s:role/aws-reserved/sso.amazonaws.com/eu-west-2/%s" % (ACCT, role),
                              "accountId": ACCT, "userName": role},
            "attributes": {"creationDate": ts(t - dt.timedelta(minutes=R.randint(5, 50))),
                           "mfaAuthenticated": "true" if mfa else "false"},
        },
    }


def iam_user(name):
    return {"type": "IAMUser", "principalId": "AIDA" + "".join(R.choice("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567") for _ in range(17)),
            "arn": "arn:aws:iam::%s:user/%s" % (ACCT, name), "accountId": ACCT,
            "accessKeyId": akid("AKIA"), "userName": name}


def record(t, ident, source, name, params, response, ip, ua, read_only, resources=None,
           error=None, data_event=False, event_type="AwsApiCall", extra=None):
    r = {
        "eventVersion": "1.09" if not data_event else "1.10",
        "userIdentity": ident,
        "eventTime": ts(t),
        "eventSource": source,
        "eventName": name,
        "awsRegion": "eu-west-2",
        "sourceIPAddress": ip,
        "userAgent": ua,
    }
    if error:
        r["errorCode"], r["errorMessage"] = error
    r["requestParameters"] = params
    r["responseElements"] = response
    if extra:
        r.update(extra)  # additionalEventData, as AWS puts it after the response
    r["requestID"] = uid() if not source.startswith("s3") else "".join(R.choice("0123456789ABCDEF") for _ in range(16))
    r["eventID"] = uid()
    r["readOnly"] = read_only
    if resources:
        r["resources"] = resources
    r["eventType"] = event_type
    r["managementEvent"] = not data_event
    r["recipientAccountId"] = ACCT
    r["eventCategory"] = "Data" if data_event else "Management"
    r["tlsDetails"] = {"tlsVersion": "TLSv1.3", "cipherSuite": "TLS_AES_128_GCM_SHA256",
                       "clientProvidedHostHeader": source.split(".")[0] + ".eu-west-2.amazonaws.com"}
    return r


OFFICE_IPS = ["203.0.113.24", "203.0.113.57", "203.0.113.90"]
AGENT_IP = "198.51.100.17"


def human_sso(person, t):
    return assumed(SSO_ROLE, "%s@hartwell-pike.co.uk" % person, t, mfa=True)


def routine_reads(t0, n):
    out = []
    t = t0
    for _ in range(n):
        person = R.choice(["j.okafor", "a.mensah", "s.lindqvist", "t.nakamura"])
        kind = R.randrange(3)
        ip = R.choice(OFFICE_IPS)
        if kind == 0:
            db = R.choice(["customers-db", "orders-db", "refunds-db"])
            out.append(record(t, human_sso(person, t), "rds.amazonaws.com", "DescribeDBInstances",
                              {"dBInstanceIdentifier": db}, None, ip, CLI_UA % "rds.describe-db-instances", True))
        elif kind == 1:
            out.append(record(t, human_sso(person, t), "s3.amazonaws.com", "ListBuckets",
                              {"Host": "s3.eu-west-2.amazonaws.com"}, None, ip, CLI_UA % "s3.ls", True))
        else:
            bucket, key = "hp-prod-reports", "daily/2026-11-%02d/sales.csv" % t.day
            out.append(record(t, human_sso(person, t), "s3.amazonaws.com", "GetObject",
                              {"bucketName": bucket, "Host": "%s.s3.eu-west-2.amazonaws.com" % bucket, "key": key},
                              None, ip, CLI_UA % "s3.cp", True,
                              resources=[{"type": "AWS::S3::Object", "ARN": "arn:aws:s3:::%s/%s" % (bucket, key)},
                                         {"accountId": ACCT, "type": "AWS::S3::Bucket", "ARN": "arn:aws:s3:::%s" % bucket}],
                              data_event=True))
        t += dt.timedelta(seconds=R.randint(20, 240))
    return out


def cloudtrail():
    files = {}  # (day, file time) -> records
    # 3 Nov, routine morning reads.
    files[T("2026-11-03T08:55:00Z")] = routine_reads(T("2026-11-03T08:31:12Z"), 10)
    # 3 Nov, opsbot session: reads, a dry-run terminate, the database deletion, terminations.
    t = T("2026-11-03T09:03:00Z")
    sess = "opsbot-claude-session-1762160400"
    ob = lambda tt: assumed("opsbot-agent-role", sess, tt)
    recs = [record(t, ob(t), "rds.amazonaws.com", "DescribeDBInstances",
                   {"dBInstanceIdentifier": "customers-db"}, None, AGENT_IP,
                   AGENT_UA % "rds.describe-db-instances", True)]
    t = T("2026-11-03T09:11:30Z")
    inst = ["i-0a7c3e91f2b4d5601", "i-0b19d8e2c6a4f7702"]
    items = {"instancesSet": {"items": [{"instanceId": i} for i in inst]}, "dryRun": True}
    recs.append(record(t, ob(t), "ec2.amazonaws.com", "TerminateInstances", items, None,
                       AGENT_IP, AGENT_UA % "ec2.terminate-instances", False,
                       error=("Client.DryRunOperation", "Request would have succeeded, but DryRun flag is set.")))
    t = T("2026-11-03T09:14:00Z")
    db_arn = "arn:aws:rds:eu-west-2:%s:db:customers-db" % ACCT
    recs.append(record(t, ob(t), "rds.amazonaws.com", "DeleteDBInstance",
                       {"dBInstanceIdentifier": "customers-db", "skipFinalSnapshot": True,
                        "deleteAutomatedBackups": False},
                       {"dBInstanceIdentifier": "customers-db", "dBInstanceClass": "db.r6g.2xlarge",
                        "engine": "postgres", "dBInstanceStatus": "deleting", "dBInstanceArn": db_arn,
                        "multiAZ": True, "engineVersion": "16.4", "deletionProtection": False},
                       AGENT_IP, AGENT_UA % "rds.delete-db-instance", False,
                       resources=[{"accountId": ACCT, "type": "AWS::RDS::DBInstance", "ARN": db_arn}]))
    t = T("2026-11-03T09:16:42Z")
    recs.append(record(t, ob(t), "ec2.amazonaws.com", "TerminateInstances",
                       {"instancesSet": {"items": [{"instanceId": i} for i in inst]}},
                       {"requestId": uid(), "instancesSet": {"items": [
                           {"instanceId": i, "currentState": {"code": 32, "name": "shutting-down"},
                            "previousState": {"code": 16, "name": "running"}} for i in inst]}},
                       AGENT_IP, AGENT_UA % "ec2.terminate-instances", False,
                       resources=[{"accountId": ACCT, "type": "AWS::EC2::Instance",
                                   "ARN": "arn:aws:ec2:eu-west-2:%s:instance/%s" % (ACCT, i)} for i in inst]))
    recs += routine_reads(T("2026-11-03T09:22:00Z"), 8)
    files[T("2026-11-03T09:20:00Z")] = recs
    # 8 Nov (Sunday): routine reads, then a legacy IAM user changes and stops the trail.
    files[T("2026-11-08T14:05:00Z")] = routine_reads(T("2026-11-08T13:40:00Z"), 6)
    t = T("2026-11-08T22:47:13Z")
    du = iam_user("d.hughes")
    trail = "arn:aws:cloudtrail:eu-west-2:%s:trail/hp-org-trail" % ACCT
    recs = [record(t, du, "cloudtrail.amazonaws.com", "UpdateTrail",
                   {"name": "hp-org-trail", "includeGlobalServiceEvents": False, "isMultiRegionTrail": False},
                   {"name": "hp-org-trail", "s3BucketName": "hp-org-cloudtrail-logs", "includeGlobalServiceEvents": False,
                    "isMultiRegionTrail": False, "trailARN": trail, "logFileValidationEnabled": True,
                    "isOrganizationTrail": False},
                   "192.0.2.201", "aws-cli/1.29.62 Python/3.8.10 Linux/5.15.0-91-generic botocore/1.31.62", False,
                   resources=[{"accountId": ACCT, "type": "AWS::CloudTrail::Trail", "ARN": trail}])]
    t = T("2026-11-08T22:48:02Z")
    recs.append(record(t, du, "cloudtrail.amazonaws.com", "StopLogging", {"name": trail}, None,
                       "192.0.2.201", "aws-cli/1.29.62 Python/3.8.10 Linux/5.15.0-91-generic botocore/1.31.62", False,
                       resources=[{"accountId": ACCT, "type": "AWS::CloudTrail::Trail", "ARN": trail}]))
    files[T("2026-11-08T22:50:00Z")] = recs
    # 10 Nov: routine reads; one record has lost its eventTime (malformed).
    recs = routine_reads(T("2026-11-10T10:02:00Z"), 12)
    del recs[4]["eventTime"]
    files[T("2026-11-10T10:35:00Z")] = recs
    # 16 Nov: r.patel puts a wildcard inline policy on the agent's role.
    recs = routine_reads(T("2026-11-16T10:01:00Z"), 5)
    t = T("2026-11-16T10:30:00Z")
    doc = json.dumps({"Version": "2012-10-17", "Statement": [
        {"Sid": "OpsbotFullAccess", "Effect": "Allow", "Action": "*", "Resource": "*"}]},
        separators=(",", ":"))
    recs.append(record(t, human_sso("r.patel", t), "iam.amazonaws.com", "PutRolePolicy",
                       {"roleName": "opsbot-agent-role", "policyName": "opsbot-full-access",
                        "policyDocument": doc}, None, R.choice(OFFICE_IPS),
                       "APN/1.0 HashiCorp/1.0 Terraform/1.9.8 (+https://www.terraform.io) terraform-provider-aws/5.72.1 "
                       "(+https://registry.terraform.io/providers/hashicorp/aws) aws-sdk-go-v2/1.32.2 ua/2.1 "
                       "os/linux lang/go#1.23.2 md/GOOS#linux md/GOARCH#amd64 api/iam#1.37.2", False,
                       ))
    recs.sort(key=lambda r: r.get("eventTime", ""))
    files[T("2026-11-16T10:35:00Z")] = recs

    return write_cloudtrail(files)


def write_cloudtrail(files):
    """Writes each (delivery time -> records) as CloudTrail names and gzips its files;
    returns (path, number of records) for each."""
    base = os.path.join(HERE, "cloudtrail", "AWSLogs", ACCT, "CloudTrail", "eu-west-2")
    written = []
    for ft, recs in sorted(files.items()):
        d = os.path.join(base, "2026", "11", "%02d" % ft.day)
        os.makedirs(d, exist_ok=True)
        rnd = "".join(R.choice("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789") for _ in range(16))
        name = "%s_CloudTrail_eu-west-2_%sZ_%s.json.gz" % (ACCT, ft.strftime("%Y%m%dT%H%M"), rnd)
        body = json.dumps({"Records": recs}, separators=(",", ":")).encode()
        with open(os.path.join(d, name), "wb") as f:
            f.write(gzip.compress(body, mtime=0))
        written.append((os.path.relpath(os.path.join(d, name), HERE), len(recs)))
    return written


# --------------------------------------------------------------------------------------
# 6b. CloudTrail guardrails (issue 22): 24 Nov, the legacy IAM user d.hughes (who stopped
# the trail on 8 Nov) signs in without MFA and opens the account up; a leaked key probes
# it; opsbot harvests secrets; j.okafor opens a shell on a production host; r.patel
# cleans up. Each record is a trigger or a near miss; EXPECTED_CT says which.
EXPECTED_CT = []  # {policy (None: a near miss), file, record, what}
EXPECTED_K8S = []  # {policy (None: a near miss), auditID, stage, line, what}
ATTACKER_IP = "192.0.2.201"
LEAKED_IP = "198.51.100.233"
TF_UA = ("APN/1.0 HashiCorp/1.0 Terraform/1.9.8 (+https://www.terraform.io) terraform-provider-aws/5.72.1 "
         "(+https://registry.terraform.io/providers/hashicorp/aws) aws-sdk-go-v2/1.32.2 ua/2.1 "
         "os/linux lang/go#1.23.2 md/GOOS#linux md/GOARCH#amd64 api/%s")
OLD_CLI = "aws-cli/1.29.62 Python/3.8.10 Linux/5.15.0-91-generic botocore/1.31.62"
BROWSER = ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
           "Chrome/130.0.0.0 Safari/537.36")


def policy_doc(statements):
    return json.dumps({"Version": "2012-10-17", "Statement": statements}, separators=(",", ":"))


def cloudtrail_guardrails():
    recs = []

    def add(policy, what, t, ident, source, name, params, response, ip, ua, read_only=False, **kw):
        r = record(t, ident, source, name, params, response, ip, ua, read_only, **kw)
        recs.append((r, policy, what))
        return r

    du = iam_user("d.hughes")
    leaked = iam_user("svc-reporting-legacy")
    arn = lambda kind, name: "arn:aws:iam::%s:%s/%s" % (ACCT, kind, name)
    admin = "arn:aws:iam::aws:policy/AdministratorAccess"
    day = "2026-11-24T"

    def login(person_ident, t, mfa, ok):
        r = add(None, None, t, person_ident, "signin.amazonaws.com", "ConsoleLogin", None,
                {"ConsoleLogin": "Success" if ok else "Failure"}, ATTACKER_IP, BROWSER,
                event_type="AwsConsoleSignIn",
                extra={"additionalEventData": {"LoginTo": "https://console.aws.amazon.com/console/home?state=hashArgs%23",
                                               "MobileVersion": "No", "MFAUsed": mfa}})
        if not ok:
            r["errorMessage"] = "Failed authentication"
        return r

    # Console sign-ins: a failed one without MFA (near miss), then the real one.
    login(du, T(day + "12:58:41Z"), "No", False)
    recs[-1] = (recs[-1][0], None, "failed console sign-in without MFA (an attempt)")
    login(du, T(day + "13:01:07Z"), "No", True)
    recs[-1] = (recs[-1][0], "ct-console-login-without-mfa", "d.hughes signs in with a password alone")
    bg = iam_user("break-glass-admin")
    login(bg, T(day + "09:12:30Z"), "Yes", True)
    recs[-1] = (recs[-1][0], None, "break-glass sign-in with MFA (quarterly test)")

    # A leaked key probes the account: 14 denied calls in 4 minutes (a burst).
    probes = [("iam.amazonaws.com", "ListUsers", "iam:ListUsers", None),
              ("iam.amazonaws.com", "ListRoles", "iam:ListRoles", None),
              ("secretsmanager.amazonaws.com", "ListSecrets", "secretsmanager:ListSecrets", None),
              ("ec2.amazonaws.com", "DescribeInstances", None, "Client.UnauthorizedOperation"),
              ("s3.amazonaws.com", "ListBuckets", "s3:ListAllMyBuckets", None),
              ("iam.amazonaws.com", "CreateUser", "iam:CreateUser", None),
              ("lambda.amazonaws.com", "ListFunctions20150331", "lambda:ListFunctions", None)]
    t = T(day + "13:03:10Z")
    for i in range(14):
        src, name, action, code = probes[i % len(probes)]
        if code:
            err = (code, "You are not authorized to perform this operation.")
        else:
            err = ("AccessDenied", "User: %s is not authorized to perform: %s on resource: * because no "
                   "identity-based policy allows the %s action" % (leaked["arn"], action, action))
        params = {"userName": "backup-%d" % i} if name == "CreateUser" else None
        add("ct-denied-attempts" if i == 0 else None, "a leaked key probing: 14 denied calls in 4 minutes" if i == 0 else None,
            t, leaked, src, name, params, None, LEAKED_IP, "python-requests/2.31.0 botocore/1.34.2",
            read_only=name not in ("CreateUser",), error=err)
        if i:
            recs[-1] = (recs[-1][0], "", "")  # part of the burst above
        t += dt.timedelta(seconds=R.randint(8, 22))
    # Two denied reads by an engineer in the wrong account profile (not a burst).
    for k in range(2):
        tt = T(day + "10:20:00Z") + dt.timedelta(seconds=35 * k)
        add(None, "two denied reads by an engineer (not a burst)", tt, human_sso("a.mensah", tt),
            "rds.amazonaws.com", "DescribeDBSnapshots", {"dBInstanceIdentifier": "customers-db"}, None,
            R.choice(OFFICE_IPS), CLI_UA % "rds.describe-db-snapshots", read_only=True,
            error=("AccessDenied", "User: arn:aws:sts::%s:assumed-role/%s/a.mensah@hartwell-pike.co.uk is not "
                   "authorized to perform: rds:DescribeDBSnapshots" % (ACCT, SSO_ROLE)))

    # Credentials for another user; an engineer's own key rotation (near miss).
    t = T(day + "13:09:52Z")
    add("ct-credentials-for-other-user", "d.hughes makes an access key for svc-backup", t, du,
        "iam.amazonaws.com", "CreateAccessKey", {"userName": "svc-backup"},
        {"accessKey": {"accessKeyId": akid("AKIA"), "status": "Active", "userName": "svc-backup",
                       "createDate": "Nov 24, 2026, 1:09:52 PM"}}, ATTACKER_IP, OLD_CLI)
    own = iam_user("ci-artifact-uploader")
    t = T(day + "09:30:04Z")
    add(None, "a user rotating its own access key", t, own, "iam.amazonaws.com", "CreateAccessKey",
        {"userName": "ci-artifact-uploader"},
        {"accessKey": {"accessKeyId": akid("AKIA"), "status": "Active", "userName": "ci-artifact-uploader",
                       "createDate": "Nov 24, 2026, 9:30:04 AM"}}, "10.20.4.11", CLI_UA % "iam.create-access-key")

    # Admin to the new credentials; a read-only grant and detaches (near misses).
    t = T(day + "13:11:15Z")
    add("wildcard-permission", "d.hughes attaches AdministratorAccess to svc-backup", t, du,
        "iam.amazonaws.com", "AttachUserPolicy", {"userName": "svc-backup", "policyArn": admin}, None,
        ATTACKER_IP, OLD_CLI)
    t = T(day + "11:05:00Z")
    add(None, "a read-only grant (ec2:Describe* on *)", t, human_sso("r.patel", t), "iam.amazonaws.com",
        "PutRolePolicy", {"roleName": "hp-cost-explorer", "policyName": "describe-only",
                          "policyDocument": policy_doc([{"Effect": "Allow", "Action": ["ec2:Describe*", "rds:Describe*"],
                                                         "Resource": "*"}])}, None, R.choice(OFFICE_IPS), TF_UA % "iam#1.37.2")

    # Trust policy opened to another account; a role trusting its own account (near miss).
    trust = lambda principal: policy_doc([{"Effect": "Allow", "Principal": {"AWS": principal},
                                           "Action": "sts:AssumeRole"}])
    t = T(day + "13:13:40Z")
    add("ct-trust-policy-opened", "hp-backup-role trusts account 444455556666", t, du, "iam.amazonaws.com",
        "UpdateAssumeRolePolicy", {"roleName": "hp-backup-role", "policyDocument": trust("arn:aws:iam::444455556666:root")},
        None, ATTACKER_IP, OLD_CLI)
    t = T(day + "11:06:10Z")
    add(None, "a new role trusting its own account", t, human_sso("r.patel", t), "iam.amazonaws.com", "CreateRole",
        {"roleName": "hp-reports-reader", "assumeRolePolicyDocument": trust("arn:aws:iam::%s:root" % ACCT)},
        {"role": {"path": "/", "roleName": "hp-reports-reader", "roleId": principal_id(),
                  "arn": arn("role", "hp-reports-reader"), "createDate": "Nov 24, 2026, 11:06:10 AM",
                  "assumeRolePolicyDocument": urllib.parse.quote(trust("arn:aws:iam::%s:root" % ACCT))}},
        R.choice(OFFICE_IPS), TF_UA % "iam#1.37.2")

    # Bucket made public; a failed public ACL and an in-account bucket policy (near misses).
    bucket = "hp-prod-reports"
    bucket_res = [{"accountId": ACCT, "type": "AWS::S3::Bucket", "ARN": "arn:aws:s3:::" + bucket}]
    t = T(day + "13:16:02Z")
    add("ct-bucket-shared", "hp-prod-reports opened to everyone", t, du, "s3.amazonaws.com", "PutBucketPolicy",
        {"bucketName": bucket, "Host": "%s.s3.eu-west-2.amazonaws.com" % bucket, "policy": [""],
         "bucketPolicy": {"Version": "2012-10-17", "Statement": [
             {"Sid": "PublicRead", "Effect": "Allow", "Principal": "*", "Action": "s3:GetObject",
              "Resource": "arn:aws:s3:::%s/*" % bucket}]}},
        None, ATTACKER_IP, OLD_CLI, resources=bucket_res,
        extra={"additionalEventData": {"SignatureVersion": "SigV4", "CipherSuite": "TLS_AES_128_GCM_SHA256",
                                       "bytesTransferredIn": 0, "AuthenticationMethod": "AuthHeader",
                                       "x-amz-id-2": "Zx1N2cWlE7", "bytesTransferredOut": 0}})
    t = T(day + "13:15:20Z")
    add(None, "a public ACL that failed (AccessDenied: Block Public Access)", t, du, "s3.amazonaws.com", "PutBucketAcl",
        {"bucketName": bucket, "Host": "%s.s3.eu-west-2.amazonaws.com" % bucket, "acl": [""],
         "AccessControlPolicy": {"AccessControlList": {"Grant": [
             {"Grantee": {"xsi:type": "Group", "URI": "http://acs.amazonaws.com/groups/global/AllUsers"},
              "Permission": "READ"}]}}},
        None, ATTACKER_IP, OLD_CLI, resources=bucket_res, error=("AccessDenied", "Access Denied"))
    t = T(day + "11:08:30Z")
    add(None, "a bucket policy for a role of the same account", t, human_sso("r.patel", t), "s3.amazonaws.com",
        "PutBucketPolicy", {"bucketName": "hp-app-logs", "Host": "hp-app-logs.s3.eu-west-2.amazonaws.com", "policy": [""],
                            "bucketPolicy": {"Version": "2012-10-17", "Statement": [
                                {"Effect": "Allow", "Principal": {"AWS": arn("role", "hp-log-writer")},
                                 "Action": "s3:PutObject", "Resource": "arn:aws:s3:::hp-app-logs/*"}]}},
        None, R.choice(OFFICE_IPS), TF_UA % "s3#1.66.0",
        resources=[{"accountId": ACCT, "type": "AWS::S3::Bucket", "ARN": "arn:aws:s3:::hp-app-logs"}])

    # Database snapshot shared with another account; unshared later (near miss).
    snap = "customers-db-nightly-2026-11-24"
    snap_res = [{"accountId": ACCT, "type": "AWS::RDS::DBSnapshot",
                 "ARN": "arn:aws:rds:eu-west-2:%s:snapshot:%s" % (ACCT, snap)}]
    t = T(day + "13:18:33Z")
    add("ct-snapshot-shared", "customers-db snapshot shared with 444455556666", t, du, "rds.amazonaws.com",
        "ModifyDBSnapshotAttribute", {"dBSnapshotIdentifier": snap, "attributeName": "restore",
                                      "valuesToAdd": ["444455556666"]},
        {"dBSnapshotIdentifier": snap, "dBSnapshotAttributes": [{"attributeName": "restore",
                                                                 "attributeValues": ["444455556666"]}]},
        ATTACKER_IP, OLD_CLI, resources=snap_res)

    # SSH open to the internet; HTTPS for the load balancer, a failed duplicate (near misses).
    def ingress(group, port, cidr):
        return {"groupId": group, "ipPermissions": {"items": [
            {"ipProtocol": "tcp", "fromPort": port, "toPort": port, "groups": {}, "ipRanges": {"items": [{"cidrIp": cidr}]},
             "ipv6Ranges": {}, "prefixListIds": {}}]}}

    sg_resp = lambda: {"requestId": uid(), "_return": True, "securityGroupRuleSet": {"items": [
        {"groupOwnerId": ACCT, "isEgress": False, "securityGroupRuleId": "sgr-0" + uid().replace("-", "")[:16]}]}}
    t = T(day + "13:20:05Z")
    add("ct-admin-port-open-to-world", "SSH (22) open to 0.0.0.0/0", t, du, "ec2.amazonaws.com",
        "AuthorizeSecurityGroupIngress", ingress("sg-0c1f4e2a7b9d30561", 22, "0.0.0.0/0"), sg_resp(),
        ATTACKER_IP, OLD_CLI)
    t = T(day + "11:10:12Z")
    add(None, "HTTPS (443) open to 0.0.0.0/0 for the load balancer", t, human_sso("r.patel", t), "ec2.amazonaws.com",
        "AuthorizeSecurityGroupIngress", ingress("sg-0a9e8d7c6b5a40312", 443, "0.0.0.0/0"), sg_resp(),
        R.choice(OFFICE_IPS), TF_UA % "ec2#1.187.0")
    t = T(day + "13:20:40Z")
    add(None, "RDP (3389) to 0.0.0.0/0 that failed (duplicate rule)", t, du, "ec2.amazonaws.com",
        "AuthorizeSecurityGroupIngress", ingress("sg-0c1f4e2a7b9d30561", 3389, "0.0.0.0/0"), None,
        ATTACKER_IP, OLD_CLI, error=("Client.InvalidPermission.Duplicate",
                                     "the specified rule \"peer: 0.0.0.0/0, TCP, from port: 3389, to port: 3389, ALLOW\" already exists"))

    # A Lambda function anyone can invoke; one S3 of this account may invoke (near miss).
    fn = lambda name: "arn:aws:lambda:eu-west-2:%s:function:%s" % (ACCT, name)
    t = T(day + "13:22:18Z")
    add("ct-lambda-public-permission", "invoice-render invocable by anyone", t, du, "lambda.amazonaws.com",
        "AddPermission20150331v2", {"functionName": "invoice-render", "statementId": "public-invoke",
                                    "action": "lambda:InvokeFunction", "principal": "*"},
        {"statement": json.dumps({"Sid": "public-invoke", "Effect": "Allow", "Principal": "*",
                                  "Action": "lambda:InvokeFunction", "Resource": fn("invoice-render")})},
        ATTACKER_IP, OLD_CLI)
    t = T(day + "11:12:40Z")
    add(None, "S3 of the same account may invoke the thumbnailer", t, human_sso("r.patel", t), "lambda.amazonaws.com",
        "AddPermission20150331v2", {"functionName": "thumbnailer", "statementId": "s3-invoke",
                                    "action": "lambda:InvokeFunction", "principal": "s3.amazonaws.com",
                                    "sourceAccount": ACCT, "sourceArn": "arn:aws:s3:::hp-product-images"},
        {"statement": "{\"Sid\":\"s3-invoke\"}"}, R.choice(OFFICE_IPS), TF_UA % "lambda#1.64.0")

    # opsbot reads 24 secrets in about three minutes; the checkout service reads its 6 at start.
    sess = "opsbot-claude-session-1763990100"
    t = T(day + "13:40:02Z")
    for i, name in enumerate(["prod/%s/%s" % (app, kind) for app in APPS[:8] for kind in ("db", "api-key", "jwt")]):
        sid = "arn:aws:secretsmanager:eu-west-2:%s:secret:%s-%s" % (ACCT, name, "".join(R.choice("abcdefABCDEF0123456789") for _ in range(6)))
        add("ct-secret-read-burst" if i == 0 else "", "opsbot reads 24 production secrets in 3 minutes" if i == 0 else "",
            t, assumed("opsbot-agent-role", sess, t), "secretsmanager.amazonaws.com", "GetSecretValue",
            {"secretId": sid}, None, AGENT_IP, AGENT_UA % "secretsmanager.get-secret-value", read_only=True,
            resources=[{"accountId": ACCT, "type": "AWS::SecretsManager::Secret", "ARN": sid}])
        t += dt.timedelta(seconds=R.randint(4, 11))
    t = T(day + "08:00:31Z")
    for i in range(6):
        sid = "arn:aws:secretsmanager:eu-west-2:%s:secret:prod/checkout-api/k%d-Q1w2E3" % (ACCT, i)
        add(None if i == 0 else "", "the checkout service reads its 6 secrets at start (not a burst)" if i == 0 else "",
            t, assumed("checkout-api-task-role", "3f9a1c2e8b7d4f60a1b2c3d4e5f60718", t),
            "secretsmanager.amazonaws.com", "GetSecretValue", {"secretId": sid}, None, "10.20.7.45",
            "aws-sdk-java/2.28.16 Linux/5.10.227-219.884.amzn2.x86_64 OpenJDK_64-Bit_Server_VM/21.0.5+11-LTS "
            "Java/21.0.5 vendor/Amazon.com_Inc. md/internal exec-env/AWS_ECS_FARGATE",
            read_only=True, resources=[{"accountId": ACCT, "type": "AWS::SecretsManager::Secret", "ARN": sid}])
        t += dt.timedelta(milliseconds=R.randint(40, 300))

    # j.okafor opens a shell on a production host to investigate; a failed attempt (near miss).
    inst = "i-0a7c3e91f2b4d5603"
    t = T(day + "14:05:27Z")
    add(None, "a session that failed (TargetNotConnected)", t, human_sso("t.nakamura", t), "ssm.amazonaws.com",
        "StartSession", {"target": inst}, None, R.choice(OFFICE_IPS), CLI_UA % "ssm.start-session",
        error=("TargetNotConnected", "%s is not connected." % inst))
    t = T(day + "14:10:44Z")
    add("ct-interactive-session-in-production", "j.okafor opens a shell on a production host", t,
        human_sso("j.okafor", t), "ssm.amazonaws.com", "StartSession", {"target": inst},
        {"sessionId": "j.okafor@hartwell-pike.co.uk-0f3a8c1d2e4b56789",
         "tokenValue": "Value hidden due to security reasons.",
         "streamUrl": "wss://ssmmessages.eu-west-2.amazonaws.com/v1/data-channel/j.okafor@hartwell-pike.co.uk-0f3a8c1d2e4b56789?role=publish_subscribe&cell-number=AAEAAQ"},
        R.choice(OFFICE_IPS), CLI_UA % "ssm.start-session",
        resources=[{"accountId": ACCT, "type": "AWS::EC2::Instance",
                    "ARN": "arn:aws:ec2:eu-west-2:%s:instance/%s" % (ACCT, inst)}])

    # r.patel cleans up: detaches, removes the wildcard policy of 16 Nov, unshares.
    t = T(day + "16:02:10Z")
    add(None, "AdministratorAccess detached (a detach grants nothing)", t, human_sso("r.patel", t),
        "iam.amazonaws.com", "DetachUserPolicy", {"userName": "svc-backup", "policyArn": admin}, None,
        R.choice(OFFICE_IPS), CLI_UA % "iam.detach-user-policy")
    t = T(day + "16:03:55Z")
    add(None, "opsbot's wildcard inline policy deleted (grants nothing)", t, human_sso("r.patel", t),
        "iam.amazonaws.com", "DeleteRolePolicy", {"roleName": "opsbot-agent-role", "policyName": "opsbot-full-access"},
        None, R.choice(OFFICE_IPS), CLI_UA % "iam.delete-role-policy")
    t = T(day + "16:05:31Z")
    add(None, "the snapshot unshared", t, human_sso("r.patel", t), "rds.amazonaws.com", "ModifyDBSnapshotAttribute",
        {"dBSnapshotIdentifier": snap, "attributeName": "restore", "valuesToRemove": ["444455556666"]},
        {"dBSnapshotIdentifier": snap, "dBSnapshotAttributes": [{"attributeName": "restore", "attributeValues": []}]},
        R.choice(OFFICE_IPS), CLI_UA % "rds.modify-db-snapshot-attribute", resources=snap_res)

    # Delivered as CloudTrail does: a file per five minutes with records, in time order.
    files = defaultdict(list)
    expected = []
    for r, policy, what in sorted(recs, key=lambda x: x[0]["eventTime"]):
        t = T(r["eventTime"])
        ft = t.replace(minute=t.minute - t.minute % 5, second=0) + dt.timedelta(minutes=5)
        files[ft].append(r)
        if policy != "":
            expected.append((ft, len(files[ft]), policy, what))
    written = write_cloudtrail(files)
    paths = {ft: path for ft, (path, _) in zip(sorted(files), written)}
    for ft, rec_no, policy, what in expected:
        EXPECTED_CT.append({"policy": policy, "file": paths[ft], "record": rec_no, "what": what})
    return written


# --------------------------------------------------------------------------------------
# 7. Kubernetes audit log of the prod cluster.
def k8s():
    lines = []
    us = lambda t: t.strftime("%Y-%m-%dT%H:%M:%S.") + "%06dZ" % t.microsecond
    human = {"username": "j.okafor@hartwell-pike.co.uk",
             "groups": ["oidc:platform-engineers", "system:authenticated"]}
    argo = {"username": "system:serviceaccount:argocd:argocd-application-controller",
            "uid": "6f1d2c4e-8a3b-4c5d-9e7f-0a1b2c3d4e5f",
            "groups": ["system:serviceaccounts", "system:serviceaccounts:argocd", "system:authenticated"]}
    opsbot = {"username": "system:serviceaccount:agents:opsbot",
              "uid": "0c9e8d7f-6a5b-4c3d-2e1f-a0b9c8d7e6f5",
              "groups": ["system:serviceaccounts", "system:serviceaccounts:agents", "system:authenticated"]}
    kcm = {"username": "system:kube-controller-manager",
           "groups": ["system:authenticated"]}
    UA = {"kcm": "kube-controller-manager/v1.31.2 (linux/amd64) kubernetes/5864a46/leader-election",
          "human": "kubectl/v1.31.2 (linux/amd64) kubernetes/5864a46",
          "argo": "argocd-application-controller/v2.13.1 (linux/amd64) kubernetes/$Format",
          "opsbot": "claude-code/1.0.71 kubectl/v1.31.0 (linux/amd64) kubernetes/9edcffc"}
    IPS = {"kcm": ["10.42.0.2"], "human": ["203.0.113.24"], "argo": ["10.42.3.17"], "opsbot": ["10.42.7.33"]}
    GROUPS = {"leases": "coordination.k8s.io", "deployments": "apps", "configmaps": "", "pods": "", "secrets": "", "services": ""}

    def line(t, who, verb, resource, ns, name, code=200, level="Metadata", dry=False,
             prompt=None, tool=None, change=None, subresource=None, query=""):
        user = {"kcm": kcm, "human": human, "argo": argo, "opsbot": opsbot}[who]
        group = GROUPS[resource]
        prefix = "/apis/%s/v1" % group if group else "/api/v1"
        uri = "%s/namespaces/%s/%s" % (prefix, ns, resource)
        if name and verb not in ("create", "list", "watch"):
            uri += "/" + name
        if subresource:
            uri += "/" + subresource
        q = []
        if dry:
            q.append("dryRun=All")
        if verb == "patch":
            q.append("fieldManager=kubectl-client-side-apply")
        if query:
            q.append(query)
        if q:
            uri += "?" + "&".join(q)
        obj = {"resource": resource, "namespace": ns, "apiVersion": "v1"}
        if name:
            obj["name"] = name
        if group:
            obj["apiGroup"] = group
        if subresource:
            obj["subresource"] = subresource
        ann = {"authorization.k8s.io/decision": "allow" if code != 403 else "forbid",
               "authorization.k8s.io/reason": {
                   "kcm": 'RBAC: allowed by ClusterRoleBinding "system:kube-controller-manager" of ClusterRole "system:kube-controller-manager" to User "system:kube-controller-manager"',
                   "human": 'RBAC: allowed by ClusterRoleBinding "platform-engineers" of ClusterRole "cluster-admin" to Group "oidc:platform-engineers"',
                   "argo": 'RBAC: allowed by ClusterRoleBinding "argocd-application-controller" of ClusterRole "argocd-application-controller" to ServiceAccount "argocd-application-controller/argocd"',
                   "opsbot": 'RBAC: allowed by RoleBinding "opsbot-edit/%s" of ClusterRole "edit" to ServiceAccount "opsbot/agents"' % ns}[who]}
        if prompt:
            ann["regwatch.io/prompt-ref"] = prompt
        if tool:
            ann["regwatch.io/tool-call-ref"] = tool
        if change:
            ann["regwatch.io/change-id"] = change
        t2 = t + dt.timedelta(microseconds=R.randint(2000, 180000))
        e = {"kind": "Event", "apiVersion": "audit.k8s.io/v1", "level": level, "auditID": uid(),
             "stage": "ResponseComplete", "requestURI": uri, "verb": verb, "user": user,
             "sourceIPs": IPS[who], "userAgent": UA[who], "objectRef": obj,
             "responseStatus": {"metadata": {}, "code": code},
             "requestReceivedTimestamp": us(t), "stageTimestamp": us(t2), "annotations": ann}
        if code >= 400:
            e["responseStatus"].update({"status": "Failure", "reason": "Forbidden" if code == 403 else "NotFound"})
        lines.append((t, json.dumps(e, separators=(",", ":"))))

    def jitter(s):
        return T(s) + dt.timedelta(microseconds=R.randint(0, 999999))

    # The controller manager renews its leader lease all the time; one renewal in each
    # 40-59 minutes is kept here, so the stream is continuous without being huge.
    t = MONTH_START + dt.timedelta(minutes=R.randint(0, 30))
    while t < MONTH_END:
        line(t, "kcm", "update", "leases", "kube-system", "kube-controller-manager")
        t += dt.timedelta(minutes=R.randint(40, 59), microseconds=R.randint(0, 999999))
    # ArgoCD syncs through the month (service, prod and staging namespaces).
    day = MONTH_START + dt.timedelta(days=1)
    while day < MONTH_END:
        if day.weekday() < 5:
            for ns in ("shop-prod", "shop-staging"):
                if ns == "shop-prod" and FREEZE[0] <= day:
                    continue
                app = R.choice(APPS[:6])
                t = day.replace(hour=R.randint(9, 16), minute=R.randint(0, 59)) + dt.timedelta(microseconds=R.randint(0, 999999))
                line(t, "argo", "patch", "deployments", ns, app, level="RequestResponse")
        day += dt.timedelta(days=1)
    # j.okafor's routine reads.
    for d in (2, 4, 9, 11, 17, 24):
        t = jitter("2026-11-%02dT10:15:00Z" % d)
        line(t, "human", "get", "pods", "shop-prod", None, query="limit=500")
        line(t + dt.timedelta(seconds=40), "human", "get", "deployments", "shop-prod", "checkout-api")
    # opsbot on 3 Nov: reads with full provenance, then deletes checkout-api (no approval;
    # prompt logged, tool call not).
    p = "prompt://opsbot/2026-11-03/8f2c"
    line(jitter("2026-11-03T09:06:00Z"), "opsbot", "get", "deployments", "shop-prod", "checkout-api",
         prompt=p, tool="toolcall://opsbot/2026-11-03/1a7e", change="CHG-48213")
    line(jitter("2026-11-03T09:06:30Z"), "opsbot", "get", "pods", "shop-prod", None,
         prompt=p, tool="toolcall://opsbot/2026-11-03/1a7f", change="CHG-48213")
    line(jitter("2026-11-03T09:17:05Z"), "opsbot", "delete", "deployments", "shop-prod", "checkout-api",
         level="RequestResponse", prompt=p, change="CHG-48213")
    line(jitter("2026-11-03T09:17:20Z"), "opsbot", "delete", "services", "shop-prod", "checkout-api",
         level="RequestResponse", change="CHG-48213")
    # opsbot on 14 Nov: a server-side dry-run patch in prod, then real patches in staging.
    p = "prompt://opsbot/2026-11-14/c41d"
    line(jitter("2026-11-14T14:20:00Z"), "opsbot", "patch", "deployments", "shop-prod", "basket-svc",
         level="RequestResponse", dry=True, prompt=p, tool="toolcall://opsbot/2026-11-14/77a0",
         change="CHG-48395")
    line(jitter("2026-11-14T14:24:00Z"), "opsbot", "patch", "deployments", "shop-staging", "basket-svc",
         level="RequestResponse", prompt=p, tool="toolcall://opsbot/2026-11-14/77a1", change="CHG-48395")
    line(jitter("2026-11-14T14:26:00Z"), "opsbot", "get", "secrets", "shop-prod", "paylater-db-credentials",
         code=403, prompt=p, change="CHG-48395")
    # j.okafor weakens the audit policy (logging tamper).
    line(jitter("2026-11-20T16:42:00Z"), "human", "update", "configmaps", "kube-system", "audit-policy",
         level="RequestResponse")
    # j.okafor, a normal human change in staging.
    line(jitter("2026-11-12T11:03:00Z"), "human", "patch", "deployments", "shop-staging", "search-svc",
         level="RequestResponse")
    # The malformed line is a copy, cut short, of the line in the middle of those above.
    lines.sort(key=lambda x: x[0])
    middle = lines[len(lines) // 2][1]
    k8s_guardrails(lines, us, human)
    lines.sort(key=lambda x: x[0])
    out = [l for _, l in lines]
    bad_at = out.index(middle)
    truncated = out[bad_at][: len(out[bad_at]) // 2]  # cut off mid-object: invalid JSON
    out.insert(bad_at, truncated)
    for x in EXPECTED_K8S:
        x["line"] = next(i + 1 for i, l in enumerate(out) if '"auditID":"%s"' % x["auditID"] in l
                         and '"stage":"%s"' % x["stage"] in l and is_json(l))
    path = os.path.join(HERE, "k8s", "audit-prod-cluster.jsonl")
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        f.write("\n".join(out) + "\n")
    return len(out), bad_at + 1


def is_json(text):
    try:
        json.loads(text)
        return True
    except ValueError:
        return False


def k8s_guardrails(lines, us, human):
    """What the Kubernetes guardrails look for (issue 22), as the API server logs it:
    j.okafor's shell in a production pod (logged at RequestReceived, ResponseStarted and
    ResponseComplete under one auditID, counted once), a binding to cluster-admin and one
    to `view`, a privileged debug pod, a change to a system ClusterRole; and the
    ReplicaSet controller's pod (a service's write, not a person's)."""
    ua = "kubectl/v1.31.2 (linux/amd64) kubernetes/5864a46"
    rs = {"username": "system:serviceaccount:kube-system:replicaset-controller",
          "groups": ["system:serviceaccounts", "system:serviceaccounts:kube-system", "system:authenticated"]}
    rs_ua = "kube-controller-manager/v1.31.2 (linux/amd64) kubernetes/5864a46/system:serviceaccount:kube-system:replicaset-controller"
    rbac = "rbac.authorization.k8s.io"

    def add(t, user, agent, verb, resource, group, ns, name, code=200, stage="ResponseComplete",
            sub=None, body=None, audit_id=None, query=""):
        prefix = "/apis/%s/v1" % group if group else "/api/v1"
        uri = prefix + ("/namespaces/" + ns if ns else "") + "/" + resource
        if verb != "create" or sub:
            uri += "/" + name
        if sub:
            uri += "/" + sub
        if query:
            uri += "?" + query
        obj = {"resource": resource, "namespace": ns, "name": name, "apiGroup": group or None,
               "apiVersion": "v1", "subresource": sub}
        e = {"kind": "Event", "apiVersion": "audit.k8s.io/v1",
             "level": "RequestResponse" if body else "Metadata", "auditID": audit_id or uid(),
             "stage": stage, "requestURI": uri, "verb": verb, "user": user, "impersonatedUser": None,
             "sourceIPs": ["203.0.113.24"], "userAgent": agent,
             "objectRef": {k: v for k, v in obj.items() if v is not None},
             "responseStatus": {"metadata": {}, "code": code},
             "requestReceivedTimestamp": us(t),
             "stageTimestamp": us(t + dt.timedelta(microseconds=R.randint(2000, 180000))),
             "annotations": {"authorization.k8s.io/decision": "allow",
                             "authorization.k8s.io/reason": 'RBAC: allowed by ClusterRoleBinding "platform-engineers" of ClusterRole "cluster-admin" to Group "oidc:platform-engineers"'}}
        if stage == "RequestReceived":
            del e["responseStatus"]
        if body:
            e["requestObject"] = body
        if code >= 400 and "responseStatus" in e:
            e["responseStatus"].update({"status": "Failure", "reason": {403: "Forbidden", 404: "NotFound"}[code]})
        if code >= 400:
            e["annotations"]["authorization.k8s.io/decision"] = "forbid" if code == 403 else "allow"
            if code == 403:
                e["annotations"]["authorization.k8s.io/reason"] = ""
        lines.append((t, json.dumps(e, separators=(",", ":"))))
        return e["auditID"]

    def expect(policy, audit_id, stage, what):
        EXPECTED_K8S.append({"policy": policy, "auditID": audit_id, "stage": stage, "what": what})

    session = uid()
    t = T("2026-11-18T11:20:00Z") + dt.timedelta(microseconds=R.randint(0, 999999))
    for stage in ("RequestReceived", "ResponseStarted", "ResponseComplete"):
        add(t, human, ua, "create", "pods", "", "shop-prod", "checkout-api-7d9f8-x2lqp",
            code=101, stage=stage, sub="exec", audit_id=session,
            query="command=sh&container=checkout-api&stdin=true&tty=true")
    expect("k8s-interactive-access-in-prod", session, "ResponseStarted", "j.okafor's shell in a shop-prod pod")
    ref = lambda name: {"apiGroup": rbac, "kind": "ClusterRole", "name": name}
    subject = [{"kind": "User", "apiGroup": rbac, "name": "contractor@hartwell-pike.co.uk"}]
    expect("wildcard-permission", add(T("2026-11-18T11:41:12Z"), human, ua, "create", "clusterrolebindings", rbac, None, "contractor-admin",
        code=201, body={"kind": "ClusterRoleBinding", "apiVersion": rbac + "/v1",
                        "metadata": {"name": "contractor-admin"}, "roleRef": ref("cluster-admin"), "subjects": subject}),
           "ResponseComplete", "a contractor bound to cluster-admin")
    expect(None, add(T("2026-11-18T11:43:30Z"), human, ua, "create", "rolebindings", rbac, "shop-prod", "contractor-view",
        code=201, body={"kind": "RoleBinding", "apiVersion": rbac + "/v1",
                        "metadata": {"name": "contractor-view", "namespace": "shop-prod"},
                        "roleRef": ref("view"), "subjects": subject}),
           "ResponseComplete", "a read-only grant (view in shop-prod)")
    expect("k8s-privileged-workload-in-prod", add(T("2026-11-18T11:52:04Z"), human, ua, "create", "pods", "", "shop-prod", "netdebug",
        code=201, body={"kind": "Pod", "apiVersion": "v1", "metadata": {"name": "netdebug", "namespace": "shop-prod"},
                        "spec": {"hostNetwork": True, "containers": [{"name": "netshoot", "image": "nicolaka/netshoot:v0.13",
                                                                      "securityContext": {"privileged": True}}]}}),
           "ResponseComplete", "a privileged pod with hostNetwork in shop-prod")
    expect("k8s-system-clusterrole-changed",
           add(T("2026-11-18T12:05:40Z"), human, ua, "patch", "clusterroles", rbac, None, "system:aggregate-to-view",
               body={"rules": [{"apiGroups": [""], "resources": ["secrets"], "verbs": ["get", "list", "watch"]}]},
               query="fieldManager=kubectl-edit"),
           "ResponseComplete", "the system ClusterRole system:aggregate-to-view patched")
    expect(None, add(T("2026-11-18T12:10:02Z"), rs, rs_ua, "create", "pods", "", "shop-prod", "checkout-api-7d9f8-q8wzn",
        code=201, body={"kind": "Pod", "apiVersion": "v1",
                        "spec": {"containers": [{"name": "checkout-api", "image": "checkout-api:4.18.2", "securityContext": None}]}}),
           "ResponseComplete", "the ReplicaSet controller creates a plain pod (a service)")

    # 23-25 Nov: more of what reviewers look for, and near misses.
    contractor = {"username": "contractor@hartwell-pike.co.uk", "groups": ["oidc:contractors", "system:authenticated"]}
    opsbot = {"username": "system:serviceaccount:agents:opsbot", "uid": "0c9e8d7f-6a5b-4c3d-2e1f-a0b9c8d7e6f5",
              "groups": ["system:serviceaccounts", "system:serviceaccounts:agents", "system:authenticated"]}
    bot_ua = "claude-code/1.0.71 kubectl/v1.31.0 (linux/amd64) kubernetes/9edcffc"
    # A shell the contractor was refused (403: an attempt, no session), logged at
    # RequestReceived and ResponseComplete.
    denied = uid()
    t = T("2026-11-23T09:12:00Z") + dt.timedelta(microseconds=R.randint(0, 999999))
    for stage in ("RequestReceived", "ResponseComplete"):
        add(t, contractor, ua, "create", "pods", "", "shop-prod", "payments-gw-5c8d7-lm2vb", code=403,
            stage=stage, sub="exec", audit_id=denied, query="command=bash&container=payments-gw&stdin=true&tty=true")
    expect(None, denied, "ResponseComplete", "an exec refused with 403 (an attempt, not a session)")
    # A shell in staging (not production).
    staging = uid()
    t = T("2026-11-23T10:40:00Z") + dt.timedelta(microseconds=R.randint(0, 999999))
    for stage in ("RequestReceived", "ResponseStarted", "ResponseComplete"):
        add(t, human, ua, "create", "pods", "", "shop-staging", "search-svc-6b7c9-pp4kd", code=101,
            stage=stage, sub="exec", audit_id=staging, query="command=sh&container=search-svc&stdin=true&tty=true")
    expect(None, staging, "ResponseStarted", "a shell in shop-staging (not production)")
    # opsbot creates a DaemonSet that mounts the node's root and sees its processes, in prod.
    ds = lambda name, ns, path: {"kind": "DaemonSet", "apiVersion": "apps/v1",
                                 "metadata": {"name": name, "namespace": ns},
                                 "spec": {"selector": {"matchLabels": {"app": name}}, "template": {
                                     "metadata": {"labels": {"app": name}},
                                     "spec": {"hostPID": path == "/", "containers": [
                                         {"name": name, "image": "busybox:1.37", "command": ["sleep", "infinity"],
                                          "volumeMounts": [{"name": "host", "mountPath": "/host"}]}],
                                         "volumes": [{"name": "host", "hostPath": {"path": path, "type": "Directory"}}]}}}}
    expect("k8s-privileged-workload-in-prod",
           add(T("2026-11-24T15:31:09Z"), opsbot, bot_ua, "create", "daemonsets", "apps", "shop-prod", "node-debug",
               code=201, body=ds("node-debug", "shop-prod", "/")),
           "ResponseComplete", "opsbot's DaemonSet with hostPath / and hostPID in shop-prod")
    expect(None, add(T("2026-11-24T15:33:40Z"), opsbot, bot_ua, "create", "daemonsets", "apps", "shop-staging",
                     "node-debug", code=201, body=ds("node-debug", "shop-staging", "/var/log")),
           "ResponseComplete", "the same DaemonSet (hostPath /var/log) in shop-staging (not production)")
    # opsbot's attempt to bind itself to cluster-admin, refused (403): grants nothing.
    expect(None, add(T("2026-11-24T15:36:02Z"), opsbot, bot_ua, "create", "clusterrolebindings", rbac, None,
                     "opsbot-admin", code=403,
                     body={"kind": "ClusterRoleBinding", "apiVersion": rbac + "/v1", "metadata": {"name": "opsbot-admin"},
                           "roleRef": ref("cluster-admin"),
                           "subjects": [{"kind": "ServiceAccount", "name": "opsbot", "namespace": "agents"}]}),
           "ResponseComplete", "a cluster-admin binding refused with 403 (an attempt)")
    # j.okafor removes the contractor's cluster-admin binding (a detach: grants nothing).
    expect(None, add(T("2026-11-25T09:05:17Z"), human, ua, "delete", "clusterrolebindings", rbac, None,
                     "contractor-admin", body={"kind": "DeleteOptions", "apiVersion": "meta.k8s.io/v1",
                                               "propagationPolicy": "Background"}),
           "ResponseComplete", "the cluster-admin binding deleted (a detach grants nothing)")


def main():
    background_monitoring()
    background_changes()
    incidents()
    EVENTS.sort(key=lambda e: e["timestamp"])
    os.makedirs(os.path.join(HERE, "native"), exist_ok=True)
    with open(os.path.join(HERE, "native", "changes-2026-11.jsonl"), "w") as f:
        for e in EVENTS:
            f.write(json.dumps(e, separators=(",", ":"), ensure_ascii=False) + "\n")

    found = check(EVENTS)
    for pol, keys in EXPECTED_KEYS.items():
        got = set(found.get(pol, {}))
        if keys is None:
            assert len(got) == 1 and "222222222222/eu-west-2" in next(iter(got)), (pol, got)
        else:
            assert got == keys, (pol, got, keys)
    assert set(found) == set(EXPECTED_KEYS), set(found) ^ set(EXPECTED_KEYS)

    rows = csv_rows()
    with open(os.path.join(HERE, "native", "changes-2026-11.csv"), "w", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(FIELDS)
        for e in rows:
            w.writerow(["" if e.get(k) is None else ("true" if e[k] is True else "false" if e[k] is False else e[k])
                        for k in FIELDS])
    bad_csv = [i + 2 for i, e in enumerate(rows)
               if e["timestamp"].startswith("2026-11-31") or e["actor_type"] == "robot"]

    ct = cloudtrail()
    k8s_lines, k8s_bad = k8s()
    ct += cloudtrail_guardrails()  # last: the files above keep their random draws
    with open(os.path.join(HERE, "expected-findings.json"), "w") as f:
        json.dump({"source": "native/changes-2026-11.jsonl",
                   "note": "policy id -> change_id (or actor, or source) -> number of events; "
                           "reference reading of mappings/policies.toml made by generate.py check()",
                   "findings": found,
                   "guardrails": {
                       "note": "issue 22: CloudTrail records (file, 1-based record) and Kubernetes lines "
                               "the story makes a trigger of a policy (the first event of a burst), or a "
                               "near miss (policy null) that no ct-*, k8s-* or wildcard-permission "
                               "finding may hold",
                       "cloudtrail": EXPECTED_CT,
                       "k8s": [{"policy": x["policy"], "file": "k8s/audit-prod-cluster.jsonl",
                                "line": x["line"], "what": x["what"]} for x in EXPECTED_K8S],
                   }}, f, indent=2)
        f.write("\n")
    print("native jsonl: %d events" % len(EVENTS))
    print("native csv: %d data rows, malformed at file lines %s" % (len(rows), bad_csv))
    for path, n in ct:
        print("cloudtrail: %s (%d records)" % (path, n))
    print("k8s: %d lines, malformed at line %d" % (k8s_lines, k8s_bad))
    for pol, keys in found.items():
        print("  %-36s %s" % (pol, keys))


if __name__ == "__main__":
    main()
