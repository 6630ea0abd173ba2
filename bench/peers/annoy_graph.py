"""cne 0.4's default kNN graph without running cne: Annoy (euclidean, 50 trees), each point's 16 nearest by
get_nns_by_item with the first (the point itself) dropped, binary and union-symmetrised, as cne's _cne.py builds
it. Saved with scipy.sparse.save_npz for `nembed cne --graph` (nembed's optimiser on cne's graph).
Usage: annoy_graph.py X.npy OUT.npz [K=15]. Prints the number of directed edges."""
import sys

import numpy as np
import scipy.sparse as sp
from annoy import AnnoyIndex

X = np.load(sys.argv[1]).astype(np.float32)
k = int(sys.argv[3]) if len(sys.argv) > 3 else 15
index = AnnoyIndex(X.shape[1], "euclidean")
for i, x in enumerate(X):
    index.add_item(i, x)
index.build(50)
rows, cols = [], []
for i in range(len(X)):
    nb = index.get_nns_by_item(i, k + 1)[1:]
    rows += [i] * len(nb)
    cols += nb
A = sp.coo_matrix((np.ones(len(rows)), (rows, cols)), shape=(len(X), len(X))).tocsr()
A = ((A + A.T) > 0).astype(np.float64)
sp.save_npz(sys.argv[2], A.tocsr())
print(A.nnz)
