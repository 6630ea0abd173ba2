"""Writes the scipy.sparse.save_npz fixtures of tests/io/test_io_load.cpp (LoadSparse): one 4 x 5 matrix as CSR
(compressed), CSC (stored) and COO with a duplicate entry (summed on load), and a 12-point ring graph (each point joined to the next two)
for the `nembed cne --graph` CLI test."""
import numpy as np
import scipy.sparse as sp

M = np.array([[0, 1.5, 0, 0, 2], [0, 0, 0, 0, 0], [3, 0, 0, -1, 0], [0, 0, 4.25, 0, 0]])
sp.save_npz("sparse_csr.npz", sp.csr_matrix(M), compressed=True)
sp.save_npz("sparse_csc.npz", sp.csc_matrix(M), compressed=False)
coo = sp.coo_matrix(M)
row = np.append(coo.row, 0)
col = np.append(coo.col, 1)
data = np.append(coo.data, 0.5)  # (0, 1) twice: 1.5 + 0.5
data[list(zip(coo.row, coo.col)).index((0, 1))] = 1.0
sp.save_npz("sparse_coo.npz", sp.coo_matrix((data, (row, col)), shape=M.shape))

rng = np.random.default_rng(0)
np.save("cne_graph_X.npy", rng.normal(size=(12, 3)).astype(np.float32))
ring = sp.lil_matrix((12, 12))
for i in range(12):
    for j in (1, 2):
        ring[i, (i + j) % 12] = ring[(i + j) % 12, i] = 1
sp.save_npz("cne_graph_ring.npz", ring.tocsr())
