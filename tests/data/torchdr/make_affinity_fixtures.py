"""Reference affinities from TorchDR 0.5 for tests/affinity/test_torchdr_affinity.cpp.

Run with a Python that has torch and torchdr 0.5:  python make_affinity_fixtures.py
Writes affinities.npz: X (float32-exact data, 30 x 4) and, for each case, the dense N x N affinity in float64
(sparse TorchDR outputs scattered into a dense matrix, zeros elsewhere).
"""
import numpy as np
import torch

import torchdr
from torchdr import (EntropicAffinity, SymmetricEntropicAffinity, SinkhornAffinity, UMAPAffinity,
                     NormalizedGaussianAffinity, NormalizedStudentAffinity, SelfTuningAffinity, MAGICAffinity)

assert torchdr.__version__.startswith("0.5"), torchdr.__version__
torch.set_default_dtype(torch.float64)
rng = np.random.default_rng(7)
n, d = 30, 4
X = (np.round(rng.normal(size=(n, d)) * 64) / 64).astype(np.float32)  # exact in float32, also after + 1e6
Xt = torch.tensor(X.astype(np.float64))


def dense(values, indices):
    P = np.zeros((n, n))
    v, idx = values.numpy(), indices.numpy()
    for i in range(v.shape[0]):
        for t in range(v.shape[1]):
            P[i, idx[i, t]] += v[i, t]
    return P


out = {"X": X}
for perp in (5, 10):
    P, idx = EntropicAffinity(perplexity=perp)(Xt)
    out[f"ea_perp{perp}"] = dense(P, idx)
ea = EntropicAffinity(perplexity=5, sparsity=False, metric="manhattan")
out["ea_dense_manhattan"] = ea(Xt)[0].numpy()
sea = SymmetricEntropicAffinity(perplexity=5)
out["sea_perp5"] = sea(Xt).numpy()
out["sea_perp5_n_iter"] = np.array(int(sea.n_iter_))
sea = SymmetricEntropicAffinity(perplexity=8, eps_square=False, lr=0.05, zero_diag=False)
out["sea_perp8_noeps2"] = sea(Xt).numpy()
sk = SinkhornAffinity(eps=2.0)
out["sinkhorn_eps2"] = sk(Xt).numpy()
sk = SinkhornAffinity(base_kernel="student", max_iter=5)
out["sinkhorn_student_5"] = sk(Xt).numpy()
out["sinkhorn_student_5_warm"] = sk(Xt * 1.5, init_dual=sk.dual_.clone()).numpy()
P, idx = UMAPAffinity(n_neighbors=8)(Xt)
out["umap_nn8"] = dense(P, idx)
P, idx = UMAPAffinity(n_neighbors=8, metric="euclidean", symmetrize=False)(Xt)
out["umap_nn8_euclidean_directed"] = dense(P, idx)
out["gauss_sigma3"] = NormalizedGaussianAffinity(sigma=3.0)(Xt).numpy()
out["gauss_sigma3_dim1"] = NormalizedGaussianAffinity(sigma=3.0, normalization_dim=1)(Xt).numpy()
out["student_dof2_dim0"] = NormalizedStudentAffinity(degrees_of_freedom=2.0, normalization_dim=0)(Xt).numpy()
out["selftuning_k7"] = SelfTuningAffinity()(Xt).numpy()
out["magic_k5_euclidean"] = MAGICAffinity(K=5, metric="euclidean")(Xt).numpy()
np.savez("affinities.npz", **out)
print({k: v.shape for k, v in out.items()})
