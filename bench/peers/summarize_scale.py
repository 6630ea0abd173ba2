"""Summary of bench/bench_scale.sh: per tool, method and N the wall and CPU seconds, peak RSS, nembed's phases and
its seconds per 50 t-SNE iterations (first, median, last: flat as the map expands?), then the log-log slope of
CPU seconds against N between consecutive sizes. Usage: summarize_scale.py OUT_DIR"""
import glob
import json
import math
import os
import re
import statistics
import sys

out = sys.argv[1]


def parse_time(path):
    t = {}
    for line in open(path):
        line = line.strip()
        if line.startswith("User time"):
            t["user"] = float(line.split()[-1])
        elif line.startswith("System time"):
            t["sys"] = float(line.split()[-1])
        elif line.startswith("Maximum resident"):
            t["rss_gb"] = int(line.split()[-1]) / 1024**2
        elif line.startswith("Elapsed"):
            parts = [float(p) for p in line.split()[-1].split(":")]
            t["wall"] = sum(p * 60**i for i, p in enumerate(reversed(parts)))
        elif line.startswith("Exit status"):
            t["status"] = int(line.split()[-1])
    return t


rows = []
for path in sorted(glob.glob(os.path.join(out, "*.time"))):
    name = os.path.basename(path)[:-5]
    m = re.fullmatch(r"(nembed_tsne|nembed_umap|opentsne|umap_learn)_(\d+)", name)
    if not m:
        continue
    tool, n = m.group(1), int(m.group(2))
    t = parse_time(path)
    if t.get("status", 1) != 0:
        continue
    r = {"tool": tool, "n": n, **t, "cpu": t.get("user", 0) + t.get("sys", 0)}
    js = os.path.join(out, name + ".json")
    if os.path.exists(js):
        d = json.load(open(js))
        r["phases"] = {k: round(d[k], 2) for k in ("knn", "affinities", "graph", "init", "early_exaggeration", "main",
                                                  "optimize") if k in d}
        if d.get("per50"):
            p = d["per50"]
            r["per50"] = (round(p[0], 2), round(statistics.median(p), 2), round(p[-1], 2))
    rows.append(r)
rows.sort(key=lambda r: (r["tool"], r["n"]))
print("| tool | N | wall s | CPU s | peak RSS GB | phases (s) | s per 50 it. (first, median, last) |")
print("|---|---|---|---|---|---|---|")
for r in rows:
    print(f"| {r['tool']} | {r['n']} | {r.get('wall', 0):.1f} | {r['cpu']:.1f} | {r.get('rss_gb', 0):.2f} | "
          f"{r.get('phases', '')} | {r.get('per50', '')} |")
print()
for tool in sorted({r["tool"] for r in rows}):
    rs = [r for r in rows if r["tool"] == tool]
    slopes = [f"{a['n']}->{b['n']}: {math.log(b['cpu'] / a['cpu']) / math.log(b['n'] / a['n']):.2f}"
              for a, b in zip(rs, rs[1:]) if a["cpu"] > 0 and b["cpu"] > 0]
    if slopes:
        print(f"{tool}: log-log slope of CPU seconds vs N: " + ", ".join(slopes))
