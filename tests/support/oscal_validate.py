#!/usr/bin/env python3
"""Validates an OSCAL assessment-results document (JSON) with compliance-trestle's
OSCAL models (trestle.oscal.assessment_results.AssessmentResults, loaded the way trestle
reads a file: AssessmentResults.oscal_read), then checks what the models do not: every
related observation exists, and import-ap points at a back-matter resource.

    python3 oscal_validate.py FILE.json

Prints the counts (results, findings, observations) and exits 0, or prints the errors
and exits 1.
"""
import pathlib
import sys

import trestle.oscal
from trestle.oscal.assessment_results import AssessmentResults


def main(path):
    try:
        doc = AssessmentResults.oscal_read(pathlib.Path(path))
    except Exception as e:  # pydantic's ValidationError, or a file trestle cannot read
        print(f"not valid OSCAL {trestle.oscal.OSCAL_VERSION} assessment-results: {e}")
        return 1
    if doc is None:
        print(f"{path}: trestle read nothing")
        return 1
    errors = []
    resources = {r.uuid for r in (doc.back_matter.resources if doc.back_matter else []) or []}
    href = doc.import_ap.href
    if not (href.startswith("#") and href[1:] in resources):
        errors.append(f"import-ap href {href} is not a back-matter resource")
    findings = observations = 0
    for result in doc.results:
        seen = {o.uuid for o in result.observations or []}
        observations += len(seen)
        for f in result.findings or []:
            findings += 1
            for r in f.related_observations or []:
                if r.observation_uuid not in seen:
                    errors.append(f"finding {f.uuid}: related observation {r.observation_uuid} is not in the result")
    if errors:
        print("\n".join(errors))
        return 1
    print(f"valid OSCAL {trestle.oscal.OSCAL_VERSION} assessment-results: "
          f"{len(doc.results)} result(s), {findings} finding(s), {observations} observation(s)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
