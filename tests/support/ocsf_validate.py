#!/usr/bin/env python3
"""Validates OCSF events (JSON lines) against an OCSF schema checkout, as the OCSF
server compiles it: an event class with the classes it extends (`extends`) and the
profiles they include (`$include`), attribute types, arrays and enums from
dictionary.json, and objects resolved the same way, recursively.

    python3 ocsf_validate.py SCHEMA_DIR CLASS_PATH EVENTS.jsonl

CLASS_PATH is relative to SCHEMA_DIR (events/findings/compliance_finding.json). Checked
for every event, at every depth:
  - every required attribute is present (those of a profile only when the event lists
    the profile in metadata.profiles);
  - no attribute the class or object does not define (nor a profile's unless applied),
    and none deprecated;
  - each value has its type (string, integer, long, float, boolean, json, or an object
    checked in turn; an array where the dictionary says is_array), a type's regex and
    range, and an enum value where the attribute has an enum;
  - class_uid is category_uid * 1000 + the class's uid, category_uid the class's
    category, type_uid is class_uid * 100 + activity_id, and each name beside an id
    (severity, status, activity_name, class_name, category_name, type_name) is that id's
    caption (unless the id is 99, Other);
  - an object's at_least_one and just_one constraints.
Prints each error with the line and the attribute path; exit status 1 when any, else 0
and a line saying how many events were valid.
"""
import json
import os
import re
import sys


class Schema:
    def __init__(self, root):
        self.root = root
        self.dictionary = self.load("dictionary.json")["attributes"]
        self.types = self.load("dictionary.json")["types"]["attributes"]
        self.categories = self.load("categories.json")["attributes"]
        self.version = self.load("version.json")["version"]
        self.objects = {}

    def load(self, path):
        full = os.path.join(self.root, path)
        if not os.path.exists(full):
            raise SystemExit(f"{path} is not in {self.root}: vendor it (tests/support/ocsf_vendor.py)")
        with open(full, encoding="utf-8") as f:
            return json.load(f)

    def resolve(self, path, find_parent):
        """A class's or object's attributes, its parents' first, with the profiles its
        files include; and its constraints (the nearest definition's)."""
        doc = self.load(path)
        attrs, constraints = {}, None
        if doc.get("extends"):
            attrs, constraints, _ = self.resolve(find_parent(doc["extends"]), find_parent)
            attrs = {k: dict(v) for k, v in attrs.items()}
        own = dict(doc.get("attributes", {}))
        for inc in own.pop("$include", []):
            profile = self.load(inc)
            name = profile.get("name") if profile.get("meta") == "profile" else None
            for key, spec in profile.get("attributes", {}).items():
                merged = dict(attrs.get(key, {}))
                merged.update(spec)
                if name and "profile" not in attrs.get(key, {}):
                    merged["profile"] = name
                attrs[key] = merged
        for key, spec in own.items():
            merged = dict(attrs.get(key, {}))
            merged.update(spec)
            if "enum" in spec and "enum" in attrs.get(key, {}):
                merged["enum"] = {**attrs[key]["enum"], **spec["enum"]}
            attrs[key] = merged
        return attrs, doc.get("constraints", constraints), doc

    def object(self, name):
        if name not in self.objects:
            path = f"objects/{name}.json"
            if not os.path.exists(os.path.join(self.root, path)):
                raise KeyError(name)
            attrs, constraints, _ = self.resolve(path, lambda p: f"objects/{p}.json")
            self.objects[name] = (self.complete(attrs), constraints)
        return self.objects[name]

    def complete(self, attrs):
        """Each attribute with its dictionary entry: type, is_array, enum (the
        dictionary's, overridden value by value by the class's or object's)."""
        out = {}
        for key, spec in attrs.items():
            entry = dict(self.dictionary.get(key, {}))
            enum = {**entry.get("enum", {}), **spec.get("enum", {})}
            entry.update(spec)
            if enum:
                entry["enum"] = enum
            entry["_known"] = key in self.dictionary
            out[key] = entry
        return out

    def base_type(self, t):
        """string_t, integer_t, long_t, float_t, boolean_t or json_t, and the regexes
        and ranges on the way there."""
        checks = []
        while t in self.types and self.types[t].get("type"):
            checks.append(self.types[t])
            t = self.types[t]["type"]
        if t in self.types:
            checks.append(self.types[t])
        return t, checks


