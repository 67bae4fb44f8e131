#!/usr/bin/env python3
"""Copies the parts of the OCSF schema that tests/support/ocsf_validate.py needs into
tests/fixtures/ocsf/, from a clone of https://github.com/ocsf/ocsf-schema at a release
tag: the event class and the classes it extends, the profiles they include, the objects
regwatch's events use (with the objects they extend and the profiles those include),
dictionary.json, categories.json, version.json, LICENSE and NOTICE.

    python3 tests/support/ocsf_vendor.py GIT_DIR TAG

Run it again, with more objects in OBJECTS, when the events gain an object; the
validator names any object it cannot find.
"""
import json
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "..", "fixtures", "ocsf")

CLASS = "events/findings/compliance_finding.json"
OBJECTS = [
    "compliance", "finding_info", "analytic", "metadata", "product",
    "resource_details", "evidences", "actor", "user",
]


def show(git_dir, tag, path):
    return subprocess.check_output(["git", "-C", git_dir, "show", f"{tag}:{path}"])


def main(git_dir, tag):
    files = subprocess.check_output(
        ["git", "-C", git_dir, "ls-tree", "-r", "--name-only", tag]).decode().split()
    events = {os.path.basename(f)[:-5]: f for f in files
              if f.startswith("events/") and f.endswith(".json")}
    wanted, queue = set(), [CLASS] + [f"objects/{o}.json" for o in OBJECTS]
    while queue:
        path = queue.pop()
        if path in wanted:
            continue
        wanted.add(path)
        doc = json.loads(show(git_dir, tag, path))
        parent = doc.get("extends")
        if parent:
            queue.append(events[parent] if path.startswith("events/")
                         else f"objects/{parent}.json")
        queue.extend(doc.get("attributes", {}).get("$include", []))
    wanted |= {"dictionary.json", "categories.json", "version.json", "LICENSE", "NOTICE"}
    for path in sorted(wanted):
        target = os.path.join(OUT, path)
        os.makedirs(os.path.dirname(target), exist_ok=True)
        with open(target, "wb") as f:
            f.write(show(git_dir, tag, path))
        print(path)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
