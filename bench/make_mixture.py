#!/usr/bin/env python3
"""A Gaussian mixture for the scale benchmarks (issue #21 item 3): N points in D dimensions, C clusters.

Cluster centres are drawn once from N(0, 5^2 I) (seeded), cluster sizes are equal up to one point, each point is its
centre plus N(0, I) noise, the rows are shuffled; float32, written as .npy with the labels beside it (int32). The
same (N, D, C, seed) gives the same bytes, and the first n rows of a larger set are not a smaller set (rows are
shuffled per N), so each size is generated on its own.

Usage: make_mixture.py N OUT.npy [--dims 50] [--clusters 100] [--seed 0]   (labels to OUT_labels.npy)
"""
import argparse

import numpy as np


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("n", type=int)
    ap.add_argument("out")
    ap.add_argument("--dims", type=int, default=50)
    ap.add_argument("--clusters", type=int, default=100)
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args()
    if a.n < a.clusters or a.dims < 1 or a.clusters < 1:
        ap.error("need n >= clusters >= 1 and dims >= 1")
    rng = np.random.default_rng([a.seed, a.n, a.dims, a.clusters])
    centres = rng.normal(0.0, 5.0, size=(a.clusters, a.dims)).astype(np.float32)
    labels = (np.arange(a.n) % a.clusters).astype(np.int32)
    rng.shuffle(labels)
    X = np.empty((a.n, a.dims), dtype=np.float32)
    step = 100_000  # in blocks: the float64 noise of a million rows would take 400 MB
    for s in range(0, a.n, step):
        e = min(a.n, s + step)
        X[s:e] = centres[labels[s:e]] + rng.standard_normal((e - s, a.dims), dtype=np.float32)
    np.save(a.out, X)
    np.save(a.out[:-4] + "_labels.npy" if a.out.endswith(".npy") else a.out + "_labels.npy", labels)


if __name__ == "__main__":
    main()