class Validator:
    def __init__(self, schema, class_path):
        self.schema = schema
        events_dir = os.path.join(schema.root, "events")
        index = {}
        for dirpath, _, files in os.walk(events_dir):
            for f in files:
                if f.endswith(".json"):
                    rel = os.path.relpath(os.path.join(dirpath, f), schema.root)
                    index[f[:-5]] = rel
        attrs, _, doc = schema.resolve(class_path, lambda p: index[p])
        self.attrs = schema.complete(attrs)
        self.doc = doc
        # The class's category comes from the first file in its chain that names one.
        category = doc.get("category")
        parent = doc.get("extends")
        while category is None and parent:
            pdoc = schema.load(index[parent])
            category, parent = pdoc.get("category"), pdoc.get("extends")
        cat = schema.categories[category]
        self.category_uid = cat["uid"]
        self.category_caption = cat["caption"]
        self.class_uid = cat["uid"] * 1000 + doc["uid"]
        self.class_caption = doc["caption"]
        # As the OCSF server compiles a class: its own class_uid and category_uid, and a
        # type_uid for each of its activities.
        self.attrs["class_uid"]["enum"] = {str(self.class_uid): {"caption": self.class_caption}}
        self.attrs["category_uid"]["enum"] = {str(self.category_uid): {"caption": self.category_caption}}
        self.attrs["type_uid"]["enum"] = {
            str(self.class_uid * 100 + int(a)): {"caption": f"{self.class_caption}: {c['caption']}"}
            for a, c in self.attrs["activity_id"]["enum"].items()
        }

    def validate(self, event):
        errors = []
        profiles = set((event.get("metadata") or {}).get("profiles") or [])
        self.check_object(event, self.attrs, None, "", profiles, errors)
        self.check_classification(event, errors)
        return errors

    def check_classification(self, e, errors):
        def caption(attr, value):
            enum = self.attrs.get(attr, {}).get("enum", {})
            return enum.get(str(value), {}).get("caption")

        if e.get("category_uid") != self.category_uid:
            errors.append(f"category_uid: {e.get('category_uid')!r}, the class's category is {self.category_uid}")
        if e.get("class_uid") != self.class_uid:
            errors.append(f"class_uid: {e.get('class_uid')!r}, the class is {self.class_uid}")
        activity = e.get("activity_id")
        if isinstance(activity, int) and e.get("type_uid") != self.class_uid * 100 + activity:
            errors.append(f"type_uid: {e.get('type_uid')!r}, must be class_uid * 100 + activity_id = {self.class_uid * 100 + activity}")
        names = {
            "category_name": self.category_caption,
            "class_name": self.class_caption,
            "activity_name": caption("activity_id", activity),
            "type_name": f"{self.class_caption}: {caption('activity_id', activity)}",
        }
        for attr, want in names.items():
            if attr in e and activity != 99 and e[attr] != want:
                errors.append(f"{attr}: {e[attr]!r}, the caption is {want!r}")

    def check_object(self, value, attrs, constraints, path, profiles, errors):
        for key in value:
            spec = attrs.get(key)
            where = f"{path}{key}"
            if spec is None or (spec.get("profile") and spec["profile"] not in profiles):
                errors.append(f"{where}: not an attribute of this class or object")
                continue
            if "@deprecated" in spec:
                errors.append(f"{where}: deprecated since {spec['@deprecated'].get('since')}")
            self.check_value(value[key], spec, where, profiles, errors)
        for key, spec in attrs.items():
            applies = not spec.get("profile") or spec["profile"] in profiles
            if spec.get("requirement") == "required" and applies and key not in value:
                errors.append(f"{path}{key}: required, missing")
        for kind, keys in (constraints or {}).items():
            present = [k for k in keys if k in value]
            if kind == "at_least_one" and not present:
                errors.append(f"{path.rstrip('.') or '(event)'}: needs at least one of {keys}")
            if kind == "just_one" and len(present) != 1:
                errors.append(f"{path.rstrip('.') or '(event)'}: needs exactly one of {keys}, has {present}")
        # The names beside ids: the caption of the id (unless Other).
        for key, spec in attrs.items():
            sibling = spec.get("sibling")
            if sibling and key in value and sibling in value and "enum" in spec:
                if value[key] != 99 and key not in ("activity_id",):
                    want = spec["enum"].get(str(value[key]), {}).get("caption")
                    if want is not None and value[sibling] != want:
                        errors.append(f"{path}{sibling}: {value[sibling]!r}, the caption of {key} {value[key]} is {want!r}")

    def check_value(self, v, spec, where, profiles, errors):
        if spec.get("is_array"):
            if not isinstance(v, list):
                errors.append(f"{where}: must be an array")
                return
            for i, item in enumerate(v):
                self.check_one(item, spec, f"{where}[{i}]", profiles, errors)
        else:
            self.check_one(v, spec, where, profiles, errors)

    def check_one(self, v, spec, where, profiles, errors):
        t = spec.get("type")
        if t is None:
            errors.append(f"{where}: no type in the dictionary")
            return
        if not t.endswith("_t") and t != "object":
            if not isinstance(v, dict):
                errors.append(f"{where}: must be an object ({t})")
                return
            try:
                attrs, constraints = self.schema.object(t)
            except KeyError:
                errors.append(f"{where}: object {t} is not vendored (tests/support/ocsf_vendor.py)")
                return
            self.check_object(v, attrs, constraints, f"{where}.", profiles, errors)
            return
        if t == "object":
            if not isinstance(v, dict):
                errors.append(f"{where}: must be an object")
            return
        base, checks = self.schema.base_type(t)
        ok = {
            "string_t": lambda x: isinstance(x, str),
            "integer_t": lambda x: isinstance(x, int) and not isinstance(x, bool) and -2**31 <= x < 2**31,
            "long_t": lambda x: isinstance(x, int) and not isinstance(x, bool) and -2**63 <= x < 2**63,
            "float_t": lambda x: isinstance(x, (int, float)) and not isinstance(x, bool),
            "boolean_t": lambda x: isinstance(x, bool),
            "json_t": lambda x: True,
        }.get(base)
        if ok is None:
            errors.append(f"{where}: unknown base type {base}")
            return
        if not ok(v):
            errors.append(f"{where}: {v!r} is not a {t} ({base})")
            return
        for c in checks:
            if "regex" in c and isinstance(v, str) and not re.search(c["regex"], v):
                errors.append(f"{where}: {v!r} does not match the {t} pattern")
            if "range" in c and not (c["range"][0] <= v <= c["range"][1]):
                errors.append(f"{where}: {v} out of range {c['range']}")
            if "max_len" in c and isinstance(v, str) and len(v) > c["max_len"]:
                errors.append(f"{where}: longer than {c['max_len']}")
        if "enum" in spec and str(v) not in spec["enum"]:
            errors.append(f"{where}: {v!r} is not one of {sorted(spec['enum'], key=lambda k: int(k) if k.lstrip('-').isdigit() else k)}")


def main(root, class_path, events_path):
    schema = Schema(root)
    validator = Validator(schema, class_path)
    failures, count = 0, 0
    with open(events_path, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            if not line.strip():
                continue
            count += 1
            try:
                event = json.loads(line)
            except json.JSONDecodeError as e:
                print(f"line {n}: not JSON: {e}")
                failures += 1
                continue
            for err in validator.validate(event):
                print(f"line {n}: {err}")
                failures += 1
    if failures:
        print(f"{failures} error(s) in {count} event(s) against OCSF {schema.version} {validator.class_caption}")
        return 1
    print(f"{count} event(s) valid against OCSF {schema.version} {validator.class_caption} ({validator.class_uid})")
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:4]))
