#!/usr/bin/env python3
"""One table from compare.sh's bench.json files: per metric, the direct
path's value (median over the runs: each proxy's run measures it again) and
each proxy's ratio, proxy / direct. Markdown on stdout."""
import json
import statistics
import sys
from pathlib import Path

ORDER = ["reference-gateway", "envoy", "haproxy", "nginx"]

out = Path(sys.argv[1])
runs = {p.parent.name: json.loads(p.read_text()) for p in out.glob("*/bench.json")}
labels = [l for l in ORDER if l in runs] + sorted(set(runs) - set(ORDER))
metrics = []
for label in labels:
    for r in runs[label]["ratios"]:
        if r["metric"] not in metrics:
            metrics.append(r["metric"])

def cell(label, metric):
    for r in runs[label]["ratios"]:
        if r["metric"] == metric:
            mark = " (ceiling)" if r["atCeiling"] else ""
            if r["ratio"] is None:  # JSON has no infinity: loss through a lossless direct path
                return f"{r['gateway']:.1f} vs 0"
            return f"{r['ratio']:.3f}{mark}"
    return "n/a"

print("| metric | direct | " + " | ".join(labels) + " |")
print("|---|---:|" + "---:|" * len(labels))
for m in metrics:
    directs = [r["direct"] for l in labels for r in runs[l]["ratios"] if r["metric"] == m]
    # Each proxy run measures the direct path again: its median is the reference.
    print(f"| {m} | {statistics.median(directs):.1f} | " + " | ".join(cell(l, m) for l in labels) + " |")

def split(label):
    s = runs[label].get("split")
    if not s:
        return "n/a"
    v = s["verdict"]
    shares = "/".join(f"{b['share'] * 100:.1f}" for b in v["backends"])
    p = v.get("pValue")
    verdict = "pass" if v["passed"] else "FAIL"
    return f"{shares} (n={v['n']}, p={p:.3f}, {verdict})" if p is not None else f"{shares} ({verdict})"

def memory(label):
    m = runs[label].get("memory")
    return f"{m['perConnectionKib']:.1f}" if m else "n/a"

print("| TCP split v1/v2 % (70/30 expected) | | " + " | ".join(split(l) for l in labels) + " |")
print("| RSS per idle TCP connection (KiB) | | " + " | ".join(memory(l) for l in labels) + " |")
print("| load average at end of run | | " + " | ".join(runs[l].get("loadAverage") or "" for l in labels) + " |")
