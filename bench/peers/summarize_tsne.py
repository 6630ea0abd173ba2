"""Summarises bench/bench_tsne.sh's output folder as Markdown: median wall time over the repeats, ratio to
openTSNE, peak RSS, time per 50 iterations (first and last, median over repeats), and the quality of run 1 as
scored by `nembed evaluate` (same P, same metrics for every tool).
Usage: summarize_tsne.py OUT_DIR"""
import json
import re
import statistics as st
import sys
from pathlib import Path

out = Path(sys.argv[1])


def rss_mb(path):
    m = re.search(r"Maximum resident set size \(kbytes\): (\d+)", path.read_text())
    return int(m.group(1)) / 1024 if m else float("nan")


def runs(tool):
    res = []
    for t in sorted(out.glob(f"{tool}_*.time")):
        r = t.stem.split("_")[-1]
        if tool == "fitsne":
            log = (out / f"fitsne_{r}.log").read_text()
            sec = json.loads(log.strip().splitlines()[-1])["seconds"]
            per50 = [float(x) for x in re.findall(r"50 iterations in ([0-9.]+) seconds", log)]
        else:
            j = json.loads((out / f"{tool}_{r}.json").read_text())
            sec, per50 = j["seconds"], j.get("per50", [])
        res.append({"seconds": sec, "rss": rss_mb(t), "per50": per50})
    return res


rows = {}
for tool, name in [("nembed", "nembed"), ("opentsne", "openTSNE 1.0.4 (FFTW)"), ("fitsne", "FIt-SNE 1.2.1 (FFTW)")]:
    r = runs(tool)
    if not r:
        continue
    q = {}
    m = out / f"{tool}_1_metrics.json"
    if m.exists():
        q = json.loads(m.read_text())
    rows[tool] = dict(name=name, n=len(r), sec=st.median(x["seconds"] for x in r),
                      secs=[round(x["seconds"], 1) for x in r], rss=st.median(x["rss"] for x in r),
                      first=st.median(x["per50"][0] for x in r if x["per50"]) if any(x["per50"] for x in r) else float("nan"),
                      last=st.median(x["per50"][-1] for x in r if x["per50"]) if any(x["per50"] for x in r) else float("nan"),
                      q=q)
base = rows.get("opentsne", {}).get("sec")
print("| tool | runs | wall s (median; all) | / openTSNE | peak RSS MB | s per 50 it. first → last | KL | kNN recall@10 | 10-NN acc. |")
print("|---|---|---|---|---|---|---|---|---|")
for r in rows.values():
    q = r["q"]
    ratio = f"{r['sec'] / base:.2f}" if base else "–"
    print(f"| {r['name']} | {r['n']} | {r['sec']:.1f} ({', '.join(map(str, r['secs']))}) | {ratio} | {r['rss']:.0f} | "
          f"{r['first']:.2f} → {r['last']:.2f} | {q.get('kl_divergence', float('nan')):.4f} | "
          f"{q.get('knn_recall', float('nan')):.4f} | {q.get('knn_accuracy', float('nan')):.4f} |")
