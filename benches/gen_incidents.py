#!/usr/bin/env python3
"""Generates N synthetic incidents (CSV) for the deadlines benchmark.

A realistic mix for a UK retailer with an FCA-regulated arm: about a third involve
personal data, a fifth disrupt an important business service, a few are EU DORA or AI Act
cases; most are closed with their notifications done (some late), some are still open.
Deterministic for a given N and seed.

    python3 benches/gen_incidents.py 1000000 > /tmp/incidents-1m.csv
"""
import csv
import random
import sys
from datetime import datetime, timedelta, timezone

COLUMNS = [
    "id", "title", "aware_at", "personal_data", "risk_to_individuals", "cause", "severity",
    "records", "data_categories", "affected_services", "sectors", "jurisdictions",
    "disruption_start", "disruption_end", "resolved_at", "ico_notified_at",
    "subjects_notified_at", "register_recorded_at", "fca_initial_at", "delay_reason",
    "dora_classified_at", "dora_initial_at",
]
SERVICES = ["checkout", "order-fulfilment", "pay-later", "customer-accounts", "refunds"]
CAUSES = ["ai_agent", "human_error", "attack", "third_party", "system_failure"]
SEVERITIES = ["minor", "minor", "moderate", "moderate", "major", "critical"]


def ts(t):
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


def main():
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 1000
    rng = random.Random(int(sys.argv[2]) if len(sys.argv) > 2 else 42)
    start = datetime(2026, 1, 1, tzinfo=timezone.utc)
    w = csv.writer(sys.stdout, lineterminator="\n")
    w.writerow(COLUMNS)
    for i in range(n):
        aware = start + timedelta(minutes=rng.randrange(0, 333 * 24 * 60))
        personal = rng.random() < 0.35
        risk = rng.choice(["unlikely", "risk", "risk", "high"]) if personal else ""
        severity = rng.choice(SEVERITIES)
        services, sectors, juris = [], [], ["uk"]
        dstart = dend = ""
        if rng.random() < 0.2:
            services = rng.sample(SERVICES, rng.randint(1, 2))
            sectors.append("fca-regulated")
            ds = aware - timedelta(minutes=rng.randrange(0, 120))
            dstart = ts(ds)
            if rng.random() < 0.9:
                dend = ts(ds + timedelta(minutes=rng.randrange(10, 20 * 60)))
        dora_classified = dora_initial = ""
        if rng.random() < 0.03:
            sectors.append("eu-financial-entity")
            juris.append("eu")
            severity = "major"
            c = aware + timedelta(hours=rng.randrange(0, 30))
            dora_classified = ts(c)
            if rng.random() < 0.8:
                dora_initial = ts(c + timedelta(hours=rng.randrange(1, 8)))
        closed = rng.random() < 0.92
        done = lambda hours: ts(aware + timedelta(hours=hours)) if closed else ""
        ico = done(rng.randrange(2, 90)) if personal and risk != "unlikely" else ""
        late = ico and (datetime.strptime(ico, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc) - aware) > timedelta(hours=72)
        w.writerow([
            f"INC-{i:07d}",
            f"Synthetic incident {i}",
            ts(aware),
            "true" if personal else "false",
            risk,
            rng.choice(CAUSES),
            severity,
            rng.randrange(1, 200000) if personal else "",
            "contact details;order history" if personal else "",
            ";".join(services),
            ";".join(sectors),
            ";".join(juris),
            dstart,
            dend,
            done(rng.randrange(1, 96)),
            ico,
            done(rng.randrange(4, 120)) if risk == "high" else "",
            done(rng.randrange(1, 200)) if personal else "",
            done(rng.randrange(1, 30)) if "fca-regulated" in sectors and severity in ("major", "critical") else "",
            "forensic investigation needed to scope the breach" if late and rng.random() < 0.7 else "",
            dora_classified,
            dora_initial,
        ])


if __name__ == "__main__":
    main()
