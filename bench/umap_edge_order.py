"""Why the order of UMAP's updates matters on small graphs (docs/core.md §6.1, "Edge order").

From umap-learn's supervised iris graph and its own spectral start (the setting of umap-learn's
test_umap_clusterability_on_supervised_iris), the same 200 epochs in five orders, KMeans(3) ARI per seed:
umap-learn's optimize_layout_euclidean (serial, in place, move_other); the row order with snapshot tails (nembed's
EdgeOrder::rows: mode 0); the row order with live tails (mode 1); umap-learn's edge order with other negative draws
(nembed's EdgeOrder::edges: mode 2); the row order pulling each neighbour once (mode 3). A numba re-implementation
of the orders, so it runs in the bench venv without nembed:
    /work/.venv-bench/bin/python bench/umap_edge_order.py 8
"""
import sys, warnings
import numpy as np, numba
from sklearn.cluster import KMeans
from sklearn.datasets import load_iris
from sklearn.metrics import adjusted_rand_score
warnings.filterwarnings("ignore")
import umap
from umap.spectral import spectral_layout
from umap.umap_ import find_ab_params, make_epochs_per_sample
from umap.layouts import optimize_layout_euclidean

iris = load_iris()
def ari(e):
    return np.mean([adjusted_rand_score(KMeans(3, random_state=r, n_init=1).fit_predict(e), iris.target) for r in range(5)])

@numba.njit
def clip(v):
    return 4.0 if v > 4.0 else (-4.0 if v < -4.0 else v)

@numba.njit
def epoch_snapshot(Y, indptr, indices, eps, nexts, epns, nextn, a, b, gamma, alpha, n, seed, mode):
    # mode 0: nembed (rows, snapshot tails, mirrored attraction in row); 1: in place, rows, mirrored in row (live tails)
    N = Y.shape[0]
    T = Y.copy()
    for i in range(N):
        y = Y[i].copy()
        for p in range(indptr[i], indptr[i+1]):
            if nexts[p] > n: continue
            j = indices[p]
            src = T if (mode == 0 or mode == 3) else Y
            for rep in range(1 if mode == 3 else 2):
                d2 = (y[0]-src[j,0])**2 + (y[1]-src[j,1])**2
                if d2 > 0:
                    c = -2.0*a*b*d2**(b-1.0)/(a*d2**b+1.0)
                else:
                    c = 0.0
                if mode == 2:
                    for k in range(2):
                        gd = clip(c*(y[k]-Y[j,k]))
                        y[k] += gd*alpha
                        Y[j,k] -= gd*alpha
                    break
                for k in range(2):
                    y[k] += clip(c*(y[k]-src[j,k]))*alpha
            nexts[p] += eps[p]
            nn = int((n - nextn[p]) / epns[p])
            for t in range(nn):
                kk = np.random.randint(N)
                if kk == i: continue
                d2 = (y[0]-src[kk,0])**2 + (y[1]-src[kk,1])**2
                if d2 <= 0: continue
                c = 2.0*gamma*b/((0.001+d2)*(a*d2**b+1))
                for k in range(2):
                    y[k] += clip(c*(y[k]-src[kk,k]))*alpha
            nextn[p] += nn*epns[p]
        Y[i] = y

def run(graph, start, mode, seed, a, b, n_epochs=200, rate=5):
    g = graph.tocsr().copy()
    g.data[g.data < g.data.max()/n_epochs] = 0
    g.eliminate_zeros()
    Y = start.copy()
    if mode == "umap":
        c = g.tocoo(); Y = Y.astype(np.float32)
        eps = make_epochs_per_sample(c.data, n_epochs)
        rs = np.random.RandomState(seed).randint(np.iinfo(np.int32).min + 1, np.iinfo(np.int32).max - 1, 3).astype(np.int64)
        return optimize_layout_euclidean(Y, Y, c.row, c.col, n_epochs, Y.shape[0], eps, a, b, rs, 1.0, 1.0, rate, parallel=False, move_other=True)
    eps = make_epochs_per_sample(g.data, n_epochs)
    nexts = eps.copy(); epns = eps/rate; nextn = epns.copy()
    np.random.seed(seed)
    for n in range(n_epochs):
        alpha = 1.0 - n/n_epochs
        epoch_snapshot(Y, g.indptr, g.indices, eps, nexts, epns, nextn, a, b, 1.0, alpha, n, seed, mode)
    return Y

a, b = find_ab_params(1.0, 0.01)
res = []
for seed in range(int(sys.argv[1])):
    u = umap.UMAP(random_state=seed, n_neighbors=10, min_dist=0.01, n_epochs=200).fit(iris.data, iris.target)
    rs = np.random.RandomState(seed)
    start = spectral_layout(iris.data, u.graph_, 2, rs)
    start = (start * (10.0 / np.abs(start).max()) + rs.normal(scale=0.0001, size=start.shape)).astype(np.float64)
    r = [ari(run(u.graph_, start, "umap", seed, a, b)), ari(run(u.graph_, start, 0, seed, a, b)), ari(run(u.graph_, start, 1, seed, a, b)), ari(run(u.graph_, start, 2, seed, a, b)), ari(run(u.graph_, start, 3, seed, a, b))]
    res.append(r); print(seed, r, flush=True)
print("mean ARI  umap-learn / rows+snapshot / rows+live / edges / rows, one pull:", np.round(np.mean(res, 0), 3))
