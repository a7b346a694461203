#!/usr/bin/env python3
"""Compares one Autobahn report with the checked-in expectations; prints one summary line.

usage: autobahn_check.py RUN AGENT REPORT_INDEX_JSON EXPECTED_JSON CASES_JSON [EXCLUDE_JSON]

The summary line counts the cases by behaviour, and by section for 12-13 (permessage-deflate).
"""
import fnmatch
import json
import sys
from collections import Counter

run, agent, index_path, expected_path, cases_json = sys.argv[1:6]
patterns = json.loads(cases_json)
excluded = json.loads(sys.argv[6]) if len(sys.argv) > 6 else []
with open(expected_path) as f:
    expected_doc = json.load(f)
expected = {
    case: want
    for case, want in expected_doc["cases"].items()
    if any(fnmatch.fnmatchcase(case, p) for p in patterns)
    and not any(fnmatch.fnmatchcase(case, p) for p in excluded)
}
try:
    with open(index_path) as f:
        report = json.load(f).get(agent, {})
except FileNotFoundError:
    report = {}

counts = Counter()
problems = []
for case, result in report.items():
    behavior, close = result["behavior"], result["behaviorClose"]
    counts[behavior] += 1
    want = expected.get(case)
    if behavior in ("FAILED", "NON-STRICT") or close in ("FAILED", "NON-STRICT"):
        problems.append(f"{case}: {behavior}/{close}")
    elif want is None:
        problems.append(f"{case}: not in the expectations")
    elif behavior != want["behavior"]:
        problems.append(f"{case}: {behavior}, expected {want['behavior']}")
missing = sorted(set(expected) - set(report), key=lambda c: [int(x) for x in c.split(".")])
if missing:
    problems.append(f"{len(missing)} expected cases missing from the report, from {missing[0]}")

summary = ", ".join(f"{n} {b}" for b, n in sorted(counts.items()))
deflate = Counter(
    result["behavior"]
    for case, result in report.items()
    if case.split(".")[0] in ("12", "13")
)
if deflate:
    summary += "; sections 12-13: " + ", ".join(f"{n} {b}" for b, n in sorted(deflate.items()))
verdict = "ok" if not problems else "FAILED"
print(f"autobahn {run}: {verdict}: {len(report)} cases ({summary or 'none'})")
for p in problems[:20]:
    print(f"    {p}")
if len(problems) > 20:
    print(f"    ... and {len(problems) - 20} more")
sys.exit(0 if not problems else 1)
