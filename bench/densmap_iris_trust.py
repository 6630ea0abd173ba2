"""Trustworthiness of densMAP on iris (umap-learn's test_densmap_trustworthiness_on_iris settings) over seeds.

Usage: python bench/densmap_iris_trust.py {nembed|umap} [n_seeds]. Prints one line per seed and the distribution, so
that a pass at random_state=42 can be told from seed luck (issue #21).
"""
import sys

import numpy as np
from sklearn.datasets import load_iris
from sklearn.manifold import trustworthiness

which = sys.argv[1]
n = int(sys.argv[2]) if len(sys.argv) > 2 else 20
if which == "nembed":
    from nembed.umap import UMAP
else:
    from umap import UMAP
X = load_iris().data
ts = []
for seed in [42] + list(range(n - 1)):
    emb = UMAP(n_neighbors=10, min_dist=0.01, random_state=seed, densmap=True).fit(X).embedding_
    ts.append(trustworthiness(X, emb, n_neighbors=10))
    print(f"{which} seed {seed}: {ts[-1]:.4f}", flush=True)
ts = np.array(ts)
print(f"{which}: n={len(ts)} median {np.median(ts):.4f} min {ts.min():.4f} max {ts.max():.4f} "
      f"frac>=0.97 {np.mean(ts >= 0.97):.2f}")
